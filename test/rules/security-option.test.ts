import assert from 'node:assert/strict';
import { test } from 'node:test';
import { o, subjects } from './helpers.js';

test('security options: AppArmor, SELinux labels and seccomp, not no-new-privileges', () => {
  assert.deepEqual(
    subjects(
      'security-option',
      o('security-opt', 'apparmor=unconfined'),
      o('security-opt', 'label:disable'),
      o('security-opt', 'seccomp=profile.json'),
      o('security-opt', 'no-new-privileges'),
    ),
    ['the security option apparmor=unconfined', 'the security option label:disable', 'the security option seccomp=profile.json'],
  );
});
