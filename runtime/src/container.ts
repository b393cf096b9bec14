/**
 * The life of one container's host side: building it at `create` (each step registers its
 * undo, so a failure half-way leaves nothing) and tearing it down at `delete`.
 */
import { spawn } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  openSync,
  closeSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  rmdirSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Readable } from 'node:stream';
import { addToCgroups, applyBlockIO, cgroupMounts, joinCgroup, removeCgroups, type BlockIO } from './cgroups.js';
import { RuntimeError, errorMessage } from './errors.js';
import { runHooks, runHooksWarning, type HookState } from './hooks.js';
import { tail, type Logger } from './log.js';
import { RESTORE_ANNOTATION, shareCheckpoint, type CheckpointFolders } from './criu.js';
import { identity } from './config-check.js';
import { createNetns, deleteNetns, inNetns, netnsPathFromConfig, NETNS_DIR } from './netns.js';
import type { Config } from './spec.js';
import {
  disabledIpv6Sysctls,
  earlyRootPortArgs,
  NETWORK_ANNOTATION,
  nicArgs,
  makeTemplateTap,
  readNetwork,
  removeTap,
  tooManyNics,
  unwireNetwork,
  wireNetwork,
} from './network.js';
import { qemuPath, shimPath } from './paths.js';
import {
  isAlive,
  isolatedStdio,
  processesMentioning,
  refOf,
  signalProcess,
  sleep,
  spawnDaemon,
  terminate,
  type ProcessRef,
} from './proc.js';
import { muxRequest } from './mux.js';
import { SHARE_ANNOTATION, type PodJoin } from './pod.js';
import { GUEST_SHARED, populateShared, sharedFolderKind, unmountAll, type ShareServer } from './shared-folder.js';
import type { Bundle } from './bundle.js';
import {
  containerDir,
  ensureDir,
  netnsNameFor,
  readState,
  runDirFor,
  stateFile,
  validateId,
  writeState,
  type ContainerState,
} from './state.js';
import {
  memoryMergeWanted,
  memoryMiBFor,
  qemuArgs,
  qemuMemoryWrapper,
  releaseVm,
  requireGuest,
  SHARED_MMAP_LAYOUT_ANNOTATION,
  sharedMmapLayoutWanted,
  templateWanted,
  vcpusFor,
  type AcceleratorChoice,
  type VmLayout,
} from './vm.js';
import { Qmp } from './qmp.js';
import {
  coldBootReason,
  ensureTemplate,
  loadTemplate,
  openTemplateMemory,
  templatedQemuArgs,
  templatesDir,
  type Template,
} from './template.js';
import { startShareServer } from './share-server.js';
import { hostMountPoints, jailQemu, prepareJail, vmDirOf } from './jail.js';
import { servedCall, type ShimChild } from './served-call.js';
import { inheritedRlimits } from './rlimits.js';

const READY_TIMEOUT_MS = 150000;
/**
 * How long a QEMU just spawned may take to serve its control socket: as long as its guest may take
 * to boot (the shim's wait for HELLO). 30 VMs started at once on 2 cores took over 10 s for it
 * (`npm run test:soak`); a QEMU that exits meanwhile fails the create at once.
 */
const QMP_TIMEOUT_MS = 120000;
/** How long the agent may take to kill and forget a container of a pod. */
const AGENT_DELETE_TIMEOUT_MS = 10000;
/** The subfolder of the VM's shared folder that holds a pod container's rootfs and volumes. */
const POD_SUBFOLDER_PREFIX = 'pod-';

export interface CreateOptions {
  root: string;
  id: string;
  bundle: Bundle;
  accelerator: AcceleratorChoice;
  consoleSocket?: string;
  pidFile?: string;
  logger: Logger;
  /** QEMU arguments of devices passed through (vfio.ts). */
  deviceArgs?: string[];
  /** `restore`: the guest restores this checkpoint instead of starting a new process. */
  restore?: CheckpointFolders;
  /** The container is created in the VM of another (pod.ts). */
  pod?: PodJoin;
}

export interface Created {
  state: ContainerState;
  /** The init shim, a child of this process (`run` waits for it) or of the CLI server's caller. */
  shim: ShimChild;
}

export function agentSocket(runDir: string): string {
  return join(vmDirOf(runDir), 'agent.sock');
}
export function muxSocket(runDir: string): string {
  return join(runDir, 'mux.sock');
}
export function qmpSocket(runDir: string): string {
  return join(vmDirOf(runDir), 'qmp.sock');
}
export function sharedDirOf(root: string, id: string): string {
  return join(containerDir(root, id), 'shared');
}
export function consoleLogOf(root: string, id: string): string {
  return join(containerDir(root, id), 'console.log');
}
export function shimLogOf(root: string, id: string): string {
  return join(containerDir(root, id), 'shim.log');
}
/** The container's host cgroups, recorded beside its sockets (remainsOf). */
function cgroupsRecordOf(runDir: string): string {
  return join(runDir, 'cgroups.json');
}
/** Exec shims are recorded here (one file per pid) so that delete can end them. */
export function execDirOf(runDir: string): string {
  return join(runDir, 'exec');
}

/** Digits only, written then renamed: containerd reads the file as soon as it exists. */
export function writePidFile(path: string, pid: number): void {
  const tmp = join(dirname(path), `.${Date.now()}-${process.pid}.pid.tmp`);
  writeFileSync(tmp, String(pid));
  renameSync(tmp, path);
}

export function hookState(state: ContainerState, status: string): HookState {
  return { ociVersion: state.ociVersion, id: state.id, status, pid: state.shim?.pid, bundle: state.bundle, annotations: state.annotations };
}

/** The shim gave up on a guest that does not answer: the end of the guest's console says why. */
const GUEST_SILENT = /^timed out waiting for the agent/;

/** Reads the shim's one ready line: `{"ok":true,"pid":N}` or `{"ok":false,"error":…}`. */
export function awaitReady(shim: ShimChild, readyPipe: Readable, what: string, logFile: string, extraLog?: string): Promise<number> {
  return new Promise((resolve, reject) => {
    let buffer = '';
    let done = false;
    const fail = (why: string) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      const details = [tail(logFile), extraLog ? tail(extraLog) : ''].filter(Boolean).join('\n');
      reject(new RuntimeError(`${what}: ${why}${details ? `\n${details}` : ''}`));
    };
    const timer = setTimeout(() => fail(`not ready within ${READY_TIMEOUT_MS / 1000} s`), READY_TIMEOUT_MS);
    readyPipe.on('data', (chunk: Buffer) => {
      buffer += chunk.toString();
      const nl = buffer.indexOf('\n');
      if (nl < 0 || done) return;
      done = true;
      clearTimeout(timer);
      readyPipe.destroy();
      try {
        const line = JSON.parse(buffer.slice(0, nl)) as { ok: boolean; pid?: number; error?: string };
        if (line.ok && typeof line.pid === 'number') return resolve(line.pid);
        const why = line.error ?? 'failed';
        const guest = GUEST_SILENT.test(why) && extraLog ? tail(extraLog) : '';
        reject(new RuntimeError(`${what}: ${why}${guest ? `\nthe guest's console ends with:\n${guest}` : ''}`));
      } catch {
        reject(new RuntimeError(`${what}: unreadable ready line ${JSON.stringify(buffer.slice(0, nl))}`));
      }
    });
    readyPipe.on('error', () => undefined);
    // 'close', not 'exit': a shim that fails writes its reason on the ready pipe and exits at once;
    // its exit may be seen before that line is read, its pipe's end never is.
    shim.on('close', (code, signal) => fail(`the shim exited (${signal ?? `status ${code}`}) before the process existed`));
    shim.on('error', (err) => fail(`cannot start the shim ${shimPath()}: ${err.message}`));
  });
}

/**
 * Spawns a shim with the caller's stdio (Docker's pipes) on fds 0-2 and a ready pipe on fd 3; in
 * a call the CLI server serves, the caller spawns it (served-call.ts). `ready` resolves with the
 * guest pid once the guest process exists.
 */
async function startShim(
  args: string[],
  what: string,
  logFile: string,
  extraLog?: string,
): Promise<{ shim: ShimChild; ready: Promise<number> }> {
  const argv = [shimPath(), ...args, '--ready-fd', '3', '--log', logFile];
  const served = servedCall.getStore();
  let shim: ShimChild;
  let readyPipe: Readable;
  if (served) {
    const child = await served.spawnInCaller(argv);
    [shim, readyPipe] = [child, child.fd3];
  } else {
    // Not detached: the shim calls setsid itself (a terminal needs it to lead its session).
    const child = spawn(argv[0]!, argv.slice(1), { stdio: isolatedStdio(['inherit', 'inherit', 'inherit', 'pipe']) });
    [shim, readyPipe] = [child, child.stdio[3] as Readable];
  }
  const ready = awaitReady(shim, readyPipe, what, logFile, extraLog);
  // Awaited later; a failure before then must not count as an unhandled rejection.
  ready.catch(() => undefined);
  return { shim, ready };
}

export async function spawnShim(args: string[], what: string, logFile: string): Promise<{ shim: ShimChild; guestPid: number }> {
  const { shim, ready } = await startShim(args, what, logFile);
  return { shim, guestPid: await ready };
}

/**
 * The command the init shim runs when its netns's links change (`docker network connect`): this
 * CLI, as it runs now, with `network-sync`; its errors go to the shim's log.
 */
function writeNetworkSyncCommand(root: string, id: string, runDir: string, shimLog: string): string {
  const file = join(runDir, 'network-sync.json');
  writeFileSync(
    file,
    JSON.stringify([
      process.execPath,
      fileURLToPath(new URL('main.js', import.meta.url)),
      '--root',
      root,
      '--log',
      shimLog,
      '--log-format',
      'json',
      'network-sync',
      id,
    ]),
  );
  return file;
}

/** Waits until `pid` has joined the network namespace at `netnsPath` (the shim does it itself). */
async function awaitInNetns(ref: ProcessRef, netnsPath: string, logFile: string): Promise<void> {
  const target = identity(netnsPath);
  if (target === undefined) throw new RuntimeError(`the network namespace ${netnsPath} does not exist`);
  const deadline = Date.now() + 10000;
  for (;;) {
    // Unreadable (undefined) while the process starts or after it ended: decided below.
    if (identity(`/proc/${ref.pid}/ns/net`) === target) return;
    if (!isAlive(ref)) throw new RuntimeError(`the shim exited at start: ${tail(logFile) || 'no output'}`);
    if (Date.now() > deadline) throw new RuntimeError(`the shim did not join the network namespace ${netnsPath} within 10 s`);
    await sleep(5);
  }
}

/** What QEMU's end during a create says: the end of its log, or of the guest's console. */
function qemuExitedAtStart(qemuLog: string, consoleLog: string): RuntimeError {
  return new RuntimeError(`QEMU exited at start: ${tail(qemuLog) || tail(consoleLog) || 'no output'}`);
}

/** Waits for QEMU to serve the agent socket (it creates it right after it starts). */
async function awaitSocket(path: string, qemu: ProcessRef, consoleLog: string, qemuLog: string): Promise<void> {
  const deadline = Date.now() + 10000;
  while (!existsSync(path)) {
    if (!isAlive(qemu)) throw qemuExitedAtStart(qemuLog, consoleLog);
    if (Date.now() > deadline) throw new RuntimeError(`QEMU did not open ${path} within 10 s`);
    await sleep(10);
  }
}

function warnBusyCgroups(busy: string[], logger: Logger): void {
  if (busy.length > 0) logger.warn(`cgroups still hold processes, left in place: ${busy.join(', ')}`);
}

/** Undo steps of a create, run in reverse when a later step fails. */
type Undo = Array<() => void | Promise<void>>;

async function undoAll(undo: Undo, id: string, logger: Logger): Promise<void> {
  for (const step of undo.reverse()) {
    try {
      await step();
    } catch (undoErr) {
      logger.warn(`cleanup after a failed create of ${id}: ${errorMessage(undoErr)}`);
    }
  }
}

/** The container's folder (its id taken) and socket folder, and its first state. */
function beginCreate(opts: CreateOptions, undo: Undo, vm: ContainerState['vm']): ContainerState {
  const { root, id, bundle } = opts;
  const config = bundle.config;
  if (config.process?.terminal && !opts.consoleSocket) {
    throw new RuntimeError(`${bundle.configPath}: process.terminal is true: a terminal needs --console-socket (or set "terminal": false)`);
  }
  const dir = containerDir(root, id);
  ensureDir(root);
  try {
    mkdirSync(dir, { mode: 0o711 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new RuntimeError(`container with id "${id}" already exists`);
    throw err;
  }
  undo.push(() => removeContainerDir(dir));
  const runDir = runDirFor(root, id);
  mkdirSync(runDir, { recursive: true, mode: 0o700 });
  undo.push(() => rmSync(runDir, { recursive: true, force: true }));
  // Saved after every step, so that `delete --force` can undo a create that was killed half-way.
  const state: ContainerState = {
    vmrt: 1,
    id,
    bundle: bundle.dir,
    rootfs: bundle.rootfs,
    created: new Date().toISOString(),
    ociVersion: config.ociVersion,
    annotations: config.annotations ?? {},
    runDir,
    mounts: [],
    netns: { path: '' },
    cgroups: [],
    accelerator: opts.accelerator.accelerator,
    started: false,
    hooks: { poststart: config.hooks?.poststart ?? [], poststop: config.hooks?.poststop ?? [] },
    vm,
  };
  writeState(root, state);
  return state;
}

/** The shim in the container's host cgroup (config's cgroupsPath) and network namespace. */
async function settleShim(
  opts: CreateOptions,
  state: ContainerState,
  shim: ShimChild,
  ready: Promise<number>,
  undo: Undo,
): Promise<ProcessRef> {
  const config = opts.bundle.config;
  if (shim.pid === undefined) await ready;
  let shimRef: ProcessRef;
  try {
    shimRef = refOf(shim.pid!);
  } catch {
    // The shim ended already: its ready promise says how.
    await ready;
    throw new RuntimeError('the shim ended at start');
  }
  state.shim = shimRef;
  const cgroupsPath = config.linux?.cgroupsPath;
  state.cgroups = cgroupsPath ? joinCgroup(cgroupsPath, [shimRef.pid]) : [];
  // Also beside the sockets: a delete after the state folder was removed still finds them.
  writeFileSync(cgroupsRecordOf(state.runDir), JSON.stringify(state.cgroups));
  // Undone in reverse: the shim (and every process after it) ends before its cgroups go.
  undo.push(async () => warnBusyCgroups(await removeCgroups(state.cgroups), opts.logger));
  undo.push(() => terminate(shimRef, 0));
  writeState(opts.root, state);
  applyBlockIO(state.cgroups, config.linux?.resources?.blockIO as BlockIO | undefined);
  await awaitInNetns(shimRef, state.netns.path, shimLogOf(opts.root, opts.id));
  return shimRef;
}

async function runCreateHooks(opts: CreateOptions, state: ContainerState): Promise<void> {
  const hooks = opts.bundle.config.hooks;
  const hooksState = hookState(state, 'created');
  await runHooks(hooks?.createRuntime, hooksState, 'createRuntime');
  await runHooks(hooks?.prestart, hooksState, 'prestart');
}

/** The last step of a create: the guest process exists. */
function finishCreate(opts: CreateOptions, state: ContainerState, guestPid: number): void {
  state.guestPid = guestPid;
  writeState(opts.root, state);
  if (opts.pidFile) writePidFile(opts.pidFile, state.shim!.pid);
}

/** The way to a container's agent: the mux of the init shim of its VM (its own, or its pod's). */
export function muxSocketOf(state: ContainerState): string {
  return muxSocket(state.pod?.vmRunDir ?? state.runDir);
}

/** Where a container's rootfs and volumes are shared with its VM. */
export function sharedDirOfState(root: string, state: ContainerState): string {
  return state.pod?.sharedDir ?? sharedDirOf(root, state.id);
}

/** The spec as the agent takes it: the process's rlimits in full, and the VM's settings resolved. */
function forTheAgent(guestConfig: Config, accelerator: string): Config {
  if (guestConfig.process) guestConfig.process.rlimits = inheritedRlimits(guestConfig.process.rlimits);
  const shared = sharedMmapLayoutWanted(guestConfig.annotations, accelerator);
  guestConfig.annotations = { ...guestConfig.annotations, [SHARED_MMAP_LAYOUT_ANNOTATION]: shared ? 'on' : 'off' };
  return guestConfig;
}

/**
 * A container of a pod (pod.ts): created by the agent of `join.vm`'s VM, its rootfs and volumes
 * shared through a subfolder of that VM's shared folder, with a shim of its own that reaches the
 * agent through the VM's mux. No QEMU, no network of its own: the VM's.
 */
async function createInPod(opts: CreateOptions, join_: PodJoin): Promise<Created> {
  const { root, id, bundle, logger } = opts;
  const { vm } = join_;
  const undo: Undo = [];
  try {
    const state = beginCreate(opts, undo, vm.vm);
    const sub = `${POD_SUBFOLDER_PREFIX}${state.runDir.slice(-12)}`;
    state.pod = { vm: vm.id, vmRunDir: vm.runDir, sharedDir: join(sharedDirOf(root, vm.id), sub) };
    state.netns = { path: vm.netns.path };
    writeState(root, state);
    undo.push(() => removeShared(state.pod!.sharedDir));
    const guestConfig = forTheAgent(
      populateShared(bundle.config, bundle.rootfs, state.pod.sharedDir, state.mounts, `${GUEST_SHARED}/${sub}`),
      vm.accelerator,
    );
    if (join_.shares.length > 0) {
      guestConfig.annotations = {
        ...guestConfig.annotations,
        [SHARE_ANNOTATION]: JSON.stringify(Object.fromEntries(join_.shares.map((s) => [s.type, vm.id]))),
      };
    }
    writeState(root, state);
    const specFile = join(state.runDir, 'spec.json');
    writeFileSync(specFile, JSON.stringify(guestConfig));
    const shimArgs = ['join', '--mux-socket', muxSocket(vm.runDir), '--id', id, '--spec', specFile, '--netns', state.netns.path];
    if (opts.consoleSocket) shimArgs.push('--console-socket', opts.consoleSocket);
    const { shim, ready } = await startShim(
      shimArgs,
      `creating container "${id}" in the VM of "${vm.id}"`,
      shimLogOf(root, id),
      consoleLogOf(root, vm.id),
    );
    // The agent may hold the container already (even one whose create failed there).
    undo.push(() => forgetInPodVm(state));
    // The agent's create waits for no hook: the process starts only at `start`, after them.
    await settleShim(opts, state, shim, ready, undo);
    await runCreateHooks(opts, state);
    finishCreate(opts, state, await ready);
    logger.debug(`container ${id} created in the VM of ${vm.id}: shim ${state.shim!.pid}, guest pid ${state.guestPid}`);
    return { state, shim };
  } catch (err) {
    await undoAll(undo, id, logger);
    throw err;
  }
}

export async function createContainer(opts: CreateOptions): Promise<Created> {
  const { root, id, bundle, logger } = opts;
  const config = bundle.config;
  requireGuest();
  if (opts.pod) return createInPod(opts, opts.pod);
  const undo: Undo = [];
  // The boot timeline: one debug line per phase (VMRT_DEBUG_LOG collects them under Docker), named
  // by container: the CLI server runs the creates of many in one process.
  const began = Date.now();
  const phase = (name: string) => logger.debug(`phase ${name}: ${Date.now() - began} ms (container ${id})`);
  try {
    const state = beginCreate(opts, undo, {
      vcpus: vcpusFor(config.annotations),
      memoryMiB: memoryMiBFor(config.linux?.resources, config.annotations),
    });
    const { runDir } = state;
    const dir = containerDir(root, id);
    // QEMU's uid (jail.ts): its taps, sockets and files are made for it.
    const jail = await prepareJail(runDir);

    const sharedDir = sharedDirOf(root, id);
    undo.push(() => removeShared(sharedDir));
    const guestConfig = forTheAgent(populateShared(config, bundle.rootfs, sharedDir, state.mounts), opts.accelerator.accelerator);
    const specFile = join(runDir, 'spec.json');

    const given = netnsPathFromConfig(config);
    if (given) {
      state.netns = { path: given };
    } else {
      const name = netnsNameFor(runDir);
      state.netns = { path: createNetns(name), name };
      undo.push(() => deleteNetns(name));
    }
    writeState(root, state);

    // The shim first: it joins the netns, so its pid is the hooks' state.pid (Docker's network
    // hook configures /proc/<pid>/ns/net); it sends the spec only once QEMU's agent answers.
    const consoleLog = consoleLogOf(root, id);
    const shimLog = shimLogOf(root, id);
    const shimArgs = [
      'init',
      '--agent-socket',
      agentSocket(runDir),
      '--mux-socket',
      muxSocket(runDir),
      '--id',
      id,
      '--spec',
      specFile,
      '--netns',
      state.netns.path,
      '--network-sync',
      writeNetworkSyncCommand(root, id, runDir, shimLog),
      '--serial-log',
      consoleLog,
    ];
    if (opts.consoleSocket) shimArgs.push('--console-socket', opts.consoleSocket);
    const { shim, ready } = await startShim(shimArgs, `creating container "${id}" in its VM`, shimLog, consoleLog);
    const shimRef = await settleShim(opts, state, shim, ready, undo);
    phase('shim in the netns');

    const qemuLog = join(dir, 'qemu.log');
    const template = await templateFor(config.annotations, opts, state.vm, logger);
    state.template = template?.key;
    if (template) phase('template ready');
    /** The file server of the shared folder, of the kind a templated or a cold-booted VM needs. */
    const serveShare = async (templated: boolean): Promise<ShareServer> => {
      const { share, daemon } = await startShareServer(sharedFolderKind(templated), runDir, sharedDir, dir, jail);
      state.shareServer = daemon;
      if (daemon) {
        undo.push(() => terminate(daemon, 0));
        addToCgroups(state.cgroups, daemon.pid);
      }
      writeState(root, state);
      return share;
    };
    const share = await serveShare(template !== undefined);
    // The VM starts while the hooks run. They configure the netns, so its NICs come after them:
    // a template's VM is loaded (with the template's NIC on a tap made now) and stays paused, a
    // cold one boots with empty root ports. Its agent socket gets its name once the NICs are in
    // and the spec is written: the shim waits.
    const pendingSocket = `${agentSocket(runDir)}.pending`;
    const layout: VmLayout = {
      accelerator: opts.accelerator.accelerator,
      share,
      agentSocket: pendingSocket,
      qmpSocket: qmpSocket(runDir),
      consoleLog,
      vcpus: state.vm.vcpus,
      memoryMiB: state.vm.memoryMiB,
      templateMemory: template ? { role: 'clone' } : undefined,
      memoryMerge: memoryMergeWanted(config.annotations),
    };
    const spawnQemu = (args: string[]): ProcessRef => {
      const qemuLogFd = openSync(qemuLog, 'a');
      const [nsenter, ...nsArgs] = [...qemuMemoryWrapper(layout, shimPath()), ...inNetns(state.netns!.path)];
      const jailed = jailQemu(
        {
          jail,
          accelerator: layout.accelerator,
          runDir,
          consoleLog,
          // Every container's folder is under the state root.
          hide: [root, templatesDir()],
        },
        qemuPath(),
        args,
      );
      logger.debug(`starting QEMU as uid ${jail.uid}: ${jailed.join(' ')}`);
      phase('QEMU spawned');
      const memory = template && layout.templateMemory ? openTemplateMemory(template) : undefined;
      let qemuPid: number;
      try {
        qemuPid = spawnDaemon(nsenter!, [...nsArgs, ...jailed], qemuLogFd, undefined, memory);
      } finally {
        closeSync(qemuLogFd);
        if (memory !== undefined) closeSync(memory);
      }
      const qemu = refOf(qemuPid);
      state.qemu = qemu;
      undo.push(() => terminate(qemu, 0));
      addToCgroups(state.cgroups, qemu.pid);
      writeState(root, state);
      return qemu;
    };
    let starting: Promise<Qmp> | undefined;
    // Undone after QEMU is gone (undo runs backwards), so that a start under way ends at once.
    undo.push(async () => (await starting?.catch(() => undefined))?.close());
    // The template's NIC attaches to its tap at QEMU's start.
    const templateTap = template ? makeTemplateTap(state.netns.path, jail) : undefined;
    if (templateTap) undo.push(() => removeTap(state.netns!.path, templateTap));
    starting = template
      ? loadTemplate(template, qmpSocket(runDir), spawnQemu([...templatedQemuArgs(layout, templateTap!), '-incoming', 'defer']))
      : Qmp.ofStarting(
          qmpSocket(runDir),
          spawnQemu([...qemuArgs(layout), ...earlyRootPortArgs(), ...(opts.deviceArgs ?? [])]),
          QMP_TIMEOUT_MS,
        );
    // Awaited after the hooks; a failure meanwhile must not end the process unhandled.
    starting.catch(() => undefined);
    await runCreateHooks(opts, state);

    phase('hooks run');
    // What the hooks configured moves into the VM.
    const network = readNetwork(state.netns.path, templateTap ? { tap: templateTap } : undefined);
    if (guestConfig.linux) guestConfig.linux.sysctl = { ...disabledIpv6Sysctls(state.netns.path), ...guestConfig.linux.sysctl };
    const nicsLeftOut = tooManyNics(network.interfaces);
    if (network.interfaces.length > 0 || network.unused) {
      state.network = network;
      writeState(root, state);
      wireNetwork(state.netns.path, network, jail);
      // A cold VM after all has every NIC at boot, with its own MAC.
      if (nicsLeftOut) for (const nic of network.interfaces) delete nic.templateMac;
      guestConfig.annotations = { ...guestConfig.annotations, [NETWORK_ANNOTATION]: JSON.stringify(network) };
    }
    if (opts.restore) {
      const { criuArgs } = opts.restore;
      const guest = shareCheckpoint(dir, sharedDir, opts.restore, state.mounts);
      writeState(root, state);
      guestConfig.annotations = { ...guestConfig.annotations, [RESTORE_ANNOTATION]: JSON.stringify({ ...guest, criuArgs }) };
    }
    writeFileSync(specFile, JSON.stringify(guestConfig));
    phase('network wired, spec written');

    if (!nicsLeftOut) {
      try {
        const hotPlugged = network.interfaces.filter((nic) => !nic.templateMac);
        await releaseVm(await starting, hotPlugged, template !== undefined, pendingSocket, agentSocket(runDir));
      } catch (err) {
        throw isAlive(state.qemu) ? err : qemuExitedAtStart(qemuLog, consoleLog);
      }
      phase(template ? 'VM restored, NICs plugged' : 'NICs plugged');
    } else {
      // A cold boot with every NIC and its root port at boot, and a file server of its own (the
      // file servers serve one QEMU each).
      logger.debug(`a new VM after the hooks: ${nicsLeftOut}`);
      (await starting.catch(() => undefined))?.close();
      await terminate(state.qemu, 0);
      await terminate(state.shareServer, 0);
      state.template = undefined;
      layout.share = await serveShare(false);
      layout.agentSocket = agentSocket(runDir);
      layout.templateMemory = undefined;
      spawnQemu([...qemuArgs(layout), ...nicArgs(network), ...(opts.deviceArgs ?? [])]);
    }
    const qemu = state.qemu!;
    await awaitSocket(agentSocket(runDir), qemu, consoleLog, qemuLog);
    phase('agent socket served');
    finishCreate(opts, state, await ready);
    phase('container created in the guest');
    logger.debug(
      `container ${id} created: shim ${shimRef.pid}, QEMU ${qemu.pid} (${opts.accelerator.accelerator}), guest pid ${state.guestPid}`,
    );
    return { state, shim };
  } catch (err) {
    await undoAll(undo, id, logger);
    throw err;
  }
}

/**
 * The template the container's VM is restored from, made on first use; undefined for a cold boot.
 * Chosen before the hooks, so before the NICs are known: a create with more NICs than the VM has
 * root ports for (tooManyNics) boots cold after all.
 */
async function templateFor(
  annotations: Record<string, string> | undefined,
  opts: CreateOptions,
  vm: ContainerState['vm'],
  logger: Logger,
): Promise<Template | undefined> {
  if (!templateWanted(annotations)) return undefined;
  const coldBecause = coldBootReason(opts.deviceArgs ?? []) ?? (opts.restore ? 'a checkpoint is restored' : undefined);
  if (coldBecause) {
    logger.debug(`cold boot instead of a template: ${coldBecause}`);
    return undefined;
  }
  return ensureTemplate({ accelerator: opts.accelerator.accelerator, vcpus: vm.vcpus, memoryMiB: vm.memoryMiB }, logger);
}

/** Mount points at or under `path`, parents before what is mounted inside them (as mounted). */
function mountsUnder(path: string): string[] {
  const points = hostMountPoints().filter((point) => point === path || point.startsWith(`${path}/`));
  return points.sort((a, b) => a.length - b.length);
}

function mountedUnder(path: string): boolean {
  return mountsUnder(path).length > 0;
}

/**
 * Unmounts the shared folder's mounts and removes its (now empty) mount points, one by one and
 * never recursively: a recursive remove of a folder still mounted would delete the user's files.
 */
export function removeShared(sharedDir: string): void {
  // Every mount under it, recorded or not (a create killed half-way records nothing), deepest first.
  const failures = unmountAll(mountsUnder(sharedDir));
  if (!existsSync(sharedDir)) return;
  if (mountedUnder(sharedDir)) throw new RuntimeError(`cannot unmount everything under ${sharedDir}: ${failures.join('; ')}`);
  removeMountPoints(sharedDir);
}

/** Removes a folder of (unmounted) mount points: empty folders and files; the subfolders of a pod's containers too. */
function removeMountPoints(dir: string): void {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (!statSync(path).isDirectory()) unlinkSync(path);
    else if (name.startsWith(POD_SUBFOLDER_PREFIX)) removeMountPoints(path);
    else rmdirSync(path);
  }
  rmdirSync(dir);
}

/** Removes a container folder, refusing while anything under it is mounted. */
function removeContainerDir(dir: string): void {
  if (mountedUnder(dir)) throw new RuntimeError(`not removing ${dir}: something under it is still mounted`);
  rmSync(dir, { recursive: true, force: true });
}

/** Pids of the exec shims of a container that are still running. */
export function execShims(runDir: string): ProcessRef[] {
  const dir = execDirOf(runDir);
  try {
    return readdirSync(dir).flatMap((name) => {
      try {
        return [JSON.parse(readFileSync(join(dir, name), 'utf8')) as ProcessRef];
      } catch {
        return [];
      }
    });
  } catch {
    return [];
  }
}

/**
 * A container of a pod leaves its VM, which goes on for the others: the agent kills what runs of
 * it and forgets it. Nothing to do when the VM is gone (its processes went with it).
 */
async function forgetInPodVm(state: ContainerState): Promise<void> {
  if (!state.pod || !existsSync(muxSocketOf(state))) return;
  await muxRequest(muxSocketOf(state), { op: 'delete', id: state.id }, AGENT_DELETE_TIMEOUT_MS).catch((err: unknown) => {
    if (!/does not exist|cannot reach|closed the connection/.test(errorMessage(err))) throw err;
  });
}

function recordedCgroups(runDir: string): string[] {
  try {
    const dirs: unknown = JSON.parse(readFileSync(cgroupsRecordOf(runDir), 'utf8'));
    const mounts = cgroupMounts();
    const isCgroup = (dir: unknown): dir is string => typeof dir === 'string' && mounts.some((m) => dir.startsWith(`${m.mountPoint}/`));
    return Array.isArray(dirs) ? dirs.filter(isCgroup) : [];
  } catch {
    return [];
  }
}

/**
 * What is left of container `id` whose state.json is gone (its state folder removed under it):
 * a state rebuilt from what the host shows (the processes naming its socket folder, its netns,
 * its folders), enough to signal it through its mux and to delete it; undefined when nothing is left.
 */
export function remainsOf(root: string, id: string): ContainerState | undefined {
  // A state.json that is not ours is another runtime's container (Docker shares the root with runc).
  if (existsSync(stateFile(root, id))) return undefined;
  const runDir = runDirFor(root, id);
  const processes = processesMentioning(`${runDir}/`);
  const netnsName = netnsNameFor(runDir);
  const netnsPath = join(NETNS_DIR, netnsName);
  const hasNetns = existsSync(netnsPath);
  if (processes.length === 0 && !hasNetns && !existsSync(runDir) && !existsSync(containerDir(root, id))) return undefined;
  const initShim = processes.find((p) => p.cmdline.includes('vmrt-shim init '));
  return {
    vmrt: 1,
    id,
    bundle: '',
    rootfs: '',
    created: '',
    ociVersion: '',
    annotations: {},
    runDir,
    mounts: [],
    netns: hasNetns ? { path: netnsPath, name: netnsName } : { path: '' },
    cgroups: recordedCgroups(runDir),
    accelerator: '',
    qemu: processes.find((p) => p.cmdline.includes('qemu-system')),
    shim: initShim,
    // Unknown: the init's guest pid was in the state; an init shim alive means it was created.
    guestPid: initShim ? 0 : undefined,
    started: true,
    hooks: { poststart: [], poststop: [] },
    vm: { vcpus: 0, memoryMiB: 0 },
  };
}

/** The state of `id`, or, when its state.json is gone, its remains (remainsOf); undefined when nothing is left. */
export function stateOrRemains(root: string, id: string): ContainerState | undefined {
  return readState(root, id) ?? remainsOf(root, id);
}

/** stateOrRemains, or a "does not exist" error. */
export function loadStateOrRemains(root: string, id: string): ContainerState {
  validateId(id);
  const state = stateOrRemains(root, id);
  if (!state) throw new RuntimeError(`container "${id}" does not exist`);
  return state;
}

/** The state of `id` for what needs all of it: a clear error when only its remains are left. */
export function loadWholeState(root: string, id: string): ContainerState {
  validateId(id);
  const state = readState(root, id);
  if (state) return state;
  if (remainsOf(root, id))
    throw new RuntimeError(
      `the state of container "${id}" (${stateFile(root, id)}) is gone: \`vmrt delete --force ${id}\` ends and removes what is left of it`,
    );
  throw new RuntimeError(`container "${id}" does not exist`);
}

/** Ends every host process of the container and removes everything create made. */
export async function destroyContainer(root: string, state: ContainerState, logger: Logger): Promise<void> {
  await forgetInPodVm(state).catch((err: unknown) => logger.warn(`delete ${state.id} in the VM of ${state.pod!.vm}: ${errorMessage(err)}`));
  // The guest's files live on the host (virtio-fs or 9p): there is nothing to flush, so QEMU is killed at once.
  // Every process of the container names its socket folder (a create killed half-way may not
  // have recorded them all).
  const refs = new Map<number, ProcessRef>();
  for (const ref of [...execShims(state.runDir), state.shim, state.qemu, state.shareServer, ...processesMentioning(`${state.runDir}/`)]) {
    if (ref && !refs.has(ref.pid)) refs.set(ref.pid, ref);
  }
  for (const ref of refs.values()) signalProcess(ref, 'SIGKILL');
  for (const ref of refs.values()) await terminate(ref, 0);
  const problems: string[] = [];
  const attempt = (what: string, step: () => void) => {
    try {
      step();
    } catch (err) {
      problems.push(`${what}: ${errorMessage(err)}`);
    }
  };
  attempt('unmount', () => removeShared(sharedDirOfState(root, state)));
  if (state.netns.name) attempt('netns', () => deleteNetns(state.netns.name!));
  else if (state.network && state.netns.path) unwireNetwork(state.netns.path, state.network);
  warnBusyCgroups(await removeCgroups(state.cgroups), logger);
  attempt('run folder', () => rmSync(state.runDir, { recursive: true, force: true }));
  if (problems.length > 0) {
    for (const p of problems) logger.warn(p);
    throw new RuntimeError(`deleting container "${state.id}" left things behind: ${problems.join('; ')}`);
  }
  removeContainerDir(containerDir(root, state.id));
  await runHooksWarning(state.hooks.poststop, hookState(state, 'stopped'), 'poststop', (message) => logger.warn(message));
}
