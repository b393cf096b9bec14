/* The container's user namespace (linux.namespaces entry of type "user",
 * linux.uidMappings/gidMappings), as runc makes it: the init is cloned into a
 * new user namespace together with its other namespaces (the kernel makes the
 * user namespace first, so it owns them); the agent, root outside, writes the
 * mappings before letting the child go on; the child then becomes the
 * namespace's root, and its mounts, capabilities and ids apply within it. */
#include "agent.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

int userns_requested(const struct json_doc *d, int spec)
{
    int list = json_get(d, json_get(d, spec, "linux"), "namespaces");
    for (int ns = json_first(d, list); ns >= 0; ns = json_next(d, list, ns)) {
        if (json_str_eq(d, json_get(d, ns, "type"), "user") && json_get(d, ns, "path") < 0) {
            return 1;
        }
    }
    return 0;
}

/* Writes one mapping list ("inside outside count" lines) to /proc/<pid>/<file>
 * in the single write the kernel requires. */
static int write_map(pid_t pid, const struct json_doc *d, int list, const char *file, char *err, size_t errlen)
{
    char text[4096] = "";
    size_t len = 0;
    for (int m = json_first(d, list); m >= 0; m = json_next(d, list, m)) {
        uint64_t inside, outside, size;
        if (json_u64(d, json_get(d, m, "containerID"), &inside) != 0 ||
            json_u64(d, json_get(d, m, "hostID"), &outside) != 0 || json_u64(d, json_get(d, m, "size"), &size) != 0) {
            FAIL("%s: an entry without containerID, hostID and size", file);
        }
        int n = snprintf(text + len, sizeof text - len, "%llu %llu %llu\n", (unsigned long long)inside,
                         (unsigned long long)outside, (unsigned long long)size);
        if (n < 0 || (size_t)n >= sizeof text - len) FAIL("%s: too many mappings", file);
        len += (size_t)n;
    }
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, file);
    if (write_text(path, text) != 0) FAIL("write %s (%s): %s", file, text, strerror(errno));
    return 0;
}

int userns_write_mappings(pid_t pid, const struct json_doc *d, int spec, char *err, size_t errlen)
{
    int linux_obj = json_get(d, spec, "linux");
    /* /proc/<pid>/setgroups stays "allow": the agent writing gid_map is root outside, so
     * setgroups(2) keeps working inside for process.user.additionalGids, as under runc. */
    if (write_map(pid, d, json_get(d, linux_obj, "uidMappings"), "uid_map", err, errlen) != 0) return -1;
    return write_map(pid, d, json_get(d, linux_obj, "gidMappings"), "gid_map", err, errlen);
}

int userns_become_root(char *err, size_t errlen)
{
    /* Born with the agent's ids (unmapped inside): root of the namespace from here on, so
     * what it creates belongs to the mapped root, and a later change to another uid drops
     * the capabilities as it would for root. */
    if (setgroups(0, NULL) != 0) FAIL("setgroups in the user namespace: %s", strerror(errno));
    if (setresgid(0, 0, 0) != 0) FAIL("setresgid 0 in the user namespace (gid 0 mapped?): %s", strerror(errno));
    if (setresuid(0, 0, 0) != 0) FAIL("setresuid 0 in the user namespace (uid 0 mapped?): %s", strerror(errno));
    /* The id change made it non-dumpable, which gives its /proc/self files to the host's root
     * (its memory was the agent's): dumpable again, they are its own, so it can set its
     * oom_score_adj and the like (runc does the same); its execve decides afresh. */
    if (prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) != 0) FAIL("PR_SET_DUMPABLE: %s", strerror(errno));
    return 0;
}

int userns_join(pid_t init_pid, char *err, size_t errlen)
{
    char path[64];
    struct stat theirs, ours;
    snprintf(path, sizeof path, "/proc/%d/ns/user", (int)init_pid);
    if (stat(path, &theirs) != 0 || stat("/proc/self/ns/user", &ours) != 0) {
        FAIL("stat %s: %s", path, strerror(errno));
    }
    if (theirs.st_ino == ours.st_ino && theirs.st_dev == ours.st_dev) {
        return 0; /* the container has no user namespace of its own */
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) FAIL("open %s: %s", path, strerror(errno));
    int rc = setns(fd, CLONE_NEWUSER);
    close(fd);
    if (rc != 0) FAIL("setns user: %s", strerror(errno));
    return userns_become_root(err, errlen);
}
