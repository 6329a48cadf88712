/* SPDX-License-Identifier: MIT */
/*
 * engine_int.h - the engine's insides, shared by engine.c (the offline
 * steps and the API) and engine_net.c (the loop thread, the cache and the
 * network steps). Not for front ends.
 */
#ifndef MV_ENGINE_INT_H
#define MV_ENGINE_INT_H

#include "dns.h"
#include "engine.h"
#include "loop.h"
#include "net.h"
#include "store.h"
#include "tls.h"

#include <pthread.h>
#include <stdatomic.h>

struct mv_engine {
    mv_config *cfg;
    char resolver[1100];
    int allow_private; /* -1: the config's */
    mv_store *store;   /* the verdict cache (cache.store); NULL: none */
    mv_cache_ttl ttl;
    mv_timer sweep;          /* a shared store's expiry sweep, on the loop */
    mv_timer gate;           /* cache.store redis: polls the first connection */
    uint64_t gate_until_ms;  /* until then requests wait for Redis to come up */
    bool gate_open;          /* Redis up, or given up waiting: ask it or not at once */
    struct mv_areq *waiting; /* requests held at the gate (loop thread only) */
    pthread_mutex_t mu;      /* guards the start of the network half */
    bool net_started;
    char error[200]; /* why it could not start */
    mv_loop *loop;
    pthread_t thread;
    mv_dns *dns;
    mv_tls_ctx *tls;
    mv_net *net;
    mv_lease *lease;      /* smtp.fleet with cache.store redis: the fleet's leases; NULL: none */
    mv_config *rules_cfg; /* whose reply rules the network half reads (loop thread) */
    char helo[256], fallback[300];
    mv_trace_fn trace; /* the transcript's sink, or NULL */
    void *trace_arg;
    mv_event_fn events; /* the event sink (faults, the cache), or NULL */
    void *events_arg;
    atomic_bool closing;
    atomic_size_t pending; /* requests posted to the loop, not answered */
};

/* A request on its way through the network half. */
typedef struct mv_areq {
    mv_engine *e;
    mv_config *cfg; /* a reference, for the request's lifetime */
    char next_hop[300];
    mv_verdict v;
    char input[MV_ECHO_MAX + 1]; /* the verdict's echo of the input */
    uint64_t t0_us;
    bool smtp;
    unsigned deadline_ms;
    char mailbox[MV_MAILBOX_MAX + 1];
    mv_timer timer;
    bool answered;        /* the caller has its verdict (maybe a timeout) */
    struct mv_areq *next; /* at the Redis gate */
    mv_verdict_cb cb;
    void *arg;
} mv_areq;

/* mv_engine_offline - steps 1-2 into a verdict; the signals for step 6 */
void mv_engine_offline(const mv_config *cfg, const mv_request *req, int flags, mv_verdict *v,
                       mv_signals *sig);

/* mv_engine_finish - step 6-7: reason, status, action, elapsed */
void mv_engine_finish(const mv_config *cfg, mv_verdict *v, mv_signals *sig, uint64_t t0_us);

/* mv_engine_now_us - monotonic microseconds */
uint64_t mv_engine_now_us(void);

/* mv_engine_net_submit - steps 3-5 for a request whose offline part is done */
mv_call mv_engine_net_submit(mv_engine *e, mv_areq *r);

/* mv_engine_areq_free - release a request and its config reference */
void mv_engine_areq_free(mv_areq *r);

/* mv_engine_net_stop - shut the network half down (every request answered) */
void mv_engine_net_stop(mv_engine *e);

/* mv_engine_ensure_started - start the network half once (engine_start.c);
 * false if it failed (then it stays failed: mv_engine_error says why) */
bool mv_engine_ensure_started(mv_engine *e);

/* mv_engine_use_rules - the reply rules of cfg from now on (loop thread) */
void mv_engine_use_rules(mv_engine *e, mv_config *cfg);

/* net.c's hooks into the verdict cache (engine_net.c): every final
 * outcome; a domain's facts, read and written */
void mv_engine_store_outcome(void *arg, const char *mailbox, const char *hop, bool smtp,
                             const mv_net_outcome *o);
bool mv_engine_facts_load(void *arg, const char *dkey, mv_net_facts *f);
void mv_engine_facts_save(void *arg, const char *dkey, const mv_net_facts *f);

/* mv_engine_ask_net - on the loop: ask net.c for r (engine_net.c); at
 * close, the request's end instead */
void mv_engine_ask_net(mv_engine *e, mv_areq *r);

#endif
