/*
 * parsers/util.c -- small helpers for all parsers: civil dates, ISO 8601
 * stamps, @timestamp formatting, IP literal checks.
 *
 * Ownership: formatted values go into the event's arena; nothing else is
 * allocated. Thread: any.
 */
#include "parse_util.h"

static inline int dig2(const char *p)
{
    return (p[0] >= '0' && p[0] <= '9' && p[1] >= '0' && p[1] <= '9')
               ? (p[0] - '0') * 10 + (p[1] - '0') : -1;
}

size_t canh_iso8601_parse(const char *p, size_t n, int64_t *ms, int *has_zone)
{
    if (n < 19)
        return 0;
    int y1 = dig2(p), y2 = dig2(p + 2), mo = dig2(p + 5), d = dig2(p + 8);
    int h = dig2(p + 11), mi = dig2(p + 14), s = dig2(p + 17);
    if (y1 < 0 || y2 < 0 || mo < 1 || mo > 12 || d < 1 || d > 31 || h < 0 || h > 23 ||
        mi < 0 || mi > 59 || s < 0 || s > 60 || p[4] != '-' || p[7] != '-' ||
        (p[10] != 'T' && p[10] != 't') || p[13] != ':' || p[16] != ':')
        return 0;
    size_t i = 19;
    int frac = 0;
    if (i < n && (p[i] == '.' || p[i] == ',')) {
        size_t start = ++i;
        frac = canh_frac_ms(p, n, &i);
        if (i == start)
            return 0;
    }
    int64_t days = canh_days_from_civil(y1 * 100 + y2, (unsigned)mo, (unsigned)d);
    int64_t t = ((days * 24 + h) * 60 + mi) * 60 + s;
    int zone = 0;
    if (i < n && (p[i] == 'Z' || p[i] == 'z')) {
        zone = 1;
        i++;
    } else if (i + 3 <= n && (p[i] == '+' || p[i] == '-')) {
        int zh = dig2(p + i + 1), zm = 0;
        size_t used = 3;
        if (zh < 0 || zh > 23)
            return 0;
        if (i + 6 <= n && p[i + 3] == ':' && dig2(p + i + 4) >= 0) {
            zm = dig2(p + i + 4);
            used = 6;
        } else if (i + 5 <= n && dig2(p + i + 3) >= 0) {
            zm = dig2(p + i + 3);
            used = 5;
        }
        int off = (zh * 60 + zm) * 60;
        t -= p[i] == '+' ? off : -off;
        zone = 1;
        i += used;
    }
    *ms = t * 1000 + frac;
    *has_zone = zone;
    return i;
}

int canh_event_set_ts(canh_event_t *ev, int64_t ms)
{
    if (ms < CANH_TS_MIN_MS || ms > CANH_TS_MAX_MS)
        return CANH_EPARSE;
    char *b = canh_arena_alloc(ev->arena, CANH_ISO_MS_LEN);
    if (!b)
        return CANH_ENOMEM;
    canh_format_iso_ms(ms, b);
    ev->ts_ms = ms;
    return canh_event_set(ev, CANH_F_TIMESTAMP, canh_slice(b, CANH_ISO_MS_LEN));
}

void canh_set_action(canh_event_t *ev, const char *action, const char *outcome,
                     const char *category, const char *type)
{
    canh_event_add(ev, CANH_F_EVENT_ACTION, canh_slice_cstr(action));
    if (outcome)
        canh_event_add(ev, CANH_F_EVENT_OUTCOME, canh_slice_cstr(outcome));
    if (category)
        canh_event_add(ev, CANH_F_EVENT_CATEGORY, canh_slice_cstr(category));
    if (type)
        canh_event_add(ev, CANH_F_EVENT_TYPE, canh_slice_cstr(type));
}

int canh_frac_ms(const char *p, size_t n, size_t *i)
{
    int frac = 0, digits = 0;
    while (*i < n && canh_is_digit(p[*i])) {
        if (digits < 3) {
            frac = frac * 10 + (p[*i] - '0');
            digits++;
        }
        ++*i;
    }
    while (digits++ < 3)
        frac *= 10;
    return frac;
}

uint64_t canh_line_audit_serial(const char *line, size_t len)
{
    /* called for every line of a stream (canh_pipeline_line_from): look
     * for the rare '(' with memchr and check what precedes it, which costs
     * a few ns a line where memmem costs some hundred */
    const char *end = line + len, *a = NULL;
    for (const char *p = line + 9; p < end && (p = memchr(p, '(', (size_t)(end - p))); p++)
        if (memcmp(p - 9, "msg=audit", 9) == 0) {
            a = p - 9;
            break;
        }
    if (!a)
        return 0;
    const char *q = a + 10;
    while (q < end && *q != ':' && *q != ')')
        q++;
    if (q >= end || *q != ':')
        return 0;
    uint64_t serial = 0;
    for (q++; q < end && canh_is_digit(*q) && serial < UINT64_MAX / 10; q++)
        serial = serial * 10 + (uint64_t)(*q - '0');
    return q < end && *q == ')' ? serial : 0;
}

int canh_slice_is_digits(canh_slice_t s)
{
    if (!s.len)
        return 0;
    for (size_t i = 0; i < s.len; i++)
        if (s.ptr[i] < '0' || s.ptr[i] > '9')
            return 0;
    return 1;
}

static int is_ipv4(const char *p, size_t n)
{
    int parts = 0, digits = 0, val = 0;
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        if (c >= '0' && c <= '9') {
            val = val * 10 + (c - '0');
            if (++digits > 3 || val > 255)
                return 0;
        } else if (c == '.') {
            if (!digits || ++parts > 3)
                return 0;
            digits = val = 0;
        } else {
            return 0;
        }
    }
    return parts == 3 && digits > 0;
}

int canh_addr_is_ip(canh_slice_t s)
{
    const char *p = s.ptr;
    size_t n = s.len;
    if (n < 2 || n > 45)
        return 0;
    if (is_ipv4(p, n))
        return 1;
    /* IPv6: hex groups and colons, at least two colons, maybe a v4 tail or %zone. */
    int colons = 0;
    size_t i = 0;
    for (; i < n; i++) {
        char c = p[i];
        if (c == ':')
            colons++;
        else if (c == '%')
            break;
        else if (c == '.') {
            /* dotted tail: back up to the last colon */
            size_t j = i;
            while (j > 0 && p[j - 1] != ':')
                j--;
            return colons >= 2 && is_ipv4(p + j, n - j);
        } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')))
            return 0;
    }
    return colons >= 2 && colons <= 7;
}

void canh_add_source(canh_event_t *ev, canh_slice_t s)
{
    if (!s.len)
        return;
    canh_event_add(ev, canh_addr_is_ip(s) ? CANH_F_SOURCE_IP : CANH_F_SOURCE_DOMAIN, s);
}
