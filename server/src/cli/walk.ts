/**
 * Walks folders for files to lint, as git would list them: .gitignore files of the
 * folder and of its parents up to the repository root apply, node_modules and .git
 * are always skipped.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import ignore, { type Ignore } from 'ignore';

const ALWAYS_SKIPPED = new Set(['node_modules', '.git']);

interface IgnoreScope {
  dir: string;
  rules: Ignore;
}

function scopeOf(dir: string): IgnoreScope | undefined {
  const file = join(dir, '.gitignore');
  if (!existsSync(file)) return undefined;
  try {
    return { dir, rules: ignore().add(readFileSync(file, 'utf8')) };
  } catch {
    return undefined;
  }
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

/** Every file under `root` that git would not ignore, sorted for stable output. */
export function walkFiles(root: string): string[] {
  const start = resolve(root);
  const files: string[] = [];
  const visit = (dir: string, scopes: readonly IgnoreScope[]) => {
    const own = scopeOf(dir);
    const active = own ? [...scopes, own] : scopes;
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      if (ALWAYS_SKIPPED.has(entry.name)) continue;
      const path = join(dir, entry.name);
      const isDir = entry.isDirectory();
      if (ignored(active, path, isDir)) continue;
      if (isDir) visit(path, active);
      else if (entry.isFile()) files.push(path);
    }
  };
  visit(start, parentScopes(start));
  return files;
}
