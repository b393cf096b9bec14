/* The launcher's client of the CLI server (runtime/src/commands/serve.ts). The server answers a
 * REQUEST frame ({"script":…,"argv":[...],"env":[...],"namespaces":[...],"umask":N,"pid":N}; the
 * pid names this process, whose resource limits are the caller's) with RESPONSE {"ok":true} and
 * then the call's STDOUT and STDERR frames and an EXIT {"status":N}; or with
 * RESPONSE {"ok":false} when it declines (another command, CLI, environment, umask or set of
 * namespaces than it serves), and this program execs Node as a launcher without a server would.
 * Only calls with an absolute --root use one.
 *
 * A create's init shim must be this call's child: containerd's shim reaps the runtime's children
 * (it is their subreaper) and learns the container's end from that one. So the server asks for it
 * on stream 1: REQUEST {"op":"spawn","argv":[...]}, answered with RESPONSE {"ok":true,"pid":N}
 * (or {"ok":false,"error":…}); the child has this process's stdio (Docker's pipes) and a pipe on
 * fd 3, whose bytes go back as STDOUT frames of stream 1, and its end as EXIT
 * {"status":N,"signal":S} of stream 1. */
#include "cli_client.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "json.h"
#include "proto.h"
#include "sys.h"

extern char **environ;

#define SOCKET_NAME "@cli.sock"
/* The stream of the process the server asks this call to start. */
#define CHILD_STREAM 1

/* "net:[4026531833] mnt:[…] …": the caller's namespaces, which the server compares with its own. */
static void namespaces_of_self(struct json_builder *jb)
{
    static const char *const kinds[] = { "net", "mnt", "pid", "user", "uts", "ipc", "cgroup" };
    json_arr_begin(jb);
    for (size_t i = 0; i < sizeof kinds / sizeof *kinds; i++) {
        char path[64], id[64];
        snprintf(path, sizeof path, "/proc/self/ns/%s", kinds[i]);
        ssize_t n = readlink(path, id, sizeof id - 1);
        id[n > 0 ? n : 0] = '\0';
        json_str(jb, id);
    }
    json_arr_end(jb);
}

/* The --root of a call (Go flag syntax: `--root R`, `--root=R`, one dash or two): the first one,
 * as a global flag comes before the command and its arguments. Which global flags take a value
 * is the CLI's to know; a wrong pick costs only the server's help, as the server parses the call
 * itself. */
static const char *root_of(int argc, char **argv)
{
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (a[0] != '-') {
            continue;
        }
        a += a[1] == '-' ? 2 : 1;
        if (!strcmp(a, "root")) {
            return i + 1 < argc ? argv[i + 1] : NULL;
        }
        if (!strncmp(a, "root=", 5)) {
            return a + 5;
        }
    }
    return NULL;
}

/* A server for the next calls, detached from this call: its own session, no fd of the caller
 * (containerd waits for EOF on the pipes it gave the runtime), reparented at once. */
static void start_server(const char *node, const char *script, const char *root)
{
    pid_t child = fork();
    if (child < 0) {
        return;
    }
    if (child == 0) {
        if (fork() != 0) {
            _exit(0);
        }
        setsid();
        int null = open("/dev/null", O_RDWR);
        for (int fd = 0; null >= 0 && fd < 3; fd++) {
            dup2(null, fd);
        }
        close_fds_except(-1);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        if (chdir("/") != 0) {
            _exit(1);
        }
        execl(node, node, script, "--root", root, "serve", (char *)NULL);
        _exit(127);
    }
    while (waitpid(child, NULL, 0) < 0 && errno == EINTR) {}
}

/* To a file (stdout, stderr) or, without SIGPIPE, to the server's socket. */
static int write_all(int fd, const uint8_t *p, size_t n)
{
    struct stat st;
    int sock = fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode);
    while (n > 0) {
        ssize_t w = sock ? send(fd, p, n, MSG_NOSIGNAL) : write(fd, p, n);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int send_frame(int fd, uint8_t type, uint32_t stream, const void *payload, size_t len)
{
    struct vmrt_buf out = { 0 };
    int rc = vmrt_frame_append(&out, type, stream, payload, len);
    if (rc == 0) {
        rc = write_all(fd, vmrt_buf_pending(&out), vmrt_buf_pending_len(&out));
    }
    vmrt_buf_free(&out);
    return rc;
}

static int send_json(int fd, uint8_t type, uint32_t stream, struct json_builder *jb)
{
    int rc = send_frame(fd, type, stream, vmrt_buf_pending(&jb->out), vmrt_buf_pending_len(&jb->out));
    json_builder_free(jb);
    return rc;
}

static int send_request(int fd, const char *script, int argc, char **argv)
{
    struct json_builder jb;
    json_builder_init(&jb);
    json_obj_begin(&jb);
    json_key(&jb, "script");
    json_str(&jb, script);
    json_key(&jb, "argv");
    json_arr_begin(&jb);
    for (int i = 0; i < argc; i++) {
        json_str(&jb, argv[i]);
    }
    json_arr_end(&jb);
    json_key(&jb, "env");
    json_arr_begin(&jb);
    for (char **e = environ; *e; e++) {
        json_str(&jb, *e);
    }
    json_arr_end(&jb);
    json_key(&jb, "namespaces");
    namespaces_of_self(&jb);
    mode_t mask = umask(0);
    umask(mask);
    json_key(&jb, "umask");
    json_int(&jb, (int64_t)mask);
    json_key(&jb, "pid");
    json_int(&jb, getpid());
    json_obj_end(&jb);
    return send_json(fd, VMRT_REQUEST, 0, &jb);
}

/* The process the server asked for: pid 0 until then. */
struct child {
    pid_t pid;
    int ready; /* the read end of its fd 3; -1 at EOF */
    int pidfd; /* readable once it ended; -1 without one (polled) or once reported */
    int ended;
};

static pid_t fork_child(char **argv, int ready_w)
{
    pid_t pid = fork();
    if (pid != 0) {
        return pid;
    }
    /* dup2 clears close-on-exec; a pipe end already on fd 3 needs it cleared by hand. */
    if (ready_w == 3 ? fcntl(3, F_SETFD, 0) != 0 : dup2(ready_w, 3) != 3) {
        _exit(127);
    }
    close_fds_except(3);
    /* Every signal as a Node-spawned child gets them: default and unblocked. */
    for (int sig = 1; sig < NSIG; sig++) {
        signal(sig, SIG_DFL);
    }
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    execve(argv[0], argv, environ);
    _exit(127);
}

static void answer_spawn(int fd, pid_t pid, const char *error)
{
    struct json_builder jb;
    json_builder_init(&jb);
    json_obj_begin(&jb);
    json_key(&jb, "ok");
    json_bool(&jb, error == NULL);
    json_key(&jb, error ? "error" : "pid");
    if (error) {
        json_str(&jb, error);
    } else {
        json_int(&jb, pid);
    }
    json_obj_end(&jb);
    (void)send_json(fd, VMRT_RESPONSE, CHILD_STREAM, &jb);
}

static void spawn_child(int fd, const struct json_doc *d, struct child *c)
{
    int list = json_get(d, 0, "argv");
    size_t n = 0;
    for (int t = json_first(d, list); t > 0; t = json_next(d, list, t)) n++;
    if (c->pid || !json_str_eq(d, json_get(d, 0, "op"), "spawn") || !json_is(d, list, JSON_ARRAY) || n == 0) {
        answer_spawn(fd, 0, c->pid ? "this call started its process already" : "not a spawn request");
        return;
    }
    char **argv = calloc(n + 1, sizeof *argv);
    size_t i = 0;
    for (int t = json_first(d, list); argv && t > 0; t = json_next(d, list, t)) argv[i++] = json_strdup(d, t);
    int pipe_fds[2] = { -1, -1 };
    const char *error = NULL;
    if (!argv) {
        error = "out of memory";
    } else if (pipe2(pipe_fds, O_CLOEXEC) != 0) {
        error = strerror(errno);
    } else if ((c->pid = fork_child(argv, pipe_fds[1])) < 0) {
        error = strerror(errno);
        c->pid = 0;
        close(pipe_fds[0]);
    } else {
        c->ready = pipe_fds[0];
        fcntl(c->ready, F_SETFL, O_NONBLOCK);
        c->pidfd = (int)syscall(SYS_pidfd_open, c->pid, 0);
    }
    if (pipe_fds[1] >= 0) close(pipe_fds[1]);
    for (i = 0; argv && i < n; i++) free(argv[i]);
    free(argv);
    answer_spawn(fd, c->pid, error);
}

/* What its fd 3 holds now, as STDOUT frames of its stream. */
static void relay_ready(int fd, struct child *c)
{
    uint8_t buf[4096];
    while (c->ready >= 0) {
        ssize_t n = read(c->ready, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno == EAGAIN) return;
        if (n <= 0) {
            close(c->ready);
            c->ready = -1;
            return;
        }
        (void)send_frame(fd, VMRT_STDOUT, CHILD_STREAM, buf, (size_t)n);
    }
}

/* Its end, once it ended (left unreaped: its reaper is containerd's shim, as for any child of the
 * runtime), after the last of its fd 3. */
static void report_end(int fd, struct child *c)
{
    siginfo_t info;
    memset(&info, 0, sizeof info);
    if (!c->pid || c->ended || waitid(P_PID, (id_t)c->pid, &info, WEXITED | WNOHANG | WNOWAIT) != 0 ||
        info.si_pid == 0) {
        return;
    }
    c->ended = 1;
    relay_ready(fd, c);
    struct json_builder jb;
    json_builder_init(&jb);
    json_obj_begin(&jb);
    json_key(&jb, "status");
    json_int(&jb, info.si_code == CLD_EXITED ? info.si_status : -1);
    json_key(&jb, "signal");
    json_int(&jb, info.si_code == CLD_EXITED ? 0 : info.si_status);
    json_obj_end(&jb);
    (void)send_json(fd, VMRT_EXIT, CHILD_STREAM, &jb);
}

enum call_result { CALL_DECLINED = -1, CALL_BROKEN = -2 };

/* The call's exit status, or CALL_DECLINED (nothing ran: run it here), or CALL_BROKEN (the
 * server ended while it ran the call). */
static int serve_call(int fd, const char *script, int argc, char **argv)
{
    if (send_request(fd, script, argc, argv) != 0) {
        return CALL_DECLINED;
    }
    struct vmrt_reader reader;
    vmrt_reader_init(&reader);
    int accepted = 0, status = CALL_BROKEN;
    struct child child = { 0, -1, -1, 0 };
    for (;;) {
        struct vmrt_frame f;
        int got = vmrt_reader_next(&reader, &f, NULL);
        if (got == VMRT_FRAME_INCOMPLETE) {
            struct pollfd p[3] = { { fd, POLLIN, 0 },
                                   { child.ready, POLLIN, 0 },
                                   { child.ended ? -1 : child.pidfd, POLLIN, 0 } };
            /* Without a pidfd, the child's end is looked for every 100 ms. */
            int polled = child.pid && !child.ended && child.pidfd < 0;
            if (poll(p, 3, polled ? 100 : -1) < 0 && errno != EINTR) {
                break;
            }
            if (p[1].revents) relay_ready(fd, &child);
            if (p[2].revents || polled) report_end(fd, &child);
            if (!p[0].revents) {
                continue;
            }
            long n = vmrt_reader_fill(&reader, fd);
            if (n < 0 && errno == EINTR) {
                continue;
            }
            if (n <= 0) {
                status = accepted ? CALL_BROKEN : CALL_DECLINED;
                break;
            }
            continue;
        }
        if (got != VMRT_FRAME_OK) {
            status = accepted ? CALL_BROKEN : CALL_DECLINED;
            break;
        }
        if (f.stream == CHILD_STREAM) {
            struct json_doc d;
            memset(&d, 0, sizeof d);
            if (f.type == VMRT_REQUEST && json_parse(&d, (const char *)f.payload, f.payload_len) == 0) {
                spawn_child(fd, &d, &child);
            } else {
                answer_spawn(fd, 0, "not a spawn request");
            }
            json_free(&d);
            continue;
        }
        if (f.type == VMRT_STDOUT || f.type == VMRT_STDERR) {
            (void)write_all(f.type == VMRT_STDOUT ? 1 : 2, f.payload, f.payload_len);
            continue;
        }
        struct json_doc d;
        memset(&d, 0, sizeof d);
        int parsed = json_parse(&d, (const char *)f.payload, f.payload_len) == 0;
        if (f.type == VMRT_RESPONSE && !accepted) {
            accepted = parsed && json_bool_value(&d, json_get(&d, 0, "ok"), 0);
            json_free(&d);
            if (!accepted) {
                status = CALL_DECLINED;
                break;
            }
            continue;
        }
        int64_t code;
        int is_exit = f.type == VMRT_EXIT && parsed && json_i64(&d, json_get(&d, 0, "status"), &code) == 0;
        json_free(&d);
        if (is_exit) {
            status = code >= 0 && code <= 255 ? (int)code : 1;
            break;
        }
    }
    vmrt_reader_free(&reader);
    if (child.ready >= 0) close(child.ready);
    if (child.pidfd >= 0) close(child.pidfd);
    /* A server that ended during the call cannot finish its create: the shim would wait alone. */
    if (status == CALL_BROKEN && child.pid && !child.ended) kill(child.pid, SIGKILL);
    return status;
}

int cli_client_main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: vmrt-shim cli NODE SCRIPT [ARG...]\n");
        return 2;
    }
    const char *node = argv[2], *script = argv[3];
    int call_argc = argc - 4;
    char **call_argv = argv + 4;
    const char *off = getenv("VMRT_CLI_SERVER");
    const char *root = root_of(call_argc, call_argv);
    char socket_path[PATH_MAX];
    struct stat st;
    if (!(off && !strcmp(off, "off")) && root && root[0] == '/' && stat(root, &st) == 0 && S_ISDIR(st.st_mode) &&
        (size_t)snprintf(socket_path, sizeof socket_path, "%s/%s", root, SOCKET_NAME) < sizeof socket_path) {
        int fd = unix_connect_blocking(socket_path);
        if (fd >= 0) {
            int status = serve_call(fd, script, call_argc, call_argv);
            close(fd);
            if (status == CALL_BROKEN) {
                fprintf(stderr, "vmrt: the CLI server (%s) ended during the call\n", socket_path);
                return 1;
            }
            if (status != CALL_DECLINED) {
                return status;
            }
        } else if (errno == ENOENT || errno == ECONNREFUSED) {
            start_server(node, script, root);
        }
    }
    char **exec_argv = calloc((size_t)call_argc + 3, sizeof *exec_argv);
    if (!exec_argv) {
        fprintf(stderr, "vmrt: out of memory\n");
        return 1;
    }
    exec_argv[0] = (char *)node;
    exec_argv[1] = (char *)script;
    memcpy(exec_argv + 2, call_argv, (size_t)call_argc * sizeof *call_argv);
    execv(node, exec_argv);
    fprintf(stderr, "vmrt: %s: %s\n", node, strerror(errno));
    return 127;
}
