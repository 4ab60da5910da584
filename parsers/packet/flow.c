/*
 * parsers/packet/flow.c -- the flow table: packets to flows, flow state,
 * timeouts on packet time, the memory cap and its eviction.
 *
 * A flow's key is (protocol, IP version, VLAN ids, the two endpoints) with
 * the endpoints ordered, so both directions find the same flow; the
 * packet's symmetric hash (canh_pkt_t.hash) picks the bucket and the whole
 * key is compared. The client is the sender of the flow's first packet,
 * except when that packet is a TCP SYN-ACK (then its receiver).
 *
 * Every flow sits in one of five timeout lists (TCP not established, TCP
 * established, TCP closed, UDP, other), moved to the tail on each packet, so each list runs from the
 * longest idle to the most recent: expiry walks a list from its head and
 * stops at the first flow still in time, and the memory cap evicts the
 * oldest head of the five. Freed flows are kept for reuse, so the steady
 * state allocates nothing per packet (held TCP segments are stream.c's).
 *
 * Memory counted against opts.memcap: each live flow and each held
 * segment (with its header). The bucket array is sized from the cap once.
 *
 * Thread: a table and all its flows belong to one worker thread.
 */
#include <stdlib.h>
#include <string.h>

#include "../../engine/canh.h"
#include "flow_int.h"

#define DEF_MEMCAP          ((size_t)64 << 20)
#define DEF_STREAM_CAP      ((size_t)1 << 20)
#define DEF_TCP_TIMEOUT     (3600 * (int64_t)1000000)
#define DEF_CLOSED_TIMEOUT  (10 * (int64_t)1000000)
#define DEF_NEW_TIMEOUT     (30 * (int64_t)1000000)
#define DEF_UDP_TIMEOUT     (30 * (int64_t)1000000)
#define DEF_OTHER_TIMEOUT   (30 * (int64_t)1000000)

enum { IPPROTO_TCP_ = 6, IPPROTO_UDP_ = 17, IPPROTO_ICMP_ = 1, IPPROTO_ICMPV6_ = 58 };

void canh_flow__mem_add(canh_flow_table_t *t, size_t n)
{
    t->c.memuse += n;
    if (t->c.memuse > t->c.memuse_peak)
        t->c.memuse_peak = t->c.memuse;
}

void canh_flow__mem_sub(canh_flow_table_t *t, size_t n)
{
    t->c.memuse = n > t->c.memuse ? 0 : t->c.memuse - n;
}

canh_flow_table_t *canh_flow_table_new(const canh_flow_opts_t *o)
{
    canh_flow_table_t *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    if (o)
        t->o = *o;
    if (!t->o.memcap)
        t->o.memcap = DEF_MEMCAP;
    if (!t->o.stream_flow_cap)
        t->o.stream_flow_cap = DEF_STREAM_CAP;
    if (t->o.tcp_timeout_us <= 0)
        t->o.tcp_timeout_us = DEF_TCP_TIMEOUT;
    if (t->o.tcp_new_timeout_us <= 0)
        t->o.tcp_new_timeout_us = DEF_NEW_TIMEOUT;
    if (t->o.tcp_closed_timeout_us <= 0)
        t->o.tcp_closed_timeout_us = DEF_CLOSED_TIMEOUT;
    if (t->o.udp_timeout_us <= 0)
        t->o.udp_timeout_us = DEF_UDP_TIMEOUT;
    if (t->o.other_timeout_us <= 0)
        t->o.other_timeout_us = DEF_OTHER_TIMEOUT;
    /* about four flows a bucket when the cap is full of flows */
    size_t want = t->o.memcap / sizeof(canh_flow_t) / 4;
    unsigned bits = 10;
    while (bits < 22 && ((size_t)1 << bits) < want)
        bits++;
    t->bucket_bits = bits;
    t->buckets = calloc((size_t)1 << bits, sizeof *t->buckets);
    if (!t->buckets) {
        free(t);
        return NULL;
    }
    t->next_id = 1;
    return t;
}

static unsigned bucket_of(const canh_flow_table_t *t, uint32_t hash)
{
    /* multiplicative mix, top bits: the workers pick flows by the low
     * bits of the same hash, so those are alike within one table */
    return (unsigned)((hash * 2654435761u) >> (32 - t->bucket_bits));
}

static void list_unlink(canh_flow_table_t *t, canh_flow_t *f)
{
    if (f->prev)
        f->prev->next = f->next;
    else
        t->lists[f->list].head = f->next;
    if (f->next)
        f->next->prev = f->prev;
    else
        t->lists[f->list].tail = f->prev;
    f->prev = f->next = NULL;
}

static void list_append(canh_flow_table_t *t, canh_flow_t *f, int list)
{
    f->list = (uint8_t)list;
    f->next = NULL;
    f->prev = t->lists[list].tail;
    if (f->prev)
        f->prev->next = f;
    else
        t->lists[list].head = f;
    t->lists[list].tail = f;
}

void canh_flow__established(canh_flow_table_t *t, canh_flow_t *f)
{
    f->info.flags |= CANH_FLOW_ESTABLISHED;
    if (f->list == CANH_FL_TCP_NEW) {
        list_unlink(t, f);
        list_append(t, f, CANH_FL_TCP);
    }
}

void canh_flow__closed(canh_flow_table_t *t, canh_flow_t *f)
{
    f->info.flags |= CANH_FLOW_CLOSED;
    if (f->list != CANH_FL_TCP_CLOSED) {
        list_unlink(t, f);
        list_append(t, f, CANH_FL_TCP_CLOSED);
    }
}

static void hash_unlink(canh_flow_table_t *t, canh_flow_t *f)
{
    canh_flow_t **pp = &t->buckets[bucket_of(t, f->hash)];
    while (*pp && *pp != f)
        pp = &(*pp)->hnext;
    if (*pp)
        *pp = f->hnext;
    f->hnext = NULL;
}

/* Ends f: END per open direction (fn may be NULL), ext slots freed, the
 * flow unlinked and kept for reuse. */
static void flow_end(canh_flow_table_t *t, canh_flow_t *f, canh_stream_fn fn, void *ud)
{
    if (f->kproto == IPPROTO_TCP_) {
        canh_stream__end(t, f, 0, fn, ud);
        canh_stream__end(t, f, 1, fn, ud);
        canh_stream__free(t, f);
    }
    for (int i = 0; i < CANH_FLOW_EXT__COUNT; i++) {
        if (f->ext[i] && t->o.ext_free)
            t->o.ext_free(i, f->ext[i]);
        f->ext[i] = NULL;
    }
    hash_unlink(t, f);
    list_unlink(t, f);
    canh_flow__mem_sub(t, sizeof *f);
    if (t->c.active)
        t->c.active--;
    f->hnext = t->spare;
    t->spare = f;
}

/* The oldest flow of the table (the earliest activity among the heads). */
static canh_flow_t *oldest(canh_flow_table_t *t)
{
    canh_flow_t *best = NULL;
    for (int l = 0; l < CANH_FL__COUNT; l++) {
        canh_flow_t *h = t->lists[l].head;
        if (h && (!best || h->info.last_us < best->info.last_us))
            best = h;
    }
    return best;
}

static int list_of(uint8_t proto)
{
    if (proto == IPPROTO_TCP_)
        return CANH_FL_TCP_NEW;
    if (proto == IPPROTO_UDP_)
        return CANH_FL_UDP;
    return CANH_FL_OTHER;
}

static int64_t timeout_of(const canh_flow_table_t *t, int list)
{
    switch (list) {
    case CANH_FL_TCP_NEW:    return t->o.tcp_new_timeout_us;
    case CANH_FL_TCP:        return t->o.tcp_timeout_us;
    case CANH_FL_TCP_CLOSED: return t->o.tcp_closed_timeout_us;
    case CANH_FL_UDP:        return t->o.udp_timeout_us;
    default:                 return t->o.other_timeout_us;
    }
}

static void flow_swap(canh_flow_t *f)
{
    canh_flow_info_t *i = &f->info;
    f->reverse = 0;
    f->cside = (uint8_t)!f->cside;
    uint8_t a[16];
    memcpy(a, i->client, 16);
    memcpy(i->client, i->server, 16);
    memcpy(i->server, a, 16);
    uint16_t port = i->cport;
    i->cport = i->sport;
    i->sport = port;
    uint64_t n = i->pkts[0];
    i->pkts[0] = i->pkts[1];
    i->pkts[1] = n;
    n = i->bytes[0];
    i->bytes[0] = i->bytes[1];
    i->bytes[1] = n;
    canh_stream_t st = f->st[0];
    f->st[0] = f->st[1];
    f->st[1] = st;
}

int canh_flow_reverse(canh_flow_t *f)
{
    if (!f || f->st[0].syn || f->st[1].syn)
        return CANH_EINVAL;
    f->reverse = (uint8_t)!f->reverse;
    return CANH_OK;
}

canh_flow_t *canh_flow_get(canh_flow_table_t *t, const canh_pkt_t *p, int *dir)
{
    if (!t || !p)
        return NULL;
    if (p->proto != IPPROTO_TCP_ && p->proto != IPPROTO_UDP_ && p->proto != IPPROTO_ICMP_ &&
        p->proto != IPPROTO_ICMPV6_)
        return NULL;
    if (p->ipver != 4 && p->ipver != 6)
        return NULL;

    /* the key: sides ordered by address, then port; side of the sender */
    int alen = p->ipver == 4 ? 4 : 16;
    int c = memcmp(p->src, p->dst, (size_t)alen);
    if (c == 0)
        c = (int)p->sport - (int)p->dport;
    int src_side = c <= 0 ? 0 : 1;
    const uint8_t *a0 = src_side == 0 ? p->src : p->dst;
    const uint8_t *a1 = src_side == 0 ? p->dst : p->src;
    uint16_t p0 = src_side == 0 ? p->sport : p->dport;
    uint16_t p1 = src_side == 0 ? p->dport : p->sport;
    uint8_t nvlan = p->nvlan > 2 ? 2 : p->nvlan;
    uint16_t v0 = nvlan > 0 ? p->vlan[0] : 0, v1 = nvlan > 1 ? p->vlan[1] : 0;

    canh_flow_t **head = &t->buckets[bucket_of(t, p->hash)];
    canh_flow_t *f;
    for (f = *head; f; f = f->hnext) {
        if (f->hash == p->hash && f->kproto == p->proto && f->kipver == p->ipver &&
            f->knvlan == nvlan && f->kvlan[0] == v0 && f->kvlan[1] == v1 &&
            f->kport[0] == p0 && f->kport[1] == p1 &&
            memcmp(f->kaddr[0], a0, (size_t)alen) == 0 &&
            memcmp(f->kaddr[1], a1, (size_t)alen) == 0)
            break;
    }

    int syn_only = p->proto == IPPROTO_TCP_ &&
                   (p->tcp_flags & (CANH_TCP_SYN | CANH_TCP_ACK | CANH_TCP_RST)) == CANH_TCP_SYN;
    if (f && syn_only && (f->info.flags & CANH_FLOW_CLOSED) &&
        src_side == f->cside && !(f->st[0].syn && f->st[0].next_seq == p->seq + 1)) {
        /* the tuple reused by a new connection: the old one is over */
        t->c.ended_closed++;
        flow_end(t, f, t->o.end_fn, t->o.end_ud);
        f = NULL;
    }

    if (f) {
        if (f->reverse)
            flow_swap(f);
        if (p->ts_us > f->info.last_us)
            f->info.last_us = p->ts_us;
        if (f->next) {   /* to the tail of its list */
            int l = f->list;
            list_unlink(t, f);
            list_append(t, f, l);
        }
        if (dir)
            *dir = src_side == f->cside ? 0 : 1;
        return f;
    }

    /* a new flow: room first */
    while (t->c.memuse + sizeof *f > t->o.memcap) {
        canh_flow_t *old = oldest(t);
        if (!old) {
            t->c.no_room++;
            return NULL;
        }
        t->c.evicted_memcap++;
        flow_end(t, old, t->o.end_fn, t->o.end_ud);
    }
    if (t->spare) {
        f = t->spare;
        t->spare = f->hnext;
    } else if (!(f = malloc(sizeof *f))) {
        t->c.no_room++;
        return NULL;
    }
    memset(f, 0, sizeof *f);
    canh_flow__mem_add(t, sizeof *f);
    f->hash = p->hash;
    f->kproto = p->proto;
    f->kipver = p->ipver;
    f->knvlan = nvlan;
    f->kvlan[0] = v0;
    f->kvlan[1] = v1;
    f->kport[0] = p0;
    f->kport[1] = p1;
    memcpy(f->kaddr[0], a0, (size_t)alen);
    memcpy(f->kaddr[1], a1, (size_t)alen);
    int synack = p->proto == IPPROTO_TCP_ &&
                 (p->tcp_flags & (CANH_TCP_SYN | CANH_TCP_ACK)) == (CANH_TCP_SYN | CANH_TCP_ACK);
    f->cside = (uint8_t)(synack ? !src_side : src_side);

    canh_flow_info_t *i = &f->info;
    i->ipver = p->ipver;
    i->proto = p->proto;
    memcpy(i->client, f->kaddr[f->cside], 16);
    memcpy(i->server, f->kaddr[!f->cside], 16);
    i->cport = f->kport[f->cside];
    i->sport = f->kport[!f->cside];
    i->nvlan = nvlan;
    i->vlan[0] = v0;
    i->vlan[1] = v1;
    i->first_us = i->last_us = p->ts_us;
    i->id = t->next_id++;

    f->hnext = *head;
    *head = f;
    list_append(t, f, list_of(p->proto));
    t->c.flows++;
    t->c.active++;
    if (dir)
        *dir = src_side == f->cside ? 0 : 1;
    return f;
}

const canh_flow_info_t *canh_flow_info(const canh_flow_t *f)
{
    return f ? &f->info : NULL;
}

void **canh_flow_ext(canh_flow_t *f, int slot)
{
    if (!f || slot < 0 || slot >= CANH_FLOW_EXT__COUNT)
        return NULL;
    return &f->ext[slot];
}

void canh_flow_packet(canh_flow_table_t *t, canh_flow_t *f, int dir, const canh_pkt_t *p,
                      canh_stream_fn fn, void *ud)
{
    if (!t || !f || !p || (dir != 0 && dir != 1))
        return;
    f->info.pkts[dir]++;
    f->info.bytes[dir] += p->wirelen ? p->wirelen : p->l3len;
    if (f->kproto == IPPROTO_TCP_) {
        canh_stream__packet(t, f, dir, p, fn, ud);
    } else if (f->info.pkts[0] && f->info.pkts[1]) {
        f->info.flags |= CANH_FLOW_ESTABLISHED;
    }
}

void canh_flow_expire(canh_flow_table_t *t, int64_t now_us, canh_stream_fn fn, void *ud)
{
    if (!t)
        return;
    for (int l = 0; l < CANH_FL__COUNT; l++) {
        int64_t to = timeout_of(t, l);
        canh_flow_t *f;
        while ((f = t->lists[l].head) && f->info.last_us + to <= now_us) {
            if (f->info.flags & CANH_FLOW_CLOSED)
                t->c.ended_closed++;
            else
                t->c.ended_timeout++;
            flow_end(t, f, fn, ud);
        }
    }
}

void canh_flow_end_all(canh_flow_table_t *t, canh_stream_fn fn, void *ud)
{
    if (!t)
        return;
    canh_flow_t *f;
    while ((f = oldest(t))) {
        t->c.ended_end_all++;
        flow_end(t, f, fn, ud);
    }
}

void canh_flow_table_free(canh_flow_table_t *t)
{
    if (!t)
        return;
    canh_flow_end_all(t, t->o.end_fn, t->o.end_ud);
    while (t->spare) {
        canh_flow_t *f = t->spare;
        t->spare = f->hnext;
        free(f);
    }
    free(t->buckets);
    free(t);
}

void canh_flow_counts(const canh_flow_table_t *t, canh_flow_counts_t *c)
{
    if (!c)
        return;
    if (!t) {
        memset(c, 0, sizeof *c);
        return;
    }
    *c = t->c;
}
