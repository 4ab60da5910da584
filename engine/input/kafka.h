/*
 * engine/input/kafka.h -- a Kafka topic of raw log lines as an input, read as
 * one member of a consumer group (kafka.c).
 *
 * Each message is one line for the pipeline. Offsets are committed only up
 * to messages whose alerts the pipeline has written out (to the
 * Kafka sink's spool or the alerts file): the caller says how far that is
 * (N: the first N messages fed are all written). So a crash reads
 * again rather than loses: at least once. When the group takes partitions
 * away (another canh joined, or this one stops), everything read from them
 * is first processed and committed, so with every member up each message
 * is processed once; where that last commit fails (the broker refuses it
 * during the rebalance, the assignment was lost), the range its next owner
 * reads again is logged and counted (possibly_duplicated).
 *
 * Thread: everything here runs on the daemon's input thread (the consumer's
 * queue wakes it through an eventfd in its epoll set).
 */
#ifndef CANH_KAFKA_IN_H
#define CANH_KAFKA_IN_H

#include <stddef.h>
#include <stdint.h>

#include "../config.h"

typedef struct canh_kafka_in canh_kafka_in_t;

/* What the input needs from the daemon. */
typedef struct canh_kafka_in_hooks {
    void *ud;
    /* one message (a line) for the pipeline, with its key (NULL: none)
     * and where it is (topic, partition, offset); nonzero: stop for now */
    int (*line)(void *ud, const char *msg, size_t len, const void *key, size_t keylen,
                const char *topic, int32_t partition, int64_t offset);
    /* hand on what was fed and wait (bounded) until it is all written;
     * returns N: the first N messages fed are all written */
    uint64_t (*drain)(void *ud);
    /* N such that the first N messages fed are all written (their alerts
     * out); later ones may be written too */
    uint64_t (*written)(void *ud);
    /* make what is written durable (fsync the spool) before a commit */
    void (*sync)(void *ud);
} canh_kafka_in_hooks_t;

typedef struct canh_kafka_in_counts {
    uint64_t messages, bytes;       /* consumed */
    uint64_t commits, commit_failures;
    uint64_t rebalances;            /* assignments and revocations */
    uint64_t errors;                /* consumer errors reported */
    uint64_t partitions;            /* assigned now */
    uint64_t uncommitted;           /* read from partitions held, offset not committed yet
                                     * (or its commit in flight) */
    uint64_t possibly_duplicated;   /* read here, not committed when their partition was
                                     * given up: its next owner reads them again */
    uint64_t truncated, dropped;    /* longer than limits.max_message_size (the caller's) */
} canh_kafka_in_counts_t;

/* Makes the consumer and subscribes. CANH_EINVAL with err: a bad setting.
 * Set the hooks before the first poll. */
int canh_kafka_in_open(canh_kafka_in_t **out, const canh_config_input_t *ci, char *err,
                       size_t errlen);
/* Checks the settings as open would, without connecting (canh run --check). */
int canh_kafka_in_check(const canh_config_input_t *ci, char *err, size_t errlen);
void canh_kafka_in_set_hooks(canh_kafka_in_t *k, const canh_kafka_in_hooks_t *hooks);

/* Readable when the consumer has something (messages, a rebalance). */
int canh_kafka_in_fd(const canh_kafka_in_t *k);

/* Consumes up to `budget` messages. Returns 1 if more may be waiting. */
int canh_kafka_in_poll(canh_kafka_in_t *k, int budget);

/* Commits (asynchronously) every partition's offset up to what is written. */
void canh_kafka_in_commit(canh_kafka_in_t *k);

void canh_kafka_in_counts(const canh_kafka_in_t *k, canh_kafka_in_counts_t *out);

/*
 * At the stop, once the pipeline has written everything: commits the final
 * offsets (synchronously), leaves the group and frees. `written` is the
 * final N (the first N messages fed are all written); the last counts go to *final (if not
 * NULL). NULL: no-op.
 */
void canh_kafka_in_close(canh_kafka_in_t *k, uint64_t written, canh_kafka_in_counts_t *final);

#endif
