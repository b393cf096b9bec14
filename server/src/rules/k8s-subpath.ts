import { docsFor, optionHits, type Rule } from './rule.js';

export const k8sSubpath: Rule = {
  meta: {
    id: 'k8s-subpath',
    feature: 'k8s-subpath',
    description: 'A Kubernetes volumeMount with a subPath.',
    docs: docsFor('k8s-subpath'),
  },
  check: optionHits(
    'subpath',
    () => true,
    (o) => `the volume subPath ${o.value}`,
  ),
};
