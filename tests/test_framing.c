/*
 * tests/test_framing.c -- RFC 6587 framing of syslog over TCP: newline and
 * octet-counted frames, detection per connection, oversize messages, bad
 * prefixes, and the same messages however the bytes are split by read().
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>

#include "../engine/input/framing.h"

typedef struct got {
    char *msgs[64];
    size_t lens[64];
    int n;
} got_t;

static int collect(void *ud, const char *msg, size_t len)
{
    got_t *g = ud;
    cr_assert_lt(g->n, 64);
    g->msgs[g->n] = malloc(len + 1);
    memcpy(g->msgs[g->n], msg, len);
    g->msgs[g->n][len] = '\0';
    g->lens[g->n++] = len;
    return 0;
}

static void got_free(got_t *g)
{
    for (int i = 0; i < g->n; i++)
        free(g->msgs[i]);
    g->n = 0;
}

/* Feeds s in chunks of `chunk` bytes (0: all at once), then finishes. */
static void run(canh_framer_t *f, const char *s, size_t n, size_t chunk, got_t *g)
{
    if (!chunk)
        chunk = n ? n : 1;
    for (size_t i = 0; i < n; i += chunk)
        cr_assert_eq(canh_framer_feed(f, s + i, n - i < chunk ? n - i : chunk, collect, g), 0);
    cr_assert_eq(canh_framer_finish(f, collect, g), 0);
}

Test(framing, newline_with_crlf_nul_and_empty_lines)
{
    canh_framer_t f;
    got_t g = { 0 };
    canh_framer_init(&f, CANH_FRAME_AUTO, 1024, CANH_FRAME_TRUNCATE);
    const char s[] = "<34>one\n<34>two\r\n\n<34>three\0<34>last without newline";
    run(&f, s, sizeof(s) - 1, 0, &g);
    cr_assert_eq(f.mode, CANH_FRAME_LF, "'<' first: newline framing");
    cr_assert_eq(g.n, 4);
    cr_assert_str_eq(g.msgs[0], "<34>one");
    cr_assert_str_eq(g.msgs[1], "<34>two");
    cr_assert_str_eq(g.msgs[2], "<34>three");
    cr_assert_str_eq(g.msgs[3], "<34>last without newline");
    cr_assert_eq(f.messages, 4);
    got_free(&g);
    canh_framer_free(&f);
}

Test(framing, octet_counting_detected_and_exact)
{
    canh_framer_t f;
    got_t g = { 0 };
    canh_framer_init(&f, CANH_FRAME_AUTO, 1024, CANH_FRAME_TRUNCATE);
    /* a message may hold newlines: the length decides */
    const char s[] = "11 <34>a\nb c d12 <34>second!!";
    run(&f, s, sizeof(s) - 1, 0, &g);
    cr_assert_eq(f.mode, CANH_FRAME_OCTET);
    cr_assert_eq(g.n, 2);
    cr_assert_str_eq(g.msgs[0], "<34>a\nb c d");
    cr_assert_str_eq(g.msgs[1], "<34>second!!");
    cr_assert_eq(f.bad_frames, 0);
    got_free(&g);
    canh_framer_free(&f);
}

/* The same messages whatever the read sizes. */
Test(framing, any_split_gives_the_same_messages)
{
    static const char *streams[] = {
        "<13>a\n<13>bb\r\n<13>ccc\n\n<13>dddd",
        "6 <13>a!7 <13>bb!13 <13>ccc\ncccc4 <1>",
    };
    for (size_t s = 0; s < CANH_ARRAY_LEN(streams); s++) {
        got_t whole = { 0 };
        canh_framer_t f;
        canh_framer_init(&f, CANH_FRAME_AUTO, 8, CANH_FRAME_TRUNCATE);
        run(&f, streams[s], strlen(streams[s]), 0, &whole);
        canh_framer_free(&f);
        for (size_t chunk = 1; chunk <= 9; chunk++) {
            got_t g = { 0 };
            canh_framer_init(&f, CANH_FRAME_AUTO, 8, CANH_FRAME_TRUNCATE);
            run(&f, streams[s], strlen(streams[s]), chunk, &g);
            cr_assert_eq(g.n, whole.n, "stream %zu, chunk %zu", s, chunk);
            for (int i = 0; i < g.n; i++)
                cr_assert_str_eq(g.msgs[i], whole.msgs[i], "stream %zu chunk %zu msg %d", s, chunk, i);
            got_free(&g);
            canh_framer_free(&f);
        }
        cr_assert_geq(whole.n, 4);
        got_free(&whole);
    }
}

Test(framing, oversize_newline_truncated_or_dropped)
{
    const char s[] = "0123456789ABCDEF\nok\n";
    for (int mode = 0; mode < 2; mode++) {
        canh_framer_t f;
        got_t g = { 0 };
        canh_framer_init(&f, CANH_FRAME_LF, 10, mode);
        run(&f, s, sizeof(s) - 1, 3, &g);
        if (mode == CANH_FRAME_TRUNCATE) {
            cr_assert_eq(g.n, 2);
            cr_assert_str_eq(g.msgs[0], "0123456789");
            cr_assert_eq(f.truncated, 1);
        } else {
            cr_assert_eq(g.n, 1);
            cr_assert_eq(f.dropped, 1);
        }
        cr_assert_str_eq(g.msgs[g.n - 1], "ok", "the connection goes on");
        got_free(&g);
        canh_framer_free(&f);
    }
}

Test(framing, oversize_octet_skips_exactly_its_bytes)
{
    const char s[] = "16 0123456789ABCDEF2 ok";
    for (int mode = 0; mode < 2; mode++) {
        canh_framer_t f;
        got_t g = { 0 };
        canh_framer_init(&f, CANH_FRAME_OCTET, 10, mode);
        run(&f, s, sizeof(s) - 1, 4, &g);
        cr_assert_eq(g.n, mode == CANH_FRAME_TRUNCATE ? 2 : 1);
        if (mode == CANH_FRAME_TRUNCATE)
            cr_assert_str_eq(g.msgs[0], "0123456789");
        cr_assert_str_eq(g.msgs[g.n - 1], "ok", "the next frame is intact");
        cr_assert_eq(mode == CANH_FRAME_TRUNCATE ? f.truncated : f.dropped, 1);
        got_free(&g);
        canh_framer_free(&f);
    }
}

Test(framing, ten_mib_without_newline_is_bounded_and_counted)
{
    size_t big = 10u << 20, max = 64u << 10;
    char *chunk = malloc(max);
    memset(chunk, 'x', max);
    canh_framer_t f;
    got_t g = { 0 };
    canh_framer_init(&f, CANH_FRAME_AUTO, max, CANH_FRAME_TRUNCATE);
    cr_assert_eq(canh_framer_feed(&f, "<13>", 4, collect, &g), 0);
    for (size_t sent = 4; sent < big; sent += max)
        cr_assert_eq(canh_framer_feed(&f, chunk, max, collect, &g), 0);
    cr_assert_eq(g.n, 0, "no end yet, no message yet");
    cr_assert_leq(f.cap, max, "never holds more than max_message_size");
    cr_assert_eq(canh_framer_feed(&f, "\n<13>next\n", 10, collect, &g), 0);
    cr_assert_eq(g.n, 2);
    cr_assert_eq(g.lens[0], max);
    cr_assert_eq(f.truncated, 1);
    cr_assert_str_eq(g.msgs[1], "<13>next", "the connection goes on");
    got_free(&g);
    canh_framer_free(&f);
    free(chunk);
}

Test(framing, bad_prefix_counted_and_read_as_lines)
{
    canh_framer_t f;
    got_t g = { 0 };
    canh_framer_init(&f, CANH_FRAME_OCTET, 1024, CANH_FRAME_TRUNCATE);
    const char s[] = "4 <1>a12x is not a length\n<13>then lines\n";
    run(&f, s, sizeof(s) - 1, 2, &g);
    cr_assert_eq(f.bad_frames, 1);
    cr_assert_eq(g.n, 3);
    cr_assert_str_eq(g.msgs[0], "<1>a");
    cr_assert_str_eq(g.msgs[1], "12x is not a length", "no byte is lost");
    cr_assert_str_eq(g.msgs[2], "<13>then lines");
    got_free(&g);
    canh_framer_free(&f);
}

Test(framing, peer_closing_inside_a_frame)
{
    canh_framer_t f;
    got_t g = { 0 };
    canh_framer_init(&f, CANH_FRAME_OCTET, 1024, CANH_FRAME_TRUNCATE);
    run(&f, "4 <1>a10 <1>cut", 15, 0, &g);
    cr_assert_eq(g.n, 1);
    cr_assert_eq(f.dropped, 1, "the cut frame is counted, not passed on half");
    got_free(&g);
    canh_framer_free(&f);
    cr_assert_eq(canh_framer_init(&f, CANH_FRAME_LF, 0, CANH_FRAME_DROP), CANH_EINVAL);
}

Test(framing, auto_first_digit_that_is_not_a_length)
{
    canh_framer_t f;
    got_t g = { 0 };
    canh_framer_init(&f, CANH_FRAME_AUTO, 1024, CANH_FRAME_TRUNCATE);
    /* an access log: a first digit, but no octet counting */
    const char s[] = "10.0.0.1 - - [23/Nov/2026] \"GET / HTTP/1.1\" 200 5\n192.0.2.7 - - x\n";
    run(&f, s, sizeof(s) - 1, 3, &g);
    cr_assert_eq(f.mode, CANH_FRAME_LF);
    cr_assert_eq(f.bad_frames, 0, "a guess that did not hold is not a bad frame");
    cr_assert_eq(g.n, 2);
    cr_assert_str_eq(g.msgs[0], "10.0.0.1 - - [23/Nov/2026] \"GET / HTTP/1.1\" 200 5");
    cr_assert_str_eq(g.msgs[1], "192.0.2.7 - - x");
    got_free(&g);
    canh_framer_free(&f);

    /* once one frame was whole, a broken prefix is a bad frame again */
    canh_framer_init(&f, CANH_FRAME_AUTO, 1024, CANH_FRAME_TRUNCATE);
    run(&f, "4 <1>a7x no\n", 12, 0, &g);
    cr_assert_eq(f.bad_frames, 1);
    cr_assert_eq(g.n, 2);
    got_free(&g);
    canh_framer_free(&f);
}

/* Found by fuzz/fuzz_framer.c: a sender whose last bytes before closing are
 * a lone CR after its last message (CR LF line ends cut at the close)
 * gave an empty message at finish; an empty line is no message. */
Test(framing, lone_cr_before_close_is_no_message)
{
    canh_framer_t f;
    got_t g = { 0 };
    canh_framer_init(&f, CANH_FRAME_LF, 1024, CANH_FRAME_TRUNCATE);
    run(&f, "<34>one\r\n\r", 10, 0, &g);
    cr_assert_eq(g.n, 1, "one message, not %d", g.n);
    cr_assert_str_eq(g.msgs[0], "<34>one");
    cr_assert_eq(f.messages, 1);
    got_free(&g);
    canh_framer_free(&f);
}

/* A sender that sits on an unfinished message: canh_framer_pending says
 * so from its first byte (or prefix digit) to its end; canh_framer_cut
 * counts it as cut and never delivers it; the whole messages before it
 * were delivered, and the framer goes on afresh. */
Test(framing, pending_and_cut_newline)
{
    canh_framer_t f;
    got_t g = { 0 };
    canh_framer_init(&f, CANH_FRAME_AUTO, 1024, CANH_FRAME_TRUNCATE);
    cr_assert_not(canh_framer_pending(&f));
    const char s[] = "<34>whole\n<34>half of a";
    cr_assert_eq(canh_framer_feed(&f, s, sizeof(s) - 1, collect, &g), 0);
    cr_assert(canh_framer_pending(&f));
    size_t kept = 0;
    cr_assert_eq(canh_framer_cut(&f, &kept), 1);
    cr_assert_eq(kept, strlen("<34>half of a"));
    cr_assert_not(canh_framer_pending(&f));
    cr_assert_eq(canh_framer_cut(&f, &kept), 0, "nothing left to cut");
    cr_assert_eq(canh_framer_finish(&f, collect, &g), 0);
    cr_assert_eq(g.n, 1, "the cut message is not delivered at the close");
    cr_assert_str_eq(g.msgs[0], "<34>whole");
    cr_assert_eq(f.cut, 1);
    cr_assert_eq(f.messages, 1);
    cr_assert_eq(f.incomplete, 0);
    /* an oversize message being skipped is still one in progress */
    got_free(&g);
    canh_framer_free(&f);
    canh_framer_init(&f, CANH_FRAME_LF, 256, CANH_FRAME_DROP);
    char big[600];
    memset(big, 'x', sizeof(big));
    cr_assert_eq(canh_framer_feed(&f, big, sizeof(big), collect, &g), 0);
    cr_assert(canh_framer_pending(&f));
    cr_assert_eq(canh_framer_feed(&f, "\n", 1, collect, &g), 0);
    cr_assert_not(canh_framer_pending(&f));
    cr_assert_eq(f.dropped, 1);
    canh_framer_free(&f);
}

Test(framing, pending_and_cut_octet)
{
    canh_framer_t f;
    got_t g = { 0 };
    canh_framer_init(&f, CANH_FRAME_AUTO, 1024, CANH_FRAME_TRUNCATE);
    cr_assert_eq(canh_framer_feed(&f, "10 <34>whole1", 13, collect, &g), 0);
    cr_assert_not(canh_framer_pending(&f), "between frames");
    cr_assert_eq(canh_framer_feed(&f, "2", 1, collect, &g), 0);
    cr_assert(canh_framer_pending(&f), "a length prefix begun");
    cr_assert_eq(canh_framer_feed(&f, "0 <34>part", 10, collect, &g), 0);
    cr_assert(canh_framer_pending(&f));
    size_t kept;
    cr_assert_eq(canh_framer_cut(&f, &kept), 1);
    cr_assert_eq(kept, 8);
    /* afresh: the next frame is read from its prefix */
    cr_assert_eq(canh_framer_feed(&f, "6 <34>ok", 8, collect, &g), 0);
    cr_assert_eq(canh_framer_finish(&f, collect, &g), 0);
    cr_assert_eq(g.n, 2);
    cr_assert_str_eq(g.msgs[0], "<34>whole1");
    cr_assert_str_eq(g.msgs[1], "<34>ok");
    cr_assert_eq(f.cut, 1);
    cr_assert_eq(f.dropped, 0);
    cr_assert_eq(f.bad_frames, 0);
    got_free(&g);
    canh_framer_free(&f);
}
