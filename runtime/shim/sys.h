/* The operating-system chores of the shim: fds, session, netns, signals,
 * unix sockets. */
#ifndef VMRT_SHIM_SYS_H
#define VMRT_SHIM_SYS_H

/* Closes every fd above 2 except `keep` (-1: none). Docker leaks its
 * listening socket as fd 3 into the runtime; a long-lived shim must not hold it. */
void close_fds_except(int keep);

/* Opens /dev/null on any of fds 0-2 that is closed, so that no socket or pty
 * of the shim's own lands there and gets taken for stdio. */
void stdio_ensure_open(void);

/* Makes the shim a session leader (a no-op when it already is one, as after
 * Node's spawn with detached: true). Returns 0 or -1 (errno). */
int become_session_leader(void);

/* setns(CLONE_NEWNET) into the namespace at path. Returns 0 or -1 (errno). */
int enter_netns(const char *path);

/* Blocks every signal the shim forwards or handles and returns a signalfd
 * that reports them; -1 on error. Dispositions are reset to the default
 * first: an inherited SIG_IGN would discard a signal before the fd sees it. */
int signals_open(void);
/* 1 for the signals that are forwarded to the guest process. */
int signal_is_forwarded(int sig);

/* Gives the shim its own non-blocking open file description for a stdio fd
 * where it can (pipes, ttys), so that O_NONBLOCK does not leak to other
 * holders of the same pipe or terminal. Regular files stay as they are. */
void stdio_make_nonblocking(int fd);
void fd_set_nonblocking(int fd);

/* Connected, non-blocking unix stream socket; -1 (errno) when the path is
 * too long or connect fails. */
int unix_connect(const char *path);
/* The same, blocking. */
int unix_connect_blocking(const char *path);
/* Listening, non-blocking unix stream socket at path (a stale socket file is
 * replaced); -1 on error. */
int unix_listen(const char *path);

#endif
