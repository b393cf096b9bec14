/* One framed, non-blocking connection (to the agent, to mux.sock, or a client
 * of mux.sock): a frame reader and an output queue. */
#ifndef VMRT_SHIM_CONN_H
#define VMRT_SHIM_CONN_H

#include <stddef.h>
#include <stdint.h>

#include "proto.h"

/* Output queued beyond this stops the producers that feed a queue (stdin,
 * the agent's output) until it drains: memory stays bounded and a full pipe
 * in one direction never blocks the other. */
#define QUEUE_HIGH_WATER (4u * 1024u * 1024u)

struct conn {
    int fd; /* -1 once closed */
    struct vmrt_reader in;
    struct vmrt_buf out;
};

void conn_init(struct conn *c, int fd);
void conn_close(struct conn *c);
int conn_congested(const struct conn *c);

void conn_send(struct conn *c, uint8_t type, uint32_t stream, const void *payload, size_t len);
void conn_send_json(struct conn *c, uint8_t type, uint32_t stream, struct json_builder *jb);
/* {"signal":n} */
void conn_send_signal(struct conn *c, uint32_t stream, int sig);
/* Writes what the socket takes. Returns -1 when the connection failed. */
int conn_flush(struct conn *c);

#endif
