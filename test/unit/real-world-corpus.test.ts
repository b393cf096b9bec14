/**
 * The regression corpus (test/fixtures/real-world/, written for this project): one realistic
 * file per pattern the first real-world run got wrong (issue 18), with the exact findings of
 * every profile. vmrt's severities follow the runtime's capability table, whatever it says today.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CAPABILITIES, type FeatureId } from '../../runtime/src/capabilities.js';
import { Linter } from '../../server/src/engine/lint.js';
import { STATUS_SEVERITY, type ProfileName } from '../../server/src/profiles/index.js';

const CORPUS = 'test/fixtures/real-world';

/** `file line:col rule feature severity`, 1-based as the terminal prints them, in file order. */
function findings(profile: ProfileName): string[] {
  const linter = new Linter({ profile });
  return ['kata-ci-pod.yaml', 'config.json', 'compose.yaml'].flatMap((name) =>
    linter
      .lintFile(`${CORPUS}/${name}`)
      .findings.map((f) => `${name} ${f.range.start.line + 1}:${f.range.start.character + 1} ${f.rule} ${f.feature} ${f.severity}`),
  );
}

/** Where vmrt reports something, with the severity its capability table gives the feature. */
const atVmrt = (place: string, rule: string, feature: FeatureId) =>
  STATUS_SEVERITY[CAPABILITIES[feature].status] ? [`${place} ${rule} ${feature} ${STATUS_SEVERITY[CAPABILITIES[feature].status]}`] : [];

test('Kata CI style pod: /dev/kmsg is the guest device and /sys/fs/cgroup and /proc/meminfo binds are allowed under kata', () => {
  const pod = (profile: ProfileName) => findings(profile).filter((f) => f.startsWith('kata-ci-pod.yaml'));
  assert.deepEqual(pod('kata'), [
    'kata-ci-pod.yaml 14:9 sysctl-setting sysctl info',
    'kata-ci-pod.yaml 25:11 device-volume dev-volume info',
  ]);
  assert.deepEqual(pod('clear-containers'), [
    'kata-ci-pod.yaml 14:9 sysctl-setting sysctl warning',
    'kata-ci-pod.yaml 25:11 device-volume dev-volume error',
    'kata-ci-pod.yaml 28:11 proc-sys-bind proc-sys-mount error',
    'kata-ci-pod.yaml 31:11 proc-sys-bind proc-sys-mount error',
  ]);
  assert.deepEqual(pod('vmrt'), [
    ...atVmrt('kata-ci-pod.yaml 14:9', 'sysctl-setting', 'sysctl'),
    ...atVmrt('kata-ci-pod.yaml 25:11', 'device-volume', 'dev-volume'),
    ...atVmrt('kata-ci-pod.yaml 28:11', 'proc-sys-bind', 'proc-sys-mount'),
    ...atVmrt('kata-ci-pod.yaml 31:11', 'proc-sys-bind', 'proc-sys-mount'),
  ]);
  assert.deepEqual(pod('runc'), []);
});

test("the OCI spec's full shape: security labels, seccomp, cpu.mems, rootfsPropagation; -1 kernel memory is no limit", () => {
  const config = (profile: ProfileName) => findings(profile).filter((f) => f.startsWith('config.json'));
  const places: [string, string, FeatureId][] = [
    ['config.json 22:5', 'security-option', 'security-opt'],
    ['config.json 24:5', 'security-option', 'security-opt'],
    ['config.json 37:111', 'mount-propagation', 'mount-propagation'],
    ['config.json 44:20', 'annotation', 'annotations'],
    ['config.json 46:17', 'host-device', 'device'],
    ['config.json 49:17', 'sysctl-setting', 'sysctl'],
    ['config.json 56:16', 'cpuset-shares', 'cpuset'],
    ['config.json 56:108', 'cpuset-shares', 'cpuset'],
    ['config.json 56:123', 'cpuset-shares', 'cpuset'],
    ['config.json 59:9', 'blkio-limit', 'blkio'],
    ['config.json 62:9', 'blkio-limit', 'blkio'],
    ['config.json 72:5', 'mount-propagation', 'mount-propagation'],
    ['config.json 73:5', 'security-option', 'security-opt'],
  ];
  assert.deepEqual(
    config('vmrt'),
    places.flatMap(([place, rule, feature]) => atVmrt(place, rule, feature)),
  );
  assert.deepEqual(config('kata'), [
    'config.json 22:5 security-option security-opt hint',
    'config.json 24:5 security-option security-opt info',
    'config.json 37:111 mount-propagation mount-propagation hint',
    'config.json 44:20 annotation annotations info',
    'config.json 46:17 host-device device hint',
    'config.json 49:17 sysctl-setting sysctl info',
    'config.json 56:16 cpuset-shares cpuset info',
    'config.json 56:108 cpuset-shares cpuset info',
    'config.json 56:123 cpuset-shares cpuset info',
    'config.json 59:9 blkio-limit blkio hint',
    'config.json 62:9 blkio-limit blkio hint',
    'config.json 72:5 mount-propagation mount-propagation hint',
    'config.json 73:5 security-option security-opt info',
  ]);
  assert.deepEqual(config('clear-containers'), [
    'config.json 37:111 mount-propagation mount-propagation error',
    'config.json 44:20 annotation annotations info',
    'config.json 46:17 host-device device error',
    'config.json 49:17 sysctl-setting sysctl warning',
    'config.json 56:16 cpuset-shares cpuset error',
    'config.json 56:108 cpuset-shares cpuset error',
    'config.json 56:123 cpuset-shares cpuset error',
    'config.json 59:9 blkio-limit blkio warning',
    'config.json 62:9 blkio-limit blkio warning',
    'config.json 72:5 mount-propagation mount-propagation error',
  ]);
  assert.deepEqual(config('runc'), []);
});

test('compose stack: the VPN sidecar joins service:vpn; deploy.replicas and mode: replicated are compose, not swarm', () => {
  const stack = (profile: ProfileName) => findings(profile).filter((f) => f.startsWith('compose.yaml'));
  assert.deepEqual(stack('kata'), [
    'compose.yaml 9:9 capability-change capabilities hint',
    'compose.yaml 11:9 host-device device hint',
    'compose.yaml 13:7 sysctl-setting sysctl info',
    'compose.yaml 22:5 container-network-mode container-network error',
  ]);
  assert.deepEqual(stack('clear-containers'), [
    'compose.yaml 9:9 capability-change capabilities warning',
    'compose.yaml 11:9 host-device device error',
    'compose.yaml 13:7 sysctl-setting sysctl warning',
    'compose.yaml 22:5 container-network-mode container-network error',
  ]);
  assert.deepEqual(stack('vmrt'), [
    ...atVmrt('compose.yaml 9:9', 'capability-change', 'capabilities'),
    ...atVmrt('compose.yaml 11:9', 'host-device', 'device'),
    ...atVmrt('compose.yaml 13:7', 'sysctl-setting', 'sysctl'),
    ...atVmrt('compose.yaml 22:5', 'container-network-mode', 'container-network'),
  ]);
  assert.deepEqual(stack('runc'), []);
});
