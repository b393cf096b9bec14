/* Diagnostics of the shim: logrus-style JSON lines in --log (what containerd's
 * runc shim shows the user is the last "error" line), plus a plain message on
 * stderr for the fatal ones. */
#ifndef VMRT_SHIM_LOG_H
#define VMRT_SHIM_LOG_H

/* Opens (appends to) the --log file; without it, messages only go to stderr. */
void log_open(const char *path);

void log_warning(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Logs an error and prints "vmrt-shim: <message>" on stderr. */
void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
