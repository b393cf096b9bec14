/**
 * What a vmrt container may leave on the host, for tests that assert "nothing left behind":
 * its state folder, its socket folder, its netns, mounts under the root, and host processes
 * (QEMU and shims name the socket folder on their command lines).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { netnsNameFor, runDirFor } from '../../runtime/src/state.js';

/** Host processes whose command line mentions `needle`. */
export function processesMentioning(needle: string): string[] {
  const found: string[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      const cmdline = readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0').join(' ').trim();
      const state = /State:\s+(\w)/.exec(readFileSync(`/proc/${name}/status`, 'utf8'))?.[1];
      if (cmdline.includes(needle) && state !== 'Z') found.push(`${name}: ${cmdline.slice(0, 160)}`);
    } catch {
      // The process ended while we looked.
    }
  }
  return found;
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
