/* See netwatch.h. */
#include "netwatch.h"
#include "clock.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "buf.h"
#include "file.h"
#include "json.h"
#include "log.h"
#include "netlink.h"
#include "sys.h"

/* linux/rtnetlink.h (fixed kernel ABI; not in musl's headers). */
#define RTMGRP_LINK        0x1
#define RTMGRP_IPV4_IFADDR 0x10
#define RTMGRP_IPV6_IFADDR 0x100

/* Docker moves, renames, addresses and raises a new interface in several
 * steps: the sync waits until the events have been quiet this long. */
#define QUIET_MS 300

static char **read_argv(const char *path, char *err, size_t errlen)
{
    struct vmrt_buf text = { 0 };
    /* A failed read leaves the bytes read before it, parsed as they are. */
    if (read_all(path, &text) == -1) {
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        vmrt_buf_free(&text);
        return NULL;
    }
    struct json_doc d;
    char **argv = NULL;
    if (json_parse(&d, (const char *)vmrt_buf_pending(&text), vmrt_buf_pending_len(&text)) == 0) {
        argv = json_is(&d, 0, JSON_ARRAY) && json_size(&d, 0) > 0 ? json_strv(&d, 0) : NULL;
        json_free(&d);
    }
    vmrt_buf_free(&text);
    if (!argv) snprintf(err, errlen, "%s: expected a JSON array of strings (the network sync command)", path);
    return argv;
}

int netwatch_open(struct netwatch *w, const char *argv_file, int home_netns, char *err, size_t errlen)
{
    *w = (struct netwatch){ .fd = -1, .child_fd = -1, .home_netns = home_netns };
    w->argv = read_argv(argv_file, err, errlen);
    if (!w->argv) return -1;
    w->fd = socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_ROUTE);
    struct sockaddr_nl_ local = { AF_NETLINK, 0, 0, RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR };
    if (w->fd < 0 || bind(w->fd, (struct sockaddr *)&local, sizeof local) != 0) {
        snprintf(err, errlen, "rtnetlink: %s", strerror(errno));
        if (w->fd >= 0) close(w->fd);
        w->fd = -1;
        return -1;
    }
    return 0;
}

void netwatch_read(struct netwatch *w)
{
    char buf[8192];
    ssize_t n;
    /* The content does not matter: the sync compares the whole netns with the VM. An
     * overrun (ENOBUFS) lost events, which is a change too. */
    while ((n = recv(w->fd, buf, sizeof buf, 0)) > 0 || (n < 0 && (errno == EINTR || errno == ENOBUFS))) {
        w->due = now_ms() + QUIET_MS;
    }
}

static void start_sync(struct netwatch *w)
{
    pid_t pid = fork();
    if (pid < 0) {
        log_warning("network sync: fork: %m");
        return;
    }
    if (pid == 0) {
        /* The runtime works on the container's netns from outside, as at create. */
        if (setns(w->home_netns, CLONE_NEWNET) != 0) _exit(126);
        /* Nothing of the shim's: no Docker pipes (they would hold Docker's EOF), no blocked signals. */
        int null = open("/dev/null", O_RDWR);
        for (int fd = 0; fd <= 2; fd++) dup2(null, fd);
        close_fds_except(-1);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        signal(SIGPIPE, SIG_DFL);
        execv(w->argv[0], w->argv);
        _exit(127);
    }
    w->child = pid;
    w->child_fd = (int)syscall(SYS_pidfd_open, pid, 0);
    w->due = 0;
}

void netwatch_tick(struct netwatch *w)
{
    if (w->fd < 0) return;
    if (w->child) {
        int status;
        pid_t done = waitpid(w->child, &status, WNOHANG);
        if (done == 0) return;
        if (done == w->child && !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
            log_warning("network sync %s failed (%s %d): see the log for its error", w->argv[0],
                        WIFEXITED(status) ? "status" : "signal",
                        WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
        }
        if (w->child_fd >= 0) close(w->child_fd);
        w->child = 0;
        w->child_fd = -1;
    }
    if (w->due && now_ms() >= w->due) start_sync(w);
}

int netwatch_timeout(const struct netwatch *w)
{
    /* Without a pidfd the child's end is noticed by polling. */
    if (w->child) return w->child_fd >= 0 ? -1 : 100;
    return w->due ? ms_until(w->due) : -1;
}
