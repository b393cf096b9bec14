/**
 * The engine's contract on any input: findings (a `parse-error` or `file` finding at the
 * right place), never a crash, a hang or unbounded memory, and the other files still linted.
 * Each class of hostile input found by fuzzing has a case here; a seeded, time-bounded
 * mutation fuzz over the fixtures runs after them (VMRT_FUZZ_SEED and VMRT_FUZZ_MS replay or
 * lengthen it), and every finding's range must lie inside its file.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, test } from 'node:test';
import { Linter, MAX_FINDINGS_PER_FILE } from '../../server/src/engine/lint.js';
import { parsePragma } from '../../server/src/engine/pragmas.js';
import type { Finding } from '../../server/src/core/types.js';
import { PROFILE_NAMES } from '../../server/src/profiles/index.js';
import { seeded } from '../support/random.js';

const ROOT = process.cwd();
const CLI = resolve(ROOT, 'out/server/src/cli/main.js');
const FIXTURES = resolve(ROOT, 'test/fixtures');
const tmp = mkdtempSync(join(tmpdir(), 'vmrt-robustness-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
/** No config file from above the temporary folder applies. */
const NO_CONFIG = join(tmp, 'none.yaml');
writeFileSync(NO_CONFIG, '# defaults\n');

/** Lines as LineIndex counts them (\r\n, \r and \n end a line). */
function lineLengths(text: string): number[] {
  return text.split(/\r\n|\r|\n/).map((line) => line.length);
}

/** Every finding of `path` lies inside `text`, starts before it ends, and is no internal error. */
function assertContract(path: string, text: string, findings: readonly Finding[], what: string): void {
  const lengths = lineLengths(text);
  for (const f of findings) {
    assert.notEqual(f.rule, 'internal-error', `${what}: ${f.message}`);
    if (f.file !== path) continue;
    const { start, end } = f.range;
    for (const p of [start, end]) {
      assert.ok(p.line >= 0 && p.line < lengths.length, `${what}: ${f.rule} line ${p.line} of ${lengths.length}`);
      assert.ok(p.character >= 0 && p.character <= lengths[p.line]!, `${what}: ${f.rule} ${p.line}:${p.character} past ${lengths[p.line]}`);
    }
    assert.ok(
      start.line < end.line || (start.line === end.line && start.character <= end.character),
      `${what}: ${f.rule} ends before it starts`,
    );
  }
}

function lintText(name: string, text: string): Finding[] {
  const path = join(tmp, 'texts', name);
  const findings = new Linter({ configPath: NO_CONFIG }).lintText(path, text).findings;
  assertContract(path, text, findings, name);
  return findings;
}

const nested = (open: string, close: string, depth: number, inner = '') => open.repeat(depth) + inner + close.repeat(depth);

test('deep nesting is a parse-error finding, not a stack overflow', () => {
  const cases: [string, string][] = [
    ['config.json', `{"ociVersion":"1.0.2","process":${nested('[', ']', 5000)}}`],
    ['compose.yaml', `services:\n  a:\n    image: "${nested('${V:-', '}', 5000, 'x')}"\n`],
    ['devcontainer.json', `{"image":"x","runArgs":${nested('[', ']', 10000)}}`],
    ['run.sh', `docker run ${nested('$(', ')', 10000)} img\n`],
    [
      'pod.yaml',
      `apiVersion: v1\nkind: Pod\nspec:\n  containers:\n${Array.from({ length: 3000 }, (_, i) => `${' '.repeat(2 * i + 2)}- `).join('\n')}x\n`,
    ],
  ];
  for (const [name, text] of cases) {
    const findings = lintText(name, text);
    assert.ok(
      findings.some((f) => f.rule === 'parse-error'),
      `${name}: ${findings.map((f) => f.rule).join(', ')}`,
    );
  }
});

test('a 2,000-service extends chain is linted or refused as nested too deeply, never an internal error', () => {
  const services = Array.from(
    { length: 2000 },
    (_, i) => `  s${i}:\n    image: x\n${i < 1999 ? `    extends: { service: s${i + 1} }\n` : ''}`,
  );
  lintText('compose.yaml', `services:\n${services.join('')}`);
});

test('positions never fall between the \\r and \\n of a CRLF', () => {
  for (const name of ['compose.yaml', 'pod.yaml', '.vmrt-lint.yaml', 'config.json', 'Dockerfile', 'run.sh']) lintText(name, ': :\r\n s');
  const config = join(tmp, 'crlf', '.vmrt-lint.yaml');
  mkdirSync(join(tmp, 'crlf'), { recursive: true });
  writeFileSync(config, ': :\r\n s');
  writeFileSync(join(tmp, 'crlf', 'run.sh'), 'docker run --pid=host x\r\n');
  const findings = new Linter().lintFile(join(tmp, 'crlf', 'run.sh')).findings.filter((f) => f.file === config);
  assert.ok(findings.length > 0);
  assertContract(config, ': :\r\n s', findings, 'config');
});

test('an object where OCI wants a string is a schema finding', () => {
  const findings = lintText('config.json', '{"ociVersion":"1.0.2","linux":{"sysctl":{"a":{"b":1}}},"annotations":{"c":{"d":[]}}}');
  assert.deepEqual(findings.filter((f) => f.rule === 'schema' && /must be a string, not an object/.test(f.message)).length, 2);
});

test('the vmrt-ignore pragma is parsed in linear time, whatever its reason holds', () => {
  const started = performance.now();
  for (const blanks of [' '.repeat(4000), '\t '.repeat(20000)]) {
    parsePragma(`# vmrt-ignore host-network --${blanks}x${blanks}`, ['#']);
    parsePragma(`# vmrt-ignore host-network${blanks}-->`, ['#']);
    lintText('run.sh', `# vmrt-ignore host-network -- ${blanks}\ndocker run --net=host x\n`);
  }
  assert.ok(performance.now() - started < 2000, `${Math.round(performance.now() - started)} ms`);
});

test('large inputs: findings capped per rule and per file with a count of the rest', () => {
  const flags = Array.from({ length: 50000 }, (_, i) => (i % 2 ? '--pid=host' : '--net=host')).join(' ');
  const findings = lintText('run.sh', `docker run ${flags} img\n`);
  assert.ok(findings.length <= MAX_FINDINGS_PER_FILE + 2, String(findings.length));
  const counted = findings.filter((f) => f.rule === 'too-many-findings');
  assert.deepEqual(
    counted.map((f) => f.message.split(' (')[0]),
    ['24800 more host-network-mode findings in this file not shown', '24800 more host-pid-namespace findings in this file not shown'],
  );
});

/** A finding's range as 1-based line:column-line:column, as the JSON output's (0-based) range reads in an editor. */
function place(f: Finding): string {
  const { start, end } = f.range;
  return `${start.line + 1}:${start.character + 1}-${end.line + 1}:${end.character + 1}`;
}

/** Runs the CLI with a deadline: a hang fails the test instead of blocking it. */
function cli(args: string[], cwd: string, input?: string) {
  const run = spawnSync(process.execPath, [CLI, '-f', 'json', ...args], { cwd, input, encoding: 'utf8', timeout: 20000 });
  assert.equal(run.error, undefined, `${args.join(' ')}: ${String(run.error)}`);
  assert.ok(run.status === 0 || run.status === 1, `${args.join(' ')}: exit ${run.status}: ${run.stderr}`);
  return JSON.parse(run.stdout) as { findings: Finding[] };
}

test('special files (FIFOs, /dev/zero, /dev/urandom) are refused by name, never read', () => {
  const dir = join(tmp, 'special');
  mkdirSync(join(dir, 'walked'), { recursive: true });
  const fifo = (path: string) => execFileSync('mkfifo', [join(dir, path)]);
  fifo('.env');
  fifo('base.yaml');
  fifo('args.sh');
  fifo('walked/.gitignore');
  fifo('walked/.vmrt-lint.yaml');
  fifo('walked/stuck.sh');
  writeFileSync(join(dir, 'walked', 'run.sh'), 'docker run --pid=host x\n');
  writeFileSync(
    join(dir, 'compose.yaml'),
    [
      'include: [/dev/zero]',
      'services:',
      '  web:',
      '    image: nginx',
      '    env_file: /dev/urandom',
      '    extends: { file: base.yaml, service: web }',
      '    network_mode: host',
      '',
    ].join('\n'),
  );
  const named = cli(['--config', NO_CONFIG, 'compose.yaml', 'args.sh'], dir).findings;
  assert.ok(
    named.some((f) => f.rule === 'host-network-mode'),
    'the compose file is still linted',
  );
  assert.ok(named.some((f) => f.file === 'args.sh' && f.rule === 'unreadable' && /^the file is a FIFO/.test(f.message)));
  // Each at the place that names it (.env is named nowhere: the file's start).
  for (const [name, what, at] of [
    ['/dev/zero', 'a character device', '1:11-1:20'],
    ['base.yaml', 'a FIFO', '6:22-6:31'],
    ['.env', 'a FIFO', '1:1-1:1'],
  ]) {
    const message = `cannot read ${name}: the file is ${what}, not a regular file: not read`;
    assert.ok(
      named.some((f) => f.file === 'compose.yaml' && f.rule === 'unreadable' && f.message === message && place(f) === at),
      `${message} at ${at} in ${named.map((f) => `${place(f)} ${f.message}`).join('; ')}`,
    );
  }
  const walked = cli(['walked'], dir).findings;
  assert.ok(
    walked.some((f) => f.rule === 'host-pid-namespace'),
    'the regular file in the folder is still linted',
  );
  assert.ok(walked.some((f) => f.file === 'walked/.vmrt-lint.yaml' && f.rule === 'unreadable' && /the file is a FIFO/.test(f.message)));
  const zero = cli(['--config', '/dev/zero', 'walked/run.sh'], dir).findings;
  assert.ok(zero.some((f) => f.file === '/dev/zero' && /the file is a character device/.test(f.message)));
  const verbose = spawnSync(process.execPath, [CLI, '--verbose', 'walked'], { cwd: dir, encoding: 'utf8', timeout: 20000 });
  assert.match(verbose.stderr, /skipped walked\/stuck\.sh: not a regular file/);
});

test("an include's env_file that is a device or over the size limit is refused where it is named, never read", () => {
  const dir = join(tmp, 'named');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'other.yaml'), 'services:\n  other:\n    image: x\n    pid: host\n');
  // Sparse: over the limit by its size, without writing 11 MB.
  writeFileSync(join(dir, 'huge.env'), '');
  truncateSync(join(dir, 'huge.env'), 11 * 1024 * 1024);
  writeFileSync(
    join(dir, 'compose.yaml'),
    ['include:', '  - path: other.yaml', '    env_file: [/dev/urandom, huge.env]', 'services:', '  web:', '    image: nginx', ''].join(
      '\n',
    ),
  );
  const findings = cli(['--config', NO_CONFIG, 'compose.yaml'], dir).findings;
  assert.ok(
    findings.some((f) => f.rule === 'host-pid-namespace' && f.file === 'other.yaml'),
    'the included file is still linted',
  );
  const shown = findings.filter((f) => f.file === 'compose.yaml').map((f) => `${f.rule} ${place(f)} ${f.message}`);
  assert.deepEqual(shown, [
    'unreadable 3:16-3:28 cannot read /dev/urandom: the file is a character device, not a regular file: not read',
    'file-too-large 3:30-3:38 cannot read huge.env: the file is 11.0 MB, over the 10 MB limit: not linted',
  ]);
});

test('stdin: NUL bytes are a binary file, not text; checkstyle stays well-formed XML', () => {
  assert.deepEqual(
    cli(['--stdin-filename', 'x.sh'], tmp, 'docker run --net=host x\0\n').findings.map((f) => f.rule),
    ['binary-file'],
  );
  const xml = spawnSync(process.execPath, [CLI, '-f', 'checkstyle', '--stdin-filename', 'x\uffff.sh'], {
    cwd: tmp,
    input: 'docker run --net=host \uffff\ufffe\n',
    encoding: 'utf8',
  }).stdout;
  assert.doesNotMatch(xml, /[\ufffe\uffff]/);
  assert.match(xml, /<file name="x\.sh">/);
});

/** Every fixture file, with its text. */
function fixtures(dir = FIXTURES): { path: string; text: string }[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return fixtures(path);
    return [{ path, text: readFileSync(path, 'utf8') }];
  });
}

test('property: no finding of any fixture, under any profile, lies outside its file', () => {
  for (const profile of PROFILE_NAMES) {
    const linter = new Linter({ profile });
    for (const { path, text } of fixtures()) assertContract(path, text, linter.lintFile(path).findings, `${profile} ${path}`);
  }
});

const SYNTAX = [
  '{',
  '}',
  '[',
  ']',
  '(',
  ')',
  '"',
  "'",
  '`',
  '$',
  '${',
  '$(',
  ':',
  '- ',
  '\n',
  '\r\n',
  '\r',
  '\t',
  '\\',
  '#',
  '<',
  '>',
  '\0',
  '\ufffe',
  '--net=host ',
  '  ',
];

/** One mutation: a syntax character inserted, a slice deleted, duplicated or truncated. */
function mutate(g: ReturnType<typeof seeded>, text: string): string {
  const at = g.between(0, text.length);
  switch (g.between(0, 4)) {
    case 0:
      return text.slice(0, at) + g.pick(SYNTAX).repeat(g.between(1, 3) ** 3) + text.slice(at);
    case 1:
      return text.slice(0, at) + text.slice(Math.min(text.length, at + g.between(1, 40)));
    case 2:
      return text.slice(0, at) + text.slice(at, at + g.between(1, 200)) + text.slice(at);
    case 3:
      return text.slice(0, at);
    default:
      return text.slice(0, at) + String.fromCharCode(g.between(0, 0xffff)) + text.slice(at + 1);
  }
}

test('fuzz: mutated fixtures keep the contract (seeded, time-bounded)', () => {
  const seed = Number(process.env['VMRT_FUZZ_SEED'] ?? 18);
  const budgetMs = Number(process.env['VMRT_FUZZ_MS'] ?? 8000);
  const g = seeded(seed);
  const corpus = fixtures().filter((f) => f.text.length < 20000);
  const linter = new Linter({ configPath: NO_CONFIG });
  const started = performance.now();
  let runs = 0;
  while (performance.now() - started < budgetMs) {
    const { path, text } = g.pick(corpus);
    let mutated = text;
    for (let k = g.between(1, 4); k > 0; k--) mutated = mutate(g, mutated);
    const one = performance.now();
    const findings = linter.lintText(path, mutated).findings;
    assertContract(path, mutated, findings, `seed ${seed} run ${runs} ${path}`);
    assert.ok(performance.now() - one < 5000, `seed ${seed} run ${runs} ${path}: ${Math.round(performance.now() - one)} ms`);
    runs++;
  }
  assert.ok(runs > 50, `only ${runs} runs`);
});
