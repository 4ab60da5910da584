/*
 * tests/test_nids_match.c -- the network rule matcher (engine/detect/nids_match.c):
 * what a rule writer expects of Suricata's content modifiers, pcre,
 * flowbits, flow, dsize, addresses and ports, threshold and
 * detection_filter, a fast pattern split across two TCP chunks (Hyperscan's
 * streaming mode), and that only the rules a fast pattern woke are
 * evaluated.
 *
 * Most rules are built here in their parsed form (canh_nids_rule_t), so a
 * test says exactly which modifier it exercises; a few go through the
 * parser (nids_parse.c) as a user writes them. The flow is a stand-in (used
 * when the flow table is not linked): the matcher only asks a flow for its
 * info and its ext slots.
 */
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "../engine/canh.h"
#include "../engine/detect/nids.h"

/* ---- stand-ins, used only when the real ones are not linked ---- */

struct canh_flow {
    canh_flow_info_t info;
    void *ext[CANH_FLOW_EXT__COUNT];
};

__attribute__((weak)) const canh_flow_info_t *canh_flow_info(const canh_flow_t *f)
{
    return &f->info;
}
__attribute__((weak)) void **canh_flow_ext(canh_flow_t *f, int slot)
{
    return slot >= 0 && slot < CANH_FLOW_EXT__COUNT ? &f->ext[slot] : NULL;
}
__attribute__((weak)) canh_app_proto_t canh_app_proto(const canh_app_t *a)
{
    (void)a;
    return CANH_APP_UNKNOWN;
}
/* ---- building rules by hand ---- */

static canh_nids_rulevec_t rv;

static canh_nids_rule_t *rule(uint32_t sid, uint8_t proto)
{
    canh_nids_rule_t *r = calloc(1, sizeof(*r));
    r->sid = sid;
    r->rev = 1;
    r->gid = 1;
    r->proto = proto;
    r->action = CANH_NA_ALERT;
    r->src.any = r->dst.any = r->sport.any = r->dport.any = 1;
    r->file = strdup("test.rules");
    r->line = sid;
    if (rv.n == rv.cap) {
        rv.cap = rv.cap ? rv.cap * 2 : 16;
        rv.v = realloc(rv.v, rv.cap * sizeof(*rv.v));
    }
    rv.v[rv.n++] = r;
    return r;
}

static canh_nids_m_t *item(canh_nids_rule_t *r, canh_nids_mkind_t kind, int buffer,
                           const void *bytes, size_t len)
{
    r->m = realloc(r->m, (r->nm + 1) * sizeof(*r->m));
    canh_nids_m_t *m = &r->m[r->nm++];
    memset(m, 0, sizeof(*m));
    m->kind = kind;
    m->buffer = (uint8_t)buffer;
    m->bytes = malloc(len + 1);
    memcpy(m->bytes, bytes, len);
    m->bytes[len] = 0;
    m->len = len;
    return m;
}

static canh_nids_m_t *content(canh_nids_rule_t *r, const char *s)
{
    return item(r, CANH_NM_CONTENT, CANH_NB_PACKET, s, strlen(s));
}

static canh_nids_m_t *content_in(canh_nids_rule_t *r, int buffer, const char *s)
{
    return item(r, CANH_NM_CONTENT, buffer, s, strlen(s));
}

static canh_nids_m_t *pcre(canh_nids_rule_t *r, const char *re, uint32_t flags, int relative)
{
    canh_nids_m_t *m = item(r, CANH_NM_PCRE, CANH_NB_PACKET, re, strlen(re));
    m->pcre_flags = flags;
    m->relative = (uint8_t)relative;
    return m;
}

static void distance(canh_nids_m_t *m, int32_t d)
{
    m->relative = 1, m->has_distance = 1, m->distance = d;
}
static void within(canh_nids_m_t *m, int32_t w)
{
    m->relative = 1, m->has_within = 1, m->within = w;
}

static uint32_t bit(const char *name)
{
    for (size_t i = 0; i < rv.nbits; i++)
        if (!strcmp(rv.bitnames[i], name))
            return (uint32_t)i;
    rv.bitnames = realloc(rv.bitnames, (rv.nbits + 1) * sizeof(char *));
    rv.bitnames[rv.nbits] = strdup(name);
    return (uint32_t)rv.nbits++;
}

static void flowbit(canh_nids_rule_t *r, canh_nids_fbop_t op, const char *name)
{
    r->flowbits = realloc(r->flowbits, (r->nflowbits + 1) * sizeof(*r->flowbits));
    canh_nids_flowbit_t *fb = &r->flowbits[r->nflowbits++];
    memset(fb, 0, sizeof(*fb));
    fb->op = op;
    if (name) {
        fb->bits = malloc(sizeof(uint32_t));
        fb->bits[0] = bit(name);
        fb->nbits = 1;
    }
}

static void ports(canh_nids_ports_t *p, uint16_t lo, uint16_t hi, int neg)
{
    p->any = 0;
    p->r = realloc(p->r, (p->n + 1) * sizeof(*p->r));
    p->r[p->n++] = (canh_nids_portrange_t){ lo, hi, (uint8_t)neg };
}

static void addr4(canh_nids_addr_t *a, const char *lo, const char *hi, int neg)
{
    a->any = 0;
    a->r = realloc(a->r, (a->n + 1) * sizeof(*a->r));
    canh_nids_iprange_t *x = &a->r[a->n++];
    memset(x, 0, sizeof(*x));
    x->ipver = 4;
    x->neg = (uint8_t)neg;
    /* the parser's layout: an IPv4 range in bytes 12..15 */
    sscanf(lo, "%hhu.%hhu.%hhu.%hhu", &x->lo[12], &x->lo[13], &x->lo[14], &x->lo[15]);
    sscanf(hi, "%hhu.%hhu.%hhu.%hhu", &x->hi[12], &x->hi[13], &x->hi[14], &x->hi[15]);
}

/* ---- running them ---- */

static canh_nids_t *set;
static canh_nids_matcher_t *mt;
static int refusals;

static void on_refuse(void *ud, const char *file, int line, const char *id, const char *why)
{
    (void)ud;
    (void)file;
    (void)line;
    (void)id;
    (void)why;
    refusals++;
}

static void build(void)
{
    char err[256] = "";
    canh_nids_opts_t o = { 0 };
    refusals = 0;
    cr_assert_eq(canh_nids_build(&set, &rv, &o, on_refuse, NULL, err, sizeof(err)), CANH_OK,
                 "%s", err);
    cr_assert_eq(rv.n, 0, "the set takes the rules");
    mt = canh_nids_matcher_new(set, err, sizeof(err));
    cr_assert_not_null(mt, "%s", err);
}

static void flows_end(void);

static void teardown(void)
{
    flows_end();
    canh_nids_matcher_free(mt);
    canh_nids_free(set);
    canh_nids_rulevec_free(&rv);
    mt = NULL;
    set = NULL;
}

typedef struct got {
    uint32_t sids[64];
    size_t n;
} got_t;

static void on_alert(void *ud, const canh_nids_hit_t *h)
{
    got_t *g = ud;
    if (g->n < 64)
        g->sids[g->n++] = h->rule->sid;
}

static canh_pkt_t pkt(uint8_t proto, const char *src, uint16_t sport, const char *dst,
                      uint16_t dport)
{
    canh_pkt_t p;
    memset(&p, 0, sizeof(p));
    p.ipver = 4;
    p.proto = proto;
    sscanf(src, "%hhu.%hhu.%hhu.%hhu", &p.src[0], &p.src[1], &p.src[2], &p.src[3]);
    sscanf(dst, "%hhu.%hhu.%hhu.%hhu", &p.dst[0], &p.dst[1], &p.dst[2], &p.dst[3]);
    p.sport = sport;
    p.dport = dport;
    return p;
}

/* One packet inspection of payload (len bytes), returning the sids that alerted. */
static got_t inspect_full(canh_pkt_t *p, canh_flow_t *f, int dir, const void *payload,
                          size_t len)
{
    canh_nids_ctx_t c;
    memset(&c, 0, sizeof(c));
    p->payload = payload;
    p->plen = (uint32_t)len;
    c.pkt = p;
    c.flow = f;
    c.dir = dir;
    c.buf[CANH_NB_PACKET].p = payload ? payload : (const uint8_t *)"";
    c.buf[CANH_NB_PACKET].n = len;
    got_t g = { .n = 0 };
    canh_nids_inspect(mt, &c, on_alert, &g);
    return g;
}

static got_t inspect_bytes(const void *payload, size_t len)
{
    canh_pkt_t p = pkt(IPPROTO_TCP, "192.168.1.2", 40000, "10.0.0.1", 80);
    return inspect_full(&p, NULL, 0, payload, len);
}

static got_t inspect(const char *payload)
{
    return inspect_bytes(payload, strlen(payload));
}

static int has(const got_t *g, uint32_t sid)
{
    for (size_t i = 0; i < g->n; i++)
        if (g->sids[i] == sid)
            return 1;
    return 0;
}

static canh_nids_counts_t counts(void)
{
    canh_nids_counts_t c;
    canh_nids_matcher_counts(mt, &c);
    return c;
}

TestSuite(nids_match, .fini = teardown);

/* ---- contents ---- */

Test(nids_match, content_nocase_and_hex)
{
    content(rule(1, 0), "Evil");
    canh_nids_m_t *m = content(rule(2, 0), "evil");
    m->nocase = 1;
    item(rule(3, 0), CANH_NM_CONTENT, CANH_NB_PACKET, "\x00\xff\x01", 3);
    build();
    got_t g = inspect("an EVIL thing");
    cr_expect(!has(&g, 1), "case matters without nocase");
    cr_expect(has(&g, 2), "nocase matches any case");
    g = inspect("an Evil thing");
    cr_expect(has(&g, 1) && has(&g, 2));
    g = inspect_bytes("ab\x00\xff\x01", 5);
    cr_expect(has(&g, 3), "binary content with NUL");
    g = inspect_bytes("ab\x00\xfe\x01", 5);
    cr_expect(!has(&g, 3));
}

Test(nids_match, offset_and_depth_from_buffer_start)
{
    canh_nids_m_t *m = content(rule(1, 0), "GET");
    m->has_depth = 1, m->depth = 3;                   /* only at the start */
    m = content(rule(2, 0), "abc");
    m->has_offset = 1, m->offset = 4;                 /* from byte 4 on */
    m = content(rule(3, 0), "abc");
    m->has_offset = 1, m->offset = 2, m->has_depth = 1, m->depth = 4;   /* within [2,6) */
    build();
    got_t g = inspect("GET /abc");
    cr_expect(has(&g, 1));
    cr_expect(has(&g, 2), "abc at 5 is past offset 4");
    cr_expect(!has(&g, 3), "abc at 5..8 ends past offset+depth 6");
    g = inspect(" GET abc");
    cr_expect(!has(&g, 1), "GET at 1 is outside depth 3");
    cr_expect(has(&g, 2));
    g = inspect("xxabcx");
    cr_expect(!has(&g, 2), "abc at 2 is before offset 4");
    cr_expect(has(&g, 3));
}

Test(nids_match, relative_chain_backtracks_to_a_later_occurrence)
{
    /* content:"A="; content:"B"; distance:0; within:2; -- only the second A= is followed by B */
    canh_nids_rule_t *r = rule(1, 0);
    content(r, "A=");
    canh_nids_m_t *m = content(r, "B");
    distance(m, 0);
    within(m, 2);
    /* three deep: the middle must be retried too */
    r = rule(2, 0);
    content(r, "x");
    m = content(r, "y");
    distance(m, 1);
    within(m, 2);
    m = content(r, "z");
    distance(m, 0);
    within(m, 1);
    build();
    got_t g = inspect("A=....A=.B");
    cr_expect(has(&g, 1), "the first A= fails, the second one matches");
    g = inspect("A=..B A=...B");
    cr_expect(!has(&g, 1), "B never within 2 of an A=");
    g = inspect("x.yyz");
    cr_expect(has(&g, 2), "the first y fails, the middle content is retried at the next");
    g = inspect("x.y. x.yz");
    cr_expect(has(&g, 2), "the first x fails, the second one matches");
    g = inspect("xy.z x.yq");
    cr_expect(!has(&g, 2));
}

Test(nids_match, distance_counts_from_the_previous_match_end)
{
    canh_nids_rule_t *r = rule(1, 0);
    content(r, "abc");
    canh_nids_m_t *m = content(r, "def");
    distance(m, 3);
    r = rule(2, 0);
    content(r, "abc");
    m = content(r, "xyz");
    distance(m, -6);                                  /* before the previous match */
    within(m, 3);
    build();
    got_t g = inspect("abc...def");
    cr_expect(has(&g, 1));
    g = inspect("abc..def");
    cr_expect(!has(&g, 1), "def starts 2 after abc, distance is 3");
    g = inspect("xyzabc");
    cr_expect(has(&g, 2), "a negative distance looks back");
}

/* ET's shape (sid 2025185): nested relative contents over a long body.
 * A content found nowhere after some point is not looked for again from
 * later points; one bounded by within still is. */
Test(nids_match, nested_relative_contents_over_a_long_buffer)
{
    canh_nids_rule_t *r = rule(1, 0);
    content(r, "<script")->nocase = 1;
    distance(content(r, "<"), 0);
    canh_nids_m_t *m = content(r, ".length");
    m->nocase = 1;
    m->fast_pattern = 1;
    distance(m, 0);
    r = rule(2, 0);
    content(r, "aaaa|");
    m = content(r, "b");
    distance(m, 0);
    within(m, 2);
    build();
    size_t n = 60000;
    char *buf = malloc(n + 32);
    memcpy(buf, "<SCRIPT", 7);
    memset(buf + 7, '<', n - 7);
    memcpy(buf + n, ".LENGTH", 8);
    got_t g = inspect_bytes(buf, n + 7);
    cr_expect(has(&g, 1), "the last content at the very end");
    memcpy(buf + n, ".LENGTX", 8);
    g = inspect_bytes(buf, n + 7);
    cr_expect(!has(&g, 1));
    free(buf);
    /* "b" within 2 of the first "aaaa|" fails, of the second it holds */
    g = inspect("aaaa|..b aaaa|b");
    cr_expect(has(&g, 2), "a window bounded by within is searched again");
}

Test(nids_match, negation_plain_and_relative)
{
    canh_nids_rule_t *r = rule(1, 0);
    content(r, "login");
    content(r, "admin")->negated = 1;
    r = rule(2, 0);
    content(r, "user=");
    canh_nids_m_t *m = content(r, "root");
    m->negated = 1;
    distance(m, 0);
    within(m, 4);
    build();
    got_t g = inspect("login guest");
    cr_expect(has(&g, 1));
    g = inspect("login admin");
    cr_expect(!has(&g, 1), "the negated content is there");
    g = inspect("user=bob");
    cr_expect(has(&g, 2));
    g = inspect("user=root");
    cr_expect(!has(&g, 2));
    g = inspect("user=root user=bob");
    cr_expect(has(&g, 2), "the second user= is not followed by root");
    g = inspect("user=bob root");
    cr_expect(has(&g, 2), "root outside the window");
}

Test(nids_match, startswith_endswith)
{
    content(rule(1, 0), "HTTP/")->startswith = 1;
    content(rule(2, 0), ".exe")->endswith = 1;
    build();
    got_t g = inspect("HTTP/1.1 200");
    cr_expect(has(&g, 1));
    g = inspect(" HTTP/1.1");
    cr_expect(!has(&g, 1));
    g = inspect("get a.exe");
    cr_expect(has(&g, 2));
    g = inspect("a.exe?x=1");
    cr_expect(!has(&g, 2));
}

/* ---- pcre ---- */

Test(nids_match, pcre_plain_relative_and_negated)
{
    canh_nids_rule_t *r = rule(1, 0);
    content(r, "id=");
    pcre(r, "^[0-9]{3}\\b", 0, 1);                    /* /R: right after id= */
    r = rule(2, 0);
    pcre(r, "passw(or)?d", PCRE2_CASELESS, 0);
    r = rule(3, 0);
    content(r, "cmd");
    pcre(r, "rm -rf", 0, 0)->negated = 1;
    build();
    got_t g = inspect("x id=12 id=345 ");
    cr_expect(has(&g, 1), "the pcre is anchored after the second id=");
    g = inspect("id=12 id=3456");
    cr_expect(!has(&g, 1));
    g = inspect("PassWD:");
    cr_expect(has(&g, 2));
    g = inspect("cmd ls");
    cr_expect(has(&g, 3));
    g = inspect("cmd rm -rf /");
    cr_expect(!has(&g, 3));
}

Test(nids_match, bad_pcre_is_refused_and_left_out)
{
    content(rule(1, 0), "fine");
    pcre(rule(2, 0), "(unclosed", 0, 0);
    build();
    cr_expect_eq(refusals, 1);
    cr_expect_eq(canh_nids_size(set), 1);
    cr_expect_null(canh_nids_rule(set, 1));
    got_t g = inspect("fine (unclosed");
    cr_expect(has(&g, 1) && !has(&g, 2));
}

/* ---- flow, flowbits, dsize, header ---- */

/*
 * A flow for the tests: from the real flow table when it is linked (a UDP
 * flow, established once a packet went each way), else the stand-in above.
 * Either way the flows and their detect state end in teardown.
 */
#pragma weak canh_flow_table_new
#pragma weak canh_flow_table_free
#pragma weak canh_flow_get
#pragma weak canh_flow_packet

static canh_flow_table_t *ftab;
static struct canh_flow fakes[4];
static size_t nfakes;
static uint16_t next_port = 1000;

static void ext_free(int slot, void *p)
{
    if (slot == CANH_FLOW_EXT_DETECT)
        canh_nids_flow_free(p);
}

static canh_flow_t *flow_new(uint32_t flags)
{
    int est = (flags & CANH_FLOW_ESTABLISHED) != 0;
    if (canh_flow_table_new) {
        if (!ftab) {
            canh_flow_opts_t o = { .ext_free = ext_free };
            ftab = canh_flow_table_new(&o);
            cr_assert_not_null(ftab);
        }
        canh_pkt_t a = pkt(IPPROTO_UDP, "10.9.0.1", next_port, "10.9.0.2", 53);
        canh_pkt_t b = pkt(IPPROTO_UDP, "10.9.0.2", 53, "10.9.0.1", next_port++);
        a.hash = b.hash = a.sport;
        int dir = -1;
        canh_flow_t *f = canh_flow_get(ftab, &a, &dir);
        cr_assert_not_null(f);
        canh_flow_packet(ftab, f, dir, &a, NULL, NULL);
        if (est) {
            cr_assert_eq(canh_flow_get(ftab, &b, &dir), f);
            canh_flow_packet(ftab, f, dir, &b, NULL, NULL);
        }
        cr_assert_eq((canh_flow_info(f)->flags & CANH_FLOW_ESTABLISHED) != 0, est);
        return f;
    }
    cr_assert_lt(nfakes, CANH_ARRAY_LEN(fakes));
    struct canh_flow *f = &fakes[nfakes++];
    memset(f, 0, sizeof(*f));
    f->info.ipver = 4;
    f->info.proto = IPPROTO_UDP;
    f->info.flags = flags;
    return f;
}

static void flows_end(void)
{
    if (ftab)
        canh_flow_table_free(ftab);
    ftab = NULL;
    for (size_t i = 0; i < nfakes; i++)
        canh_nids_flow_free(fakes[i].ext[CANH_FLOW_EXT_DETECT]);
    nfakes = 0;
}

Test(nids_match, flowbits_set_then_isset_on_a_later_packet_of_the_flow)
{
    canh_nids_rule_t *r = rule(1, IPPROTO_TCP);
    content(r, "USER ");
    flowbit(r, CANH_FB_SET, "logged");
    flowbit(r, CANH_FB_NOALERT, NULL);
    r = rule(2, IPPROTO_TCP);
    content(r, "RETR ");
    flowbit(r, CANH_FB_ISSET, "logged");
    r = rule(3, IPPROTO_TCP);
    content(r, "RETR ");
    flowbit(r, CANH_FB_ISNOTSET, "logged");
    build();
    canh_flow_t *f1 = flow_new(CANH_FLOW_ESTABLISHED), *f2 = flow_new(CANH_FLOW_ESTABLISHED);
    canh_pkt_t p = pkt(IPPROTO_TCP, "10.0.0.2", 5000, "10.0.0.1", 21);
    got_t g = inspect_full(&p, f1, 0, "RETR a", 6);
    cr_expect(!has(&g, 2) && has(&g, 3), "not set yet");
    g = inspect_full(&p, f1, 0, "USER bob", 8);
    cr_expect_eq(g.n, 0, "noalert");
    g = inspect_full(&p, f1, 0, "RETR a", 6);
    cr_expect(has(&g, 2) && !has(&g, 3), "set by the earlier packet");
    g = inspect_full(&p, f2, 0, "RETR a", 6);
    cr_expect(!has(&g, 2), "another flow has its own bits");
}

Test(nids_match, flowbit_set_in_the_same_packet_is_seen_by_its_reader)
{
    canh_nids_rule_t *r = rule(1, 0);      /* the reader first in the file */
    content(r, "b");
    flowbit(r, CANH_FB_ISSET, "x");
    r = rule(2, 0);
    content(r, "a");
    flowbit(r, CANH_FB_SET, "x");
    build();
    canh_flow_t *f = flow_new(0);
    canh_pkt_t p = pkt(IPPROTO_TCP, "10.0.0.2", 5000, "10.0.0.1", 21);
    got_t g = inspect_full(&p, f, 0, "ab", 2);
    cr_expect(has(&g, 1) && has(&g, 2), "setters run before readers");
    cr_expect_eq(g.sids[0], 1, "alerts in rule-set order");
}

Test(nids_match, flow_direction_and_state)
{
    canh_nids_rule_t *r = rule(1, IPPROTO_TCP);
    content(r, "x");
    r->flow = CANH_NF_ESTABLISHED | CANH_NF_TO_SERVER;
    r = rule(2, IPPROTO_TCP);
    content(r, "x");
    r->flow = CANH_NF_TO_CLIENT;
    r = rule(3, IPPROTO_TCP);
    content(r, "x");
    r->flow = CANH_NF_NOT_ESTABLISHED;
    build();
    canh_flow_t *est = flow_new(CANH_FLOW_ESTABLISHED), *syn = flow_new(0);
    canh_pkt_t p = pkt(IPPROTO_TCP, "10.0.0.2", 5000, "10.0.0.1", 80);
    got_t g = inspect_full(&p, est, 0, "x", 1);
    cr_expect(has(&g, 1) && !has(&g, 2) && !has(&g, 3));
    g = inspect_full(&p, est, 1, "x", 1);
    cr_expect(!has(&g, 1) && has(&g, 2) && !has(&g, 3));
    g = inspect_full(&p, syn, 0, "x", 1);
    cr_expect(!has(&g, 1) && has(&g, 3));
}

Test(nids_match, dsize_on_the_packet_payload)
{
    canh_nids_rule_t *r = rule(1, 0);
    r->dsize_op = '=', r->dsize_lo = 4;
    r = rule(2, 0);
    content(r, "ab");
    r->dsize_op = '>', r->dsize_lo = 5;
    r = rule(3, 0);
    r->dsize_op = 'r', r->dsize_lo = 1, r->dsize_hi = 4;
    build();
    got_t g = inspect("abcd");
    cr_expect(has(&g, 1) && !has(&g, 2));
    g = inspect("abcdef");
    cr_expect(!has(&g, 1) && has(&g, 2) && !has(&g, 3));
    g = inspect("abc");
    cr_expect(has(&g, 3));
    g = inspect("a");
    cr_expect(!has(&g, 3), "1<>4 excludes the bounds");
}

Test(nids_match, addresses_ports_negation_and_direction)
{
    canh_nids_rule_t *r = rule(1, IPPROTO_TCP);   /* any -> 10.0.0.0/8 !10.1.0.0/16, port !22 */
    addr4(&r->dst, "10.0.0.0", "10.255.255.255", 0);
    addr4(&r->dst, "10.1.0.0", "10.1.255.255", 1);
    ports(&r->dport, 22, 22, 1);
    content(r, "q");
    r = rule(2, IPPROTO_UDP);                     /* any 53 <> any any */
    ports(&r->sport, 53, 53, 0);
    r->bidirectional = 1;
    content(r, "q");
    r = rule(3, IPPROTO_TCP);                     /* ports 8000:8080 */
    ports(&r->dport, 8000, 8080, 0);
    content(r, "q");
    build();
    canh_pkt_t p = pkt(IPPROTO_TCP, "192.168.0.1", 1234, "10.2.0.1", 80);
    got_t g = inspect_full(&p, NULL, 0, "q", 1);
    cr_expect(has(&g, 1) && !has(&g, 2) && !has(&g, 3));
    p = pkt(IPPROTO_TCP, "192.168.0.1", 1234, "10.1.0.1", 80);
    g = inspect_full(&p, NULL, 0, "q", 1);
    cr_expect(!has(&g, 1), "10.1/16 is negated");
    p = pkt(IPPROTO_TCP, "192.168.0.1", 1234, "10.2.0.1", 22);
    g = inspect_full(&p, NULL, 0, "q", 1);
    cr_expect(!has(&g, 1), "port 22 is negated");
    p = pkt(IPPROTO_TCP, "10.2.0.1", 22, "192.168.0.1", 8080);
    g = inspect_full(&p, NULL, 0, "q", 1);
    cr_expect(!has(&g, 1) && has(&g, 3), "direction -> : the destination is 192.168");
    p = pkt(IPPROTO_UDP, "10.0.0.9", 5353, "8.8.8.8", 53);
    g = inspect_full(&p, NULL, 0, "q", 1);
    cr_expect(has(&g, 2), "<> matches the reverse way");
    p = pkt(IPPROTO_UDP, "10.0.0.9", 5353, "8.8.8.8", 54);
    g = inspect_full(&p, NULL, 0, "q", 1);
    cr_expect(!has(&g, 2));
}

/* ---- threshold / detection_filter ---- */

static got_t at_time(int64_t sec, const char *src)
{
    canh_pkt_t p = pkt(IPPROTO_TCP, src, 1000, "10.0.0.1", 80);
    p.ts_us = sec * 1000000;
    return inspect_full(&p, NULL, 0, "hit", 3);
}

static canh_nids_rule_t *thr_rule(uint32_t sid, canh_nids_ttype_t t, canh_nids_track_t tr,
                                  uint32_t count, uint32_t seconds)
{
    canh_nids_rule_t *r = rule(sid, 0);
    content(r, "hit");
    r->threshold.type = t;
    r->threshold.track = tr;
    r->threshold.count = count;
    r->threshold.seconds = seconds;
    return r;
}

static int alerts_over(const int64_t *times, size_t n, const char *src, uint32_t sid)
{
    int k = 0;
    for (size_t i = 0; i < n; i++) {
        got_t g = at_time(times[i], src);
        k += has(&g, sid);
    }
    return k;
}

Test(nids_match, threshold_limit)
{
    thr_rule(1, CANH_NT_LIMIT, CANH_NTR_SRC, 2, 60);
    build();
    int64_t t[] = { 0, 1, 2, 3, 70, 71, 72 };
    cr_expect_eq(alerts_over(t, 7, "1.1.1.1", 1), 4, "2 per 60 s window, two windows");
    cr_expect_eq(alerts_over(t, 3, "2.2.2.2", 1), 2, "another source counts apart");
    cr_expect_eq(counts().suppressed_threshold, 3 + 1);
}

Test(nids_match, threshold_every_nth)
{
    thr_rule(1, CANH_NT_THRESHOLD, CANH_NTR_DST, 3, 60);
    build();
    int64_t t[] = { 0, 1, 2, 3, 4, 5, 6 };
    cr_expect_eq(alerts_over(t, 7, "1.1.1.1", 1), 2, "the 3rd and the 6th");
}

Test(nids_match, threshold_both)
{
    thr_rule(1, CANH_NT_BOTH, CANH_NTR_RULE, 3, 10);
    build();
    int64_t t[] = { 0, 1, 2, 3, 4, 20, 21, 22 };
    cr_expect_eq(alerts_over(t, 8, "1.1.1.1", 1), 2, "once per window at the 3rd");
}

Test(nids_match, detection_filter)
{
    thr_rule(1, CANH_NT_DETECTION_FILTER, CANH_NTR_SRC, 2, 60);
    build();
    int64_t t[] = { 0, 1, 2, 3 };
    cr_expect_eq(alerts_over(t, 4, "1.1.1.1", 1), 2, "after the first 2");
}

/* ---- stream ---- */

static got_t inspect_stream(canh_flow_t *f, const uint8_t *all, size_t from, size_t len,
                            size_t newb, int pkt_too)
{
    canh_nids_ctx_t c;
    memset(&c, 0, sizeof(c));
    canh_pkt_t p = pkt(IPPROTO_TCP, "10.0.0.2", 5000, "10.0.0.1", 80);
    p.payload = all + from + len - newb;
    p.plen = (uint32_t)newb;
    c.pkt = &p;
    c.flow = f;
    c.dir = 0;
    if (pkt_too) {
        c.buf[CANH_NB_PACKET].p = p.payload;
        c.buf[CANH_NB_PACKET].n = newb;
    }
    c.buf[CANH_NB_STREAM].p = all + from;
    c.buf[CANH_NB_STREAM].n = len;
    c.stream_new = newb;
    got_t g = { .n = 0 };
    canh_nids_inspect(mt, &c, on_alert, &g);
    return g;
}

Test(nids_match, pattern_split_across_two_chunks_wakes_in_streaming_mode)
{
    canh_nids_rule_t *r = rule(1, IPPROTO_TCP);
    content(r, "malware.exe");
    r = rule(2, IPPROTO_TCP);
    content(r, "other");
    build();
    canh_flow_t *f = flow_new(CANH_FLOW_ESTABLISHED);
    const uint8_t *s = (const uint8_t *)"GET /malw" "are.exe HTTP/1.0";
    /* chunk 1: "GET /malw" */
    canh_nids_stream(mt, f, 0, s, 9, 0);
    got_t g = inspect_stream(f, s, 0, 9, 9, 1);
    cr_expect_eq(g.n, 0);
    /* chunk 2: the packet holds only "are.exe ..."; the stream keeps 9 bytes of look-back */
    canh_nids_stream(mt, f, 0, s + 9, strlen((const char *)s) - 9, 0);
    uint64_t before = counts().rules_evaluated;
    g = inspect_stream(f, s, 0, strlen((const char *)s), strlen((const char *)s) - 9, 1);
    cr_expect(has(&g, 1), "the split pattern matched on the stream");
    cr_expect_eq(g.n, 1, "one alert though packet and stream were both inspected");
    cr_expect_eq(counts().rules_evaluated - before, 1, "only the woken rule was evaluated");
    /* chunk 3: nothing new matches; the old match is look-back only */
    const uint8_t *s3 = (const uint8_t *)"GET /malware.exe HTTP/1.0\r\n";
    canh_nids_stream(mt, f, 0, s3 + 25, 2, 0);
    g = inspect_stream(f, s3, 0, 27, 2, 1);
    cr_expect(!has(&g, 1), "a match in the look-back alerted before");
}

Test(nids_match, stream_without_a_streaming_scan_still_matches_new_bytes)
{
    content(rule(1, IPPROTO_TCP), "secret");
    build();
    canh_flow_t *f = flow_new(CANH_FLOW_ESTABLISHED);
    const uint8_t *s = (const uint8_t *)"xxsecretyy";
    got_t g = inspect_stream(f, s, 0, 10, 6, 0);    /* "cretyy" new: the match ends in it */
    cr_expect(has(&g, 1));
    g = inspect_stream(f, s, 0, 10, 2, 0);          /* only "yy" new */
    cr_expect(!has(&g, 1));
}

Test(nids_match, gap_restarts_the_stream)
{
    content(rule(1, IPPROTO_TCP), "abcdef");
    build();
    canh_flow_t *f = flow_new(CANH_FLOW_ESTABLISHED);
    canh_nids_stream(mt, f, 0, (const uint8_t *)"abc", 3, 0);
    inspect_stream(f, (const uint8_t *)"abc", 0, 3, 3, 0);
    canh_nids_stream(mt, f, 0, (const uint8_t *)"def", 3, 0);
    inspect_stream(f, (const uint8_t *)"def", 0, 3, 3, 0);
    cr_expect_eq(counts().rules_evaluated, 1, "without a gap the halves meet");
    canh_nids_stream(mt, f, 0, (const uint8_t *)"abc", 3, 0);
    inspect_stream(f, (const uint8_t *)"abc", 0, 3, 3, 0);
    canh_nids_stream(mt, f, 0, (const uint8_t *)"def", 3, CANH_STREAM_GAP);
    got_t g = inspect_stream(f, (const uint8_t *)"def", 0, 3, 3, 0);
    cr_expect(!has(&g, 1));
    cr_expect_eq(counts().rules_evaluated, 1, "nothing spans a gap: not woken");
}

/* ---- waking ---- */

Test(nids_match, only_woken_rules_are_evaluated)
{
    char word[32];
    for (uint32_t i = 0; i < 200; i++) {
        snprintf(word, sizeof(word), "word%03u|", i);
        content(rule(i + 1, 0), word);
    }
    canh_nids_rule_t *r = rule(1000, 0);      /* two contents: woken by the longer */
    content(r, "ab");
    content(r, "abcdefgh");
    build();
    got_t g = inspect("... word042| ...");
    cr_expect_eq(g.n, 1);
    cr_expect(has(&g, 43));
    cr_expect_eq(counts().rules_evaluated, 1);
    g = inspect("ab ab ab");
    cr_expect_eq(g.n, 0);
    cr_expect_eq(counts().rules_evaluated, 1, "\"ab\" is not the fast pattern: nothing woken");
    g = inspect("abcdefgh");
    cr_expect(has(&g, 1000));
    cr_expect_eq(counts().rules_evaluated, 2);
}

Test(nids_match, explicit_fast_pattern_decides)
{
    canh_nids_rule_t *r = rule(1, 0);
    content(r, "User-Agent: ");
    canh_nids_m_t *m = content(r, "Bad");
    m->fast_pattern = 1;
    build();
    inspect("User-Agent: Good");
    cr_expect_eq(counts().rules_evaluated, 0, "woken only by its fast_pattern");
    got_t g = inspect("User-Agent: Bad");
    cr_expect(has(&g, 1));
}

/* ---- payload groups: what a packet's header lets it wake ---- */

static got_t to_port(uint8_t proto, uint16_t sport, uint16_t dport, const char *payload)
{
    canh_pkt_t p = pkt(proto, "192.168.1.2", sport, "10.0.0.1", dport);
    return inspect_full(&p, NULL, 0, payload, strlen(payload));
}

Test(nids_match, a_packet_wakes_only_the_rules_of_its_protocol_and_port)
{
    canh_nids_rule_t *r = rule(1, IPPROTO_TCP);
    ports(&r->dport, 445, 445, 0);
    content(r, "|ff|SMBr");
    r = rule(2, IPPROTO_TCP);
    ports(&r->dport, 80, 80, 0);
    content(r, "GET /x");
    r = rule(3, IPPROTO_UDP);
    /* distinct literals: rules that share one are woken together, whatever
     * their group, so the counts below show the groups alone */
    content(r, "GET /u");
    build();
    const char *both = "GET /x |ff|SMBr GET /u";
    got_t g = to_port(IPPROTO_TCP, 40000, 80, both);
    cr_expect(has(&g, 2) && g.n == 1);
    cr_expect_eq(counts().rules_evaluated, 1, "the port 445 and UDP rules are not woken on 80");
    g = to_port(IPPROTO_TCP, 40000, 445, both);
    cr_expect(has(&g, 1) && g.n == 1);
    cr_expect_eq(counts().rules_evaluated, 2);
    g = to_port(IPPROTO_UDP, 40000, 445, both);
    cr_expect(has(&g, 3) && g.n == 1);
    cr_expect_eq(counts().rules_evaluated, 3);
    g = to_port(IPPROTO_TCP, 40000, 8080, both);
    cr_expect_eq(g.n, 0);
    cr_expect_eq(counts().rules_evaluated, 3, "no rule names 8080");
}

Test(nids_match, groups_follow_the_flow_direction_and_both_ways_rules)
{
    canh_nids_rule_t *r = rule(1, IPPROTO_TCP);      /* any 80 -> any any, to_client */
    ports(&r->sport, 80, 80, 0);
    r->flow = CANH_NF_TO_CLIENT;
    content(r, "HTTP/1.1 200");
    r = rule(2, IPPROTO_TCP);                         /* any 1000 <> any 6667 */
    ports(&r->sport, 1000, 1000, 0);
    ports(&r->dport, 6667, 6667, 0);
    r->bidirectional = 1;
    content(r, "NICK ");
    build();
    canh_flow_t *f = flow_new(CANH_FLOW_ESTABLISHED);
    canh_pkt_t p = pkt(IPPROTO_TCP, "10.0.0.1", 80, "192.168.1.2", 40000);
    got_t g = inspect_full(&p, f, 1, "HTTP/1.1 200 OK", 15);
    cr_expect(has(&g, 1), "to the client, from the server's port 80");
    p = pkt(IPPROTO_TCP, "192.168.1.2", 40000, "10.0.0.1", 80);
    uint64_t before = counts().rules_evaluated;
    g = inspect_full(&p, f, 0, "HTTP/1.1 200 OK", 15);
    cr_expect_eq(g.n, 0);
    cr_expect_eq(counts().rules_evaluated, before, "a to_client rule is not in the server's group");
    /* the <> rule, the way it is written and the other way */
    g = to_port(IPPROTO_TCP, 1000, 6667, "NICK bob");
    cr_expect(has(&g, 2));
    g = to_port(IPPROTO_TCP, 6667, 1000, "NICK bob");
    cr_expect(has(&g, 2), "<>: from 6667 to 1000 too");
    g = to_port(IPPROTO_TCP, 6667, 1001, "NICK bob");
    cr_expect(!has(&g, 2));
}

Test(nids_match, more_ports_than_groups_share_one_and_still_match)
{
    char word[32];
    for (uint32_t i = 0; i < 100; i++) {     /* more named ports than groups of their own */
        canh_nids_rule_t *r = rule(i + 1, IPPROTO_TCP);
        ports(&r->dport, (uint16_t)(2000 + i), (uint16_t)(2000 + i), 0);
        snprintf(word, sizeof(word), "cmd%03u!", i);
        content(r, word);
    }
    canh_nids_rule_t *r = rule(500, IPPROTO_TCP);     /* a range: broad */
    ports(&r->dport, 1024, 65535, 0);
    content(r, "anyhigh");
    content(rule(501, IPPROTO_TCP), "anyport");
    build();
    for (uint32_t i = 0; i < 100; i++) {
        snprintf(word, sizeof(word), "cmd%03u! anyhigh anyport", i);
        got_t g = to_port(IPPROTO_TCP, 40000, (uint16_t)(2000 + i), word);
        cr_expect(has(&g, i + 1) && has(&g, 500) && has(&g, 501) && g.n == 3, "port %u", 2000 + i);
        g = to_port(IPPROTO_TCP, 40000, (uint16_t)(2000 + (i + 1) % 100), word);
        cr_expect(!has(&g, i + 1), "port %u's rule on another port", 2000 + i);
    }
    got_t g = to_port(IPPROTO_TCP, 40000, 9999, "cmd000! anyhigh anyport");
    cr_expect(has(&g, 500) && has(&g, 501) && g.n == 2);
    g = to_port(IPPROTO_TCP, 40000, 25, "cmd000! anyhigh anyport");
    cr_expect(has(&g, 501) && g.n == 1);
}

/* A port rule's one-byte fast pattern (ET's RDP |03|) wakes it on its port
 * only: other ports' packets do not pay for it. */
Test(nids_match, short_fast_pattern_of_a_port_rule_wakes_only_on_its_port)
{
    canh_nids_rule_t *r = rule(1, IPPROTO_TCP);
    ports(&r->dport, 3389, 3389, 0);
    canh_nids_m_t *m = item(r, CANH_NM_CONTENT, CANH_NB_PACKET, "\x03", 1);
    m->has_offset = m->has_depth = 1;
    m->offset = 0;
    m->depth = 1;
    build();
    got_t g = to_port(IPPROTO_TCP, 40000, 3389, "\x03\x01\x01\x13");
    cr_expect(has(&g, 1));
    g = to_port(IPPROTO_TCP, 40000, 3389, "x\x03");
    cr_expect(!has(&g, 1), "depth 1: only at the start");
    uint64_t before = counts().rules_evaluated;
    g = to_port(IPPROTO_TCP, 40000, 80, "\x03\x01\x01\x13");
    cr_expect_eq(g.n, 0);
    cr_expect_eq(counts().rules_evaluated, before, "not on another port");
}

/* A TCP packet whose payload ends the stream bytes just scanned takes the
 * stream scan's hits; one that does not (a retransmission of older bytes)
 * is scanned itself. */
Test(nids_match, packet_payload_scanned_unless_the_stream_scan_covered_it)
{
    content(rule(1, IPPROTO_TCP), "abcdef")->fast_pattern = 1;
    build();
    canh_flow_t *f = flow_new(CANH_FLOW_ESTABLISHED);
    const uint8_t *w = (const uint8_t *)"xxabcdef";
    canh_nids_stream(mt, f, 0, w, 8, 0);
    got_t g = inspect_stream(f, w, 0, 8, 6, 1);      /* the packet: the last 6 bytes */
    cr_expect(has(&g, 1) && g.n == 1);
    canh_nids_stream(mt, f, 0, (const uint8_t *)"zzzz", 4, 0);
    canh_nids_ctx_t c;
    memset(&c, 0, sizeof(c));
    canh_pkt_t p = pkt(IPPROTO_TCP, "10.0.0.2", 5000, "10.0.0.1", 80);
    p.payload = (const uint8_t *)"abcdef";
    p.plen = 6;
    c.pkt = &p;
    c.flow = f;
    c.buf[CANH_NB_PACKET].p = p.payload;
    c.buf[CANH_NB_PACKET].n = 6;
    c.buf[CANH_NB_STREAM].p = (const uint8_t *)"xxabcdefzzzz";
    c.buf[CANH_NB_STREAM].n = 12;
    c.stream_new = 4;
    g = (got_t){ .n = 0 };
    canh_nids_inspect(mt, &c, on_alert, &g);
    cr_expect(has(&g, 1), "an old segment again: its own bytes are scanned");
}

Test(nids_match, rule_without_content_runs_on_its_header)
{
    canh_nids_rule_t *r = rule(1, IPPROTO_UDP);
    ports(&r->dport, 53, 53, 0);
    rule(2, IPPROTO_TCP);
    build();
    canh_pkt_t p = pkt(IPPROTO_UDP, "10.0.0.2", 5000, "10.0.0.1", 53);
    got_t g = inspect_full(&p, NULL, 0, "", 0);
    cr_expect(has(&g, 1) && !has(&g, 2));
}

Test(nids_match, app_buffers_and_app_protocol)
{
    canh_nids_rule_t *r = rule(1, IPPROTO_TCP);
    r->app = CANH_APP_HTTP;
    content_in(r, CANH_NB_HTTP_URI, "/admin")->nocase = 1;
    content_in(r, CANH_NB_HTTP_METHOD, "POST");
    r = rule(2, IPPROTO_TCP);                 /* payload only: not on a transaction */
    content(r, "/admin");
    build();
    canh_pkt_t p = pkt(IPPROTO_TCP, "10.0.0.2", 5000, "10.0.0.1", 80);
    canh_app_tx_t tx;
    memset(&tx, 0, sizeof(tx));
    tx.proto = CANH_APP_HTTP;
    canh_nids_ctx_t c;
    memset(&c, 0, sizeof(c));
    c.pkt = &p;
    c.tx = &tx;
    c.buf[CANH_NB_HTTP_URI].p = (const uint8_t *)"/ADMIN/x";
    c.buf[CANH_NB_HTTP_URI].n = 8;
    c.buf[CANH_NB_HTTP_METHOD].p = (const uint8_t *)"POST";
    c.buf[CANH_NB_HTTP_METHOD].n = 4;
    got_t g = { .n = 0 };
    canh_nids_inspect(mt, &c, on_alert, &g);
    cr_expect(has(&g, 1) && !has(&g, 2));
    tx.proto = CANH_APP_TLS;
    g.n = 0;
    canh_nids_inspect(mt, &c, on_alert, &g);
    cr_expect(!has(&g, 1), "an http rule does not see another protocol");
    tx.proto = CANH_APP_HTTP;
    c.buf[CANH_NB_HTTP_METHOD].p = (const uint8_t *)"GET";
    c.buf[CANH_NB_HTTP_METHOD].n = 3;
    g.n = 0;
    canh_nids_inspect(mt, &c, on_alert, &g);
    cr_expect(!has(&g, 1));
    c.buf[CANH_NB_HTTP_METHOD].p = NULL;
    g.n = 0;
    canh_nids_inspect(mt, &c, on_alert, &g);
    cr_expect(!has(&g, 1), "a buffer the ctx does not set is not matched");
}

Test(nids_match, pass_rule_silences_the_packet)
{
    content(rule(1, 0), "evil");
    canh_nids_rule_t *r = rule(2, 0);
    content(r, "trusted");
    r->action = CANH_NA_PASS;
    build();
    got_t g = inspect("evil");
    cr_expect(has(&g, 1));
    g = inspect("evil but trusted");
    cr_expect_eq(g.n, 0);
}

/* ---- rules as written (through the parser) ---- */

static void parsed(const char *text)
{
    static canh_nids_vars_t *vars;
    if (!vars)
        vars = canh_nids_vars_default();
    size_t before = rv.n;
    canh_nids_parse_rule(text, "test.rules", 1, vars, &rv, on_refuse, NULL);
    cr_assert_eq(rv.n, before + 1, "the parser refused: %s", text);
}

Test(nids_match, written_rules_match_as_suricata_would)
{
    parsed("alert tcp $EXTERNAL_NET any -> $HOME_NET 80 (msg:\"uri probe\"; "
           "flow:established,to_server; content:\"GET \"; depth:4; "
           "content:\"/etc/passwd\"; distance:0; nocase; sid:100; rev:1;)");
    parsed("alert tcp any any -> any any (msg:\"hex\"; content:\"|de ad|be|ef|\"; sid:101;)");
    parsed("alert tcp any any -> any any (msg:\"pcre\"; content:\"user=\"; "
           "pcre:\"/^[a-z]{3,}[0-9]+/R\"; sid:102;)");
    build();
    canh_flow_t *f = flow_new(CANH_FLOW_ESTABLISHED);
    canh_pkt_t p = pkt(IPPROTO_TCP, "8.8.8.8", 40000, "192.168.1.10", 80);
    const char *req = "GET /../../ETC/PASSWD HTTP/1.0";
    got_t g = inspect_full(&p, f, 0, req, strlen(req));
    cr_expect(has(&g, 100));
    g = inspect_full(&p, f, 1, req, strlen(req));
    cr_expect(!has(&g, 100), "to_server only");
    canh_pkt_t q = pkt(IPPROTO_TCP, "192.168.1.11", 40000, "192.168.1.10", 80);
    g = inspect_full(&q, f, 0, req, strlen(req));
    cr_expect(!has(&g, 100), "the source is not $EXTERNAL_NET");
    g = inspect_bytes("\xde\xad" "be\xef", 5);
    cr_expect(has(&g, 101));
    g = inspect("user=bob42");
    cr_expect(has(&g, 102));
    g = inspect("user=42bob");
    cr_expect(!has(&g, 102));
}

Test(nids_match, written_flowbits_and_threshold)
{
    parsed("alert tcp any any -> any any (msg:\"login\"; content:\"LOGIN\"; "
           "flowbits:set,auth; flowbits:noalert; sid:200;)");
    parsed("alert tcp any any -> any any (msg:\"after login\"; content:\"DELE\"; "
           "flowbits:isset,auth; threshold:type limit, track by_src, count 1, seconds 60; "
           "sid:201;)");
    build();
    canh_flow_t *f = flow_new(CANH_FLOW_ESTABLISHED);
    canh_pkt_t p = pkt(IPPROTO_TCP, "10.0.0.2", 5000, "10.0.0.1", 143);
    got_t g = inspect_full(&p, f, 0, "DELE 1", 6);
    cr_expect_eq(g.n, 0);
    g = inspect_full(&p, f, 0, "LOGIN x", 7);
    cr_expect_eq(g.n, 0);
    g = inspect_full(&p, f, 0, "DELE 1", 6);
    cr_expect(has(&g, 201));
    g = inspect_full(&p, f, 0, "DELE 2", 6);
    cr_expect(!has(&g, 201), "limit 1 per 60 s");
}

/* ---- the compiled-database cache ---- */

Test(nids_match, second_build_loads_the_databases_from_the_cache)
{
    char dir[] = "/tmp/canh-nids-cache-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char sub[sizeof(dir) + 8];
    snprintf(sub, sizeof(sub), "%s/c", dir);
    canh_nids_info_t info[2];
    for (int round = 0; round < 2; round++) {
        content(rule(1, IPPROTO_TCP), "cached|")->nocase = 1;
        content_in(rule(2, IPPROTO_TCP), CANH_NB_HTTP_HOST, "example.org");
        char err[256] = "";
        canh_nids_opts_t o = { .cache_dir = sub };
        cr_assert_eq(canh_nids_build(&set, &rv, &o, on_refuse, NULL, err, sizeof(err)), CANH_OK,
                     "%s", err);
        mt = canh_nids_matcher_new(set, err, sizeof(err));
        cr_assert_not_null(mt, "%s", err);
        canh_nids_info(set, &info[round]);
        got_t g = inspect("a CACHED| b");
        cr_expect(has(&g, 1), "round %d", round);
        teardown();
    }
    cr_expect_eq(info[0].databases, 3, "payload block + stream, http.host");
    cr_expect_eq(info[0].cache_hits, 0);
    cr_expect_eq(info[1].cache_hits, 3);
    cr_expect_eq(info[1].cache_refused, 0);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    cr_expect_eq(system(cmd), 0);
}

/* The streaming scan is seen through rules_evaluated: a STREAM buffer given
 * without its look-back cannot show a split pattern to a block scan, but the
 * flow's Hyperscan stream saw both halves and wakes the rule. */
Test(nids_match, streaming_scan_wakes_what_the_buffer_alone_does_not_show)
{
    content(rule(1, IPPROTO_TCP), "payload-x");
    build();
    canh_flow_t *f = flow_new(CANH_FLOW_ESTABLISHED);
    const uint8_t *s = (const uint8_t *)"payload-x";
    canh_nids_stream(mt, f, 0, s, 4, 0);
    inspect_stream(f, s, 0, 4, 4, 0);
    cr_expect_eq(counts().rules_evaluated, 0);
    canh_nids_stream(mt, f, 0, s + 4, 5, 0);
    /* an app transaction of the flow is inspected in between */
    canh_app_tx_t tx;
    memset(&tx, 0, sizeof(tx));
    tx.proto = CANH_APP_HTTP;
    canh_nids_ctx_t c;
    memset(&c, 0, sizeof(c));
    c.flow = f;
    c.tx = &tx;
    c.buf[CANH_NB_HTTP_URI].p = (const uint8_t *)"/";
    c.buf[CANH_NB_HTTP_URI].n = 1;
    canh_nids_inspect(mt, &c, on_alert, &(got_t){ .n = 0 });
    got_t g = inspect_stream(f, s, 4, 5, 5, 0);     /* "oad-x" only */
    cr_expect_eq(counts().rules_evaluated, 1, "woken by the flow's stream scan");
    cr_expect_eq(g.n, 0, "not confirmed: the buffer lacks the first half");
    /* the same bytes without the streaming scan: nothing wakes */
    g = inspect_stream(f, s, 4, 5, 5, 0);
    cr_expect_eq(counts().rules_evaluated, 1);
}

Test(nids_match, pcre_over_its_match_limit_is_counted_as_no_match)
{
    pcre(rule(1, 0), "^(a+)+$", 0, 0);
    build();
    char in[64];
    memset(in, 'a', 40);
    strcpy(in + 40, "b");
    got_t g = inspect(in);
    cr_expect_eq(g.n, 0);
    cr_expect_eq(counts().pcre2_limit, 1);
}

Test(nids_match, a_rule_matches_a_transaction_once_though_it_is_given_again)
{
    canh_nids_rule_t *r = rule(1, 0);
    content_in(r, CANH_NB_HTTP_METHOD, "POST");
    r = rule(2, 0);
    content_in(r, CANH_NB_HTTP_REQUEST_BODY, "secret");
    build();
    canh_flow_t *f = flow_new(CANH_FLOW_ESTABLISHED);
    canh_app_tx_t tx;
    memset(&tx, 0, sizeof(tx));
    tx.proto = CANH_APP_HTTP;
    canh_nids_ctx_t c;
    memset(&c, 0, sizeof(c));
    c.flow = f;
    c.tx = &tx;
    c.tx_id = 1;
    c.buf[CANH_NB_HTTP_METHOD].p = (const uint8_t *)"POST";
    c.buf[CANH_NB_HTTP_METHOD].n = 4;
    c.buf[CANH_NB_HTTP_REQUEST_BODY].p = (const uint8_t *)"a=";
    c.buf[CANH_NB_HTTP_REQUEST_BODY].n = 2;
    got_t g = { .n = 0 };
    canh_nids_inspect(mt, &c, on_alert, &g);          /* the headers */
    cr_expect(has(&g, 1) && !has(&g, 2));
    c.buf[CANH_NB_HTTP_REQUEST_BODY].p = (const uint8_t *)"a=secret";
    c.buf[CANH_NB_HTTP_REQUEST_BODY].n = 8;
    g.n = 0;
    canh_nids_inspect(mt, &c, on_alert, &g);          /* the same request, its body in */
    cr_expect(!has(&g, 1), "matched this transaction already");
    cr_expect(has(&g, 2), "the body's rule matches now");
    c.tx_id = 2;
    g.n = 0;
    canh_nids_inspect(mt, &c, on_alert, &g);          /* the next request */
    cr_expect(has(&g, 1) && has(&g, 2));
    c.tx_id = 0;
    g.n = 0;
    canh_nids_inspect(mt, &c, on_alert, &g);
    canh_nids_inspect(mt, &c, on_alert, &g);
    cr_expect_eq(g.n, 4, "no transaction number: each inspection stands alone");
}
