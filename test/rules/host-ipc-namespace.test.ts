import assert from 'node:assert/strict';
import { test } from 'node:test';
import { o, subjects } from './helpers.js';

test('host-ipc-namespace: host or service:', () => {
  assert.deepEqual(subjects('host-ipc-namespace', o('ipc', 'host'), o('ipc', 'shareable'), o('ipc', 'service:db')), [
    'the ipc namespace host',
    'the ipc namespace service:db',
  ]);
});
