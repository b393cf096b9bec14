/**
 * What a rule is: one feature's check over the normalized container request
 * (never over syntax). The engine decides whether the active profile reports that
 * feature, at which severity, and words the message from the profile's reason.
 */
import type { FeatureId } from '../../../runtime/src/capabilities.js';
import type { ContainerRequest, Fix, OptionAssignment, OptionName, OptionValues, RequestedOption } from '../core/types.js';

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
  check(request: ContainerRequest): readonly RuleHit[];
}

export function docsFor(feature: string): string {
  return `docs/features/${feature}.md`;
}

/** Per request, its options by name: built once, on the first rule that asks. */
const optionsByName = new WeakMap<ContainerRequest, Map<OptionName, RequestedOption[]>>();

function optionsNamed<N extends OptionName>(request: ContainerRequest, name: N): readonly RequestedOption<N>[] {
  let byName = optionsByName.get(request);
  if (!byName) {
    byName = new Map();
    for (const option of request.options) {
      const named = byName.get(option.option);
      if (named) named.push(option);
      else byName.set(option.option, [option]);
    }
    optionsByName.set(request, byName);
  }
  return (byName.get(name) ?? NO_OPTIONS) as readonly RequestedOption<N>[];
}

const NO_OPTIONS: readonly RequestedOption[] = Object.freeze([]);
const NO_HITS: readonly RuleHit[] = Object.freeze([]);

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

/**
 * A check that reports every option of one name whose value matches, with the same
 * subject wording. The rule's functions are made once (not per request), and a request
 * without such options costs one lookup.
 */
export function optionHits<N extends OptionName>(
  name: N,
  matches: (option: RequestedOption<N>) => boolean,
  subject: (option: RequestedOption<N>) => string,
  fix?: (option: RequestedOption<N>) => Fix | undefined,
): Rule['check'] {
  return (request) => {
    let hits: RuleHit[] | undefined;
    for (const option of optionsNamed(request, name)) {
      if (!matches(option)) continue;
      (hits ??= []).push(fix ? { option, subject: subject(option), fix: () => fix(option) } : { option, subject: subject(option) });
    }
    return hits ?? NO_HITS;
  };
}

/** The hits of several checks, in order. */
export function anyHits(...checks: Rule['check'][]): Rule['check'] {
  return (request) => checks.flatMap((check) => check(request));
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
    check: optionHits(
      'command',
      (o) => o.value === command,
      () => subject,
    ),
  };
}
