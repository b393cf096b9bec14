import { test } from 'node:test';
import { assertCommandRule } from './helpers.js';

test('update-command: one hit, for the update command among all runtime-feature commands', () => {
  assertCommandRule('update-command', 'update', 'update');
});
