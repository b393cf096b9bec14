/**
 * Compose front end: every service option a VM runtime treats differently, with the
 * range of its key (or list entry) in the file that holds it. Values are interpolated
 * as compose does (`.env` beside the file, the environment winning); `extends` and
 * `include` are followed, and options found in another file carry that file's path.
 */
import { basename, dirname, resolve as resolvePath } from 'node:path';
import { isMap, isScalar, isSeq, type Document, type Node, type Pair, type Scalar, type YAMLMap, type YAMLSeq } from 'yaml';
import type {
  ContainerRequest,
  FileProblem,
  FrontEnd,
  FrontEndContext,
  FrontEndResult,
  Place,
  Range,
  SourceFile,
} from '../../core/types.js';
import { interpolate, InterpolationError, parseDotEnv, type Lookup } from './interpolation.js';
import { toRequested, type FoundOption } from './edits.js';
import { ServiceReader, type ComposeFile, type ReadOption, type Variables } from './service.js';
import { YamlFile, scalarText, type Located, type LocatedPair } from '../yaml/source.js';

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

/** A number per environment object (the same object may hold other values only if someone edits it). */
const envIdentities = new WeakMap<object, number>();
let envCount = 0;

function envIdentity(env: object): number {
  let id = envIdentities.get(env);
  if (id === undefined) envIdentities.set(env, (id = envCount++));
  return id;
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

/** The request last made of each service node, and what it was made with (see `ComposeProject.request`). */
const keptRequests = new WeakMap<
  YAMLMap,
  { request: ContainerRequest; found: FoundOption[]; line: number; name: string; variables: string }
>();

class ComposeProject {
  readonly problems: FileProblem[] = [];
  private readonly files = new Map<string, ComposeFile | undefined>();
  private readonly serviceOptionCache = new Map<string, FoundOption[]>();
  /** Files whose services are already requests (a file included twice is listed once). */
  private readonly collected = new Set<string>();

  constructor(private readonly ctx: FrontEndContext) {}

  private read(path: string, namedAt?: Place): string | undefined {
    return this.ctx.readFile(path, namedAt);
  }

  /** Variables for files in `dir`: the environment, then the `.env` files (default: `dir/.env`), with where they are named. */
  lookupFor(dir: string, envFiles: { path: string; namedAt?: Place }[] = [{ path: resolvePath(dir, '.env') }]): Variables {
    const env = this.ctx.env;
    const outer: Lookup = (name) => env[name];
    const dotenv = new Map<string, string>();
    const read: string[] = [];
    for (const envFile of envFiles) {
      const text = this.read(envFile.path, envFile.namedAt);
      if (text === undefined) continue;
      read.push(envFile.path, text);
      const fileLookup: Lookup = (name) => outer(name) ?? dotenv.get(name);
      for (const [k, v] of parseDotEnv(text, fileLookup)) dotenv.set(k, v);
    }
    return Object.assign((name: string) => env[name] ?? dotenv.get(name), { variables: `${envIdentity(env)}\0${read.join('\0')}` });
  }

  /** Loads a file once; `path` is reported as given (the main file's may be relative). */
  load(path: string, text: string | undefined, lookup: Variables, namedAt?: Place): ComposeFile | undefined {
    const id = resolvePath(path);
    if (this.files.has(id)) return this.files.get(id);
    const source = text ?? this.read(path, namedAt);
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
    for (const [name, service] of file.services) requests.push(this.request(file, name, service));
    this.followIncludes(file, requests, [...stack, file.id]);
  }

  /**
   * A service as a request. With the language server's incremental parse, a service whose
   * node is reused (its text did not change), still on the same line, read with the same
   * variables and extending nothing is the request of the last lint, the same object: its
   * options' ranges are the same, and the engine keeps its findings by it (a keystroke
   * re-reads and re-checks only the service it touched).
   */
  private request(file: ComposeFile, name: string, service: Located<YAMLMap>): ContainerRequest {
    const line = this.ctx.yamlBlocks ? file.yaml.lines.positionAt(service.node.range![0]).line : -1;
    const kept = line < 0 ? undefined : keptRequests.get(service.node);
    if (
      kept &&
      kept.line === line &&
      kept.name === name &&
      kept.variables === file.lookup.variables &&
      kept.request.file === file.yaml.path
    ) {
      // Edits are computed in this lint's text (the node's ranges have moved to it).
      for (const found of kept.found) {
        found.file = file;
        found.service = service;
      }
      return kept.request;
    }
    const found = this.serviceOptions(file, name, []);
    const request: ContainerRequest = { kind: 'compose', name, file: file.yaml.path, options: found.map(toRequested) };
    if (line >= 0 && !readOptions.get(service.node)?.extendsPair)
      keptRequests.set(service.node, { request, found, line, name, variables: file.lookup.variables });
    return request;
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
      let envFiles: { path: string; namedAt: Place }[] | undefined;
      let projectDirectory: string | undefined;
      const map = yaml.asMap(entry);
      if (map) {
        const directory = this.text(file, yaml.get(map, 'project_directory', doc)?.value?.node);
        if (directory) projectDirectory = resolvePath(dir, directory);
        const path = yaml.get(map, 'path', doc)?.value;
        paths = path ? (isSeq(path.node) ? yaml.items(yaml.asSeq(path)!, doc) : [path]) : [];
        const envFile = yaml.get(map, 'env_file', doc)?.value;
        if (envFile) {
          envFiles = (isSeq(envFile.node) ? yaml.items(yaml.asSeq(envFile)!, doc) : [envFile]).flatMap((e) => {
            const name = this.text(file, e.node);
            return name ? [{ path: resolvePath(dir, name), namedAt: { file: yaml.path, range: yaml.nodeRange(e.node) } }] : [];
          });
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
        const included = this.load(path, undefined, this.lookupFor(projectDirectory ?? dirname(path), envFiles), {
          file: yaml.path,
          range,
        });
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
      read = {
        options: new ServiceReader(file, service, (node) => this.text(file, node)).read(),
        extendsPair: doc && yaml.get(service, 'extends', doc),
      };
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
      // The file of the lint that computes the edit (a kept request's options move to later lints' files).
      if (dropPropagation) found.dropPropagation = () => dropPropagation(found.file.yaml);
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
      const named = spec && yaml.get(spec, 'file', doc)?.value;
      base = this.load(path, undefined, file.lookup, { file: yaml.path, range: named ? yaml.nodeRange(named.node) : at });
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
