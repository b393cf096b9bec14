import { readFileSync } from 'node:fs';

/** A process's peak resident memory (VmHWM) in KiB; undefined once it is gone. */
export function peakRssKiB(pid: number): number | undefined {
  try {
    const match = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** Far above what the shim's queues may hold (4 MiB each way, one 1 MiB frame): growth without bound shows. */
export const SHIM_MEMORY_BOUND_KIB = 24 * 1024;
