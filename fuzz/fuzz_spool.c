/*
 * fuzz/fuzz_spool.c -- libFuzzer target: the spool reader (sinks/spool.c)
 * over damaged spools, as canh meets them after a crash or a bad disk.
 *
 * Input: one byte of options, then the files.
 *   bits 0-1  segment files: 1 + value (1..4)
 *   bit 2     the CRC of every record found in a segment is set right
 *             (so that mutations reach past the CRC check: records with
 *             fuzzed lengths, seqs, keys next to damage)
 *   bit 3     a head file is written (its 36 bytes from the input) ...
 *   bit 4     ... with its magic, version and CRC set right
 *   bit 5     only the first record returned is acknowledged, else all
 * Each segment: one byte (its name: the previous one's first seq plus
 * this), two bytes of length (little-endian), then that many bytes.
 * The files go into a fresh folder; the spool is opened, read to the end
 * (acknowledging every record, or only the first), one record appended and
 * read back, closed, and opened again.
 * Invariants checked: every record returned is on disk, whole, with a
 * CRC that matches; seqs grow; the appended record comes back next with
 * a higher seq; a record acknowledged is never returned again after the
 * reopen, and one that was not is (nothing is lost by a restart).
 *
 * Thread: libFuzzer's (one).
 */
#include <dirent.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "../engine/canh.h"
#include "../sinks/spool.h"
#include "fuzz_common.h"

#define HDR      24
#define HEAD_LEN 36
#define MAX_SEGS 4
#define MAX_SEEN 4096

static char dir[256];

typedef struct file {
    char name[64];
    const uint8_t *p;     /* its bytes as written (the CRC fixed in fixed[]) */
    size_t len;
} file_t;

static uint8_t fixed[MAX_SEGS][65536];
static file_t segs[MAX_SEGS];
static size_t nsegs;

static void empty_dir(void)
{
    DIR *d = opendir(dir);
    FUZZ_SETUP(d, "cannot list %s", dir);
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            unlinkat(dirfd(d), e->d_name, 0);
    closedir(d);
}

static void remove_dir(void)
{
    empty_dir();
    rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof(dir), "%s/canh-fuzz-spool-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    FUZZ_SETUP(mkdtemp(dir), "cannot make a folder under %s", dir);
    atexit(remove_dir);   /* (a crash leaves it, with the files of the input) */
    canh_log_level = CANH_LOG_ERROR;
    return 0;
}

static void write_file(const char *name, const void *p, size_t n)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    FUZZ_SETUP(f && (n == 0 || fwrite(p, 1, n, f) == n) && fclose(f) == 0, "cannot write %s",
               path);
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get64(const uint8_t *p)
{
    return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* Sets the CRC of every record header that starts a whole record. */
static void fix_crcs(uint8_t *b, size_t n)
{
    size_t o = 0;
    while (o + HDR <= n) {
        if (memcmp(b + o, "CSP1", 4) != 0) {
            o++;
            continue;
        }
        uint64_t body = (uint64_t)get32(b + o + 16) + (uint64_t)(b[o + 20] | b[o + 21] << 8);
        if (body > n - o - HDR) {
            o++;
            continue;
        }
        put32(b + o + 4, (uint32_t)crc32(0L, b + o + 8, (uInt)(HDR - 8 + body)));
        o += HDR + (size_t)body;
    }
}

/* The record is in a segment as written, whole, with a CRC that matches. */
static int on_disk(const canh_spool_rec_t *r)
{
    for (size_t i = 0; i < nsegs; i++) {
        const uint8_t *b = segs[i].p;
        size_t n = segs[i].len;
        for (size_t o = 0; o + HDR <= n; o++) {
            if (memcmp(b + o, "CSP1", 4) != 0 || get64(b + o + 8) != r->seq
                || get32(b + o + 16) != r->vlen || (size_t)(b[o + 20] | b[o + 21] << 8) != r->klen
                || HDR + r->klen + r->vlen > n - o)
                continue;
            if ((r->klen && memcmp(b + o + HDR, r->key, r->klen) != 0)
                || (r->vlen && memcmp(b + o + HDR + r->klen, r->val, r->vlen) != 0))
                continue;
            if ((uint32_t)crc32(0L, b + o + 8, (uInt)(HDR - 8 + r->klen + r->vlen))
                == get32(b + o + 4))
                return 1;
        }
    }
    return 0;
}

typedef struct seen {
    uint64_t seq[MAX_SEEN];
    uint8_t acked[MAX_SEEN];
    size_t n;
} seen_t;

static seen_t seen;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    unsigned opt = data[0];
    const uint8_t *p = data + 1, *end = data + size;
    empty_dir();

    nsegs = 0;
    uint64_t first = 1;
    for (unsigned i = 0; i < 1 + (opt & 3) && end - p >= 3; i++) {
        first += p[0];
        size_t len = (size_t)(p[1] | p[2] << 8);
        p += 3;
        if (len > (size_t)(end - p))
            len = (size_t)(end - p);
        file_t *f = &segs[nsegs++];
        snprintf(f->name, sizeof(f->name), "seg-%020llu.spool", (unsigned long long)first);
        memcpy(fixed[nsegs - 1], p, len);
        if (opt & 4)
            fix_crcs(fixed[nsegs - 1], len);
        f->p = fixed[nsegs - 1];
        f->len = len;
        write_file(f->name, f->p, len);
        p += len;
        first++;
    }
    if (opt & 8) {
        uint8_t head[HEAD_LEN] = { 0 };
        size_t n = (size_t)(end - p) < HEAD_LEN ? (size_t)(end - p) : HEAD_LEN;
        memcpy(head, p, n);
        if (opt & 16) {
            memcpy(head, "CSPH", 4);
            put32(head + 4, 1);
            put32(head + 32, (uint32_t)crc32(0L, head, HEAD_LEN - 4));
        }
        write_file("head", head, HEAD_LEN);
    }

    canh_spool_opts_t o = { .dir = dir, .max_bytes = 1u << 30, .segment_bytes = 64u << 10 };
    canh_spool_t *s;
    char err[512];
    if (canh_spool_open(&s, &o, err, sizeof(err)) != CANH_OK)
        return 0;   /* refused with a reason: fine */

    /* read it all, acknowledging as asked */
    seen.n = 0;
    canh_spool_rec_t r;
    int rc;
    uint64_t last = 0;
    while ((rc = canh_spool_next(s, &r)) == 1) {
        FUZZ_CHECK(on_disk(&r), "record seq %llu (%zu+%zu bytes) returned is not a whole, "
                   "CRC-valid record on disk", (unsigned long long)r.seq, r.klen, r.vlen);
        FUZZ_CHECK(r.seq > last, "seq %llu after %llu", (unsigned long long)r.seq,
                   (unsigned long long)last);
        last = r.seq;
        FUZZ_CHECK(seen.n < MAX_SEEN, "more records than fit in the input");
        /* (an ack covers every record before it: acknowledge a prefix) */
        int ack = !(opt & 32) || seen.n == 0;
        seen.seq[seen.n] = r.seq;
        seen.acked[seen.n++] = (uint8_t)ack;
        if (ack)
            FUZZ_CHECK(canh_spool_ack(s, r.seq) == CANH_OK, "ack of seq %llu refused",
                       (unsigned long long)r.seq);
    }
    FUZZ_CHECK(rc == 0, "canh_spool_next failed: %d", rc);

    /* a new record comes next, after everything read */
    uint64_t seq;
    FUZZ_CHECK(canh_spool_append(s, "k", 1, "fuzz", 4, 1, &seq) == CANH_OK, "append");
    FUZZ_CHECK(seq > last, "appended seq %llu not after %llu", (unsigned long long)seq,
               (unsigned long long)last);
    FUZZ_CHECK(canh_spool_next(s, &r) == 1 && r.seq == seq && r.vlen == 4
               && !memcmp(r.val, "fuzz", 4), "the appended record does not come back");
    canh_spool_close(s);

    /* after a restart: what was acknowledged never again, the rest again */
    FUZZ_CHECK(canh_spool_open(&s, &o, err, sizeof(err)) == CANH_OK, "reopen: %s", err);
    size_t k = 0;
    int got_new = 0;
    while ((rc = canh_spool_next(s, &r)) == 1) {
        if (r.seq == seq) {
            got_new = 1;
            continue;
        }
        while (k < seen.n && seen.seq[k] < r.seq)
            FUZZ_CHECK(seen.acked[k++], "record seq %llu, not acknowledged, lost at reopen",
                       (unsigned long long)seen.seq[k - 1]);
        FUZZ_CHECK(k < seen.n && seen.seq[k] == r.seq, "seq %llu returned after the reopen "
                   "was not returned before", (unsigned long long)r.seq);
        FUZZ_CHECK(!seen.acked[k], "seq %llu returned again after its ack",
                   (unsigned long long)r.seq);
        k++;
    }
    FUZZ_CHECK(rc == 0, "canh_spool_next failed after reopen: %d", rc);
    for (; k < seen.n; k++)
        FUZZ_CHECK(seen.acked[k], "record seq %llu, not acknowledged, lost at reopen",
                   (unsigned long long)seen.seq[k]);
    FUZZ_CHECK(got_new, "the appended record, not acknowledged, lost at reopen");
    canh_spool_close(s);
    return 0;
}
