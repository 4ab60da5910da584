/*
 * tests/test_decode.c -- the packet decoder (parsers/packet/decode.c,
 * defrag.c): every link type and layer on hand-built frames, truncation at
 * every byte, fragments (in order, out of order, overlapping, timed out,
 * memcap), IPv6 extension headers, the flow hash, packet copies, Community
 * ID against the specification's published vectors and against Suricata's
 * on a real capture, and real captures of the corpus decoding with no BAD.
 *
 * Thread: Criterion runs each test in its own process.
 */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <dirent.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../engine/canh.h"
#include "../parsers/packet/packet.h"

/* ---- frame builders ------------------------------------------------------ */

static const uint8_t A4[4] = { 10, 0, 0, 1 }, B4[4] = { 192, 168, 1, 2 };
static uint8_t A6[16], B6[16];

static void init6(void)
{
    inet_pton(AF_INET6, "2001:db8::1", A6);
    inet_pton(AF_INET6, "2001:db8::2", B6);
}

static void w16(uint8_t *p, uint32_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static void w32(uint8_t *p, uint32_t v) { w16(p, v >> 16); w16(p + 2, v & 0xffff); }

/* TCP header (+ options) + payload into b; returns its length */
static size_t mk_tcp(uint8_t *b, uint16_t sp, uint16_t dp, uint8_t flags, const uint8_t *opt,
                     size_t optlen, const char *pl, size_t plen)
{
    memset(b, 0, 20);
    w16(b, sp);
    w16(b + 2, dp);
    w32(b + 4, 1000);
    w32(b + 8, 2000);
    b[12] = (uint8_t)(((20 + optlen) / 4) << 4);
    b[13] = flags;
    w16(b + 14, 65535);
    if (optlen)
        memcpy(b + 20, opt, optlen);
    memcpy(b + 20 + optlen, pl, plen);
    return 20 + optlen + plen;
}

static size_t mk_udp(uint8_t *b, uint16_t sp, uint16_t dp, const char *pl, size_t plen)
{
    w16(b, sp);
    w16(b + 2, dp);
    w16(b + 4, (uint32_t)(8 + plen));
    w16(b + 6, 0);
    memcpy(b + 8, pl, plen);
    return 8 + plen;
}

static size_t mk_ip4(uint8_t *b, uint8_t proto, const uint8_t *l4, size_t n, uint16_t id,
                     uint16_t frag)
{
    memset(b, 0, 20);
    b[0] = 0x45;
    w16(b + 2, (uint32_t)(20 + n));
    w16(b + 4, id);
    w16(b + 6, frag);
    b[8] = 64;
    b[9] = proto;
    memcpy(b + 12, A4, 4);
    memcpy(b + 16, B4, 4);
    memcpy(b + 20, l4, n);
    return 20 + n;
}

static size_t mk_ip6(uint8_t *b, uint8_t nh, const uint8_t *rest, size_t n)
{
    memset(b, 0, 40);
    b[0] = 0x60;
    w16(b + 4, (uint32_t)n);
    b[6] = nh;
    b[7] = 55;
    memcpy(b + 8, A6, 16);
    memcpy(b + 24, B6, 16);
    memcpy(b + 40, rest, n);
    return 40 + n;
}

static size_t mk_eth(uint8_t *b, uint16_t type, const uint8_t *l3, size_t n)
{
    memset(b, 0, 12);
    b[0] = 0x02;
    b[6] = 0x04;
    w16(b + 12, type);
    memcpy(b + 14, l3, n);
    return 14 + n;
}

/* The reference packet: IPv4 TCP 10.0.0.1:40000 -> 192.168.1.2:80 "GET /" */
static size_t ref_ip4_tcp(uint8_t *b)
{
    uint8_t l4[64];
    size_t n = mk_tcp(l4, 40000, 80, CANH_TCP_PSH | CANH_TCP_ACK, NULL, 0, "GET /", 5);
    return mk_ip4(b, IPPROTO_TCP, l4, n, 7, 0);
}

static canh_decoder_t *dec(void)
{
    canh_decoder_t *d = canh_decoder_new(NULL);
    cr_assert(d);
    return d;
}

/* decode a copy of the frame in a buffer of exactly its size, so that ASan
 * sees any read past it */
static int run(canh_decoder_t *d, int dlt, const uint8_t *f, size_t n, int64_t ts,
               canh_pkt_t *p)
{
    static uint8_t *last;
    free(last);
    last = malloc(n ? n : 1);
    memcpy(last, f, n);
    return canh_decode(d, dlt, last, (uint32_t)n, (uint32_t)n, ts, 1, p);
}

static void assert_ref_tcp(const canh_pkt_t *p)
{
    cr_assert_eq(p->ipver, 4);
    cr_assert_eq(p->proto, IPPROTO_TCP);
    cr_assert_eq(memcmp(p->src, A4, 4), 0);
    cr_assert_eq(memcmp(p->dst, B4, 4), 0);
    cr_assert_eq(p->src[4], 0);
    cr_assert_eq(p->sport, 40000);
    cr_assert_eq(p->dport, 80);
    cr_assert_eq(p->seq, 1000);
    cr_assert_eq(p->ack, 2000);
    cr_assert_eq(p->win, 65535);
    cr_assert_eq(p->tcp_flags, CANH_TCP_PSH | CANH_TCP_ACK);
    cr_assert_eq(p->ttl, 64);
    cr_assert_eq(p->plen, 5);
    cr_assert_eq(memcmp(p->payload, "GET /", 5), 0);
    cr_assert_eq(p->l3len, 45);
}

/* ---- link layers ----------------------------------------------------------- */

Test(decode_link, ethernet_ipv4_tcp)
{
    canh_decoder_t *d = dec();
    uint8_t ip[128], f[256];
    size_t n = mk_eth(f, 0x0800, ip, ref_ip4_tcp(ip));
    canh_pkt_t p;
    cr_assert_eq(run(d, 1, f, n, 5, &p), CANH_PKT_OK);
    assert_ref_tcp(&p);
    cr_assert_eq(p.nvlan, 0);
    cr_assert_eq(p.ts_us, 5);
    cr_assert_eq(p.caplen, n);
    cr_assert_eq(canh_decoder_counts(d)->ok, 1);
    cr_assert_eq(canh_decoder_counts(d)->frames, 1);
    cr_assert_eq(canh_decoder_counts(d)->bytes, n);
    canh_decoder_free(d);
}

Test(decode_link, ethernet_padding_is_not_payload)
{
    canh_decoder_t *d = dec();
    uint8_t l4[32], ip[64], f[128];
    size_t n = mk_eth(f, 0x0800, ip, mk_ip4(ip, IPPROTO_UDP, l4, mk_udp(l4, 53, 5353, "ab", 2), 1, 0));
    cr_assert_lt(n, 60);
    memset(f + n, 0xee, 60 - n);           /* the NIC's padding to the minimum frame */
    canh_pkt_t p;
    cr_assert_eq(run(d, 1, f, 60, 0, &p), CANH_PKT_OK);
    cr_assert_eq(p.l3len, 20 + 8 + 2);
    cr_assert_eq(p.plen, 2);
    cr_assert_eq(memcmp(p.payload, "ab", 2), 0);
    canh_decoder_free(d);
}

Test(decode_link, vlan_8021q_qinq_and_too_many)
{
    canh_decoder_t *d = dec();
    uint8_t ip[128], f[256], tagged[256];
    size_t iplen = ref_ip4_tcp(ip);
    uint16_t outer_types[] = { 0x8100, 0x88a8, 0x9100 };
    for (size_t i = 0; i < 3; i++) {
        /* outer tag (type i, id 100+i), inner 802.1Q id 7, then IPv4 */
        uint8_t tags[8];
        w16(tags, 0x2000 | (100 + i));     /* priority bits must not leak into the id */
        w16(tags + 2, 0x8100);
        w16(tags + 4, 7);
        w16(tags + 6, 0x0800);
        memcpy(tagged, tags, 8);
        memcpy(tagged + 8, ip, iplen);
        size_t n = mk_eth(f, outer_types[i], tagged, 8 + iplen);
        canh_pkt_t p;
        cr_assert_eq(run(d, 1, f, n, 0, &p), CANH_PKT_OK, "outer type %#x", outer_types[i]);
        cr_assert_eq(p.nvlan, 2);
        cr_assert_eq(p.vlan[0], 100 + i);
        cr_assert_eq(p.vlan[1], 7);
        assert_ref_tcp(&p);
    }
    /* one tag */
    uint8_t one[4];
    w16(one, 42);
    w16(one + 2, 0x0800);
    memcpy(tagged, one, 4);
    memcpy(tagged + 4, ip, iplen);
    canh_pkt_t p;
    cr_assert_eq(run(d, 1, f, mk_eth(f, 0x8100, tagged, 4 + iplen), 0, &p), CANH_PKT_OK);
    cr_assert_eq(p.nvlan, 1);
    cr_assert_eq(p.vlan[0], 42);
    /* three tags: skipped, counted */
    uint8_t three[12];
    for (int i = 0; i < 3; i++) {
        w16(three + 4 * i, 1 + i);
        w16(three + 4 * i + 2, i < 2 ? 0x8100 : 0x0800);
    }
    memcpy(tagged, three, 12);
    memcpy(tagged + 12, ip, iplen);
    cr_assert_eq(run(d, 1, f, mk_eth(f, 0x8100, tagged, 12 + iplen), 0, &p), CANH_PKT_SKIP);
    cr_assert_eq(canh_decoder_counts(d)->by_reason[CANH_DECODE_R_VLAN_TOO_MANY], 1);
    cr_assert_eq(canh_decoder_counts(d)->skipped, 1);
    canh_decoder_free(d);
}

Test(decode_link, arp_and_other_ethertypes_are_skipped_not_bad)
{
    canh_decoder_t *d = dec();
    uint8_t arp[28] = { 0, 1, 8, 0, 6, 4, 0, 1 }, f[64];
    canh_pkt_t p;
    cr_assert_eq(run(d, 1, f, mk_eth(f, 0x0806, arp, 28), 0, &p), CANH_PKT_SKIP);
    cr_assert_eq(run(d, 1, f, mk_eth(f, 0x88cc, arp, 28), 0, &p), CANH_PKT_SKIP);   /* LLDP */
    cr_assert_eq(run(d, 1, f, mk_eth(f, 0x0040, arp, 28), 0, &p), CANH_PKT_SKIP);   /* 802.3 length */
    cr_assert_eq(canh_decoder_counts(d)->by_reason[CANH_DECODE_R_NOT_IP], 3);
    cr_assert_eq(canh_decoder_counts(d)->bad, 0);
    canh_decoder_free(d);
}

Test(decode_link, linux_sll_and_sll2)
{
    canh_decoder_t *d = dec();
    uint8_t ip[128], f[256];
    size_t iplen = ref_ip4_tcp(ip);
    /* SLL: packet type, ARPHRD, addr len, addr[8], protocol */
    memset(f, 0, 16);
    w16(f + 2, 1);
    w16(f + 4, 6);
    w16(f + 14, 0x0800);
    memcpy(f + 16, ip, iplen);
    canh_pkt_t p;
    cr_assert_eq(run(d, 113, f, 16 + iplen, 0, &p), CANH_PKT_OK);
    assert_ref_tcp(&p);
    /* SLL2: protocol, reserved, ifindex, ARPHRD, packet type, addr len, addr[8] */
    memset(f, 0, 20);
    w16(f, 0x0800);
    w32(f + 4, 3);
    w16(f + 8, 1);
    f[11] = 6;
    memcpy(f + 20, ip, iplen);
    cr_assert_eq(run(d, 276, f, 20 + iplen, 0, &p), CANH_PKT_OK);
    assert_ref_tcp(&p);
    /* SLL carrying IPv6 */
    init6();
    uint8_t l4[64], ip6[128];
    size_t n6 = mk_ip6(ip6, IPPROTO_UDP, l4, mk_udp(l4, 1, 2, "x", 1));
    memset(f, 0, 16);
    w16(f + 14, 0x86dd);
    memcpy(f + 16, ip6, n6);
    cr_assert_eq(run(d, 113, f, 16 + n6, 0, &p), CANH_PKT_OK);
    cr_assert_eq(p.ipver, 6);
    cr_assert_eq(p.proto, IPPROTO_UDP);
    /* short headers */
    cr_assert_eq(run(d, 113, f, 15, 0, &p), CANH_PKT_BAD);
    cr_assert_eq(run(d, 276, f, 19, 0, &p), CANH_PKT_BAD);
    cr_assert_eq(canh_decoder_counts(d)->by_reason[CANH_DECODE_R_LINK_TRUNCATED], 2);
    canh_decoder_free(d);
}

Test(decode_link, raw_ip_all_numbers)
{
    canh_decoder_t *d = dec();
    init6();
    uint8_t ip[128], l4[64], ip6[128];
    size_t n = ref_ip4_tcp(ip);
    size_t n6 = mk_ip6(ip6, IPPROTO_UDP, l4, mk_udp(l4, 1, 2, "x", 1));
    canh_pkt_t p;
    int raws[] = { 12, 14, 101 };
    for (size_t i = 0; i < 3; i++) {
        cr_assert_eq(run(d, raws[i], ip, n, 0, &p), CANH_PKT_OK);
        assert_ref_tcp(&p);
        cr_assert_eq(run(d, raws[i], ip6, n6, 0, &p), CANH_PKT_OK);
        cr_assert_eq(p.ipver, 6);
    }
    cr_assert_eq(run(d, 228, ip, n, 0, &p), CANH_PKT_OK);       /* DLT_IPV4 */
    cr_assert_eq(run(d, 229, ip6, n6, 0, &p), CANH_PKT_OK);     /* DLT_IPV6 */
    cr_assert_eq(run(d, 228, ip6, n6, 0, &p), CANH_PKT_BAD);
    cr_assert_eq(run(d, 229, ip, n, 0, &p), CANH_PKT_BAD);
    uint8_t junk[20] = { 0x50 };
    cr_assert_eq(run(d, 101, junk, 20, 0, &p), CANH_PKT_BAD);
    cr_assert_eq(canh_decoder_counts(d)->by_reason[CANH_DECODE_R_IP_BAD_VERSION], 3);
    cr_assert_eq(run(d, 147, ip, n, 0, &p), CANH_PKT_BAD);      /* a DLT canh does not read */
    cr_assert_eq(canh_decoder_counts(d)->by_reason[CANH_DECODE_R_LINK_UNSUPPORTED], 1);
    cr_assert(canh_decode_dlt_ok(1) && canh_decode_dlt_ok(276) && canh_decode_dlt_ok(0));
    cr_assert(!canh_decode_dlt_ok(147));
    canh_decoder_free(d);
}

Test(decode_link, loopback_both_byte_orders)
{
    canh_decoder_t *d = dec();
    init6();
    uint8_t ip[128], l4[64], ip6[128], f[256];
    size_t n = ref_ip4_tcp(ip);
    size_t n6 = mk_ip6(ip6, IPPROTO_UDP, l4, mk_udp(l4, 1, 2, "x", 1));
    canh_pkt_t p;
    int dlts[] = { 0, 108 };
    for (int k = 0; k < 2; k++) {
        /* AF_INET = 2, little-endian host and network order */
        uint8_t le[4] = { 2, 0, 0, 0 }, be[4] = { 0, 0, 0, 2 };
        memcpy(f, le, 4);
        memcpy(f + 4, ip, n);
        cr_assert_eq(run(d, dlts[k], f, 4 + n, 0, &p), CANH_PKT_OK);
        assert_ref_tcp(&p);
        memcpy(f, be, 4);
        cr_assert_eq(run(d, dlts[k], f, 4 + n, 0, &p), CANH_PKT_OK);
        assert_ref_tcp(&p);
        /* AF_INET6 of Linux, the BSDs, FreeBSD, Darwin */
        uint32_t fams[] = { 10, 24, 28, 30 };
        for (int i = 0; i < 4; i++) {
            memset(f, 0, 4);
            f[k ? 3 : 0] = (uint8_t)fams[i];
            memcpy(f + 4, ip6, n6);
            cr_assert_eq(run(d, dlts[k], f, 4 + n6, 0, &p), CANH_PKT_OK);
            cr_assert_eq(p.ipver, 6);
        }
        memset(f, 0, 4);
        f[0] = 7;                          /* not an IP family */
        cr_assert_eq(run(d, dlts[k], f, 4 + n, 0, &p), CANH_PKT_SKIP);
    }
    canh_decoder_free(d);
}

Test(decode_link, bad_arguments)
{
    canh_decoder_t *d = dec();
    canh_pkt_t p;
    uint8_t f[4] = { 0 };
    cr_assert_eq(canh_decode(NULL, 1, f, 4, 4, 0, 1, &p), CANH_EINVAL);
    cr_assert_eq(canh_decode(d, 1, f, 4, 4, 0, 1, NULL), CANH_EINVAL);
    cr_assert_eq(canh_decode(d, 1, NULL, 4, 4, 0, 1, &p), CANH_EINVAL);
    cr_assert_eq(canh_decoder_counts(d)->frames, 0);
    cr_assert_eq(canh_decode(d, 1, NULL, 0, 0, 0, 1, &p), CANH_PKT_BAD);
    cr_assert_eq(canh_decoder_counts(d)->by_reason[CANH_DECODE_R_LINK_TRUNCATED], 1);
    cr_assert_null(canh_decoder_counts(NULL));
    canh_decoder_free(NULL);
    canh_decoder_free(d);
}

Test(decode_link, every_reason_has_a_name)
{
    for (int r = 0; r < CANH_DECODE_R__COUNT; r++) {
        const char *n = canh_decode_reason_name(r);
        cr_assert(n && *n && strcmp(n, "?") != 0);
        for (int s = 0; s < r; s++)
            cr_assert_str_neq(n, canh_decode_reason_name(s));
    }
    cr_assert_str_eq(canh_decode_reason_name(-1), "?");
    cr_assert_str_eq(canh_decode_reason_name(CANH_DECODE_R__COUNT), "?");
    cr_assert_str_eq(canh_decode_reason_name(CANH_DECODE_R_FRAG_OVERLAP), "fragment_overlap");
}

/* ---- layers 3 and 4 -------------------------------------------------------- */

Test(decode_l3, ipv4_header_checks)
{
    canh_decoder_t *d = dec();
    uint8_t ip[128];
    size_t n = ref_ip4_tcp(ip);
    canh_pkt_t p;
    uint8_t b[128];
    memcpy(b, ip, n);
    b[0] = 0x44;                                   /* IHL 4 */
    cr_assert_eq(run(d, 101, b, n, 0, &p), CANH_PKT_BAD);
    cr_assert_eq(canh_decoder_counts(d)->by_reason[CANH_DECODE_R_IPV4_BAD_HEADER], 1);
    memcpy(b, ip, n);
    w16(b + 2, 19);                                /* total length below the header */
    cr_assert_eq(run(d, 101, b, n, 0, &p), CANH_PKT_BAD);
    cr_assert_eq(canh_decoder_counts(d)->by_reason[CANH_DECODE_R_IPV4_BAD_HEADER], 2);
    memcpy(b, ip, n);
    b[0] = 0x4f;                                   /* IHL 60 > 45 bytes there */
    cr_assert_eq(run(d, 101, b, n, 0, &p), CANH_PKT_BAD);
    cr_assert_eq(canh_decoder_counts(d)->by_reason[CANH_DECODE_R_IPV4_TRUNCATED], 1);
    /* IP options: TCP found after them */
    uint8_t l4[64], opt[4] = { 1, 1, 1, 0 };       /* NOP NOP NOP EOL */
    size_t tl = mk_tcp(l4, 1, 2, CANH_TCP_SYN, NULL, 0, "", 0);
    memset(b, 0, 24);
    b[0] = 0x46;
    w16(b + 2, (uint32_t)(24 + tl));
    b[9] = 6;
    memcpy(b + 20, opt, 4);
    memcpy(b + 24, l4, tl);
    cr_assert_eq(run(d, 101, b, 24 + tl, 0, &p), CANH_PKT_OK);
    cr_assert_eq(p.sport, 1);
    cr_assert_eq(p.tcp_flags, CANH_TCP_SYN);
    /* total length over the bytes captured: the smaller is trusted */
    memcpy(b, ip, n);
    cr_assert_eq(run(d, 101, b, n - 2, 0, &p), CANH_PKT_OK);
    cr_assert_eq(p.l3len, n - 2);
    cr_assert_eq(p.plen, 3);
    canh_decoder_free(d);
}

Test(decode_l4, tcp_options_and_bad_offsets)
{
    canh_decoder_t *d = dec();
    uint8_t l4[128], ip[256];
    uint8_t opt[12] = { 2, 4, 0x05, 0xb4, 1, 3, 3, 7, 4, 2, 0, 0 };   /* MSS, NOP, WS, SACK-ok */
    size_t n = mk_ip4(ip, 6, l4, mk_tcp(l4, 5, 6, CANH_TCP_SYN, opt, 12, "hi", 2), 1, 0);
    canh_pkt_t p;
    cr_assert_eq(run(d, 101, ip, n, 0, &p), CANH_PKT_OK);
    cr_assert_eq(p.tcp_optlen, 12);
    cr_assert_eq(memcmp(p.tcp_opt, opt, 12), 0);
    cr_assert_eq(p.plen, 2);
    cr_assert_eq(memcmp(p.payload, "hi", 2), 0);
    ip[20 + 12] = 0x40;                            /* data offset 4 */
    cr_assert_eq(run(d, 101, ip, n, 0, &p), CANH_PKT_BAD);
    cr_assert_eq(canh_decoder_counts(d)->by_reason[CANH_DECODE_R_TCP_BAD_HEADER], 1);
    ip[20 + 12] = 0xf0;                            /* data offset 60 > 34 bytes */
    cr_assert_eq(run(d, 101, ip, n, 0, &p), CANH_PKT_BAD);
    cr_assert_eq(canh_decoder_counts(d)->by_reason[CANH_DECODE_R_TCP_TRUNCATED], 1);
    canh_decoder_free(d);
}

Test(decode_l4, udp_length)
{
    canh_decoder_t *d = dec();
    uint8_t l4[64], ip[128];
    size_t n = mk_ip4(ip, 17, l4, mk_udp(l4, 53, 9999, "abcd", 4), 1, 0);
    canh_pkt_t p;
    cr_assert_eq(run(d, 101, ip, n, 0, &p), CANH_PKT_OK);
    cr_assert_eq(p.sport, 53);
    cr_assert_eq(p.dport, 9999);
    cr_assert_eq(p.plen, 4);
    w16(ip + 20 + 4, 10);                          /* UDP says 2 bytes of data: trusted */
    cr_assert_eq(run(d, 101, ip, n, 0, &p), CANH_PKT_OK);
    cr_assert_eq(p.plen, 2);
    w16(ip + 20 + 4, 7);
    cr_assert_eq(run(d, 101, ip, n, 0, &p), CANH_PKT_BAD);
    w16(ip + 20 + 4, 40);                          /* over the IP payload */
    cr_assert_eq(run(d, 101, ip, n, 0, &p), CANH_PKT_BAD);
    cr_assert_eq(canh_decoder_counts(d)->by_reason[CANH_DECODE_R_UDP_BAD_LENGTH], 2);
    canh_decoder_free(d);
}

Test(decode_l4, icmp_and_icmpv6)
{
    canh_decoder_t *d = dec();
    init6();
    uint8_t icmp[16] = { 8, 0, 0, 0, 0, 1, 0, 1, 'p', 'i', 'n', 'g' }, ip[128];
    canh_pkt_t p;
    size_t n = mk_ip4(ip, 1, icmp, 12, 1, 0);
    cr_assert_eq(run(d, 101, ip, n, 0, &p), CANH_PKT_OK);
    cr_assert_eq(p.proto, 1);
    cr_assert_eq(p.icmp_type, 8);
    cr_assert_eq(p.icmp_code, 0);
    cr_assert_eq(p.plen, 4);
    cr_assert_eq(p.sport, 0);
    icmp[0] = 135;
    n = mk_ip6(ip, 58, icmp, 12);
    cr_assert_eq(run(d, 101, ip, n, 0, &p), CANH_PKT_OK);
    cr_assert_eq(p.proto, 58);
    cr_assert_eq(p.icmp_type, 135);
    cr_assert_eq(p.ttl, 55);
    n = mk_ip4(ip, 1, icmp, 6, 1, 0);
    cr_assert_eq(run(d, 101, ip, n, 0, &p), CANH_PKT_BAD);
    cr_assert_eq(canh_decoder_counts(d)->by_reason[CANH_DECODE_R_ICMP_TRUNCATED], 1);
    canh_decoder_free(d);
}

Test(decode_l3, other_protocols_have_their_ip_payload)
{
    canh_decoder_t *d = dec();
    uint8_t gre[8] = { 0, 0, 0x08, 0, 1, 2, 3, 4 }, ip[64];
    canh_pkt_t p;
    cr_assert_eq(run(d, 101, ip, mk_ip4(ip, 47, gre, 8, 1, 0), 0, &p), CANH_PKT_OK);
    cr_assert_eq(p.proto, 47);
    cr_assert_eq(p.plen, 8);
    cr_assert_eq(p.payload, p.l3 + 20);
    cr_assert_eq(p.sport, 0);
    canh_decoder_free(d);
}

/* IPv6: hop-by-hop, destination options, routing, AH, then UDP */
Test(decode_l3, ipv6_extension_headers)
{
    canh_decoder_t *d = dec();
    init6();
    uint8_t rest[256], ip[512], udp[32];
    size_t ul = mk_udp(udp, 546, 547, "dhcp", 4);
    size_t o = 0;
    /* hop-by-hop, 8 bytes: next = dst opts */
    memset(rest, 0, sizeof(rest));
    rest[o] = 60; rest[o + 1] = 0; rest[o + 2] = 1; rest[o + 3] = 4; o += 8;
    /* destination options, 16 bytes: next = routing */
    rest[o] = 43; rest[o + 1] = 1; rest[o + 2] = 1; rest[o + 3] = 12; o += 16;
    /* routing (type 0 segments left 0), 8 bytes: next = AH */
    rest[o] = 51; rest[o + 1] = 0; o += 8;
    /* AH: payload len 4 -> (4+2)*4 = 24 bytes: next = UDP */
    rest[o] = 17; rest[o + 1] = 4; o += 24;
    memcpy(rest + o, udp, ul);
    size_t n = mk_ip6(ip, 0, rest, o + ul);
    canh_pkt_t p;
    cr_assert_eq(run(d, 229, ip, n, 0, &p), CANH_PKT_OK);
    cr_assert_eq(p.proto, IPPROTO_UDP);
    cr_assert_eq(p.sport, 546);
    cr_assert_eq(p.plen, 4);
    cr_assert_eq(memcmp(p.payload, "dhcp", 4), 0);
    cr_assert_eq(memcmp(p.src, A6, 16), 0);
    cr_assert_eq(memcmp(p.dst, B6, 16), 0);
    cr_assert_eq(p.l3len, n);

    /* hop-by-hop anywhere but first is bad */
    uint8_t bad[64] = { 0 };
    bad[0] = 0; bad[1] = 0;                         /* dst opts -> HBH */
    bad[8] = 59;
    n = mk_ip6(ip, 60, bad, 16);
    cr_assert_eq(run(d, 229, ip, n, 0, &p), CANH_PKT_BAD);
    cr_assert_eq(canh_decoder_counts(d)->by_reason[CANH_DECODE_R_IPV6_BAD_EXTENSION], 1);
    /* an extension header longer than the payload length */
    bad[0] = 17; bad[1] = 5;
    n = mk_ip6(ip, 60, bad, 16);
    cr_assert_eq(run(d, 229, ip, n, 0, &p), CANH_PKT_BAD);
    cr_assert_eq(canh_decoder_counts(d)->by_reason[CANH_DECODE_R_IPV6_BAD_EXTENSION], 2);

    /* ESP and no-next-header stop the walk */
    uint8_t esp[16] = { 0, 0, 1, 0, 0, 0, 0, 1, 9, 9, 9, 9, 9, 9, 9, 9 };
    n = mk_ip6(ip, 50, esp, 16);
    cr_assert_eq(run(d, 229, ip, n, 0, &p), CANH_PKT_OK);
    cr_assert_eq(p.proto, 50);
    cr_assert_eq(p.plen, 16);
    n = mk_ip6(ip, 59, esp, 0);
    cr_assert_eq(run(d, 229, ip, n, 0, &p), CANH_PKT_OK);
    cr_assert_eq(p.proto, 59);
    cr_assert_eq(p.plen, 0);
    /* an atomic fragment (offset 0, no more) is no reassembly */
    uint8_t atom[64] = { 17, 0, 0, 0, 0, 0, 0, 9 };
    memcpy(atom + 8, udp, ul);
    n = mk_ip6(ip, 44, atom, 8 + ul);
    cr_assert_eq(run(d, 229, ip, n, 0, &p), CANH_PKT_OK);
    cr_assert_eq(p.proto, 17);
    cr_assert_eq(p.dport, 547);
    cr_assert_eq(p.defragged, 0);
    /* payload length over the bytes captured: the smaller is trusted */
    n = mk_ip6(ip, 17, udp, ul);
    w16(ip + 4, 200);
    cr_assert_eq(run(d, 229, ip, n, 0, &p), CANH_PKT_OK);
    cr_assert_eq(p.l3len, n);
    ip[0] = 0x70;
    cr_assert_eq(run(d, 229, ip, n, 0, &p), CANH_PKT_BAD);
    canh_decoder_free(d);
}

/* ---- truncation at every byte ------------------------------------------------ */

static void cut_everywhere(int dlt, const uint8_t *f, size_t n, size_t headers)
{
    canh_decoder_t *d = dec();
    for (size_t cut = 0; cut <= n; cut++) {
        canh_pkt_t p;
        const canh_decode_counts_t *c = canh_decoder_counts(d);
        uint64_t reasons = 0, bad0 = c->bad;
        for (int r = 0; r < CANH_DECODE_R__COUNT; r++)
            reasons -= c->by_reason[r];
        int rc = run(d, dlt, f, cut, 0, &p);
        for (int r = 0; r < CANH_DECODE_R__COUNT; r++)
            reasons += c->by_reason[r];
        if (cut < headers) {
            cr_assert_eq(rc, CANH_PKT_BAD, "dlt %d cut at %zu of %zu: %d", dlt, cut, n, rc);
            cr_assert_eq(c->bad, bad0 + 1);
            cr_assert_eq(reasons, 1, "dlt %d cut at %zu: one reason counted", dlt, cut);
        } else {
            cr_assert_eq(rc, CANH_PKT_OK, "dlt %d cut at %zu of %zu: %d", dlt, cut, n, rc);
            cr_assert_leq(p.l3len, cut);
            cr_assert_leq(p.plen, n - headers);
        }
    }
    cr_assert_eq(canh_decoder_counts(d)->frames, n + 1);
    canh_decoder_free(d);
}

Test(decode_cut, every_byte_of_good_frames)
{
    init6();
    uint8_t ip[128], f[256], l4[128], ip6[256], tagged[256];
    /* Ethernet + 2 VLAN tags + IPv4 + TCP with options */
    uint8_t opt[4] = { 2, 4, 5, 0xb4 };
    size_t tl = mk_tcp(l4, 1, 2, CANH_TCP_SYN, opt, 4, "data", 4);
    size_t n = mk_ip4(ip, 6, l4, tl, 1, 0);
    uint8_t tags[8] = { 0, 5, 0x81, 0x00, 0, 6, 0x08, 0x00 };
    memcpy(tagged, tags, 8);
    memcpy(tagged + 8, ip, n);
    size_t fn = mk_eth(f, 0x88a8, tagged, 8 + n);
    cut_everywhere(1, f, fn, 14 + 8 + 20 + 24);
    /* SLL2 + IPv6 + HBH + UDP */
    uint8_t rest[64] = { 17, 0, 1, 4, 0, 0, 0, 0 };
    size_t ul = mk_udp(rest + 8, 7, 8, "udp!", 4);
    size_t n6 = mk_ip6(ip6, 0, rest, 8 + ul);
    memset(f, 0, 20);
    w16(f, 0x86dd);
    memcpy(f + 20, ip6, n6);
    cut_everywhere(276, f, 20 + n6, 20 + 40 + 8 + 8);
    /* SLL + IPv4 + ICMP */
    uint8_t icmp[12] = { 8, 0, 0, 0, 0, 1, 0, 1, 'a', 'b', 'c', 'd' };
    n = mk_ip4(ip, 1, icmp, 12, 1, 0);
    memset(f, 0, 16);
    w16(f + 14, 0x0800);
    memcpy(f + 16, ip, n);
    cut_everywhere(113, f, 16 + n, 16 + 20 + 8);
    /* loopback + IPv6 + ICMPv6 */
    icmp[0] = 128;
    n6 = mk_ip6(ip6, 58, icmp, 12);
    uint8_t lo[4] = { 30, 0, 0, 0 };
    memcpy(f, lo, 4);
    memcpy(f + 4, ip6, n6);
    cut_everywhere(0, f, 4 + n6, 4 + 40 + 8);
}

/* ---- fragments ----------------------------------------------------------------- */

/* a UDP datagram of 8 + 40 bytes of payload 'A'..: cut into IPv4 fragments
 * at the given offsets (of the IP payload) */
static uint8_t dgram[64];    /* 48 bytes of datagram, then zeros */

static void mk_dgram(void)
{
    char pl[40];
    for (int i = 0; i < 40; i++)
        pl[i] = (char)('A' + i);
    mk_udp(dgram, 1111, 2222, pl, 40);
}

static size_t frag4(uint8_t *b, uint16_t id, uint32_t off, uint32_t len, int more,
                    const uint8_t *data)
{
    return mk_ip4(b, 17, data + off, len, id, (uint16_t)((more ? 0x2000 : 0) | (off / 8)));
}

static void assert_dgram(const canh_pkt_t *p)
{
    cr_assert_eq(p->defragged, 1);
    cr_assert_eq(p->proto, 17);
    cr_assert_eq(p->sport, 1111);
    cr_assert_eq(p->dport, 2222);
    cr_assert_eq(p->plen, 40);
    cr_assert_eq(memcmp(p->payload, dgram + 8, 40), 0);
    cr_assert_eq(p->l3len, 68);
    cr_assert_eq(p->l3[6] & 0x3f, 0);              /* no fragment bits left */
    cr_assert_eq(p->l3[2] << 8 | p->l3[3], 68);
}

Test(defrag, ipv4_in_order_and_out_of_order)
{
    mk_dgram();
    canh_decoder_t *d = dec();
    uint8_t f[3][128];
    size_t n0 = frag4(f[0], 9, 0, 16, 1, dgram);
    size_t n1 = frag4(f[1], 9, 16, 16, 1, dgram);
    size_t n2 = frag4(f[2], 9, 32, 16, 0, dgram);
    canh_pkt_t p;
    cr_assert_eq(run(d, 101, f[0], n0, 1, &p), CANH_PKT_HELD);
    cr_assert_eq(run(d, 101, f[1], n1, 2, &p), CANH_PKT_HELD);
    cr_assert_eq(canh_decode(d, 101, f[2], (uint32_t)n2, (uint32_t)n2, 3, 77, &p), CANH_PKT_OK);
    assert_dgram(&p);
    cr_assert_eq(p.num, 77);
    /* out of order: last, first, middle */
    size_t order[3] = { 2, 0, 1 }, lens[3] = { n0, n1, n2 };
    for (int i = 0; i < 3; i++) {
        int rc = run(d, 101, f[order[i]], lens[order[i]], 4, &p);
        cr_assert_eq(rc, i < 2 ? CANH_PKT_HELD : CANH_PKT_OK);
    }
    assert_dgram(&p);
    const canh_decode_counts_t *c = canh_decoder_counts(d);
    cr_assert_eq(c->reassembled, 2);
    cr_assert_eq(c->held, 4);
    cr_assert_eq(c->ok, 2);
    cr_assert_eq(c->by_reason[CANH_DECODE_R_FRAG_OVERLAP], 0);
    cr_assert_eq(c->frag_pending, 0);
    cr_assert_eq(c->frag_bytes, 0);
    canh_decoder_free(d);
}

Test(defrag, key_includes_vlan_and_protocol)
{
    mk_dgram();
    canh_decoder_t *d = dec();
    uint8_t a[128], b[128], e[256], tagged[256];
    size_t na = frag4(a, 5, 0, 24, 1, dgram);
    size_t nb = frag4(b, 5, 24, 24, 0, dgram);
    canh_pkt_t p;
    /* first half on VLAN 10, second half untagged: never whole */
    uint8_t tag[4] = { 0, 10, 0x08, 0x00 };
    memcpy(tagged, tag, 4);
    memcpy(tagged + 4, a, na);
    cr_assert_eq(run(d, 1, e, mk_eth(e, 0x8100, tagged, 4 + na), 0, &p), CANH_PKT_HELD);
    cr_assert_eq(run(d, 1, e, mk_eth(e, 0x0800, b, nb), 0, &p), CANH_PKT_HELD);
    /* second half on VLAN 10: whole, with its VLAN */
    memcpy(tagged + 4, b, nb);
    cr_assert_eq(run(d, 1, e, mk_eth(e, 0x8100, tagged, 4 + nb), 0, &p), CANH_PKT_OK);
    assert_dgram(&p);
    cr_assert_eq(p.nvlan, 1);
    cr_assert_eq(p.vlan[0], 10);
    /* same addresses and id, another protocol: another datagram */
    na = frag4(a, 6, 0, 24, 1, dgram);
    nb = frag4(b, 6, 24, 24, 0, dgram);
    b[9] = 6;
    cr_assert_eq(run(d, 101, a, na, 0, &p), CANH_PKT_HELD);
    cr_assert_eq(run(d, 101, b, nb, 0, &p), CANH_PKT_HELD);
    b[9] = 17;
    cr_assert_eq(run(d, 101, b, nb, 0, &p), CANH_PKT_OK);
    assert_dgram(&p);
    cr_assert_eq(canh_decoder_counts(d)->frag_pending, 2);     /* the two strays */
    canh_decoder_free(d);
}

Test(defrag, overlap_first_data_wins)
{
    mk_dgram();
    canh_decoder_t *d = dec();
    uint8_t evil[48];
    memcpy(evil, dgram, 48);
    memset(evil + 16, 'X', 32);                    /* other bytes at the same offsets */
    uint8_t f[128];
    canh_pkt_t p;
    cr_assert_eq(run(d, 101, f, frag4(f, 3, 16, 16, 1, dgram), 0, &p), CANH_PKT_HELD);
    cr_assert_eq(run(d, 101, f, frag4(f, 3, 8, 24, 1, evil), 0, &p), CANH_PKT_HELD);   /* overlaps */
    cr_assert_eq(canh_decoder_counts(d)->by_reason[CANH_DECODE_R_FRAG_OVERLAP], 1);
    cr_assert_eq(run(d, 101, f, frag4(f, 3, 16, 16, 1, evil), 0, &p), CANH_PKT_HELD);  /* duplicate */
    cr_assert_eq(canh_decoder_counts(d)->by_reason[CANH_DECODE_R_FRAG_OVERLAP], 2);
    cr_assert_eq(run(d, 101, f, frag4(f, 3, 32, 16, 0, dgram), 0, &p), CANH_PKT_HELD);
    cr_assert_eq(run(d, 101, f, frag4(f, 3, 0, 8, 1, dgram), 0, &p), CANH_PKT_OK);
    /* bytes 8..15 only came in the evil fragment; 16..31 came first from
       the good one and stay */
    cr_assert_eq(p.plen, 40);
    cr_assert_eq(memcmp(p.l3 + 20 + 16, dgram + 16, 16), 0);
    cr_assert_eq(memcmp(p.l3 + 20 + 8, evil + 8, 8), 0);
    cr_assert_eq(memcmp(p.l3 + 20 + 32, dgram + 32, 16), 0);
    canh_decoder_free(d);
}

Test(defrag, timeout_on_packet_time)
{
    mk_dgram();
    canh_decoder_opts_t o = { .defrag_timeout_us = 1000000 };
    canh_decoder_t *d = canh_decoder_new(&o);
    uint8_t f[128];
    canh_pkt_t p;
    cr_assert_eq(run(d, 101, f, frag4(f, 4, 0, 24, 1, dgram), 10000000, &p), CANH_PKT_HELD);
    /* 2 s later on the capture's clock: the first half is gone */
    cr_assert_eq(run(d, 101, f, frag4(f, 4, 24, 24, 0, dgram), 12000000, &p), CANH_PKT_HELD);
    cr_assert_eq(canh_decoder_counts(d)->by_reason[CANH_DECODE_R_FRAG_TIMEOUT], 1);
    /* the first half again, in time with the second: whole */
    cr_assert_eq(run(d, 101, f, frag4(f, 4, 0, 24, 1, dgram), 12500000, &p), CANH_PKT_OK);
    assert_dgram(&p);
    /* a lone fragment expires on any later frame, not only a fragment */
    cr_assert_eq(run(d, 101, f, frag4(f, 5, 0, 24, 1, dgram), 13000000, &p), CANH_PKT_HELD);
    uint8_t ip[128];
    cr_assert_eq(run(d, 101, ip, ref_ip4_tcp(ip), 15000000, &p), CANH_PKT_OK);
    cr_assert_eq(canh_decoder_counts(d)->by_reason[CANH_DECODE_R_FRAG_TIMEOUT], 2);
    canh_decoder_free(d);
}

Test(defrag, memcap_evicts_oldest)
{
    mk_dgram();
    canh_decoder_opts_t o = { .defrag_memcap = 2000 };
    canh_decoder_t *d = canh_decoder_new(&o);
    uint8_t f[128];
    canh_pkt_t p;
    /* many half datagrams: each holds ~ a tracker and a fragment */
    for (uint16_t id = 1; id <= 40; id++)
        cr_assert_eq(run(d, 101, f, frag4(f, id, 0, 24, 1, dgram), id, &p), CANH_PKT_HELD);
    uint64_t evicted = canh_decoder_counts(d)->by_reason[CANH_DECODE_R_FRAG_MEMCAP];
    cr_assert_gt(evicted, 0);
    cr_assert_lt(evicted, 40);
    cr_assert_leq(canh_decoder_counts(d)->frag_bytes, 2000);
    cr_assert_gt(canh_decoder_counts(d)->frag_bytes, 1000);
    cr_assert_eq(canh_decoder_counts(d)->frag_pending, 40 - evicted);
    /* the newest is still held, the oldest is gone */
    cr_assert_eq(run(d, 101, f, frag4(f, 40, 24, 24, 0, dgram), 50, &p), CANH_PKT_OK);
    assert_dgram(&p);
    cr_assert_eq(canh_decoder_counts(d)->frag_pending, 40 - evicted - 1);
    cr_assert_eq(run(d, 101, f, frag4(f, 1, 24, 24, 0, dgram), 51, &p), CANH_PKT_HELD);
    /* a datagram bigger than the whole memcap is refused, counted */
    canh_decoder_free(d);
    o.defrag_memcap = 100;
    d = canh_decoder_new(&o);
    cr_assert_eq(run(d, 101, f, frag4(f, 1, 0, 24, 1, dgram), 1, &p), CANH_PKT_BAD);
    cr_assert_eq(canh_decoder_counts(d)->by_reason[CANH_DECODE_R_FRAG_MEMCAP], 1);
    canh_decoder_free(d);
}

Test(defrag, bad_fragments)
{
    mk_dgram();
    canh_decoder_t *d = dec();
    uint8_t f[128], big[1500];
    canh_pkt_t p;
    /* a non-last fragment whose length is not a multiple of 8 */
    cr_assert_eq(run(d, 101, f, frag4(f, 6, 0, 20, 1, dgram), 0, &p), CANH_PKT_BAD);
    /* past 65535 bytes: offset 8189*8 = 65512 + 20 header + 24 */
    memset(big, 'z', sizeof(big));
    cr_assert_eq(run(d, 101, f, mk_ip4(f, 17, big, 24, 6, 8189), 0, &p), CANH_PKT_BAD);
    /* two different ends */
    cr_assert_eq(run(d, 101, f, frag4(f, 7, 32, 16, 0, dgram), 0, &p), CANH_PKT_HELD);
    cr_assert_eq(run(d, 101, f, frag4(f, 7, 24, 16, 0, dgram), 0, &p), CANH_PKT_BAD);
    /* data past the known end */
    cr_assert_eq(run(d, 101, f, frag4(f, 7, 40, 16, 1, dgram), 0, &p), CANH_PKT_BAD);
    cr_assert_eq(canh_decoder_counts(d)->by_reason[CANH_DECODE_R_FRAG_BAD], 4);
    /* the datagram still completes with good fragments */
    cr_assert_eq(run(d, 101, f, frag4(f, 7, 0, 32, 1, dgram), 0, &p), CANH_PKT_OK);
    assert_dgram(&p);
    /* a fragment cut by the capture cannot be reassembled */
    size_t n = frag4(f, 8, 0, 24, 1, dgram);
    cr_assert_eq(run(d, 101, f, n - 4, 0, &p), CANH_PKT_BAD);
    cr_assert_eq(canh_decoder_counts(d)->by_reason[CANH_DECODE_R_FRAG_BAD], 5);
    canh_decoder_free(d);
}

Test(defrag, largest_datagram_is_whole)
{
    /* 65535 bytes: 20 of header + 65515 of UDP in 1480-byte fragments */
    static uint8_t pay[65515], f[1600];
    for (size_t i = 0; i < sizeof(pay); i++)
        pay[i] = (uint8_t)(i * 7);
    w16(pay, 1);
    w16(pay + 2, 2);
    w16(pay + 4, 65515);
    w16(pay + 6, 0);
    canh_decoder_t *d = dec();
    canh_pkt_t p;
    int rc = -1;
    for (uint32_t off = 0; off < sizeof(pay); off += 1480) {
        uint32_t len = sizeof(pay) - off < 1480 ? (uint32_t)sizeof(pay) - off : 1480;
        int more = off + len < sizeof(pay);
        rc = run(d, 101, f, mk_ip4(f, 17, pay + off, len, 99, (uint16_t)((more ? 0x2000 : 0) | off / 8)),
                 0, &p);
        cr_assert_eq(rc, more ? CANH_PKT_HELD : CANH_PKT_OK);
    }
    cr_assert_eq(p.l3len, 65535);
    cr_assert_eq(p.plen, 65507);
    cr_assert_eq(memcmp(p.payload, pay + 8, 65507), 0);
    canh_decoder_free(d);
}

Test(defrag, ipv6_with_extension_before_fragment_header)
{
    init6();
    mk_dgram();
    canh_decoder_t *d = dec();
    /* unfragmentable part: a destination options header (8 bytes) whose
       next header is the fragment header */
    uint8_t rest[128], ip[256];
    canh_pkt_t p;
    uint32_t offs[2] = { 0, 24 };
    int rcs[2];
    for (int k = 1; k >= 0; k--) {              /* second half first */
        memset(rest, 0, 16);
        rest[0] = 44;                           /* dst opts -> fragment */
        rest[8] = 17;                           /* fragment -> UDP */
        w16(rest + 10, offs[k] | (k == 0 ? 1 : 0));
        w32(rest + 12, 0xabcdef01);
        memcpy(rest + 16, dgram + offs[k], 24);
        size_t n = mk_ip6(ip, 60, rest, 16 + 24);
        rcs[k] = run(d, 1 == 1 ? 229 : 0, ip, n, 0, &p);
    }
    cr_assert_eq(rcs[1], CANH_PKT_HELD);
    cr_assert_eq(rcs[0], CANH_PKT_OK);
    cr_assert_eq(p.ipver, 6);
    cr_assert_eq(p.defragged, 1);
    cr_assert_eq(p.proto, 17);
    cr_assert_eq(p.sport, 1111);
    cr_assert_eq(p.plen, 40);
    cr_assert_eq(memcmp(p.payload, dgram + 8, 40), 0);
    cr_assert_eq(p.l3len, 40 + 8 + 48);
    cr_assert_eq(p.l3[4] << 8 | p.l3[5], 8 + 48);  /* payload length rewritten */
    cr_assert_eq(p.l3[40], 17);                     /* dst opts now names UDP */
    cr_assert_eq(memcmp(p.src, A6, 16), 0);
    canh_decoder_free(d);
}

static size_t frag6(uint8_t *ip, uint32_t id, uint32_t off, uint32_t len, int more,
                    const uint8_t *data)
{
    uint8_t rest[128] = { 17, 0 };
    w16(rest + 2, off | (more ? 1 : 0));
    w32(rest + 4, id);
    memcpy(rest + 8, data + off, len);
    return mk_ip6(ip, 44, rest, 8 + len);
}

Test(defrag, ipv6_overlap_first_wins_and_key_is_rfc8200)
{
    init6();
    mk_dgram();
    canh_decoder_t *d = dec();
    uint8_t evil[64], ip[256];
    memcpy(evil, dgram, 64);
    memset(evil + 8, 'X', 40);
    canh_pkt_t p;
    cr_assert_eq(run(d, 229, ip, frag6(ip, 42, 8, 16, 1, dgram), 0, &p), CANH_PKT_HELD);
    frag6(ip, 42, 16, 32, 0, evil);
    ip[40] = 6;                 /* a later fragment naming another next header */
    cr_assert_eq(run(d, 229, ip, 40 + 8 + 32, 0, &p), CANH_PKT_HELD);
    cr_assert_eq(canh_decoder_counts(d)->by_reason[CANH_DECODE_R_FRAG_OVERLAP], 1);
    /* an IPv4 fragment of the same id is not part of it */
    uint8_t f4[128];
    cr_assert_eq(run(d, 101, f4, frag4(f4, 42, 0, 8, 1, dgram), 0, &p), CANH_PKT_HELD);
    /* RFC 8200 keys on addresses and id only, and the next header is the
       offset-0 fragment's */
    size_t n = frag6(ip, 42, 0, 8, 1, dgram);
    cr_assert_eq(run(d, 229, ip, n, 0, &p), CANH_PKT_OK);
    cr_assert_eq(p.proto, 17);
    cr_assert_eq(p.plen, 40);
    cr_assert_eq(memcmp(p.payload, dgram + 8, 16), 0);       /* 8..23: the first data */
    cr_assert_eq(memcmp(p.payload + 16, evil + 24, 24), 0);  /* 24..47: only in the second */
    canh_decoder_free(d);
}

/* ---- the flow hash and copies -------------------------------------------------- */

static void swap_ip4(uint8_t *ip)
{
    uint8_t t[4];
    memcpy(t, ip + 12, 4);
    memcpy(ip + 12, ip + 16, 4);
    memcpy(ip + 16, t, 4);
    uint16_t sp = (uint16_t)(ip[20] << 8 | ip[21]);
    memmove(ip + 20, ip + 22, 2);
    w16(ip + 22, sp);
}

Test(flow_hash, same_both_ways_and_vlan_counts)
{
    canh_decoder_t *d = dec();
    uint8_t ip[128], f[256];
    size_t n = ref_ip4_tcp(ip);
    canh_pkt_t p1, p2, p3;
    cr_assert_eq(run(d, 101, ip, n, 0, &p1), CANH_PKT_OK);
    swap_ip4(ip);
    cr_assert_eq(run(d, 101, ip, n, 0, &p2), CANH_PKT_OK);
    cr_assert_eq(p2.sport, 80);
    cr_assert_eq(p1.hash, p2.hash);
    uint8_t tagged[256] = { 0, 9, 0x08, 0x00 };
    memcpy(tagged + 4, ip, n);
    cr_assert_eq(run(d, 1, f, mk_eth(f, 0x8100, tagged, 4 + n), 0, &p3), CANH_PKT_OK);
    cr_assert_neq(p3.hash, p2.hash);
    /* flows spread: 4096 client ports over 8 workers, none gets under half
       or over twice its share */
    unsigned bins[8] = { 0 };
    for (unsigned port = 10000; port < 14096; port++) {
        uint8_t l4[64];
        n = mk_ip4(ip, 6, l4, mk_tcp(l4, (uint16_t)port, 443, CANH_TCP_SYN, NULL, 0, "", 0), 1, 0);
        cr_assert_eq(run(d, 101, ip, n, 0, &p1), CANH_PKT_OK);
        bins[p1.hash % 8]++;
    }
    for (int i = 0; i < 8; i++)
        cr_assert(bins[i] > 256 && bins[i] < 1024, "bin %d: %u", i, bins[i]);
    canh_decoder_free(d);
}

Test(pkt_copy, pointers_rebased_into_the_copy)
{
    canh_decoder_t *d = dec();
    uint8_t l4[128], ip[256], f[256];
    uint8_t opt[4] = { 2, 4, 5, 0xb4 };
    size_t n = mk_ip4(ip, 6, l4, mk_tcp(l4, 5, 6, CANH_TCP_SYN, opt, 4, "copy me", 7), 1, 0);
    n = mk_eth(f, 0x0800, ip, n);
    memset(f + n, 0, 8);                           /* padding, not copied */
    canh_pkt_t p, c;
    cr_assert_eq(run(d, 1, f, n + 8, 0, &p), CANH_PKT_OK);
    size_t sz = canh_pkt_copy_size(&p);
    cr_assert_eq(sz, 20 + 24 + 7);
    uint8_t *dst = malloc(sz);
    canh_pkt_copy(&p, dst, &c);
    canh_decoder_free(d);                          /* the original's bytes are gone */
    cr_assert_eq(c.l3, dst);
    cr_assert_eq(c.tcp_opt, dst + 40);
    cr_assert_eq(c.payload, dst + 44);
    cr_assert_eq(memcmp(c.payload, "copy me", 7), 0);
    cr_assert_eq(memcmp(c.tcp_opt, opt, 4), 0);
    cr_assert_eq(c.sport, 5);
    cr_assert_eq(c.plen, 7);
    free(dst);
}

Test(pkt_copy, reassembled_datagram_copies_out_of_the_decoder)
{
    mk_dgram();
    canh_decoder_t *d = dec();
    uint8_t f[128];
    canh_pkt_t p, c;
    cr_assert_eq(run(d, 101, f, frag4(f, 3, 24, 24, 0, dgram), 0, &p), CANH_PKT_HELD);
    cr_assert_eq(run(d, 101, f, frag4(f, 3, 0, 24, 1, dgram), 0, &p), CANH_PKT_OK);
    uint8_t *dst = malloc(canh_pkt_copy_size(&p));
    canh_pkt_copy(&p, dst, &c);
    uint8_t ip[128];
    cr_assert_eq(run(d, 101, ip, ref_ip4_tcp(ip), 0, &p), CANH_PKT_OK);  /* next frame */
    canh_decoder_free(d);
    assert_dgram(&c);
    free(dst);
}

/* ---- Community ID ------------------------------------------------------------- */

/* corelight/community-id-spec baseline/baseline_deflt.json and
 * baseline_seed1.json: sport/dport there are the ports after the ICMP
 * mapping, so for ICMP the type is sport and the code the dport of the
 * one-way cases (0 for the two-way ones). */
static const struct {
    uint8_t proto;
    const char *s, *d;
    int sp, dp;              /* -1: none */
    const char *seed0, *seed1;
} vectors[] = {
    { 58, "fe80::200:86ff:fe05:80da", "fe80::260:97ff:fe07:69ea", 135, 136,
      "1:dGHyGvjMfljg6Bppwm3bg0LO8TY=", "1:kHa1FhMYIT6Ym2Vm2AOtoOARDzY=" },
    { 58, "fe80::260:97ff:fe07:69ea", "fe80::200:86ff:fe05:80da", 136, 135,
      "1:dGHyGvjMfljg6Bppwm3bg0LO8TY=", "1:kHa1FhMYIT6Ym2Vm2AOtoOARDzY=" },
    { 58, "fe80::260:97ff:fe07:69ea", "fe80::200:86ff:fe05:80da", 135, 136,
      "1:zavyT/cezQr1fmImYCwYnMXbgck=", "1:2hSqmsDZ2kdcY9kbiUzOEBic0iM=" },
    { 58, "fe80::200:86ff:fe05:80da", "fe80::260:97ff:fe07:69ea", 136, 135,
      "1:zavyT/cezQr1fmImYCwYnMXbgck=", "1:2hSqmsDZ2kdcY9kbiUzOEBic0iM=" },
    { 58, "3ffe:501:1800:2345::2", "3ffe:507:0:1:200:86ff:fe05:80da", 3, 0,
      "1:2ObVBgIn28oZvibYZhZMBgh7WdQ=", "1:lVEtCZpYu84Xqaa++3lXFyuu2n4=" },
    { 58, "3ffe:501:410:0:2c0:dfff:fe47:33e", "3ffe:507:0:1:200:86ff:fe05:80da", 1, 4,
      "1:hLZd0XGWojozrvxqE0dWB1iM6R0=", "1:W8MHwXpWzpoSTD+cGcaJr4u0ys8=" },
    { 58, "3ffe:507:0:1:200:86ff:fe05:80da", "3ffe:501:0:1001::2", 128, 129,
      "1:+TW+HtLHvV1xnGhV1lv7XoJrqQg=", "1:GfZxjAkDk2MkegpBYHV6tadtFXQ=" },
    { 58, "3ffe:501:0:1001::2", "3ffe:507:0:1:200:86ff:fe05:80da", 129, 128,
      "1:+TW+HtLHvV1xnGhV1lv7XoJrqQg=", "1:GfZxjAkDk2MkegpBYHV6tadtFXQ=" },
    { 58, "fe80::200:86ff:fe05:80da", "ff02::2", 133, 134,
      "1:hO+sN4H+MG5MY/8hIrXPqc4ZQz0=", "1:L7Ka0ZMYu+J3bL4ulW2PrqyXNo8=" },
    { 58, "fe80::260:97ff:fe07:69ea", "ff02::1", 134, 133,
      "1:pkvHqCL88/tg1k4cPigmZXUtL00=", "1:K/ee5UCqAMAQXDorP5nSa2CGLjc=" },
    { 1, "192.168.0.89", "192.168.0.1", 8, 0,
      "1:X0snYXpgwiv9TZtqg64sgzUn6Dk=", "1:03g6IloqVBdcZlPyX8r0hgoE7kA=" },
    { 1, "192.168.0.1", "192.168.0.89", 0, 8,
      "1:X0snYXpgwiv9TZtqg64sgzUn6Dk=", "1:03g6IloqVBdcZlPyX8r0hgoE7kA=" },
    { 1, "10.0.0.1", "10.0.0.2", 11, 0,
      "1:YHxtAirCG//0OzkcVAukqKQN9xM=", "1:XjUibYHaafLQ3pxQeiMI8g25q20=" },
    { 6, "2001:470:e5bf:dead:4957:2174:e82c:4887", "2607:f8b0:400c:c03::1a", 63943, 25,
      "1:/qFaeAR+gFe1KYjMzVDsMv+wgU4=", "1:eJYTW6AOzFLlSUoESovMjnu7rMw=" },
    { 6, "2607:f8b0:400c:c03::1a", "2001:470:e5bf:dead:4957:2174:e82c:4887", 25, 63943,
      "1:/qFaeAR+gFe1KYjMzVDsMv+wgU4=", "1:eJYTW6AOzFLlSUoESovMjnu7rMw=" },
    { 132, "192.168.170.8", "192.168.170.56", 7, 7,
      "1:MP2EtRCAUIZvTw6MxJHLV7N7JDs=", "1:5w3ZRjeKBzqT3zsaEECDGjUbYeg=" },
    { 132, "192.168.170.56", "192.168.170.8", 7, 7,
      "1:MP2EtRCAUIZvTw6MxJHLV7N7JDs=", "1:5w3ZRjeKBzqT3zsaEECDGjUbYeg=" },
    { 6, "128.232.110.120", "66.35.250.204", 34855, 80,
      "1:LQU9qZlK+B5F3KDmev6m5PMibrg=", "1:3V71V58M3Ksw/yuFALMcW0LAHvc=" },
    { 6, "66.35.250.204", "128.232.110.120", 80, 34855,
      "1:LQU9qZlK+B5F3KDmev6m5PMibrg=", "1:3V71V58M3Ksw/yuFALMcW0LAHvc=" },
    { 17, "192.168.1.52", "8.8.8.8", 54585, 53,
      "1:d/FP5EW3wiY1vCndhwleRRKHowQ=", "1:Q9We8WO3piVF8yEQBNJF4uiSVrI=" },
    { 17, "8.8.8.8", "192.168.1.52", 53, 54585,
      "1:d/FP5EW3wiY1vCndhwleRRKHowQ=", "1:Q9We8WO3piVF8yEQBNJF4uiSVrI=" },
    { 46, "10.1.12.1", "10.1.12.2", -1, -1,
      "1:KHlLkgoJW7ifUTyTSgyVfkFHzKw=", "1:rYir8gphR31noO9iDRQmF/BteEI=" },
    { 46, "10.1.12.2", "10.1.12.1", -1, -1,
      "1:KHlLkgoJW7ifUTyTSgyVfkFHzKw=", "1:rYir8gphR31noO9iDRQmF/BteEI=" },
};

static int icmp_two_way(uint8_t proto, int type)
{
    static const int v4[] = { 8, 0, 13, 14, 15, 16, 10, 17, 18 };
    static const int v6[] = { 128, 129, 133, 134, 135, 136, 130, 131, 139, 140, 144, 145 };
    const int *t = proto == 1 ? v4 : v6;
    size_t n = proto == 1 ? CANH_ARRAY_LEN(v4) : CANH_ARRAY_LEN(v6);
    for (size_t i = 0; i < n; i++)
        if (t[i] == type)
            return 1;
    return 0;
}

static void vector_pkt(size_t i, canh_pkt_t *p, uint8_t sctp[4])
{
    memset(p, 0, sizeof(*p));
    p->proto = vectors[i].proto;
    int v6 = strchr(vectors[i].s, ':') != NULL;
    p->ipver = v6 ? 6 : 4;
    cr_assert_eq(inet_pton(v6 ? AF_INET6 : AF_INET, vectors[i].s, p->src), 1);
    cr_assert_eq(inet_pton(v6 ? AF_INET6 : AF_INET, vectors[i].d, p->dst), 1);
    switch (p->proto) {
    case 6: case 17:
        p->sport = (uint16_t)vectors[i].sp;
        p->dport = (uint16_t)vectors[i].dp;
        break;
    case 132:
        w16(sctp, (uint32_t)vectors[i].sp);
        w16(sctp + 2, (uint32_t)vectors[i].dp);
        p->payload = sctp;
        p->plen = 4;
        break;
    case 1: case 58:
        p->icmp_type = (uint8_t)vectors[i].sp;
        p->icmp_code = icmp_two_way(p->proto, vectors[i].sp) ? 0 : (uint8_t)vectors[i].dp;
        break;
    }
}

Test(community_id, specification_vectors)
{
    for (size_t i = 0; i < CANH_ARRAY_LEN(vectors); i++) {
        canh_pkt_t p;
        uint8_t sctp[4];
        vector_pkt(i, &p, sctp);
        char id[CANH_COMMUNITY_ID_LEN];
        cr_assert_eq(canh_community_id(&p, 0, id), 30);
        cr_assert_str_eq(id, vectors[i].seed0, "vector %zu (seed 0)", i);
        cr_assert_eq(canh_community_id(&p, 1, id), 30);
        cr_assert_str_eq(id, vectors[i].seed1, "vector %zu (seed 1)", i);
    }
}

Test(community_id, one_way_icmp_is_not_reordered)
{
    /* a time-exceeded from the larger address: the spec's reference keeps
       the packet's own order for one-way types, so the two directions differ */
    canh_pkt_t a = { .ipver = 4, .proto = 1, .icmp_type = 11, .icmp_code = 0 }, b;
    inet_pton(AF_INET, "10.0.0.2", a.src);
    inet_pton(AF_INET, "10.0.0.1", a.dst);
    b = a;
    memcpy(b.src, a.dst, 16);
    memcpy(b.dst, a.src, 16);
    char x[CANH_COMMUNITY_ID_LEN], y[CANH_COMMUNITY_ID_LEN];
    cr_assert_eq(canh_community_id(&a, 0, x), 30);
    cr_assert_eq(canh_community_id(&b, 0, y), 30);
    cr_assert_str_neq(x, y);
    cr_assert_str_eq(y, "1:YHxtAirCG//0OzkcVAukqKQN9xM=");  /* the spec's 10.0.0.1 -> .2 */
    /* no flow tuple: nothing */
    canh_pkt_t none = { 0 };
    cr_assert_eq(canh_community_id(&none, 0, x), 0);
    cr_assert_str_eq(x, "");
    canh_pkt_t sctp_short = { .ipver = 4, .proto = 132 };
    cr_assert_eq(canh_community_id(&sctp_short, 0, x), 0);
}

typedef void (*frame_fn)(void *ud, int rc, const canh_pkt_t *p);

/* every frame of a capture through one decoder; -1 when it cannot be opened */
static int each_frame(const char *path, canh_decoder_t *d, frame_fn fn, void *ud)
{
    char err[PCAP_ERRBUF_SIZE];
    pcap_t *pc = pcap_open_offline(path, err);
    if (!pc)
        return -1;
    int dlt = pcap_datalink(pc);
    struct pcap_pkthdr *h;
    const u_char *data;
    uint64_t num = 0;
    int r;
    while ((r = pcap_next_ex(pc, &h, &data)) == 1) {
        canh_pkt_t p;
        int rc = canh_decode(d, dlt, data, h->caplen, h->len,
                             (int64_t)h->ts.tv_sec * 1000000 + h->ts.tv_usec, ++num, &p);
        if (fn)
            fn(ud, rc, &p);
    }
    pcap_close(pc);
    return dlt;
}

typedef struct cid_check {
    int flow_pkts, other;
    char want[CANH_COMMUNITY_ID_LEN];
} cid_check_t;

static void check_cid(void *ud, int rc, const canh_pkt_t *p)
{
    cid_check_t *c = ud;
    cr_assert_eq(rc, CANH_PKT_OK);
    uint8_t cli[4] = { 172, 26, 0, 39 }, srv[4] = { 172, 217, 14, 206 };
    int fwd = !memcmp(p->src, cli, 4) && !memcmp(p->dst, srv, 4) && p->sport == 35958 &&
              p->dport == 443;
    int rev = !memcmp(p->src, srv, 4) && !memcmp(p->dst, cli, 4) && p->sport == 443 &&
              p->dport == 35958;
    char id[CANH_COMMUNITY_ID_LEN];
    cr_assert_eq(canh_community_id(p, 7, id), 30);     /* the test's suricata.yaml: seed 7 */
    if (fwd || rev) {
        c->flow_pkts++;
        cr_assert_str_eq(id, c->want);
    } else {
        c->other++;
        cr_assert_str_neq(id, c->want);
    }
}

/* suricata-verify's community-id-ipv4: Suricata, with community-id-seed 7
 * (its suricata.yaml), logs this Community ID for the TLS flow
 * 172.26.0.39:35958 -> 172.217.14.206:443 (its test.yaml) */
Test(community_id, matches_suricata_on_a_real_capture)
{
    canh_decoder_t *d = dec();
    cid_check_t c = { .want = "1:IwiTNfuO7aCaamMijl+7/X9uLx0=" };
    cr_assert_eq(each_frame("tests/data/decode/community-id-ipv4.pcap", d, check_cid, &c), 1);
    cr_assert_gt(c.flow_pkts, 10);
    cr_assert_eq(canh_decoder_counts(d)->bad, 0);
    canh_decoder_free(d);
}

/* ---- real captures ---------------------------------------------------------------- */

static void count_l4(void *ud, int rc, const canh_pkt_t *p)
{
    if (rc == CANH_PKT_OK && (p->proto == 6 || p->proto == 17))
        ++*(int *)ud;
}

static void scan_dir(const char *dir, int *files, int *l4, canh_decoder_t *d)
{
    DIR *dh = opendir(dir);
    if (!dh)
        return;
    struct dirent *e;
    while ((e = readdir(dh))) {
        if (e->d_name[0] == '.')
            continue;
        char path[1024];
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        size_t len = strlen(e->d_name);
        if (e->d_type == DT_DIR) {
            scan_dir(path, files, l4, d);
        } else if ((len > 5 && !strcmp(e->d_name + len - 5, ".pcap")) ||
                   (len > 7 && !strcmp(e->d_name + len - 7, ".pcapng"))) {
            uint64_t bad0 = canh_decoder_counts(d)->bad;
            if (each_frame(path, d, count_l4, l4) >= 0)
                ++*files;
            cr_expect_eq(canh_decoder_counts(d)->bad, bad0, "%s: %llu BAD frames", path,
                         (unsigned long long)(canh_decoder_counts(d)->bad - bad0));
        }
    }
    closedir(dh);
}

/* Every capture of suricata-verify (HTTP, DNS, TLS, SSH, SMTP, FTP, IPv6
 * ...) decodes with no BAD frame. */
Test(decode_corpus, suricata_verify_captures_have_no_bad_frames, .timeout = 120)
{
    const char *dir = "../shared/corpus/pcaps/suricata-verify";
    DIR *dh = opendir(dir);
    if (!dh)
        cr_skip_test("corpus not found (%s)", dir);
    closedir(dh);
    canh_decoder_t *d = dec();
    int files = 0, l4 = 0;
    scan_dir(dir, &files, &l4, d);
    const canh_decode_counts_t *c = canh_decoder_counts(d);
    cr_assert_gt(files, 100);
    cr_assert_gt(l4, 10000);
    cr_assert_eq(c->bad, 0);
    cr_assert_eq(c->frames, c->ok + c->held + c->skipped + c->bad);
    canh_decoder_free(d);
}
