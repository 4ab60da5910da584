/*
 * engine/stats.c -- counting alerts and writing the counts (see stats.h).
 *
 * Thread: the thread that owns the stats object. The host table grows by
 * doubling; a host is hashed once per alert, never per event. Host names
 * and rule titles come from outside: the summary prints them escaped
 * (canh_esc), so a host name cannot drive the terminal or forge a line.
 */
#include "stats.h"

#include <stdlib.h>

#include "../sinks/json.h"

int canh_stats_init(canh_stats_t *s)
{
    memset(s, 0, sizeof(*s));
    s->threat_level = CANH_THREAT_LEVEL_DEFAULT;
    return CANH_OK;
}

static void table_free(canh_count_table_t *t)
{
    for (size_t i = 0; i < t->cap; i++) {
        free(t->v[i].name);
        free(t->v[i].title);
    }
    free(t->v);
    memset(t, 0, sizeof(*t));
}

void canh_stats_free(canh_stats_t *s)
{
    table_free(&s->rules);
    table_free(&s->hosts);
    table_free(&s->suppressed_rules);
    table_free(&s->pcre2_limit_rules);
    memset(s, 0, sizeof(*s));
}

static uint64_t hash_str(const char *p, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)p[i]) * 1099511628211ull;
    return h;
}

/* The entry for name (n bytes), added with count 0 if new; NULL: no memory. */
static canh_count_t *table_slot(canh_count_table_t *t, const char *name, size_t n)
{
    if ((t->used + 1) * 2 > t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 64;
        canh_count_t *nv = calloc(cap, sizeof(*nv));
        if (!nv)
            return NULL;
        for (size_t i = 0; i < t->cap; i++) {
            if (!t->v[i].name)
                continue;
            size_t j = hash_str(t->v[i].name, t->v[i].len) & (cap - 1);
            while (nv[j].name)
                j = (j + 1) & (cap - 1);
            nv[j] = t->v[i];
        }
        free(t->v);
        t->v = nv;
        t->cap = cap;
    }
    size_t j = hash_str(name, n) & (t->cap - 1);
    while (t->v[j].name) {   /* names are bytes (a host name may hold a NUL) */
        if (t->v[j].len == n && memcmp(t->v[j].name, name, n) == 0)
            return &t->v[j];
        j = (j + 1) & (t->cap - 1);
    }
    char *copy = malloc(n + 1);
    if (!copy)
        return NULL;
    memcpy(copy, name, n);
    copy[n] = '\0';
    t->v[j].name = copy;
    t->v[j].len = n;
    t->used++;
    return &t->v[j];
}

static canh_count_t *rule_slot_in(canh_count_table_t *t, const char *id, const char *title,
                                  canh_level_t level)
{
    canh_count_t *c = table_slot(t, id, strlen(id));
    if (c && !c->title) {
        c->title = strdup(title ? title : id);
        c->level = level;
    }
    return c;
}

static canh_count_t *rule_slot(canh_stats_t *s, const char *id, const char *title,
                               canh_level_t level)
{
    return rule_slot_in(&s->rules, id, title, level);
}

int canh_stats_suppressed(canh_stats_t *s, const canh_rule_t *r)
{
    s->suppressed++;
    canh_count_t *c = rule_slot_in(&s->suppressed_rules, r->id, r->title, r->level);
    if (c)
        c->count++;
    return c ? CANH_OK : CANH_ENOMEM;
}

int canh_stats_pcre2_limit(canh_stats_t *s, const canh_rule_t *r, uint64_t n, int *first)
{
    s->pcre2_limit += n;
    canh_count_t *c = rule_slot_in(&s->pcre2_limit_rules, r->id, r->title, r->level);
    if (first)
        *first = c && !c->count && n;
    if (c)
        c->count += n;
    return c ? CANH_OK : CANH_ENOMEM;
}

int canh_stats_alert(canh_stats_t *s, const canh_rule_t *r, const char *host, size_t host_len)
{
    s->alerts++;
    if (r->level >= CANH_LEVEL_INFORMATIONAL && r->level <= CANH_LEVEL_CRITICAL)
        s->by_level[r->level]++;
    canh_count_t *c = rule_slot(s, r->id, r->title, r->level);
    if (c)
        c->count++;
    if (!host || !host_len) {
        host = "-";
        host_len = 1;
    }
    canh_count_t *h = table_slot(&s->hosts, host, host_len);
    if (h)
        h->count++;
    return c && h ? CANH_OK : CANH_ENOMEM;
}

int canh_stats_merge(canh_stats_t *into, const canh_stats_t *from)
{
    into->files += from->files;
    into->files_failed += from->files_failed;
    into->captures += from->captures;
    into->packets += from->packets;
    into->packets_bad += from->packets_bad;
    into->packets_skipped += from->packets_skipped;
    into->fragments_held += from->fragments_held;
    into->flows += from->flows;
    into->no_flow += from->no_flow;
    into->stream_gaps += from->stream_gaps;
    into->stream_memcap_hit += from->stream_memcap_hit;
    into->protocol_events += from->protocol_events;
    into->lines += from->lines;
    into->bytes += from->bytes;
    into->events += from->events;
    into->parse_errors += from->parse_errors;
    into->dropped_fields += from->dropped_fields;
    into->alerts += from->alerts;
    into->has_output |= from->has_output;
    into->alerts_written += from->alerts_written;
    into->alerts_not_written += from->alerts_not_written;
    into->write_failures += from->write_failures;
    into->write_blocked_s += from->write_blocked_s;
    for (int l = 0; l < 6; l++)
        into->by_level[l] += from->by_level[l];
    for (size_t i = 0; i < from->rules.cap; i++) {
        const canh_count_t *f = &from->rules.v[i];
        if (!f->name)
            continue;
        canh_count_t *c = rule_slot(into, f->name, f->title, f->level);
        if (!c)
            return CANH_ENOMEM;
        c->count += f->count;
    }
    into->suppressed += from->suppressed;
    for (size_t i = 0; i < from->suppressed_rules.cap; i++) {
        const canh_count_t *f = &from->suppressed_rules.v[i];
        if (!f->name)
            continue;
        canh_count_t *c = rule_slot_in(&into->suppressed_rules, f->name, f->title, f->level);
        if (!c)
            return CANH_ENOMEM;
        c->count += f->count;
    }
    into->pcre2_limit += from->pcre2_limit;
    for (size_t i = 0; i < from->pcre2_limit_rules.cap; i++) {
        const canh_count_t *f = &from->pcre2_limit_rules.v[i];
        if (!f->name)
            continue;
        canh_count_t *c = rule_slot_in(&into->pcre2_limit_rules, f->name, f->title, f->level);
        if (!c)
            return CANH_ENOMEM;
        c->count += f->count;
    }
    for (size_t i = 0; i < from->hosts.cap; i++) {
        const canh_count_t *f = &from->hosts.v[i];
        if (!f->name)
            continue;
        canh_count_t *h = table_slot(&into->hosts, f->name, f->len);
        if (!h)
            return CANH_ENOMEM;
        h->count += f->count;
    }
    return CANH_OK;
}

uint64_t canh_threats(const uint64_t by_level[6], canh_level_t from)
{
    uint64_t n = 0;
    for (int l = from < CANH_LEVEL_INFORMATIONAL ? CANH_LEVEL_INFORMATIONAL : (int)from;
         l <= CANH_LEVEL_CRITICAL; l++)
        n += by_level[l];
    return n;
}

const char *canh_threat_sentence(const uint64_t by_level[6], uint64_t alerts,
                                 canh_level_t from, char *buf, size_t len)
{
    char t[32], h[32], c[32], a[32], which[64];
    if (from <= CANH_LEVEL_INFORMATIONAL)
        snprintf(which, sizeof(which), "alerts of every level");
    else if (from == CANH_LEVEL_CRITICAL)
        snprintf(which, sizeof(which), "critical alerts");
    else
        snprintf(which, sizeof(which), "alerts of level %s and above", canh_level_name(from));
    snprintf(buf, len, "%s threats detected, of which %s high and %s critical (%s; %s alerts "
             "in all)", canh_fmt_count(canh_threats(by_level, from), t),
             canh_fmt_count(from <= CANH_LEVEL_HIGH ? by_level[CANH_LEVEL_HIGH] : 0, h),
             canh_fmt_count(by_level[CANH_LEVEL_CRITICAL], c), which,
             canh_fmt_count(alerts, a));
    return buf;
}

const char *canh_fmt_count(uint64_t v, char buf[32])
{
    char tmp[32];
    int n = snprintf(tmp, sizeof(tmp), "%llu", (unsigned long long)v);
    int o = 0;
    for (int i = 0; i < n; i++) {
        if (i && (n - i) % 3 == 0)
            buf[o++] = ',';
        buf[o++] = tmp[i];
    }
    buf[o] = '\0';
    return buf;
}

static int ranked_cmp(const void *a, const void *b)
{
    const canh_count_t *x = *(const canh_count_t *const *)a, *y = *(const canh_count_t *const *)b;
    if (x->count != y->count)
        return x->count < y->count ? 1 : -1;
    if (x->title && y->title)
        return strcmp(x->title, y->title);
    size_t n = x->len < y->len ? x->len : y->len;   /* host names: bytes */
    int c = memcmp(x->name, y->name, n);
    return c ? c : (x->len > y->len) - (x->len < y->len);
}

/* The table's entries, most counted first; *n receives how many. NULL if
 * empty or out of memory. */
static const canh_count_t **ranked(const canh_count_table_t *t, size_t *n)
{
    *n = 0;
    const canh_count_t **v = t->used ? malloc(t->used * sizeof(*v)) : NULL;
    if (!v)
        return NULL;
    for (size_t i = 0; i < t->cap; i++)
        if (t->v[i].name)
            v[(*n)++] = &t->v[i];
    qsort(v, *n, sizeof(*v), ranked_cmp);
    return v;
}

static void put_table(canh_buf_t *b, const char *key, const canh_count_table_t *t)
{
    canh_buf_printf(b, "\"%s\":{", key);
    size_t n;
    const canh_count_t **v = ranked(t, &n);
    for (size_t i = 0; i < n; i++) {
        if (i)
            canh_buf_putc(b, ',');
        canh_json_put_string(b, v[i]->name, v[i]->len);
        canh_buf_printf(b, ":%llu", (unsigned long long)v[i]->count);
    }
    if (!v && t->used)
        b->oom = 1;
    free(v);
    canh_buf_putc(b, '}');
}

void canh_stats_put_tables(const canh_stats_t *s, canh_buf_t *b)
{
    put_table(b, "by_rule", &s->rules);
    canh_buf_putc(b, ',');
    put_table(b, "by_host", &s->hosts);
    canh_buf_printf(b, ",\"suppressed\":{\"total\":%llu,", (unsigned long long)s->suppressed);
    put_table(b, "by_rule", &s->suppressed_rules);
    canh_buf_printf(b, "},\"pcre2_limit\":{\"total\":%llu,", (unsigned long long)s->pcre2_limit);
    put_table(b, "by_rule", &s->pcre2_limit_rules);
    canh_buf_putc(b, '}');
}

void canh_stats_put_packets(const canh_stats_t *s, canh_buf_t *b)
{
    canh_buf_printf(b, "\"packets\":{\"captures\":%llu,\"frames\":%llu,\"malformed\":%llu,"
                       "\"not_inspected\":%llu,\"fragments_held\":%llu,\"flows\":%llu,"
                       "\"no_flow\":%llu,\"stream_gaps\":%llu,\"stream_memcap_hit\":%llu,"
                       "\"protocol_events\":%llu}",
                    (unsigned long long)s->captures, (unsigned long long)s->packets,
                    (unsigned long long)s->packets_bad, (unsigned long long)s->packets_skipped,
                    (unsigned long long)s->fragments_held, (unsigned long long)s->flows,
                    (unsigned long long)s->no_flow, (unsigned long long)s->stream_gaps,
                    (unsigned long long)s->stream_memcap_hit,
                    (unsigned long long)s->protocol_events);
}

int canh_stats_write_json(const canh_stats_t *s, FILE *out)
{
    canh_buf_t b;
    canh_buf_init(&b);
    canh_buf_printf(&b, "{\"events\":%llu,\"lines\":%llu,\"bytes\":%llu,"
                        "\"files\":%llu,\"files_failed\":%llu,"
                        "\"parse_errors\":%llu,\"dropped_fields\":%llu,\"alerts\":%llu,"
                        "\"threats\":%llu,\"threat_level\":\"%s\","
                        "\"seconds\":%.3f,\"cpu_seconds\":{\"input\":%.3f,\"workers\":%.3f},"
                        "\"by_level\":{",
                    (unsigned long long)s->events, (unsigned long long)s->lines,
                    (unsigned long long)s->bytes, (unsigned long long)s->files,
                    (unsigned long long)s->files_failed, (unsigned long long)s->parse_errors,
                    (unsigned long long)s->dropped_fields, (unsigned long long)s->alerts,
                    (unsigned long long)canh_threats(s->by_level, s->threat_level),
                    canh_level_name(s->threat_level), s->seconds, s->cpu_input, s->cpu_workers);
    for (int l = CANH_LEVEL_INFORMATIONAL; l <= CANH_LEVEL_CRITICAL; l++)
        canh_buf_printf(&b, "%s\"%s\":%llu", l > 1 ? "," : "", canh_level_name((canh_level_t)l),
                        (unsigned long long)s->by_level[l]);
    canh_buf_puts(&b, "},");
    if (s->has_output)
        canh_buf_printf(&b, "\"output\":{\"written\":%llu,\"not_written\":%llu,"
                            "\"failed_writes\":%llu,\"blocked_s\":%.1f},",
                        (unsigned long long)s->alerts_written,
                        (unsigned long long)s->alerts_not_written,
                        (unsigned long long)s->write_failures, s->write_blocked_s);
    if (s->captures) {
        canh_stats_put_packets(s, &b);
        canh_buf_putc(&b, ',');
    }
    canh_stats_put_tables(s, &b);
    canh_buf_puts(&b, "}\n");
    int rc = b.oom ? CANH_ENOMEM : CANH_OK;
    if (rc == CANH_OK && fwrite(b.ptr, 1, b.len, out) != b.len)
        rc = CANH_EIO;
    canh_buf_free(&b);
    return rc;
}

#define TOP_N 10

/* Alerts the suppression list held back: never silently. */
static void summary_suppressed(const canh_stats_t *s, FILE *out)
{
    char a[32];
    if (!s->suppressed)
        return;
    fprintf(out, "canh: %s alerts suppressed by the suppression list (counted, not written):\n",
            canh_fmt_count(s->suppressed, a));
    size_t n;
    const canh_count_t **v = ranked(&s->suppressed_rules, &n);
    for (size_t i = 0; i < n && i < TOP_N; i++)
        fprintf(out, "    %10s  %-13s %s\n", canh_fmt_count(v[i]->count, a),
                canh_level_name(v[i]->level), canh_esc(v[i]->title));
    if (n > TOP_N)
        fprintf(out, "    ... and %zu more rules\n", n - TOP_N);
    free(v);
}

/* Events a rule could not decide on (PCRE2 limit): never silently. */
static void summary_pcre2_limit(const canh_stats_t *s, FILE *out)
{
    char a[32];
    if (!s->pcre2_limit)
        return;
    fprintf(out, "canh: %s times a rule could not decide on an event: its regex hit a PCRE2 "
                 "limit (the event is not matched by that rule; see rules.pcre2_match_limit):\n",
            canh_fmt_count(s->pcre2_limit, a));
    size_t n;
    const canh_count_t **v = ranked(&s->pcre2_limit_rules, &n);
    for (size_t i = 0; i < n && i < TOP_N; i++)
        fprintf(out, "    %10s  %-13s %s (%s)\n", canh_fmt_count(v[i]->count, a),
                canh_level_name(v[i]->level), canh_esc(v[i]->title), canh_esc(v[i]->name));
    if (n > TOP_N)
        fprintf(out, "    ... and %zu more rules\n", n - TOP_N);
    free(v);
}

void canh_stats_summary(const canh_stats_t *s, FILE *out)
{
    char a[32], b[32], c[32];
    uint64_t logs = s->files - (s->captures < s->files ? s->captures : s->files);
    if (logs || !s->captures)   /* a scan of captures alone has no log events to tell */
        fprintf(out, "canh: %s events from %s (%s parse errors) in %.2f s\n",
                canh_fmt_count(s->events, a),
                logs == 1 ? "1 input" : (snprintf(b, sizeof(b), "%llu inputs",
                                                  (unsigned long long)logs), b),
                canh_fmt_count(s->parse_errors, c), s->seconds);
    if (s->files_failed)
        fprintf(out, "canh: %s inputs could not be read (see the errors above)\n",
                canh_fmt_count(s->files_failed, a));
    if (s->captures) {
        char d[32], e[32], g[32];
        fprintf(out, "canh: %s packets from %s (%s malformed, %s not inspected), %s flows, "
                "%s protocol events in %.2f s\n", canh_fmt_count(s->packets, a),
                s->captures == 1 ? "1 capture" : (snprintf(b, sizeof(b), "%llu captures",
                                                           (unsigned long long)s->captures), b),
                canh_fmt_count(s->packets_bad, c), canh_fmt_count(s->packets_skipped, d),
                canh_fmt_count(s->flows, e), canh_fmt_count(s->protocol_events, g), s->seconds);
        if (s->stream_gaps || s->stream_memcap_hit)
            fprintf(out, "canh: TCP reassembly skipped %s gaps and hit its memory cap %s "
                    "times\n", canh_fmt_count(s->stream_gaps, a),
                    canh_fmt_count(s->stream_memcap_hit, b));
    }
    char sentence[256];
    fprintf(out, "canh: %s\n", canh_threat_sentence(s->by_level, s->alerts, s->threat_level,
                                                    sentence, sizeof(sentence)));
    summary_suppressed(s, out);
    summary_pcre2_limit(s, out);
    if (s->alerts_not_written)
        fprintf(out, "canh: %s alerts could not be written (the output failed; see the errors "
                "above); %s were\n", canh_fmt_count(s->alerts_not_written, a),
                canh_fmt_count(s->alerts_written, b));
    else if (s->write_failures)
        fprintf(out, "canh: writing alerts failed %s times and waited %.1f s for it to work "
                "again; all %s were written\n", canh_fmt_count(s->write_failures, a),
                s->write_blocked_s, canh_fmt_count(s->alerts_written, b));
    if (!s->alerts)
        return;
    fprintf(out, "  by level:");
    for (int l = CANH_LEVEL_CRITICAL; l >= CANH_LEVEL_INFORMATIONAL; l--)
        fprintf(out, "  %s %s", canh_level_name((canh_level_t)l), canh_fmt_count(s->by_level[l], a));
    fputc('\n', out);

    size_t n;
    const canh_count_t **v = ranked(&s->rules, &n);
    fprintf(out, "  top rules:\n");
    for (size_t i = 0; i < n && i < TOP_N; i++)
        fprintf(out, "    %10s  %-13s %s\n", canh_fmt_count(v[i]->count, a),
                canh_level_name(v[i]->level), canh_esc(v[i]->title));
    free(v);
    v = ranked(&s->hosts, &n);
    fprintf(out, "  top hosts:\n");
    for (size_t i = 0; i < n && i < TOP_N; i++)
        fprintf(out, "    %10s  %s\n", canh_fmt_count(v[i]->count, a), canh_esc(v[i]->name));
    free(v);
}
