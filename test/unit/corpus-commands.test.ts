/**
 * The regression corpus of `docker run` lines as projects write them in READMEs and scripts
 * (test/fixtures/corpus/commands, written for these tests): every finding, exactly.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Linter } from '../../server/src/engine/lint.js';
import type { ProfileName } from '../../server/src/profiles/index.js';
import { fixture } from './frontend-yaml-helpers.js';

/** `line:column-line:column rule` of each finding (1-based), and the message when asked. */
function findings(path: string, profile: ProfileName, messages = false): string[] {
  return new Linter({ profile, configPath: fixture('corpus/commands/none.yaml') })
    .lintFile(fixture(`corpus/commands/${path}`))
    .findings.map((f) => {
      const at = `${f.range.start.line + 1}:${f.range.start.character + 1}-${f.range.end.line + 1}:${f.range.end.character + 1} ${f.rule}`;
      return messages ? `${at} ${f.message}` : at;
    });
}

test('a linuxserver-style README: `#optional` substitutions and `\\  # comment` idioms do not end the command', () => {
  assert.deepEqual(findings('linuxserver-style.md', 'vmrt'), [
    '22:3-22:29 host-device',
    '23:3-23:13 host-network-mode',
    '35:3-35:31 host-device',
  ]);
});

test('a cadvisor-style README: an untagged fence counts when it runs a container CLI, a config block does not', () => {
  assert.deepEqual(findings('cadvisor-style.md', 'vmrt'), [
    '14:3-14:24 proc-sys-bind',
    '19:3-19:15 privileged-mode',
    '20:3-20:21 host-device',
  ]);
});

test('documentation forms: blockquotes, lists, ~~~, prompts in bash, console without prompts, <placeholders>', () => {
  assert.deepEqual(findings('docs-forms.md', 'vmrt', true), [
    '7:14-7:24 host-pid-namespace The pid namespace host is not supported by vmrt.',
    '13:15-13:25 host-ipc-namespace The ipc namespace host is not supported by vmrt.',
    '19:17-19:27 host-uts-namespace The host UTS namespace is not supported by vmrt.',
    '26:12-26:25 host-userns The host user namespace is not supported by vmrt.',
    '32:12-32:44 container-network-mode Joining the network of container:<container_name> works differently under vmrt.',
  ]);
});

test('scripts with ${OPTS}: an unquoted expansion before flags is read past; a quoted one is the image', () => {
  assert.deepEqual(findings('run-with-opts.sh', 'vmrt'), ['7:49-7:59 host-pid-namespace', '9:21-9:33 privileged-mode']);
});

test('runc reports nothing in the corpus', () => {
  for (const path of ['linuxserver-style.md', 'cadvisor-style.md', 'docs-forms.md', 'run-with-opts.sh']) {
    assert.deepEqual(findings(path, 'runc'), [], path);
  }
});
