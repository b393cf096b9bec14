/**
 * The vmrt language server: incremental sync, a debounced re-lint per document that
 * never publishes results of an older version, hovers, code actions, completion,
 * configuration from the client and from .vmrt-lint.yaml, and re-lint of compose
 * files when a file they use (.env, extends, include) changes.
 *
 * Every handler runs through `guard`: an internal error is logged and answered with
 * an empty result, never a crash (a user's half-typed file must not stop the server).
 */
import { basename } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import {
  CodeActionKind,
  DidChangeConfigurationNotification,
  TextDocuments,
  TextDocumentSyncKind,
  type Connection,
  type InitializeParams,
  type InitializeResult,
  type Diagnostic,
} from 'vscode-languageserver/node';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { CONFIG_NAMES } from '../engine/config.js';
import type { RecognisedOption } from '../engine/lint.js';
import type { Finding } from '../core/types.js';
import { getProfile, PROFILE_NAMES } from '../profiles/index.js';
import { codeActions, FIX_ALL_KIND, SHOW_DOCS_COMMAND } from './code-actions.js';
import { configCompletions, pragmaCompletions } from './completion.js';
import { toDiagnostic } from './diagnostics.js';
import { DocumentLinter, type DocumentLint } from './document-linter.js';
import { hoverAt } from './hover.js';
import { launchFindings } from './launch-lint.js';
import {
  ACTIVE_PROFILE,
  LINT_FILES,
  LINT_LAUNCH,
  PROFILES,
  type ActiveProfileParams,
  type ActiveProfileResult,
  type ClientSettings,
  type InitializationOptions,
  type LaunchSource,
  type LintFilesParams,
  type LintFilesResult,
  type LintLaunchResult,
  type ProfileChoice,
  type SyntaxKind,
} from './protocol.js';
import { DEFAULT_SETTINGS, editorSettings, type EditorSettings } from './settings.js';

/** Long enough to absorb a burst (paste, multi-cursor, replace-all), short enough not to be felt. */
export const DEFAULT_DEBOUNCE_MS = 15;

interface Linted {
  version: number;
  lint: DocumentLint;
  /** Every option the rules recognise, computed on the first hover of this version. */
  recognised?: RecognisedOption[];
}

export function startServer(connection: Connection): void {
  const documents = new TextDocuments(TextDocument);
  /** Path → URI of the open documents: their buffers stand for their files when other documents read them. */
  const openPaths = new Map<string, string>();
  const engine = new DocumentLinter((path) => {
    const uri = openPaths.get(path);
    return uri === undefined ? undefined : documents.get(uri)?.getText();
  });
  const results = new Map<string, Linted>();
  /** Per document, how to cancel its scheduled lint. */
  const timers = new Map<string, () => void>();
  /** When each document was last linted (performance.now()). */
  const lastLint = new Map<string, number>();
  /** Lints of files that are not open (Lint Workspace), kept until the file changes or is opened. */
  const closedResults = new Map<string, DocumentLint>();
  /** Findings located in a file (key) that other documents (inner key) found through extends/include. */
  const foreign = new Map<string, Map<string, Finding[]>>();
  /** Dependency path → URIs of the documents that read it. */
  const dependents = new Map<string, Set<string>>();
  const settingsByUri = new Map<string, EditorSettings>();
  let globalSettings: EditorSettings = DEFAULT_SETTINGS;
  let pullConfiguration = false;
  let debounceMs = DEFAULT_DEBOUNCE_MS;
  let syntaxElsewhere = new Set<SyntaxKind>();

  const log = (message: string) => connection.console.error(`vmrt: ${message}`);
  function guard<A extends unknown[], R>(name: string, fallback: R, handler: (...args: A) => R): (...args: A) => R {
    return (...args: A) => {
      try {
        return handler(...args);
      } catch (error) {
        log(`${name} failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
        return fallback;
      }
    };
  }

  /** `guard` for a handler that answers later. */
  function guardAsync<A extends unknown[], R>(name: string, fallback: R, handler: (...args: A) => Promise<R>): (...args: A) => Promise<R> {
    return async (...args: A) => {
      try {
        return await handler(...args);
      } catch (error) {
        log(`${name} failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
        return fallback;
      }
    };
  }

  const pathOf = (uri: string) => (uri.startsWith('file:') ? fileURLToPath(uri) : uri);
  const isConfigFile = (uri: string) => (CONFIG_NAMES as readonly string[]).includes(basename(pathOf(uri)));
  const settingsFor = (uri: string) => settingsByUri.get(uri) ?? globalSettings;

  async function loadSettings(uri: string): Promise<EditorSettings> {
    if (!pullConfiguration) return globalSettings;
    const raw = (await connection.workspace.getConfiguration({ scopeUri: uri, section: 'vmrt' })) as ClientSettings | null;
    const settings = editorSettings(raw);
    settingsByUri.set(uri, settings);
    return settings;
  }

  /**
   * What to show for a file: an open document's own lint (its buffer is the truth: findings
   * other documents made from its saved text could point at moved lines); for a closed file,
   * its Lint Workspace result plus what open documents found in it through extends/include.
   */
  /** What tells findings apart: rule, severity, exact range and message. */
  function findingKey(f: Finding): string {
    const { start, end } = f.range;
    return `${f.rule}|${f.severity}|${start.line}:${start.character}-${end.line}:${end.character}|${f.message}`;
  }

  function findingsOf(uri: string): { findings: Finding[]; kind?: DocumentLint['kind'] } {
    const open = results.get(uri)?.lint;
    if (documents.get(uri)) return { findings: open?.findings ?? [], kind: open?.kind };
    const own = closedResults.get(uri);
    const seen = new Set<string>();
    const findings: Finding[] = [];
    for (const finding of [...(own?.findings ?? []), ...[...(foreign.get(uri)?.values() ?? [])].flat()]) {
      const key = findingKey(finding);
      if (!seen.has(key)) {
        seen.add(key);
        findings.push(finding);
      }
    }
    return { findings, kind: own?.kind };
  }

  function publish(uri: string, version?: number): void {
    const { findings, kind } = findingsOf(uri);
    const shown = findings.filter((f) => !(f.rule === 'parse-error' && kind && syntaxElsewhere.has(kind as SyntaxKind)));
    const diagnostics: Diagnostic[] = shown.map(toDiagnostic);
    void connection.sendDiagnostics({ uri, version, diagnostics });
  }

  /** Records what `source` found in other files and republishes the files whose share changed. */
  function setForeign(source: string, elsewhere: readonly Finding[]): void {
    const byTarget = new Map<string, Finding[]>();
    for (const finding of elsewhere) {
      const target = pathToFileURL(finding.file).href;
      byTarget.set(target, [...(byTarget.get(target) ?? []), finding]);
    }
    for (const [target, sources] of foreign) {
      if (sources.has(source) && !byTarget.has(target)) {
        sources.delete(source);
        if (!documents.get(target)) publish(target);
      }
    }
    for (const [target, found] of byTarget) {
      let sources = foreign.get(target);
      if (!sources) foreign.set(target, (sources = new Map()));
      // Keys, not whole findings: stringifying a finding would compute its lazy fix.
      if (sources.get(source)?.map(findingKey).join('\n') === found.map(findingKey).join('\n')) continue;
      sources.set(source, found);
      if (!documents.get(target)) publish(target);
    }
  }

  /** Lints the open document now and publishes, unless a newer version arrived meanwhile. */
  const lintNow = guard('lint', undefined, (uri: string): Linted | undefined => {
    const document = documents.get(uri);
    if (!document) return undefined;
    const settings = settingsFor(uri);
    const path = pathOf(uri);
    const version = document.version;
    const text = document.getText();
    const unlinted = (findings: Finding[]): DocumentLint => ({
      findings,
      elsewhere: [],
      profile: settings.profile,
      requests: [],
      dependencies: [],
    });
    let lint: DocumentLint;
    if (!settings.enable) lint = unlinted([]);
    else if (isConfigFile(uri)) lint = unlinted(engine.lintConfigDocument(path, text));
    else lint = engine.lintDocument(path, text, settings);
    if (documents.get(uri)?.version !== version) return undefined;
    const linted: Linted = { version, lint };
    results.set(uri, linted);
    lastLint.set(uri, performance.now());
    publish(uri, version);
    setForeign(uri, lint.elsewhere);
    trackDependencies(uri, lint.dependencies);
    return linted;
  });

  /** Records which files the document's last lint read. */
  function trackDependencies(uri: string, dependencies: readonly string[]): void {
    for (const users of dependents.values()) users.delete(uri);
    for (const dependency of dependencies) {
      let users = dependents.get(dependency);
      if (!users) dependents.set(dependency, (users = new Set()));
      users.add(uri);
    }
  }

  /** The lint of the document's current version, linting now if the last one is older. */
  function current(uri: string): Linted | undefined {
    const document = documents.get(uri);
    const last = results.get(uri);
    if (document && last && last.version === document.version) return last;
    return lintNow(uri);
  }

  /**
   * Leading edge: the first change after a quiet spell lints at once (on the next turn, so
   * changes already received apply first). Trailing edge: changes that arrive while a lint
   * is pending or just ran wait until `debounceMs` after the last of them.
   */
  function schedule(uri: string, why: 'edit' | 'context' = 'edit'): void {
    const pending = timers.get(uri);
    const quiet = performance.now() - (lastLint.get(uri) ?? -Infinity) >= debounceMs;
    pending?.();
    // An edit whose version is already linted (the open handler got there first) needs no second run;
    // a changed context (settings, config file, a dependency) re-lints the same version.
    const run = () => {
      timers.delete(uri);
      if (why === 'context' || results.get(uri)?.version !== documents.get(uri)?.version) lintNow(uri);
    };
    if (!pending && quiet) {
      // setImmediate, not setTimeout(0), which waits at least a millisecond.
      const immediate = setImmediate(run);
      timers.set(uri, () => clearImmediate(immediate));
    } else {
      const timer = setTimeout(run, debounceMs);
      timers.set(uri, () => clearTimeout(timer));
    }
  }

  function relintOpen(): void {
    for (const document of documents.all()) schedule(document.uri, 'context');
  }

  function relintDependents(path: string): void {
    for (const uri of dependents.get(path) ?? []) schedule(uri, 'context');
  }

  connection.onInitialize(
    guard('initialize', { capabilities: {} }, (params: InitializeParams): InitializeResult => {
      pullConfiguration = params.capabilities.workspace?.configuration === true;
      const options = (params.initializationOptions ?? {}) as InitializationOptions;
      syntaxElsewhere = new Set(options.syntaxDiagnosticsElsewhere ?? []);
      if (typeof options.debounceMs === 'number' && options.debounceMs >= 0) debounceMs = options.debounceMs;
      return {
        capabilities: {
          textDocumentSync: { openClose: true, change: TextDocumentSyncKind.Incremental, save: { includeText: false } },
          hoverProvider: true,
          codeActionProvider: { codeActionKinds: [CodeActionKind.QuickFix, FIX_ALL_KIND], resolveProvider: false },
          completionProvider: { triggerCharacters: [' ', ','], resolveProvider: false },
          executeCommandProvider: { commands: [SHOW_DOCS_COMMAND] },
        },
        serverInfo: { name: 'vmrt-language-server' },
      };
    }),
  );

  connection.onInitialized(
    guard('initialized', undefined, () => {
      if (pullConfiguration) void connection.client.register(DidChangeConfigurationNotification.type, { section: 'vmrt' });
    }),
  );

  connection.onDidChangeConfiguration(
    guard('configuration', undefined, (change: { settings?: { vmrt?: ClientSettings } }) => {
      settingsByUri.clear();
      if (!pullConfiguration) globalSettings = editorSettings(change.settings?.vmrt);
      engine.settingsChanged();
      void Promise.all(documents.all().map((d) => loadSettings(d.uri))).then(relintOpen, (error: unknown) =>
        log(`settings: ${String(error)}`),
      );
    }),
  );

  connection.onDidChangeWatchedFiles(
    guard('watched files', undefined, (params: { changes: { uri: string }[] }) => {
      let configChanged = false;
      for (const change of params.changes) {
        const path = pathOf(change.uri);
        if (isConfigFile(change.uri)) {
          configChanged = true;
          engine.configChanged(path);
        }
        // An open document's dependents read its buffer: what is on disk does not concern them.
        if (documents.get(change.uri)) continue;
        relintDependents(path);
        if (closedResults.has(change.uri)) lintClosed(change.uri);
      }
      if (configChanged) relintOpen();
    }),
  );

  documents.onDidOpen(
    guard('open', undefined, ({ document }) => {
      closedResults.delete(document.uri);
      openPaths.set(pathOf(document.uri), document.uri);
      void loadSettings(document.uri).then(
        () => lintNow(document.uri),
        (error: unknown) => log(`settings: ${String(error)}`),
      );
    }),
  );
  documents.onDidChangeContent(
    guard('change', undefined, ({ document }) => {
      // Until its settings arrive, the open handler lints the latest version itself.
      if (!pullConfiguration || settingsByUri.has(document.uri) || isConfigFile(document.uri)) schedule(document.uri);
      // Documents that read this one (its .env, its extends base) see the unsaved text.
      relintDependents(pathOf(document.uri));
    }),
  );
  documents.onDidSave(
    guard('save', undefined, ({ document }) => {
      if (isConfigFile(document.uri)) {
        engine.configChanged(pathOf(document.uri));
        relintOpen();
      }
    }),
  );
  documents.onDidClose(
    guard('close', undefined, ({ document }) => {
      openPaths.delete(pathOf(document.uri));
      engine.documentClosed(pathOf(document.uri));
      // Its dependents read the file on disk again, which may differ from the discarded buffer.
      relintDependents(pathOf(document.uri));
      timers.get(document.uri)?.();
      timers.delete(document.uri);
      lastLint.delete(document.uri);
      results.delete(document.uri);
      settingsByUri.delete(document.uri);
      trackDependencies(document.uri, []);
      setForeign(document.uri, []);
      publish(document.uri);
    }),
  );

  /** Lints a file that is not open and publishes its diagnostics; undefined when no front end reads it. */
  const lintClosed = guard('lint file', undefined, (uri: string): DocumentLint | undefined => {
    const lint = engine.lintClosedFile(pathOf(uri), settingsFor(uri));
    const had = closedResults.delete(uri);
    if (lint) closedResults.set(uri, lint);
    if (lint || had) publish(uri);
    if (lint) setForeign(uri, lint.elsewhere);
    return lint;
  });

  connection.onRequest(
    LINT_FILES,
    guardAsync('lint files', { files: 0, findings: 0 }, async (params: LintFilesParams): Promise<LintFilesResult> => {
      const result: LintFilesResult = { files: 0, findings: 0 };
      for (const uri of Array.isArray(params?.uris) ? params.uris.filter((uri) => typeof uri === 'string') : []) {
        await loadSettings(uri).catch((error: unknown) => log(`settings: ${String(error)}`));
        if (documents.get(uri)) {
          const linted = current(uri);
          if (linted?.lint.kind) {
            result.files++;
            result.findings += linted.lint.findings.length;
          }
          continue;
        }
        const lint = lintClosed(uri);
        if (lint) {
          result.files++;
          result.findings += lint.findings.length;
        }
      }
      return result;
    }),
  );

  const globalProfile = (): ActiveProfileResult => ({
    profile: globalSettings.profile,
    description: getProfile(globalSettings.profile).description,
  });
  connection.onRequest(
    ACTIVE_PROFILE,
    // A request without a usable uri gets the profile of the settings, as one outside any folder.
    guardAsync('active profile', globalProfile(), async (params: ActiveProfileParams): Promise<ActiveProfileResult> => {
      const uri: unknown = params?.uri;
      if (typeof uri !== 'string') return globalProfile();
      const settings = settingsByUri.get(uri) ?? (await loadSettings(uri).catch(() => globalSettings));
      const active = uri.startsWith('file:') ? engine.profileFor(pathOf(uri), settings) : { profile: settings.profile };
      return { ...active, description: getProfile(active.profile).description };
    }),
  );

  connection.onRequest(PROFILES, (): ProfileChoice[] =>
    PROFILE_NAMES.map((profile) => ({ profile, description: getProfile(profile).description })),
  );

  connection.onRequest(LINT_LAUNCH, (source: LaunchSource): LintLaunchResult => ({ findings: launchFindings(source) }));

  connection.onHover(
    guard('hover', null, (params) => {
      const document = documents.get(params.textDocument.uri);
      const linted = document && current(document.uri);
      if (!document || !linted || !linted.lint.kind) return null;
      const lint = linted.lint;
      const recognised = () => (linted.recognised ??= engine.recognisedOptions(pathOf(document.uri), lint, settingsFor(document.uri)));
      return hoverAt(params.position, lint.findings, recognised, lint.profile) ?? null;
    }),
  );

  connection.onCodeAction(
    guard('code actions', [], (params) => {
      const document = documents.get(params.textDocument.uri);
      const linted = document && current(document.uri);
      if (!document || !linted) return [];
      return codeActions({
        uri: document.uri,
        path: pathOf(document.uri),
        text: document.getText(),
        kind: linted.lint.kind,
        findings: linted.lint.findings,
        range: params.range,
        only: params.context.only,
      });
    }),
  );

  connection.onCompletion(
    guard('completion', [], (params) => {
      const document = documents.get(params.textDocument.uri);
      if (!document) return [];
      const profile = settingsFor(document.uri).profile;
      if (isConfigFile(document.uri)) return configCompletions(document.getText(), params.position, profile);
      return pragmaCompletions(
        document.getText(),
        params.position,
        engine.profileFor(pathOf(document.uri), settingsFor(document.uri)).profile,
      );
    }),
  );

  connection.onExecuteCommand(
    guard('command', undefined, (params) => {
      if (params.command !== SHOW_DOCS_COMMAND) return;
      const href = String(params.arguments?.[0] ?? '');
      void connection.window.showDocument({ uri: href, external: !href.startsWith('file:'), takeFocus: true });
    }),
  );

  documents.listen(connection);
  connection.listen();
}
