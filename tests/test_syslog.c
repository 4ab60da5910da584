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

static const canh_parse_opts_t utc = { .reference_ms = 1743076016000 /* 2025-03-27 */ };

TestSuite(syslog_5424, .init = setup, .fini = teardown);
TestSuite(syslog_3164, .init = setup, .fini = teardown);
TestSuite(syslog_plain, .init = setup, .fini = teardown);

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
    /* a few days ahead of the reference (clock skew) stays in this year */
    cr_assert_eq(parse("Jan 20 10:00:00 h p: x", &o), CANH_OK);
    ASSERT_VAL(&ev, "@timestamp", "2025-01-20T10:00:00.000Z");
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
