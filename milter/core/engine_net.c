/* SPDX-License-Identifier: MIT */
/*
 * engine_net.c - requests that need DNS or SMTP, and the verdict cache.
 *
 * (Starting and stopping the network half -- loop thread, resolver, TLS,
 * scheduler, store -- is engine_start.c's.) A request first asks the
 * cache, in the caller's thread (every store is safe there), so a cached
 * verdict never waits for the loop. Writes come from the loop thread
 * (net.c's hooks, here), and so does a shared store's expiry sweep.
 * Otherwise the request is posted to the loop, which arms its deadline and
 * asks net.c. Whichever comes first -- the answer or the deadline --
 * answers the caller; a late answer still reaches the cache through
 * net.c's store hook, so the MTA's retry finds it there.
 *
 * With cache.store = "redis" the store's memory tier answers in the
 * caller's thread as above; on a miss the loop asks Redis (the second
 * tier, shared across hosts) before DNS and SMTP: a hit answers as a
 * cached verdict, a miss or a Redis that is down goes to the network as
 * before; for an SMTP request it first reads the domain's facts if the
 * memory tier has none (what other hosts learned: catch-all, refusing
 * probes). Shared counters (the milter's harvest budgets) are asked from
 * the caller's thread through the loop (mv_engine_counter). A process's
 * first requests wait at a gate while the client's
 * first connection is under way (at most cache.redis_timeout_ms; a refused
 * one opens the gate at once), so that a one-shot `mailverify check` sees
 * what other hosts learned.
 *
 * Cache entries are the network's word only (mv_net_outcome, packed by
 * outcome.c); the local signals are recomputed on every request, which
 * costs less than storing them and stays right when the lists change.
 *
 * With a trace sink (mv_engine_set_trace) each request says when it is
 * asked, answered from the cache or answered by its deadline; net.c
 * traces the rest. With a log sink (mv_engine_options.log) the cache's
 * lines go there, and net_incident.c says when hosts and the resolver
 * start and stop failing; without one the engine says nothing.
 */
#include "engine_int.h"
#include "outcome.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- the cache hooks of net.c ------------------------------------------ */

/* mv_engine_store_outcome - net.c's hook: every final outcome goes into the cache */
void mv_engine_store_outcome(void *arg, const char *mailbox, const char *hop, bool smtp,
                             const mv_net_outcome *o)
{
    mv_engine *e = arg;
    unsigned char buf[MV_CACHE_VAL_MAX];
    char key[MV_CACHE_KEY_MAX + 1];
    size_t kl = mv_outcome_key(key, sizeof(key), smtp, mailbox, hop);

    if (e->store != NULL && kl > 0)
        mv_store_put(e->store, key, kl, time(NULL), &e->ttl, mv_outcome_class(o), buf,
                     mv_outcome_pack(o, buf));
}

/* A domain's facts in the cache: catch-all + 1 (one byte), then until
 * when it refuses probes (int64, host order: the processes sharing a store
 * share a host, or run the same build). */
#define FACTS_LEN 9

/* facts_key - "f:" + the domain's key (name or name|next-hop) */
static size_t facts_key(char *key, size_t size, const char *dkey)
{
    int n = snprintf(key, size, "f:%s", dkey);

    return n < 0 || (size_t)n >= size ? 0 : (size_t)n;
}

/* mv_engine_facts_load - net.c's hook: what another process learned of a domain.
 * Kept as a negative-class entry: its expire time (3 days by default)
 * bounds how long a catch-all answer is believed. */
bool mv_engine_facts_load(void *arg, const char *dkey, mv_net_facts *f)
{
    mv_engine *e = arg;
    unsigned char v[FACTS_LEN + 1];
    char key[MV_CACHE_KEY_MAX + 1];
    size_t kl = facts_key(key, sizeof(key), dkey), vl = 0;
    mv_cache_class cls;

    if (kl == 0 ||
        mv_store_get(e->store, key, kl, time(NULL), &e->ttl, v, sizeof(v), &vl, &cls) == MV_CACHE_MISS ||
        vl != FACTS_LEN)
        return false;
    f->catch_all = (int)v[0] - 1;
    memcpy(&f->refuses_until, v + 1, 8);
    return f->catch_all >= -1 && f->catch_all <= 1;
}

/* mv_engine_facts_save - net.c's hook: a domain taught us something */
void mv_engine_facts_save(void *arg, const char *dkey, const mv_net_facts *f)
{
    mv_engine *e = arg;
    unsigned char v[FACTS_LEN];
    char key[MV_CACHE_KEY_MAX + 1];
    size_t kl = facts_key(key, sizeof(key), dkey);

    v[0] = (unsigned char)(f->catch_all + 1);
    memcpy(v + 1, &f->refuses_until, 8);
    if (kl > 0)
        mv_store_put(e->store, key, kl, time(NULL), &e->ttl, MV_CACHE_NEGATIVE, v, sizeof(v));
}

/* ---- requests --------------------------------------------------------- */

/* mv_engine_load - requests waiting for the network, SMTP sessions open */
void mv_engine_load(mv_engine *e, size_t *requests, size_t *sessions)
{
    *requests = atomic_load(&e->pending);
    *sessions = 0;
    pthread_mutex_lock(&e->mu);
    if (e->net_started)
        *sessions = mv_net_sessions(e->net);
    pthread_mutex_unlock(&e->mu);
}

/* mv_engine_net_errors - DNS and SMTP failures by cause (any thread) */
void mv_engine_net_errors(mv_engine *e, unsigned long long counts[MV_NETERR_COUNT])
{
    memset(counts, 0, MV_NETERR_COUNT * sizeof(*counts));
    if (e == NULL)
        return;
    pthread_mutex_lock(&e->mu);
    if (e->net_started)
        mv_net_errors(e->net, counts);
    pthread_mutex_unlock(&e->mu);
}

/* mv_engine_render_prometheus - the engine's gauges and failure counters,
 * in Prometheus' text format, for every front end alike */
void mv_engine_render_prometheus(mv_engine *e, mv_buf *out)
{
    static const char *const help[] = {
        "DNS lookups that got no usable answer (they answer dns_error), by cause.",
        "SMTP probe sessions that ended before their RCPT answers, by cause.",
    };
    unsigned long long counts[MV_NETERR_COUNT];
    size_t reqs = 0, sessions = 0;
    const char *kind = "";

    if (e != NULL)
        mv_engine_load(e, &reqs, &sessions);
    mv_buf_puts(out, "# HELP mailverify_engine_queue_depth Requests waiting for DNS or SMTP.\n"
                     "# TYPE mailverify_engine_queue_depth gauge\n");
    mv_buf_printf(out, "mailverify_engine_queue_depth %zu\n", reqs);
    mv_buf_puts(out, "# HELP mailverify_probes_in_flight SMTP probe sessions open.\n"
                     "# TYPE mailverify_probes_in_flight gauge\n");
    mv_buf_printf(out, "mailverify_probes_in_flight %zu\n", sessions);
    mv_engine_net_errors(e, counts);
    for (int i = 0; i < MV_NETERR_COUNT; i++) {
        const char *k = mv_neterr_kind((mv_neterr)i);

        if (strcmp(k, kind) != 0) { /* the causes of one kind are contiguous */
            kind = k;
            mv_buf_printf(out,
                          "# HELP mailverify_%s_errors_total %s\n# TYPE mailverify_%s_errors_total counter\n",
                          k, help[strcmp(k, "smtp") == 0], k);
        }
        mv_buf_printf(out, "mailverify_%s_errors_total{cause=\"%s\"} %llu\n", k,
                      mv_neterr_cause((mv_neterr)i), counts[i]);
    }
}

/* trace_req - a trace line about request r; nothing without a sink */
__attribute__((format(printf, 2, 3))) static void trace_req(const mv_areq *r, const char *fmt, ...)
{
    char text[MV_TRACE_LINE_MAX - 64];
    va_list ap;

    if (r->e->trace == NULL)
        return;
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    mv_trace_emit(r->e->trace, r->e->trace_arg, "[%s] %s: %s", r->v.addr.domain, r->mailbox, text);
}

/* trace_cached - r is answered from the cache (tier: "", " (redis)") */
static void trace_cached(const mv_areq *r, const char *tier)
{
    char det[MV_TRACE_TEXT_MAX + 8];

    if (r->e->trace == NULL)
        return;
    mv_trace_escape(det, sizeof(det), r->v.net.detail, strlen(r->v.net.detail));
    trace_req(r, "answered from cache%s: %s: %s", tier, mv_reason_name(r->v.net.reason), det);
}

/* answer - the request's one answer to its caller */
static void answer(mv_areq *r)
{
    mv_signals sig = {
        .syntax_ok = true,
        .disposable = r->v.disposable,
        .role = r->v.role,
    };

    r->answered = true;
    if (!r->v.cached)
        atomic_fetch_sub(&r->e->pending, 1);
    mv_engine_finish(r->cfg, &r->v, &sig, r->t0_us);
    r->cb(r->arg, &r->v);
}

/* on_outcome - net.c's answer for the request */
static void on_outcome(void *arg, const mv_net_outcome *o)
{
    mv_areq *r = arg;

    if (!r->answered) {
        mv_timer_stop(r->e->loop, &r->timer);
        r->v.net_asked = true;
        r->v.net = *o;
        answer(r);
    }
    mv_engine_areq_free(r); /* the deadline may have answered: now it ends */
}

/* answer_timeout - unknown/timeout, with why */
static void answer_timeout(mv_areq *r, const char *why)
{
    r->v.net_asked = true;
    memset(&r->v.net, 0, sizeof(r->v.net));
    r->v.net.reason = MV_R_TIMEOUT;
    r->v.net.catch_all = -1;
    snprintf(r->v.net.detail, sizeof(r->v.net.detail), "%s", why);
    answer(r);
}

/* on_deadline - the caller waited long enough: unknown/timeout, go on */
static void on_deadline(void *arg)
{
    mv_areq *r = arg;
    char why[160];

    snprintf(why, sizeof(why),
             "no answer within %u ms; verification goes on in the "
             "background and its result will be cached",
             r->deadline_ms);
    trace_req(r, "deadline: %s", why);
    answer_timeout(r, why);
}

/* mv_engine_ask_net - on the loop: the network half; at close, the end instead */
void mv_engine_ask_net(mv_engine *e, mv_areq *r)
{
    if (atomic_load(&e->closing) || e->net == NULL) {
        mv_timer_stop(e->loop, &r->timer);
        if (!r->answered)
            answer_timeout(r, "shutting down");
        mv_engine_areq_free(r);
        return;
    }
    mv_net_verify(e->net, r->mailbox, r->v.addr.domain, r->next_hop[0] ? r->next_hop : NULL, r->smtp,
                  r->v.addr.smtputf8, on_outcome, r);
}

/* answer_cached - on the loop: r's answer is a cached verdict */
static void answer_cached(mv_engine *e, mv_areq *r, const mv_net_outcome *o)
{
    if (r->answered)
        return;
    mv_timer_stop(e->loop, &r->timer);
    atomic_fetch_sub(&e->pending, 1); /* answer() does not for cached verdicts */
    r->v.net_asked = true;
    r->v.cached = true;
    r->v.net = *o;
    trace_cached(r, strcmp(mv_store_kind(e->store), "redis") == 0 ? " (redis)" : "");
    answer(r);
}

/* due - a temporary verdict whose time to ask again has come counts as a
 * miss for whoever reads it -- this process after a restart, another
 * process, another host through Redis -- so nothing waits for the timer
 * of a process that died; the first reader asks (single-flight) */
static bool due(mv_cache_class cls, const mv_net_outcome *o)
{
    return cls == MV_CACHE_TEMPORARY && o->until != 0 && time(NULL) >= o->until;
}

/* cached - r's verdict in the store (the memory tier with redis): HIT,
 * STALE (o and cls set) or MISS (also for no store or a damaged entry) */
static mv_cache_result cached(mv_engine *e, const mv_areq *r, mv_net_outcome *o, mv_cache_class *cls)
{
    unsigned char val[MV_CACHE_VAL_MAX];
    char key[MV_CACHE_KEY_MAX + 1];
    size_t kl = mv_outcome_key(key, sizeof(key), r->smtp, r->mailbox, r->next_hop), vl = 0;
    mv_cache_result cr;

    if (e->store == NULL || kl == 0)
        return MV_CACHE_MISS;
    cr = mv_store_get(e->store, key, kl, time(NULL), &e->ttl, val, sizeof(val), &vl, cls);
    if (cr == MV_CACHE_MISS || !mv_outcome_unpack(val, vl, o) || due(*cls, o))
        return MV_CACHE_MISS;
    return cr;
}

/* from_memory_tier - Redis had nothing (or is down): what the memory tier
 * holds -- a temporary verdict from_cache left for Redis to confirm, or one
 * stored since -- else the network. Ends r either way. */
static void from_memory_tier(mv_engine *e, mv_areq *r)
{
    mv_cache_class cls;
    mv_net_outcome o;

    if (atomic_load(&e->closing) || cached(e, r, &o, &cls) != MV_CACHE_HIT) {
        mv_engine_ask_net(e, r);
        return;
    }
    answer_cached(e, r, &o);
    mv_engine_areq_free(r);
}

/* on_shared - Redis' answer: a hit answers as cached (and fills the memory
 * tier), stale ones are re-probed; a miss or an error asks the memory tier
 * again, then the network */
static void on_shared(void *arg, mv_redis_status st, const mv_redis_entry *en)
{
    mv_areq *r = arg;
    mv_engine *e = r->e;
    char key[MV_CACHE_KEY_MAX + 1];
    size_t kl = mv_outcome_key(key, sizeof(key), r->smtp, r->mailbox, r->next_hop);
    mv_net_outcome o;
    uint32_t rf;

    if (st != MV_REDIS_OK || en == NULL || kl == 0 || atomic_load(&e->closing) ||
        !mv_outcome_unpack(en->val, en->vlen, &o) || due(en->cls, &o)) {
        from_memory_tier(e, r);
        return;
    }
    mv_store_redis_fill(e->store, key, kl, &e->ttl, en);
    answer_cached(e, r, &o);
    rf = e->ttl.refresh[en->cls];
    if (rf != 0 && time(NULL) - en->probed_at >= (int64_t)rf)
        mv_engine_ask_net(e, r); /* stale: answered, refreshed in the background */
    else
        mv_engine_areq_free(r);
}

/* A domain-facts read from Redis: where its answer goes. */
typedef struct {
    mv_engine *e;
    size_t kl;
    char key[MV_CACHE_KEY_MAX + 1];
} facts_req;

/* on_facts - Redis' answer for a domain's facts: into the memory tier,
 * where net.c's facts_load finds them when it takes the domain up */
static void on_facts(void *arg, mv_redis_status st, const mv_redis_entry *en)
{
    facts_req *f = arg;

    if (st == MV_REDIS_OK && en != NULL && en->vlen == FACTS_LEN)
        mv_store_redis_fill(f->e->store, f->key, f->kl, &f->e->ttl, en);
    free(f);
}

/* ask_facts - an SMTP request for a domain this process knows nothing of:
 * read what other hosts learned of it (catch-all, refusing probes) ahead
 * of the verdict's GET. Replies come in order on the connection, so the
 * facts are in the memory tier before on_shared sends the request to
 * net.c. A domain no host has probed yet costs one pipelined GET per
 * memory-tier miss until one does. */
static void ask_facts(mv_engine *e, mv_redis *rc, const mv_areq *r)
{
    char dkey[MV_CACHE_KEY_MAX + 1];
    mv_net_facts known;
    facts_req *f;

    if (!r->smtp || mv_net_domain_key(dkey, sizeof(dkey), r->v.addr.domain, r->next_hop) == 0 ||
        mv_engine_facts_load(e, dkey, &known) || (f = malloc(sizeof(*f))) == NULL)
        return;
    f->e = e;
    f->kl = facts_key(f->key, sizeof(f->key), dkey);
    if (f->kl == 0 || mv_redis_get(rc, f->key, f->kl, on_facts, f) != MV_REDIS_OK)
        free(f);
}

/* ask_shared - on the loop, after a memory-tier miss: Redis first, if up */
static void ask_shared(mv_engine *e, mv_areq *r)
{
    mv_redis *rc = mv_store_redis_client(e->store);
    char key[MV_CACHE_KEY_MAX + 1];
    size_t kl = mv_outcome_key(key, sizeof(key), r->smtp, r->mailbox, r->next_hop);

    if (rc == NULL) { /* not redis (or no cache): from_cache asked the store */
        mv_engine_ask_net(e, r);
        return;
    }
    if (kl != 0 && mv_redis_up(rc))
        ask_facts(e, rc, r);
    if (kl == 0 || mv_redis_get(rc, key, kl, on_shared, r) != MV_REDIS_OK)
        from_memory_tier(e, r); /* down or full: verification goes on without it */
}

/* first_connect - is the client's first connection still under way (and
 * within its time)? A refused one ends it at once: nobody waits for a
 * Redis that is down. */
static bool first_connect(mv_engine *e)
{
    mv_redis *rc = mv_store_redis_client(e->store);

    return rc != NULL && mv_redis_connecting(rc) && mv_loop_now() < e->gate_until_ms;
}

/* gate_tick - on the loop: let the waiting requests on once Redis is up or
 * the first connection had its time */
static void gate_tick(void *arg)
{
    mv_engine *e = arg;
    mv_areq *r;

    if (first_connect(e)) {
        mv_timer_start(e->loop, &e->gate, 2, gate_tick, e);
        return;
    }
    e->gate_open = true;
    while ((r = e->waiting) != NULL) {
        e->waiting = r->next;
        ask_shared(e, r);
    }
}

/* held_at_gate - should r wait for Redis' first connection? (then it does) */
static bool held_at_gate(mv_engine *e, mv_areq *r)
{
    if (e->gate_open)
        return false;
    if (!first_connect(e)) {
        gate_tick(e); /* opens the gate, lets earlier ones on */
        return false;
    }
    if (!mv_timer_armed(&e->gate))
        mv_timer_start(e->loop, &e->gate, 2, gate_tick, e);
    r->next = e->waiting;
    e->waiting = r;
    return true;
}

/* start_task - on the loop: the deadline, then the shared cache or the
 * network half */
static void start_task(void *arg)
{
    mv_areq *r = arg;
    mv_engine *e = r->e;

    if (atomic_load(&e->closing) || e->net == NULL) {
        answer_timeout(r, "shutting down");
        mv_engine_areq_free(r);
        return;
    }
    mv_engine_use_rules(e, r->cfg);
    mv_timer_start(e->loop, &r->timer, r->deadline_ms, on_deadline, r);
    if (!held_at_gate(e, r))
        ask_shared(e, r);
}

/* refresh_task - on the loop: re-probe a stale cache entry, no waiter */
static void refresh_task(void *arg)
{
    mv_areq *r = arg;

    if (!atomic_load(&r->e->closing) && r->e->net != NULL)
        mv_net_verify(r->e->net, r->mailbox, r->v.addr.domain, r->next_hop[0] ? r->next_hop : NULL, r->smtp,
                      r->v.addr.smtputf8, NULL, NULL);
    mv_engine_areq_free(r);
}

/* from_cache - answer from the cache if it can; true if it did */
static bool from_cache(mv_engine *e, mv_areq *r)
{
    mv_cache_class cls;
    mv_cache_result cr;
    mv_areq *bg;

    if ((cr = cached(e, r, &r->v.net, &cls)) == MV_CACHE_MISS)
        return false;
    /* With redis a temporary verdict (greylisted, a timeout) is asked of
     * Redis again: the host that was greylisted re-probes after the
     * server's delay, and every host should see that answer at once, not
     * when its own copy expires (cache.temporary_expire_s) */
    if (cls == MV_CACHE_TEMPORARY && strcmp(mv_store_kind(e->store), "redis") == 0)
        return false;
    r->v.net_asked = true;
    r->v.cached = true;
    trace_cached(r, cr == MV_CACHE_STALE ? " (stale: refreshed in the background)" : "");
    if (cr == MV_CACHE_STALE && (bg = malloc(sizeof(*bg))) != NULL) {
        *bg = *r; /* answered now, refreshed in the background */
        mv_config_ref(bg->cfg);
        if (mv_loop_post(e->loop, refresh_task, bg) < 0)
            mv_engine_areq_free(bg);
    }
    answer(r);
    mv_engine_areq_free(r);
    return true;
}

/* ---- shared counters ---------------------------------------------------- */

/* A counter call waiting for Redis: the caller's thread and the loop each
 * hold a reference, so that whichever is last frees it (the caller may
 * give up at its deadline before the loop answers). */
typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int refs;
    bool done;
    long long value;
    mv_engine *e;
    unsigned delta, window_s;
    size_t kl;
    char key[MV_CACHE_KEY_MAX + 1];
} counter_call;

/* counter_release - drop one reference (the lock is held; it is released) */
static void counter_release(counter_call *c)
{
    bool last = --c->refs == 0;

    pthread_mutex_unlock(&c->mu);
    if (last) {
        pthread_cond_destroy(&c->cv);
        pthread_mutex_destroy(&c->mu);
        free(c);
    }
}

/* counter_done - the loop's side: the answer, then its reference */
static void counter_done(counter_call *c, long long value)
{
    pthread_mutex_lock(&c->mu);
    c->done = true;
    c->value = value;
    pthread_cond_signal(&c->cv);
    counter_release(c);
}

static void on_counter(void *arg, mv_redis_status st, int64_t value, int64_t ttl_ms)
{
    (void)ttl_ms;
    counter_done(arg, st == MV_REDIS_OK ? (long long)value : -1);
}

/* counter_task - on the loop: ask Redis if the connection is up (a caller
 * never waits for a connection being made) */
static void counter_task(void *arg)
{
    counter_call *c = arg;
    mv_redis *rc = mv_store_redis_client(c->e->store);

    if (rc == NULL || atomic_load(&c->e->closing) || !mv_redis_up(rc) ||
        mv_redis_incr(rc, c->key, c->kl, c->delta, c->window_s, on_counter, c) != MV_REDIS_OK)
        counter_done(c, -1);
}

/* redis_counter - post the call to the loop and wait for its answer */
static long long redis_counter(mv_engine *e, const char *key, size_t kl, unsigned delta, unsigned window_s)
{
    counter_call *c = calloc(1, sizeof(*c));
    struct timespec until;
    unsigned ms = (unsigned)mv_config_settings(e->cfg)->cache_redis_timeout_ms + 100;
    long long v;

    if (c == NULL)
        return -1;
    pthread_mutex_init(&c->mu, NULL);
    mv_cond_init_monotonic(&c->cv);
    c->refs = 2;
    c->e = e;
    c->delta = delta;
    c->window_s = window_s;
    c->kl = kl;
    memcpy(c->key, key, kl);
    if (mv_loop_post(e->loop, counter_task, c) < 0) {
        pthread_mutex_lock(&c->mu);
        c->refs--; /* the loop never saw it */
        counter_release(c);
        return -1;
    }
    until = mv_deadline_after(ms);
    pthread_mutex_lock(&c->mu);
    while (!c->done && pthread_cond_timedwait(&c->cv, &c->mu, &until) == 0)
        ;
    v = c->done ? c->value : -1;
    counter_release(c);
    return v;
}

/* mv_engine_counter - a counter in the shared store (see engine.h) */
long long mv_engine_counter(mv_engine *e, const char *key, unsigned delta, unsigned window_s)
{
    size_t kl = strlen(key);

    if (kl == 0 || kl > MV_CACHE_KEY_MAX || window_s == 0 ||
        mv_config_settings(e->cfg)->cache_store == MV_STORE_MEMORY || !mv_engine_ensure_started(e) ||
        e->store == NULL || mv_loop_in_thread(e->loop))
        return -1;
    if (strcmp(mv_store_kind(e->store), "redis") == 0) /* its client is the loop's */
        return redis_counter(e, key, kl, delta, window_s);
    return mv_store_incr(e->store, key, kl, time(NULL), window_s, delta);
}

/* mv_engine_areq_free - release a request and its config reference */
void mv_engine_areq_free(mv_areq *r)
{
    mv_config_unref(r->cfg);
    free(r);
}

/* mv_engine_net_submit - steps 3-5 for a request whose offline part is done */
mv_call mv_engine_net_submit(mv_engine *e, mv_areq *r)
{
    if (!mv_engine_ensure_started(e))
        return MV_ENETSTART;
    trace_req(r, "verify (%s, deadline %u ms%s%s)", r->smtp ? "dns + smtp" : "dns", r->deadline_ms,
              r->next_hop[0] ? ", next hop " : "", r->next_hop);
    if (from_cache(e, r))
        return MV_OK;
    atomic_fetch_add(&e->pending, 1);
    if (mv_loop_post(e->loop, start_task, r) < 0) {
        atomic_fetch_sub(&e->pending, 1);
        return MV_ENOMEM;
    }
    return MV_OK;
}
