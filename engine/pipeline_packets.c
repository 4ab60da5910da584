/*
 * engine/pipeline_packets.c -- packets through the pipeline (pipeline.h).
 *
 * Feeder (the thread calling canh_pipeline_packet): decodes each frame
 * (parsers/packet/packet.h: IP fragments are reassembled here, on one
 * thread, so a datagram is whole before it is spread), copies the packet
 * into the batch being filled (its bytes into the batch's data, which
 * never moves while it fills: a batch is handed on when the next packet
 * would not fit), and hands batches of PKT_BATCH packets to the workers.
 *
 * Workers: a packet batch is worked in shares, one per worker: share k
 * takes the packets whose flow hash is k modulo the number of shares, so
 * both directions of a flow always meet in the same share, with its flow
 * table, reassembly and rule state (engine/network.h). The work queue
 * carries one token per share; any worker may take any token, but a share
 * works its batches strictly in order (a worker taking share k of batch n
 * waits until share k of batch n-1 is done; the tokens of n-1 are all
 * taken before those of n, so this wait always ends). Each share writes
 * its alerts into the batch's own place for it; the worker finishing the
 * last share merges them by key (the packet's place in the batch, then
 * the alert's order within it: network.h), which does not depend on the
 * number of shares, and the batch is written like any other, in order.
 *
 * Thread: canh_pipeline_packet and canh_pipeline_packets_end on the
 * feeding thread; canh_pl_work_share on workers.
 */
#include "pipeline_int.h"
#include "input/input.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <pcap/pcap.h>

#define PKT_BATCH   1024            /* packets per batch */
#define PKT_BYTES   (2u << 20)      /* room for their bytes (a frame is at most 256 KiB) */

static int shares_make(pipeline_t *pl, char *err, size_t errlen)
{
    pl->shares = calloc((size_t)pl->nw, sizeof(*pl->shares));
    if (!pl->shares) {
        snprintf(err, errlen, "out of memory");
        return CANH_ENOMEM;
    }
    /* the feeder's rule set (this thread sets it): shares move on with the batches */
    canh_net_opts_t no = { .nids = pl->gen->nids, .midstream = pl->o.midstream };
    for (int k = 0; k < pl->nw; k++) {
        share_t *s = &pl->shares[k];
        pthread_mutex_init(&s->mu, NULL);
        pthread_cond_init(&s->cv, NULL);
        if (!(s->ns = canh_net_share_new(&no, err, errlen)))
            return CANH_ENOMEM;
        atomic_fetch_add(&pl->gen->refs, 1);
        s->gen = pl->gen;
    }
    return CANH_OK;
}

void canh_pl_packets_free(pipeline_t *pl)
{
    for (size_t i = 0; pl->pool && i < pl->npool; i++) {
        batch_t *b = &pl->pool[i];
        if (b->sh)
            for (int k = 0; k < pl->nw; k++) {
                canh_buf_free(&b->sh[k].alerts);
                free(b->sh[k].hits);
                free(b->sh[k].keys);
            }
        free(b->sh);
        free(b->tok);
        free(b->pkts);
    }
    if (pl->shares)
        for (int k = 0; k < pl->nw; k++) {
            if (!pl->shares[k].ns)
                continue;   /* made up to here */
            canh_net_share_free(pl->shares[k].ns);
            canh_pl_gen_put(pl, pl->shares[k].gen);
            pthread_mutex_destroy(&pl->shares[k].mu);
            pthread_cond_destroy(&pl->shares[k].cv);
        }
    free(pl->shares);
    canh_decoder_free(pl->dec);
    if (pl->pname)
        for (size_t i = 0; i < pl->o.max_inputs; i++)
            free(pl->pname[i]);
    free(pl->pname);
    free(pl->plive);
}

/* Makes b a packet batch (its arrays on first use; b belongs to the feeder). */
static int packet_batch(pipeline_t *pl, batch_t *b)
{
    if (!b->pkts) {
        b->pkts = malloc(PKT_BATCH * sizeof(*b->pkts));
        b->sh = calloc((size_t)pl->nw, sizeof(*b->sh));
        b->tok = calloc((size_t)pl->nw, sizeof(*b->tok));
        if (!b->pkts || !b->sh || !b->tok)
            return CANH_ENOMEM;
        for (int k = 0; k < pl->nw; k++)
            canh_buf_init(&b->sh[k].alerts);
    }
    if (b->cap < PKT_BYTES) {
        char *d = realloc(b->data, PKT_BYTES);
        if (!d)
            return CANH_ENOMEM;
        b->data = d;
        b->cap = PKT_BYTES;
    }
    b->packets = 1;
    b->npkts = 0;
    b->end = 0;
    b->last_us = INT64_MIN;
    return CANH_OK;
}

int canh_pipeline_capture(canh_pipeline_t *pl, uint32_t input, const char *name, int live)
{
    if (input >= pl->o.max_inputs)
        return CANH_EINVAL;
    if (!pl->pname) {
        pl->pname = calloc(pl->o.max_inputs, sizeof(*pl->pname));
        pl->plive = calloc(pl->o.max_inputs, sizeof(*pl->plive));
        if (!pl->pname || !pl->plive)
            return CANH_ENOMEM;
    }
    free(pl->pname[input]);
    if (!(pl->pname[input] = strdup(name)))
        return CANH_ENOMEM;
    pl->plive[input] = (uint8_t)live;
    return CANH_OK;
}

/* The packet batch being filled for input, with room for one more packet
 * of need bytes (0: for its end): the one there, or, when it cannot take
 * it, a new one after handing that one on. CANH_EINVAL: the pipeline is
 * closing. */
static int packet_room(pipeline_t *pl, uint32_t input, size_t need, batch_t **out)
{
    batch_t *b = pl->cur;
    if (b && (!b->packets || b->input != input ||
              (need && (b->npkts == PKT_BATCH || b->used + need > b->cap)))) {
        if (canh_pl_submit(pl) != CANH_OK)
            return CANH_EINVAL;
        b = NULL;
    }
    if (!b) {
        if (!(b = canh_pl_begin_batch(pl, input, 0)))
            return CANH_EINVAL;
        if (packet_batch(pl, b) != CANH_OK)
            return CANH_ENOMEM;
    }
    *out = b;
    return CANH_OK;
}

int canh_pipeline_packet(canh_pipeline_t *pl, uint32_t input, int dlt, int64_t ts_us,
                         const uint8_t *frame, uint32_t caplen, uint32_t wirelen, uint64_t num)
{
    char err[256];
    if (!pl->dec && !(pl->dec = canh_decoder_new(NULL)))
        return CANH_ENOMEM;
    if (!pl->shares && shares_make(pl, err, sizeof(err)) != CANH_OK) {
        CANH_ERR("cannot start the packet path: %s", err);
        return CANH_ENOMEM;
    }
    canh_pkt_t p;
    if (canh_decode(pl->dec, dlt, frame, caplen, wirelen, ts_us, num, &p) != CANH_PKT_OK)
        return CANH_OK;   /* held, skipped or bad: the decoder counts it */
    size_t need = (canh_pkt_copy_size(&p) + 7) & ~(size_t)7;
    batch_t *b;
    int rc = packet_room(pl, input, need, &b);
    if (rc != CANH_OK)
        return rc;
    if (need > b->cap)
        return CANH_OK;   /* cannot be: a frame is at most 256 KiB */
    canh_pkt_copy(&p, (uint8_t *)b->data + b->used, &b->pkts[b->npkts]);
    b->used += need;
    b->npkts++;
    if (ts_us > b->last_us)
        b->last_us = ts_us;
    return CANH_OK;
}

int canh_pipeline_packets_end(canh_pipeline_t *pl, uint32_t input)
{
    if (!pl->shares)
        return CANH_OK;   /* no packet came */
    batch_t *b;
    int rc = packet_room(pl, input, 0, &b);
    if (rc != CANH_OK)
        return rc;
    b->end = 1;
    return canh_pl_submit(pl) == CANH_OK ? CANH_OK : CANH_EINVAL;
}

/* canh_pl_submit's part for a packet batch: one token per share. */
int canh_pl_submit_packets(pipeline_t *pl, batch_t *b)
{
    b->pseq = pl->next_pseq++;
    b->n = 0;   /* no lines */
    atomic_store(&b->shares_left, pl->nw);
    for (int k = 0; k < pl->nw; k++) {
        b->tok[k] = (ptoken_t){ b, k };
        int rc = canh_queue_push(&pl->work_q, (void *)((uintptr_t)&b->tok[k] | 1));
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* ---- a share's work ---- */

typedef struct actx {
    worker_t *w;
    batch_t *b;
    pshare_t *ps;
    const char *capture;
    int live;
} actx_t;

static void on_alert(void *ud, const canh_rule_t *rule, const canh_event_t *ev, uint64_t key,
                     uint64_t pktnum)
{
    actx_t *a = ud;
    pshare_t *ps = a->ps;
    canh_origin_t origin = {
        .kind = a->live ? CANH_ORIGIN_CAPTURE : CANH_ORIGIN_PCAP,
        .name = a->capture, .name_len = a->capture ? strlen(a->capture) : 0,
        .pos = pktnum,
    };
    if (a->w->pl->named[a->b->input]) {
        origin.input = a->w->pl->names[a->b->input];
        origin.input_len = strlen(origin.input);
    }
    if (ps->nhits == ps->cap) {
        size_t cap = ps->cap ? 2 * ps->cap : 64;
        hit_t *h = realloc(ps->hits, cap * sizeof(*h));
        if (h)
            ps->hits = h;
        uint64_t *k = realloc(ps->keys, cap * sizeof(*k));
        if (k)
            ps->keys = k;
        if (!h || !k) {
            CANH_ERR("out of memory holding the alerts of a packet batch; one alert lost");
            return;
        }
        ps->cap = cap;
    }
    if (canh_alert_format_at(&a->w->fmt, rule, ev, a->w->now_ms, &origin) != CANH_OK)
        return;
    size_t off = ps->alerts.len;
    canh_buf_put(&ps->alerts, a->w->fmt.out.ptr, a->w->fmt.out.len);
    canh_buf_putc(&ps->alerts, '\n');
    ps->keys[ps->nhits] = key;
    ps->hits[ps->nhits++] = (hit_t){ rule, 0, 0, off, a->w->fmt.out.len, 0 };
}

typedef struct ord {
    uint64_t key;
    uint32_t k;
    uint32_t i;
} ord_t;

static int ord_cmp(const void *x, const void *y)
{
    const ord_t *a = x, *b = y;
    if (a->key != b->key)
        return a->key < b->key ? -1 : 1;
    if (a->k != b->k)
        return a->k < b->k ? -1 : 1;
    return a->i < b->i ? -1 : a->i > b->i;
}

/* The shares' alerts into the batch's own, in key order. */
static void merge(pipeline_t *pl, batch_t *b)
{
    canh_buf_reset(&b->alerts);
    canh_buf_reset(&b->hostbuf);
    b->nhits = 0;
    b->nerr = 0;
    b->nlims = 0;
    size_t n = 0;
    for (int k = 0; k < pl->nw; k++)
        n += b->sh[k].nhits;
    if (!n)
        return;
    ord_t *o = malloc(n * sizeof(*o));
    if (!o || (n > b->hits_cap && !(b->hits = realloc(b->hits, n * sizeof(*b->hits))))) {
        CANH_ERR("out of memory ordering %zu alerts of a packet batch; they are lost", n);
        free(o);
        return;
    }
    if (n > b->hits_cap)
        b->hits_cap = n;
    size_t j = 0;
    for (int k = 0; k < pl->nw; k++)
        for (size_t i = 0; i < b->sh[k].nhits; i++)
            o[j++] = (ord_t){ b->sh[k].keys[i], (uint32_t)k, (uint32_t)i };
    qsort(o, n, sizeof(*o), ord_cmp);
    for (size_t x = 0; x < n; x++) {
        const pshare_t *ps = &b->sh[o[x].k];
        hit_t h = ps->hits[o[x].i];
        size_t off = b->alerts.len;
        canh_buf_put(&b->alerts, ps->alerts.ptr + h.json_off, h.json_len + 1);
        h.json_off = off;
        b->hits[b->nhits++] = h;
    }
    free(o);
}

void canh_pl_work_share(worker_t *w, ptoken_t *t)
{
    pipeline_t *pl = w->pl;
    batch_t *b = t->b;
    int k = t->k;
    share_t *sh = &pl->shares[k];
    pthread_mutex_lock(&sh->mu);
    while (sh->next_pseq != b->pseq)
        pthread_cond_wait(&sh->cv, &sh->mu);
    pthread_mutex_unlock(&sh->mu);

    if (b->gen != sh->gen) {   /* a reload: the batch's network rules from now on */
        char err[256];
        if (b->gen->nids != sh->gen->nids &&
            canh_net_share_set_nids(sh->ns, b->gen->nids, err, sizeof(err)) != CANH_OK) {
            CANH_ERR("a share of the flows cannot take the network rules of rule set %llu "
                     "(%s); it keeps those of set %llu", (unsigned long long)b->gen->number,
                     err, (unsigned long long)sh->gen->number);
        } else {
            atomic_fetch_add(&b->gen->refs, 1);
            canh_pl_gen_put(pl, sh->gen);
            sh->gen = b->gen;
        }
    }
    canh_pl_take_rules(w);
    w->now_ms = canh_now_ms();
    pshare_t *ps = &b->sh[k];
    atomic_fetch_add(&w->gen->refs, 1);   /* its Sigma hits name rules of the worker's set */
    ps->gen = w->gen;
    canh_buf_reset(&ps->alerts);
    ps->nhits = 0;
    const char *capture = pl->pname ? pl->pname[b->input] : NULL;
    actx_t a = { w, b, ps, capture, pl->plive ? pl->plive[b->input] : 0 };
    canh_net_work_t nw = { .sigma = w->matcher, .rs = w->gen->rs, .alert = on_alert, .ud = &a,
                           .capture = capture, .live = a.live };
    uint32_t nshares = (uint32_t)pl->nw;
    for (uint32_t i = 0; i < b->npkts; i++)
        if (b->pkts[i].hash % nshares == (uint32_t)k)
            canh_net_packet(sh->ns, &nw, &b->pkts[i], i);
    if (b->last_us != INT64_MIN)
        canh_net_expire(sh->ns, &nw, b->last_us, b->npkts);
    if (b->end)
        canh_net_end(sh->ns, &nw, b->npkts);

    canh_net_counts_t snap = { 0 };
    canh_net_counts_add(sh->ns, &snap);
    pthread_mutex_lock(&sh->mu);
    sh->snap = snap;
    sh->next_pseq++;
    pthread_cond_broadcast(&sh->cv);
    pthread_mutex_unlock(&sh->mu);

    if (atomic_fetch_sub(&b->shares_left, 1) == 1) {
        merge(pl, b);
        canh_pl_complete(pl, b);
    }
}

void canh_pipeline_net_counts(canh_pipeline_t *pl, canh_net_counts_t *c,
                              canh_decode_counts_t *d)
{
    memset(c, 0, sizeof(*c));
    memset(d, 0, sizeof(*d));
    if (pl->dec)
        *d = *canh_decoder_counts(pl->dec);
    /* every field of canh_net_counts_t is a 64-bit count: summed as such */
    _Static_assert(sizeof(canh_net_counts_t) % sizeof(uint64_t) == 0 && sizeof(size_t) == 8,
                   "canh_net_counts_t holds 64-bit counts only");
    for (int k = 0; pl->shares && k < pl->nw; k++) {
        pthread_mutex_lock(&pl->shares[k].mu);
        canh_net_counts_t one = pl->shares[k].snap;
        pthread_mutex_unlock(&pl->shares[k].mu);
        uint64_t *into = (uint64_t *)c;
        const uint64_t *from = (const uint64_t *)&one;
        for (size_t i = 0; i < sizeof(one) / sizeof(uint64_t); i++)
            into[i] += from[i];
    }
}

/* ---- canh scan of a capture file ---- */

typedef struct pfeed {
    canh_pipeline_t *pl;
    uint32_t input;
    uint64_t num, *bytes;
    int rc;                     /* the first failure of canh_pipeline_packet */
} pfeed_t;

static void feed_frame(void *ud, int dlt, const struct pcap_pkthdr *h, const uint8_t *bytes)
{
    pfeed_t *f = ud;
    f->num++;
    *f->bytes += h->caplen;
    if (f->rc != CANH_OK)
        return;
    int64_t ts = (int64_t)h->ts.tv_sec * 1000000 + h->ts.tv_usec;
    f->rc = canh_pipeline_packet(f->pl, f->input, dlt, ts, bytes, h->caplen, h->len, f->num);
}

int canh_pipeline_pcap_file(canh_pipeline_t *pl, uint32_t input, const char *path,
                            uint64_t *bytes, char *err, size_t errlen)
{
    canh_pcap_file_t *pf;
    char why[512];
    if (canh_pcap_file_open(path, &pf, why, sizeof(why)) != CANH_OK) {
        snprintf(err, errlen, "%s", why);
        return CANH_EIO;
    }
    int dlt = canh_pcap_file_dlt(pf);
    if (!canh_decode_dlt_ok(dlt)) {
        snprintf(err, errlen, "%s: link type %s (%d), which canh does not decode", path,
                 pcap_datalink_val_to_name(dlt) ? pcap_datalink_val_to_name(dlt) : "unknown",
                 dlt);
        canh_pcap_file_close(pf);
        return CANH_EIO;
    }
    if (canh_pipeline_capture(pl, input, path, 0) != CANH_OK) {
        canh_pcap_file_close(pf);
        return CANH_ENOMEM;
    }
    pfeed_t f = { pl, input, 0, bytes, CANH_OK };
    long n;
    while ((n = canh_pcap_file_read(pf, PKT_BATCH, feed_frame, &f, why, sizeof(why))) > 0 &&
           f.rc == CANH_OK)
        ;
    canh_pcap_file_close(pf);
    int rc = f.rc;
    if (rc == CANH_OK && n < 0) {
        /* a cut or damaged file: what came before is worked, the rest is lost */
        snprintf(err, errlen, "%s: %s", path, why);
        rc = CANH_EIO;
    }
    int erc = canh_pipeline_packets_end(pl, input);
    return rc != CANH_OK ? rc : erc;
}

void canh_pipeline_packet_stats(canh_pipeline_t *pl, canh_stats_t *s)
{
    canh_net_counts_t nc;
    canh_decode_counts_t dc;
    canh_pipeline_net_counts(pl, &nc, &dc);
    s->packets = dc.frames;
    s->packets_bad = dc.bad;
    s->packets_skipped = dc.skipped;
    s->fragments_held = dc.held;
    s->flows = nc.flow.flows;
    s->no_flow = nc.no_flow;
    s->stream_gaps = nc.flow.gaps;
    s->stream_memcap_hit = nc.flow.stream_memcap_hit + nc.flow.stream_flow_cap_hit;
    s->protocol_events = nc.events;
}
