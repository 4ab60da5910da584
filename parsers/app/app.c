/*
 * parsers/app/app.c -- tells a flow's protocol and feeds its parser.
 *
 * Detection looks at the first bytes of each direction (TCP: the start of
 * the in-order stream, up to HOLD bytes held while they are still a prefix
 * of something; UDP: each datagram until one is told): an HTTP method and
 * a space, "HTTP/1." from a server; a TLS handshake record (0x16 0x03
 * 0x00-0x04, a length, then a ClientHello or ServerHello); "SSH-"; a DNS
 * message, on port 53 (UDP or TCP with its 2-byte length) when its header
 * is plausible, on any other port only when its question is well formed.
 * Ports are only a hint. A direction whose first bytes are none of these
 * is not tried again; when both are not, the flow stays unknown (counted
 * flows[UNKNOWN]) and costs nothing more.
 *
 * Once told, the protocol's parser (app_internal.h) gets every byte of the
 * flow from the first, but for a direction whose first bytes were told
 * "none" before the other told the protocol (a capture that starts in the
 * middle of a message): that direction's next bytes come with
 * CANH_STREAM_GAP, so the parser resyncs. A parser's CANH_EPARSE makes the flow FAILED
 * (counted, parse_errors) and its state is freed at once, as after
 * CANH_APP_DONE.
 *
 * Thread: a canh_app_t belongs to the worker that owns its flow; the
 * counts are per thread (canh_app_thread_counts).
 */
#include <stdlib.h>
#include <string.h>

#include "app_internal.h"

#define HOLD 24                 /* bytes held per direction until told */
#define UDP_TRIES 4             /* datagrams looked at before giving up */

struct canh_app {
    canh_app_opts_t opts;
    canh_app_proto_t proto;
    const canh_app_parser_t *par;
    void *st;
    uint8_t held[2][HOLD];
    uint8_t nheld[2];
    uint8_t tried[2];           /* direction told "none of them" (2: the parser was
                                   told so, with CANH_STREAM_GAP) */
    uint8_t udp_tries;
    uint8_t stopped;            /* parser done or failed, or given up */
    uint8_t counted;            /* flows[] counted */
};

static __thread canh_app_counts_t counts;

canh_app_counts_t *canh_app_thread_counts(void)
{
    return &counts;
}

/* ---------------------------------------------------------------- names */

static const char *const nb_names[] = {
#define CANH_X_NB(e, name) name,
    CANH_NET_BUFFERS(CANH_X_NB)
#undef CANH_X_NB
};

const char *canh_net_buffer_name(int id)
{
    if (id < 0 || id >= CANH_NB__COUNT)
        return NULL;
    return nb_names[id];
}

int canh_net_buffer_lookup(const char *name, size_t len)
{
    if (!name)
        return -1;
    for (int i = 0; i < CANH_NB__COUNT; i++)
        if (strlen(nb_names[i]) == len && memcmp(nb_names[i], name, len) == 0)
            return i;
    return -1;
}

const char *canh_app_proto_name(canh_app_proto_t p)
{
    switch (p) {
    case CANH_APP_HTTP: return "http";
    case CANH_APP_DNS: return "dns";
    case CANH_APP_TLS: return "tls";
    case CANH_APP_SSH: return "ssh";
    case CANH_APP_FAILED: return "failed";
    default: return "unknown";
    }
}

/* ------------------------------------------------------------ detection */

static const char *const methods[] = {
    "GET", "POST", "HEAD", "PUT", "DELETE", "OPTIONS", "CONNECT", "TRACE", "PATCH",
    "PROPFIND", "PROPPATCH", "MKCOL", "COPY", "MOVE", "LOCK", "UNLOCK", "SEARCH", "REPORT",
    "MKACTIVITY", "CHECKOUT", "MERGE", "SUBSCRIBE", "UNSUBSCRIBE", "NOTIFY", "PURGE",
};

/* 1: data starts with lit; -1: data is a shorter prefix of lit; 0: no */
static int prefix(const uint8_t *d, size_t n, const char *lit, size_t l)
{
    size_t k = n < l ? n : l;
    if (memcmp(d, lit, k) != 0)
        return 0;
    return n >= l ? 1 : -1;
}

static int detect_http(const uint8_t *d, size_t n, int dir)
{
    if (dir == 1)
        return prefix(d, n, "HTTP/1.", 7);
    int more = 0;
    for (size_t i = 0; i < CANH_ARRAY_LEN(methods); i++) {
        size_t l = strlen(methods[i]);
        int r = prefix(d, n, methods[i], l);
        if (r == 1) {
            if (n == l)
                more = 1;
            else if (d[l] == ' ')
                return 1;
        } else if (r < 0) {
            more = 1;
        }
    }
    return more ? -1 : 0;
}

static int detect_tls(const uint8_t *d, size_t n)
{
    static const uint8_t want[] = { 0x16, 0x03 };
    size_t k = n < 2 ? n : 2;
    if (memcmp(d, want, k) != 0)
        return 0;
    if (n < 6)
        return n >= 3 && d[2] > 0x04 ? 0 : -1;
    if (d[2] > 0x04)
        return 0;
    unsigned rlen = (unsigned)d[3] << 8 | d[4];
    return rlen >= 4 && (d[5] == 0x01 || d[5] == 0x02) ? 1 : 0;
}

/* A DNS name at d[*i], labels only or compression pointers (not followed). */
static int dns_name_ok(const uint8_t *d, size_t n, size_t *i)
{
    size_t total = 0;
    while (*i < n) {
        uint8_t l = d[*i];
        if (l == 0) {
            (*i)++;
            return 1;
        }
        if ((l & 0xc0) == 0xc0) {
            *i += 2;
            return *i <= n;
        }
        if (l & 0xc0)
            return 0;
        total += l + 1u;
        if (total > 255)
            return 0;
        *i += 1u + l;
    }
    return 0;
}

/* d: one DNS message (no TCP length). strict: its question must parse. */
static int dns_plausible(const uint8_t *d, size_t n, int strict)
{
    if (n < 12)
        return 0;
    unsigned opcode = (d[2] >> 3) & 0x0f;
    unsigned qd = (unsigned)d[4] << 8 | d[5];
    unsigned an = (unsigned)d[6] << 8 | d[7];
    unsigned ns = (unsigned)d[8] << 8 | d[9];
    unsigned ar = (unsigned)d[10] << 8 | d[11];
    if (opcode > 6 || qd > 16 || an > 256 || ns > 256 || ar > 256)
        return 0;
    if (!strict)
        return 1;
    if (qd != 1 || (d[3] & 0x40))           /* the Z bit is zero (AD and CD may be set: RFC 4035) */
        return 0;
    size_t i = 12;
    if (!dns_name_ok(d, n, &i) || i + 4 > n)
        return 0;
    unsigned qclass = (unsigned)d[i + 2] << 8 | d[i + 3];
    if (qclass != 1 && qclass != 3 && qclass != 255 && (qclass & 0x7fff) != 1)
        return 0;
    if (!(d[2] & 0x80))                      /* a query: nothing after its question but EDNS */
        return an == 0 && ns == 0 && ar <= 1;
    return 1;
}

int canh_app_detect(const uint8_t *data, size_t len, int tcp, int dir, uint16_t port)
{
    if (!data || len == 0)
        return -1;
    if (!tcp) {
        return dns_plausible(data, len, port != 53) ? CANH_APP_DNS : CANH_APP_UNKNOWN;
    }
    int more = 0, r;
    if ((r = detect_http(data, len, dir)) == 1)
        return CANH_APP_HTTP;
    more |= r < 0;
    if ((r = detect_tls(data, len)) == 1)
        return CANH_APP_TLS;
    more |= r < 0;
    if ((r = prefix(data, len, "SSH-", 4)) == 1)
        return CANH_APP_SSH;
    more |= r < 0;
    if (port == 53) {
        /* 2-byte length, then a header */
        if (len < 14)
            return -1;
        unsigned ml = (unsigned)data[0] << 8 | data[1];
        if (ml >= 12 && dns_plausible(data + 2, len - 2 < ml ? len - 2 : ml, 0))
            return CANH_APP_DNS;
    }
    return more && len < HOLD ? -1 : CANH_APP_UNKNOWN;
}

/* ----------------------------------------------------------------- flows */

canh_app_t *canh_app_new(const canh_app_opts_t *o)
{
    canh_app_t *a = calloc(1, sizeof *a);
    if (!a)
        return NULL;
    if (o)
        a->opts = *o;
    if (!a->opts.body_cap)
        a->opts.body_cap = 64 * 1024;
    return a;
}

static void stop(canh_app_t *a)
{
    if (a->par && a->st)
        a->par->state_free(a->st);
    a->st = NULL;
    a->stopped = 1;
}

void canh_app_free(canh_app_t *a)
{
    if (!a)
        return;
    stop(a);
    free(a);
}

canh_app_proto_t canh_app_proto(const canh_app_t *a)
{
    return a ? a->proto : CANH_APP_UNKNOWN;
}

static const canh_app_parser_t *parser_of(canh_app_proto_t p)
{
    switch (p) {
    case CANH_APP_HTTP: return &canh_app_http_parser;
    case CANH_APP_DNS: return &canh_app_dns_parser;
    case CANH_APP_TLS: return &canh_app_tls_parser;
    case CANH_APP_SSH: return &canh_app_ssh_parser;
    default: return NULL;
    }
}

static void give_up(canh_app_t *a)
{
    if (!a->counted) {
        counts.flows[CANH_APP_UNKNOWN]++;
        a->counted = 1;
    }
    a->stopped = 1;
}

static int start(canh_app_t *a, canh_app_proto_t p)
{
    a->par = parser_of(p);
    a->proto = p;
    counts.flows[p]++;
    a->counted = 1;
    a->st = a->par ? a->par->state_new(&a->opts) : NULL;
    if (!a->st) {
        a->stopped = 1;
        return -1;
    }
    return 0;
}

/* A parser's answer: keep going, done, or failed. */
static int after(canh_app_t *a, int rc)
{
    if (rc == CANH_OK)
        return 0;
    if (rc != CANH_APP_DONE) {
        a->proto = CANH_APP_FAILED;
        counts.flows[CANH_APP_FAILED]++;
        counts.parse_errors++;
    }
    stop(a);
    return -1;
}

static uint16_t server_port(canh_flow_t *f)
{
    const canh_flow_info_t *fi = f ? canh_flow_info(f) : NULL;
    if (!fi)
        return 0;
    return fi->cport == 53 ? 53 : fi->sport;   /* the first packet seen may be the answer */
}

void canh_app_stream(canh_app_t *a, canh_flow_t *f, int dir, const uint8_t *data, size_t len,
                     int flags, canh_app_fn fn, void *ud)
{
    if (!a || a->stopped)
        return;
    dir = dir ? 1 : 0;
    if (!data)
        len = 0;
    if (a->st) {
        if (!a->par->stream)
            return;
        if (a->tried[dir] == 1) {
            /* this direction's first bytes were not looked at by the
             * parser: to it, bytes were lost before these */
            flags |= CANH_STREAM_GAP;
            a->tried[dir] = 2;
        }
        after(a, a->par->stream(a->st, f, dir, data, len, flags, fn, ud));
        return;
    }
    if (a->tried[dir])
        return;
    if (flags & CANH_STREAM_GAP)
        a->nheld[dir] = 0;   /* the held bytes are no longer the stream's start */
    uint8_t tmp[HOLD];
    size_t h = a->nheld[dir], k = len < HOLD - h ? len : HOLD - h;
    memcpy(tmp, a->held[dir], h);
    if (k)
        memcpy(tmp + h, data, k);
    int r = h + k ? canh_app_detect(tmp, h + k, 1, dir, server_port(f)) : -1;
    if (r < 0) {
        if (flags & CANH_STREAM_END) {
            r = CANH_APP_UNKNOWN;
        } else {
            memcpy(a->held[dir] + h, data, k);   /* k == len: -1 only while short */
            a->nheld[dir] = (uint8_t)(h + k);
            return;
        }
    }
    if (r == CANH_APP_UNKNOWN) {
        a->tried[dir] = 1;
        a->nheld[dir] = 0;
        if (a->tried[0] && a->tried[1])
            give_up(a);
        return;
    }
    if (start(a, (canh_app_proto_t)r) < 0 || !a->par->stream) {
        if (a->st && !a->par->stream)
            stop(a);
        return;
    }
    /* the other direction's held bytes came first if it is the client's */
    int o = !dir;
    if (o == 0 && a->nheld[o]) {
        if (after(a, a->par->stream(a->st, f, o, a->held[o], a->nheld[o], 0, fn, ud)))
            return;
        a->nheld[o] = 0;
    }
    if (h && after(a, a->par->stream(a->st, f, dir, a->held[dir], h, 0, fn, ud)))
        return;
    a->nheld[dir] = 0;
    if (after(a, a->par->stream(a->st, f, dir, data, len, flags & ~CANH_STREAM_GAP, fn, ud)))
        return;
    if (o == 1 && a->nheld[o]) {
        if (after(a, a->par->stream(a->st, f, o, a->held[o], a->nheld[o], 0, fn, ud)))
            return;
        a->nheld[o] = 0;
    }
}

void canh_app_datagram(canh_app_t *a, canh_flow_t *f, int dir, const uint8_t *data, size_t len,
                       canh_app_fn fn, void *ud)
{
    if (!a || a->stopped || !data)
        return;
    dir = dir ? 1 : 0;
    if (!a->st) {
        int r = canh_app_detect(data, len, 0, dir, server_port(f));
        if (r <= CANH_APP_UNKNOWN) {
            if (++a->udp_tries >= UDP_TRIES)
                give_up(a);
            return;
        }
        if (start(a, (canh_app_proto_t)r) < 0)
            return;
    }
    if (!a->par->datagram)
        return;
    after(a, a->par->datagram(a->st, f, dir, data, len, fn, ud));
}
