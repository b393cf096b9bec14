/**
 * `npm run bench:runtime` (second part): checkpoint and restore times under one private
 * dockerd started with --experimental, for a busybox counter container.
 * - `docker checkpoint create` (the container stops), `docker checkpoint create --leave-running`,
 *   and `docker start --checkpoint` (a new VM whose processes CRIU restores), medians of rounds.
 * - runc beside it when `docker checkpoint` works with runc on this host; otherwise its error.
 */
import { existsSync, readFileSync } from 'node:fs';
import { startDockerd, type Dockerd } from '../test/support/dockerd.js';
import { importBusyboxImage } from '../test/support/images.js';
import { chooseAccelerator } from '../runtime/src/vm.js';
import { median } from './stats.js';

const IMAGE = 'vmrt-bench-busybox';
const ROUNDS = Number(process.env.BENCH_CHECKPOINT_ROUNDS ?? 3);
const COUNTER = ['sh', '-c', 'i=0; while :; do echo $i; i=$((i+1)); sleep 1; done'];

interface Times {
  checkpoint: number[];
  leaveRunning: number[];
  restore: number[];
}

/** CRIU's last error line in the log that a failed runtime's message names (`path= <log>`). */
function criuError(stderr: string): string {
  const log = /path= ([^\s:]+)/.exec(stderr)?.[1];
  if (!log || !existsSync(log)) return '';
  return (
    readFileSync(log, 'utf8')
      .split('\n')
      .filter((line) => line.includes('Error'))
      .at(-1)
      ?.trim() ?? ''
  );
}

/** Milliseconds that `docker args` takes; throws with docker's (and CRIU's) error when it fails. */
function timed(d: Dockerd, args: string[]): number {
  const started = process.hrtime.bigint();
  const r = d.docker(args);
  if (r.status !== 0) throw new Error(`docker ${args.join(' ')}: ${criuError(r.stderr) || r.stderr.trim()}`);
  return Number(process.hrtime.bigint() - started) / 1e6;
}

async function countsTo(d: Dockerd, name: string, count: number): Promise<void> {
  const deadline = Date.now() + 120000;
  while (d.dockerOk(['logs', name]).split('\n').filter(Boolean).length < count) {
    if (Date.now() > deadline) throw new Error(`${name} did not print ${count} numbers within 120 s`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** One container, ROUNDS times: leave-running checkpoint, stopping checkpoint, restore. */
async function measure(d: Dockerd, runtime: string): Promise<Times> {
  const name = `bench-ckpt-${runtime}`;
  const times: Times = { checkpoint: [], leaveRunning: [], restore: [] };
  d.dockerOk(['run', '-d', '--runtime', runtime, '--name', name, IMAGE, ...COUNTER]);
  try {
    for (let round = 0; round < ROUNDS; round++) {
      await countsTo(d, name, 2 + round * 3);
      times.leaveRunning.push(timed(d, ['checkpoint', 'create', '--leave-running', name, `lr${round}`]));
      times.checkpoint.push(timed(d, ['checkpoint', 'create', name, `cp${round}`]));
      times.restore.push(timed(d, ['start', '--checkpoint', `cp${round}`, name]));
    }
    return times;
  } finally {
    d.docker(['rm', '-f', name]);
  }
}

function show(label: string, times: Times): void {
  const ms = (values: number[]) => `${(median(values) / 1000).toFixed(2)} s`;
  console.log(
    `${label.padEnd(5)} checkpoint (stops): ${ms(times.checkpoint)}  checkpoint --leave-running: ${ms(times.leaveRunning)}  restore (docker start --checkpoint): ${ms(times.restore)}  (medians of ${times.checkpoint.length})`,
  );
}

const accel = await chooseAccelerator();
console.log(`checkpoint/restore, accelerator: ${accel.accelerator.toUpperCase()}, ${ROUNDS} rounds, a busybox counter`);
const d = await startDockerd(['--experimental']);
try {
  importBusyboxImage((args, input) => d.dockerOk(args, input), d.dir, IMAGE);
  show('vmrt', await measure(d, 'vmrt'));
  try {
    show('runc', await measure(d, 'runc'));
  } catch (err) {
    console.log(`runc  no figures: docker checkpoint with runc fails on this host: ${(err as Error).message.split('\n')[0]}`);
  }
} finally {
  await d.stop();
}
