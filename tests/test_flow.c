/*
 * tests/test_flow.c -- the flow table and TCP reassembly
 * (parsers/packet/flow.c, stream.c): packets made by hand (no decoder),
 * the bytes each direction hands over, its gap and end marks, and the
 * counts a user reads in the stats record.
 * Thread: Criterion runs each test in its own process.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../engine/canh.h"
#include "../parsers/packet/flow.h"

/* most tests pick up flows first seen without their SYN (flow.h) */
static const canh_flow_opts_t PICK_UP = { .midstream = 1 };

#define TCP 6
#define UDP 17
#define SEC 1000000LL

/* What the stream callback saw, per direction. */
typedef struct seen {
    uint8_t buf[2][8192];
    size_t len[2];
    int gaps[2], ends[2], calls[2];
    size_t gap_at[2];           /* bytes before the first gapped delivery */
    const uint8_t *last_ptr[2]; /* the last delivery's data pointer */
} seen_t;

static void on_data(void *ud, canh_flow_t *f, int dir, const uint8_t *d, size_t len, int flags)
{
    seen_t *s = ud;
    cr_assert(dir == 0 || dir == 1);
    cr_assert_eq(s->ends[dir], 0, "data after the end of direction %d", dir);
    s->calls[dir]++;
    if (flags & CANH_STREAM_GAP) {
        if (!s->gaps[dir])
            s->gap_at[dir] = s->len[dir];
        s->gaps[dir]++;
    }
    if (flags & CANH_STREAM_END)
        s->ends[dir]++;
    cr_assert(s->len[dir] + len <= sizeof s->buf[dir]);
    if (len)
        memcpy(s->buf[dir] + s->len[dir], d, len);
    s->len[dir] += len;
    s->last_ptr[dir] = d;
}

static int ext_freed;
static void ext_free(int slot, void *p)
{
    ext_freed++;
    free(p);
}

/* A client 10.0.0.1:40000 and a server 10.0.0.2:80. */
static canh_pkt_t pkt(int from_client, uint8_t proto, uint8_t flags, uint32_t seq, uint32_t ack,
                      const char *data, int64_t ts)
{
    canh_pkt_t p;
    memset(&p, 0, sizeof p);
    p.ts_us = ts;
    p.ipver = 4;
    p.proto = proto;
    uint8_t c[4] = { 10, 0, 0, 1 }, s[4] = { 10, 0, 0, 2 };
    memcpy(p.src, from_client ? c : s, 4);
    memcpy(p.dst, from_client ? s : c, 4);
    p.sport = from_client ? 40000 : 80;
    p.dport = from_client ? 80 : 40000;
    p.tcp_flags = flags;
    p.seq = seq;
    p.ack = ack;
    p.payload = (const uint8_t *)data;
    p.plen = data ? (uint32_t)strlen(data) : 0;
    p.l3len = 40 + p.plen;
    p.hash = 0x1234abcd;   /* the decoder's symmetric hash: the same both ways */
    return p;
}

/* Looks p's flow up, checks its direction, and feeds it. */
static canh_flow_t *feed(canh_flow_table_t *t, const canh_pkt_t *p, int want_dir, seen_t *s)
{
    int dir = -1;
    canh_flow_t *f = canh_flow_get(t, p, &dir);
    cr_assert_not_null(f);
    cr_assert_eq(dir, want_dir, "packet %u went to dir %d", p->seq, dir);
    canh_flow_packet(t, f, dir, p, on_data, s);
    return f;
}

#define C(fl, seq, ack, d) pkt(1, TCP, (fl), (seq), (ack), (d), ts)
#define S(fl, seq, ack, d) pkt(0, TCP, (fl), (seq), (ack), (d), ts)
#define SYN CANH_TCP_SYN
#define ACK CANH_TCP_ACK
#define FIN CANH_TCP_FIN
#define RST CANH_TCP_RST
#define PSH CANH_TCP_PSH

static canh_flow_t *handshake(canh_flow_table_t *t, seen_t *s, uint32_t cisn, uint32_t sisn,
                              int64_t ts)
{
    canh_pkt_t p = C(SYN, cisn, 0, NULL);
    canh_flow_t *f = feed(t, &p, 0, s);
    cr_assert_eq(canh_flow_info(f)->flags & CANH_FLOW_ESTABLISHED, 0);
    p = S(SYN | ACK, sisn, cisn + 1, NULL);
    feed(t, &p, 1, s);
    cr_assert_eq(canh_flow_info(f)->flags & CANH_FLOW_ESTABLISHED, 0);
    p = C(ACK, cisn + 1, sisn + 1, NULL);
    feed(t, &p, 0, s);
    cr_assert(canh_flow_info(f)->flags & CANH_FLOW_ESTABLISHED);
    cr_assert_eq(canh_flow_info(f)->flags & CANH_FLOW_MIDSTREAM, 0);
    return f;
}

static canh_flow_counts_t counts(const canh_flow_table_t *t)
{
    canh_flow_counts_t c;
    canh_flow_counts(t, &c);
    return c;
}

Test(flow, handshake_and_data_both_ways)
{
    canh_flow_table_t *t = canh_flow_table_new(&PICK_UP);
    seen_t s = { 0 };
    int64_t ts = 1000 * SEC;
    canh_flow_t *f = handshake(t, &s, 100, 5000, ts);
    const canh_flow_info_t *i = canh_flow_info(f);
    cr_assert_eq(i->cport, 40000);
    cr_assert_eq(i->sport, 80);
    cr_assert_eq(i->client[0], 10);
    cr_assert_eq(i->client[3], 1);
    cr_assert_eq(i->server[3], 2);

    canh_pkt_t p = C(ACK | PSH, 101, 5001, "GET / HTTP/1.1\r\n\r\n");
    feed(t, &p, 0, &s);
    /* in order, nothing held: straight from the packet, no copy */
    cr_assert_eq(s.last_ptr[0], p.payload);
    p = S(ACK | PSH, 5001, 119, "HTTP/1.1 200 OK\r\n");
    feed(t, &p, 1, &s);
    p = S(ACK | PSH, 5018, 119, "\r\n");
    feed(t, &p, 1, &s);
    cr_assert_eq(s.len[0], 18);
    cr_assert_eq(memcmp(s.buf[0], "GET / HTTP/1.1\r\n\r\n", 18), 0);
    cr_assert_eq(s.len[1], 19);
    cr_assert_eq(memcmp(s.buf[1], "HTTP/1.1 200 OK\r\n\r\n", 19), 0);
    cr_assert_eq(s.gaps[0] + s.gaps[1], 0);
    cr_assert_eq(i->pkts[0], 3);
    cr_assert_eq(i->pkts[1], 3);
    cr_assert_eq(counts(t).flows, 1);
    cr_assert_eq(counts(t).active, 1);
    canh_flow_table_free(t);
}

Test(flow, out_of_order_segments_are_held_until_the_hole_closes)
{
    canh_flow_table_t *t = canh_flow_table_new(&PICK_UP);
    seen_t s = { 0 };
    int64_t ts = 1000 * SEC;
    handshake(t, &s, 1000, 9000, ts);
    canh_pkt_t p = C(ACK, 1011, 9001, "klmno");     /* third */
    feed(t, &p, 0, &s);
    p = C(ACK, 1006, 9001, "fghij");                /* second */
    feed(t, &p, 0, &s);
    cr_assert_eq(s.len[0], 0, "nothing may be handed over before the hole closes");
    p = C(ACK, 1001, 9001, "abcde");                /* first */
    feed(t, &p, 0, &s);
    cr_assert_eq(s.len[0], 15);
    cr_assert_eq(memcmp(s.buf[0], "abcdefghijklmno", 15), 0);
    cr_assert_eq(counts(t).segments_ooo, 2);
    cr_assert_eq(counts(t).gaps, 0);
    /* the held segments are freed once handed over */
    canh_flow_counts_t c = counts(t);
    cr_assert_lt(c.memuse, c.memuse_peak);
    canh_flow_table_free(t);
}

Test(flow, overlap_first_seen_bytes_win_and_differing_ones_are_counted)
{
    canh_flow_table_t *t = canh_flow_table_new(&PICK_UP);
    seen_t s = { 0 };
    int64_t ts = 1000 * SEC;
    handshake(t, &s, 0, 0, ts);
    canh_pkt_t p = C(ACK, 6, 1, "FGHIJ");            /* held: bytes 6..10 */
    feed(t, &p, 0, &s);
    p = C(ACK, 4, 1, "DEfgh");                       /* overlaps 6..8 with other bytes */
    feed(t, &p, 0, &s);
    p = C(ACK, 9, 1, "IJKL");                        /* overlaps 9..10 with the same bytes */
    feed(t, &p, 0, &s);
    cr_assert_eq(counts(t).overlaps, 2);
    cr_assert_eq(counts(t).overlaps_differ, 1);
    p = C(ACK, 1, 1, "abc");
    feed(t, &p, 0, &s);
    cr_assert_eq(s.len[0], 12);
    cr_assert_eq(memcmp(s.buf[0], "abcDEFGHIJKL", 12), 0, "got %.*s", (int)s.len[0], s.buf[0]);
    canh_flow_table_free(t);
}

Test(flow, in_order_segment_over_held_bytes_keeps_the_held_ones)
{
    canh_flow_table_t *t = canh_flow_table_new(&PICK_UP);
    seen_t s = { 0 };
    int64_t ts = 1000 * SEC;
    handshake(t, &s, 0, 0, ts);
    canh_pkt_t p = C(ACK, 4, 1, "XY");               /* held first */
    feed(t, &p, 0, &s);
    p = C(ACK, 1, 1, "abcdef");                      /* in order, covers it with other bytes */
    feed(t, &p, 0, &s);
    cr_assert_eq(s.len[0], 6);
    cr_assert_eq(memcmp(s.buf[0], "abcXYf", 6), 0, "got %.*s", (int)s.len[0], s.buf[0]);
    cr_assert_eq(counts(t).overlaps_differ, 1);
    canh_flow_table_free(t);
}

Test(flow, retransmissions_are_dropped)
{
    canh_flow_table_t *t = canh_flow_table_new(&PICK_UP);
    seen_t s = { 0 };
    int64_t ts = 1000 * SEC;
    handshake(t, &s, 10, 20, ts);
    canh_pkt_t p = C(ACK, 11, 21, "hello");
    feed(t, &p, 0, &s);
    feed(t, &p, 0, &s);                              /* the same again */
    p = C(ACK, 11, 21, "HELLO");                     /* old bytes, other content */
    feed(t, &p, 0, &s);
    p = C(ACK, 14, 21, "lo world");                  /* partly old: only the new part */
    feed(t, &p, 0, &s);
    cr_assert_eq(s.len[0], 11);
    cr_assert_eq(memcmp(s.buf[0], "hello world", 11), 0);
    cr_assert_eq(counts(t).retransmits, 2);
    /* a retransmitted SYN changes nothing */
    p = C(SYN, 10, 0, NULL);
    feed(t, &p, 0, &s);
    p = C(ACK, 22, 21, "!");
    feed(t, &p, 0, &s);
    cr_assert_eq(s.len[0], 12);
    canh_flow_table_free(t);
}

Test(flow, a_hole_never_filled_is_skipped_at_the_end_with_a_gap)
{
    canh_flow_opts_t o = { .midstream = 1, .ext_free = ext_free };
    canh_flow_table_t *t = canh_flow_table_new(&o);
    seen_t s = { 0 };
    int64_t ts = 1000 * SEC;
    canh_flow_t *f = handshake(t, &s, 0, 0, ts);
    *canh_flow_ext(f, CANH_FLOW_EXT_APP) = malloc(8);
    *canh_flow_ext(f, CANH_FLOW_EXT_DETECT) = malloc(8);
    canh_pkt_t p = C(ACK, 1, 1, "abc");
    feed(t, &p, 0, &s);
    p = C(ACK, 10, 1, "xyz");                        /* bytes 4..9 never come */
    feed(t, &p, 0, &s);
    cr_assert_eq(s.len[0], 3);
    ext_freed = 0;
    canh_flow_end_all(t, on_data, &s);
    cr_assert_eq(s.len[0], 6);
    cr_assert_eq(memcmp(s.buf[0], "abcxyz", 6), 0);
    cr_assert_eq(s.gaps[0], 1);
    cr_assert_eq(s.gap_at[0], 3, "the gap is flagged on the bytes after the hole");
    cr_assert_eq(s.ends[0], 1);
    cr_assert_eq(s.ends[1], 1);
    cr_assert_eq(counts(t).gaps, 1);
    cr_assert_eq(counts(t).active, 0);
    cr_assert_eq(counts(t).ended_end_all, 1);
    cr_assert_eq(ext_freed, 2);
    canh_flow_table_free(t);
}

Test(flow, a_hole_is_given_up_when_the_per_direction_cap_is_full)
{
    canh_flow_opts_t o = { .midstream = 1, .stream_flow_cap = 8 };
    canh_flow_table_t *t = canh_flow_table_new(&o);
    seen_t s = { 0 };
    int64_t ts = 1000 * SEC;
    handshake(t, &s, 0, 0, ts);
    canh_pkt_t p = C(ACK, 1, 1, "ab");
    feed(t, &p, 0, &s);
    p = C(ACK, 5, 1, "efgh");                        /* bytes 3..4 missing */
    feed(t, &p, 0, &s);
    cr_assert_eq(s.len[0], 2);
    p = C(ACK, 9, 1, "ijklm");                       /* 4 + 5 > 8 held: the hole goes */
    feed(t, &p, 0, &s);
    cr_assert_eq(s.len[0], 11);
    cr_assert_eq(memcmp(s.buf[0], "abefghijklm", 11), 0);
    cr_assert_eq(s.gaps[0], 1);
    cr_assert_eq(s.gap_at[0], 2);
    cr_assert_eq(counts(t).stream_flow_cap_hit, 1);
    cr_assert_eq(counts(t).gaps, 1);
    /* late bytes of the hole are old now */
    p = C(ACK, 3, 1, "cd");
    feed(t, &p, 0, &s);
    cr_assert_eq(s.len[0], 11);
    canh_flow_table_free(t);
}

Test(flow, sequence_numbers_wrap)
{
    canh_flow_table_t *t = canh_flow_table_new(&PICK_UP);
    seen_t s = { 0 };
    int64_t ts = 1000 * SEC;
    uint32_t isn = 0xfffffffau;
    handshake(t, &s, isn, 0x7fffffffu, ts);
    /* isn+1 = 0xfffffffb; "abcdefgh" runs to 0x00000003 */
    canh_pkt_t p = C(ACK, 0x00000003u, 0x80000000u, "ijk");   /* after the wrap, first */
    feed(t, &p, 0, &s);
    cr_assert_eq(s.len[0], 0);
    p = C(ACK, 0xfffffffbu, 0x80000000u, "abcdefgh");
    feed(t, &p, 0, &s);
    cr_assert_eq(s.len[0], 11);
    cr_assert_eq(memcmp(s.buf[0], "abcdefghijk", 11), 0);
    p = C(ACK, 0xfffffffeu, 0x80000000u, "def");               /* old, across the wrap */
    feed(t, &p, 0, &s);
    cr_assert_eq(s.len[0], 11);
    cr_assert_eq(counts(t).retransmits, 1);
    cr_assert_eq(counts(t).gaps, 0);
    canh_flow_table_free(t);
}

Test(flow, midstream_not_picked_up_unless_asked)
{
    canh_flow_opts_t o = { 0 };   /* Suricata's default: stream.midstream false */
    canh_flow_table_t *t = canh_flow_table_new(&o);
    seen_t s = { 0 };
    int64_t ts = 1000 * SEC;
    canh_pkt_t p = C(ACK | PSH, 777, 888, "GET /x");
    canh_flow_t *f = feed(t, &p, 0, &s);
    const canh_flow_info_t *i = canh_flow_info(f);
    p = S(ACK | PSH, 888, 783, "HTTP/1.1 404");
    feed(t, &p, 1, &s);
    p = C(ACK | PSH, 783, 900, " HTTP/1.1");
    feed(t, &p, 0, &s);
    cr_assert(i->flags & CANH_FLOW_MIDSTREAM);
    cr_assert_eq(i->flags & CANH_FLOW_ESTABLISHED, 0, "never established");
    cr_assert_eq(s.len[0], 0, "no byte reassembled");
    cr_assert_eq(s.len[1], 0);
    cr_assert_eq(i->pkts[0], 2, "its packets are still counted");
    canh_flow_table_free(t);
}

Test(flow, midstream_pick_up)
{
    canh_flow_table_t *t = canh_flow_table_new(&PICK_UP);
    seen_t s = { 0 };
    int64_t ts = 1000 * SEC;
    canh_pkt_t p = C(ACK | PSH, 777, 888, "GET /x");
    canh_flow_t *f = feed(t, &p, 0, &s);
    const canh_flow_info_t *i = canh_flow_info(f);
    cr_assert(i->flags & CANH_FLOW_MIDSTREAM);
    cr_assert_eq(i->flags & CANH_FLOW_ESTABLISHED, 0);
    cr_assert_eq(i->cport, 40000, "the first packet's sender is the client");
    p = S(ACK | PSH, 888, 783, "HTTP/1.1 404");
    feed(t, &p, 1, &s);
    cr_assert(i->flags & CANH_FLOW_ESTABLISHED);
    p = C(ACK | PSH, 783, 900, " HTTP/1.1");
    feed(t, &p, 0, &s);
    cr_assert_eq(s.len[0], 15);
    cr_assert_eq(memcmp(s.buf[0], "GET /x HTTP/1.1", 15), 0);
    cr_assert_eq(s.len[1], 12);
    cr_assert_eq(counts(t).tcp_midstream, 1);
    canh_flow_table_free(t);
}

Test(flow, first_packet_a_syn_ack_makes_its_receiver_the_client)
{
    canh_flow_table_t *t = canh_flow_table_new(&PICK_UP);
    seen_t s = { 0 };
    int64_t ts = 1000 * SEC;
    canh_pkt_t p = S(SYN | ACK, 500, 301, NULL);
    canh_flow_t *f = feed(t, &p, 1, &s);
    const canh_flow_info_t *i = canh_flow_info(f);
    cr_assert_eq(i->cport, 40000);
    cr_assert_eq(i->sport, 80);
    cr_assert_eq(i->client[3], 1);
    cr_assert(i->flags & CANH_FLOW_MIDSTREAM);
    p = C(ACK | PSH, 301, 501, "hi");
    feed(t, &p, 0, &s);
    cr_assert_eq(s.len[0], 2);
    cr_assert(i->flags & CANH_FLOW_ESTABLISHED);
    canh_flow_table_free(t);
}

Test(flow, data_after_a_rst_is_ignored)
{
    canh_flow_table_t *t = canh_flow_table_new(&PICK_UP);
    seen_t s = { 0 };
    int64_t ts = 1000 * SEC;
    canh_flow_t *f = handshake(t, &s, 0, 0, ts);
    canh_pkt_t p = C(ACK, 1, 1, "abc");
    feed(t, &p, 0, &s);
    p = S(RST | ACK, 1, 4, NULL);
    feed(t, &p, 1, &s);
    cr_assert(canh_flow_info(f)->flags & CANH_FLOW_CLOSED);
    cr_assert_eq(s.ends[0], 1);
    cr_assert_eq(s.ends[1], 1);
    p = C(ACK, 4, 1, "def");
    feed(t, &p, 0, &s);
    cr_assert_eq(s.len[0], 3);
    /* ended at once by the short closed timeout, not the hour of TCP */
    canh_flow_expire(t, ts + 11 * SEC, on_data, &s);
    cr_assert_eq(counts(t).active, 0);
    cr_assert_eq(counts(t).ended_closed, 1);
    cr_assert_eq(s.ends[0], 1, "a direction ends once");
    canh_flow_table_free(t);
}

Test(flow, both_fins_end_both_directions_after_their_data)
{
    canh_flow_table_t *t = canh_flow_table_new(&PICK_UP);
    seen_t s = { 0 };
    int64_t ts = 1000 * SEC;
    canh_flow_t *f = handshake(t, &s, 0, 0, ts);
    canh_pkt_t p = C(ACK | FIN, 4, 1, "def");        /* FIN before the data ahead of it */
    feed(t, &p, 0, &s);
    cr_assert_eq(s.ends[0], 0);
    p = C(ACK, 1, 1, "abc");
    feed(t, &p, 0, &s);
    cr_assert_eq(s.len[0], 6);
    cr_assert_eq(s.ends[0], 1);
    cr_assert_eq(memcmp(s.buf[0], "abcdef", 6), 0);
    cr_assert_eq(canh_flow_info(f)->flags & CANH_FLOW_CLOSED, 0);
    p = C(ACK, 8, 1, "late");                        /* past the FIN */
    feed(t, &p, 0, &s);
    cr_assert_eq(s.len[0], 6);
    p = S(ACK | PSH, 1, 8, "bye");
    feed(t, &p, 1, &s);
    p = S(ACK | FIN, 4, 8, NULL);
    feed(t, &p, 1, &s);
    cr_assert_eq(s.ends[1], 1);
    cr_assert_eq(s.len[1], 3);
    cr_assert(canh_flow_info(f)->flags & CANH_FLOW_CLOSED);
    cr_assert_eq(s.gaps[0] + s.gaps[1], 0);
    canh_flow_table_free(t);
}

Test(flow, a_closed_flows_tuple_reused_by_a_new_syn_is_a_new_flow)
{
    canh_flow_table_t *t = canh_flow_table_new(&PICK_UP);
    seen_t s = { 0 };
    int64_t ts = 1000 * SEC;
    canh_flow_t *f = handshake(t, &s, 0, 0, ts);
    uint64_t id1 = canh_flow_info(f)->id;
    canh_pkt_t p = C(RST, 1, 0, NULL);
    feed(t, &p, 0, &s);
    seen_t s2 = { 0 };
    f = handshake(t, &s2, 99999, 5, ts + SEC);
    cr_assert_neq(canh_flow_info(f)->id, id1);
    cr_assert_eq(counts(t).flows, 2);
    cr_assert_eq(counts(t).active, 1);
    canh_flow_table_free(t);
}

Test(flow, timeouts_run_on_packet_time)
{
    canh_flow_opts_t o = { .midstream = 1, .udp_timeout_us = 30 * SEC, .tcp_timeout_us = 100 * SEC };
    canh_flow_table_t *t = canh_flow_table_new(&o);
    seen_t s = { 0 };
    int64_t ts = 5000 * SEC;
    handshake(t, &s, 0, 0, ts);
    canh_pkt_t u = pkt(1, UDP, 0, 0, 0, "q", ts);
    u.sport = 5353;
    feed(t, &u, 0, &s);
    cr_assert_eq(counts(t).active, 2);

    canh_flow_expire(t, ts + 29 * SEC, on_data, &s);
    cr_assert_eq(counts(t).active, 2);
    canh_flow_expire(t, ts + 30 * SEC, on_data, &s);
    cr_assert_eq(counts(t).active, 1, "the UDP flow is over after 30 s of packet time");
    cr_assert_eq(s.ends[0] + s.ends[1], 0, "a UDP flow has no stream to end");

    /* activity moves the TCP flow's clock */
    ts += 90 * SEC;
    canh_pkt_t p = C(ACK, 1, 1, "x");
    feed(t, &p, 0, &s);
    canh_flow_expire(t, ts + 99 * SEC, on_data, &s);
    cr_assert_eq(counts(t).active, 1);
    canh_flow_expire(t, ts + 100 * SEC, on_data, &s);
    cr_assert_eq(counts(t).active, 0);
    cr_assert_eq(s.ends[0], 1);
    cr_assert_eq(s.ends[1], 1);
    cr_assert_eq(counts(t).ended_timeout, 2);
    canh_flow_table_free(t);
}

Test(flow, udp_flow_is_established_with_packets_both_ways)
{
    canh_flow_table_t *t = canh_flow_table_new(&PICK_UP);
    seen_t s = { 0 };
    canh_pkt_t q = pkt(1, UDP, 0, 0, 0, "query", 1);
    canh_flow_t *f = feed(t, &q, 0, &s);
    cr_assert_eq(canh_flow_info(f)->flags & CANH_FLOW_ESTABLISHED, 0);
    canh_pkt_t a = pkt(0, UDP, 0, 0, 0, "answer", 2);
    cr_assert_eq(feed(t, &a, 1, &s), f);
    cr_assert(canh_flow_info(f)->flags & CANH_FLOW_ESTABLISHED);
    cr_assert_eq(s.calls[0] + s.calls[1], 0, "UDP payloads are not streamed");
    canh_flow_table_free(t);
}

Test(flow, memcap_evicts_the_oldest_flow)
{
    /* room for a few flows only: the first one goes when the cap is full */
    canh_flow_table_t *probe = canh_flow_table_new(&PICK_UP);
    seen_t s = { 0 };
    canh_pkt_t p = pkt(1, UDP, 0, 0, 0, "x", 1);
    feed(probe, &p, 0, &s);
    size_t one = counts(probe).memuse;
    canh_flow_table_free(probe);
    cr_assert_gt(one, 0);

    canh_flow_opts_t o = { .midstream = 1, .memcap = one * 3, .ext_free = ext_free };
    canh_flow_table_t *t = canh_flow_table_new(&o);
    canh_flow_t *first = NULL;
    uint64_t first_id = 0;
    ext_freed = 0;
    for (int k = 0; k < 4; k++) {
        p = pkt(1, UDP, 0, 0, 0, "x", (k + 1) * SEC);
        p.sport = (uint16_t)(1000 + k);
        canh_flow_t *f = feed(t, &p, 0, &s);
        *canh_flow_ext(f, CANH_FLOW_EXT_APP) = malloc(4);
        if (k == 0) {
            first = f;
            first_id = canh_flow_info(f)->id;
        }
    }
    (void)first;
    canh_flow_counts_t c = counts(t);
    cr_assert_eq(c.flows, 4);
    cr_assert_eq(c.active, 3);
    cr_assert_eq(c.evicted_memcap, 1);
    cr_assert_leq(c.memuse, o.memcap);
    cr_assert_eq(ext_freed, 1);
    /* the first flow is the one gone: its packet makes a new flow */
    p = pkt(1, UDP, 0, 0, 0, "x", 10 * SEC);
    p.sport = 1000;
    canh_flow_t *f = feed(t, &p, 0, &s);
    cr_assert_neq(canh_flow_info(f)->id, first_id);
    cr_assert_eq(counts(t).evicted_memcap, 2);
    canh_flow_table_free(t);
    cr_assert_eq(ext_freed, 4);   /* four flows had state; the fifth none */
}

Test(flow, held_segments_count_against_the_memcap)
{
    canh_flow_opts_t o = { .midstream = 1, .memcap = 8192 };
    canh_flow_table_t *t = canh_flow_table_new(&o);
    seen_t s = { 0 };
    int64_t ts = 1000 * SEC;
    handshake(t, &s, 0, 0, ts);
    static char big[3000];
    memset(big, 'z', sizeof big - 1);
    for (int k = 0; k < 4; k++) {
        canh_pkt_t p = C(ACK, 100 + (uint32_t)k * 4000, 1, big);
        feed(t, &p, 0, &s);
    }
    canh_flow_counts_t c = counts(t);
    cr_assert_gt(c.stream_memcap_hit, 0);
    cr_assert_leq(c.memuse, o.memcap);
    cr_assert_leq(c.memuse_peak, o.memcap);
    /* what was held is handed over at the end, after a gap */
    canh_flow_end_all(t, on_data, &s);
    cr_assert_gt(s.len[0], 0);
    cr_assert_eq(s.len[0] % (sizeof big - 1), 0);
    cr_assert_eq(s.gaps[0], (int)(s.len[0] / (sizeof big - 1)));
    cr_assert_eq(counts(t).memuse, 0);
    canh_flow_table_free(t);
}

Test(flow, same_tuple_on_two_vlans_is_two_flows)
{
    canh_flow_table_t *t = canh_flow_table_new(&PICK_UP);
    seen_t s = { 0 };
    canh_pkt_t a = pkt(1, UDP, 0, 0, 0, "x", 1);
    a.nvlan = 1;
    a.vlan[0] = 10;
    canh_pkt_t b = a;
    b.vlan[0] = 20;
    canh_pkt_t c = a;
    c.nvlan = 2;
    c.vlan[1] = 30;
    canh_flow_t *fa = feed(t, &a, 0, &s);
    canh_flow_t *fb = feed(t, &b, 0, &s);
    canh_flow_t *fc = feed(t, &c, 0, &s);
    cr_assert_neq(fa, fb);
    cr_assert_neq(fa, fc);
    cr_assert_neq(fb, fc);
    cr_assert_eq(canh_flow_info(fb)->vlan[0], 20);
    canh_pkt_t r = pkt(0, UDP, 0, 0, 0, "y", 2);
    r.nvlan = 1;
    r.vlan[0] = 20;
    cr_assert_eq(feed(t, &r, 1, &s), fb);
    cr_assert_eq(counts(t).flows, 3);
    canh_flow_table_free(t);
}

Test(flow, both_directions_meet_in_one_flow_also_across_buckets)
{
    canh_flow_table_t *t = canh_flow_table_new(&PICK_UP);
    seen_t s = { 0 };
    /* many flows in the table; each reply finds its request's flow */
    canh_flow_t *fl[200];
    for (int k = 0; k < 200; k++) {
        canh_pkt_t p = pkt(1, UDP, 0, 0, 0, "q", 1);
        p.sport = (uint16_t)(20000 + k);
        p.hash = (uint32_t)k * 7919u;
        fl[k] = feed(t, &p, 0, &s);
    }
    for (int k = 199; k >= 0; k--) {
        canh_pkt_t p = pkt(0, UDP, 0, 0, 0, "a", 2);
        p.dport = (uint16_t)(20000 + k);
        p.hash = (uint32_t)k * 7919u;
        cr_assert_eq(feed(t, &p, 1, &s), fl[k]);
    }
    cr_assert_eq(counts(t).flows, 200);
    /* the same ports with the addresses the other way round is another flow */
    canh_pkt_t x = pkt(1, UDP, 0, 0, 0, "q", 3);
    x.sport = 80;
    x.dport = 20000;
    x.hash = 0;
    int dir = -1;
    canh_flow_t *f = canh_flow_get(t, &x, &dir);
    cr_assert_neq(f, fl[0]);
    cr_assert_eq(dir, 0);
    canh_flow_table_free(t);
}

Test(flow, packets_without_a_flow_and_bad_arguments)
{
    canh_flow_table_t *t = canh_flow_table_new(&PICK_UP);
    canh_pkt_t p = pkt(1, 47, 0, 0, 0, NULL, 1);     /* GRE: no flow */
    int dir;
    cr_assert_null(canh_flow_get(t, &p, &dir));
    cr_assert_null(canh_flow_get(NULL, &p, &dir));
    cr_assert_null(canh_flow_get(t, NULL, &dir));
    cr_assert_null(canh_flow_ext(NULL, 0));
    p.proto = UDP;
    canh_flow_t *f = canh_flow_get(t, &p, &dir);
    cr_assert_not_null(f);
    cr_assert_null(canh_flow_ext(f, CANH_FLOW_EXT__COUNT));
    cr_assert_null(canh_flow_ext(f, -1));
    canh_flow_packet(t, f, 2, &p, NULL, NULL);       /* ignored */
    cr_assert_eq(canh_flow_info(f)->pkts[0] + canh_flow_info(f)->pkts[1], 0);
    canh_flow_table_free(t);
    canh_flow_table_free(NULL);
}

/* A stream fed in a shuffled order with random overlaps and duplicates
 * gives back exactly the bytes sent, in order, without a gap. */
Test(flow, shuffled_overlapping_segments_rebuild_the_stream)
{
    srand(7);
    for (int round = 0; round < 30; round++) {
        canh_flow_table_t *t = canh_flow_table_new(&PICK_UP);
        seen_t s = { 0 };
        int64_t ts = 1000 * SEC;
        uint32_t isn = (uint32_t)rand() * 2654435761u;
        handshake(t, &s, isn, 1, ts);
        size_t mem0 = counts(t).memuse;
        static char msg[4001];
        for (int k = 0; k < 4000; k++)
            msg[k] = (char)('a' + rand() % 26);
        enum { N = 120 };
        uint32_t off[N], len[N];
        int n = 0;
        for (uint32_t o = 0; o < 4000 && n < N - 20;) {
            uint32_t l = 1 + (uint32_t)(rand() % 90);
            if (o + l > 4000)
                l = 4000 - o;
            off[n] = o;
            len[n++] = l;
            o += l;
        }
        int base = n;
        for (int k = 0; k < 20; k++) {                 /* overlapping copies */
            uint32_t o = (uint32_t)(rand() % 3990);
            off[n] = o;
            len[n++] = 1 + (uint32_t)(rand() % (int)(4000 - o > 120 ? 120 : 4000 - o));
        }
        (void)base;
        for (int k = n - 1; k > 0; k--) {
            int j = rand() % (k + 1);
            uint32_t a = off[k], b = len[k];
            off[k] = off[j]; len[k] = len[j];
            off[j] = a; len[j] = b;
        }
        for (int k = 0; k < n; k++) {
            char seg[200];
            memcpy(seg, msg + off[k], len[k]);
            seg[len[k]] = 0;
            canh_pkt_t p = C(ACK, isn + 1 + off[k], 2, seg);
            feed(t, &p, 0, &s);
        }
        cr_assert_eq(s.len[0], 4000, "round %d: %zu bytes", round, s.len[0]);
        cr_assert_eq(memcmp(s.buf[0], msg, 4000), 0, "round %d", round);
        cr_assert_eq(s.gaps[0], 0);
        cr_assert_eq(counts(t).overlaps_differ, 0);
        cr_assert_eq(counts(t).memuse, mem0, "round %d: held segments left", round);
        canh_flow_table_free(t);
    }
}

/* ---- real captures (tests/data/flow/README.md) ---------------------- */

/* Reads a classic pcap of Ethernet (DLT 1) or BSD loopback (DLT 0) frames
 * with IPv4 TCP/UDP, just enough to feed the table without the decoder;
 * calls fn on each packet. */
typedef void (*pcap_fn)(canh_pkt_t *p, void *ud);
static int read_pcap(const char *path, pcap_fn fn, void *ud)
{
    FILE *fp = fopen(path, "rb");
    cr_assert_not_null(fp, "cannot open %s (run from the repository root)", path);
    static uint8_t file[1 << 16];
    size_t n = fread(file, 1, sizeof file, fp);
    fclose(fp);
    cr_assert_gt(n, 24);
    uint32_t magic, dlt;
    memcpy(&magic, file, 4);
    memcpy(&dlt, file + 20, 4);
    cr_assert_eq(magic, 0xa1b2c3d4u, "a little-endian microsecond pcap");
    size_t off = 24;
    int count = 0;
    while (off + 16 <= n) {
        uint32_t h[4];
        memcpy(h, file + off, 16);
        const uint8_t *fr = file + off + 16;
        uint32_t cl = h[2];
        cr_assert_leq(off + 16 + cl, n);
        off += 16 + cl;
        count++;
        const uint8_t *ip;
        if (dlt == 1) {
            if (cl < 14 || fr[12] != 0x08 || fr[13] != 0x00)
                continue;
            ip = fr + 14;
            cl -= 14;
        } else {
            cr_assert_eq(dlt, 0);
            ip = fr + 4;
            cl -= 4;
        }
        uint32_t ihl = (ip[0] & 15u) * 4, tot = (uint32_t)ip[2] << 8 | ip[3];
        cr_assert_leq(tot, cl);
        canh_pkt_t p;
        memset(&p, 0, sizeof p);
        p.ts_us = (int64_t)h[0] * 1000000 + h[1];
        p.num = (uint64_t)count;
        p.caplen = p.wirelen = h[2];
        p.ipver = 4;
        p.proto = ip[9];
        memcpy(p.src, ip + 12, 4);
        memcpy(p.dst, ip + 16, 4);
        p.l3 = ip;
        p.l3len = tot;
        const uint8_t *l4 = ip + ihl;
        p.sport = (uint16_t)(l4[0] << 8 | l4[1]);
        p.dport = (uint16_t)(l4[2] << 8 | l4[3]);
        if (p.proto == TCP) {
            uint32_t doff = (l4[12] >> 4) * 4u;
            p.seq = (uint32_t)l4[4] << 24 | (uint32_t)l4[5] << 16 | (uint32_t)l4[6] << 8 | l4[7];
            p.ack = (uint32_t)l4[8] << 24 | (uint32_t)l4[9] << 16 | (uint32_t)l4[10] << 8 | l4[11];
            p.tcp_flags = l4[13];
            p.payload = l4 + doff;
            p.plen = tot - ihl - doff;
        } else {
            p.payload = l4 + 8;
            p.plen = tot - ihl - 8;
        }
        /* symmetric: the same both ways */
        uint32_t a, b;
        memcpy(&a, p.src, 4);
        memcpy(&b, p.dst, 4);
        p.hash = (a ^ b) * 31u + (uint32_t)(p.sport ^ p.dport) + p.proto;
        fn(&p, ud);
    }
    return count;
}

typedef struct replay {
    canh_flow_table_t *t;
    seen_t s;
    canh_flow_t *f;
    int dirs[64];
    int n;
    int reverse_on_first;       /* call canh_flow_reverse from the first packet */
} replay_t;

static void replay_pkt(canh_pkt_t *p, void *ud)
{
    replay_t *r = ud;
    int dir = -1;
    canh_flow_t *f = canh_flow_get(r->t, p, &dir);
    cr_assert_not_null(f);
    cr_assert(!r->f || f == r->f, "one connection, one flow");
    r->f = f;
    if (r->n < 64)
        r->dirs[r->n] = dir;
    r->n++;
    canh_flow_packet(r->t, f, dir, p, on_data, &r->s);
    if (r->reverse_on_first && r->n == 1)
        cr_assert_eq(canh_flow_reverse(f), CANH_OK);
}

Test(flow_pcap, picked_up_at_the_syn_ack)
{
    replay_t r = { .t = canh_flow_table_new(&PICK_UP) };
    cr_assert_eq(read_pcap("tests/data/flow/midstream-synack.pcap", replay_pkt, &r), 9);
    const canh_flow_info_t *i = canh_flow_info(r.f);
    cr_assert_eq(i->cport, 54186);
    cr_assert_eq(i->sport, 80);
    cr_assert_eq(memcmp(i->client, (uint8_t[]){ 10, 16, 1, 11 }, 4), 0);
    cr_assert_eq(r.dirs[0], 1, "the SYN-ACK goes to the client");
    cr_assert_eq(r.dirs[1], 0);
    cr_assert(i->flags & CANH_FLOW_MIDSTREAM);
    cr_assert(i->flags & CANH_FLOW_ESTABLISHED);
    cr_assert(i->flags & CANH_FLOW_CLOSED);
    cr_assert_eq(r.s.len[0], 81);
    cr_assert_eq(memcmp(r.s.buf[0], "GET ", 4), 0);
    cr_assert_eq(r.s.len[1], 259);
    cr_assert_not_null(memmem(r.s.buf[1], r.s.len[1], "uid=0(root)", 11));
    cr_assert_eq(r.s.ends[0] + r.s.ends[1], 2, "both FINs end both directions");
    cr_assert_eq(r.s.gaps[0] + r.s.gaps[1], 0);
    cr_assert_eq(i->pkts[0], 5);
    cr_assert_eq(i->pkts[1], 4);
    canh_flow_table_free(r.t);
}

Test(flow_pcap, a_segment_lost_by_the_capture_is_a_gap_once_acknowledged)
{
    replay_t r = { .t = canh_flow_table_new(&PICK_UP) };
    cr_assert_eq(read_pcap("tests/data/flow/http-gap-simple.pcap", replay_pkt, &r), 31);
    /* the client side is whole: three requests */
    cr_assert_eq(r.s.len[0], 120);
    cr_assert_eq(r.s.gaps[0], 0);
    cr_assert_not_null(memmem(r.s.buf[0], r.s.len[0], "GET /3 HTTP/1.0", 15));
    /* the server side: 14 bytes of the second body missing, skipped as
     * soon as the client's ACK showed they were received */
    cr_assert_eq(r.s.gaps[1], 1);
    cr_assert_eq(r.s.gap_at[1], 136 + 14 + 99 + 14);
    cr_assert_eq(r.s.len[1], 136 + 14 + 99 + 14 + 3 * 14 + 113);
    cr_assert_eq(r.s.ends[0] + r.s.ends[1], 2);
    canh_flow_counts_t c = counts(r.t);
    cr_assert_eq(c.gaps, 1);
    cr_assert_eq(c.segments_ooo, 1);
    cr_assert_eq(c.tcp_midstream, 0);
    canh_flow_table_free(r.t);
}

Test(flow_pcap, reversed_at_the_protocols_word)
{
    replay_t r = { .t = canh_flow_table_new(&PICK_UP), .reverse_on_first = 1 };
    cr_assert_eq(read_pcap("tests/data/flow/dns-reversed-tcp.pcap", replay_pkt, &r), 5);
    const canh_flow_info_t *i = canh_flow_info(r.f);
    cr_assert_eq(memcmp(i->client, (uint8_t[]){ 10, 16, 1, 11 }, 4), 0);
    cr_assert_eq(i->sport, 53);
    cr_assert_eq(r.dirs[0], 0, "before the swap: the answer's sender was the client");
    cr_assert_eq(r.dirs[1], 0, "after it: the resolver's ACK goes to the server");
    cr_assert_eq(r.dirs[2], 0);
    cr_assert_eq(r.dirs[3], 1);
    /* the answer was handed over (as dir 0) before the swap; the FIN of
     * its sender ends dir 1 after it */
    cr_assert_eq(r.s.len[0], 237);
    cr_assert_eq(i->pkts[1], 2);
    cr_assert_eq(i->pkts[0], 3);
    cr_assert(i->flags & CANH_FLOW_CLOSED);
    cr_assert_eq(r.s.ends[0], 1);
    cr_assert_eq(r.s.ends[1], 1);
    cr_assert_eq(r.s.gaps[0] + r.s.gaps[1], 0);
    canh_flow_table_free(r.t);
}

Test(flow, held_bytes_past_a_fin_are_dropped)
{
    canh_flow_table_t *t = canh_flow_table_new(&PICK_UP);
    seen_t s = { 0 };
    int64_t ts = 1000 * SEC;
    handshake(t, &s, 0, 0, ts);
    canh_pkt_t p = C(ACK, 6, 1, "XXXX");             /* held, but past the FIN below */
    feed(t, &p, 0, &s);
    p = C(ACK, 3, 1, "cdefg");                       /* held, crosses the FIN */
    feed(t, &p, 0, &s);
    p = C(ACK | FIN, 4, 1, "d");                     /* the FIN: data ends at byte 4 */
    feed(t, &p, 0, &s);
    cr_assert_eq(s.ends[0], 0);
    p = C(ACK, 1, 1, "ab");
    feed(t, &p, 0, &s);
    cr_assert_eq(s.ends[0], 1);
    cr_assert_eq(s.len[0], 4);
    cr_assert_eq(memcmp(s.buf[0], "abcd", 4), 0, "got %.*s", (int)s.len[0], s.buf[0]);
    cr_assert_eq(s.gaps[0], 0);
    canh_flow_table_free(t);
}

Test(flow, a_rst_outside_the_window_is_ignored)
{
    canh_flow_table_t *t = canh_flow_table_new(&PICK_UP);
    seen_t s = { 0 };
    int64_t ts = 1000 * SEC;
    canh_flow_t *f = handshake(t, &s, 1000, 50000, ts);
    canh_pkt_t p = S(RST, 50001 + 0x40000000u, 0, NULL);   /* a blind guess */
    p.win = 0;
    feed(t, &p, 1, &s);
    cr_assert_eq(canh_flow_info(f)->flags & CANH_FLOW_CLOSED, 0);
    cr_assert_eq(counts(t).rst_invalid, 1);
    p = C(ACK, 1001, 50001, "still inspected");
    feed(t, &p, 0, &s);
    cr_assert_eq(s.len[0], 15);
    p = S(RST, 50001, 0, NULL);                        /* the real one */
    feed(t, &p, 1, &s);
    cr_assert(canh_flow_info(f)->flags & CANH_FLOW_CLOSED);
    canh_flow_table_free(t);
}

Test(flow, unestablished_tcp_flows_time_out_sooner)
{
    canh_flow_opts_t o = { .midstream = 1, .tcp_new_timeout_us = 30 * SEC, .tcp_timeout_us = 3600 * SEC };
    canh_flow_table_t *t = canh_flow_table_new(&o);
    seen_t s = { 0 };
    int64_t ts = 1000 * SEC;
    canh_pkt_t p = C(SYN, 7, 0, NULL);                 /* a scan: SYN, no answer */
    p.sport = 41000;
    feed(t, &p, 0, &s);
    handshake(t, &s, 0, 0, ts);                        /* a real connection */
    canh_flow_expire(t, ts + 29 * SEC, on_data, &s);
    cr_assert_eq(counts(t).active, 2);
    canh_flow_expire(t, ts + 30 * SEC, on_data, &s);
    cr_assert_eq(counts(t).active, 1, "the unanswered SYN's flow is over after 30 s");
    cr_assert_eq(s.ends[0], 1, "its one direction ended");
    canh_flow_expire(t, ts + 3599 * SEC, on_data, &s);
    cr_assert_eq(counts(t).active, 1, "the established one lasts the hour");
    canh_flow_table_free(t);
}

/* Per-flow check state, kept in the APP ext slot as a consumer would. */
typedef struct rnd_state {
    int ended[2];
    uint64_t bytes[2];
} rnd_state_t;

static uint64_t rnd_delivered, rnd_ends;
static void on_rnd(void *ud, canh_flow_t *f, int dir, const uint8_t *d, size_t len, int flags)
{
    rnd_state_t *st = *canh_flow_ext(f, CANH_FLOW_EXT_APP);
    cr_assert_not_null(st);
    cr_assert_eq(st->ended[dir], 0, "bytes or an end after the end");
    cr_assert(len == 0 || d != NULL);
    if (len) {   /* touch every byte: ASan checks the pointer */
        volatile uint8_t sum = 0;
        for (size_t k = 0; k < len; k++)
            sum = (uint8_t)(sum + d[k]);
        (void)sum;
    }
    st->bytes[dir] += len;
    rnd_delivered += len;
    if (flags & CANH_STREAM_END) {
        st->ended[dir] = 1;
        rnd_ends++;
    }
}

/* Random packets (any flags, sequence numbers near and far, sizes) over a
 * few tuples with small caps: no crash, the caps hold, every flow ends
 * once per direction, and nothing is left when the table is emptied. */
Test(flow, random_packets_keep_the_caps_and_the_rules)
{
    canh_flow_opts_t o = { .midstream = 1, .memcap = 16 * 1024, .stream_flow_cap = 4096, .ext_free = ext_free };
    canh_flow_table_t *t = canh_flow_table_new(&o);
    static uint8_t junk[1500];
    srand(11);
    for (size_t k = 0; k < sizeof junk; k++)
        junk[k] = (uint8_t)rand();
    uint32_t base[32];
    for (int k = 0; k < 32; k++)
        base[k] = (uint32_t)rand() * 2654435761u;
    int64_t ts = 1000 * SEC;
    for (int n = 0; n < 200000; n++) {
        int fl = rand() % 32, from_client = rand() % 2;
        canh_pkt_t p = pkt(from_client, TCP, 0, 0, 0, NULL, ts);
        p.sport = from_client ? (uint16_t)(40000 + fl) : 80;
        p.dport = from_client ? 80 : (uint16_t)(40000 + fl);
        int r = rand() % 100;
        p.tcp_flags = (uint8_t)(r < 80 ? CANH_TCP_ACK : rand() % 256);
        uint32_t b = base[fl] + (from_client ? 0 : 0x12345678u);
        p.seq = r % 7 == 0 ? (uint32_t)rand() : b + (uint32_t)(rand() % 20000);
        p.ack = (uint32_t)rand();
        p.win = (uint16_t)rand();
        p.plen = (uint32_t)(rand() % 3 == 0 ? 0 : rand() % (int)sizeof junk);
        p.payload = junk;
        if (rand() % 50 == 0)
            base[fl] += (uint32_t)rand();
        if (rand() % 1000 == 0)
            ts += 40 * SEC;
        int dir;
        canh_flow_t *f = canh_flow_get(t, &p, &dir);
        cr_assert_not_null(f);
        void **slot = canh_flow_ext(f, CANH_FLOW_EXT_APP);
        if (!*slot)
            *slot = calloc(1, sizeof(rnd_state_t));
        canh_flow_packet(t, f, dir, &p, on_rnd, NULL);
        canh_flow_counts_t c = counts(t);
        cr_assert_leq(c.memuse, o.memcap, "packet %d", n);
        if (n % 5000 == 0)
            canh_flow_expire(t, ts, on_rnd, NULL);
    }
    canh_flow_end_all(t, on_rnd, NULL);
    canh_flow_counts_t c = counts(t);
    cr_assert_eq(c.active, 0);
    cr_assert_eq(c.memuse, 0);
    cr_assert_leq(c.memuse_peak, o.memcap);
    cr_assert_gt(rnd_delivered, 0);
    cr_assert_gt(c.gaps, 0);
    cr_assert_gt(c.overlaps, 0);
    cr_assert_gt(c.evicted_memcap, 0);
    cr_assert_gt(c.stream_memcap_hit, 0);
    if (getenv("FLOW_TEST_VERBOSE"))
        fprintf(stderr, "flows %lu evicted %lu gaps %lu ooo %lu overlaps %lu differ %lu retrans %lu "
                "cap %lu memcap %lu rst_invalid %lu delivered %lu ends %lu\n",
                (unsigned long)c.flows, (unsigned long)c.evicted_memcap, (unsigned long)c.gaps,
                (unsigned long)c.segments_ooo, (unsigned long)c.overlaps,
                (unsigned long)c.overlaps_differ, (unsigned long)c.retransmits,
                (unsigned long)c.stream_flow_cap_hit, (unsigned long)c.stream_memcap_hit,
                (unsigned long)c.rst_invalid, (unsigned long)rnd_delivered,
                (unsigned long)rnd_ends);
    canh_flow_table_free(t);
}

Test(flow, data_on_a_syn_counts_only_when_the_server_takes_it)
{
    canh_flow_table_t *t = canh_flow_table_new(&PICK_UP);
    seen_t s = { 0 };
    int64_t ts = 1000 * SEC;
    /* TCP Fast Open: the SYN-ACK acknowledges the SYN's data */
    canh_pkt_t p = C(SYN, 100, 0, "GET /tfo");
    feed(t, &p, 0, &s);
    cr_assert_eq(s.len[0], 0, "not before the server answers");
    p = S(SYN | ACK, 900, 109, NULL);
    feed(t, &p, 1, &s);
    cr_assert_eq(s.len[0], 8);
    p = C(ACK, 109, 901, " HTTP/1.1");
    feed(t, &p, 0, &s);
    cr_assert_eq(s.len[0], 17);
    cr_assert_eq(memcmp(s.buf[0], "GET /tfo HTTP/1.1", 17), 0);
    canh_flow_table_free(t);

    /* not taken: the SYN-ACK acknowledges the SYN only; the resend counts */
    t = canh_flow_table_new(&PICK_UP);
    seen_t s2 = { 0 };
    p = C(SYN, 100, 0, "EVIL");
    feed(t, &p, 0, &s2);
    p = S(SYN | ACK, 900, 101, NULL);
    feed(t, &p, 1, &s2);
    p = C(ACK, 101, 901, NULL);
    feed(t, &p, 0, &s2);
    p = C(ACK | PSH, 101, 901, "GOOD");
    feed(t, &p, 0, &s2);
    cr_assert_eq(s2.len[0], 4);
    cr_assert_eq(memcmp(s2.buf[0], "GOOD", 4), 0);
    cr_assert_eq(counts(t).overlaps, 0);
    canh_flow_table_free(t);
}

Test(flow, reverse_is_refused_when_the_syn_was_seen)
{
    canh_flow_table_t *t = canh_flow_table_new(&PICK_UP);
    seen_t s = { 0 };
    int64_t ts = 1000 * SEC;
    canh_flow_t *f = handshake(t, &s, 0, 0, ts);
    cr_assert_eq(canh_flow_reverse(f), CANH_EINVAL);
    cr_assert_eq(canh_flow_reverse(NULL), CANH_EINVAL);
    canh_pkt_t p = C(ACK, 1, 1, NULL);
    int dir = -1;
    cr_assert_eq(canh_flow_get(t, &p, &dir), f);
    cr_assert_eq(dir, 0);
    cr_assert_eq(canh_flow_info(f)->cport, 40000);
    canh_flow_table_free(t);
}

Test(flow, no_room_when_the_cap_cannot_hold_one_flow)
{
    canh_flow_opts_t o = { .midstream = 1, .memcap = 16 };
    canh_flow_table_t *t = canh_flow_table_new(&o);
    canh_pkt_t p = pkt(1, UDP, 0, 0, 0, "x", 1);
    int dir;
    cr_assert_null(canh_flow_get(t, &p, &dir));
    cr_assert_eq(counts(t).no_room, 1);
    cr_assert_eq(counts(t).flows, 0);
    canh_flow_table_free(t);
}
