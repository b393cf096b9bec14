/**
 * `docker top` and `vmrt ps` of a container in a VM, under a private dockerd. Docker runs the
 * host's `ps` on the pids the runtime returns: those are the VM's host processes. The guest's
 * processes are listed by `vmrt ps`, from the agent.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { dockerdForFile, type Dockerd } from '../support/dockerd.js';
import { REPO } from '../support/images.js';
import { waitFor } from '../support/wait.js';

const IMAGE = 'vmrt-test-busybox';
let d: Dockerd;

function vmrtPs(id: string, format = 'table') {
  return spawnSync(join(REPO, 'runtime', 'bin', 'vmrt'), ['--root', d.runtimeRoot, 'ps', '--format', format, id], { encoding: 'utf8' });
}

dockerdForFile(IMAGE, (daemon) => {
  d = daemon;
});

test("feature top: docker top lists the VM's host processes; vmrt ps lists the container's processes in the guest", async () => {
  const id = d.dockerOk(['run', '-d', '--runtime', 'vmrt', IMAGE, 'sh', '-c', 'sleep 1001 & exec sleep 1002']).trim();
  d.dockerOk(['exec', '-d', id, 'sleep', '1003']);

  const top = d.dockerOk(['top', id]);
  assert.match(top, /qemu-system-x86_64 .*-M microvm/, `docker top shows the VM:\n${top}`);
  assert.doesNotMatch(top, /sleep 100[123]/, "the guest's processes are not host processes");

  const table = await waitFor("the exec'd process in the guest", () => {
    const r = vmrtPs(id);
    assert.equal(r.status, 0, r.stderr);
    return r.stdout.includes('sleep 1003') ? r.stdout : undefined;
  });
  const lines = table.trimEnd().split('\n');
  assert.match(lines[0]!, /^UID\s+PID\s+GUEST PID\s+STAT\s+CMD$/);
  const rows = lines.slice(1).map((l) => l.split(/\s{2,}/));
  const byCmd = new Map(rows.map(([uid, pid, guestPid, stat, cmd]) => [cmd, { uid, pid: Number(pid), guestPid: Number(guestPid), stat }]));
  // The container's init is pid 1 of its namespace, and not of the guest kernel (the agent is).
  assert.equal(byCmd.get('sleep 1002')?.pid, 1, table);
  assert.ok(byCmd.get('sleep 1002')!.guestPid > 1, table);
  for (const cmd of ['sleep 1001', 'sleep 1003']) assert.ok(byCmd.get(cmd)!.pid > 1, `${cmd} in ${table}`);
  assert.equal(byCmd.get('sleep 1002')?.uid, '0');
  assert.equal(rows.length, 3, `only the container's processes, not the agent's or the guest kernel's:\n${table}`);

  // containerd's form: host pids, each a live host process of this container's VM.
  const pids = JSON.parse(vmrtPs(id, 'json').stdout) as number[];
  const commands = pids.map((pid) => spawnSync('ps', ['-o', 'comm=', '-p', String(pid)], { encoding: 'utf8' }).stdout.trim());
  assert.ok(commands.includes('qemu-system-x86'), commands.join(','));
  assert.ok(commands.includes('vmrt-shim'), commands.join(','));
});

test('vmrt ps of a stopped container and of an unknown one say why', () => {
  const id = d.dockerOk(['create', '--runtime', 'vmrt', IMAGE, 'true']).trim();
  const unknown = vmrtPs(id);
  assert.equal(unknown.status, 1);
  assert.match(unknown.stderr, /^vmrt: container "[0-9a-f]{64}" does not exist/);
  const badFormat = vmrtPs(id, 'yaml');
  assert.equal(badFormat.status, 1);
  assert.match(badFormat.stderr, /unknown --format "yaml"/);
});
