import assert from 'node:assert/strict';
import { test } from 'node:test';
import { o, subjects } from './helpers.js';

test('k8s-subpath: a volume subPath', () => {
  assert.deepEqual(subjects('k8s-subpath', o('subpath', 'conf')), ['the volume subPath conf']);
});
