/* The process a container runs, in the forked child: its terminal, then
 * rlimits, cwd, env and HOME, oomScoreAdj, seccomp, capabilities, groups,
 * uid/gid, umask and execve. */
#include "agent.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

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

int process_limits(pid_t pid, const struct json_doc *d, int process, char *err, size_t errlen)
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
        if (prlimit(pid, resource, &rl, NULL) != 0) {
            FAIL("setrlimit: %s", strerror(errno));
        }
    }
    /* Before the uid change: lowering it needs CAP_SYS_RESOURCE. */
    int64_t oom;
    if (json_i64(d, json_get(d, process, "oomScoreAdj"), &oom) == 0) {
        char path[64], value[32];
        snprintf(path, sizeof path, pid ? "/proc/%d/oom_score_adj" : "/proc/self/oom_score_adj", (int)pid);
        snprintf(value, sizeof value, "%lld", (long long)oom);
        if (write_text(path, value) != 0) {
            FAIL("oomScoreAdj: %s", strerror(errno));
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
        if (!plan->env) FAIL("process.env: out of memory");
    }
    if (resolve_executable(plan->args[0], env_lookup(plan->env, "PATH"), plan->exe, sizeof plan->exe) != 0) {
        FAIL("exec: \"%s\": executable file not found in $PATH", plan->args[0]);
    }
    return 0;
}

/* What process_check found at create: the init's exec_process takes it rather than looking the
 * program up again (each PATH entry is a round trip to the host's file server), as runc's init
 * resolves its program once, before it waits for start. */
static struct process_plan planned_at_create;

int process_check(const struct json_doc *d, int process, char *err, size_t errlen)
{
    struct process_plan plan;
    char *cwd = json_get_strdup(d, process, "cwd", "/");
    if (!cwd) FAIL("process.cwd: out of memory");
    int cwd_ok = chdir(cwd) == 0;
    free(cwd);
    if (!cwd_ok) {
        FAIL("chdir to cwd set in config.json failed: %s", strerror(errno));
    }
    if (plan_process(d, process, &plan, err, errlen) != 0) {
        return -1;
    }
    planned_at_create = plan;
    if (chdir("/") != 0) {
        FAIL("chdir /: %s", strerror(errno));
    }
    return 0;
}

int await_start(int fd, char *err, size_t errlen)
{
    char b;
    ssize_t n;
    while ((n = read(fd, &b, 1)) < 0 && errno == EINTR) {}
    if (n < 0) FAIL("waiting for start: %s", strerror(errno));
    return n == 1;
}

int exec_process(const struct json_doc *d, int process, const struct json_doc *seccomp_doc, int seccomp, int *start_fd,
                 char *err, size_t errlen)
{
    int no_new_privs = json_bool_value(d, json_get(d, process, "noNewPrivileges"), 0);
    int user = json_get(d, process, "user");
    uid_t uid = (uid_t)json_i64_or(d, json_get(d, user, "uid"), 0);
    gid_t gid = (gid_t)json_i64_or(d, json_get(d, user, "gid"), 0);

    if (process_limits(0, d, process, err, errlen) != 0) {
        return -1;
    }
    char *cwd = json_get_strdup(d, process, "cwd", "/");
    if (!cwd) FAIL("process.cwd: out of memory");
    if (chdir(cwd) != 0) {
        /* runc's words (Go spells errno texts in lower case): docker exec shows them as they are. */
        char why[128];
        snprintf(why, sizeof why, "%s", strerror(errno));
        why[0] = (char)tolower((unsigned char)why[0]);
        snprintf(err, errlen, "chdir to cwd (\"%s\") set in config.json failed: %s", cwd, why);
        free(cwd);
        return -1;
    }
    free(cwd);

    struct process_plan plan = planned_at_create;
    if (!plan.args && plan_process(d, process, &plan, err, errlen) != 0) {
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
    if (*start_fd >= 0) {
        int started = await_start(*start_fd, err, errlen);
        *start_fd = -1;
        if (started < 0) return -1;
        if (!started) _exit(0);
    }
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
