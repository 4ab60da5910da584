/*
 * parsers/syslog.c -- the syslog header: RFC 5424, RFC 3164 (with or
 * without <PRI>, BSD or ISO 8601 stamps), or no header at all.
 *
 * Fills ev->original, @timestamp/ts_ms, message, host.name, process.name,
 * process.pid and log.syslog.*; 5424 SD-PARAMs become dynamic fields
 * "log.syslog.structured_data.<SD-ID>.<name>". A line with no recognisable
 * header is kept whole as the message (not an error); a line that starts
 * like syslog but is malformed returns CANH_EPARSE with the whole line as
 * the message and no other header field.
 *
 * A stamp with no zone (RFC 3164, ISO 8601 or RFC 5424 without an offset)
 * is wall-clock time in the event's zone (ev->tz); a year-less one gets
 * its year from the reference time read in that zone (see parse.h).
 *
 * Ownership: values borrow the line; unescaped SD values, field names and
 * @timestamp go into ev->arena. Thread: the caller's (one parser = one thread).
 */
#include "parse_util.h"

#include <time.h>

static const char *const num_str[24] = {
    "0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11",
    "12", "13", "14", "15", "16", "17", "18", "19", "20", "21", "22", "23"
};
static const char *const fac_name[24] = {
    "kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news",
    "uucp", "cron", "authpriv", "ftp", "ntp", "security", "console", "solaris-cron",
    "local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7"
};
static const char *const sev_name[8] = {
    "emergency", "alert", "critical", "error", "warning", "notice", "informational", "debug"
};


/* The syslog MSG: no leading or trailing white space (as loghub and most SIEMs). */
static canh_slice_t trim_both(const char *p, size_t n)
{
    while (n && (*p == ' ' || *p == '\t')) {
        p++;
        n--;
    }
    while (n && (p[n - 1] == ' ' || p[n - 1] == '\t' || p[n - 1] == '\r' || p[n - 1] == '\n'))
        n--;
    return canh_slice(p, n);
}

static canh_slice_t trim_right(const char *p, size_t n)
{
    while (n && (p[n - 1] == ' ' || p[n - 1] == '\t' || p[n - 1] == '\r' || p[n - 1] == '\n'))
        n--;
    return canh_slice(p, n);
}

/* "<N>" at the start; returns bytes used, 0 if absent, -1 if malformed. */
static int parse_pri(const char *p, size_t n, int *pri)
{
    if (n < 1 || p[0] != '<')
        return 0;
    if (n < 2 || !canh_is_digit(p[1]))
        return 0;   /* "<html>", "<foo": not syslog */
    int v = 0;
    size_t i = 1;
    while (i < n && canh_is_digit(p[i]) && i < 5) {
        v = v * 10 + (p[i] - '0');
        i++;
    }
    if (i >= n || p[i] != '>' || i > 4 || v > 191)
        return -1;
    *pri = v;
    return (int)i + 1;
}

static void add_pri(canh_event_t *ev, const char *digits, size_t n, int pri)
{
    CANH_ADD(ev, SYSLOG_PRIORITY, digits, n);
    canh_event_add(ev, CANH_F_SYSLOG_FAC_CODE, canh_slice_cstr(num_str[pri >> 3]));
    canh_event_add(ev, CANH_F_SYSLOG_FAC_NAME, canh_slice_cstr(fac_name[pri >> 3]));
    canh_event_add(ev, CANH_F_SYSLOG_SEV_CODE, canh_slice_cstr(num_str[pri & 7]));
    canh_event_add(ev, CANH_F_SYSLOG_SEV_NAME, canh_slice_cstr(sev_name[pri & 7]));
}

static int month_of(const char *p)
{
    static const char names[] = "janfebmaraprmayjunjulaugsepoctnovdec";
    char a = (char)(p[0] | 0x20), b = (char)(p[1] | 0x20), c = (char)(p[2] | 0x20);
    for (int m = 0; m < 12; m++)
        if (names[m * 3] == a && names[m * 3 + 1] == b && names[m * 3 + 2] == c)
            return m + 1;
    return 0;
}

/* "Now" for a stamp with no year: the reference time of opts. */
static int64_t ref_ms_of(const canh_parse_opts_t *opts)
{
    if (opts && opts->reference_ms)
        return opts->reference_ms;
    return (int64_t)time(NULL) * 1000;
}

static int year_of_ms(int64_t ms)
{
    int64_t days = ms >= 0 ? ms / 86400000 : (ms - 86399999) / 86400000;
    /* civil year from days, cheap: start from an estimate and correct */
    int y = (int)(1970 + days / 365);
    while (canh_days_from_civil(y, 1, 1) > days)
        y--;
    while (canh_days_from_civil(y + 1, 1, 1) <= days)
        y++;
    return y;
}

static int is_leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* How far after the reference time a year-less stamp may lie and still be
 * of the reference's year: clocks that drift, a sender in another zone
 * (at most 26 hours apart), a file written just after its mtime was read. */
#define YEAR_SLACK_MS ((int64_t)2 * 86400000)

/*
 * The year of a year-less stamp (month, day) at sod_ms into the day: the
 * latest one that puts it at most YEAR_SLACK_MS after the reference time,
 * both read as wall-clock time in the event's zone; Feb 29 only in a leap
 * year. Returns the stamp's wall-clock ms.
 */
static int64_t infer_year(canh_event_t *ev, const canh_parse_opts_t *opts, int mon, int day,
                          int64_t sod_ms)
{
    int64_t ref = ref_ms_of(opts);
    if (ev->tz)
        ref = canh_tzconv_to_wall(ev->tz, ref);
    int y = year_of_ms(ref);
    if (mon == 1 && day <= 3)       /* only then can next year's be at most 2 days ahead */
        y++;
    for (int tries = 0; tries < 9; tries++, y--) {
        if (mon == 2 && day == 29 && !is_leap(y))
            continue;
        int64_t w = canh_days_from_civil(y, (unsigned)mon, (unsigned)day) * 86400000 + sod_ms;
        if (w <= ref + YEAR_SLACK_MS)
            return w;
    }
    return canh_days_from_civil(y, (unsigned)mon, (unsigned)day) * 86400000 + sod_ms;
}

/*
 * "Mmm dd [yyyy ]hh:mm:ss[.fff]" -> bytes used, 0 if the line does not start
 * like that, -1 if it starts with a month and a digit but is malformed.
 */
static int parse_bsd_stamp(canh_event_t *ev, const char *p, size_t n,
                           const canh_parse_opts_t *opts, int64_t *out)
{
    if (n < 5 || p[3] != ' ' || !month_of(p))
        return 0;
    if (!canh_is_digit(p[4]) && !(p[4] == ' ' && n > 5 && canh_is_digit(p[5])))
        return 0;
    int mon = month_of(p);
    size_t i = 4;
    if (p[i] == ' ')
        i++;
    int day = 0;
    while (i < n && canh_is_digit(p[i]) && day < 100)
        day = day * 10 + (p[i++] - '0');
    if (day < 1 || day > 31 || i >= n || p[i] != ' ')
        return -1;
    i++;
    int year = 0;
    if (i + 5 <= n && canh_is_digit(p[i]) && canh_is_digit(p[i + 1]) && canh_is_digit(p[i + 2]) &&
        canh_is_digit(p[i + 3]) && p[i + 4] == ' ') {
        year = (p[i] - '0') * 1000 + (p[i + 1] - '0') * 100 + (p[i + 2] - '0') * 10 + (p[i + 3] - '0');
        i += 5;
    }
    if (i + 8 > n || p[i + 2] != ':' || p[i + 5] != ':')
        return -1;
    int h = (canh_is_digit(p[i]) && canh_is_digit(p[i + 1])) ? (p[i] - '0') * 10 + p[i + 1] - '0' : -1;
    int mi = (canh_is_digit(p[i + 3]) && canh_is_digit(p[i + 4])) ? (p[i + 3] - '0') * 10 + p[i + 4] - '0' : -1;
    int s = (canh_is_digit(p[i + 6]) && canh_is_digit(p[i + 7])) ? (p[i + 6] - '0') * 10 + p[i + 7] - '0' : -1;
    if (h < 0 || h > 23 || mi < 0 || mi > 59 || s < 0 || s > 60)
        return -1;
    i += 8;
    int frac = 0;
    if (i + 1 < n && p[i] == '.' && canh_is_digit(p[i + 1])) {
        i++;
        frac = canh_frac_ms(p, n, &i);
    }
    int64_t sod_ms = (int64_t)((h * 60 + mi) * 60 + s) * 1000 + frac;
    int64_t wall;
    if (!year && opts && opts->default_year)
        year = opts->default_year;
    if (year)
        wall = canh_days_from_civil(year, (unsigned)mon, (unsigned)day) * 86400000 + sod_ms;
    else
        wall = infer_year(ev, opts, mon, day, sod_ms);
    int64_t ts = canh_local_to_utc(ev, wall);
    *out = ts;
    return (int)i;
}

/*
 * The TAG of a 3164 line at p: "prog[pid]: ", "prog: ", "prog[pid] ".
 * Allows one inner space ("syslogd 1.4.1: "). Returns the message start
 * offset, or 0 if there is no tag.
 */
#define TAG_MAX 64
static size_t parse_tag(const char *p, size_t n, canh_slice_t *prog, canh_slice_t *pid)
{
    size_t lim = n < TAG_MAX ? n : TAG_MAX;
    int spaces = 0;
    for (size_t i = 0; i < lim; i++) {
        char c = p[i];
        if (c == '[') {
            if (i == 0)
                return 0;
            size_t j = i + 1;
            while (j < n && canh_is_digit(p[j]))
                j++;
            if (j == i + 1 || j >= n || p[j] != ']')
                return 0;
            *prog = canh_slice(p, i);
            *pid = canh_slice(p + i + 1, j - i - 1);
            j++;
            if (j < n && p[j] == ':')
                j++;
            if (j < n && p[j] == ' ')
                j++;
            else if (j < n)
                return 0;
            return j;
        }
        if (c == ':') {
            if (i == 0 || (i + 1 < n && p[i + 1] != ' '))
                return 0;
            *prog = canh_slice(p, i);
            pid->len = 0;
            return i + 1 < n ? i + 2 : i + 1;
        }
        if (c == ' ' && ++spaces > 1)
            return 0;
    }
    return 0;
}

/* RFC 3164 (and ISO-stamped 3164) after the PRI. */
static int parse_3164(canh_event_t *ev, const char *p, size_t n, const canh_parse_opts_t *opts,
                      canh_syslog_info_t *info, int have_pri)
{
    int64_t ts = 0;
    int has_ts = 0;
    size_t i = 0;
    if (n >= 19 && canh_is_digit(p[0]) && p[4] == '-' && (p[10] == 'T' || p[10] == 't')) {
        int zone = 0;
        i = canh_iso8601_parse(p, n, &ts, &zone);
        if (!i)
            return CANH_EPARSE;
        if (!zone)
            ts = canh_local_to_utc(ev, ts);
        has_ts = 1;
    } else {
        int r = parse_bsd_stamp(ev, p, n, opts, &ts);
        if (r < 0)
            return CANH_EPARSE;
        if (r == 0) {
            if (!have_pri)
                return 1;   /* not syslog at all */
            /* <PRI> then no stamp: the rest is the message (RFC 3164 4.3.3). */
            info->msg = trim_both(p, n);
            info->is_syslog = 1;
            return CANH_OK;
        }
        i = (size_t)r;
        has_ts = 1;
    }
    if (i < n && p[i] != ' ')
        return CANH_EPARSE;
    while (i < n && p[i] == ' ')
        i++;
    if (has_ts && canh_event_set_ts(ev, ts) == CANH_EPARSE)
        return CANH_EPARSE;   /* past 9999 or before 0000 once in UTC */

    /* Hostname, unless the next token is already the tag. */
    size_t hs = i;
    while (i < n && p[i] != ' ')
        i++;
    canh_slice_t host = canh_slice(p + hs, i - hs);
    canh_slice_t prog = { NULL, 0 }, pid = { NULL, 0 };
    size_t ms;
    if (host.len && (host.ptr[host.len - 1] == ':' || memchr(host.ptr, '[', host.len)) &&
        (ms = parse_tag(p + hs, n - hs, &prog, &pid)) > 0) {
        host.len = 0;
        ms += hs;
    } else {
        while (i < n && p[i] == ' ')
            i++;
        ms = parse_tag(p + i, n - i, &prog, &pid);
        ms = ms ? ms + i : i;
    }
    if (host.len)
        canh_event_add(ev, CANH_F_HOST_NAME, host);
    if (prog.len)
        canh_event_add(ev, CANH_F_PROCESS_NAME, prog);
    if (pid.len)
        canh_event_add(ev, CANH_F_PROCESS_PID, pid);
    info->prog = prog;
    info->msg = trim_both(p + ms, n - ms);
    info->is_syslog = 1;
    return CANH_OK;
}

/* One 5424 header field up to a space; "-" is NILVALUE (len 0 returned as nil). */
static int field_5424(const char *p, size_t n, size_t *i, canh_slice_t *out)
{
    size_t s = *i;
    while (*i < n && p[*i] != ' ')
        (*i)++;
    if (*i == s || *i >= n)
        return -1;
    *out = canh_slice(p + s, *i - s);
    (*i)++;
    if (out->len == 1 && out->ptr[0] == '-')
        out->len = 0;
    return 0;
}

static int parse_sd(canh_event_t *ev, const char *p, size_t n, size_t *pi)
{
    static const char pre[] = "log.syslog.structured_data.";
    size_t i = *pi;
    if (i < n && p[i] == '-') {
        *pi = i + 1;
        return 0;
    }
    if (i >= n || p[i] != '[')
        return -1;
    while (i < n && p[i] == '[') {
        size_t ids = ++i;
        while (i < n && p[i] != ' ' && p[i] != ']' && p[i] != '=' && p[i] != '"')
            i++;
        if (i == ids || i >= n || (p[i] != ' ' && p[i] != ']'))
            return -1;
        canh_slice_t id = canh_slice(p + ids, i - ids);
        while (i < n && p[i] == ' ') {
            i++;
            size_t ns = i;
            while (i < n && p[i] != '=' && p[i] != ' ' && p[i] != ']' && p[i] != '"')
                i++;
            if (i == ns || i + 1 >= n || p[i] != '=' || p[i + 1] != '"')
                return -1;
            canh_slice_t name = canh_slice(p + ns, i - ns);
            i += 2;
            size_t vs = i;
            int esc = 0;
            while (i < n && p[i] != '"') {
                if (p[i] == '\\' && i + 1 < n) {
                    esc = 1;
                    i++;
                }
                i++;
            }
            if (i >= n)
                return -1;
            canh_slice_t val = canh_slice(p + vs, i - vs);
            i++;
            if (esc) {
                char *d = canh_arena_alloc(ev->arena, val.len ? val.len : 1);
                if (!d)
                    return -1;
                size_t o = 0;
                for (size_t k = 0; k < val.len; k++) {
                    if (val.ptr[k] == '\\' && k + 1 < val.len &&
                        (val.ptr[k + 1] == '"' || val.ptr[k + 1] == '\\' || val.ptr[k + 1] == ']'))
                        k++;
                    d[o++] = val.ptr[k];
                }
                val = canh_slice(d, o);
            }
            /* SD-IDs and names may hold dots: "<id>.<name>" is made a
             * usable field path (canh_field_path) */
            char *key = canh_arena_alloc(ev->arena, id.len + 1 + name.len);
            if (!key)
                return -1;
            memcpy(key, id.ptr, id.len);
            key[id.len] = '.';
            memcpy(key + id.len + 1, name.ptr, name.len);
            canh_slice_t f = canh_field_path(ev->arena, pre, sizeof(pre) - 1, key,
                                             id.len + 1 + name.len);
            if (!f.ptr)
                return -1;
            canh_event_add_named(ev, f, val, 0);
        }
        if (i >= n || p[i] != ']')
            return -1;
        i++;
    }
    *pi = i;
    return 0;
}

static int parse_5424(canh_event_t *ev, const char *p, size_t n, const canh_parse_opts_t *opts,
                      canh_syslog_info_t *info)
{
    size_t i = 0;
    canh_slice_t ver, stamp, host, app, procid, msgid;
    if (field_5424(p, n, &i, &ver) || field_5424(p, n, &i, &stamp) ||
        field_5424(p, n, &i, &host) || field_5424(p, n, &i, &app) ||
        field_5424(p, n, &i, &procid) || field_5424(p, n, &i, &msgid))
        return CANH_EPARSE;
    if (stamp.len) {
        int64_t ts;
        int zone;
        if (canh_iso8601_parse(stamp.ptr, stamp.len, &ts, &zone) != stamp.len)
            return CANH_EPARSE;
        if (!zone)                  /* RFC 5424 requires an offset; some senders omit it */
            ts = canh_local_to_utc(ev, ts);
        if (canh_event_set_ts(ev, ts) == CANH_EPARSE)
            return CANH_EPARSE;
    }
    canh_event_add(ev, CANH_F_SYSLOG_VERSION, ver);
    if (host.len) {
        canh_event_add(ev, CANH_F_SYSLOG_HOSTNAME, host);
        canh_event_add(ev, CANH_F_HOST_NAME, host);
    }
    if (app.len) {
        canh_event_add(ev, CANH_F_SYSLOG_APPNAME, app);
        canh_event_add(ev, CANH_F_PROCESS_NAME, app);
    }
    if (procid.len) {
        canh_event_add(ev, CANH_F_SYSLOG_PROCID, procid);
        if (canh_slice_is_digits(procid))
            canh_event_add(ev, CANH_F_PROCESS_PID, procid);
    }
    if (msgid.len)
        canh_event_add(ev, CANH_F_SYSLOG_MSGID, msgid);
    if (parse_sd(ev, p, n, &i))
        return CANH_EPARSE;
    if (i < n) {
        if (p[i] != ' ')
            return CANH_EPARSE;
        i++;
    }
    if (n - i >= 3 && (unsigned char)p[i] == 0xEF && (unsigned char)p[i + 1] == 0xBB &&
        (unsigned char)p[i + 2] == 0xBF)
        i += 3;
    info->prog = app;
    info->msg = trim_both(p + i, n - i);
    info->is_syslog = 1;
    return CANH_OK;
}

int canh_syslog_parse_info(canh_event_t *ev, const char *line, size_t len,
                           const canh_parse_opts_t *opts, canh_syslog_info_t *info)
{
    uint32_t mark = ev->nfields;
    info->prog = canh_slice(NULL, 0);
    info->msg = canh_slice(line, len);
    info->is_syslog = 0;
    ev->original = canh_slice(line, len);

    int pri = -1;
    int r = parse_pri(line, len, &pri);
    int rc;
    if (r < 0) {
        rc = CANH_EPARSE;
    } else {
        const char *p = line + r;
        size_t n = len - (size_t)r;
        if (r > 0)
            add_pri(ev, line + 1, (size_t)r - 2, pri);
        if (r > 0 && n >= 2 && canh_is_digit(p[0]) && (p[1] == ' ' || (canh_is_digit(p[1]) && n >= 3 && p[2] == ' ')))
            rc = parse_5424(ev, p, n, opts, info);
        else
            rc = parse_3164(ev, p, n, opts, info, r > 0);
    }
    if (rc == CANH_OK) {
        canh_event_add(ev, CANH_F_MESSAGE, info->msg);
        return CANH_OK;
    }
    /* Not syslog (rc 1) or malformed: the whole line is the message. */
    ev->nfields = mark;
    ev->ts_ms = 0;
    info->prog = canh_slice(NULL, 0);
    info->msg = trim_right(line, len);
    info->is_syslog = 0;
    canh_event_add(ev, CANH_F_MESSAGE, info->msg);
    return rc == 1 ? CANH_OK : CANH_EPARSE;
}

int canh_syslog_parse(canh_event_t *ev, const char *line, size_t len, const canh_parse_opts_t *opts)
{
    canh_syslog_info_t info;
    if (!ev || !ev->arena || (!line && len))
        return CANH_EINVAL;
    if (ev->tz || !opts || !opts->tz)
        return canh_syslog_parse_info(ev, line, len, opts, &info);
    /* an event of the caller's own, with no converter: one for this line */
    canh_tzconv_t conv;
    canh_tzconv_init(&conv, opts->tz);
    ev->tz = &conv;
    int rc = canh_syslog_parse_info(ev, line, len, opts, &info);
    ev->tz = NULL;
    return rc;
}
