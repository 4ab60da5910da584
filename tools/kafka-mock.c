/*
 * tools/kafka-mock.c -- a Kafka cluster to test against: librdkafka's mock
 * cluster (rdkafka_mock.h), N brokers on loopback that speak the real Kafka
 * protocol and keep their logs in memory, driven by commands on stdin.
 *
 *   kafka-mock [--brokers N] [--topic NAME:PARTITIONS]... [--debug]
 *
 * stdout carries exactly one first line, "bootstrap: HOST:PORT,...", then
 * one "ok" or "error: WHY" per command, each flushed, so that a driver can
 * wait for it. stderr carries a hint (kcat commands, the command list) and
 * librdkafka's log. Commands, one a line (blank lines get no answer):
 *
 *   down all|ID             disconnect the broker(s), refuse new connections
 *   up all|ID               accept connections again
 *   rtt all|ID MS           add MS ms of latency to every response
 *   topic NAME PARTITIONS   create a topic (replication factor min(N, 3))
 *   errors APIKEY COUNT ERR...  the next COUNT x (ERR...) requests of that
 *                           kind, on any broker, fail with ERR... in order
 *   clear APIKEY            forget the errors still queued for APIKEY
 *   help                    the command list on stderr
 *   quit                    exit 0 (so do EOF on stdin, SIGTERM, SIGINT)
 *
 * Broker ids are 1..N. APIKEY is a protocol request name (Produce, Fetch,
 * Metadata, OffsetCommit, ...) or its number; ERR a name as printed by
 * rd_kafka_err2name (NOT_LEADER_FOR_PARTITION, REQUEST_TIMED_OUT, _TRANSPORT
 * to drop the connection), with or without RD_KAFKA_RESP_ERR_, or a number.
 *
 * Thread: the main thread reads stdin and the signals (signalfd; SIGINT and
 * SIGTERM are blocked in every thread, blocked before librdkafka starts its
 * own). The brokers run in the mock cluster's librdkafka thread; every
 * command here is a synchronous request to it.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/signalfd.h>
#include <syslog.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#define MAX_BROKERS     64
#define MAX_PARTITIONS  10000
#define MAX_RTT_MS      600000
#define MAX_ERRORS      100000      /* COUNT x names, per command */
#define LINE_MAX_LEN    4096
#define MAX_ARGS        256

static const char COMMANDS[] =
    "down all|ID, up all|ID, rtt all|ID MS, topic NAME PARTITIONS, "
    "errors APIKEY COUNT ERR..., clear APIKEY, help, quit";

static rd_kafka_mock_cluster_t *g_mc;
static int g_brokers = 3;

/* Kafka protocol request types (ApiKey) by name; the mock serves most of
 * these, the rest are here so that a number is never needed. */
static const struct { const char *name; int16_t key; } API_KEYS[] = {
    { "Produce", 0 },          { "Fetch", 1 },
    { "ListOffsets", 2 },      { "Offset", 2 },
    { "Metadata", 3 },         { "OffsetCommit", 8 },
    { "OffsetFetch", 9 },      { "FindCoordinator", 10 },
    { "JoinGroup", 11 },       { "Heartbeat", 12 },
    { "LeaveGroup", 13 },      { "SyncGroup", 14 },
    { "DescribeGroups", 15 },  { "ListGroups", 16 },
    { "SaslHandshake", 17 },   { "ApiVersions", 18 },
    { "CreateTopics", 19 },    { "DeleteTopics", 20 },
    { "DeleteRecords", 21 },   { "InitProducerId", 22 },
    { "OffsetForLeaderEpoch", 23 }, { "AddPartitionsToTxn", 24 },
    { "AddOffsetsToTxn", 25 }, { "EndTxn", 26 },
    { "TxnOffsetCommit", 28 }, { "DescribeConfigs", 32 },
    { "AlterConfigs", 33 },    { "SaslAuthenticate", 36 },
    { "CreatePartitions", 37 },
};

/* Names a client may know from newer Kafka versions. */
static const struct { const char *name; rd_kafka_resp_err_t err; } ERR_ALIASES[] = {
    { "NOT_LEADER_OR_FOLLOWER", RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION },
    { "TRANSPORT", RD_KAFKA_RESP_ERR__TRANSPORT },
};

static void reply_ok(void)
{
    fputs("ok\n", stdout);
    fflush(stdout);
}

__attribute__((format(printf, 1, 2)))
static void reply_error(const char *fmt, ...)
{
    va_list ap;
    fputs("error: ", stdout);
    va_start(ap, fmt);
    vfprintf(stdout, fmt, ap);
    va_end(ap);
    fputc('\n', stdout);
    fflush(stdout);
}

/* A whole decimal integer in [lo, hi]; 0 on success. */
static int parse_int(const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

static int valid_topic(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > 249 || !strcmp(name, ".") || !strcmp(name, ".."))
        return 0;
    for (const char *p = name; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '.' && *p != '_' && *p != '-')
            return 0;
    return 1;
}

static int create_topic(const char *name, long partitions, char *err, size_t errlen)
{
    if (!valid_topic(name)) {
        snprintf(err, errlen, "bad topic name '%s' (1..249 of [a-zA-Z0-9._-])", name);
        return -1;
    }
    if (partitions < 1 || partitions > MAX_PARTITIONS) {
        snprintf(err, errlen, "bad partition count for '%s' (1..%d)", name, MAX_PARTITIONS);
        return -1;
    }
    int rf = g_brokers < 3 ? g_brokers : 3;
    rd_kafka_resp_err_t e = rd_kafka_mock_topic_create(g_mc, name, (int)partitions, rf);
    if (e) {
        snprintf(err, errlen, "topic '%s': %s", name, rd_kafka_err2name(e));
        return -1;
    }
    return 0;
}

/* "all" -> -1, else a broker id 1..N; -2 when neither. */
static int parse_broker(const char *s)
{
    long id;
    if (!strcmp(s, "all"))
        return -1;
    if (parse_int(s, 1, g_brokers, &id))
        return -2;
    return (int)id;
}

static int parse_api_key(const char *s, int16_t *key)
{
    long v;
    for (size_t i = 0; i < sizeof(API_KEYS) / sizeof(API_KEYS[0]); i++)
        if (!strcasecmp(s, API_KEYS[i].name)) {
            *key = API_KEYS[i].key;
            return 0;
        }
    if (parse_int(s, 0, INT16_MAX, &v))
        return -1;
    *key = (int16_t)v;
    return 0;
}

static int parse_error(const char *s, rd_kafka_resp_err_t *out)
{
    const struct rd_kafka_err_desc *descs;
    size_t cnt;
    long v;

    if (!strncasecmp(s, "RD_KAFKA_RESP_ERR_", 18))
        s += 18;
    rd_kafka_get_err_descs(&descs, &cnt);
    for (size_t i = 0; i < cnt; i++)
        if (descs[i].name && !strcasecmp(s, descs[i].name)) {
            *out = descs[i].code;
            return 0;
        }
    for (size_t i = 0; i < sizeof(ERR_ALIASES) / sizeof(ERR_ALIASES[0]); i++)
        if (!strcasecmp(s, ERR_ALIASES[i].name)) {
            *out = ERR_ALIASES[i].err;
            return 0;
        }
    if (parse_int(s, RD_KAFKA_RESP_ERR__BEGIN, INT_MAX, &v))
        return -1;
    /* A number must name a known code, as a name does. */
    for (size_t i = 0; i < cnt; i++)
        if (descs[i].name && descs[i].code == (rd_kafka_resp_err_t)v) {
            *out = (rd_kafka_resp_err_t)v;
            return 0;
        }
    return -1;
}

/* down/up/rtt on one broker or all of them; 0 or -1 with a reply sent. */
static int broker_cmd(const char *verb, int id, int rtt_ms)
{
    int lo = id == -1 ? 1 : id, hi = id == -1 ? g_brokers : id;
    for (int b = lo; b <= hi; b++) {
        rd_kafka_resp_err_t e;
        if (!strcmp(verb, "down"))
            e = rd_kafka_mock_broker_set_down(g_mc, b);
        else if (!strcmp(verb, "up"))
            e = rd_kafka_mock_broker_set_up(g_mc, b);
        else
            e = rd_kafka_mock_broker_set_rtt(g_mc, b, rtt_ms);
        if (e) {
            reply_error("%s broker %d: %s", verb, b, rd_kafka_err2name(e));
            return -1;
        }
    }
    return 0;
}

static void print_help(void)
{
    fprintf(stderr,
            "kafka-mock: commands (one a line, each answered by ok or error: on stdout):\n"
            "  down all|ID             disconnect broker(s) ID (1..%d), refuse connections\n"
            "  up all|ID               accept connections again\n"
            "  rtt all|ID MS           add MS ms latency to responses (0 = none)\n"
            "  topic NAME PARTITIONS   create a topic\n"
            "  errors APIKEY COUNT ERR...  fail the next COUNT x (ERR...) APIKEY requests\n"
            "                          e.g. errors Produce 3 NOT_LEADER_FOR_PARTITION\n"
            "  clear APIKEY            drop the errors still queued for APIKEY\n"
            "  help | quit\n", g_brokers);
}

/* One command line (NUL-terminated, no newline); 1 to quit. */
static int run_command(char *line)
{
    char *argv[MAX_ARGS + 1];
    int argc = 0;
    char *save = NULL;
    long v;
    char err[512];

    for (char *t = strtok_r(line, " \t\r", &save); t; t = strtok_r(NULL, " \t\r", &save)) {
        if (argc == MAX_ARGS) {
            reply_error("too many words (at most %d)", MAX_ARGS);
            return 0;
        }
        argv[argc++] = t;
    }
    if (argc == 0)
        return 0;
    const char *cmd = argv[0];

    if (!strcmp(cmd, "quit") || !strcmp(cmd, "exit")) {
        reply_ok();
        return 1;
    }
    if (!strcmp(cmd, "help")) {
        print_help();
        reply_ok();
        return 0;
    }
    if (!strcmp(cmd, "down") || !strcmp(cmd, "up")) {
        int id;
        if (argc != 2 || (id = parse_broker(argv[1])) == -2) {
            reply_error("usage: %s all|ID (broker ids 1..%d)", cmd, g_brokers);
            return 0;
        }
        if (!broker_cmd(cmd, id, 0))
            reply_ok();
        return 0;
    }
    if (!strcmp(cmd, "rtt")) {
        int id;
        if (argc != 3 || (id = parse_broker(argv[1])) == -2 ||
            parse_int(argv[2], 0, MAX_RTT_MS, &v)) {
            reply_error("usage: rtt all|ID MS (broker ids 1..%d, MS 0..%d)",
                        g_brokers, MAX_RTT_MS);
            return 0;
        }
        if (!broker_cmd(cmd, id, (int)v))
            reply_ok();
        return 0;
    }
    if (!strcmp(cmd, "topic")) {
        if (argc != 3 || parse_int(argv[2], 1, MAX_PARTITIONS, &v)) {
            reply_error("usage: topic NAME PARTITIONS (1..%d)", MAX_PARTITIONS);
            return 0;
        }
        if (create_topic(argv[1], v, err, sizeof(err)))
            reply_error("%s", err);
        else
            reply_ok();
        return 0;
    }
    if (!strcmp(cmd, "errors")) {
        int16_t key;
        long count;
        if (argc < 4) {
            reply_error("usage: errors APIKEY COUNT ERR...");
            return 0;
        }
        if (parse_api_key(argv[1], &key)) {
            reply_error("unknown api key '%s' (a name such as Produce, Fetch, Metadata, "
                        "OffsetCommit, or a number 0..%d)", argv[1], INT16_MAX);
            return 0;
        }
        int nerr = argc - 3;
        if (parse_int(argv[2], 1, MAX_ERRORS / nerr, &count)) {
            reply_error("bad COUNT '%s' (1..%d)", argv[2], MAX_ERRORS / nerr);
            return 0;
        }
        rd_kafka_resp_err_t codes[MAX_ARGS];
        for (int i = 0; i < nerr; i++)
            if (parse_error(argv[3 + i], &codes[i])) {
                reply_error("unknown error '%s' (a name as rd_kafka_err2name prints it, "
                            "e.g. NOT_LEADER_FOR_PARTITION, REQUEST_TIMED_OUT, _TRANSPORT, "
                            "or its number)", argv[3 + i]);
                return 0;
            }
        size_t total = (size_t)count * (size_t)nerr;
        rd_kafka_resp_err_t *all = malloc(total * sizeof(*all));
        if (!all) {
            reply_error("out of memory");
            return 0;
        }
        for (size_t i = 0; i < total; i++)
            all[i] = codes[i % (size_t)nerr];
        rd_kafka_mock_push_request_errors_array(g_mc, key, total, all);
        free(all);
        reply_ok();
        return 0;
    }
    if (!strcmp(cmd, "clear")) {
        int16_t key;
        if (argc != 2 || parse_api_key(argv[1], &key)) {
            reply_error("usage: clear APIKEY (a name such as Produce, or a number)");
            return 0;
        }
        rd_kafka_mock_clear_request_errors(g_mc, key);
        reply_ok();
        return 0;
    }
    reply_error("unknown command '%s' (commands: %s)", cmd, COMMANDS);
    return 0;
}

static void log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    (void)rk;
    fprintf(stderr, "kafka-mock: librdkafka %d %s: %s\n", level, fac, buf);
}

static int usage(const char *why)
{
    fprintf(stderr, "kafka-mock: %s\n"
            "usage: kafka-mock [--brokers N] [--topic NAME:PARTITIONS]... [--debug]\n", why);
    return 2;
}

int main(int argc, char **argv)
{
    const char *topics[MAX_ARGS];
    int ntopics = 0, debug = 0;
    long v;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if ((!strcmp(a, "--brokers") || !strcmp(a, "--topic")) && i + 1 == argc) {
            char why[256];
            snprintf(why, sizeof(why), "%s wants a value", a);
            return usage(why);
        } else if (!strcmp(a, "--brokers")) {
            if (parse_int(argv[++i], 1, MAX_BROKERS, &v))
                return usage("--brokers wants a number 1..64");
            g_brokers = (int)v;
        } else if (!strcmp(a, "--topic")) {
            if (ntopics == MAX_ARGS)
                return usage("too many --topic");
            topics[ntopics++] = argv[++i];
        } else if (!strcmp(a, "--debug")) {
            debug = 1;
        } else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage("a Kafka mock cluster on loopback, driven by commands on stdin");
            print_help();
            return 0;
        } else {
            char why[256];
            snprintf(why, sizeof(why), "bad argument '%s'", a);
            return usage(why);
        }
    }

    /* Block the exit signals before librdkafka starts threads: they inherit
     * the mask, and the main thread reads the signals from a signalfd. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    if (pthread_sigmask(SIG_BLOCK, &sigs, NULL)) {
        fprintf(stderr, "kafka-mock: pthread_sigmask failed\n");
        return 1;
    }
    int sfd = signalfd(-1, &sigs, SFD_CLOEXEC);
    if (sfd < 0) {
        fprintf(stderr, "kafka-mock: signalfd: %s\n", strerror(errno));
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);

    /* The dummy producer holds the cluster; it has no bootstrap.servers
     * and so never sends a request (none of the queued errors go to it). */
    char errstr[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set_log_cb(conf, log_cb);
    if (rd_kafka_conf_set(conf, "log_level", debug ? "7" : "4", errstr, sizeof(errstr)) ||
        (debug && rd_kafka_conf_set(conf, "debug", "mock", errstr, sizeof(errstr)))) {
        fprintf(stderr, "kafka-mock: %s\n", errstr);
        rd_kafka_conf_destroy(conf);
        return 1;
    }
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    if (!rk) {
        fprintf(stderr, "kafka-mock: rd_kafka_new: %s\n", errstr);
        rd_kafka_conf_destroy(conf);
        return 1;
    }
    g_mc = rd_kafka_mock_cluster_new(rk, g_brokers);
    if (!g_mc) {
        fprintf(stderr, "kafka-mock: could not start a mock cluster of %d brokers\n",
                g_brokers);
        rd_kafka_destroy(rk);
        return 1;
    }

    int rc = 0;
    for (int i = 0; i < ntopics; i++) {
        char name[512], err[512];
        const char *colon = strrchr(topics[i], ':');
        size_t n = colon ? (size_t)(colon - topics[i]) : 0;
        if (!colon || n >= sizeof(name) || parse_int(colon + 1, 1, MAX_PARTITIONS, &v)) {
            fprintf(stderr, "kafka-mock: --topic wants NAME:PARTITIONS (1..%d), not '%s'\n",
                    MAX_PARTITIONS, topics[i]);
            rc = 2;
            goto out;
        }
        memcpy(name, topics[i], n);
        name[n] = '\0';
        if (create_topic(name, v, err, sizeof(err))) {
            fprintf(stderr, "kafka-mock: --topic: %s\n", err);
            rc = 2;
            goto out;
        }
    }

    const char *bootstraps = rd_kafka_mock_cluster_bootstraps(g_mc);
    printf("bootstrap: %s\n", bootstraps);
    fflush(stdout);
    fprintf(stderr,
            "kafka-mock: %d broker(s) at %s (in memory; ids 1..%d)\n"
            "kafka-mock: read a topic:  kcat -b %s -C -t TOPIC -o beginning -e\n"
            "kafka-mock: list topics:   kcat -b %s -L\n",
            g_brokers, bootstraps, g_brokers, bootstraps, bootstraps);
    print_help();

    static char buf[LINE_MAX_LEN];
    size_t len = 0;
    int skipping = 0;   /* inside an over-long line: drop until newline */
    for (;;) {
        struct pollfd pfd[2] = { { 0, POLLIN, 0 }, { sfd, POLLIN, 0 } };
        if (poll(pfd, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            fprintf(stderr, "kafka-mock: poll: %s\n", strerror(errno));
            rc = 1;
            break;
        }
        if (pfd[1].revents & POLLIN) {
            struct signalfd_siginfo si;
            if (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
                fprintf(stderr, "kafka-mock: %s, exiting\n", strsignal((int)si.ssi_signo));
            break;
        }
        if (!(pfd[0].revents & (POLLIN | POLLHUP | POLLERR)))
            continue;
        ssize_t r = read(0, buf + len, sizeof(buf) - len);
        if (r < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (r <= 0) {
            if (r < 0)
                fprintf(stderr, "kafka-mock: read stdin: %s\n", strerror(errno));
            break;   /* EOF: a driver that goes away stops the cluster */
        }
        len += (size_t)r;

        int quit = 0;
        char *start = buf, *nl;
        while (!quit && (nl = memchr(start, '\n', len - (size_t)(start - buf)))) {
            *nl = '\0';
            if (skipping)
                skipping = 0;
            else if (strlen(start) != (size_t)(nl - start))
                reply_error("NUL byte in command");
            else
                quit = run_command(start);
            start = nl + 1;
        }
        if (quit)
            break;
        len -= (size_t)(start - buf);
        memmove(buf, start, len);
        if (len == sizeof(buf)) {
            if (!skipping)
                reply_error("line too long (at most %d bytes)", LINE_MAX_LEN - 1);
            skipping = 1;
            len = 0;
        }
        if (ferror(stdout)) {
            fprintf(stderr, "kafka-mock: stdout closed, exiting\n");
            break;
        }
    }

out:
    rd_kafka_mock_cluster_destroy(g_mc);
    rd_kafka_destroy(rk);
    close(sfd);
    return rc;
}
