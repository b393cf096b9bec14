/**
 * Pods in one VM, as Kubernetes drives them: a private containerd 1.6 with the `vmrt` runtime as
 * `vmrt install --containerd` prints it, driven through its CRI v1 gRPC API (RunPodSandbox with
 * the runtime handler `vmrt`, two containers sharing the pod's network, ExecSync, their logs, one
 * container stopped and removed while the pod runs on, StopPodSandbox and RemovePodSandbox): one
 * QEMU for the whole pod, nothing left after. Bad input: a sandbox that does not exist, a sandbox
 * whose VM died. Needs root, containerd, containernetworking-plugins, QEMU, the guest and the shim.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { CRI_IMAGE, startContainerd, type Containerd } from '../support/cri.js';
import { assertNothingLeft } from '../support/leftovers.js';
import { waitFor } from '../support/wait.js';
import { processesMentioning } from '../../runtime/src/proc.js';
import { runDirFor } from '../../runtime/src/state.js';
import { cgroupMounts } from '../../runtime/src/cgroups.js';

let c: Containerd;
/** The pods' parent cgroup, as the kubelet's cgroupfs driver names a pod's (the kubelet makes and removes it). */
const KUBEPODS = `/vmrt-cri-test-${randomBytes(4).toString('hex')}`;

before(async () => {
  c = await startContainerd();
});

after(async () => {
  await c?.stop();
  // The kubelet's part: the pods' cgroups and their parent (with what a failed test left in them).
  const removeCgroupTree = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) if (entry.isDirectory()) removeCgroupTree(join(dir, entry.name));
    rmdirSync(dir);
  };
  for (const { mountPoint } of cgroupMounts()) if (existsSync(join(mountPoint, KUBEPODS))) removeCgroupTree(join(mountPoint, KUBEPODS));
});

/** The cgroups left under the pod's parent cgroup, in every hierarchy (a cgroup is a folder). */
function cgroupsUnder(parent: string): string[] {
  return cgroupMounts().flatMap(({ mountPoint }) => {
    const dir = join(mountPoint, parent);
    if (!existsSync(dir)) return [];
    return readdirSync(dir, { withFileTypes: true })
      .filter((entry) => entry.isDirectory())
      .map((entry) => join(dir, entry.name));
  });
}

/** The kubelet's namespace options: the pod's network and IPC, a PID namespace per container. */
const NAMESPACES = { network: 'POD', pid: 'CONTAINER', ipc: 'POD' };

function podConfig(name: string): Record<string, unknown> {
  const uid = randomBytes(8).toString('hex');
  return {
    metadata: { name, uid, namespace: 'default', attempt: 0 },
    hostname: name,
    logDirectory: join(c.logRoot, `default_${name}_${uid}`),
    linux: { cgroupParent: `${KUBEPODS}/pod${uid}`, securityContext: { namespaceOptions: NAMESPACES } },
  };
}

const cgroupParentOf = (pod: { config: Record<string, unknown> }) => (pod.config.linux as { cgroupParent: string }).cgroupParent;

async function runPod(name: string): Promise<{ id: string; config: Record<string, unknown> }> {
  const config = podConfig(name);
  const res = await c.runtime('RunPodSandbox', { config, runtimeHandler: 'vmrt' });
  return { id: res.podSandboxId as string, config };
}

async function createContainer(pod: { id: string; config: Record<string, unknown> }, name: string, command: string[]): Promise<string> {
  const res = await c.runtime('CreateContainer', {
    podSandboxId: pod.id,
    config: {
      metadata: { name, attempt: 0 },
      image: { image: CRI_IMAGE },
      command,
      logPath: `${name}/0.log`,
      linux: { securityContext: { namespaceOptions: NAMESPACES } },
    },
    sandboxConfig: pod.config,
  });
  return res.containerId as string;
}

/** The QEMU processes of the containers `ids` (a QEMU's command line names its container's socket folder). */
function qemusOf(ids: string[]): number[] {
  const pids = new Set<number>();
  for (const id of ids)
    for (const p of processesMentioning(`${runDirFor(c.runtimeRoot, id)}/`)) if (p.cmdline.includes('qemu-system')) pids.add(p.pid);
  return [...pids];
}

/** The runc shims containerd started (their command line names its socket). */
const shims = () => processesMentioning(c.socket).filter((p) => p.cmdline.includes('containerd-shim'));

/** The pod's runc shim socket: containerd 1.6 names it by a hash of its address, namespace and the sandbox id. */
const shimSocketOf = (pod: string) =>
  join(
    '/run/containerd/s',
    createHash('sha256')
      .update(join(c.socket, 'k8s.io', pod))
      .digest('hex'),
  );

/** Stops and removes the pod, then asserts nothing of its containers, network namespace, shim or cgroups is left. */
async function removePodAndAssertNothingLeft(pod: string, containers: string[], netns: string, parentCgroup: string): Promise<void> {
  await c.runtime('StopPodSandbox', { podSandboxId: pod });
  await c.runtime('RemovePodSandbox', { podSandboxId: pod });
  for (const id of [pod, ...containers]) await assertNothingLeft(c.runtimeRoot, id, 60000);
  assert.equal(existsSync(netns), false, `${netns} left`);
  await waitFor('the runc shims to exit', () => (shims().length === 0 ? true : undefined), 30000);
  const shimSocket = shimSocketOf(pod);
  assert.equal(existsSync(shimSocket), false, `${shimSocket} left`);
  assert.deepEqual(cgroupsUnder(parentCgroup), []);
  const stillThere = await c.runtime('ListContainers', { filter: { podSandboxId: pod } });
  assert.deepEqual(stillThere.containers, []);
}

/** The pod's network namespace as containerd made it (CNI), from the sandbox's verbose status. */
async function netnsOf(pod: string): Promise<string> {
  const status = await c.runtime('PodSandboxStatus', { podSandboxId: pod, verbose: true });
  assert.equal(status.status.state, 'SANDBOX_READY');
  const info = JSON.parse(status.info.info as string) as { runtimeSpec: { linux: { namespaces: Array<{ type: string; path?: string }> } } };
  const path = info.runtimeSpec.linux.namespaces.find((ns) => ns.type === 'network')?.path;
  assert.ok(path && existsSync(path), `the pod's network namespace ${path}`);
  return path;
}

/** A busybox web server on the pod's loopback only. */
const SERVE = 'mkdir -p /www; echo hello-pod > /www/index.html; exec httpd -f -p 127.0.0.1:8080 -h /www';
/** Reads the server over 127.0.0.1 (the pod's one network namespace) and logs what it read. */
const READ =
  'until wget -qO- http://127.0.0.1:8080/index.html > /tmp/page; do sleep 1; done; echo "read: $(cat /tmp/page)"; exec sleep 2147483647';

test('feature container-network: a CRI pod of two containers runs in one VM; they share 127.0.0.1; ExecSync, logs; nothing left after RemovePodSandbox', async () => {
  const version = await c.runtime('Version', { version: 'v1' });
  assert.equal(version.runtimeName, 'containerd');
  assert.equal(version.runtimeApiVersion, 'v1');

  const pod = await runPod('web');
  const netns = await netnsOf(pod.id);
  const server = await createContainer(pod, 'server', ['sh', '-c', SERVE]);
  await c.runtime('StartContainer', { containerId: server });
  const reader = await createContainer(pod, 'reader', ['sh', '-c', READ]);
  await c.runtime('StartContainer', { containerId: reader });

  // The reader's log, written by containerd into the pod's log directory (CRI's log format:
  // time, stream, tag, line).
  const readerLog = join(pod.config.logDirectory as string, 'reader', '0.log');
  const line = await waitFor(
    'the reader to log the page it read from 127.0.0.1:8080',
    () =>
      existsSync(readerLog)
        ? readFileSync(readerLog, 'utf8')
            .split('\n')
            .find((l) => l.endsWith('read: hello-pod'))
        : undefined,
    120000,
    c.logTail,
  );
  assert.match(line, /^\S+ stdout F read: hello-pod$/);

  for (const id of [server, reader]) {
    const status = await c.runtime('ContainerStatus', { containerId: id });
    assert.equal(status.status.state, 'CONTAINER_RUNNING', id);
  }
  assert.ok(existsSync(shimSocketOf(pod.id)), `the pod's shim socket ${shimSocketOf(pod.id)}`);
  // One VM for the pod: the sandbox's; the app containers have no QEMU of their own.
  assert.equal(qemusOf([pod.id]).length, 1);
  assert.deepEqual(qemusOf([pod.id, server, reader]), qemusOf([pod.id]));
  // The VM in the sandbox's cgroup under the pod's parent (what the kubelet accounts the pod by).
  const qemuCgroups = readFileSync(`/proc/${qemusOf([pod.id])[0]}/cgroup`, 'utf8');
  assert.ok(qemuCgroups.includes(`:${cgroupParentOf(pod)}/${pod.id}\n`), qemuCgroups);

  const exec = await c.runtime('ExecSync', { containerId: server, cmd: ['cat', '/www/index.html'], timeout: 60 });
  assert.equal(exec.exitCode, 0, exec.stderr.toString());
  assert.equal(exec.stdout.toString(), 'hello-pod\n');
  // The pod's IPC: containerd mounts the sandbox's /dev/shm into each container.
  const wrote = await c.runtime('ExecSync', { containerId: server, cmd: ['sh', '-c', 'echo shared > /dev/shm/note'], timeout: 60 });
  assert.equal(wrote.exitCode, 0, wrote.stderr.toString());
  const shm = await c.runtime('ExecSync', { containerId: reader, cmd: ['cat', '/dev/shm/note'], timeout: 60 });
  assert.equal(shm.stdout.toString(), 'shared\n', shm.stderr.toString());
  const failing = await c.runtime('ExecSync', { containerId: reader, cmd: ['sh', '-c', 'echo oops >&2; exit 3'], timeout: 60 });
  assert.equal(failing.exitCode, 3);
  assert.equal(failing.stderr.toString(), 'oops\n');
  // Each container has its own processes (a PID namespace per container, as the kubelet asks).
  const ps = await c.runtime('ExecSync', { containerId: reader, cmd: ['ps', '-o', 'comm'], timeout: 60 });
  assert.ok(!ps.stdout.toString().includes('httpd'), ps.stdout.toString());

  // One container stopped and removed while the pod runs on: the VM stays, the other answers.
  const [vm] = qemusOf([pod.id]);
  await c.runtime('StopContainer', { containerId: reader, timeout: 2 });
  assert.equal((await c.runtime('ContainerStatus', { containerId: reader })).status.state, 'CONTAINER_EXITED');
  await c.runtime('RemoveContainer', { containerId: reader });
  await assertNothingLeft(c.runtimeRoot, reader);
  assert.deepEqual(qemusOf([pod.id]), [vm]);
  const after = await c.runtime('ExecSync', {
    containerId: server,
    cmd: ['wget', '-qO-', 'http://127.0.0.1:8080/index.html'],
    timeout: 60,
  });
  assert.equal(after.stdout.toString(), 'hello-pod\n', after.stderr.toString());

  await removePodAndAssertNothingLeft(pod.id, [server, reader], netns, cgroupParentOf(pod));
});

test('bad input through CRI: a container in a sandbox that does not exist is refused, and nothing is made', async () => {
  const bogus = { id: 'nosuchsandbox', config: podConfig('ghost') };
  await assert.rejects(
    createContainer(bogus, 'lost', ['true']),
    /CRI CreateContainer: failed to find sandbox id "nosuchsandbox": not found/,
  );
  assert.deepEqual(qemusOf(['nosuchsandbox']), []);
  assert.deepEqual(shims(), []);
});

test('bad input through CRI: a pod whose VM died is not ready, a container in it is refused, and nothing is left', async () => {
  const pod = await runPod('doomed');
  const netns = await netnsOf(pod.id);
  const [qemu] = qemusOf([pod.id]);
  assert.ok(qemu, 'the pod has a QEMU');
  process.kill(qemu, 'SIGKILL');
  await waitFor('the QEMU to go', () => (qemusOf([pod.id]).length === 0 ? true : undefined));
  // containerd deletes the sandbox's task when its init ends (the VM with it): the pod is not ready.
  await waitFor('the pod to be not ready', async () => {
    const status = await c.runtime('PodSandboxStatus', { podSandboxId: pod.id });
    return status.status.state === 'SANDBOX_NOTREADY' ? true : undefined;
  });
  // Refused by containerd itself now (in the moment before it saw the exit, vmrt refuses: the
  // sandbox's VM is gone, test/integration/runtime-cli.test.ts).
  await assert.rejects(
    createContainer(pod, 'late', ['sleep', '1000']),
    /CRI CreateContainer: failed to get sandbox container task: no running task found/,
  );
  assert.deepEqual((await c.runtime('ListContainers', { filter: { podSandboxId: pod.id } })).containers, []);
  await removePodAndAssertNothingLeft(pod.id, [], netns, cgroupParentOf(pod));
});
