/*
 * engine/text.h -- text as canh compares it: Unicode NFC and simple case
 * folding, through utf8proc, with a fast path for the common scripts.
 *
 * Sigma compares values case-insensitively, and the province's systems
 * write the same Vietnamese words precomposed (NFC), decomposed (NFD: Java
 * and macOS normalisers), in upper, lower and title case. So canh compares
 * text in NFC, and case-insensitively after Unicode simple case folding
 * (one character for one character: `Đ`/`đ`, `Ư`/`ư` with every tone
 * mark, `Σ`/`σ`/`ς`, `K` (Kelvin)/`k`), which keeps `?` one character on
 * both sides.
 *
 * A value has two views: N, its NFC form, and F, the simple case fold of
 * N (also NFC). Bytes that are not well-formed UTF-8 become U+FFFD, one
 * per byte (as in canh's JSON output), so both views are always valid
 * UTF-8 and Hyperscan and PCRE2 may run on them in UTF mode. A pure-ASCII
 * value is its own N and F (ASCII case is left to the matchers' caseless
 * flags, at no cost).
 *
 * Speed: a table built once (pthread_once) gives every BMP character its
 * fold and whether it is "plain": a starter that NFC leaves alone and that
 * nothing composes onto. A value made only of plain characters (any NFC
 * Vietnamese text) gets its views in one pass, with no copy when nothing
 * folds; anything else (NFD input, astral characters, invalid bytes) goes
 * through utf8proc in full.
 *
 * Optional (canh_text_set_legacy_vi): the fold also maps the legacy
 * look-alikes old Vietnamese fonts and PDF extraction leave behind,
 * U+01A3 `ƣ` and U+01A2 `Ƣ`, to `ư`. Set it before any rule is loaded or
 * any worker starts; it applies to F only (`cased` compares N).
 *
 * Thread: any; a canh_text_ws_t belongs to one thread.
 */
#ifndef CANH_TEXT_H
#define CANH_TEXT_H

#include "canh.h"

#ifdef __SSE2__
#include <emmintrin.h>
#endif

/* 1 if every byte is < 0x80 (16 bytes at a time where SSE2 is there). */
static inline int canh_text_is_ascii(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
#ifdef __SSE2__
    __m128i acc16 = _mm_setzero_si128();
    for (; i + 16 <= n; i += 16)
        acc16 = _mm_or_si128(acc16, _mm_loadu_si128((const __m128i *)(p + i)));
    if (_mm_movemask_epi8(acc16))
        return 0;
#endif
    uint64_t acc = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        acc |= w;
    }
    for (; i < n; i++)
        acc |= p[i];
    return (acc & UINT64_C(0x8080808080808080)) == 0;
}

/* Scratch for views: output bytes and utf8proc's code point buffer. Grows
 * to the largest value seen, then stays (no malloc in steady state). */
typedef struct canh_text_ws {
    char *out;
    size_t len, cap;
    int32_t *cp;
    size_t cpcap;
} canh_text_ws_t;

void canh_text_ws_init(canh_text_ws_t *ws);
void canh_text_ws_free(canh_text_ws_t *ws);
static inline void canh_text_ws_reset(canh_text_ws_t *ws) { ws->len = 0; }

/*
 * The views of a non-ASCII value. Each view is either the input itself
 * (CANH_VIEW_SAME: no copy) or `len` bytes at offset `off` of ws->out
 * (offsets, because ws->out may move when a later value grows it).
 * Returns CANH_OK or CANH_ENOMEM (then the caller scans the raw bytes).
 */
#define CANH_VIEW_SAME ((size_t)-1)
typedef struct canh_text_views {
    size_t nfc_off, nfc_len;
    size_t fold_off, fold_len;
} canh_text_views_t;

int canh_text_views(canh_text_ws_t *ws, const char *s, size_t n, canh_text_views_t *v);

/* malloc'd, NUL-terminated NFC (fold = 0) or NFC + simple fold (fold = 1)
 * of s, for the rule loader; *outlen its length. NULL on ENOMEM. */
char *canh_text_normalize_dup(const char *s, size_t n, int fold, size_t *outlen);

/* The simple case fold of one code point (legacy look-alikes included when on). */
int32_t canh_text_fold_cp(int32_t c);

void canh_text_set_legacy_vi(int on);

#endif
