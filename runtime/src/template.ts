/**
 * VM templates. A template VM of one machine shape (accelerator, vCPUs, memory) is booted once
 * with its RAM in a file, run until the agent waits for its host, and saved (QEMU's migration
 * stream of its devices; its RAM stays in the file). A container's VM is then restored from it:
 * its RAM maps the template's file privately, so the guest kernel, the agent and the page tables
 * of 2 GiB are the template's pages, shared by every VM until one writes to them, and the VM runs
 * in a fraction of a cold boot. Its NICs are hot-plugged as it resumes; the first request from the
 * host (create) carries the host's clock and a fresh random seed; the agent mounts the shared
 * folder when the host connects (QEMU cannot save a VM whose 9p share is mounted).
 *
 * Templates live in SOCKET_BASE/templates/<key> (a tmpfs: the RAM file's pages are the shared
 * ones), one per key: the hash of QEMU's arguments for the shape and of the kernel, initramfs
 * (agent included) and QEMU binary (their size, time and inode). A change to any of them makes a new key;
 * the new template replaces those of its shape (a running VM keeps its mapping of a removed file),
 * and `vmrt template rm` removes any.
 */
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
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
import { delimiter, join } from 'node:path';
import { RuntimeError, errorMessage } from './errors.js';
import type { Logger } from './log.js';
import { earlyRootPortArgs } from './network.js';
import { guestFiles, qemuPath, SOCKET_BASE } from './paths.js';
import { isAlive, refOf, sleep, type ProcessRef } from './proc.js';
import { withLock } from './lock.js';
import { jailQemu, scratchJail, TEMPLATE_MEMORY_GID, vmDirOf, type Kept, type ScratchJail } from './jail.js';
import { Qmp } from './qmp.js';
import { qemuArgs, releaseVm, type Accelerator, type VmLayout } from './vm.js';

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

export interface Template {
  key: string;
  dir: string;
  memory: string;
  state: string;
}

export interface TemplateInfo extends TemplateShape {
  key: string;
  created: string;
  bootMs: number;
  saveMs: number;
  stateBytes: number;
  /** Host memory that the template's RAM file holds (its touched pages). */
  memoryFileBytes: number;
}

/** VMRT_TEMPLATE_DIR moves them (keep it on a tmpfs: the RAM files' pages are what VMs share). */
export function templatesDir(): string {
  return process.env.VMRT_TEMPLATE_DIR ?? join(SOCKET_BASE, 'templates');
}

/** Why a VM that asked for a template boots cold instead, or undefined when it can be restored. */
export function coldBootReason(passedThrough: readonly string[]): string | undefined {
  return passedThrough.length > 0 ? 'devices are passed through (VFIO): they are plugged at boot' : undefined;
}

/** QEMU's arguments of a template VM, or of a VM restored from it (`layout` names its own sockets). */
export function templatedQemuArgs(layout: VmLayout): string[] {
  return [...qemuArgs(layout), ...earlyRootPortArgs()];
}

function programOnPath(name: string): string {
  if (name.includes('/')) return name;
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir && existsSync(join(dir, name))) return join(dir, name);
  }
  return name;
}

function fileIdentity(path: string): string {
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
  const canonical = templatedQemuArgs(templateLayout('/template', shape));
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
    templateMemory: { file: join(dir, 'memory'), role: 'template' },
  };
}

function templateAt(key: string): Template {
  const dir = join(templatesDir(), key);
  return { key, dir, memory: join(dir, 'memory'), state: join(dir, 'state') };
}

const infoFile = (dir: string) => join(dir, 'template.json');

/** The template of `shape`, made now if there is none (one maker at a time; the others wait). */
export async function ensureTemplate(shape: TemplateShape, logger: Logger): Promise<Template> {
  const key = templateKey(shape);
  const template = templateAt(key);
  if (!existsSync(infoFile(template.dir))) {
    mkdirSync(templatesDir(), { recursive: true, mode: 0o700 });
    await withLock(`${template.dir}.lock`, LOCK_TIMEOUT_MS, async () => {
      if (existsSync(infoFile(template.dir))) return;
      logger.debug(`making the VM template ${key} (${shape.vcpus} vCPUs, ${shape.memoryMiB} MiB, ${shape.accelerator})`);
      await makeTemplate(template, shape);
      const superseded = listTemplates().filter((t) => t.key !== key && sameShape(t, shape));
      if (superseded.length > 0) {
        logger.debug(`removing the VM templates ${superseded.map((t) => t.key).join(', ')}: ${key} replaces them`);
        removeTemplates(superseded.map((t) => t.key));
      }
    });
  }
  shareMemory(template);
  return template;
}

const sameShape = (a: TemplateShape, b: TemplateShape) =>
  a.accelerator === b.accelerator && a.vcpus === b.vcpus && a.memoryMiB === b.memoryMiB;

/**
 * The RAM file is opened by every VM restored from the template, each QEMU under a uid of its
 * own (jail.ts) with the file's group. QEMU 7.2 opens it read-write even to map it privately,
 * so that group may write it: README's security section says what that means.
 */
function shareMemory(template: Template): void {
  chownSync(template.memory, 0, TEMPLATE_MEMORY_GID);
  chmodSync(template.memory, 0o660);
}

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
 * (jail.ts; no container's network: an empty one). Its (empty) share is its uid's; `keep`: the
 * RAM file it writes.
 */
function spawnScratchVm(scratch: ScratchJail, layout: VmLayout, args: string[], keep: Kept[], stdio: StdioOptions): ChildProcess {
  const share = (layout.share as { dir: string }).dir;
  chownSync(share, scratch.jail.uid, scratch.jail.gid);
  const clone = layout.templateMemory?.role === 'clone' ? layout.templateMemory.file : undefined;
  const [program, ...jailed] = jailQemu(
    {
      jail: scratch.jail,
      accelerator: layout.accelerator,
      runDir: scratch.runDir,
      consoleLog: layout.consoleLog,
      hide: [templatesDir()],
      templateMemory: clone,
      keep: [{ path: share, dir: true, writable: false }, ...keep],
      ownNetwork: true,
    },
    qemuPath(),
    args,
  );
  return spawn(program!, jailed, { stdio });
}

/** Boots the template VM in a folder of its own, saves it, and renames the folder into place. */
async function makeTemplate(template: Template, shape: TemplateShape): Promise<void> {
  const work = `${template.dir}.making`;
  rmSync(work, { recursive: true, force: true });
  mkdirSync(join(work, 'share'), { recursive: true, mode: 0o700 });
  let scratch: ScratchJail | undefined;
  try {
    scratch = await scratchJail();
    await bootAndSave(template, shape, work, scratch);
    renameSync(work, template.dir);
  } catch (err) {
    rmSync(work, { recursive: true, force: true });
    throw err;
  } finally {
    scratch?.release();
  }
}

/** Boots the template VM in `work`, waits for its agent, saves it there and ends it. */
async function bootAndSave(template: Template, shape: TemplateShape, work: string, scratch: ScratchJail): Promise<void> {
  const sockets = vmDirOf(scratch.runDir);
  const layout = templateLayout(work, shape, sockets);
  // QEMU writes the RAM file as its uid; once saved, the file is shared (shareMemory).
  const memory = layout.templateMemory!.file;
  closeSync(openSync(memory, 'w', 0o600));
  chownSync(memory, scratch.jail.uid, scratch.jail.gid);
  const started = Date.now();
  const qemu = spawnScratchVm(
    scratch,
    layout,
    templatedQemuArgs(layout),
    [{ path: memory, dir: false, writable: true }],
    ['ignore', 'ignore', 'pipe'],
  );
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
    const info: TemplateInfo = {
      key: template.key,
      ...shape,
      created: new Date().toISOString(),
      bootMs,
      saveMs: Date.now() - saving,
      stateBytes: statSync(join(work, 'state')).size,
      memoryFileBytes: 0,
    };
    rmSync(join(work, 'share'), { recursive: true, force: true });
    // Its uid is free again once the jail is released: nothing of the template stays that uid's.
    chownSync(layout.consoleLog, 0, 0);
    writeFileSync(infoFile(work), JSON.stringify(info, null, 2));
  } catch (err) {
    qemu.kill('SIGKILL');
    await exited;
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

export function listTemplates(): TemplateInfo[] {
  if (!existsSync(templatesDir())) return [];
  return readdirSync(templatesDir()).flatMap((name) => {
    const text = readFileSafe(infoFile(join(templatesDir(), name)));
    if (!text) return [];
    const info = JSON.parse(text) as TemplateInfo;
    return [{ ...info, memoryFileBytes: allocatedBytes(join(templatesDir(), name, 'memory')) }];
  });
}

function allocatedBytes(path: string): number {
  try {
    return statSync(path).blocks * 512;
  } catch {
    return 0;
  }
}

/** Removes templates (all without keys); VMs restored from one keep running on their mapping. */
export function removeTemplates(keys: readonly string[]): string[] {
  const names = keys.length > 0 ? [...keys] : listTemplates().map((t) => t.key);
  for (const key of names) {
    const dir = join(templatesDir(), key);
    if (!existsSync(infoFile(dir))) throw new RuntimeError(`no VM template ${key} (see \`vmrt template list\`)`);
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
  const layout = {
    ...templateLayout(work, shape, vmDirOf(scratch.runDir)),
    templateMemory: { file: template.memory, role: 'clone' as const },
  };
  const agentSocket = layout.agentSocket;
  const restoring = `${agentSocket}.restoring`;
  const started = Date.now();
  const qemu = spawnScratchVm(
    scratch,
    layout,
    [...templatedQemuArgs({ ...layout, agentSocket: restoring }), '-incoming', 'defer'],
    [],
    'ignore',
  );
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
