/*
 * engine/detect/sigma.h -- Sigma rules (YAML) to canh_rule_t, and the
 * field-mapping table (conf/fieldmap.yml) that says, per Sigma log source,
 * which canh datasets a rule sees and which canh field each Sigma field is.
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

/* A growable list of rules; owns the rules it holds. */
typedef struct canh_rulevec {
    canh_rule_t **v;
    size_t n, cap;
} canh_rulevec_t;

int  canh_rulevec_push(canh_rulevec_t *rv, canh_rule_t *r);   /* takes ownership */
void canh_rulevec_free(canh_rulevec_t *rv);                   /* frees the rules too */

/* Called once per refused rule: "FILE:LINE: RULE-ID: REASON". rule_id may be "-". */
typedef void (*canh_refuse_fn)(void *ud, const char *file, int line,
                               const char *rule_id, const char *reason);

/*
 * Loads a rule file (all its YAML documents) or a folder (recursively,
 * *.yml and *.yaml, in sorted order). Loaded rules are appended to out;
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

#endif
