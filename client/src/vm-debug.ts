/**
 * The `vmrt` debug type. It has no adapter of its own: resolving a `vmrt` configuration starts
 * the program inside a VM container with its debugger listening on a published port, then
 * hands VS Code a configuration of the debugger that speaks to it (js-debug's `node` attach,
 * `debugpy` attach, or `cppdbg` with gdbserver). Ending the session removes the container.
 */
import { posix } from 'node:path';
import * as vscode from 'vscode';
import { dockerRunLine, type RunSpec } from './vm-launch-spec.js';
import { describeFinding, gate, launchFindings } from './vm-lint-gate.js';
import { errorText, type VmContext } from './vm-context.js';
import { LaunchCancelled, type VmLauncher } from './vm-launch.js';

export type DebugLanguage = 'node' | 'python' | 'native';

export interface VmDebugConfiguration extends vscode.DebugConfiguration {
  type: 'vmrt';
  request: 'launch' | 'attach';
  language?: DebugLanguage;
  image?: string;
  dockerfile?: string;
  program?: string;
  args?: string[];
  /** The debugger's port inside the VM. */
  port?: number;
  localRoot?: string;
  remoteRoot?: string;
  /** attach: the running container (name or id). */
  container?: string;
}

const DEFAULT_PORTS: Record<DebugLanguage, number> = { node: 9229, python: 5678, native: 2345 };
const MARK = '__vmrtContainer';

/** The command that starts `program` with its debugger listening on `port` in the VM. */
export function debuggeeCommand(language: DebugLanguage, program: string, args: readonly string[], port: number): string[] {
  switch (language) {
    case 'node': return ['node', `--inspect-brk=0.0.0.0:${port}`, program, ...args];
    case 'python': return ['python3', '-m', 'debugpy', '--listen', `0.0.0.0:${port}`, '--wait-for-client', program, ...args];
    case 'native': return ['gdbserver', `0.0.0.0:${port}`, program, ...args];
  }
}

/** The path of a workspace file inside the container, where localRoot is mounted at remoteRoot. */
export function remotePath(localRoot: string, remoteRoot: string, local: string): string {
  const relativePath = local.startsWith(`${localRoot}/`) ? local.slice(localRoot.length + 1) : local === localRoot ? '' : undefined;
  if (relativePath === undefined) return local;
  return posix.join(remoteRoot, relativePath);
}

/** What the program's own debugger needs to attach, with the paths mapped both ways. */
export function attachConfiguration(config: VmDebugConfiguration, language: DebugLanguage, hostPort: number, container: string): vscode.DebugConfiguration {
  const localRoot = config.localRoot!;
  const remoteRoot = config.remoteRoot!;
  const common = { name: `${config.name} (in VM)`, request: 'attach', [MARK]: container };
  switch (language) {
    case 'node':
      return { ...common, type: 'node', address: '127.0.0.1', port: hostPort, localRoot, remoteRoot, continueOnAttach: true, restart: false, skipFiles: ['<node_internals>/**'] };
    case 'python':
      return { ...common, type: 'debugpy', connect: { host: '127.0.0.1', port: hostPort }, pathMappings: [{ localRoot, remoteRoot }] };
    case 'native':
      return {
        ...common, type: 'cppdbg', request: 'launch', program: config.program, cwd: localRoot, MIMode: 'gdb',
        miDebuggerServerAddress: `127.0.0.1:${hostPort}`, sourceFileMap: { [remoteRoot]: localRoot },
      };
  }
}

/** The sentence for an image without the debugger `language` needs, when `output` says so. */
export function missingDebugger(language: DebugLanguage, output: string): string | undefined {
  if (language === 'python' && /No module named debugpy|python3.*(not found|no such file)/i.test(output)) {
    return 'the image has no debugpy (or no python3): add "RUN pip install debugpy" to its Dockerfile';
  }
  if (language === 'native' && /gdbserver.*(not found|no such file)/i.test(output)) {
    return 'the image has no gdbserver: add it to the image (e.g. "RUN apt-get install -y gdbserver")';
  }
  if (language === 'node' && /node.*(not found|no such file)/i.test(output)) return 'the image has no node executable on its PATH';
  return undefined;
}

const DEBUGGER_EXTENSIONS: Record<DebugLanguage, { id: string; name: string } | undefined> = {
  node: undefined, // js-debug is built into VS Code
  python: { id: 'ms-python.debugpy', name: 'Python Debugger (ms-python.debugpy)' },
  native: { id: 'ms-vscode.cpptools', name: 'C/C++ (ms-vscode.cpptools)' },
};

export class VmDebugProvider implements vscode.DebugConfigurationProvider, vscode.Disposable {
  private readonly disposables: vscode.Disposable[] = [];

  constructor(private readonly vm: VmContext, private readonly launcher: VmLauncher) {
    // The container of a launch lives as long as the session attached to it.
    this.disposables.push(vscode.debug.onDidTerminateDebugSession((session) => {
      const id = session.configuration[MARK] as string | undefined;
      if (id) void this.vm.docker.getContainer(id).remove({ force: true }).catch(() => undefined);
    }));
  }

  provideDebugConfigurations(): vscode.DebugConfiguration[] {
    return [{
      type: 'vmrt', request: 'launch', name: 'Node in a VM (vmrt)', language: 'node', image: 'node:20',
      program: '${workspaceFolder}/index.js', args: [], port: 9229, localRoot: '${workspaceFolder}', remoteRoot: '/workspace',
    }];
  }

  async resolveDebugConfigurationWithSubstitutedVariables(folder: vscode.WorkspaceFolder | undefined, raw: vscode.DebugConfiguration): Promise<vscode.DebugConfiguration | undefined> {
    const config = raw as VmDebugConfiguration;
    const language: DebugLanguage = config.language ?? 'node';
    config.localRoot ??= folder?.uri.fsPath ?? vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
    config.remoteRoot ??= '/workspace';
    const port = config.port ?? DEFAULT_PORTS[language];
    const needed = DEBUGGER_EXTENSIONS[language];
    if (needed && !vscode.extensions.getExtension(needed.id)) {
      void vscode.window.showErrorMessage(`vmrt: debugging ${language} in a VM attaches VS Code's ${needed.name} debugger, which is not installed.`);
      return undefined;
    }
    try {
      if (!(await this.vm.ensureReady())) return undefined;
      if (config.request === 'attach') return await this.attach(config, language, port);
      return await this.launch(config, language, port);
    } catch (error) {
      if (!(error instanceof LaunchCancelled)) void vscode.window.showErrorMessage(`vmrt: ${errorText(error)}`);
      return undefined;
    }
  }

  private async launch(config: VmDebugConfiguration, language: DebugLanguage, port: number): Promise<vscode.DebugConfiguration> {
    if (!config.program) throw new Error('the launch configuration needs "program" (a file in the workspace)');
    if (!config.image && !config.dockerfile) throw new Error('the launch configuration needs "image" or "dockerfile"');
    const image = config.image ?? `vmrt-debug/${posix.basename(posix.dirname(config.dockerfile!)).toLowerCase().replace(/[^a-z0-9._-]/g, '-') || 'app'}:latest`;
    const spec: RunSpec = {
      image,
      ports: [{ containerPort: `${port}/tcp`, hostIp: '127.0.0.1', hostPort: '' }],
      env: [],
      cmd: debuggeeCommand(language, remotePath(config.localRoot!, config.remoteRoot!, config.program), config.args ?? [], port),
      binds: [`${config.localRoot}:${config.remoteRoot}`],
      // Lets the extension give the guest its address where the runtime's agent does not (see ensureGuestNetwork).
      capAdd: ['NET_ADMIN'],
      workingDir: config.remoteRoot,
      labels: { 'org.vmrt.debug': language },
    };
    const verdict = gate(launchFindings({ kind: 'command', line: dockerRunLine(spec), folder: config.localRoot! }));
    if (verdict.blocking) throw new Error(`not launched: ${describeFinding(verdict.blocking)}`);
    if (config.dockerfile) {
      const found = gate(launchFindings({ kind: 'file', path: config.dockerfile })).blocking;
      if (found) throw new Error(`not launched: ${describeFinding(found)}`);
      await this.launcher.build(config.dockerfile, image);
    }
    const id = await this.launcher.start(spec).catch((error: unknown) => {
      throw new Error(missingDebugger(language, errorText(error)) ?? errorText(error));
    });
    try {
      const hostPort = await this.debuggerReady(id, language, port);
      return attachConfiguration(config, language, hostPort, id);
    } catch (error) {
      await this.vm.docker.getContainer(id).remove({ force: true }).catch(() => undefined);
      throw error;
    }
  }

  private async attach(config: VmDebugConfiguration, language: DebugLanguage, port: number): Promise<vscode.DebugConfiguration> {
    if (!config.container) throw new Error('the attach configuration needs "container" (a running vmrt container)');
    const hostPort = await this.debuggerReady(config.container, language, port);
    // Attaching to a container the user started: ending the session leaves it running.
    return { ...attachConfiguration(config, language, hostPort, config.container), request: language === 'native' ? 'launch' : 'attach', [MARK]: undefined };
  }

  /** Waits (with progress) until the debugger in the VM answers on its published port; says why when it cannot. */
  private async debuggerReady(id: string, language: DebugLanguage, port: number): Promise<number> {
    return vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `Waiting for the ${language} debugger in the VM`, cancellable: true }, async (_progress, token) => {
      const container = this.vm.docker.getContainer(id);
      await this.launcher.ensureGuestNetwork(id);
      const info = await container.inspect();
      const binding = info.NetworkSettings.Ports?.[`${port}/tcp`]?.[0];
      if (!binding) throw new Error(`the container does not publish port ${port}: add it to the container (-p ${port})`);
      const hostPort = Number(binding.HostPort);
      const deadline = Date.now() + 120_000;
      while (Date.now() < deadline) {
        if (token.isCancellationRequested) throw new LaunchCancelled();
        const state = (await container.inspect()).State;
        if (!state.Running) throw new Error(await this.exitReason(id, language, state.ExitCode));
        if (await this.answers(id, hostPort, language)) return hostPort;
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
      throw new Error(`the ${language} debugger did not answer on port ${port} in the VM within 120 s`);
    });
  }

  /** Why the debuggee's container ended: a missing debugger gets its own sentence. */
  private async exitReason(id: string, language: DebugLanguage, exitCode: number): Promise<string> {
    const logs = (await this.vm.docker.getContainer(id).logs({ stdout: true, stderr: true, tail: 20 })).toString('utf8').replace(/[\x00-\x08]/g, '');
    const missing = missingDebugger(language, logs);
    if (missing) return missing;
    return `the program ended (exit status ${exitCode}) before its debugger answered: ${logs.trim().split('\n').slice(-3).join(' | ')}`;
  }

  dispose(): void {
    for (const d of this.disposables) d.dispose();
  }

  /**
   * Node's inspector answers HTTP; gdbserver says "Listening on port"; debugpy is ready once
   * started (probing its or gdbserver's socket would use up the one connection they serve).
   */
  private async answers(id: string, port: number, language: DebugLanguage): Promise<boolean> {
    if (language === 'node') {
      try {
        return (await fetch(`http://127.0.0.1:${port}/json/version`, { signal: AbortSignal.timeout(2000) })).ok;
      } catch {
        return false;
      }
    }
    const logs = (await this.vm.docker.getContainer(id).logs({ stdout: true, stderr: true })).toString('utf8');
    return language === 'native' ? /Listening on port/.test(logs) : true;
  }
}
