/**
 * The host shim (runtime/build/vmrt-shim) against a fake agent on a unix socket: the ready
 * line, stdio, exit statuses, signals, the mux for exec shims and the CLI, the console socket,
 * malformed frames and a lost VM.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import {
  closeSync,
  constants,
  existsSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { Socket, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { FakeAgent, bulkByte } from '../support/fake-agent.js';
import { seeded } from '../support/random.js';
import { SHIM_MEMORY_BOUND_KIB, peakRssKiB as peakOf } from '../support/memory.js';
import { sleep, waitFor } from '../support/wait.js';
import { FrameDecoder, FrameType, encodeFrame, encodeJsonFrame, type Frame } from '../../runtime/src/agent/frames.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
/** VMRT_SHIM: another build of the shim under test (as the CLI honours it too). */
const SHIM = process.env.VMRT_SHIM ?? join(ROOT, 'runtime', 'build', 'vmrt-shim');
const CONSOLE_RECEIVER = join(ROOT, 'test', 'support', 'console-receiver.py');
/** The init shim's own process stream on the agent connection. */
const INIT_STREAM = 1;

interface ReadyLine {
  ok: boolean;
  pid?: number;
  error?: string;
}

interface ShimRun {
  child: ChildProcess;
  ready: Promise<ReadyLine>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stdout(): Buffer;
  stderr(): string;
}

interface StdioChoice {
  /** More pipes after the ready fd (fd 4, ...), as a leaking caller would pass them. */
  extraFds?: number;
  /** A descriptor of the test's own for the shim's fd 1 / fd 2 instead of a socket pair. */
  stdout?: number;
  stderr?: number;
}

/** Starts the shim with the ready line on fd 3 and stdio socket pairs (Node's pipes). */
function startShim(args: string[], choice: StdioChoice = {}): ShimRun {
  const child = spawn(SHIM, [...args, '--ready-fd', '3'], {
    stdio: ['pipe', choice.stdout ?? 'pipe', choice.stderr ?? 'pipe', 'pipe', ...Array<'pipe'>(choice.extraFds ?? 0).fill('pipe')],
  });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout?.on('data', (b: Buffer) => out.push(b));
  child.stderr?.on('data', (b: Buffer) => err.push(b));
  child.stdin!.on('error', () => undefined);
  const ready = new Promise<ReadyLine>((resolve, reject) => {
    let text = '';
    const readyPipe = child.stdio[3] as Readable;
    readyPipe.on('data', (b: Buffer) => {
      text += b.toString();
    });
    readyPipe.on('close', () => {
      const line = text.split('\n')[0];
      if (text.endsWith('\n') && line) resolve(JSON.parse(line) as ReadyLine);
      else reject(new Error(`no ready line (got ${JSON.stringify(text)}); stderr: ${Buffer.concat(err).toString()}`));
    });
  });
  ready.catch(() => undefined);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('close', (code, signal) => resolve({ code, signal })),
  );
  return { child, ready, exited, stdout: () => Buffer.concat(out), stderr: () => Buffer.concat(err).toString() };
}

/** A client of mux.sock, as the CLI is one. */
class MuxClient {
  readonly frames: Frame[] = [];
  private readonly waiters: { match: (f: Frame) => boolean; resolve: (f: Frame) => void }[] = [];

  private constructor(readonly socket: Socket) {
    const decoder = new FrameDecoder();
    socket.on('data', (chunk: Buffer) => {
      for (const frame of decoder.push(chunk)) {
        this.frames.push(frame);
        const i = this.waiters.findIndex((w) => w.match(frame));
        if (i >= 0) this.waiters.splice(i, 1)[0]!.resolve(frame);
      }
    });
  }

  static connect(path: string): Promise<MuxClient> {
    return new Promise((resolve, reject) => {
      const socket = connect(path, () => resolve(new MuxClient(socket)));
      socket.once('error', reject);
      cleanups.push(() => socket.destroy());
    });
  }

  waitFor(match: (f: Frame) => boolean, what: string): Promise<Frame> {
    const seen = this.frames.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`mux client: no ${what}`)), 10000);
      this.waiters.push({ match, resolve: (f) => (clearTimeout(timer), resolve(f)) });
    });
  }

  async request(stream: number, request: Record<string, unknown>): Promise<Record<string, unknown>> {
    this.socket.write(encodeJsonFrame(FrameType.REQUEST, stream, request));
    const response = await this.waitFor((f) => f.type === FrameType.RESPONSE && f.stream === stream, `response on ${stream}`);
    return JSON.parse(response.payload.toString()) as Record<string, unknown>;
  }

  close(): void {
    this.socket.destroy();
  }
}

/** One container's run folder: agent.sock, mux.sock, spec, log. */
class Workspace {
  readonly dir = mkdtempSync(join(tmpdir(), 'vmrt-shim-'));
  readonly agentSocket = join(this.dir, 'agent.sock');
  readonly muxSocket = join(this.dir, 'mux.sock');
  readonly log = join(this.dir, 'log.json');
  private files = 0;

  /** A spec (or process) file whose process runs the fake agent's script `args`. */
  specFile(args: string[], terminal = false): string {
    const path = join(this.dir, `spec${this.files++}.json`);
    writeFileSync(
      path,
      JSON.stringify({ ociVersion: '1.0.2', process: { terminal, args, cwd: '/' }, root: { path: '/run/vmrt/shared/rootfs' } }),
    );
    return path;
  }

  processFile(args: string[]): string {
    const path = join(this.dir, `process${this.files++}.json`);
    writeFileSync(path, JSON.stringify({ terminal: false, args, cwd: '/' }));
    return path;
  }

  initArgs(args: string[], extra: string[] = []): string[] {
    return [
      'init',
      '--agent-socket',
      this.agentSocket,
      '--mux-socket',
      this.muxSocket,
      '--id',
      'c1',
      '--spec',
      this.specFile(args),
      '--log',
      this.log,
      ...extra,
    ];
  }

  execArgs(args: string[]): string[] {
    return ['exec', '--mux-socket', this.muxSocket, '--id', 'c1', '--process', this.processFile(args), '--log', this.log];
  }

  logLines(): { level: string; msg: string; time: string }[] {
    if (!existsSync(this.log)) return [];
    return readFileSync(this.log, 'utf8')
      .trim()
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { level: string; msg: string; time: string });
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** What the CLI does for `vmrt start`: one request on mux.sock. */
async function startContainer(ws: Workspace): Promise<void> {
  const cli = await MuxClient.connect(ws.muxSocket);
  try {
    assert.deepEqual(await cli.request(7, { op: 'start', id: 'c1' }), { ok: true });
  } finally {
    cli.close();
  }
}

const running: ChildProcess[] = [];
/** Handles a failed test may leave open; closed after the run so that it ends. */
const cleanups: (() => void)[] = [];
const workspaces: Workspace[] = [];
const agents: FakeAgent[] = [];

async function setup(): Promise<{ ws: Workspace; agent: FakeAgent }> {
  const ws = new Workspace();
  workspaces.push(ws);
  const agent = await FakeAgent.listen(ws.agentSocket);
  agents.push(agent);
  return { ws, agent };
}

function track(run: ShimRun): ShimRun {
  running.push(run.child);
  return run;
}

/** An init shim whose process ("wait") was created and started. */
async function startedInit(): Promise<{ ws: Workspace; agent: FakeAgent; shim: ShimRun }> {
  const { ws, agent } = await setup();
  const shim = track(startShim(ws.initArgs(['wait'])));
  assert.equal((await shim.ready).ok, true);
  await startContainer(ws);
  return { ws, agent, shim };
}

function signalFrames(agent: FakeAgent, stream: number): number[] {
  return agent.framesOf(FrameType.SIGNAL, stream).map((f) => Number(f.json?.signal));
}

before(() => {
  execFileSync('make', ['-C', join(ROOT, 'runtime'), 'shim'], { stdio: ['ignore', 'ignore', 'inherit'] });
});

after(async () => {
  for (const child of running) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  for (const agent of agents) await agent.close().catch(() => undefined);
  for (const cleanup of cleanups) cleanup();
  for (const ws of workspaces) ws.remove();
});

/** A hung shim fails its test instead of the whole run. */
const LIMIT = { timeout: 20000 };

describe('vmrt-shim init', () => {
  it('writes the ready line with the guest pid, keeps stdout and stderr apart and exits with the status', LIMIT, async () => {
    const { ws, agent } = await setup();
    const shim = track(startShim(ws.initArgs(['print', 'out line 1\nout line 2\n', 'err line\n', '3'])));
    assert.deepEqual(await shim.ready, { ok: true, pid: 100 });
    const create = await agent.waitFor((f) => f.type === FrameType.REQUEST && f.json?.op === 'create', 'create');
    assert.equal(create.stream, INIT_STREAM);
    assert.equal(create.json?.id, 'c1');
    assert.deepEqual((create.json?.spec as { process: { args: string[] } }).process.args, [
      'print',
      'out line 1\nout line 2\n',
      'err line\n',
      '3',
    ]);
    await startContainer(ws);
    assert.deepEqual(await shim.exited, { code: 3, signal: null });
    assert.equal(shim.stdout().toString(), 'out line 1\nout line 2\n');
    assert.equal(shim.stderr(), 'err line\n');
    assert.equal(existsSync(ws.muxSocket), false, 'mux.sock is removed when the container exits');
  });

  it('keeps taking stdin while nobody reads its stdout', LIMIT, async () => {
    const { ws, agent } = await setup();
    const shim = track(startShim(ws.initArgs(['echo'])));
    assert.equal((await shim.ready).ok, true);
    await startContainer(ws);
    shim.child.stdout!.pause();
    const size = 6 * 1024 * 1024;
    const input = Buffer.alloc(size);
    for (let i = 0; i < size; i++) input[i] = bulkByte(i);
    shim.child.stdin!.write(input);
    const stdinBytes = () => agent.framesOf(FrameType.STDIN, INIT_STREAM).reduce((n, f) => n + f.payload.length, 0);
    await agent.waitFor(() => stdinBytes() === size, 'all 6 MiB of STDIN', 15000);
    assert.ok(shim.stdout().length < size, 'stdout was not drained meanwhile');
    shim.child.stdout!.resume();
    shim.child.stdin!.end();
    assert.deepEqual(await shim.exited, { code: 0, signal: null });
    assert.equal(Buffer.compare(shim.stdout(), input), 0);
  });

  it("writes to real pipes without making the caller's end non-blocking", LIMIT, async () => {
    const { ws } = await setup();
    const pipes = ['out', 'err'].map((name) => {
      const path = join(ws.dir, `${name}.fifo`);
      execFileSync('mkfifo', [path]);
      const readFd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
      const writeFd = openSync(path, constants.O_WRONLY);
      const reader = new Socket({ fd: readFd, readable: true, writable: false });
      const chunks: Buffer[] = [];
      reader.on('data', (b: Buffer) => chunks.push(b));
      const ended = new Promise<void>((resolve) => reader.on('end', () => resolve()));
      let writerOpen = true;
      const closeWriter = () => {
        if (writerOpen) closeSync(writeFd);
        writerOpen = false;
      };
      cleanups.push(() => (reader.destroy(), closeWriter()));
      return { writeFd, closeWriter, text: () => Buffer.concat(chunks).toString(), ended };
    });
    const [out, err] = pipes as [(typeof pipes)[0], (typeof pipes)[0]];
    const shim = track(
      startShim(ws.initArgs(['print', 'to the pipe\n', 'to the other pipe\n', '0']), { stdout: out.writeFd, stderr: err.writeFd }),
    );
    assert.equal((await shim.ready).ok, true);
    const flags = (fdinfo: string) => parseInt(/^flags:\s+([0-7]+)$/m.exec(readFileSync(fdinfo, 'utf8'))![1]!, 8);
    assert.equal(flags(`/proc/self/fdinfo/${out.writeFd}`) & constants.O_NONBLOCK, 0, "the caller's stdout stays blocking");
    assert.equal(flags(`/proc/${shim.child.pid}/fdinfo/1`) & constants.O_NONBLOCK, constants.O_NONBLOCK, "the shim's own is not");
    out.closeWriter();
    err.closeWriter();
    await startContainer(ws);
    assert.deepEqual(await shim.exited, { code: 0, signal: null });
    await Promise.all([out.ended, err.ended]);
    assert.equal(out.text(), 'to the pipe\n');
    assert.equal(err.text(), 'to the other pipe\n');
  });

  it('exits 137 when the guest process dies by SIGKILL', LIMIT, async () => {
    const { ws } = await setup();
    const shim = track(startShim(ws.initArgs(['die', '9'])));
    assert.equal((await shim.ready).ok, true);
    await startContainer(ws);
    assert.deepEqual(await shim.exited, { code: 137, signal: null });
  });

  it('relays stdin and turns its EOF into one STDIN_CLOSE', LIMIT, async () => {
    const { ws, agent } = await setup();
    const shim = track(startShim(ws.initArgs(['echo'])));
    assert.equal((await shim.ready).ok, true);
    await startContainer(ws);
    shim.child.stdin!.write('hello\n');
    await agent.waitFor((f) => f.type === FrameType.STDIN, 'STDIN');
    shim.child.stdin!.end('world');
    assert.deepEqual(await shim.exited, { code: 0, signal: null });
    assert.equal(shim.stdout().toString(), 'hello\nworld');
    const stdin = Buffer.concat(agent.framesOf(FrameType.STDIN, INIT_STREAM).map((f) => f.payload)).toString();
    assert.equal(stdin, 'hello\nworld');
    assert.equal(agent.framesOf(FrameType.STDIN_CLOSE, INIT_STREAM).length, 1);
  });

  it('passes 3 MiB of output through byte for byte', LIMIT, async () => {
    const { ws } = await setup();
    const size = 3 * 1024 * 1024 + 17;
    const shim = track(startShim(ws.initArgs(['bulk', String(size)])));
    assert.equal((await shim.ready).ok, true);
    await startContainer(ws);
    assert.deepEqual(await shim.exited, { code: 0, signal: null });
    const out = shim.stdout();
    assert.equal(out.length, size);
    const firstWrong = out.findIndex((byte, i) => byte !== bulkByte(i));
    assert.equal(firstWrong, -1);
  });

  it('forwards the signals it receives as SIGNAL frames for its stream', LIMIT, async () => {
    const { agent, shim } = await startedInit();
    const sigrtmin3 = 37; // SIGRTMIN+3 (glibc and musl reserve 32 and 33), systemd's halt signal
    const forwarded: [NodeJS.Signals | number, number][] = [
      ['SIGUSR1', 10],
      ['SIGHUP', 1],
      ['SIGINT', 2],
      ['SIGQUIT', 3],
      ['SIGCONT', 18],
      ['SIGTSTP', 20],
      [sigrtmin3, 37],
    ];
    for (const [signal, number] of forwarded) {
      // Node knows no real-time signal numbers: kill(1) sends those.
      if (typeof signal === 'number') execFileSync('kill', [`-${signal}`, String(shim.child.pid)]);
      else shim.child.kill(signal);
      await agent.waitFor((f) => f.type === FrameType.SIGNAL && f.stream === INIT_STREAM && f.json?.signal === number, `SIGNAL ${number}`);
    }
    // The shim's own business: never forwarded (and without a console, SIGWINCH sends no RESIZE).
    for (const signal of ['SIGWINCH', 'SIGCHLD', 'SIGPIPE'] as const) shim.child.kill(signal);
    shim.child.kill('SIGUSR2');
    await agent.waitFor((f) => f.type === FrameType.SIGNAL && f.json?.signal === 12, 'SIGNAL 12');
    shim.child.kill('SIGTERM');
    assert.deepEqual(await shim.exited, { code: 143, signal: null });
    assert.deepEqual(signalFrames(agent, INIT_STREAM), [10, 1, 2, 3, 18, 20, 37, 12, 15]);
    assert.deepEqual(agent.framesOf(FrameType.RESIZE), []);
  });

  it('treats a closed stdin as an empty one', LIMIT, async () => {
    const { ws, agent } = await setup();
    const args = ws.initArgs(['echo']);
    // sh closes fd 0, then becomes the shim
    const child = spawn('sh', ['-c', 'exec 0<&- "$0" "$@"', SHIM, ...args, '--ready-fd', '3'], { stdio: ['pipe', 'pipe', 'pipe', 'pipe'] });
    running.push(child);
    const ready = await new Promise<string>((resolve) => {
      let text = '';
      (child.stdio[3] as Readable).on('data', (b: Buffer) => (text += b.toString())).on('close', () => resolve(text));
    });
    assert.equal(ready, '{"ok":true,"pid":100}\n');
    await startContainer(ws);
    const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
    assert.equal(code, 0);
    assert.equal(agent.framesOf(FrameType.STDIN_CLOSE, INIT_STREAM).length, 1);
    assert.equal(agent.framesOf(FrameType.STDIN, INIT_STREAM).length, 0);
  });

  it('closes inherited descriptors above 2 except the ready fd', LIMIT, async () => {
    const { ws } = await setup();
    const shim = track(startShim(ws.initArgs(['wait']), { extraFds: 1 }));
    const leaked = shim.child.stdio[4] as Readable;
    const leakedClosed = new Promise<void>((resolve) => leaked.on('close', () => resolve()));
    leaked.resume();
    assert.equal((await shim.ready).ok, true);
    await leakedClosed; // EOF: the shim holds no copy of fd 4 any more, while it runs
    assert.equal(shim.child.exitCode, null);
    shim.child.kill('SIGKILL');
    await shim.exited;
  });

  it('joins the network namespace given with --netns', LIMIT, async () => {
    const { ws } = await setup();
    const holder = spawn('unshare', ['--net', 'sleep', '60'], { stdio: 'ignore' });
    running.push(holder);
    const holderNs = `/proc/${holder.pid}/ns/net`;
    // unshare execs sleep once the namespace exists
    for (let i = 0; i < 100 && readlinkSync(holderNs) === readlinkSync('/proc/self/ns/net'); i++) {
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.notEqual(readlinkSync(holderNs), readlinkSync('/proc/self/ns/net'), 'unshare --net made a namespace');
    const shim = track(startShim(ws.initArgs(['wait'], ['--netns', holderNs])));
    assert.equal((await shim.ready).ok, true);
    assert.equal(readlinkSync(`/proc/${shim.child.pid}/ns/net`), readlinkSync(holderNs));
    shim.child.kill('SIGKILL');
    holder.kill('SIGKILL');
    await shim.exited;
  });

  it('waits for an agent socket that appears late', LIMIT, async () => {
    const ws = new Workspace();
    workspaces.push(ws);
    const shim = track(startShim(ws.initArgs(['exit', '0'])));
    await new Promise((r) => setTimeout(r, 600));
    assert.equal(shim.child.exitCode, null, 'still retrying');
    const agent = await FakeAgent.listen(ws.agentSocket);
    agents.push(agent);
    assert.deepEqual(await shim.ready, { ok: true, pid: 100 });
    await startContainer(ws);
    assert.deepEqual(await shim.exited, { code: 0, signal: null });
  });

  it('reports a failed create on the ready fd, in the log and with exit status 1', LIMIT, async () => {
    const { ws, agent } = await setup();
    agent.createError = 'rootfs /run/vmrt/shared/rootfs does not exist';
    const shim = track(startShim(ws.initArgs(['exit', '0'])));
    assert.deepEqual(await shim.ready, { ok: false, error: 'rootfs /run/vmrt/shared/rootfs does not exist' });
    assert.deepEqual(await shim.exited, { code: 1, signal: null });
    const errors = ws.logLines().filter((l) => l.level === 'error');
    assert.equal(errors.at(-1)?.msg, 'rootfs /run/vmrt/shared/rootfs does not exist');
    assert.match(errors.at(-1)!.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.equal(shim.stderr(), 'vmrt-shim: rootfs /run/vmrt/shared/rootfs does not exist\n');
    assert.equal(existsSync(ws.muxSocket), false);
  });

  it('drops malformed frames from the agent and carries on', LIMIT, async () => {
    const { ws, agent, shim } = await startedInit();
    const badVersion = encodeFrame(FrameType.STDOUT, INIT_STREAM, Buffer.from('version 2\n'));
    badVersion[4] = 2;
    agent.sendRaw(badVersion);
    agent.send(0x7f, INIT_STREAM, Buffer.from('unknown type\n'));
    agent.send(FrameType.RESPONSE, INIT_STREAM, Buffer.from('{not json'));
    agent.send(FrameType.EXIT, INIT_STREAM, Buffer.from('[1]'));
    agent.send(FrameType.STDOUT, 99, Buffer.from('unknown stream\n'));
    agent.send(FrameType.STDOUT, INIT_STREAM, Buffer.from('still alive\n'));
    agent.send(FrameType.EXIT, INIT_STREAM, Buffer.from('{"status":0,"signal":0}'));
    assert.deepEqual(await shim.exited, { code: 0, signal: null });
    assert.equal(shim.stdout().toString(), 'still alive\n');
    assert.equal(shim.stderr(), '');
    const warnings = ws
      .logLines()
      .filter((l) => l.level === 'warning')
      .map((l) => l.msg);
    assert.deepEqual(warnings, [
      'malformed frame from the VM agent dropped: unsupported protocol version',
      'malformed frame from the VM agent dropped: unknown frame type',
      'malformed frame from the VM agent dropped: payload is not one JSON object',
      'malformed frame from the VM agent dropped: payload is not one JSON object',
      'STDOUT frame for unknown stream 99 dropped',
    ]);
  });

  it('leaves with 255 and a message when the agent sends a length it cannot trust', LIMIT, async () => {
    const { agent, shim } = await startedInit();
    agent.send(FrameType.STDOUT, INIT_STREAM, Buffer.from('before\n'));
    agent.sendRaw(Buffer.from([0, 0, 0, 2, 1, 0x11]));
    assert.deepEqual(await shim.exited, { code: 255, signal: null });
    assert.equal(shim.stdout().toString(), 'before\n');
    assert.match(shim.stderr(), /^vmrt-shim: lost the connection to the VM agent \(frame length below 6\): the VM is gone/);
  });
});

describe('vmrt-shim exec and the mux', () => {
  it('serves exec shims next to the init stream and kills the process of a SIGKILLed exec shim', LIMIT, async () => {
    const { ws, agent } = await setup();
    const init = track(startShim(ws.initArgs(['echo'])));
    assert.equal((await init.ready).ok, true);
    await startContainer(ws);

    const echo = track(startShim(ws.execArgs(['echo'])));
    assert.deepEqual(await echo.ready, { ok: true, pid: 101 });
    const waiter = track(startShim(ws.execArgs(['wait'])));
    assert.deepEqual(await waiter.ready, { ok: true, pid: 102 });

    const echoStream = agent.streamOf('exec', 'echo')!;
    const waitStream = agent.streamOf('exec', 'wait')!;
    assert.deepEqual(new Set([INIT_STREAM, echoStream, waitStream]).size, 3, 'the mux gives each exec its own agent stream');

    // Both directions of the init stream and an exec stream at the same time.
    init.child.stdin!.write('to init\n');
    echo.child.stdin!.write('to exec\n');
    await agent.waitFor((f) => f.type === FrameType.STDIN && f.stream === INIT_STREAM, 'init STDIN');
    await agent.waitFor((f) => f.type === FrameType.STDIN && f.stream === echoStream, 'exec STDIN');
    echo.child.stdin!.end();
    assert.deepEqual(await echo.exited, { code: 0, signal: null });
    assert.equal(echo.stdout().toString(), 'to exec\n');

    waiter.child.kill('SIGKILL');
    await agent.waitFor((f) => f.type === FrameType.SIGNAL && f.stream === waitStream, 'SIGNAL for the killed exec');
    assert.deepEqual(signalFrames(agent, waitStream), [9]);

    assert.equal(init.child.exitCode, null, 'the init shim runs on');
    init.child.stdin!.end();
    assert.deepEqual(await init.exited, { code: 0, signal: null });
    assert.equal(init.stdout().toString(), 'to init\n');
    assert.deepEqual(signalFrames(agent, INIT_STREAM), []);
  });

  it('routes the exits of exec processes that end with the init process, then leaves', LIMIT, async () => {
    const { ws } = await setup();
    const init = track(startShim(ws.initArgs(['echo'])));
    assert.equal((await init.ready).ok, true);
    await startContainer(ws);
    const exec = track(startShim(ws.execArgs(['wait'])));
    assert.equal((await exec.ready).ok, true);
    init.child.stdin!.end();
    assert.deepEqual(await exec.exited, { code: 137, signal: null });
    assert.deepEqual(await init.exited, { code: 0, signal: null });
    assert.equal(exec.stderr(), '');
    assert.equal(existsSync(ws.muxSocket), false);
  });

  it('kills the process of a client that leaves right after its exec request, and keeps stream ids per client', LIMIT, async () => {
    const { ws, agent } = await setup();
    const init = track(startShim(ws.initArgs(['wait'])));
    assert.equal((await init.ready).ok, true);
    const first = await MuxClient.connect(ws.muxSocket);
    const second = await MuxClient.connect(ws.muxSocket);
    // Both clients use stream 3: the mux keeps them apart; a reuse within one client is refused.
    assert.deepEqual(await second.request(3, { op: 'exec', id: 'c1', process: { args: ['wait'] } }), { ok: true, pid: 101 });
    second.socket.write(encodeJsonFrame(FrameType.REQUEST, 3, { op: 'state' }));
    const reuse = await second.waitFor(
      (f) => f.type === FrameType.RESPONSE && f.stream === 3 && f.payload.includes('in use'),
      'stream in use',
    );
    assert.deepEqual(JSON.parse(reuse.payload.toString()), { ok: false, error: 'stream id is already in use' });
    first.socket.end(encodeJsonFrame(FrameType.REQUEST, 3, { op: 'exec', id: 'c1', process: { args: ['echo'] } }));
    first.close();
    const echoStream = (
      await agent.waitFor(
        (f) => f.type === FrameType.REQUEST && f.json?.op === 'exec' && (f.json.process as { args: string[] }).args[0] === 'echo',
        'exec of the leaving client',
      )
    ).stream;
    await agent.waitFor((f) => f.type === FrameType.SIGNAL && f.stream === echoStream, 'SIGNAL 9 for the orphan');
    assert.deepEqual(signalFrames(agent, echoStream), [9]);
    const waitStream = agent.streamOf('exec', 'wait')!;
    assert.notEqual(waitStream, echoStream);
    assert.deepEqual(signalFrames(agent, waitStream), [], "the other client's process lives on");
    second.socket.write(encodeJsonFrame(FrameType.SIGNAL, 3, { signal: 15 }));
    const exit = await second.waitFor((f) => f.type === FrameType.EXIT && f.stream === 3, 'EXIT on the client stream');
    assert.deepEqual(JSON.parse(exit.payload.toString()), { status: 143, signal: 15 });
    second.close();
    init.child.kill('SIGTERM');
    assert.deepEqual(await init.exited, { code: 143, signal: null });
  });

  it('greets mux clients with the HELLO and answers bad client frames with an error', LIMIT, async () => {
    const { ws } = await setup();
    const init = track(startShim(ws.initArgs(['wait'])));
    assert.equal((await init.ready).ok, true);
    const client = await MuxClient.connect(ws.muxSocket);
    const hello = await client.waitFor((f) => f.type === FrameType.HELLO, 'HELLO');
    assert.deepEqual(JSON.parse(hello.payload.toString()), { version: 1, kernel: 'fake', agent: 'fake-agent' });
    client.socket.write(encodeFrame(FrameType.STDIN, 5, Buffer.from('x')));
    const noProcess = await client.waitFor((f) => f.type === FrameType.RESPONSE && f.stream === 5, 'error for stream 5');
    assert.deepEqual(JSON.parse(noProcess.payload.toString()), { ok: false, error: 'no process on this stream' });
    client.socket.write(encodeFrame(FrameType.REQUEST, 6, Buffer.from('{"op":')));
    const malformed = await client.waitFor((f) => f.type === FrameType.RESPONSE && f.stream === 6, 'error for stream 6');
    assert.deepEqual(JSON.parse(malformed.payload.toString()), { ok: false, error: 'payload is not one JSON object' });
    assert.deepEqual(await client.request(8, { op: 'state' }), { ok: true, containers: [] });
    client.close();
    init.child.kill('SIGTERM');
    assert.deepEqual(await init.exited, { code: 143, signal: null });
  });

  it('makes init and exec shims exit 255 with a message when the VM dies', LIMIT, async () => {
    const { ws, agent } = await setup();
    const init = track(startShim(ws.initArgs(['wait'])));
    assert.equal((await init.ready).ok, true);
    await startContainer(ws);
    const exec = track(startShim(ws.execArgs(['wait'])));
    assert.equal((await exec.ready).ok, true);
    agent.crash();
    assert.deepEqual(await init.exited, { code: 255, signal: null });
    assert.deepEqual(await exec.exited, { code: 255, signal: null });
    assert.match(init.stderr(), /^vmrt-shim: lost the connection to the VM agent \(connection closed\): the VM is gone/);
    assert.equal(
      exec.stderr(),
      "vmrt-shim: lost the connection to the container's mux (connection closed): its init shim or its VM is gone; container c1 exits with 255\n",
    );
    const errors = ws
      .logLines()
      .filter((l) => l.level === 'error')
      .map((l) => l.msg);
    assert.deepEqual(
      errors.sort(),
      [
        'lost the connection to the VM agent (connection closed): the VM is gone; container c1 exits with 255',
        "lost the connection to the container's mux (connection closed): its init shim or its VM is gone; container c1 exits with 255",
      ].sort(),
    );
    assert.deepEqual(
      ws.logLines().filter((l) => l.level !== 'error'),
      [],
      'no warnings: the HELLO of the mux is expected',
    );
  });

  it('fails an exec when the container has no mux.sock', LIMIT, async () => {
    const ws = new Workspace();
    workspaces.push(ws);
    const exec = track(startShim(ws.execArgs(['echo'])));
    const ready = await exec.ready;
    assert.equal(ready.ok, false);
    assert.match(ready.error!, /^cannot connect to .*mux\.sock \(is the container running\?\): No such file or directory$/);
    assert.deepEqual(await exec.exited, { code: 1, signal: null });
  });
});

describe('vmrt-shim console', () => {
  it('sends the pty master over the console socket and relays it, with resizes', LIMIT, async () => {
    const { ws, agent } = await setup();
    const consoleSocket = join(ws.dir, 'console.sock');
    const receiver = spawn('python3', [CONSOLE_RECEIVER, consoleSocket], { stdio: ['pipe', 'pipe', 'inherit'] });
    running.push(receiver);
    cleanups.push(() => receiver.stdin!.destroy());
    const lines = createInterface({ input: receiver.stdout! });
    const messages: Record<string, unknown>[] = [];
    const waiters: { match: (m: Record<string, unknown>) => boolean; resolve: () => void }[] = [];
    lines.on('line', (line) => {
      const message = JSON.parse(line) as Record<string, unknown>;
      messages.push(message);
      for (const w of waiters.splice(0)) {
        if (w.match(message)) w.resolve();
        else waiters.push(w);
      }
    });
    const receiverSaid = (match: (m: Record<string, unknown>) => boolean) =>
      messages.some(match) ? Promise.resolve() : new Promise<void>((resolve) => waiters.push({ match, resolve }));
    await receiverSaid((m) => m.listening === true);

    const shim = track(startShim(ws.initArgs(['echo'], ['--console-socket', consoleSocket])));
    assert.equal((await shim.ready).ok, true);
    await receiverSaid((m) => 'name' in m);
    const received = messages.find((m) => 'name' in m)!;
    assert.match(String(received.name), /^\/dev\/pts\/\d+$/);
    assert.equal(received.fds, 1);

    await startContainer(ws);
    // A console without a size yet (0x0) sends no RESIZE: it would override the size the guest has.
    assert.deepEqual(agent.framesOf(FrameType.RESIZE, INIT_STREAM), []);

    const send = receiver.stdin as Writable;
    send.write(JSON.stringify({ resize: [40, 120] }) + '\n');
    await agent.waitFor((f) => f.type === FrameType.RESIZE && f.json?.rows === 40, 'RESIZE 40x120');
    assert.deepEqual(
      agent.framesOf(FrameType.RESIZE, INIT_STREAM).map((f) => f.json),
      [{ rows: 40, cols: 120 }],
    );

    send.write(JSON.stringify({ write: 'typed\r' }) + '\n');
    await receiverSaid(
      () =>
        messages
          .filter((m) => 'output' in m)
          .map((m) => m.output)
          .join('') === 'typed\r',
    );

    shim.child.kill('SIGTERM');
    assert.deepEqual(await shim.exited, { code: 143, signal: null });
    assert.equal(shim.stdout().length, 0, "the caller's stdout is not used with a console");
    assert.equal(Buffer.concat(agent.framesOf(FrameType.STDIN, INIT_STREAM).map((f) => f.payload)).toString(), 'typed\r');
    send.end();
  });
});

/** The shim's peak resident memory in KiB, while it runs. */
function peakRssKiB(pid: number): number {
  const peak = peakOf(pid);
  assert.ok(peak !== undefined, `process ${pid} is gone`);
  return peak;
}

/** A probe for waitFor: true once the process has read nothing more for half a second (/proc/<pid>/io rchar). */
function readingStopped(pid: number): () => true | undefined {
  let last = -1;
  let since = Date.now();
  return () => {
    const read = Number(/^rchar: (\d+)$/m.exec(readFileSync(`/proc/${pid}/io`, 'utf8'))![1]);
    if (read !== last) [last, since] = [read, Date.now()];
    return Date.now() - since >= 500 ? true : undefined;
  };
}

/** The log after a flood: the burst of warnings, one a second more, their count; nowhere near a flood's size. */
const LOG_BOUND_BYTES = 16 * 1024;

/** JSON (and not-quite-JSON) payloads a hostile guest might send in control frames. */
const HOSTILE_PAYLOADS = [
  '{}',
  '{"ok":true}',
  '{"ok":false}',
  '{"ok":true,"pid":-1}',
  '{"status":"seven","signal":{}}',
  '{"status":1e999}',
  '{"status":-2147483649}',
  '{"signal":-5}',
  '{"rows":99999999999,"cols":-1}',
  '{"type":"unknown","id":"c1"}',
  '[1,2,3]',
  '"a string"',
  'null',
  '{"a":',
  '{"a":"\\ud800"}',
  `${'['.repeat(200)}${']'.repeat(200)}`,
  `{"k":${'{"k":'.repeat(70)}1${'}'.repeat(71)}`,
  `{"big":"${'x'.repeat(70000)}"}`,
];

/** One random frame from a hostile agent: any type, mostly version 1, streams near the live ones, junk payloads. */
function hostileFrame(g: ReturnType<typeof seeded>): Buffer {
  const type = g.pick([...Object.values(FrameType), 0x00, 0x04, 0x7f, 0xff]);
  // An EXIT on the init stream would end the test's process early; EVENTs never say "oom" (that squeezes the host cgroup).
  const stream = type === FrameType.EXIT ? g.between(2, 9) : g.pick([0, 1, 2, 3, 4, 5, 6, 0xffffffff, g.next()]);
  const payload =
    g.between(0, 2) === 0
      ? Buffer.from(Array.from({ length: g.between(0, 300) }, () => g.between(0, 255)))
      : Buffer.from(g.pick(HOSTILE_PAYLOADS), 'utf8');
  const frame = encodeFrame(type, stream, payload);
  if (g.between(0, 9) === 0) frame[4] = g.between(0, 255);
  return frame;
}

describe('vmrt-shim against a hostile agent and hostile clients', () => {
  it(
    'survives a seeded fuzz of frames (junk payloads, wrong types and versions, out-of-order replies) with bounded memory and log',
    LIMIT,
    async () => {
      const { ws, agent, shim } = await startedInit();
      // Live routes for the fuzz to hit: exec processes of a mux client whose replies come in any order.
      const client = await MuxClient.connect(ws.muxSocket);
      for (let stream = 11; stream <= 14; stream++) {
        client.socket.write(encodeJsonFrame(FrameType.REQUEST, stream, { op: 'exec', id: 'c1', process: { args: ['wait'] } }));
      }
      await agent.waitFor(() => agent.framesOf(FrameType.REQUEST).filter((f) => f.json?.op === 'exec').length === 4, '4 exec requests');
      const g = seeded(13);
      for (let i = 0; i < 3000; i++) agent.sendRaw(hostileFrame(g));
      agent.send(FrameType.STDOUT, INIT_STREAM, Buffer.from('\nstill alive\n'));
      await waitFor('the marker after the fuzz', () => (shim.stdout().toString().endsWith('\nstill alive\n') ? true : undefined), 15000);
      const fresh = await MuxClient.connect(ws.muxSocket);
      assert.deepEqual(await fresh.request(3, { op: 'state' }), { ok: true, containers: [] });
      fresh.close();
      client.close();
      const peak = peakRssKiB(shim.child.pid!);
      agent.send(FrameType.EXIT, INIT_STREAM, Buffer.from('{"status":7,"signal":0}'));
      assert.deepEqual(await shim.exited, { code: 7, signal: null });
      assert.ok(peak < SHIM_MEMORY_BOUND_KIB, `peak RSS ${peak} KiB`);
      assert.ok(statSync(ws.log).size < LOG_BOUND_BYTES, `log of ${statSync(ws.log).size} bytes`);
    },
  );

  it('logs a flood of malformed frames as a burst, then their count; memory stays bounded', LIMIT, async () => {
    const { ws, agent, shim } = await startedInit();
    const junk = encodeFrame(0x7f, INIT_STREAM, Buffer.from('junk'));
    agent.sendRaw(Buffer.concat(Array<Buffer>(200000).fill(junk)));
    agent.send(FrameType.STDOUT, INIT_STREAM, Buffer.from('flood taken\n'));
    await waitFor('the flood to be taken', () => (shim.stdout().toString() === 'flood taken\n' ? true : undefined), 15000);
    await sleep(1100);
    const peak = peakRssKiB(shim.child.pid!);
    agent.sendRaw(junk);
    agent.send(FrameType.EXIT, INIT_STREAM, Buffer.from('{"status":0,"signal":0}'));
    assert.deepEqual(await shim.exited, { code: 0, signal: null });
    assert.ok(peak < SHIM_MEMORY_BOUND_KIB, `peak RSS ${peak} KiB`);
    // A burst of 20, maybe one more a second while the flood is read, and the counts of those left out.
    const warnings = ws.logLines().map((l) => l.msg);
    const dropped = 'malformed frame from the VM agent dropped: unknown frame type';
    const leftOut = /^(\d+) more warnings were left out of this log \(too many too fast\)$/;
    assert.ok(warnings.length >= 22 && warnings.length < 40, warnings.join('\n'));
    assert.deepEqual(new Set(warnings.slice(0, 20)), new Set([dropped]));
    assert.match(warnings.at(-2)!, leftOut);
    assert.equal(warnings.at(-1), dropped);
    const counted = warnings.reduce((n, w) => n + (w === dropped ? 1 : Number(leftOut.exec(w)?.[1] ?? NaN)), 0);
    assert.equal(counted, 200001);
  });

  it('does not grow while output floods in before the create answer and nobody reads stdout', LIMIT, async () => {
    const { ws, agent } = await setup();
    agent.answerCreate = false;
    const shim = track(startShim(ws.initArgs(['wait'])));
    shim.child.stdout!.pause();
    const create = await agent.waitFor((f) => f.type === FrameType.REQUEST && f.json?.op === 'create', 'create');
    const chunk = Buffer.alloc(64 * 1024, 'x');
    for (let i = 0; i < 512; i++) agent.send(FrameType.STDOUT, create.stream, chunk);
    // 32 MiB sent: the shim takes 4 MiB and a pipe's worth, then leaves the rest on the socket.
    await waitFor('the shim to stop reading', readingStopped(shim.child.pid!), 15000);
    const peak = peakRssKiB(shim.child.pid!);
    assert.ok(peak < SHIM_MEMORY_BOUND_KIB, `peak RSS ${peak} KiB`);
    agent.respondTo(create.stream, { ok: true, pid: 42 });
    shim.child.stdout!.resume();
    assert.deepEqual(await shim.ready, { ok: true, pid: 42 });
    await waitFor('all 32 MiB on stdout', () => (shim.stdout().length === 32 * 1024 * 1024 ? true : undefined), 15000);
    shim.child.kill('SIGTERM');
    assert.deepEqual(await shim.exited, { code: 143, signal: null });
  });

  it('leaves with 255 on a 4 GiB length at once, and holds a frame cut short without growing', LIMIT, async () => {
    {
      const { agent, shim } = await startedInit();
      agent.sendRaw(Buffer.from([0xff, 0xff, 0xff, 0xff, 1, 0x11]));
      assert.deepEqual(await shim.exited, { code: 255, signal: null });
      assert.match(shim.stderr(), /^vmrt-shim: lost the connection to the VM agent \(frame length above 1 MiB \+ 6\)/);
    }
    const { agent, shim } = await startedInit();
    agent.sendRaw(encodeFrame(FrameType.STDOUT, INIT_STREAM, Buffer.alloc(1024 * 1024)).subarray(0, 600000));
    await sleep(300);
    const peak = peakRssKiB(shim.child.pid!);
    agent.crash();
    assert.deepEqual(await shim.exited, { code: 255, signal: null });
    assert.ok(peak < SHIM_MEMORY_BOUND_KIB, `peak RSS ${peak} KiB`);
    assert.equal(shim.stdout().length, 0);
    assert.match(shim.stderr(), /^vmrt-shim: lost the connection to the VM agent \(connection closed\)/);
  });

  it('stops reading a mux client that floods bad frames without reading the answers', LIMIT, async () => {
    const { ws } = await setup();
    const shim = track(startShim(ws.initArgs(['wait'])));
    assert.equal((await shim.ready).ok, true);
    const flooder = await MuxClient.connect(ws.muxSocket);
    flooder.socket.pause();
    const bad = encodeFrame(FrameType.REQUEST, 5, Buffer.from('{'));
    flooder.socket.write(Buffer.concat(Array<Buffer>(600000).fill(bad)));
    await waitFor('the shim to stop reading the flooder', readingStopped(shim.child.pid!), 15000);
    const peak = peakRssKiB(shim.child.pid!);
    assert.ok(peak < SHIM_MEMORY_BOUND_KIB, `peak RSS ${peak} KiB`);
    // Its backlog held the agent's output for everyone (no per-client flow control): once it is gone, others are served.
    flooder.close();
    const other = await MuxClient.connect(ws.muxSocket);
    assert.deepEqual(await other.request(1, { op: 'state' }), { ok: true, containers: [] });
    other.close();
    shim.child.kill('SIGTERM');
    assert.deepEqual(await shim.exited, { code: 143, signal: null });
  });

  it('keeps the serial log it is given small: a hole between the boot and the last 512 KiB', LIMIT, async () => {
    const { ws } = await setup();
    const serialLog = join(ws.dir, 'console.log');
    const written = Buffer.alloc(3 * 1024 * 1024);
    for (let i = 0; i < written.length; i++) written[i] = 0x21 + (i % 90);
    writeFileSync(serialLog, written);
    const shim = track(startShim(ws.initArgs(['wait'], ['--serial-log', serialLog])));
    assert.equal((await shim.ready).ok, true);
    const blocksOf = () => statSync(serialLog).blocks * 512;
    await waitFor('the hole', () => (blocksOf() <= 1024 * 1024 ? true : undefined), 5000);
    const kept = readFileSync(serialLog);
    assert.equal(kept.length, written.length, 'QEMU writes at its own offset: the size stays');
    assert.equal(Buffer.compare(kept.subarray(0, 64 * 1024), written.subarray(0, 64 * 1024)), 0, 'the boot is kept');
    const tail = 512 * 1024;
    assert.equal(Buffer.compare(kept.subarray(-tail), written.subarray(-tail)), 0, 'the last 512 KiB are kept');
    assert.ok(
      kept.subarray(64 * 1024, 1024 * 1024).every((b) => b === 0),
      'the middle reads as zeros',
    );
    shim.child.kill('SIGTERM');
    assert.deepEqual(await shim.exited, { code: 143, signal: null });
  });
});
