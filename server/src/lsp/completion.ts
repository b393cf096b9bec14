/** Completion of feature and rule ids inside vmrt-ignore pragmas, and of keys and values in .vmrt-lint.yaml. */
import { CompletionItemKind, type CompletionItem } from 'vscode-languageserver/node';
import { FEATURE_IDS } from '../../../runtime/src/capabilities.js';
import { CONFIG_KEYS, SEVERITY_OVERRIDES, THRESHOLDS } from '../engine/config.js';
import { LineIndex } from '../core/positions.js';
import type { Position } from '../core/types.js';
import { getProfile, PROFILE_NAMES, type ProfileName } from '../profiles/index.js';
import { RULES } from '../rules/index.js';

const PRAGMA_IDS = /(?:#|\/\/|<!--)\s*vmrt-ignore(?:-file)?\s+(?:[A-Za-z0-9-]+\s*,\s*)*([A-Za-z0-9-]*)$/;
const PRAGMA_WORD = /(?:#|\/\/|<!--)\s*(vmrt-[a-z-]*)$/;
type Edit = { line: number; start: number; end: number };

/** Completions in an ordinary document: only inside a vmrt-ignore pragma. */
export function pragmaCompletions(text: string, position: Position, profile: ProfileName): CompletionItem[] {
  const prefix = new LineIndex(text).lineText(position.line).slice(0, position.character);
  const ids = PRAGMA_IDS.exec(prefix);
  if (ids) return idItems(replacing(position, ids[1]!), profile, '');
  const word = PRAGMA_WORD.exec(prefix);
  if (word) {
    const at = replacing(position, word[1]!);
    return [
      {
        label: 'vmrt-ignore',
        kind: CompletionItemKind.Keyword,
        detail: 'ignore the ids on the next line',
        textEdit: textEdit(at, 'vmrt-ignore '),
      },
      {
        label: 'vmrt-ignore-file',
        kind: CompletionItemKind.Keyword,
        detail: 'ignore the ids in this whole file',
        textEdit: textEdit(at, 'vmrt-ignore-file '),
      },
    ];
  }
  return [];
}

/** Completions in a .vmrt-lint.yaml buffer, from the line's shape and its parent key. */
export function configCompletions(text: string, position: Position, profile: ProfileName): CompletionItem[] {
  const lines = new LineIndex(text);
  const prefix = lines.lineText(position.line).slice(0, position.character);
  let m: RegExpExecArray | null;
  if ((m = /^([A-Za-z-]*)$/.exec(prefix))) {
    return Object.entries(CONFIG_KEYS).map(([key, doc]) => ({
      label: key,
      kind: CompletionItemKind.Property,
      documentation: doc,
      textEdit: textEdit(replacing(position, m![1]!), `${key}: `),
    }));
  }
  if ((m = /^profile:\s*([A-Za-z-]*)$/.exec(prefix))) {
    return PROFILE_NAMES.map((name) => ({
      label: name,
      kind: CompletionItemKind.EnumMember,
      documentation: getProfile(name).description,
      textEdit: textEdit(replacing(position, m![1]!), name),
    }));
  }
  if ((m = /^failure-threshold:\s*([a-z]*)$/.exec(prefix))) return values(THRESHOLDS, position, m[1]!);
  if ((m = /^disable-ignore-pragma:\s*([a-z]*)$/.exec(prefix))) return values(['true', 'false'], position, m[1]!);
  if ((m = /^ignored:\s*\[(?:[^\]]*,)?\s*([A-Za-z0-9-]*)$/.exec(prefix))) return idItems(replacing(position, m[1]!), profile, '');
  const parent = parentKey(lines, position.line, /^\s*/.exec(prefix)![0].length);
  if (parent === 'ignored' && (m = /^\s+-\s*([A-Za-z0-9-]*)$/.exec(prefix))) return idItems(replacing(position, m[1]!), profile, '');
  if (parent === 'severity' && (m = /^\s+([A-Za-z0-9-]*)$/.exec(prefix))) return idItems(replacing(position, m[1]!), profile, ': ');
  if (parent === 'severity' && (m = /^\s+[A-Za-z0-9-]+:\s*([a-z]*)$/.exec(prefix))) return values(SEVERITY_OVERRIDES, position, m[1]!);
  return [];
}

/** The nearest key above `line` that is less indented and opens a block (`key:` alone). */
function parentKey(lines: LineIndex, line: number, indent: number): string | undefined {
  if (indent === 0) return undefined;
  for (let l = line - 1; l >= 0; l--) {
    const text = lines.lineText(l);
    if (text.trim() === '' || text.trimStart().startsWith('#')) continue;
    const own = /^\s*/.exec(text)![0].length;
    if (own >= indent) continue;
    return /^\s*([A-Za-z0-9-]+):\s*$/.exec(text)?.[1];
  }
  return undefined;
}

function idItems(at: Edit, profile: ProfileName, suffix: string): CompletionItem[] {
  const active = getProfile(profile);
  const features = FEATURE_IDS.map((id) => ({
    label: id,
    kind: CompletionItemKind.EnumMember,
    detail: `feature: ${active.features[id]?.status ?? 'ok'} under ${profile}`,
    documentation: active.features[id]?.reason,
    sortText: `0${id}`,
    textEdit: textEdit(at, `${id}${suffix}`),
  }));
  const rules = RULES.map((rule) => ({
    label: rule.meta.id,
    kind: CompletionItemKind.Reference,
    detail: `rule of ${rule.meta.feature}`,
    documentation: rule.meta.description,
    sortText: `1${rule.meta.id}`,
    textEdit: textEdit(at, `${rule.meta.id}${suffix}`),
  }));
  return [...features, ...rules];
}

function values(list: readonly string[], position: Position, typed: string): CompletionItem[] {
  return list.map((value) => ({ label: value, kind: CompletionItemKind.Value, textEdit: textEdit(replacing(position, typed), value) }));
}

function replacing(position: Position, typed: string): Edit {
  return { line: position.line, start: position.character - typed.length, end: position.character };
}

function textEdit(at: Edit, newText: string) {
  return { range: { start: { line: at.line, character: at.start }, end: { line: at.line, character: at.end } }, newText };
}
