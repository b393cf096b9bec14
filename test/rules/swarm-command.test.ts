import { test } from 'node:test';
import { assertCommandRule } from './helpers.js';

test('swarm-command: one hit, for the swarm command among all runtime-feature commands', () => {
  assertCommandRule('swarm-command', 'swarm', 'swarm');
});
