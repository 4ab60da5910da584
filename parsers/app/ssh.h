/*
 * parsers/app/ssh.h -- SSH identification strings (RFC 4253 4.2) both
 * ways: ssh.proto and ssh.software (ssh.c).
 *
 * The typed entry points behind canh_app_ssh_parser (app_internal.h). One canh_ssh_t per
 * flow keeps each direction's line so far (a banner split across segments)
 * and the banner the transaction points at (valid until the next call).
 * Lines before the banner are skipped (bounded: CANH_SSH_MAX_PRELINES lines
 * of at most CANH_SSH_MAX_LINE bytes); after the banner the direction's
 * binary packets are not looked at.
 *
 * Thread: a flow's SSH state belongs to the worker that owns the flow.
 */
#ifndef CANH_APP_SSH_H
#define CANH_APP_SSH_H

#include <stddef.h>
#include <stdint.h>

#include "app.h"

#define CANH_SSH_MAX_LINE 255            /* RFC 4253: 255 with CR LF */
#define CANH_SSH_MAX_PRELINES 32

typedef struct canh_ssh canh_ssh_t;

canh_ssh_t *canh_ssh_new(void);          /* NULL on ENOMEM */
void canh_ssh_free(canh_ssh_t *s);

/* In-order TCP bytes of one direction: fn once with the banner's
 * transaction. CANH_OK; CANH_APP_DONE once both directions are done
 * (banner in, or bytes lost before it: CANH_STREAM_GAP, counted);
 * CANH_EPARSE when no banner came within the bounds
 * or it is malformed (counted): the direction is not parsed again. */
int canh_ssh_stream(canh_ssh_t *s, canh_flow_t *f, int dir, const uint8_t *data, size_t len,
                    int flags, canh_app_fn fn, void *ud);


#define CANH_SSH_ERRORS(X)                                                    \
    X(LONG,      "line_too_long")   /* a line over CANH_SSH_MAX_LINE */     \
    X(PRELINES,  "too_many_lines")  /* no banner in the first lines */      \
    X(BANNER,    "bad_banner")      /* "SSH-" without proto-software */     \
    X(GAP,       "gap")             /* bytes lost before the banner: given up */
enum {
#define CANH_X(e, s) CANH_SSH_E_##e,
    CANH_SSH_ERRORS(CANH_X)
#undef CANH_X
    CANH_SSH_E__COUNT
};
typedef struct canh_ssh_counts {
    uint64_t banners, errors[CANH_SSH_E__COUNT];
} canh_ssh_counts_t;
canh_ssh_counts_t *canh_ssh_thread_counts(void);
const char *canh_ssh_error_name(int reason);

#endif
