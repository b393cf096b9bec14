/**
 * What the vmrt client and server say to each other beyond LSP itself. Shared by
 * both sides (the client bundles this file), so it imports nothing.
 */

/** File kinds whose syntax errors another extension may already report. */
export type SyntaxKind = 'dockerfile' | 'compose';

export interface InitializationOptions {
  /** Leave syntax errors of these kinds to the extension that owns them (no duplicate diagnostics). */
  syntaxDiagnosticsElsewhere?: SyntaxKind[];
  /** Quiet time after the last edit before a document is linted again. */
  debounceMs?: number;
}

/** Request: lint these files from disk (or their open buffers) and publish their diagnostics. */
export const LINT_FILES = 'vmrt/lintFiles';
export interface LintFilesParams {
  uris: string[];
}
export interface LintFilesResult {
  files: number;
  findings: number;
}

/** Request: the profile that applies to a document (its folder's .vmrt-lint.yaml, else the settings). */
export const ACTIVE_PROFILE = 'vmrt/activeProfile';
export interface ActiveProfileParams {
  uri: string;
}
export interface ActiveProfileResult {
  profile: string;
  /** The profile's one-line description (the runtime and the source of its facts). */
  description: string;
  configFile?: string;
}

/** Request: every lint profile with its description, for the editor's profile picker. */
export const PROFILES = 'vmrt/profiles';
export interface ProfileChoice {
  profile: string;
  description: string;
}

/**
 * Request: lint what a launch is about to run (a `docker run` line in the workspace folder,
 * or a file) against the `vmrt` profile whatever the editor's profile: it runs on vmrt.
 */
export const LINT_LAUNCH = 'vmrt/lintLaunch';
export type LaunchSource = { kind: 'command'; line: string; folder: string } | { kind: 'file'; path: string };
export interface LaunchFinding {
  rule: string;
  severity: 'error' | 'warning' | 'info' | 'hint';
  message: string;
  /** The title of the fix the engine offers, if any. */
  fix?: string;
}
export interface LintLaunchResult {
  findings: LaunchFinding[];
}

/** Every file the engine may read, for "vmrt: Lint Workspace" (the server still decides by name and content). */
export const LINT_WORKSPACE_GLOB =
  '**/{Dockerfile,Dockerfile.*,Containerfile,Containerfile.*,*.dockerfile,*.containerfile,*.yml,*.yaml,*.json,*.jsonc,*.sh,*.bash,Makefile,GNUmakefile,makefile,*.mk,*.md,*.markdown}';

/** The settings section the client contributes (package.json `contributes.configuration`). */
export interface ClientSettings {
  lint?: { enable?: boolean; profile?: string; severity?: Record<string, string> };
  kubernetes?: { runtimeClasses?: string[] };
}
