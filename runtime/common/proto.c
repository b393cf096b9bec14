#include "proto.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#define READ_CHUNK 65536

int vmrt_type_known(uint8_t type)
{
    switch (type) {
    case VMRT_HELLO:
    case VMRT_REQUEST:
    case VMRT_RESPONSE:
    case VMRT_STDIN:
    case VMRT_STDOUT:
    case VMRT_STDERR:
    case VMRT_STDIN_CLOSE:
    case VMRT_EXIT:
    case VMRT_RESIZE:
    case VMRT_SIGNAL:
    case VMRT_EVENT:
    case VMRT_DNS: return 1;
    default: return 0;
    }
}

int vmrt_type_is_json(uint8_t type)
{
    switch (type) {
    case VMRT_HELLO:
    case VMRT_REQUEST:
    case VMRT_RESPONSE:
    case VMRT_EXIT:
    case VMRT_RESIZE:
    case VMRT_SIGNAL:
    case VMRT_EVENT: return 1;
    default: return 0;
    }
}

const char *vmrt_type_name(uint8_t type)
{
    switch (type) {
    case VMRT_HELLO: return "HELLO";
    case VMRT_REQUEST: return "REQUEST";
    case VMRT_RESPONSE: return "RESPONSE";
    case VMRT_STDIN: return "STDIN";
    case VMRT_STDOUT: return "STDOUT";
    case VMRT_STDERR: return "STDERR";
    case VMRT_STDIN_CLOSE: return "STDIN_CLOSE";
    case VMRT_EXIT: return "EXIT";
    case VMRT_RESIZE: return "RESIZE";
    case VMRT_SIGNAL: return "SIGNAL";
    case VMRT_EVENT: return "EVENT";
    case VMRT_DNS: return "DNS";
    default: return "UNKNOWN";
    }
}

void vmrt_reader_init(struct vmrt_reader *r)
{
    memset(r, 0, sizeof *r);
}

void vmrt_reader_free(struct vmrt_reader *r)
{
    vmrt_buf_free(&r->in);
    r->skip = 0;
}

/* Drops the frame handed out by the previous vmrt_reader_next call: its
 * payload pointer had to stay valid until now. */
static void drop_previous(struct vmrt_reader *r)
{
    if (r->skip) {
        vmrt_buf_consume(&r->in, r->skip);
        r->skip = 0;
    }
}

long vmrt_reader_fill(struct vmrt_reader *r, int fd)
{
    drop_previous(r);
    /* At most 64 KiB a read, however large the buffer grew for a big frame:
     * what one read can make the caller queue (answers, output) stays small. */
    vmrt_buf_reserve(&r->in, READ_CHUNK);
    for (;;) {
        ssize_t n = read(fd, r->in.data + r->in.len, READ_CHUNK);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n > 0) {
            r->in.len += (size_t)n;
        }
        return (long)n;
    }
}

void vmrt_reader_feed(struct vmrt_reader *r, const void *data, size_t n)
{
    drop_previous(r);
    vmrt_buf_append(&r->in, data, n);
}

int vmrt_reader_next(struct vmrt_reader *r, struct vmrt_frame *out, const char **why)
{
    drop_previous(r);
    memset(out, 0, sizeof *out);
    size_t avail = vmrt_buf_pending_len(&r->in);
    if (avail < 4) {
        return VMRT_FRAME_INCOMPLETE;
    }
    const uint8_t *p = vmrt_buf_pending(&r->in);
    uint32_t length = vmrt_get_be32(p);
    if (length < VMRT_MIN_LENGTH || length > VMRT_MAX_LENGTH) {
        if (why) {
            *why = length < VMRT_MIN_LENGTH ? "frame length below 6" : "frame length above 1 MiB + 6";
        }
        /* Nothing after this can be trusted: the caller closes the connection. */
        vmrt_buf_clear(&r->in);
        return VMRT_FRAME_FATAL;
    }
    if (avail < 4 + (size_t)length) {
        return VMRT_FRAME_INCOMPLETE;
    }
    out->type = p[5];
    out->stream = vmrt_get_be32(p + 6);
    out->payload_len = length - VMRT_MIN_LENGTH;
    out->payload = p + VMRT_HEADER_SIZE;
    r->skip = 4 + (size_t)length;

    const char *problem = NULL;
    if (p[4] != VMRT_PROTO_VERSION) {
        problem = "unsupported protocol version";
    } else if (!vmrt_type_known(out->type)) {
        problem = "unknown frame type";
    } else if (vmrt_type_is_json(out->type) && json_validate((const char *)out->payload, out->payload_len) != 0) {
        problem = "payload is not one JSON object";
    }
    if (problem) {
        if (why) {
            *why = problem;
        }
        out->payload = NULL;
        out->payload_len = 0;
        return VMRT_FRAME_MALFORMED;
    }
    return VMRT_FRAME_OK;
}

void vmrt_encode_header(uint8_t hdr[VMRT_HEADER_SIZE], uint8_t type, uint32_t stream, uint32_t payload_len)
{
    vmrt_put_be32(hdr, payload_len + VMRT_MIN_LENGTH);
    hdr[4] = VMRT_PROTO_VERSION;
    hdr[5] = type;
    vmrt_put_be32(hdr + 6, stream);
}

int vmrt_frame_append(struct vmrt_buf *out, uint8_t type, uint32_t stream, const void *payload, size_t payload_len)
{
    if (payload_len > VMRT_MAX_PAYLOAD) {
        return -1;
    }
    uint8_t hdr[VMRT_HEADER_SIZE];
    vmrt_encode_header(hdr, type, stream, (uint32_t)payload_len);
    vmrt_buf_reserve(out, sizeof hdr + payload_len);
    vmrt_buf_append(out, hdr, sizeof hdr);
    vmrt_buf_append(out, payload, payload_len);
    return 0;
}

void vmrt_append_error(struct vmrt_buf *out, uint32_t stream, const char *message)
{
    struct json_builder jb;
    json_builder_init(&jb);
    json_error_object(&jb, message);
    vmrt_frame_append(out, VMRT_RESPONSE, stream, vmrt_buf_pending(&jb.out), vmrt_buf_pending_len(&jb.out));
    json_builder_free(&jb);
}
