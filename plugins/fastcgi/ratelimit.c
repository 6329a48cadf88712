/*
 * ratelimit.c - token buckets in a locked table; see ratelimit.h.
 */
#include "ratelimit.h"
#include "dict.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define MAX_BUCKETS 100000

typedef struct {
    double tokens;
    double last;                /* when tokens was computed */
    double burst;
    char key[];
} bucket;

struct mv_ratelimit {
    pthread_mutex_t mu;
    mv_dict *b;
};

/* mv_ratelimit_new - an empty table; NULL on ENOMEM */
mv_ratelimit *mv_ratelimit_new(void)
{
    mv_ratelimit *rl = calloc(1, sizeof(*rl));

    if (rl == NULL || (rl->b = mv_dict_new()) == NULL) {
        free(rl);
        return NULL;
    }
    pthread_mutex_init(&rl->mu, NULL);
    return rl;
}

typedef struct {
    double now, rate;
    bucket **full;
    size_t n;
} sweep_ctx;

/* find_full - buckets that have refilled: nothing to remember */
static void find_full(void *value, void *arg)
{
    sweep_ctx *s = arg;
    bucket *b = value;

    if (b->tokens + (s->now - b->last) * s->rate >= b->burst && s->n < MAX_BUCKETS)
        s->full[s->n++] = b;
}

/* sweep - forget full buckets (the lock is held) */
static void sweep(mv_ratelimit *rl, double now, double rate)
{
    sweep_ctx s = {now, rate, calloc(MAX_BUCKETS, sizeof(bucket *)), 0};

    if (s.full == NULL)
        return;
    mv_dict_each(rl->b, find_full, &s);
    for (size_t i = 0; i < s.n; i++) {
        mv_dict_del(rl->b, s.full[i]->key);
        free(s.full[i]);
    }
    free(s.full);
}

/* get - the key's bucket, made full if new; NULL when the table is full */
static bucket *get(mv_ratelimit *rl, const char *key, double rate, double burst, double now)
{
    bucket *b = mv_dict_get(rl->b, key);
    size_t n = strlen(key);

    if (b != NULL)
        return b;
    if (mv_dict_count(rl->b) >= MAX_BUCKETS)
        sweep(rl, now, rate);
    if (mv_dict_count(rl->b) >= MAX_BUCKETS || (b = malloc(sizeof(*b) + n + 1)) == NULL)
        return NULL;
    b->tokens = burst;
    b->last = now;
    b->burst = burst;
    memcpy(b->key, key, n + 1);
    if (mv_dict_put(rl->b, b->key, b) < 0) {
        free(b);
        return NULL;
    }
    return b;
}

/* mv_ratelimit_take - 0 if a token was taken, else seconds until one (>= 1) */
unsigned mv_ratelimit_take(mv_ratelimit *rl, const char *key, double rate, double burst,
                           double now)
{
    bucket *b;
    unsigned wait = 0;

    if (rate <= 0)
        return 0;
    pthread_mutex_lock(&rl->mu);
    /* a table too full to track a new key lets it through: fail open */
    if ((b = get(rl, key, rate, burst, now)) != NULL) {
        b->tokens += (now - b->last) * rate;
        if (b->tokens > burst)
            b->tokens = burst;
        b->last = now;
        b->burst = burst;
        if (b->tokens >= 1.0)
            b->tokens -= 1.0;
        else
            wait = (unsigned)ceil((1.0 - b->tokens) / rate);
    }
    pthread_mutex_unlock(&rl->mu);
    return wait;
}

/* free_one - release a bucket */
static void free_one(void *value, void *arg)
{
    (void)arg;
    free(value);
}

/* mv_ratelimit_free - release; NULL is fine */
void mv_ratelimit_free(mv_ratelimit *rl)
{
    if (rl == NULL)
        return;
    mv_dict_each(rl->b, free_one, NULL);
    mv_dict_free(rl->b);
    pthread_mutex_destroy(&rl->mu);
    free(rl);
}
