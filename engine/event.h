/*
 * engine/event.h -- the event: what parsers produce and rules match.
 *
 * An event is a flat list of (name, value) fields whose names follow the
 * Elastic Common Schema ("source.ip", "url.path"). Well-known fields have a
 * static id (CANH_F_*) so the matcher can index them by number; any other
 * field (a payload key, canh.payload.*; an auditd record key,
 * auditd.data.*) has id CANH_F_DYNAMIC and is found by name. A field may
 * appear more than once (process.args, auditd "type" of each record): a
 * rule on it matches if any value matches.
 *
 * Values are slices. They borrow from the input line or from the event's
 * arena (for unescaped or decoded values); the event is valid until the
 * line buffer is reused or the arena is reset.
 *
 * Datasets say where an event came from ("sshd", "webserver", "auditd",
 * "process_creation" ...). An event may belong to several (an auditd EXECVE
 * group is both auditd and process_creation). Sigma log sources are mapped
 * to datasets by conf/fieldmap.yml.
 *
 * Thread: an event is owned by the one thread that parses and matches it.
 */
#ifndef CANH_EVENT_H
#define CANH_EVENT_H

#include "canh.h"

/*
 * X(ENUM, "ecs.name", type, payload):
 *   type     the field's type in the alert, ECS's where ECS defines the
 *            field: K keyword (a JSON string), L long (a JSON integer),
 *            I ip (an IPv4 or IPv6 address, as a JSON string). A value
 *            that does not fit its type is never written under the field
 *            (sinks/alert.c: it goes to canh.invalid.<name>).
 *   payload  P: a JSON or key=value payload key of exactly this name
 *            sets this field when its value fits the type and the event
 *            has no value for it yet (canh_add_payload, parsers/payload.c);
 *            -: such a key stays in the payload namespace
 *            (canh.payload.<key>), because canh sets the field itself
 *            (@timestamp, message, host.*, event.*, log.*) or the field is
 *            canh's own, not ECS (sudo.*, auditd.*).
 */
#define CANH_FIELDS(X)                                                             \
    X(TIMESTAMP,          "@timestamp",                     K, -) \
    X(MESSAGE,            "message",                        K, -) \
    X(HOST_NAME,          "host.name",                      K, -) \
    X(PROCESS_NAME,       "process.name",                   K, P) \
    X(PROCESS_PID,        "process.pid",                    L, P) \
    X(SYSLOG_PRIORITY,    "log.syslog.priority",            L, -) \
    X(SYSLOG_FAC_CODE,    "log.syslog.facility.code",       L, -) \
    X(SYSLOG_FAC_NAME,    "log.syslog.facility.name",       K, -) \
    X(SYSLOG_SEV_CODE,    "log.syslog.severity.code",       L, -) \
    X(SYSLOG_SEV_NAME,    "log.syslog.severity.name",       K, -) \
    X(SYSLOG_VERSION,     "log.syslog.version",             K, -) \
    X(SYSLOG_HOSTNAME,    "log.syslog.hostname",            K, -) \
    X(SYSLOG_APPNAME,     "log.syslog.appname",             K, -) \
    X(SYSLOG_PROCID,      "log.syslog.procid",              K, -) \
    X(SYSLOG_MSGID,       "log.syslog.msgid",               K, -) \
    X(EVENT_ACTION,       "event.action",                   K, -) \
    X(EVENT_OUTCOME,      "event.outcome",                  K, -) \
    X(EVENT_CATEGORY,     "event.category",                 K, -) \
    X(EVENT_TYPE,         "event.type",                     K, -) \
    X(USER_NAME,          "user.name",                      K, P) \
    X(USER_ID,            "user.id",                        K, P) \
    X(USER_EFFECTIVE_NAME,"user.effective.name",            K, P) \
    X(USER_EFFECTIVE_ID,  "user.effective.id",              K, P) \
    X(USER_TARGET_NAME,   "user.target.name",               K, P) \
    X(USER_TARGET_ID,     "user.target.id",                 K, P) \
    X(USER_CHANGES_NAME,  "user.changes.name",              K, P) \
    X(GROUP_NAME,         "group.name",                     K, P) \
    X(GROUP_ID,           "group.id",                       K, P) \
    X(SOURCE_IP,          "source.ip",                      I, P) \
    X(SOURCE_PORT,        "source.port",                    L, P) \
    X(SOURCE_DOMAIN,      "source.domain",                  K, P) \
    X(DESTINATION_IP,     "destination.ip",                 I, P) \
    X(DESTINATION_PORT,   "destination.port",               L, P) \
    X(DESTINATION_DOMAIN, "destination.domain",             K, P) \
    X(HTTP_METHOD,        "http.request.method",            K, P) \
    X(HTTP_REFERRER,      "http.request.referrer",          K, P) \
    X(HTTP_VERSION,       "http.version",                   K, P) \
    X(HTTP_STATUS,        "http.response.status_code",      L, P) \
    X(HTTP_BYTES,         "http.response.body.bytes",       L, P) \
    X(HTTP_MIME_TYPE,     "http.request.mime_type",         K, P) \
    X(URL_ORIGINAL,       "url.original",                   K, P) \
    X(URL_PATH,           "url.path",                       K, P) \
    X(URL_QUERY,          "url.query",                      K, P) \
    X(URL_EXTENSION,      "url.extension",                  K, P) \
    X(URL_DOMAIN,         "url.domain",                     K, P) \
    X(USER_AGENT,         "user_agent.original",            K, P) \
    X(PROCESS_EXECUTABLE, "process.executable",             K, P) \
    X(PROCESS_CMDLINE,    "process.command_line",           K, P) \
    X(PROCESS_ARGS,       "process.args",                   K, P) \
    X(PROCESS_ARGS_COUNT, "process.args_count",             L, P) \
    X(PROCESS_PPID,       "process.parent.pid",             L, P) \
    X(PROCESS_PARENT_EXE, "process.parent.executable",      K, P) \
    X(PROCESS_PARENT_CMD, "process.parent.command_line",    K, P) \
    X(PROCESS_CWD,        "process.working_directory",      K, P) \
    X(PROCESS_TITLE,      "process.title",                  K, P) \
    X(FILE_PATH,          "file.path",                      K, P) \
    X(DNS_QUESTION_NAME,  "dns.question.name",              K, P) \
    X(DNS_QUESTION_TYPE,  "dns.question.type",              K, P) \
    X(DNS_ANSWERS_DATA,   "dns.answers.data",               K, P) \
    X(DNS_ID,             "dns.id",                         K, P) \
    X(DNS_TYPE,           "dns.type",                       K, P) \
    X(DNS_RESPONSE_CODE,  "dns.response_code",              K, P) \
    X(NETWORK_TRANSPORT,  "network.transport",              K, P) \
    X(NETWORK_PROTOCOL,   "network.protocol",               K, P) \
    X(NETWORK_COMMUNITY_ID, "network.community_id",         K, P) \
    X(NETWORK_VLAN_ID,    "network.vlan.id",                K, P) \
    X(TLS_SNI,            "tls.client.server_name",         K, P) \
    X(TLS_JA3,            "tls.client.ja3",                 K, P) \
    X(TLS_VERSION,        "tls.version",                    K, P) \
    X(TLS_VERSION_PROTOCOL, "tls.version_protocol",         K, P) \
    X(SUDO_COMMAND,       "sudo.command",                   K, -) \
    X(SUDO_TTY,           "sudo.tty",                       K, -) \
    X(SUDO_PWD,           "sudo.pwd",                       K, -) \
    X(AUDITD_SERIAL,      "auditd.sequence",                L, -) \
    X(AUDITD_TYPE,        "auditd.type",                    K, -) \
    X(AUDITD_RESULT,      "auditd.result",                  K, -) \
    X(AUDITD_KEY,         "auditd.key",                     K, -)

typedef enum canh_field_id {
#define CANH_X_ENUM(e, name, type, payload) CANH_F_##e,
    CANH_FIELDS(CANH_X_ENUM)
#undef CANH_X_ENUM
    CANH_F__COUNT,
    CANH_F_DYNAMIC = 0xffff
} canh_field_id_t;

/* Name and type of a static field; canh_field_lookup returns CANH_F_DYNAMIC if unknown. */
const char     *canh_field_name(canh_field_id_t id);
int             canh_field_is_number(canh_field_id_t id);   /* type L */
char            canh_field_type(canh_field_id_t id);        /* 'K', 'L', 'I'; 0 if dynamic */
int             canh_field_payload_ok(canh_field_id_t id);  /* payload P */
canh_field_id_t canh_field_lookup(const char *name, size_t len);

/* Whether a value fits a type of the table above: 'L' a decimal integer
 * within a signed 64-bit long (no sign but '-', no fraction), 'I' an IPv4
 * or IPv6 address as inet_pton(3) reads it (no zone), 'K' anything. */
int canh_value_fits(char type, canh_slice_t value);

/*
 * prefix + key as a field path every JSON index takes, into d (room for
 * CANH_FIELD_PATH_ROOM bytes); returns its length. Each segment of key
 * (between dots) that is empty or blank becomes "_" (an index refuses an
 * empty or blank key), and past CANH_PATH_DEPTH segments the dots become
 * '_' (an index limits the depth of objects). For names taken from input:
 * payload keys (canh.payload.<key>), structured data, audit record keys.
 */
#define CANH_PATH_DEPTH 16
#define CANH_FIELD_PATH_ROOM(plen, klen) ((plen) + 2 * (klen) + 2)
size_t canh_field_path_write(char *d, const char *prefix, size_t plen, const char *key,
                             size_t klen);

/* Datasets: the built-in ones; conf/fieldmap.yml may name more (up to 64 in all). */
#define CANH_DATASETS(X)                                                 \
    X(SYSLOG,           "syslog")           /* anything that came as syslog / a log line */ \
    X(SSHD,             "sshd")                                          \
    X(SUDO,             "sudo")                                          \
    X(SU,               "su")                                            \
    X(AUTH,             "auth")             /* pam, login, useradd/groupadd/passwd ... */ \
    X(CRON,             "cron")                                          \
    X(AUDITD,           "auditd")                                        \
    X(PROCESS_CREATION, "process_creation") /* auditd EXECVE groups, JSON process events */ \
    X(FILE_EVENT,       "file_event")       /* auditd PATH CREATE records */ \
    X(WEBSERVER,        "webserver")        /* apache/nginx access logs */ \
    X(JSON,             "json")             /* a JSON object payload */   \
    X(KV,               "kv")               /* a key=value payload */ \
    X(NETWORK,          "network")          /* a packet, flow or protocol event (packets) */

typedef enum canh_dataset_id {
#define CANH_X_ENUM(e, name) CANH_DS_##e,
    CANH_DATASETS(CANH_X_ENUM)
#undef CANH_X_ENUM
    CANH_DS__BUILTIN
} canh_dataset_id_t;

#define CANH_DS_MAX 64
#define CANH_DS_BIT(id) (UINT64_C(1) << (id))

/*
 * Dataset names -> ids. Built-in names are registered at start; more are
 * registered while conf/fieldmap.yml loads (single-threaded start-up), and
 * the table is read-only afterwards. Returns -1 if unknown / table full.
 */
int         canh_dataset_lookup(const char *name, size_t len);
int         canh_dataset_register(const char *name);
const char *canh_dataset_name(int id);

#define CANH_FIELD_NUMBER  0x1  /* write as a JSON number */
#define CANH_FIELD_NULL    0x2  /* a JSON null: present, value empty, written as null */
#define CANH_FIELD_BOOL    0x4  /* a JSON true/false: written as true or false */
#define CANH_FIELD_PAYLOAD 0x8  /* a value of a decoded JSON payload (keyword rules search these) */

typedef struct canh_field {
    canh_slice_t name;   /* always set, also for static ids */
    canh_slice_t value;
    uint16_t id;         /* canh_field_id_t or CANH_F_DYNAMIC */
    uint16_t flags;
} canh_field_t;

#define CANH_EVENT_MAX_FIELDS 192

typedef struct canh_event {
    uint64_t datasets;        /* CANH_DS_BIT()s */
    int64_t  ts_ms;           /* event time, ms since the epoch (UTC); 0 if unknown */
    uint32_t nfields;
    uint32_t dropped_fields;  /* fields that did not fit (counted, not fatal) */
    uint64_t line_tag;        /* the caller's tag of its first line (canh_parser_feed_at) */
    canh_slice_t original;    /* the exact input bytes (event.original) */
    canh_arena_t *arena;      /* for decoded values; owned by the caller */
    struct canh_tzconv *tz;   /* reads zone-less stamps (engine/tz.h); owned by the
                                 parser; NULL: UTC */
    canh_field_t fields[CANH_EVENT_MAX_FIELDS];
} canh_event_t;

/*
 * Where an event came from: what the alert says of it (log.file.path,
 * log.offset, log.source.address, canh.input.*, canh.kafka.*) and what its
 * event.id covers. Inputs describe each line they hand to the pipeline;
 * an event takes its first line's (an audit group: its first record's).
 */
typedef enum canh_origin_kind {
    CANH_ORIGIN_NONE = 0,
    CANH_ORIGIN_FILE,    /* name: the path; ident: device, inode; pos: the line's byte offset */
    CANH_ORIGIN_STDIN,   /* pos: byte offset (canh scan) or message number (canh run) */
    CANH_ORIGIN_UDP,     /* name: the sender, "addr:port"; ident: canh's start (ns), 0; pos: datagram number */
    CANH_ORIGIN_TCP,     /* name: the sender; ident: canh's start (ns), connection number; pos: message number in it */
    CANH_ORIGIN_TLS,     /* the same, over TLS */
    CANH_ORIGIN_KAFKA,   /* name: the topic; ident: partition, 0; pos: the message's offset */
    CANH_ORIGIN_PCAP,    /* name: the capture file; ident: device, inode; pos: the frame's number */
    CANH_ORIGIN_CAPTURE  /* name: the interface; ident: canh's start (ns), 0; pos: the frame's number */
} canh_origin_kind_t;

typedef struct canh_origin {
    int kind;                    /* canh_origin_kind_t */
    const char *input;           /* the input's name in canh.yml; NULL: none (canh scan) */
    size_t input_len;
    const char *name;            /* see the kinds; NULL: none */
    size_t name_len;
    uint64_t ident[2];
    uint64_t pos;
} canh_origin_t;

/* Clears fields and datasets; keeps the arena and tz pointers (does not reset them). */
void canh_event_clear(canh_event_t *ev);

/* Adds a field; returns CANH_ENOMEM (and counts it) when the event is full. */
int canh_event_add(canh_event_t *ev, canh_field_id_t id, canh_slice_t value);
int canh_event_add_named(canh_event_t *ev, canh_slice_t name, canh_slice_t value, uint16_t flags);

/* First value of a static field, or NULL. */
const canh_field_t *canh_event_get(const canh_event_t *ev, canh_field_id_t id);
/* First field with this name (static or dynamic), or NULL. */
const canh_field_t *canh_event_find(const canh_event_t *ev, const char *name, size_t len);

/* Replaces the first value of a static field, or adds it. */
int canh_event_set(canh_event_t *ev, canh_field_id_t id, canh_slice_t value);

#endif
