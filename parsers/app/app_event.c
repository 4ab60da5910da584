/*
 * parsers/app/app_event.c -- protocol transactions as log events, so that
 * Sigma rules of the proxy, webserver and dns categories run on traffic.
 *
 * An HTTP exchange becomes one event of the `proxy` and `webserver`
 * datasets, like a line of an access log: from the response's tx (which
 * carries its request's fields, see http.c) so that the status is known,
 * or, for a request never answered, from the request given again at the
 * flow's end (tx->event_only). A DNS query becomes an event of the `dns`
 * dataset. Field names are the ECS ones conf/fieldmap.yml maps those
 * categories' Sigma names to (c-uri -> url.original, cs-host ->
 * url.domain, query -> dns.question.name ...), filled as
 * parsers/decode_access.c fills them from a log line: url.original is the
 * request target as sent, url.path / url.query its parts.
 *
 * Ownership: values borrow tx's bytes (valid during the tx callback) or
 * ev->arena (addresses, ports, lower-cased extension, the DNS type).
 * Thread: the flow's worker.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "../parse_util.h"
#include "app.h"

static canh_slice_t b2s(const canh_app_tx_t *tx, int id)
{
    return canh_slice((const char *)tx->buf[id].p, tx->buf[id].n);
}

static int has(const canh_app_tx_t *tx, int id)
{
    return tx->buf[id].p != NULL;
}

static int add_ip(canh_event_t *ev, canh_field_id_t id, int ipver, const uint8_t *a)
{
    char *d = canh_arena_alloc(ev->arena, INET6_ADDRSTRLEN);
    if (!d)
        return CANH_ENOMEM;
    if (!inet_ntop(ipver == 6 ? AF_INET6 : AF_INET, a, d, INET6_ADDRSTRLEN))
        return CANH_OK;
    canh_event_add(ev, id, canh_slice_cstr(d));
    return CANH_OK;
}

static int add_num(canh_event_t *ev, canh_field_id_t id, uint64_t v)
{
    char *d = canh_arena_alloc(ev->arena, 24);
    if (!d)
        return CANH_ENOMEM;
    int n = snprintf(d, 24, "%llu", (unsigned long long)v);
    canh_event_add(ev, id, canh_slice(d, (size_t)n));
    return CANH_OK;
}

static int add_flow(canh_event_t *ev, const canh_flow_info_t *fi)
{
    if (!fi)
        return CANH_OK;
    if (add_ip(ev, CANH_F_SOURCE_IP, fi->ipver, fi->client) != CANH_OK ||
        add_num(ev, CANH_F_SOURCE_PORT, fi->cport) != CANH_OK ||
        add_ip(ev, CANH_F_DESTINATION_IP, fi->ipver, fi->server) != CANH_OK ||
        add_num(ev, CANH_F_DESTINATION_PORT, fi->sport) != CANH_OK)
        return CANH_ENOMEM;
    if (fi->last_us > 0)
        canh_event_set_ts(ev, fi->last_us / 1000);
    return CANH_OK;
}

/* url.original / path / query / extension from the target as sent */
static int add_url(canh_event_t *ev, canh_slice_t url)
{
    canh_event_add(ev, CANH_F_URL_ORIGINAL, url);
    /* absolute-form (a proxy's request): the path starts after the authority */
    size_t ps = 0;
    const char *sch = memchr(url.ptr, ':', url.len);
    if (sch && (size_t)(sch - url.ptr) + 2 < url.len && sch[1] == '/' && sch[2] == '/' &&
        !memchr(url.ptr, '/', (size_t)(sch - url.ptr))) {
        ps = (size_t)(sch - url.ptr) + 3;
        while (ps < url.len && url.ptr[ps] != '/' && url.ptr[ps] != '?')
            ps++;
    }
    const char *q = memchr(url.ptr + ps, '?', url.len - ps);
    size_t pe = q ? (size_t)(q - url.ptr) : url.len;
    const char *h = memchr(url.ptr + ps, '#', pe - ps);
    if (h)
        pe = (size_t)(h - url.ptr);
    canh_slice_t path = canh_slice(url.ptr + ps, pe - ps);
    canh_event_add(ev, CANH_F_URL_PATH, path);
    if (q) {
        const char *qe = memchr(q + 1, '#', (size_t)(url.ptr + url.len - q - 1));
        canh_event_add(ev, CANH_F_URL_QUERY,
                       canh_slice(q + 1, (size_t)((qe ? qe : url.ptr + url.len) - q - 1)));
    }
    size_t seg = path.len;
    while (seg > 0 && path.ptr[seg - 1] != '/')
        seg--;
    size_t dot = path.len;
    while (dot > seg && path.ptr[dot - 1] != '.')
        dot--;
    if (dot <= seg || dot >= path.len)
        return CANH_OK;
    size_t n = path.len - dot;
    char *d = canh_arena_alloc(ev->arena, n);
    if (!d)
        return CANH_ENOMEM;
    for (size_t k = 0; k < n; k++) {
        char c = path.ptr[dot + k];
        d[k] = (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
    }
    canh_event_add(ev, CANH_F_URL_EXTENSION, canh_slice(d, n));
    return CANH_OK;
}

static void add_ds(canh_event_t *ev, const char *name)
{
    int id = canh_dataset_lookup(name, strlen(name));
    if (id >= 0)
        ev->datasets |= CANH_DS_BIT(id);
}

/* The ECS fields of an HTTP request, or of a response with its request's. */
static int http_fields(const canh_app_tx_t *tx, const canh_flow_info_t *fi, canh_event_t *ev)
{
    int resp = tx->dir == 1;
    if (add_flow(ev, fi) != CANH_OK)
        return CANH_ENOMEM;
    if (has(tx, CANH_NB_HTTP_METHOD))
        canh_event_add(ev, CANH_F_HTTP_METHOD, b2s(tx, CANH_NB_HTTP_METHOD));
    if (has(tx, CANH_NB_HTTP_URI_RAW) && add_url(ev, b2s(tx, CANH_NB_HTTP_URI_RAW)) != CANH_OK)
        return CANH_ENOMEM;
    if (has(tx, CANH_NB_HTTP_HOST)) {
        canh_event_add(ev, CANH_F_URL_DOMAIN, b2s(tx, CANH_NB_HTTP_HOST));
        canh_event_add(ev, CANH_F_DESTINATION_DOMAIN, b2s(tx, CANH_NB_HTTP_HOST));
    }
    canh_slice_t proto = b2s(tx, CANH_NB_HTTP_PROTOCOL);
    if (proto.len > 5 && memcmp(proto.ptr, "HTTP/", 5) == 0)
        canh_event_add(ev, CANH_F_HTTP_VERSION, canh_slice(proto.ptr + 5, proto.len - 5));
    if (has(tx, CANH_NB_HTTP_UA))
        canh_event_add(ev, CANH_F_USER_AGENT, b2s(tx, CANH_NB_HTTP_UA));
    if (has(tx, CANH_NB_HTTP_REFERER))
        canh_event_add(ev, CANH_F_HTTP_REFERRER, b2s(tx, CANH_NB_HTTP_REFERER));
    if (resp) {
        if (has(tx, CANH_NB_HTTP_STAT_CODE))
            canh_event_add(ev, CANH_F_HTTP_STATUS, b2s(tx, CANH_NB_HTTP_STAT_CODE));
        canh_slice_t cl = b2s(tx, CANH_NB_HTTP_CONTENT_LEN);
        if (has(tx, CANH_NB_HTTP_CONTENT_LEN) && canh_slice_is_digits(cl))
            canh_event_add(ev, CANH_F_HTTP_BYTES, cl);
    } else {
        /* the request's own content type (a response's would be its own) */
        if (has(tx, CANH_NB_HTTP_CONTENT_TYPE))
            canh_event_add(ev, CANH_F_HTTP_MIME_TYPE, b2s(tx, CANH_NB_HTTP_CONTENT_TYPE));
        if (has(tx, CANH_NB_HTTP_COOKIE))
            canh_event_add_named(ev, CANH_SLICE("canh.payload.http.request.cookie"),
                                 b2s(tx, CANH_NB_HTTP_COOKIE), 0);
    }
    canh_event_add(ev, CANH_F_EVENT_CATEGORY, CANH_SLICE("web"));
    return CANH_OK;
}

static int http_event(const canh_app_tx_t *tx, const canh_flow_info_t *fi, canh_event_t *ev)
{
    /* an exchange: a response with its request, or an unanswered request */
    if (!has(tx, CANH_NB_HTTP_METHOD) || !has(tx, CANH_NB_HTTP_URI_RAW))
        return CANH_ENOENT;
    if (tx->dir == 0 && !tx->event_only)
        return CANH_ENOENT;
    add_ds(ev, "proxy");
    ev->datasets |= CANH_DS_BIT(CANH_DS_WEBSERVER);
    return http_fields(tx, fi, ev);
}

static const struct { uint16_t t; const char *n; } qtypes[] = {
    { 1, "A" }, { 2, "NS" }, { 5, "CNAME" }, { 6, "SOA" }, { 12, "PTR" }, { 15, "MX" },
    { 16, "TXT" }, { 28, "AAAA" }, { 33, "SRV" }, { 35, "NAPTR" }, { 43, "DS" },
    { 46, "RRSIG" }, { 47, "NSEC" }, { 48, "DNSKEY" }, { 64, "SVCB" }, { 65, "HTTPS" },
    { 99, "SPF" }, { 252, "AXFR" }, { 255, "ANY" }, { 257, "CAA" },
};

static const char *const rcodes[] = {
    "NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED", "YXDOMAIN", "YXRRSET",
    "NXRRSET", "NOTAUTH", "NOTZONE",
};

/* The ECS fields of a DNS query or answer. */
static int dns_fields(const canh_app_tx_t *tx, const canh_flow_info_t *fi, canh_event_t *ev)
{
    if (add_flow(ev, fi) != CANH_OK || add_num(ev, CANH_F_DNS_ID, tx->dns_id) != CANH_OK)
        return CANH_ENOMEM;
    canh_event_add(ev, CANH_F_DNS_TYPE, tx->dns_is_response ? CANH_SLICE("answer")
                                                              : CANH_SLICE("query"));
    if (has(tx, CANH_NB_DNS_QUERY))
        canh_event_add(ev, CANH_F_DNS_QUESTION_NAME, b2s(tx, CANH_NB_DNS_QUERY));
    const char *tn = NULL;
    for (size_t i = 0; i < CANH_ARRAY_LEN(qtypes); i++)
        if (qtypes[i].t == tx->dns_qtype)
            tn = qtypes[i].n;
    if (tn) {
        canh_event_add(ev, CANH_F_DNS_QUESTION_TYPE, canh_slice_cstr(tn));
    } else if (tx->dns_qtype) {
        char *d = canh_arena_alloc(ev->arena, 16);
        if (!d)
            return CANH_ENOMEM;
        int n = snprintf(d, 16, "TYPE%u", (unsigned)tx->dns_qtype);   /* RFC 3597 */
        canh_event_add(ev, CANH_F_DNS_QUESTION_TYPE, canh_slice(d, (size_t)n));
    }
    if (tx->dns_is_response) {
        if (tx->dns_rcode < CANH_ARRAY_LEN(rcodes))
            canh_event_add(ev, CANH_F_DNS_RESPONSE_CODE, canh_slice_cstr(rcodes[tx->dns_rcode]));
        for (unsigned i = 0; i < tx->dns_nanswers && i < CANH_ARRAY_LEN(tx->dns_answers); i++)
            if (tx->dns_answers[i] && tx->dns_answers[i][0])
                canh_event_add(ev, CANH_F_DNS_ANSWERS_DATA, canh_slice_cstr(tx->dns_answers[i]));
    }
    canh_event_add(ev, CANH_F_EVENT_CATEGORY, CANH_SLICE("network"));
    return CANH_OK;
}

static int dns_event(const canh_app_tx_t *tx, const canh_flow_info_t *fi, canh_event_t *ev)
{
    if (tx->dns_is_response || !has(tx, CANH_NB_DNS_QUERY))
        return CANH_ENOENT;
    add_ds(ev, "dns");
    return dns_fields(tx, fi, ev);
}

/* The ECS fields of a TLS hello: tls.version "1.2" with tls.version_protocol
 * "tls" (the parser says "TLS 1.2", "SSLv3"). */
static int tls_fields(const canh_app_tx_t *tx, const canh_flow_info_t *fi, canh_event_t *ev)
{
    if (add_flow(ev, fi) != CANH_OK)
        return CANH_ENOMEM;
    if (has(tx, CANH_NB_TLS_SNI))
        canh_event_add(ev, CANH_F_TLS_SNI, b2s(tx, CANH_NB_TLS_SNI));
    if (has(tx, CANH_NB_JA3_HASH))
        canh_event_add(ev, CANH_F_TLS_JA3, b2s(tx, CANH_NB_JA3_HASH));
    canh_slice_t v = b2s(tx, CANH_NB_TLS_VERSION);
    if (v.len > 4 && memcmp(v.ptr, "TLS ", 4) == 0) {
        canh_event_add(ev, CANH_F_TLS_VERSION, canh_slice(v.ptr + 4, v.len - 4));
        canh_event_add(ev, CANH_F_TLS_VERSION_PROTOCOL, CANH_SLICE("tls"));
    } else if (v.len == 5 && memcmp(v.ptr, "SSLv", 4) == 0) {
        char *d = canh_arena_alloc(ev->arena, 4);
        if (!d)
            return CANH_ENOMEM;
        memcpy(d, (char[]){ v.ptr[4], '.', '0' }, 3);
        canh_event_add(ev, CANH_F_TLS_VERSION, canh_slice(d, 3));
        canh_event_add(ev, CANH_F_TLS_VERSION_PROTOCOL, CANH_SLICE("ssl"));
    }
    return CANH_OK;
}

int canh_app_fields(const canh_app_tx_t *tx, const canh_flow_info_t *fi, struct canh_event *ev)
{
    if (!tx || !ev || !ev->arena)
        return CANH_EINVAL;
    canh_event_clear(ev);
    switch (tx->proto) {
    case CANH_APP_HTTP: return http_fields(tx, fi, ev);
    case CANH_APP_DNS: return dns_fields(tx, fi, ev);
    case CANH_APP_TLS: return tls_fields(tx, fi, ev);
    default: return add_flow(ev, fi);
    }
}

int canh_app_event(const canh_app_tx_t *tx, const canh_flow_info_t *fi, int dir,
                   struct canh_event *ev)
{
    if (!tx || !ev || !ev->arena)
        return CANH_EINVAL;
    (void)dir;   /* tx->dir says it */
    canh_event_clear(ev);
    int rc;
    switch (tx->proto) {
    case CANH_APP_HTTP: rc = http_event(tx, fi, ev); break;
    case CANH_APP_DNS: rc = dns_event(tx, fi, ev); break;
    default: rc = CANH_ENOENT; break;
    }
    if (rc != CANH_OK)
        canh_event_clear(ev);
    return rc;
}
