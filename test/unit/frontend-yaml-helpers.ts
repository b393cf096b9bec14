/** Helpers shared by the compose and Kubernetes front-end tests. */
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { LineIndex } from '../../server/src/core/positions.js';
import type { FrontEnd, FrontEndContext, FrontEndResult, Range, RequestedOption, TextEdit } from '../../server/src/core/types.js';

/** test/fixtures, from out/test/unit. */
export const FIXTURES = fileURLToPath(new URL('../../../test/fixtures/', import.meta.url));

export function fixture(path: string): string {
  return `${FIXTURES}${path}`;
}

export function context(
  env: Record<string, string | undefined> = {},
  runtimeClasses = ['vmrt', 'kata', 'kata-*', 'clear-containers'],
): FrontEndContext {
  return {
    readFile(path) {
      try {
        return readFileSync(path, 'utf8');
      } catch {
        return undefined;
      }
    },
    env,
    runtimeClasses,
  };
}

export function parseFixture(frontEnd: FrontEnd, path: string, env: Record<string, string | undefined> = {}): FrontEndResult {
  const file = fixture(path);
  return frontEnd.parse({ path: file, text: readFileSync(file, 'utf8') }, context(env));
}

export function rangeText(range: Range): string {
  return `${range.start.line}:${range.start.character}-${range.end.line}:${range.end.character}`;
}

/** An option as [name, value, range] plus the fixture-relative file when it is not `mainFile`. */
export function summary(options: readonly RequestedOption[], mainFile?: string): unknown[][] {
  return options.map((o) => {
    const row: unknown[] = [o.option, o.value, rangeText(o.range)];
    if (mainFile === undefined || o.file !== mainFile) row.push(relative(FIXTURES, o.file));
    return row;
  });
}

/** Applies non-overlapping edits, as an editor does. */
export function applyEdits(text: string, edits: readonly TextEdit[]): string {
  const lines = new LineIndex(text);
  const spans = edits
    .map((e) => ({ start: lines.offsetAt(e.range.start), end: lines.offsetAt(e.range.end), text: e.newText }))
    .sort((a, b) => b.start - a.start || b.end - a.end);
  let out = text;
  for (const span of spans) out = out.slice(0, span.start) + span.text + out.slice(span.end);
  return out;
}

/** Parses YAML that must be valid (every document), returning its documents as plain data. */
export function validYaml(text: string): unknown[] {
  const docs = parseAllDocuments(text);
  if (!Array.isArray(docs)) return [];
  for (const doc of docs) {
    if (doc.errors.length > 0) throw new Error(`invalid YAML after edit: ${doc.errors[0]!.message}\n${text}`);
  }
  return docs.map((doc) => doc.toJS());
}
