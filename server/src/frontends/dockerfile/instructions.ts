/**
 * The instructions of a Dockerfile, as far as the Dockerfile front end reads them:
 * each keyword and where it is, the build stage a FROM names, and the flags of a RUN.
 *
 * dockerfile-ast is the authority, but it splits every argument of every RUN, COPY and
 * ADD into words with line/column positions (to look for heredocs), which makes it about
 * half of a lint's time. Most Dockerfiles are plain: one instruction per line, `\`
 * continuations, no heredocs, no escape directive. `scanInstructions` reads those
 * directly with dockerfile-ast's own rules for words, and answers `undefined` (use
 * dockerfile-ast) on anything where those rules have corner cases.
 */
import { DockerfileParser, type Flag, type From, type Run } from 'dockerfile-ast';
import type { LineIndex } from '../../core/positions.js';

export interface RunFlag {
  name: string;
  value: string | null;
  start: number;
  end: number;
}

export interface DockerInstruction {
  /** The keyword upper-cased, as the builder reads it. */
  keyword: string;
  keywordStart: number;
  keywordEnd: number;
  /** FROM: the stage name after `AS`, null without one. */
  stage(): string | null;
  /** RUN: its BuildKit flags (the leading `--name[=value]` words). */
  flags(): RunFlag[];
}

/**
 * Text that the scanner leaves to dockerfile-ast: heredocs (`<<`), carriage returns, a
 * byte order mark, an escape directive, and lines ending in two backslashes (where
 * dockerfile-ast's instruction splitter and word splitter disagree).
 */
const NEEDS_FULL_PARSER = /<<|\r|\uFEFF|^[ \t]*#[ \t]*escape[ \t]*=|\\[ \t]*\\[ \t]*$/im;

/** A line's last non-blank character is a `\`: the instruction continues on the next line. */
const CONTINUATION = /\\[ \t]*$/;

const isBlank = (c: string | undefined): boolean => c === ' ' || c === '\t';

/** Thrown inside the scan when the text needs dockerfile-ast after all. */
class NeedsFullParser extends Error {}

/** The words of an instruction's arguments (dockerfile-ast's rule: runs of non-blank characters), in order. */
function* words(text: string, segments: readonly [number, number][]): Generator<[number, number]> {
  for (const [from, to] of segments) {
    let i = from;
    while (i < to) {
      while (i < to && isBlank(text[i])) i++;
      if (i >= to) break;
      const start = i;
      while (i < to && !isBlank(text[i])) i++;
      // An escape inside a word changes its value: leave that to dockerfile-ast.
      if (text.slice(start, i).includes('\\')) throw new NeedsFullParser();
      yield [start, i];
    }
  }
}

/** The leading words that start with `--` (flag search stops at the first word without `--`), and the words after them. */
function splitFlags(
  text: string,
  segments: readonly [number, number][],
  wanted: number,
): { flags: [number, number][]; rest: [number, number][] } {
  const flags: [number, number][] = [];
  const all: [number, number][] = [];
  let searching = true;
  for (const word of words(text, segments)) {
    const value = text.slice(word[0], word[1]);
    if (searching && !value.includes('--')) searching = false;
    if (searching && value.startsWith('--')) flags.push(word);
    all.push(word);
    if (!searching && all.length >= flags.length + wanted) break;
  }
  // dockerfile-ast drops as many leading words as it found flags.
  return { flags, rest: all.slice(flags.length) };
}

function runFlag(text: string, [start, end]: [number, number]): RunFlag {
  const word = text.slice(start, end);
  const equals = word.indexOf('=');
  return equals < 0
    ? { name: word.slice(2), value: null, start, end }
    : { name: word.slice(2, equals), value: word.slice(equals + 1), start, end };
}

function scanInstruction(text: string, keywordStart: number, keywordEnd: number, segments: [number, number][]): DockerInstruction {
  const keyword = text.slice(keywordStart, keywordEnd).toUpperCase();
  let stage: string | null = null;
  let flags: RunFlag[] = [];
  if (keyword === 'FROM') {
    const { rest } = splitFlags(text, segments, 3);
    if (rest.length > 2 && text.slice(...rest[1]!).toUpperCase() === 'AS') stage = text.slice(...rest[2]!);
  } else if (keyword === 'RUN') {
    flags = splitFlags(text, segments, 0).flags.map((word) => runFlag(text, word));
  }
  return { keyword, keywordStart, keywordEnd, stage: () => stage, flags: () => flags };
}

/** The instructions of a plain Dockerfile, or undefined when dockerfile-ast must read it. */
export function scanInstructions(text: string): DockerInstruction[] | undefined {
  if (NEEDS_FULL_PARSER.test(text)) return undefined;
  const lineEnd = (from: number) => {
    const nl = text.indexOf('\n', from);
    return nl < 0 ? text.length : nl;
  };
  const firstNonBlank = (from: number, to: number) => {
    while (from < to && isBlank(text[from])) from++;
    return from;
  };
  const instructions: DockerInstruction[] = [];
  try {
    for (let pos = 0; pos < text.length;) {
      let end = lineEnd(pos);
      const keywordStart = firstNonBlank(pos, end);
      if (keywordStart === end || text[keywordStart] === '#') {
        pos = end + 1;
        continue;
      }
      let keywordEnd = keywordStart;
      while (keywordEnd < end && !isBlank(text[keywordEnd])) keywordEnd++;
      if (text.slice(keywordStart, keywordEnd).includes('\\')) return undefined;
      const segments: [number, number][] = [];
      let from = keywordEnd;
      for (;;) {
        const line = text.slice(from, end);
        const continued = CONTINUATION.exec(line);
        if (!continued) {
          segments.push([from, end]);
          break;
        }
        // A `\` at the very end of the file: dockerfile-ast has a rule of its own for it.
        if (end >= text.length) return undefined;
        const backslash = from + continued.index;
        segments.push([from, backslash]);
        const next = end + 1;
        const nextEnd = lineEnd(next);
        const nextStart = firstNonBlank(next, nextEnd);
        // Blank and comment lines inside an instruction, and a word that runs on over the
        // line break, follow rules of their own: dockerfile-ast reads those.
        if (nextStart === nextEnd || text[nextStart] === '#') return undefined;
        if (nextStart === next && backslash > from && !isBlank(text[backslash - 1])) return undefined;
        from = next;
        end = nextEnd;
      }
      instructions.push(scanInstruction(text, keywordStart, keywordEnd, segments));
      pos = end + 1;
    }
  } catch (error) {
    if (error instanceof NeedsFullParser) return undefined;
    throw error;
  }
  return instructions;
}

/** The instructions as dockerfile-ast reads them (any Dockerfile). */
export function parseInstructions(text: string, index: LineIndex): DockerInstruction[] {
  return DockerfileParser.parse(text)
    .getInstructions()
    .map((instruction) => {
      const range = instruction.getInstructionRange();
      const keyword = instruction.getKeyword();
      return {
        keyword,
        keywordStart: index.offsetAt(range.start),
        keywordEnd: index.offsetAt(range.end),
        stage: () => (keyword === 'FROM' ? (instruction as From).getBuildStage() : null),
        flags: () =>
          (keyword === 'RUN' ? (instruction as Run).getFlags() : []).map((flag: Flag) => {
            const flagRange = flag.getRange();
            return {
              name: flag.getName(),
              value: flag.getValue(),
              start: index.offsetAt(flagRange.start),
              end: index.offsetAt(flagRange.end),
            };
          }),
      };
    });
}

/** The instructions of any Dockerfile: scanned when it is plain, else parsed by dockerfile-ast. */
export function dockerInstructions(text: string, index: LineIndex): DockerInstruction[] {
  return scanInstructions(text) ?? parseInstructions(text, index);
}
