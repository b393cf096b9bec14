/**
 * The seam between the language server and the lint engine (server/src/engine): the
 * server speaks of documents (a path and the text of an editor buffer) and editor
 * settings; this module turns them into engine calls.
 *
 * A Linter is kept per settings value, with the settings as the base under each
 * `.vmrt-lint.yaml` and the open documents' buffers standing for their files on disk.
 */
import { parseConfig } from '../engine/config.js';
import { Linter, type FileResult, type RecognisedOption } from '../engine/lint.js';
import type { ContainerRequest, FileKind, Finding } from '../core/types.js';
import type { ProfileName } from '../profiles/index.js';
import { isFeatureId } from './hover.js';
import { configBase, type EditorSettings } from './settings.js';

export interface DocumentLint {
  /** The front end that read the document; undefined when none does. */
  kind?: FileKind;
  /** Findings located in this document. */
  findings: Finding[];
  /** Findings located in files this document extends or includes (compose), found through it. */
  elsewhere: Finding[];
  profile: ProfileName;
  /** What the front end read (hovers look up options no finding flags here). */
  requests: ContainerRequest[];
  /** Files the findings depend on (compose .env, extends, include). */
  dependencies: string[];
}

export class DocumentLinter {
  private readonly linters = new Map<string, Linter>();

  /** `buffers`: the text of an open document at this path, undefined when it is not open. */
  constructor(private readonly buffers: (path: string) => string | undefined) {}

  /** The settings changed: linters of other settings values are not needed any more. */
  settingsChanged(): void {
    this.linters.clear();
  }

  /** A config file changed (or every one, without a path): read it again. */
  configChanged(configPath?: string): void {
    for (const linter of this.linters.values()) linter.invalidateConfigs(configPath);
  }

  /** Lints an editor buffer as the file `path`. */
  lintDocument(path: string, text: string, settings: EditorSettings): DocumentLint {
    return documentLint(this.linter(settings).lintText(path, text, false), settings);
  }

  /** A document was closed: what was kept to lint its buffer incrementally is not needed any more. */
  documentClosed(path: string): void {
    for (const linter of this.linters.values()) linter.forgetText(path);
  }

  /** Lints a file that is not open (Lint Workspace); undefined when no front end reads it. */
  lintClosedFile(path: string, settings: EditorSettings): DocumentLint | undefined {
    const result = this.linter(settings).lintFile(path, false);
    return result.linted ? documentLint(result, settings) : undefined;
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

  /** Every option of the document a rule recognises, under any profile (for hovers on options that are fine here). */
  recognisedOptions(path: string, lint: DocumentLint, settings: EditorSettings): RecognisedOption[] {
    return this.linter(settings)
      .recognisedOptions(lint.requests)
      .filter((option) => option.file === path);
  }

  private linter(settings: EditorSettings): Linter {
    const key = JSON.stringify(settings);
    let linter = this.linters.get(key);
    if (!linter) this.linters.set(key, (linter = new Linter({ base: configBase(settings), buffers: this.buffers, incremental: true })));
    return linter;
  }
}

/**
 * A document's own findings, and the feature findings it leads to in other files (not
 * their config or syntax problems).
 */
function documentLint(result: FileResult, settings: EditorSettings): DocumentLint {
  const { file, findings } = result;
  return {
    kind: result.kind,
    findings: findings.filter((f) => f.file === file),
    elsewhere: findings.filter((f) => f.file !== file && isFeatureId(f.feature)),
    profile: result.config.profile ?? settings.profile,
    requests: result.requests,
    dependencies: result.dependencies,
  };
}
