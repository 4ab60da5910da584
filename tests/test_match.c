/*
 * tests/test_match.c -- the rule compiler and matcher (engine/detect/match.c).
 *
 * Rules and events are built by hand. Every rule set is built twice, once
 * with Hyperscan (canh_ruleset_build) and once PCRE2-only (the reference,
 * canh_ruleset_build_pcre_only), and every event is matched by both: the
 * helpers fail a test if the two ever disagree, so each case below checks
 * both paths. The last test is a seeded random differential run.
 *
 * Thread: Criterion runs each test in its own process.
 */
#include <criterion/criterion.h>

#include <hs/hs.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <arpa/inet.h>

#include "../engine/detect/match.h"


#define DS_A CANH_DS_BIT(CANH_DS_SSHD)
#define DS_B CANH_DS_BIT(CANH_DS_WEBSERVER)
#define DS_C CANH_DS_BIT(CANH_DS_AUDITD)

/* ------------------------------------------------------------------ */
/* building rules                                                      */

static canh_rule_t *rule_new(const char *id, uint64_t ds)
{
    canh_rule_t *r = calloc(1, sizeof(*r));
    cr_assert(r);
    r->id = strdup(id);
    r->title = strdup(id);
    r->file = strdup("test.yml");
    r->line = 7;
    r->datasets = ds;
    r->level = CANH_LEVEL_HIGH;
    return r;
}

static canh_node_t *node_atom(uint32_t a)
{
    canh_node_t *n = calloc(1, sizeof(*n));
    n->op = CANH_NODE_ATOM;
    n->atom = a;
    return n;
}

static canh_atom_t *atom_add(canh_rule_t *r, canh_atom_kind_t kind, const char *field, uint32_t *idx)
{
    r->atoms = realloc(r->atoms, (r->natoms + 1) * sizeof(*r->atoms));
    cr_assert(r->atoms);
    canh_atom_t *a = &r->atoms[r->natoms];
    memset(a, 0, sizeof(*a));
    a->kind = kind;
    a->field = strdup(field);
    a->field_id = (uint16_t)canh_field_lookup(field, strlen(field));
    *idx = (uint32_t)r->natoms++;
    return a;
}

static canh_node_t *PAT(canh_rule_t *r, const char *field, const char *regex, unsigned flags)
{
    uint32_t i;
    canh_atom_t *a = atom_add(r, CANH_ATOM_PATTERN, field, &i);
    a->regex = strdup(regex);
    a->pat_flags = flags;
    return node_atom(i);
}

static canh_node_t *EXISTS(canh_rule_t *r, const char *field)
{
    uint32_t i;
    atom_add(r, CANH_ATOM_EXISTS, field, &i);
    return node_atom(i);
}

static canh_node_t *EMPTY(canh_rule_t *r, const char *field)
{
    uint32_t i;
    atom_add(r, CANH_ATOM_EMPTY, field, &i);
    return node_atom(i);
}

static canh_node_t *CIDR(canh_rule_t *r, const char *field, const char *net, int prefix)
{
    uint32_t i;
    canh_atom_t *a = atom_add(r, CANH_ATOM_CIDR, field, &i);
    a->family = strchr(net, ':') ? 6 : 4;
    cr_assert_eq(inet_pton(a->family == 6 ? AF_INET6 : AF_INET, net, a->net), 1);
    a->prefix = prefix;
    return node_atom(i);
}

static canh_node_t *NUM(canh_rule_t *r, const char *field, canh_num_op_t op, double x)
{
    uint32_t i;
    canh_atom_t *a = atom_add(r, CANH_ATOM_NUM, field, &i);
    a->op = op;
    a->num = x;
    return node_atom(i);
}

static canh_node_t *FREF(canh_rule_t *r, const char *field, const char *ref)
{
    uint32_t i;
    canh_atom_t *a = atom_add(r, CANH_ATOM_FIELDREF, field, &i);
    a->ref_field = strdup(ref);
    a->ref_field_id = (uint16_t)canh_field_lookup(ref, strlen(ref));
    return node_atom(i);
}

static canh_node_t *node_list(canh_node_op_t op, canh_node_t *first, va_list ap)
{
    canh_node_t *n = calloc(1, sizeof(*n));
    n->op = op;
    n->kids = malloc(sizeof(*n->kids) * 16);
    for (canh_node_t *k = first; k; k = va_arg(ap, canh_node_t *)) {
        cr_assert(n->nkids < 16);
        n->kids[n->nkids++] = k;
    }
    return n;
}

/* AND(a, b, ..., NULL) */
static canh_node_t *AND(canh_node_t *first, ...)
{
    va_list ap;
    va_start(ap, first);
    canh_node_t *n = node_list(CANH_NODE_AND, first, ap);
    va_end(ap);
    return n;
}

static canh_node_t *OR(canh_node_t *first, ...)
{
    va_list ap;
    va_start(ap, first);
    canh_node_t *n = node_list(CANH_NODE_OR, first, ap);
    va_end(ap);
    return n;
}

static canh_node_t *NOT(canh_node_t *k)
{
    canh_node_t *n = calloc(1, sizeof(*n));
    n->op = CANH_NODE_NOT;
    n->kids = malloc(sizeof(*n->kids));
    n->kids[0] = k;
    n->nkids = 1;
    return n;
}

static void push(canh_rulevec_t *rv, canh_rule_t *r, canh_node_t *cond)
{
    r->cond = cond;
    cr_assert_eq(canh_rulevec_push(rv, r), CANH_OK);
}

/* ------------------------------------------------------------------ */
/* both rule sets, and matching through both                           */

typedef void (*mk_fn)(canh_rulevec_t *rv);

typedef struct pair {
    canh_ruleset_t *hs, *ref;
    canh_matcher_t *mh, *mr;
    int refused;
    char reasons[2048];
    char out[1024];
} pair_t;

static void on_refuse(void *ud, const char *file, int line, const char *rule_id, const char *reason)
{
    pair_t *p = ud;
    p->refused++;
    size_t n = strlen(p->reasons);
    snprintf(p->reasons + n, sizeof(p->reasons) - n, "%s:%d: %s: %s\n", file, line, rule_id, reason);
}

static void pair_build(pair_t *p, mk_fn mk)
{
    memset(p, 0, sizeof(*p));
    char err[256] = "";
    canh_rulevec_t rv = { 0 };
    mk(&rv);
    cr_assert_eq(canh_ruleset_build(&p->hs, &rv, on_refuse, p, err, sizeof(err)), CANH_OK, "%s", err);
    cr_assert_eq(rv.n, 0, "the rules must move into the rule set");
    canh_rulevec_free(&rv);
    int refused_hs = p->refused;
    mk(&rv);
    cr_assert_eq(canh_ruleset_build_pcre_only(&p->ref, &rv, on_refuse, p, err, sizeof(err)),
                 CANH_OK, "%s", err);
    canh_rulevec_free(&rv);
    cr_assert_eq(p->refused, 2 * refused_hs, "both builds refuse the same rules");
    p->refused = refused_hs;
    p->mh = canh_matcher_new(p->hs, err, sizeof(err));
    cr_assert(p->mh, "%s", err);
    p->mr = canh_matcher_new(p->ref, err, sizeof(err));
    cr_assert(p->mr, "%s", err);
}

static void pair_free(pair_t *p)
{
    canh_matcher_free(p->mh);
    canh_matcher_free(p->mr);
    canh_ruleset_free(p->hs);
    canh_ruleset_free(p->ref);
}

/*
 * canh_matcher_explain must tell the matcher's own story: for every rule,
 * the verdict it reports is the matcher's (in hits or not), the rule's
 * condition over the atom truths it reports gives that verdict, and each
 * atom's value search agrees with the matcher's truth for that atom.
 * Every rule is checked, or (all 0) only those that fired.
 */
typedef struct ex_ctx {
    uint8_t *truth;
    size_t natoms, seen, bad;
    char why[256];
} ex_ctx_t;

static void ex_atom(void *ud, const canh_explain_atom_t *a)
{
    ex_ctx_t *c = ud;
    if (a->atom < c->natoms)
        c->truth[a->atom] = (uint8_t)a->truth;
    c->seen++;
    if (!a->shown && !c->bad++)
        snprintf(c->why, sizeof(c->why), "atom %u: the matcher says %s, its value search "
                 "says otherwise (field %d of %u values)", a->atom, a->truth ? "true" : "false",
                 a->field, a->nvalues);
}

static void check_explain(canh_matcher_t *m, const canh_ruleset_t *rs, const canh_event_t *ev,
                          const uint32_t *hits, int n, int all, const char *what)
{
    size_t nr = all ? canh_ruleset_size(rs) : (size_t)n;
    for (uint32_t k = 0; k < nr; k++) {
        uint32_t r = all ? k : hits[k];
        const canh_rule_t *rule = canh_ruleset_rule(rs, r);
        int in = 0;
        for (int i = 0; i < n && !in; i++)
            in = hits[i] == r;
        ex_ctx_t c = { .natoms = rule->natoms };
        c.truth = calloc(rule->natoms + 1, 1);
        cr_assert(c.truth);
        int rc = canh_matcher_explain(m, ev, r, ex_atom, &c);
        if (rc == CANH_EXPLAIN_UNSEEN) {
            cr_assert(!in, "%s: rule %s fired but explain says it does not see the event", what,
                      rule->id);
            cr_assert_eq(rule->datasets & ev->datasets, 0);
            cr_assert_eq(c.seen, 0);
        } else {
            cr_assert(rc == CANH_EXPLAIN_FIRED || rc == CANH_EXPLAIN_NOT_FIRED, "%s: rc %d", what, rc);
            cr_assert_eq(rc == CANH_EXPLAIN_FIRED, in, "%s: rule %s: explain's verdict %d, the "
                         "matcher's %d", what, rule->id, rc, in);
            cr_assert_eq(c.seen, rule->natoms, "%s: every atom is reported", what);
            cr_assert_eq(c.bad, 0, "%s: rule %s: %s", what, rule->id, c.why);
            cr_assert_eq(canh_node_eval(rule->cond, c.truth), in,
                         "%s: rule %s: the condition over the reported atom truths is %d, the "
                         "matcher's verdict %d", what, rule->id, !in, in);
        }
        free(c.truth);
    }
}

/* Matches through both; asserts they agree; returns the matching rule ids, comma-separated. */
static const char *match(pair_t *p, const canh_event_t *ev)
{
    uint32_t a[256], b[256];
    int na = canh_matcher_match(p->mh, ev, a, 256);
    int nb = canh_matcher_match(p->mr, ev, b, 256);
    cr_assert_geq(na, 0);
    cr_assert_eq(na, nb, "Hyperscan and PCRE2-only disagree on the number of matches");
    cr_assert_arr_eq(a, b, sizeof(uint32_t) * (size_t)na, "Hyperscan and PCRE2-only disagree");
    check_explain(p->mh, p->hs, ev, a, na, 1, "Hyperscan");
    check_explain(p->mr, p->ref, ev, b, nb, 1, "PCRE2-only");
    p->out[0] = '\0';
    for (int i = 0; i < na; i++) {
        if (i)
            cr_assert_gt(a[i], a[i - 1], "indexes ascend");
        size_t n = strlen(p->out);
        snprintf(p->out + n, sizeof(p->out) - n, "%s%s", i ? "," : "",
                 canh_ruleset_rule(p->hs, a[i])->id);
    }
    return p->out;
}

static canh_event_t *ev_new(uint64_t ds)
{
    canh_event_t *ev = calloc(1, sizeof(*ev));
    cr_assert(ev);
    canh_event_clear(ev);
    ev->datasets = ds;
    return ev;
}

static void ev_add(canh_event_t *ev, const char *name, const char *value)
{
    cr_assert_eq(canh_event_add_named(ev, canh_slice_cstr(name), canh_slice_cstr(value), 0), CANH_OK);
}

static void ev_addn(canh_event_t *ev, const char *name, const char *value, size_t len)
{
    cr_assert_eq(canh_event_add_named(ev, canh_slice_cstr(name), canh_slice(value, len), 0), CANH_OK);
}

/* One-field event of dataset A. */
static const char *match1(pair_t *p, const char *field, const char *value)
{
    canh_event_t *ev = ev_new(DS_A);
    ev_add(ev, field, value);
    const char *s = match(p, ev);
    free(ev);
    return s;
}

static int on_premise_hit(unsigned id, unsigned long long from, unsigned long long to,
                          unsigned flags, void *ctx)
{
    (void)id; (void)from; (void)to; (void)flags;
    *(int *)ctx = 1;
    return 0;
}

/* Does Hyperscan, in prefilter mode, match `subject`? (a premise check) */
static int hs_prefilter_hits(const char *regex, const char *subject)
{
    hs_database_t *db = NULL;
    hs_compile_error_t *ce = NULL;
    cr_assert_eq(hs_compile(regex, HS_FLAG_PREFILTER | HS_FLAG_SINGLEMATCH, HS_MODE_BLOCK, NULL,
                            &db, &ce), HS_SUCCESS);
    hs_scratch_t *s = NULL;
    cr_assert_eq(hs_alloc_scratch(db, &s), HS_SUCCESS);
    int hit = 0;
    hs_scan(db, subject, (unsigned)strlen(subject), 0, s, on_premise_hit, &hit);
    hs_free_scratch(s);
    hs_free_database(db);
    return hit;
}

/* ------------------------------------------------------------------ */
/* patterns                                                            */

static void mk_literals(canh_rulevec_t *rv)
{
    canh_rule_t *r;
    r = rule_new("contains", DS_A);   push(rv, r, PAT(r, "message", "foo\\.bar", 0));
    r = rule_new("contains_ci", DS_A); push(rv, r, PAT(r, "message", "Evil", CANH_PAT_CASELESS));
    r = rule_new("starts", DS_A);     push(rv, r, PAT(r, "process.command_line", "\\A/bin/sh ", 0));
    r = rule_new("ends_ci", DS_A);    push(rv, r, PAT(r, "url.path", "\\.php\\z", CANH_PAT_CASELESS));
    r = rule_new("equals", DS_A);     push(rv, r, PAT(r, "user.name", "\\Aroot\\z", 0));
    r = rule_new("equals_ci", DS_A);  push(rv, r, PAT(r, "user.name", "\\AAdmin\\z", CANH_PAT_CASELESS));
}

Test(match_pattern, literals_cased_and_caseless)
{
    pair_t p;
    pair_build(&p, mk_literals);
    cr_expect_str_eq(match1(&p, "message", "a foo.bar b"), "contains");
    cr_expect_str_eq(match1(&p, "message", "a fooXbar b"), "", "the dot is escaped");
    cr_expect_str_eq(match1(&p, "message", "a FOO.BAR b"), "", "cased");
    cr_expect_str_eq(match1(&p, "message", "so eVIL"), "contains_ci");
    cr_expect_str_eq(match1(&p, "process.command_line", "/bin/sh -c id"), "starts");
    cr_expect_str_eq(match1(&p, "process.command_line", "x /bin/sh -c id"), "");
    cr_expect_str_eq(match1(&p, "url.path", "/a/b.PHP"), "ends_ci");
    cr_expect_str_eq(match1(&p, "url.path", "/a/b.php?x=1"), "");
    cr_expect_str_eq(match1(&p, "user.name", "root"), "equals");
    cr_expect_str_eq(match1(&p, "user.name", "rooted"), "");
    cr_expect_str_eq(match1(&p, "user.name", "ROOT"), "");
    cr_expect_str_eq(match1(&p, "user.name", "aDMIN"), "equals_ci");
    cr_expect_str_eq(match1(&p, "message", "root"), "", "a pattern only sees its own field");

    canh_ruleset_info_t info;
    canh_ruleset_info(p.hs, &info);
    cr_expect_eq(info.rules, 6);
    cr_expect_eq(info.hs_exact, 6);
    cr_expect_eq(info.hs_prefilter + info.pcre_only, 0);
    cr_expect_eq(info.databases, 4, "one database per field");
    cr_expect_eq(info.always_eval, 0, "single-pattern rules wait for a hit");
    pair_free(&p);
}

static void mk_regex(canh_rulevec_t *rv)
{
    canh_rule_t *r;
    r = rule_new("re", DS_A);
    push(rv, r, PAT(r, "message", "user=[a-z]+ uid=\\d{1,5}\\b", 0));
    r = rule_new("multiline", DS_A);
    push(rv, r, PAT(r, "message", "^ERROR$", CANH_PAT_MULTILINE));
    r = rule_new("dotall", DS_A);
    push(rv, r, PAT(r, "message", "\\Abegin.*end\\z", CANH_PAT_DOTALL));
}

Test(match_pattern, regex_and_flags)
{
    pair_t p;
    pair_build(&p, mk_regex);
    cr_expect_str_eq(match1(&p, "message", "login user=bob uid=1000 ok"), "re");
    cr_expect_str_eq(match1(&p, "message", "login user=bob uid=123456"), "", "\\b after 5 digits");
    cr_expect_str_eq(match1(&p, "message", "line\nERROR\nmore"), "multiline");
    cr_expect_str_eq(match1(&p, "message", "line ERROR more"), "");
    cr_expect_str_eq(match1(&p, "message", "begin\nmiddle\nend"), "dotall");
    cr_expect_str_eq(match1(&p, "message", "begin\nmiddle\nend!"), "");
    pair_free(&p);
}

static void mk_prefilter(canh_rulevec_t *rv)
{
    canh_rule_t *r;
    r = rule_new("backref", DS_A);   push(rv, r, PAT(r, "message", "(a+)b\\1c", 0));
    r = rule_new("lookahead", DS_A); push(rv, r, PAT(r, "message", "foo(?=bar)", 0));
    r = rule_new("args", DS_A);      push(rv, r, PAT(r, "process.args", "\\A(x+)=\\1\\z", 0));
}

Test(match_pattern, prefilter_confirmed_by_pcre2)
{
    pair_t p;
    pair_build(&p, mk_prefilter);
    canh_ruleset_info_t info;
    canh_ruleset_info(p.hs, &info);
    cr_assert_eq(info.hs_prefilter, 3, "back-references and lookahead go in as prefilter");

    cr_expect_str_eq(match1(&p, "message", "zzaabaacz"), "backref");
    cr_assert(hs_prefilter_hits("(a+)b\\1c", "zabaac"), "premise: Hyperscan's prefilter hits");
    cr_expect_str_eq(match1(&p, "message", "zabaac"), "", "prefilter hit, PCRE2 says no");
    cr_expect_str_eq(match1(&p, "message", "a foobar"), "lookahead");
    cr_assert(hs_prefilter_hits("foo(?=bar)", "a foobaz"), "premise: Hyperscan's prefilter hits");
    cr_expect_str_eq(match1(&p, "message", "a foobaz"), "", "prefilter hit, PCRE2 says no");

    /* repeated field: PCRE2 confirms against the value that hit, in either order */
    canh_event_t *ev = ev_new(DS_A);
    ev_add(ev, "process.args", "xx=x");
    ev_add(ev, "process.args", "xx=xx");
    cr_expect_str_eq(match(&p, ev), "args");
    canh_event_clear(ev);
    ev->datasets = DS_A;
    ev_add(ev, "process.args", "xx=xx");
    ev_add(ev, "process.args", "xx=x");
    cr_expect_str_eq(match(&p, ev), "args");
    canh_event_clear(ev);
    ev->datasets = DS_A;
    ev_add(ev, "process.args", "xx=x");
    ev_add(ev, "process.args", "x=xx");
    cr_expect_str_eq(match(&p, ev), "", "no single value matches");
    free(ev);
    pair_free(&p);
}

static void mk_pcre_only(canh_rulevec_t *rv)
{
    canh_rule_t *r;
    r = rule_new("recursion", DS_A); push(rv, r, PAT(r, "message", "<(?:[^<>]|(?R))*>", 0));
    r = rule_new("keep", DS_A);      push(rv, r, PAT(r, "message", "user\\K=admin", CANH_PAT_CASELESS));
}

Test(match_pattern, pcre2_only_patterns)
{
    pair_t p;
    pair_build(&p, mk_pcre_only);
    canh_ruleset_info_t info;
    canh_ruleset_info(p.hs, &info);
    cr_assert_eq(info.pcre_only, 2, "recursion and \\K are beyond Hyperscan, even as prefilter");
    cr_expect_eq(info.always_eval, 2, "a PCRE2-only rule cannot wait for a Hyperscan hit");
    cr_expect_str_eq(match1(&p, "message", "x <a<b>c> y"), "recursion");
    cr_expect_str_eq(match1(&p, "message", "x <a<b c y"), "");
    cr_expect_str_eq(match1(&p, "message", "USER=Admin"), "keep");
    cr_expect_str_eq(match1(&p, "message", "user=root"), "");
    cr_expect_str_eq(match1(&p, "user.name", "<a>"), "", "only its own field");
    pair_free(&p);
}

static void mk_bad_regex(canh_rulevec_t *rv)
{
    canh_rule_t *r;
    r = rule_new("good1", DS_A); push(rv, r, PAT(r, "message", "ok", 0));
    r = rule_new("bad", DS_A);
    push(rv, r, AND(PAT(r, "message", "fine", 0), PAT(r, "url.path", "a(b", 0), NULL));
    r = rule_new("good2", DS_A); push(rv, r, PAT(r, "message", "fine", 0));
}

Test(match_build, pcre2_refusal_refuses_only_that_rule)
{
    pair_t p;
    pair_build(&p, mk_bad_regex);
    cr_expect_eq(p.refused, 1);
    cr_expect(strstr(p.reasons, "test.yml:7: bad: regex for field url.path does not compile: "),
              "reason: %s", p.reasons);
    cr_expect(strstr(p.reasons, "at offset 3"), "reason: %s", p.reasons);
    cr_expect_eq(canh_ruleset_size(p.hs), 2);
    cr_expect_str_eq(match1(&p, "message", "ok fine"), "good1,good2");
    pair_free(&p);
}

static void mk_malformed(canh_rulevec_t *rv)
{
    canh_rule_t *r;
    r = rule_new("atom_out_of_range", DS_A);
    free(PAT(r, "message", "x", 0));   /* adds atom 0 (its node is not used); the tree points at atom 5 */
    push(rv, r, node_atom(5));
    r = rule_new("bad_prefix", DS_A); push(rv, r, CIDR(r, "source.ip", "10.0.0.0", 8));
    r->atoms[0].prefix = 33;
    r = rule_new("fine", DS_A); push(rv, r, PAT(r, "message", "x", 0));
}

Test(match_build, malformed_rules_refused_with_reason)
{
    pair_t p;
    pair_build(&p, mk_malformed);
    cr_expect_eq(p.refused, 2);
    cr_expect(strstr(p.reasons, "atom_out_of_range: condition refers to atom 5"), "%s", p.reasons);
    cr_expect(strstr(p.reasons, "bad_prefix: CIDR for field source.ip: bad prefix /33"), "%s", p.reasons);
    cr_expect_str_eq(match1(&p, "message", "x"), "fine");
    pair_free(&p);
}

Test(match_build, bad_arguments)
{
    char err[128] = "";
    canh_ruleset_t *rs = NULL;
    cr_expect_eq(canh_ruleset_build(NULL, NULL, NULL, NULL, err, sizeof(err)), CANH_EINVAL);
    cr_expect_neq(err[0], '\0', "a sentence for the user");
    cr_expect_eq(canh_ruleset_build(&rs, NULL, NULL, NULL, err, sizeof(err)), CANH_EINVAL);
    cr_expect_null(canh_matcher_new(NULL, err, sizeof(err)));
    cr_expect_eq(canh_matcher_match(NULL, NULL, NULL, 0), CANH_EINVAL);
    cr_expect_eq(canh_ruleset_patterns(NULL, NULL, NULL), CANH_EINVAL);

    canh_rulevec_t rv = { 0 };   /* an empty set is fine and matches nothing */
    cr_assert_eq(canh_ruleset_build(&rs, &rv, NULL, NULL, err, sizeof(err)), CANH_OK);
    canh_matcher_t *m = canh_matcher_new(rs, err, sizeof(err));
    cr_assert(m);
    canh_event_t *ev = ev_new(DS_A);
    ev_add(ev, "message", "x");
    uint32_t out[4];
    cr_expect_eq(canh_matcher_match(m, ev, out, 4), 0);
    cr_expect_eq(canh_matcher_match(m, ev, NULL, 4), CANH_EINVAL);
    free(ev);
    canh_matcher_free(m);
    canh_ruleset_free(rs);
}

static void mk_big_repeat(canh_rulevec_t *rv)
{
    canh_rule_t *r;
    r = rule_new("group_repeat", DS_A); push(rv, r, PAT(r, "message", "\\A(ab|cd){3000}", 0));
    r = rule_new("class_repeat", DS_A); push(rv, r, PAT(r, "message", "\\Ax\\w{3000}", 0));
    r = rule_new("small_group", DS_A);  push(rv, r, PAT(r, "message", "(ab|cd){10}\\z", 0));
}

static void record_modes(void *ud, const char *field, const char *regex, unsigned flags,
                         int hs_mode, uint32_t rule_idx)
{
    (void)field; (void)regex; (void)flags;
    ((int *)ud)[rule_idx] = hs_mode;
}

Test(match_build, huge_group_repeats_skip_hyperscan, .timeout = 20)
{
    pair_t p;
    pair_build(&p, mk_big_repeat);   /* Hyperscan would compile "(ab|cd){3000}" for seconds */
    int modes[3] = { -1, -1, -1 };
    cr_assert_eq(canh_ruleset_patterns(p.hs, record_modes, modes), CANH_OK);
    cr_expect_eq(modes[0], CANH_HS_PCRE_ONLY);
    cr_expect_eq(modes[1], CANH_HS_EXACT, "a repeated class is cheap for Hyperscan");
    cr_expect_eq(modes[2], CANH_HS_EXACT);
    char big[6100];
    for (int i = 0; i < 3000; i++)
        memcpy(big + 2 * i, i % 2 ? "cd" : "ab", 2);
    big[6000] = '\0';
    cr_expect_str_eq(match1(&p, "message", big), "group_repeat,small_group");
    big[5999] = 'x';
    cr_expect_str_eq(match1(&p, "message", big), "");
    pair_free(&p);
}

/* ------------------------------------------------------------------ */
/* direct atoms                                                        */

static void mk_exists(canh_rulevec_t *rv)
{
    canh_rule_t *r;
    r = rule_new("exists", DS_A);     push(rv, r, EXISTS(r, "user.name"));
    r = rule_new("empty", DS_A);      push(rv, r, EMPTY(r, "user.name"));
    r = rule_new("not_exists", DS_A); push(rv, r, NOT(EXISTS(r, "custom.key")));
}

Test(match_direct, exists_empty_not_exists)
{
    pair_t p;
    pair_build(&p, mk_exists);
    canh_event_t *ev = ev_new(DS_A);
    ev_add(ev, "message", "m");
    cr_expect_str_eq(match(&p, ev), "empty,not_exists", "absent counts as empty");
    ev_add(ev, "user.name", "bob");
    cr_expect_str_eq(match(&p, ev), "exists,not_exists");
    ev_add(ev, "custom.key", "v");
    cr_expect_str_eq(match(&p, ev), "exists");
    canh_event_clear(ev);
    ev->datasets = DS_A;
    ev_add(ev, "user.name", "");
    cr_expect_str_eq(match(&p, ev), "exists,empty,not_exists");
    free(ev);
    pair_free(&p);
}

static void mk_cidr(canh_rulevec_t *rv)
{
    canh_rule_t *r;
    r = rule_new("ten", DS_A);     push(rv, r, CIDR(r, "source.ip", "10.0.0.0", 8));
    r = rule_new("any4", DS_A);    push(rv, r, CIDR(r, "source.ip", "0.0.0.0", 0));
    r = rule_new("host32", DS_A);  push(rv, r, CIDR(r, "source.ip", "192.168.1.5", 32));
    r = rule_new("odd20", DS_A);   push(rv, r, CIDR(r, "source.ip", "172.16.0.0", 12));
    r = rule_new("doc6", DS_A);    push(rv, r, CIDR(r, "source.ip", "2001:db8::", 32));
    r = rule_new("any6", DS_A);    push(rv, r, CIDR(r, "source.ip", "::", 0));
    r = rule_new("host128", DS_A); push(rv, r, CIDR(r, "source.ip", "fe80::1", 128));
}

Test(match_direct, cidr_v4_v6)
{
    pair_t p;
    pair_build(&p, mk_cidr);
    cr_expect_str_eq(match1(&p, "source.ip", "10.1.2.3"), "ten,any4");
    cr_expect_str_eq(match1(&p, "source.ip", "11.0.0.1"), "any4");
    cr_expect_str_eq(match1(&p, "source.ip", "192.168.1.5"), "any4,host32");
    cr_expect_str_eq(match1(&p, "source.ip", "192.168.1.4"), "any4");
    cr_expect_str_eq(match1(&p, "source.ip", "172.31.255.255"), "any4,odd20");
    cr_expect_str_eq(match1(&p, "source.ip", "172.32.0.0"), "any4");
    cr_expect_str_eq(match1(&p, "source.ip", "::ffff:10.9.9.9"), "ten,any4,any6",
                     "an IPv4-mapped address is also its IPv4 address");
    cr_expect_str_eq(match1(&p, "source.ip", "2001:db8:1::7"), "doc6,any6");
    cr_expect_str_eq(match1(&p, "source.ip", "2001:db9::7"), "any6");
    cr_expect_str_eq(match1(&p, "source.ip", "fe80::1"), "any6,host128");
    cr_expect_str_eq(match1(&p, "source.ip", "fe80::2"), "any6");
    cr_expect_str_eq(match1(&p, "source.ip", "not an ip"), "", "/0 needs an IP");
    cr_expect_str_eq(match1(&p, "source.ip", "10.1.2.3.4"), "");
    cr_expect_str_eq(match1(&p, "source.ip", "10.1.2"), "");
    cr_expect_str_eq(match1(&p, "source.ip", "10.01.2.3"), "", "no leading zeros");
    cr_expect_str_eq(match1(&p, "source.ip", "10.1.2.300"), "");
    cr_expect_str_eq(match1(&p, "source.ip", ""), "");
    cr_expect_str_eq(match1(&p, "source.ip", "2001:db8::zz"), "");
    pair_free(&p);
}

static void mk_num(canh_rulevec_t *rv)
{
    canh_rule_t *r;
    r = rule_new("gt1000", DS_A); push(rv, r, NUM(r, "http.response.body.bytes", CANH_NUM_GT, 1000));
    r = rule_new("gte1000", DS_A); push(rv, r, NUM(r, "http.response.body.bytes", CANH_NUM_GTE, 1000));
    r = rule_new("lt0", DS_A);    push(rv, r, NUM(r, "http.response.body.bytes", CANH_NUM_LT, 0));
    r = rule_new("lte22", DS_A);  push(rv, r, NUM(r, "http.response.body.bytes", CANH_NUM_LTE, 22.5));
}

Test(match_direct, numbers)
{
    pair_t p;
    pair_build(&p, mk_num);
    const char *f = "http.response.body.bytes";
    cr_expect_str_eq(match1(&p, f, "1001"), "gt1000,gte1000");
    cr_expect_str_eq(match1(&p, f, "1000"), "gte1000");
    cr_expect_str_eq(match1(&p, f, "1000.5"), "gt1000,gte1000");
    cr_expect_str_eq(match1(&p, f, "1e4"), "gt1000,gte1000");
    cr_expect_str_eq(match1(&p, f, "22.5"), "lte22");
    cr_expect_str_eq(match1(&p, f, "-5"), "lt0,lte22");
    cr_expect_str_eq(match1(&p, f, "123456789012345678901234"), "gt1000,gte1000", "big numbers");
    cr_expect_str_eq(match1(&p, f, "abc"), "", "not a number");
    cr_expect_str_eq(match1(&p, f, "12abc"), "");
    cr_expect_str_eq(match1(&p, f, "0x10"), "");
    cr_expect_str_eq(match1(&p, f, "nan"), "");
    cr_expect_str_eq(match1(&p, f, "inf"), "");
    cr_expect_str_eq(match1(&p, f, " 5"), "");
    cr_expect_str_eq(match1(&p, f, ""), "");
    cr_expect_str_eq(match1(&p, f, "-"), "");
    cr_expect_str_eq(match1(&p, f, "."), "");
    cr_expect_str_eq(match1(&p, f, "1e"), "");
    pair_free(&p);
}

static void mk_fieldref(canh_rulevec_t *rv)
{
    canh_rule_t *r;
    r = rule_new("same_user", DS_A);
    push(rv, r, FREF(r, "user.name", "user.target.name"));
    r = rule_new("dyn_ref", DS_A);
    push(rv, r, FREF(r, "custom.a", "custom.b"));
}

Test(match_direct, fieldref)
{
    pair_t p;
    pair_build(&p, mk_fieldref);
    canh_event_t *ev = ev_new(DS_A);
    ev_add(ev, "user.name", "bob");
    ev_add(ev, "user.target.name", "bob");
    cr_expect_str_eq(match(&p, ev), "same_user");
    canh_event_clear(ev);
    ev->datasets = DS_A;
    ev_add(ev, "user.name", "bob");
    ev_add(ev, "user.target.name", "Bob");
    ev_add(ev, "custom.a", "");
    ev_add(ev, "custom.b", "");
    cr_expect_str_eq(match(&p, ev), "dyn_ref", "case matters; empty equals empty");
    canh_event_clear(ev);
    ev->datasets = DS_A;
    ev_add(ev, "user.name", "bob");
    cr_expect_str_eq(match(&p, ev), "", "no other field, no equality");
    free(ev);
    pair_free(&p);
}

/* ------------------------------------------------------------------ */
/* trees, gating, datasets                                             */

static void mk_trees(canh_rulevec_t *rv)
{
    canh_rule_t *r;
    /* (sel1 and not filter) or (sel2 and sel3) */
    r = rule_new("tree", DS_A);
    push(rv, r, OR(AND(PAT(r, "message", "alpha", 0), NOT(PAT(r, "message", "beta", 0)), NULL),
                   AND(PAT(r, "user.name", "\\Aroot\\z", 0), PAT(r, "host.name", "db", 0), NULL),
                   NULL));
    /* not filter: matches any event without it */
    r = rule_new("not_only", DS_A); push(rv, r, NOT(PAT(r, "message", "healthcheck", 0)));
    /* a pattern or an exists: evaluated on every event */
    r = rule_new("or_exists", DS_A);
    push(rv, r, OR(PAT(r, "message", "gamma", 0), EXISTS(r, "custom.flag"), NULL));
    /* a pattern and a non-pattern: waits for the pattern */
    r = rule_new("and_num", DS_A);
    push(rv, r, AND(PAT(r, "message", "delta", 0), NUM(r, "source.port", CANH_NUM_GT, 1024), NULL));
    /* not(not pattern) is still gated */
    r = rule_new("notnot", DS_A); push(rv, r, NOT(NOT(PAT(r, "message", "omega", 0))));
}

Test(match_tree, and_or_not_and_gating)
{
    pair_t p;
    pair_build(&p, mk_trees);
    canh_ruleset_info_t info;
    canh_ruleset_info(p.hs, &info);
    cr_expect_eq(info.always_eval, 2, "not_only and or_exists; tree, and_num, notnot are gated");

    cr_expect_str_eq(match1(&p, "message", "alpha"), "tree,not_only");
    cr_expect_str_eq(match1(&p, "message", "alpha beta"), "not_only");
    cr_expect_str_eq(match1(&p, "message", "healthcheck alpha"), "tree");
    cr_expect_str_eq(match1(&p, "message", "healthcheck omega"), "notnot");
    canh_event_t *ev = ev_new(DS_A);
    ev_add(ev, "user.name", "root");
    ev_add(ev, "host.name", "db01");
    ev_add(ev, "custom.flag", "1");
    ev_add(ev, "message", "delta healthcheck");
    ev_add(ev, "source.port", "2222");
    cr_expect_str_eq(match(&p, ev), "tree,or_exists,and_num");
    free(ev);
    ev = ev_new(DS_A);
    ev_add(ev, "message", "delta healthcheck");
    ev_add(ev, "source.port", "22");
    cr_expect_str_eq(match(&p, ev), "");
    free(ev);
    pair_free(&p);
}

static void mk_datasets(canh_rulevec_t *rv)
{
    canh_rule_t *r;
    r = rule_new("sshd", DS_A);       push(rv, r, PAT(r, "message", "Failed password", 0));
    r = rule_new("web", DS_B);        push(rv, r, PAT(r, "message", "Failed password", 0));
    r = rule_new("sshd_exists", DS_A); push(rv, r, EXISTS(r, "user.name"));
    r = rule_new("both", DS_A | DS_C); push(rv, r, NOT(PAT(r, "message", "nothing", 0)));
}

/* Ten datasets on one field: more dataset masks than databases per field,
 * so the smaller groups share one database. Each rule must still see only
 * its own datasets, and a shared pattern wake every rule that holds it. */
static const int many_ds[10] = { CANH_DS_SYSLOG, CANH_DS_SSHD, CANH_DS_SUDO, CANH_DS_SU,
                                 CANH_DS_AUTH, CANH_DS_CRON, CANH_DS_AUDITD,
                                 CANH_DS_PROCESS_CREATION, CANH_DS_WEBSERVER, CANH_DS_JSON };

static void mk_many_datasets(canh_rulevec_t *rv)
{
    for (int d = 0; d < 10; d++) {
        char id[16], re[16];
        snprintf(id, sizeof(id), "d%d", d);
        snprintf(re, sizeof(re), "word%d", d);
        canh_rule_t *r = rule_new(id, CANH_DS_BIT(many_ds[d]));
        /* each rule: its own word, or the word every rule shares */
        push(rv, r, OR(PAT(r, "message", re, CANH_PAT_CASELESS),
                       PAT(r, "message", "shared", CANH_PAT_CASELESS), NULL));
    }
}

Test(match_tree, many_datasets_share_field_databases)
{
    pair_t p;
    pair_build(&p, mk_many_datasets);
    canh_ruleset_info_t info;
    canh_ruleset_info(p.hs, &info);
    cr_expect_leq(info.databases, 6, "at most MAX_FIELD_DBS databases for one field");
    canh_event_t *ev = ev_new(0);
    for (int d = 0; d < 10; d++) {
        char want[8], text[32];
        snprintf(want, sizeof(want), "d%d", d);
        for (int w = 0; w < 10; w++) {
            canh_event_clear(ev);
            ev->datasets = CANH_DS_BIT(many_ds[d]);
            snprintf(text, sizeof(text), "a WORD%d here", w);
            ev_add(ev, "message", text);
            cr_expect_str_eq(match(&p, ev), w == d ? want : "", "dataset %d, word %d", d, w);
        }
        canh_event_clear(ev);
        ev->datasets = CANH_DS_BIT(many_ds[d]);
        ev_add(ev, "message", "a Shared word");
        cr_expect_str_eq(match(&p, ev), want, "shared word, dataset %d", d);
    }
    free(ev);
    pair_free(&p);
}

/* A weak equality (GET) and a `not` filter are never fast patterns: they are
 * scanned lazily, only for events that woke the rule. They must still
 * decide the match exactly. */
static void mk_lazy(canh_rulevec_t *rv)
{
    canh_rule_t *r = rule_new("admin_get", DS_B);
    push(rv, r, AND(PAT(r, "url.original", "/wp-admin/install\\.php", CANH_PAT_CASELESS),
                    PAT(r, "http.request.method", "\\AGET\\z", CANH_PAT_CASELESS),
                    NOT(PAT(r, "source.ip", "\\A10\\.", 0)), NULL));
}

Test(match_tree, lazy_patterns_still_decide)
{
    pair_t p;
    pair_build(&p, mk_lazy);
    canh_event_t *ev = ev_new(DS_B);
    static const struct { const char *url, *method, *ip, *want; } cases[] = {
        { "/wp-admin/install.php", "GET",  "203.0.113.9", "admin_get" },
        { "/wp-admin/install.php", "get",  "203.0.113.9", "admin_get" },
        { "/wp-admin/install.php", "POST", "203.0.113.9", "" },
        { "/wp-admin/install.php", "GET",  "10.1.2.3",    "" },
        { "/index.php",            "GET",  "203.0.113.9", "" },
    };
    for (size_t i = 0; i < CANH_ARRAY_LEN(cases); i++) {
        canh_event_clear(ev);
        ev->datasets = DS_B;
        ev_add(ev, "http.request.method", cases[i].method);
        ev_add(ev, "source.ip", cases[i].ip);
        ev_add(ev, "url.original", cases[i].url);
        cr_expect_str_eq(match(&p, ev), cases[i].want, "case %zu", i);
    }
    /* no url at all: the rule never wakes, whatever the method */
    canh_event_clear(ev);
    ev->datasets = DS_B;
    ev_add(ev, "http.request.method", "GET");
    cr_expect_str_eq(match(&p, ev), "");
    free(ev);
    pair_free(&p);
}

Test(match_tree, datasets_filter_rules)
{
    pair_t p;
    pair_build(&p, mk_datasets);
    canh_event_t *ev = ev_new(DS_A);
    ev_add(ev, "message", "Failed password for root");
    ev_add(ev, "user.name", "root");
    cr_expect_str_eq(match(&p, ev), "sshd,sshd_exists,both");
    ev->datasets = DS_B;
    cr_expect_str_eq(match(&p, ev), "web");
    ev->datasets = DS_C;
    cr_expect_str_eq(match(&p, ev), "both");
    ev->datasets = DS_A | DS_B | DS_C;
    cr_expect_str_eq(match(&p, ev), "sshd,web,sshd_exists,both", "each rule once");
    ev->datasets = CANH_DS_BIT(CANH_DS_CRON);
    cr_expect_str_eq(match(&p, ev), "");
    ev->datasets = 0;
    cr_expect_str_eq(match(&p, ev), "");
    free(ev);
    pair_free(&p);
}

/* ------------------------------------------------------------------ */
/* fields and values                                                   */

static void mk_fields(canh_rulevec_t *rv)
{
    canh_rule_t *r;
    r = rule_new("args", DS_A);    push(rv, r, PAT(r, "process.args", "\\A--evil\\z", 0));
    r = rule_new("dyn", DS_A);     push(rv, r, PAT(r, "custom.thing", "\\Abad", 0));
    r = rule_new("dyn_ci", DS_A);  push(rv, r, PAT(r, "Custom.Thing", "bad", 0));
    r = rule_new("all_args", DS_A);
    push(rv, r, AND(PAT(r, "process.args", "\\A-x\\z", 0), PAT(r, "process.args", "\\A-y\\z", 0), NULL));
    /* a static field named in a rule with field_id DYNAMIC is still that field */
    r = rule_new("static_by_name", DS_A);
    push(rv, r, PAT(r, "user.name", "\\Aeve\\z", 0));
    r->atoms[0].field_id = CANH_F_DYNAMIC;
}

Test(match_fields, repeated_dynamic_and_static_names)
{
    pair_t p;
    pair_build(&p, mk_fields);
    canh_event_t *ev = ev_new(DS_A);
    ev_add(ev, "process.args", "ls");
    ev_add(ev, "process.args", "--evil");
    ev_add(ev, "process.args", "/tmp");
    cr_expect_str_eq(match(&p, ev), "args", "any value of a repeated field");
    canh_event_clear(ev);
    ev->datasets = DS_A;
    ev_add(ev, "process.args", "-y");
    ev_add(ev, "process.args", "-x");
    cr_expect_str_eq(match(&p, ev), "all_args", "two atoms, two values of one field");
    cr_expect_str_eq(match1(&p, "custom.thing", "bad one"), "dyn");
    cr_expect_str_eq(match1(&p, "Custom.Thing", "so bad"), "dyn_ci", "names are case-sensitive");
    cr_expect_str_eq(match1(&p, "custom.other", "bad"), "");
    cr_expect_str_eq(match1(&p, "user.name", "eve"), "static_by_name");
    free(ev);
    pair_free(&p);
}

static void mk_dedup(canh_rulevec_t *rv)
{
    canh_rule_t *r;
    r = rule_new("one", DS_A);   push(rv, r, PAT(r, "user.name", "\\Aroot\\z", 0));
    r = rule_new("two", DS_A);
    push(rv, r, AND(PAT(r, "user.name", "\\Aroot\\z", 0), PAT(r, "message", "x", 0), NULL));
    r = rule_new("three", DS_B); push(rv, r, PAT(r, "user.name", "\\Aroot\\z", 0));
    r = rule_new("other_field", DS_A); push(rv, r, PAT(r, "group.name", "\\Aroot\\z", 0));
    r = rule_new("other_flags", DS_A);
    push(rv, r, PAT(r, "user.name", "\\Aroot\\z", CANH_PAT_CASELESS));
}

static void count_patterns(void *ud, const char *field, const char *regex, unsigned flags,
                           int hs_mode, uint32_t rule_idx)
{
    int *n = ud;
    (void)flags; (void)rule_idx;
    cr_expect_eq(hs_mode, CANH_HS_EXACT, "%s %s", field, regex);
    (*n)++;
}

Test(match_fields, identical_patterns_shared)
{
    pair_t p;
    pair_build(&p, mk_dedup);
    canh_ruleset_info_t info;
    canh_ruleset_info(p.hs, &info);
    cr_expect_eq(info.hs_exact, 4, "root/user.name shared by three rules; other field and flags apart");
    int n = 0;
    cr_expect_eq(canh_ruleset_patterns(p.hs, count_patterns, &n), CANH_OK);
    cr_expect_eq(n, 6, "one call per pattern atom");

    canh_event_t *ev = ev_new(DS_A | DS_B);
    ev_add(ev, "user.name", "root");
    ev_add(ev, "message", "x");
    cr_expect_str_eq(match(&p, ev), "one,two,three,other_flags");
    ev->datasets = DS_A;
    cr_expect_str_eq(match(&p, ev), "one,two,other_flags");
    uint32_t out[2] = { 99, 99 };
    cr_expect_eq(canh_matcher_match(p.mh, ev, out, 1), 3, "the count, even past max");
    cr_expect_eq(out[0], 0);
    cr_expect_eq(out[1], 99, "nothing written past max");
    free(ev);
    pair_free(&p);
}

static void mk_bytes(canh_rulevec_t *rv)
{
    canh_rule_t *r;
    r = rule_new("empty_eq", DS_A); push(rv, r, PAT(r, "user.name", "\\A\\z", 0));
    r = rule_new("star", DS_A);     push(rv, r, PAT(r, "url.query", "\\A.*\\z", CANH_PAT_DOTALL));
    r = rule_new("nul", DS_A);      push(rv, r, PAT(r, "message", "b\\x00c", 0));
    /* bytes that are not UTF-8 are matched as U+FFFD (EF BF BD), one per byte */
    r = rule_new("ff_end", DS_A);   push(rv, r, PAT(r, "message", "\\xef\\xbf\\xbd\\z", 0));
    r = rule_new("raw_ff", DS_A);   push(rv, r, PAT(r, "message", "\\xff", 0));
    r = rule_new("dot_nul", DS_A);  push(rv, r, PAT(r, "message", "\\Aa.b", CANH_PAT_CASELESS));
    r = rule_new("hi_ci", DS_A);
    push(rv, r, PAT(r, "message", "\\xef\\xbf\\xbdT\\xef\\xbf\\xbd", CANH_PAT_CASELESS));
}

Test(match_fields, empty_values_and_arbitrary_bytes)
{
    pair_t p;
    pair_build(&p, mk_bytes);
    cr_expect_str_eq(match1(&p, "user.name", ""), "empty_eq");
    cr_expect_str_eq(match1(&p, "user.name", "x"), "");
    cr_expect_str_eq(match1(&p, "message", ""), "", "another field empty");
    cr_expect_str_eq(match1(&p, "url.query", ""), "star", ".* matches the empty value");
    cr_expect_str_eq(match1(&p, "url.query", "a\nb"), "star");

    canh_event_t *ev = ev_new(DS_A);
    static const char v[] = "ab\0cd\xff";
    ev_addn(ev, "message", v, sizeof(v) - 1);
    cr_expect_str_eq(match(&p, ev), "nul,ff_end");
    canh_event_clear(ev);
    ev->datasets = DS_A;
    static const char w[] = "A\0b\0c";
    ev_addn(ev, "message", w, sizeof(w) - 1);
    cr_expect_str_eq(match(&p, ev), "nul,dot_nul", "NUL is a byte like any other");
    canh_event_clear(ev);
    ev->datasets = DS_A;
    static const char x[] = "\xe9t\xe9";   /* Latin-1, not UTF-8 */
    ev_addn(ev, "message", x, sizeof(x) - 1);
    cr_expect_str_eq(match(&p, ev), "ff_end,hi_ci", "each stray byte is one U+FFFD, never the raw byte");
    canh_event_clear(ev);
    ev->datasets = DS_A;
    ev_addn(ev, "message", NULL, 0);
    ev_addn(ev, "user.name", NULL, 0);
    cr_expect_str_eq(match(&p, ev), "empty_eq", "a NULL empty slice is an empty value");
    free(ev);
    pair_free(&p);
}

/* ------------------------------------------------------------------ */
/* randomized differential: Hyperscan vs PCRE2-only                    */

static uint64_t rng_state;

static uint64_t rnd(void)
{
    uint64_t x = rng_state;   /* xorshift64* */
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    rng_state = x;
    return x * 0x2545F4914F6CDD1Dull;
}

static unsigned rn(unsigned n) { return (unsigned)(rnd() % n); }

static const char *const rfields[] = {
    "message", "process.command_line", "user.name", "url.path", "process.args",
    "host.name", "k1", "k2", "x.y", "source.port",
};
static const char ralpha[] = "aabbAB/-. 1\n";

static void rand_text(char *out, size_t n)
{
    for (size_t i = 0; i < n; i++)
        out[i] = ralpha[rn(sizeof(ralpha) - 1)];
    out[n] = '\0';
}

static void rand_literal(char *re, size_t cap)
{
    char lit[8];
    rand_text(lit, 2 + rn(2));
    size_t k = 0;
    int anchor = (int)rn(4);   /* contains, startswith, endswith, equals */
    if (anchor == 1 || anchor == 3)
        k += (size_t)snprintf(re + k, cap - k, "\\A");
    for (const char *c = lit; *c; c++) {
        if (*c == '\n')
            k += (size_t)snprintf(re + k, cap - k, "\\n");
        else if (strchr("\\^$.|?*+()[]{}/- ", *c))
            k += (size_t)snprintf(re + k, cap - k, "\\%c", *c);
        else
            re[k++] = *c;
    }
    re[k] = '\0';
    if (anchor == 2 || anchor == 3)
        snprintf(re + k, cap - k, "\\z");
}

static const char *const rregex[] = {
    "[ab]+/", "a{2,3}", "(a|b)B", "^a", "b$", "\\bab", "a.b", "(ab)+\\z", "[^a ]{2}",
    "\\A[ab1]*\\z", "a\\s*b", "^\\d", "b\\.?a", "(?:A|1)-", "\\Ab.*a\\z", "x?a", "\\A\\z",
    /* prefilter */
    "(a|b)\\1", "(a+)-\\1", "a(?=b)", "(?<!A)b", "(?<=/)a", "(b)\\1\\z",
    /* PCRE2 only */
    "a\\Kb", "(?|(a)|(b))\\1", "<(?:[^<>]|(?R))*>|ab(?R)?a",
};

static canh_node_t *rand_tree(canh_rule_t *r, int depth)
{
    unsigned k = depth >= 3 ? 0 : rn(10);
    if (k < 5) {
        const char *f = rfields[rn(CANH_ARRAY_LEN(rfields))];
        unsigned kind = rn(20);
        if (kind == 0)
            return EXISTS(r, f);
        if (kind == 1)
            return EMPTY(r, f);
        if (kind == 2)
            return NUM(r, f, (canh_num_op_t)rn(4), (double)rn(3));
        char re[64];
        unsigned flags = rn(3) == 0 ? CANH_PAT_CASELESS : 0;
        if (kind < 12) {
            rand_literal(re, sizeof(re));
        } else if (kind < 15) {   /* Sigma wildcard: foo*bar?  ->  \Afoo.*bar.\z, dotall */
            char a[4], b[4];
            rand_text(a, 1 + rn(2));
            rand_text(b, rn(2));
            for (char *c = a; *c; c++) if (!strchr("ab1A", *c)) *c = 'a';
            for (char *c = b; *c; c++) if (!strchr("ab1A", *c)) *c = 'b';
            snprintf(re, sizeof(re), "%s%s.*%s%s", rn(2) ? "\\A" : "", a, b, rn(2) ? ".\\z" : "");
            flags |= CANH_PAT_DOTALL;
        } else {
            snprintf(re, sizeof(re), "%s", rregex[rn(CANH_ARRAY_LEN(rregex))]);
            if (rn(3) == 0)
                flags |= CANH_PAT_MULTILINE;
            if (rn(3) == 0)
                flags |= CANH_PAT_DOTALL;
        }
        return PAT(r, f, re, flags);
    }
    if (k < 6)
        return NOT(rand_tree(r, depth + 1));
    canh_node_t *n = k < 8 ? AND(rand_tree(r, depth + 1), NULL) : OR(rand_tree(r, depth + 1), NULL);
    unsigned more = 1 + rn(3);
    for (unsigned i = 0; i < more; i++)
        n->kids[n->nkids++] = rand_tree(r, depth + 1);
    return n;
}

#define RAND_RULES  200
#define RAND_EVENTS 5000
static uint64_t rand_seed;

static void mk_random(canh_rulevec_t *rv)
{
    rng_state = rand_seed;
    static const uint64_t ds[] = { DS_A, DS_B, DS_C, DS_A | DS_B };
    for (int i = 0; i < RAND_RULES; i++) {
        char id[16];
        snprintf(id, sizeof(id), "r%d", i);
        canh_rule_t *r = rule_new(id, ds[rn(4)]);
        push(rv, r, rand_tree(r, 0));
    }
}

Test(match_random, hyperscan_equals_pcre2_reference, .timeout = 120)
{
    const char *env = getenv("CANH_TEST_SEED");
    rand_seed = env ? strtoull(env, NULL, 0) : 0x5eed2024cafeULL;
    if (!rand_seed)
        rand_seed = 1;
    fprintf(stderr, "match_random: seed %#llx (set CANH_TEST_SEED to change)\n",
            (unsigned long long)rand_seed);
    pair_t p;
    pair_build(&p, mk_random);
    canh_ruleset_info_t info;
    canh_ruleset_info(p.hs, &info);
    cr_assert_eq(info.rules, RAND_RULES);
    cr_assert_gt(info.hs_exact, 50);
    cr_assert_gt(info.hs_prefilter, 0);
    cr_assert_gt(info.pcre_only, 0);
    cr_assert_lt(info.always_eval, RAND_RULES, "some rules are gated");

    canh_event_t *ev = ev_new(0);
    static const uint64_t eds[] = { DS_A, DS_B, DS_C, DS_A | DS_C };
    char vals[CANH_EVENT_MAX_FIELDS][16];
    size_t total = 0, events_hit = 0;
    for (int e = 0; e < RAND_EVENTS; e++) {
        canh_event_clear(ev);
        ev->datasets = eds[rn(4)];
        unsigned nf = rn(10);
        for (unsigned i = 0; i < nf; i++) {
            rand_text(vals[i], rn(11));
            ev_add(ev, rfields[rn(CANH_ARRAY_LEN(rfields))], vals[i]);
        }
        uint32_t a[RAND_RULES], b[RAND_RULES];
        int na = canh_matcher_match(p.mh, ev, a, RAND_RULES);
        int nb = canh_matcher_match(p.mr, ev, b, RAND_RULES);
        cr_assert_eq(na, nb, "event %d: Hyperscan %d rules, PCRE2 %d rules (seed %#llx)", e, na, nb,
                     (unsigned long long)rand_seed);
        cr_assert_arr_eq(a, b, sizeof(uint32_t) * (size_t)na, "event %d: rule lists differ", e);
        /* explanations agree with the verdicts: every rule of the first
         * events (both paths), the rules that fired after that */
        check_explain(p.mh, p.hs, ev, a, na, e < 1000, "Hyperscan");
        check_explain(p.mr, p.ref, ev, b, nb, e < 300, "PCRE2-only");
        total += (size_t)na;
        events_hit += na > 0;
    }
    fprintf(stderr, "match_random: %zu matches over %d events (%zu with a match); "
            "%zu exact, %zu prefilter, %zu PCRE2-only, %zu always evaluated\n",
            total, RAND_EVENTS, events_hit, info.hs_exact, info.hs_prefilter, info.pcre_only,
            info.always_eval);
    cr_expect_gt(events_hit, RAND_EVENTS / 4, "the alphabet is small so that rules do match");
    cr_expect_eq(canh_matcher_errors(p.mh), 0);
    free(ev);
    pair_free(&p);
}
