/*
 * parsers/app/dns.c -- DNS messages (RFC 1035, 3596 for AAAA) into
 * canh_app_tx_t: header (id, flags, opcode, rcode), the first question
 * (its type; its name as dns.query in a request only, as Suricata's
 * dns.query inspects request queries, so a rule fires once per lookup,
 * not again on the answer) and the answer section's records as text.
 *
 * UDP: one message per datagram. TCP (RFC 1035 4.2.2, RFC 7766): each
 * message has a 2-byte length prefix; a message split across segments is
 * gathered in the direction's buffer (grown up to the 65535 the prefix
 * allows, once per flow), several in one segment are each parsed. Names are
 * decompressed with every pointer checked to stay in the message and a cap
 * on the jumps (a loop ends there), and are at most 255 bytes on the wire.
 * Malformed messages are counted by reason, never read past, and skipped:
 * the flow's next datagram or (framing intact) TCP message is still parsed.
 * Lost TCP bytes (CANH_STREAM_GAP) lose the framing: that direction stops.
 *
 * Text the transaction points at lives in the canh_dns_t (a fixed arena
 * reset per message), so a message costs no allocation.
 *
 * Thread: a flow's DNS state belongs to the worker that owns the flow.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../engine/canh.h"
#include "app_internal.h"
#include "dns.h"

#define DNS_HDR 12
#define DNS_NAME_MAX 255        /* wire bytes of a name, RFC 1035 2.3.4 */
#define DNS_JUMPS_MAX 64        /* compression pointers followed per name */
#define DNS_TEXT_MAX 8192       /* answer text per message; more is left out */
#define DNS_NANS (int)(sizeof(((canh_app_tx_t *)0)->dns_answers) / sizeof(char *))

struct dns_dir {
    uint8_t *buf;               /* TCP: a message being gathered (with its prefix) */
    size_t n, cap;
    int stopped;                /* bytes were lost: the framing with them */
};

struct canh_dns {
    struct dns_dir dir[2];
    char query[DNS_NAME_MAX + 1];
    char text[DNS_TEXT_MAX];
    size_t text_n;
};

static __thread canh_dns_counts_t dns_counts;

canh_dns_counts_t *canh_dns_thread_counts(void) { return &dns_counts; }

static const char *const dns_error_names[] = {
#define CANH_X(e, s) s,
    CANH_DNS_ERRORS(CANH_X)
#undef CANH_X
};

const char *canh_dns_error_name(int reason)
{
    return reason >= 0 && reason < CANH_DNS_E__COUNT ? dns_error_names[reason] : "?";
}

canh_dns_t *canh_dns_new(void)
{
    return calloc(1, sizeof(canh_dns_t));
}

void canh_dns_free(canh_dns_t *d)
{
    if (!d)
        return;
    free(d->dir[0].buf);
    free(d->dir[1].buf);
    free(d);
}

static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int dns_fail(int reason)   /* for canh_dns_parse */
{
    dns_counts.errors[reason]++;
    return CANH_EPARSE;
}

/*
 * The name at msg[*off]: its text (labels joined by '.', no trailing dot,
 * "" for the root) into out (NUL-terminated; escape: bytes outside
 * printable ASCII and '\\' as \xHH, for answer text), *off moved past it in
 * the message as laid out (a pointer ends it). Returns the text length or
 * -reason-1.
 */
static int dns_name(const uint8_t *msg, size_t len, size_t *off, char *out, size_t outcap,
                    int escape)
{
    size_t pos = *off, wire = 0, o = 0;
    int jumps = 0, jumped = 0;
    for (;;) {
        if (pos >= len)
            return -CANH_DNS_E_SHORT - 1;
        uint8_t l = msg[pos];
        if ((l & 0xC0) == 0xC0) {
            if (pos + 1 >= len)
                return -CANH_DNS_E_SHORT - 1;
            size_t to = (size_t)(l & 0x3F) << 8 | msg[pos + 1];
            if (!jumped)
                *off = pos + 2;
            jumped = 1;
            if (to >= len)
                return -CANH_DNS_E_NAME - 1;
            if (++jumps > DNS_JUMPS_MAX)
                return -CANH_DNS_E_LOOP - 1;
            pos = to;
            continue;
        }
        if (l & 0xC0)               /* 0x40, 0x80: extended and reserved label types */
            return -CANH_DNS_E_NAME - 1;
        wire += 1 + (size_t)l;
        if (wire > DNS_NAME_MAX)
            return -CANH_DNS_E_NAME_LONG - 1;
        if (l == 0) {
            if (!jumped)
                *off = pos + 1;
            break;
        }
        if (pos + 1 + l > len)
            return -CANH_DNS_E_SHORT - 1;
        if (o > 0 && o + 1 < outcap)
            out[o++] = '.';
        for (size_t i = 0; i < l; i++) {
            uint8_t c = msg[pos + 1 + i];
            if (escape && (c < 0x20 || c >= 0x7f || c == '\\')) {
                if (o + 4 < outcap)
                    o += (size_t)snprintf(out + o, outcap - o, "\\x%02x", c);
            } else if (o + 1 < outcap) {
                out[o++] = (char)c;
            }
        }
        pos += 1 + l;
    }
    out[o < outcap ? o : outcap - 1] = 0;
    return (int)o;
}

/* Room for one answer's text in d->text; NULL when the arena is full. */
static char *dns_text(canh_dns_t *d, size_t *cap)
{
    if (d->text_n + 64 > sizeof(d->text))
        return NULL;
    *cap = sizeof(d->text) - d->text_n;
    return d->text + d->text_n;
}

/* One resource record's data as text into out. Returns CANH_OK or -reason-1. */
static int dns_rdata(const uint8_t *msg, size_t len, size_t rd, size_t rdlen, uint16_t type,
                     char *out, size_t cap)
{
    size_t end = rd + rdlen, off = rd;
    int r;
    out[0] = 0;
    switch (type) {
    case 1:     /* A */
        if (rdlen != 4)
            return -CANH_DNS_E_RDATA - 1;
        snprintf(out, cap, "%u.%u.%u.%u", msg[rd], msg[rd + 1], msg[rd + 2], msg[rd + 3]);
        return CANH_OK;
    case 28:    /* AAAA */
        if (rdlen != 16 || cap < INET6_ADDRSTRLEN)
            return -CANH_DNS_E_RDATA - 1;
        inet_ntop(AF_INET6, msg + rd, out, (socklen_t)cap);
        return CANH_OK;
    case 2: case 5: case 12:    /* NS, CNAME, PTR */
        r = dns_name(msg, len, &off, out, cap, 1);
        return r < 0 ? r : off == end ? CANH_OK : -CANH_DNS_E_RDATA - 1;
    case 15: {  /* MX: preference, exchange */
        if (rdlen < 3)
            return -CANH_DNS_E_RDATA - 1;
        int n = snprintf(out, cap, "%u ", rd16(msg + rd));
        off = rd + 2;
        r = dns_name(msg, len, &off, out + n, cap - (size_t)n, 1);
        return r < 0 ? r : off == end ? CANH_OK : -CANH_DNS_E_RDATA - 1;
    }
    case 6: {   /* SOA: mname rname serial refresh retry expire minimum */
        size_t o = 0;
        for (int i = 0; i < 2; i++) {
            r = dns_name(msg, len, &off, out + o, cap - o, 1);
            if (r < 0)
                return r;
            o += (size_t)r;
            if (o + 1 < cap)
                out[o++] = ' ';
            out[o] = 0;
        }
        if (off + 20 != end)
            return -CANH_DNS_E_RDATA - 1;
        snprintf(out + o, cap - o, "%u %u %u %u %u", rd32(msg + off), rd32(msg + off + 4),
                 rd32(msg + off + 8), rd32(msg + off + 12), rd32(msg + off + 16));
        return CANH_OK;
    }
    case 16: {  /* TXT: character-strings, joined by a space */
        size_t o = 0;
        while (off < end) {
            size_t l = msg[off++];
            if (off + l > end)
                return -CANH_DNS_E_RDATA - 1;
            if (o > 0 && o + 1 < cap)
                out[o++] = ' ';
            for (size_t i = 0; i < l; i++) {
                uint8_t c = msg[off + i];
                if (c < 0x20 || c >= 0x7f || c == '\\') {
                    if (o + 5 < cap)
                        o += (size_t)snprintf(out + o, cap - o, "\\x%02x", c);
                } else if (o + 1 < cap) {
                    out[o++] = (char)c;
                }
            }
            off += l;
        }
        out[o] = 0;
        return CANH_OK;
    }
    default:    /* kept by type, data not rendered */
        return CANH_OK;
    }
}

int canh_dns_parse(canh_dns_t *d, int dir, const uint8_t *msg, size_t len, canh_app_tx_t *tx)
{
    memset(tx, 0, sizeof(*tx));
    tx->proto = CANH_APP_DNS;
    tx->dir = dir;
    d->text_n = 0;
    if (len < DNS_HDR)
        return dns_fail(CANH_DNS_E_SHORT);
    uint16_t flags = rd16(msg + 2);
    tx->dns_id = rd16(msg);
    tx->dns_is_response = (uint8_t)(flags >> 15);
    tx->dns_opcode = (uint8_t)(flags >> 11 & 0xF);
    tx->dns_rcode = flags & 0xF;
    unsigned qd = rd16(msg + 4), an = rd16(msg + 6);
    size_t off = DNS_HDR;
    for (unsigned i = 0; i < qd; i++) {
        char tmp[DNS_NAME_MAX + 1];
        int r = dns_name(msg, len, &off, i == 0 ? d->query : tmp, sizeof(tmp), 0);
        if (r < 0)
            return dns_fail(-r - 1);
        if (off + 4 > len)
            return dns_fail(CANH_DNS_E_SHORT);
        if (i == 0) {
            tx->dns_qtype = rd16(msg + off);
            if (!tx->dns_is_response) {     /* Suricata's dns.query: requests only */
                tx->buf[CANH_NB_DNS_QUERY].p = (const uint8_t *)d->query;
                tx->buf[CANH_NB_DNS_QUERY].n = (size_t)r;
            }
        }
        off += 4;
    }
    for (unsigned i = 0; i < an; i++) {
        char owner[DNS_NAME_MAX * 4 + 1];
        int r = dns_name(msg, len, &off, owner, sizeof(owner), 1);
        if (r < 0)
            return dns_fail(-r - 1);
        if (off + 10 > len)
            return dns_fail(CANH_DNS_E_SHORT);
        uint16_t type = rd16(msg + off);
        size_t rdlen = rd16(msg + off + 8);
        off += 10;
        if (off + rdlen > len)
            return dns_fail(CANH_DNS_E_SHORT);
        size_t cap;
        char *out = tx->dns_nanswers < DNS_NANS ? dns_text(d, &cap) : NULL;
        char scratch[DNS_NAME_MAX * 8 + 64];
        if (!out) {             /* past what is kept: still checked */
            out = scratch;
            cap = sizeof(scratch);
        }
        r = dns_rdata(msg, len, off, rdlen, type, out, cap);
        if (r < 0)
            return dns_fail(-r - 1);
        if (out != scratch) {
            tx->dns_answers[tx->dns_nanswers] = out;
            tx->dns_answer_types[tx->dns_nanswers++] = type;
            d->text_n += strlen(out) + 1;
        }
        off += rdlen;
    }
    /* authority and additional records are not rendered */
    return CANH_OK;
}

static void dns_count(const canh_app_tx_t *tx)
{
    canh_app_counts_t *c = canh_app_thread_counts();
    if (tx->dns_is_response) {
        dns_counts.answers++;
        c->dns_answers++;
    } else {
        dns_counts.queries++;
        c->dns_queries++;
    }
}

/*
 * One message of direction dir: fn with its transaction. A malformed one is
 * counted (by reason, and in the app counts' parse_errors) and skipped, the
 * flow's later messages still parsed: one bad datagram or message (the
 * framing intact) must not blind canh to the rest of a flow.
 */
static void dns_msg_one(canh_dns_t *d, canh_flow_t *f, int dir, const uint8_t *m, size_t n,
                        canh_app_fn fn, void *ud)
{
    canh_app_tx_t tx;
    if (canh_dns_parse(d, dir, m, n, &tx) != CANH_OK) {
        canh_app_thread_counts()->parse_errors++;
        return;
    }
    dns_count(&tx);
    if (fn)
        fn(ud, f, &tx);
}

int canh_dns_datagram(canh_dns_t *d, canh_flow_t *f, int dir, const uint8_t *data, size_t len,
                      canh_app_fn fn, void *ud)
{
    dns_msg_one(d, f, dir ? 1 : 0, data, len, fn, ud);
    return CANH_OK;
}

int canh_dns_stream(canh_dns_t *d, canh_flow_t *f, int dir, const uint8_t *data, size_t len,
                    int flags, canh_app_fn fn, void *ud)
{
    dir = dir ? 1 : 0;
    struct dns_dir *s = &d->dir[dir];
    if (!s->stopped && (flags & CANH_STREAM_GAP)) {
        /* where the next message starts is lost with the bytes */
        s->stopped = 1;
        s->n = 0;
        dns_counts.errors[CANH_DNS_E_GAP]++;
    }
    while (len > 0 && !s->stopped) {
        if (s->n == 0 && len >= 2 && (size_t)rd16(data) + 2 <= len) {
            size_t ml = (size_t)rd16(data);         /* whole in this segment: no copy */
            if (ml == 0)
                dns_counts.errors[CANH_DNS_E_TCP_LEN]++;
            else
                dns_msg_one(d, f, dir, data + 2, ml, fn, ud);
            data += ml + 2;
            len -= ml + 2;
            continue;
        }
        /* gather: first the prefix, then the message it announces */
        size_t want = s->n < 2 ? 2 : (size_t)rd16(s->buf) + 2;
        if (!s->buf) {
            s->buf = malloc(512);
            if (!s->buf)
                return CANH_ENOMEM;
            s->cap = 512;
        }
        if (want > s->cap) {                        /* at most 65537, once per direction */
            uint8_t *nb = realloc(s->buf, want);
            if (!nb)
                return CANH_ENOMEM;
            s->buf = nb;
            s->cap = want;
        }
        size_t take = want - s->n < len ? want - s->n : len;
        memcpy(s->buf + s->n, data, take);
        s->n += take;
        data += take;
        len -= take;
        if (s->n == 2 && rd16(s->buf) == 0) {
            dns_counts.errors[CANH_DNS_E_TCP_LEN]++;
            s->n = 0;
        } else if (s->n > 2 && s->n == (size_t)rd16(s->buf) + 2) {
            s->n = 0;
            dns_msg_one(d, f, dir, s->buf + 2, rd16(s->buf), fn, ud);
        }
    }
    return d->dir[0].stopped && d->dir[1].stopped ? CANH_APP_DONE : CANH_OK;
}

static void *dns_state_new(const canh_app_opts_t *o) { return canh_dns_new(); }
static void dns_state_free(void *st) { canh_dns_free(st); }
static int dns_stream(void *st, canh_flow_t *f, int dir, const uint8_t *data, size_t len,
                      int flags, canh_app_fn fn, void *ud)
{
    return canh_dns_stream(st, f, dir, data, len, flags, fn, ud);
}
static int dns_datagram(void *st, canh_flow_t *f, int dir, const uint8_t *data, size_t len,
                        canh_app_fn fn, void *ud)
{
    return canh_dns_datagram(st, f, dir, data, len, fn, ud);
}

const canh_app_parser_t canh_app_dns_parser = {
    .proto = CANH_APP_DNS, .name = "dns",
    .state_new = dns_state_new, .state_free = dns_state_free,
    .stream = dns_stream, .datagram = dns_datagram,
};
