/*
 * engine/input/input.h -- the one shape every input kind has.
 *
 * An input kind is a table of functions (canh_input_ops_t); the daemon's
 * loop (engine/run.c) drives every input through it and knows nothing of
 * sockets, capture handles or files:
 *
 *   open       from its canh_config_input_t, while canh is still root
 *              (before priv.c's switch): bind a socket, open a capture
 *              handle, read a key. Nothing is read yet.
 *   start      once the pipeline is up and canh runs as its user: the
 *              runner hands the pipeline messages go to, or the callback
 *              frames go to. Listening starts here.
 *   fds        after start: the descriptors to wait on (epoll, EPOLLIN); an
 *              input with changing descriptors (tcp: its connections) keeps
 *              them in an epoll set of its own and gives that one. None:
 *              the input is done already (stdin from a regular file).
 *   read       one of them is ready: read a bounded amount, hand it on
 *              through the callbacks. Never blocks.
 *   housekeep  about once a second (and the runner's timers): idle
 *              timeouts, polling, what a wake-up may have missed.
 *   stats      its counts, as JSON members appended to its object in the
 *              stats record (inputs.NAME): ",\"capture\":{...}".
 *   close      at the stop: what is already accepted (in a socket, in the
 *              capture ring) is read and handed on first, then its
 *              descriptors are closed; its counts stay (the last stats
 *              record is written after every input is closed).
 *   free       at the very end.
 *
 *   counts     (optional) adds its share of the figures the stats record
 *              sums over inputs of a kind (the `udp` section).
 *
 * Which kinds go through this table today: udp (udp.c), tcp and tls
 * (tcp.c, with framing.c and tls.c), stdin (stdin.c) and pcap (pcap.c).
 * file and kafka have their parts in this folder (follow.c, kafka.c) but
 * the loop in run.c still drives them itself: their offsets are saved or
 * committed only once the alerts of what came before are written
 * (run.c's follow_save, the Kafka hooks), which ties them to the outputs.
 *
 * Everything here runs on the daemon's input thread (run.c's loop); the
 * callbacks are called on that thread too.
 */
#ifndef CANH_INPUT_H
#define CANH_INPUT_H

#include <stddef.h>
#include <stdint.h>

#include "../canh.h"
#include "../config.h"
#include "../../sinks/json.h"

struct pcap_pkthdr;
struct canh_pipeline;

/*
 * One captured frame: its link type (a DLT_ value, pcap-linktype(7)), its
 * libpcap header (time stamp in microseconds, caplen bytes captured of
 * len on the wire) and bytes (caplen of them, borrowed: valid only during
 * the call). Runs on the thread that reads the capture.
 */
typedef void (*canh_input_pcap_fn)(void *ud, int dlt, const struct pcap_pkthdr *h,
                                   const uint8_t *bytes);

/* What the inputs share, kept by the runner. */
typedef struct canh_input_shared {
    uint64_t conn_seq;           /* connections accepted by every tcp and tls input so far:
                                    each one's number (its events' event.id) */
    uint64_t tls_failed;         /* TLS refusals of every input: the first few are logged */
} canh_input_shared_t;

/* What the runner gives an input at start. */
typedef struct canh_input_env {
    canh_input_shared_t *shared;
    struct canh_pipeline *pl;    /* log inputs hand their messages to it (pipeline.h) */
    uint64_t started_ns;         /* wall clock at canh's start: origin idents (event.id) */
    uint32_t input;              /* the pipeline's number for it */
    canh_input_pcap_fn frame;    /* packet inputs; NULL: frames are counted, not handed on */
    void *frame_ud;
} canh_input_env_t;

#define CANH_INPUT_MAX_FDS 4

/* Figures summed over the inputs (counts): the stats record's udp,
 * stream and tls sections. */
typedef struct canh_input_counts {
    uint64_t dgram_received, dgram_dropped, dgram_truncated;   /* udp */
    size_t conns_open;                                          /* tcp, tls */
    uint64_t conns_accepted, conns_refused;
    uint64_t msgs, msgs_truncated, msgs_dropped, bad_frames, incomplete;   /* framed */
    uint64_t tls_refused, tls_timeouts;                          /* tls */
} canh_input_counts_t;

typedef struct canh_input_ops {
    const char *kind;            /* "pcap" */
    int  (*open)(const canh_config_t *cfg, const canh_config_input_t *ci, void **self,
                 char *err, size_t errlen);
    int  (*start)(void *self, const canh_input_env_t *env, char *err, size_t errlen);
    /* its descriptors into fds (at most max); how many */
    size_t (*fds)(void *self, int *fds, size_t max);
    /* fd: the one that is ready, or -1 when the runner does not tell.
     * CANH_OK, or 1 when the input has ended (stdin): the runner closes
     * it (stopping 0). */
    int  (*read)(void *self, int fd);
    void (*housekeep)(void *self, int64_t now_ms);          /* may be NULL */
    void (*stats)(void *self, canh_buf_t *b);                /* may be NULL */
    void (*counts)(void *self, canh_input_counts_t *c);      /* may be NULL */
    /* stopping 1 (the stop): what is already accepted is handed on first,
     * a message still arriving is counted as incomplete. 0 (the input
     * ended, or a start-up failure): a last message without its end is
     * handed on. stats and counts still work after it. */
    void (*close)(void *self, int stopping);
    void (*free)(void *self);
} canh_input_ops_t;

/* The kind for an input type (canh_input_type_t), or NULL when run.c
 * still drives that type itself. */
const canh_input_ops_t *canh_input_ops(int type);

/* ---- shared (engine/input/input.c) ----------------------------------------- */

/*
 * A bound non-blocking socket (SOCK_DGRAM or SOCK_STREAM) on ci->listen,
 * or -1 with err naming the config line. Needs root for a port below 1024.
 */
int canh_input_bind(const canh_config_t *cfg, const canh_config_input_t *ci, int type,
                    char *err, size_t errlen);

/* A stream key (never 0) from bytes that name a sender: FNV-1a. */
uintptr_t canh_stream_key(const void *bytes, size_t len);

/* ---- udp (engine/input/udp.c) ---------------------------------------------- */

extern const canh_input_ops_t canh_input_udp;

/* ---- stdin (engine/input/stdin.c) ----------------------------------------- */

extern const canh_input_ops_t canh_input_stdin;

/* ---- tcp and tls (engine/input/tcp.c) -------------------------------------- */

extern const canh_input_ops_t canh_input_tcp, canh_input_tls;

/* ---- pcap (engine/input/pcap.c) ------------------------------------------- */

extern const canh_input_ops_t canh_input_pcap;

/*
 * 1 when b (n bytes) begins like a capture file: pcap (microsecond or
 * nanosecond time stamps, either byte order) or a pcapng section header
 * block (its byte-order magic checked too, so n >= 12 is needed); else 0.
 */
int canh_pcap_magic(const uint8_t *b, size_t n);

/*
 * CANH_OK when expr is a BPF filter libpcap compiles (pcap-filter(7)), for
 * an Ethernet interface; else CANH_EINVAL with libpcap's reason in err.
 * Needs no privilege and no interface: for `canh run --check`.
 */
int canh_pcap_filter_check(const char *expr, int snaplen, char *err, size_t errlen);

/* A capture file (pcap or pcapng) read for `canh scan`. */
typedef struct canh_pcap_file canh_pcap_file_t;

/* Opens path ("-": standard input); CANH_OK, or an error with a sentence
 * in err (a file that is not a capture says so). */
int canh_pcap_file_open(const char *path, canh_pcap_file_t **out, char *err, size_t errlen);

/* The file's link type (DLT_ value; pcapng: its first interface's). */
int canh_pcap_file_dlt(const canh_pcap_file_t *f);

/*
 * Hands up to max frames (0: all) to fn. Returns how many, 0 at the end
 * of the file, CANH_EPARSE when the file is cut or damaged there (err
 * names the frame's number and, for a file, the byte offset of its record:
 * the frames before it were handed on).
 */
long canh_pcap_file_read(canh_pcap_file_t *f, size_t max, canh_input_pcap_fn fn, void *ud,
                         char *err, size_t errlen);

void canh_pcap_file_close(canh_pcap_file_t *f);

#endif
