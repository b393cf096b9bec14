/**
 * `docker network connect` / `disconnect` on a running VM. Docker moves a veth into (or out of)
 * the container's netns and calls no runtime; the init shim sees the change (rtnetlink) and runs
 * `vmrt network-sync`, which lands here: every new interface gets a tap and redirects (as at
 * create), a virtio-net-pci NIC hot-plugged into a free PCIe root port of the VM (QMP), and its
 * configuration in the guest (agent op `network-add`); a gone one is unplugged (agent op
 * `network-remove` powers its slot off) and unwired. Why hot-plug rather than spare NICs:
 * runtime/guest/README.md.
 */
import { muxSocket, qmpSocket } from './container.js';
import { RuntimeError, errorMessage } from './errors.js';
import { jailOf } from './jail.js';
import type { Logger } from './log.js';
import { muxRequest } from './mux.js';
import {
  addNic,
  freeTapName,
  guestInterface,
  isTap,
  nicId,
  portId,
  portSlot,
  SPARE_PORTS,
  readLinks,
  readRoutes,
  unwireInterface,
  wireInterface,
  type GuestInterface,
  type GuestNetwork,
  type GuestRoute,
  type IpLink,
} from './network.js';
import { sleep } from './proc.js';
import { Qmp } from './qmp.js';
import type { ContainerState } from './state.js';

/** A hot-plugged NIC appears in the guest within about a second (pciehp, then virtio-net). */
const GUEST_NIC_TIMEOUT_MS = 15000;
/** The guest powers the slot off at once; pciehp's own unplug (the attention button) takes 5 s. */
const UNPLUG_TIMEOUT_MS = 15000;

const sameInterface = (a: { name: string; mac: string }, b: { name: string; mac: string }) =>
  a.name === b.name && a.mac.toLowerCase() === b.mac.toLowerCase();

export interface NetworkChanges {
  added: IpLink[];
  removed: GuestInterface[];
}

/**
 * What differs between the netns and the VM. Docker raises a new interface last, after its
 * MAC and addresses: one that is still down is left for the next sync.
 */
export function networkChanges(links: readonly IpLink[], network: GuestNetwork): NetworkChanges {
  const candidates = links.filter((l) => l.link_type === 'ether' && !isTap(l.ifname));
  const current = (l: IpLink) => ({ name: l.ifname, mac: l.address ?? '' });
  return {
    added: candidates.filter((l) => l.flags?.includes('UP') && !network.interfaces.some((nic) => sameInterface(nic, current(l)))),
    removed: network.interfaces.filter((nic) => !candidates.some((l) => sameInterface(nic, current(l)))),
  };
}

/** The agent's network-add / network-remove; a NIC to remove names its PCIe `slot`. */
async function guestRequest(
  state: ContainerState,
  op: string,
  network: { interfaces: Array<GuestInterface & { slot?: number }>; routes: GuestRoute[] },
): Promise<Record<string, unknown>> {
  return muxRequest(muxSocket(state.runDir), { op, network: JSON.stringify(network) });
}

async function freePort(qmp: Qmp, network: GuestNetwork): Promise<number> {
  // A port whose NIC QEMU has not finished removing is not free yet.
  const devices = await qmp.deviceIds();
  for (let port = 0; devices.has(portId(port)); port++) {
    if (!network.interfaces.some((nic) => nic.port === port) && !devices.has(nicId(port))) return port;
  }
  throw new RuntimeError(
    `no free PCIe port in the VM: a running container joins at most ${SPARE_PORTS} networks beyond those it started with`,
  );
}

/** `links`: the netns's links when the sync began (taps made since are in `network`). */
async function plug(
  state: ContainerState,
  qmp: Qmp,
  link: IpLink,
  links: IpLink[],
  network: GuestNetwork,
  save: () => void,
): Promise<void> {
  const netns = state.netns.path;
  const nic = guestInterface(link, freeTapName(links, network.interfaces), await freePort(qmp, network));
  // Read before wiring: the address flush takes the interface's routes with it.
  const routes = readRoutes(netns, [nic.name]);
  // Its tap is QEMU's, as the taps made at create.
  wireInterface(netns, nic, jailOf(state.runDir));
  network.interfaces.push(nic);
  network.routes.push(...routes);
  save();
  await addNic(qmp, nic);
  const deadline = Date.now() + GUEST_NIC_TIMEOUT_MS;
  while (!(await guestRequest(state, 'network-add', { interfaces: [nic], routes })).present) {
    if (Date.now() > deadline)
      throw new RuntimeError(`the NIC ${nic.mac} for ${nic.name} did not appear in the guest within ${GUEST_NIC_TIMEOUT_MS / 1000} s`);
    await sleep(100);
  }
}

async function unplug(
  state: ContainerState,
  qmp: Qmp,
  nic: GuestInterface,
  network: GuestNetwork,
  save: () => void,
  logger: Logger,
): Promise<void> {
  const device = nicId(nic.port);
  // QEMU asks the guest to let go (pciehp would wait 5 s for a change of mind); the agent powers
  // the slot off at once, which completes QEMU's unplug.
  await qmp.execute('device_del', { id: device });
  await guestRequest(state, 'network-remove', { interfaces: [{ ...nic, slot: portSlot(nic.port) }], routes: [] }).catch((err) =>
    logger.warn(`guest network-remove ${nic.name}: ${errorMessage(err)}`),
  );
  const deadline = Date.now() + UNPLUG_TIMEOUT_MS;
  while ((await qmp.deviceIds()).has(device)) {
    if (Date.now() > deadline) throw new RuntimeError(`QEMU did not remove the NIC of ${nic.name} within ${UNPLUG_TIMEOUT_MS / 1000} s`);
    await sleep(100);
  }
  await qmp.execute('netdev_del', { id: nic.tap });
  unwireInterface(state.netns.path, nic);
  network.interfaces = network.interfaces.filter((i) => i !== nic);
  network.routes = network.routes.filter((r) => r.dev !== nic.name);
  save();
}

/**
 * Brings the VM's NICs in line with the netns. `save` is called after every step that changed
 * `network` (the state must say what is wired, even when a later step fails).
 */
export async function syncNetwork(state: ContainerState, network: GuestNetwork, save: () => void, logger: Logger): Promise<NetworkChanges> {
  const links = readLinks(state.netns.path);
  const changes = networkChanges(links, network);
  if (changes.added.length === 0 && changes.removed.length === 0) return changes;
  const qmp = await Qmp.open(qmpSocket(state.runDir));
  try {
    for (const nic of changes.removed) {
      logger.debug(`network-sync: ${nic.name} (${nic.mac}) left the netns: unplugging it`);
      await unplug(state, qmp, nic, network, save, logger);
    }
    for (const link of changes.added) {
      logger.debug(`network-sync: ${link.ifname} (${link.address}) joined the netns: plugging a NIC`);
      await plug(state, qmp, link, links, network, save);
    }
  } finally {
    qmp.close();
  }
  return changes;
}
