/**
 * A fresh machine: a clean user (empty HOME, PATH without this checkout), code-server with only the
 * packaged vmrt.vsix, and a private dockerd with no vmrt registered, reading a daemon.json of its
 * own. The VM suite's cases for it run: "Set Up Runtime" registers the runtime the VSIX carries
 * (the driver confirms the dialog; as root, the privileged step needs no password), "Run Image in
 * VM" shows the guest kernel, and a Node program stops at a breakpoint in the VM. Screenshots:
 * test-results/vscode-fresh-*.png.
 */
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { startDockerd, type Dockerd } from '../support/dockerd.js';
import { importBusyboxImage } from '../support/images.js';
import { requirePrerequisites, ROOT, runSuite, WORKSPACE_FIXTURE } from './code-server.js';
import { importNodeImage, NODE_PROGRAM } from './host-images.js';

const RESULTS = join(ROOT, 'test-results');
const VM_SUITE = join(ROOT, 'out', 'test', 'e2e', 'vm-runtime', 'suite.cjs');
const KERNEL_RELEASE = join(ROOT, 'runtime', 'build', 'guest', 'kernel-release');

test('on a fresh machine, the VSIX alone sets up its runtime, runs an image in a VM and debugs in it', { timeout: 900_000 }, async () => {
  requirePrerequisites();
  const work = mkdtempSync(join(tmpdir(), 'vmrt-e2e-fresh-'));
  const workspace = join(work, 'workspace');
  cpSync(WORKSPACE_FIXTURE, workspace, { recursive: true });
  let dockerd: Dockerd | undefined;
  try {
    dockerd = await startDockerd([], { registerVmrt: false });
    const d = dockerd;
    assert.equal(d.docker(['run', '--rm', '--runtime', 'vmrt', 'none']).status, 125, 'no vmrt runtime before set-up');
    const docker = (args: string[], input?: Buffer) => d.dockerOk(args, input);
    const busyboxImage = importBusyboxImage(docker, work, 'vmrt-e2e-busybox:1');
    const nodeImage = importNodeImage(docker, work, 'vmrt-e2e-node:1');
    mkdirSync(join(workspace, '.vmrt-e2e'), { recursive: true });
    mkdirSync(join(workspace, 'vm-debug'), { recursive: true });
    writeFileSync(join(workspace, 'vm-debug', 'main.js'), NODE_PROGRAM);
    writeFileSync(
      join(workspace, '.vmrt-e2e', 'expected.json'),
      JSON.stringify({
        socket: d.socket,
        only: 'Set Up Runtime|"Run Image in VM" starts|VM Containers view shows|Node debug session',
        freshMachine: true,
        kernel: readFileSync(KERNEL_RELEASE, 'utf8').trim(),
        busyboxImage,
        nodeImage,
      }),
    );
    await runSuite(VM_SUITE, workspace, {
      VMRT_E2E_SETTINGS: JSON.stringify({ 'vmrt.docker.host': `unix://${d.socket}` }),
      VMRT_E2E_RESULTS: RESULTS,
      VMRT_E2E_FRESH_MACHINE: '1',
    });
    const daemonJson = JSON.parse(readFileSync(d.daemonJson!, 'utf8')) as { runtimes: { vmrt: { path: string } } };
    assert.equal(daemonJson['max-concurrent-downloads' as keyof typeof daemonJson], 2, 'its own setting kept');
    assert.match(daemonJson.runtimes.vmrt.path, /\/vmrt\/bin\/vmrt$/, 'the stable launcher, not the versioned extension folder');
    assert.doesNotMatch(daemonJson.runtimes.vmrt.path, /extensions/);
    if (process.env.VMRT_E2E_DESKTOP !== '1')
      for (const name of ['setup-welcome', 'setup-confirm', 'setup-done', 'vm-explorer', 'vm-debug-paused'])
        assert.ok(existsSync(join(RESULTS, `vscode-fresh-${name}.png`)), `screenshot ${name}`);
  } finally {
    dockerd?.removeAllContainers();
    await dockerd?.stop();
    rmSync(work, { recursive: true, force: true });
  }
});
