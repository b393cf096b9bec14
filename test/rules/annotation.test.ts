import assert from 'node:assert/strict';
import { test } from 'node:test';
import { o, subjects } from './helpers.js';

test('annotation: an annotation', () => {
  assert.deepEqual(subjects('annotation', o('annotation', { key: 'com.example/x', value: '1' })), ['the annotation com.example/x']);
});
