/** vmrt-language-server over stdio: every capability, with exact ranges, edits and versions. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { CodeAction, CompletionItem, Hover, MarkupContent } from 'vscode-languageserver/node';
import { getProfile, PROFILE_NAMES } from '../../server/src/profiles/index.js';
import { codes, LspSession, ROOT, SERVER_MAIN } from './harness.js';

const COMPOSE = `services:
  web:
    image: nginx
    network_mode: host
  db:
    image: postgres
    gpus: all
`;
const HOST = { start: { line: 3, character: 4 }, end: { line: 3, character: 16 } };

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'vmrt-lsp-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, text?: string): string {
  const path = join(dir, name);
  mkdirSync(dirname(path), { recursive: true });
  if (text !== undefined) writeFileSync(path, text);
  return path;
}

async function withSession<T>(run: (s: LspSession) => Promise<T>, options: Parameters<typeof LspSession.start>[0] = {}): Promise<T> {
  const session = await LspSession.start(options);
  try {
    return await run(session);
  } finally {
    await session.stop();
  }
}

const hoverText = (hover: Hover | null) => (hover?.contents as MarkupContent | undefined)?.value ?? '';

describe('diagnostics', () => {
  test('a compose file with network_mode: host: source, code, docs link, data, exact range', () =>
    withSession(async (s) => {
      const path = file('a/compose.yaml');
      const published = await s.open(path, COMPOSE, 'dockercompose');
      assert.equal(published.version, 1);
      assert.deepEqual(codes(published.diagnostics), ['3:4-3:16 host-network-mode', '6:4-6:8 gpu-request']);
      const host = published.diagnostics[0]!;
      assert.equal(host.source, 'vmrt');
      assert.equal(host.severity, 1);
      assert.match(host.codeDescription!.href, /^file:\/\/\/.*\/docs\/features\/host-network\.md$/);
      assert.match(String(host.message), /^The host network mode is not supported by vmrt\.$/);
      assert.deepEqual(host.data, { feature: 'host-network' });
      assert.equal(published.diagnostics[1]!.severity, 2, 'a GPU is pending under vmrt: a warning');
    }));

  test('incremental changes re-lint; the published version is the latest', () =>
    withSession(async (s) => {
      const path = file('b/compose.yaml');
      await s.open(path, COMPOSE);
      const changed = await s.change(path, [
        { range: { start: { line: 3, character: 18 }, end: { line: 3, character: 22 } }, text: 'bridge' },
      ]);
      assert.equal(changed.version, 2);
      assert.deepEqual(codes(changed.diagnostics), ['6:4-6:8 gpu-request']);
      const back = await s.change(path, [{ range: { start: { line: 3, character: 18 }, end: { line: 3, character: 24 } }, text: 'host' }]);
      assert.deepEqual(codes(back.diagnostics), ['3:4-3:16 host-network-mode', '6:4-6:8 gpu-request']);
    }));

  test('changes within the debounce after a lint publish the last version only', () =>
    withSession(
      async (s) => {
        const path = file('c/compose.yaml');
        await s.open(path, COMPOSE);
        const uri = s.uri(path);
        const from = s.publishLog.length;
        const last = s.diagnostics(uri, (p) => p.version === 4);
        await s.changeNoWait(path, COMPOSE.replace('host', 'bridge'));
        await s.changeNoWait(path, COMPOSE.replace('host', 'none'));
        await s.changeNoWait(path, COMPOSE.replace('gpus: all', 'mem_limit: 1g'));
        const final = await last;
        assert.deepEqual(codes(final.diagnostics), ['3:4-3:16 host-network-mode']);
        await new Promise((resolve) => setTimeout(resolve, 100));
        assert.deepEqual(
          s.publishLog
            .slice(from)
            .filter((p) => p.uri === uri)
            .map((p) => p.version),
          [4],
          'the debounce folded versions 2 and 3 into 4',
        );
      },
      { initializationOptions: { debounceMs: 300 } },
    ));

  test('settings severity and profile; a config reload re-lints open documents', () =>
    withSession(
      async (s) => {
        const path = file('d/compose.yaml');
        const first = await s.open(path, COMPOSE);
        assert.deepEqual(
          first.diagnostics.map((d) => d.severity),
          [1, 4],
        );
        s.settings = { lint: { profile: 'kata' } };
        const kata = s.diagnostics(s.uri(path));
        await s.connection.sendNotification('workspace/didChangeConfiguration', { settings: null });
        assert.deepEqual(
          codes((await kata).diagnostics),
          ['3:4-3:16 host-network-mode', '6:4-6:8 gpu-request'],
          'kata passes GPUs through (differs)',
        );
        s.settings = { lint: { profile: 'runc' } };
        const runc = s.diagnostics(s.uri(path));
        await s.connection.sendNotification('workspace/didChangeConfiguration', { settings: null });
        assert.deepEqual((await runc).diagnostics, []);
        s.settings = { lint: { enable: true, profile: 'vmrt', severity: { 'host-network': 'warning', 'gpu-request': 'off' } } };
        const overridden = s.diagnostics(s.uri(path));
        await s.connection.sendNotification('workspace/didChangeConfiguration', { settings: null });
        const diagnostics = (await overridden).diagnostics;
        assert.deepEqual(codes(diagnostics), ['3:4-3:16 host-network-mode']);
        assert.equal(diagnostics[0]!.severity, 2);
        s.settings = { lint: { enable: false } };
        const disabled = s.diagnostics(s.uri(path));
        await s.connection.sendNotification('workspace/didChangeConfiguration', { settings: null });
        assert.deepEqual((await disabled).diagnostics, []);
      },
      { settings: { lint: { severity: { 'gpu-request': 'hint' } } } },
    ));

  test('.vmrt-lint.yaml wins over the settings for its folder, and its change re-lints', () =>
    withSession(
      async (s) => {
        const config = file('e/.vmrt-lint.yaml', 'profile: runc\n');
        const path = file('e/compose.yaml');
        assert.deepEqual((await s.open(path, COMPOSE)).diagnostics, [], 'the file says runc; the settings say vmrt');
        assert.deepEqual(await s.request('vmrt/activeProfile', { uri: s.uri(path) }), {
          profile: 'runc',
          description: getProfile('runc').description,
          configFile: config,
        });
        writeFileSync(config, 'profile: vmrt\nseverity:\n  host-network: info\n');
        const relinted = s.diagnostics(s.uri(path));
        await s.connection.sendNotification('workspace/didChangeWatchedFiles', { changes: [{ uri: s.uri(config), type: 2 }] });
        const diagnostics = (await relinted).diagnostics;
        assert.deepEqual(codes(diagnostics), ['3:4-3:16 host-network-mode', '6:4-6:8 gpu-request']);
        assert.equal(diagnostics[0]!.severity, 3, "the file's feature severity beats the settings' rule severity");
        assert.deepEqual(await s.request('vmrt/activeProfile', { uri: s.uri(path) }), {
          profile: 'vmrt',
          description: getProfile('vmrt').description,
          configFile: config,
        });
      },
      { settings: { lint: { profile: 'vmrt', severity: { 'host-network-mode': 'hint' } } } },
    ));

  test('the client asks the server: vmrt/lintLaunch lints a launch against vmrt whatever the profile, vmrt/profiles lists the profiles', () =>
    withSession(
      async (s) => {
        const folder = dirname(file('g/.keep', ''));
        const launch = await s.request('vmrt/lintLaunch', { kind: 'command', folder, line: 'docker run --net=host busybox\n' });
        assert.deepEqual(
          (launch as { findings: { rule: string; severity: string; fix?: string }[] }).findings.map((f) => [f.rule, f.severity, f.fix]),
          [['host-network-mode', 'error', 'Remove the host network mode (publish the ports you need instead)']],
        );
        const profiles = PROFILE_NAMES.map((profile) => ({ profile, description: getProfile(profile).description }));
        assert.deepEqual(await s.request('vmrt/profiles', null), profiles);
      },
      { settings: { lint: { profile: 'runc' } } },
    ));

  test('a compose file re-lints when its .env changes', () =>
    withSession(async (s) => {
      const env = file('f/.env', 'NET=host\n');
      const path = file('f/compose.yaml', 'services:\n  web:\n    image: nginx\n    network_mode: ${NET}\n');
      const first = await s.open(path, 'services:\n  web:\n    image: nginx\n    network_mode: ${NET}\n');
      assert.deepEqual(codes(first.diagnostics), ['3:4-3:16 host-network-mode']);
      await new Promise((resolve) => setTimeout(resolve, 50));
      writeFileSync(env, 'NET=bridge\n');
      const relinted = s.diagnostics(s.uri(path));
      await s.connection.sendNotification('workspace/didChangeWatchedFiles', { changes: [{ uri: s.uri(env), type: 2 }] });
      assert.deepEqual((await relinted).diagnostics, []);
    }));

  test('unsaved edits of an open .env re-lint the compose file from the buffer; closing it goes back to the disk', () =>
    withSession(async (s) => {
      const env = file('u/.env', 'NET=bridge\n');
      const compose = 'services:\n  web:\n    image: nginx\n    network_mode: ${NET}\n';
      const path = file('u/compose.yaml', compose);
      assert.deepEqual((await s.open(path, compose)).diagnostics, []);
      await s.open(env, 'NET=bridge\n');
      const fromBuffer = s.diagnostics(s.uri(path), (p) => p.diagnostics.length > 0);
      await s.change(env, [{ range: { start: { line: 0, character: 4 }, end: { line: 0, character: 10 } }, text: 'host' }]);
      assert.deepEqual(codes((await fromBuffer).diagnostics), ['3:4-3:16 host-network-mode'], 'the unsaved NET=host');
      const fromDisk = s.diagnostics(s.uri(path), (p) => p.diagnostics.length === 0);
      await s.connection.sendNotification('textDocument/didClose', { textDocument: { uri: s.uri(env) } });
      assert.deepEqual((await fromDisk).diagnostics, [], 'the buffer was discarded: NET=bridge on disk');
    }));

  test('extends: what a compose file inherits shows in the extended file, and follows its changes', () =>
    withSession(async (s) => {
      const base = file('s/base.yaml', 'services:\n  base:\n    image: nginx\n    network_mode: host\n');
      const child = 'services:\n  web:\n    extends:\n      file: base.yaml\n      service: base\n    gpus: all\n';
      const path = file('s/compose.yaml', child);
      const inBase = s.diagnostics(s.uri(base));
      assert.deepEqual(codes((await s.open(path, child)).diagnostics), ['5:4-5:8 gpu-request']);
      assert.deepEqual(codes((await inBase).diagnostics), ['3:4-3:16 host-network-mode']);
      await new Promise((resolve) => setTimeout(resolve, 50));
      writeFileSync(base, 'services:\n  base:\n    image: nginx\n    privileged: true\n');
      const changed = s.diagnostics(s.uri(base));
      await s.connection.sendNotification('workspace/didChangeWatchedFiles', { changes: [{ uri: s.uri(base), type: 2 }] });
      assert.deepEqual(codes((await changed).diagnostics), ['3:4-3:14 privileged-mode']);
      const cleared = s.diagnostics(s.uri(base));
      await s.close(path);
      assert.deepEqual((await cleared).diagnostics, [], 'closing the extending file takes its findings back');
    }));

  test('syntax errors: located; left out when another extension reports them', async () => {
    const broken = 'services:\n  web:\n    image: [nginx\n';
    await withSession(async (s) => {
      const published = await s.open(file('g/compose.yaml'), broken);
      assert.equal(published.diagnostics.length > 0, true);
      assert.equal(published.diagnostics[0]!.code, 'parse-error');
      assert.equal(published.diagnostics[0]!.range.start.line >= 2, true, 'located at the error, not the file start');
    });
    await withSession(
      async (s) => {
        const published = await s.open(file('g/compose.yaml'), broken);
        assert.deepEqual(
          published.diagnostics.filter((d) => d.code === 'parse-error'),
          [],
        );
      },
      { initializationOptions: { syntaxDiagnosticsElsewhere: ['compose'] } },
    );
  });

  test('never crashes: a huge document is a located finding, and the server keeps answering', () =>
    withSession(async (s) => {
      const huge =
        `services:\n  web:\n    image: nginx\n    labels:\n${'      x: "' + 'y'.repeat(1000) + '"\n'}`.repeat(1) +
        '#'.repeat(11 * 1024 * 1024);
      const published = await s.open(file('h/compose.yaml'), huge);
      assert.deepEqual(codes(published.diagnostics), ['0:0-0:0 file-too-large']);
      const after = await s.open(file('h/other.compose.yaml'), COMPOSE);
      assert.equal(after.diagnostics.length, 2);
    }));

  test('the bundle the extension ships (dist/server.cjs) serves the same diagnostics', () =>
    withSession(
      async (s) => {
        const published = await s.open(file('q/compose.yaml'), COMPOSE);
        assert.deepEqual(codes(published.diagnostics), ['3:4-3:16 host-network-mode', '6:4-6:8 gpu-request']);
        assert.match(published.diagnostics[0]!.codeDescription!.href, /\/docs\/features\/host-network\.md$/);
        const hover = await s.request<Hover>('textDocument/hover', {
          textDocument: { uri: s.uri(file('q/compose.yaml')) },
          position: { line: 3, character: 8 },
        });
        assert.match(hoverText(hover), /Why a VM differs/);
      },
      { server: [join(ROOT, 'dist', 'server.cjs'), '--stdio'] },
    ));

  test('requests about documents it does not hold answer empty, and the server stays up', () =>
    withSession(async (s) => {
      const unknown = { textDocument: { uri: s.uri(file('r/never-opened.yaml')) }, position: { line: 0, character: 0 } };
      assert.equal(await s.request('textDocument/hover', unknown), null);
      assert.deepEqual(await s.request('textDocument/completion', unknown), []);
      assert.deepEqual(
        await s.request('textDocument/codeAction', {
          ...unknown,
          range: { start: unknown.position, end: unknown.position },
          context: { diagnostics: [] },
        }),
        [],
      );
      assert.equal((await s.open(file('r/compose.yaml'), COMPOSE)).diagnostics.length, 2);
    }));

  test('a handler that fails is logged and answered empty; the server keeps serving', () =>
    withSession(async (s) => {
      const path = file('t/compose.yaml');
      await s.open(path, COMPOSE);
      const logged = new Promise<void>((resolve) => {
        s.connection.onNotification('window/logMessage', (p: { message: string }) => {
          s.logs.push(p.message);
          if (p.message.startsWith('vmrt: hover failed')) resolve();
        });
      });
      assert.equal(await s.request('textDocument/hover', { textDocument: { uri: s.uri(path) }, position: null }), null);
      await logged;
      assert.match(
        s.logs.find((l) => l.startsWith('vmrt: hover failed'))!,
        /TypeError/,
      );
      const hover = await s.request<Hover>('textDocument/hover', {
        textDocument: { uri: s.uri(path) },
        position: { line: 3, character: 8 },
      });
      assert.deepEqual(hover.range, HOST);
    }));

  test('Lint Workspace: closed files get diagnostics from disk', () =>
    withSession(async (s) => {
      const path = file('i/docker-compose.yml', COMPOSE);
      const readme = file('i/notes.txt', 'network_mode: host\n');
      const published = s.diagnostics(s.uri(path));
      const result = await s.request<{ files: number; findings: number }>('vmrt/lintFiles', { uris: [s.uri(path), s.uri(readme)] });
      assert.deepEqual(result, { files: 1, findings: 2 });
      assert.deepEqual(codes((await published).diagnostics), ['3:4-3:16 host-network-mode', '6:4-6:8 gpu-request']);
    }));
});

test('vmrt-language-server without a transport says how to run it and exits 2', () => {
  const run = spawnSync(process.execPath, [SERVER_MAIN], { encoding: 'utf8' });
  assert.equal(run.status, 2);
  assert.equal(run.stderr, 'usage: vmrt-language-server --stdio | --node-ipc | --socket=<port> | --pipe=<name>\n');
});

describe('hover', () => {
  test('on a flagged option: why, what the profile does, the workaround, every profile', () =>
    withSession(async (s) => {
      const path = file('j/compose.yaml');
      await s.open(path, COMPOSE);
      const hover = await s.request<Hover>('textDocument/hover', {
        textDocument: { uri: s.uri(path) },
        position: { line: 3, character: 8 },
      });
      assert.deepEqual(hover.range, HOST);
      const text = hoverText(hover);
      assert.match(text, /^\*\*vmrt: `host-network`\*\* \(rule `host-network-mode`\): unsupported under `vmrt`, reported as error/);
      assert.match(text, /\*\*Why a VM differs:\*\* the container runs in its own VM/);
      assert.match(text, /\*\*Workaround:\*\* publish the ports you need/);
      assert.match(
        text,
        /\| \*\*vmrt\*\* \(active\) \| unsupported \|\n\| clear-containers \| unsupported \|\n\| kata \| unsupported \|\n\| runc \| ok \|/,
      );
    }));

  test('on a known option that is fine under the active profile: its status everywhere', () =>
    withSession(
      async (s) => {
        const path = file('k/compose.yaml');
        const published = await s.open(path, COMPOSE.replace('gpus: all', 'cpus: 1.5'));
        assert.deepEqual(codes(published.diagnostics), ['3:4-3:16 host-network-mode']);
        const hover = await s.request<Hover>('textDocument/hover', {
          textDocument: { uri: s.uri(path) },
          position: { line: 6, character: 5 },
        });
        assert.deepEqual(hover.range, { start: { line: 6, character: 4 }, end: { line: 6, character: 8 } });
        assert.match(hoverText(hover), /^\*\*vmrt: `cpus`\*\*: ok under `kata`/);
        assert.match(
          hoverText(hover),
          /\| vmrt \| ok \|\n\| clear-containers \| pending \|\n\| \*\*kata\*\* \(active\) \| ok \|\n\| runc \| ok \|/,
        );
        const nothing = await s.request<Hover | null>('textDocument/hover', {
          textDocument: { uri: s.uri(path) },
          position: { line: 2, character: 6 },
        });
        assert.equal(nothing, null);
      },
      { settings: { lint: { profile: 'kata' } } },
    ));
});

describe('hover, per option', () => {
  test("on an option a profile judges apart from its feature: the option's own status there, with its source", () =>
    withSession(
      async (s) => {
        const path = file('k2/compose.yaml');
        const text = [
          'services:',
          '  web:',
          '    image: nginx',
          '    volumes:',
          '      - /srv/cpuinfo:/proc/cpuinfo:ro',
          '      - /srv/x:/proc/x',
          '',
        ].join('\n');
        const published = await s.open(path, text);
        // Kata's agent allows a bind onto /proc/cpuinfo: only the other /proc bind is flagged.
        assert.deepEqual(codes(published.diagnostics), ['5:8-5:22 proc-sys-bind']);
        const hover = async (line: number) =>
          hoverText(
            await s.request<Hover>('textDocument/hover', { textDocument: { uri: s.uri(path) }, position: { line, character: 10 } }),
          );
        const allowed = await hover(4);
        assert.match(
          allowed,
          /^\*\*vmrt: `proc-sys-mount`\*\*: ok under `kata`\n\nthe file is on the allow-list of Kata's agent\.\n\nSource: src\/agent\/rustjail/,
        );
        assert.match(allowed, /\| \*\*kata\*\* \(active\) \| ok \|/);
        const refused = await hover(5);
        assert.match(refused, /unsupported under `kata`, reported as error/);
        assert.match(refused, /\*\*Why a VM differs:\*\* Kata's agent refuses a bind mount inside \/proc/);
        assert.match(refused, /\| \*\*kata\*\* \(active\) \| unsupported \|/);
      },
      { settings: { lint: { profile: 'kata' } } },
    ));
});

describe('code actions', () => {
  const actionsAt = (s: LspSession, path: string, line: number, character: number, only?: string[]) =>
    s.request<CodeAction[]>('textDocument/codeAction', {
      textDocument: { uri: s.uri(path) },
      range: { start: { line, character }, end: { line, character } },
      context: { diagnostics: [], ...(only ? { only } : {}) },
    });

  test('fix, ignore here, ignore in file, docs, fix-all', () =>
    withSession(async (s) => {
      const path = file('l/compose.yaml');
      const uri = s.uri(path);
      await s.open(path, COMPOSE);
      const actions = await actionsAt(s, path, 3, 6);
      assert.deepEqual(
        actions.map((a) => [a.title, a.kind, a.isPreferred ?? false]),
        [
          ['Remove the host network mode (publish the ports you need instead)', 'quickfix', true],
          ['Ignore host-network here (vmrt-ignore)', 'quickfix', false],
          ['Ignore host-network in this file (vmrt-ignore-file)', 'quickfix', false],
          ['Open the docs page of host-network', 'quickfix', false],
          ['Fix all vmrt problems in this file', 'source.fixAll.vmrt', false],
        ],
      );
      assert.deepEqual(actions[0]!.edit, {
        changes: { [uri]: [{ range: { start: { line: 3, character: 0 }, end: { line: 4, character: 0 } }, newText: '' }] },
      });
      assert.deepEqual(actions[1]!.edit, {
        changes: {
          [uri]: [
            {
              range: { start: { line: 3, character: 0 }, end: { line: 3, character: 0 } },
              newText: '    # vmrt-ignore host-network -- reason\n',
            },
          ],
        },
      });
      assert.deepEqual(actions[2]!.edit, {
        changes: {
          [uri]: [
            { range: { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } }, newText: '# vmrt-ignore-file host-network\n' },
          ],
        },
      });
      // A GPU request has no automatic fix: fix-all edits the host network line only.
      assert.deepEqual(
        actions[4]!.edit!.changes![uri]!.map((e) => e.range.start.line),
        [3],
      );
      assert.equal(actions[0]!.diagnostics![0]!.code, 'host-network-mode');

      await s.request('workspace/executeCommand', actions[3]!.command);
      assert.match(s.shownDocuments[0]!, /\/docs\/features\/host-network\.md$/);

      const onlyFixAll = await actionsAt(s, path, 0, 0, ['source.fixAll']);
      assert.deepEqual(
        onlyFixAll.map((a) => a.kind),
        ['source.fixAll.vmrt'],
      );

      // The inserted pragma really suppresses the finding.
      const ignored = await s.change(path, [
        { range: actions[1]!.edit!.changes![uri]![0]!.range, text: actions[1]!.edit!.changes![uri]![0]!.newText },
      ]);
      assert.deepEqual(codes(ignored.diagnostics), ['7:4-7:8 gpu-request']);
    }));

  test('ignore here: a continued command takes the pragma above its first line; markdown fences', () =>
    withSession(async (s) => {
      const script = file('m/run.sh');
      await s.open(script, '#!/bin/sh\nset -e\ndocker run --rm \\\n  --net=host alpine true\n');
      const markdown = file('m/README.md');
      const md = '# Demo\n\n```sh\ndocker run --privileged alpine\n```\n';
      await s.open(markdown, md);
      const sh = await actionsAt(s, script, 3, 4);
      const ignoreSh = sh.find((a) => a.title.startsWith('Ignore host-network here'));
      assert.deepEqual(ignoreSh?.edit?.changes?.[s.uri(script)], [
        { range: { start: { line: 2, character: 0 }, end: { line: 2, character: 0 } }, newText: '# vmrt-ignore host-network -- reason\n' },
      ]);
      const ignoreShFile = sh.find((a) => a.title.startsWith('Ignore host-network in this file'));
      assert.deepEqual(
        ignoreShFile?.edit?.changes?.[s.uri(script)],
        [{ range: { start: { line: 1, character: 0 }, end: { line: 1, character: 0 } }, newText: '# vmrt-ignore-file host-network\n' }],
        'after the shebang',
      );
      const md1 = await actionsAt(s, markdown, 3, 12);
      const ignoreMd = md1.find((a) => a.title.startsWith('Ignore privileged here'));
      assert.deepEqual(ignoreMd?.edit?.changes?.[s.uri(markdown)], [
        { range: { start: { line: 3, character: 0 }, end: { line: 3, character: 0 } }, newText: '# vmrt-ignore privileged -- reason\n' },
      ]);
      const ignoreMdFile = md1.find((a) => a.title.startsWith('Ignore privileged in this file'));
      assert.deepEqual(ignoreMdFile?.edit?.changes?.[s.uri(markdown)], [
        { range: { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } }, newText: '<!-- vmrt-ignore-file privileged -->\n' },
      ]);
    }));
});

describe('completion', () => {
  const complete = (s: LspSession, path: string, line: number, character: number) =>
    s.request<CompletionItem[]>('textDocument/completion', { textDocument: { uri: s.uri(path) }, position: { line, character } });

  test('feature and rule ids inside a vmrt-ignore pragma', () =>
    withSession(async (s) => {
      const path = file('n/compose.yaml');
      await s.open(path, `services:\n  web:\n    # vmrt-ignore cpus, host-n\n    network_mode: host\n`);
      const items = await complete(s, path, 2, 30);
      const feature = items.find((i) => i.label === 'host-network');
      assert.deepEqual(feature?.textEdit, {
        range: { start: { line: 2, character: 24 }, end: { line: 2, character: 30 } },
        newText: 'host-network',
      });
      assert.equal(feature?.detail, 'feature: unsupported under vmrt');
      assert.ok(items.some((i) => i.label === 'host-network-mode' && i.detail === 'rule of host-network'));
      assert.deepEqual(await complete(s, path, 3, 10), [], 'no completion outside pragmas');
    }));

  test('keys, profiles, ids and levels in .vmrt-lint.yaml', () =>
    withSession(async (s) => {
      const path = file('o/.vmrt-lint.yaml');
      await s.open(path, 'pro\nprofile: \nseverity:\n  ho\n  host-network: w\nignored:\n  - pri\n');
      assert.deepEqual(
        (await complete(s, path, 0, 3)).map((i) => i.label),
        ['profile', 'failure-threshold', 'severity', 'ignored', 'runtime-classes', 'disable-ignore-pragma'],
      );
      assert.deepEqual(
        (await complete(s, path, 1, 9)).map((i) => i.label),
        ['vmrt', 'clear-containers', 'kata', 'runc'],
      );
      const ids = await complete(s, path, 3, 4);
      assert.deepEqual(ids.find((i) => i.label === 'host-pid')?.textEdit, {
        range: { start: { line: 3, character: 2 }, end: { line: 3, character: 4 } },
        newText: 'host-pid: ',
      });
      assert.deepEqual(
        (await complete(s, path, 4, 17)).map((i) => i.label),
        ['error', 'warning', 'info', 'hint', 'off'],
      );
      assert.deepEqual((await complete(s, path, 6, 7)).find((i) => i.label === 'privileged')?.textEdit?.newText, 'privileged');
    }));

  test('a .vmrt-lint.yaml buffer gets its own problems as diagnostics', () =>
    withSession(async (s) => {
      const published = await s.open(file('p/.vmrt-lint.yaml'), 'profile: docker\n');
      assert.deepEqual(codes(published.diagnostics), ['0:9-0:15 invalid-config']);
    }));
});
