/*
 * engine/config.c -- canh.yml: one table of every key, a loader that walks
 * the YAML with it, and the markdown reference printed from it.
 *
 * The table (opts[] below) is the single description of the configuration:
 * a dotted path ("limits.max_message_size", "inputs[].listen"), a type, the
 * field it fills (an offset into canh_config_t, or into canh_config_input_t
 * for "inputs[]." keys), a range, a default written as text and parsed by
 * the same code as a value from the file, and one line of documentation.
 * Input keys also say which input types they belong to and which types
 * require them. A "section" (limits, outputs.stats, inputs[].tls) is any
 * prefix of a key; it needs no row of its own.
 *
 * The loader uses libyaml's document API for line numbers. It never stops
 * at the first problem: each one is recorded as "FILE:LINE: message", the
 * list is sorted by line and handed to the caller's callback, and the load
 * fails with CANH_EINVAL if there was any.
 *
 * Ownership: a canh_config_t owns all its strings; the string fields are
 * freed by walking the same table. Thread: the main thread, at start-up or
 * reload; nothing here has global mutable state.
 */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <strings.h>
#include <yaml.h>

/* ---- the table ---- */

typedef enum opt_type {
    T_BOOL,
    T_INT,       /* int; `allowed` may name a word meaning 0 ("auto") */
    T_SIZE,      /* size_t bytes; "64KiB" */
    T_DURATION,  /* int64_t milliseconds; "10s" */
    T_MODE,      /* int file permission bits, written in octal: "0600" */
    T_STRING,    /* char * */
    T_PATH,      /* char *, relative to the config file's directory */
    T_ENUM,      /* int index into `allowed` ("a|b|c") */
    T_LIST,      /* canh_config_list_t of paths (of words with F_WORDS) */
    T_MAP,       /* canh_config_list_t of key, value, key, value ... (string to string) */
    T_INPUTS,    /* the inputs list */
    T_SUPPRESS,  /* char *: the config file itself, when it has a suppression list (the
                    list, or the path of a file with it); engine/suppress.c reads it */
} opt_type_t;

#define IN_UDP   (1u << CANH_INPUT_UDP)
#define IN_TCP   (1u << CANH_INPUT_TCP)
#define IN_TLS   (1u << CANH_INPUT_TLS)
#define IN_FILE  (1u << CANH_INPUT_FILE)
#define IN_STDIN (1u << CANH_INPUT_STDIN)
#define IN_KAFKA (1u << CANH_INPUT_KAFKA)
#define IN_PCAP  (1u << CANH_INPUT_PCAP)
#define IN_NET   (IN_UDP | IN_TCP | IN_TLS)
#define IN_ALL   (IN_NET | IN_FILE | IN_STDIN | IN_KAFKA | IN_PCAP)

#define F_DASH   1u   /* path: "-" (stdout) is allowed and kept */
#define F_IDENT  2u   /* string: a name of letters, digits, '_', '-', '.' */
#define F_LISTEN 4u   /* string: host:port, checked after the input is read */
#define F_WORDS  8u   /* list: of plain strings, not paths */

typedef struct opt {
    const char *key;
    opt_type_t type;
    size_t off, size;        /* the field it fills, and its size (checked) */
    int64_t min, max;        /* int, size (bytes), duration (ms) */
    const char *def;         /* default, as it would be written; NULL = none */
    const char *defdoc;      /* what "no default" means, for the docs */
    const char *allowed;     /* enum values "a|b|c"; int: the word for 0 */
    unsigned inputs;         /* "inputs[]." keys: the types it belongs to */
    unsigned required;       /* "inputs[]." keys: the types that need it */
    unsigned flags;
    const char *doc;
} opt_t;

#define G(field) .off = offsetof(canh_config_t, field), .size = sizeof(((canh_config_t *)0)->field)
#define I(field) .off = offsetof(canh_config_input_t, field), \
                 .size = sizeof(((canh_config_input_t *)0)->field)

#define KIB 1024LL
#define MIB (1024LL * 1024)
#define SEC 1000LL
#define DAY (86400LL * 1000)

static const opt_t opts[] = {
    { .key = "workers", .type = T_INT, G(workers), .min = 1, .max = 256, .def = "auto",
      .allowed = "auto",
      .doc = "Worker threads that parse and match. `auto` (or 0): one per online core." },
    { .key = "name", .type = T_STRING, G(name),
      .defdoc = "the machine's host name",
      .doc = "This canh's name in every alert (`observer.name`; `observer.hostname` is "
             "always the host name). Alerts from files and network senders have an "
             "`event.id` that covers it, so give each canh of the province its own." },
    { .key = "state_dir", .type = T_PATH, G(state_dir), .def = "/var/lib/canh",
      .doc = "Folder where canh saves how far it has read each followed file, so a restart "
             "resumes where it stopped, and keeps compiled rules (`hs-cache/`), so a restart "
             "or reload of unchanged rules does not compile them again. Made (0700) if missing; "
             "must be writable by canh (without it, file inputs cannot start). Refused, and "
             "canh does not start, when it is a symbolic link or another user could write it "
             "(owned by a user other than root and canh's, or group or world writable). "
             "Nothing in it is opened through a symbolic link." },

    { .key = "user", .type = T_STRING, G(user),
      .defdoc = "none: canh stays the user it was started as (as root, it warns)",
      .doc = "User (a name or a number) that `canh run`, started as root, becomes once it has "
             "bound its listeners (ports below 1024 too) and read its TLS keys. It keeps no "
             "capability (a reload reads rules, never binds a port: a new `listen` needs a "
             "restart) and sets no_new_privs; its supplementary groups are the user's own (add "
             "it to `adm` to follow /var/log files; none for a number without a user entry). "
             "`state_dir`, the spool and the alerts and stats files are made owned by it; one "
             "already there that it cannot write is refused at start. Started as another user "
             "without the right to switch, canh refuses to start. See the README, *Running "
             "with least privilege*." },
    { .key = "group", .type = T_STRING, G(group),
      .defdoc = "the user's own group",
      .doc = "Group (a name or a number) canh switches to with `user`, which it requires." },

    { .key = "timezone", .type = T_STRING, G(timezone),
      .defdoc = "the machine's: `$TZ`, else `/etc/localtime`, else UTC",
      .doc = "IANA time zone (`Asia/Ho_Chi_Minh`, `Europe/Berlin`, `UTC`) of the time stamps "
             "that carry none: RFC 3164 syslog, ISO 8601 and RFC 5424 stamps without an "
             "offset, JSON `@timestamp` without one. Stamps with an offset or `Z` keep it; "
             "`@timestamp` in alerts is always UTC. A local time that occurs twice (clocks "
             "going back) is the first; one that never occurs (clocks going forward) is read "
             "with the offset before the change. The year of a year-less RFC 3164 stamp is "
             "inferred in this zone. Each input may set its own." },

    { .key = "rules.paths", .type = T_LIST, G(rule_paths),
      .defdoc = "the shipped `rules/`",
      .doc = "Sigma rule files and folders (folders are read recursively). A single path "
             "may be written without the list." },
    { .key = "rules.fieldmap", .type = T_PATH, G(fieldmap),
      .defdoc = "the shipped `conf/fieldmap.yml`",
      .doc = "The Sigma field mapping: which events each Sigma log source sees and each "
             "Sigma field's canh name." },
    { .key = "rules.fold_legacy_vietnamese", .type = T_BOOL, G(fold_legacy_vi), .def = "false",
      .doc = "Case-insensitive matching also takes the look-alike letters old Vietnamese "
             "fonts and PDF extraction leave behind, `ƣ` (U+01A3) and `Ƣ` (U+01A2), for `ư`: "
             "a rule for `Bình Phước` then matches `Bình Phƣớc`. `cased` still compares "
             "exactly. Read at start (a reload keeps the value canh started with)." },
    { .key = "rules.pcre2_match_limit", .type = T_INT, G(pcre2_match_limit), .min = 1000,
      .max = 100000000, .def = "100000",
      .doc = "Backtracking steps one PCRE2 run of a rule's regex may take (regexes Hyperscan "
             "cannot run alone: back-references, look-around). A run that reaches it cannot "
             "decide: the event is not matched by that rule, and this is counted per rule "
             "(`pcre2_limit` in the stats) and logged once per rule. Higher costs more CPU "
             "on hostile lines. Read at start." },
    { .key = "rules.pcre2_depth_limit", .type = T_INT, G(pcre2_depth_limit), .min = 100,
      .max = 10000000, .def = "5000",
      .doc = "Nesting depth of one PCRE2 run (PCRE2's interpreter; JIT-compiled regexes use "
             "their stack). Reaching it is counted like `rules.pcre2_match_limit`. Read at "
             "start." },

    { .key = "network.vars", .type = T_MAP, G(network.vars),
      .defdoc = "Suricata's: `HOME_NET` the RFC 1918 networks, `EXTERNAL_NET` `!$HOME_NET`, "
                "`HTTP_SERVERS` ... `$HOME_NET`, `HTTP_PORTS` 80, `SHELLCODE_PORTS` `!80` ...",
      .doc = "Variables of the network (Suricata) rules, name to value, as in suricata.yaml's "
             "address-groups and port-groups: `HOME_NET: \"[10.0.0.0/8,192.168.0.0/16]\"`, "
             "`HTTP_PORTS: \"[80,8080]\"` (quote values that start with `[` or `!`). A value "
             "may use other variables (`$HOME_NET`, `!$HOME_NET`). Set ones replace the "
             "defaults; the rest keep theirs." },
    { .key = "network.midstream", .type = T_BOOL, G(network.midstream), .def = "false",
      .doc = "Pick up TCP connections first seen without their handshake (canh started "
             "while they were open, a capture taken part way): reassembled, parsed and "
             "inspected once both sides have spoken. Off, as in Suricata: their packets go "
             "to packet rules only. `canh scan --midstream` sets it for a scan." },
    { .key = "network.classification", .type = T_PATH, G(network.classification),
      .defdoc = "Suricata's classes, built in",
      .doc = "A classification.config file (`config classification: name,description,"
             "priority`) for network rules' `classtype`: the priority gives the alert's level "
             "(README, *Network rules*)." },

    { .key = "suppress", .type = T_SUPPRESS, G(suppress), .defdoc = "none",
      .doc = "The suppression list: alerts that are counted (by rule, in the stats) but not "
             "written. A list of entries, each with `rule` (rule ids or names) and/or `tag`, "
             "and optionally `host` (host.name, `*` and `?` wildcards), `source` (source.ip: "
             "addresses or CIDR networks), `user` (user.name, wildcards), `until` (an ISO 8601 "
             "date or date and time; the entry is ignored after it) and `reason`; or the path "
             "of a YAML file holding that list. Read again, with the rules, on SIGHUP: a bad "
             "entry refuses the reload. See the README, *Tuning*." },

    { .key = "inputs", .type = T_INPUTS,
      .doc = "The inputs, a list of maps, each with a `type` and that type's keys (below). "
             "At least one is required." },
    { .key = "inputs[].type", .type = T_ENUM, I(type), .allowed = "udp|tcp|tls|file|stdin|kafka|pcap",
      .inputs = IN_ALL, .required = IN_ALL,
      .doc = "Syslog over UDP, TCP or TLS; files followed like `tail -F`; standard input; or "
             "a Kafka topic of raw log lines, read as one member of a consumer group; or packets "
             "captured on a network interface (`pcap`)." },
    { .key = "inputs[].name", .type = T_STRING, I(name), .inputs = IN_ALL,
      .defdoc = "`udp://` (`tcp://`, `tls://`) and the listen address, the first path, "
                "`stdin`, `kafka://` and the first topic, or `pcap://` and the interface",
      .doc = "Names the input in canh's messages and statistics." },
    { .key = "inputs[].dataset", .type = T_STRING, I(dataset), .inputs = IN_ALL,
      .flags = F_IDENT, .defdoc = "from each event's shape",
      .doc = "Tags every event of this input with this dataset (`sshd`, `webserver`, `auditd`, "
             "a dataset of the field map ...), as `canh scan --dataset` does." },
    { .key = "inputs[].timezone", .type = T_STRING, I(timezone), .inputs = IN_ALL,
      .defdoc = "the top-level `timezone`",
      .doc = "IANA time zone of this input's time stamps that carry none (see the top-level "
             "`timezone`): the zone its senders write local time in." },
    { .key = "inputs[].listen", .type = T_STRING, I(listen), .inputs = IN_NET,
      .required = IN_NET, .flags = F_LISTEN,
      .doc = "Address and port to listen on: `0.0.0.0:514` (all IPv4), `[::]:514` (all "
             "IPv6, and IPv4 where the system maps it), `10.0.0.5:514`, `[::1]:5514`, "
             "`loghost:514`." },
    { .key = "inputs[].recv_buffer", .type = T_SIZE, I(recv_buffer), .inputs = IN_UDP,
      .min = 0, .max = 1024 * MIB, .def = "0",
      .doc = "Socket receive buffer (SO_RCVBUF); 0 keeps the system's. A larger one rides out "
             "bursts; the kernel caps it at net.core.rmem_max." },
    { .key = "inputs[].framing", .type = T_ENUM, I(framing), .inputs = IN_TCP | IN_TLS,
      .allowed = "auto|lf|octet", .def = "auto",
      .doc = "How messages are delimited: `lf` one per line, `octet` RFC 6587 octet counting "
             "(`LEN MSG`), `auto` decided per connection from its first byte." },
    { .key = "inputs[].max_connections", .type = T_INT, I(max_connections),
      .inputs = IN_TCP | IN_TLS, .min = 1, .max = 65536, .def = "1024",
      .doc = "Connections held open at once. When they are all taken, a new sender gets the "
             "place of the connection idle longest among those that have not sent a whole "
             "message yet, else of the one idle longest if it has been quiet for a second or "
             "more (`evicted`); only when every connection is busy is the new one refused "
             "(`refused_full`)." },
    { .key = "inputs[].max_connections_per_address", .type = T_INT,
      I(max_connections_per_address), .inputs = IN_TCP | IN_TLS, .min = 1, .max = 65536,
      .def = "64", .allowed = "unlimited",
      .doc = "Connections one sender address may hold at once (an IPv6 sender: its /64 "
             "network); one more is refused (`refused_per_address`), so no single host can "
             "take every place. `unlimited` (or 0): no limit." },
    { .key = "inputs[].idle_timeout", .type = T_DURATION, I(idle_timeout_ms),
      .inputs = IN_TCP | IN_TLS, .min = 0, .max = DAY, .def = "10m",
      .doc = "A connection that sends nothing for this long is closed (`closed_idle`); its "
             "sender connects again when it has something to say. `0`: never." },
    { .key = "inputs[].partial_frame_timeout", .type = T_DURATION, I(partial_frame_timeout_ms),
      .inputs = IN_TCP | IN_TLS, .min = 0, .max = DAY, .def = "30s",
      .doc = "A connection still inside one message (no line end yet, or fewer bytes than its "
             "octet count) this long after the message began is closed: the messages it "
             "finished are kept, the unfinished one is counted (`cut_partial`) and logged as "
             "cut. `0`: never." },
    { .key = "inputs[].tls.cert", .type = T_PATH, I(tls_cert), .inputs = IN_TLS,
      .required = IN_TLS, .doc = "Server certificate chain (PEM)." },
    { .key = "inputs[].tls.key", .type = T_PATH, I(tls_key), .inputs = IN_TLS,
      .required = IN_TLS, .doc = "Private key of the certificate (PEM)." },
    { .key = "inputs[].tls.ca", .type = T_PATH, I(tls_ca), .inputs = IN_TLS,
      .defdoc = "none: client certificates are not checked",
      .doc = "CA certificates (PEM) that client certificates must chain to." },
    { .key = "inputs[].tls.require_client_cert", .type = T_BOOL, I(tls_require_client_cert),
      .inputs = IN_TLS, .def = "false",
      .doc = "Refuse clients without a certificate signed by `tls.ca` (which is then "
             "required)." },
    { .key = "inputs[].paths", .type = T_LIST, I(paths), .inputs = IN_FILE,
      .required = IN_FILE,
      .doc = "Files or globs (`/var/log/*.log`) to follow. Rotated and re-created files are "
             "followed by name; globs are looked at again for new files." },
    { .key = "inputs[].start_at", .type = T_ENUM, I(start_at), .inputs = IN_FILE | IN_KAFKA,
      .allowed = "end|beginning", .def = "end",
      .doc = "Where to start in a file canh has no saved offset for (in `state_dir`), or in a "
             "Kafka partition its group has no committed offset for." },
    { .key = "inputs[].brokers", .type = T_STRING, I(brokers), .inputs = IN_KAFKA,
      .required = IN_KAFKA,
      .doc = "Kafka bootstrap servers, `host:port[,host:port...]`." },
    { .key = "inputs[].topics", .type = T_LIST, I(topics), .inputs = IN_KAFKA,
      .required = IN_KAFKA, .flags = F_WORDS,
      .doc = "Topics of raw log lines (one message, one line: syslog, JSON or any shape canh "
             "parses). A single topic may be written without the list." },
    { .key = "inputs[].group", .type = T_STRING, I(group), .inputs = IN_KAFKA,
      .required = IN_KAFKA, .flags = F_IDENT,
      .doc = "Consumer group. canh processes sharing a group split the partitions between "
             "them; a partition's offset is committed only once the alerts of every message "
             "before it are written out (to Kafka's spool or the alerts file)." },
    { .key = "inputs[].properties", .type = T_MAP, I(props), .inputs = IN_KAFKA,
      .defdoc = "none",
      .doc = "librdkafka consumer settings passed as they are (`security.protocol`, "
             "`ssl.ca.location`, `sasl.mechanisms` ...). Offset commits and `group.id` are "
             "canh's." },

    { .key = "inputs[].interface", .type = T_STRING, I(interface), .inputs = IN_PCAP,
      .required = IN_PCAP,
      .doc = "Network interface to capture on (`eth0`, `any`). Opened while canh is still "
             "root (it needs CAP_NET_RAW); the capture handle stays open after canh switches "
             "to its user." },
    { .key = "inputs[].filter", .type = T_STRING, I(filter), .inputs = IN_PCAP,
      .defdoc = "none: every frame",
      .doc = "BPF filter expression (pcap-filter(7), as tcpdump takes it): only matching "
             "frames are captured, filtered in the kernel. A bad expression fails the start." },
    { .key = "inputs[].snaplen", .type = T_INT, I(snaplen), .inputs = IN_PCAP, .min = 64,
      .max = 262144, .def = "262144",
      .doc = "Bytes kept of each frame; a longer frame is cut (counted as `capture.cut`)." },
    { .key = "inputs[].promiscuous", .type = T_BOOL, I(promiscuous), .inputs = IN_PCAP,
      .def = "true",
      .doc = "Put the interface in promiscuous mode, to see traffic not addressed to this "
             "host (a mirror port, a tap)." },
    { .key = "inputs[].buffer_size", .type = T_SIZE, I(pcap_buffer), .inputs = IN_PCAP,
      .min = 1 * MIB, .max = 2048 * MIB, .def = "16MiB",
      .doc = "libpcap's capture ring in the kernel. Frames that arrive while it is full are "
             "dropped by the kernel and counted (`capture.dropped`)." },
    { .key = "inputs[].immediate", .type = T_BOOL, I(immediate), .inputs = IN_PCAP,
      .def = "false",
      .doc = "Hand each frame on as it arrives (libpcap's immediate mode) instead of a block "
             "of the ring at a time (at the latest every 100 ms): less latency, more CPU." },

    { .key = "limits.max_message_size", .type = T_SIZE, G(limits.max_message_size),
      .min = 256, .max = 64 * MIB, .def = "64KiB",
      .doc = "Longest message accepted; what happens to longer ones is `limits.oversize`." },
    { .key = "limits.oversize", .type = T_ENUM, G(limits.oversize), .allowed = "truncate|drop",
      .def = "truncate",
      .doc = "A longer message is cut to `max_message_size` and scanned, or dropped; either "
             "way it is counted." },
    { .key = "limits.batch_lines", .type = T_INT, G(limits.batch_lines), .min = 16,
      .max = 65536, .def = "512",
      .doc = "Messages per batch handed to a worker. Larger batches cost less per message, "
             "smaller ones wait less at low rates." },
    { .key = "limits.batches", .type = T_INT, G(limits.batches), .min = 2, .max = 65536,
      .def = "auto", .allowed = "auto",
      .doc = "Batches in flight, which bounds memory: when all are in use the inputs wait "
             "(TCP pushes back, UDP drops in the kernel). `auto` (or 0): 4 per worker + 4." },

    { .key = "outputs.alerts.path", .type = T_PATH, G(outputs.alerts_path), .flags = F_DASH,
      .defdoc = "`-` without `outputs.kafka`; none with it",
      .doc = "Alerts, one JSON object per line (the format of `canh scan`); `-` is standard "
             "output. May be set together with `outputs.kafka`: both get every alert. Reopened "
             "by name on SIGUSR1 and SIGHUP (log rotation). Opened, and made when it is not "
             "there, without following a symbolic link at its last component: a link there is "
             "refused with an error." },
    { .key = "outputs.alerts.mode", .type = T_MODE, G(outputs.alerts_mode), .min = 0,
      .max = 0777, .def = "0600",
      .doc = "Permissions (octal) of an alerts file canh makes, at start or at a reopen; "
             "the umask does not change them. Alerts carry whole log lines: give the group "
             "read access (`0640`) only to those who may read them. A file that is there "
             "already keeps its own (logrotate's `create` sets it)." },
    { .key = "outputs.alerts.matched", .type = T_BOOL, G(outputs.alerts_matched),
      .def = "false",
      .doc = "Each alert also carries `canh.matched`: a list of `{selection, field, value, "
             "rule_field, rule_value}`, one per field test that made its rule fire (the "
             "event's field and value, and the key and value as the rule wrote them), for the "
             "responder. Found only for alerts; off, it costs nothing. `canh scan --matched` "
             "does the same." },
    { .key = "outputs.alerts.stop_timeout", .type = T_DURATION,
      G(outputs.alerts_stop_timeout_ms), .min = 0, .max = 10 * 60 * SEC, .def = "10s",
      .doc = "A write of the alerts file that fails (a full disk, a quota, an I/O error) is "
             "retried until it works, while the inputs wait: no alert is dropped. Only at a "
             "stop (SIGTERM, SIGINT) does canh give up, after this long: the alerts it could "
             "not write are counted (`alerts_file.not_written`) and logged." },
    { .key = "outputs.stats.path", .type = T_PATH, G(outputs.stats_path), .flags = F_DASH,
      .defdoc = "none: no statistics file",
      .doc = "Counters (events, alerts by level, rule and host, drops), one JSON object per "
             "line every `outputs.stats.interval`; `-` is standard output. Reopened by name on "
             "SIGUSR1 and SIGHUP (log rotation). Like the alerts file, never opened through a "
             "symbolic link." },
    { .key = "outputs.stats.mode", .type = T_MODE, G(outputs.stats_mode), .min = 0,
      .max = 0777, .def = "0600",
      .doc = "Permissions (octal) of a stats file canh makes, as `outputs.alerts.mode`." },
    { .key = "outputs.stats.interval", .type = T_DURATION, G(outputs.stats_interval_ms),
      .min = 1 * SEC, .max = DAY, .def = "10s",
      .doc = "How often a statistics line is written." },
    { .key = "outputs.stats.threat_level", .type = T_ENUM, G(outputs.stats_threat_level),
      .allowed = "informational|low|medium|high|critical", .def = "medium",
      .doc = "Alerts of this level and above are the threats of the SOC's sentence \"N "
             "threats detected, of which H high and C critical\" (the stats records' "
             "`threats`, the log line, `canh stats`); `by_level` counts every level." },
    { .key = "outputs.kafka.brokers", .type = T_STRING, G(outputs.kafka.brokers),
      .defdoc = "none: no Kafka output",
      .doc = "Kafka bootstrap servers, `host:port[,host:port...]`. Setting it sends every "
             "alert to `outputs.kafka.topic`, through the spool (no alert lost)." },
    { .key = "outputs.kafka.topic", .type = T_STRING, G(outputs.kafka.topic),
      .def = "canh-alerts",
      .doc = "Topic for alerts: one message per alert (the JSON of the alerts file), keyed "
             "by the host it names, so one host's alerts stay in order in one partition." },
    { .key = "outputs.kafka.stats_topic", .type = T_STRING, G(outputs.kafka.stats_topic),
      .defdoc = "none",
      .doc = "Topic for the stats records (one message per `outputs.stats.interval`)." },
    { .key = "outputs.kafka.properties", .type = T_MAP, G(outputs.kafka.props),
      .defdoc = "none",
      .doc = "librdkafka producer settings passed as they are: TLS and SASL "
             "(`security.protocol`, `ssl.ca.location`, `sasl.mechanisms`, `sasl.username` "
             "...), `compression.type`, `linger.ms`. `acks` (all), idempotence and "
             "`message.timeout.ms` are canh's." },
    { .key = "outputs.kafka.spool.path", .type = T_PATH, G(outputs.kafka.spool_path),
      .defdoc = "`state_dir`/spool",
      .doc = "Folder of the spool: every alert is written there before it goes to Kafka and "
             "removed when Kafka confirms it. What is left at a stop is sent at the next start. "
             "Made (0700) if missing; refused, like `state_dir`, when another user could write "
             "it; its files are never opened through a symbolic link." },
    { .key = "outputs.kafka.spool.max_size", .type = T_SIZE, G(outputs.kafka.spool_max_size),
      .min = 1 * MIB, .max = 1024 * 1024 * MIB, .def = "1GiB",
      .doc = "Cap on the spool. When it is full the inputs wait (TCP, TLS, files and Kafka "
             "push back, UDP drops are counted) until Kafka takes alerts again." },
    { .key = "outputs.kafka.spool.fsync_interval", .type = T_DURATION,
      G(outputs.kafka.fsync_interval_ms), .min = 10, .max = 60 * SEC, .def = "1s",
      .doc = "The spool is fsync'd this often: alerts newer than this may be lost if the "
             "machine (not canh) crashes." },
    { .key = "outputs.kafka.message_timeout", .type = T_DURATION,
      G(outputs.kafka.message_timeout_ms), .min = 1 * SEC, .max = DAY, .def = "5m",
      .doc = "How long librdkafka keeps trying one alert (`message.timeout.ms`) before canh "
             "takes it back from the spool and sends it again." },
    { .key = "outputs.kafka.stop_timeout", .type = T_DURATION,
      G(outputs.kafka.stop_timeout_ms), .min = 0, .max = 10 * 60 * SEC, .def = "10s",
      .doc = "At a stop, how long canh waits for Kafka to confirm what is in flight; the rest "
             "stays in the spool for the next start. Also how long, at a stop, a spool write "
             "that fails (a full disk) is retried before the alerts not spooled are counted "
             "(`kafka.not_spooled`) and logged." },

    { .key = "log.level", .type = T_ENUM, G(log.level), .allowed = "error|warn|info|debug",
      .def = "info", .doc = "The least important of canh's own messages that is written." },
    { .key = "log.target", .type = T_ENUM, G(log.target), .allowed = "stderr|syslog",
      .def = "stderr", .doc = "Where canh's own messages go (syslog: facility daemon)." },
};

#define NOPTS CANH_ARRAY_LEN(opts)

static const char *const section_docs[][2] = {
    { "rules", "Where the detection rules come from." },
    { "network", "How network (Suricata) rules are read." },
    { "inputs", "Where logs come from." },
    { "limits", "Bounds on memory and on what one message may cost." },
    { "outputs", "Where alerts and statistics go." },
    { "log", "canh's own messages (not alerts)." },
};

static int is_input_key(const opt_t *o)
{
    return !strncmp(o->key, "inputs[].", 9);
}

static size_t type_size(opt_type_t t)
{
    switch (t) {
    case T_BOOL: case T_INT: case T_ENUM: case T_MODE: return sizeof(int);
    case T_SIZE:                           return sizeof(size_t);
    case T_DURATION:                       return sizeof(int64_t);
    case T_STRING: case T_PATH:            return sizeof(char *);
    case T_SUPPRESS:                       return sizeof(char *);
    case T_LIST: case T_MAP:               return sizeof(canh_config_list_t);
    default:                               return 0;
    }
}

/* A programming error in the table (a field of the wrong C type) shows in
 * every test, through canh_config_defaults(). */
static const char *table_check(void)
{
    for (size_t i = 0; i < NOPTS; i++)
        if (type_size(opts[i].type) != opts[i].size)
            return opts[i].key;
    return NULL;
}

const char *canh_input_type_name(int type)
{
    static const char *const names[] = { "udp", "tcp", "tls", "file", "stdin", "kafka",
                                         "pcap" };
    return type >= 0 && (size_t)type < CANH_ARRAY_LEN(names) ? names[type] : "?";
}

/* ---- small helpers ---- */

/* The n-th value of "a|b|c" into buf; 0 when there is none. */
static int enum_value(const char *allowed, int n, char *buf, size_t len)
{
    const char *p = allowed;
    for (int i = 0; p && *p; i++) {
        const char *e = strchr(p, '|');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        if (i == n) {
            snprintf(buf, len, "%.*s", (int)l, p);
            return 1;
        }
        p = e ? e + 1 : NULL;
    }
    return 0;
}

static int enum_index(const char *allowed, const char *v)
{
    char buf[64];
    for (int i = 0; enum_value(allowed, i, buf, sizeof(buf)); i++)
        if (!strcmp(buf, v))
            return i;
    return -1;
}

/* "a|b|c" as "a, b, c" */
static void enum_list(const char *allowed, char *buf, size_t len)
{
    char v[64];
    size_t k = 0;
    buf[0] = '\0';
    for (int i = 0; enum_value(allowed, i, v, sizeof(v)) && k < len; i++) {
        int w = snprintf(buf + k, len - k, "%s%s", i ? ", " : "", v);
        if (w < 0)
            break;
        k += (size_t)w;
    }
}


static size_t close_enough(const char *word)
{
    size_t l = strlen(word);
    return l <= 3 ? 1 : l <= 7 ? 2 : 3;
}

/* Human forms for messages and docs: "64 KiB", "10s". */
static void fmt_size(int64_t v, char *buf, size_t len)
{
    static const char *const units[] = { "GiB", "MiB", "KiB" };
    static const int64_t mult[] = { 1024 * MIB, MIB, KIB };
    for (size_t i = 0; i < 3; i++)
        if (v >= mult[i] && v % mult[i] == 0) {
            snprintf(buf, len, "%" PRId64 " %s", v / mult[i], units[i]);
            return;
        }
    snprintf(buf, len, "%" PRId64 " B", v);
}

static void fmt_duration(int64_t ms, char *buf, size_t len)
{
    static const char *const units[] = { "d", "h", "m", "s" };
    static const int64_t mult[] = { DAY, 3600 * SEC, 60 * SEC, SEC };
    for (size_t i = 0; i < 4; i++)
        if (ms >= mult[i] && ms % mult[i] == 0) {
            snprintf(buf, len, "%" PRId64 "%s", ms / mult[i], units[i]);
            return;
        }
    snprintf(buf, len, "%" PRId64 "ms", ms);
}

/* What a value of this key must be, for "KEY: must be ..., got 'X'". */
static void describe(const opt_t *o, char *buf, size_t len)
{
    char a[64], b[64], list[256];
    switch (o->type) {
    case T_BOOL:
        snprintf(buf, len, "must be true or false");
        break;
    case T_INT:
        snprintf(buf, len, "must be an integer from %" PRId64 " to %" PRId64 "%s%s%s", o->min,
                 o->max, o->allowed ? " or '" : "", o->allowed ? o->allowed : "",
                 o->allowed ? "'" : "");
        break;
    case T_SIZE:
        fmt_size(o->min, a, sizeof(a));
        fmt_size(o->max, b, sizeof(b));
        snprintf(buf, len, "must be a size from %s to %s, such as 65536, 64KiB or 1MiB", a, b);
        break;
    case T_DURATION:
        fmt_duration(o->min, a, sizeof(a));
        fmt_duration(o->max, b, sizeof(b));
        snprintf(buf, len, "must be a duration from %s to %s, such as 500ms, 10s or 2m", a, b);
        break;
    case T_ENUM:
        enum_list(o->allowed, list, sizeof(list));
        snprintf(buf, len, "must be one of %s", list);
        break;
    case T_MODE:
        snprintf(buf, len, "must be file permissions in octal from %04" PRIo64 " to %04" PRIo64
                 ", such as 0600 or 0640", o->min, o->max);
        break;
    case T_STRING:
        snprintf(buf, len, "must be %s", o->flags & F_IDENT
                 ? "a name of letters, digits, '_', '-' and '.'" : "a string");
        break;
    case T_PATH:
        snprintf(buf, len, "must be a path");
        break;
    case T_LIST:
        snprintf(buf, len, o->flags & F_WORDS ? "must be a name or a list of names"
                                              : "must be a path or a list of paths");
        break;
    case T_MAP:
        snprintf(buf, len, "must be a map of names to single values");
        break;
    case T_SUPPRESS:
        snprintf(buf, len, "must be a list of suppression entries, or the path of a file "
                 "holding one");
        break;
    default:
        snprintf(buf, len, "must not be set");
        break;
    }
}

/* ---- parsing one value from text ---- */

static int parse_int64(const char *s, int64_t *out, const char **end)
{
    if (!isdigit((unsigned char)*s) && !((*s == '-' || *s == '+') && isdigit((unsigned char)s[1])))
        return -1;
    errno = 0;
    char *e;
    long long v = strtoll(s, &e, 10);
    if (errno)
        return -1;
    *out = v;
    *end = e;
    return 0;
}

static int parse_size(const char *s, int64_t *out)
{
    static const struct { const char *u; int64_t m; } units[] = {
        { "", 1 }, { "b", 1 }, { "kib", KIB }, { "mib", MIB }, { "gib", 1024 * MIB },
        { "kb", 1000 }, { "mb", 1000 * 1000 }, { "gb", 1000 * 1000 * 1000 },
    };
    int64_t v;
    const char *e;
    if (parse_int64(s, &v, &e) || v < 0)
        return -1;
    while (*e == ' ')
        e++;
    for (size_t i = 0; i < CANH_ARRAY_LEN(units); i++) {
        if (strcasecmp(e, units[i].u))
            continue;
        if (v > INT64_MAX / units[i].m)
            return -1;
        *out = v * units[i].m;
        return 0;
    }
    return -1;
}

/* "500ms", "10s", "2m", "1h", "1d", "1m30s"; a bare "0". */
static int parse_duration(const char *s, int64_t *out)
{
    static const struct { const char *u; int64_t m; } units[] = {
        { "ms", 1 }, { "s", SEC }, { "m", 60 * SEC }, { "h", 3600 * SEC }, { "d", DAY },
    };
    if (!strcmp(s, "0")) {
        *out = 0;
        return 0;
    }
    int64_t total = 0;
    const char *p = s;
    if (!*p)
        return -1;
    while (*p) {
        int64_t v;
        const char *e;
        if (!isdigit((unsigned char)*p) || parse_int64(p, &v, &e))
            return -1;
        size_t ul = 0;
        while (isalpha((unsigned char)e[ul]))
            ul++;
        int found = 0;
        for (size_t i = 0; i < CANH_ARRAY_LEN(units); i++) {
            if (strlen(units[i].u) != ul || strncmp(e, units[i].u, ul))
                continue;
            if (v > (INT64_MAX - total) / units[i].m)
                return -1;
            total += v * units[i].m;
            found = 1;
        }
        if (!found)
            return -1;
        p = e + ul;
    }
    *out = total;
    return 0;
}

static int is_ident(const char *s)
{
    if (!*s || strlen(s) > 63)
        return 0;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '_' && *s != '-' && *s != '.')
            return 0;
    return 1;
}

/* A copy of path, relative to dir (NULL: as it is). */
static char *path_join(const char *dir, const char *path, unsigned flags)
{
    if (!dir || path[0] == '/' || ((flags & F_DASH) && !strcmp(path, "-")))
        return strdup(path);
    size_t a = strlen(dir), b = strlen(path);
    char *r = malloc(a + b + 2);
    if (r) {
        memcpy(r, dir, a);
        r[a] = '/';
        memcpy(r + a + 1, path, b + 1);
    }
    return r;
}

static void list_clear(canh_config_list_t *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

static int list_add(canh_config_list_t *l, char *s)
{
    if (!s)
        return CANH_ENOMEM;
    char **v = realloc(l->v, (l->n + 1) * sizeof(*v));
    if (!v) {
        free(s);
        return CANH_ENOMEM;
    }
    l->v = v;
    l->v[l->n++] = s;
    return CANH_OK;
}

/*
 * Stores the scalar text s into field for key o. Returns 0, CANH_ENOMEM,
 * or CANH_EINVAL (the value is wrong; describe() says what it must be).
 * For lists it appends one item.
 */
static int set_text(const opt_t *o, void *field, const char *s, const char *dir)
{
    int64_t v;
    const char *e;
    switch (o->type) {
    case T_BOOL:
        if (!strcasecmp(s, "true") || !strcasecmp(s, "yes") || !strcasecmp(s, "on"))
            *(int *)field = 1;
        else if (!strcasecmp(s, "false") || !strcasecmp(s, "no") || !strcasecmp(s, "off"))
            *(int *)field = 0;
        else
            return CANH_EINVAL;
        return CANH_OK;
    case T_INT:
        if (o->allowed && !strcmp(s, o->allowed)) {
            *(int *)field = 0;
            return CANH_OK;
        }
        if (parse_int64(s, &v, &e) || *e)
            return CANH_EINVAL;
        if (o->allowed && v == 0) {        /* 0 is the same as the word */
            *(int *)field = 0;
            return CANH_OK;
        }
        if (v < o->min || v > o->max)
            return CANH_EINVAL;
        *(int *)field = (int)v;
        return CANH_OK;
    case T_SIZE:
        if (parse_size(s, &v) || v < o->min || v > o->max)
            return CANH_EINVAL;
        *(size_t *)field = (size_t)v;
        return CANH_OK;
    case T_DURATION:
        if (parse_duration(s, &v) || v < o->min || v > o->max)
            return CANH_EINVAL;
        *(int64_t *)field = v;
        return CANH_OK;
    case T_ENUM: {
        int i = enum_index(o->allowed, s);
        if (i < 0)
            return CANH_EINVAL;
        *(int *)field = i;
        return CANH_OK;
    }
    case T_MODE: {   /* octal digits only: "0640", "640" */
        if (!*s || strlen(s) > 5)
            return CANH_EINVAL;
        v = 0;
        for (e = s; *e; e++) {
            if (*e < '0' || *e > '7')
                return CANH_EINVAL;
            v = v * 8 + (*e - '0');
        }
        if (v < o->min || v > o->max)
            return CANH_EINVAL;
        *(int *)field = (int)v;
        return CANH_OK;
    }
    case T_STRING:
    case T_PATH: {
        if (!*s || ((o->flags & F_IDENT) && !is_ident(s)))
            return CANH_EINVAL;
        char *c = o->type == T_PATH ? path_join(dir, s, o->flags) : strdup(s);
        if (!c)
            return CANH_ENOMEM;
        free(*(char **)field);
        *(char **)field = c;
        return CANH_OK;
    }
    case T_LIST:
        if (!*s)
            return CANH_EINVAL;
        return list_add(field, o->flags & F_WORDS ? strdup(s) : path_join(dir, s, 0));
    default:
        return CANH_EINVAL;
    }
}

/* Frees the strings of the keys of one level (top level or an input). */
static void free_fields(void *base, int inputs_level)
{
    for (size_t i = 0; i < NOPTS; i++) {
        const opt_t *o = &opts[i];
        if (is_input_key(o) != inputs_level)
            continue;
        void *f = (char *)base + o->off;
        if (o->type == T_STRING || o->type == T_PATH || o->type == T_SUPPRESS) {
            free(*(char **)f);
            *(char **)f = NULL;
        } else if (o->type == T_LIST || o->type == T_MAP) {
            list_clear(f);
        }
    }
}

static void input_free(canh_config_input_t *in)
{
    free_fields(in, 1);
    free(in->listen_host);
}

void canh_config_free(canh_config_t *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->ninputs; i++)
        input_free(&c->inputs[i]);
    free(c->inputs);
    for (size_t i = 0; i < c->nzones; i++)
        canh_tz_free(c->zones[i]);
    free(c->zones);
    free_fields(c, 0);
    free(c->path);
    free(c);
}

/* Alerts go to standard output unless they go to Kafka or a file. */
static int default_alerts(canh_config_t *cfg)
{
    if (cfg->outputs.alerts_path || cfg->outputs.kafka.brokers)
        return 0;
    return !(cfg->outputs.alerts_path = strdup("-"));
}

/* Defaults of one level: the top level, or an input of the given type. */
static int apply_defaults(void *base, int inputs_level, int type)
{
    for (size_t i = 0; i < NOPTS; i++) {
        const opt_t *o = &opts[i];
        if (is_input_key(o) != inputs_level || !o->def)
            continue;
        if (inputs_level && (type < 0 || !(o->inputs & (1u << type))))
            continue;
        int rc = set_text(o, (char *)base + o->off, o->def, NULL);
        if (rc)
            return rc == CANH_EINVAL ? CANH_EINVAL : CANH_ENOMEM;
    }
    return CANH_OK;
}

int canh_config_defaults(canh_config_t **out)
{
    *out = NULL;
    if (table_check())
        return CANH_EINVAL;
    canh_config_t *c = calloc(1, sizeof(*c));
    if (!c)
        return CANH_ENOMEM;
    int rc = apply_defaults(c, 0, -1);
    if (!rc && default_alerts(c))
        rc = CANH_ENOMEM;
    if (rc) {
        canh_config_free(c);
        return rc;
    }
    *out = c;
    return CANH_OK;
}

/* ---- the loader ---- */

typedef struct cerr {
    int line;
    size_t seq;
    char *text;
} cerr_t;

#define MAX_ERRORS 200

typedef struct ctx {
    const char *file;     /* for messages */
    const char *dir;      /* relative paths start here; NULL = kept as written */
    yaml_document_t *doc;
    canh_config_t *cfg;
    cerr_t *errs;
    size_t nerr, cap, dropped;
    int oom;
    const canh_tz_t *local;   /* the machine's zone, once asked for */
    int local_tried;
} ctx_t;

static void add_error(ctx_t *c, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void add_error(ctx_t *c, int line, const char *fmt, ...)
{
    if (c->nerr >= MAX_ERRORS) {
        c->dropped++;
        return;
    }
    char msg[768], *text;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (asprintf(&text, "%s:%d: %s", c->file, line, msg) < 0) {
        c->oom = 1;
        return;
    }
    if (c->nerr == c->cap) {
        size_t ncap = c->cap ? 2 * c->cap : 16;
        cerr_t *n = realloc(c->errs, ncap * sizeof(*n));
        if (!n) {
            free(text);
            c->oom = 1;
            return;
        }
        c->errs = n;
        c->cap = ncap;
    }
    c->errs[c->nerr].line = line;
    c->errs[c->nerr].seq = c->nerr;
    c->errs[c->nerr].text = text;
    c->nerr++;
}

static yaml_node_t *node(ctx_t *c, int id)
{
    return yaml_document_get_node(c->doc, id);
}

static int line_of(const yaml_node_t *n)
{
    return n ? (int)n->start_mark.line + 1 : 1;
}

static int is_null(const yaml_node_t *n)
{
    if (!n)
        return 1;
    if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return 0;
    const char *v = (const char *)n->data.scalar.value;
    return !*v || !strcmp(v, "~") || !strcasecmp(v, "null");
}

static const char *kind_of(const yaml_node_t *n)
{
    return n->type == YAML_SEQUENCE_NODE ? "a list" : n->type == YAML_MAPPING_NODE ? "a map"
                                                                                    : "nothing";
}

/* The value as it should appear in a message: quoted, short, printable. */
static void show_value(const yaml_node_t *n, char *buf, size_t len)
{
    if (!n || n->type != YAML_SCALAR_NODE || is_null(n)) {
        snprintf(buf, len, "%s", n ? kind_of(n) : "nothing");
        return;
    }
    const unsigned char *s = n->data.scalar.value;
    size_t k = 0;
    buf[k++] = '\'';
    for (size_t i = 0; s[i] && k + 6 < len; i++) {
        if (i == 48) {
            k += (size_t)snprintf(buf + k, len - k, "...");
            break;
        }
        buf[k++] = s[i] < 0x20 || s[i] == 0x7f ? '?' : (char)s[i];
    }
    buf[k++] = '\'';
    buf[k] = '\0';
}

static const opt_t *find_opt(const char *key)
{
    for (size_t i = 0; i < NOPTS; i++)
        if (!strcmp(opts[i].key, key))
            return &opts[i];
    return NULL;
}

static int is_section(const char *key)
{
    size_t l = strlen(key);
    for (size_t i = 0; i < NOPTS; i++)
        if (!strncmp(opts[i].key, key, l) && opts[i].key[l] == '.')
            return 1;
    return 0;
}

/*
 * "did you mean": the closest name among the keys that could stand here
 * (siblings under `prefix`), else a key of the same name elsewhere.
 */
static void suggest(const char *prefix, const char *word, char *buf, size_t len)
{
    size_t pl = strlen(prefix), best = 99;
    buf[0] = '\0';
    for (size_t i = 0; i < NOPTS; i++) {
        const char *k = opts[i].key;
        if (pl && (strncmp(k, prefix, pl) || k[pl] != '.'))
            continue;
        const char *name = pl ? k + pl + 1 : k;
        char cand[64];
        size_t n = strcspn(name, ".[");
        if (n >= sizeof(cand))
            continue;
        memcpy(cand, name, n);
        cand[n] = '\0';
        size_t d = canh_edit_distance(word, cand);
        if (d < best && d <= close_enough(cand)) {
            best = d;
            snprintf(buf, len, " (did you mean '%s'?)", cand);
        }
    }
    if (buf[0])
        return;
    for (size_t i = 0; i < NOPTS; i++) {
        const char *k = opts[i].key, *last = strrchr(k, '.');
        last = last ? last + 1 : k;
        if (strcasecmp(last, word))
            continue;
        if (pl && !strncmp(k, prefix, pl) && k[pl] == '.')    /* deeper: "tls.cert" */
            snprintf(buf, len, " (did you mean '%s'?)", k + pl + 1);
        else if (!strchr(k, '.'))
            snprintf(buf, len, " ('%s' is a top-level key)", k);
        else
            snprintf(buf, len, " (did you mean '%s'?)", k);
        return;
    }
}

/* Mask of input types as "udp, tcp". */
static void types_list(unsigned mask, char *buf, size_t len)
{
    size_t k = 0;
    buf[0] = '\0';
    for (int t = 0; t <= CANH_INPUT_PCAP && k < len; t++)
        if (mask & (1u << t)) {
            int w = snprintf(buf + k, len - k, "%s%s", k ? ", " : "", canh_input_type_name(t));
            if (w < 0)
                break;
            k += (size_t)w;
        }
}

static void load_inputs(ctx_t *c, yaml_node_t *seq, int line);

/* One value for key o (shown as `shown`) into the field at `field`.
 * Returns 0 when a null left a string, path or list at its default, else 1
 * (set, or reported as wrong). */
static int set_value(ctx_t *c, const opt_t *o, const char *shown, yaml_node_t *v, void *field,
                     int kline)
{
    /* a list or map starts on the next line: name the key's */
    int vline = v->type == YAML_SCALAR_NODE ? line_of(v) : kline;
    char want[320], got[80];
    if (o->type == T_MAP) {
        if (is_null(v))
            return 0;
        if (v->type != YAML_MAPPING_NODE) {
            describe(o, want, sizeof(want));
            show_value(v, got, sizeof(got));
            add_error(c, vline, "%s: %s, got %s", shown, want, got);
            return 1;
        }
        list_clear(field);
        for (yaml_node_pair_t *p = v->data.mapping.pairs.start; p < v->data.mapping.pairs.top; p++) {
            yaml_node_t *mk = node(c, p->key), *mv = node(c, p->value);
            if (mk->type != YAML_SCALAR_NODE || mv->type != YAML_SCALAR_NODE || is_null(mv)) {
                show_value(mv, got, sizeof(got));
                add_error(c, line_of(mk), "%s: each entry must be 'name: value', got %s", shown,
                          got);
                continue;
            }
            if (list_add(field, strdup((const char *)mk->data.scalar.value)) ||
                list_add(field, strdup((const char *)mv->data.scalar.value)))
                c->oom = 1;
        }
        return 1;
    }
    if (o->type == T_INPUTS) {
        load_inputs(c, v, kline);
        return 1;
    }
    if (o->type == T_SUPPRESS) {   /* its entries are checked by engine/suppress.c */
        if (is_null(v))
            return 0;
        const char *sv = v->type == YAML_SCALAR_NODE ? (const char *)v->data.scalar.value : NULL;
        if (v->type == YAML_SEQUENCE_NODE || (sv && *sv)) {
            /* this file: suppress.c reads the key again at every load, so a
             * SIGHUP takes edits of the list, or of the file name, here too */
            char *p = strdup(c->cfg->path ? c->cfg->path : "");
            if (!p)
                c->oom = 1;
            free(*(char **)field);
            *(char **)field = p;
        } else {
            describe(o, want, sizeof(want));
            show_value(v, got, sizeof(got));
            add_error(c, vline, "%s: %s, got %s", shown, want, got);
        }
        return 1;
    }
    if ((o->type == T_STRING || o->type == T_PATH || o->type == T_LIST) && is_null(v))
        return 0;
    if (o->type == T_LIST && v->type == YAML_SEQUENCE_NODE) {
        list_clear(field);
        for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++) {
            yaml_node_t *item = node(c, *it);
            int rc = item->type == YAML_SCALAR_NODE && !is_null(item)
                   ? set_text(o, field, (const char *)item->data.scalar.value, c->dir)
                   : CANH_EINVAL;
            if (rc == CANH_ENOMEM)
                c->oom = 1;
            else if (rc) {
                show_value(item, got, sizeof(got));
                add_error(c, line_of(item), "%s: each item must be a %s, got %s", shown,
                          o->flags & F_WORDS ? "name" : "path", got);
            }
        }
        return 1;
    }
    int rc = CANH_EINVAL;
    if (v->type == YAML_SCALAR_NODE && !is_null(v)) {
        if (o->type == T_LIST)
            list_clear(field);
        rc = set_text(o, field, (const char *)v->data.scalar.value, c->dir);
    }
    if (rc == CANH_ENOMEM) {
        c->oom = 1;
    } else if (rc) {
        describe(o, want, sizeof(want));
        show_value(v, got, sizeof(got));
        char hint[96] = "";
        if (o->type == T_ENUM && v->type == YAML_SCALAR_NODE) {
            /* suggest among the allowed values */
            char cand[64];
            size_t best = 99;
            for (int i = 0; enum_value(o->allowed, i, cand, sizeof(cand)); i++) {
                size_t d = canh_edit_distance((const char *)v->data.scalar.value, cand);
                if (d < best && d <= close_enough(cand)) {
                    best = d;
                    snprintf(hint, sizeof(hint), " (did you mean '%s'?)", cand);
                }
            }
        }
        add_error(c, vline, "%s: %s, got %s%s", shown, want, got, hint);
    }
    return 1;
}

/*
 * Walks one map. `prefix` is its place in the table ("", "limits",
 * "inputs[]", "inputs[].tls"), `shown` its place for messages ("",
 * "inputs[2]"). base is the struct the keys fill; type is the input's type
 * for inputs (-1 when unknown, which skips the per-type checks); seen[i]
 * gets the line where opts[i] was set.
 */
static void walk(ctx_t *c, yaml_node_t *map, const char *prefix, const char *shown, void *base,
                 int type, int *seen)
{
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
        yaml_node_t *k = node(c, p->key), *v = node(c, p->value);
        if (k->type != YAML_SCALAR_NODE) {
            add_error(c, line_of(k), "%s%skeys must be plain names, not %s", shown,
                      *shown ? ": " : "", kind_of(k));
            continue;
        }
        const char *key = (const char *)k->data.scalar.value;
        char full[256], disp[256];
        snprintf(full, sizeof(full), "%s%s%s", prefix, *prefix ? "." : "", key);
        snprintf(disp, sizeof(disp), "%s%s%s", shown, *shown ? "." : "", key);

        int dup = 0;
        for (yaml_node_pair_t *q = map->data.mapping.pairs.start; q < p && !dup; q++) {
            yaml_node_t *qk = node(c, q->key);
            if (qk->type == YAML_SCALAR_NODE && !strcmp((const char *)qk->data.scalar.value, key)) {
                add_error(c, line_of(k), "duplicate key '%s' (first set on line %d)", disp,
                          line_of(qk));
                dup = 1;
            }
        }
        if (dup)
            continue;

        const opt_t *o = find_opt(full);
        if (o) {
            if (is_input_key(o) && !strcmp(o->key, "inputs[].type"))
                continue;                          /* read first, by load_input */
            if (is_input_key(o) && type >= 0 && !(o->inputs & (1u << type))) {
                char tl[64];
                types_list(o->inputs, tl, sizeof(tl));
                add_error(c, line_of(k), "%s: a %s input has no '%s' (it is a key of %s inputs)",
                          disp, canh_input_type_name(type), full + 9, tl);
                continue;
            }
            if (set_value(c, o, disp, v, (char *)base + o->off, line_of(k)))
                seen[o - opts] = line_of(k);
        } else if (is_section(full) && strcmp(full, "inputs[]")) {
            if (v->type == YAML_MAPPING_NODE)
                walk(c, v, full, disp, base, type, seen);
            else if (!is_null(v))
                add_error(c, line_of(v), "%s: must be a map of keys, got %s", disp,
                          v->type == YAML_SCALAR_NODE ? "a single value" : kind_of(v));
        } else {
            char hint[128];
            suggest(prefix, key, hint, sizeof(hint));
            add_error(c, line_of(k), "unknown key '%s'%s", disp, hint);
        }
    }
}

static int valid_hostname(const char *h)
{
    size_t n = strlen(h), label = 0;
    if (!n || n > 253 || h[0] == '.' || h[0] == '-')
        return 0;
    for (const char *p = h; *p; p++) {
        if (*p == '.') {
            if (!label)
                return 0;
            label = 0;
        } else if (isalnum((unsigned char)*p) || *p == '-') {
            if (++label > 63)
                return 0;
        } else {
            return 0;
        }
    }
    return 1;
}

/*
 * "host:port" and "[v6]:port". Fills host, port, ipv6; otherwise writes why
 * into buf and returns -1.
 */
static int parse_listen(const char *s, char **host, int *port, int *ipv6, char *why, size_t wl)
{
    char h[300];
    const char *ps;
    *ipv6 = 0;
    if (s[0] == '[') {
        const char *rb = strchr(s, ']');
        if (!rb || rb[1] != ':') {
            snprintf(why, wl, "must be [IPv6]:port, such as [::1]:5514, got '%.60s'", s);
            return -1;
        }
        size_t hl = (size_t)(rb - s - 1);
        if (hl >= sizeof(h))
            hl = sizeof(h) - 1;
        memcpy(h, s + 1, hl);
        h[hl] = '\0';
        unsigned char a[16];
        if (inet_pton(AF_INET6, h, a) != 1) {
            snprintf(why, wl, "'%.60s' is not an IPv6 address", h);
            return -1;
        }
        *ipv6 = 1;
        ps = rb + 2;
    } else {
        const char *colon = strchr(s, ':');
        if (!colon) {
            snprintf(why, wl, "must be host:port, such as 0.0.0.0:514 or [::]:514, got '%.60s'", s);
            return -1;
        }
        if (strchr(colon + 1, ':')) {
            snprintf(why, wl, "an IPv6 address must be in brackets, such as [::1]:5514, got '%.60s'",
                     s);
            return -1;
        }
        size_t hl = (size_t)(colon - s);
        if (!hl) {
            snprintf(why, wl, "needs an address before the port: 0.0.0.0:PORT for all IPv4 "
                     "addresses, [::]:PORT for all IPv6 ones");
            return -1;
        }
        if (hl >= sizeof(h))
            hl = sizeof(h) - 1;
        memcpy(h, s, hl);
        h[hl] = '\0';
        unsigned char a[4];
        if (strspn(h, "0123456789.") == hl) {
            if (inet_pton(AF_INET, h, a) != 1) {
                snprintf(why, wl, "'%.60s' is not an IPv4 address", h);
                return -1;
            }
        } else if (!valid_hostname(h)) {
            snprintf(why, wl, "'%.60s' is not an IP address or a host name", h);
            return -1;
        }
        ps = colon + 1;
    }
    char *e;
    errno = 0;
    long p = strtol(ps, &e, 10);
    if (!isdigit((unsigned char)*ps) || *e || errno || p < 1 || p > 65535) {
        snprintf(why, wl, "the port must be a number from 1 to 65535, got '%.20s'", ps);
        return -1;
    }
    *port = (int)p;
    *host = strdup(h);
    return 0;
}

/*
 * The zone named `name` (NULL: the machine's), loaded once per config and
 * shared by the inputs that name it. A problem is reported at `line` as
 * "KEY: ..." and NULL returned.
 */
static const canh_tz_t *zone(ctx_t *c, const char *name, int line, const char *key)
{
    canh_config_t *cfg = c->cfg;
    if (!name && c->local_tried)
        return c->local;
    for (size_t i = 0; name && i < cfg->nzones; i++)
        if (cfg->zones[i] != c->local && !strcmp(canh_tz_name(cfg->zones[i]), name))
            return cfg->zones[i];
    canh_tz_t *tz = NULL;
    char why[512];
    int rc = name ? canh_tz_load(&tz, name, why, sizeof(why))
                  : canh_tz_load_local(&tz, why, sizeof(why));
    if (!name)
        c->local_tried = 1;
    if (rc == CANH_ENOMEM) {
        c->oom = 1;
        return NULL;
    }
    if (rc) {
        if (name)
            add_error(c, line, "%s: %s", key, why);
        else
            add_error(c, line, "%s: no 'timezone', and the machine's zone cannot be read: "
                      "%s; set 'timezone' in this file (an IANA name such as "
                      "Asia/Ho_Chi_Minh) or fix TZ", key, why);
        return NULL;
    }
    canh_tz_t **z = realloc(cfg->zones, (cfg->nzones + 1) * sizeof(*z));
    if (!z) {
        canh_tz_free(tz);
        c->oom = 1;
        return NULL;
    }
    cfg->zones = z;
    cfg->zones[cfg->nzones++] = tz;
    if (!name)
        c->local = tz;
    return tz;
}

static void load_input(ctx_t *c, yaml_node_t *n, size_t idx, canh_config_input_t *in)
{
    char shown[32], tl[64];
    int seen[NOPTS];
    memset(seen, 0, sizeof(seen));
    snprintf(shown, sizeof(shown), "inputs[%zu]", idx);
    in->line = line_of(n);
    in->type = -1;
    if (n->type != YAML_MAPPING_NODE) {
        add_error(c, line_of(n), "%s: an input must be a map with a 'type' and its keys, got %s",
                  shown, n->type == YAML_SCALAR_NODE ? "a single value" : kind_of(n));
        return;
    }
    const opt_t *to = find_opt("inputs[].type");
    yaml_node_t *tv = NULL;
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        yaml_node_t *k = node(c, p->key);
        if (k->type == YAML_SCALAR_NODE && !strcmp((const char *)k->data.scalar.value, "type") && !tv)
            tv = node(c, p->value);
    }
    if (!tv) {
        types_list(IN_ALL, tl, sizeof(tl));
        add_error(c, in->line, "%s: no 'type' (one of %s)", shown, tl);
    } else {
        char disp[48];
        snprintf(disp, sizeof(disp), "%s.type", shown);
        int t = -1;
        set_value(c, to, disp, tv, &t, line_of(tv));
        in->type = t;
    }
    if (in->type >= 0 && apply_defaults(in, 1, in->type))
        c->oom = 1;
    walk(c, n, "inputs[]", shown, in, in->type, seen);
    if (in->type < 0)
        return;

    const char *tn = canh_input_type_name(in->type);
    for (size_t i = 0; i < NOPTS; i++) {
        const opt_t *o = &opts[i];
        if (!(o->required & (1u << in->type)) || !strcmp(o->key, "inputs[].type"))
            continue;
        if (!seen[i])
            add_error(c, in->line, "%s: a %s input needs '%s'", shown, tn, o->key + 9);
        else if (o->type == T_LIST && !((canh_config_list_t *)((char *)in + o->off))->n)
            add_error(c, seen[i], "%s.%s: a %s input needs at least one", shown, o->key + 9, tn);
    }

    if (in->listen) {
        char why[200];
        if (parse_listen(in->listen, &in->listen_host, &in->listen_port, &in->listen_ipv6,
                         why, sizeof(why)))
            add_error(c, seen[find_opt("inputs[].listen") - opts], "%s.listen: %s", shown, why);
        else if (!in->listen_host)
            c->oom = 1;
    }
    if (in->timezone) {
        char key[48];
        snprintf(key, sizeof(key), "%s.timezone", shown);
        in->tz = zone(c, in->timezone, seen[find_opt("inputs[].timezone") - opts], key);
    }
    if (in->tls_require_client_cert && !in->tls_ca)
        add_error(c, seen[find_opt("inputs[].tls.require_client_cert") - opts],
                  "%s.tls.require_client_cert: needs 'tls.ca', the CA that signs the client "
                  "certificates", shown);
    if (!in->name) {
        if (in->listen ? asprintf(&in->name, "%s://%s", tn, in->listen) < 0
            : in->topics.n ? asprintf(&in->name, "kafka://%s", in->topics.v[0]) < 0
            : in->interface ? asprintf(&in->name, "pcap://%s", in->interface) < 0
                           : !(in->name = strdup(in->paths.n ? in->paths.v[0] : tn))) {
            in->name = NULL;
            c->oom = 1;
        }
    }
}

/* Same protocol (UDP, or TCP for tcp and tls) on the same address. */
static int same_socket(const canh_config_input_t *a, const canh_config_input_t *b)
{
    if (!a->listen_host || !b->listen_host || a->listen_port != b->listen_port)
        return 0;
    if ((a->type == CANH_INPUT_UDP) != (b->type == CANH_INPUT_UDP))
        return 0;
    return !strcmp(a->listen_host, b->listen_host);
}

static void load_inputs(ctx_t *c, yaml_node_t *seq, int line)
{
    canh_config_t *cfg = c->cfg;
    if (seq->type != YAML_SEQUENCE_NODE) {
        if (!is_null(seq))
            add_error(c, line, "inputs: must be a list of inputs (each item starts with '- type:'), "
                      "got %s", seq->type == YAML_SCALAR_NODE ? "a single value" : kind_of(seq));
        return;
    }
    for (size_t i = 0; i < cfg->ninputs; i++)       /* a second 'inputs' was refused as a duplicate */
        input_free(&cfg->inputs[i]);
    free(cfg->inputs);
    cfg->ninputs = 0;
    size_t n = (size_t)(seq->data.sequence.items.top - seq->data.sequence.items.start);
    if (!n)
        return;
    if (!(cfg->inputs = calloc(n, sizeof(*cfg->inputs)))) {
        c->oom = 1;
        return;
    }
    for (size_t i = 0; i < n; i++) {
        canh_config_input_t *in = &cfg->inputs[i];
        cfg->ninputs = i + 1;
        load_input(c, node(c, seq->data.sequence.items.start[i]), i, in);
        for (size_t j = 0; j < i; j++) {
            canh_config_input_t *o = &cfg->inputs[j];
            if (same_socket(in, o))
                add_error(c, in->line, "inputs[%zu]: %s %s is already taken by inputs[%zu] "
                          "(line %d)", i, in->type == CANH_INPUT_UDP ? "UDP" : "TCP",
                          in->listen, j, o->line);
            else if (in->name && o->name && !strcmp(in->name, o->name))
                add_error(c, in->line, "inputs[%zu]: the name '%s' is already used by "
                          "inputs[%zu] (line %d); give each input its own 'name'",
                          i, in->name, j, o->line);
            if (in->type == CANH_INPUT_STDIN && o->type == CANH_INPUT_STDIN)
                add_error(c, in->line, "inputs[%zu]: standard input can be read only once "
                          "(inputs[%zu] on line %d reads it already)", i, j, o->line);
        }
    }
}

static void load_root(ctx_t *c, yaml_node_t *root)
{
    int seen[NOPTS];
    memset(seen, 0, sizeof(seen));
    if (!root || is_null(root)) {
        add_error(c, 1, "the file is empty; a canh config needs at least an 'inputs' list "
                  "(see docs/config.md)");
        return;
    }
    if (root->type != YAML_MAPPING_NODE) {
        add_error(c, line_of(root), "a canh config must be a map of keys (workers:, inputs:, ...), "
                  "got %s", root->type == YAML_SCALAR_NODE ? "a single value" : kind_of(root));
        return;
    }
    walk(c, root, "", "", c->cfg, -1, seen);
    if (!c->cfg->outputs.kafka.brokers && !seen[find_opt("outputs.kafka.brokers") - opts])
        for (size_t i = 0; i < NOPTS; i++)
            if (seen[i] && !strncmp(opts[i].key, "outputs.kafka.", 14)) {
                add_error(c, seen[i], "%s: the Kafka output needs 'outputs.kafka.brokers' too",
                          opts[i].key);
                break;
            }
    if (default_alerts(c->cfg))
        c->oom = 1;
    /* the user canh switches to must be there (engine/priv.c) */
    char why[512];
    if (canh_priv_lookup(&c->cfg->priv, c->cfg->user, c->cfg->group, why, sizeof(why)) != CANH_OK) {
        int l = seen[find_opt(c->cfg->user ? "user" : "group") - opts];
        if (!strncmp(why, "group:", 6))
            l = seen[find_opt("group") - opts];
        add_error(c, l ? l : 1, "%s", why);
    }
    /* the zone of the inputs that name none: the top level's, else the machine's */
    const canh_tz_t *dflt = NULL;
    int tzline = seen[find_opt("timezone") - opts];
    if (c->cfg->timezone)
        dflt = zone(c, c->cfg->timezone, tzline, "timezone");
    for (size_t i = 0; i < c->cfg->ninputs; i++) {
        canh_config_input_t *in = &c->cfg->inputs[i];
        if (in->timezone || in->type < 0)
            continue;
        if (!dflt && !c->cfg->timezone && !c->local_tried) {
            char key[32];
            snprintf(key, sizeof(key), "inputs[%zu]", i);
            dflt = zone(c, NULL, in->line, key);
        }
        in->tz = dflt;
    }
    if (!c->cfg->ninputs && !c->nerr) {
        int l = seen[find_opt("inputs") - opts];
        add_error(c, l ? l : 1, "no inputs: add an 'inputs' list with at least one input "
                  "(see docs/config.md)");
    }
}

static int by_line(const void *a, const void *b)
{
    const cerr_t *x = a, *y = b;
    if (x->line != y->line)
        return x->line < y->line ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Hands the errors over; returns CANH_EINVAL if there was any. */
static int report(ctx_t *c, canh_config_error_fn fn, void *ud, char *err, size_t errlen)
{
    if (c->oom) {
        snprintf(err, errlen, "%s: out of memory", c->file);
        for (size_t i = 0; i < c->nerr; i++)
            free(c->errs[i].text);
        free(c->errs);
        return CANH_ENOMEM;
    }
    if (c->dropped)
        add_error(c, INT32_MAX, "%zu more errors not shown", c->dropped);
    if (!c->nerr)
        return CANH_OK;
    qsort(c->errs, c->nerr, sizeof(*c->errs), by_line);
    for (size_t i = 0; i < c->nerr; i++)
        if (fn)
            fn(ud, c->errs[i].line == INT32_MAX ? 0 : c->errs[i].line, c->errs[i].text);
    size_t total = c->nerr + c->dropped - (c->dropped ? 1 : 0);
    if (total > 1)
        snprintf(err, errlen, "%s (and %zu more error%s)", c->errs[0].text, total - 1,
                 total > 2 ? "s" : "");
    else
        snprintf(err, errlen, "%s", c->errs[0].text);
    for (size_t i = 0; i < c->nerr; i++)
        free(c->errs[i].text);
    free(c->errs);
    return CANH_EINVAL;
}

static void yaml_error(ctx_t *c, yaml_parser_t *p)
{
    char ctxt[128] = "";
    if (p->context)
        snprintf(ctxt, sizeof(ctxt), " (%s on line %d)", p->context, (int)p->context_mark.line + 1);
    add_error(c, (int)p->problem_mark.line + 1, "YAML syntax error: %s%s",
              p->problem ? p->problem : "unknown problem", ctxt);
}

static int load_mem(canh_config_t **out, const char *name, const char *dir, const char *yaml,
                    size_t len, canh_config_error_fn fn, void *ud, char *err, size_t errlen)
{
    ctx_t c = { .file = name, .dir = dir };
    const char *bad = table_check();
    if (bad) {
        snprintf(err, errlen, "internal error: config key '%s' fills a field of the wrong type", bad);
        return CANH_EINVAL;
    }
    yaml_parser_t parser;
    yaml_document_t doc;
    canh_config_t *cfg = calloc(1, sizeof(*cfg));
    if (!cfg || !yaml_parser_initialize(&parser)) {
        free(cfg);
        snprintf(err, errlen, "%s: out of memory", name);
        return CANH_ENOMEM;
    }
    c.cfg = cfg;
    if (apply_defaults(cfg, 0, -1) || !(cfg->path = strdup(name)))
        c.oom = 1;
    yaml_parser_set_input_string(&parser, (const unsigned char *)yaml, len);
    if (!yaml_parser_load(&parser, &doc)) {
        yaml_error(&c, &parser);
    } else {
        c.doc = &doc;
        load_root(&c, yaml_document_get_root_node(&doc));
        yaml_document_t doc2;
        if (!yaml_parser_load(&parser, &doc2)) {
            yaml_error(&c, &parser);
        } else {
            yaml_node_t *r2 = yaml_document_get_root_node(&doc2);
            if (r2)
                add_error(&c, line_of(r2), "a second YAML document ('---'); canh reads one");
            yaml_document_delete(&doc2);
        }
        yaml_document_delete(&doc);
    }
    yaml_parser_delete(&parser);
    int rc = report(&c, fn, ud, err, errlen);
    if (rc) {
        canh_config_free(cfg);
        return rc;
    }
    *out = cfg;
    return CANH_OK;
}

int canh_config_load_string(canh_config_t **out, const char *name, const char *yaml, size_t len,
                            canh_config_error_fn fn, void *ud, char *err, size_t errlen)
{
    *out = NULL;
    if (errlen)
        err[0] = '\0';
    return load_mem(out, name ? name : "(string)", NULL, yaml, len, fn, ud, err, errlen);
}

#define MAX_CONFIG_BYTES (4u << 20)

int canh_config_load(canh_config_t **out, const char *path, canh_config_error_fn fn, void *ud,
                     char *err, size_t errlen)
{
    *out = NULL;
    if (errlen)
        err[0] = '\0';
    FILE *f = fopen(path, "rb");
    if (!f) {
        int e = errno;
        snprintf(err, errlen, "%s: cannot open the config file: %s", path, strerror(e));
        if (fn)
            fn(ud, 0, err);
        return e == ENOENT ? CANH_ENOENT : CANH_EIO;
    }
    char *buf = malloc(MAX_CONFIG_BYTES + 1);
    size_t n = buf ? fread(buf, 1, MAX_CONFIG_BYTES + 1, f) : 0;
    int rd_err = ferror(f);
    fclose(f);
    if (!buf) {
        snprintf(err, errlen, "%s: out of memory", path);
        return CANH_ENOMEM;
    }
    if (rd_err || n > MAX_CONFIG_BYTES) {
        snprintf(err, errlen, rd_err ? "%s: cannot read the config file"
                 : "%s: larger than 4 MiB; is it really a canh config?", path);
        if (fn)
            fn(ud, 0, err);
        free(buf);
        return CANH_EIO;
    }
    /* relative paths in the file are taken from its directory */
    char *dir = NULL;
    const char *slash = strrchr(path, '/');
    if (slash && !(dir = strndup(path, slash == path ? 1 : (size_t)(slash - path)))) {
        free(buf);
        snprintf(err, errlen, "%s: out of memory", path);
        return CANH_ENOMEM;
    }
    int rc = load_mem(out, path, dir, buf, n, fn, ud, err, errlen);
    free(dir);
    free(buf);
    return rc;
}

/* ---- the reference, in markdown ---- */

static void md_default(FILE *out, const opt_t *o)
{
    if (o->def) {
        fprintf(out, "`%s`", o->def);
    } else if (o->defdoc) {
        fputs(o->defdoc, out);
    } else {
        fputs("none", out);
    }
}

static void md_allowed(FILE *out, const opt_t *o)
{
    char a[64], b[64];
    switch (o->type) {
    case T_BOOL:
        fputs("`true`, `false`", out);
        break;
    case T_INT:
        fprintf(out, "%" PRId64 " … %" PRId64, o->min, o->max);
        if (o->allowed)
            fprintf(out, ", `%s`", o->allowed);
        break;
    case T_SIZE:
        fmt_size(o->min, a, sizeof(a));
        fmt_size(o->max, b, sizeof(b));
        fprintf(out, "%s … %s", a, b);
        break;
    case T_DURATION:
        fmt_duration(o->min, a, sizeof(a));
        fmt_duration(o->max, b, sizeof(b));
        fprintf(out, "%s … %s", a, b);
        break;
    case T_ENUM:
        for (int i = 0; enum_value(o->allowed, i, a, sizeof(a)); i++)
            fprintf(out, "%s`%s`", i ? ", " : "", a);
        break;
    case T_MODE:
        fprintf(out, "`%04" PRIo64 "` … `%04" PRIo64 "` (octal)", o->min, o->max);
        break;
    default:
        break;
    }
}

static const char *md_type(const opt_t *o)
{
    switch (o->type) {
    case T_BOOL:     return "bool";
    case T_INT:      return "integer";
    case T_SIZE:     return "size";
    case T_DURATION: return "duration";
    case T_MODE:     return "file mode";
    case T_STRING:   return "string";
    case T_PATH:     return "path";
    case T_ENUM:     return "enum";
    case T_LIST:     return o->flags & F_WORDS ? "list of strings" : "list of paths";
    case T_MAP:      return "map";
    case T_INPUTS:   return "list of inputs";
    case T_SUPPRESS: return "list, or path";
    default:         return "?";
    }
}

static void md_row(FILE *out, const opt_t *o, int inputs_col)
{
    fprintf(out, "| `%s` | %s | ", o->key, md_type(o));
    if (inputs_col) {
        char v[16];
        for (int t = 0, k = 0; t <= CANH_INPUT_PCAP; t++) {
            if (!(o->inputs & (1u << t)))
                continue;
            snprintf(v, sizeof(v), "%s", canh_input_type_name(t));
            fprintf(out, "%s`%s`%s", k++ ? ", " : "", v,
                    (o->required & (1u << t)) && o->required != o->inputs ? " (required)" : "");
        }
        if (o->required && o->required == o->inputs)
            fputs(o->inputs == IN_ALL ? " (required)" : ", required", out);
        fputs(" | ", out);
    }
    md_default(out, o);
    fputs(" | ", out);
    md_allowed(out, o);
    fprintf(out, " | %s |\n", o->doc);
}

void canh_config_doc_markdown(FILE *out)
{
    fputs("<!-- Generated by tools/config-doc from the table in engine/config.c; "
          "edit that, then run 'make docs'. -->\n"
          "# canh.yml reference\n\n"
          "`canh run -c canh.yml` starts the daemon; `canh run -c canh.yml --check` reads the "
          "configuration and the rules, reports every problem and exits. "
          "[conf/canh.yml](../conf/canh.yml) is a commented example.\n\n"
          "What the daemon does with it (inputs, backpressure, SIGHUP rule reload, the stats "
          "record) is in the README, under *The daemon*; Kafka (output, spool, input, "
          "consumer groups) under *Kafka*.\n\n"
          "Every key below is the whole list: any other key is an error. Each problem is "
          "reported as `FILE:LINE: message`, all of them at once, and a misspelt key comes "
          "with a suggestion:\n\n"
          "```\n"
          "canh.yml:12: unknown key 'inputs[0].lisen' (did you mean 'listen'?)\n"
          "canh.yml:7: workers: must be an integer from 1 to 256 or 'auto', got 'many'\n"
          "```\n\n"
          "Keys are written here with dots for nesting: `limits.max_message_size` is\n\n"
          "```yaml\n"
          "limits:\n"
          "  max_message_size: 64KiB\n"
          "```\n\n"
          "Values:\n\n"
          "- **size**: bytes, with an optional unit: `65536`, `64KiB`, `1MiB`, `1GiB` "
          "(powers of 1024) or `64KB`, `1MB` (powers of 1000).\n"
          "- **duration**: a number with a unit, `ms`, `s`, `m`, `h` or `d`: `500ms`, `10s`, "
          "`2m`, `1m30s`. A bare number other than `0` is refused, since it could mean "
          "seconds or milliseconds.\n"
          "- **bool**: `true` or `false` (`yes`/`no`, `on`/`off` too).\n"
          "- **path**: relative paths are taken from the directory of the configuration "
          "file, not the one canh runs in.\n"
          "- **list of paths**: a YAML list, or a single path.\n"
          "- `~` (or nothing) after a string, path or list key leaves it at its default.\n\n",
          out);

    fputs("## Top level\n\n"
          "| key | type | default | allowed | description |\n"
          "|---|---|---|---|---|\n", out);
    for (size_t i = 0; i < NOPTS; i++)
        if (!strchr(opts[i].key, '.') && opts[i].type != T_INPUTS)
            md_row(out, &opts[i], 0);

    for (size_t s = 0; s < CANH_ARRAY_LEN(section_docs); s++) {
        const char *sec = section_docs[s][0];
        size_t sl = strlen(sec);
        int inputs = !strcmp(sec, "inputs");
        fprintf(out, "\n## %s\n\n%s\n\n", sec, section_docs[s][1]);
        if (inputs) {
            const opt_t *o = find_opt("inputs");
            fprintf(out, "%s The `inputs` column says which types of input take each key.\n\n",
                    o->doc);
            fputs("| key | type | inputs | default | allowed | description |\n"
                  "|---|---|---|---|---|---|\n", out);
        } else {
            fputs("| key | type | default | allowed | description |\n"
                  "|---|---|---|---|---|\n", out);
        }
        for (size_t i = 0; i < NOPTS; i++) {
            const char *k = opts[i].key;
            if (inputs ? is_input_key(&opts[i]) : !strncmp(k, sec, sl) && k[sl] == '.')
                md_row(out, &opts[i], inputs);
        }
        if (inputs)
            fputs("\nA `tls` input needs `tls.cert` and `tls.key`; `listen` addresses may not be "
                  "shared by two inputs of the same protocol (UDP, or TCP for `tcp` and `tls`); "
                  "`stdin` may be read by one input only. Each input's `name` must be unique.\n",
                  out);
    }
    fputs("\n`workers: auto` is resolved by the daemon as the number of online cores "
          "(`sysconf(_SC_NPROCESSORS_ONLN)`), so the same file suits every machine.\n", out);
}
