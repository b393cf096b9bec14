import assert from 'node:assert/strict';
import { test } from 'node:test';
import { o, rule, subjects } from './helpers.js';
import { flagEditor, option, range, request } from '../unit/lint-helpers.js';

test('host-network-mode: the host mode; bridge and named networks are fine', () => {
  assert.deepEqual(subjects('host-network-mode', o('network', 'host'), o('network', 'bridge'), o('network', 'backend')), [
    'the host network mode',
  ]);
});

test("host network fix removes the option through the front end's editor", () => {
  const at = range(2, 11, 20);
  const [hit] = rule('host-network-mode').check(request(option('network', 'host', at, '/w/x.sh', flagEditor(at))));
  assert.deepEqual(hit?.fix?.(), {
    title: 'Remove the host network mode (publish the ports you need instead)',
    edits: [{ range: at, newText: '' }],
  });
  // No editor (a syntax that cannot express it): no fix.
  assert.equal(
    rule('host-network-mode')
      .check(request(o('network', 'host')))[0]
      ?.fix?.(),
    undefined,
  );
});
