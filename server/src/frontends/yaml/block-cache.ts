/**
 * Incremental YAML parsing for the language server. A compose file is cut into its
 * top-level blocks, and `services:` into one block per service; each block is parsed by
 * itself and cached by its text, so a keystroke re-parses only the block it touched.
 * The blocks' nodes are assembled into one document with the ranges a full parse gives
 * (the start and value end of every node, which is what the front ends read).
 *
 * Whatever the blocks cannot prove equal to a full parse makes the caller parse the
 * whole text: a syntax error (its message and range come from the full parse), anchors
 * or aliases (an alias may point into another block), several documents or directives
 * (one `---` before the first key is fine),
 * tabs in indentation, a line that does not fit the block structure, a key twice.
 */
import type { YamlParseCache } from '../../core/types.js';
import { newDocument, parseYaml } from './block-parser.js';
import { Document, Pair, YAMLMap, isAlias, isMap, isPair, isScalar, isSeq, type Node, type Scalar } from 'yaml';

/** The top-level key whose entries are blocks of their own (compose services). */
const SPLIT_KEY = /^services:[ \t]*(?:#.*)?$/;

interface Span {
  start: number;
  end: number;
}
interface TopBlock extends Span {
  entries?: { header: Span; blocks: Span[] };
}

/** A parsed block: its one key-value pair, with ranges (every node's, listed once) as they are for the block at `offset`. */
interface ParsedBlock {
  pair: Pair<Scalar, Node | null>;
  ranges: [number, number, number][];
  offset: number;
}

/** A document parsed by itself: the ranges of its nodes as they are for the document at `offset`. */
interface ParsedDocument {
  doc: Document.Parsed;
  ranges: [number, number, number][];
  offset: number;
}

export class YamlBlockCache implements YamlParseCache {
  /** Block text → its parse, for the blocks of the last text (older ones are dropped). */
  private blocks = new Map<string, ParsedBlock>();
  /** The same for whole documents (a Kubernetes file's). */
  private documents = new Map<string, ParsedDocument>();

  /**
   * The documents of a text, each parsed by itself or taken from the last text's (a
   * Kubernetes file's objects); undefined: parse it whole.
   */
  parseDocuments(text: string): Document.Parsed[] | undefined {
    const spans = splitDocuments(text);
    const used = new Map<string, ParsedDocument>();
    const docs: Document.Parsed[] = [];
    for (const span of spans ?? []) {
      const source = text.slice(span.start, span.end);
      const parsed = this.documents.get(source) ?? parseOneDocument(source);
      // A document twice (the same text) would be the same nodes twice.
      if (!parsed || used.has(source)) {
        this.documents = used;
        return undefined;
      }
      moveTo(parsed, span.start);
      used.set(source, parsed);
      docs.push(parsed.doc);
    }
    this.documents = used;
    return spans ? docs : undefined;
  }

  /** The text as one document built from cached and newly parsed blocks; undefined: parse it whole. */
  parse(text: string): Document.Parsed | undefined {
    const layout = splitBlocks(text);
    const used = new Map<string, ParsedBlock>();
    const pairOf = (span: Span): ParsedBlock['pair'] | undefined => {
      const source = text.slice(span.start, span.end);
      // The same text twice is the same key twice: a full parse reports it.
      if (used.has(source)) return undefined;
      const parsed = this.blocks.get(source) ?? parseBlock(source);
      if (!parsed) return undefined;
      moveTo(parsed, span.start);
      used.set(source, parsed);
      return parsed.pair;
    };
    const root = layout && assemble(layout, pairOf);
    this.blocks = used;
    if (!root) return undefined;
    const doc = newDocument();
    doc.contents = root as never;
    return doc;
  }
}

function assemble(layout: TopBlock[], pairOf: (span: Span) => ParsedBlock['pair'] | undefined): YAMLMap | undefined {
  const root = new YAMLMap();
  for (const top of layout) {
    if (!top.entries) {
      const pair = pairOf(top);
      if (!pair) return undefined;
      root.items.push(pair);
      continue;
    }
    const header = pairOf(top.entries.header);
    if (!header || (header.value !== null && !(isScalar(header.value) && header.value.value === null))) return undefined;
    const entries = new YAMLMap();
    for (const span of top.entries.blocks) {
      const pair = pairOf(span);
      if (!pair) return undefined;
      entries.items.push(pair);
    }
    entries.range = collectionRange(entries);
    root.items.push(new Pair(header.key, entries));
  }
  if (!uniqueKeys(root) || !root.items.every((pair) => uniqueKeys(pair.value))) return undefined;
  root.range = collectionRange(root);
  return root;
}

/** A block map's range as the parser gives it: from its first key to the end of its last value. */
function collectionRange(map: YAMLMap): [number, number, number] {
  const first = map.items[0] as Pair<Scalar, Node | null>;
  const last = map.items[map.items.length - 1] as Pair<Scalar, Node | null>;
  const end = (last.value?.range ?? last.key.range!)[2];
  return [first.key.range![0], end, end];
}

function uniqueKeys(node: unknown): boolean {
  if (!isMap(node)) return true;
  const keys = new Set<unknown>();
  for (const pair of node.items) {
    const key = (pair.key as Scalar).value;
    if (keys.has(key)) return false;
    keys.add(key);
  }
  return true;
}

/** Moves the ranges of a block or document that now starts at `offset` (text before it changed). */
function moveTo(parsed: { ranges: [number, number, number][]; offset: number }, offset: number): void {
  const delta = offset - parsed.offset;
  if (delta === 0) return;
  for (const range of parsed.ranges) {
    range[0] += delta;
    range[1] += delta;
    range[2] += delta;
  }
  parsed.offset = offset;
}

/** Parses one document by itself: without errors (their messages and ranges come from a full parse). */
function parseOneDocument(source: string): ParsedDocument | undefined {
  const docs = parseYaml(source);
  if (docs.length !== 1 || docs[0]!.errors.length > 0) return undefined;
  const doc = docs[0]!;
  const ranges: ParsedDocument['ranges'] = [doc.range];
  if (!collectRanges(doc.contents, ranges, true)) return undefined;
  return { doc, ranges, offset: 0 };
}

/** Parses one block: it must be a map of one plain-keyed pair, without errors, anchors or aliases. */
function parseBlock(source: string): ParsedBlock | undefined {
  const docs = parseYaml(source);
  const doc = docs[0]!;
  if (docs.length !== 1 || doc.errors.length > 0 || !isMap(doc.contents) || doc.contents.flow || doc.contents.items.length !== 1)
    return undefined;
  const pair = doc.contents.items[0]!;
  const ranges: ParsedBlock['ranges'] = [];
  if (!isScalar(pair.key) || !collectRanges(pair, ranges)) return undefined;
  return { pair: pair as ParsedBlock['pair'], ranges, offset: 0 };
}

/**
 * Lists the ranges of a node and every node below it; false when one is an alias or has an
 * anchor, unless `anchors` (a whole document, where they cannot point elsewhere).
 */
function collectRanges(node: unknown, ranges: [number, number, number][], anchors = false): boolean {
  if (node === null || node === undefined) return true;
  if (isPair(node)) return collectRanges(node.key, ranges, anchors) && collectRanges(node.value, ranges, anchors);
  if (!anchors && (isAlias(node) || (node as Node).anchor)) return false;
  const range = (node as Node).range;
  if (range) ranges.push(range);
  return !(isMap(node) || isSeq(node)) || (node.items as unknown[]).every((item) => collectRanges(item, ranges, anchors));
}

/**
 * The blocks of a text: one per top-level key (comment and blank lines go with the block
 * before them; the first block starts at 0), and for `services:` one per service, cut at
 * the lines indented as its first key (a block's text runs on over the next one's indentation). Undefined when the text is not one plain block map.
 */
function splitBlocks(text: string): TopBlock[] | undefined {
  const blocks: TopBlock[] = [];
  let top: TopBlock | undefined;
  /** While inside a split block: the indentation of its entries (0: not known yet). */
  let entryIndent = -1;
  // Lines are read in place (no slice per line): this runs on every keystroke.
  for (let start = 0; start < text.length;) {
    const newline = text.indexOf('\n', start);
    const end = newline < 0 ? text.length : newline + 1;
    const lineEnd = newline < 0 ? text.length : newline;
    let at = start;
    while (text.charCodeAt(at) === 32) at++;
    const indent = at - start;
    const first = at < lineEnd ? text[at] : '';
    if (first === '\t' || (first === '' && text.slice(start, lineEnd).includes('\t'))) return undefined;
    const content = first !== '' && first !== '#' && !(first === '\r' && at + 1 === lineEnd);
    if (content && indent === 0 && blocks.length === 0 && /^---[ \t]*(?:#.*)?\r?$/.test(text.slice(at, lineEnd))) {
      // A document start before the first key goes with the first block.
    } else if (content && indent === 0) {
      if (first === '%' || /^(?:---|\.\.\.)/.test(text.slice(at, lineEnd))) return undefined;
      if (top) top.end = start;
      top = { start: blocks.length === 0 ? 0 : start, end: text.length };
      blocks.push(top);
      entryIndent = first === 's' && SPLIT_KEY.test(text.slice(at, lineEnd).trimEnd()) ? 0 : -1;
      if (entryIndent === 0) top.entries = { header: { start: top.start, end: text.length }, blocks: [] };
    } else if (content && top?.entries) {
      const { entries } = top;
      if (entryIndent === 0) {
        if (first === '-') {
          delete top.entries;
          entryIndent = -1;
        } else {
          entryIndent = indent;
          entries.header.end = start;
        }
      }
      if (entryIndent > 0) {
        if (indent < entryIndent || (indent === entryIndent && first === '-')) return undefined;
        if (indent === entryIndent) {
          // The previous block ends at this key, after its indentation: a parser ends the ranges of
          // a block's last collections at the next token, which a block by itself must see there too.
          const previous = entries.blocks.at(-1);
          if (previous) previous.end = start + indent;
          entries.blocks.push({ start, end: text.length });
        }
      }
    } else if (content && !top) {
      return undefined;
    }
    start = end;
  }
  for (const block of blocks) {
    if (!block.entries) continue;
    // `services:` with no entries (or a value on its line) is one block.
    if (block.entries.blocks.length === 0) {
      delete block.entries;
      continue;
    }
    block.entries.blocks.at(-1)!.end = block.end;
  }
  return blocks.length > 0 ? blocks : undefined;
}

/**
 * The documents of a stream, cut before each `---` line (leading comments go with the first
 * document). Undefined when the stream has directives or `...` ends, which a document by
 * itself would read differently.
 */
function splitDocuments(text: string): Span[] | undefined {
  const spans: Span[] = [];
  let content = false;
  for (let start = 0; start < text.length;) {
    const newline = text.indexOf('\n', start);
    const end = newline < 0 ? text.length : newline + 1;
    const line = text.slice(start, end);
    if (/^(?:%|\.\.\.)/.test(line)) return undefined;
    if (/^---(?:[ \t\r\n]|$)/.test(line)) {
      if (content) {
        spans.at(-1)!.end = start;
        spans.push({ start, end: text.length });
      }
      content = true;
    } else if (!content && !/^[ \t]*(?:#.*)?\r?\n?$/.test(line)) {
      content = true;
    }
    if (spans.length === 0 && content) spans.push({ start: 0, end: text.length });
    start = end;
  }
  return spans;
}
