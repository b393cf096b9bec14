/** Output formats of vmrt-lint: tty, compact, json, sarif, checkstyle. */
import { relative, sep, isAbsolute } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Log, ReportingDescriptor, Result } from 'sarif';
import type { Finding, Range, Severity } from '../core/types.js';
import { RULES } from '../rules/index.js';
import { PUBLISHED_DOCS_BASE, VERSION } from '../core/package-info.js';

export const FORMATS = ['tty', 'compact', 'json', 'sarif', 'checkstyle'] as const;
export type Format = (typeof FORMATS)[number];

export interface FormatOptions {
  cwd: string;
  color: boolean;
  /** Files linted, for the summaries. */
  fileCount: number;
  /** The terminal's width, for wrapping tty messages. */
  width?: number;
  /** A linted file's text, for the tty format's source lines (undefined: the line is not shown). */
  source?: (file: string) => string | undefined;
  /** Where the docs pages are published (SARIF helpUri); undefined: the repository's, from package.json. */
  docsBase?: string;
}

/** The path as the user sees it: relative to the working folder when inside it. */
export function displayPath(file: string, cwd: string): string {
  if (!isAbsolute(file)) return file;
  const rel = relative(cwd, file);
  return rel === '' || rel.startsWith('..') || isAbsolute(rel) ? file : rel;
}

/** The formats printed file by file as the files are linted (for people and problem matchers); the others are one document. */
export const STREAMED_FORMATS: readonly Format[] = ['tty', 'compact'];

/** The findings in one format, with the summary line of the formats that have one. */
export function format(kind: Format, findings: readonly Finding[], options: FormatOptions): string {
  switch (kind) {
    case 'tty':
    case 'compact':
      return formatPart(kind, findings, options) + formatSummary(tally(findings), options.fileCount);
    case 'json':
      return formatJson(findings, options);
    case 'sarif':
      return formatSarif(findings, options);
    case 'checkstyle':
      return formatCheckstyle(findings, options);
  }
}

/** Some of the findings (a file's, as it is linted) in tty or compact format, without the summary. */
export function formatPart(kind: 'tty' | 'compact', findings: readonly Finding[], options: Omit<FormatOptions, 'fileCount'>): string {
  return kind === 'tty' ? formatTty(findings, options) : formatCompact(findings, options);
}

/** Findings counted by severity. */
export type Tally = Record<Severity, number>;

export function tally(findings: readonly Finding[], counts: Tally = { error: 0, warning: 0, info: 0, hint: 0 }): Tally {
  for (const f of findings) counts[f.severity]++;
  return counts;
}

/** The last line of tty and compact output: findings by severity, files linted. */
export function formatSummary(counts: Tally, fileCount: number): string {
  const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
  const total = counts.error + counts.warning + counts.info + counts.hint;
  const files = plural(fileCount, 'file');
  return `${
    total === 0
      ? `no findings in ${files}`
      : `${plural(total, 'finding')} (${plural(counts.error, 'error')}, ${plural(counts.warning, 'warning')}, ${counts.info} info, ${plural(counts.hint, 'hint')}) in ${files}`
  }\n`;
}

const COLORS: Record<Severity, string> = { error: '\x1b[31m', warning: '\x1b[33m', info: '\x1b[36m', hint: '\x1b[2m' };
const DIM = '\x1b[2m';
const BOLD = '\x1b[1m';
const RESET = '\x1b[0m';

/** One line per finding, `file:line:col severity rule feature message`: for editors' problem matchers (`$vmrt-lint`) and grep. */
function formatCompact(findings: readonly Finding[], options: Omit<FormatOptions, 'fileCount'>): string {
  return findings
    .map(
      (f) =>
        `${displayPath(f.file, options.cwd)}:${f.range.start.line + 1}:${f.range.start.character + 1} ${f.severity} ${f.rule} ${f.feature} ${f.message}\n`,
    )
    .join('');
}

/** Words of `text` in lines of at most `width` characters (a longer word stands alone). */
function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  return line ? [...lines, line] : lines;
}

/**
 * For people: findings grouped by file, each with its message wrapped, the source line and
 * the flagged range underlined, as compilers and ESLint's default formatter show them.
 */
function formatTty(findings: readonly Finding[], options: Omit<FormatOptions, 'fileCount'>): string {
  const paint = (code: string, text: string) => (options.color ? `${code}${text}${RESET}` : text);
  const width = Math.max(40, options.width ?? 100);
  const out: string[] = [];
  const byFile = groupByFile(findings);
  for (const [file, list] of byFile) {
    out.push(paint(BOLD, displayPath(file, options.cwd)));
    const lines = options.source?.(file)?.split('\n');
    for (const f of list) {
      const place = `${f.range.start.line + 1}:${f.range.start.character + 1}`;
      const head = `  ${place.padEnd(8)} ${f.severity.padEnd(7)} `;
      const message = wrap(`${f.message} (${f.rule})`, width - head.length);
      out.push(`  ${paint(DIM, place.padEnd(8))} ${paint(COLORS[f.severity], f.severity.padEnd(7))} ${message[0] ?? ''}`);
      for (const more of message.slice(1)) out.push(`${' '.repeat(head.length)}${more}`);
      const text = lines?.[f.range.start.line]?.replace(/\r$/, '');
      if (text === undefined || text.length > 500 || f.feature === 'file') continue;
      const number = String(f.range.start.line + 1);
      const gutter = ' '.repeat(number.length);
      const end = f.range.end.line === f.range.start.line ? f.range.end.character : text.length;
      // Tabs keep their width in the underline's indentation.
      const lead = text.slice(0, f.range.start.character).replace(/[^\t]/g, ' ');
      out.push(`    ${paint(DIM, `${number} |`)} ${text}`);
      out.push(
        `    ${paint(DIM, `${gutter} |`)} ${lead}${paint(COLORS[f.severity], '^'.repeat(Math.max(1, end - f.range.start.character)))}`,
      );
    }
    out.push('');
  }
  return out.map((line) => `${line}\n`).join('');
}

function groupByFile(findings: readonly Finding[]): Map<string, Finding[]> {
  const byFile = new Map<string, Finding[]>();
  for (const f of findings) {
    const list = byFile.get(f.file);
    if (list) list.push(f);
    else byFile.set(f.file, [f]);
  }
  return byFile;
}

function formatJson(findings: readonly Finding[], options: FormatOptions): string {
  return `${JSON.stringify(
    {
      findings: findings.map((f) => ({
        file: displayPath(f.file, options.cwd),
        feature: f.feature,
        rule: f.rule,
        severity: f.severity,
        message: f.message,
        range: f.range,
        ...(f.fix ? { fix: f.fix } : {}),
      })),
    },
    null,
    2,
  )}\n`;
}

/** SARIF regions are 1-based; LSP positions 0-based (both count UTF-16 code units here: run.columnKind says so). */
function region(range: Range) {
  return {
    startLine: range.start.line + 1,
    startColumn: range.start.character + 1,
    endLine: range.end.line + 1,
    endColumn: range.end.character + 1,
  };
}

const SARIF_LEVEL: Record<Severity, Result.level> = { error: 'error', warning: 'warning', info: 'note', hint: 'none' };
const FILE_RULES: Record<string, string> = {
  'parse-error': 'The file could not be parsed.',
  schema: 'The file does not follow the structure its format defines.',
  'invalid-config': 'The .vmrt-lint.yaml config file is invalid.',
  'file-too-large': 'The file is larger than 10 MB and was not linted.',
  'binary-file': 'The file is binary and was not linted.',
  unreadable: 'The file could not be read.',
  'internal-error': 'vmrt-lint failed on this file.',
  'too-many-findings': 'More findings of a rule in a file than are shown; the rest are counted.',
};

/**
 * SARIF's links go where code scanning's readers can follow them: the published docs
 * (`--docs-url`, else the repository of package.json), never a file on the machine that ran
 * the linter. Without either, no link.
 */
function helpUri(docs: string, options: FormatOptions): { helpUri?: string } {
  const base = options.docsBase ?? PUBLISHED_DOCS_BASE;
  return base ? { helpUri: `${base.replace(/\/$/, '')}/${docs}` } : {};
}

/**
 * A rule's help: its link when the docs are published, and always a text that names its
 * docs page by its path in the package (the same on every machine, and inside every
 * installed copy), so a reader without a link still finds the page.
 */
function ruleHelp(description: string, docs: string, options: FormatOptions): Pick<ReportingDescriptor, 'helpUri' | 'help'> {
  const link = helpUri(docs, options);
  return {
    ...link,
    help: {
      text: `${description} Documented in ${docs} of the vmrt package, version ${VERSION}${link.helpUri ? `: ${link.helpUri}` : ''}.`,
    },
  };
}

function informationUri(options: FormatOptions): { informationUri?: string } {
  const uri = helpUri('docs/features/README.md', options).helpUri;
  return uri ? { informationUri: uri } : {};
}

function formatSarif(findings: readonly Finding[], options: FormatOptions): string {
  const rules: ReportingDescriptor[] = RULES.map((r) => ({
    id: r.meta.id,
    name: r.meta.id,
    shortDescription: { text: r.meta.description },
    ...ruleHelp(r.meta.description, r.meta.docs, options),
    properties: { feature: r.meta.feature },
  }));
  for (const f of findings) {
    if (!rules.some((r) => r.id === f.rule)) {
      rules.push({
        id: f.rule,
        name: f.rule,
        shortDescription: { text: FILE_RULES[f.rule] ?? f.rule },
        ...ruleHelp(FILE_RULES[f.rule] ?? f.rule, f.docs ?? `docs/features/${f.feature}.md`, options),
        properties: { feature: f.feature },
      });
    }
  }
  const location = (file: string) => {
    const shown = displayPath(file, options.cwd);
    return isAbsolute(shown)
      ? { uri: pathToFileURL(shown).href }
      : { uri: shown.split(sep).map(encodeURIComponent).join('/'), uriBaseId: '%SRCROOT%' };
  };
  const results = findings.map((f): Result => ({
    ruleId: f.rule,
    ruleIndex: rules.findIndex((r) => r.id === f.rule),
    level: SARIF_LEVEL[f.severity],
    message: { text: f.message },
    locations: [{ physicalLocation: { artifactLocation: location(f.file), region: region(f.range) } }],
    properties: { feature: f.feature, severity: f.severity },
    ...(f.fix
      ? {
          fixes: [
            {
              description: { text: f.fix.title },
              artifactChanges: [
                {
                  artifactLocation: location(f.file),
                  replacements: f.fix.edits.map((e) => ({ deletedRegion: region(e.range), insertedContent: { text: e.newText } })),
                },
              ],
            },
          ],
        }
      : {}),
  }));
  const sarif: Log = {
    version: '2.1.0',
    $schema: 'https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json',
    runs: [
      {
        tool: { driver: { name: 'vmrt-lint', version: VERSION, ...informationUri(options), rules } },
        originalUriBaseIds: { '%SRCROOT%': { uri: `${pathToFileURL(options.cwd).href}/` } },
        columnKind: 'utf16CodeUnits',
        results,
      },
    ],
  };
  return `${JSON.stringify(sarif, null, 2)}\n`;
}

function xml(text: string): string {
  return (
    text
      .replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]!)
      // XML 1.0 cannot carry most control characters, lone surrogates, U+FFFE or U+FFFF, even escaped.
      .replace(/[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '')
  );
}

const CHECKSTYLE_SEVERITY: Record<Severity, string> = { error: 'error', warning: 'warning', info: 'info', hint: 'info' };

function formatCheckstyle(findings: readonly Finding[], options: FormatOptions): string {
  const out = ['<?xml version="1.0" encoding="UTF-8"?>', '<checkstyle version="4.3">'];
  for (const [file, list] of groupByFile(findings)) {
    out.push(`  <file name="${xml(displayPath(file, options.cwd))}">`);
    for (const f of list) {
      out.push(
        `    <error line="${f.range.start.line + 1}" column="${f.range.start.character + 1}" severity="${CHECKSTYLE_SEVERITY[f.severity]}" message="${xml(f.message)}" source="vmrt-lint.${xml(f.rule)}"/>`,
      );
    }
    out.push('  </file>');
  }
  out.push('</checkstyle>');
  return `${out.join('\n')}\n`;
}
