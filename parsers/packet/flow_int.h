/*
 * parsers/packet/flow_int.h -- what flow.c (the table) and stream.c (TCP
 * reassembly) share inside; no other file includes it.
 *
 * Thread: as flow.h: a table and its flows belong to one worker.
 */
#ifndef CANH_FLOW_INT_H
#define CANH_FLOW_INT_H

#include "flow.h"

/* Wrap-around safe TCP sequence comparisons (RFC 793 section 3.3). */
#define CANH_SEQ_LT(a, b)  ((int32_t)((uint32_t)(a) - (uint32_t)(b)) < 0)
#define CANH_SEQ_LEQ(a, b) ((int32_t)((uint32_t)(a) - (uint32_t)(b)) <= 0)
#define CANH_SEQ_GT(a, b)  ((int32_t)((uint32_t)(a) - (uint32_t)(b)) > 0)
#define CANH_SEQ_GEQ(a, b) ((int32_t)((uint32_t)(a) - (uint32_t)(b)) >= 0)

/* An out-of-order segment held until the hole before it closes. */
typedef struct canh_seg {
    struct canh_seg *next;
    uint32_t seq, len;
    uint8_t data[];
} canh_seg_t;

/* One direction of a TCP flow: the bytes its sender sends. */
typedef struct canh_stream {
    uint32_t next_seq;          /* the next byte to deliver */
    uint32_t fin_seq;           /* sequence number of the FIN (the byte after the data) */
    uint8_t init;               /* next_seq known (SYN seen, or picked up) */
    uint8_t syn;                /* this side's SYN seen */
    uint8_t fin;                /* this side's FIN seen */
    uint8_t ended;              /* CANH_STREAM_END delivered */
    uint8_t gap_pending;        /* bytes were skipped: the next delivery says so */
    uint8_t data_seen;          /* a segment with data arrived */
    uint8_t syn_data;           /* its SYN's data is held until the SYN-ACK says (TFO) */
    uint8_t wscale;             /* window scale this side asked for in its SYN (RFC 7323) */
    uint8_t ws_ok;              /* its SYN carried the option */
    uint16_t win;               /* the last window this side advertised (unscaled) */
    uint32_t max_seq;           /* the highest sequence number (end) it sent */
    canh_seg_t *segs;           /* held, sorted, disjoint, all after next_seq */
    size_t held;                /* data bytes in segs */
} canh_stream_t;

/* The timeout lists: each holds its flows oldest activity first. */
enum { CANH_FL_TCP_NEW = 0, CANH_FL_TCP, CANH_FL_TCP_CLOSED, CANH_FL_UDP, CANH_FL_OTHER,
       CANH_FL__COUNT };

struct canh_flow {
    canh_flow_t *hnext;         /* hash chain */
    canh_flow_t *prev, *next;   /* its timeout list */
    uint32_t hash;
    uint8_t list;               /* CANH_FL_* */
    uint8_t cside;              /* the key side (0, 1) that is the client */
    uint8_t rst;                /* a RST was seen: no more data */
    uint8_t hs;                 /* handshake: 1 SYN, 2 SYN-ACK, 3 done */
    uint8_t reverse;            /* canh_flow_reverse asked: swap at the next get */
    /* key: sides ordered (smaller address, then port, first) */
    uint8_t kproto, kipver, knvlan;
    uint16_t kvlan[2];
    uint16_t kport[2];
    uint8_t kaddr[2][16];
    canh_flow_info_t info;
    canh_stream_t st[2];        /* [dir]: 0 client to server, 1 server to client */
    void *ext[CANH_FLOW_EXT__COUNT];
};

struct canh_flow_table {
    canh_flow_opts_t o;
    canh_flow_t **buckets;
    unsigned bucket_bits;
    struct { canh_flow_t *head, *tail; } lists[CANH_FL__COUNT];
    canh_flow_t *spare;         /* freed flows, reused before malloc */
    uint64_t next_id;
    canh_flow_counts_t c;
};

void canh_flow__mem_add(canh_flow_table_t *t, size_t n);
void canh_flow__mem_sub(canh_flow_table_t *t, size_t n);
void canh_flow__closed(canh_flow_table_t *t, canh_flow_t *f);
void canh_flow__established(canh_flow_table_t *t, canh_flow_t *f);

/* stream.c */
void canh_stream__packet(canh_flow_table_t *t, canh_flow_t *f, int dir, const canh_pkt_t *p,
                         canh_stream_fn fn, void *ud);
/* Ends one direction: holes skipped (CANH_STREAM_GAP), held bytes handed
 * over, then CANH_STREAM_END. Nothing for a direction never seen or ended. */
void canh_stream__end(canh_flow_table_t *t, canh_flow_t *f, int dir, canh_stream_fn fn,
                      void *ud);
void canh_stream__free(canh_flow_table_t *t, canh_flow_t *f);

#endif
