/*
 * engine/detect/rule.c -- the loaded-rule model: severity names, freeing a
 * rule, and the small node-tree helpers the Sigma loader builds with.
 *
 * Ownership: a rule owns every string, atom and node it points to; node
 * trees are strict trees (no shared nodes), so freeing is a plain walk.
 * Thread: any; nothing here keeps state.
 */
#include "sigma_int.h"

#include <stdlib.h>
#include <strings.h>

static const char *const level_names[] = {
    [CANH_LEVEL_NONE] = "none",
    [CANH_LEVEL_INFORMATIONAL] = "informational",
    [CANH_LEVEL_LOW] = "low",
    [CANH_LEVEL_MEDIUM] = "medium",
    [CANH_LEVEL_HIGH] = "high",
    [CANH_LEVEL_CRITICAL] = "critical",
};

const char *canh_level_name(canh_level_t l)
{
    if ((unsigned)l >= CANH_ARRAY_LEN(level_names))
        return "none";
    return level_names[l];
}

canh_level_t canh_level_parse(const char *s)
{
    if (!s)
        return CANH_LEVEL_NONE;
    for (unsigned i = CANH_LEVEL_INFORMATIONAL; i < CANH_ARRAY_LEN(level_names); i++)
        if (strcasecmp(s, level_names[i]) == 0)
            return (canh_level_t)i;
    return CANH_LEVEL_NONE;
}

canh_node_t *canh_node_atom(uint32_t atom)
{
    canh_node_t *n = calloc(1, sizeof(*n));
    if (!n)
        return NULL;
    n->op = CANH_NODE_ATOM;
    n->atom = atom;
    return n;
}

canh_node_t *canh_node_new(canh_node_op_t op, canh_node_t **kids, uint32_t nkids)
{
    canh_node_t *n = calloc(1, sizeof(*n));
    if (!n)
        return NULL;
    n->kids = malloc(sizeof(*n->kids) * (nkids ? nkids : 1));
    if (!n->kids) {
        free(n);
        return NULL;
    }
    n->op = op;
    n->nkids = nkids;
    memcpy(n->kids, kids, sizeof(*kids) * nkids);
    return n;
}

void canh_node_free(canh_node_t *n)
{
    if (!n)
        return;
    for (uint32_t i = 0; i < n->nkids; i++)
        canh_node_free(n->kids[i]);
    free(n->kids);
    free(n);
}

canh_node_t *canh_node_copy(const canh_node_t *n)
{
    if (n->op == CANH_NODE_ATOM)
        return canh_node_atom(n->atom);
    canh_node_t **kids = calloc(n->nkids ? n->nkids : 1, sizeof(*kids));
    if (!kids)
        return NULL;
    for (uint32_t i = 0; i < n->nkids; i++) {
        kids[i] = canh_node_copy(n->kids[i]);
        if (!kids[i]) {
            while (i--)
                canh_node_free(kids[i]);
            free(kids);
            return NULL;
        }
    }
    canh_node_t *c = canh_node_new(n->op, kids, n->nkids);
    if (!c)
        for (uint32_t i = 0; i < n->nkids; i++)
            canh_node_free(kids[i]);
    free(kids);
    return c;
}

int canh_node_eval(const canh_node_t *n, const uint8_t *leaf)
{
    switch (n->op) {
    case CANH_NODE_ATOM:
        return leaf[n->atom] != 0;
    case CANH_NODE_NOT:
        return !canh_node_eval(n->kids[0], leaf);
    case CANH_NODE_AND:
        for (uint32_t i = 0; i < n->nkids; i++)
            if (!canh_node_eval(n->kids[i], leaf))
                return 0;
        return 1;
    default:
        for (uint32_t i = 0; i < n->nkids; i++)
            if (canh_node_eval(n->kids[i], leaf))
                return 1;
        return 0;
    }
}

void canh_strv_free(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

void canh_rule_free(canh_rule_t *r)
{
    if (!r)
        return;
    free(r->id);
    free(r->name);
    free(r->title);
    free(r->status);
    free(r->description);
    free(r->author);
    free(r->date);
    free(r->modified);
    canh_strv_free(r->references, r->nreferences);
    canh_strv_free(r->tags, r->ntags);
    canh_strv_free(r->falsepositives, r->nfalsepositives);
    free(r->file);
    free(r->ruleset);
    free(r->pack_file);
    free(r->product);
    free(r->category);
    free(r->service);
    canh_node_free(r->cond);
    for (size_t i = 0; i < r->natoms; i++) {
        free(r->atoms[i].field);
        free(r->atoms[i].regex);
        free(r->atoms[i].ref_field);
        free(r->atoms[i].selection);
        free(r->atoms[i].sigma_field);
        free(r->atoms[i].sigma_value);
    }
    free(r->atoms);
    free(r->condition);
    for (size_t i = 0; i < r->nsels; i++) {
        free(r->sels[i].name);
        canh_node_free(r->sels[i].tree);
    }
    free(r->sels);
    canh_node_free(r->sel_cond);
    canh_strv_free(r->match_samples, r->nmatch_samples);
    canh_strv_free(r->nomatch_samples, r->nnomatch_samples);
    canh_strv_free(r->filters, r->nfilters);
    free(r->alert_json);
    free(r);
}
