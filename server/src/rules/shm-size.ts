import { docsFor, optionHits, type Rule } from './rule.js';
import { DEFAULT_SHM_BYTES, parseBytes } from './units.js';

export const shmSize: Rule = {
  meta: { id: 'shm-size', feature: 'shm-size', description: "A /dev/shm size other than Docker's default 64m.", docs: docsFor('shm-size') },
  check: optionHits(
    'shm-size',
    (o) => parseBytes(o.value) !== DEFAULT_SHM_BYTES,
    (o) => `the /dev/shm size ${o.value}`,
  ),
};
