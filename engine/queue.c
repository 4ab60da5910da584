/*
 * engine/queue.c -- bounded blocking queue (see queue.h): a ring of pointers
 * under one mutex with two condition variables.
 */
#include "queue.h"

#include <errno.h>
#include <stdlib.h>
#include <time.h>

int canh_queue_init(canh_queue_t *q, size_t cap)
{
    memset(q, 0, sizeof(*q));
    q->slot = calloc(cap ? cap : 1, sizeof(void *));
    if (!q->slot)
        return CANH_ENOMEM;
    q->cap = cap ? cap : 1;
    q->wake_at = 1;
    pthread_mutex_init(&q->mu, NULL);
    pthread_cond_init(&q->not_empty, NULL);
    pthread_cond_init(&q->not_full, NULL);
    return CANH_OK;
}

void canh_queue_destroy(canh_queue_t *q)
{
    if (!q->slot)
        return;
    pthread_mutex_destroy(&q->mu);
    pthread_cond_destroy(&q->not_empty);
    pthread_cond_destroy(&q->not_full);
    free(q->slot);
    q->slot = NULL;
}

void canh_queue_set_wake(canh_queue_t *q, size_t n)
{
    pthread_mutex_lock(&q->mu);
    q->wake_at = n < 1 ? 1 : n > q->cap ? q->cap : n;
    pthread_mutex_unlock(&q->mu);
}

int canh_queue_push(canh_queue_t *q, void *item)
{
    pthread_mutex_lock(&q->mu);
    while (q->n == q->cap && !q->closed)
        pthread_cond_wait(&q->not_full, &q->mu);
    if (q->closed) {
        pthread_mutex_unlock(&q->mu);
        return CANH_EINVAL;
    }
    q->slot[(q->head + q->n++) % q->cap] = item;
    if (q->n >= q->wake_at)
        pthread_cond_signal(&q->not_empty);
    pthread_mutex_unlock(&q->mu);
    return CANH_OK;
}

void *canh_queue_pop(canh_queue_t *q)
{
    return canh_queue_pop_wait(q, -1, NULL);
}

void *canh_queue_pop_wait(canh_queue_t *q, int timeout_ms, int *timed_out)
{
    if (timed_out)
        *timed_out = 0;
    struct timespec until;
    if (timeout_ms >= 0) {
        clock_gettime(CLOCK_REALTIME, &until);   /* the condition variable's clock */
        until.tv_sec += timeout_ms / 1000;
        until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
    }
    pthread_mutex_lock(&q->mu);
    size_t want = q->n ? 1 : q->wake_at;   /* found empty: wait for wake_at */
    while (q->n < want && !q->closed) {
        if (timeout_ms < 0)
            pthread_cond_wait(&q->not_empty, &q->mu);
        else if (pthread_cond_timedwait(&q->not_empty, &q->mu, &until) == ETIMEDOUT) {
            if (timed_out)   /* items that came short of wake_at are still taken */
                *timed_out = q->n == 0 && !q->closed;
            break;
        }
    }
    void *item = NULL;
    if (q->n) {
        item = q->slot[q->head];
        q->head = (q->head + 1) % q->cap;
        q->n--;
        pthread_cond_signal(&q->not_full);
    }
    pthread_mutex_unlock(&q->mu);
    return item;
}

void canh_queue_close(canh_queue_t *q)
{
    pthread_mutex_lock(&q->mu);
    q->closed = 1;
    pthread_cond_broadcast(&q->not_empty);
    pthread_cond_broadcast(&q->not_full);
    pthread_mutex_unlock(&q->mu);
}

size_t canh_queue_depth(canh_queue_t *q)
{
    pthread_mutex_lock(&q->mu);
    size_t n = q->n;
    pthread_mutex_unlock(&q->mu);
    return n;
}
