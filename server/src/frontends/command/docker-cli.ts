/**
 * The docker / podman / nerdctl command line: which words form a `run`/`create`
 * invocation, which flags take a value (so that parsing stops at the image: what
 * follows belongs to the container's command), and what each flag requests.
 * Shared by shell command lines, devcontainer `runArgs` and GitHub Actions `options`.
 */
import type { OptionAssignment, OptionName, OptionValues } from '../../core/types.js';

/** One argument as a front end found it (a shell word, a JSON string). */
export interface ArgWord {
  value: string;
  /** Source offsets of the whole argument (quotes included). */
  start: number;
  end: number;
  /** True when the value holds an unexpanded `$VAR` or substitution. */
  unresolved: boolean;
  /** True when an unquoted expansion may split the argument into several (a shell word). */
  splits?: boolean;
  /** Source offset of the character of `value` at index k, when known. */
  charAt?(k: number): number | undefined;
}

/** Where a flag was written, so that editors can remove or replace it. */
export interface FlagOccurrence {
  /** The flag as written: `--net`, `-v`. */
  flag: string;
  /** Source range of the flag, through its value (a separate value word included). */
  start: number;
  end: number;
  /** Indexes of the first and last argument the flag occupies. */
  firstWord: number;
  lastWord: number;
  /** True for a letter inside a bundle of short flags (`-itv x`). */
  inBundle?: boolean;
  /** For such a letter, when its offset is known: the source range of the letter and of a value attached to it. */
  bundled?: { start: number; end: number };
}

export interface CliOption<N extends OptionName = OptionName> {
  option: N;
  value: OptionValues[N];
  at: FlagOccurrence;
}

export type CliCommand = OptionValues['command'];

export interface DockerInvocation {
  tool: 'docker' | 'podman' | 'nerdctl';
  /** `run`/`create`, or a command that is a runtime feature by itself (`update` with the options it changes). */
  action: 'run' | 'create' | CliCommand;
  /** Source range of the subcommand words (`network connect`, `update`) or of the flag that makes it one (`--checkpoint`). */
  start: number;
  end: number;
  /** Container name (`--name`) of a run/create. */
  name?: string;
  options: CliOption[];
}

type Mapper = (value: string, flag: string, unresolved: boolean) => OptionAssignment[];

interface FlagSpec {
  takesValue: boolean;
  map?: Mapper;
}

const one = <N extends OptionName>(option: N, value: OptionValues[N]): OptionAssignment[] => [{ option, value } as OptionAssignment];
const text =
  (
    option: 'network' | 'link' | 'cpuset-cpus' | 'kernel-memory' | 'shm-size' | 'pid' | 'ipc' | 'uts' | 'userns' | 'security-opt' | 'gpus',
  ): Mapper =>
  (value) =>
    one(option, value);
const number =
  (option: 'cpus' | 'cpu-quota' | 'cpu-period' | 'cpu-shares'): Mapper =>
  (value) =>
    one(option, value.trim() === '' ? Number.NaN : Number(value));
/** Docker takes one capability per flag; podman also a comma list. */
const capabilities =
  (option: 'cap-add' | 'cap-drop'): Mapper =>
  (value) =>
    value
      .split(',')
      .filter((c) => c !== '')
      .map((c) => ({ option, value: c }) as OptionAssignment);
const keyValue =
  (option: 'sysctl' | 'annotation'): Mapper =>
  (value) => {
    const eq = value.indexOf('=');
    return one(option, eq < 0 ? { key: value, value: '' } : { key: value.slice(0, eq), value: value.slice(eq + 1) });
  };
const blkio: Mapper = (_value, flag) => one('blkio', flag);

const PROPAGATION = new Set(['shared', 'rshared', 'slave', 'rslave', 'private', 'rprivate']);

/** `-v [source:]target[:options]` */
export function parseVolumeSpec(spec: string): OptionValues['mount'] {
  const parts = spec.split(':');
  if (parts.length === 1) return { type: 'volume', target: spec };
  const [source, target, options = ''] = parts as [string, string, string?];
  const flags = options.split(',');
  const mount: OptionValues['mount'] = { type: /^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(source) ? 'volume' : 'bind', source, target };
  if (flags.includes('ro') || flags.includes('readonly')) mount.readOnly = true;
  const propagation = flags.find((f) => PROPAGATION.has(f));
  if (propagation) mount.propagation = propagation;
  return mount;
}

/**
 * `--mount type=bind,source=/a,target=/b,readonly,bind-propagation=rshared` (also the
 * devcontainer `mounts` string). A tmpfs mount is a `tmpfs` option, as in every front end.
 */
export function parseMountSpec(spec: string): OptionAssignment {
  const fields = new Map<string, string>();
  for (const field of spec.split(',')) {
    const eq = field.indexOf('=');
    const key = (eq < 0 ? field : field.slice(0, eq)).trim().toLowerCase();
    if (key) fields.set(key, eq < 0 ? 'true' : field.slice(eq + 1).trim());
  }
  const target = fields.get('target') ?? fields.get('dst') ?? fields.get('destination') ?? '';
  const type = fields.get('type') ?? 'volume';
  if (type === 'tmpfs') {
    const size = fields.get('tmpfs-size');
    return { option: 'tmpfs', value: size === undefined ? { target } : { target, size } };
  }
  const mount: OptionValues['mount'] = { type: type === 'bind' || type === 'volume' ? type : 'other', target };
  const source = fields.get('source') ?? fields.get('src');
  if (source !== undefined) mount.source = source;
  const readOnly = fields.get('readonly') ?? fields.get('ro');
  if (readOnly !== undefined && readOnly !== 'false' && readOnly !== '0') mount.readOnly = true;
  const propagation = fields.get('bind-propagation');
  if (propagation) mount.propagation = propagation;
  return { option: 'mount', value: mount };
}

/** `--tmpfs /run:rw,size=64m` */
function parseTmpfsSpec(spec: string): OptionValues['tmpfs'] {
  const colon = spec.indexOf(':');
  if (colon < 0) return { target: spec };
  const size = spec
    .slice(colon + 1)
    .split(',')
    .find((o) => o.startsWith('size='));
  const target = spec.slice(0, colon);
  return size ? { target, size: size.slice('size='.length) } : { target };
}

/** `--device /dev/sda:/dev/xvda:rwm` */
function parseDeviceSpec(spec: string): OptionValues['device'] {
  const [host = '', container] = spec.split(':');
  return container ? { host, container } : { host };
}

function boolValue(value: string): boolean {
  return !/^(false|0)$/i.test(value);
}

const VALUE: FlagSpec = { takesValue: true };
const BOOL: FlagSpec = { takesValue: false };

/**
 * Flags of `docker run`/`create` (and podman's and nerdctl's additions), by long name.
 * Every flag that takes a value must be here: an unknown flag is taken as boolean, so a
 * mistake can only end the flags too early (a missed option), never read the
 * container's own arguments as flags.
 */
const RUN_FLAGS: Record<string, FlagSpec> = {
  // Value flags that request nothing a VM treats differently.
  ...Object.fromEntries(
    [
      'add-host',
      'attach',
      'cgroup-parent',
      'cgroupns',
      'cidfile',
      'cpu-count',
      'cpu-percent',
      'cpu-rt-period',
      'cpu-rt-runtime',
      'cpuset-mems',
      'detach-keys',
      'device-cgroup-rule',
      'dns',
      'dns-option',
      'dns-opt',
      'dns-search',
      'domainname',
      'entrypoint',
      'env',
      'env-file',
      'expose',
      'group-add',
      'health-cmd',
      'health-interval',
      'health-retries',
      'health-start-period',
      'health-start-interval',
      'health-timeout',
      'hostname',
      'io-maxbandwidth',
      'io-maxiops',
      'ip',
      'ip6',
      'isolation',
      'label',
      'label-file',
      'link-local-ip',
      'log-driver',
      'log-opt',
      'mac-address',
      'memory',
      'memory-reservation',
      'memory-swap',
      'memory-swappiness',
      'name',
      'network-alias',
      'net-alias',
      'oom-score-adj',
      'pids-limit',
      'platform',
      'publish',
      'pull',
      'restart',
      'runtime',
      'stop-signal',
      'stop-timeout',
      'storage-opt',
      'ulimit',
      'user',
      'volume-driver',
      'volumes-from',
      'workdir',
      'credential-spec',
      // podman
      'arch',
      'authfile',
      'cert-dir',
      'cgroup-conf',
      'cgroups',
      'chrootdirs',
      'conmon-pidfile',
      'creds',
      'decryption-key',
      'env-merge',
      'gidmap',
      'group-entry',
      'health-log-destination',
      'health-max-log-count',
      'health-max-log-size',
      'health-on-failure',
      'health-startup-cmd',
      'health-startup-interval',
      'health-startup-retries',
      'health-startup-success',
      'health-startup-timeout',
      'hostuser',
      'image-volume',
      'init-ctr',
      'mask',
      'os',
      'passwd-entry',
      'personality',
      'pidfile',
      'pod',
      'pod-id-file',
      'preserve-fd',
      'preserve-fds',
      'rdt-class',
      'requires',
      'retry',
      'retry-delay',
      'sdnotify',
      'seccomp-policy',
      'secret',
      'shm-size-systemd',
      'subgidname',
      'subuidname',
      'systemd',
      'timeout',
      'tz',
      'uidmap',
      'umask',
      'unmask',
      'variant',
      // nerdctl
      'cosign-key',
      'cosign-certificate-identity',
      'cosign-certificate-identity-regexp',
      'cosign-certificate-oidc-issuer',
      'cosign-certificate-oidc-issuer-regexp',
      'ipfs-address',
      'verify',
      'unpack',
      'snapshotter',
    ].map((name) => [name, VALUE]),
  ),
  ...Object.fromEntries(
    [
      'detach',
      'interactive',
      'tty',
      'rm',
      'publish-all',
      'init',
      'read-only',
      'sig-proxy',
      'no-healthcheck',
      'oom-kill-disable',
      'quiet',
      'disable-content-trust',
      'help',
      'use-api-socket',
      'replace',
      'rmi',
      'rootfs',
      'http-proxy',
      'read-only-tmpfs',
      'no-hosts',
      'env-host',
      'tls-verify',
      'passwd',
    ].map((name) => [name, BOOL]),
  ),
  // Mapped onto container options.
  network: { takesValue: true, map: text('network') },
  net: { takesValue: true, map: text('network') },
  link: { takesValue: true, map: text('link') },
  privileged: { takesValue: false, map: (value, _flag, unresolved) => (unresolved ? [] : one('privileged', boolValue(value))) },
  device: { takesValue: true, map: (value) => one('device', parseDeviceSpec(value)) },
  volume: { takesValue: true, map: (value) => one('mount', parseVolumeSpec(value)) },
  mount: { takesValue: true, map: (value) => [parseMountSpec(value)] },
  tmpfs: { takesValue: true, map: (value) => one('tmpfs', parseTmpfsSpec(value)) },
  cpus: { takesValue: true, map: number('cpus') },
  'cpu-quota': { takesValue: true, map: number('cpu-quota') },
  'cpu-period': { takesValue: true, map: number('cpu-period') },
  'cpuset-cpus': { takesValue: true, map: text('cpuset-cpus') },
  'cpu-shares': { takesValue: true, map: number('cpu-shares') },
  'kernel-memory': { takesValue: true, map: text('kernel-memory') },
  'shm-size': { takesValue: true, map: text('shm-size') },
  'cap-add': { takesValue: true, map: capabilities('cap-add') },
  'cap-drop': { takesValue: true, map: capabilities('cap-drop') },
  sysctl: { takesValue: true, map: keyValue('sysctl') },
  pid: { takesValue: true, map: text('pid') },
  ipc: { takesValue: true, map: text('ipc') },
  uts: { takesValue: true, map: text('uts') },
  userns: { takesValue: true, map: text('userns') },
  'security-opt': { takesValue: true, map: text('security-opt') },
  gpus: { takesValue: true, map: text('gpus') },
  'blkio-weight': { takesValue: true, map: blkio },
  'blkio-weight-device': { takesValue: true, map: blkio },
  'device-read-bps': { takesValue: true, map: blkio },
  'device-write-bps': { takesValue: true, map: blkio },
  'device-read-iops': { takesValue: true, map: blkio },
  'device-write-iops': { takesValue: true, map: blkio },
  annotation: { takesValue: true, map: keyValue('annotation') },
};

const RUN_SHORT: Record<string, string> = {
  a: 'attach',
  c: 'cpu-shares',
  d: 'detach',
  e: 'env',
  h: 'hostname',
  i: 'interactive',
  l: 'label',
  m: 'memory',
  p: 'publish',
  P: 'publish-all',
  q: 'quiet',
  t: 'tty',
  u: 'user',
  v: 'volume',
  w: 'workdir',
};

/** Global flags (before the subcommand) that take a value. */
const GLOBAL_VALUE_FLAGS = new Set([
  '-H',
  '--host',
  '-c',
  '--context',
  '--config',
  '-l',
  '--log-level',
  '--tlscacert',
  '--tlscert',
  '--tlskey',
  // podman
  '--root',
  '--runroot',
  '--storage-driver',
  '--storage-opt',
  '--cgroup-manager',
  '--conmon',
  '--events-backend',
  '--hooks-dir',
  '--identity',
  '--imagestore',
  '--module',
  '--network-cmd-path',
  '--network-config-dir',
  '--runtime',
  '--runtime-flag',
  '--ssh',
  '--tmpdir',
  '--url',
  '--volumepath',
  '--connection',
  // nerdctl
  '-n',
  '--namespace',
  '-a',
  '--address',
  '--snapshotter',
  '--cni-path',
  '--cni-netconfpath',
  '--data-root',
  '--host-gateway-ip',
  '--hosts-dir',
]);

const TOOLS = new Set(['docker', 'podman', 'nerdctl']);

/** Words before the command name that leave it the same command. */
const PREFIX_WORDS = new Set(['if', 'then', 'else', 'elif', 'do', 'while', 'until', '!', '{', 'exec', 'command', 'nohup', 'builtin']);
/** Wrappers that run the command after their own flags, and those of their flags that take a value. */
const WRAPPERS: Record<string, ReadonlySet<string>> = {
  sudo: new Set(['-u', '-g', '-C', '-D', '-h', '-p', '-r', '-t', '-U', '-T', '--user', '--group', '--chdir', '--prompt', '--host']),
  doas: new Set(['-u', '-C']),
  env: new Set(['-u', '--unset', '-C', '--chdir', '-S', '--split-string']),
  nice: new Set(['-n', '--adjustment']),
  timeout: new Set(['-s', '--signal', '-k', '--kill-after']),
  time: new Set(['-f', '--format', '-o', '--output']),
};
/** Wrappers with a positional argument before the command (`timeout 30s docker …`). */
const WRAPPER_ARGUMENTS: Record<string, number> = { timeout: 1 };
const ASSIGNMENT = /^[A-Za-z_][A-Za-z0-9_]*=/;

/** Index of the command name after wrappers (`sudo`, `env`, `time`, …), assignments and reserved words. */
function commandStart(words: readonly ArgWord[]): number {
  let i = 0;
  while (i < words.length) {
    const word = words[i]!.value;
    if (PREFIX_WORDS.has(word) || ASSIGNMENT.test(word)) {
      i++;
      continue;
    }
    const valueFlags = WRAPPERS[word];
    if (!valueFlags) break;
    i++;
    while (i < words.length && words[i]!.value.startsWith('-')) {
      const flag = words[i]!.value;
      i += valueFlags.has(flag) ? 2 : 1;
      if (flag === '--') break;
    }
    i += WRAPPER_ARGUMENTS[word] ?? 0;
  }
  return i;
}

function toolOf(word: ArgWord | undefined): DockerInvocation['tool'] | undefined {
  if (!word || word.unresolved) return undefined;
  const name = word.value.slice(word.value.lastIndexOf('/') + 1);
  return TOOLS.has(name) ? (name as DockerInvocation['tool']) : undefined;
}

/** Subcommands that are runtime features by themselves, by their words after the tool (and `container`). */
const FEATURE_COMMANDS: readonly [readonly string[], CliCommand][] = [
  [['network', 'connect'], 'network-connect'],
  [['checkpoint'], 'checkpoint'],
  [['restore'], 'checkpoint'],
  [['update'], 'update'],
  [['stats'], 'stats'],
  [['top'], 'top'],
  [['events'], 'events'],
  [['system', 'events'], 'events'],
  [['swarm'], 'swarm'],
  [['service'], 'swarm'],
  [['stack'], 'swarm'],
];

/** Recognizes a docker/podman/nerdctl command among a simple command's words. */
export function parseDockerCommand(words: readonly ArgWord[]): DockerInvocation | undefined {
  let i = commandStart(words);
  const tool = toolOf(words[i]);
  if (!tool) return undefined;
  i++;
  while (i < words.length && words[i]!.value.startsWith('-')) {
    const flag = words[i]!.value;
    i += GLOBAL_VALUE_FLAGS.has(flag) ? 2 : 1;
  }
  const first = words[i];
  if (!first) return undefined;
  let sub = i;
  if (first.value === 'container' && words[i + 1]) sub = i + 1;
  const subWord = words[sub]!.value;
  if (subWord === 'run' || subWord === 'create') {
    const parsed = parseRunFlags(words, sub + 1, 'command');
    const invocation: DockerInvocation = { tool, action: subWord, start: first.start, end: words[sub]!.end, options: parsed.options };
    if (parsed.name !== undefined) invocation.name = parsed.name;
    return invocation;
  }
  if (subWord === 'start') {
    for (let j = sub + 1; j < words.length; j++) {
      const word = words[j]!;
      if (word.value === '--checkpoint' || word.value.startsWith('--checkpoint=')) {
        return { tool, action: 'checkpoint', start: word.start, end: word.end, options: [] };
      }
    }
    return undefined;
  }
  const match = FEATURE_COMMANDS.find(([path]) => path.every((w, k) => words[sub + k]?.value === w));
  if (!match) return undefined;
  const after = sub + match[0].length;
  // `update` changes a container's resources with run's flags (their subset), before or among the container names.
  const options = match[1] === 'update' ? parseRunFlags(words, after, 'options').options : [];
  return { tool, action: match[1], start: first.start, end: words[after - 1]!.end, options };
}

/**
 * Reads run/create flags from `from`. In 'command' mode the first non-flag word is the
 * image and ends the flags (unless it is an expansion followed by flags); in 'options' mode (runArgs, Actions options) every word is
 * a flag and stray words are skipped.
 */
export function parseRunFlags(
  words: readonly ArgWord[],
  from: number,
  mode: 'command' | 'options',
): { options: CliOption[]; name?: string } {
  const options: CliOption[] = [];
  let name: string | undefined;
  const emit = (long: string, flag: string, value: string, unresolved: boolean, at: FlagOccurrence): void => {
    if (long === 'name') name = value;
    for (const assignment of RUN_FLAGS[long]?.map?.(value, flag, unresolved) ?? []) {
      options.push({ option: assignment.option, value: assignment.value, at });
    }
  };
  let i = from;
  while (i < words.length) {
    const word = words[i]!;
    const arg = word.value;
    if (arg === '--') {
      if (mode === 'command') break;
      i++;
      continue;
    }
    if (arg.startsWith('--') && arg.length > 2) {
      const eq = arg.indexOf('=');
      const long = (eq < 0 ? arg.slice(2) : arg.slice(2, eq)).toLowerCase();
      const flag = eq < 0 ? arg : arg.slice(0, eq);
      const spec = RUN_FLAGS[long];
      if (eq >= 0) {
        emit(long, flag, arg.slice(eq + 1), word.unresolved, { flag, start: word.start, end: word.end, firstWord: i, lastWord: i });
        i++;
      } else if (spec?.takesValue) {
        const valueWord = words[i + 1];
        if (valueWord)
          emit(long, flag, valueWord.value, valueWord.unresolved, {
            flag,
            start: word.start,
            end: valueWord.end,
            firstWord: i,
            lastWord: i + 1,
          });
        i += 2;
      } else {
        emit(long, flag, 'true', false, { flag, start: word.start, end: word.end, firstWord: i, lastWord: i });
        i++;
      }
      continue;
    }
    if (arg.startsWith('-') && arg.length > 1) {
      i = shortFlags(words, i, emit);
      continue;
    }
    // An expansion alone (`$OPTS`, `${EXTRA_DOCKER_OPTS}`) before more flags holds flags, not the image.
    if (mode === 'command' && !(isBareExpansion(word) && words[i + 1]?.value.startsWith('-'))) break;
    i++;
  }
  return name === undefined ? { options } : { options, name };
}

const BARE_EXPANSION = /^\$(?:[A-Za-z_][A-Za-z0-9_]*|\{[^{}]*\}|\([^()]*\)|[@*])$/;

/** An unquoted word that is one variable or substitution and nothing else: its value is unknown, even its word count. */
function isBareExpansion(word: ArgWord): boolean {
  return word.splits === true && BARE_EXPANSION.test(word.value);
}

/** A bundle of short flags (`-it`, `-itd`, `-p80:80`, `-itv a:b`); returns the index after it. */
function shortFlags(
  words: readonly ArgWord[],
  i: number,
  emit: (long: string, flag: string, value: string, unresolved: boolean, at: FlagOccurrence) => void,
): number {
  const word = words[i]!;
  const arg = word.value;
  for (let k = 1; k < arg.length; k++) {
    const long = RUN_SHORT[arg[k]!];
    if (!long) continue;
    const flag = `-${arg[k]}`;
    const attached = k + 1 < arg.length;
    const takesValue = RUN_FLAGS[long]!.takesValue;
    const valueWord = takesValue && !attached ? words[i + 1] : undefined;
    const at: FlagOccurrence = { flag, start: word.start, end: (valueWord ?? word).end, firstWord: i, lastWord: valueWord ? i + 1 : i };
    if (k > 1 || (!takesValue && arg.length > 2)) {
      // A letter inside a bundle: the range starts at the letter, when its offset is known.
      at.inBundle = true;
      const letter = word.charAt?.(k);
      if (letter !== undefined) {
        at.start = letter;
        at.bundled = { start: letter, end: takesValue && attached ? word.end : letter + 1 };
        if (!takesValue) at.end = letter + 1;
      }
    }
    if (!takesValue) {
      emit(long, flag, 'true', false, at);
      continue;
    }
    if (attached) {
      // `-p80:80`, `-c=512`, `-itv/a:/b`
      emit(long, flag, arg.slice(arg[k + 1] === '=' ? k + 2 : k + 1), word.unresolved, at);
      return i + 1;
    }
    if (valueWord) emit(long, flag, valueWord.value, valueWord.unresolved, at);
    return i + 2;
  }
  return i + 1;
}

/** The `--name=value` arguments that request these options; undefined when one has no flag form. */
export function formatRunFlags(assignments: readonly OptionAssignment[]): string[] | undefined {
  const flags: string[] = [];
  for (const { option, value } of assignments) {
    const flag = formatRunFlag(option, value);
    if (flag === undefined) return undefined;
    flags.push(flag);
  }
  return flags;
}

function formatRunFlag(option: OptionName, value: OptionValues[OptionName]): string | undefined {
  switch (option) {
    case 'cpus':
    case 'cpu-quota':
    case 'cpu-period':
    case 'cpu-shares':
      return typeof value === 'number' && Number.isFinite(value) ? `--${option}=${value}` : undefined;
    case 'network':
    case 'link':
    case 'cpuset-cpus':
    case 'kernel-memory':
    case 'shm-size':
    case 'cap-add':
    case 'cap-drop':
    case 'pid':
    case 'ipc':
    case 'uts':
    case 'userns':
    case 'security-opt':
    case 'gpus':
      return `--${option}=${String(value)}`;
    case 'privileged':
      return value === true ? '--privileged' : undefined;
    case 'sysctl':
    case 'annotation': {
      const { key, value: v } = value as { key: string; value: string };
      return `--${option}=${key}=${v}`;
    }
    case 'tmpfs': {
      const { target, size } = value as OptionValues['tmpfs'];
      return size === undefined ? `--tmpfs=${target}` : `--tmpfs=${target}:size=${size}`;
    }
    default:
      return undefined;
  }
}
