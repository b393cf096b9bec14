/**
 * The vmrt CLI against real QEMU guests: run, the create/start/state/list/exec/kill/delete life
 * cycle, and bad input. Needs root, QEMU, the built guest (runtime/guest/build.sh) and shim.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  chmodSync,
  closeSync,
  existsSync,
  lchownSync,
  lstatSync,
  openSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { release } from 'node:os';
import { makeBusyboxBundle, REPO } from '../support/images.js';
import { leftovers, processesMentioning } from '../support/leftovers.js';
import { runDirFor } from '../../runtime/src/state.js';
import { agentSocket } from '../../runtime/src/container.js';
import { QEMU_IDS, vmDirOf } from '../../runtime/src/jail.js';
import type { Config } from '../../runtime/src/spec.js';

const VMRT = join(REPO, 'runtime', 'bin', 'vmrt');
const GUEST_KERNEL = readFileSync(join(REPO, 'runtime', 'build', 'guest', 'kernel-release'), 'utf8').trim();
let work: string;
let root: string;
let bundle: string;

interface Result {
  status: number;
  stdout: string;
  stderr: string;
}

function vmrt(args: string[], env: NodeJS.ProcessEnv = {}): Result {
  const r = spawnSync(VMRT, ['--root', root, ...args], { encoding: 'utf8', timeout: 180000, env: { ...process.env, ...env } });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/**
 * For create and run --detach: the container's shim keeps the caller's stdout and stderr for
 * the container's whole life (as Docker wants), so they go to files here, not to pipes that
 * spawnSync would wait on.
 */
function vmrtDetached(args: string[], outputs: string): Result {
  const out = openSync(`${outputs}.out`, 'w');
  const err = openSync(`${outputs}.err`, 'w');
  const r = spawnSync(VMRT, ['--root', root, ...args], { stdio: ['ignore', out, err], timeout: 180000 });
  closeSync(out);
  closeSync(err);
  return { status: r.status ?? -1, stdout: readFileSync(`${outputs}.out`, 'utf8'), stderr: readFileSync(`${outputs}.err`, 'utf8') };
}

function ok(args: string[]): string {
  const r = vmrt(args);
  assert.equal(r.status, 0, `vmrt ${args.join(' ')} failed: ${r.stderr}`);
  return r.stdout;
}

function stateOf(id: string): { status: string; pid: number; bundle: string; id: string } {
  return JSON.parse(ok(['state', id])) as { status: string; pid: number; bundle: string; id: string };
}

before(() => {
  for (const file of [VMRT, join(REPO, 'runtime', 'build', 'vmrt-shim'), join(REPO, 'runtime', 'build', 'guest', 'initramfs.img')]) {
    assert.ok(existsSync(file), `${file} is missing: run scripts/setup.sh`);
  }
  assert.equal(spawnSync('qemu-system-x86_64', ['--version']).status, 0, 'qemu-system-x86_64 missing: apt-get install qemu-system-x86');
  work = mkdtempSync('/tmp/vmrt-cli-');
  root = join(work, 'root');
  bundle = makeBusyboxBundle(join(work, 'bundle'), ['sh', '-c', 'echo "hello from $(hostname)"; uname -r']);
});

after(() => {
  // A failed test may leave containers: remove them (and their mounts) before the files.
  for (const id of vmrt(['list', '--quiet']).stdout.split('\n').filter(Boolean)) vmrt(['delete', '--force', id]);
  rmSync(work, { recursive: true, force: true });
});

test("vmrt run prints the container's output from the guest kernel, then leaves nothing", () => {
  const r = vmrt(['run', '--bundle', bundle, 'run1']);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, `hello from vmrt\n${GUEST_KERNEL}\n`);
  assert.notEqual(GUEST_KERNEL, release());
  assert.deepEqual(leftovers(root, 'run1'), []);
});

test('feature annotations: config.json annotations stay outside the container, which keeps no trace of vmrt (as under runc)', () => {
  // Docker 20.10 (API 1.41) has no --annotation: the runtime's own CLI shows the behaviour.
  const b = makeBusyboxBundle(join(work, 'annotated'), ['sh', '-c', 'ls -A /run; echo end'], (config) => {
    config.annotations = { 'org.example.answer': '42' };
    config.root!.readonly = false;
  });
  const r = vmrt(['run', '-b', b, 'annotated']);
  assert.deepEqual([r.status, r.stdout, r.stderr], [0, 'end\n', '']);
  assert.deepEqual(readdirSync(join(b, 'rootfs', 'run')), []);
  assert.deepEqual(leftovers(root, 'annotated'), []);
});

test("linux.rootfsPropagation unbindable is applied to the container's root; an unknown mode is refused at create", () => {
  const b = makeBusyboxBundle(join(work, 'unbindable'), ['sh', '-c', 'grep -c " / / .*unbindable" /proc/self/mountinfo'], (config) => {
    config.linux = { ...config.linux, rootfsPropagation: 'unbindable' };
  });
  const r = vmrt(['run', '-b', b, 'unbindable']);
  assert.deepEqual([r.status, r.stdout, r.stderr], [0, '1\n', '']);
  const bad = makeBusyboxBundle(join(work, 'badprop'), ['true'], (config) => {
    config.linux = { ...config.linux, rootfsPropagation: 'sideways' };
  });
  const refused = vmrt(['run', '-b', bad, 'badprop']);
  assert.equal(refused.status, 1);
  assert.match(
    refused.stderr,
    /config\.json: linux\.rootfsPropagation: must be equal to one of the allowed values \("sideways" is not one of private, /,
  );
  assert.deepEqual(leftovers(root, 'unbindable'), []);
  assert.deepEqual(leftovers(root, 'badprop'), []);
});

/** Gives every file under `dir` to uid:gid (lchown: links are not followed). */
function chownTree(dir: string, uid: number, gid: number): void {
  lchownSync(dir, uid, gid);
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry);
    if (lstatSync(path).isDirectory()) chownTree(path, uid, gid);
    else lchownSync(path, uid, gid);
  }
}

test('a new user namespace: root inside with the mappings of config.json, files owned by the mapped ids on the host, and no more power than they have', () => {
  // What the guest's root can do without a user namespace (all capabilities) and what the
  // namespace's root cannot: make a device node (in the guest's own tmpfs: the shared rootfs's
  // file server makes none for anyone), mount sysfs (its network namespace is the VM's).
  const script = [
    'id',
    "tr -s ' ' < /proc/self/uid_map; tr -s ' ' < /proc/self/gid_map",
    "echo made inside > /made-inside && stat -c '%u %g' /made-inside",
    'ulimit -Hn; cat /proc/self/oom_score_adj',
    'mknod /dev/shm/node c 1 3 2>&1 && echo mknod done',
    'mknod /node c 1 3 2>&1 && echo shared mknod done',
    'mkdir -p /sys2 && mount -t sysfs sysfs /sys2 2>&1 && echo sysfs mounted',
    'true',
  ].join('\n');
  const allPowers = (config: Config) => {
    config.root!.readonly = false;
    delete config.process!.capabilities;
  };
  const mapped = makeBusyboxBundle(join(work, 'userns'), ['sh', '-c', script], (config) => {
    allPowers(config);
    config.linux!.namespaces = [...config.linux!.namespaces!, { type: 'user' }];
    config.linux!.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
    config.linux!.gidMappings = [{ containerID: 0, hostID: 200000, size: 65536 }];
    // Beyond what root inside may set (a hard limit above the guest's 4096, a negative OOM
    // score): the agent sets them from outside, as runc does.
    config.process!.rlimits = [{ type: 'RLIMIT_NOFILE', soft: 2048, hard: 8192 }];
    config.process!.oomScoreAdj = -500;
  });
  chownTree(join(mapped, 'rootfs'), 100000, 200000);
  const r = vmrt(['run', '-b', mapped, 'userns']);
  assert.deepEqual(
    [r.status, r.stdout.split('\n'), r.stderr],
    [
      0,
      [
        'uid=0(root) gid=0(root)',
        ' 0 100000 65536',
        ' 0 200000 65536',
        '0 0',
        '8192',
        '-500',
        'mknod: /dev/shm/node: Operation not permitted',
        'mknod: /node: Operation not permitted',
        'mount: permission denied (are you root?)',
        '',
      ],
      '',
    ],
  );
  const made = statSync(join(mapped, 'rootfs', 'made-inside'));
  assert.deepEqual([made.uid, made.gid], [100000, 200000]);
  assert.deepEqual(leftovers(root, 'userns'), []);

  // An exec'd process joins the container's user namespace, as its root.
  const sleeper = makeBusyboxBundle(join(work, 'userns-exec'), ['sleep', '60'], (config) => {
    config.linux!.namespaces = [...config.linux!.namespaces!, { type: 'user' }];
    config.linux!.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
    config.linux!.gidMappings = [{ containerID: 0, hostID: 200000, size: 65536 }];
  });
  chownTree(join(sleeper, 'rootfs'), 100000, 200000);
  const created = vmrtDetached(['create', '--bundle', sleeper, 'userns-exec'], join(work, 'userns-exec-create'));
  assert.equal(created.status, 0, created.stderr);
  ok(['start', 'userns-exec']);
  const exec = vmrt([
    'exec',
    'userns-exec',
    'sh',
    '-c',
    "id; tr -s ' ' < /proc/self/uid_map; touch /dev/shm/by-exec; stat -c '%u %g' /dev/shm/by-exec",
  ]);
  assert.deepEqual([exec.status, exec.stdout, exec.stderr], [0, 'uid=0(root) gid=0(root)\n 0 100000 65536\n0 0\n', '']);
  ok(['delete', '--force', 'userns-exec']);
  assert.deepEqual(leftovers(root, 'userns-exec'), []);

  const unmapped = makeBusyboxBundle(join(work, 'no-userns'), ['sh', '-c', script], allPowers);
  const control = vmrt(['run', '-b', unmapped, 'no-userns']);
  assert.equal(control.status, 0, control.stderr);
  assert.match(control.stdout, /^uid=0\(root\) gid=0\(root\)/);
  assert.match(control.stdout, /\nmknod done\nmknod: \/node: Operation not permitted\nsysfs mounted\n$/);
  assert.equal(statSync(join(unmapped, 'rootfs', 'made-inside')).uid, 0);
  assert.deepEqual(leftovers(root, 'no-userns'), []);
});

test("feature sysctl: a key no namespace covers (vm.swappiness) is set in the VM's own kernel", () => {
  // Docker's CLI refuses such keys ("not allowed"); an OCI config.json may carry them.
  const b = makeBusyboxBundle(join(work, 'swappiness'), ['cat', '/proc/sys/vm/swappiness'], (config) => {
    config.linux = { ...config.linux, sysctl: { 'vm.swappiness': '13' } };
  });
  const r = vmrt(['run', '-b', b, 'swappiness']);
  assert.deepEqual([r.status, r.stdout, r.stderr], [0, '13\n', '']);
  assert.deepEqual(leftovers(root, 'swappiness'), []);
});

test("vmrt run exits with the container's status", () => {
  const b = makeBusyboxBundle(join(work, 'exit3'), ['sh', '-c', 'echo to-stderr >&2; exit 3']);
  const r = vmrt(['run', '-b', b, 'run3']);
  assert.equal(r.status, 3);
  assert.equal(r.stderr, 'to-stderr\n');
  assert.deepEqual(leftovers(root, 'run3'), []);
});

test('life cycle: create, state, list, start, exec, kill, delete', () => {
  const b = makeBusyboxBundle(join(work, 'sleeper'), ['sh', '-c', 'echo started; echo started > /dev/shm/mark; sleep 1000']);
  const pidFile = join(work, 'init.pid');
  const log = join(work, 'life.log');
  const outputs = join(work, 'life');
  const create = vmrtDetached(['--log', log, '--log-format', 'json', 'create', '--bundle', b, '--pid-file', pidFile, 'life'], outputs);
  assert.equal(create.status, 0, create.stderr);
  const pidText = readFileSync(pidFile, 'utf8');
  assert.match(pidText, /^\d+$/);
  let state = stateOf('life');
  assert.equal(state.status, 'created');
  assert.equal(state.pid, Number(pidText));
  assert.equal(state.bundle, b);
  assert.ok(existsSync(`/proc/${pidText}`), 'the shim runs');
  assert.equal(processesMentioning(agentSocket(runDirFor(root, 'life'))).length, 2, 'QEMU and the init shim name the agent socket');

  // A second create with the same id fails and leaves the first one as it was.
  const again = vmrt(['--log', log, '--log-format', 'json', 'create', '--bundle', b, 'life']);
  assert.equal(again.status, 1);
  assert.equal(again.stderr, 'vmrt: container with id "life" already exists\n');
  const lastLine = JSON.parse(readFileSync(log, 'utf8').trim().split('\n').pop()!) as { level: string; msg: string };
  assert.deepEqual([lastLine.level, lastLine.msg], ['error', 'container with id "life" already exists']);
  assert.equal(stateOf('life').status, 'created');

  const table = ok(['list']);
  assert.match(table, /^ID\s+PID\s+STATUS\s+BUNDLE\s+CREATED\s+OWNER\n/);
  assert.match(table, new RegExp(`\\nlife\\s+${pidText}\\s+created\\s+${b}\\s`));
  assert.deepEqual(
    (JSON.parse(ok(['list', '--format', 'json'])) as Array<{ id: string }>).map((c) => c.id),
    ['life'],
  );

  ok(['start', 'life']);
  assert.equal(stateOf('life').status, 'running');
  const start2 = vmrt(['start', 'life']);
  assert.equal(start2.status, 1);
  assert.match(start2.stderr, /cannot start a container that is running/);

  // The container's own stdout is the file create was given.
  const deadlineOut = Date.now() + 10000;
  while (readFileSync(`${outputs}.out`, 'utf8') === '' && Date.now() < deadlineOut) spawnSync('sleep', ['0.1']);
  assert.equal(readFileSync(`${outputs}.out`, 'utf8'), 'started\n');
  const exec = vmrt(['exec', 'life', 'sh', '-c', 'sleep 0.5; cat /dev/shm/mark; echo err >&2; exit 7']);
  assert.deepEqual([exec.status, exec.stdout, exec.stderr], [7, 'started\n', 'err\n']);
  // containerd's form: the host pids (init shim, then QEMU); the table lists the guest's processes.
  const qemuPid = Number(
    processesMentioning(agentSocket(runDirFor(root, 'life')))
      .find((p) => p.includes('qemu-system'))!
      .split(':')[0],
  );
  assert.deepEqual(JSON.parse(ok(['ps', '--format', 'json', 'life'])), [Number(pidText), qemuPid]);
  // busybox sh execs its last command: the container is that one process.
  assert.match(ok(['ps', 'life']), /^UID +PID +GUEST PID +STAT +CMD\n0 +1 +\d+ +S +sleep 1000\n$/);

  // pause stops the whole VM: the container's process makes no progress until resume.
  ok(['pause', 'life']);
  assert.equal(stateOf('life').status, 'paused');
  assert.match(readFileSync(`/proc/${qemuPid}/status`, 'utf8'), /State:\s+T/);
  ok(['resume', 'life']);
  assert.equal(stateOf('life').status, 'running');
  const stats = JSON.parse(ok(['events', '--stats', 'life'])) as { type: string; id: string; data: { pids: { current: number } } };
  assert.deepEqual([stats.type, stats.id], ['stats', 'life']);
  assert.ok(stats.data.pids.current >= 1, JSON.stringify(stats));

  const running = vmrt(['delete', 'life']);
  assert.equal(running.status, 1);
  assert.match(running.stderr, /cannot delete container "life" that is not stopped: running/);

  ok(['kill', 'life', 'KILL']);
  const deadline = Date.now() + 20000;
  while ((state = stateOf('life')).status !== 'stopped' && Date.now() < deadline) spawnSync('sleep', ['0.2']);
  assert.equal(state.status, 'stopped');
  assert.equal(state.pid, 0);
  const killStopped = vmrt(['kill', 'life', '9']);
  assert.deepEqual([killStopped.status, killStopped.stderr], [1, 'vmrt: container not running\n']);

  ok(['delete', 'life']);
  assert.deepEqual(leftovers(root, 'life'), []);
  assert.equal(ok(['list', '--format', 'json']), '[]\n');
});

test('delete --force ends a running container', () => {
  const b = makeBusyboxBundle(join(work, 'forced'), ['sleep', '1000']);
  assert.equal(vmrtDetached(['run', '--detach', '--bundle', b, 'forced'], join(work, 'forced')).status, 0);
  assert.equal(stateOf('forced').status, 'running');
  ok(['delete', '--force', 'forced']);
  assert.deepEqual(leftovers(root, 'forced'), []);
});

/** The fields of /proc/<pid>/status. */
function processStatus(pid: number): Record<string, string> {
  return Object.fromEntries(
    readFileSync(`/proc/${pid}/status`, 'utf8')
      .split('\n')
      .flatMap((line) => {
        const colon = line.indexOf(':');
        return colon > 0 ? [[line.slice(0, colon), line.slice(colon + 1).trim()]] : [];
      }),
  );
}

test("QEMU runs jailed: a uid of its own, no capabilities, no_new_privs, seccomp; it sees no other VM's folders and can write only its own", () => {
  const ids = ['jail1', 'jail2'];
  for (const id of ids) {
    const b = makeBusyboxBundle(join(work, id), ['sleep', '1000']);
    const created = vmrtDetached(['create', '--bundle', b, id], join(work, id));
    assert.equal(created.status, 0, created.stderr);
  }
  const qemus = ids.map((id) => {
    const qemu = processesMentioning(agentSocket(runDirFor(root, id))).find((p) => p.includes('qemu-system'));
    assert.ok(qemu, `the QEMU of ${id} runs`);
    return Number(qemu.split(':')[0]);
  });
  const uids = qemus.map((pid) => {
    const status = processStatus(pid);
    const uid = Number(status.Uid!.split(/\s+/)[0]);
    assert.ok(uid >= QEMU_IDS.first && uid < QEMU_IDS.first + QEMU_IDS.count, `QEMU's uid ${uid}`);
    assert.deepEqual(status.Uid!.split(/\s+/).map(Number), [uid, uid, uid, uid], 'real, effective, saved and file-system uid');
    assert.deepEqual(status.Gid!.split(/\s+/).map(Number), [uid, uid, uid, uid], 'gids: the same number');
    assert.equal(status.Groups, '');
    for (const set of ['CapInh', 'CapPrm', 'CapEff', 'CapBnd', 'CapAmb']) assert.equal(status[set], '0000000000000000', set);
    assert.equal(status.NoNewPrivs, '1');
    assert.equal(status.Seccomp, '2');
    return uid;
  });
  assert.notEqual(uids[0], uids[1], 'each VM its own uid');
  const [first, second] = qemus as [number, number];
  // As the first QEMU: it may not signal (nor so trace) the second.
  const asFirst = (args: string[]) =>
    spawnSync(
      'nsenter',
      ['--target', String(first), '--mount', '--', 'setpriv', `--reuid=${uids[0]}`, `--regid=${uids[0]}`, '--clear-groups', ...args],
      {
        encoding: 'utf8',
      },
    );
  const signal = asFirst(['sh', '-c', 'kill -0 "$1"', 'sh', String(second)]);
  assert.notEqual(signal.status, 0);
  assert.match(signal.stderr, /not permitted/i);
  // Its mount namespace: the second VM's socket and state folders do not exist; of its own state
  // folder only the console log; nothing of the host is writable but that log (its socket
  // folder's VM folder, where it makes its sockets, is not listable: written above by QEMU itself).
  const seen = (path: string) => existsSync(`/proc/${first}/root${path}`);
  assert.ok(seen(vmDirOf(runDirFor(root, 'jail1'))));
  assert.equal(seen(runDirFor(root, 'jail2')), false);
  assert.equal(seen(join(root, 'jail2')), false);
  assert.deepEqual(readdirSync(`/proc/${first}/root${join(root, 'jail1')}`), ['console.log']);
  const writable = asFirst([
    'find',
    '/',
    '(',
    '-path',
    '/proc',
    '-o',
    '-path',
    '/sys',
    ')',
    '-prune',
    '-o',
    '-writable',
    '!',
    '-type',
    'c',
    '!',
    '-type',
    'l',
    '-print',
  ]);
  assert.deepEqual(writable.stdout.split('\n').filter(Boolean), [join(root, 'jail1', 'console.log')], writable.stderr);
  for (const id of ids) ok(['delete', '--force', id]);
  for (const id of ids) assert.deepEqual(leftovers(root, id), []);
});

test('bad input: clear errors, non-zero exits, nothing half-made', () => {
  const missing = vmrt(['create', '--bundle', join(work, 'nope'), 'bad1']);
  assert.deepEqual([missing.status, missing.stderr], [1, `vmrt: bundle ${join(work, 'nope')} does not exist\n`]);
  assert.deepEqual(leftovers(root, 'bad1'), []);

  const notJson = join(work, 'notjson');
  makeBusyboxBundle(notJson, ['true']);
  writeFileSync(join(notJson, 'config.json'), '{"ociVersion": "1.0.2",\n  "root": {"path": "rootfs"\n');
  const bad = vmrt(['create', '--bundle', notJson, 'bad2']);
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, new RegExp(`^vmrt: ${notJson}/config\\.json is not valid JSON: \\w+ at line 3, column 1\\n$`));
  assert.deepEqual(leftovers(root, 'bad2'), []);

  // A GPU or other PCI device through VFIO, on a host without that IOMMU group: said before any VM boots.
  const noGroup = makeBusyboxBundle(join(work, 'novfio'), ['true'], (c) => {
    c.linux!.devices = [{ path: '/dev/vfio/4242', type: 'c', major: 243, minor: 0 }];
  });
  const vfio = vmrt(['create', '--bundle', noGroup, 'bad3']);
  assert.equal(vfio.status, 1);
  assert.match(
    vfio.stderr,
    new RegExp(
      `^vmrt: ${noGroup}/config\\.json: linux\\.devices\\[0\\] \\(/dev/vfio/4242\\): no VFIO group 4242 on this host: bind the device to vfio-pci first`,
    ),
  );
  assert.deepEqual(leftovers(root, 'bad3'), []);

  for (const args of [
    ['state', 'ghost'],
    ['start', 'ghost'],
    ['kill', 'ghost', '9'],
    ['delete', 'ghost'],
    ['exec', 'ghost', 'true'],
  ]) {
    const r = vmrt(args);
    assert.deepEqual([args[0], r.status, r.stderr], [args[0], 1, 'vmrt: container "ghost" does not exist\n']);
  }
  assert.equal(vmrt(['delete', '--force', 'ghost']).status, 0);
  const usage = vmrt(['kill']);
  assert.deepEqual([usage.status, usage.stderr], [2, 'vmrt: "kill" requires <container-id>\n']);
});

test('a failing prestart hook (the shim already runs in the netns) undoes everything', () => {
  const b = makeBusyboxBundle(join(work, 'badhook'), ['true'], (c) => {
    c.hooks = { prestart: [{ path: '/bin/sh', args: ['sh', '-c', 'echo "hook saw $(cat)" >&2; exit 4'] }] };
  });
  const r = vmrtDetached(['create', '--bundle', b, 'badhook'], join(work, 'badhook'));
  assert.equal(r.status, 1);
  assert.match(
    r.stderr,
    /^vmrt: error running prestart hook #0 \(\/bin\/sh\): exit status 4, output: hook saw \{"ociVersion":"1\.0\.2","id":"badhook","status":"created","pid":\d+,"bundle":"[^"]+"/,
  );
  assert.deepEqual(leftovers(root, 'badhook'), []);
  assert.equal(existsSync(join(b, 'rootfs', 'bin', 'busybox')), true, "the bundle's rootfs is untouched");
});

test('delete --force cleans up after a create that was killed half-way', async () => {
  const b = makeBusyboxBundle(join(work, 'halfway'), ['true']);
  const create = spawn(VMRT, ['--root', root, 'create', '--bundle', b, 'halfway'], { stdio: 'ignore' });
  const socket = agentSocket(runDirFor(root, 'halfway'));
  const deadline = Date.now() + 30000;
  while (!processesMentioning(socket).some((p) => p.includes('qemu-system')) && Date.now() < deadline) await sleep(50);
  create.kill('SIGKILL');
  await new Promise((resolve) => create.on('exit', resolve));
  assert.equal(stateOf('halfway').status, 'creating');
  ok(['delete', '--force', 'halfway']);
  assert.deepEqual(leftovers(root, 'halfway'), []);
});

test('host networking is refused with host-network before any QEMU starts', () => {
  const b = makeBusyboxBundle(join(work, 'hostnet'), ['true'], (c) => {
    c.linux!.namespaces = c.linux!.namespaces!.filter((ns) => ns.type !== 'network');
  });
  // A QEMU that records being started: it must never run.
  const fakeQemu = join(work, 'fake-qemu');
  writeFileSync(fakeQemu, `#!/bin/sh\ntouch ${work}/qemu-was-started\n`);
  chmodSync(fakeQemu, 0o755);
  const log = join(work, 'hostnet.log');
  const r = vmrt(['--log', log, '--log-format', 'json', 'create', '--bundle', b, 'hostnet'], { VMRT_QEMU: fakeQemu });
  assert.equal(r.status, 1);
  assert.match(
    r.stderr,
    new RegExp(`^vmrt: ${b}/config\\.json: linux\\.namespaces: unsupported feature "host-network" \\(no "network" namespace`),
  );
  assert.match(r.stderr, /cannot share the host's, and taking over the host's interfaces would break host networking/);
  assert.equal(existsSync(join(work, 'qemu-was-started')), false);
  const line = JSON.parse(readFileSync(log, 'utf8').trim()) as { level: string; msg: string };
  assert.equal(line.level, 'error');
  assert.match(line.msg, /unsupported feature "host-network"/);
  assert.deepEqual(leftovers(root, 'hostnet'), []);
});

/**
 * A bundle whose container joins the pod of sandbox `sandbox` (containerd's CRI annotations) and,
 * with `sharedWith`, the ipc and uts namespaces of that shim pid, as containerd writes an app
 * container's config (no hostname of its own).
 */
function podBundle(name: string, args: string[], sandbox: string, sharedWith?: number): string {
  return makeBusyboxBundle(join(work, name), args, (config) => {
    config.annotations = { 'io.kubernetes.cri.container-type': 'container', 'io.kubernetes.cri.sandbox-id': sandbox };
    if (sharedWith === undefined) return;
    delete config.hostname;
    config.linux!.namespaces = config.linux!.namespaces!.map((ns) =>
      ns.type === 'ipc' || ns.type === 'uts' ? { type: ns.type, path: `/proc/${sharedWith}/ns/${ns.type}` } : ns,
    );
  });
}

const VM_IDENTITY = 'cat /proc/sys/kernel/random/boot_id; hostname; readlink /proc/self/ns/ipc; readlink /proc/self/ns/pid';

test('pods: a container whose CRI annotations name its sandbox runs in the sandbox VM (its ipc and uts namespaces shared, its pid namespace its own); delete frees it while the VM goes on', () => {
  const sandbox = makeBusyboxBundle(join(work, 'sandbox'), ['sleep', '1000'], (config) => {
    config.annotations = { 'io.kubernetes.cri.container-type': 'sandbox' };
    config.hostname = 'pod-host';
  });
  assert.equal(vmrtDetached(['create', '--bundle', sandbox, 'sandbox1'], join(work, 'sandbox1')).status, 0);
  ok(['start', 'sandbox1']);
  const [bootId, hostname, ipc, pid] = ok(['exec', 'sandbox1', 'sh', '-c', VM_IDENTITY]).split('\n');
  assert.equal(hostname, 'pod-host');
  const app = podBundle('app', ['sh', '-c', `${VM_IDENTITY}; ps -o pid,comm`], 'sandbox1', stateOf('sandbox1').pid);
  const create = vmrtDetached(['create', '--bundle', app, 'app1'], join(work, 'app1'));
  assert.equal(create.status, 0, create.stderr);
  // No QEMU of its own: only the sandbox's names a socket folder.
  assert.ok(!processesMentioning(`${runDirFor(root, 'app1')}/`).some((p) => p.includes('qemu-system')));
  ok(['start', 'app1']);
  for (let i = 0; i < 100 && stateOf('app1').status !== 'stopped'; i++) spawnSync('sleep', ['0.1']);
  const lines = readFileSync(join(work, 'app1.out'), 'utf8').trim().split('\n');
  assert.deepEqual(lines.slice(0, 3), [bootId, hostname, ipc]);
  assert.notEqual(lines[3], pid);
  // Its own processes only (the sandbox's sleep is not among them): sh execs ps, PID 1.
  assert.deepEqual(lines.slice(4), ['PID   COMMAND', '    1 ps']);
  ok(['delete', 'app1']);
  assert.deepEqual(leftovers(root, 'app1'), []);
  // The VM goes on; the id is free again, in the VM too.
  assert.equal(ok(['exec', 'sandbox1', 'cat', '/proc/sys/kernel/random/boot_id']), `${bootId}\n`);
  assert.equal(vmrtDetached(['create', '--bundle', app, 'app1'], join(work, 'app1')).status, 0);
  ok(['delete', '--force', 'app1']);
  ok(['delete', '--force', 'sandbox1']);
  assert.deepEqual(leftovers(root, 'app1'), []);
  assert.deepEqual(leftovers(root, 'sandbox1'), []);
});

test('pods, bad input: a sandbox that does not exist, a VM that died, two creates racing for one id: clear errors, nothing left', async () => {
  const missing = vmrtDetached(['create', '--bundle', podBundle('orphan', ['true'], 'nosuchsandbox'), 'orphan'], join(work, 'orphan'));
  assert.equal(missing.status, 1);
  assert.match(
    missing.stderr,
    /config\.json: annotations\["io\.kubernetes\.cri\.sandbox-id"\]: sandbox "nosuchsandbox" is not a vmrt container/,
  );
  assert.deepEqual(leftovers(root, 'orphan'), []);

  const sandbox = makeBusyboxBundle(join(work, 'doomed'), ['sleep', '1000']);
  assert.equal(vmrtDetached(['create', '--bundle', sandbox, 'doomed'], join(work, 'doomed')).status, 0);
  ok(['start', 'doomed']);
  // Two creates of one id at once: the first takes it, the other is told so and undoes nothing of the first's.
  const racer = podBundle('racer', ['sleep', '1000'], 'doomed');
  const race = await Promise.all(
    [1, 2].map(
      (n) =>
        new Promise<number>((resolve) => {
          const child = spawn(VMRT, ['--root', root, 'create', '--bundle', racer, 'racer'], {
            stdio: ['ignore', 'ignore', openSync(join(work, `racer${n}.err`), 'w')],
          });
          child.on('exit', (code) => resolve(code ?? -1));
        }),
    ),
  );
  assert.deepEqual([...race].sort(), [0, 1]);
  const loser = race.indexOf(1) + 1;
  assert.match(readFileSync(join(work, `racer${loser}.err`), 'utf8'), /container with id "racer" already exists/);
  assert.equal(stateOf('racer').status, 'created');
  ok(['delete', '--force', 'racer']);
  assert.deepEqual(leftovers(root, 'racer'), []);

  const qemu = processesMentioning(`${runDirFor(root, 'doomed')}/`).find((p) => p.includes('qemu-system'));
  assert.ok(qemu, 'the QEMU of "doomed"');
  process.kill(Number(qemu.split(':')[0]), 'SIGKILL');
  for (let i = 0; i < 100 && stateOf('doomed').status !== 'stopped'; i++) spawnSync('sleep', ['0.1']);
  const late = vmrtDetached(['create', '--bundle', podBundle('late', ['true'], 'doomed'), 'late'], join(work, 'late'));
  assert.equal(late.status, 1);
  assert.match(
    late.stderr,
    /config\.json: annotations\["io\.kubernetes\.cri\.sandbox-id"\]: the pod's VM is that of container "doomed", which is stopped: its VM is gone/,
  );
  assert.deepEqual(leftovers(root, 'late'), []);
  ok(['delete', 'doomed']);
  assert.deepEqual(leftovers(root, 'doomed'), []);
});
