/**
 * `npm run test:soak`: vmrt under load, beside runc under the same private dockerd (the long
 * versions of test/reliability/docker-faults.test.ts's load test).
 * 1. SOAK_PARALLEL (30) `docker run -d` at once, then as many `docker exec` at once into the first
 *    of them, then every container stopped at once: the time each batch took, failures named.
 * 2. A guest writing stdout as fast as it can for SOAK_FLOOD_SECONDS (60): `docker logs` must hold
 *    every line in order; lines per second, and the peak RSS of the init shim and QEMU.
 * Exits 1 when any command failed or a line is missing, after printing every figure.
 */
import { startDockerd, type Dockerd, type DockerResult } from '../test/support/dockerd.js';
import { importBusyboxImage } from '../test/support/images.js';
import { peakRssKiB } from '../test/support/memory.js';
import { FLOOD_SCRIPT, FloodCheck } from '../test/support/sequence.js';
import { sleep } from '../test/support/wait.js';
import { processesMentioning } from '../runtime/src/proc.js';
import { runDirFor } from '../runtime/src/state.js';
import { chooseAccelerator } from '../runtime/src/vm.js';

const IMAGE = 'vmrt-bench-busybox';
const PARALLEL = Number(process.env.SOAK_PARALLEL ?? 30);
const FLOOD_SECONDS = Number(process.env.SOAK_FLOOD_SECONDS ?? 60);
const RUNTIMES = ['vmrt', 'runc'] as const;
let failed = false;

function dockerAsync(d: Dockerd, args: string[]): Promise<DockerResult> {
  return new Promise((resolve) => {
    const child = d.spawnDocker(args);
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
    child.on('close', (code) => resolve({ status: code ?? 128, stdout, stderr }));
  });
}

/** Runs every command at once; returns the seconds the batch took and the stdout of each. */
async function batch(d: Dockerd, what: string, runtime: string, commands: string[][]): Promise<{ seconds: number; outputs: string[] }> {
  const started = Date.now();
  const results = await Promise.all(commands.map((args) => dockerAsync(d, args)));
  const seconds = (Date.now() - started) / 1000;
  const failures = results.filter((r) => r.status !== 0);
  if (failures.length > 0) console.log(`  ${runtime} ${what}: ${failures.length} of ${results.length} failed, e.g.:`);
  for (const r of failures.slice(0, 3)) console.log(`  (${r.status}) ${r.stderr.trim().split('\n')[0]}`);
  if (failures.length > 0) failed = true;
  return { seconds, outputs: results.map((r) => r.stdout.trim()) };
}

async function parallelBatches(d: Dockerd): Promise<void> {
  const figures: Record<string, string[]> = { run: [], exec: [], stop: [] };
  for (const runtime of RUNTIMES) {
    const runs = Array.from({ length: PARALLEL }, () => ['run', '-d', '--runtime', runtime, IMAGE, 'sleep', '100000']);
    const run = await batch(d, 'docker run -d', runtime, runs);
    const ids = run.outputs.filter((id) => /^[0-9a-f]{64}$/.test(id));
    figures.run!.push(`${runtime} ${run.seconds.toFixed(1)} s`);
    if (ids.length > 0) {
      const execs = Array.from({ length: PARALLEL }, (_, i) => ['exec', ids[0]!, 'echo', String(i)]);
      const exec = await batch(d, 'docker exec', runtime, execs);
      figures.exec!.push(`${runtime} ${exec.seconds.toFixed(1)} s`);
      const stop = await batch(
        d,
        'docker stop',
        runtime,
        ids.map((id) => ['stop', '-t', '2', id]),
      );
      figures.stop!.push(`${runtime} ${stop.seconds.toFixed(1)} s`);
      d.docker(['rm', '-f', ...ids]);
    }
  }
  console.log(`${PARALLEL} docker run -d at once: ${figures.run!.join(', ')}`);
  console.log(`${PARALLEL} docker exec at once into one container: ${figures.exec!.join(', ')}`);
  console.log(`${PARALLEL} docker stop at once: ${figures.stop!.join(', ')}`);
}

/** Checks `docker logs` as it streams: a minute of runc's output is hundreds of MiB. */
function streamedFlood(d: Dockerd, id: string): Promise<ReturnType<FloodCheck['result']>> {
  return new Promise((resolve) => {
    const check = new FloodCheck();
    const child = d.spawnDocker(['logs', id]);
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (chunk: string) => check.push(chunk));
    child.on('close', (code) => resolve(code === 0 ? check.result() : { problem: `docker logs exited ${code}` }));
  });
}

async function flood(d: Dockerd): Promise<void> {
  for (const runtime of RUNTIMES) {
    const id = d.dockerOk(['run', '-d', '--runtime', runtime, IMAGE, 'sh', '-c', FLOOD_SCRIPT(FLOOD_SECONDS)]).trim();
    const host = runtime === 'vmrt' ? processesMentioning(runDirFor(d.runtimeRoot, id)) : [];
    const shim = host.find((p) => p.cmdline.includes('vmrt-shim init'))?.pid;
    const qemu = host.find((p) => p.cmdline.includes('qemu-system'))?.pid;
    let [shimPeak, qemuPeak] = [0, 0];
    while (d.dockerOk(['inspect', '-f', '{{.State.Running}}', id]).trim() === 'true') {
      shimPeak = Math.max(shimPeak, (shim && peakRssKiB(shim)) || 0);
      qemuPeak = Math.max(qemuPeak, (qemu && peakRssKiB(qemu)) || 0);
      await sleep(500);
    }
    const result = await streamedFlood(d, id);
    d.docker(['rm', '-f', id]);
    if ('problem' in result) {
      failed = true;
      console.log(`${runtime}: stdout flood of ${FLOOD_SECONDS} s: docker logs is wrong: ${result.problem}`);
      continue;
    }
    const peaks =
      runtime === 'vmrt' ? `; peak RSS: init shim ${(shimPeak / 1024).toFixed(1)} MiB, QEMU ${(qemuPeak / 1024).toFixed(0)} MiB` : '';
    console.log(
      `${runtime}: stdout flood of ${FLOOD_SECONDS} s: ${result.lines} lines in order in docker logs (${Math.round(result.lines / FLOOD_SECONDS)} lines/s)${peaks}`,
    );
  }
}

const accel = await chooseAccelerator();
console.log(`accelerator: ${accel.accelerator.toUpperCase()} (${accel.reason})`);
const d = await startDockerd();
try {
  importBusyboxImage((args, input) => d.dockerOk(args, input), d.dir, IMAGE);
  await parallelBatches(d);
  await flood(d);
} finally {
  d.removeAllContainers();
  await d.stop();
}
process.exitCode = failed ? 1 : 0;
