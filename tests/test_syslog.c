/*
 * tests/test_syslog.c -- the syslog header stage (parsers/syslog.c) and the
 * parser object around it: RFC 5424 (SD, escapes, NILVALUE), RFC 3164 with
 * and without PRI, year inference, ISO stamps, malformed and non-syslog
 * lines, odd bytes, and ground truth from loghub's Linux and OpenSSH logs.
 *
 * Thread: Criterion runs each test in its own process.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>

#include "../parsers/parse.h"

static canh_arena_t arena;
static canh_event_t ev;

static void setup(void)
{
    canh_arena_init(&arena, 0);
    memset(&ev, 0, sizeof(ev));
    ev.arena = &arena;
}

static void teardown(void)
{
    canh_arena_free(&arena);
}

static const canh_field_t *field(const canh_event_t *e, const char *name)
{
    return canh_event_find(e, name, strlen(name));
}

/* The field's value as a C string (static buffer), or NULL if absent. */
static const char *val(const canh_event_t *e, const char *name)
{
    static char buf[4096];
    const canh_field_t *f = field(e, name);
    if (!f)
        return NULL;
    size_t n = f->value.len < sizeof(buf) - 1 ? f->value.len : sizeof(buf) - 1;
    memcpy(buf, f->value.ptr, n);
    buf[n] = '\0';
    return buf;
}

#define ASSERT_VAL(e, name, expect)                                                   \
    do {                                                                             \
        const char *v_ = val((e), (name));                                           \
        cr_assert(v_ != NULL, "field %s missing", (name));                           \
        cr_assert_str_eq(v_, (expect), "field %s", (name));                          \
    } while (0)
#define ASSERT_NO(e, name) cr_assert_null(field((e), (name)), "field %s should be absent", (name))

static int parse(const char *line, const canh_parse_opts_t *o)
{
    canh_event_clear(&ev);
    canh_arena_reset(&arena);
    return canh_syslog_parse(&ev, line, strlen(line), o);
}

/* Stamps without a zone read as UTC (.tz NULL would be UTC too; say it). */
static const canh_parse_opts_t utc = { .reference_ms = 1743076016000 /* 2025-03-27 */,
                                       .tz = NULL };

TestSuite(syslog_5424, .init = setup, .fini = teardown);
TestSuite(syslog_3164, .init = setup, .fini = teardown);
TestSuite(syslog_plain, .init = setup, .fini = teardown);
TestSuite(local_time, .init = setup, .fini = teardown);

Test(syslog_5424, full_header_with_sd_and_escapes)
{
    const char *l = "<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog 1234 ID47 "
                    "[exampleSDID@32473 iut=\"3\" eventSource=\"App\\\"li\\\\cat\\]ion\" eventID=\"1011\"]"
                    "[examplePriority@32473 class=\"high\"] \xEF\xBB\xBF" "An application event";
    cr_assert_eq(parse(l, &utc), CANH_OK);
    ASSERT_VAL(&ev, "log.syslog.priority", "165");
    ASSERT_VAL(&ev, "log.syslog.facility.code", "20");
    ASSERT_VAL(&ev, "log.syslog.facility.name", "local4");
    ASSERT_VAL(&ev, "log.syslog.severity.code", "5");
    ASSERT_VAL(&ev, "log.syslog.severity.name", "notice");
    ASSERT_VAL(&ev, "log.syslog.version", "1");
    ASSERT_VAL(&ev, "log.syslog.hostname", "mymachine.example.com");
    ASSERT_VAL(&ev, "host.name", "mymachine.example.com");
    ASSERT_VAL(&ev, "log.syslog.appname", "evntslog");
    ASSERT_VAL(&ev, "process.name", "evntslog");
    ASSERT_VAL(&ev, "log.syslog.procid", "1234");
    ASSERT_VAL(&ev, "process.pid", "1234");
    ASSERT_VAL(&ev, "log.syslog.msgid", "ID47");
    ASSERT_VAL(&ev, "@timestamp", "2003-10-11T22:14:15.003Z");
    cr_assert_eq(ev.ts_ms, INT64_C(1065910455003));
    ASSERT_VAL(&ev, "log.syslog.structured_data.exampleSDID@32473.iut", "3");
    ASSERT_VAL(&ev, "log.syslog.structured_data.exampleSDID@32473.eventSource", "App\"li\\cat]ion");
    ASSERT_VAL(&ev, "log.syslog.structured_data.exampleSDID@32473.eventID", "1011");
    ASSERT_VAL(&ev, "log.syslog.structured_data.examplePriority@32473.class", "high");
    ASSERT_VAL(&ev, "message", "An application event");
    cr_assert_eq(ev.original.len, strlen(l));
}

Test(syslog_5424, nilvalues_and_zone_offset)
{
    cr_assert_eq(parse("<34>1 - - - - - -", &utc), CANH_OK);
    ASSERT_VAL(&ev, "log.syslog.priority", "34");
    ASSERT_VAL(&ev, "log.syslog.version", "1");
    ASSERT_NO(&ev, "host.name");
    ASSERT_NO(&ev, "process.name");
    ASSERT_NO(&ev, "log.syslog.msgid");
    ASSERT_NO(&ev, "@timestamp");
    cr_assert_eq(ev.ts_ms, 0);
    ASSERT_VAL(&ev, "message", "");

    cr_assert_eq(parse("<165>1 2003-08-24T05:14:15.000003-07:00 192.0.2.1 myproc 8710 - - %% It's time", &utc),
                 CANH_OK);
    ASSERT_VAL(&ev, "@timestamp", "2003-08-24T12:14:15.000Z");
    ASSERT_VAL(&ev, "host.name", "192.0.2.1");
    ASSERT_VAL(&ev, "process.pid", "8710");
    ASSERT_NO(&ev, "log.syslog.msgid");
    ASSERT_VAL(&ev, "message", "%% It's time");
}

Test(syslog_5424, broken_sd_is_an_error_but_keeps_the_line)
{
    const char *l = "<165>1 2003-10-11T22:14:15.003Z host app - - [id a=\"unterminated] msg";
    cr_assert_eq(parse(l, &utc), CANH_EPARSE);
    ASSERT_VAL(&ev, "message", l);
    ASSERT_NO(&ev, "host.name");
    ASSERT_NO(&ev, "log.syslog.priority");
}

Test(syslog_5424, bad_pri_is_an_error)
{
    const char *l = "<999>Mar 27 13:06:56 host sshd[1]: hello";
    cr_assert_eq(parse(l, &utc), CANH_EPARSE);
    ASSERT_VAL(&ev, "message", l);
    ASSERT_NO(&ev, "log.syslog.priority");
    ASSERT_NO(&ev, "process.name");
    cr_assert_eq(parse("<12", &utc), CANH_EPARSE);
    ASSERT_VAL(&ev, "message", "<12");
}

Test(syslog_3164, with_pri)
{
    cr_assert_eq(parse("<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8", &utc),
                 CANH_OK);
    ASSERT_VAL(&ev, "log.syslog.priority", "34");
    ASSERT_VAL(&ev, "log.syslog.facility.code", "4");
    ASSERT_VAL(&ev, "log.syslog.facility.name", "auth");
    ASSERT_VAL(&ev, "log.syslog.severity.code", "2");
    ASSERT_VAL(&ev, "log.syslog.severity.name", "critical");
    ASSERT_VAL(&ev, "host.name", "mymachine");
    ASSERT_VAL(&ev, "process.name", "su");
    ASSERT_NO(&ev, "process.pid");
    ASSERT_VAL(&ev, "message", "'su root' failed for lonvick on /dev/pts/8");
    /* Oct 11 is after the 2025-03-27 reference by more than a month: 2024 */
    ASSERT_VAL(&ev, "@timestamp", "2024-10-11T22:14:15.000Z");
}

Test(syslog_3164, without_pri_auth_log)
{
    cr_assert_eq(parse("Mar 27 13:06:56 ip-10-77-20-248 sshd[1291]: Server listening on 0.0.0.0 port 22.", &utc),
                 CANH_OK);
    ASSERT_NO(&ev, "log.syslog.priority");
    ASSERT_VAL(&ev, "host.name", "ip-10-77-20-248");
    ASSERT_VAL(&ev, "process.name", "sshd");
    ASSERT_VAL(&ev, "process.pid", "1291");
    ASSERT_VAL(&ev, "message", "Server listening on 0.0.0.0 port 22.");
    ASSERT_VAL(&ev, "@timestamp", "2025-03-27T13:06:56.000Z");
    cr_assert(ev.datasets == 0, "canh_syslog_parse alone sets no dataset");

    /* single-digit day padded with a space, no host, tag only */
    cr_assert_eq(parse("Mar  2 01:02:03 cron[7]: job done", &utc), CANH_OK);
    ASSERT_NO(&ev, "host.name");
    ASSERT_VAL(&ev, "process.name", "cron");
    ASSERT_VAL(&ev, "process.pid", "7");
    ASSERT_VAL(&ev, "message", "job done");
    ASSERT_VAL(&ev, "@timestamp", "2025-03-02T01:02:03.000Z");
}

Test(syslog_3164, loghub_program_names)
{
    cr_assert_eq(parse("Jun 14 15:16:01 combo sshd(pam_unix)[19939]: authentication failure; rhost=218.188.2.4 ", &utc),
                 CANH_OK);
    ASSERT_VAL(&ev, "process.name", "sshd(pam_unix)");
    ASSERT_VAL(&ev, "process.pid", "19939");
    ASSERT_VAL(&ev, "message", "authentication failure; rhost=218.188.2.4");
    cr_assert_eq(parse("Jun 19 04:09:11 combo syslogd 1.4.1: restart.", &utc), CANH_OK);
    ASSERT_VAL(&ev, "host.name", "combo");
    ASSERT_VAL(&ev, "process.name", "syslogd 1.4.1");
    ASSERT_VAL(&ev, "message", "restart.");
}

Test(syslog_3164, year_inference_across_new_year)
{
    canh_parse_opts_t o = { .reference_ms = 1735776000000 /* 2025-01-02T00:00Z */ };
    cr_assert_eq(parse("Dec 31 23:59:59 h p: x", &o), CANH_OK);
    ASSERT_VAL(&ev, "@timestamp", "2024-12-31T23:59:59.000Z");
    cr_assert_eq(parse("Jan  1 00:00:01 h p: x", &o), CANH_OK);
    ASSERT_VAL(&ev, "@timestamp", "2025-01-01T00:00:01.000Z");
    /* up to two days ahead of the reference (a drifting clock, a sender in
     * another zone) stays in this year; further ahead is last year's */
    cr_assert_eq(parse("Jan  3 23:00:00 h p: x", &o), CANH_OK);
    ASSERT_VAL(&ev, "@timestamp", "2025-01-03T23:00:00.000Z");
    cr_assert_eq(parse("Jan 20 10:00:00 h p: x", &o), CANH_OK);
    ASSERT_VAL(&ev, "@timestamp", "2024-01-20T10:00:00.000Z");
    /* a January line read on December 31 is next year's */
    canh_parse_opts_t dec31 = { .reference_ms = 1767225590000 /* 2025-12-31T23:59:50Z */ };
    cr_assert_eq(parse("Jan  1 00:00:05 h p: x", &dec31), CANH_OK);
    ASSERT_VAL(&ev, "@timestamp", "2026-01-01T00:00:05.000Z");
    cr_assert_eq(parse("Jan 25 00:00:05 h p: x", &dec31), CANH_OK);
    ASSERT_VAL(&ev, "@timestamp", "2025-01-25T00:00:05.000Z");
    /* Feb 29 only in a leap year */
    cr_assert_eq(parse("Feb 29 12:00:00 h p: x", &o), CANH_OK);
    ASSERT_VAL(&ev, "@timestamp", "2024-02-29T12:00:00.000Z");
    /* default_year wins */
    canh_parse_opts_t y = { .default_year = 2015, .reference_ms = 1735776000000 };
    cr_assert_eq(parse("Dec 31 23:59:59 h p: x", &y), CANH_OK);
    ASSERT_VAL(&ev, "@timestamp", "2015-12-31T23:59:59.000Z");
    /* leap day */
    cr_assert_eq(parse("Feb 29 12:00:00 h p: x", &(canh_parse_opts_t){ .default_year = 2024 }),
                 CANH_OK);
    ASSERT_VAL(&ev, "@timestamp", "2024-02-29T12:00:00.000Z");
}

Test(syslog_3164, iso_stamps)
{
    cr_assert_eq(parse("2024-05-01T10:00:00.123+07:00 host prog[42]: hello there", &utc), CANH_OK);
    ASSERT_VAL(&ev, "@timestamp", "2024-05-01T03:00:00.123Z");
    cr_assert_eq(ev.ts_ms, INT64_C(1714532400123));
    ASSERT_VAL(&ev, "host.name", "host");
    ASSERT_VAL(&ev, "process.name", "prog");
    ASSERT_VAL(&ev, "process.pid", "42");
    ASSERT_VAL(&ev, "message", "hello there");
    cr_assert_eq(parse("<86>2024-05-01T10:00:00Z web01 sudo: hi", &utc), CANH_OK);
    ASSERT_VAL(&ev, "@timestamp", "2024-05-01T10:00:00.000Z");
    ASSERT_VAL(&ev, "log.syslog.severity.name", "informational");
    ASSERT_VAL(&ev, "log.syslog.facility.name", "authpriv");
    ASSERT_VAL(&ev, "process.name", "sudo");
}

Test(syslog_plain, non_syslog_lines_are_kept_whole)
{
    const char *lines[] = {
        "hello world: this is not syslog",
        "May I have a word",
        "2015-10-18 18:01:47,978 INFO [main] org.apache.hadoop: Created",
        "<html><body>",
        "83.149.9.216 - - [17/May/2015:10:05:03 +0000] \"GET / HTTP/1.1\" 200 1",
    };
    for (size_t i = 0; i < CANH_ARRAY_LEN(lines); i++) {
        cr_assert_eq(parse(lines[i], &utc), CANH_OK, "%s", lines[i]);
        ASSERT_VAL(&ev, "message", lines[i]);
        ASSERT_NO(&ev, "host.name");
        ASSERT_NO(&ev, "process.name");
        cr_assert_eq(ev.original.len, strlen(lines[i]));
    }
}

typedef struct collect {
    int n;
    uint64_t datasets[8];
    char msg[8][256];
    size_t msglen[8];
    size_t origlen[8];
} collect_t;

static int collect_cb(void *ud, canh_event_t *e)
{
    collect_t *c = ud;
    if (c->n < 8) {
        const canh_field_t *m = canh_event_get(e, CANH_F_MESSAGE);
        c->datasets[c->n] = e->datasets;
        c->msglen[c->n] = m ? m->value.len : (size_t)-1;
        if (m)
            memcpy(c->msg[c->n], m->value.ptr, m->value.len < 256 ? m->value.len : 256);
        c->origlen[c->n] = e->original.len;
    }
    c->n++;
    return 0;
}

Test(syslog_plain, nul_and_non_utf8_bytes_are_kept)
{
    static const char l1[] = "Mar 27 13:06:56 host prog[1]: a\0b\xff\xfe end";
    static const char l2[] = "\0\0\xc3\x28 junk \xff";
    canh_parse_opts_t o = utc;
    o.extra_datasets = CANH_DS_BIT(CANH_DS_KV);
    canh_parser_t *p = canh_parser_new(&o);
    cr_assert_not_null(p);
    collect_t c = { 0 };
    cr_assert_eq(canh_parser_feed(p, l1, sizeof(l1) - 1, collect_cb, &c), 0);
    cr_assert_eq(canh_parser_feed(p, l2, sizeof(l2) - 1, collect_cb, &c), 0);
    cr_assert_eq(c.n, 2);
    cr_assert_eq(c.msglen[0], 9);
    cr_assert(memcmp(c.msg[0], "a\0b\xff\xfe end", 9) == 0);
    cr_assert_eq(c.origlen[0], sizeof(l1) - 1);
    cr_assert_eq(c.msglen[1], sizeof(l2) - 1);
    cr_assert(memcmp(c.msg[1], l2, sizeof(l2) - 1) == 0);
    cr_assert_eq(c.datasets[1], CANH_DS_BIT(CANH_DS_SYSLOG) | CANH_DS_BIT(CANH_DS_KV));
    cr_assert_eq(canh_parser_errors(p), 0);
    canh_parser_free(p);
}

Test(syslog_plain, parser_counts_malformed_lines_and_still_emits)
{
    canh_parser_t *p = canh_parser_new(&utc);
    collect_t c = { 0 };
    const char *bad = "<999>garbage";
    cr_assert_eq(canh_parser_feed(p, bad, strlen(bad), collect_cb, &c), 0);
    cr_assert_eq(c.n, 1);
    cr_assert_eq(canh_parser_errors(p), 1);
    cr_assert_eq(c.msglen[0], strlen(bad));
    cr_assert_eq(c.datasets[0], CANH_DS_BIT(CANH_DS_SYSLOG));
    const char *good = "Mar 27 13:06:56 host prog: fine";
    cr_assert_eq(canh_parser_feed(p, good, strlen(good), collect_cb, &c), 0);
    cr_assert_eq(canh_parser_errors(p), 1);
    cr_assert_eq(canh_parser_feed(p, NULL, 1, collect_cb, &c), CANH_EINVAL);
    cr_assert_eq(canh_parser_feed(p, "", 0, collect_cb, &c), 0);
    cr_assert_eq(c.n, 3, "an empty line is still an event");
    canh_parser_free(p);
}

/* ------------------------------------------------------------ ground truth */

/* One RFC 4180 record from f into cols (malloc'd strings); returns ncols or -1 at EOF. */
static int csv_row(FILE *f, char **cols, int maxcols)
{
    int n = 0, c;
    size_t len = 0, cap = 64;
    char *cur = malloc(cap);
    int quoted = 0, any = 0;
    for (;;) {
        c = fgetc(f);
        if (c == EOF && !any) {
            free(cur);
            return -1;
        }
        any = 1;
        if (quoted) {
            if (c == EOF)
                break;
            if (c == '"') {
                int d = fgetc(f);
                if (d == '"') {
                    c = '"';
                } else {
                    quoted = 0;
                    if (d != EOF)
                        ungetc(d, f);
                    continue;
                }
            }
        } else if (c == '"' && len == 0) {
            quoted = 1;
            continue;
        } else if (c == ',' || c == '\n' || c == EOF) {
            if (len && cur[len - 1] == '\r' && c != ',')
                len--;
            cur[len] = '\0';
            if (n < maxcols)
                cols[n++] = cur;
            else
                free(cur);
            if (c != ',')
                return n;
            cap = 64;
            len = 0;
            cur = malloc(cap);
            continue;
        }
        if (len + 2 > cap)
            cur = realloc(cur, cap *= 2);
        cur[len++] = (char)c;
    }
    cur[len] = '\0';
    if (n < maxcols)
        cols[n++] = cur;
    else
        free(cur);
    return n;
}

static int ev_eq(const canh_event_t *e, canh_field_id_t id, const char *expect)
{
    const canh_field_t *f = canh_event_get(e, id);
    if (!*expect)
        return f == NULL;
    return f && f->value.len == strlen(expect) && memcmp(f->value.ptr, expect, f->value.len) == 0;
}

typedef struct gt {
    FILE *csv;
    int host_col, prog_col, pid_col, content_col;
    const char *fixed_prog;   /* when the CSV has no program column */
    int rows, checked;
} gt_t;

static int gt_cb(void *ud, canh_event_t *e)
{
    gt_t *g = ud;
    char *cols[16] = { 0 };
    int n = csv_row(g->csv, cols, 16);
    cr_assert(n > g->content_col, "CSV row %d too short", g->rows + 1);
    g->rows++;
    const char *prog = g->fixed_prog ? g->fixed_prog : cols[g->prog_col];
    cr_assert(ev_eq(e, CANH_F_HOST_NAME, cols[g->host_col]), "row %d host %s", g->rows, cols[g->host_col]);
    cr_assert(ev_eq(e, CANH_F_PROCESS_NAME, prog), "row %d process.name %s", g->rows, prog);
    cr_assert(ev_eq(e, CANH_F_PROCESS_PID, cols[g->pid_col]), "row %d pid %s", g->rows, cols[g->pid_col]);
    const canh_field_t *m = canh_event_get(e, CANH_F_MESSAGE);
    cr_assert(ev_eq(e, CANH_F_MESSAGE, cols[g->content_col]), "row %d message [%.*s] != [%s]", g->rows,
              m ? (int)m->value.len : 0, m ? m->value.ptr : "", cols[g->content_col]);
    cr_assert(e->ts_ms != 0, "row %d has a time", g->rows);
    g->checked++;
    for (int i = 0; i < n; i++)
        free(cols[i]);
    return 0;
}

static void ground_truth(const char *log, const char *csv, gt_t *g, int expect_rows)
{
    FILE *lf = fopen(log, "rb");
    if (!lf)
        cr_skip_test("corpus not found (%s)", log);
    g->csv = fopen(csv, "rb");
    cr_assert_not_null(g->csv, "%s", csv);
    char *cols[16];
    int n = csv_row(g->csv, cols, 16);   /* header */
    for (int i = 0; i < n; i++)
        free(cols[i]);
    canh_parse_opts_t o = { .default_year = 2005 };
    canh_parser_t *p = canh_parser_new(&o);
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    while ((len = getline(&line, &cap, lf)) > 0) {
        while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            len--;
        cr_assert_eq(canh_parser_feed(p, line, (size_t)len, gt_cb, g), 0);
    }
    canh_parser_flush(p, gt_cb, g);
    cr_assert_eq(g->checked, expect_rows);
    cr_assert_eq(canh_parser_errors(p), 0);
    free(line);
    canh_parser_free(p);
    fclose(lf);
    fclose(g->csv);
}

Test(syslog_ground_truth, loghub_linux)
{
    /* LineId,Month,Date,Time,Level,Component,PID,Content,... (Level is the host) */
    gt_t g = { .host_col = 4, .prog_col = 5, .pid_col = 6, .content_col = 7 };
    ground_truth("../shared/corpus/logs/loghub/Linux/Linux_2k.log",
                 "../shared/corpus/logs/loghub/Linux/Linux_2k.log_structured.csv", &g, 2000);
}

Test(syslog_ground_truth, loghub_openssh)
{
    /* LineId,Date,Day,Time,Component,Pid,Content,... (Component is the host) */
    gt_t g = { .host_col = 4, .pid_col = 5, .content_col = 6, .fixed_prog = "sshd" };
    ground_truth("../shared/corpus/logs/loghub/OpenSSH/OpenSSH_2k.log",
                 "../shared/corpus/logs/loghub/OpenSSH/OpenSSH_2k.log_structured.csv", &g, 2000);
}

/* ---- stamps without a zone, read in the input's zone -------------------- */

static canh_tz_t *zone(const char *name)
{
    char err[512];
    canh_tz_t *tz = NULL;
    cr_assert_eq(canh_tz_load(&tz, name, err, sizeof(err)), CANH_OK, "%s", err);
    return tz;
}

/* @timestamp of the one event a line gives through a parser with opts. */
static int ts_cb(void *ud, canh_event_t *e)
{
    const canh_field_t *f = canh_event_find(e, "@timestamp", 10);
    snprintf(ud, 64, "%.*s", f ? (int)f->value.len : 4, f ? f->value.ptr : "none");
    return 0;
}

static const char *stamp(const char *line, const canh_parse_opts_t *o)
{
    static char out[64];
    canh_parser_t *p = canh_parser_new(o);
    cr_assert_not_null(p);
    strcpy(out, "no event");
    canh_parser_feed(p, line, strlen(line), ts_cb, out);
    canh_parser_flush(p, ts_cb, out);
    canh_parser_free(p);
    return out;
}

#define ASSERT_STAMP(line, o, expect) cr_assert_str_eq(stamp((line), (o)), (expect), "%s", (line))

Test(local_time, ho_chi_minh)
{
    canh_tz_t *hcm = zone("Asia/Ho_Chi_Minh");
    canh_parse_opts_t o = { .default_year = 2025, .tz = hcm };
    /* RFC 3164: local time, seven hours ahead of UTC */
    ASSERT_STAMP("Dec 31 23:30:00 web01 sshd[1]: x", &o, "2025-12-31T16:30:00.000Z");
    ASSERT_STAMP("<38>Jun  1 07:00:00.250 web01 sshd[1]: x", &o, "2025-06-01T00:00:00.250Z");
    /* ISO 8601 (rsyslog) and RFC 5424 without an offset: local time too */
    ASSERT_STAMP("2025-06-01T07:00:00 web01 sshd[1]: x", &o, "2025-06-01T00:00:00.000Z");
    ASSERT_STAMP("<13>1 2025-06-01T07:00:00.5 web01 app - - - x", &o, "2025-06-01T00:00:00.500Z");
    /* with an offset or Z they keep it */
    ASSERT_STAMP("2025-06-01T07:00:00+02:00 web01 sshd[1]: x", &o, "2025-06-01T05:00:00.000Z");
    ASSERT_STAMP("<13>1 2025-06-01T07:00:00Z web01 app - - - x", &o, "2025-06-01T07:00:00.000Z");
    /* an access log's +0700 and a syslog line of the same moment agree */
    ASSERT_STAMP("203.0.113.9 - - [01/Jun/2025:07:00:00 +0700] \"GET / HTTP/1.1\" 200 1 "
                 "\"-\" \"x\"", &o, "2025-06-01T00:00:00.000Z");
    /* JSON @timestamp: without an offset local, with one as given */
    ASSERT_STAMP("{\"@timestamp\":\"2025-06-01T07:00:00.123\",\"user\":\"a\"}", &o,
                 "2025-06-01T00:00:00.123Z");
    ASSERT_STAMP("{\"@timestamp\":\"2025-06-01T07:00:00.123Z\",\"user\":\"a\"}", &o,
                 "2025-06-01T07:00:00.123Z");
    /* an audit record carries epoch seconds: no zone applies */
    ASSERT_STAMP("type=USER_LOGIN msg=audit(1748736000.000:1): pid=1 uid=0 res=failed", &o,
                 "2025-06-01T00:00:00.000Z");
    canh_tz_free(hcm);
}

Test(local_time, daylight_saving_in_berlin_and_new_york)
{
    canh_tz_t *ber = zone("Europe/Berlin"), *ny = zone("America/New_York");
    canh_parse_opts_t b = { .default_year = 2025, .tz = ber };
    canh_parse_opts_t n = { .default_year = 2025, .tz = ny };
    /* Berlin: +01:00 in winter, +02:00 in summer */
    ASSERT_STAMP("Jan 15 12:00:00 h p: x", &b, "2025-01-15T11:00:00.000Z");
    ASSERT_STAMP("Jul 15 12:00:00 h p: x", &b, "2025-07-15T10:00:00.000Z");
    /* spring forward on Mar 30: before, inside the skipped hour (read with
     * the offset before), after */
    ASSERT_STAMP("Mar 30 01:59:59 h p: x", &b, "2025-03-30T00:59:59.000Z");
    ASSERT_STAMP("Mar 30 02:30:00 h p: x", &b, "2025-03-30T01:30:00.000Z");
    ASSERT_STAMP("Mar 30 03:00:00 h p: x", &b, "2025-03-30T01:00:00.000Z");
    /* fall back on Oct 26: the repeated hour is the first one */
    ASSERT_STAMP("Oct 26 01:59:59 h p: x", &b, "2025-10-25T23:59:59.000Z");
    ASSERT_STAMP("Oct 26 02:30:00 h p: x", &b, "2025-10-26T00:30:00.000Z");
    ASSERT_STAMP("Oct 26 03:00:00 h p: x", &b, "2025-10-26T02:00:00.000Z");
    /* New York: Mar 9 and Nov 2 */
    ASSERT_STAMP("Mar  9 01:59:59 h p: x", &n, "2025-03-09T06:59:59.000Z");
    ASSERT_STAMP("Mar  9 02:30:00 h p: x", &n, "2025-03-09T07:30:00.000Z");
    ASSERT_STAMP("Mar  9 03:00:00 h p: x", &n, "2025-03-09T07:00:00.000Z");
    ASSERT_STAMP("Nov  2 00:59:59 h p: x", &n, "2025-11-02T04:59:59.000Z");
    ASSERT_STAMP("Nov  2 01:30:00 h p: x", &n, "2025-11-02T05:30:00.000Z");
    ASSERT_STAMP("Nov  2 02:00:00 h p: x", &n, "2025-11-02T07:00:00.000Z");
    ASSERT_STAMP("2025-07-04T12:00:00 h p: x", &n, "2025-07-04T16:00:00.000Z");
    canh_tz_free(ber);
    canh_tz_free(ny);
}

/* The year of a year-less stamp is inferred in the zone: a December log
 * read in January is last year's, in both zones, also when the reference
 * instant is already the new year in UTC but not yet there, or the other
 * way round. */
Test(local_time, december_read_in_january)
{
    canh_tz_t *hcm = zone("Asia/Ho_Chi_Minh"), *ny = zone("America/New_York");
    /* 2026-01-05T03:00Z: Jan 5 in Ho Chi Minh City, Jan 4 in New York */
    canh_parse_opts_t h = { .reference_ms = 1767582000000, .tz = hcm };
    canh_parse_opts_t n = { .reference_ms = 1767582000000, .tz = ny };
    ASSERT_STAMP("Dec 31 23:30:00 h p: x", &h, "2025-12-31T16:30:00.000Z");
    ASSERT_STAMP("Dec 31 23:30:00 h p: x", &n, "2026-01-01T04:30:00.000Z");
    ASSERT_STAMP("Jan  1 00:30:00 h p: x", &h, "2025-12-31T17:30:00.000Z");
    ASSERT_STAMP("Jan  1 00:30:00 h p: x", &n, "2026-01-01T05:30:00.000Z");
    ASSERT_STAMP("Dec  1 08:00:00 h p: x", &h, "2025-12-01T01:00:00.000Z");
    ASSERT_STAMP("Dec  1 08:00:00 h p: x", &n, "2025-12-01T13:00:00.000Z");
    /* 2025-12-31T18:00Z is already Jan 1 01:00 in Ho Chi Minh City: its
     * early-January lines are this (new) year's, its December ones last */
    canh_parse_opts_t h2 = { .reference_ms = 1767204000000, .tz = hcm };
    ASSERT_STAMP("Jan  1 00:30:00 h p: x", &h2, "2025-12-31T17:30:00.000Z");
    ASSERT_STAMP("Dec 31 23:59:00 h p: x", &h2, "2025-12-31T16:59:00.000Z");
    ASSERT_STAMP("Mar  1 10:00:00 h p: x", &h2, "2025-03-01T03:00:00.000Z");
    /* the two days of slack are counted from the reference's local time */
    ASSERT_STAMP("Jan  2 20:00:00 h p: x", &h2, "2026-01-02T13:00:00.000Z");
    ASSERT_STAMP("Jan  3 02:00:00 h p: x", &h2, "2025-01-02T19:00:00.000Z");
    /* 2026-01-01T03:00Z is still Dec 31 22:00 in New York: a line of
     * Jan 1 00:30 there is two and a half hours ahead, next year's */
    canh_parse_opts_t n2 = { .reference_ms = 1767236400000, .tz = ny };
    ASSERT_STAMP("Dec 31 21:00:00 h p: x", &n2, "2026-01-01T02:00:00.000Z");
    ASSERT_STAMP("Jan  1 00:30:00 h p: x", &n2, "2026-01-01T05:30:00.000Z");
    ASSERT_STAMP("Jan 15 00:30:00 h p: x", &n2, "2025-01-15T05:30:00.000Z");
    ASSERT_STAMP("Jan  2 21:00:00 h p: x", &n2, "2026-01-03T02:00:00.000Z");
    ASSERT_STAMP("Jan  2 23:00:00 h p: x", &n2, "2025-01-03T04:00:00.000Z");
    canh_tz_free(hcm);
    canh_tz_free(ny);
}

/* A parser with no zone reads UTC, whatever the machine's zone is. */
Test(local_time, no_zone_is_utc_not_the_machines)
{
    setenv("TZ", "Asia/Ho_Chi_Minh", 1);
    tzset();
    canh_parse_opts_t o = { .default_year = 2025 };
    ASSERT_STAMP("Dec 31 23:30:00 h p: x", &o, "2025-12-31T23:30:00.000Z");
    canh_parse_opts_t u = { .default_year = 2025, .tz = canh_tz_utc() };
    ASSERT_STAMP("Dec 31 23:30:00 h p: x", &u, "2025-12-31T23:30:00.000Z");
}

/* canh_syslog_parse on an event of the caller's: the zone comes from opts. */
Test(local_time, syslog_parse_takes_the_zone_from_opts)
{
    canh_tz_t *hcm = zone("Asia/Ho_Chi_Minh");
    canh_parse_opts_t o = { .default_year = 2025, .tz = hcm };
    cr_assert_eq(parse("Dec 31 23:30:00 h p: x", &o), CANH_OK);
    ASSERT_VAL(&ev, "@timestamp", "2025-12-31T16:30:00.000Z");
    cr_assert_null(ev.tz);
    canh_tz_free(hcm);
}
