import assert from 'node:assert/strict';
import { test } from 'node:test';
import { o, subjects } from './helpers.js';

test('blkio-limit: a block I/O flag', () => {
  assert.deepEqual(subjects('blkio-limit', o('blkio', '--blkio-weight')), ['the block I/O limit --blkio-weight']);
});
