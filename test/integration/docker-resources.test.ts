/**
 * Resource limits of vmrt containers under a private dockerd, looked at inside the VM and on the
 * host: --memory (VM size, guest cgroup, OOM kills as Docker sees them), `vmrt events`,
 * --pids-limit, --ulimit, --read-only, and block I/O limits on the host cgroup.
 * Needs root, docker.io, QEMU, the guest and shim.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { dockerdForFile, type Dockerd } from '../support/dockerd.js';
import { REPO } from '../support/images.js';
import { containerProcesses, processesMentioning } from '../support/leftovers.js';
import { rssKiBOf } from '../support/cycles.js';
import { runDirFor } from '../../runtime/src/state.js';
import { agentSocket } from '../../runtime/src/container.js';
import { memoryMiBFor } from '../../runtime/src/vm.js';
import { sleep, waitFor } from '../support/wait.js';

const IMAGE = 'vmrt-test-busybox';
const VMRT = join(REPO, 'runtime', 'bin', 'vmrt');
const MiB = 1024 * 1024;
let d: Dockerd;
let limited: string | undefined;

dockerdForFile(IMAGE, (daemon) => {
  d = daemon;
});

/** One VM with every limit these tests look at from inside (each boot costs seconds under TCG). */
function limitedContainer(): string {
  if (limited) return limited;
  const volume = join(d.dir, 'limited-volume');
  mkdirSync(volume);
  limited = d
    .dockerOk([
      'run',
      '-d',
      '--runtime',
      'vmrt',
      '--name',
      'limited',
      '--memory',
      '48m',
      '--pids-limit',
      '10',
      '--ulimit',
      'nofile=256:512',
      '--read-only',
      '--tmpfs',
      '/tmp',
      '-v',
      `${volume}:/data`,
      // A shell as init reaps the processes left to it (the pids test leaves some).
      IMAGE,
      'sh',
      '-c',
      'sleep 1000 & wait',
    ])
    .trim();
  return limited;
}

function inLimited(script: string): [number, string, string] {
  const r = d.docker(['exec', limitedContainer(), 'sh', '-c', script]);
  return [r.status, r.stdout, r.stderr];
}

function vmrt(args: string[]) {
  return spawnSync(VMRT, ['--root', d.runtimeRoot, ...args], { encoding: 'utf8', timeout: 60000 });
}

/** The memory cgroup folder of a container on the host (the test dockerd's cgroupfs layout). */
function hostCgroup(controller: string, id: string): string {
  return join('/sys/fs/cgroup', controller, 'docker', id);
}

function qemuArgsOf(id: string): string[] {
  const qemu = processesMentioning(agentSocket(runDirFor(d.runtimeRoot, id))).find((p) => p.includes('qemu-system'));
  assert.ok(qemu, 'QEMU runs');
  return readFileSync(`/proc/${qemu.split(':')[0]}/cmdline`, 'utf8').split('\0');
}

/** What `docker events` recorded for a container between two times, as "action exitCode" lines. */
function dockerEvents(id: string, since: string): string[] {
  const out = d.dockerOk([
    'events',
    '--since',
    since,
    '--until',
    new Date().toISOString(),
    '--filter',
    `container=${id}`,
    '--format',
    '{{.Action}} {{index .Actor.Attributes "exitCode"}}',
  ]);
  return out
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => /^(oom|die)\b/.test(l));
}

test("--memory sizes the VM for the limit plus the guest's own needs; the guest cgroup enforces the exact limit", () => {
  const args = qemuArgsOf(limitedContainer());
  assert.equal(args[args.indexOf('-m') + 1], String(memoryMiBFor({ memory: { limit: 48 * MiB } })));
  const [status, out] = inLimited("cat /sys/fs/cgroup/memory.max; awk '/MemAvailable/ {print $2}' /proc/meminfo");
  const [max, availableKiB] = out.trim().split('\n').map(Number);
  assert.deepEqual([status, max], [0, 48 * MiB]);
  assert.ok(availableKiB! * 1024 > 48 * MiB, `the guest has more than the limit available: ${availableKiB} KiB`);
});

test('without --memory: what the guest fills and frees goes back to the host within seconds', async () => {
  const id = d.dockerOk(['run', '-d', '--runtime', 'vmrt', '--tmpfs', '/fill:size=400m', IMAGE, 'sleep', '1000']).trim();
  try {
    const qemu = containerProcesses(d.runtimeRoot, id).qemu;
    assert.ok(qemu, 'QEMU runs');
    const idleMiB = rssKiBOf(qemu) / 1024;
    d.dockerOk(['exec', id, 'dd', 'if=/dev/zero', 'of=/fill/f', 'bs=1M', 'count=256']);
    const filledMiB = rssKiBOf(qemu) / 1024;
    assert.ok(filledMiB - idleMiB >= 200, `QEMU grew by the 256 MiB the guest wrote: ${idleMiB.toFixed(0)} → ${filledMiB.toFixed(0)} MiB`);
    d.dockerOk(['exec', id, 'rm', '/fill/f']);
    let nowMiB = filledMiB;
    await waitFor(
      `QEMU's RSS back near its idle ${idleMiB.toFixed(0)} MiB`,
      () => ((nowMiB = rssKiBOf(qemu) / 1024) < idleMiB + 32 ? true : undefined),
      30000,
      () => `: ${nowMiB.toFixed(0)} MiB`,
    );
  } finally {
    d.docker(['rm', '-f', id]);
  }
});

test("feature events: an OOM kill in the guest is Docker's OOM kill: exit 137, OOMKilled, one oom event", () => {
  const since = new Date().toISOString();
  // dd's 40 MiB buffer does not fit a 16 MiB limit: the guest kernel's OOM killer ends the container's init.
  const r = d.docker([
    'run',
    '--name',
    'oom',
    '--runtime',
    'vmrt',
    '--memory',
    '16m',
    IMAGE,
    'dd',
    'if=/dev/zero',
    'of=/dev/null',
    'bs=40M',
    'count=1',
  ]);
  assert.equal(r.status, 137, r.stderr);
  const id = d.dockerOk(['inspect', '--format', '{{.Id}}', 'oom']).trim();
  assert.equal(d.dockerOk(['inspect', '--format', '{{.State.OOMKilled}} {{.State.ExitCode}}', 'oom']).trim(), 'true 137');
  assert.deepEqual(dockerEvents(id, since), ['oom', 'die 137']);
  d.dockerOk(['rm', 'oom']);
});

test("feature events: vmrt events --stats prints runc's stats object for the guest cgroup", () => {
  const id = limitedContainer();
  const r = vmrt(['events', '--stats', id]);
  assert.equal(r.status, 0, r.stderr);
  const event = JSON.parse(r.stdout) as { type: string; id: string; data: Record<string, any> };
  assert.deepEqual([event.type, event.id], ['stats', id]);
  const { data } = event;
  assert.equal(data.memory.usage.limit, 48 * MiB);
  assert.ok(data.memory.usage.usage > 0 && data.memory.raw.anon !== undefined, JSON.stringify(data.memory.usage));
  assert.ok(data.pids.current >= 1 && data.pids.limit === 10, JSON.stringify(data.pids));
  assert.ok(data.cpu.usage.total > 0, JSON.stringify(data.cpu));
  // The same shape as runc's own output for a runc container of this daemon.
  const runcId = d.dockerOk(['run', '-d', '--runtime', 'runc', IMAGE, 'sleep', '1000']).trim();
  const runc = spawnSync('runc', ['--root', d.runtimeRoot, 'events', '--stats', runcId], { encoding: 'utf8' });
  d.dockerOk(['rm', '-f', runcId]);
  assert.equal(runc.status, 0, runc.stderr);
  const reference = (JSON.parse(runc.stdout) as { data: Record<string, any> }).data;
  assert.deepEqual(Object.keys(data), Object.keys(reference));
  // Below that, Go leaves out zero numbers and empty lists (omitempty): the fields of runc's types.
  const fields = {
    cpu: ['usage', 'throttling'],
    memory: ['cache', 'usage', 'swap', 'kernel', 'kernelTCP', 'raw'],
    'memory.usage': ['limit', 'usage', 'max', 'failcnt'],
    'cpu.usage': ['total', 'percpu', 'percpu_kernel', 'percpu_user', 'kernel', 'user'],
  };
  for (const [path, names] of Object.entries(fields)) {
    const [own, theirs] = [data, reference].map((root) => path.split('.').reduce((o, k) => o[k], root) as Record<string, unknown>);
    for (const keys of [Object.keys(own!), Object.keys(theirs!)])
      assert.deepEqual(
        keys,
        names.filter((n) => keys.includes(n)),
        path,
      );
  }
});

test('--pids-limit: the guest cgroup refuses processes beyond the limit', async () => {
  // The inner shell starts sleeps until a fork fails (which ends it with status 2); only builtins follow.
  const [status, out, err] = inLimited(
    'read max < /sys/fs/cgroup/pids.max; echo max=$max; sh -c "while :; do sleep 2 & done"; echo forks=$?; read n < /sys/fs/cgroup/pids.current; echo current=$n',
  );
  assert.deepEqual([status, out.replace(/current=\d+/, 'current=N')], [0, 'max=10\nforks=2\ncurrent=N\n']);
  assert.ok(Number(/current=(\d+)/.exec(out)![1]) >= 8, out);
  assert.match(err, /can't fork: Resource temporarily unavailable/);
  // The sleeps end and the container's init reaps them: room again for the next tests.
  await sleep(3000);
});

test("--ulimit nofile=256:512 applies to the container's processes in the VM", () => {
  assert.deepEqual(inLimited("ulimit -n; ulimit -Hn; grep 'open files' /proc/1/limits | tr -s ' '"), [
    0,
    '256\n512\nMax open files 256 512 files \n',
    '',
  ]);
});

test('--read-only: the root is read-only in the VM, a --tmpfs stays writable', () => {
  assert.deepEqual(inLimited("touch /x; echo x=$?; touch /tmp/y && echo tmp=ok; grep ' / ' /proc/mounts | grep -o '\\bro\\b'"), [
    0,
    'x=1\ntmp=ok\nro\n',
    'touch: /x: Read-only file system\n',
  ]);
});

/** The block device (and its /dev path) that holds the daemon's files: the bind mount's. */
function blockDevice(path: string): { major: number; minor: number; dev: string } {
  const st = statSync(path);
  const major = Number((BigInt(st.dev) >> 8n) & 0xfffn);
  const minor = Number((BigInt(st.dev) & 0xffn) | ((BigInt(st.dev) >> 12n) & ~0xffn));
  let uevent: string;
  try {
    uevent = readFileSync(`/sys/dev/block/${major}:${minor}/uevent`, 'utf8');
  } catch {
    throw new Error(`${path} is on device ${major}:${minor}, which is no block device: the blkio test needs a disk`);
  }
  return { major, minor, dev: `/dev/${/^DEVNAME=(.+)$/m.exec(uevent)![1]}` };
}

test("feature blkio: --device-write-bps/--device-read-bps on the host disk slow the VM's I/O on a volume; every throttle lands in the host cgroup", () => {
  const volume = join(d.dir, 'blkio-volume');
  mkdirSync(volume);
  const disk = blockDevice(volume);
  const device = `${disk.major}:${disk.minor}`;
  const id = d
    .dockerOk([
      'run',
      '-d',
      '--runtime',
      'vmrt',
      '-v',
      `${volume}:/data`,
      '--device-write-bps',
      `${disk.dev}:2mb`,
      '--device-read-bps',
      `${disk.dev}:3mb`,
      '--device-write-iops',
      `${disk.dev}:400`,
      '--device-read-iops',
      `${disk.dev}:500`,
      IMAGE,
      'sleep',
      '1000',
    ])
    .trim();
  try {
    const blkio = hostCgroup('blkio', id);
    const file = (name: string) => readFileSync(join(blkio, `blkio.throttle.${name}`), 'utf8');
    assert.deepEqual(
      [file('write_bps_device'), file('read_bps_device'), file('write_iops_device'), file('read_iops_device')],
      [`${device} 2097152\n`, `${device} 3145728\n`, `${device} 400\n`, `${device} 500\n`],
    );
    /** Seconds of `dd <args>` in the container, from busybox time ("real\t0m 4.08s"). */
    const seconds = (container: string, args: string) => {
      const r = d.docker(['exec', container, 'sh', '-c', `time dd ${args}`]);
      const [, minutes, secs] = /^real\s+(\d+)m\s*([\d.]+)s$/m.exec(r.stderr) ?? [];
      assert.ok(r.status === 0 && secs !== undefined, `${r.stdout}${r.stderr}`);
      return Number(minutes) * 60 + Number(secs);
    };
    // conv=fsync makes QEMU write the disk. 8 MiB at 2 MiB/s: about 4 s; the same write without a
    // limit (another VM, same disk) is fast.
    const write = 'if=/dev/zero of=/data/f bs=1M count=8 conv=fsync';
    const limitedWrite = seconds(id, write);
    const freeWrite = seconds(limitedContainer(), write);
    assert.ok(
      limitedWrite >= 3 && freeWrite < limitedWrite / 3,
      `8 MiB: ${limitedWrite} s with a 2 MiB/s write limit, ${freeWrite} s without`,
    );
    // Reads reach the disk once the host's cache lost the file: 8 MiB at 3 MiB/s take over 2 s.
    const drop = spawnSync('dd', [`if=${join(volume, 'f')}`, 'iflag=nocache', 'count=0', 'status=none']);
    assert.equal(drop.status, 0, String(drop.stderr));
    const limitedRead = seconds(id, 'if=/data/f of=/dev/null bs=1M');
    assert.ok(limitedRead >= 2, `8 MiB read in ${limitedRead} s with a 3 MiB/s read limit`);
  } finally {
    d.dockerOk(['rm', '-f', id]);
  }
});

test("feature events: the vmrt events stream prints stats every interval and an OOM kill of an exec'd process; the container lives on, the host killed nothing", async () => {
  const id = limitedContainer();
  const stream = spawn(VMRT, ['--root', d.runtimeRoot, 'events', '--interval', '1s', id], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  stream.stdout.on('data', (chunk: Buffer) => {
    out += chunk.toString();
  });
  const ended = new Promise<number | null>((resolve) => stream.on('exit', resolve));
  try {
    await sleep(2500);
    // 64 MiB do not fit the 48 MiB limit: the exec'd dd is killed, the container's init is not.
    const r = d.docker(['exec', id, 'dd', 'if=/dev/zero', 'of=/dev/null', 'bs=64M', 'count=1']);
    assert.equal(r.status, 137, r.stderr);
    await sleep(1500);
    assert.equal(d.dockerOk(['inspect', '--format', '{{.State.Running}}', id]).trim(), 'true');
    // The host cgroup went through an OOM of its own and has its limits back.
    const control = readFileSync(join(hostCgroup('memory', id), 'memory.oom_control'), 'utf8');
    assert.match(control, /^oom_kill_disable 0\nunder_oom 0\noom_kill 0\n/);
    assert.ok(Number(readFileSync(join(hostCgroup('memory', id), 'memory.limit_in_bytes'), 'utf8')) > 2 ** 62);
  } finally {
    d.dockerOk(['rm', '-f', id]);
    limited = undefined;
  }
  assert.equal(await ended, 0, 'the stream ends with the container');
  const events = out
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { type: string; id: string });
  assert.ok(events.every((e) => e.id === id));
  const types = events.map((e) => e.type);
  assert.deepEqual(
    types.filter((t) => t === 'oom'),
    ['oom'],
  );
  assert.ok(types.filter((t) => t === 'stats').length >= 3, types.join(' '));
});
