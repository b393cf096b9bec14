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
    if (typeof config !== 'object' || config === null || Array.isArray(config))
      throw new RuntimeError(`${file} is not a JSON object; not changing it`);
  }
  const runtimes = (config.runtimes ?? {}) as Record<string, unknown>;
  return { ...config, runtimes: { ...runtimes, ...runtimeEntry().runtimes } };
}

/**
 * containerd 1.6's CRI runtime table `vmrt`: runc's v2 shim with vmrt as its binary. `options`
 * adds runc-shim options (the CRI test gives it a state Root of its own).
 */
export function containerdRuntimeTable(options: Record<string, string> = {}): string[] {
  return [
    '[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.vmrt]',
    '  runtime_type = "io.containerd.runc.v2"',
    '[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.vmrt.options]',
    // JSON strings are TOML basic strings.
    ...Object.entries({ BinaryName: launcherPath(), ...options }).map(([key, value]) => `  ${key} = ${JSON.stringify(value)}`),
  ];
}

/** containerd's CRI runtime entry and the RuntimeClass. */
function containerdConfig(): string {
  return [
    '# /etc/containerd/config.toml (containerd 1.6, CRI plugin; a file that names no runtime',
    "# needs runc's table too: runtimes named there replace the built-in ones):",
    ...containerdRuntimeTable(),
    '',
    '# Kubernetes: pods with runtimeClassName: vmrt run in vmrt VMs.',
    'apiVersion: node.k8s.io/v1',
    'kind: RuntimeClass',
    'metadata:',
    '  name: vmrt',
    'handler: vmrt',
    '',
  ].join('\n');
}

export const install: Command = {
  name: 'install',
  usage: 'install --docker [--write [daemon.json]] | install --containerd',
  summary: 'print (or merge into daemon.json) the Docker runtime entry; print the containerd/Kubernetes one',
  flags: {
    containerd: { kind: 'bool', help: 'print the containerd CRI runtime entry and a Kubernetes RuntimeClass' },
    docker: { kind: 'bool', help: 'the Docker daemon.json entry' },
    write: { kind: 'bool', help: `merge it into daemon.json (default ${DEFAULT_DAEMON_JSON})` },
  },
  async run(args) {
    if (flagBool(args, 'containerd')) {
      expectPositionals(args, 'install', []);
      process.stdout.write(containerdConfig());
      return 0;
    }
    if (!flagBool(args, 'docker')) throw new UsageError('install needs --docker or --containerd');
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
