/*
 * engine/input/source_file.c -- reads a file or stdin as lines (see source_file.h).
 *
 * One buffer per call; it starts at 128 KiB and doubles only for a line longer
 * than the buffer. No per-line allocation.
 */
#include "source_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#define READ_BLOCK (128u << 10)   /* fits in L2: lines are copied on from cache */

int canh_file_open(const char *path, int *fd_out, char *err, size_t errlen)
{
    int fd = strcmp(path, "-") == 0 ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        snprintf(err, errlen, "cannot open '%s': %s", path, strerror(e));
        return e == ENOENT ? CANH_ENOENT : CANH_EIO;
    }
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "'%s' is a directory, not a log file", path);
        close(fd);
        return CANH_EIO;
    }
    *fd_out = fd;
    return CANH_OK;
}

int canh_file_read_lines(const char *path, canh_line_fn fn, void *ud,
                         uint64_t *bytes, char *err, size_t errlen)
{
    int fd, orc = canh_file_open(path, &fd, err, errlen);
    if (orc != CANH_OK)
        return orc;
    size_t cap = READ_BLOCK, len = 0;
    char *buf = malloc(cap);
    if (!buf) {
        snprintf(err, errlen, "out of memory reading '%s'", path);
        if (fd != STDIN_FILENO)
            close(fd);
        return CANH_ENOMEM;
    }
    uint64_t total = 0;
    int rc = CANH_OK, stop = 0;
    for (;;) {
        if (len == cap) {   /* one line fills the whole buffer: grow it */
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                snprintf(err, errlen, "out of memory: a line in '%s' is longer than %zu bytes",
                         path, cap);
                rc = CANH_ENOMEM;
                break;
            }
            buf = nb;
            cap *= 2;
        }
        ssize_t n = read(fd, buf + len, cap - len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            snprintf(err, errlen, "read error in '%s' after %llu bytes: %s", path,
                     (unsigned long long)total, strerror(errno));
            rc = CANH_EIO;
            break;
        }
        if (n == 0) {
            if (len) {   /* last line without newline */
                size_t l = len;
                if (buf[l - 1] == '\r')
                    l--;
                fn(ud, buf, l);
            }
            break;
        }
        total += (uint64_t)n;
        len += (size_t)n;
        char *p = buf, *end = buf + len, *nl;
        while ((nl = memchr(p, '\n', (size_t)(end - p)))) {
            size_t l = (size_t)(nl - p);
            if (l && p[l - 1] == '\r')
                l--;
            if (fn(ud, p, l)) {
                stop = 1;
                break;
            }
            p = nl + 1;
        }
        if (stop)
            break;
        len = (size_t)(end - p);
        memmove(buf, p, len);
    }
    free(buf);
    if (fd != STDIN_FILENO)
        close(fd);
    if (bytes)
        *bytes = total;
    return rc;
}
