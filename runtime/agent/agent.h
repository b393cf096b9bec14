/* vmrt guest agent: PID 1 of the VM (see runtime/PROTOCOL.md). What the files
 * around the event loop expose; the loop's own seams are host.h (main.c),
 * processes.h (processes.c, spawn.c) and ops.h (ops.c). */
#ifndef VMRT_AGENT_H
#define VMRT_AGENT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "file.h"
#include "proto.h"

#define AGENT_VERSION   "0.1.0"
#define AGENT_PORT_NAME "org.vmrt.agent"
#define SHARED_DIR      "/run/vmrt/shared"

/* log.c: one line on the guest console, prefixed "vmrt-agent: ". */
void log_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* boot.c */
void boot_system(void);
void mount_shared_folder(void);
/* host-clock.c: the create request's realtimeNs and seed, and the spec's choice of a mmap layout
 * shared by the VM's processes ("on" or absent: the host resolves it), all fresh in every VM of a
 * template. */
#define SHARED_MMAP_LAYOUT_ANNOTATION "org.vmrt.vm.shared-mmap-layout"
void apply_host_clock_and_seed(const struct json_doc *d);
void apply_mmap_layout(const struct json_doc *d, int spec);
int open_agent_port(void);
void power_off(void) __attribute__((noreturn));

/* In the functions of the forked child that report with (char *err, size_t errlen):
 * the message, then return -1. */
#define FAIL(...)                                                                                                      \
    do {                                                                                                               \
        snprintf(err, errlen, __VA_ARGS__);                                                                            \
        return -1;                                                                                                     \
    } while (0)

/* container.c: runs in the forked child; returns only on error (message in err).
 * Builds the container in the namespaces it was cloned into (the agent put it
 * into its cgroup before): cgroup namespace, root filesystem, sysctls,
 * hostname; then checks that the program can be found. */
int child_create(const struct json_doc *d, int spec, char *err, size_t errlen);
/* Writes the spec's sysctls: the net.* ones (network != 0: the VM's netns, which
 * its containers share), or the others (in the container's namespaces). */
void apply_sysctls(const struct json_doc *d, int spec, int network);
/* Enters the cgroup and the user (when it has its own), cgroup, mount, uts
 * and ipc namespaces of a container (pid: see spawn). */
int join_container(const char *id, pid_t init_pid, char *err, size_t errlen);
/* Enters one namespace (kind: its /proc/<pid>/ns name) of process pid. */
int join_namespace(pid_t pid, const char *kind, int nstype, char *err, size_t errlen);

/* rootfs.c, in the forked child. rootfs_prepare: spec.mounts, /dev,
 * annotations, then pivot_root into root.path. rootfs_mask_paths:
 * linux.maskedPaths (/dev/null over files, an empty read-only tmpfs over
 * directories) and linux.readonlyPaths, after the pivot. rootfs_finalize:
 * root.readonly. */
int rootfs_prepare(const struct json_doc *d, int spec, char *err, size_t errlen);
int rootfs_mask_paths(const struct json_doc *d, int spec, char *err, size_t errlen);
int rootfs_finalize(const struct json_doc *d, int spec, char *err, size_t errlen);

/* process.c, in the forked child. */
/* Allocates a pty in the container's devpts, passes the master to the agent
 * over sync_fd (SCM_RIGHTS) and makes the slave stdio + controlling tty. */
int setup_terminal(const struct json_doc *d, int process, int sync_fd, char *err, size_t errlen);
/* 0 when the process's cwd exists and its program is found (create fails
 * early, as with runc); leaves the cwd at "/". What it found is exec_process's. */
int process_check(const struct json_doc *d, int process, char *err, size_t errlen);
/* process.rlimits and process.oomScoreAdj on process pid (0: the caller). The
 * agent applies them to an init in a user namespace from outside (raising a
 * hard limit or lowering the score needs CAP_SYS_RESOURCE on the host's side
 * of it); the init applies the same values again, which then succeeds. */
int process_limits(pid_t pid, const struct json_doc *d, int process, char *err, size_t errlen);
/* Applies process attributes (rlimits, cwd, env, user...) and execs args.
 * *start_fd (an init's, else -1): all of that but the execve runs before
 * `start`, while the host turns from create to start; then the init waits for
 * the start byte there, and *start_fd becomes -1. A failure before then is the
 * caller's to report once started, as runc's init reports it. */
int exec_process(const struct json_doc *d, int process, const struct json_doc *seccomp_doc, int seccomp, int *start_fd,
                 char *err, size_t errlen);
/* 1 once the agent wrote the start byte on fd, 0 when it closed its end
 * (never started); -1 on another error, in err (NULL, 0: not wanted). */
int await_start(int fd, char *err, size_t errlen);

/* caps.c: process.capabilities; no-ops without that object. The bounding
 * set is cut before the uid change, the other sets are set after it. */
int caps_before_user(const struct json_doc *d, int process, char *err, size_t errlen);
int caps_after_user(const struct json_doc *d, int process, char *err, size_t errlen);

/* cgroup.c */
void cgroup_init(void);
/* Creates the container's cgroup, applies spec.linux.resources and moves
 * process pid (0: the caller) into it. */
int cgroup_enter_new(const char *id, pid_t pid, const struct json_doc *d, int spec, char *err, size_t errlen);
/* Applies a linux.resources object to a running container's cgroup (update). */
int cgroup_update(const char *id, const struct json_doc *d, int resources, char *err, size_t errlen);
/* Moves the calling process into the container's cgroup. */
int cgroup_enter(const char *id, char *err, size_t errlen);
/* Calls visit for every process in the container's cgroup. */
void cgroup_for_each_pid(const char *id, void (*visit)(pid_t pid, void *arg), void *arg);
/* Removes the (empty) cgroup of a stopped container. */
void cgroup_remove(const char *id);
/* The container's OOM kill count so far; 0, or -1 when memory.events cannot be read. */
int cgroup_oom_kills(const char *id, uint64_t *count);
/* Watches the container's memory.events on an inotify fd; returns the watch or -1. */
int cgroup_watch_events(int inotify_fd, const char *id);
/* Writes {"<file>":"<content>",...}: the container's cgroup files for stats. */
void cgroup_write_stats(struct json_builder *jb, const char *id);

/* userns.c: a new user namespace (runc's order: see there).
 * userns_requested: linux.namespaces has a "user" entry without a path.
 * userns_write_mappings: the agent writes linux.uidMappings/gidMappings to
 * /proc/<pid>/uid_map and gid_map of the child cloned into the namespace.
 * userns_become_root: in that child, once mapped: uid and gid 0 inside.
 * userns_join: for exec, enters the user namespace of init_pid (when it is
 * not the agent's) as its root; before the namespaces it owns. */
int userns_requested(const struct json_doc *d, int spec);
int userns_write_mappings(pid_t pid, const struct json_doc *d, int spec, char *err, size_t errlen);
int userns_become_root(char *err, size_t errlen);
int userns_join(pid_t init_pid, char *err, size_t errlen);

/* seccomp.c: installs the filter of an OCI linux.seccomp object (no-op
 * when tok is not an object). */
int seccomp_install(const struct json_doc *d, int seccomp, char *err, size_t errlen);

/* The spec annotation of a pod container that shares namespaces of another
 * container of the VM: {"ipc":"<id>","pid":"<id>","uts":"<id>"} (PROTOCOL.md). */
#define SHARE_ANNOTATION "org.vmrt.pod.share"

/* network.c: applies the org.vmrt.network annotation (interfaces matched by
 * MAC: name, MTU, addresses, up; then routes) to the guest. Idempotent. */
#define NETWORK_ANNOTATION "org.vmrt.network"
int network_apply(const char *json_text, char *err, size_t errlen);
/* Brings lo up (a VM without org.vmrt.network has it down; runc's containers have it up). */
void loopback_up(void);
/* 1 when the NIC of every interface (by MAC) is in the guest, 0 when one is
 * missing (a hot-plugged NIC not probed yet), -1 for a bad document. */
int network_present(const char *json_text);
/* Takes the document's interfaces out of the guest by powering off the PCIe
 * slot ("slot") of each one's NIC. */
int network_remove(const char *json_text, char *err, size_t errlen);

/* dns.c: the relay of queries to 127.0.0.11:53 (Docker's embedded DNS) over
 * the agent port. dns_wanted: the spec's /etc/resolv.conf names 127.0.0.11;
 * dns_open returns the UDP socket or -1; dns_read turns the queries waiting
 * on it into DNS frames in `out`; dns_answer sends the answer of a DNS frame
 * from the host to the query's client. */
int dns_wanted(const struct json_doc *d, int spec);
int dns_open(void);
void dns_read(int fd, struct vmrt_buf *out);
void dns_answer(int fd, const struct vmrt_frame *f);

/* checkpoint.c: CRIU from the host's copy shared into the VM (PROTOCOL.md).
 * A `checkpoint` request (criu, images, work, leaveRunning, criuArgs) dumps
 * the process tree of init_pid. A create whose spec carries the annotation
 * below restores instead: the restored init gets the pipe ends stdio[0..2]
 * and becomes the agent's child; returns its pid, or -1 with err set. */
#define RESTORE_ANNOTATION "org.vmrt.restore"
int checkpoint_dump(pid_t init_pid, const struct json_doc *d, char *err, size_t errlen);
pid_t checkpoint_restore(const char *id, const struct json_doc *d, int spec, const char *restore_json,
                         const int stdio[3], char *err, size_t errlen);

/* procfs.c */
typedef void (*pid_visitor)(pid_t pid, void *arg);
/* Calls visit for every process of a container: those in the pid namespace of
 * init_pid, or with shared_pidns (a pod container in another's pid namespace)
 * those in the container's cgroup. */
void for_each_container_pid(pid_t init_pid, const char *id, int shared_pidns, pid_visitor visit, void *arg);
/* Writes the `processes` array of a ps answer. */
void write_ps(struct json_builder *jb, pid_t init_pid, const char *id, int shared_pidns);

#endif
