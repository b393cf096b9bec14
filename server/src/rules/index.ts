/** Every rule, one file each (as ESLint and hadolint keep them). */
import { annotation } from './annotation.js';
import { blkioLimit } from './blkio-limit.js';
import { capabilityChange } from './capability-change.js';
import { checkpointCommand } from './checkpoint-command.js';
import { containerNetworkMode } from './container-network-mode.js';
import { cpusLimit } from './cpus-limit.js';
import { cpusetShares } from './cpuset-shares.js';
import { deviceVolume } from './device-volume.js';
import { eventsCommand } from './events-command.js';
import { gpuRequest } from './gpu-request.js';
import { hostDevice } from './host-device.js';
import { hostIpcNamespace } from './host-ipc-namespace.js';
import { hostNetworkMode } from './host-network-mode.js';
import { hostPidNamespace } from './host-pid-namespace.js';
import { hostUserns } from './host-userns.js';
import { hostUtsNamespace } from './host-uts-namespace.js';
import { k8sSubpath } from './k8s-subpath.js';
import { kernelMemoryLimit } from './kernel-memory-limit.js';
import { legacyLink } from './legacy-link.js';
import { mountPropagation } from './mount-propagation.js';
import { networkConnectCommand } from './network-connect-command.js';
import { privilegedMode } from './privileged-mode.js';
import { procSysBind } from './proc-sys-bind.js';
import { securityOption } from './security-option.js';
import { shmSize } from './shm-size.js';
import { statsCommand } from './stats-command.js';
import { swarmCommand } from './swarm-command.js';
import { swarmDeployKey } from './swarm-deploy-key.js';
import { sysctlSetting } from './sysctl-setting.js';
import { tmpfsMount } from './tmpfs-mount.js';
import { topCommand } from './top-command.js';
import { updateCommand } from './update-command.js';
import type { Rule } from './rule.js';

export type { Rule, RuleHit, RuleMeta } from './rule.js';

export const RULES: readonly Rule[] = [
  annotation,
  blkioLimit,
  capabilityChange,
  checkpointCommand,
  containerNetworkMode,
  cpusLimit,
  cpusetShares,
  deviceVolume,
  eventsCommand,
  gpuRequest,
  hostDevice,
  hostIpcNamespace,
  hostNetworkMode,
  hostPidNamespace,
  hostUserns,
  hostUtsNamespace,
  k8sSubpath,
  kernelMemoryLimit,
  legacyLink,
  mountPropagation,
  networkConnectCommand,
  privilegedMode,
  procSysBind,
  securityOption,
  shmSize,
  statsCommand,
  swarmCommand,
  swarmDeployKey,
  sysctlSetting,
  tmpfsMount,
  topCommand,
  updateCommand,
];
