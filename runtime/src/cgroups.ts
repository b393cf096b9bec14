/**
 * Puts the VM's host processes (QEMU, shims) into the container's cgroup (linux.cgroupsPath),
 * so `docker stats`, which reads the cgroup of the pid in the pid file, counts the whole VM.
 * Hierarchies are found in /proc/self/mountinfo: v1 controllers (mount names vary by host),
 * or the v2 unified tree when it is the only one.
 */
import { appendFileSync, mkdirSync, readFileSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';

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

/** Creates the cgroup in every hierarchy; returns the folders made (for removal at delete). */
export function joinCgroup(cgroupsPath: string, pids: number[]): string[] {
  const rel = relativeCgroupPath(cgroupsPath);
  const dirs: string[] = [];
  for (const { mountPoint } of cgroupMounts()) {
    const dir = join(mountPoint, rel);
    try {
      mkdirSync(dir, { recursive: true });
      for (const pid of pids) appendFileSync(join(dir, 'cgroup.procs'), `${pid}\n`);
      dirs.push(dir);
    } catch {
      // A hierarchy we cannot write (read-only, or a controller the kernel refuses) is skipped.
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

/** Removes the cgroup folders once empty (a folder with processes left stays). */
export function removeCgroups(dirs: readonly string[]): void {
  for (const dir of dirs) {
    try {
      rmdirSync(dir);
    } catch {
      // Still busy or already removed.
    }
  }
}
