import { CAPABILITIES, FEATURE_IDS } from '../capabilities.js';
import type { Command } from '../command.js';
import { OCI_VERSION, VERSION } from '../paths.js';
import { expectPositionals } from '../args.js';

/**
 * The OCI features document (runtime-spec features.md). What differs from runc in a VM is in
 * annotations under `org.vmrt.`: the capability table, one annotation per feature id.
 */
export function featuresDocument(): Record<string, unknown> {
  const annotations: Record<string, string> = {
    'org.vmrt.version': VERSION,
    'org.vmrt.vm': 'qemu',
    'org.vmrt.agent.protocol': '1',
  };
  for (const id of FEATURE_IDS) {
    const cap = CAPABILITIES[id];
    annotations[`org.vmrt.feature.${id}`] = cap.status;
    annotations[`org.vmrt.feature.${id}.reason`] = cap.reason;
    if (cap.workaround) annotations[`org.vmrt.feature.${id}.workaround`] = cap.workaround;
  }
  return {
    ociVersionMin: '1.0.0',
    ociVersionMax: OCI_VERSION,
    // createContainer/startContainer run inside the container's namespaces: in a VM, not yet.
    hooks: ['prestart', 'createRuntime', 'poststart', 'poststop'],
    mountOptions: [
      'bind',
      'rbind',
      'ro',
      'rw',
      'nosuid',
      'nodev',
      'noexec',
      'private',
      'rprivate',
      'relatime',
      'strictatime',
      'mode',
      'size',
    ],
    linux: {
      // host pid/ipc/uts and joining host namespaces are refused (capability table).
      namespaces: ['mount', 'network', 'pid', 'ipc', 'uts'],
      capabilities: [],
      cgroup: { v1: true, v2: true, systemd: false, systemdUser: false },
      seccomp: { enabled: false },
      apparmor: { enabled: false },
      selinux: { enabled: false },
    },
    annotations,
  };
}

export const features: Command = {
  name: 'features',
  usage: 'features',
  summary: 'print what this runtime supports (OCI features.json)',
  flags: {},
  async run(args) {
    expectPositionals(args, 'features', []);
    process.stdout.write(`${JSON.stringify(featuresDocument(), null, 2)}\n`);
    return 0;
  },
};
