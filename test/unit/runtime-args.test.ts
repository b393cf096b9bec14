import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseArgs, flagBool, flagList, flagString } from '../../runtime/src/args.js';
import { UsageError } from '../../runtime/src/errors.js';
import { Logger } from '../../runtime/src/log.js';
import { parseSignal } from '../../runtime/src/signals.js';

const specs = {
  bundle: { kind: 'string', aliases: ['b'] },
  'no-subreaper': { kind: 'bool' },
  detach: { kind: 'bool', aliases: ['d'] },
  env: { kind: 'list', aliases: ['e'] },
} as const;

test('accepts --x v, --x=v, -x v and single-dash long flags (go-runc forms)', () => {
  const a = parseArgs(['--bundle', '/b1', '-no-subreaper', '-d', 'id1'], specs);
  assert.equal(flagString(a, 'bundle'), '/b1');
  assert.equal(flagBool(a, 'no-subreaper'), true);
  assert.equal(flagBool(a, 'detach'), true);
  assert.deepEqual(a.positionals, ['id1']);
  const b = parseArgs(['--bundle=/b2', '-b=/b3', 'id2'], specs);
  assert.equal(flagString(b, 'bundle'), '/b3');
  const c = parseArgs(['--detach=false', 'id3'], specs);
  assert.equal(flagBool(c, 'detach'), false);
});

test("stops at the first positional, so exec keeps the command's own flags", () => {
  const a = parseArgs(['-e', 'A=1', '--env=B=2', 'ctr', 'sh', '-c', 'echo --bundle'], specs);
  assert.deepEqual(flagList(a, 'env'), ['A=1', 'B=2']);
  assert.deepEqual(a.positionals, ['ctr', 'sh', '-c', 'echo --bundle']);
});

test('unknown flags and missing values are usage errors (exit 2)', () => {
  assert.throws(
    () => parseArgs(['--nope', 'x'], specs),
    (e: unknown) => e instanceof UsageError && e.exitCode === 2 && /flag provided but not defined: -nope/.test(e.message),
  );
  assert.throws(() => parseArgs(['--bundle'], specs), /flag needs an argument: -bundle/);
  assert.throws(() => parseArgs(['--detach=maybe'], specs), /invalid boolean value "maybe"/);
});

test('log lines are logrus JSON or text', () => {
  const time = new Date('2026-01-02T03:04:05.000Z');
  assert.equal(
    Logger.formatLine('json', 'error', 'boom "x"', time),
    '{"level":"error","msg":"boom \\"x\\"","time":"2026-01-02T03:04:05.000Z"}\n',
  );
  assert.equal(Logger.formatLine('text', 'warning', 'careful', time), 'time="2026-01-02T03:04:05.000Z" level=warning msg="careful"\n');
});

test('signals by number, name and SIG-name, as runc kill', () => {
  assert.equal(parseSignal('9'), 9);
  assert.equal(parseSignal('KILL'), 9);
  assert.equal(parseSignal('SIGUSR1'), 10);
  assert.equal(parseSignal('term'), 15);
  assert.throws(() => parseSignal('NOPE'), /unknown signal "NOPE"/);
  assert.throws(() => parseSignal('99'), /unknown signal "99"/);
});
