/*
 * engine/run.h -- canh run: the daemon (run.c). Thread: the calling thread
 * runs the input loop; the pipeline's threads do the rest.
 */
#ifndef CANH_RUN_H
#define CANH_RUN_H

#include "config.h"
#include "detect/nids.h"
#include "stats.h"

/* Where the rules come from, at start and at every reload (SIGHUP). */
typedef struct canh_run_rules {
    const char *const *paths;
    size_t npaths;
    const char *fieldmap;
    const char *cache_dir;      /* compiled databases; NULL: none */
    const char *suppress;       /* read the suppression list from here (canh.yml, whose
                                   `suppress:` holds it or names its file); NULL: none */
    const canh_nids_vars_t *nids_vars;   /* network rule variables (canh_load_nids_vars) */
    uint32_t pcre2_match_limit, pcre2_depth_limit;   /* for network rules' pcre */
} canh_run_rules_t;

/*
 * Loads the rules (refused ones are logged and left out) and the
 * suppression list (a bad entry stops it), then runs until
 * SIGTERM or SIGINT (or until its only input, stdin, ends), processes
 * everything accepted and returns. Counts go to *stats. CANH_EINVAL (err
 * says why) when it cannot start: no rule can be loaded, a TLS
 * certificate or key is bad, state_dir cannot be made for file inputs,
 * canh cannot become cfg->priv's user or that user cannot write state_dir,
 * the spool or an output file (priv.h).
 */
int canh_run(const canh_config_t *cfg, const canh_run_rules_t *rules, canh_stats_t *stats,
             char *err, size_t errlen);

#endif
