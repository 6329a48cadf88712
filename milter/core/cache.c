/* SPDX-License-Identifier: MIT */
/*
 * cache.c - the sharded LRU; see cache.h for the rules it keeps.
 *
 * Each entry is one allocation: a small header, then the key, then the
 * value. A shard has a chained hash table (grown by doubling) and an
 * intrusive LRU list; a hit moves the entry to the front, and a store
 * evicts from the back while the shard is over its share of the entry or
 * byte budget. The header is kept small because the budget is hundreds
 * of bytes per cached verdict, key and allocator overhead included.
 * Keys are hashed with SipHash under a per-cache random key (siphash.h):
 * they come from outside (anyone can send RCPT TO), so their bucket must
 * not be predictable.
 */
#include "cache.h"
#include "siphash.h"

#include <pthread.h>
#include <sys/queue.h>
#include <stdlib.h>
#include <string.h>

#define SHARDS 16

typedef struct entry {
    struct entry *hnext;    /* hash chain */
    TAILQ_ENTRY(entry) lru; /* LRU list, most recent first */
    uint32_t hash;
    uint32_t stored_at; /* seconds (the caller's clock) */
    uint32_t probed_at;
    uint8_t cls;
    uint8_t klen;
    uint16_t vlen;
    char data[]; /* key, then value */
} entry;

typedef struct {
    pthread_mutex_t mu;
    entry **buckets;
    size_t nbuckets;                 /* power of two */
    TAILQ_HEAD(lru_list, entry) lru; /* most recent first */
    size_t count, bytes;
    mv_cache_stats st;
} shard;

struct mv_cache {
    uint8_t key[MV_SIPHASH_KEY];
    size_t max_entries, max_bytes; /* per shard */
    shard s[SHARDS];
};

/* entry_bytes - what an entry costs, allocator overhead estimated */
static size_t entry_bytes(size_t klen, size_t vlen)
{
    return sizeof(entry) + klen + vlen + 16;
}

/* mv_cache_new - a cache bounded by entries and bytes; NULL on ENOMEM
 * or when the kernel gives no random key (errno says which) */
mv_cache *mv_cache_new(size_t max_entries, size_t max_bytes)
{
    mv_cache *c = calloc(1, sizeof(*c));

    if (c == NULL)
        return NULL;
    if (mv_siphash_key(c->key) != 0) {
        free(c);
        return NULL;
    }
    c->max_entries = max_entries / SHARDS + 1;
    c->max_bytes = max_bytes / SHARDS + 1;
    for (int i = 0; i < SHARDS; i++) {
        pthread_mutex_init(&c->s[i].mu, NULL);
        TAILQ_INIT(&c->s[i].lru);
        c->s[i].nbuckets = 64;
        if ((c->s[i].buckets = calloc(64, sizeof(entry *))) == NULL) {
            mv_cache_free(c);
            return NULL;
        }
    }
    return c;
}

/* mv_cache_free - release; NULL is fine */
void mv_cache_free(mv_cache *c)
{
    if (c == NULL)
        return;
    for (int i = 0; i < SHARDS; i++) {
        entry *e;

        while ((e = TAILQ_FIRST(&c->s[i].lru)) != NULL) {
            TAILQ_REMOVE(&c->s[i].lru, e, lru);
            free(e);
        }
        free(c->s[i].buckets);
        pthread_mutex_destroy(&c->s[i].mu);
    }
    free(c);
}

/* lru_unlink - take e out of the LRU list */
static void lru_unlink(shard *s, entry *e)
{
    TAILQ_REMOVE(&s->lru, e, lru);
}

/* lru_front - put e first in the LRU list */
static void lru_front(shard *s, entry *e)
{
    TAILQ_INSERT_HEAD(&s->lru, e, lru);
}

/* slot - the hash chain link that points at key, or at the chain's end */
static entry **slot(shard *s, uint32_t h, const void *key, size_t klen)
{
    entry **p = &s->buckets[h & (s->nbuckets - 1)];

    while (*p != NULL && ((*p)->hash != h || (*p)->klen != klen || memcmp((*p)->data, key, klen) != 0))
        p = &(*p)->hnext;
    return p;
}

/* remove_entry - unlink from chain and list, account, free */
static void remove_entry(shard *s, entry **link)
{
    entry *e = *link;

    *link = e->hnext;
    lru_unlink(s, e);
    s->count--;
    s->bytes -= entry_bytes(e->klen, e->vlen);
    free(e);
}

/* grow - double the bucket array when chains would get long */
static void grow(shard *s)
{
    size_t n = s->nbuckets * 2;
    entry **b = calloc(n, sizeof(*b));

    if (b == NULL)
        return; /* longer chains, still correct */
    for (size_t i = 0; i < s->nbuckets; i++) {
        entry *e = s->buckets[i];

        while (e != NULL) {
            entry *next = e->hnext;

            e->hnext = b[e->hash & (n - 1)];
            b[e->hash & (n - 1)] = e;
            e = next;
        }
    }
    free(s->buckets);
    s->buckets = b;
    s->nbuckets = n;
}

/* evict - drop least recently used entries until within budget */
static void evict(mv_cache *c, shard *s, size_t incoming)
{
    entry *t;

    while ((t = TAILQ_LAST(&s->lru, lru_list)) != NULL &&
           (s->count + 1 > c->max_entries || s->bytes + incoming > c->max_bytes)) {
        remove_entry(s, slot(s, t->hash, t->data, t->klen));
        s->st.evictions++;
    }
}

/* pick - the shard and hash of a key */
static shard *pick(mv_cache *c, const void *key, size_t klen, uint32_t *h)
{
    uint64_t x = mv_siphash(c->key, key, klen);

    *h = (uint32_t)x;
    return &c->s[(x >> 32) % SHARDS];
}

/* expired - is the entry past its class's expire time? */
static bool expired(const entry *e, int64_t now, const mv_cache_ttl *ttl)
{
    return now - (int64_t)e->stored_at >= (int64_t)ttl->expire[e->cls];
}

/* mv_cache_get - copy the value out (up to size); class and age too */
mv_cache_result mv_cache_get(mv_cache *c, const void *key, size_t klen, int64_t now, const mv_cache_ttl *ttl,
                             void *val, size_t size, size_t *vlen, mv_cache_class *cls)
{
    uint32_t h;
    shard *s;
    entry **link, *e;
    mv_cache_result r = MV_CACHE_MISS;

    if (klen > MV_CACHE_KEY_MAX)
        return MV_CACHE_MISS;
    s = pick(c, key, klen, &h);
    pthread_mutex_lock(&s->mu);
    link = slot(s, h, key, klen);
    if ((e = *link) != NULL && expired(e, now, ttl)) {
        remove_entry(s, link);
        s->st.expired++;
        e = NULL;
    }
    if (e != NULL) {
        uint32_t rf = ttl->refresh[e->cls];

        lru_unlink(s, e);
        lru_front(s, e);
        *vlen = e->vlen;
        *cls = (mv_cache_class)e->cls;
        memcpy(val, e->data + e->klen, e->vlen < size ? e->vlen : size);
        r = rf != 0 && now - (int64_t)e->probed_at >= (int64_t)rf ? MV_CACHE_STALE : MV_CACHE_HIT;
        s->st.hits++;
        s->st.stale += r == MV_CACHE_STALE;
    } else {
        s->st.misses++;
    }
    pthread_mutex_unlock(&s->mu);
    return r;
}

/* keeps - may an unexpired old entry of class old resist a new one? */
static bool keeps(mv_cache_class old, mv_cache_class neu)
{
    if (old == MV_CACHE_POSITIVE)
        return neu != MV_CACHE_POSITIVE;
    return old == MV_CACHE_NEGATIVE && neu == MV_CACHE_TEMPORARY;
}

/* mv_cache_put - store, unless an unexpired better entry must stay */
mv_cache_put_result mv_cache_put(mv_cache *c, const void *key, size_t klen, int64_t now,
                                 const mv_cache_ttl *ttl, mv_cache_class cls, const void *val, size_t vlen)
{
    uint32_t h;
    shard *s;
    entry **link, *e;

    if (klen > MV_CACHE_KEY_MAX || vlen > MV_CACHE_VAL_MAX || cls >= MV_CACHE_CLASSES)
        return MV_CACHE_TOOBIG;
    s = pick(c, key, klen, &h);
    pthread_mutex_lock(&s->mu);
    link = slot(s, h, key, klen);
    if ((e = *link) != NULL && !expired(e, now, ttl) && keeps((mv_cache_class)e->cls, cls)) {
        /* Postfix verify(8): don't let a failed probe clobber a good
         * entry before it expires; just wait a full refresh interval */
        e->probed_at = (uint32_t)now;
        s->st.kept++;
        pthread_mutex_unlock(&s->mu);
        return MV_CACHE_KEPT;
    }
    if (e != NULL)
        remove_entry(s, link);
    evict(c, s, entry_bytes(klen, vlen));
    if ((e = malloc(sizeof(*e) + klen + vlen)) == NULL) {
        pthread_mutex_unlock(&s->mu);
        return MV_CACHE_ENOMEM;
    }
    *e = (entry){.hash = h,
                 .stored_at = (uint32_t)now,
                 .probed_at = (uint32_t)now,
                 .cls = (uint8_t)cls,
                 .klen = (uint8_t)klen,
                 .vlen = (uint16_t)vlen};
    memcpy(e->data, key, klen);
    memcpy(e->data + klen, val, vlen);
    if (s->count + 1 > s->nbuckets)
        grow(s);
    link = &s->buckets[h & (s->nbuckets - 1)];
    e->hnext = *link;
    *link = e;
    lru_front(s, e);
    s->count++;
    s->bytes += entry_bytes(klen, vlen);
    s->st.stores++;
    pthread_mutex_unlock(&s->mu);
    return MV_CACHE_STORED;
}

/* mv_cache_del - remove a key; true if it was there */
bool mv_cache_del(mv_cache *c, const void *key, size_t klen)
{
    uint32_t h;
    shard *s;
    entry **link;
    bool found;

    if (klen > MV_CACHE_KEY_MAX)
        return false;
    s = pick(c, key, klen, &h);
    pthread_mutex_lock(&s->mu);
    link = slot(s, h, key, klen);
    if ((found = *link != NULL))
        remove_entry(s, link);
    pthread_mutex_unlock(&s->mu);
    return found;
}

/* mv_cache_get_stats - counters, summed over the shards */
void mv_cache_get_stats(mv_cache *c, mv_cache_stats *out)
{
    memset(out, 0, sizeof(*out));
    for (int i = 0; i < SHARDS; i++) {
        shard *s = &c->s[i];

        pthread_mutex_lock(&s->mu);
        out->entries += s->count;
        out->bytes += s->bytes;
        out->hits += s->st.hits;
        out->stale += s->st.stale;
        out->misses += s->st.misses;
        out->stores += s->st.stores;
        out->kept += s->st.kept;
        out->evictions += s->st.evictions;
        out->expired += s->st.expired;
        pthread_mutex_unlock(&s->mu);
    }
}
