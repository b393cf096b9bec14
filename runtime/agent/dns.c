/* Name resolution on Docker's user-defined networks. Their containers ask
 * Docker's embedded DNS server at 127.0.0.11, which lives in the container's
 * network namespace on the host, where the VM's own loopback cannot reach.
 * The agent answers on 127.0.0.11:53 (UDP) by relaying each query as a DNS
 * frame to the init shim, which asks 127.0.0.11 in that netns and sends the
 * answer back under the same stream id (PROTOCOL.md). */
#include "agent.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Queries in flight: an answer later than 64 newer queries is dropped (the
 * client retries, as with a lost datagram). */
#define PENDING 64
static struct {
    uint32_t id;
    struct sockaddr_in from;
} pending[PENDING];
static uint32_t last_id;

/* Only then: while the relay holds 127.0.0.11:53, a container process cannot
 * bind UDP port 53 on every address (a DNS server would bind its own). */
int dns_wanted(const struct json_doc *d, int spec)
{
    int mounts = json_get(d, spec, "mounts");
    int wanted = 0;
    for (int m = json_first(d, mounts); m >= 0 && !wanted; m = json_next(d, mounts, m)) {
        if (!json_str_eq(d, json_get(d, m, "destination"), "/etc/resolv.conf")) continue;
        char *source = json_get_strdup(d, m, "source", "");
        char text[4096] = ""; /* stays empty when the file cannot be read */
        read_file(source, text, sizeof text);
        wanted = strstr(text, "nameserver 127.0.0.11") != NULL;
        free(source);
    }
    return wanted;
}

int dns_open(void)
{
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    /* lo may not be up yet: bind the address before it exists. */
    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons(53) };
    inet_pton(AF_INET, "127.0.0.11", &addr.sin_addr);
    if (fd < 0 || setsockopt(fd, IPPROTO_IP, IP_FREEBIND, &one, sizeof one) != 0 ||
        bind(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
        log_msg("DNS relay on 127.0.0.11:53: %s", strerror(errno));
        if (fd >= 0) close(fd);
        return -1;
    }
    return fd;
}

void dns_read(int fd, struct vmrt_buf *out)
{
    unsigned char query[4096];
    struct sockaddr_in from;
    socklen_t len = sizeof from;
    ssize_t n;
    while ((n = recvfrom(fd, query, sizeof query, 0, (struct sockaddr *)&from, &len)) > 0) {
        if (++last_id == 0) last_id = 1;
        pending[last_id % PENDING].id = last_id;
        pending[last_id % PENDING].from = from;
        vmrt_frame_append(out, VMRT_DNS, last_id, query, (size_t)n);
        len = sizeof from;
    }
}

void dns_answer(int fd, const struct vmrt_frame *f)
{
    uint32_t slot = f->stream % PENDING;
    if (fd < 0 || f->stream == 0 || pending[slot].id != f->stream) return;
    pending[slot].id = 0;
    sendto(fd, f->payload, f->payload_len, 0, (struct sockaddr *)&pending[slot].from, sizeof pending[slot].from);
}
