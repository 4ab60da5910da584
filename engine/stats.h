/*
 * engine/stats.h -- what a scan counted: events, parse errors, alerts by
 * level, by rule and by host, alerts suppressed by rule; written as
 * STATS.json and as the summary an analyst reads ("N threats detected, of
 * which H high and C critical").
 *
 * A threat is an alert of the threat level or above (default medium:
 * `canh scan --threat-level`, `outputs.stats.threat_level`); informational
 * and low alerts are alerts, counted by level, but not threats.
 *
 * Alerts are counted by rule id, not by a rule's place in a rule set, so
 * counts carry over a rule reload: a rule that is still there after the
 * reload goes on counting where it was.
 *
 * Ownership: the stats own their tables (a rule's id, title and level and
 * a host's name are copied once, the first time it raises an alert), so
 * they outlive the rule set that raised the alerts.
 * Thread: one stats object per thread; merge with canh_stats_merge.
 */
#ifndef CANH_STATS_H
#define CANH_STATS_H

#include <stdio.h>

#include "detect/match.h"
#include "../sinks/json.h"

/* A counted name: a host, or a rule (by id, with its title and level). */
typedef struct canh_count {
    char *name;                    /* NUL-terminated copy; a host name may hold NULs too: */
    size_t len;                    /* its length */
    char *title;                   /* rules only */
    canh_level_t level;            /* rules only */
    uint64_t count;
} canh_count_t;

typedef struct canh_count_table {  /* open addressing, power-of-two size */
    canh_count_t *v;
    size_t cap, used;
} canh_count_table_t;

typedef struct canh_stats {
    uint64_t files, files_failed;
    uint64_t lines, bytes;
    /* packets (canh_pipeline_finish; captures 0: there were none) */
    uint64_t captures;
    uint64_t packets, packets_bad, packets_skipped, fragments_held, flows, no_flow,
             stream_gaps, stream_memcap_hit, protocol_events;
    uint64_t events, parse_errors, dropped_fields;
    uint64_t alerts;
    uint64_t by_level[6];          /* index canh_level_t; 0 unused */
    canh_level_t threat_level;     /* alerts of this level and above are threats
                                      (canh_stats_init: CANH_LEVEL_MEDIUM) */
    canh_count_table_t rules;      /* by rule id */
    canh_count_table_t hosts;      /* by host.name ("-" when an event has none) */
    uint64_t suppressed;           /* alerts the suppression list held back (not written) */
    canh_count_table_t suppressed_rules;   /* ... by rule id */
    uint64_t pcre2_limit;          /* events on which a rule could not decide: a PCRE2 run of
                                      its regex hit a limit (or failed); not matched by it */
    canh_count_table_t pcre2_limit_rules;  /* ... by rule id */
    double   seconds;              /* wall time of the run */
    /* CPU time by pipeline stage (canh_pipeline_finish): the thread that
     * fed it (reading inputs), and the workers together (parsing,
     * matching, formatting and writing alerts) */
    double   cpu_input, cpu_workers;
    /* the alerts output (canh_pipeline_finish; has_output 0: there was none):
     * alerts written whole, alerts given up on at a stop, failed writes and
     * the time spent failing (they are retried: see engine/pipeline.h) */
    int      has_output;
    uint64_t alerts_written, alerts_not_written, write_failures;
    double   write_blocked_s;
} canh_stats_t;

int  canh_stats_init(canh_stats_t *s);
void canh_stats_free(canh_stats_t *s);
/* One alert of rule r on host (NULL or empty: "-"). CANH_ENOMEM if a new
 * rule or host could not be added (the totals are counted anyway). */
int  canh_stats_alert(canh_stats_t *s, const canh_rule_t *r, const char *host, size_t host_len);
/* One alert of rule r that the suppression list held back: not written,
 * not in `alerts`, counted here. CANH_ENOMEM as above. */
int  canh_stats_suppressed(canh_stats_t *s, const canh_rule_t *r);
/* n events on which rule r could not decide (a PCRE2 limit: match.h,
 * canh_matcher_take_limits). *first (may be NULL) is set to 1 when this is
 * the rule's first, for the one log line per rule. CANH_ENOMEM as above. */
int  canh_stats_pcre2_limit(canh_stats_t *s, const canh_rule_t *r, uint64_t n, int *first);
int  canh_stats_merge(canh_stats_t *into, const canh_stats_t *from);

/* "by_rule":{id:count,...},"by_host":{name:count,...},
 * "suppressed":{"total":N,"by_rule":{id:count,...}},
 * "pcre2_limit":{"total":N,"by_rule":{id:events,...}} (no braces around),
 * each most alerts first; for STATS.json and the daemon's stats records. */
void canh_stats_put_tables(const canh_stats_t *s, canh_buf_t *b);
/* "packets":{captures, frames, malformed, not_inspected, fragments_held,
 * flows, no_flow, stream_gaps, stream_memcap_hit, protocol_events} (no
 * comma around): for STATS.json and the daemon's stats records. */
void canh_stats_put_packets(const canh_stats_t *s, canh_buf_t *b);
/* STATS.json: events, parse_errors, alerts, threats and threat_level, by_level (all five),
 * output (written, not_written, failed_writes, blocked_s: when there was an alerts
 * output), by_rule (id -> count), by_host. */
int  canh_stats_write_json(const canh_stats_t *s, FILE *out);
/* The summary for stderr. */
void canh_stats_summary(const canh_stats_t *s, FILE *out);

#define CANH_THREAT_LEVEL_DEFAULT CANH_LEVEL_MEDIUM

/* Alerts of level `from` and above. */
uint64_t canh_threats(const uint64_t by_level[6], canh_level_t from);
/*
 * The SOC's sentence, and what it counts, into buf: "673 threats detected,
 * of which 31 high and 3 critical (alerts of level medium and above; 1,633
 * alerts in all)". High alerts are not counted when `from` is critical.
 * Returns buf.
 */
const char *canh_threat_sentence(const uint64_t by_level[6], uint64_t alerts,
                                 canh_level_t from, char *buf, size_t len);

/* 1234567 -> "1,234,567" */
const char *canh_fmt_count(uint64_t v, char buf[32]);

#endif
