/* SPDX-License-Identifier: MIT */
/*
 * store.c - the store interface's dispatch, the choice of store from the
 * settings, and the memory store (cache.h inside this process).
 *
 * The memory store keeps no counters and cannot be purged from outside:
 * its entries live in each process and go with it. mv_store_incr and
 * mv_store_purge say so (-1) and the callers fall back to their own.
 */
#include "store_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct {
    mv_store base;
    mv_cache *c;
} mem_store;

/* mem_get - the LRU's get */
static mv_cache_result mem_get(mv_store *st, const void *key, size_t klen, int64_t now,
                               const mv_cache_ttl *ttl, void *val, size_t size, size_t *vlen,
                               mv_cache_class *cls)
{
    return mv_cache_get(((mem_store *)st)->c, key, klen, now, ttl, val, size, vlen, cls);
}

/* mem_put - the LRU's put */
static mv_cache_put_result mem_put(mv_store *st, const void *key, size_t klen, int64_t now,
                                   const mv_cache_ttl *ttl, mv_cache_class cls, const void *val, size_t vlen)
{
    return mv_cache_put(((mem_store *)st)->c, key, klen, now, ttl, cls, val, vlen);
}

/* mem_del - the LRU's del */
static bool mem_del(mv_store *st, const void *key, size_t klen)
{
    return mv_cache_del(((mem_store *)st)->c, key, klen);
}

/* mem_stats - the LRU's counters */
static void mem_stats(mv_store *st, mv_store_stats *out)
{
    mv_cache_get_stats(((mem_store *)st)->c, &out->c);
}

/* mem_free - the LRU and the wrapper */
static void mem_free(mv_store *st)
{
    mv_cache_free(((mem_store *)st)->c);
    free(st);
}

static const mv_store_ops mem_ops = {
    /* no counters, nothing to purge from outside, the LRU drops expired
     * entries when it meets them */
    "memory", false, mem_get, mem_put, mem_del, NULL, NULL, NULL, mem_stats, mem_free,
};

/* mv_store_memory_new - this process's LRU (cache.h); NULL on ENOMEM */
mv_store *mv_store_memory_new(size_t max_entries, size_t max_bytes)
{
    mem_store *m = calloc(1, sizeof(*m));

    if (m == NULL)
        return NULL;
    if ((m->c = mv_cache_new(max_entries, max_bytes)) == NULL) {
        free(m);
        return NULL;
    }
    m->base.ops = &mem_ops;
    return &m->base;
}

/* mv_store_built - is this cache.store kind compiled in? */
bool mv_store_built(mv_store_type kind)
{
#ifdef MV_HAVE_HIREDIS
    if (kind == MV_STORE_REDIS)
        return true; /* store_redis.c */
#endif
    return kind == MV_STORE_MEMORY || kind == MV_STORE_LMDB;
}

/* mv_store_open - the store the settings choose; NULL with err */
mv_store *mv_store_open(const mv_settings *s, char *err, size_t errlen)
{
    mv_store *st = NULL;

    err[0] = '\0';
    if (s->cache_store == MV_STORE_LMDB) {
        st = mv_store_lmdb_open(s->cache_lmdb_path, (size_t)s->cache_lmdb_size_mb, err, errlen);
        /* Redis seals in its client (below its memory tier); memory is not shared */
        return st != NULL && s->cache_hash_keys ? mv_store_seal(st, s->cache_hash_secret, err, errlen) : st;
    }
    if (s->cache_store == MV_STORE_REDIS && mv_store_built(MV_STORE_REDIS))
        return mv_store_redis_open(s, err, errlen);
    if (s->cache_store != MV_STORE_MEMORY) {
        snprintf(err, errlen, "cache.store \"%s\" is not built yet", mv_store_type_name(s->cache_store));
        return NULL;
    }
    if (s->cache_max_entries > 0 &&
        (st = mv_store_memory_new((size_t)s->cache_max_entries, (size_t)s->cache_max_bytes)) == NULL)
        snprintf(err, errlen, "out of memory");
    return st;
}

/* mv_store_redis_params - the client's parameters from the settings */
mv_redis_params mv_store_redis_params(const mv_settings *s)
{
    return (mv_redis_params){
        .server = s->cache_redis_server,
        .user = s->cache_redis_user,
        .password = s->cache_redis_password,
        .db = (unsigned)s->cache_redis_db,
        .prefix = s->cache_redis_prefix,
        .tls = s->cache_redis_tls,
        .tls_ca_file = s->cache_redis_tls_ca_file,
        .tls_cert_file = s->cache_redis_tls_cert_file,
        .tls_key_file = s->cache_redis_tls_key_file,
        .tls_server_name = s->cache_redis_tls_server_name,
        .timeout_ms = (unsigned)s->cache_redis_timeout_ms,
        .hash_secret = s->cache_hash_keys ? s->cache_hash_secret : NULL,
    };
}

/* mv_store_set_log - st's lines go to fn; NULL: nowhere */
void mv_store_set_log(mv_store *st, mv_store_log_fn fn, void *arg)
{
    st->log = fn;
    st->log_arg = arg;
}

/* mv_store_free - close; NULL is fine */
void mv_store_free(mv_store *st)
{
    if (st != NULL)
        st->ops->free(st);
}

/* mv_store_kind - "memory", "lmdb", ... */
const char *mv_store_kind(const mv_store *st)
{
    return st->ops->kind;
}

/* mv_store_shared - do other processes see what this one stores? */
bool mv_store_shared(const mv_store *st)
{
    return st->ops->shared;
}

/* mv_store_get - as mv_cache_get */
mv_cache_result mv_store_get(mv_store *st, const void *key, size_t klen, int64_t now, const mv_cache_ttl *ttl,
                             void *val, size_t size, size_t *vlen, mv_cache_class *cls)
{
    return st->ops->get(st, key, klen, now, ttl, val, size, vlen, cls);
}

/* mv_store_put - as mv_cache_put */
mv_cache_put_result mv_store_put(mv_store *st, const void *key, size_t klen, int64_t now,
                                 const mv_cache_ttl *ttl, mv_cache_class cls, const void *val, size_t vlen)
{
    return st->ops->put(st, key, klen, now, ttl, cls, val, vlen);
}

/* mv_store_del - remove a key; true if it was there */
bool mv_store_del(mv_store *st, const void *key, size_t klen)
{
    return st->ops->del(st, key, klen);
}

/* mv_store_incr - a fixed-window counter; -1 if none */
long long mv_store_incr(mv_store *st, const void *key, size_t klen, int64_t now, uint32_t window_s,
                        unsigned delta)
{
    return st->ops->incr != NULL ? st->ops->incr(st, key, klen, now, window_s, delta) : -1;
}

/* mv_store_purge - an address's or a domain's entries; -1 if it cannot */
long long mv_store_purge(mv_store *st, const char *what)
{
    return st->ops->purge != NULL ? st->ops->purge(st, what) : -1;
}

/* mv_store_sweep - remove some expired entries */
size_t mv_store_sweep(mv_store *st, int64_t now)
{
    return st->ops->sweep != NULL ? st->ops->sweep(st, now) : 0;
}

/* mv_store_get_stats - counters and sizes */
void mv_store_get_stats(mv_store *st, mv_store_stats *out)
{
    memset(out, 0, sizeof(*out));
    out->kind = st->ops->kind;
    st->ops->stats(st, out);
}

/* mv_store_purge_match - does a verdict or fact key belong to what? */
bool mv_store_purge_match(const char *key, size_t klen, const char *what)
{
    size_t wl = strlen(what), ml;
    const char *mb, *bar, *at;

    if (klen < 3 || key[1] != ':')
        return false;
    mb = key + 2;
    ml = klen - 2;
    if (key[0] == 'f') /* a domain's facts, also for a next hop: "f:domain|hop" */
        return strchr(what, '@') == NULL && ml >= wl && strncasecmp(mb, what, wl) == 0 &&
               (ml == wl || mb[wl] == '|');
    if (key[0] != 's' && key[0] != 'd')
        return false;
    if ((bar = memchr(mb, '|', ml)) != NULL)
        ml = (size_t)(bar - mb); /* "|next-hop" is not part of the address */
    if (strchr(what, '@') != NULL)
        return ml == wl && strncasecmp(mb, what, wl) == 0;
    if ((at = memrchr(mb, '@', ml)) == NULL)
        return false;
    return (size_t)(mb + ml - at - 1) == wl && strncasecmp(at + 1, what, wl) == 0;
}
