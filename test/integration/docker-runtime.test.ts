/**
 * vmrt as a Docker runtime: a private dockerd (started here) runs busybox containers with
 * `--runtime vmrt`, each in its own QEMU VM. Needs root, docker.io, QEMU, the guest and shim.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { release } from 'node:os';
import { dockerdForFile, startDockerd, type Dockerd } from '../support/dockerd.js';
import { importBusyboxImage, REPO } from '../support/images.js';
import { assertNothingLeft, containerProcesses, processesMentioning } from '../support/leftovers.js';
import { runDirFor } from '../../runtime/src/state.js';
import { agentSocket } from '../../runtime/src/container.js';
import { TEMPLATE_NIC_MAC } from '../../runtime/src/network.js';
import { templateWanted } from '../../runtime/src/vm.js';
import { waitFor } from '../support/wait.js';
import { awaitKsmScans, ksmStat, withHostKsm } from '../support/ksm.js';

const IMAGE = 'vmrt-test-busybox';
const GUEST_KERNEL = readFileSync(join(REPO, 'runtime', 'build', 'guest', 'kernel-release'), 'utf8').trim();
let d: Dockerd;

function run(args: string[], input?: string) {
  return d.docker(['run', '--rm', '--runtime', 'vmrt', ...args], { input });
}

/** Runs a docker command under `script`, i.e. with a pty of rows x cols as its terminal. */
function underPty(rows: number, cols: number, dockerArgs: string): string {
  const r = spawnSync('script', ['-qec', `stty rows ${rows} cols ${cols}; docker ${dockerArgs}`, '/dev/null'], {
    encoding: 'utf8',
    timeout: 120000,
    env: { ...process.env, DOCKER_HOST: `unix://${d.socket}` },
    input: '',
  });
  assert.equal(r.status, 0, `script … docker ${dockerArgs}: ${r.stdout}${r.stderr}`);
  return r.stdout.replace(/\r/g, '');
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

// A second runtime, as a user would add it in daemon.json: vmrt with memory merging off.
const runtimes = mkdtempSync('/tmp/vmrt-runtimes-');
writeFileSync(
  join(runtimes, 'daemon.json'),
  JSON.stringify({
    runtimes: {
      'vmrt-unmerged': { path: join(REPO, 'runtime', 'bin', 'vmrt'), runtimeArgs: ['--memory-merge', 'off'] },
      'vmrt-own-layouts': { path: join(REPO, 'runtime', 'bin', 'vmrt'), runtimeArgs: ['--shared-mmap-layout', 'off'] },
    },
  }),
);
after(() => rmSync(runtimes, { recursive: true, force: true }));
dockerdForFile(
  IMAGE,
  (daemon) => {
    d = daemon;
  },
  undefined,
  ['--config-file', join(runtimes, 'daemon.json')],
);

test("docker run --runtime vmrt prints the guest kernel, not the host's", () => {
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
  assert.match(
    r.stderr,
    /config\.json: linux\.namespaces\[\d\]\.path: unsupported feature "host-network" \(\S+\/netns\/default is the host's network namespace\): the container runs in its own VM/,
  );
});

test('volumes: a folder and a read-only file are shared with the VM, writes reach the host', () => {
  const dir = join(d.dir, 'volume');
  mkdirSync(dir);
  writeFileSync(join(dir, 'in'), 'from-host\n');
  writeFileSync(join(d.dir, 'one-file'), 'file-content\n');
  const r = run([
    '-v',
    `${dir}:/data`,
    '-v',
    `${d.dir}/one-file:/etc/one-file:ro`,
    IMAGE,
    'sh',
    '-c',
    'cat /data/in /etc/one-file; echo from-guest > /data/out; echo x 2>/dev/null > /etc/one-file || echo read-only',
  ]);
  assert.deepEqual([r.status, r.stdout], [0, 'from-host\nfile-content\nread-only\n']);
  assert.equal(readFileSync(join(dir, 'out'), 'utf8'), 'from-guest\n');
  assert.equal(readFileSync(join(d.dir, 'one-file'), 'utf8'), 'file-content\n');
});

test('a bind-mounted file the host rewrites shows in a running container within seconds, its new size too', async () => {
  const dir = mkdtempSync(join(d.dir, 'rewritten-'));
  writeFileSync(join(dir, 'f'), 'one\n');
  const id = d.dockerOk(['run', '-d', '--runtime', 'vmrt', '-v', `${dir}:/v`, IMAGE, 'sleep', '1000']).trim();
  try {
    const read = () => d.docker(['exec', id, 'cat', '/v/f']).stdout;
    // Read once: the guest holds the file's pages from here on.
    assert.equal(read(), 'one\n');
    for (const content of ['two\n', 'three, longer\n']) {
      writeFileSync(join(dir, 'f'), content);
      await waitFor(
        `${JSON.stringify(content)} in the guest`,
        () => (read() === content ? true : undefined),
        5000,
        () => `: ${read()}`,
      );
    }
  } finally {
    d.dockerOk(['rm', '-f', id]);
  }
});

test("networking: the VM gets the container's address, MAC and routes; Docker's bridge reaches it", () => {
  d.dockerOk([
    'run',
    '-d',
    '--runtime',
    'runc',
    '--name',
    'web',
    IMAGE,
    'sh',
    '-c',
    'mkdir -p /www; echo hello-web > /www/index.html; httpd -f -p 8080 -h /www',
  ]);
  const id = d.dockerOk(['run', '-d', '--runtime', 'vmrt', '--name', 'vmnet', IMAGE, 'sleep', '1000']).trim();
  const [ip, len, gw, mac] = d
    .dockerOk([
      'inspect',
      '--format',
      '{{.NetworkSettings.IPAddress}} {{.NetworkSettings.IPPrefixLen}} {{.NetworkSettings.Gateway}} {{.NetworkSettings.MacAddress}}',
      'vmnet',
    ])
    .trim()
    .split(' ');
  const web = d.dockerOk(['inspect', '--format', '{{.NetworkSettings.IPAddress}}', 'web']).trim();
  // What the guest applies (the spec annotation org.vmrt.network) is in the state too. A VM
  // restored from a template has its NIC from the template, and gives it the container's MAC.
  const state = JSON.parse(readFileSync(join(d.runtimeRoot, id, 'state.json'), 'utf8')) as { network: unknown };
  const fromTemplate = templateWanted(undefined) ? { templateMac: TEMPLATE_NIC_MAC } : {};
  assert.deepEqual(state.network, {
    interfaces: [{ name: 'eth0', mac, mtu: 1500, addresses: [`${ip}/${len}`], tap: 'vmrt-tap0', port: 0, ...fromTemplate }],
    routes: [{ dst: 'default', gateway: gw, dev: 'eth0' }],
  });
  const r = d.docker([
    'exec',
    'vmnet',
    'sh',
    '-c',
    `cat /sys/class/net/eth0/address; ip -o -4 addr show dev eth0 | awk '{print $4}'; ip route | grep ^default | cut -d' ' -f1-5; wget -qO- http://${web}:8080/index.html`,
  ]);
  assert.deepEqual([r.status, r.stdout, r.stderr], [0, `${mac}\n${ip}/${len}\ndefault via ${gw} dev eth0\nhello-web\n`, '']);
  // As the runc container on the same network: the address's broadcast, and IPv6 off (Docker's
  // bridge has none): not one IPv6 packet sent.
  const sameAsRunc =
    "ip -o -4 addr show dev eth0 | awk '{print $5, $6}'; grep -E '^Ip6Out(Requests|McastPkts)' /proc/net/snmp6 | tr -s ' \\t' ' '";
  const underRunc = d.dockerOk(['exec', 'web', 'sh', '-c', sameAsRunc]);
  assert.match(underRunc, /^brd \S+\nIp6OutRequests 0\nIp6OutMcastPkts 0\n$/);
  assert.equal(d.dockerOk(['exec', 'vmnet', 'sh', '-c', sameAsRunc]), underRunc);
  const back = d.docker(['exec', 'web', 'ping', '-c', '1', '-W', '5', ip!]);
  assert.equal(back.status, 0, back.stdout);
  d.dockerOk(['rm', '-f', 'web', 'vmnet']);
});

test('lo is up, with and without a network, as under runc: 127.0.0.1 answers', () => {
  const script = "ip -o link show | awk '{print $2}' | grep -v '^sit0' | tr '\\n' ' '; ping -c 1 -W 5 127.0.0.1 >/dev/null && echo answers";
  for (const network of ['none', 'bridge']) {
    const seen = ['runc', 'vmrt'].map((runtime) => {
      const r = d.docker(['run', '--rm', '--runtime', runtime, '--network', network, IMAGE, 'sh', '-c', script]);
      return [r.status, r.stdout.replace(/@if\d+/, ''), r.stderr];
    });
    assert.deepEqual(seen[1], seen[0], `--network ${network}: vmrt, then runc`);
    assert.match(String(seen[0]![1]), /lo: .*answers/);
  }
});

test('a published port (-p) reaches a server in the VM', async () => {
  d.dockerOk([
    'run',
    '-d',
    '--runtime',
    'vmrt',
    '-p',
    '127.0.0.1::8080',
    '--name',
    'pub',
    IMAGE,
    'sh',
    '-c',
    'mkdir -p /www; echo published > /www/index.html; httpd -f -p 8080 -h /www',
  ]);
  const hostPort = d.dockerOk(['port', 'pub', '8080']).trim().split(':').pop();
  // httpd starts right after `docker run -d` returns.
  const body = await waitFor(
    'the published server',
    () => {
      const r = spawnSync(
        process.execPath,
        [
          '-e',
          `fetch('http://127.0.0.1:${hostPort}/index.html').then((r) => r.text()).then((t) => process.stdout.write(t), () => process.exit(1))`,
        ],
        { encoding: 'utf8' },
      );
      return r.status === 0 ? r.stdout : undefined;
    },
    20000,
  );
  assert.equal(body, 'published\n');
  d.dockerOk(['rm', '-f', 'pub']);
});

test('stdin is piped with -i and ends with EOF', () => {
  const r = run(['-i', IMAGE, 'sh', '-c', 'cat; echo done'], 'hi\nthere\n');
  assert.deepEqual([r.status, r.stdout], [0, 'hi\nthere\ndone\n']);
});

test('docker run -t: a real terminal whose window size is visible inside', () => {
  // Docker 20.10 writes no process.consoleSize: the CLI resizes the console only after `start`
  // returned (with runc too, a command that reads the size at once can still see the default).
  // Give that resize a moment to travel shim -> agent -> guest pty.
  const out = underPty(33, 111, `run --rm -t --runtime vmrt ${IMAGE} sh -c 'sleep 1; stty size; tty'`);
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
  // exec's process): give that resize a moment to reach the guest. Without the wait the guest
  // still shows its default 24x80, even now that the shim sends no 0x0 size.
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
  await assertNothingLeft(d.runtimeRoot, id);
});

test('docker stop sends SIGKILL after the timeout when SIGTERM is ignored', async () => {
  const id = d
    .dockerOk([
      'run',
      '-d',
      '--runtime',
      'vmrt',
      '--name',
      'stubborn',
      IMAGE,
      'sh',
      '-c',
      'trap "" TERM; echo ready; while :; do sleep 0.1; done',
    ])
    .trim();
  await waitFor('ready', () => (d.docker(['logs', 'stubborn']).stdout === 'ready\n' ? true : undefined));
  const started = Date.now();
  d.dockerOk(['stop', '-t', '3', 'stubborn']);
  const took = Date.now() - started;
  assert.ok(took >= 3000 && took < 15000, `stop took ${took} ms`);
  assert.equal(d.dockerOk(['inspect', '--format', '{{.State.ExitCode}}', 'stubborn']).trim(), '137');
  d.dockerOk(['rm', 'stubborn']);
  await assertNothingLeft(d.runtimeRoot, id);
});

test('docker restart boots a new VM for the same container', async () => {
  const id = d.dockerOk(['run', '-d', '--runtime', 'vmrt', '--name', 'again', IMAGE, 'sh', '-c', 'echo boot; sleep 1000']).trim();
  await waitFor('first boot', () => (d.docker(['logs', 'again']).stdout === 'boot\n' ? true : undefined));
  d.dockerOk(['restart', '-t', '1', 'again']);
  await waitFor('second boot', () => (d.docker(['logs', 'again']).stdout === 'boot\nboot\n' ? true : undefined));
  assert.equal(d.dockerOk(['inspect', '--format', '{{.State.Running}} {{.RestartCount}}', 'again']).trim(), 'true 0');
  d.dockerOk(['rm', '-f', 'again']);
  await assertNothingLeft(d.runtimeRoot, id);
});

test('docker rm -f of a running container leaves nothing behind', async () => {
  const id = d.dockerOk(['run', '-d', '--runtime', 'vmrt', IMAGE, 'sleep', '1000']).trim();
  const procs = processesMentioning(agentSocket(runDirFor(d.runtimeRoot, id)));
  assert.equal(procs.length, 2, 'QEMU and the shim run');
  // QEMU must hold none of containerd's pipes or sockets (Docker's stdio, its fd 3), or Docker
  // waits for an EOF that never comes. containerd's shim is the parent of vmrt's shim.
  const pidOf = (needle: string) => Number(procs.find((p) => p.includes(needle))!.split(':')[0]);
  const containerdShim = Number(
    readFileSync(`/proc/${pidOf('vmrt-shim')}/stat`, 'utf8')
      .split(') ')[1]!
      .split(' ')[1],
  );
  assert.match(readFileSync(`/proc/${containerdShim}/cmdline`, 'utf8'), /containerd-shim/);
  const shared = [...openObjects(pidOf('qemu-system'))].filter((o) => openObjects(containerdShim).has(o));
  assert.deepEqual(shared, []);
  // docker stats reads the cgroup of the pid in the pid file (the shim): QEMU is in it too.
  for (const needle of ['qemu-system', 'vmrt-shim']) {
    assert.match(readFileSync(`/proc/${pidOf(needle)}/cgroup`, 'utf8'), new RegExp(`:/docker/${id}$`, 'm'), needle);
  }
  const usage = d.dockerOk(['stats', '--no-stream', '--format', '{{.MemUsage}}', id]);
  const [, amount, unit] = /^([\d.]+)(MiB|GiB)/.exec(usage) ?? [];
  // More than the shim's own MiB: the VM's memory (a VM restored from a template counts only what
  // it wrote: the pages it shares are the template's).
  assert.ok(amount && Number(amount) * (unit === 'GiB' ? 1024 : 1) >= 20, `docker stats counts the VM: ${usage}`);
  d.dockerOk(['rm', '-f', id]);
  await assertNothingLeft(d.runtimeRoot, id);
});

/** A seccomp profile that allows everything but mkdir (EPERM). */
const NO_MKDIR_PROFILE = {
  defaultAction: 'SCMP_ACT_ALLOW',
  syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 }],
};
let featured: string | undefined;

/**
 * One VM for the features a single container can show at once (each boot costs seconds under
 * TCG): the `feature <id>:` tests below look at it from inside with `docker exec`.
 */
function featuredContainer(): string {
  if (featured) return featured;
  const profile = join(d.dir, 'no-mkdir.json');
  writeFileSync(profile, JSON.stringify(NO_MKDIR_PROFILE));
  mkdirSync(join(d.dir, 'volume-root', 'sub'), { recursive: true });
  writeFileSync(join(d.dir, 'volume-root', 'outside'), 'not shared\n');
  writeFileSync(join(d.dir, 'volume-root', 'sub', 'in'), 'from-subfolder\n');
  featured = d
    .dockerOk([
      'run',
      '-d',
      '--runtime',
      'vmrt',
      '--name',
      'featured',
      '--cap-drop',
      'NET_RAW',
      '--cap-add',
      'NET_ADMIN',
      '--sysctl',
      'net.ipv4.ip_forward=1',
      '--sysctl',
      'kernel.shmmax=123456789',
      '--tmpfs',
      '/scratch:size=16m',
      '--shm-size',
      '128m',
      '--cpus',
      '2',
      '--cpuset-cpus',
      '1',
      '--cpu-shares',
      '512',
      '--security-opt',
      `seccomp=${profile}`,
      '--security-opt',
      'no-new-privileges',
      '--kernel-memory',
      '64m',
      '-v',
      `${join(d.dir, 'volume-root', 'sub')}:/sub`,
      IMAGE,
      'sleep',
      '1000',
    ])
    .trim();
  return featured;
}

function inFeatured(script: string) {
  const r = d.docker(['exec', featuredContainer(), 'sh', '-c', script]);
  return [r.status, r.stdout, r.stderr];
}

test('feature capabilities: --cap-drop NET_RAW stops ping, --cap-add NET_ADMIN lets ip addr add work, in the guest kernel', () => {
  // Docker's default set is a80425fb; minus NET_RAW (bit 13), plus NET_ADMIN (bit 12).
  assert.deepEqual(
    inFeatured(
      'grep CapEff /proc/self/status; ping -c 1 -W 2 127.0.0.1; echo ping=$?; ip addr add 10.9.9.9/32 dev lo && ip -o -4 addr show dev lo | grep -o 10.9.9.9/32',
    ),
    [
      0,
      'CapEff:\t00000000a80415fb\nPING 127.0.0.1 (127.0.0.1): 56 data bytes\nping=1\n10.9.9.9/32\n',
      'ping: permission denied (are you root?)\n',
    ],
  );
});

test("feature sysctl: --sysctl sets net.ipv4.ip_forward and kernel.shmmax in the VM's kernel", () => {
  assert.deepEqual(inFeatured('cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/shmmax'), [0, '1\n123456789\n', '']);
});

test('feature tmpfs: --tmpfs /scratch:size=16m is a 16 MiB tmpfs in the guest', () => {
  assert.deepEqual(inFeatured("grep ' /scratch ' /proc/mounts | cut -d' ' -f3; df -k /scratch | awk 'NR==2 {print $2}'"), [
    0,
    'tmpfs\n16384\n',
    '',
  ]);
});

test('feature shm-size: --shm-size 128m makes /dev/shm a 128 MiB tmpfs of the guest (not a host folder)', () => {
  assert.deepEqual(inFeatured("grep ' /dev/shm ' /proc/mounts | cut -d' ' -f1-3; df -k /dev/shm | awk 'NR==2 {print $2}'"), [
    0,
    'shm /dev/shm tmpfs\n131072\n',
    '',
  ]);
});

test("feature cpus: --cpus 2 boots 2 vCPUs and sets the guest cgroup's quota", () => {
  const qemu = processesMentioning(agentSocket(runDirFor(d.runtimeRoot, featuredContainer()))).find((p) => p.includes('qemu-system'));
  assert.ok(qemu, 'QEMU runs');
  const qemuArgs = readFileSync(`/proc/${qemu.split(':')[0]}/cmdline`, 'utf8').split('\0');
  assert.equal(qemuArgs[qemuArgs.indexOf('-smp') + 1], '2');
  assert.deepEqual(inFeatured('grep -c ^processor /proc/cpuinfo; cat /sys/devices/system/cpu/online /sys/fs/cgroup/cpu.max'), [
    0,
    '2\n0-1\n200000 100000\n',
    '',
  ]);
});

test('feature cpuset: --cpuset-cpus 1 and --cpu-shares 512 apply to the guest cgroup', () => {
  // cpu.weight 20 is runc's conversion of 512 shares; nproc counts the CPUs the process may use.
  assert.deepEqual(inFeatured('cat /sys/fs/cgroup/cpuset.cpus.effective /sys/fs/cgroup/cpu.weight; nproc'), [0, '1\n20\n1\n', '']);
});

test('feature security-opt: a seccomp profile and no-new-privileges apply in the guest', () => {
  assert.deepEqual(inFeatured('mkdir /tmp/made; echo mkdir=$?; grep NoNewPrivs /proc/self/status'), [
    0,
    'mkdir=1\nNoNewPrivs:\t1\n',
    "mkdir: can't create directory '/tmp/made': Operation not permitted\n",
  ]);
});

test('feature kernel-memory: --kernel-memory is accepted (Docker and cgroup v2 no longer apply it)', () => {
  assert.equal(
    d.dockerOk(['inspect', '--format', '{{.HostConfig.KernelMemory}} {{.State.Running}}', featuredContainer()]).trim(),
    '67108864 true',
  );
});

test('feature update: docker update changes the limits of the running guest cgroup', () => {
  d.dockerOk(['update', '--cpus', '0.5', '--memory', '96m', '--memory-swap', '96m', '--pids-limit', '50', featuredContainer()]);
  assert.deepEqual(inFeatured('cat /sys/fs/cgroup/cpu.max /sys/fs/cgroup/memory.max /sys/fs/cgroup/pids.max'), [
    0,
    '50000 100000\n100663296\n50\n',
    '',
  ]);
});

test('feature k8s-subpath: a subfolder of a volume (what the kubelet mounts for subPath) is shared alone, both ways', () => {
  assert.deepEqual(inFeatured('ls /sub; cat /sub/in; echo from-guest > /sub/out'), [0, 'in\nfrom-subfolder\n', '']);
  assert.equal(readFileSync(join(d.dir, 'volume-root', 'sub', 'out'), 'utf8'), 'from-guest\n');
});

test("feature stats: docker stats shows the VM's CPU and memory while the guest is busy", async () => {
  d.dockerOk(['exec', '-d', featuredContainer(), 'sh', '-c', 'while :; do :; done']);
  const [cpu, memory] = await waitFor('a busy VM in docker stats', () => {
    const [cpuText, memText] = d
      .dockerOk(['stats', '--no-stream', '--format', '{{.CPUPerc}} {{.MemUsage}}', featuredContainer()])
      .trim()
      .split(' ');
    const percent = Number(cpuText!.replace('%', ''));
    return percent > 10 ? [percent, memText!] : undefined;
  });
  const [, amount, unit] = /^([\d.]+)(MiB|GiB)/.exec(memory) ?? [];
  // The busy shell alone is well under 1 MiB; a VM restored from a template, about 40 MiB.
  assert.ok(amount && Number(amount) * (unit === 'GiB' ? 1024 : 1) >= 20, `docker stats counts the VM's memory: ${memory} (cpu ${cpu}%)`);
  d.dockerOk(['rm', '-f', featuredContainer()]);
  featured = undefined;
});

test('feature privileged: every capability inside the VM, no host device; --cpu-quota/--cpu-period size the vCPUs', () => {
  const r = run([
    '--privileged',
    '--cpu-period',
    '50000',
    '--cpu-quota',
    '75000',
    IMAGE,
    'sh',
    '-c',
    "grep CapEff /proc/self/status; ip addr add 10.9.9.9/32 dev lo && echo added; ls /dev | tr '\\n' ' '; echo; nproc; cat /sys/fs/cgroup/cpu.max",
  ]);
  // 3fffffffff: every capability Docker 20.10 knows; ceil(75000/50000) = 2 vCPUs.
  assert.deepEqual(
    [r.status, r.stdout, r.stderr],
    [
      0,
      'CapEff:\t0000003fffffffff\nadded\ncore fd full mqueue null ptmx pts random shm stderr stdin stdout tty urandom zero \n2\n75000 50000\n',
      '',
    ],
  );
});

test("feature swarm: a swarm service runs in a VM when vmrt is the daemon's default runtime", async () => {
  // Swarm cannot pick a runtime per service: a daemon of its own, with vmrt as its default.
  const hadGwbridge = spawnSync('ip', ['link', 'show', 'docker_gwbridge'], { stdio: 'ignore' }).status === 0;
  const swarm = await startDockerd(['--default-runtime', 'vmrt']);
  try {
    importBusyboxImage((args, input) => swarm.dockerOk(args, input), swarm.dir, IMAGE);
    swarm.dockerOk(['swarm', 'init', '--advertise-addr', '127.0.0.1']);
    swarm.dockerOk([
      'service',
      'create',
      '--detach',
      '--name',
      'in-vm',
      '--restart-condition',
      'none',
      IMAGE,
      'sh',
      '-c',
      'uname -r; sleep 1000',
    ]);
    const logs = await waitFor(
      "the service's output",
      () => swarm.docker(['service', 'logs', '--raw', 'in-vm']).stdout || undefined,
      60000,
    );
    assert.equal(logs, `${GUEST_KERNEL}\n`);
    swarm.dockerOk(['service', 'rm', 'in-vm']);
    swarm.dockerOk(['swarm', 'leave', '--force']);
  } finally {
    swarm.removeAllContainers();
    await swarm.stop();
    // Swarm makes this bridge on the host and leaves it behind.
    if (!hadGwbridge) spawnSync('ip', ['link', 'del', 'docker_gwbridge'], { stdio: 'ignore' });
  }
});

test("the host's KSM merges the pages of vmrt's VMs, QEMU's own too; a container with memory merging off keeps its own", async () => {
  const ids = [
    ...[1, 2].map(() => d.dockerOk(['run', '-d', '--runtime', 'vmrt', IMAGE, 'sleep', '1000']).trim()),
    d.dockerOk(['run', '-d', '--runtime', 'vmrt-unmerged', IMAGE, 'sleep', '1000']).trim(),
  ];
  try {
    const [merged, , kept] = ids.map((id) => containerProcesses(d.runtimeRoot, id).qemu!);
    assert.equal(ksmStat(merged!).get('ksm_merge_any'), 'yes', 'every mapping of QEMU is open to KSM');
    assert.equal(ksmStat(kept!).get('ksm_merge_any'), 'no');
    assert.match(readFileSync(`/proc/${kept}/cmdline`, 'utf8'), /mem-merge=off/);
    // Under TCG no transparent huge pages, merged or not; KVM keeps them for guest RAM.
    const { accelerator } = JSON.parse(readFileSync(join(d.runtimeRoot, ids[0]!, 'state.json'), 'utf8')) as { accelerator: string };
    for (const qemu of [merged!, kept!]) {
      assert.match(readFileSync(`/proc/${qemu}/status`, 'utf8'), new RegExp(`^THP_enabled:\\s+${accelerator === 'tcg' ? 0 : 1}$`, 'm'));
    }
    await withHostKsm(5000, async () => {
      await awaitKsmScans(2, 60000);
      const mergedPages = Number(ksmStat(merged!).get('ksm_merging_pages'));
      assert.ok(mergedPages > 256, `QEMU of a vmrt container shares ${mergedPages} pages through KSM`);
      assert.equal(ksmStat(kept!).get('ksm_merging_pages'), '0', 'the container with memory merging off shares none');
    });
  } finally {
    d.docker(['rm', '-f', ...ids]);
  }
});

test('under TCG the processes of a VM share one random mmap layout, each VM its own; with --shared-mmap-layout off, one per process', () => {
  // busybox's cat maps its buffer just below the mmap base, whose random part is the layout's.
  const bufferOfCat = (id: string) => d.dockerOk(['exec', id, 'sh', '-c', 'cat /proc/self/maps | grep -m1 "^7" | cut -d- -f1']).trim();
  const ids = ['vmrt', 'vmrt', 'vmrt-own-layouts'].map((runtime) =>
    d.dockerOk(['run', '-d', '--runtime', runtime, IMAGE, 'sleep', '1000']).trim(),
  );
  try {
    const { accelerator } = JSON.parse(readFileSync(join(d.runtimeRoot, ids[0]!, 'state.json'), 'utf8')) as { accelerator: string };
    const [first, second, own] = ids.map((id) => [bufferOfCat(id), bufferOfCat(id)]);
    assert.match(first![0]!, /^7f[0-9a-f]{10}$/);
    if (accelerator === 'tcg') {
      assert.equal(first![1], first![0], 'two processes of one VM: one layout');
      assert.notEqual(second![0], first![0], 'two VMs: a layout each');
    } else {
      assert.notEqual(first![1], first![0], `under ${accelerator} nothing is translated: a layout per process`);
    }
    assert.notEqual(own![1], own![0], 'off: a layout per process');
  } finally {
    d.docker(['rm', '-f', ...ids]);
  }
});

test('a killed QEMU ends the container and leaves nothing behind', async () => {
  const id = d.dockerOk(['run', '-d', '--rm', '--runtime', 'vmrt', IMAGE, 'sleep', '1000']).trim();
  const qemu = processesMentioning(agentSocket(runDirFor(d.runtimeRoot, id))).find((p) => p.includes('qemu-system'));
  assert.ok(qemu, 'QEMU runs');
  process.kill(Number(qemu.split(':')[0]), 'SIGKILL');
  await waitFor('the container to be removed', () => (d.docker(['inspect', id]).status !== 0 ? true : undefined), 60000);
  await assertNothingLeft(d.runtimeRoot, id);
});
