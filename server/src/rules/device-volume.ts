import { docsFor, optionHits, isUnder, type Rule } from './rule.js';

export const deviceVolume: Rule = {
  meta: {
    id: 'device-volume',
    feature: 'dev-volume',
    description: "A bind mount whose source is under the host's /dev.",
    docs: docsFor('dev-volume'),
  },
  check: optionHits(
    'mount',
    (o) => o.value.type === 'bind' && isUnder(o.value.source, '/dev'),
    (o) => `the bind mount of ${o.value.source}`,
  ),
};
