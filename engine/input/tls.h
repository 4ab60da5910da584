/*
 * engine/input/tls.h -- syslog over TLS (RFC 5425): the server side, OpenSSL.
 *
 * One server per tls input holds the certificate, the key and, if given,
 * the CA that client certificates must chain to. One conn per accepted
 * socket turns the socket's bytes into decrypted bytes for the connection's
 * RFC 6587 framer, driving the handshake on the way. Sockets are
 * non-blocking and waited on by the caller's epoll loop; nothing here
 * blocks or sleeps.
 *
 * A connection whose first byte is not a TLS handshake record (a syslog
 * PRI '<', an octet count, an HTTP request) is refused at once with a
 * reason quoting what it sent; no OpenSSL alert is sent to it.
 *
 * Ownership: a conn borrows its server (free every conn first) and its fd
 * (the caller closes the fd after canh_tls_conn_free). Thread: the daemon's
 * input thread; a server may serve many conns, all on that thread.
 * Handshake timeouts are the caller's: a peer that connects and stays
 * silent costs one fd and one conn until the caller closes it.
 */
#ifndef CANH_TLS_H
#define CANH_TLS_H

#include <stdint.h>
#include <sys/types.h>

#include "../canh.h"

#define CANH_TLS_AGAIN CANH_EAGAIN   /* wait for *events, then read again */
#define CANH_TLS_FAIL  CANH_EIO      /* refused or broken: canh_tls_conn_error() says why */

/* The largest TLS record's payload. A read buffer at least this big leaves
 * nothing decrypted behind inside OpenSSL after a call (see canh_tls_read). */
#define CANH_TLS_RECORD 16384

typedef struct canh_tls_server canh_tls_server_t;
typedef struct canh_tls_conn canh_tls_conn_t;

/*
 * Loads the certificate chain and the key of input `name` (PEM; the key
 * unencrypted and matching the certificate) and, if ca is not NULL, the
 * CA bundle: a client that presents a certificate must then chain to it,
 * and require_client_cert (which needs ca) refuses clients without one.
 * TLS 1.2 is the minimum; no renegotiation, no session resumption. On
 * failure returns NULL with a sentence naming the file in err, e.g.
 * "input districts: cannot load certificate /etc/canh/soc.crt: No such
 * file or directory".
 */
canh_tls_server_t *canh_tls_server_new(const char *name, const char *cert, const char *key,
                                       const char *ca, int require_client_cert,
                                       char *err, size_t errlen);
void canh_tls_server_free(canh_tls_server_t *s);

/* A conn for fd, accepted and non-blocking. NULL when out of memory. */
canh_tls_conn_t *canh_tls_conn_new(canh_tls_server_t *s, int fd);

/*
 * Up to n decrypted bytes into buf. Returns the count (> 0); 0 when the peer
 * has closed (with close_notify or, once the handshake is done, without:
 * the framer copes with a cut message); CANH_TLS_AGAIN with *events set to
 * EPOLLIN or EPOLLOUT, the readiness to wait for (the handshake may need to
 * write, and the socket buffer may be full); or CANH_TLS_FAIL, for good:
 * the caller logs canh_tls_conn_error(), frees the conn and closes the fd.
 * (CANH_EINVAL for a NULL c, buf or events, or n == 0.)
 *
 * Call again after data until CANH_TLS_AGAIN, as with an edge-triggered
 * socket: OpenSSL may hold decrypted bytes the socket no longer shows. With
 * n >= CANH_TLS_RECORD it holds none after a call (read-ahead is off, so it
 * never takes more than one record from the socket, and a record fits in
 * buf), and a level-triggered caller may stop early, for fairness, and
 * will be woken for the rest.
 */
ssize_t canh_tls_read(canh_tls_conn_t *c, void *buf, size_t n, uint32_t *events);

/* Why the conn failed: "plain text on a TLS port (first bytes '<34>1
 * 2026-11-23')", "client certificate required", "client certificate
 * rejected: unable to get local issuer certificate" ...; "" before. */
const char *canh_tls_conn_error(const canh_tls_conn_t *c);

/* 1 once the handshake is done (the connection may then stay quiet). */
int canh_tls_conn_ready(const canh_tls_conn_t *c);

/* The subject CN of the client's verified certificate once the handshake
 * is done, or NULL (no CA configured, no certificate sent, or no CN). */
const char *canh_tls_conn_peer(const canh_tls_conn_t *c);

/* Sends close_notify if the session is up and the socket takes it at once,
 * then frees the conn. Does not close the fd. NULL is ignored. */
void canh_tls_conn_free(canh_tls_conn_t *c);

#endif
