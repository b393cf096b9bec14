/* Growable byte buffer shared by the frame codec and the JSON builder. */
#ifndef VMRT_BUF_H
#define VMRT_BUF_H

#include <stddef.h>
#include <stdint.h>

struct vmrt_buf {
    uint8_t *data;
    size_t off; /* bytes already consumed from the front */
    size_t len; /* end of valid bytes (data[off..len) is pending) */
    size_t cap;
};

/* Ensures room for `extra` more bytes; aborts on out-of-memory (a static
 * helper process cannot do anything useful without memory). */
void vmrt_buf_reserve(struct vmrt_buf *b, size_t extra);
void vmrt_buf_append(struct vmrt_buf *b, const void *p, size_t n);
void vmrt_buf_putc(struct vmrt_buf *b, char c);
void vmrt_buf_puts(struct vmrt_buf *b, const char *s);
void vmrt_buf_printf(struct vmrt_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Pending bytes and their count. */
static inline const uint8_t *vmrt_buf_pending(const struct vmrt_buf *b)
{
    return b->data + b->off;
}
static inline size_t vmrt_buf_pending_len(const struct vmrt_buf *b)
{
    return b->len - b->off;
}
/* Drops n pending bytes from the front. */
void vmrt_buf_consume(struct vmrt_buf *b, size_t n);
void vmrt_buf_clear(struct vmrt_buf *b);
void vmrt_buf_free(struct vmrt_buf *b);
/* Returns a NUL-terminated view of the pending bytes (NUL not counted). */
const char *vmrt_buf_cstr(struct vmrt_buf *b);

/* Writes as much as the (possibly non-blocking) fd accepts.
 * Returns 0 when everything was written, 1 when bytes remain (EAGAIN),
 * -1 on a write error (errno set). */
int vmrt_buf_flush(struct vmrt_buf *b, int fd);

#endif
