import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { flagBool, expectPositionals } from '../args.js';
import type { Command } from '../command.js';
import { RuntimeError, UsageError } from '../errors.js';
import { launcherPath } from '../paths.js';

export const DEFAULT_DAEMON_JSON = '/etc/docker/daemon.json';

export function runtimeEntry(): { runtimes: Record<string, { path: string }> } {
  return { runtimes: { vmrt: { path: launcherPath() } } };
}

/** daemon.json with our runtime added; every other setting (and other runtimes) kept. */
export function mergeDaemonJson(existing: string | undefined, file: string): Record<string, unknown> {
  let config: Record<string, unknown> = {};
  if (existing && existing.trim()) {
    try {
      config = JSON.parse(existing) as Record<string, unknown>;
    } catch (err) {
      throw new RuntimeError(`${file} is not valid JSON (${(err as Error).message}); not changing it`);
    }
    if (typeof config !== 'object' || config === null || Array.isArray(config)) throw new RuntimeError(`${file} is not a JSON object; not changing it`);
  }
  const runtimes = (config.runtimes ?? {}) as Record<string, unknown>;
  return { ...config, runtimes: { ...runtimes, ...runtimeEntry().runtimes } };
}

export const install: Command = {
  name: 'install',
  usage: 'install --docker [--write [daemon.json]]',
  summary: 'print (or merge into daemon.json) the Docker runtime entry for vmrt',
  flags: {
    docker: { kind: 'bool', help: 'the Docker daemon.json entry' },
    write: { kind: 'bool', help: `merge it into daemon.json (default ${DEFAULT_DAEMON_JSON})` },
  },
  async run(args) {
    if (!flagBool(args, 'docker')) throw new UsageError('install needs --docker (the only target so far)');
    if (!flagBool(args, 'write')) {
      expectPositionals(args, 'install', []);
      process.stdout.write(`${JSON.stringify(runtimeEntry(), null, 2)}\n`);
      return 0;
    }
    const [file = DEFAULT_DAEMON_JSON] = expectPositionals(args, 'install', [], true);
    let existing: string | undefined;
    try {
      existing = readFileSync(file, 'utf8');
    } catch {
      existing = undefined;
    }
    const merged = mergeDaemonJson(existing, file);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, `${JSON.stringify(merged, null, 2)}\n`);
    process.stdout.write(`wrote the vmrt runtime into ${file}; restart dockerd, then: docker run --runtime vmrt …\n`);
    return 0;
  },
};
