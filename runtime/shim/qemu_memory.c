/* Both settings are inherited across fork and execve, so they reach the QEMU that this program
 * ends in (through nsenter, unshare, the jail's shell and setpriv).
 * --merge: QEMU marks a VM's RAM for the kernel's same-page merging (KSM) itself; its own memory
 * (heap, relocated data, TCG's tables) it does not. PR_SET_MEMORY_MERGE marks every mapping, so
 * QEMU is merged whole while the host runs KSM (README: Memory merging).
 * --no-huge-pages: QEMU asks for transparent huge pages on every RAM block; a ROM of 128 KiB (the
 * machine's BIOS) then holds a 2 MiB page. Under TCG no RAM gains from them (measured: the same
 * start and exec times), so it costs each VM 2 MiB for nothing. */
#include "qemu_memory.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#ifndef PR_SET_MEMORY_MERGE
#define PR_SET_MEMORY_MERGE 67
#endif

static int usage(void)
{
    fprintf(stderr, "usage: vmrt-shim qemu-memory [--merge] [--no-huge-pages] PROGRAM [ARG...]\n");
    return 2;
}

int qemu_memory_main(int argc, char **argv)
{
    bool merge = false, no_huge_pages = false;
    int i = 2;
    for (; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
        if (strcmp(argv[i], "--merge") == 0) {
            merge = true;
        } else if (strcmp(argv[i], "--no-huge-pages") == 0) {
            no_huge_pages = true;
        } else {
            return usage();
        }
    }
    if (i == argc) {
        return usage();
    }
    /* Linux before 6.4 has no such prctl (EINVAL), one without KSM neither: QEMU's own marking
     * of guest RAM is all there is then, as without this program. */
    if (merge && prctl(PR_SET_MEMORY_MERGE, 1, 0, 0, 0) != 0 && errno != EINVAL) {
        fprintf(stderr, "vmrt-shim qemu-memory: prctl(PR_SET_MEMORY_MERGE): %s\n", strerror(errno));
        return 1;
    }
    if (no_huge_pages && prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0) != 0) {
        fprintf(stderr, "vmrt-shim qemu-memory: prctl(PR_SET_THP_DISABLE): %s\n", strerror(errno));
        return 1;
    }
    execvp(argv[i], argv + i);
    fprintf(stderr, "vmrt-shim qemu-memory: %s: %s\n", argv[i], strerror(errno));
    return 127;
}
