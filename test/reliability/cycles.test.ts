/**
 * Create/start/delete cycles of vmrt containers through a private dockerd (started here), with a
 * container left running through them: each cycle leaves nothing (state and socket folders,
 * netns and so taps, mounts, cgroups, processes), and the long-lived processes (dockerd,
 * containerd, the running container's shims and QEMU) keep their open fds and mounts, their
 * memory within a bound. `npm run test:soak` runs 1,000 cycles beside runc (bench/runtime-cycles.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dockerdForFile, type Dockerd } from '../support/dockerd.js';
import { cycle, footprintOf, longLivedProcesses, mountsOf, type Footprint } from '../support/cycles.js';
import { assertNothingLeft } from '../support/leftovers.js';

const IMAGE = 'vmrt-test-busybox';
const CYCLES = 20;
/**
 * A fd leaked per cycle shows as CYCLES (20); dockerd keeps a few more sockets in its pools after
 * the cycles (2 here, 5 in a CI run, still open 5 s later): half of CYCLES tells the two apart.
 */
const FD_SLACK = CYCLES / 2;
/** Go daemons' heaps breathe; a leak of the size of a container's bookkeeping per cycle does not fit. */
const RSS_SLACK_KIB = 24 * 1024;
let d: Dockerd;

dockerdForFile(IMAGE, (daemon) => {
  d = daemon;
});

const footprints = (pids: Record<string, number>) =>
  Object.fromEntries(Object.entries(pids).map(([role, pid]) => [role, footprintOf(pid)])) as Record<string, Footprint>;

test(`${CYCLES} create/start/delete cycles leave nothing, and the long-lived processes do not grow`, async () => {
  const keeper = d.dockerOk(['run', '-d', '--runtime', 'vmrt', IMAGE, 'sleep', '100000']).trim();
  // Two cycles first: caches and pools filled once are not growth.
  for (let i = 0; i < 2; i++) assert.equal(await cycle(d, 'vmrt', IMAGE), undefined);
  const pids = longLivedProcesses(d, keeper);
  const before = footprints(pids);
  const mountsBefore = mountsOf(d);
  for (let i = 0; i < CYCLES; i++) assert.equal(await cycle(d, 'vmrt', IMAGE), undefined, `cycle ${i + 1}`);
  const after = footprints(pids);
  assert.deepEqual(longLivedProcesses(d, keeper), pids, 'the same long-lived processes');
  assert.equal(mountsOf(d), mountsBefore, "mounts under the daemon's folder");
  for (const role of Object.keys(pids)) {
    const [b, a] = [before[role]!, after[role]!];
    assert.ok(a.fds <= b.fds + FD_SLACK, `${role}: ${b.fds} fds before, ${a.fds} after ${CYCLES} cycles`);
    assert.ok(a.rssKiB <= b.rssKiB + RSS_SLACK_KIB, `${role}: RSS ${b.rssKiB} KiB before, ${a.rssKiB} KiB after ${CYCLES} cycles`);
  }
  d.dockerOk(['rm', '-f', keeper]);
  await assertNothingLeft(d.runtimeRoot, keeper);
});
