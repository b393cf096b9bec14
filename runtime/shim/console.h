/* The container's terminal on the host side (process.terminal with
 * --console-socket), as runc does it: the pty master goes to whoever listens on
 * the console socket (containerd), the slave becomes the shim's controlling
 * terminal and its stdio, and the shim relays the slave to the guest's pty. */
#ifndef VMRT_SHIM_CONSOLE_H
#define VMRT_SHIM_CONSOLE_H

#include <stddef.h>

/* Opens a pty, sends its master over the console socket (payload: the pty
 * name, ancillary data: exactly one SCM_RIGHTS fd), makes the slave the
 * controlling tty of the shim (which must be a session leader), puts it in
 * raw mode (the guest's pty does the line discipline) and onto fds 0, 1, 2.
 * Returns 0, or -1 with a message in err. */
int console_setup(const char *socket_path, char *err, size_t errlen);

/* The terminal's size; 0 or -1. */
int console_size(int fd, unsigned *rows, unsigned *cols);

#endif
