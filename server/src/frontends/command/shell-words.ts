/**
 * A shell word splitter that keeps source offsets.
 *
 * Why not an npm parser: `sh-syntax` (mvdan/sh in WASM) only parses asynchronously,
 * and a FrontEnd parses synchronously; `mvdan-sh` is its deprecated GopherJS build;
 * both give UTF-8 byte offsets (LSP wants UTF-16) and reject a whole file at its
 * first syntax error, which snippets in Markdown (`docker run <image>`), GitHub
 * expressions (`${{ … }}`) and Makefile references (`$(VAR)`) hit all the time;
 * `bash-parser` is unmaintained (babylon 6, twenty micro-dependencies);
 * `shell-quote` keeps no offsets. Finding the argv of simple commands needs far less
 * than a full grammar: quotes, escapes, continuations, expansions kept as text,
 * comments, operators, redirections and heredocs, all tolerant of broken input.
 */

/**
 * Text handed to the splitter, with the source offsets of each of its characters.
 * Extracted shell (Makefile recipes with `$$`, Markdown blocks, YAML scalars) differs
 * from the file it came from; ranges must still point into that file.
 */
export class MappedText {
  private constructor(
    readonly text: string,
    private readonly starts: readonly number[] | undefined,
    private readonly ends: readonly number[] | undefined,
    /** True when characters only map to a larger span (a YAML string with escapes): ranges are coarse, edits impossible. */
    readonly approximate = false,
  ) {}

  static identity(text: string): MappedText {
    return new MappedText(text, undefined, undefined);
  }

  static mapped(text: string, starts: readonly number[], ends: readonly number[], approximate = false): MappedText {
    return new MappedText(text, starts, ends, approximate);
  }

  /** Source offset where the character at `index` starts. */
  sourceStart(index: number): number {
    if (!this.starts) return index;
    if (index < this.starts.length) return this.starts[index]!;
    return this.ends!.length ? this.ends![this.ends!.length - 1]! : 0;
  }

  /** Source offset where the character at `index` ends. */
  sourceEnd(index: number): number {
    if (!this.ends) return index + 1;
    return this.ends[Math.min(index, this.ends.length - 1)] ?? 0;
  }
}

/** Builds a MappedText piece by piece from a source text. */
export class MappedTextBuilder {
  private readonly chars: string[] = [];
  private readonly starts: number[] = [];
  private readonly ends: number[] = [];

  constructor(private readonly source: string) {}

  /** Copies source[from, to) unchanged. */
  copy(from: number, to: number): this {
    for (let i = from; i < to; i++) this.char(this.source[i]!, i, i + 1);
    return this;
  }

  /** Adds one character that stands for source[start, end). */
  char(ch: string, start: number, end: number): this {
    this.chars.push(ch);
    this.starts.push(start);
    this.ends.push(end);
    return this;
  }

  build(approximate = false): MappedText {
    return MappedText.mapped(this.chars.join(''), this.starts, this.ends, approximate);
  }
}

/** One shell word, quotes removed; expansions stay as written. */
export interface ShellWord {
  /** The word as the command receives it, with `$VAR`, `${…}`, `$(…)` and backticks as written. */
  value: string;
  /** Source offsets of the whole word, quotes included. */
  start: number;
  end: number;
  /** True when the word holds an expansion, so its value is not what the command receives. */
  unresolved: boolean;
  /** True when an unquoted expansion may split the word into several words, or none. */
  splits: boolean;
  /** Source offset of the character of `value` at index k. */
  charAt(k: number): number | undefined;
}

export interface ShellCommand {
  words: ShellWord[];
  /** 0 at top level, more inside `$(…)` and backticks. */
  depth: number;
}

export interface SplitOptions {
  /**
   * Reads `<name>` as a word, not a redirection: documentation writes placeholders so
   * (`--net container:<container_name>`, `docker run <image>`).
   */
  placeholders?: boolean;
}

interface PendingHeredoc {
  delimiter: string;
  stripTabs: boolean;
}

const OPERATOR_CHARS = new Set([';', '&', '|', '(', ')', '<', '>']);
const BLANKS = new Set([' ', '\t', '\r']);
/** Characters that end a run of plain word characters. */
const SPECIAL = new Set([...OPERATOR_CHARS, ...BLANKS, '\n', '\\', "'", '"', '`', '$']);
const PLACEHOLDER = /<[A-Za-z_][\w.:/-]*>/y;
/**
 * A backslash that READMEs mean as a continuation though the shell does not: followed by
 * blanks, a `# comment`, or both, before the end of the line.
 */
const LOOSE_CONTINUATION = /\\[ \t]*(?:#[^\n]*)?\r?\n/y;
/** A word that expands to nothing: a substitution holding only a comment (`` `#optional` ``). */
const COMMENT_ONLY_SUBSTITUTION = /^(?:`[ \t]*(?:#[^`]*)?`|\$\([ \t]*(?:#[^)\n]*)?\))+$/;

class Splitter {
  private pos = 0;
  private readonly text: string;
  private readonly commands: ShellCommand[] = [];
  private heredocs: PendingHeredoc[] = [];

  constructor(
    private readonly source: MappedText,
    private readonly options: SplitOptions,
  ) {
    this.text = source.text;
  }

  run(): ShellCommand[] {
    this.list(undefined, 0);
    return this.commands.sort((a, b) => a.words[0]!.start - b.words[0]!.start);
  }

  private isContinuation(at: number): boolean {
    return this.text[at] === '\\' && (this.text[at + 1] === '\n' || (this.text[at + 1] === '\r' && this.text[at + 2] === '\n'));
  }

  private skipContinuation(): void {
    this.pos += this.text[this.pos + 1] === '\r' ? 3 : 2;
  }

  /** Length of a loose continuation at `at` (see LOOSE_CONTINUATION), 0 when there is none. */
  private looseContinuation(at: number): number {
    LOOSE_CONTINUATION.lastIndex = at;
    return LOOSE_CONTINUATION.exec(this.text)?.[0].length ?? 0;
  }

  private isPlaceholder(at: number): boolean {
    if (!this.options.placeholders || this.text[at] !== '<') return false;
    PLACEHOLDER.lastIndex = at;
    return PLACEHOLDER.test(this.text);
  }

  /**
   * Skips a line that is only a comment inside a continued command when the command goes
   * on after it (the comment ends with `\\`, or the next line is indented): READMEs
   * comment flags so, though a shell would end the command there. False when it does not.
   */
  private skipCommentLine(): boolean {
    const text = this.text;
    const lineEnd = text.indexOf('\n', this.pos);
    if (lineEnd < 0) return false;
    const nextEnd = text.indexOf('\n', lineEnd + 1);
    const next = text.slice(lineEnd + 1, nextEnd < 0 ? text.length : nextEnd);
    if (!/\\\r?$/.test(text.slice(this.pos, lineEnd)) && !/^[ \t]+[^\s#]/.test(next)) return false;
    this.pos = lineEnd + 1;
    return true;
  }

  /** Reads commands until `close` (the end of `$(…)` or of a backtick substitution) or the end. */
  private list(close: ')' | '`' | undefined, depth: number): void {
    const text = this.text;
    let words: ShellWord[] = [];
    let parens = 0;
    /** True from a continuation to the first word or operator of the line it continues onto. */
    let continued = false;
    const finish = (): void => {
      if (words.length) this.commands.push({ words, depth });
      words = [];
    };
    while (this.pos < text.length) {
      const c = text[this.pos]!;
      if (BLANKS.has(c)) {
        this.pos++;
        continue;
      }
      if (this.isContinuation(this.pos)) {
        this.skipContinuation();
        continued = true;
        continue;
      }
      const loose = c === '\\' && BLANKS.has(text[this.pos - 1] ?? '') ? this.looseContinuation(this.pos) : 0;
      if (loose > 0) {
        this.pos += loose;
        continued = true;
        continue;
      }
      if (c === '\n') {
        finish();
        this.pos++;
        this.skipHeredocBodies();
        continue;
      }
      if (c === '#') {
        if (continued && words.length > 0 && close === undefined && this.skipCommentLine()) continue;
        this.skipComment(close);
        continue;
      }
      continued = false;
      if (c === '`' && close === '`') {
        this.pos++;
        finish();
        return;
      }
      if (c === ')') {
        this.pos++;
        finish();
        if (close === ')' && parens === 0) return;
        parens = Math.max(0, parens - 1);
        continue;
      }
      if (c === '(') {
        parens++;
        this.pos++;
        finish();
        continue;
      }
      if ((c === '<' && !this.isPlaceholder(this.pos)) || c === '>' || (c === '&' && text[this.pos + 1] === '>') || this.atIoNumber()) {
        this.redirection(close, depth);
        continue;
      }
      if (c === ';' || c === '&' || c === '|') {
        this.pos++;
        while (text[this.pos] === ';' || text[this.pos] === '&' || text[this.pos] === '|') this.pos++;
        finish();
        continue;
      }
      const word = this.word(close, depth);
      if (word && !COMMENT_ONLY_SUBSTITUTION.test(word.value)) words.push(word);
    }
    finish();
  }

  /** A comment ends at the line's end, or inside backticks at the closing one (`` `#optional` ``). */
  private skipComment(close: ')' | '`' | undefined): void {
    while (this.pos < this.text.length && this.text[this.pos] !== '\n' && !(close === '`' && this.text[this.pos] === '`')) this.pos++;
  }

  /** `2>&1`, `1>log`: digits directly before a redirection operator are a file descriptor. */
  private atIoNumber(): boolean {
    let i = this.pos;
    while (i < this.text.length && this.text[i]! >= '0' && this.text[i]! <= '9') i++;
    return i > this.pos && (this.text[i] === '<' || this.text[i] === '>');
  }

  /** Consumes a redirection and its target word; `<<` registers a heredoc whose body is skipped. */
  private redirection(close: ')' | '`' | undefined, depth: number): void {
    const text = this.text;
    while (text[this.pos]! >= '0' && text[this.pos]! <= '9') this.pos++;
    let heredoc: PendingHeredoc | undefined;
    if (text.startsWith('<<<', this.pos)) this.pos += 3;
    else if (text.startsWith('<<-', this.pos)) {
      this.pos += 3;
      heredoc = { delimiter: '', stripTabs: true };
    } else if (text.startsWith('<<', this.pos)) {
      this.pos += 2;
      heredoc = { delimiter: '', stripTabs: false };
    } else if (text.startsWith('&>>', this.pos)) this.pos += 3;
    else {
      this.pos++;
      if (text[this.pos] === '>' || text[this.pos] === '&' || text[this.pos] === '|') this.pos++;
    }
    while (BLANKS.has(text[this.pos] ?? '') || this.isContinuation(this.pos)) {
      if (this.isContinuation(this.pos)) this.skipContinuation();
      else this.pos++;
    }
    const target = this.word(close, depth);
    if (heredoc && target) this.heredocs.push({ ...heredoc, delimiter: target.value });
  }

  private skipHeredocBodies(): void {
    const text = this.text;
    for (const heredoc of this.heredocs) {
      while (this.pos < text.length) {
        let lineEnd = text.indexOf('\n', this.pos);
        if (lineEnd < 0) lineEnd = text.length;
        let line = text.slice(this.pos, lineEnd).replace(/\r$/, '');
        if (heredoc.stripTabs) line = line.replace(/^\t+/, '');
        this.pos = Math.min(text.length, lineEnd + 1);
        if (line === heredoc.delimiter) break;
      }
    }
    this.heredocs = [];
  }

  /** The word being read: its value and runs of [value index, text offset] where characters follow each other. */
  private value = '';
  private runs: number[] = [];

  private add(ch: string, at: number): void {
    const n = this.runs.length;
    if (n === 0 || this.runs[n - 1]! + (this.value.length - this.runs[n - 2]!) !== at) this.runs.push(this.value.length, at);
    this.value += ch;
  }

  private addRaw(from: number, to: number): void {
    if (to <= from) return;
    const n = this.runs.length;
    if (n === 0 || this.runs[n - 1]! + (this.value.length - this.runs[n - 2]!) !== from) this.runs.push(this.value.length, from);
    this.value += this.text.slice(from, to);
  }

  /** Runs a nested command list (a substitution) without losing the word being read. */
  private nested(close: ')' | '`', depth: number): void {
    const { value, runs } = this;
    this.value = '';
    this.runs = [];
    this.list(close, depth);
    this.value = value;
    this.runs = runs;
  }

  /** Reads one word; undefined when nothing word-like is at the position. */
  private word(close: ')' | '`' | undefined, depth: number): ShellWord | undefined {
    const text = this.text;
    const begin = this.pos;
    const outer = { value: this.value, runs: this.runs };
    this.value = '';
    this.runs = [];
    let unresolved = false;
    let splits = false;

    while (this.pos < text.length) {
      const c = text[this.pos]!;
      if (c === '<' && this.isPlaceholder(this.pos)) {
        const stop = text.indexOf('>', this.pos) + 1;
        this.addRaw(this.pos, stop);
        this.pos = stop;
        continue;
      }
      if (BLANKS.has(c) || c === '\n' || OPERATOR_CHARS.has(c) || (c === '`' && close === '`')) break;
      if (this.isContinuation(this.pos)) {
        this.skipContinuation();
        continue;
      }
      if (c === '\\') {
        if (this.pos + 1 < text.length) this.add(text[this.pos + 1]!, this.pos + 1);
        this.pos += 2;
        continue;
      }
      if (c === "'") {
        const endQuote = text.indexOf("'", this.pos + 1);
        const stop = endQuote < 0 ? text.length : endQuote;
        this.addRaw(this.pos + 1, stop);
        this.pos = stop + 1;
        continue;
      }
      if (c === '"') {
        if (this.doubleQuoted(depth)) unresolved = true;
        continue;
      }
      if (c === '`') {
        this.backticks(depth);
        unresolved = splits = true;
        continue;
      }
      if (c === '$') {
        if (text[this.pos + 1] === "'") {
          this.ansiQuoted();
          continue;
        }
        if (this.dollar(depth)) unresolved = splits = true;
        continue;
      }
      let stop = this.pos + 1;
      while (stop < text.length && !SPECIAL.has(text[stop]!)) stop++;
      this.addRaw(this.pos, stop);
      this.pos = stop;
    }
    this.pos = Math.min(this.pos, text.length);
    const { value, runs } = this;
    this.value = outer.value;
    this.runs = outer.runs;
    if (this.pos === begin) return undefined;
    // A continuation right after the word is not part of it.
    let last = this.pos;
    for (;;) {
      if (text.endsWith('\\\n', last) && last - 2 > begin) last -= 2;
      else if (text.endsWith('\\\r\n', last) && last - 3 > begin) last -= 3;
      else break;
    }
    const source = this.source;
    return {
      value,
      start: source.sourceStart(begin),
      end: source.sourceEnd(last - 1),
      unresolved,
      splits,
      charAt(k: number): number | undefined {
        if (k < 0 || k >= value.length) return undefined;
        let r = runs.length - 2;
        while (r > 0 && runs[r]! > k) r -= 2;
        return source.sourceStart(runs[r + 1]! + (k - runs[r]!));
      },
    };
  }

  /** `"…"`: backslash escapes only `$ \` " \\` and newline; expansions inside. Returns true when it held one. */
  private doubleQuoted(depth: number): boolean {
    const text = this.text;
    let unresolved = false;
    this.pos++;
    while (this.pos < text.length && text[this.pos] !== '"') {
      const c = text[this.pos]!;
      if (this.isContinuation(this.pos)) {
        this.skipContinuation();
        continue;
      }
      if (c === '\\' && '$`"\\'.includes(text[this.pos + 1] ?? '')) {
        this.add(text[this.pos + 1]!, this.pos + 1);
        this.pos += 2;
        continue;
      }
      if (c === '$') {
        if (this.dollar(depth)) unresolved = true;
        continue;
      }
      if (c === '`') {
        this.backticks(depth);
        unresolved = true;
        continue;
      }
      this.add(c, this.pos);
      this.pos++;
    }
    this.pos = Math.min(this.pos + 1, text.length);
    return unresolved;
  }

  /** `$'…'` (ANSI-C quoting): the common escapes. */
  private ansiQuoted(): void {
    const text = this.text;
    const escapes: Record<string, string> = { n: '\n', t: '\t', r: '\r', '\\': '\\', "'": "'", '"': '"', e: '\x1b', a: '\x07' };
    this.pos += 2;
    while (this.pos < text.length && text[this.pos] !== "'") {
      if (text[this.pos] === '\\' && this.pos + 1 < text.length) {
        const next = text[this.pos + 1]!;
        this.add(escapes[next] ?? next, this.pos);
        this.pos += 2;
      } else {
        this.add(text[this.pos]!, this.pos);
        this.pos++;
      }
    }
    this.pos++;
  }

  /** Backtick substitution: its commands are commands too; the word keeps the raw text. */
  private backticks(depth: number): void {
    const begin = this.pos;
    this.pos++;
    this.nested('`', depth + 1);
    this.addRaw(begin, this.pos);
  }

  /** `$name`, `${…}`, `$(…)`, `$((…))`: kept as written. Returns false for a lone literal `$`. */
  private dollar(depth: number): boolean {
    const text = this.text;
    const begin = this.pos;
    const next = text[this.pos + 1] ?? '';
    if (text.startsWith('$((', this.pos)) {
      this.pos = this.matching(this.pos + 1, '(', ')');
    } else if (next === '(') {
      this.pos += 2;
      this.nested(')', depth + 1);
    } else if (next === '{') {
      this.pos = this.matching(this.pos + 1, '{', '}');
    } else if (/[A-Za-z_]/.test(next)) {
      this.pos++;
      while (/[A-Za-z0-9_]/.test(text[this.pos] ?? '')) this.pos++;
    } else if (/[0-9@*#?$!-]/.test(next) && next !== '') {
      this.pos += 2;
    } else {
      this.addRaw(begin, begin + 1);
      this.pos++;
      return false;
    }
    this.addRaw(begin, this.pos);
    return true;
  }

  /** Offset after the bracket matching the one at `open`, skipping quoted text. */
  private matching(open: number, opening: string, closing: string): number {
    const text = this.text;
    let level = 0;
    for (let i = open; i < text.length; i++) {
      const c = text[i]!;
      if (c === '\\') {
        i++;
        continue;
      }
      if (c === "'") {
        const q = text.indexOf("'", i + 1);
        if (q < 0) return text.length;
        i = q;
        continue;
      }
      if (c === opening) level++;
      else if (c === closing && --level === 0) return i + 1;
    }
    return text.length;
  }
}

/** Splits shell text into simple commands (top level and inside substitutions), sorted by position. */
export function splitShellCommands(source: MappedText | string, options: SplitOptions = {}): ShellCommand[] {
  return new Splitter(typeof source === 'string' ? MappedText.identity(source) : source, options).run();
}

/** The words of shell text regardless of command separators (a flag list such as GitHub Actions `options`). */
export function splitShellWords(source: MappedText | string): ShellWord[] {
  return splitShellCommands(source)
    .filter((c) => c.depth === 0)
    .flatMap((c) => c.words);
}

/** Quotes a word for a shell when it needs it. */
export function shellQuote(word: string): string {
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(word)) return word;
  return `'${word.replace(/'/g, `'\\''`)}'`;
}
