/**
 * Pods: several containers in one VM. A container joins the VM of another when it names that
 * container's network namespace (Docker's `--network container:A`, compose's
 * `network_mode: service:x`) or, under Kubernetes, when its CRI annotations name the pod's
 * sandbox. The VM's agent builds it beside the others (its own mount, pid and uts namespaces and
 * cgroup; the VM's network stack); it gets its own shim on the host, so containerd sees it as
 * any container. The VM belongs to the container that booted it: it stops with it.
 */
import { identity } from './config-check.js';
import { RuntimeError } from './errors.js';
import { isAlive } from './proc.js';
import type { Config } from './spec.js';
import { listStates, readState, statusOf, type ContainerState } from './state.js';

/** The container type and sandbox id annotations of containerd's CRI and of CRI-O. */
const SANDBOX_ANNOTATIONS = [
  { type: 'io.kubernetes.cri.container-type', sandboxId: 'io.kubernetes.cri.sandbox-id' },
  { type: 'io.kubernetes.cri-o.ContainerType', sandboxId: 'io.kubernetes.cri-o.SandboxID' },
] as const;

/** The namespaces a pod container may share with the container of its VM (Kubernetes shares ipc and uts, and pid when asked). */
const SHARED_NAMESPACES = ['ipc', 'pid', 'uts'] as const;
type SharedNamespace = (typeof SHARED_NAMESPACES)[number];

/** What a new container of a pod shares with the container whose VM it joins. */
export interface PodJoin {
  /** The container that booted the VM. */
  vm: ContainerState;
  /** Namespace types (ipc, pid, uts) it shares with that container in the guest, and where config.json asks for it. */
  shares: Array<{ type: SharedNamespace; where: string }>;
}

/**
 * A container of a Kubernetes pod (its sandbox or an app container), by its CRI annotations. Their
 * /dev/shm is the sandbox's host tmpfs (the pod's IPC), which the VM shares rather than replacing it
 * with a tmpfs of each container's own.
 */
export function isCriPodMember(config: Config): boolean {
  const annotations = config.annotations ?? {};
  return SANDBOX_ANNOTATIONS.some((names) => ['sandbox', 'container'].includes(annotations[names.type] ?? ''));
}

/** The sandbox a CRI app container belongs to, and the annotation that names it. */
function sandboxOf(config: Config): { id: string; where: string } | undefined {
  const annotations = config.annotations ?? {};
  for (const names of SANDBOX_ANNOTATIONS) {
    const id = annotations[names.sandboxId];
    if (annotations[names.type] === 'container' && id) return { id, where: `annotations["${names.sandboxId}"]` };
  }
  return undefined;
}

/** The VM of `owner` runs (its init shim holds the agent): a container can join it. */
function requireRunningVm(owner: ContainerState, where: string, configPath: string): ContainerState {
  const status = statusOf(owner);
  if ((status === 'created' || status === 'running') && isAlive(owner.qemu)) return owner;
  throw new RuntimeError(
    `${configPath}: ${where}: the pod's VM is that of container "${owner.id}", which is ${status === 'creating' ? 'still being created' : 'stopped'}: ${status === 'creating' ? 'create it first' : 'its VM is gone; start the pod again'}`,
  );
}

/**
 * The VM a new container joins, or undefined when it boots its own: the sandbox its CRI
 * annotations name, else the vmrt container whose network namespace it names. Throws, before
 * anything is made, for a sandbox that does not exist or a VM that is gone.
 */
export function podJoinFor(root: string, config: Config, configPath: string): PodJoin | undefined {
  const owners = listStates(root).filter((state) => !state.pod);
  const namespaces = config.linux?.namespaces ?? [];
  const net = namespaces.findIndex((ns) => ns.type === 'network' && ns.path);
  const sandbox = sandboxOf(config);
  let vm: ContainerState | undefined;
  if (sandbox) {
    const owner = readState(root, sandbox.id);
    if (!owner)
      throw new RuntimeError(
        `${configPath}: ${sandbox.where}: sandbox "${sandbox.id}" is not a vmrt container (no such container under ${root}; a sandbox whose VM stopped is deleted with it: start the pod again)`,
      );
    if (owner.pod) throw new RuntimeError(`${configPath}: ${sandbox.where}: "${sandbox.id}" is a container of a pod, not its sandbox`);
    vm = requireRunningVm(owner, sandbox.where, configPath);
  } else if (net >= 0) {
    const target = identity(namespaces[net]!.path!);
    const owner = owners.find((state) => target !== undefined && state.netns.path && identity(state.netns.path) === target);
    if (owner) vm = requireRunningVm(owner, `linux.namespaces[${net}].path`, configPath);
  }
  if (!vm) return undefined;
  const shares: PodJoin['shares'] = [];
  namespaces.forEach((ns, i) => {
    const type = SHARED_NAMESPACES.find((shared) => shared === ns.type);
    if (type && ns.path && isNamespaceOf(ns.path, vm!)) shares.push({ type, where: `linux.namespaces[${i}].path` });
  });
  return { vm, shares };
}

/** A namespace path of the container's stand-in on the host (its init shim): Docker's `container:A`, CRI's pod namespaces. */
export function isNamespaceOf(path: string, state: ContainerState): boolean {
  const pid = /^\/proc\/(\d+)\/ns\//.exec(path)?.[1];
  return pid !== undefined && state.shim !== undefined && Number(pid) === state.shim.pid && isAlive(state.shim);
}

/**
 * The guest spec's annotation naming the containers whose namespaces a pod container shares,
 * `{"ipc":"<id>","pid":"<id>","uts":"<id>"}` (PROTOCOL.md).
 */
export const SHARE_ANNOTATION = 'org.vmrt.pod.share';
