import { docsFor, hitsWhere, joinsOtherNamespace, type Rule } from './rule.js';

export const hostPidNamespace: Rule = {
  meta: { id: 'host-pid-namespace', feature: 'host-pid', description: 'The container shares the host\'s or another container\'s process namespace.', docs: docsFor('host-pid') },
  check: (request) => hitsWhere(request, 'pid', (o) => joinsOtherNamespace(o.value), (o) => `the pid namespace ${o.value}`),
};
