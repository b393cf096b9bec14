/* The guest's network, from the spec annotation org.vmrt.network that the
 * host side writes (runtime/src/network.ts): each interface is found by its
 * MAC (or, in a VM restored from a template, by the MAC of the template's NIC,
 * which it then gets), renamed, given its MTU and addresses and brought up;
 * then the routes. A template's NIC that no interface takes leaves the guest.
 * The same document comes with the ops network-add and network-remove for
 * NICs hot-plugged into (or unplugged from) the running VM (docker network
 * connect/disconnect). rtnetlink directly: a static PID 1 without iproute2. */
#include "agent.h"
#include "clock.h"
#include "netlink.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

/* rtnetlink ABI (linux/netlink.h, linux/rtnetlink.h, linux/if_link.h): not
 * in musl's include path; the values are fixed kernel ABI. */
struct nlmsghdr {
    uint32_t nlmsg_len;
    uint16_t nlmsg_type, nlmsg_flags;
    uint32_t nlmsg_seq, nlmsg_pid;
};
struct nlmsgerr {
    int error;
    struct nlmsghdr msg;
};
struct rtattr {
    unsigned short rta_len, rta_type;
};
struct ifinfomsg {
    unsigned char ifi_family, pad;
    unsigned short ifi_type;
    int ifi_index;
    unsigned ifi_flags, ifi_change;
};
struct ifaddrmsg {
    uint8_t ifa_family, ifa_prefixlen, ifa_flags, ifa_scope;
    uint32_t ifa_index;
};
struct rtmsg {
    unsigned char rtm_family, rtm_dst_len, rtm_src_len, rtm_tos, rtm_table, rtm_protocol, rtm_scope, rtm_type;
    unsigned rtm_flags;
};
#define NLMSG_ERROR       2
#define NLM_F_REQUEST     0x01
#define NLM_F_ACK         0x04
#define NLM_F_EXCL        0x200
#define NLM_F_CREATE      0x400
#define RTM_NEWLINK       16
#define RTM_NEWADDR       20
#define RTM_NEWROUTE      24
#define IFLA_ADDRESS      1
#define IFLA_IFNAME       3
#define IFLA_MTU          4
#define IFA_ADDRESS       1
#define IFA_LOCAL         2
#define IFA_BROADCAST     4
#define RTA_DST           1
#define RTA_OIF           4
#define RTA_GATEWAY       5
#define RT_TABLE_MAIN     254
#define RTPROT_BOOT       3
#define RT_SCOPE_UNIVERSE 0
#define RT_SCOPE_LINK     253
#define RTN_UNICAST       1
#define NL_ALIGN(n)       (((n) + 3u) & ~3u)

struct nl_request {
    struct nlmsghdr hdr;
    char body[512];
};

static void *nl_begin(struct nl_request *r, uint16_t type, uint16_t flags, size_t body_len)
{
    memset(r, 0, sizeof *r);
    r->hdr.nlmsg_type = type;
    r->hdr.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
    r->hdr.nlmsg_len = (uint32_t)NL_ALIGN(sizeof r->hdr + body_len);
    return r->body;
}

static void nl_attr(struct nl_request *r, unsigned short type, const void *data, size_t len)
{
    struct rtattr *a = (struct rtattr *)((char *)r + r->hdr.nlmsg_len);
    a->rta_type = type;
    a->rta_len = (unsigned short)(sizeof *a + len);
    memcpy(a + 1, data, len);
    r->hdr.nlmsg_len += NL_ALIGN(a->rta_len);
}

/* Sends one request and returns the kernel's answer: 0 or -errno. */
static int nl_talk(int fd, struct nl_request *r)
{
    static uint32_t seq;
    r->hdr.nlmsg_seq = ++seq;
    if (send(fd, r, r->hdr.nlmsg_len, 0) < 0) {
        return -errno;
    }
    char buf[4096];
    for (;;) {
        ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n < 0) {
            if (errno == EINTR) continue;
            return -errno;
        }
        for (struct nlmsghdr *h = (struct nlmsghdr *)buf;
             n >= (ssize_t)sizeof *h && h->nlmsg_len >= sizeof *h && h->nlmsg_len <= (size_t)n;) {
            if (h->nlmsg_seq == seq && h->nlmsg_type == NLMSG_ERROR) {
                return ((struct nlmsgerr *)(h + 1))->error;
            }
            n -= NL_ALIGN(h->nlmsg_len);
            h = (struct nlmsghdr *)((char *)h + NL_ALIGN(h->nlmsg_len));
        }
    }
}

#define MAC_LEN 6

/* `mac`, when not NULL, is the link's new hardware address. */
static int set_link(int fd, int index, const char *name, const unsigned char *mac, unsigned mtu, int up)
{
    struct nl_request r;
    struct ifinfomsg *ifi = nl_begin(&r, RTM_NEWLINK, 0, sizeof *ifi);
    ifi->ifi_index = index;
    ifi->ifi_change = IFF_UP;
    ifi->ifi_flags = up ? IFF_UP : 0;
    if (name) nl_attr(&r, IFLA_IFNAME, name, strlen(name) + 1);
    if (mac) nl_attr(&r, IFLA_ADDRESS, mac, MAC_LEN);
    if (mtu) nl_attr(&r, IFLA_MTU, &mtu, sizeof mtu);
    return nl_talk(fd, &r);
}

/* Parses "addr[/len]"; len defaults to the full length. Returns the family. */
static int parse_prefix(const char *text, unsigned char addr[16], unsigned *len)
{
    char copy[64];
    snprintf(copy, sizeof copy, "%s", text);
    char *slash = strchr(copy, '/');
    if (slash) *slash = '\0';
    int family = strchr(copy, ':') ? AF_INET6 : AF_INET;
    if (inet_pton(family, copy, addr) != 1) {
        return -1;
    }
    unsigned max = family == AF_INET ? 32 : 128;
    *len = slash ? (unsigned)strtoul(slash + 1, NULL, 10) : max;
    return *len <= max ? family : -1;
}

static int index_by_mac(const char *mac);
static int remove_unused(const struct json_doc *d, int list, char *err, size_t errlen);

static int parse_mac(const char *text, unsigned char mac[MAC_LEN])
{
    char end;
    return sscanf(text, "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx%c", &mac[0], &mac[1], &mac[2], &mac[3], &mac[4], &mac[5],
                  &end) == 6
               ? 0
               : -1;
}

/* A VM's NICs beyond the template's are hot-plugged as it resumes or boots: the guest's pciehp
 * and virtio-net probe them within about a second, while the container's create already runs. */
#define NIC_APPEAR_TIMEOUT_MS 10000
#define RTMGRP_LINK           1

/* Looks again at each link the kernel announces, not on a timer: subscribed before the first
 * look, so a NIC registered meanwhile still wakes the wait. Without the socket, every 20 ms. */
static int index_by_mac_waiting(const char *mac)
{
    int events = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_ROUTE);
    struct sockaddr_nl_ links = { AF_NETLINK, 0, 0, RTMGRP_LINK };
    if (events >= 0 && bind(events, (struct sockaddr *)&links, sizeof links) != 0) {
        close(events);
        events = -1;
    }
    int64_t deadline = now_ms() + NIC_APPEAR_TIMEOUT_MS;
    int index;
    while (!(index = index_by_mac(mac)) && ms_until(deadline) > 0) {
        struct pollfd pfd = { events, POLLIN, 0 };
        poll(&pfd, 1, events >= 0 ? ms_until(deadline) : 20);
        char drained[4096];
        while (events >= 0 && recv(events, drained, sizeof drained, 0) > 0) {}
    }
    if (events >= 0) close(events);
    return index;
}

static int index_by_mac(const char *mac)
{
    DIR *dir = opendir("/sys/class/net");
    int index = 0;
    struct dirent *e;
    while (dir && !index && (e = readdir(dir))) {
        char path[300], value[64] = "";
        snprintf(path, sizeof path, "/sys/class/net/%s/address", e->d_name);
        if (read_file(path, value, sizeof value) > 0) {
            value[strcspn(value, "\n")] = '\0';
            if (!strcasecmp(value, mac)) index = (int)if_nametoindex(e->d_name);
        }
    }
    if (dir) closedir(dir);
    return index;
}

#define FAIL_NET(...)                                                                                                  \
    do {                                                                                                               \
        snprintf(err, errlen, __VA_ARGS__);                                                                            \
        goto out;                                                                                                      \
    } while (0)

int network_apply(const char *text, char *err, size_t errlen)
{
    struct json_doc d;
    int rc = -1;
    int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (json_parse(&d, text, strlen(text)) != 0 || !json_is(&d, 0, JSON_OBJECT)) {
        FAIL_NET("org.vmrt.network is not a JSON object");
    }
    if (fd < 0) FAIL_NET("netlink: %s", strerror(errno));
    struct sockaddr_nl_ local = { AF_NETLINK, 0, 0, 0 };
    if (bind(fd, (struct sockaddr *)&local, sizeof local) != 0) FAIL_NET("netlink bind: %s", strerror(errno));

    int ifaces = json_get(&d, 0, "interfaces");
    for (int i = json_first(&d, ifaces); i >= 0; i = json_next(&d, ifaces, i)) {
        char *mac = json_get_strdup(&d, i, "mac", "");
        char *name = json_get_strdup(&d, i, "name", "");
        char *template_mac = json_get_strdup(&d, i, "templateMac", NULL);
        if (!mac || !name || (!template_mac && json_is(&d, json_get(&d, i, "templateMac"), JSON_STRING))) {
            free(mac);
            free(name);
            free(template_mac);
            FAIL_NET("out of memory");
        }
        /* A template's NIC is there from the restore; a hot-plugged one may still be probed. */
        int index = template_mac ? index_by_mac(template_mac) : index_by_mac_waiting(mac);
        char current[IF_NAMESIZE] = "";
        if (index) if_indextoname((unsigned)index, current);
        unsigned char new_mac[MAC_LEN];
        int ok = index > 0;
        int e = template_mac && parse_mac(mac, new_mac) != 0 ? -EINVAL : 0;
        if (ok && !e && (template_mac || (name[0] && strcmp(current, name) != 0))) {
            /* A link is renamed, and given its address, while down. */
            e = set_link(fd, index, NULL, NULL, 0, 0);
            if (!e) e = set_link(fd, index, name[0] ? name : NULL, template_mac ? new_mac : NULL, 0, 0);
        }
        if (ok && !e) e = set_link(fd, index, NULL, NULL, (unsigned)json_i64_or(&d, json_get(&d, i, "mtu"), 0), 1);
        snprintf(err, errlen, "interface %s (%s): %s", name, mac,
                 ok             ? strerror(-e)
                 : template_mac ? "the template's NIC is missing"
                                : "no NIC with that MAC");
        free(mac);
        free(name);
        free(template_mac);
        if (!ok || e) goto out;

        int addrs = json_get(&d, i, "addresses");
        for (int a = json_first(&d, addrs); a >= 0; a = json_next(&d, addrs, a)) {
            char *cidr = json_strdup(&d, a);
            unsigned char addr[16];
            unsigned len = 0;
            int family = cidr ? parse_prefix(cidr, addr, &len) : -1;
            if (family < 0) {
                snprintf(err, errlen, "bad address %s", cidr ? cidr : "");
                free(cidr);
                goto out;
            }
            struct nl_request r;
            struct ifaddrmsg *ifa = nl_begin(&r, RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, sizeof *ifa);
            ifa->ifa_family = (uint8_t)family;
            ifa->ifa_prefixlen = (uint8_t)len;
            ifa->ifa_index = (uint32_t)index;
            size_t alen = family == AF_INET ? 4 : 16;
            nl_attr(&r, IFA_LOCAL, addr, alen);
            nl_attr(&r, IFA_ADDRESS, addr, alen);
            if (family == AF_INET && len < 31) {
                /* As Docker's and CNI's netlink library gives an IPv4 address (`ip addr`: brd). */
                uint32_t host_bits = len ? 0xffffffffu >> len : 0xffffffffu, broadcast;
                memcpy(&broadcast, addr, 4);
                broadcast |= htonl(host_bits);
                nl_attr(&r, IFA_BROADCAST, &broadcast, 4);
            }
            e = nl_talk(fd, &r);
            if (e && e != -EEXIST) {
                snprintf(err, errlen, "address %s: %s", cidr, strerror(-e));
                free(cidr);
                goto out;
            }
            free(cidr);
        }
    }

    int routes = json_get(&d, 0, "routes");
    for (int t = json_first(&d, routes); t >= 0; t = json_next(&d, routes, t)) {
        char *dst = json_get_strdup(&d, t, "dst", "default");
        char *gateway = json_get_strdup(&d, t, "gateway", NULL);
        char *dev = json_get_strdup(&d, t, "dev", "");
        if (!dst || !dev || (!gateway && json_is(&d, json_get(&d, t, "gateway"), JSON_STRING))) {
            free(dst);
            free(gateway);
            free(dev);
            FAIL_NET("out of memory");
        }
        unsigned char dst_addr[16] = { 0 }, gw_addr[16];
        unsigned dst_len = 0, gw_len;
        int family = -1, gw_family = -1;
        if (!strcmp(dst, "default")) {
            family = gateway && strchr(gateway, ':') ? AF_INET6 : AF_INET;
        } else {
            family = parse_prefix(dst, dst_addr, &dst_len);
        }
        if (gateway) gw_family = parse_prefix(gateway, gw_addr, &gw_len);
        int oif = dev[0] ? (int)if_nametoindex(dev) : 0;
        int e = -EINVAL;
        if (family >= 0 && (!gateway || gw_family == family) && (!dev[0] || oif)) {
            struct nl_request r;
            struct rtmsg *rt = nl_begin(&r, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, sizeof *rt);
            rt->rtm_family = (unsigned char)family;
            rt->rtm_dst_len = (unsigned char)dst_len;
            rt->rtm_table = RT_TABLE_MAIN;
            rt->rtm_protocol = RTPROT_BOOT;
            rt->rtm_scope = gateway ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK;
            rt->rtm_type = RTN_UNICAST;
            size_t alen = family == AF_INET ? 4 : 16;
            if (dst_len) nl_attr(&r, RTA_DST, dst_addr, alen);
            if (gateway) nl_attr(&r, RTA_GATEWAY, gw_addr, alen);
            if (oif) nl_attr(&r, RTA_OIF, &oif, sizeof oif);
            e = nl_talk(fd, &r);
            if (e == -EEXIST) e = 0;
        }
        if (e) snprintf(err, errlen, "route %s via %s dev %s: %s", dst, gateway ? gateway : "-", dev, strerror(-e));
        free(dst);
        free(gateway);
        free(dev);
        if (e) goto out;
    }
    /* A restored VM's template NIC that the container has no interface for: gone, as under runc. */
    if (remove_unused(&d, json_get(&d, 0, "unused"), err, errlen) != 0) goto out;
    rc = 0;
out:
    if (fd >= 0) close(fd);
    json_free(&d);
    return rc;
}

int network_present(const char *text)
{
    struct json_doc d;
    if (json_parse(&d, text, strlen(text)) != 0 || !json_is(&d, 0, JSON_OBJECT)) return -1;
    int present = 1;
    int ifaces = json_get(&d, 0, "interfaces");
    for (int i = json_first(&d, ifaces); i >= 0 && present; i = json_next(&d, ifaces, i)) {
        char *mac = json_get_strdup(&d, i, "mac", "");
        if (!mac) {
            present = -1;
            break;
        }
        present = index_by_mac(mac) > 0;
        free(mac);
    }
    json_free(&d);
    return present;
}

/* Powers a hot-plug slot off: pciehp removes the NIC at once, and QEMU, seeing
 * the slot off, completes its device_del (without this, pciehp first waits 5 s
 * for the attention button's change of mind). */
static int power_off_slot(int64_t slot)
{
    char path[64];
    snprintf(path, sizeof path, "/sys/bus/pci/slots/%lld/power", (long long)slot);
    return write_text(path, "0") == 0 ? 0 : -errno;
}

/* Takes each NIC listed (by its "mac") out of the guest: its PCI device is
 * removed, not its slot powered off, for which pciehp waits a second. QEMU
 * keeps the device, which the guest no longer sees. */
static int remove_unused(const struct json_doc *d, int list, char *err, size_t errlen)
{
    for (int i = json_first(d, list); i >= 0; i = json_next(d, list, i)) {
        char *mac = json_get_strdup(d, i, "mac", "");
        char name[IF_NAMESIZE] = "", path[96];
        int index = mac ? index_by_mac(mac) : 0;
        int e = !mac ? -ENOMEM : 0;
        if (index && if_indextoname((unsigned)index, name)) {
            /* The netdev's device is the virtio device; its parent, the PCI function. */
            snprintf(path, sizeof path, "/sys/class/net/%s/device/../remove", name);
            if (write_text(path, "1") != 0) e = -errno;
        }
        if (e) snprintf(err, errlen, "removing the unused NIC %s: %s", mac ? mac : "", strerror(-e));
        free(mac);
        if (e) return -1;
    }
    return 0;
}

int network_remove(const char *text, char *err, size_t errlen)
{
    struct json_doc d;
    int rc = -1;
    if (json_parse(&d, text, strlen(text)) != 0 || !json_is(&d, 0, JSON_OBJECT)) {
        snprintf(err, errlen, "the network is not a JSON object");
        return -1;
    }
    int ifaces = json_get(&d, 0, "interfaces");
    for (int i = json_first(&d, ifaces); i >= 0; i = json_next(&d, ifaces, i)) {
        char *mac = json_get_strdup(&d, i, "mac", "");
        int64_t slot;
        int e = 0;
        if (!mac) {
            snprintf(err, errlen, "out of memory");
            e = -ENOMEM;
        } else if (json_i64(&d, json_get(&d, i, "slot"), &slot) != 0) {
            snprintf(err, errlen, "interface %s: no slot", mac);
            e = -EINVAL;
        } else if (index_by_mac(mac) > 0) { /* else gone already */
            e = power_off_slot(slot);
            if (e) snprintf(err, errlen, "slot %lld of %s: %s", (long long)slot, mac, strerror(-e));
        }
        free(mac);
        if (e) goto out;
    }
    rc = 0;
out:
    json_free(&d);
    return rc;
}

void loopback_up(void)
{
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "lo");
    if (fd >= 0 && ioctl(fd, SIOCGIFFLAGS, &ifr) == 0 && !(ifr.ifr_flags & IFF_UP)) {
        ifr.ifr_flags |= IFF_UP;
        if (ioctl(fd, SIOCSIFFLAGS, &ifr) != 0) log_msg("bring lo up: %s", strerror(errno));
    }
    if (fd >= 0) close(fd);
}
