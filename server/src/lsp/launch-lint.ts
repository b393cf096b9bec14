/**
 * The launch gate's lint (the vmrt/lintLaunch request): what the editor is about to run, against
 * the `vmrt` profile whatever the editor's lint profile, since the container is about to run on
 * vmrt. The engine runs here, in the language server, never in the extension host.
 */
import { Linter } from '../engine/lint.js';
import type { LaunchFinding, LaunchSource } from './protocol.js';

export function launchFindings(source: LaunchSource): LaunchFinding[] {
  const findings =
    source.kind === 'file'
      ? new Linter({ profile: 'vmrt' }).lintFile(source.path).findings
      : // As a script in the workspace folder: its .vmrt-lint.yaml (ignores, severities) applies.
        new Linter({ profile: 'vmrt', kind: 'command' }).lintText(`${source.folder}/.vmrt-launch.sh`, source.line).findings;
  return findings.map(({ rule, severity, message, fix }) => ({ rule, severity, message, ...(fix ? { fix: fix.title } : {}) }));
}
