/**
 * The `vmrt` profile is the runtime's own capability table, read at run time
 * (docs/architecture.md, the capability table): when the runtime gains a feature, the linter follows.
 */
import { CAPABILITIES, type Capability, type FeatureId } from '../../../runtime/src/capabilities.js';
import type { Profile } from './profile.js';

export function vmrtProfile(capabilities: Readonly<Record<FeatureId, Capability>> = CAPABILITIES): Profile {
  const features: Profile['features'] = {};
  for (const [id, capability] of Object.entries(capabilities) as [FeatureId, Capability][]) {
    features[id] = { status: capability.status, reason: capability.reason, workaround: capability.workaround };
  }
  return { id: 'vmrt', description: 'what the bundled vmrt runtime does today (runtime/src/capabilities.ts)', features, hints: true };
}
