/*
 * fuzz/fuzz_packet.c -- libFuzzer target: the packet decoder
 * (parsers/packet/decode.c, defrag.c) on arbitrary frames of every link
 * type it reads, with one decoder kept across inputs so that fragments of
 * different inputs meet, time out and fill the memcap.
 *
 * Input: 2 bytes of options, then the frame.
 *   byte 0   link type: one of EN10MB, LINUX_SLL, LINUX_SLL2, RAW (12),
 *            RAW (101), IPV4, IPV6, NULL, LOOP, RAW (14) (mod 10)
 *   byte 1   packet clock step: byte * 10 ms (the defrag timeout is 1 s)
 * Invariants checked: the answer is one of OK, HELD, SKIP, BAD and the
 * counts add up (frames = ok + held + skipped + bad; every SKIP and BAD has
 * one reason); bytes held for fragments never exceed the memcap; an OK
 * packet's layer-3 bytes are inside the frame (or, rebuilt, inside 65575
 * bytes), its payload and TCP options inside its layer-3 bytes; its copy
 * (canh_pkt_copy) holds the same bytes at rebased pointers; its Community
 * ID, when it has one, is the same with the endpoints swapped.
 *
 * Thread: libFuzzer's (one; the decoder is static state).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../parsers/packet/packet.h"
#include "fuzz_common.h"

#define MEMCAP (64 * 1024)

static const int dlts[] = { 1, 113, 276, 12, 101, 228, 229, 0, 108, 14 };

static canh_decoder_t *dec;
static int64_t clock_us = 1000000000000LL;

static int within(const uint8_t *p, size_t n, const uint8_t *base, size_t len)
{
    return p >= base && (size_t)(p - base) <= len && n <= len - (size_t)(p - base);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!dec) {
        canh_decoder_opts_t o = { .defrag_memcap = MEMCAP, .defrag_timeout_us = 1000000 };
        dec = canh_decoder_new(&o);
        FUZZ_SETUP(dec, "no decoder");
    }
    if (size < 2)
        return 0;
    int dlt = dlts[data[0] % 10];
    clock_us += (int64_t)data[1] * 10000;
    const uint8_t *frame = data + 2;
    uint32_t len = (uint32_t)(size - 2);

    const canh_decode_counts_t *c = canh_decoder_counts(dec);
    uint64_t reasons0 = 0, reasons1 = 0;
    for (int r = 0; r < CANH_DECODE_R__COUNT; r++)
        reasons0 += c->by_reason[r];
    uint64_t sb0 = c->skipped + c->bad;

    canh_pkt_t p;
    int rc = canh_decode(dec, dlt, frame, len, len, clock_us, c->frames + 1, &p);
    FUZZ_CHECK(rc == CANH_PKT_OK || rc == CANH_PKT_HELD || rc == CANH_PKT_SKIP ||
                   rc == CANH_PKT_BAD, "answer %d", rc);
    FUZZ_CHECK(c->frames == c->ok + c->held + c->skipped + c->bad, "counts do not add up");
    for (int r = 0; r < CANH_DECODE_R__COUNT; r++)
        reasons1 += c->by_reason[r];
    /* a SKIP or BAD adds its one reason; drops of held datagrams
       (overlap, timeout, memcap) may add more */
    FUZZ_CHECK(reasons1 - reasons0 >= c->skipped + c->bad - sb0, "a SKIP/BAD without a reason");
    FUZZ_CHECK(c->frag_bytes <= MEMCAP, "%llu bytes held over the memcap",
               (unsigned long long)c->frag_bytes);
    if (rc != CANH_PKT_OK)
        return 0;

    FUZZ_CHECK(p.ipver == 4 || p.ipver == 6, "ipver %d", p.ipver);
    FUZZ_CHECK(p.l3 != NULL, "no layer 3");
    if (p.defragged)
        FUZZ_CHECK(p.l3len <= 40 + 65535, "rebuilt datagram of %u bytes", p.l3len);
    else
        FUZZ_CHECK(within(p.l3, p.l3len, frame, len), "layer 3 outside the frame");
    FUZZ_CHECK(p.payload && within(p.payload, p.plen, p.l3, p.l3len), "payload outside layer 3");
    if (p.tcp_optlen)
        FUZZ_CHECK(p.tcp_opt && within(p.tcp_opt, p.tcp_optlen, p.l3, p.l3len),
                   "TCP options outside layer 3");

    size_t n = canh_pkt_copy_size(&p);
    FUZZ_CHECK(n == p.l3len, "copy size %zu for %u bytes", n, p.l3len);
    uint8_t *buf = malloc(n ? n : 1);
    FUZZ_SETUP(buf, "out of memory");
    canh_pkt_t cp;
    canh_pkt_copy(&p, buf, &cp);
    FUZZ_CHECK(cp.l3 == buf && memcmp(buf, p.l3, n) == 0, "copy of layer 3 differs");
    FUZZ_CHECK(cp.plen == p.plen && cp.payload == buf + (p.payload - p.l3) &&
                   memcmp(cp.payload, p.payload, p.plen) == 0,
               "copy's payload not rebased");
    FUZZ_CHECK(cp.hash == p.hash && cp.sport == p.sport, "copy's fields differ");
    free(buf);

    char a[CANH_COMMUNITY_ID_LEN], b[CANH_COMMUNITY_ID_LEN];
    size_t la = canh_community_id(&p, 0, a);
    FUZZ_CHECK(la == 0 || (la == 30 && strlen(a) == 30 && a[0] == '1' && a[1] == ':'),
               "Community ID '%s'", a);
    if (la && (p.proto == 6 || p.proto == 17)) {
        canh_pkt_t r = p;
        memcpy(r.src, p.dst, 16);
        memcpy(r.dst, p.src, 16);
        r.sport = p.dport;
        r.dport = p.sport;
        canh_community_id(&r, 0, b);
        FUZZ_CHECK(strcmp(a, b) == 0, "Community ID not the same both ways: %s %s", a, b);
    }
    return 0;
}
