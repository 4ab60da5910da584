/*
 * parsers/app/app.h -- protocol fields from flows: HTTP/1.x, DNS, TLS, SSH
 * (http.c, dns.c, tls.c, ssh.c; app.c detects the protocol and dispatches).
 *
 * A flow's protocol is told from its first bytes either way (an HTTP method
 * or "HTTP/", a TLS record with a ClientHello, "SSH-", a DNS message on UDP
 * or TCP port 53 or shaped as one), ports being only a hint. Each protocol
 * parser is fed the in-order bytes of each direction (TCP, from
 * parsers/packet/flow.h) or each datagram (UDP) and reports a transaction
 * whenever one is complete enough for rules: an HTTP request once its
 * headers are in (the body as it comes, up to a cap), a response likewise;
 * a DNS query or answer; a TLS ClientHello (SNI, version, JA3 and JA4) and
 * ServerHello; an SSH banner. A parser never reads outside the bytes it is
 * given, bounds every allocation, and on bytes it cannot parse stops
 * parsing that flow (counted), never the engine.
 *
 * Fields are handed over as buffers, the same set network rules inspect
 * (engine/detect/nids.h) and alerts carry: CANH_NET_BUFFERS below.
 *
 * Thread: a flow's app state belongs to the worker that owns the flow.
 */
#ifndef CANH_APP_H
#define CANH_APP_H

#include <stddef.h>
#include <stdint.h>

#include "../packet/flow.h"

/* Buffer id, the Suricata sticky-buffer name (the older http_* content
 * modifiers and aliases map onto these in nids.c), and what fills it. */
#define CANH_NET_BUFFERS(X)                                                              \
    X(PACKET,          "pkt_data")            /* this packet's layer 4 payload */         \
    X(STREAM,          "stream")              /* reassembled TCP data, this direction */  \
    X(HTTP_METHOD,     "http.method")                                                     \
    X(HTTP_URI,        "http.uri")            /* normalised: %-decoded, /./ and /../ */   \
    X(HTTP_URI_RAW,    "http.uri.raw")                                                    \
    X(HTTP_PROTOCOL,   "http.protocol")       /* "HTTP/1.1" */                            \
    X(HTTP_REQUEST_LINE, "http.request_line")                                             \
    X(HTTP_HOST,       "http.host")           /* lower-cased, no port */                  \
    X(HTTP_HOST_RAW,   "http.host.raw")                                                   \
    X(HTTP_UA,         "http.user_agent")                                                 \
    X(HTTP_COOKIE,     "http.cookie")                                                     \
    X(HTTP_REFERER,    "http.referer")                                                    \
    X(HTTP_CONTENT_TYPE, "http.content_type")                                             \
    X(HTTP_CONTENT_LEN,  "http.content_len")                                              \
    X(HTTP_HEADER,     "http.header")         /* "Name: value\r\n" each, cookie left out */ \
    X(HTTP_HEADER_RAW, "http.header.raw")                                                 \
    X(HTTP_HEADER_NAMES, "http.header_names")                                             \
    X(HTTP_REQUEST_BODY, "http.request_body") /* also http_client_body */                 \
    X(HTTP_STAT_CODE,  "http.stat_code")                                                  \
    X(HTTP_STAT_MSG,   "http.stat_msg")                                                   \
    X(HTTP_RESPONSE_LINE, "http.response_line")                                           \
    X(HTTP_SERVER,     "http.server")                                                     \
    X(HTTP_LOCATION,   "http.location")                                                   \
    X(HTTP_RESPONSE_BODY, "http.response_body") /* also file.data, http_server_body */    \
    X(DNS_QUERY,       "dns.query")           /* dotted name, as sent */                  \
    X(TLS_SNI,         "tls.sni")                                                         \
    X(TLS_VERSION,     "tls.version")         /* "TLS 1.2" ... */                         \
    X(JA3_STRING,      "ja3.string")                                                      \
    X(JA3_HASH,        "ja3.hash")                                                        \
    X(JA4_HASH,        "ja4.hash")                                                        \
    X(SSH_PROTO,       "ssh.proto")           /* "2.0" */                                 \
    X(SSH_SOFTWARE,    "ssh.software")

enum {
#define CANH_X_NB(e, name) CANH_NB_##e,
    CANH_NET_BUFFERS(CANH_X_NB)
#undef CANH_X_NB
    CANH_NB__COUNT
};

const char *canh_net_buffer_name(int id);        /* "http.uri" */
int canh_net_buffer_lookup(const char *name, size_t len);   /* -1: none */

typedef enum canh_app_proto {
    CANH_APP_UNKNOWN = 0, CANH_APP_HTTP, CANH_APP_DNS, CANH_APP_TLS, CANH_APP_SSH,
    CANH_APP_FAILED,            /* told, then unparseable: no more parsing */
} canh_app_proto_t;
const char *canh_app_proto_name(canh_app_proto_t p);   /* "http", "dns" ... as network.protocol */

/* One transaction's fields. buf[i].p NULL: the buffer is not set. */
typedef struct canh_app_tx {
    canh_app_proto_t proto;
    int dir;                        /* 0: from the client, 1: from the server */
    uint64_t id;                    /* its number in the flow (1, 2 ...): an HTTP request
                                       and its response share it, so a rule matches the
                                       transaction once (nids.h tx_id); 0: each report
                                       stands alone */
    uint8_t event_only;             /* 1: given again only for canh_app_event (an HTTP
                                       request never answered, at the flow's end):
                                       network rules have seen it already, skip it */
    struct { const uint8_t *p; size_t n; } buf[CANH_NB__COUNT];
    /* DNS, beyond dns.query: */
    uint16_t dns_id, dns_qtype, dns_rcode;
    uint8_t dns_is_response, dns_opcode;
    const char *dns_answers[16];    /* answer data as text (addresses, names); NUL-terminated */
    uint8_t dns_nanswers;
    uint16_t dns_answer_types[16];
} canh_app_tx_t;

typedef void (*canh_app_fn)(void *ud, canh_flow_t *f, const canh_app_tx_t *tx);

typedef struct canh_app canh_app_t;   /* one flow's protocol state */

typedef struct canh_app_opts {
    size_t body_cap;                /* bytes of an HTTP body kept for rules; 0: 64 KiB */
} canh_app_opts_t;

canh_app_t *canh_app_new(const canh_app_opts_t *o);
void canh_app_free(canh_app_t *a);
canh_app_proto_t canh_app_proto(const canh_app_t *a);

/* In-order TCP bytes of one direction (flags as canh_stream_fn's). */
void canh_app_stream(canh_app_t *a, canh_flow_t *f, int dir, const uint8_t *data, size_t len,
                     int flags, canh_app_fn fn, void *ud);
/* One UDP datagram's payload. */
void canh_app_datagram(canh_app_t *a, canh_flow_t *f, int dir, const uint8_t *data, size_t len,
                       canh_app_fn fn, void *ud);

typedef struct canh_app_counts {
    uint64_t flows[CANH_APP_FAILED + 1];   /* flows told as each protocol (FAILED: given up) */
    uint64_t http_requests, http_responses, dns_queries, dns_answers, tls_client_hellos,
             ssh_banners, parse_errors, body_truncated;
} canh_app_counts_t;
/* Counts are kept per thread; the caller adds them up. */
canh_app_counts_t *canh_app_thread_counts(void);

/*
 * A transaction as a log event for Sigma (app_event.c): an HTTP request
 * (tx->proto HTTP, dir 0) becomes an event of the `proxy` and `webserver`
 * datasets, a DNS query (dir 0) one of the `dns` dataset, with the ECS
 * fields conf/fieldmap.yml maps those categories' Sigma names to
 * (url.*, http.*, user_agent.original, dns.question.name ...) and the
 * flow's source/destination address and port (client = source). dir is
 * the direction tx came from. Values borrow from tx, or, when canh makes
 * them (addresses, ports, lower-cased names), from ev->arena, which must
 * be set. Returns CANH_OK with ev filled (cleared first), CANH_ENOENT when
 * tx makes no event (a response, a TLS hello ...), CANH_ENOMEM when the
 * arena is full.
 * Thread: the flow's worker.
 */
struct canh_event;
/* The ECS fields of any transaction (its request's and its own for an HTTP
 * response; a DNS query's or answer's, with dns.response_code and
 * dns.answers.data; a TLS hello's tls.client.server_name, tls.client.ja3,
 * tls.version and tls.version_protocol; the flow's ends for the others),
 * without datasets: for the alerts of network rules. ev is cleared first;
 * values borrow as canh_app_event's do. CANH_OK, or CANH_ENOMEM. */
int canh_app_fields(const canh_app_tx_t *tx, const canh_flow_info_t *fi, struct canh_event *ev);
int canh_app_event(const canh_app_tx_t *tx, const canh_flow_info_t *fi, int dir,
                   struct canh_event *ev);

#endif
