/* The agent's requests: one handler per op of runtime/PROTOCOL.md, found
 * by name in `ops` below. Each handler answers on the request's stream
 * (create and exec once the forked child reports, in processes.c). */
#include "ops.h"

#include "host.h"
#include "processes.h"

#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A request: its stream, its document, and the container its "id" names. */
struct request {
    const char *op;
    uint32_t stream;
    const struct json_doc *d;
    const char *id;      /* NULL when the request has none */
    struct container *c; /* NULL when no container has that id */
};

/* A string member that may be absent: 0 with *out NULL when it is absent or
 * not a string, -1 when its copy cannot be allocated (answered then). */
static int optional_string(uint32_t stream, const struct json_doc *d, int obj, const char *key, char **out)
{
    int t = json_get(d, obj, key);
    *out = json_is(d, t, JSON_STRING) ? json_strdup(d, t) : NULL;
    if (json_is(d, t, JSON_STRING) && !*out) {
        respond_error(stream, "out of memory");
        return -1;
    }
    return 0;
}

/* The container shares the guest's network: set it up from the host's
 * annotation before the container starts. Returns 0 after answering an error. */
static int configure_network(uint32_t stream, const struct json_doc *d, int spec)
{
    char *net;
    if (optional_string(stream, d, json_get(d, spec, "annotations"), NETWORK_ANNOTATION, &net) != 0) {
        return 0;
    }
    /* Before the links come up: with IPv6 off (Docker's networks without IPv6) the guest does
     * not configure IPv6 on them only to tear it down (under TCG: 1,300 fewer kernel code
     * blocks to translate in a create). */
    apply_sysctls(d, spec, 1);
    char err[512];
    int ok = !net || network_apply(net, err, sizeof err) == 0;
    if (!ok) {
        respond_error(stream, "guest network: %s", err);
    }
    free(net);
    return ok;
}

/* A pod container may share the ipc and pid namespaces of another container of
 * the VM (the SHARE_ANNOTATION of its spec names it per type). Returns 0 after
 * answering an error. */
static int resolve_shares(uint32_t stream, const struct json_doc *d, int spec, pid_t *ipc_of, pid_t *pid_of,
                          pid_t *uts_of)
{
    *ipc_of = *pid_of = *uts_of = 0;
    char *text;
    if (optional_string(stream, d, json_get(d, spec, "annotations"), SHARE_ANNOTATION, &text) != 0) {
        return 0;
    }
    if (!text) {
        return 1;
    }
    struct json_doc share;
    memset(&share, 0, sizeof share);
    int ok = json_parse(&share, text, strlen(text)) == 0 && json_is(&share, 0, JSON_OBJECT);
    if (!ok) {
        respond_error(stream, "annotation %s is not a JSON object", SHARE_ANNOTATION);
    }
    static const char *types[] = { "ipc", "pid", "uts" };
    pid_t *out[] = { ipc_of, pid_of, uts_of };
    for (int i = 0; ok && i < 3; i++) {
        char *id;
        if (optional_string(stream, &share, 0, types[i], &id) != 0) {
            ok = 0;
            break;
        }
        struct container *owner = id ? container_by_id(id) : NULL;
        if (id && (!owner || owner->status == CONTAINER_STOPPED)) {
            respond_error(stream, "%s: the %s namespace of container \"%s\" cannot be shared: it %s", SHARE_ANNOTATION,
                          types[i], id, owner ? "is stopped" : "does not exist in this VM");
            ok = 0;
        } else if (owner) {
            *out[i] = owner->pid;
        }
        free(id);
    }
    json_free(&share);
    free(text);
    return ok;
}

static void op_create(const struct request *r)
{
    uint32_t stream = r->stream;
    const struct json_doc *d = r->d;
    const char *id = r->id;
    int spec = json_get(d, 0, "spec");
    apply_host_clock_and_seed(d);
    apply_mmap_layout(d, spec);
    pid_t ipc_of, pid_of, uts_of;
    if (!id || !id[0] || strchr(id, '/') || !strcmp(id, ".") || !strcmp(id, "..")) {
        respond_error(stream, "create needs an id without '/'");
    } else if (r->c) {
        respond_error(stream, "container \"%s\" already exists", id);
    } else if (!json_is(d, spec, JSON_OBJECT)) {
        respond_error(stream, "create needs a spec object");
    } else if (stream == 0 || proc_by_stream(stream)) {
        respond_error(stream, "stream %u is not free for a process", stream);
    } else if (!resolve_shares(stream, d, spec, &ipc_of, &pid_of, &uts_of) || !configure_network(stream, d, spec)) {
        /* answered */
    } else {
        if (A.dns < 0 && dns_wanted(d, spec)) A.dns = dns_open();
        char *restore_json;
        if (optional_string(stream, d, json_get(d, spec, "annotations"), RESTORE_ANNOTATION, &restore_json) != 0) {
            return;
        }
        struct container *c = calloc(1, sizeof *c);
        int seccomp = json_get(d, json_get(d, spec, "linux"), "seccomp");
        const struct json_tok *t = json_is(d, seccomp, JSON_OBJECT) ? &d->toks[seccomp] : NULL;
        if (c) {
            c->id = strdup(id);
            c->seccomp = t ? strndup(d->src + t->start, t->end - t->start) : NULL;
        }
        if (!c || !c->id || (t && !c->seccomp)) {
            respond_error(stream, "out of memory");
            if (c) free(c->id);
            free(c);
            free(restore_json);
            return;
        }
        c->start_fd = -1;
        c->ipc_of = ipc_of;
        c->pid_of = pid_of;
        c->uts_of = uts_of;
        c->status = CONTAINER_CREATED;
        c->next = containers;
        containers = c;
        if (restore_json) {
            spawn_restored(stream, c, d, spec, restore_json);
        } else {
            spawn(stream, c, d, spec, 1);
        }
        free(restore_json);
        if (c->pid == 0) {
            c->status = CONTAINER_STOPPED; /* spawn failed and answered */
        }
    }
}

static void op_start(const struct request *r)
{
    struct container *c = r->c;
    if (c->status != CONTAINER_CREATED || c->start_fd < 0) {
        respond_error(r->stream, "container \"%s\" is %s, not created", r->id, status_name(c->status));
        return;
    }
    struct proc *init = proc_by_pid(c->pid);
    if (!init || init->phase != PROC_RUNNING) {
        respond_error(r->stream, "container \"%s\" is still being created", r->id);
        return;
    }
    (void)!write(c->start_fd, "S", 1);
    /* Until the child's execve closes its end (or it dies): bounded, PID 1 must go on serving. */
    struct pollfd exec_done = { c->start_fd, POLLIN, 0 };
    char b;
    while (poll(&exec_done, 1, 10000) > 0 && read(c->start_fd, &b, 1) > 0) {}
    close_fd(&c->start_fd);
    c->status = CONTAINER_RUNNING;
    respond_ok(r->stream);
}

static void op_exec(const struct request *r)
{
    int process = json_get(r->d, 0, "process");
    if (r->c->status != CONTAINER_RUNNING) {
        respond_error(r->stream, "container \"%s\" is %s, not running", r->id, status_name(r->c->status));
    } else if (!json_is(r->d, process, JSON_OBJECT)) {
        respond_error(r->stream, "exec needs a process object");
    } else if (r->stream == 0 || proc_by_stream(r->stream)) {
        respond_error(r->stream, "stream %u is not free for a process", r->stream);
    } else {
        spawn(r->stream, r->c, r->d, process, 0);
    }
}

struct kill_args {
    int sig;
};

static void kill_one(pid_t pid, void *arg)
{
    kill(pid, ((struct kill_args *)arg)->sig);
}

static void op_signal(const struct request *r)
{
    int64_t sig;
    if (json_i64(r->d, json_get(r->d, 0, "signal"), &sig) != 0 || sig < 0 || sig > 64) {
        respond_error(r->stream, "signal needs a signal number");
    } else if (r->c->status == CONTAINER_STOPPED) {
        respond_error(r->stream, "container \"%s\" is not running", r->id);
    } else {
        struct kill_args ka = { (int)sig };
        if (json_bool_value(r->d, json_get(r->d, 0, "all"), 0)) {
            for_each_container_pid(r->c->pid, r->c->id, r->c->pid_of != 0, kill_one, &ka);
        } else {
            kill(r->c->pid, (int)sig);
        }
        respond_ok(r->stream);
    }
}

/* Dumps the container's processes (they end unless leaveRunning). Refuses
 * what the restore could not reconnect: a terminal, exec'd processes. */
static void op_checkpoint(const struct request *r)
{
    uint32_t stream = r->stream;
    struct container *c = r->c;
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
    for (struct proc *p = procs; p; p = p->next) {
        if (p->container == c && !p->is_init && p->phase != PROC_FAILED) {
            respond_error(stream,
                          "container \"%s\" runs an exec'd process (pid %d): checkpoint it when only its init's "
                          "process tree runs",
                          c->id, (int)p->pid);
            return;
        }
    }
    /* What was written so far goes to the current logs, not into the images. */
    drain_output(init);
    flush_out();
    if (checkpoint_dump(c->pid, r->d, err, sizeof err) != 0) {
        respond_error(stream, "%s", err);
    } else {
        respond_ok(stream);
    }
}

static void op_update(const struct request *r)
{
    int resources = json_get(r->d, 0, "resources");
    char err[512];
    if (!json_is(r->d, resources, JSON_OBJECT)) {
        respond_error(r->stream, "update needs a resources object");
    } else if (r->c->status == CONTAINER_STOPPED) {
        respond_error(r->stream, "container \"%s\" is not running", r->id);
    } else if (cgroup_update(r->id, r->d, resources, err, sizeof err) != 0) {
        respond_error(r->stream, "%s", err);
    } else {
        respond_ok(r->stream);
    }
}

static void op_stats(const struct request *r)
{
    if (r->c->status == CONTAINER_STOPPED) {
        respond_error(r->stream, "container \"%s\" is not running", r->id);
        return;
    }
    struct json_builder jb;
    begin_ok(&jb);
    json_key(&jb, "cgroup");
    cgroup_write_stats(&jb, r->id);
    finish_ok(r->stream, &jb);
}

static void op_ps(const struct request *r)
{
    struct json_builder jb;
    begin_ok(&jb);
    json_key(&jb, "processes");
    if (r->c->status == CONTAINER_STOPPED) {
        json_arr_begin(&jb);
        json_arr_end(&jb);
    } else {
        write_ps(&jb, r->c->pid, r->c->id, r->c->pid_of != 0);
    }
    finish_ok(r->stream, &jb);
}

/* network-add / network-remove: NICs plugged into or out of the running VM. */
static void change_network(const struct request *r, int adding)
{
    char *net;
    if (optional_string(r->stream, r->d, 0, "network", &net) != 0) {
        return;
    }
    char err[512];
    /* The host asks again while a hot-plugged NIC is still being probed. */
    int present = net && adding ? network_present(net) : 1;
    if (!net || present < 0) {
        respond_error(r->stream, "%s needs a network (a JSON string, as org.vmrt.network)", r->op);
    } else if (present && (adding ? network_apply(net, err, sizeof err) : network_remove(net, err, sizeof err)) != 0) {
        respond_error(r->stream, "guest network: %s", err);
    } else if (!adding) {
        respond_ok(r->stream);
    } else {
        struct json_builder jb;
        begin_ok(&jb);
        json_key(&jb, "present");
        json_bool(&jb, present);
        finish_ok(r->stream, &jb);
    }
    free(net);
}

static void op_network_add(const struct request *r)
{
    change_network(r, 1);
}

static void op_network_remove(const struct request *r)
{
    change_network(r, 0);
}

/* A container of a pod goes while the VM stays for the others: its processes
 * are killed, its cgroup removed, and its id is free again. */
static void op_delete(const struct request *r)
{
    struct container *c = r->c;
    if (c->status != CONTAINER_STOPPED) {
        struct kill_args ka = { SIGKILL };
        for_each_container_pid(c->pid, c->id, c->pid_of != 0, kill_one, &ka);
        kill(c->pid, SIGKILL);
    }
    c->deleted = 1;
    forget_if_deleted(c);
    respond_ok(r->stream);
}

static void op_state(const struct request *r)
{
    struct json_builder jb;
    begin_ok(&jb);
    json_key(&jb, "containers");
    json_arr_begin(&jb);
    for (struct container *k = containers; k; k = k->next) {
        if (k->deleted) continue;
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
    finish_ok(r->stream, &jb);
}

static void op_shutdown(const struct request *r)
{
    respond_ok(r->stream);
    /* Give the answer a moment to leave before the VM goes away. */
    for (int i = 0; i < 100 && vmrt_buf_pending_len(&A.out); i++) {
        struct pollfd pfd = { A.port, POLLOUT, 0 };
        poll(&pfd, 1, 10);
        flush_out();
    }
    power_off();
}

static const struct op {
    const char *name;
    int needs_container; /* refused unless "id" names a container */
    void (*handle)(const struct request *r);
} ops[] = {
    { "create", 0, op_create },
    { "start", 1, op_start },
    { "exec", 1, op_exec },
    { "signal", 1, op_signal },
    { "ps", 1, op_ps },
    { "update", 1, op_update },
    { "stats", 1, op_stats },
    { "checkpoint", 1, op_checkpoint },
    { "network-add", 0, op_network_add },
    { "network-remove", 0, op_network_remove },
    { "delete", 1, op_delete },
    { "state", 0, op_state },
    { "shutdown", 0, op_shutdown },
};

void handle_request(uint32_t stream, const struct json_doc *d)
{
    int op = json_get(d, 0, "op");
    const struct op *o = NULL;
    for (size_t i = 0; i < sizeof ops / sizeof *ops && !o; i++) {
        if (json_str_eq(d, op, ops[i].name)) o = &ops[i];
    }
    char *id;
    if (optional_string(stream, d, 0, "id", &id) != 0) {
        return;
    }
    struct request r = { o ? o->name : NULL, stream, d, id, id ? container_by_id(id) : NULL };
    if (!o) {
        respond_error(stream, "unknown op");
    } else if (o->needs_container && !r.c) {
        respond_error(stream, "container \"%s\" does not exist", id ? id : "");
    } else {
        o->handle(&r);
    }
    free(id);
}
