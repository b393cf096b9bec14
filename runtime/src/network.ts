/**
 * Wiring the container's network namespace to its VM (Kata's tcfilter model). After the
 * prestart hooks (Docker's gives the netns a veth `eth0` with address, MAC and routes), each
 * interface gets a tap device that QEMU serves as a virtio NIC with the interface's MAC, and tc
 * redirects every frame between the two. The interface's addresses move to the guest: the host
 * side keeps none, and the guest learns them from the spec annotation `org.vmrt.network`.
 * Every NIC is a virtio-net-pci device in a PCIe root port of its own, so that any of them can
 * be unplugged, and SPARE_PORTS empty ports wait for networks connected later (hotplug.ts). The
 * VM starts before the hooks, with EARLY_NIC_PORTS empty ports for the NICs of the create,
 * plugged once the hooks have run; a VM restored from a template has its first NIC from the
 * template already (templateNicArgs).
 */
import { isHostNetns } from './config-check.js';
import { RuntimeError } from './errors.js';
import type { Jail } from './jail.js';
import { inNetns } from './netns.js';
import { run } from './proc.js';
import type { Qmp } from './qmp.js';

export interface GuestInterface {
  /** Name inside the guest (the same as in the netns, e.g. eth0). */
  name: string;
  mac: string;
  mtu: number;
  /** CIDR addresses, e.g. 172.17.0.2/16. */
  addresses: string[];
  /** The tap device in the netns that QEMU attaches to; also the id of QEMU's netdev. */
  tap: string;
  /** The PCIe root port the NIC sits in (host-side only). */
  port: number;
  /**
   * The MAC of the template's NIC that this interface takes over (a VM restored from a template,
   * templateNicArgs): the agent finds the NIC by it and gives it `mac`. Its tap was made before QEMU.
   */
  templateMac?: string;
}

export interface GuestRoute {
  dst: string;
  gateway?: string;
  dev: string;
}

export interface GuestNetwork {
  interfaces: GuestInterface[];
  routes: GuestRoute[];
  /** A template's NIC that no interface took: the agent removes it from the guest (QEMU keeps it). */
  unused?: UnusedNic[];
}

export interface UnusedNic {
  mac: string;
  /** Its tap, removed with the container (host-side only). */
  tap: string;
}

export const NETWORK_ANNOTATION = 'org.vmrt.network';

export interface IpLink {
  ifname: string;
  address?: string;
  mtu: number;
  link_type: string;
  flags?: string[];
  addr_info?: Array<{ family: string; local: string; prefixlen: number; scope?: string }>;
}

const TAP_PREFIX = 'vmrt-tap';

export function isTap(name: string): boolean {
  return name.startsWith(TAP_PREFIX);
}

function inNs(netnsPath: string, command: string[], input?: string): string {
  const [nsenter, ...args] = inNetns(netnsPath);
  return run(nsenter!, [...args, ...command], input);
}

/**
 * Runs `program` (ip or tc) in the netns on `commands`, one per line of its batch input; with
 * `force`, a command that fails does not stop the rest (the run still fails).
 */
function inNsBatch(netnsPath: string, program: 'ip' | 'tc', commands: string[], force = false): void {
  inNs(netnsPath, [program, ...(force ? ['-force'] : []), '-batch', '-'], `${commands.join('\n')}\n`);
}

/**
 * IPv6 switched off in the netns (Docker does so on networks without IPv6), as sysctls for the
 * VM, whose own stack is the container's: `::1` then fails to bind there too, as under runc.
 */
export function disabledIpv6Sysctls(netnsPath: string): Record<string, string> {
  const names = ['all', 'default', 'lo'];
  const values = inNs(netnsPath, ['cat', ...names.map((name) => `/proc/sys/net/ipv6/conf/${name}/disable_ipv6`)]).split('\n');
  return Object.fromEntries(names.flatMap((name, i) => (values[i]?.trim() === '1' ? [[`net.ipv6.conf.${name}.disable_ipv6`, '1']] : [])));
}

/** Every link of the netns with its addresses (`ip -j addr`). */
export function readLinks(netnsPath: string): IpLink[] {
  return JSON.parse(inNs(netnsPath, ['ip', '-j', 'addr', 'show']) || '[]') as IpLink[];
}

/** A netns interface as the guest should have it, on the tap `tap`, its NIC in `port`. */
export function guestInterface(link: IpLink, tap: string, port: number): GuestInterface {
  return {
    name: link.ifname,
    mac: link.address ?? '',
    mtu: link.mtu,
    addresses: (link.addr_info ?? []).filter((a) => a.scope !== 'link').map((a) => `${a.local}/${a.prefixlen}`),
    tap,
    port,
  };
}

/** The routes of the netns that leave through one of `devs`. */
export function readRoutes(netnsPath: string, devs: readonly string[]): GuestRoute[] {
  const names = new Set(devs);
  const routes: GuestRoute[] = [];
  for (const family of ['-4', '-6']) {
    const list = JSON.parse(inNs(netnsPath, ['ip', '-j', family, 'route', 'show']) || '[]') as Array<{
      dst: string;
      gateway?: string;
      dev: string;
      protocol?: string;
    }>;
    // Routes the kernel derives from an address (proto kernel) come back with the address.
    for (const r of list) if (names.has(r.dev) && r.protocol !== 'kernel') routes.push({ dst: r.dst, gateway: r.gateway, dev: r.dev });
  }
  return routes;
}

/**
 * The interfaces and routes the hooks (or CNI) configured, as the guest should have them. In a VM
 * restored from a template, the first interface takes over the template's NIC (`templateNic`, its
 * tap made before QEMU started); with no interface to take it, it is `unused`.
 */
export function readNetwork(netnsPath: string, templateNic?: { tap: string }): GuestNetwork {
  const links = readLinks(netnsPath).filter((l) => l.ifname !== templateNic?.tap);
  // Another vmrt VM already took this namespace's interfaces (a container joined its netns).
  const interfaces = links.some((l) => isTap(l.ifname))
    ? []
    : links
        .filter((l) => l.link_type === 'ether')
        .map((l, i) =>
          i === 0 && templateNic
            ? { ...guestInterface(l, templateNic.tap, 0), templateMac: TEMPLATE_NIC_MAC }
            : guestInterface(l, `${TAP_PREFIX}${i}`, i),
        );
  if (interfaces.length === 0) {
    return { interfaces, routes: [], ...(templateNic ? { unused: [{ mac: TEMPLATE_NIC_MAC, tap: templateNic.tap }] } : {}) };
  }
  return {
    interfaces,
    routes: readRoutes(
      netnsPath,
      interfaces.map((i) => i.name),
    ),
  };
}

/** The first tap name that is neither a link of the netns nor taken by `taken`. */
export function freeTapName(links: readonly IpLink[], taken: readonly GuestInterface[]): string {
  const used = new Set([...links.map((l) => l.ifname), ...taken.map((i) => i.tap)]);
  let i = 0;
  while (used.has(`${TAP_PREFIX}${i}`)) i++;
  return `${TAP_PREFIX}${i}`;
}

/** Never in the host's namespace: the redirects and the address flush would cut the host off. */
function refuseHostNetns(netnsPath: string): void {
  if (isHostNetns(netnsPath))
    throw new RuntimeError(`refusing to move the interfaces of ${netnsPath} into a VM: it is the host's network namespace`);
}

/**
 * Makes the interface's tap and the tc redirects both ways; the host side keeps no address.
 * The tap is owned by QEMU's uid and gid (`jail`): QEMU, without capabilities, may attach to it
 * and to no other.
 */
export function wireInterface(netnsPath: string, nic: GuestInterface, jail: Jail | undefined): void {
  refuseHostNetns(netnsPath);
  // One `ip` and one `tc` in batch mode, not a process per command: this runs in every create.
  inNsBatch(netnsPath, 'ip', [
    // A template's NIC has its tap already (makeTemplateTap).
    ...(nic.templateMac ? [] : [tapAddCommand(nic.tap, jail)]),
    `link set ${nic.tap} mtu ${nic.mtu} up`,
    `addr flush dev ${nic.name}`,
  ]);
  inNsBatch(
    netnsPath,
    'tc',
    [
      [nic.name, nic.tap],
      [nic.tap, nic.name],
    ].flatMap(([from, to]) => [
      `qdisc add dev ${from} ingress`,
      `filter add dev ${from} parent ffff: protocol all u32 match u8 0 0 action mirred egress redirect dev ${to}`,
    ]),
  );
}

export function wireNetwork(netnsPath: string, network: GuestNetwork, jail: Jail): void {
  for (const nic of network.interfaces) wireInterface(netnsPath, nic, jail);
}

/** Removes the interface's tap and redirect (what is gone already is no error). */
export function unwireInterface(netnsPath: string, nic: GuestInterface): void {
  if (isHostNetns(netnsPath)) return;
  removeTap(netnsPath, nic.tap);
  try {
    inNs(netnsPath, ['tc', 'qdisc', 'del', 'dev', nic.name, 'ingress']);
  } catch {
    // The netns or the interface is gone already.
  }
}

/**
 * Removes the taps from a netns vmrt did not create (one it made goes away whole) and gives its
 * interfaces back the addresses and routes that moved into the VM: the netns is left as it came
 * (a CNI netns outlives its container, and another may start in it).
 */
export function unwireNetwork(netnsPath: string, network: GuestNetwork): void {
  for (const nic of network.interfaces) {
    unwireInterface(netnsPath, nic);
    const routes = network.routes.filter((r) => r.dev === nic.name);
    try {
      // Forced: what is there already (or gone with its interface) does not stop the rest.
      inNsBatch(
        netnsPath,
        'ip',
        [
          ...nic.addresses.map((cidr) => `addr add ${cidr} dev ${nic.name}`),
          ...routes.map((r) => `route add ${r.dst}${r.gateway ? ` via ${r.gateway}` : ''} dev ${r.dev}`),
        ],
        true,
      );
    } catch {
      // The interface is gone, or had them back already.
    }
  }
  for (const { tap } of network.unused ?? []) removeTap(netnsPath, tap);
}

/** `ip` batch command making a tap that QEMU (its uid and gid: `jail`), without capabilities, may attach to. */
function tapAddCommand(tap: string, jail: Jail | undefined): string {
  return `tuntap add dev ${tap} mode tap${jail ? ` user ${jail.uid} group ${jail.gid}` : ''}`;
}

/**
 * The tap of a template's NIC in the container's netns, made before QEMU starts (it attaches at
 * start, before the hooks have configured the netns): its name.
 */
export function makeTemplateTap(netnsPath: string, jail: Jail): string {
  refuseHostNetns(netnsPath);
  // One process in the usual netns, which has no tap yet; one that has (another VM's) is read.
  const first = `${TAP_PREFIX}0`;
  try {
    inNsBatch(netnsPath, 'ip', [tapAddCommand(first, jail)]);
    return first;
  } catch (err) {
    const tap = freeTapName(readLinks(netnsPath), []);
    if (tap === first) throw err;
    inNsBatch(netnsPath, 'ip', [tapAddCommand(tap, jail)]);
    return tap;
  }
}

export function removeTap(netnsPath: string, tap: string): void {
  if (isHostNetns(netnsPath)) return;
  try {
    inNs(netnsPath, ['ip', 'link', 'del', tap]);
  } catch {
    // The netns or the tap is gone already.
  }
}

/**
 * PCIe root ports left empty at boot: `docker network connect` hot-plugs a NIC into a free one.
 * Each is one more network a running container can join; their boot cost is in
 * runtime/guest/README.md.
 */
export const SPARE_PORTS = 4;
/**
 * NICs a VM takes at create. It starts while the hooks run, before they have configured its netns,
 * with root ports for this many NICs besides the spares, and gets its NICs after the hooks; a
 * create with more networks starts a new VM then, its NICs in place at boot.
 */
export const EARLY_NIC_PORTS = 2;
export const portId = (port: number): string => `vmrt-port${port}`;
export const nicId = (port: number): string => `vmrt-nic${port}`;
/** The port's PCIe slot number: the guest's /sys/bus/pci/slots/<n>. */
export const portSlot = (port: number): number => port + 1;

/**
 * QEMU arguments: a root port per interface plus SPARE_PORTS, and per interface a virtio-net-pci
 * NIC in its port, on its tap, with the interface's MAC (no option ROM: nothing boots from it).
 */
export function nicArgs(network: GuestNetwork): string[] {
  const ports = Math.max(-1, ...network.interfaces.map((nic) => nic.port)) + 1 + SPARE_PORTS;
  return [...rootPortArgs(ports), ...network.interfaces.flatMap((nic) => nicDeviceArgs(nic.tap, nic.port, nic.mac))];
}

function nicDeviceArgs(tap: string, port: number, mac: string): string[] {
  return [
    '-netdev',
    `tap,id=${tap},ifname=${tap},script=no,downscript=no,vhost=off`,
    '-device',
    `virtio-net-pci,id=${nicId(port)},bus=${portId(port)},netdev=${tap},mac=${mac},romfile=`,
  ];
}

/** Why the NICs do not fit a VM started before the hooks (EARLY_NIC_PORTS), or undefined. */
export function tooManyNics(nics: readonly GuestInterface[]): string | undefined {
  if (nics.length <= EARLY_NIC_PORTS) return undefined;
  return `${nics.length} networks: a VM started before its hooks has root ports for ${EARLY_NIC_PORTS}`;
}

/** The root ports of a VM started before its hooks: EARLY_NIC_PORTS and the spares. */
export function earlyRootPortArgs(): string[] {
  return rootPortArgs(EARLY_NIC_PORTS + SPARE_PORTS);
}

/** Empty PCIe root ports 0…ports-1. */
export function rootPortArgs(ports: number): string[] {
  // No I/O window: virtio-net-pci needs none, and microvm has no I/O space to give.
  return Array.from({ length: ports }, (_, port) => [
    '-device',
    `pcie-root-port,id=${portId(port)},chassis=${portSlot(port)},slot=${portSlot(port)},io-reserve=0`,
  ]).flat();
}

/**
 * A template VM boots with a NIC in root port 0 (`tap`: its own netns's), so that a VM restored
 * from it needs no hot-plug for its first interface: the guest probing a hot-plugged NIC held the
 * restored VM up for about 150 ms under TCG. The agent gives the NIC the interface's MAC.
 */
export const TEMPLATE_NIC_MAC = '02:76:6d:72:74:00';

export function templateNicArgs(tap: string): string[] {
  return nicDeviceArgs(tap, 0, TEMPLATE_NIC_MAC);
}

/** Plugs the NIC of `nic` (its tap wired already) into its root port; the guest's pciehp finds it. */
export async function addNic(qmp: Qmp, nic: GuestInterface): Promise<void> {
  await qmp.execute('netdev_add', { type: 'tap', id: nic.tap, ifname: nic.tap, script: 'no', downscript: 'no', vhost: false });
  await qmp.execute('device_add', {
    driver: 'virtio-net-pci',
    id: nicId(nic.port),
    bus: portId(nic.port),
    netdev: nic.tap,
    mac: nic.mac,
    romfile: '',
  });
}
