import { docsFor, optionHits, type Rule } from './rule.js';

/** VFIO groups (and the VFIO control device) are how every VM runtime passes a device: never a finding. */
const VFIO = /^\/dev\/vfio\/(\d+|vfio)$/;

export const hostDevice: Rule = {
  meta: {
    id: 'host-device',
    feature: 'device',
    description: 'A host device other than a VFIO group is passed to the container.',
    docs: docsFor('device'),
  },
  check: optionHits(
    'device',
    (o) => !VFIO.test(o.value.host),
    (o) => `the host device ${o.value.host}`,
  ),
};
