import { docsFor, optionHits, isUnder, type Rule } from './rule.js';

export const procSysBind: Rule = {
  meta: {
    id: 'proc-sys-bind',
    feature: 'proc-sys-mount',
    description: 'A bind mount onto /proc or /sys inside the container.',
    docs: docsFor('proc-sys-mount'),
  },
  check: optionHits(
    'mount',
    (o) => o.value.type === 'bind' && (isUnder(o.value.target, '/proc') || isUnder(o.value.target, '/sys')),
    (o) => `the bind mount onto ${o.value.target}`,
  ),
};
