/*
 * parsers/packet/defrag.h -- IPv4 and IPv6 fragment reassembly, private to
 * the decoder (decode.c). See packet.h for the policy (keys, overlaps,
 * timeout, memcap).
 *
 * Thread: a reassembler belongs to its decoder, so to the packet reader.
 */
#ifndef CANH_DEFRAG_H
#define CANH_DEFRAG_H

#include <stddef.h>
#include <stdint.h>

typedef struct canh_defrag canh_defrag_t;

/* The largest datagram rebuilt: an IPv6 header and a 65535-byte payload. */
#define CANH_DEFRAG_MAX (40 + 65535)

/* One fragment as the decoder found it. */
typedef struct canh_frag {
    uint8_t ipver;
    uint8_t proto;              /* IPv4: the protocol (part of the key); IPv6: the
                                   fragment header's next header (not in the key) */
    uint8_t nvlan;
    uint16_t vlan[2];
    uint8_t src[16], dst[16];
    uint32_t id;
    const uint8_t *hdr;         /* IPv4: the IP header; IPv6: the unfragmentable part */
    uint32_t hdrlen;
    uint32_t nh_off;            /* IPv6: offset in hdr of the next-header byte that
                                   names the fragment header */
    uint32_t off;               /* of the data in the datagram's payload, bytes */
    const uint8_t *data;
    uint32_t len;
    int more;                   /* more fragments follow */
} canh_frag_t;

canh_defrag_t *canh_defrag_new(size_t memcap, int64_t timeout_us);
void canh_defrag_free(canh_defrag_t *f);

/* Drops the datagrams not whole by now (counting FRAG_TIMEOUT into
 * by_reason); O(1) when none has timed out. */
void canh_defrag_expire(canh_defrag_t *f, int64_t now_us, uint64_t *by_reason);

/* Adds a fragment. CANH_PKT_HELD: kept; CANH_PKT_OK: its datagram is whole,
 * rebuilt into out (CANH_DEFRAG_MAX bytes), *outlen set; CANH_PKT_BAD:
 * *reason says why (the fragment is not kept). Overlaps, memcap and
 * timeout drops are also counted into by_reason. */
int canh_defrag_add(canh_defrag_t *f, const canh_frag_t *fr, int64_t now_us, uint8_t *out,
                    uint32_t *outlen, int *reason, uint64_t *by_reason);

/* Bytes held now and datagrams pending (for tests and stats). */
size_t canh_defrag_used(const canh_defrag_t *f);
size_t canh_defrag_pending(const canh_defrag_t *f);

#endif
