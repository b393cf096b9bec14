/**
 * Dockerfile: the BuildKit flags of RUN that a VM runtime builds differently
 * (`--network`, `--security=insecure`, `--device`), one request per build stage.
 * RUN's flags are read apart from its shell command (dockerfile-ast's rules, see
 * instructions.ts), so `RUN echo --network=host` and heredoc bodies are
 * never read as flags.
 */
import { basename } from 'node:path';
import { LineIndex } from '../../core/positions.js';
import type {
  ContainerRequest,
  FileProblem,
  FrontEnd,
  FrontEndResult,
  OptionAssignment,
  OptionEditor,
  OptionName,
  OptionValues,
  RequestedOption,
  SourceFile,
  TextEdit,
} from '../../core/types.js';
import { dockerInstructions } from './instructions.js';
import { removalEdit } from '../command/flag-edits.js';

const DOCKERFILE_NAME = /^(?:(?:Docker|Container)file(?:\..+)?|.+\.(?:[Dd]ockerfile|[Cc]ontainerfile))$/;

const INSTRUCTIONS = new Set([
  'ADD',
  'ARG',
  'CMD',
  'COPY',
  'ENTRYPOINT',
  'ENV',
  'EXPOSE',
  'FROM',
  'HEALTHCHECK',
  'LABEL',
  'MAINTAINER',
  'ONBUILD',
  'RUN',
  'SHELL',
  'STOPSIGNAL',
  'USER',
  'VOLUME',
  'WORKDIR',
]);

/** The RUN flags this front end reads. */
const READ_FLAGS = new Set(['network', 'security', 'device']);

type RunFlagOption = Extract<OptionName, 'network' | 'privileged' | 'device'>;

/** RUN flags that request container options, and the option each requests. */
function runFlagOption(name: string, value: string): OptionAssignment<RunFlagOption> | undefined {
  switch (name) {
    case 'network':
      return { option: 'network', value };
    case 'security':
      return value === 'insecure' ? { option: 'privileged', value: true } : undefined;
    case 'device':
      return { option: 'device', value: { host: value.split(',')[0]! } };
    default:
      return undefined;
  }
}

/** A RUN flag in BuildKit syntax, for fixes that write one. */
function formatRunFlag(assignment: OptionAssignment): string | undefined {
  switch (assignment.option) {
    case 'network':
      return `--network=${assignment.value as string}`;
    case 'privileged':
      return assignment.value === true ? '--security=insecure' : undefined;
    case 'device':
      return `--device=${(assignment.value as OptionValues['device']).host}`;
    default:
      return undefined;
  }
}

/** Where a stage's text starts in a lint's text: its flags' edits are computed there (a kept stage moves). */
interface StagePlace {
  index: LineIndex;
  start: number;
}

/** The editor of the flag at `from`..`to`, offsets in the stage's text. */
function flagEditor(place: StagePlace, from: number, to: number): OptionEditor {
  return {
    remove: (): TextEdit[] => [removalEdit(place.index, place.start + from, place.start + to)],
    replace(options): TextEdit[] | undefined {
      const flags = options.map(formatRunFlag);
      if (flags.some((f) => f === undefined)) return undefined;
      return [{ range: place.index.range(place.start + from, place.start + to), newText: flags.join(' ') }];
    },
  };
}

function problem(file: SourceFile, index: LineIndex, start: number, end: number, message: string): FileProblem {
  return { rule: 'parse-error', file: file.path, severity: 'error', range: index.range(start, end), message };
}

export const dockerfileFrontEnd: FrontEnd = {
  kind: 'dockerfile',

  detect(path) {
    return DOCKERFILE_NAME.test(basename(path));
  },

  parse(file, ctx): FrontEndResult {
    const index = new LineIndex(file.text);
    const requests: ContainerRequest[] = [];
    const problems: FileProblem[] = [];
    const instructions = dockerInstructions(file.text, index);
    const lineStart = (offset: number) => file.text.lastIndexOf('\n', offset - 1) + 1;
    /** The stage being read: its request, where its text starts, and whether it is the last lint's (its options are known). */
    let stage: { request: ContainerRequest; place: StagePlace; kept: boolean } | undefined;

    for (let i = 0; i < instructions.length; i++) {
      const instruction = instructions[i]!;
      const { keyword, keywordStart, keywordEnd } = instruction;
      if (!INSTRUCTIONS.has(keyword)) {
        problems.push(
          problem(file, index, keywordStart, keywordEnd, `Unknown instruction ${keyword}: the builder rejects this Dockerfile.`),
        );
        continue;
      }
      if (keyword === 'FROM') {
        const name = instruction.stage() ?? String(requests.length);
        const place = { index, start: lineStart(keywordStart) };
        let next = i + 1;
        while (next < instructions.length && instructions[next]!.keyword !== 'FROM') next++;
        const end = next < instructions.length ? lineStart(instructions[next]!.keywordStart) : file.text.length;
        const line = ctx.keptRequests ? index.positionAt(place.start).line : -1;
        const kept = ctx.keptRequests?.take(line, index, place.start, end);
        const request = kept?.name === name ? kept : { kind: 'dockerfile' as const, name, file: file.path, options: [] };
        if (request !== kept)
          ctx.keptRequests?.keep(line, file.text.slice(place.start, end), {
            request,
            moveTo: (movedIndex, start) => {
              place.index = movedIndex;
              place.start = start;
            },
          });
        stage = { request, place, kept: request === kept };
        requests.push(request);
        continue;
      }
      if (!stage) {
        if (keyword !== 'ARG')
          problems.push(
            problem(file, index, keywordStart, keywordEnd, `${keyword} before the first FROM: the builder has no stage to run it in.`),
          );
        continue;
      }
      if (keyword !== 'RUN') continue;
      for (const { name, value, start, end } of instruction.flags()) {
        if (value === null) {
          if (READ_FLAGS.has(name)) problems.push(problem(file, index, start, end, `The flag --${name} needs a value (--${name}=…).`));
          continue;
        }
        if (stage.kept) continue;
        const assignment = runFlagOption(name, value);
        if (!assignment) continue;
        const option: RequestedOption = {
          option: assignment.option,
          value: assignment.value,
          file: file.path,
          range: index.range(start, end),
          edit: flagEditor(stage.place, start - stage.place.start, end - stage.place.start),
        };
        stage.request.options.push(option);
      }
    }
    return { requests, problems };
  },
};
