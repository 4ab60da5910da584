/*
 * engine/canh.h -- what every canh file shares: error codes, byte slices,
 * the per-event arena, and the log macros for canh's own messages.
 *
 * Errors: 0 is success, every error is a named negative value. Functions
 * that set things up also write a sentence for the user into (err, errlen).
 * Slices ({ptr, len}) are not NUL-terminated and borrow their bytes; the
 * owner is always the batch, the line buffer or the arena named by the
 * caller. A copy is always explicit.
 *
 * Thread: any. Nothing here holds global state except the log level.
 */
#ifndef CANH_CANH_H
#define CANH_CANH_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#define CANH_VERSION "0.1.0"

#define CANH_OK        0
#define CANH_EINVAL   -1  /* bad argument or bad input */
#define CANH_ENOMEM   -2  /* out of memory or out of a fixed-size table */
#define CANH_EIO      -3  /* a read, write or open failed (see errno) */
#define CANH_EPARSE   -4  /* input not in the expected form */
#define CANH_EAGAIN   -5  /* not now: full or empty; try again later */
#define CANH_ENOTSUP  -6  /* valid, but canh does not support it */
#define CANH_ENOENT   -7  /* no such file, field, rule */

const char *canh_strerror(int err);

typedef struct canh_slice {
    const char *ptr;
    size_t len;
} canh_slice_t;

#define CANH_SLICE(lit) ((canh_slice_t){ (lit), sizeof(lit) - 1 })

static inline canh_slice_t canh_slice(const char *p, size_t n)
{
    canh_slice_t s = { p, n };
    return s;
}

static inline canh_slice_t canh_slice_cstr(const char *s)
{
    return canh_slice(s, s ? strlen(s) : 0);
}

static inline int canh_slice_eq(canh_slice_t a, const char *lit)
{
    size_t n = strlen(lit);
    return a.len == n && memcmp(a.ptr, lit, n) == 0;
}

int canh_slice_eq_nocase(canh_slice_t a, const char *lit);

/*
 * Arena: a bump allocator made of chunks, reset as a whole (never freed
 * object by object). Each event or batch owns one; reset keeps the first
 * chunk so steady state does no malloc.
 */
typedef struct canh_arena_chunk canh_arena_chunk_t;
typedef struct canh_arena {
    canh_arena_chunk_t *head;   /* chunk being filled */
    canh_arena_chunk_t *first;  /* kept across resets */
    size_t chunk_size;
} canh_arena_t;

void  canh_arena_init(canh_arena_t *a, size_t chunk_size);
void *canh_arena_alloc(canh_arena_t *a, size_t n);   /* 8-byte aligned; NULL on ENOMEM */
char *canh_arena_strndup(canh_arena_t *a, const char *s, size_t n); /* NUL-terminated copy */
void  canh_arena_reset(canh_arena_t *a);
void  canh_arena_free(canh_arena_t *a);

/* Wall-clock time in ms since the epoch (for event and alert times), and a
 * monotonic clock in ns and in ms (for durations and timers). */
int64_t canh_now_ms(void);
int64_t canh_mono_ns(void);
int64_t canh_mono_ms(void);

/* A write that keeps failing (a full disk, a quota), tried again until it
 * works: the alerts file and the Kafka spool pace their tries and their
 * log lines with this. canh_retry_next says what the failure at `now`
 * calls for: give up (stop_at, a monotonic ms, has passed; 0: never), log
 * that it began (`first`), remind (RETRY_LOG_MS after the last line), or
 * nothing; then canh_retry_wait sleeps 0.1 s, doubling to 1 s, never past
 * stop_at. The caller's own thread only. */
enum { CANH_RETRY_QUIET, CANH_RETRY_BEGAN, CANH_RETRY_REMIND, CANH_RETRY_GIVE_UP };
typedef struct canh_retry {
    int64_t logged_ms;          /* when the failure was last logged */
    int wait_ms;                /* the next wait */
} canh_retry_t;
int canh_retry_next(canh_retry_t *r, int64_t now, int first, int64_t stop_at);
void canh_retry_wait(canh_retry_t *r, int64_t now, int64_t stop_at);
/* CPU time in seconds of a CPU-time clock: CLOCK_THREAD_CPUTIME_ID for the
 * calling thread, pthread_getcpuclockid for another (0 if unreadable). */
double  canh_cpu_seconds(clockid_t clock);

/* ISO 8601 UTC with milliseconds, "2026-11-23T09:00:00.123Z" (24 bytes, no NUL). */
#define CANH_ISO_MS_LEN 24
void canh_format_iso_ms(int64_t ms, char out[CANH_ISO_MS_LEN]);

/* canh's own log: stderr (or syslog, facility daemon, once
 * canh_log_to_syslog is called), with a level. Never once per event. */
enum { CANH_LOG_ERROR = 0, CANH_LOG_WARN, CANH_LOG_INFO, CANH_LOG_DEBUG };
extern int canh_log_level;
void canh_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void canh_log_to_syslog(const char *ident);
#define CANH_ERR(...)  canh_log(CANH_LOG_ERROR, __VA_ARGS__)
#define CANH_WARN(...) canh_log(CANH_LOG_WARN, __VA_ARGS__)
#define CANH_INFO(...) canh_log(CANH_LOG_INFO, __VA_ARGS__)

/* mkdir -p (mode 0750); 0, or -1 with errno. */
int canh_mkdirs(const char *path);

/*
 * Folders and files canh writes. Nothing canh writes is reached through a
 * symbolic link at the last component of its name, and the folders it
 * keeps state in can be written by nobody but root and canh's own user,
 * so no one can plant a link or a file there for canh (often root) to
 * write through or to trust.
 *
 * canh_dir_private: opens the folder `path`, making it (mode 0700; missing
 * parents as canh_mkdirs makes them) if it is not there. It must be a
 * folder, not a symbolic link, owned by root or by the effective user, and
 * not writable by its group or others. Returns the folder's descriptor
 * (O_DIRECTORY, close-on-exec; the caller opens files relative to it with
 * openat, so a folder renamed or swapped later changes nothing), or a
 * negative code with a sentence in err naming `what` ("state_dir", "spool
 * folder"), the folder and, when it is refused, its owner and mode and what
 * to do: CANH_EIO when it cannot be made or opened (errno), CANH_EINVAL
 * when it is there but refused (a symbolic link, not a folder, another
 * user's, writable by its group or others).
 */
int canh_dir_private(const char *what, const char *path, char *err, size_t errlen);

/* openat with O_NOFOLLOW | O_CLOEXEC added: a symbolic link at name fails
 * with ELOOP (canh_open_strerror says so in words). */
int canh_openat_nofollow(int dirfd, const char *name, int flags, unsigned mode);

/* A new temporary file `name` in dirfd, opened O_WRONLY | O_CREAT | O_EXCL
 * (never through a link). A regular file of that name (left by a run that
 * stopped half way) is removed first; anything else there (a symbolic
 * link, a folder) is left alone and the call fails: ELOOP for a link,
 * EEXIST otherwise. Returns the descriptor or -1 with errno. */
int canh_create_tmp(int dirfd, const char *name, unsigned mode);

/* An output file (alerts, stats) opened for writing, appending or
 * truncating, without following a symbolic link at its last component.
 * A file it creates gets exactly `mode` (the umask does not narrow or
 * widen it); an existing file keeps its mode (logrotate's `create` gives
 * one). /dev/stdout and /dev/stderr are the process's own streams (a
 * duplicate of fd 1 or 2). Returns the descriptor (close-on-exec) or -1
 * with errno. */
int canh_open_output(const char *path, int append, unsigned mode);

/* strerror(e), except that ELOOP (what O_NOFOLLOW answers for a symbolic
 * link) says that the name is a symbolic link canh does not follow. */
const char *canh_open_strerror(int e);

/*
 * A rule folder, walked: fn(ud, path) for every regular file under dir
 * whose name want() accepts, in sorted order (folders depth first, at most
 * 32 levels; names starting with '.' skipped). A file fn could not read
 * (it returns CANH_EIO or CANH_ENOENT, err saying why) goes to
 * unreadable(ud, path, err) and the walk goes on; any other error stops
 * it. CANH_OK, or the error with err set (CANH_EIO: a folder cannot be
 * opened; CANH_EINVAL: nested too deep; CANH_ENOMEM).
 */
typedef int (*canh_walk_fn)(void *ud, const char *path, char *err, size_t errlen);
int canh_walk_files(const char *dir, int (*want)(const char *name), canh_walk_fn fn,
                    void (*unreadable)(void *ud, const char *path, const char *err), void *ud,
                    char *err, size_t errlen);

/* Days from 1970-01-01 to a date of the proleptic Gregorian calendar. */
int64_t canh_days_from_civil(int64_t y, unsigned m, unsigned d);

/* Edits between two words (insertions, deletions, substitutions and
 * swaps of neighbours: optimal string alignment), ignoring ASCII case;
 * 99 when either is longer than 63 bytes. For "did you mean ...?". */
size_t canh_edit_distance(const char *a, const char *b);

#define CANH_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/*
 * ---- values printed to a terminal or a log ----
 *
 * A value canh did not write itself (a host name, a rule title, a path, a
 * sample line) can carry bytes that a terminal obeys (ESC sequences that
 * clear the screen or retitle the window) or a log reader splits on (a
 * newline that forges a "canh: info:" line). Such bytes are written as
 * escapes: C0 controls as \n, \r, \t or \xHH, DEL as \x7f, C1 controls
 * written in UTF-8 (U+0080..U+009F) as \u{0085}, the line and paragraph
 * separators U+2028 and U+2029 and the bidirectional overrides and
 * isolates (U+202A..U+202E, U+2066..U+2069) as \u{202e}, and every byte
 * that is not part of well-formed UTF-8 as \xHH. Everything else, any
 * script's letters (Vietnamese "Bình Phước" included), is kept as it is;
 * a backslash too (a Windows path stays readable), so an escape is not
 * always told from the same text sent literally.
 *
 * canh_log escapes every message it writes. Output printed without it
 * (the scan summary, `canh stats`, `canh rules`, parse-error lines) wraps
 * each outside value in canh_esc. Thread: any.
 */

/* s (n bytes) escaped into out, NUL-terminated. A value that does not fit
 * in outlen is cut after a whole character or escape and ends in "...".
 * Returns out. */
const char *canh_escape(const char *s, size_t n, char *out, size_t outlen);

/* The escape of one character into e (NUL-terminated) and its length, or
 * 0 when it prints as it is: cp is the code point at s, or -1 when s[0]
 * is a byte that is not UTF-8 (\xHH). C0 controls and DEL are escaped
 * (\n, \r, \t, \xHH); of the rest, C1 controls, line and paragraph
 * separators and bidirectional overrides, or with `strict` every control,
 * format, separator, private-use, surrogate and unassigned character
 * (\u{HHHH}). canh_escape is this without `strict`; canh explain, strict. */
size_t canh_escape_char(const unsigned char *s, int32_t cp, int strict, char e[16]);

/* A NUL-terminated string (NULL prints as "") escaped into one of
 * CANH_ESC_RING buffers of this thread, each CANH_ESC_MAX bytes: for one
 * printf with up to CANH_ESC_RING values; each result is valid until the
 * CANH_ESC_RING-th next call on the thread. */
#define CANH_ESC_RING 8
#define CANH_ESC_MAX  2048
const char *canh_esc(const char *s);

#endif
