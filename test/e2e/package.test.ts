/** The packaged extension: bundled, carrying its runtime, and holding every file its manifest points at. */
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
  extensionKind: string[];
  contributes: {
    grammars: { path: string }[];
    yamlValidation: { url: string }[];
    viewsContainers: { activitybar: { icon: string }[] };
  };
}

test('vmrt.vsix holds the bundles, the runtime, grammars, schema, icon and docs only', () => {
  requirePrerequisites();
  // The guest kernel is the bulk (about 3.5 MB compressed of 5.3 MB).
  assert.ok(statSync(VSIX).size < 8 * 1024 * 1024, `vmrt.vsix is ${statSync(VSIX).size} bytes`);
  const listed = spawnSync(join(ROOT, 'node_modules', '.bin', 'vsce'), ['ls', '--no-dependencies'], { cwd: ROOT, encoding: 'utf8' });
  assert.equal(listed.status, 0, listed.stderr);
  const files = listed.stdout.split('\n').filter(Boolean);
  const allowed =
    /^(README\.md|package\.json|dist\/(extension|server|gdb-adapter)\.cjs|dist\/vmrt-lint\.schema\.json|syntaxes\/[\w.-]+\.tmLanguage\.json|docs\/features\/[\w-]+\.md|media\/vmrt\.svg|runtime\/build\/(cli\/main\.js|vmrt-shim|guest\/(vmlinux|initramfs\.img|kernel-release)))$/;
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
  for (const runtimeFile of [
    'runtime/build/cli/main.js',
    'runtime/build/vmrt-shim',
    'runtime/build/guest/vmlinux',
    'runtime/build/guest/initramfs.img',
  ])
    assert.ok(packaged(runtimeFile), `the runtime it carries: ${runtimeFile}`);
  assert.deepEqual(manifest.extensionKind, ['workspace'], 'runs where Docker is');
  for (const container of manifest.contributes.viewsContainers.activitybar) assert.ok(packaged(container.icon), container.icon);
});
