import { docsFor, optionHits, replaceFix, type Rule } from './rule.js';

/** Docker's default CFS period; --cpus=N is quota N × period. */
const CFS_PERIOD_US = 100_000;

export const cpusLimit: Rule = {
  meta: { id: 'cpus-limit', feature: 'cpus', description: 'A CPU limit given as a number of CPUs (--cpus).', docs: docsFor('cpus') },
  check: optionHits(
    'cpus',
    () => true,
    (o) => `the CPU limit of ${o.value} CPUs`,
    (o) => {
      const quota = Math.round(o.value * CFS_PERIOD_US);
      return replaceFix(o, `Use cpu-period ${CFS_PERIOD_US} and cpu-quota ${quota} instead`, [
        { option: 'cpu-period', value: CFS_PERIOD_US },
        { option: 'cpu-quota', value: quota },
      ]);
    },
  ),
};
