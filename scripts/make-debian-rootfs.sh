#!/usr/bin/env bash
# Makes the compatibility suite's Debian image (test/compat/): a debootstrap'ed bookworm
# (minbase) with real workloads from Debian's packages, cached on this machine. There is no
# registry here: the tests `docker import` the folder.
#
# Usage: make-debian-rootfs.sh [cache-folder]   (default /var/cache/vmrt/debian-rootfs)
# Prints the root filesystem's folder: <cache-folder>/<key>, the key a hash of this script
# (so of the package list and of every step below). Built into a temporary folder and renamed
# into place (a folder that exists is complete); a lock keeps parallel runs from building it twice. Idempotent.
set -euo pipefail

SUITE=bookworm
PACKAGES=(
  python3 nodejs                     # an HTTP server in each, allocations (MemoryError vs OOM kill)
  nginx-light redis-server postgresql-15  # services users run
  procps curl ca-certificates        # ps, nproc's neighbours, curl
)

cache=${1:-/var/cache/vmrt/debian-rootfs}
key=$(sha256sum "${BASH_SOURCE[0]}" | cut -c1-16)
dest="$cache/$key"

note() { echo "make-debian-rootfs: $*" >&2; }

# The mirror the host's apt uses (deb.debian.org unless configured otherwise).
mirror() {
  local uri
  uri=$(grep -hsE '^\s*(URIs:|deb )' /etc/apt/sources.list /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list |
    grep -oE 'https?://[^ ]*/debian/?$' | head -n1 || true)
  echo "${uri:-http://deb.debian.org/debian}"
}

mkdir -p "$cache"
if [[ ! -d "$dest" ]]; then
  exec 9>"$cache/.lock"
  flock 9
  if [[ ! -d "$dest" ]]; then
    command -v debootstrap >/dev/null || { note "debootstrap not found: apt-get install debootstrap"; exit 1; }
    work=$(mktemp -d "$cache/.build-XXXXXX")
    chmod 755 "$work" # the image's / (mktemp makes it 0700: nobody but root could use the image)
    trap 'umount -R "$work/proc" "$work/sys" 2>/dev/null || true; rm -rf "$work"' EXIT
    started=$SECONDS
    note "building $dest (debootstrap $SUITE from $(mirror))"
    include=$(
      IFS=,
      echo "${PACKAGES[*]}"
    )
    debootstrap --variant=minbase --include="$include" "$SUITE" "$work" "$(mirror)" >"$cache/.build.log" 2>&1 ||
      {
        tail -n 30 "$cache/.build.log" >&2
        note "debootstrap failed (log: $cache/.build.log)"
        exit 1
      }
    # What an image does not need: package caches and lists, documentation, translations.
    rm -rf "$work"/var/cache/apt/* "$work"/var/lib/apt/lists/* "$work"/usr/share/doc/* "$work"/usr/share/man/* \
      "$work"/usr/share/info/* "$work"/var/log/*.log "$work"/var/cache/debconf/*-old
    find "$work/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} +
    # Services are started by the containers, not at build time; their run folders are made by
    # systemd-tmpfiles on a booted system, so make them here as the packages' tmpfiles.d say.
    install -d -o "$(chroot "$work" id -u postgres)" -g "$(chroot "$work" id -g postgres)" -m 2775 "$work/run/postgresql"
    install -d -o "$(chroot "$work" id -u redis)" -g "$(chroot "$work" id -g redis)" -m 2775 "$work/run/redis"
    : >"$work/etc/resolv.conf"
    echo vmrt-compat >"$work/etc/hostname"
    mv "$work" "$dest"
    trap - EXIT
    note "built in $((SECONDS - started)) s: $(du -sh "$dest" | cut -f1)"
  fi
  exec 9>&-
fi
echo "$dest"
