/* The agent's tables of containers and processes (processes.c) and the
 * forking of container processes (spawn.c). */
#ifndef VMRT_PROCESSES_H
#define VMRT_PROCESSES_H

#include "agent.h"

enum container_status { CONTAINER_CREATED, CONTAINER_RUNNING, CONTAINER_STOPPED };

struct container {
    struct container *next;
    char *id;
    pid_t pid;          /* guest pid of the container's init (PID 1 of its pid namespace) */
    int start_fd;       /* write end of the pipe the init waits on until `start` */
    char *seccomp;      /* spec.linux.seccomp (JSON text) for exec'd processes, or NULL */
    uint64_t oom_kills; /* OOM kills in its cgroup reported to the host so far */
    enum container_status status;
    int deleted;  /* `delete` asked for it: out of the table once nothing of it runs */
    pid_t ipc_of; /* a pod container sharing another's ipc namespace: that one's init; else 0 */
    pid_t pid_of; /* likewise for the pid namespace */
    pid_t uts_of; /* likewise for the uts namespace (a Kubernetes pod's hostname) */
};

enum proc_phase {
    PROC_SETUP,   /* forked; waiting for its setup report on sync_fd */
    PROC_RUNNING, /* create answered (init waits for start) or exec running */
    PROC_FAILED,  /* setup failed and was answered: reap silently */
};

struct proc {
    struct proc *next;
    uint32_t stream;
    pid_t pid;
    struct container *container;
    int is_init;
    int terminal;
    int in_fd;   /* stdin pipe write end, or the pty master (it arrives from
                   the child during setup) */
    int out_fd;  /* stdout pipe read end, or the pty master */
    int err_fd;  /* stderr pipe read end; -1 with a terminal */
    int sync_fd; /* socket on which the child reports its setup */
    char sync_msg[1024];
    size_t sync_len;
    struct vmrt_buf in_buf;
    int in_close_pending;
    enum proc_phase phase;
};

/* processes.c */
extern struct proc *procs;
extern struct container *containers;
struct proc *proc_by_stream(uint32_t stream);
struct proc *proc_by_pid(pid_t pid);
/* The container of that id, not counting deleted ones (an id may be used again). */
struct container *container_by_id(const char *id);
/* Frees a deleted container once its init and every process entry of it are gone. */
void forget_if_deleted(struct container *c);
const char *status_name(enum container_status s);
void close_fd(int *fd);
/* A new process entry in PROC_SETUP with no fds, or NULL without memory;
 * proc_add puts it into the table, free_proc takes it out and closes its fds. */
struct proc *new_proc(uint32_t stream, struct container *c, int is_init, int terminal);
void proc_add(struct proc *p);
void free_proc(struct proc *p);
/* Stdio pipes: the agent's ends in p, the process's in child_fds. */
int open_stdio_pipes(struct proc *p, int child_fds[3]);
void set_stdio_nonblocking(struct proc *p);
/* Reads once from a process output fd into a frame. Returns 1 if data came,
 * 0 if nothing is available now, -1 at EOF (fd closed). */
int pump_output(struct proc *p, int *fd, uint8_t type);
/* Sends everything that is in the process's output pipes now. */
void drain_output(struct proc *p);
void pump_stdin(struct proc *p);
/* Reads the child's setup report (the socket became readable). */
void finish_setup(struct proc *p);
/* Answers the create/exec of p: its pid, or the error (which kills it). */
void report_setup(struct proc *p, const char *error);
/* The inotify fd is readable: OOM kills since the last report become EVENTs. */
void read_inotify(void);
/* SIGCHLD: reaps, sends EXITs and marks stopped containers. */
void reap_children(void);

/* spawn.c: forks a container init (is_init: tok is the spec) or an exec
 * process (tok is the process) in container c; the answer follows when the
 * child reports. spawn_restored: a create whose spec carries
 * RESTORE_ANNOTATION; CRIU brings back the checkpointed processes, running,
 * with new stdio pipes on `stream`. Both answer on stream themselves. */
void spawn(uint32_t stream, struct container *c, const struct json_doc *d, int tok, int is_init);
void spawn_restored(uint32_t stream, struct container *c, const struct json_doc *d, int spec, const char *restore_json);

#endif
