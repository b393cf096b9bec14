/**
 * The editor drives the VM runtime: a private dockerd with vmrt registered (test/support/dockerd.ts),
 * images made from local files (busybox; busybox + the host's node; busybox + the host's python3 and debugpy; busybox + gdbserver), and
 * the suite in vm-runtime/suite.ts run through runTests (code-server-as-vscode.ts) in the extension host of
 * a VS Code with the packaged extension, which uses the runtime it carries, pointed at that daemon.
 * The runner saves the screenshots the suite asks for as test-results/vscode-<name>.png.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { startDockerd, type Dockerd } from '../support/dockerd.js';
import { importBusyboxImage } from '../support/images.js';
import { ROOT, runSuite, WORKSPACE_FIXTURE } from './code-server.js';
import { packContainerToolsStandIn } from './container-tools-stand-in.js';
import { importGdbserverImage, importNodeImage, importPythonImage, NODE_PROGRAM } from './host-images.js';

const RESULTS = join(ROOT, 'test-results');
const VM_SUITE = join(ROOT, 'out', 'test', 'e2e', 'vm-runtime', 'suite.cjs');
const KERNEL_RELEASE = join(ROOT, 'runtime', 'build', 'guest', 'kernel-release');

/** The programs the debug cases stop in (NODE_PROGRAM: host-images.ts): line 4 (`return sum`) holds the breakpoint. */
const NATIVE_PROGRAM = `#include <unistd.h>
static int add(int a, int b) {
    int sum = a + b;
    return sum;
}
int main(void) {
    for (int total = add(20, 22); total; ) sleep(1);
}
`;
const PYTHON_PROGRAM = `import time
def add(a, b):
    sum = a + b
    return sum
print('result', add(20, 22), flush=True)
while True:
    time.sleep(1)
`;

test('the editor runs, shows, attaches to, logs, stops, removes and debugs containers in VMs', { timeout: 900_000 }, async () => {
  for (const [path, what] of [
    [VM_SUITE, 'the VM runtime suite bundle (npm run build:extension)'],
    [KERNEL_RELEASE, 'the guest kernel (runtime/guest/build.sh)'],
  ] as const) {
    if (!existsSync(path)) throw new Error(`missing ${what}: ${path}`);
  }
  const work = mkdtempSync(join(tmpdir(), 'vmrt-e2e-vm-'));
  let dockerd: Dockerd | undefined;
  const workspace = join(work, 'workspace');
  cpSync(WORKSPACE_FIXTURE, workspace, { recursive: true });
  try {
    dockerd = await startDockerd();
    const d = dockerd;
    const docker = (args: string[], input?: Buffer) => d.dockerOk(args, input);
    const busyboxImage = importBusyboxImage(docker, work, 'vmrt-e2e-busybox:1');
    const nodeImage = importNodeImage(docker, work, 'vmrt-e2e-node:1');
    const pythonImage = importPythonImage(docker, work, 'vmrt-e2e-python:1');
    const gdbserverImage = importGdbserverImage(docker, work, 'vmrt-e2e-gdbserver:1');

    const answers = join(workspace, '.vmrt-e2e');
    mkdirSync(answers, { recursive: true });
    mkdirSync(join(workspace, 'vm-debug'), { recursive: true });
    writeFileSync(join(workspace, 'vm-debug', 'main.js'), NODE_PROGRAM);
    writeFileSync(join(workspace, 'vm-debug', 'main.py'), PYTHON_PROGRAM);
    writeFileSync(join(workspace, 'vm-debug', 'main.c'), NATIVE_PROGRAM);
    // Static: the image has busybox and gdbserver, not the libraries of the host's toolchain.
    execFileSync('gcc', ['-g', '-O0', '-static', '-o', join(workspace, 'vm-debug', 'main'), join(workspace, 'vm-debug', 'main.c')]);
    mkdirSync(join(workspace, 'vm-compose'), { recursive: true });
    writeFileSync(
      join(workspace, 'vm-compose', 'compose.yaml'),
      `services:\n  hello:\n    image: ${busyboxImage}\n    command: ["sh", "-c", "echo compose in a VM: $$(uname -r); sleep 1000"]\n`,
    );
    mkdirSync(join(workspace, 'vm-build'), { recursive: true });
    writeFileSync(
      join(workspace, 'vm-build', 'Dockerfile'),
      `FROM ${busyboxImage}\nRUN echo built in a Dockerfile > /built\nCMD cat /built; sleep 1000\n`,
    );
    writeFileSync(
      join(answers, 'expected.json'),
      JSON.stringify({
        socket: d.socket,
        only: process.env.VMRT_E2E_ONLY,
        kernel: readFileSync(KERNEL_RELEASE, 'utf8').trim(),
        busyboxImage,
        nodeImage,
        pythonImage,
        gdbserverImage,
      }),
    );

    await runSuite(VM_SUITE, workspace, {
      VMRT_E2E_SETTINGS: JSON.stringify({ 'vmrt.docker.host': `unix://${d.socket}` }),
      VMRT_E2E_EXTRA_VSIX: packContainerToolsStandIn(work),
      VMRT_E2E_RESULTS: RESULTS,
    });
    // Desktop VS Code (--desktop) has no page to screenshot.
    if (process.env.VMRT_E2E_DESKTOP !== '1')
      for (const name of ['vm-explorer', 'vm-debug-paused', 'vm-docker-down'])
        assert.ok(existsSync(join(RESULTS, `vscode-${name}.png`)), `screenshot ${name}`);
  } catch (error) {
    // The runtime's side of a failure is in the daemon's log.
    if (dockerd)
      console.log(
        readFileSync(join(dockerd.dir, 'dockerd.log'), 'utf8')
          .split('\n')
          .filter((l) => /level=(error|warning)/.test(l))
          .slice(-8)
          .join('\n'),
      );
    throw error;
  } finally {
    dockerd?.removeAllContainers();
    await dockerd?.stop();
    rmSync(work, { recursive: true, force: true });
  }
});
