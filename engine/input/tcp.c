/*
 * engine/input/tcp.c -- syslog over TCP and TLS, the `tcp` and `tls` input
 * kinds (input.h).
 *
 * open binds the socket (canh_input_bind: port 514 needs root) and, for
 * tls, reads the certificate and key (tls.c; a key is often readable by
 * root only), before canh switches user; start listens, once the pipeline
 * is up, so that until then a sender is refused, not held in the backlog.
 * The listener and its connections are in an epoll set of the input's
 * own, whose descriptor is what the daemon's loop waits on (fds): a
 * wake-up reads what is ready. Bytes read from a connection go through its
 * RFC 6587 framer (framing.c); each message is fed to the pipeline, whose
 * feeding waits when every batch is busy, so this input stops reading and
 * TCP senders wait too: nothing accepted is dropped. A connection is one
 * stream of the pipeline: its audit records stay together.
 *
 * TLS connections (tls.c) are read through OpenSSL into the same framer;
 * one that sends plain text is closed and counted.
 *
 * No sender can hold the TCP and TLS inputs' places (conn_* below): each
 * connection has deadlines, checked once a second, in one place for both
 * kinds: a TLS handshake done within TLS_HANDSHAKE_MS, a message ended
 * within partial_frame_timeout of its start (else the connection is
 * closed and that message counted as cut; the messages before it are
 * kept), something heard within idle_timeout. A socket that holds bytes is
 * read before it is judged: bytes canh has not read yet (while the
 * pipeline held it up) are the sender's words, not its silence. One
 * address (an IPv6 /64) holds at most max_connections_per_address
 * connections. When max_connections are all taken, a new sender takes the
 * place of the connection idle longest among those that have not sent a
 * whole message yet (each listener keeps its connections on two lists,
 * silent and talking, longest idle first), else of the talking one idle
 * longest if quiet for EVICT_MIN_QUIET_MS; only when every connection is
 * busy is the new one refused. Each of these is counted per input, and the
 * first CONN_LOG_FIRST of each per input are logged.
 *
 * At the stop, what each connection's socket already holds is read, a
 * message still arriving is counted as incomplete, and the listener
 * closes.
 *
 * Runs on the daemon's input thread (run.c's loop).
 */
#include "input.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "framing.h"
#include "tls.h"
#include "../event.h"
#include "../pipeline.h"

#define READ_CHUNK    (64u << 10)
#define READS_PER_TURN 16          /* per connection per wake-up: fairness */
#define MAX_EVENTS    256
#define TLS_HANDSHAKE_MS 10000     /* a TLS peer must have sent data by then */
#define TLS_LOG_FIRST 10           /* TLS refusals logged one by one, then counted */
#define CONN_LOG_FIRST 10          /* per input: closings and refusals logged, then counted */
#define EVICT_MIN_QUIET_MS 1000    /* a connection that has talked is evicted only this quiet */
#define EVICT_TRIES 8              /* victims looked at per new connection */

enum { SRC_LISTENER, SRC_CONN };

typedef struct tcp_in tcp_in_t;

/* Connections of one address key (conn_addr_*): n == 0 is an empty slot. */
typedef struct addr_slot {
    unsigned char key[16];
    uint32_t n;
} addr_slot_t;

/* What a tcp or tls input did with its connections (its stats record). */
typedef struct conn_counts {
    uint64_t accepted, refused_full, refused_per_address, evicted, closed_idle, cut_partial;
    uint64_t logged[5];         /* closings and refusals logged so far, by CONN_* */
} conn_counts_t;

/* The listener, or one connection. */
typedef struct src {
    int kind;
    int fd;
    const canh_config_input_t *cfg;
    tcp_in_t *r;
    canh_framer_t framer;       /* SRC_CONN */
    char peer[64];              /* SRC_CONN: address:port, for messages and log.source.address */
    uint64_t conn_no;           /* SRC_CONN: its number since canh started (event.id) */
    uint64_t msgs;              /* SRC_CONN: messages fed so far (event.id) */
    canh_tls_server_t *tls_server;   /* SRC_LISTENER of a tls input (owned) */
    canh_tls_conn_t *tls;       /* SRC_CONN of a tls input */
    uint32_t events;            /* what epoll waits for on fd */
    struct src *listener;       /* SRC_CONN: where it was accepted */
    size_t conns;               /* SRC_LISTENER: its open connections */
    int64_t opened_ms;
    /* SRC_CONN: deadlines and eviction (conn_*) */
    int64_t heard_ms;           /* when bytes last came (opened_ms before any) */
    int64_t frame_ms;           /* when the message in progress began; 0: none */
    uint64_t frames_ended;      /* the framer's messages + dropped at the last read */
    int listed;                 /* on its listener's list ... */
    int talking;                /* ... of those that sent a whole message (1) or not (0) */
    struct src *lru_prev, *lru_next;   /* that list, longest idle first */
    unsigned char addr[16];     /* its address key */
    /* SRC_LISTENER */
    struct src *lru_head[2], *lru_tail[2];   /* [0] silent, [1] talking */
    addr_slot_t *addrs;         /* connections per address key (NULL: no limit) */
    size_t addrs_cap;           /* a power of two, over twice max_connections */
    conn_counts_t cc;
    struct src *next;           /* all of the input's, newest first */
} src_t;

/* One tcp or tls input. */
struct tcp_in {
    const canh_config_t *cfg;
    const canh_config_input_t *ci;
    canh_input_env_t env;
    int ep;                     /* its epoll set: the listener and the connections */
    int bound;                  /* the socket open bound, until start listens on it */
    canh_tls_server_t *tls;     /* the certificate open read, until start takes it */
    src_t *listener;
    src_t *all;
    size_t conns;               /* open connections */
    /* closed connections' framers, summed as they closed */
    uint64_t refused, messages, truncated, dropped, bad_frames, incomplete;
    uint64_t tls_failed, tls_timeouts;
};

/* ---- connections: places per address, idle order (tcp, tls) ------------------ */

/* The key a sender's connections are counted under: an IPv4 address (as
 * ::ffff:a.b.c.d, whichever socket family it came on), or an IPv6 /64
 * network, since one IPv6 host can take as many addresses of its /64 as it
 * likes. */
static void conn_addr_key(const struct sockaddr_storage *sa, unsigned char key[16])
{
    memset(key, 0, 16);
    if (sa->ss_family == AF_INET) {
        key[10] = key[11] = 0xff;
        memcpy(key + 12, &((const struct sockaddr_in *)sa)->sin_addr, 4);
    } else if (sa->ss_family == AF_INET6) {
        const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
        memcpy(key, a->s6_addr, IN6_IS_ADDR_V4MAPPED(a) ? 16 : 8);
    }
}

/* The slot of key in l's table (open addressing, linear probing); with
 * add, an empty slot made ready for it when it is not there, else NULL. */
static addr_slot_t *conn_addr_find(src_t *l, const unsigned char key[16], int add)
{
    size_t mask = l->addrs_cap - 1, j = canh_stream_key(key, 16) & mask;
    for (; l->addrs[j].n; j = (j + 1) & mask)
        if (!memcmp(l->addrs[j].key, key, 16))
            return &l->addrs[j];
    if (!add)
        return NULL;
    memcpy(l->addrs[j].key, key, 16);
    return &l->addrs[j];
}

/* One connection of key fewer; an emptied slot is filled by moving later
 * entries back, so that every lookup still finds its key. */
static void conn_addr_release(src_t *l, const unsigned char key[16])
{
    addr_slot_t *e = conn_addr_find(l, key, 0);
    if (!e || --e->n)
        return;
    size_t mask = l->addrs_cap - 1, hole = (size_t)(e - l->addrs);
    for (size_t j = (hole + 1) & mask; l->addrs[j].n; j = (j + 1) & mask) {
        size_t home = canh_stream_key(l->addrs[j].key, 16) & mask;
        int stays = hole <= j ? hole < home && home <= j : hole < home || home <= j;
        if (!stays) {
            l->addrs[hole] = l->addrs[j];
            l->addrs[j].n = 0;
            hole = j;
        }
    }
}

/* The listener's lists: silent (no whole message yet) and talking, each
 * in the order the connections were last heard from. */
static void conn_unlist(src_t *s)
{
    src_t *l = s->listener;
    if (!s->listed)
        return;
    if (s->lru_prev)
        s->lru_prev->lru_next = s->lru_next;
    else
        l->lru_head[s->talking] = s->lru_next;
    if (s->lru_next)
        s->lru_next->lru_prev = s->lru_prev;
    else
        l->lru_tail[s->talking] = s->lru_prev;
    s->lru_prev = s->lru_next = NULL;
    s->listed = 0;
}

static void conn_list(src_t *s)
{
    src_t *l = s->listener;
    s->lru_next = NULL;
    s->lru_prev = l->lru_tail[s->talking];
    if (s->lru_prev)
        s->lru_prev->lru_next = s;
    else
        l->lru_head[s->talking] = s;
    l->lru_tail[s->talking] = s;
    s->listed = 1;
}

/* Bytes came and went through the framer: heard now, the message in
 * progress (if any) dated, and to the end of its list. */
static void conn_heard(src_t *s)
{
    int64_t now = canh_mono_ms();
    uint64_t ended = s->framer.messages + s->framer.dropped;
    s->heard_ms = now;
    if (!canh_framer_pending(&s->framer))
        s->frame_ms = 0;
    else if (!s->frame_ms || ended != s->frames_ended)
        s->frame_ms = now;   /* a message began in these bytes */
    s->frames_ended = ended;
    if (s->listed) {
        conn_unlist(s);
        s->talking = ended > 0;
        conn_list(s);
    }
}

static src_t *src_new(tcp_in_t *r, int kind, int fd)
{
    const canh_config_input_t *ci = r->ci;
    src_t *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->kind = kind;
    s->fd = fd;
    s->cfg = ci;
    s->r = r;
    if (kind == SRC_CONN) {
        int mode = ci->framing == CANH_FRAMING_LF      ? CANH_FRAME_LF
                   : ci->framing == CANH_FRAMING_OCTET ? CANH_FRAME_OCTET
                                                       : CANH_FRAME_AUTO;
        if (canh_framer_init(&s->framer, mode, r->cfg->limits.max_message_size,
                             r->cfg->limits.oversize == CANH_OVERSIZE_DROP
                                 ? CANH_FRAME_DROP : CANH_FRAME_TRUNCATE) != CANH_OK) {
            free(s);
            return NULL;
        }
    }
    s->events = EPOLLIN;
    s->opened_ms = canh_mono_ms();
    struct epoll_event ev = { .events = EPOLLIN, .data.ptr = s };
    if (epoll_ctl(r->ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
        canh_framer_free(&s->framer);
        free(s);
        return NULL;
    }
    s->next = r->all;
    r->all = s;
    if (kind == SRC_CONN)
        r->conns++;
    return s;
}

static int feed(void *ud, const char *msg, size_t len)
{
    src_t *s = ud;
    tcp_in_t *r = s->r;
    /* a connection is one of the input's streams: its audit records are
     * kept together whatever the other connections send meanwhile */
    uintptr_t stream = (uintptr_t)s;
    /* where it came from: the sender, this run, the connection, the
     * message's number in it */
    canh_origin_t o = { .kind = s->cfg->type == CANH_INPUT_TLS ? CANH_ORIGIN_TLS
                                                               : CANH_ORIGIN_TCP,
                        .pos = ++s->msgs, .name = s->peer, .name_len = strlen(s->peer),
                        .ident = { r->env.started_ns, s->conn_no } };
    int rc = canh_pipeline_line_at(r->env.pl, r->env.input, stream, msg, len, &o);
    return rc == CANH_EINVAL ? rc : 0;
}

/*
 * Closes the listener or a connection. When the peer ended, its framer
 * gives up a last message without its end byte; when canh is stopping, a
 * message still arriving is counted as incomplete instead (framing.h).
 */
static void src_close(tcp_in_t *r, src_t *s, int stopping)
{
    if (s->fd < 0)
        return;
    epoll_ctl(r->ep, EPOLL_CTL_DEL, s->fd, NULL);
    if (s->kind == SRC_CONN) {
        if (stopping)
            canh_framer_abandon(&s->framer);
        else
            canh_framer_finish(&s->framer, feed, s);
        r->messages += s->framer.messages;
        r->truncated += s->framer.truncated;
        r->dropped += s->framer.dropped;
        r->bad_frames += s->framer.bad_frames;
        r->incomplete += s->framer.incomplete;
        canh_framer_free(&s->framer);
    }
    if (s->tls) {
        canh_tls_conn_free(s->tls);
        s->tls = NULL;
    }
    close(s->fd);
    if (s->kind == SRC_CONN) {
        r->conns--;
        s->listener->conns--;
        conn_unlist(s);
        if (s->listener->addrs)
            conn_addr_release(s->listener, s->addr);
    }
    s->fd = -1;
}

/*
 * Stopping: what a connection's peer had already sent when the stop came
 * (the bytes its socket holds now, which TCP has acknowledged) is read and
 * processed; what arrives after is not. Bounded by that amount.
 */
static void drain_at_stop(src_t *s)
{
    static char buf[READ_CHUNK];
    int queued = 0;
    if (s->kind != SRC_CONN || s->fd < 0 || ioctl(s->fd, FIONREAD, &queued) != 0)
        return;
    for (size_t left = (size_t)queued; left > 0;) {
        uint32_t want = EPOLLIN;
        ssize_t n = s->tls ? canh_tls_read(s->tls, buf, sizeof(buf), &want)
                           : read(s->fd, buf, left < sizeof(buf) ? left : sizeof(buf));
        if (n <= 0)
            return;
        canh_framer_feed(&s->framer, buf, (size_t)n, feed, s);
        left -= (size_t)n < left ? (size_t)n : left;   /* TLS: decrypted is a bit less */
    }
}

/* A TLS connection failed (plain text, handshake, certificate): say why,
 * one by one for the first few, then only count. */
static void tls_failed(tcp_in_t *r, src_t *s, const char *why)
{
    r->tls_failed++;   /* this input's, for the stats; the log counts every input's */
    if (++r->env.shared->tls_failed <= TLS_LOG_FIRST)
        CANH_WARN("input %s: %s: connection closed: %s%s", s->cfg->name, s->peer, why,
                  r->env.shared->tls_failed == TLS_LOG_FIRST ? " (further TLS refusals are only counted)"
                                                 : "");
}

/* Reads what a connection has (a bounded amount per turn); closes it on end or
 * error. */
static void src_read(tcp_in_t *r, src_t *s)
{
    static char buf[READ_CHUNK];
    for (int k = 0; k < READS_PER_TURN && s->fd >= 0; k++) {
        ssize_t n;
        if (s->tls) {
            uint32_t want = EPOLLIN;
            n = canh_tls_read(s->tls, buf, sizeof(buf), &want);
            if (n == CANH_TLS_AGAIN) {   /* the handshake may wait to write */
                struct epoll_event ev = { .events = want, .data.ptr = s };
                if (want != s->events && epoll_ctl(r->ep, EPOLL_CTL_MOD, s->fd, &ev) == 0)
                    s->events = want;
                return;
            }
            if (n == CANH_TLS_FAIL) {
                tls_failed(r, s, canh_tls_conn_error(s->tls));
                src_close(r, s, 0);
                return;
            }
        } else {
            n = read(s->fd, buf, sizeof(buf));
        }
        if (n > 0) {
            canh_framer_feed(&s->framer, buf, (size_t)n, feed, s);
            conn_heard(s);
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            CANH_WARN("input %s: read error: %s; connection closed", s->cfg->name,
                      strerror(errno));
        src_close(r, s, 0);
    }
}

/* ---- connections: deadlines, eviction, refusals (tcp, tls) ------------------ */

/* Why a connection was closed or refused. */
enum { END_IDLE, END_PARTIAL, END_EVICTED, REFUSED_ADDRESS, REFUSED_FULL };

/* A connection closed or refused by the rules above: logged for the first
 * CONN_LOG_FIRST of each input and reason, counted always (by the caller). */
static void conn_note(src_t *l, int why, const char *peer, const char *what)
{
    if (++l->cc.logged[why] > CONN_LOG_FIRST)
        return;
    CANH_WARN("input %s: %s: %s%s", l->cfg->name, peer, what,
              l->cc.logged[why] == CONN_LOG_FIRST ? " (further ones for this reason are only "
                                                    "counted)" : "");
}

/* Closes a connection for one of those reasons. A message it had begun is
 * cut: counted, logged, never handed on as if whole; the messages before
 * it were handed on as they ended. */
static void conn_end(tcp_in_t *r, src_t *s, int why)
{
    src_t *l = s->listener;
    const canh_config_input_t *ci = s->cfg;
    int64_t now = canh_mono_ms();
    size_t kept = 0;
    int cut = canh_framer_cut(&s->framer, &kept);
    char what[256], tail[96] = "";
    if (cut) {
        l->cc.cut_partial++;
        snprintf(tail, sizeof(tail), "; the message it had begun (%zu bytes so far) is cut",
                 kept);
    }
    if (why == END_IDLE) {
        l->cc.closed_idle++;
        snprintf(what, sizeof(what), "connection closed: nothing sent for %lld s (idle_timeout)%s",
                 (long long)((now - s->heard_ms) / 1000), tail);
    } else if (why == END_PARTIAL) {
        snprintf(what, sizeof(what), "connection closed: one message unfinished for %lld s "
                 "(partial_frame_timeout)%s", (long long)((now - s->frame_ms) / 1000), tail);
    } else {
        l->cc.evicted++;
        snprintf(what, sizeof(what), "connection closed to make room for a new sender: all %d "
                 "places (max_connections) were taken and it was the one idle longest (%lld s)%s",
                 ci->max_connections, (long long)((now - s->heard_ms) / 1000), tail);
    }
    conn_note(l, why, s->peer, what);
    src_close(r, s, 0);
}

/* Bytes waiting in the socket of an open connection: canh has not read
 * them yet, so the sender is not silent. */
static int conn_has_bytes(const src_t *s)
{
    int queued = 0;
    return s->fd >= 0 && ioctl(s->fd, FIONREAD, &queued) == 0 && queued > 0;
}

/*
 * Every place of l is taken: frees one for a new connection by closing
 * the connection idle longest among those that never sent a whole
 * message, else the one idle longest if it has been quiet for
 * EVICT_MIN_QUIET_MS. One whose socket holds bytes is read instead (which
 * moves it to the end of its list) and the next one looked at. 1 when a
 * place is free.
 */
static int conn_evict(tcp_in_t *r, src_t *l)
{
    for (int tries = 0; tries < EVICT_TRIES; tries++) {
        src_t *v = l->lru_head[0];
        if (!v && l->lru_head[1] &&
            canh_mono_ms() - l->lru_head[1]->heard_ms >= EVICT_MIN_QUIET_MS)
            v = l->lru_head[1];
        if (!v)
            return 0;
        if (conn_has_bytes(v)) {
            src_read(r, v);
            if (l->conns < (size_t)l->cfg->max_connections)
                return 1;   /* it had said goodbye */
            continue;
        }
        conn_end(r, v, END_EVICTED);
        return 1;
    }
    return 0;
}

/* Once a second: a connection past a deadline (see the top of the file) is
 * closed. TLS handshakes keep their fixed one (counted as TLS refusals). */
static void conn_expire(tcp_in_t *r, src_t *s, int64_t now)
{
    const canh_config_input_t *ci = s->cfg;
    if (s->tls && !canh_tls_conn_ready(s->tls)) {
        if (now - s->opened_ms > TLS_HANDSHAKE_MS) {
            r->tls_timeouts++;
            tls_failed(r, s, "no TLS handshake within 10 s");
            src_close(r, s, 0);
        }
        return;
    }
    for (int pass = 0; pass < 2 && s->fd >= 0; pass++) {
        int partial = ci->partial_frame_timeout_ms && s->frame_ms &&
                      now - s->frame_ms >= ci->partial_frame_timeout_ms;
        int idle = ci->idle_timeout_ms && now - s->heard_ms >= ci->idle_timeout_ms;
        if (!partial && !idle)
            return;
        if (pass == 0 && conn_has_bytes(s)) {   /* judge it on what it sent */
            src_read(r, s);
            now = canh_mono_ms();
            continue;
        }
        conn_end(r, s, partial ? END_PARTIAL : END_IDLE);
    }
}

/*
 * New connections: a sender address already holding its
 * max_connections_per_address is refused; when every place is taken, one
 * is freed (conn_evict) or the new connection is refused. Each refusal is
 * counted per input and logged for the first few.
 */
static void src_accept(tcp_in_t *r, src_t *l)
{
    const canh_config_input_t *ci = l->cfg;
    for (;;) {
        struct sockaddr_storage sa;
        socklen_t salen = sizeof(sa);
        int fd = accept4(l->fd, (struct sockaddr *)&sa, &salen, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                CANH_WARN("input %s: accept: %s", l->cfg->name, strerror(errno));
            return;
        }
        char peer[sizeof(((src_t *)0)->peer)], host[48], port[8], why[160];
        if (getnameinfo((struct sockaddr *)&sa, salen, host, sizeof(host), port, sizeof(port),
                        NI_NUMERICHOST | NI_NUMERICSERV) == 0)
            snprintf(peer, sizeof(peer), strchr(host, ':') ? "[%s]:%s" : "%s:%s", host, port);
        else
            snprintf(peer, sizeof(peer), "?");
        unsigned char key[16];
        conn_addr_key(&sa, key);
        addr_slot_t *a = l->addrs ? conn_addr_find(l, key, 1) : NULL;
        if (a && a->n >= (uint32_t)ci->max_connections_per_address) {
            r->refused++;
            l->cc.refused_per_address++;
            int net = sa.ss_family == AF_INET6 &&
                      !IN6_IS_ADDR_V4MAPPED(&((struct sockaddr_in6 *)&sa)->sin6_addr);
            snprintf(why, sizeof(why), "connection refused: its %s already holds %u "
                     "connections (max_connections_per_address)", net ? "/64" : "address",
                     a->n);
            conn_note(l, REFUSED_ADDRESS, peer, why);
            close(fd);
            continue;
        }
        if (ci->max_connections && l->conns >= (size_t)ci->max_connections &&
            !conn_evict(r, l)) {
            r->refused++;
            l->cc.refused_full++;
            snprintf(why, sizeof(why), "connection refused: all %d places (max_connections) "
                     "are taken by connections that are busy", ci->max_connections);
            conn_note(l, REFUSED_FULL, peer, why);
            close(fd);
            continue;
        }
        src_t *s = src_new(r, SRC_CONN, fd);
        if (!s) {
            r->refused++;
            close(fd);
            continue;
        }
        s->listener = l;
        l->conns++;
        memcpy(s->peer, peer, sizeof(peer));
        memcpy(s->addr, key, sizeof(key));
        if (l->addrs)   /* found again: an eviction may have moved the slots */
            conn_addr_find(l, key, 1)->n++;
        s->heard_ms = s->opened_ms;
        conn_list(s);
        if (l->tls_server && !(s->tls = canh_tls_conn_new(l->tls_server, fd))) {
            src_close(r, s, 0);   /* closes fd */
            r->refused++;
            continue;
        }
        s->conn_no = ++r->env.shared->conn_seq;   /* numbered across the inputs */
        l->cc.accepted++;
    }
}


/* Listening on the socket open bound (a tls input holds the certificate
 * it read); both taken over by the listener. */
static int tcp_in_start(void *self, const canh_input_env_t *env, char *err, size_t errlen)
{
    tcp_in_t *r = self;
    const canh_config_input_t *ci = r->ci;
    int fd = r->bound;
    canh_tls_server_t *tls = r->tls;
    r->env = *env;
    r->bound = -1;
    r->tls = NULL;
    src_t *s = NULL;
    if ((r->ep = epoll_create1(EPOLL_CLOEXEC)) < 0)
        snprintf(err, errlen, "input %s: cannot start: %s", ci->name, strerror(errno));
    else if (listen(fd, 1024) != 0)
        snprintf(err, errlen, "%s:%d: input %s: cannot listen on %s %s: %s", r->cfg->path,
                 ci->line, ci->name, tls ? "tls" : "tcp", ci->listen, strerror(errno));
    else if (!(s = src_new(r, SRC_LISTENER, fd)))
        snprintf(err, errlen, "out of memory");
    if (!s) {
        close(fd);
        canh_tls_server_free(tls);
        return CANH_EIO;
    }
    s->tls_server = tls;
    r->listener = s;
    if (ci->max_connections_per_address) {   /* room for every place, half empty */
        size_t places = ci->max_connections ? (size_t)ci->max_connections : 65536;
        for (s->addrs_cap = 64; s->addrs_cap < 2 * places + 2; s->addrs_cap *= 2)
            ;
        if (!(s->addrs = calloc(s->addrs_cap, sizeof(*s->addrs)))) {
            snprintf(err, errlen, "out of memory for the %s input %s", tls ? "tls" : "tcp",
                     ci->name);
            return CANH_ENOMEM;   /* the listener is closed with the input */
        }
    }
    CANH_INFO("input %s: listening on %s %s%s", ci->name, tls ? "tls" : "tcp", ci->listen,
              tls && ci->tls_require_client_cert ? " (client certificates required)" : "");
    return CANH_OK;
}


/* ---- the input kind ---- */

static void tcp_in_free(void *self)
{
    tcp_in_t *r = self;
    if (!r)
        return;
    while (r->all) {
        src_t *s = r->all;
        r->all = s->next;
        if (s->fd >= 0) {   /* a start that failed half way */
            if (s->kind == SRC_CONN)
                canh_framer_free(&s->framer);
            canh_tls_conn_free(s->tls);
            close(s->fd);
        }
        canh_tls_server_free(s->tls_server);
        free(s->addrs);
        free(s);
    }
    if (r->bound >= 0)
        close(r->bound);
    canh_tls_server_free(r->tls);
    if (r->ep >= 0)
        close(r->ep);
    free(r);
}

static int tcp_in_open(const canh_config_t *cfg, const canh_config_input_t *ci, void **self,
                       char *err, size_t errlen)
{
    *self = NULL;
    tcp_in_t *r = calloc(1, sizeof(*r));
    if (!r) {
        snprintf(err, errlen, "out of memory");
        return CANH_ENOMEM;
    }
    r->cfg = cfg;
    r->ci = ci;
    r->ep = r->bound = -1;
    if (ci->type == CANH_INPUT_TLS) {
        char terr[400];
        r->tls = canh_tls_server_new(ci->name, ci->tls_cert, ci->tls_key, ci->tls_ca,
                                     ci->tls_require_client_cert, terr, sizeof(terr));
        if (!r->tls) {
            snprintf(err, errlen, "%s:%d: %s", cfg->path, ci->line, terr);
            tcp_in_free(r);
            return CANH_EINVAL;
        }
    }
    if ((r->bound = canh_input_bind(cfg, ci, SOCK_STREAM, err, errlen)) < 0) {
        tcp_in_free(r);
        return CANH_EIO;
    }
    *self = r;
    return CANH_OK;
}

static size_t tcp_in_fds(void *self, int *fds, size_t max)
{
    tcp_in_t *r = self;
    if (!max || r->ep < 0)
        return 0;
    fds[0] = r->ep;
    return 1;
}

/* Its epoll set is ready: new connections, bytes from connections. */
static int tcp_in_read(void *self, int fd)
{
    tcp_in_t *r = self;
    struct epoll_event evs[MAX_EVENTS];
    if (r->ep < 0)
        return CANH_OK;
    int n = epoll_wait(r->ep, evs, MAX_EVENTS, 0);
    for (int i = 0; i < n; i++) {
        src_t *s = evs[i].data.ptr;
        if (s->fd < 0)
            continue;   /* closed by an eviction in this turn (freed at housekeeping) */
        if (s->kind == SRC_LISTENER)
            src_accept(r, s);
        else
            src_read(r, s);
    }
    return CANH_OK;
}

/* Once a second: connections past a deadline are closed (conn_expire),
 * closed ones freed. */
static void tcp_in_housekeep(void *self, int64_t now)
{
    tcp_in_t *r = self;
    for (src_t **pp = &r->all; *pp;) {
        src_t *s = *pp;
        if (s->kind == SRC_CONN && s->fd >= 0)
            conn_expire(r, s, now);
        if (s->kind == SRC_CONN && s->fd < 0) {
            *pp = s->next;   /* src_close freed what it held */
            free(s);
            continue;
        }
        pp = &s->next;
    }
}

static void tcp_in_stats(void *self, canh_buf_t *b)
{
    tcp_in_t *r = self;
    const src_t *l = r->listener;
    if (l)
        canh_buf_printf(b, ",\"connections\":{\"open\":%zu,\"accepted\":%llu,"
                        "\"refused_full\":%llu,\"refused_per_address\":%llu,"
                        "\"evicted\":%llu,\"closed_idle\":%llu,\"cut_partial\":%llu}",
                        l->conns, (unsigned long long)l->cc.accepted,
                        (unsigned long long)l->cc.refused_full,
                        (unsigned long long)l->cc.refused_per_address,
                        (unsigned long long)l->cc.evicted,
                        (unsigned long long)l->cc.closed_idle,
                        (unsigned long long)l->cc.cut_partial);
}

/* Closed connections as summed when they closed, open ones live. */
static void tcp_in_counts(void *self, canh_input_counts_t *c)
{
    tcp_in_t *r = self;
    c->conns_open += r->conns;
    c->conns_accepted += r->listener ? r->listener->cc.accepted : 0;
    c->conns_refused += r->refused;
    c->msgs += r->messages;
    c->msgs_truncated += r->truncated;
    c->msgs_dropped += r->dropped;
    c->bad_frames += r->bad_frames;
    c->incomplete += r->incomplete;
    c->tls_refused += r->tls_failed;
    c->tls_timeouts += r->tls_timeouts;
    for (const src_t *s = r->all; s; s = s->next) {
        if (s->kind != SRC_CONN || s->fd < 0)
            continue;
        c->msgs += s->framer.messages;
        c->msgs_truncated += s->framer.truncated;
        c->msgs_dropped += s->framer.dropped;
        c->bad_frames += s->framer.bad_frames;
        c->incomplete += s->framer.incomplete;
    }
}

/* Stopping: the listener closes, what each connection's socket already
 * holds is read and processed, a message still arriving is counted as
 * incomplete (newest first, the listener last). */
static void tcp_in_close(void *self, int stopping)
{
    tcp_in_t *r = self;
    for (src_t *s = r->all; s; s = s->next) {
        if (stopping)
            drain_at_stop(s);
        src_close(r, s, stopping);
    }
    const src_t *l = r->listener;
    const conn_counts_t *cc = l ? &l->cc : NULL;
    if (stopping && cc && (cc->refused_full || cc->refused_per_address || cc->evicted ||
                           cc->closed_idle || cc->cut_partial))
        CANH_INFO("input %s: %llu connections accepted; %llu refused (all places busy), "
                  "%llu refused (max_connections_per_address), %llu evicted for new "
                  "senders, %llu closed idle, %llu unfinished messages cut",
                  l->cfg->name, (unsigned long long)cc->accepted,
                  (unsigned long long)cc->refused_full,
                  (unsigned long long)cc->refused_per_address,
                  (unsigned long long)cc->evicted, (unsigned long long)cc->closed_idle,
                  (unsigned long long)cc->cut_partial);
}

const canh_input_ops_t canh_input_tcp = {
    .kind = "tcp", .open = tcp_in_open, .start = tcp_in_start, .fds = tcp_in_fds,
    .read = tcp_in_read, .housekeep = tcp_in_housekeep, .stats = tcp_in_stats,
    .counts = tcp_in_counts, .close = tcp_in_close, .free = tcp_in_free,
};

const canh_input_ops_t canh_input_tls = {
    .kind = "tls", .open = tcp_in_open, .start = tcp_in_start, .fds = tcp_in_fds,
    .read = tcp_in_read, .housekeep = tcp_in_housekeep, .stats = tcp_in_stats,
    .counts = tcp_in_counts, .close = tcp_in_close, .free = tcp_in_free,
};
