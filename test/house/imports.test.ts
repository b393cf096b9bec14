/**
 * The seams of docs/architecture.md, enforced: every import of every TypeScript file under
 * server/src, client/src and runtime/src is read (TypeScript's own pre-processor, so type-only
 * imports, re-exports and dynamic imports count) and checked against who may import whom.
 * A violation fails here with the importing file and the import.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** What the extension may import from server/: the protocol, and pure helpers that import nothing themselves. */
const CLIENT_MAY_IMPORT = new Set(['server/src/lsp/protocol.ts', 'server/src/frontends/command/shell-words.ts']);
/**
 * What the linter may import from runtime/: the capability table, and how a config.json's
 * settings are read as features (one detection for the linter and the runtime's `create`).
 */
const SERVER_MAY_IMPORT = new Set(['runtime/src/capabilities.ts', 'runtime/src/oci-detection.ts']);
/** The layers above the vocabulary (server/src/core), which it must not know. */
const ABOVE_CORE = ['engine', 'frontends', 'rules', 'profiles', 'lsp', 'cli'].map((layer) => `server/src/${layer}/`);

interface Import {
  from: string;
  to: string;
}

/** Every relative import of the tracked .ts files in `places` (folders or files), as repository paths. */
function imports(...places: string[]): Import[] {
  const specs = places.map((place) => (place.endsWith('.ts') ? place : `${place}/*.ts`));
  const out = spawnSync('git', ['ls-files', '--', ...specs], { cwd: ROOT, encoding: 'utf8' });
  assert.equal(out.status, 0, out.stderr);
  return out.stdout
    .split('\n')
    .filter(Boolean)
    .flatMap((from) =>
      ts
        .preProcessFile(readFileSync(join(ROOT, from), 'utf8'), true, true)
        .importedFiles.map((file) => file.fileName)
        .filter((specifier) => specifier.startsWith('.'))
        .map((specifier) => ({ from, to: relative(ROOT, join(ROOT, dirname(from), specifier)).replace(/\.js$/, '.ts') })),
    );
}

const shown = (list: readonly Import[]) => list.map((i) => `${i.from} imports ${i.to}`);

test('the client imports of server/ only the protocol module and pure helpers, and nothing of runtime/', () => {
  const all = imports('client/src');
  assert.ok(all.length > 30, `only ${all.length} imports found`);
  const bad = all.filter((i) => (i.to.startsWith('server/') && !CLIENT_MAY_IMPORT.has(i.to)) || i.to.startsWith('runtime/'));
  assert.deepEqual(shown(bad), []);
  // What the client may import is shared as source: it must not pull anything else in.
  assert.deepEqual(shown(imports(...CLIENT_MAY_IMPORT)), []);
});

test('server/ imports of runtime/ only the capability table and the OCI detection', () => {
  const bad = imports('server/src').filter((i) => i.to.startsWith('runtime/') && !SERVER_MAY_IMPORT.has(i.to));
  assert.deepEqual(shown(bad), []);
  // Shared with the runtime as source: they must not pull the rest of it in.
  assert.deepEqual(shown(imports(...SERVER_MAY_IMPORT).filter((i) => !SERVER_MAY_IMPORT.has(i.to))), []);
});

test('runtime/ imports nothing of server/ or client/', () => {
  const bad = imports('runtime/src').filter((i) => i.to.startsWith('server/') || i.to.startsWith('client/'));
  assert.deepEqual(shown(bad), []);
});

test('the vocabulary (server/src/core) imports nothing above it', () => {
  const bad = imports('server/src/core').filter((i) => ABOVE_CORE.some((layer) => i.to.startsWith(layer)));
  assert.deepEqual(shown(bad), []);
});
