/*
 * engine/detect/filter.c -- Sigma filters: tuning rules from outside them.
 *
 * A Sigma filter (Sigma filters specification v2.0.0) is a YAML document
 * beside the rules, with a `title`, an optional `id`, a `logsource` and
 *
 *   filter:
 *     rules: [RULE-ID-OR-NAME, ...]     # or `rules: any`: every rule of the log source
 *     SELECTION: {...}                  # as in a rule's detection
 *     condition: not SELECTION          # one string
 *
 * Applying it to a rule makes the rule's condition `(rule) and
 * (filter)`, as pySigma does; so `not SELECTION` excludes events and a
 * plain `SELECTION` narrows the rule to them. The filter's fields are
 * mapped through each rule's own log source, which the filter's must fit
 * (every attribute the filter gives equals the rule's: a filter on
 * `product: linux` fits `product: linux, service: sshd`).
 *
 * Loading reads the document and checks what can be checked without a
 * rule (keys, `rules`, the condition against the selection names) and
 * keeps the YAML; canh_sigma_apply_filters, once every rule is loaded,
 * builds the selections into each rule it names (sigma.c) and frees the
 * YAML. Problems go to the loader's refuse callback with the filter's
 * file, line and id: a named rule that is not loaded, or whose log source
 * does not fit, or whose log source cannot map a field, keeps its
 * condition as it was (unfiltered: it still detects).
 *
 * Ownership: filters are malloc'd, owned by the rulevec (then by whoever
 * takes them from it). Thread: start-up or the reload thread.
 */
#include "sigma_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

struct canh_filter_doc {
    yaml_document_t doc;
    yaml_node_t *fmap;          /* the `filter:` map */
};

/* ---------------------------------------------------------------- yaml */

static yaml_node_t *node(yaml_document_t *d, int id)
{
    return yaml_document_get_node(d, id);
}

static int line_of(const yaml_node_t *n)
{
    return n ? (int)n->start_mark.line + 1 : 0;
}

static const char *scalar(const yaml_node_t *n)
{
    return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static int is_null(const yaml_node_t *n)
{
    if (!n || n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return 0;
    const char *v = scalar(n);
    return !*v || !strcmp(v, "~") || !strcasecmp(v, "null");
}

int canh_filter_is_document(yaml_document_t *d, yaml_node_t *root)
{
    if (!root || root->type != YAML_MAPPING_NODE)
        return 0;
    for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top; p++) {
        const char *k = scalar(node(d, p->key));
        if (k && !strcmp(k, "filter"))
            return 1;
    }
    return 0;
}

/* ---------------------------------------------------------------- free */

static void doc_free(canh_filter_doc_t *fd)
{
    if (!fd)
        return;
    yaml_document_delete(&fd->doc);
    free(fd);
}

void canh_filter_free(canh_filter_t *f)
{
    if (!f)
        return;
    free(f->file);
    free(f->id);
    free(f->title);
    free(f->product);
    free(f->category);
    free(f->service);
    canh_strv_free(f->refs, f->nrefs);
    free(f->ref_lines);
    free(f->condition);
    canh_strv_free(f->applied, f->napplied);
    canh_strv_free(f->match_samples, f->nmatch_samples);
    canh_strv_free(f->nomatch_samples, f->nnomatch_samples);
    doc_free(f->doc);
    free(f);
}

/* ---------------------------------------------------------------- loading */

typedef struct fl {
    canh_filter_t *f;
    yaml_document_t *d;
    char why[512];
    int why_line;
    int err;
} fl_t;

static int fail(fl_t *L, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int fail(fl_t *L, int line, const char *fmt, ...)
{
    if (L->err)
        return L->err;
    L->err = CANH_EINVAL;
    L->why_line = line;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(L->why, sizeof(L->why), fmt, ap);
    va_end(ap);
    return L->err;
}

static int take_str(fl_t *L, yaml_node_t *v, const char *key, char **out)
{
    if (!scalar(v) || is_null(v))
        return fail(L, line_of(v), "'%s' must be a string", key);
    free(*out);
    if (!(*out = strdup(scalar(v))))
        return fail(L, line_of(v), "out of memory");
    return CANH_OK;
}

/* A list of strings (a sequence of scalars) into *out. */
static int take_lines(fl_t *L, yaml_node_t *v, const char *what, char ***out, size_t *n)
{
    if (*out)
        return fail(L, line_of(v), "'%s' given twice under canh: tests:", what);
    if (v->type != YAML_SEQUENCE_NODE)
        return fail(L, line_of(v), "canh: tests: %s must be a list of log lines", what);
    size_t cnt = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
    if (!(*out = calloc(cnt ? cnt : 1, sizeof(char *))))
        return fail(L, line_of(v), "out of memory");
    for (size_t i = 0; i < cnt; i++) {
        yaml_node_t *it = node(L->d, v->data.sequence.items.start[i]);
        if (!scalar(it))
            return fail(L, line_of(it), "canh: tests: %s must be a list of log lines", what);
        if (!((*out)[i] = strdup(scalar(it))))
            return fail(L, line_of(it), "out of memory");
        *n = i + 1;
    }
    return CANH_OK;
}

/* canh: {tests: {match: [...], nomatch: [...]}}, as in a rule. */
static int take_canh(fl_t *L, yaml_node_t *v)
{
    if (v->type != YAML_MAPPING_NODE)
        return fail(L, line_of(v), "filter: 'canh' must be a map");
    for (yaml_node_pair_t *p = v->data.mapping.pairs.start; p < v->data.mapping.pairs.top; p++) {
        yaml_node_t *k = node(L->d, p->key), *t = node(L->d, p->value);
        const char *key = scalar(k);
        if (!key || strcmp(key, "tests"))
            return fail(L, line_of(k), "unknown key '%s' under canh: (known: tests)",
                        key ? key : "?");
        if (t->type != YAML_MAPPING_NODE)
            return fail(L, line_of(t), "'canh: tests' must be a map with match and nomatch");
        for (yaml_node_pair_t *q = t->data.mapping.pairs.start; q < t->data.mapping.pairs.top; q++) {
            yaml_node_t *tk = node(L->d, q->key), *tv = node(L->d, q->value);
            const char *tkey = scalar(tk);
            int rc;
            if (tkey && !strcmp(tkey, "match"))
                rc = take_lines(L, tv, tkey, &L->f->match_samples, &L->f->nmatch_samples);
            else if (tkey && !strcmp(tkey, "nomatch"))
                rc = take_lines(L, tv, tkey, &L->f->nomatch_samples, &L->f->nnomatch_samples);
            else
                rc = fail(L, line_of(tk), "unknown key '%s' under canh: tests: (known: match, "
                          "nomatch)", tkey ? tkey : "?");
            if (rc)
                return rc;
        }
    }
    return CANH_OK;
}

static int take_logsource(fl_t *L, yaml_node_t *v)
{
    if (v->type != YAML_MAPPING_NODE)
        return fail(L, line_of(v), "'logsource' must be a map");
    for (yaml_node_pair_t *p = v->data.mapping.pairs.start; p < v->data.mapping.pairs.top; p++) {
        const char *k = scalar(node(L->d, p->key));
        yaml_node_t *val = node(L->d, p->value);
        char **slot = !k ? NULL : !strcmp(k, "product") ? &L->f->product
                    : !strcmp(k, "category") ? &L->f->category
                    : !strcmp(k, "service") ? &L->f->service : NULL;
        if (!slot || is_null(val))
            continue;   /* definition and others */
        if (take_str(L, val, k, slot))
            return L->err;
    }
    return CANH_OK;
}

static int add_ref(fl_t *L, yaml_node_t *it)
{
    canh_filter_t *f = L->f;
    const char *s = scalar(it);
    if (!s || is_null(it) || !*s)
        return fail(L, line_of(it), "filter: rules: each item must be a rule id or name");
    for (size_t i = 0; i < f->nrefs; i++)
        if (!strcmp(f->refs[i], s))
            return fail(L, line_of(it), "filter: rules: '%s' is named twice", s);
    char **v = realloc(f->refs, (f->nrefs + 1) * sizeof(*v));
    if (v)
        f->refs = v;
    int *lv = realloc(f->ref_lines, (f->nrefs + 1) * sizeof(*lv));
    if (lv)
        f->ref_lines = lv;
    if (!v || !lv || !(f->refs[f->nrefs] = strdup(s)))
        return fail(L, line_of(it), "out of memory");
    f->ref_lines[f->nrefs++] = line_of(it);
    return CANH_OK;
}

/* `rules:` -- a list of ids or names, one of them, or `any` / `all`. */
static int take_rules(fl_t *L, yaml_node_t *v)
{
    if (v->type == YAML_SCALAR_NODE && !is_null(v)) {
        if (!strcasecmp(scalar(v), "any") || !strcasecmp(scalar(v), "all")) {
            L->f->any = 1;
            return CANH_OK;
        }
        return add_ref(L, v);
    }
    if (v->type != YAML_SEQUENCE_NODE)
        return fail(L, line_of(v), "filter: rules: must be a list of rule ids or names, or 'any'");
    if (v->data.sequence.items.top == v->data.sequence.items.start)
        return fail(L, line_of(v), "filter: rules: is empty: name the rules (ids or names), "
                    "or write 'rules: any' for every rule of the log source");
    for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++)
        if (add_ref(L, node(L->d, *it)))
            return L->err;
    return CANH_OK;
}

/* The `filter:` map: rules, the selections, one condition (checked
 * against the selection names now, built per rule later). */
static int take_filter(fl_t *L, yaml_node_t *v)
{
    canh_filter_t *f = L->f;
    if (v->type != YAML_MAPPING_NODE)
        return fail(L, line_of(v), "'filter' must be a map with rules, selections and a condition");
    yaml_node_t *rules = NULL, *cond = NULL;
    size_t n = (size_t)(v->data.mapping.pairs.top - v->data.mapping.pairs.start), nsel = 0;
    canh_cond_sel_t *sels = calloc(n ? n : 1, sizeof(*sels));
    canh_node_t *stand_in = canh_node_atom(0);   /* every selection, for the syntax check */
    if (!sels || !stand_in) {
        free(sels);
        canh_node_free(stand_in);
        return fail(L, line_of(v), "out of memory");
    }
    for (yaml_node_pair_t *p = v->data.mapping.pairs.start; p < v->data.mapping.pairs.top; p++) {
        yaml_node_t *k = node(L->d, p->key), *val = node(L->d, p->value);
        const char *key = scalar(k);
        if (!key) {
            fail(L, line_of(k), "filter: keys must be names");
            break;
        }
        if (!strcmp(key, "rules")) {
            rules = val;
        } else if (!strcmp(key, "condition")) {
            cond = val;
        } else if (is_null(val)) {
            fail(L, line_of(val), "filter: selection '%s' is empty", key);
            break;
        } else {
            sels[nsel].name = key;
            sels[nsel].tree = stand_in;
            nsel++;
        }
    }
    if (!L->err && !rules)
        fail(L, line_of(v), "filter has no 'rules' (the rule ids or names it applies to, or "
             "'any')");
    if (!L->err && !nsel)
        fail(L, line_of(v), "filter has no selection");
    if (!L->err && !cond)
        fail(L, line_of(v), "filter has no 'condition'");
    if (!L->err && (cond->type != YAML_SCALAR_NODE || is_null(cond)))
        fail(L, line_of(cond), "filter: condition must be one string (Sigma filters)");
    if (!L->err)
        take_rules(L, rules);
    if (!L->err) {
        char why[400];
        canh_node_t *t = NULL;
        if (canh_cond_parse(scalar(cond), sels, nsel, &t, why, sizeof(why)))
            fail(L, line_of(cond), "filter: %s", why);
        canh_node_free(t);
    }
    if (!L->err) {
        f->cond_line = line_of(cond);
        if (!(f->condition = strdup(scalar(cond))))
            fail(L, line_of(cond), "out of memory");
    }
    free(sels);
    canh_node_free(stand_in);
    f->doc->fmap = v;
    return L->err;
}

static int load_filter(fl_t *L, yaml_node_t *root, const canh_rulevec_t *out)
{
    canh_filter_t *f = L->f;
    yaml_node_t *ls = NULL, *fmap = NULL;
    for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top; p++) {
        yaml_node_t *k = node(L->d, p->key), *v = node(L->d, p->value);
        const char *key = scalar(k);
        int rc = 0;
        if (!key)
            continue;
        if (!strcmp(key, "title")) {
            rc = take_str(L, v, key, &f->title);
            f->line = line_of(k);
        } else if (!strcmp(key, "id")) {
            rc = take_str(L, v, key, &f->id);
        } else if (!strcmp(key, "logsource")) {
            ls = v;
        } else if (!strcmp(key, "filter")) {
            fmap = v;
        } else if (!strcmp(key, "detection")) {
            rc = fail(L, line_of(k), "filter: a document with both 'detection' (a rule) and "
                      "'filter' (a Sigma filter): make them two documents");
        } else if (!strcmp(key, "canh")) {
            rc = take_canh(L, v);
        }   /* description, date, modified, author ... are kept by nobody */
        if (rc)
            return rc;
    }
    if (!f->title || !*f->title)
        return fail(L, f->line, "filter has no 'title'");
    if (!f->id && !(f->id = strdup(f->title)))
        return fail(L, f->line, "out of memory");
    for (size_t i = 0; i < out->nfilters; i++)
        if (!strcmp(out->filters[i]->id, f->id))
            return fail(L, f->line, "duplicate filter id, first loaded from %s:%d",
                        out->filters[i]->file, out->filters[i]->line);
    if (!ls)
        return fail(L, f->line, "filter has no 'logsource'");
    if (take_logsource(L, ls))
        return L->err;
    return take_filter(L, fmap);
}

static int push_filter(canh_rulevec_t *rv, canh_filter_t *f)
{
    if (rv->nfilters == rv->filters_cap) {
        size_t cap = rv->filters_cap ? rv->filters_cap * 2 : 8;
        canh_filter_t **v = realloc(rv->filters, cap * sizeof(*v));
        if (!v)
            return CANH_ENOMEM;
        rv->filters = v;
        rv->filters_cap = cap;
    }
    rv->filters[rv->nfilters++] = f;
    return CANH_OK;
}

static void problem(canh_rulevec_t *rv, canh_refuse_fn refuse, void *ud, const char *file,
                    int line, const char *id, const char *why)
{
    rv->filter_problems++;
    if (refuse)
        refuse(ud, file, line, id ? id : "-", why);
}

void canh_filter_load(yaml_document_t *d, yaml_node_t *root, const char *file,
                      canh_rulevec_t *out, canh_refuse_fn refuse, void *ud)
{
    fl_t L;
    memset(&L, 0, sizeof(L));
    int line = line_of(root);
    canh_filter_t *f = calloc(1, sizeof(*f));
    canh_filter_doc_t *fd = calloc(1, sizeof(*fd));
    if (!f || !fd || !(f->file = strdup(file))) {
        free(f);
        free(fd);
        yaml_document_delete(d);
        problem(out, refuse, ud, file, line, "-", "out of memory");
        return;
    }
    fd->doc = *d;   /* moved: the nodes stay where they are */
    f->doc = fd;
    f->line = line;
    L.f = f;
    L.d = &fd->doc;
    load_filter(&L, root, out);
    if (!L.err && push_filter(out, f))
        fail(&L, f->line, "out of memory");
    if (L.err) {
        problem(out, refuse, ud, file, L.why_line ? L.why_line : f->line, f->id, L.why);
        canh_filter_free(f);
    }
}

/* ---------------------------------------------------------------- applying */

static int attr_fits(const char *filter, const char *rule)
{
    return !filter || (rule && !strcasecmp(filter, rule));
}

/* The filter's log source fits the rule's: every attribute the filter
 * gives, the rule has too, with the same value. */
static int fits(const canh_filter_t *f, const canh_rule_t *r)
{
    return attr_fits(f->product, r->product) && attr_fits(f->category, r->category) &&
           attr_fits(f->service, r->service);
}

static int strv_push(char ***v, size_t *n, char *s)
{
    if (!s)
        return CANH_ENOMEM;
    char **nv = realloc(*v, (*n + 1) * sizeof(*nv));
    if (!nv) {
        free(s);
        return CANH_ENOMEM;
    }
    *v = nv;
    (*v)[(*n)++] = s;
    return CANH_OK;
}

/* One filter onto the rules it names (marked in `want`). */
static int apply_one(const canh_fieldmap_t *fm, canh_rulevec_t *rv, canh_filter_t *f,
                     unsigned char *want, canh_refuse_fn refuse, void *ud)
{
    char why[768], tmp[512], ls[300], rls[300];
    canh_logsource_describe(ls, sizeof(ls), f->product, f->category, f->service);
    memset(want, 0, rv->n ? rv->n : 1);
    if (f->any) {
        for (size_t i = 0; i < rv->n; i++)
            want[i] = (unsigned char)fits(f, rv->v[i]);
    }
    for (size_t k = 0; k < f->nrefs; k++) {
        int found = 0;
        for (size_t i = 0; i < rv->n; i++) {
            const canh_rule_t *r = rv->v[i];
            if (strcmp(r->id, f->refs[k]) && (!r->name || strcmp(r->name, f->refs[k])))
                continue;
            found = 1;
            if (fits(f, r)) {
                want[i] = 1;
                continue;
            }
            canh_logsource_describe(rls, sizeof(rls), r->product, r->category, r->service);
            snprintf(why, sizeof(why), "filter not applied to rule %s (%s:%d): the filter's "
                     "logsource %s does not fit the rule's, %s", r->id, r->file, r->line, ls,
                     rls);
            problem(rv, refuse, ud, f->file, f->ref_lines[k], f->id, why);
        }
        if (!found) {
            snprintf(why, sizeof(why), "filter names rule '%s', which is not loaded (no loaded "
                     "rule has this id or name)", f->refs[k]);
            problem(rv, refuse, ud, f->file, f->ref_lines[k], f->id, why);
        }
    }
    for (size_t i = 0; i < rv->n; i++) {
        if (!want[i])
            continue;
        canh_rule_t *r = rv->v[i];
        int wline;
        int rc = canh_sigma_filter_rule(fm, r, &f->doc->doc, f->doc->fmap, f->condition,
                                        f->cond_line, f->id, tmp, sizeof(tmp), &wline);
        if (rc == CANH_ENOMEM)
            return rc;
        if (rc) {
            snprintf(why, sizeof(why), "filter not applied to rule %s (%s:%d): %s", r->id,
                     r->file, r->line, tmp);
            problem(rv, refuse, ud, f->file, wline ? wline : f->line, f->id, why);
            continue;
        }
        char *label;
        if (asprintf(&label, "%s (%s:%d)", f->id, f->file, f->line) < 0)
            return CANH_ENOMEM;
        if (strv_push(&r->filters, &r->nfilters, label) ||
            strv_push(&f->applied, &f->napplied, strdup(r->id)))
            return CANH_ENOMEM;
    }
    return CANH_OK;
}

int canh_sigma_apply_filters(const canh_fieldmap_t *fm, canh_rulevec_t *rv,
                             canh_refuse_fn refuse, void *ud)
{
    if (!fm || !rv)
        return CANH_EINVAL;
    unsigned char *want = malloc(rv->n ? rv->n : 1);
    if (!want)
        return CANH_ENOMEM;
    int rc = CANH_OK;
    for (size_t i = 0; i < rv->nfilters && rc == CANH_OK; i++) {
        canh_filter_t *f = rv->filters[i];
        if (!f->doc)
            continue;   /* applied already */
        rc = apply_one(fm, rv, f, want, refuse, ud);
        doc_free(f->doc);
        f->doc = NULL;
    }
    free(want);
    return rc;
}
