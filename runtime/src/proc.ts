/** Host process helpers: liveness with pid-reuse protection, fds, and detached spawning. */
import { spawn, spawnSync, type StdioOptions } from 'node:child_process';
import { openSync, readFileSync, readdirSync } from 'node:fs';
import { RuntimeError } from './errors.js';

/** Fields 3 (state) and 22 (start time in clock ticks) of /proc/<pid>/stat; undefined once the pid is gone. */
function stateAndStartTime(pid: number): { state: string; startTime: string } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { state: fields[0]!, startTime: fields[19]! };
  } catch {
    return undefined;
  }
}

/** The start time of a live process (a zombie has ended): tells a pid from its reuse. */
export function processStartTime(pid: number): string | undefined {
  const stat = stateAndStartTime(pid);
  return stat && stat.state !== 'Z' && stat.state !== 'X' ? stat.startTime : undefined;
}

export interface ProcessRef {
  pid: number;
  startTime: string;
}

export function refOf(pid: number): ProcessRef {
  const startTime = processStartTime(pid);
  if (startTime === undefined) throw new RuntimeError(`process ${pid} ended unexpectedly`);
  return { pid, startTime };
}

export function isAlive(ref: ProcessRef | undefined): boolean {
  return ref !== undefined && processStartTime(ref.pid) === ref.startTime;
}

export function signalProcess(ref: ProcessRef | undefined, signal: NodeJS.Signals | number): boolean {
  if (!ref || !isAlive(ref)) return false;
  try {
    process.kill(ref.pid, signal);
    return true;
  } catch {
    return false;
  }
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Polls until `done` holds; false after `timeoutMs`. */
async function pollUntil(done: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) return false;
    await sleep(20);
  }
  return true;
}

/** Waits until `ref` is gone (a zombie counts as gone: its parent reaps it). */
export function waitGone(ref: ProcessRef | undefined, timeoutMs: number): Promise<boolean> {
  return pollUntil(() => !isAlive(ref), timeoutMs);
}

/** Waits until the process has ended and its parent has reaped it (a zombie is not reaped yet); false after `timeoutMs`. */
export function waitReaped(ref: ProcessRef | undefined, timeoutMs: number): Promise<boolean> {
  return pollUntil(() => !ref || stateAndStartTime(ref.pid)?.startTime !== ref.startTime, timeoutMs);
}

/** SIGTERM (or nothing), a grace period, then SIGKILL. */
export async function terminate(ref: ProcessRef | undefined, graceMs: number): Promise<void> {
  if (!isAlive(ref)) return;
  if (graceMs > 0) {
    signalProcess(ref, 'SIGTERM');
    if (await waitGone(ref, graceMs)) return;
  }
  signalProcess(ref, 'SIGKILL');
  await waitGone(ref, 5000);
}

/**
 * File descriptors this process inherited without close-on-exec (Docker's shim passes its
 * listening socket as fd 3). libuv leaves such fds open in children unless the stdio array
 * replaces them, and a daemon that keeps them makes Docker wait forever.
 */
export function inheritedFds(): number[] {
  const fds: number[] = [];
  for (const name of readdirSync('/proc/self/fdinfo')) {
    const fd = Number(name);
    if (fd < 3) continue;
    try {
      const flags = /flags:\s+([0-7]+)/.exec(readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'))?.[1];
      if (flags !== undefined && (parseInt(flags, 8) & 0o2000000) === 0) fds.push(fd);
    } catch {
      // The fd closed while we looked (e.g. the readdir handle itself).
    }
  }
  return fds;
}

/**
 * A stdio array for a child: `first` for its fds 0.. (as given), and /dev/null over every other
 * inherited fd so the child holds none of the caller's pipes or sockets.
 */
export function isolatedStdio(first: Array<'ignore' | 'inherit' | 'pipe' | number>): StdioOptions {
  const stdio: Array<'ignore' | 'inherit' | 'pipe' | number> = [...first];
  const inherited = inheritedFds().filter((fd) => fd >= stdio.length);
  if (inherited.length === 0) return stdio;
  const devNull = openSync('/dev/null', 'r+');
  const last = Math.max(...inherited);
  for (let fd = stdio.length; fd <= last; fd++) stdio.push(devNull);
  return stdio;
}

/** Starts a long-lived helper that outlives this CLI; returns its pid. `fd3`: what it gets as fd 3. */
export function spawnDaemon(file: string, args: string[], logFd: number, env?: NodeJS.ProcessEnv, fd3?: number): number {
  const child = spawn(file, args, {
    detached: true,
    stdio: isolatedStdio(['ignore', logFd, logFd, ...(fd3 === undefined ? [] : [fd3])]),
    env: env ?? process.env,
  });
  if (child.pid === undefined) throw new RuntimeError(`cannot start ${file}`);
  child.on('error', () => undefined);
  child.unref();
  return child.pid;
}

/** Runs a short host command (mount, ip, …), `input` on its stdin, and fails with its stderr. */
export function run(file: string, args: string[], input?: string): string {
  const result = spawnSync(file, args, { encoding: 'utf8', stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'], input });
  if (result.error) throw new RuntimeError(`${file} ${args.join(' ')}: ${result.error.message}`);
  if (result.status !== 0) {
    throw new RuntimeError(`${file} ${args.join(' ')}: ${(result.stderr || result.stdout).trim() || `exit status ${result.status}`}`);
  }
  return result.stdout;
}

/** Live host processes whose command line contains `needle` (QEMU and shims name their socket folder). */
export function processesMentioning(needle: string): Array<ProcessRef & { cmdline: string }> {
  const found: Array<ProcessRef & { cmdline: string }> = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      const cmdline = readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0').join(' ').trim();
      if (!cmdline.includes(needle)) continue;
      const startTime = processStartTime(Number(name));
      if (startTime !== undefined) found.push({ pid: Number(name), startTime, cmdline });
    } catch {
      // The process ended while we looked.
    }
  }
  return found;
}
