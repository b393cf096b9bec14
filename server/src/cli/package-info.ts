/** The package's root folder and version, found from this module's location (source or out/). */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

function findRoot(): string {
  for (let dir = dirname(fileURLToPath(import.meta.url)); ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'docs'))) return dir;
    if (dirname(dir) === dir) throw new Error('vmrt-lint: cannot find its package.json');
  }
}

export const PACKAGE_ROOT = findRoot();
export const VERSION: string = (JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version: string }).version;

/** An absolute URI for a repository-relative docs path (SARIF helpUri must be absolute). */
export function docsUri(docs: string): string {
  return pathToFileURL(join(PACKAGE_ROOT, docs)).href;
}
