/*
 * engine/detect/nids_match.c -- network rules on Hyperscan: the build and
 * the evaluation of a woken rule.
 *
 * Build (one thread and, for the payload groups' databases, a helper;
 * then immutable and shared): the fast pattern of every rule goes into one
 * Hyperscan literal database per app buffer list (identical literals
 * shared; the rule's other contents are confirmed when it is woken, as
 * Suricata's MPM does: see the build loop for why). The payload list
 * (contents with no sticky buffer, or pkt_data) is split into payload
 * groups (pgroup_t, Suricata's signature group heads): by protocol class,
 * direction and server port, each group's literals in a block database for
 * PACKET and, for TCP, a streaming one for STREAM (a pattern split across
 * TCP segments still hits). Each rule has one fast pattern (its
 * fast_pattern, else Suricata's choice: the buffer of highest priority,
 * then the longest content, then the strongest, then the first); a hit of
 * a fast pattern wakes the rules it belongs to. Rules with no non-negated
 * content are evaluated on every inspection their header admits (listed
 * per payload group). PCRE2 patterns are compiled (JIT) here.
 *
 * Inspection (a worker, per packet or app transaction): the buffers the
 * ctx sets are scanned, the payload with its group's database (the
 * Hyperscan callback only records pattern ids; a TCP packet whose bytes the
 * stream scan just covered takes its hits),
 * the woken and always-evaluated rules are checked in order (flowbit
 * setters before readers, as Suricata orders them): header (proto, app
 * protocol, addresses and ports in the rule's direction, flow, dsize),
 * flowbits, then the contents and pcre of each buffer with Suricata's
 * semantics (offset/depth from the buffer start, distance/within after the
 * previous match of the same buffer, backtracking over earlier positions
 * when a later relative item fails). Matches apply their flowbit actions;
 * threshold / detection_filter (per matcher: see threshold below) decide
 * whether they alert; alerts go out in rule-set order.
 *
 * A packet inspection is one with ctx->tx == NULL: payload rules and rules
 * with no content run there; rules on app buffers run when the ctx sets
 * every buffer they use (transactions).
 *
 * Per-flow state (flowbits, the two Hyperscan streams) lives in the flow's
 * CANH_FLOW_EXT_DETECT slot, owned by the flow's worker; it is reset when
 * the flow meets a rule set other than the one that made it (a reload).
 */
#include "nids.h"
#include "../canh.h"
#include "hs_cache.h"

#include <hs/hs.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#define NLISTS          CANH_NB__COUNT
#define EVAL_BUDGET     3000u       /* content/pcre steps per rule evaluation: Suricata's
                                       inspection-recursion-limit (3000 by default); with
                                       200,000, one file_data rule of ET Open (sid 2025185:
                                       nested relative contents and pcre) took 23 s of CPU
                                       over 73 inflated 64 KB bodies of the bench capture */
#define THR_SLOTS       16384u      /* threshold entries per matcher (power of 2) */
#define THR_PROBE       16u
#define JIT_STACK_MIN   (32 * 1024)
#define JIT_STACK_MAX   (1024 * 1024)

/* ------------------------------------------------------------------ */
/* the compiled form                                                   */

typedef struct blist {              /* the literals of one buffer list */
    uint32_t npat;
    const uint8_t **pbytes;         /* borrowed from the rules' contents */
    size_t *plen;
    uint8_t *pnocase;
    uint32_t *wk_off;               /* npat + 1: rules woken by pattern i are */
    uint32_t *wk;                   /* wk[wk_off[i] .. wk_off[i+1]) */
    hs_database_t *db;              /* block mode */
    hs_database_t *sdb;             /* streaming mode (the payload list only) */
} blist_t;

typedef struct rlist {              /* one buffer list of a rule: its items in order */
    uint8_t list;
    uint16_t start, n;              /* into rinfo.mi */
    uint16_t rstart, nreq;          /* into rinfo.req: pattern ids that must all hit
                                       (the fast pattern, on its list) */
} rlist_t;

typedef struct rinfo {
    uint8_t off;                    /* refused at build */
    uint8_t always;                 /* no fast pattern: evaluated whenever the header admits */
    uint8_t payload;                /* has payload items (PACKET or STREAM) */
    uint8_t app_lists;              /* has items on app buffers */
    uint8_t packet_only;            /* dsize or flow:no_stream: PACKET, never STREAM */
    uint8_t sets_bits, reads_bits;
    uint8_t nl;
    uint8_t fpl;                    /* the fast pattern's list (with a fast pattern) */
    rlist_t l[8];                   /* lists used (more are refused) */
    uint16_t *mi;                   /* item indices, grouped by list */
    uint32_t *req;
    pcre2_code **rx;                /* per item: its pcre (NULL for content) */
} rinfo_t;

/*
 * Payload groups (Suricata's signature group heads, for the payload list):
 * a packet or a stream direction scans only the fast patterns of the rules
 * its header can satisfy. The key is what the header check (header_ok,
 * flow_ok) reads first: the protocol class (TCP, UDP, ICMP, other), the
 * direction (0 to the server, 1 to the client: flow:to_server/to_client
 * rules are in one only) and, for TCP and UDP, the server's port (the
 * destination port to the server, the source port to the client; a flow's
 * server port in both directions). A group holds every rule whose ports
 * admit that port on the side the direction puts it (either side for <>),
 * so a group is a superset of the rules that can match: the rules are still
 * checked in full when woken. Ports are split into the intervals no rule's
 * port list cuts; intervals with the same rule set share a group, the
 * GROUPS_* biggest sets per class and direction get their own database and
 * the rest share one (their union), so the number of databases is bounded.
 */
#define NCLASS          4           /* TCP, UDP, ICMP (v4 and v6), other */
#define GROUPS_TOSERVER 24          /* own groups per class, direction 0 ... */
#define GROUPS_TOCLIENT 16          /* ... and direction 1 (besides "no port rule" and the rest) */
#define GROUP_BITS_MAX  (32u << 20) /* 64-bit words of the interval x rule table */

typedef struct pgroup {
    uint32_t npat;
    uint32_t nalways;
    uint32_t *always;               /* ranks, ascending: its rules with no fast pattern */
    hs_database_t *db;              /* block mode, PACKET */
    hs_database_t *sdb;             /* streaming mode, STREAM (TCP groups) */
    uint32_t *ids;                  /* its pattern ids, ascending (build: same sets shared) */
    uint64_t h, ha;                 /* hashes of ids and of always */
    uint8_t borrowed;               /* db and sdb are group owner's (same patterns) */
    uint8_t need_stream;            /* build: a TCP group, sdb wanted */
    uint32_t owner;
} pgroup_t;

struct canh_nids {
    canh_nids_rulevec_t rv;         /* the rules, owned */
    pgroup_t *grp;                  /* payload groups */
    uint32_t ngrp;
    uint16_t *gport[2][2];          /* TCP, UDP x direction: server port -> group */
    uint16_t gfix[NCLASS][2];       /* ICMP, other x direction: the group */
    uint32_t nrules, nloaded;
    rinfo_t *ri;
    uint32_t *by_rank;              /* evaluation order: rank -> rule index */
    uint32_t *rank;                 /* rule index -> rank */
    uint32_t *always;               /* ranks of always-evaluated rules, ascending */
    uint32_t nalways;
    blist_t bl[NLISTS];
    uint32_t nbits;
    uint32_t match_limit, depth_limit;  /* PCRE2, for the matchers */
    canh_nids_info_t info;
    uint64_t serial;                /* per-flow state made for another set is reset */
    size_t bytes;
};

static _Atomic uint64_t build_serial = 1;

/* the list an item's buffer belongs to: STREAM items are payload items */
static int list_of(int buffer)
{
    return buffer == CANH_NB_STREAM ? CANH_NB_PACKET : buffer;
}

/* ------------------------------------------------------------------ */
/* per-flow state                                                      */

#define TX_RULES 32                 /* rules remembered as matched on a transaction */

typedef struct dstate {
    uint64_t serial;
    hs_stream_t *hs[2];
    uint16_t hsg[2];                /* the payload database (group owner) of hs[d] */
    uint64_t tx_id[2];              /* the two transactions last inspected (an HTTP request
                                       and its response share one: either may come
                                       first of a pipelined pair) ... */
    uint32_t ntx[2];                /* ... and the rules that matched each (a rule matches a */
    uint32_t txr[2][TX_RULES];      /* transaction once; past TX_RULES: not remembered) */
    uint32_t nwords;
    uint64_t bits[];
} dstate_t;

void canh_nids_flow_free(void *p)
{
    dstate_t *s = p;
    if (!s)
        return;
    for (int d = 0; d < 2; d++)
        if (s->hs[d])
            hs_close_stream(s->hs[d], NULL, NULL, NULL);
    free(s);
}

/* ------------------------------------------------------------------ */
/* the matcher                                                         */

typedef struct thr {                /* threshold / detection_filter state */
    uint32_t rule1;                 /* rule index + 1; 0: free */
    uint32_t count;
    int64_t start_us;
    uint8_t key[33];
} thr_t;

struct canh_nids_matcher {
    const canh_nids_t *n;
    hs_scratch_t *scratch;
    hs_stream_t **tmp_stream;       /* per payload database (owner group): STREAM scanned without
                                       canh_nids_stream first */
    uint32_t *stamp[NLISTS];        /* per scan slot: pattern id -> gen of its last hit */
    uint32_t gen[NLISTS];
    uint32_t *hitp[NLISTS];         /* pattern ids hit in the slot's current scan */
    uint32_t nhitp[NLISTS];
    uint8_t scanned[NLISTS];        /* this inspection's scans */
    uint32_t *rstamp, rgen;         /* candidate dedupe */
    uint32_t *cand, ncand;
    uint32_t *hits, nhits;
    /* stream hits recorded by canh_nids_stream for the next inspection */
    const canh_flow_t *pend_flow;
    int pend_dir, pend;
    uint64_t pend_tail;             /* bytes at the end of them scanned without a break */
    pcre2_match_data *md;
    pcre2_match_context *mctx;
    pcre2_jit_stack *jstack;
    thr_t *thr;
    canh_nids_counts_t c;
};

/* ------------------------------------------------------------------ */
/* build                                                               */

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || !errlen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static void refuse_rule(canh_refuse_fn refuse, void *ud, const canh_nids_rule_t *r,
                        const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void refuse_rule(canh_refuse_fn refuse, void *ud, const canh_nids_rule_t *r,
                        const char *fmt, ...)
{
    char why[300], id[32];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    snprintf(id, sizeof(id), "sid:%u", r->sid);
    if (refuse)
        refuse(ud, r->file ? r->file : "", (int)r->line, id, why);
}

/* Suricata's "pattern strength": a byte not seen before in the pattern
 * scores 3 (a letter), 4 (printable, NUL, 0x01, 0xff) or 6, a repeat 1. */
static uint32_t pattern_strength(const uint8_t *p, size_t n)
{
    uint8_t seen[256] = { 0 };
    uint32_t s = 0;
    for (size_t i = 0; i < n; i++) {
        uint8_t c = p[i];
        if (seen[c]) {
            s++;
            continue;
        }
        seen[c] = 1;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
            s += 3;
        else if ((c >= 0x20 && c < 0x7f) || c == 0 || c == 1 || c == 0xff)
            s += 4;
        else
            s += 6;
    }
    return s;
}

/* Fast-pattern priority of a buffer (higher wins): application buffers
 * over the payload, http.method under it (Suricata's table). */
static int list_priority(int list)
{
    if (list == CANH_NB_HTTP_METHOD)
        return 0;
    if (list == CANH_NB_PACKET)
        return 1;
    return 2;
}

/* The item that wakes the rule, or -1: rule has no non-negated content. */
static int choose_fast_pattern(const canh_nids_rule_t *r)
{
    int best = -1;
    for (size_t i = 0; i < r->nm; i++) {
        const canh_nids_m_t *c = &r->m[i];
        if (c->kind == CANH_NM_CONTENT && c->fast_pattern && !c->negated && c->len)
            return (int)i;
    }
    for (size_t i = 0; i < r->nm; i++) {
        const canh_nids_m_t *c = &r->m[i];
        if (c->kind != CANH_NM_CONTENT || c->negated || !c->len)
            continue;
        if (best < 0) {
            best = (int)i;
            continue;
        }
        const canh_nids_m_t *b = &r->m[best];
        int pc = list_priority(list_of(c->buffer)), pb = list_priority(list_of(b->buffer));
        if (pc != pb) {
            if (pc > pb)
                best = (int)i;
            continue;
        }
        if (c->len != b->len) {
            if (c->len > b->len)
                best = (int)i;
            continue;
        }
        uint32_t sc = pattern_strength(c->bytes, c->len), sb = pattern_strength(b->bytes, b->len);
        if (sc != sb) {
            if (sc > sb)
                best = (int)i;
            continue;
        }
        if (list_of(c->buffer) > list_of(b->buffer))   /* the later registered buffer */
            best = (int)i;
    }
    return best;
}

/* distinct literals of one list, by (nocase, bytes) */
typedef struct pmap {
    uint32_t *slot;                 /* pattern id + 1; 0: free */
    uint32_t cap;
} pmap_t;

static uint64_t lit_hash(const uint8_t *p, size_t n, int nocase)
{
    uint64_t h = 1469598103934665603ull ^ (uint64_t)nocase;
    for (size_t i = 0; i < n; i++) {
        uint8_t c = p[i];
        if (nocase && c >= 'A' && c <= 'Z')
            c += 32;
        h = (h ^ c) * 1099511628211ull;
    }
    return h;
}

static int lit_eq(const uint8_t *a, const uint8_t *b, size_t n, int nocase)
{
    if (!nocase)
        return memcmp(a, b, n) == 0;
    for (size_t i = 0; i < n; i++) {
        uint8_t x = a[i], y = b[i];
        if (x >= 'A' && x <= 'Z')
            x += 32;
        if (y >= 'A' && y <= 'Z')
            y += 32;
        if (x != y)
            return 0;
    }
    return 1;
}

/* The pattern id of c's literal in list bl (added if new), or -1: ENOMEM. */
static int64_t pat_intern(blist_t *bl, pmap_t *pm, uint32_t *cap, const canh_nids_m_t *c)
{
    if (bl->npat * 2 + 2 > pm->cap) {
        uint32_t ncap = pm->cap ? pm->cap * 2 : 1024;
        uint32_t *ns = calloc(ncap, sizeof(*ns));
        if (!ns)
            return -1;
        for (uint32_t i = 0; i < pm->cap; i++) {
            if (!pm->slot[i])
                continue;
            uint32_t id = pm->slot[i] - 1;
            uint64_t h = lit_hash(bl->pbytes[id], bl->plen[id], bl->pnocase[id]);
            uint32_t j = (uint32_t)h & (ncap - 1);
            while (ns[j])
                j = (j + 1) & (ncap - 1);
            ns[j] = pm->slot[i];
        }
        free(pm->slot);
        pm->slot = ns;
        pm->cap = ncap;
    }
    int nocase = c->nocase ? 1 : 0;
    uint64_t h = lit_hash(c->bytes, c->len, nocase);
    uint32_t j = (uint32_t)h & (pm->cap - 1);
    for (; pm->slot[j]; j = (j + 1) & (pm->cap - 1)) {
        uint32_t id = pm->slot[j] - 1;
        if (bl->plen[id] == c->len && bl->pnocase[id] == nocase &&
            lit_eq(bl->pbytes[id], c->bytes, c->len, nocase))
            return id;
    }
    if (bl->npat == *cap) {
        uint32_t nc = *cap ? *cap * 2 : 256;
        const uint8_t **nb = realloc(bl->pbytes, nc * sizeof(*nb));
        if (!nb)
            return -1;
        bl->pbytes = nb;
        size_t *nl = realloc(bl->plen, nc * sizeof(*nl));
        if (!nl)
            return -1;
        bl->plen = nl;
        uint8_t *nn = realloc(bl->pnocase, nc);
        if (!nn)
            return -1;
        bl->pnocase = nn;
        *cap = nc;
    }
    uint32_t id = bl->npat++;
    bl->pbytes[id] = c->bytes;
    bl->plen[id] = c->len;
    bl->pnocase[id] = (uint8_t)nocase;
    pm->slot[j] = id + 1;
    return id;
}

/* The literals sel[0..nsel) of list bl (pattern ids; NULL: all of them)
 * in one database of the mode, the ids kept (from the cache when it has it). */
static int compile_lits(const blist_t *bl, const uint32_t *sel, uint32_t nsel, unsigned mode,
                        hs_database_t **db, canh_hs_cache_t *cache, char *err, size_t errlen,
                        int list)
{
    *db = NULL;
    if (!sel)
        nsel = bl->npat;
    if (!nsel)
        return CANH_OK;
    unsigned *flags = malloc(nsel * sizeof(*flags));
    unsigned *ids = malloc(nsel * sizeof(*ids));
    const char **pb = malloc(nsel * sizeof(*pb));
    size_t *pl = malloc(nsel * sizeof(*pl));
    if (!flags || !ids || !pb || !pl) {
        free(flags);
        free(ids);
        free(pb);
        free(pl);
        set_err(err, errlen, "out of memory compiling network rules");
        return CANH_ENOMEM;
    }
    for (uint32_t i = 0; i < nsel; i++) {
        uint32_t id = sel ? sel[i] : i;
        flags[i] = (bl->pnocase[id] ? HS_FLAG_CASELESS : 0) |
                   (mode == HS_MODE_BLOCK ? HS_FLAG_SINGLEMATCH : 0);
        ids[i] = id;
        pb[i] = (const char *)bl->pbytes[id];
        pl[i] = bl->plen[id];
    }
    unsigned char key[32];
    char hex[65];
    *db = canh_hs_cache_load(cache,
                             mode == HS_MODE_BLOCK ? CANH_HS_CACHE_LIT_BLOCK
                                                   : CANH_HS_CACHE_LIT_STREAM,
                             pb, pl, flags, ids, nsel, key, hex);
    hs_compile_error_t *ce = NULL;
    hs_error_t he = HS_SUCCESS;
    if (!*db) {
        he = hs_compile_lit_multi(pb, flags, ids, pl, nsel, mode, NULL, db, &ce);
        if (he == HS_SUCCESS)
            canh_hs_cache_store(cache, key, hex, *db);
    }
    free(flags);
    free(ids);
    free(pb);
    free(pl);
    if (he != HS_SUCCESS) {
        set_err(err, errlen, "Hyperscan cannot compile the %s contents of the network rules: %s",
                canh_nids_buffer_name(list), ce && ce->message ? ce->message : "error");
        hs_free_compile_error(ce);
        *db = NULL;
        return CANH_EINVAL;
    }
    return CANH_OK;
}

/* ------------------------------------------------------------------ */
/* payload groups (see pgroup_t)                                       */

/* The class of a protocol (e->ok 0: nothing known, "other"). */
static int pclass(int ok, uint8_t proto)
{
    if (!ok)
        return 3;
    if (proto == IPPROTO_TCP)
        return 0;
    if (proto == IPPROTO_UDP)
        return 1;
    if (proto == IPPROTO_ICMP || proto == IPPROTO_ICMPV6)
        return 2;
    return 3;
}

/* Can r pass header_ok and flow_ok for some inspection of class c and
 * direction d (its ports aside, for TCP and UDP)? */
static int rule_in_class(const canh_nids_rule_t *r, int c, int d)
{
    if ((r->flow & CANH_NF_TO_SERVER) && d != 0)
        return 0;
    if ((r->flow & CANH_NF_TO_CLIENT) && d != 1)
        return 0;
    switch (c) {
    case 0: return !r->proto || r->proto == IPPROTO_TCP;
    case 1: return !r->proto || r->proto == IPPROTO_UDP;
    case 2:
        if (r->proto && r->proto != IPPROTO_ICMP)
            return 0;
        break;
    default:
        if (r->proto == IPPROTO_TCP || r->proto == IPPROTO_UDP || r->proto == IPPROTO_ICMP)
            return 0;
        break;
    }
    return r->sport.any && r->dport.any;   /* no ports there: a port list never matches */
}

/* The port lists that must admit the server port for direction d: the
 * destination's to the server, the source's to the client; with <> the
 * other side's too (either way of the rule). */
static void rule_ports(const canh_nids_rule_t *r, int d, const canh_nids_ports_t **a,
                       const canh_nids_ports_t **b)
{
    *a = d == 0 ? &r->dport : &r->sport;
    *b = r->bidirectional ? (d == 0 ? &r->sport : &r->dport) : NULL;
}

static int rule_port_any(const canh_nids_rule_t *r, int d)
{
    const canh_nids_ports_t *a, *b;
    rule_ports(r, d, &a, &b);
    return a->any || (b && b->any);
}

/* A rule written for a few ports (a service: 445, [139,445], 6660:6669),
 * not a range such as 1024: that takes most of them: what makes a port's
 * group worth a database of its own. */
#define PORT_NARROW 64
static int port_narrow(const canh_nids_rule_t *r, int d)
{
    const canh_nids_ports_t *pl[2];
    rule_ports(r, d, &pl[0], &pl[1]);
    uint32_t n = 0;
    for (int s = 0; s < 2; s++)
        for (size_t j = 0; pl[s] && j < pl[s]->n; j++) {
            if (pl[s]->r[j].neg)
                return 0;
            n += (uint32_t)pl[s]->r[j].hi - pl[s]->r[j].lo + 1;
        }
    return n <= PORT_NARROW;
}

static int rule_port_match(const canh_nids_rule_t *r, int d, uint16_t port)
{
    const canh_nids_ports_t *a, *b;
    rule_ports(r, d, &a, &b);
    return canh_nids_ports_match(a, port) || (b && canh_nids_ports_match(b, port));
}

static int cmp_u32_asc(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

typedef struct gbuild {
    canh_nids_t *n;
    const int32_t *fp;
    canh_hs_cache_t *cache;
    uint32_t *pstamp, pgen;         /* pattern id -> gen: already in the group */
    uint32_t *sel;                  /* the group's pattern ids */
    uint32_t *asel;                 /* the group's rules with no fast pattern (ranks) */
    uint32_t gcap;
    char *err;
    size_t errlen;
} gbuild_t;

/* A group: the fast patterns of rules any[] and of rest[k] for the bits set
 * in pbits, the rules with no fast pattern of any[] and of rest[k] for the
 * bits set in abits (NULL: none). Its index, or -1 (err set). */
static int group_add(gbuild_t *g, int c, const uint32_t *any, uint32_t nany, const uint32_t *rest,
                     uint32_t nrest, const uint64_t *pbits, const uint64_t *abits)
{
    canh_nids_t *n = g->n;
    const blist_t *bl = &n->bl[CANH_NB_PACKET];
    if (n->ngrp == UINT16_MAX) {
        set_err(g->err, g->errlen, "too many payload groups");
        return -1;
    }
    if (n->ngrp == g->gcap) {
        uint32_t nc = g->gcap ? g->gcap * 2 : 32;
        pgroup_t *ng = realloc(n->grp, nc * sizeof(*ng));
        if (!ng)
            goto nomem;
        n->grp = ng;
        g->gcap = nc;
    }
    if (++g->pgen == 0) {
        memset(g->pstamp, 0, bl->npat * sizeof(uint32_t));
        g->pgen = 1;
    }
    uint32_t ns = 0, na = 0;
    for (uint32_t pass = 0; pass < 2; pass++) {
        const uint32_t *v = pass ? rest : any;
        uint32_t nv = pass ? nrest : nany;
        for (uint32_t k = 0; k < nv; k++) {
            const uint64_t *bits = g->fp[v[k]] < 0 ? abits : pbits;
            if (pass && !(bits && (bits[k / 64] >> (k % 64) & 1)))
                continue;
            if (g->fp[v[k]] < 0) {
                g->asel[na++] = n->rank[v[k]];
                continue;
            }
            uint32_t id = (uint32_t)g->fp[v[k]];
            if (g->pstamp[id] != g->pgen) {
                g->pstamp[id] = g->pgen;
                g->sel[ns++] = id;
            }
        }
    }
    /* sorted ids: the same set gives the same cache key whatever the rule order */
    qsort(g->sel, ns, sizeof(*g->sel), cmp_u32_asc);
    qsort(g->asel, na, sizeof(*g->asel), cmp_u32_asc);
    uint64_t h = lit_hash((const uint8_t *)g->sel, ns * sizeof(*g->sel), 0);
    uint64_t ha = lit_hash((const uint8_t *)g->asel, na * sizeof(*g->asel), 0);
    int32_t same = -1;                  /* a group of the same patterns */
    for (uint32_t k = 0; k < n->ngrp; k++) {
        pgroup_t *o = &n->grp[k];
        if (o->h != h || o->npat != ns || (ns && memcmp(o->ids, g->sel, ns * sizeof(*g->sel))))
            continue;
        if (c == 0)                     /* the databases' owner compiles the stream one too */
            n->grp[o->borrowed ? o->owner : k].need_stream = 1;
        if (o->ha == ha && o->nalways == na &&
            (!na || !memcmp(o->always, g->asel, na * sizeof(*g->asel))))
            return (int)k;              /* the same group */
        if (same < 0)
            same = o->borrowed ? (int32_t)o->owner : (int32_t)k;
    }
    pgroup_t *gr = &n->grp[n->ngrp];
    memset(gr, 0, sizeof(*gr));
    gr->npat = ns;
    gr->nalways = na;
    gr->h = h;
    gr->ha = ha;
    gr->ids = malloc((ns ? ns : 1) * sizeof(*gr->ids));
    gr->always = malloc((na ? na : 1) * sizeof(*gr->always));
    if (!gr->ids || !gr->always) {
        free(gr->ids);
        free(gr->always);
        goto nomem;
    }
    memcpy(gr->ids, g->sel, ns * sizeof(*g->sel));
    memcpy(gr->always, g->asel, na * sizeof(*g->asel));
    n->ngrp++;                          /* freed with the set from here on */
    if (same >= 0) {                    /* databases compiled once (groups_compile) */
        gr->borrowed = 1;
        gr->owner = (uint32_t)same;
    } else {
        gr->need_stream = c == 0;
    }
    return (int)n->ngrp - 1;
nomem:
    set_err(g->err, g->errlen, "out of memory building network rules");
    return -1;
}

typedef struct gset {               /* a distinct rule set of port intervals */
    uint32_t first;                 /* its first interval */
    uint32_t size;                  /* rules in it named for a few ports (see port_narrow) */
    uint64_t h;
    int group;
} gset_t;

static int cmp_gset_size(const void *a, const void *b)
{
    const gset_t *x = a, *y = b;
    if (x->size != y->size)
        return x->size > y->size ? -1 : 1;
    return x->first < y->first ? -1 : x->first > y->first;
}

/* The groups of class c (TCP 0 or UDP 1), direction d: fills gport[c][d]. */
static int groups_ports(gbuild_t *g, int c, int d, const uint32_t *pr, uint32_t npr)
{
    canh_nids_t *n = g->n;
    int rc = CANH_ENOMEM;
    uint32_t *any = malloc((npr ? npr : 1) * sizeof(*any));
    uint32_t *rest = malloc((npr ? npr : 1) * sizeof(*rest));
    uint32_t *cut = NULL, *iset = NULL;
    uint64_t *bits = NULL, *un = NULL;
    gset_t *sets = NULL;
    uint8_t *narrow = NULL;
    uint32_t nany = 0, nrest = 0, ncut = 0, ccap = 2;
    if (!any || !rest || !(n->gport[c][d] = malloc(65536 * sizeof(uint16_t))))
        goto out;
    for (uint32_t k = 0; k < npr; k++) {
        const canh_nids_rule_t *r = n->rv.v[pr[k]];
        if (!rule_in_class(r, c, d))
            continue;
        if (rule_port_any(r, d))
            any[nany++] = pr[k];
        else
            rest[nrest++] = pr[k];
    }
    /* the cuts: 0 and each range's start and end + 1 */
    for (uint32_t k = 0; k < nrest; k++) {
        const canh_nids_ports_t *a, *b;
        rule_ports(n->rv.v[rest[k]], d, &a, &b);
        ccap += 2 * (uint32_t)(a->n + (b ? b->n : 0));
    }
    if (!(cut = malloc(ccap * sizeof(*cut))))
        goto out;
    cut[ncut++] = 0;
    for (uint32_t k = 0; k < nrest; k++) {
        const canh_nids_ports_t *pl[2];
        rule_ports(n->rv.v[rest[k]], d, &pl[0], &pl[1]);
        for (int s = 0; s < 2; s++)
            for (size_t j = 0; pl[s] && j < pl[s]->n; j++) {
                cut[ncut++] = pl[s]->r[j].lo;
                cut[ncut++] = (uint32_t)pl[s]->r[j].hi + 1;
            }
    }
    qsort(cut, ncut, sizeof(*cut), cmp_u32_asc);
    uint32_t nint = 0;
    for (uint32_t k = 0; k < ncut; k++)
        if (cut[k] < 65536 && (nint == 0 || cut[k] != cut[nint - 1]))
            cut[nint++] = cut[k];
    /* intervals [cut[i], cut[i+1]) (the last to 65535); bit k: rest[k] admits it */
    uint32_t words = (nrest + 63) / 64;
    if (!nrest || (uint64_t)nint * words > GROUP_BITS_MAX) {
        /* nothing port-specific (or too much to split): one group of them all */
        memcpy(any + nany, rest, nrest * sizeof(*rest));
        int gi = group_add(g, c, any, nany + nrest, NULL, 0, NULL, NULL);
        if (gi < 0)
            goto fail;
        for (uint32_t p = 0; p < 65536; p++)
            n->gport[c][d][p] = (uint16_t)gi;
        rc = CANH_OK;
        goto out;
    }
    bits = calloc((size_t)nint * words, sizeof(*bits));
    un = calloc(words, sizeof(*un));
    sets = malloc(nint * sizeof(*sets));
    iset = malloc(nint * sizeof(*iset));
    narrow = malloc(nrest);
    if (!bits || !un || !sets || !iset || !narrow)
        goto out;
    for (uint32_t k = 0; k < nrest; k++)   /* what a database of its own is for */
        narrow[k] = g->fp[rest[k]] >= 0 && port_narrow(n->rv.v[rest[k]], d);
    uint32_t nsets = 0;
    for (uint32_t i = 0; i < nint; i++) {
        uint64_t *bi = bits + (size_t)i * words;
        uint32_t size = 0;
        for (uint32_t k = 0; k < nrest; k++)
            if (rule_port_match(n->rv.v[rest[k]], d, (uint16_t)cut[i])) {
                bi[k / 64] |= 1ull << (k % 64);
                size += narrow[k];
            }
        uint64_t h = lit_hash((const uint8_t *)bi, words * sizeof(*bi), 0);
        uint32_t s = 0;
        for (; s < nsets; s++)
            if (sets[s].h == h &&
                !memcmp(bits + (size_t)sets[s].first * words, bi, words * sizeof(*bi)))
                break;
        if (s == nsets)
            sets[nsets++] = (gset_t){ i, size, h, -1 };
        iset[i] = s;
    }
    /* The sets with the most narrow rules (the services rules name) get a
     * database of their own, the empty set too (no ported rule: the "any"
     * rules alone). The others share one, their union: those with narrow
     * rules one, those with only broad ones (1024: ...) another, so that an
     * unnamed port does not take every other port's service rules. The
     * rules with no fast pattern are exact per set: lists, not databases. */
    gset_t *order = malloc(nsets * sizeof(*order));
    uint64_t *ub = calloc(words, sizeof(*ub));
    if (!order || !ub) {
        free(order);
        free(ub);
        goto out;
    }
    memcpy(order, sets, nsets * sizeof(*order));
    qsort(order, nsets, sizeof(*order), cmp_gset_size);
    uint32_t own = d == 0 ? GROUPS_TOSERVER : GROUPS_TOCLIENT, kept = 0;
    for (uint32_t o = 0; o < nsets; o++) {
        uint32_t s = iset[order[o].first];
        const uint64_t *bs = bits + (size_t)sets[s].first * words;
        int empty = 1;
        for (uint32_t w = 0; w < words && empty; w++)
            empty = bs[w] == 0;
        if (empty || (order[o].size && kept < own)) {
            kept += !empty;
            if ((sets[s].group = group_add(g, c, any, nany, rest, nrest, bs, bs)) < 0)
                goto fail_order;
            continue;
        }
        uint64_t *u = order[o].size ? un : ub;
        for (uint32_t w = 0; w < words; w++)
            u[w] |= bs[w];
    }
    for (uint32_t s = 0; s < nsets; s++) {
        if (sets[s].group >= 0)
            continue;
        const uint64_t *bs = bits + (size_t)sets[s].first * words;
        if ((sets[s].group = group_add(g, c, any, nany, rest, nrest, sets[s].size ? un : ub,
                                       bs)) < 0)
            goto fail_order;
    }
    free(order);
    free(ub);
    for (uint32_t i = 0; i < nint; i++) {
        uint32_t hi = i + 1 < nint ? cut[i + 1] : 65536;
        for (uint32_t p = cut[i]; p < hi; p++)
            n->gport[c][d][p] = (uint16_t)sets[iset[i]].group;
    }
    rc = CANH_OK;
    goto out;
fail_order:
    free(order);
    free(ub);
fail:
    rc = CANH_EINVAL;
out:
    if (rc == CANH_ENOMEM)
        set_err(g->err, g->errlen, "out of memory building network rules");
    free(any);
    free(rest);
    free(cut);
    free(bits);
    free(un);
    free(sets);
    free(iset);
    free(narrow);
    return rc;
}

/* The groups' databases, compiled by two threads (Hyperscan's compiler is
 * thread-safe, the cache's counters atomic): with ET Open, about 150
 * databases of up to a thousand literals, 9 s of CPU from a cold cache.
 * Not more: each compile holds about 150 MB while it runs. Build thread and
 * its helper, which ends before it returns. */
#define COMPILE_THREADS_MAX 2
typedef struct gjobs {
    canh_nids_t *n;
    canh_hs_cache_t *cache;
    _Atomic uint32_t next;
    uint32_t njobs;                 /* job j: group j / 2, block (even) or stream (odd) */
    _Atomic int rc;
    char err[256];
    _Atomic int err_taken;
} gjobs_t;

static void *groups_compile_worker(void *arg)
{
    gjobs_t *j = arg;
    canh_nids_t *n = j->n;
    for (;;) {
        uint32_t k = atomic_fetch_add(&j->next, 1);
        if (k >= j->njobs || atomic_load(&j->rc) != CANH_OK)
            break;
        pgroup_t *gr = &n->grp[k / 2];
        int stream = k & 1;
        if (gr->borrowed || !gr->npat || (stream && !gr->need_stream))
            continue;
        char err[256] = "";
        int rc = compile_lits(&n->bl[CANH_NB_PACKET], gr->ids, gr->npat,
                              stream ? HS_MODE_STREAM : HS_MODE_BLOCK,
                              stream ? &gr->sdb : &gr->db, j->cache, err, sizeof(err),
                              CANH_NB_PACKET);
        if (rc != CANH_OK) {
            int expect = CANH_OK;
            if (atomic_compare_exchange_strong(&j->rc, &expect, rc))
                snprintf(j->err, sizeof(j->err), "%s", err);
        }
    }
    return NULL;
}

static int groups_compile(canh_nids_t *n, canh_hs_cache_t *cache, char *err, size_t errlen)
{
    gjobs_t j = { .n = n, .cache = cache, .njobs = n->ngrp * 2 };
    atomic_init(&j.next, 0);
    atomic_init(&j.rc, CANH_OK);
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    int nth = ncpu < 1 ? 1 : ncpu > COMPILE_THREADS_MAX ? COMPILE_THREADS_MAX : (int)ncpu;
    if ((uint32_t)nth > j.njobs)
        nth = (int)(j.njobs ? j.njobs : 1);
    pthread_t th[COMPILE_THREADS_MAX];
    int started = 0;
    for (int t = 1; t < nth; t++)
        if (pthread_create(&th[started], NULL, groups_compile_worker, &j) == 0)
            started++;
    groups_compile_worker(&j);
    for (int t = 0; t < started; t++)
        pthread_join(th[t], NULL);
    int rc = atomic_load(&j.rc);
    if (rc != CANH_OK) {
        set_err(err, errlen, "%s", j.err);
        return rc;
    }
    for (uint32_t k = 0; k < n->ngrp; k++)
        if (n->grp[k].borrowed) {
            n->grp[k].db = n->grp[n->grp[k].owner].db;
            n->grp[k].sdb = n->grp[n->grp[k].owner].sdb;
        }
    return CANH_OK;
}

/* Every payload group, from the rules whose fast pattern is on the payload list. */
static int groups_build(canh_nids_t *n, const int32_t *fp, canh_hs_cache_t *cache, char *err,
                        size_t errlen)
{
    const blist_t *bl = &n->bl[CANH_NB_PACKET];
    gbuild_t g = { n, fp, cache, NULL, 0, NULL, NULL, 0, err, errlen };
    uint32_t *pr = malloc((n->nrules ? n->nrules : 1) * sizeof(*pr)), npr = 0;
    g.pstamp = calloc(bl->npat ? bl->npat : 1, sizeof(uint32_t));
    g.sel = malloc((bl->npat ? bl->npat : 1) * sizeof(uint32_t));
    g.asel = malloc((n->nrules ? n->nrules : 1) * sizeof(uint32_t));
    int rc = CANH_ENOMEM;
    if (!pr || !g.pstamp || !g.sel || !g.asel) {
        set_err(err, errlen, "out of memory building network rules");
        goto out;
    }
    for (uint32_t i = 0; i < n->nrules; i++)
        if (!n->ri[i].off && (fp[i] < 0 || n->ri[i].fpl == CANH_NB_PACKET))
            pr[npr++] = i;
    for (int c = 0; c < NCLASS; c++)
        for (int d = 0; d < 2; d++) {
            if (c < 2) {
                if ((rc = groups_ports(&g, c, d, pr, npr)) != CANH_OK)
                    goto out;
                continue;
            }
            uint32_t na = 0;
            uint32_t *any = malloc((npr ? npr : 1) * sizeof(*any));
            if (!any) {
                rc = CANH_ENOMEM;
                set_err(err, errlen, "out of memory building network rules");
                goto out;
            }
            for (uint32_t k = 0; k < npr; k++)
                if (rule_in_class(n->rv.v[pr[k]], c, d))
                    any[na++] = pr[k];
            int gi = group_add(&g, c, any, na, NULL, 0, NULL, NULL);
            free(any);
            if (gi < 0) {
                rc = CANH_EINVAL;
                goto out;
            }
            n->gfix[c][d] = (uint16_t)gi;
        }
    rc = groups_compile(n, cache, err, errlen);
out:
    free(pr);
    free(g.pstamp);
    free(g.sel);
    free(g.asel);
    return rc;
}

/* The group whose databases g uses (g's own index when they are its). */
static uint32_t group_owner(const canh_nids_t *n, const pgroup_t *g)
{
    return g->borrowed ? g->owner : (uint32_t)(g - n->grp);
}

/* The payload group of an inspection (class, direction, server port). */
static const pgroup_t *group_of(const canh_nids_t *n, int ok, uint8_t proto, int dir,
                                uint16_t sport, uint16_t dport)
{
    if (!n->ngrp)
        return NULL;
    int c = pclass(ok, proto), d = dir & 1;
    if (c < 2)
        return &n->grp[n->gport[c][d][d == 0 ? dport : sport]];
    return &n->grp[n->gfix[c][d]];
}

/* PCRE2 code of every pcre item; 0, or -1 with the rule refused. */
static int compile_pcres(canh_nids_t *n, uint32_t ri_idx, canh_refuse_fn refuse, void *ud)
{
    const canh_nids_rule_t *r = n->rv.v[ri_idx];
    rinfo_t *ri = &n->ri[ri_idx];
    for (size_t i = 0; i < r->nm; i++) {
        const canh_nids_m_t *c = &r->m[i];
        if (c->kind != CANH_NM_PCRE)
            continue;
        int ec = 0;
        PCRE2_SIZE eo = 0;
        pcre2_code *code = pcre2_compile((PCRE2_SPTR)c->bytes, c->len, c->pcre_flags, &ec, &eo,
                                         NULL);
        if (!code) {
            char msg[160];
            pcre2_get_error_message(ec, (PCRE2_UCHAR *)msg, sizeof(msg));
            refuse_rule(refuse, ud, r, "pcre: %s at offset %zu", msg, (size_t)eo);
            return -1;
        }
        pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);   /* the interpreter if JIT cannot */
        ri->rx[i] = code;
    }
    return 0;
}

/* Per-rule layout: items grouped by list; 0, or -1 (refused, or ENOMEM with *nomem). */
static int layout_rule(canh_nids_t *n, uint32_t idx, canh_refuse_fn refuse, void *ud)
{
    const canh_nids_rule_t *r = n->rv.v[idx];
    rinfo_t *ri = &n->ri[idx];
    if (r->nm > UINT16_MAX) {
        refuse_rule(refuse, ud, r, "too many content and pcre keywords (%zu)", r->nm);
        return -1;
    }
    ri->mi = malloc((r->nm ? r->nm : 1) * sizeof(*ri->mi));
    ri->req = malloc((r->nm ? r->nm : 1) * sizeof(*ri->req));
    ri->rx = calloc(r->nm ? r->nm : 1, sizeof(*ri->rx));
    if (!ri->mi || !ri->req || !ri->rx)
        return -2;
    uint16_t k = 0;
    for (size_t i = 0; i < r->nm; i++) {
        int L = list_of(r->m[i].buffer);
        if (L < 0 || L >= NLISTS || L == CANH_NB_STREAM) {
            refuse_rule(refuse, ud, r, "content on an unknown buffer (%d)", r->m[i].buffer);
            return -1;
        }
        int have = 0;
        for (int j = 0; j < ri->nl; j++)
            have |= ri->l[j].list == L;
        if (have)
            continue;
        if (ri->nl == CANH_ARRAY_LEN(ri->l)) {
            refuse_rule(refuse, ud, r, "contents on more than %zu buffers",
                        CANH_ARRAY_LEN(ri->l));
            return -1;
        }
        rlist_t *rl = &ri->l[ri->nl++];
        rl->list = (uint8_t)L;
        rl->start = k;
        for (size_t j = i; j < r->nm; j++)
            if (list_of(r->m[j].buffer) == L)
                ri->mi[k++] = (uint16_t)j;
        rl->n = (uint16_t)(k - rl->start);
        if (L == CANH_NB_PACKET)
            ri->payload = 1;
        else
            ri->app_lists = 1;
    }
    ri->packet_only = r->dsize_op != 0 || (r->flow & CANH_NF_NO_STREAM);
    for (size_t i = 0; i < r->nflowbits; i++) {
        canh_nids_fbop_t op = r->flowbits[i].op;
        if (op == CANH_FB_SET || op == CANH_FB_UNSET || op == CANH_FB_TOGGLE)
            ri->sets_bits = 1;
        if (op == CANH_FB_ISSET || op == CANH_FB_ISNOTSET)
            ri->reads_bits = 1;
        for (size_t b = 0; b < r->flowbits[i].nbits; b++)
            if (r->flowbits[i].bits[b] >= n->nbits)
                n->nbits = r->flowbits[i].bits[b] + 1;
    }
    return 0;
}

static void blist_free(blist_t *bl)
{
    free(bl->pbytes);
    free(bl->plen);
    free(bl->pnocase);
    free(bl->wk_off);
    free(bl->wk);
    hs_free_database(bl->db);
    hs_free_database(bl->sdb);
    memset(bl, 0, sizeof(*bl));
}

void canh_nids_free(canh_nids_t *n)
{
    if (!n)
        return;
    for (uint32_t i = 0; n->ri && i < n->nrules; i++) {
        rinfo_t *ri = &n->ri[i];
        for (size_t j = 0; ri->rx && j < n->rv.v[i]->nm; j++)
            pcre2_code_free(ri->rx[j]);
        free(ri->rx);
        free(ri->mi);
        free(ri->req);
    }
    free(n->ri);
    free(n->by_rank);
    free(n->rank);
    free(n->always);
    for (int L = 0; L < NLISTS; L++)
        blist_free(&n->bl[L]);
    for (uint32_t g = 0; g < n->ngrp; g++) {
        if (!n->grp[g].borrowed) {
            hs_free_database(n->grp[g].db);
            hs_free_database(n->grp[g].sdb);
        }
        free(n->grp[g].ids);
        free(n->grp[g].always);
    }
    free(n->grp);
    for (int c = 0; c < 2; c++)
        for (int d = 0; d < 2; d++)
            free(n->gport[c][d]);
    canh_nids_rulevec_free(&n->rv);
    free(n);
}

void canh_nids_info(const canh_nids_t *n, canh_nids_info_t *info)
{
    if (info)
        *info = n ? n->info : (canh_nids_info_t){ 0 };
}

size_t canh_nids_size(const canh_nids_t *n)
{
    return n ? n->nloaded : 0;
}

/* the loaded rule at index i (tests, the alert path), or NULL */
const canh_nids_rule_t *canh_nids_rule(const canh_nids_t *n, uint32_t i)
{
    return n && i < n->nrules && !n->ri[i].off ? n->rv.v[i] : NULL;
}

int canh_nids_build(canh_nids_t **out, canh_nids_rulevec_t *rv, const canh_nids_opts_t *o,
                    canh_refuse_fn refuse, void *ud, char *err, size_t errlen)
{
    if (!out || !rv) {
        set_err(err, errlen, "canh_nids_build: no rules");
        return CANH_EINVAL;
    }
    *out = NULL;
    canh_nids_t *n = calloc(1, sizeof(*n));
    if (!n) {
        canh_nids_rulevec_free(rv);
        set_err(err, errlen, "out of memory building network rules");
        return CANH_ENOMEM;
    }
    n->rv = *rv;                        /* the rules are ours now */
    memset(rv, 0, sizeof(*rv));
    n->nrules = (uint32_t)n->rv.n;
    n->nbits = (uint32_t)n->rv.nbits;
    n->serial = atomic_fetch_add(&build_serial, 1);
    n->match_limit = o && o->pcre2_match_limit ? o->pcre2_match_limit : 100000u;
    n->depth_limit = o && o->pcre2_depth_limit ? o->pcre2_depth_limit : 5000u;
    int rc = CANH_ENOMEM;
    pmap_t pm[NLISTS];
    uint32_t pcap[NLISTS];
    memset(pm, 0, sizeof(pm));
    memset(pcap, 0, sizeof(pcap));
    int32_t *fp = NULL;                 /* per rule: its fast pattern's id, -1 none */
    canh_hs_cache_t cache;
    if ((rc = canh_hs_cache_open(&cache, o ? o->cache_dir : NULL, err, errlen)) != CANH_OK) {
        canh_nids_free(n);
        return rc;
    }
    rc = CANH_ENOMEM;
    n->ri = calloc(n->nrules ? n->nrules : 1, sizeof(*n->ri));
    n->by_rank = malloc((n->nrules ? n->nrules : 1) * sizeof(uint32_t));
    n->rank = malloc((n->nrules ? n->nrules : 1) * sizeof(uint32_t));
    n->always = malloc((n->nrules ? n->nrules : 1) * sizeof(uint32_t));
    fp = malloc((n->nrules ? n->nrules : 1) * sizeof(*fp));
    if (!n->ri || !n->by_rank || !n->rank || !n->always || !fp)
        goto nomem;

    for (uint32_t i = 0; i < n->nrules; i++) {
        const canh_nids_rule_t *r = n->rv.v[i];
        rinfo_t *ri = &n->ri[i];
        fp[i] = -1;
        int lr = layout_rule(n, i, refuse, ud);
        if (lr == -2)
            goto nomem;
        if (lr < 0 || compile_pcres(n, i, refuse, ud) < 0) {
            ri->off = 1;
            continue;
        }
        /* (a payload fast pattern of 1-3 bytes stays one: evaluating such
         * rules on every packet their group admits instead cost 12% more
         * instructions on the bench capture than scanning for them, now
         * that they are only in their ports' databases) */
        int f = choose_fast_pattern(r);
        for (int j = 0; j < ri->nl; j++) {
            rlist_t *rl = &ri->l[j];
            blist_t *bl = &n->bl[rl->list];
            rl->rstart = 0;
            rl->nreq = 0;
            for (uint16_t t = 0; t < rl->n; t++) {
                uint16_t mi = ri->mi[rl->start + t];
                const canh_nids_m_t *c = &r->m[mi];
                /* only the fast pattern goes into Hyperscan, as in Suricata's
                 * MPM: with every content of ET Open in the payload database a
                 * 1400-byte HTTP packet scanned 7x slower (16 against 2 us of
                 * CPU), short common contents hitting everywhere; the others
                 * are confirmed in the woken rule */
                if ((int)mi != f)
                    continue;
                int64_t id = pat_intern(bl, &pm[rl->list], &pcap[rl->list], c);
                if (id < 0)
                    goto nomem;
                if (!rl->nreq)
                    rl->rstart = (uint16_t)(rl->start + t);
                ri->req[rl->rstart + rl->nreq++] = (uint32_t)id;
                if ((int)mi == f)
                    fp[i] = (int32_t)id;
            }
        }
        ri->always = fp[i] < 0;
        ri->fpl = f >= 0 ? (uint8_t)list_of(r->m[f].buffer) : 0;
        n->nloaded++;
    }
    /* wake lists: pattern -> rules */
    for (int L = 0; L < NLISTS; L++) {
        blist_t *bl = &n->bl[L];
        if (!bl->npat)
            continue;
        if (!(bl->wk_off = calloc(bl->npat + 1, sizeof(uint32_t))))
            goto nomem;
    }
    uint32_t nwk[NLISTS] = { 0 };
    for (uint32_t i = 0; i < n->nrules; i++) {
        const rinfo_t *ri = &n->ri[i];
        if (ri->off || fp[i] < 0)
            continue;
        int L = n->ri[i].fpl;
        n->bl[L].wk_off[fp[i] + 1]++;
        nwk[L]++;
    }
    for (int L = 0; L < NLISTS; L++) {
        blist_t *bl = &n->bl[L];
        if (!bl->npat)
            continue;
        for (uint32_t p = 0; p < bl->npat; p++)
            bl->wk_off[p + 1] += bl->wk_off[p];
        if (!(bl->wk = malloc((nwk[L] ? nwk[L] : 1) * sizeof(uint32_t))))
            goto nomem;
    }
    /* evaluation order: flowbit setters that read none first, then the rest */
    uint32_t k = 0;
    for (int pass = 0; pass < 2; pass++)
        for (uint32_t i = 0; i < n->nrules; i++) {
            const rinfo_t *ri = &n->ri[i];
            int first = ri->sets_bits && !ri->reads_bits;
            if (first == (pass == 0)) {
                n->rank[i] = k;
                n->by_rank[k++] = i;
            }
        }
    /* fill the wake lists and the always list in rank order */
    uint32_t *fill[NLISTS] = { 0 };
    for (int L = 0; L < NLISTS; L++)
        if (n->bl[L].npat && !(fill[L] = calloc(n->bl[L].npat, sizeof(uint32_t))))
            goto nomem_fill;
    for (uint32_t k2 = 0; k2 < n->nrules; k2++) {
        uint32_t i = n->by_rank[k2];
        const rinfo_t *ri = &n->ri[i];
        if (ri->off)
            continue;
        if (ri->always) {
            n->always[n->nalways++] = k2;
            continue;
        }
        int L = n->ri[i].fpl;
        blist_t *bl = &n->bl[L];
        bl->wk[bl->wk_off[fp[i]] + fill[L][fp[i]]++] = k2;   /* ranks */
    }
    for (int L = 0; L < NLISTS; L++)
        free(fill[L]);
    for (int L = 0; L < NLISTS; L++) {
        free(pm[L].slot);
        pm[L].slot = NULL;
        blist_t *bl = &n->bl[L];
        n->info.patterns += bl->npat;
        if (L == CANH_NB_PACKET) {      /* in groups (pgroup_t) */
            if ((rc = groups_build(n, fp, &cache, err, errlen)) != CANH_OK)
                goto fail;
            for (uint32_t gi = 0; gi < n->ngrp; gi++) {
                const pgroup_t *gr = &n->grp[gi];
                size_t sz = 0;
                if (gr->borrowed)
                    continue;
                n->info.databases += (gr->db != NULL) + (gr->sdb != NULL);
                if (gr->db && hs_database_size(gr->db, &sz) == HS_SUCCESS)
                    n->bytes += sz;
                if (gr->sdb && hs_database_size(gr->sdb, &sz) == HS_SUCCESS)
                    n->bytes += sz;
            }
            continue;
        }
        if ((rc = compile_lits(bl, NULL, 0, HS_MODE_BLOCK, &bl->db, &cache, err, errlen, L)) !=
            CANH_OK)
            goto fail;
        n->info.databases += (bl->db != NULL) + (bl->sdb != NULL);
        size_t sz = 0;
        if (bl->db && hs_database_size(bl->db, &sz) == HS_SUCCESS)
            n->bytes += sz;
        if (bl->sdb && hs_database_size(bl->sdb, &sz) == HS_SUCCESS)
            n->bytes += sz;
    }
    free(fp);
    n->info.rules = n->nloaded;
    n->info.refused = n->nrules - n->nloaded;
    n->info.always = n->nalways;
    n->info.cache_hits = cache.hits;
    n->info.cache_refused = cache.refused;
    n->info.bytes = n->bytes;
    canh_hs_cache_close(&cache);
    *out = n;
    return CANH_OK;
nomem_fill:
    for (int L = 0; L < NLISTS; L++)
        free(fill[L]);
nomem:
    set_err(err, errlen, "out of memory building network rules");
    rc = CANH_ENOMEM;
fail:
    for (int L = 0; L < NLISTS; L++)
        free(pm[L].slot);
    free(fp);
    canh_hs_cache_close(&cache);
    canh_nids_free(n);
    return rc;
}

/* ------------------------------------------------------------------ */
/* matcher                                                             */

canh_nids_matcher_t *canh_nids_matcher_new(const canh_nids_t *n, char *err, size_t errlen)
{
    if (!n) {
        set_err(err, errlen, "canh_nids_matcher_new: no rule set");
        return NULL;
    }
    canh_nids_matcher_t *m = calloc(1, sizeof(*m));
    if (!m)
        goto nomem;
    m->n = n;
    for (int s = 0; s < NLISTS; s++) {
        const blist_t *bl = &n->bl[list_of(s)];
        if (!bl->npat)
            continue;
        m->stamp[s] = calloc(bl->npat, sizeof(uint32_t));
        m->hitp[s] = malloc(bl->npat * sizeof(uint32_t));
        if (!m->stamp[s] || !m->hitp[s])
            goto nomem;
        if (bl->db && s != CANH_NB_STREAM &&
            hs_alloc_scratch(bl->db, &m->scratch) != HS_SUCCESS)
            goto nomem;
    }
    if (n->ngrp && !(m->tmp_stream = calloc(n->ngrp, sizeof(*m->tmp_stream))))
        goto nomem;
    for (uint32_t g = 0; g < n->ngrp; g++) {
        const pgroup_t *gr = &n->grp[g];
        if (gr->db && hs_alloc_scratch(gr->db, &m->scratch) != HS_SUCCESS)
            goto nomem;
        if (gr->borrowed)
            continue;
        if (gr->sdb && (hs_alloc_scratch(gr->sdb, &m->scratch) != HS_SUCCESS ||
                        hs_open_stream(gr->sdb, 0, &m->tmp_stream[g]) != HS_SUCCESS))
            goto nomem;
    }
    m->rstamp = calloc(n->nrules ? n->nrules : 1, sizeof(uint32_t));
    m->cand = malloc((n->nrules ? n->nrules : 1) * sizeof(uint32_t));
    m->hits = malloc((n->nrules ? n->nrules : 1) * sizeof(uint32_t));
    m->md = pcre2_match_data_create(1, NULL);
    m->mctx = pcre2_match_context_create(NULL);
    m->jstack = pcre2_jit_stack_create(JIT_STACK_MIN, JIT_STACK_MAX, NULL);
    if (!m->rstamp || !m->cand || !m->hits || !m->md || !m->mctx || !m->jstack)
        goto nomem;
    pcre2_jit_stack_assign(m->mctx, NULL, m->jstack);
    pcre2_set_match_limit(m->mctx, n->match_limit);
    pcre2_set_depth_limit(m->mctx, n->depth_limit);
    return m;
nomem:
    set_err(err, errlen, "out of memory (or Hyperscan scratch) for a network rule matcher");
    canh_nids_matcher_free(m);
    return NULL;
}

void canh_nids_matcher_free(canh_nids_matcher_t *m)
{
    if (!m)
        return;
    for (uint32_t g = 0; m->tmp_stream && g < m->n->ngrp; g++)
        if (m->tmp_stream[g])
            hs_close_stream(m->tmp_stream[g], NULL, NULL, NULL);
    free(m->tmp_stream);
    hs_free_scratch(m->scratch);
    for (int s = 0; s < NLISTS; s++) {
        free(m->stamp[s]);
        free(m->hitp[s]);
    }
    free(m->rstamp);
    free(m->cand);
    free(m->hits);
    free(m->thr);
    pcre2_match_data_free(m->md);
    pcre2_match_context_free(m->mctx);
    pcre2_jit_stack_free(m->jstack);
    free(m);
}

void canh_nids_matcher_counts(const canh_nids_matcher_t *m, canh_nids_counts_t *c)
{
    if (c)
        *c = m ? m->c : (canh_nids_counts_t){ 0 };
}

/* ------------------------------------------------------------------ */
/* scans                                                               */

typedef struct scan_ctx {
    canh_nids_matcher_t *m;
    int slot;
    unsigned long long min_end;     /* a hit counts if it ends after this */
} scan_ctx_t;

static int on_hit(unsigned int id, unsigned long long from, unsigned long long to,
                  unsigned int flags, void *ud)
{
    (void)from;
    (void)flags;
    scan_ctx_t *sc = ud;
    canh_nids_matcher_t *m = sc->m;
    if (to <= sc->min_end)
        return 0;
    uint32_t *st = m->stamp[sc->slot];
    if (st[id] != m->gen[sc->slot]) {
        st[id] = m->gen[sc->slot];
        m->hitp[sc->slot][m->nhitp[sc->slot]++] = id;
    }
    return 0;
}

static void slot_new_gen(canh_nids_matcher_t *m, int s)
{
    m->nhitp[s] = 0;
    if (++m->gen[s] == 0) {
        if (m->stamp[s])
            memset(m->stamp[s], 0, m->n->bl[list_of(s)].npat * sizeof(uint32_t));
        m->gen[s] = 1;
    }
}

/* the flow's detect state, made (or reset for this rule set) if create */
static dstate_t *flow_state(const canh_nids_t *n, canh_flow_t *f, int create)
{
    if (!f)
        return NULL;
    void **slot = canh_flow_ext(f, CANH_FLOW_EXT_DETECT);
    if (!slot)
        return NULL;
    dstate_t *s = *slot;
    uint32_t words = (n->nbits + 63) / 64;
    if (s && s->serial == n->serial)
        return s;
    if (!s && !create)
        return NULL;
    if (s && s->nwords >= words) {
        for (int d = 0; d < 2; d++)
            if (s->hs[d]) {
                hs_close_stream(s->hs[d], NULL, NULL, NULL);
                s->hs[d] = NULL;
            }
        memset(s->bits, 0, s->nwords * sizeof(uint64_t));
        s->tx_id[0] = s->tx_id[1] = 0;
        s->ntx[0] = s->ntx[1] = 0;
        s->serial = n->serial;
        return s;
    }
    canh_nids_flow_free(s);
    *slot = NULL;
    s = calloc(1, sizeof(*s) + words * sizeof(uint64_t));
    if (!s)
        return NULL;
    s->serial = n->serial;
    s->nwords = words;
    *slot = s;
    return s;
}

void canh_nids_stream(canh_nids_matcher_t *m, canh_flow_t *f, int dir, const uint8_t *data,
                      size_t len, int flags)
{
    if (!m || !f || dir < 0 || dir > 1)
        return;
    const canh_flow_info_t *fi = canh_flow_info(f);
    /* reassembled bytes are TCP's: the TCP group of the server port */
    const pgroup_t *gr = fi ? group_of(m->n, 1, IPPROTO_TCP, dir, fi->sport, fi->sport) : NULL;
    if (!gr || !gr->sdb)
        return;
    uint16_t gi = (uint16_t)group_owner(m->n, gr);
    dstate_t *s = flow_state(m->n, f, 1);
    if (!s)
        return;
    if (s->hs[dir] && s->hsg[dir] != gi) {   /* client and server swapped: another database */
        hs_close_stream(s->hs[dir], NULL, NULL, NULL);
        s->hs[dir] = NULL;
    }
    if ((flags & CANH_STREAM_GAP) && s->hs[dir]) {
        hs_close_stream(s->hs[dir], NULL, NULL, NULL);   /* no match spans a gap */
        s->hs[dir] = NULL;
    }
    if (!m->pend || m->pend_flow != f || m->pend_dir != dir) {
        slot_new_gen(m, CANH_NB_STREAM);
        m->pend = 1;
        m->pend_flow = f;
        m->pend_dir = dir;
        m->pend_tail = 0;
    }
    if (len && data) {
        if (!s->hs[dir]) {
            if (hs_open_stream(gr->sdb, 0, &s->hs[dir]) != HS_SUCCESS)
                s->hs[dir] = NULL;
            s->hsg[dir] = gi;
        }
        scan_ctx_t sc = { m, CANH_NB_STREAM, 0 };
        for (size_t at = 0; s->hs[dir] && at < len;) {   /* Hyperscan takes 32-bit lengths */
            unsigned part = len - at > UINT32_MAX ? UINT32_MAX : (unsigned)(len - at);
            hs_scan_stream(s->hs[dir], (const char *)data + at, part, 0, m->scratch, on_hit, &sc);
            at += part;
        }
        m->pend_tail = s->hs[dir] ? m->pend_tail + len : 0;
    }
    if ((flags & CANH_STREAM_END) && s->hs[dir]) {
        hs_close_stream(s->hs[dir], NULL, NULL, NULL);
        s->hs[dir] = NULL;
    }
}

/* ------------------------------------------------------------------ */
/* evaluation                                                          */

static inline uint8_t fold(uint8_t c)
{
    return c >= 'A' && c <= 'Z' ? (uint8_t)(c + 32) : c;
}

/* first occurrence of nd in h[0..hn), or -1 */
static int64_t find(const uint8_t *h, size_t hn, const uint8_t *nd, size_t nn, int nocase)
{
    if (nn > hn)
        return -1;
    if (!nn)
        return 0;
    if (!nocase) {
        const uint8_t *p = memmem(h, hn, nd, nn);
        return p ? p - h : -1;
    }
    /* the first byte in either case by memchr, then the rest folded */
    uint8_t lo = fold(nd[0]), up = lo >= 'a' && lo <= 'z' ? (uint8_t)(lo - 32) : lo;
    const size_t last = hn - nn;        /* the last start that fits */
    for (size_t i = 0; i <= last;) {
        const uint8_t *a = memchr(h + i, lo, last + 1 - i);
        const uint8_t *b = up != lo ? memchr(h + i, up, a ? (size_t)(a - (h + i)) : last + 1 - i)
                                    : NULL;
        const uint8_t *p = b ? b : a;   /* b was looked for only before a */
        if (!p)
            return -1;
        if (lit_eq(p + 1, nd + 1, nn - 1, 1))
            return p - h;
        i = (size_t)(p - h) + 1;
    }
    return -1;
}

typedef struct ev {
    canh_nids_matcher_t *m;
    const canh_nids_rule_t *r;
    const rinfo_t *ri;
    const uint16_t *mi;
    size_t n;
    const uint8_t *b;
    size_t len;
    int stream;                     /* a chain must end in the new bytes ... */
    size_t new_from;                /* ... at or after this offset */
    int stop;                       /* the rule cannot match this buffer */
    uint32_t budget;
    /* per item (the first NOWHERE_ITEMS): a content found nowhere in
     * [nowhere[i], end of buffer): a later search that would start there or
     * after and run to the end is not made again (backtracking over nested
     * relative contents would otherwise repeat it for every earlier match) */
    size_t nowhere[16];
} ev_t;
#define NOWHERE_ITEMS 16

static int chain(ev_t *e, size_t i, size_t prev_end, int64_t max_end);

static int next_relative(const ev_t *e, size_t i)
{
    return i + 1 < e->n && e->r->m[e->mi[i + 1]].relative;
}

static int chain_pcre(ev_t *e, size_t i, size_t prev_end, int64_t max_end)
{
    const canh_nids_m_t *c = &e->r->m[e->mi[i]];
    const pcre2_code *code = e->ri->rx[e->mi[i]];
    size_t start = c->relative ? prev_end : 0;
    if (start > e->len)
        start = e->len;
    const uint8_t *subj = e->b + start;
    size_t sublen = e->len - start, from = 0;
    for (;;) {
        if (!e->budget) {
            e->stop = 1;
            return 0;
        }
        e->budget--;
        int rc = pcre2_match(code, subj, sublen, from, 0, e->m->md, e->m->mctx);
        if (rc == PCRE2_ERROR_NOMATCH) {
            if (c->negated)
                return chain(e, i + 1, prev_end, max_end);
            if (!c->relative)
                e->stop = 1;
            return 0;
        }
        if (rc < 0) {               /* a limit or another error: cannot decide, no match */
            e->m->c.pcre2_limit++;
            e->stop = 1;
            return 0;
        }
        if (c->negated) {
            if (!c->relative)
                e->stop = 1;
            return 0;
        }
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(e->m->md);
        size_t s0 = ov[0], s1 = ov[1];
        size_t end = start + s1;
        if (chain(e, i + 1, end, (int64_t)end > max_end ? (int64_t)end : max_end))
            return 1;
        if (e->stop || (!e->stream && !next_relative(e, i)))
            return 0;
        from = s0 + 1;
        if (from > sublen)
            return 0;
    }
}

static int chain(ev_t *e, size_t i, size_t prev_end, int64_t max_end)
{
    if (i == e->n)
        return !e->stream || max_end < 0 || (size_t)max_end > e->new_from;
    const canh_nids_m_t *c = &e->r->m[e->mi[i]];
    if (c->kind == CANH_NM_PCRE)
        return chain_pcre(e, i, prev_end, max_end);
    int64_t lo = 0, hi = (int64_t)e->len;
    if (c->relative) {
        int64_t d = c->has_distance ? c->distance : 0;
        lo = (int64_t)prev_end + d;
        if (c->has_within)
            hi = (int64_t)prev_end + d + c->within;
        if (lo < 0)
            lo = 0;
    }
    if (c->has_offset && c->offset > lo)
        lo = c->offset;
    if (c->has_depth) {
        int64_t dh = (c->has_offset ? c->offset : 0) + (int64_t)c->depth;
        if (dh < hi)
            hi = dh;
    }
    if (hi > (int64_t)e->len)
        hi = (int64_t)e->len;
    if (c->startswith && lo + (int64_t)c->len < hi)
        hi = lo + (int64_t)c->len;      /* only at the window's start */
    if (c->endswith && (int64_t)e->len - (int64_t)c->len > lo)
        lo = (int64_t)e->len - (int64_t)c->len;   /* only at the buffer's end */
    for (int64_t pos = lo;;) {
        if (!e->budget) {
            e->stop = 1;
            return 0;
        }
        e->budget--;
        int memo = i < NOWHERE_ITEMS && !c->endswith && hi == (int64_t)e->len;
        int64_t at = -1;
        if (pos + (int64_t)c->len <= hi && !(memo && (size_t)pos >= e->nowhere[i])) {
            at = find(e->b + pos, (size_t)(hi - pos), c->bytes, c->len, c->nocase);
            if (at < 0 && memo)
                e->nowhere[i] = (size_t)pos;
        }
        if (at >= 0 && c->endswith && pos + at + (int64_t)c->len != (int64_t)e->len)
            at = -1;
        if (at < 0) {
            if (c->negated)
                return chain(e, i + 1, prev_end, max_end);
            if (!c->relative)
                e->stop = 1;        /* it is nowhere: no earlier position helps */
            return 0;
        }
        if (c->negated) {
            if (!c->relative)
                e->stop = 1;
            return 0;
        }
        int64_t end = pos + at + (int64_t)c->len;
        if (chain(e, i + 1, (size_t)end, end > max_end ? end : max_end))
            return 1;
        if (e->stop || (!e->stream && !next_relative(e, i)))
            return 0;
        pos = pos + at + 1;
    }
}

static int eval_list(canh_nids_matcher_t *m, const canh_nids_rule_t *r, const rinfo_t *ri,
                     const rlist_t *rl, const uint8_t *b, size_t len, int stream, size_t new_from)
{
    ev_t e = { m, r, ri, ri->mi + rl->start, rl->n, b ? b : (const uint8_t *)"", len,
               stream, new_from, 0, EVAL_BUDGET, { 0 } };
    for (size_t k = 0; k < NOWHERE_ITEMS; k++)
        e.nowhere[k] = SIZE_MAX;
    int ok = chain(&e, 0, 0, -1);
    if (!ok && !e.budget)
        m->c.eval_limit++;
    return ok;
}

/* all required literals of the list were seen by the slot's scan */
static int reqs_hit(const canh_nids_matcher_t *m, const rinfo_t *ri, const rlist_t *rl, int slot)
{
    const uint32_t *st = m->stamp[slot];
    if (!st)
        return rl->nreq == 0;
    for (uint16_t k = 0; k < rl->nreq; k++)
        if (st[ri->req[rl->rstart + k]] != m->gen[slot])
            return 0;
    return 1;
}

typedef struct ends {
    int ok;
    uint8_t ipver, proto;
    const uint8_t *src, *dst;
    uint16_t sport, dport;
} ends_t;

static ends_t endpoints(const canh_nids_ctx_t *ctx)
{
    ends_t e = { 0 };
    if (ctx->pkt) {
        const canh_pkt_t *p = ctx->pkt;
        e = (ends_t){ 1, p->ipver, p->proto, p->src, p->dst, p->sport, p->dport };
    } else if (ctx->flow) {
        const canh_flow_info_t *fi = canh_flow_info(ctx->flow);
        if (fi) {
            int toc = ctx->dir == 1;
            e = (ends_t){ 1, fi->ipver, fi->proto, toc ? fi->server : fi->client,
                          toc ? fi->client : fi->server, toc ? fi->sport : fi->cport,
                          toc ? fi->cport : fi->sport };
        }
    }
    return e;
}

static int header_ok(const canh_nids_rule_t *r, const ends_t *e)
{
    if (r->proto) {
        if (!e->ok)
            return 0;
        if (r->proto == IPPROTO_ICMP) {
            if (e->proto != IPPROTO_ICMP && e->proto != IPPROTO_ICMPV6)
                return 0;
        } else if (r->proto != e->proto) {
            return 0;
        }
    }
    int ports = e->ok && (e->proto == IPPROTO_TCP || e->proto == IPPROTO_UDP);
    for (int way = 0; way < (r->bidirectional ? 2 : 1); way++) {
        const uint8_t *s = way ? (e->ok ? e->dst : NULL) : (e->ok ? e->src : NULL);
        const uint8_t *d = way ? (e->ok ? e->src : NULL) : (e->ok ? e->dst : NULL);
        uint16_t sp = way ? e->dport : e->sport, dp = way ? e->sport : e->dport;
        if (!r->src.any && (!s || !canh_nids_addr_match(&r->src, e->ipver, s)))
            continue;
        if (!r->dst.any && (!d || !canh_nids_addr_match(&r->dst, e->ipver, d)))
            continue;
        if (!r->sport.any && (!ports || !canh_nids_ports_match(&r->sport, sp)))
            continue;
        if (!r->dport.any && (!ports || !canh_nids_ports_match(&r->dport, dp)))
            continue;
        return 1;
    }
    return 0;
}

static int flow_ok(const canh_nids_rule_t *r, const canh_nids_ctx_t *ctx)
{
    uint32_t want = r->flow;
    if (!(want & (CANH_NF_ESTABLISHED | CANH_NF_NOT_ESTABLISHED | CANH_NF_TO_SERVER |
                  CANH_NF_TO_CLIENT)))
        return 1;
    const canh_flow_info_t *fi = ctx->flow ? canh_flow_info(ctx->flow) : NULL;
    int est = fi && (fi->flags & CANH_FLOW_ESTABLISHED);
    if ((want & CANH_NF_ESTABLISHED) && !est)
        return 0;
    if ((want & CANH_NF_NOT_ESTABLISHED) && est)
        return 0;
    if ((want & CANH_NF_TO_SERVER) && (!fi || ctx->dir != 0))
        return 0;
    if ((want & CANH_NF_TO_CLIENT) && (!fi || ctx->dir != 1))
        return 0;
    return 1;
}

static int dsize_ok(const canh_nids_rule_t *r, const canh_nids_ctx_t *ctx)
{
    if (!r->dsize_op)
        return 1;
    uint64_t n;
    if (ctx->pkt)
        n = ctx->pkt->plen;
    else if (ctx->buf[CANH_NB_PACKET].p)
        n = ctx->buf[CANH_NB_PACKET].n;
    else
        return 0;
    switch (r->dsize_op) {
    case '=': return n == r->dsize_lo;
    case '<': return n < r->dsize_lo;
    case '>': return n > r->dsize_lo;
    case '!': return n != r->dsize_lo;
    case 'r': return n > r->dsize_lo && n < r->dsize_hi;   /* Suricata: exclusive */
    default: return 0;
    }
}

static int bit_get(const dstate_t *s, uint32_t b)
{
    return s && b / 64 < s->nwords && (s->bits[b / 64] >> (b % 64)) & 1;
}

static int flowbits_ok(const canh_nids_rule_t *r, const dstate_t *s)
{
    for (size_t i = 0; i < r->nflowbits; i++) {
        const canh_nids_flowbit_t *fb = &r->flowbits[i];
        if (fb->op != CANH_FB_ISSET && fb->op != CANH_FB_ISNOTSET)
            continue;
        int want = fb->op == CANH_FB_ISSET;
        size_t yes = 0;
        for (size_t k = 0; k < fb->nbits; k++)
            yes += bit_get(s, fb->bits[k]) == want;
        /* "a|b": any of them; "a&b" (and a single name): all of them */
        if (fb->all || fb->nbits <= 1 ? yes != fb->nbits : yes == 0)
            return 0;
    }
    return 1;
}

/* set/unset/toggle of a matched rule; 1 if the rule has noalert */
static int flowbits_apply(const canh_nids_t *n, const canh_nids_rule_t *r, canh_flow_t *f)
{
    int noalert = 0;
    dstate_t *s = NULL;
    for (size_t i = 0; i < r->nflowbits; i++) {
        const canh_nids_flowbit_t *fb = &r->flowbits[i];
        if (fb->op == CANH_FB_NOALERT) {
            noalert = 1;
            continue;
        }
        if (fb->op != CANH_FB_SET && fb->op != CANH_FB_UNSET && fb->op != CANH_FB_TOGGLE)
            continue;
        if (!s && !(s = flow_state(n, f, 1)))
            continue;                   /* no flow: nothing to keep the bit */
        for (size_t k = 0; k < fb->nbits; k++) {
            uint32_t b = fb->bits[k];
            if (b / 64 >= s->nwords)
                continue;
            uint64_t bit = 1ull << (b % 64);
            if (fb->op == CANH_FB_SET)
                s->bits[b / 64] |= bit;
            else if (fb->op == CANH_FB_UNSET)
                s->bits[b / 64] &= ~bit;
            else
                s->bits[b / 64] ^= bit;
        }
    }
    return noalert;
}

/*
 * threshold / detection_filter, Suricata's semantics on packet time: a
 * window opens at the first match of its key and lasts `seconds`; limit
 * alerts on the first `count` matches of a window, threshold on every
 * count-th, both once when the count is reached, detection_filter on every
 * match after the first `count`. Keys: the rule and, per track, the source,
 * the destination, both (the pair, either way) or nothing. The state is
 * per matcher (per worker): flows are spread by their hash, so a by_src or
 * by_dst count over several flows is per worker, not global (with -j 1 it
 * is exact). A fixed table: when full, the oldest window nearby is reused.
 */
static int threshold_pass(canh_nids_matcher_t *m, uint32_t idx, const canh_nids_rule_t *r,
                          const canh_nids_ctx_t *ctx, const ends_t *e)
{
    canh_nids_ttype_t type = r->threshold.type;
    if (type == CANH_NT_NONE)
        return 1;
    if (!m->thr && !(m->thr = calloc(THR_SLOTS, sizeof(*m->thr))))
        return 1;                       /* no memory for the state: alert */
    uint8_t key[33] = { 0 };
    const uint8_t *a = e->ok ? e->src : NULL, *b = e->ok ? e->dst : NULL;
    switch (r->threshold.track) {
    case CANH_NTR_SRC:
        if (a)
            memcpy(key, a, 16);
        break;
    case CANH_NTR_DST:
        if (b)
            memcpy(key, b, 16);
        break;
    case CANH_NTR_BOTH:
        if (a && b) {
            int sw = memcmp(a, b, 16) > 0;
            memcpy(key, sw ? b : a, 16);
            memcpy(key + 16, sw ? a : b, 16);
        }
        break;
    default:
        break;
    }
    key[32] = e->ok ? e->ipver : 0;
    uint64_t h = lit_hash(key, sizeof(key), 0) ^ ((uint64_t)idx * 0x9E3779B97F4A7C15ull);
    const canh_flow_info_t *fi = !ctx->pkt && ctx->flow ? canh_flow_info(ctx->flow) : NULL;
    int64_t now = ctx->pkt ? ctx->pkt->ts_us : fi ? fi->last_us : 0;   /* a flow's end: no packet */
    thr_t *t = NULL, *use = NULL;
    for (uint32_t p = 0; p < THR_PROBE; p++) {
        thr_t *x = &m->thr[(h + p) & (THR_SLOTS - 1)];
        if (x->rule1 == idx + 1 && memcmp(x->key, key, sizeof(key)) == 0) {
            t = x;
            break;
        }
        /* a free slot, else the oldest window nearby */
        if (!use || (use->rule1 && (!x->rule1 || x->start_us < use->start_us)))
            use = x;
    }
    uint32_t cnt = r->threshold.count;
    int64_t win = (int64_t)r->threshold.seconds * 1000000;
    int fresh = !t;
    if (!t) {
        t = use;
        t->rule1 = idx + 1;
        memcpy(t->key, key, sizeof(key));
    } else if (now - t->start_us >= win || now < t->start_us) {
        fresh = 1;   /* the window is over: a new one */
    }
    if (fresh) {   /* the first match of a window */
        t->start_us = now;
        t->count = 1;
        switch (type) {
        case CANH_NT_LIMIT: return cnt >= 1;
        case CANH_NT_THRESHOLD:
            if (cnt <= 1) {
                t->count = 0;
                return 1;
            }
            return 0;
        case CANH_NT_BOTH: return cnt <= 1;
        case CANH_NT_DETECTION_FILTER: return cnt == 0;
        default: return 1;
        }
    }
    if (t->count < UINT32_MAX)
        t->count++;
    switch (type) {
    case CANH_NT_LIMIT: return t->count <= cnt;
    case CANH_NT_THRESHOLD:
        if (t->count >= cnt) {
            t->count = 0;
            return 1;
        }
        return 0;
    case CANH_NT_BOTH: return t->count == cnt;
    case CANH_NT_DETECTION_FILTER: return t->count > cnt;
    default: return 1;
    }
}

static canh_app_proto_t flow_app(const canh_nids_ctx_t *ctx)
{
    if (ctx->tx)
        return ctx->tx->proto;
    if (!ctx->flow)
        return CANH_APP_UNKNOWN;
    void **slot = canh_flow_ext(ctx->flow, CANH_FLOW_EXT_APP);
    return slot && *slot ? canh_app_proto((const canh_app_t *)*slot) : CANH_APP_UNKNOWN;
}

/* Does rule idx match ctx? (before flowbit actions and threshold) */
static int rule_matches(canh_nids_matcher_t *m, uint32_t idx, const canh_nids_ctx_t *ctx,
                        const ends_t *e, canh_app_proto_t app, const dstate_t *st)
{
    const canh_nids_t *n = m->n;
    const canh_nids_rule_t *r = n->rv.v[idx];
    const rinfo_t *ri = &n->ri[idx];
    int packet_insp = ctx->tx == NULL;
    m->c.rules_evaluated++;
    /* what the inspection must carry */
    if (!ri->app_lists && !packet_insp)
        return 0;
    if (r->dsize_op && !packet_insp)
        return 0;
    const int has_pkt = ctx->buf[CANH_NB_PACKET].p != NULL && !(r->flow & CANH_NF_ONLY_STREAM);
    const int has_stream = ctx->buf[CANH_NB_STREAM].p != NULL && !ri->packet_only;
    if (ri->payload && !has_pkt && !has_stream)
        return 0;
    for (int j = 0; j < ri->nl; j++)
        if (ri->l[j].list != CANH_NB_PACKET && !ctx->buf[ri->l[j].list].p)
            return 0;
    if (r->app != CANH_APP_UNKNOWN && r->app != app)
        return 0;
    if (!header_ok(r, e) || !flow_ok(r, ctx) || !dsize_ok(r, ctx) || !flowbits_ok(r, st))
        return 0;
    for (int j = 0; j < ri->nl; j++) {
        const rlist_t *rl = &ri->l[j];
        int L = rl->list;
        if (L != CANH_NB_PACKET) {
            if (!reqs_hit(m, ri, rl, L) ||
                !eval_list(m, r, ri, rl, ctx->buf[L].p, ctx->buf[L].n, 0, 0))
                return 0;
            continue;
        }
        int ok = 0;
        if (has_pkt && m->scanned[CANH_NB_PACKET] && reqs_hit(m, ri, rl, CANH_NB_PACKET))
            ok = eval_list(m, r, ri, rl, ctx->buf[L].p, ctx->buf[L].n, 0, 0);
        if (!ok && has_stream) {
            size_t sn = ctx->buf[CANH_NB_STREAM].n;
            size_t nw = ctx->stream_new < sn ? (size_t)ctx->stream_new : sn;
            ok = eval_list(m, r, ri, rl, ctx->buf[CANH_NB_STREAM].p, sn, 1, sn - nw);
        }
        if (!ok)
            return 0;
    }
    return 1;
}

static void add_cand(canh_nids_matcher_t *m, uint32_t rank)
{
    uint32_t idx = m->n->by_rank[rank];
    if (m->rstamp[idx] == m->rgen)
        return;
    m->rstamp[idx] = m->rgen;
    m->cand[m->ncand++] = rank;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static void scan_slot(canh_nids_matcher_t *m, int slot, const uint8_t *p, size_t n,
                      unsigned long long min_end, const pgroup_t *gr)
{
    const blist_t *bl = &m->n->bl[list_of(slot)];
    slot_new_gen(m, slot);
    m->scanned[slot] = 1;
    if (!bl->npat || !n)
        return;
    scan_ctx_t sc = { m, slot, min_end };
    const hs_database_t *db = bl->db;
    if (list_of(slot) == CANH_NB_PACKET) {
        if (!gr || !gr->npat)
            return;                     /* no payload rule can apply */
        db = gr->db;
    }
    if (slot == CANH_NB_STREAM) {
        /* no streaming scan came first: scan what can end in the new bytes */
        hs_stream_t *ts = gr->sdb ? m->tmp_stream[group_owner(m->n, gr)] : NULL;
        if (!ts || hs_reset_stream(ts, 0, NULL, NULL, NULL) != HS_SUCCESS)
            return;
        if (n > UINT32_MAX) {           /* only the end can hold new bytes' matches */
            sc.min_end -= n - UINT32_MAX < sc.min_end ? n - UINT32_MAX : sc.min_end;
            p += n - UINT32_MAX;
            n = UINT32_MAX;
        }
        hs_scan_stream(ts, (const char *)p, (unsigned)n, 0, m->scratch, on_hit, &sc);
        return;
    }
    hs_scan(db, (const char *)p, (unsigned)(n > UINT32_MAX ? UINT32_MAX : n), 0, m->scratch,
            on_hit, &sc);
}

/*
 * A TCP packet whose payload is the end of the stream bytes just scanned
 * (canh_nids_stream, same flow, direction and group: the in-order case) is
 * not scanned again: every pattern inside the payload ended in those bytes,
 * so the stream's hits are a superset of the packet's, and each woken rule
 * is still confirmed on the packet's own bytes. 1 when the PACKET slot was
 * filled so.
 */
static int packet_in_stream(canh_nids_matcher_t *m, const canh_nids_ctx_t *ctx,
                            const pgroup_t *gr, const pgroup_t *gs)
{
    size_t pn = ctx->buf[CANH_NB_PACKET].n, sn = ctx->buf[CANH_NB_STREAM].n;
    const uint8_t *pp = ctx->buf[CANH_NB_PACKET].p, *sp = ctx->buf[CANH_NB_STREAM].p;
    if (!pn || !sp || !gr || !gs || group_owner(m->n, gr) != group_owner(m->n, gs) || !m->pend || !ctx->flow || m->pend_flow != ctx->flow ||
        m->pend_dir != ctx->dir || pn > sn || pn > m->pend_tail || pn > ctx->stream_new ||
        !m->stamp[CANH_NB_PACKET] || memcmp(sp + sn - pn, pp, pn) != 0)
        return 0;
    int ps = CANH_NB_PACKET, ss = CANH_NB_STREAM;
    slot_new_gen(m, ps);
    m->scanned[ps] = 1;
    for (uint32_t k = 0; k < m->nhitp[ss]; k++) {
        uint32_t id = m->hitp[ss][k];
        m->stamp[ps][id] = m->gen[ps];
        m->hitp[ps][m->nhitp[ps]++] = id;
    }
    return 1;
}

void canh_nids_inspect(canh_nids_matcher_t *m, const canh_nids_ctx_t *ctx,
                       canh_nids_alert_fn fn, void *ud)
{
    if (!m || !ctx)
        return;
    const canh_nids_t *n = m->n;
    m->c.inspections++;
    memset(m->scanned, 0, sizeof(m->scanned));
    if (++m->rgen == 0) {
        memset(m->rstamp, 0, n->nrules * sizeof(uint32_t));
        m->rgen = 1;
    }
    m->ncand = 0;
    m->nhits = 0;
    ends_t e = endpoints(ctx);
    const pgroup_t *gr = group_of(n, e.ok, e.proto, ctx->dir, e.sport, e.dport);
    /* STREAM: reassembled TCP bytes, as canh_nids_stream groups them */
    const pgroup_t *gs = e.ok && e.proto == IPPROTO_TCP
                             ? gr : group_of(n, 1, IPPROTO_TCP, ctx->dir, e.sport, e.dport);
    /* scans: every buffer set; STREAM from canh_nids_stream's hits if they are this flow's */
    uint8_t set[NLISTS];
    int nset = 0;
    for (int s = 0; s < NLISTS; s++) {
        if (!ctx->buf[s].p)
            continue;
        set[nset++] = (uint8_t)s;
        if (s == CANH_NB_STREAM) {
            if (m->pend && ctx->flow && m->pend_flow == ctx->flow && m->pend_dir == ctx->dir) {
                m->scanned[s] = 1;
            } else {
                size_t sn = ctx->buf[s].n, nw = ctx->stream_new < sn ? ctx->stream_new : sn;
                scan_slot(m, s, ctx->buf[s].p, sn, sn - nw, gs);
            }
            continue;
        }
        if (s == CANH_NB_PACKET && packet_in_stream(m, ctx, gr, gs))
            continue;
        scan_slot(m, s, ctx->buf[s].p, ctx->buf[s].n, 0, gr);
    }
    if (ctx->buf[CANH_NB_STREAM].p)
        m->pend = 0;                    /* consumed (a transaction's inspection leaves it) */
    for (int k0 = 0; k0 < nset; k0++) {
        int s = set[k0];
        if (!m->scanned[s] || !m->stamp[s])
            continue;
        const blist_t *bl = &n->bl[list_of(s)];
        for (uint32_t k = 0; k < m->nhitp[s]; k++) {
            uint32_t pid = m->hitp[s][k];
            for (uint32_t w = bl->wk_off[pid]; w < bl->wk_off[pid + 1]; w++)
                add_cand(m, bl->wk[w]);
        }
    }
    /* the rules with no fast pattern that the inspection's header may satisfy */
    if (gr)
        for (uint32_t k = 0; k < gr->nalways; k++)
            add_cand(m, gr->always[k]);
    if (!m->ncand)
        return;
    qsort(m->cand, m->ncand, sizeof(uint32_t), cmp_u32);

    canh_app_proto_t app = flow_app(ctx);
    int passed = 0;
    /* a transaction given again: the rules that matched it before are not run again */
    dstate_t *txs = NULL;
    int td = 0;
    if (ctx->tx && ctx->tx_id && ctx->flow && (txs = flow_state(n, ctx->flow, 1))) {
        if (txs->tx_id[0] == ctx->tx_id)
            td = 0;
        else if (txs->tx_id[1] == ctx->tx_id)
            td = 1;
        else {   /* a new one takes the older slot */
            td = txs->tx_id[0] > txs->tx_id[1];
            txs->tx_id[td] = ctx->tx_id;
            txs->ntx[td] = 0;
        }
    }
    for (uint32_t k = 0; k < m->ncand; k++) {
        uint32_t idx = n->by_rank[m->cand[k]];
        const canh_nids_rule_t *r = n->rv.v[idx];
        if (txs) {
            uint32_t j = 0;
            while (j < txs->ntx[td] && txs->txr[td][j] != idx)
                j++;
            if (j < txs->ntx[td])
                continue;
        }
        const dstate_t *st = r->nflowbits ? flow_state(n, ctx->flow, 0) : NULL;
        if (!rule_matches(m, idx, ctx, &e, app, st))
            continue;
        if (txs && txs->ntx[td] < TX_RULES)
            txs->txr[td][txs->ntx[td]++] = idx;
        int noalert = r->nflowbits ? flowbits_apply(n, r, ctx->flow) : 0;
        if (r->action == CANH_NA_PASS) {
            passed = 1;
            continue;
        }
        if (noalert)
            continue;
        if (!threshold_pass(m, idx, r, ctx, &e)) {
            m->c.suppressed_threshold++;
            continue;
        }
        m->hits[m->nhits++] = idx;
    }
    if (passed || !m->nhits || !fn)
        return;
    qsort(m->hits, m->nhits, sizeof(uint32_t), cmp_u32);
    for (uint32_t k = 0; k < m->nhits; k++) {
        canh_nids_hit_t hit = { n->rv.v[m->hits[k]], ctx };
        m->c.alerts++;
        fn(ud, &hit);
    }
}
