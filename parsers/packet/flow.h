/*
 * parsers/packet/flow.h -- the flow table and TCP reassembly (flow.c, stream.c).
 *
 * A flow is keyed by protocol, the two addresses and ports (ICMP: none) and
 * the VLAN ids, the same both ways; the side that sent its first packet (a
 * TCP SYN's sender when seen) is the client, dir 0 = to the server, 1 = to
 * the client. Flows end on their protocol's timeout (on packet time, so a
 * replayed capture behaves as the live link did), on a RST or both FINs
 * (after a short grace), or when the table's memory cap is reached (the
 * oldest flow goes first; counted).
 *
 * TCP reassembly, per direction: sequence tracking from the SYN (or from
 * the first packet seen: midstream pick-up), segments out of order held
 * until the gap closes, overlaps resolved in favour of the data first seen
 * (counted), retransmissions dropped, a gap that never closes skipped
 * after the window (counted; the consumer is told). In-order bytes are
 * handed to a callback as they become available. Per-flow and global
 * memory caps on held segments, counted when hit. A hole the receiver has
 * acknowledged (lost by the capture) is skipped at once; a RST outside the
 * sender's window is ignored (counted); data on a SYN is delivered only
 * when the SYN-ACK acknowledges it (TCP Fast Open). Details: stream.c.
 *
 * Thread: a table and its flows belong to one worker; a flow is always in
 * the worker its canh_pkt_t.hash selects, so both directions meet there.
 */
#ifndef CANH_FLOW_H
#define CANH_FLOW_H

#include "packet.h"

typedef struct canh_flow canh_flow_t;
typedef struct canh_flow_table canh_flow_table_t;

/* Slots where other parts keep per-flow state; the table calls the free
 * callback given at canh_flow_table_new for each slot set when a flow ends. */
enum { CANH_FLOW_EXT_APP = 0, CANH_FLOW_EXT_DETECT, CANH_FLOW_EXT__COUNT };

/* What a rule's `flow:` keyword and the alert need of a flow. */
enum {
    CANH_FLOW_ESTABLISHED = 0x01,   /* TCP: three-way handshake seen, or picked up midstream
                                       with data both ways; UDP: packets both ways */
    CANH_FLOW_MIDSTREAM   = 0x02,   /* TCP: no SYN seen */
    CANH_FLOW_CLOSED      = 0x04,   /* TCP: FIN both ways or RST */
};

typedef struct canh_flow_info {
    uint8_t ipver, proto;
    uint8_t client[16], server[16];
    uint16_t cport, sport;
    uint16_t vlan[2];
    uint8_t nvlan;
    uint32_t flags;                 /* CANH_FLOW_* */
    uint64_t pkts[2], bytes[2];     /* per direction */
    int64_t first_us, last_us;
    uint64_t id;                    /* unique in the table's life */
} canh_flow_info_t;

typedef struct canh_flow_opts {
    size_t memcap;                  /* bytes of flows and held segments; 0: 64 MiB */
    size_t stream_flow_cap;         /* held out-of-order bytes per direction; 0: 1 MiB */
    int64_t tcp_timeout_us, tcp_closed_timeout_us, udp_timeout_us, other_timeout_us;
                                    /* 0: 3600 s (established), 10 s, 30 s, 30 s */
    int64_t tcp_new_timeout_us;     /* TCP not (yet) established; 0: 30 s */
    int midstream;                  /* 1: a TCP flow first seen without its SYN is picked up
                                       (reassembled, parsed, established once both sides
                                       spoke); 0 (Suricata's default): it is not tracked:
                                       its packets go to packet rules only */
    void (*ext_free)(int slot, void *p);   /* frees an ext slot's state */
    /* Optional: gets CANH_STREAM_END (and a last CANH_STREAM_GAP delivery
     * of held bytes) for flows the table ends where no callback is given:
     * memory-cap eviction and a closed flow's tuple reused by a new SYN in
     * canh_flow_get, and canh_flow_table_free. NULL: those ends are silent
     * (the ext slots are still freed). */
    void (*end_fn)(void *ud, canh_flow_t *f, int dir, const uint8_t *data, size_t len,
                   int flags);
    void *end_ud;
} canh_flow_opts_t;

canh_flow_table_t *canh_flow_table_new(const canh_flow_opts_t *o);
void canh_flow_table_free(canh_flow_table_t *t);   /* ends every flow (end_fn, ext_free) */

/* The flow of p, made if new; *dir: 0 to the server, 1 to the client.
 * NULL when p has no flow (not TCP/UDP/ICMP) or there is no room (counted). */
canh_flow_t *canh_flow_get(canh_flow_table_t *t, const canh_pkt_t *p, int *dir);
const canh_flow_info_t *canh_flow_info(const canh_flow_t *f);

/* Asks that client and server be swapped: for a flow picked up midstream
 * whose protocol shows that its first packet came from the server (a DNS
 * answer, an HTTP response). Done at the flow's next canh_flow_get, so it
 * is safe to call from a stream callback; directions, counts and streams
 * follow the swap. Refused (CANH_EINVAL) for a flow whose handshake was
 * seen from its SYN. */
int canh_flow_reverse(canh_flow_t *f);
void **canh_flow_ext(canh_flow_t *f, int slot);

/* Called with in-order bytes of one direction as they become available.
 * data is valid during the call only (it may point into the packet). The
 * callback must not call canh_flow_get, _packet, _expire or _end_all on
 * the same table; canh_flow_ext and canh_flow_reverse are fine.
 * flags: CANH_STREAM_GAP (bytes were lost before these: the consumer
 * resyncs), CANH_STREAM_END (the direction ended: FIN, RST or flow end; len
 * may be 0). */
enum { CANH_STREAM_GAP = 1, CANH_STREAM_END = 2 };
typedef void (*canh_stream_fn)(void *ud, canh_flow_t *f, int dir, const uint8_t *data,
                               size_t len, int flags);

/* Gives a TCP packet to its flow's reassembly (updates the flow's state
 * and flags too); calls fn for what it makes available. For UDP and
 * others: updates counts and state only. */
void canh_flow_packet(canh_flow_table_t *t, canh_flow_t *f, int dir, const canh_pkt_t *p,
                      canh_stream_fn fn, void *ud);

/* Ends flows idle past their timeout at packet time now_us (call every
 * so often with the newest packet time); fn gets CANH_STREAM_END for each
 * open direction first (a TCP direction that was seen; UDP and others have
 * no stream and get none). canh_flow_table_free with fn ends them all (the
 * end of a capture). */
void canh_flow_expire(canh_flow_table_t *t, int64_t now_us, canh_stream_fn fn, void *ud);
void canh_flow_end_all(canh_flow_table_t *t, canh_stream_fn fn, void *ud);

typedef struct canh_flow_counts {
    uint64_t flows, active, ended_timeout, ended_closed, evicted_memcap, no_room;
    uint64_t ended_end_all;         /* ended by canh_flow_end_all / canh_flow_table_free */
    uint64_t tcp_midstream, segments_ooo, overlaps, overlaps_differ, retransmits,
             gaps, stream_flow_cap_hit, stream_memcap_hit;
    uint64_t rst_invalid;           /* RSTs outside the sender's sequence window: ignored */
    size_t memuse, memuse_peak;
} canh_flow_counts_t;
void canh_flow_counts(const canh_flow_table_t *t, canh_flow_counts_t *c);

#endif
