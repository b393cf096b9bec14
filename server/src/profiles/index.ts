import { clearContainersProfile } from './clear-containers.js';
import { kataProfile } from './kata.js';
import type { Profile } from './profile.js';
import { runcProfile } from './runc.js';
import { vmrtProfile } from './vmrt.js';

export {
  verdictFor,
  entryFor,
  mayReport,
  STATUS_SEVERITY,
  OK_HINTS,
  type Profile,
  type ProfileCase,
  type ProfileEntry,
  type ProfileStatus,
  type Verdict,
} from './profile.js';
export { vmrtProfile } from './vmrt.js';

export const PROFILE_NAMES = ['vmrt', 'clear-containers', 'kata', 'runc'] as const;
export type ProfileName = (typeof PROFILE_NAMES)[number];
export const DEFAULT_PROFILE: ProfileName = 'vmrt';

export function isProfileName(name: string): name is ProfileName {
  return (PROFILE_NAMES as readonly string[]).includes(name);
}

/** The built-in profile of that name; `vmrt` is built from the runtime's table on each call. */
export function getProfile(name: ProfileName): Profile {
  switch (name) {
    case 'vmrt':
      return vmrtProfile();
    case 'clear-containers':
      return clearContainersProfile;
    case 'kata':
      return kataProfile;
    case 'runc':
      return runcProfile;
  }
}
