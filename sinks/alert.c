/*
 * sinks/alert.c -- formats alerts (see alert.h).
 *
 * Runs on the thread that matched the event. All strings built for an
 * alert live in the formatter's scratch buffer, which is reset per alert;
 * the JSON object borrows from it, from the rule, from the event and its
 * origin. What is the same for every alert of a rule (rule.*, threat.*)
 * is rendered once per rule (canh_alert_prepare), what is the same for
 * every alert of this process (ecs.*, observer.*) once per process.
 */
/* event.id uses OpenSSL's SHA-256 functions that keep their state in a
 * plain struct (deprecated in OpenSSL 3 but in every 3.x): the EVP
 * interface allocates a context on every digest, which would put a malloc
 * on the path of every alert, and a struct can be copied, so the part
 * every id starts with is hashed once (id_templates). */
#define OPENSSL_SUPPRESS_DEPRECATED
#include "alert.h"

#include <ctype.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* ---- what every alert of this process says: ecs.*, observer.* ---------- */

static char *g_static;          /* "ecs":{...},"observer":{...} */
static size_t g_static_len;
static pthread_once_t g_static_once = PTHREAD_ONCE_INIT;
static char g_observer[256];    /* observer.name, for event.id */
static size_t g_observer_len;
static unsigned g_observer_gen = 1;   /* +1 per canh_alert_set_observer */
static char *g_invalid[CANH_F__COUNT];   /* "canh.invalid.<field>" */

int canh_alert_set_observer(const char *name)
{
    char host[256];
    if (gethostname(host, sizeof(host)) != 0)
        snprintf(host, sizeof(host), "localhost");
    host[sizeof(host) - 1] = '\0';
    if (!name || !*name)
        name = host;
    snprintf(g_observer, sizeof(g_observer), "%s", name);
    g_observer_len = strlen(g_observer);
    g_observer_gen++;
    canh_jobj_t o;
    canh_buf_t b;
    canh_jobj_init(&o);
    canh_buf_init(&b);
    canh_jobj_adds(&o, "ecs.version", CANH_ECS_VERSION);
    canh_jobj_adds(&o, "observer.hostname", host);
    canh_jobj_adds(&o, "observer.name", g_observer);
    canh_jobj_adds(&o, "observer.product", "canh");
    canh_jobj_adds(&o, "observer.vendor", "canh");
    canh_jobj_adds(&o, "observer.type", "siem");
    canh_jobj_adds(&o, "observer.version", CANH_VERSION);
    canh_jobj_write(&o, &b);
    canh_jobj_free(&o);
    int rc = CANH_ENOMEM;
    char *frag = NULL;
    if (!b.oom && b.len >= 2 && (frag = malloc(b.len - 2 + 1))) {
        memcpy(frag, b.ptr + 1, b.len - 2);   /* without the braces */
        frag[b.len - 2] = '\0';
        free(g_static);
        g_static = frag;
        g_static_len = b.len - 2;
        rc = CANH_OK;
    }
    canh_buf_free(&b);
    return rc;
}

static void static_init(void)
{
    if (!g_static)
        canh_alert_set_observer(NULL);
    for (int id = 0; id < CANH_F__COUNT; id++) {
        const char *n = canh_field_name((canh_field_id_t)id);
        size_t len = strlen("canh.invalid.") + strlen(n) + 1;
        if ((g_invalid[id] = malloc(len)))
            snprintf(g_invalid[id], len, "canh.invalid.%s", n);
    }
}

void canh_alert_fmt_init(canh_alert_fmt_t *f)
{
    pthread_once(&g_static_once, static_init);
    canh_buf_init(&f->out);
    canh_jobj_init(&f->obj);
    canh_buf_init(&f->scratch);
    canh_buf_init(&f->matched);
    f->md_local = malloc(sizeof(SHA256_CTX));
    f->md_any = malloc(sizeof(SHA256_CTX));
    f->md_gen = 0;
    f->ds_mask = 0;
    f->ds_one = NULL;
    canh_buf_init(&f->ds_json);
}

void canh_alert_fmt_free(canh_alert_fmt_t *f)
{
    canh_buf_free(&f->out);
    canh_jobj_free(&f->obj);
    canh_buf_free(&f->scratch);
    canh_buf_free(&f->matched);
    free(f->md_local);
    free(f->md_any);
    f->md_local = f->md_any = NULL;
    canh_buf_free(&f->ds_json);
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
    if (r->ruleset)
        canh_jobj_adds(o, "rule.ruleset", r->ruleset);
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

/*
 * Names the alert writes itself, which an event field never takes: every
 * rule.* and threat.*, the event.* it sets, the origin, ecs.*, observer.*,
 * tags and canh.* but canh.payload.* (payload keys are all under
 * canh.payload, so this only guards against a decoder's mistake).
 */
static int reserved_name(canh_slice_t n)
{
    if (!n.len)
        return 1;
    switch (n.ptr[0]) {
    case '@':
        return canh_slice_eq(n, "@timestamp");
    case 'c':
        return n.len >= 4 && memcmp(n.ptr, "canh", 4) == 0 &&
               !(n.len > 13 && memcmp(n.ptr, "canh.payload.", 13) == 0);
    case 'e':
        if (n.len >= 3 && memcmp(n.ptr, "ecs", 3) == 0)
            return 1;
        return canh_slice_eq(n, "event") || canh_slice_eq(n, "event.kind") ||
               canh_slice_eq(n, "event.severity") || canh_slice_eq(n, "event.created") ||
               canh_slice_eq(n, "event.original") || canh_slice_eq(n, "event.original_base64") ||
               canh_slice_eq(n, "event.dataset") || canh_slice_eq(n, "event.id");
    case 'l':
        return canh_slice_eq(n, "log") || canh_slice_eq(n, "log.file.path") ||
               canh_slice_eq(n, "log.offset") || canh_slice_eq(n, "log.source.address") ||
               canh_slice_eq(n, "log.file") || canh_slice_eq(n, "log.source");
    case 'o':
        return n.len >= 8 && memcmp(n.ptr, "observer", 8) == 0;
    case 'r':
        return n.len >= 4 && memcmp(n.ptr, "rule", 4) == 0;
    case 't':
        return (n.len >= 6 && memcmp(n.ptr, "threat", 6) == 0) || canh_slice_eq(n, "tags");
    default:
        return 0;
    }
}

/* Datasets from the most to the least specific, for event.dataset: one
 * named by the field map, --dataset or a JSON event.dataset first, then
 * the program or format, then the Sigma categories derived from it, then
 * the container formats. */
static const uint8_t ds_order[] = {
    CANH_DS_SSHD, CANH_DS_SUDO, CANH_DS_SU, CANH_DS_CRON, CANH_DS_AUDITD, CANH_DS_WEBSERVER,
    CANH_DS_AUTH, CANH_DS_PROCESS_CREATION, CANH_DS_FILE_EVENT, CANH_DS_JSON, CANH_DS_KV,
    CANH_DS_NETWORK, CANH_DS_SYSLOG,
};

const char *canh_alert_dataset(uint64_t ds)
{
    uint64_t extra = ds & ~(CANH_DS_BIT(CANH_DS__BUILTIN) - 1);
    if (extra)
        return canh_dataset_name(__builtin_ctzll(extra));
    for (size_t i = 0; i < CANH_ARRAY_LEN(ds_order); i++)
        if (ds & CANH_DS_BIT(ds_order[i]))
            return canh_dataset_name(ds_order[i]);
    return NULL;
}

static const char hexdig[] = "0123456789abcdef";

/* What event.id hashes, gathered so that the digest sees few, large
 * updates. */
typedef struct hin {
    SHA256_CTX *c;
    size_t len;
    unsigned char buf[512];
} hin_t;

static void hin_put(hin_t *h, const void *p, size_t n)
{
    if (h->len + n > sizeof(h->buf)) {
        SHA256_Update(h->c, h->buf, h->len);
        h->len = 0;
        if (n > sizeof(h->buf)) {
            SHA256_Update(h->c, p, n);
            return;
        }
    }
    memcpy(h->buf + h->len, p, n);
    h->len += n;
}

static void put_u64(hin_t *h, uint64_t v)
{
    unsigned char b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)(v >> (8 * i));
    hin_put(h, b, 8);
}

/* A string with its length first (4 bytes: what canh hashes is shorter),
 * so that no two sequences of strings hash the same bytes. */
static void put_str(hin_t *h, const char *s, size_t n)
{
    unsigned char b[4] = { (unsigned char)n, (unsigned char)(n >> 8), (unsigned char)(n >> 16),
                           (unsigned char)(n >> 24) };
    hin_put(h, b, 4);
    if (n)
        hin_put(h, s, n);
}

/* The two starting points of event.id's digest: what every id hashes
 * first, with canh's name (md_local) and without (md_any, Kafka). Made
 * again when the name changes. 0, or -1 if OpenSSL fails. */
static int id_templates(canh_alert_fmt_t *f)
{
    if (f->md_gen == g_observer_gen)
        return 0;
    hin_t h = { .c = f->md_local, .len = 0 };
    if (!f->md_local || !f->md_any || !SHA256_Init(f->md_local) || !SHA256_Init(f->md_any))
        return -1;
    hin_put(&h, "ceid1", 5);
    put_str(&h, g_observer, g_observer_len);
    SHA256_Update(h.c, h.buf, h.len);
    h.c = f->md_any;
    h.len = 0;
    hin_put(&h, "ceid1", 5);
    put_str(&h, "", 0);
    SHA256_Update(h.c, h.buf, h.len);
    f->md_gen = g_observer_gen;
    return 0;
}

void canh_alert_event_id(canh_alert_fmt_t *f, const canh_rule_t *r, const canh_event_t *ev,
                         const canh_origin_t *o, char out[CANH_EVENT_ID_LEN])
{
    SHA256_CTX c;
    hin_t h = { .c = &c, .len = 0 };
    unsigned char md[SHA256_DIGEST_LENGTH];
    int kind = o ? o->kind : CANH_ORIGIN_NONE;
    if (id_templates(f) != 0) {
        memset(out, '0', CANH_EVENT_ID_LEN);
        return;
    }
    /* a Kafka message is the same wherever it is read; anything else is
     * this machine's: its name is in the template */
    c = *(const SHA256_CTX *)(kind == CANH_ORIGIN_KAFKA ? f->md_any : f->md_local);
    unsigned char k = (unsigned char)kind;
    hin_put(&h, &k, 1);
    if (o) {
        put_str(&h, o->input, o->input ? o->input_len : 0);
        put_str(&h, o->name, o->name ? o->name_len : 0);
        put_u64(&h, o->ident[0]);
        put_u64(&h, o->ident[1]);
        put_u64(&h, o->pos);
    }
    /* where the position alone does not tell the bytes: stdin, unknown */
    if (kind == CANH_ORIGIN_NONE || kind == CANH_ORIGIN_STDIN)
        put_str(&h, ev->original.ptr, ev->original.len);
    put_str(&h, r->id ? r->id : "", r->id ? strlen(r->id) : 0);
    SHA256_Update(&c, h.buf, h.len);
    SHA256_Final(md, &c);
    for (int i = 0; i < CANH_EVENT_ID_LEN / 2; i++) {
        out[2 * i] = hexdig[md[i] >> 4];
        out[2 * i + 1] = hexdig[md[i] & 15];
    }
}

/* canh.datasets (a string, or an array of them) and event.dataset of a
 * dataset mask, rendered once per mask (events mostly share a few). */
static void datasets_json(canh_alert_fmt_t *f, uint64_t ds)
{
    if (f->ds_mask == ds && f->ds_json.len)
        return;
    canh_buf_t *b = &f->ds_json;
    canh_buf_reset(b);
    int n = __builtin_popcountll(ds);
    if (n > 1)
        canh_buf_putc(b, '[');
    for (int d = 0, k = 0; d < CANH_DS_MAX; d++)
        if (ds & CANH_DS_BIT(d)) {
            const char *dn = canh_dataset_name(d);
            if (k++)
                canh_buf_putc(b, ',');
            canh_json_put_string(b, dn ? dn : "", dn ? strlen(dn) : 0);
        }
    if (n > 1)
        canh_buf_putc(b, ']');
    f->ds_one = canh_alert_dataset(ds);
    f->ds_mask = b->oom ? 0 : ds;
}

static const char *origin_type(int kind)
{
    switch (kind) {
    case CANH_ORIGIN_FILE:  return "file";
    case CANH_ORIGIN_STDIN: return "stdin";
    case CANH_ORIGIN_UDP:   return "udp";
    case CANH_ORIGIN_TCP:   return "tcp";
    case CANH_ORIGIN_TLS:   return "tls";
    case CANH_ORIGIN_KAFKA: return "kafka";
    case CANH_ORIGIN_PCAP:  return "pcap";
    case CANH_ORIGIN_CAPTURE: return "capture";
    default:                return NULL;
    }
}

/* A long's canonical JSON form: no leading zeros ("007" is 7, "-0" 0);
 * the value fits (canh_value_fits). Returns it as a slice of v when it
 * can (a positive value is a suffix of itself), else in tmp. */
static canh_slice_t long_text(canh_slice_t v, char tmp[24])
{
    size_t i = v.len && v.ptr[0] == '-';
    size_t z = i;
    while (z + 1 < v.len && v.ptr[z] == '0')
        z++;
    if (z == i)
        return v;
    if (!i || (v.len - z == 1 && v.ptr[z] == '0'))
        return canh_slice(v.ptr + z, v.len - z);
    tmp[0] = '-';
    memcpy(tmp + 1, v.ptr + z, v.len - z);
    return canh_slice(tmp, v.len - z + 1);
}

/* The members of an object built in the scratch, from `off` to its end,
 * as one pre-rendered entry (CANH_JV_MEMBERS) of that object. */
static void members_done(canh_alert_fmt_t *f, pending_t *p, size_t *np, const char *object,
                         size_t off)
{
    if (f->scratch.len > off && *np < MAX_PENDING)
        p[(*np)++] = (pending_t){ object, off, f->scratch.len - off, CANH_JV_MEMBERS };
}

static void put_u64_text(canh_buf_t *b, uint64_t v)
{
    char d[20];
    int n = 0;
    do
        d[n++] = (char)('0' + v % 10);
    while ((v /= 10));
    while (n)
        canh_buf_putc(b, d[--n]);
}

static void put_key(canh_buf_t *b, int *first, const char *key)
{
    if (!*first)
        canh_buf_putc(b, ',');
    *first = 0;
    canh_buf_putc(b, '"');
    canh_buf_puts(b, key);
    canh_buf_put(b, "\":", 2);
}

/*
 * What canh says about the alert itself, rendered as members of two
 * objects (one entry each, not one per field): canh.datasets, .input.name
 * and .type, .kafka.*, .rule.file; and where the event came from,
 * log.file.path and log.offset, or log.source.address.
 */
static void put_meta(canh_alert_fmt_t *f, pending_t *p, size_t *np, const canh_rule_t *r,
                     const canh_event_t *ev, const canh_origin_t *origin)
{
    canh_buf_t *s = &f->scratch;
    const char *type = origin ? origin_type(origin->kind) : NULL;
    size_t off = s->len;
    int first = 1;
    if (origin && (origin->kind == CANH_ORIGIN_PCAP || origin->kind == CANH_ORIGIN_CAPTURE)) {
        put_key(s, &first, "capture");
        canh_buf_puts(s, origin->kind == CANH_ORIGIN_PCAP ? "{\"file\":" : "{\"interface\":");
        canh_json_put_string(s, origin->name ? origin->name : "",
                             origin->name ? origin->name_len : 0);
        canh_buf_puts(s, ",\"packet\":");
        put_u64_text(s, origin->pos);
        canh_buf_putc(s, '}');
    }
    if (ev->datasets) {   /* datasets_json made it */
        put_key(s, &first, "datasets");
        canh_buf_put(s, f->ds_json.ptr, f->ds_json.len);
    }
    if (type) {
        put_key(s, &first, "input");
        canh_buf_putc(s, '{');
        if (origin->input) {
            canh_buf_puts(s, "\"name\":");
            canh_json_put_string(s, origin->input, origin->input_len);
            canh_buf_putc(s, ',');
        }
        canh_buf_puts(s, "\"type\":\"");
        canh_buf_puts(s, type);
        canh_buf_put(s, "\"}", 2);
        if (origin->kind == CANH_ORIGIN_KAFKA) {
            put_key(s, &first, "kafka");
            canh_buf_puts(s, "{\"offset\":");
            put_u64_text(s, origin->pos);
            canh_buf_puts(s, ",\"partition\":");
            put_u64_text(s, origin->ident[0]);
            canh_buf_puts(s, ",\"topic\":");
            canh_json_put_string(s, origin->name ? origin->name : "",
                                 origin->name ? origin->name_len : 0);
            canh_buf_putc(s, '}');
        }
    }
    if (r->pack_file) {
        put_key(s, &first, "rule");
        canh_buf_puts(s, "{\"file\":");
        canh_json_put_string(s, r->pack_file, strlen(r->pack_file));
        canh_buf_putc(s, '}');
    }
    members_done(f, p, np, "canh", off);

    if (!type)
        return;
    off = s->len;
    first = 1;
    if (origin->kind == CANH_ORIGIN_FILE) {
        if (origin->name) {
            put_key(s, &first, "file");
            canh_buf_puts(s, "{\"path\":");
            canh_json_put_string(s, origin->name, origin->name_len);
            canh_buf_putc(s, '}');
        }
        put_key(s, &first, "offset");
        put_u64_text(s, origin->pos);
    } else if (origin->name && (origin->kind == CANH_ORIGIN_UDP ||
                                origin->kind == CANH_ORIGIN_TCP ||
                                origin->kind == CANH_ORIGIN_TLS)) {
        put_key(s, &first, "source");
        canh_buf_puts(s, "{\"address\":");
        canh_json_put_string(s, origin->name, origin->name_len);
        canh_buf_putc(s, '}');
    }
    members_done(f, p, np, "log", off);
}

int canh_alert_format(canh_alert_fmt_t *f, const canh_rule_t *r,
                      const canh_event_t *ev, int64_t now_ms)
{
    return canh_alert_format_at(f, r, ev, now_ms, NULL);
}

int canh_alert_format_at(canh_alert_fmt_t *f, const canh_rule_t *r,
                         const canh_event_t *ev, int64_t now_ms, const canh_origin_t *origin)
{
    pending_t p[MAX_PENDING];
    size_t np = 0;
    char tbuf[CANH_ISO_MS_LEN], sev[4], id[CANH_EVENT_ID_LEN], num[24];

    canh_buf_reset(&f->out);
    canh_buf_reset(&f->scratch);
    canh_jobj_reset(&f->obj);

    canh_format_iso_ms(ev->ts_ms ? ev->ts_ms : now_ms, tbuf);
    scratch_add(f, p, &np, "@timestamp", tbuf, CANH_ISO_MS_LEN, CANH_JV_STRING);
    canh_format_iso_ms(now_ms, tbuf);
    scratch_add(f, p, &np, "event.created", tbuf, CANH_ISO_MS_LEN, CANH_JV_STRING);
    snprintf(sev, sizeof(sev), "%d", (int)r->level);
    scratch_add(f, p, &np, "event.severity", sev, strlen(sev), CANH_JV_NUMBER);
    canh_alert_event_id(f, r, ev, origin, id);
    scratch_add(f, p, &np, "event.id", id, sizeof(id), CANH_JV_STRING);

    canh_jobj_t *o = &f->obj;
    /* The most specific dataset (all of them are in canh.datasets). */
    if (ev->datasets) {
        datasets_json(f, ev->datasets);
        if (f->ds_one)
            canh_jobj_adds(o, "event.dataset", f->ds_one);
    }
    put_meta(f, p, &np, r, ev, origin);
    if (!r->alert_json)
        add_rule_entries(f, p, &np, r);
    canh_jobj_adds(o, "event.kind", "alert");
    for (size_t i = 0; i < r->ntags; i++)
        canh_jobj_adds(o, "tags", r->tags[i]);

    /* The event's fields, each as its type says (engine/event.h). */
    for (uint32_t i = 0; i < ev->nfields; i++) {
        const canh_field_t *fl = &ev->fields[i];
        if (reserved_name(fl->name))
            continue;
        /* a static field's name is the table's (NUL-terminated) */
        const char *name = fl->id != CANH_F_DYNAMIC ? canh_field_name(fl->id) : fl->name.ptr;
        size_t nlen = fl->name.len;
        canh_slice_t v = fl->value;
        canh_jv_kind_t kind = CANH_JV_STRING;
        if (fl->flags & CANH_FIELD_NULL) {
            v = CANH_SLICE("null");
            kind = CANH_JV_RAW;
        } else if (fl->id != CANH_F_DYNAMIC) {
            char t = canh_field_type(fl->id);
            if (!canh_value_fits(t, v)) {   /* never under the typed field */
                name = g_invalid[fl->id];
                if (!name)
                    continue;
                nlen = strlen(name);
            } else if (t == 'L') {
                v = long_text(v, num);
                if (v.ptr == num) {   /* a copy: into the scratch */
                    scratch_add(f, p, &np, name, num, v.len, CANH_JV_NUMBER);
                    continue;
                }
                kind = CANH_JV_NUMBER;
            }
        } else if (fl->flags & CANH_FIELD_BOOL) {
            kind = CANH_JV_RAW;   /* "true" or "false", as the JSON decoder wrote it */
        } else if (fl->flags & CANH_FIELD_NUMBER) {
            kind = CANH_JV_NUMBER;
        }
        canh_jobj_add(o, name, nlen, v.ptr, v.len, kind);
    }
    if (f->matched.len)   /* the caller's JSON array (engine/explain.c) */
        canh_jobj_add(o, "canh.matched", 12, f->matched.ptr, f->matched.len, CANH_JV_RAW);
    /* a packet's event has no original text (ptr NULL): its fields say it all */
    int exact = !ev->original.ptr || canh_utf8_valid(ev->original.ptr, ev->original.len);
    if (ev->original.ptr)
        canh_jobj_add(o, "event.original", 14, ev->original.ptr, ev->original.len,
                      CANH_JV_STRING);
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

    canh_jobj_write_with(o, &f->out, g_static, g_static_len, r->alert_json, r->alert_json_len);
    canh_buf_reset(&f->matched);
    return f->out.oom ? CANH_ENOMEM : CANH_OK;
}
