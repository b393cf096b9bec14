import assert from 'node:assert/strict';
import { test } from 'node:test';
import { o, subjects } from './helpers.js';

test('host-device: host devices, never /dev/vfio/N', () => {
  assert.deepEqual(
    subjects(
      'host-device',
      o('device', { host: '/dev/fuse' }),
      o('device', { host: '/dev/vfio/12' }),
      o('device', { host: '/dev/vfio/vfio' }),
      o('device', { host: '/dev/sda', container: '/dev/xvda' }),
    ),
    ['the host device /dev/fuse', 'the host device /dev/sda'],
  );
});
