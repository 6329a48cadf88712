/* SPDX-License-Identifier: MIT */
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
 *
 * Episodes (for the log) live in a second bounded table under the same
 * lock: one per client whose budget refused a recipient, ending with the
 * budget's window -- this process's window when the budget is local,
 * else window_s after the first refusal -- or as soon as the budget is
 * found unspent again, whichever comes first.
 */
#include "dha.h"
#include "dict.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_CLIENTS 65536
#define MAX_EPISODES 4096 /* clients refused at once that the log follows */

typedef struct {
    int64_t opened; /* when the window began */
    unsigned count;
} budget;

typedef struct {
    mv_dha_episode e;
    int64_t ends; /* when its window is over */
} episode;        /* the client's address follows it */

struct mv_dha {
    pthread_mutex_t mu;
    mv_dict *clients;
    mv_dict *episodes;         /* by client address */
    mv_dha_counter_fn counter; /* shared counters, or NULL: this process's */
    void *counter_arg;
};

/* mv_dha_new - a budget tracker; NULL on ENOMEM */
mv_dha *mv_dha_new(void)
{
    mv_dha *d = calloc(1, sizeof(*d));

    if (d == NULL || (d->clients = mv_dict_new()) == NULL || (d->episodes = mv_dict_new()) == NULL) {
        if (d != NULL)
            mv_dict_free(d->clients);
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
    if (fn == NULL || (n = snprintf(key, sizeof(key), "c:dha:%s", client)) < 0 || (size_t)n >= sizeof(key))
        return -1;
    return fn(arg, key, delta, window_s);
}

/* episode_over - the budget is unspent again: the client's episode, if
 * any, ends now (the lock is held) */
static void episode_over(mv_dha *d, const char *client, int64_t now)
{
    episode *ep = mv_dict_get(d->episodes, client);

    if (ep != NULL && ep->ends > now)
        ep->ends = now;
}

/* mv_dha_spent - has this client used its budget (limit per window_s)? */
bool mv_dha_spent(mv_dha *d, const char *client, unsigned limit, unsigned window_s, int64_t now)
{
    budget *b;
    bool spent;
    long long shared;

    if (limit == 0)
        return false;
    if ((shared = shared_count(d, client, window_s, 0)) >= 0) {
        spent = shared >= (long long)limit;
    } else {
        pthread_mutex_lock(&d->mu);
        b = get(d, client, window_s, now, false);
        spent = b != NULL && b->count >= limit;
        pthread_mutex_unlock(&d->mu);
    }
    if (!spent) {
        pthread_mutex_lock(&d->mu);
        episode_over(d, client, now);
        pthread_mutex_unlock(&d->mu);
    }
    return spent;
}

/* episode_new - a client's first refusal (the lock is held); NULL when
 * the table is full or out of memory */
static episode *episode_new(mv_dha *d, const char *client, const char *who, unsigned window_s, int64_t now)
{
    size_t n = strlen(client);
    budget *b = mv_dict_get(d->clients, client);
    episode *ep;

    if (mv_dict_count(d->episodes) >= MAX_EPISODES || (ep = calloc(1, sizeof(*ep) + n + 1)) == NULL)
        return NULL;
    snprintf(ep->e.who, sizeof(ep->e.who), "%s", who);
    ep->e.first = now;
    /* a local budget's window is known; a shared one began before now */
    ep->ends = b != NULL && b->opened + window_s > now ? b->opened + window_s : now + window_s;
    memcpy(ep + 1, client, n + 1);
    if (mv_dict_put(d->episodes, (const char *)(ep + 1), ep) < 0) {
        free(ep);
        return NULL;
    }
    return ep;
}

/* mv_dha_refused - a recipient refused by the spent budget; true for the
 * first of an episode */
bool mv_dha_refused(mv_dha *d, const char *client, const char *who, unsigned window_s, int64_t now)
{
    episode *ep;
    bool first = false;

    pthread_mutex_lock(&d->mu);
    if ((ep = mv_dict_get(d->episodes, client)) == NULL &&
        (ep = episode_new(d, client, who, window_s, now)) != NULL)
        first = true;
    if (ep != NULL) {
        ep->e.refused++;
        ep->e.last = now;
    }
    pthread_mutex_unlock(&d->mu);
    return first;
}

typedef struct {
    int64_t now;
    episode **over;
    size_t n, max;
} ended_ctx;

/* find_over - gather episodes whose window has ended */
static void find_over(void *value, void *arg)
{
    ended_ctx *c = arg;
    episode *ep = value;

    if (c->now >= ep->ends && c->n < c->max)
        c->over[c->n++] = ep;
}

/* mv_dha_ended - episodes over by now, into out, forgotten */
size_t mv_dha_ended(mv_dha *d, int64_t now, mv_dha_episode *out, size_t max)
{
    ended_ctx c = {now, NULL, 0, max};

    if (max == 0 || (c.over = calloc(max, sizeof(*c.over))) == NULL)
        return 0;
    pthread_mutex_lock(&d->mu);
    mv_dict_each(d->episodes, find_over, &c);
    for (size_t i = 0; i < c.n; i++) {
        out[i] = c.over[i]->e;
        mv_dict_del(d->episodes, (const char *)(c.over[i] + 1));
        free(c.over[i]);
    }
    pthread_mutex_unlock(&d->mu);
    free(c.over);
    return c.n;
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
    mv_dict_each(d->episodes, free_one, NULL);
    mv_dict_free(d->episodes);
    pthread_mutex_destroy(&d->mu);
    free(d);
}
