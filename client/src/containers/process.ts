/**
 * A container's VM as the host sees it: vmrt starts one QEMU per container whose serial port
 * writes to <runtime root>/<container id>/console.log (runtime/src/container.ts consoleLogOf,
 * runtime/src/vm.ts qemuArgs). Its command line gives the vCPUs, the memory and that console
 * file. Works where Docker runs on this machine; elsewhere the facts are unknown.
 */
import { readdirSync, readFileSync } from 'node:fs';

export interface VmFacts {
  pid: number;
  vcpus: number;
  memoryMiB: number;
  consoleLog: string;
}

/** Reads QEMU's arguments: `-smp N[,…]`, `-m SIZE[M|G]`, `-serial file:PATH`. */
export function parseQemuArgs(argv: readonly string[], pid = 0): VmFacts | undefined {
  const value = (flag: string) => {
    const i = argv.indexOf(flag);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const serial = value('-serial');
  if (!serial?.startsWith('file:')) return undefined;
  const smp = value('-smp') ?? '1';
  const vcpus = Number(/^(?:cpus=)?(\d+)/.exec(smp)?.[1] ?? 1);
  const memory = /^(?:size=)?(\d+)([MG]?)/i.exec(value('-m') ?? '128');
  const memoryMiB = memory ? Number(memory[1]) * (memory[2]?.toUpperCase() === 'G' ? 1024 : 1) : 128;
  return { pid, vcpus, memoryMiB, consoleLog: serial.slice('file:'.length) };
}

/** The QEMU processes of the vmrt containers `ids`, by id, from one pass over /proc. */
export function findVms(ids: readonly string[], proc = '/proc'): Map<string, VmFacts> {
  const found = new Map<string, VmFacts>();
  if (ids.length === 0) return found;
  for (const entry of readdirSync(proc)) {
    if (!/^\d+$/.test(entry)) continue;
    let cmdline: string;
    try {
      cmdline = readFileSync(`${proc}/${entry}/cmdline`, 'utf8');
    } catch {
      continue; // The process ended while we looked.
    }
    if (!cmdline.includes('qemu-system')) continue;
    // Its console file is under a folder named by the container's id.
    const id = ids.find((candidate) => cmdline.includes(`/${candidate}/console.log`));
    if (!id) continue;
    const facts = parseQemuArgs(cmdline.split('\0'), Number(entry));
    if (facts?.consoleLog.endsWith(`/${id}/console.log`)) found.set(id, facts);
  }
  return found;
}

/** The QEMU process of the vmrt container `id`. */
export function findVm(id: string, proc = '/proc'): VmFacts | undefined {
  return findVms([id], proc).get(id);
}
