/**
 * Compose front end: every service option a VM runtime treats differently, with the
 * range of its key (or list entry) in the file that holds it. Values are interpolated
 * as compose does (`.env` beside the file, the environment winning); `extends` and
 * `include` are followed, and options found in another file carry that file's path.
 */
import { basename, dirname, resolve as resolvePath } from 'node:path';
import { isMap, isScalar, isSeq, stringify, type Document, type Node, type Pair, type Scalar, type YAMLMap, type YAMLSeq } from 'yaml';
import type {
  ContainerRequest,
  FileProblem,
  FrontEnd,
  FrontEndContext,
  FrontEndResult,
  OptionAssignment,
  OptionEditor,
  OptionName,
  OptionValues,
  Range,
  RequestedOption,
  SourceFile,
  TextEdit,
} from '../core/types.js';
import { interpolate, InterpolationError, parseDotEnv, type Lookup } from './compose-interpolation.js';
import { YamlFile, chainSteps, scalarText, type Chain, type Located, type LocatedPair } from './yaml-source.js';

const COMPOSE_NAME = /^(?:docker-compose.*|compose(?:\..+)?)\.ya?ml$/i;

/** Keys that mark a map as a compose service (used to recognise compose files by content). */
const SERVICE_KEYS = new Set([
  'image',
  'build',
  'command',
  'entrypoint',
  'environment',
  'env_file',
  'ports',
  'expose',
  'volumes',
  'depends_on',
  'networks',
  'network_mode',
  'restart',
  'container_name',
  'deploy',
  'healthcheck',
  'extends',
  'privileged',
  'cap_add',
  'cap_drop',
  'devices',
  'labels',
  'working_dir',
  'user',
  'hostname',
  'profiles',
  'links',
  'tmpfs',
  'sysctls',
  'logging',
  'ulimits',
  'secrets',
  'configs',
  'init',
  'stdin_open',
  'tty',
  'platform',
  'pull_policy',
  'runtime',
  'shm_size',
  'pid',
  'ipc',
  'security_opt',
  'gpus',
  'cpus',
  'mem_limit',
]);

/** Top-level keys of other YAML formats that also have `services:` (CI pipelines) or are Kubernetes objects. */
const FOREIGN_TOP_KEYS = ['apiVersion', 'kind', 'jobs', 'on', 'steps', 'pipeline', 'pipelines', 'stages'];

/** `deploy` keys that only swarm honours (FEATURES.md `swarm`). */
const SWARM_ONLY_DEPLOY_KEYS = new Set(['mode', 'replicas', 'placement', 'update_config', 'rollback_config', 'endpoint_mode']);

const PROPAGATIONS = new Set(['shared', 'rshared', 'slave', 'rslave', 'private', 'rprivate']);

/** True when the text's top-level `services:` holds maps with service keys (a line scan: detection must be cheap). */
export function looksLikeCompose(text: string): boolean {
  const topKeys = new Set<string>();
  let inServices = false;
  let serviceIndent = -1;
  let optionIndent = -1;
  let serviceLike = false;
  for (const line of text.split('\n')) {
    const trimmed = line.trimStart();
    if (trimmed === '' || trimmed.startsWith('#')) continue;
    const indent = line.length - trimmed.length;
    const key = /^(["']?)([A-Za-z_$][\w.$-]*)\1\s*:(?:\s|$)/.exec(trimmed)?.[2];
    if (indent === 0) {
      if (key) topKeys.add(key);
      inServices = key === 'services';
      serviceIndent = optionIndent = -1;
      continue;
    }
    if (!inServices || !key) continue;
    if (serviceIndent < 0 || indent <= serviceIndent) {
      serviceIndent = indent;
      continue;
    }
    if (optionIndent < 0) optionIndent = indent;
    if (indent === optionIndent && SERVICE_KEYS.has(key)) serviceLike = true;
  }
  return serviceLike && !FOREIGN_TOP_KEYS.some((k) => topKeys.has(k));
}

/** A variable lookup, and a key that is equal for lookups of equal variables (the environment object and the .env files' texts). */
type Variables = Lookup & { variables: string };

/** A number per environment object (the same object may hold other values only if someone edits it). */
const envIdentities = new WeakMap<object, number>();
let envCount = 0;

function envIdentity(env: object): number {
  let id = envIdentities.get(env);
  if (id === undefined) envIdentities.set(env, (id = envCount++));
  return id;
}

/** A loaded compose file: its YAML, the interpolated value of every string scalar, its services. */
interface ComposeFile {
  /** The absolute path (cycles and the cache compare these). */
  id: string;
  yaml: YamlFile;
  doc: Document | undefined;
  lookup: Variables;
  values: Map<Node, string>;
  services: Map<string, Located<YAMLMap>>;
}

/**
 * An option as reading a service finds it: nothing in it depends on where the service
 * sits in the text or on this lint's objects, so it is kept with the service's node (see
 * `readOptions`).
 */
interface ReadOption {
  option: OptionName;
  value: unknown;
  /** The key or entry it was read from (its range is taken each lint: the text around may have moved), with its chain for edits. */
  at: LocatedPair | Located;
  /** Options with one identity override each other through `extends` (the later service wins). */
  identity: string;
  /** The service key the option came from (for `!reset` / `!override`). */
  topKey: string;
  /** The list or map key whose entry this option is (`cap_add`, `sysctls`, …), for same-list replacement. */
  entryOf?: string;
  /** For a mount with propagation: the edit that drops only the propagation, keeping every other setting. */
  dropPropagation?: (yaml: YamlFile) => TextEdit[] | undefined;
}

/** An option found in a service, in this lint's file, before it is turned into a RequestedOption. */
interface FoundOption extends Omit<ReadOption, 'at' | 'dropPropagation'> {
  range: Range;
  /** Where the key or entry sits (for edits). */
  chain: Chain | undefined;
  dropPropagation?: () => TextEdit[] | undefined;
  file: ComposeFile;
  service: Located<YAMLMap>;
}

/**
 * The options last read from each service node, and the variables they were read with.
 * The language server's incremental parse reuses the nodes of services whose text did not
 * change: their options are not read again, only placed in the new text.
 */
const readOptions = new WeakMap<YAMLMap, ReadService & { variables: string }>();

/** A service as reading it finds it: its own options, and its `extends` key if it has one. */
interface ReadService {
  options: ReadOption[];
  extendsPair: LocatedPair | undefined;
}

class ComposeProject {
  readonly problems: FileProblem[] = [];
  private readonly files = new Map<string, ComposeFile | undefined>();
  private readonly serviceOptionCache = new Map<string, FoundOption[]>();
  /** Files whose services are already requests (a file included twice is listed once). */
  private readonly collected = new Set<string>();

  constructor(private readonly ctx: FrontEndContext) {}

  private read(path: string): string | undefined {
    return this.ctx.readFile(path);
  }

  /** Variables for files in `dir`: the environment, then the `.env` files (default: `dir/.env`). */
  lookupFor(dir: string, envFiles: string[] = [resolvePath(dir, '.env')]): Variables {
    const env = this.ctx.env;
    const outer: Lookup = (name) => env[name];
    const dotenv = new Map<string, string>();
    const read: string[] = [];
    for (const envFile of envFiles) {
      const text = this.read(envFile);
      if (text === undefined) continue;
      read.push(envFile, text);
      const fileLookup: Lookup = (name) => outer(name) ?? dotenv.get(name);
      for (const [k, v] of parseDotEnv(text, fileLookup)) dotenv.set(k, v);
    }
    return Object.assign((name: string) => env[name] ?? dotenv.get(name), { variables: `${envIdentity(env)}\0${read.join('\0')}` });
  }

  /** Loads a file once; `path` is reported as given (the main file's may be relative). */
  load(path: string, text: string | undefined, lookup: Variables): ComposeFile | undefined {
    const id = resolvePath(path);
    if (this.files.has(id)) return this.files.get(id);
    const source = text ?? this.read(path);
    if (source === undefined) {
      this.files.set(id, undefined);
      return undefined;
    }
    // Only the linted file's own text is parsed incrementally (files it reads are parsed whole).
    const cache = text === undefined ? undefined : this.ctx.yamlBlocks;
    const yaml = new YamlFile(path, source, cache && { cache, by: 'blocks' });
    this.problems.push(...yaml.problems);
    const doc = yaml.validDocs()[0];
    const file: ComposeFile = { id, yaml, doc, lookup, values: new Map(), services: new Map() };
    this.files.set(id, file);
    if (!doc) return file;
    this.interpolateAll(file, doc);
    const root = yaml.root(doc);
    const services = root && yaml.asMap(yaml.get(root, 'services', doc)?.value);
    for (const service of services ? yaml.pairs(services, doc) : []) {
      // Each service is an edit boundary: removing its last key leaves `{}`, never deletes the service.
      if (service.value && isMap(service.value.node))
        file.services.set(service.key, { node: service.value.node as YAMLMap, chain: undefined });
    }
    return file;
  }

  /** Interpolates every string scalar that is a value; a missing required variable is a problem at that scalar. */
  private interpolateAll(file: ComposeFile, doc: Document): void {
    const scalars: Scalar[] = [];
    interpolable(doc.contents, scalars);
    for (const node of scalars) {
      try {
        file.values.set(node, interpolate(node.value as string, file.lookup));
      } catch (error) {
        if (!(error instanceof InterpolationError)) throw error;
        file.values.set(node, '');
        this.problem(file, file.yaml.nodeRange(node), error.message);
      }
    }
  }

  problem(file: ComposeFile, range: Range, message: string): void {
    this.problems.push({ rule: 'parse-error', file: file.yaml.path, range, message, severity: 'error' });
  }

  /** The services of a file and of everything it includes, as requests. */
  collect(file: ComposeFile, requests: ContainerRequest[], stack: string[]): void {
    if (this.collected.has(file.id)) return;
    this.collected.add(file.id);
    for (const [name] of file.services) {
      const options = this.serviceOptions(file, name, []).map(toRequested);
      requests.push({ kind: 'compose', name, file: file.yaml.path, options });
    }
    this.followIncludes(file, requests, [...stack, file.id]);
  }

  private followIncludes(file: ComposeFile, requests: ContainerRequest[], stack: string[]): void {
    const { yaml, doc } = file;
    const root = doc && yaml.root(doc);
    const include = root && yaml.get(root, 'include', doc);
    if (!doc || !include?.value) return;
    const entries = isSeq(include.value.node) ? yaml.items(yaml.asSeq(include.value)!, doc) : [include.value];
    const dir = dirname(yaml.path);
    for (const entry of entries) {
      let paths: Located[] = [entry];
      let envFiles: string[] | undefined;
      let projectDirectory: string | undefined;
      const map = yaml.asMap(entry);
      if (map) {
        const directory = this.text(file, yaml.get(map, 'project_directory', doc)?.value?.node);
        if (directory) projectDirectory = resolvePath(dir, directory);
        const path = yaml.get(map, 'path', doc)?.value;
        paths = path ? (isSeq(path.node) ? yaml.items(yaml.asSeq(path)!, doc) : [path]) : [];
        const envFile = yaml.get(map, 'env_file', doc)?.value;
        if (envFile) {
          envFiles = (isSeq(envFile.node) ? yaml.items(yaml.asSeq(envFile)!, doc) : [envFile])
            .map((e) => this.text(file, e.node))
            .filter((e): e is string => !!e)
            .map((e) => resolvePath(dir, e));
        }
        if (paths.length === 0) {
          this.problem(file, yaml.nodeRange(entry.node), 'include: an entry needs a path');
          continue;
        }
      }
      for (const pathNode of paths) {
        const relative = this.text(file, pathNode.node);
        if (!relative) continue;
        const path = resolvePath(dir, relative);
        const range = yaml.nodeRange(pathNode.node);
        if (stack.includes(path)) {
          this.problem(file, range, `include cycle: ${[...stack, path].map((p) => basename(p)).join(' → ')}`);
          continue;
        }
        // An included file is its own project: its .env sits in its project directory (by default, its folder).
        const included = this.load(path, undefined, this.lookupFor(projectDirectory ?? dirname(path), envFiles));
        if (!included) {
          this.problem(file, range, `include: cannot read ${relative}`);
          continue;
        }
        this.collect(included, requests, stack);
      }
    }
  }

  /** A scalar's value after interpolation. */
  text(file: ComposeFile, node: Node | undefined): string | undefined {
    if (!node) return undefined;
    return file.values.get(node) ?? scalarText(node);
  }

  /** A service's options, its `extends` chain merged in (base first, the extending service overriding). */
  serviceOptions(file: ComposeFile, name: string, stack: string[]): FoundOption[] {
    const id = `${file.id}#${name}`;
    const cached = this.serviceOptionCache.get(id);
    if (cached) return cached;
    const service = file.services.get(name)!;
    const { local, extendsPair } = this.readService(file, service);
    const result = this.extend(file, service, extendsPair, local, [...stack, id]);
    this.serviceOptionCache.set(id, result);
    return result;
  }

  /** A service's own options, read now or taken from its node's last read, placed in this lint's text. */
  private readService(file: ComposeFile, service: Located<YAMLMap>): { local: FoundOption[]; extendsPair: LocatedPair | undefined } {
    const { yaml, doc } = file;
    const kept = readOptions.get(service.node);
    let read: ReadService | undefined = kept?.variables === file.lookup.variables ? kept : undefined;
    if (!read) {
      read = { options: new ServiceReader(this, file, service).read(), extendsPair: doc && yaml.get(service, 'extends', doc) };
      readOptions.set(service.node, { ...read, variables: file.lookup.variables });
    }
    // Field by field: object spread and rest are slow, and this runs for every option on each keystroke.
    const local = read.options.map((r) => {
      const found: FoundOption = {
        option: r.option,
        value: r.value,
        range: yaml.rangeOf(r.at),
        chain: r.at.chain,
        identity: r.identity,
        topKey: r.topKey,
        entryOf: r.entryOf,
        file,
        service,
      };
      const { dropPropagation } = r;
      if (dropPropagation) found.dropPropagation = () => dropPropagation(yaml);
      return found;
    });
    return { local, extendsPair: read.extendsPair };
  }

  private extend(
    file: ComposeFile,
    service: Located<YAMLMap>,
    extendsPair: LocatedPair | undefined,
    local: FoundOption[],
    stack: string[],
  ): FoundOption[] {
    const { yaml, doc } = file;
    if (!doc || !extendsPair?.value) return local;
    const at = yaml.keyRange(extendsPair);
    const spec = yaml.asMap(extendsPair.value);
    const baseName = spec ? this.text(file, yaml.get(spec, 'service', doc)?.value?.node) : this.text(file, extendsPair.value.node);
    const baseFileName = spec ? this.text(file, yaml.get(spec, 'file', doc)?.value?.node) : undefined;
    if (!baseName) {
      this.problem(file, at, 'extends: names no service');
      return local;
    }
    let base: ComposeFile | undefined = file;
    if (baseFileName) {
      const path = resolvePath(dirname(yaml.path), baseFileName);
      // An extended file belongs to the same project: it is interpolated with the same variables.
      base = this.load(path, undefined, file.lookup);
      if (!base) {
        this.problem(file, at, `extends: cannot read ${baseFileName}`);
        return local;
      }
      if (!base.doc) return local;
    }
    if (!base.services.has(baseName)) {
      this.problem(file, at, `extends: service "${baseName}" not found${baseFileName ? ` in ${baseFileName}` : ''}`);
      return local;
    }
    const baseId = `${base.id}#${baseName}`;
    if (stack.includes(baseId)) {
      this.problem(file, at, `extends cycle: ${[...stack, baseId].map((s) => s.slice(s.lastIndexOf('#') + 1)).join(' → ')}`);
      return local;
    }
    const inherited = this.serviceOptions(base, baseName, stack);
    const overridden = new Set(local.map((o) => o.identity));
    const replaced = new Set<string>();
    for (const pair of yaml.pairs(service, doc)) {
      const tag = (pair.pair.value as Node | null)?.tag;
      if (tag === '!reset' || tag === '!override') replaced.add(pair.key);
    }
    return [...inherited.filter((o) => !overridden.has(o.identity) && !replaced.has(o.topKey)), ...local];
  }
}

/**
 * The string scalars with a `$` below a node, values only, in document order. A node's
 * subtree never changes, and the language server's incremental parse reuses the nodes of
 * unchanged top-level blocks and services: their lists are kept, and not searched again.
 * Deeper collections are not kept (a fresh parse would only fill the map).
 */
const interpolableBelow = new WeakMap<YAMLMap | YAMLSeq, Scalar[]>();

/** How deep lists are kept: the root, top-level values, services. */
const KEPT_DEPTH = 3;

function interpolable(node: unknown, out: Scalar[], depth = 0): void {
  if (isScalar(node)) {
    if (typeof node.value === 'string' && node.value.includes('$')) out.push(node);
    return;
  }
  if (!isMap(node) && !isSeq(node)) return;
  const map = isMap(node);
  if (depth >= KEPT_DEPTH) {
    for (const item of node.items as unknown[]) interpolable(map ? (item as Pair).value : item, out, depth + 1);
    return;
  }
  let below = interpolableBelow.get(node);
  if (!below) {
    below = [];
    for (const item of node.items as unknown[]) interpolable(map ? (item as Pair).value : item, below, depth + 1);
    interpolableBelow.set(node, below);
  }
  for (const scalar of below) out.push(scalar);
}

/** Reads the options of one service (without `extends`). */
class ServiceReader {
  private readonly found: ReadOption[] = [];
  private readonly yaml: YamlFile;
  private readonly doc: Document;

  constructor(
    private readonly project: ComposeProject,
    private readonly file: ComposeFile,
    private readonly service: Located<YAMLMap>,
  ) {
    this.yaml = file.yaml;
    this.doc = file.doc!;
  }

  private add<N extends OptionName>(
    option: N,
    value: OptionValues[N],
    at: LocatedPair | Located,
    identity: string,
    topKey: string,
    entryOf?: string,
  ): ReadOption {
    const found: ReadOption = { option, value, at, identity, topKey, entryOf };
    this.found.push(found);
    return found;
  }

  private str(located: Located | undefined): string | undefined {
    return located && isScalar(located.node) ? this.project.text(this.file, located.node) : undefined;
  }

  private num(located: Located | undefined): number | undefined {
    const text = this.str(located);
    if (text === undefined || text.trim() === '') return undefined;
    const n = Number(text);
    return Number.isFinite(n) ? n : undefined;
  }

  private bool(located: Located | undefined): boolean | undefined {
    if (located && isScalar(located.node) && typeof located.node.value === 'boolean') return located.node.value;
    const text = this.str(located)?.toLowerCase();
    return text === 'true' ? true : text === 'false' ? false : undefined;
  }

  private entries(located: Located | undefined): Located[] {
    const seq = this.yaml.asSeq(located);
    return seq ? this.yaml.items(seq, this.doc) : [];
  }

  private map(located: Located | undefined): LocatedPair[] {
    const map = this.yaml.asMap(located);
    return map ? this.yaml.pairs(map, this.doc) : [];
  }

  read(): ReadOption[] {
    for (const pair of this.yaml.pairs(this.service, this.doc)) this.readKey(pair);
    return this.found;
  }

  private scalarOption<N extends OptionName>(option: N, pair: LocatedPair, value: OptionValues[N] | undefined): void {
    if (value !== undefined) this.add(option, value, pair, pair.key, pair.key);
  }

  private readKey(pair: LocatedPair): void {
    const { key, value } = pair;
    switch (key) {
      case 'network_mode':
        return this.scalarOption('network', pair, this.str(value));
      case 'privileged':
        return this.scalarOption('privileged', pair, this.bool(value));
      case 'cpus':
        return this.scalarOption('cpus', pair, this.num(value));
      case 'cpu_quota':
        return this.scalarOption('cpu-quota', pair, this.num(value));
      case 'cpu_period':
        return this.scalarOption('cpu-period', pair, this.num(value));
      case 'cpu_shares':
        return this.scalarOption('cpu-shares', pair, this.num(value));
      case 'cpuset':
        return this.scalarOption('cpuset-cpus', pair, this.str(value));
      case 'kernel_memory':
        return this.scalarOption('kernel-memory', pair, this.str(value));
      case 'shm_size':
        return this.scalarOption('shm-size', pair, this.str(value));
      case 'pid':
        return this.scalarOption('pid', pair, this.str(value));
      case 'ipc':
        return this.scalarOption('ipc', pair, this.str(value));
      case 'uts':
        return this.scalarOption('uts', pair, this.str(value));
      case 'userns_mode':
        return this.scalarOption('userns', pair, this.str(value));
      case 'links':
      case 'external_links':
        return this.stringEntries('link', pair, (s) => s);
      case 'cap_add':
        return this.stringEntries('cap-add', pair, (s) => s);
      case 'cap_drop':
        return this.stringEntries('cap-drop', pair, (s) => s);
      case 'security_opt':
        return this.stringEntries('security-opt', pair, (s) => s);
      case 'devices':
        return this.devices(pair);
      case 'volumes':
        return this.volumes(pair);
      case 'tmpfs':
        return this.tmpfs(pair);
      case 'sysctls':
        return this.keyValues('sysctl', pair);
      case 'annotations':
        return this.keyValues('annotation', pair);
      case 'gpus':
        return this.gpus(pair);
      case 'blkio_config':
        for (const setting of this.map(value)) this.add('blkio', setting.key, setting, `${key}.${setting.key}`, key);
        return;
      case 'deploy':
        return this.deploy(pair);
    }
  }

  /** A list of strings, one option per entry. */
  private stringEntries<N extends 'link' | 'cap-add' | 'cap-drop' | 'security-opt'>(
    option: N,
    pair: LocatedPair,
    convert: (s: string) => OptionValues[N],
  ): void {
    for (const entry of this.entries(pair.value)) {
      const text = this.str(entry);
      if (text !== undefined) this.add(option, convert(text), entry, `${pair.key}|${text}`, pair.key, pair.key);
    }
  }

  private devices(pair: LocatedPair): void {
    for (const entry of this.entries(pair.value)) {
      let device: OptionValues['device'] | undefined;
      const text = this.str(entry);
      if (text !== undefined) {
        const [host, container] = text.split(':');
        device = { host: host!, container: container ?? host! };
        if (/=/.test(host!)) device = { host: text };
      } else {
        const long = this.yaml.asMap(entry);
        const host = long && this.str(this.yaml.get(long, 'source', this.doc)?.value);
        if (host) device = { host, container: this.str(this.yaml.get(long!, 'target', this.doc)?.value) ?? host };
      }
      if (!device) continue;
      // A CDI name (`vendor.com/class=name`) is a device request, not a path; the gpu class is a GPU.
      const cdi = /^[\w.-]+\/([\w.-]+)=/.exec(device.host);
      if (cdi?.[1] === 'gpu') this.add('gpus', device.host, entry, `devices|${device.host}`, pair.key, pair.key);
      else this.add('device', device, entry, `devices|${device.container}`, pair.key, pair.key);
    }
  }

  private volumes(pair: LocatedPair): void {
    for (const entry of this.entries(pair.value)) {
      const text = this.str(entry);
      const mount = text !== undefined ? parseShortVolume(text) : this.longVolume(entry);
      if (!mount) continue;
      if (mount.type === 'tmpfs') {
        const tmpfs: OptionValues['tmpfs'] = { target: mount.target };
        if (mount.size !== undefined) tmpfs.size = mount.size;
        this.add('tmpfs', tmpfs, entry, `volumes|${mount.target}`, pair.key, pair.key);
      } else {
        const { size: _size, ...value } = mount;
        const found = this.add('mount', value, entry, `volumes|${mount.target}`, pair.key, pair.key);
        if (mount.propagation) {
          const long = this.yaml.asMap(entry);
          const bind = long && this.yaml.asMap(this.yaml.get(long, 'bind', this.doc)?.value);
          const propagationPair = bind && this.yaml.get(bind, 'propagation', this.doc);
          found.dropPropagation = propagationPair
            ? (yaml) => yaml.remove(propagationPair.chain)
            : (yaml) => shortVolumeWithoutPropagation(yaml, entry.node);
        }
      }
    }
  }

  private longVolume(entry: Located): MountWithSize | undefined {
    const map = this.yaml.asMap(entry);
    if (!map) return undefined;
    const field = (name: string, within: Located | undefined = map) => {
      const m = this.yaml.asMap(within);
      return m ? this.yaml.get(m, name, this.doc)?.value : undefined;
    };
    const target = this.str(field('target'));
    if (!target) return undefined;
    const source = this.str(field('source'));
    const written = this.str(field('type'));
    const type =
      written === 'bind' || written === 'volume' || written === 'tmpfs'
        ? written
        : written
          ? 'other'
          : source && isHostPath(source)
            ? 'bind'
            : 'volume';
    const mount: MountWithSize = { type, target };
    if (source) mount.source = source;
    if (this.bool(field('read_only'))) mount.readOnly = true;
    const propagation = this.str(field('propagation', field('bind')));
    if (propagation) mount.propagation = propagation;
    const size = this.str(field('size', field('tmpfs')));
    if (size) mount.size = size;
    return mount;
  }

  private tmpfs(pair: LocatedPair): void {
    const targets = isSeq(pair.value?.node) ? this.entries(pair.value) : pair.value ? [pair.value] : [];
    for (const entry of targets) {
      const text = this.str(entry);
      if (!text) continue;
      const colon = text.indexOf(':');
      const tmpfs: OptionValues['tmpfs'] = { target: colon < 0 ? text : text.slice(0, colon) };
      const size = colon < 0 ? undefined : /(?:^|,)size=([^,]*)/.exec(text.slice(colon + 1))?.[1];
      if (size) tmpfs.size = size;
      // A single string is reported on the key, list entries on themselves.
      const at = entry === pair.value ? pair : entry;
      this.add('tmpfs', tmpfs, at, `tmpfs|${tmpfs.target}`, pair.key, at === pair ? undefined : pair.key);
    }
  }

  /** `sysctls` and `annotations`: a list of `k=v` or a map. */
  private keyValues(option: 'sysctl' | 'annotation', pair: LocatedPair): void {
    for (const entry of this.entries(pair.value)) {
      const text = this.str(entry);
      if (!text) continue;
      const eq = text.indexOf('=');
      const kv = { key: eq < 0 ? text : text.slice(0, eq), value: eq < 0 ? '' : text.slice(eq + 1) };
      this.add(option, kv, entry, `${pair.key}|${kv.key}`, pair.key, pair.key);
    }
    for (const setting of this.map(pair.value)) {
      const kv = { key: setting.key, value: this.str(setting.value) ?? '' };
      this.add(option, kv, setting, `${pair.key}|${kv.key}`, pair.key, pair.key);
    }
  }

  private gpus(pair: LocatedPair): void {
    const text = this.str(pair.value);
    if (text !== undefined) return this.scalarOption('gpus', pair, text);
    this.entries(pair.value).forEach((entry, i) => {
      this.add('gpus', this.deviceRequest(entry), entry, `gpus|${i}`, pair.key, pair.key);
    });
  }

  /** A compose device request as a `--gpus` value: `all`, a count, or `device=<ids>`. */
  private deviceRequest(entry: Located): string {
    const map = this.yaml.asMap(entry);
    const ids = map
      ? this.entries(this.yaml.get(map, 'device_ids', this.doc)?.value)
          .map((e) => this.str(e))
          .filter(Boolean)
      : [];
    if (ids.length > 0) return `device=${ids.join(',')}`;
    return (map && this.str(this.yaml.get(map, 'count', this.doc)?.value)) ?? 'all';
  }

  private deploy(pair: LocatedPair): void {
    for (const setting of this.map(pair.value)) {
      if (SWARM_ONLY_DEPLOY_KEYS.has(setting.key)) {
        this.add('swarm-key', setting.key, setting, `deploy.${setting.key}`, pair.key);
        continue;
      }
      if (setting.key !== 'resources') continue;
      for (const group of this.map(setting.value)) {
        if (group.key === 'limits') {
          const cpus = this.map(group.value).find((p) => p.key === 'cpus');
          const n = cpus && this.num(cpus.value);
          if (cpus && n !== undefined) this.add('cpus', n, cpus, 'deploy.resources.limits.cpus', pair.key);
        } else if (group.key === 'reservations') {
          const devices = this.map(group.value).find((p) => p.key === 'devices');
          this.entries(devices?.value).forEach((entry, i) => {
            const map = this.yaml.asMap(entry);
            const caps = map ? this.entries(this.yaml.get(map, 'capabilities', this.doc)?.value).map((c) => this.str(c)) : [];
            if (caps.includes('gpu')) this.add('gpus', this.deviceRequest(entry), entry, `deploy.devices|${i}`, pair.key, 'devices');
          });
        }
      }
    }
  }
}

/** A mount as written; `size` is kept for tmpfs volumes, which become `tmpfs` options. */
type MountWithSize = OptionValues['mount'] & { size?: string };

function isHostPath(source: string): boolean {
  return /^(?:[/.~\\]|[A-Za-z]:[\\/])/.test(source);
}

/** The short volume syntax `[SOURCE:]TARGET[:OPTIONS]` (a Windows drive letter is part of SOURCE). */
export function parseShortVolume(text: string): MountWithSize | undefined {
  const parts = text.split(':');
  if (parts.length > 1 && /^[A-Za-z]$/.test(parts[0]!) && /^[\\/]/.test(parts[1]!)) parts.splice(0, 2, `${parts[0]}:${parts[1]}`);
  if (parts.length === 1) return parts[0] ? { type: 'volume', target: parts[0] } : undefined;
  const [source, target, options = ''] = parts as [string, string, string?];
  const mount: OptionValues['mount'] = { type: isHostPath(source) ? 'bind' : 'volume', source, target };
  for (const option of options.split(',')) {
    if (option === 'ro') mount.readOnly = true;
    else if (PROPAGATIONS.has(option)) mount.propagation = option;
  }
  return mount;
}

/** Drops the propagation option from a short volume as written (`/a:/b:ro,rshared,z` → `/a:/b:ro,z`). */
function shortVolumeWithoutPropagation(yaml: YamlFile, node: Node): TextEdit[] | undefined {
  const start = node.range![0];
  const end = yaml.valueEnd(node);
  const written = yaml.text.slice(start, end);
  const quote = /^["']/.test(written) ? written[0]! : '';
  const body = quote ? written.slice(1, -1) : written;
  const colon = body.lastIndexOf(':');
  const options = body.slice(colon + 1).split(',');
  const kept = options.filter((o) => !PROPAGATIONS.has(o));
  // Propagation that came from a variable cannot be dropped from the text.
  if (colon < 0 || kept.length === options.length) return undefined;
  const rewritten = `${body.slice(0, colon)}${kept.length > 0 ? `:${kept.join(',')}` : ''}`;
  return [{ range: yaml.range(start, end), newText: `${quote}${rewritten}${quote}` }];
}

function sameMountBesidesPropagation(a: OptionValues['mount'], b: OptionValues['mount']): boolean {
  return a.type === b.type && a.source === b.source && a.target === b.target && !!a.readOnly === !!b.readOnly;
}

function toRequested(found: FoundOption): RequestedOption {
  return {
    option: found.option,
    value: found.value as never,
    range: found.range,
    file: found.file.yaml.path,
    edit: new ComposeOptionEditor(found),
  };
}

// ---- fixes ----------------------------------------------------------------

/** How an option is written in a compose service: a scalar key, or an entry of a list (or map) key. */
type ComposeWrite = { key: string; scalar: string } | { key: string; entry: string; pair?: [string, string] };

function yamlScalar(value: unknown): string {
  return stringify(value, { lineWidth: 0 }).trimEnd();
}

function composeWrite(assignment: OptionAssignment): ComposeWrite | undefined {
  const scalar = (key: string): ComposeWrite => ({ key, scalar: yamlScalar(assignment.value) });
  const entry = (key: string, text: string, pair?: [string, string]): ComposeWrite => ({ key, entry: yamlScalar(text), pair });
  const a = assignment as { [N in OptionName]: OptionAssignment<N> }[OptionName];
  switch (a.option) {
    case 'network':
      return scalar('network_mode');
    case 'privileged':
      return scalar('privileged');
    case 'cpus':
      return scalar('cpus');
    case 'cpu-quota':
      return scalar('cpu_quota');
    case 'cpu-period':
      return scalar('cpu_period');
    case 'cpu-shares':
      return scalar('cpu_shares');
    case 'cpuset-cpus':
      return scalar('cpuset');
    case 'shm-size':
      return scalar('shm_size');
    case 'pid':
      return scalar('pid');
    case 'ipc':
      return scalar('ipc');
    case 'uts':
      return scalar('uts');
    case 'userns':
      return scalar('userns_mode');
    case 'gpus':
      return scalar('gpus');
    case 'link':
      return entry('links', a.value);
    case 'cap-add':
      return entry('cap_add', a.value);
    case 'cap-drop':
      return entry('cap_drop', a.value);
    case 'security-opt':
      return entry('security_opt', a.value);
    case 'device':
      return entry('devices', a.value.container ? `${a.value.host}:${a.value.container}` : a.value.host);
    case 'tmpfs':
      return entry('tmpfs', a.value.size ? `${a.value.target}:size=${a.value.size}` : a.value.target);
    case 'sysctl':
      return entry('sysctls', `${a.value.key}=${a.value.value}`, [a.value.key, a.value.value]);
    case 'annotation':
      return entry('annotations', `${a.value.key}=${a.value.value}`, [a.value.key, a.value.value]);
    case 'mount': {
      const m = a.value;
      if (m.type !== 'bind' && m.type !== 'volume') return undefined;
      const options = [m.readOnly ? 'ro' : '', m.propagation ?? ''].filter(Boolean).join(',');
      return entry('volumes', [m.source, m.target, options].filter(Boolean).join(':'));
    }
    default:
      return undefined;
  }
}

class ComposeOptionEditor implements OptionEditor {
  constructor(private readonly found: FoundOption) {}

  remove(): TextEdit[] {
    return this.found.file.yaml.remove(this.found.chain);
  }

  replace(options: OptionAssignment[]): TextEdit[] | undefined {
    const [only] = options;
    if (this.found.dropPropagation && options.length === 1 && only!.option === 'mount') {
      const wanted = only!.value as OptionValues['mount'];
      if (wanted.propagation === undefined && sameMountBesidesPropagation(wanted, this.found.value as OptionValues['mount'])) {
        return this.found.dropPropagation();
      }
    }
    const writes = options.map(composeWrite);
    if (writes.some((w) => w === undefined)) return undefined;
    return this.replaceEntry(writes as ComposeWrite[]) ?? this.replaceAtServiceLevel(writes as ComposeWrite[]);
  }

  /** An entry replaced by entries of the same list (or map): written in its place. */
  private replaceEntry(writes: ComposeWrite[]): TextEdit[] | undefined {
    const { entryOf, chain, file } = this.found;
    const step = chain?.step;
    if (!entryOf || !step || step.collection.flow || !writes.every((w) => w.key === entryOf && 'entry' in w)) return undefined;
    const yaml = file.yaml;
    const inMap = isMap(step.collection);
    const lines = (writes as Extract<ComposeWrite, { entry: string }>[]).map((w) => {
      if (!inMap) return `- ${w.entry}`;
      return w.pair ? `${yamlScalar(w.pair[0])}: ${yamlScalar(w.pair[1])}` : undefined;
    });
    if (lines.some((l) => l === undefined)) return undefined;
    const span = yaml.entrySpan(step);
    if (!span) return undefined;
    const indent = yaml.indentOf(step);
    return [{ range: yaml.range(span.start, span.end), newText: lines.map((l) => `${indent}${l}${yaml.eol}`).join('') }];
  }

  /** The option removed, and the new keys written at the service's indentation (or merged into existing keys). */
  private replaceAtServiceLevel(writes: ComposeWrite[]): TextEdit[] | undefined {
    const { chain, file, service } = this.found;
    const { yaml, doc } = file;
    const top = chainSteps(chain)[0];
    if (!chain || !doc || !top || top.collection !== service.node || service.node.flow) return undefined;
    const span = yaml.removalSpan(chain);
    const topStart = yaml.itemStart(top);
    const topRemoved = span.start <= topStart && span.end >= yaml.itemEnd(top);
    const indent = yaml.indentOf(top);
    const eol = yaml.eol;
    const pairs = yaml.pairs(service, doc).filter((p) => !(topRemoved && p.pair === top.item));
    const edits: TextEdit[] = [];
    const appended = new Map<number, string>();
    const newLists = new Map<string, string[]>();
    let insertion = '';
    for (const write of writes) {
      const existing = pairs.find((p) => p.key === write.key);
      if ('scalar' in write) {
        if (!existing) {
          insertion += `${indent}${write.key}: ${write.scalar}${eol}`;
          continue;
        }
        if (!existing.value || !isScalar(existing.value.node) || existing.value.chain === undefined) return undefined;
        edits.push({ range: yaml.nodeRange(existing.value.node), newText: write.scalar });
        continue;
      }
      if (!existing) {
        newLists.set(write.key, [...(newLists.get(write.key) ?? []), write.entry]);
        continue;
      }
      const collection = existing.value?.node;
      if (!collection || !(isSeq(collection) || isMap(collection)) || collection.flow || existing.value!.chain === undefined)
        return undefined;
      const last = collection.items[collection.items.length - 1];
      if (last === undefined) return undefined;
      const lastStep = { collection, item: last as never };
      const line = isSeq(collection)
        ? `- ${write.entry}`
        : write.pair
          ? `${yamlScalar(write.pair[0])}: ${yamlScalar(write.pair[1])}`
          : undefined;
      if (!line) return undefined;
      const at = yaml.entrySpan(lastStep)?.end;
      if (at === undefined) return undefined;
      appended.set(at, (appended.get(at) ?? '') + `${yaml.indentOf(lastStep)}${line}${eol}`);
    }
    for (const [key, entries] of newLists) {
      insertion += `${indent}${key}:${eol}${entries.map((e) => `${indent}  - ${e}${eol}`).join('')}`;
    }
    for (const [at, text] of appended) edits.push({ range: yaml.range(at, at), newText: text });
    const insertAt = yaml.lineStartOf(topStart);
    if (span.start === insertAt) {
      edits.push({ range: yaml.range(span.start, span.end), newText: insertion || span.newText });
    } else {
      if (insertion) edits.push({ range: yaml.range(insertAt, insertAt), newText: insertion });
      edits.push({ range: yaml.range(span.start, span.end), newText: span.newText });
    }
    return edits;
  }
}

// ---- the front end ----------------------------------------------------------

function parseProject(file: SourceFile, ctx: FrontEndContext): FrontEndResult {
  const project = new ComposeProject(ctx);
  const main = project.load(file.path, file.text, project.lookupFor(dirname(file.path)))!;
  const requests: ContainerRequest[] = [];
  project.collect(main, requests, []);
  const seen = new Set<string>();
  const problems = project.problems.filter((p) => {
    const key = `${p.file}:${p.range.start.line}:${p.range.start.character}:${p.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
  return { requests, problems };
}

export const composeFrontEnd: FrontEnd = {
  kind: 'compose',
  detect(path: string, text: string): boolean {
    const name = basename(path);
    if (COMPOSE_NAME.test(name)) return true;
    return /\.ya?ml$/i.test(name) && looksLikeCompose(text);
  },
  parse: parseProject,
};
