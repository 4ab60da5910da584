/*
 * bench/nids_ceiling.c -- the raw Hyperscan ceiling of the packet bench
 * (bench/net.sh): the fast pattern of every active rule of the given
 * Suricata rule files (its content marked fast_pattern, else its longest;
 * with --all: every content; with --raw: only rules whose fast pattern is
 * in the packet/stream payload, not in an app-layer buffer such as
 * http.uri or dns.query, i.e. what must be scanned over every payload when
 * the app-layer buffers have databases of their own, as in canh) as a
 * literal in ONE Hyperscan block database
 * (nocase honoured, negated contents left out, duplicates merged), and one
 * hs_scan over each packet's payload (TCP/UDP payload, else the IP
 * payload) of a classic pcap. No decoding in the timed loop (payload
 * offsets are found first), no flows, no reassembly, no rule evaluation:
 * no engine scanning those payloads with those patterns can be faster on
 * one core.
 *
 * usage: nids_ceiling [--all | --raw] [--top N] [--min-len N] CAPTURE.pcap RULES.rules...
 *   --top N      also print the N patterns that match most (stderr)
 *   --min-len N  leave out patterns shorter than N bytes (what they cost)
 * prints: "ceiling patterns P compile_s C packets N frame_bytes F
 *          payload_bytes B seconds S cpu_seconds U matches M" (one line, for
 *          net.sh). cpu_seconds is the scanning thread's CPU time: on a
 *          shared machine it, not the wall time, says what one core does.
 * Single-threaded. The whole capture is read into memory before timing.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE             /* qsort_r */
#endif
#include <hs/hs.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "slurp.h"

/* Marks a content of an app-layer buffer (http.uri, dns.query, http_header
 * ...): not a Hyperscan flag, cleared before compiling. */
#define CEIL_APPBUF (1u << 30)

typedef struct lits {
    char **v;
    size_t *len;
    unsigned *flags;
    size_t n, cap;
} lits_t;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* A content value ("abc|0d 0a|\;") to its bytes in OUT; length, or -1. */
static long decode_content(const char *s, size_t n, char *out)
{
    size_t i = 0, o = 0;
    int hex = 0, hi = -1;
    while (i < n && (s[i] == ' ' || s[i] == '\t')) i++;
    while (n > i && (s[n - 1] == ' ' || s[n - 1] == '\t')) n--;
    if (i < n && s[i] == '!') return -1;              /* negated: not a fast pattern */
    if (n - i < 2 || s[i] != '"' || s[n - 1] != '"') return -1;
    for (i++, n--; i < n; i++) {
        char c = s[i];
        if (c == '|') {
            if (hi >= 0) return -1;
            hex = !hex;
        } else if (hex) {
            int v = hexval((unsigned char)c);
            if (c == ' ') continue;
            if (v < 0) return -1;
            if (hi < 0) hi = v;
            else { out[o++] = (char)(hi << 4 | v); hi = -1; }
        } else if (c == '\\' && i + 1 < n) {
            out[o++] = s[++i];
        } else {
            out[o++] = c;
        }
    }
    return hex ? -1 : (long)o;
}

static void add_lit(lits_t *l, const char *b, size_t len, unsigned flags)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 4096;
        l->v = realloc(l->v, l->cap * sizeof(*l->v));
        l->len = realloc(l->len, l->cap * sizeof(*l->len));
        l->flags = realloc(l->flags, l->cap * sizeof(*l->flags));
        if (!l->v || !l->len || !l->flags) { perror("realloc"); exit(2); }
    }
    l->v[l->n] = malloc(len ? len : 1);
    if (!l->v[l->n]) { perror("malloc"); exit(2); }
    memcpy(l->v[l->n], b, len);
    l->len[l->n] = len;
    l->flags[l->n] = flags;
    l->n++;
}

/* The contents of one rule line (options split on unescaped ';'): all of
 * them (ALL), or its fast pattern only: the content marked fast_pattern,
 * else the longest, as Suricata chooses. */
static void rule_contents(const char *line, lits_t *l, int all, int raw_only)
{
    int sticky = 0;                 /* a sticky buffer is selected */
    const char *p = strchr(line, '(');
    char buf[8192];
    long last = -1;                 /* index in l of this rule's previous content */
    size_t first = l->n;
    long fp = -1;                   /* the content marked fast_pattern */
    if (!p) return;
    p++;
    while (*p) {
        const char *k, *v = NULL, *e;
        int inq = 0;
        while (*p == ' ' || *p == '\t') p++;
        k = p;
        for (e = p; *e; e++) {
            if (*e == '\\' && e[1]) { e++; continue; }
            if (*e == '"') inq = !inq;
            if (!inq && *e == ':' && !v) v = e + 1;
            if (!inq && *e == ';') break;
        }
        if (!*e) break;
        size_t klen = (size_t)((v ? v - 1 : e) - k);
        if (klen == 7 && !strncmp(k, "content", 7) && v && (size_t)(e - v) < sizeof(buf)) {
            long n = decode_content(v, (size_t)(e - v), buf);
            last = -1;
            if (n > 0) {
                add_lit(l, buf, (size_t)n, HS_FLAG_SINGLEMATCH | (sticky ? CEIL_APPBUF : 0));
                last = (long)l->n - 1;
            }
        } else if (klen == 6 && !strncmp(k, "nocase", 6) && last >= 0) {
            l->flags[last] |= HS_FLAG_CASELESS;
        } else if (klen == 12 && !strncmp(k, "fast_pattern", 12) && last >= 0) {
            fp = last;
        } else if (klen == 10 && !strncmp(k, "uricontent", 10) && v) {
            long n = decode_content(v, (size_t)(e - v), buf);
            last = -1;
            if (n > 0) {
                add_lit(l, buf, (size_t)n, HS_FLAG_SINGLEMATCH | CEIL_APPBUF);
                last = (long)l->n - 1;
            }
        } else if (!v && klen == 8 && !strncmp(k, "pkt_data", 8)) {
            sticky = 0;
        } else if (!v && (memchr(k, '.', klen) || (klen == 9 && !strncmp(k, "file_data", 9)) ||
                          (klen == 9 && !strncmp(k, "dns_query", 9)))) {
            sticky = 1;             /* http.uri; dns.query; file.data; ... */
        } else if (!v && klen > 5 && !strncmp(k, "http_", 5) && last >= 0) {
            l->flags[last] |= CEIL_APPBUF;   /* content:"x"; http_uri; */
        }
        p = e + 1;
    }
    if (all || l->n - first < 1) return;
    if (fp < 0) {                   /* the longest; the first of equals */
        fp = (long)first;
        for (size_t i = first + 1; i < l->n; i++)
            if (l->len[i] > l->len[fp]) fp = (long)i;
    }
    /* keep fp alone at `first` */
    char *keep = l->v[fp];
    size_t klen = l->len[fp];
    unsigned kfl = l->flags[fp];
    for (size_t i = first; i < l->n; i++)
        if ((long)i != fp) free(l->v[i]);
    l->v[first] = keep;
    l->len[first] = klen;
    l->flags[first] = kfl;
    l->n = first + 1;
    if (raw_only && (kfl & CEIL_APPBUF)) {
        free(keep);
        l->n = first;
    }
}

static int lit_cmp(const void *a, const void *b, void *ctx)
{
    const lits_t *l = ctx;
    size_t i = *(const size_t *)a, j = *(const size_t *)b;
    if (l->flags[i] != l->flags[j]) return l->flags[i] < l->flags[j] ? -1 : 1;
    if (l->len[i] != l->len[j]) return l->len[i] < l->len[j] ? -1 : 1;
    return memcmp(l->v[i], l->v[j], l->len[i]);
}

typedef struct counts {
    unsigned long long total;
    unsigned long long *per;        /* per pattern id, with --top only */
} counts_t;

static int on_match(unsigned id, unsigned long long from, unsigned long long to,
                    unsigned flags, void *ctx)
{
    counts_t *c = ctx;
    c->total++;
    if (c->per) c->per[id]++;
    return 0;
}

static const unsigned long long *g_per;

static int per_cmp(const void *a, const void *b)
{
    unsigned long long x = g_per[*(const unsigned *)a], y = g_per[*(const unsigned *)b];
    return x < y ? 1 : x > y ? -1 : 0;
}

/* Offset and length of a frame's payload (Ethernet, VLAN, IPv4/IPv6,
 * TCP/UDP); 0 when there is none. */
static size_t payload_of(const unsigned char *f, size_t n, size_t *off)
{
    size_t o = 14;
    unsigned et, proto;
    if (n < 14) return 0;
    et = (unsigned)f[12] << 8 | f[13];
    while ((et == 0x8100 || et == 0x88a8) && n >= o + 4) {
        et = (unsigned)f[o + 2] << 8 | f[o + 3];
        o += 4;
    }
    if (et == 0x0800) {
        size_t ihl, tot;
        if (n < o + 20) return 0;
        ihl = (size_t)(f[o] & 0x0f) * 4;
        tot = (size_t)f[o + 2] << 8 | f[o + 3];
        if (ihl < 20 || n < o + ihl) return 0;
        if (tot >= ihl && o + tot < n) n = o + tot;      /* Ethernet padding */
        proto = f[o + 9];
        if ((((unsigned)f[o + 6] << 8 | f[o + 7]) & 0x1fff) != 0) proto = 0;  /* later fragment */
        o += ihl;
    } else if (et == 0x86dd) {
        size_t plen;
        if (n < o + 40) return 0;
        plen = (size_t)f[o + 4] << 8 | f[o + 5];
        if (o + 40 + plen < n) n = o + 40 + plen;
        proto = f[o + 6];
        o += 40;
    } else {
        return 0;
    }
    if (proto == 6) {
        if (n < o + 20) return 0;
        size_t doff = (size_t)(f[o + 12] >> 4) * 4;
        if (doff < 20 || n < o + doff) return 0;
        o += doff;
    } else if (proto == 17) {
        if (n < o + 8) return 0;
        o += 8;
    }
    *off = o;
    return n > o ? n - o : 0;
}

int main(int argc, char **argv)
{
    size_t clen, i, npk = 0, cap = 0, *poff = NULL, *plen = NULL;
    unsigned long long frame_bytes = 0, payload_bytes = 0;
    counts_t matches = { 0 };
    unsigned top = 0, min_len = 1;
    lits_t l = { 0 };
    int all = 0, raw_only = 0;
    for (; argc > 1 && argv[1][0] == '-'; argc--, argv++) {
        if (!strcmp(argv[1], "--all")) all = 1;
        else if (!strcmp(argv[1], "--raw")) raw_only = 1;
        else if (!strcmp(argv[1], "--top") && argc > 2) top = (unsigned)atoi(argv[2]), argc--, argv++;
        else if (!strcmp(argv[1], "--min-len") && argc > 2)
            min_len = (unsigned)atoi(argv[2]), argc--, argv++;
        else break;
    }
    if (argc < 3 || (all && raw_only)) {
        fprintf(stderr, "usage: nids_ceiling [--all | --raw] [--top N] [--min-len N] "
                        "CAPTURE.pcap RULES.rules...\n");
        return 2;
    }
    for (int a = 2; a < argc; a++) {
        size_t rlen;
        char *text = bench_slurp("nids_ceiling", argv[a], &rlen), *line, *save = NULL;
        if (!text) return 2;
        for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
            while (*line == ' ' || *line == '\t') line++;
            if (*line && *line != '#') rule_contents(line, &l, all, raw_only);
        }
        free(text);
    }
    /* merge duplicates: sort an index, keep the first of each run */
    size_t *idx = malloc(l.n * sizeof(*idx)), nu = 0;
    if (!idx && l.n) { perror("malloc"); return 2; }
    for (i = 0; i < l.n; i++) {
        idx[i] = i;
        l.flags[i] &= ~CEIL_APPBUF;
    }
    qsort_r(idx, l.n, sizeof(*idx), lit_cmp, &l);
    const char **ex = malloc((l.n + 1) * sizeof(*ex));
    size_t *exlen = malloc((l.n + 1) * sizeof(*exlen));
    unsigned *exfl = malloc((l.n + 1) * sizeof(*exfl)), *ids = malloc((l.n + 1) * sizeof(*ids));
    if (!ex || !exlen || !exfl || !ids) { perror("malloc"); return 2; }
    for (i = 0; i < l.n; i++) {
        if (i && lit_cmp(&idx[i], &idx[i - 1], &l) == 0) continue;
        if (l.len[idx[i]] < min_len) continue;
        ex[nu] = l.v[idx[i]];
        exlen[nu] = l.len[idx[i]];
        exfl[nu] = l.flags[idx[i]];
        ids[nu] = (unsigned)nu;
        nu++;
    }
    if (!nu) {
        fprintf(stderr, "nids_ceiling: no content in the rules\n");
        return 2;
    }
    hs_database_t *db = NULL;
    hs_compile_error_t *cerr = NULL;
    double t0 = now_s();
    if (hs_compile_lit_multi(ex, exfl, ids, exlen, (unsigned)nu, HS_MODE_BLOCK, NULL, &db,
                             &cerr) != HS_SUCCESS) {
        fprintf(stderr, "nids_ceiling: hs_compile_lit_multi: %s (pattern %d)\n", cerr->message,
                cerr->expression);
        return 2;
    }
    double compile_s = now_s() - t0;
    hs_scratch_t *scratch = NULL;
    if (hs_alloc_scratch(db, &scratch) != HS_SUCCESS) {
        fprintf(stderr, "nids_ceiling: hs_alloc_scratch failed\n");
        return 2;
    }

    char *cbuf = bench_slurp("nids_ceiling", argv[1], &clen);
    const unsigned char *c = (const unsigned char *)cbuf;
    if (!c) return 2;
    int swap;
    if (clen < 24) { fprintf(stderr, "nids_ceiling: %s: too short\n", argv[1]); return 2; }
    if (!memcmp(c, "\xd4\xc3\xb2\xa1", 4) || !memcmp(c, "\x4d\x3c\xb2\xa1", 4)) swap = 0;
    else if (!memcmp(c, "\xa1\xb2\xc3\xd4", 4) || !memcmp(c, "\xa1\xb2\x3c\x4d", 4)) swap = 1;
    else { fprintf(stderr, "nids_ceiling: %s: not a classic pcap\n", argv[1]); return 2; }
    uint32_t lt;
    memcpy(&lt, c + 20, 4);
    if (swap) lt = __builtin_bswap32(lt);
    if ((lt & 0x0fffffff) != 1) {
        fprintf(stderr, "nids_ceiling: %s: link type %u, only Ethernet (1)\n", argv[1], lt);
        return 2;
    }
    for (size_t o = 24; o + 16 <= clen;) {
        uint32_t incl;
        memcpy(&incl, c + o + 8, 4);
        if (swap) incl = __builtin_bswap32(incl);
        o += 16;
        if (incl > clen - o) break;
        size_t off = 0, n = payload_of(c + o, incl, &off);
        frame_bytes += incl;
        if (npk == cap) {
            cap = cap ? cap * 2 : 1 << 16;
            poff = realloc(poff, cap * sizeof(*poff));
            plen = realloc(plen, cap * sizeof(*plen));
            if (!poff || !plen) { perror("realloc"); return 2; }
        }
        poff[npk] = o + off;
        plen[npk] = n;
        npk++;
        payload_bytes += n;
        o += incl;
    }
    if (top) {
        matches.per = calloc(nu, sizeof(*matches.per));
        if (!matches.per) { perror("calloc"); return 2; }
    }
    t0 = now_s();
    double c0 = cpu_s();
    for (i = 0; i < npk; i++) {
        if (plen[i] && hs_scan(db, (const char *)c + poff[i], (unsigned)plen[i], 0, scratch,
                               on_match, &matches) != HS_SUCCESS) {
            fprintf(stderr, "nids_ceiling: hs_scan failed\n");
            return 2;
        }
    }
    double secs = now_s() - t0, cpu = cpu_s() - c0;
    printf("ceiling patterns %zu compile_s %.2f packets %zu frame_bytes %llu payload_bytes %llu "
           "seconds %.3f cpu_seconds %.3f matches %llu\n", nu, compile_s, npk, frame_bytes,
           payload_bytes, secs, cpu, matches.total);
    fflush(stdout);
    if (top) {                      /* the patterns that match most, to stderr */
        unsigned *order = malloc(nu * sizeof(*order));
        if (!order) { perror("malloc"); return 2; }
        for (i = 0; i < nu; i++) order[i] = (unsigned)i;
        g_per = matches.per;
        qsort(order, nu, sizeof(*order), per_cmp);
        for (i = 0; i < top && i < nu; i++) {
            unsigned id = order[i];
            fprintf(stderr, "%12llu %5.1f%%  %s\"", matches.per[id],
                    matches.total ? 100.0 * matches.per[id] / matches.total : 0.0,
                    exfl[id] & HS_FLAG_CASELESS ? "nocase " : "");
            for (size_t k = 0; k < exlen[id]; k++) {
                unsigned char ch = (unsigned char)ex[id][k];
                if (ch >= 0x20 && ch < 0x7f && ch != '"' && ch != '|') fputc(ch, stderr);
                else fprintf(stderr, "|%02x|", ch);
            }
            fprintf(stderr, "\"\n");
        }
        free(order);
        free(matches.per);
    }
    hs_free_scratch(scratch);
    hs_free_database(db);
    for (i = 0; i < l.n; i++) free(l.v[i]);
    free(l.v); free(l.len); free(l.flags); free(idx); free(ex); free(exlen); free(exfl); free(ids);
    free(poff); free(plen); free(cbuf);
    return 0;
}
