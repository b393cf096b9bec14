/**
 * Walks folders for files to lint, as git would list them: .gitignore files of the
 * folder and of its parents up to the repository root apply, node_modules and .git
 * are always skipped.
 */
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import ignore, { type Ignore } from 'ignore';
import { readSource } from '../core/read.js';

const ALWAYS_SKIPPED = new Set(['node_modules', '.git']);

interface IgnoreScope {
  dir: string;
  rules: Ignore;
}

/** The folder's .gitignore; one that cannot be read (a FIFO, a device, too large) ignores nothing. */
function scopeOf(dir: string): IgnoreScope | undefined {
  const file = join(dir, '.gitignore');
  if (!existsSync(file)) return undefined;
  const read = readSource(file);
  return 'text' in read ? { dir, rules: ignore().add(read.text) } : undefined;
}

/** .gitignore scopes of the folders above `root`, up to the one that holds `.git`. */
function parentScopes(root: string): IgnoreScope[] {
  const scopes: IgnoreScope[] = [];
  if (existsSync(join(root, '.git'))) return scopes;
  for (let dir = dirname(root); ; dir = dirname(dir)) {
    const scope = scopeOf(dir);
    if (scope) scopes.unshift(scope);
    if (existsSync(join(dir, '.git')) || dirname(dir) === dir) return scopes;
  }
}

function ignored(scopes: readonly IgnoreScope[], path: string, isDir: boolean): boolean {
  return scopes.some((scope) => {
    const rel = relative(scope.dir, path).split(sep).join('/');
    return rel !== '' && !rel.startsWith('..') && scope.rules.ignores(isDir ? `${rel}/` : rel);
  });
}

/** Why a walk left a path out (for `--verbose`). */
export type SkipListener = (path: string, reason: string) => void;

/** Every regular file under `root` that git would not ignore, sorted for stable output. */
export function walkFiles(root: string, skipped: SkipListener = () => undefined): string[] {
  const start = resolve(root);
  const files: string[] = [];
  const visit = (dir: string, scopes: readonly IgnoreScope[]) => {
    const own = scopeOf(dir);
    const active = own ? [...scopes, own] : scopes;
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch (error) {
      skipped(dir, `cannot read the folder: ${(error as Error).message}`);
      return;
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      const path = join(dir, entry.name);
      if (ALWAYS_SKIPPED.has(entry.name)) {
        skipped(path, `${entry.name} is always skipped`);
        continue;
      }
      const isDir = entry.isDirectory();
      if (ignored(active, path, isDir)) skipped(path, 'ignored by .gitignore');
      else if (isDir) visit(path, active);
      else if (entry.isFile()) files.push(path);
      // FIFOs, sockets and devices would block or never end; symbolic links are not followed.
      else skipped(path, entry.isSymbolicLink() ? 'a symbolic link (not followed)' : 'not a regular file');
    }
  };
  visit(start, parentScopes(start));
  return files;
}
