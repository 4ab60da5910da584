/*
 * engine/run.h -- canh run: the daemon (run.c). Thread: the calling thread
 * runs the input loop; the pipeline's threads do the rest.
 */
#ifndef CANH_RUN_H
#define CANH_RUN_H

#include "config.h"
#include "stats.h"

/*
 * Runs until SIGTERM or SIGINT (or until its only input, stdin, ends),
 * then processes everything accepted and returns. Counts go to *stats.
 * CANH_ENOTSUP (err says which input) for inputs not built yet.
 */
int canh_run(const canh_config_t *cfg, const canh_ruleset_t *rules, canh_stats_t *stats,
             char *err, size_t errlen);

#endif
