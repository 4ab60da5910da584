/*
 * engine/detect/hs_cache.h -- the folder of compiled Hyperscan databases
 * (match.c's cache, described there), for the other database builders
 * (the network rules, nids_match.c) to use the same files, keys and checks.
 *
 * A database is stored under a SHA-256 of the format, Hyperscan's version,
 * the platform, the kind of compile and the exact expressions, flags and
 * ids; a file that is damaged or made for other input is refused (counted,
 * the first one logged) and compiled again. Thread: one cache per build;
 * the counters are updated atomically, so a build's threads may share it.
 */
#ifndef CANH_HS_CACHE_H
#define CANH_HS_CACHE_H

#include <hs/hs.h>
#include <stddef.h>

typedef struct canh_hs_cache {
    char *dir;                      /* compiled databases are kept here (or NULL) */
    int fd;                         /* ... opened (canh_dir_private), or -1: no cache */
    size_t hits;                    /* databases loaded from it (atomic while building) */
    size_t refused;                 /* files there refused: damaged, another key (atomic) */
    int warned;                     /* the first refusal is logged (atomic) */
} canh_hs_cache_t;

/* Kinds of compile, part of the key. */
enum {
    CANH_HS_CACHE_REGEX = 0,        /* hs_compile_multi, block mode (match.c) */
    CANH_HS_CACHE_LIT_BLOCK,        /* hs_compile_lit_multi, HS_MODE_BLOCK */
    CANH_HS_CACHE_LIT_STREAM,       /* hs_compile_lit_multi, HS_MODE_STREAM */
};

/* Opens (makes if missing) the folder dir; dir NULL: a cache that never
 * hits. CANH_OK, or CANH_EINVAL / CANH_EIO with a sentence in err. */
int  canh_hs_cache_open(canh_hs_cache_t *c, const char *dir, char *err, size_t errlen);
void canh_hs_cache_close(canh_hs_cache_t *c);

/* The stored database for this input, or NULL (none, or refused: then
 * store the compiled one under the same key). lens: the expressions'
 * lengths (literals may hold NUL), or NULL for NUL-terminated ones. key
 * and hex are set for canh_hs_cache_store; hex[0] == 0: no key (no cache). */
hs_database_t *canh_hs_cache_load(canh_hs_cache_t *c, unsigned kind, const char *const *exprs,
                                  const size_t *lens, const unsigned *flags, const unsigned *ids,
                                  unsigned n, unsigned char key[32], char hex[65]);
void canh_hs_cache_store(canh_hs_cache_t *c, const unsigned char key[32], const char *hex,
                         const hs_database_t *db);

#endif
