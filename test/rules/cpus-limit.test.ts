import assert from 'node:assert/strict';
import { test } from 'node:test';
import { rule } from './helpers.js';
import { flagEditor, option, range, request } from '../unit/lint-helpers.js';

test('cpus fix: --cpus=1.5 becomes --cpu-period=100000 --cpu-quota=150000', () => {
  const at = range(0, 11, 22);
  const [hit] = rule('cpus-limit').check(request(option('cpus', 1.5, at, '/w/x.sh', flagEditor(at))));
  assert.equal(hit?.subject, 'the CPU limit of 1.5 CPUs');
  assert.deepEqual(hit?.fix?.(), {
    title: 'Use cpu-period 100000 and cpu-quota 150000 instead',
    edits: [{ range: at, newText: '--cpu-period=100000 --cpu-quota=150000' }],
  });
  // A syntax that cannot write the replacement gives no fix.
  const [none] = rule('cpus-limit').check(request(option('cpus', 2, at, '/w/x.sh', { replace: () => undefined, remove: () => [] })));
  assert.equal(none?.fix?.(), undefined);
});
