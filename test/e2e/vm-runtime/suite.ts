/**
 * Runs inside code-server's extension host (bundled by scripts/build-extension.mjs) against a
 * real dockerd with vmrt registered (started by ../vm-runtime.test.ts, which also writes
 * .vmrt-e2e/expected.json into the workspace; ../code-server-as-vscode.ts answers screenshot requests).
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import Docker from 'dockerode';
import * as vscode from 'vscode';
import type { VmRuntimeApi } from '../../../client/src/containers/runtime.js';
import type { VmContainer } from '../../../client/src/containers/explorer.js';
import { execText } from '../../../client/src/containers/exec.js';
import { execa } from 'execa';
import { NoShell } from '@microsoft/vscode-processutils';

interface Expected {
  socket: string;
  /** Runs only the cases whose names match (VMRT_E2E_ONLY), after the first: for iterating on one case. */
  only?: string;
  kernel: string;
  busyboxImage: string;
  nodeImage: string;
  pythonImage: string;
  gdbserverImage: string;
  /** A dockerd without vmrt (../fresh-machine.test.ts): Set Up Runtime registers it, confirmed by the driver. */
  freshMachine?: boolean;
}

function log(line: string): void {
  console.log(`vmrt-e2e: ${line}`);
}

const folder = () => vscode.workspace.workspaceFolders![0]!.uri.fsPath;
const expected = (): Expected => JSON.parse(readFileSync(join(folder(), '.vmrt-e2e', 'expected.json'), 'utf8')) as Expected;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      last = error;
    }
    await sleep(250);
  }
  throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}${last ? `: ${String(last)}` : ''}`);
}

/**
 * Asks the driver for a screenshot once `text` shows in the page (and with `click`, to click the
 * button of that text); its answer is "ok" or what it saw.
 */
async function screenshot(name: string, text: string, action: 'screenshot' | 'click' = 'screenshot'): Promise<void> {
  if (process.env.VMRT_E2E_DESKTOP === '1') return; // Desktop VS Code: no driver takes screenshots.
  log(`${action} ${name} ${text}`);
  const answer = join(folder(), '.vmrt-e2e', `${name}.done`);
  await until(`the driver's screenshot ${name}`, () => existsSync(answer), 60_000);
  assert.equal(readFileSync(answer, 'utf8'), 'ok', `screenshot ${name}`);
}

interface DebugCase {
  language: 'node' | 'python' | 'native';
  image: string;
  /** In vm-debug/ of the workspace: line 4 (`return sum`) holds the breakpoint, in `add`. */
  file: string;
  /** What runs, when not `file` itself (a binary built from it). */
  program?: string;
  port: number;
  screenshotName?: string;
  localScope: RegExp;
  locals: string[];
  /** The `vmrt` launch session, from the session that stopped. */
  childParent: (session: vscode.DebugSession) => vscode.DebugSession | undefined;
}

/**
 * Launches `file` in a VM under the `vmrt` debug type, waits for the breakpoint, checks the frame
 * and the locals, then removes the container from the explorer: every debug session ends with it.
 */
async function debugInVm(c: DebugCase): Promise<void> {
  const program = vscode.Uri.file(join(folder(), 'vm-debug', c.file));
  const breakpoint = new vscode.SourceBreakpoint(new vscode.Location(program, new vscode.Position(3, 0)));
  vscode.debug.addBreakpoints([breakpoint]);
  let stopped: ((event: { session: vscode.DebugSession; threadId: number; reason: string }) => void) | undefined;
  const stop = new Promise<{ session: vscode.DebugSession; threadId: number; reason: string }>((resolve) => {
    stopped = resolve;
  });
  const tracker = vscode.debug.registerDebugAdapterTrackerFactory('*', {
    createDebugAdapterTracker: (session) => ({
      onDidSendMessage: (message: { type?: string; event?: string; body?: { threadId: number; reason: string } }) => {
        if (message.type === 'event' && message.event === 'stopped')
          stopped!({ session, threadId: message.body!.threadId, reason: message.body!.reason });
      },
    }),
  });
  try {
    const started = await vscode.debug.startDebugging(vscode.workspace.workspaceFolders![0], {
      type: 'vmrt',
      request: 'launch',
      name: `e2e ${c.language} in a VM`,
      language: c.language,
      image: c.image,
      program: `\${workspaceFolder}/vm-debug/${c.program ?? c.file}`,
      port: c.port,
    });
    assert.equal(started, true, 'the debug session started');
    const event = await until('the debuggee to stop', () => Promise.race([stop, sleep(1000).then(() => undefined)]), 240_000);
    assert.equal(event.reason, 'breakpoint');
    const { stackFrames } = (await event.session.customRequest('stackTrace', { threadId: event.threadId, startFrame: 0, levels: 1 })) as {
      stackFrames: { id: number; line: number; name: string; source?: { path?: string } }[];
    };
    const frame = stackFrames[0]!;
    // In code-server the debug adapter names local files by their vscode-remote URI.
    const sourcePath = /^[a-z-]+:\/\//.test(frame.source?.path ?? '') ? vscode.Uri.parse(frame.source!.path!).fsPath : frame.source?.path;
    assert.deepEqual([frame.line, frame.name, sourcePath], [4, 'add', program.fsPath]);
    const { scopes } = (await event.session.customRequest('scopes', { frameId: frame.id })) as {
      scopes: { name: string; variablesReference: number }[];
    };
    const local = scopes.find((s) => c.localScope.test(s.name));
    assert.ok(local, `a local scope among ${scopes.map((s) => s.name).join(', ')}`);
    const { variables } = (await event.session.customRequest('variables', { variablesReference: local.variablesReference })) as {
      variables: { name: string; value: string }[];
    };
    assert.deepEqual(
      variables.filter((v) => ['a', 'b', 'sum'].includes(v.name)).map((v) => `${v.name}=${v.value}`),
      c.locals,
    );
    const debugged = (await api.containers()).find((x) => x.image === c.image && x.state === 'running');
    assert.ok(debugged, 'the debuggee runs in a vmrt container');
    if (c.screenshotName) {
      await vscode.commands.executeCommand('workbench.view.debug');
      await screenshot(c.screenshotName, 'Paused on breakpoint');
    }
    // The vmrt launch session is the parent of the language's session and owns the container.
    const parent = c.childParent(event.session);
    assert.equal(parent?.type, 'vmrt', `the ${c.language} session's parent is the vmrt session (${parent?.type})`);
    assert.equal(parent.configuration.__vmrtContainer, debugged.id);
    const ended = new Promise<void>((resolve) => {
      const l = vscode.debug.onDidTerminateDebugSession((s) => {
        if (s.id === parent.id) {
          l.dispose();
          resolve();
        }
      });
    });
    assert.equal(await vscode.commands.executeCommand('vmrt.container.remove', debugged.id), true);
    await until('the vmrt debug session to end', () => Promise.race([ended.then(() => true), sleep(1000).then(() => undefined)]), 60_000);
    // The language's child session ends a moment after its parent.
    await until('every debug session to end', () => vscode.debug.activeDebugSession === undefined || undefined, 30_000).catch(
      (error: Error) => {
        const left = vscode.debug.activeDebugSession;
        throw new Error(`${error.message}: "${left?.name}" (${left?.type}) is still active`);
      },
    );
  } finally {
    tracker.dispose();
    vscode.debug.removeBreakpoints([breakpoint]);
  }
}

let api: VmRuntimeApi;
let docker: Docker;
let containerId = '';

const container = async (id: string): Promise<VmContainer | undefined> => (await api.containers()).find((c) => c.id === id);

const cases: [string, () => Promise<void>][] = [
  [
    'the extension activates and exports the runtime API',
    async () => {
      const extension = vscode.extensions.getExtension<VmRuntimeApi>('vmrt.vmrt')!;
      api = await extension.activate();
      assert.equal(typeof api.containers, 'function');
      docker = new Docker({ socketPath: expected().socket });
    },
  ],
  [
    '"vmrt: Set Up Runtime" registers the runtime the extension carries with Docker, or finds it registered',
    async () => {
      if (!expected().freshMachine) {
        assert.equal(await vscode.commands.executeCommand('vmrt.setUpRuntime'), true);
        return;
      }
      await vscode.commands.executeCommand('workbench.view.extension.vmrt');
      await screenshot('setup-welcome', 'Set Up Runtime');
      const setUp = vscode.commands.executeCommand<boolean>('vmrt.setUpRuntime');
      await screenshot('setup-confirm', 'Register', 'click');
      assert.equal(await setUp, true);
      await screenshot('setup-done', 'vmrt is set up');
      const info = (await docker.info()) as { Runtimes: Record<string, { path: string }> };
      assert.match(info.Runtimes.vmrt?.path ?? '', /\/vmrt\/bin\/vmrt$/);
    },
  ],
  [
    '"vmrt: Show Runtime Check" shows the output of vmrt check',
    async () => {
      const document = await vscode.commands.executeCommand<vscode.TextDocument>('vmrt.showRuntimeCheck');
      const text = document.getText();
      assert.match(text, /^ok {3}QEMU: QEMU emulator version/m);
      assert.match(text, /^ok {3}guest kernel: /m);
      assert.match(text, /^System is capable of running vmrt containers/m);
      assert.match(text, /\(exit status 0\)\n$/);
      assert.equal(document.languageId, 'vmrt-log');
      await vscode.commands.executeCommand('workbench.action.closeActiveEditor');
    },
  ],
  [
    '"Run Image in VM" starts a container with the vmrt runtime',
    async () => {
      const id = await vscode.commands.executeCommand<string | undefined>('vmrt.runImage', {
        image: expected().busyboxImage,
        ports: '',
        env: 'GREETING="hello from the VM"',
        command: "sh -c 'echo $GREETING; sleep 1000'",
      });
      assert.ok(id, 'the command returned the container id');
      containerId = id;
      const info = await docker.getContainer(id).inspect();
      assert.equal(info.HostConfig.Runtime, 'vmrt');
      assert.equal(info.State.Running, true);
      assert.deepEqual(
        info.Config.Env.filter((e) => e.startsWith('GREETING=')),
        ['GREETING=hello from the VM'],
      );
    },
  ],
  [
    'run again from the palette: the quick pick and input boxes offer the last answers of this workspace',
    async () => {
      const running = vscode.commands.executeCommand<string | undefined>('vmrt.runImage');
      // Image (a quick pick whose first item is the last image), then ports, env and command (input boxes).
      for (let step = 0; step < 4; step++) {
        await sleep(1500);
        await vscode.commands.executeCommand('workbench.action.acceptSelectedQuickOpenItem');
      }
      const id = await running;
      assert.ok(id && id !== containerId, 'a second container started');
      const info = await docker.getContainer(id).inspect();
      assert.deepEqual(
        [info.Config.Image, info.HostConfig.Runtime, info.Config.Cmd],
        [expected().busyboxImage, 'vmrt', ['sh', '-c', 'echo $GREETING; sleep 1000']],
      );
      assert.deepEqual(
        info.Config.Env.filter((e) => e.startsWith('GREETING=')),
        ['GREETING=hello from the VM'],
      );
      await docker.getContainer(id).remove({ force: true });
    },
  ],
  [
    'the VM Containers view shows it with the guest kernel, vCPUs, memory and live stats',
    async () => {
      const shown = await until('the container running with its guest kernel and a stats sample', async () => {
        const c = await container(containerId);
        return c?.state === 'running' && c.kernel && c.cpu !== undefined && c.memoryBytes !== undefined ? c : undefined;
      });
      assert.equal(shown.kernel, expected().kernel);
      assert.equal(shown.image, expected().busyboxImage);
      // As many vCPUs as the host has (runtime/src/vm.ts vcpusFor), as runc's containers see.
      assert.equal(shown.vm?.vcpus, Math.min(64, availableParallelism()));
      // No --memory: the runtime's default VM size (runtime/src/vm.ts, VMRT_VM_MEMORY_MIB else 2048).
      assert.equal(shown.vm?.memoryMiB, 2048);
      assert.match(shown.vm?.consoleLog ?? '', new RegExp(`/${containerId}/console\\.log$`));
      assert.ok(shown.memoryBytes! > 0, `memory ${shown.memoryBytes}`);
      await vscode.commands.executeCommand('vmrtContainers.focus');
      await screenshot('vm-explorer', expected().kernel);
    },
  ],
  [
    '"Attach Shell" opens a terminal with a real pty in the VM',
    async () => {
      const terminal = await vscode.commands.executeCommand<vscode.Terminal>('vmrt.container.attachShell', containerId);
      assert.ok(terminal);
      await until('the terminal process', async () => terminal.processId);
      const marker = async () => (await execText(docker.getContainer(containerId), ['cat', '/tmp/attached'])).output;
      // The shell in the VM may take a moment to read its first line: send until it answers.
      await until(
        'the attached shell to run a command',
        async () => {
          terminal.sendText('echo "attached $((6*7)) $(tty) $(uname -r)" > /tmp/attached');
          await sleep(1500);
          return (await marker()).startsWith('attached') ? true : undefined;
        },
        90_000,
      );
      assert.equal(await marker(), `attached 42 /dev/pts/0 ${expected().kernel}\n`);
      terminal.dispose();
    },
  ],
  [
    '"Follow Logs" shows the output so far and follows new lines',
    async () => {
      await vscode.commands.executeCommand('vmrt.container.followLogs', containerId);
      await until('the log channel to show the first line', () => api.logText(containerId)?.includes('hello from the VM\n'));
      const exec = await execText(docker.getContainer(containerId), ['sh', '-c', 'echo written-later > /proc/1/fd/1']);
      assert.equal(exec.exitCode, 0, exec.output);
      await until('the followed line', () => api.logText(containerId)?.endsWith('written-later\n'));
      assert.equal(api.logText(containerId), 'hello from the VM\nwritten-later\n');
    },
  ],
  [
    '"Inspect" opens read-only JSON; "Show VM Console" opens the guest console',
    async () => {
      const inspect = await vscode.commands.executeCommand<vscode.TextDocument>('vmrt.container.inspect', containerId);
      assert.equal(inspect.uri.scheme, 'vmrt-inspect');
      assert.equal(inspect.languageId, 'json');
      const parsed = JSON.parse(inspect.getText()) as { Id: string; HostConfig: { Runtime: string } };
      assert.deepEqual([parsed.Id, parsed.HostConfig.Runtime], [containerId, 'vmrt']);
      const console = await vscode.commands.executeCommand<vscode.TextDocument>('vmrt.container.showConsole', containerId);
      assert.equal(console.languageId, 'vmrt-log');
      const onDisk = readFileSync((await container(containerId))!.vm!.consoleLog, 'utf8');
      assert.equal(console.getText(), onDisk);
      await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    },
  ],
  [
    '"Stop" and "Remove": the view follows Docker events',
    async () => {
      await vscode.commands.executeCommand('vmrt.container.stop', containerId);
      await until('the view to show the container exited', async () => (await container(containerId))?.state === 'exited', 90_000);
      assert.equal((await container(containerId))!.kernel, undefined);
      assert.equal(await vscode.commands.executeCommand('vmrt.container.remove', containerId), true);
      await until('the view to drop the container', async () => !(await container(containerId)));
      await assert.rejects(docker.getContainer(containerId).inspect(), /no such container/i);
    },
  ],
  [
    'a launch whose lint has an error finding stops before anything is built',
    async () => {
      const dockerfile = vscode.Uri.file(join(folder(), 'app', 'Dockerfile'));
      const result = await vscode.commands.executeCommand('vmrt.runDockerfile', dockerfile, { ports: '', env: '', command: '' });
      assert.equal(result, undefined);
      const images = await docker.listImages();
      assert.deepEqual(
        images.flatMap((i) => i.RepoTags ?? []).filter((t) => t.startsWith('vmrt-dev/')),
        [],
      );
    },
  ],
  [
    '"Run Dockerfile in VM" builds the image (from a local base) and runs it',
    async () => {
      const dockerfile = vscode.Uri.file(join(folder(), 'vm-build', 'Dockerfile'));
      const id = await vscode.commands.executeCommand<string | undefined>('vmrt.runDockerfile', dockerfile, {
        ports: '',
        env: '',
        command: '',
      });
      assert.ok(id, 'the command returned the container id');
      const info = await docker.getContainer(id).inspect();
      assert.deepEqual([info.Config.Image, info.HostConfig.Runtime], ['vmrt-dev/vm-build:latest', 'vmrt']);
      await until('the built file printed from the VM', async () =>
        (await docker.getContainer(id).logs({ stdout: true, stderr: true })).toString('utf8').includes('built in a Dockerfile'),
      );
      await docker.getContainer(id).remove({ force: true });
    },
  ],
  [
    '"Run Compose Service in VM" starts the service with the vmrt runtime (through the Compose CLI here)',
    async () => {
      const file = vscode.Uri.file(join(folder(), 'vm-compose', 'compose.yaml'));
      const id = await vscode.commands.executeCommand<string | undefined>('vmrt.runComposeService', file, 'hello');
      assert.ok(id, 'the command returned the container id');
      const info = await docker.getContainer(id).inspect();
      assert.deepEqual([info.Config.Image, info.HostConfig.Runtime], [expected().busyboxImage, 'vmrt']);
      await until("the service's output from the VM", async () =>
        (await docker.getContainer(id).logs({ stdout: true, stderr: true }))
          .toString('utf8')
          .includes(`compose in a VM: ${expected().kernel}`),
      );
      await docker.getContainer(id).remove({ force: true });
    },
  ],
  [
    'with Container Tools installed, vmrt registers a Docker client whose containers run in VMs',
    async () => {
      const tools = vscode.extensions.getExtension<{
        clients: {
          id: string;
          displayName: string;
          runContainer(
            o: object,
          ): Promise<{ command: string; args: unknown[]; parse(output: string, strict: boolean): Promise<string | undefined> }>;
        }[];
      }>('ms-azuretools.vscode-containers');
      assert.ok(tools, 'the Container Tools stand-in is installed');
      const client = await until("vmrt's client among the registered ones", () =>
        tools.exports?.clients.find((c) => c.id === 'org.vmrt.docker'),
      );
      assert.equal(client.displayName, 'Docker + vmrt');
      // What Container Tools runs for "Run": the client's command line, run here against the test's dockerd.
      const run = await client.runContainer({
        imageRef: expected().busyboxImage,
        detached: true,
        command: ['sh', '-c', 'uname -r; sleep 1000'],
      });
      // The shell quoting Container Tools applies when it runs a command without a shell.
      const args = new NoShell().quote(run.args as Parameters<NoShell['quote']>[0]);
      assert.deepEqual(args.slice(0, 4), ['container', 'run', '--runtime', 'vmrt']);
      const { stdout: output } = await execa(run.command, args, { env: { DOCKER_HOST: `unix://${expected().socket}` } });
      const id = await run.parse(output, true);
      assert.ok(id, `the client parsed a container id from: ${output}`);
      assert.equal((await docker.getContainer(id).inspect()).HostConfig.Runtime, 'vmrt');
      await until('the guest kernel in the logs', async () =>
        (await docker.getContainer(id).logs({ stdout: true, stderr: true })).toString('utf8').includes(expected().kernel),
      );
      await docker.getContainer(id).remove({ force: true });
    },
  ],
  [
    'a vmrt Node debug session stops at a breakpoint in the VM and shows a local variable',
    () =>
      debugInVm({
        language: 'node',
        image: expected().nodeImage,
        file: 'main.js',
        port: 9229,
        screenshotName: 'vm-debug-paused',
        // js-debug names the function's scope "Local: <function>".
        localScope: /^Local\b/,
        locals: ['a=20', 'b=22', 'sum=42'],
        childParent: (s) => s.parentSession?.parentSession ?? s.parentSession,
      }),
  ],
  [
    'a vmrt Python debug session, straight to debugpy in the VM, stops at a breakpoint and shows a local variable',
    () =>
      debugInVm({
        language: 'python',
        image: expected().pythonImage,
        file: 'main.py',
        port: 5678,
        localScope: /^Locals$/,
        locals: ['a=20', 'b=22', 'sum=42'],
        childParent: (s) => s.parentSession,
      }),
  ],
  [
    'a vmrt native debug session, through the bundled GDB adapter to gdbserver in the VM, stops at a breakpoint and shows a local variable',
    () =>
      debugInVm({
        language: 'native',
        image: expected().gdbserverImage,
        file: 'main.c',
        program: 'main',
        port: 2345,
        localScope: /^Local$/,
        locals: ['a=20', 'b=22', 'sum=42'],
        childParent: (s) => s.parentSession,
      }),
  ],
  [
    'when Docker is not reachable, one notification says so and how to fix it',
    async () => {
      const settings = vscode.workspace.getConfiguration('vmrt.docker');
      await settings.update('host', 'unix:///nonexistent/docker.sock', vscode.ConfigurationTarget.Global);
      try {
        assert.equal(
          await vscode.commands.executeCommand('vmrt.runImage', { image: expected().busyboxImage, ports: '', env: '', command: '' }),
          undefined,
        );
        await screenshot('vm-docker-down', 'Docker is not running or not reachable at unix:///nonexistent/docker.sock');
      } finally {
        await settings.update('host', `unix://${expected().socket}`, vscode.ConfigurationTarget.Global);
      }
    },
  ],
];

export async function run(): Promise<void> {
  let failed = 0;
  const only = expected().only ? new RegExp(expected().only!) : undefined;
  const selected = cases.filter(([name], index) => index === 0 || !only || only.test(name));
  for (const [name, body] of selected) {
    const started = Date.now();
    try {
      await body();
      log(`ok ${name} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
    } catch (error) {
      failed++;
      log(`not ok ${name}: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    }
  }
  log(`${failed === 0 ? 'passed' : 'failed'}: ${selected.length - failed} passed, ${failed} failed`);
  if (failed > 0) throw new Error(`${failed} VM runtime case(s) failed`);
}
