/* SPDX-License-Identifier: MIT */
/*
 * share_stream.h - the simulated traffic both sharing benchmarks run
 * (bench_cache.c over LMDB, bench_redis.c over Redis), defined once so
 * that their "sharing" lines stay comparable: SHARE_REQ RCPTs by two
 * processes taking turns, Zipf(1) over SHARE_ADDRS addresses from seed
 * SHARE_SEED, 100 RCPTs a second, the engine's default cache times.
 */
#ifndef MV_SHARE_STREAM_H
#define MV_SHARE_STREAM_H

#include "cache.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

enum { SHARE_REQ = 400000, SHARE_ADDRS = 50000, SHARE_SEED = 7 };
#define SHARE_KEY_OFFSET 10000000 /* apart from the lookup benchmark's keys */

static const mv_cache_ttl share_ttl = {
    .expire = {2678400, 259200, 300},
    .refresh = {604800, 10800, 0},
};

/* key_of - the engine's key shape for address i */
static inline size_t key_of(char *k, size_t size, size_t i)
{
    return (size_t)snprintf(k, size, "s:user%zu.name@domain%zu.example", i, i % 997);
}

/* zipf - an address index, Zipf(1) over n (inverse of the harmonic CDF,
 * approximated: good enough for a repeat pattern) */
static inline size_t zipf(unsigned *seed, size_t n)
{
    double u = (double)rand_r(seed) / ((double)RAND_MAX + 1.0);
    double h = log((double)n) + 0.5772;

    return (size_t)(exp(u * h - 0.5772)) % n;
}

/* share_now - the clock at RCPT r: 100 a second */
static inline int64_t share_now(size_t r)
{
    return (int64_t)(r / 100);
}

#endif
