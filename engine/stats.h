/*
 * engine/stats.h -- what a scan counted: events, parse errors, alerts by
 * level, by rule and by host; written as STATS.json and as the summary an
 * analyst reads ("N threats detected, of which H high and C critical").
 *
 * Ownership: the stats own their per-rule array and host table (host names
 * are copied once, the first time a host raises an alert).
 * Thread: one stats object per thread; merge with canh_stats_merge.
 */
#ifndef CANH_STATS_H
#define CANH_STATS_H

#include <stdio.h>

#include "detect/match.h"

typedef struct canh_host_count {
    char *name;
    uint64_t count;
} canh_host_count_t;

typedef struct canh_stats {
    uint64_t files, files_failed;
    uint64_t lines, bytes;
    uint64_t events, parse_errors, dropped_fields;
    uint64_t alerts;
    uint64_t by_level[6];          /* index canh_level_t; 0 unused */
    uint64_t *by_rule;             /* index = rule index in the ruleset */
    size_t   nrules;
    canh_host_count_t *hosts;      /* open addressing, power-of-two size */
    size_t   hosts_cap, hosts_used;
    double   seconds;              /* wall time of the run */
} canh_stats_t;

int  canh_stats_init(canh_stats_t *s, size_t nrules);
void canh_stats_free(canh_stats_t *s);
void canh_stats_alert(canh_stats_t *s, uint32_t rule_idx, canh_level_t level,
                      const char *host, size_t host_len);
int  canh_stats_merge(canh_stats_t *into, const canh_stats_t *from);

/* STATS.json: events, parse_errors, alerts, by_level (all five), by_rule (id -> count), by_host. */
int  canh_stats_write_json(const canh_stats_t *s, const canh_ruleset_t *rs, FILE *out);
/* The summary for stderr. */
void canh_stats_summary(const canh_stats_t *s, const canh_ruleset_t *rs, FILE *out);

/* 1234567 -> "1,234,567" */
const char *canh_fmt_count(uint64_t v, char buf[32]);

#endif
