import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Linter } from '../../server/src/engine/lint.js';
import { assertCommandRule } from './helpers.js';

test('update-command: one hit, for the update command among all runtime-feature commands', () => {
  assertCommandRule('update-command', 'update', 'update');
});

/** An update line's findings under a profile, as rule: text of the range. */
function updateFindings(profile: 'kata' | 'clear-containers' | 'runc', script: string): string[] {
  return new Linter({ profile })
    .lintText('update.sh', script)
    .findings.map(
      (f) => `${f.rule} ${f.severity}: ${script.split('\n')[f.range.start.line]!.slice(f.range.start.character, f.range.end.character)}`,
    );
}

test('docker update: its flags are read as docker run reads them, so profiles judge what it changes', () => {
  const script = 'docker update --blkio-weight 300 web db\ndocker container update db --cpus=2 -m 1g --restart always\n';
  // Kata lists the block I/O weight as the one update it does not support; the rest of an update works there.
  assert.deepEqual(updateFindings('kata', script), ['blkio-limit warning: --blkio-weight 300']);
  assert.deepEqual(updateFindings('runc', script), []);
  // Every flag is placed and judged as in docker run, beside the update itself.
  assert.deepEqual(updateFindings('clear-containers', script), [
    'update-command warning: update',
    'blkio-limit warning: --blkio-weight 300',
    'update-command warning: container update',
    'cpus-limit warning: --cpus=2',
  ]);
  // A weight given when the container is created is not what Kata's limitation is about.
  assert.deepEqual(updateFindings('kata', 'docker run --blkio-weight 300 app\n'), ['blkio-limit hint: --blkio-weight 300']);
});
