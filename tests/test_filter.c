/*
 * tests/test_filter.c -- Sigma filters (engine/detect/filter.c): filter
 * documents loaded beside the rules, ANDed into the rules they name, their
 * fields mapped through each rule's log source, and every problem reported
 * with the filter's file, line and a reason. Checked by matching real log
 * lines through the parser and the compiled rule set, as canh scan does.
 *
 * Runs from the repository root (conf/fieldmap.yml).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../engine/detect/match.h"
#include "../parsers/parse.h"

static canh_fieldmap_t *fm;
static canh_rulevec_t rv;
static canh_ruleset_t *rs;
static canh_matcher_t *m;
static char reports[8192];
static size_t nreports;

static void on_refuse(void *ud, const char *file, int line, const char *id, const char *reason)
{
    (void)ud;
    size_t n = strlen(reports);
    snprintf(reports + n, sizeof(reports) - n, "%s:%d: %s: %s\n", file, line, id, reason);
    nreports++;
}

static void setup(void)
{
    char err[512];
    cr_assert_eq(canh_fieldmap_load(&fm, "conf/fieldmap.yml", err, sizeof(err)), CANH_OK, "%s",
                 err);
    memset(&rv, 0, sizeof(rv));
    reports[0] = '\0';
    nreports = 0;
    rs = NULL;
    m = NULL;
}

static void teardown(void)
{
    canh_matcher_free(m);
    canh_ruleset_free(rs);
    canh_rulevec_free(&rv);
    canh_fieldmap_free(fm);
}

TestSuite(filter, .init = setup, .fini = teardown);

/* Two sshd rules, one sudo rule and one webserver rule. */
static const char rules_yml[] =
    "title: SSH failed login as root\n"
    "id: ssh-root\n"
    "name: ssh_root_failed\n"
    "level: medium\n"
    "logsource: {product: linux, service: sshd}\n"
    "detection:\n"
    "  sel: {event.action: ssh_login, event.outcome: failure, user.name: root}\n"
    "  condition: sel\n"
    "---\n"
    "title: SSH invalid user\n"
    "id: ssh-invalid\n"
    "level: low\n"
    "logsource: {product: linux, service: sshd}\n"
    "detection:\n"
    "  sel: {event.action: ssh_invalid_user}\n"
    "  condition: sel\n"
    "---\n"
    "title: sudo ls\n"
    "id: sudo-root\n"
    "level: low\n"
    "logsource: {product: linux, service: sudo}\n"
    "detection:\n"
    "  sel: {COMMAND|endswith: /bin/ls}\n"
    "  condition: sel\n"
    "---\n"
    "title: web admin probe\n"
    "id: web-admin\n"
    "level: low\n"
    "logsource: {category: webserver}\n"
    "detection:\n"
    "  sel: {cs-uri-stem|startswith: /admin}\n"
    "  condition: sel\n";

#define ROOT_FROM(ip) "Nov 23 02:41:18 web01 sshd[9902]: Failed password for root from " ip \
                      " port 38812 ssh2"
#define INVALID_FROM(ip) "Nov 23 02:41:18 web01 sshd[9902]: Invalid user bob from " ip \
                         " port 38812"
#define WEB_FROM(ip) ip " - - [23/Nov/2026:02:41:18 +0700] \"GET /admin/login HTTP/1.1\" 404 " \
                     "12 \"-\" \"curl/8.0\""
#define SUDO_ROOT "Nov 23 02:41:18 web01 sudo:    alice : TTY=pts/0 ; PWD=/home/alice ; " \
                  "USER=root ; COMMAND=/bin/ls"

/* Loads the rules and a filter text (each as its own file), applies the
 * filters and builds the rule set. */
static void load(const char *filter_yml)
{
    canh_sigma_load_string(fm, rules_yml, strlen(rules_yml), "rules.yml", &rv, on_refuse, NULL,
                           NULL, NULL);
    if (filter_yml)
        canh_sigma_load_string(fm, filter_yml, strlen(filter_yml), "mf_test.yml", &rv,
                               on_refuse, NULL, NULL, NULL);
    cr_assert_eq(rv.n, 4, "the filter document is not a rule: %s", reports);
    cr_assert_eq(canh_sigma_apply_filters(fm, &rv, on_refuse, NULL), CANH_OK);
    char err[256];
    cr_assert_eq(canh_ruleset_build(&rs, &rv, NULL, NULL, err, sizeof(err)), CANH_OK, "%s", err);
    m = canh_matcher_new(rs, err, sizeof(err));
    cr_assert(m, "%s", err);
}

typedef struct hits {
    char ids[512];
} hits_t;

static int on_event(void *ud, canh_event_t *ev)
{
    hits_t *h = ud;
    uint32_t idx[16];
    int n = canh_matcher_match(m, ev, idx, 16);
    for (int i = 0; i < n && i < 16; i++) {
        size_t k = strlen(h->ids);
        snprintf(h->ids + k, sizeof(h->ids) - k, "%s%s", k ? "," : "",
                 canh_ruleset_rule(rs, idx[i])->id);
    }
    return 0;
}

/* The ids of the rules one log line raises, comma-separated ("" for none). */
static const char *fired(const char *line)
{
    static hits_t h;
    memset(&h, 0, sizeof(h));
    canh_parser_t *p = canh_parser_new(NULL);
    cr_assert(p);
    canh_parser_feed(p, line, strlen(line), on_event, &h);
    canh_parser_flush(p, on_event, &h);
    canh_parser_free(p);
    return h.ids;
}

static const canh_rule_t *rule(const char *id)
{
    for (uint32_t i = 0; i < canh_ruleset_size(rs); i++)
        if (!strcmp(canh_ruleset_rule(rs, i)->id, id))
            return canh_ruleset_rule(rs, i);
    cr_assert_fail("no rule %s", id);
    return NULL;
}

Test(filter, excludes_events_from_the_rules_it_names_only)
{
    load("title: Filter out the SOC jump host\n"
         "id: mf-jump\n"
         "logsource:\n"
         "  product: linux\n"
         "  service: sshd\n"
         "filter:\n"
         "  rules:\n"
         "    - ssh-root\n"
         "  jump_host:\n"
         "    source.ip|cidr: 10.20.1.0/24\n"
         "  condition: not jump_host\n");
    cr_assert_eq(nreports, 0, "%s", reports);
    cr_assert_str_eq(fired(ROOT_FROM("10.20.1.5")), "");
    cr_assert_str_eq(fired(ROOT_FROM("10.20.2.5")), "ssh-root");
    cr_assert_str_eq(fired(ROOT_FROM("203.0.113.7")), "ssh-root");
    /* a rule the filter does not name still fires for the jump host */
    cr_assert_str_eq(fired(INVALID_FROM("10.20.1.5")), "ssh-invalid");
    cr_assert_eq(rv.nfilters, 1);
    cr_assert_eq(rv.filters[0]->napplied, 1);
    cr_assert_str_eq(rv.filters[0]->applied[0], "ssh-root");
    cr_assert_eq(rule("ssh-root")->nfilters, 1);
    cr_assert_str_eq(rule("ssh-root")->filters[0], "mf-jump (mf_test.yml:1)");
    cr_assert_eq(rule("ssh-invalid")->nfilters, 0);
}

Test(filter, a_plain_condition_narrows_the_rule)
{
    /* condition: selection (no `not`) keeps only the selected events */
    load("title: Only the DMZ\n"
         "logsource: {product: linux}\n"
         "filter:\n"
         "  rules: ssh-root\n"
         "  dmz:\n"
         "    source.ip|cidr: 203.0.113.0/24\n"
         "  condition: dmz\n");
    cr_assert_eq(nreports, 0, "%s", reports);
    cr_assert_str_eq(fired(ROOT_FROM("203.0.113.7")), "ssh-root");
    cr_assert_str_eq(fired(ROOT_FROM("10.20.2.5")), "");
    cr_assert_str_eq(rv.filters[0]->id, "Only the DMZ", "the title stands in for the id");
}

Test(filter, rules_named_by_sigma_name)
{
    load("title: by name\n"
         "logsource: {product: linux, service: sshd}\n"
         "filter:\n"
         "  rules: [ssh_root_failed]\n"
         "  scanner: {source.ip: 10.9.9.9}\n"
         "  condition: not scanner\n");
    cr_assert_eq(nreports, 0, "%s", reports);
    cr_assert_str_eq(fired(ROOT_FROM("10.9.9.9")), "");
    cr_assert_str_eq(fired(ROOT_FROM("10.9.9.8")), "ssh-root");
}

Test(filter, rules_any_touches_every_rule_its_logsource_fits)
{
    /* product: linux fits both sshd rules and the sudo rule, not the web rule */
    load("title: lab hosts\n"
         "logsource: {product: linux}\n"
         "filter:\n"
         "  rules: any\n"
         "  lab: {host.name|startswith: lab}\n"
         "  condition: not lab\n");
    cr_assert_eq(nreports, 0, "%s", reports);
    cr_assert_eq(rv.filters[0]->napplied, 3);
    cr_assert_str_eq(fired("Nov 23 02:41:18 lab7 sshd[1]: Failed password for root from "
                           "10.0.0.1 port 1 ssh2"), "");
    cr_assert_str_eq(fired("Nov 23 02:41:18 lab7 sshd[1]: Invalid user bob from 10.0.0.1 "
                           "port 1"), "");
    cr_assert_str_eq(fired("Nov 23 02:41:18 lab7 sudo:    alice : TTY=pts/0 ; PWD=/tmp ; "
                           "USER=root ; COMMAND=/bin/ls"), "");
    cr_assert_str_eq(fired(SUDO_ROOT), "sudo-root");
    cr_assert_str_eq(fired(ROOT_FROM("10.0.0.1")), "ssh-root");
    cr_assert_eq(rule("web-admin")->nfilters, 0);
}

Test(filter, fields_are_mapped_through_each_rules_logsource)
{
    /* c-ip is the webserver source's name for source.ip */
    load("title: the SOC's own scanner\n"
         "logsource: {category: webserver}\n"
         "filter:\n"
         "  rules: [web-admin]\n"
         "  scanner: {c-ip|cidr: 10.30.0.0/16}\n"
         "  condition: not scanner\n");
    cr_assert_eq(nreports, 0, "%s", reports);
    cr_assert_str_eq(fired(WEB_FROM("10.30.4.4")), "");
    cr_assert_str_eq(fired(WEB_FROM("198.51.100.4")), "web-admin");
}

Test(filter, a_field_the_rules_logsource_cannot_map_leaves_the_rule_unfiltered)
{
    /* c-ip means nothing to an sshd rule: reported, and the rule still detects */
    load("title: wrong field\n"
         "id: mf-wrong\n"
         "logsource: {product: linux}\n"
         "filter:\n"
         "  rules: [ssh-root]\n"
         "  scanner:\n"
         "    c-ip: 10.30.4.4\n"
         "  condition: not scanner\n");
    cr_assert_eq(nreports, 1, "%s", reports);
    cr_assert(strstr(reports, "mf_test.yml:7: mf-wrong: filter not applied to rule ssh-root "
                              "(rules.yml:1): field 'c-ip'"), "%s", reports);
    cr_assert_eq(rv.filter_problems, 1);
    cr_assert_eq(rv.filters[0]->napplied, 0);
    cr_assert_str_eq(fired(ROOT_FROM("10.30.4.4")), "ssh-root");
    cr_assert_eq(rule("ssh-root")->nfilters, 0);
}

Test(filter, a_logsource_that_does_not_fit_a_named_rule_is_reported)
{
    load("title: sshd only\n"
         "id: mf-sshd\n"
         "logsource: {product: linux, service: sshd}\n"
         "filter:\n"
         "  rules:\n"
         "    - ssh-root\n"
         "    - sudo-root\n"
         "  x: {user.name: alice}\n"
         "  condition: not x\n");
    cr_assert_eq(nreports, 1, "%s", reports);
    cr_assert(strstr(reports, "mf_test.yml:7: mf-sshd: filter not applied to rule sudo-root "
                              "(rules.yml:18): the filter's logsource product=linux "
                              "service=sshd does not fit the rule's, product=linux "
                              "service=sudo"), "%s", reports);
    cr_assert_eq(rv.filters[0]->napplied, 1);
    cr_assert_str_eq(fired(SUDO_ROOT), "sudo-root");
}

Test(filter, a_rule_that_is_not_loaded_is_reported_with_its_line)
{
    load("title: typo\n"
         "id: mf-typo\n"
         "logsource: {product: linux}\n"
         "filter:\n"
         "  rules:\n"
         "    - ssh-root\n"
         "    - ssh-rot\n"
         "  x: {user.name: alice}\n"
         "  condition: not x\n");
    cr_assert_eq(nreports, 1, "%s", reports);
    cr_assert(strstr(reports, "mf_test.yml:7: mf-typo: filter names rule 'ssh-rot', which is "
                              "not loaded"), "%s", reports);
    cr_assert_eq(rv.filters[0]->napplied, 1, "the rules it can touch are filtered");
}

/* A broken filter document is reported once, never as a rule (no "level"). */
static void refused(const char *yml, const char *want)
{
    load(yml);
    cr_assert_eq(nreports, 1, "%s", reports);
    cr_assert(strstr(reports, want), "wanted '%s' in:\n%s", want, reports);
    cr_assert_null(strstr(reports, "level"), "%s", reports);
    cr_assert_eq(rv.nfilters, 0);
    cr_assert_eq(rv.filter_problems, 1);
    /* and the rules are as they were */
    cr_assert_str_eq(fired(ROOT_FROM("10.20.1.5")), "ssh-root");
}

Test(filter, unknown_selection_in_condition)
{
    refused("title: t\nid: f\nlogsource: {product: linux}\nfilter:\n  rules: any\n"
            "  sel: {user.name: a}\n  condition: not sle\n",
            "mf_test.yml:7: f: filter: condition: unknown selection 'sle'");
}

Test(filter, condition_must_be_one_string)
{
    refused("title: t\nid: f\nlogsource: {product: linux}\nfilter:\n  rules: any\n"
            "  sel: {user.name: a}\n  condition:\n    - not sel\n",
            "mf_test.yml:8: f: filter: condition must be one string");
}

Test(filter, rules_are_required_and_not_empty)
{
    refused("title: t\nid: f\nlogsource: {product: linux}\nfilter:\n"
            "  sel: {user.name: a}\n  condition: not sel\n",
            "mf_test.yml:5: f: filter has no 'rules'");
}

Test(filter, empty_rules_list)
{
    refused("title: t\nid: f\nlogsource: {product: linux}\nfilter:\n  rules: []\n"
            "  sel: {user.name: a}\n  condition: not sel\n",
            "mf_test.yml:5: f: filter: rules: is empty");
}

Test(filter, title_and_logsource_are_required)
{
    refused("id: f\nlogsource: {product: linux}\nfilter:\n  rules: any\n"
            "  sel: {user.name: a}\n  condition: not sel\n",
            "filter has no 'title'");
}

Test(filter, no_logsource)
{
    refused("title: t\nid: f\nfilter:\n  rules: any\n  sel: {user.name: a}\n"
            "  condition: not sel\n",
            "mf_test.yml:1: f: filter has no 'logsource'");
}

Test(filter, detection_and_filter_in_one_document)
{
    refused("title: t\nid: f\nlevel: low\nlogsource: {product: linux}\n"
            "detection:\n  s: {user.name: a}\n  condition: s\n"
            "filter:\n  rules: any\n  sel: {user.name: a}\n  condition: not sel\n",
            "mf_test.yml:5: f: filter: a document with both 'detection'");
}

Test(filter, duplicate_filter_id)
{
    canh_sigma_load_string(fm, rules_yml, strlen(rules_yml), "rules.yml", &rv, on_refuse, NULL,
                           NULL, NULL);
    const char *f = "title: t\nid: same\nlogsource: {product: linux}\nfilter:\n  rules: any\n"
                    "  sel: {user.name: a}\n  condition: not sel\n";
    canh_sigma_load_string(fm, f, strlen(f), "a.yml", &rv, on_refuse, NULL, NULL, NULL);
    canh_sigma_load_string(fm, f, strlen(f), "b.yml", &rv, on_refuse, NULL, NULL, NULL);
    cr_assert_eq(rv.nfilters, 1);
    cr_assert(strstr(reports, "b.yml:1: same: duplicate filter id, first loaded from "
                              "a.yml:1"), "%s", reports);
}

Test(filter, own_samples_are_kept)
{
    load("title: t\nlogsource: {product: linux}\nfilter:\n  rules: any\n"
         "  sel: {user.name: a}\n  condition: not sel\n"
         "canh:\n  tests:\n    match: ['one']\n    nomatch: ['two', 'three']\n");
    cr_assert_eq(nreports, 0, "%s", reports);
    cr_assert_eq(rv.filters[0]->nmatch_samples, 1);
    cr_assert_eq(rv.filters[0]->nnomatch_samples, 2);
    cr_assert_str_eq(rv.filters[0]->nomatch_samples[1], "three");
}

Test(filter, a_typo_under_canh_refuses_the_filter)
{
    refused("title: t\nid: f\nlogsource: {product: linux}\nfilter:\n  rules: any\n"
            "  sel: {user.name: a}\n  condition: not sel\n"
            "canh:\n  tests:\n    matches: ['one']\n",
            "mf_test.yml:10: f: unknown key 'matches' under canh: tests:");
}
