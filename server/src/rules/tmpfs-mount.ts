import { anyHits, docsFor, optionHits, type Rule } from './rule.js';

export const tmpfsMount: Rule = {
  meta: { id: 'tmpfs-mount', feature: 'tmpfs', description: 'A tmpfs mount (--tmpfs, --mount type=tmpfs).', docs: docsFor('tmpfs') },
  check: anyHits(
    optionHits(
      'tmpfs',
      () => true,
      (o) => `the tmpfs mount on ${o.value.target}`,
    ),
    optionHits(
      'mount',
      (o) => o.value.type === 'tmpfs',
      (o) => `the tmpfs mount on ${o.value.target}`,
    ),
  ),
};
