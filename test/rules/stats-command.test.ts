import { test } from 'node:test';
import { assertCommandRule } from './helpers.js';

test('stats-command: one hit, for the stats command among all runtime-feature commands', () => {
  assertCommandRule('stats-command', 'stats', 'stats');
});
