/*
 * tests/test_spool.c -- the on-disk alert spool (sinks/spool.c): records
 * read back in order, rewind and acknowledgement, restarts (seqs go on,
 * acknowledged records stay gone), segment rotation and deletion, the
 * size cap (EAGAIN, force, wait_space woken by an ack), damaged records,
 * torn tails and damaged head files, empty keys, 1 MiB values, bad
 * arguments, sync, many records in one call (across segments, stopping
 * at the cap), a write that fails for want of room (cut off; appending
 * goes on from the first record left once there is room), an appender
 * and a reader thread racing over 100,000 records; symbolic links
 * planted in the folder (never written through, named in the error) and
 * folders another user could write (refused). Each test works in its own
 * folder under /tmp; runs on
 * Criterion's test threads (plus the threads a test starts).
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../engine/canh.h"
#include "../sinks/spool.h"

#define HDR 24   /* record header, as spool.h lays it out */

static char dir[] = "/tmp/canh-spool-XXXXXX";
static char spool_dir[64];   /* dir/q: made by canh_spool_open */
static char err[512];

static void setup(void)
{
    cr_assert_not_null(mkdtemp(dir));
    snprintf(spool_dir, sizeof(spool_dir), "%s/q", dir);
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(p);
}

static void teardown(void)
{
    nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

TestSuite(spool, .init = setup, .fini = teardown);

/* ---- helpers ---- */

static canh_spool_t *sp_open(uint64_t max_bytes, uint64_t segment_bytes)
{
    canh_spool_opts_t o = { .dir = spool_dir, .max_bytes = max_bytes,
                            .segment_bytes = segment_bytes };
    canh_spool_t *s = NULL;
    int rc = canh_spool_open(&s, &o, err, sizeof(err));
    cr_assert_eq(rc, CANH_OK, "open: %d %s", rc, err);
    cr_assert_not_null(s);
    return s;
}

static canh_spool_counts_t counts(canh_spool_t *s)
{
    canh_spool_counts_t c;
    canh_spool_counts(s, &c);
    return c;
}

static size_t rec_size(const char *key, const char *val)
{
    return HDR + strlen(key) + strlen(val);
}

static uint64_t add(canh_spool_t *s, const char *key, const char *val)
{
    uint64_t seq = 0;
    int rc = canh_spool_append(s, key, strlen(key), val, strlen(val), 0, &seq);
    cr_assert_eq(rc, CANH_OK, "append '%s': %d", key, rc);
    return seq;
}

/* The next record is (seq, key, val). */
#define EXPECT_REC(s, seq, key, val) expect_rec(s, __LINE__, seq, key, val)
static void expect_rec(canh_spool_t *s, int line, uint64_t seq, const char *key, const char *val)
{
    canh_spool_rec_t r;
    int rc = canh_spool_next(s, &r);
    cr_assert_eq(rc, 1, "test line %d: no record (%d), seq %llu expected", line, rc,
                 (unsigned long long)seq);
    cr_assert_eq(r.seq, seq, "test line %d: seq %llu, %llu expected", line,
                 (unsigned long long)r.seq, (unsigned long long)seq);
    cr_assert_eq(r.klen, strlen(key), "test line %d: key length", line);
    if (r.klen)
        cr_assert(memcmp(r.key, key, r.klen) == 0, "test line %d: key", line);
    else
        cr_assert_null(r.key, "test line %d: an empty key is NULL", line);
    cr_assert_eq(r.vlen, strlen(val), "test line %d: value length %zu", line, r.vlen);
    cr_assert(memcmp(r.val, val, r.vlen) == 0, "test line %d: value", line);
}

#define EXPECT_END(s) expect_end(s, __LINE__)
static void expect_end(canh_spool_t *s, int line)
{
    canh_spool_rec_t r;
    int rc = canh_spool_next(s, &r);
    cr_assert_eq(rc, 0, "test line %d: %d, the end expected (seq %llu)", line, rc,
                 rc == 1 ? (unsigned long long)r.seq : 0ULL);
}

/* Records seq from..to as add_range appends them. */
static void key_of(char *b, size_t n, uint64_t i)
{
    snprintf(b, n, "k%llu", (unsigned long long)i);
}

static void val_of(char *b, size_t n, uint64_t i)
{
    snprintf(b, n, "value of record %llu", (unsigned long long)i);
}

static void add_range(canh_spool_t *s, uint64_t from, uint64_t to)
{
    char k[32], v[64];
    for (uint64_t i = from; i <= to; i++) {
        key_of(k, sizeof(k), i);
        val_of(v, sizeof(v), i);
        cr_assert_eq(add(s, k, v), i);
    }
}

#define EXPECT_RANGE(s, from, to) expect_range(s, __LINE__, from, to)
static void expect_range(canh_spool_t *s, int line, uint64_t from, uint64_t to)
{
    char k[32], v[64];
    for (uint64_t i = from; i <= to; i++) {
        key_of(k, sizeof(k), i);
        val_of(v, sizeof(v), i);
        expect_rec(s, line, i, k, v);
    }
}

/* The spool's segment files, sorted; returns how many (at most max). */
static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static size_t segs_on_disk(char names[][128], size_t max)
{
    DIR *d = opendir(spool_dir);
    cr_assert_not_null(d);
    char *found[1024];
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strncmp(e->d_name, "seg-", 4) == 0) {
            cr_assert_lt(n, 1024);
            found[n++] = strdup(e->d_name);
        }
    closedir(d);
    qsort(found, n, sizeof(char *), cmp_str);
    for (size_t i = 0; i < n; i++) {
        if (i < max)
            snprintf(names[i], 128, "%s/%s", spool_dir, found[i]);
        free(found[i]);
    }
    return n;
}

static size_t nsegs_on_disk(void)
{
    return segs_on_disk(NULL, 0);
}

static const char *seg_path(uint64_t first)
{
    static char b[4][128];
    static int k;
    char *p = b[k++ % 4];
    snprintf(p, 128, "%s/seg-%020llu.spool", spool_dir, (unsigned long long)first);
    return p;
}

static off_t file_size(const char *path)
{
    struct stat st;
    cr_assert_eq(stat(path, &st), 0, "%s", path);
    return st.st_size;
}

static void flip_byte(const char *path, off_t off)
{
    int fd = open(path, O_RDWR);
    cr_assert_geq(fd, 0, "%s", path);
    unsigned char c;
    cr_assert_eq(pread(fd, &c, 1, off), 1);
    c ^= 0x5a;
    cr_assert_eq(pwrite(fd, &c, 1, off), 1);
    close(fd);
}

static int64_t mono_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static void nap_us(long us)
{
    struct timespec t = { 0, us * 1000 };
    nanosleep(&t, NULL);
}

/* ---- tests ---- */

Test(spool, appended_records_come_back_in_order)
{
    canh_spool_t *s = sp_open(1 << 20, 0);
    struct stat st;
    cr_assert_eq(stat(spool_dir, &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0700, "the folder is made 0700 (it is %o)", st.st_mode & 0777);

    add_range(s, 1, 1000);
    canh_spool_counts_t c = counts(s);
    cr_assert_eq(c.appended, 1000);
    cr_assert_eq(c.waiting, 1000);
    cr_assert_eq(c.segments, 1);
    cr_assert_eq(c.bytes, (uint64_t)file_size(seg_path(1)));
    EXPECT_RANGE(s, 1, 1000);
    EXPECT_END(s);

    add_range(s, 1001, 1001);   /* the live segment grows under the reader */
    EXPECT_RANGE(s, 1001, 1001);
    EXPECT_END(s);
    c = counts(s);
    cr_assert_eq(c.corrupt, 0);
    cr_assert_eq(c.acked, 0);
    canh_spool_close(s);

    cr_assert_eq(stat(seg_path(1), &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0600);
}

Test(spool, rewind_reads_again_what_is_not_acknowledged)
{
    canh_spool_t *s = sp_open(1 << 20, 0);
    add_range(s, 1, 10);
    EXPECT_RANGE(s, 1, 10);
    cr_assert_eq(canh_spool_ack(s, 4), CANH_OK);
    canh_spool_rewind(s);
    EXPECT_RANGE(s, 5, 10);
    EXPECT_END(s);
    canh_spool_rewind(s);
    EXPECT_RANGE(s, 5, 10);

    canh_spool_counts_t c = counts(s);
    cr_assert_eq(c.acked, 4);
    cr_assert_eq(c.waiting, 6);

    cr_assert_eq(canh_spool_ack(s, 10), CANH_OK);
    canh_spool_rewind(s);
    EXPECT_END(s);
    c = counts(s);
    cr_assert_eq(c.acked, 10);
    cr_assert_eq(c.waiting, 0);
    canh_spool_close(s);
}

Test(spool, acknowledged_records_stay_gone_after_a_restart_and_seqs_go_on)
{
    canh_spool_t *s = sp_open(1 << 20, 0);
    add_range(s, 1, 10);
    EXPECT_RANGE(s, 1, 7);
    cr_assert_eq(canh_spool_ack(s, 3), CANH_OK);   /* acks lag the reader, as delivery reports do */
    cr_assert_eq(canh_spool_ack(s, 6), CANH_OK);
    canh_spool_close(s);

    s = sp_open(1 << 20, 0);
    canh_spool_counts_t c = counts(s);
    cr_assert_eq(c.waiting, 4);
    cr_assert_eq(c.appended, 0);
    EXPECT_RANGE(s, 7, 10);
    EXPECT_END(s);
    add_range(s, 11, 11);
    EXPECT_RANGE(s, 11, 11);
    EXPECT_END(s);
    cr_assert_eq(canh_spool_ack(s, 11), CANH_OK);
    canh_spool_close(s);

    s = sp_open(1 << 20, 0);
    cr_assert_eq(counts(s).waiting, 0);
    EXPECT_END(s);
    add_range(s, 12, 12);
    EXPECT_RANGE(s, 12, 12);
    canh_spool_close(s);
}

Test(spool, reopening_starts_a_new_segment_and_does_not_pile_up_empty_ones)
{
    canh_spool_t *s = sp_open(1 << 20, 0);
    add_range(s, 1, 3);
    canh_spool_close(s);
    off_t old = file_size(seg_path(1));

    s = sp_open(1 << 20, 0);
    cr_assert_eq(nsegs_on_disk(), 2);
    add_range(s, 4, 4);
    cr_assert_eq(file_size(seg_path(1)), old, "an old segment is never appended to");
    cr_assert_eq(file_size(seg_path(4)), (off_t)rec_size("k4", "value of record 4"));
    canh_spool_close(s);

    for (int i = 0; i < 3; i++) {   /* open and close with nothing new */
        s = sp_open(1 << 20, 0);
        canh_spool_close(s);
    }
    cr_assert_eq(nsegs_on_disk(), 3, "seg-1, seg-4 and one empty seg-5");
    s = sp_open(1 << 20, 0);
    EXPECT_RANGE(s, 1, 4);
    EXPECT_END(s);
    canh_spool_close(s);
}

Test(spool, segments_rotate_and_acknowledged_ones_are_deleted)
{
    canh_spool_t *s = sp_open(1 << 20, 1024);
    add_range(s, 1, 100);   /* ~40 bytes a record: ~25 to a segment */
    char names[64][128];
    size_t n = segs_on_disk(names, 64);
    cr_assert_geq(n, 4);
    canh_spool_counts_t c = counts(s);
    cr_assert_eq(c.segments, n);
    uint64_t total = 0;
    for (size_t i = 0; i < n; i++) {
        off_t sz = file_size(names[i]);
        cr_assert_leq(sz, 1024, "%s", names[i]);
        total += (uint64_t)sz;
    }
    cr_assert_eq(c.bytes, total);

    EXPECT_RANGE(s, 1, 100);
    EXPECT_END(s);
    cr_assert_eq(canh_spool_ack(s, 50), CANH_OK);
    size_t left = nsegs_on_disk();
    cr_assert_lt(left, n);
    cr_assert_eq(counts(s).segments, left);
    canh_spool_rewind(s);
    EXPECT_RANGE(s, 51, 100);

    cr_assert_eq(canh_spool_ack(s, 100), CANH_OK);
    cr_assert_eq(nsegs_on_disk(), 1, "only the live segment is left");
    c = counts(s);
    cr_assert_eq(c.segments, 1);
    cr_assert_eq(c.waiting, 0);
    cr_assert_eq(c.acked, 100);
    segs_on_disk(names, 1);
    cr_assert_eq(c.bytes, (uint64_t)file_size(names[0]));
    canh_spool_close(s);

    s = sp_open(1 << 20, 1024);
    EXPECT_END(s);
    add_range(s, 101, 101);
    EXPECT_RANGE(s, 101, 101);
    cr_assert_eq(canh_spool_ack(s, 101), CANH_OK);
    cr_assert_eq(nsegs_on_disk(), 1);
    canh_spool_close(s);
}

Test(spool, the_cap_says_eagain_force_goes_past_it_wait_space_times_out)
{
    canh_spool_t *s = sp_open(4096, 1024);
    char val[101];
    memset(val, 'v', 100);
    val[100] = '\0';
    size_t rec = rec_size("k", val);
    int n = 0, rc;
    uint64_t seq;
    while ((rc = canh_spool_append(s, "k", 1, val, 100, 0, &seq)) == CANH_OK)
        cr_assert_lt(++n, 100);
    cr_assert_eq(rc, CANH_EAGAIN);
    canh_spool_counts_t c = counts(s);
    cr_assert_eq(c.appended, (uint64_t)n);
    cr_assert_leq(c.bytes, 4096);
    cr_assert_gt(c.bytes + rec, 4096);

    int64_t t0 = mono_ms();
    cr_assert_eq(canh_spool_wait_space(s, 101, 50), 0);
    cr_assert_geq(mono_ms() - t0, 45, "it waited");
    cr_assert_eq(counts(s).full_waits, 1);

    cr_assert_eq(canh_spool_append(s, "k", 1, val, 100, 1, &seq), CANH_OK);
    cr_assert_eq(seq, (uint64_t)n + 1);
    cr_assert_gt(counts(s).bytes, 4096);
    cr_assert_eq(canh_spool_append(s, "k", 1, val, 100, 0, NULL), CANH_EAGAIN);

    canh_spool_rec_t r;
    uint64_t last = 0;
    while (canh_spool_next(s, &r) == 1)
        last = r.seq;
    cr_assert_eq(last, (uint64_t)n + 1);
    cr_assert_eq(canh_spool_ack(s, last), CANH_OK);
    cr_assert_leq(counts(s).bytes, 1024, "only the live segment is left");
    cr_assert_eq(canh_spool_wait_space(s, 101, 0), 1);
    cr_assert_eq(canh_spool_append(s, "k", 1, val, 100, 0, NULL), CANH_OK);
    canh_spool_close(s);
}

/* append_many: 1,000 records in one call, across segments and writev
 * groups, read back in order; at the cap it stops between records and says
 * how many went in. */
Test(spool, many_records_in_one_call_cross_segments_and_stop_at_the_cap)
{
    canh_spool_t *s = sp_open(1 << 20, 4096);
    static char keys[1000][32], vals[1000][64];
    static canh_spool_rec_t recs[1000];
    for (int i = 0; i < 1000; i++) {
        key_of(keys[i], sizeof(keys[i]), (uint64_t)i + 1);
        val_of(vals[i], sizeof(vals[i]), (uint64_t)i + 1);
        recs[i] = (canh_spool_rec_t){ .key = keys[i], .klen = strlen(keys[i]),
                                      .val = vals[i], .vlen = strlen(vals[i]) };
    }
    size_t done = 0;
    uint64_t first = 0;
    cr_assert_eq(canh_spool_append_many(s, recs, 1000, 0, &done, &first), CANH_OK);
    cr_assert_eq(done, 1000);
    cr_assert_eq(first, 1);
    cr_assert_gt(counts(s).segments, 5, "4 KiB segments: the call rotated between groups");
    char names[64][128];
    size_t n = segs_on_disk(names, 64);
    for (size_t i = 0; i < n; i++)
        cr_assert_leq(file_size(names[i]), 4096, "%s", names[i]);
    EXPECT_RANGE(s, 1, 1000);
    EXPECT_END(s);
    canh_spool_close(s);

    /* a cap of 2 KiB holds about 40 of these: the call stops there */
    nftw(spool_dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    s = sp_open(2048, 1024);
    cr_assert_eq(canh_spool_append_many(s, recs, 1000, 0, &done, NULL), CANH_EAGAIN);
    cr_assert_gt(done, 10);
    cr_assert_lt(done, 100);
    canh_spool_counts_t c = counts(s);
    cr_assert_eq(c.appended, done);
    cr_assert_leq(c.bytes, 2048);
    size_t more = 0;   /* force: the rest goes past the cap */
    cr_assert_eq(canh_spool_append_many(s, recs + done, 1000 - done, 1, &more, &first), CANH_OK);
    cr_assert_eq(more, 1000 - done);
    cr_assert_eq(first, done + 1);
    EXPECT_RANGE(s, 1, 1000);
    EXPECT_END(s);
    canh_spool_close(s);
}

/* RLIMIT_FSIZE stands in for a full disk (EFBIG; SIGXFSZ ignored); the
 * test's own process has it. */
static void set_file_limit(rlim_t v)
{
    struct rlimit r;
    cr_assert_eq(getrlimit(RLIMIT_FSIZE, &r), 0);
    r.rlim_cur = v == RLIM_INFINITY ? r.rlim_max : v;
    cr_assert_eq(setrlimit(RLIMIT_FSIZE, &r), 0);
}

Test(spool, a_write_that_finds_no_room_is_cut_off_and_appending_goes_on_after)
{
    canh_spool_t *s = sp_open(1 << 20, 1 << 20);   /* one segment */
    static char keys[1000][32], vals[1000][64];
    static canh_spool_rec_t recs[1000];
    for (int i = 0; i < 1000; i++) {
        key_of(keys[i], sizeof(keys[i]), (uint64_t)i + 1);
        val_of(vals[i], sizeof(vals[i]), (uint64_t)i + 1);
        recs[i] = (canh_spool_rec_t){ .key = keys[i], .klen = strlen(keys[i]),
                                      .val = vals[i], .vlen = strlen(vals[i]) };
    }
    signal(SIGXFSZ, SIG_IGN);
    set_file_limit(10000);   /* about 170 records, the last one torn */
    size_t done = 0;
    errno = 0;
    cr_assert_eq(canh_spool_append_many(s, recs, 1000, 0, &done, NULL), CANH_EIO);
    cr_assert_eq(errno, EFBIG, "errno says why (%s)", strerror(errno));
    cr_assert_lt(done, 200, "a group of 256 did not fit");
    canh_spool_counts_t c = counts(s);
    cr_assert_eq(c.appended, done);
    cr_assert_eq((uint64_t)file_size(seg_path(1)), c.bytes, "the torn piece is cut off");
    EXPECT_RANGE(s, 1, done);   /* what went in reads back */
    EXPECT_END(s);
    size_t more = 0;   /* still no room: nothing more goes in, nothing is torn */
    cr_assert_eq(canh_spool_append_many(s, recs + done, 1000 - done, 0, &more, NULL), CANH_EIO);
    cr_assert_eq((uint64_t)file_size(seg_path(1)), counts(s).bytes);
    set_file_limit(RLIM_INFINITY);   /* room again: on from the first record left */
    cr_assert_eq(canh_spool_append_many(s, recs + done + more, 1000 - done - more, 0, &more,
                                        NULL), CANH_OK);
    EXPECT_RANGE(s, done + 1, 1000);
    EXPECT_END(s);
    canh_spool_close(s);
    s = sp_open(1 << 20, 1 << 20);   /* and after a restart, each once, in order */
    EXPECT_RANGE(s, 1, 1000);
    EXPECT_END(s);
    cr_assert_eq(counts(s).corrupt, 0);
    canh_spool_close(s);
}

Test(spool, an_empty_spool_takes_a_record_bigger_than_the_cap)
{
    canh_spool_t *s = sp_open(4096, 1024);
    char *big = malloc(10000);
    memset(big, 'b', 10000);
    uint64_t seq;
    cr_assert_eq(canh_spool_append(s, "k", 1, big, 10000, 0, &seq), CANH_OK);
    cr_assert_eq(canh_spool_append(s, "k", 1, big, 10000, 0, NULL), CANH_EAGAIN);
    cr_assert_eq(canh_spool_wait_space(s, 10001, 0), 0);
    canh_spool_rec_t r;
    cr_assert_eq(canh_spool_next(s, &r), 1);
    cr_assert_eq(r.vlen, 10000);
    cr_assert_eq(canh_spool_ack(s, r.seq), CANH_OK);
    cr_assert_eq(canh_spool_wait_space(s, 10001, 0), 1);
    cr_assert_eq(canh_spool_append(s, "k", 1, big, 10000, 0, NULL), CANH_OK);
    free(big);
    canh_spool_close(s);
}

typedef struct acker {
    canh_spool_t *s;
    int ok;
} acker_t;

/* Waits until the main thread is waiting for space, then reads and acks everything. */
static void *ack_when_waited(void *p)
{
    acker_t *a = p;
    canh_spool_counts_t c;
    int64_t until = mono_ms() + 10000;
    do {
        canh_spool_counts(a->s, &c);
        if (c.full_waits)
            break;
        nap_us(1000);
    } while (mono_ms() < until);
    canh_spool_rec_t r;
    uint64_t last = 0;
    while (canh_spool_next(a->s, &r) == 1)
        last = r.seq;
    a->ok = c.full_waits == 1 && last && canh_spool_ack(a->s, last) == CANH_OK;
    return NULL;
}

Test(spool, wait_space_is_woken_by_an_ack_from_another_thread)
{
    canh_spool_t *s = sp_open(4096, 1024);
    char val[100];
    memset(val, 'v', sizeof(val));
    while (canh_spool_append(s, "k", 1, val, sizeof(val), 0, NULL) == CANH_OK)
        ;
    acker_t a = { .s = s };
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, ack_when_waited, &a), 0);
    int64_t t0 = mono_ms();
    int got = canh_spool_wait_space(s, 1 + sizeof(val), 30000);
    int64_t took = mono_ms() - t0;
    pthread_join(t, NULL);
    cr_assert_eq(got, 1);
    cr_assert(a.ok, "the other thread saw the wait and acknowledged");
    cr_assert_lt(took, 10000, "woken by the ack, not by the timeout (%lld ms)", (long long)took);
    cr_assert_eq(canh_spool_append(s, "k", 1, val, sizeof(val), 0, NULL), CANH_OK);
    canh_spool_close(s);
}

Test(spool, a_damaged_record_is_skipped_and_counted_once)
{
    canh_spool_t *s = sp_open(1 << 20, 0);
    add(s, "k1", "the first value");
    add(s, "k2", "the second value");
    add(s, "k3", "the third value");
    canh_spool_close(s);
    size_t r1 = rec_size("k1", "the first value"), r2 = rec_size("k2", "the second value");
    flip_byte(seg_path(1), (off_t)(r1 + HDR + 6));   /* in the middle record's value */

    s = sp_open(1 << 20, 0);
    canh_spool_counts_t c = counts(s);
    cr_assert_eq(c.corrupt, 1);
    cr_assert_eq(c.corrupt_bytes, r2);
    cr_assert_eq(c.waiting, 2);
    EXPECT_REC(s, 1, "k1", "the first value");
    EXPECT_REC(s, 3, "k3", "the third value");
    EXPECT_END(s);
    canh_spool_rewind(s);
    EXPECT_REC(s, 1, "k1", "the first value");
    EXPECT_REC(s, 3, "k3", "the third value");
    EXPECT_END(s);
    c = counts(s);
    cr_assert_eq(c.corrupt, 1, "counted once, not once per read");
    cr_assert_eq(c.corrupt_bytes, r2);

    cr_assert_eq(canh_spool_ack(s, 3), CANH_OK);
    c = counts(s);
    cr_assert_eq(c.acked, 2, "two records, not three seqs");
    cr_assert_eq(c.waiting, 0);
    cr_assert_eq(add(s, "k4", "v"), 4);
    canh_spool_close(s);
}

Test(spool, a_torn_tail_is_skipped_and_the_next_segment_still_read)
{
    canh_spool_t *s = sp_open(1 << 20, 0);
    add_range(s, 1, 3);
    canh_spool_close(s);
    s = sp_open(1 << 20, 0);
    add_range(s, 4, 5);
    canh_spool_close(s);
    off_t size = file_size(seg_path(1));
    cr_assert_eq(truncate(seg_path(1), size - 5), 0);   /* a crash in the middle of record 3 */

    s = sp_open(1 << 20, 0);
    EXPECT_RANGE(s, 1, 2);
    EXPECT_RANGE(s, 4, 5);
    EXPECT_END(s);
    canh_spool_counts_t c = counts(s);
    cr_assert_eq(c.corrupt, 1);
    cr_assert_eq(c.corrupt_bytes, rec_size("k3", "value of record 3") - 5);
    cr_assert_eq(c.waiting, 4);
    add_range(s, 6, 6);
    EXPECT_RANGE(s, 6, 6);
    canh_spool_close(s);
}

Test(spool, garbage_and_absurd_lengths_are_skipped)
{
    canh_spool_t *s = sp_open(1 << 20, 0);
    add_range(s, 1, 2);
    canh_spool_close(s);
    /* after record 2: a header claiming a 1 GiB value, then text */
    unsigned char junk[64] = { 'C', 'S', 'P', '1' };
    junk[19] = 0x40;   /* value length 0x40000000 */
    memcpy(junk + HDR, "CSP1 not a record at all, just text", 35);
    int fd = open(seg_path(1), O_WRONLY | O_APPEND);
    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, junk, sizeof(junk)), (ssize_t)sizeof(junk));
    close(fd);

    s = sp_open(1 << 20, 0);
    EXPECT_RANGE(s, 1, 2);
    add_range(s, 3, 3);
    EXPECT_RANGE(s, 3, 3);
    EXPECT_END(s);
    canh_spool_counts_t c = counts(s);
    cr_assert_eq(c.corrupt, 1);
    cr_assert_eq(c.corrupt_bytes, sizeof(junk));
    canh_spool_close(s);
}

Test(spool, a_damaged_or_missing_head_means_from_the_oldest_segment)
{
    canh_spool_t *s = sp_open(1 << 20, 0);
    add_range(s, 1, 5);
    EXPECT_RANGE(s, 1, 5);
    cr_assert_eq(canh_spool_ack(s, 3), CANH_OK);
    canh_spool_close(s);

    s = sp_open(1 << 20, 0);   /* the head as saved */
    EXPECT_RANGE(s, 4, 5);
    EXPECT_END(s);
    canh_spool_close(s);

    char head[96];
    snprintf(head, sizeof(head), "%s/head", spool_dir);
    flip_byte(head, 20);
    s = sp_open(1 << 20, 0);
    cr_assert_eq(counts(s).waiting, 5);
    EXPECT_RANGE(s, 1, 5);
    EXPECT_END(s);
    cr_assert_eq(add(s, "k", "v"), 6);
    canh_spool_close(s);

    cr_assert_eq(unlink(head), 0);
    s = sp_open(1 << 20, 0);
    EXPECT_RANGE(s, 1, 5);
    EXPECT_REC(s, 6, "k", "v");
    EXPECT_END(s);
    canh_spool_close(s);
}

Test(spool, empty_keys_and_values)
{
    canh_spool_t *s = sp_open(1 << 20, 0);
    uint64_t seq;
    cr_assert_eq(canh_spool_append(s, NULL, 0, "v", 1, 0, &seq), CANH_OK);
    cr_assert_eq(canh_spool_append(s, "k", 1, NULL, 0, 0, &seq), CANH_OK);
    cr_assert_eq(canh_spool_append(s, NULL, 0, NULL, 0, 0, &seq), CANH_OK);
    cr_assert_eq(seq, 3);
    for (int pass = 0; pass < 2; pass++) {
        EXPECT_REC(s, 1, "", "v");
        EXPECT_REC(s, 2, "k", "");
        EXPECT_REC(s, 3, "", "");
        EXPECT_END(s);
        canh_spool_close(s);
        s = sp_open(1 << 20, 0);
    }
    canh_spool_close(s);
}

Test(spool, a_one_mib_value_reads_back_whole)
{
    size_t n = 1 << 20;
    char *big = malloc(n);
    for (size_t i = 0; i < n; i++)
        big[i] = (char)(i * 31 % 251);
    canh_spool_t *s = sp_open(64 << 20, 0);
    cr_assert_eq(add(s, "small", "before"), 1);
    uint64_t seq;
    cr_assert_eq(canh_spool_append(s, "big", 3, big, n, 0, &seq), CANH_OK);
    cr_assert_eq(add(s, "small", "after"), 3);
    for (int pass = 0; pass < 2; pass++) {   /* from the live segment, then after a restart */
        canh_spool_rec_t r;
        EXPECT_REC(s, 1, "small", "before");
        cr_assert_eq(canh_spool_next(s, &r), 1);
        cr_assert_eq(r.seq, 2);
        cr_assert_eq(r.klen, 3);
        cr_assert_eq(r.vlen, n);
        cr_assert(memcmp(r.val, big, n) == 0);
        EXPECT_REC(s, 3, "small", "after");
        EXPECT_END(s);
        canh_spool_close(s);
        s = sp_open(64 << 20, 0);
    }
    canh_spool_close(s);
    free(big);
}

Test(spool, bad_options_and_arguments)
{
    canh_spool_t *s = NULL;
    canh_spool_opts_t o = { .dir = spool_dir, .max_bytes = 0 };
    cr_assert_eq(canh_spool_open(&s, &o, err, sizeof(err)), CANH_EINVAL);
    cr_assert_null(s);
    o = (canh_spool_opts_t){ .dir = "", .max_bytes = 1 << 20 };
    cr_assert_eq(canh_spool_open(&s, &o, err, sizeof(err)), CANH_EINVAL);
    cr_assert_eq(canh_spool_open(&s, NULL, err, sizeof(err)), CANH_EINVAL);

    char file[320], under[340];
    snprintf(file, sizeof(file), "%s/file", dir);
    FILE *fp = fopen(file, "w");
    fclose(fp);
    o = (canh_spool_opts_t){ .dir = file, .max_bytes = 1 << 20 };
    cr_assert_eq(canh_spool_open(&s, &o, err, sizeof(err)), CANH_EIO);
    cr_assert_not_null(strstr(err, file), "%s", err);
    cr_assert_not_null(strstr(err, "is not a folder"), "%s", err);
    snprintf(under, sizeof(under), "%s/sub/q", file);
    o.dir = under;
    cr_assert_eq(canh_spool_open(&s, &o, err, sizeof(err)), CANH_EIO);
    cr_assert_not_null(strstr(err, under), "%s", err);

    s = sp_open(1 << 20, 0);
    static char k[70000];
    cr_assert_eq(canh_spool_append(s, k, sizeof(k), "v", 1, 0, NULL), CANH_EINVAL);
    cr_assert_eq(canh_spool_append(s, k, 1, k, (size_t)65 << 20, 1, NULL), CANH_EINVAL);
    cr_assert_eq(canh_spool_append(s, NULL, 1, "v", 1, 0, NULL), CANH_EINVAL);
    cr_assert_eq(canh_spool_ack(s, 1), CANH_EINVAL, "nothing was read yet");
    cr_assert_eq(counts(s).appended, 0);
    canh_spool_close(s);
    canh_spool_close(NULL);
}

Test(spool, sync_syncs_only_when_something_changed)
{
    canh_spool_t *s = sp_open(1 << 20, 0);
    cr_assert_eq(canh_spool_sync(s), CANH_OK);   /* the new segment's folder entry, the head */
    uint64_t f = counts(s).fsyncs;
    cr_assert_gt(f, 0);
    cr_assert_eq(canh_spool_sync(s), CANH_OK);
    cr_assert_eq(counts(s).fsyncs, f, "nothing new: no fsync");
    add_range(s, 1, 3);
    cr_assert_eq(canh_spool_sync(s), CANH_OK);
    cr_assert_eq(counts(s).fsyncs, f + 1);
    cr_assert_eq(canh_spool_sync(s), CANH_OK);
    cr_assert_eq(counts(s).fsyncs, f + 1);
    EXPECT_RANGE(s, 1, 3);
    cr_assert_eq(canh_spool_ack(s, 3), CANH_OK);
    cr_assert_eq(canh_spool_sync(s), CANH_OK);
    cr_assert_eq(counts(s).fsyncs, f + 2, "the head file");
    canh_spool_close(s);
}

/* ---- an appender and a reader at once ---- */

#define RACE_N 100000

typedef struct race {
    canh_spool_t *s;
    int64_t deadline_ms;
    atomic_int done;
    char appender_err[200], reader_err[200];
    uint64_t got;
} race_t;

static void *race_append(void *p)
{
    race_t *c = p;
    char k[32], v[64];
    for (uint64_t i = 1; i <= RACE_N && !c->appender_err[0]; i++) {
        key_of(k, sizeof(k), i);
        val_of(v, sizeof(v), i);
        uint64_t seq = 0;
        int rc;
        while ((rc = canh_spool_append(c->s, k, strlen(k), v, strlen(v), 0, &seq)) == CANH_EAGAIN) {
            if (mono_ms() > c->deadline_ms) {
                snprintf(c->appender_err, sizeof(c->appender_err), "full at %llu past the deadline",
                         (unsigned long long)i);
                break;
            }
            canh_spool_wait_space(c->s, strlen(k) + strlen(v), 1000);
        }
        if (!c->appender_err[0] && (rc != CANH_OK || seq != i))
            snprintf(c->appender_err, sizeof(c->appender_err), "record %llu: rc %d seq %llu",
                     (unsigned long long)i, rc, (unsigned long long)seq);
    }
    atomic_fetch_add(&c->done, 1);
    return NULL;
}

static void *race_read(void *p)
{
    race_t *c = p;
    char k[32], v[64];
    uint64_t acked = 0;
    canh_spool_counts_t n;
    do {   /* start once the appender has filled the spool and waits for room */
        canh_spool_counts(c->s, &n);
        nap_us(100);
    } while (!n.full_waits && mono_ms() < c->deadline_ms);
    while (c->got < RACE_N) {
        canh_spool_rec_t r;
        int rc = canh_spool_next(c->s, &r);
        if (rc == 1) {
            uint64_t i = c->got + 1;
            key_of(k, sizeof(k), i);
            val_of(v, sizeof(v), i);
            if (r.seq != i || r.klen != strlen(k) || memcmp(r.key, k, r.klen) != 0
                || r.vlen != strlen(v) || memcmp(r.val, v, r.vlen) != 0) {
                snprintf(c->reader_err, sizeof(c->reader_err),
                         "record %llu: got seq %llu '%.*s' = '%.*s'", (unsigned long long)i,
                         (unsigned long long)r.seq, (int)r.klen, r.key ? r.key : "",
                         (int)r.vlen, r.val);
                break;
            }
            c->got = i;
            if (i % 64 == 0 && canh_spool_ack(c->s, i) == CANH_OK)
                acked = i;
            continue;
        }
        if (rc != 0) {
            snprintf(c->reader_err, sizeof(c->reader_err), "next: %d", rc);
            break;
        }
        if (acked < c->got && canh_spool_ack(c->s, c->got) == CANH_OK)   /* idle: ack all */
            acked = c->got;
        if (mono_ms() > c->deadline_ms) {
            snprintf(c->reader_err, sizeof(c->reader_err), "only %llu records by the deadline",
                     (unsigned long long)c->got);
            break;
        }
        nap_us(50);   /* (the API has no wait for new records: poll) */
    }
    if (!c->reader_err[0] && acked < c->got && canh_spool_ack(c->s, c->got) != CANH_OK)
        snprintf(c->reader_err, sizeof(c->reader_err), "the last ack failed");
    atomic_fetch_add(&c->done, 1);
    return NULL;
}

Test(spool, an_appender_and_a_reader_at_once_see_every_record_once_in_order, .timeout = 90)
{
    canh_spool_t *s = sp_open(1 << 20, 64 << 10);   /* the cap makes the appender wait for acks */
    race_t c = { .s = s, .deadline_ms = mono_ms() + 60000 };
    pthread_t ta, tr;
    cr_assert_eq(pthread_create(&tr, NULL, race_read, &c), 0);
    cr_assert_eq(pthread_create(&ta, NULL, race_append, &c), 0);
    int sync_rc = CANH_OK, over = 0;
    while (atomic_load(&c.done) < 2) {   /* sync and counts from a third thread */
        int rc = canh_spool_sync(s);
        if (rc != CANH_OK)
            sync_rc = rc;
        canh_spool_counts_t k = counts(s);
        over |= k.acked > k.appended;
        nap_us(2000);
    }
    pthread_join(ta, NULL);
    pthread_join(tr, NULL);
    cr_assert_eq(sync_rc, CANH_OK);
    cr_assert_not(over, "never more acknowledged than appended");
    cr_assert_eq(c.appender_err[0], '\0', "appender: %s", c.appender_err);
    cr_assert_eq(c.reader_err[0], '\0', "reader: %s", c.reader_err);
    cr_assert_eq(c.got, RACE_N);
    canh_spool_counts_t k = counts(s);
    cr_assert_eq(k.appended, RACE_N);
    cr_assert_eq(k.acked, RACE_N);
    cr_assert_eq(k.waiting, 0);
    cr_assert_eq(k.corrupt, 0);
    cr_assert_eq(k.segments, 1);
    cr_assert_gt(k.full_waits, 0, "the appender waited for room");
    EXPECT_END(s);
    canh_spool_close(s);
}

Test(spool, acks_far_behind_the_reader_still_hold)
{
    /* More records read ahead of the acks than the spool remembers
     * positions for: the saved head lags, the seq check does the rest. */
    canh_spool_t *s = sp_open(64 << 20, 0);
    add_range(s, 1, 20000);
    EXPECT_RANGE(s, 1, 20000);
    cr_assert_eq(canh_spool_ack(s, 15000), CANH_OK);
    canh_spool_rewind(s);
    EXPECT_RANGE(s, 15001, 20000);
    EXPECT_END(s);
    cr_assert_eq(counts(s).waiting, 5000);
    canh_spool_close(s);

    s = sp_open(64 << 20, 0);
    cr_assert_eq(counts(s).waiting, 5000);
    EXPECT_RANGE(s, 15001, 20000);
    EXPECT_END(s);
    canh_spool_close(s);
}

Test(spool, a_second_process_on_the_same_spool_is_refused)
{
    canh_spool_t *s = sp_open(1 << 20, 0), *t = NULL;
    add(s, "k", "one");
    canh_spool_opts_t o = { .dir = spool_dir, .max_bytes = 1 << 20 };
    cr_assert_eq(canh_spool_open(&t, &o, err, sizeof(err)), CANH_EIO);
    cr_assert_null(t);
    cr_assert_not_null(strstr(err, "in use by another canh process"), "%s", err);
    canh_spool_close(s);
    t = sp_open(1 << 20, 0);   /* free again once closed */
    cr_assert_eq(counts(t).waiting, 1);
    canh_spool_close(t);
}

/* The victim a planted link points at: a file canh must never write. */
#define VICTIM_TEXT "root:x:0:0:root:/root:/bin/bash\n"

static void make_victim(char *path, size_t len)
{
    snprintf(path, len, "%s/victim", dir);
    FILE *fp = fopen(path, "w");
    cr_assert_not_null(fp);
    fputs(VICTIM_TEXT, fp);
    fclose(fp);
}

static void victim_unchanged(const char *path)
{
    char b[256] = "";
    FILE *fp = fopen(path, "r");
    cr_assert_not_null(fp);
    size_t n = fread(b, 1, sizeof(b) - 1, fp);
    b[n] = '\0';
    fclose(fp);
    cr_assert_str_eq(b, VICTIM_TEXT, "the file the link points at was written");
}

/* A symbolic link planted as the spool's head file: the spool does not
 * open (the error names the file and says it is a link) and nothing is
 * written through it. */
Test(spool, a_link_planted_as_the_head_is_not_written_through)
{
    char victim[320], head[320];
    make_victim(victim, sizeof(victim));
    cr_assert_eq(mkdir(spool_dir, 0700), 0);
    snprintf(head, sizeof(head), "%s/head", spool_dir);
    cr_assert_eq(symlink(victim, head), 0);
    canh_spool_t *s = NULL;
    canh_spool_opts_t o = { .dir = spool_dir, .max_bytes = 1 << 20 };
    cr_assert_neq(canh_spool_open(&s, &o, err, sizeof(err)), CANH_OK);
    cr_assert_null(s);
    cr_assert_not_null(strstr(err, head), "%s", err);
    cr_assert_not_null(strstr(err, "symbolic link"), "%s", err);
    victim_unchanged(victim);
}

/* A link named like a segment is neither read nor written through: the
 * spool opens, names it, and its records go on in files of its own. */
Test(spool, a_link_named_like_a_segment_is_left_alone)
{
    char victim[320], seg[360];
    make_victim(victim, sizeof(victim));
    canh_spool_t *s = sp_open(1 << 20, 0);
    add(s, "k", "one");
    canh_spool_close(s);
    snprintf(seg, sizeof(seg), "%s/seg-%020llu.spool", spool_dir, 5ULL);
    cr_assert_eq(symlink(victim, seg), 0);
    s = sp_open(1 << 20, 0);
    cr_assert_eq(counts(s).corrupt, 0, "the file the link points at was read as a segment");
    for (int i = 0; i < 10; i++)
        add(s, "k", "more");
    canh_spool_close(s);
    victim_unchanged(victim);
    struct stat st;
    cr_assert_eq(lstat(seg, &st), 0, "the link is left for the operator to see");
    s = sp_open(1 << 20, 0);
    cr_assert_eq(counts(s).waiting, 11);
    cr_assert_eq(counts(s).corrupt, 0);
    canh_spool_close(s);
}

/* A spool folder another user could write is refused, naming it, its
 * owner and mode; a link in place of the folder is not followed. */
Test(spool, a_folder_others_can_write_is_refused)
{
    canh_spool_t *s = NULL;
    canh_spool_opts_t o = { .dir = spool_dir, .max_bytes = 1 << 20 };
    cr_assert_eq(mkdir(spool_dir, 0700), 0);
    cr_assert_eq(chmod(spool_dir, 0777), 0);
    cr_assert_neq(canh_spool_open(&s, &o, err, sizeof(err)), CANH_OK);
    cr_assert_null(s);
    cr_assert(strstr(err, spool_dir) && strstr(err, "mode 0777") && strstr(err, "every user"),
              "%s", err);
    cr_assert_eq(chmod(spool_dir, 0730), 0);
    cr_assert_neq(canh_spool_open(&s, &o, err, sizeof(err)), CANH_OK);
    cr_assert(strstr(err, "mode 0730") && strstr(err, "its group"), "%s", err);
    cr_assert_eq(chmod(spool_dir, 0700), 0);
    if (geteuid() == 0) {
        cr_assert_eq(chown(spool_dir, 4321, 4321), 0);
        cr_assert_neq(canh_spool_open(&s, &o, err, sizeof(err)), CANH_OK);
        cr_assert(strstr(err, "not by root"), "%s", err);
        cr_assert_eq(chown(spool_dir, 0, 0), 0);
    }
    char link[320], real[320];
    snprintf(real, sizeof(real), "%s/real", dir);
    snprintf(link, sizeof(link), "%s/link", dir);
    cr_assert_eq(mkdir(real, 0700), 0);
    cr_assert_eq(symlink(real, link), 0);
    o.dir = link;
    cr_assert_neq(canh_spool_open(&s, &o, err, sizeof(err)), CANH_OK);
    cr_assert(strstr(err, link) && strstr(err, "is a symbolic link"), "%s", err);
    DIR *d = opendir(real);
    int entries = 0;
    for (struct dirent *e; (e = readdir(d));)
        entries += e->d_name[0] != '.';
    closedir(d);
    cr_assert_eq(entries, 0, "nothing made in the folder the link points at");
    canh_spool_close(sp_open(1 << 20, 0));   /* canh's own again: taken */
}
