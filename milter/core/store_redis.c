/* SPDX-License-Identifier: MIT */
/*
 * store_redis.c - cache.store = "redis": verdicts shared across hosts.
 *
 * Two tiers. This process's memory store (cache.h) is the first: it
 * answers mv_store_get in the caller's thread exactly as the memory store
 * does, so a cached verdict never waits for the loop or the network. Redis
 * is the second: every put (on the engine's loop thread) goes to both, the
 * Redis write fire-and-forget with the class's expire time as its TTL, so
 * Redis drops old entries and nobody sweeps. The Redis read is
 * asynchronous and cannot live behind the synchronous mv_store_get: the
 * engine asks it on the loop (mv_store_redis_client, then mv_redis_get),
 * after a first-tier miss and before DNS and SMTP, and copies a hit into
 * the first tier (mv_store_redis_fill).
 *
 * Redis is an optimisation, never a dependency: while it is down the
 * client (redis.c) answers UNAVAILABLE at once, logs one line per change
 * of state and reconnects by itself; this store then behaves as the memory
 * store. The never-clobber rule holds in both tiers (cache.c locally, a
 * Lua script on the server).
 *
 * mv_store_incr and mv_store_purge are synchronous and the client is not,
 * so this store answers -1 to both: counters go through the engine
 * (mv_engine_counter posts to the loop and waits for the reply), purges
 * through `mailverify cache purge` (cli_cache_redis.c). Domain facts
 * ("f:" keys) are written like verdicts and read by the engine on the
 * loop (ask_facts in engine_net.c) ahead of a verdict's GET.
 */
#include "store_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef MV_HAVE_HIREDIS

typedef struct {
    mv_store base;
    mv_store *l1;      /* this process's memory store */
    mv_redis_params p; /* strings point into the settings copy below */
    char *server, *user, *password, *prefix, *ca, *cert, *key, *name, *secret;
    mv_loop *loop;
    mv_redis *r;           /* NULL until mv_store_redis_start, after stop */
    uint64_t write_errors; /* puts Redis refused or could not take */
} redis_store;

/* rlog - the client's state changes: to the front end's hook (set after
 * open, so read at each line), or nowhere */
static void rlog(void *arg, int priority, const char *msg)
{
    redis_store *rs = arg;

    if (rs->base.log != NULL)
        rs->base.log(rs->base.log_arg, priority, msg);
}

/* rget - the first tier only; the engine asks Redis on the loop */
static mv_cache_result rget(mv_store *st, const void *key, size_t klen, int64_t now, const mv_cache_ttl *ttl,
                            void *val, size_t size, size_t *vlen, mv_cache_class *cls)
{
    return mv_store_get(((redis_store *)st)->l1, key, klen, now, ttl, val, size, vlen, cls);
}

/* put_done - a Redis write ended; a failure is counted, the client logs drops */
static void put_done(void *arg, mv_redis_status st, bool stored)
{
    (void)stored;
    if (st != MV_REDIS_OK && st != MV_REDIS_CANCELLED)
        ((redis_store *)arg)->write_errors++;
}

/* rput - both tiers; Redis only from the loop's thread, which owns the client */
static mv_cache_put_result rput(mv_store *st, const void *key, size_t klen, int64_t now,
                                const mv_cache_ttl *ttl, mv_cache_class cls, const void *val, size_t vlen)
{
    redis_store *rs = (redis_store *)st;
    mv_cache_put_result res = mv_store_put(rs->l1, key, klen, now, ttl, cls, val, vlen);
    mv_redis_status s;

    if (rs->loop == NULL || !mv_loop_in_thread(rs->loop) || rs->r == NULL || ttl->expire[cls] == 0)
        return res;
    s = mv_redis_put(rs->r, key, klen, cls, val, vlen, now, ttl->expire[cls], put_done, rs);
    if (s != MV_REDIS_OK && s != MV_REDIS_UNAVAILABLE)
        rs->write_errors++; /* down is not an error: the first tier has it */
    return res;
}

/* rdel - both tiers */
static bool rdel(mv_store *st, const void *key, size_t klen)
{
    redis_store *rs = (redis_store *)st;

    if (rs->loop != NULL && mv_loop_in_thread(rs->loop) && rs->r != NULL)
        (void)mv_redis_del(rs->r, key, klen, NULL, NULL); /* best effort */
    return mv_store_del(rs->l1, key, klen);
}

/* rstats - the first tier's counters and Redis' write errors */
static void rstats(mv_store *st, mv_store_stats *out)
{
    redis_store *rs = (redis_store *)st;
    mv_store_stats l1;

    mv_store_get_stats(rs->l1, &l1);
    out->c = l1.c;
    out->write_errors = rs->write_errors;
}

/* rfree - the client (callbacks cancelled), the first tier, the copies */
static void rfree(mv_store *st)
{
    redis_store *rs = (redis_store *)st;

    mv_store_redis_stop(st);
    mv_store_free(rs->l1);
    free(rs->server);
    free(rs->user);
    free(rs->password);
    free(rs->prefix);
    free(rs->ca);
    free(rs->cert);
    free(rs->key);
    free(rs->name);
    if (rs->secret != NULL)
        explicit_bzero(rs->secret, strlen(rs->secret));
    free(rs->secret);
    free(rs);
}

static const mv_store_ops redis_ops = {
    /* counters and purges are asynchronous here (mv_engine_counter, cli_cache_redis.c);
     * Redis expires its keys by TTL, the memory tier its own */
    "redis", true, rget, rput, rdel, NULL, NULL, NULL, rstats, rfree,
};

/* dup_setting - a copy of a setting; NULL (a settings struct made by hand) is "" */
static char *dup_setting(const char *s)
{
    return strdup(s != NULL ? s : "");
}

/* copy_params - the client's settings, with copies of the strings */
static bool copy_params(redis_store *rs, const mv_settings *s, char *err, size_t errlen)
{
    if ((rs->server = dup_setting(s->cache_redis_server)) == NULL ||
        (rs->user = dup_setting(s->cache_redis_user)) == NULL ||
        (rs->password = dup_setting(s->cache_redis_password)) == NULL ||
        (rs->prefix = dup_setting(s->cache_redis_prefix)) == NULL ||
        (rs->ca = dup_setting(s->cache_redis_tls_ca_file)) == NULL ||
        (rs->cert = dup_setting(s->cache_redis_tls_cert_file)) == NULL ||
        (rs->key = dup_setting(s->cache_redis_tls_key_file)) == NULL ||
        (rs->name = dup_setting(s->cache_redis_tls_server_name)) == NULL ||
        (rs->secret = dup_setting(s->cache_hash_keys ? s->cache_hash_secret : "")) == NULL) {
        snprintf(err, errlen, "out of memory");
        return false;
    }
    rs->p = mv_store_redis_params(s);
    rs->p.server = rs->server;
    rs->p.user = rs->user;
    rs->p.password = rs->password;
    rs->p.prefix = rs->prefix;
    rs->p.tls_ca_file = rs->ca;
    rs->p.tls_cert_file = rs->cert;
    rs->p.tls_key_file = rs->key;
    rs->p.tls_server_name = rs->name;
    rs->p.hash_secret = rs->secret;
    rs->p.log = rlog;
    rs->p.log_arg = rs;
    if (!mv_redis_check_params(&rs->p, err, errlen))
        return false;
    return true;
}

/* mv_store_redis_open - the first tier and Redis' settings; NULL with err */
mv_store *mv_store_redis_open(const mv_settings *s, char *err, size_t errlen)
{
    redis_store *rs = calloc(1, sizeof(*rs));
    size_t entries = s->cache_max_entries > 0 ? (size_t)s->cache_max_entries : 1;

    if (rs == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    rs->base.ops = &redis_ops;
    if ((rs->l1 = mv_store_memory_new(entries, (size_t)s->cache_max_bytes)) == NULL)
        snprintf(err, errlen, "out of memory");
    if (rs->l1 == NULL || !copy_params(rs, s, err, errlen)) {
        rfree(&rs->base);
        return NULL;
    }
    return &rs->base;
}

/* mv_store_redis_start - connect on loop (not yet running, or from its thread) */
bool mv_store_redis_start(mv_store *st, mv_loop *loop)
{
    redis_store *rs = (redis_store *)st;

    if (st->ops != &redis_ops)
        return true;
    rs->loop = loop;
    return (rs->r = mv_redis_new(loop, &rs->p)) != NULL;
}

/* mv_store_redis_stop - free the client; its outstanding callbacks are
 * cancelled now, on the calling (loop) thread */
void mv_store_redis_stop(mv_store *st)
{
    redis_store *rs = (redis_store *)st;
    mv_redis *r;

    if (st == NULL || st->ops != &redis_ops || rs->r == NULL)
        return;
    r = rs->r;
    rs->r = NULL; /* puts from cancelled callbacks stay local */
    mv_redis_free(r);
}

/* mv_store_redis_client - the Redis client behind st; NULL if none */
mv_redis *mv_store_redis_client(mv_store *st)
{
    return st != NULL && st->ops == &redis_ops ? ((redis_store *)st)->r : NULL;
}

/* mv_store_redis_fill - a Redis hit into the first tier only (no write-back);
 * stored when Redis' writer stored it, so it expires there as in Redis */
void mv_store_redis_fill(mv_store *st, const void *key, size_t klen, const mv_cache_ttl *ttl,
                         const mv_redis_entry *en)
{
    if (st != NULL && st->ops == &redis_ops)
        (void)mv_store_put(((redis_store *)st)->l1, key, klen, en->stored_at, ttl, en->cls, en->val,
                           en->vlen);
}

#else /* no hiredis: nothing to open, nothing to ask */

mv_store *mv_store_redis_open(const mv_settings *s, char *err, size_t errlen)
{
    (void)s;
    snprintf(err, errlen, "cache.store \"redis\" is not built (no hiredis)");
    return NULL;
}

bool mv_store_redis_start(mv_store *st, mv_loop *loop)
{
    (void)st, (void)loop;
    return true;
}

void mv_store_redis_stop(mv_store *st)
{
    (void)st;
}

mv_redis *mv_store_redis_client(mv_store *st)
{
    (void)st;
    return NULL;
}

void mv_store_redis_fill(mv_store *st, const void *key, size_t klen, const mv_cache_ttl *ttl,
                         const mv_redis_entry *en)
{
    (void)st, (void)key, (void)klen, (void)ttl, (void)en;
}

#endif
