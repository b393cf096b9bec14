/**
 * What a vmrt container may leave on the host, for tests that assert "nothing left behind":
 * its state folder, its socket folder, its netns, mounts under the root, and host processes
 * (QEMU and shims name the socket folder on their command lines).
 */
import { existsSync, readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { netnsNameFor, runDirFor } from '../../runtime/src/state.js';
import { processesMentioning as liveProcessesMentioning } from '../../runtime/src/proc.js';
import assert from 'node:assert/strict';
import { waitFor } from './wait.js';

/** Host processes whose command line mentions `needle`, as "pid: cmdline". */
export function processesMentioning(needle: string): string[] {
  return liveProcessesMentioning(needle).map((p) => `${p.pid}: ${p.cmdline.slice(0, 160)}`);
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
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const point = line.split(' ')[4];
    if (point && point.startsWith(`${dir}/`)) out.push(`mount ${point}`);
  }
  for (const p of processesMentioning(runDir)) out.push(`process ${p}`);
  return out;
}

/** Waits until nothing of the container is left (containerd deletes after the exit, asynchronously), else fails listing what is. */
export async function assertNothingLeft(root: string, id: string, timeoutMs = 30000): Promise<void> {
  await waitFor(`nothing left of ${id}`, () => (leftovers(root, id).length === 0 ? true : undefined), timeoutMs).catch(() =>
    assert.deepEqual(leftovers(root, id), []),
  );
}
