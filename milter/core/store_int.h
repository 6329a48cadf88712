/* SPDX-License-Identifier: MIT */
/*
 * store_int.h - what a store implementation provides: its table of
 * operations. store.c dispatches through it; store.c (memory),
 * store_lmdb.c and store_redis.c fill one in. incr, purge and sweep may
 * be NULL: the store keeps no counters (-1), cannot purge from outside
 * (-1), or needs no sweep (0). Not for the engine or front ends.
 */
#ifndef MV_STORE_INT_H
#define MV_STORE_INT_H

#include "store.h"

typedef struct {
    const char *kind;
    bool shared;
    mv_cache_result (*get)(mv_store *st, const void *key, size_t klen, int64_t now, const mv_cache_ttl *ttl,
                           void *val, size_t size, size_t *vlen, mv_cache_class *cls);
    mv_cache_put_result (*put)(mv_store *st, const void *key, size_t klen, int64_t now,
                               const mv_cache_ttl *ttl, mv_cache_class cls, const void *val, size_t vlen);
    bool (*del)(mv_store *st, const void *key, size_t klen);
    long long (*incr)(mv_store *st, const void *key, size_t klen, int64_t now, uint32_t window_s,
                      unsigned delta);
    long long (*purge)(mv_store *st, const char *what);
    size_t (*sweep)(mv_store *st, int64_t now);
    void (*stats)(mv_store *st, mv_store_stats *out);
    void (*free)(mv_store *st);
} mv_store_ops;

/* Every store's struct begins with this. */
struct mv_store {
    const mv_store_ops *ops;
    mv_store_log_fn log; /* mv_store_set_log; NULL: silent */
    void *log_arg;
};

/* mv_store_purge_match - does a verdict or fact key belong to what
 * (an address or a domain)? */
bool mv_store_purge_match(const char *key, size_t klen, const char *what);

#endif
