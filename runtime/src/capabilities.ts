/**
 * The runtime's capability table: what vmrt does today with each container feature
 * of docs/features/README.md. One truth, three uses (docs/architecture.md): the checks at `create`,
 * `vmrt features`, and the linter's `vmrt` profile. Change a row here when the runtime
 * gains a feature; nothing else needs an edit.
 */

export const FEATURE_IDS = [
  'host-network',
  'container-network',
  'link',
  'network-connect',
  'privileged',
  'device',
  'dev-volume',
  'mount-propagation',
  'cpus',
  'cpuset',
  'kernel-memory',
  'shm-size',
  'capabilities',
  'sysctl',
  'tmpfs',
  'host-pid',
  'host-ipc',
  'host-uts',
  'userns-host',
  'security-opt',
  'gpu',
  'blkio',
  'checkpoint',
  'stats',
  'top',
  'events',
  'update',
  'swarm',
  'annotations',
  'k8s-subpath',
  'proc-sys-mount',
] as const;

export type FeatureId = (typeof FEATURE_IDS)[number];

/** ok: as on runc; differs: works, with VM semantics; pending: not done yet; unsupported: a VM cannot. */
export type SupportStatus = 'ok' | 'differs' | 'pending' | 'unsupported';

export interface Capability {
  status: SupportStatus;
  /** Why a VM treats this differently (shown by the linter and in runtime errors). */
  reason: string;
  /** What to do instead. */
  workaround?: string;
}

export const CAPABILITIES: Record<FeatureId, Capability> = {
  'host-network': {
    status: 'unsupported',
    reason:
      "the container runs in its own VM with its own kernel and network stack; it cannot share the host's, and taking over the host's interfaces would break host networking",
    workaround: 'publish the ports you need (-p) on a bridge or user-defined network, or run this container with runc',
  },
  'container-network': {
    status: 'differs',
    reason:
      "between vmrt containers the two run in one VM (a pod) and share its network stack, as under runc; a runc container's network namespace lives on the host, which a VM cannot join (refused at create). The VM stops with the container that booted it: its joined containers stop too (under runc they lose the network only)",
    workaround: 'run both containers with vmrt, or put them on one user-defined network and reach each other by name',
  },
  link: {
    status: 'unsupported',
    reason: 'legacy links rewrite /etc/hosts and environment across containers; Docker deprecated them and VM runtimes do not support them',
    workaround: 'use a user-defined network: containers on it resolve each other by name',
  },
  'network-connect': {
    status: 'ok',
    reason:
      "docker network connect hot-plugs a virtio NIC with Docker's MAC and address into the running VM (PCIe), and disconnect unplugs it; at most 4 networks beyond those the container started with",
  },
  privileged: {
    status: 'differs',
    reason:
      'privileges apply inside the VM only: every capability in its guest kernel, no masked paths, but no host devices and no power over the host',
    workaround: 'pass the devices you need explicitly (VFIO), or run with runc if you need the host',
  },
  device: {
    status: 'unsupported',
    reason: 'host devices are not visible in the VM; only VFIO passthrough (/dev/vfio/N) can hand a device to a guest',
    workaround: 'bind the device to vfio-pci and pass --device /dev/vfio/<group>',
  },
  'dev-volume': {
    status: 'unsupported',
    reason: "device nodes shared from the host through the VM's shared filesystem do not reach the host device",
    workaround: 'use --device /dev/vfio/<group> (VFIO), or a regular file or folder volume',
  },
  'mount-propagation': {
    status: 'unsupported',
    reason: 'the VM sees host folders through a shared filesystem, which cannot propagate mounts between host and guest',
    workaround: 'drop the propagation option (private is the default)',
  },
  cpus: {
    status: 'ok',
    reason: "the VM has a vCPU per host CPU (nproc as under runc) and the container's guest cgroup enforces the exact quota",
  },
  cpuset: {
    status: 'differs',
    reason:
      'the VM has a vCPU per host CPU, numbered alike, and the guest cgroup keeps the container on the set; the vCPUs themselves run on any host CPU',
  },
  'kernel-memory': {
    status: 'ok',
    reason: 'accepted as with runc, and as with runc not applied: Docker and the kernel (cgroup v2) deprecated kernel memory limits',
    workaround: 'drop --kernel-memory',
  },
  'shm-size': { status: 'ok', reason: "/dev/shm is a tmpfs of the guest, of the size asked for, in the VM's memory" },
  capabilities: { status: 'ok', reason: 'capabilities apply inside the guest kernel' },
  sysctl: { status: 'ok', reason: "sysctls apply to the VM's own kernel: any key, namespaced or not" },
  tmpfs: { status: 'ok', reason: 'tmpfs mounts are made inside the VM, from its memory, with the size asked for' },
  'host-pid': {
    status: 'unsupported',
    reason: 'host processes are outside the VM; the guest kernel cannot see or signal them',
    workaround:
      "drop --pid=host; containers of one pod share a pid namespace in their VM (--pid container:A with --network container:A, or a Kubernetes pod's shareProcessNamespace)",
  },
  'host-ipc': {
    status: 'unsupported',
    reason: "host IPC objects (shared memory, semaphores) live in the host kernel, not in the VM's",
    workaround:
      'drop --ipc=host; containers of one pod share IPC in their VM (--ipc container:A with --network container:A, or a Kubernetes pod)',
  },
  'host-uts': {
    status: 'unsupported',
    reason: "the VM has its own kernel and so its own hostname; it cannot share the host's",
    workaround: 'set --hostname',
  },
  'userns-host': {
    status: 'unsupported',
    reason:
      "user namespaces are those of the guest kernel; the host's cannot be joined (a namespace of the container's own, as with --userns-remap, is made in the guest with the config's uid/gid mappings)",
    workaround: 'drop --userns=host',
  },
  'security-opt': {
    status: 'differs',
    reason:
      'seccomp profiles and no-new-privileges apply in the guest; AppArmor and SELinux labels are host policies the guest kernel does not load',
  },
  gpu: {
    status: 'pending',
    reason:
      'a GPU reaches a VM only through VFIO passthrough: vmrt plugs the PCI devices of /dev/vfio/<group> into the VM (and says so when the host has no such group), but --gpus itself is not translated and passthrough is not yet proven on a host with an IOMMU',
    workaround: 'pass the GPU with --device /dev/vfio/<group>',
  },
  blkio: {
    status: 'differs',
    reason:
      "the limits apply on the host to QEMU, which does the container's disk I/O on its files; inside the VM the host's devices do not exist and the guest cgroup shows no I/O limits",
  },
  checkpoint: {
    status: 'differs',
    reason:
      "a checkpoint holds the container's processes (CRIU inside its VM), not the whole VM: QEMU refuses VM snapshots while the VM's shared folder is mounted; a container with a terminal or with docker exec processes running cannot be checkpointed",
  },
  stats: { status: 'differs', reason: 'usage is that of the whole VM (QEMU and shim, guest kernel included) as the host sees it' },
  top: {
    status: 'differs',
    reason:
      "docker top runs the host's ps on the pids the runtime gives it, so it lists the VM's host processes (QEMU, shims); the container's processes run in the guest kernel and `vmrt ps <id>` lists them",
    workaround: 'vmrt ps <container-id>, or docker exec <container> ps',
  },
  events: {
    status: 'ok',
    reason:
      "the guest agent reports the container's cgroup stats and OOM kills; an OOM kill is also reproduced in the host cgroup, where Docker looks for it (docker inspect OOMKilled, docker events oom)",
  },
  update: {
    status: 'ok',
    reason:
      "docker update changes the guest cgroup's limits live, up and down: the VM has every host CPU and at least 2 GiB (org.vmrt.vm.memory-mib), and refuses a memory limit beyond its size",
  },
  swarm: {
    status: 'differs',
    reason: "swarm cannot choose a runtime per service: the VM runtime must be the daemon's default runtime",
    workaround: 'set "default-runtime": "vmrt" in daemon.json on the swarm nodes',
  },
  annotations: {
    status: 'ok',
    reason: "annotations are the runtime's configuration: vmrt reads its own org.vmrt.* keys and, as runc, puts nothing in the container",
  },
  'k8s-subpath': { status: 'ok', reason: 'a subPath mount is a bind mount of a subfolder, shared into the VM like any bind mount' },
  'proc-sys-mount': {
    status: 'unsupported',
    reason: '/proc and /sys inside the VM belong to the guest kernel; host files mounted over them would describe another kernel',
    workaround: 'set the value with --sysctl, or mount elsewhere',
  },
};

export function isFeatureId(id: string): id is FeatureId {
  return (FEATURE_IDS as readonly string[]).includes(id);
}
