import { docsFor, optionHits, type Rule } from './rule.js';

export const gpuRequest: Rule = {
  meta: {
    id: 'gpu-request',
    feature: 'gpu',
    description: 'GPUs requested for the container (--gpus, a gpu device request).',
    docs: docsFor('gpu'),
  },
  check: optionHits(
    'gpus',
    () => true,
    (o) => `the GPU request ${o.value}`,
  ),
};
