/*
 * fuzz/fuzz_common.h -- what the libFuzzer targets (fuzz/fuzz_*.c) share:
 * where the shipped rules/ and conf/ are, and how a target says that an
 * invariant broke (a message and abort(), which libFuzzer reports as a
 * crash and keeps the input of).
 *
 * Thread: libFuzzer's (one; the targets keep static state between runs).
 */
#ifndef CANH_FUZZ_COMMON_H
#define CANH_FUZZ_COMMON_H

#include <stdio.h>
#include <stdlib.h>

#ifndef CANH_SRC_DIR
#define CANH_SRC_DIR "."
#endif

/* The source tree: $CANH_HOME when set, else the one the target was built in. */
static inline const char *fuzz_home(void)
{
    const char *h = getenv("CANH_HOME");
    return h && *h ? h : CANH_SRC_DIR;
}

/* An invariant broke: say which, then crash so that libFuzzer keeps the input. */
#define FUZZ_CHECK(cond, ...)                                                  \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "fuzz invariant broken at %s:%d: %s: ", __FILE__,  \
                    __LINE__, #cond);                                          \
            fprintf(stderr, __VA_ARGS__);                                      \
            fputc('\n', stderr);                                               \
            abort();                                                           \
        }                                                                      \
    } while (0)

/* Setup failed (no rules, no field map): nothing to fuzz. */
#define FUZZ_SETUP(cond, ...)                                                  \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "fuzz setup: ");                                   \
            fprintf(stderr, __VA_ARGS__);                                      \
            fputc('\n', stderr);                                               \
            exit(2);                                                           \
        }                                                                      \
    } while (0)

#endif
