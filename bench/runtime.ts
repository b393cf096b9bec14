/**
 * `npm run bench:runtime`: vmrt against runc under one private dockerd and one image.
 * 1. `docker run --rm IMG true`, vmrt and runc interleaved, ≥ 10 pairs: medians and their ratio.
 * 2. Host memory per idle container (PSS of QEMU, virtiofsd and shim from /proc/<pid>/smaps_rollup)
 *    with 1 and with 10 containers running, none with a memory limit (the VM's default size).
 * 3. Memory handed back: the host RSS of a container's processes before, right after the guest
 *    filled and freed 1 GiB (a tmpfs file written and removed), and 10 s later.
 * The accelerator in use is printed with the figures (the targets are for TCG).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startDockerd, type Dockerd } from '../test/support/dockerd.js';
import { importBusyboxImage } from '../test/support/images.js';
import { processesMentioning } from '../runtime/src/proc.js';
import { runDirFor } from '../runtime/src/state.js';
import { chooseAccelerator } from '../runtime/src/vm.js';
import { median } from './stats.js';

const IMAGE = 'vmrt-bench-busybox';
const PAIRS = Number(process.env.BENCH_PAIRS ?? 10);

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

function rssKiB(pid: number): number {
  return Number(/^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
}

/** PSS of every host process of one vmrt container (they name its socket folder). */
function containerPssKiB(d: Dockerd, id: string): { kib: number; processes: number } {
  const procs = processesMentioning(runDirFor(d.runtimeRoot, id));
  return { kib: procs.reduce((sum, p) => sum + pssKiB(p.pid), 0), processes: procs.length };
}

async function idleMemory(d: Dockerd, count: number): Promise<void> {
  const ids: string[] = [];
  try {
    for (let i = 0; i < count; i++) ids.push(d.dockerOk(['run', '-d', '--runtime', 'vmrt', IMAGE, 'sleep', '100000']).trim());
    await new Promise((r) => setTimeout(r, 3000));
    const each = ids.map((id) => containerPssKiB(d, id));
    const total = each.reduce((s, e) => s + e.kib, 0);
    console.log(
      `idle containers: ${count}  PSS per container (QEMU, virtiofsd, shim: ${each[0]!.processes} processes): ${(total / count / 1024).toFixed(1)} MiB  (total ${(total / 1024).toFixed(1)} MiB)`,
    );
  } finally {
    if (ids.length) d.docker(['rm', '-f', ...ids]);
  }
}

/** Host RSS of the container's processes (MiB) now, after the guest filled and freed 1 GiB, and 10 s later. */
async function freedMemory(d: Dockerd): Promise<void> {
  const id = d.dockerOk(['run', '-d', '--runtime', 'vmrt', '--tmpfs', '/fill:size=1100m', IMAGE, 'sleep', '100000']).trim();
  try {
    const rss = () => processesMentioning(runDirFor(d.runtimeRoot, id)).reduce((sum, p) => sum + rssKiB(p.pid), 0) / 1024;
    await new Promise((r) => setTimeout(r, 3000));
    const idle = rss();
    d.dockerOk(['exec', id, 'sh', '-c', 'dd if=/dev/zero of=/fill/f bs=1M count=1024 2>/dev/null && rm /fill/f']);
    const filled = rss();
    await new Promise((r) => setTimeout(r, 10000));
    console.log(
      `1 GiB filled and freed in the guest: host RSS idle ${idle.toFixed(0)} MiB, right after ${filled.toFixed(0)} MiB, 10 s later ${rss().toFixed(0)} MiB (free page reporting)`,
    );
  } finally {
    d.docker(['rm', '-f', id]);
  }
}

const accel = await chooseAccelerator();
console.log(`accelerator: ${accel.accelerator.toUpperCase()} (${accel.reason})`);
const d = await startDockerd();
try {
  importBusyboxImage((args, input) => d.dockerOk(args, input), d.dir, IMAGE);
  timedRun(d, 'vmrt');
  timedRun(d, 'runc');
  const vmrt: number[] = [];
  const runc: number[] = [];
  for (let i = 0; i < PAIRS; i++) {
    vmrt.push(timedRun(d, 'vmrt'));
    runc.push(timedRun(d, 'runc'));
    console.log(`pair ${i + 1}: vmrt ${vmrt[i]!.toFixed(0)} ms, runc ${runc[i]!.toFixed(0)} ms`);
  }
  const mv = median(vmrt);
  const mr = median(runc);
  console.log(
    `docker run --rm IMG true, ${PAIRS} interleaved pairs: median vmrt ${mv.toFixed(0)} ms, runc ${mr.toFixed(0)} ms, ratio ${(mv / mr).toFixed(1)}x  [${accel.accelerator.toUpperCase()}]`,
  );
  await idleMemory(d, 1);
  await idleMemory(d, 10);
  await freedMemory(d);
  console.log(`(accelerator: ${accel.accelerator.toUpperCase()}; QEMU memory from ${join('/proc', '<pid>', 'smaps_rollup')})`);
} finally {
  await d.stop();
}
