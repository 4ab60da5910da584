/*
 * engine/input/framing.c -- RFC 6587 framing (see framing.h).
 *
 * A small state machine fed with whatever read() returned: newline framing
 * scans for the end byte with memchr and copies at most max_msg bytes of a
 * message; octet counting reads the decimal prefix digit by digit, then
 * copies (or skips) exactly that many bytes. Runs on the connection's
 * reading thread.
 */
#include "framing.h"

#include <stdio.h>
#include <stdlib.h>

#define MAX_PREFIX_DIGITS 10   /* a length of 10 digits is already absurd */

int canh_framer_init(canh_framer_t *f, int mode, size_t max_msg, int oversize)
{
    memset(f, 0, sizeof(*f));
    if (!max_msg)
        return CANH_EINVAL;
    f->mode = mode;
    f->oversize = oversize;
    f->max_msg = max_msg;
    f->in_prefix = 1;
    return CANH_OK;
}

void canh_framer_free(canh_framer_t *f)
{
    free(f->buf);
    f->buf = NULL;
    f->cap = f->len = 0;
}

/* Appends what fits under max_msg; marks the message oversize if some did not. */
static int keep(canh_framer_t *f, const char *p, size_t n)
{
    size_t room = f->max_msg - f->len;
    if (n > room) {
        f->over = 1;
        n = room;
    }
    if (!n)
        return CANH_OK;
    if (f->len + n > f->cap) {
        size_t cap = f->cap ? f->cap : 4096;
        while (cap < f->len + n)
            cap *= 2;
        if (cap > f->max_msg)
            cap = f->max_msg;
        char *b = realloc(f->buf, cap);
        if (!b)
            return CANH_ENOMEM;
        f->buf = b;
        f->cap = cap;
    }
    memcpy(f->buf + f->len, p, n);
    f->len += n;
    return CANH_OK;
}

/* The current message is complete: hand it over (or count it dropped). */
static int deliver(canh_framer_t *f, canh_frame_fn fn, void *ud)
{
    int rc = 0;
    if (f->over && f->oversize == CANH_FRAME_DROP) {
        f->dropped++;
    } else {
        if (f->over)
            f->truncated++;
        f->messages++;
        rc = fn(ud, f->buf ? f->buf : "", f->len);
    }
    f->len = 0;
    f->over = 0;
    return rc;
}

/* Newline framing from p; returns bytes used (all of them) or stops on rc. */
static int feed_lf(canh_framer_t *f, const char *p, size_t n, canh_frame_fn fn, void *ud)
{
    while (n) {
        const char *nl = memchr(p, '\n', n);
        const char *nul = memchr(p, '\0', nl ? (size_t)(nl - p) : n);
        const char *end = nul ? nul : nl;
        if (!end)
            return keep(f, p, n);
        int rc = keep(f, p, (size_t)(end - p));
        if (rc)
            return rc;
        if (f->len && f->buf[f->len - 1] == '\r' && !f->over)
            f->len--;
        /* an empty line between messages is no message */
        if (f->len || f->over) {
            rc = deliver(f, fn, ud);
            if (rc)
                return rc;
        }
        n -= (size_t)(end - p) + 1;
        p = end + 1;
    }
    return CANH_OK;
}

static int feed_octet(canh_framer_t *f, const char *p, size_t n, canh_frame_fn fn, void *ud)
{
    while (n) {
        if (f->in_prefix) {
            char c = *p;
            if (c >= '0' && c <= '9' && !(c == '0' && f->prefix_digits == 0) &&
                f->prefix_digits < MAX_PREFIX_DIGITS) {
                f->prefix = f->prefix * 10 + (size_t)(c - '0');
                f->prefix_digits++;
                p++, n--;
                continue;
            }
            if (c == ' ' && f->prefix_digits) {
                p++, n--;
                f->in_prefix = 0;
                f->want = f->prefix;
                f->skip = f->prefix > f->max_msg ? f->prefix - f->max_msg : 0;
                f->want -= f->skip;
                f->over = f->skip > 0;
                continue;
            }
            if ((c == '\n' || c == '\r') && !f->prefix_digits) {
                p++, n--;   /* stray line ends between frames */
                continue;
            }
            /* not a length: count it (unless octet counting was only a guess
             * from a first digit, as in an access log's "10.0.0.1 - -") and
             * read the rest as newline-framed text */
            if (!f->guessed)
                f->bad_frames++;
            f->mode = CANH_FRAME_LF;
            if (f->prefix_digits) {   /* the digits read so far are message text */
                char digits[MAX_PREFIX_DIGITS + 1];
                int k = snprintf(digits, sizeof(digits), "%zu", f->prefix);
                int rc = keep(f, digits, (size_t)k);
                if (rc)
                    return rc;
            }
            f->prefix = 0;
            f->prefix_digits = 0;
            return feed_lf(f, p, n, fn, ud);
        }
        size_t take = f->want < n ? f->want : n;
        int rc = keep(f, p, take);
        if (rc)
            return rc;
        f->want -= take;
        p += take, n -= take;
        if (!f->want) {
            size_t skip = f->skip < n ? f->skip : n;
            f->skip -= skip;
            p += skip, n -= skip;
            if (f->skip)
                continue;   /* n is 0 now: wait for more bytes to skip */
            rc = deliver(f, fn, ud);
            f->guessed = 0;   /* a whole frame: octet counting it is */
            f->in_prefix = 1;
            f->prefix = 0;
            f->prefix_digits = 0;
            if (rc)
                return rc;
        }
    }
    return CANH_OK;
}

int canh_framer_feed(canh_framer_t *f, const char *data, size_t n, canh_frame_fn fn, void *ud)
{
    if (!n)
        return CANH_OK;
    if (f->mode == CANH_FRAME_AUTO) {
        f->mode = data[0] >= '1' && data[0] <= '9' ? CANH_FRAME_OCTET : CANH_FRAME_LF;
        f->guessed = f->mode == CANH_FRAME_OCTET;
    }
    return f->mode == CANH_FRAME_OCTET ? feed_octet(f, data, n, fn, ud)
                                       : feed_lf(f, data, n, fn, ud);
}

static void reset(canh_framer_t *f)
{
    f->len = 0;
    f->over = 0;
    f->in_prefix = 1;
    f->prefix = 0;
    f->prefix_digits = 0;
    f->want = f->skip = 0;
}

int canh_framer_pending(const canh_framer_t *f)
{
    return f->mode == CANH_FRAME_OCTET ? !f->in_prefix || f->prefix_digits > 0
                                       : f->len > 0 || f->over;
}

void canh_framer_abandon(canh_framer_t *f)
{
    if (canh_framer_pending(f))
        f->incomplete++;
    reset(f);
}

int canh_framer_cut(canh_framer_t *f, size_t *kept)
{
    if (kept)
        *kept = f->len;
    if (!canh_framer_pending(f))
        return 0;
    f->cut++;
    reset(f);
    return 1;
}

int canh_framer_finish(canh_framer_t *f, canh_frame_fn fn, void *ud)
{
    int rc = CANH_OK;
    if (f->mode == CANH_FRAME_OCTET) {
        if (!f->in_prefix || f->prefix_digits)
            f->dropped++;   /* the peer closed inside a frame */
    } else if (f->len || f->over) {
        if (f->len && f->buf[f->len - 1] == '\r' && !f->over)
            f->len--;
        if (f->len || f->over)   /* a lone CR before the close is no message */
            rc = deliver(f, fn, ud);
    }
    reset(f);
    return rc;
}
