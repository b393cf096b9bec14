import { docsFor, optionHits, type Rule } from './rule.js';

export const blkioLimit: Rule = {
  meta: { id: 'blkio-limit', feature: 'blkio', description: 'A block I/O weight or throughput limit.', docs: docsFor('blkio') },
  check: optionHits(
    'blkio',
    () => true,
    (o) => `the block I/O limit ${o.value}`,
  ),
};
