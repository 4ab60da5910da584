/*
 * engine/input/follow.h -- log files followed by name, like `tail -F` (the
 * daemon's `type: file` input).
 *
 * Each path (or every file a glob(3) pattern matches; patterns are expanded
 * again at most once a second) is read as lines, from where canh stopped
 * last time when state_dir holds a saved offset for it. A file renamed away
 * (logrotate `create`) or deleted is read to its end, including lines
 * written to it after the rename, before its path is opened again: as soon
 * as the new file at the path holds data, or after the old one has been
 * quiet for 5 s. A file truncated in place (`copytruncate`) is read again
 * from its start: it shrank below what was read, or, when its writer wrote
 * past that again before the next poll, its first 64 bytes changed. A line still being written (no newline
 * yet) is held until its newline arrives, and handed over when its file is
 * finished (rotated, deleted or truncated). Empty lines are skipped.
 *
 * A line longer than max_msg is truncated to its first max_msg bytes or
 * dropped, as configured, and counted; the rest of it is skipped. Memory
 * is one 64 KiB read buffer plus at most max_msg + 1 bytes per file,
 * whatever the files hold. A file that cannot be read is named once
 * (CANH_WARN) and counted; the others go on.
 *
 * Files are followed by name: a pattern that also matches rotated names
 * (`app.log*` matching `app.log.1`) reads the rotated copy again as a new
 * file. Use patterns that match only the live names.
 *
 * Saved offsets (canh_follow_save) are one text file per input in
 * state_dir, written atomically: path, device, inode, offset just past the
 * last line handed over, and a SHA-256 of the file's first bytes. At start
 * a file resumes at its offset when it is still the same file (device,
 * inode and first bytes) and no shorter; a file replaced while canh was
 * stopped is read from its beginning; a file with no saved offset starts
 * as start_at_beginning says. Files that appear later are always read from
 * their beginning. Delivery is at least once: lines handed over after the
 * last save are delivered again after a crash (see canh_follow_mark).
 *
 * Ownership: canh_follow_new copies what it needs from the options; the
 * follower owns its file descriptors and buffers. A line passed to the
 * callback lives in the follower's buffers and is valid only during the
 * call. Thread: one thread (the daemon's input thread) makes every call.
 */
#ifndef CANH_FOLLOW_H
#define CANH_FOLLOW_H

#include "../canh.h"
#include "framing.h"

typedef struct canh_follow canh_follow_t;

typedef struct canh_follow_opts {
    const char *name;              /* the input's name, for messages and the state file */
    const char *const *patterns;   /* paths or glob(3) patterns */
    size_t npatterns;
    const char *state_dir;         /* canh's own writable folder for saved offsets (made if
                                      missing; see canh_dir_private); NULL: none */
    int start_at_beginning;        /* a file present at start with no saved offset: read
                                      it all (1) or only lines written from now on (0) */
    size_t max_msg;                /* longest line handed over (> 0) */
    int oversize;                  /* CANH_FRAME_TRUNCATE or CANH_FRAME_DROP */
} canh_follow_opts_t;

/* A new follower with the files present now opened (missing ones are
 * looked for at every poll), or NULL with a sentence in err: bad options,
 * a state_dir that is not a writable directory or that another user could
 * write (canh_dir_private), out of memory. A saved
 * state that cannot be read or parsed is named (CANH_WARN, with its line)
 * and ignored. */
canh_follow_t *canh_follow_new(const canh_follow_opts_t *o, char *err, size_t errlen);

/*
 * Reads what is new, at most max_bytes in this call (fairness with other
 * inputs; the files take turns), calling fn for each complete line
 * without its '\n' or a trailing '\r'. A non-zero return from fn stops the
 * call and is returned (the line counts as handed over; return a negative
 * value to tell a stop from "more waiting"). Returns 0 when everything was
 * read, 1 when more is waiting (call again soon).
 */
int canh_follow_poll(canh_follow_t *f, canh_frame_fn fn, void *ud, size_t max_bytes);

/* An inotify descriptor (non-blocking) to add to an epoll set: readable
 * means something in a followed directory changed; canh_follow_poll drains
 * it. -1 when inotify is unavailable. Only a hint: the caller must also
 * call canh_follow_poll on a timer (every 250 ms or so). */
int canh_follow_fd(const canh_follow_t *f);
/* During a callback of canh_follow_poll: which file the line comes from
 * (the same pointer for every line of one file while it is followed). */
const void *canh_follow_current(const canh_follow_t *f);
/* During a callback of canh_follow_poll: the line's file (its path, device
 * and inode) and the byte offset of its first byte in that file. */
void canh_follow_current_origin(const canh_follow_t *f, const char **path, uint64_t *dev,
                                uint64_t *ino, uint64_t *off);

/*
 * Saving offsets in two steps, so that they can be saved while lines are
 * still on their way through the pipeline: canh_follow_mark notes every
 * open file's offset now (just past the last line handed over) in memory;
 * canh_follow_write_mark writes that note to the state file (a temporary
 * file, fsync, rename) once the caller knows every line handed over before
 * the mark has been processed. Until it is written, a mark stays as it was:
 * canh_follow_mark returns 1 for it again without noting anything new. It
 * returns 0 when there is nothing to note (no state_dir, or no offset moved
 * since the last mark). canh_follow_write_mark does nothing without a mark;
 * it returns CANH_OK, or CANH_EIO with a sentence naming the file in err
 * (the mark is dropped and the next one notes the offsets again).
 */
int canh_follow_mark(canh_follow_t *f);
int canh_follow_write_mark(canh_follow_t *f, char *err, size_t errlen);
/* Both steps at once, with the offsets as they are now (a pending mark is
 * replaced): when everything handed over has been processed, such as at
 * shutdown. */
int canh_follow_save(canh_follow_t *f, char *err, size_t errlen);

typedef struct canh_follow_counts {
    uint64_t files;        /* files open now */
    uint64_t lines;        /* handed to the callback (truncated ones included) */
    uint64_t bytes;        /* read and consumed */
    uint64_t rotations;    /* a path opened again on a new file */
    uint64_t truncations;  /* a file shrank below what was read: read again from 0 */
    uint64_t truncated;    /* lines cut to max_msg */
    uint64_t dropped;      /* lines longer than max_msg dropped */
    uint64_t read_errors;  /* files that could not be opened or read (each named once) */
    uint64_t save_errors;  /* offsets that could not be saved to state_dir (each named) */
} canh_follow_counts_t;

void canh_follow_counts(const canh_follow_t *f, canh_follow_counts_t *out);

/* Closes every file. Held partial lines are not handed over: they are read
 * again after a restart (their offset was never saved). */
void canh_follow_free(canh_follow_t *f);

#endif
