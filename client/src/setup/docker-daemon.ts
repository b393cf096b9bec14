/**
 * The dockerd behind a Docker socket, as registering a runtime needs it: its pid (SIGHUP makes
 * it re-read `runtimes`) and its daemon.json (`--config-file`, else /etc/docker/daemon.json),
 * read from /proc; and the privileged script that installs a daemon.json already merged and
 * shown to the user. Pure logic and files, no vscode import.
 */
import { readdirSync, readFileSync, realpathSync } from 'node:fs';
import { shellQuote } from './bundled-runtime.js';

export const DEFAULT_DAEMON_JSON = '/etc/docker/daemon.json';
/** Where dockerd listens without -H (systemd's `-H fd://` is this socket too). */
const DEFAULT_SOCKET = '/var/run/docker.sock';

export interface Dockerd {
  pid: number;
  daemonJson: string;
}

/** The value of each `--flag value` / `--flag=value` / `-f value` in argv. */
function flagValues(argv: readonly string[], names: readonly string[]): string[] {
  const values: string[] = [];
  argv.forEach((arg, i) => {
    for (const name of names) {
      if (arg === name && argv[i + 1] !== undefined) values.push(argv[i + 1]!);
      else if (arg.startsWith(`${name}=`)) values.push(arg.slice(name.length + 1));
    }
  });
  return values;
}

const samePath = (a: string, b: string) => {
  const real = (path: string) => {
    try {
      return realpathSync(path);
    } catch {
      return path;
    }
  };
  return real(a) === real(b);
};

/** The dockerd serving the unix socket `socket`, from one pass over /proc. */
export function findDockerd(socket: string, proc = '/proc'): Dockerd | undefined {
  for (const entry of readdirSync(proc)) {
    if (!/^\d+$/.test(entry)) continue;
    let argv: string[];
    try {
      argv = readFileSync(`${proc}/${entry}/cmdline`, 'utf8').split('\0');
    } catch {
      continue; // The process ended while we looked.
    }
    if (!/(^|\/)dockerd$/.test(argv[0] ?? '')) continue;
    const hosts = flagValues(argv, ['-H', '--host']).map((host) => (host === 'fd://' ? DEFAULT_SOCKET : host.replace(/^unix:\/\//, '')));
    if (!(hosts.length > 0 ? hosts : [DEFAULT_SOCKET]).some((host) => samePath(host, socket))) continue;
    return { pid: Number(entry), daemonJson: flagValues(argv, ['--config-file']).at(-1) ?? DEFAULT_DAEMON_JSON };
  }
  return undefined;
}

/** The path of daemon.json's `vmrt` runtime entry, if it has one (the text is valid JSON by now). */
export function registeredPath(daemonJson: string | undefined): string | undefined {
  if (!daemonJson?.trim()) return undefined;
  const entry = (JSON.parse(daemonJson) as { runtimes?: Record<string, { path?: string }> }).runtimes?.vmrt;
  return entry ? (entry.path ?? '(no path)') : undefined;
}

export interface Registration {
  daemonJson: string;
  /** A copy of daemon.json as it was when the change was shown (undefined: there was none). */
  shownFrom: string | undefined;
  /** The merged daemon.json that was shown. */
  merged: string;
  dockerdPid: number;
}

/**
 * The privileged step, as one shell script: refuse if daemon.json changed since it was shown,
 * install the shown file by rename (never half-written), then SIGHUP dockerd.
 */
export function registrationScript(r: Registration): string {
  const file = shellQuote(r.daemonJson);
  const temp = shellQuote(`${r.daemonJson}.vmrt-new`);
  const unchanged = r.shownFrom ? `cmp -s ${shellQuote(r.shownFrom)} ${file}` : `[ ! -e ${file} ]`;
  return [
    'set -e',
    `${unchanged} || { echo "vmrt: ${r.daemonJson} changed since it was shown; run Set Up Runtime again" >&2; exit 3; }`,
    `mkdir -p ${shellQuote(r.daemonJson.replace(/\/[^/]*$/, '') || '/')}`,
    `cp ${shellQuote(r.merged)} ${temp}`,
    `chmod 644 ${temp}`,
    `mv ${temp} ${file}`,
    `kill -HUP ${r.dockerdPid}`,
    `echo "vmrt: registered in ${r.daemonJson}; dockerd (pid ${r.dockerdPid}) is re-reading it"`,
  ].join('\n');
}

/** The command that runs `script` with root's rights: none when already root, else sudo, else pkexec. */
export function privileged(script: string, uid: number, hasSudo: boolean): string[] {
  const run = ['sh', '-c', script];
  if (uid === 0) return run;
  return [hasSudo ? 'sudo' : 'pkexec', ...run];
}
