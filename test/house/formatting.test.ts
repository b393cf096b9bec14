/**
 * Formatting is pinned: Prettier (its exact version in package.json, settings in .prettierrc.json)
 * for TypeScript and JavaScript, clang-format (Debian's, settings in .clang-format) for the C
 * agent, shim and common code. A file that either would change fails here, named.
 */
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

function trackedFiles(...patterns: string[]): string[] {
  const out = spawnSync('git', ['ls-files', '--', ...patterns], { cwd: ROOT, encoding: 'utf8' });
  assert.equal(out.status, 0, out.stderr);
  return out.stdout.split('\n').filter(Boolean);
}

test('every TypeScript and JavaScript file is as Prettier writes it', () => {
  const files = trackedFiles('*.ts', '*.mjs');
  assert.ok(files.length > 100, `only ${files.length} files found`);
  const run = spawnSync(`${ROOT}node_modules/.bin/prettier`, ['--list-different', ...files], { cwd: ROOT, encoding: 'utf8' });
  assert.equal(run.error, undefined, `prettier did not run: ${run.error}`);
  assert.equal(run.stdout.trim(), '', `not formatted (npx prettier --write FILE):\n${run.stdout}${run.stderr}`);
  assert.equal(run.status, 0, run.stderr);
});

test('every C file is as clang-format writes it', () => {
  const files = trackedFiles('*.c', '*.h');
  assert.ok(files.length > 20, `only ${files.length} files found`);
  const run = spawnSync('clang-format', ['--dry-run', '--Werror', ...files], { cwd: ROOT, encoding: 'utf8' });
  assert.equal(run.error, undefined, `clang-format did not run (apt-get install clang-format): ${run.error}`);
  const unformatted = [...new Set([...run.stderr.matchAll(/^(\S+?):\d+:\d+: error/gm)].map((m) => m[1]))];
  assert.deepEqual(unformatted, [], `not formatted (clang-format -i FILE):\n${run.stderr.slice(0, 2000)}`);
  assert.equal(run.status, 0, run.stderr);
});
