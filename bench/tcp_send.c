/*
 * bench/tcp_send.c -- the load generator of the TCP benchmark (bench/tcp.sh).
 *
 * Reads the first LINES lines of a corpus file into memory, splits them
 * into CONNS contiguous slices, connects CONNS TCP connections to
 * 127.0.0.1:PORT and writes each slice with large non-blocking writes, one
 * poll() loop for all connections, as fast as the receiver takes them (a
 * slow receiver makes us wait: TCP backpressure). Newline framing, or RFC
 * 6587 octet counting (`LEN MSG`) with --octet.
 *
 * When a slice is sent, its connection is shut for writing and we wait for
 * the receiver to close it: a receiver closes on end of stream only after
 * reading every byte, so the reported time covers the receiver taking all
 * of it, not only the kernel's buffers (and a SIGTERM sent to `canh run`
 * after that cannot lose what still sat in them). With --until-file PATH
 * we then also wait until PATH holds LINES newlines (read incrementally),
 * for a receiver that writes what it got to a file (syslog-ng).
 *
 * usage: tcp_send [--conns N] [--lines N] [--octet] [--timeout S]
 *                 [--until-file PATH] PORT CORPUS
 * prints one line: "lines N bytes B conns C seconds S start_ns T cpu U": S
 * from the first connect to the last close (or to the file being
 * complete), T the wall clock (CLOCK_REALTIME, ns) at the first connect, so
 * that the caller can time what follows from the same start, without the
 * corpus loading before it; U the CPU seconds the sender used meanwhile.
 * Exit 0 done; 1 failure or timeout (every wait is bounded by --timeout,
 * default 120 s); 2 bad usage. Single-threaded.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "slurp.h"

#define MAX_CONNS  64
#define WRITE_MAX  (1u << 20)   /* bytes per send() */

typedef struct conn {
    int fd;
    const char *p;              /* what is left to send */
    size_t left;
    int shut, closed;
} conn_t;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* CPU time (user + system) this process has used */
static double cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static void usage(void)
{
    fprintf(stderr, "usage: tcp_send [--conns N] [--lines N] [--octet] [--timeout S] "
                    "[--until-file PATH] PORT CORPUS\n");
    exit(2);
}


/* Newlines in PATH from *off on; *off advances. -1 if it cannot be read yet. */
static long long count_new_lines(const char *path, off_t *off)
{
    static char buf[1 << 20];
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return -1;
    long long n = 0;
    ssize_t r;
    while ((r = pread(fd, buf, sizeof(buf), *off)) > 0) {
        for (char *p = buf, *end = buf + r; (p = memchr(p, '\n', (size_t)(end - p))); p++)
            n++;
        *off += r;
    }
    close(fd);
    return n;
}

int main(int argc, char **argv)
{
    int nconns = 1, octet = 0;
    long long want = -1;
    double timeout = 120;
    const char *until_file = NULL;
    int a = 1;
    for (; a < argc && argv[a][0] == '-' && argv[a][1] == '-'; a++) {
        if (!strcmp(argv[a], "--octet"))
            octet = 1;
        else if (a + 1 >= argc)
            usage();
        else if (!strcmp(argv[a], "--conns"))
            nconns = atoi(argv[++a]);
        else if (!strcmp(argv[a], "--lines"))
            want = atoll(argv[++a]);
        else if (!strcmp(argv[a], "--timeout"))
            timeout = atof(argv[++a]);
        else if (!strcmp(argv[a], "--until-file"))
            until_file = argv[++a];
        else
            usage();
    }
    if (argc - a != 2 || nconns < 1 || nconns > MAX_CONNS || timeout <= 0)
        usage();
    int port = atoi(argv[a]);
    if (port < 1 || port > 65535)
        usage();

    size_t len;
    char *data = bench_slurp("tcp_send", argv[a + 1], &len);
    if (!data)
        return 1;
    /* the first `want` lines (all of them if there are fewer, or no --lines) */
    size_t nlines = 0, used = 0;
    while (used < len && (want < 0 || (long long)nlines < want)) {
        char *nl = memchr(data + used, '\n', len - used);
        used = nl ? (size_t)(nl - data) + 1 : len;
        nlines++;
    }
    if (want >= 0 && (long long)nlines < want) {
        fprintf(stderr, "tcp_send: %s has %zu lines, fewer than %lld\n", argv[a + 1], nlines, want);
        return 1;
    }
    /* line starts, to cut slices on line boundaries and to frame them */
    size_t *starts = malloc((nlines + 1) * sizeof(*starts));
    if (!starts)
        return 1;
    for (size_t i = 0, off = 0; i < nlines; i++) {
        starts[i] = off;
        char *nl = memchr(data + off, '\n', used - off);
        off = nl ? (size_t)(nl - data) + 1 : used;
    }
    starts[nlines] = used;

    /* octet counting: "LEN MSG" with the line's newline left out */
    char *wire = data;
    size_t wire_len = used;
    size_t *wstarts = starts;
    if (octet) {
        wire = malloc(used + nlines * 12);
        wstarts = malloc((nlines + 1) * sizeof(*wstarts));
        if (!wire || !wstarts)
            return 1;
        size_t w = 0;
        for (size_t i = 0; i < nlines; i++) {
            size_t l = starts[i + 1] - starts[i];
            if (l && data[starts[i] + l - 1] == '\n')
                l--;
            wstarts[i] = w;
            w += (size_t)sprintf(wire + w, "%zu ", l);
            memcpy(wire + w, data + starts[i], l);
            w += l;
        }
        wstarts[nlines] = w;
        wire_len = w;
    }

    conn_t c[MAX_CONNS];
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    struct timespec start;
    clock_gettime(CLOCK_REALTIME, &start);   /* for the caller's clock (date +%s%N) */
    double cpu0 = cpu_s();
    double t0 = now_s(), deadline = t0 + timeout;
    for (int k = 0; k < nconns; k++) {
        size_t from = nlines * (size_t)k / (size_t)nconns;
        size_t to = nlines * (size_t)(k + 1) / (size_t)nconns;
        c[k] = (conn_t){ .p = wire + wstarts[from], .left = wstarts[to] - wstarts[from] };
        c[k].fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (c[k].fd < 0 || connect(c[k].fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
            fprintf(stderr, "tcp_send: connect 127.0.0.1:%d: %s\n", port, strerror(errno));
            return 1;
        }
        fcntl(c[k].fd, F_SETFL, fcntl(c[k].fd, F_GETFL) | O_NONBLOCK);
    }

    /* send every slice, then wait for every connection to be closed by the
     * receiver: it has read all we sent */
    int open_conns = nconns;
    while (open_conns > 0) {
        struct pollfd pf[MAX_CONNS];
        int map[MAX_CONNS], np = 0;
        for (int k = 0; k < nconns; k++) {
            if (c[k].closed)
                continue;
            pf[np] = (struct pollfd){ .fd = c[k].fd, .events = c[k].shut ? POLLIN : POLLOUT };
            map[np++] = k;
        }
        double left = deadline - now_s();
        if (left <= 0) {
            fprintf(stderr, "tcp_send: timed out after %.0f s with %d connections open\n",
                    timeout, open_conns);
            return 1;
        }
        int n = poll(pf, (nfds_t)np, left > 1 ? 1000 : (int)(left * 1000) + 1);
        if (n < 0 && errno != EINTR) {
            perror("tcp_send: poll");
            return 1;
        }
        for (int i = 0; i < np && n > 0; i++) {
            conn_t *x = &c[map[i]];
            if (!pf[i].revents)
                continue;
            if (!x->shut) {
                ssize_t w = send(x->fd, x->p, x->left < WRITE_MAX ? x->left : WRITE_MAX,
                                 MSG_NOSIGNAL);   /* a receiver gone is an error, not SIGPIPE */
                if (w < 0 && errno != EAGAIN && errno != EINTR) {
                    fprintf(stderr, "tcp_send: send: %s\n", strerror(errno));
                    return 1;
                }
                if (w > 0) {
                    x->p += w;
                    x->left -= (size_t)w;
                }
                if (!x->left) {
                    shutdown(x->fd, SHUT_WR);
                    x->shut = 1;
                }
            } else {
                char sink[4096];
                ssize_t r = read(x->fd, sink, sizeof(sink));
                if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
                    close(x->fd);
                    x->closed = 1;
                    open_conns--;
                }
            }
        }
    }

    /* the receiver writes what it got to a file: wait until it is all there */
    if (until_file) {
        off_t off = 0;
        long long have = 0;
        for (;;) {
            long long n = count_new_lines(until_file, &off);
            if (n > 0)
                have += n;
            if (have >= (long long)nlines)
                break;
            if (now_s() > deadline) {
                fprintf(stderr, "tcp_send: timed out after %.0f s: %s has %lld lines of %zu\n",
                        timeout, until_file, have, nlines);
                return 1;
            }
            usleep(5000);
        }
    }
    double secs = now_s() - t0;
    printf("lines %zu bytes %zu conns %d seconds %.3f start_ns %lld%09ld cpu %.3f\n", nlines,
           wire_len, nconns, secs, (long long)start.tv_sec, start.tv_nsec, cpu_s() - cpu0);
    if (octet) {
        free(wire);
        free(wstarts);
    }
    free(starts);
    free(data);
    return 0;
}
