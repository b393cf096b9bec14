/**
 * Intel Clear Containers, exactly as its "known differences and limitations" document
 * (in the clearcontainers/runtime repository) states them: pending items are
 * `pending`, architectural limitations `unsupported`, annotations `differs`. CPU sets
 * and shares follow docs/features/README.md (Clear Containers' cpu-constraints document).
 * Features the seed does not list but that no VM can offer (host namespaces,
 * propagation, /proc and /sys binds) are reported as architectural too; their reason
 * says so.
 */
import type { Profile, ProfileEntry } from './profile.js';

const CGROUPS =
  'cgroup constraints map onto a VM only partly: support means implementing them inside the VM, around it, or both, and the runtime does not do it yet (seed: "cgroup constraints")';
const NOT_LISTED = 'not listed by Clear Containers, but architectural for every VM';

function notListed(reason: string, workaround: string): ProfileEntry {
  return { status: 'unsupported', reason: `${reason} (${NOT_LISTED})`, workaround };
}

export const clearContainersProfile: Profile = {
  id: 'clear-containers',
  description: 'Intel Clear Containers (cc-runtime 3.x), from its limitations document',
  hints: true,
  features: {
    swarm: {
      status: 'pending',
      reason: 'Docker swarm works with Clear Containers only on an older Docker version (docker_swarm_version in versions.txt)',
      workaround: 'use the Docker version of docker_swarm_version for swarm nodes',
    },
    'network-connect': {
      status: 'pending',
      reason:
        'the VM network is set up from what the CNM plugin defines at startup; networks added to a running container are not propagated into the VM',
      workaround: 'give the container all its networks when it starts (--network)',
    },
    cpus: {
      status: 'pending',
      reason: "--cpus (linux.resources.cpu) is not implemented; it could be passed to QEMU's CPU options, but is not yet",
      workaround: 'use --cpu-quota with --cpu-period, which are supported and give most of what --cpus offers',
    },
    'kernel-memory': {
      status: 'pending',
      reason: '--kernel-memory is not implemented; it would have to be passed to the QEMU configuration',
      workaround: 'drop --kernel-memory',
    },
    'shm-size': {
      status: 'pending',
      reason: '--shm-size is not implemented: the size of the /dev/shm tmpfs inside the VM container is not set',
      workaround: 'remount /dev/shm with the size you need inside the container, or drop the option',
    },
    cpuset: {
      status: 'unsupported',
      reason:
        "Clear Containers size the VM from the CPU quota (vCPU hot-plug); its cpu-constraints document lists --cpuset-cpus and --cpu-shares as unsupported, since host CPU sets and shares do not map onto a VM's vCPUs",
      workaround: 'limit CPUs with --cpu-quota and --cpu-period',
    },
    blkio: { status: 'pending', reason: CGROUPS },
    capabilities: {
      status: 'pending',
      reason:
        '--cap-add/--cap-drop (process.capabilities) are not supported: they would have to be applied in the host, in the VM, or both',
    },
    sysctl: {
      status: 'pending',
      reason:
        '--sysctl (linux.sysctl) is not implemented; each VM has its own kernel, so even non-namespaced keys could be set there, but are not yet',
    },
    tmpfs: {
      status: 'pending',
      reason: '--tmpfs is not supported; it would have to be passed to the VM kernel at startup to create the mount point',
      workaround: 'use a volume instead of a tmpfs mount',
    },
    checkpoint: {
      status: 'pending',
      reason: 'the runtime has no checkpoint and restore commands (VM save and restore could give criu-like behaviour one day)',
    },
    stats: {
      status: 'pending',
      reason: "docker stats returns no meaningful information: it needs the runtime's events command, which is not implemented",
    },
    top: {
      status: 'pending',
      reason: 'the runtime has no ps command, which docker top calls to list the processes of a container',
    },
    events: {
      status: 'pending',
      reason: "the runtime does not implement the events command (a subset of runc's, with VM extensions, is planned)",
    },
    update: {
      status: 'pending',
      reason: 'the runtime does not implement the update command, so docker update (cgroup changes of a running container) does nothing',
      workaround: 'recreate the container with the new resources',
    },
    'container-network': {
      status: 'unsupported',
      reason:
        'network namespace sharing is not supported: the VM takes over every interface of the namespace it joins, so a runc container sharing it loses its network',
      workaround: 'put both containers on one user-defined network',
    },
    'host-network': {
      status: 'unsupported',
      reason:
        "the VM cannot reach the host networking configuration directly, and the runtime's network setup may modify and break the host's networking",
      workaround: 'run this container with runc (--runtime runc), which can be mixed with Clear Containers, or publish ports (-p)',
    },
    link: {
      status: 'unsupported',
      reason: '--link is not supported and will not be: Docker deprecated it',
      workaround: 'use a user-defined network (docker network create), where containers reach each other by name',
    },
    device: {
      status: 'unsupported',
      reason:
        'only VFIO passthrough (--device=/dev/vfio/<iommu group>) hands a device to the VM; other devices, block devices included, cannot be passed',
      workaround: 'bind the device to vfio-pci and pass --device=/dev/vfio/<group>',
    },
    'dev-volume': {
      status: 'unsupported',
      reason: 'volumes of device nodes (-v /dev/...) are not supported, for the same reasons as --device; non-device file volumes are',
      workaround: 'use --device=/dev/vfio/<group> (VFIO), or a regular file or folder volume',
    },
    privileged: {
      status: 'unsupported',
      reason: 'there is no natural or easy way to grant the VM access to all of the host devices that --privileged implies',
      workaround: 'run this container with runc (--runtime runc), which can be mixed with Clear Containers',
    },
    annotations: {
      status: 'differs',
      reason: 'OCI annotations are nominally supported but are not exposed inside the Clear Container',
    },
    'mount-propagation': notListed(
      'the VM sees host folders through a shared filesystem, which cannot propagate mounts',
      'drop the propagation option',
    ),
    'host-pid': notListed('host processes live outside the VM, in another kernel', 'drop the pid namespace setting'),
    'host-ipc': notListed("host IPC objects live in the host kernel, not in the VM's", 'drop the ipc namespace setting'),
    'host-uts': notListed('the VM has its own kernel and hostname', 'set the hostname instead'),
    'userns-host': notListed('user namespaces belong to the guest kernel', 'drop the userns setting'),
    'proc-sys-mount': notListed("/proc and /sys in the VM describe the guest kernel, not the host's", 'mount elsewhere, or use --sysctl'),
  },
};
