/** Output formats of vmrt-lint: tty, json, sarif, checkstyle. */
import { relative, sep, isAbsolute } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Log, ReportingDescriptor, Result } from 'sarif';
import type { Finding, Range, Severity } from '../core/types.js';
import { RULES } from '../rules/index.js';
import { docsUri, VERSION } from '../core/package-info.js';

export const FORMATS = ['tty', 'json', 'sarif', 'checkstyle'] as const;
export type Format = (typeof FORMATS)[number];

export interface FormatOptions {
  cwd: string;
  color: boolean;
  /** Files linted, for the tty summary. */
  fileCount: number;
}

/** The path as the user sees it: relative to the working folder when inside it. */
export function displayPath(file: string, cwd: string): string {
  if (!isAbsolute(file)) return file;
  const rel = relative(cwd, file);
  return rel === '' || rel.startsWith('..') || isAbsolute(rel) ? file : rel;
}

export function format(kind: Format, findings: readonly Finding[], options: FormatOptions): string {
  switch (kind) {
    case 'tty':
      return formatTty(findings, options);
    case 'json':
      return formatJson(findings, options);
    case 'sarif':
      return formatSarif(findings, options);
    case 'checkstyle':
      return formatCheckstyle(findings, options);
  }
}

const COLORS: Record<Severity, string> = { error: '\x1b[31m', warning: '\x1b[33m', info: '\x1b[36m', hint: '\x1b[2m' };

function formatTty(findings: readonly Finding[], options: FormatOptions): string {
  const paint = (severity: Severity, text: string) => (options.color ? `${COLORS[severity]}${text}\x1b[0m` : text);
  const lines = findings.map(
    (f) =>
      `${displayPath(f.file, options.cwd)}:${f.range.start.line + 1}:${f.range.start.character + 1} ${paint(f.severity, f.severity)} ${f.rule} ${f.feature} ${f.message}`,
  );
  const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
  const count = (severity: Severity) => findings.filter((f) => f.severity === severity).length;
  const files = plural(options.fileCount, 'file');
  lines.push(
    findings.length === 0
      ? `no findings in ${files}`
      : `${plural(findings.length, 'finding')} (${plural(count('error'), 'error')}, ${plural(count('warning'), 'warning')}, ${count('info')} info, ${plural(count('hint'), 'hint')}) in ${files}`,
  );
  return `${lines.join('\n')}\n`;
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
};

function formatSarif(findings: readonly Finding[], options: FormatOptions): string {
  const rules: ReportingDescriptor[] = RULES.map((r) => ({
    id: r.meta.id,
    name: r.meta.id,
    shortDescription: { text: r.meta.description },
    helpUri: docsUri(r.meta.docs),
    properties: { feature: r.meta.feature },
  }));
  for (const f of findings) {
    if (!rules.some((r) => r.id === f.rule)) {
      rules.push({
        id: f.rule,
        name: f.rule,
        shortDescription: { text: FILE_RULES[f.rule] ?? f.rule },
        helpUri: docsUri(f.docs ?? `docs/features/${f.feature}.md`),
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
        tool: { driver: { name: 'vmrt-lint', version: VERSION, informationUri: docsUri('docs/features'), rules } },
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
      // XML 1.0 cannot carry most control characters, even escaped.
      .replace(/[\x00-\x08\x0b\x0c\x0e-\x1f]/g, '')
  );
}

const CHECKSTYLE_SEVERITY: Record<Severity, string> = { error: 'error', warning: 'warning', info: 'info', hint: 'info' };

function formatCheckstyle(findings: readonly Finding[], options: FormatOptions): string {
  const byFile = new Map<string, Finding[]>();
  for (const f of findings) {
    const file = displayPath(f.file, options.cwd);
    byFile.set(file, [...(byFile.get(file) ?? []), f]);
  }
  const out = ['<?xml version="1.0" encoding="UTF-8"?>', '<checkstyle version="4.3">'];
  for (const [file, list] of byFile) {
    out.push(`  <file name="${xml(file)}">`);
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
