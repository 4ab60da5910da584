/*
 * parsers/app/app_internal.h -- what app.c needs of each protocol parser
 * (http.c, dns.c, tls.c, ssh.c); not for use outside parsers/app/.
 *
 * Each parser is a table of functions (canh_app_parser_t) over its own
 * per-flow state, which holds both directions. app.c tells the protocol
 * (app.c: detection), makes the parser's state once, then hands it every
 * in-order byte of each TCP direction from the first one (the bytes it
 * looked at to tell the protocol included) or every UDP datagram.
 *
 * A parser:
 *   - calls fn(ud, f, tx) for each transaction complete enough for rules
 *     (see app.h); tx and every byte it points to are valid only during
 *     that call (they may point into the data given or into the state);
 *     tx->proto and tx->dir are set; unset buffers have p == NULL;
 *   - counts its own transactions in canh_app_thread_counts() (http_*,
 *     dns_*, tls_client_hellos, ssh_banners, body_truncated);
 *   - returns CANH_OK to be fed more, CANH_APP_DONE when nothing more of
 *     the flow is of interest (TLS once the handshake is encrypted, SSH
 *     after both banners: app.c stops feeding it, no error), or
 *     CANH_EPARSE on bytes it cannot parse: app.c marks the flow
 *     CANH_APP_FAILED, counts parse_errors and never feeds it again;
 *   - bounds all it holds (a fixed cap per flow, no allocation per packet
 *     beyond its state's growth up to that cap); CANH_ENOMEM is treated as
 *     CANH_EPARSE.
 * flags of stream are canh_stream_fn's: CANH_STREAM_GAP (bytes were lost
 * before data: resync or give up), CANH_STREAM_END (the direction ended;
 * len may be 0: flush what is pending).
 *
 * Thread: a flow's parser state belongs to the worker that owns the flow;
 * the tables are constant.
 */
#ifndef CANH_APP_INTERNAL_H
#define CANH_APP_INTERNAL_H

#include "../../engine/canh.h"
#include "app.h"

#define CANH_APP_DONE 1     /* a parser's "no more, thanks" (not an error) */

typedef struct canh_app_parser {
    canh_app_proto_t proto;
    const char *name;
    /* NULL: out of memory. o is never NULL (app.c fills defaults). */
    void *(*state_new)(const canh_app_opts_t *o);
    void  (*state_free)(void *st);
    /* TCP: in-order bytes of direction dir (0: from the client). NULL: the
     * parser does not run over TCP. */
    int   (*stream)(void *st, canh_flow_t *f, int dir, const uint8_t *data, size_t len,
                    int flags, canh_app_fn fn, void *ud);
    /* UDP: one datagram's payload. NULL: the parser does not run over UDP. */
    int   (*datagram)(void *st, canh_flow_t *f, int dir, const uint8_t *data, size_t len,
                      canh_app_fn fn, void *ud);
} canh_app_parser_t;

extern const canh_app_parser_t canh_app_http_parser;   /* http.c (Part A1) */
extern const canh_app_parser_t canh_app_dns_parser;    /* dns.c  (Part A2): stream and datagram */
extern const canh_app_parser_t canh_app_tls_parser;    /* tls.c  (Part A2): stream */
extern const canh_app_parser_t canh_app_ssh_parser;    /* ssh.c  (Part A2): stream */

/* app.c's detection, for tests and for the parsers' own checks:
 * whether data (the first bytes of a direction, len may be short) is
 * CANH_APP_HTTP / DNS / TLS / SSH, CANH_APP_UNKNOWN when it is none of
 * them, or -1 when more bytes are needed to tell. tcp: 1 for a stream,
 * 0 for a datagram; port: the server's port (a hint for DNS). */
int canh_app_detect(const uint8_t *data, size_t len, int tcp, int dir, uint16_t port);

#endif
