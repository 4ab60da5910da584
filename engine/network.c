/*
 * engine/network.c -- one share of the flows: flow, reassembly, protocol
 * fields, network rules and Sigma rules per packet (network.h).
 *
 * Thread: the worker running the share (pipeline.c runs a share on one
 * worker at a time, batches in order).
 */
#include "network.h"

#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#define LOOKBACK     2048           /* stream bytes kept before a packet's new ones */
#define KEY_IDX_SHIFT 44            /* alert key: packet index | flow | order (network.h) */
#define KEY_FLOW_SHIFT 12
#define KEY_SUB_MASK  0xfffu

/* A flow's part in this file (its CANH_FLOW_EXT_APP slot). */
typedef struct netflow {
    canh_app_t *app;
    uint8_t *win[2];                /* per direction: look-back + the newest bytes */
    size_t len[2], cap[2];
    size_t fresh[2];                /* bytes at the end of win not inspected yet */
    uint64_t first_num;             /* its first packet's number: orders end-of-flow alerts */
    char cid[CANH_COMMUNITY_ID_LEN];
    size_t cid_len;
} netflow_t;

struct canh_net_share {
    canh_net_opts_t o;
    canh_flow_table_t *flows;
    canh_nids_matcher_t *nm;
    canh_arena_t arena;
    canh_event_t ev;
    /* the work going on */
    const canh_net_work_t *w;
    const canh_pkt_t *pkt;          /* the packet being worked, or a stand-in at expiry */
    uint64_t key_base;              /* the alert key without the order */
    uint32_t sub;                   /* alerts so far under key_base */
    canh_net_counts_t c;
    canh_nids_counts_t past;        /* of the network rules it had before a reload */
};

static void netflow_free(netflow_t *nf)
{
    if (!nf)
        return;
    canh_app_free(nf->app);
    free(nf->win[0]);
    free(nf->win[1]);
    free(nf);
}

static void ext_free(int slot, void *p)
{
    if (slot == CANH_FLOW_EXT_APP)
        netflow_free(p);
    else if (slot == CANH_FLOW_EXT_DETECT)
        canh_nids_flow_free(p);
}

canh_net_share_t *canh_net_share_new(const canh_net_opts_t *o, char *err, size_t errlen)
{
    canh_net_share_t *s = calloc(1, sizeof(*s));
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    s->o = *o;
    canh_flow_opts_t fo = { .ext_free = ext_free, .midstream = o->midstream };
    s->flows = canh_flow_table_new(&fo);
    if (!s->flows) {
        snprintf(err, errlen, "out of memory making a flow table");
        free(s);
        return NULL;
    }
    if (o->nids && !(s->nm = canh_nids_matcher_new(o->nids, err, errlen))) {
        canh_flow_table_free(s->flows);
        free(s);
        return NULL;
    }
    canh_arena_init(&s->arena, 16384);
    s->ev.arena = &s->arena;
    return s;
}

/* Adds n into c; m (may be NULL): and a matcher's counts. */
static void nids_sum(canh_nids_counts_t *c, const canh_nids_counts_t *n,
                     const canh_nids_matcher_t *m)
{
    c->inspections += n->inspections;
    c->rules_evaluated += n->rules_evaluated;
    c->alerts += n->alerts;
    c->suppressed_threshold += n->suppressed_threshold;
    c->pcre2_limit += n->pcre2_limit;
    c->eval_limit += n->eval_limit;
    if (m) {
        canh_nids_counts_t mc;
        canh_nids_matcher_counts(m, &mc);
        nids_sum(c, &mc, NULL);
    }
}

int canh_net_share_set_nids(canh_net_share_t *s, const canh_nids_t *nids, char *err,
                            size_t errlen)
{
    canh_nids_matcher_t *m = NULL;
    if (nids && !(m = canh_nids_matcher_new(nids, err, errlen)))
        return CANH_ENOMEM;
    if (s->nm) {   /* its counts stay in the share's */
        canh_nids_counts_t zero = { 0 };
        nids_sum(&s->past, &zero, s->nm);
    }
    canh_nids_matcher_free(s->nm);
    s->nm = m;
    s->o.nids = nids;
    return CANH_OK;
}

void canh_net_share_free(canh_net_share_t *s)
{
    if (!s)
        return;
    canh_flow_table_free(s->flows);
    canh_nids_matcher_free(s->nm);
    canh_arena_free(&s->arena);
    free(s);
}

static netflow_t *netflow_of(canh_flow_t *f)
{
    void **slot = canh_flow_ext(f, CANH_FLOW_EXT_APP);
    if (!*slot) {
        netflow_t *nf = calloc(1, sizeof(*nf));
        if (!nf)
            return NULL;
        if (!(nf->app = canh_app_new(NULL))) {
            free(nf);
            return NULL;
        }
        *slot = nf;
    }
    return *slot;
}

/* ---- the event an alert is written from ---- */

static const char *transport_name(uint8_t proto)
{
    switch (proto) {
    case IPPROTO_TCP:    return "tcp";
    case IPPROTO_UDP:    return "udp";
    case IPPROTO_ICMP:   return "icmp";
    case IPPROTO_ICMPV6: return "ipv6-icmp";
    default:             return NULL;
    }
}

static void add_text(canh_event_t *ev, canh_field_id_t id, const char *s)
{
    if (s && *s)
        canh_event_add(ev, id, canh_slice_cstr(s));
}

static void set_ip(canh_event_t *ev, canh_field_id_t id, int ipver, const uint8_t *a)
{
    char t[INET6_ADDRSTRLEN];
    char *c;
    if (inet_ntop(ipver == 6 ? AF_INET6 : AF_INET, a, t, sizeof(t)) &&
        (c = canh_arena_strndup(ev->arena, t, strlen(t))))
        canh_event_set(ev, id, canh_slice(c, strlen(c)));
}

static void set_num(canh_event_t *ev, canh_field_id_t id, uint64_t v)
{
    char t[24];
    int n = snprintf(t, sizeof(t), "%llu", (unsigned long long)v);
    char *c = canh_arena_strndup(ev->arena, t, (size_t)n);
    if (c)
        canh_event_set(ev, id, canh_slice(c, (size_t)n));
}

/* source.* and destination.* of the packet p, in its own direction. */
static void packet_ends(canh_event_t *ev, const canh_pkt_t *p)
{
    set_ip(ev, CANH_F_SOURCE_IP, p->ipver, p->src);
    set_ip(ev, CANH_F_DESTINATION_IP, p->ipver, p->dst);
    if (p->proto == IPPROTO_TCP || p->proto == IPPROTO_UDP) {
        set_num(ev, CANH_F_SOURCE_PORT, p->sport);
        set_num(ev, CANH_F_DESTINATION_PORT, p->dport);
    }
}

/* The network fields of the packet p and its flow (not its addresses:
 * packet_ends, or the transaction's event, say those). */
static void net_fields(canh_net_share_t *s, canh_event_t *ev, const canh_pkt_t *p,
                       canh_flow_t *f)
{
    ev->ts_ms = p->ts_us / 1000;
    ev->datasets |= CANH_DS_BIT(CANH_DS_NETWORK);
    add_text(ev, CANH_F_NETWORK_TRANSPORT, transport_name(p->proto));
    if (f) {
        netflow_t *nf = *canh_flow_ext(f, CANH_FLOW_EXT_APP);
        if (nf) {
            canh_app_proto_t ap = canh_app_proto(nf->app);
            if (ap != CANH_APP_UNKNOWN && ap != CANH_APP_FAILED &&
                !canh_event_get(ev, CANH_F_NETWORK_PROTOCOL))
                add_text(ev, CANH_F_NETWORK_PROTOCOL, canh_app_proto_name(ap));
            if (!nf->cid_len)
                nf->cid_len = canh_community_id(p, s->o.community_id_seed, nf->cid);
            if (nf->cid_len)
                canh_event_add(ev, CANH_F_NETWORK_COMMUNITY_ID, canh_slice(nf->cid, nf->cid_len));
        }
    }
    if (p->nvlan)
        set_num(ev, CANH_F_NETWORK_VLAN_ID, p->vlan[0]);
}

static void emit(canh_net_share_t *s, const canh_rule_t *r, const canh_event_t *ev)
{
    uint64_t key = s->key_base | (s->sub < KEY_SUB_MASK ? s->sub : KEY_SUB_MASK);
    s->sub++;
    s->c.alerts++;
    s->w->alert(s->w->ud, r, ev, key, s->pkt ? s->pkt->num : 0);
}

/* ---- network rules ---- */

typedef struct hitctx {
    canh_net_share_t *s;
    canh_flow_t *f;
    const canh_app_tx_t *tx;
} hitctx_t;

static void build_event(canh_net_share_t *s, const canh_pkt_t *p, canh_flow_t *f, int dir,
                        const canh_app_tx_t *tx)
{
    canh_event_t *ev = &s->ev;
    canh_event_clear(ev);
    if (tx && f)
        canh_app_fields(tx, canh_flow_info(f), ev);
    packet_ends(ev, p);   /* the alert names the packet's direction, as Suricata's */
    net_fields(s, ev, p, f);
}

static void on_nids_hit(void *ud, const canh_nids_hit_t *hit)
{
    hitctx_t *h = ud;
    const canh_nids_ctx_t *ctx = hit->ctx;
    if (!hit->rule->alert_rule)
        return;
    /* at a flow's end the rules saw no packet: the stand-in gives the event its ends */
    build_event(h->s, ctx->pkt ? ctx->pkt : h->s->pkt, h->f, ctx->dir, h->tx);
    emit(h->s, hit->rule->alert_rule, &h->s->ev);
}

static void ctx_init(canh_nids_ctx_t *ctx, const canh_pkt_t *p, canh_flow_t *f, int dir)
{
    memset(ctx, 0, sizeof(*ctx));
    ctx->pkt = p;
    ctx->flow = f;
    ctx->dir = dir;
    ctx->buf[CANH_NB_PACKET].p = p->payload ? p->payload : (const uint8_t *)"";
    ctx->buf[CANH_NB_PACKET].n = p->payload ? p->plen : 0;
}

/* ---- protocol transactions ---- */

static void on_tx(void *ud, canh_flow_t *f, const canh_app_tx_t *tx)
{
    canh_net_share_t *s = ud;
    const canh_pkt_t *p = s->pkt;
    int dir = tx->dir;
    if (s->nm && !tx->event_only) {   /* an event_only tx was inspected already */
        canh_nids_ctx_t ctx;
        ctx_init(&ctx, p, f, dir);
        for (int i = 0; i < CANH_NB__COUNT; i++)
            if (i != CANH_NB_PACKET && i != CANH_NB_STREAM && tx->buf[i].p) {
                ctx.buf[i].p = tx->buf[i].p;
                ctx.buf[i].n = tx->buf[i].n;
            }
        ctx.tx = tx;
        ctx.tx_id = tx->id;
        hitctx_t h = { s, f, tx };
        canh_nids_inspect(s->nm, &ctx, on_nids_hit, &h);
    }
    /* Sigma rules on the transaction as an event of Sigma's categories */
    if (s->w->sigma) {
        canh_event_clear(&s->ev);
        if (canh_app_event(tx, canh_flow_info(f), dir, &s->ev) != CANH_OK)
            return;   /* no event of Sigma's categories (a response, a TLS hello ...) */
        net_fields(s, &s->ev, p, f);
        s->c.events++;
        uint32_t hits[256];
        int n = canh_matcher_match(s->w->sigma, &s->ev, hits, 256);
        for (int i = 0; i < n && i < 256; i++)
            emit(s, canh_ruleset_rule(s->w->rs, hits[i]), &s->ev);
    }
}

/* ---- reassembled bytes ---- */

static void win_trim(netflow_t *nf, int dir)
{
    if (nf->len[dir] > LOOKBACK) {
        memmove(nf->win[dir], nf->win[dir] + nf->len[dir] - LOOKBACK, LOOKBACK);
        nf->len[dir] = LOOKBACK;
    }
    nf->fresh[dir] = 0;
}

static int win_add(netflow_t *nf, int dir, const uint8_t *d, size_t n)
{
    if (nf->len[dir] + n > nf->cap[dir]) {
        size_t cap = nf->cap[dir] ? nf->cap[dir] : 4096;
        while (cap < nf->len[dir] + n)
            cap *= 2;
        uint8_t *v = realloc(nf->win[dir], cap);
        if (!v)
            return -1;
        nf->win[dir] = v;
        nf->cap[dir] = cap;
    }
    memcpy(nf->win[dir] + nf->len[dir], d, n);
    nf->len[dir] += n;
    nf->fresh[dir] += n;
    return 0;
}

static void on_stream(void *ud, canh_flow_t *f, int dir, const uint8_t *data, size_t len,
                      int flags)
{
    canh_net_share_t *s = ud;
    netflow_t *nf = netflow_of(f);
    if (!nf)
        return;
    if (flags & CANH_STREAM_GAP) {   /* the look-back no longer joins what follows */
        nf->len[dir] = 0;
        nf->fresh[dir] = 0;
    }
    if (len) {
        if (win_add(nf, dir, data, len) != 0)
            nf->fresh[dir] = 0;
        if (s->nm)
            canh_nids_stream(s->nm, f, dir, data, len, flags);
    }
    canh_app_stream(nf->app, f, dir, data, len, flags, on_tx, s);
}

/* Inspects the bytes of a direction not inspected yet (with the look-back). */
static void inspect_stream(canh_net_share_t *s, canh_nids_ctx_t *ctx, netflow_t *nf, int dir)
{
    if (!nf || !nf->fresh[dir])
        return;
    ctx->buf[CANH_NB_STREAM].p = nf->win[dir];
    ctx->buf[CANH_NB_STREAM].n = nf->len[dir];
    ctx->stream_new = nf->fresh[dir];
}

void canh_net_packet(canh_net_share_t *s, const canh_net_work_t *w, const canh_pkt_t *p,
                     uint32_t idx)
{
    s->w = w;
    s->pkt = p;
    s->key_base = (uint64_t)idx << KEY_IDX_SHIFT;
    s->sub = 0;
    s->c.packets++;
    s->c.bytes += p->wirelen;
    canh_arena_reset(&s->arena);
    int dir = 0;
    canh_flow_t *f = canh_flow_get(s->flows, p, &dir);
    netflow_t *nf = NULL;
    if (!f) {
        s->c.no_flow++;
    } else if ((nf = netflow_of(f))) {
        if (!nf->first_num)
            nf->first_num = p->num;
        win_trim(nf, dir);
    }
    if (f) {
        canh_flow_packet(s->flows, f, dir, p, on_stream, s);
        if (nf && p->proto == IPPROTO_UDP && p->plen)
            canh_app_datagram(nf->app, f, dir, p->payload, p->plen, on_tx, s);
    }
    if (s->nm) {
        canh_nids_ctx_t ctx;
        ctx_init(&ctx, p, f, dir);
        inspect_stream(s, &ctx, nf, dir);
        hitctx_t h = { s, f, NULL };
        canh_nids_inspect(s->nm, &ctx, on_nids_hit, &h);
    }
    if (nf)
        nf->fresh[dir] = 0;
    s->pkt = NULL;
}

/* ---- flows that end ---- */

typedef struct endctx {
    canh_net_share_t *s;
    int64_t now_us;
    uint32_t idx;
} endctx_t;

/* A stand-in for the packet of an ending flow's direction: its addresses
 * and ports, no payload, the time of the end. */
static void standin(const canh_flow_info_t *fi, int dir, int64_t now_us, uint64_t num,
                    canh_pkt_t *p)
{
    memset(p, 0, sizeof(*p));
    p->ts_us = now_us;
    p->num = num;
    p->ipver = fi->ipver;
    p->proto = fi->proto;
    memcpy(p->src, dir ? fi->server : fi->client, 16);
    memcpy(p->dst, dir ? fi->client : fi->server, 16);
    p->sport = dir ? fi->sport : fi->cport;
    p->dport = dir ? fi->cport : fi->sport;
    p->nvlan = fi->nvlan;
    p->vlan[0] = fi->vlan[0];
    p->vlan[1] = fi->vlan[1];
}

static void on_end_stream(void *ud, canh_flow_t *f, int dir, const uint8_t *data, size_t len,
                          int flags)
{
    endctx_t *e = ud;
    canh_net_share_t *s = e->s;
    netflow_t *nf = *canh_flow_ext(f, CANH_FLOW_EXT_APP);
    canh_pkt_t p;
    standin(canh_flow_info(f), dir, e->now_us, nf ? nf->first_num : 0, &p);
    s->pkt = &p;
    s->key_base = ((uint64_t)e->idx << KEY_IDX_SHIFT) |
                  ((nf ? nf->first_num & 0xffffffffu : 0) << KEY_FLOW_SHIFT);
    s->sub = 0;
    canh_arena_reset(&s->arena);
    if (nf)
        win_trim(nf, dir);
    on_stream(s, f, dir, data, len, flags);
    if (s->nm && nf && nf->fresh[dir]) {
        canh_nids_ctx_t ctx;
        ctx_init(&ctx, &p, f, dir);
        ctx.pkt = NULL;                     /* no packet: only the stream (nids.h) */
        ctx.buf[CANH_NB_PACKET].p = NULL;
        inspect_stream(s, &ctx, nf, dir);
        hitctx_t h = { s, f, NULL };
        canh_nids_inspect(s->nm, &ctx, on_nids_hit, &h);
        nf->fresh[dir] = 0;
    }
    s->pkt = NULL;
}

void canh_net_expire(canh_net_share_t *s, const canh_net_work_t *w, int64_t now_us,
                     uint32_t idx)
{
    s->w = w;
    endctx_t e = { s, now_us, idx };
    canh_flow_expire(s->flows, now_us, on_end_stream, &e);
}

void canh_net_end(canh_net_share_t *s, const canh_net_work_t *w, uint32_t idx)
{
    s->w = w;
    endctx_t e = { s, 0, idx };
    canh_flow_end_all(s->flows, on_end_stream, &e);
}

void canh_net_counts_add(const canh_net_share_t *s, canh_net_counts_t *c)
{
    c->packets += s->c.packets;
    c->bytes += s->c.bytes;
    c->no_flow += s->c.no_flow;
    c->events += s->c.events;
    c->alerts += s->c.alerts;
    canh_flow_counts_t fc;
    canh_flow_counts(s->flows, &fc);
    c->flow.flows += fc.flows;
    c->flow.active += fc.active;
    c->flow.ended_timeout += fc.ended_timeout;
    c->flow.ended_closed += fc.ended_closed;
    c->flow.evicted_memcap += fc.evicted_memcap;
    c->flow.no_room += fc.no_room;
    c->flow.tcp_midstream += fc.tcp_midstream;
    c->flow.segments_ooo += fc.segments_ooo;
    c->flow.overlaps += fc.overlaps;
    c->flow.overlaps_differ += fc.overlaps_differ;
    c->flow.retransmits += fc.retransmits;
    c->flow.gaps += fc.gaps;
    c->flow.stream_flow_cap_hit += fc.stream_flow_cap_hit;
    c->flow.stream_memcap_hit += fc.stream_memcap_hit;
    c->flow.memuse += fc.memuse;
    c->flow.memuse_peak += fc.memuse_peak;
    nids_sum(&c->nids, &s->past, s->nm);
}
