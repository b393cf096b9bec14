import { docsFor, optionHits, type Rule } from './rule.js';

export const hostUtsNamespace: Rule = {
  meta: {
    id: 'host-uts-namespace',
    feature: 'host-uts',
    description: "The container shares the host's hostname (UTS namespace).",
    docs: docsFor('host-uts'),
  },
  check: optionHits(
    'uts',
    (o) => o.value === 'host',
    () => 'the host UTS namespace',
  ),
};
