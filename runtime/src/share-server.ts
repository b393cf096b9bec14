/**
 * The file server of one VM's shared folder (shared-folder.ts), a daemon beside QEMU that ends
 * when QEMU disconnects (delete ends it too, as every process that names the socket folder):
 * - virtio-fs: QEMU's virtiofsd over a vhost-user socket, chrooted into the folder; each rootfs
 *   and volume is a submount the guest sees as its own file system.
 * - 9p: QEMU's virtfs-proxy-helper, chrooted into the folder, over a socket: it makes files as
 *   the guest's uid and gid, sockets and FIFOs included. QEMU 7.2's own `local` driver (Debian
 *   12) refuses every socket and FIFO the guest makes (ENXIO: its fix for CVE-2023-2861 rejects
 *   the file it has just made when it sets its mode; QEMU 8.1 fixed that and dropped the proxy);
 *   and `local` would need QEMU to be root (jail.ts): the helper is required.
 */
import { chownSync, closeSync, existsSync, openSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { RuntimeError } from './errors.js';
import type { Jail } from './jail.js';
import { virtfsProxyHelperPath, virtiofsdPath } from './paths.js';
import { isAlive, refOf, sleep, spawnDaemon, type ProcessRef } from './proc.js';
import { tail } from './log.js';
import type { ShareServer, SharedFolderKind } from './shared-folder.js';

/** Spawns a file server (`name`) that listens on `socket`, and waits for the socket. */
async function startDaemon(name: string, program: string, args: string[], socket: string, logFile: string): Promise<ProcessRef> {
  // An earlier server's (of a VM replaced during its create): not to be taken for this one's.
  rmSync(socket, { force: true });
  const logFd = openSync(logFile, 'a');
  const pid = spawnDaemon(program, args, logFd);
  closeSync(logFd);
  const ref = refOf(pid);
  const deadline = Date.now() + 10000;
  while (!existsSync(socket)) {
    if (!isAlive(ref)) throw new RuntimeError(`${name} exited at start: ${tail(logFile) || 'no output'}`);
    if (Date.now() > deadline) throw new RuntimeError(`${name} did not open ${socket} within 10 s`);
    await sleep(10);
  }
  return ref;
}

/**
 * Starts the file server of `sharedDir` for a VM whose sockets are in `runDir` (logs in
 * `logDir`): how QEMU reaches the folder, and the daemon. The servers stay root (they serve
 * files of every owner); their socket is owned by QEMU's uid and gid (`jail`), which may connect.
 */
export async function startShareServer(
  kind: SharedFolderKind,
  runDir: string,
  sharedDir: string,
  logDir: string,
  jail: Jail,
): Promise<{ share: ShareServer; daemon?: ProcessRef }> {
  if (kind === 'virtiofs') {
    const socket = join(runDir, 'virtiofs.sock');
    const daemon = await startDaemon(
      'virtiofsd',
      virtiofsdPath(),
      [
        `--socket-path=${socket}`,
        '-o',
        `source=${sharedDir}`,
        // The guest keeps a file's pages across opens (cache=always) and revalidates its
        // metadata after a second (timeout=1), dropping the pages once the file's time changed:
        // what Docker or the user changes on the host (docker cp, a bind mount edited there)
        // shows within a second. cache=auto dropped a file's pages at every open, so every
        // start of a program re-read it and, under TCG, translated its code again (85 ms for
        // /bin/true against 12).
        '-o',
        'cache=always',
        '-o',
        'timeout=1',
        // File capabilities and other extended attributes of the image, as 9p passes them.
        '-o',
        'xattr',
        '-o',
        'announce_submounts',
        '-o',
        'sandbox=chroot',
        // No device nodes made by the guest: on the host they would be the host's devices.
        '-o',
        'modcaps=-mknod',
      ],
      socket,
      join(logDir, 'virtiofsd.log'),
    );
    // QEMU is not running yet: nothing can take the socket's place before it is handed over.
    chownSync(socket, jail.uid, jail.gid);
    return { share: { kind, socket }, daemon };
  }
  const helper = virtfsProxyHelperPath();
  // QEMU's own 9p driver would need QEMU to be root: it serves files of every owner.
  if (!existsSync(helper))
    throw new RuntimeError(`${helper} is not installed (Debian: qemu-system-common): 9p needs it, QEMU runs unprivileged`);
  const socket = join(runDir, '9p.sock');
  // -n: in the foreground (spawnDaemon detaches it); -u/-g: the socket's owner, QEMU's. It
  // takes CAP_MKNOD itself (and fails without it in its bounding set): under 9p a device node
  // the guest makes is made on the host, as under runc.
  const daemon = await startDaemon(
    'virtfs-proxy-helper',
    helper,
    ['-n', '-p', sharedDir, '-s', socket, '-u', String(jail.uid), '-g', String(jail.gid)],
    socket,
    join(logDir, '9p-proxy.log'),
  );
  return { share: { kind, dir: sharedDir, proxySocket: socket }, daemon };
}
