/**
 * A profile says, per feature id, what one runtime does with it and therefore which
 * findings the linter reports and at which severity.
 */
import type { FeatureId, SupportStatus } from '../../../runtime/src/capabilities.js';
import type { Severity } from '../core/types.js';

export interface ProfileEntry {
  status: SupportStatus;
  /** Why this runtime treats the feature differently (quoted in messages). */
  reason: string;
  workaround?: string;
}

export interface Profile {
  id: string;
  description: string;
  /** Features the profile does not list are `ok` there. */
  features: Partial<Record<FeatureId, ProfileEntry>>;
  /** False for a profile that must report nothing at all (runc), not even OK_HINTS. */
  hints: boolean;
}

/**
 * Features that work under a runtime but still deserve a hint: Docker and the kernel
 * deprecated kernel memory limits (cgroup v2 has none; runc ignores them since 1.1).
 */
export const OK_HINTS: Partial<Record<FeatureId, string>> = {
  'kernel-memory':
    'Docker deprecated --kernel-memory (20.10) and cgroup v2 has no kernel memory limit, so the setting has no effect on current hosts',
};

export const STATUS_SEVERITY: Record<SupportStatus, Severity | undefined> = {
  unsupported: 'error',
  pending: 'warning',
  differs: 'info',
  ok: undefined,
};

/** The verdict of a profile on one feature: the severity of its findings and the text that explains it. */
export interface Verdict {
  severity: Severity;
  status: SupportStatus;
  reason: string;
  workaround?: string;
}

export function verdictFor(profile: Profile, feature: FeatureId): Verdict | undefined {
  const entry = profile.features[feature];
  if (!entry || entry.status === 'ok') {
    const hint = OK_HINTS[feature];
    if (!hint || !profile.hints) return undefined;
    return { severity: 'hint', status: 'ok', reason: entry ? `${entry.reason}; ${hint}` : hint, workaround: entry?.workaround };
  }
  return { severity: STATUS_SEVERITY[entry.status]!, status: entry.status, reason: entry.reason, workaround: entry.workaround };
}
