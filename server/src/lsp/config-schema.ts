/**
 * The JSON schema of .vmrt-lint.yaml (see engine/config.ts), built from the engine's own
 * lists so that ids, profiles and thresholds never drift. The extension contributes it
 * (package.json `yamlValidation`) for editors with a YAML language server.
 */
import { CONFIG_IDS, SEVERITY_OVERRIDES, THRESHOLDS } from '../engine/config.js';
import { getProfile, PROFILE_NAMES } from '../profiles/index.js';

export function configSchema(): object {
  const ids = { type: 'string', enum: [...CONFIG_IDS] };
  return {
    $schema: 'http://json-schema.org/draft-07/schema#',
    title: 'vmrt-lint configuration (.vmrt-lint.yaml)',
    type: 'object',
    additionalProperties: false,
    properties: {
      profile: { type: 'string', enum: [...PROFILE_NAMES], markdownEnumDescriptions: PROFILE_NAMES.map((name) => getProfile(name).description), description: 'The runtime whose differences are reported.' },
      'failure-threshold': { type: 'string', enum: [...THRESHOLDS], description: 'The lowest severity that makes vmrt-lint exit 1.' },
      severity: { type: 'object', propertyNames: ids, additionalProperties: { type: 'string', enum: [...SEVERITY_OVERRIDES] }, description: 'Severity per rule or feature id.' },
      ignored: { type: 'array', items: ids, description: 'Rule or feature ids never reported.' },
      'runtime-classes': { type: 'array', items: { type: 'string' }, description: 'Kubernetes runtimeClassName values (exact, or a * glob) whose pods run in VMs.' },
      'disable-ignore-pragma': { type: 'boolean', description: 'Ignore every vmrt-ignore pragma.' },
    },
  };
}
