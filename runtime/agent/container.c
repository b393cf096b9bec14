/* Building a container (its cgroup, namespaces' contents, root filesystem)
 * and joining one for exec. Everything here runs in a forked child of the
 * agent; errors are returned as messages, which the caller sends to the
 * agent over the setup socket. */
#include "agent.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void apply_sysctls(const struct json_doc *d, int spec, int network)
{
    int sysctl = json_get(d, json_get(d, spec, "linux"), "sysctl");
    for (int k = json_first(d, sysctl); k >= 0; k = json_next(d, sysctl, k)) {
        char *key = json_strdup(d, k);
        char *value = json_strdup(d, k + 1);
        if (key && value && !strstr(key, "..") && !strncmp(key, "net.", 4) == !!network) {
            char path[4096];
            snprintf(path, sizeof path, "/proc/sys/%s", key);
            for (char *p = path + 10; *p; p++) {
                if (*p == '.') *p = '/';
            }
            if (write_text(path, value) != 0) {
                log_msg("sysctl %s: %s", key, strerror(errno));
            }
        }
        free(key);
        free(value);
    }
}

int child_create(const struct json_doc *d, int spec, char *err, size_t errlen)
{
    /* A cgroup namespace rooted at its cgroup (spawn put it there), so the
     * container's cgroup2 mount shows its own limits at the top. */
    if (unshare(CLONE_NEWCGROUP) != 0) {
        FAIL("cgroup namespace: %s", strerror(errno));
    }
    if (rootfs_prepare(d, spec, err, errlen) != 0) {
        return -1;
    }
    apply_sysctls(d, spec, 0); /* the network's went in with the network (ops.c) */
    if (rootfs_mask_paths(d, spec, err, errlen) != 0) {
        return -1;
    }
    char *hostname = json_get_strdup(d, spec, "hostname", NULL);
    if (hostname && sethostname(hostname, strlen(hostname)) != 0) {
        FAIL("sethostname: %s", strerror(errno));
    }
    free(hostname);
    if (rootfs_finalize(d, spec, err, errlen) != 0) {
        return -1;
    }
    /* Fail at create (as runc does) when the program cannot be found. */
    return process_check(d, json_get(d, spec, "process"), err, errlen);
}

int join_namespace(pid_t pid, const char *kind, int nstype, char *err, size_t errlen)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/ns/%s", (int)pid, kind);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        FAIL("open %s: %s", path, strerror(errno));
    }
    int rc = setns(fd, nstype);
    close(fd);
    if (rc != 0) {
        FAIL("setns %s: %s", path, strerror(errno));
    }
    return 0;
}

int join_container(const char *id, pid_t init_pid, char *err, size_t errlen)
{
    if (cgroup_enter(id, err, errlen) != 0) {
        return -1;
    }
    static const char *kinds[] = { "cgroup", "ipc", "uts", "mnt" };
    int fds[4];
    for (int i = 0; i < 4; i++) {
        char path[64];
        snprintf(path, sizeof path, "/proc/%d/ns/%s", (int)init_pid, kinds[i]);
        fds[i] = open(path, O_RDONLY | O_CLOEXEC);
        if (fds[i] < 0) {
            FAIL("open %s: %s", path, strerror(errno));
        }
    }
    if (userns_join(init_pid, err, errlen) != 0) {
        return -1;
    }
    for (int i = 0; i < 4; i++) {
        if (setns(fds[i], 0) != 0) {
            FAIL("setns %s: %s", kinds[i], strerror(errno));
        }
        close(fds[i]);
    }
    return 0;
}
