/**
 * VFIO passthrough (`--device /dev/vfio/<group>`): every PCI device of the IOMMU group goes into
 * the VM, each in a PCIe root port of its own, plugged at boot. The host must have bound the
 * group's devices to vfio-pci (then /dev/vfio/<group> exists); the guest kernel needs the
 * device's driver. Checked before anything is made, with the place in config.json named.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { RuntimeError } from './errors.js';
import type { Config } from './spec.js';

export const VFIO_GROUP = /^\/dev\/vfio\/(\d+)$/;

/** Root ports of their own, numbered apart from the network's (network.ts portSlot). */
const VFIO_CHASSIS_BASE = 200;

export interface HostPaths {
  dev: string;
  sys: string;
}

/** QEMU arguments for the VFIO groups in linux.devices; none when there are none. */
export function vfioArgs(config: Config, configPath: string, host: HostPaths = { dev: '/dev', sys: '/sys' }): string[] {
  const args: string[] = [];
  (config.linux?.devices ?? []).forEach((device, i) => {
    const group = VFIO_GROUP.exec(device.path)?.[1];
    if (group === undefined) return;
    const where = `${configPath}: linux.devices[${i}] (${device.path})`;
    if (!existsSync(join(host.dev, 'vfio', group))) {
      throw new RuntimeError(
        `${where}: no VFIO group ${group} on this host: bind the device to vfio-pci first (the IOMMU on, e.g. intel_iommu=on or amd_iommu=on, then driverctl set-override <pci address> vfio-pci)`,
      );
    }
    const devicesDir = join(host.sys, 'kernel', 'iommu_groups', group, 'devices');
    let addresses: string[];
    try {
      addresses = readdirSync(devicesDir).sort();
    } catch {
      throw new RuntimeError(`${where}: ${devicesDir} cannot be read: the host shows no PCI devices in IOMMU group ${group}`);
    }
    if (addresses.length === 0) throw new RuntimeError(`${where}: IOMMU group ${group} holds no PCI device (${devicesDir} is empty)`);
    for (const address of addresses) {
      const n = args.length / 4;
      const port = `vmrt-vfio${n}`;
      args.push(
        '-device',
        `pcie-root-port,id=${port},chassis=${VFIO_CHASSIS_BASE + n},slot=${VFIO_CHASSIS_BASE + n}`,
        '-device',
        `vfio-pci,host=${address},bus=${port}`,
      );
    }
  });
  return args;
}
