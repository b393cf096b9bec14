/**
 * `npm run test:soak`, part 2: SOAK_CYCLES (1,000) create/start/delete cycles under vmrt, then
 * under runc, through one private dockerd, each with a container of that runtime running
 * meanwhile (the long version of test/reliability/cycles.test.ts). Prints the time per cycle and
 * the open fds and RSS of dockerd, containerd and the running container's shims (and QEMU) before
 * and after, and the mounts under the daemon's folder. Exits 1 when a cycle failed or left anything.
 */
import { startDockerd } from '../test/support/dockerd.js';
import { importBusyboxImage } from '../test/support/images.js';
import { cycle, footprintOf, longLivedProcesses, mountsOf } from '../test/support/cycles.js';
import { loadAverage, median } from './stats.js';

const IMAGE = 'vmrt-bench-busybox';
const CYCLES = Number(process.env.SOAK_CYCLES ?? 1000);
/** Before the first measure: caches and pools filled once are not growth. */
const WARM_UP = 2;
let failed = false;

const d = await startDockerd();
try {
  importBusyboxImage((args, input) => d.dockerOk(args, input), d.dir, IMAGE);
  for (const runtime of ['vmrt', 'runc']) {
    const keeper = d.dockerOk(['run', '-d', '--runtime', runtime, IMAGE, 'sleep', '100000']).trim();
    for (let i = 0; i < WARM_UP; i++) await cycle(d, runtime, IMAGE);
    const pids = longLivedProcesses(d, keeper);
    const before = Object.fromEntries(Object.entries(pids).map(([role, pid]) => [role, footprintOf(pid)]));
    const mountsBefore = mountsOf(d);
    const seconds: number[] = [];
    const problems: string[] = [];
    for (let i = 0; i < CYCLES; i++) {
      const started = Date.now();
      const problem = await cycle(d, runtime, IMAGE);
      seconds.push((Date.now() - started) / 1000);
      if (problem) problems.push(`cycle ${i + 1}: ${problem}`);
    }
    console.log(
      `${runtime}: ${CYCLES} create/start/delete cycles, median ${median(seconds).toFixed(2)} s each (load ${loadAverage()}); ${problems.length} failed or left something`,
    );
    for (const p of problems.slice(0, 3)) console.log(`  ${p}`);
    if (problems.length > 0) failed = true;
    for (const [role, pid] of Object.entries(pids)) {
      const [b, a] = [before[role]!, footprintOf(pid)];
      console.log(`  ${role}: fds ${b.fds} -> ${a.fds}, RSS ${(b.rssKiB / 1024).toFixed(1)} -> ${(a.rssKiB / 1024).toFixed(1)} MiB`);
    }
    console.log(`  mounts under the daemon's folder: ${mountsBefore} -> ${mountsOf(d)}`);
    d.docker(['rm', '-f', keeper]);
  }
} finally {
  d.removeAllContainers();
  await d.stop();
}
process.exitCode = failed ? 1 : 0;
