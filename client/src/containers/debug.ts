/**
 * The `vmrt` debug type. It has no adapter of its own: resolving a `vmrt` configuration starts
 * the program inside a VM container with its debugger listening on a published port, then
 * hands VS Code a configuration of the debugger that speaks to it (js-debug's `node` attach,
 * `debugpy` attach, or `cppdbg` with gdbserver). Without the Python or C/C++ extension, VS Code
 * speaks the Debug Adapter Protocol to debugpy in the VM itself, or runs the bundled GDB adapter
 * against gdbserver in the VM. Ending the session removes the container.
 */
import { execa } from 'execa';
import * as vscode from 'vscode';
import { dockerfileTag, dockerRunLine, type RunSpec } from './launch-spec.js';
import { VmSessionAdapter } from './debug-session.js';
import {
  ATTACH,
  attachConfiguration,
  DAP_SERVER,
  GDB_ADAPTER,
  listensOn,
  debuggeeCommand,
  DEFAULT_PORTS,
  MARK,
  missingDebugger,
  remotePath,
  type DebugLanguage,
  type VmDebugConfiguration,
} from './debug-config.js';
import { assertLaunchable } from './lint-gate.js';
import { errorText, type VmContext } from './context.js';
import { execText } from './exec.js';
import { LaunchCancelled, type VmLauncher } from './launch.js';

/** The extension whose debugger attaches, per language (js-debug is built into VS Code; its nightly may replace it). */
const DEBUGGER_EXTENSIONS: Record<DebugLanguage, { ids: string[]; name: string; optional?: true }> = {
  node: { ids: ['ms-vscode.js-debug', 'ms-vscode.js-debug-nightly'], name: 'JavaScript Debugger (ms-vscode.js-debug)' },
  python: { ids: ['ms-python.debugpy'], name: 'Python Debugger (ms-python.debugpy)', optional: true },
  native: { ids: ['ms-vscode.cpptools'], name: 'C/C++ (ms-vscode.cpptools)', optional: true },
};

async function onPath(command: string): Promise<boolean> {
  return (await execa('sh', ['-c', `command -v ${command}`], { reject: false })).exitCode === 0;
}

const installed = (language: DebugLanguage) => DEBUGGER_EXTENSIONS[language].ids.some((id) => vscode.extensions.getExtension(id));

export class VmDebugProvider implements vscode.DebugConfigurationProvider, vscode.DebugAdapterDescriptorFactory {
  constructor(
    private readonly vm: VmContext,
    private readonly launcher: VmLauncher,
    private readonly extensionUri: vscode.Uri,
  ) {}

  /** The `vmrt` session's adapter: owns the container, runs the language's debugger as its child (debug-session.ts). */
  createDebugAdapterDescriptor(session: vscode.DebugSession): vscode.DebugAdapterDescriptor {
    const server = session.configuration[DAP_SERVER] as { host: string; port: number } | undefined;
    if (server) return new vscode.DebugAdapterServer(server.port, server.host);
    if (session.configuration[GDB_ADAPTER]) {
      // The editor's own runtime runs the adapter as Node.
      const adapter = vscode.Uri.joinPath(this.extensionUri, 'dist', 'gdb-adapter.cjs').fsPath;
      return new vscode.DebugAdapterExecutable(process.execPath, [adapter], { env: { ELECTRON_RUN_AS_NODE: '1' } });
    }
    return new vscode.DebugAdapterInlineImplementation(new VmSessionAdapter(session, this.vm));
  }

  provideDebugConfigurations(): vscode.DebugConfiguration[] {
    return [
      {
        type: 'vmrt',
        request: 'launch',
        name: 'Node in a VM (vmrt)',
        language: 'node',
        image: 'node:20',
        program: '${workspaceFolder}/index.js',
        args: [],
        port: 9229,
        localRoot: '${workspaceFolder}',
        remoteRoot: '/workspace',
      },
    ];
  }

  async resolveDebugConfigurationWithSubstitutedVariables(
    folder: vscode.WorkspaceFolder | undefined,
    raw: vscode.DebugConfiguration,
  ): Promise<vscode.DebugConfiguration | undefined> {
    // A child session this provider made (debugpy's adapter in the VM, the GDB adapter): already resolved.
    if (raw[DAP_SERVER] || raw[GDB_ADAPTER]) return raw;
    const config = raw as VmDebugConfiguration;
    const language: DebugLanguage = config.language ?? 'node';
    config.localRoot ??= folder?.uri.fsPath ?? vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
    config.remoteRoot ??= '/workspace';
    const port = config.port ?? DEFAULT_PORTS[language];
    const needed = DEBUGGER_EXTENSIONS[language];
    if (!needed.optional && !installed(language)) {
      void vscode.window.showErrorMessage(
        `vmrt: debugging ${language} in a VM attaches VS Code's ${needed.name} debugger, which is not installed.`,
      );
      return undefined;
    }
    if (language === 'native' && !installed(language) && !(await onPath('gdb'))) {
      void vscode.window.showErrorMessage(
        'vmrt: debugging native code in a VM needs gdb on this machine (e.g. "apt-get install gdb"), or the C/C++ extension (ms-vscode.cpptools).',
      );
      return undefined;
    }
    try {
      if (!(await this.vm.ensureReady())) return undefined;
      const { child, container } =
        config.request === 'attach' ? await this.attach(config, language, port) : await this.launch(config, language, port);
      return { ...config, [ATTACH]: child, [MARK]: container };
    } catch (error) {
      if (!(error instanceof LaunchCancelled)) void vscode.window.showErrorMessage(`vmrt: ${errorText(error)}`);
      return undefined;
    }
  }

  private async launch(
    config: VmDebugConfiguration,
    language: DebugLanguage,
    port: number,
  ): Promise<{ child: vscode.DebugConfiguration; container: string }> {
    if (!config.program) throw new Error('the launch configuration needs "program" (a file in the workspace)');
    if (!config.image && !config.dockerfile) throw new Error('the launch configuration needs "image" or "dockerfile"');
    const image = config.image ?? dockerfileTag('vmrt-debug', config.dockerfile!);
    const spec: RunSpec = {
      image,
      ports: [{ containerPort: `${port}/tcp`, hostIp: '127.0.0.1', hostPort: '' }],
      env: [],
      cmd: debuggeeCommand(language, remotePath(config.localRoot!, config.remoteRoot!, config.program), config.args ?? [], port),
      binds: [`${config.localRoot}:${config.remoteRoot}`],
      workingDir: config.remoteRoot,
      labels: { 'org.vmrt.debug': language },
    };
    await assertLaunchable(this.launcher.lint, { kind: 'command', line: dockerRunLine(spec), folder: config.localRoot! });
    if (config.dockerfile) {
      await assertLaunchable(this.launcher.lint, { kind: 'file', path: config.dockerfile });
      await this.launcher.build(config.dockerfile, image);
    }
    const id = await this.launcher.start(spec).catch((error: unknown) => {
      throw new Error(missingDebugger(language, errorText(error)) ?? errorText(error));
    });
    try {
      const hostPort = await this.debuggerReady(id, language, port);
      return { child: attachConfiguration(config, language, hostPort, installed(language)), container: id };
    } catch (error) {
      await this.vm.docker
        .getContainer(id)
        .remove({ force: true })
        .catch(() => undefined);
      throw error;
    }
  }

  private async attach(
    config: VmDebugConfiguration,
    language: DebugLanguage,
    port: number,
  ): Promise<{ child: vscode.DebugConfiguration; container: undefined }> {
    if (!config.container) throw new Error('the attach configuration needs "container" (a running vmrt container)');
    const hostPort = await this.debuggerReady(config.container, language, port);
    // Attaching to a container the user started: ending the session leaves it running.
    return { child: attachConfiguration(config, language, hostPort, installed(language)), container: undefined };
  }

  /** Waits (with progress) until the debugger in the VM answers on its published port; says why when it cannot. */
  private async debuggerReady(id: string, language: DebugLanguage, port: number): Promise<number> {
    return vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: `Waiting for the ${language} debugger in the VM`, cancellable: true },
      async (_progress, token) => {
        const container = this.vm.docker.getContainer(id);
        const info = await container.inspect();
        const binding = info.NetworkSettings.Ports?.[`${port}/tcp`]?.[0];
        if (!binding) throw new Error(`the container does not publish port ${port}: add it to the container (-p ${port})`);
        const hostPort = Number(binding.HostPort);
        const deadline = Date.now() + 120_000;
        while (Date.now() < deadline) {
          if (token.isCancellationRequested) throw new LaunchCancelled();
          const state = (await container.inspect()).State;
          if (!state.Running) throw new Error(await this.exitReason(id, language, state.ExitCode));
          if (await this.answers(id, hostPort, language, port)) return hostPort;
          await new Promise((resolve) => setTimeout(resolve, 500));
        }
        throw new Error(`the ${language} debugger did not answer on port ${port} in the VM within 120 s`);
      },
    );
  }

  /** Why the debuggee's container ended: a missing debugger gets its own sentence. */
  private async exitReason(id: string, language: DebugLanguage, exitCode: number): Promise<string> {
    const logs = (await this.vm.docker.getContainer(id).logs({ stdout: true, stderr: true, tail: 20 }))
      .toString('utf8')
      .replace(/[\x00-\x08]/g, '');
    const missing = missingDebugger(language, logs);
    if (missing) return missing;
    return `the program ended (exit status ${exitCode}) before its debugger answered: ${logs.trim().split('\n').slice(-3).join(' | ')}`;
  }

  /**
   * Node's inspector answers HTTP. debugpy and gdbserver serve one connection, which a probe
   * would use up: they are ready once their port listens inside the container.
   */
  private async answers(id: string, hostPort: number, language: DebugLanguage, port: number): Promise<boolean> {
    if (language === 'node') {
      try {
        return (await fetch(`http://127.0.0.1:${hostPort}/json/version`, { signal: AbortSignal.timeout(2000) })).ok;
      } catch {
        return false;
      }
    }
    const { output } = await execText(this.vm.docker.getContainer(id), ['cat', '/proc/net/tcp', '/proc/net/tcp6']).catch(() => ({
      output: '',
    }));
    return listensOn(output, port);
  }
}
