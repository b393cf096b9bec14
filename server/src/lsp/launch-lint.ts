/**
 * The launch gate's lint (the vmrt/lintLaunch request): what the editor is about to run, against
 * the `vmrt` profile whatever the editor's lint profile, since the container is about to run on
 * vmrt. The engine runs here, in the language server, never in the extension host.
 */
import { Linter } from '../engine/lint.js';
import { verdictExplanation } from '../engine/message.js';
import { getProfile, verdictFor } from '../profiles/index.js';
import { isFeatureId } from './hover.js';
import type { LaunchFinding, LaunchSource } from './protocol.js';

export function launchFindings(source: LaunchSource): LaunchFinding[] {
  const findings =
    source.kind === 'file'
      ? new Linter({ profile: 'vmrt' }).lintFile(source.path).findings
      : // As a script in the workspace folder: its .vmrt-lint.yaml (ignores, severities) applies.
        new Linter({ profile: 'vmrt', kind: 'command' }).lintText(`${source.folder}/.vmrt-launch.sh`, source.line).findings;
  const profile = getProfile('vmrt');
  // A launch stopped in a dialog has no hover: the message carries the reason and the workaround.
  return findings.map(({ feature, rule, severity, message, fix }) => {
    const verdict = isFeatureId(feature) ? verdictFor(profile, feature) : undefined;
    return {
      rule,
      severity,
      message: verdict ? `${message} ${verdictExplanation(verdict)}` : message,
      ...(fix ? { fix: fix.title } : {}),
    };
  });
}
