import assert from 'node:assert/strict';
import { test } from 'node:test';
import { o, rule, subjects } from './helpers.js';
import { flagEditor, option, range, request } from '../unit/lint-helpers.js';

test('legacy-link: a link', () => {
  assert.deepEqual(subjects('legacy-link', o('link', 'db:database')), ['the legacy link db:database']);
});

test('link fix removes the link, says to use a user-defined network, and is not marked safe', () => {
  const at = range(0, 5, 20);
  const [hit] = rule('legacy-link').check(request(option('link', 'db', at, '/w/x.sh', flagEditor(at))));
  assert.deepEqual(hit?.fix?.(), {
    title: 'Remove the link db; put both containers on one user-defined network and use the name instead',
    edits: [{ range: at, newText: '' }],
    safe: false,
  });
});
