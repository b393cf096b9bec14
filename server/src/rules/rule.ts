/**
 * What a rule is: one feature's check over the normalized container request
 * (never over syntax). The engine decides whether the active profile reports that
 * feature, at which severity, and words the message from the profile's reason.
 */
import type { FeatureId } from '../../../runtime/src/capabilities.js';
import type { ContainerRequest, Fix, OptionAssignment, OptionName, OptionValues, RequestedOption } from '../engine/types.js';

type DockerCommand = OptionValues['command'];

export interface RuleMeta {
  id: string;
  feature: FeatureId;
  /** One sentence: what the rule looks for. */
  description: string;
  /** Repository-relative docs page of the feature. */
  docs: string;
}

export interface RuleHit {
  option: RequestedOption;
  /** What was requested, in words independent of syntax ("the host network mode"). */
  subject: string;
  /** Computed only when someone asks for the fix (tty output never does; edits cost more than checks). */
  fix?: () => Fix | undefined;
}

export interface Rule {
  meta: RuleMeta;
  check(request: ContainerRequest): RuleHit[];
}

export function docsFor(feature: string): string {
  return `docs/features/${feature}.md`;
}

export function optionsNamed<N extends OptionName>(request: ContainerRequest, name: N): RequestedOption<N>[] {
  return request.options.filter((o): o is RequestedOption<N> => o.option === name);
}

/** A fix that deletes the option, when the front end can express that. */
export function removeFix(option: RequestedOption, title: string, safe = true): Fix | undefined {
  if (!option.edit) return undefined;
  return safe ? { title, edits: option.edit.remove() } : { title, edits: option.edit.remove(), safe };
}

/** A fix that writes other options in place of this one, when the file's syntax can express them. */
export function replaceFix(option: RequestedOption, title: string, assignments: OptionAssignment[]): Fix | undefined {
  const edits = option.edit?.replace(assignments);
  return edits ? { title, edits } : undefined;
}

/** Every option of one name whose value matches, reported with the same subject wording. */
export function hitsWhere<N extends OptionName>(
  request: ContainerRequest,
  name: N,
  matches: (option: RequestedOption<N>) => boolean,
  subject: (option: RequestedOption<N>) => string,
  fix?: (option: RequestedOption<N>) => Fix | undefined,
): RuleHit[] {
  return optionsNamed(request, name).filter(matches).map((option) => ({ option, subject: subject(option), ...(fix ? { fix: () => fix(option) } : {}) }));
}

/** A namespace mode that joins the host's (or another container's) namespace. */
export function joinsOtherNamespace(mode: string): boolean {
  return mode === 'host' || mode.startsWith('container:') || mode.startsWith('service:');
}

/** A path equal to `root` or under it. */
export function isUnder(path: string | undefined, root: string): boolean {
  if (path === undefined) return false;
  const normalized = path.replace(/\/+$/, '') || '/';
  return normalized === root || normalized.startsWith(`${root}/`);
}

/** A docker command that is a runtime feature by itself (`docker stats`, `docker network connect`, …). */
export function commandRule(id: string, command: DockerCommand, feature: FeatureId, description: string, subject: string): Rule {
  return {
    meta: { id, feature, description, docs: docsFor(feature) },
    check: (request) => hitsWhere(request, 'command', (o) => o.value === command, () => subject),
  };
}
