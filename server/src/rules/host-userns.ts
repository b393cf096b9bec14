import { docsFor, optionHits, type Rule } from './rule.js';

export const hostUserns: Rule = {
  meta: {
    id: 'host-userns',
    feature: 'userns-host',
    description: 'The container opts out of user namespace remapping (userns host).',
    docs: docsFor('userns-host'),
  },
  check: optionHits(
    'userns',
    (o) => o.value === 'host',
    () => 'the host user namespace',
  ),
};
