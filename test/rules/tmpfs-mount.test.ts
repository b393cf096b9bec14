import assert from 'node:assert/strict';
import { test } from 'node:test';
import { o, subjects } from './helpers.js';

test('tmpfs-mount: the tmpfs flag and the tmpfs mount type', () => {
  assert.deepEqual(
    subjects(
      'tmpfs-mount',
      o('tmpfs', { target: '/run' }),
      o('mount', { type: 'tmpfs', target: '/cache' }),
      o('mount', { type: 'bind', source: '/a', target: '/b' }),
    ),
    ['the tmpfs mount on /run', 'the tmpfs mount on /cache'],
  );
});
