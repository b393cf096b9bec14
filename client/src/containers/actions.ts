/**
 * What a person does with a VM container from the explorer (or the command palette with an id):
 * attach a shell, follow logs, read the VM console, open a published port, inspect, restart,
 * stop, remove.
 */
import { readFileSync } from 'node:fs';
import { PassThrough } from 'node:stream';
import * as vscode from 'vscode';
import { findVm } from './process.js';
import { errorText, type VmContext } from './context.js';
import type { VmContainer, VmExplorer } from './explorer.js';

const INSPECT_SCHEME = 'vmrt-inspect';

/** A container named by a tree row (container or detail row) or by its id. */
type Target = { container: VmContainer } | string | undefined;

class LogFollower implements vscode.Disposable {
  text = '';
  private stream: NodeJS.ReadableStream | undefined;
  constructor(readonly channel: vscode.OutputChannel) {}

  append(chunk: string): void {
    this.text += chunk;
    this.channel.append(chunk);
  }

  follow(stream: NodeJS.ReadableStream): void {
    this.stream = stream;
  }

  dispose(): void {
    (this.stream as unknown as { destroy?(): void } | undefined)?.destroy?.();
    this.channel.dispose();
  }
}

export class VmActions implements vscode.Disposable {
  readonly logs = new Map<string, LogFollower>();
  private readonly inspections = new Map<string, string>();
  private readonly disposables: vscode.Disposable[] = [];

  constructor(
    private readonly vm: VmContext,
    private readonly explorer: VmExplorer,
  ) {
    this.disposables.push(
      vscode.workspace.registerTextDocumentContentProvider(INSPECT_SCHEME, {
        provideTextDocumentContent: (uri) => this.inspections.get(uri.path) ?? '',
      }),
    );
  }

  register(): vscode.Disposable[] {
    const command = (name: string, run: (target: Target) => unknown) =>
      vscode.commands.registerCommand(name, (target: Target) => this.guard(() => run(target)));
    return [
      command('vmrt.container.attachShell', (t) => this.attachShell(this.id(t))),
      command('vmrt.container.followLogs', (t) => this.followLogs(this.id(t))),
      command('vmrt.container.showConsole', (t) => this.showConsole(this.id(t))),
      command('vmrt.container.openPort', (t) => this.openPort(this.id(t))),
      command('vmrt.container.inspect', (t) => this.inspect(this.id(t))),
      command('vmrt.container.restart', (t) => this.vm.docker.getContainer(this.id(t)).restart()),
      command('vmrt.container.stop', (t) => this.vm.docker.getContainer(this.id(t)).stop()),
      command('vmrt.container.remove', (t) => this.remove(t)),
    ];
  }

  /** Failures become one message: the readiness notification when the machine is the cause, else Docker's reason. */
  private async guard<T>(run: () => T | Promise<T>): Promise<T | undefined> {
    try {
      return await run();
    } catch (error) {
      if (await this.vm.diagnose().catch(() => undefined)) {
        void this.vm.ensureReady();
      } else {
        void vscode.window.showErrorMessage(`vmrt: ${errorText(error)}`);
      }
      return undefined;
    }
  }

  private id(target: Target): string {
    if (typeof target === 'string') return target;
    if (target?.container) return target.container.id;
    throw new Error('pick a container in the VM Containers view');
  }

  /** A terminal running `docker exec -it <id> sh`: VS Code gives it a real pty, Docker one in the VM. */
  attachShell(id: string): vscode.Terminal {
    const terminal = vscode.window.createTerminal({
      name: `vmrt: ${id.slice(0, 12)}`,
      shellPath: 'docker',
      shellArgs: ['exec', '-it', id, 'sh'],
      env: this.vm.cliEnv(),
    });
    terminal.show();
    return terminal;
  }

  /** An output channel (the vmrt-log grammar) that follows the container's logs. */
  async followLogs(id: string): Promise<LogFollower> {
    this.logs.get(id)?.dispose();
    const container = this.vm.docker.getContainer(id);
    const info = await container.inspect();
    const follower = new LogFollower(vscode.window.createOutputChannel(`vmrt logs: ${info.Name.replace(/^\//, '')}`, 'vmrt-log'));
    this.logs.set(id, follower);
    follower.channel.show(true);
    const stream = await container.logs({ follow: true, stdout: true, stderr: true, timestamps: false });
    follower.follow(stream);
    const sink = new PassThrough();
    sink.on('data', (chunk: Buffer) => follower.append(chunk.toString()));
    if (info.Config.Tty) stream.pipe(sink);
    else container.modem.demuxStream(stream, sink, sink);
    return follower;
  }

  /** The guest console (kernel messages) that vmrt keeps beside the container's state. */
  async showConsole(id: string): Promise<vscode.TextDocument | undefined> {
    const vm = findVm(id);
    if (!vm) {
      void vscode.window.showWarningMessage('The VM console is readable while the container runs, on the machine where Docker runs.');
      return undefined;
    }
    const document = await vscode.workspace.openTextDocument({ language: 'vmrt-log', content: readFileSync(vm.consoleLog, 'utf8') });
    await vscode.window.showTextDocument(document, { preview: true });
    return document;
  }

  async openPort(id: string): Promise<string | undefined> {
    const container = (await this.explorer.list()).find((c) => c.id === id);
    const ports = container?.ports ?? [];
    if (ports.length === 0) {
      void vscode.window.showInformationMessage('This container publishes no port.');
      return undefined;
    }
    const pick =
      ports.length === 1
        ? ports[0]
        : (await vscode.window.showQuickPick(ports.map((p) => ({ label: `${p.publicPort} → ${p.privatePort}`, port: p }))))?.port;
    if (!pick) return undefined;
    const host = !pick.ip || pick.ip === '0.0.0.0' || pick.ip === '::' ? 'localhost' : pick.ip;
    const url = `http://${host}:${pick.publicPort}/`;
    await vscode.env.openExternal(vscode.Uri.parse(url));
    return url;
  }

  /** `docker inspect` as a read-only JSON document. */
  async inspect(id: string): Promise<vscode.TextDocument> {
    const info = await this.vm.docker.getContainer(id).inspect();
    const path = `/${info.Name.replace(/^\//, '')}.json`;
    this.inspections.set(path, `${JSON.stringify(info, null, 2)}\n`);
    const document = await vscode.workspace.openTextDocument(
      vscode.Uri.from({ scheme: INSPECT_SCHEME, path, query: Date.now().toString() }),
    );
    await vscode.languages.setTextDocumentLanguage(document, 'json');
    await vscode.window.showTextDocument(document, { preview: true });
    return document;
  }

  /** Removes (forcing a running one); from the view it asks first, from code the id is the consent. */
  private async remove(target: Target): Promise<boolean> {
    const id = this.id(target);
    if (typeof target !== 'string') {
      const answer = await vscode.window.showWarningMessage(
        `Remove container ${target!.container.name} and its VM?`,
        { modal: true },
        'Remove',
      );
      if (answer !== 'Remove') return false;
    }
    this.logs.get(id)?.dispose();
    this.logs.delete(id);
    await this.vm.docker.getContainer(id).remove({ force: true });
    return true;
  }

  dispose(): void {
    for (const follower of this.logs.values()) follower.dispose();
    for (const d of this.disposables) d.dispose();
  }
}
