/* Small whole-file writes (procfs, sysfs, cgroup files), shared by the agent and the shim. */
#ifndef VMRT_FILE_H
#define VMRT_FILE_H

/* Writes `text` to the existing file `path` in one write: 0, or -1 with errno set. */
int write_text(const char *path, const char *text);

#endif
