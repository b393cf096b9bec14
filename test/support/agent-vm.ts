/**
 * Boots the real vmrt guest (runtime/build/guest/*) under QEMU TCG with the boot recipe of
 * runtime/guest/README.md and talks to its agent directly on agent.sock (no shim).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FrameDecoder, FrameType, encodeFrame, encodeJsonFrame, type Frame } from '../../runtime/src/agent/frames.js';
import { TCG_CODE_BUFFER_MIB } from '../../runtime/src/vm.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const GUEST_DIR = join(ROOT, 'runtime', 'build', 'guest');

export interface GuestFiles {
  vmlinux: string;
  initramfs: string;
  kernelRelease: string;
}

/** The build.sh outputs; throws (never skips) when they or QEMU are missing. */
export function guestFiles(): GuestFiles {
  const vmlinux = join(GUEST_DIR, 'vmlinux');
  const initramfs = join(GUEST_DIR, 'initramfs.img');
  const release = join(GUEST_DIR, 'kernel-release');
  for (const file of [vmlinux, initramfs, release]) {
    if (!existsSync(file)) {
      throw new Error(`${file} is missing: run runtime/guest/build.sh first`);
    }
  }
  if (!existsSync('/usr/bin/qemu-system-x86_64')) {
    throw new Error('qemu-system-x86_64 is missing: apt-get install qemu-system-x86');
  }
  return { vmlinux, initramfs, kernelRelease: readFileSync(release, 'utf8').trim() };
}

/** The host TSC rate in kHz: microvm sometimes hangs calibrating it without this hint. */
function hostTscKhz(): number {
  const match = /^cpu MHz\s*:\s*([\d.]+)/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
  if (!match) throw new Error('no "cpu MHz" in /proc/cpuinfo');
  return Math.round(Number(match[1]) * 1000);
}

/** The QEMU argument list of runtime/guest/README.md. */
export function qemuArgs(guest: GuestFiles, runDir: string, sharedDir: string): string[] {
  const append = [
    'console=ttyS0',
    'quiet',
    'panic=-1',
    `tsc_early_khz=${hostTscKhz()}`,
    'tsc=reliable',
    'no_timer_check',
    'cryptomgr.notests',
    'random.trust_cpu=on',
    'mitigations=off',
    'audit=0',
    'i8042.noaux',
    'i8042.nomux',
    'i8042.nopnp',
    'i8042.nokbd',
  ].join(' ');
  return [
    '-M',
    'microvm',
    '-accel',
    `tcg,tb-size=${TCG_CODE_BUFFER_MIB}`,
    '-cpu',
    'qemu64',
    '-m',
    '128',
    '-smp',
    '1',
    '-nodefaults',
    '-nographic',
    '-no-reboot',
    '-kernel',
    guest.vmlinux,
    '-initrd',
    guest.initramfs,
    '-append',
    append,
    '-serial',
    `file:${join(runDir, 'console.log')}`,
    '-device',
    'virtio-serial-device',
    '-chardev',
    `socket,id=agent,path=${join(runDir, 'agent.sock')},server=on,wait=off`,
    '-device',
    'virtserialport,chardev=agent,name=org.vmrt.agent',
    '-fsdev',
    `local,id=fs0,path=${sharedDir},security_model=none,multidevs=remap`,
    '-device',
    'virtio-9p-device,fsdev=fs0,mount_tag=vmrt',
  ];
}

/** A rootfs folder with busybox-static and a few applet links. */
export function makeBusyboxRootfs(dir: string): void {
  if (!existsSync('/bin/busybox')) throw new Error('/bin/busybox is missing: apt-get install busybox-static');
  mkdirSync(join(dir, 'bin'), { recursive: true });
  mkdirSync(join(dir, 'tmp'));
  copyFileSync('/bin/busybox', join(dir, 'bin', 'busybox'));
  for (const applet of [
    'sh',
    'cat',
    'echo',
    'uname',
    'sleep',
    'hostname',
    'stty',
    'tty',
    'tr',
    'ps',
    'ls',
    'id',
    'touch',
    'pwd',
    'grep',
    'cut',
    'wc',
    'head',
    'mkdir',
    'ip',
    'wget',
  ]) {
    symlinkSync('busybox', join(dir, 'bin', applet));
  }
}

export interface ProcessResult {
  stdout: string;
  stderr: string;
  exit: { status: number; signal: number };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** One VM with a direct connection to its agent. Frames are kept until a test takes them. */
export class AgentVm {
  readonly hello: Record<string, unknown>;
  readonly bootMs: number;
  private readonly frames: Frame[] = [];
  private waiter: (() => void) | undefined;
  private nextStream = 1000;

  private constructor(
    readonly dir: string,
    readonly qemu: ChildProcess,
    readonly exited: Promise<number | null>,
    private readonly socket: Socket,
    decoder: FrameDecoder,
    hello: Frame,
    bootMs: number,
  ) {
    this.hello = JSON.parse(hello.payload.toString()) as Record<string, unknown>;
    this.bootMs = bootMs;
    socket.on('data', (chunk: Buffer) => {
      this.frames.push(...decoder.push(chunk));
      this.waiter?.();
    });
  }

  /** Boots a VM sharing `<dir>/shared` (plus `extraArgs` for QEMU) and waits for HELLO. */
  static async boot(guest: GuestFiles, extraArgs: string[] = [], timeoutMs = 60_000): Promise<AgentVm> {
    const dir = mkdtempSync(join(tmpdir(), 'vmrt-agent-'));
    const shared = join(dir, 'shared');
    mkdirSync(shared);
    makeBusyboxRootfs(join(shared, 'rootfs'));
    const started = Date.now();
    const qemu = spawn('/usr/bin/qemu-system-x86_64', [...qemuArgs(guest, dir, shared), ...extraArgs], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    qemu.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
    const exited = new Promise<number | null>((resolve) => qemu.on('exit', (code) => resolve(code)));
    const fail = (why: string) => {
      qemu.kill('SIGKILL');
      const console = existsSync(join(dir, 'console.log')) ? readFileSync(join(dir, 'console.log'), 'utf8') : '';
      rmSync(dir, { recursive: true, force: true });
      return new Error(`${why}\nqemu stderr: ${stderr}\nguest console:\n${console}`);
    };
    const sockPath = join(dir, 'agent.sock');
    while (!existsSync(sockPath)) {
      if (qemu.exitCode !== null) throw fail(`qemu exited with ${qemu.exitCode}`);
      if (Date.now() - started > timeoutMs) throw fail('agent.sock never appeared');
      await sleep(10);
    }
    const socket = connect(sockPath);
    const decoder = new FrameDecoder();
    let helloSeen = false;
    const hello = await new Promise<Frame>((resolve, reject) => {
      const timer = setTimeout(() => reject(fail(`no HELLO within ${timeoutMs} ms`)), timeoutMs);
      const onData = (chunk: Buffer) => {
        const frames = decoder.push(chunk);
        if (frames.length === 0) return;
        helloSeen = true;
        clearTimeout(timer);
        socket.off('data', onData);
        // Frames after HELLO in the same chunk are not expected before a request.
        resolve(frames[0]!);
      };
      socket.on('data', onData);
      socket.on('error', (e) => reject(fail(`agent.sock: ${e.message}`)));
      void exited.then((code) => {
        if (helloSeen) return;
        clearTimeout(timer);
        reject(fail(`qemu exited with ${code} before HELLO`));
      });
    });
    if (hello.type !== FrameType.HELLO) throw fail(`first frame has type ${hello.type}, not HELLO`);
    return new AgentVm(dir, qemu, exited, socket, decoder, hello, Date.now() - started);
  }

  stream(): number {
    return this.nextStream++;
  }

  send(type: number, stream: number, payload: Buffer | string = Buffer.alloc(0)): void {
    this.socket.write(encodeFrame(type, stream, typeof payload === 'string' ? Buffer.from(payload) : payload));
  }

  sendRaw(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  sendJson(type: number, stream: number, value: unknown): void {
    this.socket.write(encodeJsonFrame(type, stream, value));
  }

  /** Removes and returns the first frame matching `match`, waiting for it. */
  async take(match: (f: Frame) => boolean, what: string, timeoutMs = 30_000): Promise<Frame> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const index = this.frames.findIndex(match);
      if (index >= 0) return this.frames.splice(index, 1)[0]!;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }

  async request(stream: number, body: Record<string, unknown>): Promise<Record<string, unknown>> {
    this.sendJson(FrameType.REQUEST, stream, body);
    return this.response(stream);
  }

  async response(stream: number): Promise<Record<string, unknown>> {
    const f = await this.take((x) => x.type === FrameType.RESPONSE && x.stream === stream, `RESPONSE on stream ${stream}`);
    return JSON.parse(f.payload.toString()) as Record<string, unknown>;
  }

  /** Collects STDOUT/STDERR of a stream until its EXIT. */
  async result(stream: number): Promise<ProcessResult> {
    const exitFrame = await this.take((x) => x.type === FrameType.EXIT && x.stream === stream, `EXIT on stream ${stream}`);
    // EXIT comes after the last output: everything of the stream is here now.
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    for (let i = 0; i < this.frames.length;) {
      const f = this.frames[i]!;
      if (f.stream === stream && (f.type === FrameType.STDOUT || f.type === FrameType.STDERR)) {
        (f.type === FrameType.STDOUT ? out : err).push(f.payload);
        this.frames.splice(i, 1);
      } else {
        i++;
      }
    }
    return {
      stdout: Buffer.concat(out).toString(),
      stderr: Buffer.concat(err).toString(),
      exit: JSON.parse(exitFrame.payload.toString()) as ProcessResult['exit'],
    };
  }

  /** Output of a stream so far, without waiting for EXIT. */
  async stdoutUntil(stream: number, text: string, timeoutMs = 30_000): Promise<string> {
    let seen = '';
    const deadline = Date.now() + timeoutMs;
    while (!seen.includes(text)) {
      const f = await this.take(
        (x) => x.type === FrameType.STDOUT && x.stream === stream,
        `"${text}" on stream ${stream}`,
        Math.max(1, deadline - Date.now()),
      );
      seen += f.payload.toString();
    }
    return seen;
  }

  /** Closes the host side of the agent port. */
  disconnect(): void {
    this.socket.end();
    this.socket.destroy();
  }

  /** Ends QEMU (if still running) and removes the run folder. */
  async dispose(): Promise<void> {
    this.socket.destroy();
    if (this.qemu.exitCode === null && this.qemu.signalCode === null) {
      this.qemu.kill('SIGKILL');
      await this.exited;
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
