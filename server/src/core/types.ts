/**
 * The lint engine's vocabulary. Front ends turn a file into container requests
 * (what a container asks for, with exact source ranges); rules turn requests into
 * findings. Rules never look at syntax; front ends never decide policy. It sits at the
 * bottom (docs/architecture.md): it imports no front end, rule, profile or engine module.
 */
import type { Document } from 'yaml';
import type { FeatureId } from '../../../runtime/src/capabilities.js';
import type { KeptRequests } from './kept-requests.js';

export type { FeatureId };

/** 0-based line, UTF-16 code units (LSP positions). */
export interface Position {
  line: number;
  character: number;
}
export interface Range {
  start: Position;
  end: Position;
}
export interface TextEdit {
  range: Range;
  newText: string;
}

export type Severity = 'error' | 'warning' | 'info' | 'hint';

/** The file kinds the engine reads, one front end each. */
export type FileKind = 'oci' | 'compose' | 'kubernetes' | 'dockerfile' | 'command' | 'devcontainer';

/**
 * A normalized container option. Front ends map their syntax onto these names; the
 * value shapes are fixed per name (see OptionValues).
 */
export interface OptionValues {
  /** Network mode: 'host', 'none', 'bridge', 'container:<x>', 'service:<x>', or a network name. */
  network: string;
  /** A legacy link, `name[:alias]`. */
  link: string;
  privileged: boolean;
  /** A host device path handed to the container (`--device`, compose devices, OCI linux.devices, k8s hostPath of a device). */
  device: { host: string; container?: string };
  /** A mount. `source` is the host path for binds; propagation as written (shared, rshared, slave, …). */
  mount: { type: 'bind' | 'volume' | 'tmpfs' | 'other'; source?: string; target: string; readOnly?: boolean; propagation?: string };
  /** A tmpfs mount (`--tmpfs`, compose tmpfs, OCI tmpfs mounts, k8s emptyDir medium Memory). */
  tmpfs: { target: string; size?: string };
  /** `--cpus`: a decimal number of CPUs. */
  cpus: number;
  'cpu-quota': number;
  'cpu-period': number;
  'cpuset-cpus': string;
  /** Memory nodes the container may use (`--cpuset-mems`, OCI linux.resources.cpu.mems). */
  'cpuset-mems': string;
  'cpu-shares': number;
  /** Bytes, or the text as written when it could not be parsed. */
  'kernel-memory': string;
  'shm-size': string;
  /** A capability name as written (CAP_ prefix optional) or 'ALL'. */
  'cap-add': string;
  'cap-drop': string;
  sysctl: { key: string; value: string };
  /** Namespace modes: 'host', 'container:<x>', 'private', … */
  pid: string;
  ipc: string;
  uts: string;
  userns: string;
  /** `apparmor=…`, `label=…`, `seccomp=…`, `no-new-privileges`, … */
  'security-opt': string;
  /** `--gpus` value or a device request for gpus. */
  gpus: string;
  /** The blkio flag or key as written, e.g. `--blkio-weight`, `device_read_bps`. */
  blkio: string;
  annotation: { key: string; value: string };
  /** k8s volumeMounts[].subPath */
  subpath: string;
  /** A docker command that is a runtime feature by itself: `network connect`, `checkpoint`, `start --checkpoint`, `update`, `stats`, `top`, `events`, `swarm`/`service`/`stack`. */
  command: 'network-connect' | 'checkpoint' | 'update' | 'stats' | 'top' | 'events' | 'swarm';
  /** Compose `deploy` keys only swarm honours (`mode: global`, `placement`, `update_config`, …). */
  'swarm-key': string;
}

export type OptionName = keyof OptionValues;

/** Options a fix may write, in the syntax of the file the front end read. */
export interface OptionAssignment<N extends OptionName = OptionName> {
  option: N;
  value: OptionValues[N];
}

/**
 * Syntax-aware edits for one option, supplied by the front end that found it.
 * `replace` writes other options in place of this one (e.g. `--cpus=1.5` becomes
 * `--cpu-period=100000 --cpu-quota=150000`); it returns undefined when the file's
 * syntax cannot express them.
 */
export interface OptionEditor {
  replace(options: OptionAssignment[]): TextEdit[] | undefined;
  remove(): TextEdit[];
}

export interface RequestedOption<N extends OptionName = OptionName> {
  option: N;
  value: OptionValues[N];
  /** The key or flag (not the whole line), in `file`. */
  range: Range;
  /** The file that holds the option (differs from the request's file through compose extends/include). */
  file: string;
  edit?: OptionEditor;
}

/** What one container (service, pod, run line, bundle, build) asks for. */
export interface ContainerRequest {
  kind: FileKind;
  /** Service, pod, container or stage name where the file gives one. */
  name?: string;
  file: string;
  options: RequestedOption[];
}

/** A range in a file. */
export interface Place {
  file: string;
  range: Range;
}

/** A problem with the file itself (not a container feature): it could not be read or is not valid. */
export interface FileProblem {
  rule: 'parse-error' | 'schema' | 'file-too-large' | 'binary-file' | 'unreadable';
  file: string;
  range: Range;
  message: string;
  severity: Severity;
}

export interface FrontEndResult {
  requests: ContainerRequest[];
  problems: FileProblem[];
}

/** A file as the engine hands it to a front end. */
export interface SourceFile {
  /** Absolute path (or the --stdin-filename). */
  path: string;
  text: string;
}

export interface FrontEndContext {
  /**
   * Reads another file (compose extends/include, .env); undefined when it cannot be read.
   * `namedAt`: where a file names it (an include's path, an extends' file), where a refusal
   * (a FIFO, a device, a file over the size limit) is reported; else at the linted file's start.
   */
  readFile(path: string, namedAt?: Place): string | undefined;
  /** Environment used for compose interpolation (.env values are added by the front end). */
  env: Readonly<Record<string, string | undefined>>;
  /** Kubernetes runtime class names (exact, or a `*` glob) that mean a VM runtime. */
  runtimeClasses: readonly string[];
  /** The linted file's incremental YAML parse, kept between lints (the language server's); absent: parse whole. */
  yamlBlocks?: YamlParseCache;
  /** The requests of the linted file's last lint, by the text they were read from (the language server's); absent: read all. */
  keptRequests?: KeptRequests;
}

/**
 * A YAML parse kept between lints of one file, so a keystroke re-parses only the part it
 * touched; each method returns undefined when the text must be parsed whole.
 */
export interface YamlParseCache {
  /** A compose file as one document, its top-level blocks and services parsed one by one. */
  parse(text: string): Document.Parsed | undefined;
  /** A stream's documents (a Kubernetes file's objects), each parsed by itself. */
  parseDocuments(text: string): Document.Parsed[] | undefined;
}

export interface FrontEnd {
  kind: FileKind;
  /** True when this front end reads the file (by name, then by content). */
  detect(path: string, text: string): boolean;
  parse(file: SourceFile, ctx: FrontEndContext): FrontEndResult;
}

export interface Fix {
  title: string;
  /** Edits per file (a fix may touch the file that holds the option only, in practice). */
  edits: TextEdit[];
  /**
   * False when the edits alone may break what the container relies on (the user has
   * more to change by hand): editors then offer the fix without preferring it. Absent: safe.
   */
  safe?: boolean;
}

export interface Finding {
  file: string;
  feature: FeatureId | 'schema' | 'parse-error' | 'file';
  rule: string;
  severity: Severity;
  message: string;
  range: Range;
  /** Link to the docs page of the feature (docs/features/<id>.md). */
  docs?: string;
  fix?: Fix;
}
