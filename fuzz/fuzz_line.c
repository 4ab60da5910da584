/*
 * fuzz/fuzz_line.c -- libFuzzer target: log lines through the whole event
 * path, as a worker runs it (engine/pipeline.c): parse and decode
 * (parsers/), match against the shipped rules (engine/detect/match.c),
 * and format every alert (sinks/alert.c), with canh.matched
 * (engine/explain.c) when asked.
 *
 * The shipped rules (rules/, conf/fieldmap.yml) are loaded and compiled
 * once, in LLVMFuzzerInitialize.
 *
 * Input: the first byte holds options, the rest is the log text.
 *   bit 0    the text is several lines (split at LF, as canh scan does:
 *            audit groups across lines), else one line whatever it holds
 *   bit 1    alerts carry canh.matched (outputs.alerts.matched)
 *   bit 2    zone-less stamps are read in Asia/Ho_Chi_Minh, else UTC
 *   bit 3    the event is also explained (canh explain), as text
 *   bit 4    ... as JSON
 *   bits 5-7 where the line came from (the alert's origin kind)
 * Invariants checked: every alert is one JSON object on one line, in
 * valid UTF-8 (the DESIGN's promise, whatever bytes came in); canh
 * explain's JSON is one JSON object too, its text has no control byte
 * but its own line ends (so no line can drive a terminal), and the
 * explanation never disagrees with the matcher's verdict; a counted
 * parse error has a reason.
 *
 * Thread: libFuzzer's (one); the rule set and matcher are static.
 */
#include <jansson.h>
#include <stdint.h>
#include <string.h>

#include "../engine/explain.h"
#include "../engine/load.h"
#include "../engine/text.h"
#include "../parsers/parse.h"
#include "../sinks/alert.h"
#include "fuzz_common.h"

#define MAX_HITS 256

static canh_load_result_t rules;
static canh_matcher_t *matcher;
static canh_parser_t *parser;
static canh_tz_t *zone;
static canh_alert_fmt_t fmt;
static canh_buf_t explained;

typedef struct run {
    int matched, explain, explain_json;
    canh_origin_t origin;
    uint64_t seq;
} run_t;

static void on_refuse(void *ud, const char *file, int line, const char *id, const char *why)
{
    (void)ud;
    fprintf(stderr, "fuzz_line: shipped rule refused: %s:%d: %s: %s\n", file, line, id, why);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    char rpath[4096], fpath[4096], err[512];
    snprintf(rpath, sizeof(rpath), "%s/rules", fuzz_home());
    snprintf(fpath, sizeof(fpath), "%s/conf/fieldmap.yml", fuzz_home());
    const char *paths[] = { rpath };
    canh_log_level = CANH_LOG_ERROR;   /* no info line per run */
    FUZZ_SETUP(canh_load_rules(paths, 1, fpath, NULL, on_refuse, NULL, &rules, err,
                               sizeof(err)) == CANH_OK, "%s", err);
    FUZZ_SETUP(rules.loaded > 0, "no rule loaded from %s", rpath);
    FUZZ_SETUP((matcher = canh_matcher_new(rules.rules, err, sizeof(err))), "%s", err);
    FUZZ_SETUP(canh_tz_load(&zone, "Asia/Ho_Chi_Minh", err, sizeof(err)) == CANH_OK, "%s", err);
    FUZZ_SETUP(canh_alert_set_observer("fuzz") == CANH_OK, "observer");
    canh_parse_opts_t po = { .default_year = 2026 };
    FUZZ_SETUP((parser = canh_parser_new(&po)), "no parser");
    canh_alert_fmt_init(&fmt);
    canh_buf_init(&explained);
    return 0;
}

/* The text must be one JSON object, in valid UTF-8, without a raw line end. */
static void check_json_object(const char *what, const char *p, size_t n)
{
    FUZZ_CHECK(!memchr(p, '\n', n), "%s holds a raw newline: %.*s", what, (int)n, p);
    /* JSON allows \u0000 in a key (a payload key may hold a NUL byte);
     * jansson does not: read it as \u0001, which changes no validity */
    static canh_buf_t copy;
    canh_buf_reset(&copy);
    canh_buf_put(&copy, p, n);
    for (char *q = copy.ptr; (q = memmem(q, copy.len - (size_t)(q - copy.ptr), "\\u0000", 6));)
        q[5] = '1';
    json_error_t e;
    json_t *j = json_loadb(copy.ptr, copy.len, 0, &e);
    FUZZ_CHECK(j && json_is_object(j), "%s is not one JSON object (%s at %d): %.*s", what,
               e.text, e.position, (int)n, p);
    json_decref(j);
}

static int on_event(void *ud, canh_event_t *ev)
{
    run_t *r = ud;
    uint32_t hits[MAX_HITS];
    int n = canh_matcher_match(matcher, ev, hits, MAX_HITS);
    FUZZ_CHECK(n >= 0, "canh_matcher_match failed: %d", n);
    if (n > MAX_HITS)
        n = MAX_HITS;
    for (int i = 0; i < n; i++) {
        const canh_rule_t *rule = canh_ruleset_rule(rules.rules, hits[i]);
        if (r->matched)
            FUZZ_CHECK(canh_explain_matched_json(matcher, rule, ev, hits[i], &fmt.matched)
                       == CANH_OK, "no canh.matched for rule %s", rule->id);
        FUZZ_CHECK(canh_alert_format_at(&fmt, rule, ev, 1780000000000, &r->origin) == CANH_OK,
                   "alert of rule %s not formatted", rule->id);
        check_json_object("alert", fmt.out.ptr, fmt.out.len);
    }
    if (r->explain || r->explain_json) {
        canh_explain_opts_t eo = { .json = r->explain_json };
        canh_explain_counts_t c = { 0 };
        canh_buf_reset(&explained);
        FUZZ_CHECK(canh_explain_event(matcher, rules.rules, ev, ++r->seq, &eo, &explained, &c)
                   == CANH_OK, "canh_explain_event failed");
        FUZZ_CHECK(c.disagreements == 0, "explanation disagrees with the matcher: %.*s",
                   (int)explained.len, explained.ptr);
        if (r->explain_json) {
            size_t len = explained.len;
            while (len && explained.ptr[len - 1] == '\n')
                len--;
            check_json_object("explain --json", explained.ptr, len);
        } else {
            for (size_t k = 0; k < explained.len; k++) {
                unsigned char ch = (unsigned char)explained.ptr[k];
                FUZZ_CHECK(ch == '\n' || (ch >= 0x20 && ch != 0x7f),
                           "explain text has raw byte 0x%02x at %zu", ch, k);
            }
        }
    }
    return 0;
}

static const int origin_kinds[8] = {
    CANH_ORIGIN_NONE, CANH_ORIGIN_FILE, CANH_ORIGIN_STDIN, CANH_ORIGIN_UDP,
    CANH_ORIGIN_TCP, CANH_ORIGIN_TLS, CANH_ORIGIN_KAFKA, CANH_ORIGIN_FILE,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    unsigned opt = data[0];
    const char *text = (const char *)data + 1;
    size_t len = size - 1;

    run_t r = { .matched = opt & 2, .explain = opt & 8, .explain_json = opt & 16 };
    r.origin.kind = origin_kinds[opt >> 5];
    r.origin.input = "fuzz-input";
    r.origin.input_len = 10;
    r.origin.name = r.origin.kind == CANH_ORIGIN_KAFKA ? "logs" : "10.0.0.7:5514";
    r.origin.name_len = strlen(r.origin.name);
    r.origin.ident[0] = 7;
    r.origin.ident[1] = 3;
    r.origin.pos = 42;

    canh_parse_opts_t po = { .default_year = 2026, .reference_ms = 1780000000000,
                             .tz = (opt & 4) ? zone : NULL };
    canh_parser_reset(parser, &po);
    uint64_t errors = canh_parser_errors(parser);
    if (opt & 1) {
        uint64_t tag = 0;
        while (len) {
            const char *nl = memchr(text, '\n', len);
            size_t n = nl ? (size_t)(nl - text) : len;
            if (n)   /* an empty line is no event (engine/pipeline.c) */
                canh_parser_feed_at(parser, text, n, tag++, on_event, &r);
            text += n + (nl ? 1 : 0);
            len -= n + (nl ? 1 : 0);
        }
    } else if (len) {
        canh_parser_feed(parser, text, len, on_event, &r);
    }
    canh_parser_flush(parser, on_event, &r);
    if (canh_parser_errors(parser) != errors)   /* counted under a reason a user can read */
        FUZZ_CHECK(*canh_parser_last_error(parser), "a parse error counted without a reason");
    return 0;
}
