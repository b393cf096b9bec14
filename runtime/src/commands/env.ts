import { existsSync, readFileSync } from 'node:fs';
import { arch, release } from 'node:os';
import { flagBool } from '../args.js';
import type { Command } from '../command.js';
import { guestFiles, launcherPath, OCI_VERSION, qemuPath, shimPath, SOCKET_BASE, VERSION } from '../paths.js';
import { chooseAccelerator, guestKernelRelease, kernelCommandLine, qemuVersion } from '../vm.js';
import { sharedFolderKind } from '../shared-folder.js';

function distro(): string {
  try {
    return /^PRETTY_NAME="?([^"\n]*)/m.exec(readFileSync('/etc/os-release', 'utf8'))?.[1] ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

/** Like `kata-runtime env`: where everything is and which versions run. */
export async function environment(root: string): Promise<Record<string, unknown>> {
  const guest = guestFiles();
  const accel = await chooseAccelerator();
  return {
    Meta: { Version: '1' },
    Runtime: {
      Version: VERSION,
      OCI: OCI_VERSION,
      Path: launcherPath(),
      Node: process.execPath,
      NodeVersion: process.version,
      Root: root,
      SocketDir: SOCKET_BASE,
    },
    Hypervisor: {
      Path: qemuPath(),
      Version: qemuVersion() ?? null,
      MachineType: 'microvm',
      Accelerator: accel.accelerator,
      AcceleratorReason: accel.reason,
      SharedFS: `${sharedFolderKind(false)} (mount tag vmrt; 9p for a VM started from a template)`,
      AgentChannel: 'virtio-serial org.vmrt.agent',
    },
    Kernel: {
      Path: guest.kernel,
      Present: existsSync(guest.kernel),
      Release: guestKernelRelease() ?? null,
      Parameters: kernelCommandLine(),
    },
    Initrd: { Path: guest.initrd, Present: existsSync(guest.initrd) },
    Shim: { Path: shimPath(), Present: existsSync(shimPath()) },
    Host: { Kernel: release(), Architecture: arch(), Distro: distro(), KVMDevice: existsSync('/dev/kvm') },
  };
}

export const env: Command = {
  name: 'env',
  usage: 'env [--json]',
  summary: 'print the runtime environment (paths, versions, accelerator)',
  flags: { json: { kind: 'bool', help: 'JSON instead of text' } },
  async run(args, ctx) {
    const data = await environment(ctx.root);
    if (flagBool(args, 'json')) {
      process.stdout.write(`${JSON.stringify(data, null, 2)}\n`);
    } else {
      for (const [section, values] of Object.entries(data)) {
        process.stdout.write(`[${section}]\n`);
        for (const [k, v] of Object.entries(values as Record<string, unknown>)) process.stdout.write(`  ${k} = ${JSON.stringify(v)}\n`);
      }
    }
    return 0;
  },
};
