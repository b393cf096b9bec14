/**
 * QEMU's jail. QEMU parses everything the guest sends (virtio rings, the serial port, PCI
 * config space), so a guest that breaks out of its VM lands in QEMU: there it must hold nothing
 * beyond its own VM. Every container VM's QEMU runs
 * - as a uid and gid of its own, from QEMU_IDS (no passwd entry needed): it cannot signal, trace
 *   or read the memory of another VM's QEMU or of any host process, and owns no host file;
 * - with no capabilities at all (none permitted, effective, inheritable or ambient, an empty
 *   bounding set) and no_new_privs, under its seccomp sandbox (vm.ts);
 * - in a mount namespace of its own: every host mount read-only; a /dev holding only the nodes
 *   it needs (its tun node attaches only to the taps its uid owns); /run, /tmp, /var/tmp, /root,
 *   /home, the runtime's state and socket folders and the VM templates replaced by empty
 *   read-only folders, except its own socket folder and the files it opens (guest kernel,
 *   initramfs, console log, template RAM).
 * It is entered as root (in the container's netns: the shell script below mounts, then
 * setpriv drops everything and execs QEMU, so the pid stays QEMU's). The VMs of no container
 * (a template being made, `vmrt check`'s probes) run in one too, with an empty netns.
 *
 * A uid is taken under a lock and recorded as the owner of the VM's folder (<runDir>/vm, where
 * QEMU makes its sockets); it is free again once that folder is gone, so delete, which removes
 * the socket folder, gives it back without a step of its own.
 */
import {
  chmodSync,
  chownSync,
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { RuntimeError } from './errors.js';
import { withLock } from './lock.js';
import { processesMentioning, signalProcess } from './proc.js';
import { guestFiles, SOCKET_BASE } from './paths.js';
import type { Accelerator } from './vm.js';

/** The uids (and gids, the same numbers) of QEMU processes: unused by Debian, systemd and container user namespaces. */
export const QEMU_IDS = { first: 2_000_000_000, count: 65536 };

const ID_LOCK_TIMEOUT_MS = 30000;

export interface Jail {
  uid: number;
  gid: number;
}

/** The VM's own folder in its socket folder: QEMU's sockets, the one folder it may write. */
export function vmDirOf(runDir: string): string {
  return join(runDir, 'vm');
}

const isQemuId = (id: number) => id >= QEMU_IDS.first && id < QEMU_IDS.first + QEMU_IDS.count;

/** The first free id from `preferred` on (wrapping around the range). */
export function pickId(preferred: number, used: ReadonlySet<number>): number {
  for (let i = 0; i < QEMU_IDS.count; i++) {
    const id = QEMU_IDS.first + ((preferred + i) % QEMU_IDS.count);
    if (!used.has(id)) return id;
  }
  throw new RuntimeError(`all ${QEMU_IDS.count} QEMU uids (from ${QEMU_IDS.first}) are taken by running VMs`);
}

/** The ids held by VMs now: the owners of the VM folders in the socket folders. */
function idsInUse(): Set<number> {
  const used = new Set<number>();
  let names: string[];
  try {
    names = readdirSync(SOCKET_BASE);
  } catch {
    return used;
  }
  for (const name of names) {
    try {
      const { uid } = statSync(vmDirOf(join(SOCKET_BASE, name)));
      if (isQemuId(uid)) used.add(uid);
    } catch {
      // Not a socket folder, or one without a VM (a container of a pod, a create just begun).
    }
  }
  return used;
}

/**
 * Takes a uid for the VM of socket folder `runDir` and makes its VM folder; the socket folder
 * becomes searchable (not listable) by that uid's group alone: QEMU reaches the file servers'
 * sockets there by name.
 */
export async function prepareJail(runDir: string): Promise<Jail> {
  const vmDir = vmDirOf(runDir);
  const jail = await withLock(join(SOCKET_BASE, 'qemu-ids.lock'), ID_LOCK_TIMEOUT_MS, () => {
    // The socket folder's name is a hash: as good a first guess as any, and stable per container.
    const id = pickId(parseInt(basename(runDir).slice(0, 8), 16) || 0, idsInUse());
    mkdirSync(vmDir, { recursive: true, mode: 0o700 });
    chownSync(vmDir, id, id);
    return { uid: id, gid: id };
  });
  chmodSync(vmDir, 0o700);
  chownSync(runDir, 0, jail.gid);
  chmodSync(runDir, 0o710);
  return jail;
}

const SCRATCH_PREFIX = 'scratch-';

/**
 * Scratch socket folders whose maker is gone (killed while it made a template): their QEMU, if it
 * outlived its maker, is ended, and the folder removed, which frees the uid.
 */
function removeAbandonedScratch(): void {
  for (const name of readdirSync(SOCKET_BASE)) {
    const maker = Number(/^scratch-(\d+)-/.exec(name)?.[1]);
    if (!(maker > 0) || existsSync(`/proc/${maker}`)) continue;
    const dir = join(SOCKET_BASE, name);
    for (const qemu of processesMentioning(`${dir}/`)) signalProcess(qemu, 'SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}

export interface ScratchJail {
  jail: Jail;
  runDir: string;
  /** Removes the socket folder (and so frees the uid). */
  release: () => void;
}

/** A jail for a QEMU that runs no container (a VM template being made, `vmrt check`'s probes): a socket folder of its own. */
export async function scratchJail(): Promise<ScratchJail> {
  mkdirSync(SOCKET_BASE, { recursive: true, mode: 0o711 });
  removeAbandonedScratch();
  const runDir = mkdtempSync(join(SOCKET_BASE, `${SCRATCH_PREFIX}${process.pid}-`));
  try {
    return { jail: await prepareJail(runDir), runDir, release: () => rmSync(runDir, { recursive: true, force: true }) };
  } catch (err) {
    rmSync(runDir, { recursive: true, force: true });
    throw err;
  }
}

/** The jail of the VM of `runDir`; undefined for a VM started before QEMU was jailed (it runs as root). */
export function jailOf(runDir: string): Jail | undefined {
  try {
    const { uid, gid } = statSync(vmDirOf(runDir));
    return isQemuId(uid) ? { uid, gid } : undefined;
  } catch {
    return undefined;
  }
}

/** A character device node of QEMU's /dev. */
export interface DeviceNode {
  path: string;
  major: number;
  minor: number;
  mode: number;
  /** Owned by QEMU's uid (else root). */
  own?: boolean;
}

/** Nodes every QEMU gets: the usual harmless ones, and tun (it attaches only to taps its uid owns). */
const BASE_NODES: DeviceNode[] = [
  { path: '/dev/null', major: 1, minor: 3, mode: 0o666 },
  { path: '/dev/zero', major: 1, minor: 5, mode: 0o666 },
  { path: '/dev/full', major: 1, minor: 7, mode: 0o666 },
  { path: '/dev/random', major: 1, minor: 8, mode: 0o666 },
  { path: '/dev/urandom', major: 1, minor: 9, mode: 0o666 },
  { path: '/dev/net/tun', major: 10, minor: 200, mode: 0o666 },
];

/** The host's device number of a node, as major and minor. */
export type DeviceNumbers = (path: string) => { major: number; minor: number };

export const hostDeviceNumbers: DeviceNumbers = (path) => {
  let rdev: number;
  try {
    rdev = statSync(path).rdev;
  } catch {
    throw new RuntimeError(`QEMU needs ${path}, which this host does not have`);
  }
  // Linux's dev_t: the minor's low 8 bits, the major's 12, then the minor's high 12.
  return { major: Math.floor(rdev / 256) & 0xfff, minor: (rdev & 0xff) | (Math.floor(rdev / 4096) & 0xfff00) };
};

/** The VFIO groups (/dev/vfio/<n>) of the devices passed through in QEMU's arguments (vfio.ts). */
export function vfioGroupsOf(args: readonly string[], sys = '/sys'): string[] {
  const groups = args.flatMap((arg) => {
    const address = /^vfio-pci,host=([^,]+)/.exec(arg)?.[1];
    return address ? [basename(readlinkSync(join(sys, 'bus', 'pci', 'devices', address, 'iommu_group')))] : [];
  });
  return [...new Set(groups)].map((group) => `/dev/vfio/${group}`);
}

/** What the jail of one VM holds besides QEMU's program and libraries. */
export interface JailView {
  jail: Jail;
  /** Host folders hidden behind empty read-only ones. */
  hide: string[];
  /** Paths under those folders that QEMU keeps (its socket folder, the files it opens); read-only unless `writable`. */
  keep: Array<{ path: string; dir: boolean; writable: boolean }>;
  /** The host's mount points: each is made read-only in the jail. */
  mounts: string[];
  devices: DeviceNode[];
  /** Unlimited locked memory: VFIO pins the guest's RAM. */
  lockMemory: boolean;
  /** A network namespace of its own, empty: a VM that serves no container's network. */
  ownNetwork: boolean;
  /** A tap made in that netns for QEMU's uid (a template VM's NIC). */
  tap?: string;
}

const within = (path: string, dir: string) => path === dir || path.startsWith(`${dir}/`);

/** Single-quoted for sh. */
const quote = (text: string) => `'${text.replace(/'/g, `'\\''`)}'`;

const STAGING = '/dev/.vmrt-keep';

/**
 * The sh script that builds the mount namespace (as root, in a fresh one) and execs its
 * arguments as QEMU's uid, without capabilities. Every host mount becomes read-only there (a
 * world-writable folder anywhere stays unwritable); kept paths are bind-mounted aside before
 * their folder is hidden and moved back into the empty folder after.
 */
export function jailScript(view: JailView): string {
  // Outermost first; a folder inside another hidden one is hidden with it.
  const hide = [...new Set(view.hide)]
    .sort((a, b) => a.length - b.length)
    .filter((dir, i, all) => !all.slice(0, i).some((outer) => within(dir, outer)));
  // Only what a hidden folder holds; what a kept folder holds comes back with it.
  const keep = view.keep.filter(
    (k) => hide.some((dir) => within(k.path, dir)) && !view.keep.some((other) => other.dir && other !== k && within(k.path, other.path)),
  );
  const { uid, gid } = view.jail;
  const lines = ['set -e', 'mount -n -t tmpfs -o mode=0755,size=64k,nosuid,noexec vmrt-dev /dev'];
  for (const node of [...BASE_NODES, ...view.devices]) {
    if (dirname(node.path) !== '/dev') lines.push(`mkdir -p ${quote(dirname(node.path))}`);
    lines.push(`mknod -m ${node.mode.toString(8)} ${quote(node.path)} c ${node.major} ${node.minor}`);
    if (node.own) lines.push(`chown ${uid}:${gid} ${quote(node.path)}`);
  }
  const staged = (i: number) => `${STAGING}/${i}`;
  const makePoint = (path: string, dir: boolean) => (dir ? `mkdir -p ${quote(path)}` : `: > ${quote(path)}`);
  // Mounts in the folders about to be hidden are out of reach anyway. One that went away since
  // it was listed (another container's, unmounted) is no error.
  const readOnly = view.mounts.filter((point) => !['/proc', '/sys', '/dev', ...hide].some((dir) => within(point, dir)));
  lines.push(...readOnly.map((point) => `mount -n -o remount,bind,ro ${quote(point)} || ! mountpoint -q ${quote(point)}`));
  if (keep.length > 0) lines.push(`mkdir ${STAGING}`);
  keep.forEach((k, i) => {
    lines.push(makePoint(staged(i), k.dir), `mount -n --bind ${quote(k.path)} ${staged(i)}`);
    // A bind mount starts with its source mount's flags: read-only now.
    lines.push(`mount -n -o remount,bind,${k.writable ? 'rw' : 'ro'} ${staged(i)}`);
  });
  for (const dir of hide) {
    const inside = keep.flatMap((k, i) => (within(k.path, dir) ? [{ ...k, i }] : []));
    lines.push(
      `if [ -d ${quote(dir)} ]; then`,
      `  mount -n -t tmpfs -o mode=0755,size=64k,nosuid,nodev,noexec vmrt-hidden ${quote(dir)}`,
      ...inside.flatMap((k) => [`  mkdir -p ${quote(dirname(k.path))}`, `  ${makePoint(k.path, k.dir)}`]),
      `  mount -n -o remount,ro ${quote(dir)}`,
      'fi',
      ...inside.map((k) => `mount -n --move ${staged(k.i)} ${quote(k.path)}`),
    );
  }
  if (keep.length > 0) lines.push(...keep.map((_, i) => `rm -d ${staged(i)}`), `rm -d ${STAGING}`);
  lines.push('mount -n -o remount,ro /dev');
  if (view.ownNetwork && view.tap) lines.push(`ip tuntap add dev ${quote(view.tap)} mode tap user ${uid} group ${gid}`);
  if (view.lockMemory) lines.push('ulimit -l unlimited');
  lines.push(
    [
      'exec setpriv',
      `--reuid=${uid}`,
      `--regid=${gid}`,
      '--clear-groups',
      '--inh-caps=-all',
      '--bounding-set=-all',
      '--no-new-privs',
      '-- "$@"',
    ].join(' '),
  );
  return lines.join('\n');
}

/** The argv that runs `program args` in the jail of `view`: run it as root (nsenter execs it). */
export function jailedArgv(view: JailView, program: string, args: readonly string[]): string[] {
  const namespaces = view.ownNetwork ? ['--mount', '--net'] : ['--mount'];
  return ['unshare', ...namespaces, '--propagation', 'private', '--', 'sh', '-c', jailScript(view), 'vmrt-jail', program, ...args];
}

type Kept = JailView['keep'][number];

export interface QemuJailSpec {
  jail: Jail;
  accelerator: Accelerator;
  /** Its socket folder (runDir/vm its own). */
  runDir: string;
  consoleLog: string;
  /** Host folders hidden besides /run, /tmp, /var/tmp, /root, /home and SOCKET_BASE: the state root, the templates' folder. */
  hide: string[];
  /** What else it opens (a template VM's share). */
  keep?: Kept[];
  /** Not in a container's netns: an empty one of its own. */
  ownNetwork?: boolean;
  /** A tap made in its own netns for QEMU. */
  tap?: string;
}

/**
 * The mount points of this process's mount namespace in mount order (mountinfo's field 5, its octal
 * escapes decoded); a point mounted over again is listed again.
 */
export function hostMountPoints(mountinfo = readFileSync('/proc/self/mountinfo', 'utf8')): string[] {
  return mountinfo.split('\n').flatMap((line) => {
    const point = line.split(' ')[4];
    return point ? [point.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)))] : [];
  });
}

/** The view of a container VM's jail for QEMU arguments `args`. */
export function qemuJailView(
  spec: QemuJailSpec,
  args: readonly string[],
  deviceNumbers: DeviceNumbers = hostDeviceNumbers,
  sys = '/sys',
  mounts = hostMountPoints(),
): JailView {
  const guest = guestFiles();
  const own = (path: string): DeviceNode => ({ path, ...deviceNumbers(path), mode: 0o600, own: true });
  const vfio = vfioGroupsOf(args, sys);
  return {
    jail: spec.jail,
    // /root and /home too: users' files, and the folders (0700) that would bar the way to a
    // guest kernel installed there (the VS Code extension's).
    hide: ['/run', '/tmp', '/var/tmp', '/root', '/home', SOCKET_BASE, ...spec.hide],
    keep: [
      { path: spec.runDir, dir: true, writable: true },
      { path: spec.consoleLog, dir: false, writable: true },
      { path: guest.kernel, dir: false, writable: false },
      { path: guest.initrd, dir: false, writable: false },
      ...(spec.keep ?? []),
    ],
    mounts: [...new Set(mounts)],
    devices: [
      ...(spec.accelerator === 'kvm' ? [own('/dev/kvm')] : []),
      ...(vfio.length > 0 ? [{ path: '/dev/vfio/vfio', ...deviceNumbers('/dev/vfio/vfio'), mode: 0o666 }, ...vfio.map(own)] : []),
    ],
    lockMemory: vfio.length > 0,
    ownNetwork: spec.ownNetwork ?? false,
    tap: spec.tap,
  };
}

/**
 * Gives QEMU what it opens by path (its console log, made now and owned by it) and returns the
 * argv that starts it in its jail.
 */
export function jailQemu(spec: QemuJailSpec, program: string, args: readonly string[]): string[] {
  closeSync(openSync(spec.consoleLog, 'a'));
  chownSync(spec.consoleLog, spec.jail.uid, spec.jail.gid);
  const view = qemuJailView(spec, args);
  const guest = guestFiles();
  for (const file of [guest.kernel, guest.initrd]) requireReadableByAll(file, view.hide);
  return jailedArgv(view, program, args);
}

/**
 * QEMU reads the guest kernel and initramfs as a uid of no group: the file must be readable by
 * all, and its folders searchable up to one the jail hides (an empty folder it makes instead).
 */
export function requireReadableByAll(file: string, hidden: readonly string[]): void {
  const refuse = (path: string, what: string, bit: string) =>
    new RuntimeError(`QEMU runs unprivileged and cannot read ${file}: ${path} is not ${what} by all (chmod o+${bit} ${path})`);
  if ((statSync(file).mode & 0o004) === 0) throw refuse(file, 'readable', 'r');
  for (let dir = dirname(file); !hidden.some((h) => within(dir, h)); dir = dirname(dir)) {
    if ((statSync(dir).mode & 0o001) === 0) throw refuse(dir, 'searchable', 'x');
    if (dir === '/') break;
  }
}
