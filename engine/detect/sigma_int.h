/*
 * engine/detect/sigma_int.h -- private glue between the Sigma loader
 * (sigma.c), its condition parser (condition.c), the field map
 * (fieldmap.c) and the rule helpers (rule.c). Not for other modules.
 *
 * Ownership: node trees are malloc'd; a tree returned by a function here
 * belongs to the caller and is freed with canh_node_free. Field-map sources
 * belong to the field map.
 *
 * Thread: start-up (or the reload thread) only.
 */
#ifndef CANH_SIGMA_INT_H
#define CANH_SIGMA_INT_H

#include <yaml.h>

#include "sigma.h"

/* ---- node trees (rule.c) ---- */
canh_node_t *canh_node_atom(uint32_t atom);
/* A new AND/OR/NOT node taking ownership of kids[0..n); kids array is copied. */
canh_node_t *canh_node_new(canh_node_op_t op, canh_node_t **kids, uint32_t n);
canh_node_t *canh_node_copy(const canh_node_t *n);
void         canh_node_free(canh_node_t *n);

/* Frees n malloc'd strings and the array holding them. */
void canh_strv_free(char **v, size_t n);

/* ---- the field map (fieldmap.c) ---- */
typedef struct canh_fm_source canh_fm_source_t;

/* The entry whose product/category/service equal the rule's (NULL = absent). */
const canh_fm_source_t *canh_fieldmap_find(const canh_fieldmap_t *fm, const char *product,
                                           const char *category, const char *service);
uint64_t    canh_fm_source_datasets(const canh_fm_source_t *s);
const char *canh_fm_source_keywords(const canh_fm_source_t *s);
/*
 * Maps a Sigma field name to a canh field name. Returns CANH_OK with a
 * malloc'd name in *out, or CANH_ENOENT with a reason in why.
 */
int canh_fm_map_field(const canh_fm_source_t *s, const char *sigma_name,
                      const char *product, const char *category, const char *service,
                      char **out, char *why, size_t whylen);

/* ---- conditions (condition.c) ---- */
typedef struct canh_cond_sel {
    const char *name;          /* selection name as written */
    const canh_node_t *tree;   /* its expanded tree (copied on use) */
} canh_cond_sel_t;

/*
 * Parses one condition string into a tree over the selections' trees.
 * Returns CANH_OK with *out set, or CANH_EPARSE / CANH_ENOTSUP /
 * CANH_ENOENT with a reason in why.
 */
int canh_cond_parse(const char *text, const canh_cond_sel_t *sels, size_t nsel,
                    canh_node_t **out, char *why, size_t whylen);

/* ---- Sigma filters (filter.c reads and applies them; sigma.c builds) ---- */

/* A document with a top-level `filter:` key is a Sigma filter. */
int canh_filter_is_document(yaml_document_t *d, yaml_node_t *root);
/*
 * Reads a filter document into out->filters, or reports it through refuse
 * (counted in out->filter_problems). Takes ownership of *d in both cases:
 * the caller must not delete it.
 */
void canh_filter_load(yaml_document_t *d, yaml_node_t *root, const char *file,
                      canh_rulevec_t *out, canh_refuse_fn refuse, void *ud);
/*
 * Builds the selections of a filter (every key of the map fmap of document
 * d but `rules` and `condition`) with rule r's log source, parses
 * `condition` over them, and makes r's condition `(old) and (filter)`; for
 * explanations, the filter also becomes one selection of r, named
 * "filter FILTER-ID (CONDITION)", ANDed into r's condition over selections.
 * CANH_OK; or an error with r unchanged and the reason in why (the line in
 * *why_line, 0 if none).
 */
int canh_sigma_filter_rule(const canh_fieldmap_t *fm, canh_rule_t *r, yaml_document_t *d,
                           yaml_node_t *fmap, const char *condition, int cond_line,
                           const char *filter_id, char *why, size_t whylen, int *why_line);

/* "product=linux service=sshd" (or "(empty)"), for refusal messages. */
void canh_logsource_describe(char *buf, size_t n, const char *product, const char *category,
                             const char *service);

#endif
