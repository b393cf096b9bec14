import { docsFor, optionHits, type Rule } from './rule.js';

/** Options that load a host security policy; no-new-privileges and the like work in any kernel. */
const POLICY = /^(apparmor|label|seccomp)[=:]/;

export const securityOption: Rule = {
  meta: {
    id: 'security-option',
    feature: 'security-opt',
    description: 'An AppArmor, SELinux label or seccomp security option.',
    docs: docsFor('security-opt'),
  },
  check: optionHits(
    'security-opt',
    (o) => POLICY.test(o.value),
    (o) => `the security option ${o.value}`,
  ),
};
