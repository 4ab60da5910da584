/*
 * engine/pipeline_int.h -- the pipeline's own structures, shared by its two
 * files: pipeline.c (lines: feeding, workers, writing in order) and
 * pipeline_packets.c (packets: decoding on the feeder, shares of the
 * flows worked in order, alerts merged into packet order). Not for use
 * outside them; see pipeline.h for the ownership of each part.
 */
#ifndef CANH_PIPELINE_INT_H
#define CANH_PIPELINE_INT_H

#include <pthread.h>
#include <stdatomic.h>

#include "pipeline.h"
#include "queue.h"
#include "network.h"
#include "../sinks/alert.h"

#define BATCH_LINES     512                   /* default limits.batch_lines */
#define AUDIT_SLACK     64                    /* room past it to finish an audit group */
#define BATCH_BYTES     (256u << 10)          /* initial bytes per batch; grows */
#define MAX_HITS        4096
#define WAITING_MS      500                   /* opts.waiting while there is no free batch */
#define HOLD_SLOTS      1024                  /* streams with an audit group held back at once */
#define HOLD_INDEX      2048                  /* stream -> slot hash index (power of 2) */
#define HOLD_LINES      64                    /* records held back per group; more go on */
#define HOLD_KEEP       (1u << 20)            /* a slot keeps at most this much memory */
#define WRITABLE_MS     1000                  /* a full non-blocking pipe is polled this long */
#define RAW_CHUNK       (96u << 10)           /* canh scan: bytes read per batch (feed_fd) */

typedef struct perr {
    uint64_t line;          /* line index in its batch (made a line number when written) */
    const char *why;        /* static text from the parser */
} perr_t;

/* A rule set, the suppression list bound to it (checked by the worker
 * after matching: a suppressed alert is recorded as a hit to count, not
 * formatted), and who holds them (see the top of this file). */
typedef struct gen {
    const canh_ruleset_t *rs;
    const canh_suppress_t *sup;   /* bound to rs; NULL: none */
    const canh_nids_t *nids;      /* the network rules that came with it; NULL: none */
    void *ud;                   /* for the release function */
    atomic_uint refs;
    uint64_t number;            /* 1 for the first set, +1 per swap */
} gen_t;

/* An audit record group of one stream (canh_pipeline_line_from), held
 * back until the stream moves on, so that the lines of other streams of
 * the same input cannot come between its records. */
typedef struct held {
    uintptr_t stream;
    uint32_t input;
    int fresh;                  /* a record came since the last idle tick */
    uint64_t serial;
    uint64_t first_fed;         /* its first record: the input's fed count then */
    uint32_t n;
    uint32_t len[HOLD_LINES];
    uint64_t pos[HOLD_LINES];   /* each record's origin pos */
    canh_buf_t data;            /* the records, one after the other */
    canh_origin_t origin;       /* where they came from (its name in oname); kind 0: not said */
    canh_buf_t oname;
} held_t;

/* One alert, for the counts and the sink: its rule, the host it
 * names, and where its JSON is. */
typedef struct hit {
    const canh_rule_t *rule;
    uint32_t host_off, host_len;   /* in the batch's hostbuf; len 0: none */
    size_t json_off, json_len;     /* in the batch's alerts (without the newline) */
    int suppressed;                /* held back by the suppression list: only counted */
} hit_t;

/* A rule that could not decide on some events of a batch (a PCRE2 limit:
 * canh_matcher_take_limits), counted when the batch is written. */
typedef struct lim {
    const canh_rule_t *rule;
    uint64_t events;
    int rc;                        /* the first PCRE2 error */
} lim_t;

/* Where lines of a batch came from: one entry per run of lines with the
 * same origin (but pos), its name in the batch's onames. */
typedef struct borigin {
    int kind;
    uint32_t name_off, name_len;   /* in onames; len 0 and kind FILE...: none */
    int has_name;
    uint64_t ident[2];
} borigin_t;

typedef struct batch {
    uint64_t seq;           /* position in the whole run */
    uint32_t input;         /* index into the inputs */
    uint32_t n;             /* lines, empty ones included (raw: set by the worker) */
    int raw;                /* data is whole lines as read, not split yet (feed_fd) */
    uint64_t min_fed;       /* the earliest-given of its lines: its fed count */
    size_t  *off, *len;     /* batch_max entries each */
    uint64_t *pos;          /* batch_max: each line's origin pos */
    uint32_t *src;          /* batch_max: each line's entry in orig */
    borigin_t *orig;        /* batch_max: where its lines came from */
    uint32_t norig;
    canh_buf_t onames;
    uint64_t base_off;      /* raw: the byte offset of data[0] in its file (orig[0]) */
    char    *data;
    size_t   used, cap;
    canh_buf_t alerts;      /* JSON lines, filled by a worker */
    gen_t   *gen;           /* the rule set that matched it (held) */
    hit_t   *hits;          /* one per alert in `alerts` */
    size_t   nhits, hits_cap;
    canh_buf_t hostbuf;
    perr_t  *errs;
    uint32_t nerr, errs_cap;   /* errs_cap: batch_max + 1, more for a raw batch */
    lim_t   *lims;          /* rules that hit a PCRE2 limit (rare: grown on demand) */
    size_t   nlims, lims_cap;
    /* a batch of packets (pipeline_packets.c): data holds their bytes */
    int      packets;
    canh_pkt_t *pkts;       /* PKT_BATCH entries, made with the first packet batch */
    uint32_t npkts;
    int      end;           /* its capture ended after these: every flow ends */
    int64_t  last_us;       /* the newest packet time in it (expiry) */
    uint64_t pseq;          /* its place among the packet batches */
    atomic_int shares_left; /* shares not yet worked */
    struct pshare *sh;      /* per share: its alerts of this batch */
    struct ptoken *tok;     /* per share: the work queue's item for it */
} batch_t;

typedef struct canh_pipeline pipeline_t;

/* Packets: a share's alerts of one batch (pipeline_packets.c). */
typedef struct pshare {
    canh_buf_t alerts;
    hit_t *hits;
    uint64_t *keys;         /* per hit: its order (network.h) */
    size_t nhits, cap;
} pshare_t;

/* The work queue's item for one share of a packet batch: its address with
 * the low bit set (a batch's own address has it clear). */
typedef struct ptoken {
    batch_t *b;
    int k;
} ptoken_t;

/* A share of the flows: its state, and the order in which it is worked. */
typedef struct share {
    canh_net_share_t *ns;
    struct gen *gen;        /* the rule set its network rules are (held) */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    uint64_t next_pseq;     /* the packet batch it works next */
    canh_net_counts_t snap; /* its counts as of its last batch (under mu, for readers) */
} share_t;

/* The alerts output's writing state (the writing worker's), and its
 * counts (out_mu). */
typedef struct outw {
    int tail_fd;                /* a dup of the descriptor that holds the start of a line
                                   not yet whole; -1: none */
    size_t tail;                /* bytes of that line written */
    int64_t fail_since;         /* mono ms when the failure going on began; 0: none */
    canh_retry_t retry;         /* its tries and log lines */
    int gave_up;                /* a stop made it give up (logged once) */
    canh_output_counts_t c;     /* blocked_s: failures that ended */
} outw_t;

typedef struct worker {
    pipeline_t *pl;
    pthread_t th;
    canh_parser_t *parser;
    canh_matcher_t *matcher;    /* built for gen->rs */
    gen_t *gen;                 /* held */
    canh_alert_fmt_t fmt;
    canh_stats_t stats;         /* events, parse errors (alerts: in pl->agg) */
    int64_t cur_input;
    batch_t *b;             /* the batch being worked */
    int64_t now_ms;
    uint32_t hits[MAX_HITS];
    /* counters published once per batch, for canh_pipeline_counts */
    pthread_mutex_t snap_mu;
    uint64_t snap_events, snap_parse_errors, snap_batches;
    double cpu_s;               /* its CPU time, set as it exits */
} worker_t;

struct canh_pipeline {
    canh_pipeline_opts_t o;
    int nw;                       /* workers */
    canh_parse_opts_t *popts;     /* per input */
    char **names;                 /* per input, for messages */
    uint8_t *named;               /* per input: its name is an input's in canh.yml (origin) */
    uint64_t *lines;              /* per input: lines given so far */
    size_t ninputs;
    batch_t *pool;
    size_t npool;
    uint32_t batch_lines, batch_max;   /* lines per batch; + room for an audit group */
    canh_queue_t free_q, work_q;
    worker_t *w;
    /* feeder state */
    batch_t *cur;
    held_t *held;                 /* HOLD_SLOTS: audit groups held back (line_from) */
    size_t nheld;
    uint16_t held_index[HOLD_INDEX];   /* stream -> slot + 1 (0: empty), linear probing */
    uint64_t *held_lines;         /* per input: lines held back now */
    uint64_t *fed;                /* per input: lines given, held ones included */
    uint64_t *sub_min_fed;        /* by seq % npool: a submitted batch's min_fed ... */
    uint32_t *sub_input;          /* ... and input, until it is written */
    uint64_t next_seq;
    int64_t waited_ms;            /* when a wait for a free batch last ended */
    int64_t waiting_due;          /* when opts.waiting runs next, while waits go on */
    int started;                  /* worker threads running */
    /* writing (whichever worker completes the next batch in order) */
    pthread_mutex_t done_mu;      /* guards pending, next_write, writing */
    batch_t **pending;            /* completed, by seq % npool, until written */
    uint64_t next_write;          /* seq of the next batch to write */
    uint64_t written_seq;         /* batches written (seq < this); atomic */
    int writing;                  /* a worker is writing: it also writes what others complete */
    uint64_t *shown;              /* parse errors shown, per input */
    uint64_t *written_lines;      /* lines written so far, per input (for line numbers) */
    canh_sink_item_t *items;      /* a batch's alerts for the sink */
    size_t items_cap;
    outw_t ow;                    /* the alerts output (see the top) */
    pthread_mutex_t out_mu;       /* guards ow.c and ow.fail_since for readers */
    atomic_int_fast64_t stop_at;  /* mono ms from which a failing output gives up; 0: not
                                     stopping */
    atomic_uint_fast64_t sink_failures;
    pthread_mutex_t agg_mu;       /* guards agg for readers on other threads */
    canh_stats_t agg;             /* alerts by level, rule and host */
    double feeder_cpu0;           /* the feeding thread's CPU time at start */
    /* rule sets */
    pthread_mutex_t gen_mu;
    gen_t *gen;                   /* current (held) */
    atomic_uint_fast64_t matcher_failures;   /* a worker could not take a new set */
    /* packets (pipeline_packets.c) */
    canh_decoder_t *dec;          /* the feeder's */
    share_t *shares;              /* nw of them, made with the first packet */
    uint64_t next_pseq;           /* the feeder's count of packet batches */
    int pdlt;                     /* the link type of the capture being fed */
    char **pname;                 /* per input: the capture's path or interface */
    uint8_t *plive;               /* per input: an interface */
    pthread_mutex_t net_mu;       /* guards net (the shares' counts, summed as they finish) */
    canh_net_counts_t net;
};

/* pipeline.c's steps that pipeline_packets.c uses too */
void     canh_pl_complete(pipeline_t *pl, batch_t *b);   /* a batch is worked: write in order */
int      canh_pl_submit(pipeline_t *pl);                 /* the batch being filled goes to work */
batch_t *canh_pl_begin_batch(pipeline_t *pl, uint32_t input, int raw);
void     canh_pl_take_rules(worker_t *w);                /* the current rule set, if new */
void     canh_pl_gen_put(pipeline_t *pl, gen_t *g);      /* lets go of a rule set */
/* and pipeline_packets.c's that pipeline.c calls */
int      canh_pl_submit_packets(pipeline_t *pl, batch_t *b);   /* a token per share */
void     canh_pl_work_share(worker_t *w, ptoken_t *t);
void     canh_pl_packets_free(pipeline_t *pl);

#endif
