import { docsFor, optionHits, type Rule } from './rule.js';

export const annotation: Rule = {
  meta: { id: 'annotation', feature: 'annotations', description: 'An OCI annotation passed to the runtime.', docs: docsFor('annotations') },
  check: optionHits(
    'annotation',
    () => true,
    (o) => `the annotation ${o.value.key}`,
  ),
};
