/* SPDX-License-Identifier: MIT */
/*
 * bench_cache.c - cached-verdict lookups through the store interface
 * (store.h), for each store, and the hit rate two milter processes gain by
 * sharing one store instead of each keeping its own memory cache.
 *
 *   bench_cache DIR [KEYS [THREADS [SECONDS]]]
 *
 * Lookups: KEYS verdicts (80-byte values, keys like the engine's) are
 * stored, then THREADS threads look up random ones for SECONDS each;
 * every lookup is timed, and the output gives lookups a second (all
 * threads) and the p50/p99 latency. The LMDB file goes in DIR.
 *
 * Sharing: the same stream of RCPTs (Zipf-distributed over 50,000
 * addresses, as real traffic repeats a few recipients often) is split
 * round-robin between two "processes": with two memory stores each learns
 * alone; with one LMDB file each learns from the other. A miss stands for
 * a probe, whose verdict is then stored. The output gives both hit rates.
 * (Two handles on one file in one process stand for two processes: LMDB
 * shares one environment per process and file; the data path is the same.)
 */
#include "store.h"

#include <math.h>
#include <pthread.h>
#include "share_stream.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef struct {
    mv_store *st;
    size_t keys;
    double seconds;
    unsigned seed;
    uint32_t *lat; /* nanoseconds */
    size_t n, cap;
} worker;

/* now_ns - the monotonic clock */
static uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* run - look up random keys until the time is up */
static void *run(void *arg)
{
    worker *w = arg;
    char k[128], v[MV_CACHE_VAL_MAX];
    uint64_t end = now_ns() + (uint64_t)(w->seconds * 1e9);
    size_t vl;
    mv_cache_class cls;

    while (w->n < w->cap) {
        size_t kl = key_of(k, sizeof(k), (size_t)rand_r(&w->seed) % w->keys);
        uint64_t t0 = now_ns(), t1;

        if (mv_store_get(w->st, k, kl, 1000, &share_ttl, v, sizeof(v), &vl, &cls) == MV_CACHE_MISS) {
            fprintf(stderr, "bench_cache: a stored key missed\n");
            exit(1);
        }
        t1 = now_ns();
        w->lat[w->n++] = (uint32_t)(t1 - t0 > UINT32_MAX ? UINT32_MAX : t1 - t0);
        if ((w->n & 1023) == 0 && t1 >= end)
            break;
    }
    return NULL;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

    return x < y ? -1 : x > y;
}

/* lookups - fill, then THREADS readers; one result line */
static int lookups(mv_store *st, size_t keys, int threads, double seconds)
{
    char k[128], v[80];
    worker w[64];
    pthread_t th[64];
    uint32_t *all;
    size_t total = 0, at = 0;
    uint64_t t0, t1;

    memset(v, 'v', sizeof(v));
    for (size_t i = 0; i < keys; i++) {
        size_t kl = key_of(k, sizeof(k), i);

        if (mv_store_put(st, k, kl, 0, &share_ttl, MV_CACHE_POSITIVE, v, sizeof(v)) != MV_CACHE_STORED) {
            fprintf(stderr, "bench_cache: %s: store %zu failed\n", mv_store_kind(st), i);
            return -1;
        }
    }
    t0 = now_ns();
    for (int i = 0; i < threads; i++) {
        w[i] = (worker){st, keys, seconds, 12345u + (unsigned)i, NULL, 0, 50000000};
        if ((w[i].lat = malloc(w[i].cap * sizeof(uint32_t))) == NULL ||
            pthread_create(&th[i], NULL, run, &w[i]) != 0)
            return -1;
    }
    for (int i = 0; i < threads; i++) {
        pthread_join(th[i], NULL);
        total += w[i].n;
    }
    t1 = now_ns();
    if ((all = malloc(total * sizeof(uint32_t))) == NULL)
        return -1;
    for (int i = 0; i < threads; i++) {
        memcpy(all + at, w[i].lat, w[i].n * sizeof(uint32_t));
        at += w[i].n;
        free(w[i].lat);
    }
    qsort(all, total, sizeof(*all), cmp_u32);
    printf("%-8s %2d thread%s %10.0f lookups/s   p50 %6.2f us   p99 %6.2f us   (%zu keys)\n",
           mv_store_kind(st), threads, threads == 1 ? " " : "s", (double)total / ((double)(t1 - t0) / 1e9),
           all[total / 2] / 1000.0, all[total * 99 / 100] / 1000.0, keys);
    free(all);
    return 0;
}

/* share - the hit rates of two processes, apart and sharing
 * (share_stream.h: bench_redis.c runs the same stream through Redis) */
static void share(mv_store *a1, mv_store *a2, mv_store *s1, mv_store *s2)
{
    mv_store *apart[2] = {a1, a2}, *shared[2] = {s1, s2};
    unsigned seed = SHARE_SEED;
    size_t hits_apart = 0, hits_shared = 0;
    char k[128], v[MV_CACHE_VAL_MAX];
    size_t vl;
    mv_cache_class cls;

    for (size_t r = 0; r < SHARE_REQ; r++) {
        size_t kl = key_of(k, sizeof(k), zipf(&seed, SHARE_ADDRS) + SHARE_KEY_OFFSET);
        int p = (int)(r & 1);
        int64_t now = share_now(r);

        if (mv_store_get(apart[p], k, kl, now, &share_ttl, v, sizeof(v), &vl, &cls) != MV_CACHE_MISS)
            hits_apart++;
        else
            mv_store_put(apart[p], k, kl, now, &share_ttl, MV_CACHE_POSITIVE, "probed", 6);
        if (mv_store_get(shared[p], k, kl, now, &share_ttl, v, sizeof(v), &vl, &cls) != MV_CACHE_MISS)
            hits_shared++;
        else
            mv_store_put(shared[p], k, kl, now, &share_ttl, MV_CACHE_POSITIVE, "probed", 6);
    }
    printf("sharing: 2 processes, %d RCPTs (Zipf over %d addresses): hit rate %.1f%% with "
           "separate memory caches, %.1f%% sharing one LMDB file (%.0f%% fewer probes)\n",
           SHARE_REQ, SHARE_ADDRS, 100.0 * (double)hits_apart / SHARE_REQ,
           100.0 * (double)hits_shared / SHARE_REQ,
           100.0 * (1.0 - (double)(SHARE_REQ - hits_shared) / (double)(SHARE_REQ - hits_apart)));
}

int main(int argc, char **argv)
{
    char path[4096], err[300];
    size_t keys = argc > 2 ? strtoul(argv[2], NULL, 10) : 100000;
    int threads = argc > 3 ? atoi(argv[3]) : 1;
    double seconds = argc > 4 ? atof(argv[4]) : 2.0;
    mv_store *mem, *lm, *m2, *l1, *l2;

    if (argc < 2 || keys == 0 || threads < 1 || threads > 64) {
        fprintf(stderr, "usage: bench_cache DIR [KEYS [THREADS [SECONDS]]]\n");
        return 64;
    }
    snprintf(path, sizeof(path), "%s/bench-cache.mdb", argv[1]);
    if ((mem = mv_store_memory_new(keys * 2, (size_t)1 << 30)) == NULL ||
        (lm = mv_store_lmdb_open(path, 1024, err, sizeof(err))) == NULL) {
        fprintf(stderr, "bench_cache: %s\n", mem ? err : "out of memory");
        return 1;
    }
    for (int t = 1; t <= threads; t *= 2) {
        if (lookups(mem, keys, t, seconds) < 0 || lookups(lm, keys, t, seconds) < 0)
            return 1;
        if (t < threads && t * 2 > threads)
            t = threads / 2;
    }
    mv_store_free(mem);
    mv_store_free(lm);
    unlink(path);
    if ((mem = mv_store_memory_new(100000, 64 << 20)) == NULL ||
        (m2 = mv_store_memory_new(100000, 64 << 20)) == NULL ||
        (l1 = mv_store_lmdb_open(path, 256, err, sizeof(err))) == NULL ||
        (l2 = mv_store_lmdb_open(path, 256, err, sizeof(err))) == NULL) {
        fprintf(stderr, "bench_cache: %s\n", err);
        return 1;
    }
    share(mem, m2, l1, l2);
    mv_store_free(mem);
    mv_store_free(m2);
    mv_store_free(l1);
    mv_store_free(l2);
    unlink(path);
    strncat(path, "-lock", sizeof(path) - strlen(path) - 1);
    unlink(path);
    return 0;
}
