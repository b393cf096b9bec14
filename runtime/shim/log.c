#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "json.h"

static int log_fd = -1;

void log_open(const char *path)
{
    log_fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (log_fd < 0) {
        log_error("cannot open log file %s: %m", path);
    }
}

/* stderr may be a non-blocking pipe that nobody drains: wait a little for
 * room, never forever. */
static void write_stderr(const char *s, size_t n)
{
    while (n > 0) {
        ssize_t w = write(STDERR_FILENO, s, n);
        if (w > 0) {
            s += w;
            n -= (size_t)w;
            continue;
        }
        struct pollfd p = { .fd = STDERR_FILENO, .events = POLLOUT };
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) && poll(&p, 1, 1000) == 1) {
            continue;
        }
        return;
    }
}

static void emit(const char *level, int to_stderr, const char *fmt, va_list ap)
{
    char msg[2048];
    vsnprintf(msg, sizeof msg, fmt, ap);

    if (to_stderr) {
        char line[2100];
        int n = snprintf(line, sizeof line, "vmrt-shim: %s\n", msg);
        write_stderr(line, n < (int)sizeof line ? (size_t)n : sizeof line - 1);
    }
    if (log_fd < 0) {
        return;
    }
    char stamp[40];
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    struct tm tm;
    gmtime_r(&now.tv_sec, &tm);
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &tm);

    struct json_builder jb;
    json_builder_init(&jb);
    json_obj_begin(&jb);
    json_key(&jb, "level");
    json_str(&jb, level);
    json_key(&jb, "msg");
    json_str(&jb, msg);
    json_key(&jb, "time");
    json_str(&jb, stamp);
    json_obj_end(&jb);
    vmrt_buf_putc(&jb.out, '\n');
    /* One write per line: O_APPEND keeps lines of concurrent writers whole. */
    (void)!write(log_fd, vmrt_buf_pending(&jb.out), vmrt_buf_pending_len(&jb.out));
    json_builder_free(&jb);
}

void log_warning(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    emit("warning", 0, fmt, ap);
    va_end(ap);
}

void log_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    emit("error", 1, fmt, ap);
    va_end(ap);
}
