/**
 * Compatibility with runc, the container's life cycle: pause and unpause, restart, stop of a
 * process that traps SIGTERM, restart policies, `kill -s`, healthchecks, `wait`, `logs -f`,
 * `attach`, `-it`, `exec` with -u -w -e -i. Each scenario runs under runc and vmrt on one
 * private dockerd and asserts that vmrt shows what runc shows.
 * Needs root, docker.io, debootstrap, QEMU, the guest and shim.
 */
import { describe, it } from 'node:test';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { compatFile, DEBIAN as D, type Compat, type Runtime } from '../support/compat.js';
import { sleep, waitFor } from '../support/wait.js';

let c: Compat;
const endOfFile = compatFile((compat) => {
  c = compat;
});

/** What a user sees of a docker command: status, output, error; the container's name and ids made alike. */
const seen = (name: string, r: { status: number | null; stdout: string; stderr: string }): string =>
  `${r.status} ${r.stdout.trim()} ${r.stderr.trim()}`.replace(new RegExp(name, 'g'), '<name>').replace(/\b[0-9a-f]{64}\b/g, '<id>');

async function step(name: string, args: string[], input?: string): Promise<string> {
  return seen(name, await c.docker(args, { input }));
}

/**
 * `docker attach` typed into as a user types: a line, stdin left open. (Closing stdin, as a file
 * would, makes dockerd end the attach's output at once, before the container can answer.)
 */
function attachTyping(name: string, line: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const attach = c.d.spawnDocker(['attach', name]);
    let stdout = '';
    let stderr = '';
    attach.stdout?.on('data', (b: Buffer) => (stdout += b));
    attach.stderr?.on('data', (b: Buffer) => (stderr += b));
    const timer = setTimeout(() => attach.kill('SIGKILL'), 60000);
    attach.on('error', reject);
    attach.on('close', (status) => {
      clearTimeout(timer);
      resolve(seen(name, { status, stdout, stderr }));
    });
    attach.stdin?.write(line);
  });
}

const inspect = async (name: string, format: string) => (await c.dockerOk(['inspect', '--format', format, name])).trim();

/** Waits until the container's logs contain `text` (a process is ready once it said so). */
const logged = (name: string, text: string, timeoutMs = 60000) =>
  waitFor(
    `"${text}" in the logs of ${name}`,
    async () => ((await c.docker(['logs', name])).stdout.includes(text) ? true : undefined),
    timeoutMs,
  );

/** Runs `docker <args>` with a terminal of 24x80 (script(1) gives it a pty); returns its output without CRs. */
function underPty(args: string): Promise<string> {
  return new Promise((resolve) => {
    const p = spawn('script', ['-qec', `stty rows 24 cols 80; docker ${args}`, '/dev/null'], {
      env: { ...process.env, DOCKER_HOST: `unix://${c.d.socket}`, DOCKER_CONFIG: join(c.d.dir, 'cli') },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let out = '';
    p.stdout.on('data', (b: Buffer) => (out += b));
    p.stderr.on('data', (b: Buffer) => (out += b));
    p.on('close', (code) => resolve(`${code} ${out.replace(/\r|\0|\^@/g, '')}`));
    p.stdin.on('error', () => undefined);
    p.stdin.end();
  });
}

const TRAPS = (signal: string) => `trap "echo got ${signal}; exit 3" ${signal}; echo ready; while :; do sleep 0.1; done`;

describe('life cycle', { concurrency: 3 }, () => {
  it('pause and unpause: paused, exec refused while paused, running on afterwards', () =>
    c.same((runtime) =>
      c.withContainer(
        runtime,
        'pause',
        [D, 'sh', '-c', 'i=0; while :; do i=$((i+1)); echo $i > /tmp/n; sleep 0.05; done'],
        async (name) => {
          const steps = [await step(name, ['pause', name]), await inspect(name, '{{.State.Status}} {{.State.Paused}}')];
          steps.push(await step(name, ['exec', name, 'true']));
          await sleep(1000);
          steps.push(await step(name, ['unpause', name]), await inspect(name, '{{.State.Status}} {{.State.Paused}}'));
          // Counting again within 10 s: a resumed VM first catches up on its timers, so one sample
          // a second later is not enough on a loaded host.
          const count = async () => Number((await c.dockerOk(['exec', name, 'cat', '/tmp/n'])).trim());
          const n1 = await count();
          let counting = false;
          for (const deadline = Date.now() + 10000; !counting && Date.now() < deadline; await sleep(250)) counting = (await count()) > n1;
          return { steps, counting };
        },
      ),
    ));

  it('restart: a new process, the same writable layer, RestartCount unchanged', () =>
    c.same((runtime) =>
      c.withContainer(
        runtime,
        'restart',
        [D, 'sh', '-c', 'echo start >> /var/tmp/starts; echo started; exec sleep infinity'],
        async (name) => {
          await logged(name, 'started');
          const steps = [await step(name, ['restart', '-t', '1', name])];
          await waitFor(
            'two starts',
            async () => ((await c.docker(['exec', name, 'cat', '/var/tmp/starts'])).stdout === 'start\nstart\n' ? true : undefined),
            60000,
          ).catch(() => undefined);
          steps.push(
            await step(name, ['exec', name, 'cat', '/var/tmp/starts']),
            await inspect(name, '{{.State.Status}} {{.RestartCount}}'),
            await step(name, ['logs', name]),
          );
          return steps;
        },
      ),
    ));

  it('stop of a process that traps SIGTERM returns promptly with its exit status', () =>
    c.same((runtime) =>
      c.withContainer(runtime, 'stop', [D, 'sh', '-c', TRAPS('TERM')], async (name) => {
        await logged(name, 'ready');
        const started = Date.now();
        const stop = await step(name, ['stop', '-t', '20', name]);
        const seconds = (Date.now() - started) / 1000;
        return { stop, prompt: seconds < 8 || `${seconds} s`, state: await c.state(name), logs: await step(name, ['logs', name]) };
      }),
    ));

  it('stop of a process that ignores SIGTERM: killed after -t, 137', () =>
    c.same((runtime) =>
      c.withContainer(runtime, 'stop-kill', [D, 'sh', '-c', 'trap "" TERM; echo ready; while :; do sleep 0.1; done'], async (name) => {
        await logged(name, 'ready');
        const started = Date.now();
        const stop = await step(name, ['stop', '-t', '2', name]);
        const seconds = (Date.now() - started) / 1000;
        return { stop, afterTimeout: (seconds >= 2 && seconds < 10) || `${seconds} s`, state: await c.state(name) };
      }),
    ));

  it('restart policy on-failure:2 restarts twice, then leaves it exited', () =>
    c.same(async (runtime) => {
      const name = await c.start(runtime, c.name('on-failure', runtime), ['--restart', 'on-failure:2', D, 'sh', '-c', 'echo run; exit 3']);
      try {
        await waitFor(
          'two restarts and the last exit',
          async () => ((await inspect(name, '{{.State.Status}} {{.RestartCount}}')) === 'exited 2' ? true : undefined),
          120000,
        ).catch(() => undefined);
        await sleep(1500); // no third restart comes
        return [await inspect(name, '{{.State.Status}} {{.State.ExitCode}} {{.RestartCount}}'), await step(name, ['logs', name])];
      } finally {
        await c.docker(['rm', '-f', name]);
      }
    }));

  it('restart policy always: a container that exited 0 comes back', () =>
    c.same(async (runtime) => {
      const name = await c.start(runtime, c.name('always', runtime), ['--restart', 'always', D, 'sh', '-c', 'echo run; sleep 1; exit 0']);
      try {
        await waitFor('a restart', async () => (Number(await inspect(name, '{{.RestartCount}}')) >= 1 ? true : undefined), 120000).catch(
          () => undefined,
        );
        return (await inspect(name, '{{.RestartCount}}')) !== '0';
      } finally {
        await c.docker(['rm', '-f', name]);
      }
    }));

  it('kill -s USR1 reaches the trap; kill (KILL) ends it with 137', () =>
    c.same((runtime) =>
      c.withContainer(
        runtime,
        'kill',
        [D, 'sh', '-c', 'trap "echo got USR1" USR1; echo ready; while :; do sleep 0.1; done'],
        async (name) => {
          await logged(name, 'ready');
          const steps = [await step(name, ['kill', '-s', 'USR1', name])];
          await logged(name, 'got USR1', 20000).catch(() => undefined);
          steps.push(await step(name, ['logs', name]), await inspect(name, '{{.State.Status}}'));
          steps.push(await step(name, ['kill', name]), await step(name, ['wait', name]));
          steps.push(await inspect(name, '{{.State.Status}} {{.State.ExitCode}} {{.State.OOMKilled}}'));
          return steps;
        },
      ),
    ));

  it('a healthcheck reaches healthy', () =>
    c.same((runtime) =>
      c.withContainer(
        runtime,
        'healthy',
        [
          '--health-cmd',
          'test -f /tmp/ready && echo fine',
          '--health-interval',
          '1s',
          '--health-retries',
          '30',
          D,
          'sh',
          '-c',
          'sleep 2; touch /tmp/ready; exec sleep infinity',
        ],
        async (name) => {
          await waitFor(
            'healthy',
            async () => ((await inspect(name, '{{.State.Health.Status}}')) === 'healthy' ? true : undefined),
            90000,
          ).catch(() => undefined);
          return [
            await inspect(name, '{{.State.Health.Status}} {{.State.Health.FailingStreak}}'),
            await inspect(name, '{{(index .State.Health.Log 0).ExitCode}}'),
          ];
        },
      ),
    ));

  it('a failing healthcheck reaches unhealthy, with its output', () =>
    c.same((runtime) =>
      c.withContainer(
        runtime,
        'unhealthy',
        ['--health-cmd', 'echo not yet; exit 1', '--health-interval', '1s', '--health-retries', '2', D, 'sleep', 'infinity'],
        async (name) => {
          await waitFor(
            'unhealthy',
            async () => ((await inspect(name, '{{.State.Health.Status}}')) === 'unhealthy' ? true : undefined),
            90000,
          ).catch(() => undefined);
          return [
            await inspect(name, '{{.State.Health.Status}}'),
            await inspect(name, '{{json (index .State.Health.Log 0).Output}} {{(index .State.Health.Log 0).ExitCode}}'),
          ];
        },
      ),
    ));

  it('wait returns the exit status', () =>
    c.same(async (runtime) => {
      const name = await c.start(runtime, c.name('wait', runtime), [D, 'sh', '-c', 'sleep 1; exit 7']);
      try {
        return [await step(name, ['wait', name]), await c.state(name)];
      } finally {
        await c.docker(['rm', '-f', name]);
      }
    }));

  it('logs -f follows stdout and stderr until the container exits', () =>
    c.same(async (runtime) => {
      const name = await c.start(runtime, c.name('logs', runtime), [
        D,
        'sh',
        '-c',
        'for i in 1 2 3; do echo $i; sleep 0.5; done; echo err >&2',
      ]);
      try {
        const r = await c.docker(['logs', '-f', name]);
        return [r.status, r.stdout, r.stderr];
      } finally {
        await c.docker(['rm', '-f', name]);
      }
    }));

  it('attach to a container started with -i: stdin in, output out, its exit status', () =>
    c.same(async (runtime) => {
      const name = await c.start(runtime, c.name('attach', runtime), [
        '-i',
        D,
        'sh',
        '-c',
        'echo ready; read line; echo "got $line"; exit 4',
      ]);
      try {
        await logged(name, 'ready');
        return [await attachTyping(name, 'hello\n'), await c.state(name)];
      } finally {
        await c.docker(['rm', '-f', name]);
      }
    }));

  it('docker run -it: a terminal of the size of the user’s', () =>
    c.same(async (runtime: Runtime) =>
      underPty(`run --rm -it --runtime ${runtime} ${D} sh -c 'tty; sleep 1; stty size; test -t 0 && echo stdin is a tty; exit 5'`),
    ));

  it('exec -u -w -e, exec -i with stdin, exec exit status, exec -d', () =>
    c.same((runtime) =>
      c.withContainer(runtime, 'exec', [D, 'sleep', 'infinity'], async (name) => [
        await step(name, [
          'exec',
          '-u',
          'nobody',
          '-w',
          '/tmp',
          '-e',
          'X=1',
          name,
          'sh',
          '-c',
          'id; pwd; echo X=$X; touch f && stat -c "%U %a" f',
        ]),
        await step(name, ['exec', '-u', '1000:1000', '-w', '/srv/new', name, 'sh', '-c', 'id; pwd']),
        await step(name, ['exec', '-i', name, 'sh', '-c', 'tr a-z A-Z'], 'stdin goes in\n'),
        await step(name, ['exec', name, 'sh', '-c', 'echo out; echo err >&2; exit 9']),
        await step(name, ['exec', name, 'no-such-program']),
        await step(name, ['exec', '-d', name, 'sh', '-c', 'echo detached > /tmp/d']),
        (await sleep(1500), await step(name, ['exec', name, 'cat', '/tmp/d'])),
      ]),
    ));
});

endOfFile();
