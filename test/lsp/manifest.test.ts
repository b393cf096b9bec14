/**
 * The extension manifest's problem matcher `$vmrt-lint` against the CLI's real compact output
 * (`--format compact`, the form for tasks); the default tty output is for people and spans lines.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ROOT } from './harness.js';

interface Pattern {
  regexp: string;
  file: number;
  line: number;
  column: number;
  severity: number;
  code: number;
  message: number;
}

test('$vmrt-lint reads every finding line of `vmrt-lint -f compact` (file, line, column, severity, rule, message)', () => {
  const manifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
    contributes: { problemMatchers: { name: string; pattern: Pattern }[] };
  };
  const matcher = manifest.contributes.problemMatchers.find((m) => m.name === 'vmrt-lint');
  assert.ok(matcher, 'package.json contributes the vmrt-lint problem matcher');
  const dir = mkdtempSync(join(tmpdir(), 'vmrt-matcher-'));
  try {
    // clear-containers: a warning that stays one whatever vmrt's own table says (vmrt now sizes /dev/shm).
    writeFileSync(join(dir, 'compose.yaml'), 'services:\n  web:\n    image: nginx\n    network_mode: host\n    shm_size: 1g\n');
    const run = spawnSync(
      process.execPath,
      [join(ROOT, 'out', 'server', 'src', 'cli', 'main.js'), '--format', 'compact', '--profile', 'clear-containers', 'compose.yaml'],
      { cwd: dir, encoding: 'utf8' },
    );
    assert.equal(run.status, 1, run.stderr);
    const pattern = new RegExp(matcher.pattern.regexp);
    const problems = run.stdout.split('\n').flatMap((line) => {
      const m = pattern.exec(line);
      return m
        ? [
            [
              m[matcher.pattern.file],
              m[matcher.pattern.line],
              m[matcher.pattern.column],
              m[matcher.pattern.severity],
              m[matcher.pattern.code],
              m[matcher.pattern.message]!.slice(0, 40),
            ],
          ]
        : [];
    });
    assert.deepEqual(problems, [
      ['compose.yaml', '4', '5', 'error', 'host-network-mode', 'The host network mode is not supported b'],
      ['compose.yaml', '5', '5', 'warning', 'shm-size', 'The /dev/shm size 1g is not implemented '],
    ]);
    assert.equal(run.stdout.split('\n').filter((line) => line && !pattern.test(line)).length, 1, 'only the summary line is left over');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
