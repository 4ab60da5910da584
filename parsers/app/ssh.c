/*
 * parsers/app/ssh.c -- SSH identification strings (RFC 4253 4.2):
 * "SSH-protoversion-softwareversion SP comments CR LF", each direction.
 *
 * A direction's bytes are cut into lines (CR LF, or a bare LF as RFC 4253
 * lets implementations accept) in the direction's line buffer (fixed,
 * CANH_SSH_MAX_LINE bytes: a banner split across segments costs no
 * allocation). Lines before the one starting "SSH-" are skipped (the server
 * may send them), at most CANH_SSH_MAX_PRELINES. The banner gives
 * ssh.proto (protoversion) and ssh.software (softwareversion, without the
 * comments); after it the direction's binary packets are not looked at,
 * and once both banners are in the flow is done (CANH_APP_DONE).
 *
 * Thread: a flow's SSH state belongs to the worker that owns the flow.
 */
#include <stdlib.h>
#include <string.h>

#include "../../engine/canh.h"
#include "app_internal.h"
#include "ssh.h"

struct ssh_dir {
    char line[CANH_SSH_MAX_LINE + 1];
    size_t n;
    unsigned lines;
    int done, failed, skipping;     /* skipping: the rest of a line not kept */
};

struct canh_ssh {
    struct ssh_dir dir[2];
};

static __thread canh_ssh_counts_t ssh_counts;

canh_ssh_counts_t *canh_ssh_thread_counts(void) { return &ssh_counts; }

static const char *const ssh_error_names[] = {
#define CANH_X(e, s) s,
    CANH_SSH_ERRORS(CANH_X)
#undef CANH_X
};

const char *canh_ssh_error_name(int reason)
{
    return reason >= 0 && reason < CANH_SSH_E__COUNT ? ssh_error_names[reason] : "?";
}

static int ssh_fail(struct ssh_dir *s, int reason)
{
    s->failed = 1;
    ssh_counts.errors[reason]++;
    return CANH_EPARSE;
}

canh_ssh_t *canh_ssh_new(void)
{
    return calloc(1, sizeof(canh_ssh_t));
}

void canh_ssh_free(canh_ssh_t *s)
{
    free(s);
}

/* A whole line (no CR LF) of direction dir: the banner, or a line before it. */
static int ssh_line(canh_ssh_t *st, canh_flow_t *f, int dir, canh_app_fn fn, void *ud)
{
    struct ssh_dir *s = &st->dir[dir];
    const char *l = s->line;
    size_t n = s->n;
    if (n < 4 || memcmp(l, "SSH-", 4) != 0) {
        if (++s->lines > CANH_SSH_MAX_PRELINES)
            return ssh_fail(s, CANH_SSH_E_PRELINES);
        return CANH_OK;
    }
    /* protoversion: printable US-ASCII up to '-', no whitespace */
    size_t p = 4, pe = p;
    while (pe < n && l[pe] != '-' && l[pe] > ' ' && l[pe] < 0x7f)
        pe++;
    if (pe == p || pe >= n || l[pe] != '-')
        return ssh_fail(s, CANH_SSH_E_BANNER);
    size_t sw = pe + 1, se = sw;
    while (se < n && l[se] > ' ' && l[se] < 0x7f)
        se++;
    if (se == sw || (se < n && l[se] != ' '))
        return ssh_fail(s, CANH_SSH_E_BANNER);
    canh_app_tx_t tx;
    memset(&tx, 0, sizeof(tx));
    tx.proto = CANH_APP_SSH;
    tx.dir = dir;
    tx.buf[CANH_NB_SSH_PROTO].p = (const uint8_t *)l + p;
    tx.buf[CANH_NB_SSH_PROTO].n = pe - p;
    tx.buf[CANH_NB_SSH_SOFTWARE].p = (const uint8_t *)l + sw;
    tx.buf[CANH_NB_SSH_SOFTWARE].n = se - sw;
    s->done = 1;
    ssh_counts.banners++;
    canh_app_thread_counts()->ssh_banners++;
    if (fn)
        fn(ud, f, &tx);
    return CANH_OK;
}

int canh_ssh_stream(canh_ssh_t *st, canh_flow_t *f, int dir, const uint8_t *data, size_t len,
                    int flags, canh_app_fn fn, void *ud)
{
    dir = dir ? 1 : 0;
    struct ssh_dir *s = &st->dir[dir];
    if (s->failed)
        return CANH_EPARSE;
    if ((flags & CANH_STREAM_GAP) && !s->done) {
        /* the banner's start may be lost: give the direction up, not the flow */
        s->done = 1;
        ssh_counts.errors[CANH_SSH_E_GAP]++;
    }
    while (len > 0 && !s->done) {
        const uint8_t *nl = memchr(data, '\n', len);
        size_t take = nl ? (size_t)(nl - data) : len;
        if (s->skipping) {
            /* the rest of a long line before the banner */
        } else if (s->n + take > CANH_SSH_MAX_LINE) {
            /* a banner must fit; a longer line before it is skipped */
            size_t room = CANH_SSH_MAX_LINE - s->n;
            memcpy(s->line + s->n, data, room);
            s->n += room;
            if (memcmp(s->line, "SSH-", 4) == 0)
                return ssh_fail(s, CANH_SSH_E_LONG);
            if (++s->lines > CANH_SSH_MAX_PRELINES)
                return ssh_fail(s, CANH_SSH_E_PRELINES);
            s->skipping = 1;
        } else {
            memcpy(s->line + s->n, data, take);
            s->n += take;
        }
        if (!nl)
            break;
        data += take + 1;
        len -= take + 1;
        if (s->skipping) {
            s->skipping = 0;
            s->n = 0;
            continue;
        }
        if (s->n > 0 && s->line[s->n - 1] == '\r')
            s->n--;
        s->line[s->n] = 0;
        int rc = ssh_line(st, f, dir, fn, ud);
        if (rc != CANH_OK)
            return rc;
        if (!s->done)
            s->n = 0;
    }
    if ((flags & CANH_STREAM_END) && !s->done && s->n > 0 && !s->skipping) {
        /* a banner without its line end, the direction closed */
        if (s->line[s->n - 1] == '\r')
            s->n--;
        s->line[s->n] = 0;
        int rc = ssh_line(st, f, dir, fn, ud);
        if (rc != CANH_OK)
            return rc;
    }
    return st->dir[0].done && st->dir[1].done ? CANH_APP_DONE : CANH_OK;
}

static void *ssh_state_new(const canh_app_opts_t *o) { return canh_ssh_new(); }
static void ssh_state_free(void *st) { canh_ssh_free(st); }
static int ssh_stream(void *st, canh_flow_t *f, int dir, const uint8_t *data, size_t len,
                      int flags, canh_app_fn fn, void *ud)
{
    return canh_ssh_stream(st, f, dir, data, len, flags, fn, ud);
}

const canh_app_parser_t canh_app_ssh_parser = {
    .proto = CANH_APP_SSH, .name = "ssh",
    .state_new = ssh_state_new, .state_free = ssh_state_free,
    .stream = ssh_stream, .datagram = NULL,
};
