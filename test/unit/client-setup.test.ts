/** The set-up's pure parts: the launcher, the architecture of the bundled runtime, finding dockerd, the privileged script. */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  architectureProblem,
  elfArchitecture,
  launcherScript,
  stableLauncherPath,
  writeLauncher,
} from '../../client/src/setup/bundled-runtime.js';
import { findDockerd, privileged, registeredPath, registrationScript } from '../../client/src/setup/docker-daemon.js';
import { REPO } from '../support/images.js';

const temp = () => mkdtempSync(join(tmpdir(), 'vmrt-setup-test-'));

test('the launcher lives under the user data folder and runs the bundled CLI with the given node, else the system one', () => {
  assert.equal(stableLauncherPath({ HOME: '/home/ada' }), '/home/ada/.local/share/vmrt/bin/vmrt');
  assert.equal(stableLauncherPath({ HOME: '/home/ada', XDG_DATA_HOME: '/data' }), '/data/vmrt/bin/vmrt');
  const dir = temp();
  try {
    const cli = join(dir, "it's main.js");
    writeFileSync(cli, 'console.log(process.argv.slice(2).join(" "))');
    const launcher = join(dir, 'bin', 'vmrt');
    const shim = join(REPO, 'runtime', 'build', 'vmrt-shim');
    for (const runtime of [
      { cli, shim },
      { cli, shim: '/gone/vmrt-shim' },
    ]) {
      writeLauncher(launcher, launcherScript(process.execPath, runtime));
      assert.equal(spawnSync(launcher, ['a', 'b c'], { encoding: 'utf8' }).stdout, 'a b c\n', `through ${runtime.shim}`);
      writeLauncher(launcher, launcherScript('/gone/node', runtime));
      assert.equal(spawnSync(launcher, ['x'], { encoding: 'utf8' }).stdout, 'x\n', 'the system node when the editor one is gone');
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a runtime built for another architecture is named with the VSIX to install', () => {
  const dir = temp();
  try {
    const shim = join(dir, 'vmrt-shim');
    const elf = Buffer.alloc(64);
    elf.writeUInt32BE(0x7f454c46, 0);
    elf.writeUInt16LE(0xb7, 18);
    writeFileSync(shim, elf);
    assert.equal(elfArchitecture(shim), 'arm64');
    assert.equal(architectureProblem({ cli: '', shim }, 'arm64'), undefined);
    assert.match(
      architectureProblem({ cli: '', shim }, 'x64')!,
      /carries the runtime for linux-arm64, but this machine is linux-x64: install the linux-x64 VSIX/,
    );
    assert.equal(elfArchitecture(process.execPath), process.arch);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the dockerd of a socket, with its daemon.json, is found in /proc', () => {
  const proc = temp();
  try {
    const write = (pid: number, argv: string[]) => {
      mkdirSync(join(proc, String(pid)));
      writeFileSync(join(proc, String(pid), 'cmdline'), `${argv.join('\0')}\0`);
    };
    write(10, ['/usr/bin/dockerd', '-H', 'fd://', '--containerd=/run/containerd/containerd.sock']);
    write(20, ['dockerd', '--config-file', '/tmp/d/daemon.json', '-H', 'unix:///tmp/d/docker.sock']);
    write(30, ['/usr/bin/dockerd-rootless.sh', '-H', 'unix:///tmp/d/docker.sock']);
    assert.deepEqual(findDockerd('/tmp/d/docker.sock', proc), { pid: 20, daemonJson: '/tmp/d/daemon.json' });
    assert.deepEqual(findDockerd('/var/run/docker.sock', proc), { pid: 10, daemonJson: '/etc/docker/daemon.json' });
    assert.equal(findDockerd('/elsewhere.sock', proc), undefined);
  } finally {
    rmSync(proc, { recursive: true, force: true });
  }
});

test("daemon.json's vmrt entry is read", () => {
  assert.equal(registeredPath(undefined), undefined);
  assert.equal(registeredPath('{"runtimes": {"kata": {"path": "/k"}}}'), undefined);
  assert.equal(registeredPath('{"runtimes": {"vmrt": {"path": "/opt/vmrt"}}}'), '/opt/vmrt');
});

test('the privileged script installs exactly the shown file, refuses one changed since, and signals dockerd', async () => {
  const dir = temp();
  try {
    const daemonJson = join(dir, 'etc', 'daemon.json');
    const shownFrom = join(dir, 'before.json');
    const merged = join(dir, 'merged.json');
    writeFileSync(shownFrom, '{"debug": true}');
    writeFileSync(merged, '{"debug": true, "runtimes": {}}');
    const dockerd = spawn('sleep', ['30']);
    const signalled = new Promise((resolve) => dockerd.once('exit', (_code, signal) => resolve(signal)));
    const script = registrationScript({ daemonJson, shownFrom, merged, dockerdPid: dockerd.pid! });
    mkdirSync(join(dir, 'etc'));
    writeFileSync(daemonJson, '{"debug": false}');
    const changed = spawnSync('sh', ['-c', script], { encoding: 'utf8' });
    assert.equal(changed.status, 3);
    assert.match(changed.stderr, /changed since it was shown/);
    assert.equal(readFileSync(daemonJson, 'utf8'), '{"debug": false}', 'left alone');
    writeFileSync(daemonJson, '{"debug": true}');
    chmodSync(daemonJson, 0o600);
    const ran = spawnSync('sh', ['-c', script], { encoding: 'utf8' });
    assert.equal(ran.status, 0, ran.stderr);
    assert.equal(readFileSync(daemonJson, 'utf8'), '{"debug": true, "runtimes": {}}');
    assert.equal(await signalled, 'SIGHUP');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  assert.deepEqual(privileged('true', 0, true), ['sh', '-c', 'true']);
  assert.deepEqual(privileged('true', 1000, true), ['sudo', 'sh', '-c', 'true']);
  assert.deepEqual(privileged('true', 1000, false), ['pkexec', 'sh', '-c', 'true']);
});
