/**
 * The structure of config.json that vmrt depends on, as a JSON Schema. Compiled by Ajv at build
 * time (scripts/build-config-validator.mjs) into out/runtime/src/config-validator.js, which
 * bundle.ts runs: compiling it at every create cost 60–100 ms of the CLI's start.
 */
import { RLIMIT_TYPES } from './oci-detection.js';

const stringArray = { type: 'array', items: { type: 'string' } };
const hookList = {
  type: 'array',
  items: {
    type: 'object',
    required: ['path'],
    properties: { path: { type: 'string', minLength: 1 }, args: stringArray, env: stringArray, timeout: { type: 'integer', minimum: 1 } },
  },
};

/** The structure vmrt depends on; other fields pass through to the guest untouched. */
export const CONFIG_SCHEMA = {
  type: 'object',
  required: ['ociVersion', 'root'],
  properties: {
    ociVersion: { type: 'string' },
    root: { type: 'object', required: ['path'], properties: { path: { type: 'string', minLength: 1 }, readonly: { type: 'boolean' } } },
    hostname: { type: 'string' },
    process: {
      type: 'object',
      required: ['cwd'],
      properties: {
        terminal: { type: 'boolean' },
        args: { ...stringArray, minItems: 1 },
        env: stringArray,
        cwd: { type: 'string', pattern: '^/' },
        user: {
          type: 'object',
          required: ['uid', 'gid'],
          properties: { uid: { type: 'integer', minimum: 0 }, gid: { type: 'integer', minimum: 0 } },
        },
        // Refused at create, as runc refuses them, not left to fail in the guest at start.
        rlimits: {
          type: 'array',
          items: {
            type: 'object',
            required: ['type', 'hard', 'soft'],
            properties: { type: { enum: RLIMIT_TYPES }, hard: { type: 'integer', minimum: 0 }, soft: { type: 'integer', minimum: 0 } },
          },
        },
      },
    },
    mounts: {
      type: 'array',
      items: {
        type: 'object',
        required: ['destination'],
        properties: {
          destination: { type: 'string', minLength: 1 },
          type: { type: 'string' },
          source: { type: 'string' },
          options: stringArray,
        },
      },
    },
    hooks: {
      type: 'object',
      properties: Object.fromEntries(
        ['prestart', 'createRuntime', 'createContainer', 'startContainer', 'poststart', 'poststop'].map((k) => [k, hookList]),
      ),
    },
    annotations: { type: 'object', additionalProperties: { type: 'string' } },
    linux: {
      type: 'object',
      properties: {
        namespaces: {
          type: 'array',
          items: { type: 'object', required: ['type'], properties: { type: { type: 'string' }, path: { type: 'string' } } },
        },
        devices: { type: 'array', items: { type: 'object', required: ['path'], properties: { path: { type: 'string' } } } },
        cgroupsPath: { type: 'string' },
        rootfsPropagation: { enum: ['private', 'rprivate', 'shared', 'rshared', 'slave', 'rslave', 'unbindable', 'runbindable'] },
        sysctl: { type: 'object', additionalProperties: { type: 'string' } },
      },
    },
  },
};
