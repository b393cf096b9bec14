import assert from 'node:assert/strict';
import { test } from 'node:test';
import { o, subjects } from './helpers.js';

test('container-network-mode: container: and service: modes', () => {
  assert.deepEqual(subjects('container-network-mode', o('network', 'container:db'), o('network', 'service:db'), o('network', 'host')), [
    'joining the network of container:db',
    'joining the network of service:db',
  ]);
});
