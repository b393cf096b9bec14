/**
 * A stand-in for the vmrt guest agent, for host-side tests: it listens on a unix socket as
 * QEMU serves the agent's virtio-serial port, and speaks runtime/PROTOCOL.md to the one host
 * connection (HELLO, create/start/exec/signal/ps/state/shutdown, stdio, RESIZE, SIGNAL, EXIT).
 *
 * Its processes are tiny scripts chosen by `process.args`:
 *   ["echo"]                      copies STDIN to STDOUT; STDIN_CLOSE ends it with status 0
 *   ["print", out, err, status]   writes out to STDOUT, err to STDERR, exits with status
 *   ["bulk", bytes]               writes `bytes` bytes of bulkByte(i) to STDOUT, exits 0
 *   ["exit", status]              exits with status
 *   ["die", signal]               dies by that signal (status 128+signal)
 *   ["wait"]                      runs until SIGNAL 9 or 15, which kill it
 * SIGNAL 9 or 15 kills a process that has not ended (as the default disposition would, also
 * before `start`); other signals are only recorded. The init process (create) runs its script
 * on `start` (STDIN and STDIN_CLOSE that come earlier wait for it, as the agent buffers
 * them); exec processes run at once. When the init process ends, the exec processes die by
 * SIGKILL, as they do in the guest's pid namespace.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { rmSync } from 'node:fs';
import { FrameDecoder, FrameType, encodeFrame, encodeJsonFrame, frameProblem, type Frame } from '../../runtime/src/agent/frames.js';

export interface ReceivedFrame extends Frame {
  /** The parsed payload of a JSON frame (undefined for data frames or malformed ones). */
  json?: Record<string, unknown>;
}

interface FakeProcess {
  stream: number;
  args: string[];
  pid: number;
  running: boolean;
  ended: boolean;
  /** Created by `create`: the container's init. */
  init: boolean;
  /** STDIN and STDIN_CLOSE that arrived before `start`, as the agent buffers them. */
  early: Frame[];
}

/** Byte i of a "bulk" output. */
export function bulkByte(i: number): number {
  return (i * 7 + (i >> 10)) & 0xff;
}

const DATA_CHUNK = 65536;

export class FakeAgent {
  /** Every frame the host sent, in order. */
  readonly received: ReceivedFrame[] = [];
  /** Answer `create` with this error instead of creating. */
  createError: string | undefined;
  /** false: `create` makes its process but the test sends the RESPONSE itself (respondTo). */
  answerCreate = true;
  private readonly server: Server;
  private socket: Socket | undefined;
  private readonly processes = new Map<number, FakeProcess>();
  private nextPid = 100;
  private readonly waiters: { match: (f: ReceivedFrame) => boolean; resolve: (f: ReceivedFrame) => void }[] = [];
  private connectionWaiters: (() => void)[] = [];

  private constructor(readonly path: string) {
    this.server = createServer((socket) => this.accept(socket));
  }

  static async listen(path: string): Promise<FakeAgent> {
    const agent = new FakeAgent(path);
    await new Promise<void>((resolve, reject) => {
      agent.server.once('error', reject);
      agent.server.listen(path, () => resolve());
    });
    return agent;
  }

  /** Resolves once a host is connected. */
  connected(): Promise<void> {
    if (this.socket) return Promise.resolve();
    return new Promise((resolve) => this.connectionWaiters.push(resolve));
  }

  /** Resolves with the first received frame (past or future) that matches. */
  waitFor(match: (f: ReceivedFrame) => boolean, what: string, timeoutMs = 10000): Promise<ReceivedFrame> {
    const seen = this.received.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`fake agent: no ${what} within ${timeoutMs} ms`)), timeoutMs);
      this.waiters.push({
        match,
        resolve: (f) => {
          clearTimeout(timer);
          resolve(f);
        },
      });
    });
  }

  /** Frames of a type the host sent, optionally for one stream. */
  framesOf(type: number, stream?: number): ReceivedFrame[] {
    return this.received.filter((f) => f.type === type && (stream === undefined || f.stream === stream));
  }

  /** The agent-side stream of the process started by the request whose payload has op and args[0]. */
  streamOf(op: 'create' | 'exec', firstArg?: string): number | undefined {
    const request = this.received.find((f) => {
      if (f.type !== FrameType.REQUEST || f.json?.op !== op) return false;
      if (firstArg === undefined) return true;
      const process = (op === 'create' ? (f.json.spec as { process?: unknown })?.process : f.json.process) as
        { args?: string[] } | undefined;
      return process?.args?.[0] === firstArg;
    });
    return request?.stream;
  }

  /** Sends bytes as they are (for malformed frames). */
  sendRaw(bytes: Buffer): void {
    this.socket?.write(bytes);
  }

  send(type: number, stream: number, payload: Buffer = Buffer.alloc(0)): void {
    this.socket?.write(encodeFrame(type, stream, payload));
  }

  /** Sends the RESPONSE of a request (for a create held back by answerCreate = false). */
  respondTo(stream: number, response: Record<string, unknown>): void {
    this.respond(stream, response);
  }

  /** The VM dies: the host connection and the socket go away. */
  crash(): void {
    this.socket?.destroy();
    this.server.close();
  }

  async close(): Promise<void> {
    this.socket?.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    rmSync(this.path, { force: true });
  }

  private accept(socket: Socket): void {
    if (this.socket) {
      // A virtio-serial port has one host holder at a time.
      socket.destroy();
      return;
    }
    this.socket = socket;
    const decoder = new FrameDecoder();
    socket.on('data', (chunk: Buffer) => {
      let frames: Frame[];
      try {
        frames = decoder.push(chunk);
      } catch {
        socket.destroy();
        return;
      }
      for (const frame of frames) this.receive(frame);
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      if (this.socket === socket) this.socket = undefined;
    });
    socket.write(encodeJsonFrame(FrameType.HELLO, 0, { version: 1, kernel: 'fake', agent: 'fake-agent' }));
    for (const resolve of this.connectionWaiters.splice(0)) resolve();
  }

  private receive(frame: Frame): void {
    const problem = frameProblem(frame);
    const received: ReceivedFrame = { ...frame };
    if (!problem && frame.payload.length && frame.type !== FrameType.STDIN) {
      try {
        received.json = JSON.parse(frame.payload.toString('utf8')) as Record<string, unknown>;
      } catch {
        // data frames are not JSON
      }
    }
    this.received.push(received);
    for (let i = 0; i < this.waiters.length;) {
      if (this.waiters[i]!.match(received)) {
        this.waiters[i]!.resolve(received);
        this.waiters.splice(i, 1);
      } else {
        i++;
      }
    }
    if (problem) {
      this.respond(frame.stream, { ok: false, error: problem });
      return;
    }
    const json = received.json ?? {};
    const process = this.processes.get(frame.stream);
    if (process && !process.running && !process.ended && (frame.type === FrameType.STDIN || frame.type === FrameType.STDIN_CLOSE)) {
      process.early.push(frame);
      return;
    }
    this.act(frame, json, process);
  }

  private act(frame: Frame, json: Record<string, unknown>, process: FakeProcess | undefined): void {
    switch (frame.type) {
      case FrameType.REQUEST:
        this.request(frame.stream, json);
        break;
      case FrameType.STDIN:
        if (process?.running && process.args[0] === 'echo') this.output(process, FrameType.STDOUT, frame.payload);
        break;
      case FrameType.STDIN_CLOSE:
        if (process?.running && process.args[0] === 'echo') this.exit(process, 0, 0);
        break;
      case FrameType.SIGNAL: {
        const signal = Number(json.signal);
        if (process && !process.ended && (signal === 9 || signal === 15)) {
          this.exit(process, 128 + signal, signal);
        }
        break;
      }
      default:
        break;
    }
  }

  private request(stream: number, request: Record<string, unknown>): void {
    switch (request.op) {
      case 'create': {
        if (this.createError !== undefined) {
          this.respond(stream, { ok: false, error: this.createError });
          return;
        }
        const spec = request.spec as { process?: { args?: string[] } } | undefined;
        const process = this.addProcess(stream, spec?.process?.args ?? [], true);
        if (this.answerCreate) this.respond(stream, { ok: true, pid: process.pid });
        return;
      }
      case 'start': {
        const init = [...this.processes.values()].find((p) => p.init && !p.running && !p.ended);
        this.respond(stream, init ? { ok: true } : { ok: false, error: 'no created container' });
        if (init) this.run(init);
        return;
      }
      case 'exec': {
        const spec = request.process as { args?: string[] } | undefined;
        const process = this.addProcess(stream, spec?.args ?? [], false);
        this.respond(stream, { ok: true, pid: process.pid });
        this.run(process);
        return;
      }
      case 'signal':
      case 'shutdown':
        this.respond(stream, { ok: true });
        return;
      case 'state':
        this.respond(stream, { ok: true, containers: [] });
        return;
      default:
        this.respond(stream, { ok: false, error: `unknown op ${String(request.op)}` });
    }
  }

  private addProcess(stream: number, args: string[], init: boolean): FakeProcess {
    const process: FakeProcess = { stream, args, pid: this.nextPid++, running: false, ended: false, init, early: [] };
    this.processes.set(stream, process);
    return process;
  }

  private run(process: FakeProcess): void {
    process.running = true;
    const [command, ...rest] = process.args;
    switch (command) {
      case 'print':
        this.output(process, FrameType.STDOUT, Buffer.from(rest[0] ?? ''));
        this.output(process, FrameType.STDERR, Buffer.from(rest[1] ?? ''));
        this.exit(process, Number(rest[2] ?? 0), 0);
        return;
      case 'bulk': {
        const total = Number(rest[0]);
        const bytes = Buffer.alloc(total);
        for (let i = 0; i < total; i++) bytes[i] = bulkByte(i);
        this.output(process, FrameType.STDOUT, bytes);
        this.exit(process, 0, 0);
        return;
      }
      case 'exit':
        this.exit(process, Number(rest[0]), 0);
        return;
      case 'die':
        this.exit(process, 128 + Number(rest[0]), Number(rest[0]));
        return;
      default:
        // "echo" and "wait" react to frames
        for (const frame of process.early.splice(0)) this.act(frame, {}, process);
        return;
    }
  }

  private output(process: FakeProcess, type: number, bytes: Buffer): void {
    for (let off = 0; off < bytes.length; off += DATA_CHUNK) {
      this.send(type, process.stream, bytes.subarray(off, off + DATA_CHUNK));
    }
  }

  private exit(process: FakeProcess, status: number, signal: number): void {
    process.running = false;
    process.ended = true;
    this.socket?.write(encodeJsonFrame(FrameType.EXIT, process.stream, { status, signal }));
    if (process.init) {
      for (const other of this.processes.values()) if (!other.ended) this.exit(other, 137, 9);
    }
  }

  private respond(stream: number, response: Record<string, unknown>): void {
    this.socket?.write(encodeJsonFrame(FrameType.RESPONSE, stream, response));
  }
}
