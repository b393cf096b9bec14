/**
 * `npm run bench:runtime` (after bench/runtime.ts): the network of a vmrt container against a
 * runc one, under one private dockerd and one busybox image. The host talks to each container
 * over Docker's bridge with a Node client; the container serves with busybox `nc -ll -e`:
 * 1. TCP throughput host → container (a dd sink that answers "ok" at EOF) and container → host
 *    (a dd source of BENCH_NET_MIB MiB), BENCH_NET_ROUNDS rounds each, runtimes interleaved:
 *    medians.
 * 2. Request/response latency: BENCH_NET_TRIPS round trips of 64 bytes on one connection to an
 *    echo server (`cat`): median and p95.
 */
import { connect, type Socket } from 'node:net';
import { startDockerd, type Dockerd } from '../test/support/dockerd.js';
import { importBusyboxImage } from '../test/support/images.js';
import { chooseAccelerator } from '../runtime/src/vm.js';
import { loadAverage, median, percentile } from './stats.js';

const IMAGE = 'vmrt-bench-busybox';
const MIB = Number(process.env.BENCH_NET_MIB ?? 32);
const ROUNDS = Number(process.env.BENCH_NET_ROUNDS ?? 3);
const TRIPS = Number(process.env.BENCH_NET_TRIPS ?? 500);
const SINK_PORT = 5001;
const SOURCE_PORT = 5002;
const ECHO_PORT = 5003;
const RUNTIMES = ['vmrt', 'runc'] as const;
type Runtime = (typeof RUNTIMES)[number];

// dd with 64 KiB blocks: busybox's cat and head copy 4 KiB per system call, which measures
// system calls (costly under TCG) rather than the network.
const SERVERS = [
  `nc -ll -p ${SINK_PORT} -e sh -c 'dd of=/dev/null bs=65536 2>/dev/null; echo ok' &`,
  `nc -ll -p ${SOURCE_PORT} -e dd if=/dev/zero bs=65536 count=${MIB * 16} &`,
  `exec nc -ll -p ${ECHO_PORT} -e cat`,
].join(' ');

function open(host: string, port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, host, () => resolve(socket));
    socket.once('error', reject);
  });
}

/** Resolves with the bytes received once the server closed the connection. */
function readAll(socket: Socket): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.once('error', reject);
    socket.once('close', () => resolve(Buffer.concat(chunks)));
  });
}

/** MiB/s of sending MIB MiB to the sink, until it confirmed it read them all. */
async function upload(host: string): Promise<number> {
  const socket = await open(host, SINK_PORT);
  const answer = readAll(socket);
  const started = process.hrtime.bigint();
  const chunk = Buffer.alloc(1024 * 1024);
  for (let i = 0; i < MIB; i++) {
    if (!socket.write(chunk)) await new Promise((r) => socket.once('drain', r));
  }
  socket.end();
  const text = (await answer).toString();
  if (text !== 'ok\n') throw new Error(`the sink in the container answered ${JSON.stringify(text)}`);
  return MIB / (Number(process.hrtime.bigint() - started) / 1e9);
}

/** MiB/s of receiving MIB MiB from the source. */
async function download(host: string): Promise<number> {
  const socket = await open(host, SOURCE_PORT);
  const started = process.hrtime.bigint();
  const bytes = (await readAll(socket)).length;
  if (bytes !== MIB * 1024 * 1024) throw new Error(`the source in the container sent ${bytes} bytes, not ${MIB} MiB`);
  return MIB / (Number(process.hrtime.bigint() - started) / 1e9);
}

/** Round-trip times (ms) of 64-byte messages echoed by the container. */
async function roundTrips(host: string): Promise<number[]> {
  const socket = await open(host, ECHO_PORT);
  socket.setNoDelay(true);
  const message = Buffer.alloc(64, 'x');
  const times: number[] = [];
  let pending = 0;
  let wake: (() => void) | undefined;
  socket.on('data', (c: Buffer) => {
    pending -= c.length;
    if (pending <= 0 && wake) wake();
  });
  for (let i = 0; i < TRIPS; i++) {
    const started = process.hrtime.bigint();
    pending = message.length;
    await new Promise<void>((resolve) => {
      wake = resolve;
      socket.write(message);
    });
    times.push(Number(process.hrtime.bigint() - started) / 1e6);
  }
  socket.destroy();
  return times;
}

async function awaitServer(host: string): Promise<void> {
  const deadline = Date.now() + 60000;
  for (;;) {
    try {
      (await open(host, ECHO_PORT)).destroy();
      return;
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`the echo server at ${host}:${ECHO_PORT} did not answer: ${(err as Error).message}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

function pair(what: string, unit: string, vmrt: number, runc: number, digits = 1): void {
  console.log(`${what}: vmrt ${vmrt.toFixed(digits)} ${unit}, runc ${runc.toFixed(digits)} ${unit}, ratio ${(vmrt / runc).toFixed(2)}x`);
}

async function networkBench(d: Dockerd): Promise<void> {
  const hosts = {} as Record<Runtime, string>;
  const names = RUNTIMES.map((r) => `bench-net-${r}`);
  try {
    for (const runtime of RUNTIMES) {
      const name = `bench-net-${runtime}`;
      d.dockerOk(['run', '-d', '--runtime', runtime, '--name', name, IMAGE, 'sh', '-c', SERVERS]);
      hosts[runtime] = d.dockerOk(['inspect', '--format', '{{.NetworkSettings.IPAddress}}', name]).trim();
      await awaitServer(hosts[runtime]);
    }
    const up = { vmrt: [] as number[], runc: [] as number[] };
    const down = { vmrt: [] as number[], runc: [] as number[] };
    for (let round = 0; round < ROUNDS; round++) {
      for (const runtime of RUNTIMES) {
        up[runtime].push(await upload(hosts[runtime]));
        down[runtime].push(await download(hosts[runtime]));
      }
      console.log(
        `round ${round + 1}: host→container vmrt ${up.vmrt[round]!.toFixed(0)} / runc ${up.runc[round]!.toFixed(0)} MiB/s, container→host vmrt ${down.vmrt[round]!.toFixed(0)} / runc ${down.runc[round]!.toFixed(0)} MiB/s`,
      );
    }
    const trips = { vmrt: await roundTrips(hosts.vmrt), runc: await roundTrips(hosts.runc) };
    pair(`TCP host→container, ${MIB} MiB, median of ${ROUNDS}`, 'MiB/s', median(up.vmrt), median(up.runc));
    pair(`TCP container→host, ${MIB} MiB, median of ${ROUNDS}`, 'MiB/s', median(down.vmrt), median(down.runc));
    pair(`TCP round trip (64 B echo, ${TRIPS} trips) median`, 'ms', median(trips.vmrt), median(trips.runc), 3);
    pair(`TCP round trip (64 B echo, ${TRIPS} trips) p95`, 'ms', percentile(trips.vmrt, 95), percentile(trips.runc, 95), 3);
  } finally {
    d.docker(['rm', '-f', ...names]);
  }
}

const accel = await chooseAccelerator();
console.log(`network, accelerator: ${accel.accelerator.toUpperCase()} (${accel.reason}); load average at the start: ${loadAverage()}`);
const d = await startDockerd();
try {
  importBusyboxImage((args, input) => d.dockerOk(args, input), d.dir, IMAGE);
  await networkBench(d);
  console.log(`load average at the end: ${loadAverage()}`);
} finally {
  await d.stop();
}
