/**
 * The editor's handle on Docker and the runtime: a dockerode client for the configured host,
 * the vmrt CLI through execa, and the readiness check that explains in one notification what
 * is missing and offers the fix.
 */
import Docker from 'dockerode';
import { execa } from 'execa';
import * as vscode from 'vscode';
import { dockerHostEnv, dockerOptions } from '../docker-connection.js';
import { stableLauncherPath, type BundledRuntime } from '../setup/bundled-runtime.js';
import {
  checkProblem,
  dockerDownProblem,
  NOT_REGISTERED,
  parseCheckOutput,
  registeredRuntime,
  type HealthProblem,
} from '../runtime-health.js';

export const RUNTIME = 'vmrt';
const DOCS = 'https://github.com/vmrt/vmrt#readme';

/** Docker's own message where the Engine API gave one. */
export function errorText(error: unknown): string {
  return (error as { json?: { message?: string } }).json?.message ?? (error instanceof Error ? error.message : String(error));
}

export class VmContext implements vscode.Disposable {
  docker: Docker;
  /** Set once the check passed: it boots a probe VM, so it runs once per session. */
  private ready: Promise<boolean> | undefined;
  private readonly listeners: vscode.Disposable[] = [];
  private readonly hostChanged = new vscode.EventEmitter<void>();
  readonly onDidChangeHost = this.hostChanged.event;

  /** `bundled`: the runtime this extension carries, run through its stable launcher. */
  constructor(private readonly bundled: BundledRuntime | undefined) {
    this.docker = new Docker(this.options());
    this.listeners.push(
      vscode.workspace.onDidChangeConfiguration((event) => {
        if (!event.affectsConfiguration('vmrt.docker.host') && !event.affectsConfiguration('vmrt.runtime.path')) return;
        this.docker = new Docker(this.options());
        this.ready = undefined;
        this.hostChanged.fire();
      }),
    );
  }

  private options(): Docker.DockerOptions {
    return dockerOptions(vscode.workspace.getConfiguration('vmrt.docker').get<string>('host'));
  }

  /** DOCKER_HOST for the docker and compose CLIs, pointing at the same daemon. */
  cliEnv(): Record<string, string> {
    return { DOCKER_HOST: dockerHostEnv(this.options()) };
  }

  /** The unix socket of the configured Docker host, or undefined when it is reached over TCP. */
  dockerSocket(): string | undefined {
    return this.options().socketPath;
  }

  /** `vmrt.runtime.path`, else the bundled runtime, else `vmrt` from PATH. */
  runtimePath(): string {
    return vscode.workspace.getConfiguration('vmrt.runtime').get<string>('path') || (this.bundled ? stableLauncherPath() : 'vmrt');
  }

  /** Runs the vmrt CLI; never throws for a non-zero exit (the caller reads exitCode). */
  async vmrt(args: string[], env: Record<string, string> = {}): Promise<{ exitCode: number; output: string }> {
    const result = await execa(this.runtimePath(), args, { reject: false, all: true, timeout: 120_000, env });
    const output = result.all ?? '';
    if (result.failed && result.exitCode === undefined)
      return { exitCode: 127, output: `${this.runtimePath()} could not run: ${result.shortMessage}` };
    return { exitCode: result.exitCode ?? 1, output };
  }

  /** The first thing that stops VM containers from running, or undefined when all is well. */
  async diagnose(): Promise<HealthProblem | undefined> {
    let info: { Runtimes?: Record<string, { path?: string }> };
    try {
      info = (await this.docker.info()) as typeof info;
    } catch (error) {
      return dockerDownProblem(dockerHostEnv(this.options()), error);
    }
    if (!registeredRuntime(info.Runtimes, RUNTIME)) return NOT_REGISTERED;
    const check = await this.vmrt(['check']);
    if (check.exitCode === 127) return { kind: 'runtime-check', message: check.output };
    return checkProblem(parseCheckOutput(check.output));
  }

  /** True when VM containers can run; otherwise shows one notification with the fix. */
  ensureReady(): Promise<boolean> {
    this.ready ??= this.diagnose().then((problem) => {
      if (!problem) return true;
      this.ready = undefined;
      void this.notify(problem);
      return false;
    });
    return this.ready;
  }

  private async notify(problem: HealthProblem): Promise<void> {
    const actions =
      problem.kind === 'not-registered'
        ? ['Set Up Runtime', 'Open Docs']
        : problem.kind === 'runtime-check'
          ? ['Show Runtime Check', 'Open Docs']
          : ['Open Docs'];
    const choice = await vscode.window.showErrorMessage(problem.message, ...actions);
    if (choice === 'Set Up Runtime') {
      await vscode.commands.executeCommand('vmrt.setUpRuntime');
    } else if (choice === 'Show Runtime Check') {
      await this.showCheck();
    } else if (choice === 'Open Docs') {
      await vscode.env.openExternal(vscode.Uri.parse(DOCS));
    }
  }

  /** "vmrt: Show Runtime Check": the `vmrt check` output in a read-only document. */
  async showCheck(): Promise<vscode.TextDocument> {
    const result = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: 'vmrt check (boots a probe VM)' },
      () => this.vmrt(['check']),
    );
    const document = await vscode.workspace.openTextDocument({
      language: 'vmrt-log',
      content: `$ ${this.runtimePath()} check\n${result.output}\n(exit status ${result.exitCode})\n`,
    });
    await vscode.window.showTextDocument(document, { preview: true });
    return document;
  }

  dispose(): void {
    for (const listener of this.listeners) listener.dispose();
    this.hostChanged.dispose();
  }
}
