/**
 * Create/start/delete cycles through a private dockerd, and the footprint of the processes that
 * live through them (dockerd, its containerd, and the shims and QEMU of a container left running
 * meanwhile): what must not grow with the number of containers made and removed. Used by
 * test/reliability/cycles.test.ts (a few cycles) and `npm run test:soak` (bench/runtime-cycles.ts).
 */
import { readFileSync, readdirSync } from 'node:fs';
import type { Dockerd } from './dockerd.js';
import { containerProcesses, leftovers } from './leftovers.js';
import { processesMentioning } from '../../runtime/src/proc.js';
import { hostMountPoints } from '../../runtime/src/jail.js';

export interface Footprint {
  /** Open file descriptors. */
  fds: number;
  /** Resident memory (VmRSS), KiB. */
  rssKiB: number;
}

/** Resident memory (VmRSS) of a process, KiB. */
export function rssKiBOf(pid: number): number {
  return Number(/^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
}

export function footprintOf(pid: number): Footprint {
  return { fds: readdirSync(`/proc/${pid}/fd`).length, rssKiB: rssKiBOf(pid) };
}

/**
 * The long-lived processes by role: dockerd, containerd, and of `keeper` (a container running
 * through the cycles) its containerd shim and, for a vmrt container, its init shim and QEMU.
 */
export function longLivedProcesses(d: Dockerd, keeper: string): Record<string, number> {
  const found: Record<string, number | undefined> = {
    dockerd: d.dockerdPid(),
    containerd: d.containerdPid(),
    'containerd shim': processesMentioning(`-id ${keeper}`).find((p) => p.cmdline.startsWith('/usr/bin/containerd-shim'))?.pid,
  };
  const vm = containerProcesses(d.runtimeRoot, keeper);
  if (vm.initShim !== undefined) Object.assign(found, { 'vmrt init shim': vm.initShim, QEMU: vm.qemu });
  const missing = Object.entries(found).filter(([, pid]) => pid === undefined);
  if (missing.length > 0) throw new Error(`cannot find ${missing.map(([role]) => role).join(', ')}`);
  return found as Record<string, number>;
}

/** Mount points under the daemon's folder (its overlays, its netns files, vmrt's shared folders). */
export function mountsOf(d: Dockerd): number {
  return hostMountPoints().filter((point) => point.startsWith(`${d.dir}/`)).length;
}

/**
 * One cycle: `docker create`, `docker start -a` (the container echoes and exits), `docker rm`.
 * Returns a problem, or undefined when the output was right and nothing of the container is left.
 */
export async function cycle(d: Dockerd, runtime: string, image: string): Promise<string | undefined> {
  const id = d.dockerOk(['create', '--runtime', runtime, image, 'echo', 'cycled']).trim();
  const run = d.docker(['start', '-a', id]);
  const removed = d.docker(['rm', id]);
  if (run.status !== 0 || run.stdout !== 'cycled\n') return `docker start -a ${id} exited ${run.status}: ${run.stdout}${run.stderr}`;
  if (removed.status !== 0) return `docker rm ${id}: ${removed.stderr}`;
  if (runtime !== 'vmrt') return undefined;
  // containerd deletes after the exit, asynchronously.
  const deadline = Date.now() + 30000;
  for (;;) {
    const left = leftovers(d.runtimeRoot, id);
    if (left.length === 0) return undefined;
    if (Date.now() > deadline) return `left of ${id}: ${left.join(', ')}`;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
