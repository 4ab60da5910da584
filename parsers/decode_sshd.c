/*
 * parsers/decode_sshd.c -- OpenSSH server messages to event.action,
 * event.outcome, user.name, source.ip/port and sshd.method.
 *
 * Hand-written prefix checks (no regex): this runs on the hot path. Unknown
 * messages add nothing and are not errors. pam_unix(sshd:...) messages are
 * sent to the auth decoder by the dispatcher, not here. "message repeated N
 * times: [ ... ]" wrappers are unwrapped first.
 *
 * Ownership: every value borrows the message. Thread: the caller's.
 */
#include "parse_util.h"

static canh_slice_t token(cur_t *c)
{
    size_t i = 0;
    while (i < c->n && c->p[i] != ' ')
        i++;
    canh_slice_t t = canh_slice(c->p, i);
    c->p += i;
    c->n -= i;
    return t;
}

/* Text up to the first " from " (user names may be empty). */
static int upto_from(cur_t *c, canh_slice_t *user)
{
    const char *f = canh_find(c->p, c->n, " from ", 6);
    if (!f)
        return 0;
    *user = canh_slice(c->p, (size_t)(f - c->p));
    c->n -= (size_t)(f + 6 - c->p);
    c->p = f + 6;
    return 1;
}

/* "IP[ port P]" at c; adds source.ip (or source.domain) and source.port. */
static void addr_port(canh_event_t *ev, cur_t *c)
{
    size_t i = 0;
    while (i < c->n && c->p[i] != ' ' && !(c->p[i] == ':' && i + 1 < c->n && c->p[i + 1] == ' '))
        i++;
    canh_slice_t ip = canh_slice(c->p, i);
    /* "1.2.3.4:" (old "Received disconnect from 1.2.3.4: 11: ...") */
    if (ip.len && ip.ptr[ip.len - 1] == ':' && !canh_addr_is_ip(ip))
        ip.len--;
    canh_add_source(ev, ip);
    c->p += i;
    c->n -= i;
    if (EAT(c, " port ")) {
        size_t j = 0;
        while (j < c->n && c->p[j] >= '0' && c->p[j] <= '9')
            j++;
        if (j)
            canh_event_add(ev, CANH_F_SOURCE_PORT, canh_slice(c->p, j));
        c->p += j;
        c->n -= j;
    }
}

static void user_field(canh_event_t *ev, canh_slice_t u, int *invalid)
{
    if (CANH_PREFIX(u.ptr, u.len, "invalid user ")) {
        *invalid = 1;
        u.ptr += 13;
        u.len -= 13;
    }
    if (u.len)
        canh_event_add(ev, CANH_F_USER_NAME, u);
}

static void mark_invalid(canh_event_t *ev)
{
    canh_event_add_named(ev, CANH_SLICE("sshd.invalid_user"), CANH_SLICE("true"), 0);
}

int canh_decode_sshd(canh_event_t *ev, canh_slice_t msg)
{
    cur_t c = { msg.ptr, msg.len };
    while (c.n && c.p[0] == ' ') {
        c.p++;
        c.n--;
    }
    /* "message repeated 3 times: [ Failed password for ...]" */
    if (EAT(&c, "message repeated ")) {
        const char *b = canh_find(c.p, c.n, ": [", 3);
        if (!b)
            return CANH_OK;
        c.n -= (size_t)(b + 3 - c.p);
        c.p = b + 3;
        while (c.n && c.p[0] == ' ') {
            c.p++;
            c.n--;
        }
        if (c.n && c.p[c.n - 1] == ']')
            c.n--;
    }
    if (!c.n)
        return CANH_OK;
    ev->datasets |= CANH_DS_BIT(CANH_DS_SSHD) | CANH_DS_BIT(CANH_DS_AUTH);

    int invalid = 0;
    canh_slice_t user;
    switch (c.p[0]) {
    case 'A':
        if (EAT(&c, "Accepted ")) {
            canh_slice_t method = token(&c);
            if (!EAT(&c, " for ") || !upto_from(&c, &user))
                return CANH_OK;
            canh_set_action(ev, "ssh_login", "success", "authentication", NULL);
            canh_event_add_named(ev, CANH_SLICE("sshd.method"), method, 0);
            user_field(ev, user, &invalid);
            addr_port(ev, &c);
        }
        break;
    case 'F':
        if (EAT(&c, "Failed ")) {
            canh_slice_t method = token(&c);
            if (!EAT(&c, " for ") || !upto_from(&c, &user))
                return CANH_OK;
            canh_set_action(ev, "ssh_login", "failure", "authentication", NULL);
            canh_event_add_named(ev, CANH_SLICE("sshd.method"), method, 0);
            user_field(ev, user, &invalid);
            addr_port(ev, &c);
        }
        break;
    case 'I':
        if (EAT(&c, "Invalid user ")) {
            /* "Invalid user U from IP[ port P]" */
            cur_t u = c;
            u.p--;
            u.n++;   /* keep the space so that an empty user still finds " from " */
            if (!upto_from(&u, &user))
                return CANH_OK;
            user.ptr++;
            user.len = user.len ? user.len - 1 : 0;
            canh_set_action(ev, "ssh_invalid_user", "failure", "authentication", NULL);
            invalid = 1;
            if (user.len)
                canh_event_add(ev, CANH_F_USER_NAME, user);
            addr_port(ev, &u);
        }
        break;
    case 'e':
        if (EAT(&c, "error: ")) {
            if (EAT(&c, "maximum authentication attempts exceeded for ")) {
                if (!upto_from(&c, &user))
                    return CANH_OK;
                canh_set_action(ev, "ssh_max_auth_exceeded", "failure", "authentication", NULL);
                user_field(ev, user, &invalid);
                addr_port(ev, &c);
            } else if (EAT(&c, "Received disconnect from ")) {
                canh_set_action(ev, "ssh_disconnect", NULL, "network", NULL);
                addr_port(ev, &c);
            }
        }
        break;
    case 'D':
        if (EAT(&c, "Did not receive identification string from ")) {
            canh_set_action(ev, "ssh_no_identification", "failure", "network", NULL);
            addr_port(ev, &c);
        } else if (EAT(&c, "Disconnecting")) {
            if (!canh_find(c.p, c.n, "Too many authentication failures", 32))
                break;
            canh_set_action(ev, "ssh_max_auth_exceeded", "failure", "authentication", NULL);
            /* newer: "Disconnecting authenticating user U IP port P: Too many ..." */
            if (EAT(&c, " authenticating user ") || (EAT(&c, " invalid user ") && (invalid = 1))) {
                canh_slice_t u = token(&c);
                if (u.len)
                    canh_event_add(ev, CANH_F_USER_NAME, u);
                if (EAT(&c, " "))
                    addr_port(ev, &c);
            }
        }
        break;
    case 'r':
        if (EAT(&c, "reverse mapping checking getaddrinfo for ")) {
            canh_slice_t host = token(&c);
            canh_set_action(ev, "ssh_reverse_mapping_failed", NULL, "network", NULL);
            if (EAT(&c, " [")) {
                const char *e = memchr(c.p, ']', c.n);
                if (e)
                    canh_add_source(ev, canh_slice(c.p, (size_t)(e - c.p)));
            }
            if (host.len)
                canh_event_add(ev, CANH_F_SOURCE_DOMAIN, host);
        }
        break;
    case 'B':
        if (EAT(&c, "Bad protocol version identification ")) {
            /* the quoted banner may contain anything: use the last " from " */
            const char *last = NULL, *s = c.p;
            size_t n = c.n;
            const char *h;
            while ((h = canh_find(s, n, " from ", 6))) {
                last = h;
                n -= (size_t)(h + 1 - s);
                s = h + 1;
            }
            canh_set_action(ev, "ssh_bad_protocol", "failure", "network", NULL);
            if (last) {
                c.n -= (size_t)(last + 6 - c.p);
                c.p = last + 6;
                addr_port(ev, &c);
            }
        }
        break;
    case 'R':
        if (EAT(&c, "Received disconnect from ")) {
            canh_set_action(ev, "ssh_disconnect", NULL, "network", NULL);
            addr_port(ev, &c);
        } else if (EAT(&c, "ROOT LOGIN REFUSED FROM ")) {
            canh_set_action(ev, "ssh_root_login_refused", "failure", "authentication", NULL);
            canh_event_add(ev, CANH_F_USER_NAME, CANH_SLICE("root"));
            addr_port(ev, &c);
        }
        break;
    case 'C':
        if (EAT(&c, "Connection closed by ")) {
            canh_set_action(ev, "ssh_disconnect", NULL, "network", NULL);
            if (EAT(&c, "authenticating user ") || (EAT(&c, "invalid user ") && (invalid = 1))) {
                canh_slice_t u = token(&c);
                if (u.len)
                    canh_event_add(ev, CANH_F_USER_NAME, u);
                EAT(&c, " ");
            }
            addr_port(ev, &c);
        }
        break;
    default:
        break;
    }
    if (invalid)
        mark_invalid(ev);
    return CANH_OK;
}
