/**
 * The runtime this extension carries (scripts/build-extension.mjs bundles the CLI to
 * runtime/build/cli/main.js beside the shim and the guest files), and the stable launcher
 * Docker runs it by: a script under the user's data folder, rewritten on every start so it
 * follows the extension across updates (the versioned extension folder never reaches daemon.json).
 * Pure logic and files, no vscode import.
 */
import { chmodSync, existsSync, mkdirSync, openSync, readFileSync, readSync, closeSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

export interface BundledRuntime {
  /** The bundled CLI, an ES module run by Node. */
  cli: string;
  /** The static shim: its ELF header says which machine the runtime was built for. */
  shim: string;
}

export function bundledRuntime(extensionPath: string): BundledRuntime | undefined {
  const cli = join(extensionPath, 'runtime', 'build', 'cli', 'main.js');
  return existsSync(cli) ? { cli, shim: join(extensionPath, 'runtime', 'build', 'vmrt-shim') } : undefined;
}

/** Where the launcher lives: the same path for every version of the extension. */
export function stableLauncherPath(env: Readonly<Record<string, string | undefined>> = process.env): string {
  const data = env.XDG_DATA_HOME || join(env.HOME ?? '/root', '.local', 'share');
  return join(data, 'vmrt', 'bin', 'vmrt');
}

/**
 * The launcher: the Node that runs the editor's extensions (VS Code's, which needs
 * ELECTRON_RUN_AS_NODE in the desktop), else the system's where an update removed that one.
 * Docker runs runtimes with a reduced PATH: every program is named by its absolute path. The
 * bundled shim's `cli` hands the short calls to the root's CLI server (README: The CLI server).
 */
export function launcherScript(node: string, runtime: BundledRuntime): string {
  return [
    '#!/bin/sh',
    '# Written by the vmrt extension on each start; Docker runs this path.',
    `node=${shellQuote(node)}`,
    '[ -x "$node" ] || node=$(command -v node) || { echo "vmrt: no Node.js found" >&2; exit 127; }',
    'export ELECTRON_RUN_AS_NODE=1',
    `[ -x ${shellQuote(runtime.shim)} ] && exec ${shellQuote(runtime.shim)} cli "$node" ${shellQuote(runtime.cli)} "$@"`,
    `exec "$node" ${shellQuote(runtime.cli)} "$@"`,
    '',
  ].join('\n');
}

export function shellQuote(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/** Writes the launcher when its text changed (atomically: dockerd may run it at any moment). */
export function writeLauncher(path: string, text: string): void {
  if (existsSync(path) && readFileSync(path, 'utf8') === text) return;
  mkdirSync(dirname(path), { recursive: true });
  const temp = `${path}.${process.pid}`;
  writeFileSync(temp, text);
  chmodSync(temp, 0o755);
  renameSync(temp, path);
}

/** ELF e_machine values of the architectures a VSIX can carry, by Node's process.arch. */
const ELF_MACHINES: Record<number, string> = { 0x3e: 'x64', 0xb7: 'arm64' };

/** The architecture an ELF binary was built for (its header's e_machine), or undefined. */
export function elfArchitecture(file: string): string | undefined {
  const header = Buffer.alloc(20);
  const fd = openSync(file, 'r');
  try {
    readSync(fd, header, 0, 20, 0);
  } finally {
    closeSync(fd);
  }
  if (header.readUInt32BE(0) !== 0x7f454c46) return undefined;
  return ELF_MACHINES[header.readUInt16LE(18)] ?? `ELF machine ${header.readUInt16LE(18)}`;
}

/** The message for a VSIX whose runtime was built for another machine, or undefined when it fits. */
export function architectureProblem(runtime: BundledRuntime, arch: string = process.arch): string | undefined {
  const built = elfArchitecture(runtime.shim);
  if (built === arch) return undefined;
  return `this vmrt extension carries the runtime for linux-${built ?? 'unknown'}, but this machine is linux-${arch}: install the linux-${arch} VSIX (npm run package on a linux-${arch} machine)`;
}
