/* Small whole-file reads and writes (procfs, sysfs, cgroup files), shared by the agent and the shim. */
#ifndef VMRT_FILE_H
#define VMRT_FILE_H

#include <sys/types.h>

/* Writes `text` to the existing file `path` in one write: 0, or -1 with errno set. */
int write_text(const char *path, const char *text);

/* Reads at most len - 1 bytes of `path` in one read and NUL-terminates them: the byte
 * count, or -1 with errno set (buf is then left as it was). */
ssize_t read_file(const char *path, char *buf, size_t len);

#endif
