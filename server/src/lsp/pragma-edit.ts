/**
 * The "ignore" quick fixes: a `vmrt-ignore <id> -- reason` pragma on the line before a
 * finding (before the first line of a `\`-continued command, with that line's
 * indentation), or a `vmrt-ignore-file <id>` at the top of the file (after a shebang,
 * Dockerfile parser directives or Markdown front matter). An existing pragma on that
 * line gains the id instead of a second pragma.
 */
import { COMMENT_STYLES, formatPragma, isMarkdown, parsePragma, writeStyleAt } from '../engine/pragmas.js';
import { LineIndex } from '../core/positions.js';
import type { FileKind, TextEdit } from '../core/types.js';

/** The pragma that suppresses `id` at `line`. */
export function ignoreLineEdit(path: string, text: string, kind: FileKind, id: string, line: number): TextEdit | undefined {
  const lines = new LineIndex(text);
  let first = line;
  while (first > 0 && lines.lineText(first - 1).endsWith('\\')) first--;
  const style = writeStyleAt(path, lines, kind, first);
  if (!style) return undefined;
  const extended = extendExisting(lines, kind, first - 1, false, id);
  if (extended) return extended;
  const indent = /^\s*/.exec(lines.lineText(first))![0];
  return insertLine(lines, text, first, `${indent}${formatPragma(style, `vmrt-ignore ${id} -- reason`)}`);
}

/** The file-level pragma that suppresses `id` everywhere in the file. */
export function ignoreFileEdit(path: string, text: string, kind: FileKind, id: string): TextEdit | undefined {
  const lines = new LineIndex(text);
  const line = headerEnd(path, lines, kind);
  const style = writeStyleAt(path, lines, kind, line);
  if (!style) return undefined;
  for (let l = 0; l <= line && l < lines.lineCount; l++) {
    const extended = extendExisting(lines, kind, l, true, id);
    if (extended) return extended;
  }
  return insertLine(lines, text, line, formatPragma(style, `vmrt-ignore-file ${id}`));
}

/** Adds `id` to the pragma the engine reads on `line`, if that line holds one of this scope. */
function extendExisting(lines: LineIndex, kind: FileKind, line: number, fileWide: boolean, id: string): TextEdit | undefined {
  if (line < 0) return undefined;
  const pragma = parsePragma(lines.lineText(line), COMMENT_STYLES[kind]);
  if (!pragma || pragma.fileWide !== fileWide) return undefined;
  const at = { line, character: pragma.idsEnd };
  return { range: { start: at, end: at }, newText: `,${id}` };
}

/** The first line a file-level pragma may take. */
function headerEnd(path: string, lines: LineIndex, kind: FileKind): number {
  let line = 0;
  if (lines.lineText(0).startsWith('#!')) line = 1;
  if (kind === 'dockerfile') {
    // Parser directives (# syntax=, # escape=, # check=) must stay before every comment.
    while (line < lines.lineCount && /^#\s*[A-Za-z]+\s*=/.test(lines.lineText(line))) line++;
  }
  if (kind === 'command' && isMarkdown(path) && lines.lineText(0) === '---') {
    for (let l = 1; l < lines.lineCount; l++) if (lines.lineText(l) === '---') return l + 1;
  }
  return line;
}

function insertLine(lines: LineIndex, text: string, line: number, content: string): TextEdit {
  const eol = text.includes('\r\n') ? '\r\n' : '\n';
  if (line >= lines.lineCount) {
    // After the last line: that line may lack a line break of its own.
    const end = lines.positionAt(text.length);
    const lead = end.character > 0 ? eol : '';
    return { range: { start: end, end }, newText: `${lead}${content}${eol}` };
  }
  const at = { line, character: 0 };
  return { range: { start: at, end: at }, newText: `${content}${eol}` };
}
