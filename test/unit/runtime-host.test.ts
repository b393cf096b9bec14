import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { spawn } from 'node:child_process';
import type { Readable } from 'node:stream';
import { cgroupMounts, relativeCgroupPath } from '../../runtime/src/cgroups.js';
import { containerdRuntimeTable, mergeDaemonJson } from '../../runtime/src/commands/install.js';
import { isCriPodMember } from '../../runtime/src/pod.js';
import { featuresDocument } from '../../runtime/src/commands/features.js';
import { runHook, runHooksWarning } from '../../runtime/src/hooks.js';
import { hostRlimits, inheritedRlimits } from '../../runtime/src/rlimits.js';
import { listStates, runDirFor, statusOf, validateId, type ContainerState } from '../../runtime/src/state.js';
import { isAlive, refOf, waitReaped } from '../../runtime/src/proc.js';
import {
  qemuArgs,
  qemuMemoryWrapper,
  TCG_CODE_BUFFER_MIB,
  TEMPLATED_TCG_CODE_BUFFER_MIB,
  tscKhz,
  type VmLayout,
} from '../../runtime/src/vm.js';
import { sharedFolderKind } from '../../runtime/src/shared-folder.js';
import { awaitReady, remainsOf, writePidFile } from '../../runtime/src/container.js';
import { CAPABILITIES } from '../../runtime/src/capabilities.js';
import { nicArgs } from '../../runtime/src/network.js';
import { hostMountPoints, jailedArgv, pickId, requireReadableByAll, QEMU_IDS, qemuJailView, vfioGroupsOf } from '../../runtime/src/jail.js';
import { guestFiles, SOCKET_BASE } from '../../runtime/src/paths.js';

test('cgroup hierarchies from mountinfo: v1 controllers on hybrid hosts, unified alone on v2', () => {
  const hybrid = [
    '30 25 0:26 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu',
    '31 25 0:27 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory',
    '32 25 0:28 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw',
    '33 25 0:29 / /proc rw - proc proc rw',
  ].join('\n');
  assert.deepEqual(
    cgroupMounts(hybrid).map((m) => m.mountPoint),
    ['/sys/fs/cgroup/cpu', '/sys/fs/cgroup/memory'],
  );
  assert.deepEqual(cgroupMounts('40 1 0:30 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n'), [{ mountPoint: '/sys/fs/cgroup', version: 2 }]);
  assert.equal(relativeCgroupPath('/docker/abc'), 'docker/abc');
  assert.equal(relativeCgroupPath('system.slice:docker:abc'), 'system.slice/docker-abc.scope');
  assert.equal(
    relativeCgroupPath('kubepods-besteffort-pod1.slice:cri-containerd:x'),
    'kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1.slice/cri-containerd-x.scope',
  );
});

test('install --docker merges the runtime into daemon.json and keeps the rest', () => {
  const merged = mergeDaemonJson('{"debug":true,"runtimes":{"kata":{"path":"/k"}}}', 'd.json') as {
    debug: boolean;
    runtimes: Record<string, { path: string }>;
  };
  assert.equal(merged.debug, true);
  assert.equal(merged.runtimes.kata!.path, '/k');
  assert.match(merged.runtimes.vmrt!.path, /\/runtime\/bin\/vmrt$/);
  assert.throws(() => mergeDaemonJson('{oops', 'd.json'), /d\.json is not valid JSON/);
});

test("install --containerd's runtime table: runc's v2 shim with the launcher as its binary, extra options as TOML strings", () => {
  const table = containerdRuntimeTable({ Root: '/tmp/a "b"' });
  assert.equal(table[0], '[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.vmrt]');
  assert.equal(table[1], '  runtime_type = "io.containerd.runc.v2"');
  assert.match(table[3]!, /^ {2}BinaryName = "\/.*\/runtime\/bin\/vmrt"$/);
  assert.equal(table[4], '  Root = "/tmp/a \\"b\\""');
});

test("a CRI pod's members by containerd's or CRI-O's annotations; other containers are not", () => {
  const member = (annotations?: Record<string, string>) => isCriPodMember({ ociVersion: '1.0.2', annotations });
  assert.equal(member({ 'io.kubernetes.cri.container-type': 'sandbox' }), true);
  assert.equal(member({ 'io.kubernetes.cri.container-type': 'container' }), true);
  assert.equal(member({ 'io.kubernetes.cri-o.ContainerType': 'container' }), true);
  assert.equal(member({ 'io.kubernetes.cri.container-type': 'other' }), false);
  assert.equal(member(), false);
});

test('features: OCI fields plus one org.vmrt annotation per capability row', () => {
  const doc = featuresDocument() as { ociVersionMin: string; ociVersionMax: string; annotations: Record<string, string> };
  assert.equal(doc.ociVersionMin, '1.0.0');
  assert.equal(doc.ociVersionMax, '1.0.2');
  assert.equal(doc.annotations['org.vmrt.feature.host-network'], 'unsupported');
  assert.equal(doc.annotations['org.vmrt.feature.swarm'], 'differs');
  assert.equal(doc.annotations['org.vmrt.feature.host-network.reason'], CAPABILITIES['host-network'].reason);
});

test("state: ids, short socket folders, and runc's folders in a shared root are skipped", () => {
  assert.throws(() => validateId('a/b'), /invalid id format/);
  validateId('f00d-1.2_x');
  const longRoot = `/var/run/docker/runtime-runc/moby/${'x'.repeat(64)}`;
  const dir = runDirFor(longRoot, 'y'.repeat(64));
  assert.match(dir, /^\/run\/vmrt-s\/[0-9a-f]{12}$/);
  assert.ok(`${dir}/mux.sock`.length < 108);
  const root = mkdtempSync(join(tmpdir(), 'vmrt-root-'));
  try {
    mkdirSync(join(root, 'runc-one'));
    writeFileSync(join(root, 'runc-one', 'state.json'), '{"id":"runc-one","init_process_pid":1}');
    mkdirSync(join(root, 'ours'));
    writeFileSync(join(root, 'ours', 'state.json'), JSON.stringify({ vmrt: 1, id: 'ours' }));
    mkdirSync(join(root, 'empty'));
    assert.deepEqual(
      listStates(root).map((s) => s.id),
      ['ours'],
    );
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test("a container's remains without its state.json: rebuilt from its folders; another runtime's container is not ours", () => {
  const root = mkdtempSync(join(tmpdir(), 'vmrt-remains-'));
  try {
    mkdirSync(join(root, 'runc1'));
    writeFileSync(join(root, 'runc1', 'state.json'), JSON.stringify({ id: 'runc1', init_process_pid: 1 }));
    assert.equal(remainsOf(root, 'runc1'), undefined);
    assert.equal(remainsOf(root, 'gone'), undefined);
    mkdirSync(join(root, 'orphan'));
    const remains = remainsOf(root, 'orphan');
    assert.deepEqual([remains?.id, remains?.runDir, remains?.shim, remains?.cgroups], ['orphan', runDirFor(root, 'orphan'), undefined, []]);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('pid files hold digits only', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vmrt-pid-'));
  try {
    writePidFile(join(dir, 'init.pid'), 4242);
    assert.equal(readFileSync(join(dir, 'init.pid'), 'utf8'), '4242');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('hooks run as runc runs them: argv[0] as given, env, state on stdin, timeout', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vmrt-hook-'));
  try {
    const script = join(dir, 'hook.sh');
    const state = { ociVersion: '1.0.2', id: 'c1', status: 'created', pid: 7, bundle: dir };
    // busybox picks its applet by argv[0], as dockerd's libnetwork-setkey hook does.
    await runHook(
      { path: '/bin/busybox', args: ['sh', '-c', 'echo "$0 $GREETING $(cat)" > "$OUT"', 'named'], env: ['GREETING=hi', `OUT=${dir}/out`] },
      state,
      'prestart',
      0,
    );
    assert.equal(readFileSync(join(dir, 'out'), 'utf8'), `named hi ${JSON.stringify(state)}\n`);
    writeFileSync(script, '#!/bin/sh\necho failing >&2; exit 3\n');
    chmodSync(script, 0o755);
    await assert.rejects(
      runHook({ path: script }, state, 'prestart', 1),
      /^Error: error running prestart hook #1 \(.*hook\.sh\): exit status 3, output: failing$/,
    );
    writeFileSync(script, '#!/bin/sh\nsleep 5\n');
    const started = Date.now();
    await assert.rejects(runHook({ path: script, timeout: 1 }, state, 'poststart', 0), /timed out after 1s/);
    assert.ok(Date.now() - started < 3000);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a failing poststart or poststop hook is a warning: the remaining hooks still run (OCI runtime spec)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vmrt-hook-'));
  try {
    const state = { ociVersion: '1.0.2', id: 'c1', status: 'running', pid: 7, bundle: dir };
    const warnings: string[] = [];
    await runHooksWarning(
      [
        { path: '/bin/busybox', args: ['sh', '-c', 'echo first >> "$OUT"; exit 4'], env: [`OUT=${dir}/out`] },
        { path: '/bin/busybox', args: ['sh', '-c', 'echo second >> "$OUT"'], env: [`OUT=${dir}/out`] },
      ],
      state,
      'poststart',
      (message) => warnings.push(message),
    );
    assert.equal(readFileSync(join(dir, 'out'), 'utf8'), 'first\nsecond\n');
    assert.deepEqual(warnings, ['error running poststart hook #0 (/bin/busybox): exit status 4']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('QEMU command line: PVH kernel, initrd, agent port, 9p share, accelerator, seccomp sandbox, balloon', () => {
  const layout: VmLayout = {
    accelerator: 'tcg',
    share: { kind: '9p', dir: '/s' },
    agentSocket: '/r/agent.sock',
    qmpSocket: '/r/qmp.sock',
    consoleLog: '/c.log',
  };
  const args = qemuArgs(layout);
  const joined = args.join(' ');
  assert.equal(args[args.indexOf('-accel') + 1], `tcg,tb-size=${TCG_CODE_BUFFER_MIB},thread=single`);
  // A restored VM's create and start fit its larger buffer (vm.ts).
  const restored = qemuArgs({ ...layout, templateMemory: { role: 'clone' } });
  assert.equal(restored[restored.indexOf('-accel') + 1], `tcg,tb-size=${TEMPLATED_TCG_CODE_BUFFER_MIB},thread=single`);
  assert.equal(args[args.indexOf('-M') + 1], 'microvm,pcie=on,pit=off');
  assert.equal(args[args.indexOf('-cpu') + 1], 'qemu64,+arat');
  assert.match(joined, /-qmp unix:\/r\/qmp\.sock,server=on,wait=off/);
  assert.equal(args[args.indexOf('-serial') + 1], 'file:/c.log');
  assert.match(joined, /-chardev socket,id=agent,path=\/r\/agent\.sock,server=on,wait=off/);
  // On PCI: over virtio-mmio the guest would keep 8 MiB of receive buffers for the port.
  assert.match(
    joined,
    /-device virtio-serial-pci,bus=pcie\.0 -chardev socket,id=agent,[^ ]* -device virtserialport,chardev=agent,name=org\.vmrt\.agent/,
  );
  assert.match(joined, /-fsdev local,id=shared,path=\/s,security_model=none,multidevs=remap/);
  assert.match(joined, /mount_tag=vmrt/);
  assert.match(joined, /-no-reboot/);
  // The guest's local APIC timer rate, never calibrated (kernel-patches/x86-apic-timer-period-param.patch).
  assert.match(args[args.indexOf('-append') + 1]!, / lapic_timer_period=10000000( |$)/);
  assert.match(joined, /-sandbox on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny/);
  assert.match(joined, /virtio-balloon-device,free-page-reporting=on/);
  assert.equal(tscKhz('cpu MHz\t\t: 2596.140\n'), 2596140);
  // 9p through QEMU's proxy helper (Debian 12's QEMU: its own driver refuses sockets and FIFOs).
  const proxied = qemuArgs({ ...layout, share: { kind: '9p', dir: '/s', proxySocket: '/r/9p.sock' } }).join(' ');
  assert.match(proxied, /-fsdev proxy,id=shared,socket=\/r\/9p\.sock -device virtio-9p-device,fsdev=shared,mount_tag=vmrt/);
  assert.doesNotMatch(proxied, /memory-backend|path=\/s/);
  // A container that keeps its memory from the host's KSM: QEMU leaves its guest RAM unmarked too.
  const unmerged = qemuArgs({ ...layout, memoryMerge: false });
  assert.equal(unmerged[unmerged.indexOf('-M') + 1], 'microvm,pcie=on,pit=off,mem-merge=off');
  // QEMU's process: merged whole where its memory merges; no transparent huge pages under TCG.
  assert.deepEqual(qemuMemoryWrapper({ accelerator: 'tcg', memoryMerge: true }, '/s'), ['/s', 'qemu-memory', '--merge', '--no-huge-pages']);
  assert.deepEqual(qemuMemoryWrapper({ accelerator: 'tcg', memoryMerge: false }, '/s'), ['/s', 'qemu-memory', '--no-huge-pages']);
  assert.deepEqual(qemuMemoryWrapper({ accelerator: 'kvm', memoryMerge: true }, '/s'), ['/s', 'qemu-memory', '--merge']);
  assert.deepEqual(qemuMemoryWrapper({ accelerator: 'kvm', memoryMerge: false }, '/s'), []);
});

test('QEMU in its jail: an own uid, no capabilities, no_new_privs, a /dev of its own, the host folders of other VMs hidden', () => {
  const jail = { uid: QEMU_IDS.first + 7, gid: QEMU_IDS.first + 7 };
  const runDir = join(SOCKET_BASE, 'abc123');
  const spec = {
    jail,
    accelerator: 'tcg' as const,
    runDir,
    consoleLog: '/srv/vmrt-root/c1/console.log',
    hide: ['/srv/vmrt-root', '/var/vmrt-templates'],
  };
  const numbers = (path: string) => ({ '/dev/kvm': { major: 10, minor: 232 }, '/dev/vfio/vfio': { major: 10, minor: 196 } })[path]!;
  const qemu = ['-sandbox', 'on', '-kernel', guestFiles().kernel];
  const mounts = hostMountPoints(
    '1 0 8:1 / / rw - ext4 /dev/sda1 rw\n2 1 0:5 / /proc rw - proc proc rw\n3 1 0:6 / /tmp/x rw - tmpfs t rw\n4 1 8:2 / /srv/a\\040b rw - ext4 /dev/sda2 rw\n',
  );
  assert.deepEqual(mounts, ['/', '/proc', '/tmp/x', '/srv/a b']);
  const argv = jailedArgv(qemuJailView(spec, qemu, numbers, '/sys', mounts), 'qemu-system-x86_64', qemu);
  // Entered as root (in the netns), a mount namespace of its own, then QEMU's argv untouched.
  assert.deepEqual(argv.slice(0, 7), ['unshare', '--mount', '--propagation', 'private', '--', 'sh', '-c']);
  assert.deepEqual(argv.slice(8), ['vmrt-jail', 'qemu-system-x86_64', ...qemu]);
  const script = argv[7]!.split('\n');
  assert.equal(script[0], 'set -e');
  assert.equal(script[1], 'mount -n -t tmpfs -o mode=0755,size=64k,nosuid,noexec vmrt-dev /dev');
  assert.ok(script.includes("mknod -m 666 '/dev/net/tun' c 10 200"));
  assert.ok(!script.some((line) => /kvm|vfio|ulimit/.test(line)), 'no KVM or VFIO under TCG');
  // Every folder with other VMs' files or world-writable is hidden behind an empty read-only one.
  for (const dir of ['/run', '/tmp', '/var/tmp', '/root', '/home', '/var/vmrt-templates', '/srv/vmrt-root']) {
    assert.ok(script.includes(`  mount -n -t tmpfs -o mode=0755,size=64k,nosuid,nodev,noexec vmrt-hidden '${dir}'`), dir);
    assert.ok(script.includes(`  mount -n -o remount,ro '${dir}'`), dir);
  }
  // Every host mount read-only (those in hidden folders are out of reach), one gone meanwhile no error.
  const readOnly = script.filter((line) => line.includes('remount,bind,ro') && !line.includes('.vmrt-keep'));
  assert.deepEqual(readOnly, [
    "mount -n -o remount,bind,ro '/' || ! mountpoint -q '/'",
    "mount -n -o remount,bind,ro '/srv/a b' || ! mountpoint -q '/srv/a b'",
  ]);
  // Its own socket folder and console log come back, writable, into the hidden folders.
  assert.ok(script.includes(`mount -n --bind '${runDir}' /dev/.vmrt-keep/0`));
  assert.ok(script.includes('mount -n -o remount,bind,rw /dev/.vmrt-keep/0'));
  assert.ok(script.includes(`mount -n --move /dev/.vmrt-keep/0 '${runDir}'`));
  assert.ok(script.includes("mount -n --move /dev/.vmrt-keep/1 '/srv/vmrt-root/c1/console.log'"));
  assert.equal(script.at(-2), 'mount -n -o remount,ro /dev');
  // A VM of no container (a template, a probe): an empty network namespace of its own too.
  const scratch = jailedArgv(qemuJailView({ ...spec, ownNetwork: true }, qemu, numbers, '/sys', mounts), 'qemu-system-x86_64', qemu);
  assert.deepEqual(scratch.slice(0, 4), ['unshare', '--mount', '--net', '--propagation']);
  assert.ok(!scratch[8]!.includes('tuntap'), 'no tap unless asked for');
  // A template VM's NIC: a tap in that netns, its uid's, made as root before QEMU runs.
  const withTap = jailedArgv(
    qemuJailView({ ...spec, ownNetwork: true, tap: 'vmrt-tap0' }, qemu, numbers, '/sys', mounts),
    'qemu-system-x86_64',
    qemu,
  );
  assert.equal(withTap[8]!.split('\n').at(-2), `ip tuntap add dev 'vmrt-tap0' mode tap user ${jail.uid} group ${jail.gid}`);
  assert.equal(
    script.at(-1),
    `exec setpriv --reuid=${jail.uid} --regid=${jail.gid} --clear-groups --inh-caps=-all --bounding-set=-all --no-new-privs -- "$@"`,
  );

  // KVM: a /dev/kvm of its own, only for its uid; what else it opens (a template VM's share) kept.
  const kvm = jailedArgv(
    qemuJailView(
      { ...spec, accelerator: 'kvm', keep: [{ path: '/var/vmrt-templates/k/share', dir: true, writable: false }] },
      qemu,
      numbers,
    ),
    'qemu-system-x86_64',
    qemu,
  )[7]!.split('\n');
  assert.ok(kvm.includes("mknod -m 600 '/dev/kvm' c 10 232"));
  assert.ok(kvm.includes(`chown ${jail.uid}:${jail.gid} '/dev/kvm'`));
  // Kept after the socket folder and console log, and after the guest kernel when a hidden folder
  // holds it (a checkout under /tmp).
  assert.ok(kvm.some((line) => /^mount -n --move \/dev\/\.vmrt-keep\/\d+ '\/var\/vmrt-templates\/k\/share'$/.test(line)));
  assert.match(kvm.at(-1)!, / --clear-groups /);

  // VFIO: the group's node for its uid, the container node, and locked memory for the guest's RAM.
  const sys = mkdtempSync(join(tmpdir(), 'vmrt-sys-'));
  try {
    const device = join(sys, 'bus', 'pci', 'devices', '0000:01:00.0');
    mkdirSync(device, { recursive: true });
    symlinkSync('../../../kernel/iommu_groups/12', join(device, 'iommu_group'));
    const passed = ['-device', 'pcie-root-port,id=vmrt-vfio0', '-device', 'vfio-pci,host=0000:01:00.0,bus=vmrt-vfio0'];
    assert.deepEqual(vfioGroupsOf(passed, sys), ['/dev/vfio/12']);
    const vfioNumbers = (path: string) => (path === '/dev/vfio/12' ? { major: 243, minor: 0 } : numbers(path));
    const vfio = jailedArgv(qemuJailView(spec, passed, vfioNumbers, sys), 'qemu-system-x86_64', passed)[7]!.split('\n');
    assert.ok(vfio.includes("mknod -m 666 '/dev/vfio/vfio' c 10 196"));
    assert.ok(vfio.includes("mknod -m 600 '/dev/vfio/12' c 243 0"));
    assert.ok(vfio.includes(`chown ${jail.uid}:${jail.gid} '/dev/vfio/12'`));
    assert.ok(vfio.includes('ulimit -l unlimited'));
  } finally {
    rmSync(sys, { recursive: true, force: true });
  }
});

test('the guest kernel must be readable by all, through folders searchable by all up to a hidden one: else a clear error', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vmrt-guest-'));
  chmodSync(dir, 0o711);
  try {
    const kernel = join(dir, 'guest', 'vmlinux');
    mkdirSync(join(dir, 'guest'), { mode: 0o700 });
    writeFileSync(kernel, 'kernel', { mode: 0o600 });
    assert.throws(
      () => requireReadableByAll(kernel, ['/run']),
      new RegExp(`cannot read ${kernel}: ${kernel} is not readable by all \\(chmod o\\+r ${kernel}\\)`),
    );
    chmodSync(kernel, 0o644);
    assert.throws(
      () => requireReadableByAll(kernel, ['/run']),
      new RegExp(`: ${dir}/guest is not searchable by all \\(chmod o\\+x ${dir}/guest\\)`),
    );
    // A folder the jail hides is replaced by one QEMU may search.
    requireReadableByAll(kernel, [join(dir, 'guest')]);
    chmodSync(join(dir, 'guest'), 0o711);
    requireReadableByAll(kernel, ['/run']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('QEMU uids: the preferred one when free, else the next free one, wrapping around the range', () => {
  const first = QEMU_IDS.first;
  assert.equal(pickId(5, new Set()), first + 5);
  assert.equal(pickId(5, new Set([first + 5, first + 6])), first + 7);
  assert.equal(pickId(QEMU_IDS.count - 1, new Set([first + QEMU_IDS.count - 1])), first);
  assert.equal(pickId(QEMU_IDS.count + 3, new Set()), first + 3);
});

test("QEMU command line with virtio-fs: guest RAM in a shared memory file, virtiofsd's socket, no 9p", () => {
  const args = qemuArgs({
    accelerator: 'tcg',
    share: { kind: 'virtiofs', socket: '/r/virtiofs.sock' },
    agentSocket: '/r/agent.sock',
    qmpSocket: '/r/qmp.sock',
    consoleLog: '/c.log',
    memoryMiB: 2048,
  });
  const joined = args.join(' ');
  assert.match(joined, /-object memory-backend-memfd,id=ram,size=2048M,share=on -M microvm,pcie=on,pit=off,memory-backend=ram/);
  assert.match(joined, /-chardev socket,id=shared,path=\/r\/virtiofs\.sock -device vhost-user-fs-device,chardev=shared,tag=vmrt/);
  assert.doesNotMatch(joined, /9p|fsdev/);
  assert.match(joined, /-global virtio-mmio\.force-legacy=false/);
});

test('the shared folder is chosen per VM: virtio-fs by default, 9p when forced or for a VM started from a template', () => {
  assert.equal(sharedFolderKind(false, {}), 'virtiofs');
  assert.equal(sharedFolderKind(false, { VMRT_SHARED_FS: '9p' }), '9p');
  assert.equal(sharedFolderKind(true, {}), '9p');
  assert.equal(sharedFolderKind(true, { VMRT_SHARED_FS: '9p' }), '9p');
  assert.equal(sharedFolderKind(false, { VMRT_SHARED_FS: 'virtiofs' }), 'virtiofs');
  assert.throws(() => sharedFolderKind(false, { VMRT_SHARED_FS: 'nfs' }), /VMRT_SHARED_FS must be virtiofs or 9p, not "nfs"/);
  assert.throws(() => sharedFolderKind(true, { VMRT_SHARED_FS: 'virtiofs' }), /cannot share its RAM with virtiofsd; use 9p/);
});

test("one virtio-net-pci NIC per netns interface, in a PCIe root port of its own, on its tap, with the interface's MAC; spare ports for hot-plug", () => {
  const nic = { name: 'eth0', mac: '02:42:ac:11:00:02', mtu: 1500, addresses: ['172.17.0.2/16'], tap: 'vmrt-tap0', port: 0 };
  const port = (n: number) => ['-device', `pcie-root-port,id=vmrt-port${n},chassis=${n + 1},slot=${n + 1},io-reserve=0`];
  assert.deepEqual(nicArgs({ interfaces: [nic], routes: [] }), [
    ...port(0),
    ...port(1),
    ...port(2),
    ...port(3),
    ...port(4),
    '-netdev',
    'tap,id=vmrt-tap0,ifname=vmrt-tap0,script=no,downscript=no,vhost=off',
    '-device',
    'virtio-net-pci,id=vmrt-nic0,bus=vmrt-port0,netdev=vmrt-tap0,mac=02:42:ac:11:00:02,romfile=',
  ]);
  assert.deepEqual(nicArgs({ interfaces: [], routes: [] }), [...port(0), ...port(1), ...port(2), ...port(3)]);
});

test("rlimits config.json leaves out are the host's finite ones, as runc's containers inherit its own", () => {
  const limits = [
    'Limit                     Soft Limit           Hard Limit           Units     ',
    'Max stack size            8388608              unlimited            bytes     ',
    'Max open files            20000                20000                files     ',
    'Max locked memory         8388608              8388608              bytes     ',
    'Max nice priority         0                    0                    ',
  ].join('\n');
  assert.deepEqual(hostRlimits(limits), [
    { type: 'RLIMIT_NOFILE', soft: 20000, hard: 20000 },
    { type: 'RLIMIT_MEMLOCK', soft: 8388608, hard: 8388608 },
    { type: 'RLIMIT_NICE', soft: 0, hard: 0 },
  ]);
  assert.deepEqual(inheritedRlimits([{ type: 'RLIMIT_NOFILE', hard: 1024, soft: 512 }], hostRlimits(limits)), [
    { type: 'RLIMIT_NOFILE', hard: 1024, soft: 512 },
    { type: 'RLIMIT_MEMLOCK', soft: 8388608, hard: 8388608 },
    { type: 'RLIMIT_NICE', soft: 0, hard: 0 },
  ]);
});

test("a shim's failed ready line: a guest that never answered gets the end of its console, other failures do not", async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vmrt-ready-'));
  try {
    const consoleLog = join(dir, 'console.log');
    writeFileSync(consoleLog, 'Linux version 6.1\nrcu: INFO: rcu_sched self-detected stall on CPU\n');
    const failWith = (error: string) => {
      const shim = spawn('sh', ['-c', `printf '%s\\n' '${JSON.stringify({ ok: false, error })}' >&3`], {
        stdio: ['ignore', 'ignore', 'ignore', 'pipe'],
      });
      return awaitReady(shim, shim.stdio[3] as Readable, 'creating container "c"', join(dir, 'shim.log'), consoleLog);
    };
    await assert.rejects(failWith('timed out waiting for the agent to say HELLO'), {
      message:
        'creating container "c": timed out waiting for the agent to say HELLO\nthe guest\'s console ends with:\nLinux version 6.1\nrcu: INFO: rcu_sched self-detected stall on CPU',
    });
    await assert.rejects(failWith('exec: "nope": executable file not found in $PATH'), {
      message: 'creating container "c": exec: "nope": executable file not found in $PATH',
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a container's status: stopped once its shim or its VM ended, paused or running while both live", async () => {
  const live = () => spawn('sleep', ['60'], { stdio: 'ignore' });
  const [shim, qemu] = [live(), live()];
  try {
    const state = {
      vmrt: 1,
      id: 'c',
      guestPid: 1,
      started: true,
      shim: refOf(shim.pid!),
      qemu: refOf(qemu.pid!),
    } as ContainerState;
    assert.equal(statusOf(state), 'running');
    assert.equal(statusOf({ ...state, paused: true }), 'paused');
    assert.equal(statusOf({ ...state, started: false }), 'created');
    assert.equal(statusOf({ ...state, guestPid: undefined }), 'creating');
    // A pod member's VM is its pod's: it has no QEMU of its own.
    assert.equal(statusOf({ ...state, qemu: undefined }), 'running');
    qemu.kill('SIGKILL');
    await new Promise((resolve) => qemu.once('exit', resolve));
    // The VM gone, the shim still draining its output: the container's processes ended with the VM.
    assert.equal(statusOf(state), 'stopped');
    assert.equal(statusOf({ ...state, qemu: undefined }), 'running');
    shim.kill('SIGKILL');
    await new Promise((resolve) => shim.once('exit', resolve));
    assert.equal(statusOf({ ...state, qemu: undefined }), 'stopped');
  } finally {
    shim.kill('SIGKILL');
    qemu.kill('SIGKILL');
  }
});

test('a process is reaped once its parent has waited for it: a zombie has ended but is not reaped yet', async () => {
  // The shell's child ends while its parent (the shell, become `sleep 1.5`) never waits for it.
  const parent = spawn('sh', ['-c', 'sleep 0.3 & echo $!; exec sleep 1.5'], { stdio: ['ignore', 'pipe', 'ignore'] });
  const pid = Number(await new Promise<string>((resolve) => parent.stdout!.once('data', (data: Buffer) => resolve(String(data)))));
  const child = refOf(pid);
  assert.equal(await waitReaped(child, 100), false, 'running');
  await new Promise((resolve) => setTimeout(resolve, 600));
  assert.equal(isAlive(child), false, 'ended');
  assert.equal(await waitReaped(child, 200), false, 'a zombie: its parent has not waited for it');
  // Its parent ends: the child goes to init (or a subreaper), which reaps it.
  assert.equal(await waitReaped(child, 5000), true);
});
