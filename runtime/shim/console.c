#include "console.h"

#include <errno.h>
#include <fcntl.h>
#include <pty.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#include "sys.h"

static int send_master(int sock, int master, const char *name)
{
    struct iovec iov = { .iov_base = (void *)name, .iov_len = strlen(name) };
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } control;
    memset(&control, 0, sizeof control);
    struct msghdr msg = {
        .msg_iov = &iov,
        .msg_iovlen = 1,
        .msg_control = control.buf,
        .msg_controllen = sizeof control.buf,
    };
    struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
    cmsg->cmsg_level = SOL_SOCKET;
    cmsg->cmsg_type = SCM_RIGHTS;
    cmsg->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(cmsg), &master, sizeof(int));
    for (;;) {
        ssize_t n = sendmsg(sock, &msg, MSG_NOSIGNAL);
        if (n >= 0) {
            return 0;
        }
        if (errno != EINTR) {
            return -1;
        }
    }
}

int console_setup(const char *socket_path, char *err, size_t errlen)
{
    int master, slave;
    char name[128];
    if (openpty(&master, &slave, name, NULL, NULL) != 0) {
        snprintf(err, errlen, "openpty: %s", strerror(errno));
        return -1;
    }
    int sock = unix_connect(socket_path);
    if (sock < 0) {
        snprintf(err, errlen, "connect to console socket %s: %s", socket_path, strerror(errno));
        goto fail;
    }
    /* unix_connect made it non-blocking; one small message fits the buffer. */
    int sent = send_master(sock, master, name);
    int saved = errno;
    close(sock);
    if (sent != 0) {
        snprintf(err, errlen, "send the pty master over %s: %s", socket_path, strerror(saved));
        goto fail;
    }
    close(master);
    master = -1;

    if (ioctl(slave, TIOCSCTTY, 0) != 0) {
        snprintf(err, errlen, "make %s the controlling terminal: %s", name, strerror(errno));
        goto fail;
    }
    struct termios tio;
    if (tcgetattr(slave, &tio) == 0) {
        cfmakeraw(&tio);
        tcsetattr(slave, TCSANOW, &tio);
    }
    for (int fd = 0; fd <= 2; fd++) {
        if (dup2(slave, fd) < 0) {
            snprintf(err, errlen, "dup2 the pty slave: %s", strerror(errno));
            goto fail;
        }
    }
    if (slave > 2) {
        close(slave);
    }
    fd_set_nonblocking(0);
    return 0;

fail:
    if (master >= 0) {
        close(master);
    }
    close(slave);
    return -1;
}

int console_size(int fd, unsigned *rows, unsigned *cols)
{
    struct winsize ws;
    if (ioctl(fd, TIOCGWINSZ, &ws) != 0) {
        return -1;
    }
    *rows = ws.ws_row;
    *cols = ws.ws_col;
    return 0;
}
