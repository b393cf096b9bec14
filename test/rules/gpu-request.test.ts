import assert from 'node:assert/strict';
import { test } from 'node:test';
import { o, subjects } from './helpers.js';

test('gpu-request: a GPU request', () => {
  assert.deepEqual(subjects('gpu-request', o('gpus', 'all')), ['the GPU request all']);
});
