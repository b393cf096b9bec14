/** The packaged extension: small, bundled, and holding every file its manifest points at. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { requirePrerequisites, ROOT, VSIX } from './code-server.js';

interface Manifest {
  main: string;
  browser?: string;
  engines: { vscode: string };
  activationEvents: string[];
  contributes: { grammars: { path: string }[]; yamlValidation: { url: string }[] };
}

test('vmrt.vsix is small and holds the bundles, grammars, schema and docs only', () => {
  requirePrerequisites();
  assert.ok(statSync(VSIX).size < 1024 * 1024, `vmrt.vsix is ${statSync(VSIX).size} bytes`);
  const listed = spawnSync(join(ROOT, 'node_modules', '.bin', 'vsce'), ['ls', '--no-dependencies'], { cwd: ROOT, encoding: 'utf8' });
  assert.equal(listed.status, 0, listed.stderr);
  const files = listed.stdout.split('\n').filter(Boolean);
  const allowed =
    /^(README\.md|package\.json|dist\/(extension|server|gdb-adapter)\.cjs|dist\/vmrt-lint\.schema\.json|syntaxes\/[\w.-]+\.tmLanguage\.json|docs\/features\/[\w-]+\.md)$/;
  assert.deepEqual(
    files.filter((f) => !allowed.test(f)),
    [],
    'nothing else (no sources, no node_modules, no tests)',
  );

  const manifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as Manifest;
  const packaged = (path: string) => files.includes(path.replace(/^\.\//, ''));
  assert.equal(manifest.browser, undefined, 'a Node extension only');
  assert.equal(manifest.engines.vscode, '^1.91.0');
  assert.ok(packaged(manifest.main), manifest.main);
  for (const grammar of manifest.contributes.grammars) assert.ok(packaged(grammar.path), grammar.path);
  for (const schema of manifest.contributes.yamlValidation) assert.ok(packaged(schema.url), schema.url);
  assert.ok(packaged('dist/server.cjs'));
  assert.ok(packaged('dist/gdb-adapter.cjs'), 'the GDB adapter the native debug sessions run');
  assert.ok(packaged('docs/features/host-network.md'));
  assert.ok(!manifest.activationEvents.includes('*'), 'no activation at start-up');
});
