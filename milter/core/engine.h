/* SPDX-License-Identifier: MIT */
/*
 * engine.h - the verification engine: one address in, one verdict out.
 *
 * The engine is a library. Front ends (the milter, the FastCGI plugin, the
 * CLI) build a request, ask, and turn the verdict and action into their
 * own protocol's answer. The call's return value says whether the engine
 * answered (mv_call); the verdict says what it found about the address.
 * The two are kept apart, as Postfix's verify client keeps request status
 * apart from address status.
 *
 * Steps 1-3 (parse, local signals, cache) run in the caller's thread.
 * Steps 4-5 (DNS, SMTP) run on the engine's own event-loop thread, started
 * on the first request that needs the network. Two ways to ask:
 * mv_engine_check() waits, at most until the request's deadline;
 * mv_engine_submit() returns at once and calls back. Past its deadline a
 * request answers unknown/timeout, and the probe goes on to fill the cache.
 * Every request gets exactly one answer, also when the engine shuts down.
 */
#ifndef MV_ENGINE_H
#define MV_ENGINE_H

#include "buf.h"
#include "config.h"
#include "incident.h"
#include "trace.h"
#include "verdict.h"

typedef enum {
    MV_OK = 0,
    MV_ENOMEM,    /* out of memory: try again later */
    MV_ENOTSUP,   /* this mode is not available */
    MV_EINVAL,    /* a bad request (not a bad address) */
    MV_ENETSTART, /* the network half could not start */
} mv_call;

/* mv_mode (config.h): a request's mode; context[].mode holds one too */

enum {
    MV_REQ_CANONICAL = 1 << 0, /* fill in the canonical form */
};

typedef struct {
    const char *address; /* any bytes; need not be NUL-terminated */
    size_t len;
    mv_context context;
    mv_mode mode;
    unsigned deadline_ms; /* 0: the context's configured deadline */
    int flags;
    mv_config *config;    /* lists and policy to use; NULL: the engine's.
                                 * A daemon passes the config a connection began
                                 * with, so a reload never changes one midway. */
    const char *next_hop; /* probe "[ip]:port" or "host[:port]" instead of
                                 * the MX hosts (a gateway's internal server); NULL */
} mv_request;

typedef struct {
    const char *resolver; /* overrides dns.servers; NULL: the config's */
    int allow_private;    /* overrides smtp.allow_private_targets; -1: config */
    mv_event_fn log;      /* everything the engine has to say (incident.h):
                                 * the cache's warnings (a store that cannot be
                                 * opened, Redis down and up) and the faults. One
                                 * line, no newline, with its level; the front end
                                 * words and routes it. NULL: the engine says
                                 * nothing -- it never writes to stderr or syslog
                                 * itself, as it cannot know where either goes */
    void *log_arg;
} mv_engine_options;

typedef struct mv_engine mv_engine;

/* The verdict is the engine's; it lives until the callback returns. */
typedef void (*mv_verdict_cb)(void *arg, const mv_verdict *v);

/* mv_engine_new - an engine on this config (takes its own reference) */
mv_engine *mv_engine_new(mv_config *cfg);

/* mv_engine_new_opts - the same, with command-line overrides */
mv_engine *mv_engine_new_opts(mv_config *cfg, const mv_engine_options *opts);

/* mv_engine_check - verify one address, waiting for the answer */
mv_call mv_engine_check(mv_engine *e, const mv_request *req, mv_verdict *out);

/* mv_engine_submit - verify without waiting; cb runs once, on the engine's
 * thread, or in the caller's before this returns when no network is needed */
mv_call mv_engine_submit(mv_engine *e, const mv_request *req, mv_verdict_cb cb, void *arg);

/* mv_engine_set_trace - a transcript of the DNS answers and SMTP
 * dialogues (trace.h) goes to fn from now on; NULL: none (the default,
 * and then nothing is formatted). Before the first request: the network
 * half takes the sink when it starts. fn runs on the engine's thread and,
 * for answers from the cache, on the asking thread. */
void mv_engine_set_trace(mv_engine *e, mv_trace_fn fn, void *arg);

/* mv_engine_set_events - the log sink of mv_engine_options, set later:
 * what an admin should hear of goes to fn from now on, one line at a time
 * with its level (incident.h): a host that starts failing (timeout,
 * refusal, no connection) and when it answers again, the resolver failing
 * and answering again, a summary once a minute while a fault lasts, and
 * the cache's own lines (a store that cannot be opened, Redis down and
 * up). Never a line per request. NULL: nothing is formatted or written
 * anywhere (the default). Before the first request, like the trace sink. */
void mv_engine_set_events(mv_engine *e, mv_event_fn fn, void *arg);

/* mv_engine_rescore - reason, status and action again, after a caller
 * changed the verdict's network outcome (e.g. "still pending") */
void mv_engine_rescore(mv_engine *e, mv_verdict *v);

/* mv_engine_load - requests waiting for the network, SMTP sessions open */
void mv_engine_load(mv_engine *e, size_t *requests, size_t *sessions);

/* mv_engine_net_errors - the counts by cause (any thread); all zero before
 * the network half starts, or with e NULL */
void mv_engine_net_errors(mv_engine *e, unsigned long long counts[MV_NETERR_COUNT]);

/* mv_engine_render_prometheus - what the engine itself knows, in
 * Prometheus' text format, for every front end's exposition alike:
 * mailverify_engine_queue_depth, mailverify_probes_in_flight,
 * mailverify_dns_errors_total{cause} and mailverify_smtp_errors_total{cause}
 * (every cause, zero included). e may be NULL (all zero). */
void mv_engine_render_prometheus(mv_engine *e, mv_buf *out);

/* mv_engine_counter - a fixed-window counter (window_s seconds) in the
 * shared cache store, so that every process using the store -- on this
 * host (lmdb) or on every host (redis) -- counts together: add delta (0
 * reads) and return the count. -1 when there is nothing shared to count
 * in (cache.store memory), or the store did not answer: the caller then
 * counts by itself (fail open). With redis the call waits for the server,
 * at most cache.redis_timeout_ms, and only while the connection is up.
 * Not from the engine's own thread (a verdict callback). */
long long mv_engine_counter(mv_engine *e, const char *key, unsigned delta, unsigned window_s);

/* mv_engine_error - why the network half could not start */
const char *mv_engine_error(const mv_engine *e);

/* mv_engine_free - answer what is pending (timeout), stop, release */
void mv_engine_free(mv_engine *e);

/* mv_call_name - a call status as text */
const char *mv_call_name(mv_call c);

#endif
