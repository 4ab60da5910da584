/*
 * parsers/app/http.c -- HTTP/1.0 and 1.1 over one TCP flow (RFC 9112).
 *
 * Each direction is parsed incrementally from its in-order bytes: a start
 * line and header block (kept whole, up to HDR_CAP), then the body framed
 * as RFC 9112 6.3 says (chunked, Content-Length, none, or to the end of the
 * connection for a response), kept up to the body cap for
 * http.request_body / http.response_body. Pipelined requests are queued
 * (up to RING of them) so that the N-th final response is matched to the
 * N-th request: HEAD's response has no body, 1xx interim responses
 * (100-continue) are skipped, a 101 without a body ends parsing (CANH_APP_DONE); after a
 * 2xx to CONNECT the tunnel's bytes are parsed on as HTTP when they start
 * as HTTP does (a proxied plain request), else parsing ends quietly (TLS
 * inside is not looked at).
 *
 * When a message is reported: once, when its body is complete (at once
 * when it has none), or as soon as the kept body reaches the cap (counted
 * body_truncated), or at the end of the direction with what came. A
 * response's tx also carries its request's request-side buffers (method,
 * uri, host, user agent ...), as Suricata's transaction does; the
 * direction-dependent ones (protocol, header*, cookie, content_*) are the
 * response's. An HTTP request never answered is given again at the end of
 * the flow flagged event_only (for canh_app_event: the access-log-like
 * event is made from the exchange).
 *
 * A body in gzip or deflate (up to ZLAYERS codings) is kept decoded, as
 * Suricata's file.data / http.response_body are, and its http.request_body
 * (client_body) since 7.0.16 (RFC 9110 8.4 codes requests too) (zlib; raw
 * deflate too; bytes that are not compressed at all are kept as they
 * came); the cap bounds the decoded bytes, so a bomb costs at most the cap.
 *
 * Buffers (Suricata's semantics): http.uri is the request target's path
 * and query (an absolute-form target loses scheme and authority) with
 * %XX decoded (%2F too), runs of '/' compressed and "." / ".." segments
 * removed; http.uri.raw as sent; http.host lower-cased without port, from
 * an absolute-form target if there is one, else the Host header;
 * http.header "Name: value\r\n" per header, repeated names merged into one
 * ("v1, v2"), values trimmed, folded lines joined with a space, Cookie
 * (request) / Set-Cookie (response) left out; http.header.raw the header
 * lines as sent up to and including the empty line; http.header_names
 * "\r\nName1\r\nName2\r\n\r\n".
 *
 * Leniency, as clients and libhtp have it (evasions must not blind the
 * parser): "http/" in any case, a status that is not 3 digits, blanks and
 * NULs before a message, a request's Content-Length read by its leading
 * digits (the first of repeated ones; a response's with junk in it, "34 68",
 * is no length: read to the close), "chunked" anywhere in Transfer-Encoding
 * and "gzip" / "deflate" anywhere in Content-Encoding (NULs skipped), header
 * names compared without case and NUL bytes ("Content\0-Encoding"), a name
 * ending in bytes <= 0x20 before its colon, a chunk size with junk around
 * it, chunked on HTTP/1.0 dechunked, "chunked" that is not (a first size
 * line that is none: read by length or to the close), a 1xx, 204 or 304
 * with a body framed taken with its body.
 *
 * A response head is read as libhtp's response parser (and browsers) read
 * it: a line ends at CRLF, LF CR, LF or a lone CR (resp_eol); an indented
 * line continues the header before it (obs-fold), a line starting with a
 * NUL too, unless it reads "Name: value" (then a header of its own); a
 * name alone on its line takes the value of a next line " : value"; a line
 * of blanks is dropped when a header or a continuation follows it, else it
 * ends the head. Server lines that do not start a response (no status line:
 * HTTP/0.9's shape, or junk) are the body of a response read line by line
 * until a line starts one; junk before a real response is dropped and that
 * response is the answer.
 *
 * A request line without its protocol is read, then its headers if any.
 *
 * Bad bytes from a client (a line that is no request line, a header block
 * over HDR_CAP, a chunk size without digits) stop the flow's parsing:
 * CANH_EPARSE (app.c counts it). After a gap in a direction (bytes lost,
 * or a capture that starts in the middle of a message) what was pending
 * is reported as it is, lines are skipped (up to RESYNC_CAP bytes) until
 * one is a start line, and responses are no longer paired with requests.
 *
 * Memory: per flow, up to RING request messages and one response, each a
 * header block (<= HDR_CAP), derived buffers and a body (<= body cap);
 * buffers are reused from message to message, none is allocated per
 * packet once a flow's messages have grown them.
 * Thread: the worker that owns the flow.
 */
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "app_internal.h"

#define HDR_CAP   (32 * 1024)    /* start line + headers of one message */
#define LINE_CAP  1024           /* a chunk-size or trailer line */
#define RING      4              /* requests waiting for their response */
#define RESYNC_CAP (256 * 1024)  /* bytes skipped looking for a start line */
#define ZLAYERS   3              /* codings undone, at most (Suricata's layer limit) */
#define LOOK_CAP  256            /* bytes looked ahead to tell a response line's end */

enum { SRC_RAW, SRC_DER, SRC_BODY };

typedef struct hbuf {
    uint8_t *p;
    size_t n, cap;
} hbuf_t;

typedef struct http_msg {
    hbuf_t raw;                  /* start line .. empty line, as sent */
    hbuf_t der;                  /* normalised uri, lower-cased host, header, names */
    hbuf_t body;
    struct { uint32_t off, len; uint8_t src, set; } f[CANH_NB__COUNT];
    uint64_t seq;
    int status;
    uint8_t is_head, is_connect, reported, responded, truncated;
    uint8_t enc;                 /* codings (gzip, deflate) on the response body, <= ZLAYERS */
} http_msg_t;

enum {
    ST_START, ST_HEADERS, ST_BODY_CL, ST_CHUNK_SIZE, ST_CHUNK_DATA, ST_CHUNK_CRLF,
    ST_TRAILER, ST_BODY_CLOSE, ST_SKIPLINE, ST_BODYLINE, ST_DONE
};

/* One layer of Content-Encoding being undone: head keeps its first bytes
 * for a retry as raw deflate (which servers send as "deflate" as often as
 * zlib's), or for passing them through when they are not compressed. */
typedef struct zstage {
    z_stream *z;
    uint8_t raw, fail, done, pass;
    uint8_t gzhead;              /* waiting for the end of a gzip header zlib refused */
    uint8_t rawtry;              /* trying raw deflate: mark is the body's length before */
    size_t mark;
    uint8_t head[256];
    size_t in;
} zstage_t;

typedef struct http_dir {
    int state;
    uint64_t remain;             /* ST_BODY_CL, ST_CHUNK_DATA */
    int64_t clen;                /* the message's Content-Length, -1: none */
    uint32_t chunks;             /* chunks read of the message */
    hbuf_t line;                 /* chunk-size / trailer line */
    http_msg_t *msg;             /* the message being parsed */
    uint8_t resync;              /* after a gap: skip lines until a start line */
    uint8_t hfirst;              /* ST_HEADERS of a response: its status line is read */
    uint8_t bodyonly;            /* msg is a response without status line (HTTP/0.9's
                                    shape): lines of body until one starts a response */
    size_t hpos;                 /* ST_HEADERS of a response: the next line to scan */
    size_t hseen;                /* ... and where its end was looked for (resp_line) */
    /* decoding a gzip / deflate response body, one stage per coding
     * (made at the first such body, reset for each) */
    zstage_t zs[ZLAYERS];
    size_t skipped;              /* bytes skipped so (bounded by RESYNC_CAP) */
} http_dir_t;

typedef struct http_state {
    size_t body_cap;
    http_dir_t d[2];
    http_msg_t *ring[RING];      /* requests, seq base .. base + nreq - 1 */
    unsigned head, nreq;
    uint64_t req_seq, resp_seq;  /* requests parsed, final responses parsed */
    http_msg_t resp;
    uint8_t ended[2], flushed;
    uint8_t nomatch;             /* after a gap: responses are not paired any more */
    uint8_t tunnel;              /* a CONNECT was sent (its bytes may follow at once)
                                    or answered 2xx */
} http_state_t;

/* ------------------------------------------------------------------ bytes */

/* d may point into b itself (a value copied within der) */
static int hbuf_add(hbuf_t *b, const uint8_t *d, size_t n, size_t max)
{
    if (n > max || b->n > max - n)
        return CANH_ENOMEM;
    if (b->n + n > b->cap) {
        int inside = b->p && d >= b->p && d < b->p + b->n;
        size_t off = inside ? (size_t)(d - b->p) : 0;
        size_t c = b->cap ? b->cap : 256;
        while (c < b->n + n)
            c *= 2;
        if (c > max)
            c = max;
        uint8_t *q = realloc(b->p, c);
        if (!q)
            return CANH_ENOMEM;
        b->p = q;
        b->cap = c;
        if (inside)
            d = q + off;
    }
    if (n)
        memcpy(b->p + b->n, d, n);
    b->n += n;
    return CANH_OK;
}

static void hbuf_free(hbuf_t *b)
{
    free(b->p);
    b->p = NULL;
    b->n = b->cap = 0;
}

static int lc(int c)
{
    return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

static int eq_nocase(const uint8_t *a, size_t n, const char *lit)
{
    size_t l = strlen(lit);
    if (n != l)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (lc(a[i]) != lc((unsigned char)lit[i]))
            return 0;
    return 1;
}

/* A header name against a lower-case one: case and NUL bytes ignored, as
 * libhtp looks names up ("Content\0-Encoding" is Content-Encoding). */
static int eq_name(const uint8_t *a, size_t n, const char *lit)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (a[i] == 0)
            continue;
        if (!lit[k] || lc(a[i]) != lit[k])
            return 0;
        k++;
    }
    return lit[k] == 0;
}

/* A Content-Length value: its digits between blanks. A response's with
 * anything else in it ("34 68", "34(68)") is no length (the body is read to
 * the close, as browsers read it); a request's is read by its leading digits
 * (libhtp). -1: none; -2: too large. */
static int64_t parse_clen(const uint8_t *v, size_t n, int strict)
{
    size_t k = 0;
    while (k < n && (v[k] == ' ' || v[k] == '\t'))
        k++;
    if (k == n || v[k] < '0' || v[k] > '9')
        return -1;
    int64_t val = 0;
    for (; k < n && v[k] >= '0' && v[k] <= '9'; k++) {
        if (val > (INT64_C(1) << 50))
            return -2;
        val = val * 10 + (v[k] - '0');
    }
    while (strict && k < n && (v[k] == ' ' || v[k] == '\t'))
        k++;
    return strict && k < n ? -1 : val;
}

static int is_tchar(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = lc(c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* ------------------------------------------------------------------ lines */

/* The length of the line end at p[e] (a CR or an LF) in a response head,
 * as libhtp's response parser (and browsers) end lines there: CRLF, LF CR,
 * LF, or a lone CR; "\r\n\r" followed by CRs and blanks (and maybe an LF)
 * that no empty line follows, and "\n\r\r\n" before an empty line, are one
 * line end. 0: more bytes are needed to tell (never when final). */
static size_t resp_eol(const uint8_t *p, size_t n, size_t e, int final)
{
    if (p[e] == '\n') {
        if (e + 1 >= n)
            return final ? 1 : 0;
        if (p[e + 1] != '\r')
            return 1;
        for (size_t k = 2; k < 4; k++) {            /* "\n\r\r\n" ? */
            if (e + k >= n)
                return final ? 2 : 0;
            if (p[e + k] != (k == 2 ? '\r' : '\n'))
                return 2;
        }
        if (e + 4 >= n)
            return final ? 2 : 0;
        if (p[e + 4] == '\n')
            return 4;
        if (p[e + 4] == '\r') {
            if (e + 5 >= n)
                return final ? 2 : 0;
            if (p[e + 5] == '\n')
                return 4;
        }
        return 2;
    }
    if (e + 1 >= n)
        return final ? 1 : 0;
    if (p[e + 1] != '\n')
        return 1;                        /* a lone CR */
    if (e + 2 >= n)
        return final ? 2 : 0;
    if (p[e + 2] != '\r')
        return 2;
    size_t k = e + 3;
    while (k < n && k - e < LOOK_CAP && (p[k] == '\r' || p[k] == ' ' || p[k] == '\t'))
        k++;
    if (k == e + 3)
        return k < n || final ? 2 : 0;
    if (k - e >= LOOK_CAP)
        return k - e;                    /* no end of a head after so many */
    if (k >= n)
        return final ? k - e : 0;
    if (p[k] == '\n')
        k++;
    if (k >= n)
        return final ? k - e : 0;
    if (p[k] == '\n')
        return 2;
    if (p[k] == '\r') {
        if (k + 1 >= n)
            return final ? k - e : 0;
        if (p[k + 1] == '\n')
            return 2;
    }
    return k - e;
}

/* The line starting at s of a head (dir 0: request, lines end at LF; 1:
 * response, see resp_eol): *ce its content's end (a request line's CR
 * left out), *next where the next starts. 0: no complete line yet. Its end
 * is looked for from `from` (>= s: bytes before it were looked at). */
static int next_line_from(const uint8_t *p, size_t n, size_t s, size_t from, int dir, int final,
                          size_t *ce, size_t *next)
{
    if (dir == 0) {
        const uint8_t *nl = from < n ? memchr(p + from, '\n', n - from) : NULL;
        if (!nl)
            return 0;
        size_t e = (size_t)(nl - p);
        *next = e + 1;
        if (e > s && p[e - 1] == '\r')
            e--;
        *ce = e;
        return 1;
    }
    size_t e = from;
    while (e < n && p[e] != '\r' && p[e] != '\n')
        e++;
    if (e == n)
        return 0;
    size_t l = resp_eol(p, n, e, final);
    if (!l)
        return 0;
    *ce = e;
    *next = e + l;
    return 1;
}

/* see next_line_from */
static int next_line(const uint8_t *p, size_t n, size_t s, int dir, int final, size_t *ce,
                     size_t *next)
{
    return next_line_from(p, n, s, s, dir, final, ce, next);
}

/* Whether the line at s starts as a header does, "[blanks] token [blanks]:"
 * (1), or not (0); -1: more bytes are needed. */
static int looks_header(const uint8_t *p, size_t n, size_t s, int final)
{
    size_t lim = n - s > LOOK_CAP ? s + LOOK_CAP : n, k = s;
    while (k < lim && (p[k] == ' ' || p[k] == '\t'))
        k++;
    while (k < lim && is_tchar(p[k]))
        k++;
    while (k < lim && (p[k] == ' ' || p[k] == '\t'))
        k++;
    if (k == lim)
        return final || lim < n ? 0 : -1;   /* a name this long: no header */
    return p[k] == ':';
}

static int blank_line(const uint8_t *p, size_t s, size_t e)
{
    for (size_t k = s; k < e; k++)
        if (p[k] != ' ' && p[k] != '\t')
            return 0;
    return e > s;
}

/* A line of blanks in a response head: it ends the head unless a header
 * line or a continuation follows it (then it is dropped), as libhtp reads it. Returns 1 (the
 * head ends: *end just past it, an empty line after it included), 0 (it is
 * dropped), -1 (more bytes needed). nx: where the line after it starts. */
static int resp_blank_ends(const uint8_t *p, size_t n, size_t nx, int final, size_t *end)
{
    if (nx >= n) {
        *end = n;
        return final ? 1 : -1;
    }
    if (p[nx] == '\r' || p[nx] == '\n') {
        size_t l = resp_eol(p, n, nx, final);
        if (!l)
            return -1;
        *end = nx + l;
        return 1;
    }
    if (p[nx] == ' ' || p[nx] == '\t')
        return 0;                        /* an empty fold before a continuation */
    int lh = looks_header(p, n, nx, final);
    if (lh < 0)
        return -1;
    *end = nx;
    return lh ? 0 : 1;
}

/* next_line of a response head that keeps in *seen where the line's end
 * was looked for (bytes before it hold no CR or LF): bytes of a long line
 * coming a few at a time are looked at once. */
static int resp_line(const uint8_t *p, size_t n, size_t s, size_t *seen, int final, size_t *ce,
                     size_t *next)
{
    size_t e = *seen > s ? *seen : s;
    while (e < n && p[e] != '\r' && p[e] != '\n')
        e++;
    *seen = e;
    if (e == n)
        return 0;
    return next_line_from(p, n, s, e, 1, final, ce, next);
}

/* The end of a response head in p[0..n) (status line first), scanning on
 * from the line start *pos (kept between calls): the offset just past the
 * head, or 0 while it goes on. */
static size_t resp_head_end(const uint8_t *p, size_t n, size_t *pos, size_t *seen, int final)
{
    size_t s = *pos;
    for (;;) {
        size_t ce, nx, end;
        if (s > 0 && s < n && (p[s] == '\r' || p[s] == '\n')) {
            /* the empty line: its CRLF, CR or LF ends the head */
            if (p[s] == '\n')
                return s + 1;
            if (s + 1 < n)
                return s + (p[s + 1] == '\n' ? 2 : 1);
            return final ? s + 1 : 0;
        }
        if (!resp_line(p, n, s, seen, final, &ce, &nx))
            return 0;
        if (s > 0 && blank_line(p, s, ce)) {
            int r = resp_blank_ends(p, n, nx, final, &end);
            if (r < 0)
                return 0;
            if (r > 0)
                return end;
        }
        s = nx;
        *pos = s;
    }
}

/* -------------------------------------------------------------- messages */

static void msg_reset(http_msg_t *m)
{
    m->raw.n = m->der.n = m->body.n = 0;
    memset(m->f, 0, sizeof m->f);
    m->status = 0;
    m->is_head = m->is_connect = m->reported = m->responded = m->truncated = 0;
    m->enc = 0;
}

static void msg_free(http_msg_t *m)
{
    hbuf_free(&m->raw);
    hbuf_free(&m->der);
    hbuf_free(&m->body);
}

static void set_f(http_msg_t *m, int id, int src, size_t off, size_t len)
{
    m->f[id].off = (uint32_t)off;
    m->f[id].len = (uint32_t)len;
    m->f[id].src = (uint8_t)src;
    m->f[id].set = 1;
}

static const uint8_t *msg_ptr(const http_msg_t *m, int id)
{
    const hbuf_t *b = m->f[id].src == SRC_RAW ? &m->raw : m->f[id].src == SRC_DER ? &m->der
                                                                                   : &m->body;
    /* an empty buffer still needs a non-NULL pointer */
    static const uint8_t empty[1];
    return b->p ? b->p + m->f[id].off : empty;
}

/* der += bytes; the offset where they start, or -1 */
static long der_add(http_msg_t *m, const void *d, size_t n)
{
    size_t at = m->der.n;
    if (hbuf_add(&m->der, d, n, 4 * HDR_CAP + 64) != CANH_OK)
        return -1;
    return (long)at;
}

/* RFC 3986 5.2.4 remove_dot_segments, in place over a path whose '/'
 * runs are already compressed; returns the new length. */
static size_t dot_segments(uint8_t *o, size_t w)
{
    size_t k = 0, r = 0;
    if (w && o[0] != '/') {             /* relative: the first segment as it is */
        while (r < w && o[r] != '/')
            r++;
        k = r;
        if (k == 1 && o[0] == '.')
            k = 0;
        else if (k == 2 && o[0] == '.' && o[1] == '.')
            k = 0;
    }
    while (r < w) {                     /* o[r] == '/' */
        size_t e = r + 1;
        while (e < w && o[e] != '/')
            e++;
        size_t sl = e - r - 1;
        const uint8_t *seg = o + r + 1;
        if (sl == 1 && seg[0] == '.') {
            if (e == w)
                o[k++] = '/';
        } else if (sl == 2 && seg[0] == '.' && seg[1] == '.') {
            while (k > 0 && o[k - 1] != '/')
                k--;
            if (k > 0)
                k--;                    /* "/b" dropped */
            if (e == w)
                o[k++] = '/';           /* "/a/b/.." -> "/a/" */
        } else {
            memmove(o + k, o + r, e - r);
            k += e - r;
        }
        r = e;
    }
    return k;
}

/* Normalises the path+query of a request target into der (Suricata's
 * http.uri, after libhtp's defaults). */
static int norm_uri(http_msg_t *m, const uint8_t *u, size_t n)
{
    /* absolute-form: drop scheme://authority */
    size_t i = 0;
    while (i < n && u[i] != ':' && u[i] != '/' && u[i] != '?')
        i++;
    if (i > 0 && i + 2 < n && u[i] == ':' && u[i + 1] == '/' && u[i + 2] == '/') {
        size_t a = i + 3;
        while (a < n && u[a] != '/' && u[a] != '?' && u[a] != '#')
            a++;
        u += a;
        n -= a;
    }
    size_t at = m->der.n;
    /* room: decoding only shrinks */
    if (hbuf_add(&m->der, u, n + 1, 4 * HDR_CAP + 64) != CANH_OK)
        return -1;
    uint8_t *o = m->der.p + at;
    size_t k, q = 0;
    while (q < n && u[q] != '?' && u[q] != '#')
        q++;
    /* path: %XX decoded (%2F too), runs of '/' compressed */
    size_t w = 0;
    for (size_t r = 0; r < q;) {
        int c = u[r];
        if (c == '%' && r + 2 < q && hexval(u[r + 1]) >= 0 && hexval(u[r + 2]) >= 0) {
            c = hexval(u[r + 1]) * 16 + hexval(u[r + 2]);
            r += 3;
        } else {
            r++;
        }
        if (c == '/' && w > 0 && o[w - 1] == '/')
            continue;
        o[w++] = (uint8_t)c;
    }
    w = dot_segments(o, w);
    k = w;
    /* query: %XX decoded, kept with its '?' (no fragment) */
    if (q < n && u[q] == '?') {
        o[k++] = '?';
        size_t e = q + 1;
        while (e < n && u[e] != '#')
            e++;
        for (size_t r = q + 1; r < e;) {
            if (u[r] == '%' && r + 2 < e && hexval(u[r + 1]) >= 0 && hexval(u[r + 2]) >= 0) {
                o[k++] = (uint8_t)(hexval(u[r + 1]) * 16 + hexval(u[r + 2]));
                r += 3;
            } else {
                o[k++] = u[r++];
            }
        }
    }
    m->der.n = at + k;
    set_f(m, CANH_NB_HTTP_URI, SRC_DER, at, k);
    return 0;
}

/* Host value -> lower case, no port (IPv6 literal keeps its brackets). */
static int norm_host(http_msg_t *m, const uint8_t *h, size_t n)
{
    size_t e = n;
    if (n && h[0] == '[') {
        const uint8_t *rb = memchr(h, ']', n);
        if (rb)
            e = (size_t)(rb - h) + 1;
    } else {
        const uint8_t *c = memchr(h, ':', n);
        if (c)
            e = (size_t)(c - h);
    }
    long at = der_add(m, h, e);
    if (at < 0)
        return -1;
    for (size_t i = 0; i < e; i++)
        m->der.p[at + i] = (uint8_t)lc(m->der.p[at + i]);
    set_f(m, CANH_NB_HTTP_HOST, SRC_DER, (size_t)at, e);
    return 0;
}

typedef struct hdr {
    uint32_t name, nlen;         /* offsets into raw */
    uint32_t val, vlen;          /* into raw, or into der when folded (vder) */
    uint8_t vder, dup;           /* dup: merged into an earlier one */
    uint8_t nocolon;             /* a name alone so far (response) */
} hdr_t;

#define MAX_HDRS 256

static const uint8_t *hval(const http_msg_t *m, const hdr_t *h)
{
    return (h->vder ? m->der.p : m->raw.p) + h->val;
}

/* Whether lit is in v[0..n), letters in any case, NUL bytes skipped. */
static int has_nocase_nozero(const uint8_t *v, size_t n, const char *lit)
{
    size_t l = strlen(lit);
    for (size_t i = 0; i < n; i++) {
        size_t k = 0, j = i;
        while (j < n && k < l) {
            if (v[j] == 0 && k > 0) {
                j++;
                continue;
            }
            if (lc(v[j]) != lit[k])
                break;
            j++;
            k++;
        }
        if (k == l)
            return 1;
    }
    return 0;
}

/* Codings in a Content-Encoding value: each item (between commas) that
 * names gzip or deflate is one layer, up to ZLAYERS. */
static int count_codings(const uint8_t *v, size_t n)
{
    int layers = 0;
    for (size_t k = 0; k < n;) {
        size_t b = k;
        while (k < n && v[k] != ',')
            k++;
        if (has_nocase_nozero(v + b, k - b, "gzip") || has_nocase_nozero(v + b, k - b, "deflate"))
            layers++;
        k++;
    }
    return layers < ZLAYERS ? layers : ZLAYERS;
}

/* Parses m->raw (a complete header block). dir 0: request. Sets fields and
 * *clen (-1: none), *chunked. */
static int parse_head(http_state_t *s, http_msg_t *m, int dir, int64_t *clen, int *chunked)
{
    const uint8_t *p = m->raw.p;
    size_t n = m->raw.n;
    size_t l1e, l1n;
    if (!next_line(p, n, 0, dir, 1, &l1e, &l1n))
        return CANH_EPARSE;
    *clen = -1;
    *chunked = 0;
    m->enc = 0;
    if (dir == 0) {
        /* method SP target SP HTTP/x.y; without the protocol (HTTP/0.9's
         * shape, or a client that left it out) the rest is the target and
         * the headers, if any, are read as usual, as libhtp does */
        size_t a = 0;
        while (a < l1e && is_tchar(p[a]))
            a++;
        if (a == 0 || a >= l1e || p[a] != ' ')
            return CANH_EPARSE;
        size_t ts = a + 1;
        while (ts < l1e && p[ts] == ' ')
            ts++;
        size_t pe = l1e;
        while (pe > ts && p[pe - 1] != ' ')
            pe--;
        int has_proto = pe > ts && l1e - pe >= 5 && memcmp(p + pe, "HTTP/", 5) == 0;
        size_t te = has_proto ? pe - 1 : l1e;
        while (te > ts && (p[te - 1] == ' ' || p[te - 1] == '\t'))
            te--;
        if (te == ts)
            return CANH_EPARSE;
        set_f(m, CANH_NB_HTTP_METHOD, SRC_RAW, 0, a);
        set_f(m, CANH_NB_HTTP_URI_RAW, SRC_RAW, ts, te - ts);
        if (has_proto)
            set_f(m, CANH_NB_HTTP_PROTOCOL, SRC_RAW, pe, l1e - pe);
        set_f(m, CANH_NB_HTTP_REQUEST_LINE, SRC_RAW, 0, l1e);
        m->is_head = eq_nocase(p, a, "HEAD");
        m->is_connect = eq_nocase(p, a, "CONNECT");
        s->tunnel |= m->is_connect;
        if (m->is_connect) {
            /* authority-form: the target is host:port; http.uri is it as sent */
            long at = der_add(m, p + ts, te - ts);
            if (at < 0)
                return CANH_ENOMEM;
            set_f(m, CANH_NB_HTTP_URI, SRC_DER, (size_t)at, te - ts);
            if (norm_host(m, p + ts, te - ts) < 0)
                return CANH_ENOMEM;
        } else if (norm_uri(m, p + ts, te - ts) < 0) {
            return CANH_ENOMEM;
        }
        /* absolute-form: the host is the target's */
        const uint8_t *u = p + ts;
        size_t un = te - ts, c = 0;
        while (c < un && u[c] != ':' && u[c] != '/')
            c++;
        if (!m->is_connect && c > 0 && c + 2 < un && u[c] == ':' && u[c + 1] == '/' &&
            u[c + 2] == '/') {
            size_t a0 = c + 3, a1 = a0;
            while (a1 < un && u[a1] != '/' && u[a1] != '?' && u[a1] != '#')
                a1++;
            const uint8_t *at = memchr(u + a0, '@', a1 - a0);   /* userinfo@ */
            if (at)
                a0 = (size_t)(at - u) + 1;
            if (a1 > a0 && norm_host(m, u + a0, a1 - a0) < 0)
                return CANH_ENOMEM;
        }
    } else {
        /* HTTP/x.y SP 3DIGIT [SP reason]; as clients (and libhtp) do,
         * "http/" in any case and a status that is not 3 digits are taken
         * (a status canh cannot read is a final one: status 0) */
        if (l1e < 5 || !eq_nocase(p, 5, "HTTP/"))
            return CANH_EPARSE;
        size_t v = 5;
        while (v < l1e && p[v] != ' ' && p[v] != '\t')
            v++;
        size_t c = v;
        while (c < l1e && (p[c] == ' ' || p[c] == '\t'))
            c++;
        size_t ce = c;
        while (ce < l1e && p[ce] != ' ' && p[ce] != '\t')
            ce++;
        m->status = 0;
        if (ce - c == 3 && p[c] >= '0' && p[c] <= '9' && p[c + 1] >= '0' && p[c + 1] <= '9' &&
            p[c + 2] >= '0' && p[c + 2] <= '9')
            m->status = (p[c] - '0') * 100 + (p[c + 1] - '0') * 10 + (p[c + 2] - '0');
        set_f(m, CANH_NB_HTTP_PROTOCOL, SRC_RAW, 0, v);
        set_f(m, CANH_NB_HTTP_STAT_CODE, SRC_RAW, c, ce - c);
        size_t r = ce;
        while (r < l1e && (p[r] == ' ' || p[r] == '\t'))
            r++;
        set_f(m, CANH_NB_HTTP_STAT_MSG, SRC_RAW, r, l1e - r);
        set_f(m, CANH_NB_HTTP_RESPONSE_LINE, SRC_RAW, 0, l1e);
    }

    /* header lines: obs-fold continues a value; a response's lines are
     * read as libhtp reads them (see the header comment) */
    hdr_t hs[MAX_HDRS];
    size_t nh = 0;
    size_t i = l1n;
    set_f(m, CANH_NB_HTTP_HEADER_RAW, SRC_RAW, i, n - i);
    while (i < n) {
        size_t ce, next, end;
        if (!next_line(p, n, i, dir, 1, &ce, &next)) {
            ce = n;                             /* a last line without its end */
            next = n;
        }
        if (ce == i)
            break;                              /* the empty line */
        if (dir == 1 && blank_line(p, i, ce)) {
            if (resp_blank_ends(p, n, next, 1, &end) != 0)
                break;
            i = next;                           /* dropped: a header follows */
            continue;
        }
        int cont = p[i] == ' ' || p[i] == '\t' || (dir == 1 && p[i] == 0);
        if (cont && nh > 0 && hs[nh - 1].nocolon) {
            /* "Name" then " : value" on the next line: one header */
            size_t a = i;
            while (a < ce && (p[a] == ' ' || p[a] == '\t' || p[a] == 0))
                a++;
            if (a < ce && p[a] == ':') {
                hdr_t *h = &hs[nh - 1];
                size_t b = ce;
                a++;
                while (a < b && (p[a] == ' ' || p[a] == '\t'))
                    a++;
                while (b > a && (p[b - 1] == ' ' || p[b - 1] == '\t'))
                    b--;
                h->nocolon = 0;
                h->val = (uint32_t)a;
                h->vlen = (uint32_t)(b - a);
                i = next;
                continue;
            }
        } else if (cont && nh > 0 && (dir == 0 || looks_header(p, ce, i, 1) != 1)) {
            /* obs-fold: value += SP + trimmed continuation (a response's
             * indented "Name: value" is a header of its own, as libhtp and
             * browsers read it) */
            hdr_t *h = &hs[nh - 1];
            size_t a = i, b = ce;
            while (a < b && (p[a] == ' ' || p[a] == '\t'))
                a++;
            while (b > a && (p[b - 1] == ' ' || p[b - 1] == '\t'))
                b--;
            size_t vl = h->vlen;
            long at = h->vder && h->val + vl == m->der.n ? (long)h->val
                                                         : der_add(m, hval(m, h), vl);
            if (at < 0 || (vl && b > a && der_add(m, " ", 1) < 0) || der_add(m, p + a, b - a) < 0)
                return CANH_ENOMEM;
            h->val = (uint32_t)at;
            h->vlen = (uint32_t)(m->der.n - (size_t)at);
            h->vder = 1;
            i = next;
            continue;
        }
        size_t ns = i;
        while (ns < ce && (p[ns] == ' ' || p[ns] == '\t'))
            ns++;
        const uint8_t *colon = memchr(p + ns, ':', ce - ns);
        if (!colon) {
            /* a line without a colon is ignored, as libhtp does, unless a
             * response's next line gives its value (above) */
            size_t ne = ce;
            while (ne > ns && p[ne - 1] <= 0x20)
                ne--;
            if (dir == 1 && ne > ns && nh < MAX_HDRS)
                hs[nh++] = (hdr_t){ (uint32_t)ns, (uint32_t)(ne - ns), 0, 0, 0, 0, 1 };
            i = next;
            continue;
        }
        if (colon > p + ns && nh < MAX_HDRS) {
            size_t ne = (size_t)(colon - p);
            while (ne > ns && p[ne - 1] <= 0x20)
                ne--;                           /* "Name\v:", "Name\0:" is Name, as libhtp reads it */
            size_t a = (size_t)(colon - p) + 1, b = ce;
            while (a < b && (p[a] == ' ' || p[a] == '\t'))
                a++;
            while (b > a && (p[b - 1] == ' ' || p[b - 1] == '\t'))
                b--;
            if (ne > ns)
                hs[nh++] = (hdr_t){ (uint32_t)ns, (uint32_t)(ne - ns), (uint32_t)a,
                                    (uint32_t)(b - a), 0, 0, 0 };
        }
        i = next;
    }
    /* a name never given a value is no header */
    size_t kept = 0;
    for (size_t a = 0; a < nh; a++)
        if (!hs[a].nocolon)
            hs[kept++] = hs[a];
    nh = kept;

    /* framing by the first Content-Length (libhtp ignores repeats) */
    for (size_t a = 0; a < nh; a++)
        if (eq_name(p + hs[a].name, hs[a].nlen, "content-length")) {
            *clen = parse_clen(hval(m, &hs[a]), hs[a].vlen, dir == 1);
            if (*clen == -2)
                return CANH_EPARSE;
            break;
        }

    /* merge repeated names: value "v1, v2" on the first */
    for (size_t a = 0; a < nh; a++) {
        if (hs[a].dup)
            continue;
        long at = -1;
        for (size_t b = a + 1; b < nh; b++) {
            if (hs[b].dup || hs[b].nlen != hs[a].nlen)
                continue;
            size_t k = 0;
            while (k < hs[a].nlen && lc(p[hs[a].name + k]) == lc(p[hs[b].name + k]))
                k++;
            if (k != hs[a].nlen)
                continue;
            hs[b].dup = 1;
            if (at < 0 && (at = der_add(m, hval(m, &hs[a]), hs[a].vlen)) < 0)
                return CANH_ENOMEM;
            if (der_add(m, ", ", 2) < 0 || der_add(m, hval(m, &hs[b]), hs[b].vlen) < 0)
                return CANH_ENOMEM;
        }
        if (at >= 0) {
            hs[a].val = (uint32_t)at;
            hs[a].vlen = (uint32_t)(m->der.n - (size_t)at);
            hs[a].vder = 1;
        }
    }

    /* http.header, http.header_names, named buffers, framing */
    long names_at = der_add(m, "\r\n", 2);
    if (names_at < 0)
        return CANH_ENOMEM;
    for (size_t a = 0; a < nh; a++) {
        if (der_add(m, p + hs[a].name, hs[a].nlen) < 0 || der_add(m, "\r\n", 2) < 0)
            return CANH_ENOMEM;
    }
    if (der_add(m, "\r\n", 2) < 0)
        return CANH_ENOMEM;
    set_f(m, CANH_NB_HTTP_HEADER_NAMES, SRC_DER, (size_t)names_at, m->der.n - (size_t)names_at);

    size_t hdr_at = m->der.n;
    for (size_t a = 0; a < nh; a++) {
        const hdr_t *h = &hs[a];
        if (h->dup)
            continue;
        const uint8_t *nm = p + h->name;
        int cookie = eq_name(nm, h->nlen, dir == 0 ? "cookie" : "set-cookie");
        if (!cookie) {
            if (der_add(m, nm, h->nlen) < 0 || der_add(m, ": ", 2) < 0 ||
                der_add(m, hval(m, h), h->vlen) < 0 || der_add(m, "\r\n", 2) < 0)
                return CANH_ENOMEM;
        }
    }
    set_f(m, CANH_NB_HTTP_HEADER, SRC_DER, hdr_at, m->der.n - hdr_at);

    for (size_t a = 0; a < nh; a++) {
        const hdr_t *h = &hs[a];
        if (h->dup)
            continue;
        const uint8_t *nm = p + h->name, *v = hval(m, h);
        int src = h->vder ? SRC_DER : SRC_RAW;
        int id = -1;
        if (eq_name(nm, h->nlen, "content-type"))
            id = CANH_NB_HTTP_CONTENT_TYPE;
        else if (eq_name(nm, h->nlen, "content-length"))
            id = CANH_NB_HTTP_CONTENT_LEN;
        else if (eq_name(nm, h->nlen, dir == 0 ? "cookie" : "set-cookie"))
            id = CANH_NB_HTTP_COOKIE;
        else if (dir == 0 && eq_name(nm, h->nlen, "host"))
            id = CANH_NB_HTTP_HOST_RAW;
        else if (dir == 0 && eq_name(nm, h->nlen, "user-agent"))
            id = CANH_NB_HTTP_UA;
        else if (dir == 0 && eq_name(nm, h->nlen, "referer"))
            id = CANH_NB_HTTP_REFERER;
        else if (dir == 1 && eq_name(nm, h->nlen, "server"))
            id = CANH_NB_HTTP_SERVER;
        else if (dir == 1 && eq_name(nm, h->nlen, "location"))
            id = CANH_NB_HTTP_LOCATION;
        if (id >= 0)
            set_f(m, id, src, h->val, h->vlen);
        if (id == CANH_NB_HTTP_HOST_RAW && !m->f[CANH_NB_HTTP_HOST].set &&
            norm_host(m, v, h->vlen) < 0)
            return CANH_ENOMEM;
        if (eq_name(nm, h->nlen, "content-encoding")) {
            /* gzip or deflate named anywhere in it (NULs skipped), as
             * libhtp reads it; anything else is left as it came */
            m->enc = (uint8_t)count_codings(v, h->vlen);
        }
        if (eq_name(nm, h->nlen, "transfer-encoding")) {
            /* chunked when "chunked" is anywhere in it (NULs skipped), as
             * libhtp reads it: "xchunked", "chunked;" and a list all are */
            *chunked |= has_nocase_nozero(v, h->vlen, "chunked");
        }
    }
    return CANH_OK;
}

/* ------------------------------------------------------------- reporting */

static void fill_tx(canh_app_tx_t *tx, const http_msg_t *m)
{
    for (int i = 0; i < CANH_NB__COUNT; i++)
        if (m->f[i].set) {
            tx->buf[i].p = msg_ptr(m, i);
            tx->buf[i].n = m->f[i].len;
        }
}

static http_msg_t *ring_get(http_state_t *s, uint64_t seq)
{
    if (s->nreq == 0 || s->nomatch)
        return NULL;
    uint64_t base = s->ring[s->head]->seq;
    if (seq < base || seq >= base + s->nreq)
        return NULL;
    return s->ring[(s->head + (unsigned)(seq - base)) % RING];
}

static void report_req(http_state_t *s, http_msg_t *m, canh_flow_t *f, canh_app_fn fn, void *ud,
                       int event_only)
{
    canh_app_tx_t tx;
    memset(&tx, 0, sizeof tx);
    tx.proto = CANH_APP_HTTP;
    tx.dir = 0;
    tx.id = m->seq + 1;
    tx.event_only = (uint8_t)event_only;
    fill_tx(&tx, m);
    if (!event_only) {
        m->reported = 1;
        canh_app_counts_t *c = canh_app_thread_counts();
        c->http_requests++;
        c->body_truncated += m->truncated;
    }
    if (fn)
        fn(ud, f, &tx);
}

/* request-side buffers a response's tx borrows from its request */
static const int req_side[] = {
    CANH_NB_HTTP_METHOD, CANH_NB_HTTP_URI, CANH_NB_HTTP_URI_RAW, CANH_NB_HTTP_REQUEST_LINE,
    CANH_NB_HTTP_HOST, CANH_NB_HTTP_HOST_RAW, CANH_NB_HTTP_UA, CANH_NB_HTTP_REFERER,
    CANH_NB_HTTP_REQUEST_BODY,
};

static void report_resp(http_state_t *s, http_msg_t *m, canh_flow_t *f, canh_app_fn fn, void *ud)
{
    canh_app_tx_t tx;
    memset(&tx, 0, sizeof tx);
    tx.proto = CANH_APP_HTTP;
    tx.dir = 1;
    tx.id = m->seq + 1;             /* its request's */
    fill_tx(&tx, m);
    http_msg_t *rq = ring_get(s, m->seq);
    if (rq)
        for (size_t i = 0; i < CANH_ARRAY_LEN(req_side); i++)
            if (rq->f[req_side[i]].set) {
                tx.buf[req_side[i]].p = msg_ptr(rq, req_side[i]);
                tx.buf[req_side[i]].n = rq->f[req_side[i]].len;
            }
    m->reported = 1;
    canh_app_counts_t *c = canh_app_thread_counts();
    c->http_responses++;
    c->body_truncated += m->truncated;
    if (fn)
        fn(ud, f, &tx);
    if (rq)
        rq->responded = 1;
    /* requests answered and reported leave the ring */
    while (s->nreq && s->ring[s->head]->responded && s->ring[s->head]->reported) {
        s->head = (s->head + 1) % RING;
        s->nreq--;
    }
}

/* The message of direction dir is complete (or capped: done == 0). */
static int msg_done(http_state_t *s, int dir, canh_flow_t *f, canh_app_fn fn, void *ud)
{
    http_msg_t *m = s->d[dir].msg;
    if (!m || m->reported)
        return CANH_OK;
    if (dir == 0) {
        report_req(s, m, f, fn, ud, 0);
        return CANH_OK;
    }
    report_resp(s, m, f, fn, ud);
    return CANH_OK;
}

/* Decoded bytes into m's body up to the cap; 1 when the cap is hit. */
static int body_put(http_state_t *s, http_msg_t *m, const uint8_t *d, size_t n)
{
    size_t room = s->body_cap - m->body.n;
    size_t k = n < room ? n : room;
    if (k && hbuf_add(&m->body, d, k, s->body_cap) != CANH_OK)
        room = 0;
    if (n > room)
        m->truncated = 1;
    return m->truncated;
}

static void stage_in(http_state_t *s, http_dir_t *dd, http_msg_t *m, int k,
                     const uint8_t *in, size_t n);

/* The length of a gzip member's header (RFC 1952 2.3) in h[0..n), read as
 * browsers read it: reserved flag bits and the header CRC (FHCRC) are not
 * checked (zlib refuses both); 0 when it is not complete in h. */
static size_t gzip_head_len(const uint8_t *h, size_t n)
{
    if (n < 10 || h[0] != 0x1f || h[1] != 0x8b || h[2] != 8)
        return 0;
    int flg = h[3];
    size_t k = 10;
    if (flg & 0x04) {                    /* FEXTRA */
        if (k + 2 > n)
            return 0;
        k += 2 + (size_t)(h[k] | h[k + 1] << 8);
    }
    for (int bit = 0x08; bit <= 0x10; bit <<= 1)   /* FNAME, FCOMMENT */
        if (flg & bit) {
            while (k < n && h[k])
                k++;
            if (k >= n)
                return 0;
            k++;
        }
    if (flg & 0x02)                      /* FHCRC */
        k += 2;
    return k <= n ? k : 0;
}

/* Inflates in..n through stage k into the next; Z_OK (more wanted),
 * Z_STREAM_END, or an error. */
static int z_feed(http_state_t *s, http_dir_t *dd, http_msg_t *m, int k, const uint8_t *in,
                  size_t n)
{
    uint8_t out[4096];
    z_stream *z = dd->zs[k].z;
    z->next_in = (Bytef *)in;
    z->avail_in = (uInt)n;
    while (z->avail_in > 0 && !m->truncated) {
        z->next_out = out;
        z->avail_out = sizeof out;
        int rc = inflate(z, Z_NO_FLUSH);
        size_t got = sizeof out - z->avail_out;
        if (got)
            stage_in(s, dd, m, k + 1, out, got);
        if (rc == Z_STREAM_END)
            return rc;
        if (rc == Z_BUF_ERROR && got == 0)
            return Z_OK;             /* nothing to do without more input */
        if (rc != Z_OK)
            return rc;
    }
    return Z_OK;
}

/* Stage k waits for the end of a gzip header zlib refused (st->head keeps
 * the first bytes), then inflates what follows it raw. before: the stage's
 * bytes before in..n. */
static void gz_resume(http_state_t *s, http_dir_t *dd, http_msg_t *m, int k, size_t before,
                      const uint8_t *in, size_t n)
{
    zstage_t *st = &dd->zs[k];
    size_t gl = gzip_head_len(st->head, st->in < sizeof st->head ? st->in : sizeof st->head);
    if (!gl) {
        if (st->in >= sizeof st->head)
            st->fail = 1;                /* a header this long is not read */
        return;
    }
    st->gzhead = 0;
    st->raw = 1;
    if (inflateReset2(st->z, -15) != Z_OK) {
        st->fail = 1;
        return;
    }
    int rc = Z_OK;
    if (gl < before)                     /* bytes after it from earlier segments */
        rc = z_feed(s, dd, m, k, st->head + gl, before - gl);
    size_t off = gl > before ? gl - before : 0;
    if (rc == Z_OK && off < n)
        rc = z_feed(s, dd, m, k, in + off, n - off);
    if (rc == Z_STREAM_END)
        st->done = 1;
    else if (rc != Z_OK)
        st->fail = 1;
}

/* Bytes for stage k (k == m->enc: the body itself). On bytes a stage
 * cannot inflate (after one retry as raw deflate) it stops; if it made
 * nothing yet, it passes them through as they came (libhtp does too). The
 * choices depend on where in the stream an error is, never on how the
 * stream was cut. */
static void stage_in(http_state_t *s, http_dir_t *dd, http_msg_t *m, int k,
                     const uint8_t *in, size_t n)
{
    if (k >= m->enc) {
        body_put(s, m, in, n);
        return;
    }
    zstage_t *st = &dd->zs[k];
    if (st->pass) {
        stage_in(s, dd, m, k + 1, in, n);
        return;
    }
    if (st->fail || st->done)
        return;
    if (!st->z) {
        st->z = calloc(1, sizeof *st->z);
        if (!st->z || inflateInit2(st->z, 15 + 32) != Z_OK) {
            free(st->z);
            st->z = NULL;
            st->fail = 1;
            return;
        }
    }
    size_t before = st->in;
    if (before < sizeof st->head) {
        size_t c = n < sizeof st->head - before ? n : sizeof st->head - before;
        memcpy(st->head + before, in, c);
    }
    st->in += n;
    if (st->gzhead) {
        gz_resume(s, dd, m, k, before, in, n);
        return;
    }
    int rc = z_feed(s, dd, m, k, in, n);
    if (rc == Z_DATA_ERROR && !st->raw && st->z->total_out == 0 && before < sizeof st->head &&
        st->in >= 3 && st->head[0] == 0x1f && st->head[1] == 0x8b && st->head[2] == 8) {
        /* a gzip header zlib refuses (reserved flags, a wrong header CRC):
         * skipped, its deflate data inflated raw, as browsers do */
        st->gzhead = 1;
        gz_resume(s, dd, m, k, before, in, n);
        return;
    } else if (rc == Z_DATA_ERROR && !st->raw && st->z->total_out == 0 &&
        st->z->total_in < sizeof st->head) {
        /* not zlib nor gzip: raw deflate from the first byte (what it
         * makes is taken back if it fails within the first bytes) */
        st->raw = 1;
        st->rawtry = 1;
        st->mark = m->body.n;
        if (inflateReset2(st->z, -15) != Z_OK) {
            st->fail = 1;
            return;
        }
        rc = Z_OK;
        if (before)
            rc = z_feed(s, dd, m, k, st->head, before);
        if (rc == Z_OK)
            rc = z_feed(s, dd, m, k, in, n);
    }
    if (rc == Z_STREAM_END) {
        st->done = 1;
    } else if (rc != Z_OK) {
        st->fail = 1;
        if (st->rawtry && k + 1 >= m->enc && st->in <= sizeof st->head && !m->reported) {
            /* the raw try failed early: these bytes were no deflate data
             * at all (clear text said to be gzip): as they came (libhtp) */
            m->body.n = st->mark;
            m->truncated = 0;
            st->pass = 1;
            stage_in(s, dd, m, k + 1, st->head, st->in);
        } else if (st->z->total_out == 0 && st->z->total_in < sizeof st->head) {
            st->pass = 1;
            stage_in(s, dd, m, k + 1, st->head, before);
            stage_in(s, dd, m, k + 1, in, n);
        }
    }
}

/* Body bytes of direction dir's message. */
static void body_add(http_state_t *s, int dir, const uint8_t *d, size_t n, canh_flow_t *f,
                     canh_app_fn fn, void *ud)
{
    http_msg_t *m = s->d[dir].msg;
    if (m->reported || m->truncated)
        return;
    if (m->enc) {
        stage_in(s, &s->d[dir], m, 0, d, n);
        set_f(m, dir == 0 ? CANH_NB_HTTP_REQUEST_BODY : CANH_NB_HTTP_RESPONSE_BODY, SRC_BODY, 0,
              m->body.n);
        if (m->truncated)
            msg_done(s, dir, f, fn, ud);
        return;
    }
    size_t room = s->body_cap - m->body.n;
    size_t k = n < room ? n : room;
    if (k && hbuf_add(&m->body, d, k, s->body_cap) != CANH_OK)
        k = 0, room = 0;
    if (n > room) {
        m->truncated = 1;
    }
    set_f(m, dir == 0 ? CANH_NB_HTTP_REQUEST_BODY : CANH_NB_HTTP_RESPONSE_BODY, SRC_BODY, 0,
          m->body.n);
    if (m->truncated)
        msg_done(s, dir, f, fn, ud);
}

/* After the header block of direction dir: sets up the body and reports
 * when there is none. Returns CANH_APP_DONE when the flow turns tunnel. */
static int head_done(http_state_t *s, int dir, canh_flow_t *f, canh_app_fn fn, void *ud)
{
    http_dir_t *d = &s->d[dir];
    http_msg_t *m = d->msg;
    int64_t clen;
    int chunked;
    int rc = parse_head(s, m, dir, &clen, &chunked);
    if (rc == CANH_ENOMEM)
        return CANH_EPARSE;
    if (rc != CANH_OK)
        return rc;
    /* chunked on an HTTP/1.0 answer is dechunked too, as libhtp and some
     * browsers do (a body that is not chunked after all: see unchunk) */
    d->clen = clen;
    d->chunks = 0;
    if (m->enc) {
        for (int k = 0; k < ZLAYERS; k++) {
            zstage_t *st = &d->zs[k];
            st->raw = st->fail = st->done = st->pass = st->gzhead = st->rawtry = 0;
            st->in = 0;
            if (st->z && inflateReset2(st->z, 15 + 32) != Z_OK)
                st->fail = 1;
        }
    }
    if (dir == 0) {
        m->seq = s->req_seq++;
        if (chunked) {
            d->state = ST_CHUNK_SIZE;
        } else if (clen > 0) {
            d->state = ST_BODY_CL;
            d->remain = (uint64_t)clen;
        } else {
            d->state = ST_START;
            msg_done(s, 0, f, fn, ud);
        }
        return CANH_OK;
    }
    /* a response */
    if (m->status >= 100 && m->status < 200 && m->status != 101 && !chunked && clen <= 0) {
        d->state = ST_START;          /* interim: not the answer (one with a body is taken
                                         as the answer, as clients do) */
        return CANH_OK;
    }
    m->seq = s->resp_seq++;
    http_msg_t *rq = ring_get(s, m->seq);
    int head = rq && rq->is_head, connect = rq && rq->is_connect;
    if (m->status == 101 && !chunked && clen <= 0) {   /* one with a body is not a switch */
        msg_done(s, 1, f, fn, ud);
        return CANH_APP_DONE;
    }
    if (connect && m->status >= 200 && m->status < 300) {
        /* a tunnel: HTTP inside it is parsed on (libhtp does so too),
         * anything else ends parsing (see ST_START) */
        s->tunnel = 1;
        d->state = ST_START;
        msg_done(s, 1, f, fn, ud);
        return CANH_OK;
    }
    if (head || ((m->status == 204 || m->status == 304) && !chunked && clen < 0)) {
        /* no body; a 204 / 304 that frames one anyway has it read, as
         * browsers and libhtp do */
        d->state = ST_START;
        msg_done(s, 1, f, fn, ud);
    } else if (chunked) {
        d->state = ST_CHUNK_SIZE;
    } else if (clen >= 0) {
        if (clen == 0) {
            d->state = ST_START;
            msg_done(s, 1, f, fn, ud);
        } else {
            d->state = ST_BODY_CL;
            d->remain = (uint64_t)clen;
        }
    } else {
        d->state = ST_BODY_CLOSE;
    }
    return CANH_OK;
}

static http_msg_t *new_msg(http_state_t *s, int dir)
{
    if (dir == 1) {
        msg_reset(&s->resp);
        return &s->resp;
    }
    if (s->nreq == RING) {
        /* the oldest is reported (parsing is in order): its response, if
         * it ever comes, goes without the request's fields */
        s->head = (s->head + 1) % RING;
        s->nreq--;
    }
    unsigned slot = (s->head + s->nreq) % RING;
    if (!s->ring[slot]) {
        s->ring[slot] = calloc(1, sizeof(http_msg_t));
        if (!s->ring[slot])
            return NULL;
    }
    s->nreq++;
    msg_reset(s->ring[slot]);
    return s->ring[slot];
}

/* ---------------------------------------------------------------- parsing */

/* A response said chunked but its first "size" line is none: its bytes so
 * far are body, read on by Content-Length or to the close. */
static void unchunk(http_state_t *s, int dir, const uint8_t *b, size_t n, canh_flow_t *f,
                    canh_app_fn fn, void *ud)
{
    http_dir_t *d = &s->d[dir];
    if (d->clen >= 0 && (uint64_t)d->clen <= n) {
        body_add(s, dir, b, (size_t)d->clen, f, fn, ud);
        d->state = ST_START;
        msg_done(s, dir, f, fn, ud);
        return;
    }
    body_add(s, dir, b, n, f, fn, ud);
    if (d->clen >= 0) {
        d->state = ST_BODY_CL;
        d->remain = (uint64_t)d->clen - n;
    } else {
        d->state = ST_BODY_CLOSE;
    }
}

/* The shape of a start line (without its LF): "TOKEN SP target ..." (with
 * " HTTP/x.y" at its end when need_proto) or "HTTP/..." (any case). */
static int start_line_ok(const uint8_t *p, size_t n, int dir, int need_proto)
{
    if (n && p[n - 1] == '\r')
        n--;
    if (dir == 1)
        return n >= 5 && eq_nocase(p, 5, "HTTP/");
    size_t a = 0;
    while (a < n && is_tchar(p[a]))
        a++;
    if (a == 0 || a >= n || p[a] != ' ')
        return 0;
    while (a < n && (p[a] == ' ' || p[a] == '\t'))
        a++;
    if (need_proto)                     /* resyncing: a line of a body is no request */
        return n - a > 9 && memcmp(p + n - 9, " HTTP/", 6) == 0;
    return a < n;                       /* a target (the protocol may be missing) */
}

/* Bytes that cannot start a message: an error, or skipped while resyncing. */
static int not_a_start(http_state_t *s, http_dir_t *d, int dir, size_t len)
{
    if (s->tunnel)
        return CANH_APP_DONE;
    if (!d->resync && dir == 0)
        return CANH_EPARSE;
    d->skipped += len;
    return d->skipped > RESYNC_CAP ? CANH_EPARSE : CANH_OK;
}

static int feed(http_state_t *s, int dir, const uint8_t *p, size_t n, canh_flow_t *f,
                canh_app_fn fn, void *ud);

/* Server bytes without a status line start (or go on) a response that is
 * all body, read line by line until a line starts a response (libhtp's
 * reading of HTTP/0.9 answers and of junk; browsers show it too). */
static void body_line(http_state_t *s, http_dir_t *d)
{
    if (!d->bodyonly) {
        d->msg = new_msg(s, 1);
        d->msg->seq = s->resp_seq++;
        d->bodyonly = 1;
        d->clen = -1;
    }
    d->state = ST_BODYLINE;
}

/* A response head, as its bytes come: kept in raw up to HDR_CAP, its end
 * found as libhtp finds it (resp_head_end); *took: bytes of p used. */
static int resp_head(http_state_t *s, http_dir_t *d, const uint8_t *p, size_t n, int final,
                     size_t *took, canh_flow_t *f, canh_app_fn fn, void *ud)
{
    hbuf_t *r = &d->msg->raw;
    size_t before = r->n, take = n < HDR_CAP - before ? n : HDR_CAP - before;
    if (take && hbuf_add(r, p, take, HDR_CAP) != CANH_OK)
        return CANH_EPARSE;
    *took = take;
    if (!d->hfirst) {
        size_t ce, nx;
        int over = 0;
        if (!resp_line(r->p, r->n, 0, &d->hseen, final, &ce, &nx)) {
            if (r->n < HDR_CAP)
                return CANH_OK;
            over = 1;                   /* a first line past the cap: no status line */
            ce = nx = r->n;
        }
        if (over || !start_line_ok(r->p, ce, 1, d->resync)) {
            if (final)
                return CANH_OK;
            /* bytes after the line that came before this segment (the
             * line's end was told by later bytes) are read again */
            size_t back = nx < before ? before - nx : 0;
            uint8_t *tmp = back ? malloc(back) : NULL;
            if (back && !tmp)
                return CANH_EPARSE;
            if (back)
                memcpy(tmp, r->p + nx, back);
            *took = nx > before ? nx - before : 0;
            int rc = CANH_OK;
            if (d->resync || s->tunnel) {
                rc = not_a_start(s, d, 1, nx);
                d->msg = NULL;
                d->state = over ? ST_SKIPLINE : ST_START;
            } else {
                /* the line is body of a response without status line */
                if (!d->bodyonly) {
                    d->msg->seq = s->resp_seq++;
                    d->bodyonly = 1;
                    d->clen = -1;
                }
                body_add(s, 1, r->p, nx, f, fn, ud);
                r->n = 0;
                d->state = over ? ST_BODYLINE : ST_START;
            }
            if (rc == CANH_OK && tmp)
                rc = feed(s, 1, tmp, back, f, fn, ud);
            free(tmp);
            return rc;
        }
        if (d->bodyonly) {
            /* lines before a response (junk after the last one): dropped,
             * this response is the answer, as libhtp pairs it */
            http_msg_t *m = d->msg;
            size_t rn = m->raw.n;
            if (!m->reported)
                s->resp_seq--;
            msg_reset(m);
            m->raw.n = rn;
            d->bodyonly = 0;
        }
        d->hfirst = 1;
        d->hpos = nx;
        d->resync = 0;
        d->skipped = 0;
    }
    size_t end = resp_head_end(r->p, r->n, &d->hpos, &d->hseen, final);
    if (!end)
        return r->n >= HDR_CAP ? CANH_EPARSE : CANH_OK;
    size_t excess = r->n - end;                 /* bytes read past the head */
    size_t back = excess > take ? excess - take : 0;
    uint8_t *tmp = NULL;
    if (back) {
        /* rare: the head's end was told by bytes of an earlier segment */
        tmp = malloc(back);
        if (!tmp)
            return CANH_EPARSE;
        memcpy(tmp, r->p + end, back);
    }
    r->n = end;
    *took = take - (excess - back);
    int rc = head_done(s, 1, f, fn, ud);
    if (rc == CANH_OK && tmp)
        rc = feed(s, 1, tmp, back, f, fn, ud);
    free(tmp);
    return rc;
}

static int feed(http_state_t *s, int dir, const uint8_t *p, size_t n, canh_flow_t *f,
                canh_app_fn fn, void *ud)
{
    http_dir_t *d = &s->d[dir];
    size_t i = 0;
    while (i < n) {
        switch (d->state) {
        case ST_START:
            if (dir == 1 && d->bodyonly && !d->resync && p[i] != 'H' && p[i] != 'h') {
                d->state = ST_BODYLINE;  /* body lines go on, blank ones too */
                break;
            }
            /* empty lines (and blanks, NULs) before a message are skipped */
            while (i < n && (p[i] == '\r' || p[i] == '\n' || p[i] == ' ' || p[i] == '\t' ||
                             p[i] == 0))
                i++;
            if (i == n)
                return CANH_OK;
            /* the first byte must be able to start the message; in a
             * CONNECT tunnel, other bytes (TLS ...) end parsing quietly;
             * after a gap, lines are skipped until one starts a message */
            if (dir == 1 && !d->resync && !s->tunnel && p[i] != 'H' && p[i] != 'h') {
                body_line(s, d);        /* no status line: body, as libhtp reads it */
                break;
            }
            if (dir == 1 && d->bodyonly) {
                /* a line after body lines: the same message, unless it
                 * turns out a status line (resp_head) */
                d->msg->raw.n = 0;
                d->state = ST_HEADERS;
                d->hfirst = 0;
                d->hpos = d->hseen = 0;
                break;
            }
            if (dir == 0 ? !is_tchar(p[i]) : (p[i] != 'H' && p[i] != 'h')) {
                int rc = not_a_start(s, d, dir, 1);
                if (rc != CANH_OK)
                    return rc;
                d->state = ST_SKIPLINE;
                break;
            }
            d->msg = new_msg(s, dir);
            if (!d->msg)
                return CANH_EPARSE;
            d->state = ST_HEADERS;
            d->hfirst = 0;
            d->hpos = d->hseen = 0;
            break;
        case ST_BODYLINE: {
            const uint8_t *nl = memchr(p + i, '\n', n - i);
            size_t e = nl ? (size_t)(nl - p) + 1 : n;
            body_add(s, dir, p + i, e - i, f, fn, ud);
            i = e;
            if (nl)
                d->state = ST_START;
            break;
        }
        case ST_SKIPLINE: {
            const uint8_t *nl = memchr(p + i, '\n', n - i);
            size_t e = nl ? (size_t)(nl - p) + 1 : n;
            int rc = not_a_start(s, d, dir, e - i);
            if (rc != CANH_OK)
                return rc;
            i = e;
            if (nl)
                d->state = ST_START;
            break;
        }
        case ST_HEADERS: {
            if (dir == 1) {
                size_t took;
                int rc = resp_head(s, d, p + i, n - i, 0, &took, f, fn, ud);
                if (rc != CANH_OK)
                    return rc;
                i += took;
                break;
            }
            const uint8_t *nl = memchr(p + i, '\n', n - i);
            size_t e = nl ? (size_t)(nl - p) + 1 : n;
            hbuf_t *r = &d->msg->raw;
            int first = !d->hfirst, over = 0;   /* the start line not complete yet */
            if (hbuf_add(r, p + i, e - i, HDR_CAP) != CANH_OK) {
                if (!first)
                    return CANH_EPARSE;
                over = 1;   /* a first line past the cap: not a start line */
                e = n;
                nl = NULL;
            }
            i = e;
            if (first && (nl || over) && (over || !start_line_ok(r->p, r->n - 1, dir, d->resync))) {
                /* not a start line: an error, or skipped while resyncing */
                int rc = not_a_start(s, d, dir, r->n);
                if (rc != CANH_OK)
                    return rc;
                if (dir == 0)
                    s->nreq--;          /* the slot new_msg took */
                d->msg = NULL;
                d->state = nl ? ST_START : ST_SKIPLINE;
                break;
            }
            if (!nl)
                break;
            if (first) {
                d->hfirst = 1;
                d->resync = 0;
                d->skipped = 0;
                continue;
            }
            size_t k = r->n;
            int end = (k >= 2 && r->p[k - 2] == '\n') ||
                      (k >= 3 && r->p[k - 2] == '\r' && r->p[k - 3] == '\n');
            if (!end)
                break;
            int rc = head_done(s, dir, f, fn, ud);
            if (rc != CANH_OK)
                return rc;
            break;
        }
        case ST_BODY_CL: {
            size_t k = n - i;
            if (k > d->remain)
                k = (size_t)d->remain;
            body_add(s, dir, p + i, k, f, fn, ud);
            i += k;
            d->remain -= k;
            if (d->remain == 0) {
                d->state = ST_START;
                msg_done(s, dir, f, fn, ud);
            }
            break;
        }
        case ST_BODY_CLOSE:
            body_add(s, dir, p + i, n - i, f, fn, ud);
            i = n;
            break;
        case ST_CHUNK_SIZE:
        case ST_TRAILER: {
            const uint8_t *nl = memchr(p + i, '\n', n - i);
            size_t e = nl ? (size_t)(nl - p) + 1 : n;
            if (hbuf_add(&d->line, p + i, e - i, LINE_CAP) != CANH_OK) {
                if (dir == 1 && d->state == ST_CHUNK_SIZE && d->chunks == 0) {
                    unchunk(s, dir, d->line.p, d->line.n, f, fn, ud);   /* see below */
                    d->line.n = 0;
                    break;              /* these bytes go on as body */
                }
                return CANH_EPARSE;
            }
            i = e;
            if (!nl)
                break;
            const uint8_t *l = d->line.p;
            size_t line_n = d->line.n;   /* with its LF */
            size_t ln = line_n - 1;
            if (ln && l[ln - 1] == '\r')
                ln--;
            d->line.n = 0;
            if (d->state == ST_TRAILER) {
                if (ln == 0) {
                    d->state = ST_START;
                    msg_done(s, dir, f, fn, ud);
                }
                break;
            }
            /* lenient as servers and libhtp are: blanks (CR, VT, FF too)
             * and empty lines before the size, anything after its digits
             * (";ext", junk) ignored */
            size_t a = 0;
            while (a < ln && (l[a] == ' ' || l[a] == '\t' || l[a] == '\r' || l[a] == '\v' ||
                              l[a] == '\f'))
                a++;
            if (a == ln)
                break;                  /* an empty line: still waiting for the size */
            uint64_t v = 0;
            size_t nd = 0;
            while (a < ln && hexval(l[a]) >= 0) {
                if (v >> 56)
                    return CANH_EPARSE;
                v = v * 16 + (uint64_t)hexval(l[a++]);
                nd++;
            }
            if (!nd) {
                if (dir == 1 && d->chunks == 0) {
                    /* "chunked" but not chunked at all: read as it comes
                     * (by its Content-Length, or to the close), as clients
                     * and libhtp do */
                    unchunk(s, dir, l, line_n, f, fn, ud);
                    break;
                }
                return CANH_EPARSE;
            }
            if (v == 0) {
                d->state = ST_TRAILER;
            } else {
                d->state = ST_CHUNK_DATA;
                d->remain = v;
                d->chunks++;
            }
            break;
        }
        case ST_CHUNK_DATA: {
            size_t k = n - i;
            if (k > d->remain)
                k = (size_t)d->remain;
            body_add(s, dir, p + i, k, f, fn, ud);
            i += k;
            d->remain -= k;
            if (d->remain == 0)
                d->state = ST_CHUNK_CRLF;
            break;
        }
        case ST_CHUNK_CRLF:
            /* CRLF (or a bare LF) after the chunk's data */
            if (p[i] == '\r') {
                i++;
            } else if (p[i] == '\n') {
                i++;
                d->state = ST_CHUNK_SIZE;
            } else {
                return CANH_EPARSE;
            }
            break;
        default:   /* ST_DONE */
            return CANH_OK;
        }
    }
    return CANH_OK;
}

/* The flow (or direction) ends: report what is pending. */
static void end_dir(http_state_t *s, int dir, canh_flow_t *f, canh_app_fn fn, void *ud)
{
    http_dir_t *d = &s->d[dir];
    if (d->msg && !d->msg->reported && d->state == ST_CHUNK_SIZE && dir == 1 &&
        d->chunks == 0 && d->line.n) {
        unchunk(s, dir, d->line.p, d->line.n, f, fn, ud);   /* no size line came */
        d->line.n = 0;
    }
    if (dir == 1 && d->msg && d->state == ST_HEADERS) {
        /* a head whose end needed bytes that never came */
        size_t took;
        resp_head(s, d, NULL, 0, 1, &took, f, fn, ud);
    }
    if (d->msg && !d->msg->reported &&
        ((d->state != ST_HEADERS && d->state != ST_START && d->state != ST_SKIPLINE) ||
         d->bodyonly))
        msg_done(s, dir, f, fn, ud);
    d->state = ST_DONE;
    s->ended[dir] = 1;
    if (s->ended[0] && s->ended[1] && !s->flushed) {
        /* requests never answered: once more, for the access-log event */
        s->flushed = 1;
        for (unsigned k = 0; k < s->nreq; k++) {
            http_msg_t *m = s->ring[(s->head + k) % RING];
            if (m->reported && !m->responded)
                report_req(s, m, f, fn, ud, 1);
        }
    }
}

static int http_stream(void *st, canh_flow_t *f, int dir, const uint8_t *data, size_t len,
                       int flags, canh_app_fn fn, void *ud)
{
    http_state_t *s = st;
    dir = dir ? 1 : 0;
    if (s->d[dir].state == ST_DONE)
        return CANH_OK;
    if (flags & CANH_STREAM_GAP) {
        /* bytes lost: what was pending goes as it is, then lines are
         * skipped until one starts a message; responses are no longer
         * paired with requests (how many went is unknown) */
        http_dir_t *d = &s->d[dir];
        if (d->msg && !d->msg->reported &&
            ((d->state != ST_START && d->state != ST_HEADERS && d->state != ST_SKIPLINE) ||
             d->bodyonly))
            msg_done(s, dir, f, fn, ud);
        d->bodyonly = 0;
        if (d->msg && d->state == ST_HEADERS && dir == 0)
            s->nreq--;
        d->msg = NULL;
        d->state = ST_START;
        d->resync = 1;
        d->skipped = 0;
        d->line.n = 0;
        s->nomatch = 1;
    }
    int rc = data && len ? feed(s, dir, data, len, f, fn, ud) : CANH_OK;
    if (rc == CANH_APP_DONE) {
        s->d[0].state = s->d[1].state = ST_DONE;
        return rc;
    }
    if (rc != CANH_OK) {
        s->d[0].state = s->d[1].state = ST_DONE;
        return CANH_EPARSE;
    }
    if (flags & CANH_STREAM_END)
        end_dir(s, dir, f, fn, ud);
    return CANH_OK;
}

static void *http_new(const canh_app_opts_t *o)
{
    http_state_t *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->body_cap = o->body_cap ? o->body_cap : 64 * 1024;
    return s;
}

static void http_free(void *st)
{
    http_state_t *s = st;
    if (!s)
        return;
    for (int i = 0; i < RING; i++)
        if (s->ring[i]) {
            msg_free(s->ring[i]);
            free(s->ring[i]);
        }
    msg_free(&s->resp);
    for (int k = 0; k < 2; k++)
        for (int j = 0; j < ZLAYERS; j++)
            if (s->d[k].zs[j].z) {
                inflateEnd(s->d[k].zs[j].z);
                free(s->d[k].zs[j].z);
            }
    hbuf_free(&s->d[0].line);
    hbuf_free(&s->d[1].line);
    free(s);
}

const canh_app_parser_t canh_app_http_parser = {
    .proto = CANH_APP_HTTP,
    .name = "http",
    .state_new = http_new,
    .state_free = http_free,
    .stream = http_stream,
    .datagram = NULL,
};
