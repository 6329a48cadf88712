/* SPDX-License-Identifier: MIT */
/*
 * engine_start.c - starting and stopping the engine's network half.
 *
 * The network half starts on the first request that needs it: a loop
 * thread, a c-ares resolver, an OpenSSL context, the network scheduler
 * (net.c, with its hooks into the verdict cache and the shared domain
 * facts) and the verdict cache (store.h: this process's memory, or a store
 * shared with other processes, LMDB or Redis, whose warnings go to the
 * front end's log sink, or nowhere). It stops when the engine is freed: every
 * request still waiting is answered, the last verdicts get a moment to
 * reach Redis, then the loop ends. The reply rules the scheduler reads
 * are those of the config each request carries (mv_engine_use_rules), so
 * a reload reaches the network half with the first request after it.
 * The requests themselves are engine_net.c's.
 */
#include "engine_int.h"
#include "outcome.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

/* mv_engine_use_rules - the reply rules of cfg from now on (loop thread): a request
 * carries the config it began with, so a reload (SIGUSR1) reaches the
 * network half with the first request made after it */
void mv_engine_use_rules(mv_engine *e, mv_config *cfg)
{
    const mv_rules *local, *table;
    mv_config *old = e->rules_cfg;

    if (cfg == old || e->net == NULL)
        return;
    e->rules_cfg = mv_config_ref(cfg);
    mv_config_rules(cfg, &local, &table);
    mv_net_set_rules(e->net, local, table);
    if (old != NULL)
        mv_config_unref(old);
}

/* ---- starting and stopping -------------------------------------------- */

/* loop_main - the engine's thread */
static void *loop_main(void *arg)
{
    mv_loop_run(((mv_engine *)arg)->loop);
    return NULL;
}

/* helo_name - the configured name, else this host's */
static void helo_name(mv_engine *e)
{
    const char *cfg = mv_config_settings(e->cfg)->smtp_helo_name;

    if (cfg[0] != '\0') {
        snprintf(e->helo, sizeof(e->helo), "%s", cfg);
        return;
    }
    if (gethostname(e->helo, sizeof(e->helo) - 1) != 0 || e->helo[0] == '\0')
        snprintf(e->helo, sizeof(e->helo), "localhost");
    e->helo[sizeof(e->helo) - 1] = '\0';
}

/* fallback_from - MAIL FROM when a server refuses <>: the configured one,
 * else postmaster at the name we greet with (RFC 5321 4.5.1: it must
 * exist), as Postfix's address_verify_sender is a real address by
 * default; "none", or a name that is no FQDN: no second try */
static void fallback_from(mv_engine *e)
{
    const char *cfg = mv_config_settings(e->cfg)->smtp_fallback_from;

    if (strcmp(cfg, "none") == 0 ||
        (cfg[0] == '\0' && (strchr(e->helo, '.') == NULL || e->helo[strlen(e->helo) - 1] == '.')))
        e->fallback[0] = '\0';
    else if (cfg[0] != '\0')
        snprintf(e->fallback, sizeof(e->fallback), "%s", cfg);
    else
        snprintf(e->fallback, sizeof(e->fallback), "postmaster@%s", e->helo);
}

/* tls_mode - the smtp.tls setting as the probe's enum */
static mv_tls_mode tls_mode(mv_smtp_tls t)
{
    switch (t) {
    case MV_SMTP_TLS_OFF: return MV_TLS_OFF;
    case MV_SMTP_TLS_REQUIRED: return MV_TLS_REQUIRED;
    case MV_SMTP_TLS_OPPORTUNISTIC: break;
    }
    return MV_TLS_OPPORTUNISTIC;
}

/* net_params - the scheduler's settings from the config */
static mv_net_params net_params(mv_engine *e)
{
    const mv_settings *s = mv_config_settings(e->cfg);
    mv_net_params p = {0};

    p.helo = e->helo;
    p.mail_from = s->smtp_mail_from;
    p.fallback_from = e->fallback;
    p.tls = tls_mode(s->smtp_tls);
    p.tls_required = mv_config_tls_required(e->cfg);
    p.tls_ctx = e->tls;
    p.port = (unsigned)s->smtp_port;
    p.connect_ms = (unsigned)s->smtp_connect_timeout_ms;
    p.reply_ms = (unsigned)s->smtp_reply_timeout_ms;
    p.catch_all = s->smtp_catch_all_check;
    p.allow_private = e->allow_private >= 0 ? e->allow_private != 0 : s->smtp_allow_private_targets;
    p.max_rcpt = (unsigned)s->smtp_max_rcpt;
    p.domain_sessions = (unsigned)s->smtp_domain_sessions;
    p.host_sessions = (unsigned)s->smtp_host_sessions;
    p.host_rate = (unsigned)s->smtp_host_rate;
    p.greylist_retry_s = (unsigned)s->smtp_greylist_retry_s;
    p.greylist_budget_s = (unsigned)s->smtp_greylist_budget_s;
    p.backoff_s = (unsigned)s->smtp_backoff_s;
    p.lease = e->lease;
    p.dns_min_ttl = (unsigned)s->dns_min_ttl;
    p.dns_max_ttl = (unsigned)s->dns_max_ttl;
    p.idle_domains = (unsigned)s->cache_domains;
    p.store = mv_engine_store_outcome;
    if (e->store != NULL && mv_store_shared(e->store)) {
        /* the memory store keeps domain facts in net.c's domains, as before */
        p.facts_load = mv_engine_facts_load;
        p.facts_save = mv_engine_facts_save;
    }
    p.store_arg = e;
    p.trace = e->trace;
    p.trace_arg = e->trace_arg;
    p.events = e->events;
    p.events_arg = e->events_arg;
    p.resolver = e->resolver[0] ? e->resolver : s->dns_servers;
    return p;
}

/* cache_ttl - the cache's times from the config */
static void cache_ttl(mv_engine *e)
{
    const mv_settings *s = mv_config_settings(e->cfg);

    e->ttl.expire[MV_CACHE_POSITIVE] = (uint32_t)s->cache_positive_expire_s;
    e->ttl.refresh[MV_CACHE_POSITIVE] = (uint32_t)s->cache_positive_refresh_s;
    e->ttl.expire[MV_CACHE_NEGATIVE] = (uint32_t)s->cache_negative_expire_s;
    e->ttl.refresh[MV_CACHE_NEGATIVE] = (uint32_t)s->cache_negative_refresh_s;
    e->ttl.expire[MV_CACHE_TEMPORARY] = (uint32_t)s->cache_temporary_expire_s;
    e->ttl.refresh[MV_CACHE_TEMPORARY] = 0;
}

/* sweep_task - on the loop: a batch of a shared store's expired entries,
 * then again in a second, or at once while batches come back full */
static void sweep_task(void *arg)
{
    mv_engine *e = arg;
    size_t n = 0;

    if (atomic_load(&e->closing))
        return;
    if (e->store != NULL)
        n = mv_store_sweep(e->store, time(NULL));
    mv_timer_start(e->loop, &e->sweep, n >= 256 ? 10 : 1000, sweep_task, e);
}

/* start_redis - cache.store redis: connect the client on the loop (not yet
 * running); requests wait for it at the gate (at most the timeout) */
static bool start_redis(mv_engine *e)
{
    const mv_settings *s = mv_config_settings(e->cfg);

    e->gate_open = true;
    if (strcmp(mv_store_kind(e->store), "redis") != 0)
        return true;
    if (!mv_store_redis_start(e->store, e->loop)) {
        snprintf(e->error, sizeof(e->error), "cache.store redis: cannot start the client");
        return false;
    }
    e->gate_open = false;
    e->gate_until_ms = mv_loop_now() + (uint64_t)s->cache_redis_timeout_ms;
    return true;
}

/* event_level - a syslog priority as an event's level */
static mv_event_level event_level(int priority)
{
    return priority <= LOG_ERR       ? MV_EVENT_ERROR
           : priority == LOG_WARNING ? MV_EVENT_WARNING
           : priority == LOG_NOTICE  ? MV_EVENT_NOTICE
                                     : MV_EVENT_INFO;
}

/* store_line - a line of the cache's (Redis down, up again) as an event */
static void store_line(void *arg, int priority, const char *msg)
{
    mv_engine *e = arg;
    char line[MV_EVENT_LINE_MAX];

    snprintf(line, sizeof(line), "cache: %s", msg);
    e->events(e->events_arg, event_level(priority), line);
}

/* cache_say - a line about the cache to the front end's sink; none: silence
 * (the library never picks a channel of the process's for it) */
__attribute__((format(printf, 3, 4))) static void cache_say(mv_engine *e, int priority, const char *fmt, ...)
{
    char msg[MV_EVENT_LINE_MAX - 16];
    va_list ap;

    if (e->events == NULL)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    store_line(e, priority, msg);
}

/* fleet_line - a line of the fleet's (Redis not answering, answering
 * again) as an event; it names itself ("fleet: ...") */
static void fleet_line(void *arg, int priority, const char *msg)
{
    mv_engine *e = arg;

    if (e->events != NULL)
        e->events(e->events_arg, event_level(priority), msg);
}

/* start_fleet - smtp.fleet: the leases, on the Redis client of the cache
 * (config-test refuses the fleet without cache.store redis) */
static bool start_fleet(mv_engine *e)
{
    const mv_settings *s = mv_config_settings(e->cfg);
    mv_redis *rc = mv_store_redis_client(e->store);

    if (!s->smtp_fleet || rc == NULL)
        return true;
    if ((e->lease = mv_lease_new(e->loop, rc, (unsigned)s->smtp_fleet_lease_s, fleet_line, e)) == NULL) {
        snprintf(e->error, sizeof(e->error), "out of memory");
        return false;
    }
    return true;
}

/* open_store - the configured cache. An LMDB file that cannot be opened
 * (permissions, a path that is not a directory, a file grown by processes
 * with another lmdb_size_mb, ...) loses the sharing, not the verification:
 * this process gets a memory cache, and one line says why. The store's
 * own lines go to the event sink too, and nowhere else. */
static bool open_store(mv_engine *e, const mv_settings *s)
{
    char why[sizeof(e->error)];

    if ((e->store = mv_store_open(s, why, sizeof(why))) != NULL || why[0] == '\0') {
        if (e->store != NULL && e->events != NULL)
            mv_store_set_log(e->store, store_line, e);
        return true;
    }
    if (s->cache_store != MV_STORE_LMDB) {
        snprintf(e->error, sizeof(e->error), "%s", why);
        return false;
    }
    cache_say(e, LOG_WARNING, "%s; using a memory cache in this process (nothing shared)", why);
    if (s->cache_max_entries > 0 &&
        (e->store = mv_store_memory_new((size_t)s->cache_max_entries, (size_t)s->cache_max_bytes)) == NULL) {
        snprintf(e->error, sizeof(e->error), "out of memory");
        return false;
    }
    return true;
}

/* start - bring the network half up; false with e->error */
static bool start(mv_engine *e)
{
    const mv_settings *s = mv_config_settings(e->cfg);
    const char *servers = e->resolver[0] ? e->resolver : s->dns_servers;
    mv_net_params p;

    helo_name(e);
    fallback_from(e);
    cache_ttl(e);
    if (!open_store(e, s))
        return false;
    if ((e->loop = mv_loop_new()) == NULL) {
        snprintf(e->error, sizeof(e->error), "event loop: %m");
        return false;
    }
    if ((e->dns = mv_dns_new(e->loop, servers[0] ? servers : NULL, (int)s->dns_timeout_ms, (int)s->dns_tries,
                             e->error, sizeof(e->error))) == NULL ||
        (e->tls = mv_tls_ctx_new(e->error, sizeof(e->error))) == NULL)
        return false;
    if (e->store != NULL && (!start_redis(e) || !start_fleet(e)))
        return false;
    p = net_params(e);
    if ((e->net = mv_net_new(e->loop, e->dns, &p)) == NULL) {
        snprintf(e->error, sizeof(e->error), "out of memory");
        return false;
    }
    mv_engine_use_rules(e, e->cfg); /* the loop is not running yet */
    if (e->store != NULL && mv_store_shared(e->store) && mv_loop_post(e->loop, sweep_task, e) < 0) {
        snprintf(e->error, sizeof(e->error), "out of memory");
        return false;
    }
    if (pthread_create(&e->thread, NULL, loop_main, e) != 0) {
        snprintf(e->error, sizeof(e->error), "cannot start the engine thread");
        return false;
    }
    return true;
}

/* teardown - free whatever start() made (the thread is not running) */
static void teardown(mv_engine *e)
{
    mv_net_free(e->net);
    mv_lease_free(e->lease); /* before the client its commands ride on */
    e->lease = NULL;
    mv_store_redis_stop(e->store); /* before the loop its timers live on */
    if (e->rules_cfg != NULL)
        mv_config_unref(e->rules_cfg);
    e->rules_cfg = NULL;
    mv_dns_free(e->dns);
    mv_tls_ctx_free(e->tls);
    mv_loop_free(e->loop);
    mv_store_free(e->store);
    e->net = NULL;
    e->dns = NULL;
    e->tls = NULL;
    e->loop = NULL;
    e->store = NULL;
}

/* mv_engine_ensure_started - start once; false if it failed (then it stays failed) */
bool mv_engine_ensure_started(mv_engine *e)
{
    bool ok;

    pthread_mutex_lock(&e->mu);
    if (!e->net_started && e->error[0] == '\0') {
        if (start(e))
            e->net_started = true;
        else
            teardown(e);
    }
    ok = e->net_started;
    pthread_mutex_unlock(&e->mu);
    return ok;
}

/* close_gate - on the loop at close: the requests waiting for Redis go on
 * to mv_engine_ask_net, which ends them */
static void close_gate(mv_engine *e)
{
    mv_areq *r;

    mv_timer_stop(e->loop, &e->gate);
    e->gate_open = true;
    while ((r = e->waiting) != NULL) {
        e->waiting = r->next;
        mv_engine_ask_net(e, r);
    }
}

/* drain_task - on the loop at close: let the last verdicts reach Redis (a
 * one-shot `mailverify check` exits right after its answer) for at most
 * cache.redis_timeout_ms, then free the client -- GETs still outstanding
 * end through mv_engine_ask_net -- and stop the loop */
static void drain_task(void *arg)
{
    mv_engine *e = arg;
    mv_redis *rc = mv_store_redis_client(e->store);
    mv_redis_stats rs = {0};

    if (rc != NULL && mv_redis_up(rc))
        mv_redis_get_stats(rc, &rs);
    if (rs.pending > 0 && mv_loop_now() < e->gate_until_ms) {
        mv_timer_start(e->loop, &e->gate, 2, drain_task, e);
        return;
    }
    mv_store_redis_stop(e->store);
    mv_loop_stop(e->loop);
}

/* close_task - on the loop: end all work, then stop the loop */
static void close_task(void *arg)
{
    mv_engine *e = arg;

    mv_timer_stop(e->loop, &e->sweep);
    close_gate(e);
    mv_net_close(e->net);
    mv_dns_free(e->dns); /* lookups in flight end their jobs */
    e->dns = NULL;
    mv_net_free(e->net);
    e->net = NULL;
    mv_lease_free(e->lease); /* its releases go out with the last writes */
    e->lease = NULL;
    if (e->store != NULL) /* the gate's timer and deadline, reused */
        e->gate_until_ms = mv_loop_now() + (uint64_t)mv_config_settings(e->cfg)->cache_redis_timeout_ms;
    drain_task(e);
}

/* mv_engine_net_stop - shut the network half down (every request answered) */
void mv_engine_net_stop(mv_engine *e)
{
    pthread_mutex_lock(&e->mu);
    if (e->net_started) {
        atomic_store(&e->closing, true);
        if (mv_loop_post(e->loop, close_task, e) < 0)
            mv_loop_stop(e->loop);
        pthread_join(e->thread, NULL);
        e->net_started = false;
        teardown(e); /* runs tasks posted after the close */
    }
    pthread_mutex_unlock(&e->mu);
}
