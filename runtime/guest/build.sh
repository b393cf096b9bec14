#!/usr/bin/env bash
# Builds the vmrt guest: an uncompressed kernel for PVH boot and an initramfs
# with the agent as /init. Idempotent; downloads and kernel builds are cached.
#
# Output (runtime/build/guest/):
#   vmlinux          uncompressed ELF kernel (QEMU boots it directly through PVH)
#   initramfs.img    gzip'ed cpio (newc): /init (agent), busybox, modules, load.list
#   kernel-release   the guest's `uname -r`
#
# VMRT_GUEST_KERNEL chooses the kernel:
#   minimal (default)  built from Debian's linux-source-6.1: tinyconfig plus
#                      kernel.config, everything built in (no modules). The
#                      vmlinux is cached by a hash of the source package's
#                      version and kernel.config, in runtime/build/guest/cache
#                      and in /var/cache/vmrt/guest-kernel (shared by every
#                      clone on this machine, e.g. CI's fresh ones).
#   debian             Debian's linux-image-amd64 (the bzImage's payload) and
#                      the modules the guest needs, loaded by the agent.
# Debian packages are fetched with `apt-get download` and unpacked with
# dpkg-deb, never installed on the host.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
runtime="$(dirname "$here")"
out="$runtime/build/guest"
cache="$out/cache"
shared_cache=/var/cache/vmrt/guest-kernel
flavour="${VMRT_GUEST_KERNEL:-minimal}"

# The stock kernel's modules the guest needs (dependencies are added). Modules
# that the kernel has built in (or lacks) are skipped.
wanted_modules=(
    virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci virtio_mmio
    netfs fscache 9pnet 9pnet_virtio 9p
    virtio_console failover net_failover virtio_net overlay
)

die() { echo "build.sh: $*" >&2; exit 1; }
note() { echo "build.sh: $*" >&2; }

require() { # require <command> <apt package>
    command -v "$1" >/dev/null 2>&1 || die "missing '$1': apt-get install $2"
}

# Removed on exit: temporary files and folders of this run.
cleanup=()
trap 'rm -rf "${cleanup[@]}"' EXIT

require apt-get apt
require apt-cache apt
require dpkg-deb dpkg
require cpio cpio
require gzip gzip
require xz xz-utils
require gcc gcc
require make make
require qemu-system-x86_64 qemu-system-x86 # not used here, but nothing boots without it
[[ -f /usr/include/stdio.h ]] || die "missing the C library headers: apt-get install libc6-dev"
# musl-gcc (musl-tools) is optional: the Makefile falls back to glibc static.
[[ -x /bin/busybox ]] || die "missing /bin/busybox: apt-get install busybox-static"
# The dynamic `busybox` package would not run in the initramfs (no libc there).
[[ "$(dpkg-query -W -f='${Status}' busybox-static 2>/dev/null)" == "install ok installed" ]] ||
    die "/bin/busybox is not busybox-static's: apt-get install busybox-static"
case "$flavour" in
    minimal)
        require flex flex
        require bison bison
        require bc bc
        require flock util-linux
        # objtool (run on every x86-64 build) links libelf.
        [[ -f /usr/include/gelf.h ]] || die "missing the libelf headers: apt-get install libelf-dev"
        ;;
    debian)
        require zstd zstd
        ;;
    *) die "VMRT_GUEST_KERNEL=$flavour: expected minimal or debian" ;;
esac

mkdir -p "$cache"

# --- Debian packages ----------------------------------------------------------

apt_field() { # apt_field <package> <field>: the candidate version's field
    apt-cache show --no-all-versions "$1" 2>/dev/null | sed -n "s/^$2: *//p" | head -n1
}

apt_known() { # apt_known <package>: runs `apt-get update` once if apt lacks it
    [[ -n "$(apt_field "$1" Package)" ]] && return 0
    note "$1 unknown to apt; running apt-get update"
    apt-get update -qq || die "apt-get update failed (needs root and network)"
    [[ -n "$(apt_field "$1" Package)" ]] || die "apt knows no package $1"
}

apt_download() { # apt_download <package> <version>: prints the cached .deb
    local deb="$cache/${1}_${2//:/%3a}_"
    if ! ls "$deb"*.deb >/dev/null 2>&1; then
        note "downloading $1 $2"
        # As root, apt's sandbox user could not write into the cache folder.
        local sandbox=()
        [[ "$(id -u)" == 0 ]] && sandbox=(-o APT::Sandbox::User=root)
        (cd "$cache" && apt-get download -q "${sandbox[@]}" "$1=$2") >&2 || die "apt-get download $1=$2 failed"
    fi
    ls "$deb"*.deb | head -n1
}

# --- kernel: Debian's stock image ---------------------------------------------

debian_kernel() { # sets release and moddir; writes $out/vmlinux
    apt_known linux-image-amd64
    # linux-image-amd64 is a metapackage: its Depends names the real image package.
    local pkg deb kroot bzimage offset
    pkg="$(apt_field linux-image-amd64 Depends | sed -n 's/^\(linux-image-[^ ,]*\).*/\1/p')"
    [[ -n "$pkg" ]] || die "cannot resolve linux-image-amd64 to a kernel package"
    deb="$(apt_download "$pkg" "$(apt_field "$pkg" Version)")"

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

    # The bzImage embeds an XZ stream (magic FD 37 7A 58 5A 00); decompressing it
    # yields the ELF vmlinux, which carries the PVH note. Under TCG this saves the
    # ~7 s that the kernel's own decompressor would take.
    if [[ ! -f "$out/vmlinux" || "$bzimage" -nt "$out/vmlinux" || "$(cat "$out/kernel-release" 2>/dev/null)" != "$release" ]]; then
        offset="$(LC_ALL=C grep -obUaP '\xfd7zXZ\x00' "$bzimage" | head -n1 | cut -d: -f1)"
        [[ -n "$offset" ]] || die "no XZ stream in $bzimage"
        cleanup+=("$out/vmlinux.$$")
        # The stream is followed by padding and trailer bytes: xz reports them as
        # trailing garbage, which is expected, so its status is not trusted; the
        # ELF magic check below is.
        tail -c +"$((offset + 1))" "$bzimage" | xz -dc --single-stream >"$out/vmlinux.$$" 2>/dev/null || true
        [[ "$(head -c4 "$out/vmlinux.$$" | od -An -tx1 | tr -d ' \n')" == "7f454c46" ]] ||
            die "decompressed kernel is not an ELF file"
        mv "$out/vmlinux.$$" "$out/vmlinux"
    fi
}

# --- kernel: minimal, built from Debian's linux-source-6.1 --------------------

source_pkg=linux-source-6.1

kmake() { # kmake <src> <make arguments...>
    local src="$1"
    shift
    nice -n 10 make -C "$src" ARCH=x86_64 "$@"
}

check_config() { # check_config <.config>: every line of kernel.config survived olddefconfig
    local line name lost=()
    while IFS= read -r line; do
        case "$line" in
            CONFIG_*) grep -qxF "$line" "$1" || lost+=("$line") ;;
            "# CONFIG_"*" is not set")
                name="${line#\# }"
                name="${name%% *}"
                ! grep -q "^$name=" "$1" || lost+=("$name=n")
                ;;
        esac
    done <"$here/kernel.config"
    ((${#lost[@]} == 0)) || die "kernel.config settings lost to unmet dependencies: ${lost[*]}"
}

publish() { # publish <from dir> <to dir>: vmlinux and kernel-release, all or nothing
    local tmp
    mkdir -p "$(dirname "$2")" && tmp="$(mktemp -d "$2.XXXXXX")" || return 1
    cleanup+=("$tmp")
    cp "$1/vmlinux" "$1/kernel-release" "$tmp/" && chmod 755 "$tmp" || return 1
    # Another clone may have published the same kernel meanwhile.
    mv -T "$tmp" "$2" 2>/dev/null || [[ -f "$2/vmlinux" ]]
}

build_kernel() { # build_kernel <linux-source .deb> <dest dir> <key>
    # The tree is kept until the kernel is stored: an interrupted build resumes
    # (make is incremental) instead of starting over.
    local deb="$1" dest="$2" work="$cache/kernel-build-$3" log="$cache/kernel-build.log" started=$SECONDS src n=0 line
    src="$work/$source_pkg"
    if [[ -f "$work/.configured" ]]; then
        note "resuming the build in $work"
    else
        rm -rf "$work"
        mkdir -p "$work"
        note "unpacking $(basename "$deb")"
        dpkg-deb --fsys-tarfile "$deb" | tar -xOf - "./usr/src/$source_pkg.tar.xz" | tar -xJf - -C "$work"
        [[ -f "$src/Makefile" ]] || die "no $source_pkg/Makefile in $deb"
        local patch
        for patch in "$here"/kernel-patches/*.patch; do
            patch -d "$src" -p1 --quiet --forward <"$patch" || die "$(basename "$patch") does not apply to $source_pkg"
        done
        kmake "$src" -s tinyconfig >/dev/null
        # Its notes on redefined values are expected (the fragment overrides
        # tinyconfig); check_config catches what matters.
        (cd "$src" && scripts/kconfig/merge_config.sh -m .config "$here/kernel.config") >/dev/null 2>&1 ||
            die "merge_config.sh failed on kernel.config"
        kmake "$src" -s olddefconfig
        check_config "$src/.config"
        touch "$work/.configured"
    fi

    note "compiling the kernel (make -j2, niced; 8–17 minutes on 2 cores, depending on their load); log: $log"
    if ! kmake "$src" -j2 vmlinux 2>&1 | tee "$log" | while IFS= read -r line; do
        [[ "$line" == "  CC "* ]] || continue
        ((++n % 200)) || note "kernel: $n files compiled, $((SECONDS - started)) s"
    done; then
        tail -n 40 "$log" >&2
        die "kernel build failed (log: $log)"
    fi

    release="$(kmake "$src" -s kernelrelease)"
    grep -aqF "Linux version $release (" "$src/vmlinux" || die "the built vmlinux is not release $release"
    echo "$release" >"$src/kernel-release"
    publish "$src" "$dest" || die "cannot store the kernel in $dest"
    rm -rf "$work"
    note "kernel $release built in $((SECONDS - started)) s"
}

minimal_kernel() { # sets release; writes $out/vmlinux
    apt_known "$source_pkg"
    local version key mine shared
    version="$(apt_field "$source_pkg" Version)"
    key="$({ echo "$source_pkg $version"; cat "$here/kernel.config" "$here"/kernel-patches/*.patch; } | sha256sum | cut -c1-16)"
    mine="$cache/kernel-$key"
    shared="$shared_cache/$key"
    # One build at a time per clone: a build that waited finds the other's result.
    exec 9>"$cache/kernel.lock"
    flock 9
    if [[ -f "$mine/vmlinux" ]]; then
        :
    elif [[ -f "$shared/vmlinux" ]]; then
        note "kernel $key: reusing $shared"
        publish "$shared" "$mine" || die "cannot copy $shared to $mine"
    else
        note "kernel $key ($source_pkg $version + kernel.config + kernel-patches/) is not cached: building it"
        build_kernel "$(apt_download "$source_pkg" "$version")" "$mine" "$key"
        publish "$mine" "$shared" 2>/dev/null || note "cannot write $shared_cache: the kernel is cached in $mine only"
    fi
    exec 9>&-
    release="$(cat "$mine/kernel-release")"
    if ! cmp -s "$mine/vmlinux" "$out/vmlinux"; then
        cleanup+=("$out/vmlinux.$$")
        cp "$mine/vmlinux" "$out/vmlinux.$$"
        mv "$out/vmlinux.$$" "$out/vmlinux"
    fi
}

case "$flavour" in
    minimal) minimal_kernel ;;
    debian) debian_kernel ;;
esac
printf '%s\n' "$release" >"$out/kernel-release"

# --- stock kernel modules -----------------------------------------------------

# The modules of VMRT_GUEST_KERNEL=debian that the agent loads, in load.list
# order; the minimal kernel has everything built in (an empty load.list).
declare -A mod_path visited
order=()

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
visit() {
    local m="$1" d
    [[ -n "${visited[$m]:-}" ]] && return 0
    visited[$m]=1
    [[ -n "${mod_path[$m]:-}" ]] || die "module $m (a dependency) not found in $moddir"
    for d in $(module_deps "$m"); do visit "$d"; done
    order+=("$m")
}

stock_modules() { # fills mod_path and order
    local path name m builtin_list="$moddir/modules.builtin"
    # Module name -> path (relative to moddir). The package ships no modules.dep
    # (depmod makes it at install time), so each module's dependencies are read
    # from its own .modinfo section ("depends=a,b").
    while IFS= read -r path; do
        name="${path##*/}"
        name="${name%%.ko*}"
        mod_path[${name//-/_}]="$path"
    done < <(cd "$moddir" && find kernel -name '*.ko' -o -name '*.ko.xz' -o -name '*.ko.zst' -o -name '*.ko.gz')
    for m in "${wanted_modules[@]}"; do
        if [[ -n "${mod_path[$m]:-}" ]]; then
            visit "$m"
        elif [[ -f "$builtin_list" ]] && grep -q "/${m//_/[_-]}\.ko$" "$builtin_list"; then
            : # built into this kernel
        else
            note "module $m is neither a module nor built in; skipped"
        fi
    done
}

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

[[ "$flavour" != debian ]] || stock_modules

# --- agent ----------------------------------------------------------------------

make -s -C "$runtime" agent
agent="$runtime/build/vmrt-agent"

# --- initramfs ------------------------------------------------------------------

# Private staging and temporary names: a concurrent build (setup scripts,
# tests) never sees or ships a half-written image.
staging="$(mktemp -d "$out/initramfs.XXXXXX")"
cleanup+=("$staging" "$out/initramfs.img.$$")
mkdir -p "$staging"/{bin,sbin,dev,proc,sys,run,tmp,lib/modules,etc}
install -m 0755 "$agent" "$staging/init"
install -m 0755 /bin/busybox "$staging/bin/busybox"
for applet in sh ls cat mount umount ps dmesg ip ifconfig mkdir echo grep sed kill sleep \
    uname lsmod insmod find hostname id env ln rm cp mv df free top vi; do
    ln -s busybox "$staging/bin/$applet"
done

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

note "kernel $release ($flavour); modules: ${order[*]:-none}"
note "$out/vmlinux $(stat -c %s "$out/vmlinux") bytes, $out/initramfs.img $(stat -c %s "$out/initramfs.img") bytes"
