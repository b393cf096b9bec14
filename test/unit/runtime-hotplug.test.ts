/** What `vmrt network-sync` plugs and unplugs: the netns's interfaces against the VM's NICs. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { networkChanges } from '../../runtime/src/hotplug.js';
import type { GuestNetwork, IpLink } from '../../runtime/src/network.js';

const link = (ifname: string, address: string, flags = ['BROADCAST', 'UP'], link_type = 'ether'): IpLink => ({
  ifname,
  address,
  mtu: 1500,
  link_type,
  flags,
});
const vm: GuestNetwork = {
  interfaces: [{ name: 'eth0', mac: '02:42:0a:00:00:02', mtu: 1500, addresses: ['10.0.0.2/24'], tap: 'vmrt-tap0', port: 0 }],
  routes: [{ dst: 'default', gateway: '10.0.0.1', dev: 'eth0' }],
};

test("a new interface is plugged once Docker raised it; taps, lo and the VM's own NICs are not", () => {
  const lo = link('lo', '00:00:00:00:00:00', ['LOOPBACK', 'UP'], 'loopback');
  const base = [lo, link('eth0', '02:42:0a:00:00:02'), link('vmrt-tap0', 'aa:bb:cc:dd:ee:ff')];
  assert.deepEqual(networkChanges(base, vm), { added: [], removed: [] });
  const eth1 = link('eth1', '02:42:0a:00:01:02');
  assert.deepEqual(networkChanges([...base, eth1], vm).added, [eth1]);
  assert.deepEqual(
    networkChanges([...base, link('eth1', '02:42:0a:00:01:02', ['BROADCAST'])], vm).added,
    [],
    'still down: Docker is not done',
  );
});

test('an interface that left, or came back with another MAC under its name, is unplugged', () => {
  assert.deepEqual(networkChanges([link('vmrt-tap0', 'aa:bb:cc:dd:ee:ff')], vm).removed, vm.interfaces);
  const renewed = link('eth0', '02:42:0a:00:00:09');
  assert.deepEqual(networkChanges([renewed, link('vmrt-tap0', 'aa:bb:cc:dd:ee:ff')], vm), { added: [renewed], removed: vm.interfaces });
  // MACs compare without case.
  assert.deepEqual(networkChanges([link('eth0', '02:42:0A:00:00:02')], vm), { added: [], removed: [] });
});
