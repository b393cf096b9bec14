/* The agent's event loop: one virtio-serial port to the host, the stdio of
 * every container process, SIGCHLD through a signalfd. Nothing here blocks
 * on a process or on the host. */
#include "agent.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

/* Above this much unsent output, process output is not read (back-pressure
 * towards the processes instead of unbounded memory). */
#define OUT_HIGH_WATER (4u * 1024u * 1024u)
#define READ_CHUNK     65536

static struct {
    int port;
    int connected;
    struct vmrt_reader in;
    struct vmrt_buf out;
    int sigfd;
    int inotify; /* the containers' memory.events, for OOM kills */
    int own_pidns;
    int dns;
    struct proc *procs;
    struct container *containers;
    char kernel[65];
} A;

/* ---------- sending ---------- */

static void send_frame(uint8_t type, uint32_t stream, const void *payload, size_t len)
{
    vmrt_frame_append(&A.out, type, stream, payload, len);
}

static void send_json(uint8_t type, uint32_t stream, struct json_builder *jb)
{
    send_frame(type, stream, vmrt_buf_pending(&jb->out), vmrt_buf_pending_len(&jb->out));
    json_builder_free(jb);
}

static void respond_error(uint32_t stream, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void respond_error(uint32_t stream, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    vmrt_append_error(&A.out, stream, msg);
}

/* Starts {"ok":true ...; the caller adds fields and calls finish_ok. */
static void begin_ok(struct json_builder *jb)
{
    json_builder_init(jb);
    json_obj_begin(jb);
    json_key(jb, "ok");
    json_bool(jb, 1);
}

static void finish_ok(uint32_t stream, struct json_builder *jb)
{
    json_obj_end(jb);
    send_json(VMRT_RESPONSE, stream, jb);
}

static void respond_ok(uint32_t stream)
{
    struct json_builder jb;
    begin_ok(&jb);
    finish_ok(stream, &jb);
}

static void send_hello(void)
{
    struct json_builder jb;
    json_builder_init(&jb);
    json_obj_begin(&jb);
    json_key(&jb, "version");
    json_int(&jb, VMRT_PROTO_VERSION);
    json_key(&jb, "kernel");
    json_str(&jb, A.kernel);
    json_key(&jb, "agent");
    json_str(&jb, AGENT_VERSION);
    json_obj_end(&jb);
    send_json(VMRT_HELLO, 0, &jb);
}

static void flush_out(void)
{
    if (A.connected && vmrt_buf_flush(&A.out, A.port) < 0 && errno != EPIPE) {
        log_msg("write to host: %s", strerror(errno));
    }
}

/* ---------- processes ---------- */

static struct proc *proc_by_stream(uint32_t stream)
{
    for (struct proc *p = A.procs; p; p = p->next) {
        if (p->stream == stream && p->phase != PROC_FAILED) return p;
    }
    return NULL;
}

static struct proc *proc_by_pid(pid_t pid)
{
    for (struct proc *p = A.procs; p; p = p->next) {
        if (p->pid == pid) return p;
    }
    return NULL;
}

static struct container *container_by_id(const char *id)
{
    for (struct container *c = A.containers; c; c = c->next) {
        if (!strcmp(c->id, id)) return c;
    }
    return NULL;
}

static void close_fd(int *fd)
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

static void free_proc(struct proc *p)
{
    for (struct proc **pp = &A.procs; *pp; pp = &(*pp)->next) {
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

/* Reads once from a process output fd into a frame. Returns 1 if data came,
 * 0 if nothing is available now, -1 at EOF (fd closed). */
static int pump_output(struct proc *p, int *fd, uint8_t type)
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

static void pump_stdin(struct proc *p)
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

static void read_inotify(void)
{
    char buf[4096];
    while (read(A.inotify, buf, sizeof buf) > 0) {}
    for (struct container *c = A.containers; c; c = c->next) {
        if (c->status != CONTAINER_STOPPED) report_oom(c);
    }
}

static void report_setup(struct proc *p, const char *error)
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
static void finish_setup(struct proc *p)
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
    while (p->out_fd >= 0 && pump_output(p, &p->out_fd, VMRT_STDOUT) > 0) {}
    while (p->err_fd >= 0 && pump_output(p, &p->err_fd, VMRT_STDERR) > 0) {}
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

static void reap_children(void)
{
    struct signalfd_siginfo si;
    while (read(A.sigfd, &si, sizeof si) == sizeof si) {}
    int wstatus;
    pid_t pid;
    while ((pid = waitpid(-1, &wstatus, WNOHANG)) > 0) {
        for (struct container *c = A.containers; c; c = c->next) {
            if (c->pid == pid) {
                c->status = CONTAINER_STOPPED;
                close_fd(&c->start_fd);
                report_oom(c); /* before the EXIT: the host learns why it died first */
                cgroup_remove(c->id);
            }
        }
        struct proc *p = proc_by_pid(pid);
        if (!p) {
            continue; /* an orphan re-parented to PID 1 */
        }
        if (p->sync_fd >= 0) {
            finish_setup(p);
        }
        if (p->phase == PROC_RUNNING) {
            send_exit(p, wstatus);
        }
        free_proc(p);
    }
}

static void child_fail(int sync_fd, const char *err)
{
    (void)!write(sync_fd, err, strlen(err));
    _exit(127);
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
    if (is_init ? child_create(c->id, d, tok, err, sizeof err) : join_container(c->id, c->pid, err, sizeof err)) {
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
        exec_process(d, process, &seccomp, c->seccomp ? 0 : -1, err, sizeof err);
        child_fail(sync_fd, err);
    }
    (void)!write(sync_fd, "R", 1);
    close(sync_fd);
    char b;
    ssize_t n;
    while ((n = read(start_fd, &b, 1)) < 0 && errno == EINTR) {}
    if (n != 1) {
        _exit(0); /* never started */
    }
    exec_process(d, process, d, json_get(d, json_get(d, tok, "linux"), "seccomp"), err, sizeof err);
    dprintf(2, "vmrt: %s\n", err);
    _exit(127);
}

/* Forks a container init (is_init: tok is the spec) or an exec process
 * (tok is the process) in container c. The answer follows when the child
 * reports. */
static struct proc *new_proc(uint32_t stream, struct container *c, int is_init, int terminal)
{
    struct proc *p = calloc(1, sizeof *p);
    p->stream = stream;
    p->container = c;
    p->is_init = is_init;
    p->terminal = terminal;
    p->in_fd = p->out_fd = p->err_fd = p->sync_fd = -1;
    p->phase = PROC_SETUP;
    return p;
}

/* Stdio pipes: the agent's ends in p, the process's in child_fds. */
static int open_stdio_pipes(struct proc *p, int child_fds[3])
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

static void set_stdio_nonblocking(struct proc *p)
{
    int fds[3] = { p->in_fd, p->out_fd, p->err_fd };
    for (int i = 0; i < 3; i++) {
        if (fds[i] >= 0) fcntl(fds[i], F_SETFL, O_NONBLOCK);
    }
}

static void spawn(uint32_t stream, struct container *c, const struct json_doc *d, int tok, int is_init)
{
    int process = is_init ? json_get(d, tok, "process") : tok;
    int terminal = json_bool_value(d, json_get(d, process, "terminal"), 0);
    int child_fds[3] = { -1, -1, -1 };
    int sync[2] = { -1, -1 }, start[2] = { -1, -1 };
    struct proc *p = new_proc(stream, c, is_init, terminal);

    if (!terminal && open_stdio_pipes(p, child_fds) != 0) {
        respond_error(stream, "pipe: %s", strerror(errno));
        free(p);
        return;
    }
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sync) != 0 || (is_init && pipe2(start, O_CLOEXEC) != 0)) {
        respond_error(stream, "socketpair: %s", strerror(errno));
        goto fail;
    }

    pid_t pid;
    if (is_init) {
        /* fork() with new namespaces: the child is PID 1 of its own pid
         * namespace, as under runc. */
        pid = (pid_t)syscall(SYS_clone, CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWIPC | SIGCHLD, NULL, NULL,
                             NULL, NULL);
        if (pid == 0) {
            close(sync[0]);
            run_child(d, tok, 1, start[0], sync[1], child_fds, c);
        }
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
    p->next = A.procs;
    A.procs = p;
    return;

fail:;
    int leftover[10] = { sync[0],   sync[1],   start[0],     start[1],     p->in_fd,
                         p->out_fd, p->err_fd, child_fds[0], child_fds[1], child_fds[2] };
    for (int i = 0; i < 10; i++) {
        if (leftover[i] >= 0) close(leftover[i]);
    }
    free(p);
}

/* ---------- requests ---------- */

struct kill_args {
    int sig;
};

static void kill_one(pid_t pid, void *arg)
{
    kill(pid, ((struct kill_args *)arg)->sig);
}

static const char *status_name(enum container_status s)
{
    switch (s) {
    case CONTAINER_CREATED: return "created";
    case CONTAINER_RUNNING: return "running";
    default: return "stopped";
    }
}

/* A create whose spec carries RESTORE_ANNOTATION: CRIU brings back the
 * checkpointed processes, running, with new stdio pipes on `stream`. */
static void restore(uint32_t stream, struct container *c, const struct json_doc *d, int spec, const char *restore_json)
{
    char err[2048];
    int child_fds[3] = { -1, -1, -1 };
    struct proc *p = new_proc(stream, c, 1, 0);
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
    p->next = A.procs;
    A.procs = p;
    report_setup(p, NULL);
}

/* Dumps the container's processes (they end unless leaveRunning). Refuses
 * what the restore could not reconnect: a terminal, exec'd processes. */
static void checkpoint(uint32_t stream, struct container *c, const struct json_doc *d)
{
    struct proc *init = proc_by_pid(c->pid);
    char err[2048];
    if (c->status != CONTAINER_RUNNING || !init) {
        respond_error(stream, "container \"%s\" is %s, not running", c->id, status_name(c->status));
        return;
    }
    if (init->terminal) {
        respond_error(stream, "container \"%s\" has a terminal: vmrt checkpoints only containers whose stdio are pipes",
                      c->id);
        return;
    }
    for (struct proc *p = A.procs; p; p = p->next) {
        if (p->container == c && !p->is_init && p->phase != PROC_FAILED) {
            respond_error(stream,
                          "container \"%s\" runs an exec'd process (pid %d): checkpoint it when only its init's "
                          "process tree runs",
                          c->id, (int)p->pid);
            return;
        }
    }
    /* What was written so far goes to the current logs, not into the images. */
    while (init->out_fd >= 0 && pump_output(init, &init->out_fd, VMRT_STDOUT) > 0) {}
    while (init->err_fd >= 0 && pump_output(init, &init->err_fd, VMRT_STDERR) > 0) {}
    flush_out();
    if (checkpoint_dump(c->pid, d, err, sizeof err) != 0) {
        respond_error(stream, "%s", err);
    } else {
        respond_ok(stream);
    }
}

/* The container shares the guest's network: set it up from the host's
 * annotation before the container starts. Returns 0 after answering an error. */
static int configure_network(uint32_t stream, const struct json_doc *d, int spec)
{
    char *net = json_get_strdup(d, json_get(d, spec, "annotations"), NETWORK_ANNOTATION, NULL);
    char err[512];
    int ok = !net || network_apply(net, err, sizeof err) == 0;
    if (!ok) {
        respond_error(stream, "guest network: %s", err);
    }
    free(net);
    return ok;
}

/* network-add / network-remove: NICs plugged into or out of the running VM. */
static void handle_network(uint32_t stream, const struct json_doc *d, int op)
{
    char *net = json_get_strdup(d, 0, "network", NULL);
    char err[512];
    int adding = json_str_eq(d, op, "network-add");
    /* The host asks again while a hot-plugged NIC is still being probed. */
    int present = net && adding ? network_present(net) : 1;
    if (!net || present < 0) {
        respond_error(stream, "%s needs a network (a JSON string, as org.vmrt.network)",
                      adding ? "network-add" : "network-remove");
    } else if (present && (adding ? network_apply(net, err, sizeof err) : network_remove(net, err, sizeof err)) != 0) {
        respond_error(stream, "guest network: %s", err);
    } else if (!adding) {
        respond_ok(stream);
    } else {
        struct json_builder jb;
        begin_ok(&jb);
        json_key(&jb, "present");
        json_bool(&jb, present);
        finish_ok(stream, &jb);
    }
    free(net);
}

static void handle_request(uint32_t stream, const struct json_doc *d)
{
    int op = json_get(d, 0, "op");
    char *id = json_get_strdup(d, 0, "id", NULL);
    struct container *c = id ? container_by_id(id) : NULL;
    int needs_container = json_str_eq(d, op, "start") || json_str_eq(d, op, "exec") || json_str_eq(d, op, "signal") ||
                          json_str_eq(d, op, "ps") || json_str_eq(d, op, "update") || json_str_eq(d, op, "stats") ||
                          json_str_eq(d, op, "checkpoint");

    if (needs_container && !c) {
        respond_error(stream, "container \"%s\" does not exist", id ? id : "");
    } else if (json_str_eq(d, op, "create")) {
        int spec = json_get(d, 0, "spec");
        if (!id || !id[0] || strchr(id, '/') || !strcmp(id, ".") || !strcmp(id, "..")) {
            respond_error(stream, "create needs an id without '/'");
        } else if (c) {
            respond_error(stream, "container \"%s\" already exists", id);
        } else if (!json_is(d, spec, JSON_OBJECT)) {
            respond_error(stream, "create needs a spec object");
        } else if (stream == 0 || proc_by_stream(stream)) {
            respond_error(stream, "stream %u is not free for a process", stream);
        } else if (!configure_network(stream, d, spec)) {
            /* answered */
        } else {
            if (A.dns < 0 && dns_wanted(d, spec)) A.dns = dns_open();
            c = calloc(1, sizeof *c);
            c->id = strdup(id);
            int seccomp = json_get(d, json_get(d, spec, "linux"), "seccomp");
            if (json_is(d, seccomp, JSON_OBJECT)) {
                const struct json_tok *t = &d->toks[seccomp];
                c->seccomp = strndup(d->src + t->start, t->end - t->start);
            }
            c->start_fd = -1;
            c->status = CONTAINER_CREATED;
            c->next = A.containers;
            A.containers = c;
            char *restore_json = json_get_strdup(d, json_get(d, spec, "annotations"), RESTORE_ANNOTATION, NULL);
            if (restore_json) {
                restore(stream, c, d, spec, restore_json);
            } else {
                spawn(stream, c, d, spec, 1);
            }
            free(restore_json);
            if (c->pid == 0) {
                c->status = CONTAINER_STOPPED; /* spawn failed and answered */
            }
        }
    } else if (json_str_eq(d, op, "start")) {
        if (c->status != CONTAINER_CREATED || c->start_fd < 0) {
            respond_error(stream, "container \"%s\" is %s, not created", id, status_name(c->status));
        } else {
            struct proc *init = proc_by_pid(c->pid);
            if (!init || init->phase != PROC_RUNNING) {
                respond_error(stream, "container \"%s\" is still being created", id);
            } else {
                (void)!write(c->start_fd, "S", 1);
                close_fd(&c->start_fd);
                c->status = CONTAINER_RUNNING;
                respond_ok(stream);
            }
        }
    } else if (json_str_eq(d, op, "exec")) {
        int process = json_get(d, 0, "process");
        if (c->status != CONTAINER_RUNNING) {
            respond_error(stream, "container \"%s\" is %s, not running", id, status_name(c->status));
        } else if (!json_is(d, process, JSON_OBJECT)) {
            respond_error(stream, "exec needs a process object");
        } else if (stream == 0 || proc_by_stream(stream)) {
            respond_error(stream, "stream %u is not free for a process", stream);
        } else {
            spawn(stream, c, d, process, 0);
        }
    } else if (json_str_eq(d, op, "signal")) {
        int64_t sig;
        if (json_i64(d, json_get(d, 0, "signal"), &sig) != 0 || sig < 0 || sig > 64) {
            respond_error(stream, "signal needs a signal number");
        } else if (c->status == CONTAINER_STOPPED) {
            respond_error(stream, "container \"%s\" is not running", id);
        } else {
            struct kill_args ka = { (int)sig };
            if (json_bool_value(d, json_get(d, 0, "all"), 0)) {
                for_each_container_pid(c->pid, kill_one, &ka);
            } else {
                kill(c->pid, (int)sig);
            }
            respond_ok(stream);
        }
    } else if (json_str_eq(d, op, "checkpoint")) {
        checkpoint(stream, c, d);
    } else if (json_str_eq(d, op, "update")) {
        int resources = json_get(d, 0, "resources");
        char err[512];
        if (!json_is(d, resources, JSON_OBJECT)) {
            respond_error(stream, "update needs a resources object");
        } else if (c->status == CONTAINER_STOPPED) {
            respond_error(stream, "container \"%s\" is not running", id);
        } else if (cgroup_update(id, d, resources, err, sizeof err) != 0) {
            respond_error(stream, "%s", err);
        } else {
            respond_ok(stream);
        }
    } else if (json_str_eq(d, op, "stats")) {
        if (c->status == CONTAINER_STOPPED) {
            respond_error(stream, "container \"%s\" is not running", id);
        } else {
            struct json_builder jb;
            begin_ok(&jb);
            json_key(&jb, "cgroup");
            cgroup_write_stats(&jb, id);
            finish_ok(stream, &jb);
        }
    } else if (json_str_eq(d, op, "ps")) {
        struct json_builder jb;
        begin_ok(&jb);
        json_key(&jb, "processes");
        if (c->status == CONTAINER_STOPPED) {
            json_arr_begin(&jb);
            json_arr_end(&jb);
        } else {
            write_ps(&jb, c->pid);
        }
        finish_ok(stream, &jb);
    } else if (json_str_eq(d, op, "network-add") || json_str_eq(d, op, "network-remove")) {
        handle_network(stream, d, op);
    } else if (json_str_eq(d, op, "state")) {
        struct json_builder jb;
        begin_ok(&jb);
        json_key(&jb, "containers");
        json_arr_begin(&jb);
        for (struct container *k = A.containers; k; k = k->next) {
            json_obj_begin(&jb);
            json_key(&jb, "id");
            json_str(&jb, k->id);
            json_key(&jb, "status");
            json_str(&jb, status_name(k->status));
            json_key(&jb, "pid");
            json_int(&jb, k->pid);
            json_obj_end(&jb);
        }
        json_arr_end(&jb);
        finish_ok(stream, &jb);
    } else if (json_str_eq(d, op, "shutdown")) {
        respond_ok(stream);
        /* Give the answer a moment to leave before the VM goes away. */
        for (int i = 0; i < 100 && vmrt_buf_pending_len(&A.out); i++) {
            struct pollfd pfd = { A.port, POLLOUT, 0 };
            poll(&pfd, 1, 10);
            flush_out();
        }
        power_off();
    } else {
        respond_error(stream, "unknown op");
    }
    free(id);
}

static void handle_frame(const struct vmrt_frame *f)
{
    struct proc *p = proc_by_stream(f->stream);
    struct json_doc d;
    memset(&d, 0, sizeof d);
    if (vmrt_type_is_json(f->type)) {
        json_parse(&d, (const char *)f->payload, f->payload_len); /* validated by the reader */
    }
    switch (f->type) {
    case VMRT_REQUEST: handle_request(f->stream, &d); break;
    case VMRT_STDIN:
        if (p && (p->in_fd >= 0 || p->phase == PROC_SETUP) && !p->in_close_pending) {
            vmrt_buf_append(&p->in_buf, f->payload, f->payload_len);
            pump_stdin(p);
        }
        break;
    case VMRT_STDIN_CLOSE:
        if (p && (p->in_fd >= 0 || p->phase == PROC_SETUP) && !p->in_close_pending) {
            if (p->terminal) {
                /* A terminal has no EOF of its own: send the EOF character. */
                vmrt_buf_putc(&p->in_buf, 4);
            } else {
                p->in_close_pending = 1;
            }
            pump_stdin(p);
        }
        break;
    case VMRT_RESIZE:
        if (p && p->terminal && p->out_fd >= 0) {
            struct winsize ws = { (unsigned short)json_i64_or(&d, json_get(&d, 0, "rows"), 24),
                                  (unsigned short)json_i64_or(&d, json_get(&d, 0, "cols"), 80), 0, 0 };
            ioctl(p->out_fd, TIOCSWINSZ, &ws);
        }
        break;
    case VMRT_SIGNAL: {
        int64_t sig;
        if (p && p->phase == PROC_RUNNING && json_i64(&d, json_get(&d, 0, "signal"), &sig) == 0 && sig > 0 &&
            sig <= 64) {
            kill(p->pid, (int)sig);
        }
        break;
    }
    case VMRT_DNS: dns_answer(A.dns, f); break;
    default: respond_error(f->stream, "frame type %s is not sent to the agent", vmrt_type_name(f->type));
    }
    if (vmrt_type_is_json(f->type)) {
        json_free(&d);
    }
}

static void read_port(void)
{
    for (;;) {
        long n = vmrt_reader_fill(&A.in, A.port);
        if (n == 0 || (n < 0 && errno != EAGAIN)) {
            log_msg("host closed the agent port: powering off");
            power_off();
        }
        if (n < 0) {
            return;
        }
        struct vmrt_frame f;
        const char *why;
        int rc;
        while ((rc = vmrt_reader_next(&A.in, &f, &why)) != VMRT_FRAME_INCOMPLETE) {
            if (rc == VMRT_FRAME_OK) {
                handle_frame(&f);
            } else {
                respond_error(rc == VMRT_FRAME_FATAL ? 0 : f.stream, "malformed frame: %s", why);
            }
        }
    }
}

/* Before the host connects, reads on the port return EOF and poll reports
 * POLLHUP, so the connection is detected by reading every few ms. */
static void check_connected(void)
{
    uint8_t buf[READ_CHUNK];
    ssize_t n = read(A.port, buf, sizeof buf);
    if (n == 0) {
        return;
    }
    if (n < 0 && errno != EAGAIN) {
        return;
    }
    A.connected = 1;
    send_hello();
    if (n > 0) {
        vmrt_reader_feed(&A.in, buf, (size_t)n);
        read_port();
    }
}

/* ---------- the loop ---------- */

enum fd_role { ROLE_OUT, ROLE_ERR, ROLE_IN, ROLE_SYNC };

static void event_loop(void)
{
    struct pollfd *pfds = NULL;
    struct {
        struct proc *p;
        enum fd_role role;
    } *map = NULL;
    size_t cap = 0;
    for (;;) {
        size_t nprocs = 0;
        for (struct proc *p = A.procs; p; p = p->next) nprocs++;
        if (cap < 4 + nprocs * 4) {
            cap = 4 + nprocs * 4 + 16;
            pfds = realloc(pfds, cap * sizeof *pfds);
            map = realloc(map, cap * sizeof *map);
        }
        size_t n = 0;
        pfds[n++] = (struct pollfd){ A.sigfd, POLLIN, 0 };
        pfds[n++] = (struct pollfd){ A.connected ? A.port : -1,
                                     (short)(POLLIN | (vmrt_buf_pending_len(&A.out) ? POLLOUT : 0)), 0 };
        pfds[n++] = (struct pollfd){ A.inotify, POLLIN, 0 };
        pfds[n++] = (struct pollfd){ A.connected ? A.dns : -1, POLLIN, 0 };
        int room = vmrt_buf_pending_len(&A.out) < OUT_HIGH_WATER;
        for (struct proc *p = A.procs; p; p = p->next) {
            if (room && p->out_fd >= 0 && p->phase != PROC_FAILED) {
                map[n].p = p, map[n].role = ROLE_OUT;
                pfds[n++] = (struct pollfd){ p->out_fd, POLLIN, 0 };
            }
            if (room && p->err_fd >= 0 && p->phase != PROC_FAILED) {
                map[n].p = p, map[n].role = ROLE_ERR;
                pfds[n++] = (struct pollfd){ p->err_fd, POLLIN, 0 };
            }
            if (p->in_fd >= 0 && vmrt_buf_pending_len(&p->in_buf)) {
                map[n].p = p, map[n].role = ROLE_IN;
                pfds[n++] = (struct pollfd){ p->in_fd, POLLOUT, 0 };
            }
            if (p->sync_fd >= 0) {
                map[n].p = p, map[n].role = ROLE_SYNC;
                pfds[n++] = (struct pollfd){ p->sync_fd, POLLIN, 0 };
            }
        }
        if (poll(pfds, n, A.connected ? -1 : 20) < 0 && errno != EINTR) {
            log_msg("poll: %s", strerror(errno));
        }
        /* Process fds first: reaping (below) may free procs. */
        for (size_t i = 4; i < n; i++) {
            if (!pfds[i].revents) continue;
            struct proc *p = map[i].p;
            switch (map[i].role) {
            case ROLE_OUT:
                if (p->out_fd == pfds[i].fd) pump_output(p, &p->out_fd, VMRT_STDOUT);
                break;
            case ROLE_ERR:
                if (p->err_fd == pfds[i].fd) pump_output(p, &p->err_fd, VMRT_STDERR);
                break;
            case ROLE_IN:
                if (p->in_fd == pfds[i].fd) pump_stdin(p);
                break;
            case ROLE_SYNC:
                if (p->sync_fd == pfds[i].fd) finish_setup(p);
                break;
            }
        }
        if (!A.connected) {
            check_connected();
        } else if (pfds[1].revents & (POLLIN | POLLHUP | POLLERR)) {
            read_port();
        }
        if (pfds[2].revents & POLLIN) {
            read_inotify();
        }
        if (pfds[3].revents & POLLIN) {
            dns_read(A.dns, &A.out);
        }
        if (pfds[0].revents & POLLIN) {
            reap_children();
        }
        flush_out();
    }
}

static long boottime_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_BOOTTIME, &ts);
    return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int main(void)
{
    if (getpid() != 1) {
        fprintf(stderr, "vmrt-agent must run as PID 1 of the guest\n");
        return 1;
    }
    long kernel_ms = boottime_ms();
    boot_system();
    signal(SIGPIPE, SIG_IGN);
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGCHLD);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    A.sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
    A.own_pidns = open("/proc/self/ns/pid", O_RDONLY | O_CLOEXEC);
    A.inotify = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    A.dns = -1;
    struct utsname u;
    uname(&u);
    snprintf(A.kernel, sizeof A.kernel, "%s", u.release);
    vmrt_reader_init(&A.in);
    A.port = open_agent_port();
    log_msg("ready (kernel %s): kernel boot %ld ms, agent setup %ld ms", A.kernel, kernel_ms,
            boottime_ms() - kernel_ms);
    event_loop();
}
