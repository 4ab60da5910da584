/*
 * sinks/spool.h -- an on-disk queue of records: alerts waiting for Kafka.
 *
 * Every alert bound for Kafka is appended here before it is handed to the
 * Kafka client, and leaves only when its delivery report says delivered
 * (canh_spool_ack). So an alert that the broker has not confirmed is on
 * disk, whatever happens to the broker or to the process.
 *
 * Layout, in the spool folder:
 *   seg-<20-digit first seq>.spool   append-only segment files; a new one
 *                                    at each open and every segment_bytes;
 *   head                             the first record not yet acknowledged
 *                                    (segment, offset, seq), with a CRC.
 *
 * A record is a 24-byte header and its bytes:
 *   u32 magic 'CSP1' | u32 crc32 of everything after this field |
 *   u64 seq | u32 value length | u16 key length | u16 flags (0) |
 *   key bytes | value bytes
 * (little-endian). seq numbers grow by one per record across the spool's
 * whole life (they continue after a restart).
 *
 * A record that is cut short (a crash in the middle of a write) or whose
 * CRC does not match is never returned: the reader counts it, looks for the
 * next valid record header after it, and goes on from there.
 *
 * Threads: one appender at a time (canh_spool_append*, canh_spool_wait_space)
 * and one reading thread (canh_spool_next, canh_spool_rewind,
 * canh_spool_ack); canh_spool_sync and canh_spool_counts from any thread.
 */
#ifndef CANH_SPOOL_H
#define CANH_SPOOL_H

#include <stddef.h>
#include <stdint.h>

typedef struct canh_spool canh_spool_t;

typedef struct canh_spool_opts {
    const char *dir;            /* made (0700) if missing, with parents; must be canh's
                                   own: see canh_dir_private */
    uint64_t max_bytes;         /* cap on the segments' total size on disk */
    uint64_t segment_bytes;     /* start a new segment past this; 0: max_bytes/8, at
                                   most 64 MiB, at least 64 KiB */
} canh_spool_opts_t;

typedef struct canh_spool_rec {
    uint64_t seq;
    const char *key;            /* NULL when klen is 0 */
    size_t klen;
    const char *val;
    size_t vlen;
} canh_spool_rec_t;

typedef struct canh_spool_counts {
    uint64_t appended;          /* records appended since open */
    uint64_t acked;             /* records acknowledged since open */
    uint64_t waiting;           /* records not yet acknowledged (found at open + appended - acked,
                                   less corrupt ones found by the reader) */
    uint64_t bytes;             /* segment bytes on disk */
    uint64_t segments;          /* segment files on disk */
    uint64_t corrupt;           /* damaged or cut-short regions skipped (each counted once) */
    uint64_t corrupt_bytes;     /* bytes in them */
    uint64_t fsyncs;
    uint64_t full_waits;        /* times canh_spool_wait_space had to wait */
} canh_spool_counts_t;

/*
 * Opens (or makes) the spool in o->dir. Records left by an earlier run
 * from the saved head on are read again first, then the new ones. A
 * missing or damaged head file means: from the oldest segment. Returns
 * CANH_OK, or CANH_EIO / CANH_EINVAL / CANH_ENOMEM with err saying why
 * (naming the folder or file). A folder another user could write, or a
 * symbolic link where the folder or its head file should be, is refused.
 */
int canh_spool_open(canh_spool_t **out, const canh_spool_opts_t *o, char *err, size_t errlen);

/* Syncs, saves the head and closes; records not acknowledged stay on disk
 * for the next open. NULL is a no-op. */
void canh_spool_close(canh_spool_t *s);

/*
 * Appends records (their key and value; seq is not read), in order, with
 * one writev(2) per group of up to 256
 * (so they survive the process dying; durable across a machine crash after
 * the next canh_spool_sync). *done (may be NULL) receives how many were
 * appended, all of them on CANH_OK; their seqs follow one another from
 * *first_seq (may be NULL). CANH_EAGAIN: the spool reached max_bytes and
 * `force` is 0 (the rest is not written: wait with canh_spool_wait_space
 * for the next one, or call again with force = 1, which goes past the
 * cap). CANH_EIO: a write failed (errno kept; records from the failed
 * group on are not in the spool). CANH_EINVAL: record *done has a key over
 * 65535 bytes, or key + value over 64 MiB.
 * (A spool with no record waiting takes one record whatever its size, so
 * that a record bigger than the cap cannot wait forever.)
 */
int canh_spool_append_many(canh_spool_t *s, const canh_spool_rec_t *recs, size_t n, int force,
                           size_t *done, uint64_t *first_seq);
/* One record (canh_spool_append_many of one); its seq in *seq. */
int canh_spool_append(canh_spool_t *s, const void *key, size_t klen, const void *val,
                      size_t vlen, int force, uint64_t *seq);

/* Waits until appending `need` bytes of record would fit under the cap, at
 * most timeout_ms. 1: it fits now; 0: timed out. (`need`: the key and
 * value lengths; the record header is added. timeout_ms 0 only checks;
 * below 0 waits without limit.) */
int canh_spool_wait_space(canh_spool_t *s, size_t need, int timeout_ms);

/* fdatasync of what was appended so far (and the head file). CANH_EIO on
 * failure. Any thread; cheap when nothing is new. */
int canh_spool_sync(canh_spool_t *s);

/*
 * The next record after the read cursor (in seq order). 1: *r is filled
 * (pointers valid until the next call to canh_spool_next or
 * canh_spool_rewind); 0: nothing more yet; CANH_EIO: a read failed
 * (CANH_ENOMEM: no memory for a big record's buffer).
 * Damaged records are skipped and counted, never returned.
 */
int canh_spool_next(canh_spool_t *s, canh_spool_rec_t *r);

/* Moves the read cursor back to the first record not yet acknowledged
 * (to send again what failed). */
void canh_spool_rewind(canh_spool_t *s);

/*
 * Every record with seq <= `seq` is delivered: the head moves past them
 * (saved to the head file with pwrite, so a restart does not send them
 * again), segments entirely before the head are deleted, and a thread
 * waiting for space is woken. CANH_EINVAL: seq was never returned by
 * canh_spool_next. CANH_EIO: the head file could not be written (errno
 * kept; nothing is deleted until an ack saves it).
 */
int canh_spool_ack(canh_spool_t *s, uint64_t seq);

void canh_spool_counts(canh_spool_t *s, canh_spool_counts_t *out);

#endif
