/**
 * Compatibility with runc, services users run: nginx published with -p and fetched from the host,
 * redis through `docker exec redis-cli`, PostgreSQL 15 as the postgres user with its default
 * socket folder, a Python and a Node HTTP server reached by name from another container on a
 * user network, and a two-service docker-compose app. Each scenario runs under runc and vmrt on
 * one private dockerd and asserts that vmrt shows what runc shows.
 * Needs root, docker.io, docker-compose, debootstrap, QEMU, the guest and shim.
 */
import { describe, it } from 'node:test';
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { compatFile, DEBIAN as D, type Compat, type Runtime } from '../support/compat.js';
import { hostProgram } from '../support/host-program.js';
import { waitFor } from '../support/wait.js';

let c: Compat;
const endOfFile = compatFile((compat) => {
  c = compat;
});

/** `docker exec` until it exits 0 (a service is up once it answers), then its result; the last try's if it never does. */
async function execUntilOk(name: string, command: string[], timeoutMs = 90000): Promise<[number, string, string]> {
  let last: [number, string, string] = [-1, '', ''];
  await waitFor(
    `${command.join(' ')} in ${name}`,
    async () => {
      const r = await c.docker(['exec', name, ...command]);
      last = [r.status, r.stdout, r.stderr.replace(/\b[0-9a-f]{64}\b/g, '<id>')];
      if (/is not running/.test(r.stderr)) return false; // it will not come up: stop waiting
      return r.status === 0 ? true : undefined;
    },
    timeoutMs,
  ).catch(() => undefined);
  return last;
}

/** GET `url` from the host: status, the server's name and the body, or the error. */
async function fetchFromHost(url: string): Promise<unknown> {
  let last: unknown;
  await waitFor(
    url,
    async () => {
      try {
        const r = await fetch(url, { signal: AbortSignal.timeout(5000) });
        last = { status: r.status, server: r.headers.get('server'), body: await r.text() };
        return true;
      } catch (e) {
        last = { error: String((e as Error).cause ?? e) };
        return undefined;
      }
    },
    60000,
  ).catch(() => undefined);
  return last;
}

/**
 * Lines of a PostgreSQL log that say something went wrong, without their time stamps and PIDs.
 * Not the refusals of psql tries made while the server starts: the test's own wait for it (a
 * fast start under runc is sometimes tried while it recovers, one under vmrt rarely).
 */
const problems = (log: string) =>
  log
    .split('\n')
    .filter((l) => /\b(FATAL|ERROR|PANIC|WARNING):/.test(l) && !/FATAL: {2}the database system is starting up/.test(l))
    .map((l) => l.replace(/^.*?\b(FATAL|ERROR|PANIC|WARNING):/, '$1:'));

const POSTGRES = [
  '/usr/lib/postgresql/15/bin/postgres',
  '-D',
  '/var/lib/postgresql/15/main',
  '-c',
  'config_file=/etc/postgresql/15/main/postgresql.conf',
];

describe('services', { concurrency: 3 }, () => {
  it('nginx published with -p, fetched from the host; a worker per CPU', () =>
    c.same((runtime) =>
      c.withContainer(runtime, 'nginx', ['-p', '127.0.0.1::80', D, 'nginx', '-g', 'daemon off;'], async (name) => {
        const port = (await c.dockerOk(['port', name, '80/tcp'])).trim().split(':').pop();
        const page = await fetchFromHost(`http://127.0.0.1:${port}/`);
        const missing = await fetchFromHost(`http://127.0.0.1:${port}/missing`);
        const workers = await execUntilOk(name, ['sh', '-c', 'ps -C nginx -o user=,comm= | sort | uniq -c']);
        return { page, missing, workers };
      }),
    ));

  it('redis: redis-cli through docker exec', () =>
    c.same((runtime) =>
      c.withContainer(runtime, 'redis', [D, 'redis-server', '--save', '', '--appendonly', 'no'], async (name) => [
        await execUntilOk(name, ['redis-cli', 'ping']),
        await execUntilOk(name, ['redis-cli', 'set', 'compat', 'yes']),
        await execUntilOk(name, ['redis-cli', 'get', 'compat']),
        await execUntilOk(name, ['redis-cli', 'dbsize']),
      ]),
    ));

  it('PostgreSQL 15 as the postgres user, its socket in /var/run/postgresql; psql through docker exec', () =>
    c.same((runtime) =>
      c.withContainer(runtime, 'postgres', ['--user', 'postgres', D, ...POSTGRES], async (name) => {
        const select = await execUntilOk(name, ['psql', '-tAc', 'select 1']);
        const table = await c.docker([
          'exec',
          name,
          'psql',
          '-tAc',
          'create table t (n int); insert into t select generate_series(1, 1000); select count(*), sum(n) from t',
        ]);
        const socket = await c.docker([
          'exec',
          name,
          'sh',
          '-c',
          'ls -A /var/run/postgresql; stat -c "%F %U" /var/run/postgresql/.s.PGSQL.5432',
        ]);
        const logs = await c.docker(['logs', name]);
        return {
          select,
          table: [table.status, table.stdout, table.stderr],
          socket: [socket.status, socket.stdout, socket.stderr],
          problems: problems(logs.stdout + logs.stderr),
        };
      }),
    ));

  it('a Python and a Node HTTP server reached by name from another container on a user network', () =>
    c.same(async (runtime) => {
      const network = c.name('net', runtime);
      await c.dockerOk(['network', 'create', network]);
      const on = (alias: string) => ['--network', network, '--network-alias', alias];
      const py = await c.start(runtime, c.name('py', runtime), [
        ...on('py'),
        D,
        'python3',
        '-m',
        'http.server',
        '8000',
        '--directory',
        '/etc',
      ]);
      const node = await c.start(runtime, c.name('node', runtime), [
        ...on('node'),
        D,
        'node',
        '-e',
        "require('http').createServer((q, s) => s.end('node says ' + q.method + ' ' + q.url + '\\n')).listen(8080)",
      ]);
      try {
        const client = await c.run(runtime, [
          ...on('client'),
          D,
          'sh',
          '-c',
          [
            'get() { for i in $(seq 150); do curl -sf "$1" && return 0; sleep 0.4; done; echo "no answer from $1"; return 1; }',
            'get http://py:8000/debian_version && get http://node:8080/hello',
            'getent hosts py node >/dev/null && echo both names resolve',
            'curl -s -o /dev/null -w "%{http_code}\\n" http://py:8000/no-such-file',
          ].join('\n'),
        ]);
        return client;
      } finally {
        await c.docker(['rm', '-f', py, node]);
        await c.docker(['network', 'rm', network]);
      }
    }));
});

/** Runs docker-compose (Debian's v1) against the test's dockerd. */
function compose(dir: string, args: string[]): Promise<[number, string, string]> {
  hostProgram('docker-compose', 'docker-compose');
  return new Promise((resolve) => {
    const p = spawn('docker-compose', args, {
      cwd: dir,
      env: { ...process.env, DOCKER_HOST: `unix://${c.d.socket}`, DOCKER_CONFIG: join(c.d.dir, 'cli'), COMPOSE_INTERACTIVE_NO_CLI: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (b: Buffer) => (stdout += b));
    p.stderr.on('data', (b: Buffer) => (stderr += b));
    const timer = setTimeout(() => p.kill('SIGKILL'), 300000);
    p.on('close', (code) => {
      clearTimeout(timer);
      resolve([code ?? 1, stdout, stderr]);
    });
  });
}

/** A web service and a client that fetches from it by its service name, each with its own runtime. */
async function composeApp(web: Runtime, client: Runtime): Promise<unknown> {
  const project = c.name(`compose-${web}-${client}`, web).replace(/[^a-z0-9]/g, '');
  const dir = join(c.d.dir, project);
  mkdirSync(dir);
  writeFileSync(
    join(dir, 'docker-compose.yml'),
    [
      'version: "2.4"',
      'services:',
      '  web:',
      `    image: ${D}`,
      `    runtime: ${web}`,
      '    command: python3 -m http.server 8000 --directory /etc',
      '  client:',
      `    image: ${D}`,
      `    runtime: ${client}`,
      '    depends_on: [web]',
      "    command: sh -c 'for i in $$(seq 150); do curl -sf http://web:8000/debian_version && exit 0; sleep 0.4; done; exit 1'",
      '',
    ].join('\n'),
  );
  try {
    const up = await compose(dir, ['-p', project, 'up', '--exit-code-from', 'client']);
    const logs = await compose(dir, ['-p', project, 'logs', '--no-color', 'client']);
    const ps = await compose(dir, ['-p', project, 'ps', '--services']);
    return {
      up: up[0],
      client: logs[1]
        .split('\n')
        .filter((l) => l.includes('|'))
        .map((l) => l.split('|').slice(1).join('|').trim()),
      services: ps[1],
    };
  } finally {
    await compose(dir, ['-p', project, 'down', '-t', '1']);
  }
}

describe('docker-compose', { concurrency: 2 }, () => {
  it('a two-service app, both services under the runtime', () => c.same((runtime) => composeApp(runtime, runtime)));
  it('a two-service app, the web service under the runtime, its client under runc', () => c.same((runtime) => composeApp(runtime, 'runc')));
});

endOfFile();
