/**
 * The language server's incremental parse (a compose file's blocks cached by their text)
 * must give exactly what a full parse gives: the same YAML nodes at the same ranges, the
 * same findings with the same ranges, messages and fixes. Seeded random edits, each step
 * linted incrementally (one Linter kept across the edits) and from scratch.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isAlias, isMap, isPair, isScalar, isSeq } from 'yaml';
import { Linter } from '../../server/src/engine/lint.js';
import type { Finding } from '../../server/src/core/types.js';
import { YamlBlockCache } from '../../server/src/frontends/yaml/block-cache.js';
import { YamlFile } from '../../server/src/frontends/yaml/source.js';
import { randomEdit, seeded } from '../support/random.js';

const PATH = '/project/compose.yaml';
const ENV = { TAG: '1.2' };

type Generator = ReturnType<typeof seeded>;

/** Service options of every shape the compose front end reads, and some it does not. */
const OPTION_LINES = [
  ['    network_mode: host'],
  ['    privileged: true'],
  ['    cpus: 1.5'],
  ['    shm_size: "256m"'],
  ['    pid: host'],
  ['    image: nginx:${TAG:-1}'],
  ['    image: app:${TAG:?tag needed}'],
  ['    restart: always  # comment'],
  ['    cap_add:', '      - NET_ADMIN', '      - SYS_TIME'],
  ['    cap_add: [NET_ADMIN, "SYS_PTRACE"]'],
  ['    sysctls:', '      net.core.somaxconn: 1024'],
  ['    sysctls:', '      - net.ipv4.ip_forward=1'],
  [
    '    volumes:',
    '      - ./data:/data:rshared',
    '      - type: bind',
    '        source: /srv',
    '        target: /srv',
    '        bind:',
    '          propagation: rslave',
  ],
  ['    tmpfs: /run'],
  ['    devices:', '      - /dev/fuse:/dev/fuse'],
  ['    links:', '      - db:db'],
  ['    deploy:', '      replicas: 2', '      resources:', '        limits:', '          cpus: "0.5"'],
  ['    environment:', '      A: "1"', "      B: 'two'"],
  ['    command: |', '      echo one', '      echo two'],
  ['    healthcheck:', '      test: ["CMD", "true"]', '      interval: 30s'],
  ['    # a comment line'],
  [''],
  ['    labels: {a: b}'],
  ['    extends: base'],
  ['    ports:', '    - "80:80"'],
];

function composeText(g: Generator, services: number): string {
  const lines = ['# a stack', 'name: stack'];
  if (g.random() < 0.3) lines.push('x-common:', '  restart: always');
  lines.push('services:', '  base:', '    image: base', '    cap_add:', '      - SYS_ADMIN');
  for (let i = 0; i < services; i++) {
    lines.push(`  svc${i}:`);
    const keys = new Set<string>();
    for (let n = g.between(1, 5); n > 0; n--) {
      const option = g.pick(OPTION_LINES);
      const key = /^ *([\w_]+):/.exec(option[0]!)?.[1];
      if (key && keys.has(key)) continue;
      if (key) keys.add(key);
      lines.push(...option);
    }
    if (g.random() < 0.2) lines.push('  # between services');
  }
  lines.push('volumes:', '  data: {}', '# end');
  return `${lines.join('\n')}\n`;
}

/** Snippets a user types or pastes, including ones that break the YAML or make the parse fall back. */
const SNIPPETS = [
  'a',
  'x',
  '1',
  ' ',
  ':',
  ': ',
  '-',
  '- ',
  '#',
  '\n',
  '\n    ',
  '\n  ',
  '"',
  "'",
  '[',
  ']',
  '{',
  '}',
  '$',
  '${',
  '&a ',
  '*a',
  '\t',
  '|',
  '\n    privileged: true',
  '\n    network_mode: host',
  '\n  extra:\n    cpus: 2',
  '\nservices:\n',
  '\n---\n',
  '<<: {cpus: 1}',
  '\n  base:\n    image: b',
  '!reset ',
];

function edit(g: Generator, text: string): string {
  return randomEdit(g, text, SNIPPETS);
}

/** A YAML node as the front ends read it: kind, start and value end, value, how it was written. */
function dump(node: unknown): unknown {
  if (node === null || node === undefined) return node;
  if (isPair(node)) return [dump(node.key), dump(node.value)];
  if (isAlias(node)) return { alias: node.source, range: node.range?.slice(0, 2) };
  if (isMap(node) || isSeq(node))
    return {
      kind: isMap(node) ? 'map' : 'seq',
      range: node.range?.slice(0, 2),
      flow: !!node.flow,
      tag: node.tag,
      items: node.items.map(dump),
    };
  if (isScalar(node)) return { value: node.value, range: node.range?.slice(0, 2), type: node.type, source: node.source, tag: node.tag };
  return { unknown: String(node) };
}

const shown = (findings: Finding[]) => findings.map((f) => ({ ...f, fix: f.fix }));

test('incremental compose parse: the same YAML nodes, findings and fixes as a full parse after random edits', () => {
  let steps = 0;
  let assembled = 0;
  for (const seed of [1, 2, 3, 4, 5, 6]) {
    const g = seeded(seed);
    let text = composeText(g, g.between(3, 12));
    const cache = new YamlBlockCache();
    const incremental = new Linter({ env: ENV, incremental: true });
    for (let step = 0; step < 120; step++) {
      // Every so often a new file; and many edits that make the parse fall back are undone (a user fixing a typo).
      const previous = text;
      text = step % 30 === 29 ? composeText(g, g.between(3, 12)) : edit(g, text);
      const broken = new YamlFile(PATH, text).problems.length > 0;
      if (new YamlBlockCache().parse(previous) && !new YamlBlockCache().parse(text) && g.random() < (broken ? 0.85 : 0.5)) {
        check(previous, step);
        text = previous;
      }
      check(text, step);
    }
    function check(text: string, step: number): void {
      const where = `seed ${seed}, step ${step}:\n${text}`;
      if (new YamlBlockCache().parse(text)) assembled++;
      const fast = new YamlFile(PATH, text, { cache, by: 'blocks' });
      const full = new YamlFile(PATH, text);
      assert.deepEqual(fast.problems, full.problems, where);
      assert.deepEqual(
        fast.validDocs().map((d) => dump(d.contents)),
        full.validDocs().map((d) => dump(d.contents)),
        where,
      );
      const expected = new Linter({ env: ENV }).lintText(PATH, text);
      assert.deepEqual(shown(incremental.lintText(PATH, text).findings), shown(expected.findings), where);
      steps++;
    }
  }
  // The edits must exercise the incremental path, not only its fallback.
  assert.ok(assembled > steps / 2, `only ${assembled} of ${steps} texts were assembled from blocks`);
});

test('incremental compose parse: blocks that moved keep exact ranges (lines inserted and removed above them)', () => {
  const g = seeded(7);
  const base = composeText(g, 40);
  const incremental = new Linter({ env: ENV, incremental: true });
  for (const prefix of ['', 'version: "3"\n', '# one\n# two\n', '', 'x-a: 1\nx-b: 2\n']) {
    const text = prefix + base;
    assert.deepEqual(
      shown(incremental.lintText(PATH, text).findings),
      shown(new Linter({ env: ENV }).lintText(PATH, text).findings),
      prefix,
    );
  }
});

/** Kubernetes objects: pods and deployments in VM runtime classes, with options the front end reads. */
const POD_LINES = [
  ['      hostNetwork: true'],
  ['      hostPID: true'],
  ['      hostIPC: true'],
  ['      shareProcessNamespace: true'],
  ['      securityContext:', '        sysctls:', '          - name: net.core.somaxconn', '            value: "1024"'],
  [
    '      volumes:',
    '        - name: dev',
    '          hostPath:',
    '            path: /dev/fuse',
    '        - name: shm',
    '          emptyDir:',
    '            medium: Memory',
  ],
  ['      # a comment'],
  [''],
  ['      nodeSelector: {disk: ssd}'],
];
const CONTAINER_LINES = [
  ['          securityContext:', '            privileged: true'],
  ['          securityContext:', '            capabilities:', '              add: ["NET_ADMIN"]'],
  ['          resources:', '            limits:', '              cpu: "1.5"'],
  ['          volumeMounts:', '            - name: dev', '              mountPath: /dev/fuse', '              subPath: x'],
  ['          args: &args ["a", "b"]'],
  ['          command: *args'],
  ['          env:', '            - name: A', '              value: "1"'],
];

function kubernetesText(g: Generator, objects: number): string {
  const docs: string[] = [];
  for (let i = 0; i < objects; i++) {
    const lines =
      g.random() < 0.5
        ? [
            'apiVersion: v1',
            'kind: Pod',
            'metadata:',
            `  name: pod${i}`,
            'spec:',
            '  runtimeClassName: ' + g.pick(['vmrt', 'kata-qemu', 'runc']),
          ]
        : [
            'apiVersion: apps/v1',
            'kind: Deployment',
            'metadata:',
            `  name: deploy${i}`,
            'spec:',
            '  template:',
            '    spec:',
            `      runtimeClassName: ${g.pick(['vmrt', 'kata-qemu', 'runc'])}`,
          ];
    const pod = lines[1] === 'kind: Pod';
    const indent = (line: string) => (pod ? line.slice(4) : line);
    const keys = new Set<string>();
    const add = (options: string[][], n: number) => {
      for (; n > 0; n--) {
        const option = g.pick(options);
        const key = /^ *([\w_]+):/.exec(option[0]!)?.[1];
        if (key && keys.has(key)) continue;
        if (key) keys.add(key);
        lines.push(...option.map(indent));
      }
    };
    add(POD_LINES, g.between(0, 3));
    lines.push(...['      containers:', '        - name: app', '          image: app'].map(indent));
    add(CONTAINER_LINES, g.between(0, 3));
    docs.push(lines.join('\n'));
  }
  return `${g.random() < 0.5 ? '# objects\n' : ''}${docs.join('\n---\n')}\n`;
}

test('incremental Kubernetes parse: each document cached by its text gives the same nodes and findings as a full parse', () => {
  const path = '/project/k8s/objects.yaml';
  let steps = 0;
  let reused = 0;
  for (const seed of [11, 12, 13, 14]) {
    const g = seeded(seed);
    const cache = new YamlBlockCache();
    const incremental = new Linter({ kind: 'kubernetes', incremental: true });
    let text = kubernetesText(g, g.between(2, 8));
    for (let step = 0; step < 100; step++) {
      const previous = text;
      text = step % 25 === 24 ? kubernetesText(g, g.between(2, 8)) : edit(g, text);
      if (new YamlBlockCache().parseDocuments(previous) && !new YamlBlockCache().parseDocuments(text) && g.random() < 0.9) text = previous;
      const where = `seed ${seed}, step ${step}:\n${text}`;
      if (new YamlBlockCache().parseDocuments(text)) reused++;
      const fast = new YamlFile(path, text, { cache, by: 'documents' });
      const full = new YamlFile(path, text);
      assert.deepEqual(fast.problems, full.problems, where);
      assert.deepEqual(
        fast.docs.map((d) => dump(d.contents)),
        full.docs.map((d) => dump(d.contents)),
        where,
      );
      assert.deepEqual(
        shown(incremental.lintText(path, text).findings),
        shown(new Linter({ kind: 'kubernetes' }).lintText(path, text).findings),
        where,
      );
      steps++;
    }
  }
  assert.ok(reused > steps / 2, `only ${reused} of ${steps} texts were parsed by document`);
});

/** Dockerfile lines of every shape the Dockerfile front end reads (stages, RUN flags, continuations, problems). */
const DOCKERFILE_LINES = [
  ['FROM alpine:3.20 AS build'],
  ['FROM alpine'],
  ['from debian:12 as runtime'],
  ['RUN --network=host wget -q http://example.invalid/a'],
  ['RUN --security=insecure --device=/dev/fuse mount -t fuse x /mnt'],
  ['RUN --network=none \\', '    make install'],
  ['RUN --network echo no value'],
  ['RUN echo --network=host is a word'],
  ['ENV A=1 B=2'],
  ['COPY . /src'],
  ['# a comment'],
  [''],
  ['WORKDIR /src'],
  ['RUNN typo'],
];
const DOCKERFILE_SNIPPETS = [
  'x',
  ' ',
  '\n',
  '\\\n',
  '\nFROM scratch\n',
  '\nRUN --network=host true\n',
  '--network=host ',
  ' AS s',
  '#',
  '<<EOF\n',
];

test('incremental Dockerfile lint: stages kept from the last text give the same findings and fixes as a fresh lint', () => {
  const path = '/project/Dockerfile';
  let kept = 0;
  for (const seed of [11, 12, 13]) {
    const g = seeded(seed);
    const lines: string[] = [];
    for (let i = 0; i < 40; i++) lines.push(...g.pick(DOCKERFILE_LINES));
    let text = `${lines.join('\n')}\n`;
    const incremental = new Linter({ incremental: true });
    let previous = new Set<unknown>();
    for (let step = 0; step < 150; step++) {
      text = randomEdit(g, text, DOCKERFILE_SNIPPETS);
      const result = incremental.lintText(path, text);
      assert.deepEqual(shown(result.findings), shown(new Linter().lintText(path, text).findings), `seed ${seed}, step ${step}:\n${text}`);
      kept += result.requests.filter((r) => previous.has(r)).length;
      previous = new Set(result.requests);
    }
  }
  // The edits must exercise stages kept from the last lint, not only stages read again.
  assert.ok(kept > 1000, `only ${kept} stages were kept`);
});
