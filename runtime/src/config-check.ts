/**
 * The capability check at `create`: which features of the capability table a config.json asks
 * for. Everything the table marks `unsupported` fails before any VM boots. The settings are read
 * as the linter reads them (oci-detection.ts), the verdicts come from capabilities.ts, so
 * `create`, `vmrt features` and the linter agree; this module adds what only the host knows.
 */
import { statfsSync, statSync } from 'node:fs';
import { CAPABILITIES, type FeatureId } from './capabilities.js';
import { RuntimeError } from './errors.js';
import { isHostDevice, isPrivileged, isProcessNamespace, mountFeatures, namespacesLeftToHost, PROPAGATING_MODES } from './oci-detection.js';
import type { Config } from './spec.js';
import { memoryMergeWanted, memoryMiBFor, sharedMmapLayoutWanted, templateWanted, vcpusFor } from './vm.js';

export interface FeatureUse {
  feature: FeatureId;
  /** Where in config.json, as a dotted path. */
  where: string;
  detail: string;
  /** Why this use is refused although the feature works elsewhere (its status is not `unsupported`). */
  refused?: string;
}

/** dev:ino of a file, to compare namespaces. */
export function identity(path: string): string | undefined {
  try {
    const st = statSync(path);
    return `${st.dev}:${st.ino}`;
  } catch {
    return undefined;
  }
}

/** True when `path` is the network namespace of the host (PID 1's) or of this process. */
export function isHostNetns(path: string): boolean {
  const target = identity(path);
  return target !== undefined && (target === identity('/proc/1/ns/net') || target === identity('/proc/self/ns/net'));
}

/**
 * Detects the features a config uses. `vmrtNetnsPaths` are the network namespaces of vmrt
 * containers: joining one of those puts the container into that container's VM (pod.ts); joining
 * another container's is refused. `podNamespaces`: the indexes in linux.namespaces of the ipc and
 * pid namespaces shared with the container of that VM (pod.ts), not the host's.
 */
export function detectFeatures(
  config: Config,
  vmrtNetnsPaths: readonly string[] = [],
  podNamespaces: readonly number[] = [],
): FeatureUse[] {
  const uses: FeatureUse[] = [];
  const listed = config.linux?.namespaces;
  const namespaces = listed ?? [];
  const nsIndex = (type: string) => namespaces.findIndex((ns) => ns.type === type);
  const HOST_FEATURE = { network: 'host-network', pid: 'host-pid', ipc: 'host-ipc', uts: 'host-uts' } as const;
  for (const type of namespacesLeftToHost(listed?.map((ns) => ns.type))) {
    uses.push({
      feature: HOST_FEATURE[type],
      where: listed ? 'linux.namespaces' : 'linux',
      detail: listed
        ? `no "${type}" namespace: the container would share the host's`
        : 'no namespaces list: the container would share every namespace of the host',
    });
  }

  const net = nsIndex('network');
  if (net >= 0) {
    const path = namespaces[net]!.path;
    // Docker's --network host names the host's namespace by a bind mount of it
    // (<exec-root>/netns/default): whatever the path, the host's own namespace is host-network.
    if (path && isHostNetns(path)) {
      uses.push({ feature: 'host-network', where: `linux.namespaces[${net}].path`, detail: `${path} is the host's network namespace` });
    } else if (path && isProcessNamespace(path)) {
      // A process's namespace (/proc/<pid>/ns/net) is another container's; a named netns
      // (e.g. /var/run/netns/cni-…, made by CNI for this container) is the container's own.
      const target = identity(path);
      const ours = vmrtNetnsPaths.some((p) => target !== undefined && identity(p) === target);
      uses.push({
        feature: 'container-network',
        where: `linux.namespaces[${net}].path`,
        detail: `joins the network namespace ${path} of a${ours ? ' vmrt' : ' container that is not a vmrt'} container`,
        ...(ours
          ? {}
          : {
              refused:
                "that container's network namespace lives on the host (runc) or its runtime is not vmrt: only a vmrt container's VM can be joined, and a VM cannot take over another container's interfaces",
            }),
      });
    }
  }

  const joinable: Array<[string, FeatureId]> = [
    ['pid', 'host-pid'],
    ['ipc', 'host-ipc'],
    ['uts', 'host-uts'],
    ['user', 'userns-host'],
  ];
  for (const [type, feature] of joinable) {
    const i = nsIndex(type);
    if (i >= 0 && namespaces[i]!.path && !podNamespaces.includes(i)) {
      uses.push({
        feature,
        where: `linux.namespaces[${i}].path`,
        detail: `joins the ${type} namespace ${namespaces[i]!.path} on the host`,
      });
    }
  }

  const capabilities = config.process?.capabilities;
  const privileged = isPrivileged(
    capabilities?.bounding ?? capabilities?.permitted ?? capabilities?.effective,
    (config.linux as { maskedPaths?: string[] } | undefined)?.maskedPaths,
  );
  if (privileged)
    uses.push({
      feature: 'privileged',
      where: 'process.capabilities',
      detail: 'every capability, no masked paths: privileged inside the VM, without host devices',
    });
  (config.linux?.devices ?? []).forEach((device, i) => {
    if (!privileged && isHostDevice(device.path)) {
      uses.push({ feature: 'device', where: `linux.devices[${i}]`, detail: `host device ${device.path}` });
    }
  });

  (config.mounts ?? []).forEach((mount, i) => {
    const { fromDev, ontoProcSys, propagation } = mountFeatures(mount);
    if (fromDev) uses.push({ feature: 'dev-volume', where: `mounts[${i}].source`, detail: `bind mount of ${mount.source}` });
    if (propagation) {
      uses.push({
        feature: 'mount-propagation',
        where: `mounts[${i}].options`,
        detail: `"${propagation}" propagation on ${mount.destination}`,
      });
    }
    if (ontoProcSys) uses.push({ feature: 'proc-sys-mount', where: `mounts[${i}].destination`, detail: `mount onto ${mount.destination}` });
  });
  const rootPropagation = config.linux?.rootfsPropagation;
  if (rootPropagation && PROPAGATING_MODES.has(rootPropagation)) {
    uses.push({ feature: 'mount-propagation', where: 'linux.rootfsPropagation', detail: `"${rootPropagation}" root propagation` });
  }
  return uses;
}

export function unsupportedUses(uses: readonly FeatureUse[]): FeatureUse[] {
  return uses.filter((use) => use.refused !== undefined || CAPABILITIES[use.feature].status === 'unsupported');
}

export function describeUse(use: FeatureUse, configPath: string): string {
  const cap = CAPABILITIES[use.feature];
  const instead = cap.workaround ? `; instead: ${cap.workaround}` : '';
  return `${configPath}: ${use.where}: unsupported feature "${use.feature}" (${use.detail}): ${use.refused ?? cap.reason}${instead}`;
}

/** Throws when anything is unsupported: one line per feature (a `--privileged` asks for every host device). */
export function assertSupported(
  config: Config,
  configPath: string,
  vmrtNetnsPaths: readonly string[],
  podNamespaces: readonly number[] = [],
): FeatureUse[] {
  const uses = detectFeatures(config, vmrtNetnsPaths, podNamespaces);
  const byFeature = new Map<FeatureId, FeatureUse[]>();
  for (const use of unsupportedUses(uses)) byFeature.set(use.feature, [...(byFeature.get(use.feature) ?? []), use]);
  if (byFeature.size === 0) return uses;
  const lines = [...byFeature.values()].map((group) => {
    const shown = group.slice(0, 3);
    const more = group.length > shown.length ? ` and ${group.length - shown.length} more` : '';
    return describeUse(
      {
        feature: group[0]!.feature,
        where: shown.map((u) => u.where).join(', ') + more,
        detail: shown.map((u) => u.detail).join('; ') + more,
        refused: group[0]!.refused,
      },
      configPath,
    );
  });
  throw new RuntimeError(lines.join('\n'));
}

interface IdMapping {
  containerID: number;
  hostID: number;
  size: number;
}

/** The guest kernel's limit on the lines of a uid_map or gid_map. */
const MAX_ID_MAPPINGS = 340;
const ID_LIMIT = 2 ** 32;

/**
 * linux.uidMappings and gidMappings, as the guest kernel and the agent take them: with a new user
 * namespace, each list is present, at most 340 ranges, none empty, past 2^32 or overlapping
 * another inside or outside, and maps id 0 (the agent makes the init root of the namespace, as
 * runc does); without one, no mappings (runc refuses them too).
 */
export function idMappingRefusals(config: Config): string[] {
  const refusals: string[] = [];
  const namespaces = config.linux?.namespaces ?? [];
  const userns = namespaces.some((ns) => ns.type === 'user' && !ns.path);
  for (const key of ['uidMappings', 'gidMappings'] as const) {
    const where = `linux.${key}`;
    const list = config.linux?.[key] as IdMapping[] | undefined;
    if (!userns) {
      if (list !== undefined && list.length > 0)
        refusals.push(`${where}: mappings need a new user namespace (linux.namespaces: {"type": "user"})`);
      continue;
    }
    if (list === undefined || list.length === 0) {
      refusals.push(`${where}: a new user namespace needs at least one mapping`);
      continue;
    }
    if (list.length > MAX_ID_MAPPINGS) refusals.push(`${where}: ${list.length} mappings, more than the kernel's ${MAX_ID_MAPPINGS}`);
    list.forEach((m, i) => {
      if (m.size < 1) refusals.push(`${where}[${i}].size: a mapping covers at least one id`);
      else if (m.containerID + m.size > ID_LIMIT || m.hostID + m.size > ID_LIMIT)
        refusals.push(`${where}[${i}]: the range ends past the largest id (${ID_LIMIT - 1})`);
      for (let j = 0; j < i; j++) {
        const other = list[j]!;
        for (const side of ['containerID', 'hostID'] as const) {
          if (m[side] < other[side] + other.size && other[side] < m[side] + m.size)
            refusals.push(`${where}[${i}]: its ${side} range overlaps that of ${where}[${j}]`);
        }
      }
    });
    if (!list.some((m) => m.containerID === 0 && m.size >= 1))
      refusals.push(`${where}: id 0 in the container is not mapped: the container's init starts as the namespace's root`);
  }
  return refusals;
}

/** statfs(2) f_type of the namespace file system: namespace paths (/proc/<pid>/ns/*, their bind mounts). */
const NSFS_MAGIC = 0x6e736673;

/**
 * What a VM cannot do as runc would, refused at create with the place in config.json, before any
 * VM boots (not left to show later, or not at all):
 * - namespace paths that do not name a namespace; mount and cgroup namespaces to join on the host
 *   (the container's are made in its VM);
 * - limits nothing in the VM applies: hugetlb (the guest has no huge pages to limit), net_cls
 *   class ids and priorities (the host's qdiscs never see the guest's packets), swappiness (the
 *   VM has no swap), disabling the OOM killer (the guest's cgroup v2 has no such switch);
 * - uid/gid mappings the guest kernel would refuse (idMappingRefusals);
 * - a VM shape (annotations) that is not a whole number.
 * A swap limit is accepted: the VM has no swap, so its processes never swap, as on a host without.
 */
export function assertHonoured(config: Config, configPath: string): void {
  const refusals: string[] = [];
  (config.linux?.namespaces ?? []).forEach((ns, i) => {
    if (!ns.path) return;
    const where = `linux.namespaces[${i}].path`;
    let type: number;
    try {
      type = statfsSync(ns.path).type;
    } catch (err) {
      refusals.push(`${where}: ${ns.path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
      return;
    }
    if (type !== NSFS_MAGIC) refusals.push(`${where}: ${ns.path} is not a namespace`);
    else if (ns.type === 'mount' || ns.type === 'cgroup')
      refusals.push(`${where}: the container's ${ns.type} namespace is made in its VM: one on the host (${ns.path}) cannot be joined`);
  });
  refusals.push(...idMappingRefusals(config));
  const resources = config.linux?.resources as
    | {
        hugepageLimits?: Array<{ limit?: number }>;
        network?: { classID?: number; priorities?: unknown[] };
        memory?: { swappiness?: number; disableOOMKiller?: boolean };
      }
    | undefined;
  (resources?.hugepageLimits ?? []).forEach((limit, i) => {
    if (limit.limit !== undefined) refusals.push(`linux.resources.hugepageLimits[${i}]: the VM's guest has no huge pages to limit`);
  });
  if (resources?.network?.classID !== undefined || (resources?.network?.priorities ?? []).length > 0)
    refusals.push("linux.resources.network: net_cls/net_prio act on the host's traffic control, which never sees the VM's packets");
  const swappiness = resources?.memory?.swappiness;
  // Docker writes no swappiness unless --memory-swappiness asks for one (its -1 is "unset").
  if (swappiness !== undefined && swappiness >= 0 && swappiness <= 100)
    refusals.push('linux.resources.memory.swappiness: the VM has no swap: its processes never swap');
  if (resources?.memory?.disableOOMKiller === true)
    refusals.push("linux.resources.memory.disableOOMKiller: the guest's cgroup v2 has no switch to disable the OOM killer");
  try {
    vcpusFor(config.annotations);
    memoryMiBFor(config.linux?.resources, config.annotations);
    templateWanted(config.annotations);
    memoryMergeWanted(config.annotations);
    sharedMmapLayoutWanted(config.annotations, 'tcg');
  } catch (err) {
    refusals.push(`annotations: ${(err as Error).message}`);
  }
  if (refusals.length > 0) throw new RuntimeError(refusals.map((refusal) => `${configPath}: ${refusal}`).join('\n'));
}
