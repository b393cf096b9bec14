/**
 * Hovers: on a flagged option, the diagnostic's sentence, why a VM differs, what the
 * active profile does and the workaround; on any option a rule recognises (even when fine under this profile), its
 * status under the active profile (the case that covers that option, with its source) and in every profile side by side.
 */
import type { Hover, MarkupContent } from 'vscode-languageserver/node';
import { FEATURE_IDS, type FeatureId } from '../../../runtime/src/capabilities.js';
import type { RecognisedOption } from '../engine/lint.js';
import type { Finding, Position, Range } from '../core/types.js';
import { entryFor, getProfile, PROFILE_NAMES, verdictFor, type ProfileName } from '../profiles/index.js';
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
    // The option a finding flags, for the verdict on it (a profile may judge one option apart from its feature).
    const optionOf = (f: Finding) => recognised().find((h) => h.rule === f.rule && h.file === f.file && sameRange(h.range, f.range));
    return {
      range: flagged[0]!.range,
      contents: markdown(flagged.map((f) => flaggedText(f, active, optionOf(f))).join('\n\n---\n\n')),
    };
  }
  const hit = recognised().find((h) => isFeatureId(h.feature) && contains(h.range, position));
  if (!hit) return undefined;
  const feature = hit.feature as FeatureId;
  const entry = statusIn(active, feature, hit);
  return {
    range: hit.range,
    contents: markdown(
      [
        `**vmrt: \`${feature}\`**: ${entry.status} under \`${active}\``,
        entry.reason ? `${entry.reason}.` : '',
        entry.source ? `Source: ${entry.source}.` : '',
        profileTable(feature, active, hit),
        docsLink(feature),
      ]
        .filter(Boolean)
        .join('\n\n'),
    ),
  };
}

function sameRange(a: Range, b: Range): boolean {
  return (
    a.start.line === b.start.line &&
    a.start.character === b.start.character &&
    a.end.line === b.end.line &&
    a.end.character === b.end.character
  );
}

/** The finding's one-sentence message, then why and what to do instead (the message leaves those to the hover). */
function flaggedText(finding: Finding, active: ProfileName, option: RecognisedOption | undefined): string {
  const feature = finding.feature as FeatureId;
  const entry = statusIn(active, feature, option);
  const verdict = verdictFor(getProfile(active), feature, option?.option, option?.request);
  const reason = verdict?.reason.replace(/\.$/, '') || entry.reason;
  const workaround = verdict?.workaround?.replace(/\.$/, '');
  return [
    `**vmrt: \`${feature}\`** (rule \`${finding.rule}\`): ${entry.status} under \`${active}\`, reported as ${finding.severity}`,
    finding.message,
    reason ? `**Why a VM differs:** ${reason}.` : '',
    workaround ? `**Workaround:** ${workaround}.` : '',
    finding.fix ? `**Quick fix:** ${finding.fix.title}.` : '',
    profileTable(feature, active, option),
    docsLink(feature),
  ]
    .filter(Boolean)
    .join('\n\n');
}

/** A profile's status on a feature, or on the option when one is given (the case of the feature that covers it). */
function statusIn(
  profile: ProfileName,
  feature: FeatureId,
  option?: RecognisedOption,
): { status: string; reason: string; workaround?: string; source?: string } {
  const entry = entryFor(getProfile(profile), feature, option?.option, option?.request);
  return entry
    ? {
        status: entry.status,
        reason: entry.reason.replace(/\.$/, ''),
        workaround: entry.workaround?.replace(/\.$/, ''),
        source: entry.source,
      }
    : { status: 'ok', reason: '' };
}

/** The status of the feature (of the option, when one is given) in every profile. */
function profileTable(feature: FeatureId, active: ProfileName, option?: RecognisedOption): string {
  const rows = PROFILE_NAMES.map(
    (name) => `| ${name === active ? `**${name}** (active)` : name} | ${statusIn(name, feature, option).status} |`,
  );
  return ['| profile | status |', '|---|---|', ...rows].join('\n');
}

function docsLink(feature: FeatureId): string {
  return `[Docs: ${feature}](${docsHref({ feature })})`;
}

function markdown(value: string): MarkupContent {
  return { kind: 'markdown', value };
}
