/** What the rule tests share: a rule by id, the subjects of its hits over options built in the test. */
import assert from 'node:assert/strict';
import type { FeatureId } from '../../runtime/src/capabilities.js';
import type { OptionName, OptionValues, RequestedOption } from '../../server/src/core/types.js';
import { RULES, type Rule } from '../../server/src/rules/index.js';
import { option, request } from '../unit/lint-helpers.js';

export function rule(id: string): Rule {
  const found = RULES.find((r) => r.meta.id === id);
  assert.ok(found, `rule ${id}`);
  return found;
}

/** Subjects of the hits of one rule over options built in the test. */
export function subjects(id: string, ...options: RequestedOption[]): string[] {
  return rule(id)
    .check(request(...options))
    .map((h) => h.subject);
}

export const o = <N extends OptionName>(name: N, value: OptionValues[N]) => option(name, value);

/** The docker commands that are runtime features by themselves, one rule each. */
const COMMANDS: OptionValues['command'][] = ['network-connect', 'checkpoint', 'stats', 'top', 'events', 'update', 'swarm'];

/** A command rule hits its own command once among all of them, and names its feature. */
export function assertCommandRule(id: string, command: OptionValues['command'], feature: FeatureId): void {
  const hits = rule(id).check(request(...COMMANDS.map((c) => o('command', c))));
  assert.equal(hits.length, 1, id);
  assert.equal(hits[0]?.option.value, command);
  assert.equal(rule(id).meta.feature, feature);
}
