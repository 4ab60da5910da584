/*
 * sinks/alert.h -- one alert as one JSON object (a line in files, a message
 * in Kafka), in the shape an Elasticsearch or OpenSearch index with the
 * ECS 9.4 template accepts.
 *
 * Fields: @timestamp (the event's time), event.kind "alert",
 * event.severity (1-5, critical = 5), event.created (detection time),
 * event.dataset (the event's most specific dataset; all of them in
 * canh.datasets), event.id (below), rule.id/name/level/author/ruleset
 * (the pack)/description/reference, canh.rule.file, threat.* from the
 * rule's attack.* tags, tags, ecs.version, observer.* (this canh), where
 * the event came from (log.file.path and log.offset, log.source.address,
 * canh.input.name/type, canh.kafka.topic/partition/offset), every field of
 * the event, event.original, and when asked canh.matched (the tests that
 * made the rule fire). If the original bytes are not valid
 * UTF-8, event.original shows them with U+FFFD and event.original_base64
 * keeps the exact bytes.
 *
 * Every field has ECS's type (engine/event.h): a value that does not fit
 * (a port "abc", an ip "evil.example") goes to canh.invalid.<field>
 * instead; a JSON null is written as null. Payload keys are under
 * canh.payload (parsers/payload.c), and no name that canh writes itself
 * is taken from the event.
 *
 * event.id: 32 hex digits, the first 128 bits of a SHA-256 over where the
 * event came from and the rule's id: for a file, canh's name
 * (observer.name), the input, the path, the file's device and inode and
 * the line's byte offset; for Kafka, the input, topic, partition and
 * offset (so every member of a group gives the same id); for a network
 * sender, canh's name, the input, the sender's address and port, when
 * canh started, the connection and the message's number in it; for stdin,
 * canh's name, the input, the position and the event's bytes. So the
 * same event and rule give the same id however often it is read again
 * (after a crash, a second scan of the file), and two identical lines
 * give two ids.
 *
 * Ownership: the formatter owns its buffers and reuses them per alert.
 * Thread: one formatter per thread. canh_alert_set_observer at start-up,
 * before any formatter runs.
 */
#ifndef CANH_ALERT_H
#define CANH_ALERT_H

#include "../engine/detect/rule.h"
#include "json.h"

#define CANH_ECS_VERSION "9.4.0"   /* the ECS of tests/ecs/ecs_types.tsv */
#define CANH_EVENT_ID_LEN 32

typedef struct canh_alert_fmt {
    canh_buf_t out;       /* the last alert, without newline */
    canh_jobj_t obj;
    canh_buf_t scratch;   /* values built for this alert (threat ids, times) */
    canh_buf_t matched;   /* canh.matched of the next alert: a JSON array the caller
                             writes into it (engine/explain.c), or empty for none;
                             canh_alert_format adds it and empties it */
    void *md_local;       /* SHA-256 states for event.id: what every local id starts with, */
    void *md_any;         /* ... and what an id that does not cover canh's name does */
    unsigned md_gen;      /* the observer name those two were made for */
    uint64_t ds_mask;     /* the datasets last rendered ... */
    canh_buf_t ds_json;   /* ... as canh.datasets (JSON) */
    const char *ds_one;   /* ... and their event.dataset */
} canh_alert_fmt_t;

/*
 * This canh's name in alerts (observer.name; NULL or "": its host name,
 * which observer.hostname always is). Start-up only: before any formatter
 * runs. CANH_ENOMEM, or CANH_OK.
 */
int canh_alert_set_observer(const char *name);

void canh_alert_fmt_init(canh_alert_fmt_t *f);
void canh_alert_fmt_free(canh_alert_fmt_t *f);

/*
 * Renders the rule's own part of its alerts (rule.*, threat.*) once, into
 * r->alert_json, so each alert only splices it in. Call at load time,
 * before the rule is shared between threads. Without it, alerts still
 * carry the same fields, built per alert.
 */
int canh_alert_prepare(canh_rule_t *r);

/* Formats the alert into f->out (replacing what was there). now_ms:
 * detection time. origin: where the event came from (NULL: not known; the
 * id then covers the event's bytes). */
int canh_alert_format_at(canh_alert_fmt_t *f, const canh_rule_t *rule,
                         const canh_event_t *ev, int64_t now_ms, const canh_origin_t *origin);
int canh_alert_format(canh_alert_fmt_t *f, const canh_rule_t *rule,
                      const canh_event_t *ev, int64_t now_ms);

/* The event.id of an alert (CANH_EVENT_ID_LEN hex digits, no NUL), as
 * canh_alert_format_at writes it. */
void canh_alert_event_id(canh_alert_fmt_t *f, const canh_rule_t *rule, const canh_event_t *ev,
                         const canh_origin_t *origin, char out[CANH_EVENT_ID_LEN]);

/* The one dataset of event.dataset: the most specific of the event's. */
const char *canh_alert_dataset(uint64_t datasets);

/* MITRE ATT&CK tactic id and display name for a Sigma tag suffix ("credential-access"). */
int canh_attack_tactic(const char *tag, const char **id, const char **name);

#endif
