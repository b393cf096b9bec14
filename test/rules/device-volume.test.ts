import assert from 'node:assert/strict';
import { test } from 'node:test';
import { o, subjects } from './helpers.js';

test('device-volume: bind mounts of /dev', () => {
  assert.deepEqual(
    subjects(
      'device-volume',
      o('mount', { type: 'bind', source: '/dev/snd', target: '/dev/snd' }),
      o('mount', { type: 'bind', source: '/dev', target: '/host-dev' }),
      o('mount', { type: 'bind', source: '/devices', target: '/d' }),
      o('mount', { type: 'volume', source: 'dev', target: '/dev/x' }),
    ),
    ['the bind mount of /dev/snd', 'the bind mount of /dev'],
  );
});
