/*
 * sinks/kafka.h -- alerts (and stats records) to Kafka, with no alert lost.
 *
 * Every alert goes first to the spool (spool.h: append-only files with a
 * CRC per record), then a sender thread hands it to librdkafka (acks=all,
 * idempotence on) and removes it from the spool only when its delivery
 * report says it was written. So an alert the broker has not confirmed is
 * always on disk: brokers away for hours, a delivery that times out, a full
 * client queue, the process killed -- the alert is sent again, in order,
 * when the broker takes messages again or at the next start.
 *
 * When the spool reaches its size cap, canh_kafka_sink_write waits (the
 * worker writing the batch, hence the whole pipeline and the inputs, wait:
 * backpressure) until deliveries make room -- except once the process is
 * stopping (canh_kafka_sink_stopping, or a SIGTERM/SIGINT pending), when the
 * cap gives way so that everything accepted reaches the disk before exit.
 *
 * When a spool write fails (a full disk, a quota, an I/O error: the spool
 * cuts off what the failed write left), canh_kafka_sink_write waits the
 * same way and tries again from the first alert not spooled (after 0.1 s,
 * doubling to 1 s), until it works; it logs the failure when it begins,
 * every 30 s while it lasts, and when it ends, and counts it
 * (spool_failed_writes, spool_blocked_s, spool_error). Only once the
 * process is stopping does it give up, after stop_timeout_ms: the alerts
 * not spooled are counted (not_spooled) and logged.
 *
 * Threads: canh_kafka_sink_write on the pipeline worker writing a batch
 * (one call at a time);
 * canh_kafka_sink_stats, _counts, _pending, _sync, _stopping from any
 * thread; the sender thread (started by open, joined by close) produces,
 * serves delivery reports, acknowledges the spool and fsyncs it.
 */
#ifndef CANH_SINK_KAFKA_H
#define CANH_SINK_KAFKA_H

#include <stddef.h>
#include <stdint.h>

#include "../engine/pipeline.h"

typedef struct canh_kafka_sink canh_kafka_sink_t;

typedef struct canh_kafka_sink_opts {
    const char *brokers;            /* bootstrap.servers */
    const char *topic;              /* alerts */
    const char *stats_topic;        /* stats records; NULL: none */
    const char *const *props;       /* librdkafka settings: key, value, key, value ... */
    size_t nprops;                  /* entries in props (twice the settings) */
    const char *spool_dir;
    uint64_t spool_max_bytes;
    int64_t fsync_interval_ms;      /* the spool is fsync'd at least this often */
    int64_t message_timeout_ms;     /* librdkafka message.timeout.ms; then sent again */
    int64_t stop_timeout_ms;        /* at close: how long to wait for deliveries */
} canh_kafka_sink_opts_t;

typedef struct canh_kafka_counts {
    uint64_t spooled;               /* alerts written to the spool */
    uint64_t delivered;             /* delivery reports: written to Kafka */
    uint64_t failed;                /* delivery reports with an error (sent again) */
    uint64_t retried;               /* alerts produced again after a failure */
    uint64_t possibly_duplicated;   /* of those, ones Kafka may have written already */
    uint64_t replayed_at_start;     /* alerts found in the spool at start */
    uint64_t waiting;               /* in the spool, not delivered yet */
    uint64_t in_flight;             /* handed to librdkafka, no report yet */
    uint64_t spool_bytes;
    uint64_t spool_corrupt;         /* damaged spool records skipped */
    uint64_t spool_full_waits;      /* times a write waited for room */
    uint64_t not_spooled;           /* alerts given up on: a stop while the spool could not
                                       be written, or too large for a spool record */
    uint64_t spool_failed_writes;   /* spool appends that failed (retried) */
    double spool_blocked_s;         /* time spent failing, the failure going on included */
    int spool_error;                /* errno of the failure going on; 0: writing */
    uint64_t stats_delivered, stats_failed;
} canh_kafka_counts_t;

/*
 * Opens the spool (alerts left in it by an earlier run are sent first),
 * makes the producer and starts the sender. Bad settings (an unknown
 * librdkafka property, one canh must own such as acks) and an unusable
 * spool folder are errors: CANH_EINVAL / CANH_EIO with err saying why. A
 * broker that cannot be reached is not an error: alerts wait in the spool.
 */
int canh_kafka_sink_open(canh_kafka_sink_t **out, const canh_kafka_sink_opts_t *o,
                         char *err, size_t errlen);

/* Checks the settings as open would, without connecting or touching the
 * spool (canh run --check). CANH_EINVAL with err: a bad setting. */
int canh_kafka_sink_check(const canh_kafka_sink_opts_t *o, char *err, size_t errlen);

/* A canh_sink_fn: appends the batch's alerts to the spool and wakes the
 * sender. Waits while the spool is full or cannot be written (see above).
 * Nonzero: some alerts were given up on (counted in not_spooled, logged). */
int canh_kafka_sink_write(void *sink, const canh_sink_item_t *items, size_t n);

/* From now on the spool's cap gives way (shutdown drain). */
void canh_kafka_sink_stopping(canh_kafka_sink_t *k);

/* One stats record to the stats topic (not spooled: the next one
 * supersedes it; a failure is counted). No-op without a stats topic. */
void canh_kafka_sink_stats(canh_kafka_sink_t *k, const char *json, size_t len);

/* fsync of the spool: everything written so far survives a machine crash. */
int canh_kafka_sink_sync(canh_kafka_sink_t *k);

void canh_kafka_sink_counts(canh_kafka_sink_t *k, canh_kafka_counts_t *out);

/*
 * Waits up to stop_timeout_ms for every alert to be delivered, then stops
 * the sender and closes the spool; what is not delivered stays in the
 * spool for the next start (logged). The last counts go to *final (if not
 * NULL). Returns the number of alerts left undelivered. NULL: 0.
 */
uint64_t canh_kafka_sink_close(canh_kafka_sink_t *k, canh_kafka_counts_t *final);

#endif
