/**
 * vmrt containers outlive their daemons: a private dockerd (started here, `--live-restore`) is
 * restarted, and the containerd it started is killed (dockerd starts another), under a running
 * vmrt container. Its VM runs on (the same QEMU) and Docker re-attaches to it: its log goes on,
 * `docker exec` and `docker stop` work, and nothing is left after `docker rm`.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { dockerdForFile, type Dockerd } from '../support/dockerd.js';
import { assertNothingLeft, containerProcesses } from '../support/leftovers.js';
import { waitFor } from '../support/wait.js';

const IMAGE = 'vmrt-test-busybox';
let d: Dockerd;

dockerdForFile(
  IMAGE,
  (daemon) => {
    d = daemon;
  },
  undefined,
  ['--live-restore'],
);

/** The highest tick the container has logged (it logs one a second). */
function lastTick(id: string): number {
  const ticks = [...d.dockerOk(['logs', id]).matchAll(/^tick (\d+)$/gm)].map((m) => Number(m[1]));
  return ticks.length === 0 ? -1 : Math.max(...ticks);
}

/** A running container and its QEMU across `disruption`: still the same VM, and Docker still drives it. */
async function survives(disruption: (id: string) => Promise<void>): Promise<void> {
  const id = d
    .dockerOk(['run', '-d', '--runtime', 'vmrt', IMAGE, 'sh', '-c', 'i=0; while :; do echo tick $i; i=$((i+1)); sleep 1; done'])
    .trim();
  const before = await waitFor('the first ticks', () => (lastTick(id) >= 1 ? lastTick(id) : undefined), 120000);
  const { qemu, initShim } = containerProcesses(d.runtimeRoot, id);
  assert.ok(qemu && initShim, 'QEMU and the init shim run');
  await disruption(id);
  assert.equal(d.dockerOk(['inspect', '-f', '{{.State.Status}}', id]).trim(), 'running');
  assert.deepEqual(containerProcesses(d.runtimeRoot, id), { qemu, initShim, execShims: [] }, 'the same VM and shim');
  await waitFor('new ticks in docker logs', () => (lastTick(id) > before + 1 ? true : undefined), 60000);
  assert.equal(d.dockerOk(['exec', id, 'echo', 're-attached']), 're-attached\n');
  d.dockerOk(['stop', '-t', '2', id]);
  assert.equal(d.dockerOk(['inspect', '-f', '{{.State.Status}}', id]).trim(), 'exited');
  d.dockerOk(['rm', id]);
  await assertNothingLeft(d.runtimeRoot, id);
}

describe('daemon restarts under a running vmrt container', () => {
  test('dockerd restarted with --live-restore: the VM runs on and is re-attached', () => survives(() => d.restart()));

  test('containerd killed: dockerd starts another, the VM runs on and is re-attached', () =>
    survives(async (id) => {
      const old = d.containerdPid();
      assert.ok(old, 'dockerd started a containerd');
      process.kill(old, 'SIGKILL');
      await waitFor('dockerd to start another containerd', () => {
        const pid = d.containerdPid();
        return pid !== undefined && pid !== old ? pid : undefined;
      });
      // dockerd's connection to containerd comes back a moment later (as under runc): until then
      // its calls fail with gRPC's "unavailable", whatever the runtime.
      await waitFor('dockerd to reconnect to containerd', () => {
        const r = d.docker(['exec', id, 'true']);
        return /unavailable/.test(r.stdout + r.stderr) ? undefined : true;
      });
    }));
});
