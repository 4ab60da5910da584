/*
 * parsers/app/tls.c -- TLS (RFC 8446, 5246) records and hellos: the
 * ClientHello's version, SNI (RFC 6066), ALPN (RFC 7301), JA3 string and
 * MD5, JA4; the ServerHello's version.
 *
 * Each direction is read as records (5-byte header, then at most 2^14 +
 * 2048 bytes); the payload of handshake records is gathered into the
 * direction's handshake buffer, across records and segments, until a whole
 * handshake message (4-byte header) is there: a hello is parsed, others are
 * dropped. The buffer grows once per flow up to the message's size, at most
 * CANH_TLS_HS_MAX. Once a direction's hello is parsed, the rest of that
 * direction is skipped; once both are, the flow is done (CANH_APP_DONE).
 *
 * JA3 (salesforce/ja3): "SSLVersion,Ciphers,Extensions,EllipticCurves,
 * EllipticCurvePointFormats", decimal values joined by '-', GREASE values
 * (RFC 8701: 0x?A?A with equal bytes) left out; its MD5 in lower-case hex.
 * JA4 (FoxIO JA4 technical details): "t13d1516h2_" + the first 12 hex of
 * SHA-256 of the sorted cipher list + "_" + the first 12 hex of SHA-256 of
 * the sorted extensions (SNI and ALPN left out) "_" the signature
 * algorithms in their order; GREASE left out everywhere.
 *
 * Thread: a flow's TLS state belongs to the worker that owns the flow.
 */
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../engine/canh.h"
#include "app_internal.h"
#include "tls.h"

#define TLS_REC_HDR 5
#define TLS_REC_MAX (16384 + 2048)
#define TLS_CT_CCS 20
#define TLS_CT_ALERT 21
#define TLS_CT_HANDSHAKE 22
#define TLS_CT_APPDATA 23
#define TLS_CT_HEARTBEAT 24
#define TLS_HS_CLIENT_HELLO 1
#define TLS_HS_SERVER_HELLO 2

struct tls_dir {
    uint8_t hdr[TLS_REC_HDR];
    size_t hdr_n;
    size_t rec_left;            /* bytes of the current record's payload still to come */
    uint8_t rec_type;
    uint8_t *hs;                /* handshake bytes gathered */
    size_t hs_n, hs_cap;
    int done, failed;
};

struct canh_tls {
    struct tls_dir dir[2];
    canh_tls_hello_t hello;
    char version[8], sversion[8];
};

static __thread canh_tls_counts_t tls_counts;

canh_tls_counts_t *canh_tls_thread_counts(void) { return &tls_counts; }

static const char *const tls_error_names[] = {
#define CANH_X(e, s) s,
    CANH_TLS_ERRORS(CANH_X)
#undef CANH_X
};

const char *canh_tls_error_name(int reason)
{
    return reason >= 0 && reason < CANH_TLS_E__COUNT ? tls_error_names[reason] : "?";
}

static int tls_fail(int reason)
{
    tls_counts.errors[reason]++;
    return CANH_EPARSE;
}

static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }

static int grease(uint16_t v)
{
    return (v & 0x0F0F) == 0x0A0A && (v >> 8) == (v & 0xFF);
}

const char *canh_tls_version_name(uint16_t v, char buf[8])
{
    switch (v) {
    case 0x0002: return "SSLv2";
    case 0x0300: return "SSLv3";
    case 0x0301: return "TLS 1.0";
    case 0x0302: return "TLS 1.1";
    case 0x0303: return "TLS 1.2";
    case 0x0304: return "TLS 1.3";
    default:
        snprintf(buf, 8, "0x%04x", v);
        return buf;
    }
}

static const char *ja4_version(uint16_t v)
{
    switch (v) {
    case 0x0304: return "13";
    case 0x0303: return "12";
    case 0x0302: return "11";
    case 0x0301: return "10";
    case 0x0300: return "s3";
    case 0x0002: return "s2";
    case 0xfeff: return "d1";
    case 0xfefd: return "d2";
    case 0xfefc: return "d3";
    default: return "00";
    }
}

/* A growing text, bounded by the cap given at its start. */
typedef struct { char *p; size_t n, cap; } tls_str_t;

static void str_add(tls_str_t *s, const char *fmt, unsigned v)
{
    if (s->n < s->cap)
        s->n += (size_t)snprintf(s->p + s->n, s->cap - s->n, fmt, v);
    if (s->n >= s->cap)
        s->n = s->cap - 1;
}

static int u16_cmp(const void *a, const void *b)
{
    return (int)*(const uint16_t *)a - (int)*(const uint16_t *)b;
}

/* First 12 hex characters of SHA-256 of s into out (13 bytes). */
static int sha256_12(const char *s, size_t n, char *out)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned mdlen = 0;
    if (!EVP_Digest(s, n, md, &mdlen, EVP_sha256(), NULL))
        return CANH_ENOMEM;
    for (int i = 0; i < 6; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
    return CANH_OK;
}

static int alnum(uint8_t c)
{
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

void canh_tls_hello_clear(canh_tls_hello_t *h)
{
    free(h->ja3);
    memset(h, 0, sizeof(*h));
}

int canh_tls_client_hello(const uint8_t *b, size_t len, char kind, canh_tls_hello_t *h)
{
    canh_tls_hello_clear(h);
    /* legacy_version, random, session_id */
    if (len < 2 + 32 + 1)
        return tls_fail(CANH_TLS_E_HELLO);
    h->legacy_version = rd16(b);
    size_t off = 34;
    size_t sid = b[off++];
    if (sid > 32 || off + sid + 2 > len)
        return tls_fail(CANH_TLS_E_HELLO);
    off += sid;
    if (kind == 'd') {          /* DTLS: a cookie follows the session id */
        if (off + 1 > len || off + 1 + b[off] + 2 > len)
            return tls_fail(CANH_TLS_E_HELLO);
        off += 1 + (size_t)b[off];
    }
    size_t cs_len = rd16(b + off);
    off += 2;
    if ((cs_len & 1) || off + cs_len + 1 > len)
        return tls_fail(CANH_TLS_E_HELLO);
    const uint8_t *cs = b + off;
    off += cs_len;
    size_t comp = b[off++];
    if (off + comp > len)
        return tls_fail(CANH_TLS_E_HELLO);
    off += comp;
    const uint8_t *ext = NULL;
    size_t ext_len = 0;
    if (off < len) {            /* what follows the compression methods is extensions */
        if (off + 2 > len)
            return tls_fail(CANH_TLS_E_HELLO);
        ext_len = rd16(b + off);
        off += 2;
        if (off + ext_len > len)
            return tls_fail(CANH_TLS_E_HELLO);
        ext = b + off;
    }
    /* the extensions: check their framing, pick out what the fingerprints use */
    const uint8_t *groups = NULL, *pf = NULL, *sigs = NULL;
    size_t groups_n = 0, pf_n = 0, sigs_n = 0, next = 0;
    uint16_t best = 0;
    int has_sv = 0;
    for (size_t e = 0; e < ext_len;) {
        if (e + 4 > ext_len)
            return tls_fail(CANH_TLS_E_HELLO);
        uint16_t type = rd16(ext + e);
        size_t l = rd16(ext + e + 2);
        const uint8_t *d = ext + e + 4;
        if (e + 4 + l > ext_len)
            return tls_fail(CANH_TLS_E_HELLO);
        e += 4 + l;
        next++;
        switch (type) {
        case 0x0000:            /* server_name */
            h->has_sni = 1;
            if (l >= 2 && (size_t)rd16(d) + 2 <= l) {
                for (size_t i = 2; i + 3 <= 2 + (size_t)rd16(d);) {
                    size_t nl = rd16(d + i + 1);
                    if (i + 3 + nl > l)
                        break;
                    if (d[i] == 0 && !h->sni[0]) {
                        size_t k = nl < sizeof(h->sni) - 1 ? nl : sizeof(h->sni) - 1;
                        memcpy(h->sni, d + i + 3, k);
                        h->sni[k] = 0;
                    }
                    i += 3 + nl;
                }
            }
            break;
        case 0x000a:            /* supported_groups (elliptic_curves) */
            if (l >= 2 && (size_t)rd16(d) + 2 <= l && !(rd16(d) & 1)) {
                groups = d + 2;
                groups_n = rd16(d) / 2;
            }
            break;
        case 0x000b:            /* ec_point_formats */
            if (l >= 1 && (size_t)d[0] + 1 <= l) {
                pf = d + 1;
                pf_n = d[0];
            }
            break;
        case 0x000d:            /* signature_algorithms */
            if (l >= 2 && (size_t)rd16(d) + 2 <= l && !(rd16(d) & 1)) {
                sigs = d + 2;
                sigs_n = rd16(d) / 2;
            }
            break;
        case 0x0010:            /* ALPN: the first protocol name */
            if (l >= 3 && (size_t)rd16(d) + 2 <= l && d[2] > 0 && (size_t)d[2] + 3 <= l) {
                memcpy(h->alpn, d + 3, d[2]);
                h->alpn[d[2]] = 0;
            }
            break;
        case 0x002b:            /* supported_versions: the highest, GREASE aside */
            if (l >= 1 && (size_t)d[0] + 1 <= l) {
                for (size_t i = 0; i + 1 < d[0]; i += 2) {
                    uint16_t v = rd16(d + 1 + i);
                    if (!grease(v) && v > best)
                        best = v;
                }
                has_sv = best != 0;
            }
            break;
        }
    }
    h->version = has_sv ? best : h->legacy_version;
    size_t ncs = cs_len / 2;

    /* JA3: at most 6 characters per 2-byte value of the message, plus commas */
    size_t cap = 3 * len + 64;
    h->ja3 = malloc(cap);
    uint16_t *sorted = malloc((ncs + next + 1) * sizeof(uint16_t));
    char *ja4s = malloc(5 * (ncs + next + sigs_n) + 16);
    if (!h->ja3 || !sorted || !ja4s) {
        free(sorted);
        free(ja4s);
        canh_tls_hello_clear(h);
        tls_counts.errors[CANH_TLS_E_NOMEM]++;
        return CANH_ENOMEM;
    }
    tls_str_t s = { h->ja3, 0, cap };
    h->ja3[0] = 0;
    str_add(&s, "%u,", h->legacy_version);
    int first = 1;
    for (size_t i = 0; i < ncs; i++) {
        uint16_t v = rd16(cs + 2 * i);
        if (!grease(v)) {
            str_add(&s, first ? "%u" : "-%u", v);
            first = 0;
        }
    }
    str_add(&s, ",", 0);
    first = 1;
    for (size_t e = 0; e + 4 <= ext_len; e += 4 + rd16(ext + e + 2)) {
        uint16_t v = rd16(ext + e);
        if (!grease(v)) {
            str_add(&s, first ? "%u" : "-%u", v);
            first = 0;
        }
    }
    str_add(&s, ",", 0);
    first = 1;
    for (size_t i = 0; i < groups_n; i++) {
        uint16_t v = rd16(groups + 2 * i);
        if (!grease(v)) {
            str_add(&s, first ? "%u" : "-%u", v);
            first = 0;
        }
    }
    str_add(&s, ",", 0);
    for (size_t i = 0; i < pf_n; i++)
        str_add(&s, i ? "-%u" : "%u", pf[i]);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned mdlen = 0;
    int ok = EVP_Digest(h->ja3, s.n, md, &mdlen, EVP_md5(), NULL);
    for (unsigned i = 0; ok && i < 16; i++)
        snprintf(h->ja3_hash + 2 * i, 3, "%02x", md[i]);

    /* JA4 a: kind, version, SNI, counts, ALPN */
    size_t nc = 0, ne = 0;
    for (size_t i = 0; i < ncs; i++)
        if (!grease(rd16(cs + 2 * i)))
            sorted[nc++] = rd16(cs + 2 * i);
    for (size_t e = 0; e + 4 <= ext_len; e += 4 + rd16(ext + e + 2))
        if (!grease(rd16(ext + e)))
            ne++;
    char alpn2[3] = "00";
    size_t al = strlen(h->alpn);
    if (al > 0) {
        uint8_t f0 = (uint8_t)h->alpn[0], fl = (uint8_t)h->alpn[al - 1];
        if (alnum(f0) && alnum(fl)) {
            alpn2[0] = (char)f0;
            alpn2[1] = (char)fl;
        } else {
            static const char hx[] = "0123456789abcdef";
            alpn2[0] = hx[f0 >> 4];
            alpn2[1] = hx[fl & 0xF];
        }
    }
    char a[16], bh[13] = "000000000000", ch[13] = "000000000000";
    snprintf(a, sizeof(a), "%c%s%c%02u%02u%s", kind ? kind : 't', ja4_version(h->version),
             h->has_sni ? 'd' : 'i', (unsigned)(nc > 99 ? 99 : nc),
             (unsigned)(ne > 99 ? 99 : ne), alpn2);
    /* b: sorted ciphers */
    qsort(sorted, nc, sizeof(uint16_t), u16_cmp);
    size_t o = 0;
    for (size_t i = 0; i < nc; i++)
        o += (size_t)sprintf(ja4s + o, i ? ",%04x" : "%04x", sorted[i]);
    if (nc && ok)
        ok = sha256_12(ja4s, o, bh) == CANH_OK;
    /* c: sorted extensions without SNI and ALPN, "_", signature algorithms */
    size_t nx = 0;
    for (size_t e = 0; e + 4 <= ext_len; e += 4 + rd16(ext + e + 2)) {
        uint16_t v = rd16(ext + e);
        if (!grease(v) && v != 0x0000 && v != 0x0010)
            sorted[nx++] = v;
    }
    qsort(sorted, nx, sizeof(uint16_t), u16_cmp);
    o = 0;
    for (size_t i = 0; i < nx; i++)
        o += (size_t)sprintf(ja4s + o, i ? ",%04x" : "%04x", sorted[i]);
    int firstsig = 1;
    for (size_t i = 0; i < sigs_n; i++) {
        uint16_t v = rd16(sigs + 2 * i);
        if (grease(v))
            continue;
        o += (size_t)sprintf(ja4s + o, firstsig ? "_%04x" : ",%04x", v);
        firstsig = 0;
    }
    if (nx && ok)
        ok = sha256_12(ja4s, o, ch) == CANH_OK;
    snprintf(h->ja4, sizeof(h->ja4), "%.10s_%.12s_%.12s", a, bh, ch);
    free(sorted);
    free(ja4s);
    if (!ok) {                  /* OpenSSL's digests failed: out of memory */
        canh_tls_hello_clear(h);
        tls_counts.errors[CANH_TLS_E_NOMEM]++;
        return CANH_ENOMEM;
    }
    return CANH_OK;
}

/* A ServerHello's version: supported_versions when there, else legacy. */
static int tls_server_hello(const uint8_t *b, size_t len, uint16_t *version)
{
    if (len < 2 + 32 + 1)
        return tls_fail(CANH_TLS_E_HELLO);
    *version = rd16(b);
    size_t off = 34;
    size_t sid = b[off++];
    if (off + sid + 3 > len)
        return tls_fail(CANH_TLS_E_HELLO);
    off += sid + 3;             /* session id, cipher suite, compression */
    if (off == len)
        return CANH_OK;
    if (off + 2 > len)
        return tls_fail(CANH_TLS_E_HELLO);
    size_t ext_len = rd16(b + off);
    off += 2;
    if (off + ext_len > len)
        return tls_fail(CANH_TLS_E_HELLO);
    for (size_t e = off; e < off + ext_len;) {
        if (e + 4 > off + ext_len)
            return tls_fail(CANH_TLS_E_HELLO);
        uint16_t type = rd16(b + e);
        size_t l = rd16(b + e + 2);
        if (e + 4 + l > off + ext_len)
            return tls_fail(CANH_TLS_E_HELLO);
        if (type == 0x002b && l == 2)
            *version = rd16(b + e + 4);
        e += 4 + l;
    }
    return CANH_OK;
}

canh_tls_t *canh_tls_new(void)
{
    return calloc(1, sizeof(canh_tls_t));
}

void canh_tls_free(canh_tls_t *t)
{
    if (!t)
        return;
    free(t->dir[0].hs);
    free(t->dir[1].hs);
    canh_tls_hello_clear(&t->hello);
    free(t);
}

/* One whole handshake message (header included) of direction dir. */
static int tls_handshake(canh_tls_t *t, canh_flow_t *f, int dir, const uint8_t *m, size_t n,
                         canh_app_fn fn, void *ud)
{
    struct tls_dir *s = &t->dir[dir];
    canh_app_tx_t tx;
    memset(&tx, 0, sizeof(tx));
    tx.proto = CANH_APP_TLS;
    tx.dir = dir;
    if (m[0] == TLS_HS_CLIENT_HELLO) {
        if (canh_tls_client_hello(m + 4, n - 4, 't', &t->hello) != CANH_OK)
            return CANH_EPARSE;
        canh_tls_hello_t *h = &t->hello;
        const char *v = canh_tls_version_name(h->version, t->version);
        tx.buf[CANH_NB_TLS_VERSION].p = (const uint8_t *)v;
        tx.buf[CANH_NB_TLS_VERSION].n = strlen(v);
        if (h->has_sni) {
            tx.buf[CANH_NB_TLS_SNI].p = (const uint8_t *)h->sni;
            tx.buf[CANH_NB_TLS_SNI].n = strlen(h->sni);
        }
        tx.buf[CANH_NB_JA3_STRING].p = (const uint8_t *)h->ja3;
        tx.buf[CANH_NB_JA3_STRING].n = strlen(h->ja3);
        tx.buf[CANH_NB_JA3_HASH].p = (const uint8_t *)h->ja3_hash;
        tx.buf[CANH_NB_JA3_HASH].n = strlen(h->ja3_hash);
        tx.buf[CANH_NB_JA4_HASH].p = (const uint8_t *)h->ja4;
        tx.buf[CANH_NB_JA4_HASH].n = strlen(h->ja4);
        tls_counts.client_hellos++;
        canh_app_thread_counts()->tls_client_hellos++;
        s->done = 1;
    } else if (m[0] == TLS_HS_SERVER_HELLO) {
        uint16_t ver = 0;
        if (tls_server_hello(m + 4, n - 4, &ver) != CANH_OK)
            return CANH_EPARSE;
        const char *v = canh_tls_version_name(ver, t->sversion);
        tx.buf[CANH_NB_TLS_VERSION].p = (const uint8_t *)v;
        tx.buf[CANH_NB_TLS_VERSION].n = strlen(v);
        tls_counts.server_hellos++;
        s->done = 1;
    } else if (m[0] == 0) {     /* HelloRequest: nothing to report */
        return CANH_OK;
    } else {
        return tls_fail(CANH_TLS_E_HS_ORDER);
    }
    if (fn)
        fn(ud, f, &tx);
    return CANH_OK;
}

/* Handshake payload bytes of direction dir: gather, parse whole messages. */
static int tls_hs_bytes(canh_tls_t *t, canh_flow_t *f, int dir, const uint8_t *p, size_t n,
                        canh_app_fn fn, void *ud)
{
    struct tls_dir *s = &t->dir[dir];
    while (n > 0 && !s->done) {
        /* a whole message in p with nothing pending: parse it in place */
        if (s->hs_n == 0 && n >= 4) {
            size_t ml = (size_t)p[1] << 16 | (size_t)p[2] << 8 | p[3];
            if (ml + 4 <= n) {
                if (tls_handshake(t, f, dir, p, ml + 4, fn, ud) != CANH_OK)
                    return CANH_EPARSE;
                p += ml + 4;
                n -= ml + 4;
                continue;
            }
        }
        size_t want = 4;
        if (s->hs_n >= 4) {
            want = 4 + ((size_t)s->hs[1] << 16 | (size_t)s->hs[2] << 8 | s->hs[3]);
            if (want > CANH_TLS_HS_MAX)
                return tls_fail(CANH_TLS_E_HS_BIG);
        }
        if (want > s->hs_cap) {
            size_t nc = want < 1024 ? 1024 : want;
            uint8_t *nb = realloc(s->hs, nc);
            if (!nb)
                return tls_fail(CANH_TLS_E_NOMEM);
            s->hs = nb;
            s->hs_cap = nc;
        }
        size_t take = want - s->hs_n < n ? want - s->hs_n : n;
        memcpy(s->hs + s->hs_n, p, take);
        s->hs_n += take;
        p += take;
        n -= take;
        if (s->hs_n >= 4 && s->hs_n == 4 + ((size_t)s->hs[1] << 16 | (size_t)s->hs[2] << 8 | s->hs[3])) {
            size_t ml = s->hs_n;
            s->hs_n = 0;
            if (tls_handshake(t, f, dir, s->hs, ml, fn, ud) != CANH_OK)
                return CANH_EPARSE;
        }
    }
    return CANH_OK;
}

int canh_tls_stream(canh_tls_t *t, canh_flow_t *f, int dir, const uint8_t *data, size_t len,
                    int flags, canh_app_fn fn, void *ud)
{
    dir = dir ? 1 : 0;
    struct tls_dir *s = &t->dir[dir];
    if (s->failed)
        return CANH_EPARSE;
    if ((flags & CANH_STREAM_GAP) && !s->done) {
        /* record boundaries are lost with the bytes: give the direction up
         * (counted), not the flow: the other direction's hello may still come */
        s->done = 1;
        tls_counts.errors[CANH_TLS_E_GAP]++;
    }
    while (len > 0 && !s->done) {
        if (s->hdr_n < TLS_REC_HDR) {
            size_t take = TLS_REC_HDR - s->hdr_n < len ? TLS_REC_HDR - s->hdr_n : len;
            memcpy(s->hdr + s->hdr_n, data, take);
            s->hdr_n += take;
            data += take;
            len -= take;
            if (s->hdr_n < TLS_REC_HDR)
                break;
            uint8_t type = s->hdr[0];
            size_t rl = rd16(s->hdr + 3);
            if (type & 0x80) {
                s->failed = 1;
                return tls_fail(CANH_TLS_E_SSLV2);
            }
            if (type < TLS_CT_CCS || type > TLS_CT_HEARTBEAT || s->hdr[1] != 3 ||
                rl > TLS_REC_MAX) {
                s->failed = 1;
                return tls_fail(CANH_TLS_E_RECORD);
            }
            s->rec_type = type;
            s->rec_left = rl;
            if (rl == 0)
                s->hdr_n = 0;
            continue;
        }
        size_t take = s->rec_left < len ? s->rec_left : len;
        if (s->rec_type == TLS_CT_HANDSHAKE) {
            if (tls_hs_bytes(t, f, dir, data, take, fn, ud) != CANH_OK) {
                s->failed = 1;
                return CANH_EPARSE;
            }
        } else if (s->rec_type == TLS_CT_APPDATA || s->rec_type == TLS_CT_CCS) {
            /* encrypted from here on (or a resumed session): no hello to come */
            s->done = 1;
        }
        data += take;
        len -= take;
        s->rec_left -= take;
        if (s->rec_left == 0)
            s->hdr_n = 0;
    }
    return t->dir[0].done && t->dir[1].done ? CANH_APP_DONE : CANH_OK;
}

static void *tls_state_new(const canh_app_opts_t *o) { return canh_tls_new(); }
static void tls_state_free(void *st) { canh_tls_free(st); }
static int tls_stream(void *st, canh_flow_t *f, int dir, const uint8_t *data, size_t len,
                      int flags, canh_app_fn fn, void *ud)
{
    return canh_tls_stream(st, f, dir, data, len, flags, fn, ud);
}

const canh_app_parser_t canh_app_tls_parser = {
    .proto = CANH_APP_TLS, .name = "tls",
    .state_new = tls_state_new, .state_free = tls_state_free,
    .stream = tls_stream, .datagram = NULL,
};
