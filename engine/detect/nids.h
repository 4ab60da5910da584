/*
 * engine/detect/nids.h -- network rules: the common Suricata rule subset.
 *
 * Two halves, one header:
 *   nids_parse.c   rule text -> canh_nids_rule_t (header, options), with
 *                  variables from canh.yml ($HOME_NET, $HTTP_PORTS ...) and
 *                  the classification table; a rule that uses anything canh
 *                  does not support is refused (file, line, sid, keyword)
 *                  and never loaded in a weaker form;
 *   nids_match.c   rules -> Hyperscan databases of their fast patterns (a
 *                  hit wakes the rules it belongs to; their other contents
 *                  are confirmed when woken, as Suricata's MPM does): per
 *                  app-layer buffer, and for the payload and the stream
 *                  per group of rules a packet's header can satisfy
 *                  (protocol, direction, server port: Suricata's signature
 *                  group heads), the stream ones in Hyperscan's streaming
 *                  mode, so a pattern split across segments still
 *                  matches; and the evaluation of a woken rule: its
 *                  contents in order with their modifiers, pcre, flow,
 *                  flowbits, dsize, addresses and ports, threshold and
 *                  detection_filter.
 *
 * Thread: a rule set is built on one thread and is then immutable and
 * shared; a matcher (scratch, per-thread counters) belongs to one worker;
 * per-flow state (flowbits, Hyperscan streams) lives in the flow's
 * CANH_FLOW_EXT_DETECT slot, owned by the flow's worker.
 */
#ifndef CANH_NIDS_H
#define CANH_NIDS_H

#include <stddef.h>
#include <stdint.h>

#include "rule.h"
#include "sigma.h"                 /* canh_refuse_fn */
#include "../../parsers/app/app.h" /* buffers, transactions */
#include "../../parsers/packet/flow.h"

/* ---- the parsed rule ---- */

/* An address or port expression, as written ("[10.0.0.0/8,!10.1.0.0/16]",
 * "$HOME_NET", "any", "[80,8000:8080]"), variables resolved, flattened into
 * ranges with negation. The parser computes negations and nested lists as
 * set algebra: what it makes is sorted, disjoint, positive ranges (neg 0),
 * `any` when they cover everything. An IPv4 range holds its address in
 * lo[12..15] / hi[12..15] (the first 12 bytes 0); canh_nids_addr_match takes
 * the packet's layout (IPv4 in the first 4 bytes of ip). A match is: in some
 * positive range (or there is none) and in no negated one. */
typedef struct canh_nids_iprange {
    uint8_t ipver;                  /* 4 or 6 */
    uint8_t lo[16], hi[16];
    uint8_t neg;
} canh_nids_iprange_t;
typedef struct canh_nids_addr {
    int any;
    canh_nids_iprange_t *r;
    size_t n;
} canh_nids_addr_t;
typedef struct canh_nids_portrange {
    uint16_t lo, hi;
    uint8_t neg;
} canh_nids_portrange_t;
typedef struct canh_nids_ports {
    int any;
    canh_nids_portrange_t *r;
    size_t n;
} canh_nids_ports_t;

int canh_nids_addr_match(const canh_nids_addr_t *a, int ipver, const uint8_t ip[16]);
int canh_nids_ports_match(const canh_nids_ports_t *p, uint16_t port);

/* One content or pcre, in rule order. The parser also makes pcre of its
 * own, after the rule's matches (so nothing is relative to them): bsize as
 * "\A[\s\S]{N}\z"-like length checks on the buffer, and dotprefix as the
 * content without its leading dot plus "(?:\A|\.)content\z". */
typedef enum { CANH_NM_CONTENT = 1, CANH_NM_PCRE } canh_nids_mkind_t;
typedef struct canh_nids_m {
    canh_nids_mkind_t kind;
    uint8_t buffer;                 /* CANH_NB_*: the sticky buffer or modifier in force */
    uint8_t negated, nocase, startswith, endswith;
    uint8_t fast_pattern;           /* 1: fast_pattern (or its offset,length form: the
                                       whole content still matches); 2: fast_pattern:only */
    uint8_t relative;               /* distance/within given, or pcre /R: after the previous match */
    int32_t offset, depth, distance, within;
    uint8_t has_offset, has_depth, has_distance, has_within;
    uint8_t *bytes;                 /* content: the bytes (|hex| decoded); pcre: the pattern */
    size_t len;
    uint32_t pcre_flags;            /* PCRE2_* compile options from /flags (i, s, m, x ...) */
} canh_nids_m_t;

enum {                              /* flow: keyword */
    CANH_NF_ESTABLISHED = 0x01, CANH_NF_NOT_ESTABLISHED = 0x02, CANH_NF_STATELESS = 0x04,
    CANH_NF_TO_SERVER = 0x08, CANH_NF_TO_CLIENT = 0x10,
    CANH_NF_ONLY_STREAM = 0x20, CANH_NF_NO_STREAM = 0x40,
};
typedef enum { CANH_FB_SET = 1, CANH_FB_ISSET, CANH_FB_ISNOTSET, CANH_FB_UNSET, CANH_FB_TOGGLE,
               CANH_FB_NOALERT } canh_nids_fbop_t;
typedef struct canh_nids_flowbit {
    canh_nids_fbop_t op;
    uint32_t *bits;                 /* bit numbers (names interned per rule set); "a|b" = any of */
    size_t nbits;
    int all;                        /* "a&b": all of */
} canh_nids_flowbit_t;

typedef enum { CANH_NT_NONE = 0, CANH_NT_LIMIT, CANH_NT_THRESHOLD, CANH_NT_BOTH,
               CANH_NT_DETECTION_FILTER } canh_nids_ttype_t;
typedef enum { CANH_NTR_SRC = 1, CANH_NTR_DST, CANH_NTR_RULE, CANH_NTR_BOTH } canh_nids_track_t;

typedef struct canh_nids_rule {
    char *file;                     /* where it was read (rule text line) */
    uint32_t line;
    uint32_t gid, sid, rev;
    char *msg, *classtype;
    int priority;                   /* 1 (highest) .. 4+; from `priority` or the classtype */
    canh_level_t level;             /* canh's level from priority (the published table) */
    char **references, **metadata;  /* as written: "url,example.com" */
    size_t nreferences, nmetadata;
    enum { CANH_NA_ALERT = 1, CANH_NA_PASS, CANH_NA_DROP, CANH_NA_REJECT } action;
                                    /* canh is an IDS: drop and reject alert as alert */
    uint8_t proto;                  /* 0: ip (any), IPPROTO_TCP, _UDP, _ICMP (and ICMPv6) */
    canh_app_proto_t app;           /* `alert http ...`: CANH_APP_HTTP; else UNKNOWN (any) */
    canh_nids_addr_t src, dst;
    canh_nids_ports_t sport, dport;
    int bidirectional;              /* <> */
    uint32_t flow;                  /* CANH_NF_* */
    canh_nids_flowbit_t *flowbits;
    size_t nflowbits;
    int dsize_op;                   /* 0: none; '=', '<', '>', '!' (not equal), 'r' (lo<>hi,
                                       exclusive as Suricata: lo < dsize < hi); the number
                                       in dsize_lo (<=N is stored as <N+1, >=N as >N-1) */
    uint32_t dsize_lo, dsize_hi;
    canh_nids_m_t *m;
    size_t nm;
    struct {
        canh_nids_ttype_t type;
        canh_nids_track_t track;
        uint32_t count, seconds;
    } threshold;
    canh_rule_t *alert_rule;        /* what alerts are formatted from (title = msg, id = sid,
                                       level, tags; made by the parser) */
} canh_nids_rule_t;

typedef struct canh_nids_rulevec {
    canh_nids_rule_t **v;
    size_t n, cap;
    char **bitnames;                /* flowbit names, interned: bit i is bitnames[i] */
    size_t nbits;
    uint64_t *sids;                 /* parser's: gid:sid already loaded (duplicates refused) */
    size_t nsids, sidcap;
} canh_nids_rulevec_t;
void canh_nids_rulevec_free(canh_nids_rulevec_t *rv);
void canh_nids_rule_free(canh_nids_rule_t *r);      /* one rule taken out of a vector */
/* A buffer id's Suricata name ("http.uri"); "?" when out of range. */
const char *canh_nids_buffer_name(int id);

/* ---- loading ---- */

/* Variables (address-groups and port-groups) and the classification
 * table; canh_nids_vars_default() gives Suricata's defaults (HOME_NET
 * RFC 1918, EXTERNAL_NET !$HOME_NET, HTTP_PORTS 80 ...). */
typedef struct canh_nids_vars canh_nids_vars_t;
canh_nids_vars_t *canh_nids_vars_default(void);
int  canh_nids_vars_set(canh_nids_vars_t *v, const char *name, const char *value,
                        char *err, size_t errlen);
/* Every variable resolves to a non-empty address or port set (variables it
 * names included): CANH_OK, or CANH_EINVAL with the first bad one in err. */
int  canh_nids_vars_check(const canh_nids_vars_t *v, char *err, size_t errlen);
/* A classification.config file: "config classification: name,desc,priority". */
int  canh_nids_vars_classes(canh_nids_vars_t *v, const char *path, char *err, size_t errlen);
void canh_nids_vars_free(canh_nids_vars_t *v);

/* Parses a .rules file (one rule per line, '\' continues a line, '#'
 * comments): loaded rules are appended to out, refused ones reported
 * through refuse (file, line, "sid:N", reason naming the keyword).
 * CANH_OK, or CANH_EIO with a sentence in err if the file cannot be read. */
int canh_nids_load_file(const char *path, const canh_nids_vars_t *vars, canh_nids_rulevec_t *out,
                        canh_refuse_fn refuse, void *ud, char *err, size_t errlen);
/* A .rules file, or a folder: its *.rules files, recursively, in sorted
 * order (other files are left to the Sigma loader). Counts are added to
 * *loaded and *refused (either may be NULL); an unreadable file inside a
 * folder is a refusal, not an error. */
int canh_nids_load_path(const char *path, const canh_nids_vars_t *vars, canh_nids_rulevec_t *out,
                        canh_refuse_fn refuse, void *ud, size_t *loaded, size_t *refused,
                        char *err, size_t errlen);
/* 1 when path is a file named *.rules (network rules, not Sigma). */
int canh_nids_is_rules_path(const char *path);
/* One rule's text (tests; `file`/`line` for messages). */
int canh_nids_parse_rule(const char *text, const char *file, uint32_t line,
                         const canh_nids_vars_t *vars, canh_nids_rulevec_t *out,
                         canh_refuse_fn refuse, void *ud);

/* Priority -> canh level (the published table, README): 1 high, 2 medium,
 * 3 low, 4 and more informational; a rule's `metadata: signature_severity
 * Critical` raises priority 1 to critical (Major and the rest: no change). */
canh_level_t canh_nids_level(int priority, const canh_nids_rule_t *r);

/* ---- matching ---- */

typedef struct canh_nids canh_nids_t;               /* compiled, immutable */
typedef struct canh_nids_matcher canh_nids_matcher_t;  /* per worker */

typedef struct canh_nids_opts {
    const char *cache_dir;          /* as canh_build_opts_t's */
    uint32_t pcre2_match_limit, pcre2_depth_limit;
} canh_nids_opts_t;

/* Takes the rules out of *rv (left empty). A rule whose patterns cannot be
 * compiled is refused through refuse and left out. */
int  canh_nids_build(canh_nids_t **out, canh_nids_rulevec_t *rv, const canh_nids_opts_t *o,
                     canh_refuse_fn refuse, void *ud, char *err, size_t errlen);
void canh_nids_free(canh_nids_t *n);
size_t canh_nids_size(const canh_nids_t *n);      /* rules loaded (refused ones left out) */
typedef struct canh_nids_info {
    size_t rules, refused;          /* loaded; refused at build (pcre, too many buffers) */
    size_t patterns;                /* distinct fast patterns in Hyperscan */
    size_t databases;               /* Hyperscan databases (per app buffer, and per payload
                                       group in block and streaming mode) */
    size_t always;                  /* rules with no fast pattern: evaluated on their header */
    size_t cache_hits, cache_refused;   /* databases loaded from cache_dir; files refused */
    size_t bytes;                   /* the databases' size */
} canh_nids_info_t;
void canh_nids_info(const canh_nids_t *n, canh_nids_info_t *info);
/* Rule i of the set in the order given to canh_nids_build, or NULL (out of
 * range or refused at build). */
const canh_nids_rule_t *canh_nids_rule(const canh_nids_t *n, uint32_t i);

canh_nids_matcher_t *canh_nids_matcher_new(const canh_nids_t *n, char *err, size_t errlen);
void canh_nids_matcher_free(canh_nids_matcher_t *m);

/* What one inspection sees. */
typedef struct canh_nids_ctx {
    const canh_pkt_t *pkt;          /* the packet that led to it */
    canh_flow_t *flow;              /* NULL: no flow */
    int dir;                        /* 0 to the server, 1 to the client */
    struct { const uint8_t *p; size_t n; } buf[CANH_NB__COUNT];   /* p NULL: not set */
    uint64_t stream_new;            /* STREAM: bytes at the end of buf[STREAM] not
                                       inspected before (the rest is look-back) */
    const canh_app_tx_t *tx;        /* an app transaction, or NULL */
    uint64_t tx_id;                 /* with tx: the transaction's number in its flow and
                                       direction (1, 2 ...), the same each time the app layer
                                       gives it again (more of its body): a rule matches a
                                       transaction once, as in Suricata. 0: unknown (each
                                       inspection stands alone) */
} canh_nids_ctx_t;

typedef struct canh_nids_hit {
    const canh_nids_rule_t *rule;
    const canh_nids_ctx_t *ctx;
} canh_nids_hit_t;
typedef void (*canh_nids_alert_fn)(void *ud, const canh_nids_hit_t *hit);

/* Runs every rule that applies to ctx: per packet call it with PACKET
 * (and STREAM for TCP) set, per app transaction with the transaction's
 * buffers. Alerts (after threshold / detection_filter, flowbits noalert,
 * pass rules) go to fn, in rule-set order. */
void canh_nids_inspect(canh_nids_matcher_t *m, const canh_nids_ctx_t *ctx,
                       canh_nids_alert_fn fn, void *ud);
/* New bytes of a TCP direction, for the streaming Hyperscan scan (the
 * flow's detect state); call before canh_nids_inspect of the packet. */
void canh_nids_stream(canh_nids_matcher_t *m, canh_flow_t *f, int dir, const uint8_t *data,
                      size_t len, int flags);
/* Frees a flow's detect state (the flow table's ext_free for its slot). */
void canh_nids_flow_free(void *detect_state);

typedef struct canh_nids_counts {
    uint64_t inspections, rules_evaluated, alerts, suppressed_threshold, pcre2_limit;
    uint64_t eval_limit;            /* rule evaluations that gave up: too many content
                                       positions to try (counted as no match) */
} canh_nids_counts_t;
void canh_nids_matcher_counts(const canh_nids_matcher_t *m, canh_nids_counts_t *c);

#endif
