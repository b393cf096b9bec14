import { docsFor, hitsWhere, type Rule } from './rule.js';

export const annotation: Rule = {
  meta: { id: 'annotation', feature: 'annotations', description: 'An OCI annotation passed to the runtime.', docs: docsFor('annotations') },
  check: (request) => hitsWhere(request, 'annotation', () => true, (o) => `the annotation ${o.value.key}`),
};
