/* See dns.h. */
#include "dns.h"
#include "clock.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sys.h"

#define ANSWER_TIMEOUT_MS 5000

static void forget(struct dns_relay *r, int i)
{
    close(r->q[i].fd);
    r->q[i] = r->q[--r->n];
}

void dns_relay_query(struct dns_relay *r, const struct vmrt_frame *f)
{
    if (r->n == DNS_IN_FLIGHT) forget(r, 0);
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    struct sockaddr_in docker_dns = { .sin_family = AF_INET, .sin_port = htons(53) };
    inet_pton(AF_INET, "127.0.0.11", &docker_dns.sin_addr);
    if (fd < 0) return;
    if (connect(fd, (struct sockaddr *)&docker_dns, sizeof docker_dns) != 0 ||
        send(fd, f->payload, f->payload_len, 0) < 0) {
        close(fd);
        return;
    }
    r->q[r->n].fd = fd;
    r->q[r->n].stream = f->stream;
    r->q[r->n].deadline = now_ms() + ANSWER_TIMEOUT_MS;
    r->n++;
}

void dns_relay_answer(struct dns_relay *r, int fd, struct conn *up)
{
    for (int i = 0; i < r->n; i++) {
        if (r->q[i].fd != fd) continue;
        unsigned char answer[4096];
        ssize_t n = recv(fd, answer, sizeof answer, 0);
        if (n > 0) conn_send(up, VMRT_DNS, r->q[i].stream, answer, (size_t)n);
        forget(r, i);
        return;
    }
}

void dns_relay_expire(struct dns_relay *r)
{
    int64_t now = now_ms();
    for (int i = r->n - 1; i >= 0; i--) {
        if (now >= r->q[i].deadline) forget(r, i);
    }
}
