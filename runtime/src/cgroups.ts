/**
 * Puts the VM's host processes (QEMU, shims) into the container's cgroup (linux.cgroupsPath),
 * so `docker stats`, which reads the cgroup of the pid in the pid file, counts the whole VM, and
 * containerd watches it for OOM kills (the init shim shows the guest's there, shim/oom.h).
 * Hierarchies are found in /proc/self/mountinfo: v1 controllers (mount names vary by host),
 * or the v2 unified tree when it is the only one.
 */
import { appendFileSync, existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { RuntimeError } from './errors.js';

export interface CgroupMount {
  mountPoint: string;
  version: 1 | 2;
}

export function cgroupMounts(mountinfo = readFileSync('/proc/self/mountinfo', 'utf8')): CgroupMount[] {
  const mounts: CgroupMount[] = [];
  for (const line of mountinfo.split('\n')) {
    const sep = line.indexOf(' - ');
    if (sep < 0) continue;
    const fsType = line.slice(sep + 3).split(' ')[0];
    const mountPoint = line.slice(0, sep).split(' ')[4]!.replace(/\\040/g, ' ');
    if (fsType === 'cgroup') mounts.push({ mountPoint, version: 1 });
    else if (fsType === 'cgroup2') mounts.push({ mountPoint, version: 2 });
  }
  const v1 = mounts.filter((m) => m.version === 1);
  // Hybrid hosts (v1 controllers plus an empty unified tree) are managed through v1, as runc does.
  return v1.length > 0 ? v1 : mounts;
}

/**
 * The cgroup path relative to each hierarchy. systemd's `slice:prefix:name` form becomes
 * `<slice path>/<prefix>-<name>.scope`, as runc's systemd driver names it.
 */
export function relativeCgroupPath(cgroupsPath: string): string {
  const parts = cgroupsPath.split(':');
  if (parts.length === 3 && !cgroupsPath.startsWith('/')) {
    const [slice, prefix, name] = parts as [string, string, string];
    const sliceName = slice || 'system.slice';
    const segments = sliceName.replace(/\.slice$/, '').split('-');
    const slicePath = segments.map((_, i) => `${segments.slice(0, i + 1).join('-')}.slice`).join('/');
    return `${slicePath}/${prefix}-${name}.scope`;
  }
  return cgroupsPath.replace(/^\/+/, '');
}

/**
 * A new cgroup v1 cpuset has no CPUs and no memory nodes, and takes no process: each folder from
 * the hierarchy's root down to `rel` gets its parent's where empty, as runc does.
 */
function inheritCpuset(mountPoint: string, rel: string): void {
  let parent = mountPoint;
  for (const part of rel.split('/').filter(Boolean)) {
    const dir = join(parent, part);
    for (const file of ['cpuset.cpus', 'cpuset.mems']) {
      if (readFileSync(join(dir, file), 'utf8').trim() === '') writeFileSync(join(dir, file), readFileSync(join(parent, file)));
    }
    parent = dir;
  }
}

/**
 * Creates the cgroup in every hierarchy; returns the folders made (for removal at delete). Where
 * the processes cannot join, the folders made for it are removed again.
 */
export function joinCgroup(cgroupsPath: string, pids: number[]): string[] {
  const rel = relativeCgroupPath(cgroupsPath);
  const dirs: string[] = [];
  for (const { mountPoint } of cgroupMounts()) {
    const dir = join(mountPoint, rel);
    let firstMade: string | undefined;
    try {
      firstMade = mkdirSync(dir, { recursive: true });
      if (existsSync(join(mountPoint, 'cpuset.cpus'))) inheritCpuset(mountPoint, rel);
      for (const pid of pids) appendFileSync(join(dir, 'cgroup.procs'), `${pid}\n`);
      dirs.push(dir);
    } catch {
      // A hierarchy we cannot write (read-only, or a controller the kernel refuses) is skipped.
      for (let made = dir; firstMade && made.length >= firstMade.length; made = dirname(made)) {
        try {
          rmdirSync(made);
        } catch {
          break;
        }
      }
    }
  }
  return dirs;
}

export function addToCgroups(dirs: readonly string[], pid: number): void {
  for (const dir of dirs) {
    try {
      appendFileSync(join(dir, 'cgroup.procs'), `${pid}\n`);
    } catch {
      // The process may already be gone.
    }
  }
}

/**
 * Removes the cgroup folders once empty, waiting up to `waitMs` for processes just killed to
 * leave (a killed QEMU's threads leave after its pid is reaped). Returns the folders still busy.
 */
export async function removeCgroups(dirs: readonly string[], waitMs = 5000): Promise<string[]> {
  const deadline = Date.now() + waitMs;
  let left = [...dirs];
  for (;;) {
    left = left.filter((dir) => {
      try {
        rmdirSync(dir);
        return false;
      } catch (err) {
        return (err as NodeJS.ErrnoException).code === 'EBUSY';
      }
    });
    if (left.length === 0 || Date.now() > deadline) return left;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

interface DeviceRate {
  major: number;
  minor: number;
  rate: number;
}
interface DeviceWeight {
  major: number;
  minor: number;
  weight?: number;
  leafWeight?: number;
}

/** OCI linux.resources.blockIO. */
export interface BlockIO {
  weight?: number;
  leafWeight?: number;
  weightDevice?: DeviceWeight[];
  throttleReadBpsDevice?: DeviceRate[];
  throttleWriteBpsDevice?: DeviceRate[];
  throttleReadIOPSDevice?: DeviceRate[];
  throttleWriteIOPSDevice?: DeviceRate[];
}

const THROTTLES = [
  ['throttleReadBpsDevice', 'read_bps_device', 'rbps'],
  ['throttleWriteBpsDevice', 'write_bps_device', 'wbps'],
  ['throttleReadIOPSDevice', 'read_iops_device', 'riops'],
  ['throttleWriteIOPSDevice', 'write_iops_device', 'wiops'],
] as const;

/** The (file, value) writes of a blockIO object, as runc makes them for v1 (blkio.*) or v2 (io.*). */
export function blockIOWrites(blockIO: BlockIO, version: 1 | 2, has: (file: string) => boolean): Array<[string, string]> {
  const writes: Array<[string, string]> = [];
  const dev = (d: { major: number; minor: number }) => `${d.major}:${d.minor}`;
  if (version === 1) {
    // BFQ kernels name the weight files blkio.bfq.*.
    const weightFile = has('blkio.weight') ? 'blkio.weight' : 'blkio.bfq.weight';
    if (blockIO.weight) writes.push([weightFile, String(blockIO.weight)]);
    if (blockIO.leafWeight) writes.push(['blkio.leaf_weight', String(blockIO.leafWeight)]);
    for (const d of blockIO.weightDevice ?? []) {
      if (d.weight) writes.push([`${weightFile}_device`, `${dev(d)} ${d.weight}`]);
      if (d.leafWeight) writes.push(['blkio.leaf_weight_device', `${dev(d)} ${d.leafWeight}`]);
    }
    for (const [key, file] of THROTTLES) {
      for (const d of blockIO[key] ?? []) writes.push([`blkio.throttle.${file}`, `${dev(d)} ${d.rate}`]);
    }
    return writes;
  }
  // v2 weights are 1..10000 (runc's conversion of 10..1000); io.bfq.weight takes the v1 range.
  const ioWeight = (w: number) => String(1 + Math.floor(((w - 10) * 9999) / 990));
  const bfq = has('io.bfq.weight');
  if (blockIO.weight) writes.push(bfq ? ['io.bfq.weight', String(blockIO.weight)] : ['io.weight', `default ${ioWeight(blockIO.weight)}`]);
  for (const d of blockIO.weightDevice ?? []) {
    if (d.weight) writes.push(bfq ? ['io.bfq.weight', `${dev(d)} ${d.weight}`] : ['io.weight', `${dev(d)} ${ioWeight(d.weight)}`]);
  }
  for (const [key, , name] of THROTTLES) {
    for (const d of blockIO[key] ?? []) writes.push(['io.max', `${dev(d)} ${name}=${d.rate > 0 ? d.rate : 'max'}`]);
  }
  return writes;
}

/**
 * Applies linux.resources.blockIO to the container's host cgroup: QEMU sits in it, and the
 * guest's disk I/O is QEMU's file I/O on the host, so the limits meet exactly the container's I/O.
 */
export function applyBlockIO(dirs: readonly string[], blockIO: BlockIO | undefined): void {
  if (!blockIO) return;
  for (const dir of dirs) {
    const has = (file: string) => existsSync(join(dir, file));
    const version = has('blkio.throttle.write_bps_device') ? 1 : has('cgroup.controllers') ? 2 : undefined;
    if (version === undefined) continue;
    for (const [file, value] of blockIOWrites(blockIO, version, has)) {
      try {
        writeFileSync(join(dir, file), value);
      } catch (err) {
        throw new RuntimeError(`linux.resources.blockIO: cannot write "${value}" to ${join(dir, file)}: ${(err as Error).message}`);
      }
    }
  }
}
