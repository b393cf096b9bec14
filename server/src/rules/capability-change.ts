import { anyHits, docsFor, optionHits, type Rule } from './rule.js';

export const capabilityChange: Rule = {
  meta: {
    id: 'capability-change',
    feature: 'capabilities',
    description: "Capabilities added to or dropped from Docker's default set.",
    docs: docsFor('capabilities'),
  },
  check: anyHits(
    optionHits(
      'cap-add',
      () => true,
      (o) => `adding the capability ${o.value}`,
    ),
    optionHits(
      'cap-drop',
      () => true,
      (o) => `dropping the capability ${o.value}`,
    ),
  ),
};
