/**
 * Lints what is about to run, with the engine itself (bundled into the client), against the
 * `vmrt` profile whatever the editor's lint profile: the container is about to run on vmrt.
 * An `error` finding is something the runtime refuses, so the launch stops there.
 */
import { Linter } from '../../../server/src/engine/lint.js';
import type { Finding } from '../../../server/src/core/types.js';

export type LaunchSource = { kind: 'command'; line: string; folder: string } | { kind: 'file'; path: string };

export function launchFindings(source: LaunchSource): Finding[] {
  if (source.kind === 'file') return new Linter({ profile: 'vmrt' }).lintFile(source.path).findings;
  // As a script in the workspace folder: its .vmrt-lint.yaml (ignores, severities) applies.
  return new Linter({ profile: 'vmrt', kind: 'command' }).lintText(`${source.folder}/.vmrt-launch.sh`, source.line).findings;
}

export interface GateVerdict {
  /** The first error: the launch must not go on. */
  blocking?: Finding;
  /** Everything else worth saying before the VM boots. */
  notes: Finding[];
}

export function gate(findings: readonly Finding[]): GateVerdict {
  return { blocking: findings.find((f) => f.severity === 'error'), notes: findings.filter((f) => f.severity === 'warning') };
}

/** Throws on an `error` finding of what is about to run (its reason and fix); returns the warnings. */
export function assertLaunchable(source: LaunchSource): Finding[] {
  const verdict = gate(launchFindings(source));
  if (verdict.blocking) throw new Error(`not launched: ${describeFinding(verdict.blocking)}`);
  return verdict.notes;
}

/** One line for a notification: the rule, the reason and the fix the engine offers. */
export function describeFinding(finding: Finding): string {
  const fix = finding.fix ? ` Fix: ${finding.fix.title}.` : '';
  return `${finding.rule}: ${finding.message}${fix}`;
}
