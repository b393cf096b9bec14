/* The multiplexer of the init shim: the agent socket has exactly one host
 * holder, so every other host client (the vmrt CLI, exec shims) talks to the
 * agent through mux.sock. Clients speak the agent's framing; the mux gives
 * each request its own agent-side stream id, routes responses and output back
 * under the client's id, and kills (SIGNAL 9) the processes of a client that
 * disconnects before they ended. */
#ifndef VMRT_SHIM_MUX_H
#define VMRT_SHIM_MUX_H

#include <stdint.h>

#include "conn.h"

struct mux_client {
    struct conn c;   /* c.fd == -1: disconnected, freed by mux_reap */
    int pid;         /* the peer process (SO_PEERCRED), 0: unknown */
    int ran_process; /* it started a process (an exec shim) */
    struct mux_client *next;
};

/* One request or process stream of a client, by its agent-side id. */
struct route {
    uint32_t agent_stream;
    uint32_t client_stream;
    struct mux_client *client; /* NULL once the client is gone */
    uint8_t process;           /* create/exec: lives on until EXIT */
    uint8_t answered;          /* its RESPONSE arrived */
};

struct mux {
    int listen_fd;
    char *path;
    struct conn *agent;
    uint32_t reserved_stream; /* the init shim's own stream */
    uint32_t next_stream;
    struct vmrt_buf hello; /* the agent's HELLO payload, replayed to each client */
    struct mux_client *clients;
    struct route *routes;
    size_t nroutes, cap;
    int64_t exec_shim_left; /* when the last client that ran a process disconnected, 0: none did */
};

void mux_init(struct mux *m, struct conn *agent, uint32_t reserved_stream, const void *hello, size_t hello_len);
/* Returns 0, or -1 (errno). */
int mux_listen(struct mux *m, const char *path);
/* Closes and removes mux.sock: no new clients. */
void mux_stop_listening(struct mux *m);
void mux_accept(struct mux *m);
void mux_client_read(struct mux *m, struct mux_client *cl);
void mux_client_write(struct mux *m, struct mux_client *cl);
/* Frees clients that disconnected (call after a round of poll events). */
void mux_reap(struct mux *m);
/* Routes a frame of the agent for a stream that is not the init shim's. */
void mux_from_agent(struct mux *m, const struct vmrt_frame *f);
/* Sends an agent frame that belongs to no stream (EVENT) to every client. */
void mux_broadcast(struct mux *m, const struct vmrt_frame *f);
/* 1 when a client's output queue is so long that reading the agent should pause. */
int mux_congested(const struct mux *m);
/* 1 when no client waits for a process or for queued output. */
int mux_idle(const struct mux *m);
/* The init shim is about to exit: disconnects every client and waits (up to
 * timeout_ms) until the exec shims among them have exited. containerd 1.6
 * drops the exit of an exec that it learns of after the init's, and Docker's
 * `docker exec` then waits forever: the init shim goes last. */
void mux_outlive_exec_shims(struct mux *m, int timeout_ms);

#endif
