/*
 * tests/test_text.c -- text as canh compares it (engine/text.c), and Sigma
 * matching of Vietnamese and other non-ASCII text end to end: YAML rule ->
 * loader -> Hyperscan (and the PCRE2-only reference) -> events.
 *
 * Every phrase is tried in NFC and NFD, in lower, upper, title and mixed
 * case, against rules using contains, startswith, endswith, plain
 * equality, keywords, cased, re, re|i, `?` and `*`, with near misses that
 * must not match. Runs from the repository root (conf/fieldmap.yml).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "../engine/detect/match.h"
#include "../engine/text.h"
#include "../parsers/parse.h"

/* ---------------------------------------------------------------- views */

typedef struct {
    char nfc[4096], fold[4096];
} views_t;

static void views(const char *s, size_t n, views_t *out)
{
    canh_text_ws_t ws;
    canh_text_views_t v;
    canh_text_ws_init(&ws);
    cr_assert_eq(canh_text_views(&ws, s, n, &v), CANH_OK);
    const char *np = v.nfc_off == CANH_VIEW_SAME ? s : ws.out + v.nfc_off;
    const char *fp = v.fold_off == CANH_VIEW_SAME ? s : ws.out + v.fold_off;
    cr_assert_lt(v.nfc_len, sizeof(out->nfc));
    cr_assert_lt(v.fold_len, sizeof(out->fold));
    memcpy(out->nfc, np, v.nfc_len);
    out->nfc[v.nfc_len] = '\0';
    memcpy(out->fold, fp, v.fold_len);
    out->fold[v.fold_len] = '\0';
    canh_text_ws_free(&ws);
}

/* "Đăng nhập" in NFD: D-stroke has no decomposition; the rest do. */
#define DANG_NFD "\xc4\x90" "a\xcc\x86" "ng nha\xcc\xa3\xcc\x82p"
#define DANG_NFC "\xc4\x90\xc4\x83ng nh\xe1\xba\xadp"

Test(text, nfc_and_fold_views)
{
    views_t v;
    views(DANG_NFC, strlen(DANG_NFC), &v);
    cr_expect_str_eq(v.nfc, DANG_NFC);
    cr_expect_str_eq(v.fold, "\xc4\x91\xc4\x83ng nh\xe1\xba\xadp", "Đ folds to đ");

    views(DANG_NFD, strlen(DANG_NFD), &v);
    cr_expect_str_eq(v.nfc, DANG_NFC, "NFD composes to NFC");
    cr_expect_str_eq(v.fold, "\xc4\x91\xc4\x83ng nh\xe1\xba\xadp");

    const char *up = "\xc4\x90\xc4\x82NG NH\xe1\xba\xacP";   /* ĐĂNG NHẬP */
    views(up, strlen(up), &v);
    cr_expect_str_eq(v.fold, "\xc4\x91\xc4\x83NG NH\xe1\xba\xadP",
                     "non-ASCII letters fold; ASCII case is left to the matchers' caseless flag");

    /* Ơ/ơ and Ư/ư with every tone mark fold to the same tone */
    const char *o = "\xe1\xbb\x9a\xe1\xbb\x9c\xe1\xbb\x9e\xe1\xbb\xa0\xe1\xbb\xa2\xc6\xa0"
                    "\xe1\xbb\xa8\xe1\xbb\xaa\xe1\xbb\xac\xe1\xbb\xae\xe1\xbb\xb0\xc6\xaf";
    const char *ol = "\xe1\xbb\x9b\xe1\xbb\x9d\xe1\xbb\x9f\xe1\xbb\xa1\xe1\xbb\xa3\xc6\xa1"
                     "\xe1\xbb\xa9\xe1\xbb\xab\xe1\xbb\xad\xe1\xbb\xaf\xe1\xbb\xb1\xc6\xb0";
    views(o, strlen(o), &v);
    cr_expect_str_eq(v.fold, ol, "ỚỜỞỠỢƠ ỨỪỬỮỰƯ -> ớờởỡợơ ứừửữựư");

    /* beyond Vietnamese: Greek final sigma, the Kelvin sign, Cyrillic */
    views("\xce\xa3\xcf\x82 \xe2\x84\xaa \xd0\x96", 11, &v);
    cr_expect_str_eq(v.fold, "\xcf\x83\xcf\x83 k \xd0\xb6", "Σς -> σσ, K (Kelvin) -> k, Ж -> ж");
}

Test(text, no_copy_when_nothing_changes)
{
    canh_text_ws_t ws;
    canh_text_views_t v;
    canh_text_ws_init(&ws);
    const char *s = "t\xc3\xa0i kho\xe1\xba\xa3n b\xe1\xbb\x8b kh\xc3\xb3" "a";   /* tài khoản bị khóa */
    cr_assert_eq(canh_text_views(&ws, s, strlen(s), &v), CANH_OK);
    cr_expect_eq(v.nfc_off, CANH_VIEW_SAME, "NFC lower-case text is its own NFC");
    cr_expect_eq(v.fold_off, CANH_VIEW_SAME, "... and its own fold");
    cr_expect_eq(ws.len, 0, "nothing written");
    canh_text_ws_free(&ws);
}

Test(text, invalid_bytes_become_one_replacement_each)
{
    views_t v;
    views("a\xff\xc3(b\xe1\xbb", 7, &v);
    cr_expect_str_eq(v.nfc, "a\xef\xbf\xbd\xef\xbf\xbd(b\xef\xbf\xbd\xef\xbf\xbd");
    cr_expect_str_eq(v.fold, v.nfc);
    views("\xed\xa0\x80", 3, &v);   /* an encoded surrogate is not UTF-8 */
    cr_expect_str_eq(v.nfc, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
    views("\xc0\xaf", 2, &v);   /* overlong */
    cr_expect_str_eq(v.nfc, "\xef\xbf\xbd\xef\xbf\xbd");
}

/* The reference: utf8proc in full, never the fast path. */
static utf8proc_int32_t ref_fold(utf8proc_int32_t c, void *ud)
{
    (void)ud;
    return canh_text_fold_cp(c);
}

static void reference(const char *s, size_t n, char *nfc, char *fold)
{
    /* the input here is valid UTF-8 */
    utf8proc_uint8_t *a = NULL, *b = NULL;
    utf8proc_option_t o = UTF8PROC_STABLE | UTF8PROC_COMPOSE;
    cr_assert_geq(utf8proc_map((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)n, &a, o), 0);
    cr_assert_geq(utf8proc_map_custom(a, (utf8proc_ssize_t)strlen((char *)a), &b, o, ref_fold, NULL), 0);
    strcpy(nfc, (char *)a);
    strcpy(fold, (char *)b);
    free(a);
    free(b);
}

/* Lower-cases ASCII letters (the views leave them to the matchers). */
static void ascii_lower(char *s)
{
    for (; *s; s++)
        if (*s >= 'A' && *s <= 'Z')
            *s = (char)(*s + 32);
}

Test(text, fast_path_agrees_with_utf8proc)
{
    /* NFC and NFD Vietnamese letters, combining marks alone, other scripts,
     * astral characters, ASCII: random strings of them */
    static const char *const parts[] = {
        "a", "D", " ", "\xc4\x90", "\xc4\x91", "\xe1\xba\xa0", "\xe1\xbb\xb9", "\xc6\xaf", "\xc6\xb0",
        "a\xcc\x86", "o\xcc\x9b\xcc\x81", "\xcc\x81", "\xcc\xa3", "\xce\xa3", "\xcf\x82",
        "\xe2\x84\xaa", "\xe2\x84\xab", "\xea\xb0\x80", "\xe1\x84\x80\xe1\x85\xa1", "\xf0\x9f\x98\x80",
        "\xf0\x90\x90\x80", "\xc3\x9f", "\xe1\xba\x9e", "\xc4\xb0", "\xc7\x85", "\xe2\x80\x94",
        /* NFD Vietnamese as normalisers send it, and in a wrong order: ễ, ặ
         * (dot below, breve), the same marks the other way round, ừ, Í, ỷ,
         * marks that compose with nothing, four marks on one letter */
        "e\xcc\x82\xcc\x83", "a\xcc\xa3\xcc\x86", "a\xcc\x86\xcc\xa3", "U\xcc\x9b\xcc\x80",
        "I\xcc\x81", "y\xcc\x89", "D\xcc\x82", "a\xcc\x81\xcc\x80\xcc\x82\xcc\x83",
        "\xc6\xb0\xcc\x81", "\xc3\xa2\xcc\x80",
    };
    unsigned seed = 12345;
    char s[256], nfc[1024], fold[1024];
    for (int round = 0; round < 20000; round++) {
        size_t n = 0;
        int k = (int)((seed = seed * 1103515245u + 12345u) >> 16) % 12 + 1;
        s[0] = '\0';
        for (int i = 0; i < k; i++) {
            const char *p = parts[((seed = seed * 1103515245u + 12345u) >> 16) % CANH_ARRAY_LEN(parts)];
            if (n + strlen(p) + 1 >= sizeof(s))
                break;
            strcpy(s + n, p);
            n += strlen(p);
        }
        views_t v;
        views(s, n, &v);
        reference(s, n, nfc, fold);
        cr_assert_str_eq(v.nfc, nfc, "NFC of '%s'", s);
        ascii_lower(v.fold);
        ascii_lower(fold);
        cr_assert_str_eq(v.fold, fold, "fold of '%s'", s);
    }
}

Test(text, legacy_vietnamese_lookalikes_are_optional)
{
    views_t v;
    const char *s = "Ph\xc6\xa3\xe1\xbb\x9b" "c";   /* Phƣớc, with U+01A3 */
    views(s, strlen(s), &v);
    cr_expect_str_eq(v.fold, s, "off by default: ƣ stays ƣ");
    canh_text_set_legacy_vi(1);
    views(s, strlen(s), &v);
    cr_expect_str_eq(v.fold, "Ph\xc6\xb0\xe1\xbb\x9b" "c", "on: ƣ folds to ư");
    views("\xc6\xa2", 2, &v);
    cr_expect_str_eq(v.fold, "\xc6\xb0", "Ƣ folds to ư too");
    views("Ph\xc6\xa3\xe1\xbb\x9b" "c", 8, &v);
    cr_expect_str_eq(v.nfc, "Ph\xc6\xa3\xe1\xbb\x9b" "c", "NFC (what `cased` compares) keeps it");
    canh_text_set_legacy_vi(0);
    views(s, strlen(s), &v);
    cr_expect_str_eq(v.fold, s);
}

/* ---------------------------------------------------------------- Sigma */

static canh_fieldmap_t *fm;
static canh_ruleset_t *hs, *ref;
static canh_matcher_t *mh, *mr;

#define RULE(id, det)                                                        \
    "title: " id "\nid: " id "\nlevel: medium\nlogsource: {product: linux}\n" \
    "detection:\n" det "\n---\n"

/* Each rule tests `message` one way; keywords search it too. */
static const char rules_yaml[] =
    RULE("contains", "  s:\n    message|contains: '\xc4\x90\xc4\x83ng nh\xe1\xba\xadp th\xe1\xba\xa5t b\xe1\xba\xa1i'\n  condition: s")
    RULE("startswith", "  s:\n    message|startswith: 'T\xc3\xa0i kho\xe1\xba\xa3n'\n  condition: s")
    RULE("endswith", "  s:\n    message|endswith: 'b\xe1\xbb\x8b kh\xc3\xb3" "a'\n  condition: s")
    RULE("equals", "  s:\n    message: 'truy c\xe1\xba\xadp tr\xc3\xa1i ph\xc3\xa9p'\n  condition: s")
    RULE("keyword", "  kw:\n    - 'NG\xc6\xaf\xe1\xbb\x9cI D\xc3\x99NG'\n  condition: kw")
    RULE("cased", "  s:\n    message|cased|contains: 'Ng\xc6\xb0\xe1\xbb\x9di d\xc3\xb9ng'\n  condition: s")
    RULE("re", "  s:\n    message|re: 'Ng\xc6\xb0\xe1\xbb\x9di d\xc3\xb9ng [^ ]+ V\xc4\x83n'\n  condition: s")
    RULE("re_i", "  s:\n    message|re|i: '\xc4\x91\xc4\x83ng\\s+nh\xe1\xba\xadp\\s+th\xe1\xba\xa5t\\s+b\xe1\xba\xa1i'\n  condition: s")
    RULE("re_dot", "  s:\n    message|re: '^Nguy.n \\w+$'\n  condition: s")
    RULE("question", "  s:\n    message|contains: 'Nguy?n V?n'\n  condition: s")
    RULE("star", "  s:\n    message|contains: 'kho\xe1\xba\xa3n*kh\xc3\xb3" "a'\n  condition: s")
    RULE("utf_verb", "  s:\n    message|re: '(*UTF)^\\w{3}$'\n  condition: s")
    RULE("kw_dd", "  kw:\n    - 'dd'\n  condition: kw");

static void setup(void)
{
    char err[512];
    cr_assert_eq(canh_fieldmap_load(&fm, "conf/fieldmap.yml", err, sizeof(err)), CANH_OK, "%s", err);
    canh_rulevec_t a = { 0 }, b = { 0 };
    cr_assert_eq(canh_sigma_load_string(fm, rules_yaml, strlen(rules_yaml), "vi.yml", &a, NULL, NULL,
                                        NULL, NULL), CANH_OK);
    cr_assert_eq(canh_sigma_load_string(fm, rules_yaml, strlen(rules_yaml), "vi.yml", &b, NULL, NULL,
                                        NULL, NULL), CANH_OK);
    cr_assert_eq(a.n, 13, "every rule loads (%zu)", a.n);
    cr_assert_eq(canh_ruleset_build(&hs, &a, NULL, NULL, err, sizeof(err)), CANH_OK, "%s", err);
    cr_assert_eq(canh_ruleset_build_pcre_only(&ref, &b, NULL, NULL, err, sizeof(err)), CANH_OK, "%s", err);
    cr_assert_not_null(mh = canh_matcher_new(hs, err, sizeof(err)));
    cr_assert_not_null(mr = canh_matcher_new(ref, err, sizeof(err)));
}

static void teardown(void)
{
    canh_matcher_free(mh);
    canh_matcher_free(mr);
    canh_ruleset_free(hs);
    canh_ruleset_free(ref);
    canh_fieldmap_free(fm);
}

/* The ids of the rules a message matches, "a,b"; Hyperscan and the PCRE2
 * reference must agree. */
static const char *matches(const char *msg)
{
    static char out[512];
    static canh_event_t ev;
    canh_event_clear(&ev);
    ev.datasets = CANH_DS_BIT(CANH_DS_SYSLOG);
    canh_event_add(&ev, CANH_F_MESSAGE, canh_slice_cstr(msg));
    uint32_t a[32], b[32];
    int na = canh_matcher_match(mh, &ev, a, 32), nb = canh_matcher_match(mr, &ev, b, 32);
    cr_assert_eq(na, nb, "Hyperscan and PCRE2 disagree on '%s'", msg);
    cr_assert_arr_eq(a, b, sizeof(uint32_t) * (size_t)na, "Hyperscan and PCRE2 disagree on '%s'", msg);
    out[0] = '\0';
    for (int i = 0; i < na; i++) {
        if (i)
            strcat(out, ",");
        strcat(out, canh_ruleset_rule(hs, a[i])->id);
    }
    return out;
}

/* The NFD form of an NFC string (utf8proc), for the test's own inputs. */
static char *nfd(const char *s)
{
    return (char *)utf8proc_NFD((const utf8proc_uint8_t *)s);
}

/* lower, UPPER, Title and mIxEd case of a (NFC) string, by utf8proc. */
static char *recase(const char *s, int how)
{
    utf8proc_int32_t cp[1024];
    utf8proc_ssize_t n = utf8proc_decompose((const utf8proc_uint8_t *)s, -1, cp, 1024,
                                            UTF8PROC_NULLTERM | UTF8PROC_STABLE | UTF8PROC_COMPOSE);
    cr_assert(n > 0 && n < 1024);
    int word_start = 1, k = 0;
    for (utf8proc_ssize_t i = 0; i < n; i++) {
        int32_t c = cp[i];
        switch (how) {
        case 0: c = utf8proc_tolower(c); break;
        case 1: c = utf8proc_toupper(c); break;
        case 2: c = word_start ? utf8proc_totitle(c) : utf8proc_tolower(c); break;
        default: c = (k++ & 1) ? utf8proc_toupper(c) : utf8proc_tolower(c); break;
        }
        word_start = cp[i] == ' ';
        cp[i] = c;
    }
    char *out = malloc(4096);
    size_t o = 0;
    for (utf8proc_ssize_t i = 0; i < n; i++)
        o += (size_t)utf8proc_encode_char(cp[i], (utf8proc_uint8_t *)out + o);
    out[o] = '\0';
    return out;
}

/* A phrase in NFC and NFD x lower, upper, title, mixed must match `want`
 * (cased_want: for the forms that keep the phrase's own case, NFC and NFD). */
static void every_form(const char *phrase, const char *want, const char *as_written_want)
{
    for (int how = 0; how < 4; how++) {
        char *c = recase(phrase, how);
        char *d = nfd(c);
        const char *w = want;
        cr_expect_str_eq(matches(c), w, "NFC form %d of '%s' ('%s')", how, phrase, c);
        cr_expect_str_eq(matches(d), w, "NFD form %d of '%s'", how, phrase);
        free(c);
        free(d);
    }
    char *d = nfd(phrase);
    cr_expect_str_eq(matches(phrase), as_written_want, "'%s' as written (NFC)", phrase);
    cr_expect_str_eq(matches(d), as_written_want, "'%s' as written, in NFD", phrase);
    free(d);
}

TestSuite(sigma_vi, .init = setup, .fini = teardown);

Test(sigma_vi, contains_any_case_any_form)
{
    every_form("\xc4\x90\xc4\x83ng nh\xe1\xba\xadp th\xe1\xba\xa5t b\xe1\xba\xa1i cho admin",
               "contains,re_i", "contains,re_i");
}

Test(sigma_vi, startswith_and_star)
{
    /* "Tài khoản admin bị khóa" */
    every_form("T\xc3\xa0i kho\xe1\xba\xa3n admin b\xe1\xbb\x8b kh\xc3\xb3" "a",
               "startswith,endswith,star", "startswith,endswith,star");
}

Test(sigma_vi, plain_equality_is_the_whole_value)
{
    every_form("Truy c\xe1\xba\xadp tr\xc3\xa1i ph\xc3\xa9p", "equals", "equals");
    cr_expect_str_eq(matches("Truy c\xe1\xba\xadp tr\xc3\xa1i ph\xc3\xa9p!"), "",
                     "equality is the whole value");
}

Test(sigma_vi, keywords_cased_and_re)
{
    /* "Người dùng Nguyễn Văn Ánh": keyword (written in capitals) in any
     * case; `cased` only as written (NFC or NFD); `re` case-sensitive */
    every_form("Ng\xc6\xb0\xe1\xbb\x9di d\xc3\xb9ng Nguy\xe1\xbb\x85n V\xc4\x83n \xc3\x81nh",
               "keyword,question", "keyword,cased,re,question");
}

Test(sigma_vi, question_mark_is_one_character)
{
    cr_expect_str_eq(matches("Nguy\xe1\xbb\x85n V\xc4\x83n"), "re_dot,question", "ễ and ă are one character each");
    cr_expect_str_eq(matches("Nguye\xcc\x82\xcc\x83n Va\xcc\x86n"), "re_dot,question", "also when NFD sends three code points");
    cr_expect_str_eq(matches("Nguyn Vn"), "", "? needs a character");
    cr_expect_str_eq(matches("Nguy\xe1\xbb\x85\xe1\xbb\x85n V\xc4\x83n"), "", "and only one");
    cr_expect_str_eq(matches("Nguy\xffn V\xffn"), "question", "a stray byte is one character (U+FFFD), not a letter");
}

Test(sigma_vi, regex_in_utf_mode_on_text)
{
    cr_expect_str_eq(matches("\xc4\x90\xc3\x81\xc6\xaf"), "utf_verb", "(*UTF) is accepted: \\w{3} counts letters");
    cr_expect_str_eq(matches("abc"), "utf_verb");
    cr_expect_str_eq(matches("ab"), "");
    cr_expect_str_eq(matches("Nguy\xe1\xbb\x85n V\xc4\x83n"), "re_dot,question", "\\w matches ă (Unicode properties)");
}

Test(sigma_vi, near_misses)
{
    static const char *const miss[] = {
        "Dang nhap that bai",                                               /* no diacritics */
        "\xc4\x90\xc4\x83ng nh\xe1\xba\xadp th\xc3\xa0nh c\xc3\xb4ng",      /* đăng nhập thành công */
        "\xc4\x90\xc4\x83ng nh\xe1\xba\xadp th\xe1\xba\xa5t ba\xcc\x80i",    /* bài, not bại */
        "D\xc4\x83ng nh\xe1\xba\xadp th\xe1\xba\xa5t b\xe1\xba\xa1i",        /* D, not Đ */
        "Ng\xc6\xa3\xe1\xbb\x9di d\xc3\xb9ng",                              /* ƣ (U+01A3): folding off */
        "T\xc3\xa0i kho\xe1\xba\xa3n",                                      /* startswith, no end */
    };
    for (size_t i = 0; i < CANH_ARRAY_LEN(miss); i++)
        cr_expect_str_eq(matches(miss[i]), i == 5 ? "startswith" : "", "'%s'", miss[i]);
}

/* Keyword lists on an event decoded from a JSON payload search the
 * payload's values, not its key names and punctuation. */
static char parsed_out[256];

static int on_parsed(void *ud, canh_event_t *ev)
{
    (void)ud;
    uint32_t a[32], b[32];
    int na = canh_matcher_match(mh, ev, a, 32), nb = canh_matcher_match(mr, ev, b, 32);
    cr_assert_eq(na, nb);
    cr_assert_arr_eq(a, b, sizeof(uint32_t) * (size_t)na);
    parsed_out[0] = '\0';
    for (int i = 0; i < na; i++) {
        if (i)
            strcat(parsed_out, ",");
        strcat(parsed_out, canh_ruleset_rule(hs, a[i])->id);
    }
    return 0;
}

static const char *parse_match(const char *line)
{
    canh_parser_t *p = canh_parser_new(NULL);
    cr_assert_not_null(p);
    parsed_out[0] = '\0';
    canh_parser_feed(p, line, strlen(line), on_parsed, NULL);
    canh_parser_free(p);
    return parsed_out;
}

Test(sigma_vi, keywords_on_json_search_values_not_keys)
{
    cr_expect_str_eq(parse_match("Dec  6 10:00:00 web01 app[1]: {\"address\":\"10.0.0.1\",\"v\":\"x\"}"), "",
                     "\"dd\" is in a key only");
    cr_expect_str_eq(parse_match("Dec  6 10:00:00 web01 app[1]: {\"a\":{\"b\":[\"x\",\"odd\"]}}"), "kw_dd",
                     "nested and repeated values are searched");
    cr_expect_str_eq(parse_match("Dec  6 10:00:00 web01 app[1]: a line with odd words"), "kw_dd",
                     "a plain message is searched whole");
    cr_expect_str_eq(parse_match("Dec  6 10:00:00 web01 app[1]: {\"msg\":\"NG\u01af\u1edcI D\u00d9NG m\u1edbi\"}"),
                     "keyword", "JSON \\u escapes decode to text, matched in any case");
}

Test(text, random_bytes_give_well_formed_nfc_views)
{
    unsigned seed = 777;
    unsigned char s[64];
    for (int round = 0; round < 20000; round++) {
        size_t n = ((seed = seed * 1103515245u + 12345u) >> 16) % sizeof(s);
        for (size_t i = 0; i < n; i++) {
            unsigned r = (seed = seed * 1103515245u + 12345u) >> 16;
            /* mostly bytes that start or continue UTF-8 sequences */
            s[i] = (unsigned char)(r % 4 == 0 ? r >> 4 : r % 4 == 1 ? 0x80 | (r >> 4 & 0x3f)
                                  : r % 4 == 2 ? 0xc2 + (r >> 4) % 0x33 : 'a' + (r >> 4) % 26);
        }
        views_t v;
        views((const char *)s, n, &v);
        utf8proc_uint8_t *again = NULL;
        utf8proc_ssize_t k = utf8proc_map((const utf8proc_uint8_t *)v.nfc, (utf8proc_ssize_t)strlen(v.nfc),
                                          &again, UTF8PROC_STABLE | UTF8PROC_COMPOSE);
        cr_assert_geq(k, 0, "the NFC view is well-formed UTF-8 (round %d)", round);
        cr_assert_str_eq((char *)again, v.nfc, "and is NFC (round %d)", round);
        free(again);
        k = utf8proc_map((const utf8proc_uint8_t *)v.fold, (utf8proc_ssize_t)strlen(v.fold), &again,
                         UTF8PROC_STABLE | UTF8PROC_COMPOSE);
        cr_assert_geq(k, 0, "the folded view is well-formed UTF-8 (round %d)", round);
        free(again);
    }
}
