/**
 * devcontainer.json (JSONC): `runArgs` (docker run flags, read by the shared flag
 * table), `privileged`, `capAdd`, `securityOpt`, `mounts` (string and object forms),
 * `workspaceMount` and `hostRequirements.gpu`. Ranges cover the property key or the array element.
 */
import { basename } from 'node:path';
import { findNodeAtLocation, modify, parseTree, printParseErrorCode, type Node, type ParseError } from 'jsonc-parser';
import { LineIndex } from '../core/positions.js';
import type {
  ContainerRequest,
  FileProblem,
  FrontEnd,
  FrontEndResult,
  OptionAssignment,
  OptionEditor,
  OptionValues,
  RequestedOption,
  SourceFile,
  TextEdit,
} from '../core/types.js';
import { formatRunFlags, parseMountSpec, parseRunFlags, type ArgWord, type FlagOccurrence } from './command/docker-cli.js';

const DEVCONTAINER_NAME = /^\.?devcontainer\.json$/;

/** One string element of a JSON array, as a command-line argument. */
function argWord(text: string, node: Node): ArgWord {
  const value = node.value as string;
  const word: ArgWord = { value, start: node.offset, end: node.offset + node.length, unresolved: value.includes('${') };
  // Without escapes each character of the value sits one after the opening quote.
  if (text.slice(node.offset + 1, node.offset + node.length - 1) === value) {
    word.charAt = (k) => (k >= 0 && k < value.length ? node.offset + 1 + k : undefined);
  }
  return word;
}

class DevcontainerFile {
  readonly index: LineIndex;
  readonly options: RequestedOption[] = [];

  constructor(private readonly file: SourceFile) {
    this.index = new LineIndex(file.text);
  }

  add(assignment: OptionAssignment, start: number, end: number, edit: OptionEditor): void {
    this.options.push({
      option: assignment.option,
      value: assignment.value,
      file: this.file.path,
      range: this.index.range(start, end),
      edit,
    });
  }

  edits(edits: { offset: number; length: number; content: string }[]): TextEdit[] {
    return edits.map((e) => ({ range: this.index.range(e.offset, e.offset + e.length), newText: e.content }));
  }

  /** Removes a property with jsonc-parser's own edit, which keeps commas right. */
  propertyEditor(path: (string | number)[]): OptionEditor {
    return {
      remove: () => this.edits(modify(this.file.text, path, undefined, { formattingOptions: { insertSpaces: true, tabSize: 2 } })),
      replace: () => undefined,
    };
  }

  /** Removes array elements first..last with the separator that follows (or precedes) them. */
  elementsRemoval(array: Node, first: Node, last: Node): TextEdit {
    const items = array.children ?? [];
    const at = items.indexOf(last);
    const next = items[at + 1];
    const previous = items[items.indexOf(first) - 1];
    if (next) return { range: this.index.range(first.offset, next.offset), newText: '' };
    if (previous) return { range: this.index.range(previous.offset + previous.length, last.offset + last.length), newText: '' };
    return { range: this.index.range(first.offset, last.offset + last.length), newText: '' };
  }

  elementEditor(array: Node, element: Node): OptionEditor {
    return { remove: () => [this.elementsRemoval(array, element, element)], replace: () => undefined };
  }

  /** Editor of a docker flag in `runArgs`: flags are array elements, written back as JSON strings. */
  runArgEditor(array: Node, elements: readonly Node[], at: FlagOccurrence): OptionEditor | undefined {
    if (at.inBundle && !at.bundled) return undefined;
    const first = elements[at.firstWord]!;
    const last = elements[at.lastWord]!;
    return {
      remove: (): TextEdit[] => {
        if (!at.bundled) return [this.elementsRemoval(array, first, last)];
        const edits: TextEdit[] = [{ range: this.index.range(at.bundled.start, at.bundled.end), newText: '' }];
        if (last !== first) edits.push(this.elementsRemoval(array, last, last));
        return edits;
      },
      replace: (options): TextEdit[] | undefined => {
        const flags = at.inBundle ? undefined : formatRunFlags(options);
        if (!flags) return undefined;
        return [
          { range: this.index.range(first.offset, last.offset + last.length), newText: flags.map((f) => JSON.stringify(f)).join(', ') },
        ];
      },
    };
  }

  runArgs(array: Node): void {
    const elements = (array.children ?? []).filter((n) => n.type === 'string');
    const words = elements.map((n) => argWord(this.file.text, n));
    for (const option of parseRunFlags(words, 0, 'options').options) {
      const edit = this.runArgEditor(array, elements, option.at);
      const requested: RequestedOption = {
        option: option.option,
        value: option.value,
        file: this.file.path,
        range: this.index.range(option.at.start, option.at.end),
      };
      if (edit) requested.edit = edit;
      this.options.push(requested);
    }
  }

  /** Each string element of an array property as one option. */
  stringElements(array: Node, toOption: (value: string) => OptionAssignment | undefined): void {
    for (const element of array.children ?? []) {
      if (element.type !== 'string') continue;
      const assignment = toOption(element.value as string);
      if (assignment) this.add(assignment, element.offset, element.offset + element.length, this.elementEditor(array, element));
    }
  }

  mounts(array: Node): void {
    for (const element of array.children ?? []) {
      const assignment =
        element.type === 'string' ? parseMountSpec(element.value as string) : element.type === 'object' ? objectMount(element) : undefined;
      if (assignment) this.add(assignment, element.offset, element.offset + element.length, this.elementEditor(array, element));
    }
  }
}

/** The object form of a devcontainer mount: `{ "source", "target", "type" }`. */
function objectMount(node: Node): OptionAssignment {
  const field = (key: string): string | undefined => {
    const value = findNodeAtLocation(node, [key])?.value;
    return typeof value === 'string' ? value : undefined;
  };
  const target = field('target') ?? '';
  const type = field('type') ?? 'volume';
  if (type === 'tmpfs') return { option: 'tmpfs', value: { target } };
  const mount: OptionValues['mount'] = { type: type === 'bind' || type === 'volume' ? type : 'other', target };
  const source = field('source');
  if (source !== undefined) mount.source = source;
  return { option: 'mount', value: mount };
}

/** The property key node of the value at `path` (ranges cover the key). */
function keyOf(root: Node, path: string[]): Node | undefined {
  return findNodeAtLocation(root, path)?.parent?.children?.[0];
}

export const devcontainerFrontEnd: FrontEnd = {
  kind: 'devcontainer',

  detect(path) {
    return DEVCONTAINER_NAME.test(basename(path));
  },

  parse(file): FrontEndResult {
    const errors: ParseError[] = [];
    const root = parseTree(file.text, errors, { allowTrailingComma: true, disallowComments: false });
    const dc = new DevcontainerFile(file);
    const problems: FileProblem[] = errors.map((e) => ({
      rule: 'parse-error',
      file: file.path,
      severity: 'error',
      range: dc.index.range(e.offset, e.offset + e.length),
      message: `JSON syntax error: ${printParseErrorCode(e.error)}`,
    }));
    if (!root || root.type !== 'object') return { requests: [], problems };

    const at = (path: string[]): Node | undefined => findNodeAtLocation(root, path);
    const array = (path: string[]): Node | undefined => {
      const n = at(path);
      return n?.type === 'array' ? n : undefined;
    };

    const runArgs = array(['runArgs']);
    if (runArgs) dc.runArgs(runArgs);
    const privileged = at(['privileged']);
    const privilegedKey = keyOf(root, ['privileged']);
    if (privileged?.type === 'boolean' && privilegedKey) {
      dc.add(
        { option: 'privileged', value: privileged.value as boolean },
        privilegedKey.offset,
        privilegedKey.offset + privilegedKey.length,
        dc.propertyEditor(['privileged']),
      );
    }
    const capAdd = array(['capAdd']);
    if (capAdd) dc.stringElements(capAdd, (value) => ({ option: 'cap-add', value }));
    const securityOpt = array(['securityOpt']);
    if (securityOpt) dc.stringElements(securityOpt, (value) => ({ option: 'security-opt', value }));
    const mounts = array(['mounts']);
    if (mounts) dc.mounts(mounts);
    const workspaceMount = at(['workspaceMount']);
    if (workspaceMount?.type === 'string') {
      dc.add(
        parseMountSpec(workspaceMount.value as string),
        workspaceMount.offset,
        workspaceMount.offset + workspaceMount.length,
        dc.propertyEditor(['workspaceMount']),
      );
    }
    // The devcontainer CLI turns a GPU host requirement into `--gpus all`.
    const gpu = at(['hostRequirements', 'gpu']);
    const gpuKey = keyOf(root, ['hostRequirements', 'gpu']);
    if (gpu && gpuKey && (gpu.value === true || gpu.value === 'optional')) {
      dc.add(
        { option: 'gpus', value: 'all' },
        gpuKey.offset,
        gpuKey.offset + gpuKey.length,
        dc.propertyEditor(['hostRequirements', 'gpu']),
      );
    }

    const name = at(['name'])?.value;
    const request: ContainerRequest = { kind: 'devcontainer', file: file.path, options: dc.options };
    if (typeof name === 'string') request.name = name;
    return { requests: [request], problems };
  },
};
