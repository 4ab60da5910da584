/*
 * engine/input/stdin.c -- standard input, the `stdin` input kind (input.h).
 *
 * Lines (framing.c, newline framing) until standard input ends; then the
 * input has ended (read says so) and the runner closes it, which hands on
 * a last line without its newline. A regular file on standard input
 * cannot be waited on: start reads it through (source_file.c) and the
 * input has no descriptor. stdin is one stream of the pipeline; each line
 * is numbered (its origin's position). The descriptor is not closed.
 *
 * Runs on the daemon's input thread (run.c's loop).
 */
#include "input.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "framing.h"
#include "source_file.h"
#include "../event.h"
#include "../pipeline.h"

#define READ_CHUNK    (64u << 10)
#define READS_PER_TURN 16          /* reads per wake-up: fairness */

typedef struct stdin_in {
    const canh_config_t *cfg;
    const canh_config_input_t *ci;
    canh_input_env_t env;
    int fd;                     /* STDIN_FILENO while it is read, else -1 */
    int framing;                /* framer initialised */
    canh_framer_t framer;
    uint64_t msgs;              /* messages fed so far (event.id) */
    /* the framer's counts, once closed */
    uint64_t messages, truncated, dropped, bad_frames, incomplete;
} stdin_in_t;

static int feed(void *ud, const char *msg, size_t len)
{
    stdin_in_t *s = ud;
    /* stdin is one stream; where it came from: the message's number */
    canh_origin_t o = { .kind = CANH_ORIGIN_STDIN, .pos = ++s->msgs };
    int rc = canh_pipeline_line_at(s->env.pl, s->env.input, 0, msg, len, &o);
    return rc == CANH_EINVAL ? rc : 0;
}

/* A regular file read through at start. */
static int stdin_line(void *ud, const char *line, size_t len)
{
    return feed(ud, line, len) != 0;
}

static int stdin_in_open(const canh_config_t *cfg, const canh_config_input_t *ci, void **self,
                         char *err, size_t errlen)
{
    stdin_in_t *s = calloc(1, sizeof(*s));
    *self = s;
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return CANH_ENOMEM;
    }
    s->cfg = cfg;
    s->ci = ci;
    s->fd = -1;
    return CANH_OK;
}

static int stdin_in_start(void *self, const canh_input_env_t *env, char *err, size_t errlen)
{
    stdin_in_t *s = self;
    s->env = *env;
    struct stat st;
    if (fstat(STDIN_FILENO, &st) == 0 && S_ISREG(st.st_mode)) {
        char ferr[256];
        canh_file_read_lines("-", stdin_line, s, NULL, ferr, sizeof(ferr));
        canh_pipeline_flush(s->env.pl);
        return CANH_OK;   /* read through: nothing to wait on */
    }
    if (canh_framer_init(&s->framer, CANH_FRAME_LF, s->cfg->limits.max_message_size,
                         s->cfg->limits.oversize == CANH_OVERSIZE_DROP
                             ? CANH_FRAME_DROP : CANH_FRAME_TRUNCATE) != CANH_OK) {
        snprintf(err, errlen, "out of memory");
        return CANH_ENOMEM;
    }
    s->framing = 1;
    fcntl(STDIN_FILENO, F_SETFL, fcntl(STDIN_FILENO, F_GETFL) | O_NONBLOCK);
    s->fd = STDIN_FILENO;
    return CANH_OK;
}

static size_t stdin_in_fds(void *self, int *fds, size_t max)
{
    stdin_in_t *s = self;
    if (!max || s->fd < 0)
        return 0;
    fds[0] = s->fd;
    return 1;
}

/* Reads what is there (a bounded amount per turn); 1 at its end or an error. */
static int stdin_in_read(void *self, int fd)
{
    stdin_in_t *s = self;
    static char buf[READ_CHUNK];
    for (int k = 0; k < READS_PER_TURN && s->fd >= 0; k++) {
        ssize_t n = read(s->fd, buf, sizeof(buf));
        if (n > 0) {
            canh_framer_feed(&s->framer, buf, (size_t)n, feed, s);
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return CANH_OK;
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            CANH_WARN("input %s: read error: %s; connection closed", s->ci->name,
                      strerror(errno));
        return 1;
    }
    return CANH_OK;
}

static void stdin_in_counts(void *self, canh_input_counts_t *c)
{
    stdin_in_t *s = self;
    c->msgs += s->messages;
    c->msgs_truncated += s->truncated;
    c->msgs_dropped += s->dropped;
    c->bad_frames += s->bad_frames;
    c->incomplete += s->incomplete;
    if (s->framing) {
        c->msgs += s->framer.messages;
        c->msgs_truncated += s->framer.truncated;
        c->msgs_dropped += s->framer.dropped;
        c->bad_frames += s->framer.bad_frames;
        c->incomplete += s->framer.incomplete;
    }
}

/* At its end the framer gives up a last line without its newline; when
 * canh is stopping, a line still arriving is counted as incomplete instead
 * (framing.h). */
static void stdin_in_close(void *self, int stopping)
{
    stdin_in_t *s = self;
    if (s->framing) {
        if (stopping)
            canh_framer_abandon(&s->framer);
        else
            canh_framer_finish(&s->framer, feed, s);
        s->messages += s->framer.messages;
        s->truncated += s->framer.truncated;
        s->dropped += s->framer.dropped;
        s->bad_frames += s->framer.bad_frames;
        s->incomplete += s->framer.incomplete;
        canh_framer_free(&s->framer);
        s->framing = 0;
    }
    s->fd = -1;   /* standard input stays open */
}

static void stdin_in_free(void *self)
{
    stdin_in_t *s = self;
    if (s && s->framing)
        canh_framer_free(&s->framer);
    free(s);
}

const canh_input_ops_t canh_input_stdin = {
    .kind = "stdin",
    .open = stdin_in_open,
    .start = stdin_in_start,
    .fds = stdin_in_fds,
    .read = stdin_in_read,
    .counts = stdin_in_counts,
    .close = stdin_in_close,
    .free = stdin_in_free,
};
