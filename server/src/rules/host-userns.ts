import { docsFor, joinsOtherNamespace, optionHits, type Rule } from './rule.js';

export const hostUserns: Rule = {
  meta: {
    id: 'host-userns',
    feature: 'userns-host',
    description: 'The container opts out of user namespace remapping (userns host).',
    docs: docsFor('userns-host'),
  },
  check: optionHits(
    'userns',
    // config.json joins a user namespace by its path (container:<path>): the runtime refuses that too.
    (o) => joinsOtherNamespace(o.value),
    (o) => (o.value === 'host' ? 'the host user namespace' : `the user namespace ${o.value}`),
  ),
};
