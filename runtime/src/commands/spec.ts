import { existsSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { flagString, expectPositionals } from '../args.js';
import type { Command } from '../command.js';
import { RuntimeError } from '../errors.js';
import { OCI_VERSION } from '../paths.js';
import type { Config } from '../spec.js';

const DEFAULT_CAPS = ['CAP_AUDIT_WRITE', 'CAP_KILL', 'CAP_NET_BIND_SERVICE'];

/** runc spec's default config.json (a `sh` in ./rootfs with a terminal), valid for vmrt as is. */
export function defaultConfig(): Config {
  return {
    ociVersion: OCI_VERSION,
    process: {
      terminal: true,
      user: { uid: 0, gid: 0 },
      args: ['sh'],
      env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'TERM=xterm'],
      cwd: '/',
      capabilities: { bounding: DEFAULT_CAPS, effective: DEFAULT_CAPS, permitted: DEFAULT_CAPS, ambient: DEFAULT_CAPS },
      rlimits: [{ type: 'RLIMIT_NOFILE', hard: 1024, soft: 1024 }],
      noNewPrivileges: true,
    },
    root: { path: 'rootfs', readonly: true },
    hostname: 'vmrt',
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc' },
      { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
      {
        destination: '/dev/pts',
        type: 'devpts',
        source: 'devpts',
        options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'],
      },
      { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'] },
      { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
      { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
    ],
    linux: {
      resources: { devices: [{ allow: false, access: 'rwm' }] },
      namespaces: [{ type: 'pid' }, { type: 'network' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }],
      maskedPaths: [
        '/proc/acpi',
        '/proc/kcore',
        '/proc/keys',
        '/proc/latency_stats',
        '/proc/timer_list',
        '/proc/timer_stats',
        '/proc/sched_debug',
        '/proc/scsi',
        '/sys/firmware',
      ],
      readonlyPaths: ['/proc/asound', '/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'],
    },
  };
}

export const spec: Command = {
  name: 'spec',
  usage: 'spec [--bundle B]',
  summary: 'write a default config.json into the bundle (like runc spec)',
  flags: {
    bundle: { kind: 'string', aliases: ['b'], help: 'folder to write config.json into (default: the current folder)' },
    rootless: { kind: 'bool', help: 'accepted for runc compatibility (the guest runs as root of its own VM)' },
  },
  async run(args) {
    expectPositionals(args, 'spec', []);
    const file = join(resolve(flagString(args, 'bundle') ?? '.'), 'config.json');
    if (existsSync(file)) throw new RuntimeError(`File ${file} exists. Remove it first`);
    writeFileSync(file, `${JSON.stringify(defaultConfig(), null, 2)}\n`);
    return 0;
  },
};
