/**
 * Checkpoint/restore with CRIU inside the guest (PROTOCOL.md: the `checkpoint` op and the
 * org.vmrt.restore annotation). QEMU refuses VM snapshots while the 9p share is mounted, so the
 * container's process tree is checkpointed instead. The initramfs every container boots stays
 * as it is: for the operation, the host's criu (and GNU tar and gzip, which it runs for tmpfs
 * contents) are copied with their shared libraries into a folder shared into the VM, each
 * behind a wrapper that starts it through the copied dynamic loader.
 */
import { chmodSync, copyFileSync, existsSync, mkdirSync, rmSync, rmdirSync, statSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { flagBool, flagList, flagString, type FlagSpecs, type ParsedArgs } from './args.js';
import { RuntimeError, UsageError } from './errors.js';
import { run } from './proc.js';
import { GUEST_SHARED, bindInto, unmountAll } from './shared-folder.js';

export const RESTORE_ANNOTATION = 'org.vmrt.restore';
/** Names of the shares made for one operation (unshared when it ends). */
const SHARE_PREFIX = 'criu-';
const PROGRAMS = ['criu', 'tar', 'gzip'];
const PROGRAM_DIRS = ['/usr/sbin', '/usr/bin', '/sbin', '/bin'];

/** The host folders of a checkpoint and the CRIU options chosen from runc's flags. */
export interface CheckpointFolders {
  images: string;
  work: string;
  criuArgs: string[];
}

/** runc's checkpoint/restore flags that mean the same for CRIU in the guest. */
export const CRIU_FLAGS: FlagSpecs = {
  'image-path': { kind: 'string', help: 'folder of the checkpoint images (default: ./checkpoint)' },
  'work-path': { kind: 'string', help: "folder for CRIU's log (default: the image path)" },
  'tcp-established': { kind: 'bool', help: 'allow open TCP connections' },
  'ext-unix-sk': { kind: 'bool', help: 'allow external unix sockets' },
  'shell-job': { kind: 'bool', help: 'allow shell jobs' },
  'file-locks': { kind: 'bool', help: 'handle file locks' },
  'auto-dedup': { kind: 'bool', help: 'deduplicate memory pages in the images' },
  'manage-cgroups-mode': { kind: 'string', help: 'soft, full, strict or ignore' },
  'empty-ns': { kind: 'list', help: 'only "network" (the VM is the network sandbox: never in a checkpoint)' },
  'lazy-pages': { kind: 'bool', help: 'not supported' },
  'page-server': { kind: 'string', help: 'not supported' },
  'parent-path': { kind: 'string', help: 'not supported' },
  'pre-dump': { kind: 'bool', help: 'not supported' },
  'status-fd': { kind: 'string', help: 'not supported' },
};

const PASSED_THROUGH = ['tcp-established', 'ext-unix-sk', 'shell-job', 'file-locks', 'auto-dedup'];
const UNSUPPORTED = ['lazy-pages', 'page-server', 'parent-path', 'pre-dump', 'status-fd'];

function criuArgsFrom(args: ParsedArgs): string[] {
  for (const flag of UNSUPPORTED) {
    if (args.flags.has(flag))
      throw new UsageError(`--${flag} is not supported by vmrt (CRIU runs inside the container's VM, one whole dump at a time)`);
  }
  const criuArgs = PASSED_THROUGH.filter((flag) => flagBool(args, flag)).map((flag) => `--${flag}`);
  const mode = flagString(args, 'manage-cgroups-mode');
  if (mode !== undefined) {
    if (!['soft', 'full', 'strict', 'ignore'].includes(mode))
      throw new UsageError(`--manage-cgroups-mode ${mode}: expected soft, full, strict or ignore`);
    criuArgs.push(`--manage-cgroups=${mode}`);
  }
  for (const ns of flagList(args, 'empty-ns')) {
    if (ns !== 'network') throw new UsageError(`--empty-ns ${ns}: vmrt takes only "network"`);
  }
  return criuArgs;
}

/**
 * The folders of a checkpoint from --image-path/--work-path (runc's defaults). A checkpoint
 * makes them; a restore needs images that a vmrt checkpoint wrote.
 */
export function checkpointFolders(args: ParsedArgs, forRestore: boolean): CheckpointFolders {
  const criuArgs = criuArgsFrom(args);
  const images = resolve(flagString(args, 'image-path') ?? 'checkpoint');
  const work = resolve(flagString(args, 'work-path') ?? images);
  if (forRestore) {
    if (!existsSync(images)) throw new RuntimeError(`--image-path ${images}: no such checkpoint folder`);
    if (!existsSync(join(images, 'inventory.img')))
      throw new RuntimeError(`--image-path ${images}: not a checkpoint (no inventory.img in it)`);
    if (!existsSync(join(images, 'descriptors.json')))
      throw new RuntimeError(`--image-path ${images}: not a checkpoint made by vmrt (no descriptors.json in it)`);
  }
  for (const [flag, folder] of [
    ['--image-path', images],
    ['--work-path', work],
  ] as const) {
    try {
      mkdirSync(folder, { recursive: true, mode: 0o700 });
    } catch (err) {
      throw new RuntimeError(`${flag} ${folder}: cannot make the folder: ${(err as Error).message}`);
    }
    if (!statSync(folder).isDirectory()) throw new RuntimeError(`${flag} ${folder}: not a folder`);
  }
  return { images, work, criuArgs };
}

function findProgram(name: string): string {
  const found = PROGRAM_DIRS.map((dir) => join(dir, name)).find((path) => existsSync(path));
  if (!found)
    throw new RuntimeError(`${name} is not installed on the host: vmrt checkpoints with it inside the VM (apt-get install ${name})`);
  return found;
}

/** The dynamic loader and the libraries that ldd names for a program. */
function dependencies(program: string): { loader: string; libraries: string[] } {
  let loader: string | undefined;
  const libraries: string[] = [];
  for (const line of run('ldd', [program]).split('\n')) {
    const library = /=>\s+(\/\S+)/.exec(line)?.[1];
    const interpreter = /^\s*(\/\S*ld-linux\S*)/.exec(line)?.[1];
    if (library) libraries.push(library);
    else if (interpreter) loader = interpreter;
  }
  if (!loader) throw new RuntimeError(`${program}: ldd names no dynamic loader`);
  return { loader, libraries };
}

/** bin/<program> wrappers, exe/<program>, lib/<libraries>, ld.so: what the guest runs. */
function buildTools(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  for (const sub of ['bin', 'exe', 'lib']) mkdirSync(join(dir, sub), { recursive: true });
  const copied = new Set<string>();
  const copyOnce = (from: string, to: string) => {
    if (!copied.has(to)) copyFileSync(from, to);
    copied.add(to);
  };
  for (const name of PROGRAMS) {
    const program = findProgram(name);
    const { loader, libraries } = dependencies(program);
    copyOnce(loader, join(dir, 'ld.so'));
    for (const library of libraries) copyOnce(library, join(dir, 'lib', basename(library)));
    copyFileSync(program, join(dir, 'exe', name));
    chmodSync(join(dir, 'exe', name), 0o755);
    // $0 is the wrapper's absolute path: CRIU runs tar and gzip through its PATH.
    writeFileSync(join(dir, 'bin', name), `#!/bin/sh\nd="\${0%/bin/*}"\nexec "$d/ld.so" --library-path "$d/lib" "$d/exe/${name}" "$@"\n`, {
      mode: 0o755,
    });
  }
  chmodSync(join(dir, 'ld.so'), 0o755);
}

/** Guest paths of the CRIU tools and the image and work folders. */
export interface GuestCheckpoint {
  criu: string;
  images: string;
  work: string;
}

/**
 * Shares the CRIU tools and the checkpoint folders into the container's shared folder under
 * fresh names (a running VM sees new mounts at once). The mount points join `mounts`
 * (state.mounts), so that delete unmounts what a crash left; unshareCheckpoint removes them.
 */
export function shareCheckpoint(containerDir: string, sharedDir: string, folders: CheckpointFolders, mounts: string[]): GuestCheckpoint {
  const tools = join(containerDir, 'criu-tools');
  buildTools(tools);
  const stamp = `${process.pid}-${Date.now()}`;
  const share = (name: string, source: string): string => {
    const shareName = `${SHARE_PREFIX}${name}-${stamp}`;
    bindInto(source, join(sharedDir, shareName), false, mounts);
    return `${GUEST_SHARED}/${shareName}`;
  };
  const images = share('images', folders.images);
  return { criu: share('tools', tools), images, work: folders.work === folders.images ? images : share('work', folders.work) };
}

/** Unmounts the shares of shareCheckpoint, drops them from `mounts` (in place), removes the tools. */
export function unshareCheckpoint(containerDir: string, mounts: string[]): void {
  const shares = mounts.filter((target) => basename(target).startsWith(SHARE_PREFIX));
  const failures = unmountAll(shares);
  if (failures.length > 0) throw new RuntimeError(`cannot unshare the checkpoint folders: ${failures.join('; ')}`);
  for (const target of shares) {
    rmdirSync(target);
    mounts.splice(mounts.indexOf(target), 1);
  }
  rmSync(join(containerDir, 'criu-tools'), { recursive: true, force: true });
}
