/*
 * engine/kafka_conf.h -- librdkafka settings as canh builds them, for the
 * Kafka sink (sinks/kafka.c) and the Kafka input (input/kafka.c): the
 * brokers, then the user's `properties` (refusing any that canh owns),
 * then canh's own settings, then defaults the user may have changed; and
 * the one log callback both clients use.
 *
 * Thread: whichever thread makes the client (or checks the settings);
 * canh_kafka_log runs on librdkafka's threads.
 */
#ifndef CANH_KAFKA_CONF_H
#define CANH_KAFKA_CONF_H

#include <stddef.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

typedef struct canh_kafka_setting {
    const char *key;
    const char *alias;      /* another name librdkafka has for it, or NULL */
    const char *value;
} canh_kafka_setting_t;

typedef struct canh_kafka_conf_spec {
    const char *who;                     /* message prefix: "" or "input NAME: " */
    const char *brokers;
    const char *const *props;            /* the user's: key, value, key, value ... */
    size_t nprops;                       /* entries (twice the settings) */
    const char *const *owned;            /* keys the user may not set */
    size_t nowned;
    const char *owned_why;               /* what canh sets, for the message */
    const canh_kafka_setting_t *own;     /* canh's, set after the user's */
    size_t nown;
    const canh_kafka_setting_t *defaults;   /* set unless the user set key or alias */
    size_t ndefaults;
} canh_kafka_conf_spec_t;

/* A new librdkafka configuration, or NULL with err saying which setting
 * and why: "WHO Kafka setting 'acks' is set by canh (...) and cannot be
 * changed", "WHO Kafka setting 'x': No such configuration property ...". */
rd_kafka_conf_t *canh_kafka_conf_new(const canh_kafka_conf_spec_t *s, char *err, size_t errlen);

/* librdkafka's log lines into canh's log: critical ones as warnings, the
 * rest at debug level. */
void canh_kafka_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf);

/* A repeated Kafka warning (broker down, failed deliveries) is logged at
 * most every 30 s: 1 when it is due again (and *last_ms is moved on). */
int canh_kafka_log_due(int64_t *last_ms);

#endif
