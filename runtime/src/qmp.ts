/**
 * A QMP client (QEMU's JSON control protocol) on the VM's `<run>/vm/qmp.sock`: one connection per
 * use, commands answered in order. Used to plug NICs into a VM and to restore VM templates.
 */
import { existsSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { RuntimeError } from './errors.js';
import { isAlive, sleep, type ProcessRef } from './proc.js';

interface QmpMessage {
  QMP?: unknown;
  return?: unknown;
  error?: { class: string; desc: string };
  event?: string;
  data?: Record<string, unknown>;
}

export class Qmp {
  private buffer = '';
  private readonly waiting: Array<{ resolve: (m: QmpMessage) => void; reject: (e: Error) => void }> = [];
  private readonly messages: QmpMessage[] = [];

  private constructor(
    private readonly socket: Socket,
    private readonly path: string,
  ) {
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      this.buffer += chunk;
      let nl;
      while ((nl = this.buffer.indexOf('\n')) >= 0) {
        const line = this.buffer.slice(0, nl).trim();
        this.buffer = this.buffer.slice(nl + 1);
        if (!line) continue;
        const message = JSON.parse(line) as QmpMessage;
        // Events come between answers; nothing here waits for one.
        if (message.event) continue;
        if (this.waiting.length > 0) this.waiting.shift()!.resolve(message);
        else this.messages.push(message);
      }
    });
    // A failed connection ends in 'close' too, which rejects what waits.
    socket.on('error', () => undefined);
    socket.on('close', () => {
      for (const w of this.waiting.splice(0)) w.reject(new RuntimeError(`QEMU closed its control socket ${path}`));
    });
  }

  /** Connects, reads the greeting and leaves negotiation mode. */
  static async open(path: string, timeoutMs = 10000): Promise<Qmp> {
    const socket = connect(path);
    const qmp = new Qmp(socket, path);
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', (err) => reject(new RuntimeError(`cannot reach QEMU's control socket ${path}: ${err.message}`)));
    });
    await qmp.next(timeoutMs);
    await qmp.execute('qmp_capabilities', undefined, timeoutMs);
    return qmp;
  }

  /** Opens the control socket of a QEMU just spawned, which makes the socket's file a moment before it listens on it. */
  static async ofStarting(path: string, qemu: ProcessRef, timeoutMs: number): Promise<Qmp> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (!isAlive(qemu)) throw new RuntimeError('QEMU exited at start');
      const qmp = existsSync(path) ? await Qmp.open(path).catch(() => undefined) : undefined;
      if (qmp) return qmp;
      if (Date.now() > deadline) throw new RuntimeError(`QEMU did not serve ${path} within ${timeoutMs / 1000} s`);
      await sleep(5);
    }
  }

  private next(timeoutMs: number): Promise<QmpMessage> {
    const queued = this.messages.shift();
    if (queued) return Promise.resolve(queued);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new RuntimeError(`QEMU (${this.path}) did not answer within ${timeoutMs / 1000} s (is the VM paused?)`)),
        timeoutMs,
      );
      this.waiting.push({
        resolve: (m) => {
          clearTimeout(timer);
          resolve(m);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
    });
  }

  /** Runs one command; QEMU's error becomes a RuntimeError naming the command. */
  async execute(command: string, args?: Record<string, unknown>, timeoutMs = 10000): Promise<unknown> {
    this.socket.write(`${JSON.stringify(args ? { execute: command, arguments: args } : { execute: command })}\n`);
    const answer = await this.next(timeoutMs);
    if (answer.error) throw new RuntimeError(`QEMU ${command}: ${answer.error.desc}`);
    return answer.return;
  }

  /** The ids of the devices added by -device id=… or device_add. */
  async deviceIds(): Promise<Set<string>> {
    const list = (await this.execute('qom-list', { path: '/machine/peripheral' })) as Array<{ name: string; type: string }>;
    return new Set(list.filter((p) => p.type.startsWith('child<')).map((p) => p.name));
  }

  close(): void {
    this.socket.destroy();
  }
}
