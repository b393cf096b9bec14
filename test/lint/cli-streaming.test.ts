/**
 * vmrt-lint's output over a big workspace: tty and compact print each file's findings as
 * the file is linted (nothing is held for the end but counts), json and the other
 * one-document formats print once, at the end.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { run } from '../../server/src/cli/run.js';

const dir = mkdtempSync(join(tmpdir(), 'vmrt-cli-streaming-'));
after(() => rmSync(dir, { recursive: true, force: true }));
writeFileSync(join(dir, '.vmrt-lint.yaml'), 'profile: kata\n');
mkdirSync(join(dir, 'stacks'));
const FILES = ['a.sh', 'b.sh', 'c.sh'];
for (const name of FILES) writeFileSync(join(dir, 'stacks', name), `docker run --net=host ${name}\ndocker run --link=db:db ${name}\n`);

/** Runs the CLI, recording each write to stdout and which files had been linted (written) before it. */
async function chunks(format: string): Promise<string[]> {
  const written: string[] = [];
  const code = await run(['-f', format, 'stacks'], {
    cwd: dir,
    stdout: (text) => written.push(text),
    stderr: () => undefined,
    readStdin: async () => '',
    color: false,
    env: {},
  });
  assert.equal(code, 1);
  return written;
}

test('tty and compact: one write per file as it is linted, then the summary', async () => {
  for (const format of ['compact', 'tty']) {
    const written = await chunks(format);
    assert.equal(written.length, FILES.length + 1, written.join('---\n'));
    FILES.forEach((name, k) => {
      assert.ok(written[k]!.includes(`stacks/${name}`), `${format}: write ${k} is ${name}'s: ${written[k]}`);
      for (const other of FILES.filter((o) => o !== name)) assert.ok(!written[k]!.includes(`stacks/${other}`), written[k]);
    });
    assert.equal(written.at(-1), '6 findings (6 errors, 0 warnings, 0 info, 0 hints) in 3 files\n');
  }
});

test('json: one document at the end, every finding in it', async () => {
  const written = await chunks('json');
  assert.equal(written.length, 1);
  const { findings } = JSON.parse(written[0]!) as { findings: { file: string }[] };
  assert.deepEqual(
    findings.map((f) => f.file),
    FILES.flatMap((name) => [`stacks/${name}`, `stacks/${name}`]),
  );
});
