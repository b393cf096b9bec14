/* The netlink socket address and protocol (linux/netlink.h), shared by the agent and the
 * shim: not in musl's include path; the values are fixed kernel ABI. */
#ifndef VMRT_NETLINK_H
#define VMRT_NETLINK_H

#include <stdint.h>

struct sockaddr_nl_ {
    unsigned short nl_family, nl_pad;
    uint32_t nl_pid, nl_groups;
};
#define NETLINK_ROUTE 0

#endif
