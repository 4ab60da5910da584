/*
 * engine/network.h -- the packet path's work on one share of the flows:
 * flow, reassembly, protocol fields, network rules, Sigma rules on
 * protocol events, and the event each alert is written from.
 *
 * The pipeline (pipeline.c) spreads packets over N shares by their flow
 * hash, so both directions of a flow meet in one share. A share keeps its
 * flow table and its network-rule matcher (which holds the threshold
 * state); it is run by one worker at a time, batch after batch in input
 * order (pipeline.c sees to that), so its results do not depend on which
 * worker ran it. Expiry runs on packet time at the end of each batch, so
 * the same capture gives the same alerts for any number of workers.
 *
 * For each packet: the flow is found or made; TCP goes through reassembly,
 * whose in-order bytes feed the protocol parser and Hyperscan's stream
 * scan; the packet is inspected by the network rules with its payload and
 * the newly reassembled bytes (with a look-back, so a pattern split across
 * segments is seen whole); each protocol transaction is inspected by the
 * network rules with its fields, and, made into an event of Sigma's
 * categories (parsers/app/app.h canh_app_event), by the Sigma rules.
 *
 * Thread: a share belongs to whichever worker runs it at the time.
 */
#ifndef CANH_NETWORK_H
#define CANH_NETWORK_H

#include "detect/match.h"
#include "detect/nids.h"
#include "event.h"

typedef struct canh_net_share canh_net_share_t;

/* One alert of a share: the rule that fired (a network rule's alert_rule,
 * or a Sigma rule), the event to write it from (valid during the call),
 * and its key: alerts are written in key order, and the key is the same
 * for any number of workers (the packet's number in the batch, then the
 * alert's order within the packet); pktnum: the frame's number in its
 * capture (for an ending flow: its first frame's). */
typedef void (*canh_net_alert_fn)(void *ud, const canh_rule_t *rule, const canh_event_t *ev,
                                  uint64_t key, uint64_t pktnum);

typedef struct canh_net_opts {
    const canh_nids_t *nids;          /* network rules; NULL: none */
    uint16_t community_id_seed;
    int midstream;                    /* pick up TCP flows without their handshake
                                         (parsers/packet/flow.h) */
} canh_net_opts_t;

canh_net_share_t *canh_net_share_new(const canh_net_opts_t *o, char *err, size_t errlen);
void canh_net_share_free(canh_net_share_t *s);
/* Network rules of a new rule set (a reload); NULL: none. Flows keep
 * their state; each flow's flowbits and stream scan start again when it
 * next meets the rules. On an error (err says why) the old rules stay. */
int canh_net_share_set_nids(canh_net_share_t *s, const canh_nids_t *nids, char *err,
                            size_t errlen);

/* The work of one batch on this share. sigma: the worker's matcher (may
 * be NULL); rs its rule set. */
typedef struct canh_net_work {
    canh_matcher_t *sigma;
    const canh_ruleset_t *rs;
    canh_net_alert_fn alert;
    void *ud;
    const char *capture;              /* the capture file or interface (canh.capture.*) */
    int live;                         /* an interface, not a file */
} canh_net_work_t;

/* One packet (idx: its place in the batch, for the alert key). */
void canh_net_packet(canh_net_share_t *s, const canh_net_work_t *w, const canh_pkt_t *p,
                     uint32_t idx);
/* End of a batch: flows idle past their timeout at packet time now_us end
 * (their last bytes are inspected); idx: the batch's packet count. */
void canh_net_expire(canh_net_share_t *s, const canh_net_work_t *w, int64_t now_us,
                     uint32_t idx);
/* End of a capture: every flow ends. */
void canh_net_end(canh_net_share_t *s, const canh_net_work_t *w, uint32_t idx);

/* Counts of a share, added into *c (the caller sums the shares). */
typedef struct canh_net_counts {
    uint64_t packets, bytes, no_flow, events, alerts;
    canh_flow_counts_t flow;
    canh_nids_counts_t nids;
} canh_net_counts_t;
void canh_net_counts_add(const canh_net_share_t *s, canh_net_counts_t *c);

#endif
