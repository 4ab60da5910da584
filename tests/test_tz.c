/*
 * tests/test_tz.c -- time zones (engine/tz.c): Asia/Ho_Chi_Minh; the DST
 * transitions of Europe/Berlin and America/New_York, on both sides of and
 * inside each one; years past the TZif table (the footer's rule), also
 * from a "slim" file made here with zic; the machine's zone from $TZ and
 * /etc/localtime; unknown and damaged zones refused with a reason.
 *
 * The C library is the independent oracle: localtime_r with TZ set in this
 * test process (never in canh) gives the offset at each UTC instant, and
 * from it the wall-clock answer canh documents (the offset before the
 * transition for a repeated or skipped time) is worked out by brute force.
 *
 * Thread: Criterion runs each test in its own process.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../engine/tz.h"

static char err[1024];

static canh_tz_t *load(const char *name)
{
    canh_tz_t *tz = NULL;
    int rc = canh_tz_load(&tz, name, err, sizeof(err));
    cr_assert_eq(rc, CANH_OK, "%s: %s", name, err);
    cr_assert_not_null(tz);
    return tz;
}

/* Seconds since the epoch of a UTC civil time, through timegm (the C library). */
static int64_t utc(int y, int mo, int d, int h, int mi, int s)
{
    struct tm tm = { .tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d,
                     .tm_hour = h, .tm_min = mi, .tm_sec = s };
    return (int64_t)timegm(&tm);
}

/* The same fields as a wall-clock time, read as if UTC. */
#define WALL utc

/* The C library's offset at a UTC instant, in zone `name` (TZ set here, in the test). */
static long libc_offset(const char *name, int64_t t)
{
    static char cur[128];
    if (strcmp(cur, name)) {
        setenv("TZ", name, 1);
        tzset();
        snprintf(cur, sizeof(cur), "%s", name);
    }
    time_t tt = (time_t)t;
    struct tm tm;
    localtime_r(&tt, &tm);
    return tm.tm_gmtoff;
}

/*
 * What canh must answer for wall-clock second w in zone `name`, from the C
 * library's offsets alone: the UTC instants whose local time is w; if two,
 * the earlier; if none (a skipped time), w read with the offset in force
 * before the change. Assumes at most one transition within 30 hours.
 */
static int64_t oracle_wall_to_utc(const char *name, int64_t w)
{
    long before = libc_offset(name, w - 30 * 3600), after = libc_offset(name, w + 30 * 3600);
    int64_t a = w - before, b = w - after;
    int a_ok = libc_offset(name, a) == before, b_ok = libc_offset(name, b) == after;
    if (a_ok && b_ok)
        return a < b ? a : b;
    if (a_ok)
        return a;
    if (b_ok)
        return b;
    return w - before;
}

TestSuite(tz);

Test(tz, ho_chi_minh_is_seven_hours_ahead)
{
    canh_tz_t *tz = load("Asia/Ho_Chi_Minh");
    cr_assert_str_eq(canh_tz_name(tz), "Asia/Ho_Chi_Minh");
    /* an access log's "+0700" and a syslog line's local time are the same moment */
    cr_assert_eq(canh_tz_wall_to_utc(tz, WALL(2025, 12, 31, 23, 30, 0)),
                 utc(2025, 12, 31, 16, 30, 0));
    cr_assert_eq(canh_tz_wall_to_utc(tz, WALL(2026, 1, 1, 6, 59, 59)),
                 utc(2025, 12, 31, 23, 59, 59));
    cr_assert_eq(canh_tz_offset(tz, utc(2026, 6, 1, 0, 0, 0)), 7 * 3600);
    /* South Vietnam kept +08:00 until 13 June 1975 */
    cr_assert_eq(canh_tz_offset(tz, utc(1970, 1, 1, 0, 0, 0)), 8 * 3600);
    cr_assert_eq(canh_tz_offset(tz, utc(1976, 1, 1, 0, 0, 0)), 7 * 3600);
    /* far past the file's table */
    cr_assert_eq(canh_tz_wall_to_utc(tz, WALL(2300, 1, 1, 7, 0, 0)), utc(2300, 1, 1, 0, 0, 0));
    canh_tz_free(tz);
}

Test(tz, berlin_around_and_inside_each_transition)
{
    canh_tz_t *tz = load("Europe/Berlin");
    /* spring forward, 2025-03-30: 02:00 CET becomes 03:00 CEST (01:00 UTC) */
    cr_assert_eq(canh_tz_wall_to_utc(tz, WALL(2025, 3, 30, 1, 59, 59)),
                 utc(2025, 3, 30, 0, 59, 59));
    /* 02:00-02:59 never happens: read with +01:00, the offset before */
    cr_assert_eq(canh_tz_wall_to_utc(tz, WALL(2025, 3, 30, 2, 0, 0)), utc(2025, 3, 30, 1, 0, 0));
    cr_assert_eq(canh_tz_wall_to_utc(tz, WALL(2025, 3, 30, 2, 30, 0)), utc(2025, 3, 30, 1, 30, 0));
    cr_assert_eq(canh_tz_wall_to_utc(tz, WALL(2025, 3, 30, 3, 0, 0)), utc(2025, 3, 30, 1, 0, 0));
    cr_assert_eq(canh_tz_wall_to_utc(tz, WALL(2025, 3, 30, 3, 30, 0)), utc(2025, 3, 30, 1, 30, 0));
    /* fall back, 2025-10-26: 03:00 CEST becomes 02:00 CET (01:00 UTC) */
    cr_assert_eq(canh_tz_wall_to_utc(tz, WALL(2025, 10, 26, 1, 59, 59)),
                 utc(2025, 10, 25, 23, 59, 59));
    /* 02:00-02:59 happens twice: the first, still +02:00 */
    cr_assert_eq(canh_tz_wall_to_utc(tz, WALL(2025, 10, 26, 2, 0, 0)), utc(2025, 10, 26, 0, 0, 0));
    cr_assert_eq(canh_tz_wall_to_utc(tz, WALL(2025, 10, 26, 2, 30, 0)),
                 utc(2025, 10, 26, 0, 30, 0));
    cr_assert_eq(canh_tz_wall_to_utc(tz, WALL(2025, 10, 26, 2, 59, 59)),
                 utc(2025, 10, 26, 0, 59, 59));
    cr_assert_eq(canh_tz_wall_to_utc(tz, WALL(2025, 10, 26, 3, 0, 0)), utc(2025, 10, 26, 2, 0, 0));
    /* summer and winter */
    cr_assert_eq(canh_tz_wall_to_utc(tz, WALL(2025, 7, 1, 12, 0, 0)), utc(2025, 7, 1, 10, 0, 0));
    cr_assert_eq(canh_tz_wall_to_utc(tz, WALL(2025, 1, 15, 12, 0, 0)), utc(2025, 1, 15, 11, 0, 0));
    canh_tz_free(tz);
}

Test(tz, new_york_around_and_inside_each_transition)
{
    canh_tz_t *tz = load("America/New_York");
    /* 2025-03-09: 02:00 EST becomes 03:00 EDT (07:00 UTC) */
    cr_assert_eq(canh_tz_wall_to_utc(tz, WALL(2025, 3, 9, 1, 59, 59)), utc(2025, 3, 9, 6, 59, 59));
    cr_assert_eq(canh_tz_wall_to_utc(tz, WALL(2025, 3, 9, 2, 30, 0)), utc(2025, 3, 9, 7, 30, 0));
    cr_assert_eq(canh_tz_wall_to_utc(tz, WALL(2025, 3, 9, 3, 0, 0)), utc(2025, 3, 9, 7, 0, 0));
    /* 2025-11-02: 02:00 EDT becomes 01:00 EST (06:00 UTC); 01:30 twice, the first */
    cr_assert_eq(canh_tz_wall_to_utc(tz, WALL(2025, 11, 2, 0, 59, 59)),
                 utc(2025, 11, 2, 4, 59, 59));
    cr_assert_eq(canh_tz_wall_to_utc(tz, WALL(2025, 11, 2, 1, 30, 0)), utc(2025, 11, 2, 5, 30, 0));
    cr_assert_eq(canh_tz_wall_to_utc(tz, WALL(2025, 11, 2, 2, 0, 0)), utc(2025, 11, 2, 7, 0, 0));
    canh_tz_free(tz);
}

/* Every 10 minutes of wall-clock time over years with transitions, and
 * the hours around each one second by second, against the oracle. */
static void sweep(const char *name, int y0, int y1)
{
    canh_tz_t *tz = load(name);
    canh_tzconv_t conv;
    canh_tzconv_init(&conv, tz);
    long n = 0;
    for (int64_t w = WALL(y0, 1, 1, 0, 0, 0); w < WALL(y1, 1, 1, 0, 0, 0); w += 600, n++) {
        int64_t want = oracle_wall_to_utc(name, w);
        cr_assert_eq(canh_tz_wall_to_utc(tz, w), want, "%s wall %lld", name, (long long)w);
        cr_assert_eq(canh_tzconv_to_utc(&conv, w * 1000 + 123), want * 1000 + 123,
                     "%s wall %lld through the converter", name, (long long)w);
        cr_assert_eq(canh_tz_offset(tz, w), libc_offset(name, w), "%s utc %lld", name,
                     (long long)w);
        if (libc_offset(name, w) != libc_offset(name, w + 600))   /* a transition: every second */
            for (int64_t s = w - 7200; s < w + 7200; s++)
                cr_assert_eq(canh_tzconv_to_utc(&conv, s * 1000),
                             oracle_wall_to_utc(name, s) * 1000, "%s wall %lld", name,
                             (long long)s);
    }
    cr_assert_gt(n, 1000);
    canh_tz_free(tz);
}

Test(tz, berlin_matches_the_c_library, .timeout = 60)
{
    sweep("Europe/Berlin", 2023, 2026);
    sweep("Europe/Berlin", 2099, 2101);   /* past the table: the footer's rule */
}

Test(tz, new_york_matches_the_c_library, .timeout = 60)
{
    sweep("America/New_York", 2006, 2008);   /* the 2007 change of rule */
    sweep("America/New_York", 2024, 2026);
}

Test(tz, ho_chi_minh_matches_the_c_library, .timeout = 60)
{
    sweep("Asia/Ho_Chi_Minh", 1975, 1976);
    sweep("Asia/Ho_Chi_Minh", 2025, 2027);
}

Test(tz, offsets_match_the_c_library_for_centuries, .timeout = 60)
{
    static const char *const zones[] = { "Asia/Ho_Chi_Minh", "Europe/Berlin", "America/New_York",
                                         "Australia/Lord_Howe", "Europe/Dublin", "America/Santiago",
                                         "Africa/Casablanca", "Pacific/Chatham" };
    for (size_t z = 0; z < sizeof(zones) / sizeof(zones[0]); z++) {
        canh_tz_t *tz = load(zones[z]);
        for (int64_t t = utc(1900, 1, 1, 0, 0, 0); t < utc(2400, 1, 1, 0, 0, 0); t += 86400 + 3607)
            cr_assert_eq(canh_tz_offset(tz, t), libc_offset(zones[z], t), "%s at %lld", zones[z],
                         (long long)t);
        canh_tz_free(tz);
    }
}

/* A "slim" TZif file has few transitions and leaves the rest to its footer. */
Test(tz, a_slim_file_reads_as_its_rule_says, .timeout = 60)
{
    char dir[] = "/tmp/canh-tz-XXXXXX", src[128], cmd[512];
    cr_assert_not_null(mkdtemp(dir));
    snprintf(src, sizeof(src), "%s/zones.txt", dir);
    FILE *f = fopen(src, "w");
    cr_assert_not_null(f);
    fputs("Rule EU 1981 max - Mar lastSun 1:00u 1:00 S\n"
          "Rule EU 1996 max - Oct lastSun 1:00u 0 -\n"
          "Zone Test/Slim 1:00 EU CE%sT\n", f);
    fclose(f);
    snprintf(cmd, sizeof(cmd), "zic -b slim -d %s %s", dir, src);
    cr_assert_eq(system(cmd), 0, "zic (libc-bin) could not make the test zone");
    setenv("TZDIR", dir, 1);
    canh_tz_t *slim = load("Test/Slim");
    unsetenv("TZDIR");
    canh_tz_t *fat = load("Europe/Berlin");
    struct stat st;
    snprintf(cmd, sizeof(cmd), "%s/Test/Slim", dir);
    cr_assert_eq(stat(cmd, &st), 0);
    cr_assert_lt(st.st_size, 200, "zic made a fat file (%lld bytes)", (long long)st.st_size);
    for (int64_t t = utc(1997, 1, 1, 0, 0, 0); t < utc(2500, 1, 1, 0, 0, 0); t += 3 * 3600 + 7) {
        cr_assert_eq(canh_tz_offset(slim, t), canh_tz_offset(fat, t), "at %lld", (long long)t);
        cr_assert_eq(canh_tz_wall_to_utc(slim, t), canh_tz_wall_to_utc(fat, t), "wall %lld",
                     (long long)t);
    }
    canh_tz_free(slim);
    canh_tz_free(fat);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
}

Test(tz, posix_strings)
{
    canh_tz_t *tz;
    cr_assert_eq(canh_tz_from_posix(&tz, "<+07>-7", err, sizeof(err)), CANH_OK, "%s", err);
    cr_assert_eq(canh_tz_wall_to_utc(tz, WALL(2025, 12, 31, 23, 30, 0)),
                 utc(2025, 12, 31, 16, 30, 0));
    canh_tz_free(tz);
    cr_assert_eq(canh_tz_from_posix(&tz, "CET-1CEST,M3.5.0,M10.5.0/3", err, sizeof(err)), CANH_OK);
    cr_assert_eq(canh_tz_wall_to_utc(tz, WALL(2025, 3, 30, 2, 30, 0)), utc(2025, 3, 30, 1, 30, 0));
    cr_assert_eq(canh_tz_wall_to_utc(tz, WALL(2025, 10, 26, 2, 30, 0)),
                 utc(2025, 10, 26, 0, 30, 0));
    cr_assert_eq(canh_tz_wall_to_utc(tz, WALL(8000, 7, 1, 12, 0, 0)), utc(8000, 7, 1, 10, 0, 0));
    for (int64_t t = utc(1971, 1, 1, 0, 0, 0); t < utc(2300, 1, 1, 0, 0, 0); t += 86400 + 3607)
        cr_assert_eq(canh_tz_offset(tz, t), libc_offset("CET-1CEST,M3.5.0,M10.5.0/3", t));
    canh_tz_free(tz);
    /* southern hemisphere, a rule time past 24 h and one before midnight (RFC 8536 3.3.1) */
    static const char *const specs[] = { "AEST-10AEDT,M10.1.0,M4.1.0/3",
                                         "<-03>3<-02>,M3.5.0/-2,M10.5.0/-1",
                                         "XXX3YYY,J60/1,J300/26", "XXX3YYY,59/1,300" };
    for (size_t i = 0; i < sizeof(specs) / sizeof(specs[0]); i++) {
        cr_assert_eq(canh_tz_from_posix(&tz, specs[i], err, sizeof(err)), CANH_OK, "%s", specs[i]);
        for (int64_t t = utc(1971, 1, 1, 0, 0, 0); t < utc(2100, 1, 1, 0, 0, 0); t += 86400 + 3607)
            cr_assert_eq(canh_tz_offset(tz, t), libc_offset(specs[i], t), "%s at %lld", specs[i],
                         (long long)t);
        canh_tz_free(tz);
    }
    static const char *const bad[] = { "", "X5", "CET", "CET-1CEST,M13.5.0,M10.5.0",
                                       "CET-1CEST,M3.5.0", "CET-99", "<+07-7", "CET-1CEST,J0,J5" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cr_assert_eq(canh_tz_from_posix(&tz, bad[i], err, sizeof(err)), CANH_EINVAL, "%s", bad[i]);
        cr_assert_null(tz);
        cr_assert(strstr(err, "POSIX TZ string"), "%s", err);
    }
}

Test(tz, the_machines_zone)
{
    canh_tz_t *tz;
    setenv("TZ", "Asia/Ho_Chi_Minh", 1);
    cr_assert_eq(canh_tz_load_local(&tz, err, sizeof(err)), CANH_OK, "%s", err);
    cr_assert_str_eq(canh_tz_name(tz), "Asia/Ho_Chi_Minh");
    cr_assert_eq(canh_tz_offset(tz, utc(2026, 1, 1, 0, 0, 0)), 7 * 3600);
    canh_tz_free(tz);

    setenv("TZ", ":America/New_York", 1);
    cr_assert_eq(canh_tz_load_local(&tz, err, sizeof(err)), CANH_OK, "%s", err);
    cr_assert_eq(canh_tz_offset(tz, utc(2026, 1, 1, 0, 0, 0)), -5 * 3600);
    canh_tz_free(tz);

    setenv("TZ", "/usr/share/zoneinfo/Europe/Berlin", 1);
    cr_assert_eq(canh_tz_load_local(&tz, err, sizeof(err)), CANH_OK, "%s", err);
    cr_assert_eq(canh_tz_offset(tz, utc(2026, 7, 1, 0, 0, 0)), 2 * 3600);
    canh_tz_free(tz);

    setenv("TZ", "<+07>-7", 1);
    cr_assert_eq(canh_tz_load_local(&tz, err, sizeof(err)), CANH_OK, "%s", err);
    cr_assert_eq(canh_tz_offset(tz, utc(2026, 1, 1, 0, 0, 0)), 7 * 3600);
    canh_tz_free(tz);

    setenv("TZ", "", 1);      /* empty: UTC, as the C library */
    cr_assert_eq(canh_tz_load_local(&tz, err, sizeof(err)), CANH_OK, "%s", err);
    cr_assert_eq(canh_tz_offset(tz, utc(2026, 7, 1, 0, 0, 0)), 0);
    canh_tz_free(tz);

    setenv("TZ", "Asia/Hanoi", 1);   /* not a zone (Vietnam's is Asia/Ho_Chi_Minh) */
    cr_assert_eq(canh_tz_load_local(&tz, err, sizeof(err)), CANH_ENOENT);
    cr_assert_null(tz);
    cr_assert(strstr(err, "TZ='Asia/Hanoi'"), "%s", err);

    /* no TZ: /etc/localtime, whatever this machine has there */
    unsetenv("TZ");
    cr_assert_eq(canh_tz_load_local(&tz, err, sizeof(err)), CANH_OK, "%s", err);
    tzset();
    for (int64_t t = utc(2020, 1, 1, 0, 0, 0); t < utc(2030, 1, 1, 0, 0, 0);
         t += 86400 * 7 + 3607) {
        time_t tt = (time_t)t;
        struct tm tm;
        localtime_r(&tt, &tm);
        cr_assert_eq(canh_tz_offset(tz, t), tm.tm_gmtoff, "%s at %lld", canh_tz_name(tz),
                     (long long)t);
    }
    canh_tz_free(tz);
}

Test(tz, unknown_zones_are_refused_with_a_reason)
{
    canh_tz_t *tz = (canh_tz_t *)1;
    cr_assert_eq(canh_tz_load(&tz, "Asia/Hanoi", err, sizeof(err)), CANH_ENOENT);
    cr_assert_null(tz);
    cr_assert(strstr(err, "unknown time zone 'Asia/Hanoi'"), "%s", err);
    cr_assert_eq(canh_tz_load(&tz, "asia/ho_chi_minh", err, sizeof(err)), CANH_ENOENT);
    cr_assert(strstr(err, "did you mean 'Asia/Ho_Chi_Minh'"), "%s", err);
    cr_assert_eq(canh_tz_load(&tz, "Europe/Berlim", err, sizeof(err)), CANH_ENOENT);
    cr_assert(strstr(err, "did you mean 'Europe/Berlin'"), "%s", err);
    static const char *const not_names[] = { "", "/etc/passwd", "../../etc/passwd",
                                             "Asia/../../etc/passwd", "Asia/", "a b" };
    for (size_t i = 0; i < sizeof(not_names) / sizeof(not_names[0]); i++) {
        cr_assert_eq(canh_tz_load(&tz, not_names[i], err, sizeof(err)), CANH_EINVAL, "%s",
                     not_names[i]);
        cr_assert(strstr(err, "is not a time zone name"), "%s", err);
    }
    cr_assert_eq(canh_tz_load(&tz, "Asia", err, sizeof(err)), CANH_EINVAL);
    cr_assert(strstr(err, "folder"), "%s", err);
    cr_assert_eq(canh_tz_load(&tz, "zone.tab", err, sizeof(err)), CANH_EINVAL);
    cr_assert(strstr(err, "not a TZif"), "%s", err);
    cr_assert_eq(canh_tz_load(&tz, "right/UTC", err, sizeof(err)), CANH_ENOTSUP);
    cr_assert(strstr(err, "leap seconds"), "%s", err);
    /* no tz database at all: say which package brings it; UTC still works */
    setenv("TZDIR", "/nonexistent/zoneinfo", 1);
    cr_assert_eq(canh_tz_load(&tz, "Asia/Ho_Chi_Minh", err, sizeof(err)), CANH_ENOENT);
    cr_assert(strstr(err, "tzdata"), "%s", err);
    canh_tz_t *u = load("UTC");
    cr_assert_eq(canh_tz_wall_to_utc(u, 1234567890), 1234567890);
    canh_tz_free(u);
}

/* Every length of a real file cut short, and bytes flipped: refused or
 * read, never read out of bounds (the ASan build checks). */
Test(tz, damaged_files_are_refused)
{
    FILE *f = fopen("/usr/share/zoneinfo/Europe/Berlin", "rb");
    cr_assert_not_null(f);
    static unsigned char buf[8192];
    size_t n = fread(buf, 1, sizeof(buf), f);
    fclose(f);
    char dir[] = "/tmp/canh-tz-XXXXXX", path[128];
    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/Cut", dir);
    setenv("TZDIR", dir, 1);
    int refused = 0;
    for (size_t len = 0; len < n; len += (len < 100 ? 1 : 37)) {
        f = fopen(path, "wb");
        fwrite(buf, 1, len, f);
        fclose(f);
        canh_tz_t *tz = NULL;
        int rc = canh_tz_load(&tz, "Cut", err, sizeof(err));
        if (rc) {
            refused++;
            cr_assert_null(tz);
            cr_assert(strstr(err, "TZif"), "%zu bytes: %s", len, err);
        }
        canh_tz_free(tz);
    }
    cr_assert_gt(refused, 50);
    srand(12);
    for (int i = 0; i < 500; i++) {
        unsigned char b[8192];
        memcpy(b, buf, n);
        for (int k = 0; k < 4; k++)
            b[(size_t)rand() % n] = (unsigned char)rand();
        f = fopen(path, "wb");
        fwrite(b, 1, n, f);
        fclose(f);
        canh_tz_t *tz = NULL;
        if (canh_tz_load(&tz, "Cut", err, sizeof(err)) == CANH_OK) {
            canh_tzconv_t c;
            canh_tzconv_init(&c, tz);
            for (int64_t w = -4000000000LL; w < 9000000000LL; w += 77777777)
                canh_tzconv_to_utc(&c, w * 1000);
        }
        canh_tz_free(tz);
    }
    unlink(path);
    rmdir(dir);
}

/* One zone, read by several threads at once, each with its own converter. */
typedef struct job {
    const canh_tz_t *tz;
    int64_t sum;
} job_t;

static void *convert_many(void *ud)
{
    job_t *j = ud;
    canh_tzconv_t c;
    canh_tzconv_init(&c, j->tz);
    for (int64_t w = WALL(2020, 1, 1, 0, 0, 0); w < WALL(2030, 1, 1, 0, 0, 0); w += 1801)
        j->sum += canh_tzconv_to_utc(&c, w * 1000) - w * 1000;
    return NULL;
}

Test(tz, shared_by_threads)
{
    canh_tz_t *tz = load("Europe/Berlin");
    job_t jobs[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        jobs[i] = (job_t){ tz, 0 };
        cr_assert_eq(pthread_create(&th[i], NULL, convert_many, &jobs[i]), 0);
    }
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    job_t one = { tz, 0 };
    convert_many(&one);
    for (int i = 0; i < 4; i++)
        cr_assert_eq(jobs[i].sum, one.sum);
    canh_tz_free(tz);
}

/* A converter gives the same answers whatever order the stamps come in. */
Test(tz, the_converter_cache_is_exact_in_any_order)
{
    canh_tz_t *tz = load("America/New_York");
    canh_tzconv_t c;
    canh_tzconv_init(&c, tz);
    srand(5);
    for (int i = 0; i < 200000; i++) {
        int64_t w = WALL(2000, 1, 1, 0, 0, 0) + (int64_t)rand() % (40LL * 365 * 86400);
        if (i % 3)   /* mostly close to the last one, as logs are */
            w = (c.lo_ms / 1000) + rand() % 7200;
        cr_assert_eq(canh_tzconv_to_utc(&c, w * 1000 + 7), canh_tz_wall_to_utc(tz, w) * 1000 + 7,
                     "wall %lld", (long long)w);
    }
    /* the reference time of year inference */
    cr_assert_eq(canh_tzconv_to_wall(&c, utc(2026, 1, 5, 3, 0, 0) * 1000),
                 WALL(2026, 1, 4, 22, 0, 0) * 1000);
    canh_tz_free(tz);
    /* UTC and no zone: the wall clock is UTC */
    canh_tzconv_init(&c, canh_tz_utc());
    cr_assert_eq(canh_tzconv_to_utc(&c, 123456789), 123456789);
    canh_tzconv_init(&c, NULL);
    cr_assert_eq(canh_tzconv_to_utc(&c, -5), -5);
    cr_assert_eq(canh_tzconv_to_wall(&c, 77), 77);
}
