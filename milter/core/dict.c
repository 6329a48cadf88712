/* SPDX-License-Identifier: MIT */
/*
 * dict.c - chained hash map with copied string keys; see dict.h.
 *
 * Keys are hashed with SipHash under a random key per map (siphash.h), so
 * that keys sent from outside cannot be chosen to share one chain.
 */
#include "dict.h"
#include "siphash.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct node {
    struct node *next;
    uint64_t hash;
    void *value;
    char key[];
} node;

struct mv_dict {
    node **b;
    size_t nb, count;
    uint8_t k[MV_SIPHASH_KEY];
};

/* mv_dict_new - empty; NULL on ENOMEM or when the kernel gives no key */
mv_dict *mv_dict_new(void)
{
    mv_dict *d = calloc(1, sizeof(*d));

    if (d == NULL || mv_siphash_key(d->k) != 0 || (d->b = calloc(16, sizeof(node *))) == NULL) {
        free(d);
        return NULL;
    }
    d->nb = 16;
    return d;
}

/* find - the link pointing at key's node, or at the chain end */
static node **find(const mv_dict *d, const char *key, uint64_t h)
{
    node **p = &d->b[h & (d->nb - 1)];

    while (*p != NULL && ((*p)->hash != h || strcmp((*p)->key, key) != 0))
        p = &(*p)->next;
    return p;
}

/* mv_dict_get - the value for key, or NULL */
void *mv_dict_get(const mv_dict *d, const char *key)
{
    node *n = *find(d, key, mv_siphash(d->k, key, strlen(key)));

    return n ? n->value : NULL;
}

/* grow - double the buckets */
static void grow(mv_dict *d)
{
    size_t nb = d->nb * 2;
    node **b = calloc(nb, sizeof(*b));

    if (b == NULL)
        return;
    for (size_t i = 0; i < d->nb; i++)
        for (node *n = d->b[i], *next; n != NULL; n = next) {
            next = n->next;
            n->next = b[n->hash & (nb - 1)];
            b[n->hash & (nb - 1)] = n;
        }
    free(d->b);
    d->b = b;
    d->nb = nb;
}

/* mv_dict_put - set key (copied) to value; -1 on ENOMEM */
int mv_dict_put(mv_dict *d, const char *key, void *value)
{
    size_t len = strlen(key);
    uint64_t h = mv_siphash(d->k, key, len);
    node **p = find(d, key, h), *n;

    if (*p != NULL) {
        (*p)->value = value;
        return 0;
    }
    if ((n = malloc(sizeof(*n) + len + 1)) == NULL)
        return -1;
    n->next = NULL;
    n->hash = h;
    n->value = value;
    memcpy(n->key, key, len + 1);
    *p = n;
    if (++d->count > d->nb)
        grow(d);
    return 0;
}

/* mv_dict_del - remove key; its value, or NULL */
void *mv_dict_del(mv_dict *d, const char *key)
{
    node **p = find(d, key, mv_siphash(d->k, key, strlen(key))), *n = *p;
    void *v;

    if (n == NULL)
        return NULL;
    *p = n->next;
    v = n->value;
    free(n);
    d->count--;
    return v;
}

/* mv_dict_count - number of keys */
size_t mv_dict_count(const mv_dict *d)
{
    return d->count;
}

/* mv_dict_each - call fn on every value (fn must not change the dict) */
void mv_dict_each(const mv_dict *d, void (*fn)(void *value, void *arg), void *arg)
{
    for (size_t i = 0; i < d->nb; i++)
        for (node *n = d->b[i]; n != NULL; n = n->next)
            fn(n->value, arg);
}

/* mv_dict_free - release the map (not the values) */
void mv_dict_free(mv_dict *d)
{
    if (d == NULL)
        return;
    for (size_t i = 0; i < d->nb; i++)
        for (node *n = d->b[i], *next; n != NULL; n = next) {
            next = n->next;
            free(n);
        }
    free(d->b);
    free(d);
}
