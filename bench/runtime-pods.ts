/**
 * `npm run bench:runtime` (part): the second container of a pod. Under one private dockerd, a
 * long-running container per runtime, then interleaved rounds of `docker run --rm IMG true`:
 * - vmrt, cold: a VM of its own (a boot);
 * - vmrt, pod: `--network container:<the vmrt container>`, built in that container's VM;
 * - runc, pod: `--network container:<the runc container>`, the reference.
 * Medians side by side, and the pod's start as a share of the cold boot.
 */
import { startDockerd, type Dockerd } from '../test/support/dockerd.js';
import { importBusyboxImage } from '../test/support/images.js';
import { chooseAccelerator } from '../runtime/src/vm.js';
import { loadAverage, median } from './stats.js';

const IMAGE = 'vmrt-bench-busybox';
const ROUNDS = Number(process.env.BENCH_PAIRS ?? 10);

/** Milliseconds of one `docker run --rm` with `runArgs` before the image. */
function timedDockerRun(d: Dockerd, runArgs: string[]): number {
  const started = process.hrtime.bigint();
  const r = d.docker(['run', '--rm', ...runArgs, IMAGE, 'true']);
  if (r.status !== 0) throw new Error(`docker run ${runArgs.join(' ')} failed: ${r.stderr}`);
  return Number(process.hrtime.bigint() - started) / 1e6;
}

const accel = await chooseAccelerator();
console.log(`accelerator: ${accel.accelerator.toUpperCase()} (${accel.reason}); load ${loadAverage()}`);
const d = await startDockerd();
try {
  importBusyboxImage((args, input) => d.dockerOk(args, input), d.dir, IMAGE);
  d.dockerOk(['run', '-d', '--runtime', 'vmrt', '--name', 'vm-pod', IMAGE, 'sleep', '100000']);
  d.dockerOk(['run', '-d', '--runtime', 'runc', '--name', 'runc-pod', IMAGE, 'sleep', '100000']);
  const cases = {
    'vmrt, cold VM': ['--runtime', 'vmrt'],
    'vmrt, in the pod': ['--runtime', 'vmrt', '--network', 'container:vm-pod'],
    'runc, in the pod': ['--runtime', 'runc', '--network', 'container:runc-pod'],
  };
  const samples = Object.fromEntries(Object.keys(cases).map((name) => [name, [] as number[]]));
  for (const args of Object.values(cases)) timedDockerRun(d, args); // warm-up
  for (let i = 0; i < ROUNDS; i++) {
    for (const [name, args] of Object.entries(cases)) samples[name]!.push(timedDockerRun(d, args));
    console.log(
      `round ${i + 1}: ${Object.entries(samples)
        .map(([name, ms]) => `${name} ${ms[i]!.toFixed(0)} ms`)
        .join(', ')}`,
    );
  }
  const cold = median(samples['vmrt, cold VM']!);
  const pod = median(samples['vmrt, in the pod']!);
  const runc = median(samples['runc, in the pod']!);
  console.log(
    `docker run --rm IMG true, ${ROUNDS} rounds, medians: vmrt cold VM ${cold.toFixed(0)} ms, vmrt in the pod ${pod.toFixed(0)} ms ` +
      `(${((100 * pod) / cold).toFixed(0)}% of the cold VM), runc in the pod ${runc.toFixed(0)} ms (vmrt pod / runc ${(pod / runc).toFixed(1)}x)  [${accel.accelerator.toUpperCase()}]`,
  );
} finally {
  d.removeAllContainers();
  await d.stop();
}
