#include "sys.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#ifndef SYS_close_range
#define SYS_close_range 436 /* not yet in every libc's headers */
#endif

static void close_range_or_loop(unsigned first, unsigned last)
{
    if (first > last) {
        return;
    }
    if (syscall(SYS_close_range, first, last, 0) == 0) {
        return;
    }
    /* Kernels before 5.9: walk /proc/self/fd. */
    DIR *d = opendir("/proc/self/fd");
    if (!d) {
        return;
    }
    int own = dirfd(d);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        char *end;
        long fd = strtol(e->d_name, &end, 10);
        if (*end == '\0' && e->d_name[0] != '\0' && fd != own && fd >= (long)first && fd <= (long)last) {
            close((int)fd);
        }
    }
    closedir(d);
}

void close_fds_except(int keep)
{
    if (keep > 2) {
        close_range_or_loop(3, (unsigned)keep - 1);
        close_range_or_loop((unsigned)keep + 1, UINT_MAX);
    } else {
        close_range_or_loop(3, UINT_MAX);
    }
}

void stdio_ensure_open(void)
{
    for (int fd = 0; fd <= 2; fd++) {
        if (fcntl(fd, F_GETFD) < 0 && errno == EBADF) {
            int null = open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY);
            if (null >= 0 && null != fd) {
                dup2(null, fd);
                close(null);
            }
        }
    }
}

int become_session_leader(void)
{
    if (getsid(0) == getpid()) {
        return 0;
    }
    return setsid() < 0 ? -1 : 0;
}

int enter_netns(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return -1;
    }
    int rc = setns(fd, CLONE_NEWNET);
    int saved = errno;
    close(fd);
    errno = saved;
    return rc;
}

int signal_is_forwarded(int sig)
{
    switch (sig) {
    case SIGKILL:
    case SIGSTOP:
    /* Faults of the shim itself must still kill it. */
    case SIGSEGV:
    case SIGBUS:
    case SIGFPE:
    case SIGILL:
    case SIGTRAP:
    case SIGSYS:
    /* The shim's own business, not the guest's. */
    case SIGCHLD:
    case SIGPIPE:
    case SIGWINCH: return 0;
    default: return sig >= 1 && (sig < 32 || (sig >= SIGRTMIN && sig <= SIGRTMAX));
    }
}

int signals_open(void)
{
    sigset_t set;
    sigemptyset(&set);
    for (int sig = 1; sig <= SIGRTMAX; sig++) {
        if (signal_is_forwarded(sig) || sig == SIGWINCH) {
            signal(sig, SIG_DFL);
            sigaddset(&set, sig);
        }
    }
    /* Writes to a closed pipe or socket return EPIPE instead. */
    signal(SIGPIPE, SIG_IGN);
    if (sigprocmask(SIG_BLOCK, &set, NULL) != 0) {
        return -1;
    }
    return signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
}

void fd_set_nonblocking(int fd)
{
    int flags = fcntl(fd, F_GETFL);
    if (flags >= 0 && !(flags & O_NONBLOCK)) {
        fcntl(fd, F_SETFL, flags | O_NONBLOCK);
    }
}

void stdio_make_nonblocking(int fd)
{
    struct stat st;
    if (fstat(fd, &st) != 0 || S_ISREG(st.st_mode) || S_ISDIR(st.st_mode)) {
        return;
    }
    if (S_ISFIFO(st.st_mode) || S_ISCHR(st.st_mode)) {
        int flags = fcntl(fd, F_GETFL);
        if (flags < 0) {
            return;
        }
        char path[64];
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
        /* Reopening a pipe or a tty through /proc yields a new open file
         * description of the same object. */
        int fresh = open(path, (flags & O_ACCMODE) | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
        if (fresh >= 0) {
            dup2(fresh, fd); /* dup2 clears FD_CLOEXEC on fd */
            close(fresh);
            return;
        }
    }
    fd_set_nonblocking(fd);
}

static int unix_addr(const char *path, struct sockaddr_un *addr)
{
    memset(addr, 0, sizeof *addr);
    addr->sun_family = AF_UNIX;
    if (strlen(path) >= sizeof addr->sun_path) {
        errno = ENAMETOOLONG;
        return -1;
    }
    strcpy(addr->sun_path, path);
    return 0;
}

int unix_connect_blocking(const char *path)
{
    struct sockaddr_un addr;
    if (unix_addr(path, &addr) != 0) {
        return -1;
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return -1;
    }
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    return fd;
}

int unix_connect(const char *path)
{
    int fd = unix_connect_blocking(path);
    if (fd >= 0) {
        fd_set_nonblocking(fd);
    }
    return fd;
}

int unix_listen(const char *path)
{
    struct sockaddr_un addr;
    if (unix_addr(path, &addr) != 0) {
        return -1;
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        return -1;
    }
    struct stat st;
    if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode)) {
        unlink(path);
    }
    if (bind(fd, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(fd, 64) != 0) {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    return fd;
}
