/**
 * The compatibility suite's support (test/compat/): a private dockerd per test file with the
 * Debian image (scripts/make-debian-rootfs.sh, `docker import`ed), and helpers that run the same
 * thing with `--runtime runc` and `--runtime vmrt` at once and assert that what a user sees is
 * the same. runc is the reference: a difference is vmrt's, shown with both observations.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { join } from 'node:path';
import { startDockerd, type DockerResult, type Dockerd } from './dockerd.js';
import { REPO } from './images.js';
import { assertNothingLeft } from './leftovers.js';
import { hostProgram } from './host-program.js';

export const DEBIAN = 'vmrt-compat-debian';
export const RUNTIMES = ['runc', 'vmrt'] as const;
export type Runtime = (typeof RUNTIMES)[number];

/** The cached Debian root filesystem (built on first use: debootstrap, about a minute). */
export function debianRootfs(): string {
  hostProgram('debootstrap', 'debootstrap');
  return execFileSync('bash', [join(REPO, 'scripts', 'make-debian-rootfs.sh')], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  }).trim();
}

/** `docker import`s the folder `rootfs` as `tag`, streamed (the image is hundreds of MB). */
async function importFolder(d: Dockerd, rootfs: string, tag: string): Promise<void> {
  const tar = spawn('tar', ['-C', rootfs, '-c', '.'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const imp = spawn('docker', ['import', '--change', 'CMD ["bash"]', '-', tag], {
    env: { ...process.env, DOCKER_HOST: `unix://${d.socket}`, DOCKER_CONFIG: join(d.dir, 'cli') },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  tar.stdout.pipe(imp.stdin);
  let errors = '';
  tar.stderr.on('data', (b: Buffer) => (errors += b));
  imp.stderr.on('data', (b: Buffer) => (errors += b));
  const exited = (p: ReturnType<typeof spawn>) => new Promise<number>((resolve) => p.on('close', (code) => resolve(code ?? 1)));
  const [tarStatus, importStatus] = await Promise.all([exited(tar), exited(imp)]);
  if (tarStatus !== 0 || importStatus !== 0) throw new Error(`importing ${rootfs} as ${tag}: ${errors}`);
}

/** Runs the docker CLI against `d` without blocking the event loop (scenarios run side by side). */
export function docker(d: Dockerd, args: string[], options: { input?: string; timeoutMs?: number } = {}): Promise<DockerResult> {
  return new Promise((resolve) => {
    const p = spawn('docker', args, {
      env: { ...process.env, DOCKER_HOST: `unix://${d.socket}`, DOCKER_CONFIG: join(d.dir, 'cli') },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (b: Buffer) => (stdout += b));
    p.stderr.on('data', (b: Buffer) => (stderr += b));
    const timer = setTimeout(() => p.kill('SIGKILL'), options.timeoutMs ?? 180000);
    p.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ status: code ?? (signal ? 128 : 1), stdout, stderr });
    });
    p.stdin.on('error', () => undefined); // a command that exits without reading its input
    p.stdin.end(options.input ?? '');
  });
}

/** What `docker inspect` says of a container's state, the fields a user looks at. */
export interface State {
  Status: string;
  ExitCode: number;
  OOMKilled: boolean;
}

/** What a user sees of one `docker run`: its exit status, output and the container's state after it. */
export interface Outcome {
  status: number;
  stdout: string;
  stderr: string;
  state?: State;
}

export interface Compat {
  d: Dockerd;
  /** docker CLI, async. */
  docker(args: string[], options?: { input?: string; timeoutMs?: number }): Promise<DockerResult>;
  /** Like docker(), but throws unless it exits 0; returns stdout. */
  dockerOk(args: string[], options?: { input?: string; timeoutMs?: number }): Promise<string>;
  /** A container (or network, volume, image) name unique in this file, saying the runtime. */
  name(what: string, runtime: Runtime): string;
  /** `docker run --runtime <runtime> --name … <args>` in the foreground, then its inspected state; removes it. */
  run(runtime: Runtime, args: string[], options?: { input?: string; timeoutMs?: number }): Promise<Outcome>;
  /** Starts `docker run -d --runtime <runtime> --name <name> <args>`, returns the name (throws on failure). */
  start(runtime: Runtime, name: string, args: string[]): Promise<string>;
  /** Starts a container as start() does, gives it to `use`, removes it afterwards whatever happens. */
  withContainer<T>(runtime: Runtime, what: string, args: string[], use: (name: string) => Promise<T>): Promise<T>;
  /** The state fields of a container. */
  state(name: string): Promise<State>;
  /**
   * Runs `observe` for runc and for vmrt at once and asserts that vmrt's observation equals
   * runc's (an exception is an observation too: `{ error }`).
   */
  same<T>(observe: (runtime: Runtime) => Promise<T>): Promise<void>;
  /** same() of run(): the same `docker run` arguments under both runtimes, compared after `normalise`. */
  sameUnderBoth(args: string[], normalise?: (o: Outcome) => unknown, options?: { input?: string }): Promise<void>;
}

/** Compares two observations; the message shows both in full (the report's raw material). */
export function assertSame(runc: unknown, vmrt: unknown, what = ''): void {
  assert.deepEqual(
    vmrt,
    runc,
    `vmrt differs from runc${what ? ` (${what})` : ''}:\n  runc: ${JSON.stringify(runc)}\n  vmrt: ${JSON.stringify(vmrt)}`,
  );
}

/**
 * The private dockerd of one compat test file with the Debian image `DEBIAN` imported; `ready`
 * receives the helpers. Call the function it returns after the file's last test: it adds the test
 * that no vmrt container left anything on the host. After the file, every container, network and
 * volume is removed and the daemon stopped.
 */
export function compatFile(ready: (c: Compat) => void): () => void {
  let d: Dockerd | undefined;
  const vmrtIds = new Set<string>();
  let counter = 0;
  before(async () => {
    const rootfs = debianRootfs();
    d = await startDockerd();
    await importFolder(d, rootfs, DEBIAN);
    const daemon = d;
    const c: Compat = {
      d: daemon,
      docker: (args, options) => docker(daemon, args, options),
      async dockerOk(args, options) {
        const r = await docker(daemon, args, options);
        if (r.status !== 0) throw new Error(`docker ${args.join(' ')} exited ${r.status}: ${r.stderr.trim()}`);
        return r.stdout;
      },
      name: (what, runtime) => `${what.replace(/[^\w.-]+/g, '-')}-${runtime}-${++counter}`,
      async state(name) {
        const out = await c.dockerOk(['inspect', '--format', '{{json .State}}', name]);
        const s = JSON.parse(out) as State;
        return { Status: s.Status, ExitCode: s.ExitCode, OOMKilled: s.OOMKilled };
      },
      async run(runtime, args, options) {
        const name = c.name('run', runtime);
        const r = await docker(daemon, ['run', '--runtime', runtime, '--name', name, ...args], options);
        const id = await docker(daemon, ['inspect', '--format', '{{.Id}}', name]);
        if (id.status !== 0) return { ...r };
        if (runtime === 'vmrt') vmrtIds.add(id.stdout.trim());
        const state = await c.state(name);
        await docker(daemon, ['rm', '-f', name]);
        return { ...r, state };
      },
      async start(runtime, name, args) {
        const r = await docker(daemon, ['run', '-d', '--runtime', runtime, '--name', name, ...args]);
        if (runtime === 'vmrt' && /^[0-9a-f]{64}$/.test(r.stdout.trim())) vmrtIds.add(r.stdout.trim());
        if (r.status !== 0) {
          await docker(daemon, ['rm', '-f', name]);
          throw new Error(`docker run -d --runtime ${runtime} ${args.join(' ')} exited ${r.status}: ${r.stderr.trim()}`);
        }
        return name;
      },
      async withContainer(runtime, what, args, use) {
        const name = await c.start(runtime, c.name(what, runtime), args);
        try {
          return await use(name);
        } finally {
          await docker(daemon, ['rm', '-f', name]);
        }
      },
      async same(observe) {
        const settled = await Promise.allSettled(RUNTIMES.map((runtime) => observe(runtime)));
        const [runc, vmrt] = settled.map((s) => (s.status === 'fulfilled' ? s.value : { error: String(s.reason?.message ?? s.reason) }));
        assertSame(runc, vmrt);
      },
      async sameUnderBoth(args, normalise = (o) => o, options) {
        await c.same(async (runtime) => normalise(await c.run(runtime, args, options)));
      },
    };
    ready(c);
  });
  after(async () => {
    if (!d) return;
    d.removeAllContainers();
    d.docker(['network', 'prune', '-f']);
    d.docker(['volume', 'prune', '-af']);
    await d.stop();
  });
  return () =>
    test('nothing of the vmrt containers is left on the host once they are removed', async () => {
      assert.ok(d, 'dockerd started');
      d.removeAllContainers();
      for (const id of vmrtIds) await assertNothingLeft(d.runtimeRoot, id);
    });
}
