import type { RuleHit } from './rule.js';
import { docsFor, hitsWhere, type Rule } from './rule.js';

export const tmpfsMount: Rule = {
  meta: { id: 'tmpfs-mount', feature: 'tmpfs', description: 'A tmpfs mount (--tmpfs, --mount type=tmpfs).', docs: docsFor('tmpfs') },
  check: (request): RuleHit[] => [
    ...hitsWhere(request, 'tmpfs', () => true, (o) => `the tmpfs mount on ${o.value.target}`),
    ...hitsWhere(request, 'mount', (o) => o.value.type === 'tmpfs', (o) => `the tmpfs mount on ${o.value.target}`),
  ],
};
