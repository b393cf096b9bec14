import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import { CAPABILITIES, FEATURE_IDS } from '../../runtime/src/capabilities.js';
import { getProfile, PROFILE_NAMES, STATUS_SEVERITY, verdictFor, vmrtProfile } from '../../server/src/profiles/index.js';

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

test('kata profile: the kata column of docs/features/README.md', () => {
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
    // vmrt's row points at the runtime's table, which changes without a docs edit (docs/architecture.md).
    for (const name of ['clear-containers', 'kata', 'runc'] as const)
      assert.ok(page.includes(`| \`${name}\` | ${statusOf(name)[id]} |`), `${id}: ${name}`);
    assert.ok(page.includes('| `vmrt` | as `runtime/src/capabilities.ts` says'), `${id}: vmrt`);
  }
  for (const page of ['schema', 'parse-error', 'file']) assert.ok(existsSync(`docs/features/${page}.md`), page);
});
