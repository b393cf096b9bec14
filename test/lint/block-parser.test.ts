/**
 * The fast block-YAML parser must give exactly what the `yaml` package gives, or nothing:
 * the same nodes, values, scalar types and sources, and all three offsets of every range.
 * Checked on seeded generated YAML (block and flow collections, every scalar style, empty
 * values, block scalars, comments and blank lines at every indentation, some things it
 * must leave to `yaml`), on random edits of those, and on every YAML file in the repo.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { isAlias, isMap, isPair, isScalar, isSeq, parseAllDocuments, type Node } from 'yaml';
import { parseBlockYaml, PARSE_OPTIONS } from '../../server/src/frontends/yaml/block-parser.js';
import { YamlFile } from '../../server/src/frontends/yaml/source.js';
import { randomEdit, seeded } from '../support/random.js';

type Generator = ReturnType<typeof seeded>;

const PLAIN = [
  'nginx:1.27',
  'a b c',
  '8080:80',
  '-f',
  'a#b',
  'x # not a comment?',
  '1',
  '-12',
  '+7',
  '0x1F',
  '0o17',
  '017',
  '1.5',
  '1.50',
  '.5',
  '1e3',
  '-2.5E-3',
  '.inf',
  '-.Inf',
  '.NaN',
  'true',
  'False',
  'TRUE',
  'yes',
  'null',
  'Null',
  '~',
  'on',
  '${VAR:-x}',
  '$$HOME',
  'http://x.org/a?b=c',
  'a,b',
  'a]b',
  'C:/x',
  'é ü 中',
  '10m',
  '256M',
  '2024-01-01',
  'a  b',
  ':x',
  '?x',
  '-',
];
const QUOTED = [
  '"x"',
  '"8080:80"',
  '""',
  '" a "',
  '"1"',
  "'it''s'",
  "''",
  "'a # b'",
  '"a: b"',
  '"true"',
  '"\\n"',
  '"#"',
  '"say \\"hi\\""',
  '"C:\\\\x"',
  '"\\t\\0\\e\\N\\_\\L\\P\\ \\/"',
  '"\\x41\\u00e9\\U0001F600"',
  '"\\uD83D\\uDE00"',
  '"\\q"',
  '"\\x4"',
  '"\\U00110000"',
  '"end\\"',
  '"a\\\\"',
];
const FLOW = [
  '[]',
  '{}',
  '[a, b]',
  '["CMD", "curl", "-f", "http://localhost"]',
  '[ 1 , "x" ]',
  '{a: 1, b: [x, y]}',
  '[a, {c: d}, []]',
  '{ a: b }',
  '[a,b]',
  '[a, b,]',
  '{a: 1, a: 2}',
  '[a: 1]',
  '[[1, 2], [3]]',
  '{"k": v}',
  '[http://x]',
  '[x] y',
  '{a: }',
];
const KEYS = [
  'image',
  'a',
  'b',
  'c',
  'restart',
  'net.core.somaxconn',
  'max-size',
  '"quoted key"',
  "'single'",
  '80',
  'true',
  '<<',
  'a b',
  'x-y',
  '~',
];

/** The anchors of the document being generated (aliases name these, or now and then none). */
let anchors: string[] = [];

/**
 * An `&anchor ` before a value, now and then; `define` makes the name one that later
 * aliases use (after the value is written: an alias inside its own anchor's value is left to `yaml`).
 */
function anchor(g: Generator): { text: string; define: () => void } {
  if (g.random() > 0.08) return { text: '', define: () => undefined };
  // Now and then a name `yaml` warns about (ending in `:`), or no space before the value.
  const name = g.random() < 0.1 ? 'c:' : g.pick(['a', 'base', 'x-y', `n${anchors.length}`]);
  const text = g.random() < 0.1 ? `&${name}` : g.pick([`&${name} `, `&${name}  `]);
  return {
    text,
    define: () => {
      anchors.push(name);
    },
  };
}

function scalar(g: Generator): string {
  const r = g.random();
  if (anchors.length > 0 && g.random() < 0.25) return `*${g.pick(anchors)}`;
  if (r < 0.005) return g.pick(['*nowhere', '*', '&a *b']);
  const props = anchor(g);
  props.define();
  return `${props.text}${r < 0.55 ? g.pick(PLAIN) : r < 0.8 ? g.pick(QUOTED) : g.pick(FLOW)}`;
}

function comment(g: Generator): string {
  return g.pick([' # c', '  #x', ' #', '']);
}

/** Blank and comment lines at random indentations (what sits between items). */
function filler(g: Generator, indent: number): string[] {
  const lines: string[] = [];
  while (g.random() < 0.3) {
    lines.push(g.pick(['', ' '.repeat(g.between(0, indent + 4)) + '# note', ' '.repeat(g.between(0, 3))]));
  }
  return lines;
}

function blockScalar(g: Generator, indent: number): string[] {
  const header = g.pick(['|', '>', '|-', '>-', '|+', '>+', '|2', '| # c']);
  const inner = ' '.repeat(indent + g.between(1, 3));
  const lines = [header];
  for (let n = g.between(1, 4); n > 0; n--) {
    lines.push(g.pick([`${inner}line ${n}`, '', `${inner}# text`, `${inner} deeper`, `${inner}x: y`]));
  }
  return lines;
}

/** A value after `key:` (first line is joined to the key line). */
function mapValue(g: Generator, indent: number, depth: number): string[] {
  const r = g.random();
  if (depth > 3 || r < 0.45) return [` ${scalar(g)}${comment(g)}`];
  if (r < 0.55) return [comment(g)];
  if (r < 0.62) {
    const [header, ...rest] = blockScalar(g, indent);
    return [` ${header}`, ...rest];
  }
  const child = indent + g.pick([2, 2, 4, 1]);
  const props = anchor(g);
  const head = g.random() < 0.1 ? ` ${props.text || '&m'}${g.random() < 0.2 ? comment(g) : ''}` : comment(g);
  // A map, or a sequence indented or at the key's own column.
  const value = r < 0.8 ? map(g, child, depth + 1) : seq(g, g.random() < 0.5 ? indent : child, depth + 1);
  props.define();
  return [head, ...filler(g, indent), ...value];
}

function map(g: Generator, indent: number, depth: number): string[] {
  const lines: string[] = [];
  const pad = ' '.repeat(indent);
  const keys = new Set<string>();
  for (let n = g.between(1, 4); n > 0; n--) {
    let key = g.pick(KEYS);
    // Mostly unique keys; sometimes a duplicate, which `yaml` reports.
    if (keys.has(key) && g.random() < 0.9) key = `${key}${n}`;
    keys.add(key);
    const [first, ...rest] = mapValue(g, indent, depth);
    lines.push(`${pad}${key}${g.random() < 0.05 ? ' ' : ''}:${first}`, ...rest, ...filler(g, indent));
  }
  return lines;
}

/** A map whose first key shares the line with a `- ` (a compact map in a sequence entry). */
function compactMap(g: Generator, column: number, depth: number): string[] {
  const [first, ...rest] = map(g, column, depth);
  return [first!.slice(column), ...rest];
}

function seq(g: Generator, indent: number, depth: number): string[] {
  const lines: string[] = [];
  const pad = ' '.repeat(indent);
  for (let n = g.between(1, 4); n > 0; n--) {
    const r = g.random();
    if (depth > 3 || r < 0.4) lines.push(`${pad}- ${scalar(g)}${comment(g)}`);
    else if (r < 0.5) lines.push(`${pad}-${comment(g)}`);
    else if (r < 0.75) {
      const [first, ...rest] = compactMap(g, indent + 2, depth + 1);
      lines.push(`${pad}- ${g.random() < 0.05 ? '&k ' : ''}${first}`, ...rest);
    } else if (r < 0.85) {
      const [header, ...rest] = blockScalar(g, indent);
      lines.push(`${pad}- ${header}`, ...rest);
    } else {
      const props = anchor(g);
      const head = g.random() < 0.2 ? ` ${props.text || '&s'}` : '';
      lines.push(`${pad}-${head}${comment(g)}`, ...(g.random() < 0.5 ? map(g, indent + 2, depth + 1) : seq(g, indent + 2, depth + 1)));
      props.define();
    }
    lines.push(...filler(g, indent));
  }
  return lines;
}

/** One to three documents (a Kubernetes file's shape), sometimes opened by `---`. */
function stream(g: Generator): string {
  const lines: string[] = [];
  for (let docs = g.random() < 0.8 ? 1 : g.between(2, 3), n = 0; n < docs; n++) {
    if (n > 0 || g.random() < 0.2) lines.push(g.pick(['---', '---', '--- # next', '--- x', '...']));
    anchors = [];
    lines.push(...filler(g, 0), ...(g.random() < 0.85 ? map(g, 0, 0) : seq(g, 0, 0)));
  }
  // Some files are written with CRLF line ends (Windows editors).
  const text = lines.join(g.random() < 0.15 ? '\r\n' : '\n');
  return g.random() < 0.8 ? `${text}\n` : text;
}

/** What a user types or pastes mid-edit, including what the fast parser must leave to `yaml`. */
const SNIPPETS = [
  'a',
  ' ',
  ':',
  ': ',
  '-',
  '- ',
  '#',
  ' #',
  '\n',
  '\n  ',
  '"',
  "'",
  '[',
  ']',
  '{',
  '}',
  ',',
  '&a ',
  '*a',
  '\t',
  '|',
  '>',
  '!!str ',
  '? ',
  '\\',
  '\r',
  '---',
  '%YAML 1.2\n',
];

function edit(g: Generator, text: string): string {
  return randomEdit(g, text, SNIPPETS);
}

/** Every property of a node that a parse sets, comments aside (they do not reach the front ends). */
function dump(node: unknown): unknown {
  if (node === null || node === undefined) return node;
  if (isPair(node)) return [dump(node.key), dump(node.value)];
  const n = node as Node & Record<string, unknown>;
  const own = Object.fromEntries(Object.entries(n).filter(([key]) => !['comment', 'commentBefore', 'spaceBefore', 'items'].includes(key)));
  if (isMap(node) || isSeq(node)) return { class: node.constructor.name, ...own, items: node.items.map(dump) };
  if (isScalar(node)) return { class: node.constructor.name, ...own, value: Number.isNaN(node.value) ? 'NaN' : node.value };
  if (isAlias(node)) return { class: 'Alias', ...own };
  throw new Error(`a node of no known kind: ${String(node)}`);
}

function fastNodes(text: string): unknown[] {
  return (parseBlockYaml(text) ?? []).map((doc) => doc.contents);
}

function hasAlias(node: unknown): boolean {
  if (isAlias(node)) return true;
  if (isPair(node)) return hasAlias(node.value);
  return (isMap(node) || isSeq(node)) && (node.items as unknown[]).some(hasAlias);
}

/** Checks one text; true when the fast parser took it. */
function check(text: string, where: string): boolean {
  const fast = parseBlockYaml(text);
  if (!fast) return false;
  const full = parseAllDocuments(text, PARSE_OPTIONS);
  assert.ok(Array.isArray(full), `${where}: the fast parser took an empty text`);
  assert.deepEqual(
    full.flatMap((doc) => doc.errors.map((e) => e.message)),
    [],
    `${where}: the fast parser took a text with errors\n${text}`,
  );
  assert.deepEqual(
    fast.map((doc) => dump(doc.contents)),
    full.map((doc) => dump(doc.contents)),
    `${where}\n${JSON.stringify(text)}`,
  );
  return true;
}

test('block YAML: generated documents parse to the nodes yaml gives, or are left to yaml', () => {
  let taken = 0;
  let crlf = 0;
  let aliased = 0;
  const total = 3000;
  for (let seed = 1; seed <= total; seed++) {
    const text = stream(seeded(seed));
    if (!check(text, `seed ${seed}`)) continue;
    taken++;
    if (text.includes('\r\n')) crlf++;
    if (fastNodes(text).some(hasAlias)) aliased++;
  }
  // Most generated documents are inside what the fast parser covers: it must take them, CRLF ones too.
  assert.ok(taken > total * 0.15, `the fast parser took only ${taken} of ${total} documents`);
  assert.ok(crlf > taken * 0.05, `the fast parser took only ${crlf} documents with CRLF line ends`);
  assert.ok(aliased >= 10, `the fast parser took only ${aliased} documents with aliases`);
});

test('block YAML: random edits of generated documents give the nodes yaml gives, or are left to yaml', () => {
  let taken = 0;
  let steps = 0;
  for (let seed = 1; seed <= 100; seed++) {
    const g = seeded(seed);
    const base = stream(g);
    for (let step = 0; step < 30; step++, steps++) {
      // One or two edits away from a whole file, as a user types.
      const once = edit(g, base);
      const text = g.random() < 0.5 ? once : edit(g, once);
      if (check(text, `seed ${seed}, step ${step}`)) taken++;
    }
  }
  assert.ok(taken > steps * 0.05, `the fast parser took only ${taken} of ${steps} edited texts`);
});

/** Every YAML file under a folder (node_modules and out skipped). */
function yamlFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return ['node_modules', 'out', '.git', 'dist'].includes(entry.name) ? [] : yamlFiles(path);
    return /\.ya?ml$/.test(entry.name) ? [path] : [];
  });
}

test('block YAML: every YAML file of the repo parses to the nodes yaml gives, and the examples take the fast path', () => {
  const files = [...yamlFiles('examples'), ...yamlFiles('test')].filter((file) => statSync(file).size < 1_000_000);
  assert.ok(files.length > 20, `only ${files.length} YAML files found`);
  const taken = files.filter((file) => check(readFileSync(file, 'utf8'), file));
  // The bundled compose files and manifests are what users write: they must not fall back.
  const examples = files.filter((file) => file.startsWith('examples/'));
  assert.deepEqual(
    examples.filter((file) => !taken.includes(file)),
    [],
  );
});

test('block YAML: a text nested deeper than the parser recurses is left to yaml, not a stack overflow', () => {
  const flow = `a: ${'['.repeat(5000)}${']'.repeat(5000)}\n`;
  const block = `${Array.from({ length: 1000 }, (_, i) => `${' '.repeat(i)}a:`).join('\n')} 1\n`;
  assert.equal(parseBlockYaml(flow), undefined);
  assert.equal(parseBlockYaml(block), undefined);
  // Just under the limit it still parses, node for node as yaml does.
  assert.ok(check(`a: ${'['.repeat(150)}${']'.repeat(150)}\n`, 'nested 150 deep'));
});

test("block YAML: escapes in double quotes take the fast path with yaml's values; escapes YAML lacks are left to yaml", () => {
  assert.ok(check('command: "echo \\"hi\\" \\u00e9\\t\\\\x \\U0001F600"\n', 'escapes'));
  assert.equal(parseBlockYaml('a: "bad \\q"\n'), undefined);
  assert.equal(parseBlockYaml('a: "short \\x4"\n'), undefined);
});

test('block YAML: compose anchors and merge keys take the fast path; an alias yaml cannot resolve is left to it', () => {
  const compose = [
    'x-common: &common',
    '  restart: always',
    '  logging: &logging {driver: json-file}',
    'services:',
    '  web:',
    '    <<: *common',
    '    image: nginx',
    '    logging: *logging',
    '  db:',
    '    <<: *common',
    '    ports: &ports',
    '      - "5432:5432"',
    '  cache:',
    '    ports: *ports  # the same',
    '',
  ].join('\n');
  assert.ok(check(compose, 'anchors and merge keys'));
  assert.equal(parseBlockYaml('a: *nowhere\n'), undefined);
  assert.equal(parseBlockYaml('a: &x\n  b: *x\n'), undefined, 'an alias inside its own anchor');
});

test("YAML front ends: each alias resolves to the node yaml's Alias.resolve gives (one walk per document, not one per alias)", () => {
  let aliases = 0;
  for (let seed = 1; seed <= 1000; seed++) {
    const text = stream(seeded(seed));
    const file = new YamlFile('/p/compose.yaml', text);
    for (const doc of file.validDocs()) {
      const visit = (node: unknown): void => {
        if (isAlias(node)) {
          aliases++;
          assert.equal(file.resolve(node, undefined, doc)?.node, node.resolve(doc) ?? undefined, `seed ${seed}: *${node.source}`);
        } else if (isPair(node)) {
          visit(node.key);
          visit(node.value);
        } else if (isMap(node) || isSeq(node)) (node.items as unknown[]).forEach(visit);
      };
      visit(doc.contents);
    }
  }
  assert.ok(aliases > 100, `only ${aliases} aliases generated`);
});
