/*
 * engine/explain.c -- why a rule fired, or did not, in the rule's own words
 * (see explain.h).
 *
 * One rule on one event: canh_matcher_explain gives each atom's truth as
 * the matcher decided it and the value that shows it; the rule's
 * provenance (rule.h: each atom's selection, key and value as written,
 * each selection's tree, the condition over selections) turns those into
 * selections that are true or false and a condition that holds or fails,
 * with the reason ("selection `filter` is true, so `not filter` is false").
 * The selection-level truths are recomputed from the atoms and compared
 * with the matcher's verdict; a difference is reported, never smoothed over.
 *
 * Runs on the caller's thread (canh explain's, or the worker formatting an
 * alert). Memory: a few small allocations per rule explained.
 */
#include "explain.h"

#include <stdio.h>
#include <stdlib.h>
#include <utf8proc.h>

#define TEXT_MAX 300   /* bytes of a value shown in text output */

/* ---- one rule on one event ------------------------------------------------ */

typedef struct rule_expl {
    const canh_rule_t *r;
    uint32_t idx;
    int verdict;                 /* CANH_EXPLAIN_* */
    canh_explain_atom_t *atoms;  /* r->natoms */
    uint8_t *atruth;             /* r->natoms */
    uint8_t *struth;             /* r->nsels */
    int tree;                    /* the condition over the atoms' truths */
    int cond;                    /* the condition over the selections' truths */
    int agrees;                  /* verdict, tree, cond and every atom's value agree */
} rule_expl_t;

static void on_atom(void *ud, const canh_explain_atom_t *a)
{
    rule_expl_t *x = ud;
    if (a->atom < x->r->natoms) {
        x->atoms[a->atom] = *a;
        x->atruth[a->atom] = (uint8_t)a->truth;
    }
}

static void expl_free(rule_expl_t *x)
{
    free(x->atoms);
    free(x->atruth);
    free(x->struth);
}

static int expl_rule(canh_matcher_t *m, const canh_rule_t *r, const canh_event_t *ev,
                     uint32_t idx, rule_expl_t *x)
{
    memset(x, 0, sizeof(*x));
    x->r = r;
    x->idx = idx;
    size_t na = r->natoms ? r->natoms : 1, ns = r->nsels ? r->nsels : 1;
    x->atoms = calloc(na, sizeof(*x->atoms));
    x->atruth = calloc(na, 1);
    x->struth = calloc(ns, 1);
    if (!x->atoms || !x->atruth || !x->struth) {
        expl_free(x);
        return CANH_ENOMEM;
    }
    x->verdict = canh_matcher_explain(m, ev, idx, on_atom, x);
    if (x->verdict < 0) {
        expl_free(x);
        return x->verdict;
    }
    if (x->verdict == CANH_EXPLAIN_UNSEEN) {
        x->agrees = 1;
        return CANH_OK;
    }
    x->tree = canh_node_eval(r->cond, x->atruth);
    for (size_t i = 0; i < r->nsels; i++)
        x->struth[i] = (uint8_t)canh_node_eval(r->sels[i].tree, x->atruth);
    x->cond = r->sel_cond ? canh_node_eval(r->sel_cond, x->struth) : x->tree;
    int fired = x->verdict == CANH_EXPLAIN_FIRED;
    x->agrees = fired == x->tree && x->tree == x->cond;
    for (size_t a = 0; a < r->natoms; a++)
        if (!x->atoms[a].shown)
            x->agrees = 0;
    return CANH_OK;
}

/* ---- text for a terminal ---------------------------------------------------- */

/* How much of the printable ASCII is escaped too: a value from a log in
 * double quotes (\ and "), the log line unquoted (\ only, so an escape
 * stays unambiguous), or the rule's own text (neither: a regex reads as
 * written). */
enum { ESC_QUOTED, ESC_LINE, ESC_RULE };

static void put_text(canh_buf_t *b, const char *s, size_t n, size_t max, int mode)
{
    size_t lim = n > max ? max : n, i = 0;
    while (i < lim) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c < 0x7f) {
            if ((c == '\\' && mode != ESC_RULE) || (c == '"' && mode == ESC_QUOTED))
                canh_buf_putc(b, '\\');
            canh_buf_putc(b, (char)c);
            i++;
            continue;
        }
        /* the rest, strictly: controls, format characters (bidirectional
         * overrides, zero widths), separators, private use and unassigned */
        utf8proc_int32_t cp = c;
        utf8proc_ssize_t k = 1;
        if (c >= 0x80 && (k = utf8proc_iterate((const utf8proc_uint8_t *)s + i,
                                               (utf8proc_ssize_t)(n - i), &cp)) <= 0) {
            k = 1;   /* not UTF-8: the byte itself */
            cp = -1;
        }
        char e[16];
        size_t elen = canh_escape_char((const unsigned char *)s + i, cp, 1, e);
        if (elen)
            canh_buf_put(b, e, elen);
        else
            canh_buf_put(b, s + i, (size_t)k);
        i += (size_t)k;
    }
    if (n > lim)
        canh_buf_printf(b, "...(%zu bytes)", n);
}

void canh_explain_put_text(canh_buf_t *b, const char *s, size_t n, size_t max)
{
    put_text(b, s, n, max, ESC_QUOTED);
}

/* The rule's own words (names, keys, values, condition), controls escaped. */
static void put_rule_text(canh_buf_t *b, const char *s)
{
    put_text(b, s ? s : "", s ? strlen(s) : 0, TEXT_MAX, ESC_RULE);
}

static void put_q(canh_buf_t *b, const char *s, size_t n)
{
    canh_buf_putc(b, '"');
    canh_explain_put_text(b, s, n, TEXT_MAX);
    canh_buf_putc(b, '"');
}

static void put_qs(canh_buf_t *b, const char *s)
{
    put_q(b, s ? s : "", s ? strlen(s) : 0);
}

static void put_field(canh_buf_t *b, const canh_field_t *f)
{
    put_text(b, f->name.ptr, f->name.len, TEXT_MAX, ESC_LINE);
    canh_buf_puts(b, " = ");
    put_q(b, f->value.ptr ? f->value.ptr : "", f->value.len);
}

static void put_datasets(canh_buf_t *b, uint64_t ds, const char *sep)
{
    int any = 0;
    for (int d = 0; d < CANH_DS_MAX; d++)
        if (ds & CANH_DS_BIT(d)) {
            const char *name = canh_dataset_name(d);
            if (!name)
                continue;
            if (any)
                canh_buf_puts(b, sep);
            put_rule_text(b, name);   /* the field map's words: controls escaped */
            any = 1;
        }
    if (!any)
        canh_buf_puts(b, "(none)");
}

/* ---- the condition in the rule's words -------------------------------------- */

static const char *sel_name(const canh_rule_t *r, uint32_t i)
{
    return i < r->nsels && r->sels[i].name ? r->sels[i].name : "?";
}

/* A selection-level tree as text: names, not, and, or, with parentheses
 * where the operator changes. */
static void put_cond(canh_buf_t *b, const canh_rule_t *r, const canh_node_t *n, int parent)
{
    switch (n->op) {
    case CANH_NODE_ATOM:
        put_rule_text(b, sel_name(r, n->atom));
        return;
    case CANH_NODE_NOT:
        canh_buf_puts(b, "not ");
        put_cond(b, r, n->kids[0], CANH_NODE_NOT);
        return;
    default: {
        int paren = parent >= 0 && parent != (int)n->op && n->nkids > 1;
        if (paren)
            canh_buf_putc(b, '(');
        for (uint32_t i = 0; i < n->nkids; i++) {
            if (i)
                canh_buf_puts(b, n->op == CANH_NODE_AND ? " and " : " or ");
            put_cond(b, r, n->kids[i], (int)n->op);
        }
        if (paren)
            canh_buf_putc(b, ')');
    }
    }
}

/* "selection `filter`" or "`a or b`": what a part of the condition is called. */
static void put_part(canh_buf_t *b, const canh_rule_t *r, const canh_node_t *n)
{
    if (n->op == CANH_NODE_ATOM)
        canh_buf_puts(b, "selection ");
    canh_buf_putc(b, '`');
    put_cond(b, r, n, -1);
    canh_buf_putc(b, '`');
}

/* Why part n of the condition has truth `want` (which it has). */
static void put_why(canh_buf_t *b, const canh_rule_t *r, const canh_node_t *n,
                    const uint8_t *st, int want)
{
    switch (n->op) {
    case CANH_NODE_ATOM:
        put_part(b, r, n);
        canh_buf_puts(b, want ? " is true" : " is false");
        return;
    case CANH_NODE_NOT:
        if (n->kids[0]->op == CANH_NODE_ATOM) {
            put_part(b, r, n->kids[0]);
            canh_buf_puts(b, want ? " is false" : " is true");
        } else {
            put_why(b, r, n->kids[0], st, !want);
        }
        canh_buf_puts(b, ", so `");
        put_cond(b, r, n, -1);
        canh_buf_puts(b, want ? "` is true" : "` is false");
        return;
    default: {
        /* AND true / OR false: every part; AND false / OR true: the parts
         * that decide it */
        if (n->op == CANH_NODE_OR && !want)
            canh_buf_puts(b, "no part is true: ");
        int k = 0;
        for (uint32_t i = 0; i < n->nkids; i++) {
            if (canh_node_eval(n->kids[i], st) != want)
                continue;
            if (k++)
                canh_buf_puts(b, n->op == CANH_NODE_AND && want ? " and " : "; ");
            put_why(b, r, n->kids[i], st, want);
        }
    }
    }
}

/* ---- one field test --------------------------------------------------------- */

/* Does the key as written carry modifier `mod`? */
static int has_mod(const char *key, const char *mod)
{
    size_t ml = strlen(mod);
    for (const char *p = key ? strchr(key, '|') : NULL; p; p = strchr(p + 1, '|'))
        if (strncmp(p + 1, mod, ml) == 0 && (p[1 + ml] == '|' || p[1 + ml] == '\0'))
            return 1;
    return 0;
}

/* What a value must do to pass the test: "contains it" ... */
static void put_verb(canh_buf_t *b, const canh_atom_t *a)
{
    const char *k = a->sigma_field;
    switch (a->kind) {
    case CANH_ATOM_CIDR:
        canh_buf_puts(b, "is in that network");
        return;
    case CANH_ATOM_NUM:
        canh_buf_puts(b, a->op == CANH_NUM_GT ? "is greater than it" : a->op == CANH_NUM_GTE
                         ? "is at least that" : a->op == CANH_NUM_LT ? "is less than it"
                         : "is at most that");
        return;
    case CANH_ATOM_FIELDREF:
        canh_buf_puts(b, "equals a value of ");
        put_rule_text(b, a->ref_field);
        return;
    default:
        break;
    }
    if (has_mod(k, "re"))
        canh_buf_puts(b, "matches it");
    else if (has_mod(k, "contains") || (a->keyword && !has_mod(k, "startswith") &&
                                        !has_mod(k, "endswith")))
        canh_buf_puts(b, "contains it");
    else if (has_mod(k, "startswith"))
        canh_buf_puts(b, "starts with it");
    else if (has_mod(k, "endswith"))
        canh_buf_puts(b, "ends with it");
    else
        canh_buf_puts(b, "equals it");
}

static const canh_field_t *fld(const canh_event_t *ev, int32_t i)
{
    return i >= 0 && (uint32_t)i < ev->nfields ? &ev->fields[i] : NULL;
}

/* The test as the rule wrote it: "CommandLine|contains: 'wget'". */
static void put_test(canh_buf_t *b, const canh_atom_t *a)
{
    if (a->sigma_field) {
        put_rule_text(b, a->sigma_field);
        canh_buf_puts(b, ": '");
        put_rule_text(b, a->sigma_value);
        canh_buf_putc(b, '\'');
        return;
    }
    put_rule_text(b, a->field);   /* not from Sigma */
    if (a->regex) {
        canh_buf_puts(b, " =~ /");
        put_rule_text(b, a->regex);
        canh_buf_putc(b, '/');
    }
}

/* What the event shows for one test: the value that made it true, or why
 * none did. */
static void put_result(canh_buf_t *b, const canh_event_t *ev, const canh_atom_t *a,
                       const canh_explain_atom_t *w)
{
    const canh_field_t *f = fld(ev, w->field), *g = fld(ev, w->ref_field),
                       *first = fld(ev, w->first);
    const char *fname = a->field;
    switch (a->kind) {
    case CANH_ATOM_EXISTS:
        if (f) {
            put_field(b, f);
            canh_buf_puts(b, " is present");
        } else {
            put_rule_text(b, fname);
            canh_buf_puts(b, " is absent");
        }
        break;
    case CANH_ATOM_EMPTY:
        if (w->truth && !f) {
            put_rule_text(b, fname);
            canh_buf_puts(b, " is absent");
        } else if (w->truth) {
            put_rule_text(b, fname);
            canh_buf_puts(b, " is empty");
        } else {
            put_rule_text(b, fname);
            canh_buf_puts(b, " is not empty (");
            if (first)
                put_field(b, first);
            canh_buf_putc(b, ')');
        }
        break;
    default:
        if (w->truth && f) {
            put_field(b, f);
            if (g) {
                canh_buf_puts(b, ", as ");
                put_field(b, g);
            }
        } else if (!w->nvalues) {
            put_rule_text(b, fname);
            canh_buf_puts(b, " is absent");
        } else {
            canh_buf_puts(b, "no value of ");
            put_rule_text(b, fname);
            canh_buf_putc(b, ' ');
            put_verb(b, a);
            canh_buf_puts(b, " (");
            if (first)
                put_field(b, first);
            if (w->nvalues > 1)
                canh_buf_printf(b, ", and %u more", w->nvalues - 1);
            canh_buf_putc(b, ')');
        }
    }
    if (!w->shown)
        canh_buf_puts(b, w->truth ? "  [DISAGREES: the matcher says true, but no value shows it]"
                                  : "  [DISAGREES: the matcher says false, but a value matches]");
}

/* ---- text report ------------------------------------------------------------ */

static void text_atoms(canh_buf_t *b, const canh_event_t *ev, const rule_expl_t *x,
                       const char *sel)
{
    const canh_rule_t *r = x->r;
    for (size_t i = 0; i < r->natoms; i++) {
        const canh_atom_t *a = &r->atoms[i];
        if (sel ? !a->selection || strcmp(a->selection, sel) != 0 : a->selection != NULL)
            continue;
        canh_buf_puts(b, x->atoms[i].truth ? "      true   " : "      false  ");
        put_test(b, a);
        canh_buf_puts(b, "  ->  ");
        put_result(b, ev, a, &x->atoms[i]);
        canh_buf_putc(b, '\n');
    }
}

static void text_rule(canh_buf_t *b, const canh_event_t *ev, const rule_expl_t *x)
{
    const canh_rule_t *r = x->r;
    int fired = x->verdict == CANH_EXPLAIN_FIRED;
    canh_buf_puts(b, fired ? "  FIRED      " : "  NOT FIRED  ");
    canh_buf_printf(b, "%s  ", canh_level_name(r->level));
    put_qs(b, r->title);
    canh_buf_puts(b, "  id ");
    put_rule_text(b, r->id ? r->id : "-");
    if (r->file) {
        canh_buf_puts(b, "  (");
        put_rule_text(b, r->file);
        canh_buf_printf(b, ":%d)", r->line);
    }
    canh_buf_putc(b, '\n');
    if (x->verdict == CANH_EXPLAIN_UNSEEN) {
        canh_buf_puts(b, "    the rule does not see this event: its log source is for ");
        put_datasets(b, r->datasets, ", ");
        canh_buf_puts(b, "; this event is ");
        put_datasets(b, ev->datasets, ", ");
        canh_buf_putc(b, '\n');
        return;
    }
    canh_buf_puts(b, "    condition: ");
    if (r->condition)
        put_rule_text(b, r->condition);
    canh_buf_puts(b, x->cond ? "  -> true" : "  -> false");
    if (r->sel_cond) {
        canh_buf_puts(b, ": ");
        put_why(b, r, r->sel_cond, x->struth, x->cond);
    }
    canh_buf_putc(b, '\n');
    if (!x->agrees)
        canh_buf_printf(b, "    [DISAGREES: the matcher says %s; the field tests below make "
                        "the condition %s]\n", fired ? "fired" : "not fired",
                        x->tree ? "true" : "false");
    for (size_t s = 0; s < r->nsels; s++) {
        canh_buf_puts(b, "    selection `");
        put_rule_text(b, r->sels[s].name);
        canh_buf_puts(b, x->struth[s] ? "` is true\n" : "` is false\n");
        text_atoms(b, ev, x, r->sels[s].name);
    }
    if (!r->nsels) {
        canh_buf_puts(b, "    field tests\n");
        text_atoms(b, ev, x, NULL);
    }
}

/* ---- JSON report ------------------------------------------------------------ */

static void jstr(canh_buf_t *b, const char *s)
{
    canh_json_put_string(b, s ? s : "", s ? strlen(s) : 0);
}

static void jkey(canh_buf_t *b, int *first, const char *k)
{
    if (!*first)
        canh_buf_putc(b, ',');
    *first = 0;
    jstr(b, k);
    canh_buf_putc(b, ':');
}

static void jslice(canh_buf_t *b, canh_slice_t s)
{
    canh_json_put_string(b, s.ptr ? s.ptr : "", s.len);
}

static void jdatasets(canh_buf_t *b, uint64_t ds)
{
    canh_buf_putc(b, '[');
    int any = 0;
    for (int d = 0; d < CANH_DS_MAX; d++)
        if ((ds & CANH_DS_BIT(d)) && canh_dataset_name(d)) {
            if (any++)
                canh_buf_putc(b, ',');
            jstr(b, canh_dataset_name(d));
        }
    canh_buf_putc(b, ']');
}

static void json_test(canh_buf_t *b, const canh_event_t *ev, const canh_atom_t *a,
                      const canh_explain_atom_t *w)
{
    int f1 = 1;
    canh_buf_putc(b, '{');
    if (a->sigma_field) {
        jkey(b, &f1, "rule_field");
        jstr(b, a->sigma_field);
        jkey(b, &f1, "rule_value");
        jstr(b, a->sigma_value);
    }
    jkey(b, &f1, "canh_field");
    jstr(b, a->field);
    jkey(b, &f1, "result");
    canh_buf_puts(b, w->truth ? "true" : "false");
    jkey(b, &f1, "values");
    canh_buf_printf(b, "%u", w->nvalues);
    const canh_field_t *f = fld(ev, w->field), *g = fld(ev, w->ref_field);
    if (f) {
        jkey(b, &f1, "field");
        jslice(b, f->name);
        jkey(b, &f1, "value");
        jslice(b, f->value);
    }
    if (g) {
        jkey(b, &f1, "ref_field");
        jslice(b, g->name);
        jkey(b, &f1, "ref_value");
        jslice(b, g->value);
    }
    if (!w->truth) {
        canh_buf_t why;
        canh_buf_init(&why);
        put_result(&why, ev, a, w);
        jkey(b, &f1, "why");
        canh_json_put_string(b, why.ptr ? why.ptr : "", why.len);
        canh_buf_free(&why);
    }
    jkey(b, &f1, "agrees");
    canh_buf_puts(b, w->shown ? "true" : "false");
    canh_buf_putc(b, '}');
}

static void json_tests(canh_buf_t *b, const canh_event_t *ev, const rule_expl_t *x,
                       const char *sel)
{
    const canh_rule_t *r = x->r;
    int any = 0;
    canh_buf_putc(b, '[');
    for (size_t i = 0; i < r->natoms; i++) {
        const canh_atom_t *a = &r->atoms[i];
        if (sel ? !a->selection || strcmp(a->selection, sel) != 0 : a->selection != NULL)
            continue;
        if (any++)
            canh_buf_putc(b, ',');
        json_test(b, ev, a, &x->atoms[i]);
    }
    canh_buf_putc(b, ']');
}

static void json_rule(canh_buf_t *b, const canh_event_t *ev, const rule_expl_t *x, int asked)
{
    const canh_rule_t *r = x->r;
    int f1 = 1;
    canh_buf_putc(b, '{');
    jkey(b, &f1, "id");
    jstr(b, r->id);
    jkey(b, &f1, "title");
    jstr(b, r->title);
    jkey(b, &f1, "level");
    jstr(b, canh_level_name(r->level));
    if (r->file) {
        jkey(b, &f1, "file");
        jstr(b, r->file);
        jkey(b, &f1, "line");
        canh_buf_printf(b, "%d", r->line);
    }
    jkey(b, &f1, "fired");
    canh_buf_puts(b, x->verdict == CANH_EXPLAIN_FIRED ? "true" : "false");
    jkey(b, &f1, "asked");
    canh_buf_puts(b, asked ? "true" : "false");
    jkey(b, &f1, "seen");
    canh_buf_puts(b, x->verdict == CANH_EXPLAIN_UNSEEN ? "false" : "true");
    if (x->verdict == CANH_EXPLAIN_UNSEEN) {
        jkey(b, &f1, "rule_datasets");
        jdatasets(b, r->datasets);
        canh_buf_putc(b, '}');
        return;
    }
    jkey(b, &f1, "agrees");
    canh_buf_puts(b, x->agrees ? "true" : "false");
    if (r->condition) {
        jkey(b, &f1, "condition");
        jstr(b, r->condition);
    }
    jkey(b, &f1, "condition_result");
    canh_buf_puts(b, x->cond ? "true" : "false");
    if (r->sel_cond) {
        canh_buf_t why;
        canh_buf_init(&why);
        put_why(&why, r, r->sel_cond, x->struth, x->cond);
        jkey(b, &f1, "why");
        canh_json_put_string(b, why.ptr ? why.ptr : "", why.len);
        canh_buf_free(&why);
    }
    jkey(b, &f1, "selections");
    canh_buf_putc(b, '[');
    for (size_t s = 0; s < r->nsels; s++) {
        int f2 = 1;
        if (s)
            canh_buf_putc(b, ',');
        canh_buf_putc(b, '{');
        jkey(b, &f2, "name");
        jstr(b, r->sels[s].name);
        jkey(b, &f2, "result");
        canh_buf_puts(b, x->struth[s] ? "true" : "false");
        jkey(b, &f2, "tests");
        json_tests(b, ev, x, r->sels[s].name);
        canh_buf_putc(b, '}');
    }
    canh_buf_putc(b, ']');
    if (!r->nsels) {
        jkey(b, &f1, "tests");
        json_tests(b, ev, x, NULL);
    }
    canh_buf_putc(b, '}');
}

/* ---- one event -------------------------------------------------------------- */

static int is_asked(const canh_explain_opts_t *o, uint32_t idx)
{
    for (size_t i = 0; i < o->nasked; i++)
        if (o->asked[i] == idx)
            return 1;
    return 0;
}

int canh_explain_event(canh_matcher_t *m, const canh_ruleset_t *rs, const canh_event_t *ev,
                       uint64_t seq, const canh_explain_opts_t *o, canh_buf_t *out,
                       canh_explain_counts_t *counts)
{
    if (!m || !rs || !ev || !o || !out)
        return CANH_EINVAL;
    size_t nrules = canh_ruleset_size(rs);
    uint32_t *hits = malloc(sizeof(uint32_t) * (nrules ? nrules : 1));
    if (!hits)
        return CANH_ENOMEM;
    int n = canh_matcher_match(m, ev, hits, nrules);
    if (n < 0) {
        free(hits);
        return n;
    }
    if ((size_t)n > nrules)
        n = (int)nrules;
    if (counts) {
        counts->events++;
        counts->fired += (uint64_t)n;
    }
    int json = o->json, f1 = 1;
    if (json) {
        canh_buf_putc(out, '{');
        jkey(out, &f1, "event");
        canh_buf_printf(out, "%llu", (unsigned long long)seq);
        jkey(out, &f1, "original");
        jslice(out, ev->original);
        jkey(out, &f1, "datasets");
        jdatasets(out, ev->datasets);
        jkey(out, &f1, "fields");
        canh_buf_putc(out, '[');
        for (uint32_t i = 0; i < ev->nfields; i++) {
            if (i)
                canh_buf_putc(out, ',');
            canh_buf_puts(out, "{\"name\":");
            jslice(out, ev->fields[i].name);
            canh_buf_puts(out, ",\"value\":");
            jslice(out, ev->fields[i].value);
            canh_buf_putc(out, '}');
        }
        canh_buf_putc(out, ']');
        if (ev->dropped_fields) {
            jkey(out, &f1, "dropped_fields");
            canh_buf_printf(out, "%u", ev->dropped_fields);
        }
        jkey(out, &f1, "rules");
        canh_buf_putc(out, '[');
    } else {
        canh_buf_printf(out, "event %llu: ", (unsigned long long)seq);
        put_text(out, ev->original.ptr ? ev->original.ptr : "", ev->original.len, 2000,
                 ESC_LINE);
        canh_buf_puts(out, "\n  datasets: ");
        put_datasets(out, ev->datasets, " ");
        canh_buf_printf(out, "\n  fields (%u, in the order decoded):\n", ev->nfields);
        for (uint32_t i = 0; i < ev->nfields; i++) {
            canh_buf_puts(out, "    ");
            put_field(out, &ev->fields[i]);
            canh_buf_putc(out, '\n');
        }
        if (ev->dropped_fields)
            canh_buf_printf(out, "    (%u more fields did not fit and were dropped)\n",
                            ev->dropped_fields);
        if (n == 0)
            canh_buf_puts(out, "  no rule fired\n");
        else
            canh_buf_printf(out, "  %d rule%s fired\n", n, n == 1 ? "" : "s");
    }
    /* the rules that fired, in rule order, then the asked ones that did not */
    int rc = CANH_OK, k = 0;
    for (int pass = 0; pass < 2 && rc == CANH_OK; pass++) {
        size_t cnt = pass ? o->nasked : (size_t)n;
        for (size_t i = 0; i < cnt && rc == CANH_OK; i++) {
            uint32_t idx = pass ? o->asked[i] : hits[i];
            if (pass) {
                int dup = 0;
                for (int j = 0; j < n && !dup; j++)
                    dup = hits[j] == idx;
                for (size_t j = 0; j < i && !dup; j++)
                    dup = o->asked[j] == idx;
                if (dup)
                    continue;
            }
            const canh_rule_t *r = canh_ruleset_rule(rs, idx);
            rule_expl_t x;
            if (!r || (rc = expl_rule(m, r, ev, idx, &x)) != CANH_OK)
                break;
            if (!x.agrees && counts)
                counts->disagreements++;
            if (json) {
                if (k)
                    canh_buf_putc(out, ',');
                json_rule(out, ev, &x, is_asked(o, idx));
            } else {
                text_rule(out, ev, &x);
            }
            k++;
            expl_free(&x);
        }
    }
    if (json)
        canh_buf_puts(out, "]}\n");
    else
        canh_buf_putc(out, '\n');
    free(hits);
    return rc;
}

/* ---- canh.matched ----------------------------------------------------------- */

/* Marks the atoms that hold up a true part of the condition: all parts of
 * a true AND, the true parts of an OR, nothing under a NOT. */
static void support(const canh_node_t *n, const uint8_t *t, uint8_t *mark)
{
    switch (n->op) {
    case CANH_NODE_ATOM:
        if (t[n->atom])
            mark[n->atom] = 1;
        return;
    case CANH_NODE_NOT:
        return;
    default:
        for (uint32_t i = 0; i < n->nkids; i++)
            if (canh_node_eval(n->kids[i], t))
                support(n->kids[i], t, mark);
    }
}

int canh_explain_matched_json(canh_matcher_t *m, const canh_rule_t *r, const canh_event_t *ev,
                              uint32_t rule_idx, canh_buf_t *out)
{
    if (!m || !r || !ev || !out)
        return CANH_EINVAL;
    rule_expl_t x;
    int rc = expl_rule(m, r, ev, rule_idx, &x);
    if (rc != CANH_OK)
        return rc;
    uint8_t *mark = calloc(r->natoms ? r->natoms : 1, 1);
    if (!mark) {
        expl_free(&x);
        return CANH_ENOMEM;
    }
    if (x.verdict != CANH_EXPLAIN_UNSEEN && canh_node_eval(r->cond, x.atruth))
        support(r->cond, x.atruth, mark);
    canh_buf_putc(out, '[');
    int any = 0;
    for (size_t i = 0; i < r->natoms; i++) {
        if (!mark[i])
            continue;
        const canh_atom_t *a = &r->atoms[i];
        const canh_field_t *f = fld(ev, x.atoms[i].field);
        int f1 = 1;
        if (any++)
            canh_buf_putc(out, ',');
        canh_buf_putc(out, '{');
        if (a->selection) {
            jkey(out, &f1, "selection");
            jstr(out, a->selection);
        }
        jkey(out, &f1, "field");
        if (f)
            jslice(out, f->name);
        else
            jstr(out, a->field);
        if (f) {
            jkey(out, &f1, "value");
            jslice(out, f->value);
        }
        if (a->sigma_field) {
            jkey(out, &f1, "rule_field");
            jstr(out, a->sigma_field);
            jkey(out, &f1, "rule_value");
            jstr(out, a->sigma_value);
        }
        canh_buf_putc(out, '}');
    }
    canh_buf_putc(out, ']');
    free(mark);
    expl_free(&x);
    return CANH_OK;
}
