/**
 * The seam between the language server and the lint engine (server/src/engine): the
 * server speaks of documents (a path and the text of an editor buffer) and editor
 * settings; this module turns them into engine calls.
 *
 * The engine's Linter discovers `.vmrt-lint.yaml` on disk and caches it; the editor
 * layers its settings under that file (settings.ts), so a Linter is kept per
 * settings value and dropped whenever a config file or the settings change.
 */
import { readFileSync } from 'node:fs';
import { type LintConfig, parseConfig } from '../engine/config.js';
import { Linter, problemFinding } from '../engine/lint.js';
import { decodeSource, MAX_FILE_BYTES, readSource } from '../engine/read.js';
import type { FileKind, FrontEndContext, Finding, Range } from '../engine/types.js';
import { selectFrontEnd } from '../frontends/index.js';
import type { ProfileName } from '../profiles/index.js';
import { RULES } from '../rules/index.js';
import { layerConfig, type EditorSettings } from './settings.js';

export interface DocumentLint {
  /** The front end that read the document; undefined when none does. */
  kind?: FileKind;
  /** Findings located in this document. */
  findings: Finding[];
  /** Findings located in files this document extends or includes (compose), found through it. */
  elsewhere: Finding[];
  profile: ProfileName;
}

/** A place in a document where a rule recognises a feature, whether or not the active profile reports it. */
export interface FeatureHit {
  feature: Finding['feature'];
  rule: string;
  range: Range;
}

/** The linter of one settings value: the engine's, with the settings under each config file. */
class EditorLinter extends Linter {
  private readonly layered = new Map<string, LintConfig>();

  constructor(private readonly settings: EditorSettings) {
    super();
  }

  override configFor(path: string): LintConfig {
    const file = super.configFor(path);
    const key = file.path ?? '';
    let config = this.layered.get(key);
    if (!config) this.layered.set(key, (config = layerConfig(file, file.path === undefined ? undefined : readText(file.path), this.settings)));
    return config;
  }
}

export class LintEngine {
  private readonly linters = new Map<string, EditorLinter>();

  /** Config files or settings changed: forget every cached config. */
  reset(): void {
    this.linters.clear();
  }

  /** Lints an editor buffer as the file `path`. */
  lintDocument(path: string, text: string, settings: EditorSettings): DocumentLint {
    const linter = this.linter(settings);
    const { profile } = this.profileFor(path, settings);
    if (text.length > MAX_FILE_BYTES / 4 && Buffer.byteLength(text) > MAX_FILE_BYTES) {
      const read = decodeSource(path, Buffer.from(text));
      if ('problem' in read) return { findings: [problemFinding(read.problem)], elsewhere: [], profile };
    }
    const result = linter.lintText(path, text, false);
    return { kind: result.kind, ...splitByFile(result.findings, path), profile };
  }

  /** Lints a file that is not open (Lint Workspace); undefined when no front end reads it. */
  lintClosedFile(path: string, settings: EditorSettings): DocumentLint | undefined {
    const linter = this.linter(settings);
    const result = linter.lintFile(path, false);
    if (!result.linted) return undefined;
    return { kind: result.kind, ...splitByFile(result.findings, path), profile: result.config.profile ?? settings.profile };
  }

  /** Problems of a `.vmrt-lint.yaml` buffer. */
  lintConfigDocument(path: string, text: string): Finding[] {
    return parseConfig(path, text).problems;
  }

  /** The profile that applies to a file, and the config file that chose it (if one did). */
  profileFor(path: string, settings: EditorSettings): { profile: ProfileName; configFile?: string } {
    const config = this.linter(settings).configFor(path);
    return { profile: config.profile ?? settings.profile, ...(config.path ? { configFile: config.path } : {}) };
  }

  /** Every feature the rules recognise in the document, under any profile (for hovers on options that are fine here). */
  featureHits(path: string, text: string, settings: EditorSettings): FeatureHit[] {
    const frontEnd = selectFrontEnd(path, text);
    if (!frontEnd) return [];
    const { requests } = frontEnd.parse({ path, text }, this.context(path, settings));
    return requests.flatMap((request) => RULES.flatMap((rule) => rule.check(request)
      .filter((hit) => hit.option.file === path)
      .map((hit) => ({ feature: rule.meta.feature, rule: rule.meta.id, range: hit.option.range }))));
  }

  /** Files whose contents the document's findings depend on (compose .env, extends, include). */
  dependencies(path: string, text: string, settings: EditorSettings): string[] {
    const frontEnd = selectFrontEnd(path, text);
    return frontEnd?.dependencies?.({ path, text }, this.context(path, settings)) ?? [];
  }

  private context(path: string, settings: EditorSettings): FrontEndContext {
    return {
      readFile: (other) => { const read = readSource(other); return 'problem' in read ? undefined : read.text; },
      env: process.env,
      runtimeClasses: this.linter(settings).configFor(path).runtimeClasses,
    };
  }

  private linter(settings: EditorSettings): EditorLinter {
    const key = JSON.stringify(settings);
    let linter = this.linters.get(key);
    if (!linter) this.linters.set(key, (linter = new EditorLinter(settings)));
    return linter;
  }
}

/** A document's own findings, and the feature findings it leads to in other files (not their config or syntax problems). */
function splitByFile(findings: Finding[], path: string): Pick<DocumentLint, 'findings' | 'elsewhere'> {
  return {
    findings: findings.filter((f) => f.file === path),
    elsewhere: findings.filter((f) => f.file !== path && f.feature !== 'schema' && f.feature !== 'parse-error' && f.feature !== 'file'),
  };
}

function readText(path: string): string | undefined {
  try { return readFileSync(path, 'utf8'); } catch { return undefined; }
}
