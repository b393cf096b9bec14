import { test } from 'node:test';
import { assertCommandRule } from './helpers.js';

test('top-command: one hit, for the top command among all runtime-feature commands', () => {
  assertCommandRule('top-command', 'top', 'top');
});
