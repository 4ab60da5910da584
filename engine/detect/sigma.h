/*
 * engine/detect/sigma.h -- Sigma rules (YAML) to canh_rule_t, Sigma filter
 * documents (filter.c) that tune rules from outside, and the field-mapping
 * table (conf/fieldmap.yml) that says, per Sigma log source, which canh
 * datasets a rule sees and which canh field each Sigma field is.
 *
 * A rule is loaded whole or refused whole, with a reason: an unknown log
 * source, a field the map does not know, an unsupported modifier or a bad
 * condition. A rule never loads as something that matches more than its
 * author meant (no field is dropped from a selection, no modifier ignored).
 *
 * Thread: start-up (or the reload thread); results are read-only after.
 */
#ifndef CANH_SIGMA_H
#define CANH_SIGMA_H

#include "rule.h"

typedef struct canh_fieldmap canh_fieldmap_t;

/* Loads the mapping table; registers the datasets it names. */
int  canh_fieldmap_load(canh_fieldmap_t **out, const char *path, char *err, size_t errlen);
void canh_fieldmap_free(canh_fieldmap_t *fm);

/*
 * A Sigma filter (the Sigma filters specification v2: a document with
 * `filter: {rules: [...], SELECTIONS..., condition: ...}` and a
 * `logsource`), loaded beside the rules. canh_sigma_apply_filters ANDs its
 * condition into each rule it names (by id or name; `rules: any` names
 * every rule its log source fits), its fields mapped through that rule's
 * log source.
 */
typedef struct canh_filter_doc canh_filter_doc_t;   /* private to filter.c */
typedef struct canh_filter {
    char *file;
    int   line;                /* of the document start (or `title:`) */
    char *id;                  /* its id, or its title when it has none */
    char *title;
    char *product, *category, *service;   /* its logsource, as written */
    int   any;                 /* `rules: any` (or `all`) */
    char **refs;   int *ref_lines;   size_t nrefs;   /* rule ids or names */
    char *condition;  int cond_line;
    char **applied;  size_t napplied;     /* ids of the rules it was ANDed into */
    /* its own samples, under canh: {tests: {match, nomatch}}: a match line
     * must still raise one of the rules it touches, a nomatch line none */
    char **match_samples;   size_t nmatch_samples;
    char **nomatch_samples; size_t nnomatch_samples;
    canh_filter_doc_t *doc;    /* the YAML, until it is applied */
} canh_filter_t;

void canh_filter_free(canh_filter_t *f);

/* A growable list of rules, and of the filter documents loaded with them;
 * owns what it holds. */
typedef struct canh_rulevec {
    canh_rule_t **v;
    size_t n, cap;
    canh_filter_t **filters;
    size_t nfilters, filters_cap;
    size_t filter_problems;    /* filters refused, or not applied to a rule they name */
} canh_rulevec_t;

int  canh_rulevec_push(canh_rulevec_t *rv, canh_rule_t *r);   /* takes ownership */
void canh_rulevec_free(canh_rulevec_t *rv);   /* frees the rules and filters too */

/* Called once per refused rule: "FILE:LINE: RULE-ID: REASON". rule_id may be "-".
 * Filters report through it too (with the filter's id): a filter document
 * that cannot be loaded, and each rule it names but cannot be applied to. */
typedef void (*canh_refuse_fn)(void *ud, const char *file, int line,
                               const char *rule_id, const char *reason);

/*
 * Loads a rule file (all its YAML documents) or a folder (recursively,
 * *.yml and *.yaml, in sorted order). Loaded rules are appended to out,
 * and filter documents to out->filters (apply them with
 * canh_sigma_apply_filters once every path is loaded);
 * refused ones are reported through refuse. Returns CANH_OK, or CANH_EIO /
 * CANH_ENOENT if the path itself cannot be read (err says why).
 * Counts go to *loaded and *refused when not NULL (added to).
 */
int canh_sigma_load_path(const canh_fieldmap_t *fm, const char *path,
                         canh_rulevec_t *out, canh_refuse_fn refuse, void *ud,
                         size_t *loaded, size_t *refused, char *err, size_t errlen);

/* Same, from a YAML text in memory; `name` stands for the file in messages. */
int canh_sigma_load_string(const canh_fieldmap_t *fm, const char *yaml, size_t len,
                           const char *name, canh_rulevec_t *out,
                           canh_refuse_fn refuse, void *ud,
                           size_t *loaded, size_t *refused);

/*
 * Applies the filters of rv to its rules (after every path is loaded, so
 * a filter may come before or after the rules it names). For each filter
 * and each rule it names: the filter's selections are built with the
 * rule's log source and `(rule condition) and (filter condition)` becomes
 * the rule's condition. Reported through refuse, with the filter's file,
 * line and id, and counted in rv->filter_problems: a name no loaded rule
 * has, a rule whose log source the filter's does not fit, a field the
 * rule's log source cannot map. Such a rule stays as it was, unfiltered.
 * The filters stay in rv (what they touched is in their `applied`); their
 * YAML is freed. CANH_OK, or CANH_ENOMEM.
 */
int canh_sigma_apply_filters(const canh_fieldmap_t *fm, canh_rulevec_t *rv,
                             canh_refuse_fn refuse, void *ud);

#endif
