/*
 * engine/input/udp.c -- syslog over UDP, the `udp` input kind (input.h).
 *
 * The socket is bound by open (canh_input_bind, while canh is still root:
 * port 514), asking for the kernel's drop count (SO_RXQ_OVFL) and the
 * configured receive buffer. Datagrams are read UDP_BATCH at a time with
 * recvmmsg; UDP cannot wait, so every datagram the kernel drops is
 * counted: each datagram carries the socket's drop count (SO_RXQ_OVFL),
 * and the count is read from the socket itself (SO_MEMINFO) at every stats
 * record (counts) and at the stop, so drops after the last datagram
 * received are counted too. At the stop, the datagrams the socket holds
 * are read and processed first. Each sender (address and port) is one
 * stream of the pipeline.
 *
 * Runs on the daemon's input thread (run.c's loop).
 */
#include "input.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../pipeline.h"

#define UDP_BATCH 64               /* datagrams per recvmmsg */
#define READS_PER_TURN 16          /* recvmmsg calls per wake-up: fairness */

typedef struct udp_in {
    int fd;
    const canh_config_t *cfg;
    const canh_config_input_t *ci;
    canh_input_env_t env;
    char *ubuf;                 /* UDP_BATCH slots of max_message_size bytes */
    uint32_t ovfl;              /* the socket's drop count (SO_RXQ_OVFL, SO_MEMINFO),
                                   the newest seen */
    struct sockaddr_storage last_from;   /* the last sender, and its text (sender_text) */
    socklen_t last_from_len;
    char last_sender[INET6_ADDRSTRLEN + 16];
    size_t last_sender_len;
    uint64_t received, truncated;
} udp_in_t;

/*
 * The socket's drop count (sk_drops) only grows, as a 32-bit counter that
 * may wrap: a value is newer when it is ahead of the last one seen.
 * SO_RXQ_OVFL gives the count as it was when a datagram was queued, so a
 * datagram read after a newer SO_MEMINFO reading carries an older value.
 */
static void udp_drops_note(udp_in_t *s, uint32_t v)
{
    if ((int32_t)(v - s->ovfl) > 0)
        s->ovfl = v;
}

/*
 * The socket's drop count now (SO_MEMINFO, SK_MEMINFO_DROPS: Linux 4.6 and
 * later; older kernels leave the count to the datagrams' SO_RXQ_OVFL).
 */
static void udp_drops_now(udp_in_t *s)
{
    uint32_t mi[SK_MEMINFO_VARS] = { 0 };
    socklen_t len = sizeof(mi);
    if (s->fd >= 0 && getsockopt(s->fd, SOL_SOCKET, SO_MEMINFO, mi, &len) == 0 &&
        len > SK_MEMINFO_DROPS * sizeof(uint32_t))
        udp_drops_note(s, mi[SK_MEMINFO_DROPS]);
}

/* A sender's "addr:port" ("[v6]:port") into buf, as log.source.address
 * says it; "?" if the family is unknown. Returns its length. */
static size_t sender_text(const struct sockaddr_storage *sa, char *buf, size_t n)
{
    char host[INET6_ADDRSTRLEN];
    int len;
    if (sa->ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
        len = snprintf(buf, n, "%s:%u", host, ntohs(a->sin_port));
    } else if (sa->ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)sa;
        inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
        len = snprintf(buf, n, "[%s]:%u", host, ntohs(a->sin6_port));
    } else {
        len = snprintf(buf, n, "?");
    }
    return len > 0 && (size_t)len < n ? (size_t)len : 0;
}

/*
 * Datagrams, UDP_BATCH per system call, at most READS_PER_TURN calls; the
 * number read. Each carries the kernel's count of datagrams it dropped on
 * this socket for want of room (SO_RXQ_OVFL), so what was sent equals what
 * was received plus that count (drops after the last datagram read are
 * read from the socket: udp_drops_now). A datagram longer than
 * max_message_size is truncated (MSG_TRUNC) and counted.
 */
static size_t udp_read(udp_in_t *s)
{
    size_t got = 0;
    size_t max = s->cfg->limits.max_message_size;
    struct mmsghdr msgs[UDP_BATCH];
    struct iovec iov[UDP_BATCH];
    char ctl[UDP_BATCH][CMSG_SPACE(sizeof(uint32_t))];
    struct sockaddr_storage from[UDP_BATCH];
    for (int turn = 0; turn < READS_PER_TURN; turn++) {
        for (int i = 0; i < UDP_BATCH; i++) {
            iov[i] = (struct iovec){ s->ubuf + (size_t)i * max, max };
            msgs[i].msg_hdr = (struct msghdr){ .msg_iov = &iov[i], .msg_iovlen = 1,
                                               .msg_name = &from[i],
                                               .msg_namelen = sizeof(from[i]),
                                               .msg_control = ctl[i],
                                               .msg_controllen = sizeof(ctl[i]) };
        }
        int n = recvmmsg(s->fd, msgs, UDP_BATCH, MSG_DONTWAIT, NULL);
        if (n <= 0)
            return got;   /* EAGAIN: drained */
        got += (size_t)n;
        for (int i = 0; i < n; i++) {
            struct msghdr *h = &msgs[i].msg_hdr;
            for (struct cmsghdr *c = CMSG_FIRSTHDR(h); c; c = CMSG_NXTHDR(h, c))
                if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_RXQ_OVFL) {
                    uint32_t v;
                    memcpy(&v, CMSG_DATA(c), sizeof(v));
                    udp_drops_note(s, v);
                }
            size_t len = msgs[i].msg_len;
            if (h->msg_flags & MSG_TRUNC) {
                s->truncated++;
                if (s->cfg->limits.oversize == CANH_OVERSIZE_DROP)
                    continue;
            }
            const char *p = s->ubuf + (size_t)i * max;
            while (len && (p[len - 1] == '\n' || p[len - 1] == '\0'))
                len--;
            s->received++;
            size_t alen = h->msg_namelen < sizeof(from[i]) ? h->msg_namelen : sizeof(from[i]);
            if (len) {   /* each sender (address and port) is one stream */
                if (alen != s->last_from_len || memcmp(&from[i], &s->last_from, alen) != 0) {
                    memcpy(&s->last_from, &from[i], alen);   /* a flood: mostly the same */
                    s->last_from_len = (socklen_t)alen;
                    s->last_sender_len = sender_text(&from[i], s->last_sender,
                                                     sizeof(s->last_sender));
                }
                canh_origin_t o = { .kind = CANH_ORIGIN_UDP, .name = s->last_sender,
                                    .name_len = s->last_sender_len,
                                    .ident = { s->env.started_ns, 0 }, .pos = s->received };
                canh_pipeline_line_at(s->env.pl, s->env.input, canh_stream_key(&from[i], alen), p, len,
                                      &o);
            }
        }
        if (n < UDP_BATCH)
            return got;
    }
    return got;
}

/*
 * Stopping: the datagrams the socket holds when the stop comes are read
 * and processed, as a TCP connection's bytes are (drain_at_stop). Bounded
 * by what it holds then: every queued datagram takes more than
 * UDP_MIN_TRUESIZE bytes of the receive buffer (its sk_buff alone does).
 */
#define UDP_MIN_TRUESIZE 256
static void udp_drain_at_stop(udp_in_t *s)
{
    uint32_t mi[SK_MEMINFO_VARS] = { 0 };
    socklen_t len = sizeof(mi);
    size_t budget = UDP_BATCH * READS_PER_TURN;   /* without SO_MEMINFO: one turn */
    if (getsockopt(s->fd, SOL_SOCKET, SO_MEMINFO, mi, &len) == 0 &&
        len > SK_MEMINFO_RMEM_ALLOC * sizeof(uint32_t))
        budget = mi[SK_MEMINFO_RMEM_ALLOC] / UDP_MIN_TRUESIZE + UDP_BATCH;
    for (size_t n; budget > 0 && (n = udp_read(s)) > 0;)
        budget -= n < budget ? n : budget;
}


/* ---- the input kind ---- */

static void udp_in_free(void *self)
{
    udp_in_t *s = self;
    if (!s)
        return;
    if (s->fd >= 0)
        close(s->fd);
    free(s->ubuf);
    free(s);
}

static int udp_in_open(const canh_config_t *cfg, const canh_config_input_t *ci, void **self,
                       char *err, size_t errlen)
{
    *self = NULL;
    udp_in_t *s = calloc(1, sizeof(*s));
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return CANH_ENOMEM;
    }
    s->cfg = cfg;
    s->ci = ci;
    if ((s->fd = canh_input_bind(cfg, ci, SOCK_DGRAM, err, errlen)) < 0) {
        free(s);
        return CANH_EIO;
    }
    *self = s;
    return CANH_OK;
}

static int udp_in_start(void *self, const canh_input_env_t *env, char *err, size_t errlen)
{
    udp_in_t *s = self;
    s->env = *env;
    if (!(s->ubuf = malloc(UDP_BATCH * s->cfg->limits.max_message_size))) {
        snprintf(err, errlen, "out of memory for the udp input %s", s->ci->name);
        return CANH_ENOMEM;
    }
    CANH_INFO("input %s: listening on udp %s", s->ci->name, s->ci->listen);
    return CANH_OK;
}

static size_t udp_in_fds(void *self, int *fds, size_t max)
{
    udp_in_t *s = self;
    if (!max || s->fd < 0)
        return 0;
    fds[0] = s->fd;
    return 1;
}

static int udp_in_read(void *self, int fd)
{
    udp_in_t *s = self;
    if (s->fd >= 0 && s->ubuf)
        udp_read(s);
    return CANH_OK;
}

static void udp_in_counts(void *self, canh_input_counts_t *c)
{
    udp_in_t *s = self;
    udp_drops_now(s);   /* drops since the last datagram read are in the socket's count */
    c->dgram_received += s->received;
    c->dgram_dropped += s->ovfl;
    c->dgram_truncated += s->truncated;
}

static void udp_in_close(void *self, int stopping)
{
    udp_in_t *s = self;
    if (s->fd < 0)
        return;
    if (stopping && s->ubuf)
        udp_drain_at_stop(s);
    udp_drops_now(s);
    close(s->fd);
    s->fd = -1;
    free(s->ubuf);
    s->ubuf = NULL;
}

const canh_input_ops_t canh_input_udp = {
    .kind = "udp",
    .open = udp_in_open,
    .start = udp_in_start,
    .fds = udp_in_fds,
    .read = udp_in_read,
    .counts = udp_in_counts,
    .close = udp_in_close,
    .free = udp_in_free,
};
