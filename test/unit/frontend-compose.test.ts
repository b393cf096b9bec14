import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { composeFrontEnd, looksLikeCompose } from '../../server/src/frontends/compose/project.js';
import { Linter } from '../../server/src/engine/lint.js';
import { interpolate, parseDotEnv } from '../../server/src/frontends/compose/interpolation.js';
import type { FrontEndResult, RequestedOption, OptionName, TextEdit } from '../../server/src/core/types.js';
import { applyEdits, context, fixture, parseFixture, rangeText, summary, validYaml } from './frontend-yaml-helpers.js';

const inline = (text: string, env: Record<string, string> = {}, path = '/project/compose.yaml'): FrontEndResult =>
  composeFrontEnd.parse({ path, text }, context(env));

function option(result: FrontEndResult, name: OptionName, service?: string, nth = 0): RequestedOption {
  const options = result.requests.filter((r) => service === undefined || r.name === service).flatMap((r) => r.options);
  const found = options.filter((o) => o.option === name)[nth];
  assert.ok(found, `no ${name} option`);
  return found;
}

describe('compose detection', () => {
  test('by name', () => {
    for (const name of [
      'compose.yaml',
      'compose.yml',
      'docker-compose.yml',
      'docker-compose.override.yaml',
      'docker-compose-dev.yml',
      'compose.prod.yaml',
    ]) {
      assert.equal(composeFrontEnd.detect(`/p/${name}`, ''), true, name);
    }
    for (const name of ['composer.yaml', 'my-compose.yaml', 'compose.json', 'values.yaml']) {
      assert.equal(composeFrontEnd.detect(`/p/${name}`, 'a: 1\n'), false, name);
    }
  });

  test('by content: top-level services holding service maps', () => {
    assert.equal(composeFrontEnd.detect('/p/stack.yaml', 'version: "3.8"\nservices:\n  web:\n    image: nginx\n'), true);
    assert.equal(composeFrontEnd.detect('/p/stack.yml', '# app\nservices:\n\n  api:\n    # the api\n    build: .\n'), true);
    assert.equal(composeFrontEnd.detect('/p/stack.txt', 'services:\n  web:\n    image: nginx\n'), false);
  });

  test('does not claim Kubernetes, GitHub Actions or CI files', () => {
    assert.equal(looksLikeCompose('apiVersion: v1\nkind: Pod\nmetadata:\n  name: x\nspec:\n  containers:\n    - image: nginx\n'), false);
    assert.equal(looksLikeCompose('on: push\njobs:\n  test:\n    services:\n      db:\n        image: postgres\n'), false);
    assert.equal(looksLikeCompose('stages: [test]\nservices:\n  - postgres:16\n'), false);
    assert.equal(looksLikeCompose('steps:\n  build:\n    image: node\nservices:\n  db:\n    image: postgres\n'), false);
    assert.equal(looksLikeCompose('services:\n  - name: a\n    port: 80\n'), false);
    assert.equal(looksLikeCompose('services:\n  web:\n    replicas_wanted: 2\n'), false);
  });
});

describe('compose options', () => {
  test('a realistic clean file asks for nothing a VM treats differently', () => {
    const path = fixture('compose/clean/compose.yaml');
    const result = parseFixture(composeFrontEnd, 'compose/clean/compose.yaml');
    assert.deepEqual(result.problems, []);
    assert.deepEqual(
      result.requests.map((r) => [r.kind, r.name, r.file]),
      [
        ['compose', 'web', path],
        ['compose', 'db', path],
      ],
    );
    assert.deepEqual(
      summary(
        result.requests.flatMap((r) => r.options),
        path,
      ),
      [
        ['mount', { type: 'bind', source: './nginx.conf', target: '/etc/nginx/nginx.conf', readOnly: true }, '9:8-9:45'],
        ['mount', { type: 'volume', source: 'static', target: '/usr/share/nginx/html' }, '10:8-10:36'],
        ['mount', { type: 'volume', source: 'pgdata', target: '/var/lib/postgresql/data' }, '33:8-35:40'],
      ],
    );
  });

  test('every option, short syntax, with the range of its key or entry', () => {
    const path = fixture('compose/options/compose.yaml');
    const result = parseFixture(composeFrontEnd, 'compose/options/compose.yaml');
    assert.deepEqual(result.problems, []);
    assert.deepEqual(summary(result.requests.find((r) => r.name === 'app')!.options, path), [
      ['network', 'host', '3:4-3:16'],
      ['privileged', true, '4:4-4:14'],
      ['device', { host: '/dev/kvm', container: '/dev/kvm' }, '6:8-6:29'],
      ['device', { host: '/dev/vfio/12', container: '/dev/vfio/12' }, '7:8-7:20'],
      ['mount', { type: 'bind', source: '/dev/snd', target: '/dev/snd' }, '9:8-9:25'],
      ['mount', { type: 'bind', source: '/srv/data', target: '/data', readOnly: true, propagation: 'rshared' }, '10:8-10:34'],
      ['mount', { type: 'volume', source: 'cache', target: '/cache' }, '11:8-11:20'],
      ['tmpfs', { target: '/run' }, '12:4-12:9'],
      ['cpus', 1.5, '13:4-13:8'],
      ['cpu-quota', 50000, '14:4-14:13'],
      ['cpu-period', 100000, '15:4-15:14'],
      ['cpuset-cpus', '0-3', '16:4-16:10'],
      ['cpu-shares', 512, '17:4-17:14'],
      ['kernel-memory', '64m', '18:4-18:17'],
      ['shm-size', '1gb', '19:4-19:12'],
      ['cap-add', 'NET_ADMIN', '21:8-21:17'],
      ['cap-drop', 'ALL', '22:15-22:18'],
      ['sysctl', { key: 'net.ipv4.ip_forward', value: '1' }, '24:8-24:29'],
      ['pid', 'host', '25:4-25:7'],
      ['ipc', 'host', '26:4-26:7'],
      ['uts', 'host', '27:4-27:7'],
      ['userns', 'host', '28:4-28:15'],
      ['security-opt', 'apparmor=unconfined', '30:8-30:27'],
      ['gpus', 'all', '31:4-31:8'],
      ['blkio', 'weight', '33:6-33:12'],
      ['annotation', { key: 'com.example.team', value: 'infra' }, '35:8-35:30'],
      ['link', 'db:database', '37:8-37:19'],
      ['link', 'redis_1', '39:8-39:15'],
    ]);
  });

  test('every option, long syntax and deploy', () => {
    const path = fixture('compose/options/compose.yaml');
    const result = parseFixture(composeFrontEnd, 'compose/options/compose.yaml');
    assert.deepEqual(summary(result.requests.find((r) => r.name === 'long')!.options, path), [
      ['network', 'container:watcher', '42:4-42:16'],
      ['device', { host: '/dev/ttyUSB0', container: '/dev/ttyS0' }, '44:8-46:23'],
      ['mount', { type: 'bind', source: '/var/lib/kubelet', target: '/kubelet', propagation: 'rshared' }, '48:8-52:30'],
      ['tmpfs', { target: '/scratch', size: '64m' }, '53:8-56:19'],
      ['tmpfs', { target: '/tmp', size: '32m' }, '58:8-58:31'],
      ['sysctl', { key: 'net.core.somaxconn', value: '1024' }, '60:6-60:24'],
      ['annotation', { key: 'com.example.owner', value: 'ops' }, '62:6-62:23'],
      ['gpus', '2', '64:8-65:16'],
      ['blkio', 'device_read_bps', '67:6-67:21'],
      ['swarm-key', 'mode', '71:6-71:10'],
      ['swarm-key', 'placement', '72:6-72:15'],
      ['swarm-key', 'update_config', '74:6-74:19'],
      ['cpus', 0.5, '78:10-78:14'],
      ['gpus', 'device=0,3', '81:14-82:36'],
    ]);
    assert.deepEqual(summary(result.requests.find((r) => r.name === 'sidecar')!.options, path), [
      // replicas: compose honours it too (docker compose up starts that many).
      ['network', 'service:app', '85:4-85:16'],
    ]);
  });

  test("deploy: replicas and mode: replicated are compose's defaults, not swarm-only; mode: global is", () => {
    const keys = (deploy: string) =>
      inline(`services:\n  a:\n    image: x\n    deploy:\n${deploy}`)
        .requests[0]!.options.filter((o) => o.option === 'swarm-key')
        .map((o) => o.value);
    assert.deepEqual(keys('      mode: replicated\n      replicas: 3\n'), []);
    assert.deepEqual(keys('      mode: global\n'), ['mode']);
  });

  test('CDI device names: the gpu class is a GPU request, other classes are devices', () => {
    const result = inline('services:\n  a:\n    devices:\n      - nvidia.com/gpu=all\n      - vendor.example/fpga=0\n');
    assert.deepEqual(summary(result.requests[0]!.options, '/project/compose.yaml'), [
      ['gpus', 'nvidia.com/gpu=all', '3:8-3:26'],
      ['device', { host: 'vendor.example/fpga=0' }, '4:8-4:29'],
    ]);
  });

  test('merge keys and anchors: the option is reported where it is written', () => {
    const result = inline(
      'x-base: &base\n  privileged: true\n  cap_add: &caps [SYS_ADMIN]\nservices:\n  a:\n    <<: *base\n    image: x\n  b:\n    image: y\n    cap_add: *caps\n',
    );
    assert.deepEqual(
      result.requests.map((r) => [r.name, summary(r.options, '/project/compose.yaml')]),
      [
        [
          'a',
          [
            ['privileged', true, '1:2-1:12'],
            ['cap-add', 'SYS_ADMIN', '2:18-2:27'],
          ],
        ],
        ['b', [['cap-add', 'SYS_ADMIN', '2:18-2:27']]],
      ],
    );
  });

  test('a service key holding an explicit false or a non-number is read as written or skipped', () => {
    const result = inline('services:\n  a:\n    privileged: false\n    cpus: lots\n    shm_size: 1073741824\n');
    assert.deepEqual(summary(result.requests[0]!.options, '/project/compose.yaml'), [
      ['privileged', false, '2:4-2:14'],
      ['shm-size', '1073741824', '4:4-4:12'],
    ]);
  });
});

describe('compose interpolation', () => {
  test('the spec forms, .env beside the file, the environment winning, $$', () => {
    const path = fixture('compose/interpolation/compose.yaml');
    const result = parseFixture(composeFrontEnd, 'compose/interpolation/compose.yaml', {
      EMPTY: '',
      PRIV: 'true',
      CAP_SUFFIX: 'SYS_ADMIN',
    });
    assert.deepEqual(summary(result.requests.find((r) => r.name === 'app')!.options, path), [
      ['network', 'host', '3:4-3:16'],
      ['privileged', true, '4:4-4:14'],
      ['cpus', 2.5, '5:4-5:8'],
      ['cap-add', 'SYS_PTRACE', '7:8-7:21'],
      ['cap-add', '$NOT_A_VAR', '8:8-8:19'],
      ['cap-add', 'CAP_SYS_ADMIN', '9:8-9:23'],
      ['shm-size', '128m', '10:4-10:12'],
      ['pid', 'host', '11:4-11:7'],
      ['ipc', '', '12:4-12:7'],
      ['uts', 'host', '13:4-13:7'],
      ['security-opt', 'label=disable', '15:8-15:38'],
      ['security-opt', 'seccomp=default', '16:8-16:48'],
      ['security-opt', 'apparmor=${NOT_EXPANDED}', '17:8-17:25'],
    ]);
  });

  test('an unset required variable is a parse-error at its value', () => {
    const path = fixture('compose/interpolation/compose.yaml');
    const result = parseFixture(composeFrontEnd, 'compose/interpolation/compose.yaml');
    assert.deepEqual(
      result.problems.map((p) => [p.rule, p.file, rangeText(p.range), p.message, p.severity]),
      [
        [
          'parse-error',
          path,
          '20:17-20:67',
          'required variable USERNS is missing a value: set USERNS to host or leave the key out',
          'error',
        ],
        ['parse-error', path, '21:19-21:30', 'required variable MISSING is missing a value', 'error'],
      ],
    );
    // Without PRIV in the environment the .env value (false) applies.
    assert.equal(option(result, 'privileged', 'app').value, false);
  });

  test('interpolate()', () => {
    const env: Record<string, string> = { A: 'a', E: '' };
    const lookup = (name: string) => env[name];
    const cases: [string, string][] = [
      ['${A}', 'a'],
      ['$A-$A', 'a-a'],
      ['${U}', ''],
      ['${U:-d}', 'd'],
      ['${E:-d}', 'd'],
      ['${E-d}', ''],
      ['${U-d}', 'd'],
      ['${A:+r}', 'r'],
      ['${E:+r}', ''],
      ['${E+r}', 'r'],
      ['${U+r}', ''],
      ['$$A', '$A'],
      ['$$${A}', '$a'],
      ['${U:-${A}x}', 'ax'],
      ['cost: 5$', 'cost: 5$'],
      ['$1', '$1'],
      ['${A:?boom}', 'a'],
    ];
    for (const [template, expected] of cases) assert.equal(interpolate(template, lookup), expected, template);
    assert.throws(() => interpolate('${U:?no U}', lookup), /required variable U is missing a value: no U/);
    assert.throws(() => interpolate('${E:?}', lookup), /required variable E is missing a value$/);
    assert.equal(interpolate('${E?}', lookup), '');
    assert.throws(() => interpolate('${A', lookup), /unterminated/);
    assert.throws(() => interpolate('${}', lookup), /does not start with a variable name/);
  });

  test('.env syntax', () => {
    const values = parseDotEnv('# c\nexport A=1\nB = two # note\nC="x\\ny ${A}"\nD=\'${A}\'\nE=${OUTER}\nnot a line\n', (n) =>
      n === 'OUTER' ? 'o' : undefined,
    );
    assert.deepEqual(Object.fromEntries(values), { A: '1', B: 'two', C: 'x\ny 1', D: '${A}', E: 'o' });
  });
});

describe('compose extends and include', () => {
  test('extends: options of the base file carry its path and ranges; the extending service overrides', () => {
    const path = fixture('compose/extends/compose.yaml');
    const result = parseFixture(composeFrontEnd, 'compose/extends/compose.yaml');
    const byName = Object.fromEntries(result.requests.map((r) => [r.name, summary(r.options, path)]));
    assert.deepEqual(byName, {
      api: [
        ['cap-add', 'NET_ADMIN', '4:8-4:17', 'compose/extends/base/common.yaml'],
        ['sysctl', { key: 'net.core.somaxconn', value: '1024' }, '6:6-6:24', 'compose/extends/base/common.yaml'],
        ['cap-add', 'CHOWN', '7:8-7:13'],
        ['network', 'bridge', '8:4-8:16'],
      ],
      worker: [
        ['cap-add', 'NET_ADMIN', '4:8-4:17', 'compose/extends/base/common.yaml'],
        ['sysctl', { key: 'net.core.somaxconn', value: '1024' }, '6:6-6:24', 'compose/extends/base/common.yaml'],
        ['cap-add', 'CHOWN', '7:8-7:13'],
        ['network', 'bridge', '8:4-8:16'],
        ['privileged', true, '11:4-11:14'],
      ],
      fresh: [
        ['network', 'host', '2:4-2:16', 'compose/extends/base/common.yaml'],
        ['sysctl', { key: 'net.core.somaxconn', value: '1024' }, '6:6-6:24', 'compose/extends/base/common.yaml'],
      ],
      'loop-a': [],
      'loop-b': [],
      missing: [],
    });
    assert.deepEqual(
      result.problems.map((p) => [p.file, rangeText(p.range), p.message]),
      [
        [path, '20:4-20:11', 'extends cycle: loop-a → loop-b → loop-a'],
        [path, '22:4-22:11', 'extends: cannot read nope.yaml'],
      ],
    );
  });

  test('extends: an unknown service and a self-reference are problems, not crashes', () => {
    const result = inline('services:\n  a:\n    extends: ghost\n  b:\n    extends:\n      service: b\n');
    assert.deepEqual(
      result.problems.map((p) => [rangeText(p.range), p.message]),
      [
        ['2:4-2:11', 'extends: service "ghost" not found'],
        ['4:4-4:11', 'extends cycle: b → b'],
      ],
    );
  });

  test('include: services of included files, their own .env, their ranges; a missing file', () => {
    const path = fixture('compose/include/compose.yaml');
    const result = parseFixture(composeFrontEnd, 'compose/include/compose.yaml');
    assert.deepEqual(
      result.requests.map((r) => [r.name, r.file.slice(fixture('').length), summary(r.options, path)]),
      [
        ['app', 'compose/include/compose.yaml', []],
        [
          'db',
          'compose/include/db/compose.yaml',
          [
            ['shm-size', '256m', '3:4-3:12', 'compose/include/db/compose.yaml'],
            ['mount', { type: 'bind', source: '/dev/shm', target: '/dev/shm' }, '5:8-5:25', 'compose/include/db/compose.yaml'],
          ],
        ],
        [
          'node-exporter',
          'compose/include/monitoring.yaml',
          [
            ['pid', 'host', '3:4-3:7', 'compose/include/monitoring.yaml'],
            [
              'mount',
              { type: 'bind', source: '/proc', target: '/host/proc', readOnly: true },
              '5:8-5:27',
              'compose/include/monitoring.yaml',
            ],
          ],
        ],
      ],
    );
    assert.deepEqual(
      result.problems.map((p) => [p.file, rangeText(p.range), p.message]),
      [[path, '4:4-4:17', 'include: cannot read ./absent.yaml']],
    );
  });

  test("include: project_directory holds the included project's .env; the environment still wins", () => {
    const files: Record<string, string> = {
      '/app/compose.yaml': 'include:\n  - path: ../lib/db.yaml\n    project_directory: ../lib/project\n',
      '/lib/db.yaml': 'services:\n  db:\n    ipc: ${DB_IPC}\n    pid: ${DB_PID:-private}\n',
      '/lib/project/.env': 'DB_IPC=host\nDB_PID=host\n',
    };
    const ctx = { ...context({ DB_PID: 'container:x' }), readFile: (p: string) => files[p] };
    const result = composeFrontEnd.parse({ path: '/app/compose.yaml', text: files['/app/compose.yaml']! }, ctx);
    assert.deepEqual(
      result.requests.map((r) => [r.name, r.file, summary(r.options, '/lib/db.yaml')]),
      [
        [
          'db',
          '/lib/db.yaml',
          [
            ['ipc', 'host', '2:4-2:7'],
            ['pid', 'container:x', '3:4-3:7'],
          ],
        ],
      ],
    );
    assert.deepEqual(result.problems, []);
  });

  test('include: a file included twice (a diamond) gives its services once', () => {
    const files: Record<string, string> = {
      '/p/compose.yaml': 'include:\n  - b.yaml\n  - c.yaml\n',
      '/p/b.yaml': 'include: [d.yaml]\nservices:\n  b:\n    image: b\n',
      '/p/c.yaml': 'include: [d.yaml]\nservices:\n  c:\n    image: c\n',
      '/p/d.yaml': 'services:\n  d:\n    uts: host\n',
    };
    const ctx = { ...context(), readFile: (p: string) => files[p] };
    const result = composeFrontEnd.parse({ path: '/p/compose.yaml', text: files['/p/compose.yaml']! }, ctx);
    assert.deepEqual(
      result.requests.map((r) => [r.name, r.options.length]),
      [
        ['b', 0],
        ['d', 1],
        ['c', 0],
      ],
    );
    assert.deepEqual(result.problems, []);
  });

  test('include cycle: reported at the include that closes it', () => {
    const result = parseFixture(composeFrontEnd, 'compose/include-cycle/compose.yaml');
    assert.deepEqual(
      result.requests.map((r) => [r.name, summary(r.options).map((o) => o.slice(0, 3))]),
      [
        ['a', [['ipc', 'host', '5:4-5:7']]],
        ['b', [['uts', 'host', '5:4-5:7']]],
      ],
    );
    assert.deepEqual(
      result.problems.map((p) => [p.file, rangeText(p.range), p.message]),
      [[fixture('compose/include-cycle/other.yaml'), '1:4-1:16', 'include cycle: compose.yaml → other.yaml → compose.yaml']],
    );
  });

  test('dependencies: .env files and every extended or included file', () => {
    // The engine records every file the front end reads (or looks for) during its one parse.
    const dependencies = (path: string): string[] =>
      new Linter({ frontEnds: [composeFrontEnd] })
        .lintFile(fixture(path))
        .dependencies.map((d) => d.slice(fixture('').length))
        .sort();
    assert.deepEqual(dependencies('compose/include/compose.yaml'), [
      'compose/include/.env',
      'compose/include/absent.yaml',
      'compose/include/db/.env',
      'compose/include/db/compose.yaml',
      'compose/include/monitoring.env',
      'compose/include/monitoring.yaml',
    ]);
    assert.deepEqual(dependencies('compose/extends/compose.yaml'), [
      'compose/extends/.env',
      'compose/extends/base/common.yaml',
      'compose/extends/nope.yaml',
    ]);
  });
});

describe('compose syntax errors', () => {
  test('an unclosed flow sequence: parse-error where YAML finds it, no requests', () => {
    const path = fixture('compose/broken/compose.yaml');
    const result = parseFixture(composeFrontEnd, 'compose/broken/compose.yaml');
    assert.deepEqual(result.requests, []);
    assert.deepEqual(
      result.problems.map((p) => [p.rule, p.file, rangeText(p.range), p.message]),
      [
        [
          'parse-error',
          path,
          '4:2-4:4',
          'YAML syntax error: Flow sequence in block collection must be sufficiently indented and end with a ]',
        ],
      ],
    );
  });

  test('a duplicate key, a tab indent, an empty file, garbage: never throws', () => {
    assert.deepEqual(
      inline('services:\n  a:\n    image: x\n    image: y\n').problems.map((p) => [rangeText(p.range), p.message]),
      [['3:4-3:9', 'YAML syntax error: Map keys must be unique']],
    );
    const tab = inline('services:\n  a:\n\timage: x\n');
    assert.equal(tab.problems.length > 0 && tab.problems.every((p) => p.rule === 'parse-error' && p.range.start.line === 2), true);
    assert.deepEqual(inline(''), { requests: [], problems: [] });
    assert.deepEqual(inline('services: 3\n'), { requests: [], problems: [] });
    assert.equal(inline('services:\n  a: [\n').problems.length > 0, true);
    assert.equal(inline('"\u0000\u0001: }{][').problems.length > 0, true);
  });
});

describe('compose edits', () => {
  const edited = (text: string, edit: (r: FrontEndResult) => TextEdit[] | undefined) => {
    const edits = edit(inline(text));
    assert.ok(edits, 'no edits');
    const out = applyEdits(text, edits);
    return { text: out, data: validYaml(out)[0] };
  };

  test('remove a list entry, the last entry with its key, a key, a flow entry', () => {
    const text =
      'services:\n  a:\n    image: x\n    cap_add:\n      - NET_ADMIN   # needed for vpn\n      - SYS_TIME\n    cap_drop: [ALL, NET_RAW]\n    network_mode: host\n    devices:\n      - /dev/kvm\n';
    assert.equal(
      edited(text, (r) => option(r, 'cap-add').edit!.remove()).text,
      'services:\n  a:\n    image: x\n    cap_add:\n      - SYS_TIME\n    cap_drop: [ALL, NET_RAW]\n    network_mode: host\n    devices:\n      - /dev/kvm\n',
    );
    assert.deepEqual(edited(text, (r) => option(r, 'cap-drop').edit!.remove()).data, {
      services: {
        a: { image: 'x', cap_add: ['NET_ADMIN', 'SYS_TIME'], cap_drop: ['NET_RAW'], network_mode: 'host', devices: ['/dev/kvm'] },
      },
    });
    assert.deepEqual(edited(text, (r) => option(r, 'cap-drop', undefined, 1).edit!.remove()).data, {
      services: { a: { image: 'x', cap_add: ['NET_ADMIN', 'SYS_TIME'], cap_drop: ['ALL'], network_mode: 'host', devices: ['/dev/kvm'] } },
    });
    assert.equal(
      edited(text, (r) => option(r, 'device').edit!.remove()).text,
      'services:\n  a:\n    image: x\n    cap_add:\n      - NET_ADMIN   # needed for vpn\n      - SYS_TIME\n    cap_drop: [ALL, NET_RAW]\n    network_mode: host\n',
    );
    assert.equal(
      edited(text, (r) => option(r, 'network').edit!.remove()).text,
      'services:\n  a:\n    image: x\n    cap_add:\n      - NET_ADMIN   # needed for vpn\n      - SYS_TIME\n    cap_drop: [ALL, NET_RAW]\n    devices:\n      - /dev/kvm\n',
    );
    const flowOnly = 'services:\n  a:\n    image: x\n    cap_drop: [ALL]\n';
    assert.equal(edited(flowOnly, (r) => option(r, 'cap-drop').edit!.remove()).text, 'services:\n  a:\n    image: x\n');
  });

  test('remove a long-syntax entry, a map entry, a nested key whose parents empty out', () => {
    const text =
      'services:\n  a:\n    volumes:\n      - type: bind\n        source: /dev/snd\n        target: /dev/snd\n      - data:/data\n    sysctls:\n      net.core.somaxconn: 1024\n      kernel.shmmax: 1\n    deploy:\n      resources:\n        limits:\n          cpus: "2"\n    image: x\n';
    assert.deepEqual(edited(text, (r) => option(r, 'mount').edit!.remove()).data, {
      services: {
        a: {
          volumes: ['data:/data'],
          sysctls: { 'net.core.somaxconn': 1024, 'kernel.shmmax': 1 },
          deploy: { resources: { limits: { cpus: '2' } } },
          image: 'x',
        },
      },
    });
    assert.deepEqual(edited(text, (r) => option(r, 'sysctl', undefined, 1).edit!.remove()).data, {
      services: {
        a: {
          volumes: [{ type: 'bind', source: '/dev/snd', target: '/dev/snd' }, 'data:/data'],
          sysctls: { 'net.core.somaxconn': 1024 },
          deploy: { resources: { limits: { cpus: '2' } } },
          image: 'x',
        },
      },
    });
    assert.equal(
      edited(text, (r) => option(r, 'cpus').edit!.remove()).text,
      'services:\n  a:\n    volumes:\n      - type: bind\n        source: /dev/snd\n        target: /dev/snd\n      - data:/data\n    sysctls:\n      net.core.somaxconn: 1024\n      kernel.shmmax: 1\n    image: x\n',
    );
  });

  test('removing the only key of a service leaves an empty service, not a broken file', () => {
    const out = edited('services:\n  a:\n    privileged: true\n  b:\n    image: y\n', (r) => option(r, 'privileged').edit!.remove());
    assert.equal(out.text, 'services:\n  a:\n    {}\n  b:\n    image: y\n');
    assert.deepEqual(out.data, { services: { a: {}, b: { image: 'y' } } });
  });

  test("replace cpus by cpu_period and cpu_quota at the key's indentation", () => {
    const cpuFix = [
      { option: 'cpu-period' as const, value: 100000 },
      { option: 'cpu-quota' as const, value: 150000 },
    ];
    const text = 'services:\n  a:\n    image: x\n    cpus: 1.5\n    restart: always\n';
    assert.equal(
      edited(text, (r) => option(r, 'cpus').edit!.replace(cpuFix)).text,
      'services:\n  a:\n    image: x\n    cpu_period: 100000\n    cpu_quota: 150000\n    restart: always\n',
    );
    const deploy = 'services:\n  a:\n    image: x\n    deploy:\n      resources:\n        limits:\n          cpus: "1.5"\n';
    assert.equal(
      edited(deploy, (r) => option(r, 'cpus').edit!.replace(cpuFix)).text,
      'services:\n  a:\n    image: x\n    cpu_period: 100000\n    cpu_quota: 150000\n',
    );
    const keepMemory =
      'services:\n  a:\n    deploy:\n      resources:\n        limits:\n          cpus: "1.5"\n          memory: 1g\n    image: x\n';
    assert.equal(
      edited(keepMemory, (r) => option(r, 'cpus').edit!.replace(cpuFix)).text,
      'services:\n  a:\n    cpu_period: 100000\n    cpu_quota: 150000\n    deploy:\n      resources:\n        limits:\n          memory: 1g\n    image: x\n',
    );
    const existing = 'services:\n  a:\n    cpu_period: 50000\n    cpus: 2\n';
    assert.deepEqual(edited(existing, (r) => option(r, 'cpus').edit!.replace(cpuFix)).data, {
      services: { a: { cpu_period: 100000, cpu_quota: 150000 } },
    });
    const crlf = 'services:\r\n  a:\r\n    cpus: 1.5\r\n    image: x\r\n';
    assert.equal(
      edited(crlf, (r) => option(r, 'cpus').edit!.replace(cpuFix)).text,
      'services:\r\n  a:\r\n    cpu_period: 100000\r\n    cpu_quota: 150000\r\n    image: x\r\n',
    );
  });

  test('replace a list entry in place, add entries to another list, or refuse', () => {
    const text =
      'services:\n  a:\n    cap_add:\n      - SYS_ADMIN\n      - CHOWN\n    links:\n      - db\n    sysctls:\n      kernel.msgmax: 65536\n';
    assert.equal(
      edited(text, (r) =>
        option(r, 'cap-add').edit!.replace([
          { option: 'cap-add', value: 'NET_ADMIN' },
          { option: 'cap-add', value: 'NET_RAW' },
        ]),
      ).text,
      'services:\n  a:\n    cap_add:\n      - NET_ADMIN\n      - NET_RAW\n      - CHOWN\n    links:\n      - db\n    sysctls:\n      kernel.msgmax: 65536\n',
    );
    assert.deepEqual(
      edited(text, (r) =>
        option(r, 'link').edit!.replace([
          { option: 'cap-add', value: 'NET_RAW' },
          { option: 'sysctl', value: { key: 'net.ipv4.ping_group_range', value: '0 2147483647' } },
        ]),
      ).data,
      {
        services: {
          a: {
            cap_add: ['SYS_ADMIN', 'CHOWN', 'NET_RAW'],
            sysctls: { 'kernel.msgmax': 65536, 'net.ipv4.ping_group_range': '0 2147483647' },
          },
        },
      },
    );
    const result = inline(text);
    assert.equal(option(result, 'link').edit!.replace([{ option: 'command', value: 'swarm' }]), undefined);
    assert.equal(option(result, 'link').edit!.replace([{ option: 'kernel-memory', value: '1g' }]), undefined);
    assert.deepEqual(edited(text, (r) => option(r, 'link').edit!.remove()).data, {
      services: { a: { cap_add: ['SYS_ADMIN', 'CHOWN'], sysctls: { 'kernel.msgmax': 65536 } } },
    });
  });

  test('replace a mount by the same mount without propagation: only the propagation goes', () => {
    const dropped = (text: string, nth = 0) =>
      edited(text, (r) => {
        const mount = option(r, 'mount', undefined, nth);
        const { propagation: _dropped, ...value } = mount.value as { propagation?: string; type: 'bind'; target: string };
        return mount.edit!.replace([{ option: 'mount', value }]);
      }).text;
    const service = (volumes: string) => `services:\n  a:\n    volumes:\n${volumes}    image: x\n`;
    assert.equal(dropped(service('      - /srv:/srv:ro,rshared,z\n')), service('      - /srv:/srv:ro,z\n'));
    assert.equal(dropped(service('      - "/srv:/srv:rslave"\n')), service('      - "/srv:/srv"\n'));
    assert.equal(
      dropped(service('      - data:/data\n      - ${SRC:-/srv}:/srv:shared,nocopy\n'), 1),
      service('      - data:/data\n      - ${SRC:-/srv}:/srv:nocopy\n'),
    );
    assert.equal(
      dropped(
        service(
          '      - type: bind\n        source: /k\n        target: /k\n        bind:\n          propagation: rshared\n          create_host_path: true\n',
        ),
      ),
      service('      - type: bind\n        source: /k\n        target: /k\n        bind:\n          create_host_path: true\n'),
    );
    assert.equal(
      dropped(service('      - type: bind\n        source: /k\n        target: /k\n        bind:\n          propagation: rshared\n')),
      service('      - type: bind\n        source: /k\n        target: /k\n'),
    );
    const fromVariable = inline(service('      - /srv:/srv:${PROPAGATION}\n'), { PROPAGATION: 'rshared' });
    const mount = option(fromVariable, 'mount');
    assert.equal(mount.edit!.replace([{ option: 'mount', value: { type: 'bind', source: '/srv', target: '/srv' } }]), undefined);
  });

  test('an option from another file is edited in that file', () => {
    const result = parseFixture(composeFrontEnd, 'compose/extends/compose.yaml');
    const inherited = result.requests.find((r) => r.name === 'api')!.options.find((o) => o.option === 'cap-add')!;
    assert.equal(inherited.file, fixture('compose/extends/base/common.yaml'));
    const base = readFileSync(inherited.file, 'utf8');
    assert.deepEqual(validYaml(applyEdits(base, inherited.edit!.remove()))[0], {
      services: { hardened: { network_mode: 'host', sysctls: { 'net.core.somaxconn': 1024 } } },
    });
  });
});

test('a 5,000-line compose file parses in linear time', () => {
  const lines = ['services:'];
  for (let i = 0; lines.length < 5000; i++) {
    lines.push(
      `  svc${i}:`,
      `    image: "registry.example.com/app-${i}:\${TAG:-1.0}"`,
      '    privileged: true',
      '    cap_add:',
      '      - NET_ADMIN',
      '    volumes:',
      '      - /dev/snd:/dev/snd:rshared',
      '      - data:/data',
      '    environment:',
      `      INDEX: "${i}"`,
    );
  }
  const text = `${lines.join('\n')}\n`;
  composeFrontEnd.parse({ path: '/bench/compose.yaml', text }, context()); // warm up the JIT
  const start = performance.now();
  const result = composeFrontEnd.parse({ path: '/bench/compose.yaml', text }, context());
  const ms = performance.now() - start;
  console.log(`5,000-line compose file (${text.split('\n').length - 1} lines, ${result.requests.length} services): ${ms.toFixed(1)} ms`);
  assert.equal(result.requests.length, 500);
  assert.equal(
    result.requests.every((r) => r.options.length === 4),
    true,
  );
  assert.deepEqual(result.problems, []);
  assert.ok(ms < 1000, `took ${ms} ms`);
});

describe('compose robustness', () => {
  const path = fixture('compose/options/compose.yaml');
  const text = readFileSync(path, 'utf8');
  const key = (o: RequestedOption) => `${o.option} ${JSON.stringify(o.value)}`;

  test("every option's remove() leaves valid YAML without that option and with every other one", () => {
    const before = inline(text, {}, path).requests.flatMap((r) => r.options);
    for (const removed of before) {
      const out = applyEdits(text, removed.edit!.remove());
      validYaml(out);
      const after = inline(out, {}, path)
        .requests.flatMap((r) => r.options)
        .map(key);
      const expected = before.filter((o) => o !== removed).map(key);
      assert.deepEqual(after, expected, `removing ${key(removed)}`);
    }
  });

  test('a file cut at any point never throws', () => {
    for (let cut = 0; cut < text.length; cut += 7) {
      const result = inline(text.slice(0, cut), {}, path);
      assert.ok(Array.isArray(result.requests) && Array.isArray(result.problems));
    }
  });
});
