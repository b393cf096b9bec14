/** The VM's shape from the spec: vCPUs from a CPU quota, and Docker's --privileged recognised. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { detectFeatures, isPrivileged } from '../../runtime/src/config-check.js';
import { defaultConfig } from '../../runtime/src/commands/spec.js';
import { qemuArgs, vcpusFor } from '../../runtime/src/vm.js';

test("vCPUs are ceil(quota/period), at least 1, at most the host's CPUs", () => {
  assert.equal(vcpusFor(undefined, 8), 1);
  assert.equal(vcpusFor({ cpu: { shares: 512 } }, 8), 1);
  assert.equal(vcpusFor({ cpu: { quota: 150000, period: 100000 } }, 8), 2);
  assert.equal(vcpusFor({ cpu: { quota: 75000, period: 50000 } }, 8), 2);
  assert.equal(vcpusFor({ cpu: { quota: 50000 } }, 8), 1);
  assert.equal(vcpusFor({ cpu: { quota: 400000, period: 100000 } }, 2), 2);
  assert.equal(vcpusFor({ cpu: { quota: -1, period: 100000 } }, 8), 1);
  const args = qemuArgs({ accelerator: 'tcg', sharedDir: '/s', agentSocket: '/a', qmpSocket: '/q', consoleLog: '/c', vcpus: 3 });
  assert.equal(args[args.indexOf('-smp') + 1], '3');
});

test('--privileged (every capability, nothing masked) is the privileged feature, and its host devices are no finding', () => {
  const config = defaultConfig();
  config.process!.capabilities = { bounding: ['CAP_SYS_ADMIN', 'CAP_NET_ADMIN'] };
  config.linux = { ...config.linux, maskedPaths: [], readonlyPaths: [], devices: [{ path: '/dev/sda', type: 'b' }] };
  assert.equal(isPrivileged(config), true);
  assert.deepEqual(
    detectFeatures(config).map((u) => u.feature),
    ['privileged'],
  );
  // --cap-add ALL --device /dev/sda keeps the masked paths: not privileged, the device is refused.
  config.linux.maskedPaths = ['/proc/kcore'];
  assert.equal(isPrivileged(config), false);
  assert.deepEqual(
    detectFeatures(config).map((u) => [u.feature, u.detail]),
    [['device', 'host device /dev/sda']],
  );
});
