/**
 * Docker images with the host's interpreters, from local files (there is no registry): the
 * busybox rootfs plus the host's node, python3 with debugpy (Debian's python3-debugpy), or
 * gdbserver, and the shared libraries `ldd` lists for them, imported with `docker import`.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdirSync, readdirSync, realpathSync, statSync, utimesSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { importRootfs, makeBusyboxRootfs, type DockerCli } from '../support/images.js';
import { hostProgram } from '../support/host-program.js';

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
  // Python takes a module's .pyc only while its source keeps the mtime the .pyc records.
  const { atime, mtime } = statSync(path);
  utimesSync(target, atime, mtime);
}

/** A binary at `target` in the image, with every library it and `modules` (extension .so files) need. */
function copyBinary(rootfs: string, binary: string, target: string, modules: string[] = []): void {
  for (const library of new Set([binary, ...modules].flatMap(sharedLibraries))) copyInto(rootfs, library);
  mkdirSync(dirname(join(rootfs, target)), { recursive: true });
  copyFileSync(binary, join(rootfs, target));
}

/** The image runs `cmd` by default, with the interpreter's folders on PATH. */
function importWithCmd(docker: DockerCli, rootfs: string, tag: string, cmd: string): string {
  return importRootfs(docker, rootfs, tag, [`CMD ["${cmd}"]`, 'ENV PATH=/usr/local/bin:/usr/bin:/bin:/sbin']);
}

export function importNodeImage(docker: DockerCli, workDir: string, tag: string): string {
  const rootfs = makeBusyboxRootfs(join(workDir, 'node-rootfs'));
  copyBinary(rootfs, hostProgram('node', 'nodejs'), '/usr/bin/node');
  return importWithCmd(docker, rootfs, tag, 'node');
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .map((name) => join(dir, name))
    .filter((path) => statSync(path).isFile());
}

/** The installed python3-* packages `name` needs, itself included (their Depends, followed). */
function pythonPackages(name: string, seen = new Set<string>()): Set<string> {
  if (seen.has(name)) return seen;
  const depends = spawnSync('dpkg-query', ['-W', '-f=${Status}|${Depends}', name], { encoding: 'utf8' });
  if (depends.status !== 0 || !depends.stdout.startsWith('install ok installed')) return seen;
  seen.add(name);
  for (const alternative of depends.stdout.split('|').slice(1).join('|').split(/[,|]/)) {
    const dependency = alternative.trim().split(/[\s:]/)[0]!;
    if (dependency.startsWith('python3-')) pythonPackages(dependency, seen);
  }
  return seen;
}

/** python3 with its standard library (no tests) and Debian's debugpy with the pydevd it uses. */
export function importPythonImage(docker: DockerCli, workDir: string, tag: string): string {
  // Debian's python3 (the one python3-debugpy installs for), not another one earlier on PATH.
  const python = realpathSync('/usr/bin/python3');
  const stdlib = `/usr/lib/${python.split('/').pop()}`;
  const debugFiles = execFileSync('dpkg', ['-L', ...pythonPackages('python3-debugpy')], { encoding: 'utf8' })
    .split('\n')
    .filter((path) => path.startsWith('/usr/lib/python3/') && statSync(path, { throwIfNoEntry: false })?.isFile());
  if (!debugFiles.some((path) => path.endsWith('/debugpy/__main__.py')))
    throw new Error('debugpy not found on the host: apt-get install python3-debugpy');
  const rootfs = makeBusyboxRootfs(join(workDir, 'python-rootfs'));
  // With the compiled modules Debian made at install, as a Python image has them: else the VM
  // compiles the standard library and pydevd at every start, under TCG longer than the launch waits.
  cpSync(stdlib, join(rootfs, stdlib), {
    recursive: true,
    preserveTimestamps: true,
    filter: (source) => !/\/(test|tests|idlelib|tkinter|turtledemo|ensurepip)$/.test(source),
  });
  const cacheTag = basename(python).replace('python', 'cpython-').replace('.', ''); // cpython-311
  for (const path of debugFiles) {
    copyInto(rootfs, path);
    const compiled = join(dirname(path), '__pycache__', `${basename(path, '.py')}.${cacheTag}.pyc`);
    if (path.endsWith('.py') && existsSync(compiled)) copyInto(rootfs, compiled);
  }
  const modules = [...filesUnder(join(stdlib, 'lib-dynload')), ...debugFiles].filter((path) => path.endsWith('.so'));
  copyBinary(rootfs, python, '/usr/bin/python3', modules);
  return importWithCmd(docker, rootfs, tag, 'python3');
}

export function importGdbserverImage(docker: DockerCli, workDir: string, tag: string): string {
  const rootfs = makeBusyboxRootfs(join(workDir, 'gdbserver-rootfs'));
  copyBinary(rootfs, hostProgram('gdbserver', 'gdbserver'), '/usr/bin/gdbserver');
  return importWithCmd(docker, rootfs, tag, 'sh');
}

/** The Node program the debug cases stop in: line 4 (`return sum`) holds the breakpoint. */
export const NODE_PROGRAM = `'use strict';
function add(a, b) {
  const sum = a + b;
  return sum;
}
console.log('result', add(20, 22));
setInterval(() => undefined, 1000);
`;
