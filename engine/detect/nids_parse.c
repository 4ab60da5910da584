/*
 * engine/detect/nids_parse.c -- Suricata rule text -> canh_nids_rule_t.
 *
 * The common Suricata subset (nids.h): the header (action, protocol,
 * address and port expressions with variables, direction) and the options
 * canh can match exactly. A rule using anything else is refused through
 * canh_refuse_fn, naming the file, the line, "sid:N" and the keyword; it is
 * never loaded in a weaker form.
 *
 * Addresses and ports are resolved at load time into sorted, disjoint,
 * positive ranges (negations and nested lists computed as set algebra), so
 * matching a packet is a scan over a few ranges and `neg` is always 0 in
 * what this file makes.
 *
 * drop and reject rules alert like alert rules: canh is an IDS, it never
 * drops or resets anything.
 *
 * Thread: start-up or the reload thread; the rules it makes are immutable
 * afterwards. canh_nids_addr_match / canh_nids_ports_match are read-only and
 * run on any worker.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <pcre2.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "nids.h"

#define NIDS_MAX_RULE    (64 * 1024)  /* bytes in one rule (continuations joined) */
#define NIDS_MAX_DEPTH   16           /* nesting of [ ] and $VAR expansions */
#define NIDS_MAX_RANGES  4096         /* ranges in one address or port expression */
#define NIDS_MAX_BITS    65536        /* flowbit names in one rule set */
#define NIDS_MAX_VARS    1024
#define NIDS_MAX_CLASSES 1024

/* ------------------------------------------------------------ variables */

typedef struct nids_class {
    char *name, *desc;
    int priority;
} nids_class_t;

struct canh_nids_vars {
    char **names, **values;
    size_t n;
    nids_class_t *classes;
    size_t nclasses;
};

/* Suricata's suricata.yaml defaults. */
static const char *const default_vars[][2] = {
    { "HOME_NET", "[192.168.0.0/16,10.0.0.0/8,172.16.0.0/12]" },
    { "EXTERNAL_NET", "!$HOME_NET" },
    { "HTTP_SERVERS", "$HOME_NET" },
    { "SMTP_SERVERS", "$HOME_NET" },
    { "SQL_SERVERS", "$HOME_NET" },
    { "DNS_SERVERS", "$HOME_NET" },
    { "TELNET_SERVERS", "$HOME_NET" },
    { "AIM_SERVERS", "$EXTERNAL_NET" },
    { "DC_SERVERS", "$HOME_NET" },
    { "DNP3_SERVER", "$HOME_NET" },
    { "DNP3_CLIENT", "$HOME_NET" },
    { "MODBUS_CLIENT", "$HOME_NET" },
    { "MODBUS_SERVER", "$HOME_NET" },
    { "ENIP_CLIENT", "$HOME_NET" },
    { "ENIP_SERVER", "$HOME_NET" },
    { "HTTP_PORTS", "80" },
    { "SHELLCODE_PORTS", "!80" },
    { "ORACLE_PORTS", "1521" },
    { "SSH_PORTS", "22" },
    { "DNP3_PORTS", "20000" },
    { "MODBUS_PORTS", "502" },
    { "FILE_DATA_PORTS", "[$HTTP_PORTS,110,143]" },
    { "FTP_PORTS", "21" },
    { "GENEVE_PORTS", "6081" },
    { "VXLAN_PORTS", "4789" },
    { "TEREDO_PORTS", "3544" },
};

/* Suricata's classification.config (the classes ET uses), used when no
 * file is given. */
static const struct { const char *name, *desc; int prio; } default_classes[] = {
    { "not-suspicious", "Not Suspicious Traffic", 3 },
    { "unknown", "Unknown Traffic", 3 },
    { "bad-unknown", "Potentially Bad Traffic", 2 },
    { "attempted-recon", "Attempted Information Leak", 2 },
    { "successful-recon-limited", "Information Leak", 2 },
    { "successful-recon-largescale", "Large Scale Information Leak", 2 },
    { "attempted-dos", "Attempted Denial of Service", 2 },
    { "successful-dos", "Denial of Service", 2 },
    { "attempted-user", "Attempted User Privilege Gain", 1 },
    { "unsuccessful-user", "Unsuccessful User Privilege Gain", 1 },
    { "successful-user", "Successful User Privilege Gain", 1 },
    { "attempted-admin", "Attempted Administrator Privilege Gain", 1 },
    { "successful-admin", "Successful Administrator Privilege Gain", 1 },
    { "rpc-portmap-decode", "Decode of an RPC Query", 2 },
    { "shellcode-detect", "Executable code was detected", 1 },
    { "string-detect", "A suspicious string was detected", 3 },
    { "suspicious-filename-detect", "A suspicious filename was detected", 2 },
    { "suspicious-login", "An attempted login using a suspicious username was detected", 2 },
    { "system-call-detect", "A system call was detected", 2 },
    { "tcp-connection", "A TCP connection was detected", 4 },
    { "trojan-activity", "A Network Trojan was detected", 1 },
    { "unusual-client-port-connection", "A client was using an unusual port", 2 },
    { "network-scan", "Detection of a Network Scan", 3 },
    { "denial-of-service", "Detection of a Denial of Service Attack", 2 },
    { "non-standard-protocol", "Detection of a non-standard protocol or event", 2 },
    { "protocol-command-decode", "Generic Protocol Command Decode", 3 },
    { "web-application-activity", "access to a potentially vulnerable web application", 2 },
    { "web-application-attack", "Web Application Attack", 1 },
    { "misc-activity", "Misc activity", 3 },
    { "misc-attack", "Misc Attack", 2 },
    { "icmp-event", "Generic ICMP event", 3 },
    { "inappropriate-content", "Inappropriate Content was Detected", 1 },
    { "policy-violation", "Potential Corporate Privacy Violation", 1 },
    { "default-login-attempt", "Attempt to login by a default username and password", 2 },
    { "targeted-activity", "Targeted Malicious Activity was Detected", 1 },
    { "exploit-kit", "Exploit Kit Activity Detected", 1 },
    { "external-ip-check", "Device Retrieving External IP Address Detected", 2 },
    { "domain-c2", "Domain Observed Used for C2 Detected", 1 },
    { "pup-activity", "Possibly Unwanted Program Detected", 2 },
    { "credential-theft", "Successful Credential Theft Detected", 1 },
    { "social-engineering", "Possible Social Engineering Attempted", 2 },
    { "coin-mining", "Crypto Currency Mining Activity Detected", 2 },
    { "command-and-control", "Malware Command and Control Activity Detected", 1 },
};

static int add_class(canh_nids_vars_t *v, const char *name, const char *desc, int prio)
{
    for (size_t i = 0; i < v->nclasses; i++)
        if (strcasecmp(v->classes[i].name, name) == 0) {
            char *d = strdup(desc);
            if (!d)
                return CANH_ENOMEM;
            free(v->classes[i].desc);
            v->classes[i].desc = d;
            v->classes[i].priority = prio;
            return CANH_OK;
        }
    if (v->nclasses >= NIDS_MAX_CLASSES)
        return CANH_ENOMEM;
    nids_class_t *c = realloc(v->classes, (v->nclasses + 1) * sizeof(*c));
    if (!c)
        return CANH_ENOMEM;
    v->classes = c;
    c[v->nclasses] = (nids_class_t){ strdup(name), strdup(desc), prio };
    if (!c[v->nclasses].name || !c[v->nclasses].desc) {
        free(c[v->nclasses].name);
        free(c[v->nclasses].desc);
        return CANH_ENOMEM;
    }
    v->nclasses++;
    return CANH_OK;
}

canh_nids_vars_t *canh_nids_vars_default(void)
{
    canh_nids_vars_t *v = calloc(1, sizeof(*v));
    if (!v)
        return NULL;
    char err[256];
    for (size_t i = 0; i < sizeof(default_vars) / sizeof(default_vars[0]); i++)
        if (canh_nids_vars_set(v, default_vars[i][0], default_vars[i][1], err, sizeof(err)) != CANH_OK)
            goto fail;
    for (size_t i = 0; i < sizeof(default_classes) / sizeof(default_classes[0]); i++)
        if (add_class(v, default_classes[i].name, default_classes[i].desc, default_classes[i].prio)
            != CANH_OK)
            goto fail;
    return v;
fail:
    canh_nids_vars_free(v);
    return NULL;
}

static const char *var_get(const canh_nids_vars_t *v, const char *name, size_t len)
{
    for (size_t i = 0; v && i < v->n; i++)
        if (strlen(v->names[i]) == len && memcmp(v->names[i], name, len) == 0)
            return v->values[i];
    return NULL;
}

int canh_nids_vars_set(canh_nids_vars_t *v, const char *name, const char *value, char *err,
                       size_t errlen)
{
    if (!v || !name || !value) {
        snprintf(err, errlen, "network variable: missing name or value");
        return CANH_EINVAL;
    }
    if (name[0] == '$')
        name++;
    if (!name[0]) {
        snprintf(err, errlen, "network variable: empty name");
        return CANH_EINVAL;
    }
    for (const char *p = name; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '_') {
            snprintf(err, errlen, "network variable %s: a name is letters, digits and _", name);
            return CANH_EINVAL;
        }
    char *val = strdup(value);
    if (!val) {
        snprintf(err, errlen, "out of memory");
        return CANH_ENOMEM;
    }
    for (size_t i = 0; i < v->n; i++)
        if (strcmp(v->names[i], name) == 0) {
            free(v->values[i]);
            v->values[i] = val;
            return CANH_OK;
        }
    if (v->n >= NIDS_MAX_VARS) {
        free(val);
        snprintf(err, errlen, "network variable %s: more than %d variables", name, NIDS_MAX_VARS);
        return CANH_ENOMEM;
    }
    char **nn = realloc(v->names, (v->n + 1) * sizeof(*nn));
    if (nn)
        v->names = nn;
    char **vv = realloc(v->values, (v->n + 1) * sizeof(*vv));
    if (vv)
        v->values = vv;
    char *nm = strdup(name);
    if (!nn || !vv || !nm) {
        free(val);
        free(nm);
        snprintf(err, errlen, "out of memory");
        return CANH_ENOMEM;
    }
    v->names[v->n] = nm;
    v->values[v->n] = val;
    v->n++;
    return CANH_OK;
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    return s;
}

int canh_nids_vars_classes(canh_nids_vars_t *v, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "%s: cannot read the classification file: %s", path, strerror(errno));
        return CANH_EIO;
    }
    char line[4096];
    int lineno = 0, rc = CANH_OK;
    while (fgets(line, sizeof(line), f)) {
        lineno++;
        char *s = trim(line);
        if (!*s || *s == '#')
            continue;
        static const char kw[] = "config classification:";
        if (strncasecmp(s, kw, sizeof(kw) - 1) != 0) {
            snprintf(err, errlen, "%s:%d: expected \"config classification: name,description,priority\"",
                     path, lineno);
            rc = CANH_EPARSE;
            break;
        }
        s += sizeof(kw) - 1;
        char *c1 = strchr(s, ','), *c2 = c1 ? strrchr(c1 + 1, ',') : NULL;
        char *end = NULL;
        long prio = c2 ? strtol(c2 + 1, &end, 10) : 0;
        if (!c1 || !c2 || !end || *trim(end) || prio < 1 || prio > 255) {
            snprintf(err, errlen, "%s:%d: expected \"config classification: name,description,priority\""
                     " with a priority from 1 to 255", path, lineno);
            rc = CANH_EPARSE;
            break;
        }
        *c1 = *c2 = '\0';
        char *name = trim(s), *desc = trim(c1 + 1);
        if (!*name) {
            snprintf(err, errlen, "%s:%d: a classification without a name", path, lineno);
            rc = CANH_EPARSE;
            break;
        }
        if ((rc = add_class(v, name, desc, (int)prio)) != CANH_OK) {
            snprintf(err, errlen, "%s:%d: out of memory or more than %d classes", path, lineno,
                     NIDS_MAX_CLASSES);
            break;
        }
    }
    fclose(f);
    return rc;
}

void canh_nids_vars_free(canh_nids_vars_t *v)
{
    if (!v)
        return;
    for (size_t i = 0; i < v->n; i++) {
        free(v->names[i]);
        free(v->values[i]);
    }
    free(v->names);
    free(v->values);
    for (size_t i = 0; i < v->nclasses; i++) {
        free(v->classes[i].name);
        free(v->classes[i].desc);
    }
    free(v->classes);
    free(v);
}

static const nids_class_t *class_get(const canh_nids_vars_t *v, const char *name)
{
    for (size_t i = 0; v && i < v->nclasses; i++)
        if (strcasecmp(v->classes[i].name, name) == 0)
            return &v->classes[i];
    return NULL;
}

/* ------------------------------------------------------------ set algebra */

/* A set of addresses: sorted disjoint ranges, IPv4 before IPv6, each in a
 * 16-byte big-endian number (IPv4 in the last 4 bytes: only lo[12..15] count
 * for ipver 4; the first 12 are 0). Ports use the same code with 2 bytes. */
typedef struct iset {
    canh_nids_iprange_t *r;
    size_t n, cap;
} iset_t;

static int key_cmp(const canh_nids_iprange_t *a, const canh_nids_iprange_t *b)
{
    if (a->ipver != b->ipver)
        return a->ipver < b->ipver ? -1 : 1;
    return memcmp(a->lo, b->lo, 16);
}
static int qcmp(const void *a, const void *b)
{
    return key_cmp(a, b);
}

static int iset_add(iset_t *s, int ver, const uint8_t lo[16], const uint8_t hi[16])
{
    if (s->n >= NIDS_MAX_RANGES)
        return CANH_ENOMEM;
    if (s->n == s->cap) {
        size_t nc = s->cap ? s->cap * 2 : 8;
        canh_nids_iprange_t *r = realloc(s->r, nc * sizeof(*r));
        if (!r)
            return CANH_ENOMEM;
        s->r = r;
        s->cap = nc;
    }
    canh_nids_iprange_t *r = &s->r[s->n++];
    memset(r, 0, sizeof(*r));
    r->ipver = (uint8_t)ver;
    memcpy(r->lo, lo, 16);
    memcpy(r->hi, hi, 16);
    return CANH_OK;
}

/* 16-byte big-endian increment / decrement; return 1 on wrap. */
static int be_inc(uint8_t x[16])
{
    for (int i = 15; i >= 0; i--)
        if (++x[i] != 0)
            return 0;
    return 1;
}
static int be_dec(uint8_t x[16])
{
    for (int i = 15; i >= 0; i--)
        if (x[i]-- != 0)
            return 0;
    return 1;
}

/* The whole space of one version: [0, max]. ver 2 stands for ports. */
static void space_max(int ver, uint8_t max[16])
{
    memset(max, 0, 16);
    size_t from = ver == 6 ? 0 : ver == 4 ? 12 : 14;
    memset(max + from, 0xff, 16 - from);
}

/* Sort and merge overlapping or adjacent ranges. */
static void iset_norm(iset_t *s)
{
    if (s->n < 2)
        return;
    qsort(s->r, s->n, sizeof(*s->r), qcmp);
    size_t o = 0;
    for (size_t i = 1; i < s->n; i++) {
        canh_nids_iprange_t *a = &s->r[o], *b = &s->r[i];
        uint8_t next[16];
        memcpy(next, a->hi, 16);
        int wrap = be_inc(next);
        if (a->ipver == b->ipver && (wrap || memcmp(b->lo, next, 16) <= 0)) {
            if (memcmp(b->hi, a->hi, 16) > 0)
                memcpy(a->hi, b->hi, 16);
        } else {
            s->r[++o] = *b;
        }
    }
    s->n = o + 1;
}

/* s := complement of s within the given versions (4 and 6, or 2: ports). */
static int iset_complement(iset_t *s, const int *vers, size_t nvers)
{
    iset_norm(s);
    iset_t out = { 0 };
    for (size_t k = 0; k < nvers; k++) {
        int ver = vers[k];
        uint8_t cur[16] = { 0 }, max[16];
        space_max(ver, max);
        int done = 0;
        for (size_t i = 0; i < s->n && !done; i++) {
            if (s->r[i].ipver != ver)
                continue;
            if (memcmp(s->r[i].lo, cur, 16) > 0) {
                uint8_t hi[16];
                memcpy(hi, s->r[i].lo, 16);
                be_dec(hi);
                if (iset_add(&out, ver, cur, hi) != CANH_OK)
                    goto nomem;
            }
            if (memcmp(s->r[i].hi, max, 16) >= 0)
                done = 1;
            memcpy(cur, s->r[i].hi, 16);
            be_inc(cur);
        }
        if (!done && iset_add(&out, ver, cur, max) != CANH_OK)
            goto nomem;
    }
    free(s->r);
    *s = out;
    return CANH_OK;
nomem:
    free(out.r);
    return CANH_ENOMEM;
}

static int iset_union(iset_t *a, const iset_t *b)
{
    for (size_t i = 0; i < b->n; i++)
        if (iset_add(a, b->r[i].ipver, b->r[i].lo, b->r[i].hi) != CANH_OK)
            return CANH_ENOMEM;
    iset_norm(a);
    return CANH_OK;
}

/* a := a minus b  (= not(not a or b)) */
static int iset_minus(iset_t *a, const iset_t *b, const int *vers, size_t nvers)
{
    if (iset_complement(a, vers, nvers) != CANH_OK || iset_union(a, b) != CANH_OK)
        return CANH_ENOMEM;
    return iset_complement(a, vers, nvers);
}

static int iset_full(iset_t *s, const int *vers, size_t nvers)
{
    iset_norm(s);
    if (s->n != nvers)
        return 0;
    for (size_t k = 0; k < nvers; k++) {
        uint8_t max[16], zero[16] = { 0 };
        space_max(vers[k], max);
        if (s->r[k].ipver != vers[k] || memcmp(s->r[k].lo, zero, 16) || memcmp(s->r[k].hi, max, 16))
            return 0;
    }
    return 1;
}

/* ------------------------------------------------------------ expressions */

static const int ip_vers[] = { 4, 6 };
static const int port_vers[] = { 2 };

typedef struct xparse {
    const canh_nids_vars_t *vars;
    int ports;                   /* port expression, else address */
    char err[256];
} xparse_t;

static int x_expr(xparse_t *x, const char *s, size_t n, int depth, iset_t *out);

static int x_fail(xparse_t *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int x_fail(xparse_t *x, const char *fmt, ...)
{
    if (!x->err[0]) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(x->err, sizeof(x->err), fmt, ap);
        va_end(ap);
    }
    return CANH_EPARSE;
}

static int x_all(xparse_t *x, iset_t *out)
{
    iset_t empty = { 0 };
    *out = empty;
    return x->ports ? iset_complement(out, port_vers, 1) : iset_complement(out, ip_vers, 2);
}

/* One address: 1.2.3.4, 1.2.3.0/24, 1.2.3.0/255.255.255.0, 1.2.3.4-1.2.3.9, 2001:db8::/32 */
static int x_addr(xparse_t *x, const char *s, size_t n, iset_t *out)
{
    char buf[128];
    if (n == 0 || n >= sizeof(buf))
        return x_fail(x, "bad address \"%.*s\"", (int)(n > 60 ? 60 : n), s);
    memcpy(buf, s, n);
    buf[n] = '\0';
    char *slash = strchr(buf, '/'), *dash = strchr(buf, '-');
    if (slash)
        *slash = '\0';
    if (dash && !slash)
        *dash = '\0';
    uint8_t lo[16] = { 0 }, hi[16];
    int ver;
    struct in6_addr a6;
    struct in_addr a4;
    if (inet_pton(AF_INET, buf, &a4) == 1) {
        ver = 4;
        memcpy(lo + 12, &a4, 4);
    } else if (inet_pton(AF_INET6, buf, &a6) == 1) {
        ver = 6;
        memcpy(lo, &a6, 16);
    } else {
        return x_fail(x, "bad address \"%s\"", buf);
    }
    memcpy(hi, lo, 16);
    int bits = ver == 4 ? 32 : 128, base = ver == 4 ? 96 : 0;
    if (slash) {
        const char *m = slash + 1;
        int prefix = -1;
        if (ver == 4 && strchr(m, '.')) {
            struct in_addr mk;
            if (inet_pton(AF_INET, m, &mk) != 1)
                return x_fail(x, "bad netmask in \"%.*s\"", (int)n, s);
            uint32_t mm = ntohl(mk.s_addr);
            prefix = 0;
            while (prefix < 32 && (mm & (0x80000000u >> prefix)))
                prefix++;
            if (prefix < 32 && (uint32_t)(mm << prefix) != 0)
                return x_fail(x, "netmask with holes in \"%.*s\"", (int)n, s);
        } else {
            char *end;
            long p = strtol(m, &end, 10);
            if (!*m || *end || p < 0 || p > bits)
                return x_fail(x, "bad prefix length in \"%.*s\"", (int)n, s);
            prefix = (int)p;
        }
        for (int b = base + prefix; b < 128; b++) {
            lo[b / 8] &= (uint8_t)~(0x80 >> (b % 8));
            hi[b / 8] |= (uint8_t)(0x80 >> (b % 8));
        }
    } else if (dash) {
        struct in_addr e4;
        struct in6_addr e6;
        if (ver == 4 && inet_pton(AF_INET, dash + 1, &e4) == 1)
            memcpy(hi + 12, &e4, 4);
        else if (ver == 6 && inet_pton(AF_INET6, dash + 1, &e6) == 1)
            memcpy(hi, &e6, 16);
        else
            return x_fail(x, "bad address range \"%.*s\"", (int)n, s);
        if (memcmp(lo, hi, 16) > 0)
            return x_fail(x, "address range \"%.*s\" ends before it starts", (int)n, s);
    }
    if (iset_add(out, ver, lo, hi) != CANH_OK)
        return x_fail(x, "too many address ranges");
    return CANH_OK;
}

/* One port: 80, 1024:, :1023, 1000:2000 */
static int x_port(xparse_t *x, const char *s, size_t n, iset_t *out)
{
    char buf[32];
    if (n == 0 || n >= sizeof(buf))
        return x_fail(x, "bad port \"%.*s\"", (int)(n > 20 ? 20 : n), s);
    memcpy(buf, s, n);
    buf[n] = '\0';
    long lo = 0, hi = 65535;
    char *colon = strchr(buf, ':'), *end;
    if (colon)
        *colon = '\0';
    if (buf[0]) {
        lo = strtol(buf, &end, 10);
        if (*end || !isdigit((unsigned char)buf[0]) || lo < 0 || lo > 65535)
            return x_fail(x, "bad port \"%.*s\"", (int)n, s);
    } else if (!colon) {
        return x_fail(x, "bad port \"%.*s\"", (int)n, s);
    }
    if (!colon) {
        hi = lo;
    } else if (colon[1]) {
        hi = strtol(colon + 1, &end, 10);
        if (*end || !isdigit((unsigned char)colon[1]) || hi < 0 || hi > 65535)
            return x_fail(x, "bad port range \"%.*s\"", (int)n, s);
    } else if (!buf[0]) {
        return x_fail(x, "bad port range \"%.*s\"", (int)n, s);
    }
    if (lo > hi)
        return x_fail(x, "port range \"%.*s\" ends before it starts", (int)n, s);
    uint8_t l[16] = { 0 }, h[16] = { 0 };
    l[14] = (uint8_t)(lo >> 8), l[15] = (uint8_t)lo;
    h[14] = (uint8_t)(hi >> 8), h[15] = (uint8_t)hi;
    if (iset_add(out, 2, l, h) != CANH_OK)
        return x_fail(x, "too many port ranges");
    return CANH_OK;
}

/* One element of a list: any, $VAR, a [list], a value; each may be negated. */
static int x_elem(xparse_t *x, const char *s, size_t n, int depth, iset_t *out, int *neg)
{
    memset(out, 0, sizeof(*out));
    while (n && isspace((unsigned char)*s))
        s++, n--;
    while (n && isspace((unsigned char)s[n - 1]))
        n--;
    *neg = 0;
    while (n && *s == '!') {
        *neg = !*neg;
        s++, n--;
        while (n && isspace((unsigned char)*s))
            s++, n--;
    }
    if (n == 0)
        return x_fail(x, "empty element in an %s list", x->ports ? "port" : "address");
    if (depth > NIDS_MAX_DEPTH)
        return x_fail(x, "%s expression nested too deep (or a variable refers to itself)",
                      x->ports ? "port" : "address");
    if (n == 3 && strncasecmp(s, "any", 3) == 0)
        return x_all(x, out);
    if (*s == '$') {
        const char *val = var_get(x->vars, s + 1, n - 1);
        if (!val)
            return x_fail(x, "unknown variable $%.*s (set it under network.vars)", (int)(n - 1), s + 1);
        return x_expr(x, val, strlen(val), depth + 1, out);
    }
    if (*s == '[')
        return x_expr(x, s, n, depth + 1, out);
    return x->ports ? x_port(x, s, n, out) : x_addr(x, s, n, out);
}

/* A whole expression: an element or a [list]; a list is the union of its
 * positive elements (everything when it has none) minus its negated ones. */
static int x_expr(xparse_t *x, const char *s, size_t n, int depth, iset_t *out)
{
    const int *vers = x->ports ? port_vers : ip_vers;
    size_t nvers = x->ports ? 1 : 2;
    memset(out, 0, sizeof(*out));
    while (n && isspace((unsigned char)*s))
        s++, n--;
    while (n && isspace((unsigned char)s[n - 1]))
        n--;
    if (depth > NIDS_MAX_DEPTH)
        return x_fail(x, "%s expression nested too deep (or a variable refers to itself)",
                      x->ports ? "port" : "address");
    if (n == 0 || *s != '[') {
        int neg;
        int rc = x_elem(x, s, n, depth, out, &neg);
        if (rc == CANH_OK && neg && iset_complement(out, vers, nvers) != CANH_OK)
            rc = x_fail(x, "out of memory");
        return rc;
    }
    if (s[n - 1] != ']')
        return x_fail(x, "unbalanced [ ] in \"%.*s\"", (int)(n > 60 ? 60 : n), s);
    s++, n -= 2;
    iset_t pos = { 0 }, negs = { 0 };
    int npos = 0, rc = CANH_OK;
    size_t i = 0;
    while (i <= n && rc == CANH_OK) {
        size_t start = i;
        int lvl = 0;
        for (; i < n; i++) {
            if (s[i] == '[')
                lvl++;
            else if (s[i] == ']' && --lvl < 0)
                break;
            else if (s[i] == ',' && lvl == 0)
                break;
        }
        if (lvl != 0) {
            rc = x_fail(x, "unbalanced [ ] in an %s list", x->ports ? "port" : "address");
            break;
        }
        iset_t e;
        int neg;
        rc = x_elem(x, s + start, i - start, depth, &e, &neg);
        if (rc == CANH_OK) {
            if (neg)
                rc = iset_union(&negs, &e);
            else {
                rc = iset_union(&pos, &e);
                npos++;
            }
            if (rc != CANH_OK)
                rc = x_fail(x, "out of memory");
        }
        free(e.r);
        i++;
    }
    if (rc == CANH_OK && !npos && x_all(x, &pos) != CANH_OK)
        rc = x_fail(x, "out of memory");
    if (rc == CANH_OK && iset_minus(&pos, &negs, vers, nvers) != CANH_OK)
        rc = x_fail(x, "out of memory");
    free(negs.r);
    if (rc != CANH_OK) {
        free(pos.r);
        return rc;
    }
    *out = pos;
    return CANH_OK;
}

/* An address (ports 0) or port (1) expression as a normalised set: *any
 * set (and the set freed) when it holds everything. CANH_EPARSE with err
 * set when it does not parse or matches nothing. */
static int parse_set(const canh_nids_vars_t *vars, const char *s, int ports, iset_t *set,
                     int *any, char *err, size_t errlen)
{
    xparse_t x = { .vars = vars, .ports = ports };
    *any = 0;
    if (x_expr(&x, s, strlen(s), 0, set) != CANH_OK) {
        snprintf(err, errlen, "%s", x.err);
        return CANH_EPARSE;
    }
    iset_norm(set);
    if (set->n == 0) {
        snprintf(err, errlen, "%s \"%s\" matches no %s", ports ? "port" : "address", s,
                 ports ? "port" : "address");
        free(set->r);
        return CANH_EPARSE;
    }
    if (ports ? iset_full(set, port_vers, 1) : iset_full(set, ip_vers, 2)) {
        free(set->r);
        *any = 1;
    }
    return CANH_OK;
}

static int parse_addr(const canh_nids_vars_t *vars, const char *s, canh_nids_addr_t *a,
                      char *err, size_t errlen)
{
    iset_t set;
    memset(a, 0, sizeof(*a));
    int rc = parse_set(vars, s, 0, &set, &a->any, err, errlen);
    if (rc != CANH_OK || a->any)
        return rc;
    a->r = set.r;
    a->n = set.n;
    return CANH_OK;
}

static int parse_ports(const canh_nids_vars_t *vars, const char *s, canh_nids_ports_t *p,
                       char *err, size_t errlen)
{
    iset_t set;
    memset(p, 0, sizeof(*p));
    int rc = parse_set(vars, s, 1, &set, &p->any, err, errlen);
    if (rc != CANH_OK || p->any)
        return rc;
    p->r = calloc(set.n, sizeof(*p->r));
    if (!p->r) {
        free(set.r);
        snprintf(err, errlen, "out of memory");
        return CANH_ENOMEM;
    }
    for (size_t i = 0; i < set.n; i++) {
        p->r[i].lo = (uint16_t)(set.r[i].lo[14] << 8 | set.r[i].lo[15]);
        p->r[i].hi = (uint16_t)(set.r[i].hi[14] << 8 | set.r[i].hi[15]);
    }
    p->n = set.n;
    free(set.r);
    return CANH_OK;
}

int canh_nids_vars_check(const canh_nids_vars_t *v, char *err, size_t errlen)
{
    for (size_t i = 0; v && i < v->n; i++) {
        char ea[256] = "", ep[256] = "";
        canh_nids_addr_t a;
        canh_nids_ports_t p;
        if (parse_addr(v, v->values[i], &a, ea, sizeof(ea)) == CANH_OK) {
            free(a.r);
            continue;
        }
        if (parse_ports(v, v->values[i], &p, ep, sizeof(ep)) == CANH_OK) {
            free(p.r);
            continue;
        }
        size_t n = strlen(v->names[i]);
        int is_port = n > 5 && !strcmp(v->names[i] + n - 5, "PORTS");
        snprintf(err, errlen, "network variable %s \"%s\": %s", v->names[i], v->values[i],
                 is_port ? ep : ea);
        return CANH_EINVAL;
    }
    return CANH_OK;
}

int canh_nids_addr_match(const canh_nids_addr_t *a, int ipver, const uint8_t ip[16])
{
    if (!a || a->any)
        return 1;
    uint8_t key[16] = { 0 };
    if (ipver == 4)
        memcpy(key + 12, ip, 4);   /* an IPv4 address: its 4 bytes first in ip */
    else
        memcpy(key, ip, 16);
    int pos = 0, hitpos = 0, hitneg = 0;
    for (size_t i = 0; i < a->n; i++) {
        const canh_nids_iprange_t *r = &a->r[i];
        if (!r->neg)
            pos = 1;
        if (r->ipver != ipver || memcmp(key, r->lo, 16) < 0 || memcmp(key, r->hi, 16) > 0)
            continue;
        if (r->neg)
            hitneg = 1;
        else
            hitpos = 1;
    }
    return !hitneg && (hitpos || !pos);
}

int canh_nids_ports_match(const canh_nids_ports_t *p, uint16_t port)
{
    if (!p || p->any)
        return 1;
    int pos = 0, hitpos = 0, hitneg = 0;
    for (size_t i = 0; i < p->n; i++) {
        const canh_nids_portrange_t *r = &p->r[i];
        if (!r->neg)
            pos = 1;
        if (port < r->lo || port > r->hi)
            continue;
        if (r->neg)
            hitneg = 1;
        else
            hitpos = 1;
    }
    return !hitneg && (hitpos || !pos);
}

/* ------------------------------------------------------------ buffers */

typedef struct bufname {
    const char *name;
    uint8_t id;
    uint8_t legacy;          /* a content modifier (applies to the content before it) */
} bufname_t;

static const bufname_t buffers[] = {
    { "pkt_data", CANH_NB_PACKET, 0 },
    { "http.method", CANH_NB_HTTP_METHOD, 0 },
    { "http_method", CANH_NB_HTTP_METHOD, 1 },
    { "http.uri", CANH_NB_HTTP_URI, 0 },
    { "http_uri", CANH_NB_HTTP_URI, 1 },
    { "http.uri.raw", CANH_NB_HTTP_URI_RAW, 0 },
    { "http_raw_uri", CANH_NB_HTTP_URI_RAW, 1 },
    { "http.protocol", CANH_NB_HTTP_PROTOCOL, 0 },
    { "http_protocol", CANH_NB_HTTP_PROTOCOL, 0 },
    { "http.request_line", CANH_NB_HTTP_REQUEST_LINE, 0 },
    { "http_request_line", CANH_NB_HTTP_REQUEST_LINE, 0 },
    { "http.host", CANH_NB_HTTP_HOST, 0 },
    { "http_host", CANH_NB_HTTP_HOST, 1 },
    { "http.host.raw", CANH_NB_HTTP_HOST_RAW, 0 },
    { "http_raw_host", CANH_NB_HTTP_HOST_RAW, 1 },
    { "http.user_agent", CANH_NB_HTTP_UA, 0 },
    { "http_user_agent", CANH_NB_HTTP_UA, 1 },
    { "http.cookie", CANH_NB_HTTP_COOKIE, 0 },
    { "http_cookie", CANH_NB_HTTP_COOKIE, 1 },
    { "http.referer", CANH_NB_HTTP_REFERER, 0 },
    { "http_referer", CANH_NB_HTTP_REFERER, 0 },
    { "http.content_type", CANH_NB_HTTP_CONTENT_TYPE, 0 },
    { "http_content_type", CANH_NB_HTTP_CONTENT_TYPE, 0 },
    { "http.content_len", CANH_NB_HTTP_CONTENT_LEN, 0 },
    { "http_content_len", CANH_NB_HTTP_CONTENT_LEN, 0 },
    { "http.header", CANH_NB_HTTP_HEADER, 0 },
    { "http_header", CANH_NB_HTTP_HEADER, 1 },
    { "http.header.raw", CANH_NB_HTTP_HEADER_RAW, 0 },
    { "http_raw_header", CANH_NB_HTTP_HEADER_RAW, 1 },
    { "http.header_names", CANH_NB_HTTP_HEADER_NAMES, 0 },
    { "http_header_names", CANH_NB_HTTP_HEADER_NAMES, 0 },
    { "http.request_body", CANH_NB_HTTP_REQUEST_BODY, 0 },
    { "http_client_body", CANH_NB_HTTP_REQUEST_BODY, 1 },
    { "http.stat_code", CANH_NB_HTTP_STAT_CODE, 0 },
    { "http_stat_code", CANH_NB_HTTP_STAT_CODE, 1 },
    { "http.stat_msg", CANH_NB_HTTP_STAT_MSG, 0 },
    { "http_stat_msg", CANH_NB_HTTP_STAT_MSG, 1 },
    { "http.response_line", CANH_NB_HTTP_RESPONSE_LINE, 0 },
    { "http_response_line", CANH_NB_HTTP_RESPONSE_LINE, 0 },
    { "http.server", CANH_NB_HTTP_SERVER, 0 },
    { "http_server", CANH_NB_HTTP_SERVER, 0 },
    { "http.location", CANH_NB_HTTP_LOCATION, 0 },
    { "http_location", CANH_NB_HTTP_LOCATION, 0 },
    { "http.response_body", CANH_NB_HTTP_RESPONSE_BODY, 0 },
    { "http_server_body", CANH_NB_HTTP_RESPONSE_BODY, 1 },
    { "file.data", CANH_NB_HTTP_RESPONSE_BODY, 0 },
    { "file_data", CANH_NB_HTTP_RESPONSE_BODY, 0 },
    { "dns.query", CANH_NB_DNS_QUERY, 0 },
    { "dns_query", CANH_NB_DNS_QUERY, 0 },
    { "tls.sni", CANH_NB_TLS_SNI, 0 },
    { "tls_sni", CANH_NB_TLS_SNI, 0 },
    { "ja3.string", CANH_NB_JA3_STRING, 0 },
    { "ja3_string", CANH_NB_JA3_STRING, 0 },
    { "ja3.hash", CANH_NB_JA3_HASH, 0 },
    { "ja3_hash", CANH_NB_JA3_HASH, 0 },
    { "ja4.hash", CANH_NB_JA4_HASH, 0 },
    { "ssh.proto", CANH_NB_SSH_PROTO, 0 },
    { "ssh_proto", CANH_NB_SSH_PROTO, 0 },
    { "ssh.software", CANH_NB_SSH_SOFTWARE, 0 },
    { "ssh_software", CANH_NB_SSH_SOFTWARE, 0 },
};

static const bufname_t *buffer_get(const char *name)
{
    for (size_t i = 0; i < sizeof(buffers) / sizeof(buffers[0]); i++)
        if (strcmp(buffers[i].name, name) == 0)
            return &buffers[i];
    return NULL;
}

/* The application protocol a buffer belongs to (UNKNOWN: packet, stream). */
static canh_app_proto_t buffer_app(int id)
{
    if (id >= CANH_NB_HTTP_METHOD && id <= CANH_NB_HTTP_RESPONSE_BODY)
        return CANH_APP_HTTP;
    if (id == CANH_NB_DNS_QUERY)
        return CANH_APP_DNS;
    if (id >= CANH_NB_TLS_SNI && id <= CANH_NB_JA4_HASH)
        return CANH_APP_TLS;
    if (id == CANH_NB_SSH_PROTO || id == CANH_NB_SSH_SOFTWARE)
        return CANH_APP_SSH;
    return CANH_APP_UNKNOWN;
}

static const char *app_name(canh_app_proto_t a)
{
    switch (a) {
    case CANH_APP_HTTP: return "http";
    case CANH_APP_DNS: return "dns";
    case CANH_APP_TLS: return "tls";
    case CANH_APP_SSH: return "ssh";
    default: return "?";
    }
}

/* Keywords canh recognises as Suricata's but does not support: refused by
 * name (everything else unknown is refused as "unknown keyword"). */
static const char *const unsupported[] = {
    "byte_test", "byte_jump", "byte_extract", "byte_math", "isdataat", "bsize", "urilen",
    "lua", "luajit", "xbits", "flowint", "base64_decode", "base64_data", "stream_size",
    "itype", "icode", "icmp_id", "icmp_seq", "flags", "ttl", "tos", "ipopts", "fragbits",
    "fragoffset", "id", "seq", "ack", "window", "ip_proto", "sameip", "tag", "asn1",
    "dataset", "datarep", "iprep", "geoip", "tls.certs", "tls.cert_subject",
    "tls.cert_issuer", "tls.cert_serial", "tls.cert_fingerprint", "tls.version",
    "tls_cert_issuer", "tls_cert_subject", "ja3s.hash", "ja3s.string", "http.start",
    "http.accept", "http.accept_enc", "http.accept_lang", "http.connection",
    "http.uri.len", "http.header.len", "filemagic", "filename", "fileext", "filestore",
    "filemd5", "filesha1", "filesha256", "filesize", "app-layer-event", "app-layer-protocol",
    "decode-event", "stream-event", "replace", "pkt_data.len", "to_lowercase", "to_md5",
    "to_sha256", "strip_whitespace", "compress_whitespace", "url_decode",
    "xor", "pcrexform", "tls.store", "ssl_state", "ssl_version", "tls.fingerprint",
    "tls.subject", "tls.issuerdn", "dns.opcode", "dns.answer.name", "dns.queries.rrname",
    "prefilter", "requires", "transform", "entropy", "absent", "session", "resp", "react",
    "rpc", "flow.age", "flow.pkts", "flow.bytes", "iplen", "tcp.mss", "tcp.hdr", "udp.hdr",
    "ipv4.hdr", "ipv6.hdr", "icmpv4.hdr", "icmpv6.hdr", "ftpbounce", "ftpdata_command",
    "krb5_msg_type", "snmp.community", "sip.method", "smb.named_pipe", "smb.share",
    "dcerpc.iface", "dcerpc.opnum", "dcerpc.stub_data", "threshold.type", "tcp.flags",
};

/* ------------------------------------------------------------ rule parsing */

typedef struct rp {
    const char *file;
    uint32_t line;
    const canh_nids_vars_t *vars;
    canh_nids_rulevec_t *out;
    char sidtxt[32];
    char reason[512];
    canh_nids_rule_t *r;
    int cur_buffer;              /* the sticky buffer in force */
    int sticky_set;
    int file_data;               /* the sticky buffer in force is file.data / file_data */
    uint8_t from_file_data[256]; /* per content or pcre: given under file.data */
    uint64_t dotprefix;          /* buffers (bit per id) with the dotprefix transform */
    struct { int buffer, op; uint32_t lo, hi; } bsize[8];
    size_t nbsize;
    const char *class_desc;      /* the classtype's description (rule.description) */
} rp_t;

static int rp_fail(rp_t *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int rp_fail(rp_t *p, const char *fmt, ...)
{
    if (!p->reason[0]) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(p->reason, sizeof(p->reason), fmt, ap);
        va_end(ap);
    }
    return CANH_EPARSE;
}

static int strv_push(char ***v, size_t *n, const char *s, size_t len)
{
    if (*n >= 4096)
        return CANH_ENOMEM;
    char **nv = realloc(*v, (*n + 1) * sizeof(**v));
    if (!nv)
        return CANH_ENOMEM;
    *v = nv;
    if (!(nv[*n] = strndup(s, len)))
        return CANH_ENOMEM;
    (*n)++;
    return CANH_OK;
}

static int parse_u32(const char *s, uint32_t *out)
{
    char *end;
    while (isspace((unsigned char)*s))
        s++;
    if (!isdigit((unsigned char)*s))
        return -1;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    while (isspace((unsigned char)*end))
        end++;
    if (*end || errno || v > UINT32_MAX)
        return -1;
    *out = (uint32_t)v;
    return 0;
}

static int parse_i32(const char *s, int32_t *out)
{
    char *end;
    while (isspace((unsigned char)*s))
        s++;
    if (!isdigit((unsigned char)*s) && !((*s == '-' || *s == '+') && isdigit((unsigned char)s[1])))
        return -1;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    while (isspace((unsigned char)*end))
        end++;
    if (*end || errno || v > INT32_MAX || v < INT32_MIN)
        return -1;
    *out = (int32_t)v;
    return 0;
}

/* A quoted value: strips the quotes; returns NULL if they are missing. */
static char *unquote(char *s)
{
    size_t n = strlen(s);
    if (n < 2 || s[0] != '"' || s[n - 1] != '"')
        return NULL;
    s[n - 1] = '\0';
    return s + 1;
}

/* msg and other text: \" \; \\ \: and other escaped characters as themselves. */
static char *unescape_text(const char *s)
{
    char *o = malloc(strlen(s) + 1), *q = o;
    if (!o)
        return NULL;
    for (; *s; s++) {
        if (*s == '\\' && s[1])
            s++;
        *q++ = *s;
    }
    *q = '\0';
    return o;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = tolower(c);
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* A content string (between the quotes): |hex| and \; \" \\ \: escapes. */
static int decode_content(rp_t *p, const char *s, uint8_t **out, size_t *outlen)
{
    size_t n = strlen(s);
    uint8_t *b = malloc(n + 1);
    size_t o = 0;
    int inhex = 0, nib = -1;
    if (!b)
        return rp_fail(p, "out of memory");
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (inhex) {
            if (c == '|') {
                if (nib >= 0)
                    goto odd;
                inhex = 0;
            } else if (isspace(c)) {
                if (nib >= 0)
                    goto odd;
            } else if (hexval(c) >= 0) {
                if (nib < 0)
                    nib = hexval(c);
                else {
                    b[o++] = (uint8_t)(nib << 4 | hexval(c));
                    nib = -1;
                }
            } else {
                free(b);
                return rp_fail(p, "content: '%c' inside |hex|", c);
            }
        } else if (c == '|') {
            inhex = 1;
        } else if (c == '\\') {
            unsigned char e = (unsigned char)s[i + 1];
            if (e != ';' && e != '"' && e != '\\' && e != ':') {
                free(b);
                return rp_fail(p, "content: invalid escape \\%c (only \\; \\\" \\\\ \\: )", e ? e : ' ');
            }
            b[o++] = e;
            i++;
        } else if (c == '"' || c == ';') {
            free(b);
            return rp_fail(p, "content: unescaped %c (write \\%c or |%02X|)", c, c, c);
        } else {
            b[o++] = c;
        }
    }
    if (inhex) {
        free(b);
        return rp_fail(p, "content: |hex| not closed");
    }
    if (o == 0) {
        free(b);
        return rp_fail(p, "content: empty");
    }
    *out = b;
    *outlen = o;
    return CANH_OK;
odd:
    free(b);
    return rp_fail(p, "content: odd number of hex digits in |hex|");
}

static canh_nids_m_t *new_m(rp_t *p, canh_nids_mkind_t kind)
{
    canh_nids_rule_t *r = p->r;
    if (r->nm >= 256) {
        rp_fail(p, "more than 256 content and pcre options");
        return NULL;
    }
    canh_nids_m_t *m = realloc(r->m, (r->nm + 1) * sizeof(*m));
    if (!m) {
        rp_fail(p, "out of memory");
        return NULL;
    }
    r->m = m;
    m = &r->m[r->nm++];
    memset(m, 0, sizeof(*m));
    m->kind = kind;
    m->buffer = (uint8_t)p->cur_buffer;
    p->from_file_data[r->nm - 1] = (uint8_t)p->file_data;
    return m;
}

/* The rule's app protocol, from a buffer or keyword it uses. */
static int need_app(rp_t *p, canh_app_proto_t a, const char *kw)
{
    canh_nids_rule_t *r = p->r;
    if (a == CANH_APP_UNKNOWN)
        return CANH_OK;
    if (r->app != CANH_APP_UNKNOWN && r->app != a)
        return rp_fail(p, "%s is a %s keyword in a %s rule", kw, app_name(a), app_name(r->app));
    if (r->proto == IPPROTO_ICMP || (r->proto == IPPROTO_UDP && a != CANH_APP_DNS))
        return rp_fail(p, "%s is a %s keyword in a %s rule", kw, app_name(a),
                       r->proto == IPPROTO_ICMP ? "icmp" : "udp");
    r->app = a;
    return CANH_OK;
}

/* The last content (for a content modifier). */
static canh_nids_m_t *last_content(rp_t *p, const char *kw)
{
    canh_nids_rule_t *r = p->r;
    if (!r->nm || r->m[r->nm - 1].kind != CANH_NM_CONTENT) {
        rp_fail(p, "%s without a content before it", kw);
        return NULL;
    }
    return &r->m[r->nm - 1];
}

static int opt_content(rp_t *p, char *val)
{
    char *v = trim(val);
    int neg = 0;
    if (*v == '!') {
        neg = 1;
        v = trim(v + 1);
    }
    char *s = unquote(v);
    if (!s)
        return rp_fail(p, "content: the value must be in double quotes");
    canh_nids_m_t *m = new_m(p, CANH_NM_CONTENT);
    if (!m)
        return CANH_EPARSE;
    m->negated = (uint8_t)neg;
    return decode_content(p, s, &m->bytes, &m->len);
}

/* pcre:"/re/flags" (or !"/re/flags"); Suricata also takes it without the
 * quotes: pcre:/re/flags. */
static int opt_pcre(rp_t *p, char *val)
{
    char *v = trim(val);
    int neg = 0;
    if (*v == '!') {
        neg = 1;
        v = trim(v + 1);
    }
    char *s = *v == '/' ? v : unquote(v);
    if (!s || s[0] != '/')
        return rp_fail(p, "pcre: expected \"/regex/flags\"");
    char *end = strrchr(s + 1, '/');
    if (!end)
        return rp_fail(p, "pcre: expected \"/regex/flags\" (no closing /)");
    canh_nids_m_t *m = new_m(p, CANH_NM_PCRE);
    if (!m)
        return CANH_EPARSE;
    m->negated = (uint8_t)neg;
    int bufflag = -1;
    for (const char *f = end + 1; *f; f++) {
        int b = -1;
        switch (*f) {
        case 'i': m->pcre_flags |= PCRE2_CASELESS; break;
        case 's': m->pcre_flags |= PCRE2_DOTALL; break;
        case 'm': m->pcre_flags |= PCRE2_MULTILINE; break;
        case 'x': m->pcre_flags |= PCRE2_EXTENDED; break;
        case 'A': m->pcre_flags |= PCRE2_ANCHORED; break;
        case 'E': m->pcre_flags |= PCRE2_DOLLAR_ENDONLY; break;
        case 'G': m->pcre_flags |= PCRE2_UNGREEDY; break;
        case 'R': m->relative = 1; break;
        case 'B': break;                 /* rawbytes: canh has no other bytes */
        case 'U': b = CANH_NB_HTTP_URI; break;
        case 'I': b = CANH_NB_HTTP_URI_RAW; break;
        case 'P': b = CANH_NB_HTTP_REQUEST_BODY; break;
        case 'Q': b = CANH_NB_HTTP_RESPONSE_BODY; break;
        case 'H': b = CANH_NB_HTTP_HEADER; break;
        case 'D': b = CANH_NB_HTTP_HEADER_RAW; break;
        case 'M': b = CANH_NB_HTTP_METHOD; break;
        case 'C': b = CANH_NB_HTTP_COOKIE; break;
        case 'S': b = CANH_NB_HTTP_STAT_CODE; break;
        case 'Y': b = CANH_NB_HTTP_STAT_MSG; break;
        case 'V': b = CANH_NB_HTTP_UA; break;
        case 'W': b = CANH_NB_HTTP_HOST; break;
        case 'Z': b = CANH_NB_HTTP_HOST_RAW; break;
        case 'O': return rp_fail(p, "pcre flag O (match limit override) is not supported");
        default: return rp_fail(p, "pcre: unknown flag '%c'", *f);
        }
        if (b >= 0) {
            if (bufflag >= 0 && bufflag != b)
                return rp_fail(p, "pcre: two buffer flags");
            if (p->sticky_set && p->cur_buffer != b)
                return rp_fail(p, "pcre: buffer flag '%c' inside the sticky buffer %s", *f,
                               canh_nids_buffer_name(p->cur_buffer));
            bufflag = b;
        }
    }
    if (bufflag >= 0) {
        m->buffer = (uint8_t)bufflag;
        if (need_app(p, buffer_app(bufflag), "pcre") != CANH_OK)
            return CANH_EPARSE;
    }
    /* /R on the first match of a buffer is relative to the buffer's start */
    m->len = (size_t)(end - (s + 1));
    m->bytes = (uint8_t *)strndup(s + 1, m->len);
    if (!m->bytes)
        return rp_fail(p, "out of memory");
    /* Compile once here, so a bad regex is refused at load with its reason. */
    int ec;
    PCRE2_SIZE eo;
    pcre2_code *code = pcre2_compile((PCRE2_SPTR)m->bytes, m->len, m->pcre_flags, &ec, &eo, NULL);
    if (!code) {
        char msg[160];
        pcre2_get_error_message(ec, (PCRE2_UCHAR *)msg, sizeof(msg));
        return rp_fail(p, "pcre: %s at offset %zu", msg, (size_t)eo);
    }
    pcre2_code_free(code);
    return CANH_OK;
}

/* depth, offset, distance, within: a number (Suricata's byte_extract
 * variables are not supported). */
static int opt_modifier_num(rp_t *p, const char *kw, char *val)
{
    canh_nids_m_t *m = last_content(p, kw);
    if (!m)
        return CANH_EPARSE;
    int32_t v;
    if (parse_i32(trim(val), &v) != 0)
        return rp_fail(p, "%s: expected a number, not \"%s\"", kw, trim(val));
    if (m->startswith && (!strcmp(kw, "depth") || !strcmp(kw, "offset") || !strcmp(kw, "distance")
                          || !strcmp(kw, "within")))
        return rp_fail(p, "%s with startswith on the same content", kw);
    if (!strcmp(kw, "depth")) {
        if (m->has_depth)
            return rp_fail(p, "depth given twice for one content");
        if (m->has_distance || m->has_within)
            return rp_fail(p, "depth with distance/within on the same content");
        if (v < 0 || (size_t)v < m->len)
            return rp_fail(p, "depth %d is less than the content's length %zu", v, m->len);
        m->depth = v;
        m->has_depth = 1;
    } else if (!strcmp(kw, "offset")) {
        if (m->has_offset)
            return rp_fail(p, "offset given twice for one content");
        if (m->has_distance || m->has_within)
            return rp_fail(p, "offset with distance/within on the same content");
        if (v < 0)
            return rp_fail(p, "offset %d is negative", v);
        m->offset = v;
        m->has_offset = 1;
    } else if (!strcmp(kw, "distance")) {
        if (m->has_distance)
            return rp_fail(p, "distance given twice for one content");
        if (m->has_depth || m->has_offset)
            return rp_fail(p, "distance with depth/offset on the same content");
        m->distance = v;
        m->has_distance = 1;
        m->relative = 1;
    } else {
        if (m->has_within)
            return rp_fail(p, "within given twice for one content");
        if (m->has_depth || m->has_offset)
            return rp_fail(p, "within with depth/offset on the same content");
        if (v < 0 || (size_t)v < m->len)
            return rp_fail(p, "within %d is less than the content's length %zu", v, m->len);
        m->within = v;
        m->has_within = 1;
        m->relative = 1;
    }
    if (m->fast_pattern == 2 && m->relative)
        return rp_fail(p, "fast_pattern:only with distance/within");
    return CANH_OK;
}

static int opt_fast_pattern(rp_t *p, char *val)
{
    canh_nids_m_t *m = last_content(p, "fast_pattern");
    if (!m)
        return CANH_EPARSE;
    for (size_t i = 0; i < p->r->nm; i++)   /* Suricata: once per rule */
        if (p->r->m[i].fast_pattern)
            return rp_fail(p, "fast_pattern given twice in one rule");
    if (m->negated && (m->has_depth || m->has_offset || m->relative))
        return rp_fail(p, "fast_pattern on a negated content with depth/offset/distance/within");
    m->fast_pattern = 1;
    if (!val)
        return CANH_OK;
    char *v = trim(val);
    if (!strcmp(v, "only")) {
        /* Suricata 7 reads "only" as a plain fast_pattern: the content still
         * has to match where the rule says. */
        if (m->negated || m->relative)
            return rp_fail(p, "fast_pattern:only on a negated or relative content");
        m->fast_pattern = 2;
        return CANH_OK;
    }
    /* "offset,length": which part feeds the prefilter; the whole content
     * is still matched, so the chop only narrows the prefilter. */
    uint32_t off, len;
    char *comma = strchr(v, ',');
    if (!comma)
        return rp_fail(p, "fast_pattern: expected only or offset,length, not \"%s\"", v);
    *comma = '\0';
    if (parse_u32(v, &off) != 0 || parse_u32(comma + 1, &len) != 0 || len == 0
        || (uint64_t)off + len > m->len)
        return rp_fail(p, "fast_pattern: offset,length outside the content");
    return CANH_OK;
}

static int opt_flow(rp_t *p, char *val)
{
    canh_nids_rule_t *r = p->r;
    char *save = NULL;
    for (char *t = strtok_r(val, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        t = trim(t);
        uint32_t f;
        if (!strcmp(t, "established")) f = CANH_NF_ESTABLISHED;
        else if (!strcmp(t, "not_established")) f = CANH_NF_NOT_ESTABLISHED;
        else if (!strcmp(t, "stateless")) f = CANH_NF_STATELESS;
        else if (!strcmp(t, "to_server") || !strcmp(t, "from_client")) f = CANH_NF_TO_SERVER;
        else if (!strcmp(t, "to_client") || !strcmp(t, "from_server")) f = CANH_NF_TO_CLIENT;
        else if (!strcmp(t, "only_stream")) f = CANH_NF_ONLY_STREAM;
        else if (!strcmp(t, "no_stream")) f = CANH_NF_NO_STREAM;
        else
            return rp_fail(p, "flow: %s is not supported", t);
        if (r->flow & f)
            return rp_fail(p, "flow: %s given twice", t);
        r->flow |= f;
    }
    uint32_t st = r->flow & (CANH_NF_ESTABLISHED | CANH_NF_NOT_ESTABLISHED | CANH_NF_STATELESS);
    if (st & (st - 1))
        return rp_fail(p, "flow: established, not_established and stateless exclude each other");
    if ((r->flow & CANH_NF_TO_SERVER) && (r->flow & CANH_NF_TO_CLIENT))
        return rp_fail(p, "flow: to_server and to_client together");
    if ((r->flow & CANH_NF_ONLY_STREAM) && (r->flow & CANH_NF_NO_STREAM))
        return rp_fail(p, "flow: only_stream and no_stream together");
    if (!r->flow)
        return rp_fail(p, "flow: no option");
    return CANH_OK;
}

static int intern_bit(rp_t *p, const char *name, uint32_t *bit)
{
    canh_nids_rulevec_t *rv = p->out;
    for (size_t i = 0; i < rv->nbits; i++)
        if (!strcmp(rv->bitnames[i], name)) {
            *bit = (uint32_t)i;
            return CANH_OK;
        }
    if (rv->nbits >= NIDS_MAX_BITS)
        return rp_fail(p, "flowbits: more than %d names in the rule set", NIDS_MAX_BITS);
    char **nb = realloc(rv->bitnames, (rv->nbits + 1) * sizeof(*nb));
    if (!nb)
        return rp_fail(p, "out of memory");
    rv->bitnames = nb;
    if (!(nb[rv->nbits] = strdup(name)))
        return rp_fail(p, "out of memory");
    *bit = (uint32_t)rv->nbits++;
    return CANH_OK;
}

static int opt_flowbits(rp_t *p, char *val)
{
    canh_nids_rule_t *r = p->r;
    char *v = trim(val), *comma = strchr(v, ',');
    if (comma)
        *comma = '\0';
    char *op = trim(v), *names = comma ? trim(comma + 1) : NULL;
    canh_nids_flowbit_t fb = { 0 };
    if (!strcmp(op, "set")) fb.op = CANH_FB_SET;
    else if (!strcmp(op, "isset")) fb.op = CANH_FB_ISSET;
    else if (!strcmp(op, "isnotset")) fb.op = CANH_FB_ISNOTSET;
    else if (!strcmp(op, "unset")) fb.op = CANH_FB_UNSET;
    else if (!strcmp(op, "toggle")) fb.op = CANH_FB_TOGGLE;
    else if (!strcmp(op, "noalert")) fb.op = CANH_FB_NOALERT;
    else
        return rp_fail(p, "flowbits: unknown operation \"%s\"", op);
    if (fb.op == CANH_FB_NOALERT) {
        if (names && *names)
            return rp_fail(p, "flowbits: noalert takes no name");
    } else if (!names || !*names) {
        return rp_fail(p, "flowbits: %s needs a name", op);
    }
    if (names) {
        int has_or = strchr(names, '|') != NULL, has_and = strchr(names, '&') != NULL;
        if (has_or && has_and)
            return rp_fail(p, "flowbits: | and & in one expression");
        if (has_or && fb.op != CANH_FB_ISSET && fb.op != CANH_FB_ISNOTSET)
            return rp_fail(p, "flowbits: a|b only with isset or isnotset");
        fb.all = has_and;
        char *save = NULL;
        for (char *t = strtok_r(names, has_or ? "|" : "&", &save); t; t = strtok_r(NULL, has_or ? "|" : "&", &save)) {
            t = trim(t);
            if (!*t || strpbrk(t, " \t,")) {
                free(fb.bits);
                return rp_fail(p, "flowbits: bad name \"%s\"", t);
            }
            if (fb.nbits >= 64) {
                free(fb.bits);
                return rp_fail(p, "flowbits: more than 64 names in one option");
            }
            uint32_t *nb = realloc(fb.bits, (fb.nbits + 1) * sizeof(*nb));
            if (!nb) {
                free(fb.bits);
                return rp_fail(p, "out of memory");
            }
            fb.bits = nb;
            if (intern_bit(p, t, &fb.bits[fb.nbits]) != CANH_OK) {
                free(fb.bits);
                return CANH_EPARSE;
            }
            fb.nbits++;
        }
        if (!fb.nbits)
            return rp_fail(p, "flowbits: %s needs a name", op);
    }
    canh_nids_flowbit_t *nv = realloc(r->flowbits, (r->nflowbits + 1) * sizeof(*nv));
    if (!nv) {
        free(fb.bits);
        return rp_fail(p, "out of memory");
    }
    r->flowbits = nv;
    nv[r->nflowbits++] = fb;
    return CANH_OK;
}

/* Suricata's integer comparison (dsize, bsize): N, =N, <N, >N, <=N, >=N,
 * !N, lo<>hi (exclusive). <=N is returned as <N+1, >=N as >N-1. Returns 0
 * or -1 with the reason set. */
static int parse_ucmp(rp_t *p, const char *kw, char *val, uint32_t max, int *op, uint32_t *lo,
                      uint32_t *hi)
{
    char *v = trim(val), *rng = strstr(v, "<>");
    uint32_t a, b;
    if (rng) {
        *rng = '\0';
        if (parse_u32(v, &a) || parse_u32(rng + 2, &b) || b > max || a + 1 >= b)
            return rp_fail(p, "%s: expected lo<>hi with lo + 1 < hi <= %u", kw, max), -1;
        *op = 'r';
        *lo = a;
        *hi = b;
        return 0;
    }
    int o = '=', eq = 0;
    if (*v == '<' || *v == '>' || *v == '!' || *v == '=') {
        o = *v++;
        if (*v == '=' && (o == '<' || o == '>')) {
            eq = 1;
            v++;
        }
    }
    if (parse_u32(v, &a) || a > max)
        return rp_fail(p, "%s: expected N, <N, >N, <=N, >=N, !N or lo<>hi (N up to %u)", kw, max), -1;
    if (eq && o == '<')
        a++;
    else if (eq && o == '>') {
        if (a == 0)
            return rp_fail(p, "%s: >=0 is always true; leave %s out", kw, kw), -1;
        a--;
    }
    if (o == '<' && a == 0)
        return rp_fail(p, "%s: <0 is never true", kw), -1;
    if (o == '>' && a >= max)
        return rp_fail(p, "%s: >%u is never true", kw, a), -1;
    *op = o;
    *lo = a;
    *hi = 0;
    return 0;
}

static int opt_dsize(rp_t *p, char *val)
{
    canh_nids_rule_t *r = p->r;
    if (r->dsize_op)
        return rp_fail(p, "dsize given twice");
    if (r->app != CANH_APP_UNKNOWN)
        return rp_fail(p, "dsize in a %s rule (dsize is about packets)", app_name(r->app));
    int op;
    uint32_t lo, hi;
    if (parse_ucmp(p, "dsize", val, 65535, &op, &lo, &hi) != 0)
        return CANH_EPARSE;
    r->dsize_op = op;
    r->dsize_lo = lo;
    r->dsize_hi = hi;
    return CANH_OK;
}

/* bsize: the size of the sticky buffer; matched as a pcre added after the
 * rule's other matches (rp_validate), so nothing is relative to it. */
static int opt_bsize(rp_t *p, char *val)
{
    if (!p->sticky_set)
        return rp_fail(p, "bsize without a sticky buffer before it");
    for (size_t i = 0; i < p->nbsize; i++)
        if (p->bsize[i].buffer == p->cur_buffer)
            return rp_fail(p, "bsize given twice for %s", canh_nids_buffer_name(p->cur_buffer));
    if (p->nbsize >= sizeof(p->bsize) / sizeof(p->bsize[0]))
        return rp_fail(p, "bsize: too many");
    int op;
    uint32_t lo, hi;
    if (parse_ucmp(p, "bsize", val, 65535, &op, &lo, &hi) != 0)
        return CANH_EPARSE;
    p->bsize[p->nbsize].buffer = p->cur_buffer;
    p->bsize[p->nbsize].op = op;
    p->bsize[p->nbsize].lo = lo;
    p->bsize[p->nbsize].hi = hi;
    p->nbsize++;
    return CANH_OK;
}

/* Appends a pcre the parser made (bsize, dotprefix) on buffer. */
static int add_made_pcre(rp_t *p, int buffer, const char *re, uint32_t flags)
{
    int save = p->cur_buffer;
    p->cur_buffer = buffer;
    canh_nids_m_t *m = new_m(p, CANH_NM_PCRE);
    p->cur_buffer = save;
    if (!m)
        return CANH_EPARSE;
    m->pcre_flags = flags;
    m->len = strlen(re);
    if (!(m->bytes = (uint8_t *)strdup(re)))
        return rp_fail(p, "out of memory");
    return CANH_OK;
}

/* The pcre for a bsize: the whole buffer, by its length. */
static int bsize_pcre(rp_t *p, int buffer, int op, uint32_t lo, uint32_t hi)
{
    char re[96];
    if (p->dotprefix >> buffer & 1) {
        /* dotprefix makes the buffer one byte longer than the one inspected:
         * the condition on n+1 becomes one on n */
        if ((op == '=' && lo == 0) || (op == '<' && lo <= 1))
            return rp_fail(p, "bsize: never true after dotprefix");
        if ((op == '>' || op == '!') && lo == 0)
            op = 0;                                  /* always true */
        else if (op == 'r' && lo == 0) {
            op = '<';
            lo = hi - 1;
        } else {
            lo--;
            hi = hi ? hi - 1 : 0;
        }
    }
    switch (op) {
    case 0: return CANH_OK;
    case '=': snprintf(re, sizeof(re), "\\A[\\s\\S]{%u}\\z", lo); break;
    case '<': snprintf(re, sizeof(re), "\\A[\\s\\S]{0,%u}\\z", lo - 1); break;
    case '>': snprintf(re, sizeof(re), "\\A[\\s\\S]{%u}", lo + 1); break;
    case '!': snprintf(re, sizeof(re), "\\A(?![\\s\\S]{%u}\\z)", lo); break;
    default: snprintf(re, sizeof(re), "\\A[\\s\\S]{%u,%u}\\z", lo + 1, hi - 1); break;
    }
    return add_made_pcre(p, buffer, re, 0);
}

/* dotprefix on a buffer whose one content ends it ("."+q ends with ".x"):
 * q ends with "x" and what is before "x" is the start or a dot. A content
 * that does not start with '.' ends "."+q exactly when it ends q. */
static int dotprefix_rewrite(rp_t *p, int buffer)
{
    canh_nids_rule_t *r = p->r;
    canh_nids_m_t *m = NULL;
    size_t n = 0;
    for (size_t i = 0; i < r->nm; i++)
        if (r->m[i].buffer == buffer) {
            m = &r->m[i];
            n++;
        }
    if (n != 1 || m->kind != CANH_NM_CONTENT || m->negated || !m->endswith || m->startswith
        || m->has_offset || m->has_depth || m->relative)
        return rp_fail(p, "dotprefix is supported only with one content that ends the buffer "
                          "(content:\".example.com\"; endswith)");
    if (m->len < 2 || m->bytes[0] != '.') {
        if (m->len < 2 && m->bytes[0] == '.')
            return rp_fail(p, "dotprefix with content \".\" alone is not supported");
        return CANH_OK;
    }
    memmove(m->bytes, m->bytes + 1, --m->len);
    char *re = malloc(m->len * 4 + 16), *q = re;
    if (!re)
        return rp_fail(p, "out of memory");
    q += sprintf(q, "(?:\\A|\\.)");
    for (size_t i = 0; i < m->len; i++) {
        unsigned char c = m->bytes[i];
        if (isalnum(c))
            *q++ = (char)c;
        else
            q += sprintf(q, "\\x%02x", c);
    }
    strcpy(q, "\\z");
    int rc = add_made_pcre(p, buffer, re, m->nocase ? PCRE2_CASELESS : 0);
    free(re);
    return rc;
}

/* threshold: type X, track Y, count N, seconds M; detection_filter without type. */
static int opt_threshold(rp_t *p, const char *kw, char *val)
{
    canh_nids_rule_t *r = p->r;
    if (r->threshold.type != CANH_NT_NONE)
        return rp_fail(p, "%s: only one threshold or detection_filter per rule", kw);
    int is_df = !strcmp(kw, "detection_filter");
    canh_nids_ttype_t type = is_df ? CANH_NT_DETECTION_FILTER : CANH_NT_NONE;
    canh_nids_track_t track = 0;
    int have_count = 0, have_seconds = 0;
    uint32_t count = 0, seconds = 0;
    char *save = NULL;
    for (char *t = strtok_r(val, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        t = trim(t);
        char *sp = t;
        while (*sp && !isspace((unsigned char)*sp))
            sp++;
        char *arg = *sp ? trim(sp + 1) : sp;
        *sp = '\0';
        if (!strcmp(t, "type") && !is_df) {
            if (!strcmp(arg, "limit")) type = CANH_NT_LIMIT;
            else if (!strcmp(arg, "threshold")) type = CANH_NT_THRESHOLD;
            else if (!strcmp(arg, "both")) type = CANH_NT_BOTH;
            else
                return rp_fail(p, "%s: type %s is not supported (limit, threshold, both)", kw, arg);
        } else if (!strcmp(t, "track")) {
            if (!strcmp(arg, "by_src")) track = CANH_NTR_SRC;
            else if (!strcmp(arg, "by_dst")) track = CANH_NTR_DST;
            else if (!strcmp(arg, "by_rule")) track = CANH_NTR_RULE;
            else if (!strcmp(arg, "by_both")) track = CANH_NTR_BOTH;
            else
                return rp_fail(p, "%s: track %s is not supported (by_src, by_dst, by_rule, by_both)",
                               kw, arg);
        } else if (!strcmp(t, "count")) {
            if (parse_u32(arg, &count) || count == 0)
                return rp_fail(p, "%s: count must be a number from 1", kw);
            have_count = 1;
        } else if (!strcmp(t, "seconds")) {
            if (parse_u32(arg, &seconds) || seconds == 0)
                return rp_fail(p, "%s: seconds must be a number from 1", kw);
            have_seconds = 1;
        } else {
            return rp_fail(p, "%s: unknown setting \"%s\"", kw, t);
        }
    }
    if (type == CANH_NT_NONE || !track || !have_count || !have_seconds)
        return rp_fail(p, "%s: needs %strack, count and seconds", kw, is_df ? "" : "type, ");
    r->threshold.type = type;
    r->threshold.track = track;
    r->threshold.count = count;
    r->threshold.seconds = seconds;
    return CANH_OK;
}

/* One option (name, value or NULL). */
static int rp_option(rp_t *p, const char *name, char *val)
{
    canh_nids_rule_t *r = p->r;
    const bufname_t *bn;
    if (!strcmp(name, "msg")) {
        char *s = val ? unquote(trim(val)) : NULL;
        if (!s)
            return rp_fail(p, "msg: the value must be in double quotes");
        free(r->msg);
        if (!(r->msg = unescape_text(s)))
            return rp_fail(p, "out of memory");
        return CANH_OK;
    }
    if (!strcmp(name, "sid") || !strcmp(name, "rev") || !strcmp(name, "gid")) {
        uint32_t v;
        if (!val || parse_u32(val, &v) != 0)
            return rp_fail(p, "%s: expected a number", name);
        if (!strcmp(name, "sid")) {
            if (v == 0)
                return rp_fail(p, "sid: 0 is not a valid sid");
            r->sid = v;
        } else if (!strcmp(name, "rev"))
            r->rev = v;
        else
            r->gid = v;
        return CANH_OK;
    }
    if (!strcmp(name, "classtype")) {
        const nids_class_t *c = val ? class_get(p->vars, trim(val)) : NULL;
        if (!c)
            return rp_fail(p, "classtype: unknown class \"%s\" (see network.classification)",
                           val ? trim(val) : "");
        free(r->classtype);
        if (!(r->classtype = strdup(c->name)))
            return rp_fail(p, "out of memory");
        p->class_desc = c->desc;
        if (!r->priority)
            r->priority = c->priority;
        return CANH_OK;
    }
    if (!strcmp(name, "priority")) {
        uint32_t v;
        if (!val || parse_u32(val, &v) != 0 || v < 1 || v > 255)
            return rp_fail(p, "priority: expected a number from 1 to 255");
        r->priority = (int)v;     /* over the classtype's, in any order */
        return CANH_OK;
    }
    if (!strcmp(name, "reference")) {
        if (!val || !strchr(val, ','))
            return rp_fail(p, "reference: expected type,id");
        char *t = trim(val);
        if (strv_push(&r->references, &r->nreferences, t, strlen(t)) != CANH_OK)
            return rp_fail(p, "out of memory");
        return CANH_OK;
    }
    if (!strcmp(name, "metadata")) {
        if (!val)
            return rp_fail(p, "metadata: empty");
        char *save = NULL;
        for (char *t = strtok_r(val, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
            t = trim(t);
            if (*t && strv_push(&r->metadata, &r->nmetadata, t, strlen(t)) != CANH_OK)
                return rp_fail(p, "out of memory");
        }
        return CANH_OK;
    }
    if (!strcmp(name, "target")) {
        if (!val || (strcmp(trim(val), "src_ip") && strcmp(trim(val), "dest_ip")))
            return rp_fail(p, "target: expected src_ip or dest_ip");
        return CANH_OK;   /* only names which side is the target in Suricata's output */
    }
    if (!strcmp(name, "content"))
        return val ? opt_content(p, val) : rp_fail(p, "content: no value");
    if (!strcmp(name, "pcre"))
        return val ? opt_pcre(p, val) : rp_fail(p, "pcre: no value");
    if (!strcmp(name, "nocase")) {
        canh_nids_m_t *m = last_content(p, name);
        if (!m)
            return CANH_EPARSE;
        if (m->nocase)
            return rp_fail(p, "nocase given twice for one content");
        m->nocase = 1;
        return CANH_OK;
    }
    if (!strcmp(name, "rawbytes"))
        return last_content(p, name) ? CANH_OK : CANH_EPARSE;
    if (!strcmp(name, "depth") || !strcmp(name, "offset") || !strcmp(name, "distance")
        || !strcmp(name, "within"))
        return val ? opt_modifier_num(p, name, val) : rp_fail(p, "%s: no value", name);
    if (!strcmp(name, "startswith")) {
        canh_nids_m_t *m = last_content(p, name);
        if (!m)
            return CANH_EPARSE;
        if (m->has_depth || m->has_offset || m->relative || m->startswith)
            return rp_fail(p, "startswith with depth/offset/distance/within on the same content");
        m->startswith = 1;                /* as Suricata: depth:len; offset:0 */
        m->depth = (int32_t)m->len;
        m->has_depth = 1;
        m->offset = 0;
        return CANH_OK;
    }
    if (!strcmp(name, "endswith")) {
        canh_nids_m_t *m = last_content(p, name);
        if (!m)
            return CANH_EPARSE;
        if (m->endswith)
            return rp_fail(p, "endswith given twice for one content");
        m->endswith = 1;
        return CANH_OK;
    }
    if (!strcmp(name, "fast_pattern"))
        return opt_fast_pattern(p, val);
    if (!strcmp(name, "flow"))
        return val ? opt_flow(p, val) : rp_fail(p, "flow: no value");
    if (!strcmp(name, "noalert")) {       /* Suricata 7's short form of flowbits:noalert */
        if (val)
            return rp_fail(p, "noalert takes no value");
        char na[] = "noalert";
        return opt_flowbits(p, na);
    }
    if (!strcmp(name, "flowbits"))
        return val ? opt_flowbits(p, val) : rp_fail(p, "flowbits: no value");
    if (!strcmp(name, "dsize"))
        return val ? opt_dsize(p, val) : rp_fail(p, "dsize: no value");
    if (!strcmp(name, "bsize"))
        return val ? opt_bsize(p, val) : rp_fail(p, "bsize: no value");
    if (!strcmp(name, "dotprefix")) {
        if (val)
            return rp_fail(p, "dotprefix takes no value");
        if (!p->sticky_set)
            return rp_fail(p, "dotprefix without a sticky buffer before it");
        for (size_t i = 0; i < p->r->nm; i++)
            if (p->r->m[i].buffer == p->cur_buffer)
                return rp_fail(p, "dotprefix after a content of its buffer");
        p->dotprefix |= 1ull << p->cur_buffer;
        return CANH_OK;
    }
    if (!strcmp(name, "threshold") || !strcmp(name, "detection_filter"))
        return val ? opt_threshold(p, name, val) : rp_fail(p, "%s: no value", name);
    if ((bn = buffer_get(name)) != NULL) {
        if (val)
            return rp_fail(p, "%s takes no value", name);
        if (need_app(p, buffer_app(bn->id), name) != CANH_OK)
            return CANH_EPARSE;
        if (bn->legacy) {
            canh_nids_m_t *m = last_content(p, name);
            if (!m)
                return CANH_EPARSE;
            if (p->sticky_set)
                return rp_fail(p, "%s (a content modifier) after a sticky buffer", name);
            if (m->buffer != CANH_NB_PACKET)
                return rp_fail(p, "%s: the content already has the buffer %s", name,
                               canh_nids_buffer_name(m->buffer));
            m->buffer = bn->id;
            return CANH_OK;
        }
        p->cur_buffer = bn->id;
        p->sticky_set = bn->id != CANH_NB_PACKET;   /* pkt_data: back to the payload */
        p->file_data = !strcmp(name, "file.data") || !strcmp(name, "file_data");
        return CANH_OK;
    }
    for (size_t i = 0; i < sizeof(unsupported) / sizeof(unsupported[0]); i++)
        if (!strcmp(unsupported[i], name))
            return rp_fail(p, "unsupported keyword %s", name);
    return rp_fail(p, "unknown keyword %s", name);
}

/* After the options: what Suricata checks on the rule as a whole. */
static int rp_validate(rp_t *p)
{
    canh_nids_rule_t *r = p->r;
    if (!r->sid)
        return rp_fail(p, "no sid");
    if (!r->gid)
        r->gid = 1;
    if (!r->priority)
        r->priority = 3;
    /* file.data is the files a flow carries: a response's body, or, in a rule
     * to the server, what the client uploads (a request's body), as in
     * Suricata */
    if (r->flow & CANH_NF_TO_SERVER)
        for (size_t i = 0; i < r->nm; i++)
            if (p->from_file_data[i] && r->m[i].buffer == CANH_NB_HTTP_RESPONSE_BODY)
                r->m[i].buffer = CANH_NB_HTTP_REQUEST_BODY;
    for (int b = 0; b < CANH_NB__COUNT; b++)
        if ((p->dotprefix >> b & 1) && dotprefix_rewrite(p, b) != CANH_OK)
            return CANH_EPARSE;
    for (size_t i = 0; i < p->nbsize; i++)
        if (bsize_pcre(p, p->bsize[i].buffer, p->bsize[i].op, p->bsize[i].lo, p->bsize[i].hi)
            != CANH_OK)
            return CANH_EPARSE;
    for (size_t i = 0; i < r->nm; i++) {
        canh_nids_m_t *m = &r->m[i];
        if (m->kind != CANH_NM_CONTENT)
            continue;
        if (m->has_depth && m->has_offset && (int64_t)m->depth < (int64_t)m->len)
            return rp_fail(p, "depth %d is less than the content's length %zu", m->depth, m->len);
        if (m->has_within && m->has_distance && m->distance >= 0
            && (int64_t)m->within < (int64_t)m->len)
            return rp_fail(p, "within %d is less than the content's length %zu", m->within, m->len);
    }
    /* Rules that inspect HTTP data on a bare tcp rule become http rules:
     * the app protocol comes from the buffers (need_app). A tls/dns/ssh
     * rule on udp other than dns is refused there. */
    if (r->app != CANH_APP_UNKNOWN && !r->proto && r->app != CANH_APP_DNS)
        r->proto = IPPROTO_TCP;
    return CANH_OK;
}

/* ------------------------------------------------------------ the rule */

static void rule_free(canh_nids_rule_t *r)
{
    if (!r)
        return;
    free(r->file);
    free(r->msg);
    free(r->classtype);
    for (size_t i = 0; i < r->nreferences; i++)
        free(r->references[i]);
    free(r->references);
    for (size_t i = 0; i < r->nmetadata; i++)
        free(r->metadata[i]);
    free(r->metadata);
    free(r->src.r);
    free(r->dst.r);
    free(r->sport.r);
    free(r->dport.r);
    for (size_t i = 0; i < r->nflowbits; i++)
        free(r->flowbits[i].bits);
    free(r->flowbits);
    for (size_t i = 0; i < r->nm; i++)
        free(r->m[i].bytes);
    free(r->m);
    canh_rule_free(r->alert_rule);
    free(r);
}

void canh_nids_rule_free(canh_nids_rule_t *r)
{
    rule_free(r);
}

void canh_nids_rulevec_free(canh_nids_rulevec_t *rv)
{
    if (!rv)
        return;
    for (size_t i = 0; i < rv->n; i++)
        rule_free(rv->v[i]);
    free(rv->v);
    for (size_t i = 0; i < rv->nbits; i++)
        free(rv->bitnames[i]);
    free(rv->bitnames);
    free(rv->sids);
    memset(rv, 0, sizeof(*rv));
}

canh_level_t canh_nids_level(int priority, const canh_nids_rule_t *r)
{
    canh_level_t l = priority <= 1 ? CANH_LEVEL_HIGH
                   : priority == 2 ? CANH_LEVEL_MEDIUM
                   : priority == 3 ? CANH_LEVEL_LOW
                                   : CANH_LEVEL_INFORMATIONAL;
    if (r && l == CANH_LEVEL_HIGH)
        for (size_t i = 0; i < r->nmetadata; i++)
            if (strcasecmp(r->metadata[i], "signature_severity Critical") == 0)
                return CANH_LEVEL_CRITICAL;
    return l;
}

/* metadata mitre_technique_id T1071.001 -> attack.t1071.001;
 * mitre_tactic_name Command_And_Control -> attack.command-and-control. */
static int add_tag(canh_rule_t *ar, const char *md)
{
    const char *v;
    char tag[160];
    if (!strncmp(md, "mitre_technique_id ", 19))
        v = md + 19;
    else if (!strncmp(md, "mitre_tactic_name ", 18))
        v = md + 18;
    else
        return CANH_OK;
    while (*v == ' ')
        v++;
    size_t n = snprintf(tag, sizeof(tag), "attack.");
    for (; *v && n < sizeof(tag) - 1; v++)
        tag[n++] = *v == '_' ? '-' : (char)tolower((unsigned char)*v);
    tag[n] = '\0';
    for (size_t i = 0; i < ar->ntags; i++)
        if (!strcmp(ar->tags[i], tag))
            return CANH_OK;
    return strv_push(&ar->tags, &ar->ntags, tag, n);
}

static int make_alert_rule(canh_nids_rule_t *r, const char *class_desc)
{
    canh_rule_t *ar = calloc(1, sizeof(*ar));
    char id[32];
    if (!ar)
        return CANH_ENOMEM;
    r->alert_rule = ar;
    snprintf(id, sizeof(id), "%u", r->sid);
    ar->id = strdup(id);
    ar->title = strdup(r->msg ? r->msg : id);
    ar->file = strdup(r->file);
    ar->line = (int)r->line;
    ar->level = r->level;
    ar->ruleset = strdup("suricata");
    if (!ar->id || !ar->title || !ar->file || !ar->ruleset)
        return CANH_ENOMEM;
    if (r->classtype && !(ar->category = strdup(r->classtype)))
        return CANH_ENOMEM;
    if (class_desc && *class_desc && !(ar->description = strdup(class_desc)))
        return CANH_ENOMEM;
    for (size_t i = 0; i < r->nreferences; i++) {
        /* "url,example.com/x" -> "http://example.com/x"; other types as written */
        const char *ref = r->references[i];
        char buf[2048];
        if (!strncasecmp(ref, "url,", 4)) {
            const char *u = ref + 4;
            while (*u == ' ')
                u++;
            snprintf(buf, sizeof(buf), "%s%s", strstr(u, "://") ? "" : "http://", u);
            ref = buf;
        }
        if (strv_push(&ar->references, &ar->nreferences, ref, strlen(ref)) != CANH_OK)
            return CANH_ENOMEM;
    }
    for (size_t i = 0; i < r->nmetadata; i++)
        if (add_tag(ar, r->metadata[i]) != CANH_OK)
            return CANH_ENOMEM;
    return CANH_OK;
}

/* gid:sid seen in this rule vector: an open-addressing set in rv->sids. */
static int sid_seen_add(canh_nids_rulevec_t *rv, uint32_t gid, uint32_t sid)
{
    uint64_t key = (uint64_t)gid << 32 | sid | 1ull << 63;
    if (rv->nsids * 2 + 2 > rv->sidcap) {
        size_t nc = rv->sidcap ? rv->sidcap * 2 : 1024;
        uint64_t *nt = calloc(nc, sizeof(*nt));
        if (!nt)
            return CANH_ENOMEM;
        for (size_t i = 0; i < rv->sidcap; i++)
            if (rv->sids[i]) {
                size_t h = (size_t)((rv->sids[i] * 0x9E3779B97F4A7C15ull) >> 20) & (nc - 1);
                while (nt[h])
                    h = (h + 1) & (nc - 1);
                nt[h] = rv->sids[i];
            }
        free(rv->sids);
        rv->sids = nt;
        rv->sidcap = nc;
    }
    size_t h = (size_t)((key * 0x9E3779B97F4A7C15ull) >> 20) & (rv->sidcap - 1);
    while (rv->sids[h]) {
        if (rv->sids[h] == key)
            return CANH_EINVAL;
        h = (h + 1) & (rv->sidcap - 1);
    }
    rv->sids[h] = key;
    rv->nsids++;
    return CANH_OK;
}

/* Splits "name:value" options at unescaped ';'. Returns the number of
 * options or -1 (reason set). */
static int rp_options(rp_t *p, char *s)
{
    while (*s) {
        while (isspace((unsigned char)*s))
            s++;
        if (!*s)
            break;
        char *start = s;
        /* as Suricata: a backslash escapes the next character, quotes do
         * not protect a ';' */
        while (*s && *s != ';') {
            if (*s == '\\' && s[1])
                s++;
            s++;
        }
        if (!*s)
            return rp_fail(p, "option \"%.40s\" not ended by ;", trim(start));
        *s++ = '\0';
        char *colon = NULL;
        for (char *q = start; *q; q++) {
            if (*q == ':') {
                colon = q;
                break;
            }
            if (*q == '"')
                break;
        }
        char *val = NULL;
        if (colon) {
            *colon = '\0';
            val = trim(colon + 1);
        }
        char *name = trim(start);
        if (!*name)
            return rp_fail(p, "empty option");
        for (char *q = name; *q; q++)          /* keywords are caseless, as Suricata's */
            *q = (char)tolower((unsigned char)*q);
        int rc = rp_option(p, name, val);
        if (rc != CANH_OK)
            return rc;
    }
    return CANH_OK;
}

/* The sid, read ahead so a refusal of an earlier option can name it: the
 * option named sid, found the way rp_options splits them (a "sid:" inside
 * a msg or content is not it). */
static void find_sid(const char *opts, char *out, size_t outlen)
{
    snprintf(out, outlen, "sid:?");
    const char *s = opts;
    if (*s == '(')
        s++;
    while (*s) {
        while (isspace((unsigned char)*s))
            s++;
        const char *start = s;
        while (*s && *s != ';') {
            if (*s == '\\' && s[1])
                s++;
            s++;
        }
        if (s - start > 3 && !strncasecmp(start, "sid", 3)) {
            const char *v = start + 3;
            while (isspace((unsigned char)*v))
                v++;
            if (*v == ':') {
                v++;
                while (isspace((unsigned char)*v))
                    v++;
                char *end;
                unsigned long n = strtoul(v, &end, 10);
                if (end != v && n <= UINT32_MAX) {
                    snprintf(out, outlen, "sid:%lu", n);
                    return;
                }
            }
        }
        if (*s)
            s++;
    }
}

/* Reads the next whitespace-separated header token (the header has no
 * '('; a [ ] list may hold spaces). */
static char *next_tok(char **sp)
{
    char *s = *sp;
    while (isspace((unsigned char)*s))
        s++;
    if (!*s)
        return NULL;
    char *start = s;
    int lvl = 0;
    while (*s && (lvl > 0 || !isspace((unsigned char)*s))) {
        if (*s == '[')
            lvl++;
        else if (*s == ']')
            lvl--;
        s++;
    }
    if (*s)
        *s++ = '\0';
    *sp = s;
    return start;
}

int canh_nids_parse_rule(const char *text, const char *file, uint32_t line,
                         const canh_nids_vars_t *vars, canh_nids_rulevec_t *out,
                         canh_refuse_fn refuse, void *ud)
{
    rp_t p = { .file = file ? file : "-", .line = line, .vars = vars, .out = out,
               .cur_buffer = CANH_NB_PACKET };
    size_t tlen = text ? strlen(text) : 0;
    if (!text || !out)
        return CANH_EINVAL;
    char *buf = NULL;
    canh_nids_rule_t *r = NULL;
    int rc = CANH_EPARSE;
    if (tlen > NIDS_MAX_RULE) {
        snprintf(p.sidtxt, sizeof(p.sidtxt), "sid:?");
        rp_fail(&p, "rule longer than %d bytes", NIDS_MAX_RULE);
        goto done;
    }
    buf = strdup(text);
    r = calloc(1, sizeof(*r));
    if (!buf || !r) {
        rc = CANH_ENOMEM;
        snprintf(p.sidtxt, sizeof(p.sidtxt), "sid:?");
        rp_fail(&p, "out of memory");
        goto done;
    }
    p.r = r;
    const char *lp = strchr(text, '(');
    find_sid(lp ? lp : "", p.sidtxt, sizeof(p.sidtxt));
    r->line = line;
    if (!(r->file = strdup(p.file))) {
        rc = CANH_ENOMEM;
        rp_fail(&p, "out of memory");
        goto done;
    }

    /* header: everything before the first '(' */
    char *opts = strchr(buf, '(');
    if (!opts) {
        rp_fail(&p, "options must be in ( ) after the header");
        goto done;
    }
    *opts++ = '\0';
    char *s = buf;
    char *action = next_tok(&s);
    if (!action) {
        rp_fail(&p, "no rule header");
        goto done;
    }
    if (!strcmp(action, "alert")) r->action = CANH_NA_ALERT;
    else if (!strcmp(action, "pass")) r->action = CANH_NA_PASS;
    else if (!strcmp(action, "drop")) r->action = CANH_NA_DROP;
    else if (!strcmp(action, "reject") || !strcmp(action, "rejectsrc")
             || !strcmp(action, "rejectdst") || !strcmp(action, "rejectboth"))
        r->action = CANH_NA_REJECT;
    else {
        rp_fail(&p, "unknown action \"%s\" (alert, pass, drop, reject)", action);
        goto done;
    }
    char *proto = next_tok(&s);
    if (!proto) {
        rp_fail(&p, "no protocol");
        goto done;
    }
    if (!strcmp(proto, "ip")) r->proto = 0;
    else if (!strcmp(proto, "tcp")) r->proto = IPPROTO_TCP;
    else if (!strcmp(proto, "udp")) r->proto = IPPROTO_UDP;
    else if (!strcmp(proto, "icmp")) r->proto = IPPROTO_ICMP;
    else if (!strcmp(proto, "tcp-pkt")) { r->proto = IPPROTO_TCP; r->flow |= CANH_NF_NO_STREAM; }
    else if (!strcmp(proto, "tcp-stream")) { r->proto = IPPROTO_TCP; r->flow |= CANH_NF_ONLY_STREAM; }
    else if (!strcmp(proto, "http") || !strcmp(proto, "http1")) { r->proto = IPPROTO_TCP; r->app = CANH_APP_HTTP; }
    else if (!strcmp(proto, "tls")) { r->proto = IPPROTO_TCP; r->app = CANH_APP_TLS; }
    else if (!strcmp(proto, "ssh")) { r->proto = IPPROTO_TCP; r->app = CANH_APP_SSH; }
    else if (!strcmp(proto, "dns")) { r->proto = 0; r->app = CANH_APP_DNS; }
    else {
        rp_fail(&p, "unsupported protocol %s (canh parses ip, tcp, udp, icmp, http, dns, tls, ssh)", proto);
        goto done;
    }
    char *src = next_tok(&s), *sport = src ? next_tok(&s) : NULL;
    char *dir = sport ? next_tok(&s) : NULL;
    char *dst = dir ? next_tok(&s) : NULL, *dport = dst ? next_tok(&s) : NULL;
    if (!src || !sport || !dir || !dst || !dport || next_tok(&s)) {
        rp_fail(&p, "header: expected action proto src sport -> dst dport (options)");
        goto done;
    }
    char e[256] = "";
    int hrc = parse_addr(vars, src, &r->src, e, sizeof(e));
    if (hrc == CANH_OK)
        hrc = parse_ports(vars, sport, &r->sport, e, sizeof(e));
    if (hrc == CANH_OK) {
        if (!strcmp(dir, "->"))
            r->bidirectional = 0;
        else if (!strcmp(dir, "<>"))
            r->bidirectional = 1;
        else {
            snprintf(e, sizeof(e), "direction \"%s\" (-> or <>)", dir);
            hrc = CANH_EPARSE;
        }
    }
    if (hrc == CANH_OK)
        hrc = parse_addr(vars, dst, &r->dst, e, sizeof(e));
    if (hrc == CANH_OK)
        hrc = parse_ports(vars, dport, &r->dport, e, sizeof(e));
    if (hrc != CANH_OK) {
        rp_fail(&p, "header: %s", e);
        goto done;
    }
    if (r->proto == IPPROTO_ICMP && (!r->sport.any || !r->dport.any)) {
        rp_fail(&p, "ports in an icmp rule (write any)");
        goto done;
    }
    size_t sl = strlen(opts);
    while (sl && isspace((unsigned char)opts[sl - 1]))
        sl--;
    if (sl < 1 || opts[sl - 1] != ')') {
        rp_fail(&p, "options must end with )");
        goto done;
    }
    opts[sl - 1] = '\0';
    if (rp_options(&p, opts) != CANH_OK || rp_validate(&p) != CANH_OK)
        goto done;
    snprintf(p.sidtxt, sizeof(p.sidtxt), "sid:%u", r->sid);
    if (sid_seen_add(out, r->gid, r->sid) != CANH_OK) {
        rp_fail(&p, "duplicate sid %u (gid %u)", r->sid, r->gid);
        goto done;
    }
    r->level = canh_nids_level(r->priority, r);
    if (make_alert_rule(r, p.class_desc) != CANH_OK) {
        rc = CANH_ENOMEM;
        rp_fail(&p, "out of memory");
        goto done;
    }
    if (out->n == out->cap) {
        size_t nc = out->cap ? out->cap * 2 : 64;
        canh_nids_rule_t **nv = realloc(out->v, nc * sizeof(*nv));
        if (!nv) {
            rc = CANH_ENOMEM;
            rp_fail(&p, "out of memory");
            goto done;
        }
        out->v = nv;
        out->cap = nc;
    }
    out->v[out->n++] = r;
    r = NULL;
    rc = CANH_OK;
done:
    if (rc != CANH_OK && refuse)
        refuse(ud, p.file, (int)line, p.sidtxt, p.reason);
    rule_free(r);
    free(buf);
    return rc;
}

int canh_nids_load_file(const char *path, const canh_nids_vars_t *vars, canh_nids_rulevec_t *out,
                        canh_refuse_fn refuse, void *ud, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "%s: cannot read the rules file: %s", path, strerror(errno));
        return CANH_EIO;
    }
    size_t cap = 4096, n = 0;
    char *rule = malloc(cap), *line = NULL;
    size_t lcap = 0;
    ssize_t ll;
    uint32_t lineno = 0, start = 0;
    int toolong = 0, rc = CANH_OK;
    if (!rule) {
        fclose(f);
        snprintf(err, errlen, "out of memory");
        return CANH_ENOMEM;
    }
    rule[0] = '\0';
    for (;;) {
        ll = getline(&line, &lcap, f);
        if (ll < 0)
            break;
        lineno++;
        while (ll > 0 && (line[ll - 1] == '\n' || line[ll - 1] == '\r'))
            line[--ll] = '\0';
        int cont = ll > 0 && line[ll - 1] == '\\';
        if (cont)
            line[--ll] = '\0';
        if (n == 0) {
            char *t = line;
            while (isspace((unsigned char)*t))
                t++;
            if (!*t || *t == '#') {
                if (!cont)
                    continue;
            }
            start = lineno;
        }
        if (!toolong) {
            if (n + (size_t)ll + 1 > NIDS_MAX_RULE) {
                toolong = 1;
            } else {
                if (n + (size_t)ll + 1 > cap) {
                    size_t nc = cap;
                    while (nc < n + (size_t)ll + 1)
                        nc *= 2;
                    char *nr = realloc(rule, nc);
                    if (!nr) {
                        rc = CANH_ENOMEM;
                        snprintf(err, errlen, "out of memory");
                        break;
                    }
                    rule = nr;
                    cap = nc;
                }
                memcpy(rule + n, line, (size_t)ll + 1);
                n += (size_t)ll;
            }
        }
        if (cont)
            continue;
        char *t = rule;
        while (isspace((unsigned char)*t))
            t++;
        if (toolong) {
            if (refuse)
                refuse(ud, path, (int)start, "sid:?", "rule longer than 65536 bytes");
        } else if (*t && *t != '#') {
            if (canh_nids_parse_rule(t, path, start, vars, out, refuse, ud) == CANH_ENOMEM) {
                rc = CANH_ENOMEM;
                snprintf(err, errlen, "%s:%u: out of memory", path, start);
                break;
            }
        }
        n = 0;
        rule[0] = '\0';
        toolong = 0;
    }
    if (rc == CANH_OK && n > 0) {
        char *t = rule;
        while (isspace((unsigned char)*t))
            t++;
        if (*t && *t != '#' && canh_nids_parse_rule(t, path, start, vars, out, refuse, ud) == CANH_ENOMEM) {
            rc = CANH_ENOMEM;
            snprintf(err, errlen, "%s:%u: out of memory", path, start);
        }
    }
    if (rc == CANH_OK && ferror(f)) {
        rc = CANH_EIO;
        snprintf(err, errlen, "%s: read error: %s", path, strerror(errno));
    }
    free(line);
    free(rule);
    fclose(f);
    return rc;
}

const char *canh_nids_buffer_name(int id)
{
    static const char *const names[] = {
#define CANH_X_NBN(e, name) name,
        CANH_NET_BUFFERS(CANH_X_NBN)
#undef CANH_X_NBN
    };
    if (id < 0 || id >= CANH_NB__COUNT)
        return "?";
    return names[id];
}

static int has_rules_ext(const char *name)
{
    size_t n = strlen(name);
    return n > 6 && !strcmp(name + n - 6, ".rules");
}

typedef struct count_ctx {
    canh_refuse_fn refuse;
    void *ud;
    size_t refused;
} count_ctx_t;

static void count_refuse(void *ud, const char *file, int line, const char *id, const char *reason)
{
    count_ctx_t *c = ud;
    c->refused++;
    if (c->refuse)
        c->refuse(c->ud, file, line, id, reason);
}

typedef struct tree_ctx {
    const canh_nids_vars_t *vars;
    canh_nids_rulevec_t *out;
    count_ctx_t *cc;
} tree_ctx_t;

static int tree_file(void *ud, const char *path, char *err, size_t errlen)
{
    tree_ctx_t *t = ud;
    return canh_nids_load_file(path, t->vars, t->out, count_refuse, t->cc, err, errlen);
}

static void tree_unreadable(void *ud, const char *path, const char *err)
{
    count_refuse(((tree_ctx_t *)ud)->cc, path, 0, "-", err);
}

/* A .rules file, or every *.rules file under a folder (canh_walk_files). */
static int load_tree(const char *path, const canh_nids_vars_t *vars, canh_nids_rulevec_t *out,
                     count_ctx_t *cc, char *err, size_t errlen)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return errno == ENOENT ? CANH_ENOENT : CANH_EIO;
    }
    if (!S_ISDIR(st.st_mode))
        return canh_nids_load_file(path, vars, out, count_refuse, cc, err, errlen);
    tree_ctx_t t = { vars, out, cc };
    return canh_walk_files(path, has_rules_ext, tree_file, tree_unreadable, &t, err, errlen);
}

int canh_nids_load_path(const char *path, const canh_nids_vars_t *vars, canh_nids_rulevec_t *out,
                        canh_refuse_fn refuse, void *ud, size_t *loaded, size_t *refused,
                        char *err, size_t errlen)
{
    if (errlen)
        err[0] = '\0';
    if (!path || !out) {
        snprintf(err, errlen, "canh_nids_load_path: missing argument");
        return CANH_EINVAL;
    }
    count_ctx_t cc = { refuse, ud, 0 };
    size_t before = out->n;
    int rc = load_tree(path, vars, out, &cc, err, errlen);
    if (loaded)
        *loaded += out->n - before;
    if (refused)
        *refused += cc.refused;
    return rc;
}

int canh_nids_is_rules_path(const char *path)
{
    struct stat st;
    return path && has_rules_ext(path) && stat(path, &st) == 0 && !S_ISDIR(st.st_mode);
}
