import assert from 'node:assert/strict';
import { test } from 'node:test';
import { o, subjects } from './helpers.js';

test('capability-change: added and dropped capabilities', () => {
  assert.deepEqual(subjects('capability-change', o('cap-add', 'NET_ADMIN'), o('cap-drop', 'ALL')), [
    'adding the capability NET_ADMIN',
    'dropping the capability ALL',
  ]);
});
