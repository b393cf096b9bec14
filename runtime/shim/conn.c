#include "conn.h"

#include <unistd.h>

void conn_init(struct conn *c, int fd)
{
    c->fd = fd;
    vmrt_reader_init(&c->in);
    c->out = (struct vmrt_buf){ 0 };
}

void conn_close(struct conn *c)
{
    if (c->fd >= 0) {
        close(c->fd);
        c->fd = -1;
    }
    vmrt_reader_free(&c->in);
    vmrt_buf_free(&c->out);
}

int conn_congested(const struct conn *c)
{
    return vmrt_buf_pending_len(&c->out) > QUEUE_HIGH_WATER;
}

void conn_send(struct conn *c, uint8_t type, uint32_t stream, const void *payload, size_t len)
{
    if (c->fd >= 0) {
        vmrt_frame_append(&c->out, type, stream, payload, len);
    }
}

void conn_send_json(struct conn *c, uint8_t type, uint32_t stream, struct json_builder *jb)
{
    conn_send(c, type, stream, vmrt_buf_pending(&jb->out), vmrt_buf_pending_len(&jb->out));
}

void conn_send_signal(struct conn *c, uint32_t stream, int sig)
{
    struct json_builder jb;
    json_builder_init(&jb);
    json_obj_begin(&jb);
    json_key(&jb, "signal");
    json_int(&jb, sig);
    json_obj_end(&jb);
    conn_send_json(c, VMRT_SIGNAL, stream, &jb);
    json_builder_free(&jb);
}

int conn_flush(struct conn *c)
{
    if (c->fd < 0) {
        return -1;
    }
    return vmrt_buf_flush(&c->out, c->fd) < 0 ? -1 : 0;
}
