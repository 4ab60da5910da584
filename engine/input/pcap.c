/*
 * engine/input/pcap.c -- packets captured on a network interface (the
 * `pcap` input kind, input.h), and capture files read for `canh scan`.
 *
 * Live capture: the handle is made with pcap_create and pcap_activate in
 * open, while canh is still root (a packet socket needs CAP_NET_RAW); the
 * BPF filter is compiled and attached there too. priv.c's switch to the
 * configured user then takes every capability away, but the packet socket
 * stays open and readable: nothing after the open needs a privilege.
 * The handle is non-blocking; its selectable descriptor is in the loop's
 * epoll set. A wake-up reads at most PCAP_BUDGET frames (pcap_dispatch),
 * so that one busy interface cannot starve the other inputs; what is left
 * makes the descriptor ready again. Each frame goes to the runner's
 * callback with the link type, libpcap's header and the bytes (borrowed
 * from libpcap's ring: valid during the call only; nothing is allocated
 * per frame).
 *
 * Counts (the stats record, inputs.NAME.capture): frames and bytes handed
 * on, frames cut by snaplen, and libpcap's own received / dropped (ring
 * full) / if_dropped (the interface's) from pcap_stats. Those are 32-bit
 * on some systems: they are widened here by adding each reading's advance
 * (modulo 2^32), read at every stats record and at least once a second.
 *
 * At the stop, the frames already in the ring are read (bounded by
 * PCAP_DRAIN_MAX) before the handle is closed.
 *
 * Capture files: pcap_open_offline reads pcap (microsecond and nanosecond
 * time stamps, either byte order) and pcapng; canh_pcap_magic tells such
 * a file by its first bytes. Time stamps are handed on in microseconds.
 *
 * Runs on the daemon's input thread (live) or the caller's (files).
 */
#include "input.h"

#include <errno.h>
#include <pcap/pcap.h>
#include <stdlib.h>
#include <string.h>

#define PCAP_BUDGET      1024          /* frames per wake-up */
#define PCAP_DRAIN_MAX   (1u << 20)    /* frames read at the stop, at most */
#define PCAP_TIMEOUT_MS  100           /* a ring block is handed on at the latest after this */

typedef struct pcap_in {
    pcap_t *p;
    int fd;                      /* pcap_get_selectable_fd */
    int dlt;
    const canh_config_input_t *ci;
    canh_input_env_t env;
    /* counts */
    uint64_t frames, bytes, cut;
    uint64_t recv, drop, ifdrop;         /* libpcap's, widened to 64 bits */
    struct pcap_stat last;               /* its last reading */
    int have_last;
    uint64_t stats_errors;
    int64_t next_stats_ms;
} pcap_in_t;

/* ---- live capture --------------------------------------------------------- */

/* The advance of a 32-bit counter since its last reading. */
static uint64_t advance(u_int now, u_int before)
{
    return (uint64_t)(uint32_t)(now - before);
}

static void read_pcap_stats(pcap_in_t *s)
{
    struct pcap_stat ps;
    if (pcap_stats(s->p, &ps) != 0) {
        if (!s->stats_errors++)
            CANH_WARN("input %s: cannot read the capture's counts: %s", s->ci->name,
                      pcap_geterr(s->p));
        return;
    }
    if (s->have_last) {
        s->recv += advance(ps.ps_recv, s->last.ps_recv);
        s->drop += advance(ps.ps_drop, s->last.ps_drop);
        s->ifdrop += advance(ps.ps_ifdrop, s->last.ps_ifdrop);
    } else {
        s->recv = ps.ps_recv;
        s->drop = ps.ps_drop;
        s->ifdrop = ps.ps_ifdrop;
        s->have_last = 1;
    }
    s->last = ps;
}

static void on_frame(u_char *ud, const struct pcap_pkthdr *h, const u_char *bytes)
{
    pcap_in_t *s = (pcap_in_t *)ud;
    s->frames++;
    s->bytes += h->caplen;
    if (h->caplen < h->len)
        s->cut++;
    if (s->env.frame)
        s->env.frame(s->env.frame_ud, s->dlt, h, bytes);
}

static void pcap_close_handle(pcap_in_t *s)
{
    if (s->p)
        pcap_close(s->p);
    s->p = NULL;
    s->fd = -1;
}

static void pcap_in_free(void *self)
{
    pcap_in_t *s = self;
    if (!s)
        return;
    pcap_close_handle(s);
    free(s);
}

/* Says what failed with libpcap's words, or its error code's. */
static void pcap_failed(char *err, size_t errlen, const canh_config_input_t *ci, pcap_t *p,
                        const char *what, int rc)
{
    const char *why = rc == PCAP_ERROR || rc == 0 ? pcap_geterr(p) : pcap_statustostr(rc);
    if (rc == PCAP_ERROR_PERM_DENIED)
        why = "permission denied (capturing needs root or CAP_NET_RAW)";
    else if (rc == PCAP_ERROR_NO_SUCH_DEVICE)
        why = "no such interface";
    snprintf(err, errlen, "input %s: %s on %s: %s", ci->name, what, ci->interface,
             why && *why ? why : pcap_statustostr(rc));
}

static int pcap_in_open(const canh_config_t *cfg, const canh_config_input_t *ci, void **self,
                        char *err, size_t errlen)
{
    *self = NULL;
    if (!ci->interface || !*ci->interface) {
        snprintf(err, errlen, "input %s: no interface to capture on", ci->name);
        return CANH_EINVAL;
    }
    pcap_in_t *s = calloc(1, sizeof(*s));
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return CANH_ENOMEM;
    }
    s->ci = ci;
    s->fd = -1;
    char ebuf[PCAP_ERRBUF_SIZE] = "";
    if (!(s->p = pcap_create(ci->interface, ebuf))) {
        snprintf(err, errlen, "input %s: cannot capture on %s: %s", ci->name, ci->interface,
                 ebuf);
        pcap_in_free(s);
        return CANH_EIO;
    }
    int rc;
    int snaplen = ci->snaplen > 0 ? ci->snaplen : 262144;
    size_t buf = ci->pcap_buffer ? ci->pcap_buffer : (16u << 20);
    if ((rc = pcap_set_snaplen(s->p, snaplen)) != 0 ||
        (rc = pcap_set_promisc(s->p, ci->promiscuous)) != 0 ||
        (rc = pcap_set_timeout(s->p, PCAP_TIMEOUT_MS)) != 0 ||
        (rc = pcap_set_buffer_size(s->p, buf > (size_t)INT32_MAX ? INT32_MAX : (int)buf)) != 0 ||
        (rc = pcap_set_immediate_mode(s->p, ci->immediate)) != 0) {
        pcap_failed(err, errlen, ci, s->p, "cannot set up the capture", rc);
        pcap_in_free(s);
        return CANH_EINVAL;
    }
    rc = pcap_activate(s->p);
    if (rc < 0) {
        pcap_failed(err, errlen, ci, s->p, "cannot capture", rc);
        pcap_in_free(s);
        return CANH_EIO;
    }
    if (rc > 0)   /* a warning: it captures, but not quite as asked */
        CANH_WARN("input %s: capture on %s: %s", ci->name, ci->interface,
                  rc == PCAP_WARNING ? pcap_geterr(s->p) : pcap_statustostr(rc));
    if (ci->filter) {
        struct bpf_program prog;
        if (pcap_compile(s->p, &prog, ci->filter, 1, PCAP_NETMASK_UNKNOWN) != 0) {
            snprintf(err, errlen, "%s:%d: input %s: bad filter '%s': %s", cfg->path ? cfg->path
                     : "canh.yml", ci->line, ci->name, ci->filter, pcap_geterr(s->p));
            pcap_in_free(s);
            return CANH_EINVAL;
        }
        rc = pcap_setfilter(s->p, &prog);
        pcap_freecode(&prog);
        if (rc != 0) {
            pcap_failed(err, errlen, ci, s->p, "cannot attach the filter", 0);
            pcap_in_free(s);
            return CANH_EIO;
        }
    }
    if (pcap_setnonblock(s->p, 1, ebuf) != 0 || (s->fd = pcap_get_selectable_fd(s->p)) < 0) {
        snprintf(err, errlen, "input %s: capture on %s cannot be waited on: %s", ci->name,
                 ci->interface, *ebuf ? ebuf : "no selectable descriptor");
        pcap_in_free(s);
        return CANH_EIO;
    }
    s->dlt = pcap_datalink(s->p);
    read_pcap_stats(s);   /* the base the counts grow from */
    *self = s;
    return CANH_OK;
}

static int pcap_in_start(void *self, const canh_input_env_t *env, char *err, size_t errlen)
{
    pcap_in_t *s = self;
    s->env = *env;
    const char *dn = pcap_datalink_val_to_name(s->dlt);
    CANH_INFO("input %s: capturing on %s (link type %s, snaplen %d%s%s%s)", s->ci->name,
              s->ci->interface, dn ? dn : "?", pcap_snapshot(s->p),
              s->ci->promiscuous ? ", promiscuous" : "", s->ci->filter ? ", filter: " : "",
              s->ci->filter ? s->ci->filter : "");
    return CANH_OK;
}

static size_t pcap_in_fds(void *self, int *fds, size_t max)
{
    pcap_in_t *s = self;
    if (!max || s->fd < 0)
        return 0;
    fds[0] = s->fd;
    return 1;
}

/* Up to budget frames; how many were read (-1: an error, said once). */
static long pcap_in_dispatch(pcap_in_t *s, int budget)
{
    int n = pcap_dispatch(s->p, budget, on_frame, (u_char *)s);
    if (n == PCAP_ERROR) {
        if (!s->stats_errors++)
            CANH_WARN("input %s: reading the capture on %s: %s", s->ci->name, s->ci->interface,
                      pcap_geterr(s->p));
        return -1;
    }
    return n;
}

static int pcap_in_read(void *self, int fd)
{
    pcap_in_t *s = self;
    if (s->p)
        pcap_in_dispatch(s, PCAP_BUDGET);
    return CANH_OK;
}

static void pcap_in_housekeep(void *self, int64_t now_ms)
{
    pcap_in_t *s = self;
    if (!s->p)
        return;
    /* a frame a wake-up left behind (a block retired between two polls) */
    pcap_in_dispatch(s, PCAP_BUDGET);
    if (now_ms >= s->next_stats_ms) {   /* often enough that no 32-bit count wraps twice */
        read_pcap_stats(s);
        s->next_stats_ms = now_ms + 1000;
    }
}

static void pcap_in_stats(void *self, canh_buf_t *b)
{
    pcap_in_t *s = self;
    if (s->p)
        read_pcap_stats(s);
    canh_buf_printf(b, ",\"capture\":{\"received\":%llu,\"dropped\":%llu,\"if_dropped\":%llu,"
                    "\"frames\":%llu,\"bytes\":%llu,\"cut\":%llu}",
                    (unsigned long long)s->recv, (unsigned long long)s->drop,
                    (unsigned long long)s->ifdrop, (unsigned long long)s->frames,
                    (unsigned long long)s->bytes, (unsigned long long)s->cut);
}

static void pcap_in_close(void *self, int stopping)
{
    pcap_in_t *s = self;
    if (!s || !s->p)
        return;
    if (stopping) {   /* what the ring holds is handed on */
        for (size_t got = 0; got < PCAP_DRAIN_MAX;) {
            long n = pcap_in_dispatch(s, PCAP_BUDGET);
            if (n <= 0)
                break;
            got += (size_t)n;
        }
        read_pcap_stats(s);
        CANH_INFO("input %s: %llu frames captured on %s, %llu dropped by the kernel (ring "
                  "full), %llu by the interface", s->ci->name, (unsigned long long)s->frames,
                  s->ci->interface, (unsigned long long)s->drop,
                  (unsigned long long)s->ifdrop);
    }
    pcap_close_handle(s);
}

const canh_input_ops_t canh_input_pcap = {
    .kind = "pcap",
    .open = pcap_in_open,
    .start = pcap_in_start,
    .fds = pcap_in_fds,
    .read = pcap_in_read,
    .housekeep = pcap_in_housekeep,
    .stats = pcap_in_stats,
    .close = pcap_in_close,
    .free = pcap_in_free,
};

/* ---- capture files -------------------------------------------------------- */

int canh_pcap_filter_check(const char *expr, int snaplen, char *err, size_t errlen)
{
    if (!expr) {
        snprintf(err, errlen, "no filter");
        return CANH_EINVAL;
    }
    pcap_t *p = pcap_open_dead(DLT_EN10MB, snaplen > 0 ? snaplen : 262144);
    if (!p) {
        snprintf(err, errlen, "out of memory");
        return CANH_ENOMEM;
    }
    struct bpf_program prog;
    int rc = CANH_OK;
    if (pcap_compile(p, &prog, expr, 1, PCAP_NETMASK_UNKNOWN) != 0) {
        snprintf(err, errlen, "%s", pcap_geterr(p));
        rc = CANH_EINVAL;
    } else {
        pcap_freecode(&prog);
    }
    pcap_close(p);
    return rc;
}

int canh_pcap_magic(const uint8_t *b, size_t n)
{
    if (!b || n < 4)
        return 0;
    static const uint8_t pcap_magics[4][4] = {
        { 0xd4, 0xc3, 0xb2, 0xa1 },   /* 0xa1b2c3d4 little-endian: microseconds */
        { 0xa1, 0xb2, 0xc3, 0xd4 },   /* big-endian */
        { 0x4d, 0x3c, 0xb2, 0xa1 },   /* 0xa1b23c4d little-endian: nanoseconds */
        { 0xa1, 0xb2, 0x3c, 0x4d },   /* big-endian */
    };
    for (size_t i = 0; i < CANH_ARRAY_LEN(pcap_magics); i++)
        if (!memcmp(b, pcap_magics[i], 4))
            return 1;
    /* pcapng: a Section Header Block (type 0x0A0D0D0A, the same in both
     * orders), its length, then the byte-order magic 0x1A2B3C4D */
    static const uint8_t shb[4] = { 0x0a, 0x0d, 0x0d, 0x0a };
    static const uint8_t bom_le[4] = { 0x4d, 0x3c, 0x2b, 0x1a }, bom_be[4] = { 0x1a, 0x2b, 0x3c, 0x4d };
    return n >= 12 && !memcmp(b, shb, 4) && (!memcmp(b + 8, bom_le, 4) || !memcmp(b + 8, bom_be, 4));
}

struct canh_pcap_file {
    pcap_t *p;
    int dlt;
    canh_input_pcap_fn fn;
    void *ud;
    uint64_t frames;            /* handed on so far */
    long at;                    /* where the next frame's record starts; -1: unknown */
};

static void file_frame(u_char *ud, const struct pcap_pkthdr *h, const u_char *bytes)
{
    canh_pcap_file_t *f = (canh_pcap_file_t *)ud;
    f->frames++;
    FILE *fp = pcap_file(f->p);
    f->at = fp ? ftell(fp) : -1;
    f->fn(f->ud, f->dlt, h, bytes);
}

int canh_pcap_file_open(const char *path, canh_pcap_file_t **out, char *err, size_t errlen)
{
    *out = NULL;
    if (!path) {
        snprintf(err, errlen, "no capture file");
        return CANH_EINVAL;
    }
    canh_pcap_file_t *f = calloc(1, sizeof(*f));
    if (!f) {
        snprintf(err, errlen, "out of memory");
        return CANH_ENOMEM;
    }
    char ebuf[PCAP_ERRBUF_SIZE] = "";
    f->p = pcap_open_offline_with_tstamp_precision(path, PCAP_TSTAMP_PRECISION_MICRO, ebuf);
    if (!f->p) {
        snprintf(err, errlen, "%s: not a capture file canh can read (pcap or pcapng): %s",
                 strcmp(path, "-") ? path : "(standard input)", ebuf);
        free(f);
        return CANH_EPARSE;
    }
    f->dlt = pcap_datalink(f->p);
    FILE *fp = pcap_file(f->p);
    f->at = fp ? ftell(fp) : -1;
    *out = f;
    return CANH_OK;
}

int canh_pcap_file_dlt(const canh_pcap_file_t *f)
{
    return f ? f->dlt : -1;
}

long canh_pcap_file_read(canh_pcap_file_t *f, size_t max, canh_input_pcap_fn fn, void *ud,
                         char *err, size_t errlen)
{
    if (!f || !fn) {
        snprintf(err, errlen, "no capture file or no callback");
        return CANH_EINVAL;
    }
    f->fn = fn;
    f->ud = ud;
    /* pcap_dispatch on a file: -1 (or 0) means all of it; counts fit an int */
    int cnt = max == 0 || max > (size_t)INT32_MAX ? -1 : (int)max;
    int n = pcap_dispatch(f->p, cnt, file_frame, (u_char *)f);
    if (n == PCAP_ERROR) {
        if (f->at >= 0)
            snprintf(err, errlen, "frame %llu, at byte %ld, is damaged (%s); the %llu frames "
                     "before it are read, the rest of the file is not",
                     (unsigned long long)f->frames + 1, f->at, pcap_geterr(f->p),
                     (unsigned long long)f->frames);
        else
            snprintf(err, errlen, "frame %llu is damaged (%s); the %llu frames before it are "
                     "read, the rest of the file is not", (unsigned long long)f->frames + 1,
                     pcap_geterr(f->p), (unsigned long long)f->frames);
        return CANH_EPARSE;
    }
    if (n == PCAP_ERROR_BREAK)
        return 0;
    return n;
}

void canh_pcap_file_close(canh_pcap_file_t *f)
{
    if (!f)
        return;
    pcap_close(f->p);
    free(f);
}
