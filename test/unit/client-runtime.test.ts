/**
 * The extension's runtime logic that needs no editor: where Docker is, what `vmrt check` says,
 * QEMU's command line, stats numbers, launch answers, the lint gate, debug configurations.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { dockerHostEnv, dockerOptions } from '../../client/src/docker-connection.js';
import { checkProblem, parseCheckOutput, registeredRuntime } from '../../client/src/runtime-health.js';
import {
  attachConfiguration,
  DAP_SERVER,
  debuggeeCommand,
  GDB_ADAPTER,
  listensOn,
  missingDebugger,
  remotePath,
} from '../../client/src/containers/debug-config.js';
import { cpuPercent, formatBytes, formatUptime } from '../../client/src/containers/format.js';
import { createOptions, dockerRunLine, parsePorts, runSpec } from '../../client/src/containers/launch-spec.js';
import { describeFinding, gate } from '../../client/src/containers/lint-gate.js';
import { launchFindings } from '../../server/src/lsp/launch-lint.js';
import { findVm, parseQemuArgs } from '../../client/src/containers/process.js';

test('Docker host: the setting wins over DOCKER_HOST, which wins over the local socket', () => {
  assert.deepEqual(dockerOptions('unix:///tmp/d.sock', { DOCKER_HOST: 'tcp://h:1' }), { socketPath: '/tmp/d.sock' });
  assert.deepEqual(dockerOptions('', { DOCKER_HOST: 'tcp://10.0.0.2:2375' }), { protocol: 'http', host: '10.0.0.2', port: 2375 });
  assert.deepEqual(dockerOptions(undefined, { DOCKER_HOST: 'tcp://h', DOCKER_TLS_VERIFY: '1' }), {
    protocol: 'https',
    host: 'h',
    port: 2376,
  });
  assert.deepEqual(dockerOptions(undefined, {}), { socketPath: '/var/run/docker.sock' });
  assert.deepEqual(dockerOptions('/run/user/0/docker.sock', {}), { socketPath: '/run/user/0/docker.sock' });
  assert.throws(() => dockerOptions('ssh://me@host', {}), /unsupported Docker host "ssh:\/\/me@host"/);
  assert.equal(dockerHostEnv({ socketPath: '/tmp/d.sock' }), 'unix:///tmp/d.sock');
  assert.equal(dockerHostEnv({ host: 'h', port: 2375 }), 'tcp://h:2375');
});

const CHECK_OK = `no   CPU virtualization (vmx or svm): absent: only TCG (emulation) is possible
ok   QEMU: QEMU emulator version 7.2.19
ok   guest kernel: /g/vmlinux
accelerator: TCG (no KVM)
ok   probe boot under TCG: the guest kernel reached init under TCG in 2900 ms
System is capable of running vmrt containers (accelerator: TCG)
`;

test('vmrt check output: capable, or the first required failure with its fix', () => {
  const ok = parseCheckOutput(CHECK_OK);
  assert.equal(ok.capable, true);
  assert.deepEqual(
    ok.lines.map((l) => [l.ok, l.required, l.name]),
    [
      [false, false, 'CPU virtualization (vmx or svm)'],
      [true, false, 'QEMU'],
      [true, false, 'guest kernel'],
      [true, false, 'probe boot under TCG'],
    ],
  );
  assert.equal(checkProblem(ok), undefined);
  const missing = parseCheckOutput(
    'ok   QEMU: v\nFAIL guest kernel: /g/vmlinux missing: run runtime/guest/build.sh\nSystem is not capable of running vmrt containers\n',
  );
  assert.deepEqual(checkProblem(missing), {
    kind: 'runtime-check',
    message: 'vmrt cannot start VMs on this machine: guest kernel: /g/vmlinux missing: run runtime/guest/build.sh',
  });
  assert.equal(registeredRuntime({ runc: {}, vmrt: { path: '/x' } }), true);
  assert.equal(registeredRuntime({ runc: {} }), false);
  assert.equal(registeredRuntime(undefined), false);
});

test('QEMU command line: vCPUs, memory and the console file; the process is found by container id', () => {
  const argv = ['qemu-system-x86_64', '-M', 'microvm', '-m', '2G', '-smp', 'cpus=2', '-serial', 'file:/run/x/abc123/console.log'];
  assert.deepEqual(parseQemuArgs(argv, 7), { pid: 7, vcpus: 2, memoryMiB: 2048, consoleLog: '/run/x/abc123/console.log' });
  assert.equal(parseQemuArgs(['qemu-system-x86_64', '-serial', 'stdio']), undefined);
  const proc = mkdtempSync(join(tmpdir(), 'vmrt-proc-'));
  try {
    for (const [pid, args] of [
      ['12', ['sleep', '/abc123/console.log']],
      ['34', ['qemu-system-x86_64', '-m', '128', '-smp', '1', '-serial', 'file:/r/abc123/console.log']],
      ['self', ['x']],
    ] as const) {
      mkdirSync(join(proc, pid));
      writeFileSync(join(proc, pid, 'cmdline'), `${args.join('\0')}\0`);
    }
    assert.deepEqual(findVm('abc123', proc), { pid: 34, vcpus: 1, memoryMiB: 128, consoleLog: '/r/abc123/console.log' });
    assert.equal(findVm('other', proc), undefined);
  } finally {
    rmSync(proc, { recursive: true, force: true });
  }
});

test('stats and durations as the explorer shows them', () => {
  assert.equal(
    cpuPercent({
      cpu_stats: { cpu_usage: { total_usage: 300 }, system_cpu_usage: 2000, online_cpus: 2 },
      precpu_stats: { cpu_usage: { total_usage: 100 }, system_cpu_usage: 1000 },
    }),
    40,
  );
  assert.equal(cpuPercent({}), 0);
  assert.deepEqual(
    [formatBytes(512), formatBytes(1536), formatBytes(40 * 1024 * 1024), formatBytes(3 * 1024 ** 3)],
    ['512 B', '1.5 KiB', '40.0 MiB', '3.00 GiB'],
  );
  assert.deepEqual(
    [formatUptime(5_400), formatUptime(125_000), formatUptime(7_500_000), formatUptime(90_000_000)],
    ['5 s', '2 min 5 s', '2 h 5 min', '1 d 1 h'],
  );
});

test('launch answers become create options with the vmrt runtime and the equivalent docker run line', () => {
  assert.deepEqual(parsePorts('8080:80, 127.0.0.1::9229 53/udp'), [
    { containerPort: '80/tcp', hostIp: '', hostPort: '8080' },
    { containerPort: '9229/tcp', hostIp: '127.0.0.1', hostPort: '' },
    { containerPort: '53/udp', hostIp: '', hostPort: '' },
  ]);
  assert.throws(() => parsePorts('80:http'), /"80:http" is not a port mapping/);
  const spec = runSpec({ image: ' busybox ', ports: '8080:80', env: 'A=1 "B=two words"', command: "sh -c 'echo $A'" });
  assert.deepEqual(spec, {
    image: 'busybox',
    ports: [{ containerPort: '80/tcp', hostIp: '', hostPort: '8080' }],
    env: ['A=1', 'B=two words'],
    cmd: ['sh', '-c', 'echo $A'],
  });
  assert.throws(() => runSpec({ image: 'x', ports: '', env: 'novalue', command: '' }), /"novalue" is not KEY=value/);
  const options = createOptions(spec);
  assert.deepEqual(options.HostConfig, {
    Runtime: 'vmrt',
    PortBindings: { '80/tcp': [{ HostIp: '', HostPort: '8080' }] },
    Binds: undefined,
  });
  assert.deepEqual([options.Cmd, options.Env, options.ExposedPorts], [['sh', '-c', 'echo $A'], ['A=1', 'B=two words'], { '80/tcp': {} }]);
  assert.equal(createOptions({ ...spec, cmd: [] }).Cmd, undefined);
  assert.equal(dockerRunLine(spec), "docker run -d --runtime vmrt -p 8080:80/tcp -e A=1 -e 'B=two words' busybox sh -c 'echo $A'\n");
});

test('the lint gate stops a launch on an error finding with the reason and the fix, and lets warnings through', () => {
  const folder = mkdtempSync(join(tmpdir(), 'vmrt-gate-'));
  try {
    const blocked = gate(launchFindings({ kind: 'command', folder, line: 'docker run -d --runtime vmrt --net=host busybox\n' }));
    assert.equal(blocked.blocking?.rule, 'host-network-mode');
    assert.equal(
      describeFinding(blocked.blocking!),
      `host-network-mode: ${blocked.blocking!.message} Fix: Remove the host network mode (publish the ports you need instead).`,
    );
    assert.match(blocked.blocking!.message, /^The host network mode is not supported by vmrt\. .*Workaround: publish the ports/);
    const clean = gate(
      launchFindings({
        kind: 'command',
        folder,
        line: dockerRunLine(runSpec({ image: 'busybox', ports: '8080:80', env: 'A=1', command: 'sleep 5' })),
      }),
    );
    assert.deepEqual(clean, { blocking: undefined, notes: [] });
    const dockerfile = join(folder, 'Dockerfile');
    writeFileSync(dockerfile, 'FROM busybox\nRUN --network=host wget -q http://example.com/\n');
    assert.equal(gate(launchFindings({ kind: 'file', path: dockerfile })).blocking?.rule, 'host-network-mode');
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
});

test('vmrt debug configurations: the debuggee command, path mapping, the attach configuration, missing debuggers', () => {
  assert.deepEqual(debuggeeCommand('node', '/workspace/a.js', ['x'], 9229), ['node', '--inspect-brk=0.0.0.0:9229', '/workspace/a.js', 'x']);
  const python = debuggeeCommand('python', '/workspace/m.py', ['x'], 5678);
  assert.deepEqual([python[0], python[1], ...python.slice(3)], ['python3', '-c', '5678', '/workspace/m.py', 'x']);
  assert.match(python[2]!, /debugpy\.listen\(\('0\.0\.0\.0', port\), in_process_debug_adapter=True\)/);
  assert.deepEqual(debuggeeCommand('native', '/workspace/app', [], 2345), ['gdbserver', '0.0.0.0:2345', '/workspace/app']);
  assert.equal(remotePath('/home/me/proj', '/workspace', '/home/me/proj/src/a.js'), '/workspace/src/a.js');
  assert.equal(remotePath('/home/me/proj', '/workspace', '/usr/app/a.js'), '/usr/app/a.js');
  const config = {
    type: 'vmrt' as const,
    request: 'launch' as const,
    name: 'N',
    localRoot: '/home/me/proj',
    remoteRoot: '/workspace',
    program: '/home/me/proj/app',
  };
  assert.deepEqual(attachConfiguration(config, 'node', 32768), {
    name: 'N (in VM)',
    request: 'attach',
    type: 'pwa-node',
    address: '127.0.0.1',
    port: 32768,
    localRoot: '/home/me/proj',
    remoteRoot: '/workspace',
    continueOnAttach: true,
    restart: false,
    skipFiles: ['<node_internals>/**'],
  });
  assert.deepEqual(attachConfiguration(config, 'python', 5000).pathMappings, [{ localRoot: '/home/me/proj', remoteRoot: '/workspace' }]);
  assert.equal(attachConfiguration(config, 'native', 5000).miDebuggerServerAddress, '127.0.0.1:5000');
  // Without the Python Debugger extension, VS Code speaks DAP to debugpy in the VM.
  const direct = attachConfiguration(config, 'python', 5000, false);
  assert.deepEqual(
    [direct.type, direct.request, direct[DAP_SERVER], direct.pathMappings],
    ['vmrt', 'attach', { host: '127.0.0.1', port: 5000 }, [{ localRoot: '/home/me/proj', remoteRoot: '/workspace' }]],
  );
  // Without the C/C++ extension, the bundled GDB adapter attaches to gdbserver's published port.
  const gdb = attachConfiguration(config, 'native', 5000, false);
  assert.deepEqual(
    [gdb.type, gdb[GDB_ADAPTER], gdb.target, gdb.initCommands],
    ['vmrt', true, { type: 'remote', parameters: ['127.0.0.1:5000'] }, ['set substitute-path /workspace /home/me/proj']],
  );
  assert.equal(
    missingDebugger('python', "ModuleNotFoundError: No module named 'debugpy'"),
    'the image has no debugpy (or no python3): add "RUN pip install debugpy" to its Dockerfile',
  );
  assert.match(
    missingDebugger('native', 'exec: "gdbserver": executable file not found in $PATH: not found') ?? '',
    /^the image has no gdbserver/,
  );
  assert.equal(missingDebugger('python', 'Traceback: ValueError'), undefined);
  const procNetTcp = [
    '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
    '   0: 00000000:162E 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1234 1',
    '   1: 0100007F:1F90 0100007F:D2A4 01 00000000:00000000 00:00000000 00000000     0        0 1235 1',
  ].join('\n');
  assert.equal(listensOn(procNetTcp, 5678), true);
  assert.equal(listensOn(procNetTcp, 8080), false, 'an established connection is not a listener');
  assert.equal(listensOn(procNetTcp, 9229), false);
});
