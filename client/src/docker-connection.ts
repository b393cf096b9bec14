/**
 * Where the Docker Engine API is: the `vmrt.docker.host` setting, else DOCKER_HOST, else the
 * local socket. Pure logic (no vscode import) so unit tests can check it.
 */
import type { DockerOptions } from 'dockerode';

const DEFAULT_SOCKET = '/var/run/docker.sock';

/** dockerode options for a Docker host written as `unix:///path`, `/path`, `tcp://h:p` or `http(s)://h:p`. */
export function dockerOptions(setting: string | undefined, env: Readonly<Record<string, string | undefined>> = process.env): DockerOptions {
  const host = setting?.trim() || env.DOCKER_HOST?.trim() || `unix://${DEFAULT_SOCKET}`;
  if (host.startsWith('unix://')) return { socketPath: host.slice('unix://'.length) };
  if (host.startsWith('/')) return { socketPath: host };
  const match = /^(tcp|https?):\/\/([^:/]+)(?::(\d+))?\/?$/.exec(host);
  if (!match) throw new Error(`unsupported Docker host "${host}": use unix:///path/to/docker.sock or tcp://host:port`);
  const [, scheme, hostname, port] = match;
  const tls = scheme === 'https' || (scheme === 'tcp' && env.DOCKER_TLS_VERIFY === '1');
  return { protocol: tls ? 'https' : 'http', host: hostname, port: Number(port ?? (tls ? 2376 : 2375)) };
}

/** The same host as a DOCKER_HOST value, for the docker and compose CLIs run in terminals. */
export function dockerHostEnv(options: DockerOptions): string {
  if (options.socketPath) return `unix://${options.socketPath}`;
  return `tcp://${options.host}:${options.port}`;
}
