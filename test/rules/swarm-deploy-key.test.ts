import assert from 'node:assert/strict';
import { test } from 'node:test';
import { o, subjects } from './helpers.js';

test('swarm-deploy-key: a swarm-only deploy key', () => {
  assert.deepEqual(subjects('swarm-deploy-key', o('swarm-key', 'placement')), ['the swarm deploy key placement']);
});
