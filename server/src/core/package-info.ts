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
const manifest = JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as {
  version: string;
  repository?: string | { url?: string };
};
export const VERSION: string = manifest.version;

/**
 * Where the repository's files are published, from package.json's `repository` on GitHub
 * (`git+https://github.com/o/r.git`, `github:o/r`): `https://github.com/o/r/blob/HEAD`.
 * Undefined without one, or elsewhere (other hosts lay out their file pages differently).
 */
export const PUBLISHED_DOCS_BASE: string | undefined = publishedBase(
  typeof manifest.repository === 'string' ? manifest.repository : manifest.repository?.url,
);

function publishedBase(repository: string | undefined): string | undefined {
  if (!repository) return undefined;
  const shorthand = /^(?:github:)?([\w.-]+\/[\w.-]+)$/.exec(repository);
  const url = shorthand ? `https://github.com/${shorthand[1]}` : repository.replace(/^git\+/, '').replace(/\.git$/, '');
  return /^https:\/\/github\.com\/[\w.-]+\/[\w.-]+$/.test(url) ? `${url}/blob/HEAD` : undefined;
}

const docsUris = new Map<string, string>();

/** An absolute URI for a repository-relative docs path (SARIF helpUri must be absolute); one per docs page, kept (every diagnostic asks). */
export function docsUri(docs: string): string {
  let uri = docsUris.get(docs);
  if (uri === undefined) docsUris.set(docs, (uri = pathToFileURL(join(PACKAGE_ROOT, docs)).href));
  return uri;
}
