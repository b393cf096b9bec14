/**
 * Compatibility with runc, `docker run` itself: the same command under `--runtime runc` and
 * `--runtime vmrt` on one private dockerd, with the Debian image (python3, node, nginx, redis,
 * PostgreSQL): basics, memory with and without --memory, CPUs, `docker update`. Each scenario
 * asserts that vmrt shows what runc shows; the by-design differences are in KNOWN_DIFFERENCES.
 * Needs root, docker.io, debootstrap, QEMU, the guest and shim.
 */
import { describe, it, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { compatFile, DEBIAN as D, RUNTIMES, type Compat, type Outcome, type Runtime } from '../support/compat.js';
import { KNOWN_DIFFERENCES } from './known-differences.js';

let c: Compat;
const endOfFile = compatFile((compat) => {
  c = compat;
});

const HOST_CPUS = cpus().length;
/** Allocates `mib` MiB in one piece (python3: MemoryError if the allocation fails, killed if the memory is not there). */
const alloc = (mib: number) => ['python3', '-c', `b = b'x' * (${mib} << 20); print(len(b) >> 20)`];
/** Allocates `mib` MiB in pieces of 1 MiB. */
const allocSmall = (mib: number) => ['python3', '-c', `l = [b'x' * (1 << 20) for _ in range(${mib})]; print(len(l))`];
/**
 * The container's memory and CPU limits as "memory=<bytes|max> cpu=<quota|max>/<period>", read
 * from cgroup v2 (vmrt's guest) or v1 (this host's runc containers): the layouts differ by design.
 */
const LIMITS = [
  'sh',
  '-c',
  [
    'if [ -f /sys/fs/cgroup/memory.max ]; then',
    '  m=$(cat /sys/fs/cgroup/memory.max); c=$(tr " " / </sys/fs/cgroup/cpu.max)',
    'else',
    '  m=$(cat /sys/fs/cgroup/memory/memory.limit_in_bytes); [ "$m" -ge 9223372036854771712 ] && m=max',
    '  q=$(cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us); [ "$q" = -1 ] && q=max; c=$q/$(cat /sys/fs/cgroup/cpu/cpu.cfs_period_us)',
    'fi',
    'echo memory=$m cpu=$c',
  ].join('\n'),
];
/**
 * The container's processes as [pid 1 or "n", parent pid 1/0 or "n", name]: runc's own set-up
 * takes PIDs 2-6 of the namespace, so other PIDs are not compared; neither are ps's column
 * widths (they follow kernel.pid_max, a scenario of its own).
 */
const PROCESSES = [
  'python3',
  '-c',
  "import os; s = [open(f'/proc/{p}/stat').read().split() for p in os.listdir('/proc') if p.isdigit()]; print(sorted((x[0] if x[0] == '1' else 'n', x[3] if x[3] in '01' else 'n', x[1]) for x in s))",
];
const NPROC = ['sh', '-c', 'echo nproc=$(nproc) all=$(nproc --all) cpuinfo=$(grep -c ^processor /proc/cpuinfo)'];

type Scenario = [what: string, args: string[] | (() => string[]), normalise?: (o: Outcome) => unknown];

/** Runs each scenario under both runtimes, three at a time (a VM boots in seconds under TCG). */
function scenarios(title: string, table: Scenario[]): void {
  describe(title, { concurrency: 3 }, () => {
    for (const [what, args, normalise] of table) {
      it(what, () => c.sameUnderBoth(typeof args === 'function' ? args() : args, normalise));
    }
  });
}

scenarios('basics', [
  ['exit status, stdout and stderr apart', [D, 'sh', '-c', 'echo out; echo err >&2; exit 42']],
  ['--user uid:gid', ['--user', '1000:1000', D, 'sh', '-c', 'id; echo $HOME; touch /tmp/f && stat -c "%u:%g %a" /tmp/f']],
  ['--user by name', ['--user', 'nobody', D, 'sh', '-c', 'id; echo $HOME; cat /root/x 2>&1; echo $?']],
  ['-w, an existing and a new folder', ['-w', '/srv/app/new', D, 'sh', '-c', 'pwd; stat -c "%U %a" .; cd /var/tmp && pwd']],
  ['-e', ['-e', 'A=1', '-e', 'B=two words', '-e', 'PATH=/usr/bin:/bin', D, 'sh', '-c', 'echo "$A|$B|$PATH|$HOME|$TERM"']],
  [
    '--env-file',
    () => {
      const file = join(c.d.dir, 'compat.env');
      writeFileSync(file, '# a comment\nFROM_FILE=yes\nSPACED=a b c\nEMPTY=\n');
      return ['--env-file', file, D, 'sh', '-c', 'echo "$FROM_FILE|$SPACED|${EMPTY-unset}"'];
    },
  ],
  ['the environment a process gets', [D, 'sh', '-c', 'env | grep -v ^HOSTNAME= | sort']],
  ['PID 1 is the command, nothing else runs', [D, ...PROCESSES]],
  ['--init: docker-init is PID 1, the command its child', ['--init', D, ...PROCESSES]],
  ["kernel.pid_max (how many processes fit; ps's column widths)", [D, 'cat', '/proc/sys/kernel/pid_max']],
  ['--hostname', ['--hostname', 'compat-host', D, 'sh', '-c', 'hostname; cat /etc/hostname; grep -c compat-host /etc/hosts']],
  ['--read-only', ['--read-only', D, 'sh', '-c', 'touch /x; echo $?; touch /tmp/x; echo $?; touch /dev/shm/x; echo $?']],
  ['--read-only with --tmpfs /tmp', ['--read-only', '--tmpfs', '/tmp', D, 'sh', '-c', 'touch /tmp/x && stat -c "%a %U" /tmp /tmp/x']],
  // /dev/core follows the kernel's /proc/kcore: a known difference (known-differences.ts).
  ['what is in /, /run, /dev and /dev/shm', [D, 'sh', '-c', 'ls -A / /run /dev/shm; ls -A /dev | grep -vx core']],
  ['/etc/resolv.conf on the default bridge', [D, 'cat', '/etc/resolv.conf']],
  [
    'IPv6 on the default bridge (off: Docker disables it in the netns)',
    [D, 'python3', '-c', "import socket; s = socket.socket(socket.AF_INET6); s.bind(('::1', 0)); print('bound')"],
  ],
  ['default ulimits', [D, 'sh', '-c', 'ulimit -n; ulimit -Hn; ulimit -u; ulimit -s; ulimit -c']],
  ['--ulimit nofile', ['--ulimit', 'nofile=256:512', D, 'sh', '-c', 'ulimit -Sn; ulimit -Hn']],
  ['capabilities, seccomp and no_new_privs', [D, 'grep', '-E', '^(Cap(Inh|Prm|Eff|Bnd|Amb)|NoNewPrivs|Seccomp):', '/proc/self/status']],
  [
    '--cap-drop and --security-opt no-new-privileges',
    ['--cap-drop', 'ALL', '--security-opt', 'no-new-privileges', D, 'grep', '-E', '^(CapEff|NoNewPrivs):', '/proc/self/status'],
  ],
  [
    '--sysctl net.ipv4.ip_unprivileged_port_start',
    ['--sysctl', 'net.ipv4.ip_unprivileged_port_start=80', D, 'cat', '/proc/sys/net/ipv4/ip_unprivileged_port_start'],
  ],
  ['--shm-size', ['--shm-size', '96m', D, 'sh', '-c', "df -k /dev/shm | awk 'NR==2 {print $2}'"]],
  ['the default signal handling of PID 1 (SIGTERM from itself is ignored)', [D, 'sh', '-c', 'kill -TERM $$; echo alive']],
]);

describe('stdin', () => {
  it('docker run -i passes stdin through', () =>
    c.sameUnderBoth(['-i', D, 'sh', '-c', 'tr a-z A-Z; echo done'], undefined, { input: 'hello\n' }));
});

scenarios('memory', [
  ['no --memory: one 300 MiB allocation (python3)', [D, ...alloc(300)]],
  ['no --memory: 300 allocations of 1 MiB (python3)', [D, ...allocSmall(300)]],
  ['no --memory: one 1 GiB allocation (python3)', [D, ...alloc(1024)]],
  [
    'no --memory: node, 300 MiB of Buffers',
    [D, 'node', '-e', 'const a = []; for (let i = 0; i < 300; i++) a.push(Buffer.alloc(1 << 20, 1)); console.log(a.length)'],
  ],
  ['--memory 512m: a 400 MB allocation fits', ['--memory', '512m', D, ...alloc(400)]],
  ['--memory 512m: one 600 MB allocation is an OOM kill (137, OOMKilled)', ['--memory', '512m', D, ...alloc(600)]],
  ['--memory 512m: 600 allocations of 1 MiB are an OOM kill', ['--memory', '512m', D, ...allocSmall(600)]],
  [
    '--memory 256m --memory-swap 256m: node, 300 MiB of Buffers',
    [
      '--memory',
      '256m',
      '--memory-swap',
      '256m',
      D,
      'node',
      '-e',
      'const a = []; for (let i = 0; i < 300; i++) a.push(Buffer.alloc(1 << 20, 1)); console.log(a.length)',
    ],
  ],
  ['--memory: the limit the container reads', ['--memory', '300m', D, ...LIMITS]],
  ['no --memory: the limit the container reads', [D, ...LIMITS]],
]);

const everyCpu = HOST_CPUS === 1 ? '0' : `0-${HOST_CPUS - 1}`;
scenarios('CPUs', [
  ['nproc without CPU flags', [D, ...NPROC]],
  ['--cpus 1', ['--cpus', '1', D, ...NPROC]],
  ['--cpus 0.5', ['--cpus', '0.5', D, ...NPROC]],
  ['--cpus 1: the quota the container reads', ['--cpus', '1', D, ...LIMITS]],
  [`--cpuset-cpus ${everyCpu} (every host CPU)`, ['--cpuset-cpus', everyCpu, D, ...NPROC]],
  ...Array.from({ length: HOST_CPUS }, (_, cpu): Scenario => [`--cpuset-cpus ${cpu}`, ['--cpuset-cpus', String(cpu), D, ...NPROC]]),
  [`--cpus 1 --cpuset-cpus ${everyCpu}`, ['--cpus', '1', '--cpuset-cpus', everyCpu, D, ...NPROC]],
  ['python3 os.cpu_count() and the affinity', [D, 'python3', '-c', 'import os; print(os.cpu_count(), sorted(os.sched_getaffinity(0)))']],
  ["node's os.cpus()", [D, 'node', '-p', 'require("os").cpus().length + " " + require("os").availableParallelism()']],
]);

/** One step of a `docker update` scenario: what the user sees of a command. */
async function step(name: string, args: string[]): Promise<string> {
  const r = await c.docker(args);
  return `${r.status} ${r.stdout.trim()} ${r.stderr.trim()}`.replace(new RegExp(name, 'g'), '<name>').replace(/\b[0-9a-f]{64}\b/g, '<id>');
}
const inside = (name: string, command: string[]) => step(name, ['exec', name, ...command]);

describe('docker update', { concurrency: 2 }, () => {
  it('--memory and --cpus up, then down, on a container started with --memory 256m --cpus 1', () =>
    c.same((runtime) =>
      c.withContainer(runtime, 'update-limited', ['--memory', '256m', '--cpus', '1', D, 'sleep', 'infinity'], async (name) => [
        await inside(name, LIMITS),
        await inside(name, alloc(300)),
        await step(name, ['update', '--memory', '1g', '--memory-swap', '1g', '--cpus', '2', name]),
        await inside(name, LIMITS),
        await inside(name, alloc(600)),
        await inside(name, NPROC),
        await step(name, ['update', '--memory', '128m', '--memory-swap', '128m', '--cpus', '0.5', name]),
        await inside(name, LIMITS),
        await inside(name, alloc(200)),
        await inside(name, NPROC),
        await c.state(name),
      ]),
    ));
  it('--memory and --cpus set, raised and lowered on a container started without limits', () =>
    c.same((runtime) =>
      c.withContainer(runtime, 'update-free', [D, 'sleep', 'infinity'], async (name) => [
        await inside(name, LIMITS),
        await step(name, ['update', '--memory', '256m', '--memory-swap', '256m', name]),
        await inside(name, LIMITS),
        await inside(name, alloc(300)),
        await step(name, ['update', '--cpus', '1', name]),
        await inside(name, LIMITS),
        await inside(name, NPROC),
        await step(name, ['update', '--memory', '1g', '--memory-swap', '1g', '--cpus', '2', name]),
        await inside(name, LIMITS),
        await inside(name, alloc(600)),
        await c.state(name),
      ]),
    ));
  it('--memory alone on a container started without limits', () =>
    c.same((runtime) =>
      c.withContainer(runtime, 'update-memory', [D, 'sleep', 'infinity'], async (name) => [
        await step(name, ['update', '--memory', '100m', name]),
        await inside(name, LIMITS),
        await inside(name, alloc(150)),
      ]),
    ));
});

test('known differences (by design, not asserted equal): both runtimes run them, the outputs are printed', async (t) => {
  for (const known of KNOWN_DIFFERENCES) {
    const outcomes = await Promise.all(RUNTIMES.map((runtime: Runtime) => c.run(runtime, known.args)));
    for (const [i, runtime] of RUNTIMES.entries()) {
      const o = outcomes[i]!;
      assert.equal(o.status, 0, `${known.what} under ${runtime}: ${o.stderr}`);
      t.diagnostic(`${known.what} under ${runtime}: ${o.stdout.trim()}`);
    }
  }
});

endOfFile();
