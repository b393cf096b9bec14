/**
 * The one folder the VM sees (over virtio-fs or 9p, tag `vmrt`, mounted by the agent at
 * /run/vmrt/shared; its file server: share-server.ts): the rootfs and every bind-mount source are
 * bind-mounted into it, and the spec handed to the guest names them by their guest paths
 * (PROTOCOL.md).
 */
import { accessSync, closeSync, constants, mkdirSync, openSync, statfsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { RuntimeError } from './errors.js';
import { virtiofsdPath } from './paths.js';
import { isCriPodMember } from './pod.js';
import { run } from './proc.js';
import { isBindMount, type Config, type Mount } from './spec.js';

export const GUEST_SHARED = '/run/vmrt/shared';

export type SharedFolderKind = 'virtiofs' | '9p';

/**
 * How QEMU reaches the folder: virtiofsd's vhost-user socket; 9p through virtfs-proxy-helper's
 * socket (proxySocket), or from QEMU's own `local` driver on `dir` without one.
 */
export type ShareServer = { kind: 'virtiofs'; socket: string } | { kind: '9p'; dir: string; proxySocket?: string };

/**
 * The shared folder's file system for one VM. Both keep sockets and FIFOs working on the rootfs
 * and volumes, and see what the host changes there at once (test/compat runs under each).
 * virtio-fs is the default (faster: bench/runtime-storage.ts). A templated VM gets 9p: its RAM
 * is a private copy-on-write mapping of the template's, which virtiofsd (vhost-user) cannot
 * share, and a vhost-user-fs device cannot be migrated. VMRT_SHARED_FS=9p or virtiofs forces one
 * (virtiofs with a template is refused); 9p where virtiofsd is not installed.
 */
export function sharedFolderKind(templated: boolean, env: NodeJS.ProcessEnv = process.env): SharedFolderKind {
  const forced = env.VMRT_SHARED_FS;
  if (forced !== undefined && forced !== 'virtiofs' && forced !== '9p')
    throw new RuntimeError(`VMRT_SHARED_FS must be virtiofs or 9p, not "${forced}"`);
  if (templated) {
    if (forced === 'virtiofs')
      throw new RuntimeError('VMRT_SHARED_FS=virtiofs: a VM started from a template cannot share its RAM with virtiofsd; use 9p');
    return '9p';
  }
  if (forced) return forced;
  try {
    accessSync(virtiofsdPath(), constants.X_OK);
    return 'virtiofs';
  } catch {
    return '9p';
  }
}

/** QEMU's arguments for the shared folder's device (tag `vmrt`). */
export function shareQemuArgs(share: ShareServer): string[] {
  if (share.kind === 'virtiofs')
    return ['-chardev', `socket,id=shared,path=${share.socket}`, '-device', 'vhost-user-fs-device,chardev=shared,tag=vmrt'];
  const fsdev = share.proxySocket
    ? `proxy,id=shared,socket=${share.proxySocket}`
    : `local,id=shared,path=${share.dir},security_model=none,multidevs=remap`;
  return ['-fsdev', fsdev, '-device', 'virtio-9p-device,fsdev=shared,mount_tag=vmrt'];
}

const TMPFS_MAGIC = 0x01021994;

/**
 * Docker bind-mounts /dev/shm from a host tmpfs sized by --shm-size. Shared from the host, its
 * memory would be host files: the guest gets a tmpfs of its own, of the same size, instead. Not
 * in a Kubernetes pod: there every container mounts the sandbox's, and the pod's containers share
 * it (a tmpfs per container would split it); shared from the host, it is one in the VM too.
 */
function guestShm(mount: Mount, config: Config): Mount | undefined {
  if (mount.destination !== '/dev/shm' || !mount.source || isCriPodMember(config)) return undefined;
  let fs;
  try {
    fs = statfsSync(mount.source);
  } catch {
    return undefined;
  }
  if (fs.type !== TMPFS_MAGIC) return undefined;
  const kept = (mount.options ?? []).filter((o) => ['nosuid', 'nodev', 'noexec', 'ro'].includes(o));
  return { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: [...kept, 'mode=1777', `size=${fs.blocks * fs.bsize}`] };
}

export function bindInto(source: string, target: string, recursive: boolean, mounts: string[]): void {
  let isDir: boolean;
  try {
    isDir = statSync(source).isDirectory();
  } catch {
    throw new RuntimeError(`bind mount source ${source} does not exist`);
  }
  if (isDir) mkdirSync(target, { recursive: true });
  else closeSync(openSync(target, 'a'));
  run('mount', [recursive ? '--rbind' : '--bind', source, target]);
  mounts.push(target);
  // The shared folder must not propagate mounts back to the host (or from it into the VM).
  run('mount', ['--make-rprivate', target]);
}

/**
 * Fills `sharedDir` (seen in the guest at `guestDir`) and returns the guest spec. On failure, what was mounted so far is in
 * `mounts` of the thrown error's caller: callers pass their own array to undo it.
 */
export function populateShared(config: Config, rootfs: string, sharedDir: string, mounts: string[], guestDir = GUEST_SHARED): Config {
  // Searchable by all (not listable): the root of a container in a user namespace is a mapped id
  // that must pass through it to its rootfs and volumes.
  mkdirSync(sharedDir, { recursive: true, mode: 0o711 });
  bindInto(rootfs, join(sharedDir, 'rootfs'), true, mounts);
  const guest: Config = structuredClone(config);
  guest.root = { ...guest.root!, path: `${guestDir}/rootfs` };
  guest.mounts = (config.mounts ?? []).map((mount, i) => {
    if (!isBindMount(mount) || !mount.source) return mount;
    const shm = guestShm(mount, config);
    if (shm) return shm;
    const name = `m${i}`;
    const recursive = (mount.options ?? []).includes('rbind');
    bindInto(mount.source, join(sharedDir, name), recursive, mounts);
    return { ...mount, source: `${guestDir}/${name}` };
  });
  delete guest.hooks;
  if (guest.linux) {
    // The VM is the container's network sandbox: the guest container uses the VM's stack.
    guest.linux = {
      ...guest.linux,
      namespaces: (guest.linux.namespaces ?? []).filter((ns) => ns.type !== 'network').map(({ type }) => ({ type })),
    };
    delete guest.linux.cgroupsPath;
  }
  return guest;
}

/** Unmounts in reverse order; lazily, since the file server (virtiofsd, the 9p helper, QEMU) may still be closing files. */
export function unmountAll(mounts: readonly string[]): string[] {
  const failures: string[] = [];
  for (const target of [...mounts].reverse()) {
    try {
      run('umount', ['-l', target]);
    } catch (err) {
      if (!/not mounted|no mount point|not found/i.test(String(err))) failures.push(String(err));
    }
  }
  return failures;
}
