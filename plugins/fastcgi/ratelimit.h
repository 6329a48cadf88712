/* SPDX-License-Identifier: MIT */
/*
 * ratelimit.h - token buckets per client address and per API key.
 *
 * Each key (an address, an API key) has a bucket of `burst` tokens that
 * refills at `rate` per second; a request takes one. An empty bucket says
 * how long until the next token: the Retry-After of the 429. Thread-safe
 * (every FastCGI worker thread asks) and bounded: buckets that are full
 * again are forgotten when the table grows large, so a flood of distinct
 * addresses costs a sweep, not memory.
 *
 * Two stores behind the one interface. mv_ratelimit_new keeps the buckets
 * in this process's memory: right for a FastCGI worker, whose threads
 * share them. A CGI process answers one request and exits, so its buckets
 * would always be full: mv_ratelimit_open keeps them in a fixed-size state
 * file that every process opening it shares under a lock. Its contents
 * are outside data: a file that is not a whole table of ours is
 * reinitialised, and any value in a bucket gives at worst an empty bucket.
 * Trouble with the file never refuses a request: the take lets it through
 * (fail open) and says why through the log function, one line.
 */
#ifndef MV_RATELIMIT_H
#define MV_RATELIMIT_H

typedef struct mv_ratelimit mv_ratelimit;

/* A shared table's trouble, one line without newline; arg as given. */
typedef void mv_ratelimit_log(void *arg, const char *line);

/* mv_ratelimit_new - an empty table; NULL on ENOMEM */
mv_ratelimit *mv_ratelimit_new(void);

/* mv_ratelimit_open - a table in the state file at path (created 0600),
 * shared with every process that opens it; scope ("ip", "key") keeps
 * apart the tables that share one file. log (may be NULL) hears of
 * trouble. NULL if the file cannot be used (the reason went to log) */
mv_ratelimit *mv_ratelimit_open(const char *path, const char *scope, mv_ratelimit_log *log, void *arg);

/* mv_ratelimit_take - 0 if a token was taken, else seconds until one (>= 1);
 * a shared table needs a clock that all processes share (CLOCK_REALTIME) */
unsigned mv_ratelimit_take(mv_ratelimit *rl, const char *key, double rate, double burst, double now);

/* mv_ratelimit_free - release; NULL is fine */
void mv_ratelimit_free(mv_ratelimit *rl);

#endif
