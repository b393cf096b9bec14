/**
 * VM templates under Docker: with VMRT_VM_TEMPLATE=on every vmrt container's VM is restored from
 * the template of its shape (runtime/src/template.ts) instead of booting. What a user sees must
 * not change: output, networking, volumes, exec, stop; each clone has its own clock and random
 * state; its RAM maps the template's sealed memfd; nothing is left behind.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { dockerdForFile, type Dockerd } from '../support/dockerd.js';
import { assertNothingLeft } from '../support/leftovers.js';
import { waitFor } from '../support/wait.js';
import { chooseAccelerator, defaultVmMemoryMiB, TEMPLATE_ENV, vcpusFor } from '../../runtime/src/vm.js';
import { removeTemplates, type TemplateInfo, type TemplateShape } from '../../runtime/src/template.js';
import { REPO } from '../support/images.js';
import { spawnSync } from 'node:child_process';
import type { ContainerState } from '../../runtime/src/state.js';
import { TEMPLATE_NIC_MAC } from '../../runtime/src/network.js';

const IMAGE = 'vmrt-templating-busybox';
let d: Dockerd;
let hostDir: string;
const before_env = process.env[TEMPLATE_ENV];

// dockerd, containerd and so the runtime inherit them: templates of this file's own, removed after it.
const templates = mkdtempSync('/run/vmrt-test-templates.');
process.env[TEMPLATE_ENV] = 'on';
process.env.VMRT_TEMPLATE_DIR = templates;
dockerdForFile(IMAGE, (daemon) => {
  d = daemon;
});

before(() => {
  hostDir = mkdtempSync('/tmp/vmrt-templating-');
});

after(() => {
  rmSync(hostDir, { recursive: true, force: true });
  // Their keepers end with them.
  removeTemplates([]);
  rmSync(templates, { recursive: true, force: true });
  delete process.env.VMRT_TEMPLATE_DIR;
  if (before_env === undefined) delete process.env[TEMPLATE_ENV];
  else process.env[TEMPLATE_ENV] = before_env;
});

function stateOf(id: string): ContainerState {
  return JSON.parse(readFileSync(join(d.runtimeRoot, id, 'state.json'), 'utf8')) as ContainerState;
}

/** A template left by an older kernel, agent or QEMU: only its description matters here. */
function plantTemplate(key: string, shape: TemplateShape): string {
  const dir = join(templates, key);
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, 'template.json'),
    JSON.stringify({ key, ...shape, created: new Date().toISOString(), bootMs: 0, saveMs: 0, stateBytes: 0 }),
  );
  return dir;
}

test('a new template replaces the older ones of its shape and leaves other shapes alone', async () => {
  const shape: TemplateShape = {
    accelerator: (await chooseAccelerator()).accelerator,
    vcpus: vcpusFor(undefined),
    memoryMiB: defaultVmMemoryMiB(),
  };
  const stale = plantTemplate('00000000000stale', shape);
  const otherShape = plantTemplate('0000000000other', { ...shape, memoryMiB: 999 });
  d.dockerOk(['run', '--rm', '--runtime', 'vmrt', IMAGE, 'true']);
  assert.ok(!existsSync(stale), 'the template of an older kernel, agent or QEMU is removed');
  assert.ok(existsSync(otherShape), 'a template of another shape stays');
  rmSync(otherShape, { recursive: true });
});

test('a templated container prints what it would after a cold boot, with the host clock and its own random state', () => {
  const script =
    'echo hello; date +%s; cat /proc/sys/kernel/random/boot_id; head -c 16 /dev/urandom | od -An -tx1 | tr -d " \\n"; echo; nproc';
  const runs = [1, 2].map(() => {
    const hostBefore = Math.floor(Date.now() / 1000);
    const r = d.docker(['run', '--rm', '--runtime', 'vmrt', IMAGE, 'sh', '-c', script]);
    const hostAfter = Math.ceil(Date.now() / 1000);
    assert.equal(r.status, 0, r.stderr);
    const [hello, seconds, bootId, random, nproc] = r.stdout.trim().split('\n');
    assert.equal(hello, 'hello');
    // Not the clock the template was saved with: the host's, while the container ran.
    assert.ok(Number(seconds) >= hostBefore && Number(seconds) <= hostAfter, `guest clock ${seconds}, host ${hostBefore}–${hostAfter}`);
    assert.equal(Number(nproc), Number(d.dockerOk(['run', '--rm', '--runtime', 'runc', IMAGE, 'nproc']).trim()));
    return { bootId, random };
  });
  assert.notEqual(runs[0]!.bootId, runs[1]!.bootId, 'two VMs of one template share a boot id');
  assert.notEqual(runs[0]!.random, runs[1]!.random, 'two VMs of one template share their random numbers');
});

test("a templated container's RAM maps the template's sealed memfd, which no one can write, and `vmrt template list` names it", async () => {
  const id = d.dockerOk(['run', '-d', '--runtime', 'vmrt', IMAGE, 'sleep', '1000']).trim();
  const state = stateOf(id);
  assert.ok(state.template, 'the state records the template');
  const listed = spawnSync(join(REPO, 'runtime', 'bin', 'vmrt'), ['template', 'list', '--format', 'json'], { encoding: 'utf8' });
  assert.equal(listed.status, 0, listed.stderr);
  const template = (JSON.parse(listed.stdout) as TemplateInfo[]).find((t) => t.key === state.template);
  assert.ok(template, `template ${state.template} is listed: ${listed.stdout}`);
  assert.ok(
    template.memoryFileBytes > 0 && template.memoryFileBytes < template.memoryMiB * 1024 * 1024,
    'the RAM holds only the pages the template touched',
  );
  const maps = readFileSync(`/proc/${state.qemu!.pid}/maps`, 'utf8');
  assert.match(maps, /\/memfd:vmrt-template /, 'QEMU maps the template RAM');
  // QEMU holds it open read-write (7.2 opens guest RAM so); even so, and even as root, no write reaches it.
  const qemuFds = readdirSync(`/proc/${state.qemu!.pid}/fd`).filter((fd) =>
    readlinkSync(`/proc/${state.qemu!.pid}/fd/${fd}`).startsWith('/memfd:vmrt-template'),
  );
  assert.ok(qemuFds.length > 0, 'QEMU has the template RAM open');
  const held = [`/proc/${template.keeper!.pid}/fd/${template.keeper!.fd}`, ...qemuFds.map((fd) => `/proc/${state.qemu!.pid}/fd/${fd}`)];
  for (const path of held) {
    const fd = openSync(path, 'r+');
    try {
      assert.throws(() => writeSync(fd, 'x', 0), { code: 'EPERM' }, `a write through ${path}`);
    } finally {
      closeSync(fd);
    }
  }
  assert.ok(
    !readFileSync(`/proc/${state.qemu!.pid}/cmdline`, 'utf8').includes('virtio-balloon'),
    'no balloon: it would punch holes in the template',
  );
  d.dockerOk(['rm', '-f', id]);
  await assertNothingLeft(d.runtimeRoot, id);
});

test('a template whose keeper has ended is made again by the next container', async () => {
  const listed = () => {
    const r = spawnSync(join(REPO, 'runtime', 'bin', 'vmrt'), ['template', 'list', '--format', 'json'], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    return JSON.parse(r.stdout) as TemplateInfo[];
  };
  d.dockerOk(['run', '--rm', '--runtime', 'vmrt', IMAGE, 'true']);
  const [made] = listed().filter((t) => t.memoryFileBytes > 0);
  assert.ok(made?.keeper, 'a template with its keeper');
  process.kill(made.keeper.pid, 'SIGKILL');
  await waitFor('the keeper to end', () => (existsSync(`/proc/${made.keeper!.pid}`) ? undefined : true), 10000);
  assert.equal(listed().find((t) => t.key === made.key)?.memoryFileBytes, 0, 'no RAM is held for it');
  assert.equal(d.dockerOk(['run', '--rm', '--runtime', 'vmrt', IMAGE, 'echo', 'restored']).trim(), 'restored');
  const again = listed().find((t) => t.key === made.key);
  assert.ok(again?.keeper && again.keeper.pid !== made.keeper.pid && again.memoryFileBytes > 0, 'made again, with a keeper of its own');
});

test('a templated container serves on a published port, writes a bind mount, runs exec and stops promptly', async () => {
  writeFileSync(join(hostDir, 'index.html'), 'from the host\n');
  const id = d
    .dockerOk([
      'run',
      '-d',
      '--runtime',
      'vmrt',
      '-p',
      '127.0.0.1::8080',
      '-v',
      `${hostDir}:/www`,
      IMAGE,
      'sh',
      '-c',
      'trap "exit 0" TERM; echo written-in-the-guest > /www/guest.txt; httpd -f -p 8080 -h /www & wait',
    ])
    .trim();
  const port = d.dockerOk(['port', id, '8080']).trim().split(':').pop();
  const body = await waitFor(
    'the published port answers',
    async () =>
      // A bounded request: one that never ends would hold the wait past its deadline.
      fetch(`http://127.0.0.1:${port}/index.html`, { signal: AbortSignal.timeout(5000) })
        .then((r) => r.text())
        .catch(() => undefined),
    60000,
  );
  assert.equal(body, 'from the host\n');
  assert.equal(readFileSync(join(hostDir, 'guest.txt'), 'utf8'), 'written-in-the-guest\n');
  assert.equal(d.dockerOk(['exec', id, 'cat', '/www/index.html']), 'from the host\n');
  const started = Date.now();
  d.dockerOk(['stop', '-t', '5', id]);
  assert.ok(Date.now() - started < 5000, 'docker stop waited for its grace period');
  // Its TERM trap ran: the signal reached the container's init at once.
  assert.equal(d.dockerOk(['inspect', '-f', '{{.State.ExitCode}}', id]).trim(), '0');
  assert.ok(statSync(join(hostDir, 'guest.txt')).size > 0);
  d.dockerOk(['rm', id]);
  await assertNothingLeft(d.runtimeRoot, id);
});

test("the template's NIC becomes the container's eth0 with Docker's MAC; without a network it leaves the guest", async () => {
  const id = d.dockerOk(['run', '-d', '--runtime', 'vmrt', IMAGE, 'sleep', '1000']).trim();
  const mac = d.dockerOk(['inspect', '-f', '{{.NetworkSettings.MacAddress}}', id]).trim();
  assert.equal(stateOf(id).network?.interfaces[0]?.templateMac, TEMPLATE_NIC_MAC);
  assert.equal(d.dockerOk(['exec', id, 'cat', '/sys/class/net/eth0/address']), `${mac}\n`);
  const none = d.dockerOk(['run', '-d', '--runtime', 'vmrt', '--network', 'none', IMAGE, 'sleep', '1000']).trim();
  const state = stateOf(none);
  assert.deepEqual(state.network, { interfaces: [], routes: [], unused: [{ mac: TEMPLATE_NIC_MAC, tap: 'vmrt-tap0' }] });
  // The agent removed it before the container started: no NIC, and no virtio-net PCI device (1af4:1041).
  assert.equal(
    d
      .dockerOk(['exec', none, 'ls', '/sys/class/net'])
      .split(/\s+/)
      .filter((n) => n && n !== 'sit0')
      .join(' '),
    'lo',
  );
  assert.equal(d.dockerOk(['exec', none, 'sh', '-c', 'cat /sys/bus/pci/devices/*/device | grep -c 0x1041 || true']), '0\n');
  assert.equal(d.dockerOk(['exec', id, 'sh', '-c', 'cat /sys/bus/pci/devices/*/device | grep -c 0x1041 || true']), '1\n');
  d.dockerOk(['rm', '-f', id, none]);
  await assertNothingLeft(d.runtimeRoot, id);
  await assertNothingLeft(d.runtimeRoot, none);
});
