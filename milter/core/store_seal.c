/* SPDX-License-Identifier: MIT */
/*
 * store_seal.c - cache.hash_keys for the LMDB store: a store that keeps
 * another's entries under sealed names with sealed values (seal.h).
 *
 * It sits in front of the LMDB store and passes every call through with
 * the key replaced by its keyed name and the value by its sealed bytes,
 * so the file on disk (and its backups) holds no address or domain. The
 * LMDB store's own header (class, times) stays readable for its sweep. A
 * value that does not open -- written with another secret, or damaged --
 * is a miss, and the next verdict replaces it. `purge ADDRESS` removes the
 * address's two exact names (smtp and dns mode; a next hop's variants are
 * left to expire); `purge DOMAIN` cannot be done and says so (-1). Redis
 * seals inside its client instead (redis_cmd.c), below its memory tier.
 */
#include "store_int.h"

#include "outcome.h"
#include "seal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    mv_store base;
    mv_store_ops ops; /* the inner store's kind and sharing, our functions */
    mv_store *in;
    mv_seal *seal;
} seal_store;

/* sealed_get - open the inner store's sealed value for the key's name */
static mv_cache_result sealed_get(mv_store *st, const void *key, size_t klen, int64_t now,
                                  const mv_cache_ttl *ttl, void *val, size_t size, size_t *vlen,
                                  mv_cache_class *cls)
{
    seal_store *s = (seal_store *)st;
    char name[MV_SEAL_NAME_LEN + 1];
    unsigned char buf[MV_CACHE_VAL_MAX + MV_SEAL_OVERHEAD];
    size_t nl = mv_seal_name(s->seal, key, klen, name, sizeof(name)), bl = 0;
    mv_cache_result r;

    if (nl == 0)
        return MV_CACHE_MISS;
    r = mv_store_get(s->in, name, nl, now, ttl, buf, sizeof(buf), &bl, cls);
    if (r == MV_CACHE_MISS)
        return r;
    if (!mv_seal_open(s->seal, name, nl, buf, bl, val, size, vlen))
        return MV_CACHE_MISS;
    return r;
}

/* sealed_put - the sealed value under the key's name */
static mv_cache_put_result sealed_put(mv_store *st, const void *key, size_t klen, int64_t now,
                                      const mv_cache_ttl *ttl, mv_cache_class cls, const void *val,
                                      size_t vlen)
{
    seal_store *s = (seal_store *)st;
    char name[MV_SEAL_NAME_LEN + 1];
    unsigned char buf[MV_CACHE_VAL_MAX + MV_SEAL_OVERHEAD];
    size_t nl = mv_seal_name(s->seal, key, klen, name, sizeof(name)), bl;

    if (vlen > MV_CACHE_VAL_MAX)
        return MV_CACHE_TOOBIG;
    if (nl == 0 || (bl = mv_seal_value(s->seal, name, nl, val, vlen, buf, sizeof(buf))) == 0)
        return MV_CACHE_ENOMEM;
    return mv_store_put(s->in, name, nl, now, ttl, cls, buf, bl);
}

static bool sealed_del(mv_store *st, const void *key, size_t klen)
{
    seal_store *s = (seal_store *)st;
    char name[MV_SEAL_NAME_LEN + 1];
    size_t nl = mv_seal_name(s->seal, key, klen, name, sizeof(name));

    return nl != 0 && mv_store_del(s->in, name, nl);
}

static long long sealed_incr(mv_store *st, const void *key, size_t klen, int64_t now, uint32_t window_s,
                             unsigned delta)
{
    seal_store *s = (seal_store *)st;
    char name[MV_SEAL_NAME_LEN + 1];
    size_t nl = mv_seal_name(s->seal, key, klen, name, sizeof(name));

    return nl == 0 ? -1 : mv_store_incr(s->in, name, nl, now, window_s, delta);
}

/* sealed_purge - an address's two exact names; a domain cannot be found */
static long long sealed_purge(mv_store *st, const char *what)
{
    char key[MV_CACHE_KEY_MAX + 1];
    long long n = 0;

    if (strchr(what, '@') == NULL)
        return -1;
    for (int smtp = 0; smtp < 2; smtp++) {
        size_t kl = mv_outcome_key(key, sizeof(key), smtp, what, NULL);

        n += kl != 0 && sealed_del(st, key, kl);
    }
    return n;
}

static size_t sealed_sweep(mv_store *st, int64_t now)
{
    return mv_store_sweep(((seal_store *)st)->in, now);
}

static void sealed_stats(mv_store *st, mv_store_stats *out)
{
    mv_store_get_stats(((seal_store *)st)->in, out);
}

static void sealed_free(mv_store *st)
{
    seal_store *s = (seal_store *)st;

    mv_store_free(s->in);
    mv_seal_free(s->seal);
    free(s);
}

/* mv_store_seal - in, behind sealed names and values; in is taken (freed
 * on failure too); NULL with err */
mv_store *mv_store_seal(mv_store *in, const char *secret, char *err, size_t errlen)
{
    seal_store *s = calloc(1, sizeof(*s));

    if (s == NULL || (s->seal = mv_seal_new(secret, strlen(secret), err, errlen)) == NULL) {
        if (s == NULL)
            snprintf(err, errlen, "out of memory");
        free(s);
        mv_store_free(in);
        return NULL;
    }
    s->in = in;
    s->ops = (mv_store_ops){
        .kind = in->ops->kind,
        .shared = in->ops->shared,
        .get = sealed_get,
        .put = sealed_put,
        .del = sealed_del,
        .incr = sealed_incr,
        .purge = sealed_purge,
        .sweep = sealed_sweep,
        .stats = sealed_stats,
        .free = sealed_free,
    };
    s->base.ops = &s->ops;
    return &s->base;
}
