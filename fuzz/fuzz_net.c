/*
 * fuzz/fuzz_net.c -- libFuzzer target: the packet path after decoding
 * (engine/network.c): flows, TCP reassembly, protocol detection and the
 * HTTP, DNS, TLS and SSH parsers, and network rules of every kind of
 * buffer, on a sequence of packets between a few endpoints, so that the
 * bytes of one input meet as the two directions of a few flows.
 *
 * Input: records of [1 byte: flags][1 byte: endpoints][2 bytes: seq
 * step][1 byte: length][length bytes of payload], until the input ends:
 *   flags       TCP flags as on the wire; bit 0 of `endpoints` chooses UDP
 *               (port 53) instead of TCP (port 80, 443 or 22 by bits 1-2)
 *   endpoints   bit 3: direction (client -> server or back); bits 4-5:
 *               which of four clients
 *   seq step    added to the direction's sequence number before the
 *               packet (0: in order; anything else: a hole, an overlap
 *               or a retransmission)
 * After the last record every flow ends (as at the end of a capture), so
 * held segments, end-of-flow inspection and freeing are exercised too.
 * Invariants: nothing reads outside its buffers (ASan), every alert's
 * event has a source and a destination address, and the share's packet
 * count is the number of records.
 *
 * Thread: libFuzzer's (one; the rule set and share are static state).
 */
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../engine/network.h"
#include "fuzz_common.h"

static const char *const RULES[] = {
    "alert tcp any any -> any any (msg:\"stream\"; content:\"evil\"; nocase; sid:1;)",
    "alert tcp any any -> any any (msg:\"relative\"; content:\"GET\"; depth:3; "
    "content:\"passwd\"; distance:0; within:64; sid:2;)",
    "alert http any any -> any any (msg:\"uri\"; flow:to_server; http.uri; content:\"/adm\"; "
    "pcre:\"/\\/adm[a-z]+/U\"; sid:3;)",
    "alert http any any -> any any (msg:\"body\"; file.data; content:\"EICAR\"; sid:4;)",
    "alert http any any -> any any (msg:\"header\"; http.header; content:\"X-\"; "
    "http.user_agent; content:\"curl\"; sid:5;)",
    "alert dns any any -> any any (msg:\"dns\"; dns.query; content:\"example\"; sid:6;)",
    "alert tls any any -> any any (msg:\"sni\"; tls.sni; content:\".vn\"; endswith; sid:7;)",
    "alert ssh any any -> any any (msg:\"ssh\"; ssh.software; content:\"libssh\"; sid:8;)",
    "alert tcp any any -> any any (msg:\"set\"; content:\"login\"; flowbits:set,in; "
    "flowbits:noalert; sid:9;)",
    "alert tcp any any -> any any (msg:\"isset\"; flowbits:isset,in; content:\"root\"; sid:10;)",
    "alert udp any any -> any 53 (msg:\"dsize\"; dsize:>200; sid:11;)",
    "alert tcp any any -> any any (msg:\"threshold\"; content:\"a\"; "
    "threshold:type both, track by_src, count 3, seconds 60; sid:12;)",
};

static canh_nids_t *nids;
static canh_net_share_t *share;
static uint64_t alerts;

static void on_refuse(void *ud, const char *file, int line, const char *id, const char *why)
{
    fprintf(stderr, "fuzz_net: rule refused: %s: %s\n", id ? id : "-", why);
    abort();
}

static void on_alert(void *ud, const canh_rule_t *rule, const canh_event_t *ev, uint64_t key,
                     uint64_t pktnum)
{
    FUZZ_CHECK(canh_event_get(ev, CANH_F_SOURCE_IP) && canh_event_get(ev, CANH_F_DESTINATION_IP),
               "an alert of %s without its addresses", rule->id);
    alerts++;
}

static void setup(void)
{
    canh_nids_rulevec_t rv = { 0 };
    canh_nids_vars_t *vars = canh_nids_vars_default();
    FUZZ_SETUP(vars, "no variables");
    for (size_t i = 0; i < sizeof(RULES) / sizeof(RULES[0]); i++)
        canh_nids_parse_rule(RULES[i], "fuzz_net", (uint32_t)i + 1, vars, &rv, on_refuse, NULL);
    canh_nids_vars_free(vars);
    char err[256];
    FUZZ_SETUP(canh_nids_build(&nids, &rv, NULL, on_refuse, NULL, err, sizeof(err)) == CANH_OK,
               "%s", err);
}

/* One TCP or UDP packet over IPv4, its headers filled as the decoder would. */
static void packet(canh_pkt_t *p, int udp, int port, int client, int to_client, uint8_t flags,
                   uint32_t seq, uint32_t ack, const uint8_t *payload, uint32_t len, int64_t ts,
                   uint64_t num)
{
    memset(p, 0, sizeof(*p));
    uint8_t c[4] = { 10, 0, 0, (uint8_t)(1 + client) }, s[4] = { 192, 0, 2, 80 };
    p->ts_us = ts;
    p->num = num;
    p->caplen = p->wirelen = 40 + len;
    p->ipver = 4;
    p->proto = udp ? IPPROTO_UDP : IPPROTO_TCP;
    p->ttl = 64;
    memcpy(p->src, to_client ? s : c, 4);
    memcpy(p->dst, to_client ? c : s, 4);
    uint16_t cport = (uint16_t)(40000 + client);
    p->sport = to_client ? (uint16_t)port : cport;
    p->dport = to_client ? cport : (uint16_t)port;
    p->tcp_flags = udp ? 0 : flags;
    p->seq = seq;
    p->ack = ack;
    p->win = 65535;
    p->payload = payload;
    p->plen = len;
    p->hash = (uint32_t)client * 2654435761u ^ (uint32_t)port;   /* one share: any value */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!nids)
        setup();
    char err[256];
    canh_net_opts_t no = { .nids = nids, .midstream = 1 };
    share = canh_net_share_new(&no, err, sizeof(err));
    FUZZ_SETUP(share, "%s", err);
    canh_net_work_t w = { .alert = on_alert, .capture = "fuzz" };
    static const int ports[] = { 80, 443, 22, 8080 };
    uint32_t seq[4][2] = { { 0 } };
    int64_t ts = 1700000000000000LL;
    uint64_t n = 0;
    size_t i = 0;
    while (i + 5 <= size) {
        uint8_t flags = data[i], ep = data[i + 1];
        uint16_t step = (uint16_t)(data[i + 2] << 8 | data[i + 3]);
        size_t len = data[i + 4];
        i += 5;
        if (len > size - i)
            len = size - i;
        int udp = ep & 1, port = udp ? 53 : ports[(ep >> 1) & 3];
        int to_client = (ep >> 3) & 1, client = (ep >> 4) & 3;
        uint32_t *sq = &seq[client][to_client];
        *sq += step;
        canh_pkt_t p;
        packet(&p, udp, port, client, to_client, flags, *sq, seq[client][!to_client],
               data + i, (uint32_t)len, ts, ++n);
        canh_net_packet(share, &w, &p, (uint32_t)n);
        if (!udp)
            *sq += (uint32_t)len + ((flags & 0x03) ? 1 : 0);   /* SYN and FIN take one */
        ts += 1000;
        i += len;
    }
    canh_net_expire(share, &w, ts, (uint32_t)n + 1);
    canh_net_end(share, &w, (uint32_t)n + 2);
    canh_net_counts_t c = { 0 };
    canh_net_counts_add(share, &c);
    FUZZ_CHECK(c.packets == n, "%llu packets counted for %llu given",
               (unsigned long long)c.packets, (unsigned long long)n);
    canh_net_share_free(share);
    share = NULL;
    return 0;
}
