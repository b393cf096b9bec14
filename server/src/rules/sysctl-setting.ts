import { docsFor, optionHits, type Rule } from './rule.js';

export const sysctlSetting: Rule = {
  meta: {
    id: 'sysctl-setting',
    feature: 'sysctl',
    description: 'A kernel parameter set for the container (--sysctl).',
    docs: docsFor('sysctl'),
  },
  check: optionHits(
    'sysctl',
    () => true,
    (o) => `the sysctl ${o.value.key}=${o.value.value}`,
  ),
};
