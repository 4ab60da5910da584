/*
 * tests/test_alert.c -- the JSON writer and the alert formatter: whatever
 * bytes come in, the alert is one line of valid JSON (checked by jansson,
 * which rejects invalid UTF-8), nested by ECS names, with the exact
 * original bytes recoverable.
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
    canh_jobj_write(&o, &b);
    json_t *j = parse_buf(&b);
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "source"), "ip")), "203.0.113.5");
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(j, "source"), "port")), 4242);
    json_t *args = json_object_get(json_object_get(j, "process"), "args");
    cr_assert(json_is_array(args));
    cr_assert_str_eq(json_string_value(json_array_get(args, 1)), "-rf");
    /* "a" is both a value and a parent: both survive. */
    cr_assert_str_eq(json_string_value(json_object_get(j, "a")), "leaf");
    cr_assert_str_eq(json_string_value(json_object_get(j, "a.b")), "child");
    cr_assert_str_eq(json_string_value(json_object_get(j, "a-b")), "x");
    json_decref(j);
    canh_jobj_free(&o);
    canh_buf_free(&b);
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
    cr_assert_str_eq(json_string_value(json_object_get(rule, "ruleset")), r->file);
    json_t *threat = json_object_get(j, "threat");
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(threat, "technique"), "id")), "T1110");
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(json_object_get(threat, "technique"), "subtechnique"), "id")), "T1110.001");
    json_t *tactic_id = json_object_get(json_object_get(threat, "tactic"), "id");
    cr_assert_str_eq(json_string_value(tactic_id), "TA0006");
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(threat, "tactic"), "name")),
                     "Credential Access", "an unknown tactic (attack.stealth) is not added");
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(j, "source"), "port")), 54259);
    cr_assert(json_is_string(json_object_get(json_object_get(j, "process"), "pid")),
              "a pid that is not a number stays a string");

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
    cr_assert_eq(json_array_size(tags), 4, "the rule's three tags and the event's one");

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
    cr_assert_null(json_object_get(j, "canh"), "%.*s", (int)f.out.len, f.out.ptr);
    json_decref(j);
    canh_alert_fmt_free(&f);
    free(r);
    free(ev);
    canh_arena_free(&a);
}
