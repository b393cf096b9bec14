/**
 * The client's `vmrt.*` settings under a folder's `.vmrt-lint.yaml`: the file wins for
 * its folder, key by key (a file that sets a feature's severity also beats the
 * settings' entries for that feature's rules, and the other way round).
 */
import { isMap, isScalar, parseDocument } from 'yaml';
import { DEFAULT_RUNTIME_CLASSES, type LintConfig, type SeverityOverride } from '../engine/config.js';
import { DEFAULT_PROFILE, isProfileName, type ProfileName } from '../profiles/index.js';
import { RULES } from '../rules/index.js';
import type { ClientSettings } from './protocol.js';

export interface EditorSettings {
  enable: boolean;
  profile: ProfileName;
  severity: Record<string, SeverityOverride>;
  runtimeClasses: string[];
}

const OVERRIDES = new Set<string>(['error', 'warning', 'info', 'hint', 'off']);

export const DEFAULT_SETTINGS: EditorSettings = { enable: true, profile: DEFAULT_PROFILE, severity: {}, runtimeClasses: [...DEFAULT_RUNTIME_CLASSES] };

/** Reads the client's `vmrt` section, keeping only well-formed values. */
export function editorSettings(raw: ClientSettings | null | undefined): EditorSettings {
  const profile = raw?.lint?.profile;
  const severity: Record<string, SeverityOverride> = {};
  for (const [id, level] of Object.entries(raw?.lint?.severity ?? {})) if (OVERRIDES.has(level)) severity[id] = level as SeverityOverride;
  const classes = raw?.kubernetes?.runtimeClasses;
  return {
    enable: raw?.lint?.enable !== false,
    profile: profile && isProfileName(profile) ? profile : DEFAULT_PROFILE,
    severity,
    runtimeClasses: Array.isArray(classes) && classes.every((c) => typeof c === 'string') ? [...classes] : [...DEFAULT_RUNTIME_CLASSES],
  };
}

const FEATURE_OF_RULE = new Map(RULES.map((rule) => [rule.meta.id, rule.meta.feature as string]));

/** The ids a severity entry speaks for: itself, plus its feature (for a rule) or its rules (for a feature). */
function relatedIds(id: string): string[] {
  const feature = FEATURE_OF_RULE.get(id);
  if (feature) return [id, feature];
  return [id, ...RULES.filter((rule) => rule.meta.feature === id).map((rule) => rule.meta.id)];
}

/**
 * The config the engine applies: the file's values where it sets them, the settings
 * elsewhere. `fileText` tells which keys the file really wrote (LintConfig fills defaults).
 */
export function layerConfig(file: LintConfig, fileText: string | undefined, settings: EditorSettings): LintConfig {
  const written = fileText === undefined ? new Set<string>() : writtenKeys(fileText);
  const severity: Record<string, SeverityOverride> = {};
  const fileIds = new Set(Object.keys(file.severity).flatMap(relatedIds));
  for (const [id, level] of Object.entries(settings.severity)) if (!fileIds.has(id)) severity[id] = level;
  Object.assign(severity, file.severity);
  return {
    ...file,
    profile: file.profile ?? settings.profile,
    severity,
    runtimeClasses: written.has('runtime-classes') ? file.runtimeClasses : settings.runtimeClasses,
  };
}

function writtenKeys(text: string): Set<string> {
  const doc = parseDocument(text);
  if (!isMap(doc.contents)) return new Set();
  return new Set(doc.contents.items.flatMap((pair) => (isScalar(pair.key) ? [String(pair.key.value)] : [])));
}
