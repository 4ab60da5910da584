/*
 * sinks/spool.c -- the on-disk queue of Kafka-bound alerts (see spool.h).
 *
 * Threads: the Kafka sink's appending thread (canh_spool_append,
 * canh_spool_wait_space), its reading thread (canh_spool_next,
 * canh_spool_rewind, canh_spool_ack: delivery reports), and any thread for
 * canh_spool_sync and canh_spool_counts. One mutex (mu) guards the segment
 * table, the published ends, the seqs the two sides share and the counters;
 * it is held for bookkeeping only, never across a read, write or fsync.
 *
 * Appending: one writev(2) per record to the live segment (the last one,
 * O_APPEND); only after the whole record is written is the new end
 * published (segs[last].size, under mu), and the reader never reads past
 * a published end, so it never sees half a record. A short or failed write
 * is cut off again with ftruncate. The live segment is sealed (and
 * fdatasync'd, so a later canh_spool_sync need only sync the live one)
 * when the next record would take it past segment_bytes.
 *
 * Reading: pread through a buffer (1 MiB, grown for a bigger record) from
 * the cursor (segment, offset). Every record's CRC is checked. Damage
 * (bad magic, bad CRC, a length past the end or over 64 MiB) is one region
 * that ends where the next valid header (magic and CRC) begins, or at the
 * segment's end; regions are counted once even when read again after a
 * rewind (`mark`: how far damage has been counted).
 *
 * Segments partition the seqs: a segment named N holds seqs from N up to
 * the next segment's name, because a segment is named by the next seq at
 * the time it is made, and at open the next seq is one more than the
 * highest valid seq on disk (and never below the head's).
 *
 * The head (first record not acknowledged) is a position that is never
 * past that record: exact when the acknowledged seq is one the reader
 * remembers (a ring of the positions after records it returned), else the
 * start of the segment that holds seq + 1. Records before the head's seq
 * are skipped when read, so a lagging position only costs a re-read.
 *
 * Seqs lost to damage are kept as gaps (ranges) so that `waiting` and
 * `acked` count records, not seq numbers: waiting = next seq - head seq -
 * lost seqs in between.
 *
 * The folder must be canh's own (canh_dir_private: not a symbolic link,
 * owned by root or canh's user, writable by no one else); every file in it
 * is opened relative to its descriptor and never through a symbolic link,
 * and a link named like a segment is named in the log and left alone.
 */
#include "spool.h"

#include "../engine/canh.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#define HDR           24                  /* record header */
#define MAX_BODY      (64u << 20)         /* key + value: more is damage */
#define HEAD_LEN      36
#define HEAD_VERSION  1
#define READ_CHUNK    (1u << 20)
#define RING          8192                /* remembered positions of returned records */
#define SEG_NAME_LEN  30                  /* "seg-" 20 digits ".spool" */
#define MIN_SEG       (64u << 10)
#define MAX_SEG       (64u << 20)

static const unsigned char REC_MAGIC[4] = { 'C', 'S', 'P', '1' };
static const unsigned char HEAD_MAGIC[4] = { 'C', 'S', 'P', 'H' };

typedef struct seg {
    uint64_t first;             /* names the file */
    uint64_t size;              /* bytes; for the live segment, the published end */
} seg_t;

typedef struct pos {
    uint64_t seg, off;
} pos_t;

typedef struct after {
    uint64_t seq;
    pos_t at;                   /* just past record seq */
} after_t;

typedef struct gap {
    uint64_t from, to;          /* seqs [from, to) lost to damage */
} gap_t;

struct canh_spool {
    pthread_mutex_t mu;
    pthread_cond_t space;       /* signalled by ack */

    /* under mu */
    seg_t *segs;                /* by first seq; the last one is live */
    size_t nsegs, capsegs;
    uint64_t next_seq;          /* written by the appender only */
    uint64_t head_seq;          /* written by the reader only (ack) */
    uint64_t missing;           /* lost seqs in [head_seq, next_seq) */
    uint64_t bytes;
    int dirty, dir_dirty, head_dirty;   /* what canh_spool_sync has to sync */
    int live_fd;                /* swapped by the appender */
    canh_spool_counts_t c;      /* waiting, bytes and segments are worked out */

    uint64_t max_bytes, seg_bytes;
    int dirfd, head_fd;
    char *dir;

    /* appender only */
    uint64_t live_size;
    int broken;                 /* a failed write could not be cut off: seal this segment */

    /* reader only */
    pos_t cur, head, mark;
    uint64_t hw;                /* highest seq ever returned */
    uint64_t pass_last;         /* last seq returned since the last rewind */
    int rfd;
    uint64_t rfd_seg;
    unsigned char *buf;
    size_t cap, buf_len;
    uint64_t buf_off;
    after_t last;
    int have_last;
    after_t *ring;
    size_t ring_at, ring_n;
    gap_t *gaps;
    size_t ngaps, capgaps;
    int opening;                /* the scan at open */
    uint64_t max_seen;          /* highest valid seq found by that scan */
};

/* ---- little-endian fields ---- */

static void put16(unsigned char *p, uint16_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
}

static void put32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static void put64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint16_t get16(const unsigned char *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t get32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

/* ---- small helpers ---- */

static void seg_name(char out[SEG_NAME_LEN + 1], uint64_t first)
{
    snprintf(out, SEG_NAME_LEN + 1, "seg-%020llu.spool", (unsigned long long)first);
}

/* 1 and *first if name is a segment file's name. */
static int parse_seg_name(const char *name, uint64_t *first)
{
    if (strlen(name) != SEG_NAME_LEN || strncmp(name, "seg-", 4) != 0
        || strcmp(name + 24, ".spool") != 0)
        return 0;
    uint64_t v = 0;
    for (int i = 4; i < 24; i++) {
        if (name[i] < '0' || name[i] > '9')
            return 0;
        unsigned d = (unsigned)(name[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return 0;
        v = v * 10 + d;
    }
    *first = v;
    return 1;
}

static int pos_lt(pos_t a, pos_t b)
{
    return a.seg < b.seg || (a.seg == b.seg && a.off < b.off);
}

/* Index of the segment named first, or -1. Under mu. */
static long find_seg(const canh_spool_t *s, uint64_t first)
{
    size_t lo = 0, hi = s->nsegs;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->segs[mid].first < first)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < s->nsegs && s->segs[lo].first == first ? (long)lo : -1;
}

/* Index of the last segment named at most seq, or -1. Under mu. */
static long seg_holding(const canh_spool_t *s, uint64_t seq)
{
    size_t lo = 0, hi = s->nsegs;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->segs[mid].first <= seq)
            lo = mid + 1;
        else
            hi = mid;
    }
    return (long)lo - 1;
}

/* Adds a segment at the end. Under mu (or before the threads start). */
static int push_seg(canh_spool_t *s, uint64_t first, uint64_t size)
{
    if (s->nsegs == s->capsegs) {
        size_t cap = s->capsegs ? s->capsegs * 2 : 16;
        seg_t *n = realloc(s->segs, cap * sizeof(*n));
        if (!n)
            return CANH_ENOMEM;
        s->segs = n;
        s->capsegs = cap;
    }
    s->segs[s->nsegs].first = first;
    s->segs[s->nsegs].size = size;
    s->nsegs++;
    s->bytes += size;
    return CANH_OK;
}

static void remove_seg(canh_spool_t *s, size_t i)
{
    s->bytes -= s->segs[i].size;
    memmove(s->segs + i, s->segs + i + 1, (s->nsegs - i - 1) * sizeof(seg_t));
    s->nsegs--;
}

static int cmp_seg(const void *a, const void *b)
{
    const seg_t *x = a, *y = b;
    return x->first < y->first ? -1 : x->first > y->first;
}

/* Nothing waiting, or len more bytes fit under the cap. Under mu. */
static int fits(const canh_spool_t *s, uint64_t len)
{
    return s->next_seq == s->head_seq + s->missing
           || (len <= s->max_bytes && s->bytes <= s->max_bytes - len);
}

/* ---- the head file ---- */

static int write_head(canh_spool_t *s)
{
    unsigned char b[HEAD_LEN];
    memcpy(b, HEAD_MAGIC, 4);
    put32(b + 4, HEAD_VERSION);
    put64(b + 8, s->head.seg);
    put64(b + 16, s->head.off);
    put64(b + 24, s->head_seq);
    put32(b + 32, (uint32_t)crc32(0L, b, HEAD_LEN - 4));
    ssize_t n = pwrite(s->head_fd, b, HEAD_LEN, 0);
    if (n != HEAD_LEN) {
        if (n >= 0)
            errno = ENOSPC;
        return CANH_EIO;
    }
    pthread_mutex_lock(&s->mu);
    s->head_dirty = 1;
    pthread_mutex_unlock(&s->mu);
    return CANH_OK;
}

/* 1 with the saved head if the head file holds a valid one, else 0. */
static int read_head(canh_spool_t *s, pos_t *at, uint64_t *seq)
{
    unsigned char b[HEAD_LEN];
    if (pread(s->head_fd, b, HEAD_LEN, 0) != HEAD_LEN || memcmp(b, HEAD_MAGIC, 4) != 0
        || get32(b + 4) != HEAD_VERSION || get32(b + 32) != (uint32_t)crc32(0L, b, HEAD_LEN - 4))
        return 0;
    at->seg = get64(b + 8);
    at->off = get64(b + 16);
    *seq = get64(b + 24);
    return 1;
}

/* ---- reading ---- */

/* Opens the reader on segment `first` (the buffer is kept if it is already). */
static int reader_on(canh_spool_t *s, uint64_t first)
{
    if (s->rfd >= 0 && s->rfd_seg == first)
        return CANH_OK;
    if (s->rfd >= 0)
        close(s->rfd);
    s->rfd = -1;
    s->buf_off = 0;
    s->buf_len = 0;
    if (s->cap > 4 * READ_CHUNK) {   /* a huge record is behind us: give the memory back */
        unsigned char *b = malloc(READ_CHUNK);
        if (b) {
            free(s->buf);
            s->buf = b;
            s->cap = READ_CHUNK;
        }
    }
    char name[SEG_NAME_LEN + 1];
    seg_name(name, first);
    int fd = canh_openat_nofollow(s->dirfd, name, O_RDONLY, 0);
    if (fd < 0)
        return CANH_EIO;
    s->rfd = fd;
    s->rfd_seg = first;
    return CANH_OK;
}

static void reader_off(canh_spool_t *s)
{
    if (s->rfd >= 0)
        close(s->rfd);
    s->rfd = -1;
    s->buf_len = 0;
}

/*
 * Makes bytes [off, off + need) of the reader's segment be in the buffer,
 * reading no further than end. Returns how many bytes from off the buffer
 * holds (fewer than need if the file ends first), or CANH_EIO / CANH_ENOMEM.
 */
static long long fill(canh_spool_t *s, uint64_t off, size_t need, uint64_t end)
{
    if (off >= s->buf_off && off + need <= s->buf_off + s->buf_len)
        return (long long)(s->buf_off + s->buf_len - off);
    if (need > s->cap) {
        size_t cap = need + READ_CHUNK;
        unsigned char *b = malloc(cap);
        if (!b)
            return CANH_ENOMEM;
        free(s->buf);
        s->buf = b;
        s->cap = cap;
    }
    size_t want = end - off < s->cap ? (size_t)(end - off) : s->cap, got = 0;
    s->buf_off = off;
    s->buf_len = 0;
    while (got < want) {
        ssize_t n = pread(s->rfd, s->buf + got, want - got, (off_t)(off + got));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return CANH_EIO;
        if (n == 0)
            break;
        got += (size_t)n;
    }
    s->buf_len = got;
    return (long long)got;
}

/* 1 if a valid record starts at off (*len: its size), 0 if not, < 0 on a read error. */
static int valid_at(canh_spool_t *s, uint64_t off, uint64_t end, size_t *len)
{
    if (end - off < HDR)
        return 0;
    long long n = fill(s, off, HDR, end);
    if (n < 0)
        return (int)n;
    if (n < HDR)
        return 0;
    const unsigned char *h = s->buf + (off - s->buf_off);
    if (memcmp(h, REC_MAGIC, 4) != 0)
        return 0;
    uint64_t body = (uint64_t)get32(h + 16) + get16(h + 20);
    if (body > MAX_BODY || body > end - off - HDR)
        return 0;
    n = fill(s, off, HDR + (size_t)body, end);
    if (n < 0)
        return (int)n;
    if ((uint64_t)n < HDR + body)
        return 0;
    h = s->buf + (off - s->buf_off);
    if ((uint32_t)crc32(0L, h + 8, (uInt)(HDR - 8 + body)) != get32(h + 4))
        return 0;
    *len = HDR + (size_t)body;
    return 1;
}

/* Where the next valid record after off begins in [off + 1, end), else end. */
static int scan(canh_spool_t *s, uint64_t off, uint64_t end, uint64_t *found)
{
    uint64_t p = off + 1;
    while (p <= end && end - p >= HDR) {
        long long n = fill(s, p, HDR, end);
        if (n < 0)
            return (int)n;
        if (n < HDR)
            break;
        const unsigned char *b = s->buf + (p - s->buf_off);
        size_t span = (size_t)n - HDR + 1;   /* header starts the buffer holds */
        const unsigned char *c = memchr(b, REC_MAGIC[0], span);
        if (!c) {
            p += span;
            continue;
        }
        p += (uint64_t)(c - b);
        size_t len;
        int v = valid_at(s, p, end, &len);
        if (v < 0)
            return v;
        if (v) {
            *found = p;
            return CANH_OK;
        }
        p++;
    }
    *found = end;
    return CANH_OK;
}

/* Counts the damaged region [from.off, to) of segment from.seg, once. */
static void damaged(canh_spool_t *s, pos_t from, uint64_t to)
{
    uint64_t n;
    if (pos_lt(from, s->mark)) {   /* read before: only what lies past the mark is new */
        if (from.seg != s->mark.seg || to <= s->mark.off)
            return;
        n = to - s->mark.off;
    } else {
        n = to - from.off;
    }
    pthread_mutex_lock(&s->mu);
    if (!pos_lt(from, s->mark))
        s->c.corrupt++;
    s->c.corrupt_bytes += n;
    pthread_mutex_unlock(&s->mu);
    s->mark.seg = from.seg;
    s->mark.off = to;
}

/* Bookkeeping for a record returned for the first time or again. */
static void returned(canh_spool_t *s, uint64_t seq)
{
    if (seq > s->hw) {
        if (seq > s->hw + 1) {   /* the seqs in between were lost to damage */
            gap_t g = { s->hw + 1, seq };
            if (s->ngaps == s->capgaps) {
                size_t cap = s->capgaps ? s->capgaps * 2 : 8;
                gap_t *n = realloc(s->gaps, cap * sizeof(*n));
                if (n) {
                    s->gaps = n;
                    s->capgaps = cap;
                }
            }
            if (s->ngaps < s->capgaps) {   /* (without memory they count as waiting) */
                s->gaps[s->ngaps++] = g;
                pthread_mutex_lock(&s->mu);
                s->missing += g.to - g.from;
                pthread_mutex_unlock(&s->mu);
            }
        }
        s->hw = seq;
    }
    s->last.seq = seq;
    s->last.at = s->cur;
    s->have_last = 1;
    if (s->opening || s->ring_n == RING
        || (s->ring_n && s->ring[(s->ring_at + s->ring_n - 1) % RING].seq >= seq))
        return;
    s->ring[(s->ring_at + s->ring_n) % RING] = s->last;
    s->ring_n++;
}

int canh_spool_next(canh_spool_t *s, canh_spool_rec_t *r)
{
    if (!s || !r)
        return CANH_EINVAL;
    for (;;) {
        pthread_mutex_lock(&s->mu);
        long i = find_seg(s, s->cur.seg);
        if (i < 0) {   /* cannot happen (the cursor is never behind the head): go on after it */
            i = seg_holding(s, s->cur.seg) + 1;
            if ((size_t)i >= s->nsegs) {
                pthread_mutex_unlock(&s->mu);
                return 0;
            }
            s->cur.seg = s->segs[i].first;
            s->cur.off = 0;
        }
        uint64_t end = s->segs[i].size;
        int sealed = (size_t)i + 1 < s->nsegs;
        uint64_t following = sealed ? s->segs[i + 1].first : 0;
        pthread_mutex_unlock(&s->mu);

        if (s->cur.off >= end) {
            if (!sealed)
                return 0;
            s->cur.seg = following;
            s->cur.off = 0;
            continue;
        }
        if (reader_on(s, s->cur.seg) != CANH_OK)
            return CANH_EIO;
        size_t len;
        int v = valid_at(s, s->cur.off, end, &len);
        if (v < 0)
            return v == CANH_ENOMEM ? CANH_ENOMEM : CANH_EIO;
        if (!v) {
            uint64_t to = end;
            int rc = scan(s, s->cur.off, end, &to);
            if (rc < 0)
                return rc == CANH_ENOMEM ? CANH_ENOMEM : CANH_EIO;
            damaged(s, s->cur, to);
            s->cur.off = to;
            continue;
        }
        const unsigned char *h = s->buf + (s->cur.off - s->buf_off);
        uint64_t seq = get64(h + 8);
        s->cur.off += len;
        if (s->opening && seq > s->max_seen)
            s->max_seen = seq;
        if (seq < s->head_seq || seq <= s->pass_last)   /* acknowledged, or out of order */
            continue;
        s->pass_last = seq;
        size_t klen = get16(h + 20);
        r->seq = seq;
        r->klen = klen;
        r->key = klen ? (const char *)h + HDR : NULL;
        r->vlen = get32(h + 16);
        r->val = (const char *)h + HDR + klen;
        returned(s, seq);
        return 1;
    }
}

void canh_spool_rewind(canh_spool_t *s)
{
    if (!s)
        return;
    s->cur = s->head;
    s->pass_last = s->head_seq - 1;
}

/* ---- acknowledging ---- */

/* Drops the lost seqs below seq from the gaps; returns how many. */
static uint64_t trim_gaps(canh_spool_t *s, uint64_t seq)
{
    uint64_t n = 0;
    size_t k = 0;
    while (k < s->ngaps && s->gaps[k].from < seq) {
        gap_t *g = &s->gaps[k];
        uint64_t to = g->to < seq ? g->to : seq;
        n += to - g->from;
        g->from = to;
        if (g->from < g->to)
            break;
        k++;
    }
    if (k) {
        memmove(s->gaps, s->gaps + k, (s->ngaps - k) * sizeof(gap_t));
        s->ngaps -= k;
    }
    return n;
}

/* Deletes the segments named before `first` (never the live one). */
static void delete_before(canh_spool_t *s, uint64_t first)
{
    for (;;) {
        pthread_mutex_lock(&s->mu);
        if (s->nsegs < 2 || s->segs[0].first >= first) {
            pthread_mutex_unlock(&s->mu);
            return;
        }
        uint64_t victim = s->segs[0].first;
        remove_seg(s, 0);
        s->dir_dirty = 1;
        pthread_mutex_unlock(&s->mu);
        char name[SEG_NAME_LEN + 1];
        seg_name(name, victim);
        if (unlinkat(s->dirfd, name, 0) != 0 && errno != ENOENT)
            CANH_WARN("spool '%s': cannot delete '%s': %s", s->dir, name, strerror(errno));
    }
}

int canh_spool_ack(canh_spool_t *s, uint64_t seq)
{
    if (!s)
        return CANH_EINVAL;
    if (seq < s->head_seq)
        return CANH_OK;
    if (seq > s->hw)   /* never returned by canh_spool_next */
        return CANH_EINVAL;

    /* The new head: the furthest position known not to be past the first
     * record after seq. */
    pos_t at = s->head;
    while (s->ring_n && s->ring[s->ring_at].seq <= seq) {
        if (pos_lt(at, s->ring[s->ring_at].at))
            at = s->ring[s->ring_at].at;
        s->ring_at = (s->ring_at + 1) % RING;
        s->ring_n--;
    }
    if (s->have_last && s->last.seq == seq && pos_lt(at, s->last.at))
        at = s->last.at;
    uint64_t old = s->head_seq, lost = trim_gaps(s, seq + 1);

    pthread_mutex_lock(&s->mu);
    long i = seg_holding(s, seq + 1);
    if (i >= 0 && pos_lt(at, (pos_t){ s->segs[i].first, 0 }))
        at = (pos_t){ s->segs[i].first, 0 };
    i = find_seg(s, at.seg);   /* at a sealed segment's end: the next one's start */
    while (i >= 0 && (size_t)i + 1 < s->nsegs && at.off >= s->segs[i].size) {
        i++;
        at = (pos_t){ s->segs[i].first, 0 };
    }
    s->head_seq = seq + 1;
    s->missing -= lost;
    s->c.acked += seq + 1 - old - lost;
    pthread_mutex_unlock(&s->mu);

    s->head = at;
    if (pos_lt(s->cur, at))   /* the reader never stays behind the head */
        s->cur = at;
    if (s->pass_last < seq)
        s->pass_last = seq;

    int rc = write_head(s);
    if (rc == CANH_OK)   /* (if the head was not saved, keep what the old one names) */
        delete_before(s, at.seg);
    pthread_mutex_lock(&s->mu);
    pthread_cond_broadcast(&s->space);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

/* ---- appending ---- */

/* Seals the live segment and starts the next one. */
static int rotate(canh_spool_t *s)
{
    if (s->live_size == 0) {   /* broken but empty: try to cut it off again */
        if (ftruncate(s->live_fd, 0) != 0)
            return CANH_EIO;
        s->broken = 0;
        return CANH_OK;
    }
    pthread_mutex_lock(&s->mu);
    int dirty = s->dirty;
    pthread_mutex_unlock(&s->mu);
    if (dirty) {   /* a sealed segment is durable: canh_spool_sync syncs only the live one */
        int rc = fdatasync(s->live_fd);
        pthread_mutex_lock(&s->mu);
        s->c.fsyncs++;
        pthread_mutex_unlock(&s->mu);
        if (rc != 0)
            return CANH_EIO;
    }
    char name[SEG_NAME_LEN + 1];
    seg_name(name, s->next_seq);
    int fd = canh_openat_nofollow(s->dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_APPEND, 0600);
    if (fd < 0)
        return CANH_EIO;
    pthread_mutex_lock(&s->mu);
    int rc = push_seg(s, s->next_seq, 0);
    int old = s->live_fd;
    if (rc == CANH_OK) {
        s->live_fd = fd;
        s->dir_dirty = 1;
        if (dirty)
            s->dirty = 0;
    }
    pthread_mutex_unlock(&s->mu);
    if (rc != CANH_OK) {
        close(fd);
        unlinkat(s->dirfd, name, 0);
        return rc;
    }
    close(old);
    s->live_size = 0;
    s->broken = 0;
    return CANH_OK;
}

#define GROUP 256   /* records per writev: 3 iovecs each, under IOV_MAX */

static int rec_ok(const canh_spool_rec_t *r)
{
    return !(r->klen && !r->key) && !(r->vlen && !r->val) && r->klen <= UINT16_MAX &&
           r->vlen <= MAX_BODY && r->klen + r->vlen <= MAX_BODY;
}

int canh_spool_append_many(canh_spool_t *s, const canh_spool_rec_t *recs, size_t n, int force,
                           size_t *done, uint64_t *first_seq)
{
    size_t i = 0;
    int rc = CANH_OK;
    if (first_seq && s)
        *first_seq = s->next_seq;
    while (s && i < n) {
        if (!rec_ok(&recs[i])) {
            rc = CANH_EINVAL;
            break;
        }
        uint64_t len0 = HDR + recs[i].klen + recs[i].vlen;
        if (s->broken || (s->live_size && s->live_size + len0 > s->seg_bytes)) {
            if ((rc = rotate(s)) != CANH_OK)
                break;
        }
        /* the group: what fits under the cap and in this segment */
        pthread_mutex_lock(&s->mu);
        int empty = s->next_seq == s->head_seq + s->missing;
        uint64_t bytes = s->bytes;
        pthread_mutex_unlock(&s->mu);
        size_t j = i;
        uint64_t add = 0;
        while (j < n && j - i < GROUP && rec_ok(&recs[j])) {
            uint64_t len = HDR + recs[j].klen + recs[j].vlen;
            int fit = force || (empty && j == i) ||
                      (len <= s->max_bytes && bytes + add <= s->max_bytes - len);
            if (!fit || (j > i && s->live_size + add + len > s->seg_bytes))
                break;
            add += len;
            j++;
        }
        if (j == i) {
            rc = CANH_EAGAIN;   /* (acks only make room: the answer stays true) */
            break;
        }
        unsigned char h[GROUP][HDR];
        struct iovec iov[GROUP * 3];
        int nio = 0;
        for (size_t k = i; k < j; k++) {
            const canh_spool_rec_t *r = &recs[k];
            unsigned char *hk = h[k - i];
            memcpy(hk, REC_MAGIC, 4);
            put64(hk + 8, s->next_seq + (k - i));
            put32(hk + 16, (uint32_t)r->vlen);
            put16(hk + 20, (uint16_t)r->klen);
            put16(hk + 22, 0);
            uLong crc = crc32(0L, hk + 8, HDR - 8);
            if (r->klen)
                crc = crc32(crc, (const Bytef *)r->key, (uInt)r->klen);
            if (r->vlen)
                crc = crc32(crc, (const Bytef *)r->val, (uInt)r->vlen);
            put32(hk + 4, (uint32_t)crc);
            iov[nio++] = (struct iovec){ hk, HDR };
            if (r->klen)
                iov[nio++] = (struct iovec){ (void *)(uintptr_t)r->key, r->klen };
            if (r->vlen)
                iov[nio++] = (struct iovec){ (void *)(uintptr_t)r->val, r->vlen };
        }
        ssize_t w;
        do
            w = writev(s->live_fd, iov, nio);
        while (w < 0 && errno == EINTR);
        if (w != (ssize_t)add) {   /* cut the piece off so that the segment stays valid */
            int e = errno;
            if (w >= 0) {   /* short: one more byte (cut off too) tells why (ENOSPC, EDQUOT ...) */
                e = ENOSPC;
                if (write(s->live_fd, "", 1) < 0 && errno != EINTR)
                    e = errno;
            }
            if (ftruncate(s->live_fd, (off_t)s->live_size) != 0)
                s->broken = 1;
            errno = e;
            rc = CANH_EIO;
            break;
        }
        s->live_size += add;
        pthread_mutex_lock(&s->mu);
        s->segs[s->nsegs - 1].size = s->live_size;   /* published: the reader may read them now */
        s->bytes += add;
        s->next_seq += j - i;
        s->c.appended += j - i;
        s->dirty = 1;
        pthread_mutex_unlock(&s->mu);
        i = j;
    }
    if (!s)
        rc = CANH_EINVAL;
    if (done)
        *done = i;
    return rc;
}

int canh_spool_append(canh_spool_t *s, const void *key, size_t klen, const void *val,
                      size_t vlen, int force, uint64_t *seq)
{
    canh_spool_rec_t r = { .key = key, .klen = klen, .val = val, .vlen = vlen };
    return canh_spool_append_many(s, &r, 1, force, NULL, seq);
}

int canh_spool_wait_space(canh_spool_t *s, size_t need, int timeout_ms)
{
    if (!s)
        return 0;
    uint64_t len = need > MAX_BODY ? UINT64_MAX : (uint64_t)need + HDR;
    pthread_mutex_lock(&s->mu);
    int ok = fits(s, len);
    if (!ok && timeout_ms != 0) {
        s->c.full_waits++;
        struct timespec dl;
        clock_gettime(CLOCK_MONOTONIC, &dl);
        if (timeout_ms > 0) {
            dl.tv_sec += timeout_ms / 1000;
            dl.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
            if (dl.tv_nsec >= 1000000000L) {
                dl.tv_sec++;
                dl.tv_nsec -= 1000000000L;
            }
        }
        while (!(ok = fits(s, len))) {
            int rc = timeout_ms < 0 ? pthread_cond_wait(&s->space, &s->mu)
                                    : pthread_cond_timedwait(&s->space, &s->mu, &dl);
            if (rc == ETIMEDOUT) {
                ok = fits(s, len);
                break;
            }
        }
    }
    pthread_mutex_unlock(&s->mu);
    return ok;
}

int canh_spool_sync(canh_spool_t *s)
{
    if (!s)
        return CANH_EINVAL;
    pthread_mutex_lock(&s->mu);
    int dirty = s->dirty, dir_dirty = s->dir_dirty, head_dirty = s->head_dirty;
    s->dirty = s->dir_dirty = s->head_dirty = 0;
    int fd = dirty ? dup(s->live_fd) : -1;   /* the appender may swap live_fd meanwhile */
    int e = dirty && fd < 0 ? errno : 0;
    pthread_mutex_unlock(&s->mu);

    uint64_t n = 0;
    int failed = e ? 1 : 0;
    if (fd >= 0) {
        n++;
        if (fdatasync(fd) != 0) {
            e = errno;
            failed |= 1;
        }
        close(fd);
    }
    if (dir_dirty) {
        n++;
        if (fsync(s->dirfd) != 0) {
            e = errno;
            failed |= 2;
        }
    }
    if (head_dirty) {
        n++;
        if (fdatasync(s->head_fd) != 0) {
            e = errno;
            failed |= 4;
        }
    }
    pthread_mutex_lock(&s->mu);
    s->c.fsyncs += n;
    s->dirty |= failed & 1;   /* to try again next time */
    s->dir_dirty |= (failed >> 1) & 1;
    s->head_dirty |= (failed >> 2) & 1;
    pthread_mutex_unlock(&s->mu);
    if (failed) {
        errno = e;
        return CANH_EIO;
    }
    return CANH_OK;
}

void canh_spool_counts(canh_spool_t *s, canh_spool_counts_t *out)
{
    if (!s || !out)
        return;
    pthread_mutex_lock(&s->mu);
    *out = s->c;
    uint64_t span = s->next_seq - s->head_seq;
    out->waiting = span > s->missing ? span - s->missing : 0;
    out->bytes = s->bytes;
    out->segments = s->nsegs;
    pthread_mutex_unlock(&s->mu);
}

/* ---- open and close ---- */

static int list_segments(canh_spool_t *s)
{
    int fd = dup(s->dirfd);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (!d) {
        if (fd >= 0)
            close(fd);
        return CANH_EIO;
    }
    struct dirent *e;
    int rc = CANH_OK;
    while (rc == CANH_OK && (errno = 0, e = readdir(d))) {
        uint64_t first;
        struct stat st;
        if (!parse_seg_name(e->d_name, &first))
            continue;
        if (fstatat(s->dirfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
            continue;
        if (!S_ISREG(st.st_mode)) {
            CANH_WARN("spool '%s': '%s/%s' is %s; left alone, and not read", s->dir, s->dir,
                      e->d_name, S_ISLNK(st.st_mode) ? "a symbolic link" : "not a regular file");
            continue;
        }
        rc = push_seg(s, first, (uint64_t)st.st_size);
    }
    if (rc == CANH_OK && errno)
        rc = CANH_EIO;
    int keep = errno;
    closedir(d);
    errno = keep;
    if (rc == CANH_OK && s->nsegs)
        qsort(s->segs, s->nsegs, sizeof(seg_t), cmp_seg);
    return rc;
}

/* Deletes segment i from the folder and the table (at open). */
static int drop_seg(canh_spool_t *s, size_t i)
{
    char name[SEG_NAME_LEN + 1];
    seg_name(name, s->segs[i].first);
    if (unlinkat(s->dirfd, name, 0) != 0 && errno != ENOENT)
        return CANH_EIO;
    remove_seg(s, i);
    return CANH_OK;
}

int canh_spool_open(canh_spool_t **out, const canh_spool_opts_t *o, char *err, size_t errlen)
{
    if (!err)
        errlen = 0;
    if (!out || !o || !o->dir || !*o->dir || !o->max_bytes) {
        snprintf(err, errlen, "spool: bad options (a folder and max_bytes > 0 are needed)");
        return CANH_EINVAL;
    }
    *out = NULL;
    canh_spool_t *s = calloc(1, sizeof(*s));
    if (!s || !(s->dir = strdup(o->dir)) || !(s->buf = malloc(READ_CHUNK))
        || !(s->ring = malloc(RING * sizeof(after_t)))) {
        if (s) {
            free(s->dir);
            free(s->buf);
        }
        free(s);
        snprintf(err, errlen, "spool '%s': out of memory", o->dir);
        return CANH_ENOMEM;
    }
    s->cap = READ_CHUNK;
    s->dirfd = s->head_fd = s->live_fd = s->rfd = -1;
    s->max_bytes = o->max_bytes;
    s->seg_bytes = o->segment_bytes;
    if (!s->seg_bytes) {
        s->seg_bytes = o->max_bytes / 8;
        if (s->seg_bytes > MAX_SEG)
            s->seg_bytes = MAX_SEG;
        if (s->seg_bytes < MIN_SEG)
            s->seg_bytes = MIN_SEG;
    }
    pthread_mutex_init(&s->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->space, &ca);
    pthread_condattr_destroy(&ca);

    /* On failure: what could not be done, to which file in the folder (or
     * to the folder itself when name is empty), errno saying why. */
    int rc = CANH_EIO;
    const char *what = "cannot open";
    char name[SEG_NAME_LEN + 1] = "";
    char derr[512];
    s->dirfd = canh_dir_private("spool folder", s->dir, derr, sizeof(derr));
    if (s->dirfd < 0) {
        snprintf(err, errlen, "spool: %s", derr);
        goto fail_quiet;
    }
    s->head_fd = canh_openat_nofollow(s->dirfd, "head", O_RDWR | O_CREAT, 0600);
    if (s->head_fd < 0) {
        strcpy(name, "head");
        goto fail;
    }
    /* one process per spool: two appenders would interleave their seqs */
    if (flock(s->head_fd, LOCK_EX | LOCK_NB) != 0) {
        what = errno == EWOULDBLOCK ? "in use by another canh process (locked)"
                                    : "cannot lock";
        strcpy(name, "head");
        goto fail;
    }
    if ((rc = list_segments(s)) != CANH_OK) {
        what = "cannot list the folder";
        goto fail;
    }

    /* Where to start: the saved head, else the oldest segment. */
    pos_t at;
    uint64_t seq;
    int head_ok = read_head(s, &at, &seq);
    long hi = head_ok ? find_seg(s, at.seg) : -1;
    if (hi >= 0 && at.off <= s->segs[hi].size) {
        while (hi > 0) {   /* acknowledged already */
            if ((rc = drop_seg(s, 0)) != CANH_OK) {
                seg_name(name, s->segs[0].first);
                what = "cannot delete";
                goto fail;
            }
            hi--;
        }
    } else {
        at = (pos_t){ s->nsegs ? s->segs[0].first : 1, 0 };
        if (!head_ok)
            seq = s->nsegs ? s->segs[0].first : 1;
    }
    if (seq == 0)
        seq = 1;
    s->head = at;
    s->head_seq = seq;
    s->hw = seq - 1;

    /* Read what is there: count it, find the highest seq. */
    if (s->nsegs) {
        canh_spool_rec_t r;
        s->opening = 1;
        canh_spool_rewind(s);
        while ((rc = canh_spool_next(s, &r)) == 1)
            ;
        s->opening = 0;
        if (rc < 0) {
            seg_name(name, s->cur.seg);
            what = "cannot read";
            goto fail;
        }
        reader_off(s);
    }
    s->next_seq = s->max_seen + 1 > s->head_seq ? s->max_seen + 1 : s->head_seq;

    /* Segments named from next_seq on hold no valid record (empty, or
     * damaged and counted): the new live segment takes their place. */
    while (s->nsegs && s->segs[s->nsegs - 1].first >= s->next_seq) {
        if ((rc = drop_seg(s, s->nsegs - 1)) != CANH_OK) {
            seg_name(name, s->segs[s->nsegs - 1].first);
            what = "cannot delete";
            goto fail;
        }
    }
    seg_name(name, s->next_seq);
    s->live_fd = canh_openat_nofollow(s->dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_APPEND,
                                      0600);
    if (s->live_fd < 0) {
        rc = CANH_EIO;
        what = "cannot make";
        goto fail;
    }
    if ((rc = push_seg(s, s->next_seq, 0)) != CANH_OK)
        goto fail;
    if (find_seg(s, s->head.seg) < 0)
        s->head = (pos_t){ s->segs[0].first, 0 };
    if (s->mark.seg >= s->next_seq)
        s->mark = (pos_t){ s->next_seq, 0 };
    s->dir_dirty = 1;
    s->have_last = 0;
    canh_spool_rewind(s);
    if ((rc = write_head(s)) != CANH_OK) {
        what = "cannot write";
        strcpy(name, "head");
        goto fail;
    }
    *out = s;
    return CANH_OK;

fail:
    if (rc == CANH_ENOMEM)
        snprintf(err, errlen, "spool '%s': out of memory", s->dir);
    else if (name[0])
        snprintf(err, errlen, "spool '%s': %s '%s/%s': %s", s->dir, what, s->dir, name,
                 canh_open_strerror(errno));
    else
        snprintf(err, errlen, "spool '%s': %s: %s", s->dir, what, strerror(errno));
fail_quiet:
    if (s->live_fd >= 0)   /* (so that close does not save a head) */
        close(s->live_fd);
    s->live_fd = -1;
    canh_spool_close(s);
    return rc == CANH_ENOMEM ? CANH_ENOMEM : CANH_EIO;
}

void canh_spool_close(canh_spool_t *s)
{
    if (!s)
        return;
    if (s->live_fd >= 0 && s->head_fd >= 0) {
        write_head(s);
        canh_spool_sync(s);
    }
    if (s->live_fd >= 0)
        close(s->live_fd);
    if (s->head_fd >= 0)
        close(s->head_fd);
    if (s->dirfd >= 0)
        close(s->dirfd);
    reader_off(s);
    pthread_cond_destroy(&s->space);
    pthread_mutex_destroy(&s->mu);
    free(s->segs);
    free(s->gaps);
    free(s->ring);
    free(s->buf);
    free(s->dir);
    free(s);
}
