/**
 * The client's `vmrt.*` settings, which lie under a folder's `.vmrt-lint.yaml` (the
 * engine layers them: see ConfigBase).
 */
import { DEFAULT_RUNTIME_CLASSES, SEVERITY_OVERRIDES, type ConfigBase, type SeverityOverride } from '../engine/config.js';
import { DEFAULT_PROFILE, isProfileName, type ProfileName } from '../profiles/index.js';
import type { ClientSettings } from './protocol.js';

export interface EditorSettings {
  enable: boolean;
  profile: ProfileName;
  severity: Record<string, SeverityOverride>;
  runtimeClasses: string[];
}

export const DEFAULT_SETTINGS: EditorSettings = {
  enable: true,
  profile: DEFAULT_PROFILE,
  severity: {},
  runtimeClasses: [...DEFAULT_RUNTIME_CLASSES],
};

/** Reads the client's `vmrt` section, keeping only well-formed values. */
export function editorSettings(raw: ClientSettings | null | undefined): EditorSettings {
  const profile = raw?.lint?.profile;
  const severity: Record<string, SeverityOverride> = {};
  for (const [id, level] of Object.entries(raw?.lint?.severity ?? {}))
    if ((SEVERITY_OVERRIDES as readonly string[]).includes(level)) severity[id] = level as SeverityOverride;
  const classes = raw?.kubernetes?.runtimeClasses;
  return {
    enable: raw?.lint?.enable !== false,
    profile: profile && isProfileName(profile) ? profile : DEFAULT_PROFILE,
    severity,
    runtimeClasses: Array.isArray(classes) && classes.every((c) => typeof c === 'string') ? [...classes] : [...DEFAULT_RUNTIME_CLASSES],
  };
}

/** The settings as the engine's base under each `.vmrt-lint.yaml` (the file wins for its folder). */
export function configBase(settings: EditorSettings): ConfigBase {
  return { profile: settings.profile, severity: settings.severity, runtimeClasses: settings.runtimeClasses };
}
