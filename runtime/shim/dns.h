/* The init shim's half of the DNS relay (agent/dns.c): a DNS frame from the
 * agent is a query for 127.0.0.11:53, Docker's embedded DNS server in the
 * container's netns, where the shim lives. The shim asks it over UDP and sends
 * the answer back as a DNS frame with the same stream id. */
#ifndef VMRT_SHIM_DNS_H
#define VMRT_SHIM_DNS_H

#include <stdint.h>

#include "conn.h"
#include "proto.h"

#define DNS_IN_FLIGHT 64

struct dns_relay {
    struct {
        int fd;
        uint32_t stream;
        int64_t deadline;
    } q[DNS_IN_FLIGHT];
    int n;
};

/* Sends the query of a DNS frame; a query that cannot be sent is dropped (the
 * client retries, as with a lost datagram). */
void dns_relay_query(struct dns_relay *r, const struct vmrt_frame *f);
/* The answer on `fd` goes to the agent. */
void dns_relay_answer(struct dns_relay *r, int fd, struct conn *up);
/* Forgets queries unanswered for 5 s. */
void dns_relay_expire(struct dns_relay *r);

#endif
