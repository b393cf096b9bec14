/**
 * The host's frame codec and mux client against hostile bytes: what the guest (through the
 * init shim) sends is untrusted. A seeded fuzz of the decoder, and muxRequest against a unix
 * socket that answers with junk, out of order, or floods.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  FrameDecoder,
  FrameLengthError,
  FrameType,
  MAX_LENGTH,
  encodeFrame,
  encodeJsonFrame,
  frameProblem,
  type Frame,
} from '../../runtime/src/agent/frames.js';
import { muxRequest } from '../../runtime/src/mux.js';
import { RuntimeError } from '../../runtime/src/errors.js';
import { seeded } from '../support/random.js';

const dir = mkdtempSync(join(tmpdir(), 'vmrt-frames-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Cuts bytes into chunks of random sizes, as a socket delivers them. */
function chunks(g: ReturnType<typeof seeded>, bytes: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0; at < bytes.length;) {
    const size = g.between(1, g.pick([3, 64, 70000]));
    out.push(bytes.subarray(at, at + size));
    at += size;
  }
  return out;
}

test('the decoder gives back every frame whole, however the bytes are cut', () => {
  const g = seeded(7);
  const sent: Frame[] = [];
  for (let i = 0; i < 300; i++) {
    const payload = Buffer.from(Array.from({ length: g.pick([0, 1, 9, 4000, 70000]) }, () => g.between(0, 255)));
    sent.push({ version: 1, type: g.between(0, 255), stream: g.next() * 2, payload });
  }
  const decoder = new FrameDecoder();
  const got = chunks(g, Buffer.concat(sent.map((f) => encodeFrame(f.type, f.stream, f.payload)))).flatMap((c) => decoder.push(c));
  assert.deepEqual(got, sent);
});

test('random bytes: the decoder returns frames within the size limit or throws FrameLengthError, nothing else', () => {
  const g = seeded(11);
  for (let round = 0; round < 200; round++) {
    const decoder = new FrameDecoder();
    const bytes = Buffer.from(Array.from({ length: g.between(0, 5000) }, () => g.between(0, 255)));
    // Lengths that pass the check half the time: a plausible first byte.
    if (bytes.length > 0 && g.between(0, 1) === 0) bytes[0] = 0;
    try {
      for (const c of chunks(g, bytes)) {
        for (const frame of decoder.push(c)) {
          assert.ok(frame.payload.length <= MAX_LENGTH);
          // The problem check never throws either: it is what receivers call on every frame.
          frameProblem(frame);
        }
      }
    } catch (err) {
      assert.ok(err instanceof FrameLengthError, String(err));
    }
  }
  const decoder = new FrameDecoder();
  assert.throws(() => decoder.push(Buffer.from([0xff, 0xff, 0xff, 0xff])), FrameLengthError);
  assert.deepEqual(decoder.push(Buffer.from([0, 0, 0])), [], 'after the error it starts afresh');
});

test('frameProblem names junk in control frames', () => {
  const frame = (type: number, payload: string, version = 1): Frame => ({ version, type, stream: 1, payload: Buffer.from(payload) });
  assert.equal(frameProblem(frame(FrameType.RESPONSE, '{"ok":true}')), undefined);
  assert.equal(frameProblem(frame(FrameType.STDOUT, '\u0000\uffff')), undefined);
  assert.equal(frameProblem(frame(FrameType.RESPONSE, '{"ok":')), 'payload is not JSON');
  assert.equal(frameProblem(frame(FrameType.RESPONSE, '[true]')), 'payload is not one JSON object');
  assert.equal(frameProblem(frame(FrameType.EXIT, 'null')), 'payload is not one JSON object');
  assert.equal(frameProblem(frame(0x7f, '')), 'unknown frame type 0x7f');
  assert.equal(frameProblem(frame(FrameType.RESPONSE, '{}', 2)), 'unsupported protocol version 2');
});

let sockets = 0;
/** A mux.sock stand-in that answers the first request with `reply(stream)` and lets muxRequest see it. */
async function askHostile(reply: (socket: Socket, stream: number) => void, timeoutMs = 5000): Promise<unknown> {
  const path = join(dir, `mux${sockets++}.sock`);
  const server: Server = createServer((socket) => {
    const decoder = new FrameDecoder();
    socket.on('error', () => undefined);
    socket.on('data', (c: Buffer) => {
      for (const frame of decoder.push(c)) if (frame.type === FrameType.REQUEST) reply(socket, frame.stream);
    });
  });
  await new Promise<void>((resolve) => server.listen(path, resolve));
  try {
    return await muxRequest(path, { op: 'state' }, timeoutMs).then(
      (response) => response,
      (err: unknown) => err,
    );
  } finally {
    server.close();
  }
}

test('muxRequest turns every hostile answer into a RuntimeError or the right answer, never a crash', async () => {
  const errorOf = async (reply: (socket: Socket, stream: number) => void, timeoutMs?: number) => {
    const result = await askHostile(reply, timeoutMs);
    assert.ok(result instanceof RuntimeError, `a RuntimeError, got ${String(result)}`);
    return result.message;
  };
  assert.equal(
    await errorOf((s, stream) => s.write(encodeFrame(FrameType.RESPONSE, stream, Buffer.from('{"ok":tru')))),
    'bad answer to "state" from the VM: payload is not JSON',
  );
  assert.equal(
    await errorOf((s, stream) => s.write(encodeFrame(FrameType.RESPONSE, stream, Buffer.from('[1]')))),
    'bad answer to "state" from the VM: payload is not one JSON object',
  );
  assert.equal(
    await errorOf((s, stream) => s.write(encodeJsonFrame(FrameType.RESPONSE, stream, { ok: 'yes', error: { nested: true } }))),
    '"state" failed in the VM',
  );
  assert.match(
    await errorOf((s) => s.write(Buffer.from([0xff, 0xff, 0xff, 0xff, 1, 3]))),
    /^bad frame from the VM: frame length 4294967295/,
  );
  assert.equal(await errorOf((s) => s.end(Buffer.from([0, 0, 0, 20, 1, 3]))), 'the VM closed the connection before answering "state"');
  assert.equal(
    await errorOf((s) => s.write(encodeJsonFrame(FrameType.RESPONSE, 99, { ok: true })), 500),
    'no answer to "state" from the VM within 0.5 s',
  );
  // Out of order and flooded: answers for other streams, output, junk types, then the answer.
  const g = seeded(5);
  const answer = await askHostile((s, stream) => {
    for (let i = 0; i < 2000; i++) {
      const type = g.pick([FrameType.RESPONSE, FrameType.STDOUT, FrameType.EXIT, FrameType.EVENT, 0x7f]);
      s.write(encodeFrame(type, stream + g.between(1, 5), Buffer.from(g.pick(['{"ok":true,"containers":[1]}', '{', 'junk']))));
    }
    s.write(encodeFrame(FrameType.STDOUT, stream, Buffer.alloc(1024 * 1024)));
    s.write(encodeJsonFrame(FrameType.RESPONSE, stream, { ok: true, containers: [] }));
  });
  assert.deepEqual(answer, { ok: true, containers: [] });
});
