import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, test } from 'node:test';
import { CAPABILITIES } from '../../runtime/src/capabilities.js';
import { Linter, lint } from '../../server/src/engine/lint.js';
import { Suppressions } from '../../server/src/engine/pragmas.js';
import type { ContainerRequest, FrontEnd } from '../../server/src/core/types.js';
import { kindByName, selectFrontEnd } from '../../server/src/frontends/index.js';
import { vmrtProfile } from '../../server/src/profiles/index.js';
import { RULES } from '../../server/src/rules/index.js';
import { applyEdits, lineFrontEnd, range } from './lint-helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'vmrt-lint-engine-'));
after(() => rmSync(dir, { recursive: true, force: true }));

let counter = 0;
/** Writes a file in a fresh folder of its own (so no config of another test is found). */
function file(name: string, text: string | Buffer, config?: string): string {
  const folder = join(dir, `case-${++counter}`);
  mkdirSync(folder, { recursive: true });
  if (config !== undefined) writeFileSync(join(folder, '.vmrt-lint.yaml'), config);
  const path = join(folder, name);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
  return path;
}

const frontEnds = [lineFrontEnd()];
const linter = (options: ConstructorParameters<typeof Linter>[0] = {}) => new Linter({ frontEnds, ...options });
const brief = (findings: { rule: string; severity: string; range: { start: { line: number; character: number } } }[]) =>
  findings.map((f) => `${f.range.start.line}:${f.range.start.character} ${f.severity} ${f.rule}`);

test('a rule finding carries feature, rule, severity, a one-sentence message, the exact range, docs and fix', () => {
  const path = file('run.sh', 'docker run --net=host nginx\n');
  const [finding, ...rest] = linter().lintFile(path).findings;
  assert.equal(rest.length, 0);
  assert.deepEqual(finding, {
    file: path,
    feature: 'host-network',
    rule: 'host-network-mode',
    severity: 'error',
    message: 'The host network mode is not supported by vmrt.',
    range: range(0, 11, 21),
    docs: 'docs/features/host-network.md',
    fix: { title: 'Remove the host network mode (publish the ports you need instead)', edits: [{ range: range(0, 11, 21), newText: '' }] },
  });
});

test('profiles choose severities: clear-containers, kata, runc', () => {
  const path = file('run.sh', 'docker run --cpus=1.5 --privileged --kernel-memory=50m app\n');
  assert.deepEqual(brief(linter({ profile: 'clear-containers' }).lintFile(path).findings), [
    '0:11 warning cpus-limit',
    '0:22 error privileged-mode',
    '0:35 warning kernel-memory-limit',
  ]);
  assert.deepEqual(brief(linter({ profile: 'kata' }).lintFile(path).findings), [
    '0:22 info privileged-mode',
    '0:35 hint kernel-memory-limit',
  ]);
  assert.deepEqual(linter({ profile: 'runc' }).lintFile(path).findings, []);
  const cpus = linter({ profile: 'clear-containers' }).lintFile(path).findings[0]!;
  assert.equal(
    applyEdits('docker run --cpus=1.5 --privileged --kernel-memory=50m app\n', cpus.fix!.edits),
    'docker run --cpu-period=100000 --cpu-quota=150000 --privileged --kernel-memory=50m app\n',
  );
  assert.match(
    linter({ profile: 'kata' }).lintFile(path).findings[1]!.message,
    /^The kernel memory limit 50m is not documented by kata\.$/,
  );
});

test('a profile built from a changed capability table changes the findings', () => {
  const path = file('run.sh', 'docker run --net=host nginx\n');
  const profile = vmrtProfile({ ...CAPABILITIES, 'host-network': { status: 'differs', reason: 'shared through the VM' } });
  assert.deepEqual(brief(linter({ profile }).lintFile(path).findings), ['0:11 info host-network-mode']);
  assert.equal(linter({ profile }).lintFile(path).findings[0]!.message, 'The host network mode works differently under vmrt.');
});

test('front end problems become findings at their place; other files are still linted', () => {
  const broken = file('a.sh', 'echo\n  PARSE-ERROR here\n');
  const good = file('b.sh', 'docker run --privileged x\n');
  const findings = lint([broken, good], { frontEnds });
  assert.deepEqual(
    findings.map((f) => [f.file, f.feature, f.rule, f.range]),
    [
      [broken, 'parse-error', 'parse-error', range(1, 2, 13)],
      [good, 'privileged', 'privileged-mode', range(0, 11, 23)],
    ],
  );
});

test('a front end that throws gives an internal-error finding at 0:0 and the next file is linted', () => {
  const throwing = file('t.sh', 'THROW\n');
  const good = file('g.sh', 'docker run --net=host x\n');
  const findings = lint([throwing, good], { frontEnds });
  assert.deepEqual(
    findings.map((f) => [f.file, f.feature, f.rule, f.severity, f.range]),
    [
      [throwing, 'file', 'internal-error', 'error', range(0, 0, 0)],
      [good, 'host-network', 'host-network-mode', 'error', range(0, 11, 21)],
    ],
  );
  assert.match(findings[0]!.message, /^internal error in the command front end: TypeError: boom in the front end/);
});

test('a rule that throws is reported and the other rules still run', () => {
  const path = file('r.sh', 'docker run --net=host x\n');
  const exploding = {
    meta: { id: 'exploding', feature: 'privileged' as const, description: 'x.', docs: 'docs/features/privileged.md' },
    check: () => {
      throw new Error('rule bug');
    },
  };
  const { findings } = new Linter({ frontEnds, rules: [exploding, ...RULES] }).lintFile(path);
  assert.deepEqual(brief(findings), ['0:0 error internal-error', '0:11 error host-network-mode']);
  assert.match(findings[0]!.message, /internal error in rule exploding: Error: rule bug/);
});

test('files over 10 MB, binary and unreadable files are findings, never crashes', () => {
  const big = file('big.sh', Buffer.alloc(10 * 1024 * 1024 + 1, 0x61));
  const binary = file('bin.sh', Buffer.from([0x23, 0x21, 0x00, 0x01]));
  const missing = join(dir, 'missing.sh');
  const findings = lint([big, binary, missing], { frontEnds });
  assert.deepEqual(
    findings.map((f) => [f.file, f.feature, f.rule, f.severity, f.range]),
    [
      [big, 'file', 'file-too-large', 'error', range(0, 0, 0)],
      [binary, 'file', 'binary-file', 'error', range(0, 0, 0)],
      [missing, 'file', 'unreadable', 'error', range(0, 0, 0)],
    ],
  );
  assert.equal(findings[0]!.message, 'the file is 10.0 MB, over the 10 MB limit: not linted');
  // Found by walking, a binary file without a name that says it is ours is skipped silently.
  const image = file('logo.png', Buffer.from([0x89, 0x50, 0x00]));
  const skipped = linter().lintFile(image, false);
  assert.deepEqual([skipped.linted, skipped.findings], [false, []]);
});

test('pragmas: line before, a list with a reason, continuation lines, file-wide, and --disable-ignore-pragma', () => {
  const text = [
    '# vmrt-ignore host-network -- the load balancer needs it',
    'docker run --net=host x',
    '# vmrt-ignore cpus-limit,privileged',
    'docker run --cpus=2 \\',
    '  --privileged --link=db x',
    'docker run --net=host y',
  ].join('\n');
  const path = file('p.sh', text);
  assert.deepEqual(brief(linter().lintFile(path).findings), ['4:15 error legacy-link', '5:11 error host-network-mode']);
  assert.deepEqual(brief(linter({ disableIgnorePragma: true }).lintFile(path).findings), [
    '1:11 error host-network-mode',
    '4:2 info privileged-mode',
    '4:15 error legacy-link',
    '5:11 error host-network-mode',
  ]);
  const fileWide = file(
    'f.sh',
    `docker run --net=host x\n# vmrt-ignore-file host-network-mode, link\ndocker run --link=a --privileged x\n`,
  );
  assert.deepEqual(brief(linter().lintFile(fileWide).findings), ['2:20 info privileged-mode']);
});

test('pragma parsing: reason, comment styles per kind, Markdown comments', () => {
  const s = new Suppressions('<!-- vmrt-ignore host-network, link -- demo only -->\n// vmrt-ignore privileged\n', ['#', '<!--']);
  assert.deepEqual(s.pragmas, [{ line: 0, fileWide: false, ids: ['host-network', 'link'], reason: 'demo only' }]);
  const jsonc = new Suppressions('{\n  // vmrt-ignore privileged -- VS Code needs it\n  "privileged": true\n}', ['//']);
  assert.equal(jsonc.suppresses({ rule: 'privileged-mode', feature: 'privileged', range: range(2, 2, 14) }), true);
  assert.equal(jsonc.suppresses({ rule: 'privileged-mode', feature: 'privileged', range: range(3, 0, 1) }), false);
  // `#` is not a comment in JSONC, so it is no pragma there.
  assert.deepEqual(new Suppressions('# vmrt-ignore privileged\n', ['//']).pragmas, []);
  // Not the line before: a code line in between ends the search.
  const hash = new Suppressions('# vmrt-ignore privileged\necho hi\ndocker run --privileged x\n', ['#']);
  assert.equal(hash.suppresses({ rule: 'privileged-mode', feature: 'privileged', range: range(2, 11, 23) }), false);
});

test('config: found upward, severity per rule and per feature, off, ignored ids, profile, runtime classes', () => {
  const config = [
    'profile: clear-containers',
    'severity:',
    '  cpus-limit: error',
    '  privileged: info',
    '  kernel-memory: off',
    'ignored: [link]',
    'runtime-classes: [gvisor-vm]',
    'failure-threshold: warning',
  ].join('\n');
  const path = file('nested/deeper/c.sh', 'docker run --cpus=1 --privileged --kernel-memory=1g --link=db --net=host x\n', config);
  const result = linter().lintFile(path);
  assert.deepEqual(brief(result.findings), ['0:11 error cpus-limit', '0:20 info privileged-mode', '0:62 error host-network-mode']);
  assert.equal(result.config.failureThreshold, 'warning');
  assert.deepEqual(result.config.runtimeClasses, ['gvisor-vm']);
  // The command line's profile wins over the config's.
  assert.deepEqual(brief(linter({ profile: 'runc' }).lintFile(path).findings), []);
  // --config replaces discovery.
  const other = file('other.yaml', 'severity:\n  host-network: warning\n');
  assert.deepEqual(brief(linter({ configPath: other }).lintFile(path).findings), [
    '0:20 info privileged-mode',
    '0:33 hint kernel-memory-limit',
    '0:52 error legacy-link',
    '0:62 warning host-network-mode',
  ]);
});

test("the front end receives the config's runtime classes and the environment", () => {
  let seen: unknown;
  const spy: FrontEnd = {
    kind: 'kubernetes',
    detect: () => true,
    parse: (_f, ctx) => {
      seen = [ctx.runtimeClasses, ctx.env['X']];
      return { requests: [], problems: [] };
    },
  };
  const path = file('pod.yaml', 'kind: Pod\n', 'runtime-classes: [vm-a, "vm-*"]\n');
  new Linter({ frontEnds: [spy], env: { X: 'y' } }).lintFile(path);
  assert.deepEqual(seen, [['vm-a', 'vm-*'], 'y']);
  const plain = file('pod.yaml', 'kind: Pod\n');
  new Linter({ frontEnds: [spy], env: {} }).lintFile(plain);
  assert.deepEqual(seen, [['vmrt', 'kata', 'kata-*', 'clear-containers'], undefined]);
});

test('an invalid config is reported in the config file, at the offending place, once', () => {
  const config = 'profile: gvisor\nseverity:\n  host-network: loud\n  no-such-rule: error\nignored: nope\ncolour: red\n';
  const path = file('x.sh', 'docker run --net=host x\n', config);
  const other = join(path, '..', 'y.sh');
  writeFileSync(other, 'echo\n');
  const l = linter();
  const findings = [...l.lintFile(path).findings, ...l.lintFile(other).findings];
  const configPath = join(path, '..', '.vmrt-lint.yaml');
  assert.deepEqual(
    findings.filter((f) => f.file === configPath).map((f) => [f.rule, f.feature, f.severity, f.range, f.message]),
    [
      [
        'invalid-config',
        'schema',
        'error',
        range(0, 9, 15),
        "invalid .vmrt-lint config: unknown profile 'gvisor' (expected vmrt, clear-containers, kata or runc)",
      ],
      [
        'invalid-config',
        'schema',
        'error',
        range(2, 16, 20),
        "invalid .vmrt-lint config: severity of 'host-network' must be error, warning, info, hint or off",
      ],
      ['invalid-config', 'schema', 'error', range(3, 2, 14), "invalid .vmrt-lint config: unknown rule or feature id 'no-such-rule'"],
      ['invalid-config', 'schema', 'error', range(4, 9, 13), 'invalid .vmrt-lint config: ignored must be a list'],
      [
        'invalid-config',
        'schema',
        'error',
        range(5, 0, 6),
        "invalid .vmrt-lint config: unknown key 'colour' (expected profile, failure-threshold, severity, ignored, runtime-classes, disable-ignore-pragma)",
      ],
    ],
  );
  // The valid rest of the config still applies (defaults here) and the file is linted.
  assert.deepEqual(brief(findings.filter((f) => f.file === path)), ['0:11 error host-network-mode']);
  const syntax = file('z.sh', 'echo\n', 'profile: [vmrt\n');
  assert.equal(linter().lintFile(syntax).findings[0]?.rule, 'invalid-config');
  assert.match(linter().lintFile(syntax).findings[0]!.message, /^invalid .vmrt-lint config: YAML syntax: /);
});

test('kind detection: by name first, then by content, and a forced kind', () => {
  assert.equal(kindByName('/x/Dockerfile'), 'dockerfile');
  assert.equal(kindByName('/x/api.Dockerfile'), 'dockerfile');
  assert.equal(kindByName('/x/Containerfile.dev'), 'dockerfile');
  assert.equal(kindByName('/x/docker-compose.prod.yml'), 'compose');
  assert.equal(kindByName('/x/compose.override.yaml'), 'compose');
  assert.equal(kindByName('/x/.devcontainer/devcontainer.json'), 'devcontainer');
  assert.equal(kindByName('/x/.devcontainer.json'), 'devcontainer');
  assert.equal(kindByName('/x/deploy.sh'), 'command');
  assert.equal(kindByName('/x/Makefile'), 'command');
  assert.equal(kindByName('/x/README.md'), 'command');
  assert.equal(kindByName('/x/.github/workflows/ci.yml'), 'command');
  assert.equal(kindByName('/x/pod.yaml'), undefined);
  assert.equal(kindByName('/x/config.json'), undefined);
  const yamlA: FrontEnd = { kind: 'compose', detect: (_p, t) => t.startsWith('services:'), parse: () => ({ requests: [], problems: [] }) };
  const yamlB: FrontEnd = { kind: 'kubernetes', detect: (_p, t) => t.includes('kind:'), parse: () => ({ requests: [], problems: [] }) };
  const list = [yamlA, yamlB];
  assert.equal(selectFrontEnd('/x/a.yaml', 'services:\n  kind: x', undefined, list), yamlA);
  assert.equal(selectFrontEnd('/x/a.yaml', 'kind: Pod', undefined, list), yamlB);
  assert.equal(selectFrontEnd('/x/compose.yaml', 'kind: Pod', undefined, list), yamlA);
  assert.equal(selectFrontEnd('/x/a.txt', 'hello', undefined, list), undefined);
  assert.equal(selectFrontEnd('/x/a.txt', 'hello', 'kubernetes', list), yamlB);
  assert.equal(selectFrontEnd('/x/a.yaml', 'services:', 'oci', list), undefined);
});

test("extends: a finding in another file uses that file's pragmas and is reported once", () => {
  const base = file('base.sh', '# vmrt-ignore privileged\ndocker run --privileged --net=host x\n');
  const child: FrontEnd = {
    kind: 'command',
    detect: () => true,
    parse: (f, ctx) => {
      const text = ctx.readFile(base)!;
      const inner = lineFrontEnd().parse({ path: base, text }, ctx);
      return { requests: [{ ...inner.requests[0]!, file: f.path }], problems: [] };
    },
  };
  const childPath = file('child.sh', 'echo\n');
  const findings = lint([childPath, childPath], { frontEnds: [child] });
  assert.deepEqual(
    findings.map((f) => [f.file, f.rule, f.range]),
    [[base, 'host-network-mode', range(1, 24, 34)]],
  );
});

test("YAML pragmas: over a list's key and its earlier items, not over a sibling list or key", () => {
  const yaml = [
    'services:', // 0
    '  a:', // 1
    '    # vmrt-ignore capabilities',
    '    cap_add:', // 3
    '    - NET_ADMIN', // 4
    '    - SYS_TIME', // 5
    '    cap_drop:', // 6
    '    - MKNOD', // 7
    '    # vmrt-ignore sysctl',
    '    sysctls:', // 9
    '      net.core.x: 1', // 10
    '      net.core.y: 2', // 11
  ].join('\n');
  const s = new Suppressions(yaml, ['#'], true);
  const at = (line: number, indent: number) =>
    s.suppresses({ rule: 'r', feature: line < 9 ? 'capabilities' : 'sysctl', range: range(line, indent, indent + 3) });
  assert.deepEqual([at(4, 6), at(5, 6), at(7, 6), at(10, 6), at(11, 6)], [true, true, false, true, false]);
  // Without YAML rules (a shell script), only comment and continuation lines are passed over.
  assert.equal(new Suppressions(yaml, ['#']).suppresses({ rule: 'r', feature: 'capabilities', range: range(4, 6, 9) }), false);
});

test('fixes are computed once, on first read, and a fix that throws leaves the finding without one', () => {
  let computed = 0;
  const counting = {
    meta: { id: 'counting', feature: 'privileged' as const, description: 'x.', docs: 'docs/features/privileged.md' },
    check: (request: ContainerRequest) =>
      request.options.map((option) => ({
        option,
        subject: 'it',
        fix: () => {
          computed++;
          return { title: 't', edits: [{ range: option.range, newText: '' }] };
        },
      })),
  };
  const failing = {
    ...counting,
    meta: { ...counting.meta, id: 'failing' },
    check: (request: ContainerRequest) =>
      request.options.map((option) => ({
        option,
        subject: 'it',
        fix: () => {
          throw new Error('no');
        },
      })),
  };
  const path = file('lazy.sh', 'docker run --privileged x\n');
  const [first, second] = new Linter({ frontEnds, rules: [counting, failing] }).lintFile(path).findings;
  assert.equal(computed, 0);
  assert.deepEqual(first!.fix, { title: 't', edits: [{ range: range(0, 11, 23), newText: '' }] });
  assert.deepEqual(JSON.parse(JSON.stringify(first)).fix, first!.fix);
  assert.equal(computed, 1);
  assert.equal(second!.rule, 'failing');
  assert.equal(second!.fix, undefined);
  assert.equal(JSON.stringify(second).includes('"fix"'), false);
});
