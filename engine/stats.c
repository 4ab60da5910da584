/*
 * engine/stats.c -- counting alerts and writing the counts (see stats.h).
 *
 * Thread: the thread that owns the stats object. The host table grows by
 * doubling; a host is hashed once per alert, never per event.
 */
#include "stats.h"

#include <stdlib.h>

#include "../sinks/json.h"

int canh_stats_init(canh_stats_t *s, size_t nrules)
{
    memset(s, 0, sizeof(*s));
    s->nrules = nrules;
    s->by_rule = calloc(nrules ? nrules : 1, sizeof(*s->by_rule));
    s->hosts_cap = 64;
    s->hosts = calloc(s->hosts_cap, sizeof(*s->hosts));
    return s->by_rule && s->hosts ? CANH_OK : CANH_ENOMEM;
}

void canh_stats_free(canh_stats_t *s)
{
    for (size_t i = 0; i < s->hosts_cap; i++)
        free(s->hosts[i].name);
    free(s->hosts);
    free(s->by_rule);
    memset(s, 0, sizeof(*s));
}

static uint64_t hash_str(const char *p, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)p[i]) * 1099511628211ull;
    return h;
}

static canh_host_count_t *host_slot(canh_stats_t *s, const char *name, size_t n)
{
    if ((s->hosts_used + 1) * 2 > s->hosts_cap) {
        size_t cap = s->hosts_cap * 2;
        canh_host_count_t *nh = calloc(cap, sizeof(*nh));
        if (!nh)
            return NULL;
        for (size_t i = 0; i < s->hosts_cap; i++) {
            if (!s->hosts[i].name)
                continue;
            size_t j = hash_str(s->hosts[i].name, strlen(s->hosts[i].name)) & (cap - 1);
            while (nh[j].name)
                j = (j + 1) & (cap - 1);
            nh[j] = s->hosts[i];
        }
        free(s->hosts);
        s->hosts = nh;
        s->hosts_cap = cap;
    }
    size_t j = hash_str(name, n) & (s->hosts_cap - 1);
    while (s->hosts[j].name) {
        if (strlen(s->hosts[j].name) == n && memcmp(s->hosts[j].name, name, n) == 0)
            return &s->hosts[j];
        j = (j + 1) & (s->hosts_cap - 1);
    }
    s->hosts[j].name = strndup(name, n);
    if (!s->hosts[j].name)
        return NULL;
    s->hosts_used++;
    return &s->hosts[j];
}

void canh_stats_alert(canh_stats_t *s, uint32_t rule_idx, canh_level_t level,
                      const char *host, size_t host_len)
{
    s->alerts++;
    if (level >= CANH_LEVEL_INFORMATIONAL && level <= CANH_LEVEL_CRITICAL)
        s->by_level[level]++;
    if (rule_idx < s->nrules)
        s->by_rule[rule_idx]++;
    if (!host || !host_len) {
        host = "-";
        host_len = 1;
    }
    canh_host_count_t *h = host_slot(s, host, host_len);
    if (h)
        h->count++;
}

int canh_stats_merge(canh_stats_t *into, const canh_stats_t *from)
{
    into->files += from->files;
    into->files_failed += from->files_failed;
    into->lines += from->lines;
    into->bytes += from->bytes;
    into->events += from->events;
    into->parse_errors += from->parse_errors;
    into->dropped_fields += from->dropped_fields;
    into->alerts += from->alerts;
    for (int l = 0; l < 6; l++)
        into->by_level[l] += from->by_level[l];
    for (size_t i = 0; i < into->nrules && i < from->nrules; i++)
        into->by_rule[i] += from->by_rule[i];
    for (size_t i = 0; i < from->hosts_cap; i++) {
        if (!from->hosts[i].name)
            continue;
        canh_host_count_t *h = host_slot(into, from->hosts[i].name, strlen(from->hosts[i].name));
        if (!h)
            return CANH_ENOMEM;
        h->count += from->hosts[i].count;
    }
    return CANH_OK;
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

int canh_stats_write_json(const canh_stats_t *s, const canh_ruleset_t *rs, FILE *out)
{
    canh_buf_t b;
    canh_buf_init(&b);
    canh_buf_printf(&b, "{\"events\":%llu,\"lines\":%llu,\"bytes\":%llu,"
                        "\"files\":%llu,\"files_failed\":%llu,"
                        "\"parse_errors\":%llu,\"dropped_fields\":%llu,\"alerts\":%llu,"
                        "\"seconds\":%.3f,\"by_level\":{",
                    (unsigned long long)s->events, (unsigned long long)s->lines,
                    (unsigned long long)s->bytes, (unsigned long long)s->files,
                    (unsigned long long)s->files_failed, (unsigned long long)s->parse_errors,
                    (unsigned long long)s->dropped_fields, (unsigned long long)s->alerts,
                    s->seconds);
    for (int l = CANH_LEVEL_INFORMATIONAL; l <= CANH_LEVEL_CRITICAL; l++)
        canh_buf_printf(&b, "%s\"%s\":%llu", l > 1 ? "," : "", canh_level_name((canh_level_t)l),
                        (unsigned long long)s->by_level[l]);
    canh_buf_puts(&b, "},\"by_rule\":{");
    int first = 1;
    for (size_t i = 0; i < s->nrules; i++) {
        if (!s->by_rule[i])
            continue;
        const canh_rule_t *r = canh_ruleset_rule(rs, (uint32_t)i);
        if (!first)
            canh_buf_putc(&b, ',');
        first = 0;
        canh_json_put_string(&b, r->id, strlen(r->id));
        canh_buf_printf(&b, ":%llu", (unsigned long long)s->by_rule[i]);
    }
    canh_buf_puts(&b, "},\"by_host\":{");
    first = 1;
    for (size_t i = 0; i < s->hosts_cap; i++) {
        if (!s->hosts[i].name)
            continue;
        if (!first)
            canh_buf_putc(&b, ',');
        first = 0;
        canh_json_put_string(&b, s->hosts[i].name, strlen(s->hosts[i].name));
        canh_buf_printf(&b, ":%llu", (unsigned long long)s->hosts[i].count);
    }
    canh_buf_puts(&b, "}}\n");
    int rc = b.oom ? CANH_ENOMEM : CANH_OK;
    if (rc == CANH_OK && fwrite(b.ptr, 1, b.len, out) != b.len)
        rc = CANH_EIO;
    canh_buf_free(&b);
    return rc;
}

typedef struct ranked {
    uint64_t count;
    const char *name;
    size_t idx;
} ranked_t;

static int ranked_cmp(const void *a, const void *b)
{
    const ranked_t *x = a, *y = b;
    if (x->count != y->count)
        return x->count < y->count ? 1 : -1;
    return strcmp(x->name, y->name);
}

#define TOP_N 10

void canh_stats_summary(const canh_stats_t *s, const canh_ruleset_t *rs, FILE *out)
{
    char a[32], b[32], c[32];
    fprintf(out, "canh: %s events from %s (%s parse errors) in %.2f s\n",
            canh_fmt_count(s->events, a),
            s->files == 1 ? "1 input" : (snprintf(b, sizeof(b), "%llu inputs",
                                                  (unsigned long long)s->files), b),
            canh_fmt_count(s->parse_errors, c), s->seconds);
    if (s->files_failed)
        fprintf(out, "canh: %s inputs could not be read (see the errors above)\n",
                canh_fmt_count(s->files_failed, a));
    fprintf(out, "canh: %s threats detected, of which %s high and %s critical\n",
            canh_fmt_count(s->alerts, a), canh_fmt_count(s->by_level[CANH_LEVEL_HIGH], b),
            canh_fmt_count(s->by_level[CANH_LEVEL_CRITICAL], c));
    if (!s->alerts)
        return;
    fprintf(out, "  by level:");
    for (int l = CANH_LEVEL_CRITICAL; l >= CANH_LEVEL_INFORMATIONAL; l--)
        fprintf(out, "  %s %s", canh_level_name((canh_level_t)l), canh_fmt_count(s->by_level[l], a));
    fputc('\n', out);

    size_t n = 0;
    ranked_t *v = malloc((s->nrules + s->hosts_cap + 1) * sizeof(*v));
    if (!v)
        return;
    for (size_t i = 0; i < s->nrules; i++)
        if (s->by_rule[i])
            v[n++] = (ranked_t){ s->by_rule[i], canh_ruleset_rule(rs, (uint32_t)i)->title, i };
    qsort(v, n, sizeof(*v), ranked_cmp);
    fprintf(out, "  top rules:\n");
    for (size_t i = 0; i < n && i < TOP_N; i++) {
        const canh_rule_t *r = canh_ruleset_rule(rs, (uint32_t)v[i].idx);
        fprintf(out, "    %10s  %-13s %s\n", canh_fmt_count(v[i].count, a),
                canh_level_name(r->level), r->title);
    }
    n = 0;
    for (size_t i = 0; i < s->hosts_cap; i++)
        if (s->hosts[i].name)
            v[n++] = (ranked_t){ s->hosts[i].count, s->hosts[i].name, i };
    qsort(v, n, sizeof(*v), ranked_cmp);
    fprintf(out, "  top hosts:\n");
    for (size_t i = 0; i < n && i < TOP_N; i++)
        fprintf(out, "    %10s  %s\n", canh_fmt_count(v[i].count, a), v[i].name);
    free(v);
}
