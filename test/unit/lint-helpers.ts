/** Shared builders for the lint engine, rule and CLI tests: requests, options and a small line-based front end. */
import type {
  ContainerRequest,
  FileKind,
  FrontEnd,
  FrontEndResult,
  OptionAssignment,
  OptionEditor,
  OptionName,
  OptionValues,
  Range,
  RequestedOption,
  SourceFile,
  TextEdit,
} from '../../server/src/core/types.js';
import { LineIndex } from '../../server/src/core/positions.js';

export function range(line: number, start: number, end: number, endLine = line): Range {
  return { start: { line, character: start }, end: { line: endLine, character: end } };
}

/** An editor that writes `--name=value` flags, as a command-line front end would. */
export function flagEditor(at: Range): OptionEditor {
  return {
    replace: (options: OptionAssignment[]) => [{ range: at, newText: options.map((o) => `--${o.option}=${String(o.value)}`).join(' ') }],
    remove: () => [{ range: at, newText: '' }],
  };
}

export function option<N extends OptionName>(
  name: N,
  value: OptionValues[N],
  at: Range = range(0, 0, 1),
  file = '/work/x.sh',
  edit?: OptionEditor,
): RequestedOption<N> {
  return { option: name, value, range: at, file, ...(edit ? { edit } : {}) };
}

export function request(...options: RequestedOption[]): ContainerRequest {
  return { kind: 'command', file: '/work/x.sh', options };
}

/**
 * A front end for tests: each `--flag[=value]` token of a line becomes an option
 * with the token's exact range; `PARSE-ERROR` and `THROW` lines make problems and
 * exceptions. Real front ends are tested by their own authors.
 */
export function lineFrontEnd(
  kind: FileKind = 'command',
  detect: (path: string, text: string) => boolean = (p) => p.endsWith('.sh'),
): FrontEnd {
  return {
    kind,
    detect,
    parse(file: SourceFile): FrontEndResult {
      const lines = new LineIndex(file.text);
      const result: FrontEndResult = { requests: [], problems: [] };
      const options: RequestedOption[] = [];
      const flag = /--([a-z-]+)(?:=(\S+))?/g;
      for (let line = 0; line < lines.lineCount; line++) {
        const text = lines.lineText(line);
        if (text.trimStart().startsWith('#') || text.trimStart().startsWith('//') || text.trimStart().startsWith('<!--')) continue;
        if (text.includes('THROW')) throw new TypeError('boom in the front end');
        const start = lines.offsetAt({ line, character: 0 });
        const errorAt = text.indexOf('PARSE-ERROR');
        if (errorAt >= 0)
          result.problems.push({
            rule: 'parse-error',
            file: file.path,
            range: lines.range(start + errorAt, start + errorAt + 11),
            message: 'unexpected PARSE-ERROR',
            severity: 'error',
          });
        for (const match of text.matchAll(flag)) {
          const at = lines.range(start + match.index, start + match.index + match[0].length);
          const value = match[2];
          const edit = flagEditor(at);
          switch (match[1]) {
            case 'net':
              options.push({ option: 'network', value: value ?? '', range: at, file: file.path, edit });
              break;
            case 'privileged':
              options.push({ option: 'privileged', value: true, range: at, file: file.path, edit });
              break;
            case 'cpus':
              options.push({ option: 'cpus', value: Number(value), range: at, file: file.path, edit });
              break;
            case 'link':
              options.push({ option: 'link', value: value ?? '', range: at, file: file.path, edit });
              break;
            case 'kernel-memory':
              options.push({ option: 'kernel-memory', value: value ?? '', range: at, file: file.path, edit });
              break;
            case 'tmpfs':
              options.push({ option: 'tmpfs', value: { target: value ?? '' }, range: at, file: file.path, edit });
              break;
          }
        }
      }
      result.requests.push({ kind, file: file.path, options });
      return result;
    },
  };
}

export function applyEdits(text: string, edits: readonly TextEdit[]): string {
  const lines = new LineIndex(text);
  return [...edits]
    .sort((a, b) => lines.offsetAt(b.range.start) - lines.offsetAt(a.range.start))
    .reduce((out, e) => out.slice(0, lines.offsetAt(e.range.start)) + e.newText + out.slice(lines.offsetAt(e.range.end)), text);
}
