import assert from 'node:assert/strict';
import { test } from 'node:test';
import { o, subjects } from './helpers.js';

test('shm-size: a size other than 64m', () => {
  assert.deepEqual(
    subjects(
      'shm-size',
      o('shm-size', '64m'),
      o('shm-size', '67108864'),
      o('shm-size', '64MB'),
      o('shm-size', '1g'),
      o('shm-size', '128m'),
    ),
    ['the /dev/shm size 1g', 'the /dev/shm size 128m'],
  );
});
