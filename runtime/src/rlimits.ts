/**
 * The resource limits a container inherits. Under runc, a limit config.json does not set is the
 * one runc itself runs with (containerd's: `ulimit -n` 1048576 or 20000, not the kernel's 1024);
 * in the VM the agent would leave the guest kernel's defaults. So the host's finite limits go into
 * the guest spec for every type config.json leaves out. ("unlimited" pairs are left out: they are
 * the guest kernel's defaults too, and 2^64-1 has no exact JSON number in JavaScript.)
 */
import { readFileSync } from 'node:fs';
import { servedCall } from './served-call.js';

type Rlimit = { type: string; hard: number; soft: number };

/** /proc/<pid>/limits row names → the OCI rlimit types. */
const LIMIT_NAMES: Record<string, string> = {
  'Max cpu time': 'RLIMIT_CPU',
  'Max file size': 'RLIMIT_FSIZE',
  'Max data size': 'RLIMIT_DATA',
  'Max stack size': 'RLIMIT_STACK',
  'Max core file size': 'RLIMIT_CORE',
  'Max resident set': 'RLIMIT_RSS',
  'Max processes': 'RLIMIT_NPROC',
  'Max open files': 'RLIMIT_NOFILE',
  'Max locked memory': 'RLIMIT_MEMLOCK',
  'Max address space': 'RLIMIT_AS',
  'Max file locks': 'RLIMIT_LOCKS',
  'Max pending signals': 'RLIMIT_SIGPENDING',
  'Max msgqueue size': 'RLIMIT_MSGQUEUE',
  'Max nice priority': 'RLIMIT_NICE',
  'Max realtime priority': 'RLIMIT_RTPRIO',
  'Max realtime timeout': 'RLIMIT_RTTIME',
};

/**
 * The finite limits of the process that ran vmrt (containerd's shim, as for runc; the launcher's
 * client of a call the CLI server runs): Node raises its own open-files limit at start, so this
 * process's are not what the caller had.
 */
export function hostRlimits(text = readFileSync(`/proc/${servedCall.getStore()?.callerPid ?? process.ppid}/limits`, 'utf8')): Rlimit[] {
  return text.split('\n').flatMap((line) => {
    const name = Object.keys(LIMIT_NAMES).find((candidate) => line.startsWith(candidate));
    const [soft, hard] = name ? line.slice(name.length).trim().split(/\s+/) : [];
    if (!name || !/^\d+$/.test(soft ?? '') || !/^\d+$/.test(hard ?? '')) return [];
    return [{ type: LIMIT_NAMES[name]!, soft: Number(soft), hard: Number(hard) }];
  });
}

/** config.json's rlimits, then the host's for every type it leaves out. */
export function inheritedRlimits(given: readonly Rlimit[] | undefined, host = hostRlimits()): Rlimit[] {
  const set = new Set((given ?? []).map((limit) => limit.type));
  return [...(given ?? []), ...host.filter((limit) => !set.has(limit.type))];
}
