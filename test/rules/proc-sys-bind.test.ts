import assert from 'node:assert/strict';
import { test } from 'node:test';
import { o, subjects } from './helpers.js';

test('proc-sys-bind: bind mounts onto /proc and /sys', () => {
  assert.deepEqual(
    subjects(
      'proc-sys-bind',
      o('mount', { type: 'bind', source: '/srv/cpuinfo', target: '/proc/cpuinfo' }),
      o('mount', { type: 'bind', source: '/sys/fs/cgroup', target: '/sys/fs/cgroup' }),
      o('mount', { type: 'bind', source: '/proc', target: '/host/proc' }),
      o('mount', { type: 'other', target: '/proc' }),
    ),
    ['the bind mount onto /proc/cpuinfo', 'the bind mount onto /sys/fs/cgroup'],
  );
});
