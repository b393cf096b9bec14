import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { LineIndex } from '../../server/src/core/positions.js';
import { parseInstructions, scanInstructions, type DockerInstruction } from '../../server/src/frontends/dockerfile/instructions.js';
import { fixture } from './frontend-yaml-helpers.js';
import { seeded } from '../support/random.js';

const plain = (instructions: DockerInstruction[]) =>
  instructions.map((i) => ({ keyword: i.keyword, at: [i.keywordStart, i.keywordEnd], stage: i.stage(), flags: i.flags() }));

/** What dockerfile-ast reads, for comparison with the scanner. */
const parsed = (text: string) => plain(parseInstructions(text, new LineIndex(text)));

/** Lines of every shape the scanner reads itself: flags, continuations, stages, odd spacing and case. */
const LINES = [
  'FROM alpine',
  'FROM alpine AS build',
  'from --platform=$BUILDPLATFORM golang:1.22 as Builder',
  'FROM a--b --p img AS s',
  'FROM img AS',
  'RUN --network=host wget x',
  'run --network --device=/dev/fuse,rw make',
  'RUN --security=insecure --network= \\\n    --device=/dev/kvm cmd',
  'RUN apt-get update && \\\n  apt-get install -y curl \\  \n && rm -rf /x',
  'RUN --mount=type=cache,target=/c npm ci',
  'RUN echo --network=host',
  'RUN a--b --network=none c',
  '  RUN\t--network=host\tx',
  'RUN',
  'RUN \\\n--network=host x',
  'RUNN --network=host',
  'FROM@ x',
  'ARG BASE=debian',
  'ENV A=1 B=2',
  'COPY --from=build /a /b',
  '# a comment --network=host',
  '',
  '   ',
  'HEALTHCHECK --interval=30s CMD true',
  'RUN ["sh", "-c", "echo"]',
  'ONBUILD RUN --network=host x',
  'LABEL a="b c" \\\n      d=e',
  'EXPOSE 80',
  // Continuations onto whatever line comes next.
  'RUN --network=host \\',
  'FROM --platform=x \\',
  'RUN --security=insecure\\',
  'ENV X=1 \\',
];

/** A small deterministic generator, so the comparison covers the same texts every run. */
function* texts(count: number): Generator<string> {
  const { next } = seeded(7);
  for (let n = 0; n < count; n++) {
    const lines = Array.from({ length: 1 + (next() % 12) }, () => LINES[next() % LINES.length]!);
    yield lines.join('\n') + (next() % 2 ? '\n' : '');
  }
}

test('the scanner reads plain Dockerfiles exactly as dockerfile-ast does', () => {
  let compared = 0;
  for (const text of texts(600)) {
    const scanned = scanInstructions(text);
    if (!scanned) continue;
    assert.deepEqual(plain(scanned), parsed(text), JSON.stringify(text));
    compared++;
  }
  // Continuations onto blank and comment lines (and at the end of the text) go to dockerfile-ast; the rest is scanned.
  assert.ok(compared >= 400, `${compared} of 600 texts scanned`);
  for (const name of ['dockerfile/Dockerfile.clean', 'dockerfile/broken.Dockerfile']) {
    const text = readFileSync(fixture(name), 'utf8');
    assert.deepEqual(plain(scanInstructions(text)!), parsed(text), name);
  }
});

test('the scanner hands heredocs, escape directives and rule corner cases to dockerfile-ast', () => {
  for (const text of [
    readFileSync(fixture('dockerfile/Dockerfile'), 'utf8'),
    '# escape=`\nFROM a\nRUN --network=host `\n  x\n',
    'FROM a\r\nRUN --network=host x\r\n',
    '\uFEFFFROM a\n',
    'FROM a\nRUN --network=host \\\n# comment\n  x\n',
    'FROM a\nRUN --network=host \\\n\n  x\n',
    'FROM a\nRUN --network=ho\\\nst x\n',
    'FROM a\nRUN --network=h\\ost x\n',
    'FROM a\nRU\\\nN x\n',
    'FROM a\nRUN x \\\\\n',
    'FROM a\nRUN x \\',
  ]) {
    assert.equal(scanInstructions(text), undefined, JSON.stringify(text));
  }
});

test('flags and stages of a plain Dockerfile, with their offsets', () => {
  const text = 'FROM --platform=linux/amd64 golang AS build\nRUN --network=host \\\n    --device=/dev/fuse go build\nRUN --security\n';
  assert.deepEqual(plain(scanInstructions(text)!), [
    { keyword: 'FROM', at: [0, 4], stage: 'build', flags: [] },
    {
      keyword: 'RUN',
      at: [44, 47],
      stage: null,
      flags: [
        { name: 'network', value: 'host', start: 48, end: 62 },
        { name: 'device', value: '/dev/fuse', start: 69, end: 87 },
      ],
    },
    { keyword: 'RUN', at: [97, 100], stage: null, flags: [{ name: 'security', value: null, start: 101, end: 111 }] },
  ]);
});
