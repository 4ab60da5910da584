/*
 * engine/tz.c -- time zones: TZif files (RFC 8536) and POSIX TZ strings
 * read into immutable tables, and local wall-clock time to UTC.
 *
 * Why canh reads TZif itself: the C library has no zone object (only the
 * process-wide TZ, which one thread cannot change under the others), GLib's
 * GTimeZone ignores the TZ footer past the table, and ICU carries its own
 * copy of the tz data (2022e in Debian 12, while tzdata gets the updates).
 * syslog-ng, cctz and Python's zoneinfo read the same files the same way.
 *
 * A zone is one sorted table of transitions: UTC second, offset in force
 * from then on, and the wall-clock second from which that offset is the
 * answer for a wall-clock time (the transition plus the larger of the two
 * offsets: below it, the repeated or skipped hour is read with the offset
 * before, see tz.h). Past the file's own table the footer's rule is
 * unrolled over 401 years, and any later time is folded back into that
 * window by whole 400-year cycles (146,097 days, which are whole weeks, so
 * every "last Sunday of March" falls the same). A zone made only of a
 * POSIX string folds the times before its window too.
 *
 * Ownership: canh_tz_load* return zones the caller frees; a converter
 * borrows its zone. Thread: loading at start-up (it may read $TZ, $TZDIR
 * and files); zones are read-only afterwards, shared by every thread; a
 * converter belongs to one thread.
 */
#include "tz.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#define TZ_FILE_MAX (256 * 1024)              /* the largest zone in tzdata is ~4 KiB */
#define CYCLE_S ((int64_t)146097 * 86400)     /* 400 Gregorian years */
#define NO_TIME INT64_MIN

struct canh_tz {
    char *name;
    size_t n;              /* transitions */
    int64_t *utc;          /* when each takes effect (UTC s), ascending */
    int64_t *wall;         /* from which wall-clock s its offset is the answer */
    int32_t *off;          /* seconds east of UTC from utc[k] on */
    int32_t off0;          /* before the first transition */
    int fold_up;           /* times >= win_hi are folded into [win_lo, win_hi) */
    int fold_down;         /* and times < win_lo too (a POSIX string alone) */
    int64_t win_lo, win_hi;
};

static const canh_tz_t utc_zone = { .name = (char *)"UTC" };

const canh_tz_t *canh_tz_utc(void)
{
    return &utc_zone;
}

void canh_tz_free(canh_tz_t *tz)
{
    if (!tz || tz == &utc_zone)
        return;
    free(tz->name);
    free(tz->utc);
    free(tz->wall);
    free(tz->off);
    free(tz);
}

const char *canh_tz_name(const canh_tz_t *tz)
{
    return tz ? tz->name : "UTC";
}

/* ---- civil dates (proleptic Gregorian) ---- */

static int64_t floor_div(int64_t a, int64_t b)
{
    return a >= 0 ? a / b : -((-a + b - 1) / b);
}

static int64_t floor_mod(int64_t a, int64_t b)
{
    return a - floor_div(a, b) * b;
}

static int is_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int64_t year_of_s(int64_t s)
{
    int64_t days = floor_div(s, 86400);
    int64_t y = 1970 + floor_div(days * 400, 146097);   /* within a year of the answer */
    while (canh_days_from_civil(y, 1, 1) > days)
        y--;
    while (canh_days_from_civil(y + 1, 1, 1) <= days)
        y++;
    return y;
}

/* ---- POSIX TZ strings ("CET-1CEST,M3.5.0,M10.5.0/3") ---- */

typedef struct rule {
    char kind;             /* 'J' Jn (1..365, no Feb 29), 'D' n (0..365), 'M' Mm.w.d */
    int n, m, w, d;
    int32_t secs;          /* local time of day (may be < 0 or > 24 h: RFC 8536 3.3.1) */
} rule_t;

typedef struct posix {
    int32_t std_off, dst_off;   /* seconds east of UTC */
    int has_dst;
    rule_t start, end;          /* into DST (in standard time), out of it (in DST) */
} posix_t;

static int p_name(const char **pp)
{
    const char *p = *pp;
    size_t n = 0;
    if (*p == '<') {
        p++;
        while (isalnum((unsigned char)p[n]) || p[n] == '+' || p[n] == '-')
            n++;
        if (p[n] != '>' || n < 3)
            return -1;
        *pp = p + n + 1;
        return 0;
    }
    while (isalpha((unsigned char)p[n]))
        n++;
    if (n < 3)
        return -1;
    *pp = p + n;
    return 0;
}

/* [+-]hh[:mm[:ss]] with hh <= max_h, as signed seconds. */
static int p_hms(const char **pp, int max_h, int32_t *out)
{
    const char *p = *pp;
    int sign = 1;
    if (*p == '+' || *p == '-')
        sign = *p++ == '-' ? -1 : 1;
    if (!isdigit((unsigned char)*p))
        return -1;
    int h = 0, mi = 0, s = 0, digits = 0;
    while (isdigit((unsigned char)*p) && digits < 3) {
        h = h * 10 + (*p++ - '0');
        digits++;
    }
    if (h > max_h || isdigit((unsigned char)*p))
        return -1;
    if (*p == ':') {
        p++;
        if (!isdigit((unsigned char)p[0]) || !isdigit((unsigned char)p[1]))
            return -1;
        mi = (p[0] - '0') * 10 + (p[1] - '0');
        p += 2;
        if (*p == ':') {
            p++;
            if (!isdigit((unsigned char)p[0]) || !isdigit((unsigned char)p[1]))
                return -1;
            s = (p[0] - '0') * 10 + (p[1] - '0');
            p += 2;
        }
        if (mi > 59 || s > 59)
            return -1;
    }
    *out = sign * ((h * 60 + mi) * 60 + s);
    *pp = p;
    return 0;
}

static int p_num(const char **pp, int lo, int hi, int *out)
{
    const char *p = *pp;
    int v = 0, digits = 0;
    while (isdigit((unsigned char)*p) && digits < 4) {
        v = v * 10 + (*p++ - '0');
        digits++;
    }
    if (!digits || v < lo || v > hi)
        return -1;
    *out = v;
    *pp = p;
    return 0;
}

static int p_rule(const char **pp, rule_t *r)
{
    const char *p = *pp;
    if (*p == 'J') {
        p++;
        r->kind = 'J';
        if (p_num(&p, 1, 365, &r->n))
            return -1;
    } else if (*p == 'M') {
        p++;
        r->kind = 'M';
        if (p_num(&p, 1, 12, &r->m) || *p++ != '.' || p_num(&p, 1, 5, &r->w) || *p++ != '.' ||
            p_num(&p, 0, 6, &r->d))
            return -1;
    } else {
        r->kind = 'D';
        if (p_num(&p, 0, 365, &r->n))
            return -1;
    }
    r->secs = 2 * 3600;
    if (*p == '/') {
        p++;
        if (p_hms(&p, 167, &r->secs))
            return -1;
    }
    *pp = p;
    return 0;
}

static int posix_parse(const char *s, posix_t *z)
{
    const char *p = s;
    int32_t v;
    memset(z, 0, sizeof(*z));
    if (p_name(&p) || p_hms(&p, 24, &v))
        return -1;
    z->std_off = -v;                       /* POSIX counts hours west */
    if (!*p) {
        z->dst_off = z->std_off;
        return 0;
    }
    if (p_name(&p))
        return -1;
    z->has_dst = 1;
    z->dst_off = z->std_off + 3600;
    if (*p && *p != ',') {
        if (p_hms(&p, 24, &v))
            return -1;
        z->dst_off = -v;
    }
    if (!*p) {
        /* no rule: the C library's default, the United States' since 2007 */
        const char *dflt = "M3.2.0,M11.1.0";
        p_rule(&dflt, &z->start);
        dflt++;
        return p_rule(&dflt, &z->end);
    }
    if (*p++ != ',' || p_rule(&p, &z->start) || *p++ != ',' || p_rule(&p, &z->end) || *p)
        return -1;
    return 0;
}

/* When rule r takes effect in year y, in UTC seconds, with off in force before it. */
static int64_t rule_utc(const rule_t *r, int64_t y, int32_t off)
{
    int64_t day;
    if (r->kind == 'J') {
        day = canh_days_from_civil(y, 1, 1) + r->n - 1 + (is_leap(y) && r->n >= 60);
    } else if (r->kind == 'D') {
        day = canh_days_from_civil(y, 1, 1) + r->n;
    } else {
        static const int mdays[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
        int64_t first = canh_days_from_civil(y, (unsigned)r->m, 1);
        int wd = (int)floor_mod(first + 4, 7);    /* 1970-01-01 was a Thursday */
        int dim = mdays[r->m - 1] + (r->m == 2 && is_leap(y));
        int dom = (r->d - wd + 7) % 7 + (r->w - 1) * 7;
        while (dom >= dim)
            dom -= 7;
        day = first + dom;
    }
    return day * 86400 + r->secs - off;
}

/* ---- building a zone ---- */

typedef struct builder {
    int64_t *utc;
    int32_t *off;
    size_t n, cap;
    int oom;
} builder_t;

static void push(builder_t *b, int64_t t, int32_t off)
{
    if (b->n && t <= b->utc[b->n - 1]) {
        if (t == b->utc[b->n - 1])
            b->off[b->n - 1] = off;            /* the later rule wins */
        return;
    }
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 64;
        int64_t *u = realloc(b->utc, cap * sizeof(*u));
        if (u)
            b->utc = u;
        int32_t *o = realloc(b->off, cap * sizeof(*o));
        if (o)
            b->off = o;
        if (!u || !o) {
            b->oom = 1;
            return;
        }
        b->cap = cap;
    }
    b->utc[b->n] = t;
    b->off[b->n] = off;
    b->n++;
}

/* The footer's transitions for years y0 .. y1, after `after` (UTC s). */
static void unroll(builder_t *b, const posix_t *z, int64_t y0, int64_t y1, int64_t after)
{
    for (int64_t y = y0; y <= y1; y++) {
        int64_t s = rule_utc(&z->start, y, z->std_off);
        int64_t e = rule_utc(&z->end, y, z->dst_off);
        int64_t t1 = s < e ? s : e, t2 = s < e ? e : s;
        int32_t o1 = s < e ? z->dst_off : z->std_off, o2 = s < e ? z->std_off : z->dst_off;
        if (t1 > after)
            push(b, t1, o1);
        if (t2 > after)
            push(b, t2, o2);
    }
}

/* Drops transitions that change nothing, adds the wall-clock points, and
 * moves the builder's arrays into tz. */
static int finish(canh_tz_t *tz, builder_t *b)
{
    size_t k = 0;
    int32_t prev = tz->off0;
    for (size_t i = 0; i < b->n; i++) {
        if (b->off[i] == prev)
            continue;
        b->utc[k] = b->utc[i];
        b->off[k] = b->off[i];
        prev = b->off[i];
        k++;
    }
    tz->n = k;
    tz->utc = b->utc;
    tz->off = b->off;
    b->utc = NULL;
    b->off = NULL;
    if (!k)
        return CANH_OK;
    if (!(tz->wall = malloc(k * sizeof(*tz->wall))))
        return CANH_ENOMEM;
    prev = tz->off0;
    for (size_t i = 0; i < k; i++) {
        int32_t hi = tz->off[i] > prev ? tz->off[i] : prev;
        int64_t w = tz->utc[i] + hi;
        tz->wall[i] = i && w < tz->wall[i - 1] ? tz->wall[i - 1] : w;
        prev = tz->off[i];
    }
    return CANH_OK;
}

static canh_tz_t *tz_new(const char *name)
{
    canh_tz_t *tz = calloc(1, sizeof(*tz));
    if (tz && !(tz->name = strdup(name))) {
        free(tz);
        return NULL;
    }
    return tz;
}

/* After the table (or for a string alone): the footer's rule. */
static void add_footer(canh_tz_t *tz, builder_t *b, const posix_t *z, int have_table)
{
    if (!z->has_dst) {
        if (b->n)       /* from the last transition on (a consistent file changes nothing) */
            push(b, b->utc[b->n - 1], z->std_off);
        else
            tz->off0 = z->std_off;
        return;
    }
    int64_t last = have_table && b->n ? b->utc[b->n - 1] : NO_TIME;
    int64_t y0 = last == NO_TIME ? 1970 : year_of_s(last);
    if (last == NO_TIME)
        tz->off0 = z->std_off;
    unroll(b, z, y0, y0 + 401, last);
    tz->fold_up = 1;
    tz->fold_down = last == NO_TIME;
    tz->win_lo = canh_days_from_civil(y0 + 1, 1, 1) * 86400;
    tz->win_hi = tz->win_lo + CYCLE_S;
}

int canh_tz_from_posix(canh_tz_t **out, const char *spec, char *err, size_t errlen)
{
    posix_t z;
    *out = NULL;
    if (!spec || posix_parse(spec, &z)) {
        snprintf(err, errlen, "'%s' is not a POSIX TZ string (such as <+07>-7 or "
                 "CET-1CEST,M3.5.0,M10.5.0/3)", spec ? spec : "");
        return CANH_EINVAL;
    }
    char name[300];
    snprintf(name, sizeof(name), "TZ=%s", spec);
    canh_tz_t *tz = tz_new(name);
    builder_t b = { 0 };
    if (tz)
        add_footer(tz, &b, &z, 0);
    if (!tz || b.oom || finish(tz, &b)) {
        free(b.utc);
        free(b.off);
        canh_tz_free(tz);
        snprintf(err, errlen, "out of memory");
        return CANH_ENOMEM;
    }
    *out = tz;
    return CANH_OK;
}

/* ---- TZif (RFC 8536) ---- */

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t be64(const unsigned char *p)
{
    return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

typedef struct hdr {
    uint32_t isut, isstd, leap, time, type, chars;
} hdr_t;

static int read_hdr(const unsigned char *p, size_t n, hdr_t *h)
{
    if (n < 44 || memcmp(p, "TZif", 4) != 0)
        return -1;
    h->isut = be32(p + 20);
    h->isstd = be32(p + 24);
    h->leap = be32(p + 28);
    h->time = be32(p + 32);
    h->type = be32(p + 36);
    h->chars = be32(p + 40);
    if (h->type == 0 || h->type > 256 || h->time > 100000 || h->chars > 65536 ||
        h->leap > 100000 || (h->isut && h->isut != h->type) || (h->isstd && h->isstd != h->type))
        return -1;
    return 0;
}

static size_t block_len(const hdr_t *h, size_t tsize)
{
    return h->time * tsize + h->time + h->type * 6 + h->chars + h->leap * (tsize + 4) +
           h->isstd + h->isut;
}

/* Parses a TZif file's bytes into tz; a sentence into why on failure. */
static int tzif_parse(canh_tz_t *tz, const unsigned char *p, size_t n, char *why, size_t wl)
{
    hdr_t h;
    if (read_hdr(p, n, &h)) {
        snprintf(why, wl, "not a TZif time zone file");
        return CANH_EINVAL;
    }
    int version = p[4] ? p[4] - '0' : 1;
    size_t tsize = 4;
    const unsigned char *d = p + 44;
    if (version >= 2) {                   /* skip the 32-bit block, read the 64-bit one */
        size_t skip = block_len(&h, 4);
        if (44 + skip > n || read_hdr(d + skip, n - 44 - skip, &h)) {
            snprintf(why, wl, "a damaged TZif file (its second header)");
            return CANH_EINVAL;
        }
        d += skip + 44;
        tsize = 8;
    }
    size_t need = block_len(&h, tsize);
    if ((size_t)(d - p) + need > n) {
        snprintf(why, wl, "a damaged TZif file (shorter than its header says)");
        return CANH_EINVAL;
    }
    if (h.leap) {
        snprintf(why, wl, "a zone that counts leap seconds (a 'right/' zone); canh reads "
                 "POSIX time: use the zone's name without 'right/'");
        return CANH_ENOTSUP;
    }
    const unsigned char *times = d, *idx = d + h.time * tsize, *types = idx + h.time;
    int32_t toff[256];
    for (uint32_t i = 0; i < h.type; i++) {
        int32_t o = (int32_t)be32(types + 6 * i);
        if (o < -25 * 3600 || o > 26 * 3600) {
            snprintf(why, wl, "a damaged TZif file (an offset of %d s)", (int)o);
            return CANH_EINVAL;
        }
        toff[i] = o;
    }
    tz->off0 = toff[0];
    builder_t b = { 0 };
    int64_t prev = NO_TIME;
    for (uint32_t i = 0; i < h.time; i++) {
        int64_t t = tsize == 8 ? be64(times + 8 * i) : (int32_t)be32(times + 4 * i);
        if (idx[i] >= h.type || (prev != NO_TIME && t <= prev) || t < -((int64_t)1 << 60) ||
            t > ((int64_t)1 << 40)) {      /* zic's earliest is -2^59; 2^40 s is year 36812 */
            free(b.utc);
            free(b.off);
            snprintf(why, wl, "a damaged TZif file (transition %u)", i);
            return CANH_EINVAL;
        }
        push(&b, t, toff[idx[i]]);
        prev = t;
    }
    /* version 2 on: the footer, "\n" POSIX-TZ-string "\n" (the string may be empty) */
    const unsigned char *f = d + need;
    if (version >= 2) {
        const unsigned char *e = f < p + n && *f == '\n'
                               ? memchr(f + 1, '\n', (size_t)(p + n - f - 1)) : NULL;
        char spec[256];
        size_t sl = e ? (size_t)(e - f - 1) : 0;
        posix_t z;
        if (!e || sl >= sizeof(spec)) {
            free(b.utc);
            free(b.off);
            snprintf(why, wl, "a damaged TZif file (no footer)");
            return CANH_EINVAL;
        }
        memcpy(spec, f + 1, sl);
        spec[sl] = '\0';
        if (sl && posix_parse(spec, &z)) {
            free(b.utc);
            free(b.off);
            snprintf(why, wl, "a damaged TZif file (its TZ rule '%s')", spec);
            return CANH_EINVAL;
        }
        if (sl)
            add_footer(tz, &b, &z, 1);
    }
    int rc = b.oom ? CANH_ENOMEM : finish(tz, &b);
    free(b.utc);
    free(b.off);
    if (rc)
        snprintf(why, wl, "out of memory");
    return rc;
}

static const char *tz_dir(void)
{
    const char *d = getenv("TZDIR");
    return d && *d ? d : "/usr/share/zoneinfo";
}

static int valid_name(const char *s)
{
    size_t n = strlen(s);
    if (!n || n > 255 || s[0] == '/' || s[0] == '.' || s[n - 1] == '/')
        return 0;
    for (const char *p = s; *p; p++) {
        if (!isalnum((unsigned char)*p) && !strchr("/_+-.", *p))
            return 0;
        if (p[0] == '/' && (p[1] == '.' || p[1] == '/'))
            return 0;                              /* no "..", "./" or "//" parts */
    }
    return 1;
}

/* Reads a whole small file; CANH_ENOENT, CANH_EINVAL (a folder, too big), CANH_EIO. */
static int slurp(const char *path, unsigned char **buf, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT || errno == ENOTDIR ? CANH_ENOENT : CANH_EIO;
    struct stat st;
    if (fstat(fd, &st) != 0) {
        close(fd);
        return CANH_EIO;
    }
    if (!S_ISREG(st.st_mode) || st.st_size > TZ_FILE_MAX) {
        close(fd);
        return CANH_EINVAL;
    }
    unsigned char *b = malloc((size_t)st.st_size + 1);
    size_t got = 0;
    while (b && got < (size_t)st.st_size) {
        ssize_t r = read(fd, b + got, (size_t)st.st_size - got);
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    if (!b)
        return CANH_ENOMEM;
    if (got != (size_t)st.st_size) {
        free(b);
        return CANH_EIO;
    }
    *buf = b;
    *len = got;
    return CANH_OK;
}

static int load_path(canh_tz_t **out, const char *path, const char *name, char *why, size_t wl)
{
    unsigned char *buf;
    size_t len;
    int rc = slurp(path, &buf, &len);
    struct stat st;
    if (rc == CANH_EINVAL && stat(path, &st) == 0 && S_ISDIR(st.st_mode))
        snprintf(why, wl, "%s is a folder of zones, not a zone", path);
    else if (rc == CANH_EINVAL)
        snprintf(why, wl, "%s is not a time zone file", path);
    else if (rc == CANH_EIO)
        snprintf(why, wl, "cannot read %s: %s", path, strerror(errno));
    else if (rc == CANH_ENOMEM)
        snprintf(why, wl, "out of memory");
    if (rc)
        return rc;
    canh_tz_t *tz = tz_new(name);
    if (!tz) {
        free(buf);
        snprintf(why, wl, "out of memory");
        return CANH_ENOMEM;
    }
    rc = tzif_parse(tz, buf, len, why, wl);
    free(buf);
    if (rc) {
        canh_tz_free(tz);
        return rc;
    }
    *out = tz;
    return CANH_OK;
}


/* The closest zone name in tzdata's own list (tzdata.zi: "Z name ...",
 * "L target name"), for "did you mean"; "" when none is close. Spaces and
 * underscores count alike ("Ho Chi Minh"). */
static void suggest(const char *name, char *buf, size_t len)
{
    char path[4096], line[512], want[64], cand[64];
    buf[0] = '\0';
    if (strlen(name) >= sizeof(want))
        return;
    snprintf(want, sizeof(want), "%s", name);
    for (char *p = want; *p; p++)
        if (*p == ' ')
            *p = '_';
    snprintf(path, sizeof(path), "%s/tzdata.zi", tz_dir());
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    size_t best = strlen(want) <= 7 ? 2 : 3;   /* at most 1 or 2 edits */
    while (fgets(line, sizeof(line), f)) {
        const char *s;
        if (line[0] == 'Z' && line[1] == ' ')
            s = line + 2;
        else if (line[0] == 'L' && line[1] == ' ' && (s = strchr(line + 2, ' ')))
            s++;
        else
            continue;
        size_t n = strcspn(s, " \n");
        if (n >= sizeof(cand))
            continue;
        memcpy(cand, s, n);
        cand[n] = '\0';
        size_t dist = canh_edit_distance(want, cand);
        if (dist < best) {
            best = dist;
            snprintf(buf, len, "%s", cand);
        }
    }
    fclose(f);
}

int canh_tz_load(canh_tz_t **out, const char *name, char *err, size_t errlen)
{
    *out = NULL;
    if (!name || !valid_name(name)) {
        char close_name[64] = "";
        if (name)
            suggest(name, close_name, sizeof(close_name));
        if (close_name[0])
            snprintf(err, errlen, "'%s' is not a time zone name (did you mean '%s'?)", name,
                     close_name);
        else
            snprintf(err, errlen, "'%s' is not a time zone name (IANA names look like "
                     "Asia/Ho_Chi_Minh, Europe/Berlin or UTC)", name ? name : "");
        return CANH_EINVAL;
    }
    char path[4096], why[400];
    const char *dir = tz_dir();
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    int rc = load_path(out, path, name, why, sizeof(why));
    if (rc == CANH_ENOENT && (!strcmp(name, "UTC") || !strcmp(name, "Etc/UTC"))) {
        canh_tz_t *tz = tz_new(name);            /* UTC needs no tzdata */
        if (!tz) {
            snprintf(err, errlen, "out of memory");
            return CANH_ENOMEM;
        }
        *out = tz;
        return CANH_OK;
    }
    if (rc == CANH_ENOENT) {
        struct stat st;
        char close_name[64];
        if (stat(dir, &st) != 0) {
            snprintf(err, errlen, "unknown time zone '%s': there is no tz database in %s "
                     "(install Debian's tzdata package)", name, dir);
            return CANH_ENOENT;
        }
        suggest(name, close_name, sizeof(close_name));
        if (close_name[0])
            snprintf(err, errlen, "unknown time zone '%s' (did you mean '%s'?)", name,
                     close_name);
        else
            snprintf(err, errlen, "unknown time zone '%s': no such zone in %s (IANA names "
                     "look like Asia/Ho_Chi_Minh, Europe/Berlin or UTC)", name, dir);
        return CANH_ENOENT;
    }
    if (rc)
        snprintf(err, errlen, "time zone '%s': %s", name, why);
    return rc;
}

/* The zone's name from the /etc/localtime link ("../usr/share/zoneinfo/Asia/Ho_Chi_Minh"). */
static void link_name(const char *path, char *buf, size_t len)
{
    char target[4096];
    ssize_t n = readlink(path, target, sizeof(target) - 1);
    snprintf(buf, len, "%s", path);
    if (n <= 0)
        return;
    target[n] = '\0';
    const char *z = strstr(target, "zoneinfo/");
    if (z) {
        z += 9;
        if (!strncmp(z, "posix/", 6))
            z += 6;
        snprintf(buf, len, "%s", z);
    }
}

int canh_tz_load_local(canh_tz_t **out, char *err, size_t errlen)
{
    char why[400], name[300];
    const char *tzenv = getenv("TZ");
    *out = NULL;
    if (!tzenv) {
        link_name("/etc/localtime", name, sizeof(name));
        int rc = load_path(out, "/etc/localtime", name, why, sizeof(why));
        if (rc == CANH_ENOENT)                     /* as the C library: UTC */
            return canh_tz_load(out, "UTC", err, errlen);
        if (rc)
            snprintf(err, errlen, "the machine's time zone (/etc/localtime): %s", why);
        return rc;
    }
    const char *s = tzenv[0] == ':' ? tzenv + 1 : tzenv;
    if (!*s)
        return canh_tz_load(out, "UTC", err, errlen);
    if (s[0] == '/') {
        int rc = load_path(out, s, s, why, sizeof(why));
        if (rc == CANH_ENOENT)
            snprintf(err, errlen, "TZ='%s': no such file", tzenv);
        else if (rc)
            snprintf(err, errlen, "TZ='%s': %s", tzenv, why);
        return rc;
    }
    int rc = canh_tz_load(out, s, why, sizeof(why));
    if (rc == CANH_ENOENT || rc == CANH_EINVAL) {
        posix_t z;
        if (tzenv[0] != ':' && posix_parse(s, &z) == 0)
            return canh_tz_from_posix(out, s, err, errlen);
        snprintf(err, errlen, "TZ='%s' is neither a zone of the tz database nor a POSIX TZ "
                 "string: %s", tzenv, why);
        return rc;
    }
    if (rc)
        snprintf(err, errlen, "TZ='%s': %s", tzenv, why);
    return rc;
}

/* ---- lookups ---- */

/* Folds t into the unrolled window when it lies beyond it; *shift gets what was taken off. */
static int64_t fold(const canh_tz_t *tz, int64_t t, int64_t *shift)
{
    *shift = 0;
    if ((tz->fold_up && t >= tz->win_hi) || (tz->fold_down && t < tz->win_lo)) {
        int64_t f = tz->win_lo + floor_mod(t - tz->win_lo, CYCLE_S);
        *shift = t - f;
        return f;
    }
    return t;
}

/* The last k with a[k] <= t, or -1. */
static ptrdiff_t last_le(const int64_t *a, size_t n, int64_t t)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (a[mid] <= t)
            lo = mid + 1;
        else
            hi = mid;
    }
    return (ptrdiff_t)lo - 1;
}

int32_t canh_tz_offset(const canh_tz_t *tz, int64_t utc_s)
{
    if (!tz || !tz->n)
        return tz ? tz->off0 : 0;
    int64_t shift;
    ptrdiff_t k = last_le(tz->utc, tz->n, fold(tz, utc_s, &shift));
    return k < 0 ? tz->off0 : tz->off[k];
}

/* The offset for wall-clock second w, and the wall-clock seconds [lo, hi) where it holds. */
static int32_t wall_offset(const canh_tz_t *tz, int64_t w, int64_t *lo, int64_t *hi)
{
    int64_t shift;
    int64_t f = fold(tz, w, &shift);
    ptrdiff_t k = tz->n ? last_le(tz->wall, tz->n, f) : -1;
    int64_t l = k < 0 ? INT64_MIN : tz->wall[k];
    int64_t h = (size_t)(k + 1) < tz->n ? tz->wall[k + 1] : INT64_MAX;
    if (tz->fold_up && f >= tz->win_lo) {          /* within the window: stay in it */
        if (l < tz->win_lo)
            l = tz->win_lo;
        if (h > tz->win_hi)
            h = tz->win_hi;
    }
    *lo = l == INT64_MIN ? l : l + shift;
    *hi = h == INT64_MAX ? h : h + shift;
    return k < 0 ? tz->off0 : tz->off[k];
}

int64_t canh_tz_wall_to_utc(const canh_tz_t *tz, int64_t wall_s)
{
    int64_t lo, hi;
    if (!tz)
        return wall_s;
    return wall_s - wall_offset(tz, wall_s, &lo, &hi);
}

/* ---- converters ---- */

#define MS_LIMIT ((int64_t)1 << 50)     /* seconds beyond this are not cached (no overflow) */

void canh_tzconv_init(canh_tzconv_t *c, const canh_tz_t *tz)
{
    memset(c, 0, sizeof(*c));
    c->tz = tz;
    c->ref_utc_ms = NO_TIME;
    if (!tz || (!tz->n && !tz->off0)) {        /* UTC: every time is in the one interval */
        c->lo_ms = INT64_MIN;
        c->hi_ms = INT64_MAX;
        return;
    }
    c->lo_ms = 0;
    c->hi_ms = 0;                               /* empty: the first call looks up */
}

static int64_t to_ms(int64_t s)
{
    if (s <= -MS_LIMIT)
        return INT64_MIN;
    if (s >= MS_LIMIT)
        return INT64_MAX;
    return s * 1000;
}

int64_t canh_tzconv_slow(canh_tzconv_t *c, int64_t wall_ms)
{
    if (!c->tz)
        return wall_ms;
    int64_t lo, hi;
    int32_t off = wall_offset(c->tz, floor_div(wall_ms, 1000), &lo, &hi);
    c->lo_ms = to_ms(lo);
    c->hi_ms = to_ms(hi);
    c->off_ms = (int64_t)off * 1000;
    return wall_ms - c->off_ms;
}

int64_t canh_tzconv_to_wall(canh_tzconv_t *c, int64_t utc_ms)
{
    if (utc_ms != c->ref_utc_ms) {
        c->ref_utc_ms = utc_ms;
        c->ref_wall_ms = utc_ms + (int64_t)canh_tz_offset(c->tz, floor_div(utc_ms, 1000)) * 1000;
    }
    return c->ref_wall_ms;
}
