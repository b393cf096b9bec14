/**
 * The launch gate: the language server lints what is about to run (vmrt/lintLaunch, against the
 * `vmrt` profile); an `error` finding is something the runtime refuses, so the launch stops there.
 */
import type { LaunchFinding, LaunchSource } from '../../../server/src/lsp/protocol.js';

/** Asks the language server for the findings of what is about to run. */
export type LaunchLint = (source: LaunchSource) => Promise<LaunchFinding[]>;

export interface GateVerdict {
  /** The first error: the launch must not go on. */
  blocking?: LaunchFinding;
  /** Everything else worth saying before the VM boots. */
  notes: LaunchFinding[];
}

export function gate(findings: readonly LaunchFinding[]): GateVerdict {
  return { blocking: findings.find((f) => f.severity === 'error'), notes: findings.filter((f) => f.severity === 'warning') };
}

/** Throws on an `error` finding of what is about to run (its reason and fix); returns the warnings. */
export async function assertLaunchable(lint: LaunchLint, source: LaunchSource): Promise<LaunchFinding[]> {
  const verdict = gate(await lint(source));
  if (verdict.blocking) throw new Error(`not launched: ${describeFinding(verdict.blocking)}`);
  return verdict.notes;
}

/** One line for a notification: the rule, the reason and the fix the engine offers. */
export function describeFinding(finding: LaunchFinding): string {
  const fix = finding.fix ? ` Fix: ${finding.fix}.` : '';
  return `${finding.rule}: ${finding.message}${fix}`;
}
