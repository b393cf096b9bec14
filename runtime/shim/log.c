#include "log.h"
#include "clock.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "json.h"
#include "sys.h"

/* Warnings mostly report what a peer sent (malformed frames, unknown
 * streams): a hostile guest could send them without end and fill the host's
 * disk. A burst of them is logged, then one a second; the count of those left
 * out goes with the next one logged. Errors are never left out. */
#define WARNING_BURST     20
#define WARNING_REFILL_MS 1000

static int log_fd = -1;
static int warning_tokens = WARNING_BURST;
static int64_t warning_refilled;
static unsigned long warnings_left_out;

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

/* 1 when a warning may be logged now (token bucket). */
static int warning_allowed(void)
{
    int64_t now = now_ms();
    if (warning_refilled == 0) {
        warning_refilled = now;
    }
    int64_t refills = (now - warning_refilled) / WARNING_REFILL_MS;
    if (refills > 0) {
        warning_tokens = refills >= WARNING_BURST - warning_tokens ? WARNING_BURST : warning_tokens + (int)refills;
        warning_refilled += refills * WARNING_REFILL_MS;
    }
    if (warning_tokens == 0) {
        warnings_left_out++;
        return 0;
    }
    warning_tokens--;
    return 1;
}

static void __attribute__((format(printf, 2, 3))) emit_line(const char *level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    emit(level, 0, fmt, ap);
    va_end(ap);
}

void log_warning(const char *fmt, ...)
{
    if (!warning_allowed()) {
        return;
    }
    if (warnings_left_out > 0) {
        emit_line("warning", "%lu more warnings were left out of this log (too many too fast)", warnings_left_out);
        warnings_left_out = 0;
    }
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
