/* SPDX-License-Identifier: MIT */
/*
 * lease.h - fleet-wide etiquette (smtp.fleet): the per-destination limits
 * and back-offs of every process sharing one Redis, as leases there.
 *
 * Before a session to an MX address, a process takes a lease: one Lua
 * script (EVALSHA) drops the expired members of two sorted sets, one per
 * domain ("lease:d:DOMAIN") and one per MX address ("lease:h:IP:PORT"),
 * whose members are lease ids scored by their expiry (Redis' own clock),
 * and adds the new id to both only if each holds fewer than its limit, if
 * no session to the address started within the spacing (a key with that
 * TTL, "lease:s:IP:PORT"), and if no process backs off from the address
 * ("lease:b:IP:PORT", a key whose TTL is the back-off). Else it says how
 * long to wait (the earliest expiry, the spacing left) or the back-off
 * left. The session's end releases the lease (ZREM); while it lives the
 * lease is renewed every third of its time, so that only a process that
 * died leaves leases behind, and they expire within the lease time.
 *
 * Redis is never a dependency: when the client is down, a script fails or
 * times out, or its answer makes no sense, the answer is MV_LEASE_LOCAL --
 * the caller goes on with its own limits -- and one log line says so; one
 * more when a lease is granted again. Every mv_lease_take either answers
 * at once (NULL returned) or calls back exactly once, unless cancelled.
 * Loop thread only.
 */
#ifndef MV_LEASE_H
#define MV_LEASE_H

#include "loop.h"
#include "redis.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MV_LEASE_KEY_MAX 560 /* a domain key (name|next-hop) or an MX address */
#define MV_LEASE_POLL_MS 100 /* a refused take asks again after at most this */

typedef struct mv_lease mv_lease;           /* one process's side of the fleet */
typedef struct mv_lease_hold mv_lease_hold; /* one session's lease */
typedef struct mv_lease_ask mv_lease_ask;   /* a take on its way */

/* What a take says, in precedence order. */
typedef enum {
    MV_LEASE_BACKOFF, /* a process backs off from the address: wait_ms left */
    MV_LEASE_WAIT,    /* the fleet is at a limit: ask again after wait_ms */
    MV_LEASE_GRANTED, /* go: hold is yours, mv_lease_release it at the end */
    MV_LEASE_LOCAL,   /* no answer from Redis: this process's limits only */
} mv_lease_result;

typedef struct {
    mv_lease_result res;
    uint64_t wait_ms;    /* BACKOFF, WAIT */
    bool timeout;        /* BACKOFF: the host tarpitted (else it refused us) */
    mv_lease_hold *hold; /* GRANTED */
} mv_lease_answer;

typedef void (*mv_lease_fn)(void *arg, const mv_lease_answer *a);

typedef struct {
    const char *domain;    /* the domain's key (name or name|next-hop) */
    const char *host;      /* the MX address, "IP:PORT" */
    unsigned domain_limit; /* sessions per domain, fleet-wide */
    unsigned host_limit;   /* sessions per MX address (the profile's, the host's cap) */
    unsigned spacing_ms;   /* between two session starts to the address; 0: none */
    bool checking;         /* a check of a host this process backs off from: ignore back-offs */
} mv_lease_want;

/* Counters since mv_lease_new: Redis commands sent, by kind, and answers. */
typedef struct {
    uint64_t takes, granted, waits, backoffs, locals, releases, renewals, backoff_writes;
} mv_lease_stats;

/* mv_lease_new - leases of lease_s seconds through rc (borrowed; it must
 * outlive the leases' commands: free this first); log: one line per
 * change between fleet-wide and local limits; NULL on ENOMEM */
mv_lease *mv_lease_new(mv_loop *loop, mv_redis *rc, unsigned lease_s, mv_redis_log_fn log, void *log_arg);

/* mv_lease_free - cancel every ask; leases still held are released; NULL is fine */
void mv_lease_free(mv_lease *l);

/* mv_lease_take - ask for a session's lease. NULL: answered at once in
 * *now (LOCAL); else cb(arg, answer) comes later, exactly once, unless
 * mv_lease_cancel is called first */
mv_lease_ask *mv_lease_take(mv_lease *l, const mv_lease_want *w, mv_lease_fn cb, void *arg,
                            mv_lease_answer *now);

/* mv_lease_cancel - the caller is gone: no callback; a lease granted meanwhile is released */
void mv_lease_cancel(mv_lease_ask *a);

/* mv_lease_hold_host - the MX address a lease is for */
const char *mv_lease_hold_host(const mv_lease_hold *h);

/* mv_lease_release - the session ended (NULL is fine) */
void mv_lease_release(mv_lease_hold *h);

/* mv_lease_backoff - tell the fleet to leave host alone for ms (a back-off
 * already longer stays); timeout: it tarpitted, else it refused us */
void mv_lease_backoff(mv_lease *l, const char *host, uint64_t ms, bool timeout);

/* mv_lease_backoff_end - host answers again: the fleet's back-off ends */
void mv_lease_backoff_end(mv_lease *l, const char *host);

/* mv_lease_get_stats - the counters */
void mv_lease_get_stats(const mv_lease *l, mv_lease_stats *out);

/* mv_lease_parse_take - the take script's answer: {1, lease_ms} granted
 * (hold left NULL), {0, wait_ms}, {2, ms_left, "t"|"b"} a back-off; false
 * for anything else (the caller treats it as Redis unavailable) */
bool mv_lease_parse_take(const mv_redis_item *items, size_t n, mv_lease_answer *out);

/* What mv_lease_list finds: a destination's leases or back-off. */
typedef struct {
    char kind; /* 'd' leases of a domain, 'h' of an MX address, 'b' a back-off */
    char name[MV_LEASE_KEY_MAX];
    int64_t value; /* leases held; for 'b' milliseconds left */
} mv_lease_entry;

/* entries valid during the call; n 0 on failure */
typedef void (*mv_lease_list_fn)(void *arg, mv_redis_status st, const mv_lease_entry *e, size_t n);

/* mv_lease_list - the leases held and back-offs in force under rc's
 * prefix (one script that SCANs the db: an admin's command) */
mv_redis_status mv_lease_list(mv_redis *rc, mv_lease_list_fn cb, void *arg);

/* mv_lease_parse_list - the list script's answer {key, value, ...} as
 * entries (keys without prefix or of another kind are skipped); the
 * count, -1 if the answer makes no sense */
long mv_lease_parse_list(const mv_redis_item *items, size_t n, const char *prefix, mv_lease_entry *out,
                         size_t max);

#endif
