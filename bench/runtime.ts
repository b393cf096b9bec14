/**
 * `npm run bench:runtime`: vmrt against runc under one private dockerd and one image. vmrt runs
 * twice: cold-booted VMs (runtime `vmrt`) and VMs restored from a VM template (runtime
 * `vmrt-template`: the same launcher with `--vm-template on` in daemon.json's runtimeArgs).
 * 1. `docker run --rm IMG true`, vmrt, vmrt-template and runc interleaved, ≥ 10 rounds: medians
 *    and their ratios to runc; then the boot timeline of each (the runtime's `phase` lines,
 *    collected through VMRT_DEBUG_LOG): median milliseconds from create's start to each phase.
 * 2. Host memory per idle container (PSS of QEMU, virtiofsd and shim from /proc/<pid>/smaps_rollup,
 *    and apart the root's one CLI server) with 1 and 10 containers running (and BENCH_DENSITY, default 100, templated), none with a
 *    memory limit (the VM's default size), and the host CPU the idle VMs burn; at 10 and at
 *    BENCH_DENSITY, again once the host's KSM has merged their identical pages (and KSM's own CPU).
 * 3. Memory handed back: the host RSS of a container's processes before, right after the guest
 *    filled and freed 1 GiB (a tmpfs file written and removed), and 10 s later.
 * The accelerator in use is printed with the figures (the issue's targets are for TCG).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startDockerd, type Dockerd } from '../test/support/dockerd.js';
import { importBusyboxImage, REPO } from '../test/support/images.js';
import { rssKiBOf } from '../test/support/cycles.js';
import { processesMentioning } from '../runtime/src/proc.js';
import { runDirFor } from '../runtime/src/state.js';
import { chooseAccelerator } from '../runtime/src/vm.js';
import { awaitKsmScans, ksmdPid, withHostKsm } from '../test/support/ksm.js';
import { cliServers } from '../test/support/leftovers.js';
import { cpuMsOf, loadAverage, median } from './stats.js';

const IMAGE = 'vmrt-bench-busybox';
const PAIRS = Number(process.env.BENCH_PAIRS ?? 10);
const DENSITY = Number(process.env.BENCH_DENSITY ?? 100);
const RUNTIMES = ['vmrt', 'vmrt-template', 'runc'] as const;
/** KSM's scan rate while the bench runs it: 1,000 pages (4 MiB) every 20 ms; the kernel's default is 100. */
const KSM_PAGES_TO_SCAN = Number(process.env.BENCH_KSM_PAGES ?? 1000);

function timedRun(d: Dockerd, runtime: string): number {
  const started = process.hrtime.bigint();
  const r = d.docker(['run', '--rm', '--runtime', runtime, IMAGE, 'true']);
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  if (r.status !== 0) throw new Error(`docker run --runtime ${runtime} failed: ${r.stderr}`);
  return ms;
}

function pssKiB(pid: number): number {
  const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  return Number(/^Pss:\s+(\d+) kB/m.exec(rollup)?.[1] ?? 0);
}

/** PSS of every host process of one vmrt container (they name its socket folder). */
function containerPssKiB(d: Dockerd, id: string): { kib: number; processes: number } {
  const procs = processesMentioning(runDirFor(d.runtimeRoot, id));
  return { kib: procs.reduce((sum, p) => sum + pssKiB(p.pid), 0), processes: procs.length };
}

/** Host CPU time (ms) the processes have used so far; a process gone meanwhile counts nothing. */
function cpuMs(pids: number[]): number {
  return pids.reduce((sum, pid) => {
    try {
      return sum + cpuMsOf(pid);
    } catch {
      return sum;
    }
  }, 0);
}

/** PSS per container (KiB) of the containers `ids`, and the host processes one of them has. */
function pssPerContainer(d: Dockerd, ids: string[]): { kib: number; processes: number } {
  const each = ids.map((id) => containerPssKiB(d, id));
  return { kib: each.reduce((s, e) => s + e.kib, 0) / ids.length, processes: each[0]!.processes };
}

/**
 * The same idle containers once the host's KSM has merged their identical pages (README: Memory
 * merging), and the CPU that KSM's thread spends scanning them at that rate.
 */
async function mergedMemory(d: Dockerd, runtime: string, ids: string[]): Promise<void> {
  await withHostKsm(KSM_PAGES_TO_SCAN, async () => {
    const started = Date.now();
    await awaitKsmScans(3, 600000);
    const mergeSeconds = (Date.now() - started) / 1000;
    const merged = pssPerContainer(d, ids);
    const ksmd = ksmdPid();
    const cpuBefore = cpuMsOf(ksmd);
    await new Promise((r) => setTimeout(r, 10000));
    console.log(
      `${runtime}: idle containers: ${ids.length}  with the host's KSM on (${KSM_PAGES_TO_SCAN} pages every 20 ms; merged in ${mergeSeconds.toFixed(0)} s): PSS per container ${(merged.kib / 1024).toFixed(1)} MiB; KSM's own CPU over 10 s: ${((cpuMsOf(ksmd) - cpuBefore) / 100).toFixed(1)}% of one core`,
    );
  });
}

async function idleMemory(d: Dockerd, runtime: string, count: number, merge = false): Promise<void> {
  const ids: string[] = [];
  try {
    for (let i = 0; i < count; i++) ids.push(d.dockerOk(['run', '-d', '--runtime', runtime, IMAGE, 'sleep', '100000']).trim());
    await new Promise((r) => setTimeout(r, 3000));
    const pss = pssPerContainer(d, ids);
    const pids = ids.flatMap((id) => processesMentioning(runDirFor(d.runtimeRoot, id)).map((p) => p.pid));
    const cpuBefore = cpuMs(pids);
    await new Promise((r) => setTimeout(r, 10000));
    const idleCpu = (cpuMs(pids) - cpuBefore) / 10000;
    console.log(
      `${runtime}: idle containers: ${count}  PSS per container (${pss.processes} processes): ${(pss.kib / 1024).toFixed(1)} MiB  (total ${((pss.kib * count) / 1024).toFixed(1)} MiB); host CPU of all of them over 10 s idle: ${(idleCpu * 100).toFixed(1)}% of one core; the root's CLI server (one for all): ${(cliServers(d.runtimeRoot).reduce((sum, pid) => sum + pssKiB(pid), 0) / 1024).toFixed(1)} MiB`,
    );
    if (merge) await mergedMemory(d, runtime, ids);
    const exec = Date.now();
    for (const id of ids) d.dockerOk(['exec', id, 'true']);
    console.log(`${runtime}: docker exec … true answered in each of the ${count}: ${((Date.now() - exec) / count).toFixed(0)} ms each`);
  } finally {
    if (ids.length) d.docker(['rm', '-f', ...ids]);
  }
}

/** Median milliseconds from create's start to each phase, for the creates of one kind. */
function bootTimeline(debugLog: string, templated: boolean): string {
  const byContainer = new Map<string, Map<string, number>>();
  for (const line of readFileSync(debugLog, 'utf8').split('\n')) {
    const m = /msg="\[\d+\] phase ([^:]+): (\d+) ms \(container ([^)]+)\)"/.exec(line);
    if (!m) continue;
    if (!byContainer.has(m[3]!)) byContainer.set(m[3]!, new Map());
    byContainer.get(m[3]!)!.set(m[1]!, Number(m[2]));
  }
  const creates = [...byContainer.values()].filter((phases) => phases.has('template ready') === templated);
  const names = [...new Set(creates.flatMap((phases) => [...phases.keys()]))];
  const columns = names.map((name) => `${name} ${median(creates.flatMap((p) => (p.has(name) ? [p.get(name)!] : []))).toFixed(0)}`);
  return `${columns.join(' | ')}  (ms since create began; median of ${creates.length})`;
}

/** Host RSS of the container's processes (MiB) now, after the guest filled and freed 1 GiB, and 10 s later. */
async function freedMemory(d: Dockerd, runtime: string): Promise<void> {
  const id = d.dockerOk(['run', '-d', '--runtime', runtime, '--tmpfs', '/fill:size=1100m', IMAGE, 'sleep', '100000']).trim();
  try {
    const rss = () => processesMentioning(runDirFor(d.runtimeRoot, id)).reduce((sum, p) => sum + rssKiBOf(p.pid), 0) / 1024;
    await new Promise((r) => setTimeout(r, 3000));
    const idle = rss();
    d.dockerOk(['exec', id, 'sh', '-c', 'dd if=/dev/zero of=/fill/f bs=1M count=1024 2>/dev/null && rm /fill/f']);
    const filled = rss();
    await new Promise((r) => setTimeout(r, 10000));
    console.log(
      `${runtime}: 1 GiB filled and freed in the guest: host RSS idle ${idle.toFixed(0)} MiB, right after ${filled.toFixed(0)} MiB, 10 s later ${rss().toFixed(0)} MiB`,
    );
  } finally {
    d.docker(['rm', '-f', id]);
  }
}

const accel = await chooseAccelerator();
console.log(`accelerator: ${accel.accelerator.toUpperCase()} (${accel.reason})`);
const work = mkdtempSync('/tmp/vmrt-bench-');
const daemonJson = join(work, 'daemon.json');
writeFileSync(
  daemonJson,
  JSON.stringify({ runtimes: { 'vmrt-template': { path: join(REPO, 'runtime', 'bin', 'vmrt'), runtimeArgs: ['--vm-template', 'on'] } } }),
);
const debugLog = join(work, 'vmrt-debug.log');
process.env.VMRT_DEBUG_LOG = debugLog;
const d = await startDockerd(['--config-file', daemonJson]);
try {
  importBusyboxImage((args, input) => d.dockerOk(args, input), d.dir, IMAGE);
  // The first templated run makes the template (`vmrt template list` shows it).
  for (const runtime of RUNTIMES) timedRun(d, runtime);
  rmSync(debugLog, { force: true });
  const times = new Map<string, number[]>(RUNTIMES.map((r) => [r, []]));
  for (let i = 0; i < PAIRS; i++) {
    for (const runtime of RUNTIMES) times.get(runtime)!.push(timedRun(d, runtime));
    console.log(`round ${i + 1}: ${RUNTIMES.map((r) => `${r} ${times.get(r)![i]!.toFixed(0)} ms`).join(', ')}`);
  }
  const runc = median(times.get('runc')!);
  console.log(
    `docker run --rm IMG true, ${PAIRS} interleaved rounds: median ${RUNTIMES.map((r) => `${r} ${median(times.get(r)!).toFixed(0)} ms`).join(', ')}; ` +
      `vmrt/runc ${(median(times.get('vmrt')!) / runc).toFixed(1)}x, vmrt-template/runc ${(median(times.get('vmrt-template')!) / runc).toFixed(1)}x  [${accel.accelerator.toUpperCase()}, load ${loadAverage()}]`,
  );
  console.log(`boot timeline, cold: ${bootTimeline(debugLog, false)}`);
  console.log(`boot timeline, templated: ${bootTimeline(debugLog, true)}`);
  for (const runtime of ['vmrt', 'vmrt-template']) {
    await idleMemory(d, runtime, 1);
    await idleMemory(d, runtime, 10, true);
  }
  if (DENSITY > 10) await idleMemory(d, 'vmrt-template', DENSITY, true);
  await freedMemory(d, 'vmrt');
  await freedMemory(d, 'vmrt-template');
  console.log(`(accelerator: ${accel.accelerator.toUpperCase()}; QEMU memory from ${join('/proc', '<pid>', 'smaps_rollup')})`);
} finally {
  await d.stop();
  rmSync(work, { recursive: true, force: true });
}
