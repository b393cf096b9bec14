/**
 * Part of `npm run bench:runtime`: bind-mount throughput, vmrt against runc under one private
 * dockerd and one image. A host folder is mounted at /data; in interleaved rounds each runtime
 * writes a file of BENCH_STORAGE_MIB (default 128) MiB with `dd … conv=fsync` (on the disk when dd
 * ends), the host drops that file from its page cache, and a second container reads it back with
 * dd; then a third lists a tree of TREE_FILES files the host made (`ls -lR`: a lookup and a stat
 * per file, where 9p's lack of a metadata cache shows), and a fourth starts EXECS programs from
 * the image one after another (`/bin/true`: under TCG each start translates the program's code
 * again if its pages left the guest's page cache), and a fifth makes SYSCALLS system calls (`dd
 * bs=1` from /dev/zero to /dev/null, under Docker's default seccomp filter, which the guest
 * kernel runs at each of them). The time is busybox `time` inside the
 * container (the VM's boot is not included). vmrt runs twice: with its default shared folder
 * (virtio-fs) and with 9p (VMRT_SHARED_FS=9p, as a VM started from a template gets).
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

const TREE_FILES = 2000;
const EXECS = 100;
const SYSCALLS = 200000;

/** Runs `command` in a fresh container with the folder at /data; returns its seconds. */
function timed(d: Dockerd, runtime: Runtime, folder: string, command: string): number {
  const r = d.docker(['run', '--rm', '--runtime', runtime, '-v', `${folder}:/data`, IMAGE, 'sh', '-c', `time ${command}`]);
  // busybox time: "real\t0m 1.23s"
  const m = /^real\s+(\d+)m\s*([\d.]+)s$/m.exec(r.stderr);
  if (r.status !== 0 || !m) throw new Error(`${command} under ${runtime} failed (${r.status}): ${r.stdout}${r.stderr}`);
  return Number(m[1]) * 60 + Number(m[2]);
}

/** Runs dd of MIB MiB in a fresh container with the folder at /data; returns MiB/s. */
function dd(d: Dockerd, runtime: Runtime, folder: string, args: string): number {
  return MIB / timed(d, runtime, folder, `dd ${args}`);
}

/** TREE_FILES small files in 20 folders under `dir`. */
function makeTree(dir: string): void {
  for (let i = 0; i < TREE_FILES; i++) {
    const sub = join(dir, `d${i % 20}`);
    mkdirSync(sub, { recursive: true });
    writeFileSync(join(sub, `f${i}`), 'x');
  }
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
  makeTree(join(folder, 'tree'));
  const perRuntime = (): Record<Runtime, number[]> => ({ vmrt: [], 'vmrt-9p': [], runc: [] });
  const [write, read, walk, starts, calls] = [perRuntime(), perRuntime(), perRuntime(), perRuntime(), perRuntime()];
  for (let round = 1; round <= ROUNDS; round++) {
    for (const runtime of RUNTIMES) {
      const file = join(folder, `${runtime}-${round}`);
      write[runtime].push(dd(d, runtime, folder, `if=/dev/zero of=/data/${runtime}-${round} bs=1M count=${MIB} conv=fsync`));
      dropFromCache(file);
      read[runtime].push(dd(d, runtime, folder, `if=/data/${runtime}-${round} of=/dev/null bs=1M`));
      rmSync(file);
      walk[runtime].push(TREE_FILES / timed(d, runtime, folder, 'ls -lR /data/tree >/dev/null'));
      calls[runtime].push(SYSCALLS / timed(d, runtime, folder, `dd if=/dev/zero of=/dev/null bs=1 count=${SYSCALLS / 2}`));
      starts[runtime].push(EXECS / timed(d, runtime, folder, `sh -c 'i=0; while [ $i -lt ${EXECS} ]; do /bin/true; i=$((i+1)); done'`));
    }
    const figures = (of: Record<Runtime, number[]>) => RUNTIMES.map((runtime) => `${runtime} ${of[runtime].at(-1)!.toFixed(0)}`).join(', ');
    console.log(
      `round ${round}: write ${figures(write)} MiB/s; read ${figures(read)} MiB/s; ls -lR ${figures(walk)} files/s; /bin/true ${figures(starts)} starts/s; dd bs=1 ${figures(calls)} syscalls/s`,
    );
  }
  for (const [what, figures, unit] of [
    [`bind mount sequential write (fsync), ${MIB} MiB`, write, 'MiB/s'],
    [`bind mount sequential read (cold), ${MIB} MiB`, read, 'MiB/s'],
    [`bind mount ls -lR of ${TREE_FILES} files`, walk, 'files/s'],
    [`/bin/true started ${EXECS} times in a row`, starts, 'starts/s'],
    [`system calls (dd bs=1, ${SYSCALLS} reads and writes)`, calls, 'syscalls/s'],
  ] as const) {
    const v = median(figures.vmrt);
    const p = median(figures['vmrt-9p']);
    const r = median(figures.runc);
    console.log(
      `${what}, median of ${ROUNDS}: vmrt (virtio-fs) ${v.toFixed(0)} ${unit}, vmrt (9p) ${p.toFixed(0)} ${unit}, runc ${r.toFixed(0)} ${unit}; vmrt/runc ${(v / r).toFixed(2)} (9p ${(p / r).toFixed(2)})  [${accel.accelerator.toUpperCase()}]`,
    );
  }
} finally {
  await d.stop();
  rmSync(wrapperDir, { recursive: true, force: true });
}
