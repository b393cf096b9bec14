/**
 * Wiring the container's network namespace to its VM (Kata's tcfilter model). After the
 * prestart hooks (Docker's gives the netns a veth `eth0` with address, MAC and routes), each
 * interface gets a tap device that QEMU serves as a virtio NIC with the interface's MAC, and tc
 * redirects every frame between the two. The interface's addresses move to the guest: the host
 * side keeps none, and the guest learns them from the spec annotation `org.vmrt.network`.
 */
import { isHostNetns } from './config-check.js';
import { RuntimeError } from './errors.js';
import { run } from './proc.js';

export interface GuestInterface {
  /** Name inside the guest (the same as in the netns, e.g. eth0). */
  name: string;
  mac: string;
  mtu: number;
  /** CIDR addresses, e.g. 172.17.0.2/16. */
  addresses: string[];
  /** The tap device in the netns that QEMU attaches to. */
  tap: string;
}

export interface GuestRoute {
  dst: string;
  gateway?: string;
  dev: string;
}

export interface GuestNetwork {
  interfaces: GuestInterface[];
  routes: GuestRoute[];
}

export const NETWORK_ANNOTATION = 'org.vmrt.network';

interface IpLink {
  ifname: string;
  address?: string;
  mtu: number;
  link_type: string;
  addr_info?: Array<{ family: string; local: string; prefixlen: number; scope?: string }>;
}

function inNs(netnsPath: string, command: string[]): string {
  return run('nsenter', [`--net=${netnsPath}`, '--', ...command]);
}

/** The interfaces and routes the hooks (or CNI) configured, as the guest should have them. */
export function readNetwork(netnsPath: string): GuestNetwork {
  const links = JSON.parse(inNs(netnsPath, ['ip', '-j', 'addr', 'show']) || '[]') as IpLink[];
  // Another vmrt VM already took this namespace's interfaces (a container joined its netns).
  if (links.some((l) => l.ifname.startsWith('vmrt-tap'))) return { interfaces: [], routes: [] };
  const interfaces = links
    .filter((l) => l.link_type === 'ether')
    .map((l, i) => ({
      name: l.ifname,
      mac: l.address ?? '',
      mtu: l.mtu,
      addresses: (l.addr_info ?? []).filter((a) => a.scope !== 'link').map((a) => `${a.local}/${a.prefixlen}`),
      tap: `vmrt-tap${i}`,
    }));
  const names = new Set(interfaces.map((i) => i.name));
  const routes: GuestRoute[] = [];
  for (const family of ['-4', '-6']) {
    const list = JSON.parse(inNs(netnsPath, ['ip', '-j', family, 'route', 'show']) || '[]') as Array<{ dst: string; gateway?: string; dev: string; protocol?: string }>;
    // Routes the kernel derives from an address (proto kernel) come back with the address.
    for (const r of list) if (names.has(r.dev) && r.protocol !== 'kernel') routes.push({ dst: r.dst, gateway: r.gateway, dev: r.dev });
  }
  return { interfaces, routes };
}

/** Makes each interface's tap and the tc redirects both ways; the host side keeps no address. */
export function wireNetwork(netnsPath: string, network: GuestNetwork): void {
  // Never in the host's namespace: the redirects and the address flush would cut the host off.
  if (isHostNetns(netnsPath)) throw new RuntimeError(`refusing to move the interfaces of ${netnsPath} into a VM: it is the host's network namespace`);
  for (const nic of network.interfaces) {
    inNs(netnsPath, ['ip', 'tuntap', 'add', 'dev', nic.tap, 'mode', 'tap']);
    inNs(netnsPath, ['ip', 'link', 'set', nic.tap, 'mtu', String(nic.mtu), 'up']);
    for (const [from, to] of [[nic.name, nic.tap], [nic.tap, nic.name]] as const) {
      inNs(netnsPath, ['tc', 'qdisc', 'add', 'dev', from, 'ingress']);
      inNs(netnsPath, ['tc', 'filter', 'add', 'dev', from, 'parent', 'ffff:', 'protocol', 'all', 'u32', 'match', 'u8', '0', '0',
        'action', 'mirred', 'egress', 'redirect', 'dev', to]);
    }
    inNs(netnsPath, ['ip', 'addr', 'flush', 'dev', nic.name]);
  }
}

/** Removes the taps from a netns vmrt did not create (one it made goes away whole). */
export function unwireNetwork(netnsPath: string, network: GuestNetwork): void {
  if (isHostNetns(netnsPath)) return;
  for (const nic of network.interfaces) {
    try {
      inNs(netnsPath, ['ip', 'link', 'del', nic.tap]);
      inNs(netnsPath, ['tc', 'qdisc', 'del', 'dev', nic.name, 'ingress']);
    } catch {
      // The netns or the interface is gone already.
    }
  }
}

/** QEMU arguments: one virtio NIC per interface, on its tap, with the interface's MAC. */
export function nicArgs(network: GuestNetwork): string[] {
  return network.interfaces.flatMap((nic, i) => [
    '-netdev', `tap,id=net${i},ifname=${nic.tap},script=no,downscript=no,vhost=off`,
    '-device', `virtio-net-device,netdev=net${i},mac=${nic.mac}`,
  ]);
}
