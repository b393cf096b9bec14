/**
 * VM templates. A template VM of one machine shape (accelerator, vCPUs, memory) is booted once
 * with its RAM in a memfd, run until the agent waits for its host, and saved (QEMU's migration
 * stream of its devices; its RAM stays in the memfd, which is then sealed against writes and held
 * by `vmrt-shim keep-memory`). A container's VM is then restored from it:
 * its RAM maps the template's memfd privately, so the guest kernel, the agent and the page tables
 * of 2 GiB are the template's pages, shared by every VM until one writes to them, and the VM runs
 * in a fraction of a cold boot. Its first NIC is the template's (network.ts: templateNicArgs), any
 * others are hot-plugged as it resumes; the first request from the host (create) carries the
 * host's clock and a fresh random seed; the agent mounts the shared folder when the host connects
 * (QEMU cannot save a VM whose 9p share is mounted).
 *
 * Templates live in SOCKET_BASE/templates/<key> (its device state, and template.json naming the
 * process that holds its RAM), one per key: the hash of QEMU's arguments for the shape and of the
 * kernel, initramfs (agent included) and QEMU binary (their size, time and inode). A change to any
 * of them makes a new key; the new template replaces those of its shape (a running VM keeps its
 * mapping of the memfd), and `vmrt template rm` removes any. A template whose keeper is gone
 * (ended, or the host restarted) is made again.
 */
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chownSync,
  closeSync,
  createReadStream,
  createWriteStream,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { connect, createServer } from 'node:net';
import { basename, delimiter, join } from 'node:path';
import { createInterface } from 'node:readline';
import { RuntimeError, errorMessage } from './errors.js';
import type { Logger } from './log.js';
import { earlyRootPortArgs, templateNicArgs } from './network.js';
import { guestFiles, qemuPath, shimPath, SOCKET_BASE } from './paths.js';
import { isAlive, isolatedStdio, refOf, signalProcess, sleep, type ProcessRef } from './proc.js';
import { withLock } from './lock.js';
import { jailQemu, scratchJail, vmDirOf, type ScratchJail } from './jail.js';
import { Qmp } from './qmp.js';
import { qemuArgs, releaseVm, TEMPLATE_MEMORY_FD, type Accelerator, type VmLayout } from './vm.js';

const TEMPLATE_BOOT_TIMEOUT_MS = 120000;
const RESTORE_TIMEOUT_MS = 30000;
const LOCK_TIMEOUT_MS = 180000;
/** The agent prints this once it waits for its host (runtime/agent/main.c). */
const AGENT_READY = /vmrt-agent: ready/;

export interface TemplateShape {
  accelerator: Accelerator;
  vcpus: number;
  memoryMiB: number;
}

/** The process that holds a template's RAM, and the memfd's fd in it. */
export interface MemoryKeeper extends ProcessRef {
  fd: number;
}

export interface Template {
  key: string;
  dir: string;
  state: string;
  keeper: MemoryKeeper;
}

export interface TemplateInfo extends TemplateShape {
  key: string;
  created: string;
  bootMs: number;
  saveMs: number;
  stateBytes: number;
  /** None in a template an older vmrt made (it is made again). */
  keeper?: MemoryKeeper;
  /** Host memory that the template's RAM holds (its touched pages). */
  memoryFileBytes: number;
}

/** VMRT_TEMPLATE_DIR moves them. */
export function templatesDir(): string {
  return process.env.VMRT_TEMPLATE_DIR ?? join(SOCKET_BASE, 'templates');
}

/** Why a VM that asked for a template boots cold instead, or undefined when it can be restored. */
export function coldBootReason(passedThrough: readonly string[]): string | undefined {
  return passedThrough.length > 0 ? 'devices are passed through (VFIO): they are plugged at boot' : undefined;
}

/** The tap of a template VM's NIC (network.ts: templateNicArgs), in its own netns. */
const SCRATCH_TAP = 'vmrt-tap0';

/**
 * QEMU's arguments of a template VM, or of a VM restored from it (`layout` names its own sockets,
 * `tap` the tap its NIC attaches to).
 */
export function templatedQemuArgs(layout: VmLayout, tap: string): string[] {
  return [...qemuArgs(layout), ...earlyRootPortArgs(), ...templateNicArgs(tap)];
}

function programOnPath(name: string): string {
  if (name.includes('/')) return name;
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir && existsSync(join(dir, name))) return join(dir, name);
  }
  return name;
}

/** What changes when a file is replaced or rewritten: its size, mtime and inode ("missing" if none). */
export function fileIdentity(path: string): string {
  try {
    const st = statSync(path);
    return `${path}:${st.size}:${st.mtimeMs}:${st.ino}`;
  } catch {
    return `${path}:missing`;
  }
}

/** The key of a shape: anything that changes what the template's RAM and devices hold changes it. */
export function templateKey(shape: TemplateShape): string {
  const guest = guestFiles();
  const canonical = templatedQemuArgs(templateLayout('/template', shape), SCRATCH_TAP);
  const inputs = {
    shape,
    args: canonical,
    kernel: fileIdentity(guest.kernel),
    initrd: fileIdentity(guest.initrd),
    qemu: fileIdentity(programOnPath(qemuPath())),
  };
  return createHash('sha256').update(JSON.stringify(inputs)).digest('hex').slice(0, 16);
}

/** A template VM's files in `dir`, its sockets in `sockets` (its jail's VM folder). */
function templateLayout(dir: string, shape: TemplateShape, sockets = dir): VmLayout {
  return {
    accelerator: shape.accelerator,
    // QEMU serves the template's (empty, never mounted) folder itself; a restored VM's 9p device
    // is the same whoever serves it.
    share: { kind: '9p', dir: join(dir, 'share') },
    agentSocket: join(sockets, 'agent.sock'),
    qmpSocket: join(sockets, 'qmp.sock'),
    consoleLog: join(dir, 'console.log'),
    memoryMiB: shape.memoryMiB,
    vcpus: shape.vcpus,
    templateMemory: { role: 'template' },
  };
}

const infoFile = (dir: string) => join(dir, 'template.json');

function readInfo(dir: string): TemplateInfo | undefined {
  const text = readFileSafe(infoFile(dir));
  return text ? (JSON.parse(text) as TemplateInfo) : undefined;
}

/** The template `key` if it is made and its RAM still held. */
function usableTemplate(key: string): Template | undefined {
  const dir = join(templatesDir(), key);
  const info = readInfo(dir);
  return info?.keeper && isAlive(info.keeper) ? { key, dir, state: join(dir, 'state'), keeper: info.keeper } : undefined;
}

/** The template's RAM, opened for QEMU (it gets it as TEMPLATE_MEMORY_FD): the caller closes it. */
export function openTemplateMemory(template: Template): number {
  const { pid, fd } = template.keeper;
  try {
    if (!isAlive(template.keeper)) throw new Error(`its keeper (pid ${pid}) has ended`);
    return openSync(`/proc/${pid}/fd/${fd}`, 'r');
  } catch (err) {
    throw new RuntimeError(`the RAM of VM template ${template.key}: ${errorMessage(err)}; the next VM makes the template again`);
  }
}

/** The template of `shape`, made now if there is none (one maker at a time; the others wait). */
export async function ensureTemplate(shape: TemplateShape, logger: Logger): Promise<Template> {
  const key = templateKey(shape);
  const ready = usableTemplate(key);
  if (ready) return ready;
  const dir = join(templatesDir(), key);
  mkdirSync(templatesDir(), { recursive: true, mode: 0o700 });
  return withLock(`${dir}.lock`, LOCK_TIMEOUT_MS, async () => {
    const madeMeanwhile = usableTemplate(key);
    if (madeMeanwhile) return madeMeanwhile;
    // Made once, but its RAM is gone with its keeper.
    rmSync(dir, { recursive: true, force: true });
    logger.debug(`making the VM template ${key} (${shape.vcpus} vCPUs, ${shape.memoryMiB} MiB, ${shape.accelerator})`);
    await makeTemplate(dir, shape);
    const superseded = listTemplates().filter((t) => t.key !== key && sameShape(t, shape));
    if (superseded.length > 0) {
      logger.debug(`removing the VM templates ${superseded.map((t) => t.key).join(', ')}: ${key} replaces them`);
      removeTemplates(superseded.map((t) => t.key));
    }
    const made = usableTemplate(key);
    if (!made) throw new RuntimeError(`VM template ${key}: its RAM's keeper ended as it was made`);
    return made;
  });
}

const sameShape = (a: TemplateShape, b: TemplateShape) =>
  a.accelerator === b.accelerator && a.vcpus === b.vcpus && a.memoryMiB === b.memoryMiB;

function readFileSafe(path: string): string {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return '';
  }
}

async function untilMigrated(qmp: Qmp, what: string): Promise<void> {
  const deadline = Date.now() + RESTORE_TIMEOUT_MS;
  for (;;) {
    const status = (await qmp.execute('query-migrate')) as { status?: string; 'error-desc'?: string };
    if (status.status === 'completed') return;
    if (status.status === 'failed' || status.status === 'cancelled') {
      throw new RuntimeError(`${what}: QEMU's migration ${status.status}${status['error-desc'] ? `: ${status['error-desc']}` : ''}`);
    }
    if (Date.now() > deadline) throw new RuntimeError(`${what}: not done within ${RESTORE_TIMEOUT_MS / 1000} s`);
    await sleep(10);
  }
}

const IGNORE_SHARED = { capabilities: [{ capability: 'x-ignore-shared', state: true }] };

/**
 * A template VM, or a VM restored from one with nothing attached, started in a jail of its own
 * (jail.ts; no container's network: an empty one). Its (empty) share is its uid's; `memory`: the
 * template's RAM, its fd TEMPLATE_MEMORY_FD.
 */
function spawnScratchVm(scratch: ScratchJail, layout: VmLayout, args: string[], memory: number, stderr: 'ignore' | 'pipe'): ChildProcess {
  const share = (layout.share as { dir: string }).dir;
  chownSync(share, scratch.jail.uid, scratch.jail.gid);
  const [program, ...jailed] = jailQemu(
    {
      jail: scratch.jail,
      accelerator: layout.accelerator,
      runDir: scratch.runDir,
      consoleLog: layout.consoleLog,
      hide: [templatesDir()],
      keep: [{ path: share, dir: true, writable: false }],
      ownNetwork: true,
      tap: SCRATCH_TAP,
    },
    qemuPath(),
    args,
  );
  const stdio: StdioOptions = ['ignore', 'ignore', stderr];
  stdio[TEMPLATE_MEMORY_FD] = memory;
  return spawn(program!, jailed, { stdio });
}

/**
 * Starts the keeper of a new template's RAM: a memfd of `bytes`, not yet sealed. Its first line
 * names the memfd's fd; `seal()` seals it, after which it holds the memfd and nothing of ours.
 */
async function startKeeper(bytes: number): Promise<{ keeper: MemoryKeeper; seal: () => Promise<void>; end: () => void }> {
  // In a session of its own, and in no folder of the caller's (a bundle's mount stays free to go).
  const child = spawn(shimPath(), ['keep-memory', '--size', String(bytes)], {
    detached: true,
    cwd: '/',
    stdio: isolatedStdio(['pipe', 'pipe', 'pipe']),
  });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  // A shim that cannot start: its stdout ends, and this says why.
  child.on('error', (err) => (stderr += err.message));
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  const failed = (what: string) => new RuntimeError(`${shimPath()} keep-memory ${what}: ${stderr.trim() || 'no output'}`);
  const end = () => {
    child.kill('SIGKILL');
    lines.return?.();
  };
  const first = await lines.next();
  const fd = /^fd (\d+)$/.exec(first.done ? '' : first.value)?.[1];
  if (!fd || child.pid === undefined) {
    end();
    throw failed('did not start');
  }
  const keeper = { ...refOf(child.pid), fd: Number(fd) };
  const seal = async () => {
    child.stdin!.end('seal\n');
    const answer = await lines.next();
    if (answer.done || answer.value !== 'sealed') throw failed('did not seal the RAM');
    // It outlives this CLI: nothing of ours keeps it, or is kept by it.
    await lines.return?.();
    child.stdout!.destroy();
    child.stderr!.destroy();
    child.unref();
  };
  return { keeper, seal, end };
}

/** Boots the template VM in a folder of its own, saves it, and renames the folder into place as `dir`. */
async function makeTemplate(dir: string, shape: TemplateShape): Promise<void> {
  const work = `${dir}.making`;
  rmSync(work, { recursive: true, force: true });
  mkdirSync(join(work, 'share'), { recursive: true, mode: 0o700 });
  let scratch: ScratchJail | undefined;
  try {
    scratch = await scratchJail();
    await bootAndSave(dir, shape, work, scratch);
    renameSync(work, dir);
  } catch (err) {
    // Saved but not put in place: its RAM goes too.
    signalProcess(readInfo(work)?.keeper, 'SIGTERM');
    rmSync(work, { recursive: true, force: true });
    throw err;
  } finally {
    scratch?.release();
  }
}

/** Boots the template VM in `work`, waits for its agent, saves it there and ends it; its RAM stays with its keeper. */
async function bootAndSave(dir: string, shape: TemplateShape, work: string, scratch: ScratchJail): Promise<void> {
  const sockets = vmDirOf(scratch.runDir);
  const layout = templateLayout(work, shape, sockets);
  const { keeper, seal, end } = await startKeeper(shape.memoryMiB * 1024 * 1024);
  const started = Date.now();
  let qemu: ChildProcess;
  try {
    const memory = openTemplateMemory({ key: basename(dir), dir, state: '', keeper });
    try {
      qemu = spawnScratchVm(scratch, layout, templatedQemuArgs(layout, SCRATCH_TAP), memory, 'pipe');
    } finally {
      closeSync(memory);
    }
  } catch (err) {
    end();
    throw err;
  }
  let stderr = '';
  qemu.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<void>((resolve) => qemu.on('exit', () => resolve()));
  const ref: ProcessRef | undefined = qemu.pid ? refOf(qemu.pid) : undefined;
  try {
    for (;;) {
      if (AGENT_READY.test(readFileSafe(layout.consoleLog))) break;
      if (!ref || !isAlive(ref)) throw new RuntimeError(`the template VM's QEMU exited: ${stderr.trim() || 'no output'}`);
      if (Date.now() - started > TEMPLATE_BOOT_TIMEOUT_MS) {
        throw new RuntimeError(
          `the template VM did not boot within ${TEMPLATE_BOOT_TIMEOUT_MS / 1000} s: ${readFileSafe(layout.consoleLog).slice(-500)}`,
        );
      }
      await sleep(50);
    }
    const bootMs = Date.now() - started;
    const qmp = await Qmp.open(layout.qmpSocket);
    const saving = Date.now();
    try {
      await qmp.execute('stop');
      await qmp.execute('migrate-set-capabilities', IGNORE_SHARED);
      const stream = join(sockets, 'migrate.sock');
      const out = createWriteStream(join(work, 'state'), { mode: 0o600 });
      const written = new Promise<void>((resolve, reject) => {
        out.on('finish', resolve);
        out.on('error', reject);
      });
      const server = createServer((socket) => socket.pipe(out));
      await new Promise<void>((resolve) => server.listen(stream, resolve));
      // QEMU, as its uid, connects to it.
      chownSync(stream, scratch.jail.uid, scratch.jail.gid);
      try {
        await qmp.execute('migrate', { uri: `unix:${stream}` });
        await untilMigrated(qmp, 'saving the template VM');
        await written;
      } finally {
        server.close();
      }
      await qmp.execute('quit').catch(() => undefined);
    } finally {
      qmp.close();
    }
    await exited;
    // No QEMU maps it any more: from now on no one can write it.
    await seal();
    const info: TemplateInfo = {
      key: basename(dir),
      ...shape,
      created: new Date().toISOString(),
      bootMs,
      saveMs: Date.now() - saving,
      stateBytes: statSync(join(work, 'state')).size,
      keeper,
      memoryFileBytes: 0,
    };
    rmSync(join(work, 'share'), { recursive: true, force: true });
    // Its uid is free again once the jail is released: nothing of the template stays that uid's.
    chownSync(layout.consoleLog, 0, 0);
    writeFileSync(infoFile(work), JSON.stringify(info, null, 2));
  } catch (err) {
    qemu.kill('SIGKILL');
    await exited;
    end();
    throw err;
  }
}

/**
 * Loads `template`'s state into a VM started with `-incoming defer` and leaves it paused: its QMP
 * connection, for releaseVm. Slow enough (a QEMU start and its device state) to overlap a
 * create's hooks.
 */
export async function loadTemplate(template: Template, qmpSocket: string, qemu: ProcessRef): Promise<Qmp> {
  const qmp = await Qmp.ofStarting(qmpSocket, qemu, RESTORE_TIMEOUT_MS);
  try {
    await qmp.execute('migrate-set-capabilities', IGNORE_SHARED);
    const incoming = join(qmpSocket, '..', 'incoming.sock');
    await qmp.execute('migrate-incoming', { uri: `unix:${incoming}` });
    await new Promise<void>((resolve, reject) => {
      const socket = connect(incoming, () => createReadStream(template.state).pipe(socket).on('finish', resolve));
      socket.on('error', (err) => reject(new RuntimeError(`restoring template ${template.key}: ${errorMessage(err)}`)));
    });
    await untilMigrated(qmp, `restoring template ${template.key}`);
    rmSync(incoming, { force: true });
    return qmp;
  } catch (err) {
    qmp.close();
    throw err;
  }
}

/** The templates made, with the host memory their RAM holds (0 once its keeper has ended: made again at next use). */
export function listTemplates(): TemplateInfo[] {
  if (!existsSync(templatesDir())) return [];
  return readdirSync(templatesDir()).flatMap((name) => {
    const info = readInfo(join(templatesDir(), name));
    return info ? [{ ...info, memoryFileBytes: heldBytes(info.keeper) }] : [];
  });
}

function heldBytes(keeper: MemoryKeeper | undefined): number {
  try {
    return keeper && isAlive(keeper) ? statSync(`/proc/${keeper.pid}/fd/${keeper.fd}`).blocks * 512 : 0;
  } catch {
    return 0;
  }
}

/** Removes templates (all without keys) and ends their keepers; VMs restored from one keep running on their mapping. */
export function removeTemplates(keys: readonly string[]): string[] {
  const names = keys.length > 0 ? [...keys] : listTemplates().map((t) => t.key);
  for (const key of names) {
    const dir = join(templatesDir(), key);
    const info = readInfo(dir);
    if (!info) throw new RuntimeError(`no VM template ${key} (see \`vmrt template list\`)`);
    signalProcess(info.keeper, 'SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }
  return names;
}

/**
 * Restores a VM from `template` with nothing attached and waits for its agent's HELLO: the proof
 * that templating works on this host (`vmrt check`). Returns the milliseconds it took.
 */
export async function probeRestore(template: Template, shape: TemplateShape): Promise<number> {
  const work = mkdtempSync(join(templatesDir(), 'probe-'));
  let scratch: ScratchJail | undefined;
  try {
    scratch = await scratchJail();
    mkdirSync(join(work, 'share'));
    return await restoreAndGreet(template, shape, work, scratch);
  } finally {
    rmSync(work, { recursive: true, force: true });
    scratch?.release();
  }
}

/** probeRestore's VM, in `work` and its jail: restored, then ended once its agent says HELLO. */
async function restoreAndGreet(template: Template, shape: TemplateShape, work: string, scratch: ScratchJail): Promise<number> {
  const layout = { ...templateLayout(work, shape, vmDirOf(scratch.runDir)), templateMemory: { role: 'clone' as const } };
  const agentSocket = layout.agentSocket;
  const restoring = `${agentSocket}.restoring`;
  const started = Date.now();
  const memory = openTemplateMemory(template);
  let qemu: ChildProcess;
  try {
    qemu = spawnScratchVm(
      scratch,
      layout,
      [...templatedQemuArgs({ ...layout, agentSocket: restoring }, SCRATCH_TAP), '-incoming', 'defer'],
      memory,
      'ignore',
    );
  } finally {
    closeSync(memory);
  }
  const exited = new Promise<void>((resolve) => qemu.on('exit', () => resolve()));
  try {
    if (!qemu.pid) throw new RuntimeError(`cannot start ${qemuPath()}`);
    await releaseVm(await loadTemplate(template, layout.qmpSocket, refOf(qemu.pid)), [], true, restoring, agentSocket);
    await new Promise<void>((resolve, reject) => {
      const socket = connect(agentSocket);
      const timer = setTimeout(() => reject(new RuntimeError("the restored VM's agent did not say HELLO within 10 s")), 10000);
      // Any frame: the agent greets its host first (runtime/PROTOCOL.md).
      socket.once('data', () => {
        clearTimeout(timer);
        socket.destroy();
        resolve();
      });
      socket.on('error', (err) => reject(new RuntimeError(`the restored VM's agent socket: ${err.message}`)));
    });
    return Date.now() - started;
  } finally {
    qemu.kill('SIGKILL');
    await exited;
  }
}
