/* SPDX-License-Identifier: MIT */
/*
 * engine.c - the engine's API and its offline steps: parse, signals,
 * verdict, policy.
 *
 * The offline steps allocate nothing and read only the immutable config,
 * so any number of threads run them at once. The local signals are looked
 * up only for a valid mailbox; a suggestion is also offered for a dotless
 * domain ("jane@gmail"), the one syntax error a typo suggestion repairs.
 * A request that needs the network is handed to engine_net.c.
 */
#include "engine_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* mv_engine_new_opts - the same, with command-line overrides */
mv_engine *mv_engine_new_opts(mv_config *cfg, const mv_engine_options *opts)
{
    mv_engine *e = calloc(1, sizeof(*e));

    if (e == NULL)
        return NULL;
    e->cfg = mv_config_ref(cfg);
    e->allow_private = opts ? opts->allow_private : -1;
    if (opts != NULL && opts->resolver != NULL)
        snprintf(e->resolver, sizeof(e->resolver), "%s", opts->resolver);
    if (opts != NULL)
        mv_engine_set_events(e, opts->log, opts->log_arg);
    pthread_mutex_init(&e->mu, NULL);
    atomic_init(&e->closing, false);
    return e;
}

/* mv_engine_new - an engine on this config (takes its own reference) */
mv_engine *mv_engine_new(mv_config *cfg)
{
    return mv_engine_new_opts(cfg, NULL);
}

/* mv_engine_set_trace - the transcript's sink (before the first request) */
void mv_engine_set_trace(mv_engine *e, mv_trace_fn fn, void *arg)
{
    e->trace = fn;
    e->trace_arg = arg;
}

/* mv_engine_set_events - the event sink (before the first request) */
void mv_engine_set_events(mv_engine *e, mv_event_fn fn, void *arg)
{
    e->events = fn;
    e->events_arg = arg;
}

/* mv_engine_free - answer what is pending (timeout), stop, release */
void mv_engine_free(mv_engine *e)
{
    if (e == NULL)
        return;
    mv_engine_net_stop(e);
    pthread_mutex_destroy(&e->mu);
    mv_config_unref(e->cfg);
    free(e);
}

/* mv_engine_rescore - reason, status and action again, after a caller
 * changed the verdict's network outcome (e.g. "still pending") */
void mv_engine_rescore(mv_engine *e, mv_verdict *v)
{
    mv_signals sig = {
        .syntax_ok = v->addr.error == MV_SYN_OK,
        .unchecked = v->addr.error == MV_SYN_IDN_UNAVAILABLE,
        .null_path = v->addr.error == MV_SYN_OK && v->addr.kind == MV_ADDR_NULL,
        .disposable = v->disposable,
        .role = v->role,
    };
    uint64_t elapsed = v->elapsed_us;

    mv_engine_finish(e->cfg, v, &sig, mv_engine_now_us());
    v->elapsed_us = elapsed;
}

/* mv_engine_error - why the network half could not start */
const char *mv_engine_error(const mv_engine *e)
{
    return e->error[0] ? e->error : "no error";
}

/* mv_call_name - a call status as text */
const char *mv_call_name(mv_call c)
{
    switch (c) {
    case MV_OK: return "ok";
    case MV_ENOMEM: return "out of memory";
    case MV_ENOTSUP: return "mode not supported";
    case MV_EINVAL: return "invalid request";
    case MV_ENETSTART: return "the network half could not start";
    }
    return "unknown";
}

/* mv_engine_now_us - monotonic microseconds */
uint64_t mv_engine_now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* suggest - "local@suggested-domain", if the typo module has one */
static void suggest(const mv_config *cfg, mv_verdict *v)
{
    char dom[MV_DOMAIN_MAX + 1];
    const mv_address *a = &v->addr;
    size_t dl;

    if (!mv_config_settings(cfg)->typo_enabled || a->literal ||
        !mv_typo_suggest(mv_config_typo(cfg), a->domain, a->domain_len, dom, sizeof(dom)))
        return;
    dl = strlen(dom);
    if (a->local_len + 1 + dl > MV_MAILBOX_MAX)
        return;
    memcpy(v->suggestion, a->local, a->local_len);
    v->suggestion[a->local_len] = '@';
    memcpy(v->suggestion + a->local_len + 1, dom, dl + 1);
    v->has_suggestion = true;
}

/* signals - step 2: lists and typo, for a parsed mailbox */
static void signals(const mv_config *cfg, mv_verdict *v, mv_signals *sig)
{
    const mv_lists *l = mv_config_lists(cfg);
    const mv_address *a = &v->addr;

    if (!a->literal) {
        v->disposable = mv_lists_disposable(l, a->domain, a->domain_len);
        v->free = mv_lists_free_provider(l, a->domain, a->domain_len);
    }
    v->role = !a->quoted && mv_lists_role(l, a->local, a->local_len);
    sig->disposable = v->disposable;
    sig->role = v->role;
    suggest(cfg, v);
}

/* mv_engine_offline - steps 1-2 into a verdict; the signals for step 6 */
void mv_engine_offline(const mv_config *cfg, const mv_request *req, int flags, mv_verdict *v, mv_signals *sig)
{
    int pf = req->context == MV_CTX_SENDER ? MV_PARSE_ALLOW_NULL : 0;

    memset(sig, 0, sizeof(*sig));
    v->input = req->address ? req->address : "";
    v->input_len = req->len;
    v->context = req->context;
    v->disposable = v->role = v->free = false;
    v->has_suggestion = v->has_canonical = v->cached = v->net_asked = false;
    sig->syntax_ok = mv_address_parse(v->input, req->len, pf, &v->addr) == MV_SYN_OK;
    sig->unchecked = v->addr.error == MV_SYN_IDN_UNAVAILABLE;
    sig->null_path = sig->syntax_ok && v->addr.kind == MV_ADDR_NULL;
    if (sig->syntax_ok && !sig->null_path)
        signals(cfg, v, sig);
    else if (v->addr.error == MV_SYN_SINGLE_LABEL_DOMAIN)
        suggest(cfg, v);
    if (sig->syntax_ok && !sig->null_path && (flags & MV_REQ_CANONICAL))
        v->has_canonical =
            mv_canon_apply(mv_config_canon(cfg), &v->addr, v->canonical, sizeof(v->canonical)) > 0;
}

/* mv_engine_finish - step 6-7: reason, status, action, elapsed */
void mv_engine_finish(const mv_config *cfg, mv_verdict *v, mv_signals *sig, uint64_t t0_us)
{
    sig->net_asked = v->net_asked;
    sig->net_reason = v->net_asked ? v->net.reason : MV_R_UNVERIFIED;
    v->reason = mv_verdict_reason(sig);
    v->status = mv_reason_status(v->reason);
    v->action = mv_policy_decide(mv_config_policy(cfg, v->context), v);
    v->elapsed_us = mv_engine_now_us() - t0_us;
}

/* cfg_of - the config a request uses: its own, or the engine's */
static mv_config *cfg_of(const mv_engine *e, const mv_request *req)
{
    return req->config != NULL ? req->config : e->cfg;
}

/* mode_of - the request's mode, the context's when it says so */
static mv_mode mode_of(const mv_engine *e, const mv_request *req)
{
    if (req->mode != MV_MODE_CONTEXT)
        return req->mode;
    return mv_config_settings(cfg_of(e, req))->context[req->context].mode;
}

/* needs_net - does this verdict go on to DNS/SMTP? */
static bool needs_net(mv_mode mode, const mv_verdict *v)
{
    return mode != MV_MODE_OFFLINE && v->addr.error == MV_SYN_OK && v->addr.kind == MV_ADDR_MAILBOX &&
           !v->addr.literal;
}

/* mv_engine_submit - verify without waiting; cb runs once */
mv_call mv_engine_submit(mv_engine *e, const mv_request *req, mv_verdict_cb cb, void *arg)
{
    mv_request copy = *req;
    mv_signals sig;
    mv_areq *r;
    mv_mode mode;
    size_t keep;
    mv_call rc;

    if ((unsigned)req->context >= MV_CTX_COUNT || (req->address == NULL && req->len > 0) ||
        (unsigned)req->mode > MV_MODE_CONTEXT || cb == NULL)
        return MV_EINVAL;
    if ((r = calloc(1, sizeof(*r))) == NULL)
        return MV_ENOMEM;
    r->t0_us = mv_engine_now_us();
    /* keep what the echo shows and what the parser needs to say "too long" */
    keep = req->len > MV_ECHO_MAX ? MV_ECHO_MAX : req->len;
    if (req->address != NULL)
        memcpy(r->input, req->address, keep);
    mode = mode_of(e, req);
    copy.address = req->address;
    mv_engine_offline(cfg_of(e, req), &copy, req->flags, &r->v, &sig);
    r->v.input = r->input;
    if (!needs_net(mode, &r->v)) {
        mv_engine_finish(cfg_of(e, req), &r->v, &sig, r->t0_us);
        cb(arg, &r->v);
        free(r);
        return MV_OK;
    }
    r->e = e;
    r->cfg = mv_config_ref(cfg_of(e, req));
    if (req->next_hop != NULL)
        snprintf(r->next_hop, sizeof(r->next_hop), "%s", req->next_hop);
    r->smtp = mode == MV_MODE_SMTP;
    r->deadline_ms = req->deadline_ms
                         ? req->deadline_ms
                         : (unsigned)mv_config_settings(r->cfg)->context[req->context].deadline_ms;
    r->cb = cb;
    r->arg = arg;
    mv_address_format(&r->v.addr, r->mailbox, sizeof(r->mailbox));
    if ((rc = mv_engine_net_submit(e, r)) != MV_OK)
        mv_engine_areq_free(r);
    return rc;
}

/* A caller waiting in mv_engine_check. */
typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cond;
    bool done;
    mv_verdict *out;
} waitpoint;

/* wake - the answer for a waiting caller */
static void wake(void *arg, const mv_verdict *v)
{
    waitpoint *w = arg;

    pthread_mutex_lock(&w->mu);
    *w->out = *v;
    w->done = true;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->mu);
}

/* mv_engine_check - verify one address, waiting for the answer */
mv_call mv_engine_check(mv_engine *e, const mv_request *req, mv_verdict *out)
{
    mv_signals sig;
    waitpoint w;
    mv_call rc;
    uint64_t t0 = mv_engine_now_us();

    if ((unsigned)req->context >= MV_CTX_COUNT || (req->address == NULL && req->len > 0) ||
        (unsigned)req->mode > MV_MODE_CONTEXT)
        return MV_EINVAL;
    if (mode_of(e, req) == MV_MODE_OFFLINE) {
        /* the fast path: no thread hand-over, no allocation */
        mv_engine_offline(cfg_of(e, req), req, req->flags, out, &sig);
        mv_engine_finish(cfg_of(e, req), out, &sig, t0);
        return MV_OK;
    }
    pthread_mutex_init(&w.mu, NULL);
    pthread_cond_init(&w.cond, NULL);
    w.done = false;
    w.out = out;
    if ((rc = mv_engine_submit(e, req, wake, &w)) == MV_OK) {
        /* the loop's deadline timer guarantees the answer comes */
        pthread_mutex_lock(&w.mu);
        while (!w.done)
            pthread_cond_wait(&w.cond, &w.mu);
        pthread_mutex_unlock(&w.mu);
        out->input = req->address ? req->address : "";
    }
    pthread_cond_destroy(&w.cond);
    pthread_mutex_destroy(&w.mu);
    return rc;
}
