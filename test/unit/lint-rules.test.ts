import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import { CAPABILITIES, FEATURE_IDS, type FeatureId } from '../../runtime/src/capabilities.js';
import type { OptionName, OptionValues, RequestedOption } from '../../server/src/core/types.js';
import { getProfile, PROFILE_NAMES, STATUS_SEVERITY, verdictFor, vmrtProfile } from '../../server/src/profiles/index.js';
import { RULES, type Rule } from '../../server/src/rules/index.js';
import { parseBytes } from '../../server/src/rules/units.js';
import { flagEditor, option, range, request } from './lint-helpers.js';

function rule(id: string): Rule {
  const found = RULES.find((r) => r.meta.id === id);
  assert.ok(found, `rule ${id}`);
  return found;
}

/** Subjects of the hits of one rule over options built in the test. */
function subjects(id: string, ...options: RequestedOption[]): string[] {
  return rule(id)
    .check(request(...options))
    .map((h) => h.subject);
}

const o = <N extends OptionName>(name: N, value: OptionValues[N]) => option(name, value);

test("every rule has a unique id, a feature id, a description and its feature's docs page", () => {
  assert.equal(new Set(RULES.map((r) => r.meta.id)).size, RULES.length);
  for (const r of RULES) {
    assert.ok((FEATURE_IDS as readonly string[]).includes(r.meta.feature), r.meta.id);
    assert.equal(r.meta.docs, `docs/features/${r.meta.feature}.md`);
    assert.ok(existsSync(r.meta.docs), `${r.meta.docs} exists`);
    assert.match(r.meta.description, /\.$/);
  }
  // Every feature id of FEATURES.md has at least one rule.
  assert.deepEqual(
    FEATURE_IDS.filter((f) => !RULES.some((r) => r.meta.feature === f)),
    [],
  );
});

test('network rules: host, container: and service: modes; bridge and named networks are fine', () => {
  assert.deepEqual(subjects('host-network-mode', o('network', 'host'), o('network', 'bridge'), o('network', 'backend')), [
    'the host network mode',
  ]);
  assert.deepEqual(subjects('container-network-mode', o('network', 'container:db'), o('network', 'service:db'), o('network', 'host')), [
    'joining the network of container:db',
    'joining the network of service:db',
  ]);
  assert.deepEqual(subjects('legacy-link', o('link', 'db:database')), ['the legacy link db:database']);
});

test("host network fix removes the option through the front end's editor", () => {
  const at = range(2, 11, 20);
  const [hit] = rule('host-network-mode').check(request(option('network', 'host', at, '/w/x.sh', flagEditor(at))));
  assert.deepEqual(hit?.fix?.(), {
    title: 'Remove the host network mode (publish the ports you need instead)',
    edits: [{ range: at, newText: '' }],
  });
  // No editor (a syntax that cannot express it): no fix.
  assert.equal(
    rule('host-network-mode')
      .check(request(o('network', 'host')))[0]
      ?.fix?.(),
    undefined,
  );
});

test('link fix removes the link, says to use a user-defined network, and is not marked safe', () => {
  const at = range(0, 5, 20);
  const [hit] = rule('legacy-link').check(request(option('link', 'db', at, '/w/x.sh', flagEditor(at))));
  assert.deepEqual(hit?.fix?.(), {
    title: 'Remove the link db; put both containers on one user-defined network and use the name instead',
    edits: [{ range: at, newText: '' }],
    safe: false,
  });
});

test('privileged, devices (never /dev/vfio/N), /dev volumes, /proc and /sys binds', () => {
  assert.deepEqual(subjects('privileged-mode', o('privileged', true), o('privileged', false)), ['privileged mode']);
  assert.deepEqual(
    subjects(
      'host-device',
      o('device', { host: '/dev/fuse' }),
      o('device', { host: '/dev/vfio/12' }),
      o('device', { host: '/dev/vfio/vfio' }),
      o('device', { host: '/dev/sda', container: '/dev/xvda' }),
    ),
    ['the host device /dev/fuse', 'the host device /dev/sda'],
  );
  assert.deepEqual(
    subjects(
      'device-volume',
      o('mount', { type: 'bind', source: '/dev/snd', target: '/dev/snd' }),
      o('mount', { type: 'bind', source: '/dev', target: '/host-dev' }),
      o('mount', { type: 'bind', source: '/devices', target: '/d' }),
      o('mount', { type: 'volume', source: 'dev', target: '/dev/x' }),
    ),
    ['the bind mount of /dev/snd', 'the bind mount of /dev'],
  );
  assert.deepEqual(
    subjects(
      'proc-sys-bind',
      o('mount', { type: 'bind', source: '/srv/cpuinfo', target: '/proc/cpuinfo' }),
      o('mount', { type: 'bind', source: '/sys/fs/cgroup', target: '/sys/fs/cgroup' }),
      o('mount', { type: 'bind', source: '/proc', target: '/host/proc' }),
      o('mount', { type: 'other', target: '/proc' }),
    ),
    ['the bind mount onto /proc/cpuinfo', 'the bind mount onto /sys/fs/cgroup'],
  );
});

test('mount propagation: shared and slave kinds are findings, private is not; the fix drops the propagation', () => {
  const at = range(1, 4, 30);
  const shared = option('mount', { type: 'bind', source: '/srv', target: '/srv', propagation: 'rshared' }, at, '/w/x.sh', {
    replace: (opts) => [{ range: at, newText: JSON.stringify(opts) }],
    remove: () => [],
  });
  const hits = rule('mount-propagation').check(
    request(
      shared,
      o('mount', { type: 'bind', source: '/a', target: '/a', propagation: 'rprivate' }),
      o('mount', { type: 'bind', source: '/b', target: '/b', propagation: 'slave' }),
    ),
  );
  assert.deepEqual(
    hits.map((h) => h.subject),
    ['rshared propagation of the mount on /srv', 'slave propagation of the mount on /b'],
  );
  assert.deepEqual(hits[0]?.fix?.(), {
    title: 'Drop the rshared propagation',
    edits: [{ range: at, newText: JSON.stringify([{ option: 'mount', value: { type: 'bind', source: '/srv', target: '/srv' } }]) }],
  });
});

test('cpus fix: --cpus=1.5 becomes --cpu-period=100000 --cpu-quota=150000', () => {
  const at = range(0, 11, 22);
  const [hit] = rule('cpus-limit').check(request(option('cpus', 1.5, at, '/w/x.sh', flagEditor(at))));
  assert.equal(hit?.subject, 'the CPU limit of 1.5 CPUs');
  assert.deepEqual(hit?.fix?.(), {
    title: 'Use cpu-period 100000 and cpu-quota 150000 instead',
    edits: [{ range: at, newText: '--cpu-period=100000 --cpu-quota=150000' }],
  });
  // A syntax that cannot write the replacement gives no fix.
  const [none] = rule('cpus-limit').check(request(option('cpus', 2, at, '/w/x.sh', { replace: () => undefined, remove: () => [] })));
  assert.equal(none?.fix?.(), undefined);
});

test('resources: cpuset and shares, kernel memory (fix removes it), shm-size other than 64m, blkio', () => {
  assert.deepEqual(subjects('cpuset-shares', o('cpuset-cpus', '0-1'), o('cpu-shares', 512)), ['pinning to CPUs 0-1', 'CPU shares of 512']);
  const at = range(3, 0, 20);
  const [kmem] = rule('kernel-memory-limit').check(request(option('kernel-memory', '50m', at, '/w/x.sh', flagEditor(at))));
  assert.equal(kmem?.subject, 'the kernel memory limit 50m');
  assert.deepEqual(kmem?.fix?.(), { title: 'Remove the kernel memory limit', edits: [{ range: at, newText: '' }] });
  assert.deepEqual(
    subjects(
      'shm-size',
      o('shm-size', '64m'),
      o('shm-size', '67108864'),
      o('shm-size', '64MB'),
      o('shm-size', '1g'),
      o('shm-size', '128m'),
    ),
    ['the /dev/shm size 1g', 'the /dev/shm size 128m'],
  );
  assert.deepEqual(subjects('blkio-limit', o('blkio', '--blkio-weight')), ['the block I/O limit --blkio-weight']);
});

test("byte sizes follow Docker's units", () => {
  assert.equal(parseBytes('64m'), 64 * 1024 * 1024);
  assert.equal(parseBytes('64MiB'), 64 * 1024 * 1024);
  assert.equal(parseBytes('1.5g'), 1.5 * 1024 ** 3);
  assert.equal(parseBytes('65536k'), 64 * 1024 * 1024);
  assert.equal(parseBytes('100'), 100);
  assert.equal(parseBytes('lots'), undefined);
});

test('capabilities, sysctls, tmpfs (flag and mount type)', () => {
  assert.deepEqual(subjects('capability-change', o('cap-add', 'NET_ADMIN'), o('cap-drop', 'ALL')), [
    'adding the capability NET_ADMIN',
    'dropping the capability ALL',
  ]);
  assert.deepEqual(subjects('sysctl-setting', o('sysctl', { key: 'net.core.somaxconn', value: '1024' })), [
    'the sysctl net.core.somaxconn=1024',
  ]);
  assert.deepEqual(
    subjects(
      'tmpfs-mount',
      o('tmpfs', { target: '/run' }),
      o('mount', { type: 'tmpfs', target: '/cache' }),
      o('mount', { type: 'bind', source: '/a', target: '/b' }),
    ),
    ['the tmpfs mount on /run', 'the tmpfs mount on /cache'],
  );
});

test('namespaces: pid and ipc host or container:, uts and userns host', () => {
  assert.deepEqual(subjects('host-pid-namespace', o('pid', 'host'), o('pid', 'container:web'), o('pid', 'private')), [
    'the pid namespace host',
    'the pid namespace container:web',
  ]);
  assert.deepEqual(subjects('host-ipc-namespace', o('ipc', 'host'), o('ipc', 'shareable'), o('ipc', 'service:db')), [
    'the ipc namespace host',
    'the ipc namespace service:db',
  ]);
  assert.deepEqual(subjects('host-uts-namespace', o('uts', 'host'), o('uts', 'private')), ['the host UTS namespace']);
  assert.deepEqual(subjects('host-userns', o('userns', 'host'), o('userns', 'keep-id')), ['the host user namespace']);
});

test('security options: AppArmor, SELinux labels and seccomp, not no-new-privileges', () => {
  assert.deepEqual(
    subjects(
      'security-option',
      o('security-opt', 'apparmor=unconfined'),
      o('security-opt', 'label:disable'),
      o('security-opt', 'seccomp=profile.json'),
      o('security-opt', 'no-new-privileges'),
    ),
    ['the security option apparmor=unconfined', 'the security option label:disable', 'the security option seccomp=profile.json'],
  );
});

test('gpus, swarm deploy keys, annotations, k8s subPath', () => {
  assert.deepEqual(subjects('gpu-request', o('gpus', 'all')), ['the GPU request all']);
  assert.deepEqual(subjects('swarm-deploy-key', o('swarm-key', 'replicas')), ['the swarm deploy key replicas']);
  assert.deepEqual(subjects('annotation', o('annotation', { key: 'com.example/x', value: '1' })), ['the annotation com.example/x']);
  assert.deepEqual(subjects('k8s-subpath', o('subpath', 'conf')), ['the volume subPath conf']);
});

test('command rules: one per docker command that is a runtime feature', () => {
  const commands: [string, OptionValues['command'], FeatureId][] = [
    ['network-connect-command', 'network-connect', 'network-connect'],
    ['checkpoint-command', 'checkpoint', 'checkpoint'],
    ['stats-command', 'stats', 'stats'],
    ['top-command', 'top', 'top'],
    ['events-command', 'events', 'events'],
    ['update-command', 'update', 'update'],
    ['swarm-command', 'swarm', 'swarm'],
  ];
  const all = commands.map(([, command]) => o('command', command));
  for (const [id, command, feature] of commands) {
    const hits = rule(id).check(request(...all));
    assert.equal(hits.length, 1, id);
    assert.equal(hits[0]?.option.value, command);
    assert.equal(rule(id).meta.feature, feature);
  }
});

test("vmrt profile follows the runtime's capability table row by row", () => {
  const profile = vmrtProfile();
  for (const id of FEATURE_IDS) {
    const verdict = verdictFor(profile, id);
    const capability = CAPABILITIES[id];
    if (capability.status === 'ok') {
      assert.equal(verdict?.severity, id === 'kernel-memory' ? 'hint' : undefined, id);
    } else {
      assert.equal(verdict?.severity, STATUS_SEVERITY[capability.status], id);
      assert.equal(verdict?.reason, capability.reason, id);
      assert.equal(verdict?.workaround, capability.workaround, id);
    }
  }
  assert.deepEqual(getProfile('vmrt').features, profile.features);
});

test("a status change in the capability table changes the vmrt profile's verdict", () => {
  const table = {
    ...CAPABILITIES,
    'host-network': { status: 'ok' as const, reason: 'joined' },
    cpus: { status: 'unsupported' as const, reason: 'never' },
    'kernel-memory': { status: 'ok' as const, reason: 'applied to the guest' },
  };
  const changed = vmrtProfile(table);
  assert.equal(verdictFor(changed, 'host-network'), undefined);
  assert.deepEqual(verdictFor(changed, 'cpus'), { severity: 'error', status: 'unsupported', reason: 'never', workaround: undefined });
  assert.equal(verdictFor(changed, 'kernel-memory')?.severity, 'hint');
  assert.match(verdictFor(changed, 'kernel-memory')!.reason, /^applied to the guest; Docker deprecated --kernel-memory/);
});

const statusOf = (name: (typeof PROFILE_NAMES)[number]) =>
  Object.fromEntries(FEATURE_IDS.map((id) => [id, getProfile(name).features[id]?.status ?? 'ok']));

test("clear-containers profile: the seed's pending items, its architectural limitations, and annotations", () => {
  const status = statusOf('clear-containers');
  const with_ = (s: string) => FEATURE_IDS.filter((id) => status[id] === s);
  assert.deepEqual(with_('pending'), [
    'network-connect',
    'cpus',
    'kernel-memory',
    'shm-size',
    'capabilities',
    'sysctl',
    'tmpfs',
    'blkio',
    'checkpoint',
    'stats',
    'top',
    'events',
    'update',
    'swarm',
  ]);
  assert.deepEqual(with_('unsupported'), [
    'host-network',
    'container-network',
    'link',
    'privileged',
    'device',
    'dev-volume',
    'mount-propagation',
    'cpuset',
    'host-pid',
    'host-ipc',
    'host-uts',
    'userns-host',
    'proc-sys-mount',
  ]);
  assert.deepEqual(with_('differs'), ['annotations']);
  assert.match(getProfile('clear-containers').features['host-network']!.reason, /may modify and break the host's networking/);
  assert.match(getProfile('clear-containers').features.cpus!.workaround!, /--cpu-quota with --cpu-period/);
  assert.match(getProfile('clear-containers').features['host-pid']!.reason, /not listed by Clear Containers/);
});

test('kata profile: the kata column of FEATURES.md', () => {
  assert.deepEqual(statusOf('kata'), {
    'host-network': 'unsupported',
    'container-network': 'unsupported',
    link: 'unsupported',
    'network-connect': 'ok',
    privileged: 'differs',
    device: 'differs',
    'dev-volume': 'unsupported',
    'mount-propagation': 'unsupported',
    cpus: 'ok',
    cpuset: 'differs',
    'kernel-memory': 'ok',
    'shm-size': 'ok',
    capabilities: 'ok',
    sysctl: 'differs',
    tmpfs: 'ok',
    'host-pid': 'unsupported',
    'host-ipc': 'unsupported',
    'host-uts': 'unsupported',
    'userns-host': 'unsupported',
    'security-opt': 'differs',
    gpu: 'differs',
    blkio: 'unsupported',
    checkpoint: 'unsupported',
    stats: 'ok',
    top: 'ok',
    events: 'differs',
    update: 'differs',
    swarm: 'differs',
    annotations: 'differs',
    'k8s-subpath': 'unsupported',
    'proc-sys-mount': 'unsupported',
  });
  assert.equal(verdictFor(getProfile('kata'), 'kernel-memory')?.severity, 'hint');
});

test('runc profile reports nothing, not even hints', () => {
  for (const id of FEATURE_IDS) assert.equal(verdictFor(getProfile('runc'), id), undefined, id);
});

test('every feature (and schema, parse-error, file) has a docs page stating its status in each profile', () => {
  for (const id of FEATURE_IDS) {
    const page = readFileSync(`docs/features/${id}.md`, 'utf8');
    assert.match(page, new RegExp(`^# \`${id}\``), id);
    // vmrt's row points at the runtime's table, which changes without a docs edit (DESIGN.md §1).
    for (const name of ['clear-containers', 'kata', 'runc'] as const)
      assert.ok(page.includes(`| \`${name}\` | ${statusOf(name)[id]} |`), `${id}: ${name}`);
    assert.ok(page.includes('| `vmrt` | as `runtime/src/capabilities.ts` says'), `${id}: vmrt`);
  }
  for (const page of ['schema', 'parse-error', 'file']) assert.ok(existsSync(`docs/features/${page}.md`), page);
});
