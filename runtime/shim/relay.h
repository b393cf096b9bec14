/* The stdio of the one guest process a shim stands in for: the shim's stdin
 * becomes STDIN frames (EOF: STDIN_CLOSE), STDOUT/STDERR frames go to the
 * shim's fd 1 and 2 through queues (non-blocking: a full output pipe never
 * stops stdin), EXIT ends it. With a console, fds 0-2 are all the pty slave. */
#ifndef VMRT_SHIM_RELAY_H
#define VMRT_SHIM_RELAY_H

#include <stdint.h>

#include "conn.h"

struct relay {
    uint32_t stream;
    int console;
    int in_fd;  /* -1 after EOF */
    int out_fd; /* -1 after a write error: later output is dropped */
    int err_fd;
    struct vmrt_buf out_q;
    struct vmrt_buf err_q; /* unused with a console: everything goes to out_q */
    int exited;
    int status; /* exit status for the shim, 0-255 */
};

void relay_init(struct relay *r, uint32_t stream, int console);
/* Reads the shim's stdin once and forwards it on up. */
void relay_read_stdin(struct relay *r, struct conn *up);
/* Writes what fd 1 (which = 1) or fd 2 (which = 2) takes. */
void relay_write(struct relay *r, int which);
/* Takes a STDOUT, STDERR or EXIT frame of the relay's stream. */
void relay_output(struct relay *r, const struct vmrt_frame *f);
/* Sends the console's current size as RESIZE (no-op without a console). */
void relay_send_size(struct relay *r, struct conn *up);
/* 1 when all output reached fds 1 and 2 (or they failed). */
int relay_flushed(const struct relay *r);
/* 1 when so much output waits that reading more should pause. */
int relay_congested(const struct relay *r);

#endif
