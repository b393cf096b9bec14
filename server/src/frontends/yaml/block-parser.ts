/**
 * A fast parser for the YAML that compose files and Kubernetes manifests are written in:
 * block maps and sequences, one-line plain, quoted and flow values, literal and folded
 * block scalars, comments, anchors and aliases of values, documents after `---`. It
 * builds the `yaml` package's own nodes, with the values, scalar types and ranges (all
 * three offsets) that package's parser gives, about ten times faster, because it reads
 * lines instead of tokens. Whatever it does not cover (tags, anchors on keys, aliases in
 * flow collections, multi-line plain or flow values, escapes YAML does not define, tabs,
 * a CR outside CRLF, directives, `...`, an empty document, a duplicate key or any syntax
 * error) makes it return undefined, and the caller parses with `yaml`, which also words
 * the errors.
 * test/lint/block-parser.test.ts holds it to `yaml`, node for node, on generated and real files.
 *
 * Where comments and blank lines after a value count in ranges follows `yaml`'s parser:
 * - a comment more indented than the collection holding a one-line value (and the blank
 *   lines before it) extends that value's range;
 * - an empty value's range covers the comments after it (up to the second line break
 *   after the last comment indented deeper than its map, when the map goes on);
 * - comments after a collection's last item, at or deeper than its indentation, extend
 *   the collection's range up to the next content; shallower ones go to its parent.
 */
import { Alias, Document, Pair, parseAllDocuments, Scalar, YAMLMap, YAMLSeq, type Node } from 'yaml';

export const PARSE_OPTIONS = { prettyErrors: false, uniqueKeys: true } as const;

/** The `yaml` package's key for its string tag in a schema (a registered symbol). */
const SCALAR = Symbol.for('yaml.scalar');

/** Kinds of lines (a marker is a `---` line). */
const BLANK = 0;
const COMMENT = 1;
const CONTENT = 2;
const MARKER = 3;

const SPACE = 32;
const HASH = 35;
const COLON = 58;
const DASH = 45;

/**
 * The first characters of every plain scalar the core schema reads as other than a
 * string (null, bool, int, float, .inf, .nan): anything else is a string without testing.
 */
const MAYBE_NOT_STRING = /^[-+.~0-9nNtTfF]/;

/** Collections nested deeper than this are left to `yaml` (no real file nests this deep; the recursion would hit the stack limit). */
const MAX_DEPTH = 200;

/** Thrown to leave the fast path. */
class Unsupported extends Error {}

/** Blank and comment lines after a collection's last item that no value took. */
interface Trailer {
  from: number;
  to: number;
}

interface Parsed<N extends Node = Node> {
  node: N;
  /** The next content line (or the line count). */
  next: number;
  /** What the collection's parent must place (undefined: nothing, or taken). */
  trailer?: Trailer;
}

interface ScalarTag {
  default?: boolean | 'key';
  test?: RegExp;
  format?: string;
  resolve: (value: string, onError: (message: string) => void, options: object) => unknown;
}

/** The documents of a text: from the fast parser when it covers the text, else from `yaml`. */
export function parseYaml(text: string): Document.Parsed[] {
  const docs = parseBlockYaml(text) ?? parseAllDocuments(text, PARSE_OPTIONS);
  // `yaml` gives an empty stream (not an array) for a text with no document.
  return Array.isArray(docs) ? docs : [];
}

/** The documents of a text, with a full parse's nodes; undefined: parse it with `yaml`. */
export function parseBlockYaml(text: string): Document.Parsed[] | undefined {
  try {
    return new BlockYamlParser(text).parse();
  } catch (error) {
    if (error instanceof Unsupported) return undefined;
    throw error;
  }
}

class BlockYamlParser {
  private readonly starts: number[] = [];
  private readonly ends: number[] = [];
  /** Spaces before a line's first character (-1 for a document marker, which ends every collection). */
  private readonly indents: number[] = [];
  private readonly kinds: number[] = [];
  /** How many collections the parse is inside. */
  private depth = 0;
  /** The anchors of the document so far (an alias names one of these, or is `yaml`'s error). */
  private anchors = new Set<string>();
  /** The document being built (its schema goes into its collections). */
  private doc = newDocument();
  private readonly plainTags: ScalarTag[];
  private readonly stringTag: ScalarTag;

  constructor(private readonly text: string) {
    const tags = this.doc.schema.tags as ScalarTag[];
    this.plainTags = tags.filter((tag) => tag.default === true && tag.test);
    this.stringTag = (this.doc.schema as unknown as Record<symbol, ScalarTag>)[SCALAR]!;
    // Tabs, a byte order mark and a CR that is not part of CRLF are left to `yaml`.
    if (/[\t\uFEFF]|\r(?!\n)/.test(text)) throw new Unsupported();
    for (let start = 0; start < text.length;) {
      const newline = text.indexOf('\n', start);
      let end = newline < 0 ? text.length : newline;
      // A line's content ends before its CR in CRLF.
      if (end > start && text.charCodeAt(end - 1) === 13) end--;
      let indent = start;
      while (text.charCodeAt(indent) === SPACE) indent++;
      const first = indent < end ? text.charCodeAt(indent) : -1;
      let kind = first < 0 ? BLANK : first === HASH ? COMMENT : CONTENT;
      if (indent === start && (first === 37 || first === DASH || first === 46)) {
        const line = text.slice(start, end);
        // `---` starts a document (a comment may follow it, a value may not); directives and `...` are left to `yaml`.
        if (/^---[ ]+(?:#.*)?$|^---$/.test(line)) kind = MARKER;
        else if (first === 37 || /^(?:---|\.\.\.)(?:[ ]|$)/.test(line)) throw new Unsupported();
      }
      this.starts.push(start);
      this.ends.push(end);
      this.indents.push(kind === MARKER ? -1 : indent - start);
      this.kinds.push(kind);
      start = newline < 0 ? text.length : newline + 1;
    }
  }

  parse(): Document.Parsed[] {
    const docs: Document.Parsed[] = [];
    const count = this.kinds.length;
    /** Whether a `---` opened a document that has no content yet. */
    let opened = false;
    for (let line = 0; ;) {
      const first = this.nextContent(line);
      if (first < count && this.kinds[first] === MARKER) {
        if (opened) throw new Unsupported();
        opened = true;
        line = first + 1;
        continue;
      }
      if (first >= count) {
        // An empty document (none at all, or after a last `---`).
        if (opened || docs.length === 0) throw new Unsupported();
        return docs;
      }
      if (docs.length > 0) {
        this.doc = newDocument();
        this.anchors = new Set();
      }
      const parsed = this.blockNode(first, this.indents[first]!, -1);
      if (parsed.next < count && this.kinds[parsed.next] !== MARKER) throw new Unsupported();
      this.doc.contents = parsed.node as never;
      const range = parsed.node.range!;
      this.doc.range = [range[0], range[2], range[2]];
      docs.push(this.doc);
      opened = false;
      line = parsed.next;
    }
  }

  // ---- lines ---------------------------------------------------------------

  private nextContent(line: number): number {
    while (line < this.kinds.length && this.kinds[line]! < CONTENT) line++;
    return line;
  }

  /** Where a line's content starts. */
  private contentStart(line: number): number {
    return this.starts[line]! + this.indents[line]!;
  }

  /** The offset just past a line (after its line break). */
  private after(line: number): number {
    const end = this.ends[line]!;
    return Math.min(end + (this.text.charCodeAt(end) === 13 ? 2 : 1), this.text.length);
  }

  /** Whether a content line is a sequence entry (`-` then a space or the line's end). */
  private isEntry(line: number): boolean {
    const at = this.contentStart(line);
    if (this.text.charCodeAt(at) !== DASH) return false;
    const next = at + 1 < this.ends[line]! ? this.text.charCodeAt(at + 1) : SPACE;
    return next === SPACE;
  }

  /** The end of the trailing-line tokens before a content line: after its indentation. */
  private trailerEnd(next: number): number {
    if (next >= this.kinds.length) return this.text.length;
    return this.kinds[next] === MARKER ? this.starts[next]! : this.contentStart(next);
  }

  private deepestComment(trailer: Trailer): number {
    let deepest = -1;
    for (let line = trailer.from; line < trailer.to; line++) {
      if (this.kinds[line] === COMMENT && this.indents[line]! > deepest) deepest = this.indents[line]!;
    }
    return deepest;
  }

  /**
   * A collection ends: its trailing comments stay with it when one is at or deeper than
   * its indentation (its range then runs to the next content), else they go up.
   */
  private close(parsed: Parsed, indent: number): Parsed {
    const { trailer } = parsed;
    if (!trailer) return parsed;
    const deepest = this.deepestComment(trailer);
    if (deepest < 0) return { node: parsed.node, next: parsed.next };
    if (indent === 0 || deepest < indent) return parsed;
    parsed.node.range![2] = this.trailerEnd(parsed.next);
    return { node: parsed.node, next: parsed.next };
  }

  // ---- block nodes -----------------------------------------------------------

  /** A map or sequence whose first item starts at a line's content (`column` = its indentation). */
  private blockNode(line: number, column: number, parentIndent: number): Parsed {
    if (column <= parentIndent) throw new Unsupported();
    return this.isEntry(line) ? this.sequence(line, column) : this.map(line, this.contentStart(line), column);
  }

  /** A block map whose first key starts at `at` on `line`; `indent` is the key's column. */
  private map(line: number, at: number, indent: number): Parsed<YAMLMap> {
    this.enter();
    const map = new YAMLMap(this.doc.schema);
    const keys = new Set<unknown>();
    let offset = at;
    for (;;) {
      const key = this.key(line, at);
      if (keys.has(key.node.value)) throw new Unsupported();
      keys.add(key.node.value);
      const value = this.mapValue(line, key.after, indent);
      map.items.push(new Pair(key.node, value.node));
      offset = value.node.range![2];
      const { next } = value;
      if (next < this.kinds.length && this.indents[next] === indent) {
        if (this.isEntry(next)) throw new Unsupported();
        line = next;
        at = this.contentStart(next);
        continue;
      }
      map.range = [(map.items[0]!.key as Node).range![0], offset, offset];
      this.depth--;
      return this.close({ node: map, next, trailer: value.trailer }, indent) as Parsed<YAMLMap>;
    }
  }

  /** A block sequence whose entries start at column `indent`. */
  private sequence(line: number, indent: number): Parsed<YAMLSeq> {
    this.enter();
    const seq = new YAMLSeq(this.doc.schema);
    const start = this.contentStart(line);
    let before: Trailer | undefined;
    for (;;) {
      const entry = this.entry(line, indent, before);
      seq.items.push(entry.node);
      const { next } = entry;
      if (next < this.kinds.length && this.indents[next] === indent && this.isEntry(next)) {
        line = next;
        before = entry.trailer;
        continue;
      }
      if (next < this.kinds.length && this.indents[next]! > indent) throw new Unsupported();
      const end = entry.node.range![2];
      seq.range = [start, end, end];
      this.depth--;
      return this.close({ node: seq, next, trailer: entry.trailer }, indent) as Parsed<YAMLSeq>;
    }
  }

  /**
   * One sequence entry: the `-` at column `indent` of `line`. `before`: the comment and
   * blank lines between it and the previous entry's value, which `yaml` counts as this
   * entry's (an empty entry's range covers them when one is a comment).
   */
  private entry(line: number, indent: number, before: Trailer | undefined): Parsed {
    const dash = this.contentStart(line);
    const anchor = this.anchor(line, this.skipSpaces(dash + 1, this.ends[line]!));
    const { at } = anchor;
    if (this.atLineEnd(line, at)) {
      const next = this.nextContent(line + 1);
      if (next < this.kinds.length && this.indents[next]! > indent)
        return this.anchored(this.blockNode(next, this.indents[next]!, indent), anchor.name);
      if (anchor.name !== undefined) throw new Unsupported();
      // An empty entry: its tokens run on to the next content.
      const comments = this.hasComment(line, at, next) || (before !== undefined && this.deepestComment(before) >= 0);
      return { node: this.emptyScalar(dash + 1, comments ? this.trailerEnd(next) : undefined), next };
    }
    const code = this.text.charCodeAt(at);
    if (code === DASH && this.isSpaceOrEnd(at + 1, line)) throw new Unsupported();
    if (this.startsKey(line, at)) {
      // An anchor before a compact map's first key belongs to the key: left to `yaml`.
      if (anchor.name !== undefined) throw new Unsupported();
      return this.map(line, at, at - this.starts[line]!);
    }
    return this.anchored(this.inlineValue(line, at, indent, anchor.name !== undefined), anchor.name);
  }

  /** A map's value after the `:` at `after - 1`; `indent` is the map's. */
  private mapValue(line: number, after: number, indent: number): Parsed {
    const anchor = this.anchor(line, this.skipSpaces(after, this.ends[line]!));
    const { at } = anchor;
    if (!this.atLineEnd(line, at)) {
      if (this.startsKey(line, at)) throw new Unsupported();
      const code = this.text.charCodeAt(at);
      if (code === DASH && this.isSpaceOrEnd(at + 1, line)) throw new Unsupported();
      return this.anchored(this.inlineValue(line, at, indent, anchor.name !== undefined), anchor.name);
    }
    const next = this.nextContent(line + 1);
    if (next < this.kinds.length) {
      if (this.indents[next]! > indent) return this.anchored(this.blockNode(next, this.indents[next]!, indent), anchor.name);
      if (this.indents[next] === indent && this.isEntry(next)) return this.anchored(this.sequence(next, indent), anchor.name);
    }
    if (anchor.name !== undefined) throw new Unsupported();
    return { node: this.emptyScalar(after, this.emptyValueEnd(line, at, next, indent)), next };
  }

  /**
   * An `&anchor` at `at` (before a value on this line, or before a block collection on the
   * next ones): its name, and where the value starts. A comment after an anchor, or an
   * anchor whose name `yaml` warns about, is left to `yaml`.
   */
  private anchor(line: number, at: number): { name?: string; at: number } {
    if (this.text.charCodeAt(at) !== 38) return { at }; // &
    const end = this.nameEnd(at + 1, line);
    const value = this.skipSpaces(end, this.ends[line]!);
    if (value < this.ends[line]! && (value === end || this.text.charCodeAt(value) === HASH)) throw new Unsupported();
    return { name: this.text.slice(at + 1, end), at: value };
  }

  /** The end of an anchor or alias name starting at `at` (not empty, not ending in `:`). */
  private nameEnd(at: number, line: number): number {
    let end = at;
    while (end < this.ends[line]! && !' ,[]{}'.includes(this.text[end]!)) end++;
    if (end === at || this.text.charCodeAt(end - 1) === COLON) throw new Unsupported();
    return end;
  }

  /** Gives a parsed value its anchor, which aliases after it may then name. */
  private anchored(parsed: Parsed, name: string | undefined): Parsed {
    if (name === undefined) return parsed;
    parsed.node.anchor = name;
    this.anchors.add(name);
    return parsed;
  }

  /**
   * Where an empty map value's range ends when comments follow it (undefined: none):
   * the tokens after the `:` up to the next key, less those from the second line break
   * after the last comment deeper than the map, which go to the next key.
   */
  private emptyValueEnd(line: number, at: number, next: number, indent: number): number | undefined {
    // A `---` after a map at column 0 counts as its next key here, as it does in `yaml`'s parser.
    const continues = next < this.kinds.length && (this.indents[next] === indent || (indent === 0 && this.kinds[next] === MARKER));
    // The lines whose break follows the last reset (the `:`, or a comment deeper than the map).
    let lastReset = line;
    for (let l = line + 1; l < next; l++) if (this.kinds[l] === COMMENT && this.indents[l]! > indent) lastReset = l;
    if (continues && next - lastReset >= 2) {
      // Kept: up to the second line break after the reset, i.e. through line lastReset + 1's content.
      const last = lastReset + 1;
      if (!this.hasComment(line, at, last + 1)) return undefined;
      return this.ends[last]!;
    }
    return this.hasComment(line, at, next) ? this.trailerEnd(next) : undefined;
  }

  /** Whether a comment sits on `line` from `at`, or on a line before `next`. */
  private hasComment(line: number, at: number, next: number): boolean {
    if (this.text.charCodeAt(at) === HASH) return true;
    for (let l = line + 1; l < next; l++) if (this.kinds[l] === COMMENT) return true;
    return false;
  }

  /** A value that starts on its key's (or `-`'s) line, at `at`; `indent` is its collection's. */
  private inlineValue(line: number, at: number, indent: number, anchored = false): Parsed {
    const code = this.text.charCodeAt(at);
    // An anchored block scalar, alias or second anchor is left to `yaml`.
    if (anchored && (code === 124 || code === 62 || code === 42 || code === 38)) throw new Unsupported();
    if (code === 124 || code === 62) return this.blockScalar(line, at, indent); // | >
    let node: Node;
    let end: number;
    if (code === 42) {
      // *
      end = this.nameEnd(at + 1, line);
      const name = this.text.slice(at + 1, end);
      if (!this.anchors.has(name)) throw new Unsupported();
      node = new Alias(name);
      node.range = [at, end, end];
    } else if (code === 91 || code === 123) {
      // [ {
      const flow = this.flowCollection(at, this.ends[line]!);
      node = flow.node;
      end = flow.end;
    } else {
      const scalar = this.scalar(at, this.ends[line]!, false);
      node = scalar.node;
      end = scalar.end;
    }
    // The rest of the line: spaces, then a comment or nothing.
    const rest = this.skipSpaces(end, this.ends[line]!);
    if (rest < this.ends[line]! && (this.text.charCodeAt(rest) !== HASH || rest === end)) throw new Unsupported();
    let last = line;
    // Comments deeper than the collection (and blank lines before them) join the value.
    for (let l = line + 1; l < this.kinds.length && this.kinds[l]! < CONTENT; l++) {
      if (this.kinds[l] === COMMENT && this.indents[l]! > indent) last = l;
      else if (this.kinds[l] === COMMENT) break;
    }
    node.range![2] = this.after(last);
    const next = this.nextContent(last + 1);
    if (next < this.kinds.length && this.indents[next]! > indent) throw new Unsupported();
    return { node, next, trailer: { from: last + 1, to: next } };
  }

  /** A literal (`|`) or folded (`>`) block scalar whose header starts at `at`. */
  private blockScalar(line: number, at: number, indent: number): Parsed {
    const folded = this.text.charCodeAt(at) === 62;
    const header = /^[|>]([-+]?)(?:[ ]+(?:#.*)?)?$/.exec(this.text.slice(at, this.ends[line]));
    if (!header) throw new Unsupported();
    const chomp = header[1];
    // The content's indentation is the first non-blank line's; it must be deeper than the collection's.
    let first = line + 1;
    while (first < this.kinds.length && this.kinds[first] === BLANK) first++;
    const lines: string[] = [];
    let last = line;
    if (first < this.kinds.length && this.indents[first]! > indent) {
      const blockIndent = this.indents[first]!;
      for (let l = line + 1; l < this.kinds.length; l++) {
        if (this.kinds[l] === BLANK) {
          // Spaces at the very end, with no line break: left to `yaml`.
          if (this.ends[l] === this.text.length) throw new Unsupported();
          // A blank line deeper than the content would keep spaces in the value.
          if (this.ends[l]! - this.starts[l]! > blockIndent) throw new Unsupported();
          lines.push('');
          continue;
        }
        if (this.indents[l]! < blockIndent) break;
        if (folded && this.indents[l]! > blockIndent) throw new Unsupported();
        lines.push(this.text.slice(this.starts[l]! + blockIndent, this.ends[l]));
        last = l;
      }
    } else {
      throw new Unsupported();
    }
    // Blank lines after the last content line are trailing: kept only by `+`.
    let content = lines.length;
    while (lines[content - 1] === '') content--;
    const trailing = lines.length - content;
    const body = lines.slice(0, content);
    let value = folded ? fold(body) : body.join('\n');
    if (chomp === '+') value += '\n'.repeat(trailing + 1);
    else if (chomp === '') value += '\n';
    const lastLine = chomp === '+' ? last + trailing : last;
    const end = this.after(lastLine);
    const node = new Scalar(value);
    node.range = [at, end, end];
    node.source = value;
    node.type = folded ? 'BLOCK_FOLDED' : 'BLOCK_LITERAL';
    const next = this.nextContent(lastLine + 1);
    if (next < this.kinds.length && this.indents[next]! > indent) throw new Unsupported();
    return { node, next, trailer: { from: lastLine + 1, to: next } };
  }

  // ---- keys and scalars ----------------------------------------------------------

  /** Whether an implicit key (a one-line scalar and `: `) starts at `at`. */
  private startsKey(line: number, at: number): boolean {
    const end = this.ends[line]!;
    const code = this.text.charCodeAt(at);
    if (code === 34 || code === 39) {
      const quoted = this.quotedEnd(at, end);
      if (quoted < 0) return false;
      const colon = this.skipSpaces(quoted, end);
      return this.text.charCodeAt(colon) === COLON && this.isSpaceOrEnd(colon + 1, line);
    }
    if (!this.plainStart(at, end, false)) return false;
    return this.plainEnd(at, end, false).colon;
  }

  /** The key at `at` and the offset after its `:`. */
  private key(line: number, at: number): { node: Scalar; after: number } {
    const end = this.ends[line]!;
    const scalar = this.scalar(at, end, true);
    const colon = this.skipSpaces(scalar.end, end);
    if (this.text.charCodeAt(colon) !== COLON || !this.isSpaceOrEnd(colon + 1, line) || colon - at > 1000) throw new Unsupported();
    scalar.node.range![2] = scalar.node.range![1];
    return { node: scalar.node, after: colon + 1 };
  }

  /**
   * A one-line scalar at `at` (plain, or quoted without escapes); `end` is where the
   * scalar's range ends, after the spaces that follow it.
   */
  private scalar(at: number, lineEnd: number, isKey: boolean, flow = false): { node: Scalar; end: number } {
    const code = this.text.charCodeAt(at);
    let node: Scalar;
    let valueEnd: number;
    if (code === 34 || code === 39) {
      valueEnd = this.quotedEnd(at, lineEnd);
      if (valueEnd < 0) throw new Unsupported();
      const inner = this.text.slice(at + 1, valueEnd - 1);
      const value = code === 39 ? inner.replaceAll("''", "'") : unescape(inner);
      node = new Scalar(this.stringTag.resolve(value, fail, this.doc.options));
      node.source = value;
      node.type = code === 39 ? 'QUOTE_SINGLE' : 'QUOTE_DOUBLE';
    } else {
      if (!this.plainStart(at, lineEnd, flow)) throw new Unsupported();
      const plain = this.plainEnd(at, lineEnd, flow);
      if (plain.colon !== isKey && !flow) throw new Unsupported();
      valueEnd = plain.end;
      node = this.plainScalar(this.text.slice(at, valueEnd));
    }
    node.range = [at, valueEnd, valueEnd];
    return { node, end: valueEnd };
  }

  /** A plain scalar resolved as the core schema says (null, bool, int, float or string). */
  private plainScalar(source: string): Scalar {
    let tag = this.stringTag;
    if (source === '' || MAYBE_NOT_STRING.test(source)) {
      for (const candidate of this.plainTags) {
        if (candidate.test!.test(source)) {
          tag = candidate;
          break;
        }
      }
    }
    const resolved = tag.resolve(source, fail, this.doc.options);
    const node = resolved instanceof Scalar ? resolved : new Scalar(resolved);
    node.source = source;
    node.type = 'PLAIN';
    if (tag.format) node.format = tag.format;
    return node;
  }

  /** Where a quoted scalar at `at` ends (after its closing quote); -1 when it does not end on this line. */
  private quotedEnd(at: number, lineEnd: number): number {
    const quote = this.text.charCodeAt(at);
    for (let i = at + 1; i < lineEnd; i++) {
      const c = this.text.charCodeAt(i);
      // An escape in double quotes: the next character is never the closing quote.
      if (c === 92 && quote === 34) {
        i++;
        continue;
      }
      if (c !== quote) continue;
      if (quote === 39 && this.text.charCodeAt(i + 1) === 39) {
        i++;
        continue;
      }
      return i + 1;
    }
    return -1;
  }

  /**
   * Whether a plain scalar may start at `at`: not at an indicator, unless `-?:` before a
   * character that is safe there (not a space; in flow context, not `,[]{}` either).
   */
  private plainStart(at: number, lineEnd: number, flow: boolean): boolean {
    const c = this.text[at]!;
    if ('[]{},#&*!|>\'"%@`'.includes(c)) return false;
    if (c !== '-' && c !== '?' && c !== ':') return true;
    if (at + 1 >= lineEnd) return false;
    const next = this.text[at + 1]!;
    return next !== ' ' && !(flow && ',[]{}'.includes(next));
  }

  /**
   * The end of a plain scalar (trailing spaces left out) and whether it stopped at a `:`
   * that makes it a key. In flow context it also stops at `,[]{}`; a `:` inside is left to `yaml`.
   */
  private plainEnd(at: number, lineEnd: number, flow: boolean): { end: number; colon: boolean } {
    let end = at + 1;
    for (let i = at + 1; i < lineEnd; i++) {
      const c = this.text.charCodeAt(i);
      if (c === SPACE) {
        if (this.text.charCodeAt(i + 1) === HASH) break;
        continue;
      }
      if (c === COLON) {
        const after = i + 1 < lineEnd ? this.text.charCodeAt(i + 1) : SPACE;
        if (after === SPACE) return { end, colon: true };
        if (flow) throw new Unsupported();
      }
      if (flow && (c === 44 || c === 91 || c === 93 || c === 123 || c === 125)) break;
      end = i + 1;
    }
    return { end, colon: false };
  }

  // ---- flow collections (on one line) ----------------------------------------------

  /** A `[...]` or `{...}` at `at`, all on this line; `end` is after it and the spaces that follow. */
  private flowCollection(at: number, lineEnd: number): { node: YAMLMap | YAMLSeq; end: number } {
    this.enter();
    const isMap = this.text.charCodeAt(at) === 123;
    const close = isMap ? 125 : 93;
    const node = isMap ? new YAMLMap(this.doc.schema) : new YAMLSeq(this.doc.schema);
    node.flow = true;
    /** A flow map's keys so far (a duplicate is `yaml`'s error to report). */
    const keys = new Set<unknown>();
    let i = this.skipSpaces(at + 1, lineEnd);
    if (this.text.charCodeAt(i) !== close) {
      for (;;) {
        const item = this.flowItem(i, lineEnd);
        if (isMap) {
          if (!(item.node instanceof Scalar)) throw new Unsupported();
          const colon = item.end;
          if (this.text.charCodeAt(colon) !== COLON || this.text.charCodeAt(colon + 1) !== SPACE) throw new Unsupported();
          if (keys.has(item.node.value)) throw new Unsupported();
          keys.add(item.node.value);
          item.node.range![2] = item.node.range![1];
          const value = this.flowItem(this.skipSpaces(colon + 1, lineEnd), lineEnd);
          (node as YAMLMap).items.push(new Pair(item.node, value.node));
          i = value.end;
        } else {
          (node as YAMLSeq).items.push(item.node);
          i = item.end;
        }
        const c = this.text.charCodeAt(i);
        if (c === close) break;
        if (c !== 44) throw new Unsupported();
        i = this.skipSpaces(i + 1, lineEnd);
        // A trailing comma, or an empty entry.
        if (this.text.charCodeAt(i) === close || this.text.charCodeAt(i) === 44) throw new Unsupported();
      }
    }
    if (i >= lineEnd) throw new Unsupported();
    const end = this.skipSpaces(i + 1, lineEnd);
    node.range = [at, i + 1, end];
    this.depth--;
    return { node, end };
  }

  /** A flow entry at `at`: a nested collection or a scalar, with the spaces after it in its range. */
  private flowItem(at: number, lineEnd: number): { node: Node; end: number } {
    if (at >= lineEnd) throw new Unsupported();
    const code = this.text.charCodeAt(at);
    if (code === 91 || code === 123) return this.flowCollection(at, lineEnd);
    const scalar = this.scalar(at, lineEnd, false, true);
    const end = this.skipSpaces(scalar.end, lineEnd);
    scalar.node.range![2] = end;
    return { node: scalar.node, end };
  }

  // ---- small things ----------------------------------------------------------------

  /** One collection deeper; a text nested deeper than MAX_DEPTH is left to `yaml` (this parser recurses, `yaml`'s parser does not). */
  private enter(): void {
    if (++this.depth > MAX_DEPTH) throw new Unsupported();
  }

  private emptyScalar(at: number, commentEnd: number | undefined): Scalar {
    const start = this.skipSpaces(at, this.text.length);
    const node = this.plainScalar('');
    node.range = [start, start, commentEnd ?? start];
    return node;
  }

  private skipSpaces(at: number, end: number): number {
    while (at < end && this.text.charCodeAt(at) === SPACE) at++;
    return at;
  }

  /** Whether only a comment or nothing is left on the line from `at`. */
  private atLineEnd(line: number, at: number): boolean {
    return at >= this.ends[line]! || this.text.charCodeAt(at) === HASH;
  }

  private isSpaceOrEnd(at: number, line: number): boolean {
    return at >= this.ends[line]! || this.text.charCodeAt(at) === SPACE;
  }
}

/** Folds a folded scalar's lines (none more indented): a break between two lines is a space, blank lines are breaks. */
function fold(lines: string[]): string {
  let out = '';
  let blanks = 0;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line === '') {
      blanks++;
      continue;
    }
    if (i > 0 && out !== '') out += blanks > 0 ? '\n'.repeat(blanks) : ' ';
    else if (blanks > 0) out += '\n'.repeat(blanks);
    out += line;
    blanks = 0;
  }
  return out;
}

/** The characters YAML's one-letter escapes in double quotes stand for. */
const ESCAPES: Record<string, string> = {
  '0': '\0',
  a: '\x07',
  b: '\b',
  e: '\x1b',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t',
  v: '\v',
  N: '\u0085',
  _: '\u00a0',
  L: '\u2028',
  P: '\u2029',
  ' ': ' ',
  '"': '"',
  '/': '/',
  '\\': '\\',
};

/** Hex digits after \x, \u and \U. */
const CODE_LENGTH: Record<string, number> = { x: 2, u: 4, U: 8 };

/** A one-line double-quoted scalar's value; an escape YAML does not define is left to `yaml` (its error). */
function unescape(inner: string): string {
  if (!inner.includes('\\')) return inner;
  let out = '';
  for (let i = 0; i < inner.length; i++) {
    const c = inner[i]!;
    if (c !== '\\') {
      out += c;
      continue;
    }
    const next = inner[++i] ?? '';
    const escaped = ESCAPES[next];
    if (escaped !== undefined) {
      out += escaped;
      continue;
    }
    const length = CODE_LENGTH[next];
    const hex = length === undefined ? '' : inner.slice(i + 1, i + 1 + length);
    if (length === undefined || !new RegExp(`^[0-9a-fA-F]{${length}}$`).test(hex) || parseInt(hex, 16) > 0x10ffff) throw new Unsupported();
    out += String.fromCodePoint(parseInt(hex, 16));
    i += length;
  }
  return out;
}

/** An empty document with the parse options every YAML front end uses. */
export function newDocument(): Document.Parsed {
  return new Document(undefined, PARSE_OPTIONS) as Document.Parsed;
}

function fail(): never {
  throw new Unsupported();
}
