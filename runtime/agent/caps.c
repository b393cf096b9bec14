/* OCI process.capabilities: bounding, permitted, effective, inheritable and
 * ambient sets, applied around the uid change (no libcap in a static PID 1). */
#include "agent.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

/* <linux/capability.h> is not in musl's include path: the ABI is small. */
#define VMRT_CAP_VERSION_3 0x20080522
struct cap_header {
    uint32_t version;
    int pid;
};
struct cap_data {
    uint32_t effective, permitted, inheritable;
};

static const char *const cap_names[] = {
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
};
#define CAP_COUNT (int)(sizeof cap_names / sizeof *cap_names)

/* Bit mask of the names in a JSON array; unknown names are ignored, as runc
 * does with a warning. */
static uint64_t cap_mask(const struct json_doc *d, int list)
{
    uint64_t mask = 0;
    for (int t = json_first(d, list); t >= 0; t = json_next(d, list, t)) {
        for (int c = 0; c < CAP_COUNT; c++) {
            if (json_str_eq(d, t, cap_names[c])) {
                mask |= 1ull << c;
            }
        }
    }
    return mask;
}

static int last_cap(void)
{
    FILE *f = fopen("/proc/sys/kernel/cap_last_cap", "re");
    int last = CAP_COUNT - 1;
    if (f) {
        if (fscanf(f, "%d", &last) != 1) last = CAP_COUNT - 1;
        fclose(f);
    }
    return last;
}

int caps_before_user(const struct json_doc *d, int process, char *err, size_t errlen)
{
    int caps = json_get(d, process, "capabilities");
    if (!json_is(d, caps, JSON_OBJECT)) {
        return 0;
    }
    uint64_t bounding = cap_mask(d, json_get(d, caps, "bounding"));
    int last = last_cap();
    for (int c = 0; c <= last && c < 64; c++) {
        if (!(bounding & (1ull << c)) && prctl(PR_CAPBSET_DROP, c, 0, 0, 0) != 0 && errno != EINVAL) {
            snprintf(err, errlen, "drop capability %d from the bounding set: %s", c, strerror(errno));
            return -1;
        }
    }
    /* Keep the permitted set across setuid to a non-root user. */
    prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0);
    return 0;
}

int caps_after_user(const struct json_doc *d, int process, char *err, size_t errlen)
{
    int caps = json_get(d, process, "capabilities");
    if (!json_is(d, caps, JSON_OBJECT)) {
        return 0;
    }
    uint64_t eff = cap_mask(d, json_get(d, caps, "effective"));
    uint64_t perm = cap_mask(d, json_get(d, caps, "permitted"));
    uint64_t inh = cap_mask(d, json_get(d, caps, "inheritable"));
    uint64_t amb = cap_mask(d, json_get(d, caps, "ambient"));
    struct cap_header hdr = { VMRT_CAP_VERSION_3, 0 };
    struct cap_data data[2] = {
        { (uint32_t)eff, (uint32_t)perm, (uint32_t)inh },
        { (uint32_t)(eff >> 32), (uint32_t)(perm >> 32), (uint32_t)(inh >> 32) },
    };
    if (syscall(SYS_capset, &hdr, data) != 0) {
        snprintf(err, errlen, "capset: %s", strerror(errno));
        return -1;
    }
    for (int c = 0; c < CAP_COUNT; c++) {
        /* As runc: an ambient capability that cannot be raised (it is not in the
         * inheritable set, as in `runc spec`'s default) is skipped, not fatal. */
        if (amb & (1ull << c)) {
            prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, c, 0, 0);
        }
    }
    prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);
    return 0;
}
