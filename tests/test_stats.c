/*
 * tests/test_stats.c -- the counts of engine/stats.c: host names are
 * attacker bytes (any byte, NUL included) and must be counted and written
 * exactly; PCRE2 limit hits are counted per rule and merged.
 * Thread: Criterion runs each test in its own process.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../engine/stats.h"

static char *json_of(const canh_stats_t *s)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    cr_assert(f);
    cr_assert_eq(canh_stats_write_json(s, f), CANH_OK);
    fclose(f);
    return buf;
}

/* Found by the hostile-input set under ASan: a host name with a NUL was
 * stored cut at the NUL and compared past the end of the copy. */
Test(stats, host_names_with_nul_bytes_are_counted_apart)
{
    canh_stats_t s, m;
    canh_stats_init(&s);
    canh_stats_init(&m);
    canh_rule_t r = { .id = "r1", .title = "Rule one", .level = CANH_LEVEL_HIGH };
    cr_assert_eq(canh_stats_alert(&s, &r, "web\0x", 5), CANH_OK);
    cr_assert_eq(canh_stats_alert(&s, &r, "web\0y", 5), CANH_OK);
    cr_assert_eq(canh_stats_alert(&s, &r, "web\0y", 5), CANH_OK);
    cr_assert_eq(canh_stats_alert(&s, &r, "web", 3), CANH_OK);
    cr_assert_eq(s.hosts.used, 3);
    cr_assert_eq(canh_stats_merge(&m, &s), CANH_OK);
    cr_assert_eq(canh_stats_merge(&m, &s), CANH_OK);
    cr_assert_eq(m.hosts.used, 3);
    char *j = json_of(&m);
    cr_assert(strstr(j, "\"by_host\":{\"web\\u0000y\":4,"), "%s", j);
    cr_assert(strstr(j, "\"web\\u0000x\":2"), "%s", j);
    cr_assert(strstr(j, "\"web\":2"), "%s", j);
    free(j);
    canh_stats_free(&s);
    canh_stats_free(&m);
}

Test(stats, pcre2_limit_hits_by_rule)
{
    canh_stats_t s, m;
    canh_stats_init(&s);
    canh_stats_init(&m);
    canh_rule_t r = { .id = "slow", .title = "Slow regex", .level = CANH_LEVEL_MEDIUM };
    int first = 0;
    cr_assert_eq(canh_stats_pcre2_limit(&s, &r, 3, &first), CANH_OK);
    cr_assert_eq(first, 1);
    cr_assert_eq(canh_stats_pcre2_limit(&s, &r, 2, &first), CANH_OK);
    cr_assert_eq(first, 0);
    cr_assert_eq(canh_stats_merge(&m, &s), CANH_OK);
    char *j = json_of(&m);
    cr_assert(strstr(j, "\"pcre2_limit\":{\"total\":5,\"by_rule\":{\"slow\":5}}"), "%s", j);
    free(j);
    canh_stats_free(&s);
    canh_stats_free(&m);
}
