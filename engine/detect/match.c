/*
 * engine/detect/match.c -- compiles a rule set into per-field Hyperscan
 * databases and matches events against it (see match.h).
 *
 * Build (start-up or the reload thread; one helper thread while the
 * Hyperscan databases compile):
 *   1. Every rule is checked (tree shape, atom fields, CIDR prefixes) and
 *      every PATTERN regex is compiled once by PCRE2 per distinct (regex,
 *      flags); a regex PCRE2 refuses refuses its rule, the others load.
 *   2. Each field a rule tests gets a "slot" (static field id -> array, a
 *      dynamic name -> hash table). Identical (field, regex, flags) across
 *      rules become one "pattern"; its number is its Hyperscan id, and it
 *      keeps the list of distinct rules that use it.
 *   3. Each distinct regex is classified: an escaped literal with anchors
 *      (most Sigma values) is exact without asking; anything else goes
 *      through hs_expression_info (no bytecode is built): exact, else
 *      HS_FLAG_PREFILTER (a hit is confirmed by PCRE2 on the value that
 *      hit), else PCRE2 only. Then a slot's Hyperscan patterns are split by
 *      the datasets of the rules they serve (one database per distinct
 *      dataset mask, at most MAX_FIELD_DBS), and the block-mode databases
 *      are compiled largest first, on this thread
 *      and one helper thread. If a whole-database compile still fails, the
 *      expression it names is demoted one step and the database compiled
 *      again (after DB_RETRIES, every pattern is tried alone once).
 *   4. Condition trees are flattened into one preorder array (children of
 *      AND/OR sorted cheapest first, so a stamp test short-circuits before a
 *      PCRE2 run). Each rule is classified by 3-valued evaluation with every
 *      Hyperscan-backed atom false and every other atom unknown: "false"
 *      means the rule can only match after a Hyperscan hit (gated); anything
 *      else puts it on the always-evaluated list of each of its datasets.
 *      A gated rule is then listed only under its trigger set (see "Fast
 *      patterns" below), so weak patterns do not wake it.
 *
 * Match (one matcher per worker thread, no malloc in steady state, no lock):
 *   for each field of the event, find its slot, link the value into the
 *   slot's per-event value chain, and hs_scan it with each of the slot's
 *   databases that holds patterns of rules of the event's datasets: a pure
 *   ASCII value as it is, any other value as its NFC and case-folded views
 *   (see "Text" below; regexes whose meaning depends on the mode have a
 *   UTF twin that PCRE2 runs on those). Keyword atoms search the keyword
 *   field, or a JSON event's payload values (see "Keywords"). The match
 *   callback only stamps the pattern with the event's generation number and
 *   appends the pattern's rules to the candidate list (deduplicated by a
 *   per-rule stamp); prefilter patterns are confirmed right there by PCRE2
 *   against the value scanned. Then the candidates plus the always-evaluated
 *   rules of the event's datasets are evaluated; EXISTS/EMPTY/CIDR/NUM/
 *   FIELDREF and PCRE2-only atoms are computed lazily as the short-circuit
 *   evaluation reaches them (PCRE2-only results are cached per event).
 *   A stamp equal to the current generation means "true for this event";
 *   the generation is bumped per event and the stamps cleared on wrap.
 *
 * Ownership: the ruleset owns the rules, PCRE2 codes and Hyperscan
 * databases and is immutable after build (shared by all workers). A matcher
 * owns its scratch, PCRE2 match data/context/JIT stack and stamps.
 */
#include "match.h"
#include "hs_cache.h"
#include "../text.h"

#include <arpa/inet.h>
#include <errno.h>
#include <hs/hs.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdatomic.h>

/* rules.pcre2_match_limit, rules.pcre2_depth_limit: read by canh_matcher_new */
static _Atomic uint32_t pcre_match_limit = CANH_PCRE2_MATCH_LIMIT;
static _Atomic uint32_t pcre_depth_limit = CANH_PCRE2_DEPTH_LIMIT;

enum { MODE_EXACT = CANH_HS_EXACT, MODE_PREFILTER = CANH_HS_PREFILTER, MODE_PCRE = CANH_HS_PCRE_ONLY };

#define MAX_TREE_DEPTH    200       /* deeper conditions are refused */
#define PCRE_MATCH_LIMIT  CANH_PCRE2_MATCH_LIMIT   /* backtracking budget per PCRE2 run */
#define PCRE_DEPTH_LIMIT  CANH_PCRE2_DEPTH_LIMIT   /* interpreter only; JIT uses its stack */
#define JIT_STACK_MIN     (32 * 1024)
#define JIT_STACK_MAX     (1024 * 1024)
#ifndef HS_MAX_EXPANSION
#define HS_MAX_EXPANSION  5000      /* see rx_expanded_size */
#endif
#define DB_RETRIES        8         /* whole-db compiles before checking one by one */
#define NO_LINK           UINT32_MAX

#define COST_STAMP  1u
#define COST_EXISTS 2u
#define COST_DIRECT 8u
#define COST_PCRE   64u

/* ------------------------------------------------------------------ */
/* the compiled form                                                   */

/*
 * Which scans of a value count for a pattern (see "Text" below): a value
 * that is pure ASCII is scanned as it is; a value that is not is scanned
 * as its folded view (F) and its NFC view (N), and the patterns with a UTF
 * twin run the twin on N. on_hit keeps a hit only if the scan's bit is in
 * the pattern's vmask.
 */
#define A_ASCII 1u
#define A_FOLD  2u
#define A_NFC   4u
#define A_TWIN  8u      /* the pattern's own form is for ASCII values only */
#define A_MASK  0xfu
/* ... and which atoms it serves: those on the field itself, or keyword
 * atoms searching it (see "Keywords"); a scan accepts one or both roles. */
#define R_FIELD 0x10u
#define R_KW    0x20u
#define R_MASK  0x30u

typedef struct pat {            /* one distinct (field, regex, flags) */
    pcre2_code *code;           /* shared with every pattern of the same regex */
    uint8_t  mode;              /* MODE_* */
    uint8_t  jit;               /* code is JIT-compiled: use pcre2_jit_match */
    uint8_t  hs_empty;          /* needs HS_FLAG_ALLOWEMPTY */
    uint8_t  lazy;              /* in no rule's trigger set: scanned only on demand */
    uint8_t  vmask;             /* A_* and R_*: the scans whose hits count */
    uint8_t  ujit;              /* ucode is JIT-compiled */
    pcre2_code *ucode;          /* its UTF twin, which PCRE2 runs on non-ASCII values; or NULL */
    uint64_t ds;                /* datasets of the rules that use it */
    uint32_t slot;
    uint32_t rules_off, nrules; /* rules it wakes: rs->pat_rules[off..off+n); after
                                   finish(), only gated rules whose trigger set holds it */
    uint32_t rx, urx;           /* build-time: index into the regex table (urx: twin) */
} pat_t;

/*
 * A field's patterns are split by the datasets of the rules they serve, one
 * database per distinct dataset mask (at most MAX_FIELD_DBS), so a web
 * request never scans the keywords of Linux rules on the same field.
 */
#define MAX_FIELD_DBS 6

typedef struct sdb {
    hs_database_t *db;          /* NULL when none of its patterns is for Hyperscan */
    uint64_t ds;                /* datasets of the rules with a pattern in it */
    uint32_t nhs;               /* patterns in db */
    uint8_t  lazy;              /* holds lazy patterns: scanned when a rule asks */
} sdb_t;

typedef struct slot {           /* one field some rule tests */
    sdb_t   *dbs;               /* ndbs databases; an event scans those whose ds it shares */
    uint32_t ndbs;
    uint64_t db_ds;             /* union of the eager dbs' ds (and of its twins' rules) */
    uint64_t lazy_ds;           /* union of the lazy dbs' ds (and of its twins' rules) */
    uint32_t *ptw, nptw;        /* its Hyperscan patterns that have a UTF twin */
    const char *name;           /* canh name (owned when dynamic) */
    size_t name_len;
    uint16_t field_id;          /* canh_field_id_t or CANH_F_DYNAMIC */
    uint8_t  keyword;           /* keyword atoms' slot of this field (see "Keywords") */
    uint32_t base;              /* the slot whose databases hold its patterns: itself,
                                   or for a keyword slot the field's own slot */
} slot_t;

typedef struct catom {
    uint8_t  kind;              /* canh_atom_kind_t */
    uint8_t  mode;              /* PATTERN: MODE_* */
    uint8_t  lazy;              /* PATTERN: its pattern is lazy (see pat_t) */
    uint8_t  pad;
    uint32_t slot;
    uint32_t pat;               /* PATTERN */
    uint32_t ref_slot;          /* FIELDREF */
    const canh_atom_t *src;     /* CIDR net/prefix, NUM op/num */
} catom_t;

typedef struct cnode {          /* preorder; a subtree is [i, end) */
    uint8_t  op;
    uint32_t arg;               /* ATOM: global atom index */
    uint32_t end;
} cnode_t;

typedef struct rx {             /* one distinct (regex, flags), compiled once */
    char *regex;
    unsigned flags;
    pcre2_code *code;           /* NULL: PCRE2 refused it */
    int errcode;
    size_t erroffset;
    int8_t mode;                /* Hyperscan classification; -1 not yet */
    uint8_t hs_empty;
    uint8_t jit_tried, jit;
} rx_t;

typedef struct itab_ent { uint32_t hash, idx1; } itab_ent_t;   /* idx1 = index + 1; 0 = free */
typedef struct itab { itab_ent_t *e; uint32_t mask, n; } itab_t;

struct canh_ruleset {
    /* hot: touched by every event */
    uint64_t all_ds;
    uint32_t nrules, npats, nslots;
    int16_t  static_slot[CANH_F__COUNT];   /* -1: no rule tests it */
    int16_t  kw_static[CANH_F__COUNT];     /* keyword slot of a static field, or -1 */
    itab_t   dyn;                          /* dynamic field name -> slot (keyword ones too) */
    uint32_t *kw_slots, nkw;               /* every keyword slot */
    slot_t   *slots;
    pat_t    *pats;
    uint32_t *pat_rules;
    uint64_t *rule_ds;
    uint32_t *rule_root;
    cnode_t  *nodes;
    catom_t  *atoms;
    uint32_t  ae_off[CANH_DS_MAX + 1];     /* always-evaluated rules per dataset */
    uint32_t *ae_rules;

    /* cold */
    canh_rule_t **rules;
    uint32_t *rule_atom0;
    rx_t     *rx;
    uint32_t  nrx;
    size_t    natoms, nnodes;
    int       pcre_only;
    int       nodes_ready;              /* trees flattened (plan_lazy or finish) */
    canh_hs_cache_t cache;              /* compiled databases kept (hs_cache.h) */
    canh_ruleset_info_t info;
};

struct canh_matcher {
    /* callback context first */
    const canh_ruleset_t *rs;
    const char *cur_val;
    size_t cur_len;
    uint64_t ev_ds;
    const canh_field_t *ev_fields;
    uint32_t gen;
    uint32_t ncand;
    uint32_t *pat_stamp;        /* pattern true this event */
    uint32_t *rule_stamp;       /* rule already a candidate */
    uint32_t *cand;
    uint32_t *pcre_done;        /* PCRE2-only pattern evaluated this event ... */
    uint8_t  *pcre_val;         /* ... with this result */
    uint32_t *slot_gen;         /* slot has a value this event ... */
    uint32_t *slot_head;        /* ... first of the chain of links */
    uint32_t *lazy_gen;         /* slot's lazy databases scanned this event */
    uint32_t *link_next;        /* a slot's values: link -> next link (NO_LINK ends) */
    uint16_t *link_field;       /* link -> field index */
    uint32_t  nlinks, maxlinks;
    uint32_t  accept;           /* A_* and R_* of the scan running */
    uint32_t  field_roles;      /* R_* a field's own scan serves (see "Keywords") */
    canh_slice_t orig;          /* the event's original line ... */
    int       orig_ascii;       /* ... is pure ASCII */
    uint32_t  view_gen[CANH_EVENT_MAX_FIELDS];   /* views[i] computed this event */
    struct fview {
        uint8_t kind;           /* V_TEXT, V_NONE */
        canh_text_views_t v;
    } views[CANH_EVENT_MAX_FIELDS];
    canh_text_ws_t ws;
    uint32_t *hits;
    uint64_t *hitmap;
    uint64_t  errors;
    /* PCRE2 runs that could not decide (a limit, or another PCRE2 error),
     * per rule, since the last canh_matcher_take_limits (cold) */
    uint32_t *lim_stamp;        /* rule already counted for this event */
    uint64_t *lim_count;        /* events of each rule since the last take ... */
    int      *lim_rc;           /* ... and the first PCRE2 error among them */
    uint32_t *lim_list, nlim;   /* the rules with lim_count > 0 */
    int       explaining;       /* canh_matcher_explain runs: count nothing */
    hs_scratch_t *scratch;
    pcre2_match_data *md;
    pcre2_match_context *mctx;
    pcre2_jit_stack *jstack;
};

/* ------------------------------------------------------------------ */
/* small helpers                                                       */

static void set_err(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || !errlen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static uint32_t hash_bytes(const void *p, size_t n, uint32_t seed)
{
    const unsigned char *s = p;
    uint32_t h = 2166136261u ^ seed;   /* FNV-1a, then a murmur3 finaliser for the low bits */
    for (size_t i = 0; i < n; i++)
        h = (h ^ s[i]) * 16777619u;
    h ^= h >> 16;
    h *= 0x85ebca6bu;
    h ^= h >> 13;
    h *= 0xc2b2ae35u;
    h ^= h >> 16;
    return h;
}

static int itab_init(itab_t *t, uint32_t want)
{
    uint32_t cap = 16;
    while (cap < want * 2)
        cap <<= 1;
    t->e = calloc(cap, sizeof(*t->e));
    if (!t->e)
        return CANH_ENOMEM;
    t->mask = cap - 1;
    t->n = 0;
    return CANH_OK;
}

static void itab_put(itab_t *t, uint32_t hash, uint32_t idx1)
{
    uint32_t i = hash & t->mask;
    while (t->e[i].idx1)
        i = (i + 1) & t->mask;
    t->e[i].hash = hash;
    t->e[i].idx1 = idx1;
}

static int itab_add(itab_t *t, uint32_t hash, uint32_t idx)
{
    if ((t->n + 1) * 2 > t->mask + 1) {
        itab_t g;
        if (itab_init(&g, (t->mask + 1)) != CANH_OK)
            return CANH_ENOMEM;
        for (uint32_t i = 0; i <= t->mask; i++)
            if (t->e[i].idx1)
                itab_put(&g, t->e[i].hash, t->e[i].idx1);
        g.n = t->n;
        free(t->e);
        *t = g;
    }
    itab_put(t, hash, idx + 1);
    t->n++;
    return CANH_OK;
}

static int grow(void **v, uint32_t *cap, uint32_t need, size_t elem)
{
    if (need <= *cap)
        return CANH_OK;
    uint32_t c = *cap ? *cap : 16;
    while (c < need)
        c *= 2;
    void *p = realloc(*v, (size_t)c * elem);
    if (!p)
        return CANH_ENOMEM;
    memset((char *)p + (size_t)*cap * elem, 0, (size_t)(c - *cap) * elem);
    *v = p;
    *cap = c;
    return CANH_OK;
}

static unsigned hs_flags_of(unsigned pat_flags)
{
    unsigned f = HS_FLAG_SINGLEMATCH;
    if (pat_flags & CANH_PAT_CASELESS)  f |= HS_FLAG_CASELESS;
    if (pat_flags & CANH_PAT_DOTALL)    f |= HS_FLAG_DOTALL;
    if (pat_flags & CANH_PAT_MULTILINE) f |= HS_FLAG_MULTILINE;
    if (pat_flags & CANH_PAT_UTF)       f |= HS_FLAG_UTF8 | HS_FLAG_UCP;
    return f;
}

static uint32_t pcre_opts_of(unsigned pat_flags)
{
    /* Byte mode unless the pattern is UTF (the subjects are then always
     * well-formed UTF-8: ASCII values or text views, see engine/text.h). */
    uint32_t o = (pat_flags & CANH_PAT_UTF) ? PCRE2_UTF | PCRE2_UCP : PCRE2_NEVER_UTF;
    if (pat_flags & CANH_PAT_CASELESS)  o |= PCRE2_CASELESS;
    if (pat_flags & CANH_PAT_DOTALL)    o |= PCRE2_DOTALL;
    if (pat_flags & CANH_PAT_MULTILINE) o |= PCRE2_MULTILINE;
    return o;
}

/* ------------------------------------------------------------------ */
/* build                                                               */

typedef struct builder {
    canh_ruleset_t *rs;
    uint32_t caprx, capslots, cappats;
    itab_t rxtab, pattab;
} builder_t;

#define PAT_KNOWN (CANH_PAT_CASELESS | CANH_PAT_DOTALL | CANH_PAT_MULTILINE | CANH_PAT_FOLD | \
                   CANH_PAT_UTF | CANH_PAT_REGEX)

/* Finds or compiles (regex, flags); *out = index. Returns 0, or -1 with why set. */
static int rx_get(builder_t *b, const char *regex, unsigned flags, uint32_t *out,
                  const char *field, char *why, size_t wl)
{
    canh_ruleset_t *rs = b->rs;
    flags &= PAT_KNOWN;
    size_t len = strlen(regex);
    uint32_t h = hash_bytes(regex, len, flags * 0x9e3779b9u);
    for (uint32_t i = h & b->rxtab.mask; b->rxtab.e[i].idx1; i = (i + 1) & b->rxtab.mask) {
        const rx_t *x = &rs->rx[b->rxtab.e[i].idx1 - 1];
        if (b->rxtab.e[i].hash == h && x->flags == flags && strcmp(x->regex, regex) == 0) {
            *out = b->rxtab.e[i].idx1 - 1;
            goto found;
        }
    }
    if (grow((void **)&rs->rx, &b->caprx, rs->nrx + 1, sizeof(rx_t)) != CANH_OK)
        return CANH_ENOMEM;
    rx_t *x = &rs->rx[rs->nrx];
    x->regex = strdup(regex);
    if (!x->regex)
        return CANH_ENOMEM;
    x->flags = flags;
    x->mode = -1;
    int ec;
    PCRE2_SIZE eo;
    x->code = pcre2_compile((PCRE2_SPTR)regex, len, pcre_opts_of(flags), &ec, &eo, NULL);
    if (!x->code) {
        x->errcode = ec;
        x->erroffset = eo;
    }
    if (itab_add(&b->rxtab, h, rs->nrx) != CANH_OK) {
        free(x->regex);
        pcre2_code_free(x->code);
        memset(x, 0, sizeof(*x));
        return CANH_ENOMEM;
    }
    *out = rs->nrx++;
found:
    if (!rs->rx[*out].code) {
        PCRE2_UCHAR msg[160];
        if (pcre2_get_error_message(rs->rx[*out].errcode, msg, sizeof(msg)) < 0)
            snprintf((char *)msg, sizeof(msg), "error %d", rs->rx[*out].errcode);
        snprintf(why, wl, "regex for field %s does not compile: %s at offset %zu",
                 field, (const char *)msg, rs->rx[*out].erroffset);
        return -1;
    }
    return 0;
}

static int check_tree(const canh_rule_t *r, const canh_node_t *n, int depth, char *why, size_t wl)
{
    if (!n) {
        snprintf(why, wl, "condition has an empty node");
        return -1;
    }
    if (depth > MAX_TREE_DEPTH) {
        snprintf(why, wl, "condition nests deeper than %d levels", MAX_TREE_DEPTH);
        return -1;
    }
    switch (n->op) {
    case CANH_NODE_ATOM:
        if (n->atom >= r->natoms) {
            snprintf(why, wl, "condition refers to atom %u, the rule has %zu", n->atom, r->natoms);
            return -1;
        }
        return 0;
    case CANH_NODE_NOT:
        if (n->nkids != 1 || !n->kids) {
            snprintf(why, wl, "'not' with %u operands", n->nkids);
            return -1;
        }
        break;
    case CANH_NODE_AND:
    case CANH_NODE_OR:
        if (!n->nkids || !n->kids) {
            snprintf(why, wl, "'%s' without operands", n->op == CANH_NODE_AND ? "and" : "or");
            return -1;
        }
        break;
    default:
        snprintf(why, wl, "condition node of unknown kind %d", (int)n->op);
        return -1;
    }
    for (uint32_t i = 0; i < n->nkids; i++)
        if (check_tree(r, n->kids[i], depth + 1, why, wl))
            return -1;
    return 0;
}

/* Returns 0 if the rule can be compiled, -1 with a reason, or CANH_ENOMEM. */
static int check_rule(builder_t *b, const canh_rule_t *r, char *why, size_t wl)
{
    if (!r->cond) {
        snprintf(why, wl, "rule has no condition");
        return -1;
    }
    if (r->natoms && !r->atoms) {
        snprintf(why, wl, "rule has no atoms");
        return -1;
    }
    for (size_t i = 0; i < r->natoms; i++) {
        const canh_atom_t *a = &r->atoms[i];
        if (!a->field || !a->field[0]) {
            snprintf(why, wl, "atom %zu has no field", i);
            return -1;
        }
        switch (a->kind) {
        case CANH_ATOM_PATTERN: {
            if (!a->regex) {
                snprintf(why, wl, "pattern for field %s has no regex", a->field);
                return -1;
            }
            uint32_t x;
            int rc = rx_get(b, a->regex, a->pat_flags, &x, a->field, why, wl);
            if (rc)
                return rc;
            break;
        }
        case CANH_ATOM_EXISTS:
        case CANH_ATOM_EMPTY:
            break;
        case CANH_ATOM_CIDR:
            if (!((a->family == 4 && a->prefix >= 0 && a->prefix <= 32) ||
                  (a->family == 6 && a->prefix >= 0 && a->prefix <= 128))) {
                snprintf(why, wl, "CIDR for field %s: bad prefix /%d for IPv%d",
                         a->field, a->prefix, a->family);
                return -1;
            }
            break;
        case CANH_ATOM_NUM:
            if ((unsigned)a->op > CANH_NUM_LTE) {
                snprintf(why, wl, "number test for field %s: unknown operator", a->field);
                return -1;
            }
            break;
        case CANH_ATOM_FIELDREF:
            if (!a->ref_field || !a->ref_field[0]) {
                snprintf(why, wl, "fieldref for field %s names no field", a->field);
                return -1;
            }
            break;
        default:
            snprintf(why, wl, "atom for field %s of unknown kind %d", a->field, (int)a->kind);
            return -1;
        }
    }
    return check_tree(r, r->cond, 0, why, wl);
}

/* The slot of a field (keyword: the keyword atoms' own slot of it). */
static int slot_get(builder_t *b, uint16_t field_id, const char *name, int keyword, uint32_t *out)
{
    canh_ruleset_t *rs = b->rs;
    size_t len = strlen(name);
    int16_t *stab = keyword ? rs->kw_static : rs->static_slot;
    keyword = keyword ? 1 : 0;
    if (field_id >= CANH_F__COUNT)
        field_id = (uint16_t)canh_field_lookup(name, len);   /* events do the same */
    if (field_id < CANH_F__COUNT && stab[field_id] >= 0) {
        *out = (uint32_t)stab[field_id];
        return CANH_OK;
    }
    uint32_t h = 0;
    if (field_id >= CANH_F__COUNT) {
        h = hash_bytes(name, len, 0);
        for (uint32_t i = h & rs->dyn.mask; rs->dyn.e[i].idx1; i = (i + 1) & rs->dyn.mask) {
            const slot_t *s = &rs->slots[rs->dyn.e[i].idx1 - 1];
            if (rs->dyn.e[i].hash == h && s->keyword == keyword && s->name_len == len &&
                memcmp(s->name, name, len) == 0) {
                *out = rs->dyn.e[i].idx1 - 1;
                return CANH_OK;
            }
        }
    }
    if (rs->nslots + 2 >= INT16_MAX ||
        grow((void **)&rs->slots, &b->capslots, rs->nslots + 2, sizeof(slot_t)) != CANH_OK)
        return CANH_ENOMEM;
    uint32_t base = rs->nslots;
    if (keyword && slot_get(b, field_id, name, 0, &base) != CANH_OK)
        return CANH_ENOMEM;
    if (keyword) {
        uint32_t *v = realloc(rs->kw_slots, sizeof(uint32_t) * (rs->nkw + 1));
        if (!v)
            return CANH_ENOMEM;
        rs->kw_slots = v;
        rs->kw_slots[rs->nkw++] = rs->nslots;
    }
    slot_t *s = &rs->slots[rs->nslots];
    s->field_id = field_id;
    s->keyword = (uint8_t)keyword;
    s->base = base;
    if (field_id < CANH_F__COUNT) {
        s->name = canh_field_name(field_id);
        s->name_len = strlen(s->name);
        stab[field_id] = (int16_t)rs->nslots;
    } else {
        char *copy = strdup(name);
        if (!copy)
            return CANH_ENOMEM;
        s->name = copy;
        s->name_len = len;
        if (itab_add(&rs->dyn, h, rs->nslots) != CANH_OK) {
            free(copy);
            s->name = NULL;
            return CANH_ENOMEM;
        }
    }
    *out = rs->nslots++;
    return CANH_OK;
}

/* Classifies a regex for Hyperscan without building a database. */
static int hs_try_info(const char *regex, unsigned flags, int *empty)
{
    hs_expr_info_t *info = NULL;
    hs_compile_error_t *ce = NULL;
    if (hs_expression_info(regex, flags, &info, &ce) != HS_SUCCESS) {
        hs_free_compile_error(ce);
        return -1;
    }
    *empty = info->min_width == 0;
    free(info);   /* allocated by hs's misc allocator, which defaults to malloc */
    return 0;
}

/*
 * An escaped literal with optional \A / \z anchors (what Sigma's contains,
 * startswith, endswith and equals become): Hyperscan always takes it, so
 * the classification needs no call into Hyperscan. *empty: nothing but
 * anchors.
 */
static int rx_is_literal(const char *re, int *empty)
{
    const char *p = re;
    if (p[0] == '\\' && p[1] == 'A')
        p += 2;
    size_t n = 0;
    while (*p) {
        if (p[0] == '\\' && p[1] == 'z' && !p[2])
            break;
        if (*p == '\\') {
            unsigned char c = (unsigned char)p[1];
            if (!c || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
                return 0;   /* \d, \x41, \1 ...: not a plain escape */
            p += 2;
        } else if (strchr("^$.|?*+()[]{}", *p)) {
            return 0;
        } else {
            p++;
        }
        n++;
    }
    *empty = n == 0;
    return 1;
}

/*
 * Hyperscan's compile time explodes on large counted repeats of groups
 * ("(abc|def){30000}" takes minutes; a repeat of one character class is
 * cheap, it has a dedicated engine). Estimates the size of the regex with
 * group repeats expanded; above HS_MAX_EXPANSION the regex goes to PCRE2
 * alone. Rough by design: it only has to be cheap and never too low.
 */
static unsigned long rx_expanded_size(const char *re)
{
    enum { MAXD = 64 };
    unsigned long size[MAXD + 1] = { 0 }, last[MAXD + 1] = { 0 };
    int d = 0, last_group = 0;
    const unsigned long cap = 1ul << 40;
    for (const char *p = re; *p;) {
        unsigned long item = 1;
        int group = 0;
        if (*p == '\\') {
            p++;
            if (*p == 'Q') {                       /* \Q...\E: a literal run */
                const char *e = strstr(p, "\\E");
                item = e ? (unsigned long)(e - p) : strlen(p);
                p = e ? e + 2 : p + strlen(p);
            } else if (*p && p[1] == '{' && strchr("xpPgkNo", *p)) {
                const char *e = strchr(p, '}');
                p = e ? e + 1 : p + strlen(p);
            } else if (*p) {
                p++;
            }
        } else if (*p == '[') {
            p++;
            if (*p == '^')
                p++;
            if (*p == ']')
                p++;
            while (*p && *p != ']') {
                if (*p == '\\' && p[1])
                    p++;
                else if (*p == '[' && p[1] == ':') {
                    const char *e = strstr(p, ":]");
                    if (e)
                        p = e + 1;
                }
                p++;
            }
            if (*p)
                p++;
        } else if (*p == '(') {
            if (d == MAXD)
                return cap;
            d++;
            size[d] = 0;
            last[d] = 0;
            p++;
            continue;
        } else if (*p == ')') {
            if (d == 0)
                return cap;
            item = size[d] ? size[d] : 1;
            d--;
            group = 1;
            p++;
        } else if (*p == '|') {
            p++;
            continue;
        } else if (*p == '{' && (p[1] >= '0' && p[1] <= '9')) {
            /* a counted repeat of the last item, if it parses as one */
            char *e;
            unsigned long lo = strtoul(p + 1, &e, 10), hi = lo;
            if (*e == ',') {
                if (e[1] >= '0' && e[1] <= '9')
                    hi = strtoul(e + 1, &e, 10);
                else
                    e++;
            }
            if (*e == '}') {
                if (last_group && last[d]) {
                    unsigned long bound = hi > lo ? hi : lo;
                    unsigned long add = bound > cap / last[d] ? cap : last[d] * bound;
                    size[d] += add;
                    if (size[d] > cap)
                        return cap;
                }
                p = e + 1;
                last_group = 0;
                continue;
            }
            p++;
        } else {
            p++;
        }
        size[d] += item;
        last[d] = item;
        last_group = group;
    }
    return size[0];
}

static void rx_classify(rx_t *x)
{
    if (x->mode >= 0)
        return;
    unsigned f = hs_flags_of(x->flags);
    int empty = 0;
    if (rx_is_literal(x->regex, &empty))
        x->mode = MODE_EXACT;
    else if (rx_expanded_size(x->regex) > HS_MAX_EXPANSION)
        x->mode = MODE_PCRE;
    else if (hs_try_info(x->regex, f, &empty) == 0)
        x->mode = MODE_EXACT;
    else if (hs_try_info(x->regex, f | HS_FLAG_PREFILTER, &empty) == 0)
        x->mode = MODE_PREFILTER;
    else
        x->mode = MODE_PCRE;
    x->hs_empty = (uint8_t)empty;
}

/*
 * Could this byte-mode regex (the user's, all ASCII) decide otherwise in
 * UTF mode with Unicode properties, on a non-ASCII value? Anything but
 * literals, anchors, groups, alternation, quantifiers and positive classes
 * of ASCII characters says yes (`.`, `\w`, `\b`, `[^...]`, `\x{..}`,
 * caseless, inline options ...): such a regex gets a UTF twin.
 */
static int rx_utf_sensitive(const char *re, unsigned flags)
{
    if (flags & CANH_PAT_CASELESS)
        return 1;   /* Unicode case folding: k ~ K (Kelvin), s ~ ſ */
    for (const char *p = re; *p; p++) {
        if (*p == '.') {
            return 1;
        } else if (*p == '\\') {
            char e = *++p;
            if (!e)
                return 1;
            if ((e >= 'a' && e <= 'z') || (e >= 'A' && e <= 'Z'))
                if (!strchr("AzZGtnrfea", e))
                    return 1;   /* \w \d \s \b \p \x \X \R \N \Q ... */
        } else if (*p == '[') {
            if (p[1] == '^')
                return 1;
            for (p++; *p && *p != ']'; p++) {
                if (*p == '[' && p[1] == ':')
                    return 1;
                if (*p == '\\') {
                    char e = *++p;
                    if (!e || (e >= 'a' && e <= 'z') || (e >= 'A' && e <= 'Z'))
                        return 1;
                }
            }
            if (!*p)
                return 1;
        } else if (*p == '(' && p[1] == '?') {
            char c = p[2];
            if (!(c == ':' || c == '=' || c == '!' || c == '<' || c == 'P' || c == '\''))
                return 1;   /* inline options, conditionals, callouts ... */
        }
    }
    return 0;
}

/*
 * The UTF twin of pattern p's regex, if it needs one (see
 * rx_utf_sensitive): the same regex in UTF mode with Unicode properties,
 * which PCRE2 (JIT) runs on the NFC view of non-ASCII values in place of
 * the byte-mode form. Not Hyperscan: UCP databases compile several times
 * slower, and the twins are few (Sigma's own values never need one).
 */
static int pat_twin(builder_t *b, pat_t *p)
{
    canh_ruleset_t *rs = b->rs;
    unsigned flags = rs->rx[p->rx].flags;
    if ((flags & (CANH_PAT_REGEX | CANH_PAT_UTF)) != CANH_PAT_REGEX ||
        !rx_utf_sensitive(rs->rx[p->rx].regex, flags))
        return CANH_OK;
    char *re = strdup(rs->rx[p->rx].regex);   /* rx_get may move rs->rx */
    if (!re)
        return CANH_ENOMEM;
    uint32_t t;
    char why[8];
    int rc = rx_get(b, re, flags | CANH_PAT_UTF, &t, "", why, sizeof(why));
    free(re);
    if (rc == CANH_ENOMEM)
        return CANH_ENOMEM;
    if (rc)
        return CANH_OK;   /* PCRE2 refuses it in UTF mode: the byte form it is */
    p->urx = t;
    p->ucode = rs->rx[t].code;
    p->vmask = (uint8_t)((p->vmask & R_MASK) | A_ASCII | A_TWIN);
    return CANH_OK;
}

static int pat_get(builder_t *b, uint32_t slot, uint32_t rxi, int keyword, uint32_t *out)
{
    canh_ruleset_t *rs = b->rs;
    uint8_t role = keyword ? R_KW : R_FIELD;
    uint32_t key[3] = { slot, rxi, role };
    uint32_t h = hash_bytes(key, sizeof(key), 7);
    for (uint32_t i = h & b->pattab.mask; b->pattab.e[i].idx1; i = (i + 1) & b->pattab.mask) {
        const pat_t *p = &rs->pats[b->pattab.e[i].idx1 - 1];
        if (p->slot == slot && p->rx == rxi && (p->vmask & role)) {
            *out = b->pattab.e[i].idx1 - 1;
            return CANH_OK;
        }
    }
    if (grow((void **)&rs->pats, &b->cappats, rs->npats + 1, sizeof(pat_t)) != CANH_OK ||
        itab_add(&b->pattab, h, rs->npats) != CANH_OK)
        return CANH_ENOMEM;
    pat_t *p = &rs->pats[rs->npats];
    rx_t *x = &rs->rx[rxi];
    memset(p, 0, sizeof(*p));
    p->slot = slot;
    p->rx = rxi;
    p->code = x->code;
    p->vmask = role | ((x->flags & CANH_PAT_FOLD) ? A_ASCII | A_FOLD : A_ASCII | A_NFC);
    if (rs->pcre_only) {
        p->mode = MODE_PCRE;
    } else {
        rx_classify(x);
        p->mode = (uint8_t)x->mode;
        p->hs_empty = x->hs_empty;
    }
    *out = rs->npats++;
    return pat_twin(b, p);
}

/* One step down: exact -> prefilter (if Hyperscan takes it) -> PCRE2 only. */
static void pat_demote(canh_ruleset_t *rs, pat_t *p)
{
    int empty = 0;
    if (p->mode == MODE_EXACT &&
        hs_try_info(rs->rx[p->rx].regex, hs_flags_of(rs->rx[p->rx].flags) | HS_FLAG_PREFILTER,
                    &empty) == 0) {
        p->mode = MODE_PREFILTER;
        p->hs_empty = (uint8_t)empty;
    } else {
        p->mode = MODE_PCRE;
    }
}

static unsigned pat_hs_flags(const canh_ruleset_t *rs, const pat_t *p)
{
    unsigned f = hs_flags_of(rs->rx[p->rx].flags);
    if (p->mode == MODE_PREFILTER)
        f |= HS_FLAG_PREFILTER;
    if (p->hs_empty)
        f |= HS_FLAG_ALLOWEMPTY;
    return f;
}

/*
 * The database cache: a compiled database is stored as
 * CACHE_DIR/<key>.hsdb, the key a SHA-256 over the file format, Hyperscan's
 * version, the platform it compiles for (the CPU features and tuning
 * hs_populate_platform reports, the word size) and the exact expressions,
 * flags and ids compiled, so any change to a rule, to Hyperscan or to the
 * machine makes a new key. The file holds its key too, and a SHA-256 over
 * its magic, key and payload: a file copied or renamed over another
 * (another key inside) or damaged is refused, counted and compiled again,
 * never loaded. Files are written to a temporary name and renamed, so a
 * reader never sees half a database; nothing in the folder is opened
 * through a symbolic link, and the folder must be canh's own
 * (canh_dir_private).
 */
#define CACHE_MAGIC "canh-hsdb-2\n"
#define CACHE_MAGIC_LEN (sizeof(CACHE_MAGIC) - 1)
#define CACHE_HEAD (CACHE_MAGIC_LEN + 32 + 32)   /* magic, key, digest */
#define CACHE_MAX ((size_t)1 << 30)

static void cache_key(unsigned kind, const char *const *exprs, const size_t *lens,
                      const unsigned *flags, const unsigned *ids, uint32_t k,
                      unsigned char key[32], char hex[65])
{
    unsigned int mdlen = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    hex[0] = '\0';
    if (!ctx)
        return;
    const char *v = hs_version();
    hs_platform_info_t plat;
    memset(&plat, 0, sizeof(plat));
    if (hs_populate_platform(&plat) != HS_SUCCESS) {
        EVP_MD_CTX_free(ctx);
        return;   /* no key: no cache */
    }
    unsigned long long cpu[3] = { plat.tune, plat.cpu_features, sizeof(void *) };
    int ok = EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) &&
             EVP_DigestUpdate(ctx, CACHE_MAGIC, CACHE_MAGIC_LEN) &&
             EVP_DigestUpdate(ctx, v, strlen(v) + 1) && EVP_DigestUpdate(ctx, cpu, sizeof(cpu));
    /* other kinds than match.c's own add their kind and lengths (match.c's
     * keys stay what they were) */
    if (ok && kind != CANH_HS_CACHE_REGEX)
        ok = EVP_DigestUpdate(ctx, &kind, sizeof(kind));
    for (uint32_t i = 0; ok && i < k; i++) {
        size_t len = lens ? lens[i] : strlen(exprs[i]) + 1;
        ok = EVP_DigestUpdate(ctx, &flags[i], sizeof(flags[i])) &&
             EVP_DigestUpdate(ctx, &ids[i], sizeof(ids[i])) &&
             (!lens || EVP_DigestUpdate(ctx, &len, sizeof(len))) &&
             EVP_DigestUpdate(ctx, exprs[i], len);
    }
    if (ok && EVP_DigestFinal_ex(ctx, key, &mdlen) && mdlen == 32)
        for (int i = 0; i < 32; i++)
            snprintf(hex + 2 * i, 3, "%02x", key[i]);
    EVP_MD_CTX_free(ctx);
}

/* SHA-256 over the magic, the key and the payload of a cache file. */
static int cache_digest(const unsigned char key[32], const void *p, size_t n,
                        unsigned char md[32])
{
    unsigned int len = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) &&
             EVP_DigestUpdate(ctx, CACHE_MAGIC, CACHE_MAGIC_LEN) &&
             EVP_DigestUpdate(ctx, key, 32) && EVP_DigestUpdate(ctx, p, n) &&
             EVP_DigestFinal_ex(ctx, md, &len) && len == 32;
    EVP_MD_CTX_free(ctx);
    return ok;
}

/* A cache file refused: counted, and the first of a build named in the log. */
static void cache_refused(canh_hs_cache_t *c, const char *name, const char *why)
{
    __atomic_fetch_add(&c->refused, 1, __ATOMIC_RELAXED);
    if (__atomic_exchange_n(&c->warned, 1, __ATOMIC_RELAXED) == 0)
        CANH_WARN("rule cache: '%s/%s' %s; compiling it again (more such files are counted, "
                  "not named: `canh rules check --cache` shows how many)",
                  c->dir, name, why);
}

/* The database stored under key, or NULL: missing (quietly) or refused
 * (cache_refused says why). */
static hs_database_t *cache_load(canh_hs_cache_t *c, const unsigned char key[32],
                                 const char *hex)
{
    char name[80];
    snprintf(name, sizeof(name), "%s.hsdb", hex);
    int fd = canh_openat_nofollow(c->fd, name, O_RDONLY, 0);
    if (fd < 0) {
        if (errno != ENOENT)
            cache_refused(c, name, canh_open_strerror(errno));
        return NULL;
    }
    hs_database_t *db = NULL;
    unsigned char *buf = NULL;
    const char *why = NULL;
    struct stat st;
    size_t n = 0;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
        why = "is not a regular file";
    else if ((n = (size_t)st.st_size) <= CACHE_HEAD || n > CACHE_MAX)
        why = "is damaged (cut short)";
    else if (!(buf = malloc(n)))
        why = "cannot be read: out of memory";
    for (size_t got = 0; !why && got < n;) {
        ssize_t r = pread(fd, buf + got, n - got, (off_t)got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            why = "cannot be read";
        else
            got += (size_t)r;
    }
    unsigned char md[32];
    if (!why && memcmp(buf, CACHE_MAGIC, CACHE_MAGIC_LEN) != 0)
        why = "is not a cache file of this canh";
    else if (!why && memcmp(buf + CACHE_MAGIC_LEN, key, 32) != 0)
        why = "was made for other rules (its key does not match its name: copied or "
              "renamed over another)";
    else if (!why && (!cache_digest(key, buf + CACHE_HEAD, n - CACHE_HEAD, md) ||
                      memcmp(md, buf + CACHE_MAGIC_LEN + 32, 32) != 0))
        why = "is damaged (checksum)";
    else if (!why && hs_deserialize_database((const char *)buf + CACHE_HEAD, n - CACHE_HEAD,
                                             &db) != HS_SUCCESS) {
        db = NULL;
        why = "cannot be read by this Hyperscan";
    }
    if (why)
        cache_refused(c, name, why);
    free(buf);
    close(fd);
    return db;
}

static int write_all(int fd, const void *p, size_t n)
{
    for (size_t at = 0; at < n;) {
        ssize_t w = write(fd, (const char *)p + at, n - at);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -1;
        at += (size_t)w;
    }
    return 0;
}

static void cache_store(canh_hs_cache_t *c, const unsigned char key[32], const char *hex,
                        const hs_database_t *db)
{
    char *bytes = NULL;
    size_t n = 0;
    if (hs_serialize_database(db, &bytes, &n) != HS_SUCCESS)
        return;
    char name[80], tmp[128];
    snprintf(name, sizeof(name), "%s.hsdb", hex);
    snprintf(tmp, sizeof(tmp), "%s.%ld.%lx.tmp", name, (long)getpid(),
             (unsigned long)pthread_self());
    unsigned char md[32];
    int fd = cache_digest(key, bytes, n, md) ? canh_create_tmp(c->fd, tmp, 0600) : -1;
    int ok = fd >= 0 && write_all(fd, CACHE_MAGIC, CACHE_MAGIC_LEN) == 0 &&
             write_all(fd, key, 32) == 0 && write_all(fd, md, 32) == 0 &&
             write_all(fd, bytes, n) == 0;
    int e = errno;
    if (fd >= 0 && close(fd) != 0 && ok)
        ok = 0, e = errno;
    if (ok && renameat(c->fd, tmp, c->fd, name) != 0)
        ok = 0, e = errno;
    if (!ok) {
        if (fd >= 0)
            unlinkat(c->fd, tmp, 0);
        CANH_WARN("cannot write the Hyperscan cache file %s/%s: %s", c->dir,
                  fd >= 0 ? name : tmp, canh_open_strerror(e));
    }
    free(bytes);
}

/* ---- the cache for other builders (hs_cache.h) ---- */

int canh_hs_cache_open(canh_hs_cache_t *c, const char *dir, char *err, size_t errlen)
{
    memset(c, 0, sizeof(*c));
    c->fd = -1;
    if (!dir)
        return CANH_OK;
    if (!(c->dir = strdup(dir))) {
        set_err(err, errlen, "out of memory");
        return CANH_ENOMEM;
    }
    int fd = canh_dir_private("rule cache folder", dir, err, errlen);
    if (fd < 0) {
        free(c->dir);
        c->dir = NULL;
        return fd == CANH_EINVAL ? CANH_EINVAL : CANH_EIO;
    }
    c->fd = fd;
    return CANH_OK;
}

void canh_hs_cache_close(canh_hs_cache_t *c)
{
    if (!c)
        return;
    free(c->dir);
    if (c->fd >= 0)
        close(c->fd);
    c->dir = NULL;
    c->fd = -1;
}

hs_database_t *canh_hs_cache_load(canh_hs_cache_t *c, unsigned kind, const char *const *exprs,
                                  const size_t *lens, const unsigned *flags, const unsigned *ids,
                                  unsigned n, unsigned char key[32], char hex[65])
{
    hex[0] = '\0';
    if (!c || c->fd < 0)
        return NULL;
    cache_key(kind, exprs, lens, flags, ids, n, key, hex);
    hs_database_t *db = hex[0] ? cache_load(c, key, hex) : NULL;
    if (db)
        __atomic_fetch_add(&c->hits, 1, __ATOMIC_RELAXED);
    return db;
}

void canh_hs_cache_store(canh_hs_cache_t *c, const unsigned char key[32], const char *hex,
                         const hs_database_t *db)
{
    if (c && c->fd >= 0 && hex && hex[0] && db)
        cache_store(c, key, hex, db);
}

/* Compiles the database of one slot from pats[list[0..n)]. */
static int compile_group(canh_ruleset_t *rs, sdb_t *s, const char *name,
                         const uint32_t *list, uint32_t n)
{
    const char **exprs = malloc(sizeof(*exprs) * (n ? n : 1));
    unsigned *flags = malloc(sizeof(*flags) * (n ? n : 1));
    unsigned *ids = malloc(sizeof(*ids) * (n ? n : 1));
    int rc = CANH_OK, tries = 0, checked = 0;
    if (!exprs || !flags || !ids) {
        rc = CANH_ENOMEM;
        goto out;
    }
    for (;;) {
        uint32_t k = 0;
        for (uint32_t i = 0; i < n; i++) {
            const pat_t *p = &rs->pats[list[i]];
            if (p->mode == MODE_PCRE)
                continue;
            exprs[k] = rs->rx[p->rx].regex;
            flags[k] = pat_hs_flags(rs, p);
            ids[k] = list[i];
            k++;
        }
        s->nhs = k;
        if (!k)
            break;
        /* the cache only holds first-try compiles: then the patterns' modes
         * are the ones planned, and the database matches them exactly */
        char key[65] = "";
        unsigned char kmd[32];
        int first_try = !tries && !checked;
        if (first_try && rs->cache.fd >= 0) {
            cache_key(CANH_HS_CACHE_REGEX, exprs, NULL, flags, ids, k, kmd, key);
            if (key[0] && (s->db = cache_load(&rs->cache, kmd, key))) {
                __atomic_fetch_add(&rs->cache.hits, 1, __ATOMIC_RELAXED);
                break;
            }
        }
        hs_compile_error_t *ce = NULL;
        if (hs_compile_multi(exprs, flags, ids, k, HS_MODE_BLOCK, NULL, &s->db, &ce) == HS_SUCCESS) {
            if (key[0])
                cache_store(&rs->cache, kmd, key, s->db);
            break;
        }
        int bad = ce ? ce->expression : -1;
        char msg[200];
        snprintf(msg, sizeof(msg), "%s", ce && ce->message ? ce->message : "unknown error");
        hs_free_compile_error(ce);
        s->db = NULL;
        if (bad >= 0 && (unsigned)bad < k && tries++ < DB_RETRIES) {
            pat_demote(rs, &rs->pats[ids[bad]]);
            continue;
        }
        if (!checked) {
            /* Many failures, or one the database names no expression for:
             * compile each pattern alone, demote every one that fails. */
            checked = 1;
            for (uint32_t i = 0; i < k; i++) {
                pat_t *p = &rs->pats[ids[i]];
                for (;;) {
                    hs_database_t *one = NULL;
                    hs_compile_error_t *ce1 = NULL;
                    unsigned f1 = pat_hs_flags(rs, p);
                    if (hs_compile(exprs[i], f1, HS_MODE_BLOCK, NULL, &one, &ce1) == HS_SUCCESS) {
                        hs_free_database(one);
                        break;
                    }
                    hs_free_compile_error(ce1);
                    pat_demote(rs, p);
                    if (p->mode == MODE_PCRE)
                        break;
                }
            }
            continue;
        }
        CANH_WARN("Hyperscan could not compile the %u patterns of field %s (%s); "
                  "PCRE2 runs them alone", k, name, msg);
        for (uint32_t i = 0; i < k; i++)
            rs->pats[ids[i]].mode = MODE_PCRE;
        s->nhs = 0;
        break;
    }
out:
    free(exprs);
    free(flags);
    free(ids);
    return rc;
}

static uint32_t atom_cost(const catom_t *a)
{
    switch (a->kind) {
    case CANH_ATOM_PATTERN: return a->mode == MODE_PCRE ? COST_PCRE : COST_STAMP;
    case CANH_ATOM_EXISTS:
    case CANH_ATOM_EMPTY:   return COST_EXISTS;
    default:                return COST_DIRECT;
    }
}

static uint32_t tree_cost(const canh_ruleset_t *rs, uint32_t atom0, const canh_node_t *n)
{
    if (n->op == CANH_NODE_ATOM)
        return atom_cost(&rs->atoms[atom0 + n->atom]);
    uint64_t c = 0;
    for (uint32_t i = 0; i < n->nkids; i++)
        c += tree_cost(rs, atom0, n->kids[i]);
    return c > UINT32_MAX / 2 ? UINT32_MAX / 2 : (uint32_t)c;
}

static size_t tree_size(const canh_node_t *n)
{
    size_t k = 1;
    for (uint32_t i = 0; i < n->nkids; i++)
        k += tree_size(n->kids[i]);
    return k;
}

typedef struct kid_order { uint32_t cost, idx; } kid_order_t;

static int cmp_kid(const void *a, const void *b)
{
    const kid_order_t *x = a, *y = b;
    if (x->cost != y->cost)
        return x->cost < y->cost ? -1 : 1;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static int flatten(canh_ruleset_t *rs, uint32_t atom0, const canh_node_t *n, uint32_t *pos)
{
    uint32_t i = (*pos)++;
    rs->nodes[i].op = (uint8_t)n->op;
    if (n->op == CANH_NODE_ATOM) {
        rs->nodes[i].arg = atom0 + n->atom;
    } else if (n->nkids == 1) {
        if (flatten(rs, atom0, n->kids[0], pos))
            return CANH_ENOMEM;
    } else {
        kid_order_t *ord = malloc(sizeof(*ord) * n->nkids);
        if (!ord)
            return CANH_ENOMEM;
        for (uint32_t k = 0; k < n->nkids; k++) {
            ord[k].cost = tree_cost(rs, atom0, n->kids[k]);
            ord[k].idx = k;
        }
        qsort(ord, n->nkids, sizeof(*ord), cmp_kid);
        for (uint32_t k = 0; k < n->nkids; k++)
            if (flatten(rs, atom0, n->kids[ord[k].idx], pos)) {
                free(ord);
                return CANH_ENOMEM;
            }
        free(ord);
    }
    rs->nodes[i].end = *pos;
    return CANH_OK;
}

enum { K_FALSE = 0, K_TRUE = 1, K_UNKNOWN = 2 };

/* Kleene evaluation: Hyperscan-backed atoms false, all others unknown. */
static int kleene(const canh_ruleset_t *rs, uint32_t i)
{
    const cnode_t *n = &rs->nodes[i];
    switch (n->op) {
    case CANH_NODE_ATOM: {
        const catom_t *a = &rs->atoms[n->arg];
        return a->kind == CANH_ATOM_PATTERN && a->mode != MODE_PCRE ? K_FALSE : K_UNKNOWN;
    }
    case CANH_NODE_NOT: {
        int v = kleene(rs, i + 1);
        return v == K_UNKNOWN ? v : !v;
    }
    case CANH_NODE_AND: {
        int all_true = 1;
        for (uint32_t k = i + 1; k < n->end; k = rs->nodes[k].end) {
            int v = kleene(rs, k);
            if (v == K_FALSE)
                return K_FALSE;
            if (v != K_TRUE)
                all_true = 0;
        }
        return all_true ? K_TRUE : K_UNKNOWN;
    }
    default: {   /* OR */
        int all_false = 1;
        for (uint32_t k = i + 1; k < n->end; k = rs->nodes[k].end) {
            int v = kleene(rs, k);
            if (v == K_TRUE)
                return K_TRUE;
            if (v != K_FALSE)
                all_false = 0;
        }
        return all_false ? K_FALSE : K_UNKNOWN;
    }
    }
}

static int index_rules(builder_t *b, char *err, size_t errlen)
{
    canh_ruleset_t *rs = b->rs;
    size_t natoms = 0, nnodes = 0;
    for (uint32_t r = 0; r < rs->nrules; r++) {
        natoms += rs->rules[r]->natoms;
        nnodes += tree_size(rs->rules[r]->cond);
    }
    if (natoms >= UINT32_MAX / 2 || nnodes >= UINT32_MAX / 2) {
        set_err(err, errlen, "rule set too large (%zu atoms, %zu nodes)", natoms, nnodes);
        return CANH_ENOMEM;
    }
    rs->natoms = natoms;
    rs->nnodes = nnodes;
    rs->atoms = calloc(natoms ? natoms : 1, sizeof(*rs->atoms));
    rs->nodes = calloc(nnodes ? nnodes : 1, sizeof(*rs->nodes));
    rs->rule_atom0 = calloc(rs->nrules + 1, sizeof(uint32_t));
    rs->rule_root = calloc(rs->nrules + 1, sizeof(uint32_t));
    rs->rule_ds = calloc(rs->nrules + 1, sizeof(uint64_t));
    if (!rs->atoms || !rs->nodes || !rs->rule_atom0 || !rs->rule_root || !rs->rule_ds ||
        itab_init(&b->pattab, (uint32_t)natoms + 1) != CANH_OK)
        goto nomem;

    /* atoms -> slots and patterns */
    uint32_t ai = 0;
    for (uint32_t r = 0; r < rs->nrules; r++) {
        const canh_rule_t *rule = rs->rules[r];
        rs->rule_atom0[r] = ai;
        rs->rule_ds[r] = rule->datasets;
        rs->all_ds |= rule->datasets;
        for (size_t k = 0; k < rule->natoms; k++, ai++) {
            const canh_atom_t *a = &rule->atoms[k];
            catom_t *ca = &rs->atoms[ai];
            ca->kind = (uint8_t)a->kind;
            ca->src = a;
            if (slot_get(b, a->field_id, a->field, a->keyword, &ca->slot) != CANH_OK)
                goto nomem;
            if (a->kind == CANH_ATOM_PATTERN) {
                uint32_t x;
                char why[8];
                if (rx_get(b, a->regex, a->pat_flags, &x, a->field, why, sizeof(why)) != 0 ||
                    pat_get(b, rs->slots[ca->slot].base, x, a->keyword, &ca->pat) != CANH_OK)
                    goto nomem;
            } else if (a->kind == CANH_ATOM_FIELDREF) {
                if (slot_get(b, a->ref_field_id, a->ref_field, 0, &ca->ref_slot) != CANH_OK)
                    goto nomem;
            }
        }
    }
    rs->rule_atom0[rs->nrules] = ai;

    /* pattern -> distinct rules (CSR) */
    uint32_t *last = malloc(sizeof(uint32_t) * (rs->npats ? rs->npats : 1));
    if (!last)
        goto nomem;
    for (uint32_t p = 0; p < rs->npats; p++)
        last[p] = UINT32_MAX;
    size_t total = 0;
    for (uint32_t r = 0; r < rs->nrules; r++)
        for (uint32_t a = rs->rule_atom0[r]; a < rs->rule_atom0[r + 1]; a++)
            if (rs->atoms[a].kind == CANH_ATOM_PATTERN && last[rs->atoms[a].pat] != r) {
                last[rs->atoms[a].pat] = r;
                rs->pats[rs->atoms[a].pat].nrules++;
                total++;
            }
    rs->pat_rules = malloc(sizeof(uint32_t) * (total ? total : 1));
    if (!rs->pat_rules) {
        free(last);
        goto nomem;
    }
    uint32_t off = 0;
    for (uint32_t p = 0; p < rs->npats; p++) {
        rs->pats[p].rules_off = off;
        off += rs->pats[p].nrules;
        rs->pats[p].nrules = 0;
        last[p] = UINT32_MAX;
    }
    for (uint32_t r = 0; r < rs->nrules; r++)
        for (uint32_t a = rs->rule_atom0[r]; a < rs->rule_atom0[r + 1]; a++)
            if (rs->atoms[a].kind == CANH_ATOM_PATTERN && last[rs->atoms[a].pat] != r) {
                pat_t *p = &rs->pats[rs->atoms[a].pat];
                last[rs->atoms[a].pat] = r;
                rs->pat_rules[p->rules_off + p->nrules++] = r;
            }
    free(last);
    return CANH_OK;
nomem:
    set_err(err, errlen, "out of memory indexing %u rules", rs->nrules);
    return CANH_ENOMEM;
}

/* Database compiles share nothing but the atomic work counter: each job owns
 * one database of one slot and its patterns; the regex table is only read. */
typedef struct compile_job {
    uint32_t slot, grp, off, n;   /* patterns: list[off .. off + n) */
} compile_job_t;

typedef struct compile_jobs {
    canh_ruleset_t *rs;
    const uint32_t *list;       /* pattern indexes, bucketed by slot and group */
    compile_job_t *job;         /* largest first */
    uint32_t njobs;
    uint32_t next;              /* atomic */
    int rc;                     /* atomic: first error */
} compile_jobs_t;

static void *compile_worker(void *arg)
{
    compile_jobs_t *j = arg;
    for (;;) {
        uint32_t k = __atomic_fetch_add(&j->next, 1, __ATOMIC_RELAXED);
        if (k >= j->njobs || __atomic_load_n(&j->rc, __ATOMIC_RELAXED) != CANH_OK)
            break;
        const compile_job_t *jb = &j->job[k];
        slot_t *sl = &j->rs->slots[jb->slot];
        int rc = compile_group(j->rs, &sl->dbs[jb->grp], sl->name, j->list + jb->off, jb->n);
        if (rc != CANH_OK)
            __atomic_store_n(&j->rc, rc, __ATOMIC_RELAXED);
    }
    return NULL;
}

static int cmp_job_size(const void *a, const void *b)
{
    const compile_job_t *x = a, *y = b;
    if (x->n != y->n)
        return x->n > y->n ? -1 : 1;
    return x->slot != y->slot ? (x->slot > y->slot) - (x->slot < y->slot)
                              : (x->grp > y->grp) - (x->grp < y->grp);
}

static int cmp_by_mask(const void *a, const void *b, void *arg)
{
    const uint64_t *pds = arg;
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    if (pds[x] != pds[y])
        return pds[x] < pds[y] ? -1 : 1;
    return (x > y) - (x < y);
}

/*
 * Splits one slot's patterns (list[0..n)) into databases by dataset mask,
 * reordering list so each database's patterns are contiguous. When masks
 * nest (one a subset of the other) and one side has at most
 * SMALL_GROUP patterns, they share a database: an event that must scan
 * both saves a scan's fixed cost (~60 ns), and the events that only needed
 * the larger pay ~1 ns per extra pattern. (Merging large nested groups
 * made web requests scan the proxy rules' user agents: slower.) If more
 * than MAX_FIELD_DBS remain, the smallest share the last one.
 */
#define SMALL_GROUP 16
static int group_slot(slot_t *sl, uint32_t *list, uint32_t n, const uint64_t *pds, int lazy,
                      compile_job_t *jobs, uint32_t *njobs, uint32_t slot, uint32_t base)
{
    qsort_r(list, n, sizeof(*list), cmp_by_mask, (void *)pds);
    size_t sz = n ? n : 1;
    uint64_t *mask = malloc(sizeof(uint64_t) * sz);   /* distinct masks, in list order */
    uint64_t *gm = malloc(sizeof(uint64_t) * sz);     /* a group's mask, at its root */
    uint32_t *grp = malloc(sizeof(uint32_t) * sz);    /* mask -> group root */
    uint32_t *cnt = calloc(sz, sizeof(uint32_t));     /* patterns per root */
    uint32_t *at = malloc(sizeof(uint32_t) * sz);     /* pattern -> mask index */
    uint32_t *tmp = malloc(sizeof(uint32_t) * sz);
    uint8_t *taken = calloc(sz, 1);
    int rc = CANH_ENOMEM;
    if (!mask || !gm || !grp || !cnt || !at || !tmp || !taken)
        goto out;
    uint32_t nm = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (!nm || mask[nm - 1] != pds[list[i]])
            mask[nm++] = pds[list[i]];
        at[i] = nm - 1;
    }
    for (uint32_t a = 0; a < nm; a++) {
        grp[a] = a;
        gm[a] = mask[a];
    }
    for (uint32_t i = 0; i < n; i++)
        cnt[at[i]]++;
    /* merge small nested groups until none qualify (few masks: quadratic is fine) */
    for (int changed = 1; changed;) {
        changed = 0;
        for (uint32_t a = 0; a < nm; a++)
            for (uint32_t b = a + 1; b < nm && grp[a] == a; b++) {
                uint64_t both = gm[a] & gm[b];
                if (grp[b] != b || (both != gm[a] && both != gm[b]) ||
                    (cnt[a] > SMALL_GROUP && cnt[b] > SMALL_GROUP))
                    continue;
                gm[a] |= gm[b];
                cnt[a] += cnt[b];
                cnt[b] = 0;
                for (uint32_t c = 0; c < nm; c++)
                    if (grp[c] == b)
                        grp[c] = a;
                changed = 1;
            }
    }
    /* the largest groups keep their own database; the rest join the last */
    uint32_t roots[MAX_FIELD_DBS], nr = 0;
    for (;;) {
        uint32_t best = UINT32_MAX;
        for (uint32_t a = 0; a < nm; a++)
            if (grp[a] == a && !taken[a] && (best == UINT32_MAX || cnt[a] > cnt[best]))
                best = a;
        if (best == UINT32_MAX)
            break;
        taken[best] = 1;
        if (nr < MAX_FIELD_DBS) {
            roots[nr++] = best;
            continue;
        }
        uint32_t last = roots[nr - 1];
        gm[last] |= gm[best];
        for (uint32_t c = 0; c < nm; c++)
            if (grp[c] == best)
                grp[c] = last;
    }
    /* reorder list by database; one compile job per database (sl->dbs has room) */
    uint32_t o = 0;
    for (uint32_t r = 0; r < nr; r++) {
        uint32_t start = o, g = sl->ndbs++;
        for (uint32_t i = 0; i < n; i++)
            if (grp[at[i]] == roots[r])
                tmp[o++] = list[i];
        sl->dbs[g].ds = gm[roots[r]];
        sl->dbs[g].lazy = (uint8_t)lazy;
        jobs[(*njobs)++] = (compile_job_t){ slot, g, base + start, o - start };
    }
    memcpy(list, tmp, sizeof(uint32_t) * n);
    rc = CANH_OK;
out:
    free(mask);
    free(gm);
    free(grp);
    free(cnt);
    free(at);
    free(tmp);
    free(taken);
    return rc;
}

static int compile_databases(canh_ruleset_t *rs, char *err, size_t errlen)
{
    uint32_t *start = calloc(rs->nslots + 2, sizeof(uint32_t));
    uint32_t *fill = calloc(rs->nslots + 1, sizeof(uint32_t));
    uint32_t *list = malloc(sizeof(uint32_t) * (rs->npats ? rs->npats : 1));
    uint64_t *pds = calloc(rs->npats ? rs->npats : 1, sizeof(uint64_t));
    compile_job_t *jobs = malloc(sizeof(compile_job_t) * (rs->nslots * 2 * MAX_FIELD_DBS + 1));
    int rc = CANH_OK;
    if (!start || !fill || !list || !pds || !jobs) {
        rc = CANH_ENOMEM;
        goto out;
    }
    /* each pattern's datasets: those of every rule that uses it */
    for (uint32_t p = 0; p < rs->npats; p++)
        for (uint32_t k = 0; k < rs->pats[p].nrules; k++)
            pds[p] |= rs->rule_ds[rs->pat_rules[rs->pats[p].rules_off + k]];
    for (uint32_t p = 0; p < rs->npats; p++)
        start[rs->pats[p].slot + 1]++;
    for (uint32_t s = 0; s < rs->nslots; s++)
        start[s + 1] += start[s];
    memcpy(fill, start, sizeof(uint32_t) * rs->nslots);
    /* per slot: eager patterns first, then lazy ones */
    for (int lazy = 0; lazy < 2; lazy++)
        for (uint32_t p = 0; p < rs->npats; p++)
            if (rs->pats[p].lazy == lazy)
                list[fill[rs->pats[p].slot]++] = p;
    compile_jobs_t j = { .rs = rs, .list = list, .job = jobs };
    for (uint32_t s = 0; s < rs->nslots && rc == CANH_OK; s++) {
        uint32_t n = start[s + 1] - start[s], neager = 0;
        if (!n)
            continue;
        slot_t *sl = &rs->slots[s];
        if (!(sl->dbs = calloc(2 * MAX_FIELD_DBS, sizeof(sdb_t)))) {
            rc = CANH_ENOMEM;
            break;
        }
        while (neager < n && !rs->pats[list[start[s] + neager]].lazy)
            neager++;
        if (neager)
            rc = group_slot(sl, list + start[s], neager, pds, 0, jobs, &j.njobs, s, start[s]);
        if (rc == CANH_OK && n > neager)
            rc = group_slot(sl, list + start[s] + neager, n - neager, pds, 1, jobs, &j.njobs,
                            s, start[s] + neager);
    }
    if (rc != CANH_OK)
        goto out;
    qsort(jobs, j.njobs, sizeof(*jobs), cmp_job_size);

    /* Hyperscan's compiler is thread-safe: one helper thread beside this one. */
    pthread_t helper;
    int helped = j.njobs > 1 && pthread_create(&helper, NULL, compile_worker, &j) == 0;
    compile_worker(&j);
    if (helped)
        pthread_join(helper, NULL);
    rc = j.rc;
out:
    if (rc != CANH_OK)
        set_err(err, errlen, "out of memory compiling Hyperscan databases");
    free(start);
    free(fill);
    free(list);
    free(pds);
    free(jobs);
    return rc;
}

/*
 * Fast patterns. A gated rule can only be true if some Hyperscan pattern of
 * it hit, but not every pattern is worth waking it for: `cs-method: GET`
 * hits on nearly every web request. So each gated rule is registered only
 * on a trigger set T: patterns such that "condition true" implies "some
 * pattern of T hit". For an atom T = {its pattern}; for OR, the union of
 * the children's sets; for AND, the cheapest child's set; NOT and
 * non-Hyperscan atoms have none. The cost of a set estimates how often it
 * fires: a pattern with a longest literal run of L bytes costs 2^-L, and a
 * whole-value equality (`\A...\z`, an enumeration like a method, status or
 * record type) at least 1/4. Other patterns still set their hit stamps, so
 * conditions evaluate exactly as before; only fewer rules wake up.
 */
#define TRIG_NONE 1e30

static double pat_weight(const char *re)
{
    size_t run = 0, best = 0, len = strlen(re);
    int anchored = len >= 4 && strncmp(re, "\\A", 2) == 0 && strcmp(re + len - 2, "\\z") == 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)re[i];
        int literal;
        if (c == '\\' && i + 1 < len) {
            unsigned char e = (unsigned char)re[++i];
            literal = !((e >= 'a' && e <= 'z') || (e >= 'A' && e <= 'Z') || (e >= '0' && e <= '9'));
        } else if (c == '[') {   /* a class: skip it, it breaks the run */
            while (i + 1 < len && re[i + 1] != ']')
                i += re[i + 1] == '\\' ? 2 : 1;
            i++;
            literal = 0;
        } else {
            literal = !strchr("^$.|?*+(){}", c);
        }
        if (literal) {
            run++;
            /* a quantifier after it makes this byte optional */
            if (i + 1 < len && strchr("?*{", re[i + 1]))
                run--, literal = 0;
        }
        if (!literal) {
            if (run > best)
                best = run;
            run = 0;
        }
    }
    if (run > best)
        best = run;
    double w = 1.0;
    for (size_t k = 0; k < best && k < 24; k++)
        w /= 2;
    return anchored && w < 0.25 ? 0.25 : w;
}

static double trig_cost(const canh_ruleset_t *rs, const double *pw, uint32_t i)
{
    const cnode_t *n = &rs->nodes[i];
    switch (n->op) {
    case CANH_NODE_ATOM: {
        const catom_t *a = &rs->atoms[n->arg];
        return a->kind == CANH_ATOM_PATTERN && a->mode != MODE_PCRE ? pw[a->pat] : TRIG_NONE;
    }
    case CANH_NODE_NOT:
        return TRIG_NONE;
    case CANH_NODE_AND: {
        double best = TRIG_NONE;
        for (uint32_t k = i + 1; k < n->end; k = rs->nodes[k].end) {
            double c = trig_cost(rs, pw, k);
            if (c < best)
                best = c;
        }
        return best;
    }
    default: {   /* OR */
        double sum = 0;
        for (uint32_t k = i + 1; k < n->end; k = rs->nodes[k].end) {
            double c = trig_cost(rs, pw, k);
            if (c >= TRIG_NONE)
                return TRIG_NONE;
            sum += c;
        }
        return sum;
    }
    }
}

/* Appends rule r to the trigger patterns under node i; fn(ud, pat) per pattern. */
static void trig_collect(const canh_ruleset_t *rs, const double *pw, uint32_t i,
                         void (*fn)(void *ud, uint32_t pat), void *ud)
{
    const cnode_t *n = &rs->nodes[i];
    if (n->op == CANH_NODE_ATOM) {
        fn(ud, rs->atoms[n->arg].pat);
    } else if (n->op == CANH_NODE_AND) {
        uint32_t bk = 0;
        double best = TRIG_NONE;
        for (uint32_t k = i + 1; k < n->end; k = rs->nodes[k].end) {
            double c = trig_cost(rs, pw, k);
            if (c < best)
                best = c, bk = k;
        }
        trig_collect(rs, pw, bk, fn, ud);
    } else {   /* OR (NOT never has a trigger set) */
        for (uint32_t k = i + 1; k < n->end; k = rs->nodes[k].end)
            trig_collect(rs, pw, k, fn, ud);
    }
}

typedef struct trig_ctx {
    canh_ruleset_t *rs;
    uint32_t rule;
    uint32_t *last;     /* per pattern: last rule added (dedupe) */
    int fill;           /* 0: count, 1: fill */
    size_t total;
} trig_ctx_t;

static void trig_add(void *ud, uint32_t pat)
{
    trig_ctx_t *t = ud;
    pat_t *p = &t->rs->pats[pat];
    if (t->last[pat] == t->rule)
        return;
    t->last[pat] = t->rule;
    if (t->fill)
        t->rs->pat_rules[p->rules_off + p->nrules] = t->rule;
    p->nrules++;
    t->total++;
}

static void trig_lazy(void *ud, uint32_t pat)
{
    trig_ctx_t *t = ud;
    if (t->rs->pats[pat].lazy)
        t->total++;
}

/*
 * Rebuilds pat_rules so each gated rule is listed only under its trigger
 * set. A rule that would be woken by a lazy pattern (never scanned unless
 * asked) is made always-evaluated instead: *always is updated.
 */
static int index_triggers(canh_ruleset_t *rs, uint8_t *always)
{
    double *pw = malloc(sizeof(double) * (rs->npats ? rs->npats : 1));
    uint32_t *last = malloc(sizeof(uint32_t) * (rs->npats ? rs->npats : 1));
    uint8_t *use_trig = calloc(rs->nrules + 1, 1);
    if (!pw || !last || !use_trig) {
        free(pw), free(last), free(use_trig);
        return CANH_ENOMEM;
    }
    for (uint32_t p = 0; p < rs->npats; p++)
        pw[p] = pat_weight(rs->rx[rs->pats[p].rx].regex);
    trig_ctx_t t = { .rs = rs, .last = last };
    for (t.fill = 0; t.fill < 2; t.fill++) {
        for (uint32_t p = 0; p < rs->npats; p++) {
            rs->pats[p].nrules = 0;
            last[p] = UINT32_MAX;
        }
        for (uint32_t r = 0; r < rs->nrules; r++) {
            if (always[r])
                continue;   /* woken for every event of its datasets anyway */
            t.rule = r;
            if (!t.fill) {
                use_trig[r] = trig_cost(rs, pw, rs->rule_root[r]) < TRIG_NONE;
                trig_ctx_t lz = { .rs = rs };
                if (use_trig[r])
                    trig_collect(rs, pw, rs->rule_root[r], trig_lazy, &lz);
                else
                    for (uint32_t a = rs->rule_atom0[r]; a < rs->rule_atom0[r + 1]; a++)
                        if (rs->atoms[a].kind == CANH_ATOM_PATTERN)
                            trig_lazy(&lz, rs->atoms[a].pat);
                if (lz.total) {
                    always[r] = 1;
                    continue;
                }
            }
            if (use_trig[r]) {
                trig_collect(rs, pw, rs->rule_root[r], trig_add, &t);
            } else {
                /* gated, but no trigger set found (e.g. NOT NOT x): every pattern wakes it */
                for (uint32_t a = rs->rule_atom0[r]; a < rs->rule_atom0[r + 1]; a++)
                    if (rs->atoms[a].kind == CANH_ATOM_PATTERN)
                        trig_add(&t, rs->atoms[a].pat);
            }
        }
        if (!t.fill) {
            uint32_t *v = realloc(rs->pat_rules, sizeof(uint32_t) * (t.total ? t.total : 1));
            if (!v) {
                free(pw), free(last), free(use_trig);
                return CANH_ENOMEM;
            }
            rs->pat_rules = v;
            uint32_t off = 0;
            for (uint32_t p = 0; p < rs->npats; p++) {
                rs->pats[p].rules_off = off;
                off += rs->pats[p].nrules;
            }
        }
    }
    free(pw), free(last), free(use_trig);
    return CANH_OK;
}

/* Flattens every rule's tree into rs->nodes (children ordered by cost). */
static int flatten_all(canh_ruleset_t *rs)
{
    for (size_t a = 0; a < rs->natoms; a++)
        if (rs->atoms[a].kind == CANH_ATOM_PATTERN)
            rs->atoms[a].mode = rs->pats[rs->atoms[a].pat].mode;
    uint32_t pos = 0;
    for (uint32_t r = 0; r < rs->nrules; r++) {
        rs->rule_root[r] = pos;
        if (flatten(rs, rs->rule_atom0[r], rs->rules[r]->cond, &pos) != CANH_OK)
            return CANH_ENOMEM;
    }
    rs->nodes_ready = 1;
    return CANH_OK;
}

static void mark_eager(void *ud, uint32_t pat)
{
    canh_ruleset_t *rs = ud;
    rs->pats[pat].lazy = 0;
}

/*
 * Before the databases are built: a pattern that is in no gated rule's
 * trigger set can never wake a rule, so it is only needed when a woken
 * rule's condition asks for it. Such patterns are "lazy": they go into
 * separate databases, scanned once per event and field on first demand
 * (cs-method: GET, sc-status: 200, every `not filter` value ...).
 */
static int plan_lazy(canh_ruleset_t *rs)
{
    if (flatten_all(rs) != CANH_OK)
        return CANH_ENOMEM;
    double *pw = malloc(sizeof(double) * (rs->npats ? rs->npats : 1));
    if (!pw)
        return CANH_ENOMEM;
    for (uint32_t p = 0; p < rs->npats; p++) {
        pw[p] = pat_weight(rs->rx[rs->pats[p].rx].regex);
        rs->pats[p].lazy = 1;
    }
    for (uint32_t r = 0; r < rs->nrules; r++) {
        uint32_t root = rs->rule_root[r];
        if (kleene(rs, root) != K_FALSE)
            continue;   /* always evaluated: asks for what it needs */
        if (trig_cost(rs, pw, root) < TRIG_NONE) {
            trig_collect(rs, pw, root, mark_eager, rs);
        } else {
            for (uint32_t a = rs->rule_atom0[r]; a < rs->rule_atom0[r + 1]; a++)
                if (rs->atoms[a].kind == CANH_ATOM_PATTERN)
                    rs->pats[rs->atoms[a].pat].lazy = 0;
        }
    }
    for (size_t a = 0; a < rs->natoms; a++)
        if (rs->atoms[a].kind == CANH_ATOM_PATTERN)
            rs->atoms[a].lazy = rs->pats[rs->atoms[a].pat].lazy;
    free(pw);
    return CANH_OK;
}

static int finish(canh_ruleset_t *rs, char *err, size_t errlen)
{
    /* JIT every regex PCRE2 will run; final modes onto atoms and slots */
    for (uint32_t p = 0; p < rs->npats; p++) {
        pat_t *pt = &rs->pats[p];
        rx_t *x = &rs->rx[pt->rx];
        if (pt->mode != MODE_EXACT && !x->jit_tried) {
            x->jit_tried = 1;
            x->jit = pcre2_jit_compile(x->code, PCRE2_JIT_COMPLETE) == 0;
        }
        pt->jit = x->jit;
        if (pt->ucode) {
            rx_t *ux = &rs->rx[pt->urx];   /* PCRE2 runs every twin */
            if (!ux->jit_tried) {
                ux->jit_tried = 1;
                ux->jit = pcre2_jit_compile(ux->code, PCRE2_JIT_COMPLETE) == 0;
            }
            pt->ujit = ux->jit;
        }
        switch (pt->mode) {
        case MODE_EXACT:     rs->info.hs_exact++; break;
        case MODE_PREFILTER: rs->info.hs_prefilter++; break;
        default:             rs->info.pcre_only++; break;
        }
    }
    for (size_t a = 0; a < rs->natoms; a++) {
        catom_t *ca = &rs->atoms[a];
        if (ca->kind == CANH_ATOM_PATTERN)
            ca->mode = rs->pats[ca->pat].mode;
        else
            rs->info.direct++;
    }
    for (uint32_t s = 0; s < rs->nslots; s++)
        for (uint32_t g = 0; g < rs->slots[s].ndbs; g++)
            if (rs->slots[s].dbs[g].db) {
                rs->info.databases++;
                if (rs->slots[s].dbs[g].lazy)
                    rs->slots[s].lazy_ds |= rs->slots[s].dbs[g].ds;
                else
                    rs->slots[s].db_ds |= rs->slots[s].dbs[g].ds;
            }
    /* twins of patterns in Hyperscan: the slot's scan runs them on
     * non-ASCII values (a pattern PCRE2 runs alone runs its twin itself,
     * in eval_atom) */
    for (uint32_t p = 0; p < rs->npats; p++) {
        pat_t *pt = &rs->pats[p];
        for (uint32_t k = 0; k < pt->nrules; k++)
            pt->ds |= rs->rule_ds[rs->pat_rules[pt->rules_off + k]];
        if (!pt->ucode || pt->mode == MODE_PCRE)
            continue;
        slot_t *sl = &rs->slots[pt->slot];
        uint32_t *v = realloc(sl->ptw, sizeof(uint32_t) * (sl->nptw + 1));
        if (!v)
            goto nomem;
        sl->ptw = v;
        sl->ptw[sl->nptw++] = p;
        if (pt->lazy)
            sl->lazy_ds |= pt->ds;
        else
            sl->db_ds |= pt->ds;
    }

    /* trees, gating, always-evaluated lists */
    uint8_t *always = calloc(rs->nrules + 1, 1);
    if (!always)
        goto nomem;
    if (!rs->nodes_ready && flatten_all(rs) != CANH_OK) {
        free(always);
        goto nomem;
    }
    for (uint32_t r = 0; r < rs->nrules; r++)
        always[r] = rs->pcre_only || kleene(rs, rs->rule_root[r]) != K_FALSE;
    /* triggers first: a rule whose trigger set holds a lazy pattern (a
     * pattern Hyperscan demoted after planning) is evaluated always */
    if (index_triggers(rs, always) != CANH_OK) {
        free(always);
        goto nomem;
    }
    for (uint32_t r = 0; r < rs->nrules; r++)
        if (always[r])
            rs->info.always_eval++;
    size_t total = 0;
    for (int d = 0; d < CANH_DS_MAX; d++) {
        rs->ae_off[d] = (uint32_t)total;
        for (uint32_t r = 0; r < rs->nrules; r++)
            if (always[r] && (rs->rule_ds[r] & CANH_DS_BIT(d)))
                total++;
    }
    rs->ae_off[CANH_DS_MAX] = (uint32_t)total;
    rs->ae_rules = malloc(sizeof(uint32_t) * (total ? total : 1));
    if (!rs->ae_rules) {
        free(always);
        goto nomem;
    }
    for (int d = 0; d < CANH_DS_MAX; d++) {
        uint32_t k = rs->ae_off[d];
        for (uint32_t r = 0; r < rs->nrules; r++)
            if (always[r] && (rs->rule_ds[r] & CANH_DS_BIT(d)))
                rs->ae_rules[k++] = r;
    }
    free(always);
    rs->info.rules = rs->nrules;
    rs->info.cache_hits = rs->cache.hits;
    rs->info.cache_refused = rs->cache.refused;
    rs->info.atoms = rs->natoms;
    return CANH_OK;
nomem:
    set_err(err, errlen, "out of memory finishing the rule set");
    return CANH_ENOMEM;
}

static int build(canh_ruleset_t **out, canh_rulevec_t *rules, canh_refuse_fn refuse, void *ud,
                 char *err, size_t errlen, int pcre_only, const char *cache_dir)
{
    if (!out || !rules) {
        set_err(err, errlen, "canh_ruleset_build: no output or no rules");
        return CANH_EINVAL;
    }
    *out = NULL;
    /* The rules move into the rule set now, whatever happens next. */
    canh_rule_t **in = rules->v;
    size_t nin = rules->n;
    rules->v = NULL;
    rules->n = rules->cap = 0;

    builder_t b = { 0 };
    canh_ruleset_t *rs = calloc(1, sizeof(*rs));
    int rc = CANH_ENOMEM;
    if (!rs || nin >= UINT32_MAX / 2)
        goto fail_in;
    b.rs = rs;
    rs->pcre_only = pcre_only;
    rs->cache.fd = -1;
    if (cache_dir && !(rs->cache.dir = strdup(cache_dir)))
        goto fail_in;
    if (cache_dir && !pcre_only &&
        (rs->cache.fd = canh_dir_private("rule cache folder", cache_dir, err, errlen)) < 0) {
        rc = rs->cache.fd == CANH_EINVAL ? CANH_EINVAL : CANH_EIO;
        rs->cache.fd = -1;
        goto fail_dir;
    }
    for (int i = 0; i < CANH_F__COUNT; i++)
        rs->static_slot[i] = rs->kw_static[i] = -1;
    rs->rules = malloc(sizeof(*rs->rules) * (nin ? nin : 1));
    if (!rs->rules || itab_init(&b.rxtab, 1024) != CANH_OK || itab_init(&rs->dyn, 16) != CANH_OK)
        goto fail_in;

    size_t i = 0;
    for (; i < nin; i++) {
        canh_rule_t *r = in[i];
        if (!r)
            continue;
        char why[512];
        int ck = check_rule(&b, r, why, sizeof(why));
        if (ck == CANH_ENOMEM)
            goto fail_in;
        if (ck) {
            if (refuse)
                refuse(ud, r->file ? r->file : "-", r->line, r->id ? r->id : "-", why);
            canh_rule_free(r);
            in[i] = NULL;
            continue;
        }
        rs->rules[rs->nrules++] = r;
        in[i] = NULL;
    }
    free(in);
    in = NULL;

    if ((rc = index_rules(&b, err, errlen)) != CANH_OK)
        goto fail;
    if (!pcre_only && plan_lazy(rs) != CANH_OK) {
        set_err(err, errlen, "out of memory planning the rule set");
        rc = CANH_ENOMEM;
        goto fail;
    }
    if (!pcre_only && (rc = compile_databases(rs, err, errlen)) != CANH_OK)
        goto fail;
    if ((rc = finish(rs, err, errlen)) != CANH_OK)
        goto fail;
    free(b.rxtab.e);
    free(b.pattab.e);
    *out = rs;
    return CANH_OK;

fail_in:
    set_err(err, errlen, "out of memory building the rule set");
fail_dir:
    if (in)
        for (size_t k = 0; k < nin; k++)
            canh_rule_free(in[k]);
    free(in);
fail:
    free(b.rxtab.e);
    free(b.pattab.e);
    canh_ruleset_free(rs);
    return rc;
}

int canh_ruleset_build(canh_ruleset_t **out, canh_rulevec_t *rules,
                       canh_refuse_fn refuse, void *ud, char *err, size_t errlen)
{
    return build(out, rules, refuse, ud, err, errlen, 0, NULL);
}

int canh_ruleset_build_pcre_only(canh_ruleset_t **out, canh_rulevec_t *rules,
                                 canh_refuse_fn refuse, void *ud, char *err, size_t errlen)
{
    return build(out, rules, refuse, ud, err, errlen, 1, NULL);
}

int canh_ruleset_build_with(canh_ruleset_t **out, canh_rulevec_t *rules,
                            const canh_build_opts_t *opts, canh_refuse_fn refuse, void *ud,
                            char *err, size_t errlen)
{
    return build(out, rules, refuse, ud, err, errlen, 0, opts ? opts->cache_dir : NULL);
}

void canh_ruleset_free(canh_ruleset_t *rs)
{
    if (!rs)
        return;
    free(rs->cache.dir);
    if (rs->cache.fd >= 0)
        close(rs->cache.fd);
    for (uint32_t r = 0; r < rs->nrules; r++)
        canh_rule_free(rs->rules[r]);
    free(rs->rules);
    for (uint32_t s = 0; s < rs->nslots; s++) {
        for (uint32_t g = 0; g < rs->slots[s].ndbs; g++)
            hs_free_database(rs->slots[s].dbs[g].db);
        free(rs->slots[s].dbs);
        free(rs->slots[s].ptw);
        if (rs->slots[s].field_id >= CANH_F__COUNT)
            free((char *)rs->slots[s].name);
    }
    free(rs->slots);
    for (uint32_t x = 0; x < rs->nrx; x++) {
        free(rs->rx[x].regex);
        pcre2_code_free(rs->rx[x].code);
    }
    free(rs->rx);
    free(rs->dyn.e);
    free(rs->kw_slots);
    free(rs->pats);
    free(rs->pat_rules);
    free(rs->rule_ds);
    free(rs->rule_root);
    free(rs->rule_atom0);
    free(rs->nodes);
    free(rs->atoms);
    free(rs->ae_rules);
    free(rs);
}

size_t canh_ruleset_size(const canh_ruleset_t *rs)
{
    return rs ? rs->nrules : 0;
}

const canh_rule_t *canh_ruleset_rule(const canh_ruleset_t *rs, uint32_t idx)
{
    return rs && idx < rs->nrules ? rs->rules[idx] : NULL;
}

void canh_ruleset_info(const canh_ruleset_t *rs, canh_ruleset_info_t *info)
{
    if (!info)
        return;
    if (!rs) {
        memset(info, 0, sizeof(*info));
        return;
    }
    *info = rs->info;
}

int canh_ruleset_patterns(const canh_ruleset_t *rs,
                          void (*fn)(void *ud, const char *field, const char *regex,
                                     unsigned pat_flags, int hs_mode, uint32_t rule_idx),
                          void *ud)
{
    if (!rs || !fn)
        return CANH_EINVAL;
    for (uint32_t r = 0; r < rs->nrules; r++)
        for (uint32_t a = rs->rule_atom0[r]; a < rs->rule_atom0[r + 1]; a++) {
            const catom_t *ca = &rs->atoms[a];
            if (ca->kind == CANH_ATOM_PATTERN)
                fn(ud, ca->src->field, ca->src->regex, ca->src->pat_flags, ca->mode, r);
        }
    return CANH_OK;
}

/* ------------------------------------------------------------------ */
/* matcher                                                             */

canh_matcher_t *canh_matcher_new(const canh_ruleset_t *rs, char *err, size_t errlen)
{
    if (!rs) {
        set_err(err, errlen, "canh_matcher_new: no rule set");
        return NULL;
    }
    canh_matcher_t *m = calloc(1, sizeof(*m));
    if (!m)
        goto nomem;
    m->rs = rs;
    m->gen = 0;
    m->pat_stamp = calloc(rs->npats + 1, sizeof(uint32_t));
    m->pcre_done = calloc(rs->npats + 1, sizeof(uint32_t));
    m->pcre_val = calloc(rs->npats + 1, 1);
    m->rule_stamp = calloc(rs->nrules + 1, sizeof(uint32_t));
    m->cand = calloc(rs->nrules + 1, sizeof(uint32_t));
    m->hits = calloc(rs->nrules + 1, sizeof(uint32_t));
    m->hitmap = calloc(rs->nrules / 64 + 1, sizeof(uint64_t));
    m->slot_gen = calloc(rs->nslots + 1, sizeof(uint32_t));
    m->slot_head = calloc(rs->nslots + 1, sizeof(uint32_t));
    m->lazy_gen = calloc(rs->nslots + 1, sizeof(uint32_t));
    m->maxlinks = CANH_EVENT_MAX_FIELDS * (1 + rs->nkw);   /* a value in its slot and each keyword slot */
    m->link_next = calloc(m->maxlinks, sizeof(uint32_t));
    m->link_field = calloc(m->maxlinks, sizeof(uint16_t));
    canh_text_ws_init(&m->ws);
    m->lim_stamp = calloc(rs->nrules + 1, sizeof(uint32_t));
    m->lim_count = calloc(rs->nrules + 1, sizeof(uint64_t));
    m->lim_rc = calloc(rs->nrules + 1, sizeof(int));
    m->lim_list = calloc(rs->nrules + 1, sizeof(uint32_t));
    if (!m->pat_stamp || !m->pcre_done || !m->pcre_val || !m->rule_stamp || !m->cand ||
        !m->hits || !m->hitmap || !m->slot_gen || !m->slot_head || !m->lazy_gen ||
        !m->link_next || !m->link_field || !m->lim_stamp || !m->lim_count || !m->lim_rc ||
        !m->lim_list)
        goto nomem;
    for (uint32_t s = 0; s < rs->nslots; s++)
    for (uint32_t g = 0; g < rs->slots[s].ndbs; g++) {
        if (!rs->slots[s].dbs[g].db)
            continue;
        hs_error_t he = hs_alloc_scratch(rs->slots[s].dbs[g].db, &m->scratch);
        if (he != HS_SUCCESS) {
            set_err(err, errlen, "Hyperscan scratch for field %s: error %d",
                    rs->slots[s].name, (int)he);
            canh_matcher_free(m);
            return NULL;
        }
    }
    m->md = pcre2_match_data_create(1, NULL);
    m->mctx = pcre2_match_context_create(NULL);
    m->jstack = pcre2_jit_stack_create(JIT_STACK_MIN, JIT_STACK_MAX, NULL);
    if (!m->md || !m->mctx || !m->jstack)
        goto nomem;
    pcre2_set_match_limit(m->mctx, atomic_load(&pcre_match_limit));
    pcre2_set_depth_limit(m->mctx, atomic_load(&pcre_depth_limit));
    pcre2_jit_stack_assign(m->mctx, NULL, m->jstack);
    return m;
nomem:
    set_err(err, errlen, "out of memory for a matcher");
    canh_matcher_free(m);
    return NULL;
}

void canh_matcher_free(canh_matcher_t *m)
{
    if (!m)
        return;
    hs_free_scratch(m->scratch);
    pcre2_match_data_free(m->md);
    pcre2_match_context_free(m->mctx);
    pcre2_jit_stack_free(m->jstack);
    free(m->pat_stamp);
    free(m->pcre_done);
    free(m->pcre_val);
    free(m->rule_stamp);
    free(m->cand);
    free(m->hits);
    free(m->hitmap);
    free(m->slot_gen);
    free(m->slot_head);
    free(m->lazy_gen);
    free(m->link_next);
    free(m->link_field);
    free(m->lim_stamp);
    free(m->lim_count);
    free(m->lim_rc);
    free(m->lim_list);
    canh_text_ws_free(&m->ws);
    free(m);
}

uint64_t canh_matcher_errors(const canh_matcher_t *m)
{
    return m ? m->errors : 0;
}

void canh_match_set_pcre2_limits(uint32_t match_limit, uint32_t depth_limit)
{
    atomic_store(&pcre_match_limit, match_limit ? match_limit : PCRE_MATCH_LIMIT);
    atomic_store(&pcre_depth_limit, depth_limit ? depth_limit : PCRE_DEPTH_LIMIT);
}

void canh_matcher_take_limits(canh_matcher_t *m, canh_limit_fn fn, void *ud)
{
    if (!m)
        return;
    for (uint32_t i = 0; i < m->nlim; i++) {
        uint32_t r = m->lim_list[i];
        if (fn)
            fn(ud, r, m->lim_count[r], m->lim_rc[r]);
        m->lim_count[r] = 0;
        m->lim_rc[r] = 0;
    }
    m->nlim = 0;
}

const char *canh_pcre2_error_text(int rc, char *buf, size_t len)
{
    if (!len)
        return buf;
    if (rc == PCRE2_ERROR_MATCHLIMIT)
        snprintf(buf, len, "the match limit (rules.pcre2_match_limit)");
    else if (rc == PCRE2_ERROR_DEPTHLIMIT)
        snprintf(buf, len, "the depth limit (rules.pcre2_depth_limit)");
    else if (rc == PCRE2_ERROR_JIT_STACKLIMIT)
        snprintf(buf, len, "the JIT stack limit");
    else if (pcre2_get_error_message(rc, (PCRE2_UCHAR *)buf, len) < 0)
        snprintf(buf, len, "PCRE2 error %d", rc);
    return buf;
}

/* A PCRE2 run of pattern p that ended in an error (rc: a limit, most
 * often): the pattern counts as "no match" for this event, and every rule
 * that uses it and sees the event could not decide on it; each such rule
 * is counted once per event. Cold: the run that failed cost far more than
 * this walk over the atoms. */
static __attribute__((noinline, cold)) void pcre_fail(canh_matcher_t *m, const pat_t *p, int rc)
{
    m->errors++;
    if (m->explaining)
        return;
    const canh_ruleset_t *rs = m->rs;
    const uint32_t id = (uint32_t)(p - rs->pats);
    for (uint32_t r = 0; r < rs->nrules; r++) {
        if (!(rs->rule_ds[r] & m->ev_ds) || m->lim_stamp[r] == m->gen)
            continue;
        for (uint32_t a = rs->rule_atom0[r]; a < rs->rule_atom0[r + 1]; a++) {
            if (rs->atoms[a].kind != CANH_ATOM_PATTERN || rs->atoms[a].pat != id)
                continue;
            m->lim_stamp[r] = m->gen;
            if (!m->lim_count[r]++) {
                m->lim_rc[r] = rc;
                m->lim_list[m->nlim++] = r;
            }
            break;
        }
    }
}

/* Runs one form of a pattern (utf: its twin) on a subject, which is
 * well-formed UTF-8 whenever the form is UTF (see the views below). */
static int pcre_run(canh_matcher_t *m, const pat_t *p, int utf, const char *s, size_t n)
{
    if (!s)
        s = "";
    pcre2_code *code = utf ? p->ucode : p->code;
    int rc = (utf ? p->ujit : p->jit)
                 ? pcre2_jit_match(code, (PCRE2_SPTR)s, n, 0, 0, m->md, m->mctx)
                 : pcre2_match(code, (PCRE2_SPTR)s, n, 0, utf ? PCRE2_NO_UTF_CHECK : 0, m->md,
                               m->mctx);
    if (rc >= 0)
        return 1;
    if (rc != PCRE2_ERROR_NOMATCH)
        pcre_fail(m, p, rc);   /* match limit, JIT stack: counted, treated as no match */
    return 0;
}

/* Marks pattern id true for this event and wakes its rules. */
static void pat_true(canh_matcher_t *m, uint32_t id)
{
    const canh_ruleset_t *rs = m->rs;
    const uint32_t gen = m->gen;
    const pat_t *p = &rs->pats[id];
    m->pat_stamp[id] = gen;
    const uint32_t *r = rs->pat_rules + p->rules_off, *end = r + p->nrules;
    for (; r < end; r++)
        if (m->rule_stamp[*r] != gen && (rs->rule_ds[*r] & m->ev_ds)) {
            m->rule_stamp[*r] = gen;
            m->cand[m->ncand++] = *r;
        }
}

static int on_hit(unsigned int id, unsigned long long from, unsigned long long to,
                  unsigned int flags, void *ctx)
{
    (void)from; (void)to; (void)flags;
    canh_matcher_t *m = ctx;
    if (m->pat_stamp[id] == m->gen)
        return 0;
    const pat_t *p = &m->rs->pats[id];
    const uint32_t both = p->vmask & m->accept;
    if (!(both & A_MASK) || !(both & R_MASK))
        return 0;   /* a view this pattern does not read, or a role it does not play */
    if (p->mode == MODE_PREFILTER && !pcre_run(m, p, 0, m->cur_val, m->cur_len))
        return 0;   /* another value of a repeated field may still confirm it */
    pat_true(m, id);
    return 0;
}

static inline uint32_t slot_first(const canh_matcher_t *m, uint32_t slot)
{
    return m->slot_gen[slot] == m->gen ? m->slot_head[slot] : NO_LINK;
}

/* Every value of a slot: l runs through its links, fi is the field index. */
#define FOR_VALUES(m, slot, l, fi)                                              \
    for (uint32_t l = slot_first(m, slot), fi = 0;                              \
         l != NO_LINK && ((fi = (m)->link_field[l]), 1); l = (m)->link_next[l])

/* A lazy pattern hit: stamp it (confirming a prefilter), wake no rule. */
static int on_lazy_hit(unsigned int id, unsigned long long from, unsigned long long to,
                       unsigned int flags, void *ctx)
{
    (void)from; (void)to; (void)flags;
    canh_matcher_t *m = ctx;
    const pat_t *p = &m->rs->pats[id];
    const uint32_t both = p->vmask & m->accept;
    if (m->pat_stamp[id] == m->gen || !(both & A_MASK) || !(both & R_MASK))
        return 0;
    if (p->mode == MODE_PREFILTER && !pcre_run(m, p, 0, m->cur_val, m->cur_len))
        return 0;
    m->pat_stamp[id] = m->gen;
    return 0;
}

/*
 * Text. A value is scanned as it is when it is pure ASCII. Otherwise
 * canh scans its views (engine/text.h): the folded view F for the loader's
 * case-folded literals, the NFC view N for everything else; when F and N
 * are the same bytes one scan serves both. A pattern with a UTF twin does
 * not take hits from the views: its twin runs on N instead. The views of a
 * field are computed once per event, on first use, into the matcher's
 * workspace; an ASCII value needs none.
 */
enum { V_TEXT = 1, V_NONE };

/* Is a value pure ASCII? Most values are slices of the event's original
 * line: when that line is ASCII (checked once per event), so are they. */
static inline int value_ascii(canh_matcher_t *m, const canh_field_t *f)
{
#ifdef CANH_BENCH_BYTES
    (void)m, (void)f;
    return 1;   /* bench/text.sh's reference build: every value as raw bytes, no views */
#endif
    const char *p = f->value.ptr;
    if (m->orig_ascii && p >= m->orig.ptr && p + f->value.len <= m->orig.ptr + m->orig.len)
        return 1;
    return canh_text_is_ascii(p, f->value.len);
}

static struct fview *field_view(canh_matcher_t *m, uint32_t fi)
{
    struct fview *v = &m->views[fi];
    if (m->view_gen[fi] == m->gen)
        return v;
    m->view_gen[fi] = m->gen;
    const canh_field_t *f = &m->ev_fields[fi];
    if (canh_text_views(&m->ws, f->value.ptr, f->value.len, &v->v) == CANH_OK) {
        v->kind = V_TEXT;
    } else {
        v->kind = V_NONE;   /* out of memory: the value is skipped, counted */
        m->errors++;
    }
    return v;
}

static canh_slice_t view_of(const canh_matcher_t *m, uint32_t fi, const struct fview *v, int fold)
{
    const canh_field_t *f = &m->ev_fields[fi];
    size_t off = fold ? v->v.fold_off : v->v.nfc_off, len = fold ? v->v.fold_len : v->v.nfc_len;
    return off == CANH_VIEW_SAME ? canh_slice(f->value.ptr ? f->value.ptr : "", f->value.len)
                                 : canh_slice(m->ws.out + off, len);
}

static inline __attribute__((always_inline)) void
scan_dbs(canh_matcher_t *m, const slot_t *sl, int lazy, const char *p, size_t len, uint32_t accept)
{
    if (len > UINT32_MAX)
        len = UINT32_MAX;
    match_event_handler cb = lazy ? on_lazy_hit : on_hit;
    const uint64_t ds = m->ev_ds;
    hs_scratch_t *scratch = m->scratch;
    m->cur_val = p;
    m->cur_len = len;
    m->accept = accept;
    const sdb_t *d = sl->dbs, *end = d + sl->ndbs;
    for (; d < end; d++)
        if (d->db && d->lazy == lazy && (d->ds & ds) &&
            hs_scan(d->db, p, (unsigned)len, 0, scratch, cb, m) != HS_SUCCESS)
            m->errors++;
}

/* scan_value for a value that is not pure ASCII: its views. */
static __attribute__((noinline)) void scan_text(canh_matcher_t *m, const slot_t *sl, uint32_t fi,
                                                int lazy, uint32_t roles)
{
    const struct fview *v = field_view(m, fi);
    if (v->kind != V_TEXT)
        return;
    canh_slice_t nfc = view_of(m, fi, v, 0), fold = view_of(m, fi, v, 1);
    if (nfc.ptr == fold.ptr && nfc.len == fold.len) {
        scan_dbs(m, sl, lazy, nfc.ptr, nfc.len, A_NFC | A_FOLD | roles);
    } else {
        scan_dbs(m, sl, lazy, fold.ptr, fold.len, A_FOLD | roles);
        scan_dbs(m, sl, lazy, nfc.ptr, nfc.len, A_NFC | roles);
    }
    for (uint32_t k = 0; k < sl->nptw; k++) {   /* UTF twins, by PCRE2 */
        uint32_t id = sl->ptw[k];
        const pat_t *pt = &m->rs->pats[id];
        if (pt->lazy != lazy || !(pt->vmask & roles) || !(pt->ds & m->ev_ds) ||
            m->pat_stamp[id] == m->gen || !pcre_run(m, pt, 1, nfc.ptr, nfc.len))
            continue;
        if (lazy)
            m->pat_stamp[id] = m->gen;
        else
            pat_true(m, id);
    }
}

/* Scans value fi with the eager (or lazy) databases of slot sl, for the
 * patterns of the roles given (R_*). */
static inline __attribute__((always_inline)) void
scan_value(canh_matcher_t *m, const slot_t *sl, uint32_t fi, int lazy,
                              uint32_t roles)
{
    const canh_field_t *f = &m->ev_fields[fi];
    if (__builtin_expect(value_ascii(m, f), 1))
        scan_dbs(m, sl, lazy, f->value.ptr ? f->value.ptr : "", f->value.len, A_ASCII | roles);
    else
        scan_text(m, sl, fi, lazy, roles);
}

/* Scans every value of a slot with its lazy databases, once per event (a
 * keyword slot: with its field's databases, for the keyword patterns). */
static void lazy_scan(canh_matcher_t *m, uint32_t slot)
{
    const canh_ruleset_t *rs = m->rs;
    const slot_t *own = &rs->slots[slot], *sl = &rs->slots[own->base];
    m->lazy_gen[slot] = m->gen;
    if (!(sl->lazy_ds & m->ev_ds))
        return;
    FOR_VALUES(m, slot, l, fi)
        scan_value(m, sl, fi, 1, own->keyword ? R_KW : m->field_roles);
}

/* Pattern p, run by PCRE2 alone, on value fi: the view its form reads. */
static int pcre_value(canh_matcher_t *m, const pat_t *p, uint32_t fi)
{
    const canh_field_t *f = &m->ev_fields[fi];
    if (value_ascii(m, f))
        return pcre_run(m, p, 0, f->value.ptr, f->value.len);
    const struct fview *v = field_view(m, fi);
    if (v->kind != V_TEXT)
        return 0;
    canh_slice_t s = view_of(m, fi, v, (p->vmask & A_FOLD) != 0);
    return pcre_run(m, p, p->ucode != NULL, s.ptr, s.len);
}

/* The NFC text of value fi (the value itself when ASCII). */
static canh_slice_t nfc_value(canh_matcher_t *m, uint32_t fi)
{
    const canh_field_t *f = &m->ev_fields[fi];
    if (value_ascii(m, f))
        return f->value;
    const struct fview *v = field_view(m, fi);
    return v->kind == V_TEXT ? view_of(m, fi, v, 0) : f->value;
}

/* Accepts [+-]digits[.digits][(e|E)[+-]digits] (digits on one side of the dot at least). */
static int parse_num(canh_slice_t v, double *out)
{
    const char *s = v.ptr;
    size_t n = v.len, i = 0;
    if (!n || n > 64)
        return -1;
    if (s[i] == '+' || s[i] == '-')
        i++;
    size_t d0 = i;
    uint64_t iv = 0;
    int small = 1;
    while (i < n && s[i] >= '0' && s[i] <= '9') {
        if (i - d0 < 18)
            iv = iv * 10 + (uint64_t)(s[i] - '0');
        else
            small = 0;
        i++;
    }
    size_t nd = i - d0;
    if (i == n) {
        if (!nd)
            return -1;
        if (small) {   /* the common case: an integer, no strtod */
            *out = s[0] == '-' ? -(double)iv : (double)iv;
            return 0;
        }
    } else {
        if (s[i] == '.') {
            i++;
            size_t f0 = i;
            while (i < n && s[i] >= '0' && s[i] <= '9')
                i++;
            nd += i - f0;
        }
        if (!nd)
            return -1;
        if (i < n && (s[i] == 'e' || s[i] == 'E')) {
            i++;
            if (i < n && (s[i] == '+' || s[i] == '-'))
                i++;
            size_t e0 = i;
            while (i < n && s[i] >= '0' && s[i] <= '9')
                i++;
            if (i == e0)
                return -1;
        }
        if (i != n)
            return -1;
    }
    char buf[72];
    memcpy(buf, s, n);
    buf[n] = '\0';
    *out = strtod(buf, NULL);
    return 0;
}

/* Strict dotted quad: four decimal parts 0..255, no leading zeros. */
static int parse_ip4(const char *s, size_t n, uint8_t out[4])
{
    size_t i = 0;
    for (int part = 0; part < 4; part++) {
        if (part) {
            if (i >= n || s[i] != '.')
                return -1;
            i++;
        }
        size_t d0 = i;
        unsigned v = 0;
        while (i < n && s[i] >= '0' && s[i] <= '9' && i - d0 < 3)
            v = v * 10 + (unsigned)(s[i++] - '0');
        if (i == d0 || v > 255 || (i - d0 > 1 && s[d0] == '0'))
            return -1;
        out[part] = (uint8_t)v;
    }
    return i == n ? 0 : -1;
}

static int prefix_eq(const uint8_t *a, const uint8_t *b, int bits)
{
    int bytes = bits / 8, rem = bits % 8;
    if (memcmp(a, b, (size_t)bytes) != 0)
        return 0;
    if (!rem)
        return 1;
    uint8_t mask = (uint8_t)(0xff00u >> rem);
    return (a[bytes] & mask) == (b[bytes] & mask);
}

static int cidr_match(const canh_atom_t *a, canh_slice_t v)
{
    uint8_t ip[16];
    if (a->family == 4) {
        if (v.len >= 7 && v.len <= 15 && parse_ip4(v.ptr, v.len, ip) == 0)
            return prefix_eq(ip, a->net, a->prefix);
        /* an IPv4-mapped IPv6 address (::ffff:10.1.2.3) is the IPv4 address */
        if (v.len < 2 || v.len > 45 || !memchr(v.ptr, ':', v.len))
            return 0;
    } else if (v.len < 2 || v.len > 45 || !memchr(v.ptr, ':', v.len)) {
        return 0;
    }
    char buf[48];
    memcpy(buf, v.ptr, v.len);
    buf[v.len] = '\0';
    if (inet_pton(AF_INET6, buf, ip) != 1)
        return 0;
    if (a->family == 6)
        return prefix_eq(ip, a->net, a->prefix);
    static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
    return memcmp(ip, mapped, 12) == 0 && prefix_eq(ip + 12, a->net, a->prefix);
}

static int num_match(const canh_atom_t *a, canh_slice_t v)
{
    double x;
    if (parse_num(v, &x) != 0)
        return 0;
    switch (a->op) {
    case CANH_NUM_GT:  return x > a->num;
    case CANH_NUM_GTE: return x >= a->num;
    case CANH_NUM_LT:  return x < a->num;
    default:           return x <= a->num;
    }
}

static int eval_atom(canh_matcher_t *m, uint32_t ai)
{
    const canh_ruleset_t *rs = m->rs;
    const catom_t *a = &rs->atoms[ai];
    const canh_field_t *fs = m->ev_fields;
    switch (a->kind) {
    case CANH_ATOM_PATTERN:
        if (a->mode != MODE_PCRE) {
            if (a->lazy && m->lazy_gen[a->slot] != m->gen)
                lazy_scan(m, a->slot);
            return m->pat_stamp[a->pat] == m->gen;
        }
        if (m->pcre_done[a->pat] != m->gen) {
            const pat_t *p = &rs->pats[a->pat];
            int v = 0;
            FOR_VALUES(m, a->slot, l, fi) {
                if ((v = pcre_value(m, p, fi)))
                    break;
            }
            m->pcre_done[a->pat] = m->gen;
            m->pcre_val[a->pat] = (uint8_t)v;
        }
        return m->pcre_val[a->pat];
    case CANH_ATOM_EXISTS:
        return slot_first(m, a->slot) != NO_LINK;
    case CANH_ATOM_EMPTY:
        if (slot_first(m, a->slot) == NO_LINK)
            return 1;
        FOR_VALUES(m, a->slot, l, fi)
            if (fs[fi].value.len == 0)
                return 1;
        return 0;
    case CANH_ATOM_CIDR:
        FOR_VALUES(m, a->slot, l, fi)
            if (cidr_match(a->src, fs[fi].value))
                return 1;
        return 0;
    case CANH_ATOM_NUM:
        FOR_VALUES(m, a->slot, l, fi)
            if (num_match(a->src, fs[fi].value))
                return 1;
        return 0;
    case CANH_ATOM_FIELDREF:
        /* equal as text: the same NFC, bytes for bytes */
        FOR_VALUES(m, a->slot, l, fi) {
            canh_slice_t x = nfc_value(m, fi);
            FOR_VALUES(m, a->ref_slot, l2, fj) {
                canh_slice_t y = nfc_value(m, fj);
                x = nfc_value(m, fi);   /* the workspace may have moved */
                if (x.len == y.len && (x.len == 0 || memcmp(x.ptr, y.ptr, x.len) == 0))
                    return 1;
            }
        }
        return 0;
    default:
        return 0;
    }
}

static int eval_node(canh_matcher_t *m, uint32_t i)
{
    const cnode_t *nodes = m->rs->nodes, *n = &nodes[i];
    switch (n->op) {
    case CANH_NODE_ATOM:
        return eval_atom(m, n->arg);
    case CANH_NODE_NOT:
        return !eval_node(m, i + 1);
    case CANH_NODE_AND:
        for (uint32_t k = i + 1; k < n->end; k = nodes[k].end)
            if (!eval_node(m, k))
                return 0;
        return 1;
    default:   /* OR */
        for (uint32_t k = i + 1; k < n->end; k = nodes[k].end)
            if (eval_node(m, k))
                return 1;
        return 0;
    }
}

static void stamps_reset(canh_matcher_t *m)
{
    const canh_ruleset_t *rs = m->rs;
    memset(m->pat_stamp, 0, sizeof(uint32_t) * rs->npats);
    memset(m->pcre_done, 0, sizeof(uint32_t) * rs->npats);
    memset(m->rule_stamp, 0, sizeof(uint32_t) * rs->nrules);
    memset(m->lim_stamp, 0, sizeof(uint32_t) * rs->nrules);
    memset(m->slot_gen, 0, sizeof(uint32_t) * rs->nslots);
    memset(m->lazy_gen, 0, sizeof(uint32_t) * rs->nslots);
    memset(m->view_gen, 0, sizeof(m->view_gen));
    m->gen = 1;
}

static void sort_hits(canh_matcher_t *m, uint32_t n)
{
    uint32_t *v = m->hits;
    if (n <= 32) {
        for (uint32_t i = 1; i < n; i++) {
            uint32_t x = v[i], j = i;
            for (; j && v[j - 1] > x; j--)
                v[j] = v[j - 1];
            v[j] = x;
        }
        return;
    }
    for (uint32_t i = 0; i < n; i++)
        m->hitmap[v[i] >> 6] |= UINT64_C(1) << (v[i] & 63);
    uint32_t k = 0;
    for (uint32_t w = 0; w <= m->rs->nrules / 64; w++) {
        uint64_t bits = m->hitmap[w];
        m->hitmap[w] = 0;
        while (bits) {
            v[k++] = w * 64 + (uint32_t)__builtin_ctzll(bits);
            bits &= bits - 1;
        }
    }
}

/* Appends value fi to slot s's chain of values (a field is linked once to
 * its own slot and at most once to each keyword slot: maxlinks is room
 * for all). */
static inline void link_value(canh_matcher_t *m, int32_t s, uint32_t fi)
{
    uint32_t l = m->nlinks++;
    m->link_field[l] = (uint16_t)fi;
    m->link_next[l] = m->slot_gen[s] == m->gen ? m->slot_head[s] : NO_LINK;
    m->slot_gen[s] = m->gen;
    m->slot_head[s] = l;
}

/*
 * Keywords. A keyword list searches its log source's keyword field
 * (`message` ...); but on an event decoded from a JSON payload (dataset
 * json) it searches the payload's values (fields flagged
 * CANH_FIELD_PAYLOAD), not the key names and punctuation of the raw
 * object. Keyword atoms get a slot of their own per field, holding the
 * values they search (for EXISTS and PCRE2 atoms), while their patterns
 * live in the databases of the field's own slot (`base`), marked R_KW. On
 * an ordinary event the field is scanned once for both roles and the
 * keyword slot shares the field slot's chain of values; on a JSON event
 * the field is scanned for R_FIELD only, and each payload value is linked
 * to the keyword slots and scanned once more with the same databases, for
 * R_KW.
 */
static void link_payload(canh_matcher_t *m, uint32_t fi)
{
    const canh_ruleset_t *rs = m->rs;
    for (uint32_t k = 0; k < rs->nkw; k++) {
        const slot_t *sl = &rs->slots[rs->slots[rs->kw_slots[k]].base];
        link_value(m, (int32_t)rs->kw_slots[k], fi);
        if (sl->db_ds & m->ev_ds)
            scan_value(m, sl, fi, 0, R_KW);
    }
}

static void share_keyword_chains(canh_matcher_t *m)
{
    const canh_ruleset_t *rs = m->rs;
    for (uint32_t k = 0; k < rs->nkw; k++) {
        uint32_t kw = rs->kw_slots[k], base = rs->slots[kw].base;
        if (m->slot_gen[base] == m->gen) {
            m->slot_gen[kw] = m->gen;
            m->slot_head[kw] = m->slot_head[base];
        }
    }
}

int canh_matcher_match(canh_matcher_t *m, const canh_event_t *ev, uint32_t *out, size_t max)
{
    if (!m || !ev || (!out && max))
        return CANH_EINVAL;
    const canh_ruleset_t *rs = m->rs;
    const uint64_t ds = ev->datasets & rs->all_ds;
    if (!ds)
        return 0;
    if (++m->gen == 0)
        stamps_reset(m);
    const uint32_t gen = m->gen;
    m->ev_ds = ds;
    m->ev_fields = ev->fields;
    m->ncand = 0;
    m->nlinks = 0;
    canh_text_ws_reset(&m->ws);
    const int json = (ev->datasets & CANH_DS_BIT(CANH_DS_JSON)) != 0;
    m->field_roles = json ? R_FIELD : R_FIELD | R_KW;
    m->orig = ev->original;
    m->orig_ascii = ev->original.ptr && canh_text_is_ascii(ev->original.ptr, ev->original.len);

    /* 1. fields: link values per slot, scan the slots that have a database */
    uint32_t nf = ev->nfields < CANH_EVENT_MAX_FIELDS ? ev->nfields : CANH_EVENT_MAX_FIELDS;
    for (uint32_t i = 0; i < nf; i++) {
        const canh_field_t *f = &ev->fields[i];
        int32_t s;
        if (f->id < CANH_F__COUNT) {
            s = rs->static_slot[f->id];
        } else {
            s = -1;
            uint32_t h = hash_bytes(f->name.ptr, f->name.len, 0);
            for (uint32_t k = h & rs->dyn.mask; rs->dyn.e[k].idx1; k = (k + 1) & rs->dyn.mask) {
                const slot_t *sl = &rs->slots[rs->dyn.e[k].idx1 - 1];
                if (rs->dyn.e[k].hash == h && !sl->keyword && sl->name_len == f->name.len &&
                    memcmp(sl->name, f->name.ptr, f->name.len) == 0) {
                    s = (int32_t)rs->dyn.e[k].idx1 - 1;
                    break;
                }
            }
        }
        if (s >= 0) {
            link_value(m, s, i);
            const slot_t *sl = &rs->slots[s];
            if (sl->db_ds & ds)
                scan_value(m, sl, i, 0, m->field_roles);
        }
        if (json && rs->nkw && (f->flags & CANH_FIELD_PAYLOAD))
            link_payload(m, i);
    }
    if (!json && rs->nkw)
        share_keyword_chains(m);

    /* 2. rules that can match without a Hyperscan hit */
    uint64_t bits = ds;
    while (bits) {
        int d = __builtin_ctzll(bits);
        bits &= bits - 1;
        for (uint32_t k = rs->ae_off[d]; k < rs->ae_off[d + 1]; k++) {
            uint32_t r = rs->ae_rules[k];
            if (m->rule_stamp[r] != gen) {
                m->rule_stamp[r] = gen;
                m->cand[m->ncand++] = r;
            }
        }
    }

    /* 3. conditions */
    uint32_t n = 0;
    for (uint32_t k = 0; k < m->ncand; k++) {
        uint32_t r = m->cand[k];
        if (eval_node(m, rs->rule_root[r]))
            m->hits[n++] = r;
    }
    sort_hits(m, n);
    if (max)
        memcpy(out, m->hits, sizeof(uint32_t) * (n < max ? n : max));
    return (int)n;
}

/* ------------------------------------------------------------------ */
/* explain (cold: canh explain, canh.matched; see match.h)             */

/* Finds the value that shows atom ai's truth; fills w (truth set by caller). */
static void explain_witness(canh_matcher_t *m, uint32_t ai, canh_explain_atom_t *w)
{
    const canh_ruleset_t *rs = m->rs;
    const catom_t *a = &rs->atoms[ai];
    const canh_field_t *fs = m->ev_fields;
    int found = 0;
    w->field = w->ref_field = w->first = -1;
    w->nvalues = 0;
    FOR_VALUES(m, a->slot, l, fi) {
        w->nvalues++;
        if (w->first < 0)
            w->first = (int32_t)fi;
    }
    switch (a->kind) {
    case CANH_ATOM_PATTERN: {
        /* the atom's own PCRE2 code on the view the matcher scans for it
         * (as for PCRE2-only patterns): ASCII as it is, else NFC, folded
         * or through the UTF twin */
        const pat_t *p = &rs->pats[a->pat];
        FOR_VALUES(m, a->slot, l, fi)
            if (pcre_value(m, p, fi)) {
                w->field = (int32_t)fi;
                found = 1;
                break;
            }
        break;
    }
    case CANH_ATOM_EXISTS:
        found = w->nvalues > 0;
        w->field = found ? w->first : -1;
        break;
    case CANH_ATOM_EMPTY:
        found = w->nvalues == 0;
        FOR_VALUES(m, a->slot, l, fi)
            if (fs[fi].value.len == 0) {
                w->field = (int32_t)fi;
                found = 1;
                break;
            }
        break;
    case CANH_ATOM_CIDR:
    case CANH_ATOM_NUM:
        FOR_VALUES(m, a->slot, l, fi)
            if (a->kind == CANH_ATOM_CIDR ? cidr_match(a->src, fs[fi].value)
                                          : num_match(a->src, fs[fi].value)) {
                w->field = (int32_t)fi;
                found = 1;
                break;
            }
        break;
    case CANH_ATOM_FIELDREF:
        FOR_VALUES(m, a->slot, l, fi) {
            FOR_VALUES(m, a->ref_slot, l2, fj) {
                canh_slice_t y = nfc_value(m, fj), x = nfc_value(m, fi);
                if (x.len == y.len && (x.len == 0 || memcmp(x.ptr, y.ptr, x.len) == 0)) {
                    w->field = (int32_t)fi;
                    w->ref_field = (int32_t)fj;
                    found = 1;
                    break;
                }
            }
            if (found)
                break;
        }
        break;
    default:
        break;
    }
    w->shown = found == w->truth;
    if (!w->truth)
        w->field = w->ref_field = -1;
}

int canh_matcher_explain(canh_matcher_t *m, const canh_event_t *ev, uint32_t rule_idx,
                         canh_explain_fn fn, void *ud)
{
    if (!m || !ev || !fn || rule_idx >= m->rs->nrules)
        return CANH_EINVAL;
    const canh_ruleset_t *rs = m->rs;
    const uint64_t ds = ev->datasets & rs->all_ds;
    if (!(rs->rule_ds[rule_idx] & ds))
        return CANH_EXPLAIN_UNSEEN;   /* canh_matcher_match does not look at it */
    if (m->ev_fields != ev->fields || m->ev_ds != ds || !m->gen)
        return CANH_EINVAL;
    const uint64_t errors = m->errors;
    m->explaining = 1;
    /* the verdict as canh_matcher_match reached it: a candidate (woken by
     * a trigger pattern, or always evaluated) whose condition is true */
    int fired = m->rule_stamp[rule_idx] == m->gen && eval_node(m, rs->rule_root[rule_idx]);
    for (uint32_t ai = rs->rule_atom0[rule_idx]; ai < rs->rule_atom0[rule_idx + 1]; ai++) {
        canh_explain_atom_t w = { .atom = ai - rs->rule_atom0[rule_idx] };
        w.truth = eval_atom(m, ai);
        explain_witness(m, ai, &w);
        fn(ud, &w);
    }
    m->errors = errors;
    m->explaining = 0;
    return fired ? CANH_EXPLAIN_FIRED : CANH_EXPLAIN_NOT_FIRED;
}
