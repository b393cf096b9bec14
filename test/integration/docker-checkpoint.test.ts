/**
 * `docker checkpoint create` and `docker start --checkpoint` with vmrt: CRIU dumps the
 * container's processes inside its VM and restores them into a new VM. A counter proves that
 * the memory came back (its numbers continue instead of starting again at 0). Needs root,
 * docker.io (dockerd --experimental), QEMU, the guest, and criu on the host.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startDockerd, type Dockerd } from '../support/dockerd.js';
import { importBusyboxImage, makeBusyboxBundle, REPO } from '../support/images.js';
import { assertNothingLeft, leftovers } from '../support/leftovers.js';
import { sleep, waitFor } from '../support/wait.js';

const IMAGE = 'vmrt-test-busybox';
const COUNTER = ['sh', '-c', 'i=0; while :; do echo $i; i=$((i+1)); sleep 1; done'];
const VMRT = join(REPO, 'runtime', 'bin', 'vmrt');
let d: Dockerd;
let work: string;

/** The numbers the counter printed so far (docker logs keep every run's output). */
function counted(name: string): number[] {
  return d
    .dockerOk(['logs', name])
    .split('\n')
    .filter((line) => line !== '')
    .map(Number);
}

async function countedAtLeast(name: string, count: number): Promise<number[]> {
  return waitFor(
    `${count} numbers from ${name}`,
    () => {
      const numbers = counted(name);
      return numbers.length >= count ? numbers : undefined;
    },
    90000,
  );
}

/**
 * `docker start --checkpoint`, again while dockerd 20.10 refuses it for a race of its own (runc's
 * containers meet it too): the checkpoint's content that containerd stored at checkpoint time
 * stays in its store until its garbage collection, and the start's upload of the same bytes is
 * refused as already there.
 */
async function startFromCheckpoint(checkpoint: string, name: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    const r = d.docker(['start', '--checkpoint', checkpoint, name]);
    if (r.status === 0) return;
    if (attempt === 5 || !/failed to upload checkpoint to containerd: commit failed: content sha256:\w+: already exists/.test(r.stderr))
      assert.fail(`docker start --checkpoint ${checkpoint} ${name} exited ${r.status}: ${r.stderr}`);
    await sleep(2000);
  }
}

function running(name: string): boolean {
  return d.dockerOk(['inspect', '--format', '{{.State.Running}}', name]).trim() === 'true';
}

before(async () => {
  d = await startDockerd(['--experimental']);
  work = mkdtempSync('/tmp/vmrt-ckpt-');
  importBusyboxImage((args, input) => d.dockerOk(args, input), work, IMAGE);
});

after(async () => {
  d?.removeAllContainers();
  await d?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

test('feature checkpoint: docker checkpoint create stops the container, docker start --checkpoint continues its counter from memory', async () => {
  const name = 'ckpt-counter';
  const id = d.dockerOk(['run', '-d', '--runtime', 'vmrt', '--name', name, IMAGE, ...COUNTER]).trim();
  try {
    await countedAtLeast(name, 3);
    d.dockerOk(['checkpoint', 'create', name, 'cp1']);
    assert.equal(running(name), false, 'the container stops at its checkpoint');
    assert.match(d.dockerOk(['checkpoint', 'ls', name]), /\bcp1\b/);
    const before = counted(name);
    await startFromCheckpoint('cp1', name);
    assert.equal(running(name), true);
    const after = await countedAtLeast(name, before.length + 3);
    // One run of numbers: no restart at 0, none lost, none repeated.
    assert.deepEqual(
      after,
      after.map((_, i) => i),
      `docker logs: ${after.join(' ')}`,
    );
  } finally {
    d.docker(['rm', '-f', name]);
  }
  // Nothing of either VM is left, the checkpoint shares included.
  await assertNothingLeft(d.runtimeRoot, id);
});

test('feature checkpoint: --leave-running keeps the container counting, and its checkpoint restores the count of that moment', async () => {
  const name = 'ckpt-leave-running';
  d.dockerOk(['run', '-d', '--runtime', 'vmrt', '--name', name, IMAGE, ...COUNTER]);
  try {
    const atStart = await countedAtLeast(name, 3);
    d.dockerOk(['checkpoint', 'create', '--leave-running', name, 'cp2']);
    const atEnd = counted(name);
    assert.equal(running(name), true, 'the container runs on after a --leave-running checkpoint');
    await countedAtLeast(name, atEnd.length + 2);
    d.dockerOk(['stop', '--time', '1', name]);
    const stopped = counted(name);
    await startFromCheckpoint('cp2', name);
    const all = await countedAtLeast(name, stopped.length + 2);
    const resumed = all.slice(stopped.length);
    // The restored counter goes on from the value it had at the checkpoint.
    assert.ok(
      resumed[0]! > atStart[atStart.length - 1]! && resumed[0]! <= atEnd[atEnd.length - 1]! + 1,
      `first number after the restore ${resumed[0]}: expected one after the checkpoint's (between ${atStart.at(-1)! + 1} and ${atEnd.at(-1)! + 1})`,
    );
    assert.deepEqual(
      resumed,
      resumed.map((_, i) => resumed[0]! + i),
    );
  } finally {
    d.docker(['rm', '-f', name]);
  }
});

test('checkpoint errors: a checkpoint that does not exist, image paths without a checkpoint, unsupported flags', () => {
  const name = 'ckpt-missing';
  d.dockerOk(['create', '--runtime', 'vmrt', '--name', name, IMAGE, 'true']);
  try {
    const r = d.docker(['start', '--checkpoint', 'nope', name]);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /nope/);
  } finally {
    d.docker(['rm', '-f', name]);
  }

  const root = join(work, 'root');
  const bundle = makeBusyboxBundle(join(work, 'bundle'), ['true']);
  const empty = join(work, 'empty');
  mkdirSync(empty);
  const file = join(work, 'a-file');
  writeFileSync(file, '');
  const vmrt = (args: string[]) => spawnSync(VMRT, ['--root', root, ...args], { encoding: 'utf8', timeout: 60000 });
  const cases: Array<[string[], RegExp]> = [
    [
      ['restore', '--detach', '--bundle', bundle, '--image-path', join(work, 'missing'), 'r1'],
      /--image-path .*missing: no such checkpoint folder/,
    ],
    [
      ['restore', '--detach', '--bundle', bundle, '--image-path', empty, 'r1'],
      /--image-path .*empty: not a checkpoint \(no inventory\.img in it\)/,
    ],
    [['checkpoint', '--image-path', file, 'r1'], /--image-path .*a-file: /],
    [['checkpoint', '--image-path', join(work, 'images'), 'r1'], /container "r1" does not exist/],
    [['checkpoint', '--lazy-pages', 'r1'], /--lazy-pages is not supported by vmrt/],
  ];
  for (const [args, expected] of cases) {
    const r = vmrt(args);
    assert.notEqual(r.status, 0, `vmrt ${args.join(' ')} succeeded`);
    assert.match(r.stderr, expected, `vmrt ${args.join(' ')}`);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  }
  assert.deepEqual(leftovers(root, 'r1'), []);
});
