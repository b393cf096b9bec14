/**
 * A call the CLI server runs for its caller (commands/serve.ts, README: The CLI server): where the
 * call's output goes, and how it starts a process as the caller's child. A create's init shim
 * must be one: containerd's shim reaps the runtime's children and learns the container's end from
 * that child (runtime/shim/cli_client.c starts it, with the caller's stdio and a pipe on fd 3).
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { EventEmitter } from 'node:events';
import { constants } from 'node:os';
import { PassThrough } from 'node:stream';

/** What create and run need of a started shim: a ChildProcess has it, and so has a CallerChild. */
export interface ShimChild {
  readonly pid?: number | undefined;
  readonly exitCode: number | null;
  kill(signal?: NodeJS.Signals | number): boolean;
  unref(): void;
  on(event: 'exit' | 'close', listener: (code: number | null, signal: NodeJS.Signals | null) => void): this;
  on(event: 'error', listener: (err: Error) => void): this;
}

/** A process the caller started at the server's request; its fd 3 and its end reach the server as frames. */
export class CallerChild extends EventEmitter implements ShimChild {
  exitCode: number | null = null;
  /** What the child writes on its fd 3. */
  readonly fd3 = new PassThrough();
  private over = false;

  constructor(readonly pid: number) {
    super();
  }

  kill(signal: NodeJS.Signals | number = 'SIGTERM'): boolean {
    try {
      process.kill(this.pid, signal);
      return true;
    } catch {
      return false;
    }
  }

  /** Not this process's child: nothing holds this process for it. */
  unref(): void {}

  ended(status: number, signal: number): void {
    if (this.over) return;
    this.over = true;
    const signalName = (Object.entries(constants.signals).find(([, n]) => n === signal)?.[0] ?? null) as NodeJS.Signals | null;
    this.exitCode = signal ? null : status;
    this.fd3.end();
    this.emit('exit', this.exitCode, signalName);
    this.emit('close', this.exitCode, signalName);
  }

  /** The caller went away before the child ended: the server no longer hears of it. */
  lost(): void {
    if (this.over) return;
    this.over = true;
    this.fd3.end();
    if (this.listenerCount('error') > 0) this.emit('error', new Error('the runtime call that started it ended'));
  }
}

export interface ServedCall {
  /** The process that made the call (the launcher's client): what runc's own process would be. */
  callerPid: number;
  output(type: number, chunk: string | Uint8Array): void;
  /** Starts `argv` as the caller's child, with the caller's stdio on fds 0-2 and a pipe on fd 3. */
  spawnInCaller(argv: string[]): Promise<CallerChild>;
}

/** The call being served in this async context; undefined in a CLI run as a process of its own. */
export const servedCall = new AsyncLocalStorage<ServedCall>();
