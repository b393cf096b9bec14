/**
 * `docker network connect` / `disconnect` on a running vmrt container: a private dockerd, a VM
 * container started on one network, a NIC hot-plugged for a second network and unplugged again,
 * proven from inside the guest (docker exec) and from a runc peer on that network. Needs root,
 * docker.io, QEMU, the guest (with PCIe hotplug) and the shim.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { dockerdForFile, type Dockerd } from '../support/dockerd.js';
import { assertNothingLeft } from '../support/leftovers.js';
import { waitFor } from '../support/wait.js';

const IMAGE = 'vmrt-test-busybox';
let d: Dockerd;
/** dockerd leaves the bridges of user-defined networks behind when it stops: removed in after(). */
const networks: string[] = [];

/** The network-sync's errors land in the shim's log. */
function shimLog(id: string): string {
  try {
    return `\nshim.log:\n${readFileSync(join(d.runtimeRoot, id, 'shim.log'), 'utf8')}`;
  } catch {
    return '';
  }
}

/** A user-defined bridge network on a subnet of its own (other tests' daemons run at once). */
function createNetwork(name: string): string {
  const subnet = `10.${200 + randomInt(50)}.${randomInt(256)}`;
  d.dockerOk(['network', 'create', '--subnet', `${subnet}.0/24`, name]);
  networks.push(name);
  return subnet;
}

interface Endpoint {
  IPAddress: string;
  IPPrefixLen: number;
  MacAddress: string;
  Gateway: string;
}

function endpoint(container: string, network: string): Endpoint {
  return JSON.parse(d.dockerOk(['inspect', '--format', `{{json (index .NetworkSettings.Networks "${network}")}}`, container])) as Endpoint;
}

/**
 * The guest's view: "<mac> <IPv4 addresses>" per NIC (not lo, not the kernel's sit0). Docker
 * names a connected interface eth<n> with n counting up per connect: the names are checked apart.
 */
function guestInterfaces(container: string): string[] {
  const r = d.docker([
    'exec',
    container,
    'sh',
    '-c',
    "for i in /sys/class/net/*; do n=${i##*/}; [ -e $i/device ] || continue; echo \"$n $(cat $i/address) $(ip -o -4 addr show dev $n | awk '{print $4}' | tr '\\n' ' ')\"; done",
  ]);
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout
    .trim()
    .split('\n')
    .map((l) => l.trim().split(' '));
  for (const [name] of lines) assert.match(name!, /^eth\d+$/);
  return lines.map(([, ...rest]) => rest.join(' ')).sort();
}

const nic = (e: Endpoint) => `${e.MacAddress} ${e.IPAddress}/${e.IPPrefixLen}`;

/** busybox 1.35's `wget -T` crashes (with runc too): a timeout bounds it instead. */
const fetch = (container: string, url: string) => d.docker(['exec', container, 'timeout', '5', 'wget', '-qO-', url]);

dockerdForFile(
  IMAGE,
  (daemon) => {
    d = daemon;
  },
  () => {
    for (const name of networks) d.docker(['network', 'rm', name]);
  },
);

test("feature network-connect: docker network connect hot-plugs a NIC with Docker's MAC and address, disconnect unplugs it", async () => {
  createNetwork('neta');
  createNetwork('netb');
  d.dockerOk([
    'run',
    '-d',
    '--runtime',
    'runc',
    '--network',
    'netb',
    '--name',
    'peerb',
    IMAGE,
    'sh',
    '-c',
    'mkdir -p /www; echo hello-b > /www/index.html; httpd -f -p 8080 -h /www',
  ]);
  const id = d.dockerOk(['run', '-d', '--runtime', 'vmrt', '--network', 'neta', '--name', 'c1', IMAGE, 'sleep', '1000']).trim();
  const a = endpoint('c1', 'neta');
  const peer = endpoint('peerb', 'netb').IPAddress;
  assert.deepEqual(guestInterfaces('c1'), [nic(a)]);
  assert.notEqual(fetch('c1', `http://${peer}:8080/index.html`).status, 0, 'netb is unreachable before connect');

  for (const round of [1, 2]) {
    const started = Date.now();
    d.dockerOk(['network', 'connect', 'netb', 'c1']);
    const b = endpoint('c1', 'netb');
    const expected = nic(b);
    await waitFor(
      `a NIC with ${b.MacAddress} ${b.IPAddress} in the guest (round ${round})`,
      () => (guestInterfaces('c1').includes(expected) ? true : undefined),
      20000,
      () => shimLog(id),
    );
    const connectMs = Date.now() - started;
    assert.deepEqual(guestInterfaces('c1'), [nic(a), expected].sort());
    const web = fetch('c1', `http://${peer}:8080/index.html`);
    assert.deepEqual([web.status, web.stdout], [0, 'hello-b\n'], web.stderr);
    const back = d.docker(['exec', 'peerb', 'ping', '-c', '1', '-W', '5', b.IPAddress]);
    assert.equal(back.status, 0, back.stdout);
    // By name: Docker's embedded DNS (127.0.0.11 in the netns) answers through the agent's relay.
    const byName = d.docker(['exec', 'c1', 'ping', '-c', '1', '-W', '5', 'peerb']);
    assert.match(byName.stdout, new RegExp(`^PING peerb \\(${peer.replace(/\./g, '\\.')}\\)`), byName.stderr);
    assert.equal(byName.status, 0, byName.stdout);
    // The first network still works beside it.
    assert.equal(d.docker(['exec', 'c1', 'ping', '-c', '1', '-W', '5', a.Gateway]).status, 0);
    // The state records the hot-plugged NIC (the port it sits in, its tap).
    const state = JSON.parse(readFileSync(join(d.runtimeRoot, id, 'state.json'), 'utf8')) as {
      network: { interfaces: Array<{ mac: string; port: number }> };
    };
    assert.deepEqual(
      state.network.interfaces.map((i) => [i.mac, i.port]),
      [
        [a.MacAddress, 0],
        [b.MacAddress, 1],
      ],
    );

    const leaving = Date.now();
    d.dockerOk(['network', 'disconnect', 'netb', 'c1']);
    await waitFor(
      `the NIC of netb gone from the guest (round ${round})`,
      () => (guestInterfaces('c1').length === 1 ? true : undefined),
      20000,
      () => shimLog(id),
    );
    const disconnectMs = Date.now() - leaving;
    assert.deepEqual(guestInterfaces('c1'), [nic(a)]);
    assert.notEqual(fetch('c1', `http://${peer}:8080/index.html`).status, 0, 'netb is unreachable after disconnect');
    assert.notEqual(d.docker(['exec', 'peerb', 'ping', '-c', '1', '-W', '2', b.IPAddress]).status, 0);
    // Once QEMU let go of the NIC, the VM's state has only eth0 again (the next round reuses port 1).
    await waitFor(
      'the state without the NIC of netb',
      () => {
        const s = JSON.parse(readFileSync(join(d.runtimeRoot, id, 'state.json'), 'utf8')) as { network: { interfaces: unknown[] } };
        return s.network.interfaces.length === 1 ? true : undefined;
      },
      20000,
    );
    console.log(`# round ${round}: connect visible in the guest after ${connectMs} ms, disconnect after ${disconnectMs} ms`);
  }
  d.dockerOk(['rm', '-f', 'c1', 'peerb']);
  await assertNothingLeft(d.runtimeRoot, id);
});

test('feature network-connect: a vmrt peer on the connected network is reached both ways, and the network the container started with can be disconnected', async () => {
  createNetwork('netc');
  createNetwork('netd');
  d.dockerOk(['run', '-d', '--runtime', 'vmrt', '--network', 'netc', '--name', 'vmpeer', IMAGE, 'sleep', '1000']);
  const id = d.dockerOk(['run', '-d', '--runtime', 'vmrt', '--network', 'netd', '--name', 'c2', IMAGE, 'sleep', '1000']).trim();
  const peer = endpoint('vmpeer', 'netc').IPAddress;
  d.dockerOk(['network', 'connect', 'netc', 'c2']);
  const c = endpoint('c2', 'netc');
  await waitFor(
    'the NIC of netc in c2',
    () => (guestInterfaces('c2').includes(nic(c)) ? true : undefined),
    20000,
    () => shimLog(id),
  );
  const ping = d.docker(['exec', 'c2', 'ping', '-c', '1', '-W', '5', 'vmpeer']);
  assert.deepEqual([ping.status, ping.stdout.split('\n')[0]], [0, `PING vmpeer (${peer}): 56 data bytes`], ping.stderr);
  const back = d.docker(['exec', 'vmpeer', 'ping', '-c', '1', '-W', '5', c.IPAddress]);
  assert.equal(back.status, 0, back.stdout);
  // The network it started with can go too: its NIC is as unpluggable as the later one.
  d.dockerOk(['network', 'disconnect', 'netd', 'c2']);
  await waitFor(
    'the NIC of netd gone from c2',
    () => (guestInterfaces('c2').length === 1 ? true : undefined),
    20000,
    () => shimLog(id),
  );
  assert.deepEqual(guestInterfaces('c2'), [nic(c)]);
  assert.equal(d.docker(['exec', 'c2', 'ping', '-c', '1', '-W', '5', peer]).status, 0);
  d.dockerOk(['rm', '-f', 'vmpeer', 'c2']);
});

test('feature network-connect: a network connected while the container is paused reaches the VM when it resumes', async () => {
  createNetwork('nete');
  createNetwork('netf');
  const id = d.dockerOk(['run', '-d', '--runtime', 'vmrt', '--network', 'nete', '--name', 'c3', IMAGE, 'sleep', '1000']).trim();
  d.dockerOk(['pause', 'c3']);
  // Docker allows it; the stopped VM cannot take a NIC until `resume`.
  d.dockerOk(['network', 'connect', 'netf', 'c3']);
  d.dockerOk(['unpause', 'c3']);
  const f = endpoint('c3', 'netf');
  await waitFor(
    'the NIC of netf in c3',
    () => (guestInterfaces('c3').includes(nic(f)) ? true : undefined),
    20000,
    () => shimLog(id),
  );
  assert.equal(d.docker(['exec', 'c3', 'ping', '-c', '1', '-W', '5', f.Gateway]).status, 0);
  d.dockerOk(['rm', '-f', 'c3']);
});
