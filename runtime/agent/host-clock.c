/* The host's clock and a random seed, carried by every create request. A VM restored from a
 * template resumes with the template's clock and the template's random state, the same in
 * every VM made from it; a cold-booted guest reads its clock from the RTC, to the second. */
#include "agent.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

/* <linux/random.h> is not in musl's include path; the values are fixed kernel ABI. */
#define RNDADDENTROPY 0x40085203
#define RNDRESEEDCRNG 0x5207
#define SEED_BYTES    32

/* Only a clock that is off by more than this is set: setting it is a step for every timer. */
#define CLOCK_TOLERANCE_NS 1000000LL

static void set_clock(int64_t host_ns)
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    int64_t guest_ns = (int64_t)now.tv_sec * 1000000000LL + now.tv_nsec;
    if (llabs(guest_ns - host_ns) <= CLOCK_TOLERANCE_NS) {
        return;
    }
    struct timespec ts = { host_ns / 1000000000LL, host_ns % 1000000000LL };
    if (clock_settime(CLOCK_REALTIME, &ts) != 0) {
        log_msg("set the clock from the host: %s", strerror(errno));
    }
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

/* Mixes the host's seed into the guest's pool, credits it and reseeds the generator at once. */
static void add_seed(const char *hex)
{
    struct {
        int entropy_count;
        int buf_size;
        unsigned char buf[SEED_BYTES];
    } pool = { SEED_BYTES * 8, SEED_BYTES, { 0 } };
    if (strlen(hex) != SEED_BYTES * 2) {
        log_msg("the host's seed is not %d hex digits: ignored", SEED_BYTES * 2);
        return;
    }
    for (int i = 0; i < SEED_BYTES; i++) {
        int hi = hex_value(hex[2 * i]), lo = hex_value(hex[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            log_msg("the host's seed is not hex: ignored");
            return;
        }
        pool.buf[i] = (unsigned char)(hi << 4 | lo);
    }
    int fd = open("/dev/urandom", O_WRONLY | O_CLOEXEC);
    if (fd < 0 || ioctl(fd, RNDADDENTROPY, &pool) != 0 || ioctl(fd, RNDRESEEDCRNG) != 0) {
        log_msg("seed the guest's random generator: %s", strerror(errno));
    }
    if (fd >= 0) close(fd);
    memset(&pool, 0, sizeof pool);
}

void apply_host_clock_and_seed(const struct json_doc *d)
{
    int64_t host_ns;
    if (json_i64(d, json_get(d, 0, "realtimeNs"), &host_ns) == 0 && host_ns > 0) {
        set_clock(host_ns);
    }
    char *seed = json_get_strdup(d, 0, "seed", NULL);
    if (seed) {
        add_seed(seed);
        free(seed);
    }
}
