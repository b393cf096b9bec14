/**
 * Code actions for vmrt findings: the rule's fix, "ignore here", "ignore in this file",
 * "open the docs page", and one fix-all for the file (also offered as source.fixAll.vmrt).
 */
import { CodeActionKind, type CodeAction, type Diagnostic } from 'vscode-languageserver/node';
import type { FileKind, Finding, Range, TextEdit } from '../core/types.js';
import { docsHref, toDiagnostic } from './diagnostics.js';
import { isFeatureId } from './hover.js';
import { ignoreFileEdit, ignoreLineEdit } from './pragma-edit.js';

export const SHOW_DOCS_COMMAND = 'vmrt.showDocs';
export const FIX_ALL_KIND = `${CodeActionKind.SourceFixAll}.vmrt`;

export interface ActionContext {
  uri: string;
  path: string;
  text: string;
  kind?: FileKind;
  /** The document's findings for its current version. */
  findings: readonly Finding[];
  range: Range;
  only?: string[];
}

export function codeActions(context: ActionContext): CodeAction[] {
  const actions: CodeAction[] = [];
  for (const finding of context.findings.filter((f) => overlaps(f.range, context.range))) actions.push(...findingActions(context, finding));
  const fixAll = fixAllAction(context);
  if (fixAll) actions.push(fixAll);
  const only = context.only;
  return only ? actions.filter((a) => only.some((kind) => a.kind === kind || a.kind?.startsWith(`${kind}.`))) : actions;
}

function findingActions(context: ActionContext, finding: Finding): CodeAction[] {
  const diagnostics: Diagnostic[] = [toDiagnostic(finding)];
  const edit = (edits: TextEdit[]) => ({ changes: { [context.uri]: edits } });
  const actions: CodeAction[] = [];
  if (finding.fix)
    actions.push({
      title: finding.fix.title,
      kind: CodeActionKind.QuickFix,
      diagnostics,
      isPreferred: finding.fix.safe !== false,
      edit: edit(finding.fix.edits),
    });
  if (isFeatureId(finding.feature) && context.kind) {
    const here = ignoreLineEdit(context.path, context.text, context.kind, finding.feature, finding.range.start.line);
    if (here)
      actions.push({
        title: `Ignore ${finding.feature} here (vmrt-ignore)`,
        kind: CodeActionKind.QuickFix,
        diagnostics,
        edit: edit([here]),
      });
    const file = ignoreFileEdit(context.path, context.text, context.kind, finding.feature);
    if (file)
      actions.push({
        title: `Ignore ${finding.feature} in this file (vmrt-ignore-file)`,
        kind: CodeActionKind.QuickFix,
        diagnostics,
        edit: edit([file]),
      });
  }
  const href = docsHref(finding);
  actions.push({
    title: `Open the docs page of ${finding.feature}`,
    kind: CodeActionKind.QuickFix,
    diagnostics,
    command: { title: 'Open docs', command: SHOW_DOCS_COMMAND, arguments: [href] },
  });
  return actions;
}

/** Every fix of the file at once; a fix whose edits overlap an earlier one waits for the next run. */
function fixAllAction(context: ActionContext): CodeAction | undefined {
  const fixable = context.findings.filter((f) => f.fix);
  if (fixable.length === 0) return undefined;
  const taken: Range[] = [];
  const edits: TextEdit[] = [];
  for (const finding of fixable) {
    const fixEdits = finding.fix!.edits;
    if (fixEdits.some((e) => taken.some((t) => overlaps(t, e.range, true)))) continue;
    taken.push(...fixEdits.map((e) => e.range));
    edits.push(...fixEdits);
  }
  return {
    title: 'Fix all vmrt problems in this file',
    kind: FIX_ALL_KIND,
    diagnostics: fixable.map(toDiagnostic),
    edit: { changes: { [context.uri]: edits } },
  };
}

/** Ranges that share a position; `strict` treats touching ranges as disjoint (two edits may meet). */
function overlaps(a: Range, b: Range, strict = false): boolean {
  const before = (p: Range['start'], q: Range['start']) => p.line < q.line || (p.line === q.line && p.character < q.character);
  if (strict) return before(a.start, b.end) && before(b.start, a.end);
  return !before(a.end, b.start) && !before(b.end, a.start);
}
