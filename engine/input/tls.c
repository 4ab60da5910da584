/*
 * engine/input/tls.c -- syslog over TLS (RFC 5425): OpenSSL on non-blocking
 * sockets, for the daemon's epoll loop.
 *
 * Runs on the daemon's input thread. A server is an SSL_CTX: TLS 1.2 at
 * least, no renegotiation (a cheap way for a client to make us work), no
 * session cache or tickets (every sender authenticates in full; thousands
 * of idle connections keep no sessions), and SSL_MODE_RELEASE_BUFFERS so an
 * idle connection holds no 16 KiB record buffers.
 *
 * A conn talks to its socket through a small BIO of our own rather than
 * OpenSSL's socket BIO, for two things: send() with MSG_NOSIGNAL, so a
 * peer gone away is an error and not a SIGPIPE, and a clean "end of
 * stream" answer to OpenSSL. Before any byte goes to OpenSSL, the first
 * bytes are peeked (MSG_PEEK): a TLS client starts with a handshake record
 * (0x16); anything else is a sender that was not told to use TLS, and it
 * is refused with a reason that quotes it.
 *
 * OpenSSL's error queue is per thread and shared by every conn: it is
 * cleared before each call into OpenSSL, so a reason never comes from
 * another connection. Ownership: the server owns its SSL_CTX and BIO
 * method; a conn owns its SSL (and through it the BIO) and borrows the fd.
 */
#include "tls.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#define TLS_HANDSHAKE_RECORD 0x16
#define QUOTE_MAX 16              /* bytes of a plain-text sender quoted */

struct canh_tls_server {
    SSL_CTX *ctx;
    BIO_METHOD *bio;
};

/* A conn's life: NEW until its first byte shows TLS, HANDSHAKE, UP; then
 * ENDED when the peer left without close_notify (no close_notify back, as
 * OpenSSL forbids after a fatal error), or FAILED. */
enum { CONN_NEW, CONN_HANDSHAKE, CONN_UP, CONN_ENDED, CONN_FAILED };

struct canh_tls_conn {
    SSL *ssl;
    int fd;
    int state;                    /* CONN_* */
    int eof;                      /* the last recv() returned 0 (BIO_CTRL_EOF) */
    int sys_errno;                /* errno of the last failed send() or recv() */
    char peer[256];               /* subject CN of the verified client certificate */
    char error[192];              /* why the conn failed; "" while it has not */
};

/* ---- the socket BIO ---------------------------------------------------- */

static int io_result(BIO *b, canh_tls_conn_t *c, ssize_t k, int writing)
{
    BIO_clear_retry_flags(b);
    if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
        if (writing)
            BIO_set_retry_write(b);
        else
            BIO_set_retry_read(b);
    } else if (k < 0) {
        c->sys_errno = errno;
    }
    return (int)k;
}

static int bio_write(BIO *b, const char *buf, int n)
{
    canh_tls_conn_t *c = BIO_get_data(b);
    return io_result(b, c, send(c->fd, buf, (size_t)n, MSG_NOSIGNAL), 1);
}

static int bio_read(BIO *b, char *buf, int n)
{
    canh_tls_conn_t *c = BIO_get_data(b);
    ssize_t k = recv(c->fd, buf, (size_t)n, 0);
    c->eof = k == 0;
    return io_result(b, c, k, 0);
}

static long bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    canh_tls_conn_t *c = BIO_get_data(b);
    return cmd == BIO_CTRL_FLUSH ? 1 : cmd == BIO_CTRL_EOF ? c->eof : 0;
}

/* ---- the server -------------------------------------------------------- */

/* An encrypted key is refused instead of prompting on the terminal. */
static int no_passphrase(char *buf, int size, int rwflag, void *ud)
{
    return -1;
}

/* "input NAME: cannot load WHAT PATH: REASON", REASON from the oldest error
 * OpenSSL queued (the most precise one), in words a user can act on. */
static void load_error(char *err, size_t errlen, const char *name, const char *what,
                       const char *path)
{
    unsigned long first = ERR_peek_error(), e;
    int encrypted = 0;
    while ((e = ERR_get_error()))
        encrypted |= ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_BAD_PASSWORD_READ;
    int lib = ERR_GET_LIB(first), r = ERR_GET_REASON(first);
    const char *reason = ERR_reason_error_string(first);
    char nopem[64];
    if (encrypted)
        reason = "it is encrypted; canh needs it unencrypted";
    else if (ERR_SYSTEM_ERROR(first))
        reason = strerror(r);
    else if ((lib == ERR_LIB_PEM && r == PEM_R_NO_START_LINE) || lib == ERR_LIB_OSSL_DECODER ||
             (lib == ERR_LIB_X509 && r == X509_R_NO_CERTIFICATE_OR_CRL_FOUND)) {
        snprintf(nopem, sizeof(nopem), "no PEM %s in it", what);
        reason = nopem;
    }
    snprintf(err, errlen, "input %s: cannot load %s %s: %s", name, what, path,
             reason ? reason : "unknown OpenSSL error");
}

canh_tls_server_t *canh_tls_server_new(const char *name, const char *cert, const char *key,
                                       const char *ca, int require_client_cert,
                                       char *err, size_t errlen)
{
    if (!name || !cert || !key) {
        snprintf(err, errlen, "input %s: a tls input needs a certificate and a key",
                 name ? name : "?");
        return NULL;
    }
    if (require_client_cert && !ca) {
        snprintf(err, errlen, "input %s: require_client_cert needs a CA bundle (tls.ca) to "
                 "check client certificates against", name);
        return NULL;
    }
    ERR_clear_error();
    canh_tls_server_t *s = calloc(1, sizeof(*s));
    if (!s || !(s->ctx = SSL_CTX_new(TLS_server_method())) ||
        !(s->bio = BIO_meth_new(BIO_TYPE_SOURCE_SINK, "canh socket")) ||
        !BIO_meth_set_write(s->bio, bio_write) || !BIO_meth_set_read(s->bio, bio_read) ||
        !BIO_meth_set_ctrl(s->bio, bio_ctrl)) {
        snprintf(err, errlen, "input %s: out of memory", name);
        goto fail;
    }
    SSL_CTX_set_min_proto_version(s->ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(s->ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_TICKET);
    SSL_CTX_set_num_tickets(s->ctx, 0);
    SSL_CTX_set_session_cache_mode(s->ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_mode(s->ctx, SSL_MODE_RELEASE_BUFFERS);
    SSL_CTX_set_default_passwd_cb(s->ctx, no_passphrase);

    if (SSL_CTX_use_certificate_chain_file(s->ctx, cert) != 1) {
        load_error(err, errlen, name, "certificate", cert);
        goto fail;
    }
    if (SSL_CTX_use_PrivateKey_file(s->ctx, key, SSL_FILETYPE_PEM) != 1) {
        unsigned long e = ERR_peek_error();
        if (ERR_GET_LIB(e) == ERR_LIB_X509 && ERR_GET_REASON(e) == X509_R_KEY_VALUES_MISMATCH)
            snprintf(err, errlen, "input %s: key %s does not match certificate %s", name, key,
                     cert);
        else
            load_error(err, errlen, name, "key", key);
        goto fail;
    }
    if (ca) {
        STACK_OF(X509_NAME) *names = NULL;
        if (SSL_CTX_load_verify_locations(s->ctx, ca, NULL) != 1 ||
            !(names = SSL_load_client_CA_file(ca))) {
            load_error(err, errlen, name, "CA certificate", ca);
            goto fail;
        }
        SSL_CTX_set_client_CA_list(s->ctx, names);   /* takes names */
        SSL_CTX_set_verify(s->ctx, SSL_VERIFY_PEER |
                           (require_client_cert ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0), NULL);
    }
    return s;
fail:
    ERR_clear_error();
    canh_tls_server_free(s);
    return NULL;
}

void canh_tls_server_free(canh_tls_server_t *s)
{
    if (!s)
        return;
    SSL_CTX_free(s->ctx);
    BIO_meth_free(s->bio);
    free(s);
}

/* ---- connections ------------------------------------------------------- */

canh_tls_conn_t *canh_tls_conn_new(canh_tls_server_t *s, int fd)
{
    if (!s || fd < 0)
        return NULL;
    ERR_clear_error();
    canh_tls_conn_t *c = calloc(1, sizeof(*c));
    BIO *b = NULL;
    if (!c || !(c->ssl = SSL_new(s->ctx)) || !(b = BIO_new(s->bio))) {
        if (c)
            SSL_free(c->ssl);
        free(c);
        ERR_clear_error();
        return NULL;
    }
    c->fd = fd;
    BIO_set_data(b, c);
    BIO_set_init(b, 1);
    SSL_set_bio(c->ssl, b, b);   /* the SSL takes b */
    SSL_set_accept_state(c->ssl);
    return c;
}

__attribute__((format(printf, 2, 3)))
static ssize_t fail(canh_tls_conn_t *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->error, sizeof(c->error), fmt, ap);
    va_end(ap);
    c->state = CONN_FAILED;
    return CANH_TLS_FAIL;
}

/* Peeks at what the peer sent first. Returns 1 for a TLS handshake record,
 * else what canh_tls_read returns. Peeking leaves the bytes for OpenSSL. */
static ssize_t check_first_bytes(canh_tls_conn_t *c)
{
    unsigned char p[QUOTE_MAX];
    ssize_t k = recv(c->fd, p, sizeof(p), MSG_PEEK | MSG_DONTWAIT);
    if (k < 0)
        return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR
                   ? CANH_TLS_AGAIN : fail(c, "%s", strerror(errno));
    if (k == 0)
        return 0;                 /* connected and left without a word: a port check */
    if (p[0] == TLS_HANDSHAKE_RECORD) {
        c->state = CONN_HANDSHAKE;
        return 1;
    }
    int q = 0;
    while (q < k && p[q] >= 0x20 && p[q] < 0x7f)
        q++;
    if (!q)
        return fail(c, "not TLS on a TLS port (first byte 0x%02x)", p[0]);
    return fail(c, "plain text on a TLS port (first bytes '%.*s')", q, (const char *)p);
}

/* Takes the subject CN of a verified client certificate, control bytes
 * made '?' (it goes into canh's log). */
static void take_peer(canh_tls_conn_t *c)
{
    X509 *x = SSL_get0_peer_certificate(c->ssl);
    if (!x || SSL_get_verify_result(c->ssl) != X509_V_OK ||
        X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, c->peer,
                                  sizeof(c->peer)) < 0) {
        c->peer[0] = '\0';
        return;
    }
    for (char *p = c->peer; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = '?';
}

/* SSL_read failed with ssl_error: the reason, or 0 for a peer that left
 * without close_notify once the session was up. */
static ssize_t read_failed(canh_tls_conn_t *c, int ssl_error)
{
    unsigned long e = ERR_peek_error();
    int r = ERR_GET_LIB(e) == ERR_LIB_SSL ? ERR_GET_REASON(e) : 0;
    long v = SSL_get_verify_result(c->ssl);
    if (r == SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE)
        return fail(c, "client certificate required");
    if (v != X509_V_OK)
        return fail(c, "client certificate rejected: %s", X509_verify_cert_error_string(v));
    if (r == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
        if (c->state != CONN_UP)
            return fail(c, "connection closed during the TLS handshake");
        c->state = CONN_ENDED;
        return 0;
    }
    if (ssl_error == SSL_ERROR_SYSCALL && c->sys_errno)
        return fail(c, "%s", strerror(c->sys_errno));
    const char *why = e ? ERR_reason_error_string(e) : NULL;
    return fail(c, "%s: %s", c->state == CONN_UP ? "TLS error" : "TLS handshake failed",
                why ? why : "unknown OpenSSL error");
}

ssize_t canh_tls_read(canh_tls_conn_t *c, void *buf, size_t n, uint32_t *events)
{
    if (!c || !buf || !n || !events)
        return CANH_EINVAL;
    *events = EPOLLIN;
    if (c->state == CONN_FAILED)
        return CANH_TLS_FAIL;
    if (c->state == CONN_ENDED)
        return 0;
    if (c->state == CONN_NEW) {
        ssize_t rc = check_first_bytes(c);
        if (rc != 1)
            return rc;
    }
    ERR_clear_error();
    size_t got = 0;
    int ok = SSL_read_ex(c->ssl, buf, n, &got);
    if (c->state == CONN_HANDSHAKE && SSL_is_init_finished(c->ssl)) {
        c->state = CONN_UP;
        take_peer(c);
    }
    if (ok)
        return (ssize_t)got;
    int ssl_error = SSL_get_error(c->ssl, 0);
    switch (ssl_error) {
    case SSL_ERROR_WANT_READ:
        return CANH_TLS_AGAIN;
    case SSL_ERROR_WANT_WRITE:
        *events = EPOLLOUT;
        return CANH_TLS_AGAIN;
    case SSL_ERROR_ZERO_RETURN:
        return 0;
    default: {
        ssize_t rc = read_failed(c, ssl_error);
        ERR_clear_error();
        return rc;
    }
    }
}

const char *canh_tls_conn_error(const canh_tls_conn_t *c)
{
    return c ? c->error : "";
}

int canh_tls_conn_ready(const canh_tls_conn_t *c)
{
    return c && c->state == CONN_UP;
}

const char *canh_tls_conn_peer(const canh_tls_conn_t *c)
{
    return c && c->peer[0] ? c->peer : NULL;
}

void canh_tls_conn_free(canh_tls_conn_t *c)
{
    if (!c)
        return;
    ERR_clear_error();
    if (c->state == CONN_UP)
        SSL_shutdown(c->ssl);     /* one try: close_notify if the socket takes it */
    SSL_free(c->ssl);
    ERR_clear_error();
    free(c);
}
