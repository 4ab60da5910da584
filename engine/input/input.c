/*
 * engine/input/input.c -- what the inputs share (input.h): the table of
 * input kinds, the bound socket of a network input, stream keys.
 *
 * Runs on the daemon's input thread (run.c), before the privilege switch
 * for canh_input_bind.
 */
#include "input.h"

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

const canh_input_ops_t *canh_input_ops(int type)
{
    switch (type) {
    case CANH_INPUT_UDP: return &canh_input_udp;
    case CANH_INPUT_TCP: return &canh_input_tcp;
    case CANH_INPUT_TLS: return &canh_input_tls;
    case CANH_INPUT_STDIN: return &canh_input_stdin;
    case CANH_INPUT_PCAP: return &canh_input_pcap;
    default: return NULL;
    }
}

/* A stream key for canh_pipeline_line_from from bytes that name a sender
 * (a UDP sender's address, a Kafka message key): FNV-1a. Two senders that
 * hash alike are one stream, as without it. */
uintptr_t canh_stream_key(const void *bytes, size_t len)
{
    const unsigned char *p = bytes;
    uint64_t h = 14695981039346656037ull;
    for (size_t i = 0; i < len; i++)
        h = (h ^ p[i]) * 1099511628211ull;
    return (uintptr_t)(h | 1);   /* never 0: 0 is no stream */
}


/*
 * A bound non-blocking socket for an input, or -1 with err naming the
 * config line. UDP asks for the kernel's drop count and the configured
 * receive buffer. Called before canh gives up root (run.c's open_listeners); a TCP
 * socket listens later (run.c's listen_tcp), once canh runs, so that until then a
 * sender is refused as before, not held in the backlog.
 */
int canh_input_bind(const canh_config_t *cfg, const canh_config_input_t *ci, int type,
                    char *err, size_t errlen)
{
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = type,
                              .ai_flags = AI_PASSIVE | AI_NUMERICSERV };
    struct addrinfo *ai = NULL;
    char port[16];
    snprintf(port, sizeof(port), "%d", ci->listen_port);
    int g = getaddrinfo(ci->listen_host, port, &hints, &ai);
    if (g != 0) {
        snprintf(err, errlen, "%s:%d: input %s: cannot resolve '%s': %s", cfg->path,
                 ci->line, ci->name, ci->listen, gai_strerror(g));
        return -1;
    }
    int fd = socket(ai->ai_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), one = 1;
    if (fd >= 0 && type == SOCK_STREAM)
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (fd >= 0 && type == SOCK_DGRAM) {
        setsockopt(fd, SOL_SOCKET, SO_RXQ_OVFL, &one, sizeof(one));
        if (ci->recv_buffer) {
            int sz = ci->recv_buffer > INT32_MAX ? INT32_MAX : (int)ci->recv_buffer;
            setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
        }
    }
    if (fd < 0 || bind(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
        snprintf(err, errlen, "%s:%d: input %s: cannot listen on %s %s: %s", cfg->path,
                 ci->line, ci->name, type == SOCK_STREAM ? "tcp" : "udp", ci->listen,
                 strerror(errno));
        if (fd >= 0)
            close(fd);
        fd = -1;
    }
    freeaddrinfo(ai);
    return fd;
}

