/*
 * sinks/alert.h -- one alert as one JSON object (a line in files, a message
 * in Kafka).
 *
 * Fields: @timestamp (the event's time), event.kind "alert",
 * event.severity (1-5, critical = 5), event.created (detection time),
 * rule.id/name/level/author/ruleset/description/reference, threat.* from
 * the rule's attack.* tags, every field of the event, event.original, and
 * when asked canh.matched (the tests that made the rule fire).
 * If the original bytes are not valid UTF-8, event.original shows them with
 * U+FFFD and event.original_base64 keeps the exact bytes.
 *
 * Ownership: the formatter owns its buffers and reuses them per alert.
 * Thread: one formatter per thread.
 */
#ifndef CANH_ALERT_H
#define CANH_ALERT_H

#include "../engine/detect/rule.h"
#include "json.h"

typedef struct canh_alert_fmt {
    canh_buf_t out;       /* the last alert, without newline */
    canh_jobj_t obj;
    canh_buf_t scratch;   /* values built for this alert (threat ids, times) */
    canh_buf_t matched;   /* canh.matched of the next alert: a JSON array the caller
                             writes into it (engine/explain.c), or empty for none;
                             canh_alert_format adds it and empties it */
} canh_alert_fmt_t;

void canh_alert_fmt_init(canh_alert_fmt_t *f);
void canh_alert_fmt_free(canh_alert_fmt_t *f);

/*
 * Renders the rule's own part of its alerts (rule.*, threat.*) once, into
 * r->alert_json, so each alert only splices it in. Call at load time,
 * before the rule is shared between threads. Without it, alerts still
 * carry the same fields, built per alert.
 */
int canh_alert_prepare(canh_rule_t *r);

/* Formats the alert into f->out (replacing what was there). now_ms: detection time. */
int canh_alert_format(canh_alert_fmt_t *f, const canh_rule_t *rule,
                      const canh_event_t *ev, int64_t now_ms);

/* MITRE ATT&CK tactic id and display name for a Sigma tag suffix ("credential-access"). */
int canh_attack_tactic(const char *tag, const char **id, const char **name);

#endif
