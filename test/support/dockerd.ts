/**
 * A private Docker daemon for the tests: Debian's dockerd (with the containerd it starts) in a
 * temporary folder of its own (data root, exec root, pid file, socket), vmrt registered as the
 * runtime `vmrt` (or, for the set-up tests, not: a daemon.json of its own that registration merges into). Fails loudly when dockerd is missing: these tests must not pass by skipping.
 */
import { spawn, spawnSync, type ChildProcess, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes, randomInt } from 'node:crypto';
import { before, after } from 'node:test';
import { importBusyboxImage, REPO } from './images.js';
import { hostProgram } from './host-program.js';
import { processesMentioning } from '../../runtime/src/proc.js';
import { hostMountPoints } from '../../runtime/src/jail.js';

export interface DockerResult {
  status: number;
  stdout: string;
  stderr: string;
}

export interface Dockerd {
  dir: string;
  socket: string;
  execRoot: string;
  /** Its --config-file, when started without vmrt registered. */
  daemonJson?: string;
  /** The root vmrt is called with: <exec-root>/runtime-runc/moby. */
  runtimeRoot: string;
  /** Runs the docker CLI against this daemon. */
  docker(args: string[], options?: { input?: string | Buffer; timeoutMs?: number }): DockerResult;
  /** Like docker(), but throws unless it exits 0; returns stdout. */
  dockerOk(args: string[], input?: Buffer): string;
  /** Starts a docker CLI process (for tests that talk to it while it runs). */
  spawnDocker(args: string[]): ChildProcess;
  /** Removes every container (first, before stop: a daemon stopping with VMs running leaves QEMU to its shims). */
  removeAllContainers(): void;
  /** dockerd ended (SIGTERM) and started again with the same flags; resolves once it answers. */
  restart(): Promise<void>;
  /** The pid of dockerd (undefined once it ended). */
  dockerdPid(): number | undefined;
  /** The pid of the containerd that dockerd started (undefined while it has none). */
  containerdPid(): number | undefined;
  stop(): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * A bridge name (`prefix` and random) and a /24 subnet (its first three octets) of their own:
 * daemons started at once (other tests) must not share a bridge and hand out the same addresses.
 */
export function privateBridge(prefix: string): { bridge: string; subnet: string } {
  return { bridge: `${prefix}${randomBytes(3).toString('hex')}`, subnet: `10.${100 + randomInt(100)}.${randomInt(256)}` };
}

/**
 * Deletes every vmrt container left under `runtimeRoot` with this checkout's runtime, which reads
 * the same state (its VM, netns and socket folder go too): for a daemon that could not.
 */
export function deleteVmrtContainers(runtimeRoot: string): void {
  const launcher = join(REPO, 'runtime', 'bin', 'vmrt');
  for (const id of existsSync(runtimeRoot) ? readdirSync(runtimeRoot) : []) {
    if (existsSync(join(runtimeRoot, id, 'state.json')))
      spawnSync(launcher, ['--root', runtimeRoot, 'delete', '--force', id], { stdio: 'ignore', timeout: 60000 });
  }
}

/** Removes a daemon's folder `dir`, first unmounting what is mounted under it (deepest first). */
export function removeFolderAndMounts(dir: string): void {
  const mounts = hostMountPoints()
    .filter((point) => point.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
  for (const point of mounts) spawnSync('umount', ['-l', point], { stdio: 'ignore' });
  rmSync(dir, { recursive: true, force: true });
}

/**
 * `extraArgs` go to dockerd (e.g. `--default-runtime vmrt`). `registerVmrt: false`: no --add-runtime,
 * and a --config-file holding one setting of its own, for a set-up to merge vmrt into and SIGHUP.
 */
export async function startDockerd(extraArgs: string[] = [], { registerVmrt = true } = {}): Promise<Dockerd> {
  hostProgram('dockerd', 'docker.io');
  hostProgram('containerd', 'containerd');
  hostProgram('docker', 'docker.io');
  const launcher = join(REPO, 'runtime', 'bin', 'vmrt');
  if (!existsSync(launcher)) throw new Error(`${launcher} missing: run runtime/install-launcher.sh`);
  // Short: dockerd's and containerd's sockets live under it.
  const dir = mkdtempSync('/tmp/vd-');
  const socket = join(dir, 'docker.sock');
  const execRoot = join(dir, 'exec');
  const runtimeRoot = join(execRoot, 'runtime-runc', 'moby');
  const logFd = openSync(join(dir, 'dockerd.log'), 'a');
  const tmp = join(dir, 'tmp');
  mkdirSync(tmp);
  const daemonJson = join(dir, 'daemon.json');
  if (!registerVmrt) writeFileSync(daemonJson, '{ "max-concurrent-downloads": 2 }\n');
  const { bridge, subnet } = privateBridge('vd');
  for (const args of [
    ['link', 'add', 'name', bridge, 'type', 'bridge'],
    ['addr', 'add', `${subnet}.1/24`, 'dev', bridge],
    ['link', 'set', bridge, 'up'],
  ]) {
    const r = spawnSync('ip', args, { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`ip ${args.join(' ')}: ${r.stderr}`);
  }
  const dockerdArgs = [
    '--data-root',
    join(dir, 'data'),
    '--exec-root',
    execRoot,
    '--pidfile',
    join(dir, 'dockerd.pid'),
    '-H',
    `unix://${socket}`,
    ...(registerVmrt ? ['--add-runtime', `vmrt=${launcher}`] : ['--config-file', daemonJson]),
    '--storage-driver',
    'overlay2',
    '--bridge',
    bridge,
    ...extraArgs,
  ];
  let daemon: ChildProcess;
  let exited = false;
  const launch = () => {
    exited = false;
    daemon = spawn(
      'dockerd',
      dockerdArgs,
      // A temporary folder of its own: containerd leaves its checkpoint images in TMPDIR, and they go
      // with the daemon's folder.
      { stdio: ['ignore', logFd, logFd], detached: true, env: { ...process.env, TMPDIR: tmp } },
    );
    daemon.on('exit', () => {
      exited = true;
    });
  };
  launch();

  const env = { ...process.env, DOCKER_HOST: `unix://${socket}`, DOCKER_CONFIG: join(dir, 'cli') };
  const docker = (args: string[], options: { input?: string | Buffer; timeoutMs?: number } = {}): DockerResult => {
    const r: SpawnSyncReturns<string> = spawnSync('docker', args, {
      env,
      input: options.input,
      encoding: 'utf8',
      timeout: options.timeoutMs ?? 180000,
      maxBuffer: 64 * 1024 * 1024,
    });
    return { status: r.status ?? (r.signal ? 128 : 1), stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
  };
  const dockerOk = (args: string[], input?: Buffer): string => {
    const r = docker(args, { input });
    if (r.status !== 0) throw new Error(`docker ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
    return r.stdout;
  };

  const endDockerd = async () => {
    if (exited) return;
    daemon.kill('SIGTERM');
    for (let i = 0; i < 300 && !exited; i++) await sleep(100);
    if (!exited) daemon.kill('SIGKILL');
    for (let i = 0; i < 50 && !exited; i++) await sleep(100);
  };
  // Under the exec root; written by dockerd when it starts containerd.
  const containerdPidFile = join(execRoot, 'containerd', 'containerd.pid');
  const containerdPid = () => {
    try {
      const pid = Number(readFileSync(containerdPidFile, 'utf8'));
      return pid > 0 && existsSync(`/proc/${pid}`) ? pid : undefined;
    } catch {
      return undefined;
    }
  };

  const stop = async () => {
    // The bridges of the networks tests made (docker network create, compose) outlive dockerd.
    const networkIds = docker(['network', 'ls', '-q', '--no-trunc', '--filter', 'type=custom'], { timeoutMs: 10000 }).stdout.split('\n');
    await endDockerd();
    // dockerd stops the containerd it started; make sure of it.
    const leftContainerd = containerdPid();
    if (leftContainerd !== undefined) {
      try {
        process.kill(leftContainerd, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
    // A vmrt container Docker could not delete (the runtime it was registered with is gone, as
    // when a test's VS Code removed the extension that carried it).
    deleteVmrtContainers(runtimeRoot);
    // A container's containerd shim outlives a killed containerd: nothing else would end it.
    for (const shim of processesMentioning(join(execRoot, 'containerd', 'containerd.sock'))) {
      try {
        process.kill(shim.pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
    // dockerd leaves mounts in its folders (e.g. netns/default, the host's netns for --network host).
    removeFolderAndMounts(dir);
    spawnSync('ip', ['link', 'del', bridge], { stdio: 'ignore' });
    for (const id of networkIds.filter((line) => /^[0-9a-f]{12,}$/.test(line))) {
      spawnSync('ip', ['link', 'del', `br-${id.slice(0, 12)}`], { stdio: 'ignore' });
    }
  };

  /** Waits until dockerd answers; on failure, `onFailure` runs before the error with its log's tail. */
  const awaitAnswer = async (onFailure: () => Promise<void>) => {
    const deadline = Date.now() + 60000;
    while (docker(['version', '--format', '{{.Server.Version}}'], { timeoutMs: 10000 }).status !== 0) {
      if (exited || Date.now() > deadline) {
        const log = readFileSync(join(dir, 'dockerd.log'), 'utf8').split('\n').slice(-20).join('\n');
        await onFailure();
        throw new Error(`dockerd did not start:\n${log}`);
      }
      await sleep(250);
    }
  };
  await awaitAnswer(stop);
  return {
    dir,
    socket,
    execRoot,
    daemonJson: registerVmrt ? undefined : daemonJson,
    runtimeRoot,
    docker,
    dockerOk,
    spawnDocker: (args) => spawn('docker', args, { env, stdio: 'pipe' }),
    removeAllContainers: () => {
      const ids = docker(['ps', '-aq']).stdout.split('\n').filter(Boolean);
      if (ids.length > 0) docker(['rm', '-f', ...ids]);
    },
    restart: async () => {
      await endDockerd();
      if (!exited) throw new Error('dockerd did not end on SIGTERM within 35 s');
      launch();
      await awaitAnswer(async () => undefined);
    },
    dockerdPid: () => (exited ? undefined : daemon.pid),
    containerdPid,
    stop,
  };
}

/**
 * The private dockerd of one test file: started (with `extraArgs`) before its tests with the
 * busybox image `image` imported (`started` receives it), emptied and stopped after them
 * (`cleanup` runs in between).
 */
export function dockerdForFile(
  image: string,
  started: (d: Dockerd) => void,
  cleanup?: (d: Dockerd) => void,
  extraArgs: string[] = [],
): void {
  let daemon: Dockerd | undefined;
  before(async () => {
    const d = await startDockerd(extraArgs);
    daemon = d;
    importBusyboxImage((args, input) => d.dockerOk(args, input), d.dir, image);
    started(d);
  });
  after(async () => {
    if (!daemon) return;
    daemon.removeAllContainers();
    cleanup?.(daemon);
    await daemon.stop();
  });
}
