/*
 * tests/test_dns_tls.c -- the DNS, TLS and SSH parsers (parsers/app/dns.c,
 * tls.c, ssh.c) on real captures (tests/data/app/, from suricata-verify:
 * see its README.md) and on broken input.
 *
 * A capture is read with libpcap into each direction's bytes (TCP payloads
 * in sequence order, retransmissions dropped) or datagrams; a stream is fed
 * whole, split at every byte, and one byte at a time, and must give the same
 * transactions each way. Malformed input: every truncation of real
 * messages, compression loops, bad lengths. Runs on Criterion's workers.
 */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../engine/canh.h"
#include "../parsers/app/app_internal.h"
#include "../parsers/app/dns.h"
#include "../parsers/app/ssh.h"
#include "../parsers/app/tls.h"

#define DATA "tests/data/app/"

/* ---- captures -------------------------------------------------------- */

typedef struct {
    int dir;
    uint8_t *p;
    size_t n;
} seg_t;

typedef struct {
    seg_t seg[512];
    size_t nseg;
    uint8_t *stream[2];     /* TCP: each direction's bytes in order */
    size_t stream_n[2];
} cap_t;

/* Reads path; keeps flows with server port `port` (0: any): dir 0 is the
 * side whose port is not `port` (the first sender when port is 0). */
static void cap_load(const char *path, uint16_t port, cap_t *c)
{
    char err[PCAP_ERRBUF_SIZE];
    memset(c, 0, sizeof(*c));
    pcap_t *pc = pcap_open_offline(path, err);
    cr_assert(pc, "%s: %s", path, err);
    int dlt = pcap_datalink(pc);
    struct pcap_pkthdr *h;
    const u_char *d;
    uint32_t next[2] = {0, 0};
    int have_next[2] = {0, 0};
    uint8_t first_src[16];
    int have_first = 0;
    while (pcap_next_ex(pc, &h, &d) == 1) {
        size_t n = h->caplen, off = 0;
        if (dlt == DLT_EN10MB) {
            if (n < 14)
                continue;
            uint16_t et = (uint16_t)(d[12] << 8 | d[13]);
            off = 14;
            while ((et == 0x8100 || et == 0x88a8) && off + 4 <= n) {
                et = (uint16_t)(d[off + 2] << 8 | d[off + 3]);
                off += 4;
            }
        } else if (dlt == DLT_NULL || dlt == DLT_LOOP) {
            off = 4;
        } else if (dlt == DLT_LINUX_SLL) {
            off = 16;
        } else if (dlt != DLT_RAW) {
            continue;
        }
        if (off >= n)
            continue;
        int proto;
        size_t l4;
        const uint8_t *src;
        size_t alen;
        if ((d[off] >> 4) == 4) {
            size_t ihl = (size_t)(d[off] & 15) * 4;
            if (off + ihl > n)
                continue;
            size_t tot = (size_t)(d[off + 2] << 8 | d[off + 3]);
            if (off + tot < n)
                n = off + tot;
            proto = d[off + 9];
            src = d + off + 12;
            alen = 4;
            l4 = off + ihl;
        } else if ((d[off] >> 4) == 6) {
            if (off + 40 > n)
                continue;
            proto = d[off + 6];
            src = d + off + 8;
            alen = 16;
            l4 = off + 40;
        } else {
            continue;
        }
        uint16_t sp, dp;
        const uint8_t *pay;
        size_t plen;
        uint32_t seq = 0;
        if (proto == 6 && l4 + 20 <= n) {
            size_t thl = (size_t)(d[l4 + 12] >> 4) * 4;
            if (l4 + thl > n)
                continue;
            seq = (uint32_t)d[l4 + 4] << 24 | (uint32_t)d[l4 + 5] << 16 |
                  (uint32_t)d[l4 + 6] << 8 | d[l4 + 7];
            pay = d + l4 + thl;
            plen = n - l4 - thl;
            if (d[l4 + 13] & 0x02)      /* SYN: data starts after it */
                seq++;
        } else if (proto == 17 && l4 + 8 <= n) {
            pay = d + l4 + 8;
            plen = n - l4 - 8;
        } else {
            continue;
        }
        sp = (uint16_t)(d[l4] << 8 | d[l4 + 1]);
        dp = (uint16_t)(d[l4 + 2] << 8 | d[l4 + 3]);
        int dir;
        if (port) {
            if (sp != port && dp != port)
                continue;
            dir = sp == port;
        } else {
            if (!have_first) {
                memcpy(first_src, src, alen);
                have_first = 1;
            }
            dir = memcmp(first_src, src, alen) != 0;
        }
        if (proto == 6) {
            if (!have_next[dir]) {
                next[dir] = seq;
                have_next[dir] = 1;
            }
            if ((d[l4 + 13] & 0x02) && plen == 0) {
                next[dir] = seq;
                continue;
            }
            int32_t behind = (int32_t)(next[dir] - seq);
            if (behind > 0) {       /* retransmitted bytes: keep only what is new */
                if ((size_t)behind >= plen)
                    continue;
                pay += behind;
                plen -= (size_t)behind;
            } else if (behind < 0) {
                continue;           /* out of order: these captures have none */
            }
            next[dir] += (uint32_t)plen;
            if (plen == 0)
                continue;
            c->stream[dir] = realloc(c->stream[dir], c->stream_n[dir] + plen);
            memcpy(c->stream[dir] + c->stream_n[dir], pay, plen);
            c->stream_n[dir] += plen;
        }
        if (plen == 0 || c->nseg == sizeof(c->seg) / sizeof(c->seg[0]))
            continue;
        seg_t *s = &c->seg[c->nseg++];
        s->dir = dir;
        s->p = malloc(plen);
        memcpy(s->p, pay, plen);
        s->n = plen;
    }
    pcap_close(pc);
}

static void cap_free(cap_t *c)
{
    for (size_t i = 0; i < c->nseg; i++)
        free(c->seg[i].p);
    free(c->stream[0]);
    free(c->stream[1]);
}

/* ---- transactions, copied out of the callback ------------------------- */

typedef struct {
    int proto, dir;
    char buf[CANH_NB__COUNT][512];
    int set[CANH_NB__COUNT];
    uint16_t qtype, rcode, id;
    int is_response, opcode, nanswers;
    char answers[16][300];
    uint16_t atypes[16];
} txc_t;

typedef struct {
    txc_t tx[16];
    int n;
} txs_t;

static void on_tx(void *ud, canh_flow_t *f, const canh_app_tx_t *tx)
{
    txs_t *t = ud;
    cr_assert(t->n < 16);
    txc_t *c = &t->tx[t->n++];
    memset(c, 0, sizeof(*c));
    c->proto = tx->proto;
    c->dir = tx->dir;
    for (int i = 0; i < CANH_NB__COUNT; i++) {
        if (!tx->buf[i].p)
            continue;
        cr_assert(tx->buf[i].n < sizeof(c->buf[i]));
        memcpy(c->buf[i], tx->buf[i].p, tx->buf[i].n);
        c->set[i] = 1;
    }
    c->qtype = tx->dns_qtype;
    c->rcode = tx->dns_rcode;
    c->id = tx->dns_id;
    c->is_response = tx->dns_is_response;
    c->opcode = tx->dns_opcode;
    c->nanswers = tx->dns_nanswers;
    for (int i = 0; i < tx->dns_nanswers; i++) {
        snprintf(c->answers[i], sizeof(c->answers[i]), "%s", tx->dns_answers[i]);
        c->atypes[i] = tx->dns_answer_types[i];
    }
}

static int txs_same(const txs_t *a, const txs_t *b)
{
    return a->n == b->n && memcmp(a->tx, b->tx, sizeof(txc_t) * (size_t)a->n) == 0;
}

/* Feeds both directions of a capture to a stream parser: whole streams
 * (client first), as recorded, cut at `cut` of each direction, or one byte
 * at a time (cut 1 with bytewise). Returns the last return code. */
typedef int (*stream_fn)(void *st, canh_flow_t *f, int dir, const uint8_t *d, size_t n,
                         int flags, canh_app_fn fn, void *ud);

static int feed_cut(const canh_app_parser_t *ps, const cap_t *c, size_t cut, int bytewise,
                    txs_t *out)
{
    canh_app_opts_t o = {0};
    void *st = ps->state_new(&o);
    cr_assert(st);
    memset(out, 0, sizeof(*out));
    int rc = CANH_OK;
    for (int dir = 0; dir < 2 && rc >= 0; dir++) {
        const uint8_t *p = c->stream[dir];
        size_t n = c->stream_n[dir];
        if (bytewise) {
            for (size_t i = 0; i < n && rc == CANH_OK; i++)
                rc = ps->stream(st, NULL, dir, p + i, 1, 0, on_tx, out);
        } else {
            size_t k = cut < n ? cut : n;
            rc = ps->stream(st, NULL, dir, p, k, 0, on_tx, out);
            if (rc == CANH_OK && n > k)
                rc = ps->stream(st, NULL, dir, p + k, n - k, 0, on_tx, out);
        }
        if (rc == CANH_APP_DONE && dir == 0)
            rc = CANH_OK;
    }
    ps->state_free(st);
    return rc;
}

/* Whole, then every cut and byte by byte: the same transactions. */
static void feed_all_ways(const canh_app_parser_t *ps, const cap_t *c, txs_t *whole)
{
    int rc = feed_cut(ps, c, SIZE_MAX, 0, whole);
    cr_assert(rc >= 0, "whole: rc %d", rc);
    size_t most = c->stream_n[0] > c->stream_n[1] ? c->stream_n[0] : c->stream_n[1];
    for (size_t cut = 0; cut <= most; cut++) {
        txs_t t;
        cr_assert_eq(feed_cut(ps, c, cut, 0, &t), rc, "cut %zu", cut);
        cr_assert(txs_same(whole, &t), "cut at %zu gives other transactions", cut);
    }
    txs_t t;
    cr_assert_eq(feed_cut(ps, c, 1, 1, &t), rc);
    cr_assert(txs_same(whole, &t), "byte by byte gives other transactions");
}

static const txc_t *find_tx(const txs_t *t, int dir)
{
    for (int i = 0; i < t->n; i++)
        if (t->tx[i].dir == dir)
            return &t->tx[i];
    return NULL;
}

/* ---- SSH -------------------------------------------------------------- */

Test(ssh, banners_both_ways_from_capture)
{
    cap_t c;
    cap_load(DATA "ssh-banner-only.pcap", 22, &c);
    txs_t t;
    feed_all_ways(&canh_app_ssh_parser, &c, &t);
    cr_assert_eq(t.n, 2);
    const txc_t *cl = find_tx(&t, 0), *sv = find_tx(&t, 1);
    cr_assert(cl && sv);
    cr_assert_eq(cl->proto, CANH_APP_SSH);
    cr_assert_str_eq(cl->buf[CANH_NB_SSH_PROTO], "2.0");
    cr_assert_str_eq(cl->buf[CANH_NB_SSH_SOFTWARE], "OpenSSH_for_Windows_7.7");
    cr_assert_str_eq(sv->buf[CANH_NB_SSH_PROTO], "2.0");
    cr_assert_str_eq(sv->buf[CANH_NB_SSH_SOFTWARE], "OpenSSH_7.4");
    cr_assert_eq(feed_cut(&canh_app_ssh_parser, &c, SIZE_MAX, 0, &t), CANH_APP_DONE);
    cap_free(&c);
}

static int ssh_feed(const char *s, size_t n, int flags, txs_t *t)
{
    canh_ssh_t *st = canh_ssh_new();
    memset(t, 0, sizeof(*t));
    int rc = canh_ssh_stream(st, NULL, 1, (const uint8_t *)s, n, flags, on_tx, t);
    canh_ssh_free(st);
    return rc;
}

Test(ssh, lines_before_banner_and_comments)
{
    const char *s = "Welcome\r\nlegal notice\nSSH-1.99-Cisco-1.25 a comment\r\n\x00\x00\x01";
    txs_t t;
    cr_assert_eq(ssh_feed(s, strlen(s) + 4, 0, &t), CANH_OK);
    cr_assert_eq(t.n, 1);
    cr_assert_str_eq(t.tx[0].buf[CANH_NB_SSH_PROTO], "1.99");
    cr_assert_str_eq(t.tx[0].buf[CANH_NB_SSH_SOFTWARE], "Cisco-1.25");
    cr_assert_eq(t.tx[0].dir, 1);
}

Test(ssh, banner_cut_at_every_byte_needs_its_line_end)
{
    const char *s = "SSH-2.0-OpenSSH_9.6p1 Debian-3\r\n";
    size_t n = strlen(s);
    for (size_t k = 0; k < n - 1; k++) {
        txs_t t;
        cr_assert_eq(ssh_feed(s, k, 0, &t), CANH_OK, "cut %zu", k);
        cr_assert_eq(t.n, 0, "cut %zu", k);
    }
    /* the direction closed after the software version: that is a banner */
    txs_t t;
    cr_assert_eq(ssh_feed(s, 21, CANH_STREAM_END, &t), CANH_OK);
    cr_assert_eq(t.n, 1);
    cr_assert_str_eq(t.tx[0].buf[CANH_NB_SSH_SOFTWARE], "OpenSSH_9.6p1");
    cr_assert_eq(ssh_feed("SSH-2.0-x\r", 10, CANH_STREAM_END, &t), CANH_OK);
    cr_assert_eq(t.n, 1);
    cr_assert_str_eq(t.tx[0].buf[CANH_NB_SSH_SOFTWARE], "x");
}

Test(ssh, malformed_banners_counted)
{
    canh_ssh_counts_t *c = canh_ssh_thread_counts();
    txs_t t;
    uint64_t bad = c->errors[CANH_SSH_E_BANNER];
    cr_assert_eq(ssh_feed("SSH-2.0\r\n", 9, 0, &t), CANH_EPARSE);
    cr_assert_eq(ssh_feed("SSH--x\r\n", 8, 0, &t), CANH_EPARSE);
    cr_assert_eq(ssh_feed("SSH-2.0-\r\n", 10, 0, &t), CANH_EPARSE);
    cr_assert_eq(ssh_feed("SSH-2.0-a\tb\r\n", 13, 0, &t), CANH_EPARSE);
    cr_assert_eq(c->errors[CANH_SSH_E_BANNER], bad + 4);
    cr_assert_eq(t.n, 0);

    char longl[600];
    memset(longl, 'A', sizeof(longl));
    memcpy(longl, "SSH-2.0-", 8);
    uint64_t lng = c->errors[CANH_SSH_E_LONG];
    cr_assert_eq(ssh_feed(longl, sizeof(longl), 0, &t), CANH_EPARSE);
    cr_assert_eq(c->errors[CANH_SSH_E_LONG], lng + 1);

    /* long lines before the banner are skipped, but only so many lines */
    char pre[2000];
    size_t o = 0;
    memset(pre, 'x', 400);
    pre[400] = '\n';
    o = 401;
    o += (size_t)sprintf(pre + o, "SSH-2.0-X\r\n");
    cr_assert_eq(ssh_feed(pre, o, 0, &t), CANH_OK);
    cr_assert_eq(t.n, 1);
    o = 0;
    for (int i = 0; i <= CANH_SSH_MAX_PRELINES; i++)
        o += (size_t)sprintf(pre + o, "line %d\n", i);
    uint64_t pl = c->errors[CANH_SSH_E_PRELINES];
    cr_assert_eq(ssh_feed(pre, o, 0, &t), CANH_EPARSE);
    cr_assert_eq(c->errors[CANH_SSH_E_PRELINES], pl + 1);

    /* bytes lost before a banner: that direction is given up, not the flow */
    canh_ssh_t *st = canh_ssh_new();
    memset(&t, 0, sizeof(t));
    uint64_t gap = c->errors[CANH_SSH_E_GAP];
    cr_assert_eq(canh_ssh_stream(st, NULL, 0, (const uint8_t *)"SS", 2, 0, on_tx, &t), CANH_OK);
    cr_assert_eq(canh_ssh_stream(st, NULL, 0, (const uint8_t *)"H-2.0-x\r\n", 9, CANH_STREAM_GAP,
                                 on_tx, &t), CANH_OK);
    cr_assert_eq(c->errors[CANH_SSH_E_GAP], gap + 1);
    cr_assert_eq(canh_ssh_stream(st, NULL, 0, (const uint8_t *)"SSH-2.0-x\r\n", 11, 0, on_tx, &t),
                 CANH_OK);
    cr_assert_eq(t.n, 0, "nothing after the gap is taken for a banner");
    cr_assert_eq(canh_ssh_stream(st, NULL, 1, (const uint8_t *)"SSH-2.0-y\r\n", 11, 0, on_tx, &t),
                 CANH_APP_DONE);
    cr_assert_eq(t.n, 1);
    cr_assert_str_eq(t.tx[0].buf[CANH_NB_SSH_SOFTWARE], "y");
    canh_ssh_free(st);
}

/* ---- TLS -------------------------------------------------------------- */

static txs_t tls_capture(const char *file, uint16_t port, cap_t *c)
{
    char path[256];
    snprintf(path, sizeof(path), DATA "%s", file);
    cap_load(path, port, c);
    txs_t t;
    feed_all_ways(&canh_app_tls_parser, c, &t);
    return t;
}

Test(tls, ja4_tls12_no_sni)
{
    cap_t c;
    txs_t t = tls_capture("ja4-tls.pcap", 443, &c);
    cr_assert_eq(t.n, 2);
    const txc_t *ch = find_tx(&t, 0), *sh = find_tx(&t, 1);
    cr_assert(ch && sh);
    cr_assert_eq(ch->proto, CANH_APP_TLS);
    cr_assert_str_eq(ch->buf[CANH_NB_JA4_HASH], "t12i1810s1_27d4652c4487_06a4338d0495");
    cr_assert_not(ch->set[CANH_NB_TLS_SNI]);
    cr_assert_str_eq(ch->buf[CANH_NB_TLS_VERSION], "TLS 1.2");
    cr_assert_str_eq(sh->buf[CANH_NB_TLS_VERSION], "TLS 1.2");
    cr_assert_not(sh->set[CANH_NB_JA3_HASH]);
    cap_free(&c);
}

Test(tls, ja4_tls13_sni_alpn)
{
    cap_t c;
    txs_t t = tls_capture("ja4-tls-quic.pcap", 443, &c);
    const txc_t *ch = find_tx(&t, 0), *sh = find_tx(&t, 1);
    cr_assert(ch && sh);
    cr_assert_str_eq(ch->buf[CANH_NB_JA4_HASH], "t13d1516h2_8daaf6152771_e5627efa2ab1");
    cr_assert_str_eq(ch->buf[CANH_NB_TLS_SNI], "cloudflare-quic.com");
    cr_assert_str_eq(ch->buf[CANH_NB_TLS_VERSION], "TLS 1.3");
    cr_assert_str_eq(sh->buf[CANH_NB_TLS_VERSION], "TLS 1.3");   /* from supported_versions */
    /* tls-alpn-client-log-01: the client offers h2, then http/1.1 */
    canh_tls_hello_t h = {0};
    cr_assert_eq(c.stream[0][5], 1);
    size_t ml = (size_t)c.stream[0][6] << 16 | c.stream[0][7] << 8 | c.stream[0][8];
    cr_assert_eq(canh_tls_client_hello(c.stream[0] + 9, ml, 't', &h), CANH_OK);
    cr_assert_str_eq(h.alpn, "h2");
    cr_assert_eq(h.legacy_version, 0x0303);
    cr_assert_eq(h.version, 0x0304);
    canh_tls_hello_clear(&h);
    cap_free(&c);
}

Test(tls, ja3_string_and_md5)
{
    cap_t c;
    txs_t t = tls_capture("tls-duplicate-hello.pcap", 8443, &c);
    /* the client sends its hello twice: one transaction (test.yaml count 1) */
    int hellos = 0;
    for (int i = 0; i < t.n; i++)
        hellos += t.tx[i].dir == 0;
    cr_assert_eq(hellos, 1);
    const txc_t *ch = find_tx(&t, 0);
    cr_assert_str_eq(ch->buf[CANH_NB_JA3_STRING],
                     "771,4866-4867-4865-4868-49196-52393-49325-49162-49195-49324-49161-49200-"
                     "52392-49172-49199-49171-157-49309-53-156-49308-47-159-52394-49311-57-158-"
                     "49310-51,5-10-11-13-22-23-35-51-43-65281-0-45,23,0");
    cr_assert_str_eq(ch->buf[CANH_NB_JA3_HASH], "43202faa1c8c1760d6f7f4bd9adde4ab");
    cr_assert_str_eq(ch->buf[CANH_NB_TLS_SNI], "localhost");
    cap_free(&c);
}

Test(tls, sni_across_segments)
{
    cap_t c;
    txs_t t = tls_capture("tls-alpn-log-detect-02.pcap", 443, &c);
    const txc_t *ch = find_tx(&t, 0);
    cr_assert(ch);
    cr_assert(strstr(ch->buf[CANH_NB_TLS_SNI], "icloud"), "sni %s", ch->buf[CANH_NB_TLS_SNI]);
    cap_free(&c);
}

/* A ClientHello body written by hand, with GREASE values everywhere. */
static size_t grease_hello(uint8_t *b, const uint8_t *alpn, size_t alpn_n)
{
    size_t o = 0;
    b[o++] = 3; b[o++] = 3;
    memset(b + o, 0x11, 32); o += 32;
    b[o++] = 0;                                         /* session id */
    const uint8_t cs[] = { 0, 6, 0x0a, 0x0a, 0x13, 0x01, 0xc0, 0x2b };
    memcpy(b + o, cs, sizeof(cs)); o += sizeof(cs);
    b[o++] = 1; b[o++] = 0;                             /* compression: null */
    size_t el = o;
    o += 2;
    const uint8_t e1[] = { 0x1a, 0x1a, 0, 0,
                           0, 0, 0, 8, 0, 6, 0, 0, 3, 'a', '.', 'b' };
    memcpy(b + o, e1, sizeof(e1)); o += sizeof(e1);
    b[o++] = 0; b[o++] = 0x10; b[o++] = 0; b[o++] = (uint8_t)(alpn_n + 3);
    b[o++] = 0; b[o++] = (uint8_t)(alpn_n + 1); b[o++] = (uint8_t)alpn_n;
    memcpy(b + o, alpn, alpn_n); o += alpn_n;
    const uint8_t e2[] = { 0, 0x0a, 0, 6, 0, 4, 0x2a, 0x2a, 0, 0x1d,     /* groups */
                           0, 0x0b, 0, 2, 1, 0,                          /* point formats */
                           0, 0x0d, 0, 4, 0, 2, 4, 3,                    /* signature algs */
                           0, 0x2b, 0, 7, 6, 0x3a, 0x3a, 3, 4, 3, 3 };   /* versions */
    memcpy(b + o, e2, sizeof(e2)); o += sizeof(e2);
    b[el] = (uint8_t)((o - el - 2) >> 8);
    b[el + 1] = (uint8_t)(o - el - 2);
    return o;
}

Test(tls, grease_left_out_of_ja3_and_ja4)
{
    uint8_t b[256];
    size_t n = grease_hello(b, (const uint8_t *)"http/1.1", 8);
    canh_tls_hello_t h = {0};
    cr_assert_eq(canh_tls_client_hello(b, n, 't', &h), CANH_OK);
    cr_assert_str_eq(h.ja3, "771,4865-49195,0-16-10-11-13-43,29,0");
    cr_assert_str_eq(h.ja3_hash, "bc1108b9fad8dd9eedcfb6bfdc31ac8e");
    /* 2 ciphers, 6 extensions; sha256("1301,c02b"), sha256("000a,000b,000d,002b_0403") */
    cr_assert_str_eq(h.ja4, "t13d0206h1_777cda164f4b_5e519ef2b8a0");
    cr_assert_str_eq(h.sni, "a.b");
    cr_assert_eq(h.version, 0x0304);
    cr_assert_eq(canh_tls_client_hello(b, n, 'q', &h), CANH_OK);
    cr_assert_eq(h.ja4[0], 'q');
    /* an ALPN whose ends are not alphanumeric: hex of its first and last bytes */
    n = grease_hello(b, (const uint8_t *)"\xab\x01\xcd", 3);
    cr_assert_eq(canh_tls_client_hello(b, n, 't', &h), CANH_OK);
    cr_assert_eq(strncmp(h.ja4, "t13d0206ad_", 11), 0, "%s", h.ja4);
    canh_tls_hello_clear(&h);
}

Test(tls, truncated_and_corrupted_hellos)
{
    uint8_t b[256];
    size_t n = grease_hello(b, (const uint8_t *)"h2", 2);
    canh_tls_hello_t h = {0};
    uint64_t bad = canh_tls_thread_counts()->errors[CANH_TLS_E_HELLO];
    int failed = 0;
    for (size_t k = 0; k < n; k++) {
        uint8_t *cut = malloc(k ? k : 1);         /* exact size: ASan sees any overread */
        memcpy(cut, b, k);
        int rc = canh_tls_client_hello(cut, k, 't', &h);
        cr_assert(rc == CANH_OK || rc == CANH_EPARSE, "cut %zu rc %d", k, rc);
        failed += rc == CANH_EPARSE;
        free(cut);
    }
    /* only the cut right after the compression methods is a whole hello */
    cr_assert_eq(failed, (int)n - 1);
    cr_assert_eq(canh_tls_thread_counts()->errors[CANH_TLS_E_HELLO], bad + (uint64_t)n - 1);
    for (size_t k = 0; k < n; k++) {
        for (int v = 0; v < 256; v += 51) {
            uint8_t *cp = malloc(n);
            memcpy(cp, b, n);
            cp[k] = (uint8_t)v;
            int rc = canh_tls_client_hello(cp, n, 't', &h);
            cr_assert(rc == CANH_OK || rc == CANH_EPARSE);
            free(cp);
        }
    }
    canh_tls_hello_clear(&h);
}

/*
 * QUIC: the ClientHello travels in CRYPTO frames of the client's Initial
 * packets, protected with keys anyone can derive from the packet's
 * destination connection id (RFC 9001 5.2). canh has no QUIC parser; this
 * takes the hello out of ja4-tls-quic's first Initial so that the hello
 * parser is checked with kind 'q' against the JA4 the case expects.
 */
static void hkdf_label(const uint8_t secret[32], const char *label, uint8_t *out, size_t n)
{
    uint8_t info[64], md[32];
    size_t ll = strlen(label), o = 0;
    info[o++] = 0;
    info[o++] = (uint8_t)n;
    info[o++] = (uint8_t)(6 + ll);
    memcpy(info + o, "tls13 ", 6);
    o += 6;
    memcpy(info + o, label, ll);
    o += ll;
    info[o++] = 0;              /* no context */
    info[o++] = 1;              /* HKDF-Expand's T(1): n <= 32 */
    unsigned mdlen = 0;
    cr_assert(HMAC(EVP_sha256(), secret, 32, info, o, md, &mdlen));
    memcpy(out, md, n);
}

static uint64_t quic_varint(const uint8_t *p, size_t n, size_t *i)
{
    cr_assert(*i < n);
    size_t l = (size_t)1 << (p[*i] >> 6);
    cr_assert(*i + l <= n);
    uint64_t v = p[*i] & 0x3f;
    for (size_t k = 1; k < l; k++)
        v = v << 8 | p[*i + k];
    *i += l;
    return v;
}

/* The handshake bytes (CRYPTO frames at offset 0..) of a client Initial. */
static size_t quic_initial_crypto(const uint8_t *pkt, size_t n, uint8_t *out, size_t cap)
{
    static const uint8_t salt[] = { 0x38, 0x76, 0x2c, 0xf7, 0xf5, 0x59, 0x34, 0xb3, 0x4d, 0x17,
                                    0x9a, 0xe6, 0xa4, 0xc8, 0x0c, 0xad, 0xcc, 0xbb, 0x7f, 0x0a };
    cr_assert((pkt[0] & 0xf0) == 0xc0, "a long header Initial");
    cr_assert_eq(pkt[1] << 24 | pkt[2] << 16 | pkt[3] << 8 | pkt[4], 1, "QUIC v1");
    size_t i = 5;
    const uint8_t *dcid = pkt + i + 1;
    size_t dl = pkt[i];
    i += 1 + dl;
    i += 1 + pkt[i];                                /* source connection id */
    uint64_t tl = quic_varint(pkt, n, &i);
    i += tl;                                        /* token */
    uint64_t len = quic_varint(pkt, n, &i);
    cr_assert(i + len <= n);
    size_t pn_off = i;

    uint8_t init[32], cl[32], key[16], iv[12], hp[16];
    unsigned l32 = 0;
    cr_assert(HMAC(EVP_sha256(), salt, sizeof(salt), dcid, dl, init, &l32));
    hkdf_label(init, "client in", cl, 32);
    hkdf_label(cl, "quic key", key, 16);
    hkdf_label(cl, "quic iv", iv, 12);
    hkdf_label(cl, "quic hp", hp, 16);

    /* header protection: AES-ECB of the sample 4 bytes past the packet number */
    uint8_t h[1500], mask[32];
    cr_assert(pn_off + len <= sizeof(h));
    memcpy(h, pkt, pn_off + len);
    int ol = 0;
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    cr_assert(EVP_EncryptInit_ex(c, EVP_aes_128_ecb(), NULL, hp, NULL));
    cr_assert(EVP_EncryptUpdate(c, mask, &ol, pkt + pn_off + 4, 16));
    h[0] ^= mask[0] & 0x0f;
    size_t pnl = (size_t)(h[0] & 3) + 1;
    uint64_t pn = 0;
    for (size_t k = 0; k < pnl; k++) {
        h[pn_off + k] ^= mask[1 + k];
        pn = pn << 8 | h[pn_off + k];
    }
    for (int k = 0; k < 8; k++)
        iv[11 - k] ^= (uint8_t)(pn >> (8 * k));
    size_t hdr = pn_off + pnl, ct = len - pnl - 16;
    uint8_t plain[1500];
    cr_assert(EVP_DecryptInit_ex(c, EVP_aes_128_gcm(), NULL, key, iv));
    cr_assert(EVP_DecryptUpdate(c, NULL, &ol, h, (int)hdr));
    cr_assert(EVP_DecryptUpdate(c, plain, &ol, h + hdr, (int)ct));
    cr_assert(EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, 16, h + hdr + ct));
    int fl = 0;
    cr_assert(EVP_DecryptFinal_ex(c, plain + ol, &fl) == 1, "the Initial decrypts");
    EVP_CIPHER_CTX_free(c);

    size_t got = 0;
    for (size_t p = 0; p < ct;) {
        uint64_t type = quic_varint(plain, ct, &p);
        if (type == 0 || type == 1)                 /* PADDING, PING */
            continue;
        cr_assert_eq(type, 6, "only CRYPTO, PADDING and PING in a client's first Initial");
        uint64_t off = quic_varint(plain, ct, &p), fl2 = quic_varint(plain, ct, &p);
        cr_assert(p + fl2 <= ct && off + fl2 <= cap);
        memcpy(out + off, plain + p, fl2);
        if (off + fl2 > got)
            got = off + fl2;
        p += fl2;
    }
    return got;
}

Test(tls, ja4_quic_client_hello)
{
    cap_t c;
    cap_load(DATA "ja4-tls-quic.pcap", 443, &c);
    const seg_t *ini = NULL;
    for (size_t k = 0; k < c.nseg && !ini; k++)
        if (c.seg[k].dir == 0 && c.seg[k].n > 1200 && (c.seg[k].p[0] & 0xf0) == 0xc0)
            ini = &c.seg[k];          /* UDP: the client's padded Initial */
    cr_assert(ini);
    uint8_t hs[4096];
    size_t n = quic_initial_crypto(ini->p, ini->n, hs, sizeof(hs));
    cr_assert_eq(hs[0], 1);
    size_t ml = (size_t)hs[1] << 16 | hs[2] << 8 | hs[3];
    cr_assert(ml + 4 <= n);
    canh_tls_hello_t h = {0};
    cr_assert_eq(canh_tls_client_hello(hs + 4, ml, 'q', &h), CANH_OK);
    /* ja4-tls-quic/test.yaml: quic.ja4 */
    cr_assert_str_eq(h.ja4, "q13d0310h3_55b375c5d22e_cd85d2d88918");
    cr_assert_str_eq(h.alpn, "h3");
    canh_tls_hello_clear(&h);
    cap_free(&c);
}

static int tls_feed(const uint8_t *p, size_t n, int flags, txs_t *t)
{
    canh_tls_t *st = canh_tls_new();
    memset(t, 0, sizeof(*t));
    int rc = canh_tls_stream(st, NULL, 0, p, n, flags, on_tx, t);
    canh_tls_free(st);
    return rc;
}

Test(tls, not_tls_and_bounds)
{
    canh_tls_counts_t *c = canh_tls_thread_counts();
    txs_t t;
    uint64_t rec = c->errors[CANH_TLS_E_RECORD], v2 = c->errors[CANH_TLS_E_SSLV2];
    cr_assert_eq(tls_feed((const uint8_t *)"GET / HTTP/1.1\r\n", 16, 0, &t), CANH_EPARSE);
    cr_assert_eq(c->errors[CANH_TLS_E_RECORD], rec + 1);
    const uint8_t v2hello[] = { 0x80, 0x2e, 0x01, 0x00, 0x02, 0x00, 0x15 };
    cr_assert_eq(tls_feed(v2hello, sizeof(v2hello), 0, &t), CANH_EPARSE);
    cr_assert_eq(c->errors[CANH_TLS_E_SSLV2], v2 + 1);
    /* a record over 2^14 + 2048 bytes */
    const uint8_t big[] = { 22, 3, 1, 0x48, 0x01 };
    cr_assert_eq(tls_feed(big, sizeof(big), 0, &t), CANH_EPARSE);
    /* a handshake message announcing 16 MiB: refused before it is gathered */
    uint64_t hb = c->errors[CANH_TLS_E_HS_BIG];
    const uint8_t huge[] = { 22, 3, 1, 0, 8, 1, 0xff, 0xff, 0xff, 3, 3, 0, 0 };
    cr_assert_eq(tls_feed(huge, sizeof(huge), 0, &t), CANH_EPARSE);
    cr_assert_eq(c->errors[CANH_TLS_E_HS_BIG], hb + 1);
    /* the first handshake message of a client is not a hello */
    const uint8_t fin[] = { 22, 3, 3, 0, 4, 20, 0, 0, 0 };
    cr_assert_eq(tls_feed(fin, sizeof(fin), 0, &t), CANH_EPARSE);
    cr_assert_eq(t.n, 0);
    /* bytes lost before the hello: the direction is given up, counted */
    uint64_t gap = c->errors[CANH_TLS_E_GAP];
    cr_assert_eq(tls_feed(fin, 3, CANH_STREAM_GAP, &t), CANH_OK);
    cr_assert_eq(t.n, 0);
    cr_assert_eq(c->errors[CANH_TLS_E_GAP], gap + 1);
}

Test(tls, hello_split_over_records)
{
    /* the same ClientHello in one record, and cut over three records */
    uint8_t body[256], one[300], three[320];
    size_t n = grease_hello(body, (const uint8_t *)"h2", 2);
    uint8_t msg[300];
    msg[0] = 1; msg[1] = 0; msg[2] = (uint8_t)(n >> 8); msg[3] = (uint8_t)n;
    memcpy(msg + 4, body, n);
    size_t ml = n + 4, o1 = 0, o3 = 0;
    one[o1++] = 22; one[o1++] = 3; one[o1++] = 1; one[o1++] = (uint8_t)(ml >> 8); one[o1++] = (uint8_t)ml;
    memcpy(one + o1, msg, ml); o1 += ml;
    size_t parts[3] = { 3, 40, ml - 43 }, at = 0;
    for (int i = 0; i < 3; i++) {
        three[o3++] = 22; three[o3++] = 3; three[o3++] = 1;
        three[o3++] = (uint8_t)(parts[i] >> 8); three[o3++] = (uint8_t)parts[i];
        memcpy(three + o3, msg + at, parts[i]);
        o3 += parts[i];
        at += parts[i];
    }
    txs_t a, b;
    cr_assert_eq(tls_feed(one, o1, 0, &a), CANH_OK);
    cr_assert_eq(a.n, 1);
    cr_assert_str_eq(a.tx[0].buf[CANH_NB_JA4_HASH], "t13d0206h2_777cda164f4b_5e519ef2b8a0");
    for (size_t k = 0; k <= o3; k++) {
        canh_tls_t *st = canh_tls_new();
        memset(&b, 0, sizeof(b));
        cr_assert_eq(canh_tls_stream(st, NULL, 0, three, k, 0, on_tx, &b), CANH_OK);
        cr_assert_eq(canh_tls_stream(st, NULL, 0, three + k, o3 - k, 0, on_tx, &b), CANH_OK);
        cr_assert(txs_same(&a, &b), "cut %zu", k);
        canh_tls_free(st);
    }
}

/* ---- DNS -------------------------------------------------------------- */

static void dns_datagrams(const char *file, txs_t *t, int *rcs)
{
    cap_t c;
    char path[256];
    snprintf(path, sizeof(path), DATA "%s", file);
    cap_load(path, 53, &c);
    canh_dns_t *d = canh_dns_new();
    memset(t, 0, sizeof(*t));
    for (size_t k = 0; k < c.nseg; k++) {
        rcs[k] = canh_dns_datagram(d, NULL, c.seg[k].dir, c.seg[k].p, c.seg[k].n, on_tx, t);
        /* every truncation of a real message: refused or parsed, never overread */
        for (size_t cut = 0; cut < c.seg[k].n; cut++) {
            uint8_t *p = malloc(cut ? cut : 1);
            memcpy(p, c.seg[k].p, cut);
            canh_app_tx_t tx;
            int rc = canh_dns_parse(d, 0, p, cut, &tx);
            cr_assert(rc == CANH_OK || rc == CANH_EPARSE);
            if (cut < 12)
                cr_assert_eq(rc, CANH_EPARSE);
            free(p);
        }
    }
    canh_dns_free(d);
    cap_free(&c);
}

Test(dns, junk_first_then_query)
{
    txs_t t;
    int rcs[8];
    canh_dns_counts_t *c = canh_dns_thread_counts();
    uint64_t q = c->queries, pe = canh_app_thread_counts()->parse_errors;
    dns_datagrams("dns-udp-junkrequest-first.pcap", &t, rcs);
    /* the junk is counted and skipped; the flow's next datagrams are parsed */
    cr_assert_eq(rcs[0], CANH_OK);
    cr_assert_eq(canh_app_thread_counts()->parse_errors, pe + 1);
    cr_assert_eq(t.n, 3);
    int found = 0;
    for (int i = 0; i < t.n; i++) {
        if (!t.tx[i].is_response && t.tx[i].set[CANH_NB_DNS_QUERY]) {
            cr_assert_str_eq(t.tx[i].buf[CANH_NB_DNS_QUERY], "catenacyber.Fr");
            cr_assert_eq(t.tx[i].qtype, 1);
            cr_assert_eq(t.tx[i].proto, CANH_APP_DNS);
            found++;
        }
    }
    cr_assert_eq(found, 1);
    cr_assert_eq(canh_dns_thread_counts()->queries, q + 1);
    const txc_t *r = &t.tx[t.n - 1];
    cr_assert(r->is_response);
    cr_assert_eq(r->nanswers, 1);
    cr_assert_eq(r->atypes[0], 1);
    cr_assert_str_eq(r->answers[0], "188.165.53.185");
}

Test(dns, nxdomain)
{
    txs_t t;
    int rcs[8];
    dns_datagrams("dns-udp-nxdomain-soa.pcap", &t, rcs);
    cr_assert_eq(t.n, 2);
    cr_assert(t.tx[1].is_response);
    cr_assert_eq(t.tx[1].rcode, 3);
    cr_assert_eq(t.tx[1].dir, 1);
    cr_assert_eq(t.tx[1].id, t.tx[0].id);
    cr_assert_str_eq(t.tx[0].buf[CANH_NB_DNS_QUERY], "dne.oisf.net");
    cr_assert_not(t.tx[1].set[CANH_NB_DNS_QUERY], "dns.query is the request's");
    cr_assert_eq(t.tx[1].qtype, 1);
}

Test(dns, notify_opcode_and_soa)
{
    txs_t t;
    int rcs[8];
    dns_datagrams("dns-opcode-notify.pcap", &t, rcs);
    cr_assert_eq(t.n, 2);
    cr_assert_eq(t.tx[0].opcode, 4);
    cr_assert_not(t.tx[0].is_response);
    cr_assert_eq(t.tx[0].qtype, 6);
    cr_assert_eq(t.tx[0].nanswers, 1);
    cr_assert_eq(t.tx[0].atypes[0], 6);
    cr_assert_str_eq(t.tx[0].answers[0],
                     "ns3.bortzmeyer.org hostmaster.bortzmeyer.org 2013092306 7200 3600 604800 43200");
}

Test(dns, tcp_answer_split_everywhere)
{
    cap_t c;
    cap_load(DATA "dns-reversed-tcp-1.pcap", 53, &c);
    txs_t t;
    feed_all_ways(&canh_app_dns_parser, &c, &t);
    cr_assert_eq(t.n, 1);
    cr_assert(t.tx[0].is_response);
    cr_assert_eq(t.tx[0].id, 24440);
    cr_assert_eq(t.tx[0].nanswers, 12);
    cr_assert_str_eq(t.tx[0].answers[0], "216.197.242.244");
    cap_free(&c);
}

/* Messages written by hand: header + question "a.example" A + answers. */
static size_t dns_msg(uint8_t *b, const uint8_t *ans, size_t ans_n, unsigned ancount)
{
    const uint8_t hdr[] = { 0x12, 0x34, 0x81, 0x80, 0, 1, 0, (uint8_t)ancount, 0, 0, 0, 0,
                            1, 'a', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 0, 0, 1, 0, 1 };
    memcpy(b, hdr, sizeof(hdr));
    memcpy(b + sizeof(hdr), ans, ans_n);
    return sizeof(hdr) + ans_n;
}

Test(dns, answer_types_as_text)
{
    const uint8_t ans[] = {
        0xc0, 12, 0, 5, 0, 1, 0, 0, 0, 60, 0, 4, 1, 'b', 0xc0, 14,            /* CNAME b.example */
        0xc0, 12, 0, 28, 0, 1, 0, 0, 0, 60, 0, 16,
        0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,             /* AAAA */
        0xc0, 12, 0, 15, 0, 1, 0, 0, 0, 60, 0, 6, 0, 10, 2, 'm', 'x', 0,      /* MX 10 mx */
        0xc0, 12, 0, 16, 0, 1, 0, 0, 0, 60, 0, 8, 3, 'a', '=', '1', 3, 'b', 0x01, 'c', /* TXT */
        0xc0, 12, 0, 12, 0, 1, 0, 0, 0, 60, 0, 2, 0xc0, 12,                   /* PTR */
        0xc0, 12, 0, 2, 0, 1, 0, 0, 0, 60, 0, 2, 0xc0, 14,                    /* NS example */
        0xc0, 12, 0, 99, 0, 1, 0, 0, 0, 60, 0, 1, 0,                          /* SPF: kept, no text */
    };
    uint8_t b[512];
    size_t n = dns_msg(b, ans, sizeof(ans), 7);
    canh_dns_t *d = canh_dns_new();
    canh_app_tx_t tx;
    cr_assert_eq(canh_dns_parse(d, 1, b, n, &tx), CANH_OK);
    cr_assert_eq(tx.dns_id, 0x1234);
    cr_assert(tx.dns_is_response);
    cr_assert_eq(tx.dns_nanswers, 7);
    cr_assert_str_eq(tx.dns_answers[0], "b.example");
    cr_assert_eq(tx.dns_answer_types[0], 5);
    cr_assert_str_eq(tx.dns_answers[1], "2001:db8::1");
    cr_assert_str_eq(tx.dns_answers[2], "10 mx");
    cr_assert_str_eq(tx.dns_answers[3], "a=1 b\\x01c");
    cr_assert_str_eq(tx.dns_answers[4], "a.example");
    cr_assert_str_eq(tx.dns_answers[5], "example");
    cr_assert_str_eq(tx.dns_answers[6], "");
    cr_assert_eq(tx.dns_answer_types[6], 99);
    /* an A record of 5 bytes is not an A record */
    const uint8_t bad_a[] = { 0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 5, 1, 2, 3, 4, 5 };
    n = dns_msg(b, bad_a, sizeof(bad_a), 1);
    uint64_t rd = canh_dns_thread_counts()->errors[CANH_DNS_E_RDATA];
    cr_assert_eq(canh_dns_parse(d, 1, b, n, &tx), CANH_EPARSE);
    cr_assert_eq(canh_dns_thread_counts()->errors[CANH_DNS_E_RDATA], rd + 1);
    canh_dns_free(d);
}

Test(dns, compression_loops_and_bad_names)
{
    canh_dns_t *d = canh_dns_new();
    canh_app_tx_t tx;
    canh_dns_counts_t *c = canh_dns_thread_counts();
    uint8_t b[600];
    /* a question name that points at itself */
    const uint8_t self[] = { 0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 1, 0, 1 };
    uint64_t loop = c->errors[CANH_DNS_E_LOOP];
    cr_assert_eq(canh_dns_parse(d, 0, self, sizeof(self), &tx), CANH_EPARSE);
    /* two labels pointing at each other */
    const uint8_t pair[] = { 0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 'a', 0xc0, 16, 1, 'b', 0xc0, 12 };
    cr_assert_eq(canh_dns_parse(d, 0, pair, sizeof(pair), &tx), CANH_EPARSE);
    cr_assert_eq(c->errors[CANH_DNS_E_LOOP], loop + 2);
    /* a pointer past the end */
    const uint8_t past[] = { 0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc1, 0, 0, 1, 0, 1 };
    uint64_t nm = c->errors[CANH_DNS_E_NAME];
    cr_assert_eq(canh_dns_parse(d, 0, past, sizeof(past), &tx), CANH_EPARSE);
    /* label type 0x40 (extended) */
    const uint8_t ext[] = { 0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0x41, 0, 0, 0, 1, 0, 1 };
    cr_assert_eq(canh_dns_parse(d, 0, ext, sizeof(ext), &tx), CANH_EPARSE);
    cr_assert_eq(c->errors[CANH_DNS_E_NAME], nm + 2);
    /* 256 bytes of name: too long; 255 is the most */
    memcpy(b, "\0\1\1\0\0\1\0\0\0\0\0\0", 12);
    size_t o = 12;
    for (int i = 0; i < 4; i++) {
        b[o++] = 63;
        memset(b + o, 'x', 63);
        o += 63;
    }
    b[o++] = 0;                     /* 4 * 64 + 1 = 257 */
    b[o++] = 0; b[o++] = 1; b[o++] = 0; b[o++] = 1;
    uint64_t lg = c->errors[CANH_DNS_E_NAME_LONG];
    cr_assert_eq(canh_dns_parse(d, 0, b, o, &tx), CANH_EPARSE);
    cr_assert_eq(c->errors[CANH_DNS_E_NAME_LONG], lg + 1);
    b[12 + 3 * 64] = 61;            /* last label 61: 3 * 64 + 62 + 1 = 255 */
    o = 12 + 3 * 64 + 62;
    b[o++] = 0;
    b[o++] = 0; b[o++] = 1; b[o++] = 0; b[o++] = 1;
    cr_assert_eq(canh_dns_parse(d, 0, b, o, &tx), CANH_OK);
    cr_assert_eq(tx.buf[CANH_NB_DNS_QUERY].n, 253);
    /* the root name: an empty dns.query */
    const uint8_t root[] = { 0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 1 };
    cr_assert_eq(canh_dns_parse(d, 0, root, sizeof(root), &tx), CANH_OK);
    cr_assert(tx.buf[CANH_NB_DNS_QUERY].p);
    cr_assert_eq(tx.buf[CANH_NB_DNS_QUERY].n, 0);
    cr_assert_eq(tx.dns_qtype, 2);
    canh_dns_free(d);
}

Test(dns, many_answers_bounded)
{
    /* 40 A records: 16 kept as text, all checked */
    uint8_t ans[40 * 16], b[1024];
    for (int i = 0; i < 40; i++) {
        const uint8_t a[] = { 0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 10, 0, 0, (uint8_t)i };
        memcpy(ans + 16 * i, a, 16);
    }
    size_t n = dns_msg(b, ans, sizeof(ans), 40);
    canh_dns_t *d = canh_dns_new();
    canh_app_tx_t tx;
    cr_assert_eq(canh_dns_parse(d, 1, b, n, &tx), CANH_OK);
    cr_assert_eq(tx.dns_nanswers, 16);
    cr_assert_str_eq(tx.dns_answers[15], "10.0.0.15");
    ans[39 * 16 + 11] = 5;          /* the last one's rdlength past the end */
    n = dns_msg(b, ans, sizeof(ans), 40);
    cr_assert_eq(canh_dns_parse(d, 1, b, n, &tx), CANH_EPARSE);
    canh_dns_free(d);
}

Test(dns, tcp_framing)
{
    /* two messages in one stream, each with its length prefix */
    const uint8_t a1[] = { 0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 1 };
    uint8_t m[128], s[300];
    size_t n = dns_msg(m, a1, sizeof(a1), 1), o = 0;
    for (int i = 0; i < 2; i++) {
        s[o++] = (uint8_t)(n >> 8);
        s[o++] = (uint8_t)n;
        memcpy(s + o, m, n);
        o += n;
    }
    for (size_t k = 0; k <= o; k++) {
        canh_dns_t *d = canh_dns_new();
        txs_t t = {0};
        cr_assert_eq(canh_dns_stream(d, NULL, 1, s, k, 0, on_tx, &t), CANH_OK);
        cr_assert_eq(canh_dns_stream(d, NULL, 1, s + k, o - k, 0, on_tx, &t), CANH_OK);
        cr_assert_eq(t.n, 2, "cut %zu", k);
        cr_assert_str_eq(t.tx[1].answers[0], "192.0.2.1");
        canh_dns_free(d);
    }
    /* a malformed message between two good ones, framing intact: skipped */
    uint8_t s3[400];
    size_t o3 = 0;
    memcpy(s3, s, n + 2);
    o3 = n + 2;
    const uint8_t junk[] = { 0, 5, 1, 2, 3, 4, 5, 0, 0 };   /* 5 bytes, then a zero length */
    memcpy(s3 + o3, junk, sizeof(junk));
    o3 += sizeof(junk);
    memcpy(s3 + o3, s, n + 2);
    o3 += n + 2;
    canh_dns_counts_t *c = canh_dns_thread_counts();
    for (size_t k = 0; k <= o3; k++) {
        uint64_t sh = c->errors[CANH_DNS_E_SHORT], zl = c->errors[CANH_DNS_E_TCP_LEN];
        canh_dns_t *d = canh_dns_new();
        txs_t t = {0};
        cr_assert_eq(canh_dns_stream(d, NULL, 1, s3, k, 0, on_tx, &t), CANH_OK);
        cr_assert_eq(canh_dns_stream(d, NULL, 1, s3 + k, o3 - k, 0, on_tx, &t), CANH_OK);
        cr_assert_eq(t.n, 2, "cut %zu", k);
        cr_assert_eq(c->errors[CANH_DNS_E_SHORT], sh + 1);
        cr_assert_eq(c->errors[CANH_DNS_E_TCP_LEN], zl + 1);
        canh_dns_free(d);
    }
    /* lost bytes lose the framing: that direction stops; both: done */
    canh_dns_t *d = canh_dns_new();
    txs_t t = {0};
    cr_assert_eq(canh_dns_stream(d, NULL, 1, s + 3, o - 3, CANH_STREAM_GAP, on_tx, &t), CANH_OK);
    cr_assert_eq(t.n, 0);
    cr_assert_eq(canh_dns_stream(d, NULL, 0, s, o, 0, on_tx, &t), CANH_OK);
    cr_assert_eq(t.n, 2, "the other direction goes on");
    cr_assert_eq(canh_dns_stream(d, NULL, 0, s, 1, CANH_STREAM_GAP, on_tx, &t), CANH_APP_DONE);
    canh_dns_free(d);
}

/* dig sets AD (and resolvers CD) in queries: a query on another port than
 * 53 is still told as DNS; only the Z bit must be zero (RFC 4035 3.2). */
Test(dns, told_off_port_53_with_ad_and_cd_set)
{
    uint8_t q[] = { 0x12, 0x34, 0x01, 0x20, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                    7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'c', 'o', 'm', 0, 0x00, 0x01,
                    0x00, 0x01 };
    cr_assert_eq(canh_app_detect(q, sizeof q, 0, 0, 5353), CANH_APP_DNS, "AD set");
    q[3] = 0x10;
    cr_assert_eq(canh_app_detect(q, sizeof q, 0, 0, 5353), CANH_APP_DNS, "CD set");
    q[3] = 0x40;
    cr_assert_neq(canh_app_detect(q, sizeof q, 0, 0, 5353), CANH_APP_DNS, "Z set: not DNS");
}
