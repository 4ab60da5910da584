/*
 * parsers/packet/defrag.c -- IPv4 and IPv6 fragment reassembly.
 *
 * A datagram being rebuilt is a tracker: its key, the header of its first
 * fragment (offset 0), and its fragments in the order they came, each a
 * copy of its bytes. Trackers are found by a hash of the key and kept on a
 * list in the order they were created, so the oldest is at the head: the
 * timeout (from the first fragment, on packet time) and the memcap (oldest
 * dropped first) only ever look at the head.
 *
 * Overlaps: the first data wins. Fragments are kept as they came; when the
 * datagram is whole they are written into the output from the last to
 * come to the first, so the bytes of an earlier fragment overwrite those
 * of a later one wherever they overlap. Each fragment that overlaps one
 * already held is counted (FRAG_OVERLAP) once; an exact or contained
 * duplicate of one fragment is counted and not stored.
 *
 * Bounds: at most CANH_DEFRAG_MAX_FRAGS fragments per datagram, a datagram
 * of at most 65535 bytes (IPv4 header + payload; IPv6 payload), every byte
 * held (trackers, headers, fragment copies) charged against the memcap.
 *
 * Thread: the decoder's (the packet reader); no locks.
 */
#include <stdlib.h>
#include <string.h>

#include "defrag.h"
#include "packet.h"

#define CANH_DEFRAG_BUCKETS 1024        /* power of two */
#define CANH_DEFRAG_MAX_FRAGS 1024

typedef struct frag {
    uint32_t off, len;
    uint8_t *data;
} frag_t;

typedef struct tracker {
    struct tracker *hnext;              /* bucket chain */
    struct tracker *prev, *next;        /* age list, oldest first */
    uint32_t bucket;
    /* key */
    uint8_t ipver, proto, nvlan;
    uint16_t vlan[2];
    uint8_t src[16], dst[16];
    uint32_t id;
    /* state */
    int64_t first_us;
    uint8_t *hdr;                       /* the offset-0 fragment's header, once seen */
    uint32_t hdrlen, nh_off;
    uint8_t nexthdr;                    /* IPv6: next header of the offset-0 fragment */
    int have_last;
    uint32_t total;                     /* payload bytes, once the last fragment is seen */
    uint32_t maxend;                    /* end of the furthest fragment held */
    frag_t *frags;
    uint32_t nfrags, capfrags;
    size_t charged;                     /* bytes charged against the memcap */
} tracker_t;

struct canh_defrag {
    size_t memcap, used, pending;
    int64_t timeout_us;
    tracker_t *oldest, *newest;
    tracker_t *buckets[CANH_DEFRAG_BUCKETS];
    struct { uint32_t off, end; } scratch[CANH_DEFRAG_MAX_FRAGS];
};

canh_defrag_t *canh_defrag_new(size_t memcap, int64_t timeout_us)
{
    canh_defrag_t *f = calloc(1, sizeof(*f));
    if (!f)
        return NULL;
    f->memcap = memcap;
    f->timeout_us = timeout_us;
    return f;
}

static void tracker_drop(canh_defrag_t *f, tracker_t *t)
{
    tracker_t **pp = &f->buckets[t->bucket];
    while (*pp && *pp != t)
        pp = &(*pp)->hnext;
    if (*pp)
        *pp = t->hnext;
    if (t->prev)
        t->prev->next = t->next;
    else
        f->oldest = t->next;
    if (t->next)
        t->next->prev = t->prev;
    else
        f->newest = t->prev;
    for (uint32_t i = 0; i < t->nfrags; i++)
        free(t->frags[i].data);
    free(t->frags);
    free(t->hdr);
    f->used -= t->charged;
    f->pending--;
    free(t);
}

void canh_defrag_free(canh_defrag_t *f)
{
    if (!f)
        return;
    while (f->oldest)
        tracker_drop(f, f->oldest);
    free(f);
}

size_t canh_defrag_used(const canh_defrag_t *f) { return f ? f->used : 0; }
size_t canh_defrag_pending(const canh_defrag_t *f) { return f ? f->pending : 0; }

void canh_defrag_expire(canh_defrag_t *f, int64_t now_us, uint64_t *by_reason)
{
    while (f->oldest && now_us - f->oldest->first_us > f->timeout_us) {
        by_reason[CANH_DECODE_R_FRAG_TIMEOUT]++;
        tracker_drop(f, f->oldest);
    }
}

static uint32_t key_hash(const canh_frag_t *fr)
{
    uint64_t h = 0x9e3779b97f4a7c15ULL ^ fr->id;
    const uint8_t *parts[2] = { fr->src, fr->dst };
    for (int p = 0; p < 2; p++)
        for (int i = 0; i < 16; i += 8) {
            uint64_t w;
            memcpy(&w, parts[p] + i, 8);
            h = (h ^ w) * 0xff51afd7ed558ccdULL;
            h ^= h >> 33;
        }
    h ^= ((uint64_t)fr->vlan[0] << 16 | fr->vlan[1]) << 8 | (fr->ipver == 4 ? fr->proto : 0);
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return (uint32_t)h & (CANH_DEFRAG_BUCKETS - 1);
}

static int key_eq(const tracker_t *t, const canh_frag_t *fr)
{
    return t->ipver == fr->ipver && t->id == fr->id && t->nvlan == fr->nvlan &&
           t->vlan[0] == fr->vlan[0] && t->vlan[1] == fr->vlan[1] &&
           (fr->ipver == 6 || t->proto == fr->proto) &&
           memcmp(t->src, fr->src, 16) == 0 && memcmp(t->dst, fr->dst, 16) == 0;
}

/* Makes room for need more bytes by dropping the oldest datagrams other
 * than keep; 0 when it fits. */
static int make_room(canh_defrag_t *f, size_t need, tracker_t *keep, uint64_t *by_reason)
{
    while (f->used + need > f->memcap) {
        tracker_t *victim = f->oldest;
        if (victim && victim == keep)
            victim = victim->next;
        if (!victim)
            return -1;
        by_reason[CANH_DECODE_R_FRAG_MEMCAP]++;
        tracker_drop(f, victim);
    }
    return 0;
}

static int cmp_range(const void *a, const void *b)
{
    const uint32_t *x = a, *y = b;
    return x[0] < y[0] ? -1 : x[0] > y[0];
}

/* Whether t's fragments cover [0, total) with no hole. */
static int is_whole(canh_defrag_t *f, const tracker_t *t)
{
    if (!t->have_last || !t->hdr)
        return 0;
    for (uint32_t i = 0; i < t->nfrags; i++) {
        f->scratch[i].off = t->frags[i].off;
        f->scratch[i].end = t->frags[i].off + t->frags[i].len;
    }
    qsort(f->scratch, t->nfrags, sizeof(f->scratch[0]), cmp_range);
    uint32_t reach = 0;
    for (uint32_t i = 0; i < t->nfrags && reach < t->total; i++) {
        if (f->scratch[i].off > reach)
            return 0;
        if (f->scratch[i].end > reach)
            reach = f->scratch[i].end;
    }
    return reach >= t->total;
}

static void put16(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

/* Writes the whole datagram of t into out; returns its length. */
static uint32_t rebuild(const tracker_t *t, uint8_t *out)
{
    memcpy(out, t->hdr, t->hdrlen);
    uint8_t *payload = out + t->hdrlen;
    for (uint32_t i = t->nfrags; i-- > 0;) {      /* last to come first: earliest wins */
        const frag_t *fr = &t->frags[i];
        uint32_t len = fr->len;
        if (fr->off >= t->total)
            continue;
        if (fr->off + len > t->total)
            len = t->total - fr->off;
        memcpy(payload + fr->off, fr->data, len);
    }
    uint32_t n = t->hdrlen + t->total;
    if (t->ipver == 4) {
        put16(out + 2, n);
        out[6] &= 0x40;                         /* keep DF; MF and offset cleared */
        out[7] = 0;
        out[10] = out[11] = 0;
        uint32_t sum = 0;
        for (uint32_t i = 0; i + 1 < t->hdrlen; i += 2)
            sum += (uint32_t)out[i] << 8 | out[i + 1];
        while (sum >> 16)
            sum = (sum & 0xffff) + (sum >> 16);
        put16(out + 10, ~sum & 0xffff);
    } else {
        put16(out + 4, n - 40);
        out[t->nh_off] = t->nexthdr;
    }
    return n;
}

int canh_defrag_add(canh_defrag_t *f, const canh_frag_t *fr, int64_t now_us, uint8_t *out,
                    uint32_t *outlen, int *reason, uint64_t *by_reason)
{
    *reason = CANH_DECODE_R_FRAG_BAD;
    uint64_t end = (uint64_t)fr->off + fr->len;
    /* the datagram's size: IPv4 header + payload; IPv6 payload (its
       extension headers before the fragment header included) */
    uint64_t size = fr->ipver == 4 ? fr->hdrlen + end : fr->hdrlen - 40 + end;
    if (size > 65535 || fr->hdrlen > 65535 || (fr->more && (fr->len == 0 || fr->len % 8)))
        return CANH_PKT_BAD;

    canh_defrag_expire(f, now_us, by_reason);

    uint32_t b = key_hash(fr);
    tracker_t *t = f->buckets[b];
    while (t && !key_eq(t, fr))
        t = t->hnext;

    /* consistency with what is known of the datagram's end */
    if (t) {
        if (!fr->more && t->have_last && end != t->total)
            return CANH_PKT_BAD;
        if (!fr->more && !t->have_last && end < t->maxend)
            return CANH_PKT_BAD;
        if (fr->more && t->have_last && end > t->total)
            return CANH_PKT_BAD;
        if (t->nfrags >= CANH_DEFRAG_MAX_FRAGS)
            return CANH_PKT_BAD;
    }

    int overlap = 0, contained = 0;
    if (t)
        for (uint32_t i = 0; i < t->nfrags; i++) {
            const frag_t *h = &t->frags[i];
            if (fr->off < h->off + h->len && h->off < end) {
                overlap = 1;
                if (h->off <= fr->off && end <= h->off + h->len)
                    contained = 1;
            } else if (fr->len == 0 && fr->off == h->off && h->len == 0) {
                overlap = contained = 1;
            }
        }
    if (overlap)
        by_reason[CANH_DECODE_R_FRAG_OVERLAP]++;

    int new_hdr = fr->off == 0 && (!t || !t->hdr);
    size_t need = (contained ? 0 : fr->len + sizeof(frag_t)) + (new_hdr ? fr->hdrlen : 0) +
                  (t ? 0 : sizeof(tracker_t) + 4 * sizeof(frag_t));
    if (make_room(f, need, t, by_reason) != 0) {
        if (t)
            tracker_drop(f, t);         /* counted by the caller, as this frame's reason */
        *reason = CANH_DECODE_R_FRAG_MEMCAP;
        return CANH_PKT_BAD;
    }

    if (!t) {
        t = calloc(1, sizeof(*t));
        if (!t) {
            *reason = CANH_DECODE_R_FRAG_MEMCAP;
            return CANH_PKT_BAD;
        }
        t->frags = malloc(4 * sizeof(frag_t));
        if (!t->frags) {
            free(t);
            *reason = CANH_DECODE_R_FRAG_MEMCAP;
            return CANH_PKT_BAD;
        }
        t->capfrags = 4;
        t->ipver = fr->ipver;
        t->proto = fr->proto;
        t->nvlan = fr->nvlan;
        t->vlan[0] = fr->vlan[0];
        t->vlan[1] = fr->vlan[1];
        memcpy(t->src, fr->src, 16);
        memcpy(t->dst, fr->dst, 16);
        t->id = fr->id;
        t->first_us = now_us;
        t->bucket = b;
        t->hnext = f->buckets[b];
        f->buckets[b] = t;
        t->prev = f->newest;
        if (f->newest)
            f->newest->next = t;
        else
            f->oldest = t;
        f->newest = t;
        t->charged = sizeof(tracker_t) + 4 * sizeof(frag_t);
        f->used += t->charged;
        f->pending++;
    }

    if (new_hdr) {
        t->hdr = malloc(fr->hdrlen);
        if (!t->hdr)
            goto nomem;
        memcpy(t->hdr, fr->hdr, fr->hdrlen);
        t->hdrlen = fr->hdrlen;
        t->nh_off = fr->nh_off;
        t->nexthdr = fr->proto;
        t->charged += fr->hdrlen;
        f->used += fr->hdrlen;
    }

    if (!contained) {
        if (t->nfrags == t->capfrags) {
            uint32_t cap = t->capfrags * 2;
            size_t more = (size_t)(cap - t->capfrags) * sizeof(frag_t);
            if (make_room(f, more, t, by_reason) != 0)
                goto memcap;
            frag_t *nf = realloc(t->frags, cap * sizeof(frag_t));
            if (!nf)
                goto nomem;
            t->frags = nf;
            t->capfrags = cap;
            t->charged += more;
            f->used += more;
        }
        frag_t *slot = &t->frags[t->nfrags];
        slot->data = malloc(fr->len ? fr->len : 1);
        if (!slot->data)
            goto nomem;
        memcpy(slot->data, fr->data, fr->len);
        slot->off = fr->off;
        slot->len = fr->len;
        t->nfrags++;
        t->charged += fr->len + sizeof(frag_t);
        f->used += fr->len + sizeof(frag_t);
        if (end > t->maxend)
            t->maxend = (uint32_t)end;
    }
    if (!fr->more) {
        t->have_last = 1;
        t->total = (uint32_t)end;
    }

    if (!is_whole(f, t))
        return CANH_PKT_HELD;
    /* the header and the total together may only now be known to be too big */
    if ((uint64_t)t->hdrlen + t->total > CANH_DEFRAG_MAX ||
        (t->ipver == 4 && (uint64_t)t->hdrlen + t->total > 65535)) {
        tracker_drop(f, t);
        return CANH_PKT_BAD;
    }
    *outlen = rebuild(t, out);
    tracker_drop(f, t);
    return CANH_PKT_OK;

memcap:
nomem:
    tracker_drop(f, t);
    *reason = CANH_DECODE_R_FRAG_MEMCAP;
    return CANH_PKT_BAD;
}
