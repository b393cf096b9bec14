/**
 * The engine's API for callers that keep a Linter alive (the language server): a config
 * base under each file's config, buffers standing for files, requests and dependencies
 * in the result of one parse, recognised options under any profile, config invalidation,
 * the size limit for texts, the pragma comment styles, and safe fixes.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after, test } from 'node:test';
import { Linter } from '../../server/src/engine/lint.js';
import { COMMENT_STYLES, formatPragma, parsePragma, writeStyleAt } from '../../server/src/engine/pragmas.js';
import { LineIndex } from '../../server/src/core/positions.js';
import { MAX_FILE_BYTES } from '../../server/src/core/read.js';
import type { ContainerRequest, FrontEnd, FrontEndContext, SourceFile } from '../../server/src/core/types.js';
import { codeActions } from '../../server/src/lsp/code-actions.js';
import { RULES, type Rule } from '../../server/src/rules/index.js';
import { lineFrontEnd, range } from './lint-helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'vmrt-lint-engine-api-'));
after(() => rmSync(dir, { recursive: true, force: true }));

let counter = 0;
/** A fresh folder of its own (so no config of another test is found). */
function folder(): string {
  const path = join(dir, `case-${++counter}`);
  mkdirSync(path, { recursive: true });
  return path;
}
function write(path: string, text: string): string {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
  return path;
}

/**
 * The line front end, plus `include <file>` lines that read another file through the
 * context (as compose extends and .env do); its options keep that file's ranges.
 */
function includingFrontEnd(): FrontEnd & { parses: number } {
  const lines = lineFrontEnd();
  const frontEnd = {
    ...lines,
    parses: 0,
    parse(file: SourceFile, ctx: FrontEndContext) {
      frontEnd.parses++;
      const result = lines.parse(file, ctx);
      for (const match of file.text.matchAll(/^include (\S+)$/gm)) {
        const other = resolve(dirname(file.path), match[1]!);
        const text = ctx.readFile(other);
        if (text !== undefined) result.requests.push(...lines.parse({ path: other, text }, ctx).requests);
      }
      return result;
    },
  };
  return frontEnd;
}

/** Clear Containers' published table: fixed, unlike the vmrt profile, which follows the runtime as it grows. */
const PROFILE = 'clear-containers' as const;

const brief = (
  findings: { file: string; rule: string; severity: string; range: { start: { line: number; character: number } } }[],
  base = '',
) => findings.map((f) => `${f.file.slice(base.length)} ${f.range.start.line}:${f.range.start.character} ${f.severity} ${f.rule}`);

test("config base: used without a config file; the file wins key by key, a severity for a feature or rule replaces the base's for its rules or feature", () => {
  const base = {
    profile: 'kata' as const,
    severity: { 'host-network-mode': 'hint' as const, privileged: 'info' as const, 'cpus-limit': 'off' as const },
    runtimeClasses: ['mine'],
  };
  const linter = new Linter({ frontEnds: [lineFrontEnd()], base });
  const plain = write(join(folder(), 'run.sh'), 'docker run --net=host --privileged --cpus=2 x\n');
  const bare = linter.lintFile(plain);
  assert.equal(bare.config.profile, 'kata');
  assert.deepEqual(bare.config.runtimeClasses, ['mine']);
  assert.deepEqual(brief(bare.findings, plain), [' 0:11 hint host-network-mode', ' 0:22 info privileged-mode']);

  const configured = folder();
  write(join(configured, '.vmrt-lint.yaml'), 'profile: clear-containers\nseverity:\n  host-network: warning\n  privileged-mode: hint\n');
  const script = write(join(configured, 'run.sh'), 'docker run --net=host --privileged --cpus=2 x\n');
  const result = linter.lintFile(script);
  assert.equal(result.config.profile, PROFILE);
  assert.deepEqual(result.config.runtimeClasses, ['mine'], 'the file does not write runtime-classes');
  // host-network (file, feature) beats host-network-mode (base, rule); privileged-mode (file, rule) beats privileged (base, feature);
  // cpus-limit: off stays from the base.
  assert.deepEqual(result.config.severity, { 'cpus-limit': 'off', 'host-network': 'warning', 'privileged-mode': 'hint' });
  assert.deepEqual(brief(result.findings, script), [' 0:11 warning host-network-mode', ' 0:22 hint privileged-mode']);
  // The base is not changed by the layering.
  assert.deepEqual(base.severity, { 'host-network-mode': 'hint', privileged: 'info', 'cpus-limit': 'off' });

  const broken = folder();
  write(join(broken, '.vmrt-lint.yaml'), 'profile: podman\nruntime-classes: [gvisor]\n');
  const config = linter.configFor(join(broken, 'run.sh'));
  assert.equal(config.profile, 'kata', "an unknown profile in the file leaves the base's");
  assert.deepEqual(config.runtimeClasses, ['gvisor']);
  assert.equal(
    config.problems[0]?.message,
    "invalid .vmrt-lint config: unknown profile 'podman' (expected vmrt, clear-containers, kata or runc)",
  );
});

test('invalidateConfigs: one config file, every one, and a config file created since the last lint', () => {
  const root = folder();
  const configPath = write(join(root, '.vmrt-lint.yaml'), 'profile: runc\n');
  const other = folder();
  const otherConfig = write(join(other, '.vmrt-lint.yaml'), 'profile: runc\n');
  const created = folder();
  const linter = new Linter({ frontEnds: [lineFrontEnd()] });
  const profiles = () => [root, other, created].map((d) => linter.configFor(join(d, 'run.sh')).profile ?? 'default');
  assert.deepEqual(profiles(), ['runc', 'runc', 'default']);

  writeFileSync(configPath, 'profile: kata\n');
  writeFileSync(otherConfig, 'profile: kata\n');
  write(join(created, '.vmrt-lint.yml'), 'profile: clear-containers\n');
  assert.deepEqual(profiles(), ['runc', 'runc', 'default'], 'cached until invalidated');
  linter.invalidateConfigs(configPath);
  assert.deepEqual(profiles(), ['kata', 'runc', 'clear-containers'], 'that file is read again, and folders find configs again');
  linter.invalidateConfigs();
  assert.deepEqual(profiles(), ['kata', 'kata', 'clear-containers']);
});

test("a config file's problems are reported again after it is invalidated", () => {
  const root = folder();
  const configPath = write(join(root, '.vmrt-lint.yaml'), 'colour: red\n');
  const script = write(join(root, 'run.sh'), 'echo\n');
  const linter = new Linter({ frontEnds: [lineFrontEnd()] });
  const configRules = () =>
    linter
      .lintFile(script)
      .findings.filter((f) => f.file === configPath)
      .map((f) => `${f.rule} ${f.range.start.line}:${f.range.start.character}`);
  assert.deepEqual(configRules(), ['invalid-config 0:0']);
  assert.deepEqual(configRules(), [], 'once per config file');
  linter.invalidateConfigs(configPath);
  assert.deepEqual(configRules(), ['invalid-config 0:0']);
});

test('one parse: the result carries the requests, the findings and every file the front end read or looked for', () => {
  const root = folder();
  const included = write(join(root, 'base.sh'), 'docker run --privileged x\n');
  const frontEnd = includingFrontEnd();
  const linter = new Linter({ frontEnds: [frontEnd], profile: PROFILE });
  const main = join(root, 'main.sh');
  const result = linter.lintText(main, 'include base.sh\ninclude missing.sh\ndocker run --cpus=2 x\n');
  assert.equal(frontEnd.parses, 1);
  assert.deepEqual(result.dependencies, [included, join(root, 'missing.sh')]);
  assert.deepEqual(
    result.requests.map((r: ContainerRequest) => [r.file, r.options.map((o) => o.option)]),
    [
      [main, ['cpus']],
      [included, ['privileged']],
    ],
  );
  assert.deepEqual(brief(result.findings, root), ['/base.sh 0:11 error privileged-mode', '/main.sh 2:11 warning cpus-limit']);

  const plain = linter.lintText(join(root, 'plain.sh'), 'docker run --cpus=2 x\n');
  assert.deepEqual(plain.dependencies, [], 'a file that reads no other has none');
  const notOurs = linter.lintText(join(root, 'notes.txt'), 'include base.sh\n', false);
  assert.deepEqual([notOurs.linted, notOurs.requests, notOurs.dependencies], [false, [], []]);
});

test('recognisedOptions: every option a rule recognises, also where the profile reports nothing', () => {
  const linter = new Linter({ frontEnds: [lineFrontEnd()], profile: 'runc' });
  const path = join(folder(), 'run.sh');
  const result = linter.lintText(path, 'docker run --net=host --cpus=2 --tmpfs=/t --net=bridge x\n');
  assert.deepEqual(result.findings, [], 'runc runs all of it');
  assert.deepEqual(
    linter
      .recognisedOptions(result.requests)
      .map((o) => `${o.rule} ${o.feature} ${o.range.start.character}-${o.range.end.character}`)
      .sort(),
    ['cpus-limit cpus 22-30', 'host-network-mode host-network 11-21', 'tmpfs-mount tmpfs 31-41'],
  );
  assert.equal(
    linter.recognisedOptions(result.requests).every((o) => o.file === path),
    true,
  );

  const throwing: Rule = {
    meta: { ...RULES[0]!.meta, id: 'throwing' },
    check: () => {
      throw new Error('no');
    },
  };
  const withBroken = new Linter({ frontEnds: [lineFrontEnd()], rules: [throwing, ...RULES], profile: 'runc' });
  assert.deepEqual(
    withBroken
      .recognisedOptions(result.requests)
      .map((o) => o.rule)
      .sort(),
    ['cpus-limit', 'host-network-mode', 'tmpfs-mount'],
    'a rule that throws recognises nothing',
  );
});

test('buffers stand for files: the linted file (lintFile) and the files it reads', () => {
  const root = folder();
  const included = write(join(root, 'base.sh'), 'docker run --privileged x\n');
  const main = write(join(root, 'main.sh'), 'include base.sh\n');
  const buffers = new Map<string, string>([[included, '\n\ndocker run --net=host x\n']]);
  const linter = new Linter({ frontEnds: [includingFrontEnd()], buffers: (path) => buffers.get(path), profile: PROFILE });
  assert.deepEqual(
    brief(linter.lintFile(main).findings, root),
    ['/base.sh 2:11 error host-network-mode'],
    'the unsaved buffer, not the disk',
  );

  buffers.set(main, 'docker run --cpus=2 x\n');
  assert.deepEqual(brief(linter.lintFile(main).findings, root), ['/main.sh 0:11 warning cpus-limit']);

  buffers.set(main, 'include base.sh\n');
  buffers.set(included, `# ${'x'.repeat(MAX_FILE_BYTES)}\ndocker run --net=host x\n`);
  const result = linter.lintFile(main);
  assert.deepEqual(
    brief(result.findings, root),
    ['/main.sh 0:0 error file-too-large'],
    'an oversized buffer is not read, as an oversized file is not: the file that reads it says so',
  );
  assert.equal(result.findings[0]!.message, 'cannot read base.sh: the file is 10.0 MB, over the 10 MB limit: not linted');
  assert.deepEqual(result.dependencies, [included]);
});

test('lintText refuses a text over the size limit as lintFile refuses such a file, without parsing it', () => {
  const frontEnd = includingFrontEnd();
  const linter = new Linter({ frontEnds: [frontEnd], profile: PROFILE });
  const root = folder();
  const huge = `docker run --net=host x\n${'#'.repeat(MAX_FILE_BYTES)}\n`;
  const result = linter.lintText(join(root, 'run.sh'), huge);
  assert.equal(frontEnd.parses, 0);
  assert.deepEqual(
    result.findings.map((f) => [f.rule, f.message, f.range]),
    [['file-too-large', 'the file is 10.0 MB, over the 10 MB limit: not linted', range(0, 0, 0)]],
  );
  assert.equal(result.kind, 'command');
  // Multi-byte text: 3.5 M characters of 3 bytes each are 10.5 MB of UTF-8.
  const wide = linter.lintText(join(root, 'wide.sh'), '€'.repeat(3.5 * 1024 * 1024));
  assert.deepEqual(
    wide.findings.map((f) => f.rule),
    ['file-too-large'],
  );
  const under = linter.lintText(join(root, 'under.sh'), `docker run --net=host x\n${'#'.repeat(MAX_FILE_BYTES - 100)}\n`);
  assert.deepEqual(
    under.findings.map((f) => f.rule),
    ['host-network-mode'],
  );
  assert.equal(frontEnd.parses, 1);
});

test("pragma styles: what each kind reads, what is written where, and where a pragma's ids end", () => {
  assert.deepEqual(COMMENT_STYLES, {
    oci: ['//'],
    devcontainer: ['//'],
    command: ['#', '<!--'],
    compose: ['#'],
    kubernetes: ['#'],
    dockerfile: ['#'],
  });
  const md = new LineIndex('# Title\n\n```sh\ndocker run --privileged x\n```\n');
  assert.equal(writeStyleAt('/r/README.md', md, 'command', 1), '<!--');
  assert.equal(writeStyleAt('/r/README.md', md, 'command', 3), '#', 'inside the fence: a shell comment');
  assert.equal(writeStyleAt('/r/run.sh', md, 'command', 1), '#');
  assert.equal(writeStyleAt('/r/config.json', md, 'oci', 0), undefined, 'runc wants strict JSON');
  assert.equal(writeStyleAt('/r/devcontainer.json', md, 'devcontainer', 0), '//');
  assert.equal(formatPragma('<!--', 'vmrt-ignore privileged -- reason'), '<!-- vmrt-ignore privileged -- reason -->');
  assert.equal(formatPragma('//', 'vmrt-ignore-file privileged'), '// vmrt-ignore-file privileged');

  assert.deepEqual(parsePragma('  # vmrt-ignore host-network , link -- demo', ['#']), {
    fileWide: false,
    ids: ['host-network', 'link'],
    reason: 'demo',
    idsEnd: 35,
  });
  assert.deepEqual(parsePragma('<!-- vmrt-ignore-file privileged -->', ['#', '<!--']), {
    fileWide: true,
    ids: ['privileged'],
    reason: undefined,
    idsEnd: 32,
  });
  assert.equal(parsePragma('# vmrt-ignore privileged', ['//']), undefined);
  assert.equal(parsePragma('# vmrt-ignore privileged and more', ['#']), undefined, 'not a pragma the engine reads');
});

test('safe fixes: the rule decides; the language server prefers only safe ones', () => {
  const removing = (safe?: boolean): Rule => ({
    meta: { ...RULES[0]!.meta, id: safe === false ? 'unsafe-fix' : 'safe-fix', feature: 'privileged' },
    check: (request) =>
      request.options
        .filter((o) => o.option === 'privileged')
        .map((option) => ({
          option,
          subject: 'privileged mode',
          fix: () => ({
            title: `remove (${safe === false ? 'unsafe' : 'safe'})`,
            edits: option.edit!.remove(),
            ...(safe === undefined ? {} : { safe }),
          }),
        })),
  });
  const path = join(folder(), 'run.sh');
  const text = 'docker run --privileged x\n';
  const { findings, kind } = new Linter({ frontEnds: [lineFrontEnd()], rules: [removing(false), removing()], profile: PROFILE }).lintText(
    path,
    text,
  );
  assert.deepEqual(
    findings.map((f) => [f.rule, f.fix?.safe]),
    [
      ['safe-fix', undefined],
      ['unsafe-fix', false],
    ],
  );
  const actions = codeActions({ uri: 'file:///r/run.sh', path, text, kind, findings, range: range(0, 12, 12) });
  assert.deepEqual(
    actions.filter((a) => a.title.startsWith('remove')).map((a) => [a.title, a.isPreferred]),
    [
      ['remove (safe)', true],
      ['remove (unsafe)', false],
    ],
  );
});
