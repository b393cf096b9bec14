import assert from 'node:assert/strict';
import { test } from 'node:test';
import { o, rule } from './helpers.js';
import { option, range, request } from '../unit/lint-helpers.js';

test('mount propagation: shared and slave kinds are findings, private is not; the fix drops the propagation', () => {
  const at = range(1, 4, 30);
  const shared = option('mount', { type: 'bind', source: '/srv', target: '/srv', propagation: 'rshared' }, at, '/w/x.sh', {
    replace: (opts) => [{ range: at, newText: JSON.stringify(opts) }],
    remove: () => [],
  });
  const hits = rule('mount-propagation').check(
    request(
      shared,
      o('mount', { type: 'bind', source: '/a', target: '/a', propagation: 'rprivate' }),
      o('mount', { type: 'bind', source: '/b', target: '/b', propagation: 'slave' }),
    ),
  );
  assert.deepEqual(
    hits.map((h) => h.subject),
    ['rshared propagation of the mount on /srv', 'slave propagation of the mount on /b'],
  );
  assert.deepEqual(hits[0]?.fix?.(), {
    title: 'Drop the rshared propagation',
    edits: [{ range: at, newText: JSON.stringify([{ option: 'mount', value: { type: 'bind', source: '/srv', target: '/srv' } }]) }],
  });
});
