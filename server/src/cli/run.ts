/** vmrt-lint's command line: options, file collection, output and exit code. */
import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { FailureThreshold } from '../engine/config.js';
import { THRESHOLDS } from '../engine/config.js';
import { Linter, uniqueFindings, compareFindings, type FileResult } from '../engine/lint.js';
import type { FileKind, Finding, Severity } from '../core/types.js';
import { FILE_KINDS } from '../frontends/index.js';
import { PROFILE_NAMES } from '../profiles/index.js';
import { displayPath, format, formatPart, formatSummary, FORMATS, STREAMED_FORMATS, tally, type Format } from './formats.js';
import { VERSION } from '../core/package-info.js';
import { walkFiles } from './walk.js';
import { readSource } from '../core/read.js';

export const USAGE = `Usage: vmrt-lint [options] <files or folders…>

Finds container settings that a VM runtime treats differently, in compose files,
Kubernetes manifests, OCI config.json, Dockerfiles, devcontainer.json and docker
command lines (shell scripts, Makefiles, Markdown, GitHub Actions).

Options:
  --profile <name>            ${PROFILE_NAMES.join(' | ')} (default: vmrt, or the config's)
  -f, --format <format>       ${FORMATS.join(' | ')} (default: tty; compact is one line
                              per finding, for problem matchers)
  --failure-threshold <level> ${THRESHOLDS.join(' | ')}: exit 1 when a finding reaches it (default: info)
  --no-fail                   always exit 0 unless the command line is wrong
  -c, --config <file>         use this config instead of the .vmrt-lint.yaml found above each file
  --kind <kind>               read the named files (and stdin) as ${FILE_KINDS.join(' | ')}
  --stdin-filename <name>     lint standard input as if it were the file <name>
  --disable-ignore-pragma     ignore every vmrt-ignore comment
  --docs-url <url>            where the docs are published, for SARIF links (default: the
                              repository of package.json)
  --verbose                   list the files a folder walk skipped, and why
  -h, --help                  show this help
  -v, --version               show the version

Exit status: 0 no finding reaches the threshold, 1 one does, 2 the command line is wrong.
`;

export interface CliIo {
  cwd: string;
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  readStdin: () => Promise<string>;
  color: boolean;
  /** The terminal's width, when stdout is one. */
  columns?: number;
  env: Readonly<Record<string, string | undefined>>;
}

class UsageError extends Error {}

const RANK: Record<Severity, number> = { error: 3, warning: 2, info: 1, hint: 0 };
const THRESHOLD_RANK: Record<FailureThreshold, number> = { error: 3, warning: 2, info: 1, none: Infinity };

function parse(argv: readonly string[]) {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      strict: true,
      options: {
        profile: { type: 'string' },
        format: { type: 'string', short: 'f' },
        'failure-threshold': { type: 'string' },
        'no-fail': { type: 'boolean' },
        config: { type: 'string', short: 'c' },
        kind: { type: 'string' },
        'stdin-filename': { type: 'string' },
        'disable-ignore-pragma': { type: 'boolean' },
        'docs-url': { type: 'string' },
        verbose: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean', short: 'v' },
      },
    });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const { values, positionals } = parsed;
  const oneOf = <T extends string>(value: string | undefined, allowed: readonly T[], what: string): T | undefined => {
    if (value !== undefined && !(allowed as readonly string[]).includes(value))
      throw new UsageError(`unknown ${what} '${value}' (expected ${allowed.join(', ')})`);
    return value as T | undefined;
  };
  return {
    positionals,
    help: values.help === true,
    version: values.version === true,
    profile: oneOf(values.profile, PROFILE_NAMES, 'profile'),
    format: oneOf(values.format, FORMATS, 'format') ?? ('tty' as Format),
    threshold: oneOf(values['failure-threshold'], THRESHOLDS, 'failure threshold'),
    noFail: values['no-fail'] === true,
    config: values.config,
    kind: oneOf<FileKind>(values.kind, FILE_KINDS, 'kind'),
    stdinFilename: values['stdin-filename'],
    disableIgnorePragma: values['disable-ignore-pragma'] === true,
    docsUrl: values['docs-url'],
    verbose: values.verbose === true,
  };
}

/** Runs vmrt-lint and returns its exit status. */
export async function run(argv: readonly string[], io: CliIo): Promise<number> {
  let options;
  try {
    options = parse(argv);
    if (options.help) {
      io.stdout(USAGE);
      return 0;
    }
    if (options.version) {
      io.stdout(`vmrt-lint ${VERSION}\n`);
      return 0;
    }
    if (options.positionals.length === 0 && options.stdinFilename === undefined)
      throw new UsageError('no file or folder to lint (give paths, or --stdin-filename to read standard input)');
    if (options.config !== undefined && !existsSync(resolve(io.cwd, options.config)))
      throw new UsageError(`the config file ${options.config} does not exist`);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    io.stderr(`vmrt-lint: ${error.message}\n\n${USAGE}`);
    return 2;
  }

  const linter = new Linter({
    profile: options.profile,
    configPath: options.config === undefined ? undefined : resolve(io.cwd, options.config),
    kind: options.kind,
    disableIgnorePragma: options.disableIgnorePragma,
    env: io.env,
  });
  // tty and compact print each file's findings as it is linted; the other formats are one document.
  const streamed = STREAMED_FORMATS.includes(options.format) ? (options.format as 'tty' | 'compact') : undefined;
  /** Findings kept for a one-document format; only counts and keys for a streamed one (memory stays flat over a big workspace). */
  const kept: Finding[] = [];
  const counts = tally([]);
  /** A finding reached through several files (a compose file extended by others) is shown once. */
  const seen = new Set<string>();
  let fileCount = 0;
  let fails = false;
  const skipped = (path: string, reason: string) => {
    if (options.verbose) io.stderr(`vmrt-lint: skipped ${displayPath(path, io.cwd)}: ${reason}\n`);
  };
  let stdinText: { path: string; text: string } | undefined;
  const formatOptions = {
    cwd: io.cwd,
    color: io.color && options.format === 'tty',
    width: io.columns,
    docsBase: options.docsUrl,
    source: (file: string) => {
      if (file === stdinText?.path) return stdinText.text;
      const read = readSource(file);
      return 'text' in read ? read.text : undefined;
    },
  };
  const report = (result: FileResult) => {
    if (result.linted) fileCount++;
    const threshold = THRESHOLD_RANK[options.threshold ?? result.config.failureThreshold ?? 'info'];
    if (result.findings.some((f) => RANK[f.severity] >= threshold)) fails = true;
    const fresh = uniqueFindings(result.findings, seen);
    tally(fresh, counts);
    if (!streamed) kept.push(...fresh);
    else if (fresh.length > 0) io.stdout(formatPart(streamed, fresh.sort(compareFindings), formatOptions));
  };
  const note = (path: string) =>
    io.stderr(
      `vmrt-lint: note: ${displayPath(path, io.cwd)}: no front end reads this kind of file; not linted (choose one with --kind ${FILE_KINDS.join('|')})\n`,
    );

  if (options.stdinFilename !== undefined) {
    const path = resolve(io.cwd, options.stdinFilename);
    stdinText = { path, text: await io.readStdin() };
    const result = linter.lintText(path, stdinText.text);
    if (!result.linted) note(path);
    report(result);
  }
  for (const argument of options.positionals) {
    const path = resolve(io.cwd, argument);
    if (existsSync(path) && statSync(path).isDirectory()) {
      for (const file of walkFiles(path, skipped)) {
        const result = linter.lintFile(file, false);
        if (result.linted || result.findings.length > 0) report(result);
        else if (result.skipped) skipped(file, result.skipped);
      }
    } else {
      const result = linter.lintFile(path, true);
      if (!result.linted) note(path);
      report(result);
    }
  }

  io.stdout(
    streamed ? formatSummary(counts, fileCount) : format(options.format, kept.sort(compareFindings), { ...formatOptions, fileCount }),
  );
  if (options.noFail) return 0;
  return fails ? 1 : 0;
}
