import { docsFor, optionHits, joinsOtherNamespace, type Rule } from './rule.js';

export const hostPidNamespace: Rule = {
  meta: {
    id: 'host-pid-namespace',
    feature: 'host-pid',
    description: "The container shares the host's or another container's process namespace.",
    docs: docsFor('host-pid'),
  },
  check: optionHits(
    'pid',
    (o) => joinsOtherNamespace(o.value),
    (o) => `the pid namespace ${o.value}`,
  ),
};
