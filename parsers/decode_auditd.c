/*
 * parsers/decode_auditd.c -- one Linux audit record
 *
 *   [node=N ]type=T msg=audit(SEC.MS:SERIAL): key=value key="value" ... [msg='k=v ...']
 *
 * Every key=value becomes "auditd.data.<key>" (so a group's SYSCALL a0 and
 * EXECVE a0 are two values of auditd.data.a0: Sigma auditd rules test each
 * record's own keys, and a rule on a repeated field matches any value);
 * hex-encoded values (EXECVE args, proctitle,
 * PATH name, comm/exe, cmd, acct, cwd) are decoded into the arena, and the
 * usual ECS fields are set (process.*, user.*, file.path, auditd.*). Called
 * once per record of a group, all into the same event (parser.c does the
 * grouping), so per-group singletons use canh_event_set.
 *
 * Ownership: values borrow the record or live in ev->arena. Thread: the caller's.
 */
#include "parse_util.h"

#include <stdio.h>

#define MAX_ARGS 128


int canh_audit_stamp(canh_slice_t msg, int64_t *ms, uint64_t *serial, canh_slice_t *type)
{
    const char *p = msg.ptr;
    size_t n = msg.len, i = 0;
    while (i < n && p[i] == ' ')
        i++;
    if (CANH_PREFIX(p + i, n - i, "node=")) {
        while (i < n && p[i] != ' ')
            i++;
        while (i < n && p[i] == ' ')
            i++;
    }
    if (!CANH_PREFIX(p + i, n - i, "type="))
        return CANH_EPARSE;
    i += 5;
    size_t ts = i;
    while (i < n && p[i] != ' ')
        i++;
    if (i == ts)
        return CANH_EPARSE;
    if (type)
        *type = canh_slice(p + ts, i - ts);
    while (i < n && p[i] == ' ')
        i++;
    if (!CANH_PREFIX(p + i, n - i, "msg=audit("))
        return CANH_EPARSE;
    i += 10;
    int64_t sec = 0, frac = 0;
    uint64_t ser = 0;
    size_t s = i;
    while (i < n && canh_is_digit(p[i]) && i - s < 18)
        sec = sec * 10 + (p[i++] - '0');
    if (i == s || i >= n || p[i] != '.')
        return CANH_EPARSE;
    i++;
    frac = canh_frac_ms(p, n, &i);
    if (i >= n || p[i] != ':')
        return CANH_EPARSE;
    s = ++i;
    while (i < n && canh_is_digit(p[i]) && i - s < 19)
        ser = ser * 10 + (uint64_t)(p[i++] - '0');
    if (i == s || i >= n || p[i] != ')')
        return CANH_EPARSE;
    if (serial)
        *serial = ser;
    if (sec > CANH_AUDIT_SEC_MAX)   /* up to 18 digits: sec * 1000 could overflow */
        return CANH_AUDIT_BAD_TIME;
    if (ms)
        *ms = sec * 1000 + frac;
    return CANH_OK;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

static int is_hex(canh_slice_t v)
{
    if (v.len < 2 || (v.len & 1))
        return 0;
    for (size_t i = 0; i < v.len; i++)
        if (hexval(v.ptr[i]) < 0)
            return 0;
    return 1;
}

/* Hex to bytes in the arena; NULs become spaces, trailing ones dropped. */
static canh_slice_t unhex(canh_event_t *ev, canh_slice_t v)
{
    size_t n = v.len / 2;
    char *d = canh_arena_alloc(ev->arena, n ? n : 1);
    if (!d)
        return v;
    for (size_t i = 0; i < n; i++) {
        char c = (char)(hexval(v.ptr[2 * i]) << 4 | hexval(v.ptr[2 * i + 1]));
        d[i] = c ? c : ' ';
    }
    while (n && d[n - 1] == ' ' && (hexval(v.ptr[2 * n - 2]) | hexval(v.ptr[2 * n - 1])) == 0)
        n--;
    return canh_slice(d, n);
}

typedef struct rec_state {
    canh_event_t *ev;
    canh_slice_t type;
    int is_execve;
    int have_acct;
    canh_slice_t args[MAX_ARGS];
    int nargs;
} rec_state_t;

static int hex_key(canh_slice_t k, int is_execve)
{
    if (is_execve && k.len >= 2 && k.ptr[0] == 'a' && canh_is_digit(k.ptr[1]))
        return 1;
    return canh_slice_eq(k, "proctitle") || canh_slice_eq(k, "name") || canh_slice_eq(k, "comm") ||
           canh_slice_eq(k, "exe") || canh_slice_eq(k, "cmd") || canh_slice_eq(k, "acct") ||
           canh_slice_eq(k, "cwd") || canh_slice_eq(k, "old-comm") || canh_slice_eq(k, "new-comm");
}

static int is_arg_key(canh_slice_t k)
{
    if (k.len < 2 || k.ptr[0] != 'a')
        return 0;
    for (size_t i = 1; i < k.len; i++)
        if (!canh_is_digit(k.ptr[i]))
            return 0;
    return 1;
}

static void add_data(rec_state_t *st, canh_slice_t key, canh_slice_t val)
{
    static const char pre[] = "auditd.data.";
    canh_event_t *ev = st->ev;
    /* a key may hold dots: made a usable field path */
    canh_slice_t nm = canh_field_path(ev->arena, pre, sizeof(pre) - 1, key.ptr, key.len);
    if (nm.ptr)
        canh_event_add_named(ev, nm, val, 0);
}

static void map_ecs(rec_state_t *st, canh_slice_t k, canh_slice_t v)
{
    canh_event_t *ev = st->ev;
    switch (k.len) {
    case 3:
        if (canh_slice_eq(k, "uid"))
            canh_event_set(ev, CANH_F_USER_ID, v);
        else if (canh_slice_eq(k, "pid"))
            canh_event_set(ev, CANH_F_PROCESS_PID, v);
        else if (canh_slice_eq(k, "key")) {
            if (!canh_slice_eq(v, "(null)"))
                canh_event_set(ev, CANH_F_AUDITD_KEY, v);
        } else if (canh_slice_eq(k, "exe"))
            canh_event_set(ev, CANH_F_PROCESS_EXECUTABLE, v);
        else if (canh_slice_eq(k, "cwd"))
            canh_event_set(ev, CANH_F_PROCESS_CWD, v);
        else if (canh_slice_eq(k, "res")) {
            int ok = canh_slice_eq(v, "success") || canh_slice_eq(v, "1");
            canh_event_set(ev, CANH_F_AUDITD_RESULT, ok ? CANH_SLICE("success") : CANH_SLICE("fail"));
            canh_event_set(ev, CANH_F_EVENT_OUTCOME, ok ? CANH_SLICE("success") : CANH_SLICE("failure"));
        } else if (canh_slice_eq(k, "cmd")) {
            canh_event_set(ev, CANH_F_PROCESS_CMDLINE, v);
        }
        break;
    case 4:
        if (canh_slice_eq(k, "euid"))
            canh_event_set(ev, CANH_F_USER_EFFECTIVE_ID, v);
        else if (canh_slice_eq(k, "ppid"))
            canh_event_set(ev, CANH_F_PROCESS_PPID, v);
        else if (canh_slice_eq(k, "comm"))
            canh_event_set(ev, CANH_F_PROCESS_NAME, v);
        else if (canh_slice_eq(k, "name") && st->type.len == 4 && memcmp(st->type.ptr, "PATH", 4) == 0)
            canh_event_add(ev, CANH_F_FILE_PATH, v);
        else if (canh_slice_eq(k, "acct")) {
            canh_event_set(ev, CANH_F_USER_NAME, v);
            st->have_acct = 1;
        } else if (canh_slice_eq(k, "argc") && st->is_execve)
            canh_event_set(ev, CANH_F_PROCESS_ARGS_COUNT, v);
        break;
    case 2:
        if (canh_slice_eq(k, "id") && !st->have_acct)
            canh_event_set(ev, CANH_F_USER_NAME, v);
        break;
    case 7:
        if (canh_slice_eq(k, "success")) {
            int ok = canh_slice_eq(v, "yes");
            canh_event_set(ev, CANH_F_AUDITD_RESULT, ok ? CANH_SLICE("success") : CANH_SLICE("fail"));
            canh_event_set(ev, CANH_F_EVENT_OUTCOME, ok ? CANH_SLICE("success") : CANH_SLICE("failure"));
        }
        break;
    case 8:
        if (canh_slice_eq(k, "nametype") && canh_slice_eq(v, "CREATE"))
            ev->datasets |= CANH_DS_BIT(CANH_DS_FILE_EVENT);
        break;
    case 9:
        if (canh_slice_eq(k, "proctitle"))
            canh_event_set(ev, CANH_F_PROCESS_TITLE, v);
        break;
    default:
        break;
    }
}

static inline int is_sep(char c)
{
    return c == ' ' || c == '\x1d' || c == '\t';
}

/* key=value pairs in [p, p+n); inner=1 inside msg='...'. */
static void parse_pairs(rec_state_t *st, const char *p, size_t n, int inner)
{
    size_t i = 0;
    while (i < n) {
        while (i < n && is_sep(p[i]))
            i++;
        size_t ks = i;
        while (i < n && p[i] != '=' && !is_sep(p[i]))
            i++;
        if (i >= n || p[i] != '=' || i == ks) {
            /* a bare word (e.g. "op=... user" junk): skip it */
            while (i < n && !is_sep(p[i]))
                i++;
            continue;
        }
        canh_slice_t key = canh_slice(p + ks, i - ks);
        i++;
        canh_slice_t val;
        int quoted = 0;
        if (i < n && (p[i] == '"' || p[i] == '\'')) {
            char q = p[i++];
            size_t vs = i;
            if (q == '\'') {
                /* msg='...': ends at the next quote outside "..." */
                int inq = 0;
                while (i < n && (inq || p[i] != '\'')) {
                    if (p[i] == '"')
                        inq = !inq;
                    i++;
                }
            } else {
                while (i < n && p[i] != '"')
                    i++;
            }
            val = canh_slice(p + vs, i - vs);
            if (i < n)
                i++;
            quoted = q == '"' ? 1 : 2;
        } else {
            size_t vs = i;
            while (i < n && !is_sep(p[i]))
                i++;
            val = canh_slice(p + vs, i - vs);
        }
        if (quoted == 2 && canh_slice_eq(key, "msg") && !inner) {
            parse_pairs(st, val.ptr, val.len, 1);
            continue;
        }
        if (!quoted && hex_key(key, st->is_execve) && is_hex(val))
            val = unhex(st->ev, val);
        add_data(st, key, val);
        if (st->is_execve && is_arg_key(key)) {
            if (st->nargs < MAX_ARGS)
                st->args[st->nargs++] = val;
            continue;
        }
        map_ecs(st, key, val);
    }
}

int canh_decode_auditd(canh_event_t *ev, canh_slice_t msg)
{
    int64_t ms;
    uint64_t serial;
    canh_slice_t type;
    if (!ev || !ev->arena)
        return CANH_EINVAL;
    int stamp = canh_audit_stamp(msg, &ms, &serial, &type);
    if (stamp < 0)
        return CANH_EPARSE;
    const char *body = memchr(type.ptr, ')', msg.len - (size_t)(type.ptr - msg.ptr));
    if (!body)
        return CANH_EPARSE;
    body++;
    if (body < msg.ptr + msg.len && *body == ':')
        body++;

    ev->datasets |= CANH_DS_BIT(CANH_DS_AUDITD);
    if (!canh_event_get(ev, CANH_F_AUDITD_SERIAL)) {
        /* first record of the event: the group's serial and time */
        char *s = canh_arena_alloc(ev->arena, 24);
        if (s) {
            int l = snprintf(s, 24, "%llu", (unsigned long long)serial);
            canh_event_add(ev, CANH_F_AUDITD_SERIAL, canh_slice(s, (size_t)l));
        }
        if (stamp == CANH_OK)
            canh_event_set_ts(ev, ms);
    }
    canh_event_add(ev, CANH_F_AUDITD_TYPE, type);

    rec_state_t st;
    st.ev = ev;
    st.type = type;
    st.is_execve = canh_slice_eq(type, "EXECVE");
    st.have_acct = 0;
    st.nargs = 0;
    if (st.is_execve)
        ev->datasets |= CANH_DS_BIT(CANH_DS_PROCESS_CREATION);
    parse_pairs(&st, body, (size_t)(msg.ptr + msg.len - body), 0);

    if (st.is_execve && st.nargs) {
        size_t total = 0;
        for (int a = 0; a < st.nargs; a++) {
            canh_event_add(ev, CANH_F_PROCESS_ARGS, st.args[a]);
            total += st.args[a].len + 1;
        }
        char *cl = canh_arena_alloc(ev->arena, total);
        if (cl) {
            size_t o = 0;
            for (int a = 0; a < st.nargs; a++) {
                if (a)
                    cl[o++] = ' ';
                memcpy(cl + o, st.args[a].ptr, st.args[a].len);
                o += st.args[a].len;
            }
            canh_event_set(ev, CANH_F_PROCESS_CMDLINE, canh_slice(cl, o));
        }
    }
    return stamp;
}
