/*
 * sinks/json.h -- a small JSON writer for alerts and stats.
 *
 * Output is always valid JSON and valid UTF-8, whatever bytes come in:
 * well-formed UTF-8 passes through, control characters are escaped, and
 * each byte that is not part of well-formed UTF-8 becomes U+FFFD (the
 * caller is told how many, so it can add the exact bytes in base64).
 *
 * canh_jobj_* builds one object from dotted ECS names ("source.ip") and
 * writes it nested ({"source":{"ip":..}}); a repeated name becomes an array.
 * No key of the output holds a dot: if a name is both a value and a parent
 * ("a.b" and "a.b.c"), its values are written as the member "_value" of
 * the object ("a":{"b":{"_value":..,"c":..}}), so nothing is lost and an
 * index that reads dots as paths (Elasticsearch, OpenSearch) takes it.
 * (The one case left: when _value is itself a parent 64 times over, the
 * children of the last are left out rather than written dotted; names
 * from input are at most 16 segments deep, see canh_field_path_write.)
 *
 * Ownership: a canh_buf_t owns its bytes; a canh_jobj_t borrows the names
 * and string values added to it until it is written or reset.
 * Thread: one buffer/object per thread.
 */
#ifndef CANH_JSON_H
#define CANH_JSON_H

#include "../engine/canh.h"

typedef struct canh_buf {
    char *ptr;
    size_t len, cap;
    int oom;        /* set once an allocation failed; later writes are dropped */
} canh_buf_t;

void canh_buf_init(canh_buf_t *b);
void canh_buf_free(canh_buf_t *b);
void canh_buf_reset(canh_buf_t *b);
void canh_buf_put(canh_buf_t *b, const void *p, size_t n);
void canh_buf_puts(canh_buf_t *b, const char *s);
void canh_buf_putc_slow(canh_buf_t *b, char c);
static inline void canh_buf_putc(canh_buf_t *b, char c)
{
    if (b->len < b->cap)
        b->ptr[b->len++] = c;
    else
        canh_buf_putc_slow(b, c);
}
void canh_buf_printf(canh_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Writes a quoted, escaped JSON string; returns the number of bytes replaced by U+FFFD. */
size_t canh_json_put_string(canh_buf_t *b, const char *s, size_t n);
/* Writes s as a JSON number if it is one (JSON grammar), else as a string. */
void canh_json_put_number_or_string(canh_buf_t *b, const char *s, size_t n);
/* 1 if [s, s+n) is well-formed UTF-8. */
int canh_utf8_valid(const char *s, size_t n);
/* Base64 (RFC 4648, padded) of the bytes, appended unquoted. */
void canh_base64_put(canh_buf_t *b, const unsigned char *s, size_t n);

/* STRING: escaped; NUMBER: as it is if a JSON number, else a string; RAW:
 * trusted JSON; MEMBERS: trusted members ("k":v,...) of the object of
 * this name, written in it first (its keys must not be the names of the
 * object's other entries): a part that is the same for many objects,
 * rendered once, without an entry (and a sort) per member. */
typedef enum { CANH_JV_STRING, CANH_JV_NUMBER, CANH_JV_RAW, CANH_JV_MEMBERS } canh_jv_kind_t;

typedef struct canh_jentry {
    const char *name;   size_t name_len;
    const char *val;    size_t val_len;
    canh_jv_kind_t kind;
    uint32_t order;       /* insertion order, for a stable sort */
} canh_jentry_t;

typedef struct canh_jobj {
    canh_jentry_t *v;
    size_t n, cap;
    void *names;          /* names made by the writer (NAME._value), if any */
} canh_jobj_t;

void canh_jobj_init(canh_jobj_t *o);
void canh_jobj_free(canh_jobj_t *o);
void canh_jobj_reset(canh_jobj_t *o);
int  canh_jobj_add(canh_jobj_t *o, const char *name, size_t name_len,
                   const char *val, size_t val_len, canh_jv_kind_t kind);
static inline int canh_jobj_adds(canh_jobj_t *o, const char *name, const char *val)
{
    return canh_jobj_add(o, name, strlen(name), val, strlen(val), CANH_JV_STRING);
}
/* Sorts and writes the object. Returns the count of bytes replaced by U+FFFD. */
size_t canh_jobj_write(canh_jobj_t *o, canh_buf_t *b);
/* Same, with members already rendered ("k":v,...) written first (m1, then
 * m2; either may be empty); the caller guarantees that their top-level
 * names are not among the object's, nor each other's. */
size_t canh_jobj_write_with(canh_jobj_t *o, canh_buf_t *b, const char *m1, size_t l1,
                            const char *m2, size_t l2);

#endif
