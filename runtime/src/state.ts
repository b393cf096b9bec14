/**
 * Container state under `--root`: one folder per container holding state.json. Docker shares
 * its root with runc, whose folders also hold a state.json: ours carry `"vmrt": 1`, anything
 * else is not ours and is skipped.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { RuntimeError } from './errors.js';
import { isAlive, type ProcessRef } from './proc.js';
import { SOCKET_BASE } from './paths.js';
import type { Hook } from './hooks.js';
import type { GuestNetwork } from './network.js';

export type Status = 'creating' | 'created' | 'running' | 'paused' | 'stopped';

export interface ContainerState {
  vmrt: 1;
  id: string;
  bundle: string;
  /** The rootfs on the host (absolute). */
  rootfs: string;
  created: string;
  ociVersion: string;
  annotations: Record<string, string>;
  /** Short folder for sockets and the guest spec. */
  runDir: string;
  /** Host folders mounted into the shared folder, in mount order. */
  mounts: string[];
  netns: { path: string; /** set when vmrt created it (and so deletes it) */ name?: string };
  cgroups: string[];
  /** The interfaces moved into the VM (see network.ts). */
  network?: GuestNetwork;
  accelerator: string;
  qemu?: ProcessRef;
  /** The file server of the shared folder (share-server.ts; absent when QEMU serves 9p itself). */
  shareServer?: ProcessRef;
  shim?: ProcessRef;
  /** Guest pid of the container's init process. */
  guestPid?: number;
  started: boolean;
  /** Set by `pause` (QEMU stopped with SIGSTOP), cleared by `resume`. */
  paused?: boolean;
  hooks: { poststart: Hook[]; poststop: Hook[] };
  /** The VM's shape: `update` may raise limits up to it. */
  vm: { vcpus: number; memoryMiB: number };
  /** The VM template the VM was restored from (template.ts); none for a cold boot. */
  template?: string;
  /**
   * Set for a container created in the VM of another (a pod: pod.ts): that container's id and
   * socket folder (its init shim's mux.sock is the way to the agent), and the subfolder of that
   * VM's shared folder holding this container's rootfs and volumes.
   */
  pod?: { vm: string; vmRunDir: string; sharedDir: string };
}

const ID_PATTERN = /^[\w+.-]+$/;

export function validateId(id: string): void {
  if (!ID_PATTERN.test(id) || id === '.' || id === '..') {
    throw new RuntimeError(`invalid id format: ${JSON.stringify(id)}`);
  }
}

export function containerDir(root: string, id: string): string {
  return join(root, id);
}

export function stateFile(root: string, id: string): string {
  return join(containerDir(root, id), 'state.json');
}

/** The socket folder of a container: a hash keeps it short and unique per root and id. */
export function runDirFor(root: string, id: string): string {
  const hash = createHash('sha256').update(`${root}\0${id}`).digest('hex').slice(0, 12);
  return join(SOCKET_BASE, hash);
}

export function netnsNameFor(runDir: string): string {
  return `vmrt-${runDir.slice(-12)}`;
}

function parseOurs(text: string): ContainerState | undefined {
  try {
    const parsed = JSON.parse(text) as Partial<ContainerState>;
    return parsed && parsed.vmrt === 1 && typeof parsed.id === 'string' ? (parsed as ContainerState) : undefined;
  } catch {
    return undefined;
  }
}

/** The state of `id`, or undefined when no vmrt container of that id exists. */
export function readState(root: string, id: string): ContainerState | undefined {
  try {
    return parseOurs(readFileSync(stateFile(root, id), 'utf8'));
  } catch {
    return undefined;
  }
}

export function loadState(root: string, id: string): ContainerState {
  validateId(id);
  const state = readState(root, id);
  if (!state) throw new RuntimeError(`container "${id}" does not exist`);
  return state;
}

/** Atomic (write then rename), so a reader never sees half a file; on a full disk the old file stays whole. */
export function writeState(root: string, state: ContainerState): void {
  const file = stateFile(root, state.id);
  try {
    writeFileSync(`${file}.tmp`, JSON.stringify(state, null, 2));
    renameSync(`${file}.tmp`, file);
  } catch (err) {
    rmSync(`${file}.tmp`, { force: true });
    const { code, message } = err as NodeJS.ErrnoException;
    throw new RuntimeError(
      `cannot save the state of container "${state.id}" to ${file}: ${code === 'ENOSPC' ? 'no space left on device' : message}`,
    );
  }
}

export function listStates(root: string): ContainerState[] {
  let names: string[];
  try {
    names = readdirSync(root);
  } catch {
    return [];
  }
  return names.sort().flatMap((name) => {
    const state = readState(root, name);
    return state ? [state] : [];
  });
}

/** The status right now: the init shim stands in for the container process. */
export function statusOf(state: ContainerState): Status {
  // The guest pid arrives with the shim's ready line, the last step of create.
  if (state.guestPid === undefined) return 'creating';
  // A container's processes end with its VM, even while its shim still drains their output.
  if (!isAlive(state.shim) || (state.qemu && !isAlive(state.qemu))) return 'stopped';
  if (!state.started) return 'created';
  return state.paused ? 'paused' : 'running';
}

/** The OCI state (runc's `state` output). */
export function ociState(state: ContainerState): Record<string, unknown> {
  const status = statusOf(state);
  return {
    ociVersion: state.ociVersion,
    id: state.id,
    pid: status === 'stopped' ? 0 : (state.shim?.pid ?? 0),
    status,
    bundle: state.bundle,
    rootfs: state.rootfs,
    created: state.created,
    owner: '',
    annotations: state.annotations,
  };
}

export function ensureDir(path: string, mode = 0o711): void {
  mkdirSync(path, { recursive: true, mode });
}
