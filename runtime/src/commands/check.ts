import { existsSync, readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import type { Command, Context } from '../command.js';
import { errorMessage } from '../errors.js';
import { ensureTemplate, probeRestore } from '../template.js';
import { guestFiles, qemuPath, shimPath } from '../paths.js';
import {
  chooseAccelerator,
  defaultVmMemoryMiB,
  hostMemoryMerging,
  kvmUsable,
  MEMORY_MERGE_ANNOTATION,
  MEMORY_MERGE_ENV,
  memoryMergeWanted,
  probeBoot,
  qemuVersion,
  SHARED_MMAP_LAYOUT_ANNOTATION,
  SHARED_MMAP_LAYOUT_ENV,
  sharedMmapLayoutWanted,
  TEMPLATE_ANNOTATION,
  TEMPLATE_ENV,
  templateWanted,
  vcpusFor,
  type Accelerator,
} from '../vm.js';

interface CheckResult {
  name: string;
  ok: boolean;
  detail: string;
  /** Informational checks do not make the system incapable. */
  required: boolean;
}

function cpuFlags(): Set<string> {
  const flags = /^flags\s*:\s*(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? '';
  return new Set(flags.split(/\s+/));
}

function hasCommand(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

/** The static checks (kata-runtime check's list, for a QEMU + 9p + virtio-serial runtime). */
export function staticChecks(): CheckResult[] {
  const flags = cpuFlags();
  const guest = guestFiles();
  const kvm = kvmUsable();
  const results: CheckResult[] = [
    {
      name: 'CPU virtualization (vmx or svm)',
      ok: flags.has('vmx') || flags.has('svm'),
      detail: flags.has('vmx') ? 'vmx' : flags.has('svm') ? 'svm' : 'absent: only TCG (emulation) is possible',
      required: false,
    },
    { name: '64-bit CPU (lm)', ok: flags.has('lm'), detail: flags.has('lm') ? 'lm' : 'absent', required: true },
    { name: '/dev/kvm', ok: kvm.ok, detail: kvm.why, required: false },
    {
      name: 'QEMU',
      ok: qemuVersion() !== undefined,
      detail: qemuVersion() ?? `${qemuPath()} not found: apt-get install qemu-system-x86`,
      required: true,
    },
    {
      name: 'guest kernel',
      ok: existsSync(guest.kernel),
      detail: existsSync(guest.kernel) ? guest.kernel : `${guest.kernel} missing: run runtime/guest/build.sh`,
      required: true,
    },
    {
      name: 'guest initramfs',
      ok: existsSync(guest.initrd),
      detail: existsSync(guest.initrd) ? guest.initrd : `${guest.initrd} missing: run runtime/guest/build.sh`,
      required: true,
    },
    {
      name: 'shim',
      ok: existsSync(shimPath()),
      detail: existsSync(shimPath()) ? shimPath() : `${shimPath()} missing: make -C runtime shim`,
      required: true,
    },
    {
      name: 'root',
      ok: process.getuid?.() === 0,
      detail: process.getuid?.() === 0 ? 'running as root' : 'mounts and network namespaces need root',
      required: true,
    },
  ];
  for (const [cmd, pkg] of [
    ['ip', 'iproute2'],
    ['nsenter', 'util-linux'],
    ['mount', 'mount'],
    ['umount', 'mount'],
  ] as const) {
    results.push({
      name: `${cmd} command`,
      ok: hasCommand(cmd),
      detail: hasCommand(cmd) ? 'found' : `missing: apt-get install ${pkg}`,
      required: true,
    });
  }
  return results;
}

/**
 * Whether a VM restored from a template runs here: the default shape's template (made if there
 * is none) restored once. Informational: without it every VM boots cold, which always works.
 */
async function templatingCheck(accelerator: Accelerator, ctx: Context): Promise<string> {
  const use = templateWanted(undefined)
    ? `on (${TEMPLATE_ENV})`
    : `off (${TEMPLATE_ENV}=on or the annotation ${TEMPLATE_ANNOTATION}=on turns it on)`;
  const shape = { accelerator, vcpus: vcpusFor(undefined), memoryMiB: defaultVmMemoryMiB() };
  try {
    const template = await ensureTemplate(shape, ctx.logger);
    const ms = await probeRestore(template, shape);
    return `ok   VM templates: a VM restored from template ${template.key} answered in ${ms} ms; templating is ${use}`;
  } catch (err) {
    return `no   VM templates: ${errorMessage(err)}; every VM boots cold; templating is ${use}`;
  }
}

/** Whether the host merges identical pages of VMs (KSM), and whether vmrt's VMs are open to it. Informational. */
function memoryMergingCheck(): string {
  const use = memoryMergeWanted(undefined)
    ? `on (${MEMORY_MERGE_ENV}=off or the annotation ${MEMORY_MERGE_ANNOTATION}=off turns it off)`
    : `off (${MEMORY_MERGE_ENV})`;
  const host = hostMemoryMerging();
  return `${host.running ? 'ok  ' : 'no  '} memory merging: ${host.why}; VMs' memory open to it: ${use}`;
}

/** Whether the processes of a VM share one mmap layout (README: The shared mmap layout). Informational. */
function sharedMmapLayoutCheck(accelerator: Accelerator): string {
  const toggle = `${SHARED_MMAP_LAYOUT_ENV} or the annotation ${SHARED_MMAP_LAYOUT_ANNOTATION}`;
  return sharedMmapLayoutWanted(undefined, accelerator)
    ? `ok   shared mmap layout: on, one random layout per VM (${toggle}=off: one per process)`
    : `ok   shared mmap layout: off, one random layout per process (${toggle}=on: one per VM)`;
}

export const check: Command = {
  name: 'check',
  usage: 'check',
  summary: 'check that this host can run vmrt containers, and probe which accelerator works',
  flags: {},
  async run(_args, ctx) {
    const results = staticChecks();
    for (const r of results) process.stdout.write(`${r.ok ? 'ok  ' : r.required ? 'FAIL' : 'no  '} ${r.name}: ${r.detail}\n`);
    const capable = results.every((r) => r.ok || !r.required);
    if (!capable) {
      process.stdout.write('System is not capable of running vmrt containers\n');
      return 1;
    }
    const choice = await chooseAccelerator(true);
    process.stdout.write(`accelerator: ${choice.accelerator.toUpperCase()} (${choice.reason})\n`);
    const boot = await probeBoot(choice.accelerator, 60000);
    process.stdout.write(
      `${boot.ok ? 'ok  ' : 'FAIL'} probe boot under ${choice.accelerator.toUpperCase()}: ${boot.detail}${boot.ok ? ` in ${boot.ms} ms` : ''}\n`,
    );
    if (!boot.ok) {
      process.stdout.write('System is not capable of running vmrt containers\n');
      return 1;
    }
    process.stdout.write(`${await templatingCheck(choice.accelerator, ctx)}\n`);
    process.stdout.write(`${memoryMergingCheck()}\n`);
    process.stdout.write(`${sharedMmapLayoutCheck(choice.accelerator)}\n`);
    process.stdout.write(`System is capable of running vmrt containers (accelerator: ${choice.accelerator.toUpperCase()})\n`);
    return 0;
  },
};
