/*
 * tests/test_sigma.c -- the Sigma loader: YAML to canh_rule_t, modifiers,
 * conditions (checked by evaluating the tree, not only by its shape), the
 * field map, refusals, samples, and the shipped corpus load rate.
 *
 * Runs from the repository root (conf/fieldmap.yml, ../shared/corpus).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../engine/detect/sigma.h"

/* ---------------------------------------------------------------- helpers */

static canh_fieldmap_t *fm;
static canh_rulevec_t rv;
static char last_reason[1024];
static int last_line;
static size_t nrefused;

static void on_refuse(void *ud, const char *file, int line, const char *id, const char *reason)
{
    (void)ud;
    (void)file;
    (void)id;
    snprintf(last_reason, sizeof(last_reason), "%s", reason);
    last_line = line;
    nrefused++;
}

static void setup(void)
{
    char err[512];
    int rc = canh_fieldmap_load(&fm, "conf/fieldmap.yml", err, sizeof(err));
    cr_assert_eq(rc, CANH_OK, "field map: %s", err);
    memset(&rv, 0, sizeof(rv));
    last_reason[0] = '\0';
    last_line = 0;
    nrefused = 0;
}

static void teardown(void)
{
    canh_rulevec_free(&rv);
    canh_fieldmap_free(fm);
}

/* Loads YAML text; returns the new rule or NULL if refused. */
static canh_rule_t *load(const char *yaml)
{
    size_t before = rv.n;
    canh_sigma_load_string(fm, yaml, strlen(yaml), "test.yml", &rv, on_refuse, NULL, NULL, NULL);
    return rv.n > before ? rv.v[rv.n - 1] : NULL;
}

/* A rule with the given logsource block and detection block (both indented). */
static canh_rule_t *rule_with(const char *logsource, const char *detection)
{
    char buf[16384];
    snprintf(buf, sizeof(buf),
             "title: t\nid: id-%zu\nlevel: high\nlogsource:\n%s\ndetection:\n%s\n",
             rv.n + nrefused, logsource, detection);
    return load(buf);
}

#define LS_PROC "    product: linux\n    category: process_creation"
#define LS_SSHD "    product: linux\n    service: sshd"

static canh_rule_t *proc(const char *detection)
{
    return rule_with(LS_PROC, detection);
}

/* Evaluates a condition tree given one truth value per atom. */
static int eval(const canh_node_t *n, const int *truth)
{
    switch (n->op) {
    case CANH_NODE_ATOM:
        return truth[n->atom];
    case CANH_NODE_NOT:
        return !eval(n->kids[0], truth);
    case CANH_NODE_AND:
        for (uint32_t i = 0; i < n->nkids; i++)
            if (!eval(n->kids[i], truth))
                return 0;
        return 1;
    case CANH_NODE_OR:
        for (uint32_t i = 0; i < n->nkids; i++)
            if (eval(n->kids[i], truth))
                return 1;
        return 0;
    }
    return -1;
}

/* Index of the atom whose regex is exactly re, or -1. */
static int atom_by_regex(const canh_rule_t *r, const char *re)
{
    for (size_t i = 0; i < r->natoms; i++)
        if (r->atoms[i].regex && !strcmp(r->atoms[i].regex, re))
            return (int)i;
    return -1;
}

/* Truth per atom: atoms whose regex contains one of the words are true. */
static int eval_words(const canh_rule_t *r, const char *const *words, size_t nw)
{
    int truth[64] = { 0 };
    cr_assert(r->natoms <= 64);
    for (size_t i = 0; i < r->natoms; i++)
        for (size_t w = 0; w < nw; w++)
            if (r->atoms[i].regex && strstr(r->atoms[i].regex, words[w]))
                truth[i] = 1;
    return eval(r->cond, truth);
}

#define EVAL(r, ...) \
    eval_words((r), (const char *const[]){ __VA_ARGS__ }, \
               sizeof((const char *const[]){ __VA_ARGS__ }) / sizeof(const char *))

TestSuite(sigma, .init = setup, .fini = teardown);

/* ---------------------------------------------------------------- levels */

Test(sigma, level_names_round_trip)
{
    cr_assert_eq(canh_level_parse("high"), CANH_LEVEL_HIGH);
    cr_assert_eq(canh_level_parse("Critical"), CANH_LEVEL_CRITICAL);
    cr_assert_eq(canh_level_parse("informational"), CANH_LEVEL_INFORMATIONAL);
    cr_assert_eq(canh_level_parse("severe"), CANH_LEVEL_NONE);
    cr_assert_eq(canh_level_parse(NULL), CANH_LEVEL_NONE);
    for (int l = CANH_LEVEL_INFORMATIONAL; l <= CANH_LEVEL_CRITICAL; l++)
        cr_assert_eq(canh_level_parse(canh_level_name((canh_level_t)l)), l);
    cr_assert_str_eq(canh_level_name(CANH_LEVEL_MEDIUM), "medium");
}

/* ---------------------------------------------------------------- metadata */

Test(sigma, loads_metadata_and_logsource)
{
    canh_rule_t *r = load(
        "title: SSH error\n"
        "id: 11111111-2222-3333-4444-555555555555\n"
        "status: test\n"
        "description: something\n"
        "author: me\n"
        "date: 2024-01-02\n"
        "references:\n  - https://a\n  - https://b\n"
        "tags: [attack.t1190]\n"
        "falsepositives: Unknown\n"
        "logsource:\n  product: linux\n  service: sshd\n  definition: ignored\n"
        "detection:\n  keywords:\n    - 'bad thing'\n  condition: keywords\n"
        "level: medium\n"
        "custom_key: ignored\n");
    cr_assert_not_null(r, "refused: %s", last_reason);
    cr_assert_str_eq(r->title, "SSH error");
    cr_assert_str_eq(r->id, "11111111-2222-3333-4444-555555555555");
    cr_assert_str_eq(r->status, "test");
    cr_assert_str_eq(r->date, "2024-01-02");
    cr_assert_eq(r->level, CANH_LEVEL_MEDIUM);
    cr_assert_eq(r->nreferences, 2);
    cr_assert_str_eq(r->references[1], "https://b");
    cr_assert_eq(r->ntags, 1);
    cr_assert_str_eq(r->tags[0], "attack.t1190");
    cr_assert_eq(r->nfalsepositives, 1);
    cr_assert_str_eq(r->file, "test.yml");
    cr_assert_eq(r->line, 1);
    cr_assert_str_eq(r->product, "linux");
    cr_assert_str_eq(r->service, "sshd");
    cr_assert_null(r->category);
    cr_assert_eq(r->datasets, CANH_DS_BIT(CANH_DS_SSHD));
    cr_assert_eq(r->natoms, 1);
    cr_assert_str_eq(r->atoms[0].field, "message");
    cr_assert_eq(r->atoms[0].field_id, CANH_F_MESSAGE);
    cr_assert_str_eq(r->atoms[0].regex, "bad thing");
    cr_assert_eq(r->atoms[0].pat_flags, CANH_PAT_CASELESS | CANH_PAT_FOLD);
    cr_assert_eq(r->atoms[0].line, 18);
}

Test(sigma, id_defaults_to_title)
{
    canh_rule_t *r = load("title: No id here\nlevel: low\nlogsource: {product: linux}\n"
                          "detection: {k: [x], condition: k}\n");
    cr_assert_not_null(r, "refused: %s", last_reason);
    cr_assert_str_eq(r->id, "No id here");
}

Test(sigma, yaml_syntax_error_reports_line)
{
    canh_rule_t *r = load("title: t\nlevel: high\ndetection:\n  sel: [a, b\n  condition: sel\nx: ]\n");
    cr_assert_null(r);
    cr_assert_eq(nrefused, 1);
    cr_assert(strncmp(last_reason, "YAML error: ", 12) == 0, "%s", last_reason);
    cr_assert(strstr(last_reason, "at line "), "%s", last_reason);
    cr_assert_gt(last_line, 3);
}

Test(sigma, several_documents_load_each)
{
    size_t loaded = 0, refused = 0;
    const char *y = "title: a\nid: a\nlevel: low\nlogsource: {product: linux}\n"
                    "detection: {k: [x], condition: k}\n"
                    "---\n"
                    "title: b\nid: b\nlevel: low\nlogsource: {product: windows}\n"
                    "detection: {k: [x], condition: k}\n"
                    "---\n"
                    "title: c\nid: c\nlevel: low\nlogsource: {product: linux}\n"
                    "detection: {k: [y], condition: k}\n";
    canh_sigma_load_string(fm, y, strlen(y), "multi.yml", &rv, on_refuse, NULL, &loaded, &refused);
    cr_assert_eq(loaded, 2);
    cr_assert_eq(refused, 1);
    cr_assert_str_eq(rv.v[1]->id, "c");
    cr_assert_eq(rv.v[1]->line, 13);
    cr_assert_eq(last_line, 10, "refusal points at the logsource, got %d", last_line);
}

Test(sigma, missing_or_bad_level_refused)
{
    cr_assert_null(load("title: t\nlogsource: {product: linux}\ndetection: {k: [x], condition: k}\n"));
    cr_assert(strstr(last_reason, "no 'level'"), "%s", last_reason);
    cr_assert_null(load("title: t\nlevel: severe\nlogsource: {product: linux}\n"
                        "detection: {k: [x], condition: k}\n"));
    cr_assert(strstr(last_reason, "unknown level 'severe'"), "%s", last_reason);
    cr_assert_eq(last_line, 2);
}

Test(sigma, correlation_and_missing_detection_refused)
{
    cr_assert_null(load("title: t\nid: c1\ntype: correlation\nlevel: high\n"
                        "correlation: {type: event_count, rules: [x]}\n"));
    cr_assert(strstr(last_reason, "correlation"), "%s", last_reason);
    cr_assert_null(load("title: t\nid: c2\nlevel: high\nlogsource: {product: linux}\n"));
    cr_assert_str_eq(last_reason, "rule has no 'detection'");
}

Test(sigma, duplicate_id_refused)
{
    cr_assert_not_null(load("title: a\nid: same\nlevel: low\nlogsource: {product: linux}\n"
                            "detection: {k: [x], condition: k}\n"));
    cr_assert_null(load("\ntitle: b\nid: same\nlevel: low\nlogsource: {product: linux}\n"
                        "detection: {k: [x], condition: k}\n"));
    cr_assert_str_eq(last_reason, "duplicate id, first loaded from test.yml:1");
}

/* ---------------------------------------------------------------- values and modifiers */

Test(sigma, plain_value_is_anchored_escaped_caseless)
{
    canh_rule_t *r = proc("  sel:\n    Image: '/usr/bin/a.b+c(d)[e]{f}|g^h$'\n  condition: sel");
    cr_assert_not_null(r, "refused: %s", last_reason);
    cr_assert_eq(r->natoms, 1);
    cr_assert_str_eq(r->atoms[0].field, "process.executable");
    cr_assert_eq(r->atoms[0].field_id, CANH_F_PROCESS_EXECUTABLE);
    cr_assert_eq(r->atoms[0].kind, CANH_ATOM_PATTERN);
    cr_assert_str_eq(r->atoms[0].regex, "\\A\\/usr\\/bin\\/a\\.b\\+c\\(d\\)\\[e\\]\\{f\\}\\|g\\^h\\$\\z");
    cr_assert_eq(r->atoms[0].pat_flags, CANH_PAT_CASELESS | CANH_PAT_FOLD);
    cr_assert_eq(r->atoms[0].line, 9);
}

Test(sigma, wildcards_and_escapes)
{
    canh_rule_t *r = proc("  sel:\n    CommandLine: 'a*b?c\\*d\\?e\\\\f\\g'\n  condition: sel");
    cr_assert_not_null(r, "refused: %s", last_reason);
    /* * -> .*, ? -> one UTF-8 character, \* and \? literal, \\ one backslash,
     * \g a backslash and g */
    cr_assert_str_eq(r->atoms[0].regex,
                     "\\Aa.*b(?:[\\x00-\\x7f]|[\\xc0-\\xdf][\\x80-\\xbf]|[\\xe0-\\xef][\\x80-\\xbf]{2}|"
                     "[\\xf0-\\xf7][\\x80-\\xbf]{3})c\\*d\\?e\\\\f\\\\g\\z");
    cr_assert_eq(r->atoms[0].pat_flags, CANH_PAT_CASELESS | CANH_PAT_FOLD | CANH_PAT_DOTALL);

    r = proc("  sel:\n    CommandLine: '*wget*'\n  condition: sel");
    cr_assert_not_null(r);
    cr_assert_str_eq(r->atoms[0].regex, "wget", "leading/trailing * drop the anchors");
    cr_assert_eq(r->atoms[0].pat_flags, CANH_PAT_CASELESS | CANH_PAT_FOLD);

    r = proc("  sel:\n    CommandLine: '*'\n  condition: sel");
    cr_assert_not_null(r);
    cr_assert_eq(r->atoms[0].kind, CANH_ATOM_EXISTS, "'*' is any value");
}

Test(sigma, contains_startswith_endswith)
{
    canh_rule_t *r = proc("  a:\n    CommandLine|contains: 'x.y'\n"
                          "  b:\n    CommandLine|startswith: 'x.y'\n"
                          "  c:\n    CommandLine|endswith: 'x.y'\n"
                          "  d:\n    CommandLine|contains: 'p*q'\n"
                          "  condition: a or b or c or d");
    cr_assert_not_null(r, "refused: %s", last_reason);
    cr_assert_eq(r->natoms, 4);
    cr_assert_str_eq(r->atoms[0].regex, "x\\.y");
    cr_assert_str_eq(r->atoms[1].regex, "\\Ax\\.y");
    cr_assert_str_eq(r->atoms[2].regex, "x\\.y\\z");
    cr_assert_str_eq(r->atoms[3].regex, "p.*q");
    cr_assert(r->atoms[3].pat_flags & CANH_PAT_DOTALL);
    cr_assert_null(proc("  a:\n    CommandLine|contains|endswith: x\n  condition: a"));
    cr_assert(strstr(last_reason, "contains/startswith/endswith"), "%s", last_reason);
}

Test(sigma, numbers_and_booleans_compare_as_text)
{
    canh_rule_t *r = rule_with("    category: webserver", "  s:\n    sc-status: 200\n    cs-method: true\n  condition: s");
    cr_assert_not_null(r, "refused: %s", last_reason);
    cr_assert_str_eq(r->atoms[0].field, "http.response.status_code");
    cr_assert_str_eq(r->atoms[0].regex, "\\A200\\z");
    cr_assert_str_eq(r->atoms[1].regex, "\\Atrue\\z");
    cr_assert_eq(r->datasets, CANH_DS_BIT(CANH_DS_WEBSERVER));
}

Test(sigma, value_list_is_or_and_all_is_and)
{
    canh_rule_t *r = proc("  s:\n    CommandLine|contains:\n      - aa\n      - bb\n  condition: s");
    cr_assert_not_null(r);
    cr_assert_eq(r->natoms, 2, "one atom per value");
    cr_assert_eq(r->cond->op, CANH_NODE_OR);
    cr_assert(EVAL(r, "aa"));
    cr_assert(!EVAL(r, "zz"));
    r = proc("  s:\n    CommandLine|contains|all:\n      - aa\n      - bb\n  condition: s");
    cr_assert_not_null(r);
    cr_assert_eq(r->cond->op, CANH_NODE_AND);
    cr_assert(!EVAL(r, "aa"));
    cr_assert(EVAL(r, "aa", "bb"));
}

Test(sigma, cased_and_re_flags)
{
    canh_rule_t *r = proc("  a:\n    CommandLine|cased: Foo\n"
                          "  b:\n    CommandLine|re: 'fo+\\d'\n"
                          "  c:\n    CommandLine|re|i|m|s: '^x.y$'\n"
                          "  condition: a or b or c");
    cr_assert_not_null(r, "refused: %s", last_reason);
    cr_assert_str_eq(r->atoms[0].regex, "\\AFoo\\z");
    cr_assert_eq(r->atoms[0].pat_flags, 0);
    cr_assert_str_eq(r->atoms[1].regex, "fo+\\d", "re is the user's regex as written");
    cr_assert_eq(r->atoms[1].pat_flags, CANH_PAT_REGEX, "re is case-sensitive");
    cr_assert_eq(r->atoms[2].pat_flags,
                 CANH_PAT_REGEX | CANH_PAT_CASELESS | CANH_PAT_MULTILINE | CANH_PAT_DOTALL);
}

Test(sigma, bad_regex_refused)
{
    cr_assert_null(proc("  a:\n    CommandLine|re: 'a(b'\n  condition: a"));
    cr_assert(strstr(last_reason, "invalid regular expression for field CommandLine"), "%s", last_reason);
    cr_assert_eq(last_line, 9);
    cr_assert_null(proc("  a:\n    CommandLine|i: 'x'\n  condition: a"));
    cr_assert(strstr(last_reason, "need 're'"), "%s", last_reason);
}

Test(sigma, base64_and_base64offset)
{
    canh_rule_t *r = proc("  a:\n    CommandLine|base64|contains: '/bin/bash'\n  condition: a");
    cr_assert_not_null(r, "refused: %s", last_reason);
    cr_assert_eq(r->natoms, 1);
    cr_assert_str_eq(r->atoms[0].regex, "L2Jpbi9iYXNo");
    cr_assert_eq(r->atoms[0].pat_flags, 0, "base64 text is case-sensitive");

    r = proc("  a:\n    CommandLine|base64offset|contains: '/bin/bash'\n  condition: a");
    cr_assert_not_null(r, "refused: %s", last_reason);
    cr_assert_eq(r->natoms, 3);
    cr_assert_geq(atom_by_regex(r, "L2Jpbi9iYXNo"), 0);
    cr_assert_geq(atom_by_regex(r, "9iaW4vYmFza"), 0);
    cr_assert_geq(atom_by_regex(r, "vYmluL2Jhc2"), 0);
    cr_assert_eq(r->cond->op, CANH_NODE_OR);

    r = proc("  a:\n    CommandLine|base64offset|contains: 'ping'\n  condition: a");
    cr_assert_not_null(r);
    cr_assert_geq(atom_by_regex(r, "cGluZ"), 0);
    cr_assert_geq(atom_by_regex(r, "Bpbm"), 0);
    cr_assert_geq(atom_by_regex(r, "waW5n"), 0);

    r = proc("  a:\n    CommandLine|base64: 'ab\\?'\n  condition: a");
    cr_assert_not_null(r, "refused: %s", last_reason);
    cr_assert_str_eq(r->atoms[0].regex, "\\AYWI\\/\\z", "escaped '?' is encoded as a literal");
    cr_assert_null(proc("  a:\n    CommandLine|base64: 'ab*'\n  condition: a"));
    cr_assert(strstr(last_reason, "wildcards"), "%s", last_reason);
}

Test(sigma, windash_variants)
{
    canh_rule_t *r = proc("  a:\n    CommandLine|windash|contains: ' -exec a-b'\n  condition: a");
    cr_assert_not_null(r, "refused: %s", last_reason);
    cr_assert_eq(r->natoms, 1);
    cr_assert_str_eq(r->atoms[0].regex,
                     " (?:-|/|\\xe2\\x80\\x93|\\xe2\\x80\\x94|\\xe2\\x80\\x95)exec a-b",
                     "only the dash that starts a word varies: %s", r->atoms[0].regex);
}

Test(sigma, cidr_v4_v6_and_invalid)
{
    canh_rule_t *r = rule_with("    category: firewall",
                               "  s:\n    dst_ip|cidr:\n      - 10.1.2.3/8\n      - '2001:db8::/32'\n"
                               "      - 192.168.1.1\n  condition: s");
    cr_assert_not_null(r, "refused: %s", last_reason);
    cr_assert_eq(r->natoms, 3);
    cr_assert_eq(r->atoms[0].kind, CANH_ATOM_CIDR);
    cr_assert_str_eq(r->atoms[0].field, "destination.ip");
    cr_assert_eq(r->atoms[0].family, 4);
    cr_assert_eq(r->atoms[0].prefix, 8);
    cr_assert_eq(r->atoms[0].net[0], 10);
    cr_assert_eq(r->atoms[0].net[1], 0, "host bits cleared");
    cr_assert_eq(r->atoms[1].family, 6);
    cr_assert_eq(r->atoms[1].prefix, 32);
    cr_assert_eq(r->atoms[1].net[0], 0x20);
    cr_assert_eq(r->atoms[1].net[1], 0x01);
    cr_assert_eq(r->atoms[1].net[2], 0x0d);
    cr_assert_eq(r->atoms[1].net[3], 0xb8);
    cr_assert_eq(r->atoms[2].prefix, 32);
    cr_assert_null(rule_with("    category: firewall", "  s:\n    dst_ip|cidr: 10.0.0.0/33\n  condition: s"));
    cr_assert(strstr(last_reason, "invalid network '10.0.0.0/33'"), "%s", last_reason);
    cr_assert_null(rule_with("    category: firewall", "  s:\n    dst_ip|cidr: 'fe80::zz/64'\n  condition: s"));
    cr_assert(strstr(last_reason, "invalid network"), "%s", last_reason);
}

Test(sigma, numeric_comparisons)
{
    canh_rule_t *r = rule_with("    category: webserver",
                               "  s:\n    sc-bytes|gt: 1000\n    sc-status|lte: 299.5\n  condition: s");
    cr_assert_not_null(r, "refused: %s", last_reason);
    cr_assert_eq(r->atoms[0].kind, CANH_ATOM_NUM);
    cr_assert_eq(r->atoms[0].op, CANH_NUM_GT);
    cr_assert_float_eq(r->atoms[0].num, 1000.0, 1e-9);
    cr_assert_eq(r->atoms[1].op, CANH_NUM_LTE);
    cr_assert_float_eq(r->atoms[1].num, 299.5, 1e-9);
    cr_assert_null(rule_with("    category: webserver", "  s:\n    sc-bytes|lt: lots\n  condition: s"));
    cr_assert(strstr(last_reason, "'lots' is not a number"), "%s", last_reason);
}

Test(sigma, exists_fieldref_null_and_empty)
{
    canh_rule_t *r = proc("  a:\n    User|exists: true\n"
                          "  b:\n    CurrentDirectory|exists: false\n"
                          "  c:\n    ParentImage|fieldref: Image\n"
                          "  d:\n    CommandLine: null\n"
                          "  e:\n    CommandLine: ''\n"
                          "  condition: a and b and c and d and e");
    cr_assert_not_null(r, "refused: %s", last_reason);
    cr_assert_eq(r->natoms, 5);
    cr_assert_eq(r->atoms[0].kind, CANH_ATOM_EXISTS);
    cr_assert_str_eq(r->atoms[0].field, "user.name");
    cr_assert_eq(r->atoms[1].kind, CANH_ATOM_EXISTS);
    cr_assert_eq(r->atoms[2].kind, CANH_ATOM_FIELDREF);
    cr_assert_str_eq(r->atoms[2].field, "process.parent.executable");
    cr_assert_str_eq(r->atoms[2].ref_field, "process.executable");
    cr_assert_eq(r->atoms[2].ref_field_id, CANH_F_PROCESS_EXECUTABLE);
    cr_assert_eq(r->atoms[3].kind, CANH_ATOM_EMPTY);
    cr_assert_eq(r->atoms[4].kind, CANH_ATOM_PATTERN);
    cr_assert_str_eq(r->atoms[4].regex, "\\A\\z");
    /* exists: false is a NOT over the EXISTS atom */
    int truth[5] = { 1, 0, 1, 1, 1 };
    cr_assert(eval(r->cond, truth));
    truth[1] = 1;
    cr_assert(!eval(r->cond, truth));
    cr_assert_null(proc("  a:\n    User|exists: maybe\n  condition: a"));
    cr_assert(strstr(last_reason, "true or false"), "%s", last_reason);
}

Test(sigma, unsupported_modifiers_refused)
{
    cr_assert_null(proc("  a:\n    CommandLine|expand: '%x%'\n  condition: a"));
    cr_assert_str_eq(last_reason, "unknown modifier 'expand' on field CommandLine");
    cr_assert_null(proc("  a:\n    CommandLine|utf16le|base64: 'x'\n  condition: a"));
    cr_assert(strstr(last_reason, "encoding modifier 'utf16le' not supported on Linux logs"), "%s", last_reason);
    cr_assert_null(proc("  a:\n    CommandLine|wide: 'x'\n  condition: a"));
    cr_assert(strstr(last_reason, "'wide'"), "%s", last_reason);
    cr_assert_null(proc("  a:\n    CommandLine|bogus: 'x'\n  condition: a"));
    cr_assert_str_eq(last_reason, "unknown modifier 'bogus' on field CommandLine");
}

/* ---------------------------------------------------------------- keywords */

Test(sigma, keyword_lists)
{
    canh_rule_t *r = rule_with(LS_SSHD, "  kw:\n    - 'Failed password'\n    - 'a*b'\n  condition: kw");
    cr_assert_not_null(r, "refused: %s", last_reason);
    cr_assert_eq(r->natoms, 2);
    cr_assert_str_eq(r->atoms[0].field, "message");
    cr_assert_str_eq(r->atoms[0].regex, "Failed password", "keywords are substrings");
    cr_assert_eq(r->atoms[0].pat_flags, CANH_PAT_CASELESS | CANH_PAT_FOLD);
    cr_assert(r->atoms[0].keyword, "a keyword atom says so");
    cr_assert_str_eq(r->atoms[1].regex, "a.*b");
    cr_assert(EVAL(r, "Failed"));
    cr_assert(!EVAL(r, "nothing"));

    r = rule_with(LS_SSHD, "  kw:\n    '|all':\n      - one\n      - two\n  condition: kw");
    cr_assert_not_null(r, "refused: %s", last_reason);
    cr_assert_eq(r->natoms, 2);
    cr_assert_str_eq(r->atoms[1].field, "message");
    cr_assert(!EVAL(r, "one"));
    cr_assert(EVAL(r, "one", "two"));
}

/* ---------------------------------------------------------------- conditions */

#define SELS "  s1:\n    CommandLine|contains: one\n" \
             "  s2:\n    CommandLine|contains: two\n" \
             "  f1:\n    CommandLine|contains: three\n" \
             "  _hidden:\n    CommandLine|contains: four\n"

static canh_rule_t *cond(const char *c)
{
    char buf[8192];
    snprintf(buf, sizeof(buf), SELS "  condition: %s", c);
    return proc(buf);
}

Test(sigma, condition_and_or_not_precedence)
{
    canh_rule_t *r = cond("s1 or s2 and not f1");   /* s1 or (s2 and (not f1)) */
    cr_assert_not_null(r, "refused: %s", last_reason);
    cr_assert(EVAL(r, "one", "three"));
    cr_assert(EVAL(r, "two"));
    cr_assert(!EVAL(r, "two", "three"));
    cr_assert(!EVAL(r, "three"));
    r = cond("(s1 or s2) and not f1");
    cr_assert_not_null(r);
    cr_assert(!EVAL(r, "one", "three"));
    cr_assert(EVAL(r, "one"));
    r = cond("not not s1");
    cr_assert_not_null(r);
    cr_assert(EVAL(r, "one"));
    cr_assert(!EVAL(r, "two"));
}

Test(sigma, condition_of_forms)
{
    canh_rule_t *r = cond("1 of s*");
    cr_assert_not_null(r, "refused: %s", last_reason);
    cr_assert_eq(r->natoms, 2, "unused selections are dropped");
    cr_assert(EVAL(r, "two"));
    cr_assert(!EVAL(r, "three"));
    r = cond("all of s* and not 1 of f*");
    cr_assert_not_null(r);
    cr_assert(!EVAL(r, "one"));
    cr_assert(EVAL(r, "one", "two"));
    cr_assert(!EVAL(r, "one", "two", "three"));
    r = cond("any of s1");
    cr_assert_not_null(r);
    cr_assert(EVAL(r, "one"));
    r = cond("1 of them");
    cr_assert_not_null(r);
    cr_assert(EVAL(r, "three"));
    cr_assert(!EVAL(r, "four"), "them leaves out _names");
    r = cond("all of them");
    cr_assert_not_null(r);
    cr_assert(!EVAL(r, "one", "two"));
    cr_assert(EVAL(r, "one", "two", "three"));
}

Test(sigma, condition_list_is_or)
{
    canh_rule_t *r = proc(SELS "  condition:\n    - s1 and s2\n    - f1");
    cr_assert_not_null(r, "refused: %s", last_reason);
    cr_assert(EVAL(r, "three"));
    cr_assert(EVAL(r, "one", "two"));
    cr_assert(!EVAL(r, "one"));
}

Test(sigma, condition_errors_refused)
{
    cr_assert_null(cond("s1 and filter2"));
    cr_assert_str_eq(last_reason, "condition: unknown selection 'filter2'");
    cr_assert_eq(last_line, 16, "line of the condition");
    cr_assert_null(cond("1 of nomatch*"));
    cr_assert_str_eq(last_reason, "condition: 'nomatch*' matches no selection");
    cr_assert_null(cond("s1 | count() > 5"));
    cr_assert_str_eq(last_reason, "aggregation in condition is not supported; use a correlation rule");
    cr_assert_null(cond("s1 near s2"));
    cr_assert(strstr(last_reason, "aggregation"), "%s", last_reason);
    cr_assert_null(cond("(s1 or s2"));
    cr_assert_str_eq(last_reason, "condition: missing ')'");
    cr_assert_null(cond("s1 and"));
    cr_assert(strstr(last_reason, "unexpected end"), "%s", last_reason);
    cr_assert_null(cond("2 of s*"));
    cr_assert(strstr(last_reason, "not supported"), "%s", last_reason);
    cr_assert_null(proc("  s1:\n    CommandLine: x\n"));
    cr_assert_str_eq(last_reason, "detection has no 'condition'");
}

/* ---------------------------------------------------------------- field map */

Test(sigma, unknown_logsource_refused)
{
    cr_assert_null(rule_with("    product: windows\n    category: process_creation",
                             "  s:\n    Image: x\n  condition: s"));
    cr_assert_str_eq(last_reason, "no field mapping for logsource product=windows category=process_creation");
}

Test(sigma, unmapped_field_refused)
{
    cr_assert_null(proc("  s:\n    Image: x\n    TargetObject: y\n  condition: s"));
    cr_assert_str_eq(last_reason,
                     "field 'TargetObject' has no mapping for logsource product=linux category=process_creation");
    cr_assert_eq(last_line, 10);
    cr_assert_null(proc("  s:\n    LogonId: '0x3e7'\n  condition: s"));
    cr_assert(strstr(last_reason, "field 'LogonId' has no canh equivalent"), "%s", last_reason);
}

Test(sigma, ecs_names_passthrough_and_prefix)
{
    canh_rule_t *r = proc("  s:\n    user.name: root\n  condition: s");
    cr_assert_not_null(r, "canh's own names are accepted: %s", last_reason);
    cr_assert_eq(r->atoms[0].field_id, CANH_F_USER_NAME);

    r = proc("  s:\n    canh.payload.user: a\n  condition: s");
    cr_assert_not_null(r, "a payload key by its canh name, in any source: %s", last_reason);
    cr_assert_str_eq(r->atoms[0].field, "canh.payload.user");
    r = rule_with("    product: zeek\n    service: http", "  s:\n    canh.payload.x: 1\n  condition: s");
    cr_assert_not_null(r, "refused: %s", last_reason);
    cr_assert_str_eq(r->atoms[0].field, "canh.payload.x", "not prefixed twice");

    r = rule_with("    product: zeek\n    service: http", "  s:\n    id.resp_h: 1.2.3.4\n  condition: s");
    cr_assert_not_null(r, "refused: %s", last_reason);
    cr_assert_str_eq(r->atoms[0].field, "canh.payload.id.resp_h", "the payload key, where the JSON decoder keeps it");
    cr_assert_eq(r->atoms[0].field_id, CANH_F_DYNAMIC);
    cr_assert_eq(r->datasets, CANH_DS_BIT(canh_dataset_lookup("zeek_http", 9)));

    r = rule_with("    product: linux\n    service: auditd",
                  "  s:\n    type: EXECVE\n    a0: wget\n    key: k\n  condition: s");
    cr_assert_not_null(r, "refused: %s", last_reason);
    cr_assert_str_eq(r->atoms[0].field, "auditd.type");
    cr_assert_eq(r->atoms[0].field_id, CANH_F_AUDITD_TYPE);
    cr_assert_str_eq(r->atoms[1].field, "auditd.data.a0");
    cr_assert_str_eq(r->atoms[2].field, "auditd.key");
    cr_assert_eq(r->datasets, CANH_DS_BIT(CANH_DS_AUDITD));
}

Test(sigma, fieldmap_errors)
{
    canh_fieldmap_t *m = NULL;
    char err[512];
    cr_assert_eq(canh_fieldmap_load(&m, "conf/no-such-map.yml", err, sizeof(err)), CANH_ENOENT);
    cr_assert_null(m);
    char path[] = "/tmp/canh-fm-XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    const char *bad = "logsources:\n  - name: x\n    match: {product: linux}\n    datasets: [nope]\n";
    cr_assert_eq(write(fd, bad, strlen(bad)), (ssize_t)strlen(bad));
    close(fd);
    cr_assert_eq(canh_fieldmap_load(&m, path, err, sizeof(err)), CANH_EPARSE);
    cr_assert(strstr(err, ":4: unknown dataset 'nope'"), "%s", err);
    unlink(path);
}

/* ---------------------------------------------------------------- samples */

Test(sigma, samples_from_canh_tests)
{
    canh_rule_t *r = rule_with(LS_SSHD,
                               "  kw: [boom]\n  condition: kw\n"
                               "canh:\n  tests:\n    match:\n      - 'Jan 1 sshd[1]: boom'\n"
                               "      - |\n        line one boom\n        line two\n"
                               "    nomatch:\n      - 'Jan 1 sshd[1]: fine'");
    cr_assert_not_null(r, "refused: %s", last_reason);
    cr_assert_eq(r->nmatch_samples, 2);
    cr_assert_str_eq(r->match_samples[0], "Jan 1 sshd[1]: boom");
    cr_assert_str_eq(r->match_samples[1], "line one boom\nline two\n");
    cr_assert_eq(r->nnomatch_samples, 1);
    cr_assert_str_eq(r->nomatch_samples[0], "Jan 1 sshd[1]: fine");

    cr_assert_null(rule_with(LS_SSHD, "  kw: [boom]\n  condition: kw\ncanh:\n  suppress: 5m"));
    cr_assert(strstr(last_reason, "unknown key 'suppress' under canh:"), "%s", last_reason);
}

Test(sigma, canh_key_typos_refuse_the_rule)
{
    /* samples under a misspelt `canh` would be dropped without a word */
    static const char *const typos[] = { "Canh", "cahn", "canh_", "CANH", "cnh" };
    for (size_t i = 0; i < CANH_ARRAY_LEN(typos); i++) {
        char det[256];
        snprintf(det, sizeof(det), "  kw: [boom]\n  condition: kw\n%s:\n  tests:\n"
                 "    match: ['Jan 1 sshd[1]: boom']", typos[i]);
        size_t before = nrefused;
        cr_assert_null(rule_with(LS_SSHD, det), "'%s' was taken", typos[i]);
        cr_assert_eq(nrefused, before + 1);
        char want[64];
        snprintf(want, sizeof(want), "unknown key '%s': canh's samples go under", typos[i]);
        cr_assert(strstr(last_reason, want), "%s", last_reason);
        cr_assert_eq(last_line, 10, "the line of the key");
    }
    /* samples with no `canh:` above them */
    cr_assert_null(rule_with(LS_SSHD, "  kw: [boom]\n  condition: kw\ntests:\n"
                                      "  match: ['Jan 1 sshd[1]: boom']"));
    cr_assert(strstr(last_reason, "unknown key 'tests'"), "%s", last_reason);
    /* the typos inside canh: (refused since the loader was written) */
    cr_assert_null(rule_with(LS_SSHD, "  kw: [boom]\n  condition: kw\ncanh: {test: {match: [x]}}"));
    cr_assert(strstr(last_reason, "unknown key 'test' under canh:"), "%s", last_reason);
    cr_assert_null(rule_with(LS_SSHD, "  kw: [boom]\n  condition: kw\n"
                                      "canh: {tests: {matches: [x]}}"));
    cr_assert(strstr(last_reason, "unknown key 'matches' under canh: tests:"), "%s", last_reason);
    /* other keys of a rule's own are still Sigma's business */
    canh_rule_t *r = rule_with(LS_SSHD, "  kw: [boom]\n  condition: kw\nname: ssh_boom\n"
                                        "custom_field: 1\nscope: [server]\ncan_be: x");
    cr_assert_not_null(r, "refused: %s", last_reason);
    cr_assert_str_eq(r->name, "ssh_boom");
}

/* ---------------------------------------------------------------- corpus */

typedef struct corpus_stats {
    size_t refusals;
    size_t bad;
    char first_bad[512];
} corpus_stats_t;

static void corpus_refuse(void *ud, const char *file, int line, const char *id, const char *reason)
{
    corpus_stats_t *s = ud;
    s->refusals++;
    (void)id;
    /* specific: non-empty, longer than a word, and not a generic failure */
    if (!reason || strlen(reason) < 12 || strstr(reason, "out of memory") || line <= 0) {
        if (!s->bad++)
            snprintf(s->first_bad, sizeof(s->first_bad), "%s:%d: %s", file, line, reason ? reason : "");
    }
}

Test(sigma, corpus_loads_at_least_85_percent)
{
    const char *dir = "../shared/corpus/rules/sigma";
    if (access(dir, R_OK) != 0)
        cr_skip_test("corpus not present at %s", dir);
    corpus_stats_t st = { 0 };
    size_t loaded = 0, refused = 0;
    char err[512];
    int rc = canh_sigma_load_path(fm, dir, &rv, corpus_refuse, &st, &loaded, &refused, err, sizeof(err));
    cr_assert_eq(rc, CANH_OK, "%s", err);
    cr_assert_eq(refused, st.refusals, "each refusal reported once");
    cr_assert_eq(loaded, rv.n);
    cr_assert_geq(loaded + refused, 553);
    cr_assert_geq(loaded * 100, (loaded + refused) * 85, "loaded %zu of %zu", loaded, loaded + refused);
    cr_assert_eq(st.bad, 0, "vague refusal: %s", st.first_bad);
    for (size_t i = 0; i < rv.n; i++) {
        cr_assert_not_null(rv.v[i]->cond);
        cr_assert_neq(rv.v[i]->datasets, 0);
        cr_assert_neq(rv.v[i]->level, CANH_LEVEL_NONE);
    }
}

Test(sigma, missing_path_is_enoent)
{
    char err[256];
    int rc = canh_sigma_load_path(fm, "/nonexistent/rules", &rv, on_refuse, NULL, NULL, NULL,
                                  err, sizeof(err));
    cr_assert_eq(rc, CANH_ENOENT);
    cr_assert(strstr(err, "/nonexistent/rules"), "%s", err);
}

Test(sigma, deep_condition_refused_not_crashing)
{
    char c[4096];
    size_t k = 0;
    for (int i = 0; i < 1000; i++)
        c[k++] = '(';
    memcpy(c + k, "s1", 2);
    k += 2;
    for (int i = 0; i < 1000; i++)
        c[k++] = ')';
    c[k] = '\0';
    cr_assert_null(cond(c));
    cr_assert(strstr(last_reason, "nested deeper"), "%s", last_reason);
    cr_assert_not_null(cond("((((s1))))"));
}
