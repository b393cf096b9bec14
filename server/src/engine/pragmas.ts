/**
 * Inline suppression: `# vmrt-ignore <id>[,<id>] [-- reason]` on the line before a
 * finding (or before the first line of a `\`-continued command, or, in YAML, before the
 * key that opens the finding's block: `cap_add:` above `- SYS_ADMIN`), `// vmrt-ignore` in
 * JSONC, `<!-- vmrt-ignore … -->` in Markdown (above a code fence, for the block's first
 * command), and `vmrt-ignore-file <ids>` anywhere.
 * An id is a rule id or a feature id.
 */
import { LineIndex } from '../core/positions.js';
import type { FileKind, Finding } from '../core/types.js';

export type CommentStyle = '#' | '//' | '<!--';

/** The comments a pragma is read from, per file kind. */
export const COMMENT_STYLES: Readonly<Record<FileKind, readonly CommentStyle[]>> = {
  oci: ['//'],
  devcontainer: ['//'],
  command: ['#', '<!--'],
  compose: ['#'],
  kubernetes: ['#'],
  dockerfile: ['#'],
};

/**
 * The comment a new pragma is written in, per file kind. OCI config.json is read leniently
 * but runc wants strict JSON: nothing is written there. Markdown: see `writeStyleAt`.
 */
const WRITE_STYLE: Readonly<Record<FileKind, CommentStyle | undefined>> = {
  oci: undefined,
  devcontainer: '//',
  command: '#',
  compose: '#',
  kubernetes: '#',
  dockerfile: '#',
};

export interface Pragma {
  line: number;
  fileWide: boolean;
  ids: string[];
  reason?: string;
}

/**
 * The pragma up to its ids; the rest of the line (`-- reason`, a closing `-->`) is taken
 * apart without a regular expression: a lazy reason between runs of blanks backtracks in
 * cubic time on a line of spaces. Ids never hold `--`, so `ids-->` ends at the ids.
 */
const PRAGMA_HEAD = /^\s*(#|\/\/|<!--)\s*vmrt-ignore(-file)?\s+([A-Za-z0-9]+(?:-[A-Za-z0-9]+)*(?:\s*,\s*[A-Za-z0-9]+(?:-[A-Za-z0-9]+)*)*)/d;
const COMMENT = /^\s*(#|\/\/|<!--)/;
/** A YAML key that opens a nested block (`cap_add:`), so the pragma above it covers the block's items. */
const YAML_BLOCK_KEY = /^\s*(?:-\s+)?[^\s#'"][^#]*:\s*$/;
/** A Markdown code fence: a pragma above the fence covers the block's first command. */
const FENCE = /^\s*(?:```|~~~)/;
const MARKDOWN = /\.(?:md|markdown)$/i;
/** A YAML list item; group 1 is its indentation. */
const YAML_ITEM = /^(\s*)-\s/;

function indentOf(text: string): number {
  return text.length - text.trimStart().length;
}

export class Suppressions {
  private readonly byLine = new Map<number, Pragma>();
  private readonly fileWide = new Set<string>();
  private readonly lines: LineIndex | undefined;

  constructor(
    text: string,
    private readonly styles: readonly CommentStyle[],
    private readonly yaml = false,
  ) {
    // Most files have no pragma: then there is nothing to index.
    if (!text.includes('vmrt-ignore')) return;
    this.lines = new LineIndex(text);
    for (let line = 0; line < this.lines.lineCount; line++) {
      const pragma = this.parse(this.lines, line);
      if (!pragma) continue;
      if (pragma.fileWide) pragma.ids.forEach((id) => this.fileWide.add(id));
      else this.byLine.set(line, pragma);
    }
  }

  /** The pragmas of the file, in line order. */
  get pragmas(): Pragma[] {
    return [...this.byLine.values()];
  }

  suppresses(finding: Pick<Finding, 'rule' | 'feature' | 'range'>): boolean {
    const named = (ids: Iterable<string>) => {
      for (const id of ids) if (id === finding.rule || id === finding.feature) return true;
      return false;
    };
    if (named(this.fileWide)) return true;
    if (!this.lines) return false;
    const first = this.lines.lineText(finding.range.start.line);
    const item = this.yaml ? YAML_ITEM.exec(first)?.[1] : undefined;
    let indent = indentOf(first);
    let inList = item !== undefined;
    // Walk up over comment lines, the earlier lines of a `\`-continued command, and in
    // YAML over the earlier items of the finding's list and the keys that open its blocks.
    for (let line = finding.range.start.line - 1; line >= 0; line--) {
      const pragma = this.byLine.get(line);
      if (pragma && named(pragma.ids)) return true;
      const text = this.lines.lineText(line);
      if (this.isComment(text) || text.endsWith('\\') || (this.styles.includes('<!--') && FENCE.test(text))) continue;
      if (!this.yaml) return false;
      if (inList && YAML_ITEM.exec(text)?.[1] === item) continue;
      // The key of a list may sit at its items' indentation (`cap_add:` over `- X`); other parents are less indented.
      if (!YAML_BLOCK_KEY.test(text) || indentOf(text) > indent || (indentOf(text) === indent && !inList)) return false;
      indent = indentOf(text);
      inList = false;
    }
    return false;
  }

  private isComment(text: string): boolean {
    const match = COMMENT.exec(text);
    return match !== null && this.styles.includes(match[1] as CommentStyle);
  }

  private parse(lines: LineIndex, line: number): Pragma | undefined {
    const parsed = parsePragma(lines.lineText(line), this.styles);
    return parsed && { line, fileWide: parsed.fileWide, ids: parsed.ids, reason: parsed.reason };
  }
}

/** A pragma line as written: `idsEnd` is the character after its last id (where another id may be added). */
export interface PragmaText {
  fileWide: boolean;
  ids: string[];
  reason: string | undefined;
  idsEnd: number;
}

/** The pragma a line holds, in one of `styles`; undefined when it holds none. */
export function parsePragma(text: string, styles: readonly CommentStyle[]): PragmaText | undefined {
  if (!text.includes('vmrt-ignore')) return undefined;
  const match = PRAGMA_HEAD.exec(text);
  if (!match || !styles.includes(match[1] as CommentStyle)) return undefined;
  const idsEnd = match.indices![3]![1];
  let rest = text.slice(idsEnd).trimEnd();
  if (rest.endsWith('-->')) rest = rest.slice(0, -3).trimEnd();
  let reason: string | undefined;
  if (rest !== '') {
    const separator = /^\s+--(?!>)/.exec(rest);
    if (!separator) return undefined;
    reason = rest.slice(separator[0].length).trim() || undefined;
  }
  return { fileWide: match[2] !== undefined, ids: match[3]!.split(',').map((id) => id.trim()), reason, idsEnd };
}

/** The comment a new pragma at `line` is written in: Markdown takes `<!-- -->` outside code fences and the shell's `#` inside. */
export function writeStyleAt(path: string, lines: LineIndex, kind: FileKind, line: number): CommentStyle | undefined {
  if (kind !== 'command' || !MARKDOWN.test(path)) return WRITE_STYLE[kind];
  let fenced = false;
  for (let l = 0; l < line; l++) if (FENCE.test(lines.lineText(l))) fenced = !fenced;
  return fenced ? '#' : '<!--';
}

/** A pragma comment: `body` is `vmrt-ignore <ids> [-- reason]` or `vmrt-ignore-file <ids>`. */
export function formatPragma(style: CommentStyle, body: string): string {
  return style === '<!--' ? `<!-- ${body} -->` : `${style} ${body}`;
}

/** True for a Markdown file (pragma style depends on the line: see writeStyleAt). */
export function isMarkdown(path: string): boolean {
  return MARKDOWN.test(path);
}
