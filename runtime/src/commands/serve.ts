/**
 * `vmrt --root R serve`: the CLI server of one root (README: The CLI server). A `docker run`
 * makes four or more runtime calls, and each would pay Node's start (about three quarters of a
 * `start` or `delete`); the launcher (`vmrt-shim cli`) hands the short ones to this process
 * instead, which has the CLI loaded. It serves only callers of its own settings (environment, umask)
 * and namespaces; a create's init shim, which containerd reaps, is started by the caller
 * (served-call.ts). It declines the commands that must be processes of the caller (run and exec
 * wait for their process, update reads stdin), and the caller then runs Node itself.
 * It ends once idle, when its socket is removed or replaced, and when the CLI it runs has been
 * rebuilt.
 */
import { readFileSync, readlinkSync, rmSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { isAbsolute, join } from 'node:path';
import { encodeFrame, encodeJsonFrame, FrameDecoder, FrameType, type Frame } from '../agent/frames.js';
import { expectPositionals } from '../args.js';
import type { Command } from '../command.js';
import { errorMessage, RuntimeError } from '../errors.js';
import { CallerChild, servedCall, type ServedCall } from '../served-call.js';
import { fileIdentity } from '../template.js';

/** In the root folder under a name no container id can have ('@' is not in an id). */
export const CLI_SOCKET_NAME = '@cli.sock';
/** How long the server waits for a next call before it ends (VMRT_CLI_SERVER_IDLE_MS sets another). */
const CLI_SERVER_IDLE_MS = 30000;
const WATCH_MS = 1000;

/** What the server needs of the CLI: run one call, and say what a call is. */
export interface CliEntry {
  run(argv: string[]): Promise<number>;
  /**
   * The command a call names and the settings its global flags make (they set variables for the
   * call), when its flags parse, its paths are absolute and it needs none of the caller's process
   * after it returns (a detached exec); else undefined.
   */
  callOf(argv: string[]): { command: string; settings: string } | undefined;
}

/** Commands that need nothing of the caller's process but its arguments, environment and (create, exec) a child. */
const SERVED = new Set(['create', 'exec', 'start', 'state', 'kill', 'delete', 'pause', 'resume', 'ps', 'list', 'features']);
/** The stream of the process a call asks its caller to start (runtime/shim/cli_client.c). */
const CHILD_STREAM = 1;

interface CliRequest {
  /** The CLI the launcher would run (the bundle, or the compiled tree when that is newer). */
  script: string;
  argv: string[];
  env: string[];
  /** The caller's /proc/self/ns links (net, mnt, pid, user, uts, ipc, cgroup). */
  namespaces: string[];
  /** The caller's umask: the files a create writes are made with it. */
  umask: number;
  /** The client's pid: its resource limits are the caller's. */
  pid: number;
}

const NAMESPACES = ['net', 'mnt', 'pid', 'user', 'uts', 'ipc', 'cgroup'];

function ownNamespaces(): string[] {
  return NAMESPACES.map((kind) => {
    try {
      return readlinkSync(`/proc/self/ns/${kind}`);
    } catch {
      return '';
    }
  });
}

function ownUmask(): number {
  return parseInt(/^Umask:\s*([0-7]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? '22', 8);
}

/** process.stdout and process.stderr of a served call go to its caller. */
function routeStdio(): void {
  for (const [stream, type] of [
    [process.stdout, FrameType.STDOUT],
    [process.stderr, FrameType.STDERR],
  ] as const) {
    const own = stream.write.bind(stream) as (...args: unknown[]) => boolean;
    stream.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
      const call = servedCall.getStore();
      if (!call) return own(chunk, ...rest);
      call.output(type, chunk);
      const done = rest.find((r) => typeof r === 'function') as (() => void) | undefined;
      if (done) process.nextTick(done);
      return true;
    }) as typeof stream.write;
  }
}

/**
 * The part of an environment the CLI reads: its VMRT_* settings, PATH (the programs it runs) and
 * TMPDIR. The rest differs from call to call without meaning anything to it (containerd's shims
 * pass their own PWD and GOMAXPROCS).
 */
function readByCli(name: string): boolean {
  return name.startsWith('VMRT_') || name === 'PATH' || name === 'TMPDIR';
}

function sameEnvironment(env: string[], own: NodeJS.ProcessEnv): boolean {
  const theirs = new Map<string, string>();
  for (const entry of env) {
    const eq = entry.indexOf('=');
    if (eq > 0 && readByCli(entry.slice(0, eq))) theirs.set(entry.slice(0, eq), entry.slice(eq + 1));
  }
  const ours = Object.entries(own).filter(([name]) => readByCli(name));
  return ours.length === theirs.size && ours.every(([name, value]) => theirs.get(name) === value);
}

function resetEnvironment(own: NodeJS.ProcessEnv): void {
  for (const name of Object.keys(process.env)) if (!(name in own)) delete process.env[name];
  Object.assign(process.env, own);
}

function parseRequest(payload: Buffer): CliRequest | undefined {
  try {
    const value = JSON.parse(payload.toString('utf8')) as Partial<CliRequest>;
    const strings = (v: unknown): v is string[] => Array.isArray(v) && v.every((s) => typeof s === 'string');
    return typeof value.script === 'string' &&
      strings(value.argv) &&
      strings(value.env) &&
      strings(value.namespaces) &&
      typeof value.umask === 'number' &&
      typeof value.pid === 'number'
      ? { script: value.script, argv: value.argv, env: value.env, namespaces: value.namespaces, umask: value.umask, pid: value.pid }
      : undefined;
  } catch {
    return undefined;
  }
}

/** The caller's side of a call: the process the call asked it to start, its fd 3 and its end. */
class CallerSide {
  private asked?: { argv0: string; resolve: (child: CallerChild) => void; reject: (err: Error) => void };
  private child?: CallerChild;
  private done = false;
  private gone = false;

  constructor(private readonly send: (frame: Buffer) => void) {}

  spawn(argv: string[]): Promise<CallerChild> {
    if (this.gone) return Promise.reject(new RuntimeError('the runtime call ended before it started the process'));
    if (this.asked || this.child) return Promise.reject(new RuntimeError('a call starts one process in its caller'));
    return new Promise((resolve, reject) => {
      this.asked = { argv0: argv[0] ?? '', resolve, reject };
      this.send(encodeJsonFrame(FrameType.REQUEST, CHILD_STREAM, { op: 'spawn', argv }));
    });
  }

  frame(frame: Frame): void {
    if (frame.type === FrameType.STDOUT) {
      this.child?.fd3.write(frame.payload);
      return;
    }
    let value: { ok?: unknown; pid?: unknown; error?: unknown; status?: unknown; signal?: unknown };
    try {
      value = JSON.parse(frame.payload.toString('utf8')) as typeof value;
    } catch {
      return;
    }
    if (frame.type === FrameType.RESPONSE && this.asked) {
      const { argv0, resolve, reject } = this.asked;
      this.asked = undefined;
      if (value.ok === true && typeof value.pid === 'number') resolve((this.child = new CallerChild(value.pid)));
      else reject(new RuntimeError(`the caller could not start ${argv0}: ${String(value.error)}`));
    } else if (frame.type === FrameType.EXIT) {
      this.child?.ended(Number(value.status), Number(value.signal));
    }
  }

  /** The call is over: the caller's going away is no news any more. */
  finished(): void {
    this.done = true;
  }

  closed(): void {
    if (this.done) return;
    this.gone = true;
    this.asked?.reject(new RuntimeError('the runtime call ended before it started the process'));
    this.child?.lost();
  }
}

/** Whether a live server answers at `socket`. */
function answers(socket: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createConnection(socket);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
}

function listen(server: Server, socket: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    // The socket is the root user's alone: a caller runs commands as this process.
    const umask = process.umask(0o077);
    server.listen(socket, () => {
      process.umask(umask);
      server.off('error', reject);
      resolve();
    });
  });
}

export function serveCommand(cli: CliEntry): Command {
  return {
    name: 'serve',
    usage: 'serve',
    summary: "serve this root's short commands from one loaded CLI (the launcher starts it)",
    flags: {},
    async run(args, ctx) {
      expectPositionals(args, 'serve', []);
      const socket = join(ctx.root, CLI_SOCKET_NAME);
      const ownEnv = { ...process.env };
      const idleMs = Number(process.env.VMRT_CLI_SERVER_IDLE_MS) || CLI_SERVER_IDLE_MS;
      const namespaces = ownNamespaces().join(' ');
      const script = process.argv[1] ?? '';
      const scriptIdentity = fileIdentity(script);
      const server = createServer();
      try {
        await listen(server, socket);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE' || (await answers(socket))) return 0; // another serves
        rmSync(socket, { force: true }); // a dead server's
        await listen(server, socket);
      }
      const socketIdentity = fileIdentity(socket);
      routeStdio();
      process.chdir('/');

      const umask = ownUmask();
      let calls = 0;
      /** The settings of the calls in flight, counted: a call's global flags set variables for all of them. */
      const settingsInFlight = new Map<string, number>();
      const countSettings = (settings: string, by: number) => {
        const count = (settingsInFlight.get(settings) ?? 0) + by;
        if (count > 0) settingsInFlight.set(settings, count);
        else settingsInFlight.delete(settings);
      };
      let lastCall = Date.now();
      let ending = false;
      const serveCall = async (conn: Socket, request: CliRequest, caller: CallerSide) => {
        const reply = (frame: Buffer) => {
          if (!conn.destroyed) conn.write(frame);
        };
        const call = cli.callOf(request.argv);
        const elsewhere = request.namespaces.join(' ') !== namespaces;
        const otherCli = request.script !== script;
        // Started by a call from elsewhere (the init shim runs `vmrt network-sync` in a container's
        // netns), or running a CLI the launcher no longer picks: this server ends, and the next
        // call starts one where the calls come from, with the CLI they run.
        if (elsewhere || otherCli) ending = true;
        const why = elsewhere
          ? 'other namespaces'
          : otherCli
            ? 'another CLI'
            : ending
              ? 'the server is ending'
              : !sameEnvironment(request.env, ownEnv)
                ? 'another environment'
                : request.umask !== umask
                  ? 'another umask'
                  : call === undefined || !SERVED.has(call.command)
                    ? 'not a served command'
                    : [...settingsInFlight.keys()].some((settings) => settings !== call.settings)
                      ? 'calls of other settings in flight'
                      : undefined;
        if (why || !call) {
          ctx.logger.debug(`CLI server: ${call?.command ?? 'a call'} declined: ${why}`);
          reply(encodeJsonFrame(FrameType.RESPONSE, 0, { ok: false, error: why }));
          conn.end();
          return;
        }
        calls++;
        countSettings(call.settings, 1);
        try {
          reply(encodeJsonFrame(FrameType.RESPONSE, 0, { ok: true }));
          const served: ServedCall = {
            callerPid: request.pid,
            output: (type, chunk) => reply(encodeFrame(type, 0, Buffer.from(chunk))),
            spawnInCaller: (argv) => caller.spawn(argv),
          };
          const status = await servedCall.run(served, () => cli.run(request.argv));
          caller.finished();
          reply(encodeJsonFrame(FrameType.EXIT, 0, { status, signal: 0 }));
        } catch (err) {
          caller.finished();
          reply(encodeFrame(FrameType.STDERR, 0, Buffer.from(`vmrt: ${errorMessage(err)}\n`)));
          reply(encodeJsonFrame(FrameType.EXIT, 0, { status: 1, signal: 0 }));
        } finally {
          conn.end();
          calls--;
          countSettings(call.settings, -1);
          lastCall = Date.now();
          // A call's global flags (--vm-template, --memory-merge, --shared-mmap-layout) set variables: none outlives it.
          if (calls === 0) resetEnvironment(ownEnv);
        }
      };
      server.on('connection', (conn) => {
        const decoder = new FrameDecoder();
        /** Set by the call's REQUEST; later frames are the caller's about the process it started. */
        let caller: CallerSide | undefined;
        let refused = false;
        conn.on('error', () => conn.destroy());
        conn.on('close', () => caller?.closed());
        conn.on('data', (chunk) => {
          if (refused) return;
          let frames;
          try {
            frames = decoder.push(chunk);
          } catch {
            conn.destroy();
            return;
          }
          for (const frame of frames) {
            if (caller) {
              if (frame.stream === CHILD_STREAM) caller.frame(frame);
              continue;
            }
            const request = frame.type === FrameType.REQUEST ? parseRequest(frame.payload) : undefined;
            if (!request) {
              refused = true;
              conn.end(encodeJsonFrame(FrameType.RESPONSE, 0, { ok: false, error: 'not a CLI request' }));
              return;
            }
            caller = new CallerSide((frame) => {
              if (!conn.destroyed) conn.write(frame);
            });
            void serveCall(conn, request, caller);
          }
        });
      });

      await new Promise<void>((resolve) => {
        let closed = false;
        const watch = setInterval(() => {
          const replaced = fileIdentity(socket) !== socketIdentity;
          const rebuilt = fileIdentity(script) !== scriptIdentity;
          const idle = calls === 0 && Date.now() - lastCall > idleMs;
          ending ||= replaced || rebuilt || idle;
          if (ending && !closed) {
            closed = true;
            // Never another server's socket: only the one this server made goes with it.
            if (!replaced) rmSync(socket, { force: true });
            server.close();
          }
          if (closed && calls === 0) {
            clearInterval(watch);
            resolve();
          }
        }, WATCH_MS);
      });
      return 0;
    },
  };
}

/** Whether the paths a call gives (those it gives) are absolute: the server's folder is not the caller's. */
export function pathsAbsolute(paths: Array<string | undefined>): boolean {
  return paths.every((path) => path === undefined || isAbsolute(path));
}
