/**
 * The container's network namespace on the host: vmrt makes one (`ip netns add`) unless the
 * config names one (Kubernetes/CNI). QEMU and the init shim live in it, so Docker's prestart
 * hook, which configures /proc/<state.pid>/ns/net, configures this one.
 */
import { readdirSync } from 'node:fs';
import { run } from './proc.js';
import type { Config } from './spec.js';

export const NETNS_DIR = '/run/netns';

export function netnsPathFromConfig(config: Config): string | undefined {
  return config.linux?.namespaces?.find((ns) => ns.type === 'network')?.path;
}

export function createNetns(name: string): string {
  run('ip', ['netns', 'add', name]);
  return `${NETNS_DIR}/${name}`;
}

export function deleteNetns(name: string): void {
  try {
    run('ip', ['netns', 'delete', name]);
  } catch (err) {
    if (!/No such file|does not exist/i.test(String(err))) throw err;
  }
}

/** The network namespaces vmrt made (one per vmrt container). */
export function vmrtNetnsPaths(): string[] {
  try {
    return readdirSync(NETNS_DIR)
      .filter((n) => n.startsWith('vmrt-'))
      .map((n) => `${NETNS_DIR}/${n}`);
  } catch {
    return [];
  }
}

/** argv prefix that runs a command inside the namespace (nsenter execs: the pid stays). */
export function inNetns(path: string): string[] {
  return ['nsenter', `--net=${path}`, '--'];
}
