/**
 * `.vmrt-lint.yaml`: found upward from each linted file (or given with --config).
 *
 *   profile: vmrt | clear-containers | kata | runc
 *   failure-threshold: error | warning | info | none
 *   severity: { <rule or feature id>: error | warning | info | hint | off }
 *   ignored: [<rule or feature id>, …]
 *   runtime-classes: [vmrt, kata, "kata-*", …]   # Kubernetes runtime classes that mean a VM
 *   disable-ignore-pragma: true | false
 *
 * Mistakes are reported as findings in the config file, at the offending key or value.
 *
 * A base (an editor's settings) may lie under every file: the file wins key by key, and a
 * severity the file gives a rule or a feature also replaces the base's severities of that
 * feature's rules or that rule's feature.
 */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { isMap, isScalar, isSeq, parseDocument, type Node } from 'yaml';
import { FEATURE_IDS } from '../../../runtime/src/capabilities.js';
import { isProfileName, type ProfileName } from '../profiles/index.js';
import { RULES } from '../rules/index.js';
import { LineIndex } from '../core/positions.js';
import { readSource } from '../core/read.js';
import type { Finding, Range, Severity } from '../core/types.js';

export const CONFIG_NAMES = ['.vmrt-lint.yaml', '.vmrt-lint.yml'] as const;
export const DEFAULT_RUNTIME_CLASSES = ['vmrt', 'kata', 'kata-*', 'clear-containers'] as const;

/** The keys of a config file and what each means (the editor's completion and JSON schema show these). */
export const CONFIG_KEYS: Readonly<Record<string, string>> = {
  profile: 'The runtime whose differences are reported (vmrt, clear-containers, kata, runc).',
  'failure-threshold': 'The lowest severity that makes vmrt-lint exit 1.',
  severity: 'Severity per rule or feature id: error, warning, info, hint or off.',
  ignored: 'Rule or feature ids never reported.',
  'runtime-classes': 'Kubernetes runtimeClassName values (or * globs) whose pods run in VMs.',
  'disable-ignore-pragma': 'Ignore every vmrt-ignore pragma in the files.',
};

export const THRESHOLDS = ['error', 'warning', 'info', 'none'] as const;
export type FailureThreshold = (typeof THRESHOLDS)[number];
export type SeverityOverride = Severity | 'off';

export interface LintConfig {
  /** The config file, when one was found. */
  path?: string;
  profile?: ProfileName;
  failureThreshold?: FailureThreshold;
  severity: Record<string, SeverityOverride>;
  ignored: string[];
  runtimeClasses: string[];
  disableIgnorePragma: boolean;
  /** Findings about the config file itself. */
  problems: Finding[];
}

export const SEVERITY_OVERRIDES: readonly SeverityOverride[] = ['error', 'warning', 'info', 'hint', 'off'];
/** Ids a config may name: rules, features, and the file-level findings. */
export const CONFIG_IDS: readonly string[] = [
  ...FEATURE_IDS,
  ...RULES.map((r) => r.meta.id),
  'schema',
  'parse-error',
  'file',
  'file-too-large',
  'binary-file',
  'unreadable',
  'internal-error',
  'invalid-config',
  'too-many-findings',
];
const KNOWN_IDS = new Set(CONFIG_IDS);

/** The values under every config file (an editor's settings). */
export type ConfigBase = Partial<
  Pick<LintConfig, 'profile' | 'failureThreshold' | 'severity' | 'ignored' | 'runtimeClasses' | 'disableIgnorePragma'>
>;

/** The config of a file with no config file: the base, else the defaults. */
export function defaultConfig(base: ConfigBase = {}): LintConfig {
  return {
    ...(base.profile ? { profile: base.profile } : {}),
    ...(base.failureThreshold ? { failureThreshold: base.failureThreshold } : {}),
    severity: { ...base.severity },
    ignored: [...(base.ignored ?? [])],
    runtimeClasses: [...(base.runtimeClasses ?? DEFAULT_RUNTIME_CLASSES)],
    disableIgnorePragma: base.disableIgnorePragma ?? false,
    problems: [],
  };
}

const FEATURE_OF_RULE = new Map(RULES.map((rule) => [rule.meta.id, rule.meta.feature as string]));

/** The ids a severity entry speaks for: itself, plus its feature (for a rule) or its rules (for a feature). */
function relatedIds(id: string): string[] {
  const feature = FEATURE_OF_RULE.get(id);
  if (feature) return [id, feature];
  return [id, ...RULES.filter((rule) => rule.meta.feature === id).map((rule) => rule.meta.id)];
}

/** The nearest config file at or above `dir`. */
export function findConfig(dir: string): string | undefined {
  for (let current = resolve(dir); ; current = dirname(current)) {
    for (const name of CONFIG_NAMES) {
      const candidate = join(current, name);
      if (existsSync(candidate)) return candidate;
    }
    if (dirname(current) === current) return undefined;
  }
}

export function loadConfig(path: string, base: ConfigBase = {}): LintConfig {
  const read = readSource(path);
  if ('problem' in read)
    return {
      ...defaultConfig(base),
      path,
      problems: [{ ...configFinding(path, read.problem.range, read.problem.message), rule: read.problem.rule, feature: 'file' }],
    };
  return parseConfig(path, read.text, base);
}

export function parseConfig(path: string, text: string, base: ConfigBase = {}): LintConfig {
  const config: LintConfig = { ...defaultConfig(base), path };
  const lines = new LineIndex(text);
  const rangeOf = (node: Node | null | undefined): Range => (node?.range ? lines.range(node.range[0], node.range[1]) : lines.range(0, 0));
  const report = (node: Node | null | undefined, message: string) => config.problems.push(configFinding(path, rangeOf(node), message));

  const doc = parseDocument(text, { prettyErrors: false });
  for (const error of doc.errors)
    config.problems.push(configFinding(path, lines.range(error.pos[0], error.pos[1]), `YAML syntax: ${error.message.split('\n')[0]}`));
  if (doc.errors.length > 0 || doc.contents === null) return config;
  if (!isMap(doc.contents)) {
    report(doc.contents, 'the config must be a mapping of keys (profile, severity, ignored, …)');
    return config;
  }

  const stringsOf = (node: Node | null | undefined, what: string): { value: string; node: Node }[] => {
    if (!isSeq(node)) {
      report(node, `${what} must be a list`);
      return [];
    }
    return node.items.flatMap((item) => {
      if (isScalar(item) && typeof item.value === 'string') return [{ value: item.value, node: item }];
      report(item as Node, `each entry of ${what} must be a string`);
      return [];
    });
  };
  const checkId = (id: string, node: Node) => {
    if (!KNOWN_IDS.has(id)) report(node, `unknown rule or feature id '${id}'`);
    return KNOWN_IDS.has(id);
  };

  for (const pair of doc.contents.items) {
    const key = isScalar(pair.key) ? String(pair.key.value) : '';
    const value = pair.value as Node | null;
    const scalar = isScalar(value) ? String(value.value) : undefined;
    switch (key) {
      case 'profile':
        if (scalar !== undefined && isProfileName(scalar)) config.profile = scalar;
        else report(value ?? (pair.key as Node), `unknown profile '${scalar ?? ''}' (expected vmrt, clear-containers, kata or runc)`);
        break;
      case 'failure-threshold':
        if (scalar !== undefined && (THRESHOLDS as readonly string[]).includes(scalar))
          config.failureThreshold = scalar as FailureThreshold;
        else report(value ?? (pair.key as Node), `failure-threshold must be one of ${THRESHOLDS.join(', ')}`);
        break;
      case 'severity': {
        if (!isMap(value)) {
          report(value ?? (pair.key as Node), 'severity must map rule or feature ids to error, warning, info, hint or off');
          break;
        }
        const written: Record<string, SeverityOverride> = {};
        for (const entry of value.items) {
          const id = isScalar(entry.key) ? String(entry.key.value) : '';
          const level = isScalar(entry.value) ? String(entry.value.value) : '';
          if (!checkId(id, entry.key as Node)) continue;
          // YAML 1.2 reads an unquoted `off` as a string; `false` means the same to a reader.
          const override = level === 'false' ? 'off' : level;
          if ((SEVERITY_OVERRIDES as readonly string[]).includes(override)) written[id] = override as SeverityOverride;
          else report((entry.value as Node) ?? (entry.key as Node), `severity of '${id}' must be error, warning, info, hint or off`);
        }
        for (const id of Object.keys(written).flatMap(relatedIds)) delete config.severity[id];
        Object.assign(config.severity, written);
        break;
      }
      case 'ignored':
        config.ignored = stringsOf(value, 'ignored')
          .filter((s) => checkId(s.value, s.node))
          .map((s) => s.value);
        break;
      case 'runtime-classes':
        config.runtimeClasses = stringsOf(value, 'runtime-classes').map((s) => s.value);
        break;
      case 'disable-ignore-pragma':
        if (isScalar(value) && typeof value.value === 'boolean') config.disableIgnorePragma = value.value;
        else report(value ?? (pair.key as Node), 'disable-ignore-pragma must be true or false');
        break;
      default:
        report(pair.key as Node, `unknown key '${key}' (expected ${Object.keys(CONFIG_KEYS).join(', ')})`);
    }
  }
  return config;
}

function configFinding(file: string, range: Range, message: string): Finding {
  return {
    file,
    feature: 'schema',
    rule: 'invalid-config',
    severity: 'error',
    message: `invalid .vmrt-lint config: ${message}`,
    range,
    docs: 'docs/features/schema.md',
  };
}
