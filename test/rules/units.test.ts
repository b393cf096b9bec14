import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseBytes } from '../../server/src/rules/units.js';

test("byte sizes follow Docker's units", () => {
  assert.equal(parseBytes('64m'), 64 * 1024 * 1024);
  assert.equal(parseBytes('64MiB'), 64 * 1024 * 1024);
  assert.equal(parseBytes('1.5g'), 1.5 * 1024 ** 3);
  assert.equal(parseBytes('65536k'), 64 * 1024 * 1024);
  assert.equal(parseBytes('100'), 100);
  assert.equal(parseBytes('lots'), undefined);
});
