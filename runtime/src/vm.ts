/**
 * The QEMU command line of one container VM and the accelerator choice. KVM is used only where
 * a probe boot proved it works (on nested hosts /dev/kvm exists but the guest hangs while it
 * boots); the probe's verdict is cached in the socket folder (a tmpfs: re-probed after reboot).
 */
import { spawn, spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { availableParallelism } from 'node:os';
import { RuntimeError } from './errors.js';
import { guestFiles, qemuPath, SOCKET_BASE } from './paths.js';
import { shareQemuArgs, type ShareServer } from './shared-folder.js';
import { jailQemu, scratchJail, vmDirOf } from './jail.js';
import { sleep } from './proc.js';
import { addNic, type GuestInterface } from './network.js';
import type { Qmp } from './qmp.js';

export type Accelerator = 'kvm' | 'tcg';

export interface AcceleratorChoice {
  accelerator: Accelerator;
  reason: string;
}

export interface VmLayout {
  accelerator: Accelerator;
  /** The shared folder's server (shared-folder.ts). */
  share: ShareServer;
  agentSocket: string;
  /** QEMU's control socket (QMP): NICs are hot-plugged through it. */
  qmpSocket: string;
  consoleLog: string;
  memoryMiB?: number;
  vcpus?: number;
  /** Guest RAM in a template's memory file (template.ts) instead of anonymous memory. */
  templateMemory?: TemplateMemory;
  /** False: the host's KSM never merges this VM's memory (memoryMergeWanted). */
  memoryMerge?: boolean;
}

/**
 * A template VM writes its RAM (a memfd that `vmrt-shim keep-memory` holds, template.ts) through a
 * shared mapping; a VM restored from it maps it privately: pages stay the template's, shared by
 * every VM, until the guest writes them. QEMU gets the memfd as TEMPLATE_MEMORY_FD.
 */
export interface TemplateMemory {
  role: 'template' | 'clone';
}

/** The fd of the template's RAM in a templated QEMU: it opens it again as /proc/self/fd/<fd>. */
export const TEMPLATE_MEMORY_FD = 3;

/** Per-container overrides of the VM's shape (OCI annotations; Kubernetes pod annotations reach them through containerd). */
export const VCPUS_ANNOTATION = 'org.vmrt.vm.vcpus';
export const MEMORY_ANNOTATION = 'org.vmrt.vm.memory-mib';

/** Restores the container's VM from a VM template (template.ts): `on` or `off`, per container or for all. */
export const TEMPLATE_ANNOTATION = 'org.vmrt.vm.template';
export const TEMPLATE_ENV = 'VMRT_VM_TEMPLATE';

function onOff(value: string, name: string): boolean {
  if (value === 'on') return true;
  if (value === 'off') return false;
  throw new RuntimeError(`${name}: "${value}" must be "on" or "off"`);
}

/** A VM setting: its annotation on the container, else its variable for every container, else `fallback`. */
function vmSetting(
  annotations: Record<string, string> | undefined,
  annotation: string,
  env: NodeJS.ProcessEnv,
  variable: string,
  fallback: boolean,
): boolean {
  const own = annotations?.[annotation];
  if (own !== undefined) return onOff(own, annotation);
  const global = env[variable];
  if (global !== undefined && global !== '') return onOff(global, variable);
  return fallback;
}

/**
 * Whether a container's VM is restored from a template: `org.vmrt.vm.template` on the container,
 * else VMRT_VM_TEMPLATE for every container, else off (README: why).
 */
export function templateWanted(annotations: Record<string, string> | undefined, env: NodeJS.ProcessEnv = process.env): boolean {
  return vmSetting(annotations, TEMPLATE_ANNOTATION, env, TEMPLATE_ENV, false);
}

/** Opens all of the VM's QEMU, guest RAM too, to the host's same-page merging (KSM): `on` or `off`, per container or for all. */
export const MEMORY_MERGE_ANNOTATION = 'org.vmrt.vm.memory-merge';
export const MEMORY_MERGE_ENV = 'VMRT_MEMORY_MERGE';

/**
 * Whether the host's KSM may merge the VM's memory with other processes' identical pages:
 * `org.vmrt.vm.memory-merge` on the container, else VMRT_MEMORY_MERGE for every container, else on
 * (README: Memory merging). It merges nothing unless the host runs KSM.
 */
export function memoryMergeWanted(annotations: Record<string, string> | undefined, env: NodeJS.ProcessEnv = process.env): boolean {
  return vmSetting(annotations, MEMORY_MERGE_ANNOTATION, env, MEMORY_MERGE_ENV, true);
}

/**
 * What QEMU's process is started through (`vmrt-shim qemu-memory`, whose source says why), or
 * nothing: `--merge` when the VM's memory merges, `--no-huge-pages` under TCG (KVM keeps huge
 * pages for guest RAM).
 */
export function qemuMemoryWrapper(layout: Pick<VmLayout, 'accelerator' | 'memoryMerge'>, shim: string): string[] {
  const flags = [...(layout.memoryMerge ? ['--merge'] : []), ...(layout.accelerator === 'tcg' ? ['--no-huge-pages'] : [])];
  return flags.length > 0 ? [shim, 'qemu-memory', ...flags] : [];
}

/**
 * One random mmap layout for all of the VM's processes, drawn again at every create (README: The
 * shared mmap layout): `on` or `off`, per container or for all.
 */
export const SHARED_MMAP_LAYOUT_ANNOTATION = 'org.vmrt.vm.shared-mmap-layout';
export const SHARED_MMAP_LAYOUT_ENV = 'VMRT_SHARED_MMAP_LAYOUT';

/**
 * Whether the VM's processes share one mmap layout: `org.vmrt.vm.shared-mmap-layout` on the
 * container, else VMRT_SHARED_MMAP_LAYOUT for every container, else on under TCG only: QEMU 7.2's
 * TCG finds translated code by virtual address, so with a layout per process every process
 * translates its libraries anew (about 80 ms a process here); under KVM nothing is translated.
 */
export function sharedMmapLayoutWanted(
  annotations: Record<string, string> | undefined,
  accelerator: string,
  env: NodeJS.ProcessEnv = process.env,
): boolean {
  return vmSetting(annotations, SHARED_MMAP_LAYOUT_ANNOTATION, env, SHARED_MMAP_LAYOUT_ENV, accelerator === 'tcg');
}

/** The host's KSM controls. */
export const KSM_DIR = '/sys/kernel/mm/ksm';

/** What the host's KSM does now (its `run`): merging, or why not. */
export function hostMemoryMerging(ksm = KSM_DIR): { running: boolean; why: string } {
  let run: string;
  try {
    run = readFileSync(join(ksm, 'run'), 'utf8').trim();
  } catch {
    return { running: false, why: `this kernel has no KSM (${ksm} is missing)` };
  }
  if (run === '1') return { running: true, why: `the host runs KSM (${ksm}/run is 1)` };
  return { running: false, why: `the host does not run KSM (${ksm}/run is ${run}; echo 1 > ${ksm}/run starts it)` };
}

/** The most vCPUs the guest kernel takes (CONFIG_NR_CPUS). */
const MAX_VCPUS = 64;

/**
 * vCPUs: as many as the host has, so that the container sees the CPUs it would under runc (`nproc`,
 * thread pools, `--cpuset-cpus` naming any host CPU). CPU limits (--cpus, --cpuset-cpus, shares) are
 * enforced by the guest cgroup, as runc's host cgroup would; idle vCPUs cost nothing (tickless guest).
 * `org.vmrt.vm.vcpus` asks for fewer.
 */
export function vcpusFor(annotations: Record<string, string> | undefined, hostCpus = availableParallelism()): number {
  const wanted = positiveInteger(annotations?.[VCPUS_ANNOTATION], VCPUS_ANNOTATION);
  return Math.min(MAX_VCPUS, wanted ?? hostCpus);
}

/**
 * The guest RAM of a container without a memory limit, and the least any VM gets (MiB), as Kata
 * defaults to 2 GiB. Guest RAM costs the host only when the guest touches it, and the guest hands
 * back what it frees (virtio-balloon free page reporting); the fixed cost is the guest kernel's page
 * table of 2 GiB (struct page: 1.6 %, 32 MiB). `VMRT_VM_MEMORY_MIB` changes it for every container.
 */
export function defaultVmMemoryMiB(env: NodeJS.ProcessEnv = process.env): number {
  return positiveInteger(env.VMRT_VM_MEMORY_MIB, 'VMRT_VM_MEMORY_MIB') ?? 2048;
}

/**
 * What the guest itself takes besides the container. Measured (MemAvailable of an idle guest):
 * 92 of 128 MiB, 513 of 563 MiB; the kernel's share (struct page, direct map) grows by about 3%
 * of the RAM. 40 MiB + 4% of the limit leaves the guest a few MiB more than the limit.
 */
const GUEST_OVERHEAD_MIB = 40;
const GUEST_OVERHEAD_SHARE = 0.04;

/**
 * Guest RAM: the default VM size (or `org.vmrt.vm.memory-mib`), and at least a memory limit
 * (--memory) plus the guest's own needs, so that the container's guest cgroup, which enforces the
 * exact limit, runs out before the guest does. `docker update` may raise the limit up to what
 * the VM has.
 */
export function memoryMiBFor(
  resources: Record<string, unknown> | undefined,
  annotations: Record<string, string> | undefined = undefined,
  defaultMiB = defaultVmMemoryMiB(),
): number {
  const vmMiB = positiveInteger(annotations?.[MEMORY_ANNOTATION], MEMORY_ANNOTATION) ?? defaultMiB;
  const limit = (resources?.memory as { limit?: number } | undefined)?.limit ?? 0;
  if (limit <= 0) return vmMiB;
  return Math.max(vmMiB, guestMiBForLimit(limit));
}

/** The guest RAM a memory limit (bytes) needs: the limit and the guest's own share. */
export function guestMiBForLimit(limit: number): number {
  const limitMiB = Math.ceil(limit / (1024 * 1024));
  return limitMiB + GUEST_OVERHEAD_MIB + Math.ceil(limitMiB * GUEST_OVERHEAD_SHARE);
}

function positiveInteger(text: string | undefined, name: string): number | undefined {
  if (text === undefined || text === '') return undefined;
  const value = Number(text);
  if (!Number.isInteger(value) || value <= 0) throw new RuntimeError(`${name}: "${text}" is not a positive whole number`);
  return value;
}

/** The host TSC rate: microvm sometimes hangs calibrating it without this hint. */
export function tscKhz(cpuinfo = readFileSync('/proc/cpuinfo', 'utf8')): number | undefined {
  const mhz = /^cpu MHz\s*:\s*([\d.]+)/m.exec(cpuinfo)?.[1];
  return mhz ? Math.round(Number(mhz) * 1000) : undefined;
}

let pidMaxRead: number | undefined;

/**
 * The pid_max a container's new pid namespace has on this host, as runc's containers see it:
 * kernels since 6.14 keep one per pid namespace, so it is read from a new one.
 */
function hostPidMax(): number {
  // Read once per call of the CLI: a templated create builds QEMU's arguments twice (the key, the VM).
  pidMaxRead ??= (() => {
    const inNewNamespace = spawnSync('unshare', ['--pid', '--fork', 'cat', '/proc/sys/kernel/pid_max'], { encoding: 'utf8' });
    const text = inNewNamespace.status === 0 ? inNewNamespace.stdout : readFileSync('/proc/sys/kernel/pid_max', 'utf8');
    return Number(text.trim()) || 32768;
  })();
  return pidMaxRead;
}

/** CONFIG_HZ of the guest kernel (runtime/guest/kernel.config). */
const GUEST_HZ = 100;

export function kernelCommandLine(extra: string[] = []): string {
  const khz = tscKhz();
  return [
    'console=ttyS0',
    'quiet',
    'panic=-1',
    'cryptomgr.notests',
    'random.trust_cpu=on',
    'tsc=reliable',
    'no_timer_check',
    'mitigations=off',
    'audit=0',
    'i8042.noaux',
    'i8042.nomux',
    'i8042.nopnp',
    'i8042.nokbd',
    // microvm's ACPI offers no MCFG, so the kernel asks _OSC for no PCIe control and would leave
    // the root ports' hot-plug (pciehp) unused: the NICs of `docker network connect` need it.
    'pcie_ports=native',
    // The dentry and inode hash tables are sized by RAM: 3 MiB for 2 GiB, every page touched at
    // boot. One container's files need fewer buckets than a host's; 768 KiB keeps chains short
    // for a few hundred thousand cached names.
    'dhash_entries=65536',
    'ihash_entries=32768',
    // The delay loop's calibration from the TSC rate too: each vCPU would otherwise count jiffies
    // at start, and under TCG a vCPU can spin there for good.
    ...(khz ? [`tsc_early_khz=${khz}`, `lpj=${khz * 10}`] : []),
    // The local APIC timer's clocks per jiffy (kernel-patches/x86-apic-timer-period-param.patch):
    // QEMU's and KVM's count at 1 GHz, and the guest's HZ is 100 (kernel.config). Calibrated
    // instead, a vCPU stalled by a busy host could leave the boot CPU without a timer: the boot
    // then hung at its first sleep (about 1 cold boot in 150 at load 5 here).
    `lapic_timer_period=${1_000_000_000 / GUEST_HZ}`,
    // The host's pid_max, which runc's containers see (ps sizes its columns by it).
    `sysctl.kernel.pid_max=${hostPidMax()}`,
    ...extra,
  ].join(' ');
}

/**
 * TCG's translated-code buffer. A boot alone fills it, and its pages stay resident: it is most of
 * an idle VM's memory after the guest's own. Measured here (QEMU CPU time for a boot and for a
 * shell, md5sum, find|sort and tar|gzip workload; QEMU PSS after it): 32 MiB 1.3–1.4 s / 3.4–4.3 s /
 * 146 MiB, 16 MiB the same times / 132 MiB, 8 MiB boots 20% slower / 124 MiB.
 */
export const TCG_CODE_BUFFER_MIB = 16;

/**
 * The buffer of a template VM and of the VMs restored from it. From restore to an idle container
 * a restored VM translates 36,000 blocks, 19 MiB with TCG's data (`info jit`); a smaller buffer
 * is flushed on the way and the first `docker exec` translates its paths again. Measured (run /
 * first exec / idle PSS at 10): 12 MiB 738 / 170–183 ms / 40.5 MiB, 14 MiB 670 / 101–120 / 41.2,
 * 20 MiB 617 / 65–75 / 45.6 (README: Measured). A boot fills any buffer: cold VMs keep 16 MiB
 * (20: 4.7 MiB more per idle VM).
 */
export const TEMPLATED_TCG_CODE_BUFFER_MIB = 20;

/**
 * The machine: microvm with its PCIe host bridge (the NICs, hot-pluggable: network.ts), PVH boot of the uncompressed kernel, no
 * firmware. The recipe and its measurements are in runtime/guest/README.md (e.g. microvm's
 * `rtc=off` costs ~5 s of boot). Without a shape (the probe boot): the least that boots. virtiofsd reads and writes the guest's
 * buffers in its RAM, so virtio-fs needs that RAM in a shared memory file.
 */
function machineArgs(
  accelerator: Accelerator,
  shape: { memoryMiB?: number; vcpus?: number; sharedRam?: boolean; templateMemory?: TemplateMemory; memoryMerge?: boolean } = {},
): string[] {
  const { memoryMiB = 128, vcpus = 1, sharedRam = false, templateMemory, memoryMerge = true } = shape;
  const guest = guestFiles();
  const ramBackend = templateMemory
    ? [
        '-object',
        `memory-backend-file,id=ram,size=${memoryMiB}M,mem-path=/proc/self/fd/${TEMPLATE_MEMORY_FD},share=${templateMemory.role === 'template' ? 'on' : 'off'}`,
      ]
    : sharedRam
      ? ['-object', `memory-backend-memfd,id=ram,size=${memoryMiB}M,share=on`]
      : [];
  return [
    ...ramBackend,
    '-M',
    // No PIT under TCG: its emulation woke QEMU about 37 times a second in an idle VM.
    // mem-merge: QEMU's own marking of guest RAM for KSM, on unless the container says off.
    `microvm,pcie=on${accelerator === 'tcg' ? ',pit=off' : ''}${ramBackend.length > 0 ? ',memory-backend=ram' : ''}${memoryMerge ? '' : ',mem-merge=off'}`,
    '-accel',
    // One TCG thread runs every vCPU in turn: with a thread per vCPU (MTTCG) a 2-vCPU guest hung
    // at start in about 1 boot of 100 here, its vCPUs spinning on the clock; taking turns, no
    // vCPU waits on one that never runs. KVM runs a thread per vCPU as usual.
    accelerator === 'tcg' ? `tcg,tb-size=${templateMemory ? TEMPLATED_TCG_CODE_BUFFER_MIB : TCG_CODE_BUFFER_MIB},thread=single` : 'kvm',
    '-cpu',
    // ARAT (the local APIC timer runs in idle): without it Linux keeps a periodic 100 Hz tick on
    // every vCPU (no broadcast timer to wake it), and an idle TCG VM used 4.2% of a host core;
    // with it and no PIT, 0.0–0.4% (measured over 30 s, nothing running in the guest).
    accelerator === 'kvm' ? 'host' : 'qemu64,+arat',
    '-m',
    String(memoryMiB),
    '-smp',
    String(vcpus),
    // virtio 1.0 on virtio-mmio: virtiofsd (libvhost-user) serves no legacy devices.
    '-global',
    'virtio-mmio.force-legacy=false',
    // QEMU's seccomp filter: a guest that takes QEMU over still cannot spawn programs, gain
    // privileges, change host resource controls or use obsolete system calls.
    '-sandbox',
    'on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny',
    '-nodefaults',
    '-nographic',
    '-no-reboot',
    '-kernel',
    guest.kernel,
    '-initrd',
    guest.initrd,
  ];
}

export function qemuArgs(layout: VmLayout): string[] {
  return [
    ...machineArgs(layout.accelerator, {
      memoryMiB: layout.memoryMiB,
      vcpus: layout.vcpus,
      sharedRam: layout.share.kind === 'virtiofs',
      templateMemory: layout.templateMemory,
      memoryMerge: layout.memoryMerge,
    }),
    '-append',
    kernelCommandLine(),
    '-serial',
    `file:${layout.consoleLog}`,
    // The guest reports the pages it frees, and QEMU gives them back to the host. Not from a
    // template: QEMU 7.2 discards a file-backed page by punching a hole in the file, which would
    // zero that page of the template under every VM restored from it.
    ...(layout.templateMemory ? [] : ['-device', 'virtio-balloon-device,free-page-reporting=on']),
    // The agent's port on PCI, not virtio-mmio: over mmio the guest sizes every queue at QEMU's
    // most (1024), and virtio_console fills the control and port receive queues with a 4 KiB
    // buffer per entry, 8 MiB of each VM's RAM; PCI keeps the device's own sizes (32, 128).
    '-device',
    'virtio-serial-pci,bus=pcie.0',
    '-chardev',
    `socket,id=agent,path=${layout.agentSocket},server=on,wait=off`,
    '-device',
    'virtserialport,chardev=agent,name=org.vmrt.agent',
    ...shareQemuArgs(layout.share),
    '-qmp',
    `unix:${layout.qmpSocket},server=on,wait=off`,
  ];
}

const ACCEL_CACHE = join(SOCKET_BASE, 'accelerator.json');
const PROBE_TIMEOUT_MS = 15000;

/** The kernel printed this once it ran init: it booted past where nested KVM hangs. */
const BOOTED = /Run \/init as init process|Freeing unused kernel/;

export function kvmUsable(): { ok: boolean; why: string } {
  if (!existsSync('/dev/kvm')) return { ok: false, why: '/dev/kvm does not exist (no KVM on this host, or the module is not loaded)' };
  try {
    accessSync('/dev/kvm', constants.R_OK | constants.W_OK);
  } catch {
    return { ok: false, why: '/dev/kvm is not readable and writable by this user' };
  }
  return { ok: true, why: '/dev/kvm is present' };
}

/** Boots the guest kernel once and waits for it to reach init. */
export async function probeBoot(
  accelerator: Accelerator,
  timeoutMs = PROBE_TIMEOUT_MS,
): Promise<{ ok: boolean; ms: number; detail: string }> {
  const name = accelerator.toUpperCase();
  // Jailed as a container's QEMU (jail.ts), in an empty network namespace.
  const scratch = await scratchJail();
  const log = join(vmDirOf(scratch.runDir), 'console.log');
  const started = Date.now();
  const args = [
    ...machineArgs(accelerator),
    // Without `quiet` the kernel reports reaching init; the agent then finds no host and waits.
    '-append',
    kernelCommandLine().replace(' quiet', ''),
    '-serial',
    `file:${log}`,
  ];
  const [program, ...jailed] = jailQemu(
    { jail: scratch.jail, accelerator, runDir: scratch.runDir, consoleLog: log, hide: [], ownNetwork: true },
    qemuPath(),
    args,
  );
  const child = spawn(program!, jailed, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  let exited = false;
  child.on('exit', () => {
    exited = true;
  });
  try {
    while (Date.now() - started < timeoutMs) {
      await sleep(100);
      const text = existsSync(log) ? readFileSync(log, 'utf8') : '';
      if (BOOTED.test(text)) return { ok: true, ms: Date.now() - started, detail: `the guest kernel reached init under ${name}` };
      if (exited) return { ok: false, ms: Date.now() - started, detail: `QEMU with ${name} failed: ${stderr.trim() || 'exited early'}` };
    }
    return {
      ok: false,
      ms: Date.now() - started,
      detail: `a probe boot under ${name} did not reach init within ${timeoutMs / 1000} s${accelerator === 'kvm' ? ' (nested KVM hangs like this)' : ''}`,
    };
  } finally {
    child.kill('SIGKILL');
    scratch.release();
  }
}

/** Decides the accelerator (probing once per boot of the host) unless VMRT_ACCEL forces one. */
export async function chooseAccelerator(forceProbe = false): Promise<AcceleratorChoice> {
  const forced = process.env.VMRT_ACCEL;
  if (forced === 'kvm' || forced === 'tcg') return { accelerator: forced, reason: `VMRT_ACCEL=${forced}` };
  if (!forceProbe) {
    try {
      return JSON.parse(readFileSync(ACCEL_CACHE, 'utf8')) as AcceleratorChoice;
    } catch {
      // Not probed yet since the host booted.
    }
  }
  const kvm = kvmUsable();
  let choice: AcceleratorChoice;
  if (!kvm.ok) {
    choice = { accelerator: 'tcg', reason: kvm.why };
  } else {
    const probe = await probeBoot('kvm');
    choice = probe.ok
      ? { accelerator: 'kvm', reason: `${kvm.why} and ${probe.detail} in ${probe.ms} ms` }
      : { accelerator: 'tcg', reason: `${kvm.why}, but ${probe.detail}` };
  }
  mkdirSync(SOCKET_BASE, { recursive: true, mode: 0o711 });
  writeFileSync(ACCEL_CACHE, JSON.stringify(choice));
  return choice;
}

export function qemuVersion(): string | undefined {
  const out = spawnSync(qemuPath(), ['--version'], { encoding: 'utf8' });
  return out.status === 0 ? out.stdout.split('\n')[0]!.trim() : undefined;
}

export function guestKernelRelease(): string | undefined {
  try {
    return readFileSync(guestFiles().kernelRelease, 'utf8').trim();
  } catch {
    return undefined;
  }
}

export function requireGuest(): void {
  const guest = guestFiles();
  for (const file of [guest.kernel, guest.initrd]) {
    if (!existsSync(file)) throw new RuntimeError(`guest image ${file} is missing: run runtime/guest/build.sh (or scripts/setup.sh)`);
  }
}

/**
 * Plugs the NICs into a VM started before they were known, resumes it if it is paused (restored
 * from a template) and gives its agent socket its name: until then the socket has a temporary
 * one, so that the shim cannot reach the guest before the spec is written and the NICs are in.
 */
export async function releaseVm(
  qmp: Qmp,
  nics: readonly GuestInterface[],
  paused: boolean,
  pendingSocket: string,
  agentSocket: string,
): Promise<void> {
  try {
    for (const nic of nics) await addNic(qmp, nic);
    if (paused) await qmp.execute('cont');
  } finally {
    qmp.close();
  }
  renameSync(pendingSocket, agentSocket);
}
