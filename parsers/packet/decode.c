/*
 * parsers/packet/decode.c -- frame bytes to a canh_pkt_t: link layers,
 * IPv4 / IPv6 (fragments handed to defrag.c), TCP, UDP, ICMP, ICMPv6; the
 * symmetric flow hash; packet copies; Community ID v1.
 *
 * Every read is checked against the bytes captured first; a frame that is
 * malformed or truncated is counted by reason and never read past its end.
 * IP length fields are trusted only up to what was captured (a snaplen
 * cut); the frame's link padding is never taken as payload.
 *
 * A decoder owns its counts, its reassembler and one datagram buffer (a
 * rebuilt datagram lives there until the next canh_decode). No allocation
 * per packet except the copies of held fragments.
 *
 * Thread: a decoder belongs to one thread (the packet reader);
 * canh_community_id and the copy functions are pure and run anywhere.
 */
#include <string.h>
#include <stdlib.h>

#include <openssl/evp.h>

#include "../../engine/canh.h"
#include "defrag.h"
#include "packet.h"

/* libpcap link types (numbers, so that no libpcap header is needed here) */
enum {
    LT_NULL = 0, LT_EN10MB = 1, LT_RAW_12 = 12, LT_RAW_14 = 14, LT_RAW = 101,
    LT_LOOP = 108, LT_LINUX_SLL = 113, LT_IPV4 = 228, LT_IPV6 = 229, LT_LINUX_SLL2 = 276,
};

enum { ETH_IPV4 = 0x0800, ETH_IPV6 = 0x86dd, ETH_8021Q = 0x8100, ETH_8021AD = 0x88a8,
       ETH_QINQ_OLD = 0x9100 };

enum { P_ICMP = 1, P_TCP = 6, P_UDP = 17, P_IPV6_HOP = 0, P_IPV6_ROUTE = 43,
       P_IPV6_FRAG = 44, P_ESP = 50, P_AH = 51, P_ICMPV6 = 58, P_IPV6_NONE = 59,
       P_IPV6_DST = 60, P_SCTP = 132 };

struct canh_decoder {
    canh_decode_counts_t counts;
    canh_defrag_t *defrag;
    uint8_t buf[CANH_DEFRAG_MAX];   /* the last datagram rebuilt from fragments */
};

static const char *const reason_names[] = {
#define CANH_X_DN(e, name) name,
    CANH_DECODE_REASONS(CANH_X_DN)
#undef CANH_X_DN
};

const char *canh_decode_reason_name(int reason)
{
    if (reason < 0 || reason >= CANH_DECODE_R__COUNT)
        return "?";
    return reason_names[reason];
}

canh_decoder_t *canh_decoder_new(const canh_decoder_opts_t *o)
{
    canh_decoder_t *d = calloc(1, sizeof(*d));
    if (!d)
        return NULL;
    size_t memcap = o && o->defrag_memcap ? o->defrag_memcap : (size_t)16 << 20;
    int64_t timeout = o && o->defrag_timeout_us > 0 ? o->defrag_timeout_us : 60 * 1000000LL;
    d->defrag = canh_defrag_new(memcap, timeout);
    if (!d->defrag) {
        free(d);
        return NULL;
    }
    return d;
}

void canh_decoder_free(canh_decoder_t *d)
{
    if (!d)
        return;
    canh_defrag_free(d->defrag);
    free(d);
}

const canh_decode_counts_t *canh_decoder_counts(const canh_decoder_t *d)
{
    return d ? &d->counts : NULL;
}

int canh_decode_dlt_ok(int dlt)
{
    switch (dlt) {
    case LT_NULL: case LT_EN10MB: case LT_RAW_12: case LT_RAW_14: case LT_RAW:
    case LT_LOOP: case LT_LINUX_SLL: case LT_IPV4: case LT_IPV6: case LT_LINUX_SLL2:
        return 1;
    }
    return 0;
}

static inline uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static inline uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* The outcome of a decoding step: a CANH_PKT_* value and, for BAD and
 * SKIP, the reason. */
typedef struct res {
    int rc, reason;
} res_t;

#define R_OK      ((res_t){ CANH_PKT_OK, -1 })
#define R_HELD    ((res_t){ CANH_PKT_HELD, -1 })
#define R_BAD(r)  ((res_t){ CANH_PKT_BAD, CANH_DECODE_R_##r })
#define R_SKIP(r) ((res_t){ CANH_PKT_SKIP, CANH_DECODE_R_##r })

/* ---- the flow hash ---------------------------------------------------- */

static inline uint64_t mix(uint64_t h, uint64_t w)
{
    h ^= w;
    h *= 0x9e3779b97f4a7c15ULL;
    return h ^ (h >> 29);
}

/* The same for both directions: the two (address, port) endpoints are
 * hashed smaller first, then the protocol and the VLAN ids. */
static uint32_t flow_hash(const canh_pkt_t *p)
{
    const uint8_t *a = p->src, *b = p->dst;
    uint16_t pa = p->sport, pb = p->dport;
    int c = memcmp(a, b, 16);
    if (c > 0 || (c == 0 && pa > pb)) {
        a = p->dst;
        b = p->src;
        pa = p->dport;
        pb = p->sport;
    }
    uint64_t w[4], h = 0x243f6a8885a308d3ULL;
    memcpy(w, a, 16);
    memcpy(w + 2, b, 16);
    for (int i = 0; i < 4; i++)
        h = mix(h, w[i]);
    h = mix(h, (uint64_t)pa << 48 | (uint64_t)pb << 32 | (uint64_t)p->proto << 24 |
                   (uint64_t)p->ipver << 16 | p->nvlan);
    h = mix(h, (uint64_t)p->vlan[0] << 16 | p->vlan[1]);
    /* final avalanche (murmur3's fmix64) */
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return (uint32_t)(h ^ (h >> 32));
}

/* ---- layer 4 ------------------------------------------------------------ */

/* l4 .. l4+n are the IP payload; cut: the datagram was cut short by the
 * capture, so a length field over n is believed to be that. */
static res_t decode_l4(canh_pkt_t *p, const uint8_t *l4, uint32_t n, int cut)
{
    p->payload = l4;
    p->plen = n;
    switch (p->proto) {
    case P_TCP: {
        if (n < 20)
            return R_BAD(TCP_TRUNCATED);
        uint32_t doff = (uint32_t)(l4[12] >> 4) * 4;
        if (doff < 20)
            return R_BAD(TCP_BAD_HEADER);
        if (doff > n)
            return R_BAD(TCP_TRUNCATED);
        p->sport = rd16(l4);
        p->dport = rd16(l4 + 2);
        p->seq = rd32(l4 + 4);
        p->ack = rd32(l4 + 8);
        p->tcp_flags = l4[13];
        p->win = rd16(l4 + 14);
        p->tcp_optlen = (uint8_t)(doff - 20);
        p->tcp_opt = doff > 20 ? l4 + 20 : NULL;
        p->payload = l4 + doff;
        p->plen = n - doff;
        return R_OK;
    }
    case P_UDP: {
        if (n < 8)
            return R_BAD(UDP_TRUNCATED);
        uint32_t ulen = rd16(l4 + 4);
        if (ulen < 8)
            return R_BAD(UDP_BAD_LENGTH);
        if (ulen > n) {
            if (!cut)
                return R_BAD(UDP_BAD_LENGTH);
            ulen = n;
        }
        p->sport = rd16(l4);
        p->dport = rd16(l4 + 2);
        p->payload = l4 + 8;
        p->plen = ulen - 8;
        return R_OK;
    }
    case P_ICMP:
    case P_ICMPV6:
        if (n < 8)
            return R_BAD(ICMP_TRUNCATED);
        p->icmp_type = l4[0];
        p->icmp_code = l4[1];
        p->payload = l4 + 8;
        p->plen = n - 8;
        return R_OK;
    }
    return R_OK;
}

/* ---- IPv4 and IPv6 ------------------------------------------------------- */

static res_t decode_ip(canh_decoder_t *d, canh_pkt_t *p, const uint8_t *b, uint32_t avail,
                       int rebuilt);

static res_t defrag(canh_decoder_t *d, canh_pkt_t *p, canh_frag_t *fr)
{
    fr->nvlan = p->nvlan;
    fr->vlan[0] = p->vlan[0];
    fr->vlan[1] = p->vlan[1];
    memcpy(fr->src, p->src, 16);
    memcpy(fr->dst, p->dst, 16);
    uint32_t len = 0;
    int reason = CANH_DECODE_R_FRAG_BAD;
    int rc = canh_defrag_add(d->defrag, fr, p->ts_us, d->buf, &len, &reason,
                             d->counts.by_reason);
    if (rc == CANH_PKT_HELD)
        return R_HELD;
    if (rc != CANH_PKT_OK)
        return (res_t){ CANH_PKT_BAD, reason };
    d->counts.reassembled++;
    p->defragged = 1;
    return decode_ip(d, p, d->buf, len, 1);
}

static res_t decode_ipv4(canh_decoder_t *d, canh_pkt_t *p, const uint8_t *b, uint32_t avail,
                         int rebuilt)
{
    if (avail < 20)
        return R_BAD(IPV4_TRUNCATED);
    if (b[0] >> 4 != 4)
        return R_BAD(IPV4_BAD_HEADER);
    uint32_t ihl = (uint32_t)(b[0] & 15) * 4;
    if (ihl < 20)
        return R_BAD(IPV4_BAD_HEADER);
    if (ihl > avail)
        return R_BAD(IPV4_TRUNCATED);
    uint32_t len = rd16(b + 2);
    if (len < ihl)
        return R_BAD(IPV4_BAD_HEADER);
    int cut = 0;
    if (len > avail) {                  /* trust the smaller: the capture was cut */
        len = avail;
        cut = 1;
    }
    p->ipver = 4;
    p->ttl = b[8];
    p->proto = b[9];
    memset(p->src, 0, 16);
    memset(p->dst, 0, 16);
    memcpy(p->src, b + 12, 4);
    memcpy(p->dst, b + 16, 4);
    p->l3 = b;
    p->l3len = len;

    uint16_t fl = rd16(b + 6);
    if (fl & 0x3fff) {                  /* MF or an offset: a fragment */
        if (rebuilt || cut)
            return R_BAD(FRAG_BAD);
        canh_frag_t fr = {
            .ipver = 4, .proto = b[9], .id = rd16(b + 4), .hdr = b, .hdrlen = ihl,
            .off = (uint32_t)(fl & 0x1fff) * 8, .data = b + ihl, .len = len - ihl,
            .more = (fl & 0x2000) != 0,
        };
        return defrag(d, p, &fr);
    }
    return decode_l4(p, b + ihl, len - ihl, cut);
}

static res_t decode_ipv6(canh_decoder_t *d, canh_pkt_t *p, const uint8_t *b, uint32_t avail,
                         int rebuilt)
{
    if (avail < 40)
        return R_BAD(IPV6_TRUNCATED);
    if (b[0] >> 4 != 6)
        return R_BAD(IPV6_BAD_HEADER);
    uint32_t len = 40 + (uint32_t)rd16(b + 4);
    int cut = 0;
    if (len > avail) {
        len = avail;
        cut = 1;
    }
    p->ipver = 6;
    p->ttl = b[7];
    memcpy(p->src, b + 8, 16);
    memcpy(p->dst, b + 24, 16);
    p->l3 = b;
    p->l3len = len;

    uint8_t nh = b[6];
    uint32_t off = 40, nh_off = 6;
    for (;;) {
        switch (nh) {
        case P_IPV6_HOP:
            if (off != 40)              /* only right after the IPv6 header (RFC 8200 4.1) */
                return R_BAD(IPV6_BAD_EXTENSION);
            /* fallthrough */
        case P_IPV6_ROUTE:
        case P_IPV6_DST:
        case P_AH: {
            if (len - off < 8)
                return cut ? R_BAD(IPV6_TRUNCATED) : R_BAD(IPV6_BAD_EXTENSION);
            uint32_t hl = nh == P_AH ? ((uint32_t)b[off + 1] + 2) * 4
                                     : ((uint32_t)b[off + 1] + 1) * 8;
            if (hl > len - off)
                return cut ? R_BAD(IPV6_TRUNCATED) : R_BAD(IPV6_BAD_EXTENSION);
            nh_off = off;
            nh = b[off];
            off += hl;
            continue;
        }
        case P_IPV6_FRAG: {
            if (len - off < 8)
                return cut ? R_BAD(IPV6_TRUNCATED) : R_BAD(IPV6_BAD_EXTENSION);
            uint16_t fo = rd16(b + off + 2);
            uint32_t foff = fo & 0xfff8;
            int more = fo & 1;
            if (foff == 0 && !more) {   /* an atomic fragment (RFC 6946): no reassembly */
                nh_off = off;
                nh = b[off];
                off += 8;
                continue;
            }
            if (rebuilt || cut)
                return R_BAD(FRAG_BAD);
            p->proto = b[off];
            canh_frag_t fr = {
                .ipver = 6, .proto = b[off], .id = rd32(b + off + 4), .hdr = b, .hdrlen = off,
                .nh_off = nh_off, .off = foff, .data = b + off + 8, .len = len - off - 8,
                .more = more,
            };
            return defrag(d, p, &fr);
        }
        default:
            break;
        }
        break;
    }
    p->proto = nh;
    if (nh == P_ESP || nh == P_IPV6_NONE) {
        p->payload = b + off;
        p->plen = len - off;
        return R_OK;
    }
    return decode_l4(p, b + off, len - off, cut);
}

static res_t decode_ip(canh_decoder_t *d, canh_pkt_t *p, const uint8_t *b, uint32_t avail,
                       int rebuilt)
{
    if (avail < 1)
        return R_BAD(IPV4_TRUNCATED);
    if (b[0] >> 4 == 4)
        return decode_ipv4(d, p, b, avail, rebuilt);
    if (b[0] >> 4 == 6)
        return decode_ipv6(d, p, b, avail, rebuilt);
    return R_BAD(IP_BAD_VERSION);
}

/* ---- layer 2 ------------------------------------------------------------ */

/* After an ethertype at b[-2..-1]: VLAN tags, then IP. */
static res_t decode_ethertype(canh_decoder_t *d, canh_pkt_t *p, uint16_t type,
                              const uint8_t *b, uint32_t n)
{
    while (type == ETH_8021Q || type == ETH_8021AD || type == ETH_QINQ_OLD) {
        if (p->nvlan == 2)
            return R_SKIP(VLAN_TOO_MANY);
        if (n < 4)
            return R_BAD(LINK_TRUNCATED);
        p->vlan[p->nvlan++] = rd16(b) & 0x0fff;
        type = rd16(b + 2);
        b += 4;
        n -= 4;
    }
    if (type == ETH_IPV4)
        return decode_ipv4(d, p, b, n, 0);
    if (type == ETH_IPV6)
        return decode_ipv6(d, p, b, n, 0);
    return R_SKIP(NOT_IP);
}

static res_t decode_link(canh_decoder_t *d, int dlt, canh_pkt_t *p, const uint8_t *f,
                         uint32_t n)
{
    switch (dlt) {
    case LT_EN10MB:
        if (n < 14)
            return R_BAD(LINK_TRUNCATED);
        return decode_ethertype(d, p, rd16(f + 12), f + 14, n - 14);
    case LT_LINUX_SLL:
        if (n < 16)
            return R_BAD(LINK_TRUNCATED);
        if (rd16(f + 2) == 824)         /* ARPHRD_NETLINK: the protocol is a netlink family */
            return R_SKIP(NOT_IP);
        return decode_ethertype(d, p, rd16(f + 14), f + 16, n - 16);
    case LT_LINUX_SLL2:
        if (n < 20)
            return R_BAD(LINK_TRUNCATED);
        if (rd16(f + 8) == 824)
            return R_SKIP(NOT_IP);
        return decode_ethertype(d, p, rd16(f), f + 20, n - 20);
    case LT_RAW_12: case LT_RAW_14: case LT_RAW:
        if (n < 1)
            return R_BAD(LINK_TRUNCATED);
        return decode_ip(d, p, f, n, 0);
    case LT_IPV4:
        if (n < 1)
            return R_BAD(LINK_TRUNCATED);
        if (f[0] >> 4 != 4)
            return R_BAD(IP_BAD_VERSION);
        return decode_ipv4(d, p, f, n, 0);
    case LT_IPV6:
        if (n < 1)
            return R_BAD(LINK_TRUNCATED);
        if (f[0] >> 4 != 6)
            return R_BAD(IP_BAD_VERSION);
        return decode_ipv6(d, p, f, n, 0);
    case LT_NULL: case LT_LOOP: {
        /* a 4-byte address family in the byte order of the capturing host
           (DLT_NULL) or network order (DLT_LOOP); both read either way */
        if (n < 4)
            return R_BAD(LINK_TRUNCATED);
        uint32_t le = (uint32_t)f[0] | (uint32_t)f[1] << 8 | (uint32_t)f[2] << 16 |
                      (uint32_t)f[3] << 24;
        uint32_t fam = le <= 0xffff ? le : rd32(f);
        if (fam == 2)                   /* AF_INET everywhere */
            return decode_ipv4(d, p, f + 4, n - 4, 0);
        if (fam == 10 || fam == 24 || fam == 28 || fam == 30)  /* AF_INET6: Linux, *BSD,
                                                                  FreeBSD, Darwin */
            return decode_ipv6(d, p, f + 4, n - 4, 0);
        return R_SKIP(NOT_IP);
    }
    }
    return R_BAD(LINK_UNSUPPORTED);
}

int canh_decode(canh_decoder_t *d, int dlt, const uint8_t *frame, uint32_t caplen,
                uint32_t wirelen, int64_t ts_us, uint64_t num, canh_pkt_t *p)
{
    if (!d || !p || (!frame && caplen))
        return CANH_EINVAL;
    memset(p, 0, sizeof(*p));
    p->ts_us = ts_us;
    p->num = num;
    p->caplen = caplen;
    p->wirelen = wirelen;
    d->counts.frames++;
    d->counts.bytes += caplen;
    canh_defrag_expire(d->defrag, ts_us, d->counts.by_reason);

    res_t r = decode_link(d, dlt, p, frame, caplen);
    switch (r.rc) {
    case CANH_PKT_OK:
        p->hash = flow_hash(p);
        d->counts.ok++;
        break;
    case CANH_PKT_HELD:
        d->counts.held++;
        break;
    case CANH_PKT_SKIP:
        d->counts.skipped++;
        d->counts.by_reason[r.reason]++;
        break;
    default:
        d->counts.bad++;
        d->counts.by_reason[r.reason]++;
        break;
    }
    d->counts.frag_bytes = canh_defrag_used(d->defrag);
    d->counts.frag_pending = canh_defrag_pending(d->defrag);
    return r.rc;
}

/* ---- copies --------------------------------------------------------------- */

size_t canh_pkt_copy_size(const canh_pkt_t *p)
{
    return p && p->l3 ? p->l3len : 0;
}

static const uint8_t *rebase(const uint8_t *ptr, const canh_pkt_t *p, uint8_t *dst)
{
    if (!ptr || ptr < p->l3 || ptr > p->l3 + p->l3len)
        return NULL;
    return dst + (ptr - p->l3);
}

void canh_pkt_copy(const canh_pkt_t *p, uint8_t *dst, canh_pkt_t *out)
{
    canh_pkt_t c = *p;
    if (p->l3) {
        memcpy(dst, p->l3, p->l3len);
        c.l3 = dst;
        c.tcp_opt = rebase(p->tcp_opt, p, dst);
        c.payload = rebase(p->payload, p, dst);
    }
    *out = c;
}

/* ---- Community ID v1 ------------------------------------------------------- */

/* ICMP types with a counterpart (request and reply), as the spec takes them
 * from Zeek; other types are one-way: the code stands in for the port. */
static int icmp_counterpart(int v6, uint8_t type, uint16_t *other)
{
    static const uint8_t v4[][2] = {
        { 8, 0 }, { 0, 8 }, { 13, 14 }, { 14, 13 }, { 15, 16 }, { 16, 15 },
        { 10, 9 }, { 17, 18 }, { 18, 17 },
    };
    static const uint8_t v6map[][2] = {
        { 128, 129 }, { 129, 128 }, { 133, 134 }, { 134, 133 }, { 135, 136 }, { 136, 135 },
        { 130, 131 }, { 131, 130 }, { 139, 140 }, { 140, 139 }, { 144, 145 }, { 145, 144 },
    };
    const uint8_t (*m)[2] = v6 ? v6map : v4;
    size_t n = v6 ? CANH_ARRAY_LEN(v6map) : CANH_ARRAY_LEN(v4);
    for (size_t i = 0; i < n; i++)
        if (m[i][0] == type) {
            *other = m[i][1];
            return 1;
        }
    return 0;
}

size_t canh_community_id(const canh_pkt_t *p, uint16_t seed, char out[CANH_COMMUNITY_ID_LEN])
{
    if (!out)
        return 0;
    out[0] = '\0';
    if (!p || (p->ipver != 4 && p->ipver != 6))
        return 0;
    size_t alen = p->ipver == 4 ? 4 : 16;
    const uint8_t *sa = p->src, *da = p->dst;
    uint16_t sp = 0, dp = 0;
    int ports = 1, one_way = 0;
    switch (p->proto) {
    case P_TCP: case P_UDP:
        sp = p->sport;
        dp = p->dport;
        break;
    case P_SCTP:
        if (!p->payload || p->plen < 4)
            return 0;
        sp = rd16(p->payload);
        dp = rd16(p->payload + 2);
        break;
    case P_ICMP: case P_ICMPV6:
        sp = p->icmp_type;
        if (!icmp_counterpart(p->proto == P_ICMPV6, p->icmp_type, &dp)) {
            dp = p->icmp_code;
            one_way = 1;
        }
        break;
    default:
        ports = 0;
        break;
    }
    int c = memcmp(sa, da, alen);
    if (!one_way && (c > 0 || (c == 0 && sp > dp))) {
        const uint8_t *ta = sa;
        sa = da;
        da = ta;
        uint16_t tp = sp;
        sp = dp;
        dp = tp;
    }
    uint8_t in[2 + 16 + 16 + 2 + 4];
    size_t n = 0;
    in[n++] = (uint8_t)(seed >> 8);
    in[n++] = (uint8_t)seed;
    memcpy(in + n, sa, alen);
    n += alen;
    memcpy(in + n, da, alen);
    n += alen;
    in[n++] = p->proto;
    in[n++] = 0;
    if (ports) {
        in[n++] = (uint8_t)(sp >> 8);
        in[n++] = (uint8_t)sp;
        in[n++] = (uint8_t)(dp >> 8);
        in[n++] = (uint8_t)dp;
    }
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (!EVP_Digest(in, n, md, &mdlen, EVP_sha1(), NULL) || mdlen != 20)
        return 0;
    out[0] = '1';
    out[1] = ':';
    int b64 = EVP_EncodeBlock((unsigned char *)out + 2, md, 20);   /* 28 chars + NUL */
    if (b64 != 28) {
        out[0] = '\0';
        return 0;
    }
    return 30;
}
