/* linux.resources through the guest's cgroup v2 tree: each container gets
 * /sys/fs/cgroup/vmrt/<id> and its own cgroup namespace rooted there. */
#include "agent.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#define CGROUP_ROOT "/sys/fs/cgroup"
#define CGROUP_BASE CGROUP_ROOT "/vmrt"

static void enable_controllers(const char *dir)
{
    static const char *controllers[] = { "+cpu", "+cpuset", "+memory", "+pids", "+io" };
    char path[256];
    snprintf(path, sizeof path, "%s/cgroup.subtree_control", dir);
    /* One by one: a controller this kernel lacks must not block the others. */
    for (size_t i = 0; i < sizeof controllers / sizeof *controllers; i++) {
        write_text(path, controllers[i]);
    }
}

void cgroup_init(void)
{
    enable_controllers(CGROUP_ROOT);
    mkdir(CGROUP_BASE, 0755);
    enable_controllers(CGROUP_BASE);
}

static void cgroup_dir(const char *id, char *out, size_t len)
{
    snprintf(out, len, CGROUP_BASE "/%s", id);
}

/* Writes one limit file; a file the kernel does not offer is only logged. */
static int set_limit(const char *dir, const char *file, const char *value, char *err, size_t errlen)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    if (write_text(path, value) == 0) {
        return 0;
    }
    if (errno == ENOENT) {
        log_msg("cgroup: %s not available in the guest kernel", file);
        return 0;
    }
    snprintf(err, errlen, "cgroup %s = %s: %s", file, value, strerror(errno));
    return -1;
}

/* "max" for the OCI spelling of "no limit" (-1); callers skip 0, which means "unchanged" to
 * docker update, as to runc. */
static void limit_text(int64_t v, char *out, size_t len)
{
    if (v <= 0) {
        snprintf(out, len, "max");
    } else {
        snprintf(out, len, "%lld", (long long)v);
    }
}

static int apply_resources(const struct json_doc *d, int res, const char *dir, char *err, size_t errlen)
{
    char v[64];
    int64_t n;
    int memory = json_get(d, res, "memory");
    if (json_i64(d, json_get(d, memory, "limit"), &n) == 0 && n != 0) {
        limit_text(n, v, sizeof v);
        if (set_limit(dir, "memory.max", v, err, errlen)) return -1;
    }
    if (json_i64(d, json_get(d, memory, "reservation"), &n) == 0 && n != 0) {
        limit_text(n, v, sizeof v);
        if (set_limit(dir, "memory.low", n <= 0 ? "0" : v, err, errlen)) return -1;
    }
    int cpu = json_get(d, res, "cpu");
    uint64_t shares;
    if (json_u64(d, json_get(d, cpu, "shares"), &shares) == 0 && shares > 0) {
        /* runc's conversion of cgroup v1 shares [2, 262144] to v2 weight [1, 10000]. */
        if (shares < 2) shares = 2;
        if (shares > 262144) shares = 262144;
        snprintf(v, sizeof v, "%llu", (unsigned long long)(1 + ((shares - 2) * 9999) / 262142));
        if (set_limit(dir, "cpu.weight", v, err, errlen)) return -1;
    }
    /* As runc writes cpu.max: zero means "unchanged" (docker update sends 0 for what it does not
     * change), a quota of -1 "max", and the period only when one is given. */
    int64_t quota = 0;
    uint64_t period = 0;
    json_i64(d, json_get(d, cpu, "quota"), &quota);
    json_u64(d, json_get(d, cpu, "period"), &period);
    if (quota != 0 || period != 0) {
        int n = quota > 0 ? snprintf(v, sizeof v, "%lld", (long long)quota) : snprintf(v, sizeof v, "max");
        if (period != 0) snprintf(v + n, sizeof v - n, " %llu", (unsigned long long)period);
        if (set_limit(dir, "cpu.max", v, err, errlen)) return -1;
    }
    static const struct {
        const char *key, *file;
    } cpuset[] = { { "cpus", "cpuset.cpus" }, { "mems", "cpuset.mems" } };
    for (size_t i = 0; i < 2; i++) {
        char *s = json_get_strdup(d, cpu, cpuset[i].key, NULL);
        if (!s && json_is(d, json_get(d, cpu, cpuset[i].key), JSON_STRING)) {
            snprintf(err, errlen, "cgroup %s: out of memory", cpuset[i].file);
            return -1;
        }
        int rc = s && s[0] ? set_limit(dir, cpuset[i].file, s, err, errlen) : 0;
        free(s);
        if (rc) return -1;
    }
    if (json_i64(d, json_get(d, json_get(d, res, "pids"), "limit"), &n) == 0 && n != 0) {
        limit_text(n, v, sizeof v);
        if (set_limit(dir, "pids.max", v, err, errlen)) return -1;
    }
    return 0;
}

/* Moves process pid (0: the caller) into the container's cgroup. */
static int cgroup_move(const char *id, pid_t pid, char *err, size_t errlen)
{
    char path[300], text[24];
    cgroup_dir(id, path, sizeof path);
    strncat(path, "/cgroup.procs", sizeof path - strlen(path) - 1);
    snprintf(text, sizeof text, "%d", (int)pid);
    if (write_text(path, text) != 0) {
        snprintf(err, errlen, "join cgroup: %s", strerror(errno));
        return -1;
    }
    return 0;
}

int cgroup_enter_new(const char *id, pid_t pid, const struct json_doc *d, int spec, char *err, size_t errlen)
{
    char dir[256];
    cgroup_dir(id, dir, sizeof dir);
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "create cgroup %s: %s", dir, strerror(errno));
        return -1;
    }
    int res = json_get(d, json_get(d, spec, "linux"), "resources");
    if (apply_resources(d, res, dir, err, errlen) != 0) {
        return -1;
    }
    return cgroup_move(id, pid, err, errlen);
}

int cgroup_update(const char *id, const struct json_doc *d, int resources, char *err, size_t errlen)
{
    char dir[256];
    cgroup_dir(id, dir, sizeof dir);
    return apply_resources(d, resources, dir, err, errlen);
}

int cgroup_enter(const char *id, char *err, size_t errlen)
{
    return cgroup_move(id, 0, err, errlen);
}

void cgroup_for_each_pid(const char *id, void (*visit)(pid_t pid, void *arg), void *arg)
{
    char path[300];
    cgroup_dir(id, path, sizeof path);
    strncat(path, "/cgroup.procs", sizeof path - strlen(path) - 1);
    FILE *f = fopen(path, "re");
    if (!f) {
        return;
    }
    int pid;
    while (fscanf(f, "%d", &pid) == 1) visit((pid_t)pid, arg);
    fclose(f);
}

void cgroup_remove(const char *id)
{
    char dir[256];
    cgroup_dir(id, dir, sizeof dir);
    rmdir(dir);
}

/* The container's oom_kill count (memory.events, hierarchical): how many of its processes the
 * kernel's OOM killer killed, for its own limit or for the whole guest's memory. */
int cgroup_oom_kills(const char *id, uint64_t *count)
{
    char path[300], text[1024];
    cgroup_dir(id, path, sizeof path);
    strncat(path, "/memory.events", sizeof path - strlen(path) - 1);
    if (read_file(path, text, sizeof text) <= 0) {
        return -1;
    }
    const char *line = strstr(text, "\noom_kill ");
    if (!line) {
        return -1;
    }
    *count = strtoull(line + strlen("\noom_kill "), NULL, 10);
    return 0;
}

int cgroup_watch_events(int inotify_fd, const char *id)
{
    char path[300];
    cgroup_dir(id, path, sizeof path);
    strncat(path, "/memory.events", sizeof path - strlen(path) - 1);
    /* The kernel reports every change of memory.events as a modification. */
    return inotify_add_watch(inotify_fd, path, IN_MODIFY);
}

/* The files of a stats answer: the host turns them into runc's stats (runtime/src/cgroup-stats.ts). */
static const char *const stats_files[] = {
    "cpu.stat",      "memory.current",      "memory.max",      "memory.peak",  "memory.stat",
    "memory.events", "memory.swap.current", "memory.swap.max", "pids.current", "pids.max",
};

void cgroup_write_stats(struct json_builder *jb, const char *id)
{
    char dir[256], path[320];
    static char text[16384 + 1]; /* up to 16384 bytes of a file, and read_file's NUL */
    cgroup_dir(id, dir, sizeof dir);
    json_obj_begin(jb);
    for (size_t i = 0; i < sizeof stats_files / sizeof *stats_files; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, stats_files[i]);
        ssize_t n = read_file(path, text, sizeof text);
        if (n >= 0) { /* a file this kernel does not offer is left out */
            json_key(jb, stats_files[i]);
            json_strn(jb, text, (size_t)n);
        }
    }
    json_obj_end(jb);
}
