import assert from 'node:assert/strict';
import { test } from 'node:test';
import { o, subjects } from './helpers.js';

test('host-uts-namespace: host', () => {
  assert.deepEqual(subjects('host-uts-namespace', o('uts', 'host'), o('uts', 'private')), ['the host UTS namespace']);
});
