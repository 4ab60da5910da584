/*
 * parsers/decode_access.c -- Apache/nginx access logs, common and combined:
 *
 *   client ident user [dd/Mon/yyyy:HH:MM:SS +zzzz] "METHOD URL HTTP/1.1" status bytes ["referrer" "agent"]
 *
 * Also provides the cheap shape test the dispatcher uses to pick this
 * decoder. A line that has the shape but breaks later (truncated quote, bad
 * time) is CANH_EPARSE; the dispatcher then drops the partial fields.
 *
 * Ownership: values borrow the message; only a lower-cased url.extension and
 * @timestamp go into the arena. Thread: the caller's.
 */
#include "parse_util.h"

int canh_access_shape(canh_slice_t msg);   /* used by parser.c */


int canh_access_shape(canh_slice_t msg)
{
    /* three space-separated tokens, then " [" */
    const char *p = msg.ptr, *e = msg.ptr + msg.len;
    for (int t = 0; t < 3; t++) {
        const char *s = p;
        while (p < e && *p != ' ')
            p++;
        if (p == s || p >= e)
            return 0;
        p++;
    }
    /* "[17/May/2015:" */
    return e - p >= 14 && p[0] == '[' && p[3] == '/' && p[7] == '/' && p[12] == ':';
}

static int month_of(const char *p)
{
    static const char names[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    for (int m = 0; m < 12; m++)
        if (memcmp(names + m * 3, p, 3) == 0)
            return m + 1;
    return 0;
}

/* "17/May/2015:10:05:03 +0000" (26 bytes) -> UTC ms */
static int parse_clf_time(const char *p, size_t n, int64_t *ms)
{
    if (n != 26 || p[2] != '/' || p[6] != '/' || p[11] != ':' || p[14] != ':' ||
        p[17] != ':' || p[20] != ' ' || (p[21] != '+' && p[21] != '-'))
        return -1;
    static const int digs[] = { 0, 1, 7, 8, 9, 10, 12, 13, 15, 16, 18, 19, 22, 23, 24, 25 };
    for (size_t i = 0; i < CANH_ARRAY_LEN(digs); i++)
        if (!canh_is_digit(p[digs[i]]))
            return -1;
    int mon = month_of(p + 3);
    int d = (p[0] - '0') * 10 + p[1] - '0';
    int y = (p[7] - '0') * 1000 + (p[8] - '0') * 100 + (p[9] - '0') * 10 + p[10] - '0';
    int h = (p[12] - '0') * 10 + p[13] - '0', mi = (p[15] - '0') * 10 + p[16] - '0';
    int s = (p[18] - '0') * 10 + p[19] - '0';
    int off = ((p[22] - '0') * 10 + p[23] - '0') * 60 + (p[24] - '0') * 10 + p[25] - '0';
    if (!mon || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60)
        return -1;
    int64_t t = ((canh_days_from_civil(y, (unsigned)mon, (unsigned)d) * 24 + h) * 60 + mi) * 60 + s;
    t -= (p[21] == '+' ? 1 : -1) * (int64_t)off * 60;
    *ms = t * 1000;
    return 0;
}

/* "quoted" at p[*i] (with \" escapes); sets the inner slice. */
static int quoted(const char *p, size_t n, size_t *i, canh_slice_t *out)
{
    if (*i >= n || p[*i] != '"')
        return -1;
    size_t s = ++*i;
    for (;;) {   /* the next quote not escaped by an odd run of backslashes */
        const char *q = *i < n ? memchr(p + *i, '"', n - *i) : NULL;
        if (!q)
            return -1;
        size_t at = (size_t)(q - p), bs = 0;
        while (at - bs > s && p[at - bs - 1] == '\\')
            bs++;
        *i = at;
        if (!(bs & 1))
            break;
        ++*i;
    }
    *out = canh_slice(p + s, *i - s);
    ++*i;
    return 0;
}

static canh_slice_t tok(const char *p, size_t n, size_t *i)
{
    size_t s = *i;
    while (*i < n && p[*i] != ' ')
        ++*i;
    return canh_slice(p + s, *i - s);
}

static int is_dash(canh_slice_t s)
{
    return s.len == 1 && s.ptr[0] == '-';
}

static void add_url(canh_event_t *ev, canh_slice_t url)
{
    canh_event_add(ev, CANH_F_URL_ORIGINAL, url);
    const char *q = memchr(url.ptr, '?', url.len);
    size_t pl = q ? (size_t)(q - url.ptr) : url.len;
    /* "#fragment" never reaches servers, but be safe */
    const char *h = memchr(url.ptr, '#', pl);
    if (h)
        pl = (size_t)(h - url.ptr);
    canh_slice_t path = canh_slice(url.ptr, pl);
    canh_event_add(ev, CANH_F_URL_PATH, path);
    if (q)
        canh_event_add(ev, CANH_F_URL_QUERY, canh_slice(q + 1, url.len - pl - 1));
    /* extension of the last path segment */
    size_t seg = pl;
    while (seg > 0 && path.ptr[seg - 1] != '/')
        seg--;
    const char *dot = NULL;
    for (size_t k = pl; k > seg; k--)
        if (path.ptr[k - 1] == '.') {
            dot = path.ptr + k - 1;
            break;
        }
    if (!dot || dot + 1 >= path.ptr + pl)
        return;
    canh_slice_t ext = canh_slice(dot + 1, (size_t)(path.ptr + pl - dot - 1));
    int upper = 0;
    for (size_t k = 0; k < ext.len; k++)
        upper |= ext.ptr[k] >= 'A' && ext.ptr[k] <= 'Z';
    if (upper) {
        char *d = canh_arena_alloc(ev->arena, ext.len);
        if (!d)
            return;
        for (size_t k = 0; k < ext.len; k++)
            d[k] = (ext.ptr[k] >= 'A' && ext.ptr[k] <= 'Z') ? (char)(ext.ptr[k] + 32) : ext.ptr[k];
        ext.ptr = d;
    }
    canh_event_add(ev, CANH_F_URL_EXTENSION, ext);
}

int canh_decode_access(canh_event_t *ev, canh_slice_t msg)
{
    const char *p = msg.ptr;
    size_t n = msg.len, i = 0;
    while (i < n && p[i] == ' ')
        i++;
    canh_slice_t client = tok(p, n, &i);
    if (!client.len || i >= n)
        return CANH_EPARSE;
    i++;
    tok(p, n, &i);   /* ident */
    if (i >= n)
        return CANH_EPARSE;
    i++;
    canh_slice_t user = tok(p, n, &i);
    if (i + 1 >= n || p[i + 1] != '[')
        return CANH_EPARSE;
    i += 2;
    const char *rb = memchr(p + i, ']', n - i);
    if (!rb)
        return CANH_EPARSE;
    int64_t ts;
    if (parse_clf_time(p + i, (size_t)(rb - (p + i)), &ts))
        return CANH_EPARSE;
    i = (size_t)(rb - p) + 1;
    if (i >= n || p[i] != ' ')
        return CANH_EPARSE;
    i++;
    canh_slice_t req;
    if (quoted(p, n, &i, &req) || i >= n || p[i] != ' ')
        return CANH_EPARSE;
    i++;
    canh_slice_t status = tok(p, n, &i);
    if (status.len != 3 || !canh_slice_is_digits(status))
        return CANH_EPARSE;
    canh_slice_t bytes = { NULL, 0 }, ref = { NULL, 0 }, ua = { NULL, 0 };
    if (i < n) {
        i++;
        bytes = tok(p, n, &i);
        if (!is_dash(bytes) && !canh_slice_is_digits(bytes))
            return CANH_EPARSE;
    }
    if (i < n && i + 1 < n && p[i + 1] == '"') {
        i++;
        if (quoted(p, n, &i, &ref))
            return CANH_EPARSE;
        if (i + 1 < n && p[i] == ' ' && p[i + 1] == '"') {
            i++;
            if (quoted(p, n, &i, &ua))
                return CANH_EPARSE;
        }
    }

    if (canh_event_set_ts(ev, ts) == CANH_EPARSE)
        return CANH_EPARSE;   /* its offset moved it past 9999 or before 0000 */
    ev->datasets |= CANH_DS_BIT(CANH_DS_WEBSERVER);
    canh_add_source(ev, client);
    if (user.len && !is_dash(user))
        canh_event_add(ev, CANH_F_USER_NAME, user);
    /* "GET /x HTTP/1.1"; also "-" or junk from scanners */
    if (req.len && !is_dash(req)) {
        const char *sp1 = memchr(req.ptr, ' ', req.len);
        if (sp1) {
            canh_event_add(ev, CANH_F_HTTP_METHOD, canh_slice(req.ptr, (size_t)(sp1 - req.ptr)));
            const char *u = sp1 + 1, *end = req.ptr + req.len;
            const char *sp2 = end;
            while (sp2 > u && sp2[-1] != ' ')
                sp2--;
            if (sp2 > u && CANH_PREFIX(sp2, (size_t)(end - sp2), "HTTP/")) {
                canh_event_add(ev, CANH_F_HTTP_VERSION, canh_slice(sp2 + 5, (size_t)(end - sp2 - 5)));
                add_url(ev, canh_slice(u, (size_t)(sp2 - 1 - u)));
            } else {
                add_url(ev, canh_slice(u, (size_t)(end - u)));
            }
        }
    }
    canh_event_add(ev, CANH_F_HTTP_STATUS, status);
    if (bytes.len && !is_dash(bytes))
        canh_event_add(ev, CANH_F_HTTP_BYTES, bytes);
    if (ref.len && !is_dash(ref))
        canh_event_add(ev, CANH_F_HTTP_REFERRER, ref);
    if (ua.len && !is_dash(ua))
        canh_event_add(ev, CANH_F_USER_AGENT, ua);
    canh_event_add(ev, CANH_F_EVENT_CATEGORY, CANH_SLICE("web"));
    return CANH_OK;
}
