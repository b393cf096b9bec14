/**
 * A Docker image with node, from local files (there is no registry): the busybox rootfs plus the
 * host's node binary and the shared libraries `ldd` lists for it, imported with `docker import`.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { makeBusyboxRootfs } from '../support/images.js';

/** The absolute paths of the libraries (and the loader) a binary links against. */
export function sharedLibraries(binary: string): string[] {
  const out = execFileSync('ldd', [binary], { encoding: 'utf8' });
  return out.split('\n').flatMap((line) => {
    const path = /(?:=>\s*)?(\/\S+)\s+\(0x/.exec(line)?.[1];
    return path ? [path] : [];
  });
}

function copyInto(rootfs: string, path: string): void {
  const target = join(rootfs, path);
  mkdirSync(dirname(target), { recursive: true });
  copyFileSync(path, target);
}

export function importNodeImage(docker: (args: string[], input?: Buffer) => string, workDir: string, tag: string): string {
  const node = execFileSync('sh', ['-c', 'readlink -f "$(command -v node)"'], { encoding: 'utf8' }).trim();
  if (!node) throw new Error('node not found on the host');
  const rootfs = makeBusyboxRootfs(join(workDir, 'node-rootfs'));
  for (const library of sharedLibraries(node)) copyInto(rootfs, library);
  mkdirSync(join(rootfs, 'usr', 'bin'), { recursive: true });
  copyFileSync(node, join(rootfs, 'usr', 'bin', 'node'));
  const tarball = execFileSync('tar', ['-C', rootfs, '-c', '.'], { maxBuffer: 512 * 1024 * 1024 });
  docker(['import', '--change', 'CMD ["node"]', '--change', 'ENV PATH=/usr/local/bin:/usr/bin:/bin:/sbin', '-', tag], tarball);
  return tag;
}
