import assert from 'node:assert/strict';
import { test } from 'node:test';
import { o, subjects } from './helpers.js';

test('privileged-mode: privileged true, not false', () => {
  assert.deepEqual(subjects('privileged-mode', o('privileged', true), o('privileged', false)), ['privileged mode']);
});
