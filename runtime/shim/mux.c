#include "mux.h"
#include "clock.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "log.h"
#include "sys.h"

#define EXEC_EXITS_PUBLISHED_MS 100

void mux_init(struct mux *m, struct conn *agent, uint32_t reserved_stream, const void *hello, size_t hello_len)
{
    *m = (struct mux){ 0 };
    m->listen_fd = -1;
    m->agent = agent;
    m->reserved_stream = reserved_stream;
    m->next_stream = 1;
    vmrt_buf_append(&m->hello, hello, hello_len);
}

int mux_listen(struct mux *m, const char *path)
{
    /* The path is kept to unlink the socket when the shim stops listening. */
    m->path = strdup(path);
    if (!m->path) {
        return -1;
    }
    m->listen_fd = unix_listen(path);
    if (m->listen_fd < 0) {
        int saved = errno; /* the caller reports it */
        free(m->path);
        m->path = NULL;
        errno = saved;
        return -1;
    }
    return 0;
}

void mux_stop_listening(struct mux *m)
{
    if (m->listen_fd >= 0) {
        close(m->listen_fd);
        m->listen_fd = -1;
        unlink(m->path);
    }
}

void mux_accept(struct mux *m)
{
    for (;;) {
        int fd = accept4(m->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                log_warning("accept on %s: %m", m->path);
            }
            return;
        }
        struct mux_client *cl = calloc(1, sizeof *cl);
        if (!cl) {
            close(fd);
            return;
        }
        conn_init(&cl->c, fd);
        struct ucred peer;
        socklen_t len = sizeof peer;
        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &peer, &len) == 0) {
            cl->pid = peer.pid;
        }
        /* Clients see the agent's greeting as if they had connected to it. */
        conn_send(&cl->c, VMRT_HELLO, 0, vmrt_buf_pending(&m->hello), vmrt_buf_pending_len(&m->hello));
        cl->next = m->clients;
        m->clients = cl;
    }
}

static struct route *route_by_agent(struct mux *m, uint32_t agent_stream)
{
    for (size_t i = 0; i < m->nroutes; i++) {
        if (m->routes[i].agent_stream == agent_stream) {
            return &m->routes[i];
        }
    }
    return NULL;
}

static struct route *route_by_client(struct mux *m, struct mux_client *cl, uint32_t stream)
{
    for (size_t i = 0; i < m->nroutes; i++) {
        if (m->routes[i].client == cl && m->routes[i].client_stream == stream) {
            return &m->routes[i];
        }
    }
    return NULL;
}

static void route_remove(struct mux *m, struct route *r)
{
    *r = m->routes[--m->nroutes];
}

static uint32_t allocate_stream(struct mux *m)
{
    for (;;) {
        uint32_t s = m->next_stream++;
        if (s != 0 && s != m->reserved_stream && !route_by_agent(m, s)) {
            return s;
        }
    }
}

static struct route *route_add(struct mux *m, struct mux_client *cl, uint32_t client_stream, int process)
{
    if (m->nroutes == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 16;
        struct route *p = realloc(m->routes, cap * sizeof *p);
        if (!p) {
            abort();
        }
        m->routes = p;
        m->cap = cap;
    }
    struct route *r = &m->routes[m->nroutes++];
    *r = (struct route){
        .agent_stream = allocate_stream(m),
        .client_stream = client_stream,
        .client = cl,
        .process = (uint8_t)process,
    };
    return r;
}

static int request_starts_process(const struct vmrt_frame *f)
{
    struct json_doc d;
    int process = 0;
    if (json_parse(&d, (const char *)f->payload, f->payload_len) == 0) {
        int op = json_get(&d, 0, "op");
        process = json_str_eq(&d, op, "create") || json_str_eq(&d, op, "exec");
    }
    json_free(&d);
    return process;
}

static void client_frame(struct mux *m, struct mux_client *cl, const struct vmrt_frame *f)
{
    switch (f->type) {
    case VMRT_REQUEST: {
        if (f->stream == 0) {
            vmrt_append_error(&cl->c.out, 0, "a request needs a stream id other than 0");
            return;
        }
        if (route_by_client(m, cl, f->stream)) {
            vmrt_append_error(&cl->c.out, f->stream, "stream id is already in use");
            return;
        }
        int process = request_starts_process(f);
        cl->ran_process |= process;
        struct route *r = route_add(m, cl, f->stream, process);
        conn_send(m->agent, f->type, r->agent_stream, f->payload, f->payload_len);
        return;
    }
    case VMRT_STDIN:
    case VMRT_STDIN_CLOSE:
    case VMRT_RESIZE:
    case VMRT_SIGNAL: {
        struct route *r = route_by_client(m, cl, f->stream);
        if (!r || !r->process) {
            vmrt_append_error(&cl->c.out, f->stream, "no process on this stream");
            return;
        }
        conn_send(m->agent, f->type, r->agent_stream, f->payload, f->payload_len);
        return;
    }
    default: vmrt_append_error(&cl->c.out, f->stream, "frame type is not sent to the agent");
    }
}

/* The client is gone: its processes become orphans; a running orphan is
 * killed, as nothing relays its stdio any more. Its plain requests still in
 * flight are forgotten (a late answer is dropped as one for an unknown
 * stream): a guest that never answers does not make the route table grow. */
static void client_gone(struct mux *m, struct mux_client *cl)
{
    conn_close(&cl->c);
    if (cl->ran_process) {
        m->exec_shim_left = now_ms();
    }
    for (size_t i = 0; i < m->nroutes;) {
        struct route *r = &m->routes[i];
        if (r->client != cl) {
            i++;
            continue;
        }
        if (!r->process) {
            route_remove(m, r);
            continue;
        }
        r->client = NULL;
        if (r->answered) {
            conn_send_signal(m->agent, r->agent_stream, 9);
        }
        i++;
    }
}

void mux_client_read(struct mux *m, struct mux_client *cl)
{
    long n = vmrt_reader_fill(&cl->c.in, cl->c.fd);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        return;
    }
    for (;;) {
        struct vmrt_frame f;
        const char *why = NULL;
        int rc = vmrt_reader_next(&cl->c.in, &f, &why);
        if (rc == VMRT_FRAME_INCOMPLETE) {
            break;
        }
        if (rc == VMRT_FRAME_OK) {
            client_frame(m, cl, &f);
        } else if (rc == VMRT_FRAME_MALFORMED) {
            log_warning("malformed %s frame from a mux client (stream %u): %s", vmrt_type_name(f.type), f.stream, why);
            vmrt_append_error(&cl->c.out, f.stream, why);
        } else {
            log_warning("mux client sent %s: disconnecting it", why);
            client_gone(m, cl);
            return;
        }
    }
    if (n <= 0) {
        client_gone(m, cl);
    }
}

void mux_client_write(struct mux *m, struct mux_client *cl)
{
    if (conn_flush(&cl->c) < 0) {
        client_gone(m, cl);
    }
}

void mux_reap(struct mux *m)
{
    struct mux_client **p = &m->clients;
    while (*p) {
        struct mux_client *cl = *p;
        if (cl->c.fd < 0) {
            *p = cl->next;
            free(cl);
        } else {
            p = &cl->next;
        }
    }
}

static int response_ok(const struct vmrt_frame *f)
{
    struct json_doc d;
    int ok = 0;
    if (json_parse(&d, (const char *)f->payload, f->payload_len) == 0) {
        ok = json_bool_value(&d, json_get(&d, 0, "ok"), 0);
    }
    json_free(&d);
    return ok;
}

void mux_from_agent(struct mux *m, const struct vmrt_frame *f)
{
    struct route *r = route_by_agent(m, f->stream);
    if (!r) {
        log_warning("%s frame for unknown stream %u dropped", vmrt_type_name(f->type), f->stream);
        return;
    }
    if (r->client) {
        conn_send(&r->client->c, f->type, r->client_stream, f->payload, f->payload_len);
    }
    switch (f->type) {
    case VMRT_RESPONSE:
        r->answered = 1;
        if (!r->process || !response_ok(f)) {
            route_remove(m, r);
        } else if (!r->client) {
            conn_send_signal(m->agent, r->agent_stream, 9);
        }
        break;
    case VMRT_EXIT: route_remove(m, r); break;
    default: break;
    }
}

void mux_broadcast(struct mux *m, const struct vmrt_frame *f)
{
    for (struct mux_client *cl = m->clients; cl; cl = cl->next) {
        if (cl->c.fd >= 0) {
            conn_send(&cl->c, f->type, f->stream, f->payload, f->payload_len);
        }
    }
}

int mux_congested(const struct mux *m)
{
    for (const struct mux_client *cl = m->clients; cl; cl = cl->next) {
        if (conn_congested(&cl->c)) {
            return 1;
        }
    }
    return 0;
}

int mux_idle(const struct mux *m)
{
    for (size_t i = 0; i < m->nroutes; i++) {
        if (m->routes[i].client && m->routes[i].process) {
            return 0;
        }
    }
    for (const struct mux_client *cl = m->clients; cl; cl = cl->next) {
        if (cl->c.fd >= 0 && vmrt_buf_pending_len(&cl->c.out) > 0) {
            return 0;
        }
    }
    return 1;
}

void mux_outlive_exec_shims(struct mux *m, int timeout_ms)
{
    struct pollfd exits[64];
    nfds_t n = 0;
    for (struct mux_client *cl = m->clients; cl; cl = cl->next) {
        if (cl->ran_process && cl->pid > 0 && n < sizeof exits / sizeof exits[0]) {
            int fd = (int)syscall(SYS_pidfd_open, cl->pid, 0);
            if (fd >= 0) {
                exits[n++] = (struct pollfd){ .fd = fd, .events = POLLIN };
            }
        }
        conn_close(&cl->c);
    }
    int64_t deadline = now_ms() + timeout_ms;
    for (nfds_t i = 0; i < n; i++) {
        poll(&exits[i], 1, ms_until(deadline));
        close(exits[i].fd);
    }
    if (n > 0) {
        m->exec_shim_left = now_ms();
    }
    /* Time for containerd to reap the last of them and publish its exit first. */
    if (m->exec_shim_left) {
        poll(NULL, 0, ms_until(m->exec_shim_left + EXEC_EXITS_PUBLISHED_MS));
    }
}
