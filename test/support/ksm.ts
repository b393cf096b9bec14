/**
 * The host's same-page merging (KSM, /sys/kernel/mm/ksm) for a test or a bench: run at a given
 * scan rate, then put back as it was, with what it merged split again if it was not running.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { KSM_DIR } from '../../runtime/src/vm.js';
import { waitFor } from './wait.js';

const read = (file: string) => readFileSync(join(KSM_DIR, file), 'utf8').trim();
const write = (file: string, value: string) => writeFileSync(join(KSM_DIR, file), value);

/** Runs `body` while the host's KSM scans `pagesToScan` pages every 20 ms. */
export async function withHostKsm<T>(pagesToScan: number, body: () => Promise<T>): Promise<T> {
  const saved = ['pages_to_scan', 'sleep_millisecs', 'run'].map((file) => [file, read(file)] as const);
  const wasRunning = read('run') === '1';
  try {
    write('pages_to_scan', String(pagesToScan));
    write('sleep_millisecs', '20');
    write('run', '1');
    return await body();
  } finally {
    // `echo 2 > run` splits the merged pages again and stops.
    if (!wasRunning) write('run', '2');
    for (const [file, value] of saved) write(file, value);
  }
}

/** Waits until KSM has scanned all mergeable memory `scans` more times (the second scan merges what the first found). */
export async function awaitKsmScans(scans: number, timeoutMs: number): Promise<void> {
  const fullScans = () => Number(read('full_scans'));
  const target = fullScans() + scans;
  await waitFor(`${scans} full KSM scans`, () => fullScans() >= target || undefined, timeoutMs);
}

/** The KSM figures of one process (/proc/<pid>/ksm_stat: ksm_merge_any, ksm_merging_pages, …). */
export function ksmStat(pid: number): Map<string, string> {
  return new Map(
    readFileSync(`/proc/${pid}/ksm_stat`, 'utf8')
      .trim()
      .split('\n')
      .map((line) => line.split(/:? /) as [string, string]),
  );
}

/** The pid of the kernel's KSM thread. */
export function ksmdPid(): number {
  const pid = readdirSync('/proc').find((name) => /^\d+$/.test(name) && readFileSync(`/proc/${name}/comm`, 'utf8') === 'ksmd\n');
  if (pid === undefined) throw new Error('no ksmd thread: this kernel has no KSM');
  return Number(pid);
}
