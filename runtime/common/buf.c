#include "buf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void vmrt_buf_reserve(struct vmrt_buf *b, size_t extra)
{
    if (b->off > 0 && b->off == b->len) {
        b->off = b->len = 0;
    }
    if (b->len + extra + 1 <= b->cap) {
        return;
    }
    /* Reclaim consumed space before growing. */
    if (b->off > 0) {
        memmove(b->data, b->data + b->off, b->len - b->off);
        b->len -= b->off;
        b->off = 0;
        if (b->len + extra + 1 <= b->cap) {
            return;
        }
    }
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra + 1) {
        cap *= 2;
    }
    uint8_t *p = realloc(b->data, cap);
    if (!p) {
        static const char msg[] = "vmrt: out of memory\n";
        (void)!write(2, msg, sizeof msg - 1);
        abort();
    }
    b->data = p;
    b->cap = cap;
}

void vmrt_buf_append(struct vmrt_buf *b, const void *p, size_t n)
{
    vmrt_buf_reserve(b, n);
    if (n) {
        memcpy(b->data + b->len, p, n);
    }
    b->len += n;
}

void vmrt_buf_putc(struct vmrt_buf *b, char c)
{
    vmrt_buf_append(b, &c, 1);
}

void vmrt_buf_puts(struct vmrt_buf *b, const char *s)
{
    vmrt_buf_append(b, s, strlen(s));
}

void vmrt_buf_printf(struct vmrt_buf *b, const char *fmt, ...)
{
    char small[128];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n <= 0) {
        return;
    }
    if ((size_t)n < sizeof small) {
        vmrt_buf_append(b, small, (size_t)n);
        return;
    }
    vmrt_buf_reserve(b, (size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void vmrt_buf_consume(struct vmrt_buf *b, size_t n)
{
    b->off += n;
    if (b->off >= b->len) {
        b->off = b->len = 0;
    }
}

void vmrt_buf_clear(struct vmrt_buf *b)
{
    b->off = b->len = 0;
}

void vmrt_buf_free(struct vmrt_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->off = b->len = b->cap = 0;
}

const char *vmrt_buf_cstr(struct vmrt_buf *b)
{
    vmrt_buf_reserve(b, 0);
    b->data[b->len] = '\0';
    return (const char *)b->data + b->off;
}

int vmrt_buf_flush(struct vmrt_buf *b, int fd)
{
    while (b->len > b->off) {
        ssize_t n = write(fd, b->data + b->off, b->len - b->off);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                return 1;
            }
            return -1;
        }
        vmrt_buf_consume(b, (size_t)n);
    }
    return 0;
}
