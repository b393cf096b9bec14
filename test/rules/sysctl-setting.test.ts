import assert from 'node:assert/strict';
import { test } from 'node:test';
import { o, subjects } from './helpers.js';

test('sysctl-setting: a sysctl', () => {
  assert.deepEqual(subjects('sysctl-setting', o('sysctl', { key: 'net.core.somaxconn', value: '1024' })), [
    'the sysctl net.core.somaxconn=1024',
  ]);
});
