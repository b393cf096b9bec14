#include "clock.h"

#include <stdint.h>
#include <time.h>

int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int ms_until(int64_t deadline)
{
    if (deadline == 0) {
        return -1;
    }
    int64_t left = deadline - now_ms();
    if (left < 0) {
        return 0;
    }
    return left > INT32_MAX ? INT32_MAX : (int)left;
}
