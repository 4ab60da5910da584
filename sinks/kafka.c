/*
 * sinks/kafka.c -- the Kafka sink: spool first, then librdkafka (kafka.h).
 *
 * Threads. The pipeline worker writing a batch appends its alerts to the spool
 * and pokes the sender through an eventfd. The sender thread (sender_main)
 * owns the librdkafka producer's event side: it reads the spool in order,
 * produces, serves delivery reports (librdkafka's main queue signals a
 * second eventfd, so the sender sleeps in poll(2) on both), acknowledges
 * the spool as deliveries complete, and fsyncs the spool every
 * fsync_interval. Stats records are produced from the main thread
 * (rd_kafka_producev is thread-safe); their reports come to the sender.
 *
 * The window. At most WINDOW alerts are handed to librdkafka without a
 * report. They sit in a ring in spool order, each in flight, delivered or
 * failed. The delivered prefix of the ring is acknowledged to the spool
 * (which saves its head, so a restart does not send them again). After a
 * failure the window shrinks to PROBE alerts and grows by one with each
 * delivery (doubling every round trip, as TCP's slow start does): while no
 * broker is up the alerts wait in the spool, not by the ten thousand in
 * librdkafka's queue, whose memory the process would keep after the outage.
 *
 * Failures. librdkafka with idempotence retries by itself and keeps order
 * within a partition; a report with an error means it gave up (usually
 * message.timeout.ms passed with no broker). The first failure stops new
 * sends; once every alert in flight has reported, and after a backoff
 * (doubling, 0.5 s to 10 s), the spool is read again from its head: alerts
 * already delivered are skipped, failed ones are produced again in their
 * old order, then new ones follow. A failed report whose message Kafka may
 * still have written (status POSSIBLY_PERSISTED) is counted as a possible
 * duplicate when it is sent again. A full librdkafka queue and a fatal
 * producer error (the producer is then made anew) take the same path.
 *
 * A spool write that fails (a full disk ...) is retried by the writing
 * worker, which sleeps between tries (kafka.h); the failure's state
 * (spool_err, fail_since_ms, blocked_ms) is atomics, for the counts.
 */
#include "kafka.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "spool.h"
#include "../engine/kafka_conf.h"

#define WINDOW          32768     /* alerts in librdkafka without a report */
#define PROBE           256       /* ... after a failure, until deliveries succeed again */
#define BACKOFF_MIN_MS  500
#define BACKOFF_MAX_MS  10000
#define FULL_WAIT_MS    500       /* a write waiting for room looks again this often */

enum { E_INFLIGHT = 1, E_OK, E_FAILED };

typedef struct ent {
    uint64_t seq;
    uint8_t state;
    uint8_t maybe;          /* failed, but Kafka may have written it */
} ent_t;

struct canh_kafka_sink {
    canh_kafka_sink_opts_t o;
    char *brokers, *topic, *stats_topic, *spool_dir;   /* copies: the caller's may go */
    char **props;
    size_t nprops;
    rd_kafka_t *rk;
    rd_kafka_topic_t *rkt;      /* the alerts topic, named at start */
    pthread_mutex_t rk_mu;      /* rk as the stats producer sees it (remade on a fatal error) */
    canh_spool_t *spool;
    pthread_t th;
    int started;
    int efd_rk, efd_wake;
    atomic_int stopping;        /* the cap gives way */
    atomic_int quit;            /* close: finish deliveries, then leave */
    int64_t quit_deadline_ms;

    /* the sender's own */
    ent_t *ring;
    size_t head, count;
    size_t replay;          /* ring entries (from head) matched so far in a re-read; == count: none */
    size_t limit;           /* alerts in flight allowed now: PROBE .. WINDOW */
    int holding;            /* a failure: nothing new until every alert in flight reported */
    int fatal;              /* the producer hit a fatal error: make a new one */
    int64_t retry_at_ms;
    int backoff_ms;
    int64_t last_sync_ms;
    int64_t logged_ms[2];   /* rate limits: delivery failures, client errors */

    atomic_uint_fast64_t spooled, delivered, failed, retried, maybe_dup, in_flight;
    atomic_uint_fast64_t stats_ok, stats_fail, full_waits;
    uint64_t replayed_at_start;
    int64_t full_logged_ms;     /* the writing worker's */
    atomic_uint_fast64_t not_spooled, spool_failed;
    atomic_int spool_err;       /* errno of the failure going on; 0: none */
    atomic_int_fast64_t fail_since_ms, blocked_ms;
    canh_retry_t retry;         /* the writing worker's: tries and log lines of a failure */
    int64_t give_up_ms;         /* at a stop, when a failing spool gives up; 0: not yet */
    int gave_up;
    canh_spool_rec_t *recs;     /* the writing worker's: a batch's alerts as spool records */
    size_t recs_cap;
};

static char *dup_str(const char *s)
{
    return s ? strdup(s) : NULL;
}

/* ---- librdkafka callbacks (sender thread, inside rd_kafka_poll) ---- */

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    canh_kafka_sink_t *k = opaque;
    uintptr_t slot = (uintptr_t)m->_private;
    if (!slot) {    /* a stats record */
        atomic_fetch_add(m->err ? &k->stats_fail : &k->stats_ok, 1);
        return;
    }
    ent_t *e = &k->ring[slot - 1];
    atomic_fetch_sub(&k->in_flight, 1);
    if (!m->err) {
        e->state = E_OK;
        atomic_fetch_add(&k->delivered, 1);
        k->backoff_ms = BACKOFF_MIN_MS;
        if (k->limit < WINDOW)
            k->limit++;
        return;
    }
    e->state = E_FAILED;
    e->maybe = rd_kafka_message_status(m) == RD_KAFKA_MSG_STATUS_POSSIBLY_PERSISTED;
    atomic_fetch_add(&k->failed, 1);
    k->holding = 1;
    k->limit = PROBE;
    if (canh_kafka_log_due(&k->logged_ms[0])) {
        CANH_WARN("kafka: an alert was not delivered (%s); it stays in the spool and is "
                  "sent again (%llu failures so far)", rd_kafka_err2str(m->err),
                  (unsigned long long)atomic_load(&k->failed));
    }
}

static void on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    canh_kafka_sink_t *k = opaque;
    if (err == RD_KAFKA_RESP_ERR__FATAL) {
        char why[512];
        rd_kafka_fatal_error(rk, why, sizeof(why));
        CANH_ERR("kafka: fatal producer error (%s); making a new producer", why);
        k->fatal = 1;
        return;
    }
    if (canh_kafka_log_due(&k->logged_ms[1])) {
        CANH_WARN("kafka: %s (%s); alerts wait in the spool", reason,
                  rd_kafka_err2name((rd_kafka_resp_err_t)err));
    }
}

/* ---- the producer ---- */

/* Settings canh owns: a user may not change them. */
static const char *const owned[] = {
    "bootstrap.servers", "metadata.broker.list", "acks", "request.required.acks",
    "enable.idempotence", "message.timeout.ms", "delivery.timeout.ms",
    "queue.buffering.max.messages", "dr_msg_cb", "dr_cb", "enable.gapless.guarantee",
};

/* The producer's settings: the user's, then canh's own. NULL: err says why. */
static rd_kafka_conf_t *producer_conf(canh_kafka_sink_t *k, char *err, size_t errlen)
{
    char timeout[32], queue[32];
    snprintf(timeout, sizeof(timeout), "%lld", (long long)k->o.message_timeout_ms);
    snprintf(queue, sizeof(queue), "%d", WINDOW + 10000);
    const canh_kafka_setting_t own[] = {
        { "message.timeout.ms", NULL, timeout },
        { "queue.buffering.max.messages", NULL, queue },
        { "acks", NULL, "all" },
        { "enable.idempotence", NULL, "true" },
    };
    /* unless the user chose: a key's partition as Java clients compute it,
     * and alerts gathered 50 ms into fewer, larger requests (they come a
     * batch at a time; librdkafka's 5 ms made ten times as many requests) */
    static const canh_kafka_setting_t defaults[] = {
        { "partitioner", NULL, "murmur2_random" },
        { "linger.ms", "queue.buffering.max.ms", "50" },
    };
    canh_kafka_conf_spec_t spec = {
        .who = "", .brokers = k->brokers, .props = (const char *const *)k->props,
        .nprops = k->nprops, .owned = owned, .nowned = CANH_ARRAY_LEN(owned),
        .owned_why = "acks=all, idempotence, message.timeout.ms from message_timeout",
        .own = own, .nown = CANH_ARRAY_LEN(own),
        .defaults = defaults, .ndefaults = CANH_ARRAY_LEN(defaults),
    };
    return canh_kafka_conf_new(&spec, err, errlen);
}

static rd_kafka_t *make_producer(canh_kafka_sink_t *k, char *err, size_t errlen)
{
    rd_kafka_conf_t *c = producer_conf(k, err, errlen);
    if (!c)
        return NULL;
    rd_kafka_conf_set_opaque(c, k);
    rd_kafka_conf_set_dr_msg_cb(c, on_delivery);
    rd_kafka_conf_set_error_cb(c, on_error);
    rd_kafka_conf_set_log_cb(c, canh_kafka_log);
    char why[512];
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, why, sizeof(why));
    if (!rk) {
        rd_kafka_conf_destroy(c);
        snprintf(err, errlen, "cannot make the Kafka producer: %s", why);
        return NULL;
    }
    /* name the topic now: librdkafka fetches its metadata at once rather
     * than at its next periodic look-up, a second after the first alert */
    k->rkt = rd_kafka_topic_new(rk, k->topic, NULL);
    rd_kafka_queue_t *q = rd_kafka_queue_get_main(rk);
    rd_kafka_queue_io_event_enable(q, k->efd_rk, "\1\0\0\0\0\0\0\0", 8);
    rd_kafka_queue_destroy(q);
    return rk;
}

/* Gives every message back (their reports fail: holding) and serves the
 * reports, so nothing of the ring is left in librdkafka. */
static void purge_all(canh_kafka_sink_t *k)
{
    rd_kafka_purge(k->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    for (int i = 0; i < 100 && rd_kafka_outq_len(k->rk) > 0; i++)
        rd_kafka_poll(k->rk, 10);
    while (rd_kafka_poll(k->rk, 0) > 0)
        ;
}

/* ---- the sender ---- */

/* Acknowledges the delivered prefix of the ring. */
static void advance(canh_kafka_sink_t *k)
{
    uint64_t last = 0;
    int any = 0;
    while (k->count && k->ring[k->head].state == E_OK) {
        last = k->ring[k->head].seq;
        k->head = (k->head + 1) % WINDOW;
        k->count--;
        if (k->replay)
            k->replay--;
        any = 1;
    }
    if (any && canh_spool_ack(k->spool, last) != CANH_OK)
        CANH_WARN("kafka: cannot save the spool's head (alerts up to %llu may be sent again "
                  "after a restart)", (unsigned long long)last);
}

/* Hands one spool record to librdkafka as ring slot `slot`. */
static void produce(canh_kafka_sink_t *k, size_t slot, const canh_spool_rec_t *r)
{
    ent_t *e = &k->ring[slot];
    e->state = E_INFLIGHT;
    atomic_fetch_add(&k->in_flight, 1);
    rd_kafka_resp_err_t err = rd_kafka_producev(
        k->rk, RD_KAFKA_V_TOPIC(k->topic), RD_KAFKA_V_KEY(r->key, r->klen),
        RD_KAFKA_V_VALUE((void *)r->val, r->vlen), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_OPAQUE((void *)(uintptr_t)(slot + 1)), RD_KAFKA_V_END);
    if (err) {   /* not taken (queue full, too large ...): as a failed delivery */
        atomic_fetch_sub(&k->in_flight, 1);
        e->state = E_FAILED;
        k->holding = 1;
        if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL && canh_kafka_log_due(&k->logged_ms[0])) {
            CANH_WARN("kafka: an alert was refused by the client (%s); it stays in the spool",
                      rd_kafka_err2str(err));
        }
    }
}

/* Produces from the spool until the window is full, the spool has nothing
 * more, or something failed. */
static void fill(canh_kafka_sink_t *k)
{
    while (!k->holding) {
        if ((k->replay >= k->count && k->count == WINDOW) || atomic_load(&k->in_flight) >= k->limit)
            break;
        canh_spool_rec_t r;
        int rc = canh_spool_next(k->spool, &r);
        if (rc <= 0) {
            if (rc < 0)
                CANH_WARN("kafka: cannot read the spool: %s", strerror(errno));
            break;
        }
        if (k->replay < k->count) {   /* re-reading after a failure */
            ent_t *e = NULL;
            while (k->replay < k->count) {
                ent_t *c = &k->ring[(k->head + k->replay) % WINDOW];
                if (c->seq > r.seq)
                    break;
                k->replay++;
                if (c->seq == r.seq) {
                    e = c;
                    break;
                }
                c->state = E_OK;   /* gone from the spool (damaged): nothing to send */
            }
            if (!e || e->state == E_OK)
                continue;
            atomic_fetch_add(&k->retried, 1);
            if (e->maybe)
                atomic_fetch_add(&k->maybe_dup, 1);
            e->maybe = 0;
            produce(k, (size_t)(e - k->ring), &r);
            continue;
        }
        size_t slot = (k->head + k->count) % WINDOW;
        k->ring[slot] = (ent_t){ .seq = r.seq };
        k->count++;
        k->replay = k->count;
        produce(k, slot, &r);
    }
}

static void drain_efd(int fd)
{
    uint64_t v;
    while (read(fd, &v, sizeof(v)) == sizeof(v))
        ;
}

static uint64_t spool_waiting(canh_kafka_sink_t *k)
{
    canh_spool_counts_t c;
    canh_spool_counts(k->spool, &c);
    return c.waiting;
}

static void *sender_main(void *arg)
{
    canh_kafka_sink_t *k = arg;
    k->last_sync_ms = canh_mono_ms();
    for (;;) {
        while (rd_kafka_poll(k->rk, 0) > 0)
            ;
        if (k->fatal) {
            purge_all(k);
            pthread_mutex_lock(&k->rk_mu);
            if (k->rkt)
                rd_kafka_topic_destroy(k->rkt);
            rd_kafka_destroy(k->rk);
            char err[512];
            while (!(k->rk = make_producer(k, err, sizeof(err)))) {
                CANH_ERR("kafka: %s; trying again in 1 s", err);
                sleep(1);
            }
            pthread_mutex_unlock(&k->rk_mu);
            k->fatal = 0;
        }
        advance(k);
        int64_t now = canh_mono_ms();
        if (k->holding && atomic_load(&k->in_flight) == 0) {
            if (!k->retry_at_ms) {
                k->retry_at_ms = now + k->backoff_ms;
            } else if (now >= k->retry_at_ms) {
                canh_spool_rewind(k->spool);
                k->replay = 0;
                k->holding = 0;
                k->retry_at_ms = 0;
                k->backoff_ms = k->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS
                                                                   : k->backoff_ms * 2;
            }
        }
        fill(k);
        if (now - k->last_sync_ms >= k->o.fsync_interval_ms) {
            canh_spool_sync(k->spool);
            k->last_sync_ms = now;
        }
        if (atomic_load(&k->quit)) {
            if ((!k->count && !spool_waiting(k)) || now >= k->quit_deadline_ms)
                break;
        }
        int timeout = (int)k->o.fsync_interval_ms;
        if (k->retry_at_ms)
            timeout = (int)(k->retry_at_ms - now) < timeout ? (int)(k->retry_at_ms - now) : timeout;
        if (atomic_load(&k->quit))
            timeout = timeout > 100 ? 100 : timeout;
        if (timeout < 0)
            timeout = 0;
        struct pollfd p[2] = { { .fd = k->efd_rk, .events = POLLIN },
                               { .fd = k->efd_wake, .events = POLLIN } };
        if (poll(p, 2, timeout) > 0) {
            drain_efd(k->efd_rk);
            drain_efd(k->efd_wake);
        }
    }
    return NULL;
}

/* ---- the API ---- */

static void sink_free(canh_kafka_sink_t *k)
{
    if (k->rkt)
        rd_kafka_topic_destroy(k->rkt);
    if (k->rk)
        rd_kafka_destroy(k->rk);
    canh_spool_close(k->spool);
    if (k->efd_rk >= 0)
        close(k->efd_rk);
    if (k->efd_wake >= 0)
        close(k->efd_wake);
    for (size_t i = 0; i < k->nprops; i++)
        free(k->props[i]);
    free(k->props);
    free(k->brokers);
    free(k->topic);
    free(k->stats_topic);
    free(k->spool_dir);
    free(k->recs);
    free(k->ring);
    pthread_mutex_destroy(&k->rk_mu);
    free(k);
}

int canh_kafka_sink_open(canh_kafka_sink_t **out, const canh_kafka_sink_opts_t *o,
                         char *err, size_t errlen)
{
    *out = NULL;
    canh_kafka_sink_t *k = calloc(1, sizeof(*k));
    if (!k) {
        snprintf(err, errlen, "out of memory");
        return CANH_ENOMEM;
    }
    k->o = *o;
    pthread_mutex_init(&k->rk_mu, NULL);
    k->efd_rk = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    k->efd_wake = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    k->brokers = dup_str(o->brokers);
    k->topic = dup_str(o->topic);
    k->stats_topic = dup_str(o->stats_topic);
    k->spool_dir = dup_str(o->spool_dir);
    k->props = calloc(o->nprops + 1, sizeof(char *));
    k->ring = calloc(WINDOW, sizeof(ent_t));
    k->limit = PROBE;   /* grows as deliveries succeed */
    k->backoff_ms = BACKOFF_MIN_MS;
    if (k->o.fsync_interval_ms <= 0)
        k->o.fsync_interval_ms = 1000;
    int oom = !k->brokers || !k->topic || (o->stats_topic && !k->stats_topic) || !k->props ||
              !k->ring || !k->spool_dir;
    for (size_t i = 0; !oom && i < o->nprops; i++)
        oom = !(k->props[k->nprops++] = strdup(o->props[i]));
    if (oom || k->efd_rk < 0 || k->efd_wake < 0) {
        snprintf(err, errlen, oom ? "out of memory" : "eventfd: %s", strerror(errno));
        sink_free(k);
        return oom ? CANH_ENOMEM : CANH_EIO;
    }
    canh_spool_opts_t so = { .dir = k->spool_dir, .max_bytes = o->spool_max_bytes };
    int rc = canh_spool_open(&k->spool, &so, err, errlen);
    if (rc != CANH_OK) {
        sink_free(k);
        return rc;
    }
    canh_spool_counts_t sc;
    canh_spool_counts(k->spool, &sc);
    k->replayed_at_start = sc.waiting;
    if (sc.waiting)
        CANH_INFO("kafka: %llu alerts left in the spool by an earlier run go first",
                  (unsigned long long)sc.waiting);
    if (!(k->rk = make_producer(k, err, errlen))) {
        sink_free(k);
        return CANH_EINVAL;
    }
    if (pthread_create(&k->th, NULL, sender_main, k) != 0) {
        snprintf(err, errlen, "cannot start the Kafka sender thread");
        sink_free(k);
        return CANH_ENOMEM;
    }
    k->started = 1;
    *out = k;
    return CANH_OK;
}

int canh_kafka_sink_check(const canh_kafka_sink_opts_t *o, char *err, size_t errlen)
{
    canh_kafka_sink_t k = { .o = *o, .brokers = (char *)o->brokers,
                            .props = (char **)o->props, .nprops = o->nprops };
    rd_kafka_conf_t *c = producer_conf(&k, err, errlen);
    if (!c)
        return CANH_EINVAL;
    rd_kafka_conf_destroy(c);
    return CANH_OK;
}

/*
 * A spool write failed with errno e (`left` alerts of the batch are not
 * spooled yet): counted, logged (when the failure begins, then every
 * 30 s: canh_retry_next), and waited for. 1: give up (the process is stopping and
 * stop_timeout has passed). The daemon reads signals on its input thread,
 * which is itself waiting for the pipeline: so a SIGTERM or SIGINT pending
 * counts as a stop here (canh_stop_pending), as for the spool's cap.
 */
static int spool_failed(canh_kafka_sink_t *k, int e, size_t left)
{
    int64_t now = canh_mono_ms();
    atomic_fetch_add(&k->spool_failed, 1);
    int first = atomic_load(&k->spool_err) == 0;
    if (first)   /* before the error: a reader seeing it finds its start */
        atomic_store(&k->fail_since_ms, now);
    atomic_store(&k->spool_err, e ? e : EIO);
    int64_t since = atomic_load(&k->fail_since_ms);
    if (!k->give_up_ms && (atomic_load(&k->stopping) || canh_stop_pending()))
        k->give_up_ms = now + k->o.stop_timeout_ms;
    int what = canh_retry_next(&k->retry, now, first, k->give_up_ms);
    if (what == CANH_RETRY_GIVE_UP) {
        if (!k->gave_up)
            CANH_ERR("kafka: cannot write to the spool in '%s' (%s) and canh is stopping: "
                     "giving up after %.1f s; the alerts not spooled are counted", k->spool_dir,
                     strerror(e), (double)(now - since) / 1000.0);
        k->gave_up = 1;
        return 1;
    }
    if (what == CANH_RETRY_BEGAN) {
        CANH_ERR("kafka: cannot write %zu alerts to the spool in '%s': %s; writing is retried "
                 "until it works, and meanwhile the pipeline and the inputs wait (nothing is "
                 "dropped)", left, k->spool_dir, strerror(e));
    } else if (what == CANH_RETRY_REMIND) {
        CANH_WARN("kafka: still cannot write to the spool in '%s' (%s) after %.0f s, %llu "
                  "failed writes; the inputs wait", k->spool_dir, strerror(e),
                  (double)(now - since) / 1000.0,
                  (unsigned long long)atomic_load(&k->spool_failed));
    }
    canh_retry_wait(&k->retry, now, k->give_up_ms);
    return 0;
}

int canh_kafka_sink_write(void *sink, const canh_sink_item_t *items, size_t n)
{
    canh_kafka_sink_t *k = sink;
    if (n > k->recs_cap) {
        canh_spool_rec_t *v = realloc(k->recs, n * sizeof(*v));
        if (!v) {
            CANH_ERR("kafka: out of memory spooling %zu alerts", n);
            return -1;
        }
        k->recs = v;
        k->recs_cap = n;
    }
    for (size_t i = 0; i < n; i++)
        k->recs[i] = (canh_spool_rec_t){ .key = items[i].key, .klen = items[i].klen,
                                         .val = items[i].json, .vlen = items[i].len };
    /* the batch's alerts in a few writev calls; when the spool is full,
     * wait for deliveries to make room, and when a write fails, for it to
     * work again; go on from the first alert left */
    int rc = CANH_OK, gave_up = 0;
    size_t at = 0;
    while (at < n) {
        size_t done = 0;
        rc = canh_spool_append_many(k->spool, k->recs + at, n - at,
                                    atomic_load(&k->stopping) || canh_stop_pending(), &done, NULL);
        int e = rc == CANH_ENOMEM ? ENOMEM : errno;
        at += done;
        atomic_fetch_add(&k->spooled, done);
        if (rc == CANH_OK)
            break;
        if (rc == CANH_EINVAL) {   /* this one can never be a spool record */
            CANH_ERR("kafka: an alert of %zu bytes (key %zu) is too large for the spool; "
                     "it is not sent", items[at].len, items[at].klen);
            atomic_fetch_add(&k->not_spooled, 1);
            gave_up = 1;
            at++;
            continue;
        }
        if (rc != CANH_EAGAIN) {   /* a failed write: the spool cut off what it left */
            if (spool_failed(k, e, n - at)) {
                atomic_fetch_add(&k->not_spooled, n - at);
                gave_up = 1;
                break;
            }
            continue;
        }
        /* full: the pipeline waits too */
        atomic_fetch_add(&k->full_waits, 1);
        if (canh_kafka_log_due(&k->full_logged_ms)) {
            CANH_WARN("kafka: the spool is full (%llu bytes): inputs wait until Kafka "
                      "takes alerts again", (unsigned long long)k->o.spool_max_bytes);
        }
        uint64_t one = 1;
        if (write(k->efd_wake, &one, sizeof(one)) < 0) {
            /* the sender looks anyway within fsync_interval */
        }
        canh_spool_wait_space(k->spool, items[at].len + items[at].klen + 64, FULL_WAIT_MS);
    }
    int e = atomic_load(&k->spool_err);
    if (e && rc == CANH_OK) {   /* it works again */
        int64_t s = canh_mono_ms() - atomic_load(&k->fail_since_ms);
        atomic_store(&k->spool_err, 0);
        atomic_fetch_add(&k->blocked_ms, s);
        CANH_INFO("kafka: the spool in '%s' is writing again, after %.1f s of failed writes "
                  "(%s; %llu so far)", k->spool_dir, (double)s / 1000.0, strerror(e),
                  (unsigned long long)atomic_load(&k->spool_failed));
    }
    uint64_t one = 1;
    if (n && write(k->efd_wake, &one, sizeof(one)) < 0) {
        /* as above */
    }
    return gave_up ? -1 : 0;
}

void canh_kafka_sink_stopping(canh_kafka_sink_t *k)
{
    if (k)
        atomic_store(&k->stopping, 1);
}

void canh_kafka_sink_stats(canh_kafka_sink_t *k, const char *json, size_t len)
{
    if (!k || !k->stats_topic)
        return;
    pthread_mutex_lock(&k->rk_mu);
    rd_kafka_resp_err_t err = rd_kafka_producev(
        k->rk, RD_KAFKA_V_TOPIC(k->stats_topic), RD_KAFKA_V_VALUE((void *)json, len),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_OPAQUE(NULL), RD_KAFKA_V_END);
    pthread_mutex_unlock(&k->rk_mu);
    if (err)
        atomic_fetch_add(&k->stats_fail, 1);
}

int canh_kafka_sink_sync(canh_kafka_sink_t *k)
{
    return k ? canh_spool_sync(k->spool) : CANH_OK;
}

void canh_kafka_sink_counts(canh_kafka_sink_t *k, canh_kafka_counts_t *out)
{
    memset(out, 0, sizeof(*out));
    if (!k)
        return;
    canh_spool_counts_t sc;
    canh_spool_counts(k->spool, &sc);
    *out = (canh_kafka_counts_t){
        .spooled = atomic_load(&k->spooled), .delivered = atomic_load(&k->delivered),
        .failed = atomic_load(&k->failed), .retried = atomic_load(&k->retried),
        .possibly_duplicated = atomic_load(&k->maybe_dup),
        .replayed_at_start = k->replayed_at_start, .waiting = sc.waiting,
        .in_flight = atomic_load(&k->in_flight), .spool_bytes = sc.bytes,
        .spool_corrupt = sc.corrupt, .spool_full_waits = atomic_load(&k->full_waits),
        .not_spooled = atomic_load(&k->not_spooled),
        .spool_failed_writes = atomic_load(&k->spool_failed),
        .spool_error = atomic_load(&k->spool_err),
        .stats_delivered = atomic_load(&k->stats_ok), .stats_failed = atomic_load(&k->stats_fail),
    };
    int64_t blocked = atomic_load(&k->blocked_ms);
    if (out->spool_error)
        blocked += canh_mono_ms() - atomic_load(&k->fail_since_ms);
    out->spool_blocked_s = (double)blocked / 1000.0;
}

uint64_t canh_kafka_sink_close(canh_kafka_sink_t *k, canh_kafka_counts_t *final)
{
    if (!k)
        return 0;
    k->quit_deadline_ms = canh_mono_ms() + k->o.stop_timeout_ms;
    atomic_store(&k->quit, 1);
    uint64_t one = 1;
    if (write(k->efd_wake, &one, sizeof(one)) < 0) {
        /* the sender looks every 100 ms once quitting */
    }
    if (k->started)
        pthread_join(k->th, NULL);
    /* stats records still queued get their chance within the same bound */
    rd_kafka_flush(k->rk, 1000);
    purge_all(k);
    canh_spool_sync(k->spool);
    if (final)
        canh_kafka_sink_counts(k, final);
    uint64_t left = spool_waiting(k), lost = atomic_load(&k->not_spooled);
    if (lost)
        CANH_ERR("kafka: %llu alerts not spooled, so not sent (see the errors above)",
                 (unsigned long long)lost);
    if (left)
        CANH_WARN("kafka: %llu alerts not delivered yet stay in the spool '%s' and go first "
                  "at the next start", (unsigned long long)left, k->spool_dir);
    sink_free(k);
    return left;
}
