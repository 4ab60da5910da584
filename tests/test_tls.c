/*
 * tests/test_tls.c -- syslog over TLS (engine/input/tls.c). Each test makes a
 * throwaway PKI with the OpenSSL API (a CA, a server and a client
 * certificate it signed, and a client certificate from another CA; EC
 * P-256, PEM files in a mkdtemp directory), runs a real OpenSSL client in
 * a thread, and reads the server side the way the daemon does: a
 * non-blocking socket, read until CANH_TLS_AGAIN, then wait (bounded) for
 * the events canh_tls_read asked for.
 *
 * Covered: bytes out as sent (TLS 1.3 and 1.2, across records, small and
 * record-sized reads), a handshake that must wait to write, the ways a
 * peer leaves (close_notify, none, RST, before a word, mid-handshake),
 * plain text and other non-TLS on the port, client certificates (none,
 * ours, another CA's), bad files named, bad arguments, and 32 connections
 * through one epoll set over loopback TCP. Every wait is bounded.
 *
 * Client threads block SIGPIPE for themselves only: if the server side
 * ever wrote to a closed socket without MSG_NOSIGNAL, the test would die.
 */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "../engine/input/tls.h"

#define WAIT_MS 5000                   /* any single wait in these tests */

/* ---- the throwaway PKI ------------------------------------------------- */

static char dir[] = "/tmp/canh-test-tls-XXXXXX";
static const char *const files[] = { "ca.crt", "server.crt", "server.key", "client.crt",
                                     "client.key", "other.crt", "other.key", "enc.key",
                                     "bigchain.crt" };

/* dir/name, in one of a few buffers (enough for one call's arguments), per
 * thread: the client threads of one test call it at once. */
static const char *path(const char *name)
{
    static _Thread_local char bufs[4][256];
    static _Thread_local int next;
    char *p = bufs[next++ % 4];
    snprintf(p, sizeof(bufs[0]), "%s/%s", dir, name);
    return p;
}

static EVP_PKEY *new_key(void)
{
    EVP_PKEY *k = EVP_EC_gen("P-256");
    cr_assert_not_null(k);
    return k;
}

/* A certificate for key, named cn, signed by issuer (NULL: self-signed CA). */
static X509 *new_cert(const char *cn, EVP_PKEY *key, X509 *issuer, EVP_PKEY *issuer_key)
{
    static long serial = 1;
    X509 *x = X509_new();
    cr_assert_not_null(x);
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), serial++);
    X509_gmtime_adj(X509_getm_notBefore(x), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x), 86400);
    X509_set_pubkey(x, key);
    X509_NAME *name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
    X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name);
    if (!issuer) {
        X509V3_CTX v;
        X509V3_set_ctx_nodb(&v);
        X509V3_set_ctx(&v, x, x, NULL, NULL, 0);
        X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &v, NID_basic_constraints,
                                                  "critical,CA:TRUE");
        cr_assert_not_null(ext);
        X509_add_ext(x, ext, -1);
        X509_EXTENSION_free(ext);
    }
    cr_assert_gt(X509_sign(x, issuer_key ? issuer_key : key, EVP_sha256()), 0);
    return x;
}

static void write_pem(const char *name, X509 *x, EVP_PKEY *k, const char *passphrase)
{
    FILE *f = fopen(path(name), "w");
    cr_assert_not_null(f);
    if (x)
        cr_assert(PEM_write_X509(f, x));
    if (k)
        cr_assert(PEM_write_PrivateKey(f, k, passphrase ? EVP_aes_128_cbc() : NULL, NULL, 0,
                                       NULL, (void *)passphrase));
    fclose(f);
}

static void pki_make(void)
{
    cr_assert_not_null(mkdtemp(dir));
    EVP_PKEY *ca_key = new_key(), *srv_key = new_key(), *cli_key = new_key();
    EVP_PKEY *other_ca_key = new_key(), *other_key = new_key();
    X509 *ca = new_cert("canh test CA", ca_key, NULL, NULL);
    X509 *other_ca = new_cert("another CA", other_ca_key, NULL, NULL);
    X509 *srv = new_cert("localhost", srv_key, ca, ca_key);
    X509 *cli = new_cert("district-01", cli_key, ca, ca_key);
    X509 *other = new_cert("district-01", other_key, other_ca, other_ca_key);
    write_pem("ca.crt", ca, NULL, NULL);
    write_pem("server.crt", srv, NULL, NULL);
    write_pem("server.key", NULL, srv_key, NULL);
    write_pem("client.crt", cli, NULL, NULL);
    write_pem("client.key", NULL, cli_key, NULL);
    write_pem("other.crt", other, NULL, NULL);
    write_pem("other.key", NULL, other_key, NULL);
    write_pem("enc.key", NULL, srv_key, "secret");
    /* the server certificate with 40 copies of the CA: a handshake flight
     * bigger than a small socket buffer */
    FILE *f = fopen(path("bigchain.crt"), "w");
    cr_assert_not_null(f);
    PEM_write_X509(f, srv);
    for (int i = 0; i < 40; i++)
        PEM_write_X509(f, ca);
    fclose(f);
    X509 *certs[] = { ca, other_ca, srv, cli, other };
    EVP_PKEY *keys[] = { ca_key, srv_key, cli_key, other_ca_key, other_key };
    for (size_t i = 0; i < CANH_ARRAY_LEN(certs); i++) {
        X509_free(certs[i]);
        EVP_PKEY_free(keys[i]);
    }
}

static void pki_remove(void)
{
    for (size_t i = 0; i < CANH_ARRAY_LEN(files); i++)
        unlink(path(files[i]));
    rmdir(dir);
}

TestSuite(tls, .init = pki_make, .fini = pki_remove, .timeout = 30);

static canh_tls_server_t *server_with(const char *crt, const char *ca, int require_client_cert)
{
    char err[512] = "";
    canh_tls_server_t *s = canh_tls_server_new("districts", path(crt),
                                               path("server.key"), ca ? path(ca) : NULL,
                                               require_client_cert, err, sizeof(err));
    cr_assert_not_null(s, "%s", err);
    return s;
}

static canh_tls_server_t *server(const char *ca, int require_client_cert)
{
    return server_with("server.crt", ca, require_client_cert);
}

/* ---- the client: blocking OpenSSL, in a thread -------------------------- */

/* Written to by the server side when it waits to write; read by a client
 * that pauses. */
static int go_pipe[2] = { -1, -1 };

typedef struct client {
    int fd;
    const char *crt, *key;         /* the client certificate, or NULL */
    const char *data;              /* what to send */
    size_t len;
    int tcp;                       /* over loopback TCP, not a socketpair */
    int raw;                       /* send data as is, no TLS */
    int tls12;                     /* at most TLS 1.2 (else 1.3 is negotiated) */
    int no_close_notify;           /* leave without close_notify */
    int leave;                     /* close at once instead of waiting for the server */
    int reset;                     /* close with a TCP RST (SO_LINGER 0) */
    int pause;                     /* after the ClientHello, read nothing until the
                                      server waits to write (go_pipe) */
    int sent;                      /* out: handshake done and data written */
} client_t;

static void *client_run(void *arg)
{
    client_t *cl = arg;
    sigset_t sigpipe;
    sigemptyset(&sigpipe);
    sigaddset(&sigpipe, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &sigpipe, NULL);
    struct timeval tv = { WAIT_MS / 1000, 0 };
    setsockopt(cl->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(cl->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    char b[256];
    if (cl->raw) {
        cl->sent = send(cl->fd, cl->data, cl->len, 0) == (ssize_t)cl->len;
        while (!cl->leave && recv(cl->fd, b, sizeof(b), 0) > 0)
            ;
        close(cl->fd);
        return NULL;
    }
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    SSL_CTX_load_verify_locations(ctx, path("ca.crt"), NULL);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);   /* the server's chain must check out */
    if (cl->tls12)
        SSL_CTX_set_max_proto_version(ctx, TLS1_2_VERSION);
    if (cl->crt) {
        SSL_CTX_use_certificate_file(ctx, path(cl->crt), SSL_FILETYPE_PEM);
        SSL_CTX_use_PrivateKey_file(ctx, path(cl->key), SSL_FILETYPE_PEM);
    }
    SSL *ssl = SSL_new(ctx);
    SSL_set_fd(ssl, cl->fd);
    if (cl->pause) {
        struct pollfd go = { .fd = go_pipe[0], .events = POLLIN };
        fcntl(cl->fd, F_SETFL, O_NONBLOCK);
        SSL_connect(ssl);              /* sends the ClientHello, then would block */
        poll(&go, 1, WAIT_MS);
        fcntl(cl->fd, F_SETFL, 0);
    }
    if (SSL_connect(ssl) == 1) {
        size_t off = 0, w;
        while (off < cl->len && SSL_write_ex(ssl, cl->data + off, cl->len - off, &w))
            off += w;
        cl->sent = off == cl->len;
        if (!cl->no_close_notify)
            SSL_shutdown(ssl);
        while (!cl->leave && SSL_read(ssl, b, sizeof(b)) > 0)
            ;
    }
    SSL_free(ssl);
    SSL_CTX_free(ctx);
    struct linger rst = { .l_onoff = 1, .l_linger = 0 };
    if (cl->reset)
        setsockopt(cl->fd, SOL_SOCKET, SO_LINGER, &rst, sizeof(rst));
    close(cl->fd);
    return NULL;
}

/* ---- the server side, read as the daemon reads it ------------------------ */

typedef struct result {
    ssize_t end;                   /* 0 (peer closed) or CANH_TLS_FAIL */
    char *got;                     /* the decrypted bytes */
    size_t len;
    char error[256], peer[256];
    int client_sent;
    int write_waits;               /* CANH_TLS_AGAIN with EPOLLOUT */
} result_t;

static void wait_for(int fd, uint32_t events)
{
    struct pollfd p = { .fd = fd, .events = events == EPOLLOUT ? POLLOUT : POLLIN };
    cr_assert_eq(poll(&p, 1, WAIT_MS), 1, "no readiness within %d ms", WAIT_MS);
}

/*
 * Reads c with a bufsize buffer until the peer closes or fails, or (if
 * expect is not 0) until expect bytes came. one_per_wakeup: wait for the
 * socket before every read, as a level-triggered loop that stops early
 * would; bytes held back inside OpenSSL would then time out.
 */
static void serve(canh_tls_conn_t *c, int fd, size_t bufsize, size_t expect,
                  int one_per_wakeup, result_t *r)
{
    char *buf = malloc(bufsize);
    size_t cap = 1 << 20;
    r->got = malloc(cap);
    r->end = 0;
    cr_assert_not(canh_tls_conn_ready(c), "up before any handshake");
    while (!expect || r->len < expect) {
        if (one_per_wakeup)
            wait_for(fd, EPOLLIN);
        uint32_t events = 0;
        ssize_t n = canh_tls_read(c, buf, bufsize, &events);
        if (n > 0) {
            cr_assert(canh_tls_conn_ready(c), "data before the handshake was done");
            cr_assert_leq(r->len + (size_t)n, cap);
            cr_assert_leq((size_t)n, bufsize);
            memcpy(r->got + r->len, buf, (size_t)n);
            r->len += (size_t)n;
        } else if (n == CANH_TLS_AGAIN) {
            cr_assert(events == EPOLLIN || events == EPOLLOUT);
            if (events == EPOLLOUT && r->write_waits++ == 0 && go_pipe[1] >= 0)
                cr_assert_eq(write(go_pipe[1], "", 1), 1);
            if (!one_per_wakeup || events == EPOLLOUT)
                wait_for(fd, events);
        } else {
            cr_assert(n == 0 || n == CANH_TLS_FAIL, "canh_tls_read returned %zd", n);
            r->end = n;
            break;
        }
    }
    snprintf(r->error, sizeof(r->error), "%s", canh_tls_conn_error(c));
    const char *peer = canh_tls_conn_peer(c);
    snprintf(r->peer, sizeof(r->peer), "%s", peer ? peer : "");
    free(buf);
}

/* A non-blocking listener on 127.0.0.1, on a port the system picks (in *a). */
static int listen_loopback(struct sockaddr_in *a, int backlog)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    *a = (struct sockaddr_in){ .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t alen = sizeof(*a);
    cr_assert_eq(bind(fd, (struct sockaddr *)a, sizeof(*a)), 0);
    cr_assert_eq(listen(fd, backlog), 0);
    cr_assert_eq(getsockname(fd, (struct sockaddr *)a, &alen), 0);
    return fd;
}

/* A connected pair: sv[0] the server's end (non-blocking), sv[1] the client's. */
static void connected_pair(int sv[2], int tcp)
{
    if (tcp) {
        struct sockaddr_in a;
        int l = listen_loopback(&a, 1);
        sv[1] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        cr_assert_eq(connect(sv[1], (struct sockaddr *)&a, sizeof(a)), 0);
        sv[0] = accept4(l, NULL, NULL, SOCK_CLOEXEC);
        cr_assert_geq(sv[0], 0);
        close(l);
    } else {
        cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    }
    cr_assert_eq(fcntl(sv[0], F_SETFL, O_NONBLOCK), 0);
}

/* One connection: cl on one end, s on the other. */
static result_t run_with(canh_tls_server_t *s, client_t cl, size_t bufsize, size_t expect,
                         int one_per_wakeup)
{
    result_t r = { 0 };
    int sv[2];
    connected_pair(sv, cl.tcp);
    if (cl.pause) {
        int small = 4096;
        cr_assert_eq(setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)), 0);
        cr_assert_eq(pipe(go_pipe), 0);
    }
    cl.fd = sv[1];
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, client_run, &cl), 0);
    canh_tls_conn_t *c = canh_tls_conn_new(s, sv[0]);
    cr_assert_not_null(c);
    serve(c, sv[0], bufsize, expect, one_per_wakeup, &r);
    if (cl.leave)       /* the peer is surely gone: close_notify meets a closed socket */
        pthread_join(t, NULL);
    canh_tls_conn_free(c);
    close(sv[0]);
    if (!cl.leave)      /* the client waits for our close */
        pthread_join(t, NULL);
    r.client_sent = cl.sent;
    if (cl.pause) {
        close(go_pipe[0]);
        close(go_pipe[1]);
        go_pipe[0] = go_pipe[1] = -1;
    }
    return r;
}

static result_t run(canh_tls_server_t *s, client_t cl)
{
    return run_with(s, cl, CANH_TLS_RECORD, 0, 0);
}

/* Syslog lines, then one line of 40 KB: several TLS records. */
static char *syslog_lines(size_t *len)
{
    size_t cap = 1 << 17, n = 0;
    char *s = malloc(cap);
    for (int i = 0; i < 300; i++)
        n += (size_t)snprintf(s + n, cap - n, "<34>1 2026-11-23T09:00:%02d.000Z office-%03d "
                              "sshd 4242 - - Failed password for root from 10.0.%d.%d\n",
                              i % 60, i, i / 250, i % 250);
    memcpy(s + n, "<34>1 - big - - - ", 18);
    n += 18;
    memset(s + n, 'x', 40000);
    n += 40000;
    s[n++] = '\n';
    *len = n;
    return s;
}

static void assert_got(const result_t *r, const char *data, size_t len)
{
    cr_assert_eq(r->len, len, "got %zu bytes of %zu", r->len, len);
    cr_assert(memcmp(r->got, data, len) == 0, "the bytes differ");
}

static const char line[] = "<34>1 - district-01 app - - - hello\n";

/* ---- bytes in, bytes out -------------------------------------------------- */

Test(tls, bytes_come_out_as_sent_across_records)
{
    canh_tls_server_t *s = server(NULL, 0);
    size_t len;
    char *data = syslog_lines(&len);
    cr_assert_gt(len, 3 * CANH_TLS_RECORD);
    for (int tls12 = 0; tls12 <= 1; tls12++) {
        result_t r = run(s, (client_t){ .data = data, .len = len, .tls12 = tls12 });
        cr_assert(r.client_sent);
        cr_assert_eq(r.end, 0, "TLS 1.%d: %s", tls12 ? 2 : 3, r.error);
        assert_got(&r, data, len);
        cr_assert_str_eq(r.error, "");
        cr_assert_str_eq(r.peer, "", "no CA configured: no client certificate asked for");
        free(r.got);
    }
    free(data);
    canh_tls_server_free(s);
}

Test(tls, small_reads_drain_what_openssl_holds)
{
    canh_tls_server_t *s = server(NULL, 0);
    size_t len;
    char *data = syslog_lines(&len);
    result_t r = run_with(s, (client_t){ .data = data, .len = len }, 100, 0, 0);
    cr_assert_eq(r.end, 0, "%s", r.error);
    assert_got(&r, data, len);
    free(r.got);
    free(data);
    canh_tls_server_free(s);
}

/* run.c reads a bounded number of times per wake-up and relies on the
 * socket to wake it again: with a record-sized buffer, OpenSSL must hold
 * nothing back. The client sends no close_notify here: it would wake us. */
Test(tls, record_sized_reads_leave_nothing_inside_openssl)
{
    canh_tls_server_t *s = server(NULL, 0);
    size_t len;
    char *data = syslog_lines(&len);
    result_t r = run_with(s, (client_t){ .data = data, .len = len, .no_close_notify = 1 },
                          CANH_TLS_RECORD, len, 1);
    assert_got(&r, data, len);
    free(r.got);
    free(data);
    canh_tls_server_free(s);
}

/* The server's first flight does not fit the socket buffer and the client
 * reads nothing yet: the handshake asks to wait for EPOLLOUT, and goes on. */
Test(tls, handshake_waits_to_write_when_the_socket_is_full)
{
    canh_tls_server_t *s = server_with("bigchain.crt", NULL, 0);
    for (int tls12 = 0; tls12 <= 1; tls12++) {
        result_t r = run(s, (client_t){ .data = line, .len = sizeof(line) - 1, .pause = 1,
                                        .tls12 = tls12 });
        cr_assert_eq(r.end, 0, "TLS 1.%d: %s", tls12 ? 2 : 3, r.error);
        cr_assert_gt(r.write_waits, 0);
        assert_got(&r, line, sizeof(line) - 1);
        free(r.got);
    }
    canh_tls_server_free(s);
}

/* ---- ends ------------------------------------------------------------------ */

Test(tls, clean_close_reads_zero)
{
    canh_tls_server_t *s = server(NULL, 0);
    const char msg[] = "<34>1 2026-11-23T09:00:00Z soc app - - - last words\n";
    /* leave: gone before our close_notify, which must fail quietly (no SIGPIPE) */
    result_t r = run(s, (client_t){ .data = msg, .len = sizeof(msg) - 1, .leave = 1 });
    cr_assert_eq(r.end, 0, "%s", r.error);
    assert_got(&r, msg, sizeof(msg) - 1);
    free(r.got);
    canh_tls_server_free(s);
}

Test(tls, close_without_close_notify_after_handshake_reads_zero)
{
    canh_tls_server_t *s = server(NULL, 0);
    const char msg[] = "<34>1 - soc app - - - cut\n";
    result_t r = run(s, (client_t){ .data = msg, .len = sizeof(msg) - 1,
                                    .no_close_notify = 1, .leave = 1 });
    cr_assert_eq(r.end, 0, "%s", r.error);
    assert_got(&r, msg, sizeof(msg) - 1);
    free(r.got);
    canh_tls_server_free(s);
}

Test(tls, reset_by_peer_fails_with_the_system_reason)
{
    canh_tls_server_t *s = server(NULL, 0);
    result_t r = run(s, (client_t){ .tcp = 1, .data = line, .len = sizeof(line) - 1,
                                    .no_close_notify = 1, .leave = 1, .reset = 1 });
    cr_assert(r.client_sent);
    cr_assert_eq(r.end, CANH_TLS_FAIL);
    cr_assert_str_eq(r.error, "Connection reset by peer", "%zu bytes, %s", r.len, r.error);
    free(r.got);
    canh_tls_server_free(s);
}

Test(tls, connect_and_leave_reads_zero)
{
    canh_tls_server_t *s = server(NULL, 0);
    result_t r = run(s, (client_t){ .raw = 1, .data = "", .len = 0, .leave = 1 });
    cr_assert_eq(r.end, 0, "a port check is no error: %s", r.error);
    cr_assert_eq(r.len, 0);
    free(r.got);
    canh_tls_server_free(s);
}

Test(tls, closed_during_handshake_fails)
{
    canh_tls_server_t *s = server(NULL, 0);
    /* a handshake record header announcing 80 bytes, then nothing */
    result_t r = run(s, (client_t){ .raw = 1, .data = "\x16\x03\x01\x00\x50", .len = 5,
                                    .leave = 1 });
    cr_assert_eq(r.end, CANH_TLS_FAIL);
    cr_assert_str_eq(r.error, "connection closed during the TLS handshake");
    free(r.got);
    canh_tls_server_free(s);
}

/* ---- not TLS at all --------------------------------------------------------- */

Test(tls, plain_text_is_refused_with_what_it_sent)
{
    canh_tls_server_t *s = server(NULL, 0);
    const char msg[] = "<34>1 2026-11-23T09:00:00Z soc sshd - - - Failed password\n";
    result_t r = run(s, (client_t){ .raw = 1, .data = msg, .len = sizeof(msg) - 1 });
    cr_assert(r.client_sent);
    cr_assert_eq(r.end, CANH_TLS_FAIL);
    cr_assert_eq(r.len, 0, "nothing of it reaches the framer");
    cr_assert_str_eq(r.error, "plain text on a TLS port (first bytes '<34>1 2026-11-23')");
    free(r.got);

    r = run(s, (client_t){ .raw = 1, .data = "57 <34>1 -\nx", .len = 12 });
    cr_assert_eq(r.end, CANH_TLS_FAIL);
    cr_assert_str_eq(r.error, "plain text on a TLS port (first bytes '57 <34>1 -')",
                     "an octet count; the quote stops at the newline");
    free(r.got);
    canh_tls_server_free(s);
}

Test(tls, binary_that_is_not_tls_is_refused)
{
    canh_tls_server_t *s = server(NULL, 0);
    result_t r = run(s, (client_t){ .raw = 1, .data = "\x80\x2e\x01\x03\x01", .len = 5 });
    cr_assert_eq(r.end, CANH_TLS_FAIL);
    cr_assert_str_eq(r.error, "not TLS on a TLS port (first byte 0x80)");
    free(r.got);
    canh_tls_server_free(s);
}

/* ---- client certificates: TLS 1.3 and 1.2 fail in different places ---------- */

Test(tls, required_client_cert_missing_is_refused)
{
    canh_tls_server_t *s = server("ca.crt", 1);
    for (int tls12 = 0; tls12 <= 1; tls12++) {
        result_t r = run(s, (client_t){ .data = line, .len = sizeof(line) - 1, .tls12 = tls12 });
        cr_assert_eq(r.end, CANH_TLS_FAIL, "TLS 1.%d", tls12 ? 2 : 3);
        cr_assert_eq(r.len, 0);
        cr_assert_str_eq(r.error, "client certificate required");
        free(r.got);
    }
    canh_tls_server_free(s);
}

Test(tls, client_cert_from_our_ca_is_accepted_and_named)
{
    canh_tls_server_t *s = server("ca.crt", 1);
    for (int tls12 = 0; tls12 <= 1; tls12++) {
        result_t r = run(s, (client_t){ .crt = "client.crt", .key = "client.key", .data = line,
                                        .len = sizeof(line) - 1, .tls12 = tls12 });
        cr_assert_eq(r.end, 0, "TLS 1.%d: %s", tls12 ? 2 : 3, r.error);
        assert_got(&r, line, sizeof(line) - 1);
        cr_assert_str_eq(r.peer, "district-01");
        free(r.got);
    }
    canh_tls_server_free(s);
}

Test(tls, client_cert_from_another_ca_is_refused)
{
    canh_tls_server_t *s = server("ca.crt", 1);
    for (int tls12 = 0; tls12 <= 1; tls12++) {
        result_t r = run(s, (client_t){ .crt = "other.crt", .key = "other.key", .data = line,
                                        .len = sizeof(line) - 1, .tls12 = tls12 });
        cr_assert_eq(r.end, CANH_TLS_FAIL, "TLS 1.%d", tls12 ? 2 : 3);
        cr_assert_eq(r.len, 0);
        cr_assert_str_eq(r.error,
                         "client certificate rejected: unable to get local issuer certificate");
        cr_assert_str_eq(r.peer, "", "same CN as ours, but not ours");
        free(r.got);
    }
    canh_tls_server_free(s);
}

Test(tls, ca_without_require_checks_only_certificates_sent)
{
    canh_tls_server_t *s = server("ca.crt", 0);
    result_t r = run(s, (client_t){ .data = line, .len = sizeof(line) - 1 });
    cr_assert_eq(r.end, 0, "no certificate is fine: %s", r.error);
    assert_got(&r, line, sizeof(line) - 1);
    cr_assert_str_eq(r.peer, "");
    free(r.got);
    r = run(s, (client_t){ .crt = "other.crt", .key = "other.key", .data = line,
                           .len = sizeof(line) - 1 });
    cr_assert_eq(r.end, CANH_TLS_FAIL, "a certificate sent must chain to the CA");
    free(r.got);
    canh_tls_server_free(s);
}

/* ---- configuration errors name the file ------------------------------------- */

static void assert_refused(const char *cert, const char *key, const char *ca, int require,
                           const char *want)
{
    char err[512] = "";
    canh_tls_server_t *s = canh_tls_server_new("districts", cert, key, ca, require, err,
                                               sizeof(err));
    cr_assert_null(s);
    cr_assert_str_eq(err, want);
}

Test(tls, bad_files_are_named)
{
    char want[1024], crt[256], key[256], missing[256];
    snprintf(crt, sizeof(crt), "%s", path("server.crt"));
    snprintf(key, sizeof(key), "%s", path("server.key"));
    snprintf(missing, sizeof(missing), "%s", path("missing.crt"));

    snprintf(want, sizeof(want), "input districts: cannot load certificate %s: "
             "No such file or directory", missing);
    assert_refused(missing, key, NULL, 0, want);

    snprintf(want, sizeof(want), "input districts: cannot load certificate %s: "
             "no PEM certificate in it", key);
    assert_refused(key, key, NULL, 0, want);

    snprintf(want, sizeof(want), "input districts: key %s does not match certificate %s",
             path("client.key"), crt);
    assert_refused(crt, path("client.key"), NULL, 0, want);

    snprintf(want, sizeof(want), "input districts: cannot load key %s: "
             "it is encrypted; canh needs it unencrypted", path("enc.key"));
    assert_refused(crt, path("enc.key"), NULL, 0, want);

    snprintf(want, sizeof(want), "input districts: cannot load key %s: no PEM key in it", crt);
    assert_refused(crt, crt, NULL, 0, want);

    snprintf(want, sizeof(want), "input districts: cannot load CA certificate %s: "
             "no PEM CA certificate in it", key);
    assert_refused(crt, key, key, 1, want);

    snprintf(want, sizeof(want), "input districts: cannot load CA certificate %s: "
             "No such file or directory", missing);
    assert_refused(crt, key, missing, 0, want);
}

Test(tls, bad_arguments)
{
    char err[256];
    cr_assert_null(canh_tls_server_new("d", NULL, "k", NULL, 0, err, sizeof(err)));
    cr_assert_str_eq(err, "input d: a tls input needs a certificate and a key");
    cr_assert_null(canh_tls_server_new("d", "c", "k", NULL, 1, err, sizeof(err)));
    cr_assert_str_eq(err, "input d: require_client_cert needs a CA bundle (tls.ca) to check "
                     "client certificates against");
    canh_tls_server_t *s = server(NULL, 0);
    cr_assert_null(canh_tls_conn_new(NULL, 0));
    cr_assert_null(canh_tls_conn_new(s, -1));
    int sv[2];
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    canh_tls_conn_t *c = canh_tls_conn_new(s, sv[0]);
    char buf[16];
    uint32_t ev;
    cr_assert_eq(canh_tls_read(NULL, buf, sizeof(buf), &ev), CANH_EINVAL);
    cr_assert_eq(canh_tls_read(c, NULL, sizeof(buf), &ev), CANH_EINVAL);
    cr_assert_eq(canh_tls_read(c, buf, 0, &ev), CANH_EINVAL);
    cr_assert_eq(canh_tls_read(c, buf, sizeof(buf), NULL), CANH_EINVAL);
    cr_assert_eq(canh_tls_read(c, buf, sizeof(buf), &ev), CANH_TLS_AGAIN, "nothing sent yet");
    cr_assert_eq(ev, EPOLLIN);
    cr_assert_str_eq(canh_tls_conn_error(c), "");
    cr_assert_null(canh_tls_conn_peer(c));
    canh_tls_conn_free(c);
    canh_tls_conn_free(NULL);
    canh_tls_server_free(NULL);
    close(sv[0]);
    close(sv[1]);
    canh_tls_server_free(s);
}

/* ---- many connections through one epoll set, as run.c will hold them ---------- */

typedef struct slot {
    int fd;
    canh_tls_conn_t *c;
    uint32_t events;               /* what epoll waits for on fd */
    size_t bytes;
} slot_t;

Test(tls, many_connections_through_one_epoll_set)
{
    enum { N = 32, LINES = 100 };
    canh_tls_server_t *s = server("ca.crt", 1);
    char data[LINES * 64];
    size_t len = 0;
    for (int i = 0; i < LINES; i++)
        len += (size_t)snprintf(data + len, sizeof(data) - len, "<34>1 - office app - - - %d\n", i);

    struct sockaddr_in a;
    int lfd = listen_loopback(&a, N);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event lev = { .events = EPOLLIN, .data.ptr = NULL };
    cr_assert_eq(epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &lev), 0);

    static client_t cls[N];
    static slot_t slots[N];
    pthread_t th[N];
    for (int i = 0; i < N; i++) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        cr_assert_eq(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
        cls[i] = (client_t){ .fd = fd, .crt = "client.crt", .key = "client.key",
                             .data = data, .len = len };
        cr_assert_eq(pthread_create(&th[i], NULL, client_run, &cls[i]), 0);
    }

    int accepted = 0, done = 0;
    char buf[CANH_TLS_RECORD];
    struct epoll_event evs[64];
    int64_t deadline = canh_mono_ns() + 20 * (int64_t)1000000000;
    while (done < N) {
        cr_assert_lt(canh_mono_ns(), deadline, "%d of %d connections done", done, N);
        int n = epoll_wait(ep, evs, 64, 1000);
        for (int i = 0; i < n; i++) {
            slot_t *sl = evs[i].data.ptr;
            if (!sl) {                     /* the listener */
                int fd;
                while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
                    cr_assert_lt(accepted, N);
                    sl = &slots[accepted++];
                    *sl = (slot_t){ .fd = fd, .c = canh_tls_conn_new(s, fd), .events = EPOLLIN };
                    cr_assert_not_null(sl->c);
                    struct epoll_event ev = { .events = EPOLLIN, .data.ptr = sl };
                    cr_assert_eq(epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev), 0);
                }
                continue;
            }
            uint32_t want;
            ssize_t got;
            while ((got = canh_tls_read(sl->c, buf, sizeof(buf), &want)) > 0)
                sl->bytes += (size_t)got;
            if (got == CANH_TLS_AGAIN) {
                if (want != sl->events) {  /* the handshake wants to write, or is done with it */
                    struct epoll_event ev = { .events = want, .data.ptr = sl };
                    cr_assert_eq(epoll_ctl(ep, EPOLL_CTL_MOD, sl->fd, &ev), 0);
                    sl->events = want;
                }
                continue;
            }
            cr_assert_eq(got, 0, "%s", canh_tls_conn_error(sl->c));
            cr_assert_eq(sl->bytes, len);
            cr_assert_not_null(canh_tls_conn_peer(sl->c));
            cr_assert_str_eq(canh_tls_conn_peer(sl->c), "district-01");
            canh_tls_conn_free(sl->c);
            close(sl->fd);                 /* also takes it out of the epoll set */
            done++;
        }
    }
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        cr_assert(cls[i].sent);
    }
    close(ep);
    close(lfd);
    canh_tls_server_free(s);
}
