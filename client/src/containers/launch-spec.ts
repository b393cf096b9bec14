/**
 * What a launch asks for (image, ports, env, command) as a person types it, turned into the
 * Engine API's create options and into the equivalent `docker run` line the linter reads.
 * Pure: unit-tested without an editor or Docker.
 */
import { posix } from 'node:path';
import type { ContainerCreateOptions } from 'dockerode';
import { shellQuote, splitShellWords } from '../../../server/src/frontends/command/shell-words.js';

export interface LaunchAnswers {
  image: string;
  /** `8080:80`, `127.0.0.1:8080:80/tcp` or `80` (any free host port), separated by blanks or commas. */
  ports: string;
  /** `KEY=value` words, shell-quoted where they hold blanks. */
  env: string;
  /** The command and its arguments as shell words; empty for the image's own. */
  command: string;
}

export interface PortMapping {
  containerPort: string;
  hostIp: string;
  hostPort: string;
}

export function parsePorts(text: string): PortMapping[] {
  return text
    .split(/[\s,]+/)
    .filter(Boolean)
    .map((spec) => {
      const match = /^(?:(?:(\d{1,3}(?:\.\d{1,3}){3}):)?(\d*):)?(\d+)(\/(?:tcp|udp))?$/.exec(spec);
      if (!match) throw new Error(`"${spec}" is not a port mapping: write HOST:CONTAINER (8080:80), IP:HOST:CONTAINER or CONTAINER`);
      const [, ip, host, container, protocol] = match;
      return { containerPort: `${container}${protocol ?? '/tcp'}`, hostIp: ip ?? '', hostPort: host ?? '' };
    });
}

function parseEnv(text: string): string[] {
  return splitShellWords(text).map((word) => {
    if (!/^[A-Za-z_][A-Za-z0-9_]*=/.test(word.value)) throw new Error(`"${word.value}" is not KEY=value`);
    return word.value;
  });
}

function parseCommand(text: string): string[] {
  return splitShellWords(text).map((word) => word.value);
}

export interface RunSpec {
  image: string;
  ports: PortMapping[];
  env: string[];
  cmd: string[];
  name?: string;
  /** Host folder → container folder. */
  binds?: string[];
  workingDir?: string;
  labels?: Record<string, string>;
}

export function runSpec(answers: LaunchAnswers): RunSpec {
  return { image: answers.image.trim(), ports: parsePorts(answers.ports), env: parseEnv(answers.env), cmd: parseCommand(answers.command) };
}

/** The Engine API's create body: the runtime is vmrt, whatever the daemon's default. */
export function createOptions(spec: RunSpec): ContainerCreateOptions {
  const exposed: Record<string, object> = {};
  const bindings: Record<string, { HostIp: string; HostPort: string }[]> = {};
  for (const p of spec.ports) {
    exposed[p.containerPort] = {};
    (bindings[p.containerPort] ??= []).push({ HostIp: p.hostIp, HostPort: p.hostPort });
  }
  return {
    Image: spec.image,
    name: spec.name,
    Env: spec.env,
    ...(spec.cmd.length > 0 ? { Cmd: spec.cmd } : {}),
    ...(spec.workingDir ? { WorkingDir: spec.workingDir } : {}),
    ExposedPorts: exposed,
    Labels: { 'org.vmrt.launched-by': 'vscode', ...spec.labels },
    HostConfig: { Runtime: 'vmrt', PortBindings: bindings, Binds: spec.binds },
  };
}

/** The same launch as a `docker run` line: what the linter's command front end reads. */
export function dockerRunLine(spec: RunSpec): string {
  const words = ['docker', 'run', '-d', '--runtime', 'vmrt'];
  for (const p of spec.ports) words.push('-p', `${p.hostIp ? `${p.hostIp}:` : ''}${p.hostPort ? `${p.hostPort}:` : ''}${p.containerPort}`);
  for (const e of spec.env) words.push('-e', e);
  for (const b of spec.binds ?? []) words.push('-v', b);
  if (spec.workingDir) words.push('-w', spec.workingDir);
  if (spec.name) words.push('--name', spec.name);
  words.push(spec.image, ...spec.cmd);
  return `${words.map(shellQuote).join(' ')}\n`;
}

/** The tag an image built from `dockerfile` gets: `<prefix>/<its folder's name>:latest`. */
export function dockerfileTag(prefix: string, dockerfile: string): string {
  return `${prefix}/${
    posix
      .basename(posix.dirname(dockerfile))
      .toLowerCase()
      .replace(/[^a-z0-9._-]/g, '-') || 'app'
  }:latest`;
}
