/*
 * engine/pipeline.h -- the multithreaded scan: reader -> workers -> writer.
 *
 *   reader (the calling thread)  reads inputs line by line and copies the
 *       lines into batches of BATCH_LINES (never splitting an audit record
 *       group, never mixing two inputs), numbered in input order;
 *   workers (N threads)  each take a whole batch: parse, match, format the
 *       alerts into the batch's own buffer, count into their own stats;
 *   writer (one thread)  puts batches back in input order, writes their
 *       alerts and parse-error messages, and recycles them.
 *
 * Batches come from a fixed pool: when every batch is in use the reader
 * waits (backpressure), so memory is bounded whatever the input. Because
 * the writer restores input order and each batch is parsed from a clean
 * parser state, the output is the same for any number of workers (only
 * event.created, the time of detection, differs between runs).
 *
 * Thread: call from one thread; it starts and joins all the others.
 */
#ifndef CANH_PIPELINE_H
#define CANH_PIPELINE_H

#include <stdio.h>

#include "stats.h"

typedef struct canh_scan_opts {
    const canh_ruleset_t *rules;
    const char *const *paths;   /* "-" = stdin */
    size_t npaths;
    int workers;                /* >= 1 */
    int year;                   /* RFC 3164 year, 0 = from each file's mtime */
    uint64_t datasets;          /* added to every event (--dataset) */
    FILE *out;                  /* alerts, one JSON object per line */
    int show_parse_errors;      /* per input; the rest are counted */
} canh_scan_opts_t;

/*
 * Scans every input. Counts go into *stats (initialised by the caller for
 * the rule set's size). Returns CANH_OK, or CANH_EIO if an input could not
 * be read or the output failed (named on stderr; the rest was scanned), or
 * CANH_ENOMEM with err set if the pipeline could not start.
 */
int canh_pipeline_scan(const canh_scan_opts_t *o, canh_stats_t *stats, char *err, size_t errlen);

#endif
