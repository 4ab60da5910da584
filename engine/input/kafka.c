/*
 * engine/input/kafka.c -- the Kafka input (kafka.h): a consumer-group
 * member whose messages are lines for the pipeline.
 *
 * Offsets. Every message fed is remembered as (line number within this
 * input, topic, partition, offset) in a FIFO; consecutive messages of one
 * partition share an entry. A commit round pops the entries up to the
 * written hook's N (the first N messages fed are all written; a message
 * held back with its audit event keeps N below it), raises each partition's "done" offset to the message after them, makes
 * the written alerts durable (the sync hook fsyncs the spool), and commits
 * the done offsets. Auto-commit and auto offset store are off: librdkafka
 * never commits on its own.
 *
 * Rebalances (served inside rd_kafka_consumer_poll). On a revocation
 * everything fed so far is drained through the pipeline (the drain hook),
 * committed synchronously, and only then are the partitions given up; so a
 * partition's new owner starts exactly after what this member processed.
 * Eager and cooperative assignment protocols are both handled.
 *
 * A commit can fail, at a revocation too: the group may already be
 * rebalancing (an eager rebalance on a broker that refuses commits until
 * every member rejoins, as librdkafka's mock does), the assignment may be
 * lost (generation changed, session timed out). Every commit's answer is
 * looked at, partition by partition (commit_done). Each partition held
 * remembers the first offset its next owner would read (the last one
 * committed, or where reading started) and the last offset fed; so when a
 * partition is given up with processed messages beyond its committed
 * offset, that range is logged (partition and offsets) and counted as
 * possibly duplicated: the next owner (another member, or this one after
 * an eager rebalance) reads it again, and its alerts come out twice, with
 * the same event.id. No retry here: librdkafka itself retries what can
 * pass (coordinator moving or loading, timeouts, a dropped connection),
 * and what it gives up on (rebalance in progress, unknown member, illegal
 * generation) fails again for as long as this member holds the
 * partitions (the mock's group waits for this member to rejoin, which it
 * does only after the revocation).
 *
 * Thread: the daemon's input thread only (librdkafka's own threads fetch;
 * its callbacks run inside our poll calls).
 */
#include "kafka.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "../kafka_conf.h"

typedef struct pend {
    uint64_t line;          /* the last line of this run of messages */
    int64_t offset;         /* its offset */
    int32_t partition;
    uint32_t topic;         /* index into topics */
} pend_t;

/* A partition held: what its next owner would read again. */
typedef struct part {
    uint32_t topic;
    int32_t partition;
    int64_t acked;          /* offset the next owner starts at: the last committed (or
                             * where reading started) */
    int64_t fed;            /* the last offset fed */
} part_t;

struct canh_kafka_in {
    rd_kafka_t *rk;
    rd_kafka_queue_t *q;
    int efd;
    canh_kafka_in_hooks_t h;
    char *name;
    uint64_t fed;               /* lines fed */
    pend_t *pend;               /* ring */
    size_t phead, pcount, pcap;
    char **topics;              /* names seen, for pend_t.topic */
    size_t ntopics;
    const void *last_rkt;
    uint32_t last_topic;
    rd_kafka_topic_partition_list_t *done;   /* offset to commit per partition */
    int dirty;                  /* done has moved since the last commit */
    part_t *parts;              /* partitions fed from since they were assigned */
    size_t nparts, partscap, last_part;
    int closing;
    rd_kafka_resp_err_t last_commit_err;   /* of the last commit answered */
    uint64_t final_written;
    int64_t logged_ms;
    canh_kafka_in_counts_t n;
};

static uint32_t topic_index(canh_kafka_in_t *k, const rd_kafka_message_t *m)
{
    if (m->rkt == k->last_rkt)
        return k->last_topic;
    const char *t = rd_kafka_topic_name(m->rkt);
    uint32_t i = 0;
    while (i < k->ntopics && strcmp(k->topics[i], t))
        i++;
    if (i == k->ntopics) {
        char **v = realloc(k->topics, (k->ntopics + 1) * sizeof(*v));
        char *c = strdup(t);
        if (!v || !c) {
            free(c);
            if (v)
                k->topics = v;
            return UINT32_MAX;
        }
        k->topics = v;
        k->topics[k->ntopics++] = c;
    }
    k->last_rkt = m->rkt;
    k->last_topic = i;
    return i;
}

static int pend_push(canh_kafka_in_t *k, uint64_t line, uint32_t topic, int32_t part,
                     int64_t off)
{
    if (k->pcount) {
        pend_t *last = &k->pend[(k->phead + k->pcount - 1) % k->pcap];
        if (last->topic == topic && last->partition == part) {
            last->line = line;
            last->offset = off;
            return 0;
        }
    }
    if (k->pcount == k->pcap) {
        size_t cap = k->pcap ? k->pcap * 2 : 1024;
        pend_t *v = malloc(cap * sizeof(*v));
        if (!v)
            return -1;
        for (size_t i = 0; i < k->pcount; i++)
            v[i] = k->pend[(k->phead + i) % k->pcap];
        free(k->pend);
        k->pend = v;
        k->pcap = cap;
        k->phead = 0;
    }
    k->pend[(k->phead + k->pcount++) % k->pcap] = (pend_t){ line, off, part, topic };
    return 0;
}

/* The partition's entry, or NULL (add: a new one, acked = fed = off). */
static part_t *part_find(canh_kafka_in_t *k, uint32_t topic, int32_t partition, int add,
                         int64_t off)
{
    if (k->last_part < k->nparts && k->parts[k->last_part].topic == topic &&
        k->parts[k->last_part].partition == partition)
        return &k->parts[k->last_part];
    for (size_t i = 0; i < k->nparts; i++)
        if (k->parts[i].topic == topic && k->parts[i].partition == partition)
            return &k->parts[k->last_part = i];
    if (!add)
        return NULL;
    if (k->nparts == k->partscap) {
        size_t cap = k->partscap ? k->partscap * 2 : 16;
        part_t *v = realloc(k->parts, cap * sizeof(*v));
        if (!v)
            return NULL;
        k->parts = v;
        k->partscap = cap;
    }
    k->parts[k->nparts] = (part_t){ topic, partition, off, off };
    return &k->parts[k->last_part = k->nparts++];
}

static uint32_t topic_find(const canh_kafka_in_t *k, const char *t)
{
    for (uint32_t i = 0; i < k->ntopics; i++)
        if (!strcmp(k->topics[i], t))
            return i;
    return UINT32_MAX;
}

/* Forgets a partition given up: its entry, and its messages still waiting
 * to be collected (their offsets are no longer this member's to commit). */
static void part_forget(canh_kafka_in_t *k, uint32_t topic, int32_t partition)
{
    part_t *p = part_find(k, topic, partition, 0, 0);
    if (p) {
        *p = k->parts[--k->nparts];
        k->last_part = 0;
    }
    size_t keep = 0;
    for (size_t i = 0; i < k->pcount; i++) {
        pend_t e = k->pend[(k->phead + i) % k->pcap];
        if (e.topic == topic && e.partition == partition) {
            /* the next entry takes over its lines */
            continue;
        }
        k->pend[(k->phead + keep++) % k->pcap] = e;
    }
    k->pcount = keep;
}

/* Moves the done offsets past every message whose line is written. */
static void collect(canh_kafka_in_t *k, uint64_t written)
{
    while (k->pcount) {
        pend_t *p = &k->pend[k->phead];
        if (p->line > written)
            break;
        const char *t = k->topics[p->topic];
        rd_kafka_topic_partition_t *tp = rd_kafka_topic_partition_list_find(k->done, t,
                                                                            p->partition);
        if (!tp)
            tp = rd_kafka_topic_partition_list_add(k->done, t, p->partition);
        tp->offset = p->offset + 1;
        k->dirty = 1;
        k->phead = (k->phead + 1) % k->pcap;
        k->pcount--;
    }
}

/*
 * The answer to one commit (served by rd_kafka_commit_queue for a
 * synchronous one, by our poll for an asynchronous one): each partition
 * committed moves its acked offset on; a failure is counted and the done
 * offsets are committed again in the next round.
 */
static void commit_done(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                        rd_kafka_topic_partition_list_t *offsets, void *opaque)
{
    canh_kafka_in_t *k = opaque;
    int failed = err && err != RD_KAFKA_RESP_ERR__NO_OFFSET;
    for (int i = 0; !failed && offsets && i < offsets->cnt; i++) {
        rd_kafka_topic_partition_t *tp = &offsets->elems[i];
        uint32_t t = topic_find(k, tp->topic);
        part_t *p = t == UINT32_MAX ? NULL : part_find(k, t, tp->partition, 0, 0);
        if (tp->err) {
            err = tp->err;   /* the others may still have been committed */
            continue;
        }
        if (p && tp->offset > p->acked)
            p->acked = tp->offset;
    }
    failed = err && err != RD_KAFKA_RESP_ERR__NO_OFFSET;
    if (failed) {
        k->n.commit_failures++;
        k->last_commit_err = err;
        k->dirty = 1;   /* the next round commits them again */
        if (canh_kafka_log_due(&k->logged_ms)) {
            CANH_WARN("input %s: an offset commit failed: %s (kafka_in.commit_failures)",
                      k->name, rd_kafka_err2str(err));
        }
    } else {
        k->last_commit_err = RD_KAFKA_RESP_ERR_NO_ERROR;
    }
}

/* Commits the done offsets if they moved: async, answered in our poll; or
 * synchronously, answered before it returns. The error of a synchronous
 * one (0: committed, or nothing to commit). */
static rd_kafka_resp_err_t commit_now(canh_kafka_in_t *k, int async)
{
    if (!k->dirty || !k->done->cnt)
        return RD_KAFKA_RESP_ERR_NO_ERROR;
    k->h.sync(k->h.ud);
    k->n.commits++;
    k->dirty = 0;
    if (async) {
        rd_kafka_resp_err_t err = rd_kafka_commit_queue(k->rk, k->done, k->q, commit_done, k);
        if (err)
            commit_done(k->rk, err, NULL, k);
        return err;
    }
    k->last_commit_err = RD_KAFKA_RESP_ERR_NO_ERROR;
    rd_kafka_resp_err_t err = rd_kafka_commit_queue(k->rk, k->done, NULL, commit_done, k);
    if (err && err != RD_KAFKA_RESP_ERR__NO_OFFSET) {
        if (!k->last_commit_err)   /* not answered through commit_done */
            commit_done(k->rk, err, NULL, k);
        return err;
    }
    return k->last_commit_err;
}

static void list_parts(const rd_kafka_topic_partition_list_t *l, char *buf, size_t len)
{
    size_t o = 0;
    buf[0] = '\0';
    for (int i = 0; i < l->cnt && o + 1 < len; i++) {
        int w = snprintf(buf + o, len - o, "%s%s[%d]", i ? " " : "", l->elems[i].topic,
                         (int)l->elems[i].partition);
        if (w < 0)
            break;
        o += (size_t)w;
    }
}

static void on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    canh_kafka_in_t *k = opaque;
    int coop = !strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE");
    char list[512];
    list_parts(parts, list, sizeof(list));
    k->n.rebalances++;
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        CANH_INFO("input %s: partitions assigned: %s", k->name, list);
        if (coop) {
            rd_kafka_error_t *e = rd_kafka_incremental_assign(rk, parts);
            if (e)
                rd_kafka_error_destroy(e);
            k->n.partitions += (uint64_t)parts->cnt;
        } else {
            rd_kafka_assign(rk, parts);
            k->n.partitions = (uint64_t)parts->cnt;
        }
        return;
    }
    /* revoked (or an error): finish and commit what was read, then let go */
    uint64_t w = k->closing ? k->final_written : k->h.drain(k->h.ud);
    collect(k, w);
    k->dirty = 1;   /* once more, synchronously: an earlier commit may still be unanswered */
    rd_kafka_resp_err_t cerr = commit_now(k, 0);
    uint64_t redo = 0;
    for (int i = 0; i < parts->cnt; i++) {
        const rd_kafka_topic_partition_t *tp = &parts->elems[i];
        uint32_t t = topic_find(k, tp->topic);
        part_t *p = t == UINT32_MAX ? NULL : part_find(k, t, tp->partition, 0, 0);
        if (p && p->fed >= p->acked) {
            /* processed (or still in the pipeline) here, and read again by
             * the next owner from its committed offset */
            uint64_t n = (uint64_t)(p->fed - p->acked + 1);
            redo += n;
            k->n.possibly_duplicated += n;
            CANH_WARN("input %s: %s[%d] offsets %lld-%lld (%llu message%s) processed here but "
                      "not committed (%s): the partition's next owner reads them again, so "
                      "their alerts may come out twice, with the same event.id",
                      k->name, tp->topic, (int)tp->partition, (long long)p->acked,
                      (long long)p->fed, (unsigned long long)n, n == 1 ? "" : "s",
                      cerr ? rd_kafka_err2str(cerr)
                           : "their alerts were not all written when the partition was given up");
        }
        if (t != UINT32_MAX)
            part_forget(k, t, tp->partition);
        rd_kafka_topic_partition_list_del(k->done, tp->topic, tp->partition);
    }
    if (err != RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS)
        CANH_WARN("input %s: rebalance error %s; partitions given up: %s", k->name,
                  rd_kafka_err2str(err), list);
    else if (redo)
        CANH_WARN("input %s: partitions given up%s: %s; %llu messages processed here were not "
                  "committed (kafka_in.possibly_duplicated)", k->name,
                  rd_kafka_assignment_lost(rk) ? " (the assignment was lost)" : "", list,
                  (unsigned long long)redo);
    else
        CANH_INFO("input %s: partitions given up, after committing what was processed: %s",
                  k->name, list);
    if (coop && err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS) {
        rd_kafka_error_t *e = rd_kafka_incremental_unassign(rk, parts);
        if (e)
            rd_kafka_error_destroy(e);
        k->n.partitions = k->n.partitions >= (uint64_t)parts->cnt
                        ? k->n.partitions - (uint64_t)parts->cnt : 0;
    } else {
        rd_kafka_assign(rk, NULL);
        k->n.partitions = 0;
    }
}

static void on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    canh_kafka_in_t *k = opaque;
    k->n.errors++;
    if (canh_kafka_log_due(&k->logged_ms)) {
        CANH_WARN("input %s: %s (%s)", k->name, reason,
                  rd_kafka_err2name((rd_kafka_resp_err_t)err));
    }
}

static const char *const owned[] = {
    "bootstrap.servers", "metadata.broker.list", "group.id", "enable.auto.commit",
    "enable.auto.offset.store", "auto.offset.reset", "rebalance_cb", "offset_commit_cb",
};

void canh_kafka_in_close(canh_kafka_in_t *k, uint64_t written, canh_kafka_in_counts_t *final)
{
    if (!k)
        return;
    if (k->rk) {
        k->closing = 1;
        k->final_written = written;
        collect(k, written);
        (void)commit_now(k, 0);   /* counted and logged if it fails */
        rd_kafka_consumer_close(k->rk);   /* the revocation commits again, if needed */
        if (final)
            canh_kafka_in_counts(k, final);
        if (k->q)
            rd_kafka_queue_destroy(k->q);
        rd_kafka_destroy(k->rk);
    }
    if (k->efd >= 0)
        close(k->efd);
    if (k->done)
        rd_kafka_topic_partition_list_destroy(k->done);
    for (size_t i = 0; i < k->ntopics; i++)
        free(k->topics[i]);
    free(k->topics);
    free(k->pend);
    free(k->parts);
    free(k->name);
    free(k);
}

void canh_kafka_in_set_hooks(canh_kafka_in_t *k, const canh_kafka_in_hooks_t *hooks)
{
    k->h = *hooks;
}

/* The consumer's settings: the user's, then canh's own. NULL: err says why. */
static rd_kafka_conf_t *consumer_conf(const canh_config_input_t *ci, char *err, size_t errlen)
{
    char who[300];
    snprintf(who, sizeof(who), "input %s: ", ci->name);
    const canh_kafka_setting_t own[] = {
        { "group.id", NULL, ci->group },
        { "enable.auto.commit", NULL, "false" },
        { "enable.auto.offset.store", NULL, "false" },
        { "auto.offset.reset", NULL, ci->start_at == CANH_START_BEGINNING ? "earliest" : "latest" },
    };
    canh_kafka_conf_spec_t spec = {
        .who = who, .brokers = ci->brokers, .props = (const char *const *)ci->props.v,
        .nprops = ci->props.n, .owned = owned, .nowned = CANH_ARRAY_LEN(owned),
        .owned_why = "group, start_at, commits after processing",
        .own = own, .nown = CANH_ARRAY_LEN(own),
    };
    return canh_kafka_conf_new(&spec, err, errlen);
}

int canh_kafka_in_check(const canh_config_input_t *ci, char *err, size_t errlen)
{
    rd_kafka_conf_t *c = consumer_conf(ci, err, errlen);
    if (!c)
        return CANH_EINVAL;
    rd_kafka_conf_destroy(c);
    return CANH_OK;
}

int canh_kafka_in_open(canh_kafka_in_t **out, const canh_config_input_t *ci, char *err,
                       size_t errlen)
{
    *out = NULL;
    canh_kafka_in_t *k = calloc(1, sizeof(*k));
    if (k)
        k->efd = -1;
    if (!k || !(k->name = strdup(ci->name)) ||
        !(k->done = rd_kafka_topic_partition_list_new(8))) {
        snprintf(err, errlen, "out of memory");
        canh_kafka_in_close(k, 0, NULL);
        return CANH_ENOMEM;
    }
    k->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (k->efd < 0) {
        snprintf(err, errlen, "eventfd: %s", strerror(errno));
        canh_kafka_in_close(k, 0, NULL);
        return CANH_EIO;
    }
    rd_kafka_conf_t *c = consumer_conf(ci, err, errlen);
    if (!c) {
        canh_kafka_in_close(k, 0, NULL);
        return CANH_EINVAL;
    }
    rd_kafka_conf_set_opaque(c, k);
    rd_kafka_conf_set_rebalance_cb(c, on_rebalance);
    rd_kafka_conf_set_error_cb(c, on_error);
    rd_kafka_conf_set_log_cb(c, canh_kafka_log);
    char why[512];
    if (!(k->rk = rd_kafka_new(RD_KAFKA_CONSUMER, c, why, sizeof(why)))) {
        rd_kafka_conf_destroy(c);
        snprintf(err, errlen, "input %s: cannot make the Kafka consumer: %s", ci->name, why);
        canh_kafka_in_close(k, 0, NULL);
        return CANH_EINVAL;
    }
    rd_kafka_poll_set_consumer(k->rk);
    k->q = rd_kafka_queue_get_consumer(k->rk);
    rd_kafka_queue_io_event_enable(k->q, k->efd, "\1\0\0\0\0\0\0\0", 8);
    rd_kafka_topic_partition_list_t *subs = rd_kafka_topic_partition_list_new((int)ci->topics.n);
    for (size_t i = 0; i < ci->topics.n; i++)
        rd_kafka_topic_partition_list_add(subs, ci->topics.v[i], RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t e = rd_kafka_subscribe(k->rk, subs);
    rd_kafka_topic_partition_list_destroy(subs);
    if (e) {
        snprintf(err, errlen, "input %s: cannot subscribe: %s", ci->name, rd_kafka_err2str(e));
        canh_kafka_in_close(k, 0, NULL);
        return CANH_EINVAL;
    }
    *out = k;
    return CANH_OK;
}

int canh_kafka_in_fd(const canh_kafka_in_t *k)
{
    return k->efd;
}

int canh_kafka_in_poll(canh_kafka_in_t *k, int budget)
{
    uint64_t v;
    while (read(k->efd, &v, sizeof(v)) == sizeof(v))
        ;
    for (int i = 0; i < budget; i++) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(k->rk, 0);
        if (!m)
            return 0;
        if (m->err) {
            if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                on_error(k->rk, m->err, rd_kafka_message_errstr(m), k);
            rd_kafka_message_destroy(m);
            continue;
        }
        const char *p = m->payload;
        size_t len = p ? m->len : 0;
        if (len && p[len - 1] == '\n')
            len--;
        if (len && p[len - 1] == '\r')
            len--;
        k->n.messages++;
        k->n.bytes += m->len;
        k->h.line(k->h.ud, p ? p : "", len, m->key, m->key ? m->key_len : 0,
                  m->rkt ? rd_kafka_topic_name(m->rkt) : NULL, m->partition, m->offset);
        k->fed++;
        uint32_t t = topic_index(k, m);
        part_t *part = t == UINT32_MAX ? NULL : part_find(k, t, m->partition, 1, m->offset);
        if (part && m->offset > part->fed)
            part->fed = m->offset;
        if (!part || pend_push(k, k->fed, t, m->partition, m->offset) != 0)
            CANH_ERR("input %s: out of memory remembering an offset; it will not be committed",
                     k->name);
        rd_kafka_message_destroy(m);
    }
    return 1;
}

void canh_kafka_in_commit(canh_kafka_in_t *k)
{
    collect(k, k->h.written(k->h.ud));
    commit_now(k, 1);
}

void canh_kafka_in_counts(const canh_kafka_in_t *k, canh_kafka_in_counts_t *out)
{
    *out = k->n;
    out->uncommitted = 0;
    for (size_t i = 0; i < k->nparts; i++)
        if (k->parts[i].fed >= k->parts[i].acked)
            out->uncommitted += (uint64_t)(k->parts[i].fed - k->parts[i].acked + 1);
}
