/* The host's clock and a random seed, carried by every create request. A VM restored from a
 * template resumes with the template's clock and the template's random state, the same in
 * every VM made from it; a cold-booted guest reads its clock from the RTC, to the second.
 * So is the mmap layout that the VM's processes may share: drawn again at every create. */
#include "agent.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/random.h>
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

/* kernel-patches/x86-mmap-layout-shared-by-a-vm.patch: nonzero, the random part of every new
 * process's mmap base and PIE address; 0, one per process (Linux's way). */
#define MMAP_RND_SHARED "/proc/sys/vm/mmap_rnd_shared"

/* Under emulation, QEMU finds translated code by virtual address: processes that map their
 * libraries where the others did run the code already translated (README: The shared mmap layout).
 * Drawn after the host's seed, so every VM made from a template gets a layout of its own. */
void apply_mmap_layout(const struct json_doc *d, int spec)
{
    int shared = json_str_eq(d, json_get(d, json_get(d, spec, "annotations"), SHARED_MMAP_LAYOUT_ANNOTATION), "on");
    unsigned long value = 0;
    while (shared && value == 0) {
        if (getrandom(&value, sizeof value, 0) != (ssize_t)sizeof value) {
            log_msg("a shared mmap layout: getrandom: %s; one per process instead", strerror(errno));
            value = 0;
            break;
        }
    }
    int fd = open(MMAP_RND_SHARED, O_WRONLY | O_CLOEXEC);
    if (fd < 0) {
        /* A kernel without the patch (VMRT_GUEST_KERNEL=debian) randomizes per process. */
        if (shared) log_msg("a shared mmap layout: %s: %s", MMAP_RND_SHARED, strerror(errno));
        return;
    }
    char text[32];
    int n = snprintf(text, sizeof text, "%lu\n", value);
    if (write(fd, text, (size_t)n) != n) {
        log_msg("a shared mmap layout: write %s: %s", MMAP_RND_SHARED, strerror(errno));
    }
    close(fd);
}
