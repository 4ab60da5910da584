/*
 * parsers/packet/packet.h -- a decoded packet, and the decoder that makes it.
 *
 * This header is the contract between the packet path's parts:
 *   decode (parsers/packet/decode.c, defrag.c)  frame bytes -> canh_pkt_t
 *   flows and streams (parsers/packet/flow.h)   canh_pkt_t -> flow, in-order bytes
 *   protocols (parsers/app/app.h)               in-order bytes -> fields
 *   network rules (engine/detect/nids.h)        packet, flow, fields -> alerts
 *
 * The decoder reads a frame of a libpcap link type (Ethernet with 802.1Q and
 * QinQ tags, Linux cooked SLL and SLL2, raw IP, BSD loopback), then IPv4
 * (fragments reassembled) or IPv6 (extension headers walked, fragments
 * reassembled), then TCP, UDP, ICMP or ICMPv6. A frame that is malformed or
 * truncated is counted by reason and skipped; no byte sequence makes it
 * read outside the frame. A fragment is held until its datagram is whole
 * (with a timeout and a memory cap on held fragments, counted when hit).
 *
 * Thread: a decoder belongs to one thread (the packet reader). A packet's
 * pointers are valid until the next canh_decode call on the same decoder
 * (a reassembled datagram lives in the decoder), or, after canh_pkt_copy,
 * as long as the copy's bytes.
 */
#ifndef CANH_PACKET_H
#define CANH_PACKET_H

#include <stddef.h>
#include <stdint.h>

/* TCP flags as on the wire. */
enum {
    CANH_TCP_FIN = 0x01, CANH_TCP_SYN = 0x02, CANH_TCP_RST = 0x04, CANH_TCP_PSH = 0x08,
    CANH_TCP_ACK = 0x10, CANH_TCP_URG = 0x20, CANH_TCP_ECE = 0x40, CANH_TCP_CWR = 0x80,
};

typedef struct canh_pkt {
    /* the capture */
    int64_t ts_us;              /* capture time, microseconds since the epoch */
    uint64_t num;               /* 1-based number of the frame in its capture (for a
                                   reassembled datagram: its last fragment's) */
    uint32_t caplen, wirelen;   /* bytes captured, bytes on the wire */
    /* layer 2 */
    uint16_t vlan[2];           /* 802.1Q ids, outer first */
    uint8_t nvlan;
    /* layer 3 */
    uint8_t ipver;              /* 4 or 6 */
    uint8_t proto;              /* IPPROTO_TCP, _UDP, _ICMP, _ICMPV6, or another (no layer 4) */
    uint8_t ttl;                /* IPv4 TTL or IPv6 hop limit */
    uint8_t defragged;          /* rebuilt from fragments */
    uint8_t src[16], dst[16];   /* IPv4: the first 4 bytes, the rest zero */
    const uint8_t *l3;          /* the IP header ... */
    uint32_t l3len;             /* ... to the end of the IP payload (not the frame's padding) */
    /* layer 4 */
    uint16_t sport, dport;      /* TCP and UDP; 0 otherwise */
    uint8_t icmp_type, icmp_code;
    uint8_t tcp_flags;
    uint8_t tcp_optlen;         /* bytes of TCP options at tcp_opt */
    const uint8_t *tcp_opt;
    uint32_t seq, ack;
    uint16_t win;
    const uint8_t *payload;     /* layer 4 payload (for another protocol: the IP payload) */
    uint32_t plen;
    uint32_t hash;              /* flow hash: the same for both directions of a flow
                                   (5-tuple and VLAN ids); spreads flows over workers */
} canh_pkt_t;

/* What canh_decode says of a frame. */
enum {
    CANH_PKT_OK = 0,            /* *p is a packet to inspect */
    CANH_PKT_HELD,              /* a fragment, kept until its datagram is whole */
    CANH_PKT_SKIP,              /* well formed but nothing canh inspects (ARP, LLDP ...): counted */
    CANH_PKT_BAD,               /* malformed or truncated: counted by reason */
};

typedef struct canh_decoder canh_decoder_t;

typedef struct canh_decoder_opts {
    size_t defrag_memcap;       /* bytes of held fragments; 0: 16 MiB */
    int64_t defrag_timeout_us;  /* a datagram not whole by then is dropped; 0: 60 s */
} canh_decoder_opts_t;

canh_decoder_t *canh_decoder_new(const canh_decoder_opts_t *o);   /* NULL: out of memory */
void canh_decoder_free(canh_decoder_t *d);

/* Decodes one frame of libpcap link type dlt (DLT_EN10MB, DLT_LINUX_SLL,
 * DLT_LINUX_SLL2, DLT_RAW, DLT_IPV4, DLT_IPV6, DLT_NULL, DLT_LOOP).
 * Returns a CANH_PKT_* value, or CANH_EINVAL when d or p is NULL or frame is
 * NULL with caplen > 0 (nothing counted then).
 * IP total length (or IPv6 payload length) over the bytes captured: the
 * smaller is trusted, the packet decoded from what is there (a snaplen cut);
 * a cut fragment cannot be reassembled and is fragment_bad.
 * Fragments: IPv4 keyed by (src, dst, id, proto, VLAN ids), IPv6 by (src,
 * dst, id, VLAN ids) as RFC 8200 says. Overlaps: the data that came first
 * wins (counted once per overlapping fragment); a fragment that
 * contradicts the known end of its datagram, a non-last fragment whose
 * length is not a multiple of 8, or a datagram over 65535 bytes is
 * fragment_bad. Timeout counted from a datagram's first fragment, on
 * packet time; at the memcap the oldest datagrams are dropped (counted). */
int canh_decode(canh_decoder_t *d, int dlt, const uint8_t *frame, uint32_t caplen,
                uint32_t wirelen, int64_t ts_us, uint64_t num, canh_pkt_t *p);

/* Whether canh_decode reads this link type. */
int canh_decode_dlt_ok(int dlt);

/* The bytes a packet needs on its own (its l3 .. end), and a copy of it
 * into dst (canh_pkt_copy_size bytes) whose pointers point into dst: the
 * reader hands packets to workers this way. */
size_t canh_pkt_copy_size(const canh_pkt_t *p);
void   canh_pkt_copy(const canh_pkt_t *p, uint8_t *dst, canh_pkt_t *out);

/* Why a frame was BAD or SKIP (the decoder's author may add reasons; names
 * are what the stats record shows under packets.decode). */
#define CANH_DECODE_REASONS(X)                                      \
    X(LINK_TRUNCATED,    "link_truncated")                          \
    X(LINK_UNSUPPORTED,  "link_unsupported")                        \
    X(NOT_IP,            "not_ip")            /* SKIP: ARP, LLDP ... */ \
    X(VLAN_TOO_MANY,     "vlan_too_many")     /* SKIP: over 2 tags */ \
    X(IP_BAD_VERSION,    "ip_bad_version")    /* raw IP / loopback: not 4 or 6 */ \
    X(IPV4_TRUNCATED,    "ipv4_truncated")                          \
    X(IPV4_BAD_HEADER,   "ipv4_bad_header")                         \
    X(IPV6_TRUNCATED,    "ipv6_truncated")                          \
    X(IPV6_BAD_HEADER,   "ipv6_bad_header")                         \
    X(IPV6_BAD_EXTENSION,"ipv6_bad_extension")                      \
    X(FRAG_BAD,          "fragment_bad")                            \
    X(FRAG_OVERLAP,      "fragment_overlap")                        \
    X(FRAG_MEMCAP,       "fragment_memcap")                         \
    X(FRAG_TIMEOUT,      "fragment_timeout")                        \
    X(TCP_TRUNCATED,     "tcp_truncated")                           \
    X(TCP_BAD_HEADER,    "tcp_bad_header")                          \
    X(UDP_TRUNCATED,     "udp_truncated")                           \
    X(UDP_BAD_LENGTH,    "udp_bad_length")                          \
    X(ICMP_TRUNCATED,    "icmp_truncated")

enum {
#define CANH_X_DR(e, name) CANH_DECODE_R_##e,
    CANH_DECODE_REASONS(CANH_X_DR)
#undef CANH_X_DR
    CANH_DECODE_R__COUNT
};

typedef struct canh_decode_counts {
    uint64_t frames, bytes;     /* every frame given to canh_decode */
    uint64_t ok, held, skipped, bad;
    uint64_t reassembled;       /* datagrams rebuilt from fragments */
    uint64_t frag_bytes;        /* bytes held for fragments now (<= defrag_memcap) */
    uint64_t frag_pending;      /* datagrams waiting for fragments now */
    uint64_t by_reason[CANH_DECODE_R__COUNT];
} canh_decode_counts_t;

const canh_decode_counts_t *canh_decoder_counts(const canh_decoder_t *d);
const char *canh_decode_reason_name(int reason);   /* "?" for an unknown one */

/* Community ID v1 (https://github.com/corelight/community-id-spec) of the
 * flow p belongs to ("1:" and base64 of a SHA-1; the same both ways),
 * NUL-terminated into out. Returns its length, or 0 when p has no flow
 * tuple Community ID defines. */
#define CANH_COMMUNITY_ID_LEN 32
size_t canh_community_id(const canh_pkt_t *p, uint16_t seed, char out[CANH_COMMUNITY_ID_LEN]);

#endif
