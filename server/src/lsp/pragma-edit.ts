/**
 * The "ignore" quick fixes: a `vmrt-ignore <id> -- reason` pragma on the line before a
 * finding (before the first line of a `\`-continued command, with that line's
 * indentation), or a `vmrt-ignore-file <id>` at the top of the file (after a shebang,
 * Dockerfile parser directives or Markdown front matter). An existing pragma on that
 * line gains the id instead of a second pragma.
 */
import { LineIndex } from '../engine/positions.js';
import type { FileKind, TextEdit } from '../engine/types.js';

type Style = '#' | '//' | '<!--';

/** The comment a pragma is written in, per file kind; OCI config.json is strict JSON and has none. */
const STYLE: Record<FileKind, Style | undefined> = {
  oci: undefined, devcontainer: '//', compose: '#', kubernetes: '#', dockerfile: '#', command: '#',
};

const EXISTING = /^(\s*(?:#|\/\/|<!--)\s*vmrt-ignore(-file)?\s+[A-Za-z0-9-]+(?:\s*,\s*[A-Za-z0-9-]+)*)/;
const FENCE = /^\s*(```|~~~)/;
const MARKDOWN = /\.(?:md|markdown)$/i;

export function canIgnoreInline(kind: FileKind | undefined): kind is FileKind {
  return kind !== undefined && STYLE[kind] !== undefined;
}

/** The pragma that suppresses `id` at `line`. */
export function ignoreLineEdit(path: string, text: string, kind: FileKind, id: string, line: number): TextEdit | undefined {
  const lines = new LineIndex(text);
  let first = line;
  while (first > 0 && lines.lineText(first - 1).endsWith('\\')) first--;
  const style = styleAt(path, lines, kind, first);
  if (!style) return undefined;
  const extended = extendExisting(lines, first - 1, false, id);
  if (extended) return extended;
  const indent = /^\s*/.exec(lines.lineText(first))![0];
  return insertLine(lines, text, first, `${indent}${pragma(style, `vmrt-ignore ${id} -- reason`)}`);
}

/** The file-level pragma that suppresses `id` everywhere in the file. */
export function ignoreFileEdit(path: string, text: string, kind: FileKind, id: string): TextEdit | undefined {
  const lines = new LineIndex(text);
  const line = headerEnd(path, lines, kind);
  const style = styleAt(path, lines, kind, line);
  if (!style) return undefined;
  for (let l = 0; l <= line && l < lines.lineCount; l++) {
    const extended = extendExisting(lines, l, true, id);
    if (extended) return extended;
  }
  return insertLine(lines, text, line, pragma(style, `vmrt-ignore-file ${id}`));
}

function pragma(style: Style, body: string): string {
  return style === '<!--' ? `<!-- ${body} -->` : `${style} ${body}`;
}

/** Markdown takes `<!-- -->` outside fenced code and the shell's `#` inside it. */
function styleAt(path: string, lines: LineIndex, kind: FileKind, line: number): Style | undefined {
  if (kind !== 'command' || !MARKDOWN.test(path)) return STYLE[kind];
  let fenced = false;
  for (let l = 0; l < line; l++) if (FENCE.test(lines.lineText(l))) fenced = !fenced;
  return fenced ? '#' : '<!--';
}

function extendExisting(lines: LineIndex, line: number, fileWide: boolean, id: string): TextEdit | undefined {
  if (line < 0) return undefined;
  const match = EXISTING.exec(lines.lineText(line));
  if (!match || (match[2] !== undefined) !== fileWide) return undefined;
  const at = { line, character: match[1]!.length };
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
  if (kind === 'command' && MARKDOWN.test(path) && lines.lineText(0) === '---') {
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
