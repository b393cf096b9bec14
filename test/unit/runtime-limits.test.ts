/** The VM's memory for --memory, whether it is restored from a template or open to KSM, runc's stats from guest cgroup files, block I/O cgroup writes. */
import { after, test } from 'node:test';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { blockIOWrites } from '../../runtime/src/cgroups.js';
import { eventJson, runcStats } from '../../runtime/src/cgroup-stats.js';
import { parseDuration } from '../../runtime/src/commands/events.js';
import {
  defaultVmMemoryMiB,
  hostMemoryMerging,
  MEMORY_MERGE_ANNOTATION,
  MEMORY_MERGE_ENV,
  memoryMergeWanted,
  SHARED_MMAP_LAYOUT_ANNOTATION,
  SHARED_MMAP_LAYOUT_ENV,
  sharedMmapLayoutWanted,
  memoryMiBFor,
  MEMORY_ANNOTATION,
  TEMPLATE_ANNOTATION,
  TEMPLATE_ENV,
  templateWanted,
} from '../../runtime/src/vm.js';
import { assertHonoured } from '../../runtime/src/config-check.js';
import { coldBootReason } from '../../runtime/src/template.js';
import { tooManyNics, type GuestInterface } from '../../runtime/src/network.js';
import type { Config } from '../../runtime/src/spec.js';

const MiB = 1024 * 1024;

test('the VM gets the default size, or the memory limit plus 40 MiB and 4% for the guest when that is more', () => {
  assert.equal(defaultVmMemoryMiB({}), 2048);
  assert.equal(defaultVmMemoryMiB({ VMRT_VM_MEMORY_MIB: '512' }), 512);
  assert.throws(() => defaultVmMemoryMiB({ VMRT_VM_MEMORY_MIB: '1.5G' }), /VMRT_VM_MEMORY_MIB: "1.5G" is not a positive whole number/);
  assert.equal(memoryMiBFor(undefined, undefined, 2048), 2048);
  assert.equal(memoryMiBFor({ memory: { limit: -1 } }, undefined, 2048), 2048);
  assert.equal(memoryMiBFor({ memory: { limit: 6 * MiB } }, undefined, 2048), 2048);
  assert.equal(memoryMiBFor({ memory: { limit: 6 * MiB } }, undefined, 32), 6 + 40 + 1);
  assert.equal(memoryMiBFor({ memory: { limit: 512 * MiB } }, undefined, 128), 512 + 40 + 21);
  assert.equal(memoryMiBFor({ memory: { limit: 100 * MiB + 1 } }, undefined, 128), 101 + 40 + 5);
  assert.equal(memoryMiBFor({ memory: { limit: 4096 * MiB } }, undefined, 2048), 4096 + 40 + 164);
  // Per container: the annotation instead of the default, still at least what the limit needs.
  assert.equal(memoryMiBFor(undefined, { [MEMORY_ANNOTATION]: '768' }, 2048), 768);
  assert.equal(memoryMiBFor({ memory: { limit: 1024 * MiB } }, { [MEMORY_ANNOTATION]: '768' }, 2048), 1024 + 40 + 41);
  assert.throws(() => memoryMiBFor(undefined, { [MEMORY_ANNOTATION]: '-1' }, 2048), /org.vmrt.vm.memory-mib: "-1"/);
});

test('runc\'s stats from cgroup v2 files: ns from µs, "max" limits, runc\'s swap and pids conventions, uint64 exact', () => {
  const stats = runcStats({
    'cpu.stat': 'usage_usec 1500\nuser_usec 1000\nsystem_usec 500\nnr_periods 0\nnr_throttled 0\nthrottled_usec 0\n',
    'memory.current': '741376\n',
    'memory.max': 'max\n',
    'memory.peak': '800000\n',
    'memory.stat': 'file 4096\nanon 53248\n',
    'memory.swap.current': '0\n',
    'memory.swap.max': 'max\n',
    'pids.current': '3\n',
    'pids.max': 'max\n',
  });
  assert.deepEqual(stats.cpu, {
    usage: { total: 1500000n, kernel: 500000n, user: 1000000n },
    throttling: { periods: undefined, throttledPeriods: undefined, throttledTime: undefined },
  });
  assert.deepEqual(stats.memory.usage, { limit: 2n ** 64n - 1n, usage: 741376n, max: 800000n, failcnt: 0n });
  assert.deepEqual(stats.memory.swap, { limit: 2n ** 64n - 1n, usage: 741376n, failcnt: 0n });
  assert.equal(stats.memory.cache, 4096n);
  assert.deepEqual(stats.pids, { current: 3n, limit: undefined });
  const line = eventJson({ type: 'stats', id: 'c1', data: stats });
  assert.match(
    line,
    /^\{"type":"stats","id":"c1","data":\{"cpu":\{"usage":\{"total":1500000,"kernel":500000,"user":1000000\},"throttling":\{\}\},"cpuset":\{"cpu_exclusive":0,/,
  );
  assert.match(line, /"usage":\{"limit":18446744073709551615,"usage":741376,"max":800000,"failcnt":0\}/);
  assert.match(
    line,
    /"raw":\{"anon":53248,"file":4096\}\},"pids":\{"current":3\},"blkio":\{\},"hugetlb":\{\},"intel_rdt":\{\},"network_interfaces":null\}\}$/,
  );
  assert.equal(eventJson({ type: 'oom', id: 'c1' }), '{"type":"oom","id":"c1"}');
});

test("a limited swap adds the memory limit (as runc reports v1's memory + swap); a pids limit is kept", () => {
  const stats = runcStats({
    'memory.max': '1000\n',
    'memory.current': '10\n',
    'memory.swap.max': '500\n',
    'memory.swap.current': '5\n',
    'pids.max': '10\n',
  });
  assert.deepEqual([stats.memory.swap.limit, stats.memory.swap.usage, stats.pids.limit], [1500n, 15n, 10n]);
});

test('--interval takes Go durations', () => {
  assert.equal(parseDuration('5s'), 5000);
  assert.equal(parseDuration('1m30s'), 90000);
  assert.equal(parseDuration('250ms'), 250);
  assert.throws(() => parseDuration('5'), /invalid value "5" for flag -interval/);
  assert.throws(() => parseDuration('5 s'), /invalid value/);
});

test('block I/O limits as runc writes them: blkio.* on cgroup v1, io.* on v2', () => {
  const blockIO = {
    weight: 300,
    weightDevice: [{ major: 8, minor: 0, weight: 200 }],
    throttleReadBpsDevice: [{ major: 8, minor: 0, rate: 1048576 }],
    throttleWriteBpsDevice: [{ major: 8, minor: 0, rate: 2097152 }],
    throttleReadIOPSDevice: [{ major: 8, minor: 0, rate: 0 }],
    throttleWriteIOPSDevice: [{ major: 8, minor: 0, rate: 400 }],
  };
  assert.deepEqual(
    blockIOWrites(blockIO, 1, (f) => f === 'blkio.weight'),
    [
      ['blkio.weight', '300'],
      ['blkio.weight_device', '8:0 200'],
      ['blkio.throttle.read_bps_device', '8:0 1048576'],
      ['blkio.throttle.write_bps_device', '8:0 2097152'],
      ['blkio.throttle.read_iops_device', '8:0 0'],
      ['blkio.throttle.write_iops_device', '8:0 400'],
    ],
  );
  assert.deepEqual(
    blockIOWrites({ weight: 300 }, 1, () => false),
    [['blkio.bfq.weight', '300']],
  );
  assert.deepEqual(
    blockIOWrites(blockIO, 2, () => false),
    [
      ['io.weight', 'default 2930'],
      ['io.weight', '8:0 1920'],
      ['io.max', '8:0 rbps=1048576'],
      ['io.max', '8:0 wbps=2097152'],
      ['io.max', '8:0 riops=max'],
      ['io.max', '8:0 wiops=400'],
    ],
  );
  assert.deepEqual(
    blockIOWrites({ weight: 300 }, 2, (f) => f === 'io.bfq.weight'),
    [['io.bfq.weight', '300']],
  );
});

test('VM templates: the annotation decides for one container, VMRT_VM_TEMPLATE for all, off by default; anything but on/off is refused at create', () => {
  assert.equal(templateWanted(undefined, {}), false);
  assert.equal(templateWanted(undefined, { [TEMPLATE_ENV]: 'on' }), true);
  assert.equal(templateWanted({ [TEMPLATE_ANNOTATION]: 'off' }, { [TEMPLATE_ENV]: 'on' }), false);
  assert.equal(templateWanted({ [TEMPLATE_ANNOTATION]: 'on' }, {}), true);
  assert.throws(() => templateWanted(undefined, { [TEMPLATE_ENV]: 'yes' }), /VMRT_VM_TEMPLATE: "yes" must be "on" or "off"/);
  const config = { ociVersion: '1.0.2', annotations: { [TEMPLATE_ANNOTATION]: 'maybe' } } as Config;
  assert.throws(
    () => assertHonoured(config, 'b/config.json'),
    /b\/config\.json: annotations: org\.vmrt\.vm\.template: "maybe" must be "on" or "off"/,
  );
});

test('memory merging: the annotation decides for one container, VMRT_MEMORY_MERGE for all, on by default; anything but on/off is refused at create', () => {
  assert.equal(memoryMergeWanted(undefined, {}), true);
  assert.equal(memoryMergeWanted(undefined, { [MEMORY_MERGE_ENV]: 'off' }), false);
  assert.equal(memoryMergeWanted({ [MEMORY_MERGE_ANNOTATION]: 'on' }, { [MEMORY_MERGE_ENV]: 'off' }), true);
  assert.equal(memoryMergeWanted({ [MEMORY_MERGE_ANNOTATION]: 'off' }, {}), false);
  const config = { ociVersion: '1.0.2', annotations: { [MEMORY_MERGE_ANNOTATION]: 'no' } } as Config;
  assert.throws(
    () => assertHonoured(config, 'b/config.json'),
    /b\/config\.json: annotations: org\.vmrt\.vm\.memory-merge: "no" must be "on" or "off"/,
  );
});

test('a shared mmap layout: the annotation decides for one container, VMRT_SHARED_MMAP_LAYOUT for all, on under TCG only by default; anything but on/off is refused at create', () => {
  assert.equal(sharedMmapLayoutWanted(undefined, 'tcg', {}), true);
  assert.equal(sharedMmapLayoutWanted(undefined, 'kvm', {}), false);
  assert.equal(sharedMmapLayoutWanted(undefined, 'tcg', { [SHARED_MMAP_LAYOUT_ENV]: 'off' }), false);
  assert.equal(sharedMmapLayoutWanted(undefined, 'kvm', { [SHARED_MMAP_LAYOUT_ENV]: 'on' }), true);
  assert.equal(sharedMmapLayoutWanted({ [SHARED_MMAP_LAYOUT_ANNOTATION]: 'on' }, 'tcg', { [SHARED_MMAP_LAYOUT_ENV]: 'off' }), true);
  assert.equal(sharedMmapLayoutWanted({ [SHARED_MMAP_LAYOUT_ANNOTATION]: 'off' }, 'tcg', {}), false);
  const config = { ociVersion: '1.0.2', annotations: { [SHARED_MMAP_LAYOUT_ANNOTATION]: 'yes' } } as Config;
  assert.throws(
    () => assertHonoured(config, 'b/config.json'),
    /b\/config\.json: annotations: org\.vmrt\.vm\.shared-mmap-layout: "yes" must be "on" or "off"/,
  );
});

test("the host's KSM: running, stopped (with the command that starts it), or absent from the kernel", () => {
  const ksm = mkdtempSync(join(tmpdir(), 'vmrt-ksm-'));
  after(() => rmSync(ksm, { recursive: true, force: true }));
  assert.deepEqual(hostMemoryMerging(join(ksm, 'none')), {
    running: false,
    why: `this kernel has no KSM (${join(ksm, 'none')} is missing)`,
  });
  mkdirSync(join(ksm, 'mm'));
  writeFileSync(join(ksm, 'mm', 'run'), '0\n');
  assert.match(hostMemoryMerging(join(ksm, 'mm')).why, /run is 0; echo 1 > .*\/mm\/run starts it/);
  assert.equal(hostMemoryMerging(join(ksm, 'mm')).running, false);
  writeFileSync(join(ksm, 'mm', 'run'), '1\n');
  assert.equal(hostMemoryMerging(join(ksm, 'mm')).running, true);
});

test('a VM with VFIO devices boots cold; more networks than a VM started before its hooks has root ports for start a new VM', () => {
  const nic = (port: number): GuestInterface => ({
    name: `eth${port}`,
    mac: `02:42:ac:11:00:0${port}`,
    mtu: 1500,
    addresses: [],
    tap: `t${port}`,
    port,
  });
  assert.equal(tooManyNics([nic(0)]), undefined);
  assert.equal(tooManyNics([nic(0), nic(1)]), undefined);
  assert.match(tooManyNics([nic(0), nic(1), nic(2)]) ?? '', /3 networks: a VM started before its hooks has root ports for 2/);
  assert.equal(coldBootReason([]), undefined);
  assert.match(coldBootReason(['-device', 'vfio-pci,host=0000:01:00.0']) ?? '', /VFIO/);
});
