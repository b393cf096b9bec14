/**
 * Command lines: `docker|podman|nerdctl run|create …` and the docker commands that are
 * runtime features by themselves, in shell scripts, Makefile recipes, Markdown fenced
 * blocks and GitHub Actions workflows (or any text file the engine hands over).
 */
import { basename } from 'node:path';
import { LineIndex } from '../../core/positions.js';
import type { ContainerRequest, FileProblem, FrontEnd, FrontEndResult, RequestedOption, SourceFile } from '../../core/types.js';
import { makefileShell, markdownShell, workflowSources } from './sources.js';
import { parseDockerCommand, parseRunFlags, type ArgWord, type CliOption } from './docker-cli.js';
import { shellFlagEditor } from './flag-edits.js';
import { MappedText, splitShellCommands, splitShellWords, type SplitOptions } from './shell-words.js';

const SCRIPT_NAME = /\.(?:sh|bash)$/;
const MAKEFILE_NAME = /^(?:(?:GNU)?[Mm]akefile|.+\.mk)$/;
const MARKDOWN_NAME = /\.(?:md|markdown)$/i;
const WORKFLOW_PATH = /(?:^|[\\/])\.github[\\/]workflows[\\/][^\\/]+\.ya?ml$/;
const SHELL_SHEBANG = /^#!\s*\S*?(?:\/|\/env\s+(?:-\S+\s+)*)(?:ba|z|da)?sh(?:\s|$)/;

type Flavour = 'script' | 'makefile' | 'markdown' | 'workflow';

function flavourOf(path: string): Flavour {
  const name = basename(path);
  if (WORKFLOW_PATH.test(path)) return 'workflow';
  if (MAKEFILE_NAME.test(name)) return 'makefile';
  if (MARKDOWN_NAME.test(name)) return 'markdown';
  return 'script';
}

/** Builds requests with exact ranges and shell-syntax editors for one file. */
class RequestBuilder {
  readonly index: LineIndex;
  readonly requests: ContainerRequest[] = [];

  constructor(private readonly file: SourceFile) {
    this.index = new LineIndex(file.text);
  }

  option(words: readonly ArgWord[], option: CliOption, text: MappedText): RequestedOption {
    const requested: RequestedOption = {
      option: option.option,
      value: option.value,
      file: this.file.path,
      range: this.index.range(option.at.start, option.at.end),
    };
    const edit = text.approximate ? undefined : shellFlagEditor(this.index, words, option.at);
    if (edit) requested.edit = edit;
    return requested;
  }

  request(options: RequestedOption[], name: string | undefined): void {
    const request: ContainerRequest = { kind: 'command', file: this.file.path, options };
    if (name !== undefined) request.name = name;
    this.requests.push(request);
  }

  /** Every docker command among the shell's simple commands. */
  script(text: MappedText, fallbackName?: string, options?: SplitOptions): void {
    for (const command of splitShellCommands(text, options)) {
      const invocation = parseDockerCommand(command.words);
      if (!invocation) continue;
      if (invocation.action === 'run' || invocation.action === 'create') {
        this.request(
          invocation.options.map((o) => this.option(command.words, o, text)),
          invocation.name ?? fallbackName,
        );
      } else {
        this.request(
          [
            {
              option: 'command',
              value: invocation.action,
              file: this.file.path,
              range: this.index.range(invocation.start, invocation.end),
            },
            ...invocation.options.map((o) => this.option(command.words, o, text)),
          ],
          fallbackName,
        );
      }
    }
  }

  /** A bare list of docker create flags (Actions `options`). */
  flags(text: MappedText, name: string): void {
    const words = splitShellWords(text);
    const parsed = parseRunFlags(words, 0, 'options');
    this.request(
      parsed.options.map((o) => this.option(words, o, text)),
      name,
    );
  }
}

export const commandFrontEnd: FrontEnd = {
  kind: 'command',

  detect(path, text) {
    const name = basename(path);
    return (
      SCRIPT_NAME.test(name) ||
      MAKEFILE_NAME.test(name) ||
      MARKDOWN_NAME.test(name) ||
      WORKFLOW_PATH.test(path) ||
      SHELL_SHEBANG.test(text.slice(0, 200))
    );
  },

  parse(file): FrontEndResult {
    const builder = new RequestBuilder(file);
    const problems: FileProblem[] = [];
    switch (flavourOf(file.path)) {
      case 'makefile':
        builder.script(makefileShell(file.text));
        break;
      case 'markdown':
        for (const block of markdownShell(file.text)) builder.script(block, undefined, { placeholders: true });
        break;
      case 'script':
        builder.script(MappedText.identity(file.text));
        break;
      case 'workflow': {
        const sources = workflowSources(file.text);
        for (const error of sources.errors) {
          problems.push({
            rule: 'parse-error',
            file: file.path,
            severity: 'error',
            range: builder.index.range(error.start, error.end),
            message: `YAML syntax error: ${error.message}`,
          });
        }
        for (const options of sources.options) builder.flags(options.text, options.name);
        for (const script of sources.scripts) builder.script(script.text, script.name);
        break;
      }
    }
    return { requests: builder.requests, problems };
  },
};
