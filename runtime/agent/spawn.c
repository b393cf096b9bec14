/* Forking a container's processes: its init at create (in new mount, pid,
 * uts and ipc namespaces, and user when asked) or an exec'd process (in the init's namespaces),
 * the child's way from fork to execve, and the entry of a restored init. */
#include "processes.h"

#include "host.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

static void child_fail(int sync_fd, const char *err)
{
    (void)!write(sync_fd, err, strlen(err));
    _exit(127);
}

/* The agent's side of a new init, before the child builds its container: into its cgroup
 * (while the agent is root there: in a user namespace the child no longer is); with a user
 * namespace, its mappings, rlimits and OOM score (runc's order). Then the child may go on:
 * "M" on the sync socket, or why it may not. */
static void release_init(pid_t pid, const struct container *c, const struct json_doc *d, int spec, int sync_fd)
{
    char err[1024];
    int ok =
        cgroup_enter_new(c->id, pid, d, spec, err, sizeof err) == 0 &&
        (!userns_requested(d, spec) || (userns_write_mappings(pid, d, spec, err, sizeof err) == 0 &&
                                        process_limits(pid, d, json_get(d, spec, "process"), err, sizeof err) == 0));
    const char *answer = ok ? "M" : err;
    (void)!write(sync_fd, answer, strlen(answer));
}

/* The child's side: waits for release_init; then, in a user namespace, becomes its root. */
static int await_release(int sync_fd, const struct json_doc *d, int spec, char *err, size_t errlen)
{
    ssize_t n;
    while ((n = read(sync_fd, err, errlen - 1)) < 0 && errno == EINTR) {}
    if (n <= 0) FAIL("the agent did not release the container's init");
    err[n] = '\0';
    if (strcmp(err, "M") != 0) return -1;
    return userns_requested(d, spec) ? userns_become_root(err, errlen) : 0;
}

/* The child side of create/exec: stdio, the container work, then execve.
 * Reports on sync_fd and never returns. */
static void run_child(const struct json_doc *d, int tok, int is_init, int start_fd, int sync_fd, const int child_fds[3],
                      const struct container *c)
{
    char err[1024] = "";
    int process = is_init ? json_get(d, tok, "process") : tok;
    int terminal = child_fds[0] < 0;
    setsid();
    for (int i = 0; !terminal && i < 3; i++) {
        dup2(child_fds[i], i);
    }
    /* Drop every agent fd now: a create child waits for `start`, and must
     * not hold other processes' pipes open meanwhile. */
    for (int fd = 3; fd < 1024; fd++) {
        if (fd != sync_fd && fd != start_fd) close(fd);
    }
    if (is_init && ((c->ipc_of && join_namespace(c->ipc_of, "ipc", CLONE_NEWIPC, err, sizeof err) != 0) ||
                    (c->uts_of && join_namespace(c->uts_of, "uts", CLONE_NEWUTS, err, sizeof err) != 0))) {
        child_fail(sync_fd, err);
    }
    if (is_init && await_release(sync_fd, d, tok, err, sizeof err) != 0) {
        child_fail(sync_fd, err);
    }
    if (is_init ? child_create(d, tok, err, sizeof err) : join_container(c->id, c->pid, err, sizeof err)) {
        child_fail(sync_fd, err);
    }
    /* The pty comes from the container's own devpts, as with runc. */
    if (terminal && setup_terminal(d, process, sync_fd, err, sizeof err) != 0) {
        child_fail(sync_fd, err);
    }
    if (!is_init) {
        /* The container's seccomp filter applies to exec'd processes too. */
        struct json_doc seccomp;
        memset(&seccomp, 0, sizeof seccomp);
        if (c->seccomp && json_parse(&seccomp, c->seccomp, strlen(c->seccomp)) != 0) {
            child_fail(sync_fd, "seccomp: stored profile does not parse");
        }
        int no_start = -1;
        exec_process(d, process, &seccomp, c->seccomp ? 0 : -1, &no_start, err, sizeof err);
        child_fail(sync_fd, err);
    }
    (void)!write(sync_fd, "R", 1);
    close(sync_fd);
    exec_process(d, process, d, json_get(d, json_get(d, tok, "linux"), "seccomp"), &start_fd, err, sizeof err);
    /* A process that failed to start fails once started, not while created. */
    if (start_fd >= 0 && await_start(start_fd, NULL, 0) == 0) {
        _exit(0); /* never started */
    }
    dprintf(2, "vmrt: %s\n", err);
    _exit(127);
}

void spawn(uint32_t stream, struct container *c, const struct json_doc *d, int tok, int is_init)
{
    char err[512];
    int process = is_init ? json_get(d, tok, "process") : tok;
    int terminal = json_bool_value(d, json_get(d, process, "terminal"), 0);
    int child_fds[3] = { -1, -1, -1 };
    int sync[2] = { -1, -1 }, start[2] = { -1, -1 };
    struct proc *p = new_proc(stream, c, is_init, terminal);
    if (!p) {
        respond_error(stream, "out of memory");
        return;
    }
    if (!terminal && open_stdio_pipes(p, child_fds) != 0) {
        respond_error(stream, "pipe: %s", strerror(errno));
        free(p);
        return;
    }
    /* start: the agent writes "S"; the child's end closes at its execve, which tells the agent the
     * process runs (start returns then, and poststart hooks follow it, as the spec has it). */
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sync) != 0 ||
        (is_init && socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, start) != 0)) {
        respond_error(stream, "socketpair: %s", strerror(errno));
        goto fail;
    }

    pid_t pid;
    if (is_init) {
        /* fork() with new namespaces: the child is PID 1 of its own pid
         * namespace, as under runc; a pod container may share the ipc and pid
         * namespaces of another (it joins the ipc one itself). A user namespace
         * in the same clone is made first and owns the others. */
        if (c->pid_of && join_namespace(c->pid_of, "pid", CLONE_NEWPID, err, sizeof err) != 0) {
            respond_error(stream, "%s", err);
            goto fail;
        }
        unsigned long userns = userns_requested(d, tok) ? CLONE_NEWUSER : 0;
        unsigned long flags = CLONE_NEWNS | (c->uts_of ? 0 : CLONE_NEWUTS) | (c->ipc_of ? 0 : CLONE_NEWIPC) |
                              (c->pid_of ? 0 : CLONE_NEWPID);
        pid = (pid_t)syscall(SYS_clone, userns | flags | SIGCHLD, NULL, NULL, NULL, NULL);
        if (pid == 0) {
            close(sync[0]);
            run_child(d, tok, 1, start[0], sync[1], child_fds, c);
        }
        if (c->pid_of && setns(A.own_pidns, CLONE_NEWPID) != 0) {
            log_msg("restore pid namespace: %s", strerror(errno));
        }
        if (pid > 0) release_init(pid, c, d, tok, sync[0]);
    } else {
        /* setns(CLONE_NEWPID) only affects children: fork after it. */
        char path[64];
        snprintf(path, sizeof path, "/proc/%d/ns/pid", (int)c->pid);
        int nsfd = open(path, O_RDONLY | O_CLOEXEC);
        if (nsfd < 0 || setns(nsfd, CLONE_NEWPID) != 0) {
            respond_error(stream, "join pid namespace: %s", strerror(errno));
            if (nsfd >= 0) close(nsfd);
            goto fail;
        }
        close(nsfd);
        pid = fork();
        if (pid == 0) {
            close(sync[0]);
            run_child(d, tok, 0, -1, sync[1], child_fds, c);
        }
        /* Later children of the agent belong to the guest's namespace again. */
        if (setns(A.own_pidns, CLONE_NEWPID) != 0) {
            log_msg("restore pid namespace: %s", strerror(errno));
        }
    }
    if (pid < 0) {
        respond_error(stream, "fork: %s", strerror(errno));
        goto fail;
    }
    p->pid = pid;
    if (is_init) {
        c->pid = pid;
        c->start_fd = start[1];
        close(start[0]);
    }
    close(sync[1]);
    p->sync_fd = sync[0];
    fcntl(p->sync_fd, F_SETFL, O_NONBLOCK);
    for (int i = 0; i < 3; i++) {
        if (child_fds[i] >= 0) close(child_fds[i]);
    }
    set_stdio_nonblocking(p);
    proc_add(p);
    return;

fail:;
    int leftover[10] = { sync[0],   sync[1],   start[0],     start[1],     p->in_fd,
                         p->out_fd, p->err_fd, child_fds[0], child_fds[1], child_fds[2] };
    for (int i = 0; i < 10; i++) {
        if (leftover[i] >= 0) close(leftover[i]);
    }
    free(p);
}

void spawn_restored(uint32_t stream, struct container *c, const struct json_doc *d, int spec, const char *restore_json)
{
    char err[2048];
    int child_fds[3] = { -1, -1, -1 };
    struct proc *p = new_proc(stream, c, 1, 0);
    if (!p) {
        respond_error(stream, "out of memory");
        return;
    }
    if (open_stdio_pipes(p, child_fds) != 0) {
        respond_error(stream, "pipe: %s", strerror(errno));
        free(p);
        return;
    }
    pid_t pid = checkpoint_restore(c->id, d, spec, restore_json, child_fds, err, sizeof err);
    for (int i = 0; i < 3; i++) close(child_fds[i]);
    if (pid < 0) {
        respond_error(stream, "restore: %s", err);
        free_proc(p);
        return;
    }
    p->pid = c->pid = pid;
    c->status = CONTAINER_RUNNING;
    set_stdio_nonblocking(p);
    proc_add(p);
    report_setup(p, NULL);
}
