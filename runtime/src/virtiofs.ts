/**
 * The virtio-fs daemon of one VM: QEMU's virtiofsd serves the shared folder (rootfs and volumes,
 * each a submount the guest sees as its own file system) over a vhost-user socket in the
 * container's socket folder. It is chrooted into the folder, and ends when QEMU disconnects;
 * delete ends it too, as every process that names the socket folder.
 */
import { closeSync, existsSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { RuntimeError } from './errors.js';
import { virtiofsdPath } from './paths.js';
import { isAlive, refOf, sleep, spawnDaemon, type ProcessRef } from './proc.js';
import { tail } from './log.js';

export function virtiofsSocket(runDir: string): string {
  return join(runDir, 'virtiofs.sock');
}

export async function startVirtiofsd(runDir: string, sharedDir: string, logFile: string): Promise<ProcessRef> {
  const socket = virtiofsSocket(runDir);
  const logFd = openSync(logFile, 'a');
  const pid = spawnDaemon(
    virtiofsdPath(),
    [
      `--socket-path=${socket}`,
      '-o',
      `source=${sharedDir}`,
      // Metadata revalidated after a second: files Docker changes on the host (docker cp, a bind
      // mount edited there) show in the guest, as with 9p.
      '-o',
      'cache=auto',
      // File capabilities and other extended attributes of the image, as 9p passed them.
      '-o',
      'xattr',
      '-o',
      'announce_submounts',
      '-o',
      'sandbox=chroot',
    ],
    logFd,
  );
  closeSync(logFd);
  const ref = refOf(pid);
  const deadline = Date.now() + 10000;
  while (!existsSync(socket)) {
    if (!isAlive(ref)) throw new RuntimeError(`virtiofsd exited at start: ${tail(logFile) || 'no output'}`);
    if (Date.now() > deadline) throw new RuntimeError(`virtiofsd did not open ${socket} within 10 s`);
    await sleep(10);
  }
  return ref;
}
