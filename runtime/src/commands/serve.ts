/**
 * `vmrt --root R serve`: the CLI server of one root (README: The CLI server). A `docker run`
 * makes four or more runtime calls, and each would pay Node's start (about three quarters of a
 * `start` or `delete`); the launcher (`vmrt-shim cli`) hands the short ones to this process
 * instead, which has the CLI loaded. It serves only callers of its own settings (environment) and
 * namespaces; it declines the commands that must be processes of the caller (create, run and exec
 * leave a shim behind for containerd to reap) or read stdin, and the caller then runs Node itself.
 * It ends once idle, when its socket is removed or replaced, and when the CLI it runs has been
 * rebuilt.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { readlinkSync, rmSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { isAbsolute, join } from 'node:path';
import { encodeFrame, encodeJsonFrame, FrameDecoder, FrameType } from '../agent/frames.js';
import { expectPositionals } from '../args.js';
import type { Command } from '../command.js';
import { errorMessage } from '../errors.js';
import { fileIdentity } from '../template.js';

/** In the root folder under a name no container id can have ('@' is not in an id). */
export const CLI_SOCKET_NAME = '@cli.sock';
/** How long the server waits for a next call before it ends (VMRT_CLI_SERVER_IDLE_MS sets another). */
const CLI_SERVER_IDLE_MS = 30000;
const WATCH_MS = 1000;

/** What the server needs of the CLI: run one call, and say which command a call is. */
export interface CliEntry {
  run(argv: string[]): Promise<number>;
  /** The command a call names when its global flags parse and its paths are absolute, else undefined. */
  commandOf(argv: string[]): string | undefined;
}

/** Short commands that need nothing of the caller's process but its arguments and environment. */
const SERVED = new Set(['start', 'state', 'kill', 'delete', 'pause', 'resume', 'ps', 'list', 'features']);

interface CliRequest {
  /** The CLI the launcher would run (the bundle, or the compiled tree when that is newer). */
  script: string;
  argv: string[];
  env: string[];
  /** The caller's /proc/self/ns links (net, mnt, pid, user, uts, ipc, cgroup). */
  namespaces: string[];
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

type Output = (type: number, chunk: string | Uint8Array) => void;

/** The output of the call being served in this async context (process.stdout/stderr route to it). */
const callOutput = new AsyncLocalStorage<Output>();

function routeStdio(): void {
  for (const [stream, type] of [
    [process.stdout, FrameType.STDOUT],
    [process.stderr, FrameType.STDERR],
  ] as const) {
    const own = stream.write.bind(stream) as (...args: unknown[]) => boolean;
    stream.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
      const output = callOutput.getStore();
      if (!output) return own(chunk, ...rest);
      output(type, chunk);
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
    return typeof value.script === 'string' && strings(value.argv) && strings(value.env) && strings(value.namespaces)
      ? { script: value.script, argv: value.argv, env: value.env, namespaces: value.namespaces }
      : undefined;
  } catch {
    return undefined;
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

      let calls = 0;
      let lastCall = Date.now();
      let ending = false;
      const serveCall = async (conn: Socket, request: CliRequest) => {
        const reply = (frame: Buffer) => {
          if (!conn.destroyed) conn.write(frame);
        };
        const command = cli.commandOf(request.argv);
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
                : command === undefined || !SERVED.has(command)
                  ? 'not a served command'
                  : undefined;
        if (why) {
          ctx.logger.debug(`CLI server: ${command ?? 'a call'} declined: ${why}`);
          reply(encodeJsonFrame(FrameType.RESPONSE, 0, { ok: false, error: why }));
          conn.end();
          return;
        }
        calls++;
        try {
          reply(encodeJsonFrame(FrameType.RESPONSE, 0, { ok: true }));
          const output: Output = (type, chunk) => reply(encodeFrame(type, 0, Buffer.from(chunk)));
          const status = await callOutput.run(output, () => cli.run(request.argv));
          reply(encodeJsonFrame(FrameType.EXIT, 0, { status, signal: 0 }));
        } catch (err) {
          reply(encodeFrame(FrameType.STDERR, 0, Buffer.from(`vmrt: ${errorMessage(err)}\n`)));
          reply(encodeJsonFrame(FrameType.EXIT, 0, { status: 1, signal: 0 }));
        } finally {
          conn.end();
          calls--;
          lastCall = Date.now();
          // A call's global flags (--vm-template, --memory-merge) set variables: none outlives it.
          if (calls === 0) resetEnvironment(ownEnv);
        }
      };
      server.on('connection', (conn) => {
        const decoder = new FrameDecoder();
        let taken = false;
        conn.on('error', () => conn.destroy());
        conn.on('data', (chunk) => {
          if (taken) return;
          let frames;
          try {
            frames = decoder.push(chunk);
          } catch {
            conn.destroy();
            return;
          }
          const frame = frames[0];
          if (!frame) return;
          taken = true;
          const request = frame.type === FrameType.REQUEST ? parseRequest(frame.payload) : undefined;
          if (!request) {
            conn.end(encodeJsonFrame(FrameType.RESPONSE, 0, { ok: false, error: 'not a CLI request' }));
            return;
          }
          void serveCall(conn, request);
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

/** Whether a call's root and log are absolute paths (the server's folder is not the caller's). */
export function pathsAbsolute(root: string | undefined, log: string | undefined): boolean {
  return (root === undefined || isAbsolute(root)) && (log === undefined || isAbsolute(log));
}
