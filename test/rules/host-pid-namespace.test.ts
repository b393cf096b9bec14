import assert from 'node:assert/strict';
import { test } from 'node:test';
import { o, subjects } from './helpers.js';

test('host-pid-namespace: host or container:', () => {
  assert.deepEqual(subjects('host-pid-namespace', o('pid', 'host'), o('pid', 'container:web'), o('pid', 'private')), [
    'the pid namespace host',
    'the pid namespace container:web',
  ]);
});
