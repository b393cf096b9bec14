import assert from 'node:assert/strict';
import { test } from 'node:test';
import { o, subjects } from './helpers.js';

test('swarm-deploy-key: a swarm-only deploy key', () => {
  assert.deepEqual(subjects('swarm-deploy-key', o('swarm-key', 'replicas')), ['the swarm deploy key replicas']);
});
