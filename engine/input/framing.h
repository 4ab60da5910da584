/*
 * engine/input/framing.h -- syslog messages out of a byte stream (TCP, TLS).
 *
 * RFC 6587 knows two framings: octet counting ("123 <34>1 ...": a decimal
 * length, a space, that many bytes) and non-transparent framing (each
 * message ends with LF; CR LF and NUL ends are accepted too). A framer
 * decides once per connection, from its first byte (a digit 1-9 means
 * octet counting), unless told which to use.
 *
 * A connection that starts with a digit but is not octet-counted (an
 * access log's "10.0.0.1 - - ...") is read as newline-framed from its
 * first byte, without a bad frame counted.
 *
 * A message longer than max_msg is truncated to its first max_msg bytes or
 * dropped, as configured, and counted either way; the rest of it is
 * skipped, and the connection goes on. A broken length prefix is counted
 * and the framer falls back to newline framing for the rest of the
 * connection, so no byte is silently lost. The framer never holds more
 * than max_msg bytes, whatever the peer sends.
 *
 * Ownership: the framer owns its buffer; a message passed to the callback
 * is valid only during the call. Thread: one framer per connection, used by
 * the thread that reads that connection.
 */
#ifndef CANH_FRAMING_H
#define CANH_FRAMING_H

#include "../canh.h"

enum { CANH_FRAME_AUTO = 0, CANH_FRAME_LF, CANH_FRAME_OCTET };
enum { CANH_FRAME_TRUNCATE = 0, CANH_FRAME_DROP };

typedef struct canh_framer {
    int mode;              /* CANH_FRAME_*: AUTO until the first byte decides */
    int oversize;          /* CANH_FRAME_TRUNCATE or CANH_FRAME_DROP */
    size_t max_msg;
    char *buf;             /* the message being assembled (at most max_msg bytes) */
    size_t len, cap;
    size_t skip;           /* octet: bytes of an oversize message still to skip */
    size_t want;           /* octet: bytes of the message still expected */
    int in_prefix;         /* octet: reading the length prefix */
    size_t prefix;         /* its value so far */
    int prefix_digits;
    int over;              /* the current message went past max_msg */
    int guessed;           /* AUTO took a first digit for octet counting; no frame yet */
    /* counters, for stats */
    uint64_t messages;     /* handed to the callback (truncated ones included) */
    uint64_t truncated;
    uint64_t dropped;
    uint64_t bad_frames;   /* broken length prefixes */
    uint64_t incomplete;   /* messages cut off by canh_framer_abandon */
    uint64_t cut;          /* messages given up unfinished by canh_framer_cut */
} canh_framer_t;

/* Called per message; a non-zero return stops canh_framer_feed with that value. */
typedef int (*canh_frame_fn)(void *ud, const char *msg, size_t len);

int  canh_framer_init(canh_framer_t *f, int mode, size_t max_msg, int oversize);
void canh_framer_free(canh_framer_t *f);

/* Feeds bytes as they arrive; calls fn for every complete message. */
int canh_framer_feed(canh_framer_t *f, const char *data, size_t n, canh_frame_fn fn, void *ud);

/* The peer closed: a last newline-framed message without its LF is still a
 * message; a cut octet-counted one is counted as dropped. */
int canh_framer_finish(canh_framer_t *f, canh_frame_fn fn, void *ud);

/* canh stops reading (shutdown) while the peer is still sending: a
 * message in progress is counted as incomplete, not delivered: its end
 * never arrived, and half a message is not what the sender sent. */
void canh_framer_abandon(canh_framer_t *f);

/* 1 while a message has begun and not ended: bytes of it kept or skipped,
 * or part of its length prefix read. */
int canh_framer_pending(const canh_framer_t *f);

/* canh gives up on the message in progress because the peer sat on it too
 * long (the caller's timeout): it is counted as cut, not delivered, and
 * the framer starts afresh. Returns 1 if a message was in progress (*kept,
 * if not NULL, receives how many of its bytes had been kept), else 0. */
int canh_framer_cut(canh_framer_t *f, size_t *kept);

#endif
