/**
 * The OCI runtime bundle front end: reads a config.json (runtime-spec config.md and
 * config-linux.md) with jsonc-parser, keeping every node's offsets, and turns it into
 * one container request. What Docker 20.10+ and `runc spec` write into every config
 * (their capability sets, the /proc, /sys, /dev, /dev/shm mounts, the unprivileged
 * port and ping sysctls, the AppArmor and SELinux defaults) is not a request.
 */
import { basename } from 'node:path';
import {
  applyEdits,
  findNodeAtLocation,
  getNodePath,
  getNodeValue,
  modify,
  parseTree,
  printParseErrorCode,
  type FormattingOptions,
  type Node as JsonNode,
  type ParseError,
} from 'jsonc-parser';
import { LineIndex } from '../../core/positions.js';
import type {
  FileProblem,
  FrontEnd,
  FrontEndResult,
  OptionAssignment,
  OptionEditor,
  OptionName,
  OptionValues,
  Range,
  RequestedOption,
  SourceFile,
  TextEdit,
} from '../../core/types.js';
import {
  hasEveryCapability,
  HOST_UNLESS_LISTED,
  isHostDevice,
  isPrivileged,
  isProcessNamespace,
  mountFeatures,
  namespacesLeftToHost,
  normalizeTarget,
  type MountFeatures,
  PROPAGATING_MODES,
  withCapPrefix,
} from '../../../../runtime/src/oci-detection.js';
import { checkOciStructure, type JsonPath } from './schema.js';

/** Docker's default capability set (moby oci/caps/defaults.go), CAP_ prefixed as config.json writes it. */
const DOCKER_CAPS = [
  'CHOWN',
  'DAC_OVERRIDE',
  'FSETID',
  'FOWNER',
  'MKNOD',
  'NET_RAW',
  'SETGID',
  'SETUID',
  'SETFCAP',
  'SETPCAP',
  'NET_BIND_SERVICE',
  'SYS_CHROOT',
  'KILL',
  'AUDIT_WRITE',
].map((c) => `CAP_${c}`);
/** The set `runc spec` writes (libcontainer/specconv/example.go). */
const RUNC_SPEC_CAPS = ['CAP_AUDIT_WRITE', 'CAP_KILL', 'CAP_NET_BIND_SERVICE'];
/** Podman 4+'s default set (containers.conf default_capabilities): Docker's without MKNOD, NET_RAW, AUDIT_WRITE. */
const PODMAN_CAPS = DOCKER_CAPS.filter((cap) => !['CAP_MKNOD', 'CAP_NET_RAW', 'CAP_AUDIT_WRITE'].includes(cap));
/** The defaults a config.json may have been generated with; ties go to the first. */
const DEFAULT_CAP_SETS = [DOCKER_CAPS, PODMAN_CAPS, RUNC_SPEC_CAPS];
/** Capability sets in the order a finding prefers for its range: bounding limits all others. */
const CAP_SETS = ['bounding', 'permitted', 'effective', 'inheritable', 'ambient'] as const;
/** The sets `docker run --cap-add` changes. */
const GRANTING_SETS = ['bounding', 'effective', 'permitted'] as const;

/** Sysctls Docker (daemon/oci_linux.go WithSysctls) and containerd's CRI write into every private network namespace. */
const DEFAULT_SYSCTLS: Readonly<Record<string, string>> = {
  'net.ipv4.ip_unprivileged_port_start': '0',
  'net.ipv4.ping_group_range': '0 2147483647',
};

/**
 * Annotations container managers write into every config as metadata (containerd's and
 * CRI-O's Kubernetes pod and container names, Podman's run flags): not the user's requests.
 */
const GENERATED_ANNOTATION = /^(io\.kubernetes\.|io\.podman\.annotations\.|io\.container\.manager$)/;

/** The AppArmor profiles Docker and Podman generate for every container. */
const DEFAULT_APPARMOR = /^(docker-default|containers-default-[\w.-]+)$/;
/** The SELinux types Docker, Podman and CRI-O label every container with (a random MCS level follows). */
const DEFAULT_SELINUX_TYPES = new Set(['container_t', 'svirt_lxc_net_t']);

const NON_PROPAGATING = new Set(['private', 'rprivate']);
const DEFAULT_SHM_BYTES = 64 * 1024 * 1024;
const DEFAULT_SHM_OPTION = 'size=65536k';
/** Docker's default maskedPaths and readonlyPaths, restored when privileged mode is removed. */
const DOCKER_MASKED_PATHS = [
  '/proc/asound',
  '/proc/acpi',
  '/proc/kcore',
  '/proc/keys',
  '/proc/latency_stats',
  '/proc/timer_list',
  '/proc/timer_stats',
  '/proc/sched_debug',
  '/proc/scsi',
  '/sys/firmware',
];
const DOCKER_READONLY_PATHS = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];

export const ociFrontEnd: FrontEnd = {
  kind: 'oci',
  detect(path, text) {
    if (!text.includes('"ociVersion"')) return false;
    const root = parseTree(text, [], { disallowComments: true });
    if (root?.type !== 'object' || !child(root, 'ociVersion')) return false;
    return basename(path) === 'config.json' || child(root, 'process') !== undefined || child(root, 'root') !== undefined;
  },
  parse(file) {
    return parseOciConfig(file);
  },
};

function parseOciConfig(file: SourceFile): FrontEndResult {
  const lines = new LineIndex(file.text);
  const errors: ParseError[] = [];
  // config.json is plain JSON: runtimes (Go's encoding/json) reject comments and trailing commas.
  const root = parseTree(file.text, errors, { disallowComments: true, allowTrailingComma: false });
  const problems: FileProblem[] = reportedSyntaxErrors(errors, file.text.length).map((error) => ({
    rule: 'parse-error',
    file: file.path,
    range: lines.range(error.offset, error.offset + error.length),
    message: syntaxErrorMessage(error, file.text.length),
    severity: 'error',
  }));
  if (root?.type !== 'object') {
    if (root && errors.length === 0) {
      problems.push({
        rule: 'schema',
        file: file.path,
        range: lines.range(root.offset, root.offset + root.length),
        message: 'config must be a JSON object (OCI runtime-spec config.md)',
        severity: 'error',
      });
    }
    return { requests: [], problems };
  }
  // A broken document would only add errors about the part the syntax error cut off.
  if (errors.length === 0) {
    const located = checkOciStructure(getNodeValue(root)).map((error) => ({ error, node: findNodeAtLocation(root, error.path) ?? root }));
    // In document order, as an editor lists them.
    located.sort((a, b) => a.node.offset - b.node.offset);
    for (const { error, node } of located) {
      problems.push({ rule: 'schema', file: file.path, range: nodeRange(node, lines), message: error.message, severity: 'error' });
    }
  }
  const options = new OciConfigReader(file, lines, root).read();
  return { requests: [{ kind: 'oci', file: file.path, options }], problems };
}

/** Enough to find the mistakes; a file of garbage would otherwise give one per character. */
const MAX_SYNTAX_ERRORS = 20;

/**
 * The errors worth showing: after the first one, jsonc-parser's recovery reports every
 * bracket left open at the end of the file, and a second error at one place is the same
 * mistake seen again.
 */
function reportedSyntaxErrors(errors: readonly ParseError[], textLength: number): ParseError[] {
  const seen = new Set<number>();
  const reported: ParseError[] = [];
  for (const error of errors) {
    if (reported.length === MAX_SYNTAX_ERRORS) break;
    if (seen.has(error.offset) || (reported.length > 0 && error.offset >= textLength)) continue;
    seen.add(error.offset);
    reported.push(error);
  }
  return reported;
}

/** `CloseBraceExpected` becomes "close brace expected". */
function syntaxErrorMessage(error: ParseError, textLength: number): string {
  const words = printParseErrorCode(error.error)
    .replace(/([a-z])([A-Z])/g, '$1 $2')
    .toLowerCase();
  const truncated = error.offset >= textLength ? ' at the end of the file (is it truncated?)' : '';
  return `JSON syntax error: ${words}${truncated}`;
}

// ---- JSON nodes -------------------------------------------------------------------

function child(node: JsonNode | undefined, key: string): JsonNode | undefined {
  return node?.type === 'object' ? findNodeAtLocation(node, [key]) : undefined;
}

function items(node: JsonNode | undefined): JsonNode[] {
  return node?.type === 'array' ? (node.children ?? []) : [];
}

/** [key text, key node, value node] of each property of an object. */
function properties(node: JsonNode | undefined): [string, JsonNode, JsonNode][] {
  if (node?.type !== 'object') return [];
  return (node.children ?? []).flatMap((property) => {
    const [key, value] = property.children ?? [];
    return key && value ? [[String(key.value), key, value] as [string, JsonNode, JsonNode]] : [];
  });
}

function stringOf(node: JsonNode | undefined): string | undefined {
  return node?.type === 'string' ? String(node.value) : undefined;
}

function numberOf(node: JsonNode | undefined): number | undefined {
  return node?.type === 'number' ? Number(node.value) : undefined;
}

function strings(node: JsonNode | undefined): string[] {
  return items(node).flatMap((item) => (item.type === 'string' ? [String(item.value)] : []));
}

/** A property's value is reported at its key (quotes included); an array item or the document at itself. */
function nodeRange(node: JsonNode, lines: LineIndex): Range {
  const target = node.parent?.type === 'property' ? node.parent.children![0]! : node;
  // The document's range would be the whole file: its opening brace stands for it.
  const length = target.parent ? target.length : Math.min(target.length, 1);
  return lines.range(target.offset, target.offset + length);
}

/**
 * The seccomp profile Docker, Podman and containerd generate for every container: it allows
 * clone only without namespace flags (the mask 0x7E020000, CLONE_NEWNS and the other
 * CLONE_NEW*), a rule no hand-written profile shares.
 */
function isGeneratedSeccomp(seccomp: JsonNode): boolean {
  return items(child(seccomp, 'syscalls')).some(
    (rule) =>
      strings(child(rule, 'names')).includes('clone') &&
      items(child(rule, 'args')).some(
        (arg) => numberOf(child(arg, 'value')) === CLONE_NAMESPACE_FLAGS && stringOf(child(arg, 'op')) === 'SCMP_CMP_MASKED_EQ',
      ),
  );
}
const CLONE_NAMESPACE_FLAGS = 0x7e020000;

// ---- edits ------------------------------------------------------------------------

/** A change of the whole document, applied to its current text (each step re-reads the text). */
type Rewrite = (text: string) => string;

function formattingOf(text: string): (FormattingOptions & { tabSize: number; eol: string }) | undefined {
  const indent = /\n([ \t]+)\S/.exec(text)?.[1];
  // Minified JSON (as Docker writes it) stays minified: no formatter pass.
  if (indent === undefined) return undefined;
  return { insertSpaces: indent[0] === ' ', tabSize: indent[0] === ' ' ? indent.length : 1, eol: text.includes('\r\n') ? '\r\n' : '\n' };
}

function setValue(path: JsonPath, value: unknown): Rewrite {
  return (text) => applyEdits(text, modify(text, path, value, { formattingOptions: formattingOf(text) }));
}

/**
 * Appends an item after the last one with the separator the array already uses (the
 * formatter would reflow the whole line); an empty or missing array is written anew.
 */
function appendValue(arrayPath: JsonPath, value: unknown): Rewrite {
  return (text) => {
    const array = findNodeAtLocation(parseTree(text)!, arrayPath);
    const list = items(array);
    const last = list.at(-1);
    if (!last) return setValue(arrayPath, [value])(text);
    const layout = formattingOf(text);
    const eol = layout?.eol ?? '\n';
    const lastEnd = last.offset + last.length;
    const beforeLast = text.slice(text.lastIndexOf('\n', last.offset) + 1, last.offset);
    const onOwnLine = beforeLast.trim() === '';
    const indent = onOwnLine ? beforeLast : '';
    const previous = list.at(-2);
    const separator = previous ? text.slice(previous.offset + previous.length, last.offset) : onOwnLine ? `,${eol}${indent}` : ', ';
    // A new object (mount, namespace) looks like the last item: on one line, or spread with the file's indentation.
    const lastText = text.slice(last.offset, lastEnd);
    const json =
      layout && /[\r\n]/.test(lastText)
        ? JSON.stringify(value, null, layout.insertSpaces ? ' '.repeat(layout.tabSize) : '\t').replace(/\n/g, `${eol}${indent}`)
        : inlineJson(value, /[,:] /.test(lastText));
    return text.slice(0, lastEnd) + separator + json + text.slice(lastEnd);
  };
}

/** JSON on one line, with a space after `:` and `,` and inside braces when `spaced` (as `{ "type": "pid" }`). */
function inlineJson(value: unknown, spaced: boolean): string {
  if (!spaced || value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map((item) => inlineJson(item, true)).join(', ')}]`;
  const entries = Object.entries(value).map(([key, item]) => `${JSON.stringify(key)}: ${inlineJson(item, true)}`);
  return entries.length ? `{ ${entries.join(', ')} }` : '{}';
}

/**
 * Removes a property or an array item with the comma that separated it, keeping the
 * layout of what remains (jsonc-parser's own removal of a last array item loses a comma
 * in compact arrays, and reflows the lines it touches).
 */
function deleteAt(path: JsonPath): Rewrite {
  return (text) => {
    const node = findNodeAtLocation(parseTree(text)!, path);
    if (!node) return text;
    const unit = node.parent?.type === 'property' ? node.parent : node;
    const container = unit.parent;
    if (!container) return text;
    const siblings = container.children ?? [];
    const index = siblings.indexOf(unit);
    const end = (n: JsonNode) => n.offset + n.length;
    let from: number;
    let to: number;
    if (siblings.length === 1) [from, to] = [container.offset + 1, end(container) - 1];
    else if (index < siblings.length - 1) [from, to] = [unit.offset, siblings[index + 1]!.offset];
    else [from, to] = [end(siblings[index - 1]!), end(unit)];
    return text.slice(0, from) + text.slice(to);
  };
}

/** Removes every string item that `matches` from the array at `arrayPath`. */
function deleteItems(arrayPath: JsonPath, matches: (item: string) => boolean): Rewrite {
  return (text) => {
    for (;;) {
      const array = findNodeAtLocation(parseTree(text)!, arrayPath);
      const list = items(array);
      let index = list.length - 1;
      while (index >= 0 && !(list[index]!.type === 'string' && matches(String(list[index]!.value)))) index--;
      if (index < 0) return text;
      text = deleteAt([...arrayPath, index])(text);
    }
  };
}

const chain =
  (...rewrites: Rewrite[]): Rewrite =>
  (text) =>
    rewrites.reduce((t, rewrite) => rewrite(t), text);

/** The edit that turns `before` into `after`: one replacement of the span that differs. */
function editBetween(before: string, after: string, lines: LineIndex): TextEdit[] {
  if (before === after) return [];
  const shorter = Math.min(before.length, after.length);
  let start = 0;
  while (start < shorter && before.charCodeAt(start) === after.charCodeAt(start)) start++;
  let tail = 0;
  while (tail < shorter - start && before.charCodeAt(before.length - 1 - tail) === after.charCodeAt(after.length - 1 - tail)) tail++;
  return [{ range: lines.range(start, before.length - tail), newText: after.slice(start, after.length - tail) }];
}

const CPU_PATH = ['linux', 'resources', 'cpu'];

/** How an option is written into a config.json; undefined for options OCI has no place for. */
function writeOption(assignment: OptionAssignment): Rewrite | undefined {
  const { option, value } = assignment;
  switch (option) {
    case 'cpu-quota':
      return setValue([...CPU_PATH, 'quota'], value);
    case 'cpu-period':
      return setValue([...CPU_PATH, 'period'], value);
    case 'cpuset-cpus':
      return setValue([...CPU_PATH, 'cpus'], value);
    case 'cpuset-mems':
      return setValue([...CPU_PATH, 'mems'], value);
    case 'cpu-shares':
      return setValue([...CPU_PATH, 'shares'], value);
    case 'kernel-memory': {
      const text = String(value);
      return /^\d+$/.test(text) ? setValue(['linux', 'resources', 'memory', 'kernel'], Number(text)) : undefined;
    }
    case 'sysctl': {
      const sysctl = value as OptionValues['sysctl'];
      return setValue(['linux', 'sysctl', sysctl.key], sysctl.value);
    }
    case 'annotation': {
      const annotation = value as OptionValues['annotation'];
      return setValue(['annotations', annotation.key], annotation.value);
    }
    case 'cap-add': {
      const cap = withCapPrefix(String(value));
      if (cap === 'ALL') return undefined;
      return (text) => {
        const capabilities = findNodeAtLocation(parseTree(text)!, ['process', 'capabilities']);
        // Only the sets the file has: a new effective set holding one capability would drop the others.
        const given = GRANTING_SETS.filter((set) => child(capabilities, set)?.type === 'array');
        return chain(
          ...(given.length ? given : GRANTING_SETS).map((set) => (current: string) => {
            const present = strings(findNodeAtLocation(parseTree(current)!, ['process', 'capabilities', set])).map(withCapPrefix);
            return present.includes(cap) ? current : appendValue(['process', 'capabilities', set], cap)(current);
          }),
        )(text);
      };
    }
    case 'cap-drop': {
      const cap = withCapPrefix(String(value));
      return chain(
        ...CAP_SETS.map((set) => deleteItems(['process', 'capabilities', set], (item) => cap === 'ALL' || withCapPrefix(item) === cap)),
      );
    }
    case 'mount': {
      const mount = value as OptionValues['mount'];
      if (mount.type === 'volume') return undefined;
      const options = [mount.type === 'bind' ? 'rbind' : undefined, mount.readOnly ? 'ro' : undefined, mount.propagation].filter(
        (o): o is string => o !== undefined,
      );
      return appendValue(['mounts'], {
        destination: mount.target,
        type: mount.type === 'other' ? 'none' : mount.type,
        source: mount.source ?? mount.type,
        options,
      });
    }
    case 'tmpfs': {
      const tmpfs = value as OptionValues['tmpfs'];
      return appendValue(['mounts'], {
        destination: tmpfs.target,
        type: 'tmpfs',
        source: 'tmpfs',
        options: ['nosuid', 'nodev', ...(tmpfs.size ? [`size=${tmpfs.size}`] : [])],
      });
    }
    default:
      return undefined;
  }
}

// ---- reading the options ----------------------------------------------------------

interface MountEntry {
  node: JsonNode;
  path: JsonPath;
  value: OptionValues['mount'];
  options: JsonNode[];
  features: MountFeatures;
}

class OciConfigReader {
  private readonly options: RequestedOption[] = [];
  private readonly process: JsonNode | undefined;
  private readonly linux: JsonNode | undefined;

  constructor(
    private readonly file: SourceFile,
    private readonly lines: LineIndex,
    private readonly root: JsonNode,
  ) {
    this.process = child(root, 'process');
    this.linux = child(root, 'linux');
  }

  read(): RequestedOption[] {
    this.namespaces();
    const privileged = this.privileged();
    if (!privileged) {
      this.capabilities();
      this.devices();
    }
    this.mounts();
    this.resources();
    this.sysctls();
    this.securityOptions();
    this.annotations();
    return this.options;
  }

  private add<N extends OptionName>(option: N, value: OptionValues[N], node: JsonNode, edit: OptionEditor): void {
    this.options.push({ option, value, range: nodeRange(node, this.lines), file: this.file.path, edit } as RequestedOption);
  }

  /** An editor that removes with `removal` and replaces by removing, then writing the new options. */
  private editor(removal: Rewrite): OptionEditor {
    return {
      remove: () => this.edits(removal),
      replace: (assignments) => {
        const writes = assignments.map(writeOption);
        if (writes.some((write) => write === undefined)) return undefined;
        return this.edits(chain(removal, ...(writes as Rewrite[])));
      },
    };
  }

  private edits(rewrite: Rewrite): TextEdit[] {
    return editBetween(this.file.text, rewrite(this.file.text), this.lines);
  }

  private removal(node: JsonNode): Rewrite {
    return deleteAt(getNodePath(node));
  }

  /**
   * No entry for a namespace means the host's (runc joins no new one); a `path` joins
   * another process's. A missing `user` namespace is Docker's default (no userns-remap),
   * so only a user namespace with a path is a request.
   */
  private namespaces(): void {
    if (!this.linux) return;
    const list = child(this.linux, 'namespaces');
    const entries = items(list).map((node) => ({ node, type: stringOf(child(node, 'type')), path: stringOf(child(node, 'path')) }));
    const namespacesPath = ['linux', 'namespaces'];
    // With no list, the one request's fix writes the whole list (Docker's, with the mount namespace).
    const ownNamespaces = [...HOST_UNLESS_LISTED, 'mount'].map((type) => ({ type }));
    const leftToHost = new Set(namespacesLeftToHost(list ? entries.map((e) => e.type) : undefined));
    for (const type of HOST_UNLESS_LISTED) {
      const entry = entries.find((e) => e.type === type);
      if (leftToHost.has(type)) {
        const add = list ? appendValue(namespacesPath, { type }) : setValue(namespacesPath, ownNamespaces);
        this.add(type, 'host', list ?? this.linux, this.editor(add));
      } else if (entry?.path && (type !== 'network' || isProcessNamespace(entry.path))) {
        // A named network namespace (CNI's, made for this container) is its own: only a process's is another container's.
        this.add(type, `container:${entry.path}`, entry.node, this.editor(deleteAt([...getNodePath(entry.node), 'path'])));
      }
    }
    const user = entries.find((e) => e.type === 'user');
    if (user?.path) this.add('userns', `container:${user.path}`, user.node, this.editor(deleteAt([...getNodePath(user.node), 'path'])));
  }

  private capabilitySets(): Map<(typeof CAP_SETS)[number], JsonNode> {
    const capabilities = child(this.process, 'capabilities');
    const sets = new Map<(typeof CAP_SETS)[number], JsonNode>();
    for (const set of CAP_SETS) {
      const node = child(capabilities, set);
      if (node?.type === 'array') sets.set(set, node);
    }
    return sets;
  }

  /** The set that limits all others: bounding, else the first one given. */
  private limitingSet(sets: Map<(typeof CAP_SETS)[number], JsonNode>): JsonNode | undefined {
    return sets.get('bounding') ?? sets.get('permitted') ?? sets.get('effective');
  }

  /**
   * Privileged mode as Docker writes it: every capability and no masked paths. Reported
   * once, instead of one request per capability and host device it implies.
   */
  private privileged(): boolean {
    const limiting = this.limitingSet(this.capabilitySets());
    if (!limiting || !isPrivileged(strings(limiting), items(child(this.linux, 'maskedPaths')))) return false;
    const restore = chain(
      this.restoreDefaultCapabilities(),
      setValue(['linux', 'maskedPaths'], DOCKER_MASKED_PATHS),
      setValue(['linux', 'readonlyPaths'], DOCKER_READONLY_PATHS),
    );
    this.add('privileged', true, child(this.process, 'capabilities')!, this.editor(restore));
    return true;
  }

  /** Docker's default set in the granting sets the file has; nothing inheritable or ambient. */
  private restoreDefaultCapabilities(): Rewrite {
    const capabilities = child(this.process, 'capabilities');
    const setPath = (set: string) => ['process', 'capabilities', set];
    return chain(
      ...GRANTING_SETS.filter((set) => child(capabilities, set)).map((set) => setValue(setPath(set), DOCKER_CAPS)),
      ...(['inheritable', 'ambient'] as const).filter((set) => child(capabilities, set)).map((set) => setValue(setPath(set), [])),
    );
  }

  /**
   * Capabilities against the default the file was most likely written from: Docker's,
   * Podman's or `runc spec`'s, whichever differs least (so no generator's default is a request).
   */
  private capabilities(): void {
    const sets = this.capabilitySets();
    const limiting = this.limitingSet(sets);
    if (!limiting) return;
    const granted = new Set(strings(limiting).map(withCapPrefix));
    // `--cap-add ALL` and `--cap-drop ALL`, as Docker writes them: one request, not one per capability.
    if (granted.size === 0 || hasEveryCapability(strings(limiting))) {
      this.add(granted.size === 0 ? 'cap-drop' : 'cap-add', 'ALL', limiting, this.editor(this.restoreDefaultCapabilities()));
      return;
    }
    const distance = (baseline: string[]) =>
      baseline.filter((cap) => !granted.has(cap)).length + [...granted].filter((cap) => !baseline.includes(cap)).length;
    const baseline = DEFAULT_CAP_SETS.reduce((best, set) => (distance(set) < distance(best) ? set : best));

    const added = new Map<string, JsonNode>();
    for (const set of CAP_SETS) {
      for (const item of items(sets.get(set))) {
        if (item.type !== 'string') continue;
        const cap = withCapPrefix(String(item.value));
        if (!baseline.includes(cap) && !added.has(cap)) added.set(cap, item);
      }
    }
    for (const [cap, item] of added) {
      this.add('cap-add', String(item.value), item, this.editor(writeOption({ option: 'cap-drop', value: cap })!));
    }
    for (const cap of baseline.filter((c) => !granted.has(c))) {
      this.add('cap-drop', cap, limiting, this.editor(writeOption({ option: 'cap-add', value: cap })!));
    }
  }

  private devices(): void {
    for (const device of items(child(this.linux, 'devices'))) {
      const path = stringOf(child(device, 'path'));
      if (!path || !isHostDevice(path)) continue;
      // config.json names the device node inside the container; Docker creates it at the host's path unless told otherwise.
      this.add('device', { host: path }, device, this.editor(this.removal(device)));
    }
  }

  private mountEntries(): MountEntry[] {
    return items(child(this.root, 'mounts')).flatMap((node) => {
      const destination = stringOf(child(node, 'destination'));
      if (destination === undefined) return [];
      const optionNodes = items(child(node, 'options')).filter((o) => o.type === 'string');
      const options = optionNodes.map((o) => String(o.value));
      const type = stringOf(child(node, 'type'));
      const isBind = type === 'bind' || options.includes('bind') || options.includes('rbind');
      const source = stringOf(child(node, 'source'));
      const value: OptionValues['mount'] = {
        type: isBind ? 'bind' : type === 'tmpfs' ? 'tmpfs' : 'other',
        ...(source !== undefined ? { source } : {}),
        target: normalizeTarget(destination),
        readOnly: options.includes('ro'),
      };
      const features = mountFeatures({ destination, type, source, options });
      if (features.propagation) value.propagation = features.propagation;
      return [{ node, path: getNodePath(node), value, options: optionNodes, features }];
    });
  }

  private mounts(): void {
    this.rootfsPropagation();
    for (const mount of this.mountEntries()) {
      const { value, node } = mount;
      const { fromDev, ontoProcSys } = mount.features;
      const propagationNode = mount.options.find((o) => PROPAGATING_MODES.has(String(o.value)));
      if (fromDev || ontoProcSys || propagationNode) {
        const at = fromDev ? child(node, 'source')! : ontoProcSys ? child(node, 'destination')! : propagationNode!;
        const removal =
          fromDev || ontoProcSys ? this.removal(node) : deleteItems([...mount.path, 'options'], (o) => PROPAGATING_MODES.has(o));
        this.add('mount', value, at, this.mountEditor(mount, removal));
        continue;
      }
      if (value.type !== 'tmpfs') continue;
      const sizeNode = mount.options.find((o) => String(o.value).startsWith('size='));
      const size = sizeNode ? String(sizeNode.value).slice('size='.length) : undefined;
      if (value.target === '/dev/shm') {
        if (sizeNode && size !== undefined && tmpfsBytes(size) !== DEFAULT_SHM_BYTES) {
          this.add('shm-size', size, sizeNode, this.editor(setValue(getNodePath(sizeNode), DEFAULT_SHM_OPTION)));
        }
      } else if (value.target !== '/dev') {
        this.add(
          'tmpfs',
          { target: value.target, ...(size !== undefined ? { size } : {}) },
          child(node, 'destination')!,
          this.editor(this.removal(node)),
        );
      }
    }
  }

  /** linux.rootfsPropagation shares the root's mounts with the host, as a propagating mount of `/` would. */
  private rootfsPropagation(): void {
    const node = child(this.linux, 'rootfsPropagation');
    const mode = stringOf(node);
    if (!node || !mode || !PROPAGATING_MODES.has(mode)) return;
    const remove = () => this.edits(this.removal(node));
    // Dropping the propagation is removing the setting; no other mount can be written in its place.
    const replace = (assignments: OptionAssignment[]) => {
      const [only, ...more] = assignments;
      const dropsPropagation = only?.option === 'mount' && !(only.value as OptionValues['mount']).propagation;
      return more.length === 0 && dropsPropagation ? remove() : undefined;
    };
    this.add('mount', { type: 'other', target: '/', propagation: mode }, node, { remove, replace });
  }

  /** A mount replaced by one mount is edited in place (its propagation or mode); anything else is removed and written anew. */
  private mountEditor(mount: MountEntry, removal: Rewrite): OptionEditor {
    const generic = this.editor(removal);
    return {
      remove: generic.remove,
      replace: (assignments) => {
        const [only] = assignments;
        if (assignments.length !== 1 || only?.option !== 'mount') return generic.replace(assignments);
        return this.edits(updateMount(mount, only.value as OptionValues['mount']));
      },
    };
  }

  private resources(): void {
    const resources = child(this.linux, 'resources');
    const cpu = child(resources, 'cpu');
    const positive = (key: string): JsonNode | undefined => {
      const node = child(cpu, key);
      const n = numberOf(node);
      // Docker writes 0 for "not set"; -1 is an unlimited quota.
      return n !== undefined && n > 0 ? node : undefined;
    };
    const cpuOptions = [
      ['quota', 'cpu-quota'],
      ['period', 'cpu-period'],
      ['shares', 'cpu-shares'],
    ] as const;
    for (const [key, option] of cpuOptions) {
      const node = positive(key);
      if (node) this.add(option, numberOf(node)!, node, this.editor(this.removal(node)));
    }
    for (const [key, option] of [
      ['cpus', 'cpuset-cpus'],
      ['mems', 'cpuset-mems'],
    ] as const) {
      const node = child(cpu, key);
      if (stringOf(node)) this.add(option, stringOf(node)!, node!, this.editor(this.removal(node!)));
    }

    const memory = child(resources, 'memory');
    for (const key of ['kernel', 'kernelTCP']) {
      const node = child(memory, key);
      const n = numberOf(node);
      if (n !== undefined && n !== 0) this.add('kernel-memory', String(n), node!, this.editor(this.removal(node!)));
    }

    for (const [key, , valueNode] of properties(child(resources, 'blockIO'))) {
      const set = valueNode.type === 'array' ? items(valueNode).length > 0 : numberOf(valueNode) !== undefined && numberOf(valueNode) !== 0;
      if (set) this.add('blkio', key, valueNode, this.editor(this.removal(valueNode)));
    }
  }

  private sysctls(): void {
    for (const [key, , valueNode] of properties(child(this.linux, 'sysctl'))) {
      // A value of the wrong type (an object) is the schema's finding; here it only needs to be text.
      const value = stringOf(valueNode) ?? JSON.stringify(getNodeValue(valueNode));
      if (DEFAULT_SYSCTLS[key] === value) continue;
      this.add('sysctl', { key, value }, valueNode, this.editor(this.removal(valueNode)));
    }
  }

  /**
   * AppArmor profiles, SELinux labels and seccomp profiles other than the ones generated for
   * every container. `seccomp=unconfined` writes no profile, as `runc spec` does: not a request.
   */
  private securityOptions(): void {
    const apparmor = child(this.process, 'apparmorProfile');
    const profile = stringOf(apparmor);
    if (profile && !DEFAULT_APPARMOR.test(profile)) {
      this.add('security-opt', `apparmor=${profile}`, apparmor!, this.editor(this.removal(apparmor!)));
    }
    const selinux = child(this.process, 'selinuxLabel');
    const label = stringOf(selinux);
    if (label && !DEFAULT_SELINUX_TYPES.has(label.split(':')[2] ?? '')) {
      this.add('security-opt', `label=${label}`, selinux!, this.editor(this.removal(selinux!)));
    }
    const seccomp = child(this.linux, 'seccomp');
    if (seccomp?.type === 'object' && !isGeneratedSeccomp(seccomp)) {
      this.add('security-opt', 'seccomp=linux.seccomp', seccomp, this.editor(this.removal(seccomp)));
    }
  }

  private annotations(): void {
    for (const [key, , valueNode] of properties(child(this.root, 'annotations'))) {
      if (GENERATED_ANNOTATION.test(key)) continue;
      // A value of the wrong type (an object) is the schema's finding; here it only needs to be text.
      const value = stringOf(valueNode) ?? JSON.stringify(getNodeValue(valueNode));
      this.add('annotation', { key, value }, valueNode, this.editor(this.removal(valueNode)));
    }
  }
}

/** Rewrites one mount entry's fields to match `next`, touching only what changed. */
function updateMount(mount: MountEntry, next: OptionValues['mount']): Rewrite {
  const { path, value: before } = mount;
  const steps: Rewrite[] = [];
  if (next.target !== before.target) steps.push(setValue([...path, 'destination'], next.target));
  if (next.source !== before.source)
    steps.push(next.source === undefined ? deleteAt([...path, 'source']) : setValue([...path, 'source'], next.source));
  if (next.type !== before.type && next.type !== 'volume')
    steps.push(setValue([...path, 'type'], next.type === 'other' ? 'none' : next.type));
  const optionsPath = [...path, 'options'];
  if (next.propagation !== before.propagation) {
    steps.push(deleteItems(optionsPath, (o) => PROPAGATING_MODES.has(o) || NON_PROPAGATING.has(o)));
    if (next.propagation) steps.push(appendValue(optionsPath, next.propagation));
  }
  if (Boolean(next.readOnly) !== Boolean(before.readOnly)) {
    steps.push(deleteItems(optionsPath, (o) => o === 'ro' || o === 'rw'));
    steps.push(appendValue(optionsPath, next.readOnly ? 'ro' : 'rw'));
  }
  return chain(...steps);
}

/** tmpfs sizes (mount(8), memparse): bytes with an optional k, m, g, t, p, e suffix; undefined for percentages. */
function tmpfsBytes(size: string): number | undefined {
  const match = /^(\d+)([kmgtpe]?)$/i.exec(size);
  if (!match) return undefined;
  const power = ' kmgtpe'.indexOf((match[2] || ' ').toLowerCase());
  return Number(match[1]) * 1024 ** power;
}
