/* The agent's connection to the host (main.c): the state the event loop
 * polls, and the frames and answers queued for the host. */
#ifndef VMRT_HOST_H
#define VMRT_HOST_H

#include "agent.h"

/* One read from the port or from a process's output. */
#define READ_CHUNK 65536

struct agent {
    int port;
    int connected;
    struct vmrt_reader in;
    struct vmrt_buf out; /* frames for the host, flushed by the loop */
    int sigfd;
    int inotify;   /* the containers' memory.events, for OOM kills */
    int own_pidns; /* the guest's pid namespace, to return to after an exec's fork */
    int dns;       /* the DNS relay's socket, or -1 until a container wants it */
    char kernel[65];
};
extern struct agent A;

/* Queues a frame (or a JSON frame, freeing the builder) for the host. */
void send_frame(uint8_t type, uint32_t stream, const void *payload, size_t len);
void send_json(uint8_t type, uint32_t stream, struct json_builder *jb);
/* {"ok":false,"error":...} on stream. */
void respond_error(uint32_t stream, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* begin_ok starts {"ok":true ...; the caller adds fields and calls finish_ok. */
void begin_ok(struct json_builder *jb);
void finish_ok(uint32_t stream, struct json_builder *jb);
void respond_ok(uint32_t stream);
/* Writes what the port takes now. */
void flush_out(void);

#endif
