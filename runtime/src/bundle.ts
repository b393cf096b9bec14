/**
 * Loading a bundle's config.json: a missing bundle, text that is not JSON, or a wrong structure
 * each fail with the file and the place (line:column, or the JSON path).
 */
import { readFileSync, statSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { createRequire } from 'node:module';
import type { ValidateFunction } from 'ajv';
import { parse, printParseErrorCode, type ParseError } from 'jsonc-parser';
import { RuntimeError } from './errors.js';
import { RLIMIT_TYPES } from './oci-detection.js';
import type { Config } from './spec.js';

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

let compiled: ValidateFunction | undefined;

/**
 * Compiled on first use: loading Ajv costs commands that read no bundle (start, kill, …) ~100 ms.
 * Without the meta-schema, which would check this fixed schema at every create (~50 ms of a
 * create's CPU); a unit test checks it once.
 */
function validator(): ValidateFunction {
  if (!compiled) {
    const { Ajv } = createRequire(import.meta.url)('ajv') as typeof import('ajv');
    compiled = new Ajv({ allErrors: false, strict: false, verbose: true, meta: false, validateSchema: false }).compile(CONFIG_SCHEMA);
  }
  return compiled;
}

export interface Bundle {
  dir: string;
  configPath: string;
  config: Config;
  /** root.path resolved against the bundle. */
  rootfs: string;
}

function lineColumn(text: string, offset: number): string {
  const before = text.slice(0, offset).split('\n');
  return `line ${before.length}, column ${before[before.length - 1]!.length + 1}`;
}

/** Parses config.json text; `file` names it in errors. */
export function parseConfig(text: string, file: string): Config {
  const errors: ParseError[] = [];
  const value: unknown = parse(text, errors, { disallowComments: true, allowTrailingComma: false, allowEmptyContent: false });
  if (errors.length > 0) {
    const first = errors[0]!;
    throw new RuntimeError(`${file} is not valid JSON: ${printParseErrorCode(first.error)} at ${lineColumn(text, first.offset)}`);
  }
  const validate = validator();
  if (!validate(value)) {
    const err = validate.errors![0]!;
    const where = err.instancePath ? err.instancePath.slice(1).replace(/\//g, '.') : '(top level)';
    const given = err.keyword === 'enum' ? ` (${JSON.stringify(err.data)} is not one of ${(err.schema as string[]).join(', ')})` : '';
    throw new RuntimeError(`${file}: ${where}: ${err.message ?? 'invalid'}${given}`);
  }
  return value as Config;
}

export function loadBundle(bundleArg: string, requireProcess: boolean): Bundle {
  const dir = resolve(bundleArg);
  try {
    if (!statSync(dir).isDirectory()) throw new RuntimeError(`bundle ${dir} is not a directory`);
  } catch (err) {
    if (err instanceof RuntimeError) throw err;
    throw new RuntimeError(`bundle ${dir} does not exist`);
  }
  const configPath = join(dir, 'config.json');
  let text: string;
  try {
    text = readFileSync(configPath, 'utf8');
  } catch {
    throw new RuntimeError(`${configPath} does not exist (a bundle needs a config.json)`);
  }
  const config = parseConfig(text, configPath);
  if (requireProcess && !config.process) throw new RuntimeError(`${configPath}: process: must be given`);
  if (requireProcess && !config.process?.args) throw new RuntimeError(`${configPath}: process.args: must be given`);
  const rootPath = config.root!.path;
  const rootfs = isAbsolute(rootPath) ? rootPath : join(dir, rootPath);
  try {
    if (!statSync(rootfs).isDirectory()) throw new Error();
  } catch {
    throw new RuntimeError(`${configPath}: root.path: rootfs ${rootfs} is not a directory`);
  }
  return { dir, configPath, config, rootfs };
}
