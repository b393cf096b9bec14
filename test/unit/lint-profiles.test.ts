import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import { CAPABILITIES, FEATURE_IDS } from '../../runtime/src/capabilities.js';
import type { ContainerRequest, FeatureId, OptionName, RequestedOption } from '../../server/src/core/types.js';
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

test("kata profile: Kata's documents, unknown where they say nothing (the kata column of docs/features/README.md)", () => {
  assert.deepEqual(statusOf('kata'), {
    'host-network': 'unsupported',
    'container-network': 'unsupported',
    link: 'unsupported',
    'network-connect': 'unknown',
    privileged: 'differs',
    device: 'unknown',
    'dev-volume': 'differs',
    'mount-propagation': 'unknown',
    cpus: 'ok',
    cpuset: 'differs',
    'kernel-memory': 'unknown',
    'shm-size': 'unknown',
    capabilities: 'unknown',
    sysctl: 'differs',
    tmpfs: 'unknown',
    'host-pid': 'unknown',
    'host-ipc': 'unknown',
    'host-uts': 'unknown',
    'userns-host': 'unknown',
    'security-opt': 'differs',
    gpu: 'differs',
    blkio: 'unknown',
    checkpoint: 'pending',
    stats: 'unknown',
    top: 'unknown',
    events: 'pending',
    update: 'ok',
    swarm: 'unknown',
    annotations: 'differs',
    'k8s-subpath': 'unsupported',
    'proc-sys-mount': 'unsupported',
  });
  // unknown is the lowest severity, and a deprecation still says so.
  assert.equal(verdictFor(getProfile('kata'), 'kernel-memory')?.severity, 'hint');
  assert.match(verdictFor(getProfile('kata'), 'kernel-memory')!.reason, /say nothing about kernel memory limits; Docker deprecated/);
});

test("kata profile: every row and case names its source, a Kata document and section (or Kata's code or CI where they are silent)", () => {
  const KNOWN_SOURCES = /^(docs\/|src\/runtime\/config\/|src\/agent\/|tests\/integration\/)/;
  for (const id of FEATURE_IDS) {
    const entry = getProfile('kata').features[id];
    assert.ok(entry, `${id}: kata has a row for every feature`);
    for (const row of [entry, ...(entry.cases ?? [])]) {
      assert.ok(row.source, `${id}: names a source`);
      if (row.status === 'unknown') assert.match(row.source, /^(none: |docs\/)/, `${id}: says which documents are silent`);
      else assert.match(row.source, KNOWN_SOURCES, `${id}: ${row.source}`);
      // Kata's code and CI are named only where its documents say nothing, and say so.
      if (/^(src\/agent|tests)\//.test(row.source)) assert.match(row.source, /the documents say nothing/, id);
    }
  }
});

test('kata profile: narrower verdicts for the /proc allow-list, /sys, SELinux and AppArmor, and the weight through docker update', () => {
  const kata = getProfile('kata');
  const at = { start: { line: 0, character: 0 }, end: { line: 0, character: 1 } };
  const judge = (feature: FeatureId, options: [OptionName, unknown][]) => {
    const request: ContainerRequest = {
      kind: 'command',
      file: 'x.sh',
      options: options.map(([option, value]) => ({ option, value, range: at, file: 'x.sh' }) as RequestedOption),
    };
    return verdictFor(kata, feature, request.options.at(-1), request)?.status;
  };
  const bind = (target: string): [OptionName, unknown] => ['mount', { type: 'bind', source: '/srv/x', target }];
  assert.equal(judge('proc-sys-mount', [bind('/proc/cpuinfo')]), undefined);
  assert.equal(judge('proc-sys-mount', [bind('/proc/meminfo/')]), undefined);
  assert.equal(judge('proc-sys-mount', [bind('/sys/fs/cgroup')]), undefined);
  assert.equal(judge('proc-sys-mount', [bind('/proc/sys/kernel/shmmax')]), 'unsupported');
  assert.equal(judge('security-opt', [['security-opt', 'seccomp=profile.json']]), 'differs');
  assert.equal(judge('security-opt', [['security-opt', 'label=type:svirt_t']]), 'differs');
  assert.equal(judge('security-opt', [['security-opt', 'apparmor=docker-default']]), 'unknown');
  assert.equal(judge('blkio', [['blkio', '--blkio-weight']]), 'unknown');
  assert.equal(
    judge('blkio', [
      ['command', 'update'],
      ['blkio', '--blkio-weight'],
    ]),
    'pending',
  );
  assert.equal(
    judge('blkio', [
      ['command', 'update'],
      ['blkio', '--device-read-bps'],
    ]),
    'unknown',
  );
  assert.equal(verdictFor(kata, 'proc-sys-mount')?.severity, 'error', 'without an option: the row itself');
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
  const table = readFileSync('docs/features/README.md', 'utf8');
  for (const id of FEATURE_IDS) {
    const row = table.split('\n').find((line) => line.startsWith(`| [\`${id}\`]`));
    assert.ok(row?.endsWith(`| ${statusOf('clear-containers')[id]} | ${statusOf('kata')[id]} |`), `README.md: ${id}`);
  }
});
