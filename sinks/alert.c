/*
 * sinks/alert.c -- formats alerts (see alert.h).
 *
 * Runs on the thread that matched the event. All strings built for an
 * alert live in the formatter's scratch buffer, which is reset per alert;
 * the JSON object borrows from it, from the rule and from the event.
 */
#include "alert.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>

void canh_alert_fmt_init(canh_alert_fmt_t *f)
{
    canh_buf_init(&f->out);
    canh_jobj_init(&f->obj);
    canh_buf_init(&f->scratch);
    canh_buf_init(&f->matched);
}

void canh_alert_fmt_free(canh_alert_fmt_t *f)
{
    canh_buf_free(&f->out);
    canh_jobj_free(&f->obj);
    canh_buf_free(&f->scratch);
    canh_buf_free(&f->matched);
}

static const struct {
    const char *tag, *id, *name;
} tactics[] = {
    { "reconnaissance",       "TA0043", "Reconnaissance" },
    { "resource-development", "TA0042", "Resource Development" },
    { "initial-access",       "TA0001", "Initial Access" },
    { "execution",            "TA0002", "Execution" },
    { "persistence",          "TA0003", "Persistence" },
    { "privilege-escalation", "TA0004", "Privilege Escalation" },
    { "defense-evasion",      "TA0005", "Defense Evasion" },
    { "credential-access",    "TA0006", "Credential Access" },
    { "discovery",            "TA0007", "Discovery" },
    { "lateral-movement",     "TA0008", "Lateral Movement" },
    { "collection",           "TA0009", "Collection" },
    { "exfiltration",         "TA0010", "Exfiltration" },
    { "command-and-control",  "TA0011", "Command and Control" },
    { "impact",               "TA0040", "Impact" },
};

int canh_attack_tactic(const char *tag, const char **id, const char **name)
{
    for (size_t i = 0; i < CANH_ARRAY_LEN(tactics); i++)
        if (strcmp(tactics[i].tag, tag) == 0) {
            *id = tactics[i].id;
            *name = tactics[i].name;
            return 1;
        }
    return 0;
}

/*
 * Scratch strings: the buffer may move while it grows, so values are kept
 * as offsets and turned into pointers only once everything is built.
 */
typedef struct pending {
    const char *name;
    size_t off, len;
    canh_jv_kind_t kind;
} pending_t;

#define MAX_PENDING 96

static void scratch_add(canh_alert_fmt_t *f, pending_t *p, size_t *np,
                        const char *name, const char *s, size_t n, canh_jv_kind_t kind)
{
    if (*np >= MAX_PENDING)
        return;
    p[*np] = (pending_t){ name, f->scratch.len, n, kind };
    canh_buf_put(&f->scratch, s, n);
    (*np)++;
}

/* attack.t1110.001 -> technique T1110 + subtechnique T1110.001; attack.credential-access -> tactic. */
static void add_threat(canh_alert_fmt_t *f, pending_t *p, size_t *np, const canh_rule_t *r)
{
    int any = 0;
    for (size_t i = 0; i < r->ntags; i++) {
        const char *t = r->tags[i];
        if (strncasecmp(t, "attack.", 7) != 0)
            continue;
        t += 7;
        const char *tid, *tname;
        if ((t[0] == 't' || t[0] == 'T') && isdigit((unsigned char)t[1])) {
            char id[32];
            size_t n = 0;
            for (; t[n] && n < sizeof(id) - 1; n++)
                id[n] = (char)toupper((unsigned char)t[n]);
            id[n] = '\0';
            char *dot = strchr(id, '.');
            if (dot) {
                scratch_add(f, p, np, "threat.technique.subtechnique.id", id, n, CANH_JV_STRING);
                n = (size_t)(dot - id);
            }
            scratch_add(f, p, np, "threat.technique.id", id, n, CANH_JV_STRING);
            any = 1;
        } else if (canh_attack_tactic(t, &tid, &tname)) {
            scratch_add(f, p, np, "threat.tactic.id", tid, strlen(tid), CANH_JV_STRING);
            scratch_add(f, p, np, "threat.tactic.name", tname, strlen(tname), CANH_JV_STRING);
            any = 1;
        } else if ((t[0] == 'g' || t[0] == 's') && isdigit((unsigned char)t[1])) {
            /* attack.g0032 (group), attack.s0002 (software) */
            char id[16];
            size_t n = 0;
            for (; t[n] && n < sizeof(id) - 1; n++)
                id[n] = (char)toupper((unsigned char)t[n]);
            scratch_add(f, p, np, t[0] == 'g' ? "threat.group.id" : "threat.software.id",
                        id, n, CANH_JV_STRING);
            any = 1;
        }
        /* A tactic this table does not know (a newer ATT&CK) stays in `tags`
         * only, so threat.tactic.id and .name stay aligned. */
    }
    if (any)
        scratch_add(f, p, np, "threat.framework", "MITRE ATT&CK", 12, CANH_JV_STRING);
}

/* The rule's own part of an alert: rule.* and threat.* (from its tags). */
static void add_rule_entries(canh_alert_fmt_t *f, pending_t *p, size_t *np, const canh_rule_t *r)
{
    canh_jobj_t *o = &f->obj;
    add_threat(f, p, np, r);
    canh_jobj_adds(o, "rule.id", r->id ? r->id : "");
    canh_jobj_adds(o, "rule.name", r->title ? r->title : "");
    canh_jobj_adds(o, "rule.level", canh_level_name(r->level));
    if (r->author)
        canh_jobj_adds(o, "rule.author", r->author);
    if (r->file)
        canh_jobj_adds(o, "rule.ruleset", r->file);
    if (r->description)
        canh_jobj_adds(o, "rule.description", r->description);
    if (r->nreferences)
        canh_jobj_adds(o, "rule.reference", r->references[0]);
}

static void add_pending(canh_alert_fmt_t *f, const pending_t *p, size_t np)
{
    for (size_t i = 0; i < np; i++)
        canh_jobj_add(&f->obj, p[i].name, strlen(p[i].name), f->scratch.ptr + p[i].off,
                      p[i].len, p[i].kind);
}

int canh_alert_prepare(canh_rule_t *r)
{
    canh_alert_fmt_t f;
    pending_t p[MAX_PENDING];
    size_t np = 0;
    canh_alert_fmt_init(&f);
    add_rule_entries(&f, p, &np, r);
    int rc = CANH_ENOMEM;
    if (!f.scratch.oom) {
        add_pending(&f, p, np);
        canh_jobj_write(&f.obj, &f.out);
    }
    /* keep the members, without the outer braces */
    if (!f.scratch.oom && !f.out.oom && f.out.len >= 2) {
        free(r->alert_json);
        r->alert_json_len = f.out.len - 2;
        r->alert_json = malloc(r->alert_json_len + 1);
        if (r->alert_json) {
            memcpy(r->alert_json, f.out.ptr + 1, r->alert_json_len);
            r->alert_json[r->alert_json_len] = '\0';
            rc = CANH_OK;
        } else {
            r->alert_json_len = 0;
        }
    }
    canh_alert_fmt_free(&f);
    return rc;
}

/* Event fields that would clash with what the alert itself says are not copied. */
static int reserved_name(canh_slice_t n)
{
    return (n.len >= 5 && memcmp(n.ptr, "rule.", 5) == 0) ||
           (n.len >= 7 && memcmp(n.ptr, "threat.", 7) == 0) ||
           canh_slice_eq(n, "rule") || canh_slice_eq(n, "threat") ||
           canh_slice_eq(n, "@timestamp") || canh_slice_eq(n, "event.kind") ||
           canh_slice_eq(n, "event.severity") || canh_slice_eq(n, "event.created") ||
           canh_slice_eq(n, "event.original") || canh_slice_eq(n, "event.original_base64") ||
           canh_slice_eq(n, "event") || canh_slice_eq(n, "event.dataset") ||
           canh_slice_eq(n, "canh") || canh_slice_eq(n, "canh.matched");
}

int canh_alert_format(canh_alert_fmt_t *f, const canh_rule_t *r,
                      const canh_event_t *ev, int64_t now_ms)
{
    pending_t p[MAX_PENDING];
    size_t np = 0;
    char tbuf[CANH_ISO_MS_LEN], sev[4];

    canh_buf_reset(&f->out);
    canh_buf_reset(&f->scratch);
    canh_jobj_reset(&f->obj);

    canh_format_iso_ms(ev->ts_ms ? ev->ts_ms : now_ms, tbuf);
    scratch_add(f, p, &np, "@timestamp", tbuf, CANH_ISO_MS_LEN, CANH_JV_STRING);
    canh_format_iso_ms(now_ms, tbuf);
    scratch_add(f, p, &np, "event.created", tbuf, CANH_ISO_MS_LEN, CANH_JV_STRING);
    snprintf(sev, sizeof(sev), "%d", (int)r->level);
    scratch_add(f, p, &np, "event.severity", sev, strlen(sev), CANH_JV_NUMBER);

    /* Datasets: the event's, as names. */
    for (int d = 0; d < CANH_DS_MAX; d++)
        if (ev->datasets & CANH_DS_BIT(d)) {
            const char *dn = canh_dataset_name(d);
            if (dn)
                scratch_add(f, p, &np, "event.dataset", dn, strlen(dn), CANH_JV_STRING);
        }
    canh_jobj_t *o = &f->obj;
    if (!r->alert_json)
        add_rule_entries(f, p, &np, r);
    canh_jobj_adds(o, "event.kind", "alert");
    for (size_t i = 0; i < r->ntags; i++)
        canh_jobj_adds(o, "tags", r->tags[i]);

    for (uint32_t i = 0; i < ev->nfields; i++) {
        const canh_field_t *fl = &ev->fields[i];
        if (reserved_name(fl->name))
            continue;
        canh_jobj_add(o, fl->name.ptr, fl->name.len, fl->value.ptr, fl->value.len,
                      (fl->flags & CANH_FIELD_NUMBER) ? CANH_JV_NUMBER : CANH_JV_STRING);
    }
    if (f->matched.len)   /* the caller's JSON array (engine/explain.c) */
        canh_jobj_add(o, "canh.matched", 12, f->matched.ptr, f->matched.len, CANH_JV_RAW);
    int exact = canh_utf8_valid(ev->original.ptr, ev->original.len);
    canh_jobj_add(o, "event.original", 14, ev->original.ptr, ev->original.len, CANH_JV_STRING);
    if (!exact) {
        canh_buf_t *s = &f->scratch;
        size_t off = s->len;
        canh_base64_put(s, (const unsigned char *)ev->original.ptr, ev->original.len);
        if (np < MAX_PENDING)
            p[np++] = (pending_t){ "event.original_base64", off, s->len - off, CANH_JV_STRING };
    }
    if (f->scratch.oom || f->matched.oom) {
        canh_buf_reset(&f->matched);
        f->matched.oom = 0;
        return CANH_ENOMEM;
    }
    add_pending(f, p, np);

    canh_jobj_write_with(o, &f->out, r->alert_json, r->alert_json_len);
    canh_buf_reset(&f->matched);
    return f->out.oom ? CANH_ENOMEM : CANH_OK;
}
