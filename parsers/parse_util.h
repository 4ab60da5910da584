/*
 * parsers/parse_util.h -- helpers shared by the parser files only (not a
 * public interface): time stamps, IP checks, field shortcuts, and the
 * extended syslog entry point that also tells the dispatcher where the
 * program name and the message are.
 *
 * Ownership: everything writes into the event's arena or borrows the line.
 * Thread: any; no shared state (zones are read-only; the event's converter
 * is its parser's).
 */
#ifndef CANH_PARSE_UTIL_H
#define CANH_PARSE_UTIL_H

#include "parse.h"

/* What the syslog stage found, for decoder dispatch. */
typedef struct canh_syslog_info {
    canh_slice_t prog;   /* tag / APP-NAME; len 0 if none */
    canh_slice_t msg;    /* the message (borrows the line) */
    int is_syslog;       /* a syslog header was recognised */
} canh_syslog_info_t;

int canh_syslog_parse_info(canh_event_t *ev, const char *line, size_t len,
                           const canh_parse_opts_t *opts, canh_syslog_info_t *info);

/*
 * ISO 8601 / RFC 3339 stamp "YYYY-MM-DDTHH:MM:SS[.frac][Z|+hh:mm|+hhmm]".
 * On success returns the bytes used and sets *ms (UTC if a zone was given,
 * else the wall-clock value as if UTC) and *has_zone. Returns 0 if no stamp.
 */
size_t canh_iso8601_parse(const char *p, size_t n, int64_t *ms, int *has_zone);

/* A zone-less stamp (its wall-clock fields read as if UTC, in ms) to UTC ms,
 * in the event's zone (ev->tz, the parser's converter; NULL: UTC). */
static inline int64_t canh_local_to_utc(canh_event_t *ev, int64_t wall_ms)
{
    return ev->tz ? canh_tzconv_to_utc(ev->tz, wall_ms) : wall_ms;
}

/* Sets ev->ts_ms and @timestamp ("2015-03-27T13:06:56.000Z", in the arena).
 * A time outside the years 0000 to 9999 (UTC), which @timestamp cannot
 * say, sets nothing: CANH_EPARSE, and the caller counts the stamp broken. */
#define CANH_TS_MIN_MS (-62167219200000LL)   /* 0000-01-01T00:00:00.000Z */
#define CANH_TS_MAX_MS 253402300799999LL     /* 9999-12-31T23:59:59.999Z */
int canh_event_set_ts(canh_event_t *ev, int64_t ms);

/* An IPv4 or IPv6 literal (shape only, no allocation). */
int canh_addr_is_ip(canh_slice_t s);

/* source.ip when the text is an address, else source.domain; ignores "". */
void canh_add_source(canh_event_t *ev, canh_slice_t s);

int canh_slice_is_digits(canh_slice_t s);

/* Finds needle in [p, p+n); NULL if absent. */
static inline const char *canh_find(const char *p, size_t n, const char *needle, size_t nl)
{
    return nl <= n ? memmem(p, n, needle, nl) : NULL;
}

static inline int canh_has_prefix(const char *p, size_t n, const char *lit, size_t litlen)
{
    return n >= litlen && memcmp(p, lit, litlen) == 0;
}
#define CANH_PREFIX(p, n, lit) canh_has_prefix((p), (n), (lit), sizeof(lit) - 1)

static inline int canh_is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* A cursor over a message, for the decoders' hand-written scanners. */
typedef struct cur {
    const char *p;
    size_t n;
} cur_t;

/* Consumes lit if the cursor starts with it. */
static inline int canh_cur_eat(cur_t *c, const char *lit, size_t ln)
{
    if (c->n < ln || memcmp(c->p, lit, ln) != 0)
        return 0;
    c->p += ln;
    c->n -= ln;
    return 1;
}
#define EAT(c, lit) canh_cur_eat((c), (lit), sizeof(lit) - 1)

/*
 * A payload key (a JSON path joined with dots, or a key=value key) and its
 * value: onto the ECS field of that name if event.h marks it P, the event
 * has none yet and the value fits; else as canh.payload.<key> (see
 * parsers/payload.c). flags: CANH_FIELD_NUMBER, _BOOL, _NULL.
 */
int canh_add_payload(canh_event_t *ev, const char *key, size_t klen, canh_slice_t val,
                     uint16_t flags);
/* prefix + key, in the arena, as a usable field path
 * (canh_field_path_write). {NULL, 0} when out of memory. */
canh_slice_t canh_field_path(canh_arena_t *a, const char *prefix, size_t plen,
                             const char *key, size_t klen);

/* event.action plus, when not NULL, event.outcome, event.category, event.type. */
void canh_set_action(canh_event_t *ev, const char *action, const char *outcome,
                     const char *category, const char *type);

/*
 * Fraction digits at p[*i] (after the '.') as milliseconds: the first three
 * digits count, the rest are skipped; *i moves past all of them.
 */
int canh_frac_ms(const char *p, size_t n, size_t *i);

#define CANH_ADD(ev, id, p, n) canh_event_add((ev), CANH_F_##id, canh_slice((p), (n)))
#define CANH_ADDS(ev, id, lit) canh_event_add((ev), CANH_F_##id, CANH_SLICE(lit))

/*
 * Audit stamp of a record "type=T msg=audit(SEC.MS:SERIAL): ...", also with
 * a leading "node=N ". Returns 0 and fills what is non-NULL, or CANH_EPARSE;
 * or CANH_AUDIT_BAD_TIME for a well-formed record whose SEC is past the
 * year 9999 (CANH_AUDIT_SEC_MAX): serial and type are filled, ms is not.
 */
#define CANH_AUDIT_BAD_TIME 1
#define CANH_AUDIT_SEC_MAX  253402300799LL   /* 9999-12-31T23:59:59Z */
int canh_audit_stamp(canh_slice_t msg, int64_t *ms, uint64_t *serial, canh_slice_t *type);

#endif
