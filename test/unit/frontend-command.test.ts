import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { commandFrontEnd } from '../../server/src/frontends/command/front-end.js';
import { splitShellCommands, splitShellWords } from '../../server/src/frontends/command/shell-words.js';
import type { FrontEndResult, RequestedOption } from '../../server/src/core/types.js';
import { applyEdits, context, fixture, parseFixture, rangeText, summary } from './frontend-yaml-helpers.js';

function parseText(text: string, path = '/work/script.sh'): FrontEndResult {
  return commandFrontEnd.parse({ path, text }, context());
}

/** [option, value, range] of each request, in order. */
function requests(result: FrontEndResult): unknown[][][] {
  return result.requests.map((r) => summary(r.options, r.file));
}

function only(result: FrontEndResult, option: string): RequestedOption {
  const found = result.requests.flatMap((r) => r.options).filter((o) => o.option === option);
  assert.equal(found.length, 1, `one ${option} option`);
  return found[0]!;
}

function fixtureText(path: string): string {
  return readFileSync(fixture(path), 'utf8');
}

test('a clean deploy script requests only its named volume', () => {
  const result = parseFixture(commandFrontEnd, 'command/deploy.sh');
  assert.deepEqual(result.problems, []);
  assert.equal(result.requests.length, 1);
  assert.equal(result.requests[0]!.name, 'web');
  assert.equal(result.requests[0]!.kind, 'command');
  assert.deepEqual(requests(result), [[['mount', { type: 'volume', source: 'data', target: '/data' }, '15:36-15:49']]]);
});

test('every flag form, with the flag (and a separate value) as the range', () => {
  const result = parseFixture(commandFrontEnd, 'command/flags.sh');
  assert.deepEqual(result.problems, []);
  assert.deepEqual(requests(result), [
    [
      ['network', 'host', '1:11-1:21'],
      ['network', 'host', '1:22-1:36'],
      ['mount', { type: 'bind', source: '/dev/snd', target: '/dev/snd' }, '1:37-1:57'],
      ['mount', { type: 'volume', source: 'cache', target: '/cache', readOnly: true }, '1:58-1:76'],
    ],
    [
      ['cpus', 1.5, '2:27-2:37'],
      ['cpu-quota', 50000, '2:38-2:55'],
      ['cpu-period', 100000, '2:56-2:75'],
      ['cpu-shares', 512, '2:76-2:82'],
      ['cpuset-cpus', '0-1', '2:83-2:100'],
    ],
    [
      ['privileged', true, '3:11-3:23'],
      ['device', { host: '/dev/fuse', container: '/dev/fuse' }, '3:24-3:56'],
      ['tmpfs', { target: '/run', size: '64m' }, '3:57-3:81'],
      ['mount', { type: 'bind', source: '/var/lib', target: '/lib2', propagation: 'rshared' }, '4:2-4:73'],
      ['tmpfs', { target: '/scratch', size: '1g' }, '5:2-5:50'],
    ],
    [
      ['cap-add', 'SYS_ADMIN', '7:20-7:39'],
      ['cap-drop', 'ALL', '7:40-7:54'],
      ['sysctl', { key: 'net.ipv4.ip_forward', value: '1' }, '7:55-7:85'],
      ['pid', 'host', '7:86-7:96'],
      ['ipc', 'host', '7:97-7:107'],
      ['uts', 'host', '7:108-7:118'],
      ['userns', 'host', '7:119-7:132'],
    ],
    [
      ['security-opt', 'seccomp=unconfined', '8:27-8:60'],
      ['gpus', 'all', '8:61-8:71'],
      ['blkio', '--blkio-weight', '8:72-8:90'],
      ['blkio', '--device-read-bps', '8:91-8:121'],
      ['kernel-memory', '64m', '8:122-8:141'],
      ['shm-size', '1g', '8:142-8:155'],
      ['link', 'db:db', '8:156-8:168'],
      ['annotation', { key: 'org.example.key', value: 'value' }, '8:169-8:203'],
    ],
    // `-itv`: the range starts at the letter; flags after the image are the container's.
    [['mount', { type: 'bind', source: '/dev/kvm', target: '/dev/kvm' }, '9:14-9:33']],
    // `$VAR` values stay unresolved text; a quoted flag is still a flag.
    [
      ['network', '$NET', '10:11-10:23'],
      ['network', '$NET2', '10:24-10:39'],
      ['pid', 'host', '10:40-10:52'],
    ],
    // Inside `$(…)`; after global flags `-H x --context y`.
    [['ipc', 'host', '16:19-16:29']],
    [['pid', 'host', '17:49-17:59']],
    [['command', 'network-connect', '18:7-18:22']],
    [['command', 'checkpoint', '18:45-18:55']],
    [['command', 'checkpoint', '19:13-19:25']],
    // update's flags are run's: what it changes is read beside the command.
    [
      ['command', 'update', '19:42-19:48'],
      ['cpus', 2, '19:49-19:57'],
    ],
    [['command', 'stats', '20:7-20:12']],
    [['command', 'top', '20:33-20:36']],
    [['command', 'events', '20:49-20:55']],
    [['command', 'swarm', '21:7-21:12']],
    [['command', 'swarm', '21:26-21:33']],
    [['command', 'swarm', '21:62-21:67']],
  ]);
});

test('echoed, commented, heredoc and other-command text is not a command', () => {
  const result = parseText(
    [
      'echo "docker run --net=host img"',
      '# docker run --privileged img',
      'cat <<-EOT',
      '\tdocker run --privileged img',
      '\tEOT',
      'ssh host docker run --pid=host img',
      "bash -c 'docker run --ipc=host img'",
      'docker ps --filter network=host',
      'docker run img  # --privileged',
    ].join('\n'),
  );
  assert.deepEqual(requests(result), [[]]);
});

test('continuations over three lines, quotes and $VAR', () => {
  const text = 'docker run \\\n  --network "host" \\\n  --device=\'/dev/fuse\' \\\n  --net=$MODE -e "A=b c" img\n';
  assert.deepEqual(requests(parseText(text)), [
    [
      ['network', 'host', '1:2-1:18'],
      ['device', { host: '/dev/fuse' }, '2:2-2:22'],
      ['network', '$MODE', '3:2-3:13'],
    ],
  ]);
});

test('flags after the image belong to the container command', () => {
  const result = parseText(
    'docker run -it --rm -v a:b img cmd --net=host --privileged\npodman create --pull always -e X=1 -w /src img --pid=host\n',
  );
  assert.deepEqual(requests(result), [[['mount', { type: 'volume', source: 'a', target: 'b' }, '0:20-0:26']], []]);
});

test('prefixes: sudo with flags, env assignments, exec, time, env, timeout, control words', () => {
  const result = parseText(
    [
      'sudo -u root -E docker run --pid=host img',
      'A=1 B="x y" exec nerdctl run --ipc=host img',
      'time -p podman container create --uts=host img',
      'if docker run --net=none img; then echo ok; fi',
      'env -u HOME -i PATH=/bin timeout -s KILL 30s docker run --userns=host img',
    ].join('\n'),
  );
  assert.deepEqual(requests(result), [
    [['pid', 'host', '0:27-0:37']],
    [['ipc', 'host', '1:29-1:39']],
    [['uts', 'host', '2:32-2:42']],
    [['network', 'none', '3:14-3:24']],
    [['userns', 'host', '4:56-4:69']],
  ]);
});

test('Makefile recipes: $$ is $, @ and - prefixes, continuations; variables and echo are not commands', () => {
  const result = parseFixture(commandFrontEnd, 'command/Makefile');
  assert.deepEqual(requests(result), [[['pid', 'host', '8:3-8:13']], [['ipc', 'host', '11:25-11:35']]]);
});

test('Markdown: shell fences, console prompt lines, and untagged fences that run a container CLI', () => {
  const result = parseFixture(commandFrontEnd, 'command/README.md');
  assert.deepEqual(requests(result), [
    [['network', 'host', '5:11-5:21']],
    [
      ['pid', 'host', '15:13-15:23'],
      ['cap-add', 'NET_ADMIN', '16:4-16:23'],
    ],
    [['command', 'stats', '19:9-19:14']],
    [['device', { host: '/dev/kvm' }, '23:11-23:28']],
    [['privileged', true, '27:11-27:23']],
  ]);
});

test('GitHub Actions: container and service options are create flags, run steps are shell', () => {
  const result = parseFixture(commandFrontEnd, 'command/.github/workflows/ci.yml');
  assert.deepEqual(result.problems, []);
  assert.deepEqual(
    result.requests.map((r) => r.name),
    ['test', 'test/postgres', 'test/steps[1]', 'test/steps[2]'],
  );
  assert.deepEqual(requests(result), [
    [
      ['privileged', true, '7:15-7:27'],
      ['cpus', 2, '7:28-7:36'],
    ],
    [['shm-size', '1g', '14:10-14:23']],
    [['network', 'host', '17:24-17:34']],
    [['device', { host: '/dev/fuse' }, '22:12-22:30']],
  ]);
});

test('Actions options in quoted, multi-line and escaped scalars', () => {
  const text = [
    'jobs:',
    '  a:',
    '    container:',
    '      image: x',
    '      options: "--cpus 2 --network=host"',
    '    services:',
    '      s:',
    "        options: '--cap-add=NET_ADMIN'",
    '      t:',
    '        options: --device',
    '          /dev/fuse --ipc',
    '          host',
    '      u:',
    '        options: "--pid=host\\t--uts=host"',
    '',
  ].join('\n');
  const result = parseText(text, '/r/.github/workflows/x.yml');
  assert.deepEqual(result.problems, []);
  assert.deepEqual(
    result.requests.map((r) => [r.name, summary(r.options, r.file)]),
    [
      [
        'a',
        [
          ['cpus', 2, '4:16-4:24'],
          ['network', 'host', '4:25-4:39'],
        ],
      ],
      ['a/s', [['cap-add', 'NET_ADMIN', '7:18-7:37']]],
      [
        'a/t',
        [
          ['device', { host: '/dev/fuse' }, '9:17-10:19'],
          ['ipc', 'host', '10:20-11:14'],
        ],
      ],
      // With an escape the characters have no one-to-one place: the whole scalar, and no edit.
      [
        'a/u',
        [
          ['pid', 'host', '13:17-13:41'],
          ['uts', 'host', '13:17-13:41'],
        ],
      ],
    ],
  );
  assert.deepEqual(
    result.requests.map((r) => r.options.map((o) => o.edit !== undefined)),
    [[true, true], [true], [true, true], [false, false]],
  );
  const cpus = result.requests[0]!.options[0]!;
  assert.equal(applyEdits(text, cpus.edit!.remove()).split('\n')[4], '      options: "--network=host"');
});

test('a broken workflow is a parse error at its place', () => {
  const result = parseText('jobs:\n  t:\n    container:\n      options: [--privileged\n', '/r/.github/workflows/x.yml');
  assert.deepEqual(
    result.problems.map((p) => [p.rule, p.severity, rangeText(p.range)]),
    [['parse-error', 'error', '4:0-4:0']],
  );
  assert.match(result.problems[0]!.message, /^YAML syntax error: Flow sequence/);
});

test('detect: scripts, shebangs, Makefiles, Markdown, workflows', () => {
  assert.equal(commandFrontEnd.detect('/a/deploy.sh', ''), true);
  assert.equal(commandFrontEnd.detect('/a/run.bash', ''), true);
  assert.equal(commandFrontEnd.detect('/a/bin/deploy', '#!/usr/bin/env bash\necho'), true);
  assert.equal(commandFrontEnd.detect('/a/bin/deploy', '#!/bin/dash\n'), true);
  assert.equal(commandFrontEnd.detect('/a/bin/deploy', '#!/usr/bin/env -S zsh -e\n'), true);
  assert.equal(commandFrontEnd.detect('/a/bin/tool', '#!/usr/bin/env python3\n'), false);
  assert.equal(commandFrontEnd.detect('/a/Makefile', ''), true);
  assert.equal(commandFrontEnd.detect('/a/rules.mk', ''), true);
  assert.equal(commandFrontEnd.detect('/a/README.md', ''), true);
  assert.equal(commandFrontEnd.detect('/a/.github/workflows/ci.yaml', ''), true);
  assert.equal(commandFrontEnd.detect('/a/compose.yaml', 'services: {}'), false);
});

test('remove(): the flag, its value and one blank; a flag alone on a continued line takes the line', () => {
  const text = fixtureText('command/flags.sh');
  const result = parseFixture(commandFrontEnd, 'command/flags.sh');
  const lines = (edited: string, from: number, to = from): string =>
    edited
      .split('\n')
      .slice(from, to + 1)
      .join('\n');
  const networks = result.requests[0]!.options;
  assert.equal(
    lines(applyEdits(text, networks[0]!.edit!.remove()), 1),
    'docker run --network host -v /dev/snd:/dev/snd -v cache:/cache:ro img',
  );
  assert.equal(
    lines(applyEdits(text, networks[1]!.edit!.remove()), 1),
    'docker run --net=host -v /dev/snd:/dev/snd -v cache:/cache:ro img',
  );
  const propagation = result.requests[2]!.options[3]!;
  assert.equal(
    lines(applyEdits(text, propagation.edit!.remove()), 3, 5),
    'podman run --privileged --device /dev/fuse:/dev/fuse:rwm --tmpfs /run:rw,size=64m \\\n  --mount type=tmpfs,target=/scratch,tmpfs-size=1g \\\n  img',
  );
  const bundled = result.requests[5]!.options[0]!;
  assert.equal(lines(applyEdits(text, bundled.edit!.remove()), 9), "docker run -it --rm img sh -c 'exec --net=host' --privileged");
  const makefile = fixtureText('command/Makefile');
  const pid = only(parseFixture(commandFrontEnd, 'command/Makefile'), 'pid');
  assert.equal(lines(applyEdits(makefile, pid.edit!.remove()), 7, 8), '\tdocker run --rm \\\n\t  -e HOME=$$HOME $(IMAGE)');
});

test('replace(): --cpus becomes --cpu-period and --cpu-quota in place', () => {
  const assignments = [
    { option: 'cpu-period' as const, value: 100000 },
    { option: 'cpu-quota' as const, value: 150000 },
  ];
  for (const [line, expected] of [
    ['docker run --cpus=1.5 img', 'docker run --cpu-period=100000 --cpu-quota=150000 img'],
    ['docker run --cpus 1.5 img', 'docker run --cpu-period=100000 --cpu-quota=150000 img'],
    ['docker run -d \\\n  --cpus 1.5 \\\n  img', 'docker run -d \\\n  --cpu-period=100000 --cpu-quota=150000 \\\n  img'],
  ] as const) {
    const cpus = only(parseText(line), 'cpus');
    assert.equal(applyEdits(line, cpus.edit!.replace(assignments)!), expected);
  }
  const workflow = fixtureText('command/.github/workflows/ci.yml');
  const cpus = only(parseFixture(commandFrontEnd, 'command/.github/workflows/ci.yml'), 'cpus');
  assert.equal(
    applyEdits(workflow, cpus.edit!.replace(assignments)!).split('\n')[7],
    '      options: --privileged --cpu-period=100000 --cpu-quota=150000',
  );
  // A letter inside a bundle has no in-place form; an unknown cpus value writes nothing.
  assert.equal(only(parseText('docker run -itc 512 img'), 'cpu-shares').edit!.replace(assignments), undefined);
  assert.equal(only(parseText('docker run --cpus=$N img'), 'cpus').edit!.replace([{ option: 'cpus', value: Number.NaN }]), undefined);
});

test('the Markdown console continuation is edited in the file', () => {
  const text = fixtureText('command/README.md');
  const cap = only(parseFixture(commandFrontEnd, 'command/README.md'), 'cap-add');
  assert.equal(applyEdits(text, cap.edit!.remove()).split('\n')[16], '>   app');
});

test('shell words: quotes, escapes, substitutions and offsets', () => {
  const words = splitShellWords(`a"b c"'d' e\\ f $X "\${Y:-z}" $(echo ")") \`w\` g\\\nh`);
  assert.deepEqual(
    words.map((w) => [w.value, w.start, w.end, w.unresolved]),
    [
      ['ab cd', 0, 9, false],
      ['e f', 10, 14, false],
      ['$X', 15, 17, true],
      ['${Y:-z}', 18, 27, true],
      ['$(echo ")")', 28, 39, true],
      ['`w`', 40, 43, true],
      ['gh', 44, 48, false],
    ],
  );
  // Commands inside substitutions are commands too; separators end commands.
  const commands = splitShellCommands('a 1; b 2 && c $(d 3) | e 2>&1 >/dev/null\nf');
  assert.deepEqual(
    commands.map((c) => [c.depth, c.words.map((w) => w.value).join(' ')]),
    [
      [0, 'a 1'],
      [0, 'b 2'],
      [0, 'c $(d 3)'],
      [1, 'd 3'],
      [0, 'e'],
      [0, 'f'],
    ],
  );
});

test('every remove() takes away exactly its option and keeps the command line parseable', () => {
  for (const path of ['command/flags.sh', 'command/Makefile', 'command/README.md', 'command/.github/workflows/ci.yml']) {
    const text = fixtureText(path);
    const all = parseFixture(commandFrontEnd, path).requests.flatMap((r) => r.options);
    const count = all.length;
    // Commands (`docker stats`) are whole commands: they have no editor.
    assert.deepEqual(
      all
        .filter((o) => !o.edit)
        .map((o) => o.option)
        .filter((o) => o !== 'command'),
      [],
    );
    for (const option of all.filter((o) => o.edit)) {
      const edited = applyEdits(text, option.edit!.remove());
      const after = commandFrontEnd.parse({ path: fixture(path), text: edited }, context()).requests.flatMap((r) => r.options);
      assert.equal(after.length, count - 1, `${path}: ${option.option} ${rangeText(option.range)}`);
    }
  }
});
