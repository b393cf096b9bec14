import assert from 'node:assert/strict';
import { test } from 'node:test';
import { o, subjects } from './helpers.js';

test('host-userns: host', () => {
  assert.deepEqual(subjects('host-userns', o('userns', 'host'), o('userns', 'keep-id')), ['the host user namespace']);
});

test('host-userns: a joined user namespace (config.json names it by its path), as the runtime refuses it', () => {
  assert.deepEqual(subjects('host-userns', o('userns', 'container:/proc/1/ns/user')), ['the user namespace container:/proc/1/ns/user']);
});
