/**
 * Pods under Docker: `--network container:A` (and `--pid container:A`) where A is a vmrt
 * container runs the new container in A's VM, one QEMU for both; docker-compose's
 * `network_mode: service:x` likewise; a runc A is refused at create with the feature id; a
 * stopped A takes its joined containers with it. A private dockerd; needs root, docker.io,
 * docker-compose, QEMU, the guest and the shim.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { dockerdForFile, type Dockerd } from '../support/dockerd.js';
import { hostProgram } from '../support/host-program.js';
import { assertNothingLeft } from '../support/leftovers.js';
import { waitFor } from '../support/wait.js';
import { processesMentioning } from '../../runtime/src/proc.js';
import { runDirFor } from '../../runtime/src/state.js';

const IMAGE = 'vmrt-test-busybox';
let d: Dockerd;

dockerdForFile(IMAGE, (daemon) => {
  d = daemon;
});

/** A busybox web server on the VM's loopback only: reachable from its pod, not from outside. */
const SERVE = 'mkdir -p /www; echo hello-pod > /www/index.html; exec httpd -f -p 127.0.0.1:8080 -h /www';

/** The QEMU processes of a container (its command line names its socket folder). */
function qemusOf(id: string): number[] {
  return processesMentioning(`${runDirFor(d.runtimeRoot, id)}/`)
    .filter((p) => p.cmdline.includes('qemu-system'))
    .map((p) => p.pid);
}

function stateOf(id: string): { pod?: { vm: string } } {
  return JSON.parse(readFileSync(join(d.runtimeRoot, id, 'state.json'), 'utf8')) as { pod?: { vm: string } };
}

const fullId = (name: string) => d.dockerOk(['inspect', '--format', '{{.Id}}', name]).trim();

test('feature container-network: --network container:A runs in the VM of vmrt container A (one QEMU), with --pid container:A its processes', async () => {
  const web = d.dockerOk(['run', '-d', '--runtime', 'vmrt', '--name', 'web', IMAGE, 'sh', '-c', SERVE]).trim();
  const side = d
    .dockerOk(['run', '-d', '--runtime', 'vmrt', '--network', 'container:web', '--name', 'side', IMAGE, 'sleep', '1000'])
    .trim();
  assert.equal(stateOf(side).pod?.vm, web);
  assert.equal(qemusOf(web).length, 1);
  assert.deepEqual(qemusOf(side), []);
  const got = await waitFor('the web server of "web" from "side" over 127.0.0.1', () => {
    const r = d.docker(['exec', 'side', 'timeout', '5', 'wget', '-qO-', 'http://127.0.0.1:8080/index.html']);
    return r.status === 0 ? r.stdout : undefined;
  });
  assert.equal(got, 'hello-pod\n');
  // Its own processes (its init is PID 1; web's httpd is not among them); the VM's network.
  const own = d
    .dockerOk(['exec', 'side', 'ps', '-o', 'pid,comm'])
    .trim()
    .split('\n')
    .slice(1)
    .map((l) => l.trim().split(/\s+/));
  assert.deepEqual(own[0], ['1', 'sleep']);
  assert.ok(!own.some(([, comm]) => comm === 'httpd'), JSON.stringify(own));
  assert.equal(
    d.dockerOk(['exec', 'side', 'cat', '/sys/class/net/eth0/address']),
    d.dockerOk(['exec', 'web', 'cat', '/sys/class/net/eth0/address']),
  );
  // --pid container:web: web's processes beside its own (side's sleep has a pid namespace of its own).
  const ps = d.docker([
    'run',
    '--rm',
    '--runtime',
    'vmrt',
    '--network',
    'container:web',
    '--pid',
    'container:web',
    IMAGE,
    'ps',
    '-o',
    'comm',
  ]);
  assert.deepEqual([ps.status, ps.stdout.trim().split('\n').sort()], [0, ['COMMAND', 'httpd', 'ps']], ps.stderr);
  // docker stop/rm of the joined container leaves web serving.
  d.dockerOk(['rm', '-f', 'side']);
  await assertNothingLeft(d.runtimeRoot, side);
  const again = d.docker([
    'run',
    '--rm',
    '--runtime',
    'vmrt',
    '--network',
    'container:web',
    IMAGE,
    'wget',
    '-qO-',
    'http://127.0.0.1:8080/index.html',
  ]);
  assert.deepEqual([again.status, again.stdout], [0, 'hello-pod\n'], again.stderr);
  // A stops: its VM stops, and the containers in it with it (documented in docs/features).
  const late = d
    .dockerOk(['run', '-d', '--runtime', 'vmrt', '--network', 'container:web', '--name', 'late', IMAGE, 'sleep', '1000'])
    .trim();
  d.dockerOk(['stop', '-t', '1', 'web']);
  await waitFor('"late" stopped with the VM of "web"', () =>
    d.dockerOk(['inspect', '--format', '{{.State.Running}}', 'late']).trim() === 'false' ? true : undefined,
  );
  d.dockerOk(['rm', '-f', 'late', 'web']);
  await assertNothingLeft(d.runtimeRoot, late);
  await assertNothingLeft(d.runtimeRoot, web);
});

test('feature container-network: joining a runc container is refused at create with the feature id and the reason', async () => {
  d.dockerOk(['run', '-d', '--runtime', 'runc', '--name', 'plain', IMAGE, 'sleep', '1000']);
  const r = d.docker(['run', '--runtime', 'vmrt', '--network', 'container:plain', '--name', 'refused', IMAGE, 'true']);
  assert.notEqual(r.status, 0);
  assert.match(
    r.stderr,
    /linux\.namespaces\[\d\]\.path: unsupported feature "container-network" \(joins the network namespace \/proc\/\d+\/ns\/net of a container that is not a vmrt container\): that container's network namespace lives on the host \(runc\)/,
  );
  const id = fullId('refused');
  d.dockerOk(['rm', '-f', 'refused', 'plain']);
  await assertNothingLeft(d.runtimeRoot, id);
});

test("docker-compose network_mode: service:x with both services on vmrt: one VM, the sidecar reads the service's localhost", async () => {
  hostProgram('docker-compose', 'docker-compose');
  const dir = mkdtempSync('/tmp/vmrt-compose-');
  try {
    writeFileSync(
      join(dir, 'docker-compose.yml'),
      [
        "version: '2.4'",
        'services:',
        '  app:',
        `    image: ${IMAGE}`,
        '    runtime: vmrt',
        `    command: ["sh", "-c", "${SERVE}"]`,
        '  sidecar:',
        `    image: ${IMAGE}`,
        '    runtime: vmrt',
        '    network_mode: "service:app"',
        '    command: ["sleep", "1000"]',
        '',
      ].join('\n'),
    );
    const compose = (args: string[]) =>
      spawnSync('docker-compose', ['-p', 'pods', ...args], {
        cwd: dir,
        encoding: 'utf8',
        timeout: 240000,
        env: { ...process.env, DOCKER_HOST: `unix://${d.socket}` },
      });
    const up = compose(['up', '-d']);
    assert.equal(up.status, 0, up.stderr);
    const app = fullId('pods_app_1');
    const sidecar = fullId('pods_sidecar_1');
    assert.equal(stateOf(sidecar).pod?.vm, app);
    const got = await waitFor("app's server from the sidecar", () => {
      const r = d.docker(['exec', 'pods_sidecar_1', 'timeout', '5', 'wget', '-qO-', 'http://127.0.0.1:8080/index.html']);
      return r.status === 0 ? r.stdout : undefined;
    });
    assert.equal(got, 'hello-pod\n');
    const down = compose(['down', '-t', '1']);
    assert.equal(down.status, 0, down.stderr);
    await assertNothingLeft(d.runtimeRoot, sidecar);
    await assertNothingLeft(d.runtimeRoot, app);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
