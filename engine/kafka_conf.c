/*
 * engine/kafka_conf.c -- librdkafka settings for canh's Kafka clients (see
 * kafka_conf.h).
 *
 * Thread: the caller's; canh_kafka_log on librdkafka's threads (canh_log
 * is thread-safe).
 */
#include "kafka_conf.h"

#include <stdio.h>
#include <string.h>

#include "canh.h"

static int set(rd_kafka_conf_t *c, const char *who, const char *key, const char *val,
               char *err, size_t errlen)
{
    char why[256];
    if (rd_kafka_conf_set(c, key, val, why, sizeof(why)) != RD_KAFKA_CONF_OK) {
        snprintf(err, errlen, "%sKafka setting '%s': %s", who, key, why);
        return CANH_EINVAL;
    }
    return CANH_OK;
}

/* Did the user set this key (or its other name)? */
static int user_set(const canh_kafka_conf_spec_t *s, const char *key, const char *alias)
{
    for (size_t i = 0; i + 1 < s->nprops; i += 2)
        if (!strcmp(s->props[i], key) || (alias && !strcmp(s->props[i], alias)))
            return 1;
    return 0;
}

rd_kafka_conf_t *canh_kafka_conf_new(const canh_kafka_conf_spec_t *s, char *err, size_t errlen)
{
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    int rc = set(c, s->who, "bootstrap.servers", s->brokers, err, errlen);
    for (size_t i = 0; rc == CANH_OK && i + 1 < s->nprops; i += 2) {
        for (size_t j = 0; j < s->nowned && rc == CANH_OK; j++)
            if (!strcmp(s->props[i], s->owned[j])) {
                snprintf(err, errlen, "%sKafka setting '%s' is set by canh (%s) and cannot be "
                         "changed", s->who, s->props[i], s->owned_why);
                rc = CANH_EINVAL;
            }
        if (rc == CANH_OK)
            rc = set(c, s->who, s->props[i], s->props[i + 1], err, errlen);
    }
    for (size_t i = 0; rc == CANH_OK && i < s->nown; i++)
        rc = set(c, s->who, s->own[i].key, s->own[i].value, err, errlen);
    for (size_t i = 0; rc == CANH_OK && i < s->ndefaults; i++)
        if (!user_set(s, s->defaults[i].key, s->defaults[i].alias))
            rc = set(c, s->who, s->defaults[i].key, s->defaults[i].value, err, errlen);
    if (rc != CANH_OK) {
        rd_kafka_conf_destroy(c);
        return NULL;
    }
    return c;
}

int canh_kafka_log_due(int64_t *last_ms)
{
    int64_t now = canh_mono_ms();
    if (now - *last_ms < 30000)
        return 0;
    *last_ms = now;
    return 1;
}

void canh_kafka_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    const char *type = rd_kafka_type(rk) == RD_KAFKA_PRODUCER ? "producer" : "consumer";
    if (level <= 2)
        CANH_WARN("kafka %s: %s: %s", type, fac, buf);
    else
        canh_log(CANH_LOG_DEBUG, "kafka %s: %s: %s", type, fac, buf);
}
