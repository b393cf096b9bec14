#include "relay.h"

#include <errno.h>
#include <unistd.h>

#include "console.h"
#include "log.h"

void relay_init(struct relay *r, uint32_t stream, int console)
{
    *r = (struct relay){ 0 };
    r->stream = stream;
    r->console = console;
    r->in_fd = STDIN_FILENO;
    r->out_fd = STDOUT_FILENO;
    r->err_fd = console ? STDOUT_FILENO : STDERR_FILENO;
}

void relay_read_stdin(struct relay *r, struct conn *up)
{
    uint8_t chunk[65536];
    ssize_t n = read(r->in_fd, chunk, sizeof chunk);
    if (n > 0) {
        conn_send(up, VMRT_STDIN, r->stream, chunk, (size_t)n);
        return;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
        return;
    }
    /* EOF, or EIO once the console's master is closed: no more input. */
    conn_send(up, VMRT_STDIN_CLOSE, r->stream, NULL, 0);
    r->in_fd = -1;
}

static struct vmrt_buf *queue_of(struct relay *r, int which)
{
    return which == 2 && !r->console ? &r->err_q : &r->out_q;
}

void relay_write(struct relay *r, int which)
{
    int *fd = which == 2 && !r->console ? &r->err_fd : &r->out_fd;
    struct vmrt_buf *q = queue_of(r, which);
    if (*fd < 0) {
        vmrt_buf_clear(q);
        return;
    }
    if (vmrt_buf_flush(q, *fd) < 0) {
        /* Nobody reads any more (EPIPE), or the terminal hung up (EIO). */
        log_warning("output of stream %u to fd %d failed: %m; dropping it", r->stream, *fd);
        vmrt_buf_clear(q);
        *fd = -1;
    }
}

void relay_output(struct relay *r, const struct vmrt_frame *f)
{
    if (r->exited) {
        return;
    }
    switch (f->type) {
    case VMRT_STDOUT:
    case VMRT_STDERR: {
        int which = f->type == VMRT_STDOUT ? 1 : 2;
        int fd = which == 2 && !r->console ? r->err_fd : r->out_fd;
        if (fd >= 0) {
            vmrt_buf_append(queue_of(r, which), f->payload, f->payload_len);
        }
        return;
    }
    case VMRT_EXIT: {
        struct json_doc d;
        int64_t status = 255;
        if (json_parse(&d, (const char *)f->payload, f->payload_len) == 0) {
            status = json_i64_or(&d, json_get(&d, 0, "status"), 255);
        }
        json_free(&d);
        r->status = status < 0 || status > 255 ? 255 : (int)status;
        r->exited = 1;
        return;
    }
    default: log_warning("unexpected %s frame for process stream %u", vmrt_type_name(f->type), r->stream);
    }
}

void relay_send_size(struct relay *r, struct conn *up)
{
    unsigned rows, cols;
    /* A 0x0 console has no size yet (containerd sets it later): sending it would
     * override the size the guest already has. */
    if (!r->console || console_size(STDIN_FILENO, &rows, &cols) != 0 || rows == 0 || cols == 0) {
        return;
    }
    struct json_builder jb;
    json_builder_init(&jb);
    json_obj_begin(&jb);
    json_key(&jb, "rows");
    json_uint(&jb, rows);
    json_key(&jb, "cols");
    json_uint(&jb, cols);
    json_obj_end(&jb);
    conn_send_json(up, VMRT_RESIZE, r->stream, &jb);
    json_builder_free(&jb);
}

int relay_flushed(const struct relay *r)
{
    return vmrt_buf_pending_len(&r->out_q) == 0 && vmrt_buf_pending_len(&r->err_q) == 0;
}

int relay_congested(const struct relay *r)
{
    return vmrt_buf_pending_len(&r->out_q) > QUEUE_HIGH_WATER || vmrt_buf_pending_len(&r->err_q) > QUEUE_HIGH_WATER;
}
