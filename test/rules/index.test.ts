import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import { FEATURE_IDS } from '../../runtime/src/capabilities.js';
import { RULES } from '../../server/src/rules/index.js';

test("every rule has a unique id, a feature id, a description and its feature's docs page", () => {
  assert.equal(new Set(RULES.map((r) => r.meta.id)).size, RULES.length);
  for (const r of RULES) {
    assert.ok((FEATURE_IDS as readonly string[]).includes(r.meta.feature), r.meta.id);
    assert.equal(r.meta.docs, `docs/features/${r.meta.feature}.md`);
    assert.ok(existsSync(r.meta.docs), `${r.meta.docs} exists`);
    assert.match(r.meta.description, /\.$/);
  }
  // Every feature id of docs/features/README.md has at least one rule.
  assert.deepEqual(
    FEATURE_IDS.filter((f) => !RULES.some((r) => r.meta.feature === f)),
    [],
  );
});
