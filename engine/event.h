/*
 * engine/event.h -- the event: what parsers produce and rules match.
 *
 * An event is a flat list of (name, value) fields whose names follow the
 * Elastic Common Schema ("source.ip", "url.path"). Well-known fields have a
 * static id (CANH_F_*) so the matcher can index them by number; any other
 * field (a JSON key, a key=value pair, an auditd record key) has id
 * CANH_F_DYNAMIC and is found by name. A field may appear more than once
 * (process.args, auditd "type" of each record): a rule on it matches if any
 * value matches.
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

/* X(ENUM, "ecs.name", kind) -- kind: S string, N number (JSON number on output). */
#define CANH_FIELDS(X)                                                   \
    X(TIMESTAMP,          "@timestamp",                    S)            \
    X(MESSAGE,            "message",                       S)            \
    X(HOST_NAME,          "host.name",                     S)            \
    X(PROCESS_NAME,       "process.name",                  S)            \
    X(PROCESS_PID,        "process.pid",                   N)            \
    X(SYSLOG_PRIORITY,    "log.syslog.priority",           N)            \
    X(SYSLOG_FAC_CODE,    "log.syslog.facility.code",      N)            \
    X(SYSLOG_FAC_NAME,    "log.syslog.facility.name",      S)            \
    X(SYSLOG_SEV_CODE,    "log.syslog.severity.code",      N)            \
    X(SYSLOG_SEV_NAME,    "log.syslog.severity.name",      S)            \
    X(SYSLOG_VERSION,     "log.syslog.version",            N)            \
    X(SYSLOG_HOSTNAME,    "log.syslog.hostname",           S)            \
    X(SYSLOG_APPNAME,     "log.syslog.appname",            S)            \
    X(SYSLOG_PROCID,      "log.syslog.procid",             S)            \
    X(SYSLOG_MSGID,       "log.syslog.msgid",              S)            \
    X(EVENT_ACTION,       "event.action",                  S)            \
    X(EVENT_OUTCOME,      "event.outcome",                 S)            \
    X(EVENT_CATEGORY,     "event.category",                S)            \
    X(EVENT_TYPE,         "event.type",                    S)            \
    X(USER_NAME,          "user.name",                     S)            \
    X(USER_ID,            "user.id",                       S)            \
    X(USER_EFFECTIVE_NAME,"user.effective.name",           S)            \
    X(USER_EFFECTIVE_ID,  "user.effective.id",             S)            \
    X(USER_TARGET_NAME,   "user.target.name",              S)            \
    X(USER_TARGET_ID,     "user.target.id",                S)            \
    X(USER_CHANGES_NAME,  "user.changes.name",             S)            \
    X(GROUP_NAME,         "group.name",                    S)            \
    X(GROUP_ID,           "group.id",                      S)            \
    X(SOURCE_IP,          "source.ip",                     S)            \
    X(SOURCE_PORT,        "source.port",                   N)            \
    X(SOURCE_DOMAIN,      "source.domain",                 S)            \
    X(DESTINATION_IP,     "destination.ip",                S)            \
    X(DESTINATION_PORT,   "destination.port",              N)            \
    X(DESTINATION_DOMAIN, "destination.domain",            S)            \
    X(HTTP_METHOD,        "http.request.method",           S)            \
    X(HTTP_REFERRER,      "http.request.referrer",         S)            \
    X(HTTP_VERSION,       "http.version",                  S)            \
    X(HTTP_STATUS,        "http.response.status_code",     N)            \
    X(HTTP_BYTES,         "http.response.body.bytes",      N)            \
    X(URL_ORIGINAL,       "url.original",                  S)            \
    X(URL_PATH,           "url.path",                      S)            \
    X(URL_QUERY,          "url.query",                     S)            \
    X(URL_EXTENSION,      "url.extension",                 S)            \
    X(URL_DOMAIN,         "url.domain",                    S)            \
    X(USER_AGENT,         "user_agent.original",           S)            \
    X(PROCESS_EXECUTABLE, "process.executable",            S)            \
    X(PROCESS_CMDLINE,    "process.command_line",          S)            \
    X(PROCESS_ARGS,       "process.args",                  S)            \
    X(PROCESS_ARGS_COUNT, "process.args_count",            N)            \
    X(PROCESS_PPID,       "process.parent.pid",            N)            \
    X(PROCESS_PARENT_EXE, "process.parent.executable",     S)            \
    X(PROCESS_PARENT_CMD, "process.parent.command_line",   S)            \
    X(PROCESS_CWD,        "process.working_directory",     S)            \
    X(PROCESS_TITLE,      "process.title",                 S)            \
    X(FILE_PATH,          "file.path",                     S)            \
    X(SUDO_COMMAND,       "sudo.command",                  S)            \
    X(SUDO_TTY,           "sudo.tty",                      S)            \
    X(SUDO_PWD,           "sudo.pwd",                      S)            \
    X(AUDITD_SERIAL,      "auditd.sequence",               N)            \
    X(AUDITD_TYPE,        "auditd.type",                   S)            \
    X(AUDITD_RESULT,      "auditd.result",                 S)            \
    X(AUDITD_KEY,         "auditd.key",                    S)

typedef enum canh_field_id {
#define CANH_X_ENUM(e, name, kind) CANH_F_##e,
    CANH_FIELDS(CANH_X_ENUM)
#undef CANH_X_ENUM
    CANH_F__COUNT,
    CANH_F_DYNAMIC = 0xffff
} canh_field_id_t;

/* Name and kind of a static field; canh_field_lookup returns CANH_F_DYNAMIC if unknown. */
const char     *canh_field_name(canh_field_id_t id);
int             canh_field_is_number(canh_field_id_t id);
canh_field_id_t canh_field_lookup(const char *name, size_t len);

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
    X(KV,               "kv")               /* a key=value payload */

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
#define CANH_FIELD_PAYLOAD 0x2  /* a value of a decoded JSON payload (keyword rules search these) */

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
    canh_slice_t original;    /* the exact input bytes (event.original) */
    canh_arena_t *arena;      /* for decoded values; owned by the caller */
    struct canh_tzconv *tz;   /* reads zone-less stamps (engine/tz.h); owned by the
                                 parser; NULL: UTC */
    canh_field_t fields[CANH_EVENT_MAX_FIELDS];
} canh_event_t;

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
