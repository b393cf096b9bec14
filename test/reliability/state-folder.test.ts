/**
 * The runtime's state folder under faults, through a private dockerd (started here): its runtime
 * root (`--root`, <exec-root>/runtime-runc/moby) on a small tmpfs that fills up, and a container's
 * state folder removed under it while it runs. Clear errors, no half state, and Docker's stop and
 * rm (the runtime's kill and delete) still end and remove everything.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, rmSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { dockerdForFile, type Dockerd } from '../support/dockerd.js';
import { assertNothingLeft, containerProcesses, endCliServer } from '../support/leftovers.js';
import { CLI_SOCKET_NAME } from '../../runtime/src/commands/serve.js';
import { containerDir, stateFile } from '../../runtime/src/state.js';

const IMAGE = 'vmrt-test-busybox';
let d: Dockerd;

dockerdForFile(IMAGE, (daemon) => {
  d = daemon;
});

let tmpfs: string | undefined;
after(() => {
  if (tmpfs) spawnSync('umount', ['-l', tmpfs]);
});

/** Fills the file system of `dir` with one file until it refuses; returns the file. */
function fill(dir: string): string {
  const file = join(dir, 'filler');
  const fd = openSync(file, 'w');
  const chunk = Buffer.alloc(64 * 1024);
  try {
    for (;;) writeSync(fd, chunk);
  } catch (err) {
    assert.equal((err as NodeJS.ErrnoException).code, 'ENOSPC');
  } finally {
    closeSync(fd);
  }
  return file;
}

test('the runtime root on a full disk: create fails naming the state file, a running container is still stopped and removed', async () => {
  // The root folder exists once the daemon's runtime was first called: made here first, on a tmpfs.
  mkdirSync(d.runtimeRoot, { recursive: true });
  const mount = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=4m,mode=0711', 'tmpfs', d.runtimeRoot], { encoding: 'utf8' });
  assert.equal(mount.status, 0, mount.stderr);
  tmpfs = d.runtimeRoot;
  const running = d.dockerOk(['run', '-d', '--runtime', 'vmrt', IMAGE, 'sleep', '1000']).trim();
  const filler = fill(d.runtimeRoot);

  const refused = d.dockerOk(['create', '--runtime', 'vmrt', IMAGE, 'true']).trim();
  const start = d.docker(['start', refused]);
  assert.notEqual(start.status, 0);
  assert.match(
    start.stderr,
    new RegExp(`cannot save the state of container "${refused}" to ${stateFile(d.runtimeRoot, refused)}: no space left on device`),
  );
  await assertNothingLeft(d.runtimeRoot, refused);
  d.dockerOk(['rm', refused]);

  // The running container's state file is whole: exec, stop and rm work on a full disk.
  assert.ok(statSync(stateFile(d.runtimeRoot, running)).size > 0);
  assert.equal(d.dockerOk(['exec', running, 'echo', 'still serving']), 'still serving\n');
  d.dockerOk(['stop', '-t', '1', running]);
  d.dockerOk(['rm', running]);
  await assertNothingLeft(d.runtimeRoot, running);

  rmSync(filler);
  assert.equal(d.dockerOk(['run', '--rm', '--runtime', 'vmrt', IMAGE, 'echo', 'space again']), 'space again\n');
  // The root's CLI server (README: The CLI server) keeps its socket there, and with it the mount.
  assert.deepEqual(
    readdirSync(d.runtimeRoot).filter((name) => name !== CLI_SOCKET_NAME),
    [],
  );
  await endCliServer(d.runtimeRoot);
  assert.equal(spawnSync('umount', [d.runtimeRoot]).status, 0);
  tmpfs = undefined;
});

test('the state folder removed under a running container: clear errors, docker stop and rm end and remove everything', async () => {
  const id = d.dockerOk(['run', '-d', '--runtime', 'vmrt', IMAGE, 'sleep', '1000']).trim();
  const { qemu } = containerProcesses(d.runtimeRoot, id);
  assert.ok(qemu, 'QEMU runs');
  // As `rm -rf --one-file-system` would: everything but the shared folder's mounts.
  const dir = containerDir(d.runtimeRoot, id);
  for (const name of readdirSync(dir)) if (name !== 'shared') rmSync(join(dir, name), { recursive: true });
  assert.equal(existsSync(stateFile(d.runtimeRoot, id)), false);

  const exec = d.docker(['exec', id, 'true']);
  assert.notEqual(exec.status, 0);
  assert.match(
    exec.stdout + exec.stderr,
    new RegExp(
      `the state of container "${id}" \\(${stateFile(d.runtimeRoot, id)}\\) is gone: \`vmrt delete --force ${id}\` ends and removes what is left of it`,
    ),
  );
  // Stopped through its shim's mux, which still answers; deleted from what the host shows.
  d.dockerOk(['stop', '-t', '1', id]);
  assert.equal(d.dockerOk(['inspect', '-f', '{{.State.Status}}', id]).trim(), 'exited');
  d.dockerOk(['rm', id]);
  await assertNothingLeft(d.runtimeRoot, id);
});
