import assert from 'node:assert/strict';
import { test } from 'node:test';
import { o, subjects } from './helpers.js';

test('cpuset-shares: pinning to CPUs or memory nodes, and shares', () => {
  assert.deepEqual(subjects('cpuset-shares', o('cpuset-cpus', '0-1'), o('cpuset-mems', '0'), o('cpu-shares', 512)), [
    'pinning to CPUs 0-1',
    'pinning to memory nodes 0',
    'CPU shares of 512',
  ]);
});
