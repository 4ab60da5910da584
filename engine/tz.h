/*
 * engine/tz.h -- time zones from the system's tz database, for the stamps
 * that carry no zone (RFC 3164, ISO 8601 without an offset, JSON
 * "@timestamp" without one).
 *
 * A zone (canh_tz_t) is read once from a TZif file (RFC 8536) under $TZDIR
 * or /usr/share/zoneinfo, Debian's tzdata: its table of transitions, and
 * for the years past the table the POSIX TZ rule of its footer, unrolled
 * over one 400-year Gregorian cycle (the rule repeats with it). It is
 * immutable once loaded: any number of threads may read it at once.
 * Nothing here calls tzset() or reads or writes the process's TZ after
 * canh_tz_load_local().
 *
 * Local wall-clock time to UTC. A time that occurs twice (the hour the
 * clocks go back) is the first of the two; a time that never occurs (the
 * hour they skip) is read with the offset in force before the change, so
 * 02:30 on the day Berlin goes from +01:00 to +02:00 is 01:30 UTC (which
 * is 03:30 there). In both cases: the offset before the transition, as
 * RFC 5545 (3.3.5) says and Python's zoneinfo does with fold=0.
 *
 * A converter (canh_tzconv_t) is one thread's view of one zone: it keeps
 * the wall-clock interval of its last answer, so that logs in time order
 * cost one comparison per stamp and a binary search at each change of
 * offset. It belongs to its thread (one per parser); the zone it reads
 * must outlive it.
 */
#ifndef CANH_TZ_H
#define CANH_TZ_H

#include "canh.h"

typedef struct canh_tz canh_tz_t;

/*
 * Loads the zone `name` ("Asia/Ho_Chi_Minh", "Europe/Berlin", "UTC"), an
 * IANA name relative to $TZDIR (default /usr/share/zoneinfo). Returns 0,
 * CANH_ENOENT (no such zone; err names it, the folder, and a close name
 * when there is one), CANH_EINVAL (not a zone name, or not a TZif file),
 * CANH_ENOTSUP (a zone that counts leap seconds, "right/..."), CANH_EIO or
 * CANH_ENOMEM. "UTC" and "Etc/UTC" work without tzdata.
 */
int canh_tz_load(canh_tz_t **out, const char *name, char *err, size_t errlen);

/*
 * The machine's zone, as the C library and rsyslog and syslog-ng take it:
 * $TZ when it is set (a zone name, ":name", an absolute path to a TZif
 * file, or a POSIX TZ string such as "<+07>-7"; empty: UTC), else
 * /etc/localtime (its name is read from the link: "Asia/Ho_Chi_Minh"),
 * else UTC. Errors as canh_tz_load, naming $TZ.
 */
int canh_tz_load_local(canh_tz_t **out, char *err, size_t errlen);

/* A zone from a POSIX TZ string ("CET-1CEST,M3.5.0,M10.5.0/3"). */
int canh_tz_from_posix(canh_tz_t **out, const char *spec, char *err, size_t errlen);

/* UTC, always there (not to be freed; canh_tz_free ignores it). */
const canh_tz_t *canh_tz_utc(void);

void canh_tz_free(canh_tz_t *tz);

/* The name it was loaded by ("Asia/Ho_Chi_Minh", "UTC", "TZ=<+07>-7"). */
const char *canh_tz_name(const canh_tz_t *tz);

/* Seconds east of UTC in force at the UTC instant utc_s. */
int32_t canh_tz_offset(const canh_tz_t *tz, int64_t utc_s);

/* Wall-clock seconds (as if UTC) to UTC seconds, with the answers for
 * repeated and skipped times given above. Uncached: for tests and
 * set-up; the parsers use a converter. */
int64_t canh_tz_wall_to_utc(const canh_tz_t *tz, int64_t wall_s);

typedef struct canh_tzconv {
    int64_t lo_ms, hi_ms;       /* wall-clock ms [lo, hi) where off_ms holds */
    int64_t off_ms;
    const canh_tz_t *tz;        /* borrowed */
    int64_t ref_utc_ms;         /* the last reference time asked for ... */
    int64_t ref_wall_ms;        /* ... and its wall-clock time */
} canh_tzconv_t;

/* tz NULL: UTC. */
void canh_tzconv_init(canh_tzconv_t *c, const canh_tz_t *tz);

int64_t canh_tzconv_slow(canh_tzconv_t *c, int64_t wall_ms);

/* Wall-clock ms (the stamp's fields read as if UTC) to UTC ms. */
static inline int64_t canh_tzconv_to_utc(canh_tzconv_t *c, int64_t wall_ms)
{
    if (wall_ms >= c->lo_ms && wall_ms < c->hi_ms)
        return wall_ms - c->off_ms;
    return canh_tzconv_slow(c, wall_ms);
}

/* UTC ms to wall-clock ms in the converter's zone (the reference time of
 * year inference); the last answer is kept. */
int64_t canh_tzconv_to_wall(canh_tzconv_t *c, int64_t utc_ms);

#endif
