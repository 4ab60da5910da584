/*
 * parsers/decode_json.c -- a JSON object payload, through jansson.
 *
 * Nested objects are flattened with dots ("id.orig_h"), arrays become
 * repeated fields of the same name, numbers and booleans keep their text
 * (flagged CANH_FIELD_NUMBER, CANH_FIELD_BOOL), and null is a field with
 * an empty value flagged CANH_FIELD_NULL (present for Sigma, null in the
 * alert). Each key goes where canh_add_payload says (parsers/payload.c):
 * onto its ECS field ("source.ip", "user.name" ...) when it may and its
 * value fits, else under canh.payload. A string "event.dataset" (flat or
 * nested) naming a known dataset adds that dataset; an "@timestamp" in
 * ISO 8601 sets ts_ms and a normalised @timestamp (the event's time; read
 * in the event's zone when it has no offset). Every value is flagged
 * CANH_FIELD_PAYLOAD (keyword rules search these on a JSON event).
 * Anything that is not a JSON object is CANH_EPARSE.
 *
 * Ownership: jansson's tree is freed before returning; every name and value
 * is copied into ev->arena. Thread: the caller's.
 */
#include "parse_util.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

#define JSON_MAX_DEPTH 32
#define JSON_NAME_MAX 512

typedef struct jstate {
    canh_event_t *ev;
    char name[JSON_NAME_MAX];
} jstate_t;

static void add_value(jstate_t *st, size_t nl, const char *v, size_t vl, uint16_t flags)
{
    canh_event_t *ev = st->ev;
    char *vc = canh_arena_strndup(ev->arena, v, vl);
    if (!vc)
        return;
    if (nl == 10 && !flags && memcmp(st->name, "@timestamp", 10) == 0) {
        int64_t ms;
        int zone;
        if (canh_iso8601_parse(v, vl, &ms, &zone) == vl &&
            canh_event_set_ts(ev, zone ? ms : canh_local_to_utc(ev, ms)) != CANH_EPARSE)
            return;   /* else, like any stamp canh cannot read, a payload value */
    }
    if (nl == 13 && memcmp(st->name, "event.dataset", 13) == 0 && !flags) {
        int id = canh_dataset_lookup(v, vl);
        if (id >= 0)
            ev->datasets |= CANH_DS_BIT(id);
    }
    canh_add_payload(ev, st->name, nl, canh_slice(vc, vl), flags | CANH_FIELD_PAYLOAD);
}

static void walk(jstate_t *st, json_t *j, size_t nl, int depth)
{
    char buf[64];
    int l;
    switch (json_typeof(j)) {
    case JSON_OBJECT: {
        if (depth >= JSON_MAX_DEPTH)
            return;
        const char *k;
        size_t kl;
        json_t *v;
        json_object_keylen_foreach(j, k, kl, v) {
            size_t sep = depth ? 1 : 0;   /* the root object's keys have no parent */
            if (nl + sep + kl >= JSON_NAME_MAX)
                continue;
            if (sep)
                st->name[nl] = '.';
            memcpy(st->name + nl + sep, k, kl);
            walk(st, v, nl + sep + kl, depth + 1);
        }
        break;
    }
    case JSON_ARRAY: {
        if (depth >= JSON_MAX_DEPTH)
            return;
        size_t idx;
        json_t *v;
        json_array_foreach(j, idx, v)
            walk(st, v, nl, depth + 1);
        break;
    }
    case JSON_STRING:
        if (depth)
            add_value(st, nl, json_string_value(j), json_string_length(j), 0);
        break;
    case JSON_INTEGER:
        l = snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT, json_integer_value(j));
        if (depth)
            add_value(st, nl, buf, (size_t)l, CANH_FIELD_NUMBER);
        break;
    case JSON_REAL: {
        double d = json_real_value(j);
        l = snprintf(buf, sizeof(buf), "%.15g", d);
        if (strtod(buf, NULL) != d)
            l = snprintf(buf, sizeof(buf), "%.17g", d);
        if (depth)
            add_value(st, nl, buf, (size_t)l, CANH_FIELD_NUMBER);
        break;
    }
    case JSON_TRUE:
        if (depth)
            add_value(st, nl, "true", 4, CANH_FIELD_BOOL);
        break;
    case JSON_FALSE:
        if (depth)
            add_value(st, nl, "false", 5, CANH_FIELD_BOOL);
        break;
    case JSON_NULL:
        if (depth)
            add_value(st, nl, "", 0, CANH_FIELD_NULL);
        break;
    default:
        break;
    }
}

int canh_decode_json(canh_event_t *ev, canh_slice_t msg)
{
    if (!ev || !ev->arena)
        return CANH_EINVAL;
    json_error_t jerr;
    json_t *root = json_loadb(msg.ptr, msg.len, JSON_ALLOW_NUL, &jerr);
    if (!root)
        return CANH_EPARSE;
    if (!json_is_object(root)) {
        json_decref(root);
        return CANH_EPARSE;
    }
    jstate_t st;
    st.ev = ev;
    ev->datasets |= CANH_DS_BIT(CANH_DS_JSON);
    walk(&st, root, 0, 0);
    json_decref(root);
    return CANH_OK;
}
