/**
 * How an OCI config.json's settings are read as features, shared by the runtime's check at
 * `create` (config-check.ts) and the linter's OCI front end (server/src/frontends/oci/config.ts):
 * one detection, so a config the linter passes is not refused at `create` for a feature id, and
 * the reverse (test/unit/oci-detection.test.ts runs both over every OCI config of the repository).
 * Pure: plain values in, no file system; the runtime adds what only the host knows (which
 * network namespace is the host's, which belong to vmrt containers). The linter may import this
 * module and the capability table from runtime/, nothing else (test/house/imports.test.ts).
 */

/** Device nodes Docker and runc create in every container (runc libcontainer/specconv AllowedDevices): no request. */
export const DEFAULT_DEVICES: ReadonlySet<string> = new Set([
  '/dev/null',
  '/dev/zero',
  '/dev/full',
  '/dev/random',
  '/dev/urandom',
  '/dev/tty',
  '/dev/console',
  '/dev/ptmx',
]);

/** VFIO groups are how a VM is handed a device: never a host device request. */
const VFIO_DEVICE = /^\/dev\/vfio\//;

/** A device node that only the host has: neither a default one nor a VFIO group. */
export function isHostDevice(path: string): boolean {
  return !DEFAULT_DEVICES.has(path) && !VFIO_DEVICE.test(path);
}

/** Mount propagation modes that share mounts between the container and the host. */
export const PROPAGATING_MODES: ReadonlySet<string> = new Set(['shared', 'rshared', 'slave', 'rslave']);

/**
 * Capabilities 0-37, which every kernel since 3.16 knows: Docker's --privileged puts all the
 * capabilities of the running kernel (a superset of these) into every set.
 */
export const ALL_CAPS_SINCE_3_16 = [
  'CHOWN',
  'DAC_OVERRIDE',
  'DAC_READ_SEARCH',
  'FOWNER',
  'FSETID',
  'KILL',
  'SETGID',
  'SETUID',
  'SETPCAP',
  'LINUX_IMMUTABLE',
  'NET_BIND_SERVICE',
  'NET_BROADCAST',
  'NET_ADMIN',
  'NET_RAW',
  'IPC_LOCK',
  'IPC_OWNER',
  'SYS_MODULE',
  'SYS_RAWIO',
  'SYS_CHROOT',
  'SYS_PTRACE',
  'SYS_PACCT',
  'SYS_ADMIN',
  'SYS_BOOT',
  'SYS_NICE',
  'SYS_RESOURCE',
  'SYS_TIME',
  'SYS_TTY_CONFIG',
  'MKNOD',
  'LEASE',
  'AUDIT_WRITE',
  'AUDIT_CONTROL',
  'SETFCAP',
  'MAC_OVERRIDE',
  'MAC_ADMIN',
  'SYSLOG',
  'WAKE_ALARM',
  'BLOCK_SUSPEND',
  'AUDIT_READ',
].map((c) => `CAP_${c}`);

/** A capability name as config.json writes it (CAP_ prefixed, upper case); `ALL` stays. */
export function withCapPrefix(name: string): string {
  const upper = name.toUpperCase();
  return upper === 'ALL' || upper.startsWith('CAP_') ? upper : `CAP_${upper}`;
}

/** True when a capability set holds every capability a kernel since 3.16 knows. */
export function hasEveryCapability(set: readonly string[]): boolean {
  const granted = new Set(set.map(withCapPrefix));
  return ALL_CAPS_SINCE_3_16.every((cap) => granted.has(cap));
}

/**
 * Privileged mode as Docker writes it (moby daemon/oci_linux.go): every capability in the set
 * that limits the others (bounding, else permitted, else effective) and no masked paths.
 */
export function isPrivileged(limitingSet: readonly string[] | undefined, maskedPaths: readonly unknown[] | undefined): boolean {
  return limitingSet !== undefined && hasEveryCapability(limitingSet) && !maskedPaths?.length;
}

/** A path equal to `folder` or under it. */
export function isUnder(path: string | undefined, folder: string): boolean {
  return path !== undefined && (path === folder || path.startsWith(`${folder}/`));
}

/** The proc, sysfs and cgroup file systems every runtime mounts at their usual places. */
function isDefaultKernelMount(type: string | undefined, target: string): boolean {
  return (
    (target === '/proc' && type === 'proc') ||
    (target === '/sys' && type === 'sysfs') ||
    (target === '/sys/fs/cgroup' && (type === 'cgroup' || type === 'cgroup2'))
  );
}

/** Relative destinations are relative to `/` (config.md, deprecated form); trailing slashes do not matter. */
export function normalizeTarget(destination: string): string {
  const absolute = destination.startsWith('/') ? destination : `/${destination}`;
  return absolute.length > 1 ? absolute.replace(/\/+$/, '') : absolute;
}

export interface MountFeatures {
  /** A bind mount of the host's /dev or a node under it (dev-volume). */
  fromDev: boolean;
  /** A mount onto /proc or /sys other than the kernel's own file systems (proc-sys-mount). */
  ontoProcSys: boolean;
  /** The first propagating mode among the options (mount-propagation). */
  propagation?: string;
}

/** What one entry of `mounts` asks for. */
export function mountFeatures(mount: { destination: string; type?: string; source?: string; options?: readonly string[] }): MountFeatures {
  const options = mount.options ?? [];
  const bind = mount.type === 'bind' || options.includes('bind') || options.includes('rbind');
  const target = normalizeTarget(mount.destination);
  return {
    fromDev: bind && isUnder(mount.source, '/dev'),
    ontoProcSys: (isUnder(target, '/proc') || isUnder(target, '/sys')) && !isDefaultKernelMount(mount.type, target),
    propagation: options.find((o) => PROPAGATING_MODES.has(o)),
  };
}

/** Namespace types a config leaves to the host when it does not list them (Docker leaves out only the user namespace). */
export const HOST_UNLESS_LISTED = ['network', 'pid', 'ipc', 'uts'] as const;

/**
 * The namespaces a config leaves to the host, given the types it lists. A config with no list
 * at all asks for no isolation: one request, the host's network (which every VM runtime refuses),
 * rather than one per type at the same place; adding the list is the one fix for all of them.
 */
export function namespacesLeftToHost(listed: readonly (string | undefined)[] | undefined): (typeof HOST_UNLESS_LISTED)[number][] {
  if (listed === undefined) return ['network'];
  return HOST_UNLESS_LISTED.filter((type) => !listed.includes(type));
}

/**
 * A namespace path of another process (/proc/<pid>/ns/…): joining it shares that container's
 * namespace. A named network namespace (CNI's /var/run/netns/cni-…) is made for this container.
 */
export function isProcessNamespace(path: string): boolean {
  return /^\/proc\/\d+\/(task\/\d+\/)?ns\//.test(path);
}

/** The resource limits Linux has (setrlimit(2)), as the OCI spec names them. */
export const RLIMIT_TYPES = [
  'RLIMIT_AS',
  'RLIMIT_CORE',
  'RLIMIT_CPU',
  'RLIMIT_DATA',
  'RLIMIT_FSIZE',
  'RLIMIT_LOCKS',
  'RLIMIT_MEMLOCK',
  'RLIMIT_MSGQUEUE',
  'RLIMIT_NICE',
  'RLIMIT_NOFILE',
  'RLIMIT_NPROC',
  'RLIMIT_RSS',
  'RLIMIT_RTPRIO',
  'RLIMIT_RTTIME',
  'RLIMIT_SIGPENDING',
  'RLIMIT_STACK',
];
