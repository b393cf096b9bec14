/** Where vmrt's parts live: the repository's build outputs, overridable by environment. */
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The repository root: this file runs as <repo>/out/runtime/src/paths.js, or bundled into the
 * extension's <extension>/runtime/build/cli/main.js (scripts/build-extension.mjs).
 */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

export const VERSION = '0.1.0';
/** The OCI runtime-spec version whose config.json vmrt reads and writes. */
export const OCI_VERSION = '1.0.2';

export const DEFAULT_ROOT = '/run/vmrt';
/** Sockets live here: unix socket paths must stay under 108 bytes, Docker's bundle paths do not. */
export const SOCKET_BASE = process.env.VMRT_SOCKET_DIR ?? '/run/vmrt-s';

export function guestDir(): string {
  return process.env.VMRT_GUEST_DIR ?? join(REPO_ROOT, 'runtime', 'build', 'guest');
}

export function guestFiles(): { kernel: string; initrd: string; kernelRelease: string } {
  const dir = guestDir();
  return {
    kernel: join(dir, 'vmlinux'),
    initrd: join(dir, 'initramfs.img'),
    kernelRelease: join(dir, 'kernel-release'),
  };
}

export function shimPath(): string {
  return process.env.VMRT_SHIM ?? join(REPO_ROOT, 'runtime', 'build', 'vmrt-shim');
}

export function qemuPath(): string {
  return process.env.VMRT_QEMU ?? 'qemu-system-x86_64';
}

/** QEMU's own virtio-fs daemon (Debian: qemu-system-common). */
export function virtiofsdPath(): string {
  return process.env.VMRT_VIRTIOFSD ?? '/usr/lib/qemu/virtiofsd';
}

/** QEMU's 9p file server helper (Debian: qemu-system-common; QEMU 8.1 dropped it). */
export function virtfsProxyHelperPath(): string {
  return process.env.VMRT_VIRTFS_PROXY_HELPER ?? '/usr/lib/qemu/virtfs-proxy-helper';
}

/** VMRT_LAUNCHER: the path Docker runs, where it is not this checkout's (the extension's stable link). */
export function launcherPath(): string {
  return process.env.VMRT_LAUNCHER ?? join(REPO_ROOT, 'runtime', 'bin', 'vmrt');
}
