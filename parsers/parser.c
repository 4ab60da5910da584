/*
 * parsers/parser.c -- the parser object: one line in, finished events out.
 *
 * For each line: reset the event and its arena, read the syslog header
 * (syslog.c), then pick ONE decoder, by program name (sshd, sudo, su, the
 * shadow tools, systemd-logind, cron, auditd) or by the message's shape
 * (a JSON object, an access-log line, key=value pairs). Decoder failures
 * roll back that decoder's fields and count as parse errors; the event is
 * always emitted.
 *
 * Audit records are grouped by serial: the parser copies each record line
 * into its own buffer and emits one event per group when a record with
 * another serial arrives, a non-audit line arrives (group first, then the
 * line), an EOE record arrives, the group is full, or on flush. Groups are
 * built in a second event with its own arena, so the line being fed is not
 * disturbed.
 *
 * Stamps without a zone are read in opts.tz through the parser's own
 * converter (engine/tz.h), which keeps the offset interval of the last
 * stamp: logs come in time order, so most stamps cost one comparison.
 *
 * Ownership: the parser owns both events, both arenas, the group buffer
 * and the converter; it borrows the zone. An emitted event borrows them
 * (and the caller's line) for the callback only. Thread: one parser per
 * worker thread; no shared state (zones are read-only).
 */
#include "parse_util.h"

#include <stdlib.h>
#include <time.h>

int canh_access_shape(canh_slice_t msg);   /* decode_access.c */
int canh_kv_shape(canh_slice_t msg);       /* decode_kv.c */

#define GROUP_MAX 64                /* records per audit event; more are emitted early */
#define GROUP_BYTES_MAX (1u << 20)  /* bytes held per audit event */
#define REF_REFRESH 65536           /* lines between "now" refreshes */

typedef struct grec {
    uint32_t off, len;     /* the record's line in gbuf */
    uint32_t moff, mlen;   /* its message (audit record text) in gbuf */
    uint64_t tag;          /* the caller's tag of the line (canh_parser_feed_at) */
} grec_t;

struct canh_parser {
    canh_event_t ev;          /* the line being parsed */
    canh_arena_t arena;
    canh_parse_opts_t opts;
    canh_tzconv_t tz;         /* opts.tz with its last interval; both events point here */
    int ref_auto;             /* reference_ms follows the clock */
    uint32_t ref_tick;
    uint64_t errors;
    const char *last_error;   /* why the last counted error happened (static text) */
    uint64_t base_ds;         /* extra datasets (--dataset), added to every event */

    /* held audit group */
    int gn;
    uint64_t gserial;
    char *gbuf;
    size_t glen, gcap;
    grec_t grec[GROUP_MAX];
    canh_event_t gev;
    canh_arena_t garena;
};

static void set_opts(canh_parser_t *p, const canh_parse_opts_t *opts)
{
    memset(&p->opts, 0, sizeof(p->opts));
    if (opts)
        p->opts = *opts;
    p->ref_auto = 0;
    if (!p->opts.reference_ms) {
        p->ref_auto = 1;
        p->opts.reference_ms = (int64_t)time(NULL) * 1000;
    }
    p->base_ds = p->opts.extra_datasets;
    canh_tzconv_init(&p->tz, p->opts.tz);
}

canh_parser_t *canh_parser_new(const canh_parse_opts_t *opts)
{
    canh_parser_t *p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    set_opts(p, opts);
    canh_arena_init(&p->arena, 16384);
    canh_arena_init(&p->garena, 16384);
    p->ev.arena = &p->arena;
    p->gev.arena = &p->garena;
    p->ev.tz = &p->tz;
    p->gev.tz = &p->tz;
    return p;
}

void canh_parser_reset(canh_parser_t *p, const canh_parse_opts_t *opts)
{
    set_opts(p, opts);
    p->gn = 0;
    p->glen = 0;
}

void canh_parser_free(canh_parser_t *p)
{
    if (!p)
        return;
    canh_arena_free(&p->arena);
    canh_arena_free(&p->garena);
    free(p->gbuf);
    free(p);
}

const char *canh_parser_last_error(const canh_parser_t *p)
{
    return p && p->last_error ? p->last_error : "";
}

uint64_t canh_parser_errors(const canh_parser_t *p)
{
    return p ? p->errors : 0;
}

/* ------------------------------------------------------------- dispatch */

enum prog_kind {
    PROG_OTHER = 0, PROG_SSHD, PROG_SUDO, PROG_SU, PROG_SHADOW, PROG_LOGIND, PROG_CRON, PROG_AUDIT
};

static int classify(canh_slice_t prog)
{
    /* base name, and before "(pam_unix)" */
    const char *e = prog.len ? memchr(prog.ptr, '(', prog.len) : NULL;
    size_t n = e ? (size_t)(e - prog.ptr) : prog.len;
    const char *s = prog.ptr;
    for (size_t i = n; i > 0; i--)
        if (s[i - 1] == '/') {
            n -= i;
            s += i;
            break;
        }
    canh_slice_t b = canh_slice(s, n);
    switch (n) {
    case 2:
        if (canh_slice_eq(b, "su"))
            return PROG_SU;
        break;
    case 4:
        if (canh_slice_eq(b, "sshd"))
            return PROG_SSHD;
        if (canh_slice_eq(b, "sudo"))
            return PROG_SUDO;
        if (canh_slice_eq(b, "cron") || canh_slice_eq(b, "CRON"))
            return PROG_CRON;
        break;
    case 5:
        if (canh_slice_eq(b, "audit"))
            return PROG_AUDIT;
        if (canh_slice_eq(b, "crond"))
            return PROG_CRON;
        break;
    case 6:
        if (canh_slice_eq(b, "passwd"))
            return PROG_SHADOW;
        if (canh_slice_eq(b, "auditd"))
            return PROG_AUDIT;
        break;
    case 7:
        if (canh_slice_eq(b, "useradd") || canh_slice_eq(b, "usermod") ||
            canh_slice_eq(b, "userdel") || canh_slice_eq(b, "gpasswd"))
            return PROG_SHADOW;
        if (canh_slice_eq(b, "audispd"))
            return PROG_AUDIT;
        break;
    case 8:
        if (canh_slice_eq(b, "groupadd") || canh_slice_eq(b, "groupdel") ||
            canh_slice_eq(b, "chpasswd") || canh_slice_eq(b, "groupmod"))
            return PROG_SHADOW;
        break;
    case 14:
        if (canh_slice_eq(b, "systemd-logind"))
            return PROG_LOGIND;
        break;
    default:
        break;
    }
    return PROG_OTHER;
}

static int is_pam(canh_slice_t m, canh_slice_t prog)
{
    if (CANH_PREFIX(m.ptr, m.len, "pam_"))
        return 1;
    const char *e = prog.len ? memchr(prog.ptr, '(', prog.len) : NULL;
    return e && CANH_PREFIX(e, prog.len - (size_t)(e - prog.ptr), "(pam_");
}

/* Runs one decoder; returns 1 if it failed (its fields are rolled back). */
/* Runs one decoder; on failure rolls its fields back and says what it expected. */
static const char *dispatch(canh_event_t *ev, const canh_syslog_info_t *info)
{
    const char *what = NULL;
    canh_slice_t prog = info->prog, m = info->msg;
    while (m.len && (m.ptr[0] == ' ' || m.ptr[0] == '\t')) {
        m.ptr++;
        m.len--;
    }
    uint32_t mark = ev->nfields;
    uint64_t ds = ev->datasets;
    int rc = CANH_OK;
    switch (classify(prog)) {
    case PROG_SSHD:
        ev->datasets |= CANH_DS_BIT(CANH_DS_SSHD);
        what = "not a well-formed sshd message";
        rc = is_pam(m, prog) ? canh_decode_auth(ev, prog, info->msg) : canh_decode_sshd(ev, info->msg);
        break;
    case PROG_SUDO:
        ev->datasets |= CANH_DS_BIT(CANH_DS_SUDO);
        what = "not a well-formed sudo message";
        rc = is_pam(m, prog) ? canh_decode_auth(ev, prog, info->msg) : canh_decode_sudo(ev, info->msg);
        break;
    case PROG_SU:
        ev->datasets |= CANH_DS_BIT(CANH_DS_SU);
        what = "not a well-formed su message";
        rc = is_pam(m, prog) ? canh_decode_auth(ev, prog, info->msg) : canh_decode_su(ev, info->msg);
        break;
    case PROG_SHADOW:
    case PROG_LOGIND:
        ev->datasets |= CANH_DS_BIT(CANH_DS_AUTH);
        what = "not a well-formed account or session message";
        rc = canh_decode_auth(ev, prog, info->msg);
        break;
    case PROG_CRON:
        ev->datasets |= CANH_DS_BIT(CANH_DS_CRON);
        what = "not a well-formed account or session message";
        rc = canh_decode_auth(ev, prog, info->msg);
        break;
    case PROG_AUDIT:
        /* records were grouped before we got here; other auditd chatter */
        ev->datasets |= CANH_DS_BIT(CANH_DS_AUDITD);
        break;
    default:
        if (!m.len)
            break;
        if (is_pam(m, prog))
            what = "not a well-formed pam message", rc = canh_decode_auth(ev, prog, info->msg);
        else if (m.ptr[0] == '{')
            what = "not a well-formed JSON object", rc = canh_decode_json(ev, m);
        else if (canh_access_shape(m))
            what = "not a well-formed web access-log line", rc = canh_decode_access(ev, m);
        else if (canh_kv_shape(m))
            what = "not a well-formed key=value list", rc = canh_decode_kv(ev, m);
        break;
    }
    if (rc != CANH_OK) {
        ev->nfields = mark;
        ev->datasets = ds;
        return what ? what : "not a well-formed message";
    }
    return NULL;
}

/*
 * The syslog dataset (Sigma's bare `product: linux`) is for what came as a
 * system log: a line with a syslog header, or a plain line no decoder
 * claimed. A raw access-log, JSON, key=value or audit.log line only reaches
 * rules written for its own log source.
 */
static uint64_t syslog_ds(const canh_syslog_info_t *info, const canh_event_t *ev)
{
    const uint64_t own = CANH_DS_BIT(CANH_DS_WEBSERVER) | CANH_DS_BIT(CANH_DS_JSON) |
                         CANH_DS_BIT(CANH_DS_KV) | CANH_DS_BIT(CANH_DS_AUDITD);
    return info->is_syslog || !(ev->datasets & own) ? CANH_DS_BIT(CANH_DS_SYSLOG) : 0;
}

/* ---------------------------------------------------------- audit groups */

static int emit_group(canh_parser_t *p, canh_emit_fn emit, void *ud)
{
    canh_event_t *ev = &p->gev;
    canh_syslog_info_t info;
    int err = 0;
    canh_event_clear(ev);
    canh_arena_reset(&p->garena);

    const grec_t *r0 = &p->grec[0];
    ev->line_tag = r0->tag;   /* the event is where its first record is */
    if (canh_syslog_parse_info(ev, p->gbuf + r0->off, r0->len, &p->opts, &info) != CANH_OK)
        err = 1;
    ev->original = canh_slice(p->gbuf, p->glen ? p->glen - 1 : 0);   /* minus the last '\n' */
    if (p->gn > 1) {
        size_t total = 0;
        for (int i = 0; i < p->gn; i++)
            total += p->grec[i].mlen + 1;
        char *m = canh_arena_alloc(&p->garena, total);
        if (m) {
            size_t o = 0;
            for (int i = 0; i < p->gn; i++) {
                if (i)
                    m[o++] = '\n';
                memcpy(m + o, p->gbuf + p->grec[i].moff, p->grec[i].mlen);
                o += p->grec[i].mlen;
            }
            canh_event_set(ev, CANH_F_MESSAGE, canh_slice(m, o));
        }
    }
    int bad_time = 0;
    for (int i = 0; i < p->gn; i++) {
        int rc = canh_decode_auditd(ev, canh_slice(p->gbuf + p->grec[i].moff, p->grec[i].mlen));
        if (rc == CANH_AUDIT_BAD_TIME)
            bad_time = 1;
        else if (rc != CANH_OK)
            err = 1;
    }
    ev->datasets |= p->base_ds | CANH_DS_BIT(CANH_DS_AUDITD);
    if (info.is_syslog)
        ev->datasets |= CANH_DS_BIT(CANH_DS_SYSLOG);
    p->gn = 0;
    p->glen = 0;
    if (err || bad_time) {
        p->errors++;
        p->last_error = err ? "malformed audit record (in the group that ends here)"
                            : "audit time out of range (past the year 9999: not used; in the "
                              "group that ends here)";
    }
    return emit(ud, ev);
}

static int group_add(canh_parser_t *p, const char *line, size_t len, canh_slice_t msg,
                     uint64_t tag)
{
    if (p->glen + len + 1 > p->gcap) {
        size_t cap = p->gcap ? p->gcap : 4096;
        while (cap < p->glen + len + 1)
            cap *= 2;
        char *nb = realloc(p->gbuf, cap);
        if (!nb)
            return CANH_ENOMEM;
        p->gbuf = nb;
        p->gcap = cap;
    }
    grec_t *r = &p->grec[p->gn++];
    r->off = (uint32_t)p->glen;
    r->len = (uint32_t)len;
    r->moff = (uint32_t)(p->glen + (size_t)(msg.ptr - line));
    r->mlen = (uint32_t)msg.len;
    r->tag = tag;
    memcpy(p->gbuf + p->glen, line, len);
    p->glen += len;
    p->gbuf[p->glen++] = '\n';
    return CANH_OK;
}

/* ------------------------------------------------------------------ feed */

int canh_parser_feed(canh_parser_t *p, const char *line, size_t len,
                     canh_emit_fn emit, void *ud)
{
    return canh_parser_feed_at(p, line, len, 0, emit, ud);
}

int canh_parser_feed_at(canh_parser_t *p, const char *line, size_t len, uint64_t tag,
                        canh_emit_fn emit, void *ud)
{
    if (!p || (!line && len) || !emit)
        return CANH_EINVAL;
    if (!line)
        line = "";
    if (p->ref_auto && ++p->ref_tick >= REF_REFRESH) {
        p->ref_tick = 0;
        p->opts.reference_ms = (int64_t)time(NULL) * 1000;
    }
    canh_event_t *ev = &p->ev;
    canh_event_clear(ev);
    canh_arena_reset(&p->arena);
    ev->line_tag = tag;

    canh_syslog_info_t info;
    int err = canh_syslog_parse_info(ev, line, len, &p->opts, &info) != CANH_OK;

    /* An audit record? ("type=... msg=audit(...)", maybe "node=... " first) */
    canh_slice_t m = info.msg;
    while (m.len && m.ptr[0] == ' ') {
        m.ptr++;
        m.len--;
    }
    uint64_t serial;
    canh_slice_t type;
    if (!err && m.len > 20 && (m.ptr[0] == 't' || m.ptr[0] == 'n') &&
        m.ptr >= line && m.ptr + m.len <= line + len && len < GROUP_BYTES_MAX &&
        canh_audit_stamp(m, NULL, &serial, &type) >= CANH_OK) {   /* a bad time is counted later */
        int rc = CANH_OK;
        if (p->gn && (serial != p->gserial || p->glen + len + 1 > GROUP_BYTES_MAX)) {
            if ((rc = emit_group(p, emit, ud)) != 0)
                return rc;
        }
        if (group_add(p, line, len, m, tag) != CANH_OK) {
            /* no memory to hold it: emit the line on its own */
            p->errors++;
            p->last_error = "out of memory holding an audit record group";
            canh_decode_auditd(ev, m);
            ev->datasets |= p->base_ds | (info.is_syslog ? CANH_DS_BIT(CANH_DS_SYSLOG) : 0);
            return emit(ud, ev);
        }
        p->gserial = serial;
        if (p->gn >= GROUP_MAX || canh_slice_eq(type, "EOE"))
            rc = emit_group(p, emit, ud);
        return rc;
    }

    if (p->gn) {
        int rc = emit_group(p, emit, ud);
        if (rc)
            return rc;
    }
    const char *bad = dispatch(ev, &info);
    ev->datasets |= p->base_ds | syslog_ds(&info, ev);
    if (err || bad) {
        p->errors++;
        p->last_error = err ? "malformed syslog header (PRI, timestamp or structured data)"
                            : bad;
    }
    return emit(ud, ev);
}

int canh_parser_flush(canh_parser_t *p, canh_emit_fn emit, void *ud)
{
    if (!p || !emit)
        return CANH_EINVAL;
    return p->gn ? emit_group(p, emit, ud) : CANH_OK;
}
