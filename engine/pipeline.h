/*
 * engine/pipeline.h -- the multithreaded scan: reader -> workers, in order.
 *
 *   reader (the calling thread)  fills batches, numbered in input order,
 *       never splitting an audit record group, never mixing two inputs:
 *       the daemon gives it lines (canh_pipeline_line*), copied into
 *       batches of batch_lines; canh scan reads each file in chunks of
 *       96 KiB straight into the batches, cut after a whole line, which
 *       the workers split into lines (the reader then does nothing per
 *       line, and is no bottleneck when the workers take every core);
 *   workers (N threads)  each take a whole batch: parse, match, format the
 *       alerts into the batch's own buffer, count into their own stats.
 *       The worker that completes the next batch due in input order also
 *       writes it and any completed ones after it: their alerts (to the
 *       output stream and/or to a sink: the Kafka spool) and parse-error
 *       messages, then recycles them. One worker writes at a time.
 *
 * Writing to the alerts output (a FILE, written with write(2) on its
 * descriptor, under the stream's lock, so a reopen never splits a batch)
 * never drops: a failed write (a full disk, a quota, an I/O error) is
 * retried from the first byte not written (after 0.1 s, doubling to 1 s),
 * while the pipeline and the inputs wait, until it works. A line started
 * in a file is finished in that same file, even if the output was reopened
 * meanwhile. The failure is logged when it begins, every 30 s while it
 * lasts, and when it ends, and shown in the counts (canh_output_counts_t).
 * Only once the process stops (canh_pipeline_stopping, or a SIGTERM or
 * SIGINT pending) is there an end to it: after stop_timeout_ms the alerts
 * that cannot be written are counted as not written (a line begun is cut
 * off again), and each later write is tried once. The sink (Kafka) keeps
 * its own state: a sink that fails never makes the file skip anything, nor
 * the other way round.
 *
 * Writing also counts alerts by level, rule and host, so the counts are
 * read from one place. An alert the suppression list holds back (checked
 * by the worker after matching) is not formatted or written, only
 * counted, by rule, in the same place.
 *
 * Rule sets can be swapped while it runs (canh_pipeline_set_rules): each
 * worker takes the new set at its next batch; a set is released once no
 * worker and no batch in flight uses it.
 *
 * Batches come from a fixed pool: when every batch is in use the reader
 * waits (backpressure), so memory is bounded whatever the input. Because
 * batches are written in input order and each batch is parsed from a clean
 * parser state, the output is the same for any number of workers (only
 * event.created, the time of detection, differs between runs).
 *
 * Thread: call from one thread; it starts and joins all the others.
 */
#ifndef CANH_PIPELINE_H
#define CANH_PIPELINE_H

#include <stdio.h>

#include "network.h"
#include "stats.h"
#include "suppress.h"
#include "../parsers/parse.h"

/* One alert as a sink sees it (canh_sink_fn): its JSON (no newline) and
 * its key, the host it names (klen 0: none). */
typedef struct canh_sink_item {
    const char *json;
    size_t len;
    const char *key;
    size_t klen;
} canh_sink_item_t;

/* Takes one batch's alerts, in input order, on the worker writing it (one
 * call at a time). It may wait (the whole pipeline then waits:
 * backpressure). Nonzero: the sink gave up on some of them (it counts and
 * logs which); the pipeline counts the failure (sink_failures) and goes on. */
typedef int (*canh_sink_fn)(void *ud, const canh_sink_item_t *items, size_t n);

typedef struct canh_scan_opts {
    const canh_ruleset_t *rules;
    const canh_suppress_t *suppress;   /* bound to rules; NULL: none */
    const char *const *paths;   /* "-" = stdin */
    size_t npaths;
    int workers;                /* >= 1 */
    int year;                   /* RFC 3164 year, 0 = from each file's mtime */
    const canh_tz_t *tz;        /* zone of stamps that carry none; NULL = UTC */
    uint64_t datasets;          /* added to every event (--dataset) */
    FILE *out;                  /* alerts, one JSON object per line; NULL: none */
    const char *out_name;       /* its name in messages (the path); NULL: "the alerts output" */
    canh_sink_fn sink;          /* and/or to this sink (Kafka); NULL: none */
    void *sink_ud;
    int show_parse_errors;      /* per input; the rest are counted (and, unless 0,
                                   said to be at the end) */
    int matched;                /* alerts carry canh.matched (engine/explain.h) */
    const canh_nids_t *nids;    /* network rules for captures; NULL: none */
    int midstream;              /* pick up TCP flows without their handshake (network.h) */
} canh_scan_opts_t;

/*
 * The pipeline as a service for any input (canh scan, canh run). One
 * thread feeds it (canh_pipeline_line waits while every batch is busy:
 * backpressure); workers run on their own threads.
 */
typedef struct canh_pipeline canh_pipeline_t;

/* Called once no worker and no batch in flight uses a rule set any more,
 * from whichever pipeline thread let go of it last. */
typedef void (*canh_rules_release_fn)(void *ud, const canh_ruleset_t *rs);

typedef struct canh_pipeline_opts {
    const canh_ruleset_t *rules;     /* the first rule set */
    const canh_suppress_t *suppress; /* its suppression list (bound to it); NULL: none */
    void *rules_ud;                  /* passed to release with it */
    canh_rules_release_fn release;   /* NULL: the caller frees sets after finish */
    int workers;                /* >= 1 */
    FILE *out;                  /* alerts, written in input order; NULL: none. Written
                                   with write(2): nothing stays in its buffer */
    const char *out_name;       /* its name in messages (the path); NULL: "the alerts output" */
    int64_t out_stop_timeout_ms;   /* once stopping: how long a failed write of it is
                                      retried before its alerts count as not written */
    canh_sink_fn sink;          /* and/or to this sink (Kafka); NULL: none */
    void *sink_ud;
    int show_parse_errors;      /* per input; the rest are counted (and, unless 0,
                                   said to be at the end) */
    size_t max_inputs;          /* how many inputs may be added */
    int batch_lines;            /* lines per batch; 0: 512 */
    /* Called on the feeding thread every WAITING_MS (500 ms) while it is
     * held up waiting for free batches (backpressure: one long wait, or
     * short waits one after the other), so the caller can keep up its own
     * duties (the daemon's stats records and saved offsets). NULL: none. */
    void (*waiting)(void *ud);
    void *waiting_ud;
    int batches;                /* batches in the pool; 0: 4 per worker + 4 */
    int matched;                /* alerts carry canh.matched (engine/explain.h): the
                                   selection, field and value of each test that made
                                   the rule fire, found only for alerts */
    const canh_nids_t *nids;    /* network rules for packets; NULL: none (Sigma rules
                                   still see protocol events) */
    int midstream;              /* pick up TCP flows without their handshake (network.h) */
} canh_pipeline_opts_t;

canh_pipeline_t *canh_pipeline_start(const canh_pipeline_opts_t *o, char *err, size_t errlen);
/* Registers an input (its name is for messages); returns its index or < 0. */
int canh_pipeline_add_input(canh_pipeline_t *pl, const char *name, const canh_parse_opts_t *po);
/* One line (message) of an input, straight into the batch being filled:
 * nothing is held back, so it suits a source whose lines never interleave
 * with another's (the daemon uses canh_pipeline_line_from; canh scan feeds
 * whole chunks of its files, see canh_pipeline_scan). From the feeding
 * thread only. */
int canh_pipeline_line(canh_pipeline_t *pl, uint32_t input, const char *line, size_t len);
/*
 * One line of an input, from one of the streams it may share (the
 * connections of a tcp input, the files of a file input): `stream` names
 * the one it came from (0: the input is one stream). The records of one
 * audit event are held back until their stream moves on, and then handed
 * on together, so that lines from other streams cannot come between them
 * and split the event; a group whose records are still on their way is
 * not split by a quiet moment either. A held group goes on at the first
 * idle tick after it stopped growing, and at flush, drain and finish. At
 * most HOLD_SLOTS (1,024) streams hold a group at once (when one more
 * needs a slot, one of them goes on), and a group of more than HOLD_LINES
 * (64) records is cut. Lines of other streams may pass a held group: each
 * stream's own lines keep their order. From the feeding thread.
 */
int canh_pipeline_line_from(canh_pipeline_t *pl, uint32_t input, uintptr_t stream,
                            const char *line, size_t len);
/*
 * The same, saying where the line came from (engine/event.h: the file and
 * the line's byte offset, the sender and the message's number, the Kafka
 * topic, partition and offset), for its alerts (log.file.path, log.offset,
 * log.source.address ...) and their event.id. The pipeline copies what it
 * needs; the input's name (canh_pipeline_add_input) goes with it. NULL:
 * not said (as canh_pipeline_line_from). From the feeding thread.
 */
int canh_pipeline_line_at(canh_pipeline_t *pl, uint32_t input, uintptr_t stream,
                          const char *line, size_t len, const canh_origin_t *origin);
/* Lines of an input held back now (line_from), not yet in a batch. From
 * the feeding thread. */
uint64_t canh_pipeline_held_lines(const canh_pipeline_t *pl, uint32_t input);
/*
 * How far an input is done, for saving a position in it while lines are on
 * their way (the daemon's file offsets and Kafka commits). From the
 * feeding thread. canh_pipeline_fed_lines: the lines given for an input
 * (line or line_from), held ones included. canh_pipeline_done_fed: N such
 * that the first N lines given are all written (their alerts handed to the
 * output and the sink), whatever came after them: a line held back in an
 * audit group keeps N below it even when lines given later went on.
 */
uint64_t canh_pipeline_fed_lines(const canh_pipeline_t *pl, uint32_t input);
uint64_t canh_pipeline_done_fed(const canh_pipeline_t *pl, uint32_t input);
/*
 * Packets (engine/pipeline_packets.c). An input that carries packets is
 * named as a capture first (its file or interface, for the alerts'
 * canh.capture.*); then each frame of it, as libpcap gives it (link type,
 * time, bytes, its number in the capture), is decoded on the feeding
 * thread and worked by the share of the flows its hash selects
 * (engine/network.h); canh_pipeline_packets_end ends every flow of the
 * capture (the end of a file). From the feeding thread; CANH_EINVAL: the
 * pipeline is closing.
 */
int canh_pipeline_capture(canh_pipeline_t *pl, uint32_t input, const char *name, int live);
int canh_pipeline_packet(canh_pipeline_t *pl, uint32_t input, int dlt, int64_t ts_us,
                         const uint8_t *frame, uint32_t caplen, uint32_t wirelen, uint64_t num);
int canh_pipeline_packets_end(canh_pipeline_t *pl, uint32_t input);
/* A capture file (pcap or pcapng, read with libpcap) fed whole to input,
 * its flows ended at its end; *bytes adds the frames' bytes. CANH_EIO with
 * a sentence in err: it cannot be read, its link type is not decoded, or
 * it is damaged part way (the frames before the damage are worked). */
int canh_pipeline_pcap_file(canh_pipeline_t *pl, uint32_t input, const char *path,
                            uint64_t *bytes, char *err, size_t errlen);
/* The packet path's counts so far: the shares' (packets, flows,
 * reassembly, network rules, as of each share's last batch) and the
 * decoder's. From the feeding thread (the decoder is its own). */
void canh_pipeline_net_counts(canh_pipeline_t *pl, canh_net_counts_t *c,
                              canh_decode_counts_t *d);
/* The same as the packet fields of a canh_stats_t (set, not added; the
 * captures count is the caller's). From the feeding thread. */
void canh_pipeline_packet_stats(canh_pipeline_t *pl, canh_stats_t *s);

/* Hands the batch being filled to the workers now (end of input), and
 * every held audit group before it. */
int canh_pipeline_flush(canh_pipeline_t *pl);
/* The daemon's idle tick (every 100 ms, and whenever its inputs are
 * quiet): held audit groups that did not grow since the last tick go on,
 * and the batch being filled is handed on. */
int canh_pipeline_idle(canh_pipeline_t *pl);
/*
 * Swaps in a new rule set, its suppression list (bound to it; NULL:
 * none) and its network rules (NULL: none) from the feeding thread:
 * workers take the Sigma rules at their next batch, each share of the
 * flows the network rules at its next packet batch (a flow's flowbits and
 * stream scan start again then; threshold counts too). The pipeline holds
 * them from now on, and releases the set it replaces once nothing uses it
 * (list and network rules go with their set: the caller frees them in the
 * release function). CANH_ENOMEM: nothing changed.
 */
int canh_pipeline_set_rules(canh_pipeline_t *pl, const canh_ruleset_t *rs,
                            const canh_suppress_t *sup, const canh_nids_t *nids, void *ud);

/* The alerts output (opts.out) so far. */
typedef struct canh_output_counts {
    uint64_t written;           /* alerts (lines) written whole */
    uint64_t not_written;       /* alerts given up on at a stop (see the top) */
    uint64_t failed_writes;     /* write(2) calls that failed */
    double blocked_s;           /* time spent failing, the failure going on included */
    int error;                  /* errno of the failure going on; 0: writing */
} canh_output_counts_t;

/* Counters published so far (workers: once per batch; alerts: as they
 * were written), and queue depths. */
typedef struct canh_pipeline_counts {
    uint64_t events, parse_errors, alerts, by_level[6];
    uint64_t suppressed;        /* alerts the suppression list held back */
    uint64_t batches;           /* batches processed */
    size_t queued, free, pool;  /* batches waiting for a worker, free, in all */
    uint64_t rules_generation;  /* 1, then +1 per canh_pipeline_set_rules */
    size_t rules;               /* rules in the current set */
    uint64_t matcher_failures;  /* times a worker could not take a new set */
    double cpu_workers;         /* CPU seconds the workers have used so far */
    canh_output_counts_t out;   /* the alerts output */
    uint64_t sink_failures;     /* batches the sink gave up on (it says how many alerts) */
} canh_pipeline_counts_t;

/* From any thread. */
void canh_pipeline_counts(canh_pipeline_t *pl, canh_pipeline_counts_t *out);
/* Appends "by_rule":{...},"by_host":{...} as counted so far. Any thread. */
void canh_pipeline_put_tables(canh_pipeline_t *pl, canh_buf_t *b);
/* Lines given so far for an input through canh_pipeline_line*. From the
 * feeding thread. */
uint64_t canh_pipeline_input_lines(const canh_pipeline_t *pl, uint32_t input);
/* Lines of an input whose alerts have been handed to the output and
 * the sink (lines are written in the order given, so line k of the input
 * is done once this is >= k). Any thread. */
uint64_t canh_pipeline_written_lines(canh_pipeline_t *pl, uint32_t input);

/* Hands on the batch being filled and waits until every batch given has
 * been written (its alerts handed to the output and the
 * sink), at most timeout_ms (< 0: however long it takes). CANH_EAGAIN:
 * the time was up first. The pipeline stays usable. From the feeding
 * thread. */
int canh_pipeline_drain(canh_pipeline_t *pl, int timeout_ms);

/* The process is stopping: from now on (or from when a SIGTERM or SIGINT
 * was first seen pending, if earlier) a failed write of the alerts output
 * is retried for at most opts.out_stop_timeout_ms (see the top). Any
 * thread. */
void canh_pipeline_stopping(canh_pipeline_t *pl);

/* A SIGTERM or SIGINT is pending for the process (blocked, not read yet):
 * how a thread that waits on an output learns that the daemon, itself
 * waiting on the pipeline, has been asked to stop. Any thread. */
int canh_stop_pending(void);

/* Processes everything given, stops the threads, adds the counts to *stats
 * and frees the pipeline (releasing the rule set it holds). CANH_EIO if
 * alerts could not be written (to the output or the sink); logged. */
int canh_pipeline_finish(canh_pipeline_t *pl, canh_stats_t *stats);

/*
 * Scans every input. Counts go into *stats (initialised by the caller for
 * the rule set's size). Returns CANH_OK, or CANH_EIO if an input could not
 * be read or the output failed (named on stderr; the rest was scanned), or
 * CANH_ENOMEM with err set if the pipeline could not start.
 */
int canh_pipeline_scan(const canh_scan_opts_t *o, canh_stats_t *stats, char *err, size_t errlen);

#endif
