/**
 * A profile says, per feature id, what one runtime does with it and therefore which
 * findings the linter reports and at which severity.
 */
import type { FeatureId, SupportStatus } from '../../../runtime/src/capabilities.js';
import type { ContainerRequest, RequestedOption, Severity } from '../core/types.js';

/**
 * The runtime's status words, and `unknown`: the runtime's own documents say nothing about
 * the feature, so a profile written from them cannot claim it works or fails.
 */
export type ProfileStatus = SupportStatus | 'unknown';

export interface ProfileEntry {
  status: ProfileStatus;
  /** Why this runtime treats the feature differently (quoted in messages). */
  reason: string;
  workaround?: string;
  /** Where the runtime's documents say so: a document path and its section. */
  source?: string;
  /**
   * Narrower verdicts for some of the feature's options (a /proc file the runtime allows, a
   * weight given to docker update), the first that matches wins; the entry covers the rest.
   */
  cases?: readonly ProfileCase[];
}

export interface ProfileCase extends Omit<ProfileEntry, 'cases'> {
  /** The options it covers, in words ("a bind onto /sys"), for docs. */
  covers: string;
  /** The options this case covers (a profile looks at values, never at syntax). */
  when(option: RequestedOption, request: ContainerRequest): boolean;
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

/** An `unknown` verdict is the lowest severity: it never fails a run at the default threshold. */
export const STATUS_SEVERITY: Record<ProfileStatus, Severity | undefined> = {
  unsupported: 'error',
  pending: 'warning',
  differs: 'info',
  unknown: 'hint',
  ok: undefined,
};

/** The verdict of a profile on one feature: the severity of its findings and the text that explains it. */
export interface Verdict {
  severity: Severity;
  status: ProfileStatus;
  reason: string;
  workaround?: string;
}

/** The profile's verdict on a feature, or on one option of it when the option and its request are given. */
export function verdictFor(
  profile: Profile,
  feature: FeatureId,
  option?: RequestedOption,
  request?: ContainerRequest,
): Verdict | undefined {
  const chosen = entryFor(profile, feature, option, request);
  if (!chosen || chosen.status === 'ok') {
    const hint = OK_HINTS[feature];
    if (!hint || !profile.hints) return undefined;
    return { severity: 'hint', status: 'ok', reason: chosen ? `${chosen.reason}; ${hint}` : hint, workaround: chosen?.workaround };
  }
  // A deprecation holds whatever the runtime's documents say.
  const hint = chosen.status === 'unknown' && profile.hints ? OK_HINTS[feature] : undefined;
  const reason = hint ? `${chosen.reason}; ${hint}` : chosen.reason;
  return { severity: STATUS_SEVERITY[chosen.status]!, status: chosen.status, reason, workaround: chosen.workaround };
}

/** The profile's entry on a feature, or the case of it that covers one option when the option and its request are given. */
export function entryFor(
  profile: Profile,
  feature: FeatureId,
  option?: RequestedOption,
  request?: ContainerRequest,
): Omit<ProfileEntry, 'cases'> | undefined {
  const entry = profile.features[feature];
  return option && request ? (entry?.cases?.find((c) => c.when(option, request)) ?? entry) : entry;
}

/** True when some option of the feature can be reported: the entry itself or one of its cases. */
export function mayReport(profile: Profile, feature: FeatureId): boolean {
  const entry = profile.features[feature];
  if (verdictFor(profile, feature)) return true;
  return entry?.cases?.some((c) => c.status !== 'ok') ?? false;
}
