/*
 * fuzz/fuzz_sigma.c -- libFuzzer target: the Sigma rule loader
 * (engine/detect/sigma.c, filter.c, condition.c) from YAML text, and the
 * compile of what it loads into a matcher (engine/detect/match.c), as
 * `canh rules check` and a reload do.
 *
 * The input is the text of one rule file (any number of YAML documents:
 * rules and Sigma filters), read with the shipped field map
 * (conf/fieldmap.yml, loaded once). What loads is compiled twice: into
 * the Hyperscan rule set canh runs, and into the PCRE2-only reference
 * (canh_ruleset_build_pcre_only). Each rule's own samples (canh: tests:)
 * are then parsed and matched by both.
 * Invariants checked: every refusal names the file and a reason; both
 * builds keep the same rules and give the same rules for every sample
 * (match.h: "same answers"); a rule that loads gets its alert part.
 *
 * Thread: libFuzzer's (one).
 */
#include <stdint.h>
#include <string.h>

#include "../engine/detect/match.h"
#include "../engine/load.h"
#include "../parsers/parse.h"
#include "../sinks/alert.h"
#include "fuzz_common.h"

#define NAME     "fuzz.yml"
#define MAX_HITS 64

static canh_fieldmap_t *fieldmap;
static canh_parser_t *parser;

static void on_refuse(void *ud, const char *file, int line, const char *id, const char *why)
{
    (void)line;
    (void)id;
    size_t *n = ud;
    (*n)++;
    FUZZ_CHECK(file && strcmp(file, NAME) == 0, "a refusal names file '%s'", file ? file : "");
    FUZZ_CHECK(why && *why, "a refusal without a reason");
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    char path[4096], err[512];
    snprintf(path, sizeof(path), "%s/conf/fieldmap.yml", fuzz_home());
    canh_log_level = CANH_LOG_ERROR;
    FUZZ_SETUP(canh_fieldmap_load(&fieldmap, path, err, sizeof(err)) == CANH_OK, "%s", err);
    canh_parse_opts_t po = { .default_year = 2026, .reference_ms = 1780000000000 };
    FUZZ_SETUP((parser = canh_parser_new(&po)), "no parser");
    return 0;
}

/* Loads the text; 0 if no rule loaded. */
static size_t load(const uint8_t *data, size_t size, canh_rulevec_t *rv, size_t *refusals)
{
    size_t loaded = 0, refused = 0;
    memset(rv, 0, sizeof(*rv));
    canh_sigma_load_string(fieldmap, (const char *)data, size, NAME, rv, on_refuse, refusals,
                           &loaded, &refused);
    FUZZ_CHECK(loaded == rv->n, "%zu rules said loaded, %zu in the list", loaded, rv->n);
    FUZZ_CHECK(canh_sigma_apply_filters(fieldmap, rv, on_refuse, refusals) == CANH_OK,
               "filters not applied");
    return rv->n;
}

typedef struct hits {
    canh_matcher_t *m;
    uint32_t v[MAX_HITS];
    int n;
} hits_t;

static int on_event(void *ud, canh_event_t *ev)
{
    hits_t *h = ud;
    int n = canh_matcher_match(h->m, ev, h->v + h->n, MAX_HITS - (size_t)h->n);
    FUZZ_CHECK(n >= 0, "canh_matcher_match failed: %d", n);
    h->n += n < MAX_HITS - h->n ? n : MAX_HITS - h->n;
    return 0;
}

static void match_sample(canh_matcher_t *m, const char *s, hits_t *h)
{
    h->m = m;
    h->n = 0;
    canh_parse_opts_t po = { .default_year = 2026, .reference_ms = 1780000000000 };
    canh_parser_reset(parser, &po);
    canh_parser_feed(parser, s, strlen(s), on_event, h);
    canh_parser_flush(parser, on_event, h);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 64 * 1024)   /* a rule file, not a corpus of them */
        return 0;
    canh_rulevec_t rv, ref;
    size_t refusals = 0, ref_refusals = 0;
    if (!load(data, size, &rv, &refusals)) {
        canh_rulevec_free(&rv);
        return 0;
    }
    load(data, size, &ref, &ref_refusals);
    FUZZ_CHECK(rv.n == ref.n && refusals == ref_refusals, "loading the same text twice differs");
    for (size_t i = 0; i < rv.n; i++)
        FUZZ_CHECK(canh_alert_prepare(rv.v[i]) == CANH_OK, "rule %s: no alert part",
                   rv.v[i]->id);

    char err[512], err2[512];
    canh_ruleset_t *rs = NULL, *rs_ref = NULL;
    size_t build_refused = 0, ref_build_refused = 0;
    int rc = canh_ruleset_build(&rs, &rv, on_refuse, &build_refused, err, sizeof(err));
    int rc_ref = canh_ruleset_build_pcre_only(&rs_ref, &ref, on_refuse, &ref_build_refused,
                                              err2, sizeof(err2));
    canh_rulevec_free(&rv);
    canh_rulevec_free(&ref);
    if (rc != CANH_OK || rc_ref != CANH_OK) {
        /* a set too big for Hyperscan is an error, not a crash; the
         * reference only ever refuses rule by rule */
        canh_ruleset_free(rs);
        canh_ruleset_free(rs_ref);
        return 0;
    }
    FUZZ_CHECK(canh_ruleset_size(rs) == canh_ruleset_size(rs_ref),
               "Hyperscan build keeps %zu rules, the reference %zu", canh_ruleset_size(rs),
               canh_ruleset_size(rs_ref));

    canh_matcher_t *m = canh_matcher_new(rs, err, sizeof(err));
    canh_matcher_t *m_ref = canh_matcher_new(rs_ref, err2, sizeof(err2));
    FUZZ_CHECK(m && m_ref, "no matcher: %s / %s", err, err2);
    hits_t a, b;
    for (size_t i = 0; i < canh_ruleset_size(rs); i++) {
        const canh_rule_t *r = canh_ruleset_rule(rs, (uint32_t)i);
        for (int pass = 0; pass < 2; pass++) {
            char **s = pass ? r->nomatch_samples : r->match_samples;
            size_t ns = pass ? r->nnomatch_samples : r->nmatch_samples;
            for (size_t k = 0; k < ns && k < 8; k++) {
                match_sample(m, s[k], &a);
                match_sample(m_ref, s[k], &b);
                /* a matcher error (PCRE2 match limit) is "no match" on one
                 * side only: no comparison then */
                if (canh_matcher_errors(m) || canh_matcher_errors(m_ref))
                    continue;
                FUZZ_CHECK(a.n == b.n && !memcmp(a.v, b.v, (size_t)a.n * sizeof(a.v[0])),
                           "rule %s sample '%s': Hyperscan %d rules, PCRE2 reference %d",
                           r->id, s[k], a.n, b.n);
            }
        }
    }
    canh_matcher_free(m);
    canh_matcher_free(m_ref);
    canh_ruleset_free(rs);
    canh_ruleset_free(rs_ref);
    return 0;
}
