/*
 * bench/baselines.c -- the two baselines canh's scan is measured against,
 * on the same bytes and the same rules, in the same run (bench/run.sh):
 *
 *   hs     the ceiling: every pattern of every loaded rule in ONE Hyperscan
 *          database, one hs_scan per raw line, no parsing, no evaluation.
 *   naive  what a simple engine does: one PCRE2 regex per rule (its patterns
 *          OR'ed), JIT-compiled, run on every line for every rule.
 *
 * usage: baselines FIELDMAP CORPUS NAIVE_SECONDS RULES...
 * prints one line per baseline: "name lines bytes seconds matches".
 * The naive baseline stops after NAIVE_SECONDS and reports the lines it did.
 * Single-threaded.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <hs/hs.h>
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "../engine/load.h"
#include "../engine/input/source_file.h"

typedef struct pat {
    char *regex;
    unsigned flags, rule;
} pat_t;

typedef struct pats {
    pat_t *v;
    size_t n, cap;
} pats_t;

static void on_pattern(void *ud, const char *field, const char *regex, unsigned pat_flags,
                       int hs_mode, uint32_t rule_idx)
{
    pats_t *p = ud;
    if (p->n == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 1024;
        p->v = realloc(p->v, p->cap * sizeof(*p->v));
    }
    p->v[p->n++] = (pat_t){ strdup(regex), pat_flags, rule_idx };
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The corpus, loaded once so neither baseline pays for I/O. */
typedef struct corpus {
    char *data;
    size_t len, nlines;
    size_t *starts, *lens;
} corpus_t;

static int load_corpus(const char *path, corpus_t *c)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    fseek(f, 0, SEEK_END);
    c->len = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    c->data = malloc(c->len + 1);
    if (fread(c->data, 1, c->len, f) != c->len)
        return -1;
    fclose(f);
    size_t cap = 1 << 20;
    c->starts = malloc(cap * sizeof(size_t));
    c->lens = malloc(cap * sizeof(size_t));
    c->nlines = 0;
    for (size_t i = 0; i < c->len;) {
        char *nl = memchr(c->data + i, '\n', c->len - i);
        size_t e = nl ? (size_t)(nl - c->data) : c->len;
        if (c->nlines == cap) {
            cap *= 2;
            c->starts = realloc(c->starts, cap * sizeof(size_t));
            c->lens = realloc(c->lens, cap * sizeof(size_t));
        }
        c->starts[c->nlines] = i;
        c->lens[c->nlines++] = e - i;
        i = e + 1;
    }
    return 0;
}

static int count_hit(unsigned id, unsigned long long from, unsigned long long to,
                     unsigned flags, void *ctx)
{
    ++*(unsigned long long *)ctx;
    return 0;
}

static void bench_hs(const pats_t *p, const corpus_t *c)
{
    /* Patterns Hyperscan takes exactly; the rest go in as prefilters, as in canh. */
    const char **exprs = malloc(p->n * sizeof(char *));
    unsigned *flags = malloc(p->n * sizeof(unsigned)), *ids = malloc(p->n * sizeof(unsigned));
    size_t n = 0;
    for (size_t i = 0; i < p->n; i++) {
        unsigned f = HS_FLAG_SINGLEMATCH | HS_FLAG_ALLOWEMPTY;
        if (p->v[i].flags & CANH_PAT_CASELESS) f |= HS_FLAG_CASELESS;
        if (p->v[i].flags & CANH_PAT_DOTALL) f |= HS_FLAG_DOTALL;
        if (p->v[i].flags & CANH_PAT_MULTILINE) f |= HS_FLAG_MULTILINE;
        hs_database_t *one;
        hs_compile_error_t *ce;
        if (hs_compile(p->v[i].regex, f, HS_MODE_BLOCK, NULL, &one, &ce) != HS_SUCCESS) {
            hs_free_compile_error(ce);
            f |= HS_FLAG_PREFILTER;
            if (hs_compile(p->v[i].regex, f, HS_MODE_BLOCK, NULL, &one, &ce) != HS_SUCCESS) {
                hs_free_compile_error(ce);
                continue;
            }
        }
        hs_free_database(one);
        exprs[n] = p->v[i].regex;
        flags[n] = f;
        ids[n] = (unsigned)i;
        n++;
    }
    hs_database_t *db;
    hs_compile_error_t *ce;
    if (hs_compile_multi(exprs, flags, ids, (unsigned)n, HS_MODE_BLOCK, NULL, &db, &ce) != HS_SUCCESS) {
        fprintf(stderr, "baselines: hs_compile_multi: %s\n", ce->message);
        exit(1);
    }
    hs_scratch_t *scratch = NULL;
    hs_alloc_scratch(db, &scratch);
    unsigned long long hits = 0;
    double dt = 1e30;
    const char *runs_env = getenv("BENCH_RUNS");
    int runs = runs_env && atoi(runs_env) > 0 ? atoi(runs_env) : 1;
    for (int run = 0; run < runs; run++) {   /* best of runs, as for canh */
        hits = 0;
        double t0 = now_s();
        for (size_t i = 0; i < c->nlines; i++)
            hs_scan(db, c->data + c->starts[i], (unsigned)c->lens[i], 0, scratch, count_hit, &hits);
        double t = now_s() - t0;
        if (t < dt)
            dt = t;
    }
    printf("hs %zu %zu %.4f %llu %zu\n", c->nlines, c->len, dt, hits, n);
    hs_free_scratch(scratch);
    hs_free_database(db);
    free(exprs);
    free(flags);
    free(ids);
}

static void bench_naive(const pats_t *p, size_t nrules, const corpus_t *c, double limit)
{
    /* One regex per rule: its patterns OR'ed, each with its own inline flags. */
    pcre2_code **re = calloc(nrules, sizeof(*re));
    size_t *cap = calloc(nrules, sizeof(size_t)), *len = calloc(nrules, sizeof(size_t));
    char **src = calloc(nrules, sizeof(char *));
    for (size_t i = 0; i < p->n; i++) {
        unsigned r = p->v[i].rule;
        char pre[16] = "(?";
        if (p->v[i].flags & CANH_PAT_CASELESS) strcat(pre, "i");
        if (p->v[i].flags & CANH_PAT_DOTALL) strcat(pre, "s");
        if (p->v[i].flags & CANH_PAT_MULTILINE) strcat(pre, "m");
        strcat(pre, ":");
        size_t need = len[r] + strlen(p->v[i].regex) + 24;
        if (need > cap[r]) {
            cap[r] = need * 2;
            src[r] = realloc(src[r], cap[r]);
        }
        len[r] += (size_t)sprintf(src[r] + len[r], "%s%s%s)", len[r] ? "|" : "", pre, p->v[i].regex);
    }
    size_t nre = 0;
    for (size_t r = 0; r < nrules; r++) {
        if (!src[r])
            continue;
        int err;
        PCRE2_SIZE off;
        re[r] = pcre2_compile((PCRE2_SPTR)src[r], len[r], 0, &err, &off, NULL);
        if (re[r]) {
            pcre2_jit_compile(re[r], PCRE2_JIT_COMPLETE);
            nre++;
        }
    }
    pcre2_match_data *md = pcre2_match_data_create(4, NULL);
    unsigned long long hits = 0;
    size_t done = 0;
    double t0 = now_s(), dt = 0;
    size_t bytes = 0;
    for (size_t i = 0; i < c->nlines; i++) {
        for (size_t r = 0; r < nrules; r++)
            if (re[r] && pcre2_match(re[r], (PCRE2_SPTR)(c->data + c->starts[i]), c->lens[i], 0, 0,
                                     md, NULL) >= 0)
                hits++;
        done++;
        bytes += c->lens[i] + 1;
        if ((i & 1023) == 1023 && (dt = now_s() - t0) > limit)
            break;
    }
    dt = now_s() - t0;
    printf("naive %zu %zu %.4f %llu %zu\n", done, bytes, dt, hits, nre);
}

static void ignore_refusal(void *ud, const char *file, int line, const char *id, const char *why)
{
}

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: baselines FIELDMAP CORPUS NAIVE_SECONDS RULES...\n");
        return 2;
    }
    canh_load_result_t lr;
    char err[512];
    if (canh_load_rules((const char *const *)argv + 4, (size_t)argc - 4, argv[1], NULL, ignore_refusal, NULL,
                        &lr, err, sizeof(err)) != CANH_OK) {
        fprintf(stderr, "baselines: %s\n", err);
        return 1;
    }
    pats_t p = { 0 };
    canh_ruleset_patterns(lr.rules, on_pattern, &p);
    corpus_t c;
    if (load_corpus(argv[2], &c) < 0) {
        fprintf(stderr, "baselines: cannot read %s\n", argv[2]);
        return 1;
    }
    printf("rules %zu patterns %zu\n", canh_ruleset_size(lr.rules), p.n);
    fflush(stdout);
    bench_hs(&p, &c);
    fflush(stdout);
    bench_naive(&p, canh_ruleset_size(lr.rules), &c, atof(argv[3]));
    return 0;
}
