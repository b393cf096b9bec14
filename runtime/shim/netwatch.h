/* The init shim's watch on its network namespace: `docker network connect`
 * and `disconnect` move a veth into or out of the container's netns and call
 * no runtime. The shim (in that netns, alive as long as the container)
 * listens to rtnetlink link and address events and, once they have been quiet
 * for a moment, runs the command of --network-sync (`vmrt network-sync`),
 * which moves the change into the VM. One run at a time; changes seen during
 * a run cause one more run after it. */
#ifndef VMRT_SHIM_NETWATCH_H
#define VMRT_SHIM_NETWATCH_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct netwatch {
    int fd;         /* rtnetlink socket; -1: not watching */
    int home_netns; /* the netns the shim started in: the sync runs there, not in the container's */
    char **argv;    /* the sync command */
    pid_t child;    /* the running sync, 0: none */
    int child_fd;   /* its pidfd (readable once it exited), -1: none */
    int64_t due;    /* when the next sync starts, 0: none due */
};

/* Reads the argv (a JSON array of strings) from `argv_file` and subscribes
 * to the events of the calling process's netns; the sync command runs in
 * `home_netns` (an fd, kept). Returns 0, or -1 with err. */
int netwatch_open(struct netwatch *w, const char *argv_file, int home_netns, char *err, size_t errlen);
/* Drains the socket; any link or address change makes a sync due. */
void netwatch_read(struct netwatch *w);
/* Reaps a finished sync and starts a due one. Call after every poll round. */
void netwatch_tick(struct netwatch *w);
/* Poll timeout (ms) until the next due sync, -1 for none. */
int netwatch_timeout(const struct netwatch *w);

#endif
