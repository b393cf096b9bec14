#!/usr/bin/env bash
# Builds the vmrt guest: an uncompressed kernel for PVH boot and an initramfs
# with the agent as /init. Idempotent; downloads are cached.
#
# Output (runtime/build/guest/):
#   vmlinux          uncompressed ELF kernel (QEMU boots it directly through PVH)
#   initramfs.img    gzip'ed cpio (newc): /init (agent), busybox, modules, load.list
#   kernel-release   the guest's `uname -r`
#
# The kernel comes from Debian's linux-image-amd64 package: downloaded with
# `apt-get download` and unpacked with dpkg-deb -x, never installed on the host.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
runtime="$(dirname "$here")"
out="$runtime/build/guest"
cache="$out/cache"

# The modules the guest needs (dependencies are added). Modules that a kernel
# build has built in (or lacks) are skipped.
wanted_modules=(
    virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci virtio_mmio
    netfs fscache 9pnet 9pnet_virtio 9p
    virtio_console failover net_failover virtio_net overlay
)

die() { echo "build.sh: $*" >&2; exit 1; }

require() { # require <command> <apt package>
    command -v "$1" >/dev/null 2>&1 || die "missing '$1': apt-get install $2"
}

require apt-get apt
require apt-cache apt
require dpkg-deb dpkg
require cpio cpio
require gzip gzip
require xz xz-utils
require zstd zstd
require gcc gcc
require make make
require qemu-system-x86_64 qemu-system-x86 # not used here, but nothing boots without it
[[ -f /usr/include/stdio.h ]] || die "missing the C library headers: apt-get install libc6-dev"
# musl-gcc (musl-tools) is optional: the Makefile falls back to glibc static.
[[ -x /bin/busybox ]] || die "missing /bin/busybox: apt-get install busybox-static"
# The dynamic `busybox` package would not run in the initramfs (no libc there).
[[ "$(dpkg-query -W -f='${Status}' busybox-static 2>/dev/null)" == "install ok installed" ]] ||
    die "/bin/busybox is not busybox-static's: apt-get install busybox-static"

mkdir -p "$cache"

# --- kernel package -----------------------------------------------------------

# linux-image-amd64 is a metapackage: its Depends names the real image package.
resolve_kernel_package() {
    apt-cache show --no-all-versions linux-image-amd64 2>/dev/null |
        sed -n 's/^Depends: *\(linux-image-[^ ,]*\).*/\1/p' | head -n1
}

pkg="$(resolve_kernel_package)"
if [[ -z "$pkg" ]]; then
    echo "build.sh: linux-image-amd64 unknown to apt; running apt-get update" >&2
    apt-get update -qq || die "apt-get update failed (needs root and network)"
    pkg="$(resolve_kernel_package)"
fi
[[ -n "$pkg" ]] || die "cannot resolve linux-image-amd64 to a kernel package"

deb="$(ls "$cache"/"${pkg}"_*.deb 2>/dev/null | head -n1 || true)"
if [[ -z "$deb" ]]; then
    echo "build.sh: downloading $pkg" >&2
    # As root, apt's sandbox user could not write into the cache folder.
    sandbox=()
    [[ "$(id -u)" == 0 ]] && sandbox=(-o APT::Sandbox::User=root)
    (cd "$cache" && apt-get download "${sandbox[@]}" "$pkg") || die "apt-get download $pkg failed"
    deb="$(ls "$cache"/"${pkg}"_*.deb | head -n1)"
fi

kroot="$cache/${pkg}"
if [[ ! -f "$kroot/.extracted" ]]; then
    rm -rf "$kroot"
    mkdir -p "$kroot"
    dpkg-deb -x "$deb" "$kroot"
    touch "$kroot/.extracted"
fi

release="$(ls "$kroot/lib/modules" | head -n1)"
[[ -n "$release" ]] || die "no lib/modules/<release> in $deb"
moddir="$kroot/lib/modules/$release"
bzimage="$kroot/boot/vmlinuz-$release"
[[ -f "$bzimage" ]] || die "no boot/vmlinuz-$release in $deb"

# --- uncompressed kernel for PVH ----------------------------------------------

# The bzImage embeds an XZ stream (magic FD 37 7A 58 5A 00); decompressing it
# yields the ELF vmlinux, which carries the PVH note. Under TCG this saves the
# ~7 s that the kernel's own decompressor would take.
if [[ ! -f "$out/vmlinux" || "$bzimage" -nt "$out/vmlinux" || "$(cat "$out/kernel-release" 2>/dev/null)" != "$release" ]]; then
    offset="$(LC_ALL=C grep -obUaP '\xfd7zXZ\x00' "$bzimage" | head -n1 | cut -d: -f1)"
    [[ -n "$offset" ]] || die "no XZ stream in $bzimage"
    tmp="$out/vmlinux.$$"
    # The stream is followed by padding and trailer bytes: xz reports them as
    # trailing garbage, which is expected, so its status is not trusted; the
    # ELF magic check below is.
    tail -c +"$((offset + 1))" "$bzimage" | xz -dc --single-stream >"$tmp" 2>/dev/null || true
    [[ "$(head -c4 "$tmp" | od -An -tx1 | tr -d ' \n')" == "7f454c46" ]] ||
        die "decompressed kernel is not an ELF file"
    mv "$tmp" "$out/vmlinux"
fi
printf '%s\n' "$release" >"$out/kernel-release"

# --- agent ----------------------------------------------------------------------

make -s -C "$runtime" agent
agent="$runtime/build/vmrt-agent"

# --- initramfs ------------------------------------------------------------------

# Private staging and temporary names: a concurrent build (setup scripts,
# tests) never sees or ships a half-written image.
staging="$(mktemp -d "$out/initramfs.XXXXXX")"
trap 'rm -rf "$staging" "$out/initramfs.img.$$" "$out/vmlinux.$$"' EXIT
mkdir -p "$staging"/{bin,sbin,dev,proc,sys,run,tmp,lib/modules,etc}
install -m 0755 "$agent" "$staging/init"
install -m 0755 /bin/busybox "$staging/bin/busybox"
for applet in sh ls cat mount umount ps dmesg ip ifconfig mkdir echo grep sed kill sleep \
    uname lsmod insmod find hostname id env ln rm cp mv df free top vi; do
    ln -s busybox "$staging/bin/$applet"
done

# Module name -> path (relative to moddir). The package ships no modules.dep
# (depmod makes it at install time), so each module's dependencies are read
# from its own .modinfo section ("depends=a,b").
declare -A mod_path
while IFS= read -r path; do
    name="${path##*/}"
    name="${name%%.ko*}"
    mod_path[${name//-/_}]="$path"
done < <(cd "$moddir" && find kernel -name '*.ko' -o -name '*.ko.xz' -o -name '*.ko.zst' -o -name '*.ko.gz')

decompress_module() { # decompress_module <src> -> stdout
    case "$1" in
        *.ko.xz) xz -dc "$1" ;;
        *.ko.zst) zstd -qdc "$1" ;;
        *.ko.gz) gzip -dc "$1" ;;
        *.ko) cat "$1" ;;
        *) die "unknown module file type: $1" ;;
    esac
}

module_deps() { # module_deps <name> -> dependency names, space separated
    decompress_module "$moddir/${mod_path[$1]}" | tr '\0' '\n' |
        sed -n 's/^depends=//p' | head -n1 | tr ',-' ' _'
}

# Depth-first: every module after its dependencies.
declare -A visited
order=()
visit() {
    local m="$1" d
    [[ -n "${visited[$m]:-}" ]] && return 0
    visited[$m]=1
    [[ -n "${mod_path[$m]:-}" ]] || die "module $m (a dependency) not found in $moddir"
    for d in $(module_deps "$m"); do visit "$d"; done
    order+=("$m")
}
builtin_list="$moddir/modules.builtin"
for m in "${wanted_modules[@]}"; do
    if [[ -n "${mod_path[$m]:-}" ]]; then
        visit "$m"
    elif [[ -f "$builtin_list" ]] && grep -q "/${m//_/[_-]}\.ko$" "$builtin_list"; then
        : # built into this kernel
    else
        echo "build.sh: note: module $m is neither a module nor built in; skipped" >&2
    fi
done

# Debian signs its modules; checking a signature under TCG costs tens of ms
# per module, and the guest does not enforce signatures (the module is only
# tainted). The signature is appended: ... | struct module_signature (12
# bytes, big-endian sig_len last) | "~Module signature appended~\n".
strip_signature() { # strip_signature <file.ko>
    local file="$1" magic='~Module signature appended~' size siglen
    size="$(stat -c %s "$file")"
    [[ "$(tail -c 28 "$file" | head -c 27)" == "$magic" ]] || return 0
    siglen="$(tail -c 32 "$file" | head -c 4 | od -An -tu1 | awk '{print $1*16777216 + $2*65536 + $3*256 + $4}')"
    truncate -s "$((size - 28 - 12 - siglen))" "$file"
}

: >"$staging/lib/modules/load.list"
for m in "${order[@]}"; do
    dst="$staging/lib/modules/$m.ko"
    decompress_module "$moddir/${mod_path[$m]}" >"$dst"
    strip_signature "$dst"
    echo "$m.ko" >>"$staging/lib/modules/load.list"
done
printf '%s\n' "$release" >"$staging/etc/kernel-release"

# Fixed timestamps: the same inputs give the same image.
find "$staging" -exec touch -h -d @0 {} +
(cd "$staging" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc --quiet --owner 0:0 --reproducible) |
    gzip -9n >"$out/initramfs.img.$$"
mv "$out/initramfs.img.$$" "$out/initramfs.img"

echo "build.sh: kernel $release; modules: ${order[*]}" >&2
echo "build.sh: $out/vmlinux $(stat -c %s "$out/vmlinux") bytes, $out/initramfs.img $(stat -c %s "$out/initramfs.img") bytes" >&2
