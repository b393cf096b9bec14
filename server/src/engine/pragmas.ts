/**
 * Inline suppression: `# vmrt-ignore <id>[,<id>] [-- reason]` on the line before a
 * finding (or before the first line of a `\`-continued command), `// vmrt-ignore` in
 * JSONC, `<!-- vmrt-ignore … -->` in Markdown, and `vmrt-ignore-file <ids>` anywhere.
 * An id is a rule id or a feature id.
 */
import { LineIndex } from './positions.js';
import type { Finding } from './types.js';

export type CommentStyle = '#' | '//' | '<!--';

export interface Pragma {
  line: number;
  fileWide: boolean;
  ids: string[];
  reason?: string;
}

const PRAGMA = /^\s*(#|\/\/|<!--)\s*vmrt-ignore(-file)?\s+([A-Za-z0-9-]+(?:\s*,\s*[A-Za-z0-9-]+)*)(?:\s+--(?!>)\s*(.*?))?\s*(?:-->)?\s*$/;
const COMMENT = /^\s*(#|\/\/|<!--)/;

export class Suppressions {
  private readonly byLine = new Map<number, Pragma>();
  private readonly fileWide = new Set<string>();
  private readonly lines: LineIndex | undefined;

  constructor(text: string, private readonly styles: readonly CommentStyle[]) {
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
  get pragmas(): Pragma[] { return [...this.byLine.values()]; }

  suppresses(finding: Pick<Finding, 'rule' | 'feature' | 'range'>): boolean {
    const named = (ids: Iterable<string>) => { for (const id of ids) if (id === finding.rule || id === finding.feature) return true; return false; };
    if (named(this.fileWide)) return true;
    if (!this.lines) return false;
    // Walk up over comment lines and over the earlier lines of a `\`-continued command.
    for (let line = finding.range.start.line - 1; line >= 0; line--) {
      const pragma = this.byLine.get(line);
      if (pragma && named(pragma.ids)) return true;
      const text = this.lines.lineText(line);
      if (!this.isComment(text) && !text.endsWith('\\')) return false;
    }
    return false;
  }

  private isComment(text: string): boolean {
    const match = COMMENT.exec(text);
    return match !== null && this.styles.includes(match[1] as CommentStyle);
  }

  private parse(lines: LineIndex, line: number): Pragma | undefined {
    const text = lines.lineText(line);
    if (!text.includes('vmrt-ignore')) return undefined;
    const match = PRAGMA.exec(text);
    if (!match || !this.styles.includes(match[1] as CommentStyle)) return undefined;
    return { line, fileWide: match[2] !== undefined, ids: match[3]!.split(',').map((id) => id.trim()), reason: match[4] || undefined };
  }
}
