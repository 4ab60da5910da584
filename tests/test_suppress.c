/*
 * tests/test_suppress.c -- the suppression list (engine/suppress.c): what
 * an entry matches (rule, tag, host, source network, user, and all of them
 * together), when it ends (until, in UTC, in an offset, in local time, a
 * date alone), every bad entry reported with its file and line, the list
 * inside canh.yml or in a file it names, and a scan through the pipeline
 * that writes none of the suppressed alerts and counts each one by rule.
 *
 * Runs from the repository root (rules/, conf/fieldmap.yml).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../engine/load.h"
#include "../engine/pipeline.h"

#define ROOT_FAILED "9f6c0c14-ee0c-4311-a655-29a4507918a2"   /* rules/linux/sshd: medium */
#define INVALID_USER "SSH Login Attempt for a Non-Existent User"

static canh_load_result_t lr;
static canh_matcher_t *m;
static char msgs[8192];
static size_t nerrors, nnotes;
static char dir[] = "/tmp/canh-suppress-XXXXXX";

static void on_msg(void *ud, int error, const char *text)
{
    (void)ud;
    size_t n = strlen(msgs);
    snprintf(msgs + n, sizeof(msgs) - n, "%s%s\n", error ? "E " : "N ", text);
    if (error)
        nerrors++;
    else
        nnotes++;
}

static void setup(void)
{
    const char *paths[] = { "rules" };
    char err[512];
    cr_assert_eq(canh_load_rules(paths, 1, "conf/fieldmap.yml", NULL, NULL, NULL, &lr, err,
                                 sizeof(err)), CANH_OK, "%s", err);
    m = canh_matcher_new(lr.rules, err, sizeof(err));
    cr_assert(m, "%s", err);
    msgs[0] = '\0';
    nerrors = nnotes = 0;
    strcpy(dir, "/tmp/canh-suppress-XXXXXX");
    cr_assert(mkdtemp(dir));
}

static void teardown(void)
{
    canh_matcher_free(m);
    canh_load_result_free(&lr);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(suppress, .init = setup, .fini = teardown);

/* Writes text to dir/name; returns the path (static). */
static const char *put(const char *name, const char *text)
{
    static char path[256];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    cr_assert(f);
    fputs(text, f);
    fclose(f);
    return path;
}

/* 2026-11-23T10:00:00Z, the time the tests are "run" at */
#define NOW 1795428000000LL

static int load_at(const char *yml, int64_t now)
{
    char err[512];
    return canh_load_suppress(&lr, put("list.yml", yml), now, on_msg, NULL, err, sizeof(err));
}

static void load_ok(const char *yml)
{
    cr_assert_eq(load_at(yml, NOW), CANH_OK, "%s", msgs);
}

typedef struct seen {
    int64_t now;
    int fired, suppressed;
    const char *rule;   /* title of the rule looked at; NULL: any */
} seen_t;

static int on_event(void *ud, canh_event_t *ev)
{
    seen_t *s = ud;
    uint32_t idx[64];
    int n = canh_matcher_match(m, ev, idx, 64);
    for (int i = 0; i < n && i < 64; i++) {
        const canh_rule_t *r = canh_ruleset_rule(lr.rules, idx[i]);
        if (s->rule && strcmp(r->title, s->rule) && strcmp(r->id, s->rule))
            continue;
        s->fired++;
        s->suppressed += canh_suppress_match(lr.suppress, idx[i], ev, s->now);
    }
    return 0;
}

/* 1: the line raises `rule` and the list suppresses it; 0: raised, not
 * suppressed. The line must raise the rule. */
static int suppressed_at(const char *rule, const char *line, int64_t now)
{
    seen_t s = { .now = now, .rule = rule };
    canh_parser_t *p = canh_parser_new(NULL);
    canh_parser_feed(p, line, strlen(line), on_event, &s);
    canh_parser_flush(p, on_event, &s);
    canh_parser_free(p);
    cr_assert_eq(s.fired, 1, "'%s' must raise %s once", line, rule);
    return s.suppressed;
}

static int suppressed(const char *rule, const char *line)
{
    return suppressed_at(rule, line, NOW);
}

#define ROOT(host, ip) "Nov 23 02:41:18 " host " sshd[9902]: Failed password for root from " \
                       ip " port 38812 ssh2"
#define INVALID(host, user, ip) "Nov 23 08:20:01 " host " sshd[3051]: Invalid user " user \
                                " from " ip " port 44120"

Test(suppress, by_rule_id_only_that_rule)
{
    load_ok("- rule: " ROOT_FAILED "\n  reason: test\n");
    cr_assert(suppressed(ROOT_FAILED, ROOT("web01", "203.0.113.7")));
    cr_assert_not(suppressed(INVALID_USER, INVALID("web01", "oracle", "203.0.113.7")));
    cr_assert_eq(canh_suppress_entries(lr.suppress), 1);
    cr_assert_eq(canh_suppress_active(lr.suppress), 1);
    cr_assert_eq(nnotes + nerrors, 0, "%s", msgs);
}

Test(suppress, by_tag_every_rule_that_has_it)
{
    /* both sshd rules carry attack.t1110.001; tags compare ignoring case */
    load_ok("- tag: ATTACK.T1110.001\n");
    cr_assert(suppressed(ROOT_FAILED, ROOT("web01", "203.0.113.7")));
    cr_assert(suppressed(INVALID_USER, INVALID("web01", "oracle", "203.0.113.7")));
}

Test(suppress, rule_and_tag_together_must_both_hold)
{
    load_ok("- rule: " ROOT_FAILED "\n  tag: attack.t1078.003\n"
            "- rule: " ROOT_FAILED "\n  tag: attack.t9999\n  host: other\n");
    cr_assert(suppressed(ROOT_FAILED, ROOT("web01", "203.0.113.7")));
    cr_assert_eq(nnotes, 1, "%s", msgs);   /* no rule has attack.t9999 */
    cr_assert(strstr(msgs, "list.yml:3: no loaded rule has tag 'attack.t9999'"), "%s", msgs);
}

Test(suppress, host_with_wildcards_ignoring_case)
{
    load_ok("- rule: " ROOT_FAILED "\n  host: [LAB-*, mail?.soc.local]\n");
    cr_assert(suppressed(ROOT_FAILED, ROOT("lab-web07", "203.0.113.7")));
    cr_assert(suppressed(ROOT_FAILED, ROOT("mail2.soc.local", "203.0.113.7")));
    cr_assert_not(suppressed(ROOT_FAILED, ROOT("mail12.soc.local", "203.0.113.7")));
    cr_assert_not(suppressed(ROOT_FAILED, ROOT("web-lab-1", "203.0.113.7")));
}

Test(suppress, source_address_or_network_v4_and_v6)
{
    load_ok("- rule: " ROOT_FAILED "\n  source: [10.20.1.0/24, 192.0.2.9, '2001:db8:45::/48']\n");
    cr_assert(suppressed(ROOT_FAILED, ROOT("web01", "10.20.1.200")));
    cr_assert_not(suppressed(ROOT_FAILED, ROOT("web01", "10.20.2.1")));
    cr_assert(suppressed(ROOT_FAILED, ROOT("web01", "192.0.2.9")));
    cr_assert_not(suppressed(ROOT_FAILED, ROOT("web01", "192.0.2.10")));
    cr_assert(suppressed(ROOT_FAILED, ROOT("web01", "2001:db8:45::17")));
    cr_assert_not(suppressed(ROOT_FAILED, ROOT("web01", "2001:db8:46::17")));
    /* an IPv4-mapped IPv6 address is that IPv4 address */
    cr_assert(suppressed(ROOT_FAILED, ROOT("web01", "::ffff:10.20.1.7")));
}

Test(suppress, user)
{
    load_ok("- tag: attack.t1110.001\n  user: [oracle, 'test*']\n");
    cr_assert(suppressed(INVALID_USER, INVALID("web01", "oracle", "203.0.113.7")));
    cr_assert(suppressed(INVALID_USER, INVALID("web01", "tester", "203.0.113.7")));
    cr_assert_not(suppressed(INVALID_USER, INVALID("web01", "admin", "203.0.113.7")));
}

Test(suppress, every_condition_of_an_entry_must_hold)
{
    load_ok("- rule: " ROOT_FAILED "\n  host: web01\n  source: 10.0.0.0/8\n");
    cr_assert(suppressed(ROOT_FAILED, ROOT("web01", "10.1.1.1")));
    cr_assert_not(suppressed(ROOT_FAILED, ROOT("web02", "10.1.1.1")));
    cr_assert_not(suppressed(ROOT_FAILED, ROOT("web01", "203.0.113.7")));
}

Test(suppress, until_with_a_zone_ends_to_the_millisecond)
{
    /* 17:00 in Hanoi is 10:00 UTC, which is NOW */
    load_ok("- rule: " ROOT_FAILED "\n  until: 2026-11-23T17:00:00+07:00\n"
            "- rule: " ROOT_FAILED "\n  user: nobody\n  until: 2026-11-23T10:00:01Z\n");
    cr_assert_not(suppressed_at(ROOT_FAILED, ROOT("web01", "1.2.3.4"), NOW),
                  "the first entry ended at NOW");
    cr_assert_eq(nnotes, 1, "noted at load: %s", msgs);
    cr_assert(strstr(msgs, "list.yml:1: suppression entry ended at 2026-11-23T10:00:00.000Z"),
              "%s", msgs);
    cr_assert_eq(canh_suppress_active(lr.suppress), 1);
}

Test(suppress, until_passing_while_running_stops_suppressing)
{
    load_ok("- rule: " ROOT_FAILED "\n  until: 2026-11-23T10:30Z\n  reason: maintenance\n");
    cr_assert(suppressed_at(ROOT_FAILED, ROOT("web01", "1.2.3.4"), NOW));
    cr_assert(suppressed_at(ROOT_FAILED, ROOT("web01", "1.2.3.4"), NOW + 30 * 60000 - 1));
    cr_assert_not(suppressed_at(ROOT_FAILED, ROOT("web01", "1.2.3.4"), NOW + 30 * 60000));
    cr_assert_not(suppressed_at(ROOT_FAILED, ROOT("web01", "1.2.3.4"), NOW + 86400000));
}

Test(suppress, a_date_alone_holds_to_the_end_of_that_local_day)
{
    setenv("TZ", "Asia/Ho_Chi_Minh", 1);
    tzset();
    /* 2026-11-23 ends at 2026-11-24T00:00+07:00 = 2026-11-23T17:00Z = NOW + 7 h */
    load_ok("- rule: " ROOT_FAILED "\n  until: 2026-11-23\n");
    int64_t end = NOW + 7 * 3600000LL;
    cr_assert(suppressed_at(ROOT_FAILED, ROOT("web01", "1.2.3.4"), end - 1));
    cr_assert_not(suppressed_at(ROOT_FAILED, ROOT("web01", "1.2.3.4"), end));
    canh_suppress_free(lr.suppress);
    lr.suppress = NULL;
    /* a date and time without a zone is local time too */
    load_ok("- rule: " ROOT_FAILED "\n  until: 2026-11-23 17:30\n");
    cr_assert(suppressed_at(ROOT_FAILED, ROOT("web01", "1.2.3.4"), NOW + 1799999));
    cr_assert_not(suppressed_at(ROOT_FAILED, ROOT("web01", "1.2.3.4"), NOW + 1800000));
    /* a zone with daylight saving: 2026-07-01 ends at 00:00 CEST = 22:00Z */
    setenv("TZ", "Europe/Berlin", 1);
    tzset();
    canh_suppress_free(lr.suppress);
    lr.suppress = NULL;
    load_at("- rule: " ROOT_FAILED "\n  until: 2026-07-01\n", 0);
    int64_t july = 1782943200000LL;   /* 2026-07-01T22:00:00Z */
    cr_assert(suppressed_at(ROOT_FAILED, ROOT("web01", "1.2.3.4"), july - 1));
    cr_assert_not(suppressed_at(ROOT_FAILED, ROOT("web01", "1.2.3.4"), july));
    unsetenv("TZ");
    tzset();
}

Test(suppress, a_name_no_rule_has_is_a_note_not_an_error)
{
    load_ok("- rule: [" ROOT_FAILED ", ssh-rot]\n");
    cr_assert_eq(nerrors, 0);
    cr_assert(strstr(msgs, "N "), "%s", msgs);
    cr_assert(strstr(msgs, "list.yml:1: rule 'ssh-rot' is not loaded"), "%s", msgs);
    cr_assert(suppressed(ROOT_FAILED, ROOT("web01", "1.2.3.4")));
}

Test(suppress, every_bad_entry_is_reported_with_its_line)
{
    int rc = load_at("- rule: x\n"
                     "  hots: web01\n"
                     "- reason: names nothing\n"
                     "- rule: [a, b]\n"
                     "  source: 10.0.0.300/8\n"
                     "  until: 2026-02-30\n"
                     "- just a string\n"
                     "- rule: x\n"
                     "  rule: y\n"
                     "  user: []\n"
                     "- tag: t\n"
                     "  until: 2026-12-31T25:00\n"
                     "- rule: x\n"
                     "  host: {a: b}\n", NOW);
    cr_assert_eq(rc, CANH_EINVAL);
    cr_assert_null(lr.suppress);
    static const char *const want[] = {
        "list.yml:2: unknown key 'hots' in a suppression entry (did you mean 'host'?)",
        "list.yml:3: a suppression entry needs 'rule' (rule ids or names) or 'tag'",
        "list.yml:5: 'source': '10.0.0.300/8' is not an IP address or a network",
        "list.yml:6: until: '2026-02-30' is not an ISO 8601 date",
        "list.yml:7: a suppression entry must be a map",
        "list.yml:9: 'rule' given twice in one entry (first on line 8)",
        "list.yml:10: 'user' is an empty list",
        "list.yml:12: until: '2026-12-31T25:00' is not an ISO 8601 date",
        "list.yml:14: 'host' must be a value or a list of values, not a map",
    };
    for (size_t i = 0; i < CANH_ARRAY_LEN(want); i++)
        cr_assert(strstr(msgs, want[i]), "missing '%s' in:\n%s", want[i], msgs);
    cr_assert_eq(nerrors, CANH_ARRAY_LEN(want), "%s", msgs);
}

Test(suppress, yaml_errors_and_missing_files)
{
    char err[512];
    cr_assert_eq(load_at("- rule: [x\n", NOW), CANH_EINVAL);
    cr_assert(strstr(msgs, "list.yml:2: YAML error"), "%s", msgs);
    cr_assert_eq(canh_load_suppress(&lr, "/nonexistent/list.yml", NOW, on_msg, NULL, err,
                                    sizeof(err)), CANH_ENOENT);
    cr_assert(strstr(err, "/nonexistent/list.yml: cannot read the suppression list"), "%s", err);
    cr_assert_eq(load_at("rule: x\n", NOW), CANH_OK, "a map without `suppress:` is no list");
    cr_assert_eq(canh_suppress_entries(lr.suppress), 0);
}

Test(suppress, inside_canh_yml_or_in_the_file_it_names)
{
    char err[512];
    const char *conf = put("canh.yml", "workers: 1\nsuppress:\n  - rule: " ROOT_FAILED "\n"
                                       "    host: web01\n");
    cr_assert_eq(canh_load_suppress(&lr, conf, NOW, on_msg, NULL, err, sizeof(err)), CANH_OK,
                 "%s %s", err, msgs);
    cr_assert(suppressed(ROOT_FAILED, ROOT("web01", "1.2.3.4")));
    cr_assert_not(suppressed(ROOT_FAILED, ROOT("web02", "1.2.3.4")));

    /* suppress: a file name, relative to canh.yml's folder */
    put("soc-suppress.yml", "suppress:\n  - rule: " ROOT_FAILED "\n    host: web02\n");
    conf = put("canh.yml", "suppress: soc-suppress.yml\n");
    cr_assert_eq(canh_load_suppress(&lr, conf, NOW, on_msg, NULL, err, sizeof(err)), CANH_OK,
                 "%s %s", err, msgs);
    cr_assert(suppressed(ROOT_FAILED, ROOT("web02", "1.2.3.4")));
    cr_assert_not(suppressed(ROOT_FAILED, ROOT("web01", "1.2.3.4")));

    /* a bad entry in the named file names that file */
    put("soc-suppress.yml", "- rule: x\n  until: soon\n");
    cr_assert_eq(canh_load_suppress(&lr, conf, NOW, on_msg, NULL, err, sizeof(err)),
                 CANH_EINVAL);
    cr_assert(strstr(msgs, "soc-suppress.yml:2: until: 'soon'"), "%s", msgs);
    cr_assert(lr.suppress, "the list loaded before stays");
}

Test(suppress, a_scan_writes_none_and_counts_each_by_rule)
{
    load_ok("- rule: " ROOT_FAILED "\n  source: 10.20.1.0/24\n  reason: the SOC's audit host\n");
    char path[300];
    snprintf(path, sizeof(path), "%s/auth.log", dir);
    FILE *f = fopen(path, "w");
    cr_assert(f);
    for (int i = 0; i < 3000; i++)   /* several batches, two workers */
        fprintf(f, ROOT("web01", "10.20.%d.%d") "\n", i % 2 ? 1 : 2, i % 250);
    fprintf(f, INVALID("web01", "oracle", "10.20.1.9") "\n");
    fclose(f);
    FILE *out = tmpfile();
    const char *paths[] = { path };
    canh_scan_opts_t o = { .rules = lr.rules, .suppress = lr.suppress, .paths = paths,
                           .npaths = 1, .workers = 2, .out = out };
    canh_stats_t st;
    canh_stats_init(&st);
    char err[256];
    cr_assert_eq(canh_pipeline_scan(&o, &st, err, sizeof(err)), CANH_OK, "%s", err);
    cr_assert_eq(st.alerts, 1501, "1,500 from 10.20.2.x and the invalid user");
    cr_assert_eq(st.suppressed, 1500);
    cr_assert_eq(st.by_level[CANH_LEVEL_MEDIUM], 1500);
    rewind(out);
    char *line = NULL;
    size_t cap = 0;
    int written = 0;
    while (getline(&line, &cap, out) > 0) {
        cr_assert_null(strstr(line, "for root from 10.20.1."), "a suppressed alert was written: %s",
                       line);
        written++;
    }
    free(line);
    fclose(out);
    cr_assert_eq(written, 1501);

    canh_buf_t b;
    canh_buf_init(&b);
    canh_stats_put_tables(&st, &b);
    canh_buf_putc(&b, '\0');
    cr_assert(strstr(b.ptr, ",\"suppressed\":{\"total\":1500,\"by_rule\":{\"" ROOT_FAILED
                            "\":1500}}"), "%s", b.ptr);
    canh_buf_free(&b);
    canh_stats_free(&st);
}
