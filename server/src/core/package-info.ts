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

const docsUris = new Map<string, string>();

/** An absolute URI for a repository-relative docs path (SARIF helpUri must be absolute); one per docs page, kept (every diagnostic asks). */
export function docsUri(docs: string): string {
  let uri = docsUris.get(docs);
  if (uri === undefined) docsUris.set(docs, (uri = pathToFileURL(join(PACKAGE_ROOT, docs)).href));
  return uri;
}
