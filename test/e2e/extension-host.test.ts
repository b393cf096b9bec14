/**
 * Extension-host tests: the suite in extension-host/suite.ts runs inside a real VS Code's extension
 * host, through @vscode/test-electron's runTests: code-server with the packaged vmrt.vsix here,
 * desktop VS Code with `npm run test:e2e -- --desktop`.
 */
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { requirePrerequisites, runSuite, SUITE, WORKSPACE_FIXTURE } from './code-server.js';

test('the extension-host suite passes in a real VS Code with the packaged extension', { timeout: 300_000 }, async () => {
  requirePrerequisites();
  const workspace = mkdtempSync(join(tmpdir(), 'vmrt-e2e-workspace-'));
  try {
    cpSync(WORKSPACE_FIXTURE, workspace, { recursive: true });
    await runSuite(SUITE, workspace);
  } finally {
    rmSync(workspace, { recursive: true, force: true });
  }
});
