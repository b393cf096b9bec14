#!/usr/bin/env bash
# Makes a minimal container root filesystem from Debian's busybox-static: the
# example bundle's rootfs and the tests' images (there is no registry to pull from).
set -euo pipefail
dest=${1:?usage: make-busybox-rootfs.sh <folder>}
busybox=/bin/busybox
[ -x "$busybox" ] || { echo "make-busybox-rootfs: $busybox not found: apt-get install busybox-static" >&2; exit 1; }
mkdir -p "$dest"/{bin,sbin,etc,proc,sys,dev,tmp,root,run,var/log}
cp "$busybox" "$dest/bin/busybox"
for applet in $("$busybox" --list); do
  [ -e "$dest/bin/$applet" ] || ln -s busybox "$dest/bin/$applet"
done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$dest/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$dest/etc/group"
chmod 1777 "$dest/tmp"
