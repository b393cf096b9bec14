/**
 * What a container sees differently under vmrt by design: each runs in its own VM with its own
 * kernel. These are NOT asserted equal (test/compat/run.test.ts runs them under both runtimes
 * and prints both outputs); every other scenario of the suite is. An entry here needs a reason
 * a VM cannot do otherwise, not "vmrt does not do it yet".
 */
import { DEBIAN } from '../support/compat.js';

export interface KnownDifference {
  what: string;
  /** `docker run` arguments (after --runtime) that show it. */
  args: string[];
  reason: string;
}

export const KNOWN_DIFFERENCES: KnownDifference[] = [
  {
    what: 'uname -r',
    args: [DEBIAN, 'uname', '-r'],
    reason: "the container runs on the guest's kernel (runtime/guest: Debian's linux-source-6.1), not the host's",
  },
  {
    what: 'MemTotal in /proc/meminfo',
    args: [DEBIAN, 'grep', '^MemTotal', '/proc/meminfo'],
    reason:
      "/proc/meminfo is the guest kernel's: the VM's size (a documented default, or the limit plus the guest's needs), not the host's RAM",
  },
  {
    what: "V8's heap limit",
    args: [DEBIAN, 'node', '-p', "require('v8').getHeapStatistics().heap_size_limit"],
    reason: 'V8 sizes its heap from the physical memory it sees, i.e. MemTotal above: a quarter of the VM, not of the host',
  },
  {
    what: 'the CPU model in /proc/cpuinfo',
    args: [DEBIAN, 'sh', '-c', "grep -m1 '^model name' /proc/cpuinfo"],
    reason: "the guest's vCPUs are QEMU's (TCG here, the host's model only with KVM and -cpu host)",
  },
  {
    what: 'the cgroup file system layout',
    args: [DEBIAN, 'sh', '-c', 'ls /sys/fs/cgroup | head -n 5'],
    reason:
      "the guest kernel mounts cgroup v2 whatever the host runs (v1 here): the limits' values are compared instead, read through either layout (LIMITS in run.test.ts)",
  },
  {
    what: '/dev/core',
    args: [DEBIAN, 'sh', '-c', 'ls -l /dev/core 2>&1; true'],
    reason:
      "runc links /dev/core to /proc/kcore when the kernel it runs on has one; the agent does the same for the guest's kernel, which has one, whatever the host's",
  },
  {
    what: "libc's address in two processes of one container",
    args: [DEBIAN, 'sh', '-c', 'for i in 1 2; do grep -m1 libc /proc/self/maps | cut -d- -f1; done'],
    reason:
      "under TCG a VM's processes share one random mmap layout, each VM its own (README: The shared mmap layout): QEMU 7.2 finds translated code by virtual address, and a layout per process made every process translate its libraries anew",
  },
  {
    what: 'the mount table',
    args: [DEBIAN, 'sh', '-c', "awk '{print $3}' /proc/self/mounts | sort | uniq -c | tr -s ' ' | tr '\\n' ,"],
    reason: "the guest mounts the rootfs and volumes from what the host shares with the VM, with the guest kernel's file systems",
  },
];
