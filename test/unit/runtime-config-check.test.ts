import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { assertHonoured, assertSupported, detectFeatures, unsupportedUses } from '../../runtime/src/config-check.js';
import { Ajv } from 'ajv';
import { loadBundle, parseConfig } from '../../runtime/src/bundle.js';
import { CONFIG_SCHEMA } from '../../runtime/src/config-schema.js';
import { defaultConfig } from '../../runtime/src/commands/spec.js';
import type { Config } from '../../runtime/src/spec.js';

function withConfig(edit: (c: Config) => void): Config {
  const c = defaultConfig();
  edit(c);
  return c;
}

const features = (c: Config) => detectFeatures(c).map((u) => `${u.feature}@${u.where}`);

test('the default config (runc spec) asks for nothing unsupported', () => {
  assert.deepEqual(features(defaultConfig()), []);
});

test('host namespaces: a missing network/pid/ipc/uts namespace, a joined user namespace', () => {
  const c = withConfig((c) => {
    c.linux!.namespaces = [{ type: 'mount' }, { type: 'user', path: '/proc/1/ns/user' }];
  });
  assert.deepEqual(features(c), [
    'host-network@linux.namespaces',
    'host-pid@linux.namespaces',
    'host-ipc@linux.namespaces',
    'host-uts@linux.namespaces',
    'userns-host@linux.namespaces[1].path',
  ]);
});

test("network namespaces: the host's is host-network, another process's is container-network, a named (CNI) one is fine", async () => {
  // Docker's --network host passes a bind mount of the host's netns (<exec-root>/netns/default).
  const dir = mkdtempSync(join(tmpdir(), 'vmrt-netns-'));
  const hostNs = join(dir, 'default');
  writeFileSync(hostNs, '');
  execFileSync('mount', ['--bind', `/proc/${process.pid}/ns/net`, hostNs]);
  try {
    const host = withConfig((c) => {
      c.linux!.namespaces![1] = { type: 'network', path: hostNs };
    });
    assert.deepEqual(features(host), ['host-network@linux.namespaces[1].path']);
  } finally {
    execFileSync('umount', [hostNs]);
    rmSync(dir, { recursive: true, force: true });
  }
  const sleeper = spawn('unshare', ['--net', 'sleep', '30'], { stdio: 'ignore' });
  try {
    const nsPath = `/proc/${sleeper.pid}/ns/net`;
    for (let i = 0; i < 100 && statSync(nsPath).ino === statSync('/proc/self/ns/net').ino; i++) await sleep(20);
    const other = withConfig((c) => {
      c.linux!.namespaces![1] = { type: 'network', path: nsPath };
    });
    assert.deepEqual(features(other), ['container-network@linux.namespaces[1].path']);
    assert.match(unsupportedUses(detectFeatures(other))[0]!.refused!, /only a vmrt container's VM can be joined/);
    // Joining the netns of a vmrt container (same inode) is allowed: the container joins its VM (differs).
    assert.deepEqual(detectFeatures(other, [nsPath]), [
      {
        feature: 'container-network',
        where: 'linux.namespaces[1].path',
        detail: `joins the network namespace ${nsPath} of a vmrt container`,
      },
    ]);
    assert.deepEqual(unsupportedUses(detectFeatures(other, [nsPath])), []);
  } finally {
    sleeper.kill('SIGKILL');
  }
  const cni = withConfig((c) => {
    c.linux!.namespaces![1] = { type: 'network', path: '/var/run/netns/cni-1234' };
  });
  assert.deepEqual(features(cni), []);
});

test('devices, /dev binds, propagation and binds onto /proc or /sys', () => {
  const c = withConfig((c) => {
    c.linux!.devices = [{ path: '/dev/null' }, { path: '/dev/vfio/12' }, { path: '/dev/sda' }];
    c.mounts!.push(
      { destination: '/host-dev', type: 'bind', source: '/dev/sdb', options: ['rbind'] },
      { destination: '/data', type: 'bind', source: '/srv', options: ['rbind', 'rshared'] },
      { destination: '/proc/sys/x', source: '/tmp/x', options: ['bind'] },
      { destination: '/sys/kernel/y', type: 'bind', source: '/tmp/y' },
    );
    c.linux!.rootfsPropagation = 'rslave';
  });
  assert.deepEqual(features(c), [
    'device@linux.devices[2]',
    'dev-volume@mounts[6].source',
    'mount-propagation@mounts[7].options',
    'proc-sys-mount@mounts[8].destination',
    'proc-sys-mount@mounts[9].destination',
    'mount-propagation@linux.rootfsPropagation',
  ]);
  // The default /dev tmpfs and /sys sysfs mounts are not binds: no finding.
  assert.equal(unsupportedUses(detectFeatures(c)).length, 6);
});

test('the refusal names the feature id, the reason and config.json', () => {
  const c = withConfig((c) => {
    c.linux!.namespaces = c.linux!.namespaces!.filter((n) => n.type !== 'network');
  });
  assert.throws(
    () => assertSupported(c, '/b/config.json', []),
    (e: Error) => {
      assert.match(e.message, /^\/b\/config\.json: linux\.namespaces: unsupported feature "host-network"/);
      assert.match(e.message, /its own kernel and network stack/);
      assert.match(e.message, /instead: publish the ports/);
      return true;
    },
  );
});

test('many uses of one feature (a --privileged device list) make one line', () => {
  const c = withConfig((c) => {
    c.linux!.devices = ['/dev/sda', '/dev/sdb', '/dev/sdc', '/dev/sdd', '/dev/sde'].map((path) => ({ path }));
  });
  assert.throws(
    () => assertSupported(c, 'config.json', []),
    (e: Error) => {
      assert.equal(e.message.split('\n').length, 1);
      assert.match(
        e.message,
        /^config\.json: linux\.devices\[0\], linux\.devices\[1\], linux\.devices\[2\] and 2 more: unsupported feature "device" \(host device \/dev\/sda; host device \/dev\/sdb; host device \/dev\/sdc and 2 more\)/,
      );
      return true;
    },
  );
});

test('config.json errors name the file and the place', () => {
  assert.throws(
    () => parseConfig('{\n  "ociVersion": "1.0.2",\n  "root": {"path": "rootfs"},\n}', '/b/config.json'),
    /^Error: \/b\/config\.json is not valid JSON: PropertyNameExpected at line 4, column 1$/,
  );
  assert.throws(
    () => parseConfig('{"ociVersion": "1.0.2"}', 'c.json'),
    /^Error: c\.json: \(top level\): must have required property 'root'$/,
  );
  assert.throws(
    () => parseConfig('{"ociVersion": "1.0.2", "root": {"path": "r"}, "process": {"cwd": "/", "args": "sh"}}', 'c.json'),
    /^Error: c\.json: process\.args: must be array$/,
  );
  assert.throws(
    () => parseConfig('{"ociVersion": "1.0.2", "root": {"path": "r"}, "mounts": [{"destination": "/x", "options": [1]}]}', 'c.json'),
    /^Error: c\.json: mounts\.0\.options\.0: must be string$/,
  );
  // runc refuses an unknown rlimit at create; so does vmrt, before any VM boots.
  const rlimits = (entry: object) =>
    parseConfig(JSON.stringify({ ociVersion: '1.0.2', root: { path: 'r' }, process: { cwd: '/', rlimits: [entry] } }), 'c.json');
  assert.throws(
    () => rlimits({ type: 'RLIMIT_FOO', hard: 1, soft: 1 }),
    /^Error: c\.json: process\.rlimits\.0\.type: must be equal to one of the allowed values \("RLIMIT_FOO" is not one of RLIMIT_AS, .*RLIMIT_STACK\)$/,
  );
  assert.throws(
    () => rlimits({ type: 'RLIMIT_NOFILE', hard: 1 }),
    /^Error: c\.json: process\.rlimits\.0: must have required property 'soft'$/,
  );
  assert.throws(() => rlimits({ type: 'RLIMIT_NOFILE', hard: -1, soft: 1 }), /^Error: c\.json: process\.rlimits\.0\.hard: must be >= 0$/);
  assert.equal(rlimits({ type: 'RLIMIT_NOFILE', hard: 1024, soft: 1024 }).process!.rlimits!.length, 1);
});

test('the config.json schema is a valid JSON Schema', () => {
  const ajv = new Ajv({ strict: false });
  assert.equal(ajv.validateSchema(CONFIG_SCHEMA), true, ajv.errorsText(ajv.errors));
});

test('bundles: missing folder, missing config.json, missing rootfs', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vmrt-bundle-'));
  try {
    assert.throws(() => loadBundle(join(dir, 'nope'), true), new RegExp(`^Error: bundle ${dir}/nope does not exist$`));
    assert.throws(() => loadBundle(dir, true), /config\.json does not exist \(a bundle needs a config\.json\)$/);
    writeFileSync(join(dir, 'config.json'), JSON.stringify(defaultConfig()));
    assert.throws(() => loadBundle(dir, true), /config\.json: root\.path: rootfs .*\/rootfs is not a directory$/);
    mkdirSync(join(dir, 'rootfs'));
    const bundle = loadBundle(dir, true);
    assert.equal(bundle.rootfs, join(dir, 'rootfs'));
    assert.deepEqual(bundle.config.process!.args, ['sh']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('limits and namespaces a VM cannot honour are refused at create, each with its place in config.json', () => {
  const config = defaultConfig();
  assert.doesNotThrow(() => assertHonoured(config, 'c.json'));
  // Docker's default swap (twice the limit), an unset swappiness (-1 as uint64) and the OOM killer on pass.
  config.linux!.resources = { memory: { limit: 2 ** 27, swap: 2 ** 28, swappiness: 2 ** 64 - 1, disableOOMKiller: false } };
  assert.doesNotThrow(() => assertHonoured(config, 'c.json'));
  config.linux!.resources = {
    hugepageLimits: [{ pageSize: '2MB', limit: 2 ** 21 }],
    network: { classID: 1048577 },
    memory: { swappiness: 60, disableOOMKiller: true },
  };
  config.linux!.namespaces = [
    { type: 'pid' },
    { type: 'mount', path: '/proc/self/ns/mnt' },
    { type: 'cgroup', path: '/proc/self/ns/cgroup' },
    { type: 'ipc', path: '/etc/hostname' },
    { type: 'uts', path: '/nonexistent/ns' },
    { type: 'user' },
  ];
  config.annotations = { 'org.vmrt.vm.vcpus': 'many' };
  assert.throws(
    () => assertHonoured(config, 'c.json'),
    (err: Error) => {
      assert.deepEqual(err.message.split('\n'), [
        "c.json: linux.namespaces[1].path: the container's mount namespace is made in its VM: one on the host (/proc/self/ns/mnt) cannot be joined",
        "c.json: linux.namespaces[2].path: the container's cgroup namespace is made in its VM: one on the host (/proc/self/ns/cgroup) cannot be joined",
        'c.json: linux.namespaces[3].path: /etc/hostname is not a namespace',
        'c.json: linux.namespaces[4].path: /nonexistent/ns: ENOENT',
        'c.json: linux.uidMappings: a new user namespace needs at least one mapping',
        'c.json: linux.gidMappings: a new user namespace needs at least one mapping',
        "c.json: linux.resources.hugepageLimits[0]: the VM's guest has no huge pages to limit",
        "c.json: linux.resources.network: net_cls/net_prio act on the host's traffic control, which never sees the VM's packets",
        'c.json: linux.resources.memory.swappiness: the VM has no swap: its processes never swap',
        "c.json: linux.resources.memory.disableOOMKiller: the guest's cgroup v2 has no switch to disable the OOM killer",
        'c.json: annotations: org.vmrt.vm.vcpus: "many" is not a positive whole number',
      ]);
      return true;
    },
  );
});

test('a new user namespace: its mappings are checked at create, with their place in config.json', () => {
  const config = defaultConfig();
  config.linux!.namespaces = [...(config.linux!.namespaces ?? []), { type: 'user' }];
  config.linux!.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
  config.linux!.gidMappings = [
    { containerID: 0, hostID: 100000, size: 1000 },
    { containerID: 1000, hostID: 1000, size: 1 },
  ];
  assert.doesNotThrow(() => assertHonoured(config, 'c.json'));
  config.linux!.uidMappings = [
    { containerID: 1, hostID: 100000, size: 0 },
    { containerID: 10, hostID: 4294967290, size: 10 },
    { containerID: 5, hostID: 4294967000, size: 10 },
  ];
  config.linux!.gidMappings = [
    { containerID: 0, hostID: 100000, size: 10 },
    { containerID: 100, hostID: 100005, size: 10 },
  ];
  assert.throws(
    () => assertHonoured(config, 'c.json'),
    (err: Error) => {
      assert.deepEqual(err.message.split('\n'), [
        'c.json: linux.uidMappings[0].size: a mapping covers at least one id',
        'c.json: linux.uidMappings[1]: the range ends past the largest id (4294967295)',
        'c.json: linux.uidMappings[2]: its containerID range overlaps that of linux.uidMappings[1]',
        "c.json: linux.uidMappings: id 0 in the container is not mapped: the container's init starts as the namespace's root",
        'c.json: linux.gidMappings[1]: its hostID range overlaps that of linux.gidMappings[0]',
      ]);
      return true;
    },
  );
  config.linux!.gidMappings = Array.from({ length: 341 }, (_, i) => ({ containerID: i, hostID: 100000 + i, size: 1 }));
  assert.throws(() => assertHonoured(config, 'c.json'), /c\.json: linux\.gidMappings: 341 mappings, more than the kernel's 340/);
  // Mappings without a user namespace of its own are refused, as runc refuses them.
  config.linux!.namespaces = config.linux!.namespaces!.filter((ns) => ns.type !== 'user');
  config.linux!.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
  config.linux!.gidMappings = [];
  assert.throws(
    () => assertHonoured(config, 'c.json'),
    (err: Error) => {
      assert.deepEqual(err.message.split('\n'), [
        'c.json: linux.uidMappings: mappings need a new user namespace (linux.namespaces: {"type": "user"})',
      ]);
      return true;
    },
  );
});
