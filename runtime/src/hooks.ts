/**
 * OCI hooks as runc runs them: `path` executed with `args` as its argv (args[0] is argv[0],
 * Docker's network hook depends on it), `env` as its whole environment, the OCI state JSON on
 * stdin, and `timeout` seconds before it is killed. A non-zero exit fails the step, except for
 * poststart and poststop hooks: the spec has the runtime log a warning and go on with the
 * remaining hooks and the life cycle.
 */
import { spawn } from 'node:child_process';
import { RuntimeError } from './errors.js';
import { isolatedStdio } from './proc.js';

export interface Hook {
  path: string;
  args?: string[];
  env?: string[];
  timeout?: number;
}

export interface HookState {
  ociVersion: string;
  id: string;
  status: string;
  pid?: number;
  bundle: string;
  annotations?: Record<string, string>;
}

function envObject(env: string[] | undefined): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  for (const entry of env ?? []) {
    const eq = entry.indexOf('=');
    if (eq > 0) out[entry.slice(0, eq)] = entry.slice(eq + 1);
  }
  return out;
}

export function runHook(hook: Hook, state: HookState, name: string, index: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const argv = hook.args && hook.args.length > 0 ? hook.args : [hook.path];
    const child = spawn(hook.path, argv.slice(1), {
      argv0: argv[0],
      env: envObject(hook.env),
      // The bundle is the hook's working folder in runc, and Docker runs us there too.
      cwd: state.bundle,
      // Its own process group: a timeout ends the hook and whatever it started.
      detached: true,
      stdio: isolatedStdio(['pipe', 'pipe', 'pipe']),
    });
    let output = '';
    child.stdout!.on('data', (d: Buffer) => {
      output += d.toString();
    });
    child.stderr!.on('data', (d: Buffer) => {
      output += d.toString();
    });
    child.stdin!.on('error', () => undefined);
    child.stdin!.end(JSON.stringify(state));
    let timedOut = false;
    const timer = hook.timeout
      ? setTimeout(() => {
          timedOut = true;
          try {
            process.kill(-child.pid!, 'SIGKILL');
          } catch {
            child.kill('SIGKILL');
          }
        }, hook.timeout * 1000)
      : undefined;
    const fail = (why: string) =>
      reject(
        new RuntimeError(`error running ${name} hook #${index} (${hook.path}): ${why}${output.trim() ? `, output: ${output.trim()}` : ''}`),
      );
    child.on('error', (err) => {
      if (timer) clearTimeout(timer);
      fail(err.message);
    });
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      if (timedOut) fail(`timed out after ${hook.timeout}s`);
      else if (code === 0) resolve();
      else fail(signal ? `killed by ${signal}` : `exit status ${code}`);
    });
  });
}

export async function runHooks(hooks: Hook[] | undefined, state: HookState, name: string): Promise<void> {
  for (const [i, hook] of (hooks ?? []).entries()) await runHook(hook, state, name, i);
}

/** Runs every hook, each failure a warning (poststart, poststop). */
export async function runHooksWarning(
  hooks: Hook[] | undefined,
  state: HookState,
  name: 'poststart' | 'poststop',
  warn: (message: string) => void,
): Promise<void> {
  for (const [i, hook] of (hooks ?? []).entries()) await runHook(hook, state, name, i).catch((err: Error) => warn(err.message));
}
