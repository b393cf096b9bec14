/**
 * Findings as LSP diagnostics: source "vmrt", code = rule id, a link to the feature's docs
 * page, the feature in `data`. Fixes are not sent with every diagnostic: code actions
 * compute them from the server's findings when the editor asks.
 */
import { DiagnosticSeverity, type Diagnostic } from 'vscode-languageserver/node';
import { docsUri } from '../core/package-info.js';
import type { Finding, Severity } from '../core/types.js';

export const SOURCE = 'vmrt';

export interface DiagnosticData {
  feature: Finding['feature'];
}

const SEVERITY: Record<Severity, DiagnosticSeverity> = {
  error: DiagnosticSeverity.Error,
  warning: DiagnosticSeverity.Warning,
  info: DiagnosticSeverity.Information,
  hint: DiagnosticSeverity.Hint,
};

export function docsHref(finding: Pick<Finding, 'docs' | 'feature'>): string {
  return docsUri(finding.docs ?? `docs/features/${finding.feature}.md`);
}

export function toDiagnostic(finding: Finding): Diagnostic {
  const data: DiagnosticData = { feature: finding.feature };
  return {
    range: finding.range,
    severity: SEVERITY[finding.severity],
    source: SOURCE,
    code: finding.rule,
    codeDescription: { href: docsHref(finding) },
    message: finding.message,
    data,
  };
}
