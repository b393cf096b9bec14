/* The launcher's client of the CLI server (runtime/src/commands/serve.ts). The server answers a
 * REQUEST frame ({"script":…,"argv":[...],"env":[...],"namespaces":[...]}) with RESPONSE {"ok":true} and then the call's
 * STDOUT and STDERR frames and an EXIT {"status":N}; or with RESPONSE {"ok":false} when it
 * declines (another command, CLI, environment or set of namespaces than it serves), and this program
 * execs Node as a launcher without a server would. Only calls with an absolute --root use one. */
#include "cli_client.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "json.h"
#include "proto.h"
#include "sys.h"

extern char **environ;

#define SOCKET_NAME "@cli.sock"

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

static int write_all(int fd, const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
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
    json_obj_end(&jb);
    struct vmrt_buf out = { 0 };
    int rc = vmrt_frame_append(&out, VMRT_REQUEST, 0, vmrt_buf_pending(&jb.out), vmrt_buf_pending_len(&jb.out));
    if (rc == 0) {
        rc = write_all(fd, vmrt_buf_pending(&out), vmrt_buf_pending_len(&out));
    }
    vmrt_buf_free(&out);
    json_builder_free(&jb);
    return rc;
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
    for (;;) {
        struct vmrt_frame f;
        int got = vmrt_reader_next(&reader, &f, NULL);
        if (got == VMRT_FRAME_INCOMPLETE) {
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
