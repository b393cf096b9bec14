/* Building a container and running its processes. Everything here runs in a
 * forked child of the agent; errors are returned as messages, which the
 * caller sends to the agent over the setup pipe. */
#include "agent.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <termios.h>
#include <unistd.h>

#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

#define FAIL(...)                                                                                                      \
    do {                                                                                                               \
        snprintf(err, errlen, __VA_ARGS__);                                                                            \
        return -1;                                                                                                     \
    } while (0)

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
 * filesystem-specific data string. */
static void parse_options(const struct json_doc *d, int options, unsigned long *flags, unsigned long *propagation,
                          struct vmrt_buf *data)
{
    for (int t = json_first(d, options); t >= 0; t = json_next(d, options, t)) {
        char *opt = json_strdup(d, t);
        if (!opt) {
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

    if (!dest || dest[0] != '/') {
        snprintf(err, errlen, "mount destination must be absolute: %s", dest ? dest : "(none)");
        goto out;
    }
    if (strstr(dest, "/../") || !strcmp(dest + strlen(dest) - (strlen(dest) >= 3 ? 3 : 0), "/..")) {
        snprintf(err, errlen, "mount destination must not contain '..': %s", dest);
        goto out;
    }
    snprintf(target, sizeof target, "%s%s", rootfs, dest);
    parse_options(d, json_get(d, m, "options"), &flags, &propagation, &data);
    const char *fsdata = vmrt_buf_pending_len(&data) ? vmrt_buf_cstr(&data) : NULL;

    if (!strcmp(dest, "/dev")) seen->dev = 1;
    if (!strcmp(dest, "/dev/pts")) seen->pts = 1;
    if (!strcmp(dest, "/dev/shm")) seen->shm = 1;

    if (!strcmp(type, "bind") || (flags & MS_BIND)) {
        struct stat st;
        if (stat(source, &st) != 0) {
            snprintf(err, errlen, "bind mount source %s: %s", source, strerror(errno));
            goto out;
        }
        make_mount_point(target, !S_ISDIR(st.st_mode));
        unsigned long bind = MS_BIND | (flags & MS_REC);
        if (mount(source, target, NULL, bind, NULL) != 0) {
            snprintf(err, errlen, "bind %s on %s: %s", source, dest, strerror(errno));
            goto out;
        }
        unsigned long rest = flags & ~(MS_BIND | MS_REC | MS_REMOUNT);
        if (rest && mount(NULL, target, NULL, MS_BIND | MS_REMOUNT | rest, NULL) != 0) {
            snprintf(err, errlen, "remount %s: %s", dest, strerror(errno));
            goto out;
        }
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
        if (mknod(path, S_IFCHR | 0666, makedev(nodes[i].major, nodes[i].minor)) != 0) {
            FAIL("mknod /dev/%s: %s", nodes[i].name, strerror(errno));
        }
        chmod(path, 0666); /* mknod is subject to the umask */
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

/* spec.annotations -> /run/vmrt/annotations/<key> on a small tmpfs, so they
 * never land in the (host-shared) rootfs. */
static int write_annotations(const struct json_doc *d, int spec, const char *rootfs, char *err, size_t errlen)
{
    int ann = json_get(d, spec, "annotations");
    if (json_size(d, ann) == 0) {
        return 0;
    }
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/run/vmrt/annotations", rootfs);
    mkdir_p(dir, 0755);
    if (mount("tmpfs", dir, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=0755,size=1m") != 0) {
        FAIL("mount /run/vmrt/annotations: %s", strerror(errno));
    }
    for (int k = json_first(d, ann); k >= 0; k = json_next(d, ann, k)) {
        char *key = json_strdup(d, k);
        char *value = json_strdup(d, k + 1);
        if (key && value && key[0] && strcmp(key, ".") && strcmp(key, "..")) {
            for (char *p = key; *p; p++) {
                if (*p == '/') *p = '_';
            }
            char path[8192];
            snprintf(path, sizeof path, "%s/%s", dir, key);
            int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
            if (fd >= 0) {
                (void)!write(fd, value, strlen(value));
                close(fd);
            }
        }
        free(key);
        free(value);
    }
    mount(NULL, dir, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
    return 0;
}

/* linux.maskedPaths (hidden: /dev/null over files, an empty read-only tmpfs
 * over directories) and linux.readonlyPaths, after the pivot. Missing paths
 * are skipped, as runc does. */
static int mask_paths(const struct json_doc *d, int spec, char *err, size_t errlen)
{
    int lnx = json_get(d, spec, "linux");
    int masked = json_get(d, lnx, "maskedPaths");
    for (int t = json_first(d, masked); t >= 0; t = json_next(d, masked, t)) {
        char *path = json_strdup(d, t);
        struct stat st;
        int rc = 0;
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

static void apply_sysctls(const struct json_doc *d, int spec)
{
    int sysctl = json_get(d, json_get(d, spec, "linux"), "sysctl");
    for (int k = json_first(d, sysctl); k >= 0; k = json_next(d, sysctl, k)) {
        char *key = json_strdup(d, k);
        char *value = json_strdup(d, k + 1);
        if (key && value && !strstr(key, "..")) {
            char path[4096];
            snprintf(path, sizeof path, "/proc/sys/%s", key);
            for (char *p = path + 10; *p; p++) {
                if (*p == '.') *p = '/';
            }
            if (write_text(path, value) != 0) {
                log_msg("sysctl %s: %s", key, strerror(errno));
            }
        }
        free(key);
        free(value);
    }
}

/* Finds an executable the way execvp would, in the current root. */
static int resolve_executable(const char *name, const char *path_env, char *out, size_t outlen)
{
    if (strchr(name, '/')) {
        snprintf(out, outlen, "%s", name);
        return access(out, X_OK);
    }
    const char *p = path_env ? path_env : DEFAULT_PATH;
    while (*p) {
        size_t n = strcspn(p, ":");
        snprintf(out, outlen, "%.*s/%s", (int)n, p, name);
        struct stat st;
        if (n && stat(out, &st) == 0 && S_ISREG(st.st_mode) && access(out, X_OK) == 0) {
            return 0;
        }
        p += n;
        if (*p == ':') p++;
    }
    errno = ENOENT;
    return -1;
}

/* Value of NAME in an env array ("NAME=value"), or NULL. */
static const char *env_lookup(char **env, const char *name)
{
    size_t n = strlen(name);
    for (char **e = env; e && *e; e++) {
        if (!strncmp(*e, name, n) && (*e)[n] == '=') {
            return *e + n + 1;
        }
    }
    return NULL;
}

/* Home directory of uid from the container's /etc/passwd (no NSS here). */
static void home_of(uid_t uid, char *out, size_t outlen)
{
    snprintf(out, outlen, "/");
    FILE *f = fopen("/etc/passwd", "re");
    if (!f) {
        return;
    }
    char line[1024];
    while (fgets(line, sizeof line, f)) {
        /* name:pw:uid:gid:gecos:home:shell */
        char *fields[7] = { 0 };
        char *p = line;
        for (int i = 0; i < 7 && p; i++) {
            fields[i] = p;
            p = strchr(p, ':');
            if (p) *p++ = '\0';
        }
        if (fields[5] && fields[2] && (uid_t)strtoul(fields[2], NULL, 10) == uid) {
            fields[5][strcspn(fields[5], "\n")] = '\0';
            snprintf(out, outlen, "%s", fields[5]);
            break;
        }
    }
    fclose(f);
}

static const struct {
    const char *name;
    int resource;
} rlimit_names[] = {
    { "RLIMIT_CPU", RLIMIT_CPU },           { "RLIMIT_FSIZE", RLIMIT_FSIZE },
    { "RLIMIT_DATA", RLIMIT_DATA },         { "RLIMIT_STACK", RLIMIT_STACK },
    { "RLIMIT_CORE", RLIMIT_CORE },         { "RLIMIT_RSS", RLIMIT_RSS },
    { "RLIMIT_NPROC", RLIMIT_NPROC },       { "RLIMIT_NOFILE", RLIMIT_NOFILE },
    { "RLIMIT_MEMLOCK", RLIMIT_MEMLOCK },   { "RLIMIT_AS", RLIMIT_AS },
    { "RLIMIT_LOCKS", RLIMIT_LOCKS },       { "RLIMIT_SIGPENDING", RLIMIT_SIGPENDING },
    { "RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE }, { "RLIMIT_NICE", RLIMIT_NICE },
    { "RLIMIT_RTPRIO", RLIMIT_RTPRIO },     { "RLIMIT_RTTIME", RLIMIT_RTTIME },
};

static int apply_rlimits(const struct json_doc *d, int process, char *err, size_t errlen)
{
    int list = json_get(d, process, "rlimits");
    for (int r = json_first(d, list); r >= 0; r = json_next(d, list, r)) {
        int type = json_get(d, r, "type");
        int resource = -1;
        for (size_t i = 0; i < sizeof rlimit_names / sizeof *rlimit_names; i++) {
            if (json_str_eq(d, type, rlimit_names[i].name)) {
                resource = rlimit_names[i].resource;
            }
        }
        uint64_t soft, hard;
        if (resource < 0 || json_u64(d, json_get(d, r, "soft"), &soft) != 0 ||
            json_u64(d, json_get(d, r, "hard"), &hard) != 0) {
            FAIL("bad rlimit entry");
        }
        struct rlimit rl = { (rlim_t)soft, (rlim_t)hard };
        if (setrlimit(resource, &rl) != 0) {
            FAIL("setrlimit: %s", strerror(errno));
        }
    }
    return 0;
}

/* Prepared parts of an OCI process object. */
struct process_plan {
    char **args;
    char **env;
    char exe[4096];
};

static int plan_process(const struct json_doc *d, int process, struct process_plan *plan, char *err, size_t errlen)
{
    memset(plan, 0, sizeof *plan);
    plan->args = json_strv(d, json_get(d, process, "args"));
    if (!plan->args || !plan->args[0]) {
        FAIL("process.args must be a non-empty array of strings");
    }
    plan->env = json_strv(d, json_get(d, process, "env"));
    if (!plan->env) {
        plan->env = calloc(1, sizeof *plan->env);
    }
    if (resolve_executable(plan->args[0], env_lookup(plan->env, "PATH"), plan->exe, sizeof plan->exe) != 0) {
        FAIL("exec: \"%s\": executable file not found in $PATH", plan->args[0]);
    }
    return 0;
}

int exec_process(const struct json_doc *d, int process, const struct json_doc *seccomp_doc, int seccomp, char *err,
                 size_t errlen)
{
    int no_new_privs = json_bool_value(d, json_get(d, process, "noNewPrivileges"), 0);
    int user = json_get(d, process, "user");
    uid_t uid = (uid_t)json_i64_or(d, json_get(d, user, "uid"), 0);
    gid_t gid = (gid_t)json_i64_or(d, json_get(d, user, "gid"), 0);

    if (apply_rlimits(d, process, err, errlen) != 0) {
        return -1;
    }
    char *cwd = json_get_strdup(d, process, "cwd", "/");
    if (chdir(cwd) != 0) {
        snprintf(err, errlen, "chdir to cwd (\"%s\") set in config.json failed: %s", cwd, strerror(errno));
        free(cwd);
        return -1;
    }
    free(cwd);

    struct process_plan plan;
    if (plan_process(d, process, &plan, err, errlen) != 0) {
        return -1;
    }
    /* Environment: the spec's, plus HOME from /etc/passwd like runc. */
    clearenv();
    for (char **e = plan.env; *e; e++) {
        putenv(*e);
    }
    if (!getenv("HOME")) {
        char home[1024];
        home_of(uid, home, sizeof home);
        setenv("HOME", home, 1);
    }

    int groups = json_get(d, user, "additionalGids");
    gid_t gids[256];
    size_t ngids = 0;
    for (int g = json_first(d, groups); g >= 0 && ngids < 256; g = json_next(d, groups, g)) {
        gids[ngids++] = (gid_t)json_i64_or(d, g, 0);
    }
    /* Before the uid change: lowering it needs CAP_SYS_RESOURCE. */
    int64_t oom;
    if (json_i64(d, json_get(d, process, "oomScoreAdj"), &oom) == 0) {
        char value[32];
        snprintf(value, sizeof value, "%lld", (long long)oom);
        if (write_text("/proc/self/oom_score_adj", value) != 0) {
            FAIL("oomScoreAdj: %s", strerror(errno));
        }
    }
    /* Without no_new_privs only a privileged process may install a filter:
     * then it goes in before the uid change (the syscalls that follow must be
     * allowed by it, as with runc); otherwise as late as possible. */
    if (!no_new_privs && seccomp_install(seccomp_doc, seccomp, err, errlen) != 0) return -1;
    if (caps_before_user(d, process, err, errlen) != 0) return -1;
    if (setgroups(ngids, gids) != 0) FAIL("setgroups: %s", strerror(errno));
    if (setgid(gid) != 0) FAIL("setgid %u: %s", (unsigned)gid, strerror(errno));
    if (setuid(uid) != 0) FAIL("setuid %u: %s", (unsigned)uid, strerror(errno));
    if (caps_after_user(d, process, err, errlen) != 0) return -1;

    int64_t mask = json_i64_or(d, json_get(d, user, "umask"), 022);
    umask((mode_t)mask);
    signal(SIGPIPE, SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    if (no_new_privs) {
        prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
        if (seccomp_install(seccomp_doc, seccomp, err, errlen) != 0) return -1;
    }

    execv(plan.exe, plan.args);
    FAIL("exec %s: %s", plan.exe, strerror(errno));
}

int child_create(const char *id, const struct json_doc *d, int spec, char *err, size_t errlen)
{
    /* Into its cgroup first, then a cgroup namespace rooted there, so the
     * container's cgroup2 mount shows its own limits at the top. */
    if (cgroup_enter_new(id, d, spec, err, errlen) != 0) {
        return -1;
    }
    if (unshare(CLONE_NEWCGROUP) != 0) {
        FAIL("cgroup namespace: %s", strerror(errno));
    }
    int root = json_get(d, spec, "root");
    char *rootfs = json_get_strdup(d, root, "path", NULL);
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
    if (setup_dev(rootfs, &seen, err, errlen) != 0 || write_annotations(d, spec, rootfs, err, errlen) != 0) {
        return -1;
    }
    if (chdir(rootfs) != 0 || syscall(SYS_pivot_root, ".", ".") != 0) {
        FAIL("pivot_root: %s", strerror(errno));
    }
    /* The old root is now stacked under "/": detach it. */
    if (umount2(".", MNT_DETACH) != 0 || chdir("/") != 0) {
        FAIL("detach old root: %s", strerror(errno));
    }
    apply_sysctls(d, spec);
    if (mask_paths(d, spec, err, errlen) != 0) {
        return -1;
    }
    char *hostname = json_get_strdup(d, spec, "hostname", NULL);
    if (hostname && sethostname(hostname, strlen(hostname)) != 0) {
        FAIL("sethostname: %s", strerror(errno));
    }
    free(hostname);
    if (json_bool_value(d, json_get(d, root, "readonly"), 0) &&
        mount(NULL, "/", NULL, MS_BIND | MS_REMOUNT | MS_RDONLY, NULL) != 0) {
        FAIL("readonly root: %s", strerror(errno));
    }
    /* Fail at create (as runc does) when the program cannot be found. */
    int process = json_get(d, spec, "process");
    struct process_plan plan;
    char *cwd = json_get_strdup(d, process, "cwd", "/");
    int cwd_ok = chdir(cwd) == 0;
    free(cwd);
    if (!cwd_ok) {
        FAIL("chdir to cwd set in config.json failed: %s", strerror(errno));
    }
    if (plan_process(d, process, &plan, err, errlen) != 0) {
        return -1;
    }
    json_strv_free(plan.args);
    json_strv_free(plan.env);
    if (chdir("/") != 0) {
        FAIL("chdir /: %s", strerror(errno));
    }
    return 0;
}

int join_container(const char *id, pid_t init_pid, char *err, size_t errlen)
{
    if (cgroup_enter(id, err, errlen) != 0) {
        return -1;
    }
    static const char *kinds[] = { "cgroup", "ipc", "uts", "mnt" };
    int fds[4];
    for (int i = 0; i < 4; i++) {
        char path[64];
        snprintf(path, sizeof path, "/proc/%d/ns/%s", (int)init_pid, kinds[i]);
        fds[i] = open(path, O_RDONLY | O_CLOEXEC);
        if (fds[i] < 0) {
            FAIL("open %s: %s", path, strerror(errno));
        }
    }
    for (int i = 0; i < 4; i++) {
        if (setns(fds[i], 0) != 0) {
            FAIL("setns %s: %s", kinds[i], strerror(errno));
        }
        close(fds[i]);
    }
    return 0;
}

int setup_terminal(const struct json_doc *d, int process, int sync_fd, char *err, size_t errlen)
{
    int master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
    char name[64];
    if (master < 0 || grantpt(master) != 0 || unlockpt(master) != 0 || ptsname_r(master, name, sizeof name) != 0) {
        FAIL("allocate a pty in the container: %s", strerror(errno));
    }
    int slave = open(name, O_RDWR | O_NOCTTY);
    if (slave < 0) {
        FAIL("open %s: %s", name, strerror(errno));
    }
    int size = json_get(d, process, "consoleSize");
    struct winsize ws = { (unsigned short)json_i64_or(d, json_get(d, size, "height"), 24),
                          (unsigned short)json_i64_or(d, json_get(d, size, "width"), 80), 0, 0 };
    ioctl(master, TIOCSWINSZ, &ws);

    /* The master goes to the agent, which relays it as the process's stdio. */
    char byte = 'M';
    struct iovec iov = { &byte, 1 };
    union {
        struct cmsghdr align;
        char buf[CMSG_SPACE(sizeof(int))];
    } control;
    memset(&control, 0, sizeof control);
    struct msghdr msg = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf, .msg_controllen = sizeof control.buf
    };
    struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
    cmsg->cmsg_level = SOL_SOCKET;
    cmsg->cmsg_type = SCM_RIGHTS;
    cmsg->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(cmsg), &master, sizeof(int));
    if (sendmsg(sync_fd, &msg, 0) != 1) {
        FAIL("pass the pty master: %s", strerror(errno));
    }
    close(master);
    for (int i = 0; i < 3; i++) {
        dup2(slave, i);
    }
    if (slave > 2) {
        close(slave);
    }
    if (ioctl(0, TIOCSCTTY, 0) != 0) {
        FAIL("make %s the controlling terminal: %s", name, strerror(errno));
    }
    return 0;
}
