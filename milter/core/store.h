/* SPDX-License-Identifier: MIT */
/*
 * store.h - where the engine keeps what it learned: one interface, several
 * stores (cache.store = "memory" | "lmdb" | "redis").
 *
 * Every store keeps the rules of cache.h (Postfix verify(8) semantics):
 * positive, negative and temporary entries with their own expire and
 * refresh times; past refresh a hit is STALE (answered, re-probed in the
 * background); past expire it is a miss; a failed re-probe never clobbers
 * an unexpired better entry (KEPT, only its probe time moves). The memory
 * store is cache.h's LRU inside one process; the shared stores (LMDB on
 * one host, Redis across hosts) let mailverifyd, the FastCGI workers and
 * mailverify bulk learn from each other and keep it across restarts.
 *
 * A store never fails a verification: a store that cannot answer answers
 * a miss, and a store that cannot write drops the entry (and counts it).
 * Reads may come from any thread; writes, counters and sweeps are meant
 * for one thread per process (the engine's loop thread), though every
 * store is safe when more call them.
 *
 * Keys the engine uses: "s:" and "d:" + mailbox [+ "|" next hop] for
 * verdicts (smtp and dns mode), "f:" + domain for domain facts, "c:" +
 * name for counters (mv_store_incr).
 */
#ifndef MV_STORE_H
#define MV_STORE_H

#include "cache.h"
#include "config.h"
#include "loop.h"
#include "redis.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct mv_store mv_store;

typedef struct {
    const char *kind;       /* "memory", "lmdb", "redis" */
    mv_cache_stats c;       /* entries, hits, misses, ...; bytes: in use */
    uint64_t map_size;      /* shared stores: the bound, bytes (0: none) */
    uint64_t swept;         /* expired entries removed by sweeps */
    uint64_t write_errors;  /* writes dropped (map full, I/O, ...) */
    uint64_t stale_readers; /* reader slots of dead processes cleared */
} mv_store_stats;

/* mv_store_built - is this cache.store kind compiled in? */
bool mv_store_built(mv_store_type kind);

/* mv_store_open - the store the settings choose; NULL with err (memory with
 * cache.max_entries 0 is no cache: NULL and err "") */
mv_store *mv_store_open(const mv_settings *s, char *err, size_t errlen);

/* mv_store_seal - in (an LMDB store), behind keyed names and sealed values
 * (cache.hash_keys, seal.h); takes in, also on failure; NULL with err */
mv_store *mv_store_seal(mv_store *in, const char *secret, char *err, size_t errlen);

/* mv_store_memory_new - this process's LRU (cache.h); NULL on ENOMEM */
mv_store *mv_store_memory_new(size_t max_entries, size_t max_bytes);

/* mv_store_lmdb_open - an LMDB file shared by processes; NULL with err */
mv_store *mv_store_lmdb_open(const char *path, size_t size_mb, char *err, size_t errlen);

/* mv_store_redis_open - a memory store in front of a Redis server
 * (store_redis.c); the client starts with mv_store_redis_start; NULL with err */
mv_store *mv_store_redis_open(const mv_settings *s, char *err, size_t errlen);

/* mv_store_redis_params - the Redis client's parameters as the settings
 * give them (pointing into s; no log; timeout cache.redis_timeout_ms,
 * hash_secret only with cache.hash_keys): one reading of the cache.redis_*
 * keys for the store, the CLI's cache and bulk --fleet, and config-test */
mv_redis_params mv_store_redis_params(const mv_settings *s);

/* mv_store_redis_start - connect st's client on loop (not yet running, or
 * from its thread); true for other stores; false on bad params or ENOMEM */
bool mv_store_redis_start(mv_store *st, mv_loop *loop);

/* mv_store_redis_stop - free the client (on the loop's thread, or after it
 * ended); outstanding callbacks complete CANCELLED; others: nothing */
void mv_store_redis_stop(mv_store *st);

/* mv_store_redis_client - the client to ask on the loop after a miss; NULL
 * for other stores or when not started */
mv_redis *mv_store_redis_client(mv_store *st);

/* mv_store_redis_fill - put what Redis answered into the memory tier only */
void mv_store_redis_fill(mv_store *st, const void *key, size_t klen, const mv_cache_ttl *ttl,
                         const mv_redis_entry *en);

/* A store's own lines (Redis down, up again); priority: syslog's LOG_ERR,
 * LOG_WARNING, LOG_INFO. */
typedef void (*mv_store_log_fn)(void *arg, int priority, const char *msg);

/* mv_store_set_log - st's lines go to fn from now on (NULL: nowhere, the
 * default: the store never writes to stderr or syslog itself); before the
 * store is started. */
void mv_store_set_log(mv_store *st, mv_store_log_fn fn, void *arg);

/* mv_store_free - close; NULL is fine */
void mv_store_free(mv_store *st);

/* mv_store_kind - "memory", "lmdb", ... */
const char *mv_store_kind(const mv_store *st);

/* mv_store_shared - do other processes see what this one stores? */
bool mv_store_shared(const mv_store *st);

/* mv_store_get - as mv_cache_get */
mv_cache_result mv_store_get(mv_store *st, const void *key, size_t klen, int64_t now, const mv_cache_ttl *ttl,
                             void *val, size_t size, size_t *vlen, mv_cache_class *cls);

/* mv_store_put - as mv_cache_put; a store that cannot write says ENOMEM */
mv_cache_put_result mv_store_put(mv_store *st, const void *key, size_t klen, int64_t now,
                                 const mv_cache_ttl *ttl, mv_cache_class cls, const void *val, size_t vlen);

/* mv_store_del - remove a key; true if it was there */
bool mv_store_del(mv_store *st, const void *key, size_t klen);

/* mv_store_incr - add delta to a counter in a fixed window of window_s
 * seconds (a new window starts at zero; delta 0 reads, writing nothing);
 * the count, or -1 if the store keeps no counters (memory: the caller
 * counts itself) or failed */
long long mv_store_incr(mv_store *st, const void *key, size_t klen, int64_t now, uint32_t window_s,
                        unsigned delta);

/* mv_store_purge - remove every verdict for an address ("user@domain") or
 * a whole domain ("domain", its facts too); the number removed, -1 if the
 * store cannot (memory: the entries live inside each process) */
long long mv_store_purge(mv_store *st, const char *what);

/* mv_store_sweep - remove some expired entries (a bounded batch); call
 * from a timer, never on a reader's path; the number removed */
size_t mv_store_sweep(mv_store *st, int64_t now);

/* mv_store_get_stats - counters and sizes */
void mv_store_get_stats(mv_store *st, mv_store_stats *out);

#endif
