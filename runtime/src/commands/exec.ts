import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ShimChild } from '../served-call.js';
import { flagBool, flagList, flagString, type ParsedArgs } from '../args.js';
import { parseConfig } from '../bundle.js';
import type { Command } from '../command.js';
import { execDirOf, loadWholeState, muxSocketOf, shimLogOf, spawnShim, writePidFile } from '../container.js';
import { addToCgroups } from '../cgroups.js';
import { RuntimeError, UsageError } from '../errors.js';
import { processStartTime } from '../proc.js';
import type { Process } from '../spec.js';
import { statusOf, type ContainerState } from '../state.js';
import { forwardSignals, waitExit } from './run.js';

function parseUser(text: string): { uid: number; gid: number } {
  const m = /^(\d+)(?::(\d+))?$/.exec(text);
  if (!m) throw new UsageError(`--user must be uid[:gid] (numbers), got "${text}"`);
  return { uid: Number(m[1]), gid: Number(m[2] ?? 0) };
}

/** The process to run: `--process` as given, or the container's own process with the args replaced. */
export function execProcess(args: ParsedArgs, state: ContainerState, command: string[]): Process {
  const file = flagString(args, 'process');
  if (file) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      throw new RuntimeError(`process file ${file} does not exist`);
    }
    let process: unknown;
    try {
      process = JSON.parse(text);
    } catch (err) {
      throw new RuntimeError(`${file} is not valid JSON: ${(err as Error).message}`);
    }
    const p = process as Process;
    if (!p || typeof p !== 'object' || !Array.isArray(p.args) || p.args.length === 0)
      throw new RuntimeError(`${file}: args: must be a non-empty array`);
    return p;
  }
  if (command.length === 0) throw new UsageError('exec needs a command (or --process)');
  const configPath = join(state.bundle, 'config.json');
  let base: Process = { cwd: '/', env: [] };
  try {
    base = parseConfig(readFileSync(configPath, 'utf8'), configPath).process ?? base;
  } catch {
    // The bundle may be gone: run with defaults.
  }
  const user = flagString(args, 'user');
  const gids = flagList(args, 'additional-gids').map(Number);
  return {
    ...base,
    terminal: flagBool(args, 'tty'),
    args: command,
    cwd: flagString(args, 'cwd') ?? base.cwd,
    env: [...(base.env ?? []), ...flagList(args, 'env')],
    user: user ? { ...parseUser(user), ...(gids.length ? { additionalGids: gids } : {}) } : base.user,
  };
}

export const exec: Command = {
  name: 'exec',
  usage: 'exec [--process F | <command> [args…]] [--detach] [--pid-file F] [--console-socket S] [-t] <container-id>',
  summary: 'run another process in the container',
  flags: {
    process: { kind: 'string', aliases: ['p'], help: 'a JSON file with the OCI process' },
    detach: { kind: 'bool', aliases: ['d'], help: 'return once the process exists' },
    'pid-file': { kind: 'string', help: 'file to write the pid of the process to' },
    'console-socket': { kind: 'string', help: 'unix socket that receives the pty master' },
    tty: { kind: 'bool', aliases: ['t'], help: 'allocate a terminal' },
    cwd: { kind: 'string', help: 'working folder' },
    env: { kind: 'list', aliases: ['e'], help: 'extra environment variable (repeatable)' },
    user: { kind: 'string', aliases: ['u'], help: 'uid[:gid]' },
    'additional-gids': { kind: 'list', aliases: ['g'], help: 'extra group (repeatable)' },
    cap: { kind: 'list', aliases: ['c'], help: 'accepted for runc compatibility' },
    'no-new-privs': { kind: 'bool', help: 'accepted for runc compatibility' },
    'preserve-fds': { kind: 'string', help: 'accepted for runc compatibility' },
    'ignore-paused': { kind: 'bool', help: 'accepted for runc compatibility' },
    'process-label': { kind: 'string', help: 'accepted for runc compatibility' },
    apparmor: { kind: 'string', help: 'accepted for runc compatibility' },
  },
  async run(args, ctx) {
    const [id, ...command] = args.positionals;
    if (!id) throw new UsageError('"exec" requires <container-id>');
    const state = loadWholeState(ctx.root, id);
    const status = statusOf(state);
    if (status !== 'running' && status !== 'created') throw new RuntimeError(`cannot exec in a container that is ${status}`);
    const processSpec = execProcess(args, state, command);
    const consoleSocket = flagString(args, 'console-socket');
    if (processSpec.terminal && !consoleSocket) throw new UsageError('a terminal (-t or process.terminal) needs --console-socket');
    const name = randomBytes(6).toString('hex');
    const processFile = join(state.runDir, `process-${name}.json`);
    writeFileSync(processFile, JSON.stringify(processSpec));
    let shim: ShimChild;
    try {
      const shimArgs = ['exec', '--mux-socket', muxSocketOf(state), '--id', id, '--process', processFile];
      if (consoleSocket) shimArgs.push('--console-socket', consoleSocket);
      const logFile = shimLogOf(ctx.root, id).replace(/\.log$/, `-exec-${name}.log`);
      ({ shim } = await spawnShim(shimArgs, 'exec failed: unable to start container process', logFile));
    } finally {
      rmSync(processFile, { force: true });
    }
    // A short process may be over already: its shim then has nothing left to clean up.
    const startTime = processStartTime(shim.pid!);
    if (startTime !== undefined) {
      mkdirSync(execDirOf(state.runDir), { recursive: true });
      writeFileSync(join(execDirOf(state.runDir), `${shim.pid}.json`), JSON.stringify({ pid: shim.pid, startTime }));
      addToCgroups(state.cgroups, shim.pid!);
    }
    const pidFile = flagString(args, 'pid-file');
    if (pidFile) writePidFile(pidFile, shim.pid!);
    if (flagBool(args, 'detach')) {
      shim.unref();
      return 0;
    }
    forwardSignals(shim);
    return waitExit(shim);
  },
};
