/* The container's root filesystem, in the forked child (as runc's
 * rootfs_linux.go): spec.mounts, /dev, pivot_root, masked and
 * read-only paths, a read-only root. */
#include "agent.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

/* Creates the mount point: a directory, or an empty file when binding a file. */
static void make_mount_point(const char *dst, int file)
{
    struct stat st;
    if (lstat(dst, &st) == 0) {
        return;
    }
    if (!file) {
        mkdir_p(dst, 0755);
        return;
    }
    char parent[4096];
    snprintf(parent, sizeof parent, "%s", dst);
    char *slash = strrchr(parent, '/');
    if (slash && slash != parent) {
        *slash = '\0';
        mkdir_p(parent, 0755);
    }
    int fd = open(dst, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (fd >= 0) {
        close(fd);
    }
}

struct mount_flag {
    const char *name;
    int clear;
    unsigned long flag;
};

static const struct mount_flag mount_flags[] = {
    { "ro", 0, MS_RDONLY },         { "rw", 1, MS_RDONLY },           { "nosuid", 0, MS_NOSUID },
    { "suid", 1, MS_NOSUID },       { "nodev", 0, MS_NODEV },         { "dev", 1, MS_NODEV },
    { "noexec", 0, MS_NOEXEC },     { "exec", 1, MS_NOEXEC },         { "sync", 0, MS_SYNCHRONOUS },
    { "async", 1, MS_SYNCHRONOUS }, { "dirsync", 0, MS_DIRSYNC },     { "remount", 0, MS_REMOUNT },
    { "mand", 0, MS_MANDLOCK },     { "nomand", 1, MS_MANDLOCK },     { "atime", 1, MS_NOATIME },
    { "noatime", 0, MS_NOATIME },   { "diratime", 1, MS_NODIRATIME }, { "nodiratime", 0, MS_NODIRATIME },
    { "relatime", 0, MS_RELATIME }, { "norelatime", 1, MS_RELATIME }, { "strictatime", 0, MS_STRICTATIME },
    { "bind", 0, MS_BIND },         { "rbind", 0, MS_BIND | MS_REC },
};

static const struct mount_flag propagation_flags[] = {
    { "private", 0, MS_PRIVATE },       { "rprivate", 0, MS_PRIVATE | MS_REC },
    { "shared", 0, MS_SHARED },         { "rshared", 0, MS_SHARED | MS_REC },
    { "slave", 0, MS_SLAVE },           { "rslave", 0, MS_SLAVE | MS_REC },
    { "unbindable", 0, MS_UNBINDABLE }, { "runbindable", 0, MS_UNBINDABLE | MS_REC },
};

/* Splits OCI mount options into mount(2) flags, propagation flags and the
 * filesystem-specific data string; -1 when an option cannot be copied. */
static int parse_options(const struct json_doc *d, int options, unsigned long *flags, unsigned long *propagation,
                         struct vmrt_buf *data)
{
    for (int t = json_first(d, options); t >= 0; t = json_next(d, options, t)) {
        char *opt = json_strdup(d, t);
        if (!opt) {
            if (json_is(d, t, JSON_STRING)) return -1;
            continue;
        }
        int known = 0;
        for (size_t i = 0; i < sizeof mount_flags / sizeof *mount_flags; i++) {
            if (!strcmp(opt, mount_flags[i].name)) {
                if (mount_flags[i].clear) {
                    *flags &= ~mount_flags[i].flag;
                } else {
                    *flags |= mount_flags[i].flag;
                }
                known = 1;
            }
        }
        for (size_t i = 0; i < sizeof propagation_flags / sizeof *propagation_flags; i++) {
            if (!strcmp(opt, propagation_flags[i].name)) {
                *propagation |= propagation_flags[i].flag;
                known = 1;
            }
        }
        /* The guest's devpts is always a separate instance per mount. */
        if (!known && strcmp(opt, "newinstance") != 0) {
            if (vmrt_buf_pending_len(data)) {
                vmrt_buf_putc(data, ',');
            }
            vmrt_buf_puts(data, opt);
        }
        free(opt);
    }
    return 0;
}

/* A bind mount of source on target (dest: its path in the container, for
 * errors), then the other flags by a remount. */
static int bind_mount(const char *source, const char *target, const char *dest, unsigned long flags, char *err,
                      size_t errlen)
{
    struct stat st;
    if (stat(source, &st) != 0) FAIL("bind mount source %s: %s", source, strerror(errno));
    make_mount_point(target, !S_ISDIR(st.st_mode));
    if (mount(source, target, NULL, MS_BIND | (flags & MS_REC), NULL) != 0) {
        FAIL("bind %s on %s: %s", source, dest, strerror(errno));
    }
    unsigned long rest = flags & ~(MS_BIND | MS_REC | MS_REMOUNT);
    if (rest && mount(NULL, target, NULL, MS_BIND | MS_REMOUNT | rest, NULL) != 0) {
        FAIL("remount %s: %s", dest, strerror(errno));
    }
    return 0;
}

/* Which of the standard /dev mounts the spec provides. */
struct dev_mounts {
    int dev, pts, shm;
};

static int do_mount(const struct json_doc *d, int m, const char *rootfs, struct dev_mounts *seen, char *err,
                    size_t errlen)
{
    char *dest = json_get_strdup(d, m, "destination", NULL);
    char *type = json_get_strdup(d, m, "type", "");
    char *source = json_get_strdup(d, m, "source", "");
    int rc = -1;
    unsigned long flags = 0, propagation = 0;
    struct vmrt_buf data = { 0 };
    char target[4096];

    if (!type || !source) {
        snprintf(err, errlen, "mount: out of memory");
        goto out;
    }
    if (!dest || dest[0] != '/') {
        snprintf(err, errlen, "mount destination must be absolute: %s", dest ? dest : "(none)");
        goto out;
    }
    if (strstr(dest, "/../") || !strcmp(dest + strlen(dest) - (strlen(dest) >= 3 ? 3 : 0), "/..")) {
        snprintf(err, errlen, "mount destination must not contain '..': %s", dest);
        goto out;
    }
    snprintf(target, sizeof target, "%s%s", rootfs, dest);
    if (parse_options(d, json_get(d, m, "options"), &flags, &propagation, &data) != 0) {
        snprintf(err, errlen, "mount options of %s: out of memory", dest);
        goto out;
    }
    const char *fsdata = vmrt_buf_pending_len(&data) ? vmrt_buf_cstr(&data) : NULL;

    if (!strcmp(dest, "/dev")) seen->dev = 1;
    if (!strcmp(dest, "/dev/pts")) seen->pts = 1;
    if (!strcmp(dest, "/dev/shm")) seen->shm = 1;

    if (!strcmp(type, "bind") || (flags & MS_BIND)) {
        if (bind_mount(source, target, dest, flags, err, errlen) != 0) goto out;
    } else if (!strcmp(type, "sysfs")) {
        /* In a user namespace sysfs cannot be mounted (the VM's network namespace is not the
         * container's): the guest's /sys is bound instead, as runc does. */
        make_mount_point(target, 0);
        int mounted = mount(source, target, type, flags & ~MS_REMOUNT, fsdata) == 0;
        if (!mounted && errno != EPERM) {
            snprintf(err, errlen, "mount sysfs on %s: %s", dest, strerror(errno));
            goto out;
        }
        if (!mounted && bind_mount("/sys", target, dest, flags | MS_REC, err, errlen) != 0) goto out;
    } else if (!strcmp(type, "cgroup") || !strcmp(type, "cgroup2")) {
        /* The guest runs cgroup v2 only; a failure here is not fatal (runc
         * would need controllers the guest kernel may lack). */
        make_mount_point(target, 0);
        if (mount("cgroup2", target, "cgroup2", flags & ~MS_REMOUNT, NULL) != 0) {
            log_msg("cgroup mount on %s: %s", dest, strerror(errno));
        }
    } else {
        make_mount_point(target, 0);
        if (mount(source[0] ? source : type, target, type, flags & ~MS_REMOUNT, fsdata) != 0) {
            snprintf(err, errlen, "mount %s on %s (%s): %s", type, dest, fsdata ? fsdata : "", strerror(errno));
            goto out;
        }
    }
    if (propagation && mount(NULL, target, NULL, propagation, NULL) != 0) {
        snprintf(err, errlen, "propagation of %s: %s", dest, strerror(errno));
        goto out;
    }
    rc = 0;
out:
    vmrt_buf_free(&data);
    free(dest);
    free(type);
    free(source);
    return rc;
}

static int setup_dev(const char *rootfs, const struct dev_mounts *seen, char *err, size_t errlen)
{
    char path[4096];
    if (!seen->dev) {
        snprintf(path, sizeof path, "%s/dev", rootfs);
        make_mount_point(path, 0);
        if (mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_STRICTATIME, "mode=755,size=65536k") != 0) {
            FAIL("mount /dev: %s", strerror(errno));
        }
    }
    static const struct {
        const char *name;
        unsigned major, minor;
    } nodes[] = {
        { "null", 1, 3 }, { "zero", 1, 5 }, { "full", 1, 7 }, { "random", 1, 8 }, { "urandom", 1, 9 }, { "tty", 5, 0 },
    };
    for (size_t i = 0; i < sizeof nodes / sizeof *nodes; i++) {
        snprintf(path, sizeof path, "%s/dev/%s", rootfs, nodes[i].name);
        unlink(path);
        char guest_node[64];
        snprintf(guest_node, sizeof guest_node, "/dev/%s", nodes[i].name);
        /* In a user namespace no device node can be made (EPERM): the guest's own is bound there. */
        if (mknod(path, S_IFCHR | 0666, makedev(nodes[i].major, nodes[i].minor)) == 0) {
            chmod(path, 0666); /* mknod is subject to the umask */
        } else if (errno != EPERM) {
            FAIL("mknod %s: %s", guest_node, strerror(errno));
        } else if (bind_mount(guest_node, path, guest_node, 0, err, errlen) != 0) {
            return -1;
        }
    }
    static const struct {
        const char *name, *target;
    } links[] = {
        { "ptmx", "pts/ptmx" },          { "fd", "/proc/self/fd" },       { "stdin", "/proc/self/fd/0" },
        { "stdout", "/proc/self/fd/1" }, { "stderr", "/proc/self/fd/2" }, { "core", "/proc/kcore" },
    };
    for (size_t i = 0; i < sizeof links / sizeof *links; i++) {
        snprintf(path, sizeof path, "%s/dev/%s", rootfs, links[i].name);
        unlink(path);
        (void)!symlink(links[i].target, path);
    }
    if (!seen->pts) {
        snprintf(path, sizeof path, "%s/dev/pts", rootfs);
        make_mount_point(path, 0);
        if (mount("devpts", path, "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620,gid=5") != 0) {
            FAIL("mount /dev/pts: %s", strerror(errno));
        }
    }
    if (!seen->shm) {
        snprintf(path, sizeof path, "%s/dev/shm", rootfs);
        make_mount_point(path, 0);
        if (mount("shm", path, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=1777,size=65536k") != 0) {
            FAIL("mount /dev/shm: %s", strerror(errno));
        }
    }
    return 0;
}

/* Missing paths are skipped, as runc does. */
int rootfs_mask_paths(const struct json_doc *d, int spec, char *err, size_t errlen)
{
    int lnx = json_get(d, spec, "linux");
    int masked = json_get(d, lnx, "maskedPaths");
    for (int t = json_first(d, masked); t >= 0; t = json_next(d, masked, t)) {
        char *path = json_strdup(d, t);
        struct stat st;
        int rc = 0;
        if (!path && json_is(d, t, JSON_STRING)) FAIL("mask: out of memory");
        if (path && stat(path, &st) == 0) {
            rc = S_ISDIR(st.st_mode) ? mount("tmpfs", path, "tmpfs", MS_RDONLY, "size=0k")
                                     : mount("/dev/null", path, NULL, MS_BIND, NULL);
        }
        if (rc != 0) {
            snprintf(err, errlen, "mask %s: %s", path, strerror(errno));
        }
        free(path);
        if (rc != 0) return -1;
    }
    int readonly = json_get(d, lnx, "readonlyPaths");
    for (int t = json_first(d, readonly); t >= 0; t = json_next(d, readonly, t)) {
        char *path = json_strdup(d, t);
        struct stat st;
        int rc = 0;
        if (!path && json_is(d, t, JSON_STRING)) FAIL("read-only paths: out of memory");
        if (path && stat(path, &st) == 0) {
            rc = mount(path, path, NULL, MS_BIND | MS_REC, NULL);
            if (rc == 0) {
                rc = mount(NULL, path, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
            }
        }
        if (rc != 0) {
            snprintf(err, errlen, "make %s read-only: %s", path, strerror(errno));
        }
        free(path);
        if (rc != 0) return -1;
    }
    return 0;
}

int rootfs_prepare(const struct json_doc *d, int spec, char *err, size_t errlen)
{
    char *rootfs = json_get_strdup(d, json_get(d, spec, "root"), "path", NULL);
    if (!rootfs || rootfs[0] != '/') {
        FAIL("spec.root.path must be an absolute guest path");
    }
    struct stat st;
    if (stat(rootfs, &st) != 0) {
        FAIL("rootfs %s: %s", rootfs, strerror(errno));
    }
    if (!S_ISDIR(st.st_mode)) {
        FAIL("rootfs %s: not a directory", rootfs);
    }
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) {
        FAIL("make / private: %s", strerror(errno));
    }
    /* pivot_root needs the new root to be a mount point. */
    if (mount(rootfs, rootfs, NULL, MS_BIND | MS_REC, NULL) != 0) {
        FAIL("bind rootfs: %s", strerror(errno));
    }
    struct dev_mounts seen = { 0 };
    int mounts = json_get(d, spec, "mounts");
    for (int m = json_first(d, mounts); m >= 0; m = json_next(d, mounts, m)) {
        if (do_mount(d, m, rootfs, &seen, err, errlen) != 0) {
            return -1;
        }
    }
    if (setup_dev(rootfs, &seen, err, errlen) != 0) {
        return -1;
    }
    if (chdir(rootfs) != 0 || syscall(SYS_pivot_root, ".", ".") != 0) {
        FAIL("pivot_root: %s", strerror(errno));
    }
    /* The old root is now stacked under "/": detach it. */
    if (umount2(".", MNT_DETACH) != 0 || chdir("/") != 0) {
        FAIL("detach old root: %s", strerror(errno));
    }
    return 0;
}

int rootfs_finalize(const struct json_doc *d, int spec, char *err, size_t errlen)
{
    /* linux.rootfsPropagation, as runc applies it to the new root (shared and slave modes are
     * refused at create: nothing outside the VM could take part in them). */
    char *propagation = json_get_strdup(d, json_get(d, spec, "linux"), "rootfsPropagation", NULL);
    for (size_t i = 0; propagation && i < sizeof propagation_flags / sizeof *propagation_flags; i++) {
        if (!strcmp(propagation, propagation_flags[i].name) &&
            mount(NULL, "/", NULL, propagation_flags[i].flag, NULL) != 0) {
            snprintf(err, errlen, "rootfsPropagation %s: %s", propagation, strerror(errno));
            free(propagation);
            return -1;
        }
    }
    free(propagation);
    if (json_bool_value(d, json_get(d, json_get(d, spec, "root"), "readonly"), 0) &&
        mount(NULL, "/", NULL, MS_BIND | MS_REMOUNT | MS_RDONLY, NULL) != 0) {
        FAIL("readonly root: %s", strerror(errno));
    }
    return 0;
}
