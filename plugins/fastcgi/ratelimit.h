/*
 * ratelimit.h - token buckets per client address and per API key.
 *
 * Each key (an address, an API key) has a bucket of `burst` tokens that
 * refills at `rate` per second; a request takes one. An empty bucket says
 * how long until the next token: the Retry-After of the 429. Thread-safe
 * (every FastCGI worker thread asks) and bounded: buckets that are full
 * again are forgotten when the table grows large, so a flood of distinct
 * addresses costs a sweep, not memory.
 */
#ifndef MV_RATELIMIT_H
#define MV_RATELIMIT_H

typedef struct mv_ratelimit mv_ratelimit;

/* mv_ratelimit_new - an empty table; NULL on ENOMEM */
mv_ratelimit *mv_ratelimit_new(void);

/* mv_ratelimit_take - 0 if a token was taken, else seconds until one (>= 1) */
unsigned mv_ratelimit_take(mv_ratelimit *rl, const char *key, double rate, double burst,
                           double now);

/* mv_ratelimit_free - release; NULL is fine */
void mv_ratelimit_free(mv_ratelimit *rl);

#endif
