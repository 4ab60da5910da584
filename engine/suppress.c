/*
 * engine/suppress.c -- the suppression list (see suppress.h).
 *
 * Loading reads the YAML with libyaml's document API (every node knows its
 * line), checks every entry and reports each problem as "FILE:LINE:
 * message" (an unknown key with the closest known one, a value of the
 * wrong shape, an address that is not one, a date that is not ISO 8601,
 * an entry that names no rule and no tag), then binds the entries to a
 * rule set: for each rule, the indexes of the entries that name it (by id,
 * Sigma name or tag), in one array (rule i's entries are
 * idx[first[i] .. first[i+1])).
 *
 * Matching, on the workers, reads only that array and the event's fields:
 * host and user patterns are compared in place (ASCII case folded, `*`
 * any run, `?` one character), the source address is parsed from a copy
 * on the stack. An entry ends at its `until`, to the millisecond, on the
 * wall clock: a date alone means to the end of that day, in the machine's
 * local time (TZ); a date and time without a zone also.
 *
 * Ownership: the list owns its entries and strings. Thread: see suppress.h.
 */
#include "suppress.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <yaml.h>

#define NO_END INT64_MAX

typedef struct net {
    int family;          /* 4 or 6 */
    uint8_t a[16];
    int prefix;
} net_t;

typedef struct strs {
    char **v;
    size_t n;
} strs_t;

typedef struct entry {
    char *file;          /* shared with the list: points into s->files */
    int line;
    strs_t rules, tags, hosts, users;
    net_t *nets;
    size_t nnets;
    int64_t until_ms;    /* NO_END: none */
    char *until;         /* as written */
    char *reason;
    int bound;           /* names some rule of the set */
    atomic_int noted;    /* its end was logged */
} entry_t;

struct canh_suppress {
    entry_t *e;
    size_t n, cap;
    char *files[2];      /* the file read, and the one its `suppress:` named */
    uint32_t *first;     /* nrules + 1 */
    uint32_t *idx;
    size_t nrules;
};

/* ---------------------------------------------------------------- loading */

typedef struct ld {
    canh_suppress_t *s;
    const char *file;
    yaml_document_t *d;
    canh_suppress_msg_fn fn;
    void *ud;
    size_t errors;
    int oom;
} ld_t;

static void say(ld_t *L, int error, int line, const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void say(ld_t *L, int error, int line, const char *fmt, ...)
{
    char msg[600], text[1200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    snprintf(text, sizeof(text), "%s:%d: %s", L->file, line, msg);
    if (error)
        L->errors++;
    if (L->fn)
        L->fn(L->ud, error, text);
}

static yaml_node_t *node(ld_t *L, int id)
{
    return yaml_document_get_node(L->d, id);
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
    if (!n)
        return 1;
    if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return 0;
    const char *v = scalar(n);
    return !*v || !strcmp(v, "~") || !strcasecmp(v, "null");
}

static const char *shape(const yaml_node_t *n)
{
    return n->type == YAML_MAPPING_NODE ? "a map" : n->type == YAML_SEQUENCE_NODE ? "a list"
                                                                                   : "nothing";
}

static int parse_net(const char *v, net_t *out)
{
    char addr[64];
    const char *slash = strchr(v, '/');
    size_t alen = slash ? (size_t)(slash - v) : strlen(v);
    if (alen == 0 || alen >= sizeof(addr))
        return -1;
    memcpy(addr, v, alen);
    addr[alen] = '\0';
    memset(out, 0, sizeof(*out));
    int bits;
    if (inet_pton(AF_INET, addr, out->a) == 1) {
        out->family = 4;
        bits = 32;
    } else if (inet_pton(AF_INET6, addr, out->a) == 1) {
        out->family = 6;
        bits = 128;
    } else {
        return -1;
    }
    out->prefix = bits;
    if (slash) {
        char *end;
        errno = 0;
        long l = strtol(slash + 1, &end, 10);
        if (!isdigit((unsigned char)slash[1]) || *end || errno || l < 0 || l > bits)
            return -1;
        out->prefix = (int)l;
    }
    for (int i = out->prefix; i < bits; i++)
        out->a[i / 8] &= (uint8_t)~(0x80u >> (i % 8));
    return 0;
}

static int valid_date(int y, int mo, int d)
{
    static const int days[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    if (y < 1970 || y > 9999 || mo < 1 || mo > 12 || d < 1)
        return 0;
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return d <= days[mo - 1] + (mo == 2 && leap);
}

/*
 * ISO 8601: "2026-12-31" (to the end of that day), "2026-12-31T18:00",
 * "2026-12-31T18:00:00", with "Z" or "+07:00" / "+0700" (or a space for
 * the T). Without a zone: the machine's local time. The first moment the
 * entry no longer holds, in ms since the epoch; -1 if malformed.
 */
static int64_t parse_until(const char *s)
{
    int y, mo, d, h = 0, mi = 0, sec = 0, used = 0;
    if (sscanf(s, "%4d-%2d-%2d%n", &y, &mo, &d, &used) != 3 || used != 10 || !valid_date(y, mo, d))
        return -1;
    const char *p = s + used;
    int date_only = !*p, zone = 0;
    long off = 0;
    if (!date_only) {
        if (*p != 'T' && *p != 't' && *p != ' ')
            return -1;
        p++;
        used = 0;
        if (sscanf(p, "%2d:%2d%n", &h, &mi, &used) != 2 || used != 5)
            return -1;
        p += used;
        if (*p == ':') {
            used = 0;
            if (sscanf(p, ":%2d%n", &sec, &used) != 1 || used != 3)
                return -1;
            p += used;
        }
        if (*p == 'Z' || *p == 'z') {
            zone = 1;
            p++;
        } else if (*p == '+' || *p == '-') {
            int sign = *p == '-' ? -1 : 1, oh, om;
            p++;
            used = 0;
            if (sscanf(p, "%2d:%2d%n", &oh, &om, &used) == 2 && used == 5)
                p += 5;
            else if ((used = 0, sscanf(p, "%2d%2d%n", &oh, &om, &used)) == 2 && used == 4)
                p += 4;
            else
                return -1;
            if (oh > 23 || om > 59)
                return -1;
            off = sign * (oh * 3600L + om * 60L);
            zone = 1;
        }
        if (*p || h > 23 || mi > 59 || sec > 59)
            return -1;
    }
    struct tm tm = { .tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h,
                     .tm_min = mi, .tm_sec = sec, .tm_isdst = -1 };
    if (date_only)
        tm.tm_mday++;   /* to the end of that day: mktime carries into the next month */
    time_t t = zone ? timegm(&tm) : mktime(&tm);
    if (t == (time_t)-1)
        return -1;
    return ((int64_t)t - off) * 1000;
}

static int strs_add(strs_t *v, const char *s)
{
    char **nv = realloc(v->v, (v->n + 1) * sizeof(*nv));
    if (!nv)
        return CANH_ENOMEM;
    v->v = nv;
    if (!(v->v[v->n] = strdup(s)))
        return CANH_ENOMEM;
    v->n++;
    return CANH_OK;
}

static void strs_free(strs_t *v)
{
    for (size_t i = 0; i < v->n; i++)
        free(v->v[i]);
    free(v->v);
}

static const char *const keys[] = { "rule", "tag", "host", "source", "user", "until", "reason" };


/* One or more strings (a scalar, or a list of them) for key k of an entry. */
static void take_strs(ld_t *L, const char *k, yaml_node_t *v, strs_t *out, net_t **nets,
                      size_t *nnets)
{
    yaml_node_t *one[1] = { v };
    yaml_node_t **items = one;
    size_t n = 1;
    yaml_node_t **tmp = NULL;
    if (v->type == YAML_SEQUENCE_NODE) {
        n = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
        if (!n) {
            say(L, 1, line_of(v), "'%s' is an empty list", k);
            return;
        }
        if (!(tmp = calloc(n, sizeof(*tmp)))) {
            L->oom = 1;
            return;
        }
        for (size_t i = 0; i < n; i++)
            tmp[i] = node(L, v->data.sequence.items.start[i]);
        items = tmp;
    }
    for (size_t i = 0; i < n; i++) {
        const char *s = scalar(items[i]);
        if (!s || is_null(items[i]) || !*s) {
            say(L, 1, line_of(items[i]), "'%s' must be %s, not %s", k,
                v == items[i] ? "a value or a list of values" : "a list of values",
                items[i]->type == YAML_SCALAR_NODE ? "empty" : shape(items[i]));
            continue;
        }
        if (nets) {
            net_t nt;
            if (parse_net(s, &nt)) {
                say(L, 1, line_of(items[i]), "'%s': '%s' is not an IP address or a network "
                    "such as 10.20.0.0/16 or 2001:db8::/32", k, s);
                continue;
            }
            net_t *nv = realloc(*nets, (*nnets + 1) * sizeof(*nv));
            if (!nv) {
                L->oom = 1;
                break;
            }
            *nets = nv;
            (*nets)[(*nnets)++] = nt;
            continue;
        }
        if (strs_add(out, s))
            L->oom = 1;
    }
    free(tmp);
}

static void entry_free(entry_t *e)
{
    strs_free(&e->rules);
    strs_free(&e->tags);
    strs_free(&e->hosts);
    strs_free(&e->users);
    free(e->nets);
    free(e->until);
    free(e->reason);
}

static void take_entry(ld_t *L, yaml_node_t *m, char *file)
{
    if (m->type != YAML_MAPPING_NODE) {
        say(L, 1, line_of(m), "a suppression entry must be a map (rule or tag, and host, "
            "source, user, until, reason), not %s",
            m->type == YAML_SCALAR_NODE ? "a single value" : shape(m));
        return;
    }
    entry_t e;
    memset(&e, 0, sizeof(e));
    e.file = file;
    e.line = line_of(m);
    e.until_ms = NO_END;
    size_t before = L->errors;
    for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++) {
        yaml_node_t *kn = node(L, p->key), *v = node(L, p->value);
        const char *k = scalar(kn);
        size_t ki = CANH_ARRAY_LEN(keys);
        for (size_t i = 0; k && i < CANH_ARRAY_LEN(keys); i++)
            if (!strcmp(k, keys[i]))
                ki = i;
        if (ki == CANH_ARRAY_LEN(keys)) {
            const char *best = NULL;
            size_t bd = 3;
            for (size_t i = 0; k && i < CANH_ARRAY_LEN(keys); i++) {
                size_t dd = canh_edit_distance(k, keys[i]);
                if (dd < bd) {
                    bd = dd;
                    best = keys[i];
                }
            }
            char hint[64] = "";
            if (best)
                snprintf(hint, sizeof(hint), " (did you mean '%s'?)", best);
            say(L, 1, line_of(kn), "unknown key '%s' in a suppression entry%s; the keys are "
                "rule, tag, host, source, user, until, reason", k ? k : "?", hint);
            continue;
        }
        for (yaml_node_pair_t *q = m->data.mapping.pairs.start; q < p; q++)
            if (scalar(node(L, q->key)) && !strcmp(scalar(node(L, q->key)), k)) {
                say(L, 1, line_of(kn), "'%s' given twice in one entry (first on line %d); give "
                    "it a list instead", k, line_of(node(L, q->key)));
                ki = CANH_ARRAY_LEN(keys);
                break;
            }
        if (ki == CANH_ARRAY_LEN(keys))
            continue;
        if (is_null(v)) {
            say(L, 1, line_of(kn), "'%s' has no value", k);
            continue;
        }
        switch (ki) {
        case 0: take_strs(L, k, v, &e.rules, NULL, NULL); break;
        case 1: take_strs(L, k, v, &e.tags, NULL, NULL); break;
        case 2: take_strs(L, k, v, &e.hosts, NULL, NULL); break;
        case 3: take_strs(L, k, v, NULL, &e.nets, &e.nnets); break;
        case 4: take_strs(L, k, v, &e.users, NULL, NULL); break;
        case 5:
        case 6: {
            const char *s = scalar(v);
            if (!s) {
                say(L, 1, line_of(v), "'%s' must be a single value, not %s", k, shape(v));
                break;
            }
            if (ki == 6) {
                if (!(e.reason = strdup(s)))
                    L->oom = 1;
                break;
            }
            e.until_ms = parse_until(s);
            if (e.until_ms < 0) {
                say(L, 1, line_of(v), "until: '%s' is not an ISO 8601 date or date and time "
                    "(2026-12-31, 2026-12-31T18:00, 2026-12-31T18:00:00+07:00)", s);
                e.until_ms = NO_END;
            } else if (!(e.until = strdup(s))) {
                L->oom = 1;
            }
            break;
        }
        }
    }
    if (!e.rules.n && !e.tags.n && L->errors == before)
        say(L, 1, e.line, "a suppression entry needs 'rule' (rule ids or names) or 'tag': "
            "without one it would hide every alert");
    if (L->errors != before || L->oom) {
        entry_free(&e);
        return;
    }
    canh_suppress_t *s = L->s;
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 16;
        entry_t *nv = realloc(s->e, cap * sizeof(*nv));
        if (!nv) {
            entry_free(&e);
            L->oom = 1;
            return;
        }
        s->e = nv;
        s->cap = cap;
    }
    s->e[s->n++] = e;
}

static void take_list(ld_t *L, yaml_node_t *seq, char *file)
{
    for (yaml_node_item_t *it = seq->data.sequence.items.start; it < seq->data.sequence.items.top; it++)
        take_entry(L, node(L, *it), file);
}

/* Reads one file: the list, or a map with `suppress:` (a list, or a file
 * name when follow is set). */
static int load_file(ld_t *L, const char *path, int follow, char *err, size_t errlen)
{
    canh_suppress_t *s = L->s;
    size_t fi = s->files[0] ? 1 : 0;
    if (!(s->files[fi] = strdup(path)))
        return CANH_ENOMEM;
    char *file = s->files[fi];
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: cannot read the suppression list: %s", path, strerror(errno));
        return errno == ENOENT ? CANH_ENOENT : CANH_EIO;
    }
    yaml_parser_t parser;
    yaml_document_t doc;
    if (!yaml_parser_initialize(&parser)) {
        fclose(f);
        return CANH_ENOMEM;
    }
    yaml_parser_set_input_file(&parser, f);
    const char *saved_file = L->file;
    L->file = file;
    int rc = CANH_OK;
    if (!yaml_parser_load(&parser, &doc)) {
        say(L, 1, (int)parser.problem_mark.line + 1, "YAML error: %s%s%s",
            parser.context ? parser.context : "", parser.context ? " " : "",
            parser.problem ? parser.problem : "unknown problem");
        yaml_parser_delete(&parser);
        fclose(f);
        L->file = saved_file;
        return CANH_OK;   /* counted as an error */
    }
    L->d = &doc;
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (!root || is_null(root)) {
        /* an empty file: an empty list */
    } else if (root->type == YAML_SEQUENCE_NODE) {
        take_list(L, root, file);
    } else if (root->type == YAML_MAPPING_NODE) {
        for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top; p++) {
            const char *k = scalar(node(L, p->key));
            yaml_node_t *v = node(L, p->value);
            if (!k || strcmp(k, "suppress") || is_null(v))
                continue;
            if (v->type == YAML_SEQUENCE_NODE) {
                take_list(L, v, file);
            } else if (v->type == YAML_SCALAR_NODE && follow) {
                char *dup = strdup(path), *named = NULL;
                const char *sv = scalar(v);
                if (dup && asprintf(&named, "%s/%s", dirname(dup), sv) < 0)
                    named = NULL;
                if (!dup || !named) {
                    rc = CANH_ENOMEM;
                } else {
                    yaml_document_t *saved = L->d;
                    rc = load_file(L, sv[0] == '/' ? sv : named, 0, err, errlen);
                    L->d = saved;
                    L->file = file;
                }
                free(dup);
                free(named);
            } else {
                say(L, 1, line_of(v), "suppress: must be a list of entries%s, not %s",
                    follow ? " or the name of a file holding one" : "",
                    v->type == YAML_SCALAR_NODE ? "a file name (a list file cannot name "
                                                  "another)" : shape(v));
            }
        }
    } else {
        say(L, 1, line_of(root), "a suppression list must be a list of entries, not a single "
            "value");
    }
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    fclose(f);
    L->file = saved_file;
    return rc;
}

/* ---------------------------------------------------------------- binding */

static int names_rule(const entry_t *e, const canh_rule_t *r)
{
    int ok = !e->rules.n;
    for (size_t i = 0; !ok && i < e->rules.n; i++)
        ok = !strcmp(e->rules.v[i], r->id) || (r->name && !strcmp(e->rules.v[i], r->name));
    if (!ok)
        return 0;
    ok = !e->tags.n;
    for (size_t i = 0; !ok && i < e->tags.n; i++)
        for (size_t t = 0; !ok && t < r->ntags; t++)
            ok = !strcasecmp(e->tags.v[i], r->tags[t]);
    return ok;
}

static void fmt_ms(int64_t ms, char *buf, size_t n)
{
    char iso[CANH_ISO_MS_LEN + 1];
    canh_format_iso_ms(ms, iso);
    iso[CANH_ISO_MS_LEN] = '\0';
    snprintf(buf, n, "%s", iso);
}

static int bind_rules(ld_t *L, const canh_ruleset_t *rs, int64_t now_ms)
{
    canh_suppress_t *s = L->s;
    size_t nr = rs ? canh_ruleset_size(rs) : 0;
    s->nrules = nr;
    if (!(s->first = calloc(nr + 1, sizeof(*s->first))))
        return CANH_ENOMEM;
    char when[40];
    for (size_t k = 0; k < s->n; k++) {
        entry_t *e = &s->e[k];
        L->file = e->file;
        if (now_ms >= e->until_ms) {
            fmt_ms(e->until_ms, when, sizeof(when));
            atomic_store(&e->noted, 1);
            say(L, 0, e->line, "suppression entry ended at %s (until: %s); ignored%s%s", when,
                e->until, e->reason ? ": " : "", e->reason ? e->reason : "");
            continue;
        }
        for (uint32_t i = 0; i < nr; i++)
            if (names_rule(e, canh_ruleset_rule(rs, i))) {
                s->first[i]++;
                e->bound = 1;
            }
        /* a name or tag that no loaded rule has: the entry does nothing for it */
        for (size_t j = 0; j < e->rules.n; j++) {
            int found = 0;
            for (uint32_t i = 0; i < nr && !found; i++) {
                const canh_rule_t *r = canh_ruleset_rule(rs, i);
                found = !strcmp(e->rules.v[j], r->id) || (r->name && !strcmp(e->rules.v[j], r->name));
            }
            if (!found)
                say(L, 0, e->line, "rule '%s' is not loaded: this entry suppresses nothing "
                    "for it", e->rules.v[j]);
        }
        for (size_t j = 0; j < e->tags.n; j++) {
            int found = 0;
            for (uint32_t i = 0; i < nr && !found; i++) {
                const canh_rule_t *r = canh_ruleset_rule(rs, i);
                for (size_t t = 0; t < r->ntags && !found; t++)
                    found = !strcasecmp(e->tags.v[j], r->tags[t]);
            }
            if (!found)
                say(L, 0, e->line, "no loaded rule has tag '%s': this entry suppresses nothing "
                    "for it", e->tags.v[j]);
        }
    }
    /* counts -> starts (first[i] = where rule i's entries begin), then fill */
    uint32_t total = 0;
    for (size_t i = 0; i <= nr; i++) {
        uint32_t c = s->first[i];
        s->first[i] = total;
        total += c;
    }
    if (!(s->idx = calloc(total ? total : 1, sizeof(*s->idx))))
        return CANH_ENOMEM;
    uint32_t *fill = calloc(nr + 1, sizeof(*fill));
    if (!fill)
        return CANH_ENOMEM;
    for (size_t k = 0; k < s->n; k++) {
        entry_t *e = &s->e[k];
        if (now_ms >= e->until_ms)
            continue;
        for (uint32_t i = 0; i < nr; i++)
            if (names_rule(e, canh_ruleset_rule(rs, i)))
                s->idx[s->first[i] + fill[i]++] = (uint32_t)k;
    }
    free(fill);
    return CANH_OK;
}

int canh_suppress_load(canh_suppress_t **out, const char *path, const canh_ruleset_t *rs,
                       int64_t now_ms, canh_suppress_msg_fn fn, void *ud,
                       char *err, size_t errlen)
{
    *out = NULL;
    if (errlen)
        err[0] = '\0';
    canh_suppress_t *s = calloc(1, sizeof(*s));
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return CANH_ENOMEM;
    }
    ld_t L = { .s = s, .file = path, .fn = fn, .ud = ud };
    int rc = load_file(&L, path, 1, err, errlen);
    if (rc == CANH_OK && L.oom)
        rc = CANH_ENOMEM;
    if (rc == CANH_OK && L.errors) {
        snprintf(err, errlen, "%s: %zu problem%s in the suppression list (listed above)", path,
                 L.errors, L.errors == 1 ? "" : "s");
        rc = CANH_EINVAL;
    }
    if (rc == CANH_OK)
        rc = bind_rules(&L, rs, now_ms);
    if (rc == CANH_ENOMEM && !err[0])
        snprintf(err, errlen, "out of memory reading the suppression list %s", path);
    if (rc != CANH_OK) {
        canh_suppress_free(s);
        return rc;
    }
    *out = s;
    return CANH_OK;
}

void canh_suppress_free(canh_suppress_t *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++)
        entry_free(&s->e[i]);
    free(s->e);
    free(s->files[0]);
    free(s->files[1]);
    free(s->first);
    free(s->idx);
    free(s);
}

size_t canh_suppress_entries(const canh_suppress_t *s)
{
    return s ? s->n : 0;
}

size_t canh_suppress_active(const canh_suppress_t *s)
{
    size_t n = 0;
    for (size_t i = 0; s && i < s->n; i++)
        n += s->e[i].bound;
    return n;
}

/* ---------------------------------------------------------------- matching */

/* pat (NUL-terminated) against the n bytes at v: ASCII case folded, `*`
 * any run, `?` one character (a whole UTF-8 sequence). */
static int glob(const char *pat, const char *v, size_t n)
{
    const char *star = NULL;
    size_t i = 0, star_i = 0;
    while (i < n) {
        if (*pat == '*') {
            star = pat++;
            star_i = i;
            continue;
        }
        if (*pat == '?') {
            pat++;
            i++;
            while (i < n && ((unsigned char)v[i] & 0xc0) == 0x80)
                i++;
            continue;
        }
        if (*pat && tolower((unsigned char)*pat) == tolower((unsigned char)v[i])) {
            pat++;
            i++;
            continue;
        }
        if (!star)
            return 0;
        pat = star + 1;
        i = ++star_i;
    }
    while (*pat == '*')
        pat++;
    return !*pat;
}

static int any_glob(const strs_t *pats, const canh_event_t *ev, canh_field_id_t id)
{
    const canh_field_t *f = canh_event_get(ev, id);
    if (!f)
        return 0;
    for (size_t i = 0; i < pats->n; i++)
        if (glob(pats->v[i], f->value.ptr, f->value.len))
            return 1;
    return 0;
}

static int prefix_eq(const uint8_t *a, const uint8_t *b, int bits)
{
    int whole = bits / 8, rest = bits % 8;
    if (memcmp(a, b, (size_t)whole))
        return 0;
    if (!rest)
        return 1;
    uint8_t mask = (uint8_t)(0xffu << (8 - rest));
    return (a[whole] & mask) == (b[whole] & mask);
}

static int in_nets(const entry_t *e, const canh_event_t *ev)
{
    const canh_field_t *f = canh_event_get(ev, CANH_F_SOURCE_IP);
    char buf[64];
    if (!f || !f->value.len || f->value.len >= sizeof(buf))
        return 0;
    memcpy(buf, f->value.ptr, f->value.len);
    buf[f->value.len] = '\0';
    uint8_t a[16];
    int fam;
    if (inet_pton(AF_INET, buf, a) == 1) {
        fam = 4;
    } else if (inet_pton(AF_INET6, buf, a) == 1) {
        fam = 6;
        static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
        if (!memcmp(a, mapped, 12)) {   /* ::ffff:10.0.0.1 is 10.0.0.1 */
            memmove(a, a + 12, 4);
            fam = 4;
        }
    } else {
        return 0;
    }
    for (size_t i = 0; i < e->nnets; i++)
        if (e->nets[i].family == fam && prefix_eq(a, e->nets[i].a, e->nets[i].prefix))
            return 1;
    return 0;
}

int canh_suppress_match(const canh_suppress_t *s, uint32_t rule_idx, const canh_event_t *ev,
                        int64_t now_ms)
{
    if (!s || rule_idx >= s->nrules)
        return 0;
    for (uint32_t k = s->first[rule_idx]; k < s->first[rule_idx + 1]; k++) {
        entry_t *e = &s->e[s->idx[k]];
        if (now_ms >= e->until_ms) {
            if (!atomic_exchange(&e->noted, 1))
                CANH_WARN("%s:%d: suppression entry ended (until: %s); its alerts are written "
                          "again", e->file, e->line, e->until);
            continue;
        }
        if (e->hosts.n && !any_glob(&e->hosts, ev, CANH_F_HOST_NAME))
            continue;
        if (e->users.n && !any_glob(&e->users, ev, CANH_F_USER_NAME))
            continue;
        if (e->nnets && !in_nets(e, ev))
            continue;
        return 1;
    }
    return 0;
}
