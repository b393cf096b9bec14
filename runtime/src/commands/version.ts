import type { Command } from '../command.js';
import { OCI_VERSION, VERSION } from '../paths.js';
import { guestKernelRelease, qemuVersion } from '../vm.js';

/** runc's layout (`runc version X`, `spec: …`), which tools parse line by line. */
export function versionText(): string {
  return (
    [
      `vmrt version ${VERSION}`,
      `spec: ${OCI_VERSION}`,
      `node: ${process.version}`,
      `guest kernel: ${guestKernelRelease() ?? 'not built (run runtime/guest/build.sh)'}`,
      `qemu: ${qemuVersion() ?? 'not found (apt-get install qemu-system-x86)'}`,
    ].join('\n') + '\n'
  );
}

export const version: Command = {
  name: 'version',
  usage: 'version',
  summary: 'print the versions of vmrt and its parts',
  flags: {},
  async run() {
    process.stdout.write(versionText());
    return 0;
  },
};
