/**
 * The guest agent (runtime/agent) in a real QEMU guest under TCG, spoken to directly on
 * agent.sock: HELLO, containers from a busybox rootfs shared over 9p, exit statuses, signals,
 * stdin, a terminal, exec, ps, malformed frames and power-off when the host goes away.
 * Needs runtime/build/guest/* (runtime/guest/build.sh) and qemu-system-x86.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { release as hostRelease } from 'node:os';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { FrameType } from '../../runtime/src/agent/frames.js';
import { AgentVm, GUEST_DIR, guestFiles, type GuestFiles } from '../support/agent-vm.js';

const ROOTFS = '/run/vmrt/shared/rootfs';
const GUEST_MAC = '02:42:ac:11:00:02';

type ProcessExtra = Record<string, unknown>;
type SpecExtra = { mounts?: unknown[]; root?: Record<string, unknown>; linux?: Record<string, unknown> };

function spec(args: string[], process: ProcessExtra = {}, extra: SpecExtra = {}) {
  return {
    ociVersion: '1.0.2',
    root: { path: ROOTFS, readonly: false, ...extra.root },
    hostname: 'agent-test',
    annotations: { 'org.example.owner': 'agent-protocol test' },
    process: { args, env: ['PATH=/bin', 'TERM=dumb'], cwd: '/', user: { uid: 0, gid: 0 }, ...process },
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc' },
      { destination: '/tmp', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'size=1m'] },
      ...(extra.mounts ?? []),
    ],
    ...(extra.linux ? { linux: extra.linux } : {}),
  };
}

describe('vmrt agent in a QEMU guest', { timeout: 240_000 }, () => {
  let guest: GuestFiles;
  let vm: AgentVm;
  let containerCount = 0;

  /** create + start; returns the process stream and the create answer. */
  async function run(args: string[], process: ProcessExtra = {}, extra: SpecExtra = {}) {
    const id = `c${++containerCount}`;
    const stream = vm.stream();
    const created = await vm.request(stream, { op: 'create', id, spec: spec(args, process, extra) });
    assert.equal(created.ok, true, `create ${id}: ${JSON.stringify(created)}`);
    assert.equal(typeof created.pid, 'number');
    const started = await vm.request(vm.stream(), { op: 'start', id });
    assert.deepEqual(started, { ok: true });
    return { id, stream, pid: created.pid as number };
  }

  before(async () => {
    guest = guestFiles();
    // A NIC on QEMU's user network (10.0.2.0/24, the host is 10.0.2.2) for the network test.
    vm = await AgentVm.boot(guest, ['-netdev', 'user,id=n0', '-device', `virtio-net-device,netdev=n0,mac=${GUEST_MAC}`]);
  });

  after(async () => {
    await vm?.dispose();
  });

  it('says HELLO with the guest kernel release', () => {
    assert.deepEqual(vm.hello, { version: 1, kernel: guest.kernelRelease, agent: '0.1.0' });
    assert.notEqual(guest.kernelRelease, hostRelease());
  });

  it('runs a container from the shared rootfs in the guest kernel', async () => {
    const { stream } = await run(['uname', '-r']);
    const result = await vm.result(stream);
    assert.deepEqual(result, { stdout: `${guest.kernelRelease}\n`, stderr: '', exit: { status: 0, signal: 0 } });
  });

  it('gives the container its hostname, PID 1 and separate stderr', async () => {
    const { stream } = await run(['sh', '-c', 'hostname; echo $$; echo oops >&2']);
    const result = await vm.result(stream);
    assert.deepEqual(result, {
      stdout: 'agent-test\n1\n',
      stderr: 'oops\n',
      exit: { status: 0, signal: 0 },
    });
  });

  it('reports the exit status of the container process', async () => {
    const { stream } = await run(['sh', '-c', 'exit 3']);
    assert.deepEqual((await vm.result(stream)).exit, { status: 3, signal: 0 });
  });

  it('reports 137 for a process killed with SIGNAL 9', async () => {
    const { id, stream } = await run(['sleep', '600']);
    vm.sendJson(FrameType.SIGNAL, stream, { signal: 9 });
    assert.deepEqual(await vm.result(stream), { stdout: '', stderr: '', exit: { status: 137, signal: 9 } });
    const state = await vm.request(vm.stream(), { op: 'state' });
    const entry = (state.containers as { id: string; status: string }[]).find((c) => c.id === id);
    assert.equal(entry?.status, 'stopped');
  });

  it('relays stdin and gives EOF on STDIN_CLOSE', async () => {
    const { stream } = await run(['cat']);
    vm.send(FrameType.STDIN, stream, 'first line\n');
    vm.send(FrameType.STDIN, stream, 'second');
    vm.send(FrameType.STDIN_CLOSE, stream);
    assert.deepEqual(await vm.result(stream), { stdout: 'first line\nsecond', stderr: '', exit: { status: 0, signal: 0 } });
  });

  it('relays megabytes both ways, all output before EXIT', async () => {
    const { stream } = await run(['sh', '-c', 'head -c 3000000 /dev/zero; wc -c']);
    const chunk = Buffer.alloc(1024 * 1024, 0x61);
    for (let i = 0; i < 2; i++) vm.send(FrameType.STDIN, stream, chunk);
    vm.send(FrameType.STDIN_CLOSE, stream);
    const result = await vm.result(stream);
    assert.equal(result.stdout.length, 3_000_000 + '2097152\n'.length);
    assert.equal(result.stdout.slice(3_000_000).trim(), '2097152');
    assert.deepEqual(result.exit, { status: 0, signal: 0 });
  });

  it('runs a terminal process on a pty with the requested size', async () => {
    const { stream } = await run(['sh', '-c', 'stty size; tty'], { terminal: true, consoleSize: { height: 33, width: 101 } });
    const result = await vm.result(stream);
    assert.equal(result.stdout, '33 101\r\n/dev/pts/0\r\n');
    assert.equal(result.stderr, '');
    assert.deepEqual(result.exit, { status: 0, signal: 0 });
  });

  it('fails create when the program does not exist', async () => {
    const answer = await vm.request(vm.stream(), { op: 'create', id: 'missing-program', spec: spec(['no-such-program']) });
    assert.deepEqual(answer, { ok: false, error: 'exec: "no-such-program": executable file not found in $PATH' });
  });

  it('execs into a running container and lists its processes', async () => {
    const { id, stream, pid } = await run(['sleep', '600']);

    const execStream = vm.stream();
    const execAnswer = await vm.request(execStream, {
      op: 'exec',
      id,
      process: {
        args: ['sh', '-c', 'hostname; cat /proc/1/cmdline | tr "\\0" " "; echo; exec sleep 500'],
        env: ['PATH=/bin'],
        cwd: '/tmp',
      },
    });
    assert.equal(execAnswer.ok, true, JSON.stringify(execAnswer));
    const execPid = execAnswer.pid as number;
    // Same uts and pid namespace as the container: its hostname, and its init as PID 1.
    assert.equal(await vm.stdoutUntil(execStream, 'sleep 600 \n'), 'agent-test\nsleep 600 \n');

    type PsEntry = { pid: number; ppid: number; uid: number; state: string; cmd: string[] };
    const expected = [
      { pid, uid: 0, cmd: ['sleep', '600'] },
      { pid: execPid, uid: 0, cmd: ['sleep', '500'] },
    ];
    // The exec'd shell replaces itself with `sleep 500` right after its output, which then
    // goes to sleep: poll briefly.
    let processes: PsEntry[] = [];
    for (let attempt = 0; attempt < 50; attempt++) {
      const ps = await vm.request(vm.stream(), { op: 'ps', id });
      assert.equal(ps.ok, true);
      processes = (ps.processes as PsEntry[]).sort((a, b) => a.pid - b.pid);
      if (processes[1]?.cmd[0] === 'sleep' && processes.every((p) => p.state === 'S')) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.deepEqual(
      processes.map((p) => ({ pid: p.pid, uid: p.uid, cmd: p.cmd })),
      expected,
    );
    assert.ok(
      processes.every((p) => p.state === 'S'),
      JSON.stringify(processes),
    );

    // signal --all reaches the exec'd process too.
    assert.deepEqual(await vm.request(vm.stream(), { op: 'signal', id, signal: 9, all: true }), { ok: true });
    assert.deepEqual((await vm.result(execStream)).exit, { status: 137, signal: 9 });
    assert.deepEqual((await vm.result(stream)).exit, { status: 137, signal: 9 });
  });

  it('applies user, groups, rlimits, umask, cwd, env and HOME from /etc/passwd', async () => {
    const etc = join(vm.dir, 'shared', 'rootfs', 'etc');
    mkdirSync(etc, { recursive: true });
    writeFileSync(join(etc, 'passwd'), 'root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000::/home/user:/bin/sh\n');
    const { stream } = await run(['sh', '-c', 'id -u; id -g; id -G; ulimit -n; umask; pwd; echo "$GREETING $HOME"'], {
      user: { uid: 1000, gid: 1000, additionalGids: [5, 7], umask: 0o27 },
      rlimits: [{ type: 'RLIMIT_NOFILE', soft: 123, hard: 456 }],
      cwd: '/tmp',
      env: ['PATH=/bin', 'GREETING=hello'],
    });
    assert.deepEqual(await vm.result(stream), {
      stdout: '1000\n1000\n1000 5 7\n123\n0027\n/tmp\nhello /home/user\n',
      stderr: '',
      exit: { status: 0, signal: 0 },
    });
  });

  it('bind-mounts shared folders, honours ro, a read-only root and sysctls', async () => {
    const data = join(vm.dir, 'shared', 'data');
    mkdirSync(data);
    writeFileSync(join(data, 'note.txt'), 'from the host\n');
    const { stream } = await run(
      [
        'sh',
        '-c',
        'cat /data/note.txt; touch /data/new 2>&1; touch /rootfile 2>&1; touch /tmp/ok && echo tmp-ok; cat /proc/sys/kernel/domainname',
      ],
      {},
      {
        root: { readonly: true },
        mounts: [{ destination: '/data', type: 'bind', source: '/run/vmrt/shared/data', options: ['rbind', 'ro'] }],
        linux: { sysctl: { 'kernel.domainname': 'vmrt.example' } },
      },
    );
    assert.deepEqual(await vm.result(stream), {
      stdout: 'from the host\ntouch: /data/new: Read-only file system\ntouch: /rootfile: Read-only file system\ntmp-ok\nvmrt.example\n',
      stderr: '',
      exit: { status: 0, signal: 0 },
    });
  });

  it('resizes the terminal of an exec process', async () => {
    const { id } = await run(['sleep', '600']);
    const execStream = vm.stream();
    const answer = await vm.request(execStream, {
      op: 'exec',
      id,
      process: { args: ['sh', '-c', 'stty size; read line; stty size'], env: ['PATH=/bin'], cwd: '/', terminal: true },
    });
    assert.equal(answer.ok, true, JSON.stringify(answer));
    assert.equal(await vm.stdoutUntil(execStream, '24 80\r\n'), '24 80\r\n');
    vm.sendJson(FrameType.RESIZE, execStream, { rows: 50, cols: 132 });
    vm.send(FrameType.STDIN, execStream, 'go\n');
    const result = await vm.result(execStream);
    assert.equal(result.stdout, 'go\r\n50 132\r\n');
    assert.deepEqual(result.exit, { status: 0, signal: 0 });
    assert.deepEqual(await vm.request(vm.stream(), { op: 'signal', id, signal: 9, all: false }), { ok: true });
  });

  it("mounts Docker's default set: /dev tmpfs, devpts, shm size, mqueue, sysfs, cgroup", async () => {
    const dockerMounts = [
      { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
      {
        destination: '/dev/pts',
        type: 'devpts',
        source: 'devpts',
        options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'],
      },
      { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
      { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['ro', 'nosuid', 'noexec', 'nodev'] },
      { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
      { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=32m'] },
    ];
    const { stream } = await run(
      [
        'sh',
        '-c',
        'grep -E " /(dev|sys)" /proc/mounts | cut -d" " -f2,3; grep " /dev/shm " /proc/mounts | grep -o "size=[0-9a-z]*"; ' +
          'head -c 5 /dev/zero | wc -c; echo gone > /dev/null; ls /dev/pts; test -c /dev/urandom && echo urandom',
      ],
      {},
      { mounts: dockerMounts },
    );
    assert.deepEqual(await vm.result(stream), {
      stdout: [
        '/dev tmpfs',
        '/dev/pts devpts',
        '/sys sysfs',
        '/sys/fs/cgroup cgroup2',
        '/dev/mqueue mqueue',
        '/dev/shm tmpfs',
        'size=32768k',
        '5',
        'ptmx',
        'urandom',
        '',
      ].join('\n'),
      stderr: '',
      exit: { status: 0, signal: 0 },
    });
  });

  it('applies linux.resources in a cgroup of its own, seen as the cgroup root', async () => {
    const { stream } = await run(
      [
        'sh',
        '-c',
        'cat /proc/self/cgroup /sys/fs/cgroup/memory.max /sys/fs/cgroup/pids.max /sys/fs/cgroup/cpu.max /sys/fs/cgroup/cpu.weight',
      ],
      {},
      {
        mounts: [{ destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['nosuid', 'noexec', 'nodev'] }],
        linux: { resources: { memory: { limit: 33554432 }, pids: { limit: 20 }, cpu: { quota: 50000, period: 100000, shares: 512 } } },
      },
    );
    assert.deepEqual(await vm.result(stream), {
      stdout: '0::/\n33554432\n20\n50000 100000\n20\n',
      stderr: '',
      exit: { status: 0, signal: 0 },
    });
  });

  it('masks linux.maskedPaths, protects linux.readonlyPaths and sets oomScoreAdj', async () => {
    const { stream } = await run(
      [
        'sh',
        '-c',
        'wc -c < /proc/kcore; ls /sys/firmware | wc -l; (echo x > /proc/sys/kernel/domainname) 2>&1; cat /proc/self/oom_score_adj',
      ],
      { oomScoreAdj: 500 },
      {
        mounts: [{ destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] }],
        linux: {
          maskedPaths: ['/proc/kcore', '/sys/firmware', '/proc/does-not-exist'],
          readonlyPaths: ['/proc/sys', '/proc/sysrq-trigger'],
        },
      },
    );
    assert.deepEqual(await vm.result(stream), {
      stdout: "0\n0\nsh: can't create /proc/sys/kernel/domainname: Read-only file system\n500\n",
      stderr: '',
      exit: { status: 0, signal: 0 },
    });
  });

  it('applies linux.seccomp to the container process and to exec', async () => {
    const seccomp = {
      defaultAction: 'SCMP_ACT_ALLOW',
      architectures: ['SCMP_ARCH_X86_64'],
      syscalls: [
        { names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 },
        { names: ['kill'], action: 'SCMP_ACT_ERRNO', errnoRet: 13, args: [{ index: 1, value: 10, op: 'SCMP_CMP_EQ' }] },
        {
          names: ['kill'],
          action: 'SCMP_ACT_ERRNO',
          errnoRet: 1,
          args: [
            { index: 1, value: 20, op: 'SCMP_CMP_GE' },
            { index: 1, value: 25, op: 'SCMP_CMP_LE' },
          ],
        },
        { names: ['no_such_syscall'], action: 'SCMP_ACT_KILL' },
      ],
    };
    const { id, stream } = await run(
      ['sh', '-c', 'mkdir /tmp/a; kill -10 1; kill -21 1; kill -26 1 && echo allowed-26; kill -0 1 && echo allowed-0; read x'],
      {},
      { linux: { seccomp } },
    );
    const execStream = vm.stream();
    await vm.stdoutUntil(stream, 'allowed-0\n');
    const execAnswer = await vm.request(execStream, {
      op: 'exec',
      id,
      process: { args: ['mkdir', '/tmp/b'], env: ['PATH=/bin'], cwd: '/' },
    });
    assert.equal(execAnswer.ok, true, JSON.stringify(execAnswer));
    assert.deepEqual(await vm.result(execStream), {
      stdout: '',
      stderr: "mkdir: can't create directory '/tmp/b': Operation not permitted\n",
      exit: { status: 1, signal: 0 },
    });
    vm.send(FrameType.STDIN_CLOSE, stream);
    assert.deepEqual(await vm.result(stream), {
      stdout: '',
      stderr: [
        "mkdir: can't create directory '/tmp/a': Operation not permitted",
        "sh: can't kill pid 1: Permission denied",
        "sh: can't kill pid 1: Operation not permitted",
        '',
      ].join('\n'),
      exit: { status: 1, signal: 0 },
    });
  });

  it('applies a long allowlist with an ERRNO default and defaultErrnoRet', async () => {
    // Every syscall the agent knows (the Makefile's table) except mkdir/mkdirat: a filter of
    // Docker's size whose default action is taken only for those two.
    const table = readFileSync(join(GUEST_DIR, '..', 'syscall_names.h'), 'utf8');
    const names = [...table.matchAll(/\{ "(\w+)"/g)].map((m) => m[1]!).filter((n) => n !== 'mkdir' && n !== 'mkdirat');
    assert.ok(names.length > 300, `only ${names.length} syscall names`);
    const seccomp = {
      defaultAction: 'SCMP_ACT_ERRNO',
      defaultErrnoRet: 38,
      syscalls: [{ names, action: 'SCMP_ACT_ALLOW' }],
    };
    const { stream } = await run(['sh', '-c', 'mkdir /tmp/a; echo still-running'], {}, { linux: { seccomp } });
    assert.deepEqual(await vm.result(stream), {
      stdout: 'still-running\n',
      stderr: "mkdir: can't create directory '/tmp/a': Function not implemented\n",
      exit: { status: 0, signal: 0 },
    });
  });

  it('limits the capability sets to process.capabilities', async () => {
    const caps = ['CAP_CHOWN', 'CAP_KILL', 'CAP_NET_BIND_SERVICE'];
    const { stream } = await run(['grep', '-E', '^Cap(Prm|Eff|Bnd)', '/proc/self/status'], {
      capabilities: { bounding: caps, effective: caps, permitted: caps, inheritable: [] },
      noNewPrivileges: true,
    });
    assert.deepEqual(await vm.result(stream), {
      stdout: 'CapPrm:\t0000000000000421\nCapEff:\t0000000000000421\nCapBnd:\t0000000000000421\n',
      stderr: '',
      exit: { status: 0, signal: 0 },
    });
  });

  it('configures the guest network from the org.vmrt.network annotation', async () => {
    const server = createServer((_req, res) => res.end('hello from the host\n'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    try {
      const network = {
        interfaces: [{ name: 'ctr0', mac: GUEST_MAC, mtu: 1400, addresses: ['10.0.2.15/24'], tap: 'vmrt-tap0' }],
        routes: [{ dst: 'default', gateway: '10.0.2.2', dev: 'ctr0' }],
      };
      const id = `c${++containerCount}`;
      const stream = vm.stream();
      const body = spec(
        [
          'sh',
          '-c',
          `cat /sys/class/net/ctr0/address /sys/class/net/ctr0/mtu; ip -4 addr show dev ctr0 | grep -o "inet [0-9./]*"; ip route; wget -qO- http://10.0.2.2:${port}/`,
        ],
        {},
        { mounts: [{ destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['ro'] }] },
      );
      const created = await vm.request(stream, {
        op: 'create',
        id,
        spec: { ...body, annotations: { 'org.vmrt.network': JSON.stringify(network) } },
      });
      assert.equal(created.ok, true, JSON.stringify(created));
      assert.deepEqual(await vm.request(vm.stream(), { op: 'start', id }), { ok: true });
      assert.deepEqual(await vm.result(stream), {
        stdout: `${GUEST_MAC}\n1400\ninet 10.0.2.15/24\ndefault via 10.0.2.2 dev ctr0 \n10.0.2.0/24 dev ctr0 scope link  src 10.0.2.15 \nhello from the host\n`,
        stderr: '',
        exit: { status: 0, signal: 0 },
      });
    } finally {
      server.close();
    }
  });

  it('fails create when the annotated NIC does not exist', async () => {
    const network = { interfaces: [{ name: 'eth9', mac: '02:00:00:00:00:99', mtu: 1500, addresses: [], tap: 'x' }], routes: [] };
    const answer = await vm.request(vm.stream(), {
      op: 'create',
      id: 'no-nic',
      spec: { ...spec(['true']), annotations: { 'org.vmrt.network': JSON.stringify(network) } },
    });
    assert.deepEqual(answer, { ok: false, error: 'guest network: interface eth9 (02:00:00:00:00:99): no NIC with that MAC' });
  });

  it('answers malformed frames with an error and keeps serving', async () => {
    vm.send(FrameType.REQUEST, 77, '{"op": "state"');
    assert.deepEqual(await vm.response(77), { ok: false, error: 'malformed frame: payload is not one JSON object' });

    vm.send(0x7f, 78, 'x');
    assert.deepEqual(await vm.response(78), { ok: false, error: 'malformed frame: unknown frame type' });

    const badVersion = Buffer.from([0, 0, 0, 8, 9, FrameType.REQUEST, 0, 0, 0, 79, 0x7b, 0x7d]);
    vm.sendRaw(badVersion);
    assert.deepEqual(await vm.response(79), { ok: false, error: 'malformed frame: unsupported protocol version' });

    // A length below 6 cannot be trusted: answered on stream 0, the buffered input is dropped.
    vm.sendRaw(Buffer.from([0, 0, 0, 2, 1, 2]));
    assert.deepEqual(await vm.response(0), { ok: false, error: 'malformed frame: frame length below 6' });

    assert.deepEqual(await vm.request(80, { op: 'no-such-op' }), { ok: false, error: 'unknown op' });
    assert.deepEqual(await vm.request(82, { op: 'start', id: 'nobody' }), { ok: false, error: 'container "nobody" does not exist' });
    assert.deepEqual(await vm.request(83, { op: 'create', id: 'no-root', spec: { process: { args: ['sh'] } } }), {
      ok: false,
      error: 'spec.root.path must be an absolute guest path',
    });
    vm.send(FrameType.STDIN, 4242, 'to nobody');
    const state = await vm.request(81, { op: 'state' });
    assert.equal(state.ok, true);
    assert.ok(Array.isArray(state.containers));
  });

  it('powers the VM off when the host closes the agent socket', async () => {
    await run(['sleep', '600']);
    vm.disconnect();
    const code = await Promise.race([
      vm.exited,
      new Promise<string>((resolve) => setTimeout(() => resolve('still running after 20 s'), 20_000)),
    ]);
    assert.equal(code, 0);
  });
});

describe('vmrt agent shutdown', { timeout: 120_000 }, () => {
  let vm: AgentVm;

  before(async () => {
    vm = await AgentVm.boot(guestFiles());
  });

  after(async () => {
    await vm?.dispose();
  });

  it('answers shutdown, ends the running containers and powers off', async () => {
    const stream = vm.stream();
    assert.equal((await vm.request(stream, { op: 'create', id: 'sleeper', spec: spec(['sleep', '600']) })).ok, true);
    assert.deepEqual(await vm.request(vm.stream(), { op: 'start', id: 'sleeper' }), { ok: true });
    assert.deepEqual(await vm.request(vm.stream(), { op: 'shutdown' }), { ok: true });
    const code = await Promise.race([
      vm.exited,
      new Promise<string>((resolve) => setTimeout(() => resolve('still running after 20 s'), 20_000)),
    ]);
    assert.equal(code, 0);
  });
});
