/*
 * engine/config.h -- the daemon's configuration (canh run -c canh.yml).
 *
 * Every key is one row of a static table in engine/config.c (dotted path,
 * type, range, default, one line of documentation), like librdkafka's
 * configuration. The loader walks the YAML with that table and fills a
 * canh_config_t; docs/config.md is printed from the same table by
 * canh_config_doc_markdown() (tools/config-doc.c), so the reference cannot
 * drift from the code.
 *
 * Errors are collected, not stopped at: every unknown key (with a "did you
 * mean"), bad value, missing required key and bad listen address is
 * reported as "FILE:LINE: message", in line order.
 *
 * Relative paths in a config file are taken from the directory of that
 * file (so `canh run -c /etc/canh/canh.yml` works from any directory);
 * "-" (stdout) is kept as it is.
 *
 * Time zones (`timezone`, `inputs[].timezone`) are loaded as the file is
 * read, so an unknown name is an error with its line; each input's `tz`
 * is the zone it reads zone-less stamps in.
 *
 * Ownership: the caller owns the canh_config_t and frees it with
 * canh_config_free(); the config owns every string and zone in it.
 * Thread: loaded once at start-up (or on reload) by the main thread;
 * read-only afterwards, so any thread may read it.
 */
#ifndef CANH_CONFIG_H
#define CANH_CONFIG_H

#include <stdint.h>
#include <stdio.h>

#include "canh.h"
#include "priv.h"
#include "tz.h"

typedef enum canh_input_type {
    CANH_INPUT_UDP = 0,
    CANH_INPUT_TCP,
    CANH_INPUT_TLS,
    CANH_INPUT_FILE,
    CANH_INPUT_STDIN,
    CANH_INPUT_KAFKA,
    CANH_INPUT_PCAP,                 /* packets captured on an interface (input/pcap.c) */
} canh_input_type_t;

typedef enum canh_framing {          /* TCP and TLS syslog */
    CANH_FRAMING_AUTO = 0,           /* decided per connection from its first byte */
    CANH_FRAMING_LF,                 /* one message per line */
    CANH_FRAMING_OCTET,              /* RFC 6587 octet counting: "LEN SP MSG" */
} canh_framing_t;

typedef enum canh_oversize {         /* a message longer than max_message_size */
    CANH_OVERSIZE_TRUNCATE = 0,      /* keep its first max_message_size bytes */
    CANH_OVERSIZE_DROP,              /* drop it (counted) */
} canh_oversize_t;

typedef enum canh_start_at {         /* a followed file with no saved offset */
    CANH_START_END = 0,
    CANH_START_BEGINNING,
} canh_start_at_t;

typedef enum canh_log_target {
    CANH_LOG_TARGET_STDERR = 0,
    CANH_LOG_TARGET_SYSLOG,
} canh_log_target_t;

/* A list of strings; v has n entries (v may be NULL when n is 0). */
typedef struct canh_config_list {
    char **v;
    size_t n;
} canh_config_list_t;

typedef struct canh_config_input {
    int type;                  /* canh_input_type_t */
    char *name;                /* given, or the listen address, first path, "stdin" */
    char *dataset;             /* NULL = decided per event from its shape */
    char *timezone;            /* as written; NULL = the top-level one */
    const canh_tz_t *tz;       /* of stamps without a zone: its own, the top level's or the
                                  machine's (owned by the config) */
    int line;                  /* where the entry starts in the config file */

    /* udp, tcp, tls */
    char *listen;              /* as written: "0.0.0.0:514", "[::1]:5514" */
    char *listen_host;         /* without brackets: "0.0.0.0", "::1", "loghost" */
    int listen_port;           /* 1..65535 */
    int listen_ipv6;           /* 1 if the host was written in brackets */
    size_t recv_buffer;        /* udp: SO_RCVBUF bytes, 0 = the system's */
    int framing;               /* tcp, tls: canh_framing_t */
    int max_connections;       /* tcp, tls */
    int max_connections_per_address;   /* tcp, tls: 0 = no limit */
    int64_t idle_timeout_ms;   /* tcp, tls: close a connection silent this long; 0 = never */
    int64_t partial_frame_timeout_ms;  /* tcp, tls: ... inside one message this long */

    /* tls */
    char *tls_cert, *tls_key;  /* PEM files (required) */
    char *tls_ca;              /* PEM CA bundle for client certificates, or NULL */
    int tls_require_client_cert;

    /* file */
    canh_config_list_t paths;  /* files or globs */
    int start_at;              /* canh_start_at_t (file, kafka) */

    /* kafka */
    char *brokers;             /* bootstrap servers */
    canh_config_list_t topics;
    char *group;               /* consumer group id */
    canh_config_list_t props;  /* librdkafka settings: key, value, key, value ... */

    /* pcap */
    char *interface;           /* the network interface captured on (required) */
    char *filter;              /* BPF filter expression (pcap-filter(7)), or NULL: all */
    int snaplen;               /* bytes kept of each frame */
    int promiscuous;
    size_t pcap_buffer;        /* libpcap's ring buffer, bytes */
    int immediate;             /* each frame as it comes, not by ring blocks */
} canh_config_input_t;

typedef struct canh_config {
    char *path;                /* the file it came from; NULL for canh_config_defaults() */

    int workers;               /* 0 = one per online core: the caller resolves it
                                  with sysconf(_SC_NPROCESSORS_ONLN) */
    char *state_dir;           /* saved file offsets */
    char *timezone;            /* as written; NULL = the machine's ($TZ, /etc/localtime) */
    canh_tz_t **zones;         /* every zone the inputs use, loaded once */
    size_t nzones;
    char *name;                /* observer.name; NULL: the host name */
    char *user, *group;        /* as written; NULL: stay as started */
    canh_priv_t priv;          /* them resolved (priv.on 0: not set) */

    canh_config_list_t rule_paths;  /* empty = the shipped rules/ */
    struct {
        canh_config_list_t vars;    /* network rule variables: name, value, name, value ... */
        char *classification;       /* classification.config path; NULL: built-in classes */
        int midstream;              /* pick up TCP flows without their handshake */
    } network;
    char *fieldmap;                 /* NULL = the shipped conf/fieldmap.yml */
    int fold_legacy_vi;             /* caseless matching folds ƣ/Ƣ into ư (engine/text.h) */
    int pcre2_match_limit;          /* PCRE2 budgets per run (detect/match.h) */
    int pcre2_depth_limit;
    char *suppress;                 /* this file's path when it has `suppress:` (the list,
                                       or the file holding it): engine/suppress.h reads
                                       the list from here; NULL = none */

    canh_config_input_t *inputs;
    size_t ninputs;

    struct {
        size_t max_message_size;
        int oversize;          /* canh_oversize_t */
        int batch_lines;
        int batches;           /* 0 = 4 per worker + 4 */
    } limits;

    struct {
        char *alerts_path;     /* "-" = stdout; NULL = none (only with Kafka) */
        int alerts_mode;       /* permissions of an alerts file canh makes (0600) */
        int alerts_matched;    /* alerts carry canh.matched */
        int64_t alerts_stop_timeout_ms;   /* at a stop, how long a failed write is retried */
        char *stats_path;      /* NULL = no stats file */
        int stats_mode;        /* permissions of a stats file canh makes (0600) */
        int64_t stats_interval_ms;
        int stats_threat_level;   /* threats from this level: canh_level_t - 1
                                     (0 informational ... 4 critical) */
        struct {
            char *brokers;     /* NULL = no Kafka output */
            char *topic, *stats_topic;
            canh_config_list_t props;   /* key, value, key, value ... */
            char *spool_path;  /* NULL = state_dir/spool */
            size_t spool_max_size;
            int64_t fsync_interval_ms, message_timeout_ms, stop_timeout_ms;
        } kafka;
    } outputs;

    struct {
        int level;             /* CANH_LOG_ERROR .. CANH_LOG_DEBUG */
        int target;            /* canh_log_target_t */
    } log;
} canh_config_t;

/*
 * Called once per problem found, in line order. `text` is the whole
 * message as a user should see it: "canh.yml:12: unknown key
 * 'inputs[0].lisen' (did you mean 'listen'?)"; `line` is its line (0 when
 * the file could not be read at all).
 */
typedef void (*canh_config_error_fn)(void *ud, int line, const char *text);

/*
 * Reads and validates the file at `path`. On success *out is a new config
 * (free it with canh_config_free) and 0 is returned. Otherwise *out is
 * NULL, every problem has gone to fn (if not NULL), err holds the first one
 * followed by "(and N more errors)" when there are several, and the return
 * is CANH_EINVAL (bad content, YAML syntax included), CANH_ENOENT or
 * CANH_EIO (cannot read the file) or CANH_ENOMEM.
 */
int canh_config_load(canh_config_t **out, const char *path, canh_config_error_fn fn, void *ud,
                     char *err, size_t errlen);

/* The same, from a string in memory; `name` is used as the file name in
 * messages and relative paths are kept as they are. */
int canh_config_load_string(canh_config_t **out, const char *name, const char *yaml, size_t len,
                            canh_config_error_fn fn, void *ud, char *err, size_t errlen);

/* A config holding every default and no inputs. CANH_ENOMEM on failure. */
int canh_config_defaults(canh_config_t **out);

void canh_config_free(canh_config_t *c);

/* "udp", "tcp" ... for messages. */
const char *canh_input_type_name(int type);

/* Prints docs/config.md: every key with its type, default, allowed values
 * and description. */
void canh_config_doc_markdown(FILE *out);

#endif
