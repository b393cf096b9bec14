/**
 * The TextMate grammars of syntaxes/, tokenized by the same engine and the same
 * built-in grammars as VS Code 1.100 (code-server's copies of vscode-textmate,
 * vscode-oniguruma and its built-in language extensions), with the injection targets
 * taken from package.json.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { ROOT } from './code-server.js';

const VSCODE = join(ROOT, 'node_modules', 'code-server', 'lib', 'vscode');
const require = createRequire(import.meta.url);

interface RawToken {
  startIndex: number;
  endIndex: number;
  scopes: string[];
}
interface Grammar {
  tokenizeLine(line: string, stack: unknown): { tokens: RawToken[]; ruleStack: unknown };
}
interface GrammarContribution {
  scopeName: string;
  path: string;
  injectTo?: string[];
}

let loadGrammar: (scope: string) => Promise<Grammar>;
let initial: unknown;

before(async () => {
  const textmate = require(join(VSCODE, 'node_modules', 'vscode-textmate')) as {
    Registry: new (options: object) => { loadGrammar(scope: string): Promise<Grammar | null> };
    parseRawGrammar(content: string, path: string): unknown;
    INITIAL: unknown;
  };
  const oniguruma = require(join(VSCODE, 'node_modules', 'vscode-oniguruma')) as {
    loadWASM(data: ArrayBuffer): Promise<void>;
    OnigScanner: new (patterns: string[]) => unknown;
    OnigString: new (text: string) => unknown;
  };
  const wasm = readFileSync(join(VSCODE, 'node_modules', 'vscode-oniguruma', 'release', 'onig.wasm'));
  await oniguruma.loadWASM(wasm.buffer.slice(wasm.byteOffset, wasm.byteOffset + wasm.byteLength));

  const paths = new Map<string, string>();
  const builtins = join(VSCODE, 'extensions');
  for (const name of readdirSync(builtins)) {
    let manifest: { contributes?: { grammars?: GrammarContribution[] } };
    try {
      manifest = JSON.parse(readFileSync(join(builtins, name, 'package.json'), 'utf8'));
    } catch {
      continue;
    }
    for (const grammar of manifest.contributes?.grammars ?? []) paths.set(grammar.scopeName, join(builtins, name, grammar.path));
  }
  const ours = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { contributes: { grammars: GrammarContribution[] } })
    .contributes.grammars;
  for (const grammar of ours) paths.set(grammar.scopeName, join(ROOT, grammar.path));
  const injections = ours.filter((g) => g.injectTo);

  const registry = new textmate.Registry({
    onigLib: Promise.resolve({
      createOnigScanner: (p: string[]) => new oniguruma.OnigScanner(p),
      createOnigString: (s: string) => new oniguruma.OnigString(s),
    }),
    loadGrammar: async (scope: string) => {
      const path = paths.get(scope);
      return path ? textmate.parseRawGrammar(readFileSync(path, 'utf8'), path) : null;
    },
    getInjections: (scope: string) => injections.filter((g) => g.injectTo!.includes(scope)).map((g) => g.scopeName),
  });
  initial = textmate.INITIAL;
  loadGrammar = async (scope) => {
    const grammar = await registry.loadGrammar(scope);
    assert.ok(grammar, `grammar ${scope} loads`);
    return grammar;
  };
});

/** The scopes of each token of the last line, as "text: scope scope …" keeping only the scopes that match `keep`. */
async function tokens(scope: string, text: string, keep: RegExp): Promise<string[]> {
  const grammar = await loadGrammar(scope);
  let stack = initial;
  let result: { tokens: RawToken[] } = { tokens: [] };
  const lines = text.split('\n');
  for (const line of lines) ({ tokens: result.tokens, ruleStack: stack } = grammar.tokenizeLine(line, stack));
  const last = lines.at(-1)!;
  return result.tokens
    .map((t) => ({ text: last.slice(t.startIndex, t.endIndex), scopes: t.scopes.slice(1).filter((s) => keep.test(s)) }))
    .filter((t) => t.scopes.length > 0)
    .map((t) => `${t.text}: ${t.scopes.join(' ')}`);
}

const PRAGMA = /vmrt-ignore/;

describe('vmrt-ignore injection', () => {
  test('in a YAML comment: directive, ids, reason', async () => {
    assert.deepEqual(await tokens('source.yaml', 'services:\n  web:\n    # vmrt-ignore host-network,cpus -- needs the host DNS', PRAGMA), [
      'vmrt-ignore: keyword.control.directive.vmrt-ignore',
      'host-network: constant.other.vmrt-ignore.id',
      ',: constant.other.vmrt-ignore.id punctuation.separator.comma.vmrt-ignore',
      'cpus: constant.other.vmrt-ignore.id',
      '--: punctuation.separator.reason.vmrt-ignore',
      'needs the host DNS: string.unquoted.reason.vmrt-ignore',
    ]);
  });

  test('in Dockerfile, shell, Makefile and JSONC comments', async () => {
    const expected = (comment: string) => [
      `${comment}: comment.line.vmrt-ignore punctuation.definition.comment.vmrt-ignore`,
      ' : comment.line.vmrt-ignore',
      'vmrt-ignore-file: comment.line.vmrt-ignore keyword.control.directive.vmrt-ignore',
      ' : comment.line.vmrt-ignore',
      'privileged: comment.line.vmrt-ignore constant.other.vmrt-ignore.id',
    ];
    const seen = {
      dockerfile: await tokens('source.dockerfile', 'FROM alpine\n# vmrt-ignore-file privileged', PRAGMA),
      shell: await tokens('source.shell', '#!/bin/sh\n# vmrt-ignore-file privileged', PRAGMA),
      makefile: await tokens('source.makefile', 'run:\n\t# vmrt-ignore-file privileged', PRAGMA),
      jsonc: await tokens('source.json.comments', '{\n  // vmrt-ignore-file privileged', PRAGMA),
    };
    assert.deepEqual(seen, { dockerfile: expected('#'), shell: expected('#'), makefile: expected('#'), jsonc: expected('//') });
  });

  test('in a Markdown HTML comment, the reason stops before -->', async () => {
    assert.deepEqual(await tokens('text.html.markdown', '# Run\n\n<!-- vmrt-ignore link -- legacy demo -->', PRAGMA), [
      'vmrt-ignore: keyword.control.directive.vmrt-ignore',
      'link: constant.other.vmrt-ignore.id',
      '--: punctuation.separator.reason.vmrt-ignore',
      'legacy demo : string.unquoted.reason.vmrt-ignore',
    ]);
  });

  test('outside comments nothing is highlighted', async () => {
    assert.deepEqual(await tokens('source.yaml', 'services:\n  web:\n    image: vmrt-ignore', PRAGMA), []);
    assert.deepEqual(await tokens('source.shell', 'echo vmrt-ignore host-network', PRAGMA), []);
  });
});

describe('vmrt-log grammar', () => {
  const LOG = /vmrt-log|json/;
  test('JSON log lines of the runtime: levels, keys, strings', async () => {
    assert.deepEqual(
      await tokens(
        'text.vmrt-log',
        '{"level":"error","msg":"host-network is unsupported","time":"2026-11-28T22:00:00Z"}',
        /vmrt-log|property-name/,
      ),
      [
        '"level": support.type.property-name.json',
        '"error": invalid.illegal.error.vmrt-log',
        '"msg": support.type.property-name.json',
        '"time": support.type.property-name.json',
      ],
    );
    assert.ok((await tokens('text.vmrt-log', '{"level":"warning","msg":"x"}', LOG)).includes('"warning": markup.changed.warning.vmrt-log'));
  });

  test('logrus text lines and the guest console', async () => {
    assert.deepEqual(
      await tokens('text.vmrt-log', 'time="2026-11-28T22:00:00Z" level=warning msg="device is unsupported: /dev/kvm"', /vmrt-log/),
      [
        'time: variable.other.key.vmrt-log',
        '"2026-11-28T22:00:00Z": string.quoted.double.vmrt-log',
        'level: variable.other.key.vmrt-log',
        'warning: markup.changed.warning.vmrt-log',
        'msg: variable.other.key.vmrt-log',
        '"device is unsupported: /dev/kvm": string.quoted.double.vmrt-log',
      ],
    );
    assert.deepEqual(await tokens('text.vmrt-log', '[    0.412345] Kernel panic - not syncing: VFS', /vmrt-log/), [
      '[    0.412345]: comment.line.timestamp.kernel.vmrt-log',
      'Kernel panic: invalid.illegal.error.vmrt-log',
    ]);
  });
});
