/**
 * A network namespace named in config.json (the CNI / Kubernetes way: the runtime gets a netns
 * someone else made and configured) is used as is, at the runtime CLI level: its interface moves
 * into the VM, and the netns, which vmrt did not make, outlives the container without vmrt's
 * taps. Needs root, iproute2, QEMU, the built guest and shim.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { makeBusyboxBundle, REPO } from '../support/images.js';
import { leftovers } from '../support/leftovers.js';

const VMRT = join(REPO, 'runtime', 'bin', 'vmrt');
const tag = randomBytes(3).toString('hex');
const NETNS = `cni-test-${tag}`;
const HOST_VETH = `vc${tag}`;
const SUBNET = `10.${150 + randomInt(50)}.${randomInt(256)}`;
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
});

after(() => {
  spawnSync(VMRT, ['--root', root, 'delete', '--force', 'cni1']);
  spawnSync('ip', ['netns', 'delete', NETNS]);
  spawnSync('ip', ['link', 'delete', HOST_VETH]);
  rmSync(work, { recursive: true, force: true });
});

test("a netns path in config.json (CNI style) is used as is: its eth0 is the VM's, and the netns outlives the container", () => {
  const mac = JSON.parse(ip(['-n', NETNS, '-j', 'link', 'show', 'eth0']))[0].address as string;
  const b = makeBusyboxBundle(
    join(work, 'cni'),
    [
      'sh',
      '-c',
      `cat /sys/class/net/eth0/address; ip -o -4 addr show dev eth0 | awk '{print $4}'; ip route | grep ^default | cut -d' ' -f1-5; ping -c 1 -W 5 ${SUBNET}.1 >/dev/null && echo pong`,
    ],
    (config) => {
      // ping needs a raw socket (Docker's default capabilities have it, runc's spec's do not).
      const caps = config.process!.capabilities!;
      for (const set of ['bounding', 'effective', 'permitted'] as const) caps[set] = [...(caps[set] ?? []), 'CAP_NET_RAW'];
      config.linux!.namespaces = config.linux!.namespaces!.map((ns) =>
        ns.type === 'network' ? { type: 'network', path: `/run/netns/${NETNS}` } : ns,
      );
    },
  );
  const r = spawnSync(VMRT, ['--root', root, 'run', '--bundle', b, 'cni1'], { encoding: 'utf8', timeout: 180000 });
  assert.deepEqual([r.status, r.stdout, r.stderr], [0, `${mac}\n${SUBNET}.2/24\ndefault via ${SUBNET}.1 dev eth0\npong\n`, '']);
  assert.deepEqual(leftovers(root, 'cni1'), []);
  // Not vmrt's to delete; and vmrt's taps and redirects are gone from it.
  assert.ok(
    ip(['netns', 'list'])
      .split('\n')
      .some((l) => l.split(' ')[0] === NETNS),
    'the netns still exists',
  );
  const links = (JSON.parse(ip(['-n', NETNS, '-j', 'link', 'show'])) as Array<{ ifname: string }>).map((l) => l.ifname).sort();
  assert.deepEqual(links, ['eth0', 'lo']);
  const qdisc = spawnSync('tc', ['-n', NETNS, 'qdisc', 'show', 'dev', 'eth0', 'ingress'], { encoding: 'utf8' });
  assert.deepEqual([qdisc.status, qdisc.stdout.trim()], [0, '']);
});
