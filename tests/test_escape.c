/*
 * tests/test_escape.c -- values printed to a terminal or a log
 * (canh_escape, canh_esc and canh_log in engine/canh.c): what a terminal
 * obeys or a log reader splits lines on is written as an escape; any
 * script's letters are kept as they are.
 */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <stdio.h>
#include <string.h>

#include "../engine/canh.h"

/* s, n bytes long (it may hold NUL), escaped into a buffer of outlen bytes */
static const char *esc_n(const char *s, size_t n, size_t outlen)
{
    static char out[4096];
    cr_assert_leq(outlen, sizeof(out));
    memset(out, 'Z', sizeof(out));
    canh_escape(s, n, out, outlen);
    cr_assert_lt(strlen(out), outlen, "the result fits its buffer, NUL included");
    return out;
}

static const char *esc(const char *s)
{
    return esc_n(s, strlen(s), 4096);
}

Test(escape, terminal_sequences)
{
    cr_assert_str_eq(esc("web01\x1b[2J\x1b[H"), "web01\\x1b[2J\\x1b[H");
    cr_assert_str_eq(esc("\x1b]0;owned\x07"), "\\x1b]0;owned\\x07");
    cr_assert_str_eq(esc("a\x7f" "b"), "a\\x7fb");
    /* C1: CSI as U+009B (UTF-8 c2 9b), NEL as U+0085 */
    cr_assert_str_eq(esc("x\xc2\x9b" "2J\xc2\x85y"), "x\\u{009b}2J\\u{0085}y");
}

Test(escape, line_ends_cannot_forge_a_line)
{
    cr_assert_str_eq(esc("web01\ncanh: info: all clear"), "web01\\ncanh: info: all clear");
    cr_assert_str_eq(esc("a\r\nb\tc"), "a\\r\\nb\\tc");
    cr_assert_str_eq(esc_n("a\0b", 3, 64), "a\\x00b");
    /* line and paragraph separators, and a right-to-left override */
    cr_assert_str_eq(esc("a\xe2\x80\xa8" "b\xe2\x80\xa9" "c\xe2\x80\xae" "d"),
                     "a\\u{2028}b\\u{2029}c\\u{202e}d");
}

Test(escape, invalid_utf8_bytes)
{
    cr_assert_str_eq(esc("a\xff" "b"), "a\\xffb");
    cr_assert_str_eq(esc("\xc0\x80"), "\\xc0\\x80");               /* overlong NUL */
    cr_assert_str_eq(esc("\xed\xa0\x80"), "\\xed\\xa0\\x80");      /* a surrogate */
    cr_assert_str_eq(esc("\xf4\x90\x80\x80"), "\\xf4\\x90\\x80\\x80");   /* past U+10FFFF */
    cr_assert_str_eq(esc("Ph\xe1\xbb"), "Ph\\xe1\\xbb");           /* cut inside a letter */
    cr_assert_str_eq(esc("\x80rest"), "\\x80rest");               /* a lone continuation */
}

Test(escape, letters_of_any_script_kept)
{
    const char *v[] = {
        "Sở Thông tin và Truyền thông tỉnh Bình Phước",
        "máy-chủ-đồng-xoài.bp.gov.vn",
        "ƣ Ƣ ư Ư",             /* the look-alikes too */
        "C:\\Windows\\System32",   /* a backslash stays */
        "日本語 Ελληνικά العربية",
        "e\xcc\x81",           /* e + combining acute (NFD) */
        "emoji \xf0\x9f\x9b\xa1",
    };
    for (size_t i = 0; i < CANH_ARRAY_LEN(v); i++)
        cr_assert_str_eq(esc(v[i]), v[i]);
}

Test(escape, cut_at_a_whole_character)
{
    /* 16 bytes of room: never half a character or half an escape */
    const char *s = esc_n("Bình Phước Bình Phước", strlen("Bình Phước Bình Phước"), 16);
    cr_assert_str_eq(s, "Bình Phư...");
    s = esc_n("\x1b\x1b\x1b\x1b\x1b\x1b", 6, 16);
    cr_assert_str_eq(s, "\\x1b\\x1b\\x1b...");
    /* exactly fits: no "..." */
    cr_assert_str_eq(esc_n("abc", 3, 4), "abc");
    cr_assert_str_eq(esc_n("abcd", 4, 4), "...");
    cr_assert_str_eq(esc_n("", 0, 1), "");
}

Test(escape, ring_of_buffers_for_one_printf)
{
    char want[CANH_ESC_RING][32], line[1024];
    const char *got[CANH_ESC_RING];
    for (int i = 0; i < CANH_ESC_RING; i++) {
        char in[16];
        snprintf(in, sizeof(in), "v%d\n", i);
        snprintf(want[i], sizeof(want[i]), "v%d\\n", i);
        got[i] = canh_esc(in);
    }
    for (int i = 0; i < CANH_ESC_RING; i++)
        cr_assert_str_eq(got[i], want[i]);
    snprintf(line, sizeof(line), "%s|%s", canh_esc(NULL), canh_esc("\x1b"));
    cr_assert_str_eq(line, "|\\x1b");
}

Test(escape, log_lines_carry_no_control_byte, .init = cr_redirect_stderr)
{
    canh_log_level = CANH_LOG_INFO;
    CANH_WARN("top host %s", "evil\x1b[2J\ncanh: info: nothing to see");
    CANH_INFO("host %s: %d alerts", "Bình Phước", 3);
    fflush(stderr);
    cr_assert_stderr_eq_str("canh: warning: top host evil\\x1b[2J\\ncanh: info: nothing to see\n"
                            "canh: info: host Bình Phước: 3 alerts\n");
}

Test(escape, log_cut_message_keeps_whole_letters, .init = cr_redirect_stderr)
{
    /* a message longer than the log's 1,023 bytes is cut between letters */
    char big[1200];
    size_t n = 0;
    while (n + 2 < sizeof(big) - 1) {
        memcpy(big + n, "\xc6\xb0", 2);   /* ư */
        n += 2;
    }
    big[n] = '\0';
    CANH_INFO("x%s", big);   /* "canh: info: x" then 511 of them */
    fflush(stderr);
    FILE *f = cr_get_redirected_stderr();
    char line[4096];
    cr_assert(fgets(line, sizeof(line), f));
    cr_assert_null(strstr(line, "\\x"), "no byte of a cut letter is escaped: %s", line);
    cr_assert_str_eq(line + strlen(line) - 3, "\xc6\xb0\n");
}
