/* Small file helpers for the agent and the shim: whole-file reads and writes (procfs, sysfs, cgroup
 * files), mkdir -p. */
#ifndef VMRT_FILE_H
#define VMRT_FILE_H

#include <sys/types.h>

struct vmrt_buf;

/* Writes `text` to the existing file `path` in one write: 0, or -1 with errno set. */
int write_text(const char *path, const char *text);

/* Reads at most len - 1 bytes of `path` in one read and NUL-terminates them: the byte
 * count, or -1 with errno set (buf is then left as it was). */
ssize_t read_file(const char *path, char *buf, size_t len);

/* Appends the whole of `path` to `out`, reading to end of file (a read interrupted by a
 * signal is retried): 0; -1 with errno set when the file cannot be opened; -2 with errno
 * set when a read fails (`out` then holds the bytes read before the failure). */
int read_all(const char *path, struct vmrt_buf *out);

/* mkdir -p (errors ignored: the following mount or open reports them). */
void mkdir_p(const char *path, mode_t mode);

#endif
