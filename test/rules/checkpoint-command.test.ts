import { test } from 'node:test';
import { assertCommandRule } from './helpers.js';

test('checkpoint-command: one hit, for the checkpoint command among all runtime-feature commands', () => {
  assertCommandRule('checkpoint-command', 'checkpoint', 'checkpoint');
});
