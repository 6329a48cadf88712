/*
 * dha.c - per-client budgets in a fixed window; see dha.h.
 *
 * A fixed window (count since the window opened) is enough here: the
 * point is to slow a harvester down by orders of magnitude, not to meter
 * exactly. The table is bounded: past MAX_CLIENTS, entries whose window
 * has closed are swept, and if none has, the new client is simply not
 * tracked (fail open: a flood of distinct addresses must not grow memory).
 * With a shared cache store the store's counters are used instead
 * ("c:dha:" + client, through the counter hook: mv_engine_counter); a
 * call the store does not answer falls back to this table (fail open).
 */
#include "dha.h"
#include "dict.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_CLIENTS 65536

typedef struct {
    int64_t opened;             /* when the window began */
    unsigned count;
} budget;

struct mv_dha {
    pthread_mutex_t mu;
    mv_dict *clients;
    mv_dha_counter_fn counter;  /* shared counters, or NULL: this process's */
    void *counter_arg;
};

/* mv_dha_new - a budget tracker; NULL on ENOMEM */
mv_dha *mv_dha_new(void)
{
    mv_dha *d = calloc(1, sizeof(*d));

    if (d == NULL || (d->clients = mv_dict_new()) == NULL) {
        free(d);
        return NULL;
    }
    pthread_mutex_init(&d->mu, NULL);
    return d;
}

/* collect - gather keys of closed windows */
typedef struct {
    int64_t now;
    unsigned window_s;
    budget **closed;
    size_t n;
} sweep_ctx;

static void find_closed(void *value, void *arg)
{
    sweep_ctx *s = arg;
    budget *b = value;

    if (s->now - b->opened >= s->window_s && s->n < MAX_CLIENTS)
        s->closed[s->n++] = b;
}

/* sweep - forget clients whose window has closed (the lock is held) */
static void sweep(mv_dha *d, unsigned window_s, int64_t now)
{
    sweep_ctx s = {now, window_s, calloc(MAX_CLIENTS, sizeof(budget *)), 0};

    if (s.closed == NULL)
        return;
    mv_dict_each(d->clients, find_closed, &s);
    for (size_t i = 0; i < s.n; i++) {
        /* the key is stored after the budget struct */
        mv_dict_del(d->clients, (const char *)(s.closed[i] + 1));
        free(s.closed[i]);
    }
    free(s.closed);
}

/* get - the client's budget, made if needed; NULL when untracked */
static budget *get(mv_dha *d, const char *client, unsigned window_s, int64_t now, bool create)
{
    budget *b = mv_dict_get(d->clients, client);
    size_t n = strlen(client);

    if (b != NULL) {
        if (now - b->opened >= window_s) {
            b->opened = now;
            b->count = 0;
        }
        return b;
    }
    if (!create)
        return NULL;
    if (mv_dict_count(d->clients) >= MAX_CLIENTS)
        sweep(d, window_s, now);
    if (mv_dict_count(d->clients) >= MAX_CLIENTS || (b = malloc(sizeof(*b) + n + 1)) == NULL)
        return NULL;
    b->opened = now;
    b->count = 0;
    memcpy(b + 1, client, n + 1);
    if (mv_dict_put(d->clients, (const char *)(b + 1), b) < 0) {
        free(b);
        return NULL;
    }
    return b;
}

/* mv_dha_share - count through fn from now on */
void mv_dha_share(mv_dha *d, mv_dha_counter_fn fn, void *arg)
{
    pthread_mutex_lock(&d->mu);
    d->counter = fn;
    d->counter_arg = arg;
    pthread_mutex_unlock(&d->mu);
}

/* shared_count - add delta (0: read) to the client's shared counter; -1
 * when it is not shared or the store did not answer */
static long long shared_count(mv_dha *d, const char *client, unsigned window_s, unsigned delta)
{
    char key[300];
    int n;
    mv_dha_counter_fn fn;
    void *arg;

    pthread_mutex_lock(&d->mu);
    fn = d->counter;
    arg = d->counter_arg;
    pthread_mutex_unlock(&d->mu);
    if (fn == NULL || (n = snprintf(key, sizeof(key), "c:dha:%s", client)) < 0 ||
        (size_t)n >= sizeof(key))
        return -1;
    return fn(arg, key, delta, window_s);
}

/* mv_dha_spent - has this client used its budget (limit per window_s)? */
bool mv_dha_spent(mv_dha *d, const char *client, unsigned limit, unsigned window_s, int64_t now)
{
    budget *b;
    bool spent;
    long long shared;

    if (limit == 0)
        return false;
    if ((shared = shared_count(d, client, window_s, 0)) >= 0)
        return shared >= (long long)limit;
    pthread_mutex_lock(&d->mu);
    b = get(d, client, window_s, now, false);
    spent = b != NULL && b->count >= limit;
    pthread_mutex_unlock(&d->mu);
    return spent;
}

/* mv_dha_count - one more undeliverable recipient from this client */
void mv_dha_count(mv_dha *d, const char *client, unsigned window_s, int64_t now)
{
    budget *b;

    if (shared_count(d, client, window_s, 1) >= 0)
        return;
    pthread_mutex_lock(&d->mu);
    if ((b = get(d, client, window_s, now, true)) != NULL)
        b->count++;
    pthread_mutex_unlock(&d->mu);
}

/* free_one - release a budget */
static void free_one(void *value, void *arg)
{
    (void)arg;
    free(value);
}

/* mv_dha_free - release; NULL is fine */
void mv_dha_free(mv_dha *d)
{
    if (d == NULL)
        return;
    mv_dict_each(d->clients, free_one, NULL);
    mv_dict_free(d->clients);
    pthread_mutex_destroy(&d->mu);
    free(d);
}
