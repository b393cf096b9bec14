import { anyHits, docsFor, optionHits, type Rule } from './rule.js';

export const cpusetShares: Rule = {
  meta: {
    id: 'cpuset-shares',
    feature: 'cpuset',
    description: 'CPU or memory-node pinning (cpuset) or relative CPU shares.',
    docs: docsFor('cpuset'),
  },
  check: anyHits(
    optionHits(
      'cpuset-cpus',
      () => true,
      (o) => `pinning to CPUs ${o.value}`,
    ),
    optionHits(
      'cpuset-mems',
      () => true,
      (o) => `pinning to memory nodes ${o.value}`,
    ),
    optionHits(
      'cpu-shares',
      () => true,
      (o) => `CPU shares of ${o.value}`,
    ),
  ),
};
