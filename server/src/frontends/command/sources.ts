/**
 * Where shell text sits in files that are not shell scripts: Makefile recipes,
 * Markdown fenced blocks, GitHub Actions workflows. Each yields MappedText whose
 * offsets point back into the file.
 */
import MarkdownIt from 'markdown-it';
import { parseDocument, isMap, isScalar, isSeq, Scalar, type Node } from 'yaml';
import { MappedText, MappedTextBuilder } from './shell-words.js';

interface SourceLine {
  start: number;
  end: number;
  text: string;
}

function sourceLines(text: string, from = 0, to = text.length): SourceLine[] {
  const lines: SourceLine[] = [];
  let start = from;
  while (start <= to) {
    let end = text.indexOf('\n', start);
    if (end < 0 || end > to) end = to;
    const content = text.slice(start, end).replace(/\r$/, '');
    lines.push({ start, end: start + content.length, text: content });
    if (end >= to) break;
    start = end + 1;
  }
  return lines;
}

/** Appends a newline that stands for the end of `line` (keeps commands of different lines apart). */
function newline(builder: MappedTextBuilder, line: SourceLine): void {
  builder.char('\n', line.end, line.end + 1);
}

const ENDS_CONTINUED = /(?:^|[^\\])(?:\\\\)*\\$/;

// ---- Makefile ---------------------------------------------------------------

const RULE = /^[^\s#=:][^=:]*?::?(?![=])/;
const CONDITIONAL = /^\s*(?:ifeq|ifneq|ifdef|ifndef|else|endif)\b/;

/** Appends recipe text, where make turns `$$` into the shell's `$`. */
function appendRecipe(builder: MappedTextBuilder, line: SourceLine, from: number): void {
  const text = line.text;
  for (let i = from; i < text.length; i++) {
    if (text[i] === '$' && text[i + 1] === '$') {
      builder.char('$', line.start + i, line.start + i + 2);
      i++;
    } else builder.char(text[i]!, line.start + i, line.start + i + 1);
  }
}

/** The shell of a Makefile's recipes (tab-indented lines of a rule, and `target: ; recipe`). */
export function makefileShell(text: string): MappedText {
  const builder = new MappedTextBuilder(text);
  let inRule = false;
  let continued: 'recipe' | 'other' | undefined;
  let inDefine = false;
  for (const line of sourceLines(text)) {
    const wasContinued = continued;
    continued = undefined;
    if (inDefine) {
      if (/^\s*endef\b/.test(line.text)) inDefine = false;
    } else if (wasContinued === 'recipe') {
      // make drops one leading tab of a continued recipe line.
      appendRecipe(builder, line, line.text.startsWith('\t') ? 1 : 0);
      continued = ENDS_CONTINUED.test(line.text) ? 'recipe' : undefined;
    } else if (wasContinued === 'other') {
      continued = ENDS_CONTINUED.test(line.text) ? 'other' : undefined;
    } else if (line.text.startsWith('\t') && inRule) {
      const prefix = /^\t[\s@+-]*/.exec(line.text)![0].length;
      appendRecipe(builder, line, prefix);
      continued = ENDS_CONTINUED.test(line.text) ? 'recipe' : undefined;
    } else if (/^\s*(?:#.*)?$/.test(line.text) || CONDITIONAL.test(line.text)) {
      // Blank lines, comments and conditionals keep the rule going.
    } else if (/^\s*define\b/.test(line.text)) {
      inDefine = true;
      inRule = false;
    } else {
      const rule = RULE.exec(line.text);
      inRule = rule !== null;
      const semicolon = rule ? line.text.indexOf(';', rule[0].length) : -1;
      if (semicolon >= 0) {
        appendRecipe(builder, line, semicolon + 1 + /^[\s@+-]*/.exec(line.text.slice(semicolon + 1))![0].length);
        continued = ENDS_CONTINUED.test(line.text) ? 'recipe' : undefined;
      } else {
        continued = ENDS_CONTINUED.test(line.text) ? 'other' : undefined;
      }
    }
    newline(builder, line);
  }
  return builder.build();
}

// ---- Markdown ---------------------------------------------------------------

const SHELL_LANGUAGES = new Set(['sh', 'bash', 'shell', 'zsh', 'ksh']);
const SESSION_LANGUAGES = new Set(['console', 'shell-session', 'shellsession', 'sh-session', 'terminal']);
/** A prompt that starts a command in a transcript; `# ` is not one (a comment in a script). */
const PROMPT = /^\s*\$ /;
/** A continuation line of a prompted command may carry a `> ` prompt of its own. */
const CONTINUATION_PROMPT = /^\s*> /;
/** A line that runs a container CLI: what makes an untagged block a command line. */
const CONTAINER_COMMAND = /^\s*(?:\$\s+)?(?:sudo\s+(?:-\S+\s+)*)?(?:docker|podman|nerdctl)\s/m;

const markdownParser = new MarkdownIt('commonmark');

/**
 * The shell of a Markdown file's fenced blocks, one MappedText per block (an unclosed
 * quote in one block cannot swallow the next): blocks tagged as a shell, transcripts
 * (`console`), and untagged blocks that run a container CLI; in blockquotes and lists
 * too. Where a block has `$ ` prompts, only the prompted commands are read (the other
 * lines are their output).
 */
export function markdownShell(text: string): MappedText[] {
  const lines = sourceLines(text);
  const blocks: MappedText[] = [];
  for (const token of markdownParser.parse(text, {})) {
    if (token.type !== 'fence' || !token.map) continue;
    const language = token.info
      .trim()
      .split(/\s+/)[0]!
      .replace(/^\{?\.?/, '')
      .replace(/\}$/, '')
      .toLowerCase();
    const known = SHELL_LANGUAGES.has(language) || SESSION_LANGUAGES.has(language);
    if (!known && !(language === '' && CONTAINER_COMMAND.test(token.content))) continue;
    const content = token.content.split('\n');
    content.pop();
    const prompted = content.some((line) => PROMPT.test(line));
    const builder = new MappedTextBuilder(text);
    let continued = false;
    content.forEach((value, k) => {
      const line = lines[token.map![0] + 1 + k];
      // The block's line without the container's prefix (`> `, a list's indentation); a line
      // markdown-it rewrote (tabs) is skipped.
      if (!line || !line.text.endsWith(value)) return;
      const start = line.end - value.length;
      const from = !prompted
        ? 0
        : (PROMPT.exec(value)?.[0].length ?? (continued ? (CONTINUATION_PROMPT.exec(value)?.[0].length ?? 0) : -1));
      if (from >= 0) builder.copy(start + from, line.end);
      continued = from >= 0 && ENDS_CONTINUED.test(value);
      newline(builder, line);
    });
    blocks.push(builder.build());
  }
  return blocks;
}

// ---- GitHub Actions -----------------------------------------------------------

export interface WorkflowShell {
  /** `job` for a job container, `job/service` for a service, `job/steps[i]` for a step. */
  name: string;
  text: MappedText;
}

export interface WorkflowSources {
  /** `container.options` and `services.*.options`: docker create flags. */
  options: WorkflowShell[];
  /** `run:` steps: shell scripts. */
  scripts: WorkflowShell[];
  errors: { start: number; end: number; message: string }[];
}

/** The value of a scalar with the source offset of each character (exact for block and plain scalars). */
export function scalarText(source: string, node: Scalar): MappedText {
  const [start, valueEnd] = node.range!;
  const builder = new MappedTextBuilder(source);
  const value = String(node.value ?? '');
  if (node.type === Scalar.BLOCK_LITERAL || node.type === Scalar.BLOCK_FOLDED) {
    const lines = sourceLines(source, start, valueEnd);
    const header = lines.shift()!;
    const explicit = /[1-9]/.exec(header.text.slice(0, header.text.indexOf('#') >= 0 ? header.text.indexOf('#') : undefined));
    const firstContent = lines.find((l) => l.text.trim() !== '');
    const indent = explicit
      ? Number(explicit[0]) + /^ */.exec(header.text)![0].length
      : firstContent
        ? /^ */.exec(firstContent.text)![0].length
        : 0;
    lines.forEach((line, k) => {
      builder.copy(line.start + Math.min(indent, line.text.length), line.end);
      const next = lines[k + 1];
      if (!next) return;
      // Folded scalars join lines of the same indentation with a space.
      const folds = node.type === Scalar.BLOCK_FOLDED && line.text.trim() !== '' && next.text.trim() !== '' && next.text[indent] !== ' ';
      builder.char(folds ? ' ' : '\n', line.end, line.end + 1);
    });
    return builder.build();
  }
  const quoted = node.type === Scalar.QUOTE_DOUBLE || node.type === Scalar.QUOTE_SINGLE;
  const inner = source.slice(start + (quoted ? 1 : 0), valueEnd - (quoted ? 1 : 0));
  if (inner === value) return builder.copy(start + (quoted ? 1 : 0), valueEnd - (quoted ? 1 : 0)).build();
  if (!quoted) {
    // A plain scalar over several lines: each line trimmed, joined by a space.
    const lines = sourceLines(source, start, valueEnd);
    lines.forEach((line, k) => {
      const lead = /^\s*/.exec(line.text)![0].length;
      builder.copy(line.start + lead, line.start + line.text.trimEnd().length);
      if (k < lines.length - 1) builder.char(' ', line.end, line.end + 1);
    });
    if (builder.build().text === value) return builder.build();
  }
  // Escapes: every character stands for the whole scalar.
  const whole = new MappedTextBuilder(source);
  for (const ch of value) whole.char(ch, start, valueEnd);
  return whole.build(true);
}

function mapEntries(node: Node | null | undefined): [string, Node | null][] {
  if (!isMap(node)) return [];
  return node.items.flatMap((pair) =>
    isScalar(pair.key) ? [[String(pair.key.value), pair.value as Node | null] as [string, Node | null]] : [],
  );
}

function entry(node: Node | null | undefined, key: string): Node | null | undefined {
  return mapEntries(node).find(([k]) => k === key)?.[1];
}

/** The docker flags and shell scripts of a GitHub Actions workflow. */
export function workflowSources(text: string): WorkflowSources {
  const doc = parseDocument(text, { prettyErrors: false });
  const sources: WorkflowSources = {
    options: [],
    scripts: [],
    errors: doc.errors.map((e) => ({ start: e.pos[0], end: Math.max(e.pos[0], e.pos[1]), message: e.message.split('\n')[0]! })),
  };
  for (const [jobName, jobNode] of mapEntries(entry(doc.contents as Node | null, 'jobs'))) {
    const containerOptions = entry(entry(jobNode, 'container'), 'options');
    if (isScalar(containerOptions)) sources.options.push({ name: jobName, text: scalarText(text, containerOptions) });
    for (const [service, serviceNode] of mapEntries(entry(jobNode, 'services'))) {
      const options = entry(serviceNode, 'options');
      if (isScalar(options)) sources.options.push({ name: `${jobName}/${service}`, text: scalarText(text, options) });
    }
    const steps = entry(jobNode, 'steps');
    if (!isSeq(steps)) continue;
    steps.items.forEach((step, k) => {
      const run = entry(step as Node, 'run');
      if (isScalar(run)) sources.scripts.push({ name: `${jobName}/steps[${k}]`, text: scalarText(text, run) });
    });
  }
  return sources;
}
