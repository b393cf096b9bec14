/* The agent's tables of containers and processes: the stdio relay between
 * the host and each process, the setup reports of forked children, EXITs,
 * and OOM kills in the containers' cgroups. */
#include "processes.h"

#include "host.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

struct proc *procs;
struct container *containers;

struct proc *proc_by_stream(uint32_t stream)
{
    for (struct proc *p = procs; p; p = p->next) {
        if (p->stream == stream && p->phase != PROC_FAILED) return p;
    }
    return NULL;
}

struct proc *proc_by_pid(pid_t pid)
{
    for (struct proc *p = procs; p; p = p->next) {
        if (p->pid == pid) return p;
    }
    return NULL;
}

struct container *container_by_id(const char *id)
{
    for (struct container *c = containers; c; c = c->next) {
        if (!c->deleted && !strcmp(c->id, id)) return c;
    }
    return NULL;
}

void forget_if_deleted(struct container *c)
{
    if (!c->deleted || c->status != CONTAINER_STOPPED) {
        return;
    }
    for (struct proc *p = procs; p; p = p->next) {
        if (p->container == c) return;
    }
    for (struct container **cc = &containers; *cc; cc = &(*cc)->next) {
        if (*cc == c) {
            *cc = c->next;
            break;
        }
    }
    close_fd(&c->start_fd);
    free(c->id);
    free(c->seccomp);
    free(c);
}

const char *status_name(enum container_status s)
{
    switch (s) {
    case CONTAINER_CREATED: return "created";
    case CONTAINER_RUNNING: return "running";
    default: return "stopped";
    }
}

void close_fd(int *fd)
{
    if (*fd >= 0) {
        close(*fd);
        *fd = -1;
    }
}

static void close_stdin(struct proc *p)
{
    if (p->in_fd == p->out_fd) {
        p->in_fd = -1; /* the pty master stays open for output */
    } else {
        close_fd(&p->in_fd);
    }
    vmrt_buf_free(&p->in_buf);
}

static void close_output(struct proc *p, int *fd)
{
    if (*fd >= 0 && *fd == p->in_fd) {
        p->in_fd = -1;
        vmrt_buf_free(&p->in_buf);
    }
    close_fd(fd);
}

struct proc *new_proc(uint32_t stream, struct container *c, int is_init, int terminal)
{
    struct proc *p = calloc(1, sizeof *p);
    if (!p) {
        return NULL;
    }
    p->stream = stream;
    p->container = c;
    p->is_init = is_init;
    p->terminal = terminal;
    p->in_fd = p->out_fd = p->err_fd = p->sync_fd = -1;
    p->phase = PROC_SETUP;
    return p;
}

int open_stdio_pipes(struct proc *p, int child_fds[3])
{
    int pin[2], pout[2], perr[2];
    if (pipe2(pin, O_CLOEXEC) || pipe2(pout, O_CLOEXEC) || pipe2(perr, O_CLOEXEC)) {
        return -1;
    }
    child_fds[0] = pin[0];
    child_fds[1] = pout[1];
    child_fds[2] = perr[1];
    p->in_fd = pin[1];
    p->out_fd = pout[0];
    p->err_fd = perr[0];
    return 0;
}

void set_stdio_nonblocking(struct proc *p)
{
    int fds[3] = { p->in_fd, p->out_fd, p->err_fd };
    for (int i = 0; i < 3; i++) {
        if (fds[i] >= 0) fcntl(fds[i], F_SETFL, O_NONBLOCK);
    }
}

void proc_add(struct proc *p)
{
    p->next = procs;
    procs = p;
}

void free_proc(struct proc *p)
{
    for (struct proc **pp = &procs; *pp; pp = &(*pp)->next) {
        if (*pp == p) {
            *pp = p->next;
            break;
        }
    }
    close_stdin(p);
    close_output(p, &p->out_fd);
    close_output(p, &p->err_fd);
    close_fd(&p->sync_fd);
    free(p);
}

int pump_output(struct proc *p, int *fd, uint8_t type)
{
    static uint8_t buf[READ_CHUNK];
    ssize_t n = read(*fd, buf, sizeof buf);
    if (n > 0) {
        send_frame(type, p->stream, buf, (size_t)n);
        return 1;
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
        return 0;
    }
    /* EOF, or EIO from a pty master whose slave side is gone. */
    close_output(p, fd);
    return -1;
}

void drain_output(struct proc *p)
{
    while (p->out_fd >= 0 && pump_output(p, &p->out_fd, VMRT_STDOUT) > 0) {}
    while (p->err_fd >= 0 && pump_output(p, &p->err_fd, VMRT_STDERR) > 0) {}
}

void pump_stdin(struct proc *p)
{
    if (p->in_fd < 0) {
        return;
    }
    if (vmrt_buf_flush(&p->in_buf, p->in_fd) < 0) {
        close_stdin(p); /* EPIPE: the reader is gone */
        return;
    }
    if (p->in_close_pending && vmrt_buf_pending_len(&p->in_buf) == 0) {
        close_stdin(p);
    }
}

/* Tells the host about OOM kills in the container's cgroup since the last report. */
static void report_oom(struct container *c)
{
    uint64_t kills;
    if (cgroup_oom_kills(c->id, &kills) != 0 || kills <= c->oom_kills) {
        return;
    }
    c->oom_kills = kills;
    struct json_builder jb;
    json_builder_init(&jb);
    json_obj_begin(&jb);
    json_key(&jb, "type");
    json_str(&jb, "oom");
    json_key(&jb, "id");
    json_str(&jb, c->id);
    json_key(&jb, "oom_kills");
    json_uint(&jb, kills);
    json_obj_end(&jb);
    send_json(VMRT_EVENT, 0, &jb);
}

void read_inotify(void)
{
    char buf[4096];
    while (read(A.inotify, buf, sizeof buf) > 0) {}
    for (struct container *c = containers; c; c = c->next) {
        if (c->status != CONTAINER_STOPPED) report_oom(c);
    }
}

void report_setup(struct proc *p, const char *error)
{
    if (error) {
        respond_error(p->stream, "%s", error);
        p->phase = PROC_FAILED;
        kill(p->pid, SIGKILL);
        if (p->is_init && p->container) {
            p->container->status = CONTAINER_STOPPED;
            close_fd(&p->container->start_fd);
        }
        return;
    }
    struct json_builder jb;
    begin_ok(&jb);
    json_key(&jb, "pid");
    json_int(&jb, p->pid);
    finish_ok(p->stream, &jb);
    p->phase = PROC_RUNNING;
    if (p->is_init && p->container) {
        /* Its cgroup exists now: OOM kills from here on are reported. */
        cgroup_oom_kills(p->container->id, &p->container->oom_kills);
        cgroup_watch_events(A.inotify, p->container->id);
    }
}

/* Takes the pty master that a terminal child passes during setup. */
static void adopt_master(struct proc *p, int master)
{
    fcntl(master, F_SETFL, O_NONBLOCK);
    fcntl(master, F_SETFD, FD_CLOEXEC);
    p->in_fd = p->out_fd = master;
    pump_stdin(p); /* input that arrived during setup */
}

/* Reads the child's setup report until EOF: a create child sends 'R' when
 * ready, an exec child's socket closes at its execve, a terminal child first
 * sends 'M' with the pty master; anything else is an error text. */
void finish_setup(struct proc *p)
{
    for (;;) {
        char data[256];
        struct iovec iov = { data, sizeof data };
        union {
            struct cmsghdr align;
            char buf[CMSG_SPACE(sizeof(int))];
        } control;
        struct msghdr msg = {
            .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf, .msg_controllen = sizeof control.buf
        };
        ssize_t n = recvmsg(p->sync_fd, &msg, MSG_CMSG_CLOEXEC);
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
            return;
        }
        size_t skip = 0;
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); n > 0 && c; c = CMSG_NXTHDR(&msg, c)) {
            if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
                int master;
                memcpy(&master, CMSG_DATA(c), sizeof master);
                adopt_master(p, master);
                skip = 1; /* the 'M' carrier byte */
            }
        }
        if (n <= 0) {
            break;
        }
        size_t len = (size_t)n - skip;
        if (len > sizeof p->sync_msg - 1 - p->sync_len) {
            len = sizeof p->sync_msg - 1 - p->sync_len;
        }
        memcpy(p->sync_msg + p->sync_len, data + skip, len);
        p->sync_len += len;
    }
    close_fd(&p->sync_fd);
    p->sync_msg[p->sync_len] = '\0';
    int ok = p->is_init ? !strcmp(p->sync_msg, "R") : p->sync_len == 0;
    if (ok) {
        report_setup(p, NULL);
    } else {
        report_setup(p, p->sync_len ? p->sync_msg : "container init exited during setup");
    }
}

static void send_exit(struct proc *p, int wstatus)
{
    /* Everything the process wrote is in the pipe by now: send it first. */
    drain_output(p);
    int status, sig = 0;
    if (WIFSIGNALED(wstatus)) {
        sig = WTERMSIG(wstatus);
        status = 128 + sig;
    } else {
        status = WEXITSTATUS(wstatus);
    }
    struct json_builder jb;
    json_builder_init(&jb);
    json_obj_begin(&jb);
    json_key(&jb, "status");
    json_int(&jb, status);
    json_key(&jb, "signal");
    json_int(&jb, sig);
    json_obj_end(&jb);
    send_json(VMRT_EXIT, p->stream, &jb);
}

static void kill_all_of(pid_t pid, void *arg)
{
    (void)arg;
    kill(pid, SIGKILL);
}

void reap_children(void)
{
    struct signalfd_siginfo si;
    while (read(A.sigfd, &si, sizeof si) == sizeof si) {}
    int wstatus;
    pid_t pid;
    while ((pid = waitpid(-1, &wstatus, WNOHANG)) > 0) {
        struct container *ended = NULL;
        for (struct container *c = containers; c; c = c->next) {
            if (c->pid == pid) {
                if (c->pid_of) {
                    /* Not PID 1 of a namespace of its own: the rest outlives its init. */
                    cgroup_for_each_pid(c->id, kill_all_of, NULL);
                }
                c->status = CONTAINER_STOPPED;
                close_fd(&c->start_fd);
                report_oom(c); /* before the EXIT: the host learns why it died first */
                ended = c;
            }
        }
        struct proc *p = proc_by_pid(pid);
        if (p && p->sync_fd >= 0) {
            finish_setup(p);
        }
        if (p && p->phase == PROC_RUNNING) {
            send_exit(p, wstatus);
        }
        if (ended) {
            /* Once the EXIT is out: the removal of a cgroup keeps the guest kernel busy a while. */
            flush_out();
            cgroup_remove(ended->id);
        }
        if (!p) {
            continue; /* an orphan re-parented to PID 1 */
        }
        struct container *c = p->container;
        free_proc(p);
        if (c) forget_if_deleted(c);
    }
}
