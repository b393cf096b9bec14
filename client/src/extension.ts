/**
 * The vmrt extension: starts the vmrt language server (bundled beside this file) over
 * node IPC, and adds the profile status-bar item and the "Lint Workspace" command; the VM
 * runtime's parts (explorer, launch, debugging) come from containers/runtime.ts.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { LanguageClient, TransportKind, type LanguageClientOptions, type ServerOptions } from 'vscode-languageclient/node';
import {
  LINT_LAUNCH,
  LINT_WORKSPACE_GLOB,
  type InitializationOptions,
  type LaunchSource,
  type LintLaunchResult,
} from '../../server/src/lsp/protocol.js';
import { syntaxOwners } from './coexistence.js';
import { lintWorkspace } from './lint-workspace.js';
import { ProfileStatus } from './profile-status.js';
import { registerVmRuntime, type VmRuntimeApi } from './containers/runtime.js';

/** Languages whose files the engine may read; the server decides per file by name and content. */
const LANGUAGES = ['dockerfile', 'dockercompose', 'yaml', 'json', 'jsonc', 'shellscript', 'makefile', 'markdown'];

let client: LanguageClient | undefined;

export function activate(context: vscode.ExtensionContext): VmRuntimeApi {
  const serverModule = context.asAbsolutePath(path.join('dist', 'server.cjs'));
  const serverOptions: ServerOptions = {
    run: { module: serverModule, transport: TransportKind.ipc },
    debug: { module: serverModule, transport: TransportKind.ipc, options: { execArgv: ['--nolazy', '--inspect=6019'] } },
  };
  const initializationOptions: InitializationOptions = { syntaxDiagnosticsElsewhere: syntaxOwners() };
  const clientOptions: LanguageClientOptions = {
    documentSelector: [
      ...LANGUAGES.flatMap((language) => [
        { scheme: 'file', language },
        { scheme: 'untitled', language },
      ]),
      { scheme: 'file', pattern: '**/.vmrt-lint.{yaml,yml}' },
    ],
    synchronize: {
      configurationSection: 'vmrt',
      // Config files and compose dependencies (.env, extends, include) re-lint the files that use them.
      fileEvents: vscode.workspace.createFileSystemWatcher('**/{.vmrt-lint.yaml,.vmrt-lint.yml,.env,*.env,*.yml,*.yaml}'),
    },
    initializationOptions,
    diagnosticCollectionName: 'vmrt',
  };
  client = new LanguageClient('vmrt', 'vmrt language server', serverOptions, clientOptions);
  const profile = new ProfileStatus(client);
  context.subscriptions.push(
    profile,
    vscode.commands.registerCommand('vmrt.selectProfile', () => profile.pick()),
    vscode.commands.registerCommand('vmrt.lintWorkspace', () => lintWorkspace(client!, LINT_WORKSPACE_GLOB)),
  );
  // Activation does not wait for the server: it starts in its own process and reports when ready.
  const started = client.start();
  started.then(
    () => profile.render(),
    (error: unknown) => client?.error('vmrt: the language server did not start', error, 'force'),
  );
  // Launches are linted by the language server (the engine runs there only).
  const lintLaunch = async (source: LaunchSource) => {
    await started;
    return (await client!.sendRequest<LintLaunchResult>(LINT_LAUNCH, source)).findings;
  };
  return registerVmRuntime(context, lintLaunch);
}

export async function deactivate(): Promise<void> {
  await client?.stop();
  client = undefined;
}
