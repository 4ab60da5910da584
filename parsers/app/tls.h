/*
 * parsers/app/tls.h -- TLS records and handshakes: ClientHello (SNI,
 * version, JA3, JA4) and ServerHello (tls.c).
 *
 * The typed entry points behind canh_app_tls_parser (app_internal.h). One canh_tls_t per
 * flow keeps each direction's record framing and the handshake bytes of a
 * hello split across records and segments (bounded: CANH_TLS_HS_MAX), and
 * the text the last transaction points at (valid until the next call on the
 * same canh_tls_t). A direction is done once its hello is parsed: the rest
 * of it (certificates, encrypted records) is skipped, not copied.
 *
 * canh_tls_client_hello() is the ClientHello alone (a handshake message
 * body), so a QUIC parser can hand it the CRYPTO frames' bytes ('q').
 *
 * Thread: a flow's TLS state belongs to the worker that owns the flow.
 */
#ifndef CANH_APP_TLS_H
#define CANH_APP_TLS_H

#include <stddef.h>
#include <stdint.h>

#include "app.h"

#define CANH_TLS_HS_MAX (64 * 1024)      /* largest handshake message kept */

typedef struct canh_tls canh_tls_t;

canh_tls_t *canh_tls_new(void);          /* NULL on ENOMEM */
void canh_tls_free(canh_tls_t *t);

/* In-order TCP bytes of one direction: fn with a transaction for each
 * ClientHello and ServerHello. CANH_OK; CANH_APP_DONE once both directions
 * are done (hello in, encrypted before it, or bytes lost before it:
 * CANH_STREAM_GAP, counted); CANH_EPARSE once a direction is not TLS or a
 * hello is malformed (counted). */
int canh_tls_stream(canh_tls_t *t, canh_flow_t *f, int dir, const uint8_t *data, size_t len,
                    int flags, canh_app_fn fn, void *ud);

/* A parsed ClientHello; text fields NUL-terminated, in storage of the hello. */
typedef struct canh_tls_hello {
    uint16_t legacy_version, version;     /* version: highest supported_versions, else legacy */
    char sni[256];                        /* "" with has_sni 0: no SNI */
    int has_sni;
    char alpn[256];                       /* first ALPN value ("" when none) */
    char ja3_hash[33];
    char ja4[37];                         /* "t13d1516h2_8daaf6152771_e5627efa2ab1" */
    char *ja3;                            /* malloc'd, bounded by the message; canh_tls_hello_clear */
} canh_tls_hello_t;

/* body: a ClientHello's body (after the 4-byte handshake header); kind: 't'
 * TLS over TCP, 'q' QUIC, 'd' DTLS (JA4's first character). CANH_OK,
 * CANH_EPARSE, CANH_ENOMEM. */
int canh_tls_client_hello(const uint8_t *body, size_t len, char kind, canh_tls_hello_t *h);
void canh_tls_hello_clear(canh_tls_hello_t *h);

/* "TLS 1.2", "SSLv3" ...; "0x7f1c" style for others (into buf, 8 bytes). */
const char *canh_tls_version_name(uint16_t v, char buf[8]);


#define CANH_TLS_ERRORS(X)                                                     \
    X(RECORD,    "bad_record")      /* not a TLS record header */            \
    X(SSLV2,     "sslv2")           /* SSLv2 framing: not parsed */          \
    X(HS_BIG,    "handshake_too_big") /* over CANH_TLS_HS_MAX */             \
    X(HS_ORDER,  "handshake_order") /* first handshake not a hello */        \
    X(HELLO,     "bad_hello")       /* a hello's fields do not add up */     \
    X(GAP,       "gap")             /* bytes lost before the hello: given up */ \
    X(NOMEM,     "nomem")
enum {
#define CANH_X(e, s) CANH_TLS_E_##e,
    CANH_TLS_ERRORS(CANH_X)
#undef CANH_X
    CANH_TLS_E__COUNT
};
typedef struct canh_tls_counts {
    uint64_t client_hellos, server_hellos, errors[CANH_TLS_E__COUNT];
} canh_tls_counts_t;
canh_tls_counts_t *canh_tls_thread_counts(void);
const char *canh_tls_error_name(int reason);

#endif
