/**
 * The host programs tests need, found on PATH or refused loudly with the Debian package that
 * provides them. test/house/host-programs.test.ts checks that set-up installs each package named here.
 */
import { spawnSync } from 'node:child_process';
import { realpathSync } from 'node:fs';

/** The real path of `name` on PATH; throws naming `debianPackage` when it is missing. */
export function hostProgram(name: string, debianPackage: string): string {
  const found = spawnSync('sh', ['-c', 'command -v "$1"', 'sh', name], { encoding: 'utf8' }).stdout.trim();
  if (!found.startsWith('/')) throw new Error(`${name} not found on the host: apt-get install ${debianPackage}`);
  return realpathSync(found);
}
