/**
 * YAML helpers shared by the compose and Kubernetes front ends: parsing with exact
 * offsets (the `yaml` package's node ranges), walking maps and sequences while
 * remembering where each node sits, and removing a key or list entry so that the
 * YAML stays valid.
 */
import {
  isAlias,
  isMap,
  isPair,
  isScalar,
  isSeq,
  type Alias,
  type Document,
  type Node,
  type Pair,
  type Scalar,
  type YAMLMap,
  type YAMLSeq,
} from 'yaml';
import { LineIndex } from '../../core/positions.js';
import type { FileProblem, Range, TextEdit, YamlParseCache } from '../../core/types.js';
import { parseYaml } from './block-parser.js';

type Collection = YAMLMap | YAMLSeq;

/** One step down from a collection to one of its items (a pair of a map, a node of a sequence). */
export interface Step {
  collection: Collection;
  item: Pair | Node;
}

/**
 * Where a node sits: the steps from the outermost collection the walk started at (the
 * boundary, which an edit never removes) down to the node. Aliases start a new chain at
 * their anchor, since that is where the text lives.
 */
export interface Chain {
  readonly step: Step;
  readonly up: Chain | undefined;
}

/** A chain's steps, outermost first (the walk builds chains as linked lists so each step costs O(1)). */
export function chainSteps(chain: Chain | undefined): Step[] {
  const steps: Step[] = [];
  for (let c = chain; c; c = c.up) steps.push(c.step);
  return steps.reverse();
}

/** A node and where it sits; `chain` is undefined at a boundary (a walk's root or an alias's anchor). */
export interface Located<N extends Node = Node> {
  node: N;
  chain: Chain | undefined;
}

export interface LocatedPair {
  /** The key as text (plain scalar keys only; other keys are skipped). */
  key: string;
  pair: Pair;
  keyNode: Scalar;
  value: Located | undefined;
  /** The chain to the pair itself (for edits of the whole key). */
  chain: Chain;
}

export class YamlFile {
  readonly lines: LineIndex;
  readonly docs: Document.Parsed[];
  readonly problems: FileProblem[] = [];
  readonly eol: string;

  /**
   * `incremental`: the cache of an incremental parse (the language server's) and how it cuts
   * the text (a compose file's blocks, a stream's documents); a full parse when it cannot.
   */
  constructor(
    readonly path: string,
    readonly text: string,
    incremental?: { cache: YamlParseCache; by: 'blocks' | 'documents' },
  ) {
    this.lines = new LineIndex(text);
    this.eol = text.includes('\r\n') ? '\r\n' : '\n';
    const reused =
      incremental?.by === 'blocks'
        ? [incremental.cache.parse(text)].filter((doc) => doc !== undefined)
        : incremental?.cache.parseDocuments(text);
    this.docs = reused?.length ? reused : parseYaml(text);
    for (const doc of this.docs) {
      for (const error of doc.errors) {
        this.problems.push({
          rule: 'parse-error',
          file: path,
          severity: 'error',
          range: this.lines.range(error.pos[0], this.tokenEnd(error.pos[0], error.pos[1])),
          message: `YAML syntax error: ${firstLine(error.message)}`,
        });
      }
    }
  }

  /** An error's end, widened from one character to the word it points at (e.g. a duplicate key). */
  private tokenEnd(start: number, end: number): number {
    const word = /[^\s:,[\]{}#"']*/y;
    word.lastIndex = start;
    word.test(this.text);
    return Math.max(start, end, word.lastIndex);
  }

  /** Per document, the node each alias names (found in one walk, not one per alias). */
  private readonly targets = new Map<Document, Map<Alias, Node>>();

  /**
   * The node each alias of a document names: the last node before it with that anchor, in
   * document order (as `Alias.resolve` finds it, which walks the whole document for each alias).
   */
  private aliasTargets(doc: Document): Map<Alias, Node> {
    let targets = this.targets.get(doc);
    if (targets) return targets;
    targets = new Map();
    const latest = new Map<string, Node>();
    const walk = (node: unknown): void => {
      if (isAlias(node)) {
        const target = latest.get(node.source);
        if (target) targets!.set(node, target);
      } else if (isPair(node)) {
        walk(node.key);
        walk(node.value);
      } else if (isScalar(node) || isMap(node) || isSeq(node)) {
        // A collection's anchor counts from the collection on, its own items included.
        if (node.anchor) latest.set(node.anchor, node);
        if (!isScalar(node)) for (const item of node.items as unknown[]) walk(item);
      }
    };
    walk(doc.contents);
    this.targets.set(doc, targets);
    return targets;
  }

  /** The documents without syntax errors (a broken document is reported, not linted). */
  validDocs(): Document.Parsed[] {
    return this.docs.filter((doc) => doc.errors.length === 0);
  }

  range(start: number, end: number): Range {
    return this.lines.range(start, end);
  }

  /** The range of a node's value (without trailing comments). */
  nodeRange(node: Node): Range {
    return this.range(node.range![0], this.valueEnd(node));
  }

  /** Where a node's value ends: block collections' ranges run on over the line break after them. */
  valueEnd(node: Node): number {
    let end = node.range![1];
    while (end > node.range![0] && /\s/.test(this.text[end - 1]!)) end--;
    return end;
  }

  /** The range of a pair's key. */
  keyRange(pair: LocatedPair): Range {
    return this.nodeRange(pair.keyNode);
  }

  /** The range of a located pair's key, or of a list entry itself. */
  rangeOf(located: LocatedPair | Located): Range {
    return 'keyNode' in located ? this.keyRange(located) : this.nodeRange(located.node);
  }

  /** Follows an alias to its anchor (a new chain starts there). */
  resolve(node: unknown, chain: Chain | undefined, doc: Document): Located | undefined {
    if (isAlias(node)) {
      const target = this.aliasTargets(doc).get(node);
      return target ? { node: target, chain: undefined } : undefined;
    }
    return node && (isScalar(node) || isMap(node) || isSeq(node)) ? { node: node as Node, chain } : undefined;
  }

  /**
   * The pairs of a map in the order YAML gives them, with `<<` merge keys expanded
   * (explicit keys win over merged ones, earlier merges over later ones, as YAML says).
   */
  pairs(map: Located<YAMLMap>, doc: Document, seen?: Set<Node>): LocatedPair[] {
    // `seen`: the maps a merge came through (a merge cycle ends there).
    if (seen?.has(map.node)) return [];
    // Most maps merge nothing: their pairs as written (one pass, no merge search first).
    const written: LocatedPair[] = [];
    for (const pair of map.node.items) {
      if (!isScalar(pair.key)) continue;
      if (isMergeKey(pair)) return this.mergedPairs(map, doc, (seen ?? new Set()).add(map.node));
      written.push(this.locatePair(map, pair as Pair<Scalar>, doc));
    }
    return written;
  }

  /** The pairs of a map with `<<` merge keys. */
  private mergedPairs(map: Located<YAMLMap>, doc: Document, seen: Set<Node>): LocatedPair[] {
    const own: LocatedPair[] = [];
    const merged: LocatedPair[] = [];
    for (const pair of map.node.items) {
      if (!isScalar(pair.key)) continue;
      if (isMergeKey(pair)) {
        const sources = isSeq(pair.value) ? pair.value.items : [pair.value];
        for (const source of sources) {
          const target = this.resolve(source, undefined, doc);
          if (target && isMap(target.node)) merged.push(...this.pairs(target as Located<YAMLMap>, doc, seen));
        }
        continue;
      }
      own.push(this.locatePair(map, pair as Pair<Scalar>, doc));
    }
    const keys = new Set(own.map((p) => p.key));
    for (const pair of merged) {
      if (keys.has(pair.key)) continue;
      keys.add(pair.key);
      own.push(pair);
    }
    return own;
  }

  private locatePair(map: Located<YAMLMap>, pair: Pair<Scalar>, doc: Document): LocatedPair {
    const chain: Chain = { step: { collection: map.node, item: pair }, up: map.chain };
    return { key: String(pair.key.value), pair, keyNode: pair.key, chain, value: this.resolve(pair.value, chain, doc) };
  }

  /** The pair with this key (merge keys included). */
  get(map: Located<YAMLMap>, key: string, doc: Document): LocatedPair | undefined {
    let merges = false;
    for (const pair of map.node.items) {
      if (!isScalar(pair.key)) continue;
      if (isMergeKey(pair)) merges = true;
      else if (String(pair.key.value) === key) return this.locatePair(map, pair as Pair<Scalar>, doc);
    }
    return merges ? this.pairs(map, doc).find((p) => p.key === key) : undefined;
  }

  /** The items of a sequence, aliases followed. */
  items(seq: Located<YAMLSeq>, doc: Document): Located[] {
    const out: Located[] = [];
    for (const item of seq.node.items) {
      const located = this.resolve(item, { step: { collection: seq.node, item: item as Node }, up: seq.chain }, doc);
      if (located) out.push(located);
    }
    return out;
  }

  /** The value of a pair as a map, if it is one. */
  asMap(located: Located | undefined): Located<YAMLMap> | undefined {
    return located && isMap(located.node) ? (located as Located<YAMLMap>) : undefined;
  }

  asSeq(located: Located | undefined): Located<YAMLSeq> | undefined {
    return located && isSeq(located.node) ? (located as Located<YAMLSeq>) : undefined;
  }

  /** The walk's root: a document's top map, as a boundary. */
  root(doc: Document): Located<YAMLMap> | undefined {
    return isMap(doc.contents) ? { node: doc.contents as YAMLMap, chain: undefined } : undefined;
  }

  // ---- edits -------------------------------------------------------------

  /** The text of the line (without its break) that holds an offset, up to that offset. */
  private linePrefix(offset: number): { lineStart: number; prefix: string } {
    const lineStart = this.lines.offsetAt({ line: this.lines.positionAt(offset).line, character: 0 });
    return { lineStart, prefix: this.text.slice(lineStart, offset) };
  }

  /** The end of the line holding `offset`, after its line break. */
  private lineEndAfter(offset: number): number {
    if (offset > 0 && this.text[offset - 1] === '\n') return offset;
    const nl = this.text.indexOf('\n', offset);
    return nl < 0 ? this.text.length : nl + 1;
  }

  lineStartOf(offset: number): number {
    return this.linePrefix(offset).lineStart;
  }

  /** The whole lines of a block item that starts its own line (undefined when it shares a line). */
  entrySpan(step: Step): { start: number; end: number } | undefined {
    if (step.collection.flow) return undefined;
    const { lineStart, prefix } = this.linePrefix(this.itemStart(step));
    return /^\s*$/.test(prefix) ? { start: lineStart, end: this.lineEndAfter(this.itemEnd(step)) } : undefined;
  }

  /** Where an item's text starts: a pair's key, or a sequence entry's `-` indicator. */
  itemStart(step: Step): number {
    if (isPair(step.item)) return (step.item.key as Node).range![0];
    const start = (step.item as Node).range![0];
    if (step.collection.flow) return start;
    let i = start - 1;
    while (i >= 0 && /\s/.test(this.text[i]!)) i--;
    return this.text[i] === '-' ? i : start;
  }

  /** Where an item's value ends (before trailing comments). */
  itemEnd(step: Step): number {
    if (isPair(step.item)) {
      const key = step.item.key as Node;
      const value = step.item.value as Node | null;
      return Math.max(key.range![1], value?.range ? this.valueEnd(value) : 0);
    }
    return this.valueEnd(step.item as Node);
  }

  /** The column of the first character of an item (its key or `-`). */
  indentOf(step: Step): string {
    const { prefix } = this.linePrefix(this.itemStart(step));
    return /^\s*$/.test(prefix) ? prefix : ' '.repeat(prefix.length);
  }

  /**
   * The span that removing one item of a collection deletes, with whatever text must
   * take its place. A collection left empty takes its own key (or entry) with it, up to
   * the chain's boundary, which is emptied to `{}` / `[]` instead of removed.
   */
  removalSpan(chain: Chain): { start: number; end: number; newText: string } {
    const steps = chainSteps(chain);
    for (let depth = steps.length - 1; depth >= 0; depth--) {
      const step = steps[depth]!;
      if (step.collection.items.length > 1) return this.itemSpan(step);
      if (depth === 0) {
        const span = this.itemSpan(step);
        const empty = isMap(step.collection) ? '{}' : '[]';
        if (step.collection.flow) return { ...span, newText: span.newText || '' };
        return { ...span, newText: `${this.indentOf(step)}${empty}${this.eol}` };
      }
    }
    throw new Error('removalSpan: empty chain');
  }

  /** Deletes one item of a collection that has other items. */
  private itemSpan(step: Step): { start: number; end: number; newText: string } {
    const start = this.itemStart(step);
    const end = this.itemEnd(step);
    if (step.collection.flow) {
      let after = end;
      while (after < this.text.length && /\s/.test(this.text[after]!)) after++;
      if (this.text[after] === ',') {
        after++;
        while (after < this.text.length && /[ \t]/.test(this.text[after]!)) after++;
        return { start, end: after, newText: '' };
      }
      let before = start - 1;
      while (before >= 0 && /\s/.test(this.text[before]!)) before--;
      return { start: this.text[before] === ',' ? before : start, end, newText: '' };
    }
    const { lineStart, prefix } = this.linePrefix(start);
    if (/^\s*$/.test(prefix)) return { start: lineStart, end: this.lineEndAfter(end), newText: '' };
    // The item shares its line with a parent's `- ` (a map inside a list entry): the next
    // item moves up into its place.
    const index = step.collection.items.indexOf(step.item as never);
    const next = step.collection.items[index + 1];
    if (next !== undefined) {
      return { start, end: this.itemStart({ collection: step.collection, item: next as Pair | Node }), newText: '' };
    }
    return { start, end: this.lineEndAfter(end), newText: '' };
  }

  /** Edits that remove the item at the end of a chain, keeping the YAML valid (none for a boundary). */
  remove(chain: Chain | undefined): TextEdit[] {
    if (!chain) return [];
    const span = this.removalSpan(chain);
    return [{ range: this.range(span.start, span.end), newText: span.newText }];
  }
}

function isMergeKey(pair: Pair): boolean {
  // The value first: it rules out nearly every key at the cost of one property read.
  return (pair.key as { value?: unknown } | null)?.value === '<<' && isScalar(pair.key) && pair.key.type === 'PLAIN';
}

export function firstLine(message: string): string {
  return message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
}

/** A scalar's value as text (numbers and booleans as YAML wrote them). */
export function scalarText(node: Node | undefined): string | undefined {
  if (!node || !isScalar(node) || node.value === null || node.value === undefined) return undefined;
  return typeof node.value === 'string' ? node.value : (node.source ?? String(node.value));
}

/** A `*` glob (the only wildcard) matched against the whole name. */
export function globMatch(pattern: string, name: string): boolean {
  const re = new RegExp(
    `^${pattern
      .split('*')
      .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
      .join('.*')}$`,
  );
  return re.test(name);
}
