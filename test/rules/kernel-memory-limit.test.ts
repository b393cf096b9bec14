import assert from 'node:assert/strict';
import { test } from 'node:test';
import { rule } from './helpers.js';
import { flagEditor, option, range, request } from '../unit/lint-helpers.js';

test('kernel-memory-limit: the limit, and the fix removes it', () => {
  const at = range(3, 0, 20);
  const [kmem] = rule('kernel-memory-limit').check(request(option('kernel-memory', '50m', at, '/w/x.sh', flagEditor(at))));
  assert.equal(kmem?.subject, 'the kernel memory limit 50m');
  assert.deepEqual(kmem?.fix?.(), { title: 'Remove the kernel memory limit', edits: [{ range: at, newText: '' }] });
});

test('kernel-memory-limit: -1 is no limit, not a request', () => {
  assert.deepEqual(rule('kernel-memory-limit').check(request(option('kernel-memory', '-1'))), []);
});
