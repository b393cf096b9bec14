#!/usr/bin/env bash
# Sets up everything vmrt needs on a fresh Debian 12 machine with Node 20:
# Debian packages, npm packages, the TypeScript build, the C agent and shim,
# the guest kernel and initramfs, and the runtime launcher. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  qemu-system-x86   # the VM
  busybox-static    # the guest's tools and the test/example container images
  cpio xz-utils zstd kmod  # building the initramfs from Debian's kernel packages
  flex bison bc libelf-dev patch  # building the minimal guest kernel from linux-source-6.1 (patch: kernel-patches/)
  gcc libc6-dev make musl-tools  # the static agent and shim (musl: 10x smaller binaries)
  docker.io         # dockerd + containerd for the Docker integration tests
  containerd containernetworking-plugins  # the CRI pod test: a containerd of its own (ctr too), CNI bridge plugins
  iproute2 util-linux procps  # netns, nsenter, process checks
  criu tar gzip     # docker checkpoint: the guest runs the host's copies (shared into the VM for the operation)
  chromium libkrb5-dev ripgrep  # editor tests: code-server's native build, Debian's rg, the browser
  python3-debugpy   # the editor test debugs Python in a VM (an image made from the host's python3)
  docker-compose    # "Run Compose Service in VM" (Debian 12 has no docker compose plugin)
  gdb gdbserver     # native debugging in a VM: the host's gdb, gdbserver copied into the test image
  clang-format      # the C sources' formatting, checked by the tests
  git               # the tests list the repository's files (git ls-files)
  debootstrap       # the compatibility suite's Debian image (scripts/make-debian-rootfs.sh)
)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# The editor tests run a real VS Code (code-server, a devDependency). Its postinstall downloads
# ripgrep, which cannot be fetched here: seed @vscode/ripgrep's cache with Debian's rg. As root
# its postinstall needs unsafe_perm, and node-pty's `npx node-gyp` must not stop at a prompt.
RG_CACHE="$(node -p 'require("os").tmpdir()')/vscode-ripgrep-cache-1.15.11"
mkdir -p "$RG_CACHE" && tar czf "$RG_CACHE/ripgrep-v13.0.0-10-x86_64-unknown-linux-musl.tar.gz" -C /usr/bin rg
export npm_config_yes=true npm_config_unsafe_perm=true

echo "setup: npm packages"
npm ci --no-audit --no-fund --loglevel=error

echo "setup: TypeScript build"
npm run --silent build

echo "setup: agent and shim"
make -s -C runtime

echo "setup: guest kernel and initramfs"
bash runtime/guest/build.sh

echo "setup: runtime launcher"
bash runtime/install-launcher.sh

echo "setup: VS Code extension"
npm run --silent package >/dev/null  # dist/ bundles, the extension-host test suite, vmrt.vsix with the runtime built above

echo "setup: the compatibility suite's Debian image"
bash scripts/make-debian-rootfs.sh >/dev/null  # cached in /var/cache/vmrt/debian-rootfs: a minute or two the first time
echo "setup: done"
