/*
 * engine/pipeline.c -- feeder -> workers, which write in order (see pipeline.h).
 *
 * Ownership: a batch belongs to exactly one stage at a time: the free pool
 * (a queue), the feeder filling it, the work queue, a worker, the pending
 * table of completed batches, the worker writing it, and back to the pool.
 * A batch owns its line bytes (copied by the feeder, or read into it by
 * feed_fd and split by the worker: a raw batch), its alert buffer, its
 * list of alert hits (rule, host) and of parse errors; its memory is kept
 * when it is recycled. Each worker owns a parser, a matcher (Hyperscan
 * scratch for the rule set it runs), an alert formatter and its event
 * counters. Writing (the output stream, the sink, the alert counts by
 * level, rule and host, and the suppressed ones by rule) is done by one
 * worker at a time, in input order
 * (see canh_pl_complete()); the counts are the one aggregate, so a periodic stats
 * record needs no merge.
 *
 * Audit groups held back (canh_pipeline_line_from) belong to the feeder:
 * a table of at most HOLD_SLOTS streams, each slot keeping its buffer,
 * found by (input, stream) through a hash index (linear probing).
 *
 * The alerts output (outw_t) belongs to the worker writing: a failed write
 * is retried there, in a loop that sleeps between tries, so the batches
 * behind it wait in `pending` and the feeder waits for free batches: the
 * same backpressure as a full Kafka spool. Its counts are read by other
 * threads under out_mu.
 *
 * Why no writer thread: on a machine with as many workers as cores, a
 * writer woken once per batch takes a core from a worker each time, and
 * that switching cost more than the writing itself. The feeder is likewise
 * woken once per half pool of free batches, not once per batch.
 *
 * Rule sets (generations): the pipeline holds the current set; a worker
 * holds the set its matcher was built for, and each batch holds the set it
 * was matched with until its hits have been counted. A set is
 * released (its owner's release function) when the last of these lets go,
 * so canh_pipeline_set_rules never waits and never frees a set in use. A
 * worker looks for a new set between batches only: a batch is matched by
 * one set, start to end.
 */
#include "pipeline.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "queue.h"
#include "input/input.h"
#include "input/source_file.h"
#include "../parsers/parse.h"
#include "../sinks/alert.h"
#include "explain.h"

#include "pipeline_int.h"

/* ---- rule sets ---------------------------------------------------------- */

void canh_pl_gen_put(pipeline_t *pl, gen_t *g)
{
    if (g && atomic_fetch_sub(&g->refs, 1) == 1) {
        if (pl->o.release)
            pl->o.release(g->ud, g->rs);
        free(g);
    }
}

/* The worker's rule set for its next batch: the current one if its
 * matcher could be built, else (counted, logged) the one it had. */
void canh_pl_take_rules(worker_t *w)
{
    pipeline_t *pl = w->pl;
    pthread_mutex_lock(&pl->gen_mu);
    gen_t *g = pl->gen;
    if (g != w->gen)
        atomic_fetch_add(&g->refs, 1);
    pthread_mutex_unlock(&pl->gen_mu);
    if (g == w->gen)
        return;
    char err[256];
    canh_matcher_t *m = canh_matcher_new(g->rs, err, sizeof(err));
    if (!m) {
        atomic_fetch_add(&pl->matcher_failures, 1);
        CANH_ERR("a worker cannot take rule set %llu (%s); it keeps set %llu",
                 (unsigned long long)g->number, err, (unsigned long long)w->gen->number);
        canh_pl_gen_put(pl, g);
        return;
    }
    canh_matcher_free(w->matcher);
    w->matcher = m;
    canh_pl_gen_put(pl, w->gen);
    w->gen = g;
}

int canh_pipeline_set_rules(canh_pipeline_t *pl, const canh_ruleset_t *rs,
                            const canh_suppress_t *sup, const canh_nids_t *nids, void *ud)
{
    gen_t *g = calloc(1, sizeof(*g));
    if (!g)
        return CANH_ENOMEM;
    g->rs = rs;
    g->sup = sup;
    g->nids = nids;
    g->ud = ud;
    atomic_init(&g->refs, 1);
    pthread_mutex_lock(&pl->gen_mu);
    gen_t *old = pl->gen;
    g->number = old ? old->number + 1 : 1;
    pl->gen = g;
    pthread_mutex_unlock(&pl->gen_mu);
    canh_pl_gen_put(pl, old);
    return CANH_OK;
}

/* ---- workers ------------------------------------------------------------ */


/* Where the event's first line came from (put_line, feed_fd), for its
 * alerts. */
static void event_origin(const worker_t *w, const canh_event_t *ev, canh_origin_t *o)
{
    const pipeline_t *pl = w->pl;
    const batch_t *b = w->b;
    memset(o, 0, sizeof(*o));
    uint32_t k = 0;
    uint64_t pos = b->base_off + ev->line_tag;   /* raw: the tag is the offset in data */
    if (!b->raw) {
        if (ev->line_tag >= b->n)
            return;
        k = b->src[ev->line_tag];
        pos = b->pos[ev->line_tag];
    }
    if (k >= b->norig)
        return;
    const borigin_t *g = &b->orig[k];
    o->kind = g->kind;
    if (pl->named[b->input]) {
        o->input = pl->names[b->input];
        o->input_len = strlen(o->input);
    }
    if (g->has_name) {
        o->name = b->onames.ptr + g->name_off;
        o->name_len = g->name_len;
    }
    o->ident[0] = g->ident[0];
    o->ident[1] = g->ident[1];
    o->pos = pos;
}

static int on_event(void *ud, canh_event_t *ev)
{
    worker_t *w = ud;
    w->stats.events++;
    w->stats.dropped_fields += ev->dropped_fields;
    int n = canh_matcher_match(w->matcher, ev, w->hits, MAX_HITS);
    if (n <= 0)
        return 0;
    if (n > MAX_HITS)
        n = MAX_HITS;
    batch_t *b = w->b;
    if (b->nhits + (size_t)n > b->hits_cap) {
        size_t cap = b->hits_cap * 2 > b->nhits + (size_t)n ? b->hits_cap * 2 : b->nhits + (size_t)n;
        hit_t *v = realloc(b->hits, cap * sizeof(*v));
        if (!v) {
            CANH_ERR("out of memory holding the alerts of one batch; %d alerts lost", n);
            return 0;
        }
        b->hits = v;
        b->hits_cap = cap;
    }
    const canh_field_t *host = canh_event_get(ev, CANH_F_HOST_NAME);
    uint32_t host_off = (uint32_t)b->hostbuf.len, host_len = 0;
    if (host && host->value.len && host->value.len < UINT32_MAX) {
        canh_buf_put(&b->hostbuf, host->value.ptr, host->value.len);
        host_len = (uint32_t)host->value.len;
    }
    canh_origin_t origin;
    event_origin(w, ev, &origin);
    for (int i = 0; i < n; i++) {
        const canh_rule_t *r = canh_ruleset_rule(w->gen->rs, w->hits[i]);
        if (w->gen->sup && canh_suppress_match(w->gen->sup, w->hits[i], ev, w->now_ms)) {
            b->hits[b->nhits++] = (hit_t){ r, host_off, host_len, 0, 0, 1 };
            continue;
        }
        if (w->pl->o.matched)   /* cold: only for alerts, only when asked */
            canh_explain_matched_json(w->matcher, r, ev, w->hits[i], &w->fmt.matched);
        if (canh_alert_format_at(&w->fmt, r, ev, w->now_ms, &origin) != CANH_OK)
            continue;
        size_t json_off = b->alerts.len;
        canh_buf_put(&b->alerts, w->fmt.out.ptr, w->fmt.out.len);
        canh_buf_putc(&b->alerts, '\n');
        b->hits[b->nhits++] = (hit_t){ r, host_off, host_len, json_off, w->fmt.out.len, 0 };
    }
    return 0;
}

static void note_error(worker_t *w, uint64_t before, uint64_t line)
{
    uint64_t now = canh_parser_errors(w->parser);
    if (now == before)
        return;
    w->stats.parse_errors += now - before;
    batch_t *b = w->b;
    if (b->nerr == b->errs_cap) {   /* only a raw batch has more lines than batch_max */
        perr_t *v = realloc(b->errs, 2 * b->errs_cap * sizeof(*v));
        if (!v)
            return;   /* counted, not shown */
        b->errs = v;
        b->errs_cap *= 2;
    }
    b->errs[b->nerr++] = (perr_t){ line, canh_parser_last_error(w->parser) };
}

/* One line of a batch: an empty one is no event (as over TCP). tag: its
 * index in the batch, or in a raw batch its offset in data (event_origin). */
static void work_line(worker_t *w, const char *p, size_t len, uint64_t idx, uint64_t tag)
{
    if (!len)
        return;
    uint64_t before = canh_parser_errors(w->parser);
    canh_parser_feed_at(w->parser, p, len, tag, on_event, w);
    note_error(w, before, idx);
}

/* canh_limit_fn: one rule's PCRE2 limit hits in the batch being worked. */
static void on_limit(void *ud, uint32_t rule_idx, uint64_t events, int rc)
{
    worker_t *w = ud;
    batch_t *b = w->b;
    if (b->nlims == b->lims_cap) {
        size_t cap = b->lims_cap ? 2 * b->lims_cap : 8;
        lim_t *v = realloc(b->lims, cap * sizeof(*v));
        if (!v) {
            CANH_ERR("out of memory counting PCRE2 limit hits; %llu not counted",
                     (unsigned long long)events);
            return;
        }
        b->lims = v;
        b->lims_cap = cap;
    }
    b->lims[b->nlims++] = (lim_t){ canh_ruleset_rule(w->gen->rs, rule_idx), events, rc };
}

static void work_batch(worker_t *w, batch_t *b)
{
    pipeline_t *pl = w->pl;
    if (w->cur_input != (int64_t)b->input) {
        canh_parser_reset(w->parser, &pl->popts[b->input]);
        w->cur_input = b->input;
    }
    canh_pl_take_rules(w);
    atomic_fetch_add(&w->gen->refs, 1);
    b->gen = w->gen;
    w->b = b;
    w->now_ms = canh_now_ms();
    canh_buf_reset(&b->alerts);
    canh_buf_reset(&b->hostbuf);
    b->nhits = 0;
    b->nerr = 0;
    b->nlims = 0;
    if (b->raw) {   /* split it here, on the worker's core (see feed_fd) */
        uint32_t n = 0;
        const char *p = b->data, *end = p + b->used;
        while (p < end) {
            const char *nl = memchr(p, '\n', (size_t)(end - p));
            size_t len = (size_t)((nl ? nl : end) - p);
            work_line(w, p, len && p[len - 1] == '\r' ? len - 1 : len, n++,
                      (uint64_t)(p - b->data));
            p += len + 1;
        }
        b->n = n;
    } else {
        for (uint32_t i = 0; i < b->n; i++)
            work_line(w, b->data + b->off[i], b->len[i], i, i);
    }
    /* a batch ends between audit groups: emit what is held */
    uint64_t before = canh_parser_errors(w->parser);
    canh_parser_flush(w->parser, on_event, w);
    note_error(w, before, b->n ? b->n - 1 : 0);
    canh_matcher_take_limits(w->matcher, on_limit, w);
}

static void *worker_main(void *arg)
{
    worker_t *w = arg;
    void *item;
    pthread_setname_np(pthread_self(), "canh-worker");
    while ((item = canh_queue_pop(&w->pl->work_q))) {
        if ((uintptr_t)item & 1) {   /* a share of a packet batch */
            canh_pl_work_share(w, (ptoken_t *)((uintptr_t)item & ~(uintptr_t)1));
            continue;
        }
        batch_t *b = item;
        work_batch(w, b);
        pthread_mutex_lock(&w->snap_mu);
        w->snap_events = w->stats.events;
        w->snap_parse_errors = w->stats.parse_errors;
        w->snap_batches++;
        pthread_mutex_unlock(&w->snap_mu);
        canh_pl_complete(w->pl, b);
    }
    w->cpu_s = canh_cpu_seconds(CLOCK_THREAD_CPUTIME_ID);
    return NULL;
}

/* ---- writing, in input order -------------------------------------------- */

int canh_stop_pending(void)
{
    sigset_t p;
    return sigpending(&p) == 0 && (sigismember(&p, SIGTERM) == 1 || sigismember(&p, SIGINT) == 1);
}

void canh_pipeline_stopping(canh_pipeline_t *pl)
{
    int_fast64_t none = 0;
    atomic_compare_exchange_strong(&pl->stop_at, &none,
                                   canh_mono_ms() + pl->o.out_stop_timeout_ms);
}

static const char *out_name(const pipeline_t *pl)
{
    return pl->o.out_name ? pl->o.out_name : "the alerts output";
}

static uint64_t count_lines(const char *p, size_t n)
{
    uint64_t k = 0;
    for (const char *end = p + n; (p = memchr(p, '\n', (size_t)(end - p))); p++)
        k++;
    return k;
}

/* A write of the alerts output failed with errno e: counted, logged (when
 * the failure begins, then every 30 s: canh_retry_next), and waited for. 1: give up
 * (the process is stopping and its stop_timeout has passed). */
static int out_failed(pipeline_t *pl, int e)
{
    outw_t *w = &pl->ow;
    int64_t now = canh_mono_ms();
    pthread_mutex_lock(&pl->out_mu);
    w->c.failed_writes++;
    w->c.error = e;
    int first = !w->fail_since;
    if (first)
        w->fail_since = now;
    uint64_t failed = w->c.failed_writes;
    pthread_mutex_unlock(&pl->out_mu);
    int64_t stop_at = atomic_load(&pl->stop_at);
    if (!stop_at && canh_stop_pending()) {
        canh_pipeline_stopping(pl);
        stop_at = atomic_load(&pl->stop_at);
    }
    int what = canh_retry_next(&w->retry, now, first, stop_at);
    if (what == CANH_RETRY_GIVE_UP) {
        if (!w->gave_up)
            CANH_ERR("%s: cannot write alerts (%s) and canh is stopping: giving up after "
                     "%.1f s; the alerts not written are counted", out_name(pl), strerror(e),
                     (double)(now - w->fail_since) / 1000.0);
        w->gave_up = 1;
        return 1;
    }
    if (what == CANH_RETRY_BEGAN) {
        CANH_ERR("%s: cannot write alerts: %s; writing is retried until it works, and "
                 "meanwhile the pipeline and the inputs wait (nothing is dropped)",
                 out_name(pl), strerror(e));
    } else if (what == CANH_RETRY_REMIND) {
        CANH_WARN("%s: still cannot write alerts (%s) after %.0f s, %llu failed writes; the "
                  "inputs wait", out_name(pl), strerror(e), (double)(now - w->fail_since) / 1000.0,
                  (unsigned long long)failed);
    }
    canh_retry_wait(&w->retry, now, stop_at);
    return 0;
}

/* The line begun in the output is cut off again (giving up on it): in the
 * file that has its start (the stream's own if no dup could be taken). */
static void out_cut_tail(pipeline_t *pl)
{
    outw_t *w = &pl->ow;
    FILE *f = pl->o.out;
    struct stat st;
    flockfile(f);
    int fd = w->tail_fd >= 0 ? w->tail_fd : fileno(f);
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || (size_t)st.st_size < w->tail ||
        ftruncate(fd, st.st_size - (off_t)w->tail) != 0)
        CANH_ERR("%s: the %zu bytes of an alert begun before the failure could not be cut off "
                 "again: the file ends with a partial line", out_name(pl), w->tail);
    funlockfile(f);
    if (w->tail_fd >= 0)
        close(w->tail_fd);
    w->tail_fd = -1;
    w->tail = 0;
}

/*
 * Writes one batch's alerts, p[0, len) (whole lines), to the alerts
 * output, from the first byte on, however long it takes (see the top of
 * pipeline.h). Each write(2) goes to the stream's descriptor under its
 * lock (a reopen swaps the descriptor under that lock), except that while
 * a line is begun and not finished, the rest of it goes to the file that
 * has its start (a dup taken under the same lock as the write that began
 * it). A stream without a descriptor (a memory stream) is written through
 * stdio.
 */
static void write_out(pipeline_t *pl, const char *p, size_t len)
{
    outw_t *w = &pl->ow;
    FILE *f = pl->o.out;
    size_t at = 0;
    while (at < len) {
        size_t end = len;
        flockfile(f);
        int fd = w->tail_fd >= 0 ? w->tail_fd : fileno(f);
        if (w->tail_fd >= 0) {   /* only the rest of that line, there */
            const char *nl = memchr(p + at, '\n', len - at);
            end = nl ? (size_t)(nl - p) + 1 : len;
        }
        ssize_t n;
        if (fd < 0) {   /* a stream without a descriptor (a memory stream): stdio */
            errno = 0;
            size_t k = fwrite_unlocked(p + at, 1, end - at, f);
            n = k ? (ssize_t)k : -1;
            if (!k && !errno)
                errno = ENOSPC;
            clearerr_unlocked(f);
        } else {
            n = write(fd, p + at, end - at);
        }
        int e = n < 0 ? errno : ENOSPC;   /* 0 bytes for more than 0: no room */
        if (n > 0 && fd >= 0) {
            const char *nl = memrchr(p + at, '\n', (size_t)n);
            w->tail = nl ? (size_t)(p + at + n - (nl + 1)) : w->tail + (size_t)n;
            if (!w->tail && w->tail_fd >= 0) {
                close(w->tail_fd);
                w->tail_fd = -1;
            } else if (w->tail && w->tail_fd < 0) {
                w->tail_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);   /* -1: goes on in the stream's */
            }
        }
        funlockfile(f);
        if (n > 0) {
            uint64_t k = count_lines(p + at, (size_t)n);
            at += (size_t)n;
            if (k) {
                pthread_mutex_lock(&pl->out_mu);
                w->c.written += k;
                pthread_mutex_unlock(&pl->out_mu);
            }
            continue;
        }
        if (n < 0 && e == EINTR)
            continue;
        if (n < 0 && (e == EAGAIN || e == EWOULDBLOCK)) {   /* a non-blocking pipe or tty */
            struct pollfd pf = { .fd = fd, .events = POLLOUT };
            poll(&pf, 1, WRITABLE_MS);
            continue;
        }
        if (out_failed(pl, e)) {   /* stopping, and out of time */
            uint64_t lost = count_lines(p + at, len - at);
            if (w->tail)
                out_cut_tail(pl);
            pthread_mutex_lock(&pl->out_mu);
            w->c.not_written += lost;
            pthread_mutex_unlock(&pl->out_mu);
            return;
        }
    }
    if (w->fail_since) {   /* it works again */
        int64_t now = canh_mono_ms();
        pthread_mutex_lock(&pl->out_mu);
        double s = (double)(now - w->fail_since) / 1000.0;
        w->c.blocked_s += s;
        uint64_t failed = w->c.failed_writes;
        int e = w->c.error;
        w->c.error = 0;
        w->fail_since = 0;
        pthread_mutex_unlock(&pl->out_mu);
        CANH_INFO("%s: writing again, after %.1f s of failed writes (%s; %llu so far)",
                  out_name(pl), s, strerror(e), (unsigned long long)failed);
    }
}

/* Hands a batch's alerts to the sink: one item per alert, keyed by the
 * host it names. */
static void sink_batch(pipeline_t *pl, batch_t *b)
{
    if (b->nhits > pl->items_cap) {
        canh_sink_item_t *v = realloc(pl->items, b->nhits * sizeof(*v));
        if (!v) {
            CANH_ERR("out of memory handing %zu alerts to the sink; they are not sent",
                     b->nhits);
            atomic_fetch_add(&pl->sink_failures, 1);
            return;
        }
        pl->items = v;
        pl->items_cap = b->nhits;
    }
    size_t n = 0;
    for (size_t i = 0; i < b->nhits; i++) {
        const hit_t *h = &b->hits[i];
        if (h->suppressed || h->json_off + h->json_len > b->alerts.len)   /* or out of memory */
            continue;
        pl->items[n++] = (canh_sink_item_t){ b->alerts.ptr + h->json_off, h->json_len,
                                             b->hostbuf.ptr + h->host_off, h->host_len };
    }
    if (pl->o.sink(pl->o.sink_ud, pl->items, n) != 0)
        atomic_fetch_add(&pl->sink_failures, 1);
}

/* Counts the batch's PCRE2 limit hits by rule; the first of each rule (by
 * id, for the whole run) is logged, the rest only counted. */
static void count_limits(pipeline_t *pl, batch_t *b)
{
    for (size_t i = 0; i < b->nlims; i++) {
        const lim_t *l = &b->lims[i];
        int first = 0;
        pthread_mutex_lock(&pl->agg_mu);
        canh_stats_pcre2_limit(&pl->agg, l->rule, l->events, &first);
        pthread_mutex_unlock(&pl->agg_mu);
        if (first) {
            char why[160];
            CANH_WARN("rule %s (%s): a regex of it hit %s on an event of %s; that event is "
                      "not matched by this rule (counted in the stats as pcre2_limit; "
                      "further ones are only counted)",
                      l->rule->id, l->rule->title, canh_pcre2_error_text(l->rc, why, sizeof(why)),
                      pl->names[b->input]);
        }
    }
}

static void write_batch(pipeline_t *pl, batch_t *b)
{
    const canh_pipeline_opts_t *o = &pl->o;
    if (o->out && b->alerts.len)
        write_out(pl, b->alerts.ptr, b->alerts.len);
    if (o->sink && b->nhits)
        sink_batch(pl, b);
    uint64_t first = pl->written_lines[b->input] + 1;
    for (uint32_t i = 0; i < b->nerr; i++)
        if (pl->shown[b->input]++ < (uint64_t)o->show_parse_errors)
            fprintf(stderr, "canh: %s:%llu: %s; kept whole as its message and scanned\n",
                    canh_esc(pl->names[b->input]), (unsigned long long)(first + b->errs[i].line),
                    b->errs[i].why);
    __atomic_store_n(&pl->written_lines[b->input], pl->written_lines[b->input] + b->n,
                     __ATOMIC_RELEASE);
    if (b->nhits) {
        pthread_mutex_lock(&pl->agg_mu);
        for (size_t i = 0; i < b->nhits; i++) {
            const hit_t *h = &b->hits[i];
            if (h->suppressed)
                canh_stats_suppressed(&pl->agg, h->rule);
            else
                canh_stats_alert(&pl->agg, h->rule, b->hostbuf.ptr + h->host_off, h->host_len);
        }
        pthread_mutex_unlock(&pl->agg_mu);
    }
    if (b->nlims)
        count_limits(pl, b);
    canh_pl_gen_put(pl, b->gen);
    b->gen = NULL;
}

/*
 * A worker has completed b. Batches are written in input order by whichever
 * worker completes the next one due: it writes that batch and every one
 * after it already completed, while workers that complete batches in the
 * meantime only leave them in `pending`. No thread waits for another here,
 * and no thread is woken for writing.
 */
void canh_pl_complete(pipeline_t *pl, batch_t *b)
{
    pthread_mutex_lock(&pl->done_mu);
    pl->pending[b->seq % pl->npool] = b;   /* at most npool in flight: the slot is free */
    if (pl->writing) {
        pthread_mutex_unlock(&pl->done_mu);
        return;   /* the writing worker will find it */
    }
    pl->writing = 1;
    while ((b = pl->pending[pl->next_write % pl->npool]) && b->seq == pl->next_write) {
        pl->pending[pl->next_write % pl->npool] = NULL;
        pl->next_write++;
        pthread_mutex_unlock(&pl->done_mu);
        write_batch(pl, b);
        __atomic_store_n(&pl->written_seq, b->seq + 1, __ATOMIC_RELEASE);
        canh_queue_push(&pl->free_q, b);
        pthread_mutex_lock(&pl->done_mu);
    }
    pl->writing = 0;   /* under done_mu: whoever completes the next one writes it */
    pthread_mutex_unlock(&pl->done_mu);
}

/* ---- feeding ------------------------------------------------------------ */

int canh_pl_submit(pipeline_t *pl)
{
    batch_t *b = pl->cur;
    pl->cur = NULL;
    if (!b)
        return 0;
    if (!b->n && !b->used && !b->packets) {
        canh_queue_push(&pl->free_q, b);
        return 0;
    }
    b->seq = pl->next_seq++;
    pl->sub_min_fed[b->seq % pl->npool] = b->min_fed;
    pl->sub_input[b->seq % pl->npool] = b->input;
    if (b->packets) {
        atomic_fetch_add(&pl->gen->refs, 1);   /* held until written, as a worked batch */
        b->gen = pl->gen;
        return canh_pl_submit_packets(pl, b);
    }
    return canh_queue_push(&pl->work_q, b);
}

static int release_all(pipeline_t *pl);

int canh_pipeline_flush(canh_pipeline_t *pl)
{
    int rc = release_all(pl);
    int rc2 = canh_pl_submit(pl);
    return rc != CANH_OK ? rc : rc2;
}

/* Room for `need` bytes of lines in b (it grows by doubling, and keeps it). */
static int batch_reserve(batch_t *b, size_t need)
{
    if (need <= b->cap)
        return CANH_OK;
    size_t cap = b->cap * 2 > need ? b->cap * 2 : need;
    char *d = realloc(b->data, cap);
    if (!d)
        return CANH_ENOMEM;
    b->data = d;
    b->cap = cap;
    return CANH_OK;
}

static uint64_t line_serial(const batch_t *b, uint32_t i)
{
    return canh_line_audit_serial(b->data + b->off[i], b->len[i]);
}

static int release(pipeline_t *pl, held_t *h);

int canh_pipeline_idle(canh_pipeline_t *pl)
{
    /* a group that got no record since the last tick goes on: its stream
     * has moved on or gone quiet */
    for (size_t i = 0; i < pl->nheld;) {
        held_t *h = &pl->held[i];
        if (h->fresh) {
            h->fresh = 0;
            i++;
        } else if (release(pl, h) == CANH_EINVAL)   /* moves the last slot into i */
            return CANH_EINVAL;
    }
    return canh_pl_submit(pl);
}

/* A free batch, however long it takes. While the feeding thread is held
 * up (one wait that lasts, or many short ones in a row), the caller's
 * `waiting` runs every WAITING_MS. NULL: the pipeline is closing. */
static batch_t *free_batch(pipeline_t *pl)
{
    if (!pl->o.waiting || canh_queue_depth(&pl->free_q))
        return canh_queue_pop(&pl->free_q);   /* no wait */
    int64_t now = canh_mono_ms();
    if (now - pl->waited_ms > WAITING_MS)   /* the first wait for a while */
        pl->waiting_due = now + WAITING_MS;
    for (;;) {
        int timed_out;
        batch_t *b = canh_queue_pop_wait(&pl->free_q, WAITING_MS, &timed_out);
        now = pl->waited_ms = canh_mono_ms();
        if (now >= pl->waiting_due) {
            pl->o.waiting(pl->o.waiting_ud);
            pl->waiting_due = now + WAITING_MS;
        }
        if (!timed_out)
            return b;
    }
}

/* A free batch (waiting for one: backpressure), empty, for input, made the
 * one being filled. raw: filled by feed_fd. NULL: the pipeline is closing. */
batch_t *canh_pl_begin_batch(pipeline_t *pl, uint32_t input, int raw)
{
    batch_t *b = pl->cur = free_batch(pl);
    if (!b)
        return NULL;
    b->input = input;
    b->raw = raw;
    b->packets = 0;
    b->n = 0;
    b->used = 0;
    b->min_fed = UINT64_MAX;
    b->norig = 0;
    b->base_off = 0;
    canh_buf_reset(&b->onames);
    return b;
}

/* The entry of b->orig for a line from o (NULL: not said): the last one
 * when it is the same origin, else a new one. */
static uint32_t batch_origin(batch_t *b, const canh_origin_t *o)
{
    int kind = o ? o->kind : CANH_ORIGIN_NONE;
    int has_name = o && o->name;
    size_t nlen = has_name ? o->name_len : 0;
    if (b->norig) {
        const borigin_t *g = &b->orig[b->norig - 1];
        if (g->kind == kind && g->has_name == has_name && g->name_len == nlen &&
            (!o || (g->ident[0] == o->ident[0] && g->ident[1] == o->ident[1])) &&
            (!nlen || memcmp(b->onames.ptr + g->name_off, o->name, nlen) == 0))
            return b->norig - 1;
    }
    borigin_t *g = &b->orig[b->norig];   /* at most one per line: room for batch_max */
    g->kind = kind;
    g->has_name = has_name;
    g->name_off = (uint32_t)b->onames.len;
    g->name_len = (uint32_t)nlen;
    g->ident[0] = o ? o->ident[0] : 0;
    g->ident[1] = o ? o->ident[1] : 0;
    if (nlen) {
        canh_buf_put(&b->onames, o->name, nlen);
        if (b->onames.oom) {   /* said without its name, then */
            b->onames.oom = 0;
            g->has_name = 0;
            g->name_len = 0;
        }
    }
    return b->norig++;
}

/* Line `fed` of the input (its fed count; a held group's lines all take
 * their first one's) from `o` (NULL: not said) into the batch being
 * filled. */
static int put_line(pipeline_t *pl, uint32_t input, const char *line, size_t len, uint64_t fed,
                    const canh_origin_t *o)
{
    uint64_t lineno = ++pl->lines[input];
    batch_t *b = pl->cur;
    if (b && b->input != input) {   /* a batch holds one input */
        if (canh_pl_submit(pl) != CANH_OK)
            return CANH_EINVAL;
        b = NULL;
    }
    if (b && b->n >= pl->batch_lines) {
        /* full: keep going only to finish an audit record group */
        uint64_t s = canh_line_audit_serial(line, len);
        if (!s || b->n >= pl->batch_max || s != line_serial(b, b->n - 1)) {
            if (canh_pl_submit(pl) != CANH_OK)
                return CANH_EINVAL;
            b = NULL;
        }
    }
    if (!b && !(b = canh_pl_begin_batch(pl, input, 0)))
        return CANH_EINVAL;
    if (batch_reserve(b, b->used + len) != CANH_OK) {
        fprintf(stderr, "canh: %s:%llu: out of memory holding a line of %zu bytes; "
                        "line skipped\n", canh_esc(pl->names[input]),
                (unsigned long long)lineno, len);
        pl->lines[input]--;   /* numbered lines are the lines that will be written */
        return CANH_ENOMEM;
    }
    memcpy(b->data + b->used, line, len);
    b->off[b->n] = b->used;
    b->len[b->n] = len;
    b->pos[b->n] = o ? o->pos : 0;
    b->src[b->n] = batch_origin(b, o);
    b->used += len;
    b->n++;
    if (fed < b->min_fed)
        b->min_fed = fed;
    return CANH_OK;
}

int canh_pipeline_line(canh_pipeline_t *pl, uint32_t input, const char *line, size_t len)
{
    if (input >= pl->ninputs)
        return CANH_EINVAL;
    return put_line(pl, input, line, len, ++pl->fed[input], NULL);
}

/* ---- audit groups held back per stream ------------------------------------ */

/* A slot is keyed by (input, stream): stream 0 is the input itself. */
static size_t held_home(uint32_t input, uintptr_t stream)
{
    uint64_t key = (uint64_t)stream ^ ((uint64_t)input << 48);
    return (size_t)((key * 0x9E3779B97F4A7C15ull) >> 53) & (HOLD_INDEX - 1);
}

/* Where the entry of (input, stream) is in the index, or where it would
 * go (empty). */
static size_t held_pos(const pipeline_t *pl, uint32_t input, uintptr_t stream)
{
    size_t i = held_home(input, stream);
    for (uint16_t at; (at = pl->held_index[i]); i = (i + 1) & (HOLD_INDEX - 1))
        if (pl->held[at - 1].stream == stream && pl->held[at - 1].input == input)
            break;
    return i;
}

/* Takes h's entry out of the index (backward-shift deletion, so that
 * every other entry stays reachable from its home). */
static void held_unindex(pipeline_t *pl, const held_t *h)
{
    size_t i = held_pos(pl, h->input, h->stream), j = i;
    if (!pl->held_index[i])
        return;
    for (;;) {
        j = (j + 1) & (HOLD_INDEX - 1);
        if (!pl->held_index[j])
            break;
        const held_t *e = &pl->held[pl->held_index[j] - 1];
        size_t k = held_home(e->input, e->stream);
        /* j's entry may move back to i unless its home lies in (i, j] */
        int stays = i <= j ? (i < k && k <= j) : (i < k || k <= j);
        if (!stays) {
            pl->held_index[i] = pl->held_index[j];
            i = j;
        }
    }
    pl->held_index[i] = 0;
}

/* Feeds a held group on as it came, and frees its slot (the last slot
 * moves into it). */
static int release(pipeline_t *pl, held_t *h)
{
    int rc = CANH_OK;
    const char *p = h->data.ptr;
    canh_origin_t o = h->origin;
    o.name = o.name ? h->oname.ptr : NULL;
    for (uint32_t i = 0; i < h->n; i++) {
        o.pos = h->pos[i];
        if (rc != CANH_EINVAL)
            rc = put_line(pl, h->input, p, h->len[i], h->first_fed, o.kind ? &o : NULL);
        p += h->len[i];
    }
    pl->held_lines[h->input] -= h->n;
    canh_buf_t keep = h->data;   /* the slot's memory stays with the slot, within reason */
    canh_buf_t keep_name = h->oname;
    if (keep.cap > HOLD_KEEP)
        canh_buf_free(&keep);
    held_unindex(pl, h);
    held_t *last = &pl->held[--pl->nheld];
    if (h != last) {   /* the last slot moves into h's */
        pl->held_index[held_pos(pl, last->input, last->stream)] = (uint16_t)(h - pl->held + 1);
        *h = *last;
        last->data = keep;
        last->oname = keep_name;
    } else {
        h->data = keep;
        h->oname = keep_name;
    }
    canh_buf_reset(&last->data);
    canh_buf_reset(&last->oname);
    last->n = 0;
    last->stream = 0;
    return rc == CANH_EINVAL ? CANH_EINVAL : CANH_OK;
}

static int release_all(pipeline_t *pl)
{
    int rc = CANH_OK;
    while (pl->nheld)
        if (release(pl, &pl->held[0]) == CANH_EINVAL)
            rc = CANH_EINVAL;
    return rc;
}

int canh_pipeline_line_from(canh_pipeline_t *pl, uint32_t input, uintptr_t stream,
                            const char *line, size_t len)
{
    return canh_pipeline_line_at(pl, input, stream, line, len, NULL);
}

/* Whether a held group's records came from o (all but pos). */
static int held_same_origin(const held_t *h, const canh_origin_t *o)
{
    if (!o || !h->origin.kind)
        return !o == !h->origin.kind;
    return h->origin.kind == o->kind && h->origin.ident[0] == o->ident[0] &&
           h->origin.ident[1] == o->ident[1] && !h->origin.name == !o->name &&
           (!o->name || (h->oname.len == o->name_len &&
                         memcmp(h->oname.ptr, o->name, o->name_len) == 0));
}

int canh_pipeline_line_at(canh_pipeline_t *pl, uint32_t input, uintptr_t stream,
                          const char *line, size_t len, const canh_origin_t *origin)
{
    if (input >= pl->ninputs)
        return canh_pipeline_line(pl, input, line, len);
    uint64_t fed = ++pl->fed[input];
    uint16_t at = pl->held_index[held_pos(pl, input, stream)];
    held_t *h = at ? &pl->held[at - 1] : NULL;
    uint64_t serial = canh_line_audit_serial(line, len);
    if (h && (h->serial != serial || h->n == HOLD_LINES ||
              !held_same_origin(h, origin))) {   /* the stream moved on */
        if (release(pl, h) == CANH_EINVAL)
            return CANH_EINVAL;
        h = NULL;
    }
    if (!serial)
        return put_line(pl, input, line, len, fed, origin);
    if (!h) {
        if (pl->nheld == HOLD_SLOTS && release(pl, &pl->held[0]) == CANH_EINVAL)
            return CANH_EINVAL;   /* every slot taken: one group goes on to make room */
        h = &pl->held[pl->nheld++];
        h->stream = stream;
        h->input = input;
        h->serial = serial;
        h->first_fed = fed;
        pl->held_index[held_pos(pl, input, stream)] = (uint16_t)pl->nheld;
        memset(&h->origin, 0, sizeof(h->origin));
        if (origin) {
            h->origin = *origin;
            canh_buf_reset(&h->oname);
            if (origin->name)
                canh_buf_put(&h->oname, origin->name, origin->name_len);
            if (h->oname.oom) {   /* kept without its name, then */
                h->oname.oom = 0;
                h->origin.name = NULL;
            }
        }
    }
    canh_buf_put(&h->data, line, len);
    if (h->data.oom) {   /* no room to hold it: the group goes on now, then this line */
        h->data.oom = 0;
        if (release(pl, h) == CANH_EINVAL)
            return CANH_EINVAL;
        return put_line(pl, input, line, len, fed, origin);
    }
    h->pos[h->n] = origin ? origin->pos : 0;
    h->len[h->n++] = (uint32_t)len;
    h->fresh = 1;
    pl->held_lines[input]++;
    return CANH_OK;
}

uint64_t canh_pipeline_held_lines(const canh_pipeline_t *pl, uint32_t input)
{
    return input < pl->ninputs ? pl->held_lines[input] : 0;
}

uint64_t canh_pipeline_fed_lines(const canh_pipeline_t *pl, uint32_t input)
{
    return input < pl->ninputs ? pl->fed[input] : 0;
}

/* A line is done once written; a line not done yet is held back, in the
 * batch being filled, or in a batch submitted and not yet written. */
uint64_t canh_pipeline_done_fed(const canh_pipeline_t *pl, uint32_t input)
{
    if (input >= pl->ninputs)
        return 0;
    uint64_t low = pl->fed[input] + 1;   /* the earliest line not done */
    if (pl->held_lines[input])
        for (size_t i = 0; i < pl->nheld; i++)
            if (pl->held[i].input == input && pl->held[i].first_fed < low)
                low = pl->held[i].first_fed;
    if (pl->cur && pl->cur->input == input && pl->cur->min_fed < low)
        low = pl->cur->min_fed;
    /* at most npool batches are out of the pool: their slots are distinct */
    for (uint64_t q = __atomic_load_n(&pl->written_seq, __ATOMIC_ACQUIRE); q < pl->next_seq; q++)
        if (pl->sub_input[q % pl->npool] == input && pl->sub_min_fed[q % pl->npool] < low)
            low = pl->sub_min_fed[q % pl->npool];
    return low - 1;
}

int canh_pipeline_add_input(canh_pipeline_t *pl, const char *name, const canh_parse_opts_t *po)
{
    if (pl->ninputs >= pl->o.max_inputs)
        return CANH_ENOMEM;
    size_t i = pl->ninputs;
    if (!(pl->names[i] = strdup(name ? name : "-")))
        return CANH_ENOMEM;
    pl->named[i] = 1;   /* canh_pipeline_scan's inputs are paths: it says so */
    if (po)
        pl->popts[i] = *po;
    pl->ninputs++;
    return (int)i;
}

/* ---- set-up ------------------------------------------------------------- */

static void pipeline_free(pipeline_t *pl)
{
    canh_pl_packets_free(pl);
    for (size_t i = 0; i < pl->npool; i++) {
        free(pl->pool[i].data);
        canh_buf_free(&pl->pool[i].alerts);
        canh_buf_free(&pl->pool[i].hostbuf);
        free(pl->pool[i].hits);
        free(pl->pool[i].off);
        free(pl->pool[i].len);
        free(pl->pool[i].pos);
        free(pl->pool[i].src);
        free(pl->pool[i].orig);
        canh_buf_free(&pl->pool[i].onames);
        free(pl->pool[i].errs);
        free(pl->pool[i].lims);
    }
    free(pl->pool);
    if (pl->w)
        for (int i = 0; i < pl->nw; i++) {
            canh_parser_free(pl->w[i].parser);
            canh_matcher_free(pl->w[i].matcher);
            canh_pl_gen_put(pl, pl->w[i].gen);
            canh_alert_fmt_free(&pl->w[i].fmt);
            canh_stats_free(&pl->w[i].stats);
            pthread_mutex_destroy(&pl->w[i].snap_mu);
        }
    free(pl->w);
    canh_pl_gen_put(pl, pl->gen);
    canh_stats_free(&pl->agg);
    pthread_mutex_destroy(&pl->agg_mu);
    pthread_mutex_destroy(&pl->gen_mu);
    free(pl->popts);
    if (pl->names)
        for (size_t i = 0; i < pl->ninputs; i++)
            free(pl->names[i]);
    free(pl->names);
    free(pl->named);
    free(pl->lines);
    free(pl->shown);
    free(pl->written_lines);
    free(pl->held_lines);
    free(pl->fed);
    free(pl->sub_min_fed);
    free(pl->sub_input);
    if (pl->held)
        for (size_t i = 0; i < HOLD_SLOTS; i++) {
            canh_buf_free(&pl->held[i].data);
            canh_buf_free(&pl->held[i].oname);
        }
    free(pl->held);
    free(pl->items);
    if (pl->ow.tail_fd >= 0)
        close(pl->ow.tail_fd);
    pthread_mutex_destroy(&pl->out_mu);
    canh_queue_destroy(&pl->free_q);
    canh_queue_destroy(&pl->work_q);
    free(pl->pending);
    pthread_mutex_destroy(&pl->done_mu);
    free(pl);
}

canh_pipeline_t *canh_pipeline_start(const canh_pipeline_opts_t *o, char *err, size_t errlen)
{
    pipeline_t *pl = calloc(1, sizeof(*pl));
    err[0] = '\0';
    if (!pl)
        goto nomem;
    pl->o = *o;
    pthread_mutex_init(&pl->agg_mu, NULL);
    pthread_mutex_init(&pl->gen_mu, NULL);
    pthread_mutex_init(&pl->done_mu, NULL);
    pthread_mutex_init(&pl->out_mu, NULL);
    pl->ow.tail_fd = -1;
    canh_stats_init(&pl->agg);
    if (canh_pipeline_set_rules(pl, o->rules, o->suppress, o->nids, o->rules_ud) != CANH_OK)
        goto nomem;
    if (!pl->o.max_inputs)
        pl->o.max_inputs = 1;
    int nw = pl->nw = o->workers > 0 ? o->workers : 1;
    size_t ni = pl->o.max_inputs;
    pl->npool = o->batches > 0 ? (size_t)o->batches : 4 * (size_t)nw + 4;
    pl->batch_lines = o->batch_lines > 0 ? (uint32_t)o->batch_lines : BATCH_LINES;
    pl->batch_max = pl->batch_lines + AUDIT_SLACK;
    pl->pool = calloc(pl->npool, sizeof(*pl->pool));
    pl->w = calloc((size_t)nw, sizeof(*pl->w));
    pl->popts = calloc(ni, sizeof(*pl->popts));
    pl->names = calloc(ni, sizeof(*pl->names));
    pl->named = calloc(ni, sizeof(*pl->named));
    pl->lines = calloc(ni, sizeof(*pl->lines));
    pl->shown = calloc(ni, sizeof(*pl->shown));
    pl->written_lines = calloc(ni, sizeof(*pl->written_lines));
    pl->held_lines = calloc(ni, sizeof(*pl->held_lines));
    pl->fed = calloc(ni, sizeof(*pl->fed));
    pl->sub_min_fed = calloc(pl->npool, sizeof(*pl->sub_min_fed));
    pl->sub_input = calloc(pl->npool, sizeof(*pl->sub_input));
    pl->held = calloc(HOLD_SLOTS, sizeof(*pl->held));
    if (!pl->pool || !pl->w || !pl->popts || !pl->names || !pl->named || !pl->lines || !pl->shown ||
        !pl->written_lines || !pl->held_lines || !pl->fed ||
        !pl->sub_min_fed || !pl->sub_input || !pl->held ||
        canh_queue_init(&pl->free_q, pl->npool) || canh_queue_init(&pl->work_q, pl->npool * (size_t)nw) ||
        !(pl->pending = calloc(pl->npool, sizeof(*pl->pending))))
        goto nomem;
    for (size_t i = 0; i < pl->npool; i++) {
        batch_t *b = &pl->pool[i];
        b->cap = BATCH_BYTES;
        b->off = malloc(pl->batch_max * sizeof(*b->off));
        b->len = malloc(pl->batch_max * sizeof(*b->len));
        b->pos = malloc(pl->batch_max * sizeof(*b->pos));
        b->src = malloc(pl->batch_max * sizeof(*b->src));
        b->orig = malloc(pl->batch_max * sizeof(*b->orig));
        canh_buf_init(&b->onames);
        b->errs_cap = pl->batch_max + 1;
        b->errs = malloc(b->errs_cap * sizeof(*b->errs));
        if (!(b->data = malloc(BATCH_BYTES)) || !b->off || !b->len || !b->errs || !b->pos ||
            !b->src || !b->orig)
            goto nomem;
        canh_buf_init(&pl->pool[i].alerts);
        canh_buf_init(&pl->pool[i].hostbuf);
        canh_queue_push(&pl->free_q, &pl->pool[i]);
    }
    /* the feeder, once out of batches, sleeps until half the pool is free
     * again and then fills them in one go: it is woken, and takes a core
     * from a worker, once per npool/2 batches instead of once per batch */
    canh_queue_set_wake(&pl->free_q, pl->npool / 2);
    for (int i = 0; i < nw; i++) {
        worker_t *w = &pl->w[i];
        w->pl = pl;
        w->cur_input = -1;
        pthread_mutex_init(&w->snap_mu, NULL);
        canh_alert_fmt_init(&w->fmt);
        w->parser = canh_parser_new(NULL);
        w->matcher = canh_matcher_new(o->rules, err, errlen);
        if (!w->parser || !w->matcher)
            goto nomem;
        w->gen = pl->gen;
        atomic_fetch_add(&w->gen->refs, 1);
        canh_stats_init(&w->stats);
    }
    for (; pl->started < nw; pl->started++)
        if (pthread_create(&pl->w[pl->started].th, NULL, worker_main, &pl->w[pl->started]) != 0)
            break;
    if (pl->started == 0) {
        snprintf(err, errlen, "cannot start worker threads: %s", strerror(errno));
        pipeline_free(pl);
        return NULL;
    }
    pl->feeder_cpu0 = canh_cpu_seconds(CLOCK_THREAD_CPUTIME_ID);
    return pl;

nomem:
    if (!err[0])
        snprintf(err, errlen, "out of memory starting the pipeline");
    if (pl) {
        pl->o.release = NULL;   /* the caller still owns the rules it gave */
        pipeline_free(pl);
    }
    return NULL;
}

void canh_pipeline_put_tables(canh_pipeline_t *pl, canh_buf_t *b)
{
    pthread_mutex_lock(&pl->agg_mu);
    canh_stats_put_tables(&pl->agg, b);
    pthread_mutex_unlock(&pl->agg_mu);
}

uint64_t canh_pipeline_input_lines(const canh_pipeline_t *pl, uint32_t input)
{
    return input < pl->ninputs ? pl->lines[input] : 0;
}

int canh_pipeline_drain(canh_pipeline_t *pl, int timeout_ms)
{
    canh_pipeline_flush(pl);
    int64_t start = canh_mono_ms(), told = start;
    while (canh_queue_depth(&pl->free_q) != pl->npool) {
        int64_t now = canh_mono_ms();
        if (timeout_ms >= 0 && now - start >= timeout_ms)
            return CANH_EAGAIN;
        if (now - told >= 10000) {
            CANH_WARN("still waiting for the pipeline to process %zu batches",
                      pl->npool - canh_queue_depth(&pl->free_q));
            told = now;
        }
        usleep(1000);
    }
    return CANH_OK;
}

uint64_t canh_pipeline_written_lines(canh_pipeline_t *pl, uint32_t input)
{
    return input < pl->ninputs ? __atomic_load_n(&pl->written_lines[input], __ATOMIC_ACQUIRE) : 0;
}

void canh_pipeline_counts(canh_pipeline_t *pl, canh_pipeline_counts_t *out)
{
    memset(out, 0, sizeof(*out));
    for (int i = 0; i < pl->started; i++) {
        worker_t *w = &pl->w[i];
        pthread_mutex_lock(&w->snap_mu);
        out->events += w->snap_events;
        out->parse_errors += w->snap_parse_errors;
        out->batches += w->snap_batches;
        pthread_mutex_unlock(&w->snap_mu);
    }
    pthread_mutex_lock(&pl->agg_mu);
    out->alerts = pl->agg.alerts;
    out->suppressed = pl->agg.suppressed;
    memcpy(out->by_level, pl->agg.by_level, sizeof(out->by_level));
    pthread_mutex_unlock(&pl->agg_mu);
    pthread_mutex_lock(&pl->gen_mu);
    out->rules_generation = pl->gen->number;
    out->rules = canh_ruleset_size(pl->gen->rs);
    pthread_mutex_unlock(&pl->gen_mu);
    out->matcher_failures = atomic_load(&pl->matcher_failures);
    for (int i = 0; i < pl->started; i++) {
        clockid_t cid;
        if (pthread_getcpuclockid(pl->w[i].th, &cid) == 0)
            out->cpu_workers += canh_cpu_seconds(cid);
    }
    out->queued = canh_queue_depth(&pl->work_q);
    out->free = canh_queue_depth(&pl->free_q);
    out->pool = pl->npool;
    pthread_mutex_lock(&pl->out_mu);
    out->out = pl->ow.c;
    if (pl->ow.fail_since)
        out->out.blocked_s += (double)(canh_mono_ms() - pl->ow.fail_since) / 1000.0;
    pthread_mutex_unlock(&pl->out_mu);
    out->sink_failures = atomic_load(&pl->sink_failures);
}

int canh_pipeline_finish(canh_pipeline_t *pl, canh_stats_t *stats)
{
    canh_pipeline_flush(pl);
    canh_queue_close(&pl->work_q);
    for (int i = 0; i < pl->started; i++)
        pthread_join(pl->w[i].th, NULL);

    int rc = canh_stats_merge(stats, &pl->agg);
    for (int i = 0; i < pl->nw; i++) {
        if (canh_stats_merge(stats, &pl->w[i].stats) != CANH_OK)
            rc = CANH_ENOMEM;
        stats->cpu_workers += pl->w[i].cpu_s;
    }
    stats->cpu_input += canh_cpu_seconds(CLOCK_THREAD_CPUTIME_ID) - pl->feeder_cpu0;
    if (pl->dec) {
        canh_stats_t ps = { 0 };
        canh_pipeline_packet_stats(pl, &ps);
        canh_stats_merge(stats, &ps);
    }
    for (size_t i = 0; i < pl->ninputs; i++) {
        stats->lines += pl->written_lines[i];
        if (pl->o.show_parse_errors > 0 && pl->shown[i] > (uint64_t)pl->o.show_parse_errors)
            fprintf(stderr, "canh: %s: %llu more parse errors not shown\n", canh_esc(pl->names[i]),
                    (unsigned long long)(pl->shown[i] - (uint64_t)pl->o.show_parse_errors));
    }
    const canh_output_counts_t *oc = &pl->ow.c;
    if (pl->o.out) {
        stats->has_output = 1;
        stats->alerts_written += oc->written;
        stats->alerts_not_written += oc->not_written;
        stats->write_failures += oc->failed_writes;
        stats->write_blocked_s += oc->blocked_s +
            (pl->ow.fail_since ? (double)(canh_mono_ms() - pl->ow.fail_since) / 1000.0 : 0);
    }
    if (oc->not_written) {
        CANH_ERR("%s: %llu alerts not written: it could not be written (%s) when canh "
                 "stopped", out_name(pl), (unsigned long long)oc->not_written,
                 strerror(oc->error));
        if (rc == CANH_OK)
            rc = CANH_EIO;
    }
    if (rc == CANH_OK && atomic_load(&pl->sink_failures))
        rc = CANH_EIO;
    pipeline_free(pl);
    return rc;
}

/* ---- canh scan ---------------------------------------------------------- */

/* Where to cut data[0, end), which ends with a complete line: before the
 * audit record group its last line belongs to, so that the group goes on
 * whole to the next batch; at `end` when there is none, or when the group
 * fills the batch or runs past AUDIT_SLACK lines. */
static size_t audit_cut(const char *data, size_t end)
{
    size_t start = end - 1;   /* data[end - 1] is the newline of the last line */
    uint64_t serial = 0;
    for (int k = 0; k <= AUDIT_SLACK; k++) {
        size_t s = start;
        while (s > 0 && data[s - 1] != '\n')
            s--;
        size_t len = start - s;
        if (len && data[s + len - 1] == '\r')
            len--;
        uint64_t ls = canh_line_audit_serial(data + s, len);
        if (!ls || (k && ls != serial))
            return k ? start + 1 : end;   /* after the line before the group */
        serial = ls;
        if (s == 0)
            return end;   /* the whole batch is one group */
        start = s - 1;
    }
    return end;
}

/*
 * Feeds a whole file to input `input` the fast way: each batch gets a chunk
 * of the file read straight into its buffer, cut after its last complete
 * line, and the worker splits it into lines (work_batch). The reading
 * thread thus copies each byte once (the kernel's copy from the page cache)
 * and does nothing per line; the incomplete last line goes on to the next
 * batch. A batch is never cut inside an audit record group: when its last
 * line belongs to one, the group goes on to the next batch too (a group
 * longer than AUDIT_SLACK lines may be cut, as in put_line). Lines are not
 * numbered here (canh_pipeline_input_lines); the workers count them.
 */
static int feed_fd(pipeline_t *pl, uint32_t input, int fd, const char *name,
                   const canh_origin_t *origin, uint64_t *bytes, char *err, size_t errlen)
{
    if (canh_pipeline_flush(pl) != CANH_OK)
        return CANH_EINVAL;
    canh_buf_t carry;   /* what goes on to the next batch */
    canh_buf_init(&carry);
    int rc = CANH_OK, eof = 0;
    while (!eof && rc == CANH_OK) {
        batch_t *b = canh_pl_begin_batch(pl, input, 1);
        if (!b) {
            rc = CANH_EINVAL;
            break;
        }
        batch_origin(b, origin);       /* its one origin: the file */
        b->base_off = *bytes - carry.len;   /* where data[0] is in it */
        size_t cut = 0;
        if (carry.len) {
            if (batch_reserve(b, carry.len + RAW_CHUNK) != CANH_OK)
                rc = CANH_ENOMEM;
            else {
                memcpy(b->data, carry.ptr, carry.len);
                b->used = carry.len;
            }
            canh_buf_reset(&carry);
        }
        while (rc == CANH_OK) {   /* read until a chunk's worth, or the end */
            size_t room = b->cap - b->used;
            size_t want = b->used < RAW_CHUNK && RAW_CHUNK - b->used < room ?
                          RAW_CHUNK - b->used : room;
            if (!want) {   /* no newline in the whole buffer: one long line */
                if (batch_reserve(b, b->cap * 2) != CANH_OK) {
                    snprintf(err, errlen, "out of memory: a line in '%s' is longer than "
                             "%zu bytes", name, b->cap);
                    rc = CANH_ENOMEM;
                    break;
                }
                continue;
            }
            ssize_t n = read(fd, b->data + b->used, want);
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0) {
                snprintf(err, errlen, "read error in '%s' after %llu bytes: %s", name,
                         (unsigned long long)*bytes, strerror(errno));
                rc = CANH_EIO;
                break;
            }
            if (n == 0) {
                eof = 1;
                cut = b->used;   /* a last line without newline is a line */
                break;
            }
            *bytes += (uint64_t)n;
            const char *nl = memrchr(b->data + b->used, '\n', (size_t)n);
            b->used += (size_t)n;
            if (nl)
                cut = (size_t)(nl - b->data) + 1;
            if (cut && b->used >= RAW_CHUNK)
                break;
        }
        /* on an error, the complete lines read go on; the rest is lost */
        if (rc == CANH_OK && !eof && cut)
            cut = audit_cut(b->data, cut);
        if (rc == CANH_OK && cut < b->used) {
            canh_buf_put(&carry, b->data + cut, b->used - cut);
            if (carry.oom)
                rc = CANH_ENOMEM;
        }
        b->used = cut;
        if (canh_pl_submit(pl) != CANH_OK)
            rc = CANH_EINVAL;
    }
    if (rc == CANH_ENOMEM && !err[0])
        snprintf(err, errlen, "out of memory reading '%s'", name);
    canh_buf_free(&carry);
    return rc;
}

/* Whether path is a capture file: its first bytes are a pcap or pcapng magic. */
static int is_capture(const char *path)
{
    if (!strcmp(path, "-"))
        return 0;
    uint8_t m[12];   /* a pcapng section header's byte-order magic is at 8 */
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;   /* canh_file_open says why */
    ssize_t n = read(fd, m, sizeof(m));
    close(fd);
    return n > 0 && canh_pcap_magic(m, (size_t)n);
}

int canh_pipeline_scan(const canh_scan_opts_t *o, canh_stats_t *stats, char *err, size_t errlen)
{
    canh_pipeline_opts_t po = { .rules = o->rules, .suppress = o->suppress,
                                .workers = o->workers, .out = o->out, .out_name = o->out_name,
                                .sink = o->sink, .sink_ud = o->sink_ud,
                                .show_parse_errors = o->show_parse_errors,
                                .max_inputs = o->npaths ? o->npaths : 1,
                                .matched = o->matched, .nids = o->nids,
                                .midstream = o->midstream };
    canh_pipeline_t *pl = canh_pipeline_start(&po, err, errlen);
    if (!pl)
        return CANH_ENOMEM;
    int failed = 0;
    for (size_t i = 0; i < o->npaths; i++) {
        const char *path = o->paths[i];
        canh_parse_opts_t popts = { .default_year = o->year, .extra_datasets = o->datasets,
                                    .tz = o->tz };
        struct stat st;
        if (strcmp(path, "-") != 0 && stat(path, &st) == 0)
            popts.reference_ms = (int64_t)st.st_mtime * 1000;
        int in = canh_pipeline_add_input(pl, strcmp(path, "-") ? path : "(stdin)", &popts);
        if (in < 0)
            break;
        pl->named[in] = 0;   /* a path, not an input of canh.yml */
        char ferr[512];
        uint64_t bytes = 0;
        stats->files++;
        ferr[0] = '\0';
        int fd, frc;
        if (is_capture(path)) {
            frc = canh_pipeline_pcap_file(pl, (uint32_t)in, path, &bytes, ferr, sizeof(ferr));
            stats->captures++;
        } else if ((frc = canh_file_open(path, &fd, ferr, sizeof(ferr))) == CANH_OK) {
            /* where its lines come from: the path, the file (device,
             * inode) and each line's byte offset (event_origin) */
            canh_origin_t origin = { .kind = CANH_ORIGIN_STDIN };
            struct stat fst;
            if (fd != STDIN_FILENO) {
                origin.kind = CANH_ORIGIN_FILE;
                origin.name = path;
                origin.name_len = strlen(path);
                if (fstat(fd, &fst) == 0) {
                    origin.ident[0] = (uint64_t)fst.st_dev;
                    origin.ident[1] = (uint64_t)fst.st_ino;
                }
            }
            frc = feed_fd(pl, (uint32_t)in, fd, pl->names[in], &origin, &bytes, ferr,
                          sizeof(ferr));
            if (fd != STDIN_FILENO)
                close(fd);
        }
        if (frc == CANH_EINVAL)
            break;   /* the pipeline is closing */
        stats->bytes += bytes;
        if (frc != CANH_OK) {
            fprintf(stderr, "canh: %s\n", canh_esc(ferr));
            stats->files_failed++;
            failed = 1;
        }
    }
    int rc = canh_pipeline_finish(pl, stats);
    return rc == CANH_OK && failed ? CANH_EIO : rc;
}
