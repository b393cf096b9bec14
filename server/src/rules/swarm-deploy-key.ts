import { docsFor, optionHits, type Rule } from './rule.js';

export const swarmDeployKey: Rule = {
  meta: {
    id: 'swarm-deploy-key',
    feature: 'swarm',
    description: 'A compose deploy key that only swarm honours (mode: global, placement, update_config, …).',
    docs: docsFor('swarm'),
  },
  check: optionHits(
    'swarm-key',
    () => true,
    (o) => `the swarm deploy key ${o.value}`,
  ),
};
