/**
 * The engine: file → front end → container requests → rules → findings, then
 * severity overrides, ignores and pragmas. One file's failure (unreadable, too
 * large, unparsable, a front end that throws) becomes a finding and never stops the
 * others: the language server runs this on every keystroke and must not crash.
 */
import { dirname, isAbsolute, relative, resolve } from 'node:path';
import { FRONT_ENDS, kindByName, selectFrontEnd } from '../frontends/index.js';
import { YamlBlockCache } from '../frontends/yaml/block-cache.js';
import { KeptRequests } from '../core/kept-requests.js';
import { DEFAULT_PROFILE, getProfile, mayReport, verdictFor, type Profile, type ProfileName } from '../profiles/index.js';
import { RULES, type Rule, type RuleHit } from '../rules/index.js';
import { defaultConfig, findConfig, loadConfig, type ConfigBase, type LintConfig } from './config.js';
import { findingMessage } from './message.js';
import { COMMENT_STYLES, Suppressions } from './pragmas.js';
import { FILE_START, readSource, textProblem, type ReadResult } from '../core/read.js';
import type {
  ContainerRequest,
  FileKind,
  FileProblem,
  Finding,
  Fix,
  FrontEnd,
  FrontEndContext,
  Place,
  Range,
  RequestedOption,
  Severity,
} from '../core/types.js';

export interface LinterOptions {
  /** Overrides the profile of every config file. */
  profile?: ProfileName | Profile;
  /** A config file to use instead of discovering one upward from each file. */
  configPath?: string;
  /** Forces the file kind of files linted with `forceKind`. */
  kind?: FileKind;
  disableIgnorePragma?: boolean;
  frontEnds?: readonly FrontEnd[];
  rules?: readonly Rule[];
  env?: Readonly<Record<string, string | undefined>>;
  /** Values under every config file (an editor's settings); each file's keys win. */
  base?: ConfigBase;
  /**
   * Texts that stand for files on disk (an editor's unsaved buffers), for the linted file
   * and the files it reads (compose .env, extends, include); undefined: read the disk.
   */
  buffers?: (path: string) => string | undefined;
  /**
   * Keeps each text's parse between lintText calls for its path, and re-parses only the
   * parts an edit touched (the language server, linting a buffer on every keystroke). The
   * nodes are reused: read a result's fixes before the next lintText of the same path.
   */
  incremental?: boolean;
}

export interface FileResult {
  file: string;
  kind?: FileKind;
  /** False when no front end reads the file. */
  linted: boolean;
  findings: Finding[];
  config: LintConfig;
  /** What the front end read, for callers that look further (hovers on options no finding flags). */
  requests: ContainerRequest[];
  /** Other files the result depends on (compose .env, extends, include), read or looked for. */
  dependencies: string[];
  /** Why a file a folder walk found was left out without a finding (for `--verbose`). */
  skipped?: string;
}

/** An option a rule recognises, whether or not the profile reports its feature. */
export interface RecognisedOption {
  feature: Finding['feature'];
  rule: string;
  file: string;
  range: Range;
  /** The option and its request (a profile may judge one option apart from its feature: kata's /proc allow-list). */
  option: RequestedOption;
  request: ContainerRequest;
}

const SEVERITY_ORDER: Record<Severity, number> = { error: 0, warning: 1, info: 2, hint: 3 };

export class Linter {
  private readonly frontEnds: readonly FrontEnd[];
  private readonly rules: readonly Rule[];
  private readonly configs = new Map<string, LintConfig>();
  /** Config file per folder: a walk visits many files per folder, and discovery stats every parent. */
  private readonly configPaths = new Map<string, string | undefined>();
  private readonly reportedConfigs = new Set<string>();
  /** The config of files no config file covers: one object, so that what is kept per config (`keptFindings`) is found again. */
  private defaults: LintConfig | undefined;
  private readonly profiles = new Map<string, Profile>();
  /**
   * With `incremental`: the findings of each request the rules checked, under the config and
   * profile they were checked with (front ends hand a request over again while its text is unchanged).
   */
  private readonly keptFindings = new WeakMap<ContainerRequest, { config: LintConfig; profile: Profile; findings: Finding[] }>();
  /** Per path, the incremental YAML parse of its last text (with `incremental`). */
  private readonly yamlBlocks = new Map<string, YamlBlockCache>();
  /** Per path, the requests of its last text a front end keeps (with `incremental`). */
  private readonly keptRequests = new Map<string, KeptRequests>();

  constructor(private readonly options: LinterOptions = {}) {
    this.frontEnds = options.frontEnds ?? FRONT_ENDS;
    this.rules = options.rules ?? RULES;
  }

  /** The config that applies to a file: --config, else the nearest .vmrt-lint.yaml, else the defaults (over the base). */
  configFor(path: string): LintConfig {
    const configPath = this.options.configPath ? resolve(this.options.configPath) : this.discoverConfig(dirname(resolve(path)));
    if (!configPath) return (this.defaults ??= defaultConfig(this.options.base));
    let config = this.configs.get(configPath);
    if (!config) this.configs.set(configPath, (config = loadConfig(configPath, this.options.base)));
    return config;
  }

  /**
   * Forgets the config file at `configPath` (changed, created or deleted), or every
   * config file: the next lint reads them again, and reports their problems again.
   */
  invalidateConfigs(configPath?: string): void {
    // Any created or deleted file changes which config a folder finds.
    this.configPaths.clear();
    if (configPath === undefined) {
      this.configs.clear();
      this.reportedConfigs.clear();
    } else {
      this.configs.delete(resolve(configPath));
      this.reportedConfigs.delete(resolve(configPath));
    }
  }

  /** Drops what `incremental` keeps for a path (its editor buffer was closed). */
  forgetText(path: string): void {
    this.yamlBlocks.delete(path);
    this.keptRequests.delete(path);
  }

  /** Every option in `requests` some rule recognises, under any profile. */
  recognisedOptions(requests: readonly ContainerRequest[]): RecognisedOption[] {
    const found: RecognisedOption[] = [];
    // A rule that throws recognises nothing here; lintText reports it.
    forEachHit(
      this.rules,
      requests,
      () => undefined,
      (rule, hit, request) => {
        found.push({
          feature: rule.meta.feature,
          rule: rule.meta.id,
          file: hit.option.file,
          range: hit.option.range,
          option: hit.option,
          request,
        });
      },
    );
    return found;
  }

  private discoverConfig(dir: string): string | undefined {
    if (!this.configPaths.has(dir)) this.configPaths.set(dir, findConfig(dir));
    return this.configPaths.get(dir);
  }

  /**
   * Lints a file on disk. A file found by walking a folder (`explicit` false) that no
   * front end reads, or that is binary or too large without a name that says it is
   * ours, is skipped silently.
   */
  lintFile(path: string, explicit = true): FileResult {
    const read = this.read(path);
    if ('problem' in read) return this.unreadable(path, read.problem, explicit);
    return this.lintSource(path, read.text, explicit);
  }

  /** Lints text as the file `path` (an editor buffer, stdin). */
  lintText(path: string, text: string, forceKind = true): FileResult {
    const problem = textProblem(path, text);
    if (problem) return this.unreadable(path, problem, true, forceKind);
    return this.lintSource(path, text, forceKind, this.options.incremental);
  }

  /** A file the engine refuses (too large, binary, unreadable): one finding, unless a folder walk found a file that is not ours. */
  private unreadable(path: string, problem: FileProblem, explicit: boolean, forceKind = explicit): FileResult {
    const kind = forceKind ? (this.options.kind ?? kindByName(path)) : kindByName(path);
    const config = this.configFor(path);
    if (!explicit && !kind)
      return { file: path, linted: false, findings: [], config, requests: [], dependencies: [], skipped: problem.message };
    return this.finish(path, kind, true, config, [problemFinding(problem)], new Map([[path, undefined]]));
  }

  /** A file's text: the caller's buffer when it has one, else the disk. */
  private read(path: string): ReadResult {
    const buffer = this.options.buffers?.(path);
    if (buffer === undefined) return readSource(path);
    const problem = textProblem(path, buffer);
    return problem ? { problem } : { text: buffer };
  }

  private lintSource(path: string, text: string, forceKind: boolean, incremental = false): FileResult {
    const config = this.configFor(path);
    const texts = new Map<string, string | undefined>([[path, text]]);
    let frontEnd: FrontEnd | undefined;
    try {
      // Detection parses content (an OCI config is known by its "ociVersion"): guarded as parsing is.
      frontEnd = selectFrontEnd(path, text, forceKind ? this.options.kind : undefined, this.frontEnds);
    } catch (error) {
      return this.finish(path, kindByName(path), true, config, [failureFinding(path, 'content detection', error)], texts);
    }
    if (!frontEnd) return { ...this.finish(path, undefined, false, config, [], texts), skipped: 'no front end reads this kind of file' };

    const dependencies = new Set<string>();
    /** Files the front end asked for that exist but were refused (a FIFO as .env, /dev/zero as an include), and where they are named. */
    const refused = new Map<string, { problem: FileProblem; namedAt?: Place }>();
    const context: FrontEndContext = {
      readFile: (other, namedAt) => {
        if (other !== path) dependencies.add(other);
        const text = this.cachedText(texts, other, refused);
        const refusal = refused.get(other);
        if (refusal && !refusal.namedAt && namedAt) refusal.namedAt = namedAt;
        return text;
      },
      env: this.options.env ?? process.env,
      runtimeClasses: config.runtimeClasses,
      yamlBlocks: incremental ? this.blockCache(path) : undefined,
      keptRequests: incremental ? this.requestsKept(path) : undefined,
    };

    const findings: Finding[] = [];
    let requests: ContainerRequest[] = [];
    try {
      const result = frontEnd.parse({ path, text }, context);
      context.keptRequests?.commit();
      requests = result.requests;
      findings.push(...result.problems.map(problemFinding));
      const profile = this.profile(config);
      const reported = this.rules.filter((rule) => mayReport(profile, rule.meta.feature));
      // Most features have one verdict; those with cases (kata's /proc allow-list) are judged per option.
      const verdicts = new Map(reported.map((rule) => [rule, verdictFor(profile, rule.meta.feature)]));
      const judgedPerOption = new Set(reported.filter((rule) => profile.features[rule.meta.feature]?.cases));
      // A request the front end kept from the last lint (an unchanged compose service) has the findings it had then.
      const kept = incremental ? this.keptFindings : undefined;
      const checked: ContainerRequest[] = [];
      for (const request of requests) {
        const before = kept?.get(request);
        if (before && before.config === config && before.profile === profile) findings.push(...before.findings);
        else checked.push(request);
      }
      const found = new Map<ContainerRequest, Finding[]>();
      const add = (request: ContainerRequest, finding: Finding) => {
        const list = found.get(request);
        if (list) list.push(finding);
        else found.set(request, [finding]);
        findings.push(finding);
      };
      const failed = (rule: Rule, error: unknown, request: ContainerRequest) =>
        add(request, internalError(path, `rule ${rule.meta.id}`, error));
      forEachHit(reported, checked, failed, (rule, hit, request) => {
        const verdict = judgedPerOption.has(rule) ? verdictFor(profile, rule.meta.feature, hit.option, request) : verdicts.get(rule);
        if (!verdict) return;
        const finding: Finding = {
          file: hit.option.file,
          feature: rule.meta.feature,
          rule: rule.meta.id,
          severity: verdict.severity,
          message: findingMessage(hit.subject, verdict, profile.id),
          range: hit.option.range,
          docs: rule.meta.docs,
        };
        if (hit.fix) defineLazyFix(finding, hit.fix);
        add(request, finding);
      });
      for (const request of checked) kept?.set(request, { config, profile, findings: found.get(request) ?? [] });
    } catch (error) {
      findings.push(failureFinding(path, `the ${frontEnd.kind} front end`, error));
    }
    for (const [other, { problem, namedAt }] of refused) {
      const file = namedAt?.file ?? path;
      const name = relative(dirname(file), other);
      const shown = name && !name.startsWith('..') && !isAbsolute(name) ? name : other;
      findings.push(
        problemFinding({ ...problem, file, range: namedAt?.range ?? FILE_START, message: `cannot read ${shown}: ${problem.message}` }),
      );
    }
    return this.finish(path, frontEnd.kind, true, config, findings, texts, { requests, dependencies: [...dependencies] });
  }

  private requestsKept(path: string): KeptRequests {
    let kept = this.keptRequests.get(path);
    if (!kept) this.keptRequests.set(path, (kept = new KeptRequests()));
    return kept;
  }

  private blockCache(path: string): YamlBlockCache {
    let cache = this.yamlBlocks.get(path);
    if (!cache) this.yamlBlocks.set(path, (cache = new YamlBlockCache()));
    return cache;
  }

  /** A file's text, read once per lint (undefined when it cannot be read). */
  private cachedText(
    texts: Map<string, string | undefined>,
    path: string,
    refused?: Map<string, { problem: FileProblem; namedAt?: Place }>,
  ): string | undefined {
    if (!texts.has(path)) {
      const read = this.read(path);
      texts.set(path, 'problem' in read ? undefined : read.text);
      if ('problem' in read && !read.missing) refused?.set(path, { problem: read.problem });
    }
    return texts.get(path);
  }

  private profile(config: LintConfig): Profile {
    const chosen = this.options.profile ?? config.profile ?? DEFAULT_PROFILE;
    if (typeof chosen !== 'string') return chosen;
    let profile = this.profiles.get(chosen);
    if (!profile) this.profiles.set(chosen, (profile = getProfile(chosen)));
    return profile;
  }

  /** Severity overrides, ignores and pragmas, then the config's own problems (once per config file). */
  private finish(
    path: string,
    kind: FileKind | undefined,
    linted: boolean,
    config: LintConfig,
    raw: Finding[],
    texts: Map<string, string | undefined>,
    read: Pick<FileResult, 'requests' | 'dependencies'> = { requests: [], dependencies: [] },
  ): FileResult {
    const pragmasDisabled = this.options.disableIgnorePragma || config.disableIgnorePragma;
    const suppressions = new Map<string, Suppressions | undefined>();
    const suppressionsOf = (file: string) => {
      if (!suppressions.has(file)) {
        const text = this.cachedText(texts, file);
        suppressions.set(
          file,
          text === undefined || !kind
            ? undefined
            : new Suppressions(text, COMMENT_STYLES[kind], kind === 'compose' || kind === 'kubernetes'),
        );
      }
      return suppressions.get(file);
    };
    const findings: Finding[] = [];
    for (const finding of raw) {
      const override = config.severity[finding.rule] ?? config.severity[finding.feature];
      if (override === 'off') continue;
      if (config.ignored.includes(finding.rule) || config.ignored.includes(finding.feature)) continue;
      if (!pragmasDisabled && suppressionsOf(finding.file)?.suppresses(finding)) continue;
      // The findings are this call's own objects: set the severity in place, keeping a lazy fix lazy.
      if (override) finding.severity = override;
      findings.push(finding);
    }
    if (config.path && config.problems.length > 0 && !this.reportedConfigs.has(config.path)) {
      this.reportedConfigs.add(config.path);
      findings.push(...config.problems);
    }
    return { file: path, kind, linted, findings: capFindings(findings.sort(compareFindings)), config, ...read };
  }
}

/**
 * Each rule's hits in each request, rule by rule; a rule that throws is reported to
 * `failed` and skipped for that request. A callback, not a generator: this runs for every
 * rule and request on each keystroke, and iterator objects would be garbage.
 */
function forEachHit(
  rules: readonly Rule[],
  requests: readonly ContainerRequest[],
  failed: (rule: Rule, error: unknown, request: ContainerRequest) => void,
  onHit: (rule: Rule, hit: RuleHit, request: ContainerRequest) => void,
): void {
  // Every hit is one of the request's options: a request without options has none (most build stages, many services).
  const requesting = requests.filter((request) => request.options.length > 0);
  for (const rule of rules) {
    for (const request of requesting) {
      let hits: readonly RuleHit[];
      try {
        hits = rule.check(request);
      } catch (error) {
        failed(rule, error, request);
        continue;
      }
      for (let i = 0; i < hits.length; i++) onHit(rule, hits[i]!, request);
    }
  }
}

/** More findings of one rule in one file than anyone reads; the rest are counted in one finding. */
export const MAX_FINDINGS_PER_RULE = 200;
/** The same, for all rules of a file. */
export const MAX_FINDINGS_PER_FILE = 1000;

/**
 * Keeps the first findings (in order) of each rule per file and of each file, and says how
 * many more there were: a generated file with 700,000 flags must not print 430 MB, nor
 * send the editor a diagnostic per flag.
 */
function capFindings(sorted: Finding[]): Finding[] {
  if (sorted.length <= MAX_FINDINGS_PER_RULE) return sorted;
  const kept: Finding[] = [];
  const perFile = new Map<string, number>();
  const perRule = new Map<string, number>();
  const dropped = new Map<string, { file: string; rule: string; count: number }>();
  for (const finding of sorted) {
    const ruleKey = `${finding.file}\0${finding.rule}`;
    const ofRule = perRule.get(ruleKey) ?? 0;
    const ofFile = perFile.get(finding.file) ?? 0;
    if (ofRule < MAX_FINDINGS_PER_RULE && ofFile < MAX_FINDINGS_PER_FILE) {
      perRule.set(ruleKey, ofRule + 1);
      perFile.set(finding.file, ofFile + 1);
      kept.push(finding);
    } else {
      const entry = dropped.get(ruleKey) ?? { file: finding.file, rule: finding.rule, count: 0 };
      entry.count++;
      dropped.set(ruleKey, entry);
    }
  }
  for (const { file, rule, count } of dropped.values()) {
    kept.push({
      file,
      feature: 'file',
      rule: 'too-many-findings',
      severity: 'info',
      message: `${count} more ${rule} finding${count === 1 ? '' : 's'} in this file not shown (at most ${MAX_FINDINGS_PER_RULE} per rule and ${MAX_FINDINGS_PER_FILE} per file)`,
      range: FILE_START,
      docs: 'docs/features/file.md',
    });
  }
  return kept.sort(compareFindings);
}

/** Lints files (or texts already read) and returns every finding, each once. */
export function lint(paths: readonly string[], options: LinterOptions = {}): Finding[] {
  const linter = new Linter(options);
  return uniqueFindings(paths.flatMap((path) => linter.lintFile(path).findings));
}

/** Drops repeats (an extended compose file linted by itself and through its child); `seen` carries the keys over calls. */
export function uniqueFindings(findings: Iterable<Finding>, seen = new Set<string>()): Finding[] {
  const unique: Finding[] = [];
  for (const f of findings) {
    const key = `${f.file}\0${f.rule}\0${f.range.start.line}:${f.range.start.character}-${f.range.end.line}:${f.range.end.character}\0${f.message}`;
    if (!seen.has(key)) {
      seen.add(key);
      unique.push(f);
    }
  }
  return unique;
}

export function compareFindings(a: Finding, b: Finding): number {
  return (
    compareText(a.file, b.file) ||
    a.range.start.line - b.range.start.line ||
    a.range.start.character - b.range.start.character ||
    SEVERITY_ORDER[a.severity] - SEVERITY_ORDER[b.severity] ||
    compareText(a.rule, b.rule)
  );
}

/** Code unit order: stable across locales, and much cheaper than localeCompare. */
function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * `finding.fix`, computed on first read (JSON.stringify and the LSP read it; tty output
 * never does). A fix without edits is no fix.
 */
function defineLazyFix(finding: Finding, compute: () => Fix | undefined): void {
  let fix: Fix | undefined;
  let computed = false;
  Object.defineProperty(finding, 'fix', {
    enumerable: true,
    configurable: true,
    get: () => {
      if (!computed) {
        computed = true;
        try {
          const value = compute();
          fix = value && value.edits.length > 0 ? value : undefined;
        } catch {
          // A fix that cannot be computed is left out; the finding itself stands.
          fix = undefined;
        }
      }
      return fix;
    },
  });
}

export function problemFinding(problem: FileProblem): Finding {
  const feature = problem.rule === 'parse-error' || problem.rule === 'schema' ? problem.rule : 'file';
  return {
    file: problem.file,
    feature,
    rule: problem.rule,
    severity: problem.severity,
    message: problem.message,
    range: problem.range,
    docs: `docs/features/${feature}.md`,
  };
}

/**
 * A front end that failed: a stack overflow is input nested deeper than any parser here
 * recurses (thousands of brackets, `${V:-${V:-…}}`, `$(` or extends levels), which is the
 * file's problem, not ours; anything else is an internal error.
 */
function failureFinding(file: string, where: string, error: unknown): Finding {
  if (error instanceof RangeError && /call stack/i.test(error.message)) {
    return problemFinding({
      rule: 'parse-error',
      file,
      severity: 'error',
      range: FILE_START,
      message: 'the file is nested too deeply to be read (thousands of levels of brackets, substitutions or extends): not linted',
    });
  }
  return internalError(file, where, error);
}

function internalError(file: string, where: string, error: unknown): Finding {
  const detail = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return {
    file,
    feature: 'file',
    rule: 'internal-error',
    severity: 'error',
    message: `internal error in ${where}: ${detail} (please report it; the other files were linted)`,
    range: FILE_START,
    docs: 'docs/features/file.md',
  };
}
