/* The VM's serial console log (QEMU's `-serial file:`), kept small by the
 * init shim: a guest that writes to its serial port without end (root in a
 * privileged container can) must not fill the host's disk, or its RAM where
 * the runtime's state lives on tmpfs. QEMU writes the file at its own offset,
 * so the shim cannot shorten it; once it holds more than SERIAL_LOG_LIMIT it
 * punches a hole between the first SERIAL_LOG_HEAD bytes (the boot) and the
 * last SERIAL_LOG_TAIL: the blocks are freed, readers see zeros there. */
#ifndef VMRT_SHIM_SERIAL_LOG_H
#define VMRT_SHIM_SERIAL_LOG_H

#include <stdint.h>

#define SERIAL_LOG_LIMIT (1024 * 1024)
#define SERIAL_LOG_HEAD  (64 * 1024)
#define SERIAL_LOG_TAIL  (512 * 1024)

struct serial_log {
    const char *path; /* NULL: no log to keep */
    int fd;           /* opened once QEMU created the file */
    int64_t due;      /* next check */
};

void serial_log_init(struct serial_log *l, const char *path);
/* Milliseconds until the next check (for poll), -1 for none. */
int serial_log_timeout(const struct serial_log *l);
/* Checks the file when it is time, and punches the hole when it is too big. */
void serial_log_tick(struct serial_log *l);

#endif
