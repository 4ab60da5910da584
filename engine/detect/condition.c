/*
 * engine/detect/condition.c -- the Sigma `condition:` expression parser.
 *
 * Grammar (precedence not > and > or, all left-associative):
 *
 *   expr    := and ( 'or' and )*
 *   and     := unary ( 'and' unary )*
 *   unary   := 'not' unary | primary
 *   primary := '(' expr ')' | quant 'of' target | NAME
 *   quant   := '1' | 'any' | 'all'
 *   target  := 'them' | NAME        (NAME may hold '*' wildcards)
 *
 * Names are replaced by copies of their selections' trees, so the result is
 * a plain AND/OR/NOT tree over atoms. `them` leaves out names that start
 * with '_' (as the Sigma spec says). A pipe (`| count() > 5`) or `near` is
 * an aggregation and is refused: those belong in correlation rules.
 *
 * Ownership: the returned tree is the caller's. Thread: start-up only.
 */
#include "sigma_int.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

enum tok_kind { T_END, T_LP, T_RP, T_WORD, T_PIPE, T_BAD };

typedef struct cond_parser {
    const char *s;
    size_t pos;
    /* current token */
    enum tok_kind kind;
    size_t tstart, tlen;
    const canh_cond_sel_t *sels;
    size_t nsel;
    char *why;
    size_t whylen;
    int err;
    int depth;           /* nesting of parentheses and `not`, bounded */
} cond_parser_t;

#define COND_MAX_DEPTH 200

static void fail(cond_parser_t *p, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void fail(cond_parser_t *p, int err, const char *fmt, ...)
{
    if (p->err)
        return;
    p->err = err;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->why, p->whylen, fmt, ap);
    va_end(ap);
}

static int word_char(int c)
{
    return isalnum(c) || c == '_' || c == '*' || c == '-' || c == '.' || c == '?';
}

static void next(cond_parser_t *p)
{
    const char *s = p->s;
    while (s[p->pos] && isspace((unsigned char)s[p->pos]))
        p->pos++;
    p->tstart = p->pos;
    p->tlen = 1;
    char c = s[p->pos];
    if (!c) {
        p->kind = T_END;
        p->tlen = 0;
    } else if (c == '(') {
        p->kind = T_LP;
        p->pos++;
    } else if (c == ')') {
        p->kind = T_RP;
        p->pos++;
    } else if (c == '|') {
        p->kind = T_PIPE;
        p->pos++;
    } else if (word_char((unsigned char)c)) {
        while (s[p->pos] && word_char((unsigned char)s[p->pos]))
            p->pos++;
        p->kind = T_WORD;
        p->tlen = p->pos - p->tstart;
    } else {
        p->kind = T_BAD;
        p->pos++;
    }
}

static int is_kw(const cond_parser_t *p, const char *kw)
{
    return p->kind == T_WORD && strlen(kw) == p->tlen &&
           strncasecmp(p->s + p->tstart, kw, p->tlen) == 0;
}

static void unexpected(cond_parser_t *p)
{
    if (p->kind == T_PIPE || is_kw(p, "near")) {
        fail(p, CANH_ENOTSUP, "aggregation in condition is not supported; use a correlation rule");
    } else if (p->kind == T_END) {
        fail(p, CANH_EPARSE, "condition: unexpected end of condition");
    } else {
        fail(p, CANH_EPARSE, "condition: unexpected '%.*s' at column %zu",
             (int)p->tlen, p->s + p->tstart, p->tstart + 1);
    }
}

/* Glob with '*' as any run (selection names never hold other wildcards). */
static int glob_match(const char *pat, size_t plen, const char *s)
{
    size_t pi = 0, si = 0, star = (size_t)-1, mark = 0, slen = strlen(s);
    while (si < slen) {
        if (pi < plen && pat[pi] == '*') {
            star = pi++;
            mark = si;
        } else if (pi < plen && pat[pi] == s[si]) {
            pi++;
            si++;
        } else if (star != (size_t)-1) {
            pi = star + 1;
            si = ++mark;
        } else {
            return 0;
        }
    }
    while (pi < plen && pat[pi] == '*')
        pi++;
    return pi == plen;
}

/* Builds op over kids, flattening kids of the same op; one kid stands alone. */
static canh_node_t *combine(canh_node_op_t op, canh_node_t **kids, uint32_t n)
{
    if (n == 1)
        return kids[0];
    uint32_t total = 0;
    for (uint32_t i = 0; i < n; i++)
        total += kids[i]->op == op ? kids[i]->nkids : 1;
    canh_node_t **flat = malloc(sizeof(*flat) * total);
    if (!flat)
        return NULL;
    uint32_t k = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (kids[i]->op == op) {
            for (uint32_t j = 0; j < kids[i]->nkids; j++)
                flat[k++] = kids[i]->kids[j];
        } else {
            flat[k++] = kids[i];
        }
    }
    canh_node_t *r = canh_node_new(op, flat, total);
    free(flat);
    if (!r)
        return NULL;
    for (uint32_t i = 0; i < n; i++) {
        if (kids[i]->op == op) {   /* grandchildren moved up: free the shell */
            kids[i]->nkids = 0;
            canh_node_free(kids[i]);
        }
    }
    return r;
}

/* A growable list of nodes, freed on error. */
typedef struct nodelist {
    canh_node_t **v;
    uint32_t n, cap;
} nodelist_t;

static int nl_push(nodelist_t *l, canh_node_t *x)
{
    if (!x)
        return CANH_ENOMEM;
    if (l->n == l->cap) {
        uint32_t cap = l->cap ? l->cap * 2 : 4;
        canh_node_t **v = realloc(l->v, sizeof(*v) * cap);
        if (!v) {
            canh_node_free(x);
            return CANH_ENOMEM;
        }
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = x;
    return CANH_OK;
}

static void nl_drop(nodelist_t *l)
{
    for (uint32_t i = 0; i < l->n; i++)
        canh_node_free(l->v[i]);
    free(l->v);
    l->v = NULL;
    l->n = l->cap = 0;
}

static canh_node_t *nl_combine(cond_parser_t *p, canh_node_op_t op, nodelist_t *l)
{
    canh_node_t *r = combine(op, l->v, l->n);
    if (!r) {
        nl_drop(l);
        fail(p, CANH_ENOMEM, "out of memory");
        return NULL;
    }
    free(l->v);
    return r;
}

static canh_node_t *parse_expr(cond_parser_t *p);

static canh_node_t *parse_of(cond_parser_t *p, int all)
{
    next(p);                       /* past the quantifier */
    if (!is_kw(p, "of")) {
        unexpected(p);
        return NULL;
    }
    next(p);
    if (p->kind != T_WORD) {
        unexpected(p);
        return NULL;
    }
    int them = is_kw(p, "them");
    const char *pat = p->s + p->tstart;
    size_t plen = p->tlen;
    nodelist_t l = { 0 };
    for (size_t i = 0; i < p->nsel; i++) {
        const char *name = p->sels[i].name;
        int hit = them ? name[0] != '_' : glob_match(pat, plen, name);
        if (hit && nl_push(&l, canh_node_copy(p->sels[i].tree))) {
            nl_drop(&l);
            fail(p, CANH_ENOMEM, "out of memory");
            return NULL;
        }
    }
    if (l.n == 0) {
        if (them)
            fail(p, CANH_ENOENT, "condition: 'them' matches no selection");
        else if (memchr(pat, '*', plen))
            fail(p, CANH_ENOENT, "condition: '%.*s' matches no selection", (int)plen, pat);
        else
            fail(p, CANH_ENOENT, "condition: unknown selection '%.*s'", (int)plen, pat);
        return NULL;
    }
    next(p);
    return nl_combine(p, all ? CANH_NODE_AND : CANH_NODE_OR, &l);
}

static canh_node_t *parse_primary(cond_parser_t *p)
{
    if (p->kind == T_LP) {
        if (++p->depth > COND_MAX_DEPTH) {
            fail(p, CANH_ENOTSUP, "condition: nested deeper than %d", COND_MAX_DEPTH);
            return NULL;
        }
        next(p);
        canh_node_t *e = parse_expr(p);
        p->depth--;
        if (!e)
            return NULL;
        if (p->kind != T_RP) {
            canh_node_free(e);
            if (p->kind == T_END)
                fail(p, CANH_EPARSE, "condition: missing ')'");
            else
                unexpected(p);
            return NULL;
        }
        next(p);
        return e;
    }
    if (p->kind != T_WORD) {
        unexpected(p);
        return NULL;
    }
    if (is_kw(p, "1") || is_kw(p, "any"))
        return parse_of(p, 0);
    if (is_kw(p, "all"))
        return parse_of(p, 1);
    if (is_kw(p, "near")) {
        fail(p, CANH_ENOTSUP, "aggregation in condition is not supported; use a correlation rule");
        return NULL;
    }
    if (is_kw(p, "and") || is_kw(p, "or") || is_kw(p, "of") || is_kw(p, "them")) {
        unexpected(p);
        return NULL;
    }
    const char *w = p->s + p->tstart;
    if (isdigit((unsigned char)w[0])) {
        size_t save = p->pos;
        enum tok_kind sk = p->kind;
        size_t ss = p->tstart, sl = p->tlen;
        next(p);
        if (is_kw(p, "of")) {
            fail(p, CANH_ENOTSUP, "condition: '%.*s of' is not supported (only 1, any and all)",
                 (int)sl, w);
            return NULL;
        }
        p->pos = save;
        p->kind = sk;
        p->tstart = ss;
        p->tlen = sl;
    }
    for (size_t i = 0; i < p->nsel; i++) {
        if (strlen(p->sels[i].name) == p->tlen && memcmp(p->sels[i].name, w, p->tlen) == 0) {
            canh_node_t *c = canh_node_copy(p->sels[i].tree);
            if (!c) {
                fail(p, CANH_ENOMEM, "out of memory");
                return NULL;
            }
            next(p);
            return c;
        }
    }
    if (memchr(w, '*', p->tlen))
        fail(p, CANH_EPARSE, "condition: wildcard '%.*s' needs '1 of' or 'all of'",
             (int)p->tlen, w);
    else
        fail(p, CANH_ENOENT, "condition: unknown selection '%.*s'", (int)p->tlen, w);
    return NULL;
}

static canh_node_t *parse_unary(cond_parser_t *p)
{
    if (is_kw(p, "not")) {
        if (++p->depth > COND_MAX_DEPTH) {
            fail(p, CANH_ENOTSUP, "condition: nested deeper than %d", COND_MAX_DEPTH);
            return NULL;
        }
        next(p);
        canh_node_t *k = parse_unary(p);
        p->depth--;
        if (!k)
            return NULL;
        if (k->op == CANH_NODE_NOT && k->nkids == 1) {   /* not not x = x */
            canh_node_t *inner = k->kids[0];
            k->nkids = 0;
            canh_node_free(k);
            return inner;
        }
        canh_node_t *n = canh_node_new(CANH_NODE_NOT, &k, 1);
        if (!n) {
            canh_node_free(k);
            fail(p, CANH_ENOMEM, "out of memory");
        }
        return n;
    }
    return parse_primary(p);
}

static canh_node_t *parse_binary(cond_parser_t *p, const char *kw, canh_node_op_t op,
                                 canh_node_t *(*sub)(cond_parser_t *))
{
    nodelist_t l = { 0 };
    for (;;) {
        canh_node_t *k = sub(p);
        if (!k) {
            nl_drop(&l);
            return NULL;
        }
        if (nl_push(&l, k)) {
            nl_drop(&l);
            fail(p, CANH_ENOMEM, "out of memory");
            return NULL;
        }
        if (!is_kw(p, kw))
            break;
        next(p);
    }
    return nl_combine(p, op, &l);
}

static canh_node_t *parse_and(cond_parser_t *p)
{
    return parse_binary(p, "and", CANH_NODE_AND, parse_unary);
}

static canh_node_t *parse_expr(cond_parser_t *p)
{
    return parse_binary(p, "or", CANH_NODE_OR, parse_and);
}

int canh_cond_parse(const char *text, const canh_cond_sel_t *sels, size_t nsel,
                    canh_node_t **out, char *why, size_t whylen)
{
    cond_parser_t p = { .s = text, .sels = sels, .nsel = nsel, .why = why, .whylen = whylen };
    *out = NULL;
    if (whylen)
        why[0] = '\0';
    if (strchr(text, '|')) {   /* refuse aggregations up front, whatever precedes them */
        fail(&p, CANH_ENOTSUP, "aggregation in condition is not supported; use a correlation rule");
        return p.err;
    }
    next(&p);
    if (p.kind == T_END) {
        fail(&p, CANH_EPARSE, "condition is empty");
        return p.err;
    }
    canh_node_t *n = parse_expr(&p);
    if (n && p.kind != T_END) {
        unexpected(&p);
        canh_node_free(n);
        n = NULL;
    }
    if (!n)
        return p.err ? p.err : CANH_EPARSE;
    *out = n;
    return CANH_OK;
}
