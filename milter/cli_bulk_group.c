/*
 * cli_bulk_group.c - hold a list's addresses by domain, so that `mailverify
 * bulk` hands the engine a domain's addresses together.
 *
 * The engine batches the RCPTs of a domain into one SMTP session when they
 * reach it together; a shuffled list feeds each domain one address at a
 * time as verdicts free the window, and sessions then carry three or four
 * RCPTs instead of ten (measured in bench-bulk: a sorted list went twice
 * as fast with a third of the sessions). So rows read ahead are held per
 * domain and released as a group when the group is full (batch addresses:
 * the RCPTs per session times the sessions a domain may have), when its
 * oldest has waited hold_ms, or when the caller asks (end of input, a full
 * reorder ring) -- one group per call, so that the caller can keep to its
 * window of addresses in flight. Only sequence numbers are held; the rows
 * stay in the caller's ring, which bounds them. Filling groups are kept in
 * the order they were opened, so expiry looks only at the front.
 */
#include "cli_bulk.h"
#include "dict.h"

#include <stdlib.h>
#include <string.h>

typedef struct group {
    char key[256];
    uint64_t *seqs;
    size_t n;
    uint64_t since;             /* when the oldest was held (ms) */
    bool full;                  /* on the ready list */
    struct group *prev, *next;  /* in the order groups were opened, or ready */
} group;

struct bulk_groups {
    mv_dict *by_key;
    group *head, *tail;         /* filling, oldest first */
    group *ready, *ready_tail;  /* full, in the order they filled */
    size_t batch, held;
    uint64_t hold_ms;
    bulk_flush_fn fn;
    void *arg;
};

/* bulk_groups_new - no groups yet; NULL on ENOMEM */
bulk_groups *bulk_groups_new(size_t batch, uint64_t hold_ms, bulk_flush_fn fn, void *arg)
{
    bulk_groups *g = calloc(1, sizeof(*g));

    if (g == NULL || (g->by_key = mv_dict_new()) == NULL) {
        free(g);
        return NULL;
    }
    g->batch = batch > 0 ? batch : 1;
    g->hold_ms = hold_ms;
    g->fn = fn;
    g->arg = arg;
    return g;
}

/* unlink - take a group off the filling list */
static void unlink_group(bulk_groups *g, group *gr)
{
    if (gr->prev != NULL)
        gr->prev->next = gr->next;
    else
        g->head = gr->next;
    if (gr->next != NULL)
        gr->next->prev = gr->prev;
    else
        g->tail = gr->prev;
    gr->prev = gr->next = NULL;
}

/* release - hand a group's rows on, in input order, and forget it */
static void release(bulk_groups *g, group *gr)
{
    if (gr->full) {
        g->ready = gr->next;
        if (g->ready == NULL)
            g->ready_tail = NULL;
    } else {
        mv_dict_del(g->by_key, gr->key);
        unlink_group(g, gr);
    }
    g->held -= gr->n;
    for (size_t i = 0; i < gr->n; i++)
        g->fn(g->arg, gr->seqs[i]);
    free(gr->seqs);
    free(gr);
}

/* open_group - a new, empty group at the back; NULL on ENOMEM */
static group *open_group(bulk_groups *g, const char *key, uint64_t now)
{
    group *gr = calloc(1, sizeof(*gr));

    if (gr == NULL || (gr->seqs = malloc(g->batch * sizeof(*gr->seqs))) == NULL) {
        free(gr);
        return NULL;
    }
    snprintf(gr->key, sizeof(gr->key), "%s", key);
    if (mv_dict_put(g->by_key, gr->key, gr) < 0) {
        free(gr->seqs);
        free(gr);
        return NULL;
    }
    gr->since = now;
    gr->prev = g->tail;
    if (g->tail != NULL)
        g->tail->next = gr;
    else
        g->head = gr;
    g->tail = gr;
    return gr;
}

/* bulk_groups_add - hold row seq for domain; a full group becomes ready.
 * -1 on ENOMEM (nothing held: the caller hands the row on itself) */
int bulk_groups_add(bulk_groups *g, const char *domain, uint64_t seq, uint64_t now)
{
    group *gr = mv_dict_get(g->by_key, domain);

    if (gr == NULL && (gr = open_group(g, domain, now)) == NULL)
        return -1;
    gr->seqs[gr->n++] = seq;
    g->held++;
    if (gr->n >= g->batch) {
        /* full: off the filling list (the next row opens a new group) */
        mv_dict_del(g->by_key, gr->key);
        unlink_group(g, gr);
        gr->full = true;
        if (g->ready_tail != NULL)
            g->ready_tail->next = gr;
        else
            g->ready = gr;
        g->ready_tail = gr;
    }
    return 0;
}

/* bulk_groups_release - release one group: a full one, else the oldest
 * if it waited hold_ms or all is asked; false if none went */
bool bulk_groups_release(bulk_groups *g, uint64_t now, bool all)
{
    if (g->ready != NULL)
        release(g, g->ready);
    else if (g->head != NULL && (all || now - g->head->since >= g->hold_ms))
        release(g, g->head);
    else
        return false;
    return true;
}

/* bulk_groups_held - rows held now */
size_t bulk_groups_held(const bulk_groups *g)
{
    return g->held;
}

/* bulk_groups_free - forget what is held (without handing it on) */
void bulk_groups_free(bulk_groups *g)
{
    if (g == NULL)
        return;
    for (int list = 0; list < 2; list++) {
        group *gr = list ? g->ready : g->head;

        while (gr != NULL) {
            group *next = gr->next;

            free(gr->seqs);
            free(gr);
            gr = next;
        }
    }
    mv_dict_free(g->by_key);
    free(g);
}
