/**
 * "vmrt: Lint Workspace": asks the server to lint every candidate file on disk, in
 * batches, so the Problems panel fills for files that are not open, with progress.
 */
import * as vscode from 'vscode';
import type { LanguageClient } from 'vscode-languageclient/node';
import { LINT_FILES, type LintFilesParams, type LintFilesResult } from '../../server/src/lsp/protocol.js';

const BATCH = 25;
const EXCLUDE = '**/{node_modules,.git,out,dist}/**';

export async function lintWorkspace(client: LanguageClient, include: string): Promise<LintFilesResult> {
  return vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: 'vmrt: linting the workspace', cancellable: true },
    async (progress, token) => {
      const files = await vscode.workspace.findFiles(include, EXCLUDE, undefined, token);
      const total: LintFilesResult = { files: 0, findings: 0 };
      for (let i = 0; i < files.length && !token.isCancellationRequested; i += BATCH) {
        const batch = files.slice(i, i + BATCH);
        const result = await client.sendRequest<LintFilesResult>(
          LINT_FILES,
          { uris: batch.map((uri) => uri.toString()) } satisfies LintFilesParams,
          token,
        );
        total.files += result.files;
        total.findings += result.findings;
        progress.report({
          increment: (100 * batch.length) / files.length,
          message: `${Math.min(i + BATCH, files.length)}/${files.length} files`,
        });
      }
      void vscode.window.setStatusBarMessage(`vmrt: ${total.findings} finding(s) in ${total.files} file(s)`, 5000);
      return total;
    },
  );
}
