/*
 * parsers/packet/stream.c -- TCP reassembly, one direction at a time, and
 * the TCP side of a flow's state (handshake, midstream, FIN, RST).
 *
 * Each direction tracks the next byte it owes the consumer (next_seq):
 * from the SYN (ISN + 1), or from the first segment seen when the flow was
 * picked up midstream; a SYN-ACK also gives the other side's next byte (its
 * ACK number). Sequence numbers are compared modulo 2^32 (flow_int.h).
 *
 * A segment that starts at next_seq while nothing is held is handed to the
 * callback straight from the packet (no copy). Anything else is held, in a
 * sorted list of disjoint segments: where it overlaps held bytes, the bytes
 * seen first win (RFC 793 leaves this open; first-wins is the usual policy
 * of stream reassemblers, and the one that cannot be rewritten by a later
 * segment), overlaps counted, and counted apart when their bytes differ.
 * A segment entirely before next_seq, or identical to held bytes, is a
 * retransmission and dropped. Data on a SYN (TCP Fast Open, RFC 7413) is
 * held aside and handed over only when the SYN-ACK acknowledges it; when
 * the server did not take it, it is dropped and its resend is what counts.
 * Data after a RST is ignored.
 *
 * A hole whose bytes the receiver acknowledges (an ACK from the other side
 * at or past the held data after it) was lost by the capture, not by the
 * network: it is skipped at once with CANH_STREAM_GAP, as Suricata does.
 * When the bytes held for a direction would pass opts.stream_flow_cap, the
 * first hole is given up: the consumer gets the bytes after it flagged
 * CANH_STREAM_GAP (counted). At the direction's end (FIN reached, RST, or
 * the flow's end) the remaining holes are skipped the same way, then
 * CANH_STREAM_END. Held segments count against the table's memcap; a
 * segment that does not fit is dropped (counted) and becomes a hole.
 *
 * Thread: the worker that owns the flow's table.
 */
#include <stdlib.h>
#include <string.h>

#include "flow_int.h"

static void deliver(canh_stream_t *s, canh_flow_t *f, int dir, const uint8_t *d, size_t len,
                    canh_stream_fn fn, void *ud)
{
    int flags = s->gap_pending ? CANH_STREAM_GAP : 0;
    s->gap_pending = 0;
    if (fn)
        fn(ud, f, dir, d, len, flags);
}

static void seg_free(canh_flow_table_t *t, canh_stream_t *s, canh_seg_t *g)
{
    s->held -= g->len;
    canh_flow__mem_sub(t, sizeof *g + g->len);
    free(g);
}

/* Hands over the held segments that now start at next_seq. */
static void flush_held(canh_flow_table_t *t, canh_flow_t *f, int dir, canh_stream_fn fn,
                       void *ud)
{
    canh_stream_t *s = &f->st[dir];
    canh_seg_t *g;
    while ((g = s->segs) && CANH_SEQ_LEQ(g->seq, s->next_seq)) {
        s->segs = g->next;
        uint32_t end = g->seq + g->len;
        if (CANH_SEQ_GT(end, s->next_seq)) {   /* always whole by the list's rule */
            uint32_t skip = s->next_seq - g->seq;
            deliver(s, f, dir, g->data + skip, g->len - skip, fn, ud);
            s->next_seq = end;
        }
        seg_free(t, s, g);
    }
}

/* Drops the held bytes from seq on. */
static void drop_from(canh_flow_table_t *t, canh_stream_t *s, uint32_t seq)
{
    canh_seg_t **pp = &s->segs, *g;
    while ((g = *pp)) {
        if (CANH_SEQ_GEQ(g->seq, seq)) {
            *pp = g->next;
            seg_free(t, s, g);
            continue;
        }
        if (CANH_SEQ_GT(g->seq + g->len, seq)) {
            uint32_t cut = g->seq + g->len - seq;
            g->len -= cut;
            s->held -= cut;
            canh_flow__mem_sub(t, cut);
        }
        pp = &g->next;
    }
}

/* Gives up the hole before the first held segment. */
static void skip_hole(canh_flow_table_t *t, canh_flow_t *f, int dir, canh_stream_fn fn,
                      void *ud)
{
    canh_stream_t *s = &f->st[dir];
    if (!s->segs)
        return;
    t->c.gaps++;
    s->next_seq = s->segs->seq;
    s->gap_pending = 1;
    flush_held(t, f, dir, fn, ud);
}

/* Holds [seq, seq+len) where no held segment has bytes yet. Returns the
 * number of pieces stored; *overlap / *differ / *dropped tell the rest. */
static int hold(canh_flow_table_t *t, canh_stream_t *s, uint32_t seq, const uint8_t *d,
                uint32_t len, int *overlap, int *differ, int *dropped)
{
    uint32_t end = seq + len, cur = seq;
    canh_seg_t **pp = &s->segs;
    int stored = 0;
    while (CANH_SEQ_LT(cur, end)) {
        canh_seg_t *g = *pp;
        if (g && CANH_SEQ_LEQ(g->seq + g->len, cur)) {
            pp = &g->next;
            continue;
        }
        if (g && CANH_SEQ_LEQ(g->seq, cur)) {
            uint32_t oend = CANH_SEQ_LT(g->seq + g->len, end) ? g->seq + g->len : end;
            *overlap = 1;
            if (memcmp(g->data + (cur - g->seq), d + (cur - seq), oend - cur) != 0)
                *differ = 1;
            cur = oend;
            pp = &g->next;
            continue;
        }
        uint32_t pend = (g && CANH_SEQ_LT(g->seq, end)) ? g->seq : end;
        uint32_t n = pend - cur;
        if (t->c.memuse + sizeof(canh_seg_t) + n > t->o.memcap) {
            t->c.stream_memcap_hit++;
            *dropped = 1;
            cur = pend;
            continue;
        }
        canh_seg_t *ng = malloc(sizeof *ng + n);
        if (!ng) {
            t->c.stream_memcap_hit++;
            *dropped = 1;
            cur = pend;
            continue;
        }
        ng->seq = cur;
        ng->len = n;
        memcpy(ng->data, d + (cur - seq), n);
        ng->next = g;
        *pp = ng;
        pp = &ng->next;
        s->held += n;
        canh_flow__mem_add(t, sizeof *ng + n);
        stored++;
        cur = pend;
    }
    return stored;
}

static void stream_data(canh_flow_table_t *t, canh_flow_t *f, int dir, uint32_t seq,
                        const uint8_t *d, uint32_t len, canh_stream_fn fn, void *ud)
{
    canh_stream_t *s = &f->st[dir];
    int counted = 0;
    for (;;) {
        uint32_t end = seq + len;
        if (CANH_SEQ_LEQ(end, s->next_seq)) {
            if (!counted)
                t->c.retransmits++;
            return;
        }
        if (CANH_SEQ_LT(seq, s->next_seq)) {
            /* starts in bytes already handed over: those cannot be
             * compared any more; the rest is new */
            if (!counted)
                t->c.overlaps++;
            counted = 1;
            uint32_t cut = s->next_seq - seq;
            d += cut;
            len -= cut;
            seq = s->next_seq;
        }
        if (seq == s->next_seq && (!s->segs || CANH_SEQ_LEQ(end, s->segs->seq))) {
            deliver(s, f, dir, d, len, fn, ud);
            s->next_seq = end;
            flush_held(t, f, dir, fn, ud);
            return;
        }
        if (seq != s->next_seq && s->held + len > t->o.stream_flow_cap) {
            /* too much waits behind the first hole: give it up */
            t->c.stream_flow_cap_hit++;
            if (s->segs && CANH_SEQ_LT(s->segs->seq, seq)) {
                skip_hole(t, f, dir, fn, ud);
            } else {
                t->c.gaps++;
                s->next_seq = seq;
                s->gap_pending = 1;
            }
            counted = 1;
            continue;
        }
        int overlap = 0, differ = 0, dropped = 0;
        int stored = hold(t, s, seq, d, len, &overlap, &differ, &dropped);
        if (stored && seq != s->next_seq)
            t->c.segments_ooo++;
        if (overlap && !counted) {
            if (!stored && !dropped && !differ) {
                t->c.retransmits++;
            } else {
                t->c.overlaps++;
                if (differ)
                    t->c.overlaps_differ++;
            }
        }
        flush_held(t, f, dir, fn, ud);
        return;
    }
}

static void end_dir(canh_flow_table_t *t, canh_flow_t *f, int dir, canh_stream_fn fn, void *ud)
{
    canh_stream_t *s = &f->st[dir];
    if (!s->init || s->ended)
        return;
    while (s->segs)
        skip_hole(t, f, dir, fn, ud);
    if (s->fin && CANH_SEQ_LT(s->next_seq, s->fin_seq)) {
        /* bytes before the FIN never came */
        t->c.gaps++;
        s->gap_pending = 1;
    }
    s->ended = 1;
    int flags = CANH_STREAM_END | (s->gap_pending ? CANH_STREAM_GAP : 0);
    s->gap_pending = 0;
    if (fn)
        fn(ud, f, dir, NULL, 0, flags);
}

void canh_stream__end(canh_flow_table_t *t, canh_flow_t *f, int dir, canh_stream_fn fn,
                      void *ud)
{
    end_dir(t, f, dir, fn, ud);
}

void canh_stream__free(canh_flow_table_t *t, canh_flow_t *f)
{
    for (int dir = 0; dir < 2; dir++) {
        canh_stream_t *s = &f->st[dir];
        while (s->segs) {
            canh_seg_t *g = s->segs;
            s->segs = g->next;
            seg_free(t, s, g);
        }
    }
}

/* The window scale option (kind 3, RFC 7323 section 2) of a SYN. */
static int wscale_of(const canh_pkt_t *p, uint8_t *shift)
{
    const uint8_t *o = p->tcp_opt;
    uint32_t n = o ? p->tcp_optlen : 0, k = 0;
    while (k < n) {
        uint8_t kind = o[k];
        if (kind == 0)
            break;
        if (kind == 1) {
            k++;
            continue;
        }
        if (k + 1 >= n || o[k + 1] < 2 || k + o[k + 1] > n)
            break;
        if (kind == 3 && o[k + 1] == 3) {
            *shift = o[k + 2] > 14 ? 14 : o[k + 2];
            return 1;
        }
        k += o[k + 1];
    }
    return 0;
}

/* Whether a RST from the side of stream s falls where its receiver would
 * take it: from the next byte expected to the end of the receiver's
 * window past the highest byte sent (RFC 793 section 3.4, RFC 5961 section
 * 3: a RST outside the window is not acted on). A forged RST to blind the
 * sensor has to guess this much. */
static int rst_in_window(const canh_stream_t *s, const canh_stream_t *o, uint32_t seq)
{
    if (!s->init)
        return 1;
    uint64_t win = (uint64_t)o->win << (s->ws_ok && o->ws_ok ? o->wscale : 0);
    if (win < 65535)
        win = 65535;
    uint32_t hi = (CANH_SEQ_GT(s->max_seq, s->next_seq) ? s->max_seq : s->next_seq) +
                  (uint32_t)(win > 0x3fffffff ? 0x3fffffff : win);
    return CANH_SEQ_GEQ(seq, s->next_seq - 1) && CANH_SEQ_LEQ(seq, hi);
}

/* The SYN's data of direction d, held aside: handed over when the peer's
 * ACK covers it (a TFO server took it), dropped otherwise (the client
 * sends it again after the handshake, and that copy is the one the server
 * reads). */
static void syn_data_settle(canh_flow_table_t *t, canh_flow_t *f, int d, uint32_t ack,
                            canh_stream_fn fn, void *ud)
{
    canh_stream_t *s = &f->st[d];
    if (!s->syn_data)
        return;
    s->syn_data = 0;
    if (s->segs && s->segs->seq == s->next_seq &&
        CANH_SEQ_GEQ(ack, s->segs->seq + s->segs->len))
        flush_held(t, f, d, fn, ud);
    else
        drop_from(t, s, s->next_seq);
}

void canh_stream__packet(canh_flow_table_t *t, canh_flow_t *f, int dir, const canh_pkt_t *p,
                         canh_stream_fn fn, void *ud)
{
    canh_stream_t *s = &f->st[dir], *o = &f->st[!dir];
    uint8_t fl = p->tcp_flags;
    const uint8_t *payload = p->payload;
    uint32_t plen = payload ? p->plen : 0;

    if (f->rst)
        return;                      /* the connection is gone: nothing after a RST */

    if (!s->init && !o->init && !(fl & CANH_TCP_SYN) && !(f->info.flags & CANH_FLOW_MIDSTREAM)) {
        f->info.flags |= CANH_FLOW_MIDSTREAM;
        t->c.tcp_midstream++;
    }
    if ((f->info.flags & CANH_FLOW_MIDSTREAM) && !t->o.midstream)
        return;                      /* not picked up: no stream, no state (flow.h) */

    if (fl & CANH_TCP_RST) {
        if (!rst_in_window(s, o, p->seq)) {
            t->c.rst_invalid++;
            return;
        }
        f->rst = 1;
        canh_flow__closed(t, f);
        end_dir(t, f, 0, fn, ud);
        end_dir(t, f, 1, fn, ud);
        return;
    }

    s->win = p->win;
    if (s->init && CANH_SEQ_GT(p->seq + plen, s->max_seq))
        s->max_seq = p->seq + plen;

    if (fl & CANH_TCP_SYN) {
        if (!s->syn && !s->data_seen) {
            s->syn = 1;
            s->init = 1;
            s->next_seq = s->max_seq = p->seq + 1;
            s->ws_ok = wscale_of(p, &s->wscale);
            if (plen && !(fl & CANH_TCP_ACK) && plen <= t->o.stream_flow_cap) {
                /* TCP Fast Open (RFC 7413): kept aside until the SYN-ACK
                 * shows whether the server took it */
                int ov = 0, df = 0, dr = 0;
                s->syn_data = hold(t, s, p->seq + 1, payload, plen, &ov, &df, &dr) > 0;
            }
        }
        if (fl & CANH_TCP_ACK) {
            syn_data_settle(t, f, !dir, p->ack, fn, ud);
            /* SYN-ACK: the other side's next byte is what it acknowledges */
            if (!o->syn && !o->data_seen) {
                o->init = 1;
                o->next_seq = o->max_seq = p->ack;
            }
            if (f->hs == 1 && dir == 1)
                f->hs = 2;
            if (!o->syn && !(f->info.flags & CANH_FLOW_MIDSTREAM)) {
                f->info.flags |= CANH_FLOW_MIDSTREAM;   /* picked up at the SYN-ACK */
                t->c.tcp_midstream++;
            }
        } else if (dir == 0 && f->hs == 0) {
            f->hs = 1;
        }
        return;                      /* data on a SYN only as above */
    }
    if (s->syn_data)                 /* data before the SYN-ACK: the SYN's is not taken */
        syn_data_settle(t, f, dir, s->next_seq, fn, ud);

    if ((fl & CANH_TCP_ACK) && o->syn_data)
        syn_data_settle(t, f, !dir, p->ack, fn, ud);
    if ((fl & CANH_TCP_ACK) && o->init && !o->ended) {
        /* the receiver acknowledges bytes of the other side that were
         * never seen (lost to the capture): those holes will not close */
        while (o->segs && CANH_SEQ_LEQ(o->segs->seq, p->ack))
            skip_hole(t, f, !dir, fn, ud);
        if (o->fin && CANH_SEQ_GEQ(o->next_seq, o->fin_seq))
            end_dir(t, f, !dir, fn, ud);
    }

    if (!s->init) {                  /* midstream pick-up of this direction */
        s->init = 1;
        s->next_seq = p->seq;
        s->max_seq = p->seq + plen;
    }
    if ((fl & CANH_TCP_ACK) && dir == 0 && f->hs == 2) {
        f->hs = 3;
        canh_flow__established(t, f);
    }
    if ((f->info.flags & CANH_FLOW_MIDSTREAM) && f->info.pkts[0] && f->info.pkts[1] &&
        !(f->info.flags & CANH_FLOW_ESTABLISHED))
        canh_flow__established(t, f);

    if (s->ended) {
        if (plen)
            t->c.retransmits++;
        return;
    }

    uint32_t seq = p->seq;
    if (plen) {
        s->data_seen = 1;
        uint32_t len = plen;
        if (s->fin) {                /* nothing past the FIN */
            if (CANH_SEQ_LEQ(s->fin_seq, seq))
                len = 0;
            else if (CANH_SEQ_GT(seq + len, s->fin_seq))
                len = s->fin_seq - seq;
        }
        if (len)
            stream_data(t, f, dir, seq, payload, len, fn, ud);
    }
    if ((fl & CANH_TCP_FIN) && !s->fin) {
        s->fin = 1;
        s->fin_seq = seq + plen;
        drop_from(t, s, s->fin_seq);   /* held bytes past the FIN were never sent */
    }
    if (s->fin && !s->ended && CANH_SEQ_GEQ(s->next_seq, s->fin_seq))
        end_dir(t, f, dir, fn, ud);
    if (s->fin && o->fin)
        canh_flow__closed(t, f);
}
