/*
 * engine/text.c -- NFC and simple case folding of values and rule literals
 * (see text.h).
 *
 * The table: for every BMP code point, its simple case fold (Unicode's
 * CaseFolding.txt statuses C and S: utf8proc's full fold when that is one
 * code point, else its lowercase mapping, which is the S entry for the few
 * characters that have one) and two bits, PLAIN and FOLDS. A character is
 * plain when it is a starter (combining class 0), NFC maps it to itself,
 * no canonical decomposition has it in second place or later (so nothing
 * before it can compose with it), and its fold is plain too. A run of plain
 * characters is in NFC, and so is its fold, with no reordering or
 * composition to do: that is the fast path.
 *
 * The slow path (anything else) decodes with U+FFFD for each byte that is
 * not well-formed UTF-8, then lets utf8proc decompose, reorder and compose;
 * the fold is NFC(fold(N)), computed by utf8proc with the fold as its
 * custom mapping.
 *
 * Thread: the table is built once (pthread_once) and read-only afterwards,
 * except the two legacy entries, which are set before workers start.
 */
#include "text.h"

#include <pthread.h>
#include <stdlib.h>
#include <utf8proc.h>

#define T_FOLD_MASK 0x1fffffu
#define T_PLAIN     (1u << 24)
#define T_FOLDS     (1u << 25)

static uint32_t tab[0x10000];
static pthread_once_t tab_once = PTHREAD_ONCE_INIT;

/*
 * NFD text (a base letter, then its marks) is composed by a table too: the
 * full canonical decomposition of every plain BMP composite whose parts are
 * a starter and one to three marks, keyed by those code points; ccc_of
 * gives each BMP character's combining class (0: a starter). A starter
 * whose marks are not such a key (rare combinations) sends the value to
 * utf8proc.
 */
#define COMP_SLOTS 8192     /* power of two, over twice the ~2,000 keys */
static struct comp_ent { uint64_t key; int32_t c; } comp[COMP_SLOTS];
static uint8_t ccc_of[0x10000];

static uint64_t comp_key(int32_t starter, const int32_t *marks, int n)
{
    uint64_t k = (uint64_t)(uint16_t)starter;
    for (int i = 0; i < n; i++)
        k |= (uint64_t)(uint16_t)marks[i] << (16 * (i + 1));
    return k;
}

static uint32_t comp_hash(uint64_t k)
{
    k ^= k >> 29;
    k *= UINT64_C(0xbf58476d1ce4e5b9);
    k ^= k >> 32;
    return (uint32_t)k & (COMP_SLOTS - 1);
}

static int32_t comp_find(uint64_t k)
{
    for (uint32_t i = comp_hash(k);; i = (i + 1) & (COMP_SLOTS - 1)) {
        if (comp[i].key == k)
            return comp[i].c;
        if (!comp[i].key)
            return -1;
    }
}

/* Simple case fold of any code point, from utf8proc's data. */
static int32_t simple_fold(int32_t c)
{
    if (c < 0x80)
        return c >= 'A' && c <= 'Z' ? c + 32 : c;
    utf8proc_int32_t buf[4];
    int lbc = 0;
    utf8proc_ssize_t n = utf8proc_decompose_char(c, buf, 4, UTF8PROC_CASEFOLD, &lbc);
    if (n == 1)
        return buf[0];
    return utf8proc_tolower(c);   /* a full fold of several characters: the S mapping */
}

static int is_surrogate(int32_t c)
{
    return c >= 0xd800 && c <= 0xdfff;
}

/* NFC leaves c alone (as a string of its own). */
static int nfc_stable(int32_t c)
{
    utf8proc_int32_t buf[8];
    int lbc = 0;
    utf8proc_ssize_t n = utf8proc_decompose_char(c, buf, 8, UTF8PROC_DECOMPOSE, &lbc);
    if (n == 1 && buf[0] == c)
        return 1;
    if (n < 1 || n > 8)
        return 0;
    n = utf8proc_normalize_utf32(buf, n, UTF8PROC_STABLE | UTF8PROC_COMPOSE);
    return n == 1 && buf[0] == c;
}

static void tab_build(void)
{
    static uint8_t second[0x10000];   /* appears after the first place of a decomposition */
    for (int32_t c = 0x80; c < 0x10000; c++) {
        if (is_surrogate(c))
            continue;
        utf8proc_int32_t buf[8];
        int lbc = 0;
        utf8proc_ssize_t n = utf8proc_decompose_char(c, buf, 8, UTF8PROC_DECOMPOSE, &lbc);
        for (utf8proc_ssize_t k = 1; k < n && k < 8; k++)
            if (buf[k] < 0x10000)
                second[buf[k]] = 1;
    }
    static uint8_t plain[0x10000];
    for (int32_t c = 0; c < 0x10000; c++)
        plain[c] = c < 0x80 ||
                   (!is_surrogate(c) && !second[c] &&
                    utf8proc_get_property(c)->combining_class == 0 && nfc_stable(c));
    for (int32_t c = 0x80; c < 0x10000; c++)
        if (!is_surrogate(c))
            ccc_of[c] = (uint8_t)utf8proc_get_property(c)->combining_class;
    size_t ncomp = 0;
    for (int32_t c = 0x80; c < 0x10000 && ncomp < COMP_SLOTS / 2; c++) {
        if (!plain[c])
            continue;
        utf8proc_int32_t buf[8];
        int lbc = 0;
        utf8proc_ssize_t n = utf8proc_decompose_char(c, buf, 8, UTF8PROC_DECOMPOSE, &lbc);
        if (n < 2 || n > 4 || buf[0] >= 0x10000 || !plain[buf[0]])
            continue;
        int ok = 1;
        for (utf8proc_ssize_t k = 1; k < n; k++)
            ok &= buf[k] < 0x10000 && ccc_of[buf[k]] > 0;
        if (!ok)
            continue;
        uint64_t key = comp_key(buf[0], buf + 1, (int)n - 1);
        uint32_t i = comp_hash(key);
        while (comp[i].key)
            i = (i + 1) & (COMP_SLOTS - 1);
        comp[i].key = key;
        comp[i].c = c;
        ncomp++;
    }
    for (int32_t c = 0; c < 0x10000; c++) {
        int32_t f = is_surrogate(c) ? c : simple_fold(c);
        uint32_t e = (uint32_t)f & T_FOLD_MASK;
        if (plain[c] && f < 0x10000 && plain[f])
            e |= T_PLAIN;
        if (f != c)
            e |= T_FOLDS;
        tab[c] = e;
    }
}

void canh_text_set_legacy_vi(int on)
{
    pthread_once(&tab_once, tab_build);
    /* ƣ / Ƣ: plain starters; their ordinary fold is ƣ */
    tab[0x1a3] = on ? (0x1b0 | T_PLAIN | T_FOLDS) : (0x1a3 | T_PLAIN);
    tab[0x1a2] = on ? (0x1b0 | T_PLAIN | T_FOLDS) : (0x1a3 | T_PLAIN | T_FOLDS);
}

int32_t canh_text_fold_cp(int32_t c)
{
    pthread_once(&tab_once, tab_build);
    if (c >= 0 && c < 0x10000)
        return (int32_t)(tab[c] & T_FOLD_MASK);
    return simple_fold(c);
}

/* One well-formed UTF-8 sequence at p (RFC 3629): its length and code
 * point, or 0 if the bytes there are not one. */
static size_t utf8_dec(const unsigned char *p, size_t n, int32_t *cp)
{
    unsigned char c = p[0];
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if (c >= 0xc2 && c <= 0xdf) {
        if (n < 2 || (p[1] & 0xc0) != 0x80)
            return 0;
        *cp = (int32_t)((c & 0x1f) << 6 | (p[1] & 0x3f));
        return 2;
    }
    if (c >= 0xe0 && c <= 0xef) {
        if (n < 3 || (p[1] & 0xc0) != 0x80 || (p[2] & 0xc0) != 0x80 ||
            (c == 0xe0 && p[1] < 0xa0) || (c == 0xed && p[1] > 0x9f))
            return 0;
        *cp = (int32_t)((c & 0x0f) << 12 | (p[1] & 0x3f) << 6 | (p[2] & 0x3f));
        return 3;
    }
    if (c >= 0xf0 && c <= 0xf4) {
        if (n < 4 || (p[1] & 0xc0) != 0x80 || (p[2] & 0xc0) != 0x80 || (p[3] & 0xc0) != 0x80 ||
            (c == 0xf0 && p[1] < 0x90) || (c == 0xf4 && p[1] > 0x8f))
            return 0;
        *cp = (int32_t)((c & 0x07) << 18 | (p[1] & 0x3f) << 12 | (p[2] & 0x3f) << 6 | (p[3] & 0x3f));
        return 4;
    }
    return 0;
}

static size_t utf8_enc(int32_t c, char *o)
{
    if (c < 0x80) {
        o[0] = (char)c;
        return 1;
    }
    if (c < 0x800) {
        o[0] = (char)(0xc0 | c >> 6);
        o[1] = (char)(0x80 | (c & 0x3f));
        return 2;
    }
    if (c < 0x10000) {
        o[0] = (char)(0xe0 | c >> 12);
        o[1] = (char)(0x80 | (c >> 6 & 0x3f));
        o[2] = (char)(0x80 | (c & 0x3f));
        return 3;
    }
    o[0] = (char)(0xf0 | c >> 18);
    o[1] = (char)(0x80 | (c >> 12 & 0x3f));
    o[2] = (char)(0x80 | (c >> 6 & 0x3f));
    o[3] = (char)(0x80 | (c & 0x3f));
    return 4;
}

void canh_text_ws_init(canh_text_ws_t *ws)
{
    memset(ws, 0, sizeof(*ws));
}

void canh_text_ws_free(canh_text_ws_t *ws)
{
    free(ws->out);
    free(ws->cp);
    memset(ws, 0, sizeof(*ws));
}

static int ws_reserve(canh_text_ws_t *ws, size_t more)
{
    if (ws->len + more <= ws->cap)
        return CANH_OK;
    size_t cap = ws->cap ? ws->cap : 1024;
    while (cap < ws->len + more)
        cap *= 2;
    char *p = realloc(ws->out, cap);
    if (!p)
        return CANH_ENOMEM;
    ws->out = p;
    ws->cap = cap;
    return CANH_OK;
}

static int cp_reserve(canh_text_ws_t *ws, size_t n)
{
    if (n <= ws->cpcap)
        return CANH_OK;
    size_t cap = ws->cpcap ? ws->cpcap : 256;
    while (cap < n)
        cap *= 2;
    int32_t *p = realloc(ws->cp, cap * sizeof(*p));
    if (!p)
        return CANH_ENOMEM;
    ws->cp = p;
    ws->cpcap = cap;
    return CANH_OK;
}

static utf8proc_int32_t fold_cb(utf8proc_int32_t c, void *ud)
{
    (void)ud;
    return c >= 0 && c < 0x10000 ? (utf8proc_int32_t)(tab[c] & T_FOLD_MASK) : simple_fold(c);
}

/* utf8proc's NFC of the valid UTF-8 at ws->out + in_off (in_len bytes),
 * folded first if fold; appended to ws->out. */
static int nfc_append(canh_text_ws_t *ws, size_t in_off, size_t in_len, int fold, size_t *off,
                      size_t *len)
{
    const utf8proc_option_t opt = UTF8PROC_STABLE | UTF8PROC_COMPOSE;
    utf8proc_ssize_t n;
    for (;;) {
        n = utf8proc_decompose_custom((const utf8proc_uint8_t *)ws->out + in_off,
                                      (utf8proc_ssize_t)in_len, ws->cp,
                                      (utf8proc_ssize_t)ws->cpcap, opt,
                                      fold ? fold_cb : NULL, NULL);
        if (n < 0)
            return CANH_EINVAL;
        if ((size_t)n <= ws->cpcap)
            break;
        if (cp_reserve(ws, (size_t)n) != CANH_OK)
            return CANH_ENOMEM;
    }
    n = utf8proc_normalize_utf32(ws->cp, n, opt);
    if (n < 0)
        return CANH_EINVAL;
    if (ws_reserve(ws, (size_t)n * 4) != CANH_OK)
        return CANH_ENOMEM;
    *off = ws->len;
    for (utf8proc_ssize_t i = 0; i < n; i++)
        ws->len += utf8_enc(ws->cp[i], ws->out + ws->len);
    *len = ws->len - *off;
    return CANH_OK;
}

static int views_slow(canh_text_ws_t *ws, const unsigned char *p, size_t n, canh_text_views_t *v)
{
    /* well-formed copy: U+FFFD for each bad byte */
    if (ws_reserve(ws, n * 3) != CANH_OK)
        return CANH_ENOMEM;
    size_t src = ws->len;
    for (size_t i = 0; i < n;) {
        int32_t c;
        size_t k = utf8_dec(p + i, n - i, &c);
        if (!k) {
            memcpy(ws->out + ws->len, "\xef\xbf\xbd", 3);
            ws->len += 3;
            i++;
        } else {
            memcpy(ws->out + ws->len, p + i, k);
            ws->len += k;
            i += k;
        }
    }
    size_t src_len = ws->len - src;
    int rc = nfc_append(ws, src, src_len, 0, &v->nfc_off, &v->nfc_len);
    if (rc == CANH_OK)
        rc = nfc_append(ws, v->nfc_off, v->nfc_len, 1, &v->fold_off, &v->fold_len);
    return rc;
}

/* Writes into ws the fold of NFC text made of plain characters: `ext`
 * (the caller's bytes) or, when ext is NULL, ws->out + off; len bytes, of
 * which the first `from` fold to themselves. ASCII is copied (text.h). */
static int fold_plain(canh_text_ws_t *ws, const char *ext, size_t off, size_t len, size_t from,
                      canh_text_views_t *v)
{
    if (ws_reserve(ws, len * 2) != CANH_OK)   /* a fold grows a character by a byte at most */
        return CANH_ENOMEM;
    const unsigned char *p = (const unsigned char *)(ext ? ext : ws->out + off);
    char *out = ws->out;
    size_t w = ws->len;
    memcpy(out + w, p, from);
    w += from;
    for (size_t i = from; i < len;) {
        if (p[i] < 0x80) {
            out[w++] = (char)p[i++];
            continue;
        }
        int32_t c;
        size_t k = utf8_dec(p + i, len - i, &c);
        w += utf8_enc((int32_t)(tab[c] & T_FOLD_MASK), out + w);
        i += k;
    }
    v->fold_off = ws->len;
    v->fold_len = w - ws->len;
    ws->len = w;
    return CANH_OK;
}

/*
 * Plain starters, each followed by up to three marks that compose with it
 * (NFD Vietnamese: `a` U+0302 U+0301 -> `ấ`): composed through the table
 * into N, then folded into F. Anything else goes to utf8proc.
 */
static int views_compose(canh_text_ws_t *ws, const unsigned char *p, size_t n, canh_text_views_t *v)
{
    if (ws_reserve(ws, n * 2) != CANH_OK)
        return CANH_ENOMEM;
    char *out = ws->out;
    size_t o = ws->len, w = o, first_fold = (size_t)-1;
    for (size_t i = 0; i < n;) {
        int32_t c, m[4];
        size_t k = utf8_dec(p + i, n - i, &c);
        if (!k || c >= 0x10000 || !(tab[c] & T_PLAIN))
            return views_slow(ws, p, n, v);
        size_t j = i + k;
        int nm = 0;
        for (;;) {
            int32_t d;
            size_t kd = j < n && p[j] >= 0x80 ? utf8_dec(p + j, n - j, &d) : 0;
            if (!kd || d >= 0x10000 || !ccc_of[d])
                break;
            if (nm == 3)
                return views_slow(ws, p, n, v);
            m[nm++] = d;
            j += kd;
        }
        if (nm) {
            for (int a = 1; a < nm; a++)   /* canonical order: stable, by class */
                for (int b = a; b > 0 && ccc_of[m[b - 1]] > ccc_of[m[b]]; b--) {
                    int32_t t = m[b];
                    m[b] = m[b - 1];
                    m[b - 1] = t;
                }
            c = comp_find(comp_key(c, m, nm));
            if (c < 0 || !(tab[c] & T_PLAIN))
                return views_slow(ws, p, n, v);
        }
        if ((tab[c] & T_FOLDS) && c >= 0x80 && first_fold == (size_t)-1)
            first_fold = w - o;
        if (nm)
            w += utf8_enc(c, out + w);
        else {
            memcpy(out + w, p + i, k);
            w += k;
        }
        i = j;
    }
    v->nfc_off = o;
    v->nfc_len = w - o;
    ws->len = w;
    if (first_fold == (size_t)-1) {
        v->fold_off = o;
        v->fold_len = w - o;
        return CANH_OK;
    }
    return fold_plain(ws, NULL, o, w - o, first_fold, v);
}

int canh_text_views(canh_text_ws_t *ws, const char *s, size_t n, canh_text_views_t *v)
{
    pthread_once(&tab_once, tab_build);
    const unsigned char *p = (const unsigned char *)s;
    size_t first_fold = n;
    for (size_t i = 0; i < n;) {
        if (p[i] < 0x80) {
            i++;
            continue;
        }
        int32_t c;
        size_t k = utf8_dec(p + i, n - i, &c);
        if (!k || c >= 0x10000)
            return views_slow(ws, p, n, v);
        if (!(tab[c] & T_PLAIN))
            return ccc_of[c] ? views_compose(ws, p, n, v) : views_slow(ws, p, n, v);
        if ((tab[c] & T_FOLDS) && first_fold == n)
            first_fold = i;
        i += k;
    }
    /* every character plain: the value is its own NFC */
    v->nfc_off = CANH_VIEW_SAME;
    v->nfc_len = n;
    if (first_fold == n) {
        v->fold_off = CANH_VIEW_SAME;
        v->fold_len = n;
        return CANH_OK;
    }
    return fold_plain(ws, s, 0, n, first_fold, v);
}

char *canh_text_normalize_dup(const char *s, size_t n, int fold, size_t *outlen)
{
    canh_text_ws_t ws;
    canh_text_views_t v;
    canh_text_ws_init(&ws);
    char *r = NULL;
    if (canh_text_views(&ws, s, n, &v) == CANH_OK) {
        size_t off = fold ? v.fold_off : v.nfc_off, len = fold ? v.fold_len : v.nfc_len;
        const char *src = off == CANH_VIEW_SAME ? s : ws.out + off;
        if ((r = malloc(len + 1))) {
            memcpy(r, src, len);
            r[len] = '\0';
            /* the views leave ASCII case to the matchers; a literal folds it too */
            if (fold)
                for (size_t i = 0; i < len; i++)
                    if (r[i] >= 'A' && r[i] <= 'Z')
                        r[i] = (char)(r[i] + 32);
            if (outlen)
                *outlen = len;
        }
    }
    canh_text_ws_free(&ws);
    return r;
}
