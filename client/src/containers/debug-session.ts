/**
 * The `vmrt` debug session: a small inline adapter that owns the VM container and starts the
 * language's own debugger (js-debug, debugpy, cppdbg) as its child session, with the child's
 * lifecycle managed by this parent.
 *
 * Why a parent session: when a person presses Stop on an attach session, VS Code asks the
 * adapter to terminate the debuggee, and js-debug then kills the process id the debuggee
 * reported (`process.pid`) on the host, with its children. Inside a VM that pid means another
 * process on the host (pid 1 in the VM is the host's init). With the child's lifecycle managed
 * by this parent, Stop reaches this adapter instead: it removes the container, and the child
 * debugger sees its target go away and ends without killing anything on the host. The bundled
 * GDB adapter is the exception: its Stop only ends gdbserver in the VM, and it does not notice a
 * lost remote target, so it keeps its own lifecycle and this session stops it when it ends.
 */
import * as vscode from 'vscode';
import { ATTACH, GDB_ADAPTER, MARK } from './debug-config.js';
import type { VmContext } from './context.js';

interface Request {
  seq: number;
  type: 'request';
  command: string;
}

export class VmSessionAdapter implements vscode.DebugAdapter {
  private readonly sent = new vscode.EventEmitter<vscode.DebugProtocolMessage>();
  readonly onDidSendMessage = this.sent.event;
  private seq = 1;
  private ended = false;
  private readonly childEnded: vscode.Disposable;
  private readonly childStarted: vscode.Disposable;
  /** Children to stop when this session ends: the GDB adapter's, which keeps a lost remote target open. */
  private readonly gdbChildren: vscode.DebugSession[] = [];

  constructor(
    private readonly session: vscode.DebugSession,
    private readonly vm: VmContext,
  ) {
    // The program ended (or the child was disconnected): the parent ends with it.
    this.childEnded = vscode.debug.onDidTerminateDebugSession((ended) => {
      if (ended.parentSession?.id === this.session.id) void this.end();
    });
    this.childStarted = vscode.debug.onDidStartDebugSession((started) => {
      if (started.parentSession?.id === this.session.id && started.configuration[GDB_ADAPTER]) this.gdbChildren.push(started);
    });
    // The container this session launched stopped or was removed: the session ends.
    const id = session.configuration[MARK] as string | undefined;
    if (id)
      void vm.docker
        .getContainer(id)
        .wait()
        .then(
          () => this.end(),
          () => this.end(),
        );
  }

  handleMessage(message: vscode.DebugProtocolMessage): void {
    const request = message as Request;
    if (request.type !== 'request') return;
    void this.handle(request).then(
      (body) => this.respond(request, true, body),
      (error: unknown) => this.respond(request, false, undefined, error instanceof Error ? error.message : String(error)),
    );
  }

  private async handle(request: Request): Promise<object | undefined> {
    switch (request.command) {
      case 'initialize':
        setTimeout(() => this.event('initialized'), 0);
        return { supportsTerminateRequest: true, supportsConfigurationDoneRequest: true };
      case 'launch':
      case 'attach': {
        const child = this.session.configuration[ATTACH] as vscode.DebugConfiguration;
        // The GDB adapter's Stop is safe (it ends gdbserver in the VM), and stopping it must reach it.
        const started = await vscode.debug.startDebugging(this.session.workspaceFolder, child, {
          parentSession: this.session,
          lifecycleManagedByParent: !child[GDB_ADAPTER],
          compact: true,
        });
        if (!started) throw new Error(`the ${child.type} debugger did not start`);
        return undefined;
      }
      case 'threads':
        return { threads: [] };
      case 'disconnect':
      case 'terminate':
        await this.end();
        return undefined;
      default:
        return undefined;
    }
  }

  /** Removes a container this session launched (an attached one keeps running), then says terminated. */
  private async end(): Promise<void> {
    if (this.ended) return;
    this.ended = true;
    const id = this.session.configuration[MARK] as string | undefined;
    if (id)
      await this.vm.docker
        .getContainer(id)
        .remove({ force: true })
        .catch(() => undefined);
    // Never js-debug's children: their disconnect kills the debuggee's pid, which would be a host pid.
    await Promise.all(this.gdbChildren.map((child) => vscode.debug.stopDebugging(child)));
    this.event('terminated');
  }

  private respond(request: Request, success: boolean, body?: object, message?: string): void {
    this.sent.fire({
      seq: this.seq++,
      type: 'response',
      request_seq: request.seq,
      command: request.command,
      success,
      body,
      message,
    } as vscode.DebugProtocolMessage);
  }

  private event(event: string): void {
    this.sent.fire({ seq: this.seq++, type: 'event', event } as vscode.DebugProtocolMessage);
  }

  dispose(): void {
    this.childEnded.dispose();
    this.childStarted.dispose();
    this.sent.dispose();
  }
}
