/**
 * The `vmrt` debug configuration and what it turns into: the debuggee's command in the VM and
 * the attach configuration of the language's own debugger. Pure: unit-tested without an editor.
 */
import { posix } from 'node:path';

export type DebugLanguage = 'node' | 'python' | 'native';

export interface VmDebugConfiguration {
  name: string;
  [key: string]: unknown;
  type: 'vmrt';
  request: 'launch' | 'attach';
  language?: DebugLanguage;
  image?: string;
  dockerfile?: string;
  program?: string;
  args?: string[];
  /** The debugger's port inside the VM. */
  port?: number;
  localRoot?: string;
  remoteRoot?: string;
  /** attach: the running container (name or id). */
  container?: string;
}

export const DEFAULT_PORTS: Record<DebugLanguage, number> = { node: 9229, python: 5678, native: 2345 };
/** The attach configuration the `vmrt` session starts as its child. */
export const ATTACH = '__vmrtAttach';
/** The container a `vmrt` launch started (removed when the session ends). */
export const MARK = '__vmrtContainer';
/**
 * A `vmrt` child session whose adapter is a DAP server in the VM, reached on its published
 * port: debugpy, when VS Code has no Python Debugger extension to attach with.
 */
export const DAP_SERVER = '__vmrtDapServer';
/** A `vmrt` child session served by the bundled GDB adapter (dist/gdb-adapter.cjs) talking to gdbserver in the VM. */
export const GDB_ADAPTER = '__vmrtGdbAdapter';

/**
 * Python's debuggee: debugpy listens itself, its adapter in the debuggee's process (pydevd speaks
 * the Debug Adapter Protocol). `python3 -m debugpy --listen` starts the adapter as a second
 * process and gives it a fixed 10 s to connect back, which Python under TCG can miss on a busy
 * host: the debuggee then quits while the adapter still answers. `-c` puts the program's folder
 * first on sys.path and runs it as __main__, as `python3 program` does.
 */
const PYTHON_DEBUGGEE = [
  'import os, runpy, sys, debugpy',
  'port = int(sys.argv.pop(1))',
  "debugpy.listen(('0.0.0.0', port), in_process_debug_adapter=True)",
  'debugpy.wait_for_client()',
  'sys.argv = sys.argv[1:]',
  'sys.path[0] = os.path.dirname(os.path.abspath(sys.argv[0]))',
  "runpy.run_path(sys.argv[0], run_name='__main__')",
].join('\n');

/** The command that starts `program` with its debugger listening on `port` in the VM. */
export function debuggeeCommand(language: DebugLanguage, program: string, args: readonly string[], port: number): string[] {
  switch (language) {
    case 'node':
      return ['node', `--inspect-brk=0.0.0.0:${port}`, program, ...args];
    case 'python':
      return ['python3', '-c', PYTHON_DEBUGGEE, String(port), program, ...args];
    case 'native':
      return ['gdbserver', `0.0.0.0:${port}`, program, ...args];
  }
}

/** The path of a workspace file inside the container, where localRoot is mounted at remoteRoot. */
export function remotePath(localRoot: string, remoteRoot: string, local: string): string {
  const relativePath = local.startsWith(`${localRoot}/`) ? local.slice(localRoot.length + 1) : local === localRoot ? '' : undefined;
  if (relativePath === undefined) return local;
  return posix.join(remoteRoot, relativePath);
}

/** A configuration of another debug type (VS Code's DebugConfiguration shape). */
export interface AttachConfiguration {
  type: string;
  name: string;
  request: string;
  [key: string]: unknown;
}

/**
 * What the program's own debugger needs to attach, with the paths mapped both ways. Python and
 * native code go through their VS Code extensions when installed (`extension`), else straight to
 * debugpy in the VM, or through the bundled GDB adapter (Eclipse CDT's) to gdbserver in the VM.
 */
export function attachConfiguration(
  config: VmDebugConfiguration,
  language: DebugLanguage,
  hostPort: number,
  extension = true,
): AttachConfiguration {
  const localRoot = config.localRoot!;
  const remoteRoot = config.remoteRoot!;
  const common = { name: `${config.name} (in VM)`, request: 'attach' };
  switch (language) {
    case 'node':
      return {
        ...common,
        type: 'pwa-node',
        address: '127.0.0.1',
        port: hostPort,
        localRoot,
        remoteRoot,
        continueOnAttach: true,
        restart: false,
        skipFiles: ['<node_internals>/**'],
      };
    case 'python':
      return extension
        ? { ...common, type: 'debugpy', connect: { host: '127.0.0.1', port: hostPort }, pathMappings: [{ localRoot, remoteRoot }] }
        : {
            ...common,
            type: 'vmrt',
            [DAP_SERVER]: { host: '127.0.0.1', port: hostPort },
            pathMappings: [{ localRoot, remoteRoot }],
            justMyCode: true,
          };
    case 'native':
      return extension
        ? {
            ...common,
            type: 'cppdbg',
            request: 'launch',
            program: config.program,
            cwd: localRoot,
            MIMode: 'gdb',
            miDebuggerServerAddress: `127.0.0.1:${hostPort}`,
            sourceFileMap: { [remoteRoot]: localRoot },
          }
        : {
            ...common,
            type: 'vmrt',
            [GDB_ADAPTER]: true,
            program: config.program,
            cwd: localRoot,
            gdb: 'gdb',
            target: { type: 'remote', parameters: [`127.0.0.1:${hostPort}`] },
            // Sources built inside the image name their files by container paths.
            initCommands: [`set substitute-path ${remoteRoot} ${localRoot}`],
          };
  }
}

/** Whether something listens on TCP `port` inside the container (its /proc/net/tcp*: state 0A is LISTEN). */
export function listensOn(procNetTcp: string, port: number): boolean {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  return procNetTcp.split('\n').some((line) => {
    const [, local, , state] = line.trim().split(/\s+/);
    return local?.endsWith(`:${hexPort}`) && state === '0A';
  });
}

/** The sentence for an image without the debugger `language` needs, when `output` says so. */
export function missingDebugger(language: DebugLanguage, output: string): string | undefined {
  if (language === 'python' && /No module named '?debugpy|python3.*(not found|no such file)/i.test(output)) {
    return 'the image has no debugpy (or no python3): add "RUN pip install debugpy" to its Dockerfile';
  }
  if (language === 'native' && /gdbserver.*(not found|no such file)/i.test(output)) {
    return 'the image has no gdbserver: add it to the image (e.g. "RUN apt-get install -y gdbserver")';
  }
  if (language === 'node' && /node.*(not found|no such file)/i.test(output)) return 'the image has no node executable on its PATH';
  return undefined;
}
