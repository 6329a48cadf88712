/* SPDX-License-Identifier: MIT */
/*
 * net.h - the engine's network half: DNS and SMTP steps for addresses.
 *
 * Given a normalized mailbox, find out what DNS and the domain's mail
 * servers say about it -- politely. Identical addresses in flight share
 * one job (single-flight); one MX lookup per domain at a time; recipients
 * of one domain share SMTP sessions; sessions per domain and per MX host
 * address are capped, and new sessions per host are rate-limited (a token
 * bucket). MX hosts are walked in preference order, falling through on
 * connection failures and temporary errors. A host that refuses probes or
 * tarpits is backed off from; a greylisted address is answered at once
 * (unknown/greylisted) and re-probed after the server's delay, the result
 * going to the cache for the retry that will come.
 *
 * Loop thread only. Every request's callback runs exactly once; every
 * final outcome, also of background re-probes, is handed to the store
 * hook (the engine's cache). With a trace sink, the MX answers, the
 * targets tried, each session's dialogue (probe.h) and each address's
 * reading and outcome go to it, prefixed "[domain]" or "[sN domain]".
 *
 * With an event sink (incident.h) an admin hears of faults, not of
 * requests: a host that starts failing (its address, MX name, the cause
 * and how long it is left alone) and when it answers again; the resolver
 * failing and answering again; and while any fault lasts, a summary every
 * MV_INCIDENT_PERIOD_MS of what it cost.
 */
#ifndef MV_NET_H
#define MV_NET_H

#include "dns.h"
#include "incident.h"
#include "lease.h"
#include "loop.h"
#include "probe.h"
#include "rules.h"
#include "strset.h"
#include "trace.h"
#include "verdict.h"

#include <stdbool.h>
#include <stdint.h>

typedef void (*mv_net_cb)(void *arg, const mv_net_outcome *o);
typedef void (*mv_net_store)(void *arg, const char *mailbox, const char *next_hop, bool smtp,
                             const mv_net_outcome *o);

/* What a domain taught us, for other processes sharing the cache: the
 * catch-all answer (1, 0, -1 unknown) and until when (wall-clock seconds,
 * 0: not) its servers refuse our probes. */
typedef struct {
    int catch_all;
    int64_t refuses_until;
} mv_net_facts;

/* Domain facts hooks (both NULL: facts stay in this process). load is
 * asked when a domain (key: name or name|next-hop) is first seen; save
 * when a session taught something new. Loop thread. */
typedef bool (*mv_net_facts_load)(void *arg, const char *key, mv_net_facts *f);
typedef void (*mv_net_facts_save)(void *arg, const char *key, const mv_net_facts *f);

/* mv_net_domain_key - the key the hooks get for a domain and next hop
 * ("" or NULL: none): "name" or "name|hop"; its length, 0 if too long */
size_t mv_net_domain_key(char *buf, size_t size, const char *name, const char *hop);

typedef struct {
    const char *helo;          /* EHLO name */
    const char *mail_from;     /* "" : null sender */
    const char *fallback_from; /* when <> is refused; "" : none */
    mv_tls_mode tls;
    const mv_strset *tls_required; /* domains that must use TLS; NULL: none */
    mv_tls_ctx *tls_ctx;
    unsigned port;
    unsigned connect_ms, reply_ms;
    bool catch_all;             /* test catch-all with a random RCPT */
    bool allow_private;         /* SSRF guard off (tests, internal next hops) */
    unsigned max_rcpt;          /* recipients per session */
    unsigned domain_sessions;   /* concurrent sessions per domain */
    unsigned host_sessions;     /* concurrent sessions per MX address */
    unsigned host_rate;         /* new sessions per second per MX address */
    unsigned greylist_retry_s;  /* re-probe delay when the server names none */
    unsigned greylist_budget_s; /* re-probes stop this long after the first greylisting */
    unsigned backoff_s;         /* how long a refusing/tarpitting host is left alone */
    mv_lease *lease;            /* smtp.fleet: limits and back-offs shared (borrowed); NULL: this process's */
    unsigned dns_min_ttl, dns_max_ttl;
    unsigned idle_domains; /* domain facts kept when no work is queued */
    mv_net_store store;
    mv_net_facts_load facts_load;
    mv_net_facts_save facts_save;
    void *store_arg;   /* the hooks' argument */
    mv_trace_fn trace; /* the transcript (trace.h); NULL: none */
    void *trace_arg;
    mv_event_fn events; /* faults (incident.h); NULL: none formatted */
    void *events_arg;
    const char *resolver; /* the resolver's name in event lines */
    unsigned summary_ms;  /* a fault's summary this often; 0: MV_INCIDENT_PERIOD_MS */
} mv_net_params;

typedef struct mv_net mv_net;

/* mv_net_new - the network half on a loop (borrowing dns and tls) */
mv_net *mv_net_new(mv_loop *loop, mv_dns *dns, const mv_net_params *p);

/* mv_net_verify - DNS (and SMTP if smtp) for a mailbox; cb may be NULL.
 * next_hop ("[ip]:port", "host:port" or NULL) replaces the MX lookup. */
void mv_net_verify(mv_net *n, const char *mailbox, const char *domain, const char *next_hop, bool smtp,
                   bool smtputf8, mv_net_cb cb, void *arg);

/* mv_net_set_rules - the reply rules and provider profiles to use from
 * now on (loop thread; the caller keeps them alive until replaced) */
void mv_net_set_rules(mv_net *n, const mv_rules *local, const mv_rules *table);

/* mv_net_sessions - SMTP sessions open (any thread; approximate) */
size_t mv_net_sessions(const mv_net *n);

/* mv_net_errors - DNS and SMTP failures so far, by cause (any thread) */
void mv_net_errors(const mv_net *n, unsigned long long counts[MV_NETERR_COUNT]);

/* mv_net_stats - jobs in flight, sessions open, domains known */
void mv_net_stats(const mv_net *n, size_t *jobs, size_t *sessions, size_t *domains);

/* mv_net_close - cancel sessions and queued work; callbacks run (timeout).
 * Then free the resolver (lookups in flight end), then mv_net_free. */
void mv_net_close(mv_net *n);

/* mv_net_free - release everything (closes first if not yet closed) */
void mv_net_free(mv_net *n);

#endif
