/*
 * parsers/parse.h -- bytes to events: the entry point of the log path.
 *
 * canh_parser_feed() takes one raw log line (no trailing newline) and turns
 * it into zero or more finished events, handed to the emit callback:
 *
 *   1. the syslog header (RFC 5424, RFC 3164 with or without <PRI>, or none:
 *      a line that is not syslog is kept whole as the message);
 *   2. one decoder for the message, chosen by program name (sshd, sudo, su,
 *      useradd ..., auditd) or by shape (an access-log line, a JSON object,
 *      key=value pairs), never by trying every regex;
 *   3. auditd records are grouped by their serial number: the parser holds
 *      them (copied into its own arena) and emits one event per group when
 *      the serial changes, an EOE record arrives, or on flush.
 *
 * The event passed to emit borrows the line and the parser's arena; it is
 * valid only during the callback.
 *
 * Bad input is never fatal: the line is still emitted (whole, as message)
 * and *parse_errors counts what could not be decoded.
 *
 * Thread: a parser belongs to one thread; make one per worker.
 */
#ifndef CANH_PARSE_H
#define CANH_PARSE_H

#include "../engine/event.h"
#include "../engine/tz.h"

/*
 * Time stamps that carry no zone (RFC 3164, ISO 8601 or RFC 5424 without
 * an offset, JSON "@timestamp" without one) are read as wall-clock time in
 * `tz`; those with an offset or "Z" keep it. A year-less RFC 3164 stamp
 * gets default_year, else the latest year that puts it no more than two
 * days after the reference time (both read in `tz`): a December line read
 * in January is last year's, a January line read on December 31 next
 * year's.
 */
typedef struct canh_parse_opts {
    int      default_year;     /* for RFC 3164 stamps; 0 = inferred from reference_ms */
    int64_t  reference_ms;     /* "now" for year inference (e.g. file mtime); 0 = time(NULL) */
    uint64_t extra_datasets;   /* added to every event (from --dataset) */
    const canh_tz_t *tz;       /* zone of zone-less stamps; NULL = UTC. Borrowed: it must
                                  outlive the parser */
} canh_parse_opts_t;

typedef struct canh_parser canh_parser_t;

/* Called for every finished event. Return non-zero to stop feeding. */
typedef int (*canh_emit_fn)(void *ud, canh_event_t *ev);

canh_parser_t *canh_parser_new(const canh_parse_opts_t *opts);
void           canh_parser_free(canh_parser_t *p);
/* New options for the next input; drops a held audit group (flush first). */
void           canh_parser_reset(canh_parser_t *p, const canh_parse_opts_t *opts);

/*
 * The serial of the audit record in a line ("... msg=audit(SEC.MS:SERIAL):"),
 * raw or inside syslog; 0 if the line holds none. A cheap look, for inputs
 * that cut lines into batches and must not split an audit group.
 */
uint64_t canh_line_audit_serial(const char *line, size_t len);

/* Feeds one line; may emit 0, 1 or 2 events (a held auditd group, then this line). */
int canh_parser_feed(canh_parser_t *p, const char *line, size_t len,
                     canh_emit_fn emit, void *ud);
/* The same, with a tag of the caller's for the line (where it came from):
 * an event gets its first line's in ev->line_tag (an audit group: its
 * first record's). canh_parser_feed tags every line 0. */
int canh_parser_feed_at(canh_parser_t *p, const char *line, size_t len, uint64_t tag,
                        canh_emit_fn emit, void *ud);
/* Emits whatever is held (auditd group). Call at end of input. */
int canh_parser_flush(canh_parser_t *p, canh_emit_fn emit, void *ud);

/* Lines that could not be fully decoded so far (the events were still emitted). */
uint64_t canh_parser_errors(const canh_parser_t *p);
/* What the last counted error was ("malformed JSON object" ...): static text. */
const char *canh_parser_last_error(const canh_parser_t *p);

/*
 * Lower-level pieces, exposed for tests and for other inputs.
 * All fill `ev` (which must have an arena) and return CANH_OK or CANH_EPARSE.
 */
int canh_syslog_parse(canh_event_t *ev, const char *line, size_t len,
                      const canh_parse_opts_t *opts);
int canh_decode_sshd(canh_event_t *ev, canh_slice_t msg);
int canh_decode_sudo(canh_event_t *ev, canh_slice_t msg);
int canh_decode_su(canh_event_t *ev, canh_slice_t msg);
int canh_decode_auth(canh_event_t *ev, canh_slice_t prog, canh_slice_t msg); /* pam, useradd, groupadd, usermod, passwd, chpasswd */
int canh_decode_access(canh_event_t *ev, canh_slice_t msg);  /* apache/nginx combined */
/* one record; CANH_AUDIT_BAD_TIME (parse_util.h): decoded, but its time
 * is out of range and was not used */
int canh_decode_auditd(canh_event_t *ev, canh_slice_t msg);
int canh_decode_kv(canh_event_t *ev, canh_slice_t msg);
int canh_decode_json(canh_event_t *ev, canh_slice_t msg);

#endif
