import type { RuleHit } from './rule.js';
import { docsFor, hitsWhere, type Rule } from './rule.js';

export const cpusetShares: Rule = {
  meta: { id: 'cpuset-shares', feature: 'cpuset', description: 'CPU pinning (cpuset) or relative CPU shares.', docs: docsFor('cpuset') },
  check: (request): RuleHit[] => [
    ...hitsWhere(request, 'cpuset-cpus', () => true, (o) => `pinning to CPUs ${o.value}`),
    ...hitsWhere(request, 'cpu-shares', () => true, (o) => `CPU shares of ${o.value}`),
  ],
};
