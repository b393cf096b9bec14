/**
 * The JSON schema of .vmrt-lint.yaml (see engine/config.ts), built from the engine's own
 * lists so that ids, profiles and thresholds never drift. The extension contributes it
 * (package.json `yamlValidation`) for editors with a YAML language server.
 */
import { CONFIG_IDS, CONFIG_KEYS, SEVERITY_OVERRIDES, THRESHOLDS } from '../engine/config.js';
import { getProfile, PROFILE_NAMES } from '../profiles/index.js';

export function configSchema(): object {
  const ids = { type: 'string', enum: [...CONFIG_IDS] };
  return {
    $schema: 'http://json-schema.org/draft-07/schema#',
    title: 'vmrt-lint configuration (.vmrt-lint.yaml)',
    type: 'object',
    additionalProperties: false,
    properties: {
      profile: {
        type: 'string',
        enum: [...PROFILE_NAMES],
        markdownEnumDescriptions: PROFILE_NAMES.map((name) => getProfile(name).description),
        description: CONFIG_KEYS['profile'],
      },
      'failure-threshold': { type: 'string', enum: [...THRESHOLDS], description: CONFIG_KEYS['failure-threshold'] },
      severity: {
        type: 'object',
        propertyNames: ids,
        additionalProperties: { type: 'string', enum: [...SEVERITY_OVERRIDES] },
        description: CONFIG_KEYS['severity'],
      },
      ignored: { type: 'array', items: ids, description: CONFIG_KEYS['ignored'] },
      'runtime-classes': { type: 'array', items: { type: 'string' }, description: CONFIG_KEYS['runtime-classes'] },
      'disable-ignore-pragma': { type: 'boolean', description: CONFIG_KEYS['disable-ignore-pragma'] },
    },
  };
}
