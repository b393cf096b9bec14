import { test } from 'node:test';
import { assertCommandRule } from './helpers.js';

test('events-command: one hit, for the events command among all runtime-feature commands', () => {
  assertCommandRule('events-command', 'events', 'events');
});
