/* The agent's event loop: one virtio-serial port to the host, the stdio of
 * every container process, SIGCHLD through a signalfd. Nothing here blocks
 * on a process or on the host. Frames from the host go to the process of
 * their stream, or to ops.c for a REQUEST. */
#include "host.h"
#include "ops.h"
#include "processes.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

/* Above this much unsent output, process output is not read (back-pressure
 * towards the processes instead of unbounded memory). */
#define OUT_HIGH_WATER (4u * 1024u * 1024u)

struct agent A;

void send_frame(uint8_t type, uint32_t stream, const void *payload, size_t len)
{
    vmrt_frame_append(&A.out, type, stream, payload, len);
}

void send_json(uint8_t type, uint32_t stream, struct json_builder *jb)
{
    send_frame(type, stream, vmrt_buf_pending(&jb->out), vmrt_buf_pending_len(&jb->out));
    json_builder_free(jb);
}

void respond_error(uint32_t stream, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    vmrt_append_error(&A.out, stream, msg);
}

void begin_ok(struct json_builder *jb)
{
    json_builder_init(jb);
    json_obj_begin(jb);
    json_key(jb, "ok");
    json_bool(jb, 1);
}

void finish_ok(uint32_t stream, struct json_builder *jb)
{
    json_obj_end(jb);
    send_json(VMRT_RESPONSE, stream, jb);
}

void respond_ok(uint32_t stream)
{
    struct json_builder jb;
    begin_ok(&jb);
    finish_ok(stream, &jb);
}

static void send_hello(void)
{
    struct json_builder jb;
    json_builder_init(&jb);
    json_obj_begin(&jb);
    json_key(&jb, "version");
    json_int(&jb, VMRT_PROTO_VERSION);
    json_key(&jb, "kernel");
    json_str(&jb, A.kernel);
    json_key(&jb, "agent");
    json_str(&jb, AGENT_VERSION);
    json_obj_end(&jb);
    send_json(VMRT_HELLO, 0, &jb);
}

void flush_out(void)
{
    if (A.connected && vmrt_buf_flush(&A.out, A.port) < 0 && errno != EPIPE) {
        log_msg("write to host: %s", strerror(errno));
    }
}

static void handle_frame(const struct vmrt_frame *f)
{
    struct proc *p = proc_by_stream(f->stream);
    struct json_doc d;
    memset(&d, 0, sizeof d);
    /* The reader validated the JSON: only memory can fail here. */
    if (vmrt_type_is_json(f->type) && json_parse(&d, (const char *)f->payload, f->payload_len) != 0) {
        if (f->type == VMRT_REQUEST) respond_error(f->stream, "out of memory");
        json_free(&d);
        return;
    }
    switch (f->type) {
    case VMRT_REQUEST: handle_request(f->stream, &d); break;
    case VMRT_STDIN:
        if (p && (p->in_fd >= 0 || p->phase == PROC_SETUP) && !p->in_close_pending) {
            vmrt_buf_append(&p->in_buf, f->payload, f->payload_len);
            pump_stdin(p);
        }
        break;
    case VMRT_STDIN_CLOSE:
        if (p && (p->in_fd >= 0 || p->phase == PROC_SETUP) && !p->in_close_pending) {
            if (p->terminal) {
                /* A terminal has no EOF of its own: send the EOF character. */
                vmrt_buf_putc(&p->in_buf, 4);
            } else {
                p->in_close_pending = 1;
            }
            pump_stdin(p);
        }
        break;
    case VMRT_RESIZE:
        if (p && p->terminal && p->out_fd >= 0) {
            struct winsize ws = { (unsigned short)json_i64_or(&d, json_get(&d, 0, "rows"), 24),
                                  (unsigned short)json_i64_or(&d, json_get(&d, 0, "cols"), 80), 0, 0 };
            ioctl(p->out_fd, TIOCSWINSZ, &ws);
        }
        break;
    case VMRT_SIGNAL: {
        int64_t sig;
        if (p && p->phase == PROC_RUNNING && json_i64(&d, json_get(&d, 0, "signal"), &sig) == 0 && sig > 0 &&
            sig <= 64) {
            kill(p->pid, (int)sig);
        }
        break;
    }
    case VMRT_DNS: dns_answer(A.dns, f); break;
    default: respond_error(f->stream, "frame type %s is not sent to the agent", vmrt_type_name(f->type));
    }
    if (vmrt_type_is_json(f->type)) {
        json_free(&d);
    }
}

static void read_port(void)
{
    for (;;) {
        long n = vmrt_reader_fill(&A.in, A.port);
        if (n == 0 || (n < 0 && errno != EAGAIN)) {
            log_msg("host closed the agent port: powering off");
            power_off();
        }
        if (n < 0) {
            return;
        }
        struct vmrt_frame f;
        const char *why;
        int rc;
        while ((rc = vmrt_reader_next(&A.in, &f, &why)) != VMRT_FRAME_INCOMPLETE) {
            if (rc == VMRT_FRAME_OK) {
                handle_frame(&f);
            } else {
                respond_error(rc == VMRT_FRAME_FATAL ? 0 : f.stream, "malformed frame: %s", why);
            }
        }
    }
}

/* Before the host connects, reads on the port return EOF and poll reports
 * POLLHUP, so the connection is detected by reading every CONNECT_PROBE_MS.
 * Short: a VM restored from a template waits in this loop for its host. */
#define CONNECT_PROBE_MS 5

static void check_connected(void)
{
    uint8_t buf[READ_CHUNK];
    ssize_t n = read(A.port, buf, sizeof buf);
    if (n == 0) {
        return;
    }
    if (n < 0 && errno != EAGAIN) {
        return;
    }
    A.connected = 1;
    mount_shared_folder();
    send_hello();
    if (n > 0) {
        vmrt_reader_feed(&A.in, buf, (size_t)n);
        read_port();
    }
}

/* ---------- the loop ---------- */

enum fd_role { ROLE_OUT, ROLE_ERR, ROLE_IN, ROLE_SYNC };

static void event_loop(void)
{
    struct pollfd *pfds = NULL;
    struct {
        struct proc *p;
        enum fd_role role;
    } *map = NULL;
    size_t cap = 0;
    for (;;) {
        size_t nprocs = 0;
        for (struct proc *p = procs; p; p = p->next) nprocs++;
        if (cap < 4 + nprocs * 4) {
            /* Without the memory, the processes that fit are polled (below). */
            size_t want = 4 + nprocs * 4 + 16;
            struct pollfd *grown = realloc(pfds, want * sizeof *pfds);
            void *grown_map = grown ? realloc(map, want * sizeof *map) : NULL;
            if (grown) pfds = grown;
            if (grown_map) {
                map = grown_map;
                cap = want;
            } else {
                log_msg("poll set: out of memory");
            }
        }
        if (cap < 4) {
            poll(NULL, 0, 10);
            continue;
        }
        size_t n = 0;
        pfds[n++] = (struct pollfd){ A.sigfd, POLLIN, 0 };
        pfds[n++] = (struct pollfd){ A.connected ? A.port : -1,
                                     (short)(POLLIN | (vmrt_buf_pending_len(&A.out) ? POLLOUT : 0)), 0 };
        pfds[n++] = (struct pollfd){ A.inotify, POLLIN, 0 };
        pfds[n++] = (struct pollfd){ A.connected ? A.dns : -1, POLLIN, 0 };
        int room = vmrt_buf_pending_len(&A.out) < OUT_HIGH_WATER;
        for (struct proc *p = procs; p && n + 4 <= cap; p = p->next) {
            if (room && p->out_fd >= 0 && p->phase != PROC_FAILED) {
                map[n].p = p, map[n].role = ROLE_OUT;
                pfds[n++] = (struct pollfd){ p->out_fd, POLLIN, 0 };
            }
            if (room && p->err_fd >= 0 && p->phase != PROC_FAILED) {
                map[n].p = p, map[n].role = ROLE_ERR;
                pfds[n++] = (struct pollfd){ p->err_fd, POLLIN, 0 };
            }
            if (p->in_fd >= 0 && vmrt_buf_pending_len(&p->in_buf)) {
                map[n].p = p, map[n].role = ROLE_IN;
                pfds[n++] = (struct pollfd){ p->in_fd, POLLOUT, 0 };
            }
            if (p->sync_fd >= 0) {
                map[n].p = p, map[n].role = ROLE_SYNC;
                pfds[n++] = (struct pollfd){ p->sync_fd, POLLIN, 0 };
            }
        }
        if (poll(pfds, n, A.connected ? -1 : CONNECT_PROBE_MS) < 0 && errno != EINTR) {
            log_msg("poll: %s", strerror(errno));
        }
        /* Process fds first: reaping (below) may free procs. */
        for (size_t i = 4; i < n; i++) {
            if (!pfds[i].revents) continue;
            struct proc *p = map[i].p;
            switch (map[i].role) {
            case ROLE_OUT:
                if (p->out_fd == pfds[i].fd) pump_output(p, &p->out_fd, VMRT_STDOUT);
                break;
            case ROLE_ERR:
                if (p->err_fd == pfds[i].fd) pump_output(p, &p->err_fd, VMRT_STDERR);
                break;
            case ROLE_IN:
                if (p->in_fd == pfds[i].fd) pump_stdin(p);
                break;
            case ROLE_SYNC:
                if (p->sync_fd == pfds[i].fd) finish_setup(p);
                break;
            }
        }
        if (!A.connected) {
            check_connected();
        } else if (pfds[1].revents & (POLLIN | POLLHUP | POLLERR)) {
            read_port();
        }
        if (pfds[2].revents & POLLIN) {
            read_inotify();
        }
        if (pfds[3].revents & POLLIN) {
            dns_read(A.dns, &A.out);
        }
        if (pfds[0].revents & POLLIN) {
            reap_children();
        }
        flush_out();
    }
}

static long boottime_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_BOOTTIME, &ts);
    return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int main(void)
{
    if (getpid() != 1) {
        fprintf(stderr, "vmrt-agent must run as PID 1 of the guest\n");
        return 1;
    }
    long kernel_ms = boottime_ms();
    boot_system();
    signal(SIGPIPE, SIG_IGN);
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGCHLD);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    A.sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
    A.own_pidns = open("/proc/self/ns/pid", O_RDONLY | O_CLOEXEC);
    A.inotify = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    A.dns = -1;
    struct utsname u;
    uname(&u);
    snprintf(A.kernel, sizeof A.kernel, "%s", u.release);
    vmrt_reader_init(&A.in);
    A.port = open_agent_port();
    log_msg("ready (kernel %s): kernel boot %ld ms, agent setup %ld ms", A.kernel, kernel_ms,
            boottime_ms() - kernel_ms);
    event_loop();
}
