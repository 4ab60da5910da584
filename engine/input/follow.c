/*
 * engine/input/follow.c -- files followed by name, like `tail -F` (see follow.h).
 *
 * Runs on the daemon's input thread. Each file has one descriptor, read
 * with pread at the file's own offset into a 64 KiB chunk that all files
 * share; lines are found with memchr and handed over from the chunk
 * itself, so only a line that straddles two reads is copied, into the
 * file's held buffer (at most max_msg + 1 bytes: one more than max_msg so
 * that a line of exactly max_msg bytes plus "\r" is not called too long).
 *
 * Every poll stats each path. Another file there (or none) means the one
 * we hold was rotated away or deleted: it is read to its end, and closed
 * once the next file has data or it has been quiet for QUIET_NS, and only
 * then is the path opened again. The same file, shorter than what was
 * read, was truncated. inotify on the patterns' directories only wakes
 * the caller early; the polls alone are enough.
 *
 * The state file lives in state_dir, which must be canh's own folder
 * (canh_dir_private): it is held open as a descriptor and the state file
 * and its temporary file are opened relative to it, never through a
 * symbolic link (a link planted there is named in the error, and nothing
 * is written through it).
 */
#include "follow.h"

#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#define CHUNK          (64u << 10)
#define FP_SPAN        64                  /* first bytes that identify a file */
#define GLOB_EVERY_NS  1000000000LL
#define QUIET_NS       5000000000LL        /* a rotated file quiet this long is finished */
#define STATE_HEADER   "# canh follow state 1: device inode offset sha256(first 64 bytes) path\n"

typedef struct file {
    char *path;
    int fd;                 /* -1: not open (missing, unreadable, or between two files) */
    int was_open;           /* opening another file at this path is a rotation */
    int glob;               /* found by a pattern: forgotten once it is gone */
    int seen;               /* named by the latest expansion */
    int failing;            /* an error was named: quiet until the file reads again */
    int over;               /* the held line went past max_msg + 1 bytes */
    dev_t dev;
    ino_t ino;
    off_t off;              /* next byte to read */
    off_t done;             /* just past the last line handed over: what is saved */
    int64_t gone_ns;        /* when the path stopped naming this file; 0 while it does */
    int64_t grew_ns;        /* the last read that returned bytes */
    char *buf;              /* the held line, bytes [done, off) (up to max_msg + 1 of them) */
    size_t len, cap;
    unsigned char head[FP_SPAN];   /* the file's first bytes, as read ... */
    size_t head_len;        /* ... up to min(off, FP_SPAN) of them */
} file_t;

struct canh_follow {
    file_t **files;
    size_t n, cap;
    size_t next;            /* the file that reads first in the next poll */
    char *chunk;
    size_t max_msg;
    int oversize;
    int ifd;                /* inotify, or -1 */
    int dirty;              /* an offset moved since the last mark */
    char *mark;             /* the state file's text as marked, until written; or NULL */
    size_t mark_len;
    const file_t *cur;      /* the file whose line is being handed over */
    off_t cur_off;          /* where that line starts in it */
    int64_t glob_ns;        /* when to expand the patterns again */
    char *name;
    char **patterns;
    size_t npatterns;
    char *state_dir, *state_path, *tmp_path;   /* NULL without state_dir (for messages) */
    const char *state_name, *tmp_name;         /* their last components (in state_path, tmp_path) */
    int dirfd;                                 /* state_dir, or -1 */
    canh_follow_counts_t c;
};

typedef struct saved {
    char *path;
    unsigned long long dev, ino;
    off_t off;
    unsigned char md[SHA256_DIGEST_LENGTH];
} saved_t;

static int is_glob(const char *p)
{
    return strpbrk(p, "*?[") != NULL;
}

/* Names a file's problem once, until it reads again. */
static void fail(canh_follow_t *f, file_t *e, const char *what, const char *why)
{
    if (e->failing)
        return;
    e->failing = 1;
    f->c.read_errors++;
    CANH_WARN("input %s: cannot %s '%s': %s; trying again", f->name, what, e->path, why);
}

/* SHA-256 of the file's first min(upto, FP_SPAN) bytes; -1 if they cannot be read. */
static int fingerprint(int fd, off_t upto, unsigned char md[SHA256_DIGEST_LENGTH])
{
    unsigned char b[FP_SPAN];
    size_t want = upto < FP_SPAN ? (size_t)upto : FP_SPAN;
    if (pread(fd, b, want, 0) != (ssize_t)want)
        return -1;
    SHA256(b, want, md);
    return 0;
}

/* Opens e's path at offset 0: 1 if open now, 0 if missing or not readable (named). */
static int open_file(canh_follow_t *f, file_t *e, struct stat *st)
{
    int fd = open(e->path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);   /* O_NONBLOCK: a FIFO must not hang us */
    if (fd < 0) {
        if (errno != ENOENT)
            fail(f, e, "open", strerror(errno));
        return 0;
    }
    if (fstat(fd, st) != 0 || !S_ISREG(st->st_mode)) {
        fail(f, e, "read", "not a regular file");
        close(fd);
        return 0;
    }
    if (e->was_open)
        f->c.rotations++;
    e->fd = fd;
    e->was_open = 1;
    e->failing = 0;
    e->dev = st->st_dev;
    e->ino = st->st_ino;
    e->off = e->done = 0;
    e->gone_ns = 0;
    e->len = 0;
    e->over = 0;
    e->head_len = 0;
    f->dirty = 1;
    return 1;
}

/* Holds p[0..n) of an unfinished line; past max_msg + 1 bytes it only notes
 * that the line is too long. */
static void keep(canh_follow_t *f, file_t *e, const char *p, size_t n)
{
    size_t room = f->max_msg + 1 - e->len;
    if (n > room) {
        e->over = 1;
        n = room;
    }
    if (!n)
        return;
    if (e->len + n > e->cap) {
        size_t cap = e->cap ? e->cap : 4096;
        while (cap < e->len + n)
            cap *= 2;
        if (cap > f->max_msg + 1)
            cap = f->max_msg + 1;
        char *b = realloc(e->buf, cap);
        if (!b) {   /* no memory: the line is cut where it is */
            e->over = 1;
            return;
        }
        e->buf = b;
        e->cap = cap;
    }
    memcpy(e->buf + e->len, p, n);
    e->len += n;
}

/* Hands over one complete line: what e holds followed by p[0..n). */
static int line(canh_follow_t *f, file_t *e, const char *p, size_t n, canh_frame_fn fn, void *ud)
{
    int over = 0;
    f->cur_off = e->done;   /* the held bytes, or else p, start there */
    if (e->len || e->over) {
        keep(f, e, p, n);
        p = e->buf;
        n = e->len;
        over = e->over;
        e->len = 0;
        e->over = 0;
    }
    if (!over && n && p[n - 1] == '\r')
        n--;
    if (over || n > f->max_msg) {
        if (f->oversize == CANH_FRAME_DROP) {
            f->c.dropped++;
            return 0;
        }
        f->c.truncated++;
        if (n > f->max_msg)   /* (not when memory ran out before max_msg) */
            n = f->max_msg;
    }
    if (!n)
        return 0;
    f->c.lines++;
    f->cur = e;
    return fn(ud, p, n);
}

/* The held line, when its file is finished (rotated, deleted, truncated). */
static int flush_held(canh_follow_t *f, file_t *e, canh_frame_fn fn, void *ud)
{
    if (!e->len && !e->over)
        return 0;
    int rc = line(f, e, NULL, 0, fn, ud);
    e->done = e->off;
    f->dirty = 1;
    return rc;
}

/*
 * Reads e from its offset to the end or until the budget is spent. Returns
 * 0 at the end (or on a read error, named), 1 when the budget ran out, or
 * fn's non-zero return (the rest of that chunk is read again next time).
 */
static int read_file(canh_follow_t *f, file_t *e, canh_frame_fn fn, void *ud, size_t *budget,
                     int64_t now)
{
    off_t from = e->off;
    int rc = 0;
    while (!rc) {
        if (!*budget) {
            rc = 1;
            break;
        }
        ssize_t n = pread(e->fd, f->chunk, *budget < CHUNK ? *budget : CHUNK, e->off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            fail(f, e, "read", strerror(errno));
            break;
        }
        e->failing = 0;
        if (n == 0)
            break;
        *budget -= (size_t)n;
        e->grew_ns = now;
        if (e->off < FP_SPAN && e->head_len == (size_t)e->off) {   /* its first bytes */
            size_t k = FP_SPAN - e->head_len;
            if (k > (size_t)n)
                k = (size_t)n;
            memcpy(e->head + e->head_len, f->chunk, k);
            e->head_len += k;
        }
        const char *p = f->chunk, *end = p + n, *nl;
        off_t base = e->off;
        while (!rc && (nl = memchr(p, '\n', (size_t)(end - p)))) {
            rc = line(f, e, p, (size_t)(nl - p), fn, ud);
            p = nl + 1;
            e->done = base + (p - f->chunk);
            f->dirty = 1;
        }
        if (rc) {
            e->off = e->done;
        } else {
            keep(f, e, p, (size_t)(end - p));
            e->off = base + n;
        }
    }
    f->c.bytes += (uint64_t)(e->off - from);
    return rc;
}

/*
 * Whether e still starts with the bytes it started with. A file truncated
 * in place (copytruncate) usually shrinks below what was read, but its
 * writer may have written more than that again before this poll: then only
 * its first bytes tell. They are kept as they are read (a file resumed at
 * a saved offset: as they are at its first poll), and compared at each
 * poll (one pread of at most FP_SPAN bytes). New content that begins with
 * the very same bytes is not told apart (as at restart).
 */
static int same_head(file_t *e)
{
    size_t want = e->off < FP_SPAN ? (size_t)e->off : FP_SPAN;
    if (want < e->head_len)   /* read further than off before a stop */
        want = e->head_len;
    if (!want)
        return 1;
    unsigned char b[FP_SPAN];
    ssize_t n = pread(e->fd, b, want, 0);
    if (n < 0)
        return 1;   /* a read error is named by read_file */
    if ((size_t)n < e->head_len || memcmp(b, e->head, e->head_len) != 0)
        return 0;
    if ((size_t)n > e->head_len) {   /* learn what was read since */
        memcpy(e->head, b, (size_t)n);
        e->head_len = (size_t)n;
    }
    return 1;
}

/* One file's turn: notice rotation and truncation, then read what is new. */
static int file_poll(canh_follow_t *f, file_t *e, canh_frame_fn fn, void *ud, size_t *budget,
                     int64_t now)
{
    struct stat st;
    if (e->fd < 0 && !open_file(f, e, &st))
        return 0;
    int there = stat(e->path, &st) == 0;
    int moved = !there || st.st_dev != e->dev || st.st_ino != e->ino;
    int ready = moved && there && S_ISREG(st.st_mode) && st.st_size > 0;   /* its successor has lines */
    e->gone_ns = !moved ? 0 : e->gone_ns ? e->gone_ns : now;
    if (!moved && (st.st_size < e->off || !same_head(e))) {   /* copytruncate */
        f->c.truncations++;
        e->head_len = 0;
        int rc = flush_held(f, e, fn, ud);
        e->off = e->done = 0;
        if (rc)
            return rc;
    }
    int rc = read_file(f, e, fn, ud, budget, now);
    if (rc || !moved)
        return rc;
    /* Rotated away or deleted, and read to its end. A writer that has not
     * reopened its log yet may still add a few lines: keep it until the
     * next file has data (the writer moved on) or it has been quiet. */
    int64_t last = e->grew_ns > e->gone_ns ? e->grew_ns : e->gone_ns;
    if (!ready && now - last < QUIET_NS)
        return 0;
    rc = flush_held(f, e, fn, ud);
    close(e->fd);
    e->fd = -1;
    if (rc || !ready || !open_file(f, e, &st))
        return rc;
    return read_file(f, e, fn, ud, budget, now);
}

static file_t *find(canh_follow_t *f, const char *path)
{
    for (size_t i = 0; i < f->n; i++)
        if (strcmp(f->files[i]->path, path) == 0)
            return f->files[i];
    return NULL;
}

static file_t *add(canh_follow_t *f, const char *path)
{
    if (f->n == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 8;
        file_t **v = realloc(f->files, cap * sizeof(*v));
        if (!v)
            return NULL;
        f->files = v;
        f->cap = cap;
    }
    file_t *e = calloc(1, sizeof(*e));
    if (!e || !(e->path = strdup(path))) {
        free(e);
        return NULL;
    }
    e->fd = -1;
    f->files[f->n++] = e;
    return e;
}

static void file_free(file_t *e)
{
    if (e->fd >= 0)
        close(e->fd);
    free(e->buf);
    free(e->path);
    free(e);
}

/* Marks seen every file a path or pattern names now, adding new ones (a
 * plain path is followed whether it exists or not); forgets files found
 * by a pattern that are closed and no longer there. */
static int expand(canh_follow_t *f)
{
    int rc = CANH_OK;
    for (size_t i = 0; i < f->n; i++)
        f->files[i]->seen = 0;
    for (size_t p = 0; p < f->npatterns; p++) {
        const char *pat = f->patterns[p];
        if (!is_glob(pat)) {
            file_t *e = find(f, pat);
            if (!e && !(e = add(f, pat)))
                return CANH_ENOMEM;
            e->glob = 0;
            e->seen = 1;
            continue;
        }
        glob_t g;
        int grc = glob(pat, GLOB_MARK, NULL, &g);   /* GLOB_MARK: directories end in '/' */
        for (size_t k = 0; grc == 0 && k < g.gl_pathc; k++) {
            const char *path = g.gl_pathv[k];
            if (path[strlen(path) - 1] == '/')
                continue;
            file_t *e = find(f, path);
            if (!e && (e = add(f, path)))
                e->glob = 1;
            if (!e) {
                rc = CANH_ENOMEM;
                break;
            }
            e->seen = 1;
        }
        globfree(&g);
    }
    size_t k = 0;
    for (size_t i = 0; i < f->n; i++) {
        file_t *e = f->files[i];
        if (e->glob && !e->seen && e->fd < 0)
            file_free(e);
        else
            f->files[k++] = e;
    }
    f->n = k;
    return rc;
}

static int unhex(const char *s, unsigned char *out, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        if (sscanf(s + 2 * i, "%2x", &v) != 1)
            return -1;
        out[i] = (unsigned char)v;
    }
    return 0;
}

static void saved_free(saved_t *sv, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(sv[i].path);
    free(sv);
}

/* The saved offsets, or none: a state file that cannot be read or parsed
 * is named, with its line, and ignored. */
static saved_t *load_state(canh_follow_t *f, size_t *nout)
{
    *nout = 0;
    int fd = canh_openat_nofollow(f->dirfd, f->state_name, O_RDONLY, 0);
    FILE *in = fd >= 0 ? fdopen(fd, "r") : NULL;
    if (!in) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        if (e != ENOENT)
            CANH_WARN("input %s: cannot read the saved offsets in '%s': %s; starting without them",
                      f->name, f->state_path, canh_open_strerror(e));
        return NULL;
    }
    saved_t *sv = NULL;
    size_t n = 0, cap = 0, lcap = 0;
    char *buf = NULL;
    ssize_t len;
    int lineno = 0;
    const char *bad = NULL;
    while (!bad && (len = getline(&buf, &lcap, in)) > 0) {
        lineno++;
        if (buf[0] == '#')
            continue;
        saved_t s;
        long long off;
        char hex[2 * SHA256_DIGEST_LENGTH + 1];
        int at = 0;
        if (buf[len - 1] != '\n' ||
            sscanf(buf, "%llu %llu %lld %64[0-9a-f]%n", &s.dev, &s.ino, &off, hex, &at) != 4 ||
            strlen(hex) != 2 * SHA256_DIGEST_LENGTH || unhex(hex, s.md, sizeof(s.md)) ||
            off < 0 || buf[at] != ' ' || at + 2 >= len) {
            bad = "not a saved offset (device inode offset sha256 path)";
            break;
        }
        buf[len - 1] = '\0';
        s.off = (off_t)off;
        if (n == cap) {
            saved_t *v = realloc(sv, (cap = cap ? cap * 2 : 16) * sizeof(*v));
            if (!v) {
                bad = "out of memory";
                break;
            }
            sv = v;
        }
        if (!(s.path = strdup(buf + at + 1))) {
            bad = "out of memory";
            break;
        }
        sv[n++] = s;
    }
    if (!bad && ferror(in))
        bad = strerror(errno);
    if (bad) {
        CANH_WARN("input %s: %s:%d: %s; ignoring the saved offsets (files start as start_at says)",
                  f->name, f->state_path, lineno, bad);
        saved_free(sv, n);
        sv = NULL;
        n = 0;
    }
    free(buf);
    fclose(in);
    *nout = n;
    return sv;
}

/* start_at end: from the start of an unfinished last line (a writer may be
 * in the middle of it), else from the end. */
static off_t end_offset(canh_follow_t *f, int fd, off_t size)
{
    off_t from = size > CHUNK ? size - CHUNK : 0;
    ssize_t n = pread(fd, f->chunk, (size_t)(size - from), from);
    if (n <= 0)
        return size;
    const char *nl = memrchr(f->chunk, '\n', (size_t)n);
    return nl ? from + (nl - f->chunk) + 1 : from ? size : 0;
}

/* Where a file present at start begins: at its saved offset when it is
 * still that file, at 0 when it was replaced, else as start_at says. */
static off_t start_offset(canh_follow_t *f, file_t *e, const struct stat *st,
                          const saved_t *sv, size_t nsv, int beginning)
{
    for (size_t i = 0; i < nsv; i++) {
        if (strcmp(sv[i].path, e->path) != 0)
            continue;
        unsigned char md[SHA256_DIGEST_LENGTH];
        if (sv[i].dev == (unsigned long long)st->st_dev &&
            sv[i].ino == (unsigned long long)st->st_ino && sv[i].off <= st->st_size &&
            fingerprint(e->fd, sv[i].off, md) == 0 && memcmp(md, sv[i].md, sizeof(md)) == 0)
            return sv[i].off;
        CANH_INFO("input %s: '%s' was replaced or truncated while canh was stopped; "
                  "reading it from the beginning", f->name, e->path);
        return 0;
    }
    return beginning ? 0 : end_offset(f, e->fd, st->st_size);
}

/* An inotify watch on the directory of each pattern (unless the directory
 * part is itself a pattern, or missing: the polls find those files). */
static void watch_dirs(canh_follow_t *f)
{
    for (size_t p = 0; p < f->npatterns; p++) {
        const char *pat = f->patterns[p], *slash = strrchr(pat, '/');
        char *dir = !slash ? strdup(".") : strndup(pat, slash == pat ? 1 : (size_t)(slash - pat));
        if (dir && !is_glob(dir))
            inotify_add_watch(f->ifd, dir, IN_MODIFY | IN_CREATE | IN_DELETE | IN_MOVED_FROM |
                                               IN_MOVED_TO | IN_ATTRIB);
        free(dir);
    }
}

void canh_follow_free(canh_follow_t *f)
{
    if (!f)
        return;
    for (size_t i = 0; i < f->n; i++)
        file_free(f->files[i]);
    free(f->files);
    for (size_t p = 0; p < f->npatterns; p++)
        free(f->patterns[p]);
    free(f->patterns);
    if (f->ifd >= 0)
        close(f->ifd);
    if (f->dirfd >= 0)
        close(f->dirfd);
    free(f->chunk);
    free(f->name);
    free(f->state_dir);
    free(f->state_path);
    free(f->tmp_path);
    free(f->mark);
    free(f);
}

/* state_dir/follow-NAME.state, NAME with every byte but [A-Za-z0-9._-] as '_'. */
static int state_paths(canh_follow_t *f, const char *dir)
{
    size_t n = strlen(dir) + strlen(f->name) + sizeof("/follow-.state.tmp");
    if (!(f->state_dir = strdup(dir)) || !(f->state_path = malloc(n)) ||
        !(f->tmp_path = malloc(n)))
        return CANH_ENOMEM;
    int k = snprintf(f->state_path, n, "%s/follow-", dir);
    for (const char *c = f->name; *c; c++)
        f->state_path[k++] = strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                    "0123456789._-", *c) ? *c : '_';
    strcpy(f->state_path + k, ".state");
    snprintf(f->tmp_path, n, "%s.tmp", f->state_path);
    f->state_name = strrchr(f->state_path, '/') + 1;
    f->tmp_name = strrchr(f->tmp_path, '/') + 1;
    return CANH_OK;
}

canh_follow_t *canh_follow_new(const canh_follow_opts_t *o, char *err, size_t errlen)
{
    if (!o || !o->name || !o->patterns || !o->npatterns || !o->max_msg ||
        (o->oversize != CANH_FRAME_TRUNCATE && o->oversize != CANH_FRAME_DROP)) {
        snprintf(err, errlen, "file input: bad options (a name, at least one path, "
                 "a maximum message size and truncate or drop are needed)");
        return NULL;
    }
    for (size_t p = 0; p < o->npatterns; p++)
        if (!o->patterns[p] || !o->patterns[p][0]) {
            snprintf(err, errlen, "input %s: path %zu is empty", o->name, p + 1);
            return NULL;
        }
    struct stat st;
    int dirfd = -1;
    if (o->state_dir) {
        char derr[512];
        if ((dirfd = canh_dir_private("state_dir", o->state_dir, derr, sizeof(derr))) < 0) {
            snprintf(err, errlen, "input %s: %s", o->name, derr);
            return NULL;
        }
        if (faccessat(dirfd, ".", W_OK | X_OK, AT_EACCESS) != 0) {
            snprintf(err, errlen, "input %s: state_dir '%s' is not a writable directory: %s",
                     o->name, o->state_dir, strerror(errno));
            close(dirfd);
            return NULL;
        }
    }
    canh_follow_t *f = calloc(1, sizeof(*f));
    if (!f) {
        if (dirfd >= 0)
            close(dirfd);
        goto nomem;
    }
    f->ifd = -1;
    f->dirfd = dirfd;
    f->max_msg = o->max_msg;
    f->oversize = o->oversize;
    if (!(f->name = strdup(o->name)) || !(f->chunk = malloc(CHUNK)) ||
        !(f->patterns = calloc(o->npatterns, sizeof(char *))))
        goto nomem;
    for (; f->npatterns < o->npatterns; f->npatterns++)
        if (!(f->patterns[f->npatterns] = strdup(o->patterns[f->npatterns])))
            goto nomem;
    if (o->state_dir && state_paths(f, o->state_dir) != CANH_OK)
        goto nomem;
    if (expand(f) != CANH_OK)
        goto nomem;

    size_t nsv = 0;
    saved_t *sv = f->state_path ? load_state(f, &nsv) : NULL;
    for (size_t i = 0; i < f->n; i++) {
        file_t *e = f->files[i];
        if (open_file(f, e, &st))
            e->off = e->done = start_offset(f, e, &st, sv, nsv, o->start_at_beginning);
    }
    saved_free(sv, nsv);

    f->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (f->ifd >= 0)
        watch_dirs(f);
    f->glob_ns = canh_mono_ns() + GLOB_EVERY_NS;
    return f;
nomem:
    snprintf(err, errlen, "input %s: out of memory", o->name);
    canh_follow_free(f);
    return NULL;
}

int canh_follow_poll(canh_follow_t *f, canh_frame_fn fn, void *ud, size_t max_bytes)
{
    if (f->ifd >= 0) {
        char ev[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
        while (read(f->ifd, ev, sizeof(ev)) > 0)
            ;
    }
    int64_t now = canh_mono_ns();
    if (now >= f->glob_ns) {
        expand(f);   /* out of memory: a new file waits for the next expansion */
        f->glob_ns = now + GLOB_EVERY_NS;
    }
    size_t budget = max_bytes;
    for (size_t k = 0; k < f->n; k++) {
        size_t i = (f->next + k) % f->n;
        int rc = file_poll(f, f->files[i], fn, ud, &budget, now);
        if (rc) {
            f->next = i + 1;   /* the others go first next time */
            return rc;
        }
    }
    return 0;
}

const void *canh_follow_current(const canh_follow_t *f)
{
    return f->cur;
}

void canh_follow_current_origin(const canh_follow_t *f, const char **path, uint64_t *dev,
                                uint64_t *ino, uint64_t *off)
{
    const file_t *e = f->cur;
    *path = e ? e->path : NULL;
    *dev = e ? (uint64_t)e->dev : 0;
    *ino = e ? (uint64_t)e->ino : 0;
    *off = e ? (uint64_t)f->cur_off : 0;
}

int canh_follow_fd(const canh_follow_t *f)
{
    return f->ifd;
}

int canh_follow_mark(canh_follow_t *f)
{
    if (f->mark)
        return 1;   /* the pending one stays until it is written */
    if (!f->state_path || !f->dirty)
        return 0;
    size_t len = 0;
    FILE *m = open_memstream(&f->mark, &len);
    if (!m)
        return 0;   /* out of memory: the next mark tries again */
    fputs(STATE_HEADER, m);
    for (size_t i = 0; i < f->n; i++) {
        file_t *e = f->files[i];
        unsigned char md[SHA256_DIGEST_LENGTH];
        if (e->fd < 0 || strchr(e->path, '\n') || fingerprint(e->fd, e->done, md) != 0)
            continue;   /* nothing to resume (or a path a line cannot hold) */
        fprintf(m, "%llu %llu %lld ", (unsigned long long)e->dev, (unsigned long long)e->ino,
                (long long)e->done);
        for (size_t k = 0; k < sizeof(md); k++)
            fprintf(m, "%02x", md[k]);
        fprintf(m, " %s\n", e->path);
    }
    if (fclose(m) != 0 || !f->mark) {
        free(f->mark);
        f->mark = NULL;
        return 0;
    }
    f->mark_len = len;
    f->dirty = 0;
    return 1;
}

int canh_follow_write_mark(canh_follow_t *f, char *err, size_t errlen)
{
    if (!f->mark)
        return CANH_OK;
    int fd = canh_create_tmp(f->dirfd, f->tmp_name, 0600);
    int ok = fd >= 0, e = ok ? 0 : errno;
    for (size_t at = 0; ok && at < f->mark_len;) {
        ssize_t n = write(fd, f->mark + at, f->mark_len - at);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            ok = 0, e = errno;
        else
            at += (size_t)n;
    }
    if (ok && fsync(fd) != 0)
        ok = 0, e = errno;
    if (fd >= 0 && close(fd) != 0 && ok)
        ok = 0, e = errno;
    if (ok && renameat(f->dirfd, f->tmp_name, f->dirfd, f->state_name) != 0)
        ok = 0, e = errno;
    free(f->mark);
    f->mark = NULL;
    if (!ok) {
        snprintf(err, errlen, "input %s: cannot save the file offsets to '%s': %s", f->name,
                 fd < 0 ? f->tmp_path : f->state_path, canh_open_strerror(e ? e : EIO));
        if (fd >= 0)
            unlinkat(f->dirfd, f->tmp_name, 0);
        f->c.save_errors++;
        f->dirty = 1;   /* the next mark tries again */
        return CANH_EIO;
    }
    fsync(f->dirfd);   /* make the rename durable */
    return CANH_OK;
}

int canh_follow_save(canh_follow_t *f, char *err, size_t errlen)
{
    if (f->mark) {   /* older than the offsets now: mark again */
        free(f->mark);
        f->mark = NULL;
        f->dirty = 1;
    }
    canh_follow_mark(f);
    return canh_follow_write_mark(f, err, errlen);
}

void canh_follow_counts(const canh_follow_t *f, canh_follow_counts_t *out)
{
    *out = f->c;
    out->files = 0;
    for (size_t i = 0; i < f->n; i++)
        out->files += f->files[i]->fd >= 0;
}
