/*
 * fuzz/fuzz_framer.c -- libFuzzer target: the TCP/TLS syslog framer
 * (engine/input/framing.c, RFC 6587 LF and octet-counted framing) over arbitrary
 * chunkings of one byte stream.
 *
 * Input: 4 bytes of options, then the stream.
 *   byte 0   framing: 0 auto, 1 LF, 2 octet counting (mod 3)
 *   byte 1   bit 0: oversize messages dropped, else truncated;
 *            bit 1: the connection is abandoned (shutdown), else finished
 *   byte 2   max message size: 1 + byte (1..256)
 *   byte 3   seed of the chunk sizes (1..64 bytes each, as read() may return)
 * The stream is framed twice: whole in one call, and cut into those chunks.
 * Invariants checked: both give the same messages and the same counters
 * (how read() splits the bytes changes nothing); every message is
 * 1..max_msg bytes and is bytes of the stream, in order, so the messages
 * never hold more than came in; with LF framing no message holds a LF or a
 * NUL; `messages` counts the messages handed over.
 *
 * Thread: libFuzzer's (one).
 */
#include <stdint.h>
#include <string.h>

#include "../engine/input/framing.h"
#include "fuzz_common.h"

typedef struct got {
    const uint8_t *in;      /* the stream */
    size_t in_len;
    size_t max_msg;
    int lf_only;            /* framing forced to LF */
    size_t n;               /* messages */
    size_t bytes;           /* their total length */
    uint64_t hash;          /* of their lengths and bytes, in order */
} got_t;

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 0x100000001b3ULL;
    return h;
}

static int on_msg(void *ud, const char *msg, size_t len)
{
    got_t *g = ud;
    FUZZ_CHECK(len >= 1 && len <= g->max_msg, "message of %zu bytes (max %zu)", len,
               g->max_msg);
    FUZZ_CHECK(memmem(g->in, g->in_len, msg, len) != NULL,
               "message of %zu bytes is not bytes of the stream", len);
    if (g->lf_only)
        FUZZ_CHECK(!memchr(msg, '\n', len) && !memchr(msg, '\0', len),
                   "LF framing handed over a message holding its end byte");
    g->n++;
    g->bytes += len;
    FUZZ_CHECK(g->bytes <= g->in_len, "%zu bytes of messages out of %zu in", g->bytes,
               g->in_len);
    g->hash = fnv(g->hash, &len, sizeof(len));
    g->hash = fnv(g->hash, msg, len);
    return 0;
}

/* Frames the stream in chunks (chunk_seed 0: all at once). */
static void frame(canh_framer_t *f, got_t *g, int mode, size_t max_msg, int oversize,
                  int abandon, unsigned chunk_seed)
{
    FUZZ_CHECK(canh_framer_init(f, mode, max_msg, oversize) == CANH_OK, "init");
    size_t off = 0;
    uint32_t x = chunk_seed * 2654435761u + 1;
    while (off < g->in_len) {
        size_t n = g->in_len - off;
        if (chunk_seed) {
            x ^= x << 13, x ^= x >> 17, x ^= x << 5;
            size_t c = 1 + x % 64;
            if (c < n)
                n = c;
        }
        FUZZ_CHECK(canh_framer_feed(f, (const char *)g->in + off, n, on_msg, g) == 0, "feed");
        off += n;
    }
    if (abandon)
        canh_framer_abandon(f);
    else
        FUZZ_CHECK(canh_framer_finish(f, on_msg, g) == 0, "finish");
    FUZZ_CHECK(f->messages == g->n, "messages counter %llu, %zu handed over",
               (unsigned long long)f->messages, g->n);
    FUZZ_CHECK(f->len <= max_msg && f->cap <= max_msg, "framer holds %zu bytes (max %zu)",
               f->cap, max_msg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 4)
        return 0;
    static const int modes[3] = { CANH_FRAME_AUTO, CANH_FRAME_LF, CANH_FRAME_OCTET };
    int mode = modes[data[0] % 3];
    int oversize = data[1] & 1 ? CANH_FRAME_DROP : CANH_FRAME_TRUNCATE;
    int abandon = data[1] & 2;
    size_t max_msg = 1 + (size_t)data[2];
    unsigned seed = data[3] ? data[3] : 1;

    got_t whole = { data + 4, size - 4, max_msg, mode == CANH_FRAME_LF, 0, 0, 0 };
    got_t cut = whole;
    canh_framer_t a, b;
    frame(&a, &whole, mode, max_msg, oversize, abandon, 0);
    frame(&b, &cut, mode, max_msg, oversize, abandon, seed);

    FUZZ_CHECK(whole.n == cut.n && whole.hash == cut.hash,
               "chunking changed the messages: %zu whole, %zu in chunks", whole.n, cut.n);
    FUZZ_CHECK(a.mode == b.mode, "chunking changed the framing: %d / %d", a.mode, b.mode);
    FUZZ_CHECK(a.truncated == b.truncated && a.dropped == b.dropped
               && a.bad_frames == b.bad_frames && a.incomplete == b.incomplete,
               "chunking changed the counters: truncated %llu/%llu dropped %llu/%llu "
               "bad %llu/%llu incomplete %llu/%llu",
               (unsigned long long)a.truncated, (unsigned long long)b.truncated,
               (unsigned long long)a.dropped, (unsigned long long)b.dropped,
               (unsigned long long)a.bad_frames, (unsigned long long)b.bad_frames,
               (unsigned long long)a.incomplete, (unsigned long long)b.incomplete);
    canh_framer_free(&a);
    canh_framer_free(&b);
    return 0;
}
