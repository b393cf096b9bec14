/**
 * Reading one compose service: each key a VM runtime treats differently becomes an option,
 * kept with the key or entry it was read from (for ranges and edits).
 */
import { isScalar, isSeq, type Document, type Node, type YAMLMap } from 'yaml';
import type { OptionName, OptionValues, TextEdit } from '../../core/types.js';
import type { Lookup } from './interpolation.js';
import { YamlFile, type Located, type LocatedPair } from '../yaml/source.js';

/** `deploy` keys that only swarm honours (docs/features/swarm.md). */
/** deploy keys only swarm honours; `replicas` and `mode: replicated` (the default) compose honours too. */
const SWARM_ONLY_DEPLOY_KEYS = new Set(['mode', 'placement', 'update_config', 'rollback_config', 'endpoint_mode']);

const PROPAGATIONS = new Set(['shared', 'rshared', 'slave', 'rslave', 'private', 'rprivate']);

/** A variable lookup, and a key that is equal for lookups of equal variables (the environment object and the .env files' texts). */
export type Variables = Lookup & { variables: string };

/** A loaded compose file: its YAML, the interpolated value of every string scalar, its services. */
export interface ComposeFile {
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
export interface ReadOption {
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

/** Reads the options of one service (without `extends`). */
export class ServiceReader {
  private readonly found: ReadOption[] = [];
  private readonly yaml: YamlFile;
  private readonly doc: Document;

  constructor(
    file: ComposeFile,
    private readonly service: Located<YAMLMap>,
    /** A scalar's value after interpolation. */
    private readonly text: (node: Node) => string | undefined,
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
    return located && isScalar(located.node) ? this.text(located.node) : undefined;
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
      if (SWARM_ONLY_DEPLOY_KEYS.has(setting.key) && !(setting.key === 'mode' && this.str(setting.value) === 'replicated')) {
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
