/*
 * fuzz/fuzz_nids.c -- libFuzzer target: the Suricata rule parser
 * (engine/detect/nids_parse.c) on rule text, as `canh rules check` reads a
 * .rules file.
 *
 * The input is a .rules file: one rule per line (a line may hold NUL bytes:
 * it is cut there, as a C string would be). Each line is parsed with the
 * default variables plus a few nested ones (so $VAR paths are reached).
 * Invariants checked: every refusal names the file, the line, a "sid:"
 * and a reason; a rule that loads has a sid, an alert rule, contents with
 * bytes, a pcre PCRE2 compiles, and address and port sets that are sorted,
 * disjoint and positive; parsing the same text twice gives the same.
 *
 * Thread: libFuzzer's (one).
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdint.h>
#include <string.h>

#include "../engine/detect/nids.h"
#include "fuzz_common.h"

#define NAME "fuzz.rules"

static canh_nids_vars_t *vars;

static void on_refuse(void *ud, const char *file, int line, const char *id, const char *why)
{
    size_t *n = ud;
    (*n)++;
    FUZZ_CHECK(file && strcmp(file, NAME) == 0, "a refusal names file '%s'", file ? file : "");
    FUZZ_CHECK(line > 0, "a refusal without a line");
    FUZZ_CHECK(id && strncmp(id, "sid:", 4) == 0, "a refusal names '%s', not a sid", id ? id : "");
    FUZZ_CHECK(why && *why, "a refusal without a reason");
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    char err[256];
    canh_log_level = CANH_LOG_ERROR;
    FUZZ_SETUP((vars = canh_nids_vars_default()), "no variables");
    FUZZ_SETUP(canh_nids_vars_set(vars, "A", "[1.2.3.0/24,!1.2.3.4,$HOME_NET]", err,
                                  sizeof(err)) == CANH_OK, "%s", err);
    FUZZ_SETUP(canh_nids_vars_set(vars, "B", "![$A,2001:db8::/32]", err, sizeof(err)) == CANH_OK,
               "%s", err);
    FUZZ_SETUP(canh_nids_vars_set(vars, "P", "[$HTTP_PORTS,!81,1000:]", err, sizeof(err))
               == CANH_OK, "%s", err);
    return 0;
}

static void check_addr(const canh_nids_addr_t *a)
{
    if (a->any) {
        FUZZ_CHECK(a->n == 0, "any with ranges");
        return;
    }
    FUZZ_CHECK(a->n > 0, "an address set with no range that is not any");
    for (size_t i = 0; i < a->n; i++) {
        const canh_nids_iprange_t *r = &a->r[i];
        FUZZ_CHECK(r->ipver == 4 || r->ipver == 6, "ip version %d", r->ipver);
        FUZZ_CHECK(!r->neg, "a negated range left");
        FUZZ_CHECK(memcmp(r->lo, r->hi, 16) <= 0, "a range that ends before it starts");
        if (i)
            FUZZ_CHECK(r->ipver > a->r[i - 1].ipver
                           || (r->ipver == a->r[i - 1].ipver && memcmp(a->r[i - 1].hi, r->lo, 16) < 0),
                       "address ranges not sorted and disjoint");
    }
}

static void check_ports(const canh_nids_ports_t *p)
{
    if (p->any) {
        FUZZ_CHECK(p->n == 0, "any with ranges");
        return;
    }
    FUZZ_CHECK(p->n > 0, "a port set with no range that is not any");
    for (size_t i = 0; i < p->n; i++) {
        FUZZ_CHECK(!p->r[i].neg && p->r[i].lo <= p->r[i].hi, "bad port range");
        if (i)
            FUZZ_CHECK(p->r[i - 1].hi < p->r[i].lo, "port ranges not sorted and disjoint");
    }
}

static void check_rule(const canh_nids_rule_t *r)
{
    FUZZ_CHECK(r->sid > 0 && r->gid > 0, "sid %u gid %u", r->sid, r->gid);
    FUZZ_CHECK(r->alert_rule && r->alert_rule->id && r->alert_rule->title, "no alert rule");
    FUZZ_CHECK(r->priority >= 1, "priority %d", r->priority);
    check_addr(&r->src);
    check_addr(&r->dst);
    check_ports(&r->sport);
    check_ports(&r->dport);
    for (size_t i = 0; i < r->nm; i++) {
        const canh_nids_m_t *m = &r->m[i];
        FUZZ_CHECK(m->buffer < CANH_NB__COUNT, "buffer %d", m->buffer);
        FUZZ_CHECK(m->bytes, "a match without bytes");
        if (m->kind == CANH_NM_CONTENT) {
            FUZZ_CHECK(m->len > 0, "an empty content");
            FUZZ_CHECK(!m->has_depth || m->depth >= (int32_t)m->len, "depth under length");
        } else {
            int ec;
            PCRE2_SIZE eo;
            pcre2_code *c = pcre2_compile(m->bytes, m->len, m->pcre_flags, &ec, &eo, NULL);
            FUZZ_CHECK(c, "a loaded pcre that does not compile");
            pcre2_code_free(c);
        }
    }
}

/* Parses every line; returns the number loaded. */
static size_t parse_all(const uint8_t *data, size_t size, canh_nids_rulevec_t *rv, size_t *refused)
{
    char *line = malloc(size + 1);
    if (!line)
        return 0;
    uint32_t lineno = 0;
    size_t i = 0;
    while (i < size) {
        size_t n = 0;
        while (i < size && data[i] != '\n')
            line[n++] = (char)data[i++];
        i++;
        line[n] = '\0';
        lineno++;
        canh_nids_parse_rule(line, NAME, lineno, vars, rv, on_refuse, refused);
    }
    free(line);
    return rv->n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 64 * 1024)
        return 0;
    canh_nids_rulevec_t a = { 0 }, b = { 0 };
    size_t ra = 0, rb = 0;
    size_t na = parse_all(data, size, &a, &ra);
    for (size_t i = 0; i < a.n; i++)
        check_rule(a.v[i]);
    size_t nb = parse_all(data, size, &b, &rb);
    FUZZ_CHECK(na == nb && ra == rb, "parsing the same text twice differs");
    FUZZ_CHECK(a.nbits == b.nbits, "flowbit names differ");
    canh_nids_rulevec_free(&a);
    canh_nids_rulevec_free(&b);
    return 0;
}
