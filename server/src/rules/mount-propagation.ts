import { PROPAGATING_MODES } from '../../../runtime/src/oci-detection.js';
import { docsFor, optionHits, replaceFix, type Rule } from './rule.js';

export const mountPropagation: Rule = {
  meta: {
    id: 'mount-propagation',
    feature: 'mount-propagation',
    description: 'A mount asks for shared or slave propagation.',
    docs: docsFor('mount-propagation'),
  },
  check: optionHits(
    'mount',
    // Private (the default) is the only propagation a shared filesystem can honour.
    (o) => PROPAGATING_MODES.has(o.value.propagation ?? ''),
    (o) => `${o.value.propagation} propagation of the mount on ${o.value.target}`,
    (o) => {
      const { propagation: _dropped, ...mount } = o.value;
      return replaceFix(o, `Drop the ${o.value.propagation} propagation`, [{ option: 'mount', value: mount }]);
    },
  ),
};
