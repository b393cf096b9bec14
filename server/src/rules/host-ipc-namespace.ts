import { docsFor, optionHits, joinsOtherNamespace, type Rule } from './rule.js';

export const hostIpcNamespace: Rule = {
  meta: {
    id: 'host-ipc-namespace',
    feature: 'host-ipc',
    description: "The container shares the host's or another container's IPC namespace.",
    docs: docsFor('host-ipc'),
  },
  check: optionHits(
    'ipc',
    (o) => joinsOtherNamespace(o.value),
    (o) => `the ipc namespace ${o.value}`,
  ),
};
