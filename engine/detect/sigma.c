/*
 * engine/detect/sigma.c -- Sigma rule files (YAML) to canh_rule_t.
 *
 * Reads each YAML document with libyaml's document API (so every node knows
 * its line), checks the metadata, finds the log source in the field map,
 * expands every selection into an AND/OR/NOT tree over atoms (condition.c
 * then combines them as the `condition` says), and reads canh's own
 * `canh: {tests: {match, nomatch}}` samples (an unknown key there, or a
 * top-level key that looks like a typo of `canh`, refuses the rule).
 * Documents with a `filter:` key are Sigma filters: filter.c reads them,
 * and canh_sigma_filter_rule builds a filter's selections into a rule.
 *
 * Values become atoms as the Sigma spec says: a plain value is a whole-field,
 * case-insensitive match where `*` and `?` are wildcards (`\*`, `\?`, `\\`
 * escape them); contains/startswith/endswith drop one or both anchors;
 * base64, base64offset and windash expand the value; re, cidr, gt/gte/lt/lte,
 * exists and fieldref make their own atoms. Every literal is escaped into
 * PCRE syntax. Anything canh cannot honour exactly refuses the whole rule,
 * with the file, line and a reason, and loading goes on with the next rule.
 *
 * Ownership: rules are malloc'd and handed to the caller's rulevec, which
 * owns them. Thread: start-up or the reload thread; nothing global.
 */
#include "sigma_int.h"
#include "../text.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <pcre2.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <sys/stat.h>
#include <yaml.h>

/* ---------------------------------------------------------------- rulevec */

int canh_rulevec_push(canh_rulevec_t *rv, canh_rule_t *r)
{
    if (!rv || !r)
        return CANH_EINVAL;
    if (rv->n == rv->cap) {
        size_t cap = rv->cap ? rv->cap * 2 : 64;
        canh_rule_t **v = realloc(rv->v, cap * sizeof(*v));
        if (!v)
            return CANH_ENOMEM;
        rv->v = v;
        rv->cap = cap;
    }
    rv->v[rv->n++] = r;
    return CANH_OK;
}

void canh_rulevec_free(canh_rulevec_t *rv)
{
    if (!rv)
        return;
    for (size_t i = 0; i < rv->n; i++)
        canh_rule_free(rv->v[i]);
    free(rv->v);
    rv->v = NULL;
    rv->n = rv->cap = 0;
    for (size_t i = 0; i < rv->nfilters; i++)
        canh_filter_free(rv->filters[i]);
    free(rv->filters);
    rv->filters = NULL;
    rv->nfilters = rv->filters_cap = rv->filter_problems = 0;
}

/* ---------------------------------------------------------------- builder */

typedef struct rb {
    yaml_document_t *d;
    canh_rule_t *r;
    size_t atom_cap;
    const canh_fm_source_t *src;
    char why[512];
    int why_line;
    int err;              /* first error (a refusal) */
    const char *cur_sel;  /* provenance of the atoms being made: the selection */
    const char *cur_key;  /* ... and the key as written (NULL: a keyword list) */
} rb_t;

static int refuse_at(rb_t *b, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int refuse_at(rb_t *b, int line, const char *fmt, ...)
{
    if (b->err)
        return b->err;
    b->err = CANH_EINVAL;
    b->why_line = line;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(b->why, sizeof(b->why), fmt, ap);
    va_end(ap);
    return b->err;
}

static int oom(rb_t *b)
{
    return refuse_at(b, 0, "out of memory");
}

static yaml_node_t *node(rb_t *b, int id)
{
    return yaml_document_get_node(b->d, id);
}

static int line_of(const yaml_node_t *n)
{
    return n ? (int)n->start_mark.line + 1 : 0;
}

static const char *scalar(const yaml_node_t *n)
{
    return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static size_t scalar_len(const yaml_node_t *n)
{
    return n->data.scalar.length;
}

static int is_null(const yaml_node_t *n)
{
    if (!n || n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return 0;
    const char *v = scalar(n);
    return !*v || !strcmp(v, "~") || !strcmp(v, "null") || !strcmp(v, "Null") || !strcmp(v, "NULL");
}

/* ---------------------------------------------------------------- atoms */

static int add_atom(rb_t *b, canh_atom_kind_t kind, const char *field, int line, uint32_t *idx)
{
    canh_rule_t *r = b->r;
    if (r->natoms == b->atom_cap) {
        size_t cap = b->atom_cap ? b->atom_cap * 2 : 16;
        canh_atom_t *v = realloc(r->atoms, cap * sizeof(*v));
        if (!v)
            return oom(b);
        r->atoms = v;
        b->atom_cap = cap;
    }
    canh_atom_t *a = &r->atoms[r->natoms];
    memset(a, 0, sizeof(*a));
    a->field = strdup(field);
    if (!a->field || (b->cur_sel && !(a->selection = strdup(b->cur_sel)))) {
        free(a->field);
        a->field = NULL;
        return oom(b);
    }
    a->kind = kind;
    a->field_id = (uint16_t)canh_field_lookup(field, strlen(field));
    a->ref_field_id = CANH_F_DYNAMIC;
    a->line = line;
    *idx = (uint32_t)r->natoms++;
    return CANH_OK;
}

/* A node for atom idx, or NULL (and an error) when out of memory. */
static canh_node_t *atom_node(rb_t *b, uint32_t idx)
{
    canh_node_t *n = canh_node_atom(idx);
    if (!n)
        oom(b);
    return n;
}

/* ---------------------------------------------------------------- values */

enum { TK_LIT, TK_STAR, TK_ONE, TK_DASH };

typedef struct toks {
    unsigned char *kind;
    unsigned char *ch;
    size_t n, cap;
} toks_t;

static int tk_push(toks_t *t, unsigned char kind, unsigned char ch)
{
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 64;
        unsigned char *k = realloc(t->kind, cap);
        if (!k)
            return CANH_ENOMEM;
        t->kind = k;
        unsigned char *c = realloc(t->ch, cap);
        if (!c)
            return CANH_ENOMEM;
        t->ch = c;
        t->cap = cap;
    }
    t->kind[t->n] = kind;
    t->ch[t->n] = ch;
    t->n++;
    return CANH_OK;
}

static void tk_free(toks_t *t)
{
    free(t->kind);
    free(t->ch);
    memset(t, 0, sizeof(*t));
}

/* Sigma string: `*` any run, `?` one character; `\` escapes `*`, `?`, `\`
 * and is a plain backslash before anything else. */
static int parse_wild(const char *s, size_t n, toks_t *t)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        int rc;
        if (c == '\\' && i + 1 < n && (s[i + 1] == '*' || s[i + 1] == '?' || s[i + 1] == '\\'))
            rc = tk_push(t, TK_LIT, (unsigned char)s[++i]);
        else if (c == '*')
            rc = tk_push(t, TK_STAR, c);
        else if (c == '?')
            rc = tk_push(t, TK_ONE, c);
        else
            rc = tk_push(t, TK_LIT, c);
        if (rc)
            return rc;
    }
    return CANH_OK;
}

static int has_wild(const toks_t *t)
{
    for (size_t i = 0; i < t->n; i++)
        if (t->kind[i] == TK_STAR || t->kind[i] == TK_ONE)
            return 1;
    return 0;
}

static const char b64_alpha[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Standard base64 with '=' padding; out must hold 4*((n+2)/3)+1 bytes. */
static size_t b64_encode(const unsigned char *in, size_t n, char *out)
{
    size_t o = 0, i = 0;
    for (; i + 2 < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        out[o++] = b64_alpha[v >> 18 & 63];
        out[o++] = b64_alpha[v >> 12 & 63];
        out[o++] = b64_alpha[v >> 6 & 63];
        out[o++] = b64_alpha[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)in[i] << 16;
        out[o++] = b64_alpha[v >> 18 & 63];
        out[o++] = b64_alpha[v >> 12 & 63];
        out[o++] = '=';
        out[o++] = '=';
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
        out[o++] = b64_alpha[v >> 18 & 63];
        out[o++] = b64_alpha[v >> 12 & 63];
        out[o++] = b64_alpha[v >> 6 & 63];
        out[o++] = '=';
    }
    out[o] = '\0';
    return o;
}

/*
 * The base64 forms of a literal: one (base64) or three (base64offset: the
 * value shifted by 0, 1, 2 bytes, with the characters that depend on the
 * unknown neighbouring bytes trimmed from both ends).
 */
static int b64_variants(const unsigned char *v, size_t n, int offset, char *out[3], size_t *nout)
{
    *nout = 0;
    unsigned char *buf = malloc(n + 3);
    char *enc = malloc(4 * ((n + 4) / 3) + 8);
    if (!buf || !enc) {
        free(buf);
        free(enc);
        return CANH_ENOMEM;
    }
    static const size_t start_trim[3] = { 0, 2, 3 };
    static const size_t end_trim[3] = { 0, 3, 2 };
    int rounds = offset ? 3 : 1;
    for (int i = 0; i < rounds; i++) {
        memset(buf, ' ', (size_t)i);
        memcpy(buf + i, v, n);
        size_t len = b64_encode(buf, n + (size_t)i, enc);
        size_t s = 0, e = len;
        if (offset) {
            s = start_trim[i];
            size_t et = end_trim[(n + (size_t)i) % 3];
            e = len >= et ? len - et : 0;
        }
        if (e <= s)
            continue;   /* too short to have a stable middle */
        out[*nout] = strndup(enc + s, e - s);
        if (!out[*nout]) {
            free(buf);
            free(enc);
            return CANH_ENOMEM;
        }
        (*nout)++;
    }
    free(buf);
    free(enc);
    return CANH_OK;
}

static int is_word(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

/* windash: a '-' or '/' that starts a word (after a non-word char or the
 * start, before a word char) may be any of - / – — ―. */
static void mark_windash(toks_t *t)
{
    for (size_t i = 0; i < t->n; i++) {
        if (t->kind[i] != TK_LIT || (t->ch[i] != '-' && t->ch[i] != '/'))
            continue;
        int prev_word = i > 0 && t->kind[i - 1] == TK_LIT && is_word(t->ch[i - 1]);
        int next_word = i + 1 < t->n && t->kind[i + 1] == TK_LIT && is_word(t->ch[i + 1]);
        if (!prev_word && next_word)
            t->kind[i] = TK_DASH;
    }
}

typedef struct sbuf {
    char *p;
    size_t n, cap;
    int oom;
} sbuf_t;

static void sb_add(sbuf_t *s, const char *x, size_t n)
{
    if (s->oom)
        return;
    if (s->n + n + 1 > s->cap) {
        size_t cap = s->cap ? s->cap : 64;
        while (cap < s->n + n + 1)
            cap *= 2;
        char *p = realloc(s->p, cap);
        if (!p) {
            s->oom = 1;
            return;
        }
        s->p = p;
        s->cap = cap;
    }
    memcpy(s->p + s->n, x, n);
    s->n += n;
    s->p[s->n] = '\0';
}

static void sb_str(sbuf_t *s, const char *x)
{
    sb_add(s, x, strlen(x));
}

/* One literal byte in PCRE syntax: regex metacharacters escaped, controls
 * and non-ASCII bytes as \xHH, everything else as it is. */
static void sb_lit(sbuf_t *s, unsigned char c)
{
    char tmp[8];
    if (c >= 0x20 && c < 0x7f && !strchr("\\^$.|?*+()[]{}/#", c)) {
        sb_add(s, (const char *)&c, 1);
    } else if (c > 0x20 && c < 0x7f) {
        tmp[0] = '\\';
        tmp[1] = (char)c;
        sb_add(s, tmp, 2);
    } else {
        snprintf(tmp, sizeof(tmp), "\\x%02x", c);
        sb_add(s, tmp, 4);
    }
}

enum match_mode { M_EQUAL, M_CONTAINS, M_START, M_END };

/* One UTF-8 character, in byte-mode regex syntax. Every view a pattern
 * scans is well-formed UTF-8 (engine/text.h), so this is exact. */
#define UTF8_CHAR_RE \
    "(?:[\\x00-\\x7f]|[\\xc0-\\xdf][\\x80-\\xbf]|[\\xe0-\\xef][\\x80-\\xbf]{2}|[\\xf0-\\xf7][\\x80-\\xbf]{3})"

/*
 * Token list -> regex. Leading/trailing `*` drop the anchor instead of
 * becoming `.*`. Returns NULL with *any set when nothing is left to match
 * (the value was only `*`, or empty under contains): that is "any value".
 */
static char *toks_regex(const toks_t *t, enum match_mode mode, unsigned *flags, int *any)
{
    size_t lo = 0, hi = t->n;
    int anchor_start = mode == M_EQUAL || mode == M_START;
    int anchor_end = mode == M_EQUAL || mode == M_END;
    while (lo < hi && t->kind[lo] == TK_STAR) {
        lo++;
        anchor_start = 0;
    }
    while (hi > lo && t->kind[hi - 1] == TK_STAR) {
        hi--;
        anchor_end = 0;
    }
    *any = 0;
    if (lo == hi && !(anchor_start && anchor_end)) {
        *any = 1;
        return NULL;
    }
    sbuf_t s = { 0 };
    sb_str(&s, "");
    if (anchor_start)
        sb_str(&s, "\\A");
    for (size_t i = lo; i < hi; i++) {
        switch (t->kind[i]) {
        case TK_LIT:
            sb_lit(&s, t->ch[i]);
            break;
        case TK_STAR:
            sb_str(&s, ".*");
            *flags |= CANH_PAT_DOTALL;
            break;
        case TK_ONE:   /* one character, not one byte: values are scanned as UTF-8 */
            sb_str(&s, UTF8_CHAR_RE);
            break;
        case TK_DASH:
            sb_str(&s, "(?:-|/|\\xe2\\x80\\x93|\\xe2\\x80\\x94|\\xe2\\x80\\x95)");
            break;
        }
    }
    if (anchor_end)
        sb_str(&s, "\\z");
    if (s.oom) {
        free(s.p);
        return NULL;
    }
    return s.p;
}

/* ---------------------------------------------------------------- modifiers */

typedef struct mods {
    enum match_mode mode;
    int mode_set;
    int all, re, re_i, re_m, re_s, cased, exists, cidr, num, base64, base64off, windash, fieldref;
    canh_num_op_t op;
} mods_t;

static int parse_mods(rb_t *b, char **parts, size_t nparts, const char *field, int line, mods_t *m)
{
    memset(m, 0, sizeof(*m));
    const char *fname = *field ? field : "(keywords)";
    for (size_t i = 0; i < nparts; i++) {
        const char *x = parts[i];
        enum match_mode mode = M_EQUAL;
        int is_mode = 0;
        if (!strcmp(x, "contains"))
            mode = M_CONTAINS, is_mode = 1;
        else if (!strcmp(x, "startswith"))
            mode = M_START, is_mode = 1;
        else if (!strcmp(x, "endswith"))
            mode = M_END, is_mode = 1;
        else if (!strcmp(x, "all"))
            m->all = 1;
        else if (!strcmp(x, "re"))
            m->re = 1;
        else if (!strcmp(x, "i"))
            m->re_i = 1;
        else if (!strcmp(x, "m"))
            m->re_m = 1;
        else if (!strcmp(x, "s"))
            m->re_s = 1;
        else if (!strcmp(x, "cased"))
            m->cased = 1;
        else if (!strcmp(x, "exists"))
            m->exists = 1;
        else if (!strcmp(x, "cidr"))
            m->cidr = 1;
        else if (!strcmp(x, "gt"))
            m->num++, m->op = CANH_NUM_GT;
        else if (!strcmp(x, "gte"))
            m->num++, m->op = CANH_NUM_GTE;
        else if (!strcmp(x, "lt"))
            m->num++, m->op = CANH_NUM_LT;
        else if (!strcmp(x, "lte"))
            m->num++, m->op = CANH_NUM_LTE;
        else if (!strcmp(x, "base64"))
            m->base64 = 1;
        else if (!strcmp(x, "base64offset"))
            m->base64off = 1;
        else if (!strcmp(x, "windash"))
            m->windash = 1;
        else if (!strcmp(x, "fieldref"))
            m->fieldref = 1;
        else if (!strcmp(x, "utf16le") || !strcmp(x, "utf16be") || !strcmp(x, "utf16") ||
                 !strcmp(x, "wide"))
            return refuse_at(b, line, "encoding modifier '%s' not supported on Linux logs (field %s)",
                             x, fname);
        else
            return refuse_at(b, line, "unknown modifier '%s' on field %s", x, fname);
        if (is_mode) {
            if (m->mode_set)
                return refuse_at(b, line, "modifiers '%s' and another of contains/startswith/endswith "
                                 "on field %s", x, fname);
            m->mode = mode;
            m->mode_set = 1;
        }
    }
    if ((m->re_i || m->re_m || m->re_s) && !m->re)
        return refuse_at(b, line, "modifiers i, m and s need 're' (field %s)", fname);
    int special = m->re + m->exists + m->cidr + (m->num ? 1 : 0) + m->fieldref;
    if (special > 1 || m->num > 1)
        return refuse_at(b, line, "conflicting modifiers on field %s", fname);
    if (special && (m->mode_set || m->base64 || m->base64off || m->windash))
        return refuse_at(b, line, "modifier '%s' cannot be combined with string modifiers on field %s",
                         m->re ? "re" : m->exists ? "exists" : m->cidr ? "cidr" :
                         m->fieldref ? "fieldref" : "gt/gte/lt/lte", fname);
    if (m->base64 && m->base64off)
        return refuse_at(b, line, "modifiers base64 and base64offset together on field %s", fname);
    if ((m->exists || m->fieldref || m->num) && m->cased)
        return refuse_at(b, line, "modifier 'cased' has no meaning with this modifier on field %s", fname);
    return CANH_OK;
}

/* ---------------------------------------------------------------- one value */

static int parse_cidr(const char *v, int *family, uint8_t net[16], int *prefix)
{
    char addr[64];
    const char *slash = strchr(v, '/');
    size_t alen = slash ? (size_t)(slash - v) : strlen(v);
    if (alen == 0 || alen >= sizeof(addr))
        return -1;
    memcpy(addr, v, alen);
    addr[alen] = '\0';
    memset(net, 0, 16);
    int bits;
    if (inet_pton(AF_INET, addr, net) == 1) {
        *family = 4;
        bits = 32;
    } else if (inet_pton(AF_INET6, addr, net) == 1) {
        *family = 6;
        bits = 128;
    } else {
        return -1;
    }
    int p = bits;
    if (slash) {
        char *end;
        errno = 0;
        long l = strtol(slash + 1, &end, 10);
        if (!slash[1] || *end || errno || l < 0 || l > bits)
            return -1;
        p = (int)l;
    }
    *prefix = p;
    for (int i = p; i < bits; i++)   /* clear host bits */
        net[i / 8] &= (uint8_t)~(0x80u >> (i % 8));
    return 0;
}

static int check_regex(rb_t *b, const char *re, unsigned flags, int line, const char *fname)
{
    uint32_t opts = (flags & CANH_PAT_UTF) ? PCRE2_UTF | PCRE2_UCP : 0;
    if (flags & CANH_PAT_CASELESS)
        opts |= PCRE2_CASELESS;
    if (flags & CANH_PAT_DOTALL)
        opts |= PCRE2_DOTALL;
    if (flags & CANH_PAT_MULTILINE)
        opts |= PCRE2_MULTILINE;
    int ec;
    PCRE2_SIZE off;
    pcre2_code *c = pcre2_compile((PCRE2_SPTR)re, PCRE2_ZERO_TERMINATED, opts, &ec, &off, NULL);
    if (c) {
        pcre2_code_free(c);
        return CANH_OK;
    }
    PCRE2_UCHAR msg[256];
    pcre2_get_error_message(ec, msg, sizeof(msg));
    return refuse_at(b, line, "invalid regular expression for field %s at offset %zu: %s",
                     fname, (size_t)off, (const char *)msg);
}

/* A pattern atom for one token list (or EXISTS when it matches any value). */
static canh_node_t *pattern_node(rb_t *b, const toks_t *t, enum match_mode mode, unsigned flags,
                                 const char *field, int line)
{
    int any;
    uint32_t idx;
    char *re = toks_regex(t, mode, &flags, &any);
    if (!re && !any) {
        oom(b);
        return NULL;
    }
    if (any) {
        if (add_atom(b, CANH_ATOM_EXISTS, field, line, &idx))
            return NULL;
        return atom_node(b, idx);
    }
    if (add_atom(b, CANH_ATOM_PATTERN, field, line, &idx)) {
        free(re);
        return NULL;
    }
    b->r->atoms[idx].regex = re;
    b->r->atoms[idx].pat_flags = flags;
    return atom_node(b, idx);
}

static canh_node_t *or_of(rb_t *b, canh_node_op_t op, canh_node_t **kids, uint32_t n)
{
    if (n == 1)
        return kids[0];
    canh_node_t *x = canh_node_new(op, kids, n);
    if (!x) {
        for (uint32_t i = 0; i < n; i++)
            canh_node_free(kids[i]);
        oom(b);
    }
    return x;
}

/* Joins the nodes built so far (or frees them if building failed) and frees the array. */
static canh_node_t *join_kids(rb_t *b, canh_node_op_t op, canh_node_t **kids, size_t nk)
{
    canh_node_t *r = NULL;
    if (b->err) {
        for (size_t i = 0; i < nk; i++)
            canh_node_free(kids[i]);
    } else {
        r = or_of(b, op, kids, (uint32_t)nk);
    }
    free(kids);
    return r;
}

/*
 * One value of a field (or keyword) -> a node. `field` is the canh name,
 * `fname` the Sigma name for messages, `keyword` says the value is a
 * keyword (substring search unless a modifier says otherwise).
 */
/*
 * A `re` value: PCRE syntax as written, but NFC like every value, and with
 * leading (*UTF) / (*UTF8) / (*UCP) verbs taken as the UTF flag (canh picks
 * the mode itself: see CANH_PAT_UTF and CANH_PAT_REGEX). malloc'd.
 */
static char *regex_text(const char *s, size_t n, unsigned *flags)
{
    static const char *const verbs[] = { "(*UTF)", "(*UTF8)", "(*UCP)" };
    for (int again = 1; again;) {
        again = 0;
        for (size_t k = 0; k < CANH_ARRAY_LEN(verbs); k++) {
            size_t vl = strlen(verbs[k]);
            if (n >= vl && memcmp(s, verbs[k], vl) == 0) {
                s += vl;
                n -= vl;
                *flags |= CANH_PAT_UTF;
                again = 1;
            }
        }
    }
    if (canh_text_is_ascii(s, n))
        return strndup(s, n);
    *flags |= CANH_PAT_UTF;
    return canh_text_normalize_dup(s, n, 0, NULL);
}

static canh_node_t *value_node_in(rb_t *b, yaml_node_t *v, const mods_t *m, const char *field,
                                  const char *fname, int keyword);

static canh_node_t *value_node(rb_t *b, yaml_node_t *v, const mods_t *m, const char *field,
                               const char *fname, int keyword)
{
    size_t a0 = b->r->natoms;
    canh_node_t *n = value_node_in(b, v, m, field, fname, keyword);
    /* provenance: the key and the value as the rule wrote them */
    const char *key = b->cur_key && *b->cur_key != '|' ? b->cur_key : NULL;
    char kwkey[300];
    if (!key) {   /* a keyword list, or keywords with modifiers ("|re") */
        snprintf(kwkey, sizeof(kwkey), "keywords%s", b->cur_key ? b->cur_key : "");
        key = kwkey;
    }
    for (size_t a = a0; a < b->r->natoms; a++) {
        canh_atom_t *at = &b->r->atoms[a];
        at->keyword = keyword;
        if (n && v->type == YAML_SCALAR_NODE &&
            (!(at->sigma_field = strdup(key)) ||
             !(at->sigma_value = strndup(scalar(v), scalar_len(v)))))
            oom(b);
    }
    return n;
}

static canh_node_t *value_node_in(rb_t *b, yaml_node_t *v, const mods_t *m, const char *field,
                                  const char *fname, int keyword)
{
    int line = line_of(v);
    uint32_t idx;
    if (v->type != YAML_SCALAR_NODE) {
        refuse_at(b, line, "value of %s must be a string or number, not a %s", fname,
                  v->type == YAML_MAPPING_NODE ? "map" : "list");
        return NULL;
    }
    const char *s = scalar(v);
    size_t slen = scalar_len(v);

    if (is_null(v)) {
        if (m->mode_set || m->re || m->cidr || m->num || m->base64 || m->base64off ||
            m->windash || m->fieldref || m->exists || m->all) {
            refuse_at(b, line, "null value with modifiers on field %s", fname);
            return NULL;
        }
        if (keyword) {
            refuse_at(b, line, "null keyword");
            return NULL;
        }
        if (add_atom(b, CANH_ATOM_EMPTY, field, line, &idx))
            return NULL;
        return atom_node(b, idx);
    }
    if (m->exists) {
        int want;
        if (!strcasecmp(s, "true") || !strcasecmp(s, "yes"))
            want = 1;
        else if (!strcasecmp(s, "false") || !strcasecmp(s, "no"))
            want = 0;
        else {
            refuse_at(b, line, "'exists' on field %s needs true or false, not '%s'", fname, s);
            return NULL;
        }
        if (add_atom(b, CANH_ATOM_EXISTS, field, line, &idx))
            return NULL;
        canh_node_t *a = atom_node(b, idx);
        if (!a || want)
            return a;
        canh_node_t *neg = canh_node_new(CANH_NODE_NOT, &a, 1);
        if (!neg) {
            canh_node_free(a);
            oom(b);
        }
        return neg;
    }
    if (m->cidr) {
        canh_atom_t tmp;
        if (parse_cidr(s, &tmp.family, tmp.net, &tmp.prefix)) {
            refuse_at(b, line, "invalid network '%s' for cidr on field %s", s, fname);
            return NULL;
        }
        if (add_atom(b, CANH_ATOM_CIDR, field, line, &idx))
            return NULL;
        canh_atom_t *a = &b->r->atoms[idx];
        a->family = tmp.family;
        memcpy(a->net, tmp.net, 16);
        a->prefix = tmp.prefix;
        return atom_node(b, idx);
    }
    if (m->num) {
        char *end;
        errno = 0;
        double d = strtod(s, &end);
        if (!*s || *end || errno || !isfinite(d)) {
            refuse_at(b, line, "'%s' is not a number (field %s)", s, fname);
            return NULL;
        }
        if (add_atom(b, CANH_ATOM_NUM, field, line, &idx))
            return NULL;
        b->r->atoms[idx].op = m->op;
        b->r->atoms[idx].num = d;
        return atom_node(b, idx);
    }
    if (m->fieldref) {
        char *ref = NULL;
        char why[300];
        int rc = canh_fm_map_field(b->src, s, b->r->product, b->r->category, b->r->service,
                                   &ref, why, sizeof(why));
        if (rc) {
            if (rc == CANH_ENOMEM)
                oom(b);
            else
                refuse_at(b, line, "fieldref: %s", why);
            return NULL;
        }
        if (add_atom(b, CANH_ATOM_FIELDREF, field, line, &idx)) {
            free(ref);
            return NULL;
        }
        b->r->atoms[idx].ref_field = ref;
        b->r->atoms[idx].ref_field_id = (uint16_t)canh_field_lookup(ref, strlen(ref));
        return atom_node(b, idx);
    }
    if (m->re) {
        if (memchr(s, '\0', slen)) {
            refuse_at(b, line, "regular expression with a NUL byte on field %s", fname);
            return NULL;
        }
        unsigned flags = (m->re_i ? CANH_PAT_CASELESS : 0) | (m->re_m ? CANH_PAT_MULTILINE : 0) |
                         (m->re_s ? CANH_PAT_DOTALL : 0) | CANH_PAT_REGEX;
        char *re = regex_text(s, slen, &flags);
        if (!re) {
            oom(b);
            return NULL;
        }
        if (!*re) {
            free(re);
            refuse_at(b, line, "empty regular expression on field %s", fname);
            return NULL;
        }
        if (check_regex(b, re, flags, line, fname) || add_atom(b, CANH_ATOM_PATTERN, field, line, &idx)) {
            free(re);
            return NULL;
        }
        b->r->atoms[idx].regex = re;
        b->r->atoms[idx].pat_flags = flags;
        return atom_node(b, idx);
    }

    /* strings: wildcards, base64, windash, anchors */
    enum match_mode mode = m->mode_set ? m->mode : keyword ? M_CONTAINS : M_EQUAL;
    toks_t t = { 0 };
    if (!m->base64 && !m->base64off) {
        /* Compared as text: NFC, and unless `cased` after simple case
         * folding (engine/text.h); ASCII case is left to CASELESS. */
        unsigned flags = m->cased ? 0 : CANH_PAT_CASELESS | CANH_PAT_FOLD;
        char *norm = NULL;
        size_t nlen = slen;
        if (!canh_text_is_ascii(s, slen) &&
            !(norm = canh_text_normalize_dup(s, slen, !m->cased, &nlen))) {
            oom(b);
            return NULL;
        }
        if (parse_wild(norm ? norm : s, nlen, &t)) {
            free(norm);
            tk_free(&t);
            oom(b);
            return NULL;
        }
        free(norm);
        if (m->windash)
            mark_windash(&t);
        canh_node_t *n = pattern_node(b, &t, mode, flags, field, line);
        tk_free(&t);
        return n;
    }
    if (parse_wild(s, slen, &t)) {
        tk_free(&t);
        oom(b);
        return NULL;
    }
    if (has_wild(&t)) {
        tk_free(&t);
        refuse_at(b, line, "base64 of a value with wildcards is not possible (field %s)", fname);
        return NULL;
    }
    /* base64: the encodings are case-sensitive by nature */
    unsigned char *raw = malloc(t.n ? t.n : 1);
    if (!raw) {
        tk_free(&t);
        oom(b);
        return NULL;
    }
    memcpy(raw, t.ch, t.n);
    size_t rawn = t.n;
    tk_free(&t);
    char *var[3] = { 0 };
    size_t nvar = 0;
    int rc = b64_variants(raw, rawn, m->base64off, var, &nvar);
    free(raw);
    if (rc || nvar == 0) {
        for (size_t i = 0; i < nvar; i++)
            free(var[i]);
        if (rc)
            oom(b);
        else
            refuse_at(b, line, "value '%s' is too short for base64offset (field %s)", s, fname);
        return NULL;
    }
    canh_node_t *kids[3];
    uint32_t nk = 0;
    for (size_t i = 0; i < nvar; i++) {
        toks_t vt = { 0 };
        canh_node_t *k = NULL;
        if (!b->err && !parse_wild(var[i], strlen(var[i]), &vt)) {
            for (size_t j = 0; j < vt.n; j++)
                vt.kind[j] = TK_LIT;   /* '/' and '+' only; never wildcards */
            if (m->windash)
                mark_windash(&vt);
            k = pattern_node(b, &vt, mode, 0, field, line);
        } else if (!b->err) {
            oom(b);
        }
        tk_free(&vt);
        free(var[i]);
        if (k)
            kids[nk++] = k;
    }
    if (b->err) {
        for (uint32_t i = 0; i < nk; i++)
            canh_node_free(kids[i]);
        return NULL;
    }
    return or_of(b, CANH_NODE_OR, kids, nk);
}

/* ---------------------------------------------------------------- selections */

/* `Field|mod|mod: value(s)` -> a node. */
static canh_node_t *field_node_in(rb_t *b, yaml_node_t *k, yaml_node_t *v);

static canh_node_t *field_node(rb_t *b, yaml_node_t *k, yaml_node_t *v)
{
    b->cur_key = scalar(k);
    canh_node_t *n = field_node_in(b, k, v);
    b->cur_key = NULL;
    return n;
}

static canh_node_t *field_node_in(rb_t *b, yaml_node_t *k, yaml_node_t *v)
{
    const char *key = scalar(k);
    int kline = line_of(k);
    if (!key) {
        refuse_at(b, kline, "a selection key must be a field name");
        return NULL;
    }
    char *copy = strdup(key);
    char *parts[32];
    size_t nparts = 0;
    if (!copy) {
        oom(b);
        return NULL;
    }
    char *bar = strchr(copy, '|');
    if (bar) {
        *bar = '\0';
        char *p = bar + 1;
        for (;;) {
            char *nb = strchr(p, '|');
            if (nb)
                *nb = '\0';
            if (nparts == CANH_ARRAY_LEN(parts)) {
                free(copy);
                refuse_at(b, kline, "too many modifiers on '%s'", key);
                return NULL;
            }
            parts[nparts++] = p;
            if (!nb)
                break;
            p = nb + 1;
        }
    }
    const char *sname = copy;
    int keyword = !*sname;
    mods_t m;
    canh_node_t *result = NULL;
    char *field = NULL;
    if (parse_mods(b, parts, nparts, sname, kline, &m))
        goto out;
    if (keyword) {
        field = strdup(canh_fm_source_keywords(b->src));
        if (!field) {
            oom(b);
            goto out;
        }
    } else {
        char why[300];
        int rc = canh_fm_map_field(b->src, sname, b->r->product, b->r->category, b->r->service,
                                   &field, why, sizeof(why));
        if (rc == CANH_ENOMEM) {
            oom(b);
            goto out;
        }
        if (rc) {
            refuse_at(b, kline, "%s", why);
            goto out;
        }
    }
    const char *fname = keyword ? "(keywords)" : sname;
    if (v->type == YAML_SCALAR_NODE) {
        result = value_node(b, v, &m, field, fname, keyword);
        goto out;
    }
    if (v->type != YAML_SEQUENCE_NODE) {
        refuse_at(b, line_of(v), "value of %s must be a string, a number or a list, not a map", fname);
        goto out;
    }
    size_t n = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
    if (n == 0) {
        refuse_at(b, line_of(v), "empty value list for %s", fname);
        goto out;
    }
    if (m.exists && n != 1) {
        refuse_at(b, line_of(v), "'exists' on field %s takes one value", fname);
        goto out;
    }
    canh_node_t **kids = calloc(n, sizeof(*kids));
    if (!kids) {
        oom(b);
        goto out;
    }
    size_t nk = 0;
    for (size_t i = 0; i < n && !b->err; i++) {
        canh_node_t *x = value_node(b, node(b, v->data.sequence.items.start[i]), &m, field,
                                    fname, keyword);
        if (x)
            kids[nk++] = x;
    }
    if (b->err) {
        for (size_t i = 0; i < nk; i++)
            canh_node_free(kids[i]);
    } else {
        result = or_of(b, m.all ? CANH_NODE_AND : CANH_NODE_OR, kids, (uint32_t)nk);
    }
    free(kids);
out:
    free(field);
    free(copy);
    return result;
}

/* Room for the n parts of selection selname (a `what` at v); NULL, with the
 * rule refused, when it is empty or memory ran out. */
static canh_node_t **selection_kids(rb_t *b, size_t n, yaml_node_t *v, const char *selname,
                                   const char *what)
{
    if (n == 0) {
        refuse_at(b, line_of(v), "selection '%s' is an empty %s", selname, what);
        return NULL;
    }
    canh_node_t **kids = calloc(n, sizeof(*kids));
    if (!kids)
        oom(b);
    return kids;
}

static canh_node_t *map_node(rb_t *b, yaml_node_t *map, const char *selname)
{
    size_t n = (size_t)(map->data.mapping.pairs.top - map->data.mapping.pairs.start);
    canh_node_t **kids = selection_kids(b, n, map, selname, "map");
    if (!kids)
        return NULL;
    size_t nk = 0;
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top && !b->err; p++) {
        canh_node_t *x = field_node(b, node(b, p->key), node(b, p->value));
        if (x)
            kids[nk++] = x;
    }
    return join_kids(b, CANH_NODE_AND, kids, nk);
}

static canh_node_t *keyword_node(rb_t *b, yaml_node_t *v)
{
    mods_t m;
    memset(&m, 0, sizeof(m));
    return value_node(b, v, &m, canh_fm_source_keywords(b->src), "(keywords)", 1);
}

static canh_node_t *selection_node_in(rb_t *b, const char *name, yaml_node_t *v);

static canh_node_t *selection_node(rb_t *b, const char *name, yaml_node_t *v)
{
    b->cur_sel = name;
    canh_node_t *n = selection_node_in(b, name, v);
    b->cur_sel = NULL;
    return n;
}

static canh_node_t *selection_node_in(rb_t *b, const char *name, yaml_node_t *v)
{
    if (v->type == YAML_MAPPING_NODE)
        return map_node(b, v, name);
    if (v->type == YAML_SCALAR_NODE) {
        if (is_null(v)) {
            refuse_at(b, line_of(v), "selection '%s' is empty", name);
            return NULL;
        }
        return keyword_node(b, v);
    }
    size_t n = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
    canh_node_t **kids = selection_kids(b, n, v, name, "list");
    if (!kids)
        return NULL;
    size_t nk = 0;
    for (size_t i = 0; i < n && !b->err; i++) {
        yaml_node_t *it = node(b, v->data.sequence.items.start[i]);
        canh_node_t *x = NULL;
        if (it->type == YAML_MAPPING_NODE)
            x = map_node(b, it, name);
        else if (it->type == YAML_SCALAR_NODE)
            x = keyword_node(b, it);
        else
            refuse_at(b, line_of(it), "selection '%s' holds a nested list", name);
        if (x)
            kids[nk++] = x;
    }
    return join_kids(b, CANH_NODE_OR, kids, nk);
}

/* Drops atoms no condition path uses, and renumbers the rest. */
static void mark_atoms(const canh_node_t *n, uint32_t *map)
{
    if (n->op == CANH_NODE_ATOM)
        map[n->atom] = 1;
    for (uint32_t i = 0; i < n->nkids; i++)
        mark_atoms(n->kids[i], map);
}

static void renumber(canh_node_t *n, const uint32_t *map)
{
    if (n->op == CANH_NODE_ATOM)
        n->atom = map[n->atom];
    for (uint32_t i = 0; i < n->nkids; i++)
        renumber(n->kids[i], map);
}

static int compact_atoms(rb_t *b)
{
    canh_rule_t *r = b->r;
    if (!r->natoms)
        return CANH_OK;
    uint32_t *map = calloc(r->natoms, sizeof(*map));
    if (!map)
        return oom(b);
    mark_atoms(r->cond, map);
    size_t k = 0;
    for (size_t i = 0; i < r->natoms; i++) {
        if (map[i]) {
            map[i] = (uint32_t)k;
            r->atoms[k++] = r->atoms[i];
        } else {
            free(r->atoms[i].field);
            free(r->atoms[i].regex);
            free(r->atoms[i].ref_field);
            free(r->atoms[i].selection);
            free(r->atoms[i].sigma_field);
            free(r->atoms[i].sigma_value);
        }
    }
    r->natoms = k;
    renumber(r->cond, map);
    for (size_t i = 0; i < r->nsels; i++)   /* the condition uses all their atoms */
        renumber(r->sels[i].tree, map);
    free(map);
    return CANH_OK;
}

/*
 * The detection in the rule's own words, for explanations (rule.h): the
 * condition parsed once more with each selection standing for itself (an
 * ATOM leaf holding the selection's index), the selections it uses (their
 * trees move into the rule) and the condition's text. Only memory can make
 * it fail, and then the rule loads without it.
 */
static void keep_selections(rb_t *b, yaml_node_t *cond, canh_cond_sel_t *sels, size_t nsel)
{
    canh_rule_t *r = b->r;
    size_t n1 = nsel ? nsel : 1;
    canh_cond_sel_t *refs = calloc(n1, sizeof(*refs));
    uint32_t *map = calloc(n1, sizeof(*map));
    canh_node_t *parts[64];
    uint32_t np = 0;
    char why[256];
    sbuf_t text = { 0 };
    int ok = refs && map;
    for (size_t i = 0; ok && i < nsel; i++) {
        refs[i].name = sels[i].name;
        ok = (refs[i].tree = canh_node_atom((uint32_t)i)) != NULL;
    }
    yaml_node_t *one[1] = { cond };
    yaml_node_t **items = one;
    size_t nitems = 1;
    if (cond->type == YAML_SEQUENCE_NODE) {
        items = NULL;
        nitems = (size_t)(cond->data.sequence.items.top - cond->data.sequence.items.start);
    }
    for (size_t i = 0; ok && i < nitems && np < CANH_ARRAY_LEN(parts); i++) {
        yaml_node_t *cn = items ? items[i] : node(b, cond->data.sequence.items.start[i]);
        const char *t = scalar(cn);
        ok = t && canh_cond_parse(t, refs, nsel, &parts[np], why, sizeof(why)) == CANH_OK;
        if (!ok)
            break;
        np++;
        if (nitems > 1) {
            sb_str(&text, i ? " or (" : "(");
            sb_str(&text, t);
            sb_str(&text, ")");
        } else {
            sb_str(&text, t);
        }
    }
    canh_node_t *sc = NULL;
    if (ok && np) {
        sc = np == 1 ? parts[0] : canh_node_new(CANH_NODE_OR, parts, np);
        if (!sc)
            ok = 0;
        else
            np = 0;
    }
    if (ok && sc && !text.oom && text.p) {
        /* keep the selections the condition names, in the rule's order */
        size_t used = 0;
        mark_atoms(sc, map);
        for (size_t i = 0; i < nsel; i++)
            used += map[i] != 0;
        r->sels = calloc(used ? used : 1, sizeof(*r->sels));
        ok = r->sels != NULL;
        for (size_t i = 0, k = 0; ok && i < nsel; i++) {
            if (!map[i])
                continue;
            if (!(r->sels[k].name = strdup(sels[i].name))) {
                ok = 0;
                break;
            }
            r->sels[k].tree = (canh_node_t *)sels[i].tree;
            sels[i].tree = NULL;
            map[i] = (uint32_t)k;
            r->nsels = ++k;
        }
        if (ok) {
            renumber(sc, map);
            r->sel_cond = sc;
            r->condition = text.p;
            text.p = NULL;
            sc = NULL;
        }
    }
    canh_node_free(sc);
    for (uint32_t i = 0; i < np; i++)
        canh_node_free(parts[i]);
    for (size_t i = 0; refs && i < nsel; i++)
        canh_node_free((canh_node_t *)refs[i].tree);
    free(refs);
    free(map);
    free(text.p);
}

static int build_detection(rb_t *b, yaml_node_t *det)
{
    if (det->type != YAML_MAPPING_NODE)
        return refuse_at(b, line_of(det), "'detection' must be a map");
    size_t n = (size_t)(det->data.mapping.pairs.top - det->data.mapping.pairs.start);
    canh_cond_sel_t *sels = calloc(n ? n : 1, sizeof(*sels));
    if (!sels)
        return oom(b);
    size_t nsel = 0;
    yaml_node_t *cond = NULL;
    for (yaml_node_pair_t *p = det->data.mapping.pairs.start; p < det->data.mapping.pairs.top && !b->err; p++) {
        yaml_node_t *k = node(b, p->key), *v = node(b, p->value);
        const char *name = scalar(k);
        if (!name) {
            refuse_at(b, line_of(k), "detection keys must be names");
            break;
        }
        if (!strcmp(name, "condition")) {
            cond = v;
            continue;
        }
        if (!strcmp(name, "timeframe"))
            continue;   /* only meaningful with an aggregation, which is refused */
        canh_node_t *t = selection_node(b, name, v);
        if (t) {
            sels[nsel].name = name;
            sels[nsel].tree = t;
            nsel++;
        }
    }
    if (!b->err && !cond)
        refuse_at(b, line_of(det), "detection has no 'condition'");
    if (!b->err) {
        canh_node_t *parts[64];
        uint32_t np = 0;
        if (cond->type == YAML_SCALAR_NODE) {
            int rc = canh_cond_parse(scalar(cond), sels, nsel, &parts[0], b->why, sizeof(b->why));
            if (rc) {
                char tmp[sizeof(b->why)];
                memcpy(tmp, b->why, sizeof(tmp));
                refuse_at(b, line_of(cond), "%s", tmp);
            } else {
                np = 1;
            }
        } else if (cond->type == YAML_SEQUENCE_NODE) {
            for (yaml_node_item_t *it = cond->data.sequence.items.start;
                 it < cond->data.sequence.items.top && !b->err; it++) {
                yaml_node_t *cn = node(b, *it);
                if (!scalar(cn)) {
                    refuse_at(b, line_of(cn), "each condition in the list must be a string");
                    break;
                }
                if (np == CANH_ARRAY_LEN(parts)) {
                    refuse_at(b, line_of(cn), "too many conditions");
                    break;
                }
                char tmp[sizeof(b->why)];
                if (canh_cond_parse(scalar(cn), sels, nsel, &parts[np], tmp, sizeof(tmp)))
                    refuse_at(b, line_of(cn), "%s", tmp);
                else
                    np++;
            }
            if (!b->err && np == 0)
                refuse_at(b, line_of(cond), "condition list is empty");
        } else {
            refuse_at(b, line_of(cond), "'condition' must be a string or a list of strings");
        }
        if (b->err) {
            for (uint32_t i = 0; i < np; i++)
                canh_node_free(parts[i]);
        } else {
            b->r->cond = or_of(b, CANH_NODE_OR, parts, np);
        }
        if (!b->err)
            keep_selections(b, cond, sels, nsel);
    }
    for (size_t i = 0; i < nsel; i++)
        canh_node_free((canh_node_t *)sels[i].tree);
    free(sels);
    if (b->err)
        return b->err;
    return compact_atoms(b);
}

/* ---------------------------------------------------------------- filters */

/* The filter as one more selection of r, for explanations (see
 * sigma_int.h); its atoms (from atom0 on) are that selection's. */
static int filter_selection(canh_rule_t *r, const canh_node_t *fc, const char *filter_id,
                            const char *condition, size_t atom0)
{
    if (!r->sel_cond)
        return CANH_OK;   /* a rule made without selections explains nothing by them */
    canh_selection_t *v = realloc(r->sels, sizeof(*v) * (r->nsels + 1));
    if (!v)
        return CANH_ENOMEM;
    r->sels = v;
    char *name = NULL, *text = NULL;
    canh_node_t *tree = canh_node_copy(fc), *leaf = canh_node_atom((uint32_t)r->nsels), *both = NULL;
    if (asprintf(&name, "filter %s (%s)", filter_id, condition) >= 0 &&
        asprintf(&text, "(%s) and filter %s", r->condition ? r->condition : "", filter_id) >= 0 &&
        tree && leaf) {
        canh_node_t *kids[2] = { r->sel_cond, leaf };
        both = canh_node_new(CANH_NODE_AND, kids, 2);
    }
    if (!both) {
        free(name);
        free(text);
        canh_node_free(tree);
        if (leaf)
            canh_node_free(leaf);
        return CANH_ENOMEM;
    }
    for (size_t i = atom0; i < r->natoms; i++) {
        char *sel = strdup(name);
        if (sel) {
            free(r->atoms[i].selection);
            r->atoms[i].selection = sel;
        }
    }
    r->sels[r->nsels].name = name;
    r->sels[r->nsels].tree = tree;
    r->nsels++;
    r->sel_cond = both;
    free(r->condition);
    r->condition = text;
    return CANH_OK;
}

int canh_sigma_filter_rule(const canh_fieldmap_t *fm, canh_rule_t *r, yaml_document_t *d,
                           yaml_node_t *fmap, const char *condition, int cond_line,
                           const char *filter_id, char *why, size_t whylen, int *why_line)
{
    rb_t b;
    memset(&b, 0, sizeof(b));
    b.d = d;
    b.r = r;
    b.atom_cap = r->natoms;   /* the first new atom reallocs: the true size is unknown */
    b.src = canh_fieldmap_find(fm, r->product, r->category, r->service);
    *why_line = 0;
    if (!b.src || !r->cond || fmap->type != YAML_MAPPING_NODE) {
        snprintf(why, whylen, "the rule has no mapped log source or condition");
        return CANH_EINVAL;
    }
    size_t natoms0 = r->natoms;
    size_t n = (size_t)(fmap->data.mapping.pairs.top - fmap->data.mapping.pairs.start);
    canh_cond_sel_t *sels = calloc(n ? n : 1, sizeof(*sels));
    if (!sels)
        oom(&b);
    size_t nsel = 0;
    for (yaml_node_pair_t *p = fmap->data.mapping.pairs.start;
         sels && p < fmap->data.mapping.pairs.top && !b.err; p++) {
        const char *name = scalar(node(&b, p->key));
        if (!name || !strcmp(name, "rules") || !strcmp(name, "condition"))
            continue;   /* the filter loader checked the keys */
        canh_node_t *t = selection_node(&b, name, node(&b, p->value));
        if (t) {
            sels[nsel].name = name;
            sels[nsel].tree = t;
            nsel++;
        }
    }
    canh_node_t *fc = NULL;
    if (!b.err) {
        char tmp[sizeof(b.why)];
        if (canh_cond_parse(condition, sels, nsel, &fc, tmp, sizeof(tmp)))
            refuse_at(&b, cond_line, "%s", tmp);
    }
    for (size_t i = 0; i < nsel; i++)
        canh_node_free((canh_node_t *)sels[i].tree);
    free(sels);
    if (!b.err) {
        canh_node_t *kids[2] = { r->cond, fc };
        canh_node_t *both = canh_node_new(CANH_NODE_AND, kids, 2);
        if (both) {
            r->cond = both;
            /* out of memory here, the rule still has its filter; only its
             * explanation lacks it (and says DISAGREES) */
            (void)filter_selection(r, fc, filter_id, condition, natoms0);
        } else {
            oom(&b);
        }
    }
    if (b.err) {   /* the rule as it was: without the atoms built for the filter */
        canh_node_free(fc);
        for (size_t i = natoms0; i < r->natoms; i++) {
            free(r->atoms[i].field);
            free(r->atoms[i].regex);
            free(r->atoms[i].ref_field);
        }
        r->natoms = natoms0;
        snprintf(why, whylen, "%s", b.why);
        *why_line = b.why_line;
        return b.err;
    }
    compact_atoms(&b);   /* fails only out of memory, leaving unused atoms: harmless */
    return CANH_OK;
}

/* ---------------------------------------------------------------- metadata */

static int take_str(rb_t *b, yaml_node_t *v, const char *key, char **out)
{
    if (!scalar(v))
        return refuse_at(b, line_of(v), "'%s' must be a string", key);
    free(*out);
    *out = strdup(scalar(v));
    return *out ? CANH_OK : oom(b);
}

static int take_list(rb_t *b, yaml_node_t *v, const char *key, char ***out, size_t *n)
{
    for (size_t i = 0; i < *n; i++)   /* a key given twice: the last one wins */
        free((*out)[i]);
    free(*out);
    *out = NULL;
    *n = 0;
    if (v->type == YAML_SCALAR_NODE) {
        if (is_null(v))
            return CANH_OK;
        *out = calloc(1, sizeof(char *));
        if (!*out || !(**out = strdup(scalar(v))))
            return oom(b);
        *n = 1;
        return CANH_OK;
    }
    if (v->type != YAML_SEQUENCE_NODE)
        return refuse_at(b, line_of(v), "'%s' must be a list of strings", key);
    size_t cnt = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
    *out = calloc(cnt ? cnt : 1, sizeof(char *));
    if (!*out)
        return oom(b);
    for (size_t i = 0; i < cnt; i++) {
        yaml_node_t *it = node(b, v->data.sequence.items.start[i]);
        if (!scalar(it))
            return refuse_at(b, line_of(it), "'%s' must be a list of strings", key);
        (*out)[i] = strdup(scalar(it));
        if (!(*out)[i])
            return oom(b);
        *n = i + 1;
    }
    return CANH_OK;
}

static int take_logsource(rb_t *b, yaml_node_t *v)
{
    if (v->type != YAML_MAPPING_NODE)
        return refuse_at(b, line_of(v), "'logsource' must be a map");
    for (yaml_node_pair_t *p = v->data.mapping.pairs.start; p < v->data.mapping.pairs.top; p++) {
        const char *k = scalar(node(b, p->key));
        yaml_node_t *val = node(b, p->value);
        char **slot = !k ? NULL : !strcmp(k, "product") ? &b->r->product
                    : !strcmp(k, "category") ? &b->r->category
                    : !strcmp(k, "service") ? &b->r->service : NULL;
        if (!slot)
            continue;   /* definition and others */
        if (is_null(val))
            continue;
        if (take_str(b, val, k, slot))
            return b->err;
    }
    return CANH_OK;
}

static int take_canh(rb_t *b, yaml_node_t *v)
{
    if (v->type != YAML_MAPPING_NODE)
        return refuse_at(b, line_of(v), "'canh' must be a map");
    for (yaml_node_pair_t *p = v->data.mapping.pairs.start; p < v->data.mapping.pairs.top; p++) {
        yaml_node_t *k = node(b, p->key), *val = node(b, p->value);
        const char *key = scalar(k);
        if (!key || strcmp(key, "tests") != 0)
            return refuse_at(b, line_of(k), "unknown key '%s' under canh: (known: tests)",
                             key ? key : "?");
        if (val->type != YAML_MAPPING_NODE)
            return refuse_at(b, line_of(val), "'canh: tests' must be a map with match and nomatch");
        for (yaml_node_pair_t *q = val->data.mapping.pairs.start; q < val->data.mapping.pairs.top; q++) {
            yaml_node_t *tk = node(b, q->key), *tv = node(b, q->value);
            const char *tkey = scalar(tk);
            char ***out;
            size_t *n;
            if (tkey && !strcmp(tkey, "match")) {
                out = &b->r->match_samples;
                n = &b->r->nmatch_samples;
            } else if (tkey && !strcmp(tkey, "nomatch")) {
                out = &b->r->nomatch_samples;
                n = &b->r->nnomatch_samples;
            } else {
                return refuse_at(b, line_of(tk), "unknown key '%s' under canh: tests: (known: match, nomatch)",
                                 tkey ? tkey : "?");
            }
            if (*out)
                return refuse_at(b, line_of(tk), "'%s' given twice under canh: tests:", tkey);
            if (tv->type != YAML_SEQUENCE_NODE)
                return refuse_at(b, line_of(tv), "canh: tests: %s must be a list of log lines", tkey);
            if (take_list(b, tv, tkey, out, n))
                return b->err;
        }
    }
    return CANH_OK;
}

/* ---------------------------------------------------------------- documents */

typedef struct loader {
    const canh_fieldmap_t *fm;
    const char *file;
    canh_rulevec_t *out;
    canh_refuse_fn refuse;
    void *ud;
    size_t loaded, refused;
} loader_t;

static void report(loader_t *L, int line, const char *id, const char *reason)
{
    L->refused++;
    if (L->refuse)
        L->refuse(L->ud, L->file, line, id ? id : "-", reason);
}

/*
 * A top-level key that is a typo of `canh` (`Canh`, `cahn`, `canh_`), or
 * samples written without it (`tests: {match: ...}`): the rule's samples
 * would be ignored without a word, so the rule is refused instead. Sigma
 * lets rules carry keys of their own, but none of these.
 */
static int canh_typo(const char *key, const yaml_node_t *v)
{
    static const char want[] = "canh";
    size_t n = strlen(key);
    if (!strcmp(key, want))
        return 0;
    if (!strcasecmp(key, "tests") || !strcasecmp(key, "samples"))
        return v->type == YAML_MAPPING_NODE;
    if (n < 3 || n > 5)
        return 0;
    return canh_edit_distance(key, want) <= 1;   /* one edit from "canh", any case */
}

static int build_rule(rb_t *b, yaml_node_t *root, const loader_t *L)
{
    canh_rule_t *r = b->r;
    yaml_node_t *det = NULL, *ls = NULL, *level = NULL;
    int correlation = 0;
    if (root->type != YAML_MAPPING_NODE)
        return refuse_at(b, line_of(root), "a rule must be a YAML map");
    for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top; p++) {
        yaml_node_t *k = node(b, p->key), *v = node(b, p->value);
        const char *key = scalar(k);
        int rc = 0;
        if (!key)
            continue;
        if (!strcmp(key, "title")) {
            rc = take_str(b, v, key, &r->title);
            r->line = line_of(k);
        } else if (!strcmp(key, "id"))
            rc = take_str(b, v, key, &r->id);
        else if (!strcmp(key, "name"))
            rc = take_str(b, v, key, &r->name);
        else if (!strcmp(key, "status"))
            rc = take_str(b, v, key, &r->status);
        else if (!strcmp(key, "description"))
            rc = take_str(b, v, key, &r->description);
        else if (!strcmp(key, "author"))
            rc = take_str(b, v, key, &r->author);
        else if (!strcmp(key, "date"))
            rc = take_str(b, v, key, &r->date);
        else if (!strcmp(key, "modified"))
            rc = take_str(b, v, key, &r->modified);
        else if (!strcmp(key, "references"))
            rc = take_list(b, v, key, &r->references, &r->nreferences);
        else if (!strcmp(key, "tags"))
            rc = take_list(b, v, key, &r->tags, &r->ntags);
        else if (!strcmp(key, "falsepositives"))
            rc = take_list(b, v, key, &r->falsepositives, &r->nfalsepositives);
        else if (!strcmp(key, "level"))
            level = v;
        else if (!strcmp(key, "logsource"))
            ls = v;
        else if (!strcmp(key, "detection"))
            det = v;
        else if (!strcmp(key, "canh"))
            rc = take_canh(b, v);
        else if (!strcmp(key, "correlation"))
            correlation = 1;
        else if (!strcmp(key, "type") && scalar(v) && !strcmp(scalar(v), "correlation"))
            correlation = 1;
        else if (canh_typo(key, v))
            rc = refuse_at(b, line_of(k), "unknown key '%s': canh's samples go under "
                           "'canh: tests: {match: [...], nomatch: [...]}'", key);
        if (rc)
            return rc;
    }
    if (correlation)
        return refuse_at(b, r->line, "correlation rules are not supported yet");
    if (!r->title || !*r->title)
        return refuse_at(b, r->line, "rule has no 'title'");
    if (!r->id) {
        r->id = strdup(r->title);
        if (!r->id)
            return oom(b);
    }
    for (size_t i = 0; i < L->out->n; i++) {
        const canh_rule_t *o = L->out->v[i];
        if (o->id && !strcmp(o->id, r->id))
            return refuse_at(b, r->line, "duplicate id, first loaded from %s:%d", o->file, o->line);
    }
    if (!level)
        return refuse_at(b, r->line, "rule has no 'level' (informational, low, medium, high, critical)");
    r->level = canh_level_parse(scalar(level));
    if (r->level == CANH_LEVEL_NONE)
        return refuse_at(b, line_of(level), "unknown level '%s' (informational, low, medium, high, critical)",
                         scalar(level) ? scalar(level) : "?");
    if (!det)
        return refuse_at(b, r->line, "rule has no 'detection'");
    if (!ls)
        return refuse_at(b, r->line, "rule has no 'logsource'");
    if (take_logsource(b, ls))
        return b->err;
    b->src = canh_fieldmap_find(L->fm, r->product, r->category, r->service);
    if (!b->src) {
        char d[300];
        canh_logsource_describe(d, sizeof(d), r->product, r->category, r->service);
        return refuse_at(b, line_of(ls), "no field mapping for logsource %s", d);
    }
    r->datasets = canh_fm_source_datasets(b->src);
    return build_detection(b, det);
}

static void load_document(loader_t *L, yaml_document_t *d, yaml_node_t *root)
{
    rb_t b;
    memset(&b, 0, sizeof(b));
    b.d = d;
    b.r = calloc(1, sizeof(*b.r));
    if (!b.r) {
        report(L, line_of(root), "-", "out of memory");
        return;
    }
    b.r->line = line_of(root);
    b.r->file = strdup(L->file);
    if (!b.r->file)
        oom(&b);
    else
        build_rule(&b, root, L);
    if (!b.err && canh_rulevec_push(L->out, b.r))
        oom(&b);
    if (b.err) {
        report(L, b.why_line ? b.why_line : b.r->line, b.r->id, b.why);
        canh_rule_free(b.r);
        return;
    }
    L->loaded++;
}

static void load_yaml(loader_t *L, const char *yaml, size_t len)
{
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser)) {
        report(L, 0, "-", "out of memory");
        return;
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)yaml, len);
    for (;;) {
        yaml_document_t doc;
        if (!yaml_parser_load(&parser, &doc)) {
            char msg[512];
            int line = (int)parser.problem_mark.line + 1;
            if (parser.context)
                snprintf(msg, sizeof(msg), "YAML error: %s %s at line %d", parser.context,
                         parser.problem ? parser.problem : "", line);
            else
                snprintf(msg, sizeof(msg), "YAML error: %s at line %d",
                         parser.problem ? parser.problem : "unknown problem", line);
            report(L, line, "-", msg);
            break;
        }
        yaml_node_t *root = yaml_document_get_root_node(&doc);
        if (!root) {
            yaml_document_delete(&doc);
            break;
        }
        if (canh_filter_is_document(&doc, root)) {
            canh_filter_load(&doc, root, L->file, L->out, L->refuse, L->ud);   /* takes doc */
            continue;
        }
        if (!(root->type == YAML_SCALAR_NODE && is_null(root)))
            load_document(L, &doc, root);
        yaml_document_delete(&doc);
    }
    yaml_parser_delete(&parser);
}

int canh_sigma_load_string(const canh_fieldmap_t *fm, const char *yaml, size_t len,
                           const char *name, canh_rulevec_t *out,
                           canh_refuse_fn refuse, void *ud,
                           size_t *loaded, size_t *refused)
{
    if (!fm || !yaml || !out)
        return CANH_EINVAL;
    loader_t L = { .fm = fm, .file = name ? name : "-", .out = out, .refuse = refuse, .ud = ud };
    load_yaml(&L, yaml, len);
    if (loaded)
        *loaded += L.loaded;
    if (refused)
        *refused += L.refused;
    return CANH_OK;
}

/* ---------------------------------------------------------------- files */

static int read_file(const char *path, char **buf, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return errno == ENOENT ? CANH_ENOENT : CANH_EIO;
    size_t cap = 8192, n = 0;
    char *p = malloc(cap);
    if (!p) {
        fclose(f);
        return CANH_ENOMEM;
    }
    for (;;) {
        if (n == cap) {
            char *q = realloc(p, cap * 2);
            if (!q) {
                free(p);
                fclose(f);
                return CANH_ENOMEM;
            }
            p = q;
            cap *= 2;
        }
        size_t k = fread(p + n, 1, cap - n, f);
        n += k;
        if (k == 0)
            break;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(p);
        return CANH_EIO;
    }
    *buf = p;
    *len = n;
    return CANH_OK;
}

static int has_rule_ext(const char *name)
{
    size_t n = strlen(name);
    return (n > 4 && !strcmp(name + n - 4, ".yml")) || (n > 5 && !strcmp(name + n - 5, ".yaml"));
}

static int load_file(loader_t *L, const char *path, char *err, size_t errlen)
{
    char *buf;
    size_t len;
    errno = 0;
    int rc = read_file(path, &buf, &len);
    if (rc) {
        snprintf(err, errlen, "%s: cannot read: %s", path,
                 rc == CANH_ENOMEM ? "out of memory" : strerror(errno ? errno : EIO));
        return rc;
    }
    L->file = path;
    load_yaml(L, buf, len);
    free(buf);
    return CANH_OK;
}

static int dir_file(void *ud, const char *path, char *err, size_t errlen)
{
    return load_file(ud, path, err, errlen);
}

static void dir_unreadable(void *ud, const char *path, const char *err)
{
    loader_t *L = ud;
    L->file = path;
    report(L, 0, "-", err);
}

int canh_sigma_load_path(const canh_fieldmap_t *fm, const char *path,
                         canh_rulevec_t *out, canh_refuse_fn refuse, void *ud,
                         size_t *loaded, size_t *refused, char *err, size_t errlen)
{
    if (errlen)
        err[0] = '\0';
    if (!fm || !path || !out) {
        snprintf(err, errlen, "canh_sigma_load_path: missing argument");
        return CANH_EINVAL;
    }
    loader_t L = { .fm = fm, .file = path, .out = out, .refuse = refuse, .ud = ud };
    struct stat st;
    int rc;
    if (stat(path, &st) != 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        rc = errno == ENOENT ? CANH_ENOENT : CANH_EIO;
    } else if (S_ISDIR(st.st_mode)) {
        rc = canh_walk_files(path, has_rule_ext, dir_file, dir_unreadable, &L, err, errlen);
    } else {
        rc = load_file(&L, path, err, errlen);
    }
    if (loaded)
        *loaded += L.loaded;
    if (refused)
        *refused += L.refused;
    return rc;
}
