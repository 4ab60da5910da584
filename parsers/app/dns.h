/*
 * parsers/app/dns.h -- DNS messages (RFC 1035) from UDP datagrams and TCP
 * streams into canh_app_tx_t (dns.c).
 *
 * The typed entry points behind canh_app_dns_parser (app_internal.h). One canh_dns_t per
 * flow holds both directions' TCP framing (the 2-byte length prefix, a
 * message split across segments) and the text the last transaction points
 * at. A transaction's pointers are valid until the next call on the same
 * canh_dns_t.
 *
 * Thread: a flow's DNS state belongs to the worker that owns the flow.
 */
#ifndef CANH_APP_DNS_H
#define CANH_APP_DNS_H

#include <stddef.h>
#include <stdint.h>

#include "app.h"

typedef struct canh_dns canh_dns_t;

canh_dns_t *canh_dns_new(void);          /* NULL on ENOMEM */
void canh_dns_free(canh_dns_t *d);

/* One message (a UDP payload, or a TCP message without its length prefix)
 * into *tx (wholly overwritten; proto, dir and the dns fields set). CANH_OK,
 * or CANH_EPARSE (counted by reason) when it is not a well-formed message.
 * dns.query is set for a request only (Suricata's dns.query). */
int canh_dns_parse(canh_dns_t *d, int dir, const uint8_t *msg, size_t len, canh_app_tx_t *tx);

/* A UDP datagram: parse, then fn with the transaction. Always CANH_OK: a
 * malformed datagram is counted (its reason, and parse_errors in
 * canh_app_thread_counts()) and skipped; the flow's next ones are parsed. */
int canh_dns_datagram(canh_dns_t *d, canh_flow_t *f, int dir, const uint8_t *data, size_t len,
                      canh_app_fn fn, void *ud);

/* In-order TCP bytes of one direction (flags as canh_stream_fn's): fn for
 * each whole message; a malformed message is counted and skipped as for
 * UDP. CANH_STREAM_GAP stops that direction (the framing is lost);
 * CANH_APP_DONE once both are stopped, else CANH_OK (CANH_ENOMEM when a
 * message's buffer cannot be had). */
int canh_dns_stream(canh_dns_t *d, canh_flow_t *f, int dir, const uint8_t *data, size_t len,
                    int flags, canh_app_fn fn, void *ud);

/* Malformed input by reason, per thread (the caller adds threads up). */
#define CANH_DNS_ERRORS(X)                                                   \
    X(SHORT,      "short")          /* under 12 bytes, or a section cut */ \
    X(NAME,       "bad_name")       /* bad label type, out of bounds */    \
    X(NAME_LONG,  "name_too_long")  /* over 255 bytes */                   \
    X(LOOP,       "pointer_loop")   /* compression pointers loop */        \
    X(RDATA,      "bad_rdata")      /* rdata not as its type says */       \
    X(TCP_LEN,    "tcp_length")     /* zero length prefix */               \
    X(GAP,        "gap")            /* TCP bytes lost: the direction stops */
enum {
#define CANH_X(e, s) CANH_DNS_E_##e,
    CANH_DNS_ERRORS(CANH_X)
#undef CANH_X
    CANH_DNS_E__COUNT
};
typedef struct canh_dns_counts {
    uint64_t queries, answers, errors[CANH_DNS_E__COUNT];
} canh_dns_counts_t;
canh_dns_counts_t *canh_dns_thread_counts(void);
const char *canh_dns_error_name(int reason);

#endif
