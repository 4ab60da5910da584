/*
 * engine/main.c -- the canh command line.
 *
 *   canh scan [-r RULES]... [-o ALERTS] [--stats STATS.json] [--suppress LIST] FILE...
 *   canh rules check [-r RULES]... [RULES]...
 *   canh rules test  [-r RULES]... [RULES]...
 *   canh explain [-r RULES]... [--rule ID]... [--json] [LINE]...
 *
 * `scan` runs the pipeline (pipeline.c): this thread reads, worker threads
 * parse and match and write one JSON alert per line, in input order. Exit
 * status: 0 done, 1 some input or the output failed (the rest was still
 * scanned), 2 bad usage or rules that cannot be loaded at all.
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "canh.h"
#include "config.h"
#include "explain.h"
#include "input/input.h"
#include "input/kafka.h"
#include "load.h"
#include "pipeline.h"
#include "run.h"
#include "stats.h"
#include "text.h"
#include "input/tls.h"
#include "../parsers/parse.h"
#include "../sinks/alert.h"
#include "../sinks/kafka.h"

#define EXIT_INPUT 1
#define EXIT_USAGE 2
#define MAX_RULE_PATHS 64
#define MAX_HITS 4096
#define MAX_KAFKA_PROPS 64
#define SCAN_SPOOL "/var/lib/canh/spool-scan"

static const char usage_text[] =
    "usage: canh scan [-r RULES]... [-o ALERTS] [--stats STATS.json] [-j N] [--suppress LIST]\n"
    "                 [--threat-level LEVEL] [--matched]\n"
    "                 [--kafka BROKERS [--topic T] [--spool DIR] [-X KEY=VALUE]...] FILE...\n"
    "       canh rules check [-r RULES]... [RULES]...\n"
    "       canh rules test  [-r RULES]... [RULES]...\n"
    "       canh explain [-r RULES]... [--dataset NAME] [--rule ID]... [--json] [LINE]...\n"
    "       canh run -c canh.yml [--check]\n"
    "       canh stats [--threat-level LEVEL] STATS.jsonl\n"
    "       canh --help | --version\n";

static const char help_text[] =
    "canh -- a SIEM/SOC detection engine: Sigma rules on logs, through Hyperscan.\n"
    "\n"
    "Commands:\n"
    "  scan FILE...        read log files ('-' = stdin), write one JSON alert per\n"
    "                      line, print a severity summary on stderr\n"
    "  rules check         load and compile the rules; list every refused rule as\n"
    "                      FILE:LINE: RULE-ID: REASON, and each Sigma filter with\n"
    "                      the rules it touches (exit 0 only if no problem)\n"
    "  rules test          run every rule's own samples (canh.tests.match/nomatch),\n"
    "                      through the Sigma filters, and the filters' samples\n"
    "  explain [LINE]...   for each log line (the arguments, else stdin): its\n"
    "                      datasets and every decoded field, each rule that fired\n"
    "                      with the selection, field and value that matched, and\n"
    "                      for each --rule that did not fire, which part of its\n"
    "                      condition failed and why\n"
    "  run -c FILE         the daemon: syslog over UDP, TCP and TLS, followed files,\n"
    "                      stdin and Kafka topics in; alerts to a file and Kafka\n"
    "                      (docs/config.md);\n"
    "                      SIGTERM/SIGINT stop it after processing everything accepted;\n"
    "                      SIGHUP reloads the rules and reopens the alerts and stats\n"
    "                      files, SIGUSR1 reopens the files (logrotate)\n"
    "  run -c FILE --check read the configuration and its rules, report every\n"
    "                      problem, exit\n"
    "  stats FILE          the newest record of a running canh's stats file\n"
    "                      (outputs.stats.path), or a canh scan --stats file, as\n"
    "                      the SOC reports it\n"
    "\n"
    "Options:\n"
    "  -r, --rules PATH    a rule file or folder (recursive); repeatable;\n"
    "                      default: the shipped rules/ folder\n"
    "  -o, --output FILE   alerts go here (default: stdout)\n"
    "      --stats FILE    write the counts as JSON (events, parse_errors, alerts,\n"
    "                      threats, by_level, by_rule, by_host)\n"
    "      --fieldmap FILE Sigma field mapping (default: conf/fieldmap.yml)\n"
    "      --fold-legacy-vietnamese\n"
    "                      case-insensitive matching also takes the look-alikes old\n"
    "                      Vietnamese fonts leave, U+01A3/U+01A2 (ƣ/Ƣ), for ư\n"
    "      --pcre2-match-limit N\n"
    "                      backtracking steps a PCRE2 run of a regex may take\n"
    "                      (default 100000; rules.pcre2_match_limit): a run that\n"
    "                      reaches it does not match, counted per rule\n"
    "      --suppress FILE a suppression list (a YAML list of entries, or a canh.yml\n"
    "                      with a 'suppress:' key): the alerts it names are counted\n"
    "                      by rule (summary, --stats) but not written\n"
    "      --var NAME=VALUE\n"
    "                      a network rule variable ($HOME_NET, $HTTP_PORTS ...;\n"
    "                      network.vars in canh.yml), e.g. --var HOME_NET=[10.0.0.0/8]\n"
    "      --midstream     pick up TCP connections a capture holds without their\n"
    "                      handshake (reassemble and parse them); by default, as in\n"
    "                      Suricata, their packets only go to packet rules\n"
    "      --cache DIR     keep compiled Hyperscan databases in DIR and reuse them\n"
    "                      while the rules are unchanged (faster start)\n"
    "      --dataset NAME  mark every event as coming from NAME (e.g. proxy, zeek)\n"
    "                      so rules for that log source see them; repeatable\n"
    "      --kafka BROKERS send the alerts to Kafka (bootstrap servers host:port,...)\n"
    "                      through an on-disk spool: none is lost; with --kafka,\n"
    "                      alerts go to stdout only if -o - is given\n"
    "      --topic T       the alerts topic (default canh-alerts)\n"
    "      --spool DIR     the spool folder (default " SCAN_SPOOL ");\n"
    "                      alerts Kafka has not confirmed wait there for the next run\n"
    "  -X KEY=VALUE        a librdkafka producer setting (TLS, SASL ...); repeatable\n"
    "      --threat-level LEVEL\n"
    "                      alerts of LEVEL and above are the threats of the\n"
    "                      summary's \"N threats detected\" (informational, low,\n"
    "                      medium, high, critical; default medium); every level\n"
    "                      is still counted in by_level\n"
    "      --matched       scan: each alert also carries canh.matched, the\n"
    "                      selection, field and value of every test that made\n"
    "                      its rule fire\n"
    "      --rule ID       explain: also explain this rule (id or title) when it\n"
    "                      does not fire; repeatable\n"
    "      --json          explain: one JSON object per event instead of text\n"
    "  -j, --jobs N        worker threads for scan (default 1); the alerts and\n"
    "                      counts are the same for any N, in the same order\n"
    "      --year YYYY     year for RFC 3164 stamps (default: inferred from the\n"
    "                      file's modification time)\n"
    "      --timezone ZONE IANA time zone of stamps that carry none (RFC 3164,\n"
    "                      ISO 8601 without an offset), e.g. Asia/Ho_Chi_Minh;\n"
    "                      default: the machine's ($TZ, else /etc/localtime)\n"
    "  -q, --quiet         nothing on stderr but errors: no summary, no parse\n"
    "                      errors (still counted in --stats)\n"
    "  -v, --verbose       list refused rules while scanning\n"
    "  -h, --help          this text\n"
    "  -V, --version       version\n"
    "\n"
    "Exit status: 0 done; 1 an input or the output failed (the rest was still\n"
    "scanned), or Kafka did not confirm every alert within 30 s (the rest wait in\n"
    "the spool); 2 bad usage or rules that cannot be loaded.\n"
    "Files: rules/ and conf/ are found under $CANH_HOME, else next to build/.\n";

typedef struct opts {
    const char *rule_paths[MAX_RULE_PATHS];
    size_t nrule_paths;
    const char *output;
    const char *stats_path;
    const char *fieldmap;
    const char *cache_dir;
    const char *suppress;
    uint64_t datasets;
    int year;
    const char *timezone;
    int jobs;
    canh_level_t threat_level;   /* CANH_LEVEL_NONE: not given */
    int quiet;
    int verbose;
    int fold_legacy_vi;          /* --fold-legacy-vietnamese */
    int pcre2_match_limit;       /* --pcre2-match-limit; 0: the default */
    int pcre2_depth_limit;       /* canh.yml only */
    int matched;                 /* scan --matched */
    int midstream;               /* scan --midstream */
    const char *vars[64];        /* scan --var NAME=VALUE (network rule variables) */
    size_t nvars;
    const canh_nids_vars_t *nids_vars;   /* network rule variables (canh.yml); NULL: defaults
                                            (or --var's) */
    const char *explain_rules[MAX_RULE_PATHS];   /* explain --rule */
    size_t nexplain_rules;
    int json;                    /* explain --json */
    const char *kafka, *topic, *spool;
    const char *kprops[2 * MAX_KAFKA_PROPS];    /* key, value ... */
    size_t nkprops;
    char kprop_buf[MAX_KAFKA_PROPS][512];
} opts_t;

static double mono_s(void)
{
    return (double)canh_mono_ns() / 1e9;
}

static int parse_opts(int argc, char **argv, opts_t *o)
{
    static const struct option longopts[] = {
        { "rules", required_argument, NULL, 'r' },
        { "output", required_argument, NULL, 'o' },
        { "stats", required_argument, NULL, 'S' },
        { "fieldmap", required_argument, NULL, 'F' },
        { "cache", required_argument, NULL, 'K' },
        { "suppress", required_argument, NULL, 'U' },
        { "dataset", required_argument, NULL, 'D' },
        { "year", required_argument, NULL, 'Y' },
        { "timezone", required_argument, NULL, 'Z' },
        { "jobs", required_argument, NULL, 'j' },
        { "quiet", no_argument, NULL, 'q' },
        { "verbose", no_argument, NULL, 'v' },
        { "kafka", required_argument, NULL, 'k' },
        { "topic", required_argument, NULL, 't' },
        { "spool", required_argument, NULL, 's' },
        { "threat-level", required_argument, NULL, 'T' },
        { "fold-legacy-vietnamese", no_argument, NULL, 'L' },
        { "pcre2-match-limit", required_argument, NULL, 'P' },
        { "matched", no_argument, NULL, 'M' },
        { "midstream", no_argument, NULL, 'm' },
        { "var", required_argument, NULL, 'V' },
        { "rule", required_argument, NULL, 'R' },
        { "json", no_argument, NULL, 'J' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "r:o:j:X:qvh", longopts, NULL)) != -1) {
        switch (c) {
        case 'r':
            if (o->nrule_paths == MAX_RULE_PATHS) {
                fprintf(stderr, "canh: too many -r options (at most %d)\n", MAX_RULE_PATHS);
                return -1;
            }
            o->rule_paths[o->nrule_paths++] = optarg;
            break;
        case 'o': o->output = optarg; break;
        case 'S': o->stats_path = optarg; break;
        case 'F': o->fieldmap = optarg; break;
        case 'K': o->cache_dir = optarg; break;
        case 'U': o->suppress = optarg; break;
        case 'L': o->fold_legacy_vi = 1; break;
        case 'm': o->midstream = 1; break;
        case 'V':
            if (o->nvars == CANH_ARRAY_LEN(o->vars) || !strchr(optarg, '=')) {
                fprintf(stderr, "canh: --var '%s': give NAME=VALUE (at most %zu)\n",
                        canh_esc(optarg), CANH_ARRAY_LEN(o->vars));
                return -1;
            }
            o->vars[o->nvars++] = optarg;
            break;
        case 'P': {
            char *end;
            long v = strtol(optarg, &end, 10);
            if (*end || end == optarg || v < 1000 || v > 100000000) {
                fprintf(stderr, "canh: --pcre2-match-limit '%s': give a number from 1000 to "
                                "100000000\n", optarg);
                return -1;
            }
            o->pcre2_match_limit = (int)v;
            break;
        }
        case 'D': {
            int id = canh_dataset_lookup(optarg, strlen(optarg));
            if (id < 0)
                id = canh_dataset_register(optarg);
            if (id < 0) {
                fprintf(stderr, "canh: --dataset %s: too many datasets\n", canh_esc(optarg));
                return -1;
            }
            o->datasets |= CANH_DS_BIT(id);
            break;
        }
        case 'Y': {
            char *end;
            long y = strtol(optarg, &end, 10);
            if (*end || y < 1970 || y > 9999) {
                fprintf(stderr, "canh: --year '%s': give a year such as 2026\n", canh_esc(optarg));
                return -1;
            }
            o->year = (int)y;
            break;
        }
        case 'Z': o->timezone = optarg; break;
        case 'j': {
            char *end;
            long j = strtol(optarg, &end, 10);
            if (*end || j < 1 || j > 256) {
                fprintf(stderr, "canh: -j '%s': give a number of worker threads from 1 to 256\n",
                        canh_esc(optarg));
                return -1;
            }
            o->jobs = (int)j;
            break;
        }
        case 'T':
            if ((o->threat_level = canh_level_parse(optarg)) == CANH_LEVEL_NONE) {
                fprintf(stderr, "canh: --threat-level '%s': give informational, low, medium, "
                        "high or critical\n", canh_esc(optarg));
                return -1;
            }
            break;
        case 'k': o->kafka = optarg; break;
        case 't': o->topic = optarg; break;
        case 's': o->spool = optarg; break;
        case 'X': {
            char *eq = strchr(optarg, '=');
            size_t n = o->nkprops / 2;
            if (!eq || eq == optarg || n == MAX_KAFKA_PROPS || strlen(optarg) >= 512) {
                fprintf(stderr, "canh: -X '%s': give a librdkafka setting as KEY=VALUE\n",
                        canh_esc(optarg));
                return -1;
            }
            char *b = o->kprop_buf[n];
            strcpy(b, optarg);
            b[eq - optarg] = '\0';
            o->kprops[o->nkprops++] = b;
            o->kprops[o->nkprops++] = b + (eq - optarg) + 1;
            break;
        }
        case 'q': o->quiet = 1; break;
        case 'v': o->verbose = 1; break;
        case 'M': o->matched = 1; break;
        case 'J': o->json = 1; break;
        case 'R':
            if (o->nexplain_rules == MAX_RULE_PATHS) {
                fprintf(stderr, "canh: too many --rule options (at most %d)\n", MAX_RULE_PATHS);
                return -1;
            }
            o->explain_rules[o->nexplain_rules++] = optarg;
            break;
        case 'h': fputs(help_text, stdout); exit(0);
        case '?':
        default:
            if (optopt)
                fprintf(stderr, "canh: option -%c needs a value or is unknown\n", optopt);
            else
                fprintf(stderr, "canh: unknown option '%s'\n", canh_esc(argv[optind - 1]));
            fputs(usage_text, stderr);
            return -1;
        }
    }
    return optind;
}

/* Fills in the shipped rules and field map when none were given. */
static void default_paths(opts_t *o, char *rules_buf, char *fm_buf, size_t n)
{
    if (!o->nrule_paths) {
        snprintf(rules_buf, n, "%s/rules", canh_home());
        o->rule_paths[o->nrule_paths++] = rules_buf;
    }
    if (!o->fieldmap) {
        snprintf(fm_buf, n, "%s/conf/fieldmap.yml", canh_home());
        o->fieldmap = fm_buf;
    }
}

typedef struct refuse_ctx {
    FILE *out;        /* NULL: only count */
    size_t count;
} refuse_ctx_t;

static void on_refuse(void *ud, const char *file, int line, const char *rule_id, const char *reason)
{
    refuse_ctx_t *rc = ud;
    rc->count++;
    if (rc->out)
        fprintf(rc->out, "%s:%d: %s: %s\n", canh_esc(file), line,
                rule_id ? canh_esc(rule_id) : "-", canh_esc(reason));
}

static int load(opts_t *o, refuse_ctx_t *rctx, canh_load_result_t *lr)
{
    char err[512];
    canh_text_set_legacy_vi(o->fold_legacy_vi);   /* before any rule is read, any worker starts */
    canh_match_set_pcre2_limits((uint32_t)o->pcre2_match_limit, (uint32_t)o->pcre2_depth_limit);
    canh_nids_vars_t *vars = NULL;
    if (o->nvars) {
        if (!(vars = canh_nids_vars_default())) {
            fprintf(stderr, "canh: out of memory\n");
            return -1;
        }
        for (size_t i = 0; i < o->nvars; i++) {
            char name[128];
            const char *eq = strchr(o->vars[i], '=');
            size_t nl = (size_t)(eq - o->vars[i]);
            if (*o->vars[i] == '$')   /* --var $HOME_NET=... as rules write it */
                nl--;
            snprintf(name, sizeof(name), "%.*s", (int)nl, o->vars[i] + (*o->vars[i] == '$'));
            if (canh_nids_vars_set(vars, name, eq + 1, err, sizeof(err)) != CANH_OK) {
                fprintf(stderr, "canh: --var %s: %s\n", canh_esc(o->vars[i]), canh_esc(err));
                canh_nids_vars_free(vars);
                return -1;
            }
        }
    }
    int rc = canh_load_rules_net(o->rule_paths, o->nrule_paths, o->fieldmap, o->cache_dir,
                                 vars ? vars : o->nids_vars, on_refuse, rctx, lr, err,
                                 sizeof(err));
    canh_nids_vars_free(vars);
    if (rc != CANH_OK) {
        fprintf(stderr, "canh: %s\n", canh_esc(err));
        return -1;
    }
    return 0;
}

/* Compiles the network rules the load found (lr->nids, emptied); NULL
 * when there are none, or on an error (said on stderr, *failed set).
 * Rules refused at compile go to on_refuse and are counted in
 * lr->nids_refused. */
static canh_nids_t *build_nids(const opts_t *o, refuse_ctx_t *rctx, canh_load_result_t *lr,
                               int *failed)
{
    *failed = 0;
    if (!lr->nids.n)
        return NULL;
    char err[512];
    canh_nids_t *n = NULL;
    canh_nids_opts_t no = { .cache_dir = o->cache_dir,
                            .pcre2_match_limit = (uint32_t)o->pcre2_match_limit,
                            .pcre2_depth_limit = (uint32_t)o->pcre2_depth_limit };
    size_t before = rctx->count;
    if (canh_nids_build(&n, &lr->nids, &no, on_refuse, rctx, err, sizeof(err)) != CANH_OK) {
        fprintf(stderr, "canh: network rules: %s\n", canh_esc(err));
        *failed = 1;
        return NULL;
    }
    size_t refused = rctx->count - before;
    lr->nids_refused += refused;
    lr->nids_loaded -= refused < lr->nids_loaded ? refused : lr->nids_loaded;
    return n;
}

/* Problems (always) and notes (unless -q) of a suppression list, on stderr. */
static void on_suppress_msg(void *ud, int error, const char *text)
{
    const opts_t *o = ud;
    if (error || !o->quiet)
        fprintf(stderr, "canh: %s%s\n", error ? "" : "note: ", canh_esc(text));
}

/* The zone of stamps without one (--timezone, else the machine's), before
 * anything is read; NULL after saying why on stderr. */
static canh_tz_t *load_zone(const opts_t *o, const char *cmd)
{
    canh_tz_t *tz = NULL;
    char tzerr[512];
    if (o->timezone ? canh_tz_load(&tz, o->timezone, tzerr, sizeof(tzerr))
                    : canh_tz_load_local(&tz, tzerr, sizeof(tzerr))) {
        if (o->timezone)
            fprintf(stderr, "%s: --timezone: %s\n", cmd, canh_esc(tzerr));
        else
            fprintf(stderr, "%s: %s; give the zone with --timezone NAME (such as "
                    "Asia/Ho_Chi_Minh)\n", cmd, canh_esc(tzerr));
        return NULL;
    }
    return tz;
}

/* ---- scan ---------------------------------------------------------------- */

static int cmd_scan_zoned(opts_t *o, int npaths, char **paths, const canh_tz_t *tz);

static int cmd_scan(int argc, char **argv)
{
    opts_t o = { 0 };
    char rules_buf[4096], fm_buf[4096];
    int first = parse_opts(argc, argv, &o);
    if (first < 0)
        return EXIT_USAGE;
    if (o.nexplain_rules || o.json) {
        fprintf(stderr, "canh scan: --rule and --json go with canh explain\n");
        return EXIT_USAGE;
    }
    if (first >= argc) {
        fprintf(stderr, "canh scan: no input files (give FILE... or '-' for stdin)\n");
        fputs(usage_text, stderr);
        return EXIT_USAGE;
    }
    default_paths(&o, rules_buf, fm_buf, sizeof(rules_buf));
    canh_tz_t *tz = load_zone(&o, "canh scan");
    if (!tz)
        return EXIT_USAGE;
    int status = cmd_scan_zoned(&o, argc - first, argv + first, tz);
    canh_tz_free(tz);
    return status;
}

static int cmd_scan_zoned(opts_t *op, int npaths, char **paths, const canh_tz_t *tz)
{
    opts_t o = *op;
    double t0 = mono_s();
    refuse_ctx_t rctx = { o.verbose ? stderr : NULL, 0 };
    canh_load_result_t lr;
    if (load(&o, &rctx, &lr) < 0)
        return EXIT_USAGE;
    if (!o.quiet)
        fprintf(stderr, "canh: %zu rules loaded, %zu refused%s (%.2f s)\n", lr.loaded,
                lr.refused, lr.refused && !o.verbose ? " (see 'canh rules check')" : "",
                mono_s() - t0);
    if (!o.quiet && lr.nfilters + lr.filter_problems)
        fprintf(stderr, "canh: %zu Sigma filter%s applied, %zu filter problem%s%s\n",
                lr.nfilters, lr.nfilters == 1 ? "" : "s", lr.filter_problems,
                lr.filter_problems == 1 ? "" : "s",
                lr.filter_problems && !o.verbose ? " (see 'canh rules check')" : "");
    int nids_failed;
    canh_nids_t *nids = build_nids(&o, &rctx, &lr, &nids_failed);
    if (nids_failed) {
        canh_load_result_free(&lr);
        return EXIT_USAGE;
    }
    if (!o.quiet && (lr.nids_loaded || lr.nids_refused))
        fprintf(stderr, "canh: %zu network rules loaded, %zu refused%s\n", lr.nids_loaded,
                lr.nids_refused, lr.nids_refused && !o.verbose ? " (see 'canh rules check')"
                : "");
    if (lr.loaded == 0 && !nids) {
        fprintf(stderr, "canh: no rule could be loaded from the given paths; nothing to do\n");
        canh_nids_free(nids);
        canh_load_result_free(&lr);
        return EXIT_USAGE;
    }

    canh_stats_t stats;
    char err[512];
    if (o.suppress) {
        if (canh_load_suppress(&lr, o.suppress, canh_now_ms(), on_suppress_msg, &o, err,
                               sizeof(err)) != CANH_OK) {
            fprintf(stderr, "canh: --suppress: %s\n", canh_esc(err));
            canh_nids_free(nids);
            canh_load_result_free(&lr);
            return EXIT_USAGE;
        }
        if (!o.quiet)
            fprintf(stderr, "canh: suppression list %s: %zu entries, %zu in force\n",
                    canh_esc(o.suppress), canh_suppress_entries(lr.suppress),
                    canh_suppress_active(lr.suppress));
    }
    int status = 0;
    canh_stats_init(&stats);
    if (o.threat_level)
        stats.threat_level = o.threat_level;
    FILE *out = o.kafka && !o.output ? NULL : stdout;
    if (o.output && strcmp(o.output, "-") != 0) {
        int fd = canh_open_output(o.output, 0, 0600);   /* alerts carry whole log lines */
        out = fd >= 0 ? fdopen(fd, "w") : NULL;
        if (!out) {
            fprintf(stderr, "canh: cannot write alerts to '%s': %s\n", canh_esc(o.output),
                    canh_open_strerror(errno));
            canh_stats_free(&stats);
            canh_nids_free(nids);
            canh_load_result_free(&lr);
            return EXIT_USAGE;
        }
    }
    canh_kafka_sink_t *ksink = NULL;
    if (o.kafka) {
        canh_kafka_sink_opts_t ko = {
            .brokers = o.kafka, .topic = o.topic ? o.topic : "canh-alerts",
            .props = o.kprops, .nprops = o.nkprops, .spool_dir = o.spool ? o.spool : SCAN_SPOOL,
            .spool_max_bytes = 1ull << 30, .fsync_interval_ms = 1000,
            .message_timeout_ms = 30000, .stop_timeout_ms = 30000,
        };
        if (canh_kafka_sink_open(&ksink, &ko, err, sizeof(err)) != CANH_OK) {
            fprintf(stderr, "canh: --kafka: %s\n", canh_esc(err));
            if (out && out != stdout)
                fclose(out);
            canh_nids_free(nids);
            canh_load_result_free(&lr);
            return EXIT_USAGE;
        }
    } else if (o.topic || o.spool || o.nkprops) {
        fprintf(stderr, "canh: --topic, --spool and -X go with --kafka BROKERS\n");
        return EXIT_USAGE;
    }

    char out_name[4200];   /* for the pipeline's messages */
    snprintf(out_name, sizeof(out_name), "alerts file %s",
             out == stdout ? "(standard output)" : o.output ? o.output : "-");
    canh_scan_opts_t so = {
        .rules = lr.rules, .suppress = lr.suppress, .paths = (const char *const *)paths,
        .npaths = (size_t)npaths, .workers = o.jobs, .year = o.year, .tz = tz,
        .datasets = o.datasets, .out = out, .show_parse_errors = o.quiet ? 0 : 10,
        .out_name = out_name,
        .sink = ksink ? canh_kafka_sink_write : NULL, .sink_ud = ksink,
        .matched = o.matched, .nids = nids, .midstream = o.midstream,
    };
    double t1 = mono_s();
    int rc = canh_pipeline_scan(&so, &stats, err, sizeof(err));
    stats.seconds = mono_s() - t1;
    if (rc == CANH_ENOMEM) {
        fprintf(stderr, "canh: %s\n", canh_esc(err));
        status = EXIT_INPUT;
    } else if (rc != CANH_OK) {
        status = EXIT_INPUT;
    }
    if (out && (fflush(out) != 0 || ferror(out))) {
        fprintf(stderr, "canh: cannot write alerts: %s\n", strerror(errno));
        status = EXIT_INPUT;
    }
    if (out && out != stdout)
        fclose(out);
    if (ksink) {
        canh_kafka_counts_t kc;
        uint64_t left = canh_kafka_sink_close(ksink, &kc);
        if (!o.quiet)
            fprintf(stderr, "canh: kafka: %llu alerts delivered to %s%s\n",
                    (unsigned long long)kc.delivered, canh_esc(o.topic ? o.topic : "canh-alerts"),
                    kc.replayed_at_start ? " (with those left in the spool by an earlier run)"
                                         : "");
        if (kc.not_spooled)
            status = EXIT_INPUT;   /* said by the sink */
        if (left) {
            fprintf(stderr, "canh: kafka: %llu alerts not confirmed within 30 s wait in the "
                    "spool %s; the next canh scan with this spool sends them first\n",
                    (unsigned long long)left, canh_esc(o.spool ? o.spool : SCAN_SPOOL));
            status = EXIT_INPUT;
        }
    }

    if (o.stats_path) {
        int fd = canh_open_output(o.stats_path, 0, 0600);
        FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
        if (!f || canh_stats_write_json(&stats, f) != CANH_OK) {
            fprintf(stderr, "canh: cannot write stats to '%s': %s\n", canh_esc(o.stats_path),
                    canh_open_strerror(errno));
            status = EXIT_INPUT;
        }
        if (f && fclose(f) != 0)
            status = EXIT_INPUT;
    }
    if (!o.quiet)
        canh_stats_summary(&stats, stderr);

    canh_stats_free(&stats);
    canh_nids_free(nids);
    canh_load_result_free(&lr);
    return status;
}

/* ---- rules check / rules test --------------------------------------------- */

typedef struct rules_cmd {
    opts_t o;
    char rules_buf[4096], fm_buf[4096];
    refuse_ctx_t rctx;
    canh_load_result_t lr;
} rules_cmd_t;

/* Options of a `rules` command, then the load; rule paths are given with
 * -r or as arguments (`canh rules check rules/`). Refusals go to
 * `refusals`. Returns 0, or an exit status. */
static int rules_cmd_start(rules_cmd_t *c, int argc, char **argv, const char *name,
                           FILE *refusals)
{
    memset(c, 0, sizeof(*c));
    int first = parse_opts(argc, argv, &c->o);
    if (first < 0)
        return EXIT_USAGE;
    for (int i = first; i < argc; i++) {
        if (c->o.nrule_paths == MAX_RULE_PATHS) {
            fprintf(stderr, "canh rules %s: too many rule paths (at most %d)\n", name,
                    MAX_RULE_PATHS);
            return EXIT_USAGE;
        }
        c->o.rule_paths[c->o.nrule_paths++] = argv[i];
    }
    default_paths(&c->o, c->rules_buf, c->fm_buf, sizeof(c->rules_buf));
    c->rctx.out = refusals;
    return load(&c->o, &c->rctx, &c->lr) < 0 ? EXIT_USAGE : 0;
}

/* `rules check`: each Sigma filter, and the rules it was applied to. */
static void print_filters(const canh_load_result_t *lr)
{
    if (!lr->nfilters && !lr->filter_problems)
        return;
    printf("%zu Sigma filter%s loaded, %zu filter problem%s\n", lr->nfilters,
           lr->nfilters == 1 ? "" : "s", lr->filter_problems,
           lr->filter_problems == 1 ? "" : "s");
    for (size_t i = 0; i < lr->nfilters; i++) {
        const canh_filter_t *f = lr->filters[i];
        printf("%s:%d: filter %s \"%s\" (%s) applied to %zu rule%s%s\n", canh_esc(f->file),
               f->line, canh_esc(f->id), canh_esc(f->title), canh_esc(f->condition),
               f->napplied, f->napplied == 1 ? "" : "s",
               f->napplied ? ":" : "");
        for (size_t k = 0; k < f->napplied; k++) {
            const canh_rule_t *r = NULL;
            for (uint32_t j = 0; j < canh_ruleset_size(lr->rules) && !r; j++)
                if (!strcmp(canh_ruleset_rule(lr->rules, j)->id, f->applied[k]))
                    r = canh_ruleset_rule(lr->rules, j);
            printf("    %s  %s\n", canh_esc(f->applied[k]),
                   r ? canh_esc(r->title) : "(refused when compiled)");
        }
    }
}

static int cmd_rules_check(int argc, char **argv)
{
    static rules_cmd_t c;
    int status = rules_cmd_start(&c, argc, argv, "check", stdout);
    if (status)
        return status;
    canh_load_result_t lr = c.lr;
    canh_ruleset_info_t info;
    canh_ruleset_info(lr.rules, &info);
    printf("%zu rules loaded, %zu refused\n", lr.loaded, lr.refused);
    printf("%zu patterns in %zu Hyperscan databases: %zu exact, %zu prefiltered (PCRE2 "
           "confirms), %zu PCRE2 only; %zu other tests; %zu rules evaluated on every event\n",
           info.hs_exact + info.hs_prefilter + info.pcre_only, info.databases, info.hs_exact,
           info.hs_prefilter, info.pcre_only, info.direct, info.always_eval);
    if (c.o.cache_dir)
        printf("%zu of %zu databases loaded from the cache in %s; %zu cache files refused "
               "(damaged, or made for other rules) and compiled again\n", info.cache_hits,
               info.databases, canh_esc(c.o.cache_dir), info.cache_refused);
    /* network rules are compiled too: a pattern Hyperscan refuses is a refusal */
    int nids_failed;
    canh_nids_t *nids = build_nids(&c.o, &c.rctx, &lr, &nids_failed);
    if (lr.nids_loaded || lr.nids_refused)
        printf("%zu network rules loaded, %zu refused\n", lr.nids_loaded, lr.nids_refused);
    if (nids) {
        canh_nids_info_t ni;
        canh_nids_info(nids, &ni);
        printf("%zu fast patterns in %zu Hyperscan databases; %zu network rules evaluated on "
               "their header alone%s\n", ni.patterns, ni.databases, ni.always,
               c.o.cache_dir ? "" : " (--cache DIR keeps the compiled databases)");
        if (c.o.cache_dir)
            printf("%zu of %zu network databases loaded from the cache; %zu cache files refused "
                   "and compiled again\n", ni.cache_hits, ni.databases, ni.cache_refused);
    }
    print_filters(&lr);
    status = lr.refused || lr.nids_refused || lr.filter_problems || nids_failed ? 1 : 0;
    canh_nids_free(nids);
    canh_load_result_free(&lr);
    return status;
}

typedef struct sample_ctx {
    canh_matcher_t *m;
    const uint32_t *want;       /* rule indexes, ascending */
    size_t nwant;
    int hit;
    uint32_t hits[MAX_HITS];
    const canh_ruleset_t *rs;   /* explain: report each event here (canh explain's words) */
    canh_buf_t *explain;
    uint64_t events;
} sample_ctx_t;

static int on_sample_event(void *ud, canh_event_t *ev)
{
    sample_ctx_t *c = ud;
    int n = canh_matcher_match(c->m, ev, c->hits, MAX_HITS);
    for (int i = 0; i < n && i < MAX_HITS; i++)
        for (size_t k = 0; k < c->nwant; k++)
            if (c->hits[i] == c->want[k])
                c->hit = 1;
    if (c->explain) {
        canh_explain_opts_t eo = { .asked = c->want, .nasked = c->nwant };
        canh_explain_counts_t counts = { 0 };
        canh_explain_event(c->m, c->rs, ev, ++c->events, &eo, c->explain, &counts);
    }
    return 0;
}

/* Feeds a sample (one or more lines) to a fresh parser; 1 if one of the
 * rules matched. With explain, each event's report (as canh explain
 * prints it) is appended there. */
static int run_sample_ex(canh_matcher_t *m, const canh_ruleset_t *rs, const uint32_t *rule_idx,
                         size_t nrules, const char *sample, canh_buf_t *explain);

static int run_sample(canh_matcher_t *m, const uint32_t *rule_idx, size_t nrules,
                      const char *sample)
{
    return run_sample_ex(m, NULL, rule_idx, nrules, sample, NULL);
}

/* Why a failed sample did (not) match, indented under it. */
static void explain_sample(canh_matcher_t *m, const canh_ruleset_t *rs, const uint32_t *rule_idx,
                           size_t nrules, const char *sample)
{
    canh_buf_t b;
    canh_buf_init(&b);
    run_sample_ex(m, rs, rule_idx, nrules, sample, &b);
    for (const char *p = b.ptr, *end = b.ptr + b.len; p && p < end;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        int len = (int)((nl ? nl : end) - p);
        if (len)
            printf("        %.*s\n", len, p);
        p += len + 1;
    }
    canh_buf_free(&b);
}

static int run_sample_ex(canh_matcher_t *m, const canh_ruleset_t *rs, const uint32_t *rule_idx,
                         size_t nrules, const char *sample, canh_buf_t *explain)
{
    canh_parse_opts_t po = { 0 };
    canh_parser_t *p = canh_parser_new(&po);
    sample_ctx_t *c = calloc(1, sizeof(*c));
    if (!p || !c) {
        canh_parser_free(p);
        free(c);
        return -1;
    }
    c->m = m;
    c->want = rule_idx;
    c->nwant = nrules;
    c->rs = rs;
    c->explain = explain;
    const char *s = sample;
    while (*s) {
        const char *nl = strchr(s, '\n');
        size_t len = nl ? (size_t)(nl - s) : strlen(s);
        if (len)
            canh_parser_feed(p, s, len, on_sample_event, c);
        s += len + (nl ? 1 : 0);
    }
    canh_parser_flush(p, on_sample_event, c);
    int hit = c->hit;
    canh_parser_free(p);
    free(c);
    return hit;
}

static void print_sample(const char *s)
{
    const char *nl = strchr(s, '\n');
    size_t len = nl ? (size_t)(nl - s) : strlen(s);
    char e[CANH_ESC_MAX];
    printf("      %s%s\n", canh_escape(s, len > 160 ? 160 : len, e, sizeof(e)),
           (nl && nl[1]) || len > 160 ? " ..." : "");
}

static int cmd_rules_test(int argc, char **argv)
{
    static rules_cmd_t c;
    int status = rules_cmd_start(&c, argc, argv, "test", stderr);
    if (status)
        return status;
    canh_load_result_t lr = c.lr;
    char err[512];
    canh_matcher_t *m = canh_matcher_new(lr.rules, err, sizeof(err));
    if (!m) {
        fprintf(stderr, "canh: %s\n", canh_esc(err));
        return EXIT_USAGE;
    }
    size_t nrules = canh_ruleset_size(lr.rules), samples = 0, failed = 0, without = 0;
    for (uint32_t i = 0; i < nrules; i++) {
        const canh_rule_t *r = canh_ruleset_rule(lr.rules, i);
        if (!r->nmatch_samples && !r->nnomatch_samples)
            without++;
        for (int want = 1; want >= 0; want--) {
            char **v = want ? r->match_samples : r->nomatch_samples;
            size_t n = want ? r->nmatch_samples : r->nnomatch_samples;
            for (size_t k = 0; k < n; k++) {
                samples++;
                int got = run_sample(m, &i, 1, v[k]);
                if (got != want) {
                    failed++;
                    printf("%s:%d: %s: %s sample %zu %s\n", canh_esc(r->file), r->line,
                           canh_esc(r->id),
                           want ? "match" : "nomatch", k + 1,
                           got < 0 ? "could not run (out of memory)"
                           : want  ? "did not match" : "matched");
                    /* a filter that excludes the rule's own example says so */
                    for (size_t f = 0; f < r->nfilters && want && got == 0; f++)
                        printf("      (the rule is filtered by %s)\n", canh_esc(r->filters[f]));
                    print_sample(v[k]);
                    if (got >= 0)   /* why, in canh explain's words */
                        explain_sample(m, lr.rules, &i, 1, v[k]);
                }
            }
        }
    }
    /* a filter's own samples, on the rules it was applied to */
    uint32_t *idx = calloc(nrules ? nrules : 1, sizeof(*idx));
    int oom = !idx;
    for (size_t i = 0; idx && i < lr.nfilters; i++) {
        const canh_filter_t *f = lr.filters[i];
        size_t ni = 0;
        for (uint32_t j = 0; j < nrules; j++)
            for (size_t k = 0; k < f->napplied; k++)
                if (!strcmp(canh_ruleset_rule(lr.rules, j)->id, f->applied[k]))
                    idx[ni++] = j;
        for (int want = 1; want >= 0; want--) {
            char **v = want ? f->match_samples : f->nomatch_samples;
            size_t n = want ? f->nmatch_samples : f->nnomatch_samples;
            for (size_t k = 0; k < n; k++) {
                samples++;
                int got = ni ? run_sample(m, idx, ni, v[k]) : 0;
                if (got != want) {
                    failed++;
                    printf("%s:%d: filter %s: %s sample %zu %s\n", canh_esc(f->file), f->line,
                           canh_esc(f->id),
                           want ? "match" : "nomatch", k + 1,
                           got < 0 ? "could not run (out of memory)"
                           : !ni   ? "cannot run: the filter touches no rule"
                           : want  ? "raised none of the rules the filter touches"
                                   : "still raised a rule the filter touches");
                    print_sample(v[k]);
                }
            }
        }
    }
    free(idx);
    printf("%zu rules, %zu samples, %zu failed; %zu rules have no samples\n", nrules, samples,
           failed, without);
    canh_matcher_free(m);
    canh_load_result_free(&lr);
    return failed || c.rctx.count || oom ? 1 : 0;
}

/* ---- explain ---------------------------------------------------------------- */

/* Refused rules, kept so that `--rule ID` of a refused rule says why. */
typedef struct explain_refusals {
    refuse_ctx_t base;
    char *ids[256], *why[256];
    size_t n;
} explain_refusals_t;

static void on_explain_refuse(void *ud, const char *file, int line, const char *rule_id,
                              const char *reason)
{
    explain_refusals_t *x = ud;
    on_refuse(&x->base, file, line, rule_id, reason);
    if (x->n < CANH_ARRAY_LEN(x->ids) && rule_id) {
        char w[1024];
        snprintf(w, sizeof(w), "%s:%d: %s", file, line, reason);
        x->ids[x->n] = strdup(rule_id);
        x->why[x->n] = strdup(w);
        if (x->ids[x->n] && x->why[x->n])
            x->n++;
    }
}

typedef struct explain_ctx {
    canh_matcher_t *m;
    const canh_ruleset_t *rs;
    canh_explain_opts_t eo;
    canh_explain_counts_t counts;
    canh_buf_t out;
    uint64_t seq;
    int failed;
} explain_ctx_t;

static int on_explain_event(void *ud, canh_event_t *ev)
{
    explain_ctx_t *c = ud;
    canh_buf_reset(&c->out);
    int rc = canh_explain_event(c->m, c->rs, ev, ++c->seq, &c->eo, &c->out, &c->counts);
    if (rc != CANH_OK || c->out.oom) {
        fprintf(stderr, "canh explain: event %llu: %s\n", (unsigned long long)c->seq,
                canh_strerror(rc != CANH_OK ? rc : CANH_ENOMEM));
        c->failed = 1;
        return 0;
    }
    fwrite(c->out.ptr, 1, c->out.len, stdout);
    return 0;
}

static void explain_line(canh_parser_t *p, explain_ctx_t *c, const char *line, size_t len)
{
    if (len && line[len - 1] == '\r')
        len--;
    if (len)
        canh_parser_feed(p, line, len, on_explain_event, c);
}

/*
 * canh explain [LINE]...: what canh decodes from each line and why each
 * rule fired, or (--rule) did not. Lines are the arguments, else stdin.
 * Exit status: 0 done; 1 an explanation disagreed with the matcher's
 * verdict (a bug: please report it) or could not be made; 2 bad usage.
 */
static int cmd_explain(int argc, char **argv)
{
    static explain_refusals_t refs;
    opts_t o = { 0 };
    char rules_buf[4096], fm_buf[4096];
    int first = parse_opts(argc, argv, &o);
    if (first < 0)
        return EXIT_USAGE;
    if (o.matched || o.output || o.stats_path || o.kafka) {
        fprintf(stderr, "canh explain: -o, --stats, --kafka and --matched go with canh scan\n");
        return EXIT_USAGE;
    }
    default_paths(&o, rules_buf, fm_buf, sizeof(rules_buf));
    refs.base.out = o.verbose ? stderr : NULL;
    canh_tz_t *tz = load_zone(&o, "canh explain");   /* stamps read as canh scan reads them */
    if (!tz)
        return EXIT_USAGE;
    canh_load_result_t lr;
    char err[512];
    canh_text_set_legacy_vi(o.fold_legacy_vi);
    if (canh_load_rules(o.rule_paths, o.nrule_paths, o.fieldmap, o.cache_dir,
                        on_explain_refuse, &refs, &lr, err, sizeof(err)) != CANH_OK) {
        fprintf(stderr, "canh: %s\n", canh_esc(err));
        canh_tz_free(tz);
        return EXIT_USAGE;
    }
    if (!o.quiet)
        fprintf(stderr, "canh: %zu rules loaded, %zu refused%s\n", lr.loaded, lr.refused,
                lr.refused && !o.verbose ? " (see 'canh rules check')" : "");
    int status = 0;
    uint32_t asked[MAX_RULE_PATHS];
    size_t nrules = canh_ruleset_size(lr.rules);
    for (size_t i = 0; i < o.nexplain_rules; i++) {
        const char *want = o.explain_rules[i];
        uint32_t k = 0;
        for (int by_title = 0; by_title < 2; by_title++) {
            for (k = 0; k < nrules; k++) {
                const canh_rule_t *r = canh_ruleset_rule(lr.rules, k);
                const char *have = by_title ? r->title : r->id;
                if (have && strcmp(have, want) == 0)
                    break;
            }
            if (k < nrules)
                break;
        }
        if (k < nrules) {
            asked[i] = k;
            continue;
        }
        const char *why = NULL;
        for (size_t j = 0; j < refs.n && !why; j++)
            if (strcmp(refs.ids[j], want) == 0)
                why = refs.why[j];
        if (why)
            fprintf(stderr, "canh explain: --rule %s: the rule was refused, so it never "
                    "fires: %s\n", canh_esc(want), canh_esc(why));
        else
            fprintf(stderr, "canh explain: --rule %s: no loaded rule has this id or title\n",
                    canh_esc(want));
        status = EXIT_USAGE;
    }
    canh_matcher_t *m = status ? NULL : canh_matcher_new(lr.rules, err, sizeof(err));
    canh_parse_opts_t po = { .default_year = o.year, .extra_datasets = o.datasets, .tz = tz };
    canh_parser_t *p = m ? canh_parser_new(&po) : NULL;
    if (!status && (!m || !p)) {
        fprintf(stderr, "canh: %s\n", m ? "out of memory for a parser" : canh_esc(err));
        status = EXIT_USAGE;
    }
    if (!status) {
        explain_ctx_t c = { .m = m, .rs = lr.rules,
                            .eo = { .asked = asked, .nasked = o.nexplain_rules, .json = o.json } };
        canh_buf_init(&c.out);
        int from_stdin = first >= argc || (argc - first == 1 && !strcmp(argv[first], "-"));
        if (from_stdin) {
            char *line = NULL;
            size_t cap = 0;
            ssize_t n;
            while ((n = getline(&line, &cap, stdin)) > 0)
                explain_line(p, &c, line, (size_t)n - (line[n - 1] == '\n'));
            free(line);
        } else {
            for (int i = first; i < argc; i++)
                explain_line(p, &c, argv[i], strlen(argv[i]));
        }
        canh_parser_flush(p, on_explain_event, &c);
        canh_buf_free(&c.out);
        if (fflush(stdout) != 0) {
            fprintf(stderr, "canh explain: cannot write: %s\n", strerror(errno));
            status = EXIT_INPUT;
        }
        if (c.counts.disagreements) {
            fprintf(stderr, "canh explain: %llu explanation%s disagree with the matcher's "
                    "verdict (marked DISAGREES); this is a bug in canh, please report it "
                    "with the line and the rule\n",
                    (unsigned long long)c.counts.disagreements,
                    c.counts.disagreements == 1 ? "" : "s");
            status = EXIT_INPUT;
        }
        if (c.failed)
            status = EXIT_INPUT;
    }
    canh_parser_free(p);
    canh_matcher_free(m);
    canh_load_result_free(&lr);
    canh_tz_free(tz);
    for (size_t j = 0; j < refs.n; j++) {
        free(refs.ids[j]);
        free(refs.why[j]);
    }
    refs.n = 0;
    return status;
}

/* ---- stats ---------------------------------------------------------------- */

static uint64_t jget(json_t *o, const char *a, const char *b)
{
    json_t *v = json_object_get(o, a);
    if (b)
        v = json_object_get(v, b);
    return json_is_integer(v) ? (uint64_t)json_integer_value(v) : 0;
}

/*
 * canh stats FILE: the newest record of a daemon's stats file
 * (outputs.stats.path), in the words of the SOC's reports. A canh scan's
 * --stats file (one record, without a time of its own) is read too: it is
 * dated by the file's modification time, when the scan wrote it.
 */
static int cmd_stats(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "threat-level", required_argument, NULL, 'T' },
        { NULL, 0, NULL, 0 },
    };
    canh_level_t tl = CANH_LEVEL_NONE;
    int opt;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        if (opt == 'T' && (tl = canh_level_parse(optarg)) != CANH_LEVEL_NONE)
            continue;
        if (opt == 'T')
            fprintf(stderr, "canh stats: --threat-level '%s': give informational, low, medium, "
                    "high or critical\n", canh_esc(optarg));
        optind = argc + 1;
        break;
    }
    if (optind != argc - 1) {
        fprintf(stderr, "usage: canh stats [--threat-level LEVEL] STATS.jsonl   (the "
                "outputs.stats.path of canh run, or the --stats file of canh scan)\n");
        return EXIT_USAGE;
    }
    const char *path = argv[optind];
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "canh stats: cannot open '%s': %s\n", canh_esc(path), strerror(errno));
        return EXIT_INPUT;
    }
    struct stat st;
    int64_t mtime_ms = fstat(fileno(f), &st) == 0
                           ? (int64_t)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000
                           : -1;
    char *line = NULL, *last = NULL;
    size_t cap = 0;
    ssize_t n;
    unsigned long long lineno = 0, lastno = 0;
    while ((n = getline(&line, &cap, f)) > 0) {
        lineno++;
        if (n > 1) {
            free(last);
            last = strdup(line);
            lastno = lineno;
        }
    }
    free(line);
    fclose(f);
    json_error_t je;
    json_t *rec = last ? json_loads(last, 0, &je) : NULL;
    free(last);
    if (!rec) {
        fprintf(stderr, "canh stats: %s:%llu: %s\n", canh_esc(path), lastno,
                lastno ? canh_esc(je.text) : "no stats record yet");
        return EXIT_INPUT;
    }
    char a[32], b[32], c[32], d[32], e[32], h[32], g[32];
    json_t *ts = json_object_get(rec, "@timestamp");
    /* a daemon's record says when and how long it has run; a scan's says
     * how many inputs it read and in how long */
    int scan = !json_object_get(rec, "uptime_s") && json_object_get(rec, "seconds");
    if (scan) {
        char when[CANH_ISO_MS_LEN + 1] = "?";
        if (mtime_ms >= 0) {
            canh_format_iso_ms(mtime_ms, when);
            when[CANH_ISO_MS_LEN] = '\0';
        }
        uint64_t files = jget(rec, "files", NULL), failed = jget(rec, "files_failed", NULL);
        printf("canh: a canh scan of %s input%s%s%s in %.2f s, written %s\n",
               canh_fmt_count(files, a), files == 1 ? "" : "s", failed ? ", unreadable: " : "",
               failed ? canh_fmt_count(failed, b) : "",
               json_number_value(json_object_get(rec, "seconds")), when);
    } else {
        printf("canh: as of %s%s (up %.0f s)\n",
               json_is_string(ts) ? canh_esc(json_string_value(ts)) : "?",
               json_is_true(json_object_get(rec, "final")) ? ", when it stopped" : "",
               json_number_value(json_object_get(rec, "uptime_s")));
    }
    printf("canh: %s events (%s parse errors)\n", canh_fmt_count(jget(rec, "events", NULL), a),
           canh_fmt_count(jget(rec, "parse_errors", NULL), b));
    /* threats from the level asked for, else the one the record was
     * counted with, else the default */
    if (tl == CANH_LEVEL_NONE) {
        json_t *rl = json_object_get(rec, "threat_level");
        tl = json_is_string(rl) ? canh_level_parse(json_string_value(rl)) : CANH_LEVEL_NONE;
    }
    if (tl == CANH_LEVEL_NONE)
        tl = CANH_THREAT_LEVEL_DEFAULT;
    uint64_t by_level[6] = { 0 };
    for (int l = CANH_LEVEL_INFORMATIONAL; l <= CANH_LEVEL_CRITICAL; l++)
        by_level[l] = jget(rec, "by_level", canh_level_name((canh_level_t)l));
    char sentence[256];
    printf("canh: %s\n", canh_threat_sentence(by_level, jget(rec, "alerts", NULL), tl, sentence,
                                              sizeof(sentence)));
    if (jget(rec, "suppressed", "total"))
        printf("canh: %s alerts suppressed by the suppression list (counted, not written)\n",
               canh_fmt_count(jget(rec, "suppressed", "total"), a));
    if (jget(rec, "pcre2_limit", "total"))
        printf("canh: %s times a rule could not decide on an event: its regex hit a PCRE2 limit "
               "(not matched by that rule; see pcre2_limit.by_rule)\n",
               canh_fmt_count(jget(rec, "pcre2_limit", "total"), a));
    if (json_is_object(json_object_get(rec, "packets")))
        printf("canh: %s packets (%s malformed, %s not inspected), %s flows, %s protocol "
               "events; TCP reassembly: %s gaps skipped, its memory cap hit %s times\n",
               canh_fmt_count(jget(rec, "packets", "frames"), a),
               canh_fmt_count(jget(rec, "packets", "malformed"), b),
               canh_fmt_count(jget(rec, "packets", "not_inspected"), c),
               canh_fmt_count(jget(rec, "packets", "flows"), d),
               canh_fmt_count(jget(rec, "packets", "protocol_events"), e),
               canh_fmt_count(jget(rec, "packets", "stream_gaps"), h),
               canh_fmt_count(jget(rec, "packets", "stream_memcap_hit"), g));
    if (scan) {
        json_decref(rec);
        return 0;
    }
    printf("  udp: %s received, %s dropped by the kernel\n",
           canh_fmt_count(jget(rec, "udp", "received"), a),
           canh_fmt_count(jget(rec, "udp", "dropped_by_kernel"), b));
    printf("  streams: %s messages, %s connections open, %s truncated, %s dropped as too long\n",
           canh_fmt_count(jget(rec, "stream", "messages"), a),
           canh_fmt_count(jget(rec, "stream", "connections_open"), b),
           canh_fmt_count(jget(rec, "stream", "truncated"), c),
           canh_fmt_count(jget(rec, "stream", "dropped_too_long"), d));
    /* tcp and tls inputs: what made room, and what was turned away */
    const char *name;
    json_t *in;
    json_object_foreach(json_object_get(rec, "inputs"), name, in) {
        json_t *cc = json_object_get(in, "connections");
        if (!json_is_object(cc))
            continue;
        printf("  input %s: %s connections accepted, %s evicted to make room, %s closed idle, "
               "%s unfinished messages cut; refused: %s (all places busy), %s "
               "(max_connections_per_address)\n", canh_esc(name),
               canh_fmt_count(jget(in, "connections", "accepted"), a),
               canh_fmt_count(jget(in, "connections", "evicted"), b),
               canh_fmt_count(jget(in, "connections", "closed_idle"), c),
               canh_fmt_count(jget(in, "connections", "cut_partial"), d),
               canh_fmt_count(jget(in, "connections", "refused_full"), e),
               canh_fmt_count(jget(in, "connections", "refused_per_address"), h));
    }
    json_decref(rec);
    return 0;
}

/* ---- run ------------------------------------------------------------------ */

static void on_config_error(void *ud, int line, const char *text)
{
    (void)line;
    ++*(size_t *)ud;
    fprintf(stderr, "%s\n", canh_esc(text));   /* already "FILE:LINE: message" */
}

/* --check: each problem of the suppression list is one problem; notes are notes. */
static void on_check_suppress_msg(void *ud, int error, const char *text)
{
    if (error)
        ++*(size_t *)ud;
    fprintf(stderr, "%s%s\n", error ? "" : "note: ", canh_esc(text));
}

/*
 * canh run -c FILE [--check]: reads the configuration and its rules. With
 * --check, reports every problem and exits; without, runs the daemon
 * (run.c) until SIGTERM or SIGINT.
 */
static int cmd_run(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "config", required_argument, NULL, 'c' },
        { "check", no_argument, NULL, 'C' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *path = NULL;
    int check = 0, c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'c': path = optarg; break;
        case 'C': check = 1; break;
        case 'h':
            puts("usage: canh run -c canh.yml [--check]\n"
                 "Reads the configuration (docs/config.md) and the rules it names. With\n"
                 "--check, reports every problem as FILE:LINE: message and exits 0 only if\n"
                 "there is none. Without, runs until SIGTERM or SIGINT, then processes\n"
                 "everything it accepted and exits 0. Inputs: udp, tcp, tls, file, stdin,\n"
                 "kafka; outputs: an alerts file, Kafka (through a spool), a stats file.");
            return 0;
        default:
            fprintf(stderr, "canh run: unknown option '%s'\nusage: canh run -c canh.yml --check\n",
                    canh_esc(argv[optind - 1]));
            return EXIT_USAGE;
        }
    }
    if (!path) {
        fprintf(stderr, "canh run: give the configuration with -c FILE (see docs/config.md)\n");
        return EXIT_USAGE;
    }
    size_t problems = 0;
    char err[512];
    canh_config_t *cfg = NULL;
    if (canh_config_load(&cfg, path, on_config_error, &problems, err, sizeof(err)) != CANH_OK) {
        if (!problems)
            fprintf(stderr, "canh: %s\n", canh_esc(err));
        fprintf(stderr, "canh run: %s: %zu problem%s\n", canh_esc(path), problems ? problems : 1,
                problems == 1 ? "" : "s");
        return EXIT_INPUT;
    }
    /* TLS inputs: the certificate, key and CA are loaded as canh run would
     * (a key that does not match its certificate is caught here too) */
    for (size_t i = 0; i < cfg->ninputs; i++) {
        const canh_config_input_t *in = &cfg->inputs[i];
        if (in->type != CANH_INPUT_TLS)
            continue;
        char terr[400];
        canh_tls_server_t *t = canh_tls_server_new(in->name, in->tls_cert, in->tls_key,
                                                   in->tls_ca, in->tls_require_client_cert,
                                                   terr, sizeof(terr));
        if (!t) {
            fprintf(stderr, "%s:%d: %s\n", canh_esc(path), in->line, canh_esc(terr));
            problems++;
        }
        canh_tls_server_free(t);
    }
    /* Kafka settings, as librdkafka will take them (nothing is contacted) */
    for (size_t i = 0; i < cfg->ninputs; i++) {
        const canh_config_input_t *in = &cfg->inputs[i];
        char kerr[400];
        if (in->type == CANH_INPUT_KAFKA && canh_kafka_in_check(in, kerr, sizeof(kerr))) {
            fprintf(stderr, "%s:%d: %s\n", canh_esc(path), in->line, canh_esc(kerr));
            problems++;
        }
        /* pcap: the BPF filter compiles (the interface is opened only by canh run) */
        if (in->type == CANH_INPUT_PCAP && in->filter &&
            canh_pcap_filter_check(in->filter, in->snaplen, kerr, sizeof(kerr)) != CANH_OK) {
            fprintf(stderr, "%s:%d: input %s: bad filter '%s': %s\n", canh_esc(path), in->line,
                    canh_esc(in->name), canh_esc(in->filter), canh_esc(kerr));
            problems++;
        }
    }
    if (cfg->outputs.kafka.brokers) {
        const canh_config_list_t *kp = &cfg->outputs.kafka.props;
        canh_kafka_sink_opts_t ko = { .brokers = cfg->outputs.kafka.brokers,
                                      .props = (const char *const *)kp->v, .nprops = kp->n,
                                      .message_timeout_ms = cfg->outputs.kafka.message_timeout_ms };
        char kerr[400];
        if (canh_kafka_sink_check(&ko, kerr, sizeof(kerr))) {
            fprintf(stderr, "%s: outputs.kafka: %s\n", canh_esc(path), canh_esc(kerr));
            problems++;
        }
    }

    /* the rules it names, as the daemon loads them */
    opts_t o = { 0 };
    char rules_buf[4096], fm_buf[4096], cache_buf[4096];
    for (size_t i = 0; i < cfg->rule_paths.n && i < MAX_RULE_PATHS; i++)
        o.rule_paths[o.nrule_paths++] = cfg->rule_paths.v[i];
    o.fieldmap = cfg->fieldmap;
    o.fold_legacy_vi = cfg->fold_legacy_vi;
    o.pcre2_match_limit = cfg->pcre2_match_limit;
    o.pcre2_depth_limit = cfg->pcre2_depth_limit;
    default_paths(&o, rules_buf, fm_buf, sizeof(rules_buf));
    /* network rule variables and classes (network.*): a bad one is a problem */
    canh_nids_vars_t *nvars = canh_load_nids_vars(cfg, err, sizeof(err));
    if (!nvars) {
        fprintf(stderr, "%s: %s\n", canh_esc(path), canh_esc(err));
        problems++;
    }
    if (check) {
        refuse_ctx_t rctx = { stderr, 0 };
        canh_load_result_t lr;
        o.nids_vars = nvars;
        int lrc = load(&o, &rctx, &lr);
        canh_nids_vars_free(nvars);
        if (lrc < 0) {
            canh_config_free(cfg);
            return EXIT_INPUT;
        }
        problems += lr.refused + lr.nids_refused + lr.filter_problems;
        /* the suppression list, as a start or a reload would read it */
        if (cfg->suppress) {
            size_t bad = 0;
            if (canh_load_suppress(&lr, cfg->suppress, canh_now_ms(), on_check_suppress_msg,
                                   &bad, err, sizeof(err)) != CANH_OK)
                problems += bad ? bad : (fprintf(stderr, "%s\n", canh_esc(err)), 1);
        }
        char net[96] = "";
        if (lr.nids_loaded || lr.nids_refused)
            snprintf(net, sizeof(net), "; %zu network rules loaded, %zu refused", lr.nids_loaded,
                     lr.nids_refused);
        printf("%s: %zu inputs, %d workers%s; %zu rules loaded, %zu refused%s; %zu problem%s\n",
               canh_esc(path), cfg->ninputs, cfg->workers, cfg->workers ? "" : " (one per core)",
               lr.loaded, lr.refused, net, problems, problems == 1 ? "" : "s");
        canh_load_result_free(&lr);
        canh_config_free(cfg);
        return problems ? EXIT_INPUT : 0;
    }
    /* the daemon: refused rules are logged and left out; anything else stops it */
    if (problems) {
        fprintf(stderr, "canh run: %s: %zu problem%s; not starting\n", canh_esc(path), problems,
                problems == 1 ? "" : "s");
        canh_nids_vars_free(nvars);
        canh_config_free(cfg);
        return EXIT_INPUT;
    }
    canh_log_level = cfg->log.level;
    if (cfg->log.target == CANH_LOG_TARGET_SYSLOG)
        canh_log_to_syslog("canh");
    /* compiled databases are kept under state_dir, so a restart or a
     * reload of unchanged rules does not recompile */
    canh_run_rules_t rr = { o.rule_paths, o.nrule_paths, o.fieldmap, NULL, cfg->suppress,
                            nvars, (uint32_t)cfg->pcre2_match_limit,
                            (uint32_t)cfg->pcre2_depth_limit };
    if (cfg->state_dir) {
        snprintf(cache_buf, sizeof(cache_buf), "%s/hs-cache", cfg->state_dir);
        rr.cache_dir = cache_buf;
    }
    canh_stats_t stats;
    canh_stats_init(&stats);
    stats.threat_level = (canh_level_t)(CANH_LEVEL_INFORMATIONAL + cfg->outputs.stats_threat_level);
    int status = 0;
    double t0 = mono_s();
    stats.files = cfg->ninputs;
    canh_text_set_legacy_vi(cfg->fold_legacy_vi);   /* before the rules load, workers start */
    canh_match_set_pcre2_limits((uint32_t)cfg->pcre2_match_limit,
                                (uint32_t)cfg->pcre2_depth_limit);
    int rc = canh_run(cfg, &rr, &stats, err, sizeof(err));
    stats.seconds = mono_s() - t0;
    if (rc != CANH_OK) {
        if (err[0])
            CANH_ERR("%s", err);
        status = EXIT_INPUT;
    }
    if (rc != CANH_EINVAL)   /* it ran */
        canh_stats_summary(&stats, stderr);
    canh_stats_free(&stats);
    canh_nids_vars_free(nvars);
    canh_config_free(cfg);
    return status;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fputs(usage_text, stderr);
        return EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) {
        fputs(help_text, stdout);
        return 0;
    }
    if (!strcmp(cmd, "-V") || !strcmp(cmd, "--version")) {
        printf("canh %s\n", CANH_VERSION);
        return 0;
    }
    if (!strcmp(cmd, "scan"))
        return cmd_scan(argc - 1, argv + 1);
    if (!strcmp(cmd, "run"))
        return cmd_run(argc - 1, argv + 1);
    if (!strcmp(cmd, "stats"))
        return cmd_stats(argc - 1, argv + 1);
    if (!strcmp(cmd, "explain"))
        return cmd_explain(argc - 1, argv + 1);
    if (!strcmp(cmd, "rules")) {
        if (argc >= 3 && !strcmp(argv[2], "check"))
            return cmd_rules_check(argc - 2, argv + 2);
        if (argc >= 3 && !strcmp(argv[2], "test"))
            return cmd_rules_test(argc - 2, argv + 2);
        fprintf(stderr, "canh rules: say 'check' or 'test'\n");
        fputs(usage_text, stderr);
        return EXIT_USAGE;
    }
    fprintf(stderr, "canh: unknown command '%s'\n", canh_esc(cmd));
    fputs(usage_text, stderr);
    return EXIT_USAGE;
}
