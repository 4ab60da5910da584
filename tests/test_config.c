/*
 * tests/test_config.c -- canh.yml (engine/config.c): the defaults, the
 * shipped example, every value type good and bad, unknown keys with their
 * suggestion and line, all errors reported at once, listen addresses, each
 * input type's required keys, YAML syntax errors, and docs/config.md being
 * the one the table prints.
 *
 * Thread: Criterion runs each test in its own process.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "../engine/config.h"

#define MAXE 32

typedef struct errs {
    int n;
    int line[MAXE];
    char text[MAXE][512];
} errs_t;

static void collect(void *ud, int line, const char *text)
{
    errs_t *e = ud;
    if (e->n < MAXE) {
        e->line[e->n] = line;
        snprintf(e->text[e->n], sizeof(e->text[0]), "%s", text);
    }
    e->n++;
}

static errs_t E;
static char err[1024];
static canh_config_t *cfg;

static int load(const char *yaml)
{
    memset(&E, 0, sizeof(E));
    canh_config_free(cfg);
    cfg = NULL;
    return canh_config_load_string(&cfg, "cfg.yml", yaml, strlen(yaml), collect, &E, err,
                                   sizeof(err));
}

/* Loads yaml, which must fail with exactly one error, and returns its text. */
static const char *one_error(const char *yaml)
{
    int rc = load(yaml);
    cr_assert_eq(rc, CANH_EINVAL, "loaded, but should not have:\n%s", yaml);
    cr_assert_null(cfg);
    cr_assert_eq(E.n, 1, "%d errors for:\n%s\nfirst: %s\nsecond: %s", E.n, yaml, E.text[0],
                 E.n > 1 ? E.text[1] : "");
    cr_assert_str_eq(err, E.text[0]);
    return E.text[0];
}

static void ok(const char *yaml)
{
    int rc = load(yaml);
    cr_assert_eq(rc, CANH_OK, "%s\nfor:\n%s", err, yaml);
    cr_assert_not_null(cfg);
}

static void teardown(void)
{
    canh_config_free(cfg);
    cfg = NULL;
}

TestSuite(config, .fini = teardown);

#define STDIN "inputs:\n  - type: stdin\n"

/* ---- defaults and the shipped example ---- */

Test(config, defaults_are_documented_values)
{
    canh_config_t *d;
    cr_assert_eq(canh_config_defaults(&d), CANH_OK);
    cr_assert_eq(d->workers, 0, "workers default is 0 = all cores");
    cr_assert_eq(d->limits.max_message_size, 65536);
    cr_assert_eq(d->limits.oversize, CANH_OVERSIZE_TRUNCATE);
    cr_assert_eq(d->limits.batch_lines, 512);
    cr_assert_eq(d->limits.batches, 0);
    cr_assert_eq(d->outputs.stats_interval_ms, 10000);
    cr_assert_str_eq(d->outputs.alerts_path, "-");
    cr_assert_null(d->outputs.stats_path);
    cr_assert_eq(d->log.level, CANH_LOG_INFO);
    cr_assert_eq(d->log.target, CANH_LOG_TARGET_STDERR);
    cr_assert_str_eq(d->state_dir, "/var/lib/canh");
    cr_assert_eq(d->rule_paths.n, 0);
    cr_assert_null(d->fieldmap);
    cr_assert_eq(d->ninputs, 0);
    canh_config_free(d);
}

Test(config, a_minimal_file_gets_the_defaults)
{
    ok(STDIN);
    cr_assert_eq(cfg->workers, 0);
    cr_assert_eq(cfg->limits.max_message_size, 65536);
    cr_assert_eq(cfg->outputs.stats_interval_ms, 10000);
    cr_assert_str_eq(cfg->outputs.alerts_path, "-");
    cr_assert_eq(cfg->ninputs, 1);
    cr_assert_eq(cfg->inputs[0].type, CANH_INPUT_STDIN);
    cr_assert_str_eq(cfg->inputs[0].name, "stdin");
    cr_assert_null(cfg->inputs[0].dataset);
    cr_assert_eq(cfg->inputs[0].line, 2);
}

Test(config, the_shipped_example_loads)
{
    canh_config_t *c = NULL;
    memset(&E, 0, sizeof(E));
    int rc = canh_config_load(&c, "conf/canh.yml", collect, &E, err, sizeof(err));
    cr_assert_eq(rc, CANH_OK, "%s", err);
    cr_assert_eq(E.n, 0);
    cr_assert_eq(c->workers, 0);
    cr_assert_eq(c->rule_paths.n, 1);
    cr_assert_str_eq(c->rule_paths.v[0], "conf/../rules", "relative to the config's folder");
    cr_assert_str_eq(c->fieldmap, "conf/fieldmap.yml");
    cr_assert(access(c->fieldmap, R_OK) == 0 && access(c->rule_paths.v[0], R_OK) == 0,
              "the example names the shipped rules and field map");
    /* the TLS input is shipped commented out (it needs certificates):
     * see the_shipped_tls_input_loads_once_uncommented */
    cr_assert_eq(c->ninputs, 4);
    const int types[] = { CANH_INPUT_UDP, CANH_INPUT_TCP, CANH_INPUT_FILE, CANH_INPUT_FILE };
    for (size_t i = 0; i < 4; i++)
        cr_assert_eq(c->inputs[i].type, types[i], "inputs[%zu]", i);
    cr_assert_str_eq(c->inputs[0].listen_host, "0.0.0.0");
    cr_assert_eq(c->inputs[0].listen_port, 514);
    cr_assert_eq(c->inputs[0].recv_buffer, 8u << 20);
    cr_assert_str_eq(c->inputs[1].listen_host, "::");
    cr_assert(c->inputs[1].listen_ipv6);
    cr_assert_str_eq(c->inputs[2].dataset, "webserver");
    cr_assert_eq(c->inputs[2].paths.n, 2);
    cr_assert_eq(c->inputs[3].paths.n, 1, "a single path without the list");
    cr_assert_str_eq(c->outputs.stats_path, "/var/log/canh/stats.jsonl");
    cr_assert_eq(c->log.target, CANH_LOG_TARGET_SYSLOG);
    cr_assert_str_eq(c->timezone, "Asia/Ho_Chi_Minh");
    cr_assert_str_eq(canh_tz_name(c->inputs[0].tz), "UTC", "its own zone");
    for (size_t i = 1; i < 4; i++)
        cr_assert_str_eq(canh_tz_name(c->inputs[i].tz), "Asia/Ho_Chi_Minh", "inputs[%zu]", i);
    canh_config_free(c);
}

/* The example's TLS input, enabled the way its comment says (the "# "
 * removed before each of its lines), is a valid input. */
Test(config, the_shipped_tls_input_loads_once_uncommented)
{
    FILE *f = fopen("conf/canh.yml", "r");
    cr_assert_not_null(f);
    static char yaml[1 << 16];
    size_t n = 0;
    char line[512];
    int in_tls = 0, found = 0;
    while (fgets(line, sizeof(line), f)) {
        if (!strncmp(line, "  # - type: tls", 15))
            in_tls = found = 1;
        else if (in_tls && strncmp(line, "  #   ", 6))
            in_tls = 0;
        const char *keep = line;
        char buf[512];
        if (in_tls) {   /* "  # X" -> "  X" */
            snprintf(buf, sizeof(buf), "  %s", line + 4);
            keep = buf;
        }
        n += (size_t)snprintf(yaml + n, sizeof(yaml) - n, "%s", keep);
    }
    fclose(f);
    cr_assert(found, "conf/canh.yml has a commented-out tls input");
    int rc = canh_config_load_string(&cfg, "conf/canh.yml", yaml, n, collect, &E, err,
                                     sizeof(err));
    cr_assert_eq(rc, CANH_OK, "%s", err);
    cr_assert_eq(cfg->ninputs, 5);
    const canh_config_input_t *t = &cfg->inputs[2];
    cr_assert_eq(t->type, CANH_INPUT_TLS);
    cr_assert_str_eq(t->name, "district-offices");
    cr_assert_eq(t->listen_port, 6514);
    cr_assert(t->tls_require_client_cert);
    cr_assert_str_eq(t->tls_cert, "/etc/canh/tls/soc.crt");
    cr_assert_str_eq(t->tls_key, "/etc/canh/tls/soc.key");
    cr_assert_str_eq(t->tls_ca, "/etc/canh/tls/districts-ca.crt");
}

Test(config, a_missing_file_is_named)
{
    canh_config_t *c = (canh_config_t *)1;
    memset(&E, 0, sizeof(E));
    int rc = canh_config_load(&c, "conf/no-such.yml", collect, &E, err, sizeof(err));
    cr_assert_eq(rc, CANH_ENOENT);
    cr_assert_null(c);
    cr_assert(strstr(err, "conf/no-such.yml") && strstr(err, "No such file"), "%s", err);
    cr_assert_eq(E.n, 1);
}

/* ---- each type, good and bad ---- */

Test(config, integers)
{
    ok("workers: 4\n" STDIN);
    cr_assert_eq(cfg->workers, 4);
    ok("workers: auto\n" STDIN);
    cr_assert_eq(cfg->workers, 0);
    ok("workers: 0\n" STDIN);
    cr_assert_eq(cfg->workers, 0);
    cr_assert_str_eq(one_error("workers: many\n" STDIN),
                     "cfg.yml:1: workers: must be an integer from 1 to 256 or 'auto', got 'many'");
    cr_assert(strstr(one_error("workers: 257\n" STDIN), "got '257'"));
    cr_assert(strstr(one_error("workers: -1\n" STDIN), "got '-1'"));
    cr_assert(strstr(one_error("workers: 4.5\n" STDIN), "got '4.5'"));
    cr_assert(strstr(one_error("workers: [1, 2]\n" STDIN), "got a list"));
    cr_assert(strstr(one_error("workers:\n" STDIN), "got nothing"));
    cr_assert(strstr(one_error("limits:\n  batch_lines: 8\n" STDIN),
                     "limits.batch_lines: must be an integer from 16 to 65536, got '8'"));
}

Test(config, pcre2_limits)
{
    ok(STDIN);
    cr_assert_eq(cfg->pcre2_match_limit, 100000);
    cr_assert_eq(cfg->pcre2_depth_limit, 5000);
    ok("rules:\n  pcre2_match_limit: 2000000\n  pcre2_depth_limit: 20000\n" STDIN);
    cr_assert_eq(cfg->pcre2_match_limit, 2000000);
    cr_assert_eq(cfg->pcre2_depth_limit, 20000);
    cr_assert(strstr(one_error("rules:\n  pcre2_match_limit: 10\n" STDIN),
                     "cfg.yml:2: rules.pcre2_match_limit: must be an integer from 1000 to "
                     "100000000, got '10'"));
}

Test(config, booleans)
{
    const char *base = "inputs:\n  - type: tls\n    listen: 0.0.0.0:6514\n    tls:\n"
                       "      cert: c.pem\n      key: k.pem\n      ca: ca.pem\n"
                       "      require_client_cert: %s\n";
    char y[512];
    snprintf(y, sizeof(y), base, "true");
    ok(y);
    cr_assert_eq(cfg->inputs[0].tls_require_client_cert, 1);
    snprintf(y, sizeof(y), base, "no");
    ok(y);
    cr_assert_eq(cfg->inputs[0].tls_require_client_cert, 0);
    snprintf(y, sizeof(y), base, "maybe");
    cr_assert_str_eq(one_error(y), "cfg.yml:8: inputs[0].tls.require_client_cert: must be true "
                     "or false, got 'maybe'");
}

Test(config, sizes_with_units)
{
    const struct { const char *v; size_t want; } good[] = {
        { "65536", 65536 }, { "64KiB", 65536 }, { "1MiB", 1 << 20 }, { "2 MiB", 2 << 20 },
        { "64kib", 65536 }, { "1MB", 1000000 }, { "300B", 300 }, { "64MiB", 64 << 20 },
    };
    char y[256];
    for (size_t i = 0; i < CANH_ARRAY_LEN(good); i++) {
        snprintf(y, sizeof(y), "limits:\n  max_message_size: %s\n" STDIN, good[i].v);
        ok(y);
        cr_assert_eq(cfg->limits.max_message_size, good[i].want, "%s", good[i].v);
    }
    const char *bad[] = { "64 kilo", "-1", "100", "65MiB", "1.5MiB", "KiB", "99999999999999999999" };
    for (size_t i = 0; i < CANH_ARRAY_LEN(bad); i++) {
        snprintf(y, sizeof(y), "limits:\n  max_message_size: %s\n" STDIN, bad[i]);
        const char *e = one_error(y);
        cr_assert(strstr(e, "cfg.yml:2: limits.max_message_size: must be a size from 256 B to "
                         "64 MiB, such as 65536, 64KiB or 1MiB, got '"), "%s", e);
    }
}

Test(config, durations_with_units)
{
    const struct { const char *v; int64_t ms; } good[] = {
        { "10s", 10000 }, { "2m", 120000 }, { "1500ms", 1500 }, { "1m30s", 90000 },
        { "1h", 3600000 }, { "1d", 86400000 },
    };
    char y[256];
    for (size_t i = 0; i < CANH_ARRAY_LEN(good); i++) {
        snprintf(y, sizeof(y), "outputs:\n  stats:\n    interval: %s\n" STDIN, good[i].v);
        ok(y);
        cr_assert_eq(cfg->outputs.stats_interval_ms, good[i].ms, "%s", good[i].v);
    }
    const char *bad[] = { "10", "500ms", "2d", "10 sec", "s", "1x", "-5s" };
    for (size_t i = 0; i < CANH_ARRAY_LEN(bad); i++) {
        snprintf(y, sizeof(y), "outputs:\n  stats:\n    interval: %s\n" STDIN, bad[i]);
        const char *e = one_error(y);
        cr_assert(strstr(e, "cfg.yml:3: outputs.stats.interval: must be a duration from 1s to "
                         "1d, such as 500ms, 10s or 2m, got '"), "%s", e);
    }
}

/* Output file modes are octal, as chmod takes them (YAML's 0640 is read
 * as written, not as the decimal 640 or the number 416). */
Test(config, file_modes_in_octal)
{
    canh_config_t *d;
    cr_assert_eq(canh_config_defaults(&d), CANH_OK);
    cr_assert_eq(d->outputs.alerts_mode, 0600, "alerts carry whole log lines: 0600");
    cr_assert_eq(d->outputs.stats_mode, 0600);
    canh_config_free(d);
    const struct { const char *v; int mode; } good[] = {
        { "0640", 0640 }, { "640", 0640 }, { "\"0600\"", 0600 }, { "0", 0 }, { "0777", 0777 },
    };
    char y[256];
    for (size_t i = 0; i < CANH_ARRAY_LEN(good); i++) {
        snprintf(y, sizeof(y), "outputs:\n  alerts:\n    mode: %s\n  stats:\n    mode: %s\n"
                 STDIN, good[i].v, good[i].v);
        ok(y);
        cr_assert_eq(cfg->outputs.alerts_mode, good[i].mode, "%s", good[i].v);
        cr_assert_eq(cfg->outputs.stats_mode, good[i].mode, "%s", good[i].v);
    }
    const char *bad[] = { "0800", "01000", "rw-r-----", "0o640", "-1", "u+rw", "0x1a4" };
    for (size_t i = 0; i < CANH_ARRAY_LEN(bad); i++) {
        snprintf(y, sizeof(y), "outputs:\n  alerts:\n    mode: %s\n" STDIN, bad[i]);
        const char *e = one_error(y);
        cr_assert(strstr(e, "cfg.yml:3: outputs.alerts.mode: must be file permissions in octal "
                         "from 0000 to 0777, such as 0600 or 0640, got '"), "%s", e);
    }
}

Test(config, enums_reject_other_values)
{
    ok("limits:\n  oversize: drop\nlog:\n  level: debug\n  target: syslog\n" STDIN);
    cr_assert_eq(cfg->limits.oversize, CANH_OVERSIZE_DROP);
    cr_assert_eq(cfg->log.level, CANH_LOG_DEBUG);
    cr_assert_eq(cfg->log.target, CANH_LOG_TARGET_SYSLOG);
    cr_assert_str_eq(one_error("limits:\n  oversize: truncat\n" STDIN),
                     "cfg.yml:2: limits.oversize: must be one of truncate, drop, got 'truncat' "
                     "(did you mean 'truncate'?)");
    cr_assert_str_eq(one_error("log:\n  level: verbose\n" STDIN),
                     "cfg.yml:2: log.level: must be one of error, warn, info, debug, got 'verbose'");
    cr_assert(strstr(one_error("log:\n  target: Syslog\n" STDIN), "(did you mean 'syslog'?)"),
              "values are case-sensitive, with a hint");
    cr_assert(strstr(one_error("inputs:\n  - type: amqp\n"),
                     "cfg.yml:2: inputs[0].type: must be one of udp, tcp, tls, file, stdin, "
                     "kafka, pcap, got 'amqp'"));
}

/* The level from which alerts count as threats: medium unless set; the
 * field holds canh_level_t - 1 (engine/detect/rule.h). */
Test(config, threat_level)
{
    ok(STDIN);
    cr_assert_eq(cfg->outputs.stats_threat_level, 2, "default: medium");
    ok("outputs:\n  stats:\n    threat_level: high\n" STDIN);
    cr_assert_eq(cfg->outputs.stats_threat_level, 3);
    ok("outputs:\n  stats:\n    threat_level: informational\n" STDIN);
    cr_assert_eq(cfg->outputs.stats_threat_level, 0);
    cr_assert_str_eq(one_error("outputs:\n  stats:\n    threat_level: severe\n" STDIN),
                     "cfg.yml:3: outputs.stats.threat_level: must be one of informational, low, "
                     "medium, high, critical, got 'severe'");
}

Test(config, strings_paths_and_lists)
{
    ok("inputs:\n  - type: stdin\n    name: pipe\n    dataset: proxy\n");
    cr_assert_str_eq(cfg->inputs[0].name, "pipe");
    cr_assert_str_eq(cfg->inputs[0].dataset, "proxy");
    cr_assert(strstr(one_error("inputs:\n  - type: stdin\n    dataset: web server\n"),
                     "cfg.yml:3: inputs[0].dataset: must be a name of letters, digits"));
    cr_assert(strstr(one_error("inputs:\n  - type: stdin\n    name: ''\n"),
                     "inputs[0].name: must be a string, got ''"));

    ok("rules:\n  paths: my-rules\n  fieldmap: /etc/canh/fm.yml\n" STDIN);
    cr_assert_eq(cfg->rule_paths.n, 1);
    cr_assert_str_eq(cfg->rule_paths.v[0], "my-rules", "a string config keeps relative paths");
    cr_assert_str_eq(cfg->fieldmap, "/etc/canh/fm.yml");
    ok("rules:\n  paths: [a, b/c.yml]\n" STDIN);
    cr_assert_eq(cfg->rule_paths.n, 2);
    cr_assert_str_eq(cfg->rule_paths.v[1], "b/c.yml");

    memset(&E, 0, sizeof(E));
    int rc = load("rules:\n  paths:\n    - a\n    - {x: 1}\n    - [b]\n" STDIN);
    cr_assert_eq(rc, CANH_EINVAL);
    cr_assert_eq(E.n, 2);
    cr_assert_str_eq(E.text[0], "cfg.yml:4: rules.paths: each item must be a path, got a map");
    cr_assert_str_eq(E.text[1], "cfg.yml:5: rules.paths: each item must be a path, got a list");

    ok("outputs:\n  alerts:\n    path: ~\n  stats:\n    path: '-'\n" STDIN);
    cr_assert_str_eq(cfg->outputs.alerts_path, "-", "~ keeps the default");
    cr_assert_str_eq(cfg->outputs.stats_path, "-");
}

Test(config, relative_paths_follow_the_config_file)
{
    char dir[] = "/tmp/canh-cfg-XXXXXX", file[64];
    cr_assert_not_null(mkdtemp(dir));
    snprintf(file, sizeof(file), "%s/canh.yml", dir);
    FILE *f = fopen(file, "w");
    fputs("rules:\n  paths: [r, /abs/r]\noutputs:\n  alerts:\n    path: '-'\n"
          "  stats:\n    path: s.jsonl\ninputs:\n  - type: file\n    paths: 'logs/*.log'\n", f);
    fclose(f);
    canh_config_t *c;
    cr_assert_eq(canh_config_load(&c, file, NULL, NULL, err, sizeof(err)), CANH_OK, "%s", err);
    char want[96];
    snprintf(want, sizeof(want), "%s/r", dir);
    cr_assert_str_eq(c->rule_paths.v[0], want);
    cr_assert_str_eq(c->rule_paths.v[1], "/abs/r");
    cr_assert_str_eq(c->outputs.alerts_path, "-", "'-' is stdout, not a file");
    snprintf(want, sizeof(want), "%s/s.jsonl", dir);
    cr_assert_str_eq(c->outputs.stats_path, want);
    snprintf(want, sizeof(want), "%s/logs/*.log", dir);
    cr_assert_str_eq(c->inputs[0].paths.v[0], want);
    cr_assert_str_eq(c->inputs[0].name, want);
    canh_config_free(c);
    unlink(file);
    rmdir(dir);
}

/* ---- unknown keys ---- */

Test(config, unknown_key_has_line_and_suggestion)
{
    const char *y = "workers: 2\n"
                    "inputs:\n"
                    "  - type: udp\n"
                    "    lisen: 0.0.0.0:514\n"
                    "    listen: 0.0.0.0:514\n";
    cr_assert_str_eq(one_error(y),
                     "cfg.yml:4: unknown key 'inputs[0].lisen' (did you mean 'listen'?)");
    cr_assert_str_eq(one_error("worker: 2\n" STDIN),
                     "cfg.yml:1: unknown key 'worker' (did you mean 'workers'?)");
    cr_assert_str_eq(one_error("limits:\n  max_mesage_size: 1MiB\n" STDIN),
                     "cfg.yml:2: unknown key 'limits.max_mesage_size' "
                     "(did you mean 'max_message_size'?)");
    cr_assert_str_eq(one_error("max_message_size: 1MiB\n" STDIN),
                     "cfg.yml:1: unknown key 'max_message_size' "
                     "(did you mean 'limits.max_message_size'?)");
    cr_assert_str_eq(one_error(STDIN "colour: blue\n"), "cfg.yml:3: unknown key 'colour'");
    cr_assert_str_eq(one_error(STDIN "outputs:\n  alerts:\n    pth: a.jsonl\n"),
                     "cfg.yml:5: unknown key 'outputs.alerts.pth' (did you mean 'path'?)");
}

Test(config, a_key_of_another_input_type)
{
    cr_assert_str_eq(one_error("inputs:\n  - type: udp\n    listen: 0.0.0.0:514\n"
                               "    paths: [/var/log/x]\n"),
                     "cfg.yml:4: inputs[0].paths: a udp input has no 'paths' (it is a key of "
                     "file inputs)");
    cr_assert(strstr(one_error("inputs:\n  - type: udp\n    listen: 0.0.0.0:514\n"
                               "    framing: lf\n"), "it is a key of tcp, tls inputs"));
}

Test(config, sections_must_be_maps)
{
    cr_assert_str_eq(one_error("limits: 5\n" STDIN),
                     "cfg.yml:1: limits: must be a map of keys, got a single value");
    ok("limits:\n" STDIN);      /* an empty section is fine */
}

/* ---- Kafka ---- */

Test(config, kafka_output)
{
    ok(STDIN);
    cr_assert_str_eq(cfg->outputs.alerts_path, "-", "no Kafka: alerts to stdout");
    cr_assert_null(cfg->outputs.kafka.brokers);
    canh_config_free(cfg);
    cfg = NULL;

    ok(STDIN "outputs:\n  kafka:\n    brokers: k1:9092,k2:9092\n    properties:\n"
       "      security.protocol: SSL\n      linger.ms: 20\n    spool:\n      max_size: 2GiB\n");
    cr_assert_str_eq(cfg->outputs.kafka.brokers, "k1:9092,k2:9092");
    cr_assert_str_eq(cfg->outputs.kafka.topic, "canh-alerts");
    cr_assert_null(cfg->outputs.kafka.stats_topic);
    cr_assert_null(cfg->outputs.alerts_path, "with Kafka, no alerts file unless asked");
    cr_assert_eq(cfg->outputs.kafka.props.n, 4);
    cr_assert_str_eq(cfg->outputs.kafka.props.v[0], "security.protocol");
    cr_assert_str_eq(cfg->outputs.kafka.props.v[3], "20");
    cr_assert_eq(cfg->outputs.kafka.spool_max_size, (size_t)2 << 30);
    cr_assert_eq(cfg->outputs.kafka.message_timeout_ms, 300000);
    cr_assert_eq(cfg->outputs.kafka.stop_timeout_ms, 10000);

    cr_assert_str_eq(one_error(STDIN "outputs:\n  kafka:\n    topic: alerts\n"),
                     "cfg.yml:5: outputs.kafka.topic: the Kafka output needs "
                     "'outputs.kafka.brokers' too");
    cr_assert_str_eq(one_error(STDIN "outputs:\n  kafka:\n    brokers: [a]\n"),
                     "cfg.yml:5: outputs.kafka.brokers: must be a string, got a list");
    cr_assert_str_eq(one_error(STDIN "outputs:\n  kafka:\n    brokers: a:1\n"
                               "    properties: acks\n"),
                     "cfg.yml:6: outputs.kafka.properties: must be a map of names to single "
                     "values, got 'acks'");
    cr_assert_str_eq(one_error(STDIN "outputs:\n  kafka:\n    brokers: a:1\n"
                               "    properties:\n      linger.ms: [1]\n"),
                     "cfg.yml:7: outputs.kafka.properties: each entry must be 'name: value', "
                     "got a list");
}

Test(config, kafka_input)
{
    ok("inputs:\n  - type: kafka\n    brokers: k:9092\n    topics: [raw, audit]\n"
       "    group: canh-detect\n    start_at: beginning\n");
    const canh_config_input_t *in = &cfg->inputs[0];
    cr_assert_eq(in->type, CANH_INPUT_KAFKA);
    cr_assert_str_eq(in->name, "kafka://raw");
    cr_assert_eq(in->topics.n, 2);
    cr_assert_str_eq(in->topics.v[1], "audit", "topics are names, not paths");
    cr_assert_str_eq(in->group, "canh-detect");
    cr_assert_eq(in->start_at, CANH_START_BEGINNING);
    canh_config_free(cfg);
    cfg = NULL;

    cr_assert_eq(load("inputs:\n  - type: kafka\n    brokers: k:9092\n"), CANH_EINVAL);
    cr_assert_eq(E.n, 2);
    cr_assert_str_eq(E.text[0], "cfg.yml:2: inputs[0]: a kafka input needs 'topics'");
    cr_assert_str_eq(E.text[1], "cfg.yml:2: inputs[0]: a kafka input needs 'group'");
    cr_assert_str_eq(one_error("inputs:\n  - type: kafka\n    brokers: k:9092\n"
                               "    topics: raw\n    group: a group\n"),
                     "cfg.yml:5: inputs[0].group: must be a name of letters, digits, '_', '-' "
                     "and '.', got 'a group'");
    cr_assert(strstr(one_error("inputs:\n  - type: kafka\n    brokers: k:9092\n"
                               "    topics: raw\n    group: g\n    listen: 0.0.0.0:1\n"),
                     "a kafka input has no 'listen'"));
}

Test(config, duplicate_keys)
{
    cr_assert_str_eq(one_error("workers: 2\n" STDIN "workers: 3\n"),
                     "cfg.yml:4: duplicate key 'workers' (first set on line 1)");
}

/* ---- many errors ---- */

Test(config, every_error_is_reported_in_line_order)
{
    const char *y = "workers: many\n"                  /* 1 */
                    "inputs:\n"                        /* 2 */
                    "  - type: udp\n"                  /* 3: no listen */
                    "    lisen: 0.0.0.0:514\n"         /* 4 */
                    "  - type: tcp\n"                  /* 5 */
                    "    listen: 10.0.0.1:99999\n"     /* 6 */
                    "limits:\n"                        /* 7 */
                    "  oversize: cut\n"                /* 8 */
                    "outputs:\n"                       /* 9 */
                    "  stats:\n"                       /* 10 */
                    "    interval: 10\n";              /* 11 */
    cr_assert_eq(load(y), CANH_EINVAL);
    cr_assert_null(cfg);
    cr_assert_eq(E.n, 6, "got %d: %s | %s", E.n, E.text[0], E.text[E.n - 1]);
    const int lines[] = { 1, 3, 4, 6, 8, 11 };
    for (int i = 0; i < 6; i++)
        cr_assert_eq(E.line[i], lines[i], "error %d: %s", i, E.text[i]);
    cr_assert_str_eq(E.text[1], "cfg.yml:3: inputs[0]: a udp input needs 'listen'");
    cr_assert_str_eq(E.text[3], "cfg.yml:6: inputs[1].listen: the port must be a number from 1 "
                     "to 65535, got '99999'");
    cr_assert(strstr(err, "workers: must be") && strstr(err, "(and 5 more errors)"), "%s", err);
}

Test(config, works_without_a_callback)
{
    canh_config_t *c = (canh_config_t *)1;
    const char *y = "workers: x\nlog:\n  level: x\n" STDIN;
    cr_assert_eq(canh_config_load_string(&c, "a.yml", y, strlen(y), NULL, NULL, err, sizeof(err)),
                 CANH_EINVAL);
    cr_assert_null(c);
    cr_assert(strstr(err, "a.yml:1: workers:") && strstr(err, "(and 1 more error)"), "%s", err);
}

/* ---- listen addresses ---- */

Test(config, listen_addresses)
{
    ok("inputs:\n  - type: udp\n    listen: '[::1]:5514'\n");
    cr_assert_str_eq(cfg->inputs[0].listen_host, "::1");
    cr_assert_eq(cfg->inputs[0].listen_port, 5514);
    cr_assert(cfg->inputs[0].listen_ipv6);
    cr_assert_str_eq(cfg->inputs[0].name, "udp://[::1]:5514");
    ok("inputs:\n  - type: tcp\n    listen: 192.168.10.5:601\n");
    cr_assert_str_eq(cfg->inputs[0].listen_host, "192.168.10.5");
    cr_assert_eq(cfg->inputs[0].listen_port, 601);
    cr_assert_not(cfg->inputs[0].listen_ipv6);
    ok("inputs:\n  - type: tcp\n    listen: loghost.soc.local:514\n");
    cr_assert_str_eq(cfg->inputs[0].listen_host, "loghost.soc.local");

    const struct { const char *v, *why; } bad[] = {
        { "::1:5514", "an IPv6 address must be in brackets, such as [::1]:5514" },
        { "'[::1]'", "must be [IPv6]:port" },
        { "'[::g]:514'", "'::g' is not an IPv6 address" },
        { "1.2.3.400:514", "'1.2.3.400' is not an IPv4 address" },
        { "':514'", "needs an address before the port" },
        { "localhost", "must be host:port" },
        { "localhost:0", "the port must be a number from 1 to 65535, got '0'" },
        { "localhost:http", "the port must be a number from 1 to 65535, got 'http'" },
        { "bad_host:514", "'bad_host' is not an IP address or a host name" },
    };
    char y[256];
    for (size_t i = 0; i < CANH_ARRAY_LEN(bad); i++) {
        snprintf(y, sizeof(y), "inputs:\n  - type: udp\n    listen: %s\n", bad[i].v);
        const char *e = one_error(y);
        cr_assert(!strncmp(e, "cfg.yml:3: inputs[0].listen: ", 29) && strstr(e, bad[i].why),
                  "%s -> %s", bad[i].v, e);
    }
}

Test(config, one_address_per_protocol)
{
    ok("inputs:\n  - type: udp\n    listen: 0.0.0.0:514\n  - type: tcp\n    listen: 0.0.0.0:514\n");
    cr_assert_str_eq(one_error("inputs:\n  - type: tcp\n    listen: 0.0.0.0:514\n"
                               "  - type: tls\n    listen: 0.0.0.0:514\n"
                               "    tls: {cert: c, key: k}\n"),
                     "cfg.yml:4: inputs[1]: TCP 0.0.0.0:514 is already taken by inputs[0] (line 2)");
    cr_assert(strstr(one_error("inputs:\n  - type: stdin\n  - type: stdin\n    name: again\n"),
                     "standard input can be read only once"));
    cr_assert(strstr(one_error("inputs:\n  - type: stdin\n    name: x\n"
                               "  - type: file\n    name: x\n    paths: a\n"),
                     "the name 'x' is already used by inputs[0]"));
}

/* ---- each input type and its required keys ---- */

Test(config, each_input_type_with_its_keys)
{
    ok("inputs:\n"
       "  - type: udp\n    listen: 0.0.0.0:514\n    recv_buffer: 4MiB\n"
       "  - type: tcp\n    listen: 0.0.0.0:601\n    framing: octet\n    max_connections: 10\n"
       "  - type: tls\n    listen: '[::]:6514'\n    tls: {cert: c.pem, key: k.pem}\n"
       "  - type: file\n    paths: [/var/log/auth.log]\n    start_at: beginning\n"
       "  - type: stdin\n    dataset: sshd\n");
    cr_assert_eq(cfg->ninputs, 5);
    cr_assert_eq(cfg->inputs[0].recv_buffer, 4u << 20);
    cr_assert_eq(cfg->inputs[1].framing, CANH_FRAMING_OCTET);
    cr_assert_eq(cfg->inputs[1].max_connections, 10);
    cr_assert_eq(cfg->inputs[2].framing, CANH_FRAMING_AUTO, "default framing");
    cr_assert_eq(cfg->inputs[2].max_connections, 1024);
    cr_assert_str_eq(cfg->inputs[2].tls_cert, "c.pem");
    cr_assert_null(cfg->inputs[2].tls_ca);
    cr_assert_eq(cfg->inputs[3].start_at, CANH_START_BEGINNING);
    cr_assert_str_eq(cfg->inputs[3].name, "/var/log/auth.log");
    cr_assert_str_eq(cfg->inputs[4].dataset, "sshd");
    cr_assert_eq(cfg->inputs[4].line, 15);
}

/* The places of a tcp or tls input: per address, idle and unfinished
 * messages; defaults, "unlimited" and "0" (never), and the wrong type. */
Test(config, connection_limits_and_timeouts)
{
    ok("inputs:\n"
       "  - type: tcp\n    listen: 0.0.0.0:601\n    max_connections_per_address: 8\n"
       "    idle_timeout: 90s\n    partial_frame_timeout: 0\n"
       "  - type: tls\n    listen: '[::]:6514'\n    tls: {cert: c.pem, key: k.pem}\n"
       "    max_connections_per_address: unlimited\n"
       "  - type: tcp\n    listen: 0.0.0.0:602\n");
    cr_assert_eq(cfg->inputs[0].max_connections_per_address, 8);
    cr_assert_eq(cfg->inputs[0].idle_timeout_ms, 90000);
    cr_assert_eq(cfg->inputs[0].partial_frame_timeout_ms, 0, "0: never");
    cr_assert_eq(cfg->inputs[1].max_connections_per_address, 0, "unlimited");
    cr_assert_eq(cfg->inputs[2].max_connections_per_address, 64, "default");
    cr_assert_eq(cfg->inputs[2].idle_timeout_ms, 10 * 60000, "default");
    cr_assert_eq(cfg->inputs[2].partial_frame_timeout_ms, 30000, "default");
    cr_assert(strstr(one_error("inputs:\n  - type: udp\n    listen: 0.0.0.0:514\n"
                               "    idle_timeout: 1m\n"), "it is a key of tcp, tls inputs"));
    cr_assert(strstr(one_error("inputs:\n  - type: tcp\n    listen: 0.0.0.0:514\n"
                               "    partial_frame_timeout: soon\n"), "must be a duration"));
    cr_assert(strstr(one_error("inputs:\n  - type: tcp\n    listen: 0.0.0.0:514\n"
                               "    max_connections_per_address: -1\n"), "cfg.yml:4:"));
}

Test(config, required_keys_name_the_input_line)
{
    cr_assert_str_eq(one_error(STDIN "  - type: udp\n    name: fw\n"),
                     "cfg.yml:3: inputs[1]: a udp input needs 'listen'");
    cr_assert_str_eq(one_error("inputs:\n  - type: tcp\n    listen: ~\n"),
                     "cfg.yml:2: inputs[0]: a tcp input needs 'listen'");
    cr_assert_str_eq(one_error("inputs:\n  - type: file\n    start_at: end\n"),
                     "cfg.yml:2: inputs[0]: a file input needs 'paths'");
    cr_assert_str_eq(one_error("inputs:\n  - type: file\n    paths: []\n"),
                     "cfg.yml:3: inputs[0].paths: a file input needs at least one");
    cr_assert_str_eq(one_error("inputs:\n  - type: tls\n    listen: 0.0.0.0:6514\n"
                               "    cert: c\n    tls: {cert: c, key: k}\n"),
                     "cfg.yml:4: unknown key 'inputs[0].cert' (did you mean 'tls.cert'?)");
    cr_assert_str_eq(one_error("inputs:\n  - type: file\n    paths: a\n    state_dir: /x\n"),
                     "cfg.yml:4: unknown key 'inputs[0].state_dir' ('state_dir' is a top-level "
                     "key)");
    cr_assert_str_eq(one_error("inputs:\n  - name: x\n"),
                     "cfg.yml:2: inputs[0]: no 'type' (one of udp, tcp, tls, file, stdin, kafka, "
                     "pcap)");
    cr_assert(strstr(one_error("inputs:\n  - type: udp\n    listen: 0.0.0.0:514\n  - 514\n"),
                     "cfg.yml:4: inputs[1]: an input must be a map"));

    cr_assert_eq(load("inputs:\n  - type: tls\n    listen: 0.0.0.0:6514\n"), CANH_EINVAL);
    cr_assert_eq(E.n, 2);
    cr_assert_str_eq(E.text[0], "cfg.yml:2: inputs[0]: a tls input needs 'tls.cert'");
    cr_assert_str_eq(E.text[1], "cfg.yml:2: inputs[0]: a tls input needs 'tls.key'");

    cr_assert_str_eq(one_error("inputs:\n  - type: tls\n    listen: 0.0.0.0:6514\n"
                               "    tls:\n      cert: c\n      key: k\n"
                               "      require_client_cert: true\n"),
                     "cfg.yml:7: inputs[0].tls.require_client_cert: needs 'tls.ca', the CA that "
                     "signs the client certificates");
}

Test(config, no_inputs_is_an_error)
{
    cr_assert_str_eq(one_error("workers: 2\n"), "cfg.yml:1: no inputs: add an 'inputs' list "
                     "with at least one input (see docs/config.md)");
    cr_assert(strstr(one_error("workers: 2\ninputs: []\n"), "cfg.yml:2: no inputs"));
    cr_assert(strstr(one_error("inputs: stdin\n"), "cfg.yml:1: inputs: must be a list of inputs"));
}

/* ---- files that are not a config ---- */

Test(config, an_empty_file)
{
    cr_assert(strstr(one_error(""), "cfg.yml:1: the file is empty"));
    cr_assert(strstr(one_error("# only a comment\n\n"), "the file is empty"));
    cr_assert(strstr(one_error("- a\n- b\n"), "cfg.yml:1: a canh config must be a map"));
}

Test(config, yaml_syntax_error_reports_a_line)
{
    const char *e = one_error("workers: 2\ninputs:\n  - type: udp\n    listen: [::1]:514\n");
    cr_assert(!strncmp(e, "cfg.yml:4: YAML syntax error: ", 30), "%s", e);
    e = one_error("workers: 2\nlimits:\n  oversize: drop\n bad indent: 1\n");
    cr_assert(!strncmp(e, "cfg.yml:4: YAML syntax error: ", 30), "%s", e);
    e = one_error(STDIN "---\nworkers: 2\n");
    cr_assert(strstr(e, "cfg.yml:4: a second YAML document"), "%s", e);
}

/* ---- the reference ---- */

Test(config, docs_config_md_is_printed_from_the_table)
{
    char *gen = NULL;
    size_t glen = 0;
    FILE *m = open_memstream(&gen, &glen);
    canh_config_doc_markdown(m);
    fclose(m);
    const char *keys[] = { "`workers`", "`inputs[].listen`", "`inputs[].tls.require_client_cert`",
                           "`limits.max_message_size`", "`outputs.stats.interval`", "`log.target`" };
    for (size_t i = 0; i < CANH_ARRAY_LEN(keys); i++)
        cr_assert(strstr(gen, keys[i]), "%s missing from the reference", keys[i]);

    FILE *f = fopen("docs/config.md", "rb");
    cr_assert_not_null(f, "docs/config.md is missing: run 'make docs'");
    char *cur = malloc(glen + 2);
    size_t n = fread(cur, 1, glen + 1, f);
    fclose(f);
    cr_assert(n == glen && !memcmp(cur, gen, glen),
              "docs/config.md is out of date: run 'make docs'");
    free(cur);
    free(gen);
}

/* ---- the suppression list ---- */

Test(config, suppress_is_read_from_this_file)
{
    /* the entries are engine/suppress.c's to check; the config says where they are */
    ok(STDIN "suppress:\n  - rule: x\n    host: web01\n");
    cr_assert_str_eq(cfg->suppress, "cfg.yml");
    ok(STDIN "suppress: lists/soc.yml\n");
    cr_assert_str_eq(cfg->suppress, "cfg.yml", "suppress.c follows the name from here");
    ok(STDIN "suppress: ~\n");
    cr_assert_null(cfg->suppress);
    ok(STDIN);
    cr_assert_null(cfg->suppress);
    cr_assert_str_eq(one_error(STDIN "suppress:\n  rule: x\n"),
                     "cfg.yml:3: suppress: must be a list of suppression entries, or the path of "
                     "a file holding one, got a map");
    cr_assert(strstr(one_error(STDIN "supress: []\n"), "did you mean 'suppress'?"), "%s",
              E.text[0]);
}

/* ---- time zones ---- */

Test(config, time_zones_top_level_and_per_input)
{
    ok("timezone: Asia/Ho_Chi_Minh\n"
       "inputs:\n"
       "  - type: stdin\n"
       "  - type: udp\n    listen: 0.0.0.0:514\n    timezone: Europe/Berlin\n"
       "  - type: tcp\n    listen: 0.0.0.0:601\n    timezone: Europe/Berlin\n");
    cr_assert_str_eq(cfg->timezone, "Asia/Ho_Chi_Minh");
    cr_assert_str_eq(canh_tz_name(cfg->inputs[0].tz), "Asia/Ho_Chi_Minh");
    cr_assert_str_eq(canh_tz_name(cfg->inputs[1].tz), "Europe/Berlin");
    cr_assert_eq(cfg->inputs[1].tz, cfg->inputs[2].tz, "one zone, loaded once");
    /* 23:30 on Dec 31 in Ho Chi Minh City is 16:30 UTC */
    cr_assert_eq(canh_tz_wall_to_utc(cfg->inputs[0].tz, 1767223800), 1767223800 - 7 * 3600);
}

Test(config, the_machines_zone_by_default)
{
    setenv("TZ", "America/New_York", 1);
    ok(STDIN "  - type: udp\n    listen: 0.0.0.0:514\n    timezone: UTC\n");
    cr_assert_null(cfg->timezone);
    cr_assert_str_eq(canh_tz_name(cfg->inputs[0].tz), "America/New_York");
    cr_assert_str_eq(canh_tz_name(cfg->inputs[1].tz), "UTC");
    /* a top-level zone wins over the machine's */
    ok("timezone: Asia/Ho_Chi_Minh\n" STDIN);
    cr_assert_str_eq(canh_tz_name(cfg->inputs[0].tz), "Asia/Ho_Chi_Minh");
}

Test(config, unknown_time_zones_name_key_and_line)
{
    cr_assert_str_eq(one_error("workers: 2\ntimezone: Asia/Hanoi\n" STDIN),
                     "cfg.yml:2: timezone: unknown time zone 'Asia/Hanoi': no such zone in "
                     "/usr/share/zoneinfo (IANA names look like Asia/Ho_Chi_Minh, Europe/Berlin "
                     "or UTC)");
    cr_assert_str_eq(one_error(STDIN "    timezone: europe/berlin\n"),
                     "cfg.yml:3: inputs[0].timezone: unknown time zone 'europe/berlin' "
                     "(did you mean 'Europe/Berlin'?)");
    cr_assert_str_eq(one_error(STDIN "    timezone: ../../etc/passwd\n"),
                     "cfg.yml:3: inputs[0].timezone: '../../etc/passwd' is not a time zone "
                     "name (IANA names look like Asia/Ho_Chi_Minh, Europe/Berlin or UTC)");
    /* a broken $TZ matters only to the inputs that would use it */
    setenv("TZ", "Nowhere/Zone", 1);
    const char *e = one_error("workers: 2\n" STDIN);
    cr_assert(strstr(e, "cfg.yml:3: inputs[0]: no 'timezone', and the machine's zone cannot be "
                        "read: TZ='Nowhere/Zone'"), "%s", e);
    cr_assert(strstr(e, "set 'timezone' in this file"), "%s", e);
    ok("timezone: UTC\n" STDIN);
}
