import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { vfioArgs } from '../../runtime/src/vfio.js';
import type { Config } from '../../runtime/src/spec.js';

/** A host with VFIO group 7 (a GPU and its audio function) and an empty group 8, in a temporary folder. */
const roots: string[] = [];
after(() => roots.forEach((root) => rmSync(root, { recursive: true, force: true })));

function fakeHost() {
  const root = mkdtempSync(join(tmpdir(), 'vmrt-vfio-'));
  roots.push(root);
  const host = { dev: join(root, 'dev'), sys: join(root, 'sys') };
  mkdirSync(join(host.dev, 'vfio'), { recursive: true });
  for (const group of ['7', '8']) writeFileSync(join(host.dev, 'vfio', group), '');
  for (const address of ['0000:03:00.1', '0000:03:00.0'])
    mkdirSync(join(host.sys, 'kernel', 'iommu_groups', '7', 'devices', address), { recursive: true });
  mkdirSync(join(host.sys, 'kernel', 'iommu_groups', '8', 'devices'), { recursive: true });
  return host;
}

const withDevices = (...paths: string[]): Config =>
  ({ ociVersion: '1.0.2', linux: { devices: paths.map((path) => ({ path, type: 'c', major: 1, minor: 3 })) } }) as Config;

test('a VFIO group passes each of its PCI devices through, in a root port of its own', () => {
  assert.deepEqual(vfioArgs(withDevices('/dev/null', '/dev/vfio/7'), 'b/config.json', fakeHost()), [
    '-device',
    'pcie-root-port,id=vmrt-vfio0,chassis=200,slot=200',
    '-device',
    'vfio-pci,host=0000:03:00.0,bus=vmrt-vfio0',
    '-device',
    'pcie-root-port,id=vmrt-vfio1,chassis=201,slot=201',
    '-device',
    'vfio-pci,host=0000:03:00.1,bus=vmrt-vfio1',
  ]);
  assert.deepEqual(vfioArgs(withDevices('/dev/null', '/dev/vfio/vfio'), 'b/config.json', fakeHost()), [], 'no group, nothing passed');
});

test('a VFIO group the host does not have, or an empty one, is an error naming the place in config.json', () => {
  assert.throws(() => vfioArgs(withDevices('/dev/vfio/9'), 'b/config.json', fakeHost()), {
    message: /^b\/config\.json: linux\.devices\[0\] \(\/dev\/vfio\/9\): no VFIO group 9 on this host: bind the device to vfio-pci first/,
  });
  assert.throws(() => vfioArgs(withDevices('/dev/zero', '/dev/vfio/8'), 'b/config.json', fakeHost()), {
    message: /^b\/config\.json: linux\.devices\[1\] \(\/dev\/vfio\/8\): IOMMU group 8 holds no PCI device/,
  });
});
