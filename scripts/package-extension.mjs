// Packages vmrt.vsix for this machine's platform (`vsce package --target linux-x64`; on an arm64
// machine, with the runtime built there, linux-arm64): the extension, the language server and the
// runtime it carries (the bundled CLI, the static shim, the guest kernel and initramfs built by
// runtime/guest/build.sh, which hold the agent). Prints the size, the guest kernel being the bulk.
import { spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';

const target = `linux-${process.arch}`;
const runtime = {
  'runtime/build/cli/main.js': 'npm run build:extension',
  'runtime/build/vmrt-shim': 'make -C runtime',
  'runtime/build/guest/vmlinux': 'bash runtime/guest/build.sh',
  'runtime/build/guest/initramfs.img': 'bash runtime/guest/build.sh',
  'runtime/build/guest/kernel-release': 'bash runtime/guest/build.sh',
};
const missing = Object.entries(runtime).filter(([file]) => !existsSync(file));
if (missing.length > 0) {
  console.error(`package: the runtime is not built: ${missing.map(([file, fix]) => `${file} (${fix})`).join(', ')}`);
  process.exit(1);
}
const vsce = spawnSync(
  'node_modules/.bin/vsce',
  [
    'package',
    '--target',
    target,
    '--no-dependencies',
    '--allow-missing-repository',
    '--no-rewrite-relative-links',
    '--skip-license',
    '-o',
    'vmrt.vsix',
  ],
  { stdio: 'inherit' },
);
if (vsce.status !== 0) process.exit(vsce.status ?? 1);
const mb = (file) => `${(statSync(file).size / 1024 / 1024).toFixed(1)} MB`;
console.log(
  `vmrt.vsix (${target}): ${mb('vmrt.vsix')}; uncompressed guest kernel ${mb('runtime/build/guest/vmlinux')}, initramfs ${mb('runtime/build/guest/initramfs.img')}`,
);
