/*
 * engine.c - the offline path: parse, signals, verdict, policy.
 *
 * Nothing here allocates: the verdict is the caller's, the config is
 * read-only, so any number of threads may call mv_engine_check() at once.
 * The local signals are looked up only for a valid mailbox; a suggestion
 * is also offered for a dotless domain ("jane@gmail"), the one syntax
 * error a typo suggestion can repair.
 */
#include "engine.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

struct mv_engine {
    mv_config *cfg;
};

/* mv_engine_new - an engine on this config (takes its own reference) */
mv_engine *mv_engine_new(mv_config *cfg)
{
    mv_engine *e = calloc(1, sizeof(*e));

    if (e == NULL)
        return NULL;
    e->cfg = mv_config_ref(cfg);
    return e;
}

/* mv_engine_free - release; NULL is fine */
void mv_engine_free(mv_engine *e)
{
    if (e == NULL)
        return;
    mv_config_unref(e->cfg);
    free(e);
}

/* mv_call_name - a call status as text */
const char *mv_call_name(mv_call c)
{
    switch (c) {
    case MV_OK: return "ok";
    case MV_ENOMEM: return "out of memory";
    case MV_ENOTSUP: return "mode not supported";
    case MV_EINVAL: return "invalid request";
    }
    return "unknown";
}

/* now_us - monotonic microseconds */
static uint64_t now_us(void)
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

/* mv_engine_check - verify one address; MV_OK and a filled verdict */
mv_call mv_engine_check(mv_engine *e, const mv_request *req, mv_verdict *v)
{
    uint64_t t0 = now_us();
    const mv_config *cfg = e->cfg;
    mv_signals sig = {0};
    int pf = req->context == MV_CTX_SENDER ? MV_PARSE_ALLOW_NULL : 0;

    if ((unsigned)req->context >= MV_CTX_COUNT || (req->address == NULL && req->len > 0))
        return MV_EINVAL;
    if (req->mode != MV_MODE_OFFLINE)
        return MV_ENOTSUP;
    v->input = req->address ? req->address : "";
    v->input_len = req->len;
    v->context = req->context;
    v->disposable = v->role = v->free = false;
    v->has_suggestion = v->has_canonical = v->cached = false;
    sig.syntax_ok = mv_address_parse(v->input, req->len, pf, &v->addr) == MV_SYN_OK;
    sig.null_path = sig.syntax_ok && v->addr.kind == MV_ADDR_NULL;
    if (sig.syntax_ok && !sig.null_path)
        signals(cfg, v, &sig);
    else if (v->addr.error == MV_SYN_SINGLE_LABEL_DOMAIN)
        suggest(cfg, v);
    if (sig.syntax_ok && !sig.null_path && (req->flags & MV_REQ_CANONICAL))
        v->has_canonical = mv_canon_apply(mv_config_canon(cfg), &v->addr, v->canonical,
                                          sizeof(v->canonical)) > 0;
    v->reason = mv_verdict_reason(&sig);
    v->status = mv_reason_status(v->reason);
    v->action = mv_policy_decide(mv_config_policy(cfg, req->context), v);
    v->elapsed_us = now_us() - t0;
    return MV_OK;
}
