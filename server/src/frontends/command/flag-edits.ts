/**
 * Text edits on command-line flags written in a file (shell scripts, Markdown, Makefile
 * recipes, Actions `options`, Dockerfile RUN flags): remove a flag and its value without
 * breaking `\` continuations, or write other flags in its place.
 */
import type { LineIndex } from '../../core/positions.js';
import type { OptionEditor, TextEdit } from '../../core/types.js';
import { formatRunFlags, type FlagOccurrence } from './docker-cli.js';
import { shellQuote } from './shell-words.js';

const BLANK = /[ \t]/;

/**
 * The span to delete for the word(s) at [start, end): the whole line when they are alone
 * on a continued line, else with one adjacent blank so that words stay separated.
 */
export function removalSpan(text: string, start: number, end: number): { start: number; end: number } {
  const lineStart = text.lastIndexOf('\n', start - 1) + 1;
  const rest = /^[ \t]*\\\r?\n/.exec(text.slice(end, end + 400));
  if (rest && /^[ \t]*$/.test(text.slice(lineStart, start))) return { start: lineStart, end: end + rest[0].length };
  if (BLANK.test(text[end] ?? '')) return { start, end: end + 1 };
  if (start > 0 && BLANK.test(text[start - 1]!)) return { start: start - 1, end };
  return { start, end };
}

export function removalEdit(index: LineIndex, start: number, end: number): TextEdit {
  const span = removalSpan(index.text, start, end);
  return { range: index.range(span.start, span.end), newText: '' };
}

/**
 * The editor of a docker run/create flag in shell syntax; undefined for a letter of a
 * bundle whose offset is unknown.
 */
export function shellFlagEditor(
  index: LineIndex,
  words: readonly { start: number; end: number }[],
  at: FlagOccurrence,
): OptionEditor | undefined {
  if (at.inBundle && !at.bundled) return undefined;
  return {
    remove(): TextEdit[] {
      if (!at.bundled) return [removalEdit(index, at.start, at.end)];
      const edits: TextEdit[] = [{ range: index.range(at.bundled.start, at.bundled.end), newText: '' }];
      const valueWord = at.lastWord > at.firstWord ? words[at.lastWord] : undefined;
      if (valueWord) edits.push(removalEdit(index, valueWord.start, valueWord.end));
      return edits;
    },
    replace(options): TextEdit[] | undefined {
      if (at.inBundle) return undefined;
      const flags = formatRunFlags(options);
      if (!flags) return undefined;
      return [{ range: index.range(at.start, at.end), newText: flags.map(shellQuote).join(' ') }];
    },
  };
}
