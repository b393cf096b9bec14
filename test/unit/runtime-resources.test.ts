/** The VM's shape from the spec: vCPUs from a CPU quota, and Docker's --privileged recognised. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { detectFeatures } from '../../runtime/src/config-check.js';
import { ALL_CAPS_SINCE_3_16, isPrivileged } from '../../runtime/src/oci-detection.js';
import { defaultConfig } from '../../runtime/src/commands/spec.js';
import { qemuArgs, vcpusFor, VCPUS_ANNOTATION } from '../../runtime/src/vm.js';

test("vCPUs are the host's CPUs (limits apply in the guest cgroup), fewer by annotation, at most the kernel's 64", () => {
  assert.equal(vcpusFor(undefined, 8), 8);
  assert.equal(vcpusFor({}, 2), 2);
  assert.equal(vcpusFor({ [VCPUS_ANNOTATION]: '3' }, 8), 3);
  assert.equal(vcpusFor(undefined, 128), 64);
  assert.throws(() => vcpusFor({ [VCPUS_ANNOTATION]: 'all' }, 8), /org.vmrt.vm.vcpus: "all" is not a positive whole number/);
  const args = qemuArgs({
    accelerator: 'tcg',
    share: { kind: '9p', dir: '/s' },
    agentSocket: '/a',
    qmpSocket: '/q',
    consoleLog: '/c',
    vcpus: 3,
  });
  assert.equal(args[args.indexOf('-smp') + 1], '3');
});

test('--privileged (every capability, nothing masked) is the privileged feature, and its host devices are no finding', () => {
  const config = defaultConfig();
  config.process!.capabilities = { bounding: [...ALL_CAPS_SINCE_3_16] };
  config.linux = { ...config.linux, maskedPaths: [], readonlyPaths: [], devices: [{ path: '/dev/sda', type: 'b' }] };
  assert.equal(isPrivileged(config.process!.capabilities.bounding, config.linux.maskedPaths as string[]), true);
  assert.deepEqual(
    detectFeatures(config).map((u) => u.feature),
    ['privileged'],
  );
  // --cap-add ALL --device /dev/sda keeps the masked paths: not privileged, the device is refused.
  config.linux.maskedPaths = ['/proc/kcore'];
  assert.equal(isPrivileged(config.process!.capabilities.bounding, config.linux.maskedPaths as string[]), false);
  assert.deepEqual(
    detectFeatures(config).map((u) => [u.feature, u.detail]),
    [['device', 'host device /dev/sda']],
  );
});
