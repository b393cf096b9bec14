/**
 * What a vmrt container may leave on the host, for tests that assert "nothing left behind":
 * its state folder, its socket folder, its netns, mounts under the root, and host processes
 * (QEMU and shims name the socket folder on their command lines).
 */
import { existsSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { netnsNameFor, runDirFor } from '../../runtime/src/state.js';
import { processesMentioning as liveProcessesMentioning } from '../../runtime/src/proc.js';
import { cgroupMounts } from '../../runtime/src/cgroups.js';
import { hostMountPoints } from '../../runtime/src/jail.js';
import { CLI_SOCKET_NAME } from '../../runtime/src/commands/serve.js';
import assert from 'node:assert/strict';
import { waitFor } from './wait.js';

/** Host processes whose command line mentions `needle`, as "pid: cmdline". */
export function processesMentioning(needle: string): string[] {
  return liveProcessesMentioning(needle).map((p) => `${p.pid}: ${p.cmdline.slice(0, 160)}`);
}

/** The host processes of a container: its init shim, exec shims and QEMU, by pid. */
export function containerProcesses(root: string, id: string): { initShim?: number; execShims: number[]; qemu?: number } {
  const all = processesMentioning(runDirFor(root, id));
  const pids = (match: RegExp) => all.filter((p) => match.test(p)).map((p) => Number(p.split(':')[0]));
  return { initShim: pids(/vmrt-shim init /)[0], execShims: pids(/vmrt-shim exec /), qemu: pids(/qemu-system/)[0] };
}

export function leftovers(root: string, id: string): string[] {
  const out: string[] = [];
  const dir = join(root, id);
  if (existsSync(dir)) out.push(`state folder ${dir}`);
  const runDir = runDirFor(root, id);
  if (existsSync(runDir)) out.push(`socket folder ${runDir}`);
  const netns = netnsNameFor(runDir);
  const list = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout ?? '';
  if (list.split('\n').some((l) => l.split(' ')[0] === netns)) out.push(`netns ${netns}`);
  for (const point of hostMountPoints()) if (point.startsWith(`${dir}/`)) out.push(`mount ${point}`);
  for (const p of processesMentioning(runDir)) out.push(`process ${p}`);
  for (const cgroup of cgroupsNamed(id)) out.push(`cgroup ${cgroup}`);
  return out;
}

/**
 * Host cgroups named after `id`, two levels deep (Docker's cgroupfs driver makes /docker/<id>,
 * its systemd driver system.slice/docker-<id>.scope).
 */
function cgroupsNamed(id: string): string[] {
  const found: string[] = [];
  const subfolders = (dir: string) => {
    try {
      return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? [join(dir, e.name)] : []));
    } catch {
      return [];
    }
  };
  for (const { mountPoint } of cgroupMounts()) {
    for (const first of subfolders(mountPoint)) {
      for (const dir of [first, ...subfolders(first)]) {
        const name = dir.slice(dir.lastIndexOf('/') + 1);
        if (name === id || name.endsWith(`-${id}.scope`)) found.push(dir);
      }
    }
  }
  return found;
}

/**
 * The last lines that the daemon whose folder holds `root` (a test's dockerd or containerd) logged of
 * `id`: a delete the runtime refused or failed shows there, since the daemon only warns of it.
 */
function daemonLogOf(root: string, id: string): string {
  for (let dir = dirname(root); dir !== '/' && dir !== '.'; dir = dirname(dir)) {
    for (const name of ['dockerd.log', 'containerd.log']) {
      const log = join(dir, name);
      if (!existsSync(log)) continue;
      const lines = readFileSync(log, 'utf8')
        .split('\n')
        .filter((line) => line.includes(id));
      return `\n--- ${log}, its last lines naming ${id} ---\n${lines.slice(-15).join('\n')}`;
    }
  }
  return '';
}

/** Waits until nothing of the container is left (containerd deletes after the exit, asynchronously), else fails listing what is. */
export async function assertNothingLeft(root: string, id: string, timeoutMs = 30000): Promise<void> {
  await waitFor(`nothing left of ${id}`, () => (leftovers(root, id).length === 0 ? true : undefined), timeoutMs).catch(() =>
    assert.deepEqual(leftovers(root, id), [], `left of ${id} after ${timeoutMs / 1000} s${daemonLogOf(root, id)}`),
  );
}

/** The pids of the CLI servers of `root` (README: The CLI server). */
export function cliServers(root: string): number[] {
  return liveProcessesMentioning(`--root ${root} serve`).map((p) => p.pid);
}

/** Ends the CLI server of `root` as a removed root would: its socket goes, and it ends within seconds. */
export async function endCliServer(root: string): Promise<void> {
  rmSync(join(root, CLI_SOCKET_NAME), { force: true });
  await waitFor(`the CLI server of ${root} to end`, () => (cliServers(root).length === 0 ? true : undefined), 10000);
}
