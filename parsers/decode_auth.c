/*
 * parsers/decode_auth.c -- sudo, su, PAM (pam_unix and friends), the
 * shadow tools (useradd, groupadd, usermod, userdel, groupdel, passwd,
 * chpasswd, gpasswd), systemd-logind and cron messages.
 *
 * Each recognised message gets event.action, event.outcome (when it has
 * one), event.category ("authentication" or "iam") and event.type, plus the
 * user/group fields. Unknown messages add nothing and are not errors.
 *
 * Ownership: every value borrows the message. Thread: the caller's.
 */
#include "parse_util.h"

static void skip_spaces(cur_t *c)
{
    while (c->n && (c->p[0] == ' ' || c->p[0] == '\t')) {
        c->p++;
        c->n--;
    }
}

/* Up to (not including) any byte of stop, or the end. */
static canh_slice_t until(cur_t *c, const char *stop)
{
    size_t i = 0, sl = strlen(stop);
    while (i < c->n && !memchr(stop, c->p[i], sl))
        i++;
    canh_slice_t t = canh_slice(c->p, i);
    c->p += i;
    c->n -= i;
    return t;
}

static void add_nonempty(canh_event_t *ev, canh_field_id_t id, canh_slice_t v)
{
    if (v.len)
        canh_event_add(ev, id, v);
}

/* ------------------------------------------------------------------ sudo */

int canh_decode_sudo(canh_event_t *ev, canh_slice_t msg)
{
    cur_t c = { msg.ptr, msg.len };
    skip_spaces(&c);
    const char *sep = canh_find(c.p, c.n, " : ", 3);
    if (!sep)
        return CANH_OK;
    canh_slice_t user = canh_slice(c.p, (size_t)(sep - c.p));
    while (user.len && user.ptr[user.len - 1] == ' ')
        user.len--;
    if (!user.len || memchr(user.ptr, ' ', user.len))
        return CANH_OK;
    c.n -= (size_t)(sep + 3 - c.p);
    c.p = sep + 3;
    skip_spaces(&c);

    ev->datasets |= CANH_DS_BIT(CANH_DS_SUDO) | CANH_DS_BIT(CANH_DS_AUTH);
    const char *act = "sudo_command", *outcome = "success", *cat = "process", *type = "start";
    if (!CANH_PREFIX(c.p, c.n, "TTY=") && !CANH_PREFIX(c.p, c.n, "PWD=") &&
        !CANH_PREFIX(c.p, c.n, "USER=") && !CANH_PREFIX(c.p, c.n, "COMMAND=")) {
        /* a reason first: "3 incorrect password attempts ; TTY=..." */
        const char *e = canh_find(c.p, c.n, " ; ", 3);
        size_t rl = e ? (size_t)(e - c.p) : c.n;
        outcome = "failure";
        cat = "authentication";
        type = "info";
        if (canh_find(c.p, rl, "incorrect password attempt", 26))
            act = "sudo_auth_failure";
        else if (canh_find(c.p, rl, "NOT in sudoers", 14))
            act = "sudo_not_in_sudoers";
        else if (canh_find(c.p, rl, "command not allowed", 19))
            act = "sudo_command_not_allowed";
        else
            act = NULL;
        c.p += rl;
        c.n -= rl;
        EAT(&c, " ; ");
    }
    canh_event_add(ev, CANH_F_USER_NAME, user);
    if (act)
        canh_set_action(ev, act, outcome, cat, type);
    /* KEY=value ; KEY=value ; COMMAND=rest of line */
    while (c.n) {
        if (EAT(&c, "COMMAND=")) {
            canh_slice_t cmd = canh_slice(c.p, c.n);
            canh_event_add(ev, CANH_F_SUDO_COMMAND, cmd);
            canh_event_add(ev, CANH_F_PROCESS_CMDLINE, cmd);
            break;
        }
        const char *e = canh_find(c.p, c.n, " ; ", 3);
        size_t pl = e ? (size_t)(e - c.p) : c.n;
        canh_slice_t part = canh_slice(c.p, pl);
        if (CANH_PREFIX(part.ptr, part.len, "TTY="))
            canh_event_add(ev, CANH_F_SUDO_TTY, canh_slice(part.ptr + 4, part.len - 4));
        else if (CANH_PREFIX(part.ptr, part.len, "PWD="))
            canh_event_add(ev, CANH_F_SUDO_PWD, canh_slice(part.ptr + 4, part.len - 4));
        else if (CANH_PREFIX(part.ptr, part.len, "USER="))
            canh_event_add(ev, CANH_F_USER_EFFECTIVE_NAME, canh_slice(part.ptr + 5, part.len - 5));
        c.p += pl;
        c.n -= pl;
        EAT(&c, " ; ");
    }
    return CANH_OK;
}

/* -------------------------------------------------------------------- su */

int canh_decode_su(canh_event_t *ev, canh_slice_t msg)
{
    cur_t c = { msg.ptr, msg.len };
    skip_spaces(&c);
    int failed = 0;
    if (EAT(&c, "FAILED SU ") || EAT(&c, "FAILED su "))
        failed = 1;
    canh_slice_t target = { NULL, 0 }, user = { NULL, 0 };
    if (EAT(&c, "(to ")) {
        /* "(to root) alice on pts/0" */
        target = until(&c, ")");
        if (!EAT(&c, ") "))
            return CANH_OK;
        user = until(&c, " ");
    } else if (EAT(&c, "for ")) {
        /* "FAILED su for root by alice", "Successful su for root by alice" */
        target = until(&c, " ");
        if (!EAT(&c, " by "))
            return CANH_OK;
        user = until(&c, " ");
    } else if (EAT(&c, "Successful su for ")) {
        target = until(&c, " ");
        if (!EAT(&c, " by "))
            return CANH_OK;
        user = until(&c, " ");
    } else if ((c.n > 2 && (c.p[0] == '+' || c.p[0] == '-') && c.p[1] == ' ')) {
        /* "+ /dev/pts/0 alice:root" (success) / "- ..." (failure) */
        failed = c.p[0] == '-';
        c.p += 2;
        c.n -= 2;
        until(&c, " ");
        if (!EAT(&c, " "))
            return CANH_OK;
        user = until(&c, ":");
        if (!EAT(&c, ":"))
            return CANH_OK;
        target = until(&c, " ");
    } else {
        return CANH_OK;
    }
    ev->datasets |= CANH_DS_BIT(CANH_DS_SU) | CANH_DS_BIT(CANH_DS_AUTH);
    if (failed)
        canh_set_action(ev, "su_failure", "failure", "authentication", "info");
    else
        canh_set_action(ev, "su_session", "success", "authentication", "start");
    add_nonempty(ev, CANH_F_USER_NAME, user);
    add_nonempty(ev, CANH_F_USER_TARGET_NAME, target);
    return CANH_OK;
}

/* ------------------------------------------------------------------- pam */

/* "key=value key= key=value" after "authentication failure; " */
static void pam_kv(canh_event_t *ev, cur_t c)
{
    while (c.n) {
        skip_spaces(&c);
        canh_slice_t key = until(&c, "= ");
        if (!EAT(&c, "=")) {
            if (c.n && c.p[0] != ' ') {
                c.p++;
                c.n--;
            }
            continue;
        }
        canh_slice_t val = until(&c, " ");
        if (canh_slice_eq(key, "user"))
            add_nonempty(ev, CANH_F_USER_NAME, val);
        else if (canh_slice_eq(key, "rhost"))
            canh_add_source(ev, val);
    }
}

/* "U(uid=0)" or "U": user.name and user.id */
static void pam_user(canh_event_t *ev, canh_slice_t u, canh_field_id_t name_id)
{
    const char *par = memchr(u.ptr, '(', u.len);
    if (par) {
        cur_t c = { par, u.len - (size_t)(par - u.ptr) };
        u.len = (size_t)(par - u.ptr);
        if (EAT(&c, "(uid=")) {
            canh_slice_t id = until(&c, ")");
            if (canh_slice_is_digits(id) && name_id == CANH_F_USER_NAME)
                canh_event_add(ev, CANH_F_USER_ID, id);
        }
    }
    add_nonempty(ev, name_id, u);
}

static int decode_pam_body(canh_event_t *ev, canh_slice_t service, cur_t c)
{
    ev->datasets |= CANH_DS_BIT(CANH_DS_AUTH);
    if (service.len)
        canh_event_add_named(ev, CANH_SLICE("pam.service"), service, 0);
    skip_spaces(&c);
    if (EAT(&c, "authentication failure;")) {
        canh_set_action(ev, "authentication_failure", "failure", "authentication", "info");
        pam_kv(ev, c);
    } else if (EAT(&c, "check pass; user unknown")) {
        canh_set_action(ev, "authentication_failure", "failure", "authentication", "info");
    } else if (EAT(&c, "session opened for user ")) {
        canh_set_action(ev, "session_opened", "success", "authentication", "start");
        const char *by = canh_find(c.p, c.n, " by ", 4);
        pam_user(ev, canh_slice(c.p, by ? (size_t)(by - c.p) : c.n), CANH_F_USER_NAME);
    } else if (EAT(&c, "session closed for user ")) {
        canh_set_action(ev, "session_closed", "success", "authentication", "end");
        pam_user(ev, until(&c, " "), CANH_F_USER_NAME);
    } else if (EAT(&c, "password changed for ")) {
        canh_set_action(ev, "password_changed", "success", "iam", "change");
        add_nonempty(ev, CANH_F_USER_TARGET_NAME, until(&c, " "));
    }
    return CANH_OK;
}

/* "pam_unix(sshd:auth): rest" -> service "sshd"; NULL rest if not that shape. */
static int pam_prefix(cur_t *c, canh_slice_t *service)
{
    if (!CANH_PREFIX(c->p, c->n, "pam_"))
        return 0;
    size_t i = 4;
    while (i < c->n && c->p[i] != '(' && c->p[i] != ' ' && c->p[i] != ':')
        i++;
    if (i >= c->n || c->p[i] != '(')
        return 0;
    size_t s = ++i;
    while (i < c->n && c->p[i] != ':' && c->p[i] != ')')
        i++;
    *service = canh_slice(c->p + s, i - s);
    while (i < c->n && c->p[i] != ')')
        i++;
    if (i + 1 >= c->n || c->p[i + 1] != ':')
        return 0;
    c->p += i + 2;
    c->n -= i + 2;
    return 1;
}

/* ----------------------------------------------------------- shadow tools */

/* "name=bob, UID=1001, GID=1001, home=..." -> the value of key */
static canh_slice_t comma_kv(canh_slice_t s, const char *key)
{
    size_t kl = strlen(key);
    cur_t c = { s.ptr, s.len };
    while (c.n) {
        skip_spaces(&c);
        if (c.n > kl && memcmp(c.p, key, kl) == 0 && c.p[kl] == '=') {
            c.p += kl + 1;
            c.n -= kl + 1;
            return until(&c, ",");
        }
        until(&c, ",");
        EAT(&c, ",");
    }
    return canh_slice(NULL, 0);
}

/* 'quoted' name at c */
static canh_slice_t squoted(cur_t *c)
{
    if (!EAT(c, "'"))
        return canh_slice(NULL, 0);
    canh_slice_t v = until(c, "'");
    EAT(c, "'");
    return v;
}

static int decode_shadow(canh_event_t *ev, cur_t c)
{
    if (EAT(&c, "new user: ")) {
        canh_slice_t body = canh_slice(c.p, c.n);
        canh_set_action(ev, "user_created", "success", "iam", "creation");
        add_nonempty(ev, CANH_F_USER_TARGET_NAME, comma_kv(body, "name"));
        add_nonempty(ev, CANH_F_USER_TARGET_ID, comma_kv(body, "UID"));
        add_nonempty(ev, CANH_F_GROUP_ID, comma_kv(body, "GID"));
    } else if (EAT(&c, "new group: ")) {
        canh_slice_t body = canh_slice(c.p, c.n);
        canh_set_action(ev, "group_created", "success", "iam", "creation");
        add_nonempty(ev, CANH_F_GROUP_NAME, comma_kv(body, "name"));
        add_nonempty(ev, CANH_F_GROUP_ID, comma_kv(body, "GID"));
    } else if (EAT(&c, "add ")) {
        /* "add 'bob' to group 'sudo'", "add 'bob' to shadow group 'sudo'" */
        canh_slice_t u = squoted(&c);
        if (!EAT(&c, " to ") || !u.len)
            return CANH_OK;
        EAT(&c, "shadow ");
        if (!EAT(&c, "group "))
            return CANH_OK;
        canh_slice_t g = squoted(&c);
        canh_set_action(ev, "user_added_to_group", "success", "iam", "change");
        canh_event_add(ev, CANH_F_USER_TARGET_NAME, u);
        add_nonempty(ev, CANH_F_GROUP_NAME, g);
    } else if (EAT(&c, "user ")) {
        /* gpasswd: "user bob added by root to group sudo" */
        canh_slice_t u = until(&c, " ");
        if (!EAT(&c, " added by "))
            return CANH_OK;
        canh_slice_t by = until(&c, " ");
        if (!EAT(&c, " to group "))
            return CANH_OK;
        canh_set_action(ev, "user_added_to_group", "success", "iam", "change");
        add_nonempty(ev, CANH_F_USER_TARGET_NAME, u);
        add_nonempty(ev, CANH_F_USER_NAME, by);
        add_nonempty(ev, CANH_F_GROUP_NAME, until(&c, " "));
    } else if (EAT(&c, "delete user ")) {
        canh_slice_t u = squoted(&c);
        canh_set_action(ev, "user_deleted", "success", "iam", "deletion");
        add_nonempty(ev, CANH_F_USER_TARGET_NAME, u);
    } else if (EAT(&c, "group ")) {
        /* groupdel: "group 'devs' removed" (not "... removed from /etc/group") */
        canh_slice_t g = squoted(&c);
        if (!g.len || !EAT(&c, " removed") || c.n)
            return CANH_OK;
        canh_set_action(ev, "group_deleted", "success", "iam", "deletion");
        canh_event_add(ev, CANH_F_GROUP_NAME, g);
    } else if (EAT(&c, "password changed for ") || EAT(&c, "password for ")) {
        canh_slice_t u = until(&c, " ");
        if (c.n && !canh_find(c.p, c.n, "changed", 7))
            return CANH_OK;
        canh_set_action(ev, "password_changed", "success", "iam", "change");
        add_nonempty(ev, CANH_F_USER_TARGET_NAME, u);
    }
    return CANH_OK;
}

/* "New session 12 of user root." */
static int decode_logind(canh_event_t *ev, cur_t c)
{
    if (!EAT(&c, "New session "))
        return CANH_OK;
    until(&c, " ");
    if (!EAT(&c, " of user "))
        return CANH_OK;
    canh_slice_t u = until(&c, " ");
    if (u.len && u.ptr[u.len - 1] == '.')
        u.len--;
    canh_set_action(ev, "session_opened", "success", "authentication", "start");
    add_nonempty(ev, CANH_F_USER_NAME, u);
    return CANH_OK;
}

/* cron: "(root) CMD (command)" */
static int decode_cron(canh_event_t *ev, cur_t c)
{
    if (!EAT(&c, "("))
        return CANH_OK;
    canh_slice_t u = until(&c, ")");
    if (!EAT(&c, ") CMD ("))
        return CANH_OK;
    size_t n = c.n;
    if (n && c.p[n - 1] == ')')
        n--;
    canh_event_add(ev, CANH_F_EVENT_ACTION, CANH_SLICE("cron_command"));
    add_nonempty(ev, CANH_F_USER_NAME, u);
    canh_event_add(ev, CANH_F_PROCESS_CMDLINE, canh_slice(c.p, n));
    return CANH_OK;
}

int canh_decode_auth(canh_event_t *ev, canh_slice_t prog, canh_slice_t msg)
{
    cur_t c = { msg.ptr, msg.len };
    skip_spaces(&c);
    canh_slice_t service;
    if (pam_prefix(&c, &service))
        return decode_pam_body(ev, service, c);
    /* loghub style "sshd(pam_unix)" program names */
    const char *par = prog.len ? memchr(prog.ptr, '(', prog.len) : NULL;
    if (par && CANH_PREFIX(par, prog.len - (size_t)(par - prog.ptr), "(pam_"))
        return decode_pam_body(ev, canh_slice(prog.ptr, (size_t)(par - prog.ptr)), c);

    if (canh_slice_eq(prog, "systemd-logind")) {
        ev->datasets |= CANH_DS_BIT(CANH_DS_AUTH);
        return decode_logind(ev, c);
    }
    if (canh_slice_eq(prog, "cron") || canh_slice_eq(prog, "CRON") || canh_slice_eq(prog, "crond")) {
        ev->datasets |= CANH_DS_BIT(CANH_DS_CRON);
        return decode_cron(ev, c);
    }
    ev->datasets |= CANH_DS_BIT(CANH_DS_AUTH);
    return decode_shadow(ev, c);
}
