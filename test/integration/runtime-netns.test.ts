/**
 * A network namespace named in config.json (the CNI / Kubernetes way: the runtime gets a netns
 * someone else made and configured) is used as is, at the runtime CLI level: its interface moves
 * into the VM, and the netns, which vmrt did not make, outlives the container without vmrt's
 * taps, its addresses and routes back. A VM starts before the hooks, so before the NICs are known: a netns with more interfaces
 * than it has root ports for gets a new VM after the hooks. Needs root, iproute2, QEMU, the built
 * guest and shim.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { makeBusyboxBundle, REPO } from '../support/images.js';
import { leftovers } from '../support/leftovers.js';

const VMRT = join(REPO, 'runtime', 'bin', 'vmrt');
const tag = randomBytes(3).toString('hex');
const NETNS = `cni-test-${tag}`;
const HOST_VETH = `vc${tag}`;
const SUBNET = `10.${150 + randomInt(50)}.${randomInt(256)}`;
// Three interfaces: one more than a VM started before its hooks has root ports for (EARLY_NIC_PORTS).
const WIDE_NETNS = `cni-wide-${tag}`;
const WIDE_NICS = 3;
// No interface but lo: a container without a network.
const EMPTY_NETNS = `cni-empty-${tag}`;
let work: string;
let root: string;

function ip(args: string[]): string {
  const r = spawnSync('ip', args, { encoding: 'utf8' });
  assert.equal(r.status, 0, `ip ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

before(() => {
  assert.ok(existsSync(VMRT), `${VMRT} is missing: run scripts/setup.sh`);
  work = mkdtempSync('/tmp/vmrt-netns-');
  root = join(work, 'root');
  // What a CNI bridge/ptp plugin leaves: a netns with a configured eth0 whose peer is on the host.
  ip(['netns', 'add', NETNS]);
  ip(['link', 'add', HOST_VETH, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', NETNS]);
  ip(['addr', 'add', `${SUBNET}.1/24`, 'dev', HOST_VETH]);
  ip(['link', 'set', HOST_VETH, 'up']);
  ip(['-n', NETNS, 'addr', 'add', `${SUBNET}.2/24`, 'dev', 'eth0']);
  ip(['-n', NETNS, 'link', 'set', 'eth0', 'up']);
  ip(['-n', NETNS, 'route', 'add', 'default', 'via', `${SUBNET}.1`]);
  ip(['netns', 'add', EMPTY_NETNS]);
  ip(['netns', 'add', WIDE_NETNS]);
  for (let i = 0; i < WIDE_NICS; i++) {
    ip(['link', 'add', `vw${i}${tag}`, 'type', 'veth', 'peer', 'name', `eth${i}`, 'netns', WIDE_NETNS]);
    ip(['-n', WIDE_NETNS, 'addr', 'add', `10.${200 + i}.${randomInt(256)}.2/24`, 'dev', `eth${i}`]);
    ip(['-n', WIDE_NETNS, 'link', 'set', `eth${i}`, 'up']);
  }
});

after(() => {
  for (const id of ['cni1-off', 'cni1-on', 'cni-empty', 'cni-wide-on', 'cni-wide-off'])
    spawnSync(VMRT, ['--root', root, 'delete', '--force', id]);
  spawnSync('ip', ['netns', 'delete', EMPTY_NETNS]);
  spawnSync('ip', ['netns', 'delete', NETNS]);
  spawnSync('ip', ['link', 'delete', HOST_VETH]);
  spawnSync('ip', ['netns', 'delete', WIDE_NETNS]);
  rmSync(work, { recursive: true, force: true });
});

/** A busybox bundle that runs `command` in the netns `netns`, with a raw socket for ping. */
function cniBundle(dir: string, netns: string, command: string[]): string {
  return makeBusyboxBundle(dir, command, (config) => {
    // ping needs a raw socket (Docker's default capabilities have it, runc's spec's do not).
    const caps = config.process!.capabilities!;
    for (const set of ['bounding', 'effective', 'permitted'] as const) caps[set] = [...(caps[set] ?? []), 'CAP_NET_RAW'];
    config.linux!.namespaces = config.linux!.namespaces!.map((ns) =>
      ns.type === 'network' ? { type: 'network', path: `/run/netns/${netns}` } : ns,
    );
  });
}

/** The netns's links, by name. */
function linksOf(netns: string): string[] {
  return (JSON.parse(ip(['-n', netns, '-j', 'link', 'show'])) as Array<{ ifname: string }>).map((l) => l.ifname).sort();
}

for (const templates of ['off', 'on']) {
  test(`templates ${templates}: a netns path in config.json (CNI style) is used as is: its eth0 is the VM's, and the netns outlives the container`, () => {
    const mac = JSON.parse(ip(['-n', NETNS, '-j', 'link', 'show', 'eth0']))[0].address as string;
    const b = cniBundle(join(work, `cni-${templates}`), NETNS, [
      'sh',
      '-c',
      `cat /sys/class/net/eth0/address; ip -o -4 addr show dev eth0 | awk '{print $4}'; ip route | grep ^default | cut -d' ' -f1-5; ping -c 1 -W 5 ${SUBNET}.1 >/dev/null && echo pong`,
    ]);
    const id = `cni1-${templates}`;
    const r = spawnSync(VMRT, ['--vm-template', templates, '--root', root, 'run', '--bundle', b, id], {
      encoding: 'utf8',
      timeout: 180000,
    });
    assert.deepEqual([r.status, r.stdout, r.stderr], [0, `${mac}\n${SUBNET}.2/24\ndefault via ${SUBNET}.1 dev eth0\npong\n`, '']);
    assert.deepEqual(leftovers(root, id), []);
    // Not vmrt's to delete; and vmrt's taps (a template's NIC's too) and redirects are gone from it.
    assert.ok(
      ip(['netns', 'list'])
        .split('\n')
        .some((l) => l.split(' ')[0] === NETNS),
      'the netns still exists',
    );
    assert.deepEqual(linksOf(NETNS), ['eth0', 'lo']);
    // Its eth0 has back the address and route that were the VM's: a next container finds it as CNI left it.
    assert.match(ip(['-n', NETNS, '-o', '-4', 'addr', 'show', 'dev', 'eth0']), new RegExp(` ${SUBNET.replaceAll('.', '\\.')}\\.2/24 `));
    assert.match(ip(['-n', NETNS, 'route', 'show', 'default']), new RegExp(`^default via ${SUBNET.replaceAll('.', '\\.')}\\.1 dev eth0`));
    const qdisc = spawnSync('tc', ['-n', NETNS, 'qdisc', 'show', 'dev', 'eth0', 'ingress'], { encoding: 'utf8' });
    assert.deepEqual([qdisc.status, qdisc.stdout.trim()], [0, '']);
  });
}

test("templates on: a netns with lo alone: the template's NIC leaves the guest, and its tap leaves the netns with the container", () => {
  const b = cniBundle(join(work, 'empty'), EMPTY_NETNS, ['sh', '-c', 'ls /sys/class/net | grep -v sit0']);
  const r = spawnSync(VMRT, ['--vm-template', 'on', '--root', root, 'run', '--bundle', b, 'cni-empty'], {
    encoding: 'utf8',
    timeout: 180000,
  });
  assert.deepEqual([r.status, r.stdout, r.stderr], [0, 'lo\n', '']);
  assert.deepEqual(leftovers(root, 'cni-empty'), []);
  assert.deepEqual(linksOf(EMPTY_NETNS), ['lo']);
});

for (const templates of ['on', 'off']) {
  test(`templates ${templates}: a netns with more interfaces than a VM started before its hooks has root ports for gets a new VM, every interface in it`, () => {
    const macs = Array.from(
      { length: WIDE_NICS },
      (_, i) => JSON.parse(ip(['-n', WIDE_NETNS, '-j', 'link', 'show', `eth${i}`]))[0].address as string,
    );
    const b = cniBundle(join(work, `wide-${templates}`), WIDE_NETNS, ['sh', '-c', 'cat /sys/class/net/eth*/address']);
    const debugLog = join(work, `wide-${templates}-debug.log`);
    const id = `cni-wide-${templates}`;
    const r = spawnSync(VMRT, ['--vm-template', templates, '--root', root, 'run', '--bundle', b, id], {
      encoding: 'utf8',
      timeout: 300000,
      env: { ...process.env, VMRT_DEBUG_LOG: debugLog },
    });
    assert.deepEqual([r.status, r.stdout, r.stderr], [0, macs.map((m) => `${m}\n`).join(''), '']);
    // The VM started before the hooks is gone too.
    assert.match(readFileSync(debugLog, 'utf8'), /a new VM after the hooks: 3 networks/);
    assert.deepEqual(leftovers(root, id), []);
    assert.deepEqual(linksOf(WIDE_NETNS), ['eth0', 'eth1', 'eth2', 'lo']);
  });
}
