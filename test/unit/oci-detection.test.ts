/**
 * One detection for config.json (runtime/src/oci-detection.ts): the linter (vmrt profile) and
 * the runtime's check at `create` name the same features for every OCI config of the repository,
 * so a config the linter passes is not refused at `create` for a feature id, and the reverse.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { detectFeatures, unsupportedUses } from '../../runtime/src/config-check.js';
import type { Config } from '../../runtime/src/spec.js';
import { Linter } from '../../server/src/engine/lint.js';

/** Every config.json-shaped file under the OCI fixtures and examples/ that is valid JSON (the runtime refuses the rest before detection). */
function ociConfigs(): string[] {
  const files = [
    ...readdirSync('test/fixtures/oci').map((name) => join('test/fixtures/oci', name)),
    ...readdirSync('test/fixtures/real-world').map((name) => join('test/fixtures/real-world', name)),
    ...readdirSync('examples', { recursive: true, encoding: 'utf8' }).map((name) => join('examples', name)),
  ];
  return files.filter((file) => {
    if (!file.endsWith('.json')) return false;
    try {
      return 'ociVersion' in (JSON.parse(readFileSync(file, 'utf8')) as object);
    } catch {
      return false;
    }
  });
}

/** What the runtime's check names (the rest of the table is linted only: resources, annotations, commands…). */
const RUNTIME_CHECKED = new Set<string>([
  'host-network',
  'container-network',
  'host-pid',
  'host-ipc',
  'host-uts',
  'userns-host',
  'privileged',
  'device',
  'dev-volume',
  'mount-propagation',
  'proc-sys-mount',
]);

const sorted = (features: Iterable<string>) => [...new Set(features)].sort();

test('the linter and the runtime detect the same features in every OCI config of the repository', () => {
  const configs = ociConfigs();
  assert.ok(configs.length >= 12, `only ${configs.length} configs found`);
  const seen = new Set<string>();
  for (const file of configs) {
    const uses = detectFeatures(JSON.parse(readFileSync(file, 'utf8')) as Config);
    const findings = new Linter({ profile: 'vmrt', kind: 'oci' }).lintFile(file).findings.filter((f) => RUNTIME_CHECKED.has(f.feature));
    assert.deepEqual(sorted(findings.map((f) => f.feature)), sorted(uses.map((u) => u.feature)), file);
    // What `create` refuses is what the linter calls an error, but for what only the host knows:
    // whether the container whose network a config joins runs under vmrt (container-network).
    const errors = findings.filter((f) => f.severity === 'error').map((f) => f.feature);
    const refusedByTable = unsupportedUses(uses).filter((u) => u.refused === undefined);
    assert.deepEqual(sorted(errors), sorted(refusedByTable.map((u) => u.feature)), file);
    for (const use of uses) seen.add(use.feature);
  }
  // The configs exercise most of what the runtime checks.
  assert.ok(seen.size >= 8, [...seen].join(', '));
});

test('a config with no namespaces list: one host-network use for the runtime, one finding at the `linux` key for the linter', () => {
  const config = { ociVersion: '1.0.2', root: { path: 'rootfs' }, process: { cwd: '/', args: ['sh'] }, linux: {} };
  assert.deepEqual(
    detectFeatures(config as Config).map((u) => [u.feature, u.where]),
    [['host-network', 'linux']],
  );
  const findings = new Linter({ profile: 'vmrt', kind: 'oci' }).lintText('config.json', JSON.stringify(config, null, 2)).findings;
  assert.deepEqual(
    findings.map((f) => [f.feature, f.range.start.line]),
    [['host-network', 11]],
  );
});
