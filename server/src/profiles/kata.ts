/**
 * Kata Containers 3.x today, the `kata` column of docs/features/README.md (its
 * docs/Limitations.md plus its code where the doc is silent).
 */
import type { Profile } from './profile.js';

export const kataProfile: Profile = {
  id: 'kata',
  description: 'Kata Containers 3.x',
  hints: true,
  features: {
    'host-network': {
      status: 'unsupported',
      reason: "the VM cannot use the host network stack; Kata's network setup could take over and break host networking",
      workaround: 'publish ports on a bridge network, or use runc for this container',
    },
    'container-network': {
      status: 'unsupported',
      reason: "joining another container's network namespace is not supported: the VM would take its interfaces away",
      workaround: 'use one user-defined network for both containers',
    },
    link: {
      status: 'unsupported',
      reason: 'Kata does not support --link and has no intention of adding it (Docker deprecated it)',
      workaround: 'use a user-defined network',
    },
    privileged: {
      status: 'differs',
      reason:
        'privileges apply inside the guest only; host devices must not be passed (privileged_without_host_devices=true in containerd/CRI-O)',
      workaround: 'set privileged_without_host_devices in the CRI runtime configuration',
    },
    device: {
      status: 'differs',
      reason:
        'only VFIO devices and block devices (hot-plugged) reach the VM; other devices, character devices among them, are silently not passed',
      workaround: 'use --device /dev/vfio/<group> or a block device',
    },
    'dev-volume': {
      status: 'unsupported',
      reason: 'host device nodes are not shared into the VM; only regular files under /dev are',
      workaround: 'use --device with VFIO or a block device',
    },
    'mount-propagation': {
      status: 'unsupported',
      reason: 'host folders reach the VM through a shared filesystem (virtio-fs), which does not propagate mounts',
      workaround: 'drop the propagation option',
    },
    cpuset: { status: 'differs', reason: "CPU sets and shares apply to the VM's vCPUs inside the guest, not to host CPUs" },
    sysctl: {
      status: 'differs',
      reason:
        'only namespaced sysctls (kernel.msg*, kernel.shm*, kernel.sem, fs.mqueue.*, net.*) are accepted and applied in the guest; other keys fail',
    },
    'host-pid': { status: 'unsupported', reason: 'host processes are outside the VM', workaround: 'drop the host pid namespace' },
    'host-ipc': { status: 'unsupported', reason: 'host IPC objects live in the host kernel', workaround: 'drop the host ipc namespace' },
    'host-uts': { status: 'unsupported', reason: 'the VM has its own kernel and hostname', workaround: 'set the hostname instead' },
    'userns-host': { status: 'unsupported', reason: 'user namespaces belong to the guest kernel', workaround: 'drop the userns setting' },
    'security-opt': {
      status: 'differs',
      reason:
        "seccomp is applied in the guest; AppArmor profiles are not loaded and SELinux labels are governed by Kata's guest SELinux settings",
    },
    gpu: {
      status: 'differs',
      reason: 'a GPU reaches the VM only through VFIO passthrough',
      workaround: 'pass the GPU with --device /dev/vfio/<group>',
    },
    blkio: {
      status: 'unsupported',
      reason: "block I/O weight is not supported: the VM's disk I/O is not governed by the container's blkio cgroup",
      workaround: 'drop the blkio limits',
    },
    checkpoint: { status: 'unsupported', reason: 'checkpoint and restore are not implemented (the shim returns ErrNotImplemented)' },
    events: { status: 'differs', reason: 'runtime events are partial: OOM notifications and Intel RDT statistics are not fully supported' },
    update: { status: 'differs', reason: 'docker update works except for the block I/O weight' },
    swarm: {
      status: 'differs',
      reason: 'swarm support is undocumented since Kata 2.0 and swarm cannot pick a runtime per service',
      workaround: "make Kata the daemon's default runtime on swarm nodes, and test it",
    },
    annotations: {
      status: 'differs',
      reason:
        'annotations configure Kata itself (io.katacontainers.config.*); hypervisor annotations must be allowed in configuration.toml',
    },
    'k8s-subpath': {
      status: 'unsupported',
      reason: 'volumeMounts subPath is not supported by Kata',
      workaround: 'mount the whole volume and use the subfolder',
    },
    'proc-sys-mount': {
      status: 'unsupported',
      reason: 'binds onto /proc and /sys are refused (CVE-2019-16884, CVE-2019-19921), except an allow-list of /proc files',
      workaround: 'mount elsewhere, or use --sysctl',
    },
  },
};
