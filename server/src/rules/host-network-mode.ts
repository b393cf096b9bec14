import { docsFor, optionHits, removeFix, type Rule } from './rule.js';

export const hostNetworkMode: Rule = {
  meta: {
    id: 'host-network-mode',
    feature: 'host-network',
    description: "The container asks for the host's network stack.",
    docs: docsFor('host-network'),
  },
  check: optionHits(
    'network',
    (o) => o.value === 'host',
    () => 'the host network mode',
    (o) => removeFix(o, 'Remove the host network mode (publish the ports you need instead)'),
  ),
};
