/**
 * Loading a bundle's config.json: a missing bundle, text that is not JSON, or a wrong structure
 * each fail with the file and the place (line:column, or the JSON path).
 */
import { readFileSync, statSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { parse, printParseErrorCode, type ParseError } from 'jsonc-parser';
import { RuntimeError } from './errors.js';
import { validate } from './config-validator.js';
import type { Config } from './spec.js';

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
