/*
 * sinks/json.c -- JSON writing: growable buffers, safe string escaping,
 * and nested objects from dotted names. See json.h for the contract.
 *
 * Thread: whichever thread owns the buffer (the scan thread, a sink thread).
 */
#include "json.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

void canh_buf_init(canh_buf_t *b)
{
    b->ptr = NULL;
    b->len = b->cap = 0;
    b->oom = 0;
}

void canh_buf_free(canh_buf_t *b)
{
    free(b->ptr);
    canh_buf_init(b);
}

void canh_buf_reset(canh_buf_t *b)
{
    b->len = 0;
}

static int buf_reserve(canh_buf_t *b, size_t extra)
{
    if (b->oom)
        return 0;
    if (b->len + extra <= b->cap)
        return 1;
    size_t cap = b->cap ? b->cap : 1024;
    while (cap < b->len + extra)
        cap *= 2;
    char *p = realloc(b->ptr, cap);
    if (!p) {
        b->oom = 1;
        return 0;
    }
    b->ptr = p;
    b->cap = cap;
    return 1;
}

void canh_buf_put(canh_buf_t *b, const void *p, size_t n)
{
    if (!buf_reserve(b, n))
        return;
    memcpy(b->ptr + b->len, p, n);
    b->len += n;
}

void canh_buf_puts(canh_buf_t *b, const char *s)
{
    canh_buf_put(b, s, strlen(s));
}

void canh_buf_putc_slow(canh_buf_t *b, char c)
{
    if (!buf_reserve(b, 1))
        return;
    b->ptr[b->len++] = c;
}

void canh_buf_printf(canh_buf_t *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || !buf_reserve(b, (size_t)n + 1))
        return;
    va_start(ap, fmt);
    vsnprintf(b->ptr + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

/* Length of the well-formed UTF-8 sequence at s (1..4), or 0 if ill-formed. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        return n >= 2 && (s[1] & 0xc0) == 0x80 ? 2 : 0;
    if (c >= 0xe0 && c <= 0xef) {
        if (n < 3 || (s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80)
            return 0;
        if (c == 0xe0 && s[1] < 0xa0)   /* overlong */
            return 0;
        if (c == 0xed && s[1] > 0x9f)   /* surrogates */
            return 0;
        return 3;
    }
    if (c >= 0xf0 && c <= 0xf4) {
        if (n < 4 || (s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80 || (s[3] & 0xc0) != 0x80)
            return 0;
        if (c == 0xf0 && s[1] < 0x90)   /* overlong */
            return 0;
        if (c == 0xf4 && s[1] > 0x8f)   /* above U+10FFFF */
            return 0;
        return 4;
    }
    return 0;
}

int canh_utf8_valid(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s, *end = p + n;
    while (p < end) {
        size_t k = utf8_seq(p, (size_t)(end - p));
        if (!k)
            return 0;
        p += k;
    }
    return 1;
}

/* 1 for bytes that need more than a copy: controls, '"', '\\', DEL, non-ASCII. */
static const uint8_t needs_care[256] = {
    [0 ... 0x1f] = 1, ['"'] = 1, ['\\'] = 1, [0x7f ... 0xff] = 1,
};

size_t canh_json_put_string(canh_buf_t *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)s, *end = p + n;
    size_t bad = 0;

    if (!buf_reserve(b, n + 2))
        return 0;
    canh_buf_putc(b, '"');
    while (p < end) {
        /* Copy the longest run that needs no escaping in one go. */
        const unsigned char *run = p;
        while (p < end && !needs_care[*p])
            p++;
        if (p > run)
            canh_buf_put(b, run, (size_t)(p - run));
        if (p >= end)
            break;
        unsigned c = *p;
        if (c == '"' || c == '\\') {
            char esc[2] = { '\\', (char)c };
            canh_buf_put(b, esc, 2);
            p++;
        } else if (c < 0x20 || c == 0x7f) {
            char esc[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] };
            switch (c) {
            case '\n': canh_buf_put(b, "\\n", 2); break;
            case '\r': canh_buf_put(b, "\\r", 2); break;
            case '\t': canh_buf_put(b, "\\t", 2); break;
            default:   canh_buf_put(b, esc, 6); break;
            }
            p++;
        } else {
            size_t k = utf8_seq(p, (size_t)(end - p));
            if (k) {
                canh_buf_put(b, p, k);
                p += k;
            } else {
                canh_buf_put(b, "\xef\xbf\xbd", 3);   /* U+FFFD */
                bad++;
                p++;
            }
        }
    }
    canh_buf_putc(b, '"');
    return bad;
}

/* JSON number grammar: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static int is_json_number(const char *s, size_t n)
{
    size_t i = 0;
    if (i < n && s[i] == '-')
        i++;
    if (i >= n)
        return 0;
    if (s[i] == '0')
        i++;
    else if (s[i] >= '1' && s[i] <= '9')
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
    else
        return 0;
    if (i < n && s[i] == '.') {
        size_t d = ++i;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
        if (i == d)
            return 0;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-'))
            i++;
        size_t d = i;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
        if (i == d)
            return 0;
    }
    return i == n;
}

void canh_json_put_number_or_string(canh_buf_t *b, const char *s, size_t n)
{
    if (is_json_number(s, n))
        canh_buf_put(b, s, n);
    else
        canh_json_put_string(b, s, n);
}

void canh_base64_put(canh_buf_t *b, const unsigned char *s, size_t n)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    if (!buf_reserve(b, (n + 2) / 3 * 4))
        return;
    size_t i = 0;
    for (; i + 2 < n; i += 3) {
        unsigned v = (unsigned)s[i] << 16 | (unsigned)s[i + 1] << 8 | s[i + 2];
        char o[4] = { tab[v >> 18], tab[(v >> 12) & 63], tab[(v >> 6) & 63], tab[v & 63] };
        canh_buf_put(b, o, 4);
    }
    if (i < n) {
        unsigned v = (unsigned)s[i] << 16 | (i + 1 < n ? (unsigned)s[i + 1] << 8 : 0);
        char o[4] = { tab[v >> 18], tab[(v >> 12) & 63],
                      i + 1 < n ? tab[(v >> 6) & 63] : '=', '=' };
        canh_buf_put(b, o, 4);
    }
}

static void free_names(canh_jobj_t *o);

void canh_jobj_init(canh_jobj_t *o)
{
    o->v = NULL;
    o->n = o->cap = 0;
    o->names = NULL;
}

void canh_jobj_free(canh_jobj_t *o)
{
    free(o->v);
    free_names(o);
    canh_jobj_init(o);
}

void canh_jobj_reset(canh_jobj_t *o)
{
    o->n = 0;
    free_names(o);
}

int canh_jobj_add(canh_jobj_t *o, const char *name, size_t name_len,
                  const char *val, size_t val_len, canh_jv_kind_t kind)
{
    if (o->n == o->cap) {
        size_t cap = o->cap ? o->cap * 2 : 64;
        canh_jentry_t *v = realloc(o->v, cap * sizeof(*v));
        if (!v)
            return CANH_ENOMEM;
        o->v = v;
        o->cap = cap;
    }
    canh_jentry_t *e = &o->v[o->n];
    e->name = name;
    e->name_len = name_len;
    e->val = val;
    e->val_len = val_len;
    e->kind = kind;
    e->order = (uint32_t)o->n++;
    return CANH_OK;
}

/*
 * Name order: byte by byte, where the end of a name sorts first and '.'
 * right after it, before every byte value ("a" < "a.x" < "a-b"), so that
 * all names under one dotted prefix stay together. A rank of 0 (end),
 * 1 ('.') or byte + 2 keeps that a total order on any bytes.
 */
static inline unsigned name_rank(const canh_jentry_t *e, size_t i)
{
    if (i >= e->name_len)
        return 0;
    unsigned char c = (unsigned char)e->name[i];
    return c == '.' ? 1 : c + 2u;
}

/* Ranks [from, from + 7) packed in 9 bits each. */
static uint64_t name_key(const canh_jentry_t *e, size_t from)
{
    uint64_t k = 0;
    for (size_t i = from; i < from + 7; i++)
        k = k << 9 | name_rank(e, i);
    return k;
}

static int name_cmp(const canh_jentry_t *a, const canh_jentry_t *b)
{
    size_t n = (a->name_len > b->name_len ? a->name_len : b->name_len) + 1;
    for (size_t i = 0; i < n; i++) {
        unsigned x = name_rank(a, i), y = name_rank(b, i);
        if (x != y)
            return x < y ? -1 : 1;
    }
    return a->order < b->order ? -1 : a->order > b->order;
}

/* Keys of the first 14 ranks ("log.syslog.fac..."): most comparisons end there. */
typedef struct sort_item {
    uint64_t key, key2;
    const canh_jentry_t *e;
} sort_item_t;

static int item_less(const sort_item_t *a, const sort_item_t *b)
{
    if (a->key != b->key)
        return a->key < b->key;
    if (a->key2 != b->key2)
        return a->key2 < b->key2;
    return name_cmp(a->e, b->e) < 0;
}

/* Stable merge sort of v[0..n) using tmp[0..n). */
static void sort_items(sort_item_t *v, sort_item_t *tmp, size_t n)
{
    if (n < 2)
        return;
    size_t h = n / 2;
    sort_items(v, tmp, h);
    sort_items(v + h, tmp, n - h);
    if (!item_less(&v[h], &v[h - 1]))
        return;   /* already in order */
    size_t i = 0, j = h, k = 0;
    while (i < h && j < n)
        tmp[k++] = item_less(&v[j], &v[i]) ? v[j++] : v[i++];
    while (i < h)
        tmp[k++] = v[i++];
    memcpy(v, tmp, sizeof(*v) * k);   /* the tail v[j..n) is in place */
}

static size_t put_value(canh_buf_t *b, const canh_jentry_t *e)
{
    switch (e->kind) {
    case CANH_JV_NUMBER:
        canh_json_put_number_or_string(b, e->val, e->val_len);
        return 0;
    case CANH_JV_RAW:
        canh_buf_put(b, e->val, e->val_len);
        return 0;
    default:
        return canh_json_put_string(b, e->val, e->val_len);
    }
}

static int same_name(const canh_jentry_t *a, const canh_jentry_t *b)
{
    return a->name_len == b->name_len && memcmp(a->name, b->name, a->name_len) == 0;
}

/* Writes the values of v[i..j) (all with the same name): one value or an array. */
static size_t put_run(canh_buf_t *b, const canh_jentry_t *v, size_t i, size_t j)
{
    size_t bad = 0;
    if (j - i == 1)
        return put_value(b, &v[i]);
    canh_buf_putc(b, '[');
    for (size_t k = i; k < j; k++) {
        if (k > i)
            canh_buf_putc(b, ',');
        bad += put_value(b, &v[k]);
    }
    canh_buf_putc(b, ']');
    return bad;
}

static size_t seg_end(const canh_jentry_t *e, size_t off)
{
    const char *d = memchr(e->name + off, '.', e->name_len - off);
    return d ? (size_t)(d - e->name) : e->name_len;
}

static size_t put_members(canh_buf_t *b, const canh_jentry_t *v, size_t lo, size_t hi,
                          size_t off, int first, int *clash);

/* Writes v[lo..hi) as one object; every name there shares the first `off`
 * bytes. Pre-rendered members of it, v[lo..mend) (CANH_JV_MEMBERS), go
 * first. */
static size_t put_object(canh_buf_t *b, const canh_jentry_t *v, size_t lo, size_t mend,
                         size_t hi, size_t off, int *clash)
{
    int first = 1;
    canh_buf_putc(b, '{');
    for (size_t k = lo; k < mend; k++)
        if (v[k].val_len) {
            if (!first)
                canh_buf_putc(b, ',');
            canh_buf_put(b, v[k].val, v[k].val_len);
            first = 0;
        }
    size_t bad = put_members(b, v, mend, hi, off, first, clash);
    canh_buf_putc(b, '}');
    return bad;
}

/*
 * Writes the members of v[lo..hi) ("k":v,...), a comma first unless
 * `first`. A name both a value and a parent sets *clash and stops (the
 * caller renames and writes again, see value_clashes); with clash NULL
 * (when renaming gave up) its children are left out.
 */
static size_t put_members(canh_buf_t *b, const canh_jentry_t *v, size_t lo, size_t hi,
                          size_t off, int first, int *clash)
{
    size_t bad = 0;
    for (size_t i = lo; i < hi;) {
        size_t se = seg_end(&v[i], off), slen = se - off;
        /* v[j] shares the segment if it has the same bytes there and then
         * ends or goes on with '.' (the segment itself holds no '.') */
        size_t j = i + 1;
        while (j < hi && v[j].name_len >= se &&
               (v[j].name_len == se || v[j].name[se] == '.') &&
               memcmp(v[j].name + off, v[i].name + off, slen) == 0)
            j++;
        /* [i, j) share this segment; leaves (name ends here) sort first. */
        /* [i, leaves): entries of this very name, values or members */
        size_t leaves = i, members = 0;
        while (leaves < j && v[leaves].name_len == se)
            members += v[leaves++].kind == CANH_JV_MEMBERS;
        int object = members || leaves < j, values = members < leaves - i;
        if (object && values) {   /* a value and a parent */
            if (clash) {
                *clash = 1;
                return bad;
            }
            i = j;   /* renaming gave up: left out */
            continue;
        }
        if (!first)
            canh_buf_putc(b, ',');
        first = 0;
        bad += canh_json_put_string(b, v[i].name + off, slen);
        canh_buf_putc(b, ':');
        if (object)
            bad += put_object(b, v, i, leaves, j, se + 1, clash);
        else
            bad += put_run(b, v, i, leaves);
        if (clash && *clash)
            return bad;
        i = j;
    }
    return bad;
}

/* Sorts o's entries by name (stable); on allocation failure sets b->oom. */
static void sort_entries(canh_jobj_t *o, canh_buf_t *b)
{
    /* Sort by prefix key (one integer compare, mostly), then permute. An
     * alert has a few dozen names: the buffers live on the stack. */
    sort_item_t stack_items[2 * 128], *items = stack_items;
    canh_jentry_t stack_sorted[128], *sorted = stack_sorted;
    if (o->n > 128) {
        items = malloc(sizeof(*items) * 2 * o->n);
        sorted = malloc(sizeof(*sorted) * o->n);
        if (!items || !sorted) {
            free(items);
            free(sorted);
            b->oom = 1;
            return;
        }
    }
    for (size_t i = 0; i < o->n; i++)
        items[i] = (sort_item_t){ name_key(&o->v[i], 0), name_key(&o->v[i], 7), &o->v[i] };
    sort_items(items, items + o->n, o->n);
    for (size_t i = 0; i < o->n; i++)
        sorted[i] = *items[i].e;
    memcpy(o->v, sorted, sizeof(*sorted) * o->n);
    if (items != stack_items) {
        free(items);
        free(sorted);
    }
}

size_t canh_jobj_write(canh_jobj_t *o, canh_buf_t *b)
{
    return canh_jobj_write_with(o, b, NULL, 0, NULL, 0);
}

/* Whether b's name is under a's ("a.b" under "a"). */
static int is_under(const canh_jentry_t *b, const canh_jentry_t *a)
{
    return b->name_len > a->name_len && b->name[a->name_len] == '.' &&
           memcmp(b->name, a->name, a->name_len) == 0;
}

/* Marks (clash[i] = 1) every sorted value whose name is also a parent:
 * the names under it sort right after its own run of entries, or the run
 * holds pre-rendered members of an object of that name. Returns the bytes
 * their new names need (0: none). */
static size_t find_clashes(const canh_jentry_t *v, size_t n, uint8_t *clash, size_t suffix)
{
    size_t need = 0;
    for (size_t i = 0; i < n;) {
        size_t k = i + 1;
        int members = v[i].kind == CANH_JV_MEMBERS;
        while (k < n && same_name(&v[k], &v[i]))
            members |= v[k++].kind == CANH_JV_MEMBERS;
        int c = members || (k < n && is_under(&v[k], &v[i]));
        for (size_t j = i; j < k; j++) {
            clash[j] = (uint8_t)(c && v[j].kind != CANH_JV_MEMBERS);
            need += clash[j] ? v[j].name_len + suffix : 0;
        }
        i = k;
    }
    return need;
}

/* A block of names made by value_clashes, freed with the object's entries. */
typedef struct name_block {
    struct name_block *next;
    char data[];
} name_block_t;

static void free_names(canh_jobj_t *o)
{
    for (name_block_t *k = o->names, *next; k; k = next) {
        next = k->next;
        free(k);
    }
    o->names = NULL;
}

/*
 * Renames every value whose name is also a parent to NAME._value (which
 * sorts among NAME's children) and sorts again, until no name is both: so
 * no key of the output needs a dot. Sorted input; the common case (no
 * clash) costs one pass. On allocation failure sets b->oom.
 */
static void value_clashes(canh_jobj_t *o, canh_buf_t *b)
{
    static const char suffix[] = "._value";
    uint8_t stack_clash[256], *clash = stack_clash;
    if (o->n > sizeof(stack_clash) && !(clash = malloc(o->n))) {
        b->oom = 1;
        return;
    }
    for (int round = 0; round < 64 && !b->oom; round++) {
        size_t need = find_clashes(o->v, o->n, clash, sizeof(suffix) - 1);
        if (!need)
            break;
        name_block_t *k = malloc(sizeof(*k) + need);
        if (!k) {
            b->oom = 1;
            break;
        }
        k->next = o->names;
        o->names = k;
        char *d = k->data;
        for (size_t i = 0; i < o->n; i++)
            if (clash[i]) {
                canh_jentry_t *e = &o->v[i];
                memcpy(d, e->name, e->name_len);
                memcpy(d + e->name_len, suffix, sizeof(suffix) - 1);
                e->name = d;
                e->name_len += sizeof(suffix) - 1;
                d += e->name_len;
            }
        sort_entries(o, b);
    }
    if (clash != stack_clash)
        free(clash);
}

size_t canh_jobj_write_with(canh_jobj_t *o, canh_buf_t *b, const char *m1, size_t l1,
                            const char *m2, size_t l2)
{
    sort_entries(o, b);
    size_t start = b->len, bad;
    int clash = 0;
    for (int pass = 0;; pass++) {
        canh_buf_putc(b, '{');
        if (l1)
            canh_buf_put(b, m1, l1);
        if (l1 && l2)
            canh_buf_putc(b, ',');
        if (l2)
            canh_buf_put(b, m2, l2);
        bad = put_members(b, o->v, 0, o->n, 0, l1 + l2 == 0, pass ? NULL : &clash);
        if (!clash || pass)
            break;
        /* a name is both a value and a parent (rare): rename, write again */
        b->len = start;
        value_clashes(o, b);
    }
    canh_buf_putc(b, '}');
    return bad;
}
