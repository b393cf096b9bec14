import { test } from 'node:test';
import { assertCommandRule } from './helpers.js';

test('network-connect-command: one hit, for the network-connect command among all runtime-feature commands', () => {
  assertCommandRule('network-connect-command', 'network-connect', 'network-connect');
});
