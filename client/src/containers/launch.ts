/**
 * "Run Image in VM", "Run Dockerfile in VM", "Run Compose Service in VM": ask (quick picks,
 * remembered per workspace), lint what is about to run, then build/boot with cancellable progress.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, type Dirent } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { execa } from 'execa';
import ignore from 'ignore';
import { parseDocument } from 'yaml';
import * as vscode from 'vscode';
import type { LaunchSource } from '../../../server/src/lsp/protocol.js';
import { assertLaunchable, describeFinding, type LaunchLint } from './lint-gate.js';
import { createOptions, dockerfileTag, dockerRunLine, runSpec, type LaunchAnswers, type RunSpec } from './launch-spec.js';
import { errorText, type VmContext } from './context.js';

const EMPTY: LaunchAnswers = { image: '', ports: '', env: '', command: '' };

export class LaunchCancelled extends Error {
  constructor() {
    super('cancelled');
  }
}

export class VmLauncher {
  constructor(
    private readonly vm: VmContext,
    private readonly memento: vscode.Memento,
    /** The language server's lint of what is about to run. */
    readonly lint: LaunchLint,
  ) {}

  register(): vscode.Disposable[] {
    return [
      vscode.commands.registerCommand('vmrt.runImage', (answers?: Partial<LaunchAnswers>) => this.report(() => this.runImage(answers))),
      vscode.commands.registerCommand('vmrt.runDockerfile', (uri?: vscode.Uri, answers?: Partial<LaunchAnswers>) =>
        this.report(() => this.runDockerfile(uri, answers)),
      ),
      vscode.commands.registerCommand('vmrt.runComposeService', (uri?: vscode.Uri, service?: string) =>
        this.report(() => this.runComposeService(uri, service)),
      ),
    ];
  }

  /** Errors as one notification; the command's result (a container id) for callers. */
  private async report<T>(run: () => Promise<T | undefined>): Promise<T | undefined> {
    try {
      return await run();
    } catch (error) {
      if (!(error instanceof LaunchCancelled)) void vscode.window.showErrorMessage(`vmrt: ${errorText(error)}`);
      return undefined;
    }
  }

  private folder(): string {
    return vscode.workspace.workspaceFolders?.[0]?.uri.fsPath ?? process.cwd();
  }

  /** Asks for what `given` lacks, offering the answers of the last launch of this kind. */
  private async ask(key: string, given: Partial<LaunchAnswers>, askImage: boolean): Promise<LaunchAnswers> {
    const last = this.memento.get<LaunchAnswers>(`vmrt.launch.${key}`, EMPTY);
    const answers = { ...last, ...given };
    if (askImage && given.image === undefined) answers.image = await this.pickImage(last.image);
    const prompt = async (field: 'ports' | 'env' | 'command', title: string, placeHolder: string) => {
      if (given[field] !== undefined) return;
      const value = await vscode.window.showInputBox({ title, placeHolder, value: last[field], ignoreFocusOut: true });
      if (value === undefined) throw new LaunchCancelled();
      answers[field] = value;
    };
    await prompt('ports', 'Ports to publish', 'e.g. 8080:80 9229 (blank: none)');
    await prompt('env', 'Environment', 'e.g. NODE_ENV=development "GREETING=hello there" (blank: none)');
    await prompt('command', 'Command', "blank: the image's own, e.g. sh -c 'echo hi'");
    await this.memento.update(`vmrt.launch.${key}`, answers);
    return answers;
  }

  private async pickImage(last: string): Promise<string> {
    const images = await this.vm.docker.listImages();
    const tags = images.flatMap((i) => i.RepoTags ?? []).filter((t) => t !== '<none>:<none>');
    const ordered = [...new Set([last, ...tags].filter(Boolean))];
    const pick = await vscode.window.showQuickPick(
      ordered.map((label) => ({ label })),
      { title: 'Image to run in a VM', placeHolder: 'an image on this Docker host' },
    );
    if (!pick) throw new LaunchCancelled();
    return pick.label;
  }

  /** Stops on an `error` finding with its reason and fix; warnings are said, not blocking. */
  private async lintGate(source: LaunchSource): Promise<void> {
    const notes = await assertLaunchable(this.lint, source);
    if (notes.length > 0) void vscode.window.showWarningMessage(`vmrt: ${notes.map(describeFinding).join(' ')}`);
  }

  async runImage(given: Partial<LaunchAnswers> = {}): Promise<string | undefined> {
    if (!(await this.vm.ensureReady())) return undefined;
    const spec = runSpec(await this.ask('image', given, true));
    await this.lintGate({ kind: 'command', line: dockerRunLine(spec), folder: this.folder() });
    return this.start(spec);
  }

  async runDockerfile(uri?: vscode.Uri, given: Partial<LaunchAnswers> = {}): Promise<string | undefined> {
    const dockerfile =
      uri?.fsPath ?? (await this.pickFile('**/{Dockerfile,*.Dockerfile,Dockerfile.*}', 'Dockerfile to build and run in a VM'));
    if (!(await this.vm.ensureReady())) return undefined;
    await this.lintGate({ kind: 'file', path: dockerfile });
    const tag = dockerfileTag('vmrt-dev', dockerfile);
    const answers = await this.ask(`dockerfile:${dockerfile}`, { ...given, image: tag }, false);
    const spec = runSpec(answers);
    await this.lintGate({ kind: 'command', line: dockerRunLine(spec), folder: this.folder() });
    await this.build(dockerfile, tag);
    return this.start(spec);
  }

  private async pickFile(glob: string, title: string): Promise<string> {
    const files = await vscode.workspace.findFiles(glob, '**/node_modules/**', 50);
    const pick = await vscode.window.showQuickPick(
      files.map((f) => ({ label: vscode.workspace.asRelativePath(f), uri: f })),
      { title },
    );
    if (!pick) throw new LaunchCancelled();
    return pick.uri.fsPath;
  }

  /** `docker build` through the Engine API, the build's own lines as progress; cancelling ends the request. */
  async build(dockerfile: string, tag: string): Promise<void> {
    const context = dirname(dockerfile);
    const src = contextFiles(context);
    await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: `Building ${tag}`, cancellable: true },
      async (progress, token) => {
        const stream = await this.vm.docker.buildImage({ context, src }, { t: tag, dockerfile: relative(context, dockerfile) });
        token.onCancellationRequested(() => (stream as unknown as { destroy(): void }).destroy());
        await new Promise<void>((resolve, reject) => {
          this.vm.docker.modem.followProgress(
            stream,
            (error: Error | null, output: { error?: string }[]) => {
              const failure = error?.message ?? output.find((o) => o.error)?.error;
              if (token.isCancellationRequested) reject(new LaunchCancelled());
              else if (failure) reject(new Error(`build failed: ${failure}`));
              else resolve();
            },
            (event: { stream?: string; status?: string }) => {
              const line = (event.stream ?? event.status ?? '').trim();
              if (line) progress.report({ message: line.slice(0, 120) });
            },
          );
        });
      },
    );
  }

  /** Creates and starts the container in its VM; cancelling removes it. Returns its id. */
  async start(spec: RunSpec): Promise<string> {
    return vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: `Starting ${spec.image} in a VM`, cancellable: true },
      async (progress, token) => {
        progress.report({ message: 'creating' });
        const container = await this.vm.docker.createContainer(createOptions(spec));
        const cancelled = () => {
          void container.remove({ force: true }).catch(() => undefined);
        };
        const listener = token.onCancellationRequested(cancelled);
        try {
          progress.report({ message: 'booting the VM' });
          await container.start().catch(async (error: unknown) => {
            await container.remove({ force: true }).catch(() => undefined);
            throw error;
          });
          if (token.isCancellationRequested) throw new LaunchCancelled();
          return container.id;
        } finally {
          listener.dispose();
        }
      },
    );
  }

  /** The Compose CLI here: Docker's plugin (`docker compose`), else the standalone `docker-compose` (Debian 12 ships v1). */
  private async composeCommand(): Promise<string[] | undefined> {
    for (const command of [['docker', 'compose'], ['docker-compose']]) {
      const probe = await execa(command[0]!, [...command.slice(1), 'version'], { reject: false, env: this.vm.cliEnv() });
      if (probe.exitCode === 0) return command;
    }
    return undefined;
  }

  async runComposeService(uri?: vscode.Uri, service?: string): Promise<string | undefined> {
    const compose = await this.composeCommand();
    if (!compose) {
      void vscode.window.showErrorMessage(
        'vmrt: "Run Compose Service in VM" needs Docker Compose ("docker compose version" and "docker-compose version" both fail here). Install docker-compose-plugin, docker-compose-v2 or docker-compose, then try again.',
      );
      return undefined;
    }
    const [program, ...composeArgs] = compose as [string, ...string[]];
    const file = uri?.fsPath ?? (await this.pickFile('**/{compose,docker-compose}*.{yml,yaml}', 'Compose file'));
    const services = Object.keys((parseDocument(readFileSync(file, 'utf8')).toJS() as { services?: object } | null)?.services ?? {});
    const name = service ?? (await vscode.window.showQuickPick(services, { title: 'Service to run in a VM' }));
    if (!name) return undefined;
    if (!(await this.vm.ensureReady())) return undefined;
    await this.lintGate({ kind: 'file', path: file });
    // Compose picks the runtime per service from the file: an override file sets it to vmrt.
    const overrideDir = mkdtempSync(join(tmpdir(), 'vmrt-compose-'));
    const override = join(overrideDir, 'vmrt.override.yaml');
    writeFileSync(override, `services:\n  ${JSON.stringify(name)}:\n    runtime: vmrt\n`);
    const files = ['-f', file, '-f', override];
    const run = await Promise.resolve(
      vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: `docker compose up ${name} (vmrt)`, cancellable: true },
        (_progress, token) => {
          const child = execa(program, [...composeArgs, ...files, 'up', '-d', name], {
            reject: false,
            all: true,
            cwd: dirname(file),
            env: this.vm.cliEnv(),
          });
          token.onCancellationRequested(() => child.kill());
          return child;
        },
      ),
    ).finally(() => rmSync(overrideDir, { recursive: true, force: true }));
    if (run.exitCode !== 0) throw new Error(`docker compose up failed: ${(run.all ?? '').trim().split('\n').slice(-3).join(' ')}`);
    const ids = await execa(program, [...composeArgs, '-f', file, 'ps', '-q', name], {
      reject: false,
      cwd: dirname(file),
      env: this.vm.cliEnv(),
    });
    return ids.stdout.trim().split('\n')[0] || undefined;
  }
}

/** The build context's files, minus what .dockerignore excludes (and .git). */
function contextFiles(context: string): string[] {
  const rules = ignore().add('.git');
  const dockerignore = join(context, '.dockerignore');
  if (existsSync(dockerignore)) rules.add(readFileSync(dockerignore, 'utf8'));
  return (readdirSync(context, { recursive: true, withFileTypes: true }) as Dirent[])
    .filter((entry) => entry.isFile())
    .map((entry) =>
      relative(
        context,
        join(
          (entry as unknown as { parentPath?: string; path: string }).parentPath ?? (entry as unknown as { path: string }).path,
          entry.name,
        ),
      ),
    )
    .filter((path) => !rules.ignores(path));
}
