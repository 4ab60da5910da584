/*
 * engine/detect/fieldmap.c -- the field-mapping table (conf/fieldmap.yml):
 * per Sigma log source, the canh datasets a rule sees, the field keyword
 * lists search, and the canh name of each Sigma field.
 *
 *   datasets: [proxy, dns, ...]          extra dataset names to register
 *   logsources:
 *     - name: linux-sshd
 *       match: {product: linux, service: sshd}
 *       datasets: [sshd]
 *       keywords: message
 *       fields: {Image: process.executable, LogonId: ~}   (~ = known, no equivalent)
 *       passthrough: false     (true: another name X is the payload key X:
 *                               canh.payload.X, see parsers/payload.c)
 *       prefix: ""             (other names X become PREFIX + X)
 *
 * A field is mapped by the source's `fields` first, then canh's own static
 * names and canh.payload.* (identity, in every source), then
 * passthrough/prefix; anything else
 * is refused. A rule's log source must equal one entry's `match` exactly
 * (product, category, service; comparison ignores case).
 *
 * Ownership: the map owns all its strings. Thread: loaded at start-up (it
 * registers datasets, which is single-threaded); read-only afterwards.
 */
#include "sigma_int.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <yaml.h>

struct canh_fm_source {
    char *name;
    char *product, *category, *service;   /* NULL = key absent */
    uint64_t datasets;
    char *keywords;
    char **sigma;     /* Sigma names */
    char **canh;      /* canh names; NULL = no equivalent (refuse) */
    size_t nfields;
    int passthrough;
    char *prefix;     /* NULL or "" = none */
    int line;
};

struct canh_fieldmap {
    canh_fm_source_t *src;
    size_t n;
};

/* ---- YAML document helpers ---- */

static const char *scalar(yaml_document_t *d, yaml_node_t *n)
{
    (void)d;
    return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static int line_of(yaml_node_t *n)
{
    return n ? (int)n->start_mark.line + 1 : 0;
}

static int fm_fail(char *err, size_t errlen, const char *path, int line, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static int fm_fail(char *err, size_t errlen, const char *path, int line, const char *fmt, ...)
{
    if (errlen) {
        int k = snprintf(err, errlen, "%s:%d: ", path, line);
        if (k >= 0 && (size_t)k < errlen) {
            va_list ap;
            va_start(ap, fmt);
            vsnprintf(err + k, errlen - (size_t)k, fmt, ap);
            va_end(ap);
        }
    }
    return CANH_EPARSE;
}

static void source_free(canh_fm_source_t *s)
{
    free(s->name);
    free(s->product);
    free(s->category);
    free(s->service);
    free(s->keywords);
    for (size_t i = 0; i < s->nfields; i++) {
        free(s->sigma[i]);
        free(s->canh[i]);
    }
    free(s->sigma);
    free(s->canh);
    free(s->prefix);
}

void canh_fieldmap_free(canh_fieldmap_t *fm)
{
    if (!fm)
        return;
    for (size_t i = 0; i < fm->n; i++)
        source_free(&fm->src[i]);
    free(fm->src);
    free(fm);
}

static int is_null_scalar(yaml_node_t *n)
{
    if (!n || n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return 0;
    const char *v = (const char *)n->data.scalar.value;
    return !*v || !strcmp(v, "~") || !strcasecmp(v, "null");
}

static int parse_bool(yaml_node_t *n, int *out)
{
    const char *v = n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
    if (v && (!strcasecmp(v, "true") || !strcasecmp(v, "yes")))
        *out = 1;
    else if (v && (!strcasecmp(v, "false") || !strcasecmp(v, "no")))
        *out = 0;
    else
        return -1;
    return 0;
}

static int load_source(yaml_document_t *d, yaml_node_t *n, canh_fm_source_t *s,
                       const char *path, char *err, size_t errlen)
{
    s->line = line_of(n);
    s->keywords = strdup("message");
    if (!s->keywords)
        return CANH_ENOMEM;
    if (n->type != YAML_MAPPING_NODE)
        return fm_fail(err, errlen, path, s->line, "a logsources entry must be a map");
    int have_match = 0, have_ds = 0;
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(d, p->key);
        yaml_node_t *v = yaml_document_get_node(d, p->value);
        const char *key = scalar(d, k);
        if (!key)
            return fm_fail(err, errlen, path, line_of(k), "keys must be plain names");
        if (!strcmp(key, "name")) {
            if (!scalar(d, v))
                return fm_fail(err, errlen, path, line_of(v), "'name' must be a string");
            free(s->name);
            s->name = strdup(scalar(d, v));
        } else if (!strcmp(key, "match")) {
            if (v->type != YAML_MAPPING_NODE)
                return fm_fail(err, errlen, path, line_of(v), "'match' must be a map");
            for (yaml_node_pair_t *q = v->data.mapping.pairs.start; q < v->data.mapping.pairs.top; q++) {
                const char *mk = scalar(d, yaml_document_get_node(d, q->key));
                yaml_node_t *mvn = yaml_document_get_node(d, q->value);
                const char *mv = scalar(d, mvn);
                if (!mk || !mv || !*mv)
                    return fm_fail(err, errlen, path, line_of(mvn), "'match' values must be strings");
                char **slot = !strcmp(mk, "product") ? &s->product
                            : !strcmp(mk, "category") ? &s->category
                            : !strcmp(mk, "service") ? &s->service : NULL;
                if (!slot)
                    return fm_fail(err, errlen, path, line_of(mvn),
                                   "unknown 'match' key '%s' (product, category, service)", mk);
                free(*slot);
                *slot = strdup(mv);
            }
            have_match = 1;
        } else if (!strcmp(key, "datasets")) {
            if (v->type != YAML_SEQUENCE_NODE)
                return fm_fail(err, errlen, path, line_of(v), "'datasets' must be a list");
            for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++) {
                yaml_node_t *in = yaml_document_get_node(d, *it);
                const char *ds = scalar(d, in);
                int id = ds ? canh_dataset_lookup(ds, strlen(ds)) : -1;
                if (id < 0)
                    return fm_fail(err, errlen, path, line_of(in),
                                   "unknown dataset '%s' (declare it under the top-level 'datasets')",
                                   ds ? ds : "?");
                s->datasets |= CANH_DS_BIT(id);
            }
            have_ds = 1;
        } else if (!strcmp(key, "keywords")) {
            if (!scalar(d, v) || !*scalar(d, v))
                return fm_fail(err, errlen, path, line_of(v), "'keywords' must be a field name");
            free(s->keywords);
            s->keywords = strdup(scalar(d, v));
        } else if (!strcmp(key, "fields")) {
            if (is_null_scalar(v))
                continue;
            if (v->type != YAML_MAPPING_NODE)
                return fm_fail(err, errlen, path, line_of(v), "'fields' must be a map");
            size_t n_f = (size_t)(v->data.mapping.pairs.top - v->data.mapping.pairs.start);
            s->sigma = calloc(n_f ? n_f : 1, sizeof(char *));
            s->canh = calloc(n_f ? n_f : 1, sizeof(char *));
            if (!s->sigma || !s->canh)
                return CANH_ENOMEM;
            for (yaml_node_pair_t *q = v->data.mapping.pairs.start; q < v->data.mapping.pairs.top; q++) {
                yaml_node_t *fk = yaml_document_get_node(d, q->key);
                yaml_node_t *fv = yaml_document_get_node(d, q->value);
                const char *sn = scalar(d, fk);
                if (!sn || (!is_null_scalar(fv) && (!scalar(d, fv) || !*scalar(d, fv))))
                    return fm_fail(err, errlen, path, line_of(fk),
                                   "'fields' entries must be 'SigmaName: canh.name' (or ~)");
                s->sigma[s->nfields] = strdup(sn);
                s->canh[s->nfields] = is_null_scalar(fv) ? NULL : strdup(scalar(d, fv));
                s->nfields++;
            }
        } else if (!strcmp(key, "passthrough")) {
            if (parse_bool(v, &s->passthrough))
                return fm_fail(err, errlen, path, line_of(v), "'passthrough' must be true or false");
        } else if (!strcmp(key, "prefix")) {
            if (!scalar(d, v))
                return fm_fail(err, errlen, path, line_of(v), "'prefix' must be a string");
            free(s->prefix);
            s->prefix = *scalar(d, v) ? strdup(scalar(d, v)) : NULL;
        } else {
            return fm_fail(err, errlen, path, line_of(k),
                           "unknown key '%s' in a logsources entry", key);
        }
    }
    if (!have_match || (!s->product && !s->category && !s->service))
        return fm_fail(err, errlen, path, s->line, "logsources entry '%s' has no 'match'",
                       s->name ? s->name : "?");
    if (!have_ds || !s->datasets)
        return fm_fail(err, errlen, path, s->line, "logsources entry '%s' has no 'datasets'",
                       s->name ? s->name : "?");
    if (!s->name) {
        char buf[256];
        snprintf(buf, sizeof(buf), "%s/%s/%s", s->product ? s->product : "-",
                 s->category ? s->category : "-", s->service ? s->service : "-");
        s->name = strdup(buf);
    }
    return CANH_OK;
}

static int eq_opt(const char *a, const char *b)
{
    if (!a || !b)
        return !a && !b;
    return strcasecmp(a, b) == 0;
}

static int load_doc(canh_fieldmap_t *fm, yaml_document_t *d, const char *path,
                    char *err, size_t errlen)
{
    yaml_node_t *root = yaml_document_get_root_node(d);
    if (!root || root->type != YAML_MAPPING_NODE)
        return fm_fail(err, errlen, path, line_of(root), "the field map must be a YAML map");
    yaml_node_t *sources = NULL;
    for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(d, p->key);
        yaml_node_t *v = yaml_document_get_node(d, p->value);
        const char *key = scalar(d, k);
        if (key && !strcmp(key, "datasets")) {
            if (v->type != YAML_SEQUENCE_NODE)
                return fm_fail(err, errlen, path, line_of(v), "'datasets' must be a list");
            for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++) {
                yaml_node_t *in = yaml_document_get_node(d, *it);
                const char *ds = scalar(d, in);
                if (!ds || !*ds)
                    return fm_fail(err, errlen, path, line_of(in), "dataset names must be strings");
                if (canh_dataset_register(ds) < 0)
                    return fm_fail(err, errlen, path, line_of(in),
                                   "cannot register dataset '%s' (at most %d datasets)", ds, CANH_DS_MAX);
            }
        } else if (key && !strcmp(key, "logsources")) {
            if (v->type != YAML_SEQUENCE_NODE)
                return fm_fail(err, errlen, path, line_of(v), "'logsources' must be a list");
            sources = v;
        } else {
            return fm_fail(err, errlen, path, line_of(k), "unknown top-level key '%s'",
                           key ? key : "?");
        }
    }
    if (!sources)
        return fm_fail(err, errlen, path, 1, "no 'logsources' list");
    size_t n = (size_t)(sources->data.sequence.items.top - sources->data.sequence.items.start);
    fm->src = calloc(n ? n : 1, sizeof(*fm->src));
    if (!fm->src)
        return CANH_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        yaml_node_t *sn = yaml_document_get_node(d, sources->data.sequence.items.start[i]);
        fm->n = i + 1;
        int rc = load_source(d, sn, &fm->src[i], path, err, errlen);
        if (rc == CANH_ENOMEM)
            snprintf(err, errlen, "%s: out of memory", path);
        if (rc)
            return rc;
        for (size_t j = 0; j < i; j++) {
            canh_fm_source_t *a = &fm->src[j], *b = &fm->src[i];
            if (eq_opt(a->product, b->product) && eq_opt(a->category, b->category) &&
                eq_opt(a->service, b->service))
                return fm_fail(err, errlen, path, b->line,
                               "logsources entry '%s' has the same 'match' as '%s' (line %d)",
                               b->name, a->name, a->line);
        }
    }
    return CANH_OK;
}

int canh_fieldmap_load(canh_fieldmap_t **out, const char *path, char *err, size_t errlen)
{
    *out = NULL;
    if (errlen)
        err[0] = '\0';
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: cannot open field map: %s", path, strerror(errno));
        return errno == ENOENT ? CANH_ENOENT : CANH_EIO;
    }
    yaml_parser_t parser;
    yaml_document_t doc;
    if (!yaml_parser_initialize(&parser)) {
        fclose(f);
        snprintf(err, errlen, "%s: out of memory", path);
        return CANH_ENOMEM;
    }
    yaml_parser_set_input_file(&parser, f);
    int rc;
    if (!yaml_parser_load(&parser, &doc)) {
        rc = fm_fail(err, errlen, path, (int)parser.problem_mark.line + 1, "YAML error: %s",
                     parser.problem ? parser.problem : "unknown");
        yaml_parser_delete(&parser);
        fclose(f);
        return rc;
    }
    canh_fieldmap_t *fm = calloc(1, sizeof(*fm));
    if (!fm) {
        rc = CANH_ENOMEM;
        snprintf(err, errlen, "%s: out of memory", path);
    } else {
        rc = load_doc(fm, &doc, path, err, errlen);
    }
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    fclose(f);
    if (rc) {
        canh_fieldmap_free(fm);
        return rc;
    }
    *out = fm;
    return CANH_OK;
}

const canh_fm_source_t *canh_fieldmap_find(const canh_fieldmap_t *fm, const char *product,
                                           const char *category, const char *service)
{
    for (size_t i = 0; i < fm->n; i++) {
        const canh_fm_source_t *s = &fm->src[i];
        if (eq_opt(s->product, product) && eq_opt(s->category, category) &&
            eq_opt(s->service, service))
            return s;
    }
    return NULL;
}

uint64_t canh_fm_source_datasets(const canh_fm_source_t *s)
{
    return s->datasets;
}

const char *canh_fm_source_keywords(const canh_fm_source_t *s)
{
    return s->keywords;
}

void canh_logsource_describe(char *buf, size_t n, const char *product, const char *category,
                             const char *service)
{
    size_t k = 0;
    buf[0] = '\0';
    const char *names[3] = { "product", "category", "service" };
    const char *vals[3] = { product, category, service };
    for (int i = 0; i < 3; i++) {
        if (!vals[i] || k >= n)
            continue;
        int w = snprintf(buf + k, n - k, "%s%s=%s", k ? " " : "", names[i], vals[i]);
        if (w > 0)
            k += (size_t)w;
    }
    if (!buf[0])
        snprintf(buf, n, "(empty)");
}

int canh_fm_map_field(const canh_fm_source_t *s, const char *sigma_name,
                      const char *product, const char *category, const char *service,
                      char **out, char *why, size_t whylen)
{
    char src[256];
    *out = NULL;
    for (size_t i = 0; i < s->nfields; i++) {
        if (strcmp(s->sigma[i], sigma_name) != 0)
            continue;
        if (!s->canh[i]) {
            canh_logsource_describe(src, sizeof(src), product, category, service);
            snprintf(why, whylen, "field '%s' has no canh equivalent for logsource %s",
                     sigma_name, src);
            return CANH_ENOENT;
        }
        *out = strdup(s->canh[i]);
        return *out ? CANH_OK : CANH_ENOMEM;
    }
    size_t sl = strlen(sigma_name);
    /* canh's static names, and a payload key as the decoders keep it
     * (canh.payload.user), are the same in every log source */
    if (canh_field_lookup(sigma_name, sl) != CANH_F_DYNAMIC ||
        (sl > 13 && memcmp(sigma_name, "canh.payload.", 13) == 0)) {
        *out = strdup(sigma_name);
        return *out ? CANH_OK : CANH_ENOMEM;
    }
    if (s->passthrough) {   /* the product's own key, as the decoders keep it */
        static const char pre[] = "canh.payload.";
        *out = malloc(CANH_FIELD_PATH_ROOM(sizeof(pre) - 1, sl) + 1);
        if (!*out)
            return CANH_ENOMEM;
        (*out)[canh_field_path_write(*out, pre, sizeof(pre) - 1, sigma_name, sl)] = '\0';
        return CANH_OK;
    }
    if (s->prefix) {
        size_t a = strlen(s->prefix), b = strlen(sigma_name);
        *out = malloc(a + b + 1);
        if (!*out)
            return CANH_ENOMEM;
        memcpy(*out, s->prefix, a);
        memcpy(*out + a, sigma_name, b + 1);
        return CANH_OK;
    }
    canh_logsource_describe(src, sizeof(src), product, category, service);
    snprintf(why, whylen, "field '%s' has no mapping for logsource %s", sigma_name, src);
    return CANH_ENOENT;
}
