/* QEMU marks a VM's RAM for the kernel's same-page merging (KSM) itself; its own memory (heap,
 * relocated data, TCG's tables) it does not. PR_SET_MEMORY_MERGE marks every mapping of this
 * process and of what it execs and forks, so the QEMU it ends in (through unshare, the jail's
 * shell and setpriv) is merged whole while the host runs KSM (README: Memory merging). */
#include "merge_memory.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#ifndef PR_SET_MEMORY_MERGE
#define PR_SET_MEMORY_MERGE 67
#endif

int merge_memory_main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: vmrt-shim merge-memory PROGRAM [ARG...]\n");
        return 2;
    }
    /* Linux before 6.4 has no such prctl (EINVAL), one without KSM neither: QEMU's own marking
     * of guest RAM is all there is then, as without this program. */
    if (prctl(PR_SET_MEMORY_MERGE, 1, 0, 0, 0) != 0 && errno != EINVAL) {
        fprintf(stderr, "vmrt-shim merge-memory: prctl(PR_SET_MEMORY_MERGE): %s\n", strerror(errno));
        return 1;
    }
    execvp(argv[2], argv + 2);
    fprintf(stderr, "vmrt-shim merge-memory: %s: %s\n", argv[2], strerror(errno));
    return 127;
}
