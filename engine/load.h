/*
 * engine/load.h -- from paths on disk to a compiled rule set: the field map,
 * every Sigma rule under the given files and folders, and the Hyperscan
 * build. Shared by `scan`, `rules check`, `rules test` (and later `run`).
 *
 * Thread: start-up or the reload thread.
 */
#ifndef CANH_LOAD_H
#define CANH_LOAD_H

#include "config.h"
#include "detect/match.h"
#include "detect/nids.h"
#include "suppress.h"

typedef struct canh_load_result {
    canh_ruleset_t  *rules;
    canh_fieldmap_t *fieldmap;
    size_t loaded, refused;
    /* the Sigma filters found beside the rules, already ANDed into them
     * (each says which rules it touched), and the problems reported */
    canh_filter_t **filters;
    size_t nfilters, filter_problems;
    /* the suppression list, bound to `rules` (canh_load_suppress); NULL: none */
    canh_suppress_t *suppress;
    /* network (Suricata) rules: a *.rules path, or the *.rules files of a
     * folder; refusals went to refuse() like Sigma's. Not compiled here
     * (canh_nids_build takes them). */
    canh_nids_rulevec_t nids;
    size_t nids_loaded, nids_refused;
} canh_load_result_t;

/*
 * Loads rule paths (files or folders) with the field map at fieldmap_path,
 * and applies the Sigma filters found among them (sigma.h);
 * cache_dir (or NULL) keeps compiled databases between runs (match.h).
 * Refused rules and filter problems go to refuse(). Returns CANH_OK, or an
 * error with err set (a missing rule path, an unreadable or invalid field
 * map).
 */
int  canh_load_rules(const char *const *paths, size_t npaths, const char *fieldmap_path,
                     const char *cache_dir, canh_refuse_fn refuse, void *ud,
                     canh_load_result_t *out, char *err, size_t errlen);
/* Same, with the variables and classes network rules are read with
 * (NULL: Suricata's defaults, canh_nids_vars_default). */
int  canh_load_rules_net(const char *const *paths, size_t npaths, const char *fieldmap_path,
                         const char *cache_dir, const canh_nids_vars_t *vars,
                         canh_refuse_fn refuse, void *ud, canh_load_result_t *out,
                         char *err, size_t errlen);
void canh_load_result_free(canh_load_result_t *r);

/* The network rule variables of a config: Suricata's defaults, then
 * `network.classification` and `network.vars`. NULL with err set when a
 * value or the classification file is bad. */
canh_nids_vars_t *canh_load_nids_vars(const canh_config_t *cfg, char *err, size_t errlen);

/*
 * Reads the suppression list at path (suppress.h: a list file, or canh.yml
 * with a `suppress:` key) and binds it to r->rules, as of now_ms. Every
 * problem and note goes to fn. CANH_OK with r->suppress set; otherwise an
 * error with err set and r unchanged.
 */
int canh_load_suppress(canh_load_result_t *r, const char *path, int64_t now_ms,
                       canh_suppress_msg_fn fn, void *ud, char *err, size_t errlen);

/* Where the shipped rules/ and conf/ are: $CANH_HOME, else next to the binary's parent, else ".". */
const char *canh_home(void);

#endif
