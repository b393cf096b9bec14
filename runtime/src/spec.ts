/** The parts of the OCI runtime-spec config.json that vmrt reads (runtime-spec config.md). */
import type { Hook } from './hooks.js';

export interface Mount {
  destination: string;
  type?: string;
  source?: string;
  options?: string[];
}

export interface Namespace {
  type: string;
  path?: string;
}

export interface Device {
  path: string;
  type?: string;
  major?: number;
  minor?: number;
}

export interface Process {
  terminal?: boolean;
  consoleSize?: { height: number; width: number };
  user?: { uid: number; gid: number; additionalGids?: number[]; umask?: number };
  args?: string[];
  env?: string[];
  cwd: string;
  capabilities?: Record<string, string[]>;
  rlimits?: Array<{ type: string; hard: number; soft: number }>;
  noNewPrivileges?: boolean;
  apparmorProfile?: string;
  selinuxLabel?: string;
  [key: string]: unknown;
}

export interface Hooks {
  prestart?: Hook[];
  createRuntime?: Hook[];
  createContainer?: Hook[];
  startContainer?: Hook[];
  poststart?: Hook[];
  poststop?: Hook[];
}

export interface Config {
  ociVersion: string;
  root?: { path: string; readonly?: boolean };
  process?: Process;
  hostname?: string;
  mounts?: Mount[];
  hooks?: Hooks;
  annotations?: Record<string, string>;
  linux?: {
    namespaces?: Namespace[];
    devices?: Device[];
    cgroupsPath?: string;
    rootfsPropagation?: string;
    sysctl?: Record<string, string>;
    resources?: Record<string, unknown>;
    [key: string]: unknown;
  };
  [key: string]: unknown;
}

export function isBindMount(mount: Mount): boolean {
  return mount.type === 'bind' || (mount.options ?? []).some((o) => o === 'bind' || o === 'rbind');
}
