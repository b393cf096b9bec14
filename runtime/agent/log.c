/* The agent's log: lines on its stderr, which is the guest console (the VM's serial
 * output on the host). Apart from boot.c so that every file can log without
 * depending on the boot sequence. */
#include "agent.h"

#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

void log_msg(const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line - 1, fmt, ap);
    va_end(ap);
    if (n < 0) {
        return;
    }
    if ((size_t)n > sizeof line - 2) {
        n = sizeof line - 2;
    }
    line[n++] = '\n';
    (void)!write(2, "vmrt-agent: ", 12);
    (void)!write(2, line, (size_t)n);
}
