import { docsFor, optionHits, type Rule } from './rule.js';

export const containerNetworkMode: Rule = {
  meta: {
    id: 'container-network-mode',
    feature: 'container-network',
    description: "The container joins another container's (or service's) network namespace.",
    docs: docsFor('container-network'),
  },
  check: optionHits(
    'network',
    (o) => o.value.startsWith('container:') || o.value.startsWith('service:'),
    (o) => `joining the network of ${o.value}`,
  ),
};
