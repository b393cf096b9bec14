import assert from 'node:assert/strict';
import { test } from 'node:test';
import { o, subjects } from './helpers.js';

test('host-userns: host', () => {
  assert.deepEqual(subjects('host-userns', o('userns', 'host'), o('userns', 'keep-id')), ['the host user namespace']);
});
