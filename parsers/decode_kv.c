/*
 * parsers/decode_kv.c -- key=value payloads: each key goes where
 * canh_add_payload says (parsers/payload.c): onto the ECS field of that
 * name when it may and the value fits ("source.ip=203.0.113.9"), else
 * canh.payload.<key> ("user=a" is canh.payload.user, "host=x"
 * canh.payload.host: never host.name). Values are bare (up to a space),
 * "double quoted" with \" and \\ escapes, or 'single quoted'. Words that
 * are not key=value are skipped.
 *
 * Also the shape test the dispatcher uses: at least two leading key=value
 * tokens.
 *
 * Ownership: values borrow the message; unescaped ones and the names go
 * into the arena.
 * Thread: the caller's.
 */
#include "parse_util.h"

int canh_kv_shape(canh_slice_t msg);   /* used by parser.c */

static inline int key_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '.' || c == '-' || c == '@' || c == ':' || c == '/';
}

/* Key at p[*i] followed by '='; returns key length (0 if not a key). */
static size_t key_at(const char *p, size_t n, size_t i)
{
    size_t s = i;
    while (i < n && key_char(p[i]))
        i++;
    return (i > s && i < n && p[i] == '=') ? i - s : 0;
}

/* Skips a value at p[i] (bare or quoted); returns the index after it. */
static size_t skip_value(const char *p, size_t n, size_t i, int *bad)
{
    if (i < n && (p[i] == '"' || p[i] == '\'')) {
        char q = p[i++];
        while (i < n && p[i] != q) {
            if (q == '"' && p[i] == '\\' && i + 1 < n)
                i++;
            i++;
        }
        if (i >= n) {
            *bad = 1;
            return n;
        }
        return i + 1;
    }
    while (i < n && p[i] != ' ' && p[i] != '\t')
        i++;
    return i;
}

int canh_kv_shape(canh_slice_t msg)
{
    const char *p = msg.ptr;
    size_t n = msg.len, i = 0;
    int bad = 0;
    for (int k = 0; k < 2; k++) {
        while (i < n && (p[i] == ' ' || p[i] == '\t'))
            i++;
        size_t kl = key_at(p, n, i);
        if (!kl)
            return 0;
        i = skip_value(p, n, i + kl + 1, &bad);
        if (bad || (i < n && p[i] != ' ' && p[i] != '\t'))
            return 0;
    }
    return 1;
}

int canh_decode_kv(canh_event_t *ev, canh_slice_t msg)
{
    const char *p = msg.ptr;
    size_t n = msg.len, i = 0;
    int rc = CANH_OK, found = 0;
    if (!ev || !ev->arena)
        return CANH_EINVAL;
    while (i < n) {
        while (i < n && (p[i] == ' ' || p[i] == '\t'))
            i++;
        if (i >= n)
            break;
        size_t kl = key_at(p, n, i);
        if (!kl) {
            /* not a pair: skip the word (quotes and all) */
            int bad = 0;
            while (i < n && p[i] != ' ' && p[i] != '\t') {
                if (p[i] == '"' || p[i] == '\'') {
                    i = skip_value(p, n, i, &bad);
                } else {
                    i++;
                }
            }
            continue;
        }
        canh_slice_t key = canh_slice(p + i, kl);
        i += kl + 1;
        canh_slice_t val;
        if (i < n && (p[i] == '"' || p[i] == '\'')) {
            char q = p[i];
            int bad = 0;
            size_t end = skip_value(p, n, i, &bad);
            if (bad) {
                rc = CANH_EPARSE;   /* unterminated quote: keep what we have */
                val = canh_slice(p + i + 1, n - i - 1);
            } else {
                val = canh_slice(p + i + 1, end - i - 2);
            }
            i = end;
            if (q == '"' && memchr(val.ptr, '\\', val.len)) {
                char *d = canh_arena_alloc(ev->arena, val.len ? val.len : 1);
                if (d) {
                    size_t o = 0;
                    for (size_t k = 0; k < val.len; k++) {
                        if (val.ptr[k] == '\\' && k + 1 < val.len &&
                            (val.ptr[k + 1] == '"' || val.ptr[k + 1] == '\\'))
                            k++;
                        d[o++] = val.ptr[k];
                    }
                    val = canh_slice(d, o);
                }
            }
        } else {
            size_t vs = i;
            while (i < n && p[i] != ' ' && p[i] != '\t')
                i++;
            val = canh_slice(p + vs, i - vs);
        }
        canh_add_payload(ev, key.ptr, key.len, val, 0);
        found++;
    }
    if (found)
        ev->datasets |= CANH_DS_BIT(CANH_DS_KV);
    return found ? rc : CANH_EPARSE;
}
