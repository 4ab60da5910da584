/*
 * bench/slurp.h -- reads a whole file into memory, for the benchmark
 * senders (tcp_send.c, kafka_produce.c), so that reading it is not timed.
 * Thread: the caller's.
 */
#ifndef CANH_BENCH_SLURP_H
#define CANH_BENCH_SLURP_H

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The whole file (NUL-terminated, *len bytes), or NULL with a message
 * that starts with `prog`. */
static inline char *bench_slurp(const char *prog, const char *path, size_t *len)
{
    int fd = open(path, O_RDONLY);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        fprintf(stderr, "%s: %s: %s\n", prog, path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    char *b = malloc((size_t)st.st_size + 1);
    size_t got = 0;
    while (b && got < (size_t)st.st_size) {
        ssize_t n = read(fd, b + got, (size_t)st.st_size - got);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    if (!b || got != (size_t)st.st_size) {
        fprintf(stderr, "%s: %s: cannot read it whole\n", prog, path);
        free(b);
        return NULL;
    }
    b[got] = '\0';
    *len = got;
    return b;
}

#endif
