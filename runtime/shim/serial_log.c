/* See serial_log.h. */
#include "serial_log.h"
#include "clock.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "sys.h"

/* At 8250 speed under TCG (~400 KB/s) the file outgrows the limit by less than that between checks. */
#define CHECK_INTERVAL_MS 1000
#define BLOCK             4096

void serial_log_init(struct serial_log *l, const char *path)
{
    l->path = path;
    l->fd = -1;
    l->due = path ? now_ms() + CHECK_INTERVAL_MS : 0;
}

int serial_log_timeout(const struct serial_log *l)
{
    return l->path ? ms_until(l->due) : -1;
}

void serial_log_tick(struct serial_log *l)
{
    if (!l->path || now_ms() < l->due) {
        return;
    }
    l->due = now_ms() + CHECK_INTERVAL_MS;
    if (l->fd < 0) {
        l->fd = open(l->path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
        if (l->fd < 0) {
            return; /* QEMU has not created it yet */
        }
    }
    struct stat st;
    if (fstat(l->fd, &st) != 0 || (int64_t)st.st_blocks * 512 <= SERIAL_LOG_LIMIT) {
        return;
    }
    off_t end = (st.st_size - SERIAL_LOG_TAIL) / BLOCK * BLOCK;
    if (end <= SERIAL_LOG_HEAD) {
        return;
    }
    if (fallocate(l->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, SERIAL_LOG_HEAD, end - SERIAL_LOG_HEAD) != 0) {
        log_warning("cannot keep the VM's console log %s small: %m; no more tries", l->path);
        close(l->fd);
        l->fd = -1;
        l->path = NULL;
    }
}
