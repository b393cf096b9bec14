/**
 * Kata Containers 3.x as its own documents describe it: every row names the document and
 * section it comes from (or, for the /proc allow-list and /dev binds, the agent's code and
 * Kata's CI test that show it). Where the documents say nothing the verdict is `unknown`,
 * not a guess. Documents are paths in the kata-containers/kata-containers repository.
 */
import { isUnder } from '../rules/rule.js';
import type { FeatureId } from '../core/types.js';
import type { Profile, ProfileEntry } from './profile.js';

const LIMITATIONS = 'docs/Limitations.md';
const CONFIGURATION = 'src/runtime/config/configuration-qemu.toml.in';
/** What an `unknown` row checked: the documents that would say it, and do not. */
const SILENT = `none: ${LIMITATIONS}, docs/how-to/ and ${CONFIGURATION} say nothing about it`;

/** Every kata row names where it comes from. */
type KataEntry = ProfileEntry & { source: string };

function unknown(what: string): KataEntry {
  return { status: 'unknown', reason: `Kata's documents say nothing about ${what}`, source: SILENT };
}

/** Files inside /proc that Kata's agent lets a bind mount cover (lxcfs-style emulated files). */
const PROC_ALLOWED = new Set([
  '/proc/cpuinfo',
  '/proc/diskstats',
  '/proc/meminfo',
  '/proc/stat',
  '/proc/swaps',
  '/proc/uptime',
  '/proc/loadavg',
  '/proc/net/dev',
]);
const PROC_SOURCE = 'src/agent/rustjail/src/mount.rs, check_proc_mount and init_rootfs (the agent; the documents say nothing)';

const features: Record<FeatureId, KataEntry> = {
  'host-network': {
    status: 'unsupported',
    reason: "the VM cannot reach the host's network configuration, and Kata's network setup may reconfigure and break the host's",
    workaround: 'publish ports on a bridge network, or run this container with runc (runc and Kata containers mix on one host)',
    source: `${LIMITATIONS}, "Host network"`,
  },
  'container-network': {
    status: 'unsupported',
    reason:
      "Kata does not share a network namespace: joining another container's moves its interfaces into the VM, and that container loses its network",
    workaround: 'put both containers on one user-defined network',
    source: `${LIMITATIONS}, "Support for joining an existing VM network"`,
  },
  link: {
    status: 'unsupported',
    reason: 'Kata does not support --link, which Docker deprecated, and does not plan to',
    workaround: 'use a user-defined network',
    source: `${LIMITATIONS}, "docker run --link"`,
  },
  'network-connect': {
    status: 'unknown',
    reason: "Kata's documents describe a network hotplug API of its own, not whether docker network connect reaches a running VM",
    source: 'docs/design/architecture/networking.md, "Network Hotplug" (Kata\'s own API only)',
  },
  privileged: {
    status: 'differs',
    reason:
      "privileges apply to the guest: elevated capabilities in the VM and the guest's devices, not the host's; by default every host block device is hot-plugged into the guest as well",
    workaround: 'set privileged_without_host_devices = true for the Kata runtime in containerd or CRI-O',
    source: `${LIMITATIONS}, "Privileged containers"; docs/how-to/privileged.md, "Host Devices"`,
  },
  // VFIO groups are never a finding (the host-device rule): Kata passes them as vfio_mode says.
  device: unknown('host devices other than VFIO groups'),
  'dev-volume': {
    status: 'differs',
    reason:
      "a bind mount from /dev is not shared from the host: Kata binds the guest's own device or folder of that path (the guest's /dev/kmsg)",
    workaround: "pass a host device with VFIO if the container needs the host's",
    source:
      'tests/integration/kubernetes/runtimeclass_workloads/pod-hostpath-kmsg.yaml and its test "/dev hostPath volume bind mounts the guest device and skips virtio-fs" (Kata\'s CI; the documents say nothing)',
  },
  'mount-propagation': unknown('mount propagation'),
  cpus: {
    status: 'ok',
    reason: 'the runtime hot-plugs ceil(quota / period) vCPUs and the agent limits the container with a CPU cgroup in the guest',
    source: 'docs/design/vcpu-handling-runtime-go.md, "Container with CPU constraint"',
  },
  cpuset: {
    status: 'differs',
    reason:
      "CPU shares divide the VM's vCPUs among its containers; a CPU set confines the VM's vCPU threads on the host, pinned one to one only with enable_vcpus_pinning",
    source:
      'docs/design/vcpu-handling-runtime-go.md, "Container without CPU constraint"; docs/design/vcpu-threads-pinning.md, "Background"',
  },
  'kernel-memory': unknown('kernel memory limits'),
  'shm-size': unknown('the size of /dev/shm'),
  capabilities: unknown('adding or dropping capabilities'),
  sysctl: {
    status: 'differs',
    reason:
      "sysctls are set in the guest's kernel, not the host's: namespaced keys as with runc, other keys from a privileged (init) container, without touching the host",
    source: 'docs/how-to/how-to-use-sysctls-with-kata.md, "Namespaced Sysctls" and "Non-Namespaced Sysctls"',
  },
  tmpfs: unknown('tmpfs mounts'),
  'host-pid': unknown("the host's PID namespace"),
  'host-ipc': unknown("the host's IPC namespace"),
  'host-uts': unknown("the host's UTS namespace"),
  'userns-host': unknown("the host's user namespace"),
  'security-opt': {
    status: 'differs',
    reason:
      "Kata's default configuration does not apply seccomp profiles in the guest (disable_guest_seccomp = true), so the profile is ignored",
    workaround: "set disable_guest_seccomp = false in Kata's configuration.toml",
    source: `${CONFIGURATION}, [runtime] disable_guest_seccomp`,
    cases: [
      {
        covers: 'an SELinux label (label=…)',
        when: (o) => o.option === 'security-opt' && /^label[=:]/.test(o.value as string),
        status: 'differs',
        reason:
          "Kata's default configuration does not apply SELinux labels to the container in the guest (disable_guest_selinux = true; enabling it needs a guest image built with SELinux)",
        workaround: "set disable_guest_selinux = false in Kata's configuration.toml, with an SELinux guest image",
        source: `${CONFIGURATION}, [hypervisor.qemu] disable_guest_selinux`,
      },
      {
        ...unknown('AppArmor profiles'),
        covers: 'an AppArmor profile (apparmor=…)',
        when: (o) => o.option === 'security-opt' && /^apparmor[=:]/.test(o.value as string),
      },
    ],
  },
  gpu: {
    status: 'differs',
    reason: 'a GPU reaches the VM only by passing the whole device through (VFIO), for the GPUs Kata documents',
    workaround: 'pass the GPU with --device /dev/vfio/<group>',
    source: 'docs/use-cases/GPU-passthrough-and-Kata.md',
  },
  blkio: {
    ...unknown('block I/O limits given when the container is created'),
    cases: [
      {
        covers: 'a weight given to docker update',
        when: (o, request) =>
          o.option === 'blkio' &&
          /weight/.test(o.value as string) &&
          request.options.some((r) => r.option === 'command' && r.value === 'update'),
        status: 'pending',
        reason: 'docker update cannot change the block I/O weight, the one update Kata lists as not supported',
        source: `${LIMITATIONS}, "update command"`,
      },
    ],
  },
  checkpoint: {
    status: 'pending',
    reason: 'the runtime has no checkpoint and restore commands (VM save and restore is discussed as a way to offer them)',
    source: `${LIMITATIONS}, "checkpoint and restore"`,
  },
  stats: unknown('docker stats'),
  top: unknown('docker top'),
  events: {
    status: 'pending',
    reason: 'the events command is partial: OOM notifications and Intel RDT statistics are not fully supported',
    source: `${LIMITATIONS}, "events command"`,
  },
  update: {
    status: 'ok',
    reason: 'docker update works for every resource but the block I/O weight (reported as blkio)',
    source: `${LIMITATIONS}, "update command"`,
  },
  swarm: unknown('Docker swarm (its section left the limitations document)'),
  annotations: {
    status: 'differs',
    reason:
      'annotations under io.katacontainers.config.* configure Kata itself, and hypervisor annotations are refused unless enable_annotations lists them',
    source: `docs/how-to/how-to-set-sandbox-config-kata.md; ${CONFIGURATION}, enable_annotations`,
  },
  'k8s-subpath': {
    status: 'unsupported',
    reason: 'Kubernetes volumeMounts subPath is not supported by Kata',
    workaround: 'mount the whole volume and use the subfolder',
    source: `${LIMITATIONS}, "Kubernetes volumeMounts.subPaths"`,
  },
  'proc-sys-mount': {
    status: 'unsupported',
    reason:
      "Kata's agent refuses a bind mount inside /proc, except onto its allow-list of emulated files (cpuinfo, meminfo, stat, uptime, …)",
    workaround: 'mount the file elsewhere, or set kernel values with --sysctl',
    source: PROC_SOURCE,
    cases: [
      {
        covers: 'a bind onto a file of the allow-list',
        when: (o) => o.option === 'mount' && PROC_ALLOWED.has((o.value as { target: string }).target.replace(/\/+$/, '')),
        status: 'ok',
        reason: "the file is on the allow-list of Kata's agent",
        source: PROC_SOURCE,
      },
      {
        covers: 'a bind onto /sys',
        when: (o) => o.option === 'mount' && isUnder((o.value as { target: string }).target, '/sys'),
        status: 'ok',
        reason: 'the agent refuses only binds inside /proc (and proc or sysfs mounts onto a file); a bind onto /sys is made in the guest',
        source: PROC_SOURCE,
      },
    ],
  },
};

export const kataProfile: Profile = {
  id: 'kata',
  description: "Kata Containers 3.x, from Kata's own documents (unknown where they say nothing)",
  hints: true,
  features,
};
