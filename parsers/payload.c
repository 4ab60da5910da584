/*
 * parsers/payload.c -- where the keys of a JSON or key=value payload go.
 *
 * A log line must not be able to write a field canh sets itself
 * (@timestamp, host.*, event.*, rule.*, log.* ...), nor make an alert that
 * an Elasticsearch/OpenSearch index with the ECS template rejects. So a
 * payload key K (a JSON path joined with dots, or a key=value key) is:
 *
 *   - the ECS field K, when engine/event.h knows K, marks it P (ECS, not
 *     set by canh), the event has no value for it yet (the syslog header's
 *     process.name stays the only one) and the value fits its type (a
 *     long is a decimal integer, an ip an address; JSON null fits any);
 *   - otherwise canh.payload.K, with K made a usable field path: an empty
 *     or blank segment (between dots) becomes "_", and after
 *     CANH_PATH_DEPTH segments the dots become '_', so that no JSON key
 *     in the alert is empty, blank or deeper than an index accepts.
 *
 * Ownership: names go into the event's arena; values are the caller's.
 * Thread: the caller's.
 */
#include "parse_util.h"

canh_slice_t canh_field_path(canh_arena_t *a, const char *prefix, size_t plen,
                             const char *key, size_t klen)
{
    char *d = canh_arena_alloc(a, CANH_FIELD_PATH_ROOM(plen, klen));
    if (!d)
        return canh_slice(NULL, 0);
    return canh_slice(d, canh_field_path_write(d, prefix, plen, key, klen));
}

int canh_add_payload(canh_event_t *ev, const char *key, size_t klen, canh_slice_t val,
                     uint16_t flags)
{
    canh_field_id_t id = canh_field_lookup(key, klen);
    if (id != CANH_F_DYNAMIC && canh_field_payload_ok(id) && !canh_event_get(ev, id) &&
        ((flags & CANH_FIELD_NULL) || canh_value_fits(canh_field_type(id), val))) {
        int rc = canh_event_add(ev, id, val);
        if (rc == CANH_OK)
            ev->fields[ev->nfields - 1].flags |= flags & (CANH_FIELD_NULL | CANH_FIELD_PAYLOAD);
        return rc;
    }
    static const char pre[] = "canh.payload.";
    canh_slice_t name = canh_field_path(ev->arena, pre, sizeof(pre) - 1, key, klen);
    if (!name.ptr)
        return CANH_ENOMEM;
    return canh_event_add_named(ev, name, val, flags);
}
