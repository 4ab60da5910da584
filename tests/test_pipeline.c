/*
 * tests/test_pipeline.c -- the pipeline as the daemon drives it: idle
 * ticks between the records of one audit event must not split it, and a
 * rule set swapped in mid-stream is used from the next batch on.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <unistd.h>

#include "../engine/load.h"
#include "../engine/pipeline.h"

static canh_load_result_t lr;

static void load_shipped(void)
{
    const char *paths[] = { "rules" };
    char err[512];
    cr_assert_eq(canh_load_rules(paths, 1, "conf/fieldmap.yml", NULL, NULL, NULL, &lr, err,
                                 sizeof(err)), CANH_OK, "%s", err);
}

static void unload(void)
{
    canh_load_result_free(&lr);
}

/* The six records of audit event `serial`: an `rm` of a file under /var/log. */
static void audit_group(canh_pipeline_t *pl, int serial, int from, int to)
{
    char line[512];
    const char *fmt[] = {
        "type=SYSCALL msg=audit(1700000000.000:%d): arch=c000003e syscall=59 success=yes "
        "exit=0 items=2 ppid=1 pid=100 auid=0 uid=0 gid=0 euid=0 comm=\"rm\" exe=\"/usr/bin/rm\"",
        "type=EXECVE msg=audit(1700000000.000:%d): argc=3 a0=\"rm\" a1=\"-f\" a2=\"/var/log/x.log\"",
        "type=CWD msg=audit(1700000000.000:%d): cwd=\"/root\"",
        "type=PATH msg=audit(1700000000.000:%d): item=0 name=\"/usr/bin/rm\" nametype=NORMAL",
        "type=PATH msg=audit(1700000000.000:%d): item=1 name=\"/var/log/x.log\" nametype=DELETE",
        "type=PROCTITLE msg=audit(1700000000.000:%d): proctitle=726D002D66",
    };
    for (int i = from; i < to; i++) {
        int n = snprintf(line, sizeof(line), fmt[i], serial);
        cr_assert_eq(canh_pipeline_line(pl, 0, line, (size_t)n), CANH_OK);
    }
}

Test(pipeline, idle_tick_does_not_split_an_audit_event, .init = load_shipped, .fini = unload)
{
    char err[256];
    FILE *out = tmpfile();
    canh_pipeline_opts_t o = { .rules = lr.rules, .workers = 2, .out = out, .max_inputs = 1 };
    canh_pipeline_t *pl = canh_pipeline_start(&o, err, sizeof(err));
    cr_assert_not_null(pl, "%s", err);
    cr_assert_eq(canh_pipeline_add_input(pl, "audit", NULL), 0);
    const char plain[] = "<38>Nov 23 10:00:00 web01 sshd[1]: Connection closed by 10.0.0.1";
    canh_pipeline_line(pl, 0, plain, sizeof(plain) - 1);
    audit_group(pl, 7001, 0, 2);
    canh_pipeline_idle(pl);          /* quiet after two records: the group is kept back */
    audit_group(pl, 7001, 2, 6);
    audit_group(pl, 7002, 0, 3);
    canh_pipeline_idle(pl);          /* again, with a new group at the end */
    canh_pipeline_idle(pl);          /* still quiet a tick later: it goes on, as it is */
    audit_group(pl, 7002, 3, 6);     /* its late records make a second event */
    canh_stats_t st;
    canh_stats_init(&st);
    cr_assert_eq(canh_pipeline_finish(pl, &st), CANH_OK);
    cr_assert_eq(st.lines, 1 + 6 + 6);
    cr_assert_eq(st.events, 1 + 1 + 2, "7001 stays whole across an idle tick; 7002 was "
                 "handed on after two quiet ticks");
    canh_stats_free(&st);
    fclose(out);
}

Test(pipeline, swapped_rules_used_from_the_next_batch, .init = load_shipped, .fini = unload)
{
    char err[512];
    const char *paths[] = { "tests/e2e/batches_keep_audit_groups/rules" };
    canh_load_result_t lr2;
    cr_assert_eq(canh_load_rules(paths, 1, "conf/fieldmap.yml", NULL, NULL, NULL, &lr2, err,
                                 sizeof(err)), CANH_OK, "%s", err);
    FILE *out = tmpfile();
    canh_pipeline_opts_t o = { .rules = lr.rules, .workers = 1, .out = out, .max_inputs = 1 };
    canh_pipeline_t *pl = canh_pipeline_start(&o, err, sizeof(err));
    cr_assert_not_null(pl, "%s", err);
    canh_pipeline_add_input(pl, "x", NULL);
    const char root[] = "<38>Nov 23 10:00:00 web01 sshd[1]: Failed password for root from "
                        "203.0.113.9 port 22 ssh2";
    canh_pipeline_line(pl, 0, root, sizeof(root) - 1);
    canh_pipeline_flush(pl);
    /* a batch is matched with the set current when a worker starts it:
     * wait (bounded) until the first one is done */
    canh_pipeline_counts_t c = { 0 };
    for (int k = 0; k < 500 && c.batches < 1; k++) {
        canh_pipeline_counts(pl, &c);
        usleep(10000);
    }
    cr_assert_eq(c.batches, 1);
    cr_assert_eq(canh_pipeline_set_rules(pl, lr2.rules, NULL), CANH_OK);
    canh_pipeline_line(pl, 0, root, sizeof(root) - 1);   /* the new set has no sshd rule */
    audit_group(pl, 9, 0, 6);                            /* ... but one for this */
    canh_stats_t st;
    canh_stats_init(&st);
    cr_assert_eq(canh_pipeline_finish(pl, &st), CANH_OK);
    cr_assert_eq(st.alerts, 2, "one alert from each set, got %llu", (unsigned long long)st.alerts);
    cr_assert_eq(st.rules.used, 2);
    canh_stats_free(&st);
    canh_load_result_free(&lr2);
    fclose(out);
}
