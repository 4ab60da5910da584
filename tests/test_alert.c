/*
 * tests/test_alert.c -- the JSON writer and the alert formatter: whatever
 * bytes come in, the alert is one line of valid JSON (checked by jansson,
 * which rejects invalid UTF-8), nested by ECS names with no dotted, empty
 * or blank key, with the exact original bytes recoverable; every field has
 * its ECS type (what does not fit goes to canh.invalid); event.id is the
 * same for the same event and rule and differs otherwise; the alert says
 * where its event came from, which canh saw it and which pack the rule is.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdlib.h>

#include "../sinks/alert.h"

static json_t *parse_buf(const canh_buf_t *b)
{
    json_error_t e;
    json_t *j = json_loadb(b->ptr, b->len, JSON_ALLOW_NUL | JSON_REJECT_DUPLICATES, &e);
    cr_assert_not_null(j, "invalid JSON (%s at %d): %.*s", e.text, e.position, (int)b->len, b->ptr);
    return j;
}

Test(json, escapes_controls_quotes_and_backslashes)
{
    canh_buf_t b;
    canh_buf_init(&b);
    const char in[] = "a\"b\\c\n\t\x01\x7f end";
    size_t bad = canh_json_put_string(&b, in, sizeof(in) - 1);
    cr_assert_eq(bad, 0);
    canh_buf_putc(&b, '\0');
    json_error_t e;
    json_t *j = json_loads(b.ptr, JSON_DECODE_ANY, &e);
    cr_assert_not_null(j, "%s", b.ptr);
    cr_assert_eq(json_string_length(j), sizeof(in) - 1);
    cr_assert(memcmp(json_string_value(j), in, sizeof(in) - 1) == 0);
    json_decref(j);
    canh_buf_free(&b);
}

Test(json, invalid_utf8_becomes_replacement_char)
{
    static const char *cases[] = {
        "\xff", "\xc0\xaf", "\xe0\x80\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80",
        "\xe2\x82", "ok\xc3", "Vi\xe1\xbb\x87t Nam \xfe",
    };
    for (size_t i = 0; i < CANH_ARRAY_LEN(cases); i++) {
        canh_buf_t b;
        canh_buf_init(&b);
        size_t bad = canh_json_put_string(&b, cases[i], strlen(cases[i]));
        cr_assert_gt(bad, 0, "case %zu not flagged", i);
        json_error_t e;
        json_t *j = json_loadb(b.ptr, b.len, JSON_DECODE_ANY, &e);
        cr_assert_not_null(j, "case %zu gave invalid JSON: %s", i, e.text);
        json_decref(j);
        canh_buf_free(&b);
    }
}

Test(json, valid_utf8_passes_through)
{
    const char *vi = "Sở Thông tin và Truyền thông — Bình Phước";
    canh_buf_t b;
    canh_buf_init(&b);
    cr_assert_eq(canh_json_put_string(&b, vi, strlen(vi)), 0);
    cr_assert_eq(b.len, strlen(vi) + 2);
    canh_buf_free(&b);
}

Test(json, numbers_only_when_they_are_json_numbers)
{
    const char *nums[] = { "0", "22", "-1", "3.5", "1e9" };
    const char *strs[] = { "", "022", "1.", "+1", "0x10", "NaN", "1 2" };
    for (size_t i = 0; i < CANH_ARRAY_LEN(nums); i++) {
        canh_buf_t b;
        canh_buf_init(&b);
        canh_json_put_number_or_string(&b, nums[i], strlen(nums[i]));
        cr_assert_eq(b.len, strlen(nums[i]), "%s", nums[i]);
        canh_buf_free(&b);
    }
    for (size_t i = 0; i < CANH_ARRAY_LEN(strs); i++) {
        canh_buf_t b;
        canh_buf_init(&b);
        canh_json_put_number_or_string(&b, strs[i], strlen(strs[i]));
        cr_assert_eq(b.ptr[0], '"', "%s should be a string", strs[i]);
        canh_buf_free(&b);
    }
}

Test(json, object_nests_dotted_names_and_repeats_become_arrays)
{
    canh_jobj_t o;
    canh_buf_t b;
    canh_jobj_init(&o);
    canh_buf_init(&b);
    canh_jobj_adds(&o, "source.ip", "203.0.113.5");
    canh_jobj_add(&o, "source.port", 11, "4242", 4, CANH_JV_NUMBER);
    canh_jobj_adds(&o, "process.args", "rm");
    canh_jobj_adds(&o, "process.args", "-rf");
    canh_jobj_adds(&o, "a-b", "x");
    canh_jobj_adds(&o, "a", "leaf");
    canh_jobj_adds(&o, "a.b", "child");
    canh_jobj_adds(&o, "c.d", "leaf");
    canh_jobj_adds(&o, "c.d", "leaf2");
    canh_jobj_adds(&o, "c.d._value", "own");
    canh_jobj_adds(&o, "c.d._value.e", "deeper");
    canh_jobj_write(&o, &b);
    json_t *j = parse_buf(&b);
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "source"), "ip")), "203.0.113.5");
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(j, "source"), "port")), 4242);
    json_t *args = json_object_get(json_object_get(j, "process"), "args");
    cr_assert(json_is_array(args));
    cr_assert_str_eq(json_string_value(json_array_get(args, 1)), "-rf");
    /* "a" is both a value and a parent: its value is its "_value", and no
     * key holds a dot (an index reads a dot as a path) */
    json_t *a = json_object_get(j, "a");
    cr_assert(json_is_object(a), "%.*s", (int)b.len, b.ptr);
    cr_assert_str_eq(json_string_value(json_object_get(a, "_value")), "leaf");
    cr_assert_str_eq(json_string_value(json_object_get(a, "b")), "child");
    cr_assert_null(json_object_get(j, "a.b"));
    cr_assert_str_eq(json_string_value(json_object_get(j, "a-b")), "x");
    /* again when _value itself is taken, and is a parent too */
    json_t *d = json_object_get(json_object_get(j, "c"), "d");
    json_t *dv = json_object_get(d, "_value");
    cr_assert(json_is_object(dv), "%.*s", (int)b.len, b.ptr);
    json_t *dvv = json_object_get(dv, "_value");
    cr_assert_eq(json_array_size(dvv), 3, "leaf, leaf2 and own: %.*s", (int)b.len, b.ptr);
    cr_assert_str_eq(json_string_value(json_object_get(dv, "e")), "deeper");
    json_decref(j);
    canh_jobj_free(&o);
    canh_buf_free(&b);
}

/* No key of a parsed value holds a dot or is empty or blank (what an
 * Elasticsearch index refuses or reads as a path). */
static void assert_plain_keys(json_t *j, const char *where)
{
    if (json_is_array(j)) {
        size_t i;
        json_t *v;
        json_array_foreach(j, i, v)
            assert_plain_keys(v, where);
        return;
    }
    if (!json_is_object(j))
        return;
    const char *k;
    json_t *v;
    json_object_foreach(j, k, v) {
        cr_assert(!strchr(k, '.'), "a dotted key '%s' in %s", k, where);
        cr_assert(strspn(k, " \t\r\n") < strlen(k), "an empty or blank key in %s", where);
        assert_plain_keys(v, where);
    }
}

/* Counts the leaves of a parsed object, descending into objects. */
static size_t leaves(json_t *j)
{
    if (!json_is_object(j))
        return json_is_array(j) ? json_array_size(j) : 1;
    size_t n = 0;
    const char *k;
    json_t *v;
    json_object_foreach(j, k, v)
        n += leaves(v);
    return n;
}

Test(json, random_names_never_give_duplicate_keys)
{
    /* Names over a hostile alphabet, more than the writer's stack buffers
     * hold: the output must parse with duplicates rejected, and no value
     * may be lost. Names are unique here, so leaves == entries. */
    /* (no NUL: valid in JSON keys, but jansson cannot hold it) */
    static const char alpha[] = { 'a', 'b', '.', '-', '\x02', '\x01', '\xff', 'Z' };
    unsigned seed = 12345;
    for (int round = 0; round < 50; round++) {
        canh_jobj_t o;
        canh_buf_t b;
        canh_jobj_init(&o);
        canh_buf_init(&b);
        static char names[300][8];
        size_t lens[300], n = 0;
        for (int i = 0; i < 300; i++) {
            size_t len = 1 + (seed = seed * 1103515245 + 12345) % 7;
            for (size_t k = 0; k < len; k++)
                names[n][k] = alpha[(seed = seed * 1103515245 + 12345) >> 16 & 7];
            /* skip names with empty segments or already present */
            int bad = names[n][0] == '.' || names[n][len - 1] == '.' ||
                      memmem(names[n], len, "..", 2) != NULL;
            for (size_t m = 0; m < n && !bad; m++)
                bad = lens[m] == len && memcmp(names[m], names[n], len) == 0;
            if (bad) {
                memset(names[n], 0, 8);
                continue;
            }
            canh_jobj_add(&o, names[n], len, "v", 1, CANH_JV_STRING);
            lens[n++] = len;
        }
        canh_jobj_write(&o, &b);
        json_t *j = parse_buf(&b);
        cr_assert_eq(leaves(j), n, "round %d: %zu values in, %zu out", round, n, leaves(j));
        assert_plain_keys(j, "random names");
        json_decref(j);
        memset(names, 0, sizeof(names));
        canh_jobj_free(&o);
        canh_buf_free(&b);
    }
}

Test(json, base64_roundtrip)
{
    const unsigned char in[] = { 0, 0xff, 'a', 0x80, 0x0a };
    const char *want[] = { "", "AA==", "AP8=", "AP9h", "AP9hgA==", "AP9hgAo=" };
    for (size_t n = 0; n <= sizeof(in); n++) {
        canh_buf_t b;
        canh_buf_init(&b);
        canh_base64_put(&b, in, n);
        cr_assert_eq(b.len, strlen(want[n]));
        cr_assert(b.len == 0 || memcmp(b.ptr, want[n], b.len) == 0, "n=%zu", n);
        canh_buf_free(&b);
    }
}

static canh_rule_t *test_rule(void)
{
    static char *tags[] = { "attack.credential-access", "attack.t1110.001", "attack.stealth" };
    static char *refs[] = { "https://example.org/ref" };
    canh_rule_t *r = calloc(1, sizeof(*r));
    r->id = "5d2c4a2e-0000-4000-8000-000000000001";
    r->title = "SSH \"failed\" password";
    r->author = "canh SOC team";
    r->file = "rules/linux/sshd/x.yml";
    r->ruleset = "canh";
    r->pack_file = "linux/sshd/x.yml";
    r->level = CANH_LEVEL_HIGH;
    r->tags = tags;
    r->ntags = 3;
    r->references = refs;
    r->nreferences = 1;
    return r;
}

Test(alert, hostile_event_gives_valid_json_with_exact_original)
{
    canh_arena_t a;
    canh_arena_init(&a, 0);
    canh_event_t *ev = calloc(1, sizeof(*ev));
    ev->arena = &a;
    canh_event_clear(ev);
    const char line[] = "Mar 27 13:08:09 h\xff sshd[1]: Failed \"x\\y\" \x00\x01\xc3(";
    ev->original = canh_slice(line, sizeof(line) - 1);
    ev->ts_ms = 1700000000123;
    ev->datasets = CANH_DS_BIT(CANH_DS_SSHD);
    canh_event_add(ev, CANH_F_HOST_NAME, canh_slice("h\xff", 2));
    canh_event_add(ev, CANH_F_SOURCE_PORT, CANH_SLICE("54259"));
    canh_event_add(ev, CANH_F_PROCESS_PID, CANH_SLICE("not-a-number"));
    canh_event_add_named(ev, CANH_SLICE("rule.id"), CANH_SLICE("spoofed"), 0);
    canh_event_add_named(ev, CANH_SLICE("we\"ird\nkey"), CANH_SLICE("v"), 0);

    canh_alert_fmt_t f;
    canh_alert_fmt_init(&f);
    canh_rule_t *r = test_rule();
    cr_assert_eq(canh_alert_format(&f, r, ev, 1700000001000), CANH_OK);
    cr_assert_null(memchr(f.out.ptr, '\n', f.out.len), "an alert is one line");
    json_t *j = parse_buf(&f.out);

    cr_assert_str_eq(json_string_value(json_object_get(j, "@timestamp")), "2023-11-14T22:13:20.123Z");
    json_t *event = json_object_get(j, "event");
    cr_assert_str_eq(json_string_value(json_object_get(event, "kind")), "alert");
    cr_assert_eq(json_integer_value(json_object_get(event, "severity")), 4);
    json_t *rule = json_object_get(j, "rule");
    cr_assert_str_eq(json_string_value(json_object_get(rule, "id")), r->id, "event cannot spoof rule.id");
    cr_assert_str_eq(json_string_value(json_object_get(rule, "name")), r->title);
    cr_assert_str_eq(json_string_value(json_object_get(rule, "level")), "high");
    cr_assert_str_eq(json_string_value(json_object_get(rule, "author")), "canh SOC team");
    cr_assert_str_eq(json_string_value(json_object_get(rule, "ruleset")), "canh",
                     "the pack, not a path");
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(json_object_get(j, "canh"), "rule"), "file")),
                     "linux/sshd/x.yml");
    json_t *threat = json_object_get(j, "threat");
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(threat, "technique"), "id")), "T1110");
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(json_object_get(threat, "technique"), "subtechnique"), "id")), "T1110.001");
    json_t *tactic_id = json_object_get(json_object_get(threat, "tactic"), "id");
    cr_assert_str_eq(json_string_value(tactic_id), "TA0006");
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(threat, "tactic"), "name")),
                     "Credential Access", "an unknown tactic (attack.stealth) is not added");
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(j, "source"), "port")), 54259);
    cr_assert_null(json_object_get(json_object_get(j, "process"), "pid"),
                   "a pid that is not a number is not written as process.pid");
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(json_object_get(j, "canh"), "invalid"), "process")
                                           ? json_object_get(json_object_get(json_object_get(json_object_get(j, "canh"), "invalid"), "process"), "pid")
                                           : NULL),
                     "not-a-number");
    assert_plain_keys(j, "a hostile alert");

    /* The exact bytes come back from event.original_base64. */
    const char *b64 = json_string_value(json_object_get(event, "original_base64"));
    cr_assert_not_null(b64);
    canh_buf_t want;
    canh_buf_init(&want);
    canh_base64_put(&want, (const unsigned char *)line, sizeof(line) - 1);
    cr_assert_eq(strlen(b64), want.len);
    cr_assert(memcmp(b64, want.ptr, want.len) == 0);
    canh_buf_free(&want);

    json_decref(j);
    canh_alert_fmt_free(&f);
    free(r);
    free(ev);
    canh_arena_free(&a);
}

Test(alert, valid_utf8_original_has_no_base64_copy)
{
    canh_event_t *ev = calloc(1, sizeof(*ev));
    canh_event_clear(ev);
    ev->original = CANH_SLICE("Bình Phước sshd: ok");
    canh_alert_fmt_t f;
    canh_alert_fmt_init(&f);
    canh_rule_t *r = test_rule();
    cr_assert_eq(canh_alert_format(&f, r, ev, 1700000001000), CANH_OK);
    json_t *j = parse_buf(&f.out);
    json_t *event = json_object_get(j, "event");
    cr_assert_str_eq(json_string_value(json_object_get(event, "original")), "Bình Phước sshd: ok");
    cr_assert_null(json_object_get(event, "original_base64"));
    /* No event time: @timestamp falls back to the detection time. */
    cr_assert_str_eq(json_string_value(json_object_get(j, "@timestamp")), "2023-11-14T22:13:21.000Z");
    json_decref(j);
    canh_alert_fmt_free(&f);
    free(r);
    free(ev);
}

Test(alert, prepared_rule_part_gives_the_same_alert)
{
    canh_arena_t a;
    canh_arena_init(&a, 0);
    canh_event_t *ev = calloc(1, sizeof(*ev));
    ev->arena = &a;
    canh_event_clear(ev);
    ev->original = CANH_SLICE("Mar 27 13:08:09 h sshd[1]: Failed password for root");
    ev->ts_ms = 1700000000123;
    ev->datasets = CANH_DS_BIT(CANH_DS_SSHD);
    canh_event_add(ev, CANH_F_HOST_NAME, CANH_SLICE("h"));
    canh_event_add_named(ev, CANH_SLICE("tags"), CANH_SLICE("from-the-event"), 0);
    canh_event_add_named(ev, CANH_SLICE("threat.indicator"), CANH_SLICE("spoofed"), 0);

    canh_rule_t *r = test_rule();
    r->description = "Quotes \"and\" backslashes \\ in a description";
    canh_alert_fmt_t f;
    canh_alert_fmt_init(&f);
    cr_assert_eq(canh_alert_format(&f, r, ev, 1700000001000), CANH_OK);
    json_t *plain = parse_buf(&f.out);

    cr_assert_eq(canh_alert_prepare(r), CANH_OK);
    cr_assert_not_null(r->alert_json);
    cr_assert_eq(canh_alert_format(&f, r, ev, 1700000001000), CANH_OK);
    json_t *prepared = parse_buf(&f.out);   /* also rejects duplicate keys */
    cr_assert(json_equal(plain, prepared), "prepared: %.*s", (int)f.out.len, f.out.ptr);
    json_t *tags = json_object_get(prepared, "tags");
    cr_assert_eq(json_array_size(tags), 3, "the rule's three tags, none of the event's");
    cr_assert_null(json_object_get(json_object_get(prepared, "threat"), "indicator"));

    json_decref(plain);
    json_decref(prepared);
    free(r->alert_json);
    canh_alert_fmt_free(&f);
    free(r);
    free(ev);
    canh_arena_free(&a);
}

Test(alert, matched_list_is_added_once_and_cannot_be_forged)
{
    canh_arena_t a;
    canh_arena_init(&a, 0);
    canh_event_t *ev = calloc(1, sizeof(*ev));
    ev->arena = &a;
    canh_event_clear(ev);
    ev->original = CANH_SLICE("Mar 27 13:08:09 h sshd[1]: Failed password for root");
    ev->datasets = CANH_DS_BIT(CANH_DS_SSHD);
    canh_event_add(ev, CANH_F_USER_NAME, CANH_SLICE("root"));
    /* a log line's own keys may not pose as canh's list */
    canh_event_add_named(ev, CANH_SLICE("canh.matched"), CANH_SLICE("forged"), 0);
    canh_event_add_named(ev, CANH_SLICE("canh"), CANH_SLICE("forged"), 0);

    canh_rule_t *r = test_rule();
    canh_alert_fmt_t f;
    canh_alert_fmt_init(&f);
    canh_buf_puts(&f.matched, "[{\"selection\":\"selection\",\"field\":\"user.name\","
                              "\"value\":\"root\",\"rule_field\":\"User\",\"rule_value\":\"root\"}]");
    cr_assert_eq(canh_alert_format(&f, r, ev, 1700000001000), CANH_OK);
    json_t *j = parse_buf(&f.out);
    json_t *m = json_object_get(json_object_get(j, "canh"), "matched");
    cr_assert(json_is_array(m), "%.*s", (int)f.out.len, f.out.ptr);
    cr_assert_eq(json_array_size(m), 1);
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(m, 0), "value")), "root");
    cr_assert_null(memmem(f.out.ptr, f.out.len, "forged", 6), "%.*s", (int)f.out.len, f.out.ptr);
    json_decref(j);
    /* the list belongs to that alert only */
    cr_assert_eq(f.matched.len, 0);
    cr_assert_eq(canh_alert_format(&f, r, ev, 1700000001000), CANH_OK);
    j = parse_buf(&f.out);
    cr_assert_null(json_object_get(json_object_get(j, "canh"), "matched"), "%.*s", (int)f.out.len,
                   f.out.ptr);
    json_decref(j);
    canh_alert_fmt_free(&f);
    free(r);
    free(ev);
    canh_arena_free(&a);
}

/* ---- ECS types, event.id, where the event came from ---------------------- */

static json_t *dig(json_t *j, const char *path)
{
    char buf[256];
    snprintf(buf, sizeof(buf), "%s", path);
    for (char *save = NULL, *k = strtok_r(buf, ".", &save); k && j; k = strtok_r(NULL, ".", &save))
        j = json_object_get(j, k);
    return j;
}

static json_t *format_at(canh_alert_fmt_t *f, canh_rule_t *r, canh_event_t *ev,
                         const canh_origin_t *o)
{
    cr_assert_eq(canh_alert_format_at(f, r, ev, 1700000001000, o), CANH_OK);
    json_t *j = parse_buf(&f->out);
    assert_plain_keys(j, "an alert");
    return j;
}

/* Each field has its ECS type; what does not fit is never written there. */
Test(alert, every_field_has_its_ecs_type)
{
    canh_arena_t a;
    canh_arena_init(&a, 0);
    canh_event_t *ev = calloc(1, sizeof(*ev));
    ev->arena = &a;
    canh_event_clear(ev);
    ev->original = CANH_SLICE("x");
    canh_event_add(ev, CANH_F_SOURCE_IP, CANH_SLICE("evil.example"));
    canh_event_add(ev, CANH_F_SOURCE_PORT, CANH_SLICE("abc"));
    canh_event_add(ev, CANH_F_DESTINATION_IP, CANH_SLICE("2001:db8::1"));
    canh_event_add(ev, CANH_F_DESTINATION_PORT, CANH_SLICE("0443"));
    canh_event_add(ev, CANH_F_HTTP_BYTES, CANH_SLICE("99999999999999999999"));
    canh_event_add(ev, CANH_F_HTTP_STATUS, CANH_SLICE("-0"));
    canh_event_add(ev, CANH_F_PROCESS_PPID, CANH_SLICE("-007"));
    canh_event_add(ev, CANH_F_SYSLOG_VERSION, CANH_SLICE("1"));
    canh_event_add(ev, CANH_F_USER_ID, CANH_SLICE("1000"));
    canh_event_add_named(ev, CANH_SLICE("canh.payload.n"), CANH_SLICE(""), CANH_FIELD_NULL);
    canh_event_add_named(ev, CANH_SLICE("canh.payload.t"), CANH_SLICE("true"), CANH_FIELD_BOOL);
    canh_event_add_named(ev, CANH_SLICE("canh.payload.num"), CANH_SLICE("1.5"), CANH_FIELD_NUMBER);
    canh_event_add(ev, CANH_F_USER_NAME, CANH_SLICE(""));
    ev->fields[ev->nfields - 1].flags |= CANH_FIELD_NULL;

    canh_alert_fmt_t f;
    canh_alert_fmt_init(&f);
    canh_rule_t *r = test_rule();
    json_t *j = format_at(&f, r, ev, NULL);
    cr_assert_null(dig(j, "source.ip"));
    cr_assert_str_eq(json_string_value(dig(j, "canh.invalid.source.ip")), "evil.example");
    cr_assert_null(dig(j, "source.port"));
    cr_assert_str_eq(json_string_value(dig(j, "canh.invalid.source.port")), "abc");
    cr_assert_str_eq(json_string_value(dig(j, "destination.ip")), "2001:db8::1");
    cr_assert(json_is_integer(dig(j, "destination.port")));
    cr_assert_eq(json_integer_value(dig(j, "destination.port")), 443);
    cr_assert_null(dig(j, "http.response.body.bytes"), "past a long's range");
    cr_assert_eq(json_integer_value(dig(j, "http.response.status_code")), 0);
    cr_assert_eq(json_integer_value(dig(j, "process.parent.pid")), -7);
    cr_assert_str_eq(json_string_value(dig(j, "log.syslog.version")), "1", "a keyword in ECS");
    cr_assert_str_eq(json_string_value(dig(j, "user.id")), "1000");
    cr_assert(json_is_null(dig(j, "canh.payload.n")));
    cr_assert(json_is_null(dig(j, "user.name")));
    cr_assert(json_is_true(dig(j, "canh.payload.t")));
    cr_assert(json_is_real(dig(j, "canh.payload.num")));
    cr_assert(json_is_integer(dig(j, "event.severity")));
    json_decref(j);
    canh_alert_fmt_free(&f);
    free(r);
    free(ev);
    canh_arena_free(&a);
}

/* event.id: the same for the same event and rule however often it is read;
 * different for another position, another rule, another file. */
Test(alert, event_id_covers_where_the_event_came_from_and_the_rule)
{
    canh_event_t *ev = calloc(1, sizeof(*ev));
    canh_event_clear(ev);
    ev->original = CANH_SLICE("Mar 27 13:08:09 h sshd[1]: Failed password for root");
    canh_alert_fmt_t f;
    canh_alert_fmt_init(&f);
    canh_rule_t *r = test_rule();
    canh_origin_t o = { .kind = CANH_ORIGIN_FILE, .name = "/var/log/auth.log", .name_len = 17,
                        .ident = { 2049, 131077 }, .pos = 4096 };
    char id[6][CANH_EVENT_ID_LEN];
    canh_alert_event_id(&f, r, ev, &o, id[0]);
    canh_alert_event_id(&f, r, ev, &o, id[1]);
    cr_assert(memcmp(id[0], id[1], CANH_EVENT_ID_LEN) == 0, "the same event, read again");
    for (int i = 0; i < CANH_EVENT_ID_LEN; i++)
        cr_assert(strchr("0123456789abcdef", id[0][i]), "hex digits");
    o.pos = 4097;
    canh_alert_event_id(&f, r, ev, &o, id[2]);
    o.pos = 4096;
    o.ident[1] = 131078;   /* the file rotated: another inode at the same path */
    canh_alert_event_id(&f, r, ev, &o, id[3]);
    o.ident[1] = 131077;
    canh_rule_t *r2 = test_rule();
    r2->id = "5d2c4a2e-0000-4000-8000-000000000002";
    canh_alert_event_id(&f, r2, ev, &o, id[4]);
    ev->original = CANH_SLICE("another line at the same place");
    canh_alert_event_id(&f, r, ev, &o, id[5]);
    cr_assert(memcmp(id[0], id[5], CANH_EVENT_ID_LEN) == 0, "a file position is the event");
    for (int i = 2; i < 5; i++)
        cr_assert(memcmp(id[0], id[i], CANH_EVENT_ID_LEN) != 0, "case %d", i);

    /* stdin: the bytes tell two streams apart */
    canh_origin_t in = { .kind = CANH_ORIGIN_STDIN, .pos = 0 };
    canh_alert_event_id(&f, r, ev, &in, id[0]);
    ev->original = CANH_SLICE("Mar 27 13:08:09 h sshd[1]: Failed password for root");
    canh_alert_event_id(&f, r, ev, &in, id[1]);
    cr_assert(memcmp(id[0], id[1], CANH_EVENT_ID_LEN) != 0);

    /* the alert carries it */
    json_t *j = format_at(&f, r, ev, &o);
    canh_alert_event_id(&f, r, ev, &o, id[0]);
    cr_assert_eq(json_string_length(dig(j, "event.id")), CANH_EVENT_ID_LEN);
    cr_assert(memcmp(json_string_value(dig(j, "event.id")), id[0], CANH_EVENT_ID_LEN) == 0);
    json_decref(j);
    canh_alert_fmt_free(&f);
    free(r);
    free(r2);
    free(ev);
}

/* A Kafka message gives the same id on whichever canh reads it (a group
 * member after a rebalance); a file line is this canh's. */
Test(alert, kafka_event_id_does_not_depend_on_the_observer)
{
    canh_event_t *ev = calloc(1, sizeof(*ev));
    canh_event_clear(ev);
    ev->original = CANH_SLICE("a line");
    canh_rule_t *r = test_rule();
    canh_origin_t k = { .kind = CANH_ORIGIN_KAFKA, .input = "raw", .input_len = 3,
                        .name = "syslog-raw", .name_len = 10, .ident = { 3, 0 }, .pos = 77 };
    canh_origin_t fo = { .kind = CANH_ORIGIN_FILE, .name = "/x", .name_len = 2, .pos = 0 };
    char a[2][CANH_EVENT_ID_LEN], b[2][CANH_EVENT_ID_LEN];
    canh_alert_fmt_t f;
    cr_assert_eq(canh_alert_set_observer("canh-a"), CANH_OK);
    canh_alert_fmt_init(&f);
    canh_alert_event_id(&f, r, ev, &k, a[0]);
    canh_alert_event_id(&f, r, ev, &fo, a[1]);
    cr_assert_eq(canh_alert_set_observer("canh-b"), CANH_OK);
    canh_alert_event_id(&f, r, ev, &k, b[0]);
    canh_alert_event_id(&f, r, ev, &fo, b[1]);
    cr_assert(memcmp(a[0], b[0], CANH_EVENT_ID_LEN) == 0);
    cr_assert(memcmp(a[1], b[1], CANH_EVENT_ID_LEN) != 0);
    json_t *j = format_at(&f, r, ev, &k);
    cr_assert_str_eq(json_string_value(dig(j, "observer.name")), "canh-b");
    cr_assert_str_eq(json_string_value(dig(j, "observer.product")), "canh");
    cr_assert_str_eq(json_string_value(dig(j, "ecs.version")), CANH_ECS_VERSION);
    cr_assert_str_eq(json_string_value(dig(j, "canh.kafka.topic")), "syslog-raw");
    cr_assert_eq(json_integer_value(dig(j, "canh.kafka.partition")), 3);
    cr_assert_eq(json_integer_value(dig(j, "canh.kafka.offset")), 77);
    cr_assert_str_eq(json_string_value(dig(j, "canh.input.name")), "raw");
    cr_assert_str_eq(json_string_value(dig(j, "canh.input.type")), "kafka");
    json_decref(j);
    canh_alert_fmt_free(&f);
    free(r);
    free(ev);
}

/* Where it came from: a file's path and offset, a sender's address (never
 * source.*: that is the event's own client). */
Test(alert, provenance_fields)
{
    canh_arena_t a;
    canh_arena_init(&a, 0);
    canh_event_t *ev = calloc(1, sizeof(*ev));
    ev->arena = &a;
    canh_event_clear(ev);
    ev->original = CANH_SLICE("x");
    canh_event_add(ev, CANH_F_SOURCE_IP, CANH_SLICE("203.0.113.9"));
    canh_alert_fmt_t f;
    canh_alert_fmt_init(&f);
    canh_rule_t *r = test_rule();
    canh_origin_t fo = { .kind = CANH_ORIGIN_FILE, .input = "auth", .input_len = 4,
                         .name = "/var/log/auth.log", .name_len = 17, .pos = 123456789012 };
    json_t *j = format_at(&f, r, ev, &fo);
    cr_assert_str_eq(json_string_value(dig(j, "log.file.path")), "/var/log/auth.log");
    cr_assert_eq(json_integer_value(dig(j, "log.offset")), 123456789012);
    cr_assert_str_eq(json_string_value(dig(j, "canh.input.name")), "auth");
    cr_assert_str_eq(json_string_value(dig(j, "canh.input.type")), "file");
    json_decref(j);
    canh_origin_t u = { .kind = CANH_ORIGIN_UDP, .input = "syslog", .input_len = 6,
                        .name = "[2001:db8::7]:514", .name_len = 17, .pos = 1 };
    j = format_at(&f, r, ev, &u);
    cr_assert_str_eq(json_string_value(dig(j, "log.source.address")), "[2001:db8::7]:514");
    cr_assert_str_eq(json_string_value(dig(j, "source.ip")), "203.0.113.9", "the event's own");
    cr_assert_null(dig(j, "log.offset"));
    cr_assert_str_eq(json_string_value(dig(j, "canh.input.type")), "udp");
    json_decref(j);
    canh_alert_fmt_free(&f);
    free(r);
    free(ev);
    canh_arena_free(&a);
}

/* event.dataset is one value, the most specific; all are in canh.datasets. */
Test(alert, event_dataset_is_one_value)
{
    canh_event_t *ev = calloc(1, sizeof(*ev));
    canh_event_clear(ev);
    ev->original = CANH_SLICE("x");
    canh_alert_fmt_t f;
    canh_alert_fmt_init(&f);
    canh_rule_t *r = test_rule();
    ev->datasets = CANH_DS_BIT(CANH_DS_SYSLOG) | CANH_DS_BIT(CANH_DS_SSHD) | CANH_DS_BIT(CANH_DS_AUTH);
    json_t *j = format_at(&f, r, ev, NULL);
    cr_assert_str_eq(json_string_value(dig(j, "event.dataset")), "sshd");
    cr_assert_eq(json_array_size(dig(j, "canh.datasets")), 3);
    json_decref(j);
    ev->datasets = CANH_DS_BIT(CANH_DS_AUDITD) | CANH_DS_BIT(CANH_DS_PROCESS_CREATION) |
                   CANH_DS_BIT(CANH_DS_SYSLOG);
    cr_assert_str_eq(canh_alert_dataset(ev->datasets), "auditd");
    cr_assert_str_eq(canh_alert_dataset(CANH_DS_BIT(CANH_DS_JSON) | CANH_DS_BIT(CANH_DS_KV)), "json");
    cr_assert_str_eq(canh_alert_dataset(CANH_DS_BIT(CANH_DS_SYSLOG)), "syslog");
    cr_assert_null(canh_alert_dataset(0));
    canh_alert_fmt_free(&f);
    free(r);
    free(ev);
}
