/* Checkpoint and restore of a container's processes with CRIU (PROTOCOL.md:
 * the `checkpoint` op and the org.vmrt.restore annotation). CRIU is not in
 * the initramfs: for the operation the host shares its own copy, whose
 * programs are wrappers that start them through the host's dynamic loader.
 * CRIU runs to completion while the agent waits (the container is frozen
 * meanwhile anyway). */
#include "agent.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

/* The container init's stdio at dump time ("pipe:[inode]"), for restore's
 * --inherit-fd (runc keeps the same file). */
#define DESCRIPTORS_FILE "descriptors.json"
#define RESTORE_PIDFILE  "/run/vmrt/criu-restore.pid"
/* The restored process's new stdio ends, as numbered in the criu process. */
#define INHERIT_FD_BASE 200

#define FAIL_OUT(...)                                                                                                  \
    do {                                                                                                               \
        snprintf(err, errlen, __VA_ARGS__);                                                                            \
        goto out;                                                                                                      \
    } while (0)

struct args {
    char **v;
    size_t n, cap;
    int oom; /* an argument was lost: run_criu refuses to run */
};

static void arg_add(struct args *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void arg_add(struct args *a, const char *fmt, ...)
{
    if (a->n + 2 > a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 32;
        char **v = realloc(a->v, cap * sizeof *v);
        if (!v) {
            a->oom = 1;
            return;
        }
        a->v = v;
        a->cap = cap;
    }
    va_list ap;
    va_start(ap, fmt);
    if (vasprintf(&a->v[a->n], fmt, ap) >= 0) {
        a->n++;
    } else {
        a->oom = 1;
    }
    va_end(ap);
    a->v[a->n] = NULL;
}

static void args_free(struct args *a)
{
    for (size_t i = 0; i < a->n; i++) free(a->v[i]);
    free(a->v);
}

/* Extra CRIU options the host chose from runc's flags (criuArgs). */
static void add_host_args(struct args *a, const struct json_doc *d, int obj)
{
    int list = json_get(d, obj, "criuArgs");
    for (int t = json_first(d, list); t >= 0; t = json_next(d, list, t)) {
        char *s = json_strdup(d, t);
        if (s) arg_add(a, "%s", s);
        free(s);
    }
}

/* CRIU's own error lines from its log, for the answer. */
static void log_errors(const char *log, char *out, size_t outlen)
{
    FILE *f = fopen(log, "re");
    char line[512], last[3][512] = { "", "", "" };
    int n = 0;
    while (f && fgets(line, sizeof line, f)) {
        if (strstr(line, "Error") || strstr(line, "error")) {
            line[strcspn(line, "\n")] = '\0';
            snprintf(last[n++ % 3], sizeof last[0], "%s", line);
        }
    }
    if (f) fclose(f);
    out[0] = '\0';
    for (int i = n > 3 ? n - 3 : 0; i < n; i++) {
        size_t len = strlen(out);
        snprintf(out + len, outlen - len, "%s%s", len ? " | " : "", last[i % 3]);
    }
}

/* Runs <tools>/bin/criu with `a` and waits for it. In the child, fds
 * keep[i] become INHERIT_FD_BASE + i and, when cgroup_id is set, the child
 * enters that container's new cgroup (restored tasks go there). */
static int run_criu(const char *tools, struct args *a, const int keep[3], const char *cgroup_id,
                    const struct json_doc *d, int spec, const char *log, char *err, size_t errlen)
{
    if (a->oom) {
        snprintf(err, errlen, "criu arguments: out of memory");
        return -1;
    }
    char exe[4096];
    snprintf(exe, sizeof exe, "%s/bin/criu", tools);
    if (access(exe, X_OK) != 0) {
        snprintf(err, errlen, "criu is not shared into the VM (%s: %s)", exe, strerror(errno));
        return -1;
    }
    int report[2];
    if (pipe2(report, O_CLOEXEC) != 0) {
        snprintf(err, errlen, "pipe: %s", strerror(errno));
        return -1;
    }
    pid_t pid = fork();
    if (pid == 0) {
        char why[512] = "";
        close(report[0]);
        for (int i = 0; keep && i < 3; i++) {
            if (keep[i] >= 0) dup2(keep[i], INHERIT_FD_BASE + i);
        }
        for (int fd = 3; fd < INHERIT_FD_BASE + 3; fd++) {
            int kept = keep && fd >= INHERIT_FD_BASE && keep[fd - INHERIT_FD_BASE] >= 0;
            if (fd != report[1] && !kept) close(fd);
        }
        /* The agent's signal setup must not reach CRIU (nor what it restores). */
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        signal(SIGPIPE, SIG_DFL);
        mkdir_p("/tmp", 01777); /* CRIU's mount namespace yard */
        if (cgroup_id && cgroup_enter_new(cgroup_id, 0, d, spec, why, sizeof why) != 0) {
            (void)!write(report[1], why, strlen(why));
            _exit(127);
        }
        /* CRIU runs tar and gzip through PATH: the shared wrappers first. */
        char path_env[4200];
        snprintf(path_env, sizeof path_env, "PATH=%.4000s/bin:/usr/sbin:/usr/bin:/sbin:/bin", tools);
        char *env[] = { path_env, NULL };
        execve(exe, a->v, env);
        snprintf(why, sizeof why, "exec %.400s: %s", exe, strerror(errno));
        (void)!write(report[1], why, strlen(why));
        _exit(127);
    }
    close(report[1]);
    if (pid < 0) {
        close(report[0]);
        snprintf(err, errlen, "fork: %s", strerror(errno));
        return -1;
    }
    char why[512];
    ssize_t n;
    while ((n = read(report[0], why, sizeof why - 1)) < 0 && errno == EINTR) {}
    close(report[0]);
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
    if (n > 0) {
        why[n] = '\0';
        snprintf(err, errlen, "%s", why);
        return -1;
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        char errors[1536];
        log_errors(log, errors, sizeof errors);
        snprintf(err, errlen, "criu %s failed (%s %d): %s", a->v[1], WIFEXITED(status) ? "status" : "signal",
                 WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status),
                 errors[0] ? errors : "no error in its log");
        return -1;
    }
    return 0;
}

/* The absolute guest path `key` of a request object, or NULL after err. */
static char *guest_path(const struct json_doc *d, int obj, const char *key, char *err, size_t errlen)
{
    char *path = json_get_strdup(d, obj, key, NULL);
    if (!path || path[0] != '/') {
        snprintf(err, errlen, "checkpoint needs \"%s\", an absolute guest path", key);
        free(path);
        return NULL;
    }
    return path;
}

/* Mounts of the container shared from the host (virtio-fs or 9p) other than
 * its root: CRIU cannot mount them, so they are external (the same key at
 * restore). */
static void add_dump_externals(struct args *a, pid_t init_pid)
{
    char path[64], line[8192];
    snprintf(path, sizeof path, "/proc/%d/mountinfo", (int)init_pid);
    FILE *f = fopen(path, "re");
    while (f && fgets(line, sizeof line, f)) {
        /* id parent dev root mountpoint options [optional...] - fstype source super */
        char *fields[5], *save = NULL, *p = line;
        int i;
        for (i = 0; i < 5 && (fields[i] = strtok_r(p, " ", &save)); i++) p = NULL;
        char *sep = strstr(save ? save : "", " - ");
        if (i < 5 || !sep) continue;
        int shared = !strncmp(sep + 3, "9p ", 3) || !strncmp(sep + 3, "virtiofs ", 9);
        if (shared && strcmp(fields[4], "/") != 0) {
            arg_add(a, "--external");
            arg_add(a, "mnt[%s]:%s", fields[4], fields[4]);
        }
    }
    if (f) fclose(f);
}

static int write_descriptors(const char *images, pid_t init_pid, char *err, size_t errlen)
{
    struct json_builder jb;
    json_builder_init(&jb);
    json_arr_begin(&jb);
    for (int fd = 0; fd < 3; fd++) {
        char link[64], target[256];
        snprintf(link, sizeof link, "/proc/%d/fd/%d", (int)init_pid, fd);
        ssize_t n = readlink(link, target, sizeof target - 1);
        target[n > 0 ? n : 0] = '\0';
        json_str(&jb, target);
    }
    json_arr_end(&jb);
    char path[4096];
    snprintf(path, sizeof path, "%s/" DESCRIPTORS_FILE, images);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    const char *text = json_builder_cstr(&jb);
    int ok = fd >= 0 && write(fd, text, strlen(text)) == (ssize_t)strlen(text);
    if (!ok) snprintf(err, errlen, "write %s: %s", path, strerror(errno));
    if (fd >= 0) close(fd);
    json_builder_free(&jb);
    return ok ? 0 : -1;
}

int checkpoint_dump(pid_t init_pid, const struct json_doc *d, char *err, size_t errlen)
{
    struct args a = { 0 };
    int rc = -1;
    char *tools = guest_path(d, 0, "criu", err, errlen);
    char *images = tools ? guest_path(d, 0, "images", err, errlen) : NULL;
    char *work = images ? guest_path(d, 0, "work", err, errlen) : NULL;
    if (!work || write_descriptors(images, init_pid, err, errlen) != 0) {
        goto out;
    }
    arg_add(&a, "criu");
    arg_add(&a, "dump");
    arg_add(&a, "--tree=%d", (int)init_pid);
    arg_add(&a, "--images-dir=%s", images);
    arg_add(&a, "--work-dir=%s", work);
    arg_add(&a, "--log-file=dump.log");
    arg_add(&a, "-v4");
    arg_add(&a, "--evasive-devices");
    if (json_bool_value(d, json_get(d, 0, "leaveRunning"), 0)) {
        arg_add(&a, "--leave-running");
    }
    add_dump_externals(&a, init_pid);
    add_host_args(&a, d, 0);
    char log[4096];
    snprintf(log, sizeof log, "%s/dump.log", work);
    rc = run_criu(tools, &a, NULL, NULL, d, -1, log, err, errlen);
out:
    args_free(&a);
    free(tools);
    free(images);
    free(work);
    return rc;
}

/* The three "pipe:[inode]" strings of descriptors.json. */
static int read_descriptors(const char *images, char out[3][128], char *err, size_t errlen)
{
    char path[4096], text[1024];
    snprintf(path, sizeof path, "%s/" DESCRIPTORS_FILE, images);
    ssize_t n = read_file(path, text, sizeof text);
    if (n < 0) {
        snprintf(err, errlen, "not a vmrt checkpoint: %s: %s", path, strerror(errno));
        return -1;
    }
    struct json_doc doc;
    memset(&doc, 0, sizeof doc);
    int ok = json_parse(&doc, text, (size_t)n) == 0 && json_size(&doc, 0) == 3;
    for (int i = 0; ok && i < 3; i++) {
        char *s = json_strdup(&doc, json_at(&doc, 0, (uint32_t)i));
        snprintf(out[i], 128, "%s", s ? s : "");
        free(s);
    }
    json_free(&doc);
    if (!ok) snprintf(err, errlen, "%s: expected an array of 3 strings", path);
    return ok ? 0 : -1;
}

pid_t checkpoint_restore(const char *id, const struct json_doc *d, int spec, const char *restore_json,
                         const int stdio[3], char *err, size_t errlen)
{
    struct json_doc r;
    memset(&r, 0, sizeof r);
    struct args a = { 0 };
    char *tools = NULL, *images = NULL, *work = NULL, *rootfs = NULL;
    char descriptors[3][128];
    pid_t pid = -1;
    if (json_parse(&r, restore_json, strlen(restore_json)) != 0) {
        FAIL_OUT("annotation " RESTORE_ANNOTATION " is not a JSON object");
    }
    if (!(tools = guest_path(&r, 0, "criu", err, errlen)) || !(images = guest_path(&r, 0, "images", err, errlen)) ||
        !(work = guest_path(&r, 0, "work", err, errlen)) || read_descriptors(images, descriptors, err, errlen) != 0) {
        goto out;
    }
    rootfs = json_get_strdup(d, json_get(d, spec, "root"), "path", NULL);
    if (!rootfs || rootfs[0] != '/') {
        FAIL_OUT("spec.root.path must be an absolute guest path");
    }
    arg_add(&a, "criu");
    arg_add(&a, "restore");
    arg_add(&a, "--images-dir=%s", images);
    arg_add(&a, "--work-dir=%s", work);
    arg_add(&a, "--log-file=restore.log");
    arg_add(&a, "-v4");
    /* The restored init becomes the agent's child, as a created one is. */
    arg_add(&a, "--restore-detached");
    arg_add(&a, "--restore-sibling");
    arg_add(&a, "--pidfile=" RESTORE_PIDFILE);
    arg_add(&a, "--root=%s", rootfs);
    arg_add(&a, "--evasive-devices");
    int mounts = json_get(d, spec, "mounts");
    for (int m = json_first(d, mounts); m >= 0; m = json_next(d, mounts, m)) {
        char *dest = json_get_strdup(d, m, "destination", NULL);
        char *source = json_get_strdup(d, m, "source", "");
        if (!source) {
            a.oom = 1; /* reported by run_criu */
        } else if (dest && !strncmp(source, SHARED_DIR "/", strlen(SHARED_DIR) + 1)) {
            arg_add(&a, "--external");
            arg_add(&a, "mnt[%s]:%s", dest, source);
        }
        free(dest);
        free(source);
    }
    for (int i = 0; i < 3; i++) {
        if (!strncmp(descriptors[i], "pipe:", 5)) {
            arg_add(&a, "--inherit-fd");
            arg_add(&a, "fd[%d]:%s", INHERIT_FD_BASE + i, descriptors[i]);
        }
    }
    add_host_args(&a, &r, 0);
    unlink(RESTORE_PIDFILE);
    char log[4096];
    snprintf(log, sizeof log, "%s/restore.log", work);
    if (run_criu(tools, &a, stdio, id, d, spec, log, err, errlen) != 0) {
        goto out;
    }
    FILE *f = fopen(RESTORE_PIDFILE, "re");
    int restored = 0;
    if (!f || fscanf(f, "%d", &restored) != 1 || restored <= 0) {
        if (f) fclose(f);
        FAIL_OUT("criu restore wrote no pid to " RESTORE_PIDFILE);
    }
    fclose(f);
    pid = restored;
out:
    json_free(&r);
    args_free(&a);
    free(tools);
    free(images);
    free(work);
    free(rootfs);
    return pid;
}
