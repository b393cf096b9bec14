/**
 * vmrt under a hostile guest, faults and load, through a private dockerd (started here): root in
 * a privileged container attacks the host side (serial port, agent port, shared folders under
 * virtio-fs and 9p); QEMU, shims and the guest kernel die at bad moments; a guest floods its
 * stdout. After each, Docker reports the container's end within seconds and nothing is left.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { release } from 'node:os';
import type { ChildProcess } from 'node:child_process';
import { dockerdForFile, startDockerd, type Dockerd } from '../support/dockerd.js';
import { importBusyboxImage, REPO } from '../support/images.js';
import { assertNothingLeft, containerProcesses } from '../support/leftovers.js';
import { SHIM_MEMORY_BOUND_KIB, peakRssKiB } from '../support/memory.js';
import { FLOOD_SCRIPT, checkFlood } from '../support/sequence.js';
import { sleep, waitFor } from '../support/wait.js';
import { consoleLogOf } from '../../runtime/src/container.js';
import { processesMentioning as liveProcessesMentioning } from '../../runtime/src/proc.js';
import { cgroupMounts } from '../../runtime/src/cgroups.js';

const IMAGE = 'vmrt-test-busybox';
const GUEST_KERNEL = readFileSync(join(REPO, 'runtime', 'build', 'guest', 'kernel-release'), 'utf8').trim();
/** Docker must see a dead VM's container end within this (TCG on a shared machine is slow). */
const REPORTED_WITHIN_MS = 30000;
let d: Dockerd;

dockerdForFile(IMAGE, (daemon) => {
  d = daemon;
});

const hostProcesses = (id: string) => containerProcesses(d.runtimeRoot, id);

function runDetached(args: string[]): string {
  return d.dockerOk(['run', '-d', '--runtime', 'vmrt', ...args]).trim();
}

/** docker exec CLIs still running at the end (a failed test's), ended then so that the run ends. */
const execClis: ChildProcess[] = [];
after(() => {
  for (const child of execClis) if (child.exitCode === null) child.kill('SIGKILL');
});

/** A docker CLI left running (e.g. `docker exec`): resolves with its exit status once it ends. */
function startDockerCli(args: string[]): { child: ChildProcess; output: () => string; exited: Promise<number | null> } {
  const child = d.spawnDocker(args);
  execClis.push(child);
  let output = '';
  child.stdout!.on('data', (b: Buffer) => (output += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (output += b.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  return { child, output: () => output, exited };
}

/** Asserts the exit status Docker reports (`docker wait`), and that it came within REPORTED_WITHIN_MS of `since`. */
function assertReportedExit(id: string, status: number, since = Date.now()): void {
  const r = d.docker(['wait', id], { timeoutMs: REPORTED_WITHIN_MS * 2 });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim(), String(status));
  assert.ok(Date.now() - since < REPORTED_WITHIN_MS, `reported after ${Date.now() - since} ms`);
}

/** A running container with a `docker exec` in it that has started. */
async function containerWithExec(): Promise<{ id: string; exec: ReturnType<typeof startDockerCli> }> {
  const id = runDetached([IMAGE, 'sleep', '1000']);
  const exec = startDockerCli(['exec', id, 'sh', '-c', 'echo started; sleep 1001']);
  await waitFor('the exec to start', () => (exec.output().includes('started') ? true : undefined), 60000);
  return { id, exec };
}

/** The promise's value, or a failure after REPORTED_WITHIN_MS: a hung CLI fails its test instead of the run. */
async function within<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${REPORTED_WITHIN_MS / 1000} s waiting for ${what}`)), REPORTED_WITHIN_MS);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

async function removeAndCheck(id: string): Promise<void> {
  d.dockerOk(['rm', id]);
  await assertNothingLeft(d.runtimeRoot, id);
}

describe('a hostile guest', () => {
  test('root in a privileged container: the agent port is busy, junk on the serial port and stdout leaves the shim small and the console log bounded', async () => {
    const id = runDetached([
      '--privileged',
      IMAGE,
      'sh',
      '-c',
      [
        // Device nodes in a tmpfs of the guest's own (the shared rootfs's file server makes none).
        'mkdir /tmp/nodes && mount -t tmpfs nodes /tmp/nodes',
        // The agent's port: the guest kernel lets one holder open it, and the agent holds it.
        'port=$(grep -l org.vmrt.agent /sys/class/virtio-ports/*/name)',
        'mknod /tmp/nodes/agent c $(tr : " " < "${port%/name}/dev")',
        'echo junk 2>/dev/null > /tmp/nodes/agent && echo agent-port-open || echo agent-port-busy',
        // 1.5 MiB of junk at the serial port, which QEMU writes to the host's console log.
        'mknod /tmp/nodes/serial c 4 64',
        'i=0; while [ $i -lt 24 ]; do head -c 65536 /dev/urandom > /tmp/nodes/serial; i=$((i+1)); done',
        'head -c 262144 /dev/urandom',
        'echo; echo junk-done; sleep 1000',
      ].join('; '),
    ]);
    const { initShim } = hostProcesses(id);
    assert.ok(initShim, 'the init shim runs');
    const logs = await waitFor(
      'the junk to be written',
      () => {
        const out = d.docker(['logs', id]).stdout;
        return out.includes('junk-done') ? out : undefined;
      },
      120000,
    );
    assert.match(logs, /^agent-port-busy\n/);
    assert.equal(d.dockerOk(['exec', id, 'echo', 'still serving']), 'still serving\n');
    const peak = peakRssKiB(initShim);
    assert.ok(peak !== undefined && peak < SHIM_MEMORY_BOUND_KIB, `init shim peak RSS ${peak} KiB`);
    // The shim looks once a second: after a look, the file holds at most 1 MiB.
    await sleep(1500);
    const consoleLog = statSync(consoleLogOf(d.runtimeRoot, id));
    assert.ok(consoleLog.size > 1.5 * 1024 * 1024, `the junk reached the console log (${consoleLog.size} bytes)`);
    assert.ok(consoleLog.blocks * 512 <= 1024 * 1024, `the console log holds ${consoleLog.blocks * 512} bytes`);
    d.dockerOk(['rm', '-f', id]);
    await assertNothingLeft(d.runtimeRoot, id);
  });
});

describe('shared folders: nothing outside the share is read or written on the host', () => {
  let ninep: Dockerd | undefined;
  before(async () => {
    // The 9p fallback: a daemon whose runtime calls see VMRT_SHARED_FS=9p.
    const saved = process.env.VMRT_SHARED_FS;
    process.env.VMRT_SHARED_FS = '9p';
    try {
      ninep = await startDockerd();
    } finally {
      if (saved === undefined) delete process.env.VMRT_SHARED_FS;
      else process.env.VMRT_SHARED_FS = saved;
    }
    importBusyboxImage((args, input) => ninep!.dockerOk(args, input), ninep.dir, IMAGE);
  });
  after(async () => {
    if (!ninep) return;
    ninep.removeAllContainers();
    await ninep.stop();
  });

  for (const fs of ['virtiofs', '9p'] as const) {
    test(`${fs}: symlinks and .. to host paths, a planted symlink, a hard link out, a device node`, async () => {
      const daemon = fs === '9p' ? ninep! : d;
      const base = mkdtempSync('/tmp/vmrt-share-');
      try {
        const volume = join(base, 'volume');
        const outside = join(base, 'outside');
        mkdirSync(volume);
        mkdirSync(outside);
        writeFileSync(join(outside, 'secret'), 'host secret\n');
        symlinkSync(join(outside, 'secret'), join(volume, 'absolute-link'));
        symlinkSync('../outside/secret', join(volume, 'relative-link'));
        const script = [
          'mount | grep " /vol "',
          `cat /vol/absolute-link /vol/relative-link /vol/../outside/secret ${outside}/secret`,
          // A link made in the container's own root filesystem, to the host's path.
          `ln -s ${outside}/secret /rootfs-link; cat /rootfs-link`,
          // Writes through links to host paths.
          `ln -s ${outside}/planted /vol/planted; echo planted > /vol/planted`,
          'echo overwritten > /vol/relative-link; echo overwritten > /vol/absolute-link',
          'ln /etc/hostname /vol/hard-link || echo no-hard-link-out',
          // A device node in the share: refused by virtiofsd (no CAP_MKNOD), in a volume and in
          // the rootfs; under 9p made, as under runc, and in the guest the guest's device (its kernel log).
          'mknod /vol/kmsg c 1 11 && head -n 1 /vol/kmsg || echo no-device-node',
          'mknod /rootfs-kmsg c 1 11 && echo rootfs-device-node || echo no-rootfs-device-node',
          'echo done',
        ].join('; ');
        const r = daemon.docker(['run', '--rm', '--runtime', 'vmrt', '--privileged', '-v', `${volume}:/vol`, IMAGE, 'sh', '-c', script]);
        assert.equal(r.status, 0, r.stderr);
        assert.match(r.stdout, new RegExp(`^\\S+ on /vol type ${fs === '9p' ? '9p' : 'virtiofs'} `));
        assert.doesNotMatch(r.stdout + r.stderr, /host secret/);
        assert.match(r.stdout, /no-hard-link-out\n/);
        const nodes = /\n(.*)\n(.*)\ndone\n$/.exec(r.stdout);
        assert.ok(nodes, r.stdout);
        if (fs === 'virtiofs') {
          assert.deepEqual(nodes.slice(1), ['no-device-node', 'no-rootfs-device-node']);
        } else {
          assert.match(nodes[1]!, new RegExp(`Linux version ${GUEST_KERNEL.replace(/[.+]/g, '\\$&')} `));
          assert.doesNotMatch(nodes[1]!, new RegExp(`Linux version ${release().replace(/[.+]/g, '\\$&')} `));
          assert.equal(nodes[2], 'rootfs-device-node');
        }
        assert.deepEqual(readdirSync(outside), ['secret']);
        assert.equal(readFileSync(join(outside, 'secret'), 'utf8'), 'host secret\n');
      } finally {
        rmSync(base, { recursive: true, force: true });
      }
    });
  }
});

describe('faults: Docker reports the end within seconds, docker rm works, nothing is left', () => {
  test('kill -9 of QEMU during an exec: the exec and the container end with 255', async () => {
    const { id, exec } = await containerWithExec();
    process.kill(hostProcesses(id).qemu!, 'SIGKILL');
    assertReportedExit(id, 255);
    assert.equal(await within(exec.exited, 'the docker exec to end'), 255);
    await removeAndCheck(id);
  });

  test('kill -9 of the init shim while an exec runs: the container ends with 137', async () => {
    const { id, exec } = await containerWithExec();
    process.kill(hostProcesses(id).initShim!, 'SIGKILL');
    assertReportedExit(id, 137);
    // Its exec shim ends with it, after it: containerd 1.6.20 (Debian's) publishes the init's exit
    // first and Docker then drops the exec's, so that docker exec hangs (later containerd
    // publishes an init's exit after its execs').
    exec.child.kill();
    await removeAndCheck(id);
  });

  test('kill -9 of an exec shim: its process is killed in the guest, the container runs on', async () => {
    const { id, exec } = await containerWithExec();
    const [execShim] = hostProcesses(id).execShims;
    assert.ok(execShim, 'the exec shim runs');
    process.kill(execShim, 'SIGKILL');
    assert.equal(await within(exec.exited, 'the docker exec to end'), 137);
    await waitFor(
      'the exec process to be gone from the guest',
      () => {
        const ps = d.dockerOk(['exec', id, 'ps', '-o', 'args']);
        return ps.includes('sleep 1001') ? undefined : true;
      },
      30000,
    );
    assert.equal(d.dockerOk(['inspect', '-f', '{{.State.Status}}', id]).trim(), 'running');
    d.dockerOk(['stop', '-t', '1', id]);
    await removeAndCheck(id);
  });

  test("kill -9 of the container's init in the guest during an exec: 137, the exec ends", async () => {
    const { id, exec } = await containerWithExec();
    d.dockerOk(['kill', '-s', 'KILL', id]);
    assertReportedExit(id, 137);
    assert.notEqual(await within(exec.exited, 'the docker exec to end'), 0);
    await removeAndCheck(id);
  });

  test('a hung guest (its QEMU stopped): docker kill ends it with 137 after a grace of 10 s, not stuck', async () => {
    const id = runDetached([IMAGE, 'sleep', '1000']);
    process.kill(hostProcesses(id).qemu!, 'SIGSTOP');
    const start = Date.now();
    const killed = d.docker(['kill', id], { timeoutMs: REPORTED_WITHIN_MS });
    assert.equal(killed.status, 0, killed.stderr);
    assertReportedExit(id, 137, start);
    await removeAndCheck(id);
  });

  test('a guest kernel panic ends the container with 255: reported dead, not stuck', async () => {
    // The guest kernel has no sysrq: root in a privileged container makes an OOM of its cgroup
    // panic the kernel instead (panic_on_oom=2), which then stops the VM (panic=-1, -no-reboot).
    const id = runDetached(['--privileged', '--memory', '64m', IMAGE, 'sleep', '1000']);
    const start = Date.now();
    const panic = d.docker(['exec', id, 'sh', '-c', 'echo 2 > /proc/sys/vm/panic_on_oom && dd if=/dev/zero bs=100M count=1 of=/dev/null'], {
      timeoutMs: REPORTED_WITHIN_MS,
    });
    assert.equal(panic.status, 255, `the exec dies with the VM, not by an OOM kill (137): ${panic.stderr}`);
    assertReportedExit(id, 255, start);
    await removeAndCheck(id);
  });
});

/** Polls every few ms (a create is short) until `probe` finds a pid; fails after 120 s. */
async function pidAppearing(what: string, probe: () => number | undefined): Promise<number> {
  const deadline = Date.now() + 120000;
  for (;;) {
    const pid = probe();
    if (pid !== undefined) return pid;
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

/** The pid of the runtime's `start` of `id` once containerd runs it (not the docker CLI's `docker start`). */
function runtimeStartOf(id: string): number | undefined {
  return liveProcessesMentioning(`--root ${d.runtimeRoot}`).find((p) => p.cmdline.endsWith(` start ${id}`))?.pid;
}

/**
 * `docker start` of a created container, with `victim` (QEMU or the init shim) killed at `moment`:
 * the start ends within seconds, either refused with a clear error or with the container exited
 * with `status`; then docker rm works and nothing is left.
 */
async function killDuring(moment: 'create' | 'start', victim: 'qemu' | 'initShim', status: number): Promise<void> {
  const id = d.dockerOk(['create', '--runtime', 'vmrt', IMAGE, 'sleep', '1000']).trim();
  const start = startDockerCli(['start', id]);
  if (moment === 'start') await pidAppearing('the runtime start', () => runtimeStartOf(id));
  const pid = await pidAppearing(`the container's ${victim}`, () => hostProcesses(id)[victim]);
  process.kill(pid, 'SIGKILL');
  const killed = Date.now();
  const code = await within(start.exited, 'docker start to end');
  if (code === 0) {
    // The start won the race: the container then ends as with any kill of its VM.
    assertReportedExit(id, status, killed);
  } else {
    const why = {
      // The shim's end is seen by the CLI's wait for its netns or for its ready line, whichever first.
      create: {
        qemu: /OCI runtime create failed: (QEMU exited at start|creating container "\w+" in its VM: the shim exited)/,
        initShim: /OCI runtime create failed: (creating container "\w+" in its VM: )?the shim exited/,
      },
      start: {
        // Refused when the start finds the VM gone; else its request to the agent ends with the VM.
        qemu: /OCI runtime start failed: (cannot start a container that is stopped: its VM \(QEMU\) ended before the start|the VM closed the connection before answering "start")/,
        // The agent powers the VM off once its host side is gone: QEMU may have ended too.
        initShim:
          /OCI runtime start failed: (cannot start a container that is stopped: its (shim|VM \(QEMU\)) ended before the start|the VM closed the connection before answering "start"|cannot reach the VM of this container)/,
      },
    }[moment][victim];
    assert.match(start.output(), why);
    assert.ok(Date.now() - killed < REPORTED_WITHIN_MS, `reported after ${Date.now() - killed} ms`);
    assert.notEqual(d.dockerOk(['inspect', '-f', '{{.State.Status}}', id]).trim(), 'running');
  }
  await removeAndCheck(id);
  assert.equal(d.dockerOk(['run', '--rm', '--runtime', 'vmrt', IMAGE, 'echo', 'dockerd healthy']), 'dockerd healthy\n');
}

describe('kill -9 during create and start: the start ends within seconds, docker rm works, nothing is left', () => {
  test('QEMU killed as soon as it appears (create)', () => killDuring('create', 'qemu', 255));
  test('the init shim killed as soon as it appears (create)', () => killDuring('create', 'initShim', 137));
  test('QEMU killed as the runtime start begins', () => killDuring('start', 'qemu', 255));
  test('the init shim killed as the runtime start begins', () => killDuring('start', 'initShim', 137));
});

describe('load', () => {
  /** The number of host processes and threads in a container's host cgroup (Docker's cgroupfs driver: /docker/<id>). */
  const hostPidsOf = (id: string): number => {
    const file = cgroupMounts()
      .map((m) => join(m.mountPoint, 'docker', id, 'pids.current'))
      .find((f) => existsSync(f));
    if (!file) assert.fail(`no pids cgroup of ${id} on the host`);
    return Number(readFileSync(file, 'utf8'));
  };

  for (const pidsLimit of [undefined, 200]) {
    test(`a fork bomb ${pidsLimit ? `under --pids-limit ${pidsLimit}` : 'without --pids-limit'}: the host and a second container are unaffected, docker stop works`, async () => {
      const neighbour = runDetached([IMAGE, 'sleep', '1000']);
      const bomb = runDetached([
        ...(pidsLimit ? ['--pids-limit', String(pidsLimit)] : []),
        IMAGE,
        'sh',
        '-c',
        'echo bombing; f() { f | f & }; f; sleep 1000',
      ]);
      const hostPids = hostPidsOf(bomb);
      await waitFor('the bomb to start', () => (d.dockerOk(['logs', bomb]).includes('bombing') ? true : undefined), 60000);
      await sleep(15000);
      // The guest's processes never reach the host: the VM's host processes are as many as before.
      assert.ok(hostPidsOf(bomb) <= hostPids + 4, `host pids of the bomb's container: ${hostPids} then ${hostPidsOf(bomb)}`);
      const answered = d.docker(['exec', neighbour, 'true'], { timeoutMs: REPORTED_WITHIN_MS });
      assert.equal(answered.status, 0, `the neighbour answers: ${answered.stderr}`);
      const stopping = Date.now();
      const stop = d.docker(['stop', '-t', '2', bomb], { timeoutMs: REPORTED_WITHIN_MS });
      assert.equal(stop.status, 0, stop.stderr);
      assert.ok(Date.now() - stopping < REPORTED_WITHIN_MS, `stopped after ${Date.now() - stopping} ms`);
      // Its shell ignores SIGTERM (PID 1): killed, by its guest or, past a grace, with its VM.
      assert.equal(d.dockerOk(['inspect', '-f', '{{.State.Status}} {{.State.ExitCode}}', bomb]).trim(), 'exited 137');
      d.dockerOk(['rm', '-f', neighbour]);
      await assertNothingLeft(d.runtimeRoot, neighbour);
      await removeAndCheck(bomb);
    });
  }

  test('a guest filling its memory: the guest kills the hog, the container and a second one answer, docker stop works', async () => {
    const neighbour = runDetached([IMAGE, 'sleep', '1000']);
    const hog = runDetached(['--memory', '96m', IMAGE, 'sleep', '1000']);
    // A 256 MiB buffer, read into, under a 96 MiB limit: the guest's OOM killer ends it.
    const fill = d.docker(['exec', hog, 'dd', 'if=/dev/zero', 'of=/dev/null', 'bs=256M', 'count=1'], { timeoutMs: 120000 });
    assert.equal(fill.status, 137, `the hog is OOM-killed in the guest: ${fill.stderr}`);
    assert.equal(d.dockerOk(['exec', hog, 'echo', 'still serving']), 'still serving\n');
    assert.equal(d.dockerOk(['exec', neighbour, 'echo', 'unaffected']), 'unaffected\n');
    d.dockerOk(['stop', '-t', '1', hog]);
    d.dockerOk(['rm', '-f', neighbour]);
    await assertNothingLeft(d.runtimeRoot, neighbour);
    await removeAndCheck(hog);
  });

  test('a guest writing stdout as fast as it can for 3 s: docker logs has every line in order, the shim stays small', async () => {
    const id = runDetached([IMAGE, 'sh', '-c', FLOOD_SCRIPT(3)]);
    const { initShim } = hostProcesses(id);
    assert.ok(initShim, 'the init shim runs');
    let peak = 0;
    while (d.dockerOk(['inspect', '-f', '{{.State.Running}}', id]).trim() === 'true') {
      peak = Math.max(peak, peakRssKiB(initShim) ?? 0);
      await sleep(200);
    }
    assert.ok(peak < SHIM_MEMORY_BOUND_KIB, `init shim peak RSS ${peak} KiB`);
    const flood = checkFlood(d.dockerOk(['logs', id]));
    assert.ok('lines' in flood, 'problem' in flood ? flood.problem : '');
    assert.ok(flood.lines > 1000, `${flood.lines} lines in 3 s`);
    await removeAndCheck(id);
  });
});
