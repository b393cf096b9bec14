import type { Profile } from './profile.js';

/** runc is the reference every other profile is compared with: nothing differs. */
export const runcProfile: Profile = {
  id: 'runc',
  description: 'runc, the reference container runtime: no findings',
  features: {},
  hints: false,
};
