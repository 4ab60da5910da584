/*
 * tests/test_nids_parse.c -- the Suricata rule parser (engine/detect/
 * nids_parse.c): the header (actions, protocols, address and port sets with
 * variables, negation and nesting), every supported option, the checks
 * Suricata makes, refusals (file, line, sid, keyword), variables and
 * classes, the alert rule, .rules files, and the ET Open load rate.
 *
 * Address and port sets are checked by matching addresses against them,
 * the parser-made pcre (bsize, dotprefix) by running it with PCRE2.
 * Runs from the repository root (../shared/corpus for ET Open).
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../engine/config.h"
#include "../engine/detect/nids.h"
#include "../engine/load.h"

/* ---------------------------------------------------------------- helpers */

static canh_nids_vars_t *vars;
static canh_nids_rulevec_t rv;
static char last_reason[1024], last_id[64], last_file[256];
static int last_line;
static size_t nrefused;

static void on_refuse(void *ud, const char *file, int line, const char *id, const char *reason)
{
    (void)ud;
    snprintf(last_reason, sizeof(last_reason), "%s", reason);
    snprintf(last_id, sizeof(last_id), "%s", id ? id : "");
    snprintf(last_file, sizeof(last_file), "%s", file ? file : "");
    last_line = line;
    nrefused++;
}

static void setup(void)
{
    vars = canh_nids_vars_default();
    cr_assert_not_null(vars);
    memset(&rv, 0, sizeof(rv));
    last_reason[0] = last_id[0] = last_file[0] = '\0';
    nrefused = 0;
}

static void teardown(void)
{
    canh_nids_rulevec_free(&rv);
    canh_nids_vars_free(vars);
}

/* Parses one rule that must load; returns it. */
static const canh_nids_rule_t *ok(const char *text)
{
    size_t before = rv.n;
    int rc = canh_nids_parse_rule(text, "t.rules", 7, vars, &rv, on_refuse, NULL);
    cr_assert_eq(rc, CANH_OK, "refused: %s\nrule: %s", last_reason, text);
    cr_assert_eq(rv.n, before + 1);
    return rv.v[rv.n - 1];
}

/* Parses one rule that must be refused; returns the reason. */
static const char *refused(const char *text)
{
    size_t before = rv.n, nr = nrefused;
    int rc = canh_nids_parse_rule(text, "t.rules", 7, vars, &rv, on_refuse, NULL);
    cr_assert_neq(rc, CANH_OK, "loaded, but should not have: %s", text);
    cr_assert_eq(rv.n, before);
    cr_assert_eq(nrefused, nr + 1, "one refusal per refused rule");
    cr_assert_str_eq(last_file, "t.rules");
    cr_assert_eq(last_line, 7);
    return last_reason;
}

#define R(hdr, opts) hdr " (" opts ")"
#define TCP "alert tcp any any -> any any"
#define HTTP "alert http any any -> any any"

static void ip4(const char *s, uint8_t out[16])
{
    memset(out, 0, 16);
    cr_assert_eq(inet_pton(AF_INET, s, out), 1);
}
static int in4(const canh_nids_addr_t *a, const char *s)
{
    uint8_t ip[16];
    ip4(s, ip);
    return canh_nids_addr_match(a, 4, ip);
}
static int in6(const canh_nids_addr_t *a, const char *s)
{
    uint8_t ip[16];
    cr_assert_eq(inet_pton(AF_INET6, s, ip), 1);
    return canh_nids_addr_match(a, 6, ip);
}

/* The rule's address set for a source expression. */
static const canh_nids_addr_t *src_of(const char *expr)
{
    char text[1024];
    snprintf(text, sizeof(text), "alert ip %s any -> any any (sid:%zu;)", expr, 1000 + rv.n);
    return &ok(text)->src;
}
static const char *src_refused(const char *expr)
{
    char text[1024];
    snprintf(text, sizeof(text), "alert ip %s any -> any any (sid:%zu;)", expr, 1000 + rv.n);
    return refused(text);
}
static const canh_nids_ports_t *dport_of(const char *expr)
{
    char text[1024];
    snprintf(text, sizeof(text), "alert tcp any any -> any %s (sid:%zu;)", expr, 1000 + rv.n);
    return &ok(text)->dport;
}
static const char *dport_refused(const char *expr)
{
    char text[1024];
    snprintf(text, sizeof(text), "alert tcp any any -> any %s (sid:%zu;)", expr, 1000 + rv.n);
    return refused(text);
}

/* Runs a parser-made pcre on a subject. */
static int pcre_hits(const canh_nids_m_t *m, const char *subject)
{
    int ec;
    PCRE2_SIZE eo;
    pcre2_code *c = pcre2_compile(m->bytes, m->len, m->pcre_flags, &ec, &eo, NULL);
    cr_assert_not_null(c, "pcre %s does not compile", m->bytes);
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(c, NULL);
    int rc = pcre2_match(c, (PCRE2_SPTR)subject, strlen(subject), 0, 0, md, NULL);
    pcre2_match_data_free(md);
    pcre2_code_free(c);
    return rc >= 0;
}

TestSuite(nids_parse, .init = setup, .fini = teardown);

/* ---------------------------------------------------------------- header */

Test(nids_parse, basic_rule)
{
    const canh_nids_rule_t *r = ok(R("alert tcp $HOME_NET any -> $EXTERNAL_NET 80",
        "msg:\"ET TEST a \\\"quoted\\\" \\; message\"; content:\"abc\"; sid:2000001; rev:3; "
        "classtype:trojan-activity;"));
    cr_assert_eq(r->action, CANH_NA_ALERT);
    cr_assert_eq(r->proto, IPPROTO_TCP);
    cr_assert_eq(r->app, CANH_APP_UNKNOWN);
    cr_assert_eq(r->sid, 2000001);
    cr_assert_eq(r->rev, 3);
    cr_assert_eq(r->gid, 1, "gid defaults to 1");
    cr_assert_str_eq(r->msg, "ET TEST a \"quoted\" ; message");
    cr_assert_str_eq(r->classtype, "trojan-activity");
    cr_assert_eq(r->priority, 1);
    cr_assert_eq(r->level, CANH_LEVEL_HIGH);
    cr_assert_str_eq(r->file, "t.rules");
    cr_assert_eq(r->line, 7);
    cr_assert_eq(r->nm, 1);
    cr_assert_eq(r->m[0].kind, CANH_NM_CONTENT);
    cr_assert_eq(r->m[0].buffer, CANH_NB_PACKET);
    cr_assert_eq(r->m[0].len, 3);
    cr_assert(!memcmp(r->m[0].bytes, "abc", 3));
    cr_assert(canh_nids_ports_match(&r->dport, 80));
    cr_assert_not(canh_nids_ports_match(&r->dport, 81));
    cr_assert(r->sport.any);
    cr_assert(in4(&r->src, "10.1.2.3"));
    cr_assert_not(in4(&r->src, "8.8.8.8"));
    cr_assert(in4(&r->dst, "8.8.8.8"));
    cr_assert_not(in4(&r->dst, "192.168.1.1"));
    cr_assert_not(r->bidirectional);
}

Test(nids_parse, actions)
{
    cr_assert_eq(ok("alert ip any any -> any any (sid:1;)")->action, CANH_NA_ALERT);
    cr_assert_eq(ok("pass ip any any -> any any (sid:2;)")->action, CANH_NA_PASS);
    cr_assert_eq(ok("drop ip any any -> any any (sid:3;)")->action, CANH_NA_DROP);
    cr_assert_eq(ok("reject ip any any -> any any (sid:4;)")->action, CANH_NA_REJECT);
    cr_assert_eq(ok("rejectboth tcp any any -> any any (sid:5;)")->action, CANH_NA_REJECT);
    cr_assert(strstr(refused("log ip any any -> any any (sid:6;)"), "unknown action \"log\""));
}

Test(nids_parse, protocols)
{
    const canh_nids_rule_t *r = ok("alert http any any -> any any (sid:1;)");
    cr_assert_eq(r->app, CANH_APP_HTTP);
    cr_assert_eq(r->proto, IPPROTO_TCP);
    r = ok("alert dns any any -> any any (sid:2;)");
    cr_assert_eq(r->app, CANH_APP_DNS);
    cr_assert_eq(r->proto, 0, "dns: udp or tcp");
    cr_assert_eq(ok("alert tls any any -> any any (sid:3;)")->app, CANH_APP_TLS);
    cr_assert_eq(ok("alert ssh any any -> any any (sid:4;)")->app, CANH_APP_SSH);
    cr_assert_eq(ok("alert udp any any -> any any (sid:5;)")->proto, IPPROTO_UDP);
    cr_assert_eq(ok("alert icmp any any -> any any (sid:6;)")->proto, IPPROTO_ICMP);
    cr_assert_eq(ok("alert ip any any -> any any (sid:7;)")->proto, 0);
    r = ok("alert tcp-pkt any any -> any any (sid:8;)");
    cr_assert_eq(r->proto, IPPROTO_TCP);
    cr_assert(r->flow & CANH_NF_NO_STREAM);
    cr_assert(ok("alert tcp-stream any any -> any any (sid:9;)")->flow & CANH_NF_ONLY_STREAM);
    const char *why = refused("alert smtp any any -> any any (sid:10;)");
    cr_assert(strstr(why, "unsupported protocol smtp"), "%s", why);
    cr_assert_str_eq(last_id, "sid:10");
    cr_assert(strstr(refused("alert smb any any -> any any (sid:11;)"), "smb"));
    cr_assert(strstr(refused("alert icmp any 80 -> any any (sid:12;)"), "ports in an icmp rule"));
}

Test(nids_parse, header_shape)
{
    cr_assert(ok("alert tcp any any <> any any (sid:1;)")->bidirectional);
    cr_assert(strstr(refused("alert tcp any any <- any any (sid:2;)"), "direction \"<-\""));
    cr_assert(strstr(refused("alert tcp any any -> any (sid:3;)"), "header"));
    cr_assert(strstr(refused("alert tcp any any -> any any any (sid:4;)"), "header"));
    cr_assert(strstr(refused("alert tcp any any -> any any sid:5;"), "( )"));
    cr_assert(strstr(refused("alert tcp any any -> any any (sid:6;"), "end with )"));
    cr_assert(strstr(refused("alert tcp any any -> any any (msg:\"x\")"), "not ended by ;"));
    cr_assert(strstr(refused("alert tcp any any -> any any (msg:\"no sid\";)"), "no sid"));
    cr_assert(strstr(refused("alert tcp any any -> any any (sid:0;)"), "sid"));
    cr_assert(strstr(refused("alert tcp any any -> any any (sid:abc;)"), "sid: expected a number"));
    /* spaces inside a [ ] list are fine */
    const canh_nids_rule_t *r = ok("alert tcp [10.0.0.1, 10.0.0.2] any -> any [80, 443] (sid:7;)");
    cr_assert(in4(&r->src, "10.0.0.2"));
    cr_assert(canh_nids_ports_match(&r->dport, 443));
}

/* ---------------------------------------------------------------- addresses */

Test(nids_parse, addresses_cidr_and_lists)
{
    const canh_nids_addr_t *a = src_of("any");
    cr_assert(a->any);
    cr_assert(in6(a, "2001:db8::1"));

    a = src_of("192.168.1.0/24");
    cr_assert(in4(a, "192.168.1.0"));
    cr_assert(in4(a, "192.168.1.255"));
    cr_assert_not(in4(a, "192.168.2.0"));
    cr_assert_not(in6(a, "::ffff:192.168.1.1"), "an IPv4 set does not hold IPv6 addresses");

    a = src_of("192.168.1.0/255.255.255.128");
    cr_assert(in4(a, "192.168.1.127"));
    cr_assert_not(in4(a, "192.168.1.128"));

    a = src_of("[1.1.1.1,2.2.2.0/30,3.3.3.1-3.3.3.3]");
    cr_assert(in4(a, "1.1.1.1"));
    cr_assert_not(in4(a, "1.1.1.2"));
    cr_assert(in4(a, "2.2.2.3"));
    cr_assert_not(in4(a, "2.2.2.4"));
    cr_assert(in4(a, "3.3.3.2"));
    cr_assert_not(in4(a, "3.3.3.4"));

    a = src_of("2001:db8::/32");
    cr_assert(in6(a, "2001:db8:ffff::1"));
    cr_assert_not(in6(a, "2001:db9::1"));
    cr_assert_not(in4(a, "1.2.3.4"));

    a = src_of("[10.0.0.0/8,2001:db8::/32]");
    cr_assert(in4(a, "10.200.0.1"));
    cr_assert(in6(a, "2001:db8::5"));
}

Test(nids_parse, addresses_negation_and_nesting)
{
    const canh_nids_addr_t *a = src_of("[10.0.0.0/8,!10.1.0.0/16]");
    cr_assert(in4(a, "10.2.0.1"));
    cr_assert_not(in4(a, "10.1.2.3"));
    cr_assert_not(in4(a, "11.0.0.1"));

    a = src_of("!10.0.0.0/8");
    cr_assert(in4(a, "11.0.0.1"));
    cr_assert_not(in4(a, "10.0.0.1"));
    cr_assert(in6(a, "::1"), "!v4 network holds every IPv6 address");

    /* a list of only negations: everything but them */
    a = src_of("[!1.2.3.4,!5.6.7.0/24]");
    cr_assert(in4(a, "1.2.3.5"));
    cr_assert_not(in4(a, "1.2.3.4"));
    cr_assert_not(in4(a, "5.6.7.8"));

    /* nested: not (10/8 but 10.1/16) = outside 10/8, or inside 10.1/16 */
    a = src_of("![10.0.0.0/8,!10.1.0.0/16]");
    cr_assert(in4(a, "10.1.0.1"));
    cr_assert(in4(a, "9.9.9.9"));
    cr_assert_not(in4(a, "10.2.0.1"));

    a = src_of("[192.168.0.0/16,[!192.168.5.0/24,192.168.5.7]]");
    cr_assert(in4(a, "192.168.5.7"));
    cr_assert(in4(a, "192.168.1.1"));

    cr_assert(strstr(src_refused("[1.2.3.4,!1.2.3.4]"), "matches no address"));
    cr_assert(strstr(src_refused("!any"), "matches no address"));
    cr_assert(strstr(src_refused("1.2.3.400"), "bad address"));
    cr_assert(strstr(src_refused("1.2.3.0/33"), "prefix length"));
    cr_assert(strstr(src_refused("1.2.3.0/255.0.255.0"), "netmask with holes"));
    cr_assert(strstr(src_refused("[1.2.3.4"), "header"));
    cr_assert(strstr(src_refused("[1.2.3.4]]"), "unbalanced"));
    cr_assert(strstr(src_refused("[1.2.3.4,]"), "empty element"));
}

Test(nids_parse, address_variables)
{
    const canh_nids_addr_t *a = src_of("$HOME_NET");
    cr_assert(in4(a, "172.16.5.5"));
    cr_assert(in4(a, "192.168.0.1"));
    cr_assert_not(in4(a, "8.8.8.8"));

    a = src_of("$EXTERNAL_NET");   /* !$HOME_NET */
    cr_assert(in4(a, "8.8.8.8"));
    cr_assert_not(in4(a, "10.0.0.1"));

    a = src_of("!$EXTERNAL_NET");
    cr_assert(in4(a, "10.0.0.1"));
    cr_assert_not(in4(a, "8.8.8.8"));

    a = src_of("[$HOME_NET,$HTTP_SERVERS]");
    cr_assert(in4(a, "10.0.0.1"));

    char err[256];
    cr_assert_eq(canh_nids_vars_set(vars, "HOME_NET", "[100.64.0.0/10,!100.64.1.0/24]", err,
                                    sizeof(err)), CANH_OK);
    cr_assert_eq(canh_nids_vars_set(vars, "DMZ", "[$HOME_NET,203.0.113.0/24]", err, sizeof(err)),
                 CANH_OK);
    a = src_of("$DMZ");
    cr_assert(in4(a, "100.64.9.9"));
    cr_assert(in4(a, "203.0.113.9"));
    cr_assert_not(in4(a, "100.64.1.1"));
    cr_assert_not(in4(a, "10.0.0.1"), "HOME_NET replaced, not added to");
    a = src_of("$EXTERNAL_NET");
    cr_assert(in4(a, "10.0.0.1"), "EXTERNAL_NET follows HOME_NET");

    cr_assert(strstr(src_refused("$NOPE"), "unknown variable $NOPE"));
    cr_assert_eq(canh_nids_vars_set(vars, "LOOP", "[1.1.1.1,$LOOP]", err, sizeof(err)), CANH_OK);
    cr_assert(strstr(src_refused("$LOOP"), "refers to itself"));
    cr_assert_eq(canh_nids_vars_set(vars, "bad name", "1.1.1.1", err, sizeof(err)), CANH_EINVAL);
}

/* ---------------------------------------------------------------- ports */

Test(nids_parse, ports)
{
    const canh_nids_ports_t *p = dport_of("[80,8000:8080,!8008]");
    cr_assert(canh_nids_ports_match(p, 80));
    cr_assert(canh_nids_ports_match(p, 8000));
    cr_assert(canh_nids_ports_match(p, 8080));
    cr_assert_not(canh_nids_ports_match(p, 8008));
    cr_assert_not(canh_nids_ports_match(p, 81));

    p = dport_of(":1023");
    cr_assert(canh_nids_ports_match(p, 0));
    cr_assert(canh_nids_ports_match(p, 1023));
    cr_assert_not(canh_nids_ports_match(p, 1024));

    p = dport_of("1024:");
    cr_assert(canh_nids_ports_match(p, 65535));
    cr_assert_not(canh_nids_ports_match(p, 1023));

    p = dport_of("!443");
    cr_assert(canh_nids_ports_match(p, 80));
    cr_assert_not(canh_nids_ports_match(p, 443));

    p = dport_of("$HTTP_PORTS");
    cr_assert(canh_nids_ports_match(p, 80));
    cr_assert_not(canh_nids_ports_match(p, 443));
    p = dport_of("$SHELLCODE_PORTS");
    cr_assert_not(canh_nids_ports_match(p, 80));
    cr_assert(canh_nids_ports_match(p, 81));
    p = dport_of("$FILE_DATA_PORTS");   /* nested: [$HTTP_PORTS,110,143] */
    cr_assert(canh_nids_ports_match(p, 80));
    cr_assert(canh_nids_ports_match(p, 143));
    cr_assert(dport_of("0:65535")->any);

    cr_assert(strstr(dport_refused("70000"), "bad port"));
    cr_assert(strstr(dport_refused("90:80"), "ends before it starts"));
    cr_assert(strstr(dport_refused("[80,!80]"), "matches no port"));
    cr_assert(strstr(dport_refused("http"), "bad port"));
    cr_assert(strstr(dport_refused(":"), "bad port range"));
}

/* ---------------------------------------------------------------- content */

Test(nids_parse, content_hex_and_escapes)
{
    const canh_nids_rule_t *r = ok(R(TCP, "content:\"GET|20 2f|x|0d0a|\"; "
                                          "content:\"a\\;b\\\"c\\\\d\\:e\"; content:!\"no\"; sid:1;"));
    cr_assert_eq(r->nm, 3);
    cr_assert_eq(r->m[0].len, 8);
    cr_assert(!memcmp(r->m[0].bytes, "GET /x\r\n", 8));
    cr_assert_eq(r->m[1].len, 9);
    cr_assert(!memcmp(r->m[1].bytes, "a;b\"c\\d:e", 9));
    cr_assert(r->m[2].negated);
    cr_assert_not(r->m[0].negated);

    cr_assert(strstr(refused(R(TCP, "content:\"|4|\"; sid:2;")), "odd number of hex digits"));
    cr_assert(strstr(refused(R(TCP, "content:\"|4g|\"; sid:3;")), "inside |hex|"));
    cr_assert(strstr(refused(R(TCP, "content:\"|41\"; sid:4;")), "not closed"));
    cr_assert(strstr(refused(R(TCP, "content:\"a\\nb\"; sid:5;")), "invalid escape"));
    cr_assert(strstr(refused(R(TCP, "content:\"a\"b\"; sid:6;")), "unescaped \""));
    cr_assert(strstr(refused(R(TCP, "content:abc; sid:7;")), "double quotes"));
    cr_assert(strstr(refused(R(TCP, "content:\"\"; sid:8;")), "empty"));
}

Test(nids_parse, content_modifiers)
{
    const canh_nids_rule_t *r = ok(R(TCP, "content:\"abc\"; nocase; offset:2; depth:10; "
        "content:\"def\"; distance:0; within:20; fast_pattern; "
        "content:\"xyz\"; distance:-2; content:\"end\"; endswith; rawbytes; sid:1;"));
    cr_assert_eq(r->nm, 4);
    const canh_nids_m_t *m = &r->m[0];
    cr_assert(m->nocase && m->has_offset && m->has_depth && !m->relative);
    cr_assert_eq(m->offset, 2);
    cr_assert_eq(m->depth, 10);
    m = &r->m[1];
    cr_assert(m->relative && m->has_distance && m->has_within && m->fast_pattern == 1);
    cr_assert_eq(m->distance, 0);
    cr_assert_eq(m->within, 20);
    cr_assert_not(m->nocase);
    cr_assert_eq(r->m[2].distance, -2);
    cr_assert(r->m[3].endswith);

    r = ok(R(TCP, "content:\"GET \"; startswith; sid:2;"));
    cr_assert(r->m[0].startswith);
    cr_assert(r->m[0].has_depth);
    cr_assert_eq(r->m[0].depth, 4);
    cr_assert_eq(r->m[0].offset, 0);

    cr_assert_eq(ok(R(TCP, "content:\"abcd\"; fast_pattern:only; sid:3;"))->m[0].fast_pattern, 2);
    cr_assert_eq(ok(R(TCP, "content:\"abcdef\"; fast_pattern:1,3; sid:4;"))->m[0].fast_pattern, 1);
    cr_assert(strstr(refused(R(TCP, "content:\"abc\"; fast_pattern:2,5; sid:5;")), "outside the content"));
    cr_assert(strstr(refused(R(TCP, "content:\"a\"; fast_pattern; content:\"b\"; fast_pattern; sid:6;")),
                     "fast_pattern given twice"));
    cr_assert(strstr(refused(R(HTTP, "http.uri; content:\"a\"; fast_pattern; http.host; "
                                     "content:\"b\"; fast_pattern; sid:7;")), "twice in one rule"));

    /* Suricata's checks */
    cr_assert(strstr(refused(R(TCP, "content:\"abcdef\"; depth:3; sid:10;")),
                     "depth 3 is less than the content's length 6"));
    cr_assert(strstr(refused(R(TCP, "content:\"a\"; content:\"abcdef\"; within:3; sid:11;")),
                     "within 3 is less than"));
    cr_assert(strstr(refused(R(TCP, "content:\"a\"; content:\"b\"; distance:1; depth:5; sid:12;")),
                     "depth with distance"));
    cr_assert(strstr(refused(R(TCP, "content:\"a\"; content:\"b\"; offset:1; within:5; sid:13;")),
                     "within with depth/offset"));
    cr_assert(strstr(refused(R(TCP, "content:\"ab\"; startswith; depth:4; sid:14;")), "startswith"));
    cr_assert(strstr(refused(R(TCP, "content:\"ab\"; offset:1; startswith; sid:15;")), "startswith"));
    cr_assert(strstr(refused(R(TCP, "nocase; content:\"a\"; sid:16;")),
                     "nocase without a content before it"));
    cr_assert(strstr(refused(R(TCP, "content:\"a\"; nocase; nocase; sid:17;")), "nocase given twice"));
    cr_assert(strstr(refused(R(TCP, "content:\"a\"; depth:x; sid:18;")), "depth: expected a number"));
    cr_assert(strstr(refused(R(TCP, "content:\"a\"; depth:1; depth:2; sid:19;")), "depth given twice"));
    cr_assert(strstr(refused(R(TCP, "pcre:\"/a/\"; depth:4; sid:20;")), "depth without a content"));
    cr_assert(strstr(refused(R(TCP, "content:\"a\"; content:\"b\"; distance:0; fast_pattern:only; sid:21;")),
                     "fast_pattern:only"));
    cr_assert(strstr(refused(R(TCP, "content:!\"ab\"; depth:4; fast_pattern; sid:22;")),
                     "fast_pattern on a negated content"));
}

/* ---------------------------------------------------------------- pcre */

Test(nids_parse, pcre)
{
    const canh_nids_rule_t *r = ok(R(TCP, "content:\"x\"; pcre:\"/^a\\;b\\/c/Rismx\"; "
                                          "pcre:!\"/evil/\"; sid:1;"));
    cr_assert_eq(r->nm, 3);
    const canh_nids_m_t *m = &r->m[1];
    cr_assert_eq(m->kind, CANH_NM_PCRE);
    cr_assert_str_eq((const char *)m->bytes, "^a\\;b\\/c", "as written: PCRE reads \\; as ;");
    cr_assert(m->relative);
    cr_assert_eq(m->pcre_flags, PCRE2_CASELESS | PCRE2_MULTILINE | PCRE2_DOTALL | PCRE2_EXTENDED);
    cr_assert(r->m[2].negated);

    r = ok(R(TCP, "pcre:\"/^\\/admin/U\"; pcre:\"/Mozilla/V\"; pcre:\"/secret/Pi\"; sid:2;"));
    cr_assert_eq(r->m[0].buffer, CANH_NB_HTTP_URI);
    cr_assert_eq(r->m[1].buffer, CANH_NB_HTTP_UA);
    cr_assert_eq(r->m[2].buffer, CANH_NB_HTTP_REQUEST_BODY);
    cr_assert_eq(r->app, CANH_APP_HTTP, "a buffer flag makes the rule an http rule");

    static const struct { char flag; int buf; } flags[] = {
        { 'U', CANH_NB_HTTP_URI }, { 'I', CANH_NB_HTTP_URI_RAW }, { 'P', CANH_NB_HTTP_REQUEST_BODY },
        { 'Q', CANH_NB_HTTP_RESPONSE_BODY }, { 'H', CANH_NB_HTTP_HEADER },
        { 'D', CANH_NB_HTTP_HEADER_RAW }, { 'M', CANH_NB_HTTP_METHOD }, { 'C', CANH_NB_HTTP_COOKIE },
        { 'S', CANH_NB_HTTP_STAT_CODE }, { 'Y', CANH_NB_HTTP_STAT_MSG }, { 'V', CANH_NB_HTTP_UA },
        { 'W', CANH_NB_HTTP_HOST }, { 'Z', CANH_NB_HTTP_HOST_RAW },
    };
    for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
        char text[256];
        snprintf(text, sizeof(text), HTTP " (pcre:\"/x/%cB\"; sid:%zu;)", flags[i].flag, 100 + i);
        cr_assert_eq(ok(text)->m[0].buffer, flags[i].buf, "flag %c", flags[i].flag);
    }
    r = ok(R(TCP, "pcre:/^GET \\/one/U; sid:9;"));   /* without quotes, as Suricata takes it */
    cr_assert_str_eq((const char *)r->m[0].bytes, "^GET \\/one");
    cr_assert_eq(r->m[0].buffer, CANH_NB_HTTP_URI);
    cr_assert(strstr(refused(R(TCP, "pcre:\"/a/O\"; sid:3;")), "flag O"));
    cr_assert(strstr(refused(R(TCP, "pcre:\"/a/k\"; sid:4;")), "unknown flag 'k'"));
    cr_assert(strstr(refused(R(TCP, "pcre:\"/a(/\"; sid:5;")), "pcre: missing closing parenthesis"));
    cr_assert(strstr(refused(R(TCP, "pcre:\"a\"; sid:6;")), "/regex/flags"));
    cr_assert(strstr(refused(R(HTTP, "http.uri; pcre:\"/a/H\"; sid:7;")), "sticky buffer http.uri"));
    cr_assert(strstr(refused(R("alert dns any any -> any any", "pcre:\"/a/U\"; sid:8;")),
                     "pcre is a http keyword in a dns rule"));
}

/* ---------------------------------------------------------------- buffers */

Test(nids_parse, sticky_buffers_and_legacy_modifiers)
{
    static const struct { const char *name; int buf; } sticky[] = {
        { "http.uri", CANH_NB_HTTP_URI }, { "http.uri.raw", CANH_NB_HTTP_URI_RAW },
        { "http.method", CANH_NB_HTTP_METHOD }, { "http.header", CANH_NB_HTTP_HEADER },
        { "http.header.raw", CANH_NB_HTTP_HEADER_RAW }, { "http.cookie", CANH_NB_HTTP_COOKIE },
        { "http.user_agent", CANH_NB_HTTP_UA }, { "http.host", CANH_NB_HTTP_HOST },
        { "http.host.raw", CANH_NB_HTTP_HOST_RAW }, { "http.stat_code", CANH_NB_HTTP_STAT_CODE },
        { "http.stat_msg", CANH_NB_HTTP_STAT_MSG }, { "http.request_body", CANH_NB_HTTP_REQUEST_BODY },
        { "http.response_body", CANH_NB_HTTP_RESPONSE_BODY },
        { "file.data", CANH_NB_HTTP_RESPONSE_BODY }, { "file_data", CANH_NB_HTTP_RESPONSE_BODY },
        { "http.request_line", CANH_NB_HTTP_REQUEST_LINE },
        { "http.response_line", CANH_NB_HTTP_RESPONSE_LINE }, { "http.server", CANH_NB_HTTP_SERVER },
        { "http.location", CANH_NB_HTTP_LOCATION }, { "http.referer", CANH_NB_HTTP_REFERER },
        { "http.content_type", CANH_NB_HTTP_CONTENT_TYPE },
        { "http.header_names", CANH_NB_HTTP_HEADER_NAMES }, { "http.protocol", CANH_NB_HTTP_PROTOCOL },
        { "http.content_len", CANH_NB_HTTP_CONTENT_LEN },
    };
    char text[512];
    for (size_t i = 0; i < sizeof(sticky) / sizeof(sticky[0]); i++) {
        snprintf(text, sizeof(text), TCP " (%s; content:\"a\"; content:\"b\"; sid:%zu;)",
                 sticky[i].name, 100 + i);
        const canh_nids_rule_t *r = ok(text);
        cr_assert_eq(r->m[0].buffer, sticky[i].buf, "%s", sticky[i].name);
        cr_assert_eq(r->m[1].buffer, sticky[i].buf, "%s sticks", sticky[i].name);
        cr_assert_eq(r->app, CANH_APP_HTTP, "%s makes an http rule", sticky[i].name);
        cr_assert_str_eq(canh_nids_buffer_name(sticky[i].buf),
                         !strcmp(sticky[i].name, "file.data") || !strcmp(sticky[i].name, "file_data")
                             ? "http.response_body" : sticky[i].name);
    }
    static const struct { const char *name; int buf; canh_app_proto_t app; } other[] = {
        { "dns.query", CANH_NB_DNS_QUERY, CANH_APP_DNS }, { "dns_query", CANH_NB_DNS_QUERY, CANH_APP_DNS },
        { "tls.sni", CANH_NB_TLS_SNI, CANH_APP_TLS }, { "tls_sni", CANH_NB_TLS_SNI, CANH_APP_TLS },
        { "ja3.hash", CANH_NB_JA3_HASH, CANH_APP_TLS }, { "ja3_hash", CANH_NB_JA3_HASH, CANH_APP_TLS },
        { "ja3.string", CANH_NB_JA3_STRING, CANH_APP_TLS }, { "ja4.hash", CANH_NB_JA4_HASH, CANH_APP_TLS },
        { "ssh.proto", CANH_NB_SSH_PROTO, CANH_APP_SSH },
        { "ssh.software", CANH_NB_SSH_SOFTWARE, CANH_APP_SSH },
    };
    for (size_t i = 0; i < sizeof(other) / sizeof(other[0]); i++) {
        snprintf(text, sizeof(text), "alert ip any any -> any any (%s; content:\"a\"; sid:%zu;)",
                 other[i].name, 200 + i);
        const canh_nids_rule_t *r = ok(text);
        cr_assert_eq(r->m[0].buffer, other[i].buf, "%s", other[i].name);
        cr_assert_eq(r->app, other[i].app, "%s", other[i].name);
    }
    /* pkt_data goes back to the payload */
    const canh_nids_rule_t *r = ok(R(HTTP, "http.uri; content:\"a\"; pkt_data; content:\"b\"; sid:300;"));
    cr_assert_eq(r->m[1].buffer, CANH_NB_PACKET);

    static const struct { const char *name; int buf; } legacy[] = {
        { "http_uri", CANH_NB_HTTP_URI }, { "http_raw_uri", CANH_NB_HTTP_URI_RAW },
        { "http_method", CANH_NB_HTTP_METHOD }, { "http_header", CANH_NB_HTTP_HEADER },
        { "http_raw_header", CANH_NB_HTTP_HEADER_RAW }, { "http_cookie", CANH_NB_HTTP_COOKIE },
        { "http_user_agent", CANH_NB_HTTP_UA }, { "http_host", CANH_NB_HTTP_HOST },
        { "http_raw_host", CANH_NB_HTTP_HOST_RAW }, { "http_stat_code", CANH_NB_HTTP_STAT_CODE },
        { "http_stat_msg", CANH_NB_HTTP_STAT_MSG }, { "http_client_body", CANH_NB_HTTP_REQUEST_BODY },
        { "http_server_body", CANH_NB_HTTP_RESPONSE_BODY },
    };
    for (size_t i = 0; i < sizeof(legacy) / sizeof(legacy[0]); i++) {
        snprintf(text, sizeof(text), TCP " (content:\"a\"; %s; content:\"b\"; sid:%zu;)",
                 legacy[i].name, 400 + i);
        r = ok(text);
        cr_assert_eq(r->m[0].buffer, legacy[i].buf, "%s", legacy[i].name);
        cr_assert_eq(r->m[1].buffer, CANH_NB_PACKET, "%s applies to one content", legacy[i].name);
    }
    cr_assert(strstr(refused(R(TCP, "http_uri; content:\"a\"; sid:500;")),
                     "http_uri without a content before it"));
    cr_assert(strstr(refused(R("alert dns any any -> any any", "http.uri; content:\"a\"; sid:501;")),
                     "http.uri is a http keyword in a dns rule"));
    cr_assert(strstr(refused(R("alert udp any any -> any any", "tls.sni; content:\"a\"; sid:502;")),
                     "in a udp rule"));
    cr_assert(strstr(refused(R(TCP, "http.uri:1; sid:503;")), "takes no value"));
}

/* ---------------------------------------------------------------- bsize, dotprefix */

Test(nids_parse, bsize_is_an_exact_pcre)
{
    const canh_nids_rule_t *r = ok(R(HTTP, "http.uri; content:\"/a\"; bsize:4; "
                                           "content:\"b\"; distance:0; sid:1;"));
    cr_assert_eq(r->nm, 3, "bsize adds a pcre after the rule's own matches");
    const canh_nids_m_t *m = &r->m[2];
    cr_assert_eq(m->kind, CANH_NM_PCRE);
    cr_assert_eq(m->buffer, CANH_NB_HTTP_URI);
    cr_assert_not(m->relative);
    cr_assert(pcre_hits(m, "/a/b"));
    cr_assert_not(pcre_hits(m, "/a/bc"));
    cr_assert_not(pcre_hits(m, "/ab"));
    cr_assert(pcre_hits(m, "/\n\nb"), "any byte counts");

    m = &ok(R(HTTP, "http.host; bsize:>3; sid:2;"))->m[0];
    cr_assert(pcre_hits(m, "abcd"));
    cr_assert_not(pcre_hits(m, "abc"));
    m = &ok(R(HTTP, "http.host; bsize:<3; sid:3;"))->m[0];
    cr_assert(pcre_hits(m, "ab"));
    cr_assert(pcre_hits(m, ""));
    cr_assert_not(pcre_hits(m, "abc"));
    m = &ok(R(HTTP, "http.host; bsize:2<>5; sid:4;"))->m[0];
    cr_assert_not(pcre_hits(m, "ab"));
    cr_assert(pcre_hits(m, "abc"));
    cr_assert(pcre_hits(m, "abcd"));
    cr_assert_not(pcre_hits(m, "abcde"));
    m = &ok(R(HTTP, "http.host; bsize:!3; sid:5;"))->m[0];
    cr_assert(pcre_hits(m, "ab"));
    cr_assert_not(pcre_hits(m, "abc"));
    m = &ok(R(HTTP, "http.host; bsize:>=3; sid:6;"))->m[0];
    cr_assert(pcre_hits(m, "abc"));
    cr_assert_not(pcre_hits(m, "ab"));

    cr_assert(strstr(refused(R(TCP, "bsize:3; sid:7;")), "bsize without a sticky buffer"));
    cr_assert(strstr(refused(R(HTTP, "http.uri; bsize:3; bsize:4; sid:8;")), "bsize given twice"));
    cr_assert(strstr(refused(R(HTTP, "http.uri; bsize:x; sid:9;")), "bsize: expected"));
}

Test(nids_parse, dotprefix_is_exact)
{
    const canh_nids_rule_t *r = ok(R("alert dns any any -> any any",
        "dns.query; dotprefix; content:\".Example.com\"; nocase; endswith; sid:1;"));
    cr_assert_eq(r->nm, 2);
    cr_assert_eq(r->m[0].len, 11, "the leading dot is left to the pcre");
    cr_assert(!memcmp(r->m[0].bytes, "Example.com", 11));
    cr_assert(r->m[0].endswith);
    const canh_nids_m_t *m = &r->m[1];
    cr_assert_eq(m->buffer, CANH_NB_DNS_QUERY);
    /* what Suricata matches: "." + query ends with ".example.com" (nocase) */
    cr_assert(pcre_hits(m, "example.com"));
    cr_assert(pcre_hits(m, "www.EXAMPLE.com"));
    cr_assert_not(pcre_hits(m, "badexample.com"));
    cr_assert_not(pcre_hits(m, "example.com.evil"));

    r = ok(R("alert tls any any -> any any", "tls.sni; dotprefix; content:\"example.com\"; "
                                             "endswith; sid:2;"));
    cr_assert_eq(r->nm, 1, "without a leading dot the content alone is exact");

    /* bsize counts the dot */
    r = ok(R("alert dns any any -> any any",
             "dns.query; dotprefix; content:\".ab.cd\"; endswith; bsize:6; sid:3;"));
    m = &r->m[r->nm - 1];
    cr_assert(pcre_hits(m, "ab.cd"));
    cr_assert_not(pcre_hits(m, "x.ab.cd"));

    cr_assert(strstr(refused(R("alert dns any any -> any any",
                               "dns.query; dotprefix; content:\".a.com\"; sid:4;")),
                     "dotprefix is supported only"));
    cr_assert(strstr(refused(R(TCP, "dotprefix; content:\".a\"; endswith; sid:5;")),
                     "dotprefix without a sticky buffer"));
}

/* ---------------------------------------------------------------- flow, flowbits, dsize */

Test(nids_parse, flow)
{
    const canh_nids_rule_t *r = ok(R(TCP, "flow:established,to_server; sid:1;"));
    cr_assert_eq(r->flow, CANH_NF_ESTABLISHED | CANH_NF_TO_SERVER);
    cr_assert_eq(ok(R(TCP, "flow:from_server, not_established; sid:2;"))->flow,
                 CANH_NF_TO_CLIENT | CANH_NF_NOT_ESTABLISHED);
    cr_assert_eq(ok(R(TCP, "flow:stateless,from_client,only_stream; sid:3;"))->flow,
                 CANH_NF_STATELESS | CANH_NF_TO_SERVER | CANH_NF_ONLY_STREAM);
    cr_assert_eq(ok(R(TCP, "flow:to_client,no_stream; sid:4;"))->flow,
                 CANH_NF_TO_CLIENT | CANH_NF_NO_STREAM);
    cr_assert(strstr(refused(R(TCP, "flow:to_server,to_client; sid:5;")), "to_server and to_client"));
    cr_assert(strstr(refused(R(TCP, "flow:established,stateless; sid:6;")), "exclude each other"));
    cr_assert(strstr(refused(R(TCP, "flow:only_frag; sid:7;")), "flow: only_frag is not supported"));
    cr_assert(strstr(refused(R(TCP, "flow:to_server,to_server; sid:8;")), "given twice"));
}

Test(nids_parse, flowbits)
{
    const canh_nids_rule_t *r = ok(R(TCP, "flowbits:set,ET.stage1; flowbits:noalert; sid:1;"));
    cr_assert_eq(r->nflowbits, 2);
    cr_assert_eq(r->flowbits[0].op, CANH_FB_SET);
    cr_assert_eq(r->flowbits[0].nbits, 1);
    cr_assert_str_eq(rv.bitnames[r->flowbits[0].bits[0]], "ET.stage1");
    cr_assert_eq(r->flowbits[1].op, CANH_FB_NOALERT);
    uint32_t stage1 = r->flowbits[0].bits[0];

    r = ok(R(TCP, "flowbits:isset,ET.stage1|other; sid:2;"));
    cr_assert_eq(r->flowbits[0].op, CANH_FB_ISSET);
    cr_assert_eq(r->flowbits[0].nbits, 2);
    cr_assert_not(r->flowbits[0].all);
    cr_assert_eq(r->flowbits[0].bits[0], stage1, "a name is one bit in the whole rule set");
    r = ok(R(TCP, "flowbits:isnotset,a&b&c; sid:3;"));
    cr_assert_eq(r->flowbits[0].op, CANH_FB_ISNOTSET);
    cr_assert_eq(r->flowbits[0].nbits, 3);
    cr_assert(r->flowbits[0].all);
    cr_assert_eq(ok(R(TCP, "flowbits:unset,a; sid:4;"))->flowbits[0].op, CANH_FB_UNSET);
    cr_assert_eq(ok(R(TCP, "FlowBits:toggle,a; SID:5;"))->flowbits[0].op, CANH_FB_TOGGLE);
    cr_assert_eq(ok(R(TCP, "noalert; sid:6;"))->flowbits[0].op, CANH_FB_NOALERT);
    cr_assert_eq(rv.nbits, 5, "ET.stage1 other a b c");

    cr_assert(strstr(refused(R(TCP, "flowbits:sett,a; sid:10;")), "unknown operation \"sett\""));
    cr_assert(strstr(refused(R(TCP, "flowbits:set; sid:11;")), "needs a name"));
    cr_assert(strstr(refused(R(TCP, "flowbits:set,a|b; sid:12;")), "a|b only with isset"));
    cr_assert(strstr(refused(R(TCP, "flowbits:isset,a|b&c; sid:13;")), "| and &"));
    cr_assert(strstr(refused(R(TCP, "flowbits:noalert,a; sid:14;")), "noalert takes no name"));
    cr_assert(strstr(refused(R(TCP, "flowbits:isset,a|b c; sid:15;")), "bad name \"b c\""));
}

Test(nids_parse, dsize)
{
    const canh_nids_rule_t *r = ok(R(TCP, "dsize:10; sid:1;"));
    cr_assert_eq(r->dsize_op, '=');
    cr_assert_eq(r->dsize_lo, 10);
    r = ok(R(TCP, "dsize:<10; sid:2;"));
    cr_assert_eq(r->dsize_op, '<');
    cr_assert_eq(r->dsize_lo, 10);
    r = ok(R(TCP, "dsize:>300; sid:3;"));
    cr_assert_eq(r->dsize_op, '>');
    cr_assert_eq(r->dsize_lo, 300);
    r = ok(R(TCP, "dsize:!0; sid:4;"));
    cr_assert_eq(r->dsize_op, '!');
    r = ok(R(TCP, "dsize:300<>400; sid:5;"));
    cr_assert_eq(r->dsize_op, 'r');
    cr_assert_eq(r->dsize_lo, 300);
    cr_assert_eq(r->dsize_hi, 400);
    r = ok(R(TCP, "dsize:<=10; sid:6;"));
    cr_assert_eq(r->dsize_op, '<');
    cr_assert_eq(r->dsize_lo, 11);
    cr_assert(strstr(refused(R(TCP, "dsize:400<>300; sid:7;")), "lo<>hi"));
    cr_assert(strstr(refused(R(TCP, "dsize:70000; sid:8;")), "dsize: expected"));
    cr_assert(strstr(refused(R(TCP, "dsize:1; dsize:2; sid:9;")), "dsize given twice"));
    cr_assert(strstr(refused(R(TCP, "dsize:<0; sid:10;")), "never true"));
}

/* ---------------------------------------------------------------- threshold */

Test(nids_parse, threshold_and_detection_filter)
{
    const canh_nids_rule_t *r = ok(R(TCP, "threshold: type limit, track by_src, count 1, seconds 60; sid:1;"));
    cr_assert_eq(r->threshold.type, CANH_NT_LIMIT);
    cr_assert_eq(r->threshold.track, CANH_NTR_SRC);
    cr_assert_eq(r->threshold.count, 1);
    cr_assert_eq(r->threshold.seconds, 60);
    r = ok(R(TCP, "threshold:type both,seconds 600,count 5,track by_dst; sid:2;"));
    cr_assert_eq(r->threshold.type, CANH_NT_BOTH);
    cr_assert_eq(r->threshold.track, CANH_NTR_DST);
    cr_assert_eq(r->threshold.count, 5);
    cr_assert_eq(ok(R(TCP, "threshold:type threshold,track by_rule,count 3,seconds 1; sid:3;"))
                     ->threshold.track, CANH_NTR_RULE);
    cr_assert_eq(ok(R(TCP, "threshold:type limit,track by_both,count 3,seconds 1; sid:4;"))
                     ->threshold.track, CANH_NTR_BOTH);
    r = ok(R(TCP, "detection_filter: track by_src, count 10, seconds 30; sid:5;"));
    cr_assert_eq(r->threshold.type, CANH_NT_DETECTION_FILTER);
    cr_assert_eq(r->threshold.count, 10);
    cr_assert_eq(r->threshold.seconds, 30);

    cr_assert(strstr(refused(R(TCP, "threshold:type limit,track by_src,count 1; sid:10;")),
                     "needs type, track, count and seconds"));
    cr_assert(strstr(refused(R(TCP, "threshold:type rate,track by_src,count 1,seconds 1; sid:11;")),
                     "type rate"));
    cr_assert(strstr(refused(R(TCP, "threshold:type limit,track by_flow,count 1,seconds 1; sid:12;")),
                     "track by_flow"));
    cr_assert(strstr(refused(R(TCP, "threshold:type limit,track by_src,count 0,seconds 1; sid:13;")),
                     "count"));
    cr_assert(strstr(refused(R(TCP, "threshold:type limit,track by_src,count 1,seconds 1; "
                                    "detection_filter:track by_src,count 1,seconds 1; sid:14;")),
                     "only one threshold"));
    cr_assert(strstr(refused(R(TCP, "detection_filter:type limit,track by_src,count 1,seconds 1; sid:15;")),
                     "unknown setting \"type\""));
}

/* ---------------------------------------------------------------- metadata, classes, levels */

Test(nids_parse, classes_priority_and_level)
{
    cr_assert_eq(ok(R(TCP, "classtype:misc-activity; sid:1;"))->level, CANH_LEVEL_LOW);
    cr_assert_eq(ok(R(TCP, "classtype:bad-unknown; sid:2;"))->level, CANH_LEVEL_MEDIUM);
    cr_assert_eq(ok(R(TCP, "classtype:tcp-connection; sid:3;"))->level, CANH_LEVEL_INFORMATIONAL);
    const canh_nids_rule_t *r = ok(R(TCP, "sid:4;"));
    cr_assert_eq(r->priority, 3, "no classtype: priority 3 as Suricata");
    cr_assert_eq(r->level, CANH_LEVEL_LOW);
    r = ok(R(TCP, "classtype:misc-activity; priority:1; sid:5;"));
    cr_assert_eq(r->priority, 1, "priority wins over the class's");
    r = ok(R(TCP, "priority:2; classtype:trojan-activity; sid:6;"));
    cr_assert_eq(r->priority, 2, "in either order");
    r = ok(R(TCP, "classtype:trojan-activity; metadata:signature_severity Critical, created_at 2020; sid:7;"));
    cr_assert_eq(r->level, CANH_LEVEL_CRITICAL);
    r = ok(R(TCP, "classtype:bad-unknown; metadata:signature_severity Critical; sid:8;"));
    cr_assert_eq(r->level, CANH_LEVEL_MEDIUM, "severity raises only priority 1");
    cr_assert(strstr(refused(R(TCP, "classtype:no-such-class; sid:9;")),
                     "unknown class \"no-such-class\""));
    cr_assert(strstr(refused(R(TCP, "priority:0; sid:10;")), "priority"));

    cr_assert_eq(canh_nids_level(1, NULL), CANH_LEVEL_HIGH);
    cr_assert_eq(canh_nids_level(2, NULL), CANH_LEVEL_MEDIUM);
    cr_assert_eq(canh_nids_level(3, NULL), CANH_LEVEL_LOW);
    cr_assert_eq(canh_nids_level(4, NULL), CANH_LEVEL_INFORMATIONAL);
    cr_assert_eq(canh_nids_level(9, NULL), CANH_LEVEL_INFORMATIONAL);
}

Test(nids_parse, classification_file)
{
    char path[] = "/tmp/canh-class-XXXXXX";
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fputs("# a comment\n\nconfig classification: misc-activity,Misc activity,1\n"
          "config classification: site-special,Our own class,4\n", f);
    fclose(f);
    char err[256];
    cr_assert_eq(canh_nids_vars_classes(vars, path, err, sizeof(err)), CANH_OK, "%s", err);
    cr_assert_eq(ok(R(TCP, "classtype:misc-activity; sid:1;"))->priority, 1);
    cr_assert_eq(ok(R(TCP, "classtype:site-special; sid:2;"))->level, CANH_LEVEL_INFORMATIONAL);
    cr_assert_str_eq(rv.v[1]->alert_rule->description, "Our own class");

    f = fopen(path, "w");
    fputs("config classification: broken\n", f);
    fclose(f);
    cr_assert_eq(canh_nids_vars_classes(vars, path, err, sizeof(err)), CANH_EPARSE);
    cr_assert(strstr(err, ":1:"), "%s", err);
    unlink(path);
    cr_assert_eq(canh_nids_vars_classes(vars, path, err, sizeof(err)), CANH_EIO);
}

Test(nids_parse, alert_rule)
{
    const canh_nids_rule_t *r = ok(R(TCP, "msg:\"ET MALWARE Test\"; classtype:trojan-activity; "
        "reference:url,www.example.com/x; reference:cve,2021-44228; "
        "metadata:mitre_tactic_id TA0011, mitre_tactic_name Command_And_Control, "
        "mitre_technique_id T1071.001, signature_severity Major; target:dest_ip; "
        "sid:2012345; rev:2;"));
    const canh_rule_t *a = r->alert_rule;
    cr_assert_not_null(a);
    cr_assert_str_eq(a->id, "2012345");
    cr_assert_str_eq(a->title, "ET MALWARE Test");
    cr_assert_eq(a->level, CANH_LEVEL_HIGH);
    cr_assert_str_eq(a->file, "t.rules");
    cr_assert_eq(a->line, 7);
    cr_assert_str_eq(a->ruleset, "suricata");
    cr_assert_eq(a->nreferences, 2);
    cr_assert_str_eq(a->references[0], "http://www.example.com/x");
    cr_assert_str_eq(a->references[1], "cve,2021-44228");
    cr_assert_eq(a->ntags, 2);
    cr_assert_str_eq(a->tags[0], "attack.command-and-control");
    cr_assert_str_eq(a->tags[1], "attack.t1071.001");
    cr_assert_eq(r->nreferences, 2);
    cr_assert_str_eq(r->references[0], "url,www.example.com/x", "the rule keeps them as written");
    cr_assert_eq(r->nmetadata, 4);
    cr_assert_str_eq(r->metadata[3], "signature_severity Major");
    cr_assert(strstr(refused(R(TCP, "target:both; sid:1;")), "target"));
    cr_assert(strstr(refused(R(TCP, "reference:nocomma; sid:3;")), "reference"));
}

/* ---------------------------------------------------------------- refusals */

Test(nids_parse, unsupported_keywords_refused_by_name)
{
    static const char *const kws[] = {
        "byte_test:4,>,1,0", "byte_jump:4,0", "isdataat:1,relative", "lua:x.lua",
        "xbits:set,a,track ip_src", "base64_decode", "urilen:>10", "http.uri.len:>1",
        "tls.certs", "flowint:a,+,1", "itype:8", "stream_size:server,>,1",
    };
    for (size_t i = 0; i < sizeof(kws) / sizeof(kws[0]); i++) {
        char text[256], kw[64];
        snprintf(text, sizeof(text), TCP " (msg:\"m\"; content:\"a\"; %s; sid:%zu;)", kws[i], 77 + i);
        const char *why = refused(text);
        snprintf(kw, sizeof(kw), "%.*s", (int)strcspn(kws[i], ":"), kws[i]);
        cr_assert(strstr(why, kw), "reason \"%s\" names %s", why, kw);
        char sid[32];
        snprintf(sid, sizeof(sid), "sid:%zu", 77 + i);
        cr_assert_str_eq(last_id, sid, "the sid is named even before it is read");
    }
    cr_assert(strstr(refused(R(TCP, "frobnicate; sid:1;")), "unknown keyword frobnicate"));
    refused(R(TCP, "msg:\"not sid:9\"; content:\"sid:8\"; isdataat:1; sid:42;"));
    cr_assert_str_eq(last_id, "sid:42", "a sid: inside a msg or content is not the sid");
    refused(R(TCP, "isdataat:1;"));
    cr_assert_str_eq(last_id, "sid:?");
}

Test(nids_parse, duplicate_sid)
{
    ok(R(TCP, "sid:5;"));
    cr_assert(strstr(refused(R(TCP, "sid:5;")), "duplicate sid 5"));
    ok(R(TCP, "gid:3; sid:5;"));   /* another gid: another rule */
}

Test(nids_parse, long_and_hostile_input)
{
    size_t n = 70 * 1024;
    char *big = malloc(n + 64);
    strcpy(big, TCP " (content:\"");
    memset(big + strlen(big), 'a', n);
    strcpy(big + strlen(TCP " (content:\"") + n, "\"; sid:1;)");
    cr_assert(strstr(refused(big), "longer than"));
    free(big);
    /* deep nesting: refused, no stack blow-up */
    char deep[600];
    size_t k = 0;
    for (int i = 0; i < 200; i++)
        deep[k++] = '[';
    deep[k++] = '1';
    for (int i = 0; i < 200; i++)
        deep[k++] = ']';
    deep[k] = '\0';
    cr_assert(strstr(dport_refused(deep), "nested too deep"));
    cr_assert_eq(canh_nids_parse_rule("", "t.rules", 1, vars, &rv, on_refuse, NULL), CANH_EPARSE);
    cr_assert_eq(canh_nids_parse_rule("alert", "t.rules", 1, vars, &rv, on_refuse, NULL), CANH_EPARSE);
}

/* ---------------------------------------------------------------- files */

Test(nids_parse, rules_file)
{
    char path[] = "/tmp/canh-rules-XXXXXX.rules";
    int fd = mkstemps(path, 6);
    cr_assert(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fputs("# ET style comment\n"
          "#alert tcp any any -> any any (msg:\"disabled\"; sid:9;)\n"
          "\n"
          "alert tcp any any -> any any (msg:\"one\"; sid:1;)\n"
          "alert tcp any any -> any any (msg:\"two\"; \\\n"
          "    content:\"x\"; \\\n"
          "    sid:2;)\n"
          "alert tcp any any -> any any (msg:\"bad\"; byte_test:1,=,1,0; sid:3;)\r\n"
          "alert tcp any any -> any any (msg:\"last\"; sid:4;)", f);
    fclose(f);
    char err[256];
    cr_assert_eq(canh_nids_load_file(path, vars, &rv, on_refuse, NULL, err, sizeof(err)), CANH_OK);
    cr_assert_eq(rv.n, 3);
    cr_assert_eq(rv.v[0]->sid, 1);
    cr_assert_eq(rv.v[0]->line, 4);
    cr_assert_eq(rv.v[1]->sid, 2);
    cr_assert_eq(rv.v[1]->line, 5, "a continued rule is named by its first line");
    cr_assert_eq(rv.v[1]->nm, 1);
    cr_assert_eq(rv.v[2]->sid, 4, "the last rule needs no newline");
    cr_assert_eq(nrefused, 1);
    cr_assert_str_eq(last_file, path);
    cr_assert_eq(last_line, 8);
    cr_assert_str_eq(last_id, "sid:3");
    cr_assert(strstr(last_reason, "byte_test"));

    /* a folder: its *.rules, through the loader used by `canh rules check` */
    canh_nids_rulevec_t rv2 = { 0 };
    size_t loaded = 0, nref = 0;
    cr_assert_eq(canh_nids_load_path("/tmp", vars, &rv2, NULL, NULL, &loaded, &nref, err,
                                     sizeof(err)), CANH_OK);
    cr_assert_geq(loaded, 3);
    canh_nids_rulevec_free(&rv2);
    unlink(path);
    cr_assert_eq(canh_nids_load_file(path, vars, &rv, on_refuse, NULL, err, sizeof(err)), CANH_EIO);
    cr_assert(strstr(err, path));
}

Test(nids_parse, config_keys)
{
    const char *yaml = "inputs:\n  - type: stdin\n"
                       "network:\n  vars:\n    HOME_NET: \"[198.51.100.0/24]\"\n"
                       "    HTTP_PORTS: \"[80,8080]\"\n";
    canh_config_t *cfg = NULL;
    char err[512];
    cr_assert_eq(canh_config_load_string(&cfg, "cfg.yml", yaml, strlen(yaml), NULL, NULL, err,
                                         sizeof(err)), CANH_OK, "%s", err);
    canh_nids_vars_t *v = canh_load_nids_vars(cfg, err, sizeof(err));
    cr_assert_not_null(v, "%s", err);
    const canh_nids_rule_t *r;
    cr_assert_eq(canh_nids_parse_rule("alert tcp $HOME_NET any -> $EXTERNAL_NET $HTTP_PORTS (sid:1;)",
                                      "t", 1, v, &rv, on_refuse, NULL), CANH_OK);
    r = rv.v[0];
    cr_assert(in4(&r->src, "198.51.100.7"));
    cr_assert_not(in4(&r->src, "10.0.0.1"));
    cr_assert(in4(&r->dst, "10.0.0.1"));
    cr_assert(canh_nids_ports_match(&r->dport, 8080));
    canh_nids_vars_free(v);
    canh_config_free(cfg);

    /* a bad value is named when the config is read, not when a rule uses it */
    yaml = "inputs:\n  - type: stdin\nnetwork:\n  vars:\n    HOME_NET: \"[10.0.0.0/8\"\n";
    cr_assert_eq(canh_config_load_string(&cfg, "cfg.yml", yaml, strlen(yaml), NULL, NULL, err,
                                         sizeof(err)), CANH_OK, "%s", err);
    cr_assert_null(canh_load_nids_vars(cfg, err, sizeof(err)));
    cr_assert(strstr(err, "network variable HOME_NET"), "%s", err);
    canh_config_free(cfg);
    /* HOME_NET any leaves EXTERNAL_NET (!$HOME_NET) empty: said at once */
    yaml = "inputs:\n  - type: stdin\nnetwork:\n  vars:\n    HOME_NET: any\n";
    cr_assert_eq(canh_config_load_string(&cfg, "cfg.yml", yaml, strlen(yaml), NULL, NULL, err,
                                         sizeof(err)), CANH_OK, "%s", err);
    cr_assert_null(canh_load_nids_vars(cfg, err, sizeof(err)));
    cr_assert(strstr(err, "EXTERNAL_NET") && strstr(err, "matches no address"), "%s", err);
    canh_config_free(cfg);
    yaml = "inputs:\n  - type: stdin\nnetwork:\n  vars:\n    HOME_NET: any\n    EXTERNAL_NET: any\n"
           "    HTTP_PORTS: \"[80,x]\"\n";
    cr_assert_eq(canh_config_load_string(&cfg, "cfg.yml", yaml, strlen(yaml), NULL, NULL, err,
                                         sizeof(err)), CANH_OK, "%s", err);
    cr_assert_null(canh_load_nids_vars(cfg, err, sizeof(err)));
    cr_assert(strstr(err, "network variable HTTP_PORTS") && strstr(err, "bad port"), "%s", err);
    canh_config_free(cfg);

    yaml = "inputs:\n  - type: stdin\nnetwork:\n  classification: /nonexistent/classification.config\n";
    cr_assert_eq(canh_config_load_string(&cfg, "cfg.yml", yaml, strlen(yaml), NULL, NULL, err,
                                         sizeof(err)), CANH_OK, "%s", err);
    cr_assert_null(canh_load_nids_vars(cfg, err, sizeof(err)));
    cr_assert(strstr(err, "/nonexistent/classification.config"), "%s", err);
    canh_config_free(cfg);
}

/* ---------------------------------------------------------------- ET Open */

Test(nids_parse, et_open_loads_at_least_80_percent)
{
    const char *dir = "../shared/corpus/rules/et-open";
    if (access(dir, R_OK) != 0)
        cr_skip_test("corpus not present at %s", dir);
    char err[512], cls[256];
    snprintf(cls, sizeof(cls), "%s/classification.config", dir);
    cr_assert_eq(canh_nids_vars_classes(vars, cls, err, sizeof(err)), CANH_OK, "%s", err);
    size_t loaded = 0, nref = 0;
    cr_assert_eq(canh_nids_load_path(dir, vars, &rv, NULL, NULL, &loaded, &nref, err, sizeof(err)),
                 CANH_OK, "%s", err);
    cr_assert_eq(loaded, rv.n);
    cr_assert_gt(loaded, 10000);
    double rate = (double)loaded / (double)(loaded + nref);
    cr_assert_geq(rate, 0.80, "%zu loaded, %zu refused", loaded, nref);
    for (size_t i = 0; i < rv.n; i++) {
        cr_assert_not_null(rv.v[i]->alert_rule);
        cr_assert_gt(rv.v[i]->sid, 0);
    }
}

/* file.data is the files a flow carries: to the server, what the client
 * uploads (the request body); otherwise the response body (Suricata). */
Test(nids_parse, file_data_follows_the_direction)
{
    const canh_nids_rule_t *r =
        ok(HTTP " (flow:established,to_server; file.data; content:\"EICAR\"; sid:1;)");
    cr_assert_eq(r->m[0].buffer, CANH_NB_HTTP_REQUEST_BODY);
    r = ok(HTTP " (file_data; content:\"EICAR\"; flow:from_client; sid:2;)");
    cr_assert_eq(r->m[0].buffer, CANH_NB_HTTP_REQUEST_BODY, "flow given after the content");
    r = ok(HTTP " (flow:to_client; file.data; content:\"EICAR\"; sid:3;)");
    cr_assert_eq(r->m[0].buffer, CANH_NB_HTTP_RESPONSE_BODY);
    r = ok(HTTP " (file.data; content:\"EICAR\"; sid:4;)");
    cr_assert_eq(r->m[0].buffer, CANH_NB_HTTP_RESPONSE_BODY, "no direction: the response");
    r = ok(HTTP " (flow:to_server; http.response_body; content:\"x\"; sid:5;)");
    cr_assert_eq(r->m[0].buffer, CANH_NB_HTTP_RESPONSE_BODY, "only file.data follows it");
}
