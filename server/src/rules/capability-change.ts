import type { RuleHit } from './rule.js';
import { docsFor, hitsWhere, type Rule } from './rule.js';

export const capabilityChange: Rule = {
  meta: { id: 'capability-change', feature: 'capabilities', description: 'Capabilities added to or dropped from Docker\'s default set.', docs: docsFor('capabilities') },
  check: (request): RuleHit[] => [
    ...hitsWhere(request, 'cap-add', () => true, (o) => `adding the capability ${o.value}`),
    ...hitsWhere(request, 'cap-drop', () => true, (o) => `dropping the capability ${o.value}`),
  ],
};
