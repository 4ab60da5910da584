/*
 * engine/suppress.h -- the suppression list: alerts the SOC has decided
 * not to see, for now, without touching the rules.
 *
 * Each entry names rules (`rule:` ids or names, `tag:` tags, at least one
 * of the two) and may narrow them to a host (`host:`, host.name, with `*`
 * and `?`), a source address or network (`source:`, source.ip, CIDR) and a
 * user (`user:`, user.name, with `*` and `?`); every condition an entry
 * gives must hold, and a key given a list holds when one of its values
 * does. `until:` (an ISO 8601 date or date and time) ends the entry; an
 * expired entry is ignored and noted once. `reason:` says why.
 *
 * A suppressed alert is not written, but counted per rule
 * (canh_stats_suppressed), so nothing disappears without a trace.
 *
 * The list is read from a file (canh.yml's `suppress:` key, which holds
 * the list or names a file with it; or the file of `canh scan
 * --suppress`) and bound to one rule set: each rule's index leads straight
 * to its entries, so a worker checks an alert without a lookup, a malloc
 * or a lock. A reload reads and binds it again with the new rule set.
 *
 * Ownership: a canh_suppress_t owns its entries; it is read-only once
 * loaded (but for the once-only expiry notes, which are atomic), so any
 * number of workers may share it. Thread: loaded at start-up or on the
 * reload thread; canh_suppress_match on any worker.
 */
#ifndef CANH_SUPPRESS_H
#define CANH_SUPPRESS_H

#include "detect/match.h"

typedef struct canh_suppress canh_suppress_t;

/* A problem or a note, as "FILE:LINE: message". error: 1 for a bad entry
 * (the list is refused), 0 for a note (an expired entry, a rule or tag no
 * loaded rule has). */
typedef void (*canh_suppress_msg_fn)(void *ud, int error, const char *text);

/*
 * Reads the suppression list at path and binds it to the rules of rs.
 * The file holds a YAML list of entries, or a map whose `suppress` key
 * holds the list or names a file that holds it (relative to the first
 * file's folder): canh.yml itself works. now_ms: entries that ended
 * before it are noted and left out. Every bad entry is reported through
 * fn, not only the first. Returns CANH_OK with *out set; CANH_EINVAL if
 * some entry is bad (err says how many); CANH_ENOENT or CANH_EIO if a
 * file cannot be read; CANH_ENOMEM.
 */
int  canh_suppress_load(canh_suppress_t **out, const char *path, const canh_ruleset_t *rs,
                        int64_t now_ms, canh_suppress_msg_fn fn, void *ud,
                        char *err, size_t errlen);
void canh_suppress_free(canh_suppress_t *s);

/* Entries read (expired ones included), and those bound to some rule. */
size_t canh_suppress_entries(const canh_suppress_t *s);
size_t canh_suppress_active(const canh_suppress_t *s);

/*
 * 1 when the alert of rule rule_idx (its index in the rule set the list
 * was bound to) on ev is suppressed at now_ms, else 0. No malloc, no
 * lock. An entry that has ended by now_ms is skipped, and logged the
 * first time (CANH_WARN).
 */
int canh_suppress_match(const canh_suppress_t *s, uint32_t rule_idx, const canh_event_t *ev,
                        int64_t now_ms);

#endif
