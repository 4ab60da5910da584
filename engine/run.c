/*
 * engine/run.c -- canh run: the daemon's input loop.
 *
 * This thread drives every input (engine/input/: sockets, capture handles,
 * followed files, Kafka, stdin) and watches a signalfd, all in one epoll
 * set. Each message an input reads is fed to the pipeline (pipeline.c),
 * whose workers parse and match and write alerts in arrival order. When
 * every batch is busy, feeding waits, so this loop stops reading and TCP
 * senders wait too: nothing accepted is dropped. A
 * partly filled batch is handed on after IDLE_FLUSH_MS so alerts are not
 * held back on a quiet link. The audit records of one connection, file or
 * UDP sender are handed on together (canh_pipeline_line_from).
 *
 * Start-up order, for least privilege (priv.c): the folders and files
 * canh writes are made for the configured user, the network inputs'
 * sockets bound, the capture handles of pcap inputs opened (CAP_NET_RAW)
 * and the TLS keys read (what needs root), then canh
 * switches to that user with no capability, checks that it can write
 * what was already there, and only then loads the rules and starts the
 * pipeline's threads (which inherit the switch). TCP sockets listen once
 * the pipeline is up. Everything after -- reloads, reopening, offsets,
 * the spool, Kafka -- runs as that user.
 *
 * SIGTERM and SIGINT stop the loop: listeners close, what each connection's
 * socket already holds is read, a message still arriving is counted as
 * incomplete, and the pipeline processes everything accepted before canh
 * exits 0.
 *
 * SIGHUP reloads the rules: a reload thread loads and compiles the new set
 * beside the running one (through the Hyperscan cache, so an unchanged set
 * is not recompiled), with the Sigma filters among them and the
 * suppression list (read again from canh.yml's `suppress:`, bound to the
 * new set), and wakes this loop through an eventfd; the loop then hands
 * set and list to the pipeline in one step (workers take them at their
 * next batch). A set that cannot be loaded, that refuses a rule (or has a
 * filter problem) the running set did not, or whose suppression list has a
 * bad entry, is itself refused: the running set and list stay, and the
 * refusal is logged and counted. A SIGHUP during a reload queues one more.
 *
 * SIGUSR1, and SIGHUP too, reopen the alerts and stats files by their
 * paths (logrotate's `create` mode: the old file was renamed, the new one
 * is written from here on). The new file takes the old one's descriptor
 * (dup3) under the alerts stream's lock, after a flush and a sync: the
 * workers keep their FILE, an alert is in one file or the other, whole,
 * never in both.
 *
 * Every outputs.stats.interval, and once at exit, a stats record (one
 * JSON line of running totals) goes to outputs.stats.path, and a one-line
 * summary of it to the log.
 *
 * Inputs behind input/input.h's table (udp, tcp, tls and pcap, in
 * engine/input/) are one source each (SRC_INPUT): opened before the
 * switch of user, their descriptors in the epoll set, read when ready,
 * their housekeeping once a second, their counts in the stats record,
 * drained and closed at the stop. A tcp or tls input keeps its listener
 * and connections in an epoll set of its own (input/tcp.c), which this
 * loop waits on.
 *
 * Followed files (input/follow.c) are read on inotify wake-ups and every
 * FOLLOW_POLL_MS, at most FOLLOW_BUDGET bytes per file input per turn.
 * Their offsets are saved to state_dir about once a second, under load
 * too, once the lines before them are processed and their alerts are on
 * disk (follow_save), and at exit: after a crash, lines since the last
 * save are read again.
 */
#include "run.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>
#include <pcap/pcap.h>

#include "input/follow.h"
#include "input/input.h"
#include "input/kafka.h"
#include "load.h"
#include "pipeline.h"
#include "priv.h"
#include "../sinks/alert.h"
#include "../sinks/kafka.h"

#define IDLE_FLUSH_MS 100
#define MAX_EVENTS    256
#define FOLLOW_POLL_MS 250
#define FOLLOW_BUDGET (1u << 20)   /* bytes per file input per turn */
#define HOUSEKEEP_MS  1000
#define KAFKA_BUDGET  4096         /* messages per Kafka input per turn */
#define KAFKA_DRAIN_MS 60000       /* a rebalance waits this long for the pipeline */
#define KAFKA_COMMIT_MS 200        /* Kafka inputs commit what is written this often: little
                                    * is uncommitted when a rebalance or a crash comes */

enum { SRC_SIGNAL, SRC_RELOAD, SRC_FOLLOW, SRC_KAFKA,
       SRC_INPUT /* a kind behind input/input.h's table (udp, tcp, tls, stdin, pcap) */ };

typedef struct runner runner_t;

/* Frames captured on a pcap input go to the packet path (pipeline.h:
 * decoded, spread over the workers by flow, matched); a frame waits there
 * while every batch is busy, and what the kernel drops meanwhile is in the
 * input's capture counts (libpcap's). */
typedef struct capture {
    runner_t *r;
    uint32_t input;
    uint64_t frames;            /* numbered from 1, as in a capture file */
} capture_t;


/*
 * A loaded rule set and what it refused ("FILE\tID", sorted), so that a
 * reload can tell a newly refused rule. Freed by the pipeline's release.
 */
typedef struct ruleset_box {
    canh_load_result_t lr;
    canh_nids_t *nids;      /* the network rules among them, compiled; NULL: none */
    char **refused;
    size_t nrefused, cap;
} ruleset_box_t;

/* The reload thread's job and answer. */
typedef struct reload {
    pthread_t th;
    int running;             /* a thread is loading */
    int again;               /* SIGHUP while loading: one more after this one */
    int efd;                 /* eventfd: the thread is done */
    ruleset_box_t *box;      /* its result, or NULL */
    char err[512];
    double seconds;
    uint64_t ok, refused;    /* counted */
} reload_t;

typedef struct src {
    int kind;
    int fd;
    uint32_t input;             /* pipeline input */
    const canh_config_input_t *cfg;
    runner_t *r;
    canh_follow_t *follow;      /* SRC_FOLLOW (owned); fd is its inotify fd or -1 */
    int follow_more;            /* SRC_FOLLOW, SRC_KAFKA: data left after the last turn */
    int marked;                 /* SRC_FOLLOW: 0 no mark; 1 marked, its lines on their
                                   way; 2 they are written: the mark may be saved */
    uint64_t mark_fed;          /* the input's fed lines at the mark */
    canh_kafka_in_t *kin;       /* SRC_KAFKA (owned); fd is a dup of its eventfd */
    uint64_t kafka_truncated, kafka_dropped;
    /* SRC_INPUT: fd is the input's (it closes it) */
    const canh_input_ops_t *ops;
    void *self;                 /* its state (owned, freed at the end) */
    struct src *next;           /* all sources, for shutdown */
} src_t;

struct runner {
    const canh_config_t *cfg;
    canh_pipeline_t *pl;
    int ep;
    src_t *all;
    size_t open_inputs;         /* inputs still open (stdin may end) */
    int stop;                   /* the signal that stops us; -1: every input ended */
    canh_input_shared_t shared; /* what the inputs share (input.h) */
    FILE *stats_out;            /* outputs.stats.path, or NULL */
    FILE *alerts_out;           /* outputs.alerts.path, or NULL */
    int64_t next_mark;          /* when file offsets are marked next (follow_save) */
    int64_t started_ms;
    uint64_t started_ns;        /* wall clock: tells this run's senders from an earlier run's (event.id) */
    const canh_run_rules_t *rules;
    const char *state_dir;      /* usable, or NULL */
    ruleset_box_t *running;     /* the set last handed to the pipeline */
    src_t **follows;            /* the file inputs */
    size_t nfollows;
    src_t **kafkas;             /* the Kafka inputs */
    size_t nkafkas;
    src_t **tabled;             /* by input: one driven through input/input.h, or NULL */
    struct capture *captures;   /* by input: a pcap input's frames into the packet path */
    canh_kafka_sink_t *ksink;   /* outputs.kafka, or NULL (also once closed) */
    int kafka_closed;           /* at the stop: the sink's last counts are these */
    canh_kafka_counts_t kafka_final;
    canh_kafka_in_counts_t *kafka_in_final;   /* per Kafka input, once closed */
    reload_t reload;
    int64_t next_stats;         /* when the next stats record is due */
    uint64_t stats_failed;      /* stats records not written, since the last one that was */
};

/* ---- reopening the output files (logrotate) ------------------------------- */

/*
 * `out` (opened on `path` in append mode) is written from now on to the
 * file at `path`, created with `mode` if it is not there, never through
 * a symbolic link (canh_open_output). What was written before is flushed
 * and synced to the old file first; a worker writing a batch holds the
 * stream's lock, so a batch goes wholly to one file. On failure the old
 * file stays.
 */
static void reopen_one(FILE *out, const char *path, unsigned mode, const char *what)
{
    int nfd = canh_open_output(path, 1, mode);
    if (nfd < 0) {
        CANH_WARN("cannot reopen the %s file %s: %s; writing on to the old file", what, path,
                  canh_open_strerror(errno));
        return;
    }
    flockfile(out);
    int ok = fflush_unlocked(out) == 0;
    fdatasync(fileno(out));   /* the old file's alerts on disk before saved offsets */
    if (ok && dup3(nfd, fileno(out), O_CLOEXEC) < 0)
        ok = 0;
    funlockfile(out);
    if (!ok)
        CANH_WARN("cannot reopen the %s file %s: %s; writing on to the old file", what, path,
                  strerror(errno));
    close(nfd);
}

/* An output file opened for appending as a stream (canh_open_output), or
 * NULL with errno. */
static FILE *open_output(const char *path, int mode)
{
    int fd = canh_open_output(path, 1, (unsigned)mode);
    FILE *f = fd >= 0 ? fdopen(fd, "a") : NULL;
    if (!f && fd >= 0) {
        int e = errno;
        close(fd);
        errno = e;
    }
    return f;
}

static void reopen_outputs(runner_t *r, int sig)
{
    const char *apath = r->cfg->outputs.alerts_path, *spath = r->cfg->outputs.stats_path;
    int alerts = r->alerts_out && r->alerts_out != stdout;
    int stats = r->stats_out && r->stats_out != stdout;
    if (alerts)
        reopen_one(r->alerts_out, apath, (unsigned)r->cfg->outputs.alerts_mode, "alerts");
    if (stats)
        reopen_one(r->stats_out, spath, (unsigned)r->cfg->outputs.stats_mode, "stats");
    if (alerts || stats)
        CANH_INFO("%s: reopened %s%s%s", sig == SIGHUP ? "SIGHUP" : "SIGUSR1",
                  alerts ? apath : "", alerts && stats ? " and " : "", stats ? spath : "");
}

/* ---- rule sets and reload ----------------------------------------------- */

static void box_free(ruleset_box_t *b)
{
    if (!b)
        return;
    canh_nids_free(b->nids);
    canh_load_result_free(&b->lr);
    for (size_t i = 0; i < b->nrefused; i++)
        free(b->refused[i]);
    free(b->refused);
    free(b);
}

static void box_release(void *ud, const canh_ruleset_t *rs)
{
    box_free(ud);
}

static void on_refused(void *ud, const char *file, int line, const char *id, const char *reason)
{
    ruleset_box_t *b = ud;
    CANH_WARN("rule refused: %s:%d: %s: %s", file, line, id ? id : "-", reason);
    if (b->nrefused == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 16;
        char **v = realloc(b->refused, cap * sizeof(*v));
        if (!v)
            return;
        b->refused = v;
        b->cap = cap;
    }
    char *key;
    if (asprintf(&key, "%s\t%s", file, id ? id : "-") >= 0)
        b->refused[b->nrefused++] = key;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void on_suppress_msg(void *ud, int error, const char *text)
{
    if (error)
        CANH_ERR("suppression list: %s", text);
    else
        CANH_WARN("suppression list: %s", text);
}

static ruleset_box_t *rules_load(const canh_run_rules_t *rr, char *err, size_t errlen)
{
    ruleset_box_t *b = calloc(1, sizeof(*b));
    if (!b) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (canh_load_rules_net(rr->paths, rr->npaths, rr->fieldmap, rr->cache_dir, rr->nids_vars,
                            on_refused, b, &b->lr, err, errlen) != CANH_OK) {
        box_free(b);
        return NULL;
    }
    canh_nids_opts_t no = { .cache_dir = rr->cache_dir,
                            .pcre2_match_limit = rr->pcre2_match_limit,
                            .pcre2_depth_limit = rr->pcre2_depth_limit };
    if (b->lr.nids.n &&
        canh_nids_build(&b->nids, &b->lr.nids, &no, on_refused, b, err, errlen) != CANH_OK) {
        box_free(b);
        return NULL;
    }
    if (!b->lr.loaded && !b->nids) {
        snprintf(err, errlen, "no rule could be loaded from the rule paths");
        box_free(b);
        return NULL;
    }
    /* the list goes with the rules it is bound to: a bad one refuses the set */
    if (rr->suppress && canh_load_suppress(&b->lr, rr->suppress, canh_now_ms(), on_suppress_msg,
                                           NULL, err, errlen) != CANH_OK) {
        box_free(b);
        return NULL;
    }
    if (b->nrefused)
        qsort(b->refused, b->nrefused, sizeof(*b->refused), cmp_str);
    return b;
}

static void *reload_main(void *arg)
{
    runner_t *r = arg;
    int64_t t0 = canh_mono_ns();
    r->reload.err[0] = '\0';
    r->reload.box = rules_load(r->rules, r->reload.err, sizeof(r->reload.err));
    r->reload.seconds = (double)(canh_mono_ns() - t0) / 1e9;
    uint64_t one = 1;
    if (write(r->reload.efd, &one, sizeof(one)) != sizeof(one))
        CANH_ERR("reload: cannot wake the input loop: %s", strerror(errno));
    return NULL;
}

static void reload_start(runner_t *r)
{
    if (r->reload.running) {
        r->reload.again = 1;
        return;
    }
    CANH_INFO("SIGHUP: reloading the rules");
    if (pthread_create(&r->reload.th, NULL, reload_main, r) != 0) {
        r->reload.refused++;
        CANH_ERR("reload refused: cannot start the reload thread: %s", strerror(errno));
        return;
    }
    r->reload.running = 1;
}

/* The reload thread is done: swap its set in, or refuse it. */
static void reload_done(runner_t *r)
{
    uint64_t v;
    if (read(r->reload.efd, &v, sizeof(v)) != sizeof(v) || !r->reload.running)
        return;
    pthread_join(r->reload.th, NULL);
    r->reload.running = 0;
    ruleset_box_t *b = r->reload.box, *old = r->running;
    r->reload.box = NULL;
    const char *why = b ? NULL : r->reload.err;
    for (size_t i = 0; b && i < b->nrefused && !why; i++)
        if (!old->nrefused ||
            !bsearch(&b->refused[i], old->refused, old->nrefused, sizeof(char *), cmp_str))
            why = "a rule is refused that the running set did not refuse (see above)";
    if (!why && canh_pipeline_set_rules(r->pl, b->lr.rules, b->lr.suppress, b->nids, b) !=
                    CANH_OK)
        why = "out of memory";
    if (why) {
        r->reload.refused++;
        CANH_ERR("reload refused, the running rules stay: %s", why);
        box_free(b);
    } else {
        r->reload.ok++;
        r->running = b;
        CANH_INFO("rules reloaded in %.2f s: %zu rules, %zu refused; %zu suppression entries",
                  r->reload.seconds, b->lr.loaded, b->lr.refused,
                  canh_suppress_entries(b->lr.suppress));
    }
    if (r->reload.again) {
        r->reload.again = 0;
        reload_start(r);
    }
}

static src_t *src_new(runner_t *r, int kind, int fd, uint32_t input, const canh_config_input_t *ci)
{
    src_t *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->kind = kind;
    s->fd = fd;
    s->input = input;
    s->cfg = ci;
    s->r = r;
    struct epoll_event ev = { .events = EPOLLIN, .data.ptr = s };
    if (epoll_ctl(r->ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
        free(s);
        return NULL;
    }
    s->next = r->all;
    r->all = s;
    if (kind == SRC_FOLLOW || kind == SRC_KAFKA || kind == SRC_INPUT)
        r->open_inputs++;
    return s;
}

/*
 * Closes a source. An input behind the table closes its own descriptors:
 * at the stop it hands on what it already accepted first (stopping), when
 * it ended by itself a last message without its end (input.h).
 */
static void src_close(runner_t *r, src_t *s, int stopping)
{
    if (s->fd < 0)
        return;
    epoll_ctl(r->ep, EPOLL_CTL_DEL, s->fd, NULL);
    if (s->kind == SRC_INPUT) {
        s->ops->close(s->self, stopping);
        if (r->captures[s->input].r)   /* a capture: its flows end with it */
            canh_pipeline_packets_end(r->pl, s->input);
    } else
        close(s->fd);
    if (s->kind == SRC_FOLLOW || s->kind == SRC_KAFKA || s->kind == SRC_INPUT)
        r->open_inputs--;
    s->fd = -1;
}

/*
 * What needs root is done first, before canh switches user (priv.c): the
 * inputs behind the table are opened: the network inputs' sockets bound (a
 * port below 1024 needs root), the TLS certificates and keys read (a key is
 * often readable by root only), capture handles opened (CAP_NET_RAW). They
 * start when the pipeline is up (tabled_input); what did not start is
 * freed by listeners_free.
 */
typedef struct listeners {
    void **in;                  /* per input: one opened through input/input.h, or NULL */
    const canh_config_t *cfg;
    size_t n;
} listeners_t;

static void listeners_free(listeners_t *l)
{
    for (size_t i = 0; i < l->n; i++) {
        if (l->in[i]) {
            const canh_input_ops_t *ops = canh_input_ops(l->cfg->inputs[i].type);
            ops->close(l->in[i], 0);
            ops->free(l->in[i]);
        }
    }
    free(l->in);
    *l = (listeners_t){ 0 };
}

static int open_listeners(const canh_config_t *cfg, listeners_t *l, char *err, size_t errlen)
{
    l->in = calloc(cfg->ninputs + 1, sizeof(*l->in));
    l->cfg = cfg;
    if (!l->in) {
        snprintf(err, errlen, "out of memory");
        listeners_free(l);
        return CANH_ENOMEM;
    }
    l->n = cfg->ninputs;
    for (size_t i = 0; i < cfg->ninputs; i++) {
        const canh_config_input_t *ci = &cfg->inputs[i];
        const canh_input_ops_t *ops = canh_input_ops(ci->type);
        int rc;
        /* sockets, keys, capture handles: opened as root, kept after the switch */
        if (ops && (rc = ops->open(cfg, ci, &l->in[i], err, errlen)) != CANH_OK) {
            listeners_free(l);
            return rc;
        }
    }
    return CANH_OK;
}

/* ---- inputs behind input/input.h's table (pcap) --------------------------- */

/* A pcap input's frame (capture_t above), from the input's read. */
static void on_frame(void *ud, int dlt, const struct pcap_pkthdr *h, const uint8_t *bytes)
{
    capture_t *c = ud;
    int64_t ts = (int64_t)h->ts.tv_sec * 1000000 + h->ts.tv_usec;
    canh_pipeline_packet(c->r->pl, c->input, dlt, ts, bytes, h->caplen, h->len, ++c->frames);
}

/* An input open_listeners opened through its table: started (the pipeline
 * is up, canh runs as its user), its descriptors in the epoll set. */
static int tabled_input(runner_t *r, const canh_config_input_t *ci, uint32_t input, void *self,
                        char *err, size_t errlen)
{
    const canh_input_ops_t *ops = canh_input_ops(ci->type);
    canh_input_env_t env = { .shared = &r->shared, .pl = r->pl, .started_ns = r->started_ns,
                             .input = input };
    if (ci->type == CANH_INPUT_PCAP) {
        r->captures[input] = (capture_t){ r, input, 0 };
        env.frame = on_frame;
        env.frame_ud = &r->captures[input];
        if (canh_pipeline_capture(r->pl, input, ci->interface, 1) != CANH_OK) {
            snprintf(err, errlen, "input %s: out of memory", ci->name);
            return CANH_ENOMEM;
        }
    }
    int rc = ops->start(self, &env, err, errlen);
    int fds[CANH_INPUT_MAX_FDS];
    size_t nfds = rc == CANH_OK ? ops->fds(self, fds, CANH_INPUT_MAX_FDS) : 0;
    src_t *s = nfds ? src_new(r, SRC_INPUT, fds[0], input, ci) : NULL;
    if (!s) {   /* failed, or done already (stdin from a regular file) */
        if (rc == CANH_OK && nfds) {
            snprintf(err, errlen, "input %s: cannot wait on it: %s", ci->name,
                     strerror(errno));
            rc = CANH_EIO;
        }
        ops->close(self, 0);
        ops->free(self);
        return rc;
    }
    s->ops = ops;
    s->self = self;
    r->tabled[input] = s;
    for (size_t k = 1; k < nfds; k++) {   /* more descriptors: the same source */
        struct epoll_event ev = { .events = EPOLLIN, .data.ptr = s };
        if (epoll_ctl(r->ep, EPOLL_CTL_ADD, fds[k], &ev) != 0) {
            snprintf(err, errlen, "input %s: cannot wait on it: %s", ci->name, strerror(errno));
            return CANH_EIO;   /* closed with the others */
        }
    }
    return CANH_OK;
}

/* ---- followed files ------------------------------------------------------ */

static int follow_line(void *ud, const char *line, size_t len)
{
    src_t *s = ud;
    uintptr_t stream = (uintptr_t)canh_follow_current(s->follow);   /* a file: one stream */
    canh_origin_t o = { .kind = CANH_ORIGIN_FILE };   /* the file and the line's offset */
    canh_follow_current_origin(s->follow, &o.name, &o.ident[0], &o.ident[1], &o.pos);
    o.name_len = o.name ? strlen(o.name) : 0;
    return canh_pipeline_line_at(s->r->pl, s->input, stream, line, len, &o) == CANH_EINVAL ? -1
                                                                                           : 0;
}

static int follow_input(runner_t *r, const canh_config_input_t *ci, uint32_t input,
                        char *err, size_t errlen)
{
    canh_follow_opts_t fo = {
        .name = ci->name, .patterns = (const char *const *)ci->paths.v,
        .npatterns = ci->paths.n, .state_dir = r->state_dir,
        .start_at_beginning = ci->start_at == CANH_START_BEGINNING,
        .max_msg = r->cfg->limits.max_message_size,
        .oversize = r->cfg->limits.oversize == CANH_OVERSIZE_DROP ? CANH_FRAME_DROP
                                                                  : CANH_FRAME_TRUNCATE,
    };
    char ferr[400];
    canh_follow_t *f = canh_follow_new(&fo, ferr, sizeof(ferr));
    if (!f) {
        snprintf(err, errlen, "%s:%d: %s", r->cfg->path, ci->line, ferr);
        return CANH_EINVAL;
    }
    /* epoll watches a descriptor of our own: a dup of the follower's
     * inotify one, or (no inotify) an eventfd that never fires, so the
     * timer alone drives it */
    int ifd = canh_follow_fd(f);
    int fd = ifd >= 0 ? fcntl(ifd, F_DUPFD_CLOEXEC, 0) : eventfd(0, EFD_CLOEXEC);
    src_t *s = fd >= 0 ? src_new(r, SRC_FOLLOW, fd, input, ci) : NULL;
    if (!s) {
        snprintf(err, errlen, "input %s: cannot watch its files: %s", ci->name, strerror(errno));
        if (fd >= 0)
            close(fd);
        canh_follow_free(f);
        return CANH_EIO;
    }
    s->follow = f;
    s->follow_more = 1;   /* read what is there now */
    r->follows[r->nfollows++] = s;
    CANH_INFO("input %s: following %zu path%s", ci->name, ci->paths.n,
              ci->paths.n == 1 ? "" : "s");
    return CANH_OK;
}

/* One turn of a file input: what is new, up to FOLLOW_BUDGET bytes. */
static void follow_turn(src_t *s)
{
    if (s->fd >= 0)
        s->follow_more = canh_follow_poll(s->follow, follow_line, s, FOLLOW_BUDGET) == 1;
}

/* ---- Kafka inputs ---- */

/* One message: as long as limits allow (cut or dropped, counted; a dropped
 * one still takes its line, empty, so line numbers match offsets). Each
 * message key is one stream (producers key by host), so one host's audit
 * records stay together; messages without a key are one stream. Offsets
 * are committed up to canh_pipeline_done_fed, so a held record holds its
 * offset back. */
static int kafka_line(void *ud, const char *msg, size_t len, const void *key, size_t keylen,
                      const char *topic, int32_t partition, int64_t offset)
{
    src_t *s = ud;
    size_t max = s->r->cfg->limits.max_message_size;
    if (len > max) {
        if (s->r->cfg->limits.oversize == CANH_OVERSIZE_DROP) {
            s->kafka_dropped++;
            len = 0;
        } else {
            s->kafka_truncated++;
            len = max;
        }
    }
    uintptr_t stream = key ? canh_stream_key(key, keylen) : 0;
    canh_origin_t o = { .kind = CANH_ORIGIN_KAFKA, .name = topic,
                        .name_len = topic ? strlen(topic) : 0,
                        .ident = { (uint64_t)partition, 0 }, .pos = (uint64_t)offset };
    return canh_pipeline_line_at(s->r->pl, s->input, stream, msg, len, &o) == CANH_EINVAL;
}

/* A rebalance takes partitions away: everything fed is processed first. */
static uint64_t kafka_drain(void *ud)
{
    src_t *s = ud;
    canh_pipeline_t *pl = s->r->pl;
    canh_pipeline_drain(pl, KAFKA_DRAIN_MS);
    uint64_t fed = canh_pipeline_fed_lines(pl, s->input);
    uint64_t w = canh_pipeline_done_fed(pl, s->input);
    if (w < fed)
        CANH_WARN("input %s: %llu messages still in the pipeline after %d s; their offsets "
                  "are not committed (another member reads them again)", s->cfg->name,
                  (unsigned long long)(fed - w), KAFKA_DRAIN_MS / 1000);
    return w;
}

static uint64_t kafka_written(void *ud)
{
    src_t *s = ud;
    return canh_pipeline_done_fed(s->r->pl, s->input);
}

/* Before a commit: the alerts of what is committed survive a crash. */
static void kafka_sync(void *ud)
{
    src_t *s = ud;
    if (s->r->ksink)
        canh_kafka_sink_sync(s->r->ksink);
}

static int kafka_input(runner_t *r, const canh_config_input_t *ci, uint32_t input,
                       char *err, size_t errlen)
{
    canh_kafka_in_t *k;
    char kerr[400];
    if (canh_kafka_in_open(&k, ci, kerr, sizeof(kerr)) != CANH_OK) {
        snprintf(err, errlen, "%s:%d: %s", r->cfg->path, ci->line, kerr);
        return CANH_EINVAL;
    }
    int fd = fcntl(canh_kafka_in_fd(k), F_DUPFD_CLOEXEC, 0);
    src_t *s = fd >= 0 ? src_new(r, SRC_KAFKA, fd, input, ci) : NULL;
    if (!s) {
        snprintf(err, errlen, "input %s: cannot watch the consumer: %s", ci->name,
                 strerror(errno));
        if (fd >= 0)
            close(fd);
        canh_kafka_in_close(k, 0, NULL);
        return CANH_EIO;
    }
    canh_kafka_in_hooks_t h = { .ud = s, .line = kafka_line, .drain = kafka_drain,
                                .written = kafka_written, .sync = kafka_sync };
    canh_kafka_in_set_hooks(k, &h);
    s->kin = k;
    s->follow_more = 1;
    r->kafkas[r->nkafkas++] = s;
    CANH_INFO("input %s: reading %zu topic%s from %s as a member of group %s", ci->name,
              ci->topics.n, ci->topics.n == 1 ? "" : "s", ci->brokers, ci->group);
    return CANH_OK;
}

/*
 * File offsets are saved in two steps, so that they are saved under
 * constant load too: a mark notes the offsets and how many lines of the
 * input were given by then; once every one of those lines is written (its
 * alerts in the alerts file and the Kafka spool), the mark is written to
 * the state file. Offsets are never ahead of the alerts: the alerts file
 * and the spool are synced to disk first. Called once a second from the
 * loop and every WAITING_MS while the inputs wait for the pipeline (a
 * follower may then be in the middle of its turn: its offsets stop before
 * the line being handed over, which the mark's fed count includes, so the
 * mark errs on the safe side); marks are taken at most once a second. And
 * at the stop (final: the pipeline has finished, everything given is
 * written).
 */
static void follow_save(runner_t *r, int final)
{
    int64_t now = canh_mono_ms();
    int take_marks = now >= r->next_mark;
    if (take_marks)
        r->next_mark = now + HOUSEKEEP_MS;
    int ready = 0;
    for (size_t i = 0; i < r->nfollows; i++) {
        src_t *s = r->follows[i];
        if (final) {
            s->marked = 2;   /* canh_follow_save marks anew */
            ready = 1;
            continue;
        }
        if (!s->marked && take_marks && canh_follow_mark(s->follow)) {
            s->marked = 1;
            s->mark_fed = canh_pipeline_fed_lines(r->pl, s->input);
        }
        if (s->marked == 1 && canh_pipeline_done_fed(r->pl, s->input) >= s->mark_fed)
            s->marked = 2, ready = 1;
    }
    if (!ready)
        return;
    if (r->ksink)
        canh_kafka_sink_sync(r->ksink);
    if (r->alerts_out && r->alerts_out != stdout)
        fdatasync(fileno(r->alerts_out));   /* a pipe or a terminal: nothing to sync */
    for (size_t i = 0; i < r->nfollows; i++) {
        src_t *s = r->follows[i];
        if (s->marked != 2)
            continue;
        s->marked = 0;
        char err[400];
        if ((final ? canh_follow_save(s->follow, err, sizeof(err))
                   : canh_follow_write_mark(s->follow, err, sizeof(err))) != CANH_OK)
            CANH_WARN("%s", err);   /* err names the input */
    }
}

/*
 * Once a second: the inputs' housekeeping (input/tcp.c closes connections
 * past a deadline), file offsets saved. (Kafka inputs commit every
 * KAFKA_COMMIT_MS, in the loop.)
 */
static void housekeep(runner_t *r)
{
    int64_t now = canh_mono_ms();
    for (src_t *s = r->all; s; s = s->next)
        if (s->kind == SRC_INPUT && s->fd >= 0 && s->ops->housekeep)
            s->ops->housekeep(s->self, now);
    follow_save(r, 0);
}

/*
 * One stats record (a JSON line): what the workers published, plus the
 * inputs' own counters (open sources counted live, closed ones as summed
 * when they closed), the queue and the rules. Every figure is a running
 * total.
 */
/* The inputs' counters so far: sources closed (summed as they closed)
 * plus those still open. */
typedef struct totals {
    uint64_t udp_rx, udp_drop, udp_trunc;
    uint64_t msgs, trunc, drop, bad, incomplete;
    size_t conns;
    uint64_t accepted, refused, tls_refused, tls_timeouts;
} totals_t;

/* What the inputs behind the table say of themselves (open or closed:
 * their counts stay until the end). */
static canh_input_counts_t tabled_counts(const runner_t *r)
{
    canh_input_counts_t c = { 0 };
    for (size_t i = 0; i < r->cfg->ninputs; i++)
        if (r->tabled[i] && r->tabled[i]->ops->counts)
            r->tabled[i]->ops->counts(r->tabled[i]->self, &c);
    return c;
}

static void input_totals(const runner_t *r, totals_t *t)
{
    canh_input_counts_t c = tabled_counts(r);
    *t = (totals_t){ c.dgram_received, c.dgram_dropped, c.dgram_truncated, c.msgs,
                     c.msgs_truncated, c.msgs_dropped, c.bad_frames, c.incomplete,
                     c.conns_open, c.conns_accepted, c.conns_refused, c.tls_refused,
                     c.tls_timeouts };
}

/* Alerts of this level and above are threats (outputs.stats.threat_level). */
static canh_level_t threat_level(const runner_t *r)
{
    return (canh_level_t)(CANH_LEVEL_INFORMATIONAL + r->cfg->outputs.stats_threat_level);
}

/*
 * One stats record to f, whole or not at all: written with write(2) under
 * the stream's lock (a reopen swaps its descriptor under that lock), and
 * what a failed write left of it (a full disk) is cut off again, so that
 * the file stays one JSON object per line. -1 with errno: not written.
 */
static int write_record(FILE *f, const char *p, size_t len)
{
    flockfile(f);
    int fd = fileno(f), e = 0;
    size_t at = 0;
    while (at < len) {
        ssize_t n = write(fd, p + at, len - at);
        if (n > 0) {
            at += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        e = n < 0 ? errno : ENOSPC;
        break;
    }
    struct stat st;
    if (e && at && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (size_t)st.st_size >= at &&
        ftruncate(fd, st.st_size - (off_t)at) != 0)
        CANH_WARN("a stats record could not be cut off after a failed write: %s", strerror(errno));
    funlockfile(f);
    errno = e;
    return e ? -1 : 0;
}

static void write_stats(runner_t *r, int final)
{
    if (!r->stats_out && !(r->ksink && r->cfg->outputs.kafka.stats_topic))
        return;
    canh_pipeline_counts_t c;
    canh_pipeline_counts(r->pl, &c);
    totals_t t;
    input_totals(r, &t);
    canh_follow_counts_t fc = { 0 };
    for (size_t i = 0; i < r->nfollows; i++) {
        canh_follow_counts_t one;
        canh_follow_counts(r->follows[i]->follow, &one);
        fc.files += one.files;
        fc.lines += one.lines;
        fc.bytes += one.bytes;
        fc.rotations += one.rotations;
        fc.truncations += one.truncations;
        fc.truncated += one.truncated;
        fc.dropped += one.dropped;
        fc.read_errors += one.read_errors;
        fc.save_errors += one.save_errors;
    }
    uint64_t held = 0;   /* audit records held back, not yet in events_in */
    for (size_t i = 0; i < r->cfg->ninputs; i++)
        held += canh_pipeline_held_lines(r->pl, (uint32_t)i);
    /* this thread's CPU: reading the inputs, framing, feeding, stats */
    double input_cpu = canh_cpu_seconds(CLOCK_THREAD_CPUTIME_ID);
    char ts[CANH_ISO_MS_LEN + 1];
    canh_format_iso_ms(canh_now_ms(), ts);
    ts[CANH_ISO_MS_LEN] = '\0';
    canh_level_t tl = threat_level(r);
    canh_buf_t b;
    canh_buf_init(&b);
    canh_buf_printf(&b,
        "{\"@timestamp\":\"%s\",\"final\":%s,\"uptime_s\":%.1f,\"events\":%llu,"
        "\"parse_errors\":%llu,\"alerts\":%llu,\"threats\":%llu,\"threat_level\":\"%s\","
        "\"by_level\":{\"informational\":%llu,"
        "\"low\":%llu,\"medium\":%llu,\"high\":%llu,\"critical\":%llu},\"inputs\":{",
        ts, final ? "true" : "false", (double)(canh_mono_ms() - r->started_ms) / 1000.0,
        (unsigned long long)c.events, (unsigned long long)c.parse_errors,
        (unsigned long long)c.alerts, (unsigned long long)canh_threats(c.by_level, tl),
        canh_level_name(tl), (unsigned long long)c.by_level[1],
        (unsigned long long)c.by_level[2], (unsigned long long)c.by_level[3],
        (unsigned long long)c.by_level[4], (unsigned long long)c.by_level[5]);
    for (size_t i = 0; i < r->cfg->ninputs; i++) {
        const char *name = r->cfg->inputs[i].name;
        if (i)
            canh_buf_putc(&b, ',');
        canh_json_put_string(&b, name, strlen(name));
        canh_buf_printf(&b, ":{\"events_in\":%llu",
                        (unsigned long long)canh_pipeline_input_lines(r->pl, (uint32_t)i));
        if (r->tabled[i] && r->tabled[i]->ops->stats)
            r->tabled[i]->ops->stats(r->tabled[i]->self, &b);
        canh_buf_putc(&b, '}');
    }
    canh_buf_printf(&b,
        "},\"udp\":{\"received\":%llu,\"dropped_by_kernel\":%llu,\"truncated\":%llu},"
        "\"stream\":{\"connections_open\":%zu,\"accepted\":%llu,\"refused\":%llu,"
        "\"messages\":%llu,\"truncated\":%llu,\"dropped_too_long\":%llu,"
        "\"bad_frames\":%llu,\"incomplete_at_stop\":%llu},"
        "\"tls\":{\"refused\":%llu,\"handshake_timeouts\":%llu},"
        "\"files\":{\"open\":%llu,\"lines\":%llu,\"bytes\":%llu,\"rotations\":%llu,"
        "\"truncations\":%llu,\"truncated\":%llu,\"dropped_too_long\":%llu,"
        "\"read_errors\":%llu,\"save_errors\":%llu},"
        "\"batches\":{\"done\":%llu,\"queued\":%zu,\"free\":%zu,"
        "\"pool\":%zu,\"audit_lines_held\":%llu},"
        "\"cpu_seconds\":{\"input\":%.3f,\"workers\":%.3f},"
        "\"rules\":{\"loaded\":%zu,\"generation\":%llu,\"reloads\":%llu,"
        "\"reloads_refused\":%llu,\"worker_swap_failures\":%llu},",
        (unsigned long long)t.udp_rx, (unsigned long long)t.udp_drop,
        (unsigned long long)t.udp_trunc, t.conns, (unsigned long long)t.accepted,
        (unsigned long long)t.refused, (unsigned long long)t.msgs, (unsigned long long)t.trunc,
        (unsigned long long)t.drop, (unsigned long long)t.bad, (unsigned long long)t.incomplete,
        (unsigned long long)t.tls_refused, (unsigned long long)t.tls_timeouts,
        (unsigned long long)fc.files, (unsigned long long)fc.lines, (unsigned long long)fc.bytes,
        (unsigned long long)fc.rotations, (unsigned long long)fc.truncations,
        (unsigned long long)fc.truncated, (unsigned long long)fc.dropped,
        (unsigned long long)fc.read_errors, (unsigned long long)fc.save_errors,
        (unsigned long long)c.batches, c.queued, c.free, c.pool, (unsigned long long)held,
        input_cpu, c.cpu_workers, c.rules, (unsigned long long)c.rules_generation,
        (unsigned long long)r->reload.ok, (unsigned long long)r->reload.refused,
        (unsigned long long)c.matcher_failures);
    canh_stats_t ps = { 0 };
    for (size_t i = 0; i < r->cfg->ninputs; i++)
        ps.captures += r->cfg->inputs[i].type == CANH_INPUT_PCAP;
    if (ps.captures) {   /* the packet path: decoding, flows, reassembly */
        canh_pipeline_packet_stats(r->pl, &ps);
        canh_stats_put_packets(&ps, &b);
        canh_buf_putc(&b, ',');
    }
    if (r->nkafkas) {
        canh_kafka_in_counts_t kc = { 0 };
        for (size_t i = 0; i < r->nkafkas; i++) {
            canh_kafka_in_counts_t one;
            if (r->kafkas[i]->kin)
                canh_kafka_in_counts(r->kafkas[i]->kin, &one);
            else
                one = r->kafka_in_final[i];
            kc.messages += one.messages;
            kc.bytes += one.bytes;
            kc.commits += one.commits;
            kc.commit_failures += one.commit_failures;
            kc.rebalances += one.rebalances;
            kc.errors += one.errors;
            kc.partitions += one.partitions;
            kc.uncommitted += one.uncommitted;
            kc.possibly_duplicated += one.possibly_duplicated;
            kc.truncated += r->kafkas[i]->kafka_truncated;
            kc.dropped += r->kafkas[i]->kafka_dropped;
        }
        canh_buf_printf(&b,
            "\"kafka_in\":{\"messages\":%llu,\"bytes\":%llu,\"partitions\":%llu,"
            "\"uncommitted\":%llu,\"commits\":%llu,\"commit_failures\":%llu,"
            "\"possibly_duplicated\":%llu,\"rebalances\":%llu,\"errors\":%llu,"
            "\"truncated\":%llu,\"dropped_too_long\":%llu},",
            (unsigned long long)kc.messages, (unsigned long long)kc.bytes,
            (unsigned long long)kc.partitions, (unsigned long long)kc.uncommitted,
            (unsigned long long)kc.commits, (unsigned long long)kc.commit_failures,
            (unsigned long long)kc.possibly_duplicated, (unsigned long long)kc.rebalances,
            (unsigned long long)kc.errors, (unsigned long long)kc.truncated,
            (unsigned long long)kc.dropped);
    }
    if (r->alerts_out) {
        const canh_output_counts_t *o = &c.out;
        const char *path = r->cfg->outputs.alerts_path, *why = o->error ? strerror(o->error) : "";
        canh_buf_puts(&b, "\"alerts_file\":{\"path\":");
        canh_json_put_string(&b, path, strlen(path));
        canh_buf_printf(&b, ",\"state\":\"%s\",\"error\":", o->error ? "failing" : "ok");
        canh_json_put_string(&b, why, strlen(why));
        canh_buf_printf(&b, ",\"written\":%llu,\"not_written\":%llu,\"failed_writes\":%llu,"
                        "\"blocked_s\":%.1f},", (unsigned long long)o->written,
                        (unsigned long long)o->not_written, (unsigned long long)o->failed_writes,
                        o->blocked_s);
    }
    if (r->ksink || r->kafka_closed) {
        canh_kafka_counts_t k = r->kafka_final;
        if (r->ksink)
            canh_kafka_sink_counts(r->ksink, &k);
        const char *why = k.spool_error ? strerror(k.spool_error) : "";
        canh_buf_printf(&b,
            "\"kafka\":{\"spooled\":%llu,\"delivered\":%llu,\"failed\":%llu,\"retried\":%llu,"
            "\"possibly_duplicated\":%llu,\"replayed_at_start\":%llu,\"waiting\":%llu,"
            "\"in_flight\":%llu,\"spool_bytes\":%llu,\"spool_corrupt\":%llu,"
            "\"spool_full_waits\":%llu,\"stats_delivered\":%llu,\"stats_failed\":%llu,"
            "\"not_spooled\":%llu,\"spool_state\":\"%s\",\"spool_error\":",
            (unsigned long long)k.spooled, (unsigned long long)k.delivered,
            (unsigned long long)k.failed, (unsigned long long)k.retried,
            (unsigned long long)k.possibly_duplicated, (unsigned long long)k.replayed_at_start,
            (unsigned long long)k.waiting, (unsigned long long)k.in_flight,
            (unsigned long long)k.spool_bytes, (unsigned long long)k.spool_corrupt,
            (unsigned long long)k.spool_full_waits, (unsigned long long)k.stats_delivered,
            (unsigned long long)k.stats_failed, (unsigned long long)k.not_spooled,
            k.spool_error ? "failing" : "ok");
        canh_json_put_string(&b, why, strlen(why));
        canh_buf_printf(&b, ",\"spool_failed_writes\":%llu,\"spool_blocked_s\":%.1f},",
                        (unsigned long long)k.spool_failed_writes, k.spool_blocked_s);
    }
    canh_pipeline_put_tables(r->pl, &b);
    canh_buf_puts(&b, "}\n");
    if (!b.oom && r->ksink)
        canh_kafka_sink_stats(r->ksink, b.ptr, b.len - 1);
    if (!r->stats_out) {
        canh_buf_free(&b);
        return;
    }
    if (b.oom || write_record(r->stats_out, b.ptr, b.len) != 0) {
        /* the next record has the totals: this one is skipped, counted, and
         * said when the failure begins and when it ends */
        if (!r->stats_failed++)
            CANH_WARN("cannot write a stats record to %s: %s; records are skipped until it "
                      "works again", r->cfg->outputs.stats_path,
                      b.oom ? "out of memory" : strerror(errno));
    } else if (r->stats_failed) {
        CANH_INFO("stats records go to %s again; %llu were skipped",
                  r->cfg->outputs.stats_path, (unsigned long long)r->stats_failed);
        r->stats_failed = 0;
    }
    canh_buf_free(&b);
}

/*
 * Every stats interval, one line in canh's own log: the totals an operator
 * looks at first (the whole record is in the stats file).
 */
static void log_stats(runner_t *r)
{
    canh_pipeline_counts_t c;
    canh_pipeline_counts(r->pl, &c);
    totals_t t;
    input_totals(r, &t);
    char sentence[256];
    CANH_INFO("stats: %llu events, %llu parse errors; %s; "
              "udp drops %llu, truncated %llu, dropped as too long %llu; %zu connections, "
              "%zu of %zu batches queued; rules set %llu",
              (unsigned long long)c.events, (unsigned long long)c.parse_errors,
              canh_threat_sentence(c.by_level, c.alerts, threat_level(r), sentence,
                                   sizeof(sentence)),
              (unsigned long long)t.udp_drop,
              (unsigned long long)t.trunc, (unsigned long long)t.drop, t.conns, c.queued, c.pool,
              (unsigned long long)c.rules_generation);
    if (c.out.error)   /* once per interval while it lasts */
        CANH_WARN("alerts file %s: cannot write (%s) for %.0f s so far; %llu alerts written, "
                  "the inputs wait", r->cfg->outputs.alerts_path, strerror(c.out.error),
                  c.out.blocked_s, (unsigned long long)c.out.written);
    if (r->ksink) {
        canh_kafka_counts_t k;
        canh_kafka_sink_counts(r->ksink, &k);
        CANH_INFO("kafka: %llu alerts delivered, %llu waiting in the spool (files: %llu bytes), "
                  "%llu delivery failures sent again", (unsigned long long)k.delivered,
                  (unsigned long long)k.waiting, (unsigned long long)k.spool_bytes,
                  (unsigned long long)k.failed);
        if (k.spool_error)
            CANH_WARN("kafka: cannot write to the spool (%s) for %.0f s so far; %llu alerts "
                      "spooled, the inputs wait", strerror(k.spool_error), k.spool_blocked_s,
                      (unsigned long long)k.spooled);
    }
}

/* The stats record when it is due (from the loop, and from the pipeline
 * while the inputs wait for it: the records go on during backpressure). */
static void stats_tick(runner_t *r)
{
    int64_t now = canh_mono_ms();
    if (now < r->next_stats)
        return;
    write_stats(r, 0);
    log_stats(r);
    r->next_stats = now + r->cfg->outputs.stats_interval_ms;
}

static void while_waiting(void *ud)
{
    stats_tick(ud);
    follow_save(ud, 0);
}

int canh_run(const canh_config_t *cfg, const canh_run_rules_t *rules, canh_stats_t *stats,
             char *err, size_t errlen)
{
    err[0] = '\0';
    if (canh_alert_set_observer(cfg->name) != CANH_OK) {   /* before any alert */
        snprintf(err, errlen, "out of memory");
        return CANH_ENOMEM;
    }
    /* state_dir keeps file offsets and compiled rules; file inputs cannot
     * do without it, the rule cache can */
    int has_files = 0;
    for (size_t i = 0; i < cfg->ninputs; i++)
        has_files |= cfg->inputs[i].type == CANH_INPUT_FILE;
    int spool_in_state = cfg->outputs.kafka.brokers && !cfg->outputs.kafka.spool_path;
    canh_run_rules_t rr = *rules;
    const char *state_dir = cfg->state_dir;
    char spool[4096];
    snprintf(spool, sizeof(spool), "%s%s", cfg->outputs.kafka.spool_path
             ? cfg->outputs.kafka.spool_path : state_dir ? state_dir : "",
             cfg->outputs.kafka.spool_path ? "" : "/spool");

    /* least privilege (priv.c): what canh writes is made owned by the user
     * it becomes, before it makes anything as root */
    const canh_priv_t *priv = &cfg->priv;
    if (canh_priv_check(priv, err, errlen) != CANH_OK ||
        canh_priv_prepare(priv, "state_dir", state_dir, 0, err, errlen) != CANH_OK ||
        canh_priv_prepare(priv, "the rule cache", rules->cache_dir, 0, err, errlen) != CANH_OK ||
        (cfg->outputs.kafka.brokers &&
         canh_priv_prepare(priv, "outputs.kafka.spool.path", spool, 0, err, errlen) != CANH_OK) ||
        canh_priv_prepare(priv, "outputs.alerts.path", cfg->outputs.alerts_path, 1, err,
                          errlen) != CANH_OK ||
        canh_priv_prepare(priv, "outputs.stats.path", cfg->outputs.stats_path, 1, err,
                          errlen) != CANH_OK)
        return CANH_EINVAL;

    /* SIGTERM and SIGINT arrive through a signalfd: block them first, so
     * that the pipeline's threads, started next, inherit the mask. */
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGHUP);
    sigaddset(&mask, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &mask, NULL);
    signal(SIGPIPE, SIG_IGN);

    /* thousands of connections: as many descriptors as the hard limit allows */
    struct rlimit nofile;
    if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < nofile.rlim_max) {
        nofile.rlim_cur = nofile.rlim_max;
        setrlimit(RLIMIT_NOFILE, &nofile);
    }

    /* the listeners and TLS keys, then the switch to the configured user:
     * from here on, everything (rules, cache, outputs, spool, reloads) is
     * done as that user, and checked to be possible now */
    listeners_t lis = { 0 };
    if (open_listeners(cfg, &lis, err, errlen) != CANH_OK)
        return CANH_EINVAL;
    if (canh_priv_drop(priv, err, errlen) != CANH_OK ||
        canh_priv_usable(priv, "state_dir", state_dir, 0, err, errlen) != CANH_OK ||
        (cfg->outputs.kafka.brokers &&
         canh_priv_usable(priv, "outputs.kafka.spool.path", spool, 0, err, errlen) != CANH_OK) ||
        canh_priv_usable(priv, "outputs.alerts.path", cfg->outputs.alerts_path, 1, err,
                         errlen) != CANH_OK ||
        canh_priv_usable(priv, "outputs.stats.path", cfg->outputs.stats_path, 1, err,
                         errlen) != CANH_OK) {
        listeners_free(&lis);
        return CANH_EINVAL;
    }
    /* as the user canh runs as: a state_dir another user could write is
     * refused (canh_dir_private) */
    char derr[600];
    int dfd = state_dir ? canh_dir_private("state_dir", state_dir, derr, sizeof(derr)) : -1;
    if (dfd >= 0) {
        close(dfd);
    } else if (state_dir && (dfd == CANH_EINVAL || has_files || spool_in_state)) {
        if (dfd == CANH_EINVAL)
            snprintf(err, errlen, "%s", derr);
        else
            snprintf(err, errlen, "%s (%s)", derr,
                     has_files ? "file inputs save their offsets there"
                               : "the Kafka output keeps its spool there");
        listeners_free(&lis);
        return CANH_EINVAL;
    } else if (state_dir) {
        CANH_WARN("%s; rules are compiled at every start and reload", derr);
        state_dir = NULL;
        rr.cache_dir = NULL;
    }
    rules = &rr;

    double t0 = (double)canh_mono_ns() / 1e9;
    ruleset_box_t *first = rules_load(rules, err, errlen);
    if (!first) {
        listeners_free(&lis);
        return CANH_EINVAL;
    }
    if (first->lr.refused)
        CANH_WARN("%zu rules refused (listed above); running with the %zu that loaded",
                  first->lr.refused, first->lr.loaded);
    if (first->lr.filter_problems)
        CANH_WARN("%zu Sigma filter problems (listed above): those rules run unfiltered",
                  first->lr.filter_problems);
    CANH_INFO("%zu rules loaded in %.2f s", first->lr.loaded,
              (double)canh_mono_ns() / 1e9 - t0);
    if (first->nids)
        CANH_INFO("%zu network rules loaded, %zu refused (listed above)",
                  canh_nids_size(first->nids), first->lr.nids_refused);
    if (first->lr.suppress)
        CANH_INFO("suppression list %s: %zu entries, %zu in force", rules->suppress,
                  canh_suppress_entries(first->lr.suppress),
                  canh_suppress_active(first->lr.suppress));

    FILE *out = NULL;
    const char *apath = cfg->outputs.alerts_path;
    if (apath && !(out = strcmp(apath, "-") ? open_output(apath, cfg->outputs.alerts_mode)
                                             : stdout)) {
        snprintf(err, errlen, "cannot open the alerts file '%s': %s", apath,
                 canh_open_strerror(errno));
        box_free(first);
        listeners_free(&lis);
        return CANH_EINVAL;
    }
    canh_kafka_sink_t *ksink = NULL;
    if (cfg->outputs.kafka.brokers) {
        const canh_config_list_t *kp = &cfg->outputs.kafka.props;
        canh_kafka_sink_opts_t ko = {
            .brokers = cfg->outputs.kafka.brokers, .topic = cfg->outputs.kafka.topic,
            .stats_topic = cfg->outputs.kafka.stats_topic,
            .props = (const char *const *)kp->v, .nprops = kp->n, .spool_dir = spool,
            .spool_max_bytes = cfg->outputs.kafka.spool_max_size,
            .fsync_interval_ms = cfg->outputs.kafka.fsync_interval_ms,
            .message_timeout_ms = cfg->outputs.kafka.message_timeout_ms,
            .stop_timeout_ms = cfg->outputs.kafka.stop_timeout_ms,
        };
        char kerr[400];
        if (canh_kafka_sink_open(&ksink, &ko, kerr, sizeof(kerr)) != CANH_OK) {
            snprintf(err, errlen, "outputs.kafka: %s", kerr);
            if (out && out != stdout)
                fclose(out);
            box_free(first);
            listeners_free(&lis);
            return CANH_EINVAL;
        }
        CANH_INFO("alerts go to Kafka topic %s at %s, through the spool in %s",
                  cfg->outputs.kafka.topic, cfg->outputs.kafka.brokers, spool);
    }
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    char out_name[4200];   /* for the pipeline's messages */
    snprintf(out_name, sizeof(out_name), "alerts file %s",
             out == stdout ? "(standard output)" : apath ? apath : "-");
    canh_pipeline_opts_t po = {
        .rules = first->lr.rules, .suppress = first->lr.suppress, .nids = first->nids,
        .midstream = cfg->network.midstream, .rules_ud = first,
        .release = box_release,
        .workers = cfg->workers ? cfg->workers : (int)(ncpu > 0 ? ncpu : 1),
        .out = out, .sink = ksink ? canh_kafka_sink_write : NULL, .sink_ud = ksink,
        .out_name = out_name,
        .out_stop_timeout_ms = cfg->outputs.alerts_stop_timeout_ms,
        .show_parse_errors = 10, .max_inputs = cfg->ninputs ? cfg->ninputs : 1,
        .batch_lines = cfg->limits.batch_lines,
        .matched = cfg->outputs.alerts_matched,
        .batches = cfg->limits.batches,
    };
    runner_t r = { .cfg = cfg, .alerts_out = out, .ep = epoll_create1(EPOLL_CLOEXEC),
                   .started_ms = canh_mono_ms(),
                   .rules = rules, .state_dir = state_dir, .running = first,
                   .reload.efd = -1, .follows = calloc(cfg->ninputs + 1, sizeof(src_t *)),
                   .kafkas = calloc(cfg->ninputs + 1, sizeof(src_t *)), .ksink = ksink,
                   .tabled = calloc(cfg->ninputs + 1, sizeof(src_t *)),
                   .captures = calloc(cfg->ninputs + 1, sizeof(capture_t)),
                   .kafka_in_final = calloc(cfg->ninputs + 1, sizeof(canh_kafka_in_counts_t)) };
    struct timespec now_ts;
    clock_gettime(CLOCK_REALTIME, &now_ts);
    r.started_ns = (uint64_t)now_ts.tv_sec * 1000000000u + (uint64_t)now_ts.tv_nsec;
    po.waiting = while_waiting;   /* stats records go on while the inputs wait */
    po.waiting_ud = &r;
    const char *spath = cfg->outputs.stats_path;
    if (spath && !(r.stats_out = strcmp(spath, "-") ? open_output(spath, cfg->outputs.stats_mode)
                                                    : stdout))
        snprintf(err, errlen, "cannot open the stats file '%s': %s", spath,
                 canh_open_strerror(errno));
    else if (r.ep < 0 || !(r.pl = canh_pipeline_start(&po, err, errlen)))
        snprintf(err, errlen, "cannot start: %s", strerror(errno));
    if (!r.pl) {   /* nothing started yet */
        if (r.ep >= 0)
            close(r.ep);
        if (out && out != stdout)
            fclose(out);
        if (r.stats_out && r.stats_out != stdout)
            fclose(r.stats_out);
        canh_kafka_sink_close(ksink, NULL);
        free(r.follows);
        free(r.kafkas);
        free(r.kafka_in_final);
        free(r.tabled);
    free(r.captures);
        box_free(first);
        listeners_free(&lis);
        return CANH_EINVAL;
    }
    int rc = CANH_OK;
    int sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
    r.reload.efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (sfd < 0 || !src_new(&r, SRC_SIGNAL, sfd, 0, NULL) || r.reload.efd < 0 ||
        !src_new(&r, SRC_RELOAD, r.reload.efd, 0, NULL)) {
        snprintf(err, errlen, "cannot watch for signals: %s", strerror(errno));
        rc = CANH_EIO;
    }
    r.open_inputs = 0;   /* the signal and reload sources are not inputs */
    if (!r.follows || !r.kafkas || !r.kafka_in_final || !r.tabled || !r.captures) {
        snprintf(err, errlen, "out of memory");
        rc = CANH_ENOMEM;
    }
    for (size_t i = 0; i < cfg->ninputs && rc == CANH_OK; i++) {
        const canh_config_input_t *ci = &cfg->inputs[i];
        canh_parse_opts_t popts = { .tz = ci->tz };
        if (ci->dataset) {
            int d = canh_dataset_lookup(ci->dataset, strlen(ci->dataset));
            if (d < 0)
                d = canh_dataset_register(ci->dataset);
            if (d >= 0)
                popts.extra_datasets = CANH_DS_BIT(d);
        }
        int in = canh_pipeline_add_input(r.pl, ci->name, &popts);
        if (in < 0) {
            rc = CANH_ENOMEM;
            break;
        }
        CANH_INFO("input %s: stamps without a zone are read in %s", ci->name,
                  canh_tz_name(ci->tz));
        if (ci->type == CANH_INPUT_FILE) {
            rc = follow_input(&r, ci, (uint32_t)in, err, errlen);
            continue;
        }
        if (ci->type == CANH_INPUT_KAFKA) {
            rc = kafka_input(&r, ci, (uint32_t)in, err, errlen);
            continue;
        }
        if (lis.in[i]) {
            rc = tabled_input(&r, ci, (uint32_t)in, lis.in[i], err, errlen);
            lis.in[i] = NULL;
        }
    }
    listeners_free(&lis);   /* those an earlier failure left */
    if (rc == CANH_OK)
        CANH_INFO("running: %zu inputs, %d workers, %zu rules; SIGHUP reloads them and "
                  "reopens the output files, SIGUSR1 reopens the files",
                  cfg->ninputs, po.workers, first->lr.loaded);

    /* the loop */
    struct epoll_event evs[MAX_EVENTS];
    int64_t last_flush = canh_mono_ms();
    r.next_stats = canh_mono_ms() + cfg->outputs.stats_interval_ms;
    int64_t next_follow = 0, next_housekeep = canh_mono_ms() + HOUSEKEEP_MS, next_commit = 0;
    while (rc == CANH_OK && !r.stop) {
        int more = 0;
        for (size_t i = 0; i < r.nfollows; i++)
            more |= r.follows[i]->follow_more;
        for (size_t i = 0; i < r.nkafkas; i++)
            more |= r.kafkas[i]->follow_more;
        int n = epoll_wait(r.ep, evs, MAX_EVENTS, more ? 0 : IDLE_FLUSH_MS);
        if (n < 0 && errno != EINTR) {
            snprintf(err, errlen, "epoll_wait: %s", strerror(errno));
            rc = CANH_EIO;
            break;
        }
        for (int i = 0; i < n; i++) {
            src_t *s = evs[i].data.ptr;
            if (s->fd < 0)
                continue;
            switch (s->kind) {
            case SRC_SIGNAL: {
                struct signalfd_siginfo si;
                while (read(s->fd, &si, sizeof(si)) == sizeof(si)) {
                    if (si.ssi_signo == SIGHUP || si.ssi_signo == SIGUSR1)
                        reopen_outputs(&r, (int)si.ssi_signo);
                    if (si.ssi_signo == SIGHUP)
                        reload_start(&r);
                    else if (si.ssi_signo != SIGUSR1)
                        r.stop = (int)si.ssi_signo;
                }
                break;
            }
            case SRC_RELOAD: reload_done(&r); break;
            case SRC_FOLLOW: s->follow_more = 1; break;
            case SRC_KAFKA: s->follow_more = 1; break;
            case SRC_INPUT:
                if (s->ops->read(s->self, s->fd) == 1)
                    src_close(&r, s, 0);   /* it ended (stdin) */
                break;
            }
        }
        int64_t now = canh_mono_ms();
        int timer = now >= next_follow;
        for (size_t i = 0; i < r.nfollows; i++)
            if (timer || r.follows[i]->follow_more)
                follow_turn(r.follows[i]);
        if (timer)
            next_follow = now + FOLLOW_POLL_MS;
        for (size_t i = 0; i < r.nkafkas; i++) {
            src_t *s = r.kafkas[i];
            if (s->fd >= 0 && (timer || s->follow_more))
                s->follow_more = canh_kafka_in_poll(s->kin, KAFKA_BUDGET);
        }
        if (r.nkafkas && now >= next_commit) {
            for (size_t i = 0; i < r.nkafkas; i++)
                canh_kafka_in_commit(r.kafkas[i]->kin);
            next_commit = now + KAFKA_COMMIT_MS;
        }
        if (now >= next_housekeep) {
            housekeep(&r);
            next_housekeep = now + HOUSEKEEP_MS;
        }
        if (n <= 0 || now - last_flush >= IDLE_FLUSH_MS) {
            canh_pipeline_idle(r.pl);
            last_flush = now;
        }
        stats_tick(&r);
        if (!r.open_inputs && !r.stop && !tabled_counts(&r).conns_open)
            r.stop = -1;   /* stdin ended and nothing else to listen to */
    }
    if (r.stop > 0)
        CANH_INFO("stopping on %s: processing what was accepted", strsignal(r.stop));
    /* from here on, what is accepted reaches the spool even past its cap,
     * and an output that cannot be written gives up after its stop_timeout */
    canh_kafka_sink_stopping(r.ksink);
    canh_pipeline_stopping(r.pl);

    /* shutdown: close every source (framers give up what they hold), then
     * the pipeline processes everything it was given */
    if (r.reload.running) {   /* a reload in flight is finished and dropped */
        pthread_join(r.reload.th, NULL);
        box_free(r.reload.box);
    }
    for (src_t *s = r.all; s; s = s->next) {
        src_close(&r, s, 1);
    }
    /* everything accepted is processed and written (to the file and the
     * spool) */
    canh_pipeline_drain(r.pl, -1);
    /* Kafka inputs commit exactly what was written, then leave the group */
    for (size_t i = 0; i < r.nkafkas; i++) {
        src_t *s = r.kafkas[i];
        canh_kafka_in_close(s->kin, canh_pipeline_done_fed(r.pl, s->input),
                            &r.kafka_in_final[i]);
        s->kin = NULL;
    }
    /* the Kafka sink gets stop_timeout to deliver; the rest stays spooled */
    if (r.ksink) {
        canh_kafka_sink_close(r.ksink, &r.kafka_final);
        r.ksink = NULL;
        r.kafka_closed = 1;
    }
    if (r.stats_out) {
        write_stats(&r, 1);
        if (r.stats_out != stdout)
            fclose(r.stats_out);
    }
    int prc = canh_pipeline_finish(r.pl, stats);
    if (rc == CANH_OK)
        rc = prc;
    if (out && fflush(out) != 0 && rc == CANH_OK)
        rc = CANH_EIO;
    follow_save(&r, 1);   /* everything handed over is processed now */
    if (out && out != stdout)
        fclose(out);
    totals_t t;   /* the last figures, before the inputs are freed */
    input_totals(&r, &t);
    while (r.all) {
        src_t *s = r.all;
        r.all = s->next;
        canh_follow_free(s->follow);
        if (s->ops)
            s->ops->free(s->self);
        free(s);
    }
    free(r.follows);
    free(r.kafkas);
    free(r.kafka_in_final);
    free(r.tabled);
    free(r.captures);
    close(r.ep);
    if (t.udp_rx || t.udp_drop)
        CANH_INFO("udp: %llu datagrams received, %llu dropped by the kernel (receive buffer "
                  "full), %llu truncated", (unsigned long long)t.udp_rx,
                  (unsigned long long)t.udp_drop, (unsigned long long)t.udp_trunc);
    if (t.accepted || t.refused || t.msgs)
        CANH_INFO("connections: %llu accepted, %llu refused, %llu closed by TLS checks; "
                  "messages: %llu, %llu truncated, %llu dropped as too long, %llu bad frames, "
                  "%llu cut off by the stop", (unsigned long long)t.accepted,
                  (unsigned long long)t.refused, (unsigned long long)t.tls_refused,
                  (unsigned long long)t.msgs, (unsigned long long)t.trunc,
                  (unsigned long long)t.drop, (unsigned long long)t.bad,
                  (unsigned long long)t.incomplete);
    return rc;
}
