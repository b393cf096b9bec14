import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after, test } from 'node:test';
import { run } from '../../server/src/cli/run.js';
import { RULES } from '../../server/src/rules/index.js';
import { applyEdits } from './lint-helpers.js';

const ROOT = process.cwd();
const CLI = resolve(ROOT, 'out/server/src/cli/main.js');
const FIXTURES = resolve(ROOT, 'test/fixtures/lint-cli');
const tmp = mkdtempSync(join(tmpdir(), 'vmrt-lint-cli-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the CLI in this process (fast); `stdin` feeds --stdin-filename. */
async function lintCli(
  args: string[],
  options: { cwd?: string; stdin?: string; color?: boolean; columns?: number } = {},
): Promise<Outcome> {
  let stdout = '';
  let stderr = '';
  const code = await run(args, {
    cwd: options.cwd ?? FIXTURES,
    stdout: (t) => {
      stdout += t;
    },
    stderr: (t) => {
      stderr += t;
    },
    readStdin: async () => options.stdin ?? '',
    color: options.color ?? false,
    columns: options.columns,
    env: {},
  });
  return { code, stdout, stderr };
}

/** Runs the installed executable as a user would. */
function spawnCli(args: string[], options: { cwd?: string; input?: string } = {}): Outcome {
  const result = spawnSync(process.execPath, [CLI, ...args], {
    cwd: options.cwd ?? FIXTURES,
    input: options.input ?? '',
    encoding: 'utf8',
  });
  return { code: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
}

function write(path: string, text: string | Buffer): string {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
  return path;
}

const json = (out: Outcome) =>
  JSON.parse(out.stdout) as {
    findings: {
      file: string;
      feature: string;
      rule: string;
      severity: string;
      range: unknown;
      fix?: { title: string; edits: { range: unknown; newText: string }[] };
    }[];
  };

test('end to end: compose network_mode: host gives an exact range, links and cpus their fixes', async () => {
  const out = await lintCli(['--format', 'json', '--profile', 'clear-containers', 'host/compose.yaml']);
  assert.equal(out.code, 1);
  const findings = json(out).findings;
  assert.deepEqual(
    findings.map((f) => [f.file, f.feature, f.rule, f.severity, f.range]),
    [
      [
        'host/compose.yaml',
        'host-network',
        'host-network-mode',
        'error',
        { start: { line: 3, character: 4 }, end: { line: 3, character: 16 } },
      ],
      ['host/compose.yaml', 'cpus', 'cpus-limit', 'warning', { start: { line: 6, character: 4 }, end: { line: 6, character: 8 } }],
      ['host/compose.yaml', 'link', 'legacy-link', 'error', { start: { line: 8, character: 8 }, end: { line: 8, character: 16 } }],
    ],
  );
  const text = readFileSync(join(FIXTURES, 'host/compose.yaml'), 'utf8');
  const cpus = findings[1]!.fix!;
  assert.equal(cpus.title, 'Use cpu-period 100000 and cpu-quota 150000 instead');
  assert.match(applyEdits(text, cpus.edits as never), /^    cpu_period: 100000\n    cpu_quota: 150000\n    links:/m);
  assert.match(findings[2]!.fix!.title, /user-defined network/);
  assert.doesNotMatch(applyEdits(text, findings[0]!.fix!.edits as never), /network_mode/);
});

test('end to end: clean files give zero findings and exit 0', async () => {
  const out = spawnCli(['clean']);
  assert.deepEqual(out, { code: 0, stdout: 'no findings in 3 files\n', stderr: '' });
  assert.deepEqual(json(await lintCli(['-f', 'json', 'clean'])), { findings: [] });
});

test('tty format: grouped by file, the source line with the range underlined, the message wrapped; colour only on a TTY', async () => {
  const out = await lintCli(['host/compose.yaml', '--profile', 'kata']);
  assert.equal(
    out.stdout,
    [
      'host/compose.yaml',
      '  4:5      error   The host network mode is not supported by kata. (host-network-mode)',
      '    4 |     network_mode: host',
      '      |     ^^^^^^^^^^^^',
      '  9:9      error   The legacy link exporter is not supported by kata. (legacy-link)',
      '    9 |       - exporter',
      '      |         ^^^^^^^^',
      '',
      '2 findings (2 errors, 0 warnings, 0 info, 0 hints) in 1 file',
      '',
    ].join('\n'),
  );
  const narrow = await lintCli(['host/compose.yaml', '--profile', 'kata'], { columns: 40 });
  assert.equal(narrow.code, 1);
  assert.match(
    narrow.stdout,
    /^  4:5      error   The host network mode\n {19}is not supported by\n {19}kata\.\n {19}\(host-network-mode\)\n/m,
  );
  const coloured = await lintCli(['host/compose.yaml', '--profile', 'kata'], { color: true });
  assert.match(coloured.stdout, /^  \x1b\[2m4:5 {5}\x1b\[0m \x1b\[31merror  \x1b\[0m The host network mode/m);
  // Colour is for terminals: other formats never carry it.
  assert.doesNotMatch((await lintCli(['-f', 'json', 'host/compose.yaml'], { color: true })).stdout, /\x1b\[/);
  assert.doesNotMatch((await lintCli(['-f', 'compact', 'host/compose.yaml'], { color: true })).stdout, /\x1b\[/);
});

test('compact format: file:line:col severity rule feature message, one line each, and a summary', async () => {
  const lines = (await lintCli(['-f', 'compact', 'host/compose.yaml', '--profile', 'kata'])).stdout.trimEnd().split('\n');
  assert.deepEqual(lines, [
    'host/compose.yaml:4:5 error host-network-mode host-network The host network mode is not supported by kata.',
    'host/compose.yaml:9:9 error legacy-link link The legacy link exporter is not supported by kata.',
    '2 findings (2 errors, 0 warnings, 0 info, 0 hints) in 1 file',
  ]);
});

test('SARIF 2.1.0: $schema, driver rules with helpUri, 1-based regions, fixes', async () => {
  const out = await lintCli(['-f', 'sarif', '--profile', 'clear-containers', 'host/compose.yaml']);
  assert.equal(out.code, 1);
  const sarif = JSON.parse(out.stdout);
  assert.equal(sarif.version, '2.1.0');
  assert.equal(sarif.$schema, 'https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json');
  assert.equal(sarif.runs.length, 1);
  const [runOut] = sarif.runs;
  assert.equal(runOut.tool.driver.name, 'vmrt-lint');
  assert.equal(runOut.columnKind, 'utf16CodeUnits');
  assert.deepEqual(
    runOut.tool.driver.rules.map((r: { id: string }) => r.id),
    RULES.map((r) => r.meta.id),
  );
  // No repository in package.json: no link rather than a file:// one that is dead anywhere else, and
  // the help names the docs page by its path in the package, which exists.
  for (const rule of runOut.tool.driver.rules) {
    assert.equal(rule.helpUri, undefined);
    assert.equal(typeof rule.shortDescription.text, 'string');
    const page = / Documented in (docs\/features\/[a-z0-9-]+\.md) of the vmrt package, version \d+\.\d+\.\d+\.$/.exec(rule.help.text);
    assert.ok(page && existsSync(join(ROOT, page[1]!)), rule.help.text);
  }
  const published = JSON.parse(
    (await lintCli(['-f', 'sarif', '--docs-url', 'https://example.org/vmrt/', '--profile', 'clear-containers', 'host/compose.yaml']))
      .stdout,
  ).runs[0].tool.driver;
  assert.equal(published.informationUri, 'https://example.org/vmrt/docs/features/README.md');
  for (const rule of published.rules) {
    assert.match(rule.helpUri, /^https:\/\/example\.org\/vmrt\/docs\/features\/[a-z0-9-]+\.md$/);
    assert.ok(rule.help.text.endsWith(`: ${rule.helpUri}.`), rule.help.text);
    assert.ok(existsSync(join(ROOT, rule.helpUri.slice('https://example.org/vmrt/'.length))), rule.helpUri);
  }
  const [host, cpus] = runOut.results;
  assert.equal(host.ruleId, 'host-network-mode');
  assert.equal(runOut.tool.driver.rules[host.ruleIndex].id, 'host-network-mode');
  assert.equal(host.level, 'error');
  assert.equal(cpus.level, 'warning');
  assert.deepEqual(host.locations[0].physicalLocation, {
    artifactLocation: { uri: 'host/compose.yaml', uriBaseId: '%SRCROOT%' },
    region: { startLine: 4, startColumn: 5, endLine: 4, endColumn: 17 },
  });
  assert.deepEqual(cpus.fixes[0].artifactChanges[0].replacements, [
    {
      deletedRegion: { startLine: 7, startColumn: 1, endLine: 8, endColumn: 1 },
      insertedContent: { text: '    cpu_period: 100000\n    cpu_quota: 150000\n' },
    },
  ]);
  assert.equal(cpus.fixes[0].description.text, 'Use cpu-period 100000 and cpu-quota 150000 instead');
  assert.equal(runOut.originalUriBaseIds['%SRCROOT%'].uri, `file://${FIXTURES}/`);
});

test('checkstyle XML', async () => {
  const out = await lintCli(['-f', 'checkstyle', '--profile', 'kata', 'host/compose.yaml']);
  const lines = out.stdout.split('\n');
  assert.equal(lines[0], '<?xml version="1.0" encoding="UTF-8"?>');
  assert.equal(lines[1], '<checkstyle version="4.3">');
  assert.equal(lines[2], '  <file name="host/compose.yaml">');
  assert.match(
    lines[3]!,
    /^    <error line="4" column="5" severity="error" message="The host network mode is not supported by kata\." source="vmrt-lint\.host-network-mode"\/>$/,
  );
  assert.match(lines[4]!, /^    <error line="9" column="9" severity="error" .* source="vmrt-lint\.legacy-link"\/>$/);
  assert.deepEqual(lines.slice(5), ['  </file>', '</checkstyle>', '']);
  assert.equal(
    (await lintCli(['-f', 'checkstyle', 'clean'])).stdout,
    '<?xml version="1.0" encoding="UTF-8"?>\n<checkstyle version="4.3">\n</checkstyle>\n',
  );
});

test("exit codes: thresholds, --no-fail, and the config's failure-threshold", async () => {
  const dir = join(tmp, 'thresholds');
  write(join(dir, 'warn.sh'), 'docker run --gpus all app\n');
  assert.equal((await lintCli(['warn.sh'], { cwd: dir })).code, 1);
  assert.equal((await lintCli(['--failure-threshold', 'error', 'warn.sh'], { cwd: dir })).code, 0);
  assert.equal((await lintCli(['--failure-threshold', 'warning', 'warn.sh'], { cwd: dir })).code, 1);
  assert.equal((await lintCli(['--failure-threshold', 'none', 'host/compose.yaml'])).code, 0);
  assert.equal((await lintCli(['--no-fail', 'host/compose.yaml'])).code, 0);
  write(join(dir, '.vmrt-lint.yaml'), 'failure-threshold: error\n');
  assert.equal((await lintCli(['warn.sh'], { cwd: dir })).code, 0);
  assert.equal((await lintCli(['--failure-threshold', 'info', 'warn.sh'], { cwd: dir })).code, 1);
  // A hint never fails a run: kata's documents say nothing of kernel memory limits (unknown, a hint).
  write(join(dir, 'hint', 'k.sh'), 'docker run --kernel-memory=50m app\n');
  const hint = await lintCli(['--profile', 'kata', '--failure-threshold', 'info', 'hint/k.sh'], { cwd: dir });
  assert.equal(hint.code, 0);
  assert.match(hint.stdout, /^  1:12 +hint +The kernel memory limit 50m is not documented by kata\. \(kernel-memory-limit\)$/m);
});

test('usage errors exit 2 with a message and the usage', () => {
  const cases: [string[], string][] = [
    [['--bogus', 'x'], "vmrt-lint: Unknown option '--bogus'"],
    [['--profile', 'gvisor', 'x'], "vmrt-lint: unknown profile 'gvisor' (expected vmrt, clear-containers, kata, runc)"],
    [['--format', 'xml', 'x'], "vmrt-lint: unknown format 'xml' (expected tty, compact, json, sarif, checkstyle)"],
    [['--failure-threshold', 'style', 'x'], "vmrt-lint: unknown failure threshold 'style' (expected error, warning, info, none)"],
    [['--kind', 'helm', 'x'], "vmrt-lint: unknown kind 'helm' (expected oci, compose, kubernetes, dockerfile, command, devcontainer)"],
    [[], 'vmrt-lint: no file or folder to lint (give paths, or --stdin-filename to read standard input)'],
    [['--config', 'nowhere.yaml', 'x'], 'vmrt-lint: the config file nowhere.yaml does not exist'],
  ];
  for (const [args, message] of cases) {
    const out = spawnCli(args);
    assert.equal(out.code, 2, `${args.join(' ')}: ${out.stderr}`);
    assert.equal(out.stdout, '');
    assert.ok(out.stderr.startsWith(message), `${args.join(' ')}: ${out.stderr.split('\n')[0]}`);
    assert.match(out.stderr, /\n\nUsage: vmrt-lint \[options\] <files or folders…>\n/);
  }
});

test('--help and --version', () => {
  const help = spawnCli(['--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /^Usage: vmrt-lint \[options\] <files or folders…>/);
  for (const option of [
    '--profile',
    '--format',
    '--failure-threshold',
    '--no-fail',
    '--config',
    '--kind',
    '--stdin-filename',
    '--disable-ignore-pragma',
    '--docs-url',
    '--verbose',
  ])
    assert.ok(help.stdout.includes(option), option);
  const version = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version as string;
  assert.deepEqual(spawnCli(['--version']), { code: 0, stdout: `vmrt-lint ${version}\n`, stderr: '' });
  assert.equal(readFileSync(CLI, 'utf8').split('\n')[0], '#!/usr/bin/env node');
});

test('--stdin-filename lints standard input as that file (kind and config from its name)', () => {
  const out = spawnCli(['-f', 'json', '--stdin-filename', 'stdin/docker-compose.yml'], {
    input: 'services:\n  a:\n    image: x\n    privileged: true\n',
  });
  assert.equal(out.code, 1);
  assert.deepEqual(
    json(out).findings.map((f) => [f.file, f.rule, f.range]),
    [['stdin/docker-compose.yml', 'privileged-mode', { start: { line: 3, character: 4 }, end: { line: 3, character: 14 } }]],
  );
  const kind = spawnCli(['-f', 'json', '--kind', 'command', '--stdin-filename', 'notes.txt'], { input: 'docker run --pid=host x\n' });
  assert.deepEqual(
    json(kind).findings.map((f) => [f.file, f.rule]),
    [['notes.txt', 'host-pid-namespace']],
  );
});

test('walking folders: .gitignore (nested and parent), node_modules and .git skipped, unknown kinds silent; named unknown files get a note', async () => {
  const repo = join(tmp, 'repo');
  mkdirSync(join(repo, '.git'), { recursive: true });
  write(join(repo, '.gitignore'), 'generated/\n*.gen.sh\n');
  write(join(repo, 'app', '.gitignore'), 'local.sh\n');
  const bad = 'docker run --privileged x\n';
  write(join(repo, 'app', 'run.sh'), bad);
  write(join(repo, 'app', 'local.sh'), bad);
  write(join(repo, 'app', 'build.gen.sh'), bad);
  write(join(repo, 'generated', 'run.sh'), bad);
  write(join(repo, 'node_modules', 'pkg', 'run.sh'), bad);
  write(join(repo, '.git', 'hooks', 'pre-commit.sh'), bad);
  write(join(repo, 'app', 'logo.png'), Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x00, 0x01]));
  write(join(repo, 'app', 'notes.txt'), bad);
  write(join(repo, 'deploy', 'compose.yaml'), 'services:\n  a:\n    image: x\n    ipc: host\n');
  const out = await lintCli(['-f', 'json', '.'], { cwd: repo });
  assert.deepEqual(
    json(out).findings.map((f) => [f.file, f.rule]),
    [
      ['app/run.sh', 'privileged-mode'],
      ['deploy/compose.yaml', 'host-ipc-namespace'],
    ],
  );
  assert.equal(out.stderr, '');
  // Walking from a subfolder still honours the repository's .gitignore above it.
  assert.deepEqual(
    json(await lintCli(['-f', 'json', 'app'], { cwd: repo })).findings.map((f) => f.file),
    ['app/run.sh'],
  );
  const named = await lintCli(['app/notes.txt'], { cwd: repo });
  assert.equal(named.code, 0);
  assert.equal(
    named.stderr,
    'vmrt-lint: note: app/notes.txt: no front end reads this kind of file; not linted (choose one with --kind oci|compose|kubernetes|dockerfile|command|devcontainer)\n',
  );
  assert.equal(named.stdout, 'no findings in 0 files\n');
  assert.deepEqual(
    json(await lintCli(['-f', 'json', '--kind', 'command', 'app/notes.txt'], { cwd: repo })).findings.map((f) => f.rule),
    ['privileged-mode'],
  );
});

test('files over 10 MB and binary files named on the command line are findings, and the others are still linted', async () => {
  const dir = join(tmp, 'big');
  write(join(dir, 'huge.sh'), Buffer.alloc(10 * 1024 * 1024 + 10, 0x20));
  write(join(dir, 'Dockerfile'), Buffer.from('FROM x\n\0\0'));
  write(join(dir, 'ok.sh'), 'docker run --uts=host x\n');
  const out = await lintCli(['-f', 'json', 'huge.sh', 'Dockerfile', 'ok.sh', 'missing.sh'], { cwd: dir });
  assert.equal(out.code, 1);
  assert.deepEqual(
    json(out).findings.map((f) => [f.file, f.feature, f.rule, f.severity]),
    [
      ['Dockerfile', 'file', 'binary-file', 'error'],
      ['huge.sh', 'file', 'file-too-large', 'error'],
      ['missing.sh', 'file', 'unreadable', 'error'],
      ['ok.sh', 'host-uts', 'host-uts-namespace', 'error'],
    ],
  );
});

test('pragmas through the real command front end, and --disable-ignore-pragma', async () => {
  const rules = async (...args: string[]) =>
    json(await lintCli(['-f', 'json', ...args, 'pragmas.sh'])).findings.map(
      (f) => `${f.rule}@${(f.range as { start: { line: number } }).start.line}`,
    );
  assert.deepEqual(await rules(), ['privileged-mode@3']);
  assert.deepEqual(await rules('--disable-ignore-pragma'), ['host-network-mode@2', 'privileged-mode@3']);
});

test('pragmas in compose YAML: above a block key they cover its items; another key ends their reach', async () => {
  // clear-containers: capabilities and sysctls stay findings there (vmrt runs them in its guest).
  const rules = async (...args: string[]) =>
    json(await lintCli(['-f', 'json', '--profile', 'clear-containers', ...args, 'pragmas-compose.yaml'])).findings.map(
      (f) => `${f.rule}@${(f.range as { start: { line: number } }).start.line}`,
    );
  assert.deepEqual(await rules(), ['capability-change@8', 'sysctl-setting@14']);
  assert.deepEqual(await rules('--disable-ignore-pragma'), [
    'capability-change@5',
    'capability-change@6',
    'capability-change@8',
    'host-network-mode@10',
    'sysctl-setting@14',
  ]);
});

test('pragmas in JSONC (//) and Markdown (<!-- -->, above the fence), through the real front ends', async () => {
  // clear-containers: capabilities stay a finding there (vmrt applies them in its guest).
  const out = await lintCli(['-f', 'json', '--profile', 'clear-containers', 'README.md', 'devcontainer']);
  assert.deepEqual(
    json(out).findings.map((f) => `${f.file}:${f.rule}`),
    ['README.md:host-ipc-namespace', 'devcontainer/.devcontainer/devcontainer.json:capability-change'],
  );
  const all = await lintCli(['--profile', 'clear-containers', '--disable-ignore-pragma', 'README.md', 'devcontainer']);
  assert.equal(all.stdout.trimEnd().split('\n').pop(), '4 findings (3 errors, 1 warning, 0 info, 0 hints) in 2 files');
});

test('Kubernetes runtime classes come from the config: a pod is linted only under a VM runtime class', async () => {
  assert.deepEqual(json(await lintCli(['-f', 'json', 'k8s/pod.yaml'])).findings, []);
  const config = write(join(tmp, 'rc', 'vm-classes.yaml'), 'runtime-classes: [gvisor-vm]\n');
  const out = await lintCli(['-f', 'json', '--config', config, 'k8s/pod.yaml']);
  assert.deepEqual(
    json(out).findings.map((f) => [f.rule, f.range]),
    [['host-network-mode', { start: { line: 6, character: 2 }, end: { line: 6, character: 13 } }]],
  );
});

test('--config applies one config to every file; a bad config is a finding in it', async () => {
  const dir = join(tmp, 'config');
  write(join(dir, 'strict.yaml'), 'profile: clear-containers\nseverity:\n  link: warning\n');
  write(join(dir, 'bad', '.vmrt-lint.yaml'), 'profile: clear\n');
  write(join(dir, 'bad', 'run.sh'), 'echo hi\n');
  const strict = json(await lintCli(['-f', 'json', '--config', join(dir, 'strict.yaml'), 'host/compose.yaml'])).findings;
  assert.deepEqual(
    strict.map((f) => `${f.rule}:${f.severity}`),
    ['host-network-mode:error', 'cpus-limit:warning', 'legacy-link:warning'],
  );
  const bad = await lintCli(['-f', 'compact', 'bad/run.sh'], { cwd: dir });
  assert.equal(bad.code, 1);
  assert.equal(
    bad.stdout.split('\n')[0],
    "bad/.vmrt-lint.yaml:1:10 error invalid-config schema invalid .vmrt-lint config: unknown profile 'clear' (expected vmrt, clear-containers, kata or runc)",
  );
});
