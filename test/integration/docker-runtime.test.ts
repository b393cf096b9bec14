/**
 * vmrt as a Docker runtime: a private dockerd (started here) runs busybox containers with
 * `--runtime vmrt`, each in its own QEMU VM. Needs root, docker.io, QEMU, the guest and shim.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { release } from 'node:os';
import { startDockerd, type Dockerd } from '../support/dockerd.js';
import { importBusyboxImage, REPO } from '../support/images.js';
import { leftovers, processesMentioning } from '../support/leftovers.js';
import { runDirFor } from '../../runtime/src/state.js';

const IMAGE = 'vmrt-test-busybox';
const GUEST_KERNEL = readFileSync(join(REPO, 'runtime', 'build', 'guest', 'kernel-release'), 'utf8').trim();
let d: Dockerd;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function run(args: string[], input?: string) {
  return d.docker(['run', '--rm', '--runtime', 'vmrt', ...args], { input });
}

/** Runs a docker command under `script`, i.e. with a pty of rows x cols as its terminal. */
function underPty(rows: number, cols: number, dockerArgs: string): string {
  const r = spawnSync('script', ['-qec', `stty rows ${rows} cols ${cols}; docker ${dockerArgs}`, '/dev/null'], {
    encoding: 'utf8', timeout: 120000, env: { ...process.env, DOCKER_HOST: `unix://${d.socket}` }, input: '',
  });
  assert.equal(r.status, 0, `script … docker ${dockerArgs}: ${r.stdout}${r.stderr}`);
  return r.stdout.replace(/\r/g, '');
}

async function waitFor<T>(what: string, probe: () => T | undefined, timeoutMs = 30000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await sleep(200);
  }
}


async function assertNothingLeft(id: string): Promise<void> {
  // containerd deletes asynchronously after the container exits.
  await waitFor(`nothing left of ${id}`, () => (leftovers(d.runtimeRoot, id).length === 0 ? true : undefined), 30000)
    .catch(() => assert.deepEqual(leftovers(d.runtimeRoot, id), []));
}

/** The pipes and sockets a process has open. */
function openObjects(pid: number): Set<string> {
  const objects = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const target = readlinkSync(`/proc/${pid}/fd/${fd}`);
      if (/^(pipe|socket):/.test(target)) objects.add(target);
    } catch {
      // Closed meanwhile.
    }
  }
  return objects;
}

before(async () => {
  d = await startDockerd();
  importBusyboxImage((args, input) => d.dockerOk(args, input), d.dir, IMAGE);
});

after(async () => {
  if (!d) return;
  const ids = d.docker(['ps', '-aq']).stdout.split('\n').filter(Boolean);
  if (ids.length) d.docker(['rm', '-f', ...ids]);
  await d.stop();
});

test('docker run --runtime vmrt prints the guest kernel, not the host\'s', () => {
  const r = run([IMAGE, 'uname', '-r']);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, `${GUEST_KERNEL}\n`);
  assert.notEqual(GUEST_KERNEL, release());
});

test('exit codes: a status, and 137 for a SIGKILL of the guest process; stdout and stderr apart', () => {
  const three = run([IMAGE, 'sh', '-c', 'echo out; echo err >&2; exit 3']);
  assert.deepEqual([three.status, three.stdout, three.stderr], [3, 'out\n', 'err\n']);
  // The container's init is PID 1 of its pid namespace, which ignores SIGKILL from inside
  // (as with runc): the agent delivers it from outside.
  const id = d.dockerOk(['run', '-d', '--runtime', 'vmrt', IMAGE, 'sleep', '1000']).trim();
  d.dockerOk(['kill', '-s', 'KILL', id]);
  assert.equal(d.dockerOk(['wait', id]).trim(), '137');
  d.dockerOk(['rm', id]);
});

test('--network host is refused before a VM boots, with the feature id and the reason', () => {
  const r = run(['--network', 'host', IMAGE, 'true']);
  assert.notEqual(r.status, 0);
  // Docker names the host's netns by a bind mount of it: refused as host-network, never wired.
  assert.match(r.stderr, /config\.json: linux\.namespaces\[\d\]\.path: unsupported feature "host-network" \(\S+\/netns\/default is the host's network namespace\): the container runs in its own VM/);
});

test('volumes: a folder and a read-only file are shared with the VM, writes reach the host', () => {
  const dir = join(d.dir, 'volume');
  mkdirSync(dir);
  writeFileSync(join(dir, 'in'), 'from-host\n');
  writeFileSync(join(d.dir, 'one-file'), 'file-content\n');
  const r = run(['-v', `${dir}:/data`, '-v', `${d.dir}/one-file:/etc/one-file:ro`, IMAGE, 'sh', '-c',
    'cat /data/in /etc/one-file; echo from-guest > /data/out; echo x 2>/dev/null > /etc/one-file || echo read-only']);
  assert.deepEqual([r.status, r.stdout], [0, 'from-host\nfile-content\nread-only\n']);
  assert.equal(readFileSync(join(dir, 'out'), 'utf8'), 'from-guest\n');
  assert.equal(readFileSync(join(d.dir, 'one-file'), 'utf8'), 'file-content\n');
});

test('networking: the VM gets the container\'s address, MAC and routes; Docker\'s bridge reaches it', () => {
  d.dockerOk(['run', '-d', '--runtime', 'runc', '--name', 'web', IMAGE, 'sh', '-c', 'mkdir -p /www; echo hello-web > /www/index.html; httpd -f -p 8080 -h /www']);
  const id = d.dockerOk(['run', '-d', '--runtime', 'vmrt', '--name', 'vmnet', IMAGE, 'sleep', '1000']).trim();
  const [ip, len, gw, mac] = d.dockerOk(['inspect', '--format', '{{.NetworkSettings.IPAddress}} {{.NetworkSettings.IPPrefixLen}} {{.NetworkSettings.Gateway}} {{.NetworkSettings.MacAddress}}', 'vmnet']).trim().split(' ');
  const web = d.dockerOk(['inspect', '--format', '{{.NetworkSettings.IPAddress}}', 'web']).trim();
  // What the guest applies (the spec annotation org.vmrt.network) is in the state too.
  const state = JSON.parse(readFileSync(join(d.runtimeRoot, id, 'state.json'), 'utf8')) as { network: unknown };
  assert.deepEqual(state.network, {
    interfaces: [{ name: 'eth0', mac, mtu: 1500, addresses: [`${ip}/${len}`], tap: 'vmrt-tap0' }],
    routes: [{ dst: 'default', gateway: gw, dev: 'eth0' }],
  });
  const r = d.docker(['exec', 'vmnet', 'sh', '-c',
    `cat /sys/class/net/eth0/address; ip -o -4 addr show dev eth0 | awk '{print $4}'; ip route | grep ^default | cut -d' ' -f1-5; wget -qO- http://${web}:8080/index.html`]);
  assert.deepEqual([r.status, r.stdout, r.stderr], [0, `${mac}\n${ip}/${len}\ndefault via ${gw} dev eth0\nhello-web\n`, '']);
  const back = d.docker(['exec', 'web', 'ping', '-c', '1', '-W', '5', ip!]);
  assert.equal(back.status, 0, back.stdout);
  d.dockerOk(['rm', '-f', 'web', 'vmnet']);
});

test('a published port (-p) reaches a server in the VM', async () => {
  d.dockerOk(['run', '-d', '--runtime', 'vmrt', '-p', '127.0.0.1::8080', '--name', 'pub', IMAGE, 'sh', '-c', 'mkdir -p /www; echo published > /www/index.html; httpd -f -p 8080 -h /www']);
  const hostPort = d.dockerOk(['port', 'pub', '8080']).trim().split(':').pop();
  // httpd starts right after `docker run -d` returns.
  const body = await waitFor('the published server', () => {
    const r = spawnSync(process.execPath, ['-e', `fetch('http://127.0.0.1:${hostPort}/index.html').then((r) => r.text()).then((t) => process.stdout.write(t), () => process.exit(1))`], { encoding: 'utf8' });
    return r.status === 0 ? r.stdout : undefined;
  }, 20000);
  assert.equal(body, 'published\n');
  d.dockerOk(['rm', '-f', 'pub']);
});

test('stdin is piped with -i and ends with EOF', () => {
  const r = run(['-i', IMAGE, 'sh', '-c', 'cat; echo done'], 'hi\nthere\n');
  assert.deepEqual([r.status, r.stdout], [0, 'hi\nthere\ndone\n']);
});

test('docker run -t: a real terminal whose window size is visible inside', () => {
  const out = underPty(33, 111, `run --rm -t --runtime vmrt ${IMAGE} sh -c 'stty size; tty'`);
  assert.equal(out, '33 111\n/dev/pts/0\n');
});

test('docker exec, exec -it, kill -s USR1, logs, stop with SIGTERM', async () => {
  const script = 'trap "echo got-usr1" USR1; trap "echo got-term; exit 0" TERM; echo ready; while :; do sleep 0.1; done';
  const id = d.dockerOk(['run', '-d', '--runtime', 'vmrt', '--name', 'svc', IMAGE, 'sh', '-c', script]).trim();
  await waitFor('ready', () => (d.docker(['logs', 'svc']).stdout === 'ready\n' ? true : undefined));

  const exec = d.docker(['exec', 'svc', 'sh', '-c', 'echo from-exec; echo exec-err >&2; exit 5']);
  assert.deepEqual([exec.status, exec.stdout, exec.stderr], [5, 'from-exec\n', 'exec-err\n']);
  const execIn = d.docker(['exec', '-i', 'svc', 'cat'], { input: 'piped\n' });
  assert.deepEqual([execIn.status, execIn.stdout], [0, 'piped\n']);
  // Docker 20.10 sends an exec's window size right after it started (no consoleSize in the
  // exec's process): give that resize a moment to reach the guest.
  // The pty echoes "^@" first: a NUL from `script` and the docker CLI, the same with runc.
  assert.match(underPty(21, 71, `exec -it svc sh -c 'sleep 1; stty size'`), /^(\^@)?21 71\n$/);

  d.dockerOk(['kill', '-s', 'USR1', 'svc']);
  await waitFor('USR1 trap', () => (d.docker(['logs', 'svc']).stdout === 'ready\ngot-usr1\n' ? true : undefined));

  const started = Date.now();
  // docker top runs the host's ps on `vmrt ps`: the shims stand in for the guest processes.
  assert.match(d.dockerOk(['top', 'svc']), /vmrt-shim init .*--id [0-9a-f]{64}/);

  d.dockerOk(['stop', '-t', '20', 'svc']);
  assert.ok(Date.now() - started < 15000, 'the TERM trap ended the container before the timeout');
  assert.equal(d.docker(['logs', 'svc']).stdout, 'ready\ngot-usr1\ngot-term\n');
  assert.equal(d.dockerOk(['inspect', '--format', '{{.State.ExitCode}}', 'svc']).trim(), '0');
  d.dockerOk(['rm', 'svc']);
  await assertNothingLeft(id);
});

test('docker stop sends SIGKILL after the timeout when SIGTERM is ignored', async () => {
  const id = d.dockerOk(['run', '-d', '--runtime', 'vmrt', '--name', 'stubborn', IMAGE, 'sh', '-c', 'trap "" TERM; echo ready; while :; do sleep 0.1; done']).trim();
  await waitFor('ready', () => (d.docker(['logs', 'stubborn']).stdout === 'ready\n' ? true : undefined));
  const started = Date.now();
  d.dockerOk(['stop', '-t', '3', 'stubborn']);
  const took = Date.now() - started;
  assert.ok(took >= 3000 && took < 15000, `stop took ${took} ms`);
  assert.equal(d.dockerOk(['inspect', '--format', '{{.State.ExitCode}}', 'stubborn']).trim(), '137');
  d.dockerOk(['rm', 'stubborn']);
  await assertNothingLeft(id);
});

test('docker restart boots a new VM for the same container', async () => {
  const id = d.dockerOk(['run', '-d', '--runtime', 'vmrt', '--name', 'again', IMAGE, 'sh', '-c', 'echo boot; sleep 1000']).trim();
  await waitFor('first boot', () => (d.docker(['logs', 'again']).stdout === 'boot\n' ? true : undefined));
  d.dockerOk(['restart', '-t', '1', 'again']);
  await waitFor('second boot', () => (d.docker(['logs', 'again']).stdout === 'boot\nboot\n' ? true : undefined));
  assert.equal(d.dockerOk(['inspect', '--format', '{{.State.Running}} {{.RestartCount}}', 'again']).trim(), 'true 0');
  d.dockerOk(['rm', '-f', 'again']);
  await assertNothingLeft(id);
});

test('docker rm -f of a running container leaves nothing behind', async () => {
  const id = d.dockerOk(['run', '-d', '--runtime', 'vmrt', IMAGE, 'sleep', '1000']).trim();
  const procs = processesMentioning(join(runDirFor(d.runtimeRoot, id), 'agent.sock'));
  assert.equal(procs.length, 2, 'QEMU and the shim run');
  // QEMU must hold none of containerd's pipes or sockets (Docker's stdio, its fd 3), or Docker
  // waits for an EOF that never comes. containerd's shim is the parent of vmrt's shim.
  const pidOf = (needle: string) => Number(procs.find((p) => p.includes(needle))!.split(':')[0]);
  const containerdShim = Number(readFileSync(`/proc/${pidOf('vmrt-shim')}/stat`, 'utf8').split(') ')[1]!.split(' ')[1]);
  assert.match(readFileSync(`/proc/${containerdShim}/cmdline`, 'utf8'), /containerd-shim/);
  const shared = [...openObjects(pidOf('qemu-system'))].filter((o) => openObjects(containerdShim).has(o));
  assert.deepEqual(shared, []);
  // docker stats reads the cgroup of the pid in the pid file (the shim): QEMU is in it too.
  for (const needle of ['qemu-system', 'vmrt-shim']) {
    assert.match(readFileSync(`/proc/${pidOf(needle)}/cgroup`, 'utf8'), new RegExp(`:/docker/${id}$`, 'm'), needle);
  }
  const usage = d.dockerOk(['stats', '--no-stream', '--format', '{{.MemUsage}}', id]);
  const [, amount, unit] = /^([\d.]+)(MiB|GiB)/.exec(usage) ?? [];
  assert.ok(amount && Number(amount) * (unit === 'GiB' ? 1024 : 1) >= 50, `docker stats counts the VM: ${usage}`);
  d.dockerOk(['rm', '-f', id]);
  await assertNothingLeft(id);
});

test('a killed QEMU ends the container and leaves nothing behind', async () => {
  const id = d.dockerOk(['run', '-d', '--rm', '--runtime', 'vmrt', IMAGE, 'sleep', '1000']).trim();
  const agentSocket = join(runDirFor(d.runtimeRoot, id), 'agent.sock');
  const qemu = processesMentioning(agentSocket).find((p) => p.includes('qemu-system'));
  assert.ok(qemu, 'QEMU runs');
  process.kill(Number(qemu.split(':')[0]), 'SIGKILL');
  await waitFor('the container to be removed', () => (d.docker(['inspect', id]).status !== 0 ? true : undefined), 60000);
  await assertNothingLeft(id);
});
