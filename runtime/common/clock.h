/* Deadlines in monotonic milliseconds, for the poll() loops of the agent and the shim. */
#ifndef VMRT_CLOCK_H
#define VMRT_CLOCK_H

#include <stdint.h>

/* Monotonic milliseconds. */
int64_t now_ms(void);
/* Milliseconds until deadline, clamped to [0, INT32_MAX]; -1 for no deadline (0). */
int ms_until(int64_t deadline);

#endif
