/**
 * Hovers: on a flagged option, the diagnostic's sentence, why a VM differs, what the
 * active profile does and the workaround; on any option a rule recognises (even when fine under this profile), the
 * feature's status in every profile side by side.
 */
import type { Hover, MarkupContent } from 'vscode-languageserver/node';
import { FEATURE_IDS, type FeatureId } from '../../../runtime/src/capabilities.js';
import type { RecognisedOption } from '../engine/lint.js';
import type { Finding, Position, Range } from '../core/types.js';
import { getProfile, PROFILE_NAMES, verdictFor, type ProfileName } from '../profiles/index.js';
import { docsHref } from './diagnostics.js';

export function isFeatureId(id: string): id is FeatureId {
  return (FEATURE_IDS as readonly string[]).includes(id);
}

export function contains(range: Range, position: Position): boolean {
  const after = position.line > range.start.line || (position.line === range.start.line && position.character >= range.start.character);
  const before = position.line < range.end.line || (position.line === range.end.line && position.character <= range.end.character);
  return after && before;
}

/** The hover at `position`: flagged findings first, else a recognised option. */
export function hoverAt(
  position: Position,
  findings: readonly Finding[],
  recognised: () => RecognisedOption[],
  active: ProfileName,
): Hover | undefined {
  const flagged = findings.filter((f) => isFeatureId(f.feature) && contains(f.range, position));
  if (flagged.length > 0) {
    return { range: flagged[0]!.range, contents: markdown(flagged.map((f) => flaggedText(f, active)).join('\n\n---\n\n')) };
  }
  const hit = recognised().find((h) => isFeatureId(h.feature) && contains(h.range, position));
  if (!hit) return undefined;
  const feature = hit.feature as FeatureId;
  const entry = statusIn(active, feature);
  return {
    range: hit.range,
    contents: markdown(
      [
        `**vmrt: \`${feature}\`**: ${entry.status} under \`${active}\``,
        entry.reason ? `${entry.reason}.` : '',
        profileTable(feature, active),
        docsLink(feature),
      ]
        .filter(Boolean)
        .join('\n\n'),
    ),
  };
}

/** The finding's one-sentence message, then why and what to do instead (the message leaves those to the hover). */
function flaggedText(finding: Finding, active: ProfileName): string {
  const feature = finding.feature as FeatureId;
  const entry = statusIn(active, feature);
  const verdict = verdictFor(getProfile(active), feature);
  const reason = verdict?.reason.replace(/\.$/, '') || entry.reason;
  const workaround = verdict?.workaround?.replace(/\.$/, '');
  return [
    `**vmrt: \`${feature}\`** (rule \`${finding.rule}\`): ${entry.status} under \`${active}\`, reported as ${finding.severity}`,
    finding.message,
    reason ? `**Why a VM differs:** ${reason}.` : '',
    workaround ? `**Workaround:** ${workaround}.` : '',
    finding.fix ? `**Quick fix:** ${finding.fix.title}.` : '',
    profileTable(feature, active),
    docsLink(feature),
  ]
    .filter(Boolean)
    .join('\n\n');
}

function statusIn(profile: ProfileName, feature: FeatureId): { status: string; reason: string; workaround?: string } {
  const entry = getProfile(profile).features[feature];
  return entry
    ? { status: entry.status, reason: entry.reason.replace(/\.$/, ''), workaround: entry.workaround?.replace(/\.$/, '') }
    : { status: 'ok', reason: '' };
}

function profileTable(feature: FeatureId, active: ProfileName): string {
  const rows = PROFILE_NAMES.map((name) => `| ${name === active ? `**${name}** (active)` : name} | ${statusIn(name, feature).status} |`);
  return ['| profile | status |', '|---|---|', ...rows].join('\n');
}

function docsLink(feature: FeatureId): string {
  return `[Docs: ${feature}](${docsHref({ feature })})`;
}

function markdown(value: string): MarkupContent {
  return { kind: 'markdown', value };
}
