import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dockerfileFrontEnd } from '../../server/src/frontends/dockerfile/front-end.js';
import type { FrontEndResult } from '../../server/src/core/types.js';
import { applyEdits, context, fixture, parseFixture, rangeText, summary } from './frontend-yaml-helpers.js';

function stages(result: FrontEndResult): [string | undefined, unknown[][]][] {
  return result.requests.map((r) => [r.name, summary(r.options, r.file)]);
}

test('BuildKit RUN flags, one request per stage; shell text, heredocs and exec form are not flags', () => {
  const result = parseFixture(dockerfileFrontEnd, 'dockerfile/Dockerfile');
  assert.deepEqual(result.problems, []);
  assert.deepEqual(
    result.requests.map((r) => r.kind),
    ['dockerfile', 'dockerfile'],
  );
  assert.deepEqual(stages(result), [
    ['build', [['network', 'host', '4:4-4:18']]],
    [
      '1',
      [
        ['privileged', true, '9:4-9:23'],
        ['device', { host: '/dev/fuse' }, '9:24-9:42'],
      ],
    ],
  ]);
});

test('a clean multi-stage Dockerfile requests nothing', () => {
  const result = parseFixture(dockerfileFrontEnd, 'dockerfile/Dockerfile.clean');
  assert.deepEqual(result.problems, []);
  assert.deepEqual(stages(result), [
    ['deps', []],
    ['1', []],
  ]);
});

test('syntax errors the builder rejects are parse errors at their place', () => {
  const result = parseFixture(dockerfileFrontEnd, 'dockerfile/broken.Dockerfile');
  assert.deepEqual(
    result.problems.map((p) => [p.rule, p.severity, rangeText(p.range), p.message]),
    [
      ['parse-error', 'error', '0:0-0:3', 'RUN before the first FROM: the builder has no stage to run it in.'],
      ['parse-error', 'error', '2:0-2:4', 'Unknown instruction RUNN: the builder rejects this Dockerfile.'],
      ['parse-error', 'error', '3:4-3:13', 'The flag --network needs a value (--network=…).'],
    ],
  );
  assert.deepEqual(stages(result), [['0', []]]);
});

test('lowercase instructions, the escape directive and other flags', () => {
  const text = '# escape=`\nfrom alpine as base\nrun --network=none `\n    --security=sandbox --mount=type=tmpfs,target=/t echo hi\n';
  const result = dockerfileFrontEnd.parse({ path: '/w/Dockerfile', text }, context());
  assert.deepEqual(result.problems, []);
  assert.deepEqual(stages(result), [['base', [['network', 'none', '2:4-2:18']]]]);
});

test('remove() and replace() edit the RUN line', () => {
  const text = readFileSync(fixture('dockerfile/Dockerfile'), 'utf8');
  const result = parseFixture(dockerfileFrontEnd, 'dockerfile/Dockerfile');
  const [network] = result.requests[0]!.options;
  const [privileged, device] = result.requests[1]!.options;
  assert.equal(applyEdits(text, network!.edit!.remove()).split('\n')[4], '    go build -o /out/app ./cmd/app');
  assert.equal(applyEdits(text, privileged!.edit!.remove()).split('\n')[9], 'RUN --device=/dev/fuse <<EOT');
  assert.equal(applyEdits(text, device!.edit!.remove()).split('\n')[9], 'RUN --security=insecure <<EOT');
  assert.equal(
    applyEdits(text, network!.edit!.replace([{ option: 'network', value: 'default' }])!).split('\n')[4],
    '    --network=default go build -o /out/app ./cmd/app',
  );
  assert.equal(network!.edit!.replace([{ option: 'cpus', value: 1 }]), undefined);
});

test('detect: Dockerfile, Containerfile, *.Dockerfile, Dockerfile.*', () => {
  for (const path of ['/a/Dockerfile', '/a/Containerfile', '/a/api.Dockerfile', '/a/Dockerfile.dev', '/a/x.dockerfile']) {
    assert.equal(dockerfileFrontEnd.detect(path, ''), true, path);
  }
  for (const path of ['/a/Dockerfiles.md', '/a/build.sh', '/a/compose.yaml']) {
    assert.equal(dockerfileFrontEnd.detect(path, ''), false, path);
  }
});
