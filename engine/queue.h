/*
 * engine/queue.h -- a bounded, blocking queue of pointers between pipeline
 * stages (reader -> workers, and free batches back).
 *
 * It carries batches of hundreds of events, so its mutex is taken once per
 * batch, never per event. Full is a normal answer: push waits (that is the
 * backpressure that makes readers slow down instead of dropping). Closing
 * wakes every waiter; pop returns NULL once the queue is closed and empty.
 *
 * Thread: any number of producers and consumers.
 */
#ifndef CANH_QUEUE_H
#define CANH_QUEUE_H

#include <pthread.h>

#include "canh.h"

typedef struct canh_queue {
    void **slot;
    size_t cap, head, n;
    size_t wake_at;             /* a waiting pop is woken once this many are in */
    int closed;
    pthread_mutex_t mu;
    pthread_cond_t not_empty, not_full;
} canh_queue_t;

int   canh_queue_init(canh_queue_t *q, size_t cap);
void  canh_queue_destroy(canh_queue_t *q);
/* A pop that found the queue empty waits until n items are in (or it is
 * closed), not just one: its consumer is then woken once per n pushes.
 * Default 1. Only for a queue whose items all come back (the pool of free
 * batches), or a pop could wait for an item that never comes. */
void  canh_queue_set_wake(canh_queue_t *q, size_t n);
/* Waits while full; CANH_EINVAL if the queue is closed. */
int   canh_queue_push(canh_queue_t *q, void *item);
/* Waits while empty; NULL once closed and drained. */
void *canh_queue_pop(canh_queue_t *q);
/* The same, waiting at most timeout_ms (< 0: no limit); NULL with
 * *timed_out set (if not NULL) when the time is up. */
void *canh_queue_pop_wait(canh_queue_t *q, int timeout_ms, int *timed_out);
void  canh_queue_close(canh_queue_t *q);
/* Items now in the queue (for stats; stale as soon as it returns). */
size_t canh_queue_depth(canh_queue_t *q);

#endif
