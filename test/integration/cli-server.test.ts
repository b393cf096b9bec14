/**
 * The CLI server (README: The CLI server) through the launcher Docker runs: the short calls of a
 * root are answered by one loaded CLI, with the output and exit status Node's own run gives;
 * what must run in the caller, or comes from another environment or other namespaces, runs in
 * Node as before; the server ends when idle, when its socket goes, and holds none of a caller's
 * pipes; a create it serves leaves its init shim a child of the caller. Needs the built launcher,
 * shim and guest (scripts/setup.sh); one test boots a VM.
 */
import { after, afterEach, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { makeBusyboxBundle, REPO } from '../support/images.js';
import { cliServers, endCliServer, leftovers } from '../support/leftovers.js';
import { processesMentioning } from '../../runtime/src/proc.js';
import { CLI_SOCKET_NAME } from '../../runtime/src/commands/serve.js';
import { waitFor } from '../support/wait.js';

const VMRT = join(REPO, 'runtime', 'bin', 'vmrt');
let work: string;
let root: string;
let debugLog: string;

interface Result {
  status: number | null;
  stdout: string;
  stderr: string;
}

const env = (extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({
  ...process.env,
  VMRT_DEBUG_LOG: debugLog,
  VMRT_CLI_SERVER_IDLE_MS: '3000',
  ...extra,
});

/** One call through the launcher, its stdout and stderr on pipes (a server holding them would hang it). */
function call(args: string[], extraEnv: NodeJS.ProcessEnv = {}, cwd = work): Result {
  const r = spawnSync(VMRT, ['--root', root, ...args], { encoding: 'utf8', env: env(extraEnv), cwd, timeout: 30000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function callAsync(args: string[]): Promise<Result> {
  return new Promise((resolve) => {
    const child = spawn(VMRT, ['--root', root, ...args], { env: env(), cwd: work });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

const socket = () => join(root, CLI_SOCKET_NAME);
const servers = () => cliServers(root);

async function theServer(): Promise<number> {
  return waitFor('the CLI server', () => {
    const pids = servers();
    return pids.length === 1 && existsSync(socket()) ? pids[0] : undefined;
  });
}

/** The pid that ran each call of `command`, oldest first (the runtime's debug log names it). */
function runners(command: string): number[] {
  const text = existsSync(debugLog) ? readFileSync(debugLog, 'utf8') : '';
  return [...text.matchAll(new RegExp(`msg="\\[(\\d+)\\] vmrt --root \\S+ ${command}\\b`, 'g'))].map((m) => Number(m[1]));
}
const lastRunner = (command: string) => runners(command).at(-1);

before(() => {
  for (const file of [VMRT, join(REPO, 'runtime', 'build', 'vmrt-shim')])
    assert.ok(existsSync(file), `${file} is missing: run scripts/setup.sh`);
  work = mkdtempSync('/tmp/vmrt-cli-server-');
  root = join(work, 'root');
  mkdirSync(root);
  debugLog = join(work, 'debug.log');
});

afterEach(() => endCliServer(root));

after(() => rmSync(work, { recursive: true, force: true }));

const MISSING = 'vmrt: container "nope" does not exist\n';

test("the first call starts the root's server; the next are answered by it, with Node's own output and exit status", async () => {
  const first = call(['state', 'nope']);
  assert.deepEqual([first.status, first.stderr], [1, MISSING]);
  const server = await theServer();
  assert.notEqual(lastRunner('state'), server, 'the first call ran in Node: no server was up');

  const second = call(['state', 'nope']);
  assert.deepEqual([second.status, second.stdout, second.stderr], [1, '', MISSING]);
  assert.equal(lastRunner('state'), server);
  const served = call(['features']);
  assert.equal(lastRunner('features'), server);
  const inNode = call(['features'], { VMRT_CLI_SERVER: 'off' });
  assert.notEqual(lastRunner('features'), server);
  assert.deepEqual([served.status, served.stdout, served.stderr], [inNode.status, inNode.stdout, inNode.stderr]);

  // It holds none of its first caller's fds (containerd waits for EOF on the pipes it gives).
  for (const fd of [0, 1, 2]) assert.equal(readlinkSync(`/proc/${server}/fd/${fd}`), '/dev/null');
  assert.equal(readlinkSync(`/proc/${server}/cwd`), '/');
});

test('what must run in the caller, or comes with another environment, runs in Node', async () => {
  call(['list']);
  const server = await theServer();
  // spec writes config.json into the caller's folder.
  const folder = join(work, 'spec-here');
  mkdirSync(folder);
  const spec = call(['spec'], {}, folder);
  assert.equal(spec.status, 0, spec.stderr);
  assert.ok(existsSync(join(folder, 'config.json')));
  assert.notEqual(lastRunner('spec'), server);

  const other = call(['state', 'nope'], { VMRT_SOME_SETTING: 'x' });
  assert.deepEqual([other.status, other.stderr], [1, MISSING]);
  assert.notEqual(lastRunner('state'), server);

  // Files a create writes take the caller's umask.
  const umask = spawnSync('sh', ['-c', 'umask 077 && exec "$@"', 'sh', VMRT, '--root', root, 'state', 'nope'], {
    encoding: 'utf8',
    env: env(),
  });
  assert.deepEqual([umask.status, umask.stderr], [1, MISSING]);
  assert.notEqual(lastRunner('state'), server);
  assert.deepEqual(servers(), [server], 'a declined call leaves the server serving');
});

test('calls at once each get their own output', async () => {
  call(['list']);
  const server = await theServer();
  const expectedFeatures = call(['features'], { VMRT_CLI_SERVER: 'off' }).stdout;
  const results = await Promise.all(Array.from({ length: 8 }, (_, i) => callAsync(i % 2 ? ['features'] : ['state', 'nope'])));
  results.forEach((r, i) => {
    if (i % 2) assert.deepEqual([r.status, r.stdout, r.stderr], [0, expectedFeatures, '']);
    else assert.deepEqual([r.status, r.stdout, r.stderr], [1, '', MISSING]);
  });
  assert.ok(runners('features').filter((pid) => pid === server).length >= 4);
});

test('bad bytes on its socket are refused; the server goes on', async () => {
  call(['list']);
  const server = await theServer();
  for (const garbage of [Buffer.from('\xff\xff\xff\xff not a frame'), Buffer.from([0, 0, 0, 8, 1, 2, 0, 0, 0, 0, 0x7b, 0x7d])]) {
    await new Promise<void>((resolve) => {
      const conn = createConnection(socket());
      conn.on('error', () => resolve());
      conn.on('close', () => resolve());
      conn.on('connect', () => conn.write(garbage));
      conn.resume(); // its answer read, so that its end arrives
    });
  }
  const r = call(['state', 'nope']);
  assert.deepEqual([r.status, r.stderr], [1, MISSING]);
  assert.equal(lastRunner('state'), server);
});

test('a server started from other namespaces ends at the next call from here, and the one after starts it here', async () => {
  const inNewNetns = spawnSync('unshare', ['--net', VMRT, '--root', root, 'state', 'nope'], {
    encoding: 'utf8',
    env: env(),
    timeout: 30000,
  });
  assert.equal(inNewNetns.stderr, MISSING);
  const elsewhere = await theServer();
  const ownNet = readlinkSync('/proc/self/ns/net');
  assert.notEqual(readlinkSync(`/proc/${elsewhere}/ns/net`), ownNet);

  const here = call(['state', 'nope']);
  assert.deepEqual([here.status, here.stderr], [1, MISSING]);
  assert.notEqual(lastRunner('state'), elsewhere);
  await waitFor('the server of the other netns to end', () => (servers().includes(elsewhere) ? undefined : true));

  call(['state', 'nope']);
  const replaced = await theServer();
  assert.equal(readlinkSync(`/proc/${replaced}/ns/net`), ownNet);
  call(['state', 'nope']);
  assert.equal(lastRunner('state'), replaced);
});

test('it ends when idle and when its socket is removed; VMRT_CLI_SERVER=off starts none', async () => {
  call(['list']);
  const idle = await theServer();
  await waitFor('the idle server to end', () => (servers().includes(idle) ? undefined : true), 15000);
  assert.ok(!existsSync(socket()), 'an ended server removes its socket');

  call(['list']);
  const removed = await theServer();
  rmSync(socket());
  await waitFor('the server whose socket went to end', () => (servers().includes(removed) ? undefined : true), 10000);

  // A file that is no socket at its name: the call runs in Node, and the server it starts takes the name.
  writeFileSync(socket(), 'not a socket');
  const r = call(['state', 'nope']);
  assert.deepEqual([r.status, r.stderr], [1, MISSING]);
  await theServer();
  await endCliServer(root);

  const off = call(['state', 'nope'], { VMRT_CLI_SERVER: 'off' });
  assert.deepEqual([off.status, off.stderr], [1, MISSING]);
  assert.deepEqual(servers(), []);
  assert.ok(!existsSync(socket()));
});

test('a server running another CLI than the launcher now picks (the tree rebuilt) ends at the next call', async () => {
  call(['list']);
  const server = await theServer();
  const bundle = join(REPO, 'runtime', 'build', 'cli', 'main.js');
  const tree = join(REPO, 'out', 'runtime', 'src', 'main.js');
  const running = readFileSync(`/proc/${server}/cmdline`, 'utf8').split('\0')[1];
  const other = running === bundle ? tree : bundle;
  const shim = join(REPO, 'runtime', 'build', 'vmrt-shim');
  const r = spawnSync(shim, ['cli', process.execPath, other, '--root', root, 'state', 'nope'], {
    encoding: 'utf8',
    env: env(),
    timeout: 30000,
  });
  assert.deepEqual([r.status, r.stderr], [1, MISSING]);
  assert.notEqual(lastRunner('state'), server);
  await waitFor('the server of the other CLI to end', () => (servers().includes(server) ? undefined : true), 10000);
});

test("a create and a detached exec are served too: their shims are the caller's children, on the caller's stdio, the caller's limits in the container; a relative bundle and an exec that waits run in Node", async () => {
  // Without config.json's own open-files limit, the container has its caller's (as under runc).
  const bundle = makeBusyboxBundle(join(work, 'bundle'), ['sh', '-c', 'echo hello from the guest; ulimit -n; exec sleep 600'], (config) => {
    delete config.process!.rlimits;
  });
  call(['list']);
  const server = await theServer();
  const pidFile = join(work, 'served.pid');
  // The shim keeps the caller's stdout for the container's life: a file, not a pipe to wait on.
  const output = join(work, 'served.out');
  const fd = openSync(output, 'w');
  try {
    // The caller's open-files limit reaches the container, as runc's own does.
    const create = spawnSync(
      'prlimit',
      ['--nofile=4321:4321', VMRT, '--root', root, 'create', '--bundle', bundle, '--pid-file', pidFile, 'served'],
      {
        env: env(),
        stdio: ['ignore', fd, fd],
        timeout: 180000,
      },
    );
    assert.equal(create.status, 0, readFileSync(output, 'utf8'));
    assert.equal(lastRunner('create'), server);
    const shim = Number(readFileSync(pidFile, 'utf8'));
    const parent = Number(/^PPid:\s+(\d+)$/m.exec(readFileSync(`/proc/${shim}/status`, 'utf8'))![1]);
    assert.notEqual(parent, server, "the shim is the caller's child, not the server's");
    assert.equal(readlinkSync(`/proc/${shim}/fd/1`), output);

    assert.equal(call(['start', 'served']).status, 0);
    await waitFor(
      'the container to say hello',
      () => (readFileSync(output, 'utf8') === 'hello from the guest\n4321\n' ? true : undefined),
      60000,
    );

    // containerd's exec: detached, its pid in a file; the exec shim is the caller's child too.
    const processFile = join(work, 'process.json');
    writeFileSync(processFile, JSON.stringify({ args: ['sh', '-c', 'echo exec says hi'], cwd: '/', env: ['PATH=/bin'] }));
    const execPidFile = join(work, 'exec.pid');
    const execOutput = join(work, 'exec.out');
    const execFd = openSync(execOutput, 'w');
    try {
      const exec = spawnSync(VMRT, ['--root', root, 'exec', '--detach', '--process', processFile, '--pid-file', execPidFile, 'served'], {
        env: env(),
        stdio: ['ignore', execFd, execFd],
        timeout: 60000,
      });
      assert.equal(exec.status, 0, readFileSync(execOutput, 'utf8'));
    } finally {
      closeSync(execFd);
    }
    assert.equal(lastRunner('exec'), server);
    assert.ok(Number(readFileSync(execPidFile, 'utf8')) > 0);
    await waitFor('the exec to say hi', () => (readFileSync(execOutput, 'utf8') === 'exec says hi\n' ? true : undefined), 60000);
    // Without --detach it waits for its process and passes on the caller's signals: in Node.
    const waited = call(['exec', 'served', 'sh', '-c', 'echo waited']);
    assert.deepEqual([waited.status, waited.stdout], [0, 'waited\n']);
    assert.notEqual(lastRunner('exec'), server);

    assert.equal(call(['kill', 'served', 'KILL']).status, 0);
    await waitFor(
      'the container to end',
      () => (JSON.parse(call(['state', 'served']).stdout).status === 'stopped' ? true : undefined),
      60000,
    );
    assert.equal(call(['delete', 'served']).status, 0);

    const relative = spawnSync(VMRT, ['--root', root, 'create', '--bundle', 'bundle', 'in-node'], {
      env: env(),
      cwd: work,
      stdio: ['ignore', fd, fd],
      timeout: 180000,
    });
    assert.equal(relative.status, 0, readFileSync(output, 'utf8'));
    assert.notEqual(lastRunner('create'), server);
  } finally {
    closeSync(fd);
    for (const id of ['served', 'in-node']) call(['delete', '--force', id]);
  }
});

test('a caller killed during a create the server runs: the server undoes the create, nothing is left', async () => {
  const bundle = makeBusyboxBundle(join(work, 'killed-bundle'), ['true']);
  call(['list']);
  await theServer();
  const caller = spawn(VMRT, ['--root', root, 'create', '--bundle', bundle, 'killed'], { env: env(), stdio: 'ignore' });
  try {
    // Killed once the caller started the shim: the server hears of it only through the closed call.
    await waitFor('the shim of the create', () => (processesMentioning(' --id killed ').length > 0 ? true : undefined));
    caller.kill('SIGKILL');
    await waitFor('the create to be undone', () => (leftovers(root, 'killed').length === 0 ? true : undefined), 120000);
    assert.deepEqual([call(['state', 'killed']).stderr], ['vmrt: container "killed" does not exist\n']);
  } finally {
    caller.kill('SIGKILL');
    call(['delete', '--force', 'killed']);
  }
});
