/*
 * engine/event.c -- the static field table, dataset names, and the event
 * accessors. Field lookup by name uses a small open-addressing table built
 * once at start (canh_field_lookup is called by parsers for JSON/kv keys).
 *
 * Thread: the tables are filled at start-up (first call, or fieldmap load)
 * and read-only afterwards; events belong to one thread.
 */
#include "event.h"

#include <arpa/inet.h>
#include <pthread.h>
#include <stdlib.h>

static const struct {
    const char *name;
    uint8_t len;
    char type;          /* 'K', 'L', 'I' */
    uint8_t payload;    /* a payload key of this name may set it */
} field_table[CANH_F__COUNT] = {
#define CANH_X_TAB(e, name, type, payload) { name, sizeof(name) - 1, #type[0], #payload[0] == 'P' },
    CANH_FIELDS(CANH_X_TAB)
#undef CANH_X_TAB
};

const char *canh_field_name(canh_field_id_t id)
{
    return id < CANH_F__COUNT ? field_table[id].name : NULL;
}

int canh_field_is_number(canh_field_id_t id)
{
    return id < CANH_F__COUNT && field_table[id].type == 'L';
}

char canh_field_type(canh_field_id_t id)
{
    return id < CANH_F__COUNT ? field_table[id].type : 0;
}

int canh_field_payload_ok(canh_field_id_t id)
{
    return id < CANH_F__COUNT && field_table[id].payload;
}

int canh_value_fits(char type, canh_slice_t v)
{
    if (type == 'L') {
        size_t i = v.len && v.ptr[0] == '-';
        if (i == v.len || v.len - i > 19)
            return 0;
        uint64_t n = 0;
        for (; i < v.len; i++) {
            if (v.ptr[i] < '0' || v.ptr[i] > '9')
                return 0;
            n = n * 10 + (uint64_t)(v.ptr[i] - '0');
        }
        return n <= (v.ptr[0] == '-' ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX);
    }
    if (type == 'I') {
        if (!v.len)
            return 0;
        if (!memchr(v.ptr, ':', v.len)) {
            /* dotted-quad IPv4, the common case, without a copy: four
             * numbers 0..255 without leading zeros, as inet_pton takes them */
            size_t i = 0;
            for (int part = 0; part < 4; part++) {
                size_t s = i;
                unsigned x = 0;
                while (i < v.len && i - s < 4 && v.ptr[i] >= '0' && v.ptr[i] <= '9')
                    x = x * 10 + (unsigned)(v.ptr[i++] - '0');
                if (i == s || i - s > 3 || x > 255 || (i - s > 1 && v.ptr[s] == '0'))
                    return 0;
                if (part < 3 && (i >= v.len || v.ptr[i++] != '.'))
                    return 0;
            }
            return i == v.len;
        }
        char buf[INET6_ADDRSTRLEN];
        unsigned char a[16];
        if (v.len >= sizeof(buf))
            return 0;
        memcpy(buf, v.ptr, v.len);
        buf[v.len] = '\0';
        return inet_pton(AF_INET6, buf, a) == 1;
    }
    return 1;
}

#define FIELD_HASH_SIZE 256   /* power of two, > 2 * CANH_F__COUNT */
static uint16_t field_hash[FIELD_HASH_SIZE];  /* id + 1; 0 = empty */
static pthread_once_t field_once = PTHREAD_ONCE_INIT;

static uint32_t hash_bytes(const char *s, size_t n)
{
    uint32_t h = 2166136261u;   /* FNV-1a */
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 16777619u;
    return h;
}

static void field_hash_build(void)
{
    _Static_assert(FIELD_HASH_SIZE > 2 * CANH_F__COUNT, "field hash too small");
    for (int id = 0; id < CANH_F__COUNT; id++) {
        const char *n = field_table[id].name;
        uint32_t h = hash_bytes(n, strlen(n)) & (FIELD_HASH_SIZE - 1);
        while (field_hash[h])
            h = (h + 1) & (FIELD_HASH_SIZE - 1);
        field_hash[h] = (uint16_t)(id + 1);
    }
}

canh_field_id_t canh_field_lookup(const char *name, size_t len)
{
    pthread_once(&field_once, field_hash_build);
    uint32_t h = hash_bytes(name, len) & (FIELD_HASH_SIZE - 1);
    while (field_hash[h]) {
        int id = field_hash[h] - 1;
        if (field_table[id].len == len && memcmp(field_table[id].name, name, len) == 0)
            return (canh_field_id_t)id;
        h = (h + 1) & (FIELD_HASH_SIZE - 1);
    }
    return CANH_F_DYNAMIC;
}

/* Datasets: built-ins first, then names registered by the field map. */
static const char *builtin_ds[CANH_DS__BUILTIN] = {
#define CANH_X_TAB(e, name) name,
    CANH_DATASETS(CANH_X_TAB)
#undef CANH_X_TAB
};
static char *extra_ds[CANH_DS_MAX];
static int n_ds = CANH_DS__BUILTIN;

const char *canh_dataset_name(int id)
{
    if (id < 0 || id >= n_ds)
        return NULL;
    return id < CANH_DS__BUILTIN ? builtin_ds[id] : extra_ds[id];
}

int canh_dataset_lookup(const char *name, size_t len)
{
    for (int id = 0; id < n_ds; id++) {
        const char *n = canh_dataset_name(id);
        if (strlen(n) == len && memcmp(n, name, len) == 0)
            return id;
    }
    return -1;
}

int canh_dataset_register(const char *name)
{
    int id = canh_dataset_lookup(name, strlen(name));
    if (id >= 0)
        return id;
    if (n_ds >= CANH_DS_MAX)
        return -1;
    char *copy = strdup(name);
    if (!copy)
        return -1;
    extra_ds[n_ds] = copy;
    return n_ds++;
}

static inline int blank(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

size_t canh_field_path_write(char *d, const char *prefix, size_t plen, const char *key,
                             size_t klen)
{
    memcpy(d, prefix, plen);
    size_t o = plen;
    int depth = 1;
    for (size_t i = 0;;) {
        size_t s = i;
        int all_blank = 1;
        while (i < klen && key[i] != '.') {
            if (!blank(key[i]))
                all_blank = 0;
            i++;
        }
        if (all_blank) {   /* empty or blank: "_" */
            d[o++] = '_';
        } else {
            memcpy(d + o, key + s, i - s);
            o += i - s;
        }
        if (i >= klen)
            break;
        i++;   /* the dot */
        d[o++] = ++depth > CANH_PATH_DEPTH ? '_' : '.';
    }
    return o;
}

void canh_event_clear(canh_event_t *ev)
{
    ev->datasets = 0;
    ev->ts_ms = 0;
    ev->nfields = 0;
    ev->dropped_fields = 0;
    ev->line_tag = 0;
    ev->original = canh_slice(NULL, 0);
}

int canh_event_add_named(canh_event_t *ev, canh_slice_t name, canh_slice_t value, uint16_t flags)
{
    if (ev->nfields >= CANH_EVENT_MAX_FIELDS) {
        ev->dropped_fields++;
        return CANH_ENOMEM;
    }
    canh_field_id_t id = canh_field_lookup(name.ptr, name.len);
    canh_field_t *f = &ev->fields[ev->nfields++];
    f->name = name;
    f->value = value;
    f->id = (uint16_t)id;
    f->flags = flags | (canh_field_is_number(id) ? CANH_FIELD_NUMBER : 0);
    return CANH_OK;
}

int canh_event_add(canh_event_t *ev, canh_field_id_t id, canh_slice_t value)
{
    if (ev->nfields >= CANH_EVENT_MAX_FIELDS) {
        ev->dropped_fields++;
        return CANH_ENOMEM;
    }
    canh_field_t *f = &ev->fields[ev->nfields++];
    f->name = canh_slice(field_table[id].name, field_table[id].len);
    f->value = value;
    f->id = (uint16_t)id;
    f->flags = field_table[id].type == 'L' ? CANH_FIELD_NUMBER : 0;
    return CANH_OK;
}

const canh_field_t *canh_event_get(const canh_event_t *ev, canh_field_id_t id)
{
    for (uint32_t i = 0; i < ev->nfields; i++)
        if (ev->fields[i].id == id)
            return &ev->fields[i];
    return NULL;
}

const canh_field_t *canh_event_find(const canh_event_t *ev, const char *name, size_t len)
{
    for (uint32_t i = 0; i < ev->nfields; i++) {
        const canh_field_t *f = &ev->fields[i];
        if (f->name.len == len && memcmp(f->name.ptr, name, len) == 0)
            return f;
    }
    return NULL;
}

int canh_event_set(canh_event_t *ev, canh_field_id_t id, canh_slice_t value)
{
    for (uint32_t i = 0; i < ev->nfields; i++)
        if (ev->fields[i].id == id) {
            ev->fields[i].value = value;
            return CANH_OK;
        }
    return canh_event_add(ev, id, value);
}
