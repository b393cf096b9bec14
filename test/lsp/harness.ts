/**
 * Drives vmrt-language-server over stdio as an editor would: a child process and a
 * vscode-jsonrpc connection. Shared by the LSP tests and the benchmark.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type * as Jsonrpc from 'vscode-jsonrpc/node';
import type { Diagnostic, PublishDiagnosticsParams } from 'vscode-languageserver/node';

// vscode-jsonrpc's exports map rejects `node.js` paths from ESM; require() reads it as CommonJS.
const rpc = createRequire(import.meta.url)('vscode-jsonrpc/node') as typeof Jsonrpc;

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const SERVER_MAIN = join(ROOT, 'out', 'server', 'src', 'lsp', 'main.js');

export interface Settings {
  lint?: { enable?: boolean; profile?: string; severity?: Record<string, string> };
  kubernetes?: { runtimeClasses?: string[] };
}

interface Waiter {
  uri: string;
  accept: (p: PublishDiagnosticsParams) => boolean;
  resolve: (p: PublishDiagnosticsParams) => void;
  reject: (e: Error) => void;
}

export class LspSession {
  readonly connection: Jsonrpc.MessageConnection;
  /** Every publishDiagnostics notification, in arrival order. */
  readonly publishLog: PublishDiagnosticsParams[] = [];
  readonly logs: string[] = [];
  private readonly waiters: Waiter[] = [];
  private readonly versions = new Map<string, number>();
  settings: Settings = {};

  private constructor(readonly child: ChildProcess) {
    this.connection = rpc.createMessageConnection(new rpc.StreamMessageReader(child.stdout!), new rpc.StreamMessageWriter(child.stdin!));
    this.connection.onNotification('textDocument/publishDiagnostics', (params: PublishDiagnosticsParams) => {
      this.publishLog.push(params);
      for (const waiter of [...this.waiters]) {
        if (waiter.uri === params.uri && waiter.accept(params)) {
          this.waiters.splice(this.waiters.indexOf(waiter), 1);
          waiter.resolve(params);
        }
      }
    });
    this.connection.onNotification('window/logMessage', (params: { message: string }) => {
      this.logs.push(params.message);
    });
    this.connection.onRequest('workspace/configuration', (params: { items: unknown[] }) => params.items.map(() => this.settings));
    this.connection.onRequest('client/registerCapability', () => null);
    this.connection.onRequest('window/showDocument', (params: { uri: string }) => {
      this.shownDocuments.push(params.uri);
      return { success: true };
    });
    // A server that dies fails every pending wait at once, with its exit status.
    child.once('exit', (code, signal) => {
      this.exited = true;
      const error = new Error(`vmrt-language-server exited (code ${code}, signal ${signal})`);
      for (const waiter of this.waiters.splice(0)) waiter.reject(error);
    });
    this.connection.listen();
  }

  private exited = false;

  readonly shownDocuments: string[] = [];

  /** Starts the server (the compiled one by default) and completes the initialize handshake. */
  static async start(
    options: { settings?: Settings; initializationOptions?: object; server?: string[]; pullConfiguration?: boolean } = {},
  ): Promise<LspSession> {
    const child = spawn(process.execPath, options.server ?? [SERVER_MAIN, '--stdio'], { stdio: ['pipe', 'pipe', 'inherit'] });
    const session = new LspSession(child);
    session.settings = options.settings ?? {};
    await session.connection.sendRequest('initialize', {
      processId: process.pid,
      rootUri: null,
      capabilities: {
        workspace: { configuration: options.pullConfiguration !== false, didChangeConfiguration: { dynamicRegistration: true } },
        textDocument: { publishDiagnostics: { versionSupport: true }, synchronization: { didSave: true } },
        window: { showDocument: { support: true } },
      },
      initializationOptions: options.initializationOptions ?? {},
    });
    await session.connection.sendNotification('initialized', {});
    return session;
  }

  uri(path: string): string {
    return pathToFileURL(path).href;
  }

  /** The next diagnostics published for `uri` that `accept` takes (by default: any). */
  diagnostics(
    uri: string,
    accept: (p: PublishDiagnosticsParams) => boolean = () => true,
    timeoutMs = 10_000,
  ): Promise<PublishDiagnosticsParams> {
    return new Promise((resolve, reject) => {
      if (this.exited) {
        reject(new Error('vmrt-language-server has exited'));
        return;
      }
      const timer = setTimeout(() => reject(new Error(`no diagnostics for ${uri} within ${timeoutMs} ms`)), timeoutMs);
      timer.unref();
      this.waiters.push({
        uri,
        accept,
        resolve: (p) => {
          clearTimeout(timer);
          resolve(p);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
    });
  }

  async open(path: string, text: string, languageId = 'plaintext'): Promise<PublishDiagnosticsParams> {
    const uri = this.uri(path);
    this.versions.set(uri, 1);
    const published = this.diagnostics(uri, (p) => p.version === 1 || p.version === undefined);
    await this.connection.sendNotification('textDocument/didOpen', { textDocument: { uri, languageId, version: 1, text } });
    return published;
  }

  /** Sends incremental changes; resolves with the diagnostics of the new version. */
  async change(
    path: string,
    changes: { range?: { start: { line: number; character: number }; end: { line: number; character: number } }; text: string }[],
  ): Promise<PublishDiagnosticsParams> {
    const uri = this.uri(path);
    const version = (this.versions.get(uri) ?? 1) + 1;
    this.versions.set(uri, version);
    const published = this.diagnostics(uri, (p) => p.version === version);
    await this.connection.sendNotification('textDocument/didChange', { textDocument: { uri, version }, contentChanges: changes });
    return published;
  }

  /** Sends a change without waiting for its diagnostics (stale-version tests). */
  async changeNoWait(path: string, text: string): Promise<number> {
    const uri = this.uri(path);
    const version = (this.versions.get(uri) ?? 1) + 1;
    this.versions.set(uri, version);
    await this.connection.sendNotification('textDocument/didChange', { textDocument: { uri, version }, contentChanges: [{ text }] });
    return version;
  }

  async close(path: string): Promise<PublishDiagnosticsParams> {
    const uri = this.uri(path);
    const published = this.diagnostics(uri);
    await this.connection.sendNotification('textDocument/didClose', { textDocument: { uri } });
    return published;
  }

  request<R>(method: string, params: unknown): Promise<R> {
    return this.connection.sendRequest(method, params) as Promise<R>;
  }

  async stop(): Promise<void> {
    await this.connection.sendRequest('shutdown');
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    await this.connection.sendNotification('exit');
    await exited;
    this.connection.dispose();
  }
}

export function codes(diagnostics: readonly Diagnostic[]): string[] {
  return diagnostics.map(
    (d) => `${d.range.start.line}:${d.range.start.character}-${d.range.end.line}:${d.range.end.character} ${String(d.code)}`,
  );
}
