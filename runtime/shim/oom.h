/* A guest OOM kill, made visible in the container's host cgroup. containerd's
 * runc shim learns of OOM kills from that cgroup only (cgroup v1: an eventfd on
 * memory.oom_control, which fires for an OOM of that very cgroup, not of a
 * child; v2: the oom_kill count of memory.events, hierarchical, but a cgroup
 * with processes (QEMU, the shims) cannot give a child its own memory.max).
 * The guest's OOM happens in another kernel, so the init shim, which sits in
 * that cgroup with QEMU, brings about a real one there, within milliseconds:
 * its sacrificial child fills memory while the cgroup's limit is set just
 * above its usage, then the limit is put back.
 * - v1: with oom_kill_disable set meanwhile, nothing is killed: the child
 *   enters the cgroup's OOM (the eventfd fires) and waits there until the shim
 *   ends it. (Kernel allocations of QEMU in that moment fail with ENOMEM.)
 * - v2: the OOM killer must kill for oom_kill to count: every other process of
 *   the cgroup gets oom_score_adj -1000 meanwhile, so the child is the victim.
 *   That needs CAP_SYS_RESOURCE; without it nothing is tried. */
#ifndef VMRT_SHIM_OOM_H
#define VMRT_SHIM_OOM_H

#include <stddef.h>

/* Returns 0 once the cgroup went through an OOM, or -1 with a reason in err. */
int oom_mirror(char *err, size_t errlen);

#endif
