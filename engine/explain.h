/*
 * engine/explain.h -- why a rule fired on an event, or why it did not, in
 * the rule's own words: the report of `canh explain` (for analysts, what
 * wazuh-logtest is to Wazuh) and the `canh.matched` list that alerts carry
 * when asked (`canh scan --matched`, `outputs.alerts.matched`).
 *
 * Everything here reads what the matcher decided (canh_matcher_explain in
 * detect/match.c): the truth of each field test as the Hyperscan path
 * found it, the event value that made it true, and the matcher's verdict.
 * A selection's truth and the condition's are computed from those; where
 * they do not agree with the verdict, the report says so (`agrees`: false)
 * instead of hiding it.
 *
 * Thread: the caller's (the one that owns the matcher). Cold path: nothing
 * here runs unless asked.
 */
#ifndef CANH_EXPLAIN_H
#define CANH_EXPLAIN_H

#include "detect/match.h"
#include "../sinks/json.h"

/*
 * Appends rule rule_idx's canh.matched for event ev (the event last given
 * to canh_matcher_match on m, on which the rule fired) to out: a JSON
 * array of {"selection","field","value","rule_field","rule_value"}, one
 * per field test that holds the rule's verdict up (the true tests of the
 * selections that made the condition true; nothing under a `not`), in the
 * rule's order. `field`/`value` are the event's; `rule_field`/`rule_value`
 * the key and value as the rule wrote them. Returns CANH_OK, or
 * CANH_EINVAL when the matcher cannot explain this event (out untouched).
 */
int canh_explain_matched_json(canh_matcher_t *m, const canh_rule_t *r, const canh_event_t *ev,
                              uint32_t rule_idx, canh_buf_t *out);

/* How one event is reported by canh_explain_event. */
typedef struct canh_explain_opts {
    const uint32_t *asked;   /* rules named with --rule: reported even when they did not fire */
    size_t nasked;
    int json;                /* one JSON object (one line) instead of text */
} canh_explain_opts_t;

/* What canh_explain_event found, added to the caller's totals. */
typedef struct canh_explain_counts {
    uint64_t events;
    uint64_t fired;          /* rules that fired, over all events */
    uint64_t disagreements;  /* reports whose parts disagree with the matcher's verdict */
} canh_explain_counts_t;

/*
 * Reports event ev (number `seq`, just matched on m against rs): its
 * datasets and decoded fields in order, each rule that fired, and each
 * asked rule that did not, with the condition, its selections and each
 * field test. Text values are escaped so that a terminal shows them
 * safely (control characters, bidirectional overrides, invalid UTF-8).
 */
int canh_explain_event(canh_matcher_t *m, const canh_ruleset_t *rs, const canh_event_t *ev,
                       uint64_t seq, const canh_explain_opts_t *o, canh_buf_t *out,
                       canh_explain_counts_t *counts);

/* Writes s (n bytes) for a terminal: printable UTF-8 as it is, anything
 * else escaped (\n, \x1b, \u{202e}, \xff), at most max input bytes
 * (then "..." and the full length). */
void canh_explain_put_text(canh_buf_t *b, const char *s, size_t n, size_t max);

#endif
