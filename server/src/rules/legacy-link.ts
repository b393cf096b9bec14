import { docsFor, optionHits, removeFix, type Rule } from './rule.js';

export const legacyLink: Rule = {
  meta: {
    id: 'legacy-link',
    feature: 'link',
    description: 'A legacy container link (--link, links, external_links).',
    docs: docsFor('link'),
  },
  check: optionHits(
    'link',
    () => true,
    (o) => `the legacy link ${o.value}`,
    // Not safe: without the link the name no longer resolves until both share a user-defined network.
    (o) => removeFix(o, `Remove the link ${o.value}; put both containers on one user-defined network and use the name instead`, false),
  ),
};
