/**
 * Part of `npm run bench:runtime`: bind-mount throughput, vmrt against runc under one private
 * dockerd and one image. A host folder is mounted at /data; in interleaved rounds each runtime
 * writes a file of BENCH_STORAGE_MIB (default 128) MiB with `dd … conv=fsync` (on the disk when dd
 * ends), the host drops that file from its page cache, and a second container reads it back with
 * dd. The time is busybox `time dd` inside the container (the VM's boot is not included). vmrt
 * runs twice: with its default shared folder (virtio-fs) and with 9p (VMRT_SHARED_FS=9p).
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDockerd, type Dockerd } from '../test/support/dockerd.js';
import { importBusyboxImage, REPO } from '../test/support/images.js';
import { chooseAccelerator } from '../runtime/src/vm.js';
import { median } from './stats.js';

const IMAGE = 'vmrt-bench-busybox';
const MIB = Number(process.env.BENCH_STORAGE_MIB ?? 128);
const ROUNDS = Number(process.env.BENCH_STORAGE_ROUNDS ?? 3);
const RUNTIMES = ['vmrt', 'vmrt-9p', 'runc'] as const;
type Runtime = (typeof RUNTIMES)[number];

/** Runs dd of MIB MiB in a fresh container with the folder at /data; returns MiB/s. */
function dd(d: Dockerd, runtime: Runtime, folder: string, args: string): number {
  const r = d.docker(['run', '--rm', '--runtime', runtime, '-v', `${folder}:/data`, IMAGE, 'sh', '-c', `time dd ${args}`]);
  // busybox time: "real\t0m 1.23s"
  const m = /^real\s+(\d+)m\s*([\d.]+)s$/m.exec(r.stderr);
  if (r.status !== 0 || !m) throw new Error(`dd ${args} under ${runtime} failed (${r.status}): ${r.stdout}${r.stderr}`);
  return MIB / (Number(m[1]) * 60 + Number(m[2]));
}

/** Drops the file's pages from the host page cache (GNU dd's nocache: posix_fadvise DONTNEED). */
function dropFromCache(file: string): void {
  const r = spawnSync('dd', [`if=${file}`, 'iflag=nocache', 'count=0', 'status=none'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`dropping ${file} from the page cache failed: ${r.stderr}`);
}

const accel = await chooseAccelerator();
console.log(`accelerator: ${accel.accelerator.toUpperCase()} (${accel.reason})`);
// The same runtime with 9p, registered under a second name.
const wrapperDir = mkdtempSync(join(tmpdir(), 'vmrt-bench-'));
const wrapper = join(wrapperDir, 'vmrt-9p');
writeFileSync(wrapper, `#!/bin/sh\nVMRT_SHARED_FS=9p exec ${join(REPO, 'runtime', 'bin', 'vmrt')} "$@"\n`);
chmodSync(wrapper, 0o755);
const d = await startDockerd(['--add-runtime', `vmrt-9p=${wrapper}`]);
try {
  importBusyboxImage((args, input) => d.dockerOk(args, input), d.dir, IMAGE);
  const folder = join(d.dir, 'storage');
  mkdirSync(folder);
  const write: Record<Runtime, number[]> = { vmrt: [], 'vmrt-9p': [], runc: [] };
  const read: Record<Runtime, number[]> = { vmrt: [], 'vmrt-9p': [], runc: [] };
  for (let round = 1; round <= ROUNDS; round++) {
    for (const runtime of RUNTIMES) {
      const file = join(folder, `${runtime}-${round}`);
      write[runtime].push(dd(d, runtime, folder, `if=/dev/zero of=/data/${runtime}-${round} bs=1M count=${MIB} conv=fsync`));
      dropFromCache(file);
      read[runtime].push(dd(d, runtime, folder, `if=/data/${runtime}-${round} of=/dev/null bs=1M`));
      rmSync(file);
    }
    const figures = (of: Record<Runtime, number[]>) => RUNTIMES.map((runtime) => `${runtime} ${of[runtime].at(-1)!.toFixed(0)}`).join(', ');
    console.log(`round ${round} (MiB/s): write ${figures(write)}; read ${figures(read)}`);
  }
  for (const [what, figures] of [
    ['sequential write (fsync)', write],
    ['sequential read (cold)', read],
  ] as const) {
    const v = median(figures.vmrt);
    const p = median(figures['vmrt-9p']);
    const r = median(figures.runc);
    console.log(
      `bind mount ${what}, ${MIB} MiB, median of ${ROUNDS}: vmrt (virtio-fs) ${v.toFixed(0)} MiB/s, vmrt (9p) ${p.toFixed(0)} MiB/s, runc ${r.toFixed(0)} MiB/s; vmrt/runc ${(v / r).toFixed(2)} (9p ${(p / r).toFixed(2)})  [${accel.accelerator.toUpperCase()}]`,
    );
  }
} finally {
  await d.stop();
  rmSync(wrapperDir, { recursive: true, force: true });
}
