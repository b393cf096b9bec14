/**
 * Runs inside code-server's extension host (bundled to CommonJS by
 * scripts/build-extension.mjs) with the real `vscode` API. Each case logs one line with
 * the `vmrt-e2e` tag that the driver (extension-host.test.ts) reads from the browser console.
 */
import assert from 'node:assert/strict';
import * as vscode from 'vscode';

const EXTENSION_ID = 'vmrt.vmrt';

function log(line: string): void {
  console.log(`vmrt-e2e: ${line}`);
}

const workspaceUri = (path: string) => vscode.Uri.joinPath(vscode.workspace.workspaceFolders![0]!.uri, path);

function vmrtDiagnostics(uri: vscode.Uri): string[] {
  return vscode.languages
    .getDiagnostics(uri)
    .filter((d) => d.source === 'vmrt')
    .map((d) => {
      const code = typeof d.code === 'object' ? d.code.value : d.code;
      return `${d.range.start.line}:${d.range.start.character}-${d.range.end.line}:${d.range.end.character} ${String(code)}`;
    });
}

/** Polls the Problems data until `expected` shows up (diagnostics arrive asynchronously). */
async function diagnosticsBecome(uri: vscode.Uri, expected: string[], timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (JSON.stringify(vmrtDiagnostics(uri)) === JSON.stringify(expected)) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  assert.deepEqual(vmrtDiagnostics(uri), expected, `diagnostics of ${uri.path}`);
}

async function setProfile(profile: string): Promise<void> {
  await vscode.workspace.getConfiguration('vmrt.lint').update('profile', profile, vscode.ConfigurationTarget.Workspace);
}

const compose = () => workspaceUri('compose.yaml');
const COMPOSE_FINDINGS = ['3:4-3:16 host-network-mode', '6:4-6:8 gpu-request'];

const cases: [string, () => Promise<void>][] = [
  [
    'the extension activates',
    async () => {
      const extension = vscode.extensions.getExtension(EXTENSION_ID);
      assert.ok(extension, 'vmrt.vmrt is installed');
      await extension.activate();
      assert.equal(extension.isActive, true);
    },
  ],
  [
    'a compose file with network_mode: host gets diagnostics with the rule id and docs link',
    async () => {
      await vscode.window.showTextDocument(await vscode.workspace.openTextDocument(compose()));
      await diagnosticsBecome(compose(), COMPOSE_FINDINGS);
      const host = vscode.languages.getDiagnostics(compose()).find((d) => d.source === 'vmrt')!;
      assert.equal(host.severity, vscode.DiagnosticSeverity.Error);
      const code = host.code as { value: string; target: vscode.Uri };
      assert.equal(code.value, 'host-network-mode');
      assert.match(code.target.path, /\/docs\/features\/host-network\.md$/);
      // One sentence: the reason and the workaround are in the hover (the next case).
      assert.equal(host.message, 'The host network mode is not supported by vmrt.');
    },
  ],
  [
    'the hover explains why a VM differs',
    async () => {
      const hovers = await vscode.commands.executeCommand<vscode.Hover[]>(
        'vscode.executeHoverProvider',
        compose(),
        new vscode.Position(3, 8),
      );
      const text = hovers.flatMap((h) => h.contents.map((c) => (typeof c === 'string' ? c : c.value))).join('\n');
      assert.match(text, /\*\*Why a VM differs:\*\* the container runs in its own VM/);
      assert.match(text, /\| \*\*vmrt\*\* \(active\) \| unsupported \|/);
    },
  ],
  [
    'switching the profile changes the findings',
    async () => {
      await setProfile('kata');
      await diagnosticsBecome(compose(), ['3:4-3:16 host-network-mode', '6:4-6:8 gpu-request']);
      await setProfile('runc');
      await diagnosticsBecome(compose(), []);
      // The status-bar command: its quick pick lists vmrt, clear-containers, kata, runc; pick the first.
      const picked = vscode.commands.executeCommand('vmrt.selectProfile');
      await new Promise((resolve) => setTimeout(resolve, 1000));
      await vscode.commands.executeCommand('workbench.action.acceptSelectedQuickOpenItem');
      await picked;
      assert.equal(vscode.workspace.getConfiguration('vmrt.lint').get('profile'), 'vmrt');
      await diagnosticsBecome(compose(), COMPOSE_FINDINGS);
    },
  ],
  [
    'the quick fix removes the finding',
    async () => {
      const range = new vscode.Range(3, 4, 3, 16);
      const actions = await vscode.commands.executeCommand<vscode.CodeAction[]>('vscode.executeCodeActionProvider', compose(), range);
      const fix = actions.find((a) => a.isPreferred);
      assert.equal(fix?.title, 'Remove the host network mode (publish the ports you need instead)');
      assert.ok(await vscode.workspace.applyEdit(fix!.edit!));
      await diagnosticsBecome(compose(), ['5:4-5:8 gpu-request']);
      const text = (await vscode.workspace.openTextDocument(compose())).getText();
      assert.equal(text.includes('network_mode'), false);
    },
  ],
  [
    'Lint Workspace fills Problems for files that are not open',
    async () => {
      const script = workspaceUri('scripts/dev.sh');
      const dockerfile = workspaceUri('app/Dockerfile');
      assert.deepEqual(vmrtDiagnostics(script), []);
      const result = await vscode.commands.executeCommand<{ files: number; findings: number }>('vmrt.lintWorkspace');
      assert.deepEqual(result, { files: 3, findings: 3 });
      await diagnosticsBecome(script, ['2:16-2:26 host-pid-namespace']);
      await diagnosticsBecome(dockerfile, ['1:4-1:18 host-network-mode']);
    },
  ],
  [
    '"ignore here" inserts a pragma that silences the finding; pragma ids complete',
    async () => {
      const script = workspaceUri('scripts/dev.sh');
      const editor = await vscode.window.showTextDocument(await vscode.workspace.openTextDocument(script));
      await diagnosticsBecome(script, ['2:16-2:26 host-pid-namespace']);
      const actions = await vscode.commands.executeCommand<vscode.CodeAction[]>(
        'vscode.executeCodeActionProvider',
        script,
        new vscode.Range(2, 16, 2, 26),
      );
      const ignore = actions.find((a) => a.title === 'Ignore host-pid here (vmrt-ignore)');
      assert.ok(ignore?.edit, actions.map((a) => a.title).join(', '));
      assert.ok(await vscode.workspace.applyEdit(ignore.edit));
      assert.equal(editor.document.lineAt(2).text, '# vmrt-ignore host-pid -- reason');
      await diagnosticsBecome(script, []);
      const list = await vscode.commands.executeCommand<vscode.CompletionList>(
        'vscode.executeCompletionItemProvider',
        script,
        new vscode.Position(2, 19),
      );
      const labels = list.items.map((item) => (typeof item.label === 'string' ? item.label : item.label.label));
      assert.ok(labels.includes('host-pid') && labels.includes('host-pid-namespace'), labels.slice(0, 10).join(', '));
      await vscode.commands.executeCommand('workbench.action.files.revert');
    },
  ],
];

export async function run(): Promise<void> {
  let failed = 0;
  for (const [name, body] of cases) {
    try {
      await body();
      log(`ok ${name}`);
    } catch (error) {
      failed++;
      log(`not ok ${name}: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    }
  }
  log(`${failed === 0 ? 'passed' : 'failed'}: ${cases.length - failed} passed, ${failed} failed`);
  if (failed > 0) throw new Error(`${failed} extension-host case(s) failed`);
}
