/** A lock between vmrt processes: a folder holding its maker's pid (one CLI call at a time holds it). */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { RuntimeError } from './errors.js';
import { sleep } from './proc.js';

function holderOf(lock: string): number {
  try {
    return Number(readFileSync(join(lock, 'pid'), 'utf8').trim());
  } catch {
    return 0;
  }
}

/** Runs `body` holding `lock`; a lock whose maker is gone is taken over. */
export async function withLock<T>(lock: string, timeoutMs: number, body: () => Promise<T> | T): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      mkdirSync(lock);
      writeFileSync(join(lock, 'pid'), String(process.pid));
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const holder = holderOf(lock);
      if (holder > 0 && !existsSync(`/proc/${holder}`)) rmSync(lock, { recursive: true, force: true });
      else if (Date.now() > deadline) throw new RuntimeError(`waited ${timeoutMs / 1000} s for ${lock} (held by pid ${holder || '?'})`);
      else await sleep(holder > 0 ? 100 : 10);
    }
  }
  try {
    return await body();
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}
