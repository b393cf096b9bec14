/**
 * "vmrt: Set Up Runtime": checks each prerequisite (the bundled runtime fits this machine, QEMU,
 * KVM or TCG and why, Docker reachable, vmrt registered), says what is missing with the one
 * command that fixes it, and registers the bundled runtime with Docker: the runtime's own
 * `vmrt install --docker --write` merges it into a copy of daemon.json, the change is shown,
 * and a terminal installs it with root's rights and sends dockerd SIGHUP.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as vscode from 'vscode';
import { RUNTIME, errorText, type VmContext } from '../containers/context.js';
import { parseCheckOutput, registeredRuntime } from '../runtime-health.js';
import { architectureProblem, shellQuote, stableLauncherPath, type BundledRuntime } from './bundled-runtime.js';
import { findDockerd, privileged, registeredPath, registrationScript } from './docker-daemon.js';

export interface SetupStep {
  name: string;
  ok: boolean;
  detail: string;
  /** The one command (or editor command) that fixes it. */
  fix?: string;
}

/** A step that stopped the set-up: its name, what happened, and the fix. */
class SetupFailure extends Error {
  constructor(
    readonly step: string,
    message: string,
    readonly fix: string,
  ) {
    super(message);
  }
}

const SET_UP = 'vmrt: Set Up Runtime';
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export class RuntimeSetup implements vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChange = this.changed.event;
  /** The last survey, for the Set-Up view. */
  steps: SetupStep[] = [];

  constructor(
    private readonly vm: VmContext,
    private readonly bundled: BundledRuntime | undefined,
  ) {}

  /** Every prerequisite, in order, without stopping at the first missing one. */
  async survey(): Promise<SetupStep[]> {
    const steps: SetupStep[] = [this.runtimeStep()];
    const check = parseCheckOutput((await this.vm.vmrt(['check'])).output);
    const line = (name: string) => check.lines.find((l) => l.name === name);
    const qemu = line('QEMU');
    steps.push({
      name: 'QEMU',
      ok: qemu?.ok ?? false,
      detail: qemu?.detail ?? 'the runtime check did not run',
      fix: qemu?.ok ? undefined : `sudo apt-get install ${process.arch === 'arm64' ? 'qemu-system-arm' : 'qemu-system-x86'}`,
    });
    const kvm = line('/dev/kvm');
    // TCG works without KVM, only slower: informational, as in `vmrt check`.
    steps.push({ name: kvm?.ok ? 'KVM' : 'TCG (no KVM)', ok: true, detail: kvm?.detail ?? 'unknown' });
    // Other required lines (guest files, shim, commands); `root` is not one here: Docker runs the runtime as root.
    for (const other of check.lines.filter((l) => l.required && !l.ok && l.name !== 'QEMU' && l.name !== 'root'))
      steps.push({ name: other.name, ok: false, detail: other.detail });
    try {
      const info = (await this.vm.docker.info()) as { Runtimes?: Record<string, { path?: string }> };
      steps.push({ name: 'Docker', ok: true, detail: `reachable at ${this.vm.cliEnv().DOCKER_HOST}` });
      const registered = registeredRuntime(info.Runtimes, RUNTIME);
      steps.push({
        name: 'vmrt registered with Docker',
        ok: registered,
        detail: registered ? (info.Runtimes![RUNTIME]!.path ?? '') : 'docker info lists no vmrt runtime',
        fix: registered ? undefined : SET_UP,
      });
    } catch (error) {
      steps.push({
        name: 'Docker',
        ok: false,
        detail: `not reachable at ${this.vm.cliEnv().DOCKER_HOST}: ${errorText(error)}`,
        fix: 'sudo systemctl start docker',
      });
    }
    this.steps = steps;
    void vscode.commands.executeCommand(
      'setContext',
      'vmrt.runtimeReady',
      steps.every((s) => s.ok),
    );
    this.changed.fire();
    return steps;
  }

  private runtimeStep(): SetupStep {
    const override = vscode.workspace.getConfiguration('vmrt.runtime').get<string>('path');
    if (override) return { name: 'runtime', ok: true, detail: `${override} (vmrt.runtime.path)` };
    if (!this.bundled) return { name: 'runtime', ok: false, detail: 'this extension carries no runtime', fix: 'set vmrt.runtime.path' };
    const problem = architectureProblem(this.bundled);
    return problem ? { name: 'runtime', ok: false, detail: problem } : { name: 'runtime', ok: true, detail: stableLauncherPath() };
  }

  /** The command: returns true when vmrt is registered and every prerequisite holds. */
  async run(): Promise<boolean> {
    try {
      await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: SET_UP }, async (progress) => {
        progress.report({ message: 'checking QEMU, KVM and Docker' });
        const steps = await this.survey();
        const missing = steps.find((s) => !s.ok && s.fix !== SET_UP);
        if (missing) throw new SetupFailure(missing.name, missing.detail, missing.fix ?? 'see "vmrt: Show Runtime Check"');
        if (steps.every((s) => s.ok)) return;
        progress.report({ message: 'registering vmrt with Docker' });
        await this.register();
        progress.report({ message: 'waiting for dockerd to list vmrt' });
        await this.awaitRegistered();
      });
    } catch (error) {
      if (!(error instanceof SetupFailure)) throw error;
      void vscode.window.showErrorMessage(`${SET_UP}: ${error.step}: ${error.message}. Fix: ${error.fix}`);
      return false;
    }
    await this.survey();
    void vscode.window.showInformationMessage(
      `vmrt is set up: Docker runs containers in VMs with --runtime vmrt (${stableLauncherPath()}).`,
    );
    return true;
  }

  private async register(): Promise<void> {
    const step = 'registering with Docker';
    const socket = this.vm.dockerSocket();
    if (!socket)
      throw new SetupFailure(
        step,
        `Docker at ${this.vm.cliEnv().DOCKER_HOST} is not on this machine`,
        'run Set Up Runtime where Docker runs (Remote-SSH, WSL)',
      );
    const dockerd = findDockerd(socket);
    if (!dockerd) throw new SetupFailure(step, `no dockerd process serves ${socket} here`, 'run Set Up Runtime where that dockerd runs');
    const work = mkdtempSync(join(tmpdir(), 'vmrt-setup-'));
    let original: string | undefined;
    try {
      original = readFileSync(dockerd.daemonJson, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT')
        throw new SetupFailure(step, `cannot read ${dockerd.daemonJson}: ${errorText(error)}`, `sudo chmod a+r ${dockerd.daemonJson}`);
    }
    const shownFrom = original === undefined ? undefined : join(work, 'daemon.json.before');
    const merged = join(work, 'daemon.json');
    if (shownFrom) {
      writeFileSync(shownFrom, original!);
      writeFileSync(merged, original!);
    }
    // The runtime's own merge, on a copy: it refuses what is not a JSON object.
    const merge = await this.vm.vmrt(['install', '--docker', '--write', merged], { VMRT_LAUNCHER: stableLauncherPath() });
    const existing = merge.exitCode === 0 ? registeredPath(original) : undefined;
    if (merge.exitCode !== 0 || (existing && existing !== stableLauncherPath())) {
      await vscode.window.showTextDocument(vscode.Uri.file(dockerd.daemonJson));
      rmSync(work, { recursive: true, force: true });
      throw merge.exitCode !== 0
        ? new SetupFailure(
            step,
            merge.output.trim().replace(/^vmrt: /, ''),
            `correct ${dockerd.daemonJson} (shown), then run Set Up Runtime again`,
          )
        : new SetupFailure(
            step,
            `${dockerd.daemonJson} already has another vmrt runtime (${existing}); not changing it`,
            `remove its "vmrt" entry, or set vmrt.runtime.path to ${existing}`,
          );
    }
    const before = shownFrom ? vscode.Uri.file(shownFrom) : vscode.Uri.parse('untitled:daemon.json (none)');
    await vscode.commands.executeCommand('vscode.diff', before, vscode.Uri.file(merged), `${dockerd.daemonJson}: the vmrt runtime added`);
    const uid = process.getuid?.() ?? 0;
    // Only a user who is not root needs it (never the tests, which run as root).
    const hasSudo = (process.env.PATH ?? '').split(':').some((dir) => existsSync(join(dir, 'sudo')));
    const how = uid === 0 ? 'as root' : hasSudo ? 'through sudo' : 'through pkexec';
    // Not a modal dialog: the change stays readable beside it (and VS Code refuses modal dialogs under test).
    const choice = await vscode.window.showInformationMessage(
      `Register vmrt with Docker? This writes ${dockerd.daemonJson} as shown (every other setting kept) ${how}, then sends dockerd (pid ${dockerd.pid}) SIGHUP so it reads the runtime; running containers keep running.`,
      'Register',
      'Cancel',
    );
    if (choice !== 'Register') {
      rmSync(work, { recursive: true, force: true });
      throw new SetupFailure(step, 'cancelled; nothing was changed', 'run Set Up Runtime again');
    }
    const status = join(work, 'status');
    const command = privileged(
      registrationScript({ daemonJson: dockerd.daemonJson, shownFrom, merged, dockerdPid: dockerd.pid }),
      uid,
      hasSudo,
    );
    const terminal = vscode.window.createTerminal({
      name: 'vmrt: register with Docker',
      shellPath: '/bin/sh',
      // The status file is written as the user, after the privileged part ended.
      shellArgs: ['-c', `${command.map(shellQuote).join(' ')}; echo $? > ${shellQuote(status)}`],
    });
    terminal.show();
    try {
      const deadline = Date.now() + 10 * 60_000; // Time to type a password.
      while (!existsSync(status) || readFileSync(status, 'utf8') === '') {
        if (Date.now() > deadline)
          throw new SetupFailure(step, 'the terminal did not finish within 10 minutes', 'run Set Up Runtime again');
        await sleep(500);
      }
      const code = Number(readFileSync(status, 'utf8').trim());
      if (code !== 0)
        throw new SetupFailure(step, `the privileged step failed (exit status ${code}, see the terminal)`, 'run Set Up Runtime again');
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  }

  private async awaitRegistered(): Promise<void> {
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      const info = (await this.vm.docker.info()) as { Runtimes?: Record<string, { path?: string }> };
      if (registeredRuntime(info.Runtimes, RUNTIME)) return;
      await sleep(500);
    }
    throw new SetupFailure(
      'reloading dockerd',
      'dockerd re-read daemon.json but lists no vmrt runtime',
      'see its log: journalctl -u docker',
    );
  }

  dispose(): void {
    this.changed.dispose();
  }
}
