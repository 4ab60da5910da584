/*
 * engine/canh.c -- error strings, the arena, ISO time formatting, canh's
 * own log, the escaping of values printed to a terminal or a log, and the
 * checked ways to open the folders and files canh writes (private folders,
 * no symbolic links followed).
 *
 * Thread: any. The arena is not shared between threads; canh_log writes one
 * line with one fprintf call, so lines from threads do not interleave, and
 * escapes its message first (canh_escape), so a value in it can neither
 * drive the terminal nor start a line of its own.
 */
#include "canh.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include <utf8proc.h>

const char *canh_strerror(int err)
{
    switch (err) {
    case CANH_OK:      return "success";
    case CANH_EINVAL:  return "invalid argument or input";
    case CANH_ENOMEM:  return "out of memory or table full";
    case CANH_EIO:     return "input/output error";
    case CANH_EPARSE:  return "parse error";
    case CANH_EAGAIN:  return "try again";
    case CANH_ENOTSUP: return "not supported";
    case CANH_ENOENT:  return "not found";
    default:           return "unknown error";
    }
}

int canh_slice_eq_nocase(canh_slice_t a, const char *lit)
{
    size_t n = strlen(lit);
    if (a.len != n)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (tolower((unsigned char)a.ptr[i]) != tolower((unsigned char)lit[i]))
            return 0;
    return 1;
}

struct canh_arena_chunk {
    canh_arena_chunk_t *next;
    size_t size, used;
    _Alignas(16) unsigned char data[];
};

static canh_arena_chunk_t *chunk_new(size_t size)
{
    canh_arena_chunk_t *c = malloc(sizeof(*c) + size);
    if (!c)
        return NULL;
    c->next = NULL;
    c->size = size;
    c->used = 0;
    return c;
}

void canh_arena_init(canh_arena_t *a, size_t chunk_size)
{
    a->head = a->first = NULL;
    a->chunk_size = chunk_size ? chunk_size : 16384;
}

void *canh_arena_alloc(canh_arena_t *a, size_t n)
{
    n = (n + 7) & ~(size_t)7;
    if (!a->head) {
        size_t sz = n > a->chunk_size ? n : a->chunk_size;
        if (!(a->first = a->head = chunk_new(sz)))
            return NULL;
    }
    canh_arena_chunk_t *c = a->head;
    if (c->size - c->used < n) {
        /* Reuse the next kept chunk if it is big enough, else add one. */
        canh_arena_chunk_t *nx = c->next;
        if (nx && nx->size >= n) {
            nx->used = 0;
            c = nx;
        } else {
            size_t sz = n > a->chunk_size ? n : a->chunk_size;
            canh_arena_chunk_t *fresh = chunk_new(sz);
            if (!fresh)
                return NULL;
            fresh->next = c->next;
            c->next = fresh;
            c = fresh;
        }
        a->head = c;
    }
    void *p = c->data + c->used;
    c->used += n;
    return p;
}

char *canh_arena_strndup(canh_arena_t *a, const char *s, size_t n)
{
    char *p = canh_arena_alloc(a, n + 1);
    if (!p)
        return NULL;
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

void canh_arena_reset(canh_arena_t *a)
{
    /* Keep every chunk for reuse; start filling from the first again. */
    for (canh_arena_chunk_t *c = a->first; c; c = c->next)
        c->used = 0;
    a->head = a->first;
}

void canh_arena_free(canh_arena_t *a)
{
    canh_arena_chunk_t *c = a->first;
    while (c) {
        canh_arena_chunk_t *n = c->next;
        free(c);
        c = n;
    }
    a->head = a->first = NULL;
}

int64_t canh_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t canh_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t canh_mono_ms(void)
{
    return canh_mono_ns() / 1000000;
}

#define RETRY_MIN_MS    100       /* a failed write is tried again after this, */
#define RETRY_MAX_MS    1000      /* doubling up to this */
#define RETRY_LOG_MS    30000     /* "still cannot write" this often */

int canh_retry_next(canh_retry_t *r, int64_t now, int first, int64_t stop_at)
{
    if (stop_at && now >= stop_at)
        return CANH_RETRY_GIVE_UP;
    if (first) {
        r->wait_ms = RETRY_MIN_MS;
        r->logged_ms = now;
        return CANH_RETRY_BEGAN;
    }
    if (now - r->logged_ms >= RETRY_LOG_MS) {
        r->logged_ms = now;
        return CANH_RETRY_REMIND;
    }
    return CANH_RETRY_QUIET;
}

void canh_retry_wait(canh_retry_t *r, int64_t now, int64_t stop_at)
{
    int ms = r->wait_ms;
    if (stop_at && stop_at - now < ms)
        ms = (int)(stop_at - now);
    usleep((useconds_t)ms * 1000);
    r->wait_ms = r->wait_ms * 2 > RETRY_MAX_MS ? RETRY_MAX_MS : r->wait_ms * 2;
}

double canh_cpu_seconds(clockid_t clock)
{
    struct timespec ts;
    if (clock_gettime(clock, &ts) != 0)
        return 0;
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Gregorian date of a day count since 1970-01-01 (Howard Hinnant's algorithm). */
static void civil_from_days(int64_t z, int *y, unsigned *m, unsigned *d)
{
    z += 719468;
    const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const unsigned doe = (unsigned)(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int)(yoe + era * 400 + (*m <= 2));
}

void canh_format_iso_ms(int64_t ms, char b[CANH_ISO_MS_LEN])
{
    /* Logs come in time order: the date and time of the last second are
     * kept per thread, so most calls only write the milliseconds. */
    static __thread int64_t last_secs = INT64_MIN;
    static __thread char last[19];
    int64_t secs = ms >= 0 ? ms / 1000 : (ms - 999) / 1000;
    int msec = (int)(ms - secs * 1000);
    if (secs != last_secs) {
        int64_t days = secs >= 0 ? secs / 86400 : (secs - 86399) / 86400;
        int sod = (int)(secs - days * 86400);
        int y;
        unsigned mo, d;
        civil_from_days(days, &y, &mo, &d);
        if (y < 0 || y > 9999)
            y = 0;
        char *t = last;
        t[0] = (char)('0' + y / 1000); t[1] = (char)('0' + y / 100 % 10);
        t[2] = (char)('0' + y / 10 % 10); t[3] = (char)('0' + y % 10);
        t[4] = '-'; t[5] = (char)('0' + mo / 10); t[6] = (char)('0' + mo % 10);
        t[7] = '-'; t[8] = (char)('0' + d / 10); t[9] = (char)('0' + d % 10);
        int h = sod / 3600, mi = sod / 60 % 60, sc = sod % 60;
        t[10] = 'T'; t[11] = (char)('0' + h / 10); t[12] = (char)('0' + h % 10);
        t[13] = ':'; t[14] = (char)('0' + mi / 10); t[15] = (char)('0' + mi % 10);
        t[16] = ':'; t[17] = (char)('0' + sc / 10); t[18] = (char)('0' + sc % 10);
        last_secs = secs;
    }
    memcpy(b, last, 19);
    b[19] = '.'; b[20] = (char)('0' + msec / 100); b[21] = (char)('0' + msec / 10 % 10);
    b[22] = (char)('0' + msec % 10); b[23] = 'Z';
}

int canh_log_level = CANH_LOG_INFO;
static int log_to_syslog;

void canh_log_to_syslog(const char *ident)
{
    openlog(ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
    log_to_syslog = 1;
}

void canh_log(int level, const char *fmt, ...)
{
    static const char *names[] = { "error", "warning", "info", "debug" };
    static const int prio[] = { LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG };
    if (level > canh_log_level)
        return;
    level = level < 0 ? 0 : level > 3 ? 3 : level;
    char raw[1024], msg[4 * sizeof(raw) + 8];   /* \xHH: 4 bytes for 1 */
    va_list ap;
    va_start(ap, fmt);
    int len = vsnprintf(raw, sizeof(raw), fmt, ap);
    va_end(ap);
    size_t n = len < 0 ? 0 : (size_t)len < sizeof(raw) ? (size_t)len : sizeof(raw) - 1;
    if ((size_t)len > n) {   /* cut: not inside a character */
        size_t b = n;
        while (b > 0 && n - b < 3 && ((unsigned char)raw[b - 1] & 0xc0) == 0x80)
            b--;
        unsigned char lead = b > 0 ? (unsigned char)raw[b - 1] : 0;
        size_t want = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;
        if (lead >= 0xc0 && n - (b - 1) < want)
            n = b - 1;
    }
    canh_escape(raw, n, msg, sizeof(msg));
    if (log_to_syslog)
        syslog(prio[level], "%s: %s", names[level], msg);
    else
        fprintf(stderr, "canh: %s: %s\n", names[level], msg);
}

int64_t canh_days_from_civil(int64_t y, unsigned m, unsigned d)
{
    /* Howard Hinnant's algorithm, restated. */
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned)(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

size_t canh_edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 63 || lb > 63)
        return 99;
    size_t d[64][64];
    for (size_t i = 0; i <= la; i++)
        d[i][0] = i;
    for (size_t j = 0; j <= lb; j++)
        d[0][j] = j;
    for (size_t i = 1; i <= la; i++)
        for (size_t j = 1; j <= lb; j++) {
            int ca = tolower((unsigned char)a[i - 1]), cb = tolower((unsigned char)b[j - 1]);
            size_t best = d[i - 1][j - 1] + (ca != cb);
            if (d[i - 1][j] + 1 < best)
                best = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < best)
                best = d[i][j - 1] + 1;
            if (i > 1 && j > 1 && ca == tolower((unsigned char)b[j - 2]) &&
                tolower((unsigned char)a[i - 2]) == cb && d[i - 2][j - 2] + 1 < best)
                best = d[i - 2][j - 2] + 1;
            d[i][j] = best;
        }
    return d[la][lb];
}

int canh_mkdirs(const char *path)
{
    char buf[PATH_MAX];
    if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0750) != 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    return mkdir(buf, 0750) != 0 && errno != EEXIST ? -1 : 0;
}

/* ---- folders and files canh writes ---- */

const char *canh_open_strerror(int e)
{
    if (e == ELOOP)
        return "it is a symbolic link, and canh does not write through one there; "
               "remove the link (and find out who made it)";
    return strerror(e);
}

int canh_openat_nofollow(int dirfd, const char *name, int flags, unsigned mode)
{
    return openat(dirfd, name, flags | O_NOFOLLOW | O_CLOEXEC, (mode_t)mode);
}

int canh_create_tmp(int dirfd, const char *name, unsigned mode)
{
    for (int tries = 0; tries < 2; tries++) {
        int fd = canh_openat_nofollow(dirfd, name, O_WRONLY | O_CREAT | O_EXCL, mode);
        if (fd >= 0 || errno != EEXIST)
            return fd;
        struct stat st;
        if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
            continue;   /* gone meanwhile: try again */
        if (S_ISLNK(st.st_mode)) {
            errno = ELOOP;
            return -1;
        }
        if (!S_ISREG(st.st_mode)) {
            errno = EEXIST;
            return -1;
        }
        if (unlinkat(dirfd, name, 0) != 0 && errno != ENOENT)
            return -1;
    }
    errno = EEXIST;
    return -1;
}

int canh_open_output(const char *path, int append, unsigned mode)
{
    /* links the system makes for the process's own streams, named by the
     * user: the stream itself, not a path to be wary of */
    if (!strcmp(path, "/dev/stdout") || !strcmp(path, "/dev/stderr"))
        return fcntl(path[5] == 'o' ? 1 : 2, F_DUPFD_CLOEXEC, 3);
    int flags = O_WRONLY | O_CLOEXEC | O_NOFOLLOW | (append ? O_APPEND : O_TRUNC);
    for (int tries = 0; tries < 2; tries++) {
        int fd = open(path, flags | O_CREAT | O_EXCL, (mode_t)mode);
        if (fd >= 0) {
            if (fchmod(fd, (mode_t)mode) != 0) {   /* exactly `mode`, whatever the umask */
                int e = errno;
                close(fd);
                errno = e;
                return -1;
            }
            return fd;
        }
        if (errno != EEXIST)
            return -1;
        fd = open(path, flags);   /* there already (or a link: ELOOP) */
        if (fd >= 0 || errno != ENOENT)
            return fd;
    }
    errno = EEXIST;
    return -1;
}

/* "alice" for a uid, or "uid 1234" when it has no name. */
static void user_name(uid_t uid, char *buf, size_t len)
{
    struct passwd pw, *res = NULL;
    char tmp[1024];
    if (getpwuid_r(uid, &pw, tmp, sizeof(tmp), &res) == 0 && res)
        snprintf(buf, len, "%s", res->pw_name);
    else
        snprintf(buf, len, "uid %u", (unsigned)uid);
}

int canh_dir_private(const char *what, const char *path, char *err, size_t errlen)
{
    char p[PATH_MAX];
    size_t n = strlen(path);
    if (!n || n >= sizeof(p)) {
        snprintf(err, errlen, "%s '%s': %s", what, path, n ? strerror(ENAMETOOLONG)
                                                            : "an empty name");
        return CANH_EINVAL;
    }
    memcpy(p, path, n + 1);
    while (n > 1 && p[n - 1] == '/')   /* "dir/" would follow a link at dir */
        p[--n] = '\0';
    int fd = open(p, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT) {
        char *slash = strrchr(p, '/');
        int rc = 0;
        if (slash && slash != p) {
            *slash = '\0';
            rc = canh_mkdirs(p);
            *slash = '/';
        }
        if (rc == 0 && mkdir(p, 0700) != 0 && errno != EEXIST)
            rc = -1;
        if (rc != 0) {
            snprintf(err, errlen, "%s '%s': %s", what, path, strerror(errno));
            return CANH_EIO;
        }
        fd = open(p, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    }
    struct stat st;
    if (fd < 0) {
        int e = errno;
        if (lstat(p, &st) == 0 && S_ISLNK(st.st_mode)) {
            snprintf(err, errlen, "%s '%s' is a symbolic link: canh does not follow one to the "
                     "folder it keeps its files in; name the real folder (readlink -f '%s')",
                     what, path, path);
            return CANH_EINVAL;
        }
        if (e == ENOTDIR) {
            snprintf(err, errlen, "%s '%s' is not a folder", what, path);
            return CANH_EINVAL;
        }
        snprintf(err, errlen, "%s '%s': %s", what, path, strerror(e));
        return CANH_EIO;
    }
    if (fstat(fd, &st) != 0) {
        snprintf(err, errlen, "%s '%s': %s", what, path, strerror(errno));
        close(fd);
        return CANH_EIO;
    }
    uid_t me = geteuid();
    unsigned m = (unsigned)st.st_mode & 07777;
    if ((st.st_uid != 0 && st.st_uid != me) || (m & (S_IWGRP | S_IWOTH))) {
        char owner[64], self[64];
        user_name(st.st_uid, owner, sizeof(owner));
        user_name(me, self, sizeof(self));
        char why[256];
        if (st.st_uid != 0 && st.st_uid != me)
            snprintf(why, sizeof(why), "is owned by %s, not by root or canh's user (%s)",
                     owner, self);
        else
            snprintf(why, sizeof(why), "can be written by %s",
                     (m & S_IWOTH) ? "every user" : "its group");
        snprintf(err, errlen, "%s '%s' (owner %s, mode %04o) %s: another user could plant "
                 "files or symbolic links there for canh to trust or write through, so canh "
                 "refuses it; make it canh's own (chown %s '%s' && chmod 0700 '%s') or name "
                 "another folder", what, path, owner, m, why, self, path, path);
        close(fd);
        return CANH_EINVAL;
    }
    return fd;
}

/* ---- values printed to a terminal or a log (see canh.h) ------------------ */

size_t canh_escape_char(const unsigned char *s, int32_t cp, int strict, char e[16])
{
    if (cp < 0)
        return (size_t)snprintf(e, 16, "\\x%02x", s[0]);
    if (cp == '\n' || cp == '\r' || cp == '\t') {
        e[0] = '\\';
        e[1] = cp == '\n' ? 'n' : cp == '\r' ? 'r' : 't';
        e[2] = '\0';
        return 2;
    }
    if (cp < 0x20 || cp == 0x7f)
        return (size_t)snprintf(e, 16, "\\x%02x", (unsigned)cp);
    if (cp < 0x80)
        return 0;
    int esc;
    if (strict) {
        utf8proc_category_t cat = utf8proc_category(cp);
        esc = cat == UTF8PROC_CATEGORY_CC || cat == UTF8PROC_CATEGORY_CF ||
              cat == UTF8PROC_CATEGORY_ZL || cat == UTF8PROC_CATEGORY_ZP ||
              cat == UTF8PROC_CATEGORY_CO || cat == UTF8PROC_CATEGORY_CS ||
              cat == UTF8PROC_CATEGORY_CN;
    } else {
        esc = cp <= 0x9f || cp == 0x2028 || cp == 0x2029 || (cp >= 0x202a && cp <= 0x202e) ||
              (cp >= 0x2066 && cp <= 0x2069);
    }
    return esc ? (size_t)snprintf(e, 16, "\\u{%04x}", (unsigned)cp) : 0;
}

const char *canh_escape(const char *s, size_t n, char *out, size_t outlen)
{
    if (!out || !outlen)
        return out;
    size_t o = 0, i = 0, cut = 0;   /* cut: the last end with room for "..." after it */
    while (i < n) {
        const unsigned char *p = (const unsigned char *)s + i;
        utf8proc_int32_t cp = p[0];
        utf8proc_ssize_t k = 1;
        if (p[0] >= 0x80 && (k = utf8proc_iterate(p, (utf8proc_ssize_t)(n - i), &cp)) <= 0) {
            k = 1;
            cp = -1;
        }
        char e[16];
        size_t elen = canh_escape_char(p, cp, 0, e);
        const char *w = elen ? e : (const char *)p;
        size_t wlen = elen ? elen : (size_t)k;
        if (o + wlen >= outlen) {   /* does not fit: back to where "..." does */
            o = cut;
            if (o + 3 < outlen) {
                memcpy(out + o, "...", 3);
                o += 3;
            }
            break;
        }
        memcpy(out + o, w, wlen);
        o += wlen;
        i += (size_t)k;
        if (o + 3 < outlen)
            cut = o;
    }
    out[o] = '\0';
    return out;
}

const char *canh_esc(const char *s)
{
    static __thread char ring[CANH_ESC_RING][CANH_ESC_MAX];
    static __thread unsigned next;
    char *out = ring[next++ % CANH_ESC_RING];
    return canh_escape(s ? s : "", s ? strlen(s) : 0, out, CANH_ESC_MAX);
}

/* ---- rule folders ---- */

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int walk(const char *dir, int depth, int (*want)(const char *), canh_walk_fn fn,
                void (*unreadable)(void *, const char *, const char *), void *ud, char *err,
                size_t errlen)
{
    if (depth > 32) {
        snprintf(err, errlen, "%s: folders nested too deep", dir);
        return CANH_EINVAL;
    }
    DIR *d = opendir(dir);
    if (!d) {
        snprintf(err, errlen, "%s: cannot open folder: %s", dir, strerror(errno));
        return CANH_EIO;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    int rc = CANH_OK;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 32;
            char **v = realloc(names, nc * sizeof(*v));
            if (!v) {
                rc = CANH_ENOMEM;
                break;
            }
            names = v;
            cap = nc;
        }
        if (!(names[n] = strdup(de->d_name))) {
            rc = CANH_ENOMEM;
            break;
        }
        n++;
    }
    closedir(d);
    if (rc == CANH_OK && n)
        qsort(names, n, sizeof(*names), cmp_names);
    for (size_t i = 0; i < n && rc == CANH_OK; i++) {
        char *full;
        if (asprintf(&full, "%s/%s", dir, names[i]) < 0) {
            rc = CANH_ENOMEM;
            break;
        }
        struct stat st;
        if (stat(full, &st) == 0) {
            if (S_ISDIR(st.st_mode))
                rc = walk(full, depth + 1, want, fn, unreadable, ud, err, errlen);
            else if (S_ISREG(st.st_mode) && want(names[i]))
                rc = fn(ud, full, err, errlen);
        }
        if (rc == CANH_EIO || rc == CANH_ENOENT) {   /* one unreadable file: report, go on */
            unreadable(ud, full, err);
            err[0] = '\0';
            rc = CANH_OK;
        }
        free(full);
    }
    if (rc == CANH_ENOMEM)
        snprintf(err, errlen, "%s: out of memory", dir);
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return rc;
}

int canh_walk_files(const char *dir, int (*want)(const char *name), canh_walk_fn fn,
                    void (*unreadable)(void *ud, const char *path, const char *err), void *ud,
                    char *err, size_t errlen)
{
    return walk(dir, 0, want, fn, unreadable, ud, err, errlen);
}
