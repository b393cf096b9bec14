import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ociFrontEnd } from '../../server/src/frontends/oci/config.js';
import type { FrontEndResult, OptionName, RequestedOption } from '../../server/src/core/types.js';
import { applyEdits, context, fixture, rangeText, summary } from './frontend-yaml-helpers.js';

const PATH = '/bundle/config.json';

function read(name: string): string {
  return readFileSync(fixture(`oci/${name}`), 'utf8');
}

function parse(text: string, path = PATH): FrontEndResult {
  return ociFrontEnd.parse({ path, text }, context());
}

function optionsOf(text: string): RequestedOption[] {
  return parse(text).requests[0]?.options ?? [];
}

/** [option, value, range] of each option of the config (all in PATH). */
function rows(options: readonly RequestedOption[]): unknown[][] {
  return summary(options, PATH);
}

function problems(text: string): [string, string, string][] {
  return parse(text).problems.map((p) => [p.rule, rangeText(p.range), p.message]);
}

function only(text: string, name: OptionName, index = 0): RequestedOption {
  const option = optionsOf(text).filter((o) => o.option === name)[index];
  assert.ok(option, `no ${name} option #${index}`);
  return option;
}

/** The document after an option's removal, which must still be JSON. */
function afterRemove(text: string, option: RequestedOption): Record<string, any> {
  const edited = applyEdits(text, option.edit!.remove());
  return JSON.parse(edited);
}

test('detect: config.json with ociVersion, or ociVersion beside process/root at the top level', () => {
  const config = read('runc-spec.json');
  assert.equal(ociFrontEnd.detect('/b/config.json', config), true);
  assert.equal(ociFrontEnd.detect('/b/spec.json', config), true);
  assert.equal(ociFrontEnd.detect('/b/config.json', '{"ociVersion": "1.0.2"}'), true);
  assert.equal(ociFrontEnd.detect('/b/other.json', '{"ociVersion": "1.0.2"}'), false);
  assert.equal(ociFrontEnd.detect('/b/config.json', '{"name": "app", "version": "1.0.0"}'), false);
  assert.equal(ociFrontEnd.detect('/b/state.json', '{"spec": {"ociVersion": "1.0.2", "process": {}}}'), false);
  assert.equal(ociFrontEnd.detect('/b/config.json', read('truncated.json')), true);
});

test('`runc spec` default config: no options, no problems', () => {
  const result = parse(read('runc-spec.json'));
  assert.deepEqual(result.problems, []);
  assert.equal(result.requests.length, 1);
  assert.equal(result.requests[0]!.kind, 'oci');
  assert.equal(result.requests[0]!.file, PATH);
  assert.deepEqual(result.requests[0]!.options, []);
});

test('Docker 20.10 `docker run busybox` config (default caps, mounts, 64m /dev/shm, seccomp, sysctls): no options', () => {
  const result = parse(read('docker-busybox.json'));
  assert.deepEqual(result.problems, []);
  assert.deepEqual(result.requests[0]!.options, []);
});

test('no network namespace: host network at the namespaces key', () => {
  assert.deepEqual(rows(optionsOf(read('host-network.json'))), [['network', 'host', '9:8-9:20']]);
});

test('namespaces with a path join another process; a missing ipc is the host one', () => {
  assert.deepEqual(rows(optionsOf(read('joined-namespaces.json'))), [
    ['network', 'container:/proc/999999999/ns/net', '11:12-11:67'],
    ['pid', 'container:/proc/4242/ns/pid', '10:12-10:58'],
    ['ipc', 'host', '9:8-9:20'],
    ['userns', 'container:/proc/4242/ns/user', '13:12-13:60'],
  ]);
  // A named network namespace (CNI's) is made for this container: no request, as at the runtime's create.
  const named = read('joined-namespaces.json').replace('/proc/999999999/ns/net', '/var/run/netns/cni-1234');
  assert.deepEqual(
    optionsOf(named).map((o) => o.option),
    ['pid', 'ipc', 'userns'],
  );
});

test("a linux section without namespaces shares all of the host's, one request; no linux section (Windows) says nothing", () => {
  const text = '{"ociVersion": "1.0.2", "root": {"path": "rootfs"}, "process": {"cwd": "/", "args": ["sh"]}, "linux": {}}';
  // One request at the `linux` key, not one per namespace: its fix writes the whole list.
  assert.deepEqual(rows(optionsOf(text)), [['network', 'host', '0:93-0:100']]);
  assert.deepEqual(afterRemove(text, only(text, 'network')).linux, {
    namespaces: [{ type: 'network' }, { type: 'pid' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }],
  });
  assert.deepEqual(optionsOf(text.replace(', "linux": {}', '')), []);
});

test('linux.resources.cpu.mems is memory-node pinning; remove() drops it', () => {
  const text =
    '{"ociVersion": "1.0.2", "linux": {"namespaces": [{"type": "pid"}, {"type": "network"}, {"type": "ipc"}, {"type": "uts"}], "resources": {"cpu": {"cpus": "0-3", "mems": "0-1"}}}}';
  assert.deepEqual(
    optionsOf(text).map((o) => [o.option, o.value]),
    [
      ['cpuset-cpus', '0-3'],
      ['cpuset-mems', '0-1'],
    ],
  );
  assert.deepEqual(afterRemove(text, only(text, 'cpuset-mems')).linux.resources.cpu, { cpus: '0-3' });
});

test('a config without any user namespace (Docker without userns-remap) is not a userns request', () => {
  for (const name of ['runc-spec.json', 'docker-busybox.json', 'joined-namespaces.json']) {
    const userns = optionsOf(read(name)).filter((o) => o.option === 'userns' && o.value === 'host');
    assert.deepEqual(userns, [], name);
  }
});

test('devices beyond the default nodes and VFIO groups, at the array element', () => {
  assert.deepEqual(rows(optionsOf(read('devices.json'))), [
    ['device', { host: '/dev/fuse' }, '11:12-11:75'],
    ['device', { host: '/dev/sda' }, '13:12-13:71'],
  ]);
});

test('mounts: a bind from /dev (source key), rshared (the option), a bind onto /proc (destination key)', () => {
  assert.deepEqual(rows(optionsOf(read('mounts.json'))), [
    ['mount', { type: 'bind', source: '/dev/kvm', target: '/dev/kvm', readOnly: false }, '10:53-10:61'],
    ['mount', { type: 'bind', source: '/srv/data', target: '/mnt/data', readOnly: false, propagation: 'rshared' }, '11:98-11:107'],
    ['mount', { type: 'bind', source: '/proc/sys/net', target: '/proc/sys/net', readOnly: true }, '12:10-12:23'],
  ]);
});

test('tmpfs mounts other than /dev, and a /dev/shm size other than 64m', () => {
  assert.deepEqual(rows(optionsOf(read('tmpfs.json'))), [
    ['shm-size', '256m', '10:106-10:117'],
    ['tmpfs', { target: '/run', size: '16m' }, '11:10-11:23'],
    ['tmpfs', { target: '/tmp' }, '12:10-12:23'],
  ]);
});

test('/dev/shm of 64m written in bytes, k or m is the default', () => {
  for (const size of ['67108864', '65536k', '64m', '64M']) {
    const text = read('tmpfs.json').replace('size=256m', `size=${size}`);
    assert.deepEqual(
      optionsOf(text).filter((o) => o.option === 'shm-size'),
      [],
      size,
    );
  }
});

test("capabilities against Docker's default set: an added one at its bounding element, a dropped one at the bounding key", () => {
  assert.deepEqual(rows(optionsOf(read('capabilities.json'))), [
    ['cap-add', 'CAP_SYS_ADMIN', '9:35-9:50'],
    ['cap-drop', 'CAP_NET_RAW', '7:12-7:22'],
  ]);
});

test("capabilities against `runc spec`'s set when that is the nearer default", () => {
  const text = read('runc-spec.json').replace(/"CAP_KILL",/g, '"CAP_KILL",\n\t\t\t\t"CAP_NET_ADMIN",');
  assert.deepEqual(rows(optionsOf(text)), [['cap-add', 'CAP_NET_ADMIN', '20:4-20:19']]);
});

test("Podman's default capability set is not a request either", () => {
  const podman = [
    'CAP_CHOWN',
    'CAP_DAC_OVERRIDE',
    'CAP_FOWNER',
    'CAP_FSETID',
    'CAP_KILL',
    'CAP_NET_BIND_SERVICE',
    'CAP_SETFCAP',
    'CAP_SETGID',
    'CAP_SETPCAP',
    'CAP_SETUID',
    'CAP_SYS_CHROOT',
  ];
  const config = JSON.parse(read('docker-busybox.json'));
  for (const set of ['bounding', 'effective', 'permitted']) config.process.capabilities[set] = podman;
  assert.deepEqual(optionsOf(JSON.stringify(config)), []);
  config.process.capabilities.bounding = [...podman, 'CAP_NET_RAW'];
  assert.deepEqual(
    optionsOf(JSON.stringify(config)).map((o) => [o.option, o.value]),
    [['cap-add', 'CAP_NET_RAW']],
  );
});

test('every capability with masked paths is one cap-add ALL; no capability is one cap-drop ALL', () => {
  const config = JSON.parse(read('privileged.json'));
  config.linux.maskedPaths = ['/proc/kcore'];
  const all = JSON.stringify(config, null, 4);
  assert.deepEqual(rows(optionsOf(all)), [
    ['cap-add', 'ALL', '12:12-12:22'],
    ['device', { host: '/dev/sda' }, '171:12-179:13'],
    ['device', { host: '/dev/ttyS0' }, '180:12-188:13'],
  ]);
  const restored = JSON.parse(applyEdits(all, only(all, 'cap-add').edit!.remove()));
  assert.deepEqual(restored.process.capabilities.bounding, restored.process.capabilities.permitted);
  assert.equal(restored.process.capabilities.bounding.length, 14);

  for (const set of ['bounding', 'effective', 'permitted']) config.process.capabilities[set] = [];
  assert.deepEqual(rows(optionsOf(JSON.stringify(config, null, 4))), [
    ['cap-drop', 'ALL', '12:12-12:22'],
    ['device', { host: '/dev/sda' }, '45:12-53:13'],
    ['device', { host: '/dev/ttyS0' }, '54:12-62:13'],
  ]);
});

test('privileged (every capability, no masked paths) is one request instead of caps and host devices', () => {
  assert.deepEqual(rows(optionsOf(read('privileged.json'))), [['privileged', true, '11:8-11:22']]);
});

test('cpu, kernel memory and blkio resources at their keys; zero values are Docker\'s "unset"', () => {
  assert.deepEqual(rows(optionsOf(read('resources.json'))), [
    ['cpu-quota', 150000, '10:36-10:43'],
    ['cpu-period', 100000, '10:53-10:61'],
    ['cpu-shares', 512, '10:21-10:29'],
    ['cpuset-cpus', '0-1', '10:71-10:77'],
    ['kernel-memory', '67108864', '11:44-11:52'],
    ['blkio', 'weight', '13:16-13:24'],
    ['blkio', 'throttleReadBpsDevice', '14:16-14:39'],
  ]);
});

test("sysctls other than Docker's defaults, AppArmor/SELinux/seccomp other than generated ones, annotations (UTF-16 columns)", () => {
  assert.deepEqual(rows(optionsOf(read('sysctl-security-annotations.json'))), [
    ['sysctl', { key: 'net.core.somaxconn', value: '1024' }, '14:12-14:32'],
    ['security-opt', 'apparmor=unconfined', '6:8-6:25'],
    ['security-opt', 'label=system_u:system_r:spc_t:s0', '7:8-7:22'],
    // A hand-written profile (allow everything): not the one Docker generates.
    ['security-opt', 'seccomp=linux.seccomp', '19:8-19:17'],
    ['annotation', { key: 'io.example/icon', value: '🚀' }, '10:21-10:38'],
    // The rocket before this key is two UTF-16 code units.
    ['annotation', { key: 'io.example/owner', value: 'team-ü' }, '10:46-10:64'],
  ]);
});

test('annotations that containerd, CRI-O and Podman write for every container are not requests', () => {
  const config = JSON.parse(read('runc-spec.json'));
  config.annotations = {
    'io.kubernetes.cri.container-type': 'container',
    'io.kubernetes.cri.sandbox-id': 'f1e2d3',
    'io.kubernetes.container.name': 'web',
    'io.container.manager': 'libpod',
    'io.podman.annotations.autoremove': 'FALSE',
    'io.katacontainers.config.hypervisor.default_memory': '4096',
  };
  assert.deepEqual(
    optionsOf(JSON.stringify(config)).map((o) => o.value),
    [{ key: 'io.katacontainers.config.hypervisor.default_memory', value: '4096' }],
  );
});

test('generated SELinux labels (container_t with an MCS level) are not requests', () => {
  const text = read('sysctl-security-annotations.json').replace('system_u:system_r:spc_t:s0', 'system_u:system_r:container_t:s0:c123,c456');
  assert.deepEqual(
    optionsOf(text)
      .filter((o) => o.option === 'security-opt')
      .map((o) => o.value),
    ['apparmor=unconfined', 'seccomp=linux.seccomp'],
  );
});

test('a truncated file: parse-error at the cut, no throw, what was read is kept', () => {
  assert.deepEqual(problems(read('truncated.json')), [['parse-error', '96:3-96:4', 'JSON syntax error: unexpected end of string']]);
  const tmpfs = read('tmpfs.json');
  const cut = tmpfs.slice(0, tmpfs.indexOf('{ "destination": "/tmp"'));
  const result = parse(cut);
  assert.deepEqual(
    result.problems.map((p) => [p.rule, rangeText(p.range), p.message]),
    [['parse-error', '12:8-12:8', 'JSON syntax error: value expected at the end of the file (is it truncated?)']],
  );
  assert.deepEqual(rows(result.requests[0]!.options), [
    ['shm-size', '256m', '10:106-10:117'],
    ['tmpfs', { target: '/run', size: '16m' }, '11:10-11:23'],
  ]);
});

test('comments and trailing commas are JSON syntax errors (runtimes reject them)', () => {
  const text = '// vmrt-ignore host-network\n{"ociVersion": "1.0.2", "root": {"path": "rootfs"},}';
  assert.deepEqual(problems(text), [
    ['parse-error', '0:0-0:27', 'JSON syntax error: invalid comment token'],
    ['parse-error', '1:51-1:52', 'JSON syntax error: property name expected'],
  ]);
});

test('a file of garbage gives at most 20 syntax errors', () => {
  const result = parse(`{"ociVersion": "1.0.2", "x": [1${' 2'.repeat(100_000)}]}`);
  assert.equal(result.problems.length, 20);
  assert.deepEqual(result.problems[0]!.range, { start: { line: 0, character: 32 }, end: { line: 0, character: 33 } });
  assert.equal(result.problems[0]!.message, 'JSON syntax error: comma expected');
});

test('empty and non-object documents', () => {
  assert.deepEqual(problems(''), [
    ['parse-error', '0:0-0:0', 'JSON syntax error: value expected at the end of the file (is it truncated?)'],
  ]);
  assert.deepEqual(parse('').requests, []);
  assert.deepEqual(problems('["ociVersion"]'), [['schema', '0:0-0:14', 'config must be a JSON object (OCI runtime-spec config.md)']]);
});

test('structure errors: missing ociVersion, args not an array, relative cwd, bad namespace type', () => {
  assert.deepEqual(problems(read('schema-errors.json')), [
    ['schema', '0:0-0:1', 'ociVersion is missing: the OCI runtime-spec config.md requires it'],
    ['schema', '3:8-3:14', 'process.args must be an array of strings, not a string (OCI runtime-spec config.md)'],
    ['schema', '4:8-4:13', 'process.cwd is "app"; it must be an absolute path (OCI runtime-spec config.md)'],
    [
      'schema',
      '9:33-9:39',
      'linux.namespaces[1].type is "net"; it must be one of pid, network, mount, ipc, uts, user, cgroup, time (OCI runtime-spec config-linux.md)',
    ],
  ]);
});

test('a Windows config needs no root, args or slash-rooted cwd', () => {
  const text =
    '{"ociVersion": "1.1.0", "process": {"cwd": "C:\\\\", "commandLine": "cmd.exe"}, "windows": {"layerFolders": ["C:\\\\layers\\\\1"]}}';
  assert.equal(JSON.parse(text).process.cwd, 'C:\\');
  assert.deepEqual(problems(text), []);
  assert.deepEqual(problems(text.replace(', "windows": {"layerFolders": ["C:\\\\layers\\\\1"]}', '')), [
    ['schema', '0:0-0:1', 'root is missing: the OCI runtime-spec config.md requires it'],
    ['schema', '0:24-0:33', 'process.args is missing: the OCI runtime-spec config.md requires it'],
    ['schema', '0:36-0:41', 'process.cwd is "C:\\\\"; it must be an absolute path (OCI runtime-spec config.md)'],
  ]);
});

test('structure errors: nested required fields, rlimits, capability names, seccomp actions, mounts', () => {
  const text = [
    '{"ociVersion": "1.0.2", "root": {"readonly": true},',
    ' "process": {"cwd": "/", "args": [], "rlimits": [{"type": "RLIMIT_FILES", "soft": 1, "hard": -1}],',
    '  "capabilities": {"bounding": ["NET_ADMIN"]}},',
    ' "mounts": [{"source": "tmpfs"}],',
    ' "linux": {"seccomp": {"defaultAction": "SCMP_ACT_DENY"}, "devices": [{"path": "/dev/fuse", "type": "x"}]}}',
  ].join('\n');
  assert.deepEqual(problems(text), [
    ['schema', '0:24-0:30', 'root.path is missing: the OCI runtime-spec config.md requires it'],
    ['schema', '1:25-1:31', 'process.args must have at least 1 entry (OCI runtime-spec config.md)'],
    [
      'schema',
      '1:50-1:56',
      'process.rlimits[0].type is "RLIMIT_FILES"; it must be one of RLIMIT_AS, RLIMIT_CORE, RLIMIT_CPU, RLIMIT_DATA, RLIMIT_FSIZE, RLIMIT_LOCKS, RLIMIT_MEMLOCK, RLIMIT_MSGQUEUE, RLIMIT_NICE, RLIMIT_NOFILE, RLIMIT_NPROC, RLIMIT_RSS, RLIMIT_RTPRIO, RLIMIT_RTTIME, RLIMIT_SIGPENDING, RLIMIT_STACK, RLIMIT_VMEM (OCI runtime-spec config.md)',
    ],
    ['schema', '1:85-1:91', 'process.rlimits[0].hard is -1; it must be at least 0 (OCI runtime-spec config.md)'],
    [
      'schema',
      '2:32-2:43',
      'process.capabilities.bounding[0] is "NET_ADMIN"; it must be a capability name of the form CAP_* (capabilities(7)) (OCI runtime-spec config.md)',
    ],
    ['schema', '3:12-3:31', 'mounts[0].destination is missing: the OCI runtime-spec config.md requires it'],
    [
      'schema',
      '4:23-4:38',
      'linux.seccomp.defaultAction is "SCMP_ACT_DENY"; it must be one of SCMP_ACT_KILL, SCMP_ACT_KILL_PROCESS, SCMP_ACT_KILL_THREAD, SCMP_ACT_TRAP, SCMP_ACT_ERRNO, SCMP_ACT_TRACE, SCMP_ACT_ALLOW, SCMP_ACT_LOG, SCMP_ACT_NOTIFY (OCI runtime-spec config-linux.md)',
    ],
    ['schema', '4:92-4:98', 'linux.devices[0].type is "x"; it must be one of c, b, u, p (OCI runtime-spec config-linux.md)'],
  ]);
});

test('remove(): a device in the middle and the last one of a minified array keep valid JSON', () => {
  const text = read('devices.json');
  const fuse = only(text, 'device', 0);
  // One edit: the smallest span that differs (the next entry starts with the same `{ "path": "/dev/`).
  assert.deepEqual(fuse.edit!.remove(), [{ range: { start: { line: 11, character: 28 }, end: { line: 12, character: 28 } }, newText: '' }]);
  assert.deepEqual(
    afterRemove(text, fuse).linux.devices.map((d: { path: string }) => d.path),
    ['/dev/null', '/dev/vfio/12', '/dev/sda'],
  );

  const minified = JSON.stringify(JSON.parse(text));
  const sda = only(minified, 'device', 1);
  assert.equal(
    rangeText(sda.range),
    `0:${minified.indexOf('{"path":"/dev/sda"')}-0:${minified.indexOf(']', minified.indexOf('/dev/sda'))}`,
  );
  assert.deepEqual(
    afterRemove(minified, sda).linux.devices.map((d: { path: string }) => d.path),
    ['/dev/null', '/dev/fuse', '/dev/vfio/12'],
  );
});

test('remove(): host network adds a network namespace; a joined one loses its path', () => {
  const host = read('host-network.json');
  const edited = applyEdits(host, only(host, 'network').edit!.remove());
  assert.deepEqual(
    JSON.parse(edited).linux.namespaces.map((n: { type: string }) => n.type),
    ['pid', 'ipc', 'uts', 'mount', 'network'],
  );
  assert.deepEqual(optionsOf(edited), []);

  const joined = read('joined-namespaces.json');
  assert.deepEqual(afterRemove(joined, only(joined, 'network')).linux.namespaces[1], { type: 'network' });
  assert.deepEqual(afterRemove(joined, only(joined, 'userns')).linux.namespaces[3], { type: 'user' });
});

test('linux.rootfsPropagation shared or slave is a propagating mount of /; dropping it removes the setting', () => {
  const text =
    '{"ociVersion": "1.0.2", "root": {"path": "rootfs"}, "linux": {"namespaces": [{"type": "network"}, {"type": "pid"}, {"type": "ipc"}, {"type": "uts"}], "rootfsPropagation": "rslave"}}';
  const propagation = only(text, 'mount');
  assert.deepEqual(propagation.value, { type: 'other', target: '/', propagation: 'rslave' });
  assert.equal(afterRemove(text, propagation).linux.rootfsPropagation, undefined);
  assert.deepEqual(optionsOf(text.replace('rslave', 'private')), []);
});

test("remove() keeps the file's layout: tabs, CRLF line ends", () => {
  const tabs = read('runc-spec.json').replace('\t\t\t{\n\t\t\t\t"type": "network"\n\t\t\t},\n', '');
  const network = only(tabs, 'network');
  assert.equal(rangeText(network.range), '137:2-137:14');
  const edited = applyEdits(tabs, network.edit!.remove());
  assert.ok(edited.includes('\t\t\t{\n\t\t\t\t"type": "cgroup"\n\t\t\t},\n\t\t\t{\n\t\t\t\t"type": "network"\n\t\t\t}\n\t\t],'));
  assert.deepEqual(optionsOf(edited), []);

  const crlf = read('host-network.json').replace(/\n/g, '\r\n');
  const crlfNetwork = only(crlf, 'network');
  assert.equal(rangeText(crlfNetwork.range), '9:8-9:20');
  const crlfEdited = applyEdits(crlf, crlfNetwork.edit!.remove());
  assert.ok(crlfEdited.includes('{ "type": "mount" },\r\n            { "type": "network" }\r\n'), crlfEdited);
  assert.equal(crlfEdited.replace(/\r\n/g, '').includes('\n'), false);
});

test('remove(): cap-add leaves every set, cap-drop comes back to every set', () => {
  const text = read('capabilities.json');
  const withoutAdmin = afterRemove(text, only(text, 'cap-add'));
  for (const set of ['bounding', 'effective', 'permitted']) {
    assert.equal(withoutAdmin.process.capabilities[set].includes('CAP_SYS_ADMIN'), false, set);
    assert.equal(withoutAdmin.process.capabilities[set].length, 13, set);
  }
  const edited = applyEdits(text, only(text, 'cap-drop').edit!.remove());
  for (const set of ['bounding', 'effective', 'permitted'])
    assert.equal(JSON.parse(edited).process.capabilities[set].at(-1), 'CAP_NET_RAW');
  assert.deepEqual(rows(optionsOf(edited)), [['cap-add', 'CAP_SYS_ADMIN', '9:35-9:50']]);
});

test('remove() and replace() of mounts: the whole entry for /dev and /proc binds, only the propagation for rshared', () => {
  const text = read('mounts.json');
  const [devBind, shared, procBind] = optionsOf(text);
  assert.deepEqual(
    afterRemove(text, devBind!).mounts.map((m: { destination: string }) => m.destination),
    ['/proc', '/mnt/data', '/proc/sys/net', '/sys', '/etc/hosts'],
  );
  assert.deepEqual(
    afterRemove(text, procBind!).mounts.map((m: { destination: string }) => m.destination),
    ['/proc', '/dev/kvm', '/mnt/data', '/sys', '/etc/hosts'],
  );
  assert.deepEqual(afterRemove(text, shared!).mounts[2], {
    destination: '/mnt/data',
    type: 'bind',
    source: '/srv/data',
    options: ['rbind'],
  });

  // The mount-propagation rule's fix: the same mount without its propagation.
  const { propagation: _dropped, ...privateMount } = shared!.value as { propagation?: string };
  const replaced = applyEdits(
    text,
    shared!.edit!.replace([{ option: 'mount', value: { ...privateMount, propagation: 'rprivate' } as never }])!,
  );
  assert.deepEqual(JSON.parse(replaced).mounts[2].options, ['rbind', 'rprivate']);
  assert.equal(optionsOf(replaced).length, 2);
});

test('remove(): tmpfs entries go, /dev/shm gets the default 64m', () => {
  const text = read('tmpfs.json');
  assert.deepEqual(afterRemove(text, only(text, 'shm-size')).mounts[1].options, ['nosuid', 'mode=1777', 'size=65536k']);
  assert.deepEqual(
    afterRemove(text, only(text, 'tmpfs', 1)).mounts.map((m: { destination: string }) => m.destination),
    ['/dev', '/dev/shm', '/run'],
  );
});

test('replace(): cpu quota and period are written under linux.resources.cpu; options OCI cannot hold give undefined', () => {
  const text = read('resources.json');
  const quota = only(text, 'cpu-quota');
  const edited = applyEdits(
    text,
    quota.edit!.replace([
      { option: 'cpu-period', value: 50000 },
      { option: 'cpu-quota', value: 75000 },
    ])!,
  );
  assert.deepEqual(JSON.parse(edited).linux.resources.cpu, { shares: 512, period: 50000, cpus: '0-1', quota: 75000 });
  assert.equal(quota.edit!.replace([{ option: 'cpus', value: 1.5 }]), undefined);
  assert.equal(quota.edit!.replace([{ option: 'link', value: 'db' }]), undefined);
});

test('replace(): options are written into a config that lacks their parents', () => {
  const text = read('host-network.json');
  const network = only(text, 'network');
  const edited = applyEdits(
    text,
    network.edit!.replace([
      { option: 'cpu-quota', value: 150000 },
      { option: 'sysctl', value: { key: 'net.core.somaxconn', value: '512' } },
      { option: 'annotation', value: { key: 'io.example/team', value: 'a' } },
      { option: 'kernel-memory', value: '1048576' },
    ])!,
  );
  const config = JSON.parse(edited);
  assert.deepEqual(config.linux.resources, { cpu: { quota: 150000 }, memory: { kernel: 1048576 } });
  assert.deepEqual(config.linux.sysctl, { 'net.core.somaxconn': '512' });
  assert.deepEqual(config.annotations, { 'io.example/team': 'a' });
  assert.equal(config.linux.namespaces.at(-1).type, 'network');
  // The edit keeps the file's four-space layout.
  assert.match(edited, /\n {8}"resources": \{\n {12}"cpu": \{\n {16}"quota": 150000\n/);
});

test('remove(): resources, sysctls, security options and annotations', () => {
  const resources = read('resources.json');
  assert.deepEqual(afterRemove(resources, only(resources, 'kernel-memory')).linux.resources.memory, { limit: 536870912, kernelTCP: 0 });
  assert.deepEqual(afterRemove(resources, only(resources, 'cpuset-cpus')).linux.resources.cpu, {
    shares: 512,
    quota: 150000,
    period: 100000,
  });
  assert.deepEqual(Object.keys(afterRemove(resources, only(resources, 'blkio', 1)).linux.resources.blockIO), [
    'weight',
    'throttleWriteBpsDevice',
  ]);

  const text = read('sysctl-security-annotations.json');
  assert.deepEqual(afterRemove(text, only(text, 'sysctl')).linux.sysctl, { 'net.ipv4.ip_unprivileged_port_start': '0' });
  assert.equal(afterRemove(text, only(text, 'security-opt', 1)).process.selinuxLabel, undefined);
  assert.deepEqual(afterRemove(text, only(text, 'annotation', 0)).annotations, { 'io.example/owner': 'team-ü' });
  assert.deepEqual(afterRemove(text, only(text, 'annotation', 1)).annotations, { 'io.example/icon': '🚀' });
});

test("remove(): privileged restores Docker's capabilities and masked paths", () => {
  const text = read('privileged.json');
  const edited = applyEdits(text, only(text, 'privileged').edit!.remove());
  const config = JSON.parse(edited);
  assert.equal(config.process.capabilities.bounding.length, 14);
  assert.equal(config.linux.maskedPaths.length, 10);
  // Without privileged mode the host devices it implied are requests of their own.
  assert.deepEqual(
    optionsOf(edited).map((o) => [o.option, o.value]),
    [
      ['device', { host: '/dev/sda' }],
      ['device', { host: '/dev/ttyS0' }],
    ],
  );
});

test('a 5 MB config is read without throwing', () => {
  const config = JSON.parse(read('runc-spec.json'));
  config.process.env = Array.from({ length: 70_000 }, (_, i) => `VARIABLE_${i}=${'x'.repeat(50)}`);
  config.annotations = Object.fromEntries(Array.from({ length: 2_000 }, (_, i) => [`io.example/key-${i}`, 'value']));
  const text = JSON.stringify(config, null, 2);
  assert.ok(text.length > 5_000_000, `${text.length} characters`);
  const started = performance.now();
  const result = parse(text);
  assert.deepEqual(result.problems, []);
  assert.equal(result.requests[0]!.options.length, 2_000);
  assert.ok(performance.now() - started < 10_000);
});
