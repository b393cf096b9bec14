import { docsFor, optionHits, type Rule } from './rule.js';

export const privilegedMode: Rule = {
  meta: {
    id: 'privileged-mode',
    feature: 'privileged',
    description: 'The container asks for privileged mode (every capability and every host device).',
    docs: docsFor('privileged'),
  },
  check: optionHits(
    'privileged',
    (o) => o.value,
    () => 'privileged mode',
  ),
};
