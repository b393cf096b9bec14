#!/usr/bin/env bash
# Sets up everything vmrt needs on a fresh Debian 12 machine with Node 20:
# Debian packages, npm packages, the TypeScript build, the C agent and shim,
# the guest kernel and initramfs, and the runtime launcher. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  qemu-system-x86   # the VM
  busybox-static    # the guest's tools and the test/example container images
  cpio xz-utils zstd kmod  # building the initramfs from Debian's kernel package
  gcc libc6-dev make  # the static agent and shim
  docker.io         # dockerd + containerd for the Docker integration tests
  iproute2 util-linux procps  # netns, nsenter, process checks
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
echo "setup: done"
