import { docsFor, optionHits, removeFix, type Rule } from './rule.js';

export const kernelMemoryLimit: Rule = {
  meta: {
    id: 'kernel-memory-limit',
    feature: 'kernel-memory',
    description: 'A kernel memory limit (--kernel-memory).',
    docs: docsFor('kernel-memory'),
  },
  check: optionHits(
    'kernel-memory',
    // -1 is Docker's and the OCI spec's "no limit": nothing is asked for.
    (o) => o.value.trim() !== '-1',
    (o) => `the kernel memory limit ${o.value}`,
    (o) => removeFix(o, 'Remove the kernel memory limit'),
  ),
};
