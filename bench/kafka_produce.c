/*
 * bench/kafka_produce.c -- the baseline of the Kafka benchmark
 * (bench/kafka.sh): a plain librdkafka producer with the delivery settings
 * canh's Kafka sink uses (sinks/kafka.c: acks=all, enable.idempotence=true,
 * partitioner murmur2_random, message.timeout.ms 30 s as `canh scan` sets
 * it; queue.buffering.max.messages 100000), but no spool: what librdkafka
 * itself does with the same messages on the same cluster.
 *
 *   kafka_produce BROKERS TOPIC FILE
 *
 * FILE holds one message per line (canh's alerts, JSONL); empty lines are
 * skipped. Each message is keyed by the alert's host name, as canh keys it:
 * the string value after the first `"host":{"name":"` in the line; no key
 * when there is none. The file is read and the keys found before the clock
 * starts. Then every message is produced with RD_KAFKA_MSG_F_COPY (on
 * QUEUE_FULL: serve delivery reports for up to 10 ms and try again), the
 * producer is flushed, and the delivery reports are counted.
 *
 * prints one line: "delivered N failed M seconds S", S from the first
 * produce to the last delivery report (CLOCK_MONOTONIC); M counts failed
 * reports, messages the client refused and messages never reported. Exit 0 when every
 * message was delivered; 1 when one failed or was not reported within the
 * bound (message.timeout.ms, plus 30 s); 2 bad usage or no producer.
 *
 * Thread: everything here runs in the main thread -- producing, and the
 * delivery report callback, served from rd_kafka_poll/rd_kafka_flush;
 * librdkafka's own threads (one per broker, plus its main thread) do the
 * network I/O.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "slurp.h"

#define QUEUE_MAX_MSGS   "100000"
#define MSG_TIMEOUT_MS   30000          /* as canh scan sets message.timeout.ms */
#define FLUSH_EXTRA_MS   30000          /* flush waits this much past the timeout */

static const char HOST_PREFIX[] = "\"host\":{\"name\":\"";

typedef struct msg {
    const char *val, *key;
    size_t vlen, klen;
} msg_t;

static unsigned long long g_ok, g_failed;
static double g_last_report;
static char g_first_err[256];

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    if (m->err) {
        if (!g_failed++)
            snprintf(g_first_err, sizeof(g_first_err), "%s", rd_kafka_err2str(m->err));
    } else {
        g_ok++;
    }
    g_last_report = now_s();
}


/* The host name of an alert line: the JSON string after HOST_PREFIX, up to
 * its closing quote (host names carry no escapes). */
static void find_key(msg_t *m)
{
    m->key = NULL;
    m->klen = 0;
    const char *p = memmem(m->val, m->vlen, HOST_PREFIX, sizeof(HOST_PREFIX) - 1);
    if (!p)
        return;
    p += sizeof(HOST_PREFIX) - 1;
    const char *end = m->val + m->vlen, *q = p;
    while (q < end && *q != '"')
        q += *q == '\\' && q + 1 < end ? 2 : 1;
    if (q >= end)
        return;
    m->key = p;
    m->klen = (size_t)(q - p);
}

static int set(rd_kafka_conf_t *c, const char *k, const char *v)
{
    char why[256];
    if (rd_kafka_conf_set(c, k, v, why, sizeof(why)) != RD_KAFKA_CONF_OK) {
        fprintf(stderr, "kafka_produce: %s=%s: %s\n", k, v, why);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: kafka_produce BROKERS TOPIC FILE\n");
        return 2;
    }
    const char *brokers = argv[1], *topic = argv[2];
    size_t len;
    char *buf = bench_slurp("kafka_produce", argv[3], &len);
    if (!buf)
        return 2;

    /* the messages and their keys, before the clock */
    size_t n = 0, cap = 1024;
    msg_t *msgs = malloc(cap * sizeof(*msgs));
    for (char *p = buf, *end = buf + len; msgs && p < end;) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t l = nl ? (size_t)(nl - p) : (size_t)(end - p);
        if (l) {
            if (n == cap) {
                msg_t *v = realloc(msgs, 2 * cap * sizeof(*msgs));
                if (!v) {
                    free(msgs);
                    msgs = NULL;
                    break;
                }
                msgs = v;
                cap *= 2;
            }
            msgs[n] = (msg_t){ .val = p, .vlen = l };
            find_key(&msgs[n++]);
        }
        p += l + 1;
    }
    if (!msgs) {
        fprintf(stderr, "kafka_produce: out of memory\n");
        return 2;
    }

    char num[32];
    snprintf(num, sizeof(num), "%d", MSG_TIMEOUT_MS);
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    if (set(c, "bootstrap.servers", brokers) || set(c, "acks", "all") ||
        set(c, "enable.idempotence", "true") || set(c, "partitioner", "murmur2_random") ||
        set(c, "queue.buffering.max.messages", QUEUE_MAX_MSGS) ||
        set(c, "message.timeout.ms", num))
        return 2;
    rd_kafka_conf_set_dr_msg_cb(c, on_delivery);
    char why[512];
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, why, sizeof(why));
    if (!rk) {
        fprintf(stderr, "kafka_produce: cannot make the producer: %s\n", why);
        rd_kafka_conf_destroy(c);
        return 2;
    }

    double t0 = now_s(), deadline = t0 + (MSG_TIMEOUT_MS + FLUSH_EXTRA_MS) / 1000.0;
    unsigned long long refused = 0;
    for (size_t i = 0; i < n; i++) {
        for (;;) {
            rd_kafka_resp_err_t err = rd_kafka_producev(
                rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(msgs[i].key, msgs[i].klen),
                RD_KAFKA_V_VALUE((void *)msgs[i].val, msgs[i].vlen),
                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
            if (!err)
                break;
            /* QUEUE_FULL frees up as reports come (or messages time out:
             * message.timeout.ms bounds this loop) */
            if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL || now_s() > deadline) {
                if (!refused++)
                    fprintf(stderr, "kafka_produce: message %zu refused: %s\n", i + 1,
                            rd_kafka_err2str(err));
                break;
            }
            rd_kafka_poll(rk, 10);
        }
        rd_kafka_poll(rk, 0);
    }
    while (rd_kafka_outq_len(rk) > 0 && now_s() < deadline)
        rd_kafka_flush(rk, 1000);
    unsigned long long unreported = n - refused - g_ok - g_failed;
    double seconds = g_last_report > t0 ? g_last_report - t0 : 0;

    printf("delivered %llu failed %llu seconds %.3f\n", g_ok, g_failed + refused + unreported,
           seconds);
    fflush(stdout);
    if (g_failed)
        fprintf(stderr, "kafka_produce: %llu deliveries failed (first: %s)\n", g_failed,
                g_first_err);
    if (refused)
        fprintf(stderr, "kafka_produce: %llu messages refused by the client\n", refused);
    if (unreported)
        fprintf(stderr, "kafka_produce: %llu messages without a delivery report within %d s\n",
                unreported, (MSG_TIMEOUT_MS + FLUSH_EXTRA_MS) / 1000);
    rd_kafka_purge(rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    rd_kafka_poll(rk, 0);
    rd_kafka_destroy(rk);
    free(msgs);
    free(buf);
    return g_failed || refused || unreported ? 1 : 0;
}
