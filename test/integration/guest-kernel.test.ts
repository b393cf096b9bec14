/**
 * The built guest kernel (runtime/guest/build.sh: the minimal one from kernel.config by default)
 * boots under QEMU TCG and has what containers need: every namespace, cgroup v2 with its
 * controllers wired to linux.resources, seccomp filters, overlayfs on tmpfs, the file systems
 * the agent and OCI specs mount, IPv4/IPv6/packet/unix sockets, hotplug in sysfs.
 * Each property is checked from inside a container run through the agent.
 * Needs runtime/build/guest/* and qemu-system-x86.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { AgentVm, guestFiles, type GuestFiles, type ProcessResult } from '../support/agent-vm.js';

const MIB = 1024 * 1024;

describe('guest kernel', { timeout: 180_000 }, () => {
  let guest: GuestFiles;
  let vm: AgentVm;
  let containerCount = 0;

  /** Runs `sh -c script` in a new container (busybox rootfs) and returns its output and status. */
  async function container(script: string, linux: Record<string, unknown> = {}): Promise<ProcessResult> {
    const id = `k${++containerCount}`;
    const stream = vm.stream();
    const spec = {
      ociVersion: '1.0.2',
      root: { path: '/run/vmrt/shared/rootfs', readonly: false },
      hostname: 'guest-kernel-test',
      process: { args: ['sh', '-c', script], env: ['PATH=/bin'], cwd: '/', user: { uid: 0, gid: 0 } },
      mounts: [
        { destination: '/proc', type: 'proc', source: 'proc' },
        { destination: '/tmp', type: 'tmpfs', source: 'tmpfs', options: ['size=4m'] },
        { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['ro'] },
        { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup' },
        { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue' },
      ],
      linux,
    };
    const created = await vm.request(stream, { op: 'create', id, spec });
    assert.equal(created.ok, true, `create ${id}: ${JSON.stringify(created)}`);
    assert.deepEqual(await vm.request(vm.stream(), { op: 'start', id }), { ok: true });
    return vm.result(stream);
  }

  /** Lines of a container's stdout, after checking it exited 0 without stderr. */
  async function lines(script: string, linux: Record<string, unknown> = {}): Promise<string[]> {
    const result = await container(script, linux);
    assert.deepEqual(
      { stderr: result.stderr, exit: result.exit },
      { stderr: '', exit: { status: 0, signal: 0 } },
      `stdout: ${result.stdout}`,
    );
    return result.stdout.split('\n').filter((line) => line !== '');
  }

  before(async () => {
    guest = guestFiles();
    vm = await AgentVm.boot(guest, ['-netdev', 'user,id=n0', '-device', 'virtio-net-device,netdev=n0']);
  });

  after(async () => {
    await vm?.dispose();
  });

  it('boots the kernel that kernel-release names', () => {
    assert.equal(vm.hello.kernel, guest.kernelRelease);
    // The release is the built image's own, not a guess: its banner names it.
    assert.ok(
      readFileSync(guest.vmlinux).includes(`Linux version ${guest.kernelRelease} (`),
      `vmlinux has no banner for ${guest.kernelRelease}`,
    );
  });

  it('gives containers every namespace', async () => {
    const namespaces = await lines('ls /proc/self/ns');
    for (const ns of ['cgroup', 'ipc', 'mnt', 'net', 'pid', 'pid_for_children', 'user', 'uts']) {
      assert.ok(namespaces.includes(ns), `no /proc/self/ns/${ns} in ${namespaces.join(' ')}`);
    }
    // A new user namespace maps the caller to root.
    assert.deepEqual(await lines('busybox unshare -U -r id -u'), ['0']);
  });

  it('has cgroup v2 with the cpu, cpuset, memory and pids controllers applying linux.resources', async () => {
    const out = await lines(
      'cat /sys/fs/cgroup/cgroup.controllers /sys/fs/cgroup/memory.max /sys/fs/cgroup/cpu.max ' +
        '/sys/fs/cgroup/cpuset.cpus /sys/fs/cgroup/pids.max',
      { resources: { memory: { limit: 48 * MIB }, cpu: { quota: 50_000, period: 100_000, cpus: '0' }, pids: { limit: 64 } } },
    );
    const controllers = out[0]!.split(' ');
    for (const c of ['cpuset', 'cpu', 'memory', 'pids']) assert.ok(controllers.includes(c), `no ${c} controller in ${out[0]}`);
    assert.deepEqual(out.slice(1), [String(48 * MIB), '50000 100000', '0', '64']);
  });

  it('enforces a seccomp filter', async () => {
    const seccomp = {
      defaultAction: 'SCMP_ACT_ALLOW',
      architectures: ['SCMP_ARCH_X86_64'],
      syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 }],
    };
    const result = await container('grep -E "^Seccomp(_filters)?:" /proc/self/status; mkdir /tmp/x', { seccomp });
    assert.equal(result.stdout, 'Seccomp:\t2\nSeccomp_filters:\t1\n');
    assert.match(result.stderr, /Operation not permitted/);
    assert.deepEqual(result.exit, { status: 1, signal: 0 });
  });

  it('registers the file systems containers mount', async () => {
    const names = (await lines('cat /proc/filesystems')).map((line) => line.split('\t').pop());
    for (const fs of ['proc', 'sysfs', 'tmpfs', 'devtmpfs', 'devpts', 'cgroup2', 'mqueue', 'overlay', '9p']) {
      assert.ok(names.includes(fs), `no ${fs} in /proc/filesystems: ${names.join(' ')}`);
    }
  });

  it('mounts overlayfs on tmpfs, with whiteouts', async () => {
    const out = await lines(
      'cd /tmp && mkdir lower upper work merged && echo old > lower/a && ' +
        'busybox mount -t overlay overlay -o lowerdir=lower,upperdir=upper,workdir=work merged && ' +
        'echo new > merged/b && busybox rm merged/a && ls merged && cat upper/b && busybox stat -c "%F %t,%T" upper/a',
    );
    assert.deepEqual(out, ['b', 'new', 'character special file 0,0']);
  });

  it('has IPv4, IPv6, packet and unix sockets, POSIX message queues and hotplug', async () => {
    const out = await lines(
      'for f in /proc/net/if_inet6 /proc/net/packet /proc/net/unix /proc/sys/net/ipv4/ip_forward ' +
        '/proc/sys/fs/mqueue/msg_max /sys/devices/system/memory/auto_online_blocks /sys/devices/system/cpu/hotplug/states; ' +
        'do test -e $f && echo $f; done',
    );
    assert.deepEqual(out, [
      '/proc/net/if_inet6',
      '/proc/net/packet',
      '/proc/net/unix',
      '/proc/sys/net/ipv4/ip_forward',
      '/proc/sys/fs/mqueue/msg_max',
      '/sys/devices/system/memory/auto_online_blocks',
      '/sys/devices/system/cpu/hotplug/states',
    ]);
  });
});
