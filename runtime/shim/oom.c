#include "oom.h"
#include "clock.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "file.h"
#include "sys.h"

/* Room above the usage while the limit is tight, for QEMU's own allocations in
 * that moment (they reclaim cache first, as the sacrifice's do). */
#define OOM_MARGIN      (4ull << 20)
#define OOM_DEADLINE_MS 5000
#define CHUNK           (4u << 20)

/* 1 when the comma-separated list contains word. */
static int has_word(const char *list, const char *word)
{
    size_t n = strlen(word);
    for (const char *p = list; p && *p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL) {
        if (!strncmp(p, word, n) && (p[n] == ',' || p[n] == '\0')) {
            return 1;
        }
    }
    return 0;
}

/* The folder of the shim's own memory cgroup: the v1 memory hierarchy where
 * there is one (hybrid hosts too, as containerd), else the v2 tree. */
static int memory_cgroup_dir(char *out, size_t len, int *version)
{
    char line[4096], path[2][PATH_MAX] = { "", "" };
    int found[2] = { 0, 0 };
    FILE *f = fopen("/proc/self/cgroup", "re");
    if (!f) {
        return -1;
    }
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        char *controllers = strchr(line, ':');
        char *cgpath = controllers ? strchr(controllers + 1, ':') : NULL;
        if (!cgpath) {
            continue;
        }
        *cgpath++ = '\0';
        controllers++;
        int v2 = controllers[0] == '\0';
        if (v2 || has_word(controllers, "memory")) {
            snprintf(path[v2], sizeof path[v2], "%s", cgpath);
            found[v2] = 1;
        }
    }
    fclose(f);
    if (!found[0] && !found[1]) {
        return -1;
    }
    *version = found[0] ? 1 : 2;
    const char *cgpath = path[*version == 2];
    f = fopen("/proc/self/mountinfo", "re");
    if (!f) {
        return -1;
    }
    int rc = -1;
    while (fgets(line, sizeof line, f)) {
        char *sep = strstr(line, " - ");
        char root[PATH_MAX], point[PATH_MAX], fstype[32], options[1024];
        if (!sep || sscanf(line, "%*s %*s %*s %4095s %4095s", root, point) != 2 ||
            sscanf(sep + 3, "%31s %*s %1023s", fstype, options) != 2) {
            continue;
        }
        int match =
            *version == 1 ? !strcmp(fstype, "cgroup") && has_word(options, "memory") : !strcmp(fstype, "cgroup2");
        if (match) {
            /* A mount of a sub-tree shows the cgroup paths relative to its root. */
            size_t n = strlen(root);
            const char *rel = strcmp(root, "/") && !strncmp(cgpath, root, n) ? cgpath + n : cgpath;
            rc = snprintf(out, len, "%s%s", point, rel) < (int)len ? 0 : -1;
            break;
        }
    }
    fclose(f);
    return rc;
}

static int read_text(const char *dir, const char *name, char *buf, size_t len)
{
    char path[PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return read_file(path, buf, len) > 0 ? 0 : -1;
}

/* The first line of a file. */
static int read_value(const char *dir, const char *name, char *buf, size_t len)
{
    if (read_text(dir, name, buf, len) != 0) {
        return -1;
    }
    buf[strcspn(buf, "\n")] = '\0';
    return 0;
}

static int write_value(const char *dir, const char *name, const char *value)
{
    char path[PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return write_text(path, value);
}

/* The other processes of the cgroup (QEMU, shims) with their oom_score_adj. */
struct protected
{
    pid_t pid[64];
    char adj[64][16];
    size_t n;
};

/* v2: oom_score_adj -1000 for every other process of the cgroup while the
 * limit is tight. A score of 1000 alone cannot make the sacrifice the victim:
 * QEMU's resident memory includes pages charged to other cgroups (the binary,
 * what it touched before it joined this one), which can outweigh the limit.
 * Returns -1 unless every one of them is protected. */
static int protect_others(const char *dir, pid_t sacrifice_pid, struct protected *p)
{
    char path[PATH_MAX + 32], line[32];
    int rc = 0;
    snprintf(path, sizeof path, "%s/cgroup.procs", dir);
    FILE *f = fopen(path, "re");
    if (!f) {
        return -1;
    }
    while (fgets(line, sizeof line, f)) {
        pid_t pid = (pid_t)atoi(line);
        if (pid <= 0 || pid == sacrifice_pid) {
            continue;
        }
        snprintf(path, sizeof path, "/proc/%d", (int)pid);
        if (p->n < sizeof p->pid / sizeof *p->pid &&
            read_value(path, "oom_score_adj", p->adj[p->n], sizeof p->adj[0]) != 0 && errno == ENOENT) {
            continue; /* it ended meanwhile */
        }
        if (p->n == sizeof p->pid / sizeof *p->pid || write_value(path, "oom_score_adj", "-1000") != 0) {
            rc = -1;
            break;
        }
        p->pid[p->n++] = pid;
    }
    fclose(f);
    return rc;
}

static void unprotect_others(const struct protected *p)
{
    char path[64];
    for (size_t i = 0; i < p->n; i++) {
        snprintf(path, sizeof path, "/proc/%d", (int)p->pid[i]);
        write_value(path, "oom_score_adj", p->adj[i]);
    }
}

/* The child that the OOM killer takes: it fills memory once told to, until killed. */
static void __attribute__((noreturn)) sacrifice(int go_fd)
{
    if (write_text("/proc/self/oom_score_adj", "1000") != 0) {
        _exit(2);
    }
    char go;
    if (read(go_fd, &go, 1) != 1) {
        _exit(3);
    }
    for (;;) {
        char *p = mmap(NULL, CHUNK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) {
            poll(NULL, 0, 1);
            continue;
        }
        for (size_t i = 0; i < CHUNK; i += 4096) {
            p[i] = 1; /* each page touched is charged to the cgroup */
        }
    }
}

/* Moves the shim into the parent of dir (out) or back into dir. */
static int move_self(const char *dir, int out)
{
    char target[PATH_MAX], pid[16];
    snprintf(target, sizeof target, "%s", dir);
    if (out) {
        *strrchr(target, '/') = '\0';
    }
    snprintf(pid, sizeof pid, "%d", (int)getpid());
    return write_value(target, "cgroup.procs", pid);
}

/* v1: 1 while a task of the cgroup waits in its OOM (oom_kill_disable 1). */
static int under_oom(const char *dir)
{
    char control[256];
    return read_text(dir, "memory.oom_control", control, sizeof control) == 0 && strstr(control, "under_oom 1") != NULL;
}

/* Sets the limit just above the usage. The usage grows meanwhile and v1
 * refuses a limit below it (EBUSY): retried. */
static int tighten_limit(const char *dir, const char *usage_file, const char *limit_file)
{
    char usage[64], limit[64];
    for (int attempt = 0; attempt < 10; attempt++) {
        if (read_value(dir, usage_file, usage, sizeof usage) != 0) {
            return -1;
        }
        snprintf(limit, sizeof limit, "%llu", strtoull(usage, NULL, 10) + OOM_MARGIN);
        if (write_value(dir, limit_file, limit) == 0) {
            return 0;
        }
        if (errno != EBUSY) {
            return -1;
        }
    }
    return -1;
}

int oom_mirror(char *err, size_t errlen)
{
    char dir[PATH_MAX], saved[64], control[256];
    int version;
    if (memory_cgroup_dir(dir, sizeof dir, &version) != 0) {
        snprintf(err, errlen, "the shim's memory cgroup was not found");
        return -1;
    }
    int v1 = version == 1;
    const char *limit_file = v1 ? "memory.limit_in_bytes" : "memory.max";
    const char *usage_file = v1 ? "memory.usage_in_bytes" : "memory.current";
    if (read_value(dir, limit_file, saved, sizeof saved) != 0 ||
        (v1 && read_text(dir, "memory.oom_control", control, sizeof control) != 0)) {
        snprintf(err, errlen, "read the limits of %s: %s", dir, strerror(errno));
        return -1;
    }
    const char *kill_disable = v1 && strstr(control, "oom_kill_disable 1") ? "1" : "0";
    int go[2];
    if (pipe2(go, O_CLOEXEC) != 0) {
        snprintf(err, errlen, "pipe: %s", strerror(errno));
        return -1;
    }
    pid_t pid = fork();
    if (pid == 0) {
        close(go[1]);
        sacrifice(go[0]);
    }
    close(go[0]);
    if (pid < 0) {
        snprintf(err, errlen, "fork: %s", strerror(errno));
        close(go[1]);
        return -1;
    }
    struct protected others = { .n = 0 };
    int rc = -1, status = 0;
    pid_t reaped = 0;
    if (v1) {
        /* v1 needs no kill at all: the eventfd fires as the sacrifice enters the
         * OOM, where it then waits, as every task that meets the limit does. The
         * shim would wait there too (a page it touches is memory): it steps out
         * into the parent cgroup meanwhile. */
        if (move_self(dir, 1) != 0) {
            snprintf(err, errlen, "leave %s for its parent: %s", dir, strerror(errno));
            goto restore;
        }
        if (write_value(dir, "memory.oom_control", "1") != 0) {
            snprintf(err, errlen, "set %s/memory.oom_control: %s", dir, strerror(errno));
            goto restore;
        }
    } else if (protect_others(dir, pid, &others) != 0) {
        snprintf(err, errlen,
                 "cannot give the VM's processes oom_score_adj -1000 (that needs "
                 "CAP_SYS_RESOURCE), so the OOM killer might take QEMU: not tried");
        goto restore;
    }
    if (tighten_limit(dir, usage_file, limit_file) != 0) {
        snprintf(err, errlen, "set %s/%s: %s", dir, limit_file, strerror(errno));
        goto restore;
    }
    (void)!write(go[1], "g", 1);
    for (int64_t deadline = now_ms() + OOM_DEADLINE_MS; now_ms() < deadline; poll(NULL, 0, 1)) {
        if ((reaped = waitpid(pid, &status, WNOHANG)) != 0) {
            rc = !v1 && WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL ? 0 : -1;
            break;
        }
        if (v1 && under_oom(dir)) {
            rc = 0;
            break;
        }
    }
    if (rc != 0) {
        snprintf(err, errlen, "%s did not run out of memory within %d s", dir, OOM_DEADLINE_MS / 1000);
    }
restore:
    /* The limit first: tasks that wait for memory must find it when the sacrifice
     * ends (else they would enter the OOM again). */
    if (write_value(dir, limit_file, saved) != 0 || (v1 && write_value(dir, "memory.oom_control", kill_disable) != 0)) {
        snprintf(err, errlen, "restore the limits of %s: %s", dir, strerror(errno));
        rc = -1;
    }
    if (reaped == 0) {
        kill(pid, SIGKILL);
    }
    unprotect_others(&others);
    if (v1 && move_self(dir, 0) != 0) {
        snprintf(err, errlen, "return to %s: %s", dir, strerror(errno));
        rc = -1;
    }
    close(go[1]);
    if (reaped == 0) {
        waitpid(pid, NULL, 0);
    }
    return rc;
}
