/**
 * Fixes in a compose file: an option removed, or other options written in its place in
 * the syntax of the service (a scalar key, an entry of a list or map key).
 */
import { isMap, isScalar, isSeq, stringify, type YAMLMap } from 'yaml';
import type { OptionAssignment, OptionEditor, OptionName, OptionValues, Range, RequestedOption, TextEdit } from '../../core/types.js';
import type { ComposeFile, ReadOption } from './service.js';
import { chainSteps, type Chain, type Located } from '../yaml/source.js';

/** An option found in a service, in this lint's file, before it is turned into a RequestedOption. */
export interface FoundOption extends Omit<ReadOption, 'at' | 'dropPropagation'> {
  range: Range;
  /** Where the key or entry sits (for edits). */
  chain: Chain | undefined;
  dropPropagation?: () => TextEdit[] | undefined;
  file: ComposeFile;
  service: Located<YAMLMap>;
}

function sameMountBesidesPropagation(a: OptionValues['mount'], b: OptionValues['mount']): boolean {
  return a.type === b.type && a.source === b.source && a.target === b.target && !!a.readOnly === !!b.readOnly;
}

export function toRequested(found: FoundOption): RequestedOption {
  return {
    option: found.option,
    value: found.value as never,
    range: found.range,
    file: found.file.yaml.path,
    edit: new ComposeOptionEditor(found),
  };
}

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
