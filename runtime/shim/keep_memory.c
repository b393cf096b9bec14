/* A VM template's RAM as a sealed memfd. Every VM restored from the template maps it privately,
 * and QEMU 7.2 opens its RAM file read-write even so: with a plain file, a QEMU taken over could
 * write the pages that the other VMs of the template have not written yet. Once the template VM
 * has saved itself, the memfd is sealed against writes, resizing and hole punching (F_SEAL_WRITE
 * leaves private mappings writable, copy-on-write), so no QEMU can change it, whatever it opens.
 * A memfd lives while something holds it: this process does, until it is signalled.
 *
 * Protocol on stdin/stdout: it prints "fd N" (the memfd, for /proc/PID/fd/N); a line "seal"
 * seals it and it prints "sealed"; then it holds the memfd and nothing else. Stdin's end before
 * "seal" (the template's maker failed) ends it. */
#include "keep_memory.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define SEALS (F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL)

static int fail(const char *what)
{
    fprintf(stderr, "vmrt-shim keep-memory: %s: %s\n", what, strerror(errno));
    return 1;
}

int keep_memory_main(int argc, char **argv)
{
    static const struct option longopts[] = { { "size", required_argument, NULL, 's' }, { 0, 0, 0, 0 } };
    long long size = 0;
    char *end = NULL;
    optind = 2;
    int ch;
    while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        if (ch != 's') {
            return 2;
        }
        size = strtoll(optarg, &end, 10);
    }
    if (size <= 0 || !end || *end != '\0' || optind != argc) {
        fprintf(stderr, "usage: vmrt-shim keep-memory --size BYTES\n");
        return 2;
    }
    int fd = memfd_create("vmrt-template", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0) {
        return fail("memfd_create");
    }
    if (ftruncate(fd, (off_t)size) != 0) {
        return fail("ftruncate");
    }
    printf("fd %d\n", fd);
    fflush(stdout);
    char line[32];
    if (!fgets(line, sizeof line, stdin) || strcmp(line, "seal\n") != 0) {
        fprintf(stderr, "vmrt-shim keep-memory: no \"seal\" on stdin: the template was not made\n");
        return 1;
    }
    if (fcntl(fd, F_ADD_SEALS, SEALS) != 0) {
        return fail("sealing the memfd");
    }
    printf("sealed\n");
    fflush(stdout);
    /* Nothing of its maker's stays open: it holds the memfd alone. */
    int null = open("/dev/null", O_RDWR | O_CLOEXEC);
    for (int std = 0; std <= 2 && null >= 0; std++) {
        dup2(null, std);
    }
    for (;;) {
        pause();
    }
}
