/*
 * fuzz/fuzz_config.c -- libFuzzer target: the config loader
 * (engine/config.c: canh.yml text -> canh_config_t, through the config
 * table), as `canh run -c` and a reload read it.
 *
 * The input is the text of a canh.yml.
 * Invariants checked: the load either gives a config and no error, or no
 * config, at least one error and the first one in err; every error reads
 * "fuzz.yml:LINE: message" with LINE the line the callback is given (0,
 * or a line of the text), in line order. (A message quotes values as
 * written, control bytes included: whoever prints it escapes them.)
 *
 * Thread: libFuzzer's (one).
 */
#include <stdint.h>
#include <string.h>

#include "../engine/config.h"
#include "fuzz_common.h"

#define NAME "fuzz.yml"

typedef struct errs {
    size_t n;
    int last_line;
    int lines;      /* in the text */
} errs_t;

static void on_error(void *ud, int line, const char *text)
{
    errs_t *e = ud;
    e->n++;
    FUZZ_CHECK(line >= 0 && line <= e->lines + 1, "error on line %d of a %d-line text: %s",
               line, e->lines, text);
    FUZZ_CHECK(line == 0 || line >= e->last_line, "errors out of line order: %d after %d",
               line, e->last_line);
    if (line)
        e->last_line = line;
    char want[64];
    int k = snprintf(want, sizeof(want), "%s:%d: ", NAME, line);
    FUZZ_CHECK(strncmp(text, want, (size_t)k) == 0 || (line == 0 && strncmp(text, NAME ":", 9) == 0),
               "error for line %d reads '%s'", line, text);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    canh_log_level = CANH_LOG_ERROR;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 256 * 1024)
        return 0;
    errs_t e = { 0, 0, 1 };
    for (size_t i = 0; i < size; i++)   /* libyaml also ends lines at CR and NEL, LS, PS */
        e.lines += data[i] == '\n' || data[i] == '\r';
    e.lines += (int)(size / 2);   /* (a generous bound: those count too) */
    canh_config_t *cfg = NULL;
    char err[1024] = "";
    int rc = canh_config_load_string(&cfg, NAME, (const char *)data, size, on_error, &e, err,
                                     sizeof(err));
    if (rc == CANH_OK) {
        FUZZ_CHECK(cfg != NULL, "CANH_OK without a config");
        FUZZ_CHECK(e.n == 0, "a config loaded with %zu errors", e.n);
    } else {
        FUZZ_CHECK(cfg == NULL, "an error (%d) and a config", rc);
        FUZZ_CHECK(rc == CANH_ENOMEM || (e.n > 0 && err[0]),
                   "refused (%d) without an error said", rc);
    }
    canh_config_free(cfg);
    return 0;
}
