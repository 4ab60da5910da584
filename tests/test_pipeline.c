/*
 * tests/test_pipeline.c -- the pipeline as the daemon drives it: idle
 * ticks between the records of one audit event must not split it, a rule
 * set swapped in mid-stream is used from the next batch on, and alerts are
 * written in input order whichever worker writes them, audit events from
 * interleaved streams stay whole; canh scan's chunks of a file come out
 * as its lines, each alert with its line's byte offset; an alert names
 * where its event's first line came from, a held audit group's too; the
 * free pool's queue wakes its waiter once per wake_at batches; an alerts
 * file that cannot be written (a full disk) makes the writer wait, and
 * every alert is written once when it can be, or, at a stop, counted as
 * not written with no partial line left.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <string.h>
#include <stdio.h>
#include <unistd.h>

#include "../engine/load.h"
#include "../engine/pipeline.h"
#include "../engine/queue.h"

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

/* Records [from, to) of the six of audit event `serial` (an `rm` of a file
 * under /var/log), from stream `stream` of input 0 (0: the one stream). */
static void audit_group_from(canh_pipeline_t *pl, uintptr_t stream, int serial, int from, int to)
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
        cr_assert_eq(canh_pipeline_line_from(pl, 0, stream, line, (size_t)n), CANH_OK);
    }
}

static void audit_group(canh_pipeline_t *pl, int serial, int from, int to)
{
    audit_group_from(pl, 0, serial, from, to);
}

/* A pipeline over the shipped rules with `workers` workers and one input
 * named `input`, its alerts to a temporary file (closed by finish_pl). */
static FILE *pl_out;

static canh_pipeline_t *start_pl(int workers, const char *input)
{
    char err[256];
    pl_out = tmpfile();
    canh_pipeline_opts_t o = { .rules = lr.rules, .workers = workers, .out = pl_out,
                               .max_inputs = 1 };
    canh_pipeline_t *pl = canh_pipeline_start(&o, err, sizeof(err));
    cr_assert_not_null(pl, "%s", err);
    cr_assert_eq(canh_pipeline_add_input(pl, input, NULL), 0);
    return pl;
}

/* Processes everything and stops pl: its counts (canh_stats_free them). */
static canh_stats_t finish_pl(canh_pipeline_t *pl)
{
    canh_stats_t st;
    canh_stats_init(&st);
    cr_assert_eq(canh_pipeline_finish(pl, &st), CANH_OK);
    fclose(pl_out);
    return st;
}

Test(pipeline, idle_tick_does_not_split_an_audit_event, .init = load_shipped, .fini = unload)
{
    canh_pipeline_t *pl = start_pl(2, "audit");
    const char plain[] = "<38>Nov 23 10:00:00 web01 sshd[1]: Connection closed by 10.0.0.1";
    canh_pipeline_line(pl, 0, plain, sizeof(plain) - 1);
    audit_group(pl, 7001, 0, 2);
    canh_pipeline_idle(pl);          /* quiet after two records: the group is kept back */
    audit_group(pl, 7001, 2, 6);
    audit_group(pl, 7002, 0, 3);
    canh_pipeline_idle(pl);          /* again, with a new group at the end */
    canh_pipeline_idle(pl);          /* still quiet a tick later: it goes on, as it is */
    audit_group(pl, 7002, 3, 6);     /* its late records make a second event */
    canh_stats_t st = finish_pl(pl);
    cr_assert_eq(st.lines, 1 + 6 + 6);
    cr_assert_eq(st.events, 1 + 1 + 2, "7001 stays whole across an idle tick; 7002 was "
                 "handed on after two quiet ticks");
    canh_stats_free(&st);
}

Test(pipeline, swapped_rules_used_from_the_next_batch, .init = load_shipped, .fini = unload)
{
    char err[512];
    const char *paths[] = { "tests/e2e/batches_keep_audit_groups/rules" };
    canh_load_result_t lr2;
    cr_assert_eq(canh_load_rules(paths, 1, "conf/fieldmap.yml", NULL, NULL, NULL, &lr2, err,
                                 sizeof(err)), CANH_OK, "%s", err);
    canh_pipeline_t *pl = start_pl(1, "x");
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
    cr_assert_eq(canh_pipeline_set_rules(pl, lr2.rules, NULL, NULL, NULL), CANH_OK);
    canh_pipeline_line(pl, 0, root, sizeof(root) - 1);   /* the new set has no sshd rule */
    audit_group(pl, 9, 0, 6);                            /* ... but one for this */
    canh_stats_t st = finish_pl(pl);
    cr_assert_eq(st.alerts, 2, "one alert from each set, got %llu", (unsigned long long)st.alerts);
    cr_assert_eq(st.rules.used, 2);
    canh_stats_free(&st);
    canh_load_result_free(&lr2);
}

/* Two streams of one input (two connections) whose audit records come
 * interleaved: each event stays whole. */
Test(pipeline, interleaved_streams_keep_their_audit_events_whole, .init = load_shipped,
     .fini = unload)
{
    canh_pipeline_t *pl = start_pl(2, "tcp");
    for (int k = 0; k < 50; k++) {
        audit_group_from(pl, 1, 1000 + k, 0, 1);   /* A's SYSCALL */
        audit_group_from(pl, 2, 5000 + k, 0, 1);   /* B's SYSCALL */
        audit_group_from(pl, 1, 1000 + k, 1, 6);   /* the rest of A's */
        audit_group_from(pl, 2, 5000 + k, 1, 6);   /* the rest of B's */
    }
    const char plain[] = "<38>Nov 23 10:00:00 web01 sshd[1]: Connection closed by 10.0.0.1";
    cr_assert_eq(canh_pipeline_line_from(pl, 0, 1, plain, sizeof(plain) - 1), CANH_OK);
    canh_stats_t st = finish_pl(pl);
    cr_assert_eq(st.lines, 100 * 6 + 1);
    cr_assert_eq(st.events, 100 + 1, "one event per audit group, got %llu",
                 (unsigned long long)st.events);
    canh_stats_free(&st);
}

/* Record `rec` (0..5) of audit event `serial`, an `rm` of a file under
 * /var/log (SYSCALL, EXECVE, then CWDs), into buf; its length. */
static size_t rm_record(char *buf, size_t n, int rec, int serial)
{
    static const char *fmt[] = {
        "type=SYSCALL msg=audit(1700000000.000:%d): arch=c000003e syscall=59 success=yes "
        "exit=0 items=2 ppid=1 pid=100 auid=0 uid=0 gid=0 euid=0 comm=\"rm\" exe=\"/usr/bin/rm\"",
        "type=EXECVE msg=audit(1700000000.000:%d): argc=3 a0=\"rm\" a1=\"-f\" a2=\"/var/log/x.log\"",
        "type=CWD msg=audit(1700000000.000:%d): cwd=\"/root\"",
    };
    return (size_t)snprintf(buf, n, fmt[rec < 2 ? rec : 2], serial);
}

/* Lines said to come from somewhere (canh_pipeline_line_at): an alert says
 * where its event's first line was, also for an audit group held back
 * while another stream's records came between its own. */
Test(pipeline, alerts_say_where_their_first_line_came_from, .init = load_shipped, .fini = unload)
{
    char err[512];
    const char *paths[] = { "tests/e2e/batches_keep_audit_groups/rules" };
    canh_load_result_t lr2;
    cr_assert_eq(canh_load_rules(paths, 1, "conf/fieldmap.yml", NULL, NULL, NULL, &lr2, err,
                                 sizeof(err)), CANH_OK, "%s", err);
    FILE *out = tmpfile();
    canh_pipeline_opts_t o = { .rules = lr2.rules, .workers = 2, .out = out, .max_inputs = 1,
                               .batch_lines = 4 };
    canh_pipeline_t *pl = canh_pipeline_start(&o, err, sizeof(err));
    cr_assert_not_null(pl, "%s", err);
    cr_assert_eq(canh_pipeline_add_input(pl, "files-in", NULL), 0);
    const char *names[2] = { "/var/log/a.log", "/var/log/b.log" };
    uint64_t pos[2] = { 0, 100000 };
    char line[512];
    for (int k = 0; k < 20; k++)
        for (int rec = 0; rec < 6; rec++)
            for (int s = 0; s < 2; s++) {   /* a's and b's records one after the other */
                size_t n = rm_record(line, sizeof(line), rec, 1000 * (s + 1) + k);
                canh_origin_t org = { .kind = CANH_ORIGIN_FILE, .name = names[s],
                                      .name_len = strlen(names[s]), .ident = { 1, 2 + s },
                                      .pos = pos[s] };
                cr_assert_eq(canh_pipeline_line_at(pl, 0, (uintptr_t)(s + 1), line, n, &org),
                             CANH_OK);
                pos[s] += n + 1;
            }
    canh_stats_t st;
    canh_stats_init(&st);
    cr_assert_eq(canh_pipeline_finish(pl, &st), CANH_OK);
    cr_assert_eq(st.alerts, 40, "one alert per group, got %llu", (unsigned long long)st.alerts);
    rewind(out);
    char *alert = NULL, want[128];
    size_t cap = 0;
    int seen[2] = { 0, 0 };
    while (getline(&alert, &cap, out) > 0) {
        int s = strstr(alert, "\"path\":\"/var/log/b.log\"") != NULL;
        cr_assert(s || strstr(alert, "\"path\":\"/var/log/a.log\""), "%s", alert);
        /* its first record, the SYSCALL of serial 1000 * (s + 1) + k */
        char *p = strstr(alert, "audit(1700000000.000:");
        cr_assert_not_null(p);
        int k = atoi(p + 21) - 1000 * (s + 1);
        cr_assert(k >= 0 && k < 20, "%s", alert);
        /* after k groups of 6 records of this stream */
        uint64_t off = s ? 100000 : 0;
        for (int j = 0; j < k; j++)
            for (int rec = 0; rec < 6; rec++)
                off += rm_record(line, sizeof(line), rec, 1000 * (s + 1) + j) + 1;
        snprintf(want, sizeof(want), "\"offset\":%llu", (unsigned long long)off);
        cr_assert_not_null(strstr(alert, want), "want %s in %s", want, alert);
        cr_assert_not_null(strstr(alert, "\"input\":{\"name\":\"files-in\",\"type\":\"file\"}"),
                           "%s", alert);
        seen[s]++;
    }
    cr_assert_eq(seen[0], 20);
    cr_assert_eq(seen[1], 20);
    free(alert);
    fclose(out);
    canh_stats_free(&st);
    canh_load_result_free(&lr2);
}

/* A held group waits at most one idle tick after it stopped growing; a
 * stream's next line, or a full table of streams, sends it on at once. */
Test(pipeline, held_audit_groups_go_on, .init = load_shipped, .fini = unload)
{
    canh_pipeline_t *pl = start_pl(1, "tcp");
    audit_group_from(pl, 7, 42, 0, 3);
    cr_assert_eq(canh_pipeline_held_lines(pl, 0), 3);
    canh_pipeline_idle(pl);           /* it grew since the last tick: kept */
    cr_assert_eq(canh_pipeline_held_lines(pl, 0), 3);
    canh_pipeline_idle(pl);           /* quiet for a whole tick: on it goes */
    cr_assert_eq(canh_pipeline_held_lines(pl, 0), 0);

    audit_group_from(pl, 7, 43, 0, 2);
    audit_group_from(pl, 7, 44, 0, 1);   /* the stream moved on: 43 goes, 44 is held */
    cr_assert_eq(canh_pipeline_held_lines(pl, 0), 1);
    const char plain[] = "<38>Nov 23 10:00:00 web01 sshd[1]: Connection closed by 10.0.0.1";
    canh_pipeline_line_from(pl, 0, 7, plain, sizeof(plain) - 1);
    cr_assert_eq(canh_pipeline_held_lines(pl, 0), 0, "a plain line sends its stream's group first");

    for (uintptr_t k = 1; k <= 1025; k++)   /* one slot more than there are */
        audit_group_from(pl, 100 + k, (int)k, 0, 1);
    cr_assert_eq(canh_pipeline_held_lines(pl, 0), 1024);
    /* each held stream is found again, in any order, after slots moved and
     * index entries shifted: its plain line sends its one record on (the
     * 1,025th took the slot of stream 101, k = 1, which is not among these) */
    for (long k = 1025; k >= 3; k -= 7) {
        uint64_t before = canh_pipeline_held_lines(pl, 0);
        canh_pipeline_line_from(pl, 0, (uintptr_t)(100 + k), plain, sizeof(plain) - 1);
        cr_assert_eq(canh_pipeline_held_lines(pl, 0), before - 1, "stream %ld", k);
    }
    cr_assert_eq(canh_pipeline_held_lines(pl, 0), 1024 - 147);
    canh_stats_t st = finish_pl(pl);
    cr_assert_eq(st.lines, 3 + 2 + 1 + 1 + 1025 + 147, "every held line was given at the end");
    canh_stats_free(&st);
}

/* Lines written, up to a bound of 10 s. */
static void wait_written(canh_pipeline_t *pl, uint64_t n)
{
    for (int i = 0; i < 10000 && canh_pipeline_written_lines(pl, 0) < n; i++)
        usleep(1000);
    cr_assert_geq(canh_pipeline_written_lines(pl, 0), n);
}

/* How far an input is done (for saved file offsets and Kafka commits):
 * the first N lines given are all written. A line held back in an audit
 * group keeps N below it, even once the lines given after it are written. */
Test(pipeline, done_fed_stops_at_a_held_line, .init = load_shipped, .fini = unload)
{
    canh_pipeline_t *pl = start_pl(1, "file");
    const char plain[] = "<38>Nov 23 10:00:00 web01 sshd[1]: Connection closed by 10.0.0.1";
    for (int i = 0; i < 5; i++)                 /* lines 1..5 */
        canh_pipeline_line_from(pl, 0, 1, plain, sizeof(plain) - 1);
    audit_group_from(pl, 2, 42, 0, 3);          /* 6..8, held by stream 2 */
    for (int i = 0; i < 4; i++)                 /* 9..12 pass the held group */
        canh_pipeline_line_from(pl, 0, 1, plain, sizeof(plain) - 1);
    cr_assert_eq(canh_pipeline_fed_lines(pl, 0), 12);
    cr_assert_eq(canh_pipeline_done_fed(pl, 0), 0, "nothing is written yet");
    canh_pipeline_idle(pl);                     /* the group grew this tick: kept */
    cr_assert_eq(canh_pipeline_held_lines(pl, 0), 3);
    wait_written(pl, 9);
    cr_assert_eq(canh_pipeline_done_fed(pl, 0), 5,
                 "lines 9..12 are written, but line 6 is held");
    audit_group_from(pl, 2, 42, 3, 4);          /* 13: the group grows */
    canh_pipeline_line_from(pl, 0, 2, plain, sizeof(plain) - 1);   /* 14: stream 2 moves on */
    cr_assert_eq(canh_pipeline_held_lines(pl, 0), 0);
    cr_assert_eq(canh_pipeline_done_fed(pl, 0), 5, "the group is in a batch not yet written");
    canh_pipeline_idle(pl);
    wait_written(pl, 14);
    cr_assert_eq(canh_pipeline_done_fed(pl, 0), 14);
    canh_stats_t st = finish_pl(pl);
    cr_assert_eq(st.lines, 14);
    canh_stats_free(&st);
}

/* Random records and plain lines over 900 streams, checked against a model
 * of what each stream holds: the index finds every stream again whatever
 * came and went before it. */
Test(pipeline, held_groups_match_a_model_over_random_streams, .init = load_shipped,
     .fini = unload)
{
    canh_pipeline_t *pl = start_pl(1, "udp");
    static struct { int serial; uint64_t n; uintptr_t key; } m[901];
    uint64_t total = 0;
    unsigned seed = 12345;
    for (int x = 1; x <= 900; x++)   /* keys like pointers and hashes: collisions in the index */
        m[x].key = ((uintptr_t)rand_r(&seed) << 32 | (uintptr_t)rand_r(&seed)) | 1;
    const char plain[] = "<38>Nov 23 10:00:00 web01 sshd[1]: Connection closed by 10.0.0.1";
    for (int op = 0; op < 20000; op++) {
        int x = (int)(rand_r(&seed) % 900) + 1, r = (int)(rand_r(&seed) % 10);
        if (r < 7) {   /* a record: of the stream's group, or of a new one */
            int serial = m[x].n && r < 5 ? m[x].serial : (int)(rand_r(&seed) % 100000) + 1;
            if (m[x].n && (m[x].serial != serial || m[x].n == 64)) {
                total -= m[x].n;
                m[x].n = 0;
            }
            audit_group_from(pl, m[x].key, serial, 0, 1);
            m[x].serial = serial;
            m[x].n++;
            total++;
        } else {
            cr_assert_eq(canh_pipeline_line_from(pl, 0, m[x].key, plain, sizeof(plain) - 1),
                         CANH_OK);
            total -= m[x].n;
            m[x].n = 0;
        }
        cr_assert_eq(canh_pipeline_held_lines(pl, 0), total, "op %d", op);
    }
    canh_stats_t st = finish_pl(pl);
    cr_assert_eq(st.lines, 20000);
    canh_stats_free(&st);
}

/*
 * Writing in input order, by whichever worker completes the batch due.
 * Each line carries its number (as the port); the sink records the numbers
 * in the order it is given the alerts.
 */
#define ORDER_LINES 3000

typedef struct order_sink {
    int seen[ORDER_LINES * 2];
    size_t n;
    int calls;
    int slow_first;             /* the first call sleeps: its worker is held up */
} order_sink_t;

static int order_sink(void *ud, const canh_sink_item_t *items, size_t n)
{
    order_sink_t *s = ud;
    if (s->slow_first && s->calls == 0)
        usleep(100000);
    s->calls++;
    for (size_t i = 0; i < n; i++) {
        const char *p = memmem(items[i].json, items[i].len, "port ", 5);
        cr_assert_not_null(p, "alert without the line's number: %.*s", (int)items[i].len,
                           items[i].json);
        if (s->n < ORDER_LINES * 2)
            s->seen[s->n++] = atoi(p + 5);
    }
    return 0;
}

static void run_numbered(int workers, int batch_lines, order_sink_t *s, char **out_text)
{
    char err[256];
    size_t out_len = 0;
    FILE *out = pl_out = open_memstream(out_text, &out_len);   /* finish_pl closes it */
    canh_pipeline_opts_t o = { .rules = lr.rules, .workers = workers, .out = out,
                               .sink = order_sink, .sink_ud = s, .max_inputs = 1,
                               .batch_lines = batch_lines };
    canh_pipeline_t *pl = canh_pipeline_start(&o, err, sizeof(err));
    cr_assert_not_null(pl, "%s", err);
    canh_pipeline_add_input(pl, "numbered", NULL);
    for (int i = 0; i < ORDER_LINES; i++) {
        char line[200];
        int n = snprintf(line, sizeof(line), "<38>Nov 23 10:00:00 web01 sshd[1]: Failed password "
                         "for root from 203.0.113.9 port %d ssh2", i);
        cr_assert_eq(canh_pipeline_line(pl, 0, line, (size_t)n), CANH_OK);
    }
    canh_stats_t st = finish_pl(pl);
    cr_assert_eq(st.lines, ORDER_LINES);
    cr_assert_eq(st.alerts, s->n, "the counts and the sink saw the same alerts");
    canh_stats_free(&st);
}

static void check_order(const order_sink_t *s)
{
    cr_assert_eq(s->n, ORDER_LINES, "one alert per line, got %zu", s->n);
    for (size_t i = 0; i < s->n; i++)
        cr_assert_eq(s->seen[i], (int)i, "alert %zu is line %d's", i, s->seen[i]);
}

Test(pipeline, many_workers_write_in_input_order, .init = load_shipped, .fini = unload)
{
    static order_sink_t one, many;
    char *text_one = NULL, *text_many = NULL;
    run_numbered(1, 0, &one, &text_one);
    check_order(&one);
    /* one line per batch and four workers: batches complete out of order
     * all the time, and every worker takes turns writing */
    run_numbered(4, 1, &many, &text_many);
    check_order(&many);
    cr_assert_eq(many.calls, ORDER_LINES, "one sink call per batch");
    /* the output stream has the same alerts in the same order (the alerts
     * differ only in event.created, the time of detection) */
    size_t lines_one = 0, lines_many = 0;
    for (const char *p = text_one; (p = strchr(p, '\n')); p++)
        lines_one++;
    for (const char *p = text_many; (p = strchr(p, '\n')); p++)
        lines_many++;
    cr_assert_eq(lines_one, ORDER_LINES);
    cr_assert_eq(lines_many, ORDER_LINES);
    free(text_one);
    free(text_many);
}

Test(pipeline, a_held_up_writer_delays_but_does_not_reorder, .init = load_shipped, .fini = unload)
{
    /* the worker writing the first batch sleeps in the sink: the others go
     * on completing batches, which wait for it and are written after it */
    static order_sink_t s = { .slow_first = 1 };
    char *text = NULL;
    run_numbered(3, 16, &s, &text);
    check_order(&s);
    free(text);
}

/* canh scan hands the workers chunks of the file as read and they split
 * them into lines: every line must come out once, whole and in order,
 * across chunk ends, past lines longer than a chunk or a batch buffer,
 * with CRLF ends, empty lines, and a last line without newline. */
#define SCAN_SSHD 3000

Test(pipeline, scan_splits_what_it_reads_into_the_lines_of_the_file, .init = load_shipped,
     .fini = unload)
{
    char path[] = "/tmp/canh-test-scan-XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    FILE *f = fdopen(fd, "w");
    size_t long_len = 300u << 10, lines = 0;
    long *offs = malloc(SCAN_SSHD * sizeof(*offs));   /* where each sshd line starts */
    char *longline = malloc(long_len + 1);
    memset(longline, 'x', long_len);
    longline[long_len] = '\0';
    for (int i = 0; i < SCAN_SSHD; i++) {
        if (i % 1000 == 500) {
            fprintf(f, "%s\n\n", longline);   /* a long line, an empty one */
            lines += 2;
        }
        offs[i] = ftell(f);
        fprintf(f, "Dec  5 07:00:00 web1 sshd[123]: Failed password for root from "
                   "10.0.%d.%d port 22 ssh2%s", i / 256, i % 256,
                i == SCAN_SSHD - 1 ? "" : i % 2 ? "\r\n" : "\n");
        lines++;
    }
    fclose(f);
    free(longline);

    FILE *out = tmpfile();
    const char *paths[] = { path };
    canh_scan_opts_t o = { .rules = lr.rules, .paths = paths, .npaths = 1, .workers = 2,
                           .out = out };
    canh_stats_t st;
    canh_stats_init(&st);
    char err[256];
    cr_assert_eq(canh_pipeline_scan(&o, &st, err, sizeof(err)), CANH_OK, "%s", err);
    unlink(path);
    cr_assert_eq(st.lines, lines, "lines: %llu, want %zu", (unsigned long long)st.lines, lines);
    cr_assert_eq(st.alerts, SCAN_SSHD);

    rewind(out);
    char *alert = NULL, want[64];
    size_t cap = 0;
    int k = 0;
    while (getline(&alert, &cap, out) > 0) {
        cr_assert_lt(k, SCAN_SSHD);
        snprintf(want, sizeof(want), "from 10.0.%d.%d port 22 ssh2\"", k / 256, k % 256);
        cr_assert_not_null(strstr(alert, want), "alert %d is not the line of 10.0.%d.%d whole",
                           k, k / 256, k % 256);
        /* and it says where that line is in the file: its first byte */
        snprintf(want, sizeof(want), "\"offset\":%ld", offs[k]);
        cr_assert_not_null(strstr(alert, want), "alert %d: want log.offset %ld", k, offs[k]);
        cr_assert_not_null(strstr(alert, "\"file\":{\"path\":\"/tmp/canh-test-scan-"));
        k++;
    }
    cr_assert_eq(k, SCAN_SSHD);
    free(alert);
    free(offs);
    fclose(out);
    canh_stats_free(&st);
}

/* The free pool's queue wakes a waiting pop only once wake_at are in. */
static void *pop_one(void *arg)
{
    return canh_queue_pop(arg);
}

Test(queue, a_waiting_pop_wakes_once_wake_at_items_are_in)
{
    canh_queue_t q;
    int items[3];
    cr_assert_eq(canh_queue_init(&q, 8), CANH_OK);
    canh_queue_set_wake(&q, 3);
    pthread_t th;
    pthread_create(&th, NULL, pop_one, &q);
    usleep(20000);                       /* the pop now waits on an empty queue */
    canh_queue_push(&q, &items[0]);
    canh_queue_push(&q, &items[1]);
    usleep(50000);
    cr_assert_eq(canh_queue_depth(&q), 2, "two of three: the pop must still be waiting");
    canh_queue_push(&q, &items[2]);
    void *got;
    pthread_join(th, &got);
    cr_assert_eq(got, &items[0]);
    cr_assert_eq(canh_queue_depth(&q), 2);
    /* a pop that finds items takes one at once, whatever wake_at */
    cr_assert_eq(canh_queue_pop(&q), &items[1]);
    canh_queue_destroy(&q);
}

/* ---- the alerts file on a full disk ----
 * RLIMIT_FSIZE stands in for a full disk: a write past it writes what fits
 * and the next one fails (EFBIG; SIGXFSZ ignored), as with ENOSPC. Each
 * test runs in its own process, so the limit goes with it. */
#define FULL_LINES 400
#define FULL_LIMIT (64 << 10)   /* about 40 alerts */

static void set_file_limit(rlim_t v)
{
    struct rlimit r;
    cr_assert_eq(getrlimit(RLIMIT_FSIZE, &r), 0);
    r.rlim_cur = v == RLIM_INFINITY ? r.rlim_max : v;
    cr_assert_eq(setrlimit(RLIMIT_FSIZE, &r), 0);
}

/* A pipeline writing FULL_LINES alerts to pl_out, which cannot take them
 * all: returned once the writer says it is failing. */
static canh_pipeline_t *start_full(int64_t stop_timeout_ms)
{
    char err[256];
    signal(SIGXFSZ, SIG_IGN);
    pl_out = tmpfile();
    cr_assert_not_null(pl_out);
    canh_pipeline_opts_t o = { .rules = lr.rules, .workers = 2, .out = pl_out,
                               .out_name = "alerts file test", .max_inputs = 1,
                               .out_stop_timeout_ms = stop_timeout_ms, .batch_lines = 16,
                               .batches = FULL_LINES / 16 + 2 };   /* feeding never waits */
    canh_pipeline_t *pl = canh_pipeline_start(&o, err, sizeof(err));
    cr_assert_not_null(pl, "%s", err);
    canh_pipeline_add_input(pl, "numbered", NULL);
    set_file_limit(FULL_LIMIT);
    for (int i = 0; i < FULL_LINES; i++) {
        char line[200];
        int n = snprintf(line, sizeof(line), "<38>Nov 23 10:00:00 web01 sshd[1]: Failed password "
                         "for root from 203.0.113.9 port %d ssh2", i);
        cr_assert_eq(canh_pipeline_line(pl, 0, line, (size_t)n), CANH_OK);
    }
    canh_pipeline_flush(pl);
    canh_pipeline_counts_t c;
    for (int i = 0; i < 1000; i++) {   /* at most 10 s */
        canh_pipeline_counts(pl, &c);
        if (c.out.error)
            break;
        usleep(10000);
    }
    cr_assert_eq(c.out.error, EFBIG, "the writer says why it cannot write (%d)", c.out.error);
    cr_assert_gt(c.out.failed_writes, 0);
    return pl;
}

/* The file's text (free it) and its number of whole lines. */
static char *file_text(FILE *f, size_t *lines, size_t *len)
{
    int fd = fileno(f);
    off_t size = lseek(fd, 0, SEEK_END);
    char *t = malloc((size_t)size + 1);
    cr_assert_not_null(t);
    cr_assert_eq(pread(fd, t, (size_t)size, 0), size);
    t[size] = '\0';
    *len = (size_t)size;
    *lines = 0;
    for (const char *p = t; (p = strchr(p, '\n')); p++)
        (*lines)++;
    return t;
}

/* Each whole line of t is one alert, of line 0, 1, 2 ... in turn. */
static void check_numbered(const char *t, size_t lines)
{
    const char *p = t;
    for (size_t i = 0; i < lines; i++) {
        const char *nl = strchr(p, '\n');
        char want[32];
        snprintf(want, sizeof(want), "port %zu ssh2", i);
        cr_assert(p[0] == '{' && nl[-1] == '}', "line %zu is a whole JSON object", i);
        const char *at = memmem(p, (size_t)(nl - p), want, strlen(want));
        cr_assert_not_null(at, "line %zu is the alert of line %zu", i, i);
        p = nl + 1;
    }
}

Test(pipeline, a_full_disk_makes_the_writer_wait_and_then_write_every_alert_once,
     .init = load_shipped, .fini = unload, .timeout = 60)
{
    canh_pipeline_t *pl = start_full(10000);
    canh_pipeline_counts_t c;
    canh_pipeline_counts(pl, &c);
    size_t lines, len;
    char *t = file_text(pl_out, &lines, &len);
    cr_assert_eq(c.out.written, lines, "while it fails, written (%llu) is what the file holds "
                 "(%zu lines)", (unsigned long long)c.out.written, lines);
    cr_assert_lt(lines, FULL_LINES);
    free(t);
    set_file_limit(RLIM_INFINITY);   /* room again */
    canh_stats_t st;
    canh_stats_init(&st);
    cr_assert_eq(canh_pipeline_finish(pl, &st), CANH_OK);
    t = file_text(pl_out, &lines, &len);
    cr_assert_eq(lines, FULL_LINES, "every alert written once (%zu lines)", lines);
    cr_assert_eq(t[len - 1], '\n');
    check_numbered(t, lines);
    cr_assert_eq(st.alerts_written, FULL_LINES);
    cr_assert_eq(st.alerts_not_written, 0);
    cr_assert_gt(st.write_failures, 0);
    free(t);
    fclose(pl_out);
    canh_stats_free(&st);
}

Test(pipeline, stopping_while_the_disk_is_full_counts_the_alerts_not_written,
     .init = load_shipped, .fini = unload, .timeout = 60)
{
    canh_pipeline_t *pl = start_full(0);   /* give up as soon as it stops */
    canh_pipeline_stopping(pl);
    canh_stats_t st;
    canh_stats_init(&st);
    cr_assert_eq(canh_pipeline_finish(pl, &st), CANH_EIO, "alerts were lost: finish says so");
    size_t lines, len;
    char *t = file_text(pl_out, &lines, &len);
    cr_assert(len == 0 || t[len - 1] == '\n', "no partial line left at the end");
    check_numbered(t, lines);
    cr_assert_eq(st.alerts_written, lines);
    cr_assert_gt(st.alerts_not_written, 0);
    cr_assert_eq(st.alerts_written + st.alerts_not_written, st.alerts,
                 "written %llu + not written %llu = alerts %llu",
                 (unsigned long long)st.alerts_written,
                 (unsigned long long)st.alerts_not_written, (unsigned long long)st.alerts);
    cr_assert_eq(st.alerts, FULL_LINES);
    free(t);
    fclose(pl_out);
    canh_stats_free(&st);
}
