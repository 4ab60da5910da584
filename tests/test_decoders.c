/*
 * tests/test_decoders.c -- the message decoders behind canh_parser_feed:
 * sshd, sudo, su, PAM and the shadow tools, access logs, auditd records and
 * their grouping, key=value and JSON; plus counts on a real auth.log.
 *
 * Lines go through the whole parser (header + dispatch), as in production;
 * the callback copies each event since it is only valid during the call.
 * Thread: Criterion runs each test in its own process.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>

#include "../parsers/parse.h"

#define MAXEV 16

typedef struct cev {
    uint64_t datasets;
    int64_t ts_ms;
    int n;
    char *name[CANH_EVENT_MAX_FIELDS];
    char *value[CANH_EVENT_MAX_FIELDS];
    uint16_t flags[CANH_EVENT_MAX_FIELDS];
    char *original;
} cev_t;

typedef struct cap {
    int n;
    cev_t ev[MAXEV];
} cap_t;

static char *dup_slice(canh_slice_t s)
{
    char *d = malloc(s.len + 1);
    memcpy(d, s.ptr, s.len);
    d[s.len] = '\0';
    return d;
}

static int cap_cb(void *ud, canh_event_t *e)
{
    cap_t *c = ud;
    cr_assert(c->n < MAXEV, "too many events");
    cev_t *x = &c->ev[c->n++];
    x->datasets = e->datasets;
    x->ts_ms = e->ts_ms;
    x->n = (int)e->nfields;
    x->original = dup_slice(e->original);
    for (uint32_t i = 0; i < e->nfields; i++) {
        x->name[i] = dup_slice(e->fields[i].name);
        x->value[i] = dup_slice(e->fields[i].value);
        x->flags[i] = e->fields[i].flags;
    }
    return 0;
}

/* nth value (0-based) of a field, or NULL */
static const char *getn(const cev_t *x, const char *name, int nth)
{
    for (int i = 0; i < x->n; i++)
        if (strcmp(x->name[i], name) == 0 && nth-- == 0)
            return x->value[i];
    return NULL;
}
static const char *get(const cev_t *x, const char *name) { return getn(x, name, 0); }

static int count(const cev_t *x, const char *name)
{
    int k = 0;
    for (int i = 0; i < x->n; i++)
        k += strcmp(x->name[i], name) == 0;
    return k;
}

#define ASSERT_VAL(x, name, expect)                                                 \
    do {                                                                           \
        const char *v_ = get((x), (name));                                         \
        cr_assert(v_ != NULL, "field %s missing", (name));                         \
        cr_assert_str_eq(v_, (expect), "field %s", (name));                        \
    } while (0)
#define ASSERT_NO(x, name) cr_assert_null(get((x), (name)), "field %s should be absent", (name))
#define HAS_DS(x, ds) (((x)->datasets & CANH_DS_BIT(CANH_DS_##ds)) != 0)

static const canh_parse_opts_t opts = { .default_year = 2025 };
static canh_parser_t *parser;
static cap_t cap;

static void setup(void)
{
    parser = canh_parser_new(&opts);
    memset(&cap, 0, sizeof(cap));
}

static void teardown(void)
{
    canh_parser_free(parser);
}

static const cev_t *feed1(const char *line)
{
    int before = cap.n;
    cr_assert_eq(canh_parser_feed(parser, line, strlen(line), cap_cb, &cap), 0);
    cr_assert_eq(cap.n, before + 1, "one event for: %s", line);
    return &cap.ev[cap.n - 1];
}

TestSuite(sshd, .init = setup, .fini = teardown);
TestSuite(auth, .init = setup, .fini = teardown);
TestSuite(access, .init = setup, .fini = teardown);
TestSuite(auditd, .init = setup, .fini = teardown);
TestSuite(kvjson, .init = setup, .fini = teardown);

/* ------------------------------------------------------------------ sshd */

#define SSHD "Mar 27 13:06:56 ip-10-77-20-248 sshd[1291]: "

Test(sshd, accepted_and_failed)
{
    const cev_t *e = feed1(SSHD "Accepted publickey for ubuntu from 85.245.107.41 port 54259 ssh2: RSA SHA256:xyz");
    ASSERT_VAL(e, "event.action", "ssh_login");
    ASSERT_VAL(e, "event.outcome", "success");
    ASSERT_VAL(e, "sshd.method", "publickey");
    ASSERT_VAL(e, "user.name", "ubuntu");
    ASSERT_VAL(e, "source.ip", "85.245.107.41");
    ASSERT_VAL(e, "source.port", "54259");
    ASSERT_NO(e, "sshd.invalid_user");
    cr_assert(HAS_DS(e, SSHD) && HAS_DS(e, AUTH) && HAS_DS(e, SYSLOG));

    e = feed1(SSHD "Failed password for invalid user admin from 2001:db8::7 port 22 ssh2");
    ASSERT_VAL(e, "event.action", "ssh_login");
    ASSERT_VAL(e, "event.outcome", "failure");
    ASSERT_VAL(e, "sshd.method", "password");
    ASSERT_VAL(e, "user.name", "admin");
    ASSERT_VAL(e, "sshd.invalid_user", "true");
    ASSERT_VAL(e, "source.ip", "2001:db8::7");
    ASSERT_VAL(e, "source.port", "22");

    e = feed1(SSHD "Failed keyboard-interactive/pam for root from 1.2.3.4 port 5 ssh2");
    ASSERT_VAL(e, "sshd.method", "keyboard-interactive/pam");
    ASSERT_VAL(e, "user.name", "root");

    e = feed1(SSHD "message repeated 3 times: [ Failed password for root from 1.2.3.4 port 6 ssh2]");
    ASSERT_VAL(e, "event.action", "ssh_login");
    ASSERT_VAL(e, "event.outcome", "failure");
    ASSERT_VAL(e, "source.port", "6");
}

Test(sshd, other_actions)
{
    struct { const char *msg, *action, *user, *ip, *port; } cases[] = {
        { "Invalid user webmaster from 173.234.31.186", "ssh_invalid_user", "webmaster", "173.234.31.186", NULL },
        { "Invalid user  from 1.2.3.4 port 99", "ssh_invalid_user", NULL, "1.2.3.4", "99" },
        { "error: maximum authentication attempts exceeded for invalid user admin from 5.6.7.8 port 4 ssh2 [preauth]",
          "ssh_max_auth_exceeded", "admin", "5.6.7.8", "4" },
        { "Disconnecting: Too many authentication failures [preauth]", "ssh_max_auth_exceeded", NULL, NULL, NULL },
        { "Did not receive identification string from 9.9.9.9", "ssh_no_identification", NULL, "9.9.9.9", NULL },
        { "reverse mapping checking getaddrinfo for ns.example.com [173.234.31.186] failed - POSSIBLE BREAK-IN ATTEMPT!",
          "ssh_reverse_mapping_failed", NULL, "173.234.31.186", NULL },
        { "Bad protocol version identification 'GET / HTTP/1.1' from 1.1.1.1 port 3", "ssh_bad_protocol", NULL,
          "1.1.1.1", "3" },
        { "Received disconnect from 10.0.0.1 port 5000:11: disconnected by user", "ssh_disconnect", NULL,
          "10.0.0.1", "5000" },
        { "Connection closed by authenticating user root 10.0.0.2 port 77 [preauth]", "ssh_disconnect", "root",
          "10.0.0.2", "77" },
        { "Connection closed by 10.0.0.3 port 78 [preauth]", "ssh_disconnect", NULL, "10.0.0.3", "78" },
        { "ROOT LOGIN REFUSED FROM 4.4.4.4", "ssh_root_login_refused", "root", "4.4.4.4", NULL },
    };
    for (size_t i = 0; i < CANH_ARRAY_LEN(cases); i++) {
        char line[512];
        snprintf(line, sizeof(line), SSHD "%s", cases[i].msg);
        const cev_t *e = feed1(line);
        cr_assert_str_eq(get(e, "event.action") ? get(e, "event.action") : "(none)", cases[i].action, "%s",
                         cases[i].msg);
        if (cases[i].user)
            ASSERT_VAL(e, "user.name", cases[i].user);
        else if (strcmp(cases[i].action, "ssh_root_login_refused"))
            ASSERT_NO(e, "user.name");
        if (cases[i].ip)
            ASSERT_VAL(e, "source.ip", cases[i].ip);
        if (cases[i].port)
            ASSERT_VAL(e, "source.port", cases[i].port);
    }
    const cev_t *e = feed1(SSHD "Invalid user webmaster from 173.234.31.186");
    ASSERT_VAL(e, "event.outcome", "failure");
    ASSERT_VAL(e, "sshd.invalid_user", "true");
    e = feed1(SSHD "reverse mapping checking getaddrinfo for ns.example.com [1.2.3.4] failed - POSSIBLE BREAK-IN ATTEMPT!");
    ASSERT_VAL(e, "source.domain", "ns.example.com");
}

Test(sshd, unknown_messages_are_quiet)
{
    const cev_t *e = feed1(SSHD "Server listening on 0.0.0.0 port 22.");
    ASSERT_NO(e, "event.action");
    cr_assert(HAS_DS(e, SSHD));
    cr_assert_eq(canh_parser_errors(parser), 0);
}

Test(sshd, auth_ec2_counts)
{
    FILE *f = fopen("../shared/corpus/logs/elastic-examples/auth_ec2.log", "rb");
    if (!f)
        cr_skip_test("corpus not found (elastic-examples/auth_ec2.log)");
    char *line = NULL;
    size_t lcap = 0;
    ssize_t n;
    int want_failed = 0, want_invalid = 0, got_failed = 0, got_invalid = 0, lines = 0, events = 0;
    canh_parser_t *p = canh_parser_new(&opts);
    while ((n = getline(&line, &lcap, f)) > 0) {
        while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            n--;
        line[n] = '\0';
        lines++;
        want_failed += strstr(line, "Failed password") != NULL;
        want_invalid += strstr(line, "]: Invalid user ") != NULL;
        cap_t one;
        one.n = 0;
        cr_assert_eq(canh_parser_feed(p, line, (size_t)n, cap_cb, &one), 0);
        cr_assert_eq(one.n, 1);
        events++;
        const cev_t *e = &one.ev[0];
        const char *act = get(e, "event.action"), *out = get(e, "event.outcome"), *m = get(e, "sshd.method");
        if (act && !strcmp(act, "ssh_login") && out && !strcmp(out, "failure") && m && !strcmp(m, "password"))
            got_failed++;
        if (act && !strcmp(act, "ssh_invalid_user"))
            got_invalid++;
        for (int i = 0; i < e->n; i++) {
            free(e->name[i]);
            free(e->value[i]);
        }
        free(e->original);
    }
    cr_assert_eq(canh_parser_flush(p, cap_cb, &cap), 0);
    cr_assert_gt(want_failed, 0);
    cr_assert_eq(got_failed, want_failed, "ssh_login failures %d, lines with Failed password %d", got_failed,
                 want_failed);
    cr_assert_eq(got_invalid, want_invalid);
    cr_assert_eq(events, lines);
    cr_assert_eq(canh_parser_errors(p), 0);
    canh_parser_free(p);
    free(line);
    fclose(f);
}

/* ------------------------------------------------------------ sudo/su/auth */

Test(auth, sudo)
{
    const cev_t *e = feed1("Mar 27 13:09:37 h sudo:   alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/usr/bin/id -u");
    ASSERT_VAL(e, "event.action", "sudo_command");
    ASSERT_VAL(e, "event.outcome", "success");
    ASSERT_VAL(e, "user.name", "alice");
    ASSERT_VAL(e, "user.effective.name", "root");
    ASSERT_VAL(e, "sudo.tty", "pts/0");
    ASSERT_VAL(e, "sudo.pwd", "/home/alice");
    ASSERT_VAL(e, "sudo.command", "/usr/bin/id -u");
    ASSERT_VAL(e, "process.command_line", "/usr/bin/id -u");
    cr_assert(HAS_DS(e, SUDO) && HAS_DS(e, AUTH));

    e = feed1("Mar 27 13:09:37 h sudo: alice : 3 incorrect password attempts ; TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/bin/bash");
    ASSERT_VAL(e, "event.action", "sudo_auth_failure");
    ASSERT_VAL(e, "event.outcome", "failure");
    ASSERT_VAL(e, "sudo.command", "/bin/bash");
    e = feed1("Mar 27 13:09:37 h sudo: bob : user NOT in sudoers ; TTY=pts/1 ; PWD=/ ; USER=root ; COMMAND=/bin/ls");
    ASSERT_VAL(e, "event.action", "sudo_not_in_sudoers");
    ASSERT_VAL(e, "event.outcome", "failure");
    ASSERT_VAL(e, "user.name", "bob");
    e = feed1("Mar 27 13:09:37 h sudo: bob : command not allowed ; TTY=pts/1 ; PWD=/ ; USER=root ; COMMAND=/bin/sh");
    ASSERT_VAL(e, "event.action", "sudo_command_not_allowed");
    ASSERT_VAL(e, "event.outcome", "failure");
}

Test(auth, su)
{
    const cev_t *e = feed1("Mar 27 13:09:37 h su[1]: (to root) alice on pts/0");
    ASSERT_VAL(e, "event.action", "su_session");
    ASSERT_VAL(e, "event.outcome", "success");
    ASSERT_VAL(e, "user.name", "alice");
    ASSERT_VAL(e, "user.target.name", "root");
    cr_assert(HAS_DS(e, SU) && HAS_DS(e, AUTH));
    e = feed1("Mar 27 13:09:37 h su[1]: FAILED SU (to root) alice on pts/0");
    ASSERT_VAL(e, "event.action", "su_failure");
    ASSERT_VAL(e, "event.outcome", "failure");
    ASSERT_VAL(e, "user.name", "alice");
    e = feed1("Mar 27 13:09:37 h su[1]: FAILED su for root by alice");
    ASSERT_VAL(e, "event.action", "su_failure");
    ASSERT_VAL(e, "user.target.name", "root");
    ASSERT_VAL(e, "user.name", "alice");
}

Test(auth, pam)
{
    const cev_t *e = feed1("Dec 10 06:55:46 LabSZ sshd[24200]: pam_unix(sshd:auth): authentication failure; "
                           "logname= uid=0 euid=0 tty=ssh ruser= rhost=173.234.31.186  user=root");
    ASSERT_VAL(e, "event.action", "authentication_failure");
    ASSERT_VAL(e, "event.outcome", "failure");
    ASSERT_VAL(e, "event.category", "authentication");
    ASSERT_VAL(e, "user.name", "root");
    ASSERT_VAL(e, "source.ip", "173.234.31.186");
    ASSERT_VAL(e, "pam.service", "sshd");
    cr_assert(HAS_DS(e, AUTH) && HAS_DS(e, SSHD));

    e = feed1("Jun 15 02:04:59 combo sshd(pam_unix)[20882]: authentication failure; logname= uid=0 euid=0 "
              "tty=NODEVssh ruser= rhost=220-135-151-1.hinet-ip.hinet.net  user=root");
    ASSERT_VAL(e, "event.action", "authentication_failure");
    ASSERT_VAL(e, "source.domain", "220-135-151-1.hinet-ip.hinet.net");
    ASSERT_NO(e, "source.ip");
    ASSERT_VAL(e, "pam.service", "sshd");

    e = feed1("Dec 10 06:55:46 LabSZ sshd[24200]: pam_unix(sshd:auth): check pass; user unknown");
    ASSERT_VAL(e, "event.action", "authentication_failure");
    ASSERT_VAL(e, "event.outcome", "failure");

    e = feed1("Mar 27 13:08:09 h CRON[9]: pam_unix(cron:session): session opened for user root(uid=0) by (uid=0)");
    ASSERT_VAL(e, "event.action", "session_opened");
    ASSERT_VAL(e, "user.name", "root");
    ASSERT_VAL(e, "pam.service", "cron");
    cr_assert(HAS_DS(e, CRON) && HAS_DS(e, AUTH));
    e = feed1("Mar 27 13:08:09 h CRON[9]: pam_unix(cron:session): session closed for user root");
    ASSERT_VAL(e, "event.action", "session_closed");
    ASSERT_VAL(e, "user.name", "root");
    e = feed1("Mar 27 13:08:09 h systemd-logind[1118]: New session 12 of user root.");
    ASSERT_VAL(e, "event.action", "session_opened");
    ASSERT_VAL(e, "user.name", "root");
    cr_assert(HAS_DS(e, AUTH));
}

Test(auth, shadow_tools)
{
    const cev_t *e = feed1("Mar 27 13:08:09 h useradd[1]: new user: name=bob, UID=1001, GID=1001, home=/home/bob, shell=/bin/bash");
    ASSERT_VAL(e, "event.action", "user_created");
    ASSERT_VAL(e, "event.category", "iam");
    ASSERT_VAL(e, "user.target.name", "bob");
    ASSERT_VAL(e, "user.target.id", "1001");
    cr_assert(HAS_DS(e, AUTH));
    e = feed1("Mar 27 13:08:09 h groupadd[1]: new group: name=devs, GID=1002");
    ASSERT_VAL(e, "event.action", "group_created");
    ASSERT_VAL(e, "group.name", "devs");
    ASSERT_VAL(e, "group.id", "1002");
    e = feed1("Mar 27 13:08:09 h usermod[1]: add 'bob' to group 'sudo'");
    ASSERT_VAL(e, "event.action", "user_added_to_group");
    ASSERT_VAL(e, "user.target.name", "bob");
    ASSERT_VAL(e, "group.name", "sudo");
    e = feed1("Mar 27 13:08:09 h usermod[1]: add 'bob' to shadow group 'sudo'");
    ASSERT_VAL(e, "event.action", "user_added_to_group");
    ASSERT_VAL(e, "group.name", "sudo");
    e = feed1("Mar 27 13:08:09 h userdel[1]: delete user 'bob'");
    ASSERT_VAL(e, "event.action", "user_deleted");
    ASSERT_VAL(e, "user.target.name", "bob");
    e = feed1("Mar 27 13:08:09 h groupdel[1]: group 'devs' removed");
    ASSERT_VAL(e, "event.action", "group_deleted");
    ASSERT_VAL(e, "group.name", "devs");
    e = feed1("Mar 27 13:08:09 h groupdel[1]: group 'devs' removed from /etc/group");
    ASSERT_NO(e, "event.action");
    e = feed1("Mar 27 13:08:09 h passwd[1]: password changed for bob");
    ASSERT_VAL(e, "event.action", "password_changed");
    ASSERT_VAL(e, "user.target.name", "bob");
    e = feed1("Mar 27 13:08:09 h chpasswd[1]: pam_unix(chpasswd:chauthtok): password changed for carol");
    ASSERT_VAL(e, "event.action", "password_changed");
    ASSERT_VAL(e, "user.target.name", "carol");
    e = feed1("Mar 27 13:08:09 h passwd[1]: pam_unix(passwd:chauthtok): password changed for dave");
    ASSERT_VAL(e, "user.target.name", "dave");
}

/* ---------------------------------------------------------------- access */

Test(access, combined)
{
    const cev_t *e = feed1("83.149.9.216 - - [17/May/2015:10:05:03 +0000] \"GET /presentations/logstash/images/Kibana-Search.PNG HTTP/1.1\" "
                           "200 203023 \"http://semicomplete.com/presentations/\" \"Mozilla/5.0 (Macintosh)\"");
    cr_assert(HAS_DS(e, WEBSERVER));
    cr_assert(!HAS_DS(e, SYSLOG), "a raw access line is not a system log: linux keyword rules must not see it");
    ASSERT_VAL(e, "source.ip", "83.149.9.216");
    ASSERT_NO(e, "user.name");
    ASSERT_VAL(e, "@timestamp", "2015-05-17T10:05:03.000Z");
    cr_assert_eq(e->ts_ms, INT64_C(1431857103000));
    ASSERT_VAL(e, "http.request.method", "GET");
    ASSERT_VAL(e, "url.original", "/presentations/logstash/images/Kibana-Search.PNG");
    ASSERT_VAL(e, "url.path", "/presentations/logstash/images/Kibana-Search.PNG");
    ASSERT_NO(e, "url.query");
    ASSERT_VAL(e, "url.extension", "png");
    ASSERT_VAL(e, "http.version", "1.1");
    ASSERT_VAL(e, "http.response.status_code", "200");
    ASSERT_VAL(e, "http.response.body.bytes", "203023");
    ASSERT_VAL(e, "http.request.referrer", "http://semicomplete.com/presentations/");
    ASSERT_VAL(e, "user_agent.original", "Mozilla/5.0 (Macintosh)");
    ASSERT_VAL(e, "message", e->original);
}

Test(access, common_query_hostname_offset)
{
    const cev_t *e = feed1("client.example.org - frank [10/Oct/2000:13:55:36 -0700] \"GET /a.b/index.php?id=1&x=../../etc/passwd HTTP/1.0\" 404 -");
    ASSERT_VAL(e, "source.domain", "client.example.org");
    ASSERT_NO(e, "source.ip");
    ASSERT_VAL(e, "user.name", "frank");
    ASSERT_VAL(e, "@timestamp", "2000-10-10T20:55:36.000Z");
    ASSERT_VAL(e, "url.path", "/a.b/index.php");
    ASSERT_VAL(e, "url.query", "id=1&x=../../etc/passwd");
    ASSERT_VAL(e, "url.extension", "php");
    ASSERT_VAL(e, "http.version", "1.0");
    ASSERT_VAL(e, "http.response.status_code", "404");
    ASSERT_NO(e, "http.response.body.bytes");
    ASSERT_NO(e, "http.request.referrer");
    ASSERT_NO(e, "user_agent.original");

    e = feed1("GET-less 1.2.3.4 - - [10/Oct/2000:13:55:36 +0000] \"-\" 400 0 \"-\" \"-\"");
    cr_assert(!HAS_DS(e, WEBSERVER), "4 tokens before '[' is not the access shape");

    e = feed1("1.2.3.4 - - [10/Oct/2000:13:55:36 +0000] \"GET /dir/ HTTP/1.1\" 301 0 \"-\" \"curl/8\"");
    ASSERT_NO(e, "url.extension");
    ASSERT_NO(e, "http.request.referrer");
    ASSERT_VAL(e, "user_agent.original", "curl/8");
}

Test(access, inside_syslog)
{
    const cev_t *e = feed1("<190>May 17 10:05:03 web01 nginx: 10.0.0.5 - - [17/May/2015:10:05:03 +0200] \"POST /login HTTP/2.0\" 302 12 \"-\" \"x\"");
    cr_assert(HAS_DS(e, WEBSERVER) && HAS_DS(e, SYSLOG), "sent through syslog: both");
    ASSERT_VAL(e, "host.name", "web01");
    ASSERT_VAL(e, "process.name", "nginx");
    ASSERT_VAL(e, "@timestamp", "2015-05-17T08:05:03.000Z");
    cr_assert_eq(count(e, "@timestamp"), 1);
    ASSERT_VAL(e, "http.request.method", "POST");
    ASSERT_VAL(e, "http.version", "2.0");
    ASSERT_VAL(e, "source.ip", "10.0.0.5");
}

Test(access, malformed)
{
    const char *l = "1.2.3.4 - - [17/May/2015:10:05:03 +0000] \"GET /truncated HTTP/1.1 200 12";
    const cev_t *e = feed1(l);
    cr_assert_eq(canh_parser_errors(parser), 1);
    cr_assert_str_eq(canh_parser_last_error(parser), "not a well-formed web access-log line");
    ASSERT_VAL(e, "message", l);
    ASSERT_NO(e, "url.original");
    ASSERT_NO(e, "source.ip");
    cr_assert(!HAS_DS(e, WEBSERVER));
}

/* Found by the hostile-input set: a time that its offset moves past the
 * year 9999 (or before 0000) came out as a made-up year 0000 @timestamp.
 * Such a stamp is as broken as any other: counted, the line kept whole. */
Test(access, time_out_of_range_after_its_offset)
{
    const char *l = "203.0.113.7 - - [31/Dec/9999:23:59:59 -2359] \"GET / HTTP/1.1\" 200 1";
    const cev_t *e = feed1(l);
    cr_assert_eq(canh_parser_errors(parser), 1);
    cr_assert_str_eq(canh_parser_last_error(parser), "not a well-formed web access-log line");
    ASSERT_NO(e, "@timestamp");
    ASSERT_VAL(e, "message", l);
    /* the last second of 9999 in UTC, and the first of 0000, are times */
    e = feed1("203.0.113.7 - - [31/Dec/9999:23:59:59 +0000] \"GET / HTTP/1.1\" 200 1");
    ASSERT_VAL(e, "@timestamp", "9999-12-31T23:59:59.000Z");
    e = feed1("203.0.113.7 - - [01/Jan/0000:23:59:00 +2359] \"GET / HTTP/1.1\" 200 1");
    ASSERT_VAL(e, "@timestamp", "0000-01-01T00:00:00.000Z");
    cr_assert_eq(canh_parser_errors(parser), 1);
}

Test(access, syslog_and_json_times_out_of_range)
{
    const char *v[] = {
        "<38>1 0000-01-01T00:00:00+23:59 web01 sshd 1 - - Failed password",
        "<38>1 9999-12-31T23:59:59-00:01 web01 sshd 1 - - Failed password",
        "<38>9999-12-31T23:59:59-23:00 web01 sshd[1]: Failed password",
    };
    for (int k = 0; k < 3; k++) {
        const cev_t *e = feed1(v[k]);
        cr_assert_eq(canh_parser_errors(parser), (uint64_t)k + 1, "counted: %s", v[k]);
        ASSERT_NO(e, "@timestamp");
        ASSERT_VAL(e, "message", v[k]);
    }
    /* JSON: a @timestamp canh cannot read stays a payload value, as before */
    const cev_t *e = feed1("{\"@timestamp\":\"0000-01-01T00:00:00+01:00\",\"message\":\"x\"}");
    ASSERT_NO(e, "@timestamp");
    cr_assert_eq(e->ts_ms, 0);
}

Test(access, escaped_quotes_in_quoted_fields)
{
    /* nginx escapes '"' as \x22, Apache as \"; a backslash may end a value */
    const cev_t *e = feed1("198.51.100.7 - - [17/May/2015:10:05:03 +0000] \"GET /a?q=\\\"x\\\" HTTP/1.1\" 200 5 "
                           "\"http://r/\\\\\" \"sqlmap/1.7 (\\\"ua\\\")\"");
    cr_assert(HAS_DS(e, WEBSERVER));
    cr_assert_eq(canh_parser_errors(parser), 0);
    ASSERT_VAL(e, "url.original", "/a?q=\\\"x\\\"");
    ASSERT_VAL(e, "http.request.referrer", "http://r/\\\\");
    ASSERT_VAL(e, "user_agent.original", "sqlmap/1.7 (\\\"ua\\\")");
}

/* ---------------------------------------------------------------- auditd */

#define AU(t, body) "type=" t " msg=audit(1364481363.243:24287): " body
static const char *group[] = {
    AU("SYSCALL", "arch=c000003e syscall=59 success=yes exit=0 a0=7fff4e3e4b40 a1=7fff4e3e4b60 a2=7fff4e3e6010 "
                  "a3=7fff4e3e3e10 items=2 ppid=2686 pid=3538 auid=500 uid=500 gid=500 euid=0 suid=500 "
                  "fsuid=500 egid=500 sgid=500 fsgid=500 tty=pts0 ses=1 comm=\"ls\" exe=\"/bin/ls\" key=\"exec_log\""),
    AU("EXECVE", "argc=3 a0=\"ls\" a1=2D6C a2=2F746D702F6D7920646972"),
    AU("CWD", "cwd=\"/home/shadowman\""),
    AU("PATH", "item=0 name=\"/bin/ls\" inode=1048612 dev=fd:00 mode=0100755 ouid=0 ogid=0 rdev=00:00 nametype=NORMAL"),
    AU("PROCTITLE", "proctitle=6C73002D6C002F746D702F6D7920646972"),
    AU("EOE", ""),
};

Test(auditd, execve_group_is_one_event)
{
    for (size_t i = 0; i < CANH_ARRAY_LEN(group); i++)
        cr_assert_eq(canh_parser_feed(parser, group[i], strlen(group[i]), cap_cb, &cap), 0);
    cr_assert_eq(cap.n, 1, "EOE closes the group");
    const cev_t *e = &cap.ev[0];
    cr_assert(HAS_DS(e, AUDITD) && HAS_DS(e, PROCESS_CREATION));
    cr_assert(!HAS_DS(e, SYSLOG), "raw audit.log records are not syslog");
    cr_assert(!HAS_DS(e, FILE_EVENT));
    ASSERT_VAL(e, "auditd.sequence", "24287");
    ASSERT_VAL(e, "@timestamp", "2013-03-28T14:36:03.243Z");
    cr_assert_eq(count(e, "auditd.type"), 6);
    ASSERT_VAL(e, "auditd.type", "SYSCALL");
    cr_assert_str_eq(getn(e, "auditd.type", 1), "EXECVE");
    ASSERT_VAL(e, "auditd.result", "success");
    ASSERT_VAL(e, "auditd.key", "exec_log");
    ASSERT_VAL(e, "user.id", "500");
    ASSERT_VAL(e, "user.effective.id", "0");
    ASSERT_VAL(e, "process.pid", "3538");
    ASSERT_VAL(e, "process.parent.pid", "2686");
    ASSERT_VAL(e, "process.executable", "/bin/ls");
    ASSERT_VAL(e, "process.name", "ls");
    ASSERT_VAL(e, "process.working_directory", "/home/shadowman");
    ASSERT_VAL(e, "file.path", "/bin/ls");
    ASSERT_VAL(e, "process.title", "ls -l /tmp/my dir");
    ASSERT_VAL(e, "process.args_count", "3");
    cr_assert_eq(count(e, "process.args"), 3);
    cr_assert_str_eq(getn(e, "process.args", 0), "ls");
    cr_assert_str_eq(getn(e, "process.args", 1), "-l");
    cr_assert_str_eq(getn(e, "process.args", 2), "/tmp/my dir");
    ASSERT_VAL(e, "process.command_line", "ls -l /tmp/my dir");
    /* SYSCALL's a0 and EXECVE's a0 are both values of auditd.data.a0. */
    cr_assert_eq(count(e, "auditd.data.a0"), 2);
    cr_assert_str_eq(getn(e, "auditd.data.a0", 0), "7fff4e3e4b40");
    cr_assert_str_eq(getn(e, "auditd.data.a0", 1), "ls");
    cr_assert_str_eq(getn(e, "auditd.data.a1", 1), "-l");
    ASSERT_VAL(e, "auditd.data.syscall", "59");
    ASSERT_VAL(e, "auditd.data.nametype", "NORMAL");
    cr_assert(strstr(e->original, "type=PROCTITLE") && strchr(e->original, '\n'));
    cr_assert_eq(canh_parser_errors(parser), 0);
}

Test(auditd, interleaved_serials_nonaudit_lines_and_flush)
{
    const char *lines[] = {
        "type=SYSCALL msg=audit(1.000:10): syscall=2 success=no pid=1 key=(null)",
        "type=PATH msg=audit(1.000:10): item=0 name=\"/etc/shadow\" nametype=CREATE",
        "type=SYSCALL msg=audit(1.001:11): syscall=59 success=yes pid=2",
        "hello, not audit",
        "type=USER_CMD msg=audit(2.5:12): pid=3 uid=0 auid=1000 ses=1 msg='cwd=\"/root\" cmd=6C73202D6C61 terminal=pts/0 res=success'",
    };
    for (size_t i = 0; i < CANH_ARRAY_LEN(lines); i++)
        cr_assert_eq(canh_parser_feed(parser, lines[i], strlen(lines[i]), cap_cb, &cap), 0);
    cr_assert_eq(cap.n, 3, "serial 10, then serial 11 (before the plain line), then the plain line");
    const cev_t *a = &cap.ev[0];
    ASSERT_VAL(a, "auditd.sequence", "10");
    ASSERT_VAL(a, "auditd.result", "fail");
    ASSERT_NO(a, "auditd.key");
    ASSERT_VAL(a, "file.path", "/etc/shadow");
    cr_assert(HAS_DS(a, FILE_EVENT) && !HAS_DS(a, PROCESS_CREATION));
    ASSERT_VAL(&cap.ev[1], "auditd.sequence", "11");
    ASSERT_VAL(&cap.ev[2], "message", "hello, not audit");
    cr_assert(!HAS_DS(&cap.ev[2], AUDITD));

    cr_assert_eq(canh_parser_flush(parser, cap_cb, &cap), 0);
    cr_assert_eq(cap.n, 4);
    const cev_t *u = &cap.ev[3];
    ASSERT_VAL(u, "auditd.type", "USER_CMD");
    ASSERT_VAL(u, "process.command_line", "ls -la");
    ASSERT_VAL(u, "auditd.data.cwd", "/root");
    ASSERT_VAL(u, "auditd.data.terminal", "pts/0");
    ASSERT_VAL(u, "event.outcome", "success");
    ASSERT_VAL(u, "@timestamp", "1970-01-01T00:00:02.500Z");
    cr_assert_eq(canh_parser_flush(parser, cap_cb, &cap), 0);
    cr_assert_eq(cap.n, 4, "nothing held after a flush");
}

Test(auditd, inside_syslog_from_audispd)
{
    const char *l1 = "Mar 28 14:36:03 web01 audispd: node=web01 type=USER_AUTH msg=audit(1364481363.243:30): pid=9 "
                     "uid=0 auid=4294967295 ses=4294967295 msg='op=PAM:authentication acct=\"alice\" exe=\"/usr/sbin/sshd\" "
                     "hostname=1.2.3.4 addr=1.2.3.4 terminal=ssh res=failed'";
    cr_assert_eq(canh_parser_feed(parser, l1, strlen(l1), cap_cb, &cap), 0);
    cr_assert_eq(cap.n, 0, "held until the group ends");
    cr_assert_eq(canh_parser_flush(parser, cap_cb, &cap), 0);
    cr_assert_eq(cap.n, 1);
    const cev_t *e = &cap.ev[0];
    cr_assert(HAS_DS(e, AUDITD) && HAS_DS(e, SYSLOG), "audit records sent through syslog are both");
    ASSERT_VAL(e, "host.name", "web01");
    ASSERT_VAL(e, "user.name", "alice");
    ASSERT_VAL(e, "event.outcome", "failure");
    ASSERT_VAL(e, "auditd.result", "fail");
    ASSERT_VAL(e, "auditd.data.op", "PAM:authentication");
    ASSERT_VAL(e, "@timestamp", "2013-03-28T14:36:03.243Z");
    cr_assert_str_eq(e->original, l1);
}

Test(auditd, group_is_bounded)
{
    char line[128];
    for (int i = 0; i < 70; i++) {
        snprintf(line, sizeof(line), "type=PATH msg=audit(5.0:77): item=%d", i);
        cr_assert_eq(canh_parser_feed(parser, line, strlen(line), cap_cb, &cap), 0);
    }
    cr_assert_eq(cap.n, 1, "64 records emitted early");
    cr_assert_eq(count(&cap.ev[0], "auditd.type"), 64);
    canh_parser_flush(parser, cap_cb, &cap);
    cr_assert_eq(cap.n, 2);
    cr_assert_eq(count(&cap.ev[1], "auditd.type"), 6);
    cr_assert_str_eq(getn(&cap.ev[1], "auditd.data.item", 0), "64");
}

/* An audit time is attacker digits: 18 of them times 1000 overflowed (UB;
 * year 0000 on the plain build). A time past the year 9999 is a counted
 * parse problem that says why; the record is still decoded and scanned. */
Test(auditd, out_of_range_time_is_a_counted_problem)
{
    const char *huge[] = {
        "type=SYSCALL msg=audit(999999999999999999.123:42): syscall=59 success=yes pid=7",
        "type=SYSCALL msg=audit(253402300800.000:43): syscall=59 success=yes pid=8",
    };
    for (int k = 0; k < 2; k++) {
        uint64_t before = canh_parser_errors(parser);
        cr_assert_eq(canh_parser_feed(parser, huge[k], strlen(huge[k]), cap_cb, &cap), 0);
        canh_parser_flush(parser, cap_cb, &cap);
        cr_assert_eq(cap.n, k + 1, "one event for: %s", huge[k]);
        const cev_t *e = &cap.ev[k];
        cr_assert(HAS_DS(e, AUDITD));
        ASSERT_VAL(e, "process.pid", k ? "8" : "7");
        const char *ts = get(e, "@timestamp");
        cr_assert(!ts || strncmp(ts, "0000", 4) != 0, "bogus @timestamp %s", ts);
        cr_assert_eq(canh_parser_errors(parser), before + 1, "counted: %s", huge[k]);
        cr_assert(strstr(canh_parser_last_error(parser), "audit time out of range"),
                  "reason: %s", canh_parser_last_error(parser));
    }
    /* the last second of the year 9999 is still a time */
    const char *last = "type=SYSCALL msg=audit(253402300799.999:44): syscall=59 success=yes pid=9";
    uint64_t before = canh_parser_errors(parser);
    cr_assert_eq(canh_parser_feed(parser, last, strlen(last), cap_cb, &cap), 0);
    canh_parser_flush(parser, cap_cb, &cap);
    cr_assert_eq(cap.n, 3);
    ASSERT_VAL(&cap.ev[2], "@timestamp", "9999-12-31T23:59:59.999Z");
    cr_assert_eq(canh_parser_errors(parser), before);
}

/* ------------------------------------------------------------- kv / json */

Test(kvjson, kv)
{
    const cev_t *e = feed1("Mar 27 13:08:09 fw01 filterlog: action=block src=10.0.0.1 msg=\"port \\\"scan\\\" seen\" "
                           "user='bob smith' junk dst_port=22");
    cr_assert(HAS_DS(e, KV));
    ASSERT_VAL(e, "canh.payload.action", "block");
    ASSERT_VAL(e, "canh.payload.src", "10.0.0.1");
    ASSERT_VAL(e, "canh.payload.msg", "port \"scan\" seen");
    ASSERT_VAL(e, "canh.payload.user", "bob smith");
    ASSERT_VAL(e, "canh.payload.dst_port", "22");
    e = feed1("only=one pair here");
    cr_assert(!HAS_DS(e, KV), "one pair is not the kv shape");
}

/* The line: the payload's host, user and action stay in the
 * payload's namespace; the syslog header's host.name is the only one. */
Test(kvjson, kv_cannot_write_fields_canh_sets)
{
    const cev_t *e = feed1("Mar 27 13:08:09 web01 app: action=login user=\"a\" host=x host.name=evil "
                           "event.kind=fake event.dataset=sshd rule.id=spoof @timestamp=2020-01-01T00:00:00Z "
                           "tags=t message=m log.file.path=/x observer.name=o");
    cr_assert(HAS_DS(e, KV) && !HAS_DS(e, SSHD));
    cr_assert_eq(count(e, "host.name"), 1);
    ASSERT_VAL(e, "host.name", "web01");
    ASSERT_VAL(e, "canh.payload.host", "x");
    ASSERT_VAL(e, "canh.payload.host.name", "evil");
    ASSERT_VAL(e, "canh.payload.user", "a");
    ASSERT_VAL(e, "canh.payload.event.kind", "fake");
    ASSERT_VAL(e, "canh.payload.event.dataset", "sshd");
    ASSERT_VAL(e, "canh.payload.rule.id", "spoof");
    ASSERT_VAL(e, "canh.payload.@timestamp", "2020-01-01T00:00:00Z");
    ASSERT_VAL(e, "canh.payload.tags", "t");
    ASSERT_VAL(e, "canh.payload.message", "m");
    ASSERT_VAL(e, "canh.payload.log.file.path", "/x");
    ASSERT_VAL(e, "canh.payload.observer.name", "o");
    cr_assert_neq(e->ts_ms, 1577836800000, "a kv @timestamp is not the event's time");
    const char *canh_set[] = { "user", "host", "event.kind", "event.dataset", "rule.id", "tags",
                               "log.file.path", "observer.name" };
    for (size_t i = 0; i < CANH_ARRAY_LEN(canh_set); i++)
        ASSERT_NO(e, canh_set[i]);
    cr_assert_eq(count(e, "message"), 1);
    cr_assert_eq(count(e, "@timestamp"), 1);
}

/* A key naming an ECS field canh knows (and does not set itself) sets it
 * when its value has the field's type; otherwise it stays in the payload. */
Test(kvjson, kv_ecs_keys_map_when_the_value_fits)
{
    const cev_t *e = feed1("Mar 27 13:08:09 web01 app: source.ip=203.0.113.9 source.port=4242 "
                           "destination.ip=evil.example destination.port=abc user.name=root "
                           "process.name=fake url.original=/x?y=1");
    ASSERT_VAL(e, "source.ip", "203.0.113.9");
    ASSERT_VAL(e, "source.port", "4242");
    ASSERT_VAL(e, "user.name", "root");
    ASSERT_VAL(e, "url.original", "/x?y=1");
    ASSERT_NO(e, "destination.ip");
    ASSERT_NO(e, "destination.port");
    ASSERT_VAL(e, "canh.payload.destination.ip", "evil.example");
    ASSERT_VAL(e, "canh.payload.destination.port", "abc");
    /* process.name is the syslog header's: the payload's stays apart */
    ASSERT_VAL(e, "process.name", "app");
    cr_assert_eq(count(e, "process.name"), 1);
    ASSERT_VAL(e, "canh.payload.process.name", "fake");
}

/* Keys that would make an alert an index refuses: empty, blank, dots in
 * a row, a key both a value and a parent (the writer's part), too deep. */
Test(kvjson, hostile_keys_become_usable_paths)
{
    const cev_t *e = feed1("{\"\":1,\" \":2,\"a..b\":3,\".c\":4,\"d.\":5,\"k e y\":6,"
                           "\"x\":{\"\":{\"y\":7}},"
                           "\"1.2.3.4.5.6.7.8.9.10.11.12.13.14.15.16.17.18\":8}");
    ASSERT_VAL(e, "canh.payload._", "1");
    cr_assert_eq(count(e, "canh.payload._"), 2, "\"\" and \" \" are both \"_\"");
    ASSERT_VAL(e, "canh.payload.a._.b", "3");
    ASSERT_VAL(e, "canh.payload._.c", "4");
    ASSERT_VAL(e, "canh.payload.d._", "5");
    ASSERT_VAL(e, "canh.payload.k e y", "6");
    ASSERT_VAL(e, "canh.payload.x._.y", "7");
    ASSERT_VAL(e, "canh.payload.1.2.3.4.5.6.7.8.9.10.11.12.13.14.15.16_17_18", "8");
    for (int i = 0; i < e->n; i++) {
        const char *nm = e->name[i];
        cr_assert(!strstr(nm, ".."), "%s", nm);
        cr_assert(nm[strlen(nm) - 1] != '.', "%s", nm);
    }
    e = feed1("Mar 27 13:08:09 web01 app: a=1 a..b=2 .c=3 d.=4");
    ASSERT_VAL(e, "canh.payload.a", "1");
    ASSERT_VAL(e, "canh.payload.a._.b", "2");
    ASSERT_VAL(e, "canh.payload._.c", "3");
    ASSERT_VAL(e, "canh.payload.d._", "4");
}

/* A JSON null is a field that exists, with an empty value, flagged so the
 * alert writes null; an ECS field takes a null too. */
Test(kvjson, json_null_is_present)
{
    const cev_t *e = feed1("{\"n\":null,\"user\":{\"name\":null},\"list\":[1,null],\"b\":false}");
    int nulls = 0;
    for (int i = 0; i < e->n; i++)
        if (e->flags[i] & CANH_FIELD_NULL) {
            nulls++;
            cr_assert_str_eq(e->value[i], "", "%s", e->name[i]);
        }
    cr_assert_eq(nulls, 3);
    ASSERT_VAL(e, "canh.payload.n", "");
    ASSERT_VAL(e, "user.name", "");
    cr_assert_eq(count(e, "canh.payload.list"), 2);
    ASSERT_VAL(e, "canh.payload.b", "false");
    for (int i = 0; i < e->n; i++)
        if (!strcmp(e->name[i], "canh.payload.b"))
            cr_assert(e->flags[i] & CANH_FIELD_BOOL);
}

Test(kvjson, json)
{
    const cev_t *e = feed1("{\"ts\":1.5,\"id\":{\"orig_h\":\"10.0.0.1\",\"orig_p\":5353},\"tags\":[\"a\",\"b\"],"
                           "\"ok\":true,\"event\":{\"dataset\":\"sshd\"},\"process\":{\"name\":\"x\"},"
                           "\"source\":{\"ip\":\"10.0.0.2\",\"port\":22},\"destination.ip\":\"gw\"}");
    cr_assert(HAS_DS(e, JSON) && HAS_DS(e, SSHD));
    cr_assert(!HAS_DS(e, SYSLOG), "a raw JSON line is not syslog");
    ASSERT_VAL(e, "canh.payload.id.orig_h", "10.0.0.1");
    ASSERT_VAL(e, "canh.payload.id.orig_p", "5353");
    ASSERT_VAL(e, "canh.payload.ts", "1.5");
    cr_assert_eq(count(e, "canh.payload.tags"), 2);
    cr_assert_str_eq(getn(e, "canh.payload.tags", 1), "b");
    ASSERT_VAL(e, "canh.payload.ok", "true");
    ASSERT_VAL(e, "canh.payload.event.dataset", "sshd");
    ASSERT_NO(e, "event.dataset");
    /* ECS names canh knows: onto the ECS field when the value fits */
    ASSERT_VAL(e, "process.name", "x");
    ASSERT_VAL(e, "source.ip", "10.0.0.2");
    ASSERT_VAL(e, "source.port", "22");
    ASSERT_NO(e, "destination.ip");
    ASSERT_VAL(e, "canh.payload.destination.ip", "gw");
    for (int i = 0; i < e->n; i++)
        if (!strcmp(e->name[i], "canh.payload.id.orig_p"))
            cr_assert(e->flags[i] & CANH_FIELD_NUMBER);

    e = feed1("  {\"event.dataset\":\"no_such_dataset\",\"a\":{\"b\":{\"c\":\"d\"}}}");
    cr_assert(HAS_DS(e, JSON) && !HAS_DS(e, SSHD));
    ASSERT_VAL(e, "canh.payload.a.b.c", "d");

    e = feed1("Mar 27 13:08:09 h app[3]: {\"user\":\"x\",\"@timestamp\":\"2020-01-02T03:04:05.678+01:00\","
              "\"host\":{\"name\":\"evil\"},\"process\":{\"pid\":9}}");
    ASSERT_VAL(e, "canh.payload.user", "x");
    ASSERT_VAL(e, "@timestamp", "2020-01-02T02:04:05.678Z");
    cr_assert_eq(count(e, "@timestamp"), 1);
    ASSERT_VAL(e, "host.name", "h");
    cr_assert_eq(count(e, "host.name"), 1);
    ASSERT_VAL(e, "canh.payload.host.name", "evil");
    ASSERT_VAL(e, "process.pid", "3");
    cr_assert_eq(count(e, "process.pid"), 1, "the header's pid is the one");
    ASSERT_VAL(e, "canh.payload.process.pid", "9");

    cr_assert_eq(canh_parser_errors(parser), 0);
    const char *broken = "{\"a\": \"unterminated";
    e = feed1(broken);
    cr_assert_eq(canh_parser_errors(parser), 1);
    cr_assert(!HAS_DS(e, JSON));
    ASSERT_VAL(e, "message", broken);
    ASSERT_NO(e, "canh.payload.a");
}
