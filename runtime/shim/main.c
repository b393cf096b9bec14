/* vmrt-shim: the host process that stands in for one container process that
 * runs in a vmrt VM (see README.md for the contract with the vmrt CLI). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "cli_client.h"
#include "clock.h"
#include "conn.h"
#include "console.h"
#include "dns.h"
#include "file.h"
#include "keep_memory.h"
#include "log.h"
#include "mux.h"
#include "netwatch.h"
#include "oom.h"
#include "proto.h"
#include "qemu_memory.h"
#include "relay.h"
#include "serial_log.h"
#include "sys.h"

/* The process stream of the shim's own process: on the agent connection (the
 * mux hands out other ids) and on its mux.sock connection alike. */
#define OWN_STREAM 1u
/* TCG boots are slow: how long an init shim waits for the agent. */
#define STARTUP_TIMEOUT_MS 120000
/* After the init process ended: how long exec clients get to receive the
 * exits of their processes before the init shim leaves (and the VM stops). */
#define EXIT_GRACE_MS 2000
/* When the VM is gone: how long queued output may take to drain. */
#define LOST_DRAIN_MS 2000
/* How long an init shim that leaves waits for its exec shims to exit first. */
#define OUTLIVE_EXEC_SHIMS_MS 2000
/* Guest OOM kills shown in the host cgroup: at most one in this time. */
#define OOM_SHOW_INTERVAL_MS 1000

/* join: a container created in the VM of another (a pod): like exec, through
 * that container's mux.sock, but the request is a `create` of its own. */
enum mode { MODE_INIT, MODE_EXEC, MODE_JOIN };

struct options {
    enum mode mode;
    const char *agent_socket;
    const char *mux_socket;
    const char *id;
    const char *spec;
    const char *process;
    const char *netns;
    const char *console_socket;
    const char *log;
    const char *network_sync;
    const char *serial_log;
    int ready_fd;
};

struct shim {
    struct options o;
    int sigfd;
    struct conn up; /* the agent (init) or mux.sock (exec) */
    struct relay proc;
    struct mux mux; /* init only */
    int have_mux;
    struct netwatch net;      /* init with --network-sync only */
    int home_netns;           /* the netns before --netns, for the network sync */
    struct dns_relay dns;     /* init only: queries of the guest to Docker's DNS */
    int64_t oom_kills_shown;  /* the guest's oom_kills count when the host last showed one */
    int64_t oom_quiet_until;  /* no OOM is shown in the host cgroup before this time */
    struct serial_log serial; /* init with --serial-log only */
};

static void usage(void)
{
    fputs("usage:\n"
          "  vmrt-shim init --agent-socket <path> --mux-socket <path> --id <container-id>\n"
          "                 --spec <file.json> [--netns <path>] [--console-socket <path>]\n"
          "                 [--network-sync <argv.json>] [--serial-log <file>] [--ready-fd N] [--log <file>]\n"
          "  vmrt-shim exec --mux-socket <path> --id <container-id> --process <process.json>\n"
          "                 [--console-socket <path>] [--ready-fd N] [--log <file>]\n"
          "  vmrt-shim join --mux-socket <path> --id <container-id> --spec <file.json>\n"
          "                 [--netns <path>] [--console-socket <path>] [--ready-fd N] [--log <file>]\n",
          stderr);
}

static void write_ready_line(int fd, struct json_builder *jb)
{
    if (fd < 0) {
        return;
    }
    vmrt_buf_putc(&jb->out, '\n');
    (void)!write(fd, vmrt_buf_pending(&jb->out), vmrt_buf_pending_len(&jb->out));
    close(fd);
}

/* Startup failed: the reason goes to the log, stderr and the ready fd. */
static void __attribute__((noreturn, format(printf, 2, 3))) startup_failed(struct shim *s, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    log_error("%s", msg);
    struct json_builder jb;
    json_builder_init(&jb);
    json_error_object(&jb, msg);
    write_ready_line(s->o.ready_fd, &jb);
    if (s->have_mux) {
        mux_stop_listening(&s->mux);
    }
    exit(1);
}

static void ready(const struct options *o, int64_t pid)
{
    struct json_builder jb;
    json_builder_init(&jb);
    json_obj_begin(&jb);
    json_key(&jb, "ok");
    json_bool(&jb, 1);
    json_key(&jb, "pid");
    json_int(&jb, pid);
    json_obj_end(&jb);
    write_ready_line(o->ready_fd, &jb);
    json_builder_free(&jb);
}

static int parse_options(int argc, char **argv, struct options *o)
{
    *o = (struct options){ .ready_fd = -1 };
    if (argc < 2) {
        return -1;
    }
    if (strcmp(argv[1], "init") == 0) {
        o->mode = MODE_INIT;
    } else if (strcmp(argv[1], "exec") == 0) {
        o->mode = MODE_EXEC;
    } else if (strcmp(argv[1], "join") == 0) {
        o->mode = MODE_JOIN;
    } else {
        return -1;
    }
    static const struct option longopts[] = {
        { "agent-socket", required_argument, NULL, 'a' },
        { "mux-socket", required_argument, NULL, 'm' },
        { "id", required_argument, NULL, 'i' },
        { "spec", required_argument, NULL, 's' },
        { "process", required_argument, NULL, 'p' },
        { "netns", required_argument, NULL, 'n' },
        { "console-socket", required_argument, NULL, 'c' },
        { "ready-fd", required_argument, NULL, 'r' },
        { "log", required_argument, NULL, 'l' },
        { "network-sync", required_argument, NULL, 'w' },
        { "serial-log", required_argument, NULL, 'S' },
        { 0, 0, 0, 0 },
    };
    optind = 2;
    int ch;
    while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (ch) {
        case 'a': o->agent_socket = optarg; break;
        case 'm': o->mux_socket = optarg; break;
        case 'i': o->id = optarg; break;
        case 's': o->spec = optarg; break;
        case 'p': o->process = optarg; break;
        case 'n': o->netns = optarg; break;
        case 'c': o->console_socket = optarg; break;
        case 'l': o->log = optarg; break;
        case 'w': o->network_sync = optarg; break;
        case 'S': o->serial_log = optarg; break;
        case 'r': {
            char *end;
            long fd = strtol(optarg, &end, 10);
            if (*end != '\0' || fd < 0 || fd > 65535) {
                return -1;
            }
            o->ready_fd = (int)fd;
            break;
        }
        default: return -1;
        }
    }
    if (optind != argc || !o->mux_socket || !o->id) {
        return -1;
    }
    if (o->mode == MODE_INIT) {
        return o->agent_socket && o->spec && !o->process ? 0 : -1;
    }
    if (o->mode == MODE_JOIN) {
        return o->spec && !o->agent_socket && !o->process && !o->network_sync && !o->serial_log ? 0 : -1;
    }
    return o->process && !o->agent_socket && !o->spec && !o->netns && !o->network_sync && !o->serial_log ? 0 : -1;
}

/* Reads a JSON document (the OCI spec or process) for a request. */
static void read_json_file(struct shim *s, const char *path, struct vmrt_buf *out)
{
    int rc = read_all(path, out);
    if (rc != 0) {
        startup_failed(s, "cannot %s %s: %s", rc == -1 ? "open" : "read", path, strerror(errno));
    }
    if (json_validate((const char *)vmrt_buf_pending(out), vmrt_buf_pending_len(out)) != 0) {
        startup_failed(s, "%s is not one JSON object", path);
    }
}

/* ,"realtimeNs":<now>,"seed":"<hex>": a VM restored from a template resumes with the
 * template's clock and random state; the agent sets both from these before the container. */
static void put_clock_and_seed(struct shim *s, struct vmrt_buf *req)
{
    unsigned char seed[32];
    if (getrandom(seed, sizeof seed, 0) != (ssize_t)sizeof seed) {
        startup_failed(s, "getrandom: %s", strerror(errno));
    }
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    char text[128];
    int n = snprintf(text, sizeof text, ",\"realtimeNs\":%lld,\"seed\":\"",
                     (long long)now.tv_sec * 1000000000LL + now.tv_nsec);
    vmrt_buf_append(req, text, (size_t)n);
    for (size_t i = 0; i < sizeof seed; i++) {
        snprintf(text, sizeof text, "%02x", seed[i]);
        vmrt_buf_append(req, text, 2);
    }
    vmrt_buf_putc(req, '"');
}

/* {"op":<op>,"id":<id>,<key>:<document>} for create and exec. */
static void send_process_request(struct shim *s, const char *op, const char *key, const char *path)
{
    struct vmrt_buf doc = { 0 };
    read_json_file(s, path, &doc);
    struct vmrt_buf req = { 0 };
    vmrt_buf_puts(&req, "{\"op\":");
    json_escape(&req, op, strlen(op));
    if (!strcmp(op, "create")) {
        put_clock_and_seed(s, &req);
    }
    vmrt_buf_puts(&req, ",\"id\":");
    json_escape(&req, s->o.id, strlen(s->o.id));
    vmrt_buf_putc(&req, ',');
    json_escape(&req, key, strlen(key));
    vmrt_buf_putc(&req, ':');
    vmrt_buf_append(&req, vmrt_buf_pending(&doc), vmrt_buf_pending_len(&doc));
    vmrt_buf_putc(&req, '}');
    if (vmrt_buf_pending_len(&req) > VMRT_MAX_PAYLOAD) {
        startup_failed(s, "%s is too large for one request (at most 1 MiB)", path);
    }
    conn_send(&s->up, VMRT_REQUEST, OWN_STREAM, vmrt_buf_pending(&req), vmrt_buf_pending_len(&req));
    vmrt_buf_free(&req);
    vmrt_buf_free(&doc);
}

/* Startup: waits for one frame of `type` on `stream` (payload copied to
 * *payload), while flushing what is queued for the peer. Output of the own
 * stream goes to the relay; anything else is dropped. */
static void await_frame(struct shim *s, uint8_t type, uint32_t stream, int64_t deadline, const char *peer,
                        struct vmrt_buf *payload)
{
    for (;;) {
        struct vmrt_frame f;
        const char *why = NULL;
        int rc = vmrt_reader_next(&s->up.in, &f, &why);
        if (rc == VMRT_FRAME_OK && f.type == type && f.stream == stream) {
            vmrt_buf_append(payload, f.payload, f.payload_len);
            return;
        }
        if (rc == VMRT_FRAME_OK && f.stream == OWN_STREAM &&
            (f.type == VMRT_STDOUT || f.type == VMRT_STDERR || f.type == VMRT_EXIT)) {
            relay_output(&s->proc, &f);
            continue;
        }
        if (rc == VMRT_FRAME_OK && f.type == VMRT_HELLO) {
            continue; /* the mux greets exec shims too; the agent may greet twice */
        }
        if (rc == VMRT_FRAME_OK) {
            log_warning("%s frame for stream %u from %s dropped during startup", vmrt_type_name(f.type), f.stream,
                        peer);
            continue;
        }
        if (rc == VMRT_FRAME_MALFORMED) {
            log_warning("malformed frame from %s dropped: %s", peer, why);
            continue;
        }
        if (rc == VMRT_FRAME_FATAL) {
            startup_failed(s, "%s sent a frame with %s", peer, why);
        }
        if (conn_flush(&s->up) < 0) {
            startup_failed(s, "write to %s: %s", peer, strerror(errno));
        }
        /* Output that comes before the answer is written out as it comes; while
         * nobody takes it, the peer is not read: memory stays bounded. */
        struct pollfd p[3] = {
            {
                .fd = s->up.fd,
                .events = (relay_congested(&s->proc) ? 0 : POLLIN) | (vmrt_buf_pending_len(&s->up.out) ? POLLOUT : 0),
            },
            { .fd = vmrt_buf_pending_len(&s->proc.out_q) ? s->proc.out_fd : -1, .events = POLLOUT },
            { .fd = vmrt_buf_pending_len(&s->proc.err_q) ? s->proc.err_fd : -1, .events = POLLOUT },
        };
        int n = poll(p, 3, ms_until(deadline));
        if (n == 0) {
            startup_failed(s, "timed out waiting for %s %s", peer, type == VMRT_HELLO ? "to say HELLO" : "to answer");
        }
        if (n < 0 && errno != EINTR) {
            startup_failed(s, "poll: %s", strerror(errno));
        }
        if (n > 0 && p[1].revents) {
            relay_write(&s->proc, 1);
        }
        if (n > 0 && p[2].revents) {
            relay_write(&s->proc, 2);
        }
        if (n > 0 && (p[0].revents & (POLLIN | POLLHUP | POLLERR))) {
            long got = vmrt_reader_fill(&s->up.in, s->up.fd);
            if (got == 0 || (got < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
                startup_failed(s, "%s closed the connection", peer);
            }
        }
    }
}

/* Waits for the RESPONSE to the own create/exec request; returns the guest pid. */
static int64_t await_process(struct shim *s, int64_t deadline, const char *peer)
{
    struct vmrt_buf payload = { 0 };
    await_frame(s, VMRT_RESPONSE, OWN_STREAM, deadline, peer, &payload);
    struct json_doc d;
    if (json_parse(&d, (const char *)vmrt_buf_pending(&payload), vmrt_buf_pending_len(&payload)) != 0) {
        startup_failed(s, "%s sent a response that is not JSON", peer);
    }
    if (!json_bool_value(&d, json_get(&d, 0, "ok"), 0)) {
        char *error = json_get_strdup(&d, 0, "error", "no reason given");
        startup_failed(s, "%s", error ? error : "out of memory");
    }
    int64_t pid = json_i64_or(&d, json_get(&d, 0, "pid"), 0);
    json_free(&d);
    vmrt_buf_free(&payload);
    return pid;
}

static int connect_with_retry(struct shim *s, const char *path, int64_t deadline)
{
    for (;;) {
        int fd = unix_connect(path);
        if (fd >= 0) {
            return fd;
        }
        /* QEMU creates and serves the socket a moment after it starts; a VM restored from a
         * template gets it once it runs (the create waits for this connection: retry often). */
        if ((errno != ENOENT && errno != ECONNREFUSED) || now_ms() >= deadline) {
            startup_failed(s, "cannot connect to %s: %s", path, strerror(errno));
        }
        poll(NULL, 0, 5);
    }
}

static int64_t start_init(struct shim *s)
{
    int64_t deadline = now_ms() + STARTUP_TIMEOUT_MS;
    conn_init(&s->up, connect_with_retry(s, s->o.agent_socket, deadline));
    struct vmrt_buf hello = { 0 };
    await_frame(s, VMRT_HELLO, 0, deadline, "the agent", &hello);
    mux_init(&s->mux, &s->up, OWN_STREAM, vmrt_buf_pending(&hello), vmrt_buf_pending_len(&hello));
    vmrt_buf_free(&hello);
    s->have_mux = 1;
    if (mux_listen(&s->mux, s->o.mux_socket) != 0) {
        startup_failed(s, "cannot listen on %s: %s", s->o.mux_socket, strerror(errno));
    }
    send_process_request(s, "create", "spec", s->o.spec);
    return await_process(s, deadline, "the agent");
}

static int64_t start_exec(struct shim *s)
{
    int fd = unix_connect(s->o.mux_socket);
    if (fd < 0) {
        startup_failed(s, "cannot connect to %s (is the container running?): %s", s->o.mux_socket, strerror(errno));
    }
    conn_init(&s->up, fd);
    if (s->o.mode == MODE_JOIN) {
        send_process_request(s, "create", "spec", s->o.spec);
    } else {
        send_process_request(s, "exec", "process", s->o.process);
    }
    return await_process(s, now_ms() + STARTUP_TIMEOUT_MS, "the container's mux");
}

/* Everything before the stream exists: descriptors, session, netns, console. */
static void prepare_process(struct shim *s)
{
    close_fds_except(s->o.ready_fd);
    stdio_ensure_open();
    if (s->o.ready_fd >= 0) {
        fcntl(s->o.ready_fd, F_SETFD, FD_CLOEXEC);
    }
    if (s->o.log) {
        log_open(s->o.log);
    }
    s->sigfd = signals_open();
    if (s->sigfd < 0) {
        startup_failed(s, "signalfd: %s", strerror(errno));
    }
    if (become_session_leader() != 0) {
        if (s->o.console_socket) {
            startup_failed(s, "setsid: %s (a terminal needs a new session)", strerror(errno));
        }
        log_warning("setsid: %m; staying in the caller's session");
    }
    s->home_netns = s->o.network_sync ? open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC) : -1;
    if (s->o.netns && enter_netns(s->o.netns) != 0) {
        startup_failed(s, "cannot join the network namespace %s: %s", s->o.netns, strerror(errno));
    }
    if (s->o.console_socket) {
        char err[512];
        if (console_setup(s->o.console_socket, err, sizeof err) != 0) {
            startup_failed(s, "%s", err);
        }
    } else {
        for (int fd = 0; fd <= 2; fd++) {
            stdio_make_nonblocking(fd);
        }
    }
    relay_init(&s->proc, OWN_STREAM, s->o.console_socket != NULL);
}

static const char *peer_name(const struct shim *s)
{
    return s->o.mode == MODE_INIT ? "the VM agent" : s->o.mode == MODE_JOIN ? "the pod's mux" : "the container's mux";
}

/*
 * `vmrt kill` ends a VM whose guest does not carry out a SIGKILL of the container in time (a
 * guest too busy to answer), after leaving a `killed` file beside the mux socket (in the socket
 * folder, which QEMU cannot write): the container then ends as killed (137), not as a VM that
 * died (255).
 */
static int vm_killed_by_host(const char *mux_socket)
{
    char path[4096];
    const char *slash = strrchr(mux_socket, '/');
    int dir_len = slash ? (int)(slash - mux_socket) : 0;
    if (snprintf(path, sizeof path, "%.*s/killed", dir_len, mux_socket) >= (int)sizeof path) {
        return 0;
    }
    return access(path, F_OK) == 0;
}

/* The agent (or the mux) went away before the process's EXIT: hand out what
 * output arrived, say so, and leave. A lost VM never leaves a shim waiting. */
static void __attribute__((noreturn)) peer_lost(struct shim *s, const char *why)
{
    int64_t deadline = now_ms() + LOST_DRAIN_MS;
    while (!relay_flushed(&s->proc) && now_ms() < deadline) {
        struct pollfd p[2] = {
            { .fd = vmrt_buf_pending_len(&s->proc.out_q) ? s->proc.out_fd : -1, .events = POLLOUT },
            { .fd = vmrt_buf_pending_len(&s->proc.err_q) ? s->proc.err_fd : -1, .events = POLLOUT },
        };
        if (poll(p, 2, ms_until(deadline)) <= 0) {
            break;
        }
        if (p[0].revents) {
            relay_write(&s->proc, 1);
        }
        if (p[1].revents) {
            relay_write(&s->proc, 2);
        }
    }
    if (s->have_mux) {
        mux_stop_listening(&s->mux);
        mux_outlive_exec_shims(&s->mux, OUTLIVE_EXEC_SHIMS_MS);
    }
    if (s->o.mode == MODE_INIT && vm_killed_by_host(s->o.mux_socket)) {
        log_error("the VM did not end container %s on SIGKILL in time and was ended from the host: it exits with 137",
                  s->o.id);
        exit(128 + SIGKILL);
    }
    log_error("lost the connection to %s (%s): %s; container %s exits with 255", peer_name(s), why,
              s->o.mode == MODE_INIT ? "the VM is gone" : "its init shim or its VM is gone", s->o.id);
    exit(255);
}

static void handle_signals(struct shim *s)
{
    struct signalfd_siginfo si;
    while (read(s->sigfd, &si, sizeof si) == (ssize_t)sizeof si) {
        int sig = (int)si.ssi_signo;
        if (s->proc.exited) {
            continue;
        }
        if (sig == SIGWINCH) {
            relay_send_size(&s->proc, &s->up);
        } else if (signal_is_forwarded(sig)) {
            conn_send_signal(&s->up, OWN_STREAM, sig);
        }
    }
}

/* An EVENT of the agent: a guest OOM kill in this shim's container is first
 * reproduced in the host cgroup, where containerd looks for it (the VM of a
 * pod holds other containers, each with its own shim and host cgroup); the
 * init shim gives every mux client a copy. Only a grown oom_kills count is
 * shown, at most once a second: each showing forks and squeezes the host
 * cgroup, which a guest must not make the shim do without end. */
static void host_event(struct shim *s, const struct vmrt_frame *f)
{
    struct json_doc d;
    if (json_parse(&d, (const char *)f->payload, f->payload_len) == 0 &&
        json_str_eq(&d, json_get(&d, 0, "type"), "oom") && json_str_eq(&d, json_get(&d, 0, "id"), s->o.id)) {
        int64_t kills = json_i64_or(&d, json_get(&d, 0, "oom_kills"), 0);
        char err[512];
        if (kills > s->oom_kills_shown && now_ms() >= s->oom_quiet_until) {
            s->oom_kills_shown = kills;
            s->oom_quiet_until = now_ms() + OOM_SHOW_INTERVAL_MS;
            if (oom_mirror(err, sizeof err) != 0) {
                log_warning("a guest OOM kill could not be shown in the host cgroup: %s", err);
            }
        }
    }
    json_free(&d);
    if (s->have_mux) mux_broadcast(&s->mux, f);
}

/* Reads what the peer sent and dispatches every whole frame. */
static void read_up(struct shim *s)
{
    long n = vmrt_reader_fill(&s->up.in, s->up.fd);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        return;
    }
    int was_exited = s->proc.exited;
    for (;;) {
        struct vmrt_frame f;
        const char *why = NULL;
        int rc = vmrt_reader_next(&s->up.in, &f, &why);
        if (rc == VMRT_FRAME_INCOMPLETE) {
            break;
        }
        if (rc == VMRT_FRAME_MALFORMED) {
            log_warning("malformed frame from %s dropped: %s", peer_name(s), why);
            continue;
        }
        if (rc == VMRT_FRAME_FATAL) {
            peer_lost(s, why);
        }
        if (f.type == VMRT_DNS) {
            if (s->have_mux) dns_relay_query(&s->dns, &f);
        } else if (f.stream == OWN_STREAM) {
            relay_output(&s->proc, &f);
        } else if (f.type == VMRT_EVENT) {
            if (s->o.mode != MODE_EXEC) host_event(s, &f); /* exec shims have no use for events */
        } else if (f.type == VMRT_HELLO) {
            /* The agent greets again after a reconnect of its port: nothing to do. */
        } else if (s->have_mux) {
            mux_from_agent(&s->mux, &f);
        } else {
            log_warning("%s frame for stream %u dropped", vmrt_type_name(f.type), f.stream);
        }
    }
    if (!was_exited && s->proc.exited && s->have_mux) {
        /* The container's life is over: no new clients. */
        mux_stop_listening(&s->mux);
    }
    if (n == 0 || n < 0) {
        if (s->proc.exited) {
            conn_close(&s->up);
            return;
        }
        peer_lost(s, n == 0 ? "connection closed" : strerror(errno));
    }
}

enum source {
    SRC_SIGNALS,
    SRC_UP,
    SRC_STDIN,
    SRC_STDOUT,
    SRC_STDERR,
    SRC_LISTEN,
    SRC_CLIENT,
    SRC_NETLINK,
    SRC_SYNC,
    SRC_DNS
};

struct pollset {
    struct pollfd *fds;
    enum source *src;
    struct mux_client **client;
    size_t n, cap;
};

static void pollset_add(struct pollset *ps, int fd, short events, enum source src, struct mux_client *cl)
{
    if (fd < 0 || events == 0) {
        return;
    }
    if (ps->n == ps->cap) {
        ps->cap = ps->cap ? ps->cap * 2 : 16;
        ps->fds = realloc(ps->fds, ps->cap * sizeof *ps->fds);
        ps->src = realloc(ps->src, ps->cap * sizeof *ps->src);
        ps->client = realloc(ps->client, ps->cap * sizeof *ps->client);
        if (!ps->fds || !ps->src || !ps->client) {
            abort();
        }
    }
    ps->fds[ps->n] = (struct pollfd){ .fd = fd, .events = events };
    ps->src[ps->n] = src;
    ps->client[ps->n] = cl;
    ps->n++;
}

static void build_pollset(struct shim *s, struct pollset *ps)
{
    ps->n = 0;
    int output_backlog = relay_congested(&s->proc) || (s->have_mux && mux_congested(&s->mux));
    int input_backlog = conn_congested(&s->up);
    pollset_add(ps, s->sigfd, POLLIN, SRC_SIGNALS, NULL);
    pollset_add(ps, s->up.fd, (output_backlog ? 0 : POLLIN) | (vmrt_buf_pending_len(&s->up.out) ? POLLOUT : 0), SRC_UP,
                NULL);
    if (!s->proc.exited && !input_backlog) {
        pollset_add(ps, s->proc.in_fd, POLLIN, SRC_STDIN, NULL);
    }
    if (vmrt_buf_pending_len(&s->proc.out_q)) {
        pollset_add(ps, s->proc.out_fd, POLLOUT, SRC_STDOUT, NULL);
    }
    if (vmrt_buf_pending_len(&s->proc.err_q)) {
        pollset_add(ps, s->proc.err_fd, POLLOUT, SRC_STDERR, NULL);
    }
    if (!s->proc.exited) {
        pollset_add(ps, s->net.fd, POLLIN, SRC_NETLINK, NULL);
        pollset_add(ps, s->net.child_fd, POLLIN, SRC_SYNC, NULL);
        if (s->dns.n) dns_relay_expire(&s->dns); /* no clock read while no query waits */
        for (int i = 0; i < s->dns.n; i++) pollset_add(ps, s->dns.q[i].fd, POLLIN, SRC_DNS, NULL);
    }
    if (!s->have_mux) {
        return;
    }
    pollset_add(ps, s->mux.listen_fd, POLLIN, SRC_LISTEN, NULL);
    for (struct mux_client *cl = s->mux.clients; cl; cl = cl->next) {
        /* A client that sends without reading its answers is not read either. */
        int hold = input_backlog || conn_congested(&cl->c);
        pollset_add(ps, cl->c.fd, (hold ? 0 : POLLIN) | (vmrt_buf_pending_len(&cl->c.out) ? POLLOUT : 0), SRC_CLIENT,
                    cl);
    }
}

static void dispatch(struct shim *s, struct pollset *ps)
{
    for (size_t i = 0; i < ps->n; i++) {
        short ev = ps->fds[i].revents;
        if (!ev) {
            continue;
        }
        struct mux_client *cl = ps->client[i];
        switch (ps->src[i]) {
        case SRC_SIGNALS: handle_signals(s); break;
        case SRC_UP:
            if (s->up.fd < 0) {
                break;
            }
            if (ev & POLLOUT && conn_flush(&s->up) < 0 && !s->proc.exited) {
                peer_lost(s, strerror(errno));
            }
            if (ev & (POLLIN | POLLHUP | POLLERR)) {
                read_up(s);
            }
            break;
        case SRC_STDIN: relay_read_stdin(&s->proc, &s->up); break;
        case SRC_STDOUT: relay_write(&s->proc, 1); break;
        case SRC_STDERR: relay_write(&s->proc, 2); break;
        case SRC_LISTEN: mux_accept(&s->mux); break;
        case SRC_CLIENT:
            if (cl->c.fd >= 0 && (ev & POLLOUT)) {
                mux_client_write(&s->mux, cl);
            }
            if (cl->c.fd >= 0 && (ev & (POLLIN | POLLHUP | POLLERR))) {
                mux_client_read(&s->mux, cl);
            }
            break;
        case SRC_NETLINK: netwatch_read(&s->net); break;
        case SRC_SYNC: break; /* reaped by netwatch_tick */
        case SRC_DNS: dns_relay_answer(&s->dns, ps->fds[i].fd, &s->up); break;
        }
    }
    if (s->have_mux) {
        mux_reap(&s->mux);
    }
    /* Queue what the round produced for the peer right away. */
    if (s->up.fd >= 0 && conn_flush(&s->up) < 0 && !s->proc.exited) {
        peer_lost(s, strerror(errno));
    }
}

/* The sooner of two poll timeouts (-1: none). */
static int earliest_timeout(int a, int b)
{
    return a < 0 ? b : b < 0 ? a : a < b ? a : b;
}

static int run(struct shim *s)
{
    struct pollset ps = { 0 };
    int64_t grace = 0;
    relay_send_size(&s->proc, &s->up);
    for (;;) {
        if (s->proc.exited) {
            if (grace == 0) {
                grace = now_ms() + EXIT_GRACE_MS;
            }
            int others_done = !s->have_mux || s->up.fd < 0 || mux_idle(&s->mux) || now_ms() >= grace;
            if (relay_flushed(&s->proc) && others_done) {
                return s->proc.status;
            }
        }
        build_pollset(s, &ps);
        int timeout = s->proc.exited ? (s->have_mux && now_ms() < grace ? ms_until(grace) : -1)
                                     : earliest_timeout(netwatch_timeout(&s->net), serial_log_timeout(&s->serial));
        int n = poll(ps.fds, ps.n, timeout);
        if (n < 0 && errno != EINTR) {
            log_error("poll: %m");
            return 255;
        }
        if (n > 0) {
            dispatch(s, &ps);
        }
        if (!s->proc.exited) {
            netwatch_tick(&s->net);
            serial_log_tick(&s->serial);
        }
    }
}

int main(int argc, char **argv)
{
    static struct shim s;
    if (argc >= 2 && strcmp(argv[1], "keep-memory") == 0) {
        return keep_memory_main(argc, argv);
    }
    if (argc >= 2 && strcmp(argv[1], "qemu-memory") == 0) {
        return qemu_memory_main(argc, argv);
    }
    if (argc >= 2 && strcmp(argv[1], "cli") == 0) {
        return cli_client_main(argc, argv);
    }
    if (parse_options(argc, argv, &s.o) != 0) {
        usage();
        return 2;
    }
    prepare_process(&s);
    int64_t pid = s.o.mode == MODE_INIT ? start_init(&s) : start_exec(&s);
    ready(&s.o, pid);
    s.net = (struct netwatch){ .fd = -1, .child_fd = -1 };
    serial_log_init(&s.serial, s.o.serial_log);
    char err[512];
    /* After the ready line: the interfaces Docker configured at create are the VM's already. */
    if (s.o.network_sync && netwatch_open(&s.net, s.o.network_sync, s.home_netns, err, sizeof err) != 0) {
        log_warning("networks connected later will not reach the VM: %s", err);
    }
    int status = run(&s);
    if (s.have_mux) {
        mux_stop_listening(&s.mux);
        mux_outlive_exec_shims(&s.mux, OUTLIVE_EXEC_SHIMS_MS);
    }
    return status;
}
