/**
 * The capability table and the integration tests prove each other: every row that claims the
 * feature works (ok, differs) has an integration test named `feature <id>: …`, and a test named
 * after a row that is still pending or unsupported means the table lags behind the runtime.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CAPABILITIES, FEATURE_IDS, isFeatureId } from '../../runtime/src/capabilities.js';
import { REPO } from '../support/images.js';

const INTEGRATION = join(REPO, 'test', 'integration');
/** A test whose name starts with "feature <id>:", in any quotes. */
const FEATURE_TEST = /\btest\(\s*(['"`])feature ([^:'"`]+):/g;

function featureTests(): Map<string, string[]> {
  const byId = new Map<string, string[]>();
  for (const file of readdirSync(INTEGRATION).filter((f) => f.endsWith('.test.ts'))) {
    for (const match of readFileSync(join(INTEGRATION, file), 'utf8').matchAll(FEATURE_TEST)) {
      byId.set(match[2]!, [...(byId.get(match[2]!) ?? []), file]);
    }
  }
  return byId;
}

test('every row with status ok or differs has an integration test named after its feature id', () => {
  const tests = featureTests();
  const untested = FEATURE_IDS.filter((id) => ['ok', 'differs'].includes(CAPABILITIES[id].status) && !tests.has(id));
  assert.deepEqual(untested, [], `rows without a "feature <id>: …" test in ${INTEGRATION}`);
});

test('every "feature <id>:" test names a feature id whose row says it works', () => {
  const wrong = [...featureTests().entries()]
    .filter(([id]) => !isFeatureId(id) || !['ok', 'differs'].includes(CAPABILITIES[id].status))
    .map(([id, files]) => `${id} (${files.join(', ')}): ${isFeatureId(id) ? CAPABILITIES[id].status : 'not a feature id'}`);
  assert.deepEqual(wrong, []);
});
