/**
 * Container images and bundles from local files (there is no registry here): a busybox-static
 * root filesystem made by scripts/make-busybox-rootfs.sh, as an OCI bundle or a Docker image.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defaultConfig } from '../../runtime/src/commands/spec.js';
import type { Config } from '../../runtime/src/spec.js';

/** The repository root (this file runs as out/test/support/images.js). */
export const REPO = resolve(fileURLToPath(import.meta.url), '..', '..', '..', '..');

export function makeBusyboxRootfs(dir: string): string {
  if (!existsSync('/bin/busybox')) throw new Error('/bin/busybox missing: apt-get install busybox-static');
  execFileSync('bash', [join(REPO, 'scripts', 'make-busybox-rootfs.sh'), dir], { stdio: 'pipe' });
  return dir;
}

/** A bundle in `dir` running `args` in busybox, without a terminal; `edit` adjusts the config. */
export function makeBusyboxBundle(dir: string, args: string[], edit: (config: Config) => void = () => undefined): string {
  mkdirSync(dir, { recursive: true });
  makeBusyboxRootfs(join(dir, 'rootfs'));
  const config = defaultConfig();
  config.process!.terminal = false;
  config.process!.args = args;
  edit(config);
  writeFileSync(join(dir, 'config.json'), JSON.stringify(config, null, 2));
  return dir;
}

export type DockerCli = (args: string[], input?: Buffer) => string;

/** Imports the folder `rootfs` as a Docker image `tag` (`docker import` of a tarball), with Dockerfile `changes`. */
export function importRootfs(docker: DockerCli, rootfs: string, tag: string, changes: string[]): string {
  const tarball = execFileSync('tar', ['-C', rootfs, '-c', '.'], { maxBuffer: 1024 * 1024 * 1024 });
  docker(['import', ...changes.flatMap((change) => ['--change', change]), '-', tag], tarball);
  return tag;
}

/** Imports the busybox rootfs as a Docker image `tag`. */
export function importBusyboxImage(docker: DockerCli, workDir: string, tag: string): string {
  return importRootfs(docker, makeBusyboxRootfs(join(workDir, 'image-rootfs')), tag, ['CMD ["sh"]']);
}

const sha256 = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');

/**
 * The busybox rootfs as a one-layer image archive in `docker save`'s format, named `tag` and
 * running `cmd`: what `ctr images import` reads, for a containerd with no registry. Returns the
 * archive's path (in `workDir`).
 */
export function busyboxImageArchive(workDir: string, tag: string, cmd: string[]): string {
  const layer = execFileSync('tar', ['-C', makeBusyboxRootfs(join(workDir, 'image-rootfs')), '-c', '.'], {
    maxBuffer: 1024 * 1024 * 1024,
  });
  const diffId = sha256(layer);
  const config = JSON.stringify({
    architecture: process.arch === 'arm64' ? 'arm64' : 'amd64',
    os: 'linux',
    config: { Cmd: cmd, Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'] },
    rootfs: { type: 'layers', diff_ids: [`sha256:${diffId}`] },
  });
  const archiveDir = join(workDir, 'image-archive');
  mkdirSync(join(archiveDir, diffId), { recursive: true });
  writeFileSync(join(archiveDir, diffId, 'layer.tar'), layer);
  const configFile = `${sha256(config)}.json`;
  writeFileSync(join(archiveDir, configFile), config);
  writeFileSync(
    join(archiveDir, 'manifest.json'),
    JSON.stringify([{ Config: configFile, RepoTags: [tag], Layers: [`${diffId}/layer.tar`] }]),
  );
  const archive = join(workDir, 'image.tar');
  execFileSync('tar', ['-C', archiveDir, '-cf', archive, '.']);
  return archive;
}
