/* SPDX-License-Identifier: MIT */
/*
 * cache.h - bounded, sharded LRU cache with Postfix verify(8) semantics.
 *
 * Keys and values are opaque bytes; the engine stores address verdicts
 * and domain facts (MX set, catch-all, refuses-probes, greylisting delay)
 * under keys that say which is which. Each entry has a class -- positive,
 * negative or temporary -- and each class its own expire and refresh
 * times: past refresh, a hit is still answered but flagged stale so the
 * engine re-probes in the background; past expire, it is gone.
 *
 * As in Postfix's verify(8): a failed re-probe never clobbers a good entry
 * before it expires. A negative or temporary result leaves an unexpired
 * positive entry in place, and a temporary result leaves an unexpired
 * negative one; only the time of the last probe is updated, so the next
 * refresh waits a full refresh interval.
 *
 * Bounded by entries and by bytes; the least recently used go first. Any
 * thread may call any function: the cache is split into shards, each with
 * its own lock, so readers on different keys rarely meet.
 */
#ifndef MV_CACHE_H
#define MV_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MV_CACHE_KEY_MAX 255
#define MV_CACHE_VAL_MAX 1024

typedef enum {
    MV_CACHE_POSITIVE,  /* deliverable, risky */
    MV_CACHE_NEGATIVE,  /* undeliverable */
    MV_CACHE_TEMPORARY, /* unknown: greylisted, timeout, ... */
    MV_CACHE_CLASSES
} mv_cache_class;

typedef struct {
    uint32_t expire[MV_CACHE_CLASSES];  /* seconds after the store */
    uint32_t refresh[MV_CACHE_CLASSES]; /* seconds after the last probe; 0: never */
} mv_cache_ttl;

typedef enum {
    MV_CACHE_MISS,
    MV_CACHE_HIT,
    MV_CACHE_STALE, /* a hit, and a re-probe is due */
} mv_cache_result;

typedef enum {
    MV_CACHE_STORED,
    MV_CACHE_KEPT, /* the old entry was better and stays */
    MV_CACHE_ENOMEM,
    MV_CACHE_TOOBIG,
} mv_cache_put_result;

typedef struct {
    size_t entries, bytes;
    uint64_t hits, stale, misses, stores, kept, evictions, expired;
} mv_cache_stats;

typedef struct mv_cache mv_cache;

/* mv_cache_new - a cache bounded by entries and bytes; NULL on ENOMEM or
 * when the kernel gives no random key for its hash (siphash.h) */
mv_cache *mv_cache_new(size_t max_entries, size_t max_bytes);

/* mv_cache_free - release; NULL is fine */
void mv_cache_free(mv_cache *c);

/* mv_cache_get - copy the value out (up to size); class and age too */
mv_cache_result mv_cache_get(mv_cache *c, const void *key, size_t klen, int64_t now, const mv_cache_ttl *ttl,
                             void *val, size_t size, size_t *vlen, mv_cache_class *cls);

/* mv_cache_put - store, unless an unexpired better entry must stay */
mv_cache_put_result mv_cache_put(mv_cache *c, const void *key, size_t klen, int64_t now,
                                 const mv_cache_ttl *ttl, mv_cache_class cls, const void *val, size_t vlen);

/* mv_cache_del - remove a key; true if it was there */
bool mv_cache_del(mv_cache *c, const void *key, size_t klen);

/* mv_cache_get_stats - counters, summed over the shards */
void mv_cache_get_stats(mv_cache *c, mv_cache_stats *out);

#endif
