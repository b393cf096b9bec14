import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parseTree, type ParseError } from 'jsonc-parser';
import { devcontainerFrontEnd } from '../../server/src/frontends/devcontainer.js';
import type { RequestedOption } from '../../server/src/core/types.js';
import { applyEdits, context, fixture, parseFixture, rangeText, summary } from './frontend-yaml-helpers.js';

const MAIN = 'devcontainer/.devcontainer/devcontainer.json';

function mainOptions(): RequestedOption[] {
  const result = parseFixture(devcontainerFrontEnd, MAIN);
  assert.deepEqual(result.problems, []);
  return result.requests[0]!.options;
}

test('runArgs, privileged, capAdd, securityOpt, mounts, workspaceMount and a GPU requirement, in JSONC', () => {
  const result = parseFixture(devcontainerFrontEnd, MAIN);
  assert.deepEqual(result.problems, []);
  assert.equal(result.requests.length, 1);
  assert.equal(result.requests[0]!.kind, 'devcontainer');
  assert.equal(result.requests[0]!.name, 'api');
  assert.deepEqual(summary(result.requests[0]!.options, result.requests[0]!.file), [
    ['network', 'host', '6:4-6:20'],
    ['cap-add', 'SYS_PTRACE', '7:4-7:29'],
    ['mount', { type: 'bind', source: '/dev/bus/usb', target: '/dev/bus/usb' }, '8:4-8:37'],
    ['cpu-shares', 512, '10:8-10:17'],
    ['privileged', true, '12:2-12:14'],
    ['cap-add', 'NET_ADMIN', '13:13-13:24'],
    ['security-opt', 'seccomp=unconfined', '14:18-14:38'],
    ['mount', { type: 'bind', source: '${localEnv:HOME}/.ssh', target: '/home/vscode/.ssh', readOnly: true }, '16:4-16:78'],
    ['mount', { type: 'volume', source: 'node_modules', target: '/workspace/node_modules' }, '17:4-17:87'],
    ['mount', { type: 'bind', source: '${localWorkspaceFolder}', target: '/workspace', propagation: 'rshared' }, '21:20-21:105'],
    ['gpus', 'all', '20:24-20:29'],
  ]);
});

test('a clean devcontainer.json requests nothing a VM treats differently', () => {
  const result = parseFixture(devcontainerFrontEnd, 'devcontainer/devcontainer.json');
  assert.deepEqual(result.problems, []);
  assert.deepEqual(summary(result.requests[0]!.options, result.requests[0]!.file), [['privileged', false, '7:2-7:14']]);
});

test('a JSON syntax error is a parse error at its place; what parsed is still read', () => {
  const result = parseFixture(devcontainerFrontEnd, 'devcontainer/broken.devcontainer.json');
  assert.deepEqual(
    result.problems.map((p) => [p.rule, p.severity, rangeText(p.range), p.message]),
    [
      ['parse-error', 'error', '3:2-3:10', 'JSON syntax error: CommaExpected'],
      ['parse-error', 'error', '3:10-3:11', 'JSON syntax error: CommaExpected'],
      ['parse-error', 'error', '3:10-3:11', 'JSON syntax error: ValueExpected'],
    ],
  );
  assert.deepEqual(summary(result.requests[0]!.options, result.requests[0]!.file), [['privileged', true, '2:14-2:28']]);
});

test('a file that is not an object gives no request', () => {
  const result = devcontainerFrontEnd.parse({ path: '/w/devcontainer.json', text: '[1, 2]' }, context());
  assert.deepEqual(result, { requests: [], problems: [] });
});

test('remove() deletes array elements and properties, keeping JSONC valid', () => {
  const text = readFileSync(fixture(MAIN), 'utf8');
  const [network, capPtrace, usb, shares, privileged, capAdmin] = mainOptions();
  const lines = (edited: string, from: number, to: number): string =>
    edited
      .split('\n')
      .slice(from, to + 1)
      .join('\n');
  assert.equal(lines(applyEdits(text, network!.edit!.remove()), 5, 6), '  "runArgs": [\n    "--cap-add", "SYS_PTRACE",');
  assert.equal(
    lines(applyEdits(text, capPtrace!.edit!.remove()), 6, 7),
    '    "--network=host",\n    "-v", "/dev/bus/usb:/dev/bus/usb", // USB debugging',
  );
  assert.equal(lines(applyEdits(text, usb!.edit!.remove()), 7, 8), '    "--cap-add", "SYS_PTRACE",\n    "--name", "api-dev",');
  assert.equal(lines(applyEdits(text, shares!.edit!.remove()), 9, 11), '    "--name", "api-dev",\n    "-it",\n  ],');
  assert.equal(lines(applyEdits(text, privileged!.edit!.remove()), 11, 12), '  ],\n  "capAdd": ["NET_ADMIN"],');
  assert.equal(lines(applyEdits(text, capAdmin!.edit!.remove()), 13, 13), '  "capAdd": [],');
});

test('replace() writes runArgs elements as JSON strings', () => {
  const text = readFileSync(fixture(MAIN), 'utf8');
  const [network, capPtrace, , shares, privileged] = mainOptions();
  assert.equal(
    applyEdits(text, network!.edit!.replace([{ option: 'network', value: 'bridge' }])!).split('\n')[6],
    '    "--network=bridge",',
  );
  assert.equal(
    applyEdits(text, capPtrace!.edit!.replace([{ option: 'cap-add', value: 'SYS_ADMIN' }])!).split('\n')[7],
    '    "--cap-add=SYS_ADMIN",',
  );
  assert.equal(shares!.edit!.replace([{ option: 'cpu-shares', value: 256 }]), undefined);
  assert.equal(privileged!.edit!.replace([{ option: 'cap-add', value: 'ALL' }]), undefined);
  const cpus = devcontainerFrontEnd.parse({ path: '/w/devcontainer.json', text: '{"runArgs": ["--cpus", "1.5", "--rm"]}' }, context())
    .requests[0]!.options[0]!;
  assert.equal(
    applyEdits(
      '{"runArgs": ["--cpus", "1.5", "--rm"]}',
      cpus.edit!.replace([
        { option: 'cpu-period', value: 100000 },
        { option: 'cpu-quota', value: 150000 },
      ])!,
    ),
    '{"runArgs": ["--cpu-period=100000", "--cpu-quota=150000", "--rm"]}',
  );
});

test('detect: devcontainer.json and .devcontainer.json', () => {
  assert.equal(devcontainerFrontEnd.detect('/a/.devcontainer/devcontainer.json', '{}'), true);
  assert.equal(devcontainerFrontEnd.detect('/a/.devcontainer/python/devcontainer.json', '{}'), true);
  assert.equal(devcontainerFrontEnd.detect('/a/.devcontainer.json', '{}'), true);
  assert.equal(devcontainerFrontEnd.detect('/a/config.json', '{}'), false);
});

test('every remove() leaves valid JSONC without that option', () => {
  const text = readFileSync(fixture(MAIN), 'utf8');
  const options = mainOptions();
  for (const option of options) {
    const edited = applyEdits(text, option.edit!.remove());
    const errors: ParseError[] = [];
    parseTree(edited, errors, { allowTrailingComma: true });
    assert.deepEqual(errors, [], `${option.option} ${rangeText(option.range)}`);
    const after = devcontainerFrontEnd.parse({ path: fixture(MAIN), text: edited }, context()).requests[0]!.options;
    assert.equal(after.length, options.length - 1, `${option.option} ${rangeText(option.range)}`);
  }
});
