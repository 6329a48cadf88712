/* SPDX-License-Identifier: MIT */
/*
 * store_lmdb.c - the LMDB store: one memory-mapped file that mailverifyd,
 * the FastCGI workers and mailverify bulk on one host share at the same
 * time, and that outlives them.
 *
 * Why LMDB: readers take no lock and copy nothing until the value, so a
 * cached verdict costs a B-tree walk in the caller's thread; writers are
 * serialized by a robust process-shared mutex, so a process killed inside
 * a write transaction loses that transaction and nothing else (the next
 * writer gets the mutex back); a process killed inside a read transaction
 * leaves a reader slot that mdb_reader_check() frees (at open and on every
 * few sweeps), else old pages could never be reused. Copy-on-write pages
 * mean the file is readable after a crash at any point.
 *
 * Each value is a 16-byte header -- version, class (or "counter"),
 * stored-at, last-probe, expires-at (seconds) -- then the engine's bytes.
 * A get judges expiry and refresh by the caller's times, as the memory
 * store does; an expired entry is a miss and stays for the sweep, which
 * deletes by the expires-at written with it, in small write transactions
 * (a few hundred deletes), from the engine's timer -- never on a reader's
 * path. The never-clobber rule is decided inside the writer's
 * transaction: read the old entry, keep it or replace it, commit.
 *
 * The file is bounded by cache.lmdb_size_mb (the map). Near the bound (on
 * every sweep and every few writes) expired entries go first, then
 * batches from where the sweep stands, until a tenth of the map is free
 * again: at a full map even a delete fails, as it copies pages. A write
 * that meets a full map anyway makes room and tries once more; if that
 * fails too the entry is dropped and counted, never an error for the
 * caller.
 *
 * Flags: MDB_NOSUBDIR (the path is the file; the lock is path-lock),
 * MDB_NOTLS (readers are not tied to threads: we keep reset read
 * transactions in a pool and renew them, which saves the reader-slot
 * lock on every get), MDB_NOSYNC with an mdb_env_sync() on every sweep
 * (about once a second: an fsync per verdict cost 225 us on the loop
 * thread, more than a bulk run's verdict rate leaves it; a process crash
 * still loses nothing committed, a system crash may lose the last second
 * -- and, on a file system that reorders writes, damage the file, which
 * is a cache: delete it), MDB_NORDAHEAD (lookups are random). The file and its lock
 * are made 0660 so the daemon and the web plugin can share them through
 * a group.
 */
#include "store_int.h"

#include <errno.h>
#include <lmdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define HDR 16
#define VERSION 1
#define KIND_COUNTER 3
#define POOL 64               /* reset read transactions kept for reuse */
#define SWEEP_SCAN 2000       /* entries looked at per sweep transaction */
#define SWEEP_DEL 256         /* deletes per write transaction */
#define READER_CHECK_EVERY 16 /* sweeps between mdb_reader_check() calls */
#define HEADROOM_PCT 10       /* of the map kept free for writes and deletes */
#define ROOM_CHECK_EVERY 16   /* puts between looks at the headroom */

typedef struct {
    uint8_t version, kind;
    uint32_t stored_at, probed_at, expires_at;
} hdr;

/* One open environment of this process, shared by its stores. */
typedef struct open_env {
    struct open_env *next;
    dev_t dev;
    ino_t ino;
    MDB_env *env;
    MDB_dbi dbi;
    unsigned refs;
} open_env;

/* LMDB's rule: a process must not open the same file twice at once. Its
 * locks are fcntl() locks, which belong to the process: a second open
 * would think itself alone and reset the reader table, and closing it
 * would drop the first one's locks. So environments are per process, by
 * file identity -- the one piece of process-wide state here, because it
 * mirrors the process's own locks. */
static pthread_mutex_t envs_mu = PTHREAD_MUTEX_INITIALIZER;
static open_env *envs;

typedef struct {
    mv_store base;
    open_env *oe;
    MDB_env *env; /* oe's, for short */
    MDB_dbi dbi;
    pthread_mutex_t pool_mu;
    MDB_txn *pool[POOL];
    int npool;
    pthread_mutex_t sweep_mu; /* the sweep's position */
    char pos[MV_CACHE_KEY_MAX + 1];
    size_t poslen;
    unsigned sweeps;
    atomic_uint puts;
    atomic_uint_fast64_t hits, stale, misses, stores, kept, expired;
    atomic_uint_fast64_t swept, evictions, write_errors, stale_readers;
} lmdb_store;

/* get_hdr - the header from a value; false if it is not ours */
static bool get_hdr(const MDB_val *v, hdr *h)
{
    const unsigned char *p = v->mv_data;

    if (v->mv_size < HDR || p[0] != VERSION)
        return false;
    h->version = p[0];
    h->kind = p[1];
    memcpy(&h->stored_at, p + 4, 4);
    memcpy(&h->probed_at, p + 8, 4);
    memcpy(&h->expires_at, p + 12, 4);
    return h->kind <= KIND_COUNTER;
}

/* put_hdr - a header into the first HDR bytes of p */
static void put_hdr(unsigned char *p, const hdr *h)
{
    memset(p, 0, HDR);
    p[0] = VERSION;
    p[1] = h->kind;
    memcpy(p + 4, &h->stored_at, 4);
    memcpy(p + 8, &h->probed_at, 4);
    memcpy(p + 12, &h->expires_at, 4);
}

/* ---- read transactions ------------------------------------------------ */

/* rtxn_get - a read transaction, renewed from the pool when there is one */
static MDB_txn *rtxn_get(lmdb_store *s)
{
    MDB_txn *t = NULL;

    pthread_mutex_lock(&s->pool_mu);
    if (s->npool > 0)
        t = s->pool[--s->npool];
    pthread_mutex_unlock(&s->pool_mu);
    if (t != NULL && mdb_txn_renew(t) == 0)
        return t;
    if (t != NULL)
        mdb_txn_abort(t);
    if (mdb_txn_begin(s->env, NULL, MDB_RDONLY, &t) != 0)
        return NULL;
    return t;
}

/* rtxn_put - end a read transaction, keeping it (reset) for reuse */
static void rtxn_put(lmdb_store *s, MDB_txn *t)
{
    mdb_txn_reset(t); /* releases the snapshot, keeps the slot */
    pthread_mutex_lock(&s->pool_mu);
    if (s->npool < POOL) {
        s->pool[s->npool++] = t;
        t = NULL;
    }
    pthread_mutex_unlock(&s->pool_mu);
    if (t != NULL)
        mdb_txn_abort(t);
}

/* expired - past the caller's expire time for its class? */
static bool expired(const hdr *h, int64_t now, const mv_cache_ttl *ttl)
{
    return now - (int64_t)h->stored_at >= (int64_t)ttl->expire[h->kind];
}

/* lm_get - look up in a read transaction; expired entries are misses */
static mv_cache_result lm_get(mv_store *st, const void *key, size_t klen, int64_t now,
                              const mv_cache_ttl *ttl, void *val, size_t size, size_t *vlen,
                              mv_cache_class *cls)
{
    lmdb_store *s = (lmdb_store *)st;
    MDB_val k = {klen, (void *)key}, v;
    mv_cache_result r = MV_CACHE_MISS;
    MDB_txn *t;
    hdr h;

    if (klen == 0 || klen > MV_CACHE_KEY_MAX || (t = rtxn_get(s)) == NULL) {
        atomic_fetch_add(&s->misses, 1);
        return MV_CACHE_MISS;
    }
    if (mdb_get(t, s->dbi, &k, &v) == 0 && get_hdr(&v, &h) && h.kind < MV_CACHE_CLASSES) {
        if (expired(&h, now, ttl)) {
            atomic_fetch_add(&s->expired, 1); /* the sweep deletes it */
        } else {
            uint32_t rf = ttl->refresh[h.kind];

            *vlen = v.mv_size - HDR;
            *cls = (mv_cache_class)h.kind;
            memcpy(val, (char *)v.mv_data + HDR, *vlen < size ? *vlen : size);
            r = rf != 0 && now - (int64_t)h.probed_at >= (int64_t)rf ? MV_CACHE_STALE : MV_CACHE_HIT;
        }
    }
    rtxn_put(s, t);
    atomic_fetch_add(r == MV_CACHE_MISS ? &s->misses : &s->hits, 1);
    if (r == MV_CACHE_STALE)
        atomic_fetch_add(&s->stale, 1);
    return r;
}

/* ---- deleting in batches: the sweep, eviction, purge ------------------ */

typedef bool (*del_pred)(const MDB_val *k, const MDB_val *v, int64_t now, const void *arg);

/* scan_delete - from *pos, look at up to max_scan entries and delete those
 * pred picks (at most max_del), in one write transaction; *pos moves on
 * (emptied at the end of the keys, *wrapped set); the number deleted, or
 * -1 with the LMDB error in *rc */
static long scan_delete(lmdb_store *s, char *pos, size_t *poslen, bool *wrapped, size_t max_scan,
                        size_t max_del, del_pred pred, int64_t now, const void *arg, int *rc)
{
    MDB_txn *t;
    MDB_cursor *c;
    MDB_val k = {*poslen, pos}, v;
    long n = 0;
    size_t seen = 0;

    *wrapped = false;
    if ((*rc = mdb_txn_begin(s->env, NULL, 0, &t)) != 0)
        return -1;
    if ((*rc = mdb_cursor_open(t, s->dbi, &c)) != 0) {
        mdb_txn_abort(t);
        return -1;
    }
    *rc = *poslen > 0 ? mdb_cursor_get(c, &k, &v, MDB_SET_RANGE) : mdb_cursor_get(c, &k, &v, MDB_FIRST);
    while (*rc == 0 && seen++ < max_scan && (size_t)n < max_del) {
        if (pred(&k, &v, now, arg)) {
            if ((*rc = mdb_cursor_del(c, 0)) != 0)
                break;
            n++; /* MDB_NEXT after a delete gives the entry that followed */
        }
        *rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
    }
    if (*rc == 0 && k.mv_size <= MV_CACHE_KEY_MAX) {
        memmove(pos, k.mv_data, k.mv_size); /* resume here next time */
        *poslen = k.mv_size;
    } else if (*rc == MDB_NOTFOUND || *rc == 0) {
        *poslen = 0;
        *wrapped = true;
        *rc = 0;
    }
    mdb_cursor_close(c);
    if (*rc != 0) {
        mdb_txn_abort(t);
        return -1;
    }
    if ((*rc = mdb_txn_commit(t)) != 0)
        return -1;
    return n;
}

/* is_expired - the sweep's choice: past the expires-at written with it */
static bool is_expired(const MDB_val *k, const MDB_val *v, int64_t now, const void *arg)
{
    hdr h;

    (void)k, (void)arg;
    return !get_hdr(v, &h) || now >= (int64_t)h.expires_at;
}

/* any_entry - eviction's choice: whatever comes next */
static bool any_entry(const MDB_val *k, const MDB_val *v, int64_t now, const void *arg)
{
    (void)k, (void)v, (void)now, (void)arg;
    return true;
}

/* batch_at_pos - one batch from the sweep's position */
static long batch_at_pos(lmdb_store *s, del_pred pred, int64_t now, bool *wrapped)
{
    long n;
    int rc;

    pthread_mutex_lock(&s->sweep_mu);
    n = scan_delete(s, s->pos, &s->poslen, wrapped, SWEEP_SCAN, SWEEP_DEL, pred, now, NULL, &rc);
    pthread_mutex_unlock(&s->sweep_mu);
    return n;
}

/* free_pages - pages the map can still give: never used, plus the free
 * list (some of it held a little longer for readers); *total: the map's */
static size_t free_pages(lmdb_store *s, size_t *total)
{
    MDB_envinfo info;
    MDB_stat ms;
    MDB_txn *t;
    MDB_cursor *c;
    MDB_val k, v;
    size_t fl = 0, n;
    int rc;

    if (mdb_env_info(s->env, &info) != 0 || mdb_env_stat(s->env, &ms) != 0)
        return SIZE_MAX;
    *total = info.me_mapsize / ms.ms_psize;
    if ((t = rtxn_get(s)) == NULL)
        return SIZE_MAX;
    if (mdb_cursor_open(t, 0, &c) == 0) { /* 0: LMDB's free-page database */
        for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT))
            if (v.mv_size >= sizeof(n)) {
                memcpy(&n, v.mv_data, sizeof(n)); /* an ID list: count first */
                fl += n;
            }
        mdb_cursor_close(c);
    }
    rtxn_put(s, t);
    return *total > info.me_last_pgno + 1 ? *total - (info.me_last_pgno + 1) + fl : fl;
}

/* near_cap - has the file's high-water mark come near the map's end? */
static bool near_cap(lmdb_store *s)
{
    MDB_envinfo info;
    MDB_stat ms;

    if (mdb_env_info(s->env, &info) != 0 || mdb_env_stat(s->env, &ms) != 0)
        return false;
    return (info.me_last_pgno + 1) * 100 >= (info.me_mapsize / ms.ms_psize) * (100 - HEADROOM_PCT);
}

/* keep_room - keep HEADROOM_PCT of the map free: expired entries first,
 * then a batch from where the sweep stands (there is no LRU on disk; the
 * position moves round the keys over time). Done before the map is full
 * because at a full map even a delete, which copies pages, fails. */
static void keep_room(lmdb_store *s, int64_t now)
{
    size_t total = 0, fp;
    bool wrapped = false;
    long n;
    int dead = 0;

    if (!near_cap(s))
        return;
    if (mdb_reader_check(s->env, &dead) == 0 && dead > 0)
        atomic_fetch_add(&s->stale_readers, (unsigned)dead);
    for (int i = 0;
         i < 8 && (fp = free_pages(s, &total)) != SIZE_MAX && fp * 100 < total * (HEADROOM_PCT + 5); i++) {
        if ((n = batch_at_pos(s, is_expired, now, &wrapped)) > 0) {
            atomic_fetch_add(&s->swept, (uint64_t)n);
            continue;
        }
        if ((n = batch_at_pos(s, any_entry, now, &wrapped)) > 0)
            atomic_fetch_add(&s->evictions, (uint64_t)n);
        else
            break;
    }
}

/* lm_sweep - one bounded batch of expired entries; stale readers now and then */
static size_t lm_sweep(mv_store *st, int64_t now)
{
    lmdb_store *s = (lmdb_store *)st;
    bool wrapped;
    long n;
    int dead = 0;

    if (s->sweeps++ % READER_CHECK_EVERY == 0 && mdb_reader_check(s->env, &dead) == 0 && dead > 0)
        atomic_fetch_add(&s->stale_readers, (unsigned)dead);
    keep_room(s, now);
    (void)mdb_env_sync(s->env, 1); /* XXX an I/O error here is not reported */
    if ((n = batch_at_pos(s, is_expired, now, &wrapped)) <= 0)
        return 0;
    atomic_fetch_add(&s->swept, (uint64_t)n);
    return (size_t)n;
}

/* ---- writing ---------------------------------------------------------- */

/* keeps - may an unexpired old entry of class old resist a new one? */
static bool keeps(unsigned old, mv_cache_class neu)
{
    if (old == MV_CACHE_POSITIVE)
        return neu != MV_CACHE_POSITIVE;
    return old == MV_CACHE_NEGATIVE && neu == MV_CACHE_TEMPORARY;
}

/* put_txn - one try at a put inside a write transaction; an LMDB code */
static int put_txn(lmdb_store *s, const MDB_val *k, int64_t now, const mv_cache_ttl *ttl, mv_cache_class cls,
                   const void *val, size_t vlen, bool *kept)
{
    unsigned char buf[HDR + MV_CACHE_VAL_MAX];
    MDB_val old, nv = {HDR + vlen, buf};
    MDB_txn *t;
    hdr h;
    int rc;

    *kept = false;
    if ((rc = mdb_txn_begin(s->env, NULL, 0, &t)) != 0)
        return rc;
    if (mdb_get(t, s->dbi, (MDB_val *)k, &old) == 0 && get_hdr(&old, &h) && h.kind < MV_CACHE_CLASSES &&
        !expired(&h, now, ttl) && keeps(h.kind, cls)) {
        /* Postfix verify(8): don't let a failed probe clobber a good
         * entry before it expires; just wait a full refresh interval */
        memcpy(buf, old.mv_data, old.mv_size);
        nv.mv_size = old.mv_size;
        h.probed_at = (uint32_t)now;
        put_hdr(buf, &h);
        *kept = true;
    } else {
        h = (hdr){VERSION, (uint8_t)cls, (uint32_t)now, (uint32_t)now, (uint32_t)(now + ttl->expire[cls])};
        put_hdr(buf, &h);
        memcpy(buf + HDR, val, vlen);
    }
    if ((rc = mdb_put(t, s->dbi, (MDB_val *)k, &nv, 0)) != 0) {
        mdb_txn_abort(t);
        return rc;
    }
    return mdb_txn_commit(t);
}

/* lm_put - store unless an unexpired better entry stays; full map: make
 * room and try once more */
static mv_cache_put_result lm_put(mv_store *st, const void *key, size_t klen, int64_t now,
                                  const mv_cache_ttl *ttl, mv_cache_class cls, const void *val, size_t vlen)
{
    lmdb_store *s = (lmdb_store *)st;
    MDB_val k = {klen, (void *)key};
    bool kept;
    int rc;

    if (klen == 0 || klen > MV_CACHE_KEY_MAX || vlen > MV_CACHE_VAL_MAX || cls >= MV_CACHE_CLASSES)
        return MV_CACHE_TOOBIG;
    if (atomic_fetch_add(&s->puts, 1) % ROOM_CHECK_EVERY == 0)
        keep_room(s, now);
    if ((rc = put_txn(s, &k, now, ttl, cls, val, vlen, &kept)) == MDB_MAP_FULL) {
        keep_room(s, now);
        rc = put_txn(s, &k, now, ttl, cls, val, vlen, &kept);
    }
    if (rc != 0) {
        atomic_fetch_add(&s->write_errors, 1);
        return MV_CACHE_ENOMEM;
    }
    atomic_fetch_add(kept ? &s->kept : &s->stores, 1);
    return kept ? MV_CACHE_KEPT : MV_CACHE_STORED;
}

/* lm_del - remove a key in its own write transaction */
static bool lm_del(mv_store *st, const void *key, size_t klen)
{
    lmdb_store *s = (lmdb_store *)st;
    MDB_val k = {klen, (void *)key};
    MDB_txn *t;
    int rc;

    if (klen == 0 || klen > MV_CACHE_KEY_MAX || mdb_txn_begin(s->env, NULL, 0, &t) != 0)
        return false;
    if ((rc = mdb_del(t, s->dbi, &k, NULL)) != 0) {
        mdb_txn_abort(t);
        return false;
    }
    return mdb_txn_commit(t) == 0;
}

/* counter_of - a live counter's count from a value; false if none */
static bool counter_of(const MDB_val *v, int64_t now, hdr *h, uint64_t *n)
{
    if (!get_hdr(v, h) || h->kind != KIND_COUNTER || v->mv_size != HDR + 8 || now >= (int64_t)h->expires_at)
        return false;
    memcpy(n, (char *)v->mv_data + HDR, 8);
    return true;
}

/* counter_read - a counter's count in a read transaction (0: none) */
static long long counter_read(lmdb_store *s, MDB_val *k, int64_t now)
{
    MDB_txn *t;
    MDB_val v;
    uint64_t n = 0;
    hdr h;

    if ((t = rtxn_get(s)) == NULL)
        return -1;
    if (mdb_get(t, s->dbi, k, &v) != 0 || !counter_of(&v, now, &h, &n))
        n = 0;
    rtxn_put(s, t);
    return (long long)n;
}

/* lm_incr - a fixed-window counter, read and written in one transaction */
static long long lm_incr(mv_store *st, const void *key, size_t klen, int64_t now, uint32_t window_s,
                         unsigned delta)
{
    lmdb_store *s = (lmdb_store *)st;
    MDB_val k = {klen, (void *)key}, v, nv;
    unsigned char buf[HDR + 8];
    uint64_t n = 0;
    MDB_txn *t;
    hdr h;

    if (klen == 0 || klen > MV_CACHE_KEY_MAX)
        return -1;
    if (delta == 0)
        return counter_read(s, &k, now);
    if (mdb_txn_begin(s->env, NULL, 0, &t) != 0)
        return -1;
    if (mdb_get(t, s->dbi, &k, &v) == 0 && counter_of(&v, now, &h, &n)) {
        n += delta;
    } else {
        n = delta;
        h = (hdr){VERSION, KIND_COUNTER, (uint32_t)now, (uint32_t)now, (uint32_t)(now + window_s)};
    }
    put_hdr(buf, &h);
    memcpy(buf + HDR, &n, 8);
    nv = (MDB_val){sizeof(buf), buf};
    if (mdb_put(t, s->dbi, &k, &nv, 0) != 0) {
        mdb_txn_abort(t);
        atomic_fetch_add(&s->write_errors, 1);
        return -1;
    }
    if (mdb_txn_commit(t) != 0)
        return -1;
    return (long long)n;
}

/* purge_pick - purge's choice: keys of the address or domain */
static bool purge_pick(const MDB_val *k, const MDB_val *v, int64_t now, const void *arg)
{
    (void)v, (void)now;
    return mv_store_purge_match(k->mv_data, k->mv_size, arg);
}

/* lm_purge - every key of an address or domain, in batches */
static long long lm_purge(mv_store *st, const char *what)
{
    lmdb_store *s = (lmdb_store *)st;
    char pos[MV_CACHE_KEY_MAX + 1];
    size_t poslen = 0;
    bool wrapped = false;
    long long total = 0;
    long n;
    int rc;

    while (!wrapped) {
        if ((n = scan_delete(s, pos, &poslen, &wrapped, SWEEP_SCAN * 8, SWEEP_DEL, purge_pick, 0, what,
                             &rc)) < 0)
            return -1;
        total += n;
    }
    return total;
}

/* lm_stats - this process's counters, the file's entries and size */
static void lm_stats(mv_store *st, mv_store_stats *out)
{
    lmdb_store *s = (lmdb_store *)st;
    MDB_envinfo info;
    MDB_stat ms;
    MDB_txn *t;

    out->c.hits = atomic_load(&s->hits);
    out->c.stale = atomic_load(&s->stale);
    out->c.misses = atomic_load(&s->misses);
    out->c.stores = atomic_load(&s->stores);
    out->c.kept = atomic_load(&s->kept);
    out->c.expired = atomic_load(&s->expired);
    out->c.evictions = atomic_load(&s->evictions);
    out->swept = atomic_load(&s->swept);
    out->write_errors = atomic_load(&s->write_errors);
    out->stale_readers = atomic_load(&s->stale_readers);
    if ((t = rtxn_get(s)) != NULL) {
        if (mdb_stat(t, s->dbi, &ms) == 0 && mdb_env_info(s->env, &info) == 0) {
            out->c.entries = ms.ms_entries;
            out->c.bytes = (size_t)(info.me_last_pgno + 1) * ms.ms_psize;
            out->map_size = info.me_mapsize;
        }
        rtxn_put(s, t);
    }
}

/* env_release - drop a reference; the last one closes the environment */
static void env_release(open_env *oe)
{
    open_env **p;

    pthread_mutex_lock(&envs_mu);
    if (--oe->refs == 0) {
        for (p = &envs; *p != NULL; p = &(*p)->next)
            if (*p == oe) {
                *p = oe->next;
                break;
            }
        (void)mdb_env_sync(oe->env, 1); /* MDB_NOSYNC: a clean exit keeps all */
        mdb_env_close(oe->env);
        free(oe);
    }
    pthread_mutex_unlock(&envs_mu);
}

/* lm_free - the pooled readers, then the environment */
static void lm_free(mv_store *st)
{
    lmdb_store *s = (lmdb_store *)st;

    for (int i = 0; i < s->npool; i++)
        mdb_txn_abort(s->pool[i]);
    if (s->oe != NULL)
        env_release(s->oe);
    pthread_mutex_destroy(&s->pool_mu);
    pthread_mutex_destroy(&s->sweep_mu);
    free(s);
}

static const mv_store_ops lmdb_ops = {
    "lmdb", true, lm_get, lm_put, lm_del, lm_incr, lm_purge, lm_sweep, lm_stats, lm_free,
};

/* share_mode - 0660 on the file and its lock, where we own them */
static void share_mode(const char *path)
{
    char lock[4200];

    (void)chmod(path, 0660); /* EPERM: another user made it, and chose */
    snprintf(lock, sizeof(lock), "%s-lock", path);
    (void)chmod(lock, 0660);
}

/* env_create - open the file and its main database; an LMDB code */
static int env_create(open_env *oe, const char *path, size_t size_mb, uint64_t *dead_readers)
{
    MDB_txn *t;
    int rc, dead = 0;

    if ((rc = mdb_env_create(&oe->env)) != 0)
        return rc;
    if ((rc = mdb_env_set_mapsize(oe->env, size_mb << 20)) != 0 ||
        (rc = mdb_env_set_maxreaders(oe->env, 1022)) != 0 ||
        (rc = mdb_env_open(oe->env, path, MDB_NOSUBDIR | MDB_NOTLS | MDB_NOSYNC | MDB_NORDAHEAD, 0660)) != 0)
        return rc;
    /* a process that died inside a read transaction left its slot */
    if (mdb_reader_check(oe->env, &dead) == 0)
        *dead_readers = (unsigned)dead;
    if ((rc = mdb_txn_begin(oe->env, NULL, 0, &t)) != 0)
        return rc;
    if ((rc = mdb_dbi_open(t, NULL, 0, &oe->dbi)) != 0) {
        mdb_txn_abort(t);
        return rc;
    }
    return mdb_txn_commit(t);
}

/* env_get - this process's environment for path, opened if need be */
static int env_get(lmdb_store *s, const char *path, size_t size_mb)
{
    struct stat sb;
    open_env *oe;
    uint64_t dead = 0;
    int rc;

    pthread_mutex_lock(&envs_mu);
    if (stat(path, &sb) == 0)
        for (oe = envs; oe != NULL; oe = oe->next)
            if (oe->dev == sb.st_dev && oe->ino == sb.st_ino) {
                oe->refs++;
                s->oe = oe;
                pthread_mutex_unlock(&envs_mu);
                return 0;
            }
    if ((oe = calloc(1, sizeof(*oe))) == NULL) {
        pthread_mutex_unlock(&envs_mu);
        return ENOMEM;
    }
    if ((rc = env_create(oe, path, size_mb, &dead)) != 0 || (rc = stat(path, &sb) != 0 ? errno : 0)) {
        if (oe->env != NULL)
            mdb_env_close(oe->env);
        free(oe);
        pthread_mutex_unlock(&envs_mu);
        return rc;
    }
    oe->dev = sb.st_dev;
    oe->ino = sb.st_ino;
    oe->refs = 1;
    oe->next = envs;
    envs = s->oe = oe;
    pthread_mutex_unlock(&envs_mu);
    atomic_store(&s->stale_readers, dead);
    return 0;
}

/* mv_store_lmdb_open - an LMDB file shared by processes; NULL with err */
mv_store *mv_store_lmdb_open(const char *path, size_t size_mb, char *err, size_t errlen)
{
    lmdb_store *s = calloc(1, sizeof(*s));
    int rc;

    if (s == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    s->base.ops = &lmdb_ops;
    pthread_mutex_init(&s->pool_mu, NULL);
    pthread_mutex_init(&s->sweep_mu, NULL);
    if ((rc = env_get(s, path, size_mb)) != 0) {
        snprintf(err, errlen, "cannot open the LMDB cache %s: %s", path, mdb_strerror(rc));
        lm_free(&s->base);
        return NULL;
    }
    s->env = s->oe->env;
    s->dbi = s->oe->dbi;
    share_mode(path);
    return &s->base;
}
